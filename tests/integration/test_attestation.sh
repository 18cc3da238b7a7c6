#!/usr/bin/env bash
# Key attestation, judged by openssl:
#  - `signet key attestation` gives the attestation certificate and its
#    issuer; openssl verify chains it to the attestation root fetched from
#    the public listener; its public key is the key's (API public_key_pem);
#    its profile (subject, CA:FALSE, keyUsage, no EKU, the non-critical
#    Signet extension whose booleans say local/never extractable/always
#    sensitive/not extractable/sensitive) is read with openssl;
#  - the CSR from `signet key csr` carries id-aa-attestation; the
#    attestation certificate cut out of it with openssl asn1parse is the
#    same certificate;
#  - `signet attestation verify --oid-arc ARC --root` accepts both forms and rejects a
#    wrong root (same name, other key), a tampered signature, a CSR for
#    which the attribute was altered;
#  - access: another subscriber gets 404, a sign-only token may read it.
. "$(dirname "$0")/lib.sh"

cd "$WORK" || die "no work directory"
server_start
A=$(new_subscriber acme) || exit 1
B=$(new_subscriber bravo) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1
KEC=$(new_key "$TA" ecdsa-p256 "ec") || exit 1
KRSA=$(new_key "$TA" rsa-3072 "rsa") || exit 1
TS=$(new_token "$A" "\"roles\":[\"sign\"],\"keys\":[\"$KEC\"]") || exit 1
EXT_OID=$TEST_OID_ARC.1.1
STMT_OID=$TEST_OID_ARC.1.2
ATT_ATTR=1.2.840.113549.1.9.16.2.59
export SIGNET_TOKEN=$TA

fpr() { openssl x509 -in "$1" -inform "${2:-PEM}" -noout -fingerprint -sha256 2>&1; }
spki_hash() { openssl pkey -pubin -in "$1" -outform DER 2>/dev/null | sha256sum; }

curl -sS --max-time 10 -o attest-root.der "$PUBLIC_URL/ca/attest-root.cer" || die "GET attest-root.cer"
openssl x509 -inform DER -in attest-root.der -out attest-root.pem 2>/dev/null || die "attest-root.cer is not DER"
curl -sS --max-time 10 -o attest-issuer.der "$PUBLIC_URL/ca/attest-issuer.cer" || die "GET attest-issuer.cer"
openssl x509 -inform DER -in attest-issuer.der -out attest-issuer.pem 2>/dev/null || die "attest-issuer.cer"

# A wrong root: same subject name as the real one, another P-384 key.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout fake.key \
    -out fake-root.pem -days 2 -subj "$(openssl x509 -in attest-root.pem -noout -subject -nameopt compat | sed 's/^subject=//')" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null ||
    die "fake root"
check_eq "the fake root has the real root's name" \
    "$(openssl x509 -in attest-root.pem -noout -subject)" "$(openssl x509 -in fake-root.pem -noout -subject)"

