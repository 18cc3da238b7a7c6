#!/usr/bin/env bash
# libsignet-pkcs11.so, judged by tools that do not share Signet's code:
#  - pkcs11-tool (OpenSC): slot and token, the object list, --sign with
#    every mechanism (each signature verified with openssl), --test;
#  - a certificate from Signet's own CA attached to the keys, then
#    osslsigncode through engine_pkcs11, jarsigner through SunPKCS11 and
#    openssl cms through the engine, each verified by the tool itself;
#  - token scopes, revoked tokens, disabled keys.
# Usage: test_pkcs11_module.sh SIGNETD SIGNET MODULE
. "$(dirname "$0")/lib.sh"
# osslsigncode 2.6+ can be told not to fetch CRLs from the certificates'
# (default-URL) distribution points; 2.5 (Debian 12 main) does not have it.
IGNORE_CDP=()
if osslsigncode --help 2>&1 | grep -e -ignore-cdp >/dev/null; then
    IGNORE_CDP=(-ignore-cdp)
fi

MOD=${3:?usage: test_pkcs11_module.sh SIGNETD SIGNET MODULE}
[ -f "$MOD" ] || die "no PKCS#11 module at $MOD"
for tool in pkcs11-tool python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
ENGINE=/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so
# A module built with ASan needs the runtime in the tools that load it;
# only they get it (curl, openssl and the server run as they are).
PRELOAD=()
# (grep reads all of ldd's output: with pipefail, grep -q could SIGPIPE ldd)
if ldd "$MOD" 2>/dev/null | grep libasan >/dev/null; then
    PRELOAD=(env "LD_PRELOAD=$(ldd "$MOD" | awk '/libasan/ {print $3}')"
        "ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:handle_segv=0")
fi
# with_mod CMD...: runs a tool that loads the module.
with_mod() { "${PRELOAD[@]}" "$@"; }

cd "$WORK" || die "no work directory"
server_start
unset SIGNET_TOKEN
SUB=$(new_subscriber acme) || exit 1
TOK=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1
KR=$(new_key "$TOK" rsa-3072 "rsa signer") || exit 1
KE=$(new_key "$TOK" ecdsa-p256 "ec signer") || exit 1
KE3=$(new_key "$TOK" ecdsa-p384 "ec384 signer") || exit 1
J=(-H 'Content-Type: application/json')

hexid() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
p11m() { with_mod pkcs11-tool --module "$MOD" "$@"; }

# ---- slot, token, objects ----
out=$(p11m --list-slots 2>&1)
check_match "--list-slots: one slot with a token" 'Slot 0 .*Signet remote signing' "$out"
out=$(p11m --login --pin "$TOK" --list-objects 2>&1)
check_match "--list-objects: RSA private key" 'Private Key Object; RSA' "$out"
check_match "--list-objects: EC private key" 'Private Key Object; EC' "$out"
check_match "--list-objects: public key" 'Public Key Object; RSA 3072 bits' "$out"
check_match "--list-objects: label" 'label: *rsa signer' "$out"
check_match "--list-objects: key id" "ID: *$(hexid "$KR")" "$out"
out=$(p11m --list-objects 2>&1)
check_nomatch "no objects before login" 'Private Key Object' "$out"
out=$(SIGNET_TOKEN=$TOK p11m --list-token-slots 2>&1)
check_match "token label is the subscriber id" "token label *: ${SUB:0:32}" "$out"
check_cmd_fails "a wrong PIN fails C_Login" p11m --login --pin "sn_bogus" --list-objects

# ---- signing with each mechanism ----
head -c 3000 /dev/urandom >data
openssl dgst -sha256 -binary data >d256
openssl dgst -sha384 -binary data >d384
openssl pkey -pubin -in "pub.$KR.pem" -out rsa.pem 2>/dev/null
openssl pkey -pubin -in "pub.$KE.pem" -out ec.pem 2>/dev/null
openssl pkey -pubin -in "pub.$KE3.pem" -out ec3.pem 2>/dev/null
python3 -c "import sys; sys.stdout.buffer.write(bytes.fromhex('3031300d060960864801650304020105000420') + open('d256','rb').read())" >di256

