#!/usr/bin/env bash
# The CA role, judged by openssl alone:
#  - issuing CAs (root RSA-4096; code signing CA: EKU codeSigning and not
#    timeStamping; timestamping CA the reverse) from the public listener;
#  - issuance through `signet key certify` and through raw HTTP, every
#    field of the CSBR code signing profile (EV too) checked with openssl
#    x509, the chain with openssl verify, a signature with openssl cms;
#  - revocation: back-dated keyCompromise in the CRL (revocation date,
#    reason, invalidity date, CRL number, nextUpdate) and in OCSP (POST and
#    GET, revoked/good/unknown, nonce), the date moved later, certificateHold
#    refused, no re-issuance for a compromised key, other subscribers (404)
#    and sign-only tokens (403) refused;
#  - refusals: each one a 4xx naming the rule, a ca_refuse audit record,
#    and no ca_issue record. CSRs the API will not make (DC, two CNs,
#    another key's attestation) are built here byte by byte and signed with
#    the subscriber key through /sign; a positive control shows the
#    builder makes CSRs the CA accepts.
. "$(dirname "$0")/lib.sh"

cd "$WORK" || die "no work directory"
server_start
A=$(new_subscriber acme) || exit 1
B=$(new_subscriber bravo) || exit 1
C=$(new_subscriber charlie) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1
TC=$(new_token "$C" '"roles":["manage","sign"]') || exit 1
TS=$(new_token "$A" '"roles":["sign"]') || exit 1
K1=$(new_key "$TA" rsa-3072 "cli certified") || exit 1
K2=$(new_key "$TA" ecdsa-p256 "curl certified") || exit 1
KR=$(new_key "$TA" rsa-3072 "hand-built CSRs") || exit 1
KB=$(new_key "$TB" rsa-3072 "bravo") || exit 1
KC=$(new_key "$TC" ecdsa-p256 "charlie") || exit 1
CS_OID=$TEST_OID_ARC.3.1
KP_OID=$TEST_OID_ARC.2.1
TEST_POLICY=2.23.140.2.1 # SoftHSM2 is uncertified: test certificates
# CN is the recorded assumed name; the CA writes the rest from the identity.
SUBJ='/CN=Acme Tools/O=Acme Corp/C=DE/ST=Berlin/L=Berlin'
SUBJ_ONELINE='C = DE, ST = Berlin, L = Berlin, O = Acme Corp, CN = Acme Tools'
J=(-H 'Content-Type: application/json')

# epoch SECONDS of an openssl-printed time ("Nov 22 05:37:43 2026 GMT")
epoch() { date -u -d "$1" +%s 2>/dev/null || echo "unparsable: $1"; }
rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
fpr() { openssl x509 -in "$1" -noout -fingerprint -sha256 2>&1; }

# ---- the CA certificates, from the public plain-HTTP listener ----
fetch_ca_certs . root codesigning timestamping attest-root attest-issuer
cat codesigning.pem root.pem >cs-chain.pem
curl -sS --max-time 10 -o certs.pem "$PUBLIC_URL/ca/certs.pem" || die "certs.pem"
check_eq "certs.pem holds five certificates" 5 "$(grep -c 'BEGIN CERTIFICATE' certs.pem)"
check_eq "certs.pem starts with the root" "$(fpr root.pem)" "$(fpr certs.pem)"
if check_cmd "signet ca roots -o (HTTPS API, no token)" \
    env -u SIGNET_TOKEN "$SIGNET" ca roots -o roots-cli.pem; then
    check_eq "signet ca roots: the same five certificates" \
        "$(openssl crl2pkcs7 -nocrl -certfile certs.pem | openssl pkcs7 -print_certs | sha256sum)" \
        "$(openssl crl2pkcs7 -nocrl -certfile roots-cli.pem | openssl pkcs7 -print_certs | sha256sum)"
fi
check_match "root is RSA 4096" 'Public-Key: \(4096 bit\)' "$(openssl x509 -in root.pem -noout -text)"
check_cmd "code signing CA chains to the root" openssl verify -CAfile root.pem codesigning.pem
check_cmd "timestamping CA chains to the root" openssl verify -CAfile root.pem timestamping.pem
for ca in codesigning timestamping; do
    check_match "$ca CA is RSA 4096" 'Public-Key: \(4096 bit\)' "$(openssl x509 -in $ca.pem -noout -text)"
done
eku_cs=$(openssl x509 -in codesigning.pem -noout -ext extendedKeyUsage 2>&1 | tail -n +2 | tr -d ' ')
eku_ts=$(openssl x509 -in timestamping.pem -noout -ext extendedKeyUsage 2>&1 | tail -n +2 | tr -d ' ')
check_match "code signing CA: EKU codeSigning" 'CodeSigning' "$eku_cs"
check_nomatch "code signing CA: no timeStamping" 'TimeStamping' "$eku_cs"
check_match "timestamping CA: EKU timeStamping" 'TimeStamping' "$eku_ts"
check_nomatch "timestamping CA: no codeSigning" 'CodeSigning' "$eku_ts"
# CSBR 7.1.6.3: the CA/Browser Forum reserved policy OIDs, not anyPolicy.
pol() { openssl x509 -in "$1" -noout -ext certificatePolicies 2>&1 | grep -oE 'Policy: [0-9A-Za-z. ]+' | sort | tr '\n' ';'; }
check_eq "code signing CA: policies 2.23.140.1.3 and 2.23.140.1.4.1 only" \
    "Policy: 2.23.140.1.3;Policy: 2.23.140.1.4.1;" "$(pol codesigning.pem)"
