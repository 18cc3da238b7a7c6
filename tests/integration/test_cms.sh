#!/usr/bin/env bash
# CSRs, certificates and CMS file signatures, judged by openssl:
#  - POST /csr: `openssl req -verify`, subject, public key = the key's;
#  - a throw-away root and intermediate CA (openssl) issue a code-signing
#    certificate for the CSR; PUT it (leaf + intermediate);
#  - a certificate of another key, garbage, and a chain in the wrong order
#    are refused with 400 invalid_field;
#  - detached CMS from `signet sign` (local hashing), `signet sign --upload`
#    and curl --data-binary to /sign-file, verified with `openssl cms
#    -verify` against the root, with the signed attributes and chain
#    checked; a modified file and a foreign root must fail;
#  - the chain must verify, for code signing, to a configured root
#    (ca.upload_root = the throw-away root): a leaf from an unconfigured
#    root naming "Microsoft Corporation" and a leaf without codeSigning
#    are refused with 400 invalid_field naming the reason.
. "$(dirname "$0")/lib.sh"

server_init
# Read at each upload: filled once the throw-away root exists.
: >"$WORK/upload-roots.pem"
set_conf ca.upload_root "$WORK/upload-roots.pem"
server_start
SUB=$(new_subscriber acme) || exit 1
TOK=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1
export SIGNET_TOKEN=$TOK
RSA=$(new_key "$TOK" rsa-3072 "release signing") || exit 1
EC=$(new_key "$TOK" ecdsa-p256 "ec signing") || exit 1

