#!/bin/sh
# verify_crypto.sh WHAT OPENSSL BINDIR
#
# Signet must not grade its own homework: this runs a crypto unit test with
# SN_CRYPTO_OUT pointing at a scratch directory, then has the openssl
# command-line tool judge what it wrote. WHAT is cms, csr or tls.
set -eu

what=$1
OPENSSL=$2
bindir=$3

tmp=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || :
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

failures=0
pass() { echo "ok:   $*"; }
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# expect_ok DESC CMD...: CMD must succeed.
expect_ok() {
    desc=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        pass "$desc"
    else
        fail "$desc"
        sed 's/^/      /' "$tmp/out"
    fi
}

# expect_fail DESC CMD...: CMD must fail.
expect_fail() {
    desc=$1
    shift
    if "$@" >"$tmp/out" 2>&1; then
        fail "$desc (unexpectedly succeeded)"
    else
        pass "$desc"
    fi
}

# expect_grep DESC PATTERN FILE: FILE must contain a line matching PATTERN.
expect_grep() {
    if grep -q -- "$2" "$3"; then
        pass "$1"
    else
        fail "$1: no '$2' in $3"
    fi
}

run_unit() {
    out="$tmp/art"
    mkdir -p "$out"
    if ! SN_CRYPTO_OUT="$out" "$bindir/$1" >"$tmp/unit.log" 2>&1; then
        cat "$tmp/unit.log"
        echo "FAIL: $1 did not pass; nothing to verify"
        exit 1
    fi
}

verify_cms() {
    run_unit test_cms
    a="$tmp/art"
    for k in rsa3072 p256 p384; do
        for md in sha256 sha384 sha512; do
            n="cms-$k-$md"
            expect_ok "$n: openssl cms -verify" \
                "$OPENSSL" cms -verify -binary -inform DER -in "$a/$n.der" \
                -content "$a/$n.bin" -CAfile "$a/cms-root.pem" \
                -purpose any -out "$tmp/verified"
            expect_ok "$n: verified content is the content" \
                cmp "$tmp/verified" "$a/$n.bin"
            # One flipped bit in the content must break the signature
            # (flipped, not overwritten: the byte may already be 0x01).
            cp "$a/$n.bin" "$tmp/tampered"
            b=$(od -An -tu1 -j500 -N1 "$a/$n.bin" | tr -d ' ')
            printf "\\$(printf '%03o' $((b ^ 1)))" |
                dd of="$tmp/tampered" bs=1 seek=500 conv=notrunc 2>/dev/null
            expect_fail "$n: the tampered copy differs" \
                cmp -s "$tmp/tampered" "$a/$n.bin"
            expect_fail "$n: modified content is rejected" \
                "$OPENSSL" cms -verify -binary -inform DER -in "$a/$n.der" \
                -content "$tmp/tampered" -CAfile "$a/cms-root.pem" \
                -purpose any -out /dev/null
            # Only the right root anchors the chain.
            expect_fail "$n: unrelated root is rejected" \
                "$OPENSSL" cms -verify -binary -inform DER -in "$a/$n.der" \
                -content "$a/$n.bin" -CAfile "$a/cms-other-root.pem" \
                -purpose any -out /dev/null
            # Detached: without -content there is nothing to verify.
            expect_fail "$n: no embedded content" \
                "$OPENSSL" cms -verify -binary -inform DER -in "$a/$n.der" \
                -CAfile "$a/cms-root.pem" -purpose any -out /dev/null

            "$OPENSSL" cms -cmsout -print -inform DER -in "$a/$n.der" \
                >"$tmp/print"
            expect_grep "$n: eContent absent" 'eContent: <ABSENT>' "$tmp/print"
            expect_grep "$n: eContentType id-data" \
                'eContentType: pkcs7-data' "$tmp/print"
            certs=$(grep -c 'd.certificate:' "$tmp/print" || :)
            if [ "$certs" = 2 ]; then
                pass "$n: carries leaf and intermediate"
            else
                fail "$n: $certs certificates, want 2"
            fi
            attrs=$(sed -n '/signedAttrs:/,/signatureAlgorithm:/p' \
                "$tmp/print" | grep '^ *object: ' |
                sed 's/^ *object: \([A-Za-z]*\).*/\1/' | sort | tr '\n' ' ')
            if [ "$attrs" = "contentType messageDigest signingTime " ]; then
                pass "$n: signed attributes"
            else
                fail "$n: signed attributes are '$attrs'"
            fi
            sed -n '/signatureAlgorithm:/,/parameter:/p' "$tmp/print" \
                >"$tmp/sigalg"
            if [ "$k" = rsa3072 ]; then
                expect_grep "$n: rsaEncryption" 'algorithm: rsaEncryption' \
                    "$tmp/sigalg"
                expect_grep "$n: RSA parameter NULL" 'parameter: NULL' \
                    "$tmp/sigalg"
            else
                expect_grep "$n: ecdsa-with-$md" \
                    "algorithm: ecdsa-with-$(echo "$md" | tr '[:lower:]' '[:upper:]')" \
                    "$tmp/sigalg"
                expect_grep "$n: ECDSA parameter absent" \
                    'parameter: <ABSENT>' "$tmp/sigalg"
            fi
        done
    done
}

