#!/usr/bin/env bash
# The CA certifies only what the RA verified (CSBR 7.1.4.2), judged by
# openssl and by pyca/cryptography (Debian's python3-cryptography):
#  - identities: every bad one (user-assigned or lower-case country codes,
#    placeholders, unknown businessCategory, bidi/zero-width/control
#    characters, spacing tricks, an assumed name equal to O) is a 400 naming
#    the field, and nothing is stored (GET identity still shows the old one);
#  - subjects: CSRs encoded by pyca with tricks (CN of another
#    organisation, look-alikes differing in case or spacing, UTF8String
#    country, BMPString fields, multi-valued RDNs, fields not in the
#    identity, bidi characters) are refused with 400 and nothing is issued;
#    accepted ones are re-encoded by the CA: fixed order, one attribute per
#    RDN, PrintableString for C/jurisdictionC/serialNumber, UTF8String else,
#    CN the legal name or the recorded assumed name;
#  - labels: key labels and token names with bidi or zero-width characters
#    are refused.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
"$PY" -c 'import cryptography' 2>/dev/null || die "Debian's python3-cryptography is missing"

cd "$WORK" || die "no work directory"
server_start
A=$(new_subscriber acme) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$TA" rsa-3072 "subject tests") || exit 1
J=(-H 'Content-Type: application/json')
audit_count() { # TOKEN ACTION
    req GET "/v1/audit?limit=1000" "$1"
    jget "[.records[] | select(.action == \"$2\")] | length"
}

# ---- identities ----
GOOD='{"O":"Acme Software Inc.","assumedName":"Acme Tools","C":"DE","ST":"Berlin","L":"Berlin","street":"Hauptstr. 1","serialNumber":"HRB 12345","businessCategory":"Private Organization","jurisdictionC":"DE"}'
req_json PUT "/v1/subscribers/$A/identity" "$ADMIN" "$GOOD"
check_status "a good identity is recorded" 200
req GET "/v1/subscribers/$A/identity" "$TA"
check_status "the subscriber reads its identity" 200
check_eq "GET identity returns what was recorded" "$(jq -cS . <<<"$GOOD")" "$(jget '.identity' | jq -cS .)"
sets=$(audit_count "$ADMIN" identity_set)

# bad_identity WHAT FIELD JSON_PATCH: GOOD + patch must be a 400 naming FIELD
bad_identity() {
    local body
    body=$(jq -c ". + $3 | del(.[] | nulls)" <<<"$GOOD") || die "patch $3"
    req_json PUT "/v1/subscribers/$A/identity" "$ADMIN" "$body"
    check_error "identity: $1" 400 invalid_field
    check_match "identity: $1: the message names $2" "(^|[ '])$2([ ']|$)" "$(jget .message)"
}
bad_identity "C=ZZ (user-assigned)" C '{"C":"ZZ"}'
bad_identity "C=XX" C '{"C":"XX"}'
bad_identity "C=AA" C '{"C":"AA"}'
bad_identity "C=QM" C '{"C":"QM"}'
bad_identity "C=de (lower case)" C '{"C":"de"}'
bad_identity "C=DEU (alpha-3)" C '{"C":"DEU"}'
bad_identity "jurisdictionC=ZZ" jurisdictionC '{"jurisdictionC":"ZZ"}'
bad_identity "O=- (placeholder)" O '{"O":"-"}'
bad_identity "O=N/A (placeholder)" O '{"O":"N/A"}'
bad_identity "L=. (placeholder)" L '{"L":"."}'
bad_identity "ST=none (placeholder)" ST '{"ST":"none"}'
bad_identity "street=' - ' (placeholder)" street '{"street":"- -"}'
bad_identity "businessCategory not one of the four" businessCategory '{"businessCategory":"Private Company"}'
bad_identity "businessCategory in lower case" businessCategory '{"businessCategory":"private organization"}'
bad_identity "O with U+202E (bidi override)" O '{"O":"Acme \u202eCorp"}'
bad_identity "O with U+200B (zero-width space)" O '{"O":"Ac\u200bme"}'
bad_identity "O with U+FEFF" O '{"O":"\ufeffAcme"}'
bad_identity "O with a tab" O '{"O":"Acme\tCorp"}'
bad_identity "O with a double space" O '{"O":"Acme  Software Inc."}'
bad_identity "O with a trailing space" O '{"O":"Acme Software Inc. "}'
bad_identity "O with U+00A0 (no-break space)" O '{"O":"Acme\u00a0Software"}'
bad_identity "serialNumber outside PrintableString" serialNumber '{"serialNumber":"HRB_12345"}'
bad_identity "assumedName equal to O" assumedName '{"assumedName":"Acme Software Inc."}'
bad_identity "jurisdictionST without jurisdictionC" jurisdictionST '{"jurisdictionST":"Berlin","jurisdictionC":null}'
bad_identity "an unknown field (CN)" CN '{"CN":"Microsoft Corporation"}'
bad_identity "O not a string" O '{"O":42}'
req_json PUT "/v1/subscribers/$A/identity" "$ADMIN" '{"O":"Acme Software Inc.","C":"DE"}'
check_error "identity without ST or L" 400 invalid_field
check_match "identity without ST or L: names L" '(^| )L( |$)' "$(jget .message)"
check_eq "no refused identity was stored (audit identity_set unchanged)" "$sets" "$(audit_count "$ADMIN" identity_set)"
req GET "/v1/subscribers/$A/identity" "$ADMIN"
check_eq "no refused identity was stored (GET identity unchanged)" "$(jq -cS . <<<"$GOOD")" "$(jget '.identity' | jq -cS .)"
# Assigned codes from tzdata's independent ISO 3166 table are accepted
# (every 7th here; unit/test_subject tries all 249 against the same file).
n=0 i=0
while IFS=$'\t' read -r cc _; do
    case $cc in '#'* | '') continue ;; esac
    i=$((i + 1))
    [ $((i % 7)) = 1 ] || continue
    req_json PUT "/v1/subscribers/$A/identity" "$ADMIN" "{\"O\":\"Acme Software Inc.\",\"C\":\"$cc\",\"L\":\"X Town\"}"
    [ "$STATUS" = 200 ] || { fail "tzdata's country $cc refused: $BODY"; continue; }
    n=$((n + 1))