check_eq "timestamping CA: policy 2.23.140.1.4.2 only" \
    "Policy: 2.23.140.1.4.2;" "$(pol timestamping.pem)"
for ca in root codesigning timestamping; do
    check_nomatch "$ca CA: no anyPolicy" 'X509v3 Any Policy|2\.5\.29\.32\.0' \
        "$(openssl x509 -in $ca.pem -noout -text)"
    nb=$(epoch "$(openssl x509 -in $ca.pem -noout -startdate | cut -d= -f2)")
    na=$(epoch "$(openssl x509 -in $ca.pem -noout -enddate | cut -d= -f2)")
    check_eq "$ca CA: validity counted inclusively (ends on a :59 second)" 86399 $(((na - nb) % 86400))
done

# ---- audit helpers: refusals and issuances of subscriber A ----
audit_count() { # TOKEN ACTION
    req GET "/v1/audit?limit=1000" "$1"
    jget "[.records[] | select(.action == \"$2\")] | length"
}
last_refusal() { # TOKEN
    req GET "/v1/audit?limit=1000" "$1"
    jget '[.records[] | select(.action == "ca_refuse")] | last | .detail'
}
# issue_body CSR_FILE [EXTRA_JSON]
issue_body() { jq -n --rawfile c "$1" "{csr_pem: \$c} + ${2:-{\}}"; }
# refusal WHAT STATUS CODE MSG_REGEX BODY_FILE [TOKEN]
refusal() {
    local what=$1 tok=${6:-$TA} issued refused msg
    issued=$(audit_count "$tok" ca_issue)
    refused=$(audit_count "$tok" ca_refuse)
    req POST /v1/ca/certificates "$tok" "${J[@]}" --data-binary @"$5"
    check_error "$what" "$2" "$3"
    msg=$(jget .message)
    log "$what: \"$msg\""
    check_match "$what: the message names the rule" "$4" "$msg"
    check_eq "$what: one more ca_refuse record" $((refused + 1)) "$(audit_count "$tok" ca_refuse)"
    check_eq "$what: the ca_refuse record names the rule" "$msg" "$(last_refusal "$tok")"
    check_eq "$what: nothing issued (no new ca_issue record)" "$issued" "$(audit_count "$tok" ca_issue)"
}
# api_csr TOKEN KEY SUBJECT_JSON OUT: a CSR made by the server
api_csr() {
    req_json POST "/v1/keys/$2/csr" "$1" "{\"subject\":$3}"
    [ "$STATUS" = 200 ] || die "CSR for $2: HTTP $STATUS $BODY"
    jget .csr_pem >"$4"
}

# ---- no identity recorded yet ----
api_csr "$TC" "$KC" '{"CN":"Charlie Signing","O":"Charlie Ltd","C":"GB","L":"London"}' charlie.csr
issue_body charlie.csr >b.json
refusal "issuance without a recorded identity" 409 conflict 'identity' b.json "$TC"

# ---- the RA step through the CLI ----
req_json PUT "/v1/subscribers/$A/identity" "$TA" '{"O":"Acme Corp","C":"DE","L":"Berlin"}'
check_error "a subscriber token cannot record its own identity" 403 forbidden
out=$("$SIGNET" --token "$ADMIN" --json subscriber identity "$A" --O "Acme Corp" --assumed-name "Acme Tools" --C DE \
    --ST Berlin --L Berlin --serial-number "HRB 12345" \
    --business-category "Private Organization" --jurisdiction-C DE 2>&1)
check_eq "signet subscriber identity records the identity" \
    "$A|Acme Corp|DE|Berlin|Berlin|HRB 12345|Private Organization|DE" \
    "$(jget '"\(.subscriber)|\(.identity.O)|\(.identity.C)|\(.identity.ST)|\(.identity.L)|\(.identity.serialNumber)|\(.identity.businessCategory)|\(.identity.jurisdictionC)"' "$out")"
"$SIGNET" --token "$ADMIN" subscriber identity "$B" --O "Bravo GmbH" --C DE --L Hamburg >/dev/null 2>&1 ||
    die "identity of B"

