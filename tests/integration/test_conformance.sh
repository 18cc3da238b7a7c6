#!/usr/bin/env bash
# The conformance checklist (issue 12): every artifact others must trust
# - the CA certificates, a code signing and an EV code signing
# certificate, the TSA certificate as a time-stamp carries it, both CRLs
# and OCSP answers (good, revoked, unknown) - fetched the way a relying
# party fetches them, then judged twice:
#  - by OpenSSL (openssl verify -x509_strict, crl, ocsp, ts -verify);
#  - by pyca/cryptography through conformance.py, a checklist of the
#    CSBR and RFC 5280/6960 rules written for this test (version, serial
#    size, validity counted inclusively and inside the issuer's, one
#    attribute per RDN with canonical string types, assigned country codes,
#    key usages, EKUs, policies, AKI/SKI, CRL and OCSP freshness, no CA
#    certificate embedded in OCSP answers).
# Each pyca verdict is one check here.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
$PY -c 'import cryptography' 2>/dev/null || die "no python3-cryptography"
cd "$WORK" || die "no work directory"
A=art
mkdir -p "$A"
server_start

# ---- the CA certificates, from the public listener ----
fetch_ca_certs "$A" root codesigning timestamping attest-root attest-issuer
check_cmd "openssl: issuing CAs verify to the root (x509_strict)" \
    openssl verify -x509_strict -CAfile "$A/root.pem" "$A/codesigning.pem" "$A/timestamping.pem"
check_cmd "openssl: the attestation issuer verifies to its root" \
    openssl verify -x509_strict -CAfile "$A/attest-root.pem" "$A/attest-issuer.pem"

# ---- a subscriber with a verified identity (EV fields too) ----
S=$(new_subscriber conformance) || exit 1
T=$(new_token "$S" '"roles":["manage","sign"]') || exit 1
req_json PUT "/v1/subscribers/$S/identity" "$ADMIN" \
    '{"O":"Conformance Test GmbH","C":"DE","ST":"Berlin","L":"Berlin","serialNumber":"HRB 4711","businessCategory":"Private Organization","jurisdictionC":"DE"}'
check_status "identity recorded" 200 || die "identity: $BODY"

# issue KEY SUBJECT_JSON EXTRA_JSON OUT: a CSR made by the service for KEY,
# sent to the CA; the certificate into OUT.
issue() {
    req_json POST "/v1/keys/$1/csr" "$T" "{\"subject\":$2}"
    [ "$STATUS" = 200 ] || die "CSR for $1: HTTP $STATUS $BODY"
    jget .csr_pem >"$4.csr"
    jq -n --rawfile c "$4.csr" "{csr_pem: \$c} + $3" >"$4.json"
    req POST /v1/ca/certificates "$T" -H 'Content-Type: application/json' \
        --data-binary @"$4.json"
    check_status "issued: $4" 201 || die "issuance of $4: $BODY"
    jget .certificate_pem >"$4"
}
K1=$(new_key "$T" rsa-3072 "leaf") || exit 1
K2=$(new_key "$T" ecdsa-p256 "ev") || exit 1
K3=$(new_key "$T" ecdsa-p256 "to revoke") || exit 1
ID='"CN":"Conformance Test GmbH","O":"Conformance Test GmbH","C":"DE","ST":"Berlin","L":"Berlin"'
EVID=$ID',"serialNumber":"HRB 4711","businessCategory":"Private Organization","jurisdictionC":"DE"'
issue "$K1" "{$ID}" '{}' "$A/leaf.pem"
issue "$K2" "{$EVID}" '{"profile":"ev-code-signing"}' "$A/ev.pem"
issue "$K3" "{$ID}" '{}' revoked.pem
for c in leaf ev; do
    check_cmd "openssl: $c verifies to the root (x509_strict)" \
        openssl verify -x509_strict -CAfile "$A/root.pem" \
        -untrusted "$A/codesigning.pem" "$A/$c.pem"
done
RSERIAL=$(openssl x509 -in revoked.pem -noout -serial | sed 's/^serial=//')
req_json POST "/v1/ca/certificates/$RSERIAL/revoke" "$T" '{"reason":"keyCompromise"}'
check_status "the third certificate revoked (keyCompromise)" 200
echo "revoked $RSERIAL" >"$A/serials.txt"

# ---- the TSA certificate, as a time-stamp carries it ----
head -c 1000 /dev/urandom >data.bin
openssl ts -query -data data.bin -sha256 -cert -out q.tsq 2>/dev/null || die "ts -query"
code=$(curl -sS --max-time 30 -o r.tsr -w '%{http_code}' \
    -H 'Content-Type: application/timestamp-query' --data-binary @q.tsq "$PUBLIC_URL/tsa")
check_eq "POST /tsa" 200 "$code"
check_match "openssl ts -verify to the root" 'Verification: OK' \
    "$(openssl ts -verify -in r.tsr -queryfile q.tsq -CAfile "$A/root.pem" \
        -untrusted "$A/timestamping.pem" 2>&1)"