# openssl req -verify (3.0) exits 0 even when the signature is bad, so
# success is its "verify OK" line and nothing else.
req_verify() {
    "$OPENSSL" req -verify -noout "$@" >"$tmp/req.log" 2>&1 || return 1
    grep -q 'self-signature verify OK' "$tmp/req.log" &&
        ! grep -qi 'failure' "$tmp/req.log"
}

verify_csr() {
    run_unit test_x509util
    a="$tmp/art"
    for k in rsa3072 p256 p384; do
        "$OPENSSL" pkey -in "$a/key-$k.pem" -pubout -outform DER \
            -out "$tmp/want.der"
        "$OPENSSL" pkey -pubin -in "$a/pub-$k.pem" -outform DER \
            -out "$tmp/got.der"
        expect_ok "pub-$k.pem is the key's SubjectPublicKeyInfo" \
            cmp "$tmp/want.der" "$tmp/got.der"
        for md in sha256 sha384 sha512; do
            n="csr-$k-$md"
            expect_ok "$n: openssl req -verify" req_verify -in "$a/$n.pem"
            "$OPENSSL" req -in "$a/$n.pem" -pubkey -noout |
                "$OPENSSL" pkey -pubin -outform DER -out "$tmp/got.der"
            expect_ok "$n: carries the signer's public key" \
                cmp "$tmp/want.der" "$tmp/got.der"
            "$OPENSSL" req -in "$a/$n.pem" -noout -subject \
                -nameopt RFC2253,-esc_msb >"$tmp/subj"
            expect_grep "$n: subject" \
                'subject=CN=Test/CSR,O=Signet \\+ Ümlaut GmbH,C=DE' "$tmp/subj"
            "$OPENSSL" req -in "$a/$n.pem" -noout -text >"$tmp/text"
            if [ "$k" = rsa3072 ]; then
                alg="${md}WithRSAEncryption"
            else
                alg="ecdsa-with-$(echo "$md" | tr '[:lower:]' '[:upper:]')"
            fi
            expect_grep "$n: $alg" "Signature Algorithm: $alg" "$tmp/text"
            # Flip one byte of the subject: the signature must not verify.
            "$OPENSSL" req -in "$a/$n.pem" -outform DER -out "$tmp/csr.der"
            off=$(grep -obUa 'Test/CSR' "$tmp/csr.der" | head -n1 | cut -d: -f1)
            cp "$tmp/csr.der" "$tmp/bad.der"
            printf 'X' | dd of="$tmp/bad.der" bs=1 seek="$off" conv=notrunc \
                2>/dev/null
            expect_ok "$n: modified request differs" \
                sh -c "! cmp -s '$tmp/csr.der' '$tmp/bad.der'"
            expect_fail "$n: modified request is rejected" \
                req_verify -inform DER -in "$tmp/bad.der"
        done
    done
    # A signature whose last byte is zero must survive the BIT STRING.
    expect_ok "csr-zero-tail: openssl req -verify" \
        req_verify -in "$a/csr-zero-tail.pem"
    # The PEM chain: openssl verify reads the first certificate (the leaf)
    # and may use the others as untrusted intermediates.
    expect_ok "chain.pem: leaf first, verifies to the root" \
        "$OPENSSL" verify -CAfile "$a/chain-root.pem" \
        -untrusted "$a/chain.pem" "$a/chain.pem"
}