# ---- profile checks ----
# check_leaf WHAT LEAF DAYS PROFILE SUBJECT_ONELINE
check_leaf() {
    local what=$1 leaf=$2 days=$3 profile=$4 subj=$5 text v nb na ser bits
    text=$(openssl x509 -in "$leaf" -noout -text 2>&1)
    check_cmd "$what: openssl verify (root, code signing CA)" \
        openssl verify -CAfile root.pem -untrusted codesigning.pem "$leaf"
    check_eq "$what: subject as requested" "subject=$subj" \
        "$(openssl x509 -in "$leaf" -noout -subject -nameopt oneline,-esc_msb | sed 's/^subject= */subject=/')"
    check_eq "$what: issuer is the code signing CA" \
        "$(openssl x509 -in codesigning.pem -noout -subject | sed 's/^subject/x/')" \
        "$(openssl x509 -in "$leaf" -noout -issuer | sed 's/^issuer/x/')"
    v=$(openssl x509 -in "$leaf" -noout -ext extendedKeyUsage 2>&1 | tail -n +2 | sed 's/^ *//')
    check_eq "$what: EKU is codeSigning only" "Code Signing" "$v"
    v=$(openssl x509 -in "$leaf" -noout -ext keyUsage 2>&1 | tr -s ' \n' ' ')
    check_eq "$what: keyUsage critical, digitalSignature only" \
        "X509v3 Key Usage: critical Digital Signature " "$v"
    v=$(openssl x509 -in "$leaf" -noout -ext basicConstraints 2>&1 | tr -s ' \n' ' ')
    check_nomatch "$what: not a CA" 'CA:TRUE' "$v"
    v=$(openssl x509 -in "$leaf" -noout -ext certificatePolicies 2>&1 | grep -oE 'Policy: [0-9.]+' | sort | tr '\n' ' ')
    if [ "$profile" = ev ]; then
        check_eq "$what: policies EV + Signet + test" "Policy: $CS_OID Policy: 2.23.140.1.3 Policy: $TEST_POLICY " "$v"
    else
        check_eq "$what: policies non-EV + Signet + test" "Policy: $CS_OID Policy: 2.23.140.1.4.1 Policy: $TEST_POLICY " "$v"
    fi
    v=$(openssl x509 -in "$leaf" -noout -ext crlDistributionPoints 2>&1 | grep -oE 'URI:.*')
    check_match "$what: CRL DP over HTTP" '^URI:http://[^ ]+/ca/crl/codesigning$' "$v"
    v=$(openssl x509 -in "$leaf" -noout -ext authorityInfoAccess 2>&1)
    check_match "$what: AIA caIssuers over HTTP" 'CA Issuers - URI:http://[^ ]+/ca/codesigning\.cer' "$v"
    check_match "$what: AIA OCSP over HTTP" 'OCSP - URI:http://[^ ]+/ca/ocsp' "$v"
    check_eq "$what: AKI = the code signing CA's SKI" \
        "$(openssl x509 -in codesigning.pem -noout -ext subjectKeyIdentifier | grep -oE '([0-9A-F]{2}:)+[0-9A-F]{2}')" \
        "$(openssl x509 -in "$leaf" -noout -ext authorityKeyIdentifier | grep -oE '([0-9A-F]{2}:)+[0-9A-F]{2}')"
    check_match "$what: SKI present" '([0-9A-F]{2}:){19}[0-9A-F]{2}' \
        "$(openssl x509 -in "$leaf" -noout -ext subjectKeyIdentifier 2>&1)"
    # The serial as DER encodes it: positive, at least 64 bits.
    ser=$(openssl asn1parse -in "$leaf" | grep ':d=2 ' | grep -m1 'prim: INTEGER' | sed 's/.*INTEGER *://')
    check_match "$what: serial positive (DER INTEGER $ser)" '^[0-9A-F]+$' "$ser"
    ser=$(sed 's/^0*//' <<<"$ser")
    bits=$(( (${#ser} - 1) * 4 ))
    case ${ser:0:1} in 1) bits=$((bits + 1)) ;; [23]) bits=$((bits + 2)) ;; [4-7]) bits=$((bits + 3)) ;; *) bits=$((bits + 4)) ;; esac
    check_match "$what: serial has >= 64 bits (has $bits)" '^ok$' "$([ "$bits" -ge 64 ] && echo ok)"
    nb=$(epoch "$(openssl x509 -in "$leaf" -noout -startdate | cut -d= -f2)")
    na=$(epoch "$(openssl x509 -in "$leaf" -noout -enddate | cut -d= -f2)")
    # Counted inclusively (CSBR 6.3.2, RFC 5280 4.1.2.5): N days end 1 s
    # before N * 86400 s have passed.
    check_eq "$what: validity is the $days days requested, inclusive (seconds)" $((days * 86400 - 1)) $((na - nb))
    check_match "$what: validity <= 460 days" '^ok$' "$([ $((na - nb)) -le $((460 * 86400)) ] && echo ok)"
    check_match "$what: notBefore is now" '^ok$' "$([ $((nb - $(date +%s))) -lt 120 ] && [ $(($(date +%s) - nb)) -lt 600 ] && echo ok)"
    check_match "$what: signed sha256WithRSAEncryption" 'Signature Algorithm: sha256WithRSAEncryption' "$text"
    check_match "$what: key protection extension present, not critical" \
        "$KP_OID: *"$'\n' "$text"
}

# ---- issuance through the CLI ----
if check_cmd "signet key certify (CLI)" "$SIGNET" --token "$TA" key certify "$K1" \
    --subject "$SUBJ" --days 90 -o k1.chain.pem; then
    check_eq "CLI chain: leaf + issuing CA" 2 "$(grep -c 'BEGIN CERTIFICATE' k1.chain.pem)"
    openssl x509 -in k1.chain.pem -out k1.leaf.pem
    sed -n '/END CERTIFICATE/,$p' k1.chain.pem | sed '1d' >k1.issuer.pem
    check_eq "CLI chain: second is the code signing CA" "$(fpr codesigning.pem)" "$(fpr k1.issuer.pem)"
    check_leaf "CLI leaf" k1.leaf.pem 90 cs "$SUBJ_ONELINE"
    check_eq "CLI leaf: the key's public key" \
        "$(openssl pkey -pubin -in "pub.$K1.pem" -outform DER | sha256sum)" \
        "$(openssl x509 -in k1.leaf.pem -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum)"
    req GET "/v1/keys/$K1/certificate" "$TA"
    check_eq "CLI: the chain is attached to the key" "$(fpr k1.leaf.pem)" \
        "$(jget .certificate_pem | openssl x509 -noout -fingerprint -sha256 2>&1)"
else
    die "no certificate from the CLI: nothing else can be checked"