# sign ID MECH IN OUT [extra pkcs11-tool args]
sign() {
    local id=$1 m=$2 in=$3 o=$4
    shift 4
    rm -f "$o"
    p11m --login --pin "$TOK" --sign --id "$(hexid "$id")" -m "$m" \
        -i "$in" -o "$o" "$@" >"$WORK/p11.out" 2>&1
}
if sign "$KR" RSA-PKCS di256 s1; then
    check_cmd "RSA-PKCS (DigestInfo) verifies" openssl pkeyutl -verify -pubin \
        -inkey rsa.pem -in di256 -sigfile s1
else fail "RSA-PKCS sign: $(cat p11.out)"; fi
if sign "$KR" SHA256-RSA-PKCS data s2; then
    check_cmd "SHA256-RSA-PKCS verifies" openssl dgst -sha256 -verify rsa.pem -signature s2 data
else fail "SHA256-RSA-PKCS sign: $(cat p11.out)"; fi
if sign "$KR" SHA384-RSA-PKCS data s3; then
    check_cmd "SHA384-RSA-PKCS verifies" openssl dgst -sha384 -verify rsa.pem -signature s3 data
else fail "SHA384-RSA-PKCS sign: $(cat p11.out)"; fi
if sign "$KR" RSA-PKCS-PSS d256 s4 --hash-algorithm SHA256 --mgf MGF1-SHA256 --salt-len 32; then
    check_cmd "RSA-PKCS-PSS verifies" openssl pkeyutl -verify -pubin -inkey rsa.pem \
        -in d256 -sigfile s4 -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss \
        -pkeyopt rsa_pss_saltlen:32
else fail "RSA-PKCS-PSS sign: $(cat p11.out)"; fi
if sign "$KR" SHA256-RSA-PKCS-PSS data s5; then
    check_cmd "SHA256-RSA-PKCS-PSS verifies" openssl dgst -sha256 -sigopt rsa_padding_mode:pss \
        -sigopt rsa_pss_saltlen:32 -verify rsa.pem -signature s5 data
else fail "SHA256-RSA-PKCS-PSS sign: $(cat p11.out)"; fi
if sign "$KE" ECDSA d256 s6 --signature-format openssl; then
    check_cmd "ECDSA (P-256, raw digest) verifies" openssl pkeyutl -verify -pubin \
        -inkey ec.pem -in d256 -sigfile s6
else fail "ECDSA sign: $(cat p11.out)"; fi
if sign "$KE" ECDSA-SHA256 data s7 --signature-format openssl; then
    check_cmd "ECDSA-SHA256 verifies" openssl dgst -sha256 -verify ec.pem -signature s7 data
else fail "ECDSA-SHA256 sign: $(cat p11.out)"; fi
if sign "$KE3" ECDSA-SHA384 data s8 --signature-format openssl; then
    check_cmd "ECDSA-SHA384 (P-384) verifies" openssl dgst -sha384 -verify ec3.pem -signature s8 data
else fail "ECDSA-SHA384 sign: $(cat p11.out)"; fi
if sign "$KE" ECDSA-SHA256 data s9; then
    check_eq "raw ECDSA output is r||s of 64 bytes" 64 "$(stat -c %s s9)"
else fail "ECDSA-SHA256 raw sign: $(cat p11.out)"; fi
python3 -c "import sys; sys.stdout.buffer.write(bytes.fromhex('3021300906052b0e03021a05000414') + b'x'*20)" >disha1
check_cmd_fails "RSA-PKCS with a SHA-1 DigestInfo is refused" sign "$KR" RSA-PKCS disha1 sx
check_match "... with CKR_DATA_INVALID" 'CKR_DATA_INVALID' "$(cat p11.out)"

out=$(p11m --test --login --pin "$TOK" 2>&1)
check_match "pkcs11-tool --test: C_Sign, C_SignUpdate/Final, length queries agree" \
    'all 4 signature functions seem to work' "$out"