done </usr/share/zoneinfo/iso3166.tab
check_eq "36 of tzdata's 249 ISO 3166-1 codes tried, all accepted" "249 36" "$i $n"
req_json PUT "/v1/subscribers/$A/identity" "$ADMIN" "$GOOD"
check_status "the good identity again" 200

# ---- subjects ----
openssl req -new -newkey rsa:2048 -nodes -keyout throw.key -subj /CN=x -out throw.csr 2>/dev/null ||
    die "throwaway key"
api_csr() { # SUBJECT_JSON OUT: a CSR made by the server (carries the attestation)
    req_json POST "/v1/keys/$K/csr" "$TA" "{\"subject\":$1}"
    [ "$STATUS" = 200 ] || die "CSR: HTTP $STATUS $BODY"
    jget .csr_pem >"$2"
}
api_csr '{"CN":"Acme Software Inc."}' attested.csr
openssl req -in attested.csr -outform DER -out attested.der || die "attested CSR"

# pyca_name OUT PYTHON_LIST: the DER of a Name that pyca/cryptography
# encodes from a list of RDNs, each a list of (oid, value, type) triples.
pyca_name() {
    "$PY" - "$1" "$2" <<'PYEOF' || die "pyca could not encode $2"
import sys
from cryptography import x509
from cryptography.x509.oid import NameOID as N
from cryptography.x509.name import _ASN1Type as T
from cryptography.hazmat.primitives import serialization
rdns = eval(sys.argv[2], {"N": N, "T": T})
name = x509.Name([x509.RelativeDistinguishedName(
    [x509.NameAttribute(o, v, t) for (o, v, t) in rdn]) for rdn in rdns])
open(sys.argv[1], "wb").write(name.public_bytes())
PYEOF
}
# csr_with NAME_DER OUT: the attested CSR with its subject replaced by
# NAME_DER, signed again by the key through /sign.
cut_d2 attested.der 3 spki
cut_d2 attested.der 4 attrs
csr_with() {
    local d=$WORK/cw
    mkdir -p "$d"
    printf '\x02\x01\x00' >"$d/version"
    cat "$d/version" "$1" spki attrs >"$d/cri.body"
    der_wrap 30 "$d/cri.body" "$d/cri"
    req_json POST "/v1/keys/$K/sign" "$TA" \
        "{\"digest_algorithm\":\"sha256\",\"scheme\":\"pkcs1\",\"digest\":\"$(openssl dgst -sha256 -binary "$d/cri" | base64 -w0)\"}"
    [ "$STATUS" = 200 ] || die "sign the CRI: HTTP $STATUS $BODY"
    jget .signature | base64 -d >"$d/sig"
    { printf '\x00'; cat "$d/sig"; } >"$d/bits.body"
    der_wrap 03 "$d/bits.body" "$d/bits"
    printf '\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b\x05\x00' >"$d/alg"
    cat "$d/cri" "$d/alg" "$d/bits" >"$d/csr.body"
    der_wrap 30 "$d/csr.body" "$d/csr.der"
    openssl req -inform DER -in "$d/csr.der" -out "$2" || die "rebuilt CSR"
}
# issue CSR [EXTRA_JSON]: POST /v1/ca/certificates
issue() {
    req POST /v1/ca/certificates "$TA" "${J[@]}" \
        --data-binary "$(jq -n --rawfile c "$1" "{csr_pem: \$c} + ${2:-{\}}")"
}
# refused WHAT MSG_REGEX PYTHON_RDNS [EXTRA_JSON]
refused() {
    local issued
    issued=$(audit_count "$TA" ca_issue)
    pyca_name n.der "$3"
    csr_with n.der t.csr
    check_match "$1: openssl req -verify" 'verify OK' "$(openssl req -in t.csr -noout -verify 2>&1)"
    issue t.csr "${4:-}"
    check_error "$1" 400 invalid_field
    check_match "$1: the message names the rule" "$2" "$(jget .message)"
    check_eq "$1: nothing issued" "$issued" "$(audit_count "$TA" ca_issue)"
}
# pyca_subject CERT_PEM: "TYPE:OID=VALUE" per attribute, "|" between RDNs.
pyca_subject() {
    "$PY" - "$1" <<'PYEOF'
import sys
from cryptography import x509
c = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
print("|".join("+".join("%s:%s=%s" % (a._type.name, a.oid.dotted_string, a.value)
                         for a in rdn) for rdn in c.subject.rdns))
PYEOF
}
U=T.UTF8String
P=T.PrintableString
refused "CN of another organisation" 'neither .*legal name' "[[(N.COUNTRY_NAME,'DE',$P)],[(N.ORGANIZATION_NAME,'Acme Software Inc.',$U)],[(N.COMMON_NAME,'Microsoft Corporation',$U)]]"
refused "CN differing only in case" 'neither .*legal name' "[[(N.COMMON_NAME,'ACME Software Inc.',$U)]]"
refused "CN differing only in spacing" 'neither .*legal name' "[[(N.COMMON_NAME,'Acme  Software Inc.',$U)]]"
refused "CN with a trailing space" 'neither .*legal name' "[[(N.COMMON_NAME,'Acme Software Inc. ',$U)]]"
refused "CN with U+202E" 'invisible|bidi' "[[(N.COMMON_NAME,'Acme \u202eSoftware Inc.',$U)]]"
refused "CN with a zero-width space" 'invisible|bidi' "[[(N.COMMON_NAME,'Acme\u200b Software Inc.',$U)]]"
refused "country as UTF8String" 'PrintableString' "[[(N.COUNTRY_NAME,'DE',$U)],[(N.COMMON_NAME,'Acme Software Inc.',$U)]]"
refused "O as BMPString" 'BMPString' "[[(N.ORGANIZATION_NAME,'Acme Software Inc.',T.BMPString)],[(N.COMMON_NAME,'Acme Software Inc.',$U)]]"
refused "O as TeletexString" 'TeletexString' "[[(N.ORGANIZATION_NAME,'Acme Software Inc.',T.T61String)],[(N.COMMON_NAME,'Acme Software Inc.',$U)]]"
refused "multi-valued RDN" 'multi-valued' "[[(N.COUNTRY_NAME,'DE',$P),(N.ORGANIZATION_NAME,'Acme Software Inc.',$U)],[(N.COMMON_NAME,'Acme Software Inc.',$U)]]"
refused "OU not in the identity" '(^| )OU( |$)' "[[(N.ORGANIZATIONAL_UNIT_NAME,'-',$U)],[(N.COMMON_NAME,'Acme Software Inc.',$U)]]"
refused "L differing from the identity" '(^| )L( |$)' "[[(N.LOCALITY_NAME,'Munich',$U)],[(N.COMMON_NAME,'Acme Software Inc.',$U)]]"
refused "email address" 'emailAddress' "[[(N.EMAIL_ADDRESS,'a@acme.example',T.IA5String)],[(N.COMMON_NAME,'Acme Software Inc.',$U)]]"
refused "two CNs" 'one CN' "[[(N.COMMON_NAME,'Acme Software Inc.',$U)],[(N.COMMON_NAME,'Acme Tools',$U)]]"