fi
S1=$(openssl x509 -in k1.leaf.pem -noout -serial | cut -d= -f2)
NB1=$(epoch "$(openssl x509 -in k1.leaf.pem -noout -startdate | cut -d= -f2)")

# ---- issuance through raw HTTP ----
api_csr "$TA" "$K2" '{"CN":"Acme Corp","O":"Acme Corp","C":"DE","ST":"Berlin"}' k2.csr
issue_body k2.csr '{"validity_days":460}' >b.json
req POST /v1/ca/certificates "$TA" "${J[@]}" --data-binary @b.json
if check_status "POST /v1/ca/certificates (460 days)" 201; then
    jget .certificate_pem >k2.leaf.pem
    jget .issuer_pem >k2.issuer.pem
    S2=$(jget .serial)
    check_eq "answer: serial is the certificate's" "serial=$S2" "$(openssl x509 -in k2.leaf.pem -noout -serial)"
    check_eq "answer: issuer_pem is the code signing CA" "$(fpr codesigning.pem)" "$(fpr k2.issuer.pem)"
    check_eq "answer: key and profile" "$K2 code-signing" "$(jget '"\(.key) \(.profile)"')"
    check_eq "answer: not_after is the certificate's notAfter" \
        "$(rfc3339 "$(epoch "$(openssl x509 -in k2.leaf.pem -noout -enddate | cut -d= -f2)")")" \
        "$(jget .not_after)"
    # L too: the CA writes the verified location whether or not it was asked.
    check_leaf "HTTP leaf" k2.leaf.pem 460 cs 'C = DE, ST = Berlin, L = Berlin, O = Acme Corp, CN = Acme Corp'
fi
api_csr "$TA" "$K2" '{"CN":"Acme Corp","O":"Acme Corp","C":"DE","ST":"Berlin","serialNumber":"HRB 12345","businessCategory":"Private Organization","jurisdictionC":"DE"}' ev.csr
issue_body ev.csr '{"profile":"ev-code-signing","validity_days":1}' >b.json
req POST /v1/ca/certificates "$TA" "${J[@]}" --data-binary @b.json
if check_status "POST /v1/ca/certificates (EV, 1 day)" 201; then
    jget .certificate_pem >ev.leaf.pem
    SEV=$(jget .serial)
    check_leaf "EV leaf" ev.leaf.pem 1 ev \
        'businessCategory = Private Organization, jurisdictionC = DE, serialNumber = HRB 12345, C = DE, ST = Berlin, L = Berlin, O = Acme Corp, CN = Acme Corp'
fi
req GET "/v1/ca/certificates/$S2" "$TA"
check_eq "GET certificate: good, the key's" "good $K2 $A" "$(jget '"\(.status) \(.key) \(.subscriber)"')"
# Serials are found whatever their case or leading zeros (the stored form
# may itself start with 0: BN_bn2hex writes whole octets).
req GET "/v1/ca/certificates/$(printf '%s' "$S2" | tr 'A-F' 'a-f')" "$TA"
check_status "GET certificate by its lower-case serial" 200
req GET "/v1/ca/certificates/000$S2" "$TA"
check_status "GET certificate with leading zeros on its serial" 200
req GET "/v1/ca/certificates/$S2$S2$S2" "$TA"
check_error "an over-long serial is no certificate" 404 not_found
req GET "/v1/ca/certificates/$S2" "$TB"
check_error "another subscriber cannot look it up" 404 not_found

# ---- sign with the certified key; openssl cms checks against the root ----
rand_file file.bin 100000
if check_cmd "signet sign with the certified key" "$SIGNET" --token "$TA" sign --key "$K1" file.bin -o file.p7s; then
    check_cmd "openssl cms -verify against the Signet root" openssl cms -verify -binary \
        -inform DER -in file.p7s -content file.bin -CAfile root.pem -purpose any -out /dev/null
    # certificates is a SET OF: compare as sets
    openssl pkcs7 -inform DER -in file.p7s -print_certs -out p7certs.pem 2>/dev/null
    sed -n '1,/END CERTIFICATE/p' p7certs.pem >p7c1.pem
    sed -n '/END CERTIFICATE/,$p' p7certs.pem | sed 1d >p7c2.pem
    check_eq "the p7s carries leaf and issuing CA" \
        "$(printf '%s\n' "$(fpr k1.leaf.pem)" "$(fpr codesigning.pem)" | sort | tr '\n' ' ')" \
        "$(printf '%s\n' "$(fpr p7c1.pem)" "$(fpr p7c2.pem)" | sort | tr '\n' ' ')"
fi

# ---- CRL and OCSP before any revocation ----
crl_fetch() { # OUT.der; sets CRL_TEXT; checks the signature
    curl -sS --max-time 10 -o "$1" "$PUBLIC_URL/ca/crl/codesigning" || die "GET CRL"
    CRL_TEXT=$(openssl crl -inform DER -in "$1" -CAfile cs-chain.pem -noout -text 2>&1)
    check_match "CRL $1 signature verifies (openssl crl -CAfile)" '(^|'$'\n'')verify OK' "$CRL_TEXT"
}
crl_number() { grep -A1 'CRL Number' <<<"$CRL_TEXT" | tail -1 | tr -d ' '; }
# crl_entry SERIAL: the text of one entry
crl_entry() { awk -v s="Serial Number: $1" '$0 ~ s {p=1; print; next} p && /Serial Number:|Signature Algorithm/ {p=0} p' <<<"$CRL_TEXT"; }
crl_fetch crl0.der
N0=$(crl_number)
check_match "CRL number present" '^[0-9]+$' "$N0"
lu=$(epoch "$(grep 'Last Update:' <<<"$CRL_TEXT" | sed 's/.*Update: //')")
nu=$(epoch "$(grep 'Next Update:' <<<"$CRL_TEXT" | sed 's/.*Update: //')")
check_match "CRL nextUpdate - lastUpdate <= 10 days ($((nu - lu)) s)" '^ok$' "$([ $((nu - lu)) -gt 0 ] && [ $((nu - lu)) -le 864000 ] && echo ok)"
check_eq "CRL path in the certificate is the one served" "/ca/crl/codesigning" \
    "$(openssl x509 -in k1.leaf.pem -noout -ext crlDistributionPoints | grep -oE 'URI:.*' | sed -E 's|URI:http://[^/]+||')"