check_nomatch "pkcs11-tool --test: no ERR in the signature tests" '  ERR:' "$out"
# Its mechanism loop signs a SHA-1 DigestInfo with CKM_RSA_PKCS, which the
# module refuses by design (the service signs SHA-2 only); nothing else may
# stop it.
check_nomatch "pkcs11-tool --test: no failure but the SHA-1 DigestInfo refusal" \
    'CKR_' "$(grep -E 'failed: rv' <<<"$out" | sed 's/CKR_DATA_INVALID/ok/')"
printf '%s\n' "$out" >p11test.log

# ---- a certificate from Signet's own CA ----
req_json PUT "/v1/subscribers/$SUB/identity" "$ADMIN" '{"O":"Acme","C":"US","ST":"CA"}'
check_status "record the identity" 200
curl -sS --max-time 10 -o root.der "$PUBLIC_URL/ca/root.cer" || die "GET root.cer"
openssl x509 -inform DER -in root.der -out root.pem || die "root.cer is not DER"
# certify KEY: CSR, issuance, attach leaf + issuer
certify() {
    req_json POST "/v1/keys/$1/csr" "$TOK" '{"subject":{"CN":"Acme","O":"Acme","C":"US","ST":"CA"}}'
    [ "$STATUS" = 200 ] || die "CSR for $1: HTTP $STATUS $BODY"
    jget .csr_pem >"csr.$1.pem"
    req POST /v1/ca/certificates "$TOK" "${J[@]}" \
        --data-binary "$(jq -n --rawfile c "csr.$1.pem" '{csr_pem: $c}')"
    [ "$STATUS" = 201 ] || die "issue for $1: HTTP $STATUS $BODY"
    jget .certificate_pem >"leaf.$1.pem"
    jget .issuer_pem >"issuer.$1.pem"
    cat "leaf.$1.pem" "issuer.$1.pem" root.pem >"chain.$1.pem"
    req PUT "/v1/keys/$1/certificate" "$TOK" -H 'Content-Type: application/x-pem-file' \
        --data-binary @"chain.$1.pem"
    [ "$STATUS" = 200 ] || die "attach for $1: HTTP $STATUS $BODY"
}
certify "$KR"
certify "$KE"
out=$(p11m --login --pin "$TOK" --list-objects --type cert 2>&1)
check_match "--list-objects: the leaf certificate" "Certificate Object; type = X.509 cert[^;]*label: *rsa signer" "$(tr '\n' ' ' <<<"$out")"
check_match "--list-objects: the issuing CA certificate" 'ID: *63612d' "$out"
p11m --login --pin "$TOK" --read-object --type cert --id "$(hexid "$KR")" -o leaf.der >/dev/null 2>&1
check_eq "the certificate object is the attached leaf" \
    "$(openssl x509 -in "leaf.$KR.pem" -outform DER | sha256sum)" "$(sha256sum <leaf.der)"

# CRLs for verifiers that insist on them (the CDP is not this test's port).
: >crls.pem
for ca in root codesigning timestamping; do
    curl -sS --max-time 30 "$PUBLIC_URL/ca/crl/$ca" -o "crl.$ca.der" 2>/dev/null &&
        openssl crl -inform DER -in "crl.$ca.der" >>crls.pem 2>/dev/null
done

# ---- openssl cms through engine_pkcs11 ----
URI_R="pkcs11:id=$(printf '%s' "$KR" | od -An -tx1 | tr -d ' \n' | sed 's/../%&/g');type=private"
if [ -f "$ENGINE" ]; then
    export PKCS11_MODULE_PATH=$MOD
    cat >engine.cnf <<EOF
