#!/usr/bin/env bash
# libsignet-pkcs11.so: the PIN a tool offers wins over SIGNET_TOKEN, and a
# configuration failure is one clear line on stderr without a debug switch.
#  - with SIGNET_TOKEN = subscriber A's token, keytool/jarsigner (SunPKCS11)
#    given -storepass = B's token see and sign with B's keys, not A's; the
#    certificate in the signed jar is judged by openssl;
#  - pkcs11-tool --login --pin B lists B's keys with SIGNET_TOKEN = A; the
#    token always says "login required"; without a login SIGNET_TOKEN still
#    serves tools that never log in (openssl engines);
#  - no URL, a non-https URL, an unreachable URL, a missing CA file, a CA
#    file that does not trust the service, a refused SIGNET_TOKEN: each is
#    one line "libsignet-pkcs11: ..." naming the setting, printed once
#    however many calls fail, and no token or PIN ever appears on stderr.
# Usage: test_pkcs11_login.sh SIGNETD SIGNET MODULE
. "$(dirname "$0")/lib.sh"

MOD=${3:?usage: test_pkcs11_login.sh SIGNETD SIGNET MODULE}
[ -f "$MOD" ] || die "no PKCS#11 module at $MOD"
command -v pkcs11-tool >/dev/null 2>&1 || die "pkcs11-tool is not installed"
# A module built with ASan needs the runtime in the tools that load it.
PRELOAD=()
if ldd "$MOD" 2>/dev/null | grep libasan >/dev/null; then
    PRELOAD=(env "LD_PRELOAD=$(ldd "$MOD" | awk '/libasan/ {print $3}')"
        "ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:handle_segv=0")
fi
with_mod() { "${PRELOAD[@]}" "$@"; }
p11m() { with_mod pkcs11-tool --module "$MOD" "$@"; }
hexid() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

cd "$WORK" || die "no work directory"
server_start
unset SIGNET_TOKEN SIGNET_PKCS11_DEBUG SIGNET_PKCS11_CONF
J=(-H 'Content-Type: application/json')
curl -sS --max-time 10 -o root.der "$PUBLIC_URL/ca/root.cer" || die "GET root.cer"
openssl x509 -inform DER -in root.der -out root.pem || die "root.cer is not DER"

# subscriber NAME -> sets TOKEN and KEY: a subscriber with one certified key
# labelled "NAME key", its chain attached as Signet's CA issued it.
subscriber() {
    local sub
    sub=$(new_subscriber "$1") || exit 1
    TOKEN=$(new_token "$sub" '"roles":["manage","sign"]') || exit 1
    KEY=$(new_key "$TOKEN" ecdsa-p256 "$1 key") || exit 1
    req_json PUT "/v1/subscribers/$sub/identity" "$ADMIN" "{\"O\":\"$1\",\"C\":\"US\",\"ST\":\"CA\"}"
    [ "$STATUS" = 200 ] || die "identity of $1: HTTP $STATUS $BODY"
    req_json POST "/v1/keys/$KEY/csr" "$TOKEN" "{\"subject\":{\"CN\":\"$1\",\"O\":\"$1\",\"C\":\"US\",\"ST\":\"CA\"}}"
    [ "$STATUS" = 200 ] || die "CSR for $1: HTTP $STATUS $BODY"
    jget .csr_pem >"csr.$1.pem"
    req POST /v1/ca/certificates "$TOKEN" "${J[@]}" \
        --data-binary "$(jq -n --rawfile c "csr.$1.pem" '{csr_pem: $c}')"
    [ "$STATUS" = 201 ] || die "issue for $1: HTTP $STATUS $BODY"
    { jget .certificate_pem; jget .issuer_pem; cat root.pem; } >"chain.$1.pem"
    req PUT "/v1/keys/$KEY/certificate" "$TOKEN" -H 'Content-Type: application/x-pem-file' \
        --data-binary @"chain.$1.pem"
    [ "$STATUS" = 200 ] || die "attach for $1: HTTP $STATUS $BODY"
}
subscriber alpha
TA=$TOKEN KA=$KEY
subscriber bravo
TB=$TOKEN KB=$KEY
# Every stderr line the module printed in this test, for the final check.
: >all.err