ocsp() { # ARGS...: openssl ocsp against the public responder; output in OCSP_OUT
    OCSP_OUT=$(openssl ocsp -issuer codesigning.pem -url "$PUBLIC_URL/ca/ocsp" -CAfile root.pem "$@" 2>&1)
}
ocsp -cert k1.leaf.pem
check_match "OCSP (POST): CLI leaf good before revocation" 'k1.leaf.pem: good' "$OCSP_OUT"
check_match "OCSP: response verifies" 'Response verify OK' "$OCSP_OUT"

# Answers to requests without a nonce are kept until the next revocation
# (each fresh one is a CA-key signature): a second request a second later
# gets the very same bytes, not a newer producedAt.
ocsp_post() { # REQ OUT: POST a DER request to the public responder
    curl -sS --max-time 10 -H 'Content-Type: application/ocsp-request' \
        --data-binary "@$1" -o "$2" "$PUBLIC_URL/ca/ocsp" || die "POST OCSP"
}
ocsp_read() { # RESP CERT: openssl's verdict on a kept-form answer
    openssl ocsp -respin "$1" -issuer codesigning.pem -cert "$2" \
        -CAfile root.pem -no_nonce -resp_text 2>&1
}
openssl ocsp -issuer codesigning.pem -cert k1.leaf.pem -no_nonce \
    -reqout kreq.der 2>/dev/null || die "OCSP request"
ocsp_post kreq.der kresp1.der
sleep 1.1
ocsp_post kreq.der kresp2.der
check_cmd "OCSP without a nonce: the kept answer, byte for byte" \
    cmp kresp1.der kresp2.der
out=$(ocsp_read kresp2.der k1.leaf.pem)
check_match "OCSP kept answer: good" 'k1.leaf.pem: good' "$out"
check_match "OCSP kept answer: verifies" 'Response verify OK' "$out"
# A CertID in another encoding (hash parameters absent instead of NULL)
# is copied into its answer as it came, so it is answered afresh: varying
# the encoding must not fill the kept answers.
python3 - kreq.der kreq_noparam.der <<'PY' || die "rewriting the OCSP request"
import sys
d = open(sys.argv[1], "rb").read()
def tlv(b, i):
    t, n, j = b[i], b[i + 1], i + 2
    if n & 0x80:
        k = n & 0x7F
        n, j = int.from_bytes(b[j:j + k], "big"), j + k
    return t, j, n
def enc(t, body):
    n = len(body)
    ln = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([t]) + ln + body
def walk(b, i, end):
    out = b""
    while i < end:
        t, j, n = tlv(b, i)
        body = b[j:j + n]
        if t == 0x30 and body[:1] == b"\x06" and body.endswith(b"\x05\x00"):
            body = body[:-2]  # AlgorithmIdentifier: drop the NULL
        elif t in (0x30, 0xA0):
            body = walk(b, j, j + n)
        out += enc(t, body)
        i = j + n
    return out
new = walk(d, 0, len(d))
assert new != d
open(sys.argv[2], "wb").write(new)
PY
ocsp_post kreq_noparam.der nresp1.der
sleep 1.1
ocsp_post kreq_noparam.der nresp2.der
check_match "OCSP, hash parameters absent: answered, good" 'k1.leaf.pem: good' \
    "$(ocsp_read nresp2.der k1.leaf.pem)"
check_cmd_fails "OCSP, hash parameters absent: a fresh answer each time" \
    cmp -s nresp1.der nresp2.der

# ---- revocation: back-dated key compromise ----
# A CSR made while the key still works, for the re-issuance check below.
api_csr "$TA" "$K1" '{"CN":"Acme Tools","O":"Acme Corp","C":"DE","ST":"Berlin"}' k1again.csr
while [ "$(date +%s)" -lt $((NB1 + 3)) ]; do sleep 0.5; done
D1=$((NB1 + 1))
out=$("$SIGNET" --token "$TA" ca revoke "$S1" --reason keyCompromise --date "$(rfc3339 $D1)" 2>&1)
check_match "signet ca revoke keyCompromise back-dated" 'status: +revoked' "$out"
out=$("$SIGNET" --token "$TA" --json ca certificate "$S1" 2>&1)
check_eq "signet ca certificate: revoked, keyCompromise, the back-dated time" \
    "revoked keyCompromise $(rfc3339 $D1)" "$(jget '"\(.status) \(.reason) \(.revocation_date)"' "$out")"

crl_fetch crl1.der
N1=$(crl_number)
check_match "CRL number increments ($N0 -> $N1)" '^ok$' "$([ "$N1" -gt "$N0" ] 2>/dev/null && echo ok)"
e=$(crl_entry "$S1")
check_match "CRL lists the revoked serial" "Serial Number: $S1" "$e"
check_eq "CRL revocation date = the back-dated time" "$D1" \
    "$(epoch "$(grep 'Revocation Date:' <<<"$e" | sed 's/.*Date: //')")"