openssl_conf = init
[init]
engines = engines
[engines]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE
MODULE_PATH = $MOD
init = 0
EOF
    echo "hello cms" >msg.txt
    # libp11 caps pin-value at 32 characters; the token comes from the
    # environment, which also makes the objects visible without C_Login.
    export SIGNET_TOKEN=$TOK
    if OPENSSL_CONF=engine.cnf with_mod openssl cms -sign -engine pkcs11 -keyform engine \
        -inkey "$URI_R" -signer "leaf.$KR.pem" -certfile "issuer.$KR.pem" \
        -in msg.txt -binary -outform DER -out msg.p7s -md sha256 >cms.out 2>&1; then
        check_cmd "openssl cms -verify accepts the engine's CMS" openssl cms -verify \
            -CAfile root.pem -purpose any -inform DER -in msg.p7s -content msg.txt \
            -binary -out /dev/null
    else
        fail "openssl cms -sign through the engine: $(cat cms.out)"
    fi

    # ---- osslsigncode through the engine ----
    python3 - a.exe <<'EOF'
import struct, sys
# A minimal PE32 image: headers, one .text section holding "ret".
dos = b"MZ" + b"\0" * 58 + struct.pack("<I", 0x40)
coff = struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 224, 0x0102)
opt = struct.pack("<HBBIIIIII", 0x10B, 14, 0, 0x200, 0, 0, 0x1000, 0x1000, 0x2000)
opt += struct.pack("<IIIHHHHHHIIIIHHIIIIII", 0x400000, 0x1000, 0x200, 6, 0,
                   0, 0, 6, 0, 0, 0x2000, 0x200, 0, 3, 0x8140, 0x100000,
                   0x1000, 0x100000, 0x1000, 0, 16)
opt += b"\0" * (16 * 8)
sect = b".text\0\0\0" + struct.pack("<IIIIIIHHI", 0x1000, 0x1000, 0x200, 0x200,
                                     0, 0, 0, 0, 0x60000020)
hdr = dos + b"PE\0\0" + coff + opt + sect
hdr += b"\0" * (0x200 - len(hdr))
open(sys.argv[1], "wb").write(hdr + b"\xc3" + b"\0" * 0x1FF)
EOF
    if command -v osslsigncode >/dev/null 2>&1; then
        if with_mod osslsigncode sign -pkcs11module "$MOD" \
            -key "$URI_R" -certs "chain.$KR.pem" -h sha256 \
            -ts "$PUBLIC_URL/tsa" -in a.exe -out s.exe >ossl.out 2>&1; then
            vout=$(osslsigncode verify -CAfile root.pem -TSA-CAfile root.pem \
                -CRLfile crls.pem -TSA-CRLfile crls.pem ${IGNORE_CDP[@]} -in s.exe 2>&1)
            vrc=$?
            check_eq "osslsigncode verify: exit 0" 0 "$vrc" || printf '%s\n' "$vout" | tail -n 25
            check_match "osslsigncode verify: signature ok" 'Signature verification: ok' "$vout"
            check_match "osslsigncode verify: signer is the Signet-certified key" 'Subject: /C=US/ST=CA/O=Acme/CN=Acme'$'\n' "$vout"
        else
            fail "osslsigncode sign with the module: $(tail -n 20 ossl.out)"
        fi
    else
        log "osslsigncode not installed: skipped"
    fi
    unset SIGNET_TOKEN
else
    fail "engine_pkcs11 is not installed ($ENGINE): apt-get install libengine-pkcs11-openssl"
fi