tsr_text=$(openssl ts -reply -in r.tsr -text 2>&1 | tr -s '\n ' ' ')
check_match "openssl: the token is granted under policy 2.23.140.1.4.2" \
    'Status: Granted\..*Policy OID: 2.23.140.1.4.2 ' "$tsr_text"
nonce=$(openssl ts -query -in q.tsq -text 2>/dev/null | sed -n 's/^Nonce: 0x//p')
[ -n "$nonce" ] || die "the query has no nonce"
check_match "openssl: the token echoes the query's nonce" "Nonce: 0x$nonce " "$tsr_text"
openssl ts -reply -in r.tsr -token_out -out "$A/token.der" 2>/dev/null || die "ts -token_out"
openssl pkcs7 -inform DER -in "$A/token.der" -print_certs -out tsa-certs.pem 2>/dev/null ||
    die "no certificates in the time-stamp token"
# The signer's certificate: the one whose EKU is timeStamping and not a CA.
awk '/-----BEGIN CERTIFICATE-----/{n++} {print > ("tsacert." n ".pem")}' tsa-certs.pem
for f in tsacert.*.pem; do
    if ! openssl x509 -in "$f" -noout -ext basicConstraints 2>/dev/null | grep -q 'CA:TRUE'; then
        openssl x509 -in "$f" -out "$A/tsa.pem" 2>/dev/null
    fi
done
[ -s "$A/tsa.pem" ] || die "no TSA certificate in the token"
check_cmd "openssl: the TSA certificate verifies to the root (purpose timestampsign)" \
    openssl verify -x509_strict -purpose timestampsign -CAfile "$A/root.pem" \
    -untrusted "$A/timestamping.pem" "$A/tsa.pem"

# ---- CRLs ----
for ca in codesigning timestamping; do
    curl -sS --max-time 10 -o "$A/$ca.crl" "$PUBLIC_URL/ca/crl/$ca" || die "GET /ca/crl/$ca"
    check_cmd "openssl: the $ca CRL verifies" \
        openssl crl -inform DER -in "$A/$ca.crl" -CAfile "$A/$ca.pem" -noout
done
check_match "openssl: the code signing CRL lists the revoked serial" \
    "Serial Number: $RSERIAL" "$(openssl crl -inform DER -in "$A/codesigning.crl" -noout -text)"

# ---- OCSP: good, revoked, unknown ----
# ocsp NAME ARGS...: a request for ARGS POSTed to /ca/ocsp; the answer in
# $A/ocsp-NAME.der, openssl's reading of it printed.
ocsp() {
    local name=$1
    shift
    openssl ocsp -issuer "$A/codesigning.pem" "$@" -reqout "ocsp-$name.req" >/dev/null 2>&1 ||
        die "OCSP request $name"
    curl -sS --max-time 10 -o "$A/ocsp-$name.der" \
        -H 'Content-Type: application/ocsp-request' \
        --data-binary @"ocsp-$name.req" "$PUBLIC_URL/ca/ocsp" || die "POST /ca/ocsp"
    openssl ocsp -reqin "ocsp-$name.req" -respin "$A/ocsp-$name.der" \
        -CAfile "$A/root.pem" -verify_other "$A/codesigning.pem" -resp_text \
        2>"ocsp-$name.err" | tr -s '\n ' ' '
    tr '\n' ' ' <"ocsp-$name.err"
}
check_match "openssl ocsp: the leaf is good, the answer verifies" \
    'Cert Status: good.*Response verify OK' "$(ocsp good -cert "$A/leaf.pem")"
check_match "openssl ocsp: the revoked certificate is revoked (keyCompromise)" \
    'Cert Status: revoked.*Revocation Reason: keyCompromise.*Response verify OK' \
    "$(ocsp revoked -cert revoked.pem)"
check_match "openssl ocsp: a serial never issued is unknown" \
    'Cert Status: unknown.*Response verify OK' \
    "$(ocsp unknown -serial "0x$(openssl rand -hex 16)")"

# ---- the checklist, by pyca/cryptography ----
# A certificate whose encoding pyca refuses is itself a failure; a
# checklist that ran nothing is one too.
$PY "$(dirname "$0")/conformance.py" "$A" >pyca.out 2>&1
rc=$?
n=0
while IFS= read -r line; do
    case $line in
    "ok: "*) CHECKS=$((CHECKS + 1)) n=$((n + 1)) && pass "pyca: ${line#ok: }" ;;
    "FAIL: "*) CHECKS=$((CHECKS + 1)) n=$((n + 1)) && fail "pyca: ${line#FAIL: }" ;;
    esac
done <pyca.out
check_eq "conformance.py ran to its end" "0 failed" "$(tail -n 1 pyca.out)"
check_eq "conformance.py exit status" 0 "$rc"
check_cmd "conformance.py made at least 150 checks ($n)" test "$n" -ge 150

check_healthy "the checklist"
server_stop
finish