check_eq "CRL reason Key Compromise" "Key Compromise" "$(grep -A1 'CRL Reason Code' <<<"$e" | tail -1 | sed 's/^ *//')"
check_eq "CRL invalidity date = revocation date" "$D1" \
    "$(epoch "$(grep -A1 'Invalidity Date' <<<"$e" | tail -1 | sed 's/^ *//')")"

ocsp_post kreq.der kresp3.der
out=$(ocsp_read kresp3.der k1.leaf.pem)
check_match "OCSP without a nonce right after the revocation: revoked, not the kept good" \
    'k1.leaf.pem: revoked' "$out"
check_match "OCSP: that answer verifies" 'Response verify OK' "$out"
ocsp -cert k1.leaf.pem -resp_text
check_match "OCSP (POST): revoked" 'k1.leaf.pem: revoked' "$OCSP_OUT"
check_match "OCSP: reason keyCompromise" 'Reason: keyCompromise' "$OCSP_OUT"
check_eq "OCSP: revocation time = the back-dated time" "$D1" \
    "$(epoch "$(grep -m1 'Revocation Time:' <<<"$OCSP_OUT" | sed 's/.*Time: //')")"
check_match "OCSP: response verifies" 'Response verify OK' "$OCSP_OUT"
tu=$(epoch "$(grep -m1 'This Update:' <<<"$OCSP_OUT" | sed 's/.*Update: //')")
nu=$(epoch "$(grep -m1 'Next Update:' <<<"$OCSP_OUT" | sed 's/.*Update: //')")
check_match "OCSP nextUpdate - thisUpdate <= 10 days ($((nu - tu)) s)" '^ok$' "$([ $((nu - tu)) -gt 0 ] && [ $((nu - tu)) -le 864000 ] && echo ok)"
ocsp -cert k2.leaf.pem
check_match "OCSP: the unrevoked certificate is good" 'k2.leaf.pem: good' "$OCSP_OUT"
NEVER=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n' | sed 's/^./7/')
ocsp -serial "0x$NEVER"
check_match "OCSP: a never-issued serial is unknown" "0x$NEVER: unknown" "$OCSP_OUT"
check_nomatch "OCSP: a never-issued serial is never good" ': good' "$OCSP_OUT"
# Answers about serials never issued are kept too, in a cache of their
# own (asking for random serials does not push out the others).
openssl ocsp -issuer codesigning.pem -serial "0x$NEVER" -no_nonce \
    -reqout ureq.der 2>/dev/null || die "OCSP request"
ocsp_post ureq.der uresp1.der
sleep 1.1
ocsp_post ureq.der uresp2.der
check_cmd "OCSP without a nonce, never-issued serial: the kept answer" \
    cmp -s uresp1.der uresp2.der

# Nonce: a request with a nonce, POSTed by curl, the answer parsed by openssl.
openssl ocsp -issuer codesigning.pem -cert k1.leaf.pem -nonce -reqout nreq.der 2>/dev/null || die "OCSP request"
want=$(openssl ocsp -reqin nreq.der -req_text 2>&1 | grep -A1 'OCSP Nonce' | tail -1 | tr -d ' ')
curl -sS --max-time 10 -H 'Content-Type: application/ocsp-request' --data-binary @nreq.der \
    -o nresp.der "$PUBLIC_URL/ca/ocsp" || die "POST OCSP"
got=$(openssl ocsp -respin nresp.der -resp_text -noverify 2>&1 | grep -A1 'OCSP Nonce' | tail -1 | tr -d ' ')
check_match "OCSP request carries a nonce" '^0410[0-9A-F]{32}$' "$want"
check_eq "OCSP nonce echoed" "$want" "$got"