# ---- jarsigner through SunPKCS11 ----
if command -v jarsigner >/dev/null 2>&1; then
    printf 'name = Signet\nlibrary = %s\n' "$MOD" >sunpkcs11.cfg
    mkdir -p jar/pkg && echo 'hello from a jar' >jar/pkg/hello.txt
    (cd jar && jar cf ../a.jar pkg/hello.txt) || die "jar cf"
    keytool -importcert -noprompt -keystore trust.p12 -storetype PKCS12 \
        -storepass changeit -alias signet -file root.pem >/dev/null 2>&1 || die "keytool"
    jl=$(with_mod keytool -list -keystore NONE -storetype PKCS11 -providerClass sun.security.pkcs11.SunPKCS11 \
        -providerArg sunpkcs11.cfg -storepass "$TOK" 2>&1)
    check_match "keytool -list sees the key entries" 'PrivateKeyEntry' "$jl"
    check_cmd "jarsigner signs through SunPKCS11" with_mod jarsigner -keystore NONE -storetype PKCS11 \
        -providerClass sun.security.pkcs11.SunPKCS11 -providerArg sunpkcs11.cfg \
        -storepass "$TOK" -tsa "$PUBLIC_URL/tsa" a.jar "rsa signer"
    jout=$(jarsigner -verify -strict -verbose -certs -keystore trust.p12 \
        -storetype PKCS12 -storepass changeit a.jar 2>&1)
    jrc=$?
    check_eq "jarsigner -verify -strict: exit 0" 0 "$jrc" || printf '%s\n' "$jout" | tail -n 25
    check_match "jarsigner -verify: jar verified" 'jar verified' "$jout"
fi

# ---- scopes, revocation, disabled keys ----
TX=$(new_token "$SUB" "\"roles\":[\"sign\"],\"keys\":[\"$KE\"]") || exit 1
out=$(p11m --login --pin "$TX" --list-objects --type privkey 2>&1)
check_eq "a token limited to one key sees one private key" 1 "$(grep -c 'Private Key Object' <<<"$out")"
check_match "... and it is that key" "$(hexid "$KE")" "$out"
req_json POST "/v1/subscribers/$SUB/tokens" "$ADMIN" '{"name":"revokeme","roles":["sign"]}'
TV=$(jget .token)
TVID=$(jget .id)
req DELETE "/v1/tokens/$TVID" "$ADMIN"
check_status "revoke a token" 200
out=$(p11m --login --pin "$TV" --list-objects 2>&1)
check_match "a revoked token fails C_Login with CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT' "$out"
# Through SIGNET_TOKEN the objects are visible without C_Login.
out=$(SIGNET_TOKEN=$TX p11m --list-objects --type privkey 2>&1)
check_match "SIGNET_TOKEN: objects visible without login" 'Private Key Object' "$out"
# The token always says "login required", so pkcs11-tool logs in to sign;
# its PIN wins over SIGNET_TOKEN (test_pkcs11_login.sh). Signing through
# SIGNET_TOKEN alone is the engine's way above.
if SIGNET_TOKEN=$TX p11m --login --pin "$TOK" --sign --id "$(hexid "$KE")" \
    -m ECDSA-SHA256 -i data -o se --signature-format openssl >se.out 2>&1; then
    check_cmd "SIGNET_TOKEN set, --pin: signing verifies" openssl dgst -sha256 \
        -verify ec.pem -signature se data
else fail "sign with --pin and SIGNET_TOKEN set: $(cat se.out)"; fi
req POST "/v1/keys/$KE/disable" "$TOK"
check_status "disable the EC key" 200
out=$(SIGNET_PKCS11_DEBUG=1 p11m --login --pin "$TOK" --sign --id "$(hexid "$KE")" \
    -m ECDSA-SHA256 -i data -o sd 2>&1)
check_cmd_fails "a disabled key cannot sign" test -s sd
out=$(SIGNET_PKCS11_DEBUG=1 p11m --login --pin "$TOK" --list-objects --type privkey 2>&1)
check_nomatch "a disabled key is not listed" "$(hexid "$KE")" "$out"
out=$(SIGNET_PKCS11_DEBUG=1 SIGNET_URL=https://127.0.0.1:1 p11m --login --pin "$TOK" \
    --list-objects 2>&1)
check_match "an unreachable service: CKR_DEVICE_ERROR" 'CKR_DEVICE_ERROR' "$out"
out=$(SIGNET_PKCS11_DEBUG=1 p11m --login --pin "${TOK}x" --list-objects 2>&1)
check_match "debug: the server's message on stderr" 'signet-pkcs11: .*HTTP 401' "$out"
check_nomatch "debug: never the token" "${TOK:40}" "$out"

check_healthy "PKCS#11 module"
server_stop
finish