# ---- the token asks for a login even when SIGNET_TOKEN is set ----
out=$(SIGNET_TOKEN=$TA p11m --list-token-slots 2>&1)
check_match "SIGNET_TOKEN set: the token still says login required" \
    'token flags *:.*login required' "$out"

# ---- pkcs11-tool: the PIN wins ----
out=$(SIGNET_TOKEN=$TA p11m --login --pin "$TB" --list-objects --type privkey 2>>all.err)
check_match "SIGNET_TOKEN=A, --pin B: B's key is listed" "ID: *$(hexid "$KB")" "$out"
check_nomatch "SIGNET_TOKEN=A, --pin B: A's key is not" "$(hexid "$KA")" "$out"
# Tools that never log in still get SIGNET_TOKEN's objects.
out=$(SIGNET_TOKEN=$TA p11m --list-objects --type privkey 2>>all.err)
check_match "SIGNET_TOKEN=A without a login: A's key" "ID: *$(hexid "$KA")" "$out"
echo data >data
if SIGNET_TOKEN=$TA p11m --login --pin "$TB" --sign --id "$(hexid "$KB")" \
    -m ECDSA-SHA256 --signature-format openssl -i data -o sig 2>>all.err >/dev/null; then
    openssl pkey -pubin -in "pub.$KB.pem" -out b.pem 2>/dev/null
    check_cmd "SIGNET_TOKEN=A, --pin B: B's key signs (openssl verifies)" \
        openssl dgst -sha256 -verify b.pem -signature sig data
else
    fail "SIGNET_TOKEN=A, --pin B: signing with B's key failed"
fi

# ---- SunPKCS11: -storepass wins ----
if command -v keytool >/dev/null 2>&1; then
    printf 'name = Signet\nlibrary = %s\n' "$MOD" >sunpkcs11.cfg
    kt() {
        with_mod keytool -list -keystore NONE -storetype PKCS11 \
            -providerClass sun.security.pkcs11.SunPKCS11 \
            -providerArg sunpkcs11.cfg -storepass "$1"
    }
    out=$(SIGNET_TOKEN=$TA kt "$TB" 2>>all.err)
    check_match "keytool, SIGNET_TOKEN=A, -storepass B: lists B's key" 'bravo key, .*PrivateKeyEntry' "$out"
    check_nomatch "keytool, SIGNET_TOKEN=A, -storepass B: not A's" 'alpha key' "$out"
    out=$(SIGNET_TOKEN=$TB kt "$TA" 2>>all.err)
    check_match "keytool, SIGNET_TOKEN=B, -storepass A: lists A's key" 'alpha key, .*PrivateKeyEntry' "$out"
    mkdir -p jar/pkg && echo 'hello' >jar/pkg/hello.txt
    (cd jar && jar cf ../a.jar pkg/hello.txt) || die "jar cf"
    if SIGNET_TOKEN=$TA with_mod jarsigner -keystore NONE -storetype PKCS11 \
        -providerClass sun.security.pkcs11.SunPKCS11 -providerArg sunpkcs11.cfg \
        -storepass "$TB" a.jar "bravo key" >js.out 2>>all.err; then
        # The signer's certificate, read from the jar by openssl.
        /usr/bin/python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
sys.stdout.buffer.write(z.read([n for n in z.namelist() if n.endswith(".EC")][0]))' \
            a.jar >a.p7 || fail "no signature block in the jar"
        subj=$(openssl pkcs7 -inform DER -in a.p7 -print_certs 2>&1 | grep '^subject')
        check_match "jarsigner, SIGNET_TOKEN=A, -storepass B: signed by B" 'O *= *bravo' "$subj"
    else
        fail "jarsigner with SIGNET_TOKEN=A and -storepass B: $(cat js.out)"
    fi