for K in "$KEC" "$KRSA"; do
    # ---- the bundle ----
    if ! check_cmd "signet key attestation $K -o" "$SIGNET" key attestation "$K" -o "att.$K.pem"; then
        continue
    fi
    check_eq "$K: bundle holds two certificates" 2 "$(grep -c 'BEGIN CERTIFICATE' "att.$K.pem")"
    openssl x509 -in "att.$K.pem" -out "cert.$K.pem"
    sed -n '/END CERTIFICATE/,$p' "att.$K.pem" | sed 1d >"iss.$K.pem"
    check_eq "$K: second certificate is the attestation issuer" "$(fpr attest-issuer.pem)" "$(fpr "iss.$K.pem")"
    check_cmd "$K: openssl verify -CAfile attest-root -untrusted bundle" \
        openssl verify -x509_strict -CAfile attest-root.pem -untrusted "att.$K.pem" "att.$K.pem"
    # It never outlives its issuer: notAfter no later than the issuer's
    # (read by openssl x509 -enddate).
    END_AT=$(date -d "$(openssl x509 -in "cert.$K.pem" -noout -enddate | cut -d= -f2)" +%s)
    END_ISS=$(date -d "$(openssl x509 -in "iss.$K.pem" -noout -enddate | cut -d= -f2)" +%s)
    check_cmd "$K: notAfter ($END_AT) no later than the attestation issuer's ($END_ISS)" \
        test "$END_AT" -le "$END_ISS"
    check_cmd_fails "$K: openssl verify with a wrong root of the same name" \
        openssl verify -CAfile fake-root.pem -untrusted "att.$K.pem" "att.$K.pem"
    check_eq "$K: attested public key = the API's public_key_pem" "$(spki_hash "pub.$K.pem")" \
        "$(openssl x509 -in "cert.$K.pem" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)"
    # ---- profile of the attestation certificate ----
    text=$(openssl x509 -in "cert.$K.pem" -noout -text 2>&1)
    check_eq "$K: subject names the key" "subject=CN = Signet attested key $K" \
        "$(openssl x509 -in "cert.$K.pem" -noout -subject | sed 's/^subject= */subject=/')"
    check_eq "$K: basicConstraints critical CA:FALSE" "X509v3 Basic Constraints: critical CA:FALSE " \
        "$(openssl x509 -in "cert.$K.pem" -noout -ext basicConstraints | tr -s ' \n' ' ')"
    check_eq "$K: keyUsage critical digitalSignature" "X509v3 Key Usage: critical Digital Signature " \
        "$(openssl x509 -in "cert.$K.pem" -noout -ext keyUsage | tr -s ' \n' ' ')"
    check_nomatch "$K: no extendedKeyUsage" 'Extended Key Usage' "$text"
    check_match "$K: Signet attestation extension, not critical" "$EXT_OID: *"$'\n' "$text"
    # The extension's booleans (local, neverExtractable, alwaysSensitive,
    # extractable, sensitive) read with asn1parse -strparse.
    off=$(openssl asn1parse -in "cert.$K.pem" | grep -A1 "OBJECT *:$EXT_OID" | tail -1 | sed -E 's/^ *([0-9]+):.*/\1/')
    facts=$(openssl asn1parse -in "cert.$K.pem" -strparse "$off" 2>&1)
    check_eq "$K: extension booleans 255 255 255 0 255" "255 255 255 0 255" \
        "$(grep -oE 'BOOLEAN +:[0-9]+' <<<"$facts" | sed 's/.*://' | tr '\n' ' ' | sed 's/ $//')"
    check_match "$K: extension names the subscriber and the key" "UTF8STRING +:$A.*UTF8STRING +:$K" \
        "$(tr '\n' ' ' <<<"$facts")"
    check_match "$K: extension version 1" 'prim: INTEGER +:01 *$' "$(sed -n 2p <<<"$facts")"
    # ---- signet attestation verify on the bundle ----
    out=$("$SIGNET" attestation verify --oid-arc "$TEST_OID_ARC" --root attest-root.pem "att.$K.pem" 2>&1)
    check_match "$K: signet attestation verify (bundle): OK" 'attestation: OK' "$out"
    check_match "$K: verify prints the key id" "key id: +$K" "$out"
    check_match "$K: verify prints the protection facts" \
        'local=yes never_extractable=yes always_sensitive=yes extractable=no sensitive=yes' "$out"
    out=$("$SIGNET" --json attestation verify --oid-arc "$TEST_OID_ARC" --root attest-root.pem "att.$K.pem" 2>&1)
    req GET "/v1/keys/$K" "$TA"
    check_eq "$K: --json facts = the key's facts from the API" \
        "$(jget '"\(.subscriber) \(.id) \(.hsm.manufacturer) \(.hsm.serial) \(.hsm.token_label) \(.protection | [.local, .never_extractable, .always_sensitive, .extractable, .sensitive])"')" \
        "$(jget '"\(.subscriber) \(.key_id) \(.hsm.manufacturer) \(.hsm.serial) \(.hsm.token_label) \(.protection | [.local, .never_extractable, .always_sensitive, .extractable, .sensitive])"' "$out")"
    check_cmd_fails "$K: signet attestation verify with the wrong root" \
        "$SIGNET" attestation verify --oid-arc "$TEST_OID_ARC" --root fake-root.pem "att.$K.pem"
    # Tampered: one bit of the signature (the last byte of the DER).
    openssl x509 -in "cert.$K.pem" -outform DER -out "cert.$K.der"
    flip_byte "cert.$K.der" "bad.$K.der" $(($(stat -c %s "cert.$K.der") - 3))
    openssl x509 -inform DER -in "bad.$K.der" -out "bad.$K.pem" 2>/dev/null || die "re-encode tampered cert"
    cat "bad.$K.pem" "iss.$K.pem" >"badatt.$K.pem"
    check_cmd_fails "$K: openssl verify rejects a tampered signature" \
        openssl verify -CAfile attest-root.pem -untrusted "badatt.$K.pem" "badatt.$K.pem"
    out=$("$SIGNET" attestation verify --oid-arc "$TEST_OID_ARC" --root attest-root.pem "badatt.$K.pem" 2>&1)
    check_eq "$K: signet attestation verify rejects a tampered signature (exit)" 1 "$?"
    check_match "$K: ... saying why" 'attestation verification failed: attestation chain does not lead to a trusted root' "$out"

    # ---- the CSR ----
    if ! check_cmd "$K: signet key csr" "$SIGNET" key csr "$K" \
        --subject "/CN=Acme Signing/O=Acme Corp/C=DE/ST=Berlin" -o "req.$K.csr"; then
        continue
    fi
    check_match "$K: openssl req -verify" 'verify OK' "$(openssl req -in "req.$K.csr" -noout -verify 2>&1)"
    openssl req -in "req.$K.csr" -outform DER -out "req.$K.der"
    parse=$(openssl asn1parse -inform DER -in "req.$K.der" 2>&1)
    check_match "$K: CSR carries id-aa-attestation ($ATT_ATTR)" "OBJECT +:$ATT_ATTR" "$parse"
    check_match "$K: CSR carries the certificate statement type" "OBJECT +:$STMT_OID" "$parse"
    # Cut out the SEQUENCE right after the statement OID: the certificate.
    line=$(grep -A1 "OBJECT *:$STMT_OID" <<<"$parse" | tail -1)
    o=$(sed -E 's/^ *([0-9]+):.*/\1/' <<<"$line")
    hl=$(sed -E 's/.*hl= *([0-9]+).*/\1/' <<<"$line")
    l=$(sed -E 's/.* l= *([0-9]+).*/\1/' <<<"$line")
    dd if="req.$K.der" of="csratt.$K.der" bs=1 skip="$o" count=$((hl + l)) status=none
    check_eq "$K: the attestation in the CSR is the key's attestation certificate" \
        "$(fpr "cert.$K.pem")" "$(fpr "csratt.$K.der" DER)"
    check_eq "$K: CSR public key = the API's public_key_pem" "$(spki_hash "pub.$K.pem")" \
        "$(openssl req -in "req.$K.csr" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)"
    out=$("$SIGNET" attestation verify --oid-arc "$TEST_OID_ARC" --root attest-root.pem "req.$K.csr" 2>&1)
    check_match "$K: signet attestation verify (CSR): OK" 'attestation: OK' "$out"
    check_match "$K: verify (CSR) prints the subscriber" "subscriber: +$A" "$out"
    check_cmd_fails "$K: signet attestation verify (CSR) with the wrong root" \
        "$SIGNET" attestation verify --oid-arc "$TEST_OID_ARC" --root fake-root.pem "req.$K.csr"
    # Altering one byte inside the attestation breaks the CSR's signature.
    flip_byte "req.$K.der" "reqbad.$K.der" $((o + hl + 40))
    { echo '-----BEGIN CERTIFICATE REQUEST-----'; base64 -w64 "reqbad.$K.der"; echo '-----END CERTIFICATE REQUEST-----'; } >"reqbad.$K.csr"
    check_cmd_fails "$K: signet attestation verify rejects an altered CSR" \
        "$SIGNET" attestation verify --oid-arc "$TEST_OID_ARC" --root attest-root.pem "reqbad.$K.csr"
done

# A CSR made by openssl with a throwaway key has no attestation.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout t.key \
    -subj "/CN=x/O=y/C=DE/ST=z" -out plain.csr 2>/dev/null || die "plain CSR"
out=$("$SIGNET" attestation verify --oid-arc "$TEST_OID_ARC" --root attest-root.pem plain.csr 2>&1)
check_match "a CSR without attestation is refused" 'no attestation attribute in the CSR' "$out"

# ---- access ----
req GET "/v1/keys/$KEC/attestation" "$TB"
check_error "another subscriber's attestation" 404 not_found
req GET "/v1/keys/$KEC/attestation" "$TS"
check_status "a sign-only token may read its key's attestation" 200
check_eq "the answer is the same bundle" "$(fpr "cert.$KEC.pem")" "$(printf '%s' "$BODY" | openssl x509 -noout -fingerprint -sha256 2>&1)"
req GET "/v1/keys/$KRSA/attestation" "$TS"
check_error "a token scoped to another key" 403 forbidden

check_healthy
server_stop
finish