# ---- throw-away PKI ----
cd "$WORK" || die "cd $WORK"
cat >ca.ext <<'EOF'
[root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
mkca() { # mkca NAME SUBJECT
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1.key" -out "$1.pem" -days 2 -subj "$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1 ||
        die "cannot make CA $1"
}
mkca root "/CN=Signet Test Root/O=Throwaway"
mkca otherroot "/CN=Unrelated Root/O=Throwaway"
cp root.pem upload-roots.pem
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout inter.key -out inter.csr -subj "/CN=Signet Test Code Signing CA/O=Throwaway" 2>/dev/null ||
    die "intermediate CSR"
openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -CAcreateserial \
    -days 2 -out inter.pem -extfile ca.ext -extensions inter 2>/dev/null ||
    die "intermediate certificate"

# ---- CSR ----
# OpenSSL 3.0's `req -verify` exits 0 even when the signature is bad: the
# verdict is the message it prints.
csr_verify() {
    local out
    out=$(openssl req -verify -in "$1" -noout 2>&1)
    printf '%s\n' "$out"
    [[ "$out" == *"verify OK"* ]] && [[ "$out" != *"failure"* ]]
}
# csr KEY SUBJECT_JSON [MD]
csr() {
    local md=${3:+,\"digest_algorithm\":\"$3\"}
    req_json POST "/v1/keys/$1/csr" "$TOK" "{\"subject\":$2$md}"
}
csr "$RSA" '{"CN":"Acme Release Signing","O":"Acme Corp","C":"DE","L":"Berlin"}' sha384
if check_status "CSR for the RSA key" 200; then
    jget .csr_pem >rsa.csr
    check_cmd "openssl req -verify accepts the RSA CSR" csr_verify rsa.csr
    check_eq "CSR subject" "subject=C = DE, L = Berlin, O = Acme Corp, CN = Acme Release Signing" \
        "$(openssl req -in rsa.csr -noout -subject -nameopt oneline,-esc_msb 2>&1 | sed 's/^subject= */subject=/')"
    check_eq "CSR public key is the key's" "$(openssl pkey -pubin -in "pub.$RSA.pem" -outform DER | sha256sum)" \
        "$(openssl req -in rsa.csr -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)"
    check_match "CSR signed with the requested digest" 'Signature Algorithm: sha384WithRSAEncryption' \
        "$(openssl req -in rsa.csr -noout -text)"
    # Negative: a tampered CSR must not verify.
    awk 'NR==5 { c = substr($0, 30, 1); r = (c == "A") ? "B" : "A"; $0 = substr($0, 1, 29) r substr($0, 31) } { print }' rsa.csr >rsa.bad.csr
    check_cmd_fails "a tampered CSR does not verify" csr_verify rsa.bad.csr
fi
csr "$EC" '{"CN":"Acme EC Signing","O":"Acme Corp","C":"DE"}'
if check_status "CSR for the EC key (default digest)" 200; then
    jget .csr_pem >ec.csr
    check_cmd "openssl req -verify accepts the EC CSR" csr_verify ec.csr
    check_match "EC CSR signed with ecdsa-with-SHA256" 'Signature Algorithm: ecdsa-with-SHA256' \
        "$(openssl req -in ec.csr -noout -text)"
fi
csr "$RSA" '{"CN":"x","C":"Germany"}'
check_error "CSR with a three-letter country" 400 invalid_field
csr "$RSA" '{"CN":"x","bogus":"y"}'
check_error "CSR with an unknown subject field" 400 invalid_field
csr "$RSA" '{}'
check_error "CSR with an empty subject" 400 invalid_field
csr "$RSA" '{"CN":"x"}' md5
check_error "CSR with digest md5" 400 unsupported_algorithm

# ---- no certificate yet ----
rand_file file.bin 300000
req POST "/v1/keys/$RSA/sign-file?digest_algorithm=sha256" "$TOK" \
    -H 'Content-Type: application/octet-stream' --data-binary @file.bin
check_error "sign-file before a certificate is attached" 409 no_certificate
req GET "/v1/keys/$RSA/certificate" "$TOK"
check_status "GET certificate before one is attached" 404

# ---- certificates ----
issue() { # issue CSR OUT
    openssl x509 -req -in "$1" -CA inter.pem -CAkey inter.key -CAcreateserial \
        -days 1 -out "$2" -extfile ca.ext -extensions leaf 2>/dev/null
}
issue rsa.csr rsa.leaf.pem || die "issue RSA leaf"
issue ec.csr ec.leaf.pem || die "issue EC leaf"
check_match "leaf carries extendedKeyUsage codeSigning" 'Code Signing' \
    "$(openssl x509 -in rsa.leaf.pem -noout -ext extendedKeyUsage)"
cat rsa.leaf.pem inter.pem >rsa.chain.pem
cat ec.leaf.pem inter.pem >ec.chain.pem
cat inter.pem rsa.leaf.pem >rsa.wrongorder.pem

put_cert() { # put_cert KEY FILE
    req PUT "/v1/keys/$1/certificate" "$TOK" \
        -H 'Content-Type: application/x-pem-file' --data-binary @"$2"
}
put_cert "$RSA" ec.chain.pem
check_error "PUT the EC key's certificate on the RSA key" 400 invalid_field
put_cert "$RSA" rsa.wrongorder.pem
check_error "PUT a chain with the leaf not first" 400 invalid_field
printf 'not a certificate\n' >garbage.pem
put_cert "$RSA" garbage.pem
check_error "PUT garbage as a certificate" 400 invalid_field
# The right key, a chain to no configured root.
openssl x509 -req -in rsa.csr -CA otherroot.pem -CAkey otherroot.key -CAcreateserial \
    -subj "/CN=Microsoft Corporation/O=Microsoft Corporation" -days 1 \
    -out ms.leaf.pem -extfile ca.ext -extensions leaf 2>/dev/null || die "issue ms leaf"
cat ms.leaf.pem otherroot.pem >ms.chain.pem
put_cert "$RSA" ms.chain.pem
check_error "PUT a 'Microsoft Corporation' chain to an unconfigured root" 400 invalid_field
check_match "... naming the certificate and the reason" \
    'trusted root: certificate [01] \([^)]*\): (unable to get local issuer certificate|self-signed certificate in certificate chain|self signed certificate in certificate chain)' \
    "$(jget .message)"
# The configured root, but a TLS server certificate.
printf '[tls]\nbasicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n' >tls.ext
openssl x509 -req -in rsa.csr -CA inter.pem -CAkey inter.key -CAcreateserial \
    -days 1 -out tls.leaf.pem -extfile tls.ext -extensions tls 2>/dev/null || die "issue tls leaf"
cat tls.leaf.pem inter.pem >tls.chain.pem
put_cert "$RSA" tls.chain.pem
check_error "PUT a chain whose leaf lacks codeSigning" 400 invalid_field
check_match "... naming the reason" 'certificate 0 .*codeSigning' "$(jget .message)"
req GET "/v1/keys/$RSA" "$TOK"
check_eq "refused PUTs attached nothing" null "$(jget .certificate_pem)"

put_cert "$RSA" rsa.chain.pem
if check_status "PUT the RSA key's chain" 200; then
    check_eq "answer is the key" "$RSA" "$(jget .id)"
    jget .certificate_pem >got.pem
    check_eq "attached leaf is ours (fingerprint)" \
        "$(openssl x509 -in rsa.leaf.pem -noout -fingerprint -sha256)" \
        "$(openssl x509 -in got.pem -noout -fingerprint -sha256)"
fi
req GET "/v1/keys/$RSA/certificate" "$TOK"
if check_status "GET certificate" 200; then
    jget .certificate_pem >got2.pem
    check_eq "GET certificate returns the whole chain (2 certificates)" 2 \
        "$(grep -c 'BEGIN CERTIFICATE' got2.pem)"
    check_cmd "returned chain verifies against the root" \
        openssl verify -CAfile root.pem -untrusted got2.pem got2.pem
fi
put_cert "$EC" ec.chain.pem
check_status "PUT the EC key's chain" 200

# ---- CMS checks ----
NOW=$(date +%s)
# check_p7s WHAT P7S CONTENT MD
check_p7s() {
    local what=$1 p7s=$2 content=$3 md=$4 print
    check_cmd "$what: openssl cms -verify against the root" \
        openssl cms -verify -binary -inform DER -in "$p7s" -content "$content" \
        -CAfile root.pem -purpose any -out /dev/null
    flip_byte "$content" "$content.mod" 1000
    check_cmd_fails "$what: the modified file does not verify" \
        openssl cms -verify -binary -inform DER -in "$p7s" -content "$content.mod" \
        -CAfile root.pem -purpose any -out /dev/null
    check_cmd_fails "$what: an unrelated root does not verify it" \
        openssl cms -verify -binary -inform DER -in "$p7s" -content "$content" \
        -CAfile otherroot.pem -purpose any -out /dev/null
    print=$(openssl cms -cmsout -print -inform DER -in "$p7s" 2>&1)
    check_match "$what: SignedData" 'contentType: pkcs7-signedData' "$print"
    check_match "$what: detached (no eContent)" 'eContent: <ABSENT>' "$print"
    check_match "$what: signed attribute contentType" 'object: contentType' "$print"
    check_match "$what: signed attribute messageDigest" 'object: messageDigest' "$print"
    check_match "$what: signed attribute signingTime" 'object: signingTime' "$print"
    check_match "$what: digest algorithm $md" "digestAlgorithm:[[:space:]]+algorithm: $md" "$print"
    check_eq "$what: carries leaf and intermediate" 2 \
        "$(openssl pkcs7 -inform DER -in "$p7s" -print_certs 2>/dev/null | grep -c 'BEGIN CERTIFICATE')"
    # signingTime within 5 minutes of the test's clock
    local st t
    st=$(printf '%s\n' "$print" | grep -A3 'object: signingTime' | grep -oE 'UTCTIME:[A-Za-z]+ +[0-9]+ [0-9:]+ [0-9]+ GMT' | head -1 | sed 's/UTCTIME://')
    t=$(date -d "$st" +%s 2>/dev/null || echo 0)
    check_match "$what: signingTime is now (got '$st')" '^ok$' \
        "$([ $((t - NOW)) -gt -300 ] && [ $((t - NOW)) -lt 300 ] && echo ok)"
}

# ---- sign-file over HTTP ----
for md in sha256 sha384 sha512; do
    rand_file "f.$md.bin" $((200000 + RANDOM))
    curl -sS --cacert "$SERVER_CA" -H "Authorization: Bearer $TOK" \
        -H 'Content-Type: application/octet-stream' --data-binary @"f.$md.bin" \
        -D "h.$md" -o "f.$md.p7s" -w '%{http_code}' \
        "$SERVER_URL/v1/keys/$RSA/sign-file?digest_algorithm=$md" >"s.$md"
    STATUS=$(cat "s.$md") BODY=$(head -c 400 "f.$md.p7s" | tr -d '\000')
    if check_status "sign-file $md (RSA)" 200; then
        check_match "sign-file $md: Content-Type" '[Cc]ontent-[Tt]ype: application/pkcs7-signature' "$(cat "h.$md")"
        check_p7s "sign-file $md (RSA)" "f.$md.p7s" "f.$md.bin" "$md"
    fi
done
rand_file f.ec.bin 123457
STATUS=$(curl -sS --cacert "$SERVER_CA" -H "Authorization: Bearer $TOK" \
    --data-binary @f.ec.bin -o f.ec.p7s -w '%{http_code}' \
    "$SERVER_URL/v1/keys/$EC/sign-file")
BODY=$(head -c 400 f.ec.p7s | tr -d '\000')
check_status "sign-file with the EC key (default digest)" 200 &&
    check_p7s "sign-file (EC, default sha256)" f.ec.p7s f.ec.bin sha256
# An empty file is a file too.
: >empty.bin
STATUS=$(curl -sS --cacert "$SERVER_CA" -H "Authorization: Bearer $TOK" \
    --data-binary @empty.bin -o empty.p7s -w '%{http_code}' \
    "$SERVER_URL/v1/keys/$EC/sign-file?digest_algorithm=sha256")
BODY=$(head -c 400 empty.p7s | tr -d '\000')
check_status "sign-file of an empty file" 200 &&
    check_cmd "empty file: openssl cms -verify" openssl cms -verify -binary -inform DER \
        -in empty.p7s -content empty.bin -CAfile root.pem -purpose any -out /dev/null
req POST "/v1/keys/$RSA/sign-file?digest_algorithm=sha1" "$TOK" --data-binary @file.bin
check_error "sign-file with digest sha1" 400 unsupported_algorithm

# A larger file streams through many reads on both sides.
rand_file big.bin $((24 * 1024 * 1024 + 4321))
STATUS=$(curl -sS --cacert "$SERVER_CA" -H "Authorization: Bearer $TOK" \
    --data-binary @big.bin -o big.p7s -w '%{http_code}' \
    "$SERVER_URL/v1/keys/$RSA/sign-file?digest_algorithm=sha512")
BODY=$(head -c 400 big.p7s | tr -d '\000')
check_status "sign-file of 24 MiB" 200 &&
    check_p7s "sign-file 24 MiB (sha512)" big.p7s big.bin sha512
STATUS=$(curl -sS --cacert "$SERVER_CA" -H "Authorization: Bearer $TOK" \
    -H 'Transfer-Encoding: chunked' --data-binary @big.bin -o bigc.p7s -w '%{http_code}' \
    "$SERVER_URL/v1/keys/$EC/sign-file?digest_algorithm=sha384")
BODY=$(head -c 400 bigc.p7s | tr -d '\000')
check_status "sign-file of 24 MiB, chunked" 200 &&
    check_p7s "sign-file 24 MiB chunked (sha384, EC)" bigc.p7s big.bin sha384

# ---- signet CLI: local hashing and --upload ----
if [ -x "$SIGNET" ]; then
    rand_file cli.bin 777777
    check_cmd "signet sign (local hashing)" "$SIGNET" sign --key "$RSA" cli.bin -o cli.local.p7s
    [ -s cli.local.p7s ] && check_p7s "signet sign (local hashing)" cli.local.p7s cli.bin sha256
    check_cmd "signet sign --upload" "$SIGNET" sign --key "$RSA" --upload cli.bin -o cli.upload.p7s
    [ -s cli.upload.p7s ] && check_p7s "signet sign --upload" cli.upload.p7s cli.bin sha256
    check_cmd "signet sign --digest-algorithm sha512 (EC key)" \
        "$SIGNET" sign --key "$EC" --digest-algorithm sha512 cli.bin -o cli.ec.p7s
    [ -s cli.ec.p7s ] && check_p7s "signet sign sha512 (EC)" cli.ec.p7s cli.bin sha512
    cp cli.bin cli2.bin
    check_cmd "signet sign with the default output name" "$SIGNET" sign --key "$RSA" cli2.bin
    check_cmd "default output is FILE.p7s and verifies" openssl cms -verify -binary \
        -inform DER -in cli2.bin.p7s -content cli2.bin -CAfile root.pem -purpose any -out /dev/null
else
    fail "the signet CLI is not built ($SIGNET): CLI signing modes untested"
fi

# ---- audit of file signatures ----
req GET "/v1/audit?key=$RSA&limit=1000" "$TOK"
if check_status "audit of the RSA key" 200; then
    want=$(openssl dgst -sha384 -r f.sha384.bin | cut -d' ' -f1)
    check_eq "sign_file record with the file's sha384 digest" \
        "sign_file sha384 pkcs1 ok" \
        "$(jget "[.records[] | select(.action == \"sign_file\" and .digest == \"$want\")][0] | \"\(.action) \(.digest_algorithm) \(.scheme) \(.result)\"")"
fi

check_healthy
server_stop
finish