else
    log "no JDK (keytool): the SunPKCS11 checks are skipped"
fi

# ---- configuration failures: one line, naming the setting, once ----
# p11err WHAT ENV...: runs pkcs11-tool --login --list-objects (several
# module calls) under ENV and leaves the module's stderr lines in $ERR.
p11err() {
    local what=$1
    shift
    env "$@" "${PRELOAD[@]}" pkcs11-tool --module "$MOD" --login --pin "$TB" \
        --list-objects >/dev/null 2>err.txt
    cat err.txt >>all.err
    ERR=$(grep 'libsignet-pkcs11:' err.txt)
    check_eq "$what: one module line on stderr" 1 "$(grep -c 'libsignet-pkcs11:' err.txt)"
}
p11err "wrong URL" SIGNET_TOKEN="$TA" SIGNET_URL=https://127.0.0.1:1
check_match "wrong URL: names the URL and SIGNET_URL" \
    '^libsignet-pkcs11: cannot reach https://127.0.0.1:1 \(SIGNET_URL\): ' "$ERR"
p11err "no URL" -u SIGNET_URL
check_match "no URL: says to set SIGNET_URL" 'libsignet-pkcs11: .*SIGNET_URL' "$ERR"
p11err "http URL" SIGNET_URL=http://127.0.0.1:1
check_match "http URL: says SIGNET_URL must be https" 'libsignet-pkcs11: SIGNET_URL .*https://' "$ERR"
p11err "missing CA file" SIGNET_CA_FILE=/nonexistent/ca.pem
check_match "missing CA file: names it and why" \
    'libsignet-pkcs11: SIGNET_CA_FILE /nonexistent/ca.pem: No such file or directory' "$ERR"
p11err "CA file that does not trust the service" SIGNET_CA_FILE=root.pem
check_match "untrusted TLS certificate: says TLS and names SIGNET_CA_FILE" \
    'libsignet-pkcs11: .*TLS.*SIGNET_CA_FILE' "$ERR"
printf 'url = https://127.0.0.1:1\n' >p11.conf
p11err "wrong URL in the file" -u SIGNET_URL SIGNET_PKCS11_CONF=p11.conf
check_match "wrong URL in the file: names the file" \
    'libsignet-pkcs11: cannot reach https://127.0.0.1:1 \(url in p11.conf\)' "$ERR"
p11err "unreadable SIGNET_PKCS11_CONF" SIGNET_PKCS11_CONF=/nonexistent.conf
check_match "unreadable SIGNET_PKCS11_CONF: names it" \
    'libsignet-pkcs11: SIGNET_PKCS11_CONF /nonexistent.conf: ' "$ERR"
SIGNET_TOKEN="${TA%?}x" with_mod pkcs11-tool --module "$MOD" --list-objects \
    >/dev/null 2>err.txt
cat err.txt >>all.err
check_match "a refused SIGNET_TOKEN is reported" \
    'libsignet-pkcs11: the service refused SIGNET_TOKEN \(HTTP 401' "$(cat err.txt)"
check_eq "... once" 1 "$(grep -c 'libsignet-pkcs11:' err.txt)"

# ---- no secret on stderr, ever ----
# (the middle of each token: a tool's own messages never print it either)
check_nomatch "stderr never shows A's token" "${TA:20:20}" "$(cat all.err)"
check_nomatch "stderr never shows B's token" "${TB:20:20}" "$(cat all.err)"
check_nomatch "stderr never shows the refused token" "${TA:20:20}" "$(cat err.txt)"
check_nomatch "no sanitizer report from the module" 'Sanitizer|runtime error:' "$(cat all.err)"

check_healthy "PKCS#11 logins"
server_stop
finish