# GET form (RFC 6960 A.1)
openssl ocsp -issuer codesigning.pem -cert k1.leaf.pem -no_nonce -reqout greq.der 2>/dev/null || die "OCSP request"
enc=$(base64 -w0 greq.der | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')
code=$(curl -sS --max-time 10 -o gresp.der -D gh.txt -w '%{http_code}' "$PUBLIC_URL/ca/ocsp/$enc")
check_eq "OCSP GET answers 200" 200 "$code"
check_match "OCSP GET: application/ocsp-response" '[Cc]ontent-[Tt]ype: application/ocsp-response' "$(cat gh.txt)"
out=$(openssl ocsp -respin gresp.der -issuer codesigning.pem -cert k1.leaf.pem -CAfile root.pem -no_nonce 2>&1)
check_match "OCSP GET: revoked" 'k1.leaf.pem: revoked' "$out"
check_match "OCSP GET: response verifies" 'Response verify OK' "$out"
check_eq "OCSP GET: revocation time = the back-dated time" "$D1" \
    "$(epoch "$(grep -m1 'Revocation Time:' <<<"$out" | sed 's/.*Time: //')")"

# ---- a second revocation (not back-dated): the CRL number moves on ----
req_json POST "/v1/ca/certificates/$SEV/revoke" "$TA" '{"reason":"superseded"}'
check_status "revoke the EV certificate (superseded)" 200
crl_fetch crl2.der
N2=$(crl_number)
check_match "CRL number increments ($N1 -> $N2)" '^ok$' "$([ "$N2" -gt "$N1" ] 2>/dev/null && echo ok)"
check_match "CRL lists both revoked serials" "$S1.*$SEV|$SEV.*$S1" "$(grep 'Serial Number' <<<"$CRL_TEXT" | tr '\n' ' ')"
e=$(crl_entry "$SEV")
check_eq "superseded entry: reason Superseded" "Superseded" "$(grep -A1 'CRL Reason Code' <<<"$e" | tail -1 | sed 's/^ *//')"
check_nomatch "superseded entry: no invalidity date" 'Invalidity Date' "$e"
req_json POST "/v1/ca/certificates/$S2/revoke" "$TA" "{\"reason\":\"superseded\",\"revocation_date\":\"$(rfc3339 $((NB1 - 3600)))\"}"
check_error "only keyCompromise may be back-dated" 400 invalid_field
# Not even by a minute (the old code let 5 minutes through; docs say none).
req_json POST "/v1/ca/certificates/$S2/revoke" "$TA" "{\"reason\":\"superseded\",\"revocation_date\":\"$(rfc3339 $(($(date +%s) - 60)))\"}"
check_error "superseded back-dated by 60 s is refused" 400 invalid_field
ocsp -cert k2.leaf.pem
check_match "after the refused back-dating the certificate is still good" 'k2.leaf.pem: good' "$OCSP_OUT"

# ---- the key compromise date moved later ----
D2=$((NB1 + 2))
# (later is the operator's decision, with a reason: test_revoke.sh)
req_json POST "/v1/ca/certificates/$S1/revoke" "$ADMIN" "{\"reason\":\"keyCompromise\",\"revocation_date\":\"$(rfc3339 $D2)\",\"comment\":\"test\"}"
check_status "operator re-posts keyCompromise with a later date" 200
crl_fetch crl3.der
N3=$(crl_number)
check_match "CRL number increments ($N2 -> $N3)" '^ok$' "$([ "$N3" -gt "$N2" ] 2>/dev/null && echo ok)"
e=$(crl_entry "$S1")
check_eq "later CRL: the moved revocation date" "$D2" "$(epoch "$(grep 'Revocation Date:' <<<"$e" | sed 's/.*Date: //')")"
check_eq "later CRL: invalidity date moved too" "$D2" "$(epoch "$(grep -A1 'Invalidity Date' <<<"$e" | tail -1 | sed 's/^ *//')")"
ocsp -cert k1.leaf.pem
check_eq "later OCSP: the moved revocation time" "$D2" \
    "$(epoch "$(grep -m1 'Revocation Time:' <<<"$OCSP_OUT" | sed 's/.*Time: //')")"
ocsp_post kreq.der kresp4.der
check_eq "later OCSP without a nonce: the moved time, not the kept one" "$D2" \
    "$(epoch "$(ocsp_read kresp4.der k1.leaf.pem | grep -m1 'Revocation Time:' | sed 's/.*Time: //')")"

# ---- revocation refusals ----
req_json POST "/v1/ca/certificates/$S2/revoke" "$TA" '{"reason":"certificateHold"}'
check_error "certificateHold" 400 invalid_field
req_json POST "/v1/ca/certificates/$S2/revoke" "$TB" '{"reason":"keyCompromise"}'
check_error "another subscriber revokes" 404 not_found
req_json POST "/v1/ca/certificates/$S2/revoke" "$TS" '{"reason":"keyCompromise"}'
check_error "a sign-only token revokes" 403 forbidden
ocsp -cert k2.leaf.pem
check_match "after the refused revocations the certificate is still good" 'k2.leaf.pem: good' "$OCSP_OUT"

# ---- a compromised key signs no more, and gets no new certificate ----
req GET "/v1/keys/$K1" "$TA"
check_eq "key compromise revocation disabled the key" disabled "$(jget .state)"
req POST "/v1/keys/$K1/enable" "$TA"
check_error "a compromised key cannot be enabled again" 409 key_state
head -c 32 /dev/urandom >k1.d
req_json POST "/v1/keys/$K1/sign" "$TA" "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 k1.d)\"}"
check_error "a compromised key does not sign" 409 key_state
issue_body k1again.csr >b.json
refusal "re-issuance for a compromised key" 409 conflict 'key compromise' b.json
check_cmd_fails "signet key certify refuses it too" "$SIGNET" --token "$TA" key certify "$K1" --subject "$SUBJ"

# ---- refusals ----
api_csr "$TA" "$K2" '{"CN":"Acme Corp","O":"Evil Corp","C":"DE","ST":"Berlin"}' r.csr
issue_body r.csr >b.json
refusal "subject O differs from the identity" 400 invalid_field '(^| )O( |$)' b.json
api_csr "$TA" "$K2" '{"CN":"Microsoft Corporation","O":"Acme Corp","C":"DE"}' r.csr
issue_body r.csr >b.json
refusal "CN of another organisation" 400 invalid_field 'neither .* legal name' b.json
# B's identity has no EV fields: the EV profile is refused whatever the CSR says.
api_csr "$TB" "$KB" '{"CN":"Bravo GmbH","O":"Bravo GmbH","C":"DE","L":"Hamburg","serialNumber":"HRB 1","businessCategory":"Private Organization","jurisdictionC":"DE"}' r.csr
issue_body r.csr '{"profile":"ev-code-signing"}' >b.json
refusal "EV for an identity without businessCategory" 400 invalid_field 'businessCategory' b.json "$TB"
issue_body k2.csr '{"validity_days":461}' >b.json
refusal "validity_days 461" 400 invalid_field 'validity_days' b.json
issue_body k2.csr '{"validity_days":0}' >b.json
refusal "validity_days 0" 400 invalid_field 'validity_days' b.json
issue_body k2.csr '{"profile":"server-auth"}' >b.json
refusal "unknown profile" 400 invalid_field 'profile' b.json
printf 'hello, CA\n' >garbage.csr
issue_body garbage.csr >b.json
refusal "garbage CSR" 400 invalid_field 'CSR|certificate request' b.json
{ head -n 8 k2.csr; tail -n 1 k2.csr; } >trunc.csr
issue_body trunc.csr >b.json
refusal "truncated CSR" 400 invalid_field 'CSR|certificate request' b.json
openssl req -new -newkey rsa:2048 -nodes -keyout throw.key -subj "$SUBJ" -out noatt.csr 2>/dev/null ||
    die "throwaway CSR"
issue_body noatt.csr >b.json
refusal "CSR without attestation" 400 invalid_field 'no attestation' b.json
api_csr "$TB" "$KB" '{"CN":"Acme Corp","O":"Acme Corp","C":"DE","ST":"Berlin"}' bravo.csr
issue_body bravo.csr >b.json
refusal "another subscriber's attested key" 400 invalid_field "not one of this subscriber's keys" b.json
req POST /v1/ca/certificates "$TS" "${J[@]}" --data-binary @b.json
check_error "a sign-only token cannot request certificates" 403 forbidden

# ---- hand-built CSRs, signed by the subscriber key through /sign ----
# build_csr KEY SUBJECT ATTR_CSR_PEM OUT: a CSR for KEY (RSA) with SUBJECT
# (openssl -subj form) and the attributes of ATTR_CSR_PEM, signed by KEY.
build_csr() {
    local key=$1 d=$WORK/bc
    mkdir -p "$d"
    openssl req -new -key throw.key -subj "$2" -multivalue-rdn -outform DER -out "$d/s.der" 2>/dev/null ||
        die "subject $2"
    openssl req -in "$3" -outform DER -out "$d/a.der" || die "attribute source"
    cut_d2 "$d/s.der" 2 "$d/subject"
    cut_d2 "$d/a.der" 4 "$d/attrs"
    openssl pkey -pubin -in "pub.$key.pem" -outform DER -out "$d/spki" || die "SPKI"
    printf '\x02\x01\x00' >"$d/version"
    cat "$d/version" "$d/subject" "$d/spki" "$d/attrs" >"$d/cri.body"
    der_wrap 30 "$d/cri.body" "$d/cri"
    req_json POST "/v1/keys/$key/sign" "$TA" \
        "{\"digest_algorithm\":\"sha256\",\"scheme\":\"pkcs1\",\"digest\":\"$(openssl dgst -sha256 -binary "$d/cri" | base64 -w0)\"}"
    [ "$STATUS" = 200 ] || die "sign the CRI: HTTP $STATUS $BODY"
    unb64 "$(jget .signature)" "$d/sig"
    { printf '\x00'; cat "$d/sig"; } >"$d/bits.body"
    der_wrap 03 "$d/bits.body" "$d/bits"
    printf '\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b\x05\x00' >"$d/alg"
    cat "$d/cri" "$d/alg" "$d/bits" >"$d/csr.body"
    der_wrap 30 "$d/csr.body" "$d/csr.der"
    { echo '-----BEGIN CERTIFICATE REQUEST-----'; base64 -w64 "$d/csr.der"; echo '-----END CERTIFICATE REQUEST-----'; } >"$4"
}
api_csr "$TA" "$KR" '{"CN":"Acme Corp","O":"Acme Corp","C":"DE","ST":"Berlin"}' kr.csr
build_csr "$KR" "/C=DE/ST=Berlin/O=Acme Corp/CN=Acme Corp" kr.csr built.csr
check_match "hand-built CSR: openssl req -verify" 'verify OK' "$(openssl req -in built.csr -noout -verify 2>&1)"
issue_body built.csr >b.json
req POST /v1/ca/certificates "$TA" "${J[@]}" --data-binary @b.json
if check_status "positive control: a hand-built CSR with the key's own attestation is issued" 201; then
    jget .certificate_pem >built.leaf.pem
    check_cmd "positive control: openssl verify" openssl verify -CAfile root.pem -untrusted codesigning.pem built.leaf.pem
fi
build_csr "$KR" "/DC=com/DC=acme/C=DE/ST=Berlin/O=Acme Corp/CN=Acme Corp" kr.csr dc.csr
check_match "DC CSR: openssl req -verify" 'verify OK' "$(openssl req -in dc.csr -noout -verify 2>&1)"
issue_body dc.csr >b.json
refusal "subject with domainComponent" 400 invalid_field 'domainComponent' b.json
build_csr "$KR" "/C=DE/ST=Berlin/O=Acme Corp/CN=Acme Corp/CN=Acme Tools" kr.csr cn2.csr
issue_body cn2.csr >b.json
refusal "subject with two CNs" 400 invalid_field 'one CN' b.json
# Key R's request carrying key B's (valid) attestation.
build_csr "$KR" "/C=DE/ST=Berlin/O=Acme Corp/CN=Acme Corp" bravo.csr swap.csr
check_match "swapped-attestation CSR: its own signature verifies" 'verify OK' "$(openssl req -in swap.csr -noout -verify 2>&1)"
issue_body swap.csr >b.json
refusal "CSR carrying another key's attestation" 400 invalid_field "CSR's key is not the attested key" b.json

check_healthy
server_stop
finish