# accepted WHAT PYTHON_RDNS EXPECTED_PYCA_SUBJECT [EXTRA_JSON]
accepted() {
    pyca_name n.der "$2"
    csr_with n.der t.csr
    issue t.csr "${4:-}"
    if check_status "$1: issued" 201; then
        jget .certificate_pem >t.pem
        check_eq "$1: pyca reads the subject the CA wrote" "$3" "$(pyca_subject t.pem 2>&1)"
        check_eq "$1: openssl agrees on the order" \
            "$(sed -E 's/[A-Za-z0-9]+:[0-9.]+=/\n/g' <<<"$3" | tr -d '|' | sed '/^$/d' | tr '\n' ';')" \
            "$(openssl x509 -in t.pem -noout -subject -nameopt sep_multiline,utf8,-esc_msb | tail -n +2 | sed 's/^ *[^=]*=//' | tr '\n' ';')"
        check_cmd "$1: openssl asn1parse strict" openssl asn1parse -in t.pem -strictpem
    fi
}
CC=2.5.4.6 O=2.5.4.10 CNO=2.5.4.3 LO=2.5.4.7 STO=2.5.4.8 SN=2.5.4.5 BC=2.5.4.15 JC=1.3.6.1.4.1.311.60.2.1.3 STR=2.5.4.9
accepted "PrintableString O and CN re-encoded as UTF8String" \
    "[[(N.ORGANIZATION_NAME,'Acme Software Inc.',$P)],[(N.COUNTRY_NAME,'DE',$P)],[(N.COMMON_NAME,'Acme Software Inc.',$P)]]" \
    "PrintableString:$CC=DE|UTF8String:$STO=Berlin|UTF8String:$LO=Berlin|UTF8String:$O=Acme Software Inc.|UTF8String:$CNO=Acme Software Inc."