verify_tls() {
    run_unit test_tlsgen
    a="$tmp/art"
    ca="$a/ca.pem"
    cert="$a/server.pem"
    key="$a/server.key"
    expect_ok "server cert verifies for TLS server use" \
        "$OPENSSL" verify -CAfile "$ca" -purpose sslserver \
        -verify_hostname localhost "$cert"
    expect_ok "server cert verifies for 127.0.0.1" \
        "$OPENSSL" verify -CAfile "$ca" -purpose sslserver -verify_ip 127.0.0.1 \
        "$cert"
    expect_ok "server cert verifies for ::1" \
        "$OPENSSL" verify -CAfile "$ca" -purpose sslserver -verify_ip ::1 \
        "$cert"
    expect_fail "server cert does not verify for example.com" \
        "$OPENSSL" verify -CAfile "$ca" -purpose sslserver \
        -verify_hostname example.com "$cert"
    expect_fail "root cannot be used as a TLS server" \
        "$OPENSSL" verify -CAfile "$ca" -purpose sslserver "$ca"
    # x509 -checkip takes one address per run.
    for opt in "-checkhost localhost" "-checkip 127.0.0.1" "-checkip ::1"; do
        # shellcheck disable=SC2086 # opt is two words on purpose
        "$OPENSSL" x509 -in "$cert" -noout $opt >"$tmp/check"
        if grep -q 'does match' "$tmp/check"; then
            pass "x509 $opt"
        else
            fail "x509 $opt: $(cat "$tmp/check")"
        fi
    done
    "$OPENSSL" x509 -in "$cert" -noout -checkhost example.com >"$tmp/check"
    expect_grep "x509 -checkhost example.com does not match" \
        'does NOT match' "$tmp/check"
    "$OPENSSL" x509 -in "$cert" -noout -text >"$tmp/srv"
    "$OPENSSL" x509 -in "$ca" -noout -text >"$tmp/root"
    expect_grep "server: ecdsa P-256" 'NIST CURVE: P-256' "$tmp/srv"
    expect_grep "server: CA:FALSE" 'CA:FALSE' "$tmp/srv"
    expect_grep "server: digitalSignature" 'Digital Signature' "$tmp/srv"
    expect_grep "server: serverAuth" 'TLS Web Server Authentication' "$tmp/srv"
    expect_grep "root: CA:TRUE" 'CA:TRUE, pathlen:0' "$tmp/root"
    expect_grep "root: keyCertSign" 'Certificate Sign, CRL Sign' "$tmp/root"
    ski=$(grep -A1 'Subject Key Identifier' "$tmp/root" | tail -n1 | tr -d ' ')
    aki=$(grep -A1 'Authority Key Identifier' "$tmp/srv" | tail -n1 |
        tr -d ' ' | sed 's/^keyid://')
    if [ -n "$ski" ] && [ "$ski" = "$aki" ]; then
        pass "server AKI is the root's SKI"
    else
        fail "server AKI '$aki' vs root SKI '$ski'"
    fi
    # Validity: server 825 days, root 10 years.
    expect_ok "server valid for 824 more days" \
        "$OPENSSL" x509 -in "$cert" -noout -checkend $((824 * 86400))
    expect_fail "server not valid for 826 days" \
        "$OPENSSL" x509 -in "$cert" -noout -checkend $((826 * 86400))
    expect_ok "root valid for 9 more years" \
        "$OPENSSL" x509 -in "$ca" -noout -checkend $((9 * 365 * 86400))
    for c in "$ca" "$cert"; do
        s=$("$OPENSSL" x509 -in "$c" -noout -serial | sed 's/^serial=//')
        case $s in
        [0-7][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F]*)
            if [ ${#s} = 32 ]; then
                pass "$(basename "$c"): positive 128-bit serial $s"
            else
                fail "$(basename "$c"): serial $s is not 128 bits"
            fi
            ;;
        *) fail "$(basename "$c"): serial $s" ;;
        esac
    done
    expect_grep "key is PKCS#8" '^-----BEGIN PRIVATE KEY-----$' "$key"
    mode=$(stat -c %a "$key")
    if [ "$mode" = 600 ]; then
        pass "key mode 0600"
    else
        fail "key mode $mode"
    fi
    "$OPENSSL" pkey -in "$key" -pubout -outform DER -out "$tmp/k.der"
    "$OPENSSL" x509 -in "$cert" -pubkey -noout |
        "$OPENSSL" pkey -pubin -outform DER -out "$tmp/c.der"
    expect_ok "key matches certificate" cmp "$tmp/k.der" "$tmp/c.der"
    tls_handshake
}

# A real handshake: s_server with the generated pair on a port the kernel
# picks, s_client trusting only the generated root and checking the name.
tls_handshake() {
    "$OPENSSL" s_server -accept 127.0.0.1:0 -cert "$a/server.pem" \
        -key "$a/server.key" -naccept 1 -www >"$tmp/server.log" 2>&1 &
    server_pid=$!
    port=
    i=0
    while [ $i -lt 100 ] && kill -0 "$server_pid" 2>/dev/null; do
        # The log may not exist yet: the child opens it after the fork.
        port=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
            "$tmp/server.log" 2>/dev/null || :)
        [ -n "$port" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    if [ -z "$port" ]; then
        fail "s_server did not start"
        cat "$tmp/server.log"
        return
    fi
    if echo | "$OPENSSL" s_client -connect "127.0.0.1:$port" \
        -CAfile "$a/ca.pem" -verify_return_error -verify_hostname localhost \
        -brief >"$tmp/client.log" 2>&1 &&
        grep -q 'Verification: OK' "$tmp/client.log"; then
        pass "TLS handshake: s_client verifies s_server as localhost"
    else
        fail "TLS handshake"
        cat "$tmp/client.log"
    fi
    kill "$server_pid" 2>/dev/null || :
    wait "$server_pid" 2>/dev/null || :
    server_pid=
}

case $what in
cms) verify_cms ;;
csr) verify_csr ;;
tls) verify_tls ;;
*)
    echo "usage: $0 cms|csr|tls OPENSSL BINDIR" >&2
    exit 2
    ;;
esac

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