accepted "the recorded assumed name as CN, street asked for" \
    "[[(N.STREET_ADDRESS,'Hauptstr. 1',$U)],[(N.COMMON_NAME,'Acme Tools',$U)]]" \
    "PrintableString:$CC=DE|UTF8String:$STO=Berlin|UTF8String:$LO=Berlin|UTF8String:$STR=Hauptstr. 1|UTF8String:$O=Acme Software Inc.|UTF8String:$CNO=Acme Tools"
accepted "EV: businessCategory, jurisdiction and serialNumber from the identity" \
    "[[(N.COMMON_NAME,'Acme Software Inc.',$U)]]" \
    "UTF8String:$BC=Private Organization|PrintableString:$JC=DE|PrintableString:$SN=HRB 12345|PrintableString:$CC=DE|UTF8String:$STO=Berlin|UTF8String:$LO=Berlin|UTF8String:$O=Acme Software Inc.|UTF8String:$CNO=Acme Software Inc." \
    '{"profile":"ev-code-signing"}'
accepted "an empty subject: CN is the legal name" "[]" \
    "PrintableString:$CC=DE|UTF8String:$STO=Berlin|UTF8String:$LO=Berlin|UTF8String:$O=Acme Software Inc.|UTF8String:$CNO=Acme Software Inc."

# ---- labels and names shown to people ----
req_json POST /v1/keys "$TA" '{"algorithm":"ecdsa-p256","label":"release \u202egnp.exe"}'
check_error "key label with U+202E" 400 invalid_field
req_json POST /v1/keys "$TA" '{"algorithm":"ecdsa-p256","label":"rel\u200bease"}'
check_error "key label with a zero-width space" 400 invalid_field
req_json POST /v1/keys "$TA" '{"algorithm":"ecdsa-p256","label":"release key \u00fc"}'
check_status "key label with plain UTF-8 accepted" 201
req_json POST "/v1/subscribers/$A/tokens" "$ADMIN" '{"name":"ci \u2066token","roles":["sign"]}'
check_error "token name with U+2066" 400 invalid_field
req_json POST "/v1/keys/$K/csr" "$TA" '{"subject":{"CN":"Acme \u202eSoftware Inc."}}'
check_error "server-built CSR with U+202E in CN" 400 invalid_field

check_healthy
server_stop
finish
