#!/usr/bin/env bash
# Private OIDs and the key-protection extension (issue 12, items 9 and 10),
# judged by openssl and by Debian's pyca/cryptography 38 (/usr/bin/python3):
#  - oid.arc: a home made with `signetd init --oid-arc` (the documentation
#    PEN, RFC 5612) puts every Signet-private OID under that arc: the CA
#    policy in the leaf and the TSA certificate, the key-protection
#    extension, the attestation extension; pyca 38 loads the leaf, the five
#    CA certificates, the TSA certificate and the attestation certificate
#    and finds them. With the default UUID arc pyca 38 cannot parse the TSA
#    certificate (the limitation the setting is for), and `signetd check`
#    warns; with a PEN arc it does not. Bad arcs are refused.
#  - `signet attestation verify` accepts the attestation under the home's
#    arc (--oid-arc) and finds no Signet extension under another arc.
#  - hsm.certified_modules / ca.allow_uncertified_modules: SoftHSM2 is on
#    no list, so issuance is refused (409, a ca_refuse record, nothing
#    issued); allowed, the certificate is a test certificate (policy
#    2.23.140.2.1) whose extension says "not listed"; with SoftHSM2 listed,
#    no test policy and the extension names the certificate number.
. "$(dirname "$0")/lib.sh"

cd "$WORK" || die "no work directory"
PY=/usr/bin/python3
[ -x "$PY" ] && "$PY" -c 'import cryptography' 2>/dev/null ||
    die "Debian's python3-cryptography is needed (/usr/bin/python3)"
log "pyca/cryptography $("$PY" -c 'import cryptography; print(cryptography.__version__)')"
ARC=$TEST_OID_ARC
TEST_POLICY=2.23.140.2.1
SUBJ_JSON='{"CN":"Acme Corp","O":"Acme Corp","C":"DE","L":"Berlin"}'

# pyca: loads every PEM certificate of the files given and prints, per
# certificate, "FILE#N policies=P1,P2 extensions=O1,O2"; exit 1 with the
# parser's complaint if one does not load.
cat >pyca_oids.py <<'EOF'
import re, sys
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

rc = 0
for path in sys.argv[1:]:
    text = open(path, "rb").read()
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    for i, pem in enumerate(blocks):
        try:
            cert = x509.load_pem_x509_certificate(pem)
            exts = cert.extensions  # parses every extension
            pols = []
            for e in exts:
                if e.oid == ExtensionOID.CERTIFICATE_POLICIES:
                    pols = [p.policy_identifier.dotted_string for p in e.value]
            print("%s#%d policies=%s extensions=%s" % (path, i, ",".join(pols),
                  ",".join(e.oid.dotted_string for e in exts)))
        except Exception as ex:
            print("%s#%d UNPARSABLE %s: %s" % (path, i, type(ex).__name__, ex))
            rc = 1
sys.exit(rc)
EOF
pyca() { "$PY" pyca_oids.py "$@" 2>&1; }

# kp_fields CERT: the key-protection extension's value as asn1parse lines
# (type:value), e.g. "INTEGER:01 UTF8STRING:signing-service ...".
kp_fields() {
    local off
    off=$(openssl asn1parse -in "$1" | grep -A1 "OBJECT *:$ARC.2.1\$" | tail -1 |
        sed -E 's/^ *([0-9]+):.*OCTET STRING.*/\1/')
    [ -n "$off" ] || { echo "no $ARC.2.1 extension"; return; }
    openssl asn1parse -in "$1" -strparse "$off" 2>&1 |
        sed -nE 's/.*prim: *([A-Z0-9]+) *:?(.*)$/\1:\2/p' | sed 's/ *$//' | tr '\n' '|'
}

# ---- signetd check and the arc ----
check_cmd_fails "signetd init refuses an arc with a component past 31 bits" \
    "$SIGNETD" init --home "$WORK/badarc" --oid-arc 2.25.119564763254642916656305459667247640959.1
check_eq "nothing was created for the refused arc" "" "$(ls "$WORK/badarc" 2>/dev/null)"

SERVER_OID_ARC= server_init "$WORK/default"
out=$("$SIGNETD" check --home "$WORK/default" 2>&1)
check_match "default arc: signetd check warns" 'warning: oid\.arc is not set' "$out"
check_match "default arc: signetd check still passes" 'signetd\.conf: ok' "$out"
check_match "default arc: signetd init leaves oid.arc commented" '^# oid\.arc = ' \
    "$(grep 'oid\.arc' "$WORK/default/signetd.conf")"
sed -n '/-----BEGIN/,$p' "$WORK/default/ca/tsa.pem" >tsa-default.pem
out=$(pyca tsa-default.pem)
log "pyca on the default-arc TSA certificate: $out"
check_match "default arc: pyca 38 cannot parse the TSA certificate (the limitation)" \
    'UNPARSABLE' "$out"
check_match "default arc: the TSA certificate names the UUID arc (openssl)" \
    'Policy: 2\.25\.119564763254642916656305459667247640959\.3\.1' \
    "$(openssl x509 -in tsa-default.pem -noout -ext certificatePolicies 2>&1)"
echo "oid.arc = 1.3.6.1.4.1.2147483648" >>"$WORK/default/signetd.conf"
out=$("$SIGNETD" check --home "$WORK/default" 2>&1)
check_match "oid.arc past 31 bits: signetd check fails naming the key" 'oid\.arc' "$out"

SERVER_ALLOW_UNCERTIFIED=false server_init
check_eq "PEN arc: signetd init writes oid.arc" "oid.arc = $ARC" \
    "$(grep '^oid\.arc' "$SERVER_HOME/signetd.conf")"
out=$("$SIGNETD" check --home "$SERVER_HOME" 2>&1)
check_nomatch "PEN arc: signetd check does not warn about the arc" 'oid\.arc' "$out"
check_match "PEN arc: signetd check passes" 'signetd\.conf: ok' "$out"

# ---- a subscriber with a recorded identity and a key ----
server_start
A=$(new_subscriber acme) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$TA" ecdsa-p256 "release") || exit 1
req_json PUT "/v1/subscribers/$A/identity" "$ADMIN" '{"O":"Acme Corp","C":"DE","L":"Berlin"}'
[ "$STATUS" = 200 ] || die "identity: HTTP $STATUS $BODY"
req_json POST "/v1/keys/$K/csr" "$TA" "{\"subject\":$SUBJ_JSON}"
[ "$STATUS" = 200 ] || die "CSR: HTTP $STATUS $BODY"
jget .csr_pem >k.csr
jq -n --rawfile c k.csr '{csr_pem: $c, validity_days: 30}' >issue.json
audit_count() {
    req GET "/v1/audit?limit=1000" "$TA"
    jget "[.records[] | select(.action == \"$1\")] | length"
}
# issue NAME: POST /v1/ca/certificates; the leaf in NAME.pem on 201.
issue() {
    req POST /v1/ca/certificates "$TA" -H 'Content-Type: application/json' \
        --data-binary @issue.json
    [ "$STATUS" = 201 ] && jget .certificate_pem >"$1.pem"
}

# ---- not on the certified list, not allowed: refused ----
refused=$(audit_count ca_refuse)
issued=$(audit_count ca_issue)
issue refused
check_error "SoftHSM2 is not a listed certified module: refused" 409 conflict
check_match "the refusal names the module and the list" \
    "SoftHSM.*hsm\.certified_modules" "$(jget .message)"
check_eq "one more ca_refuse record" $((refused + 1)) "$(audit_count ca_refuse)"
check_eq "nothing issued (no new ca_issue record)" "$issued" "$(audit_count ca_issue)"

# ---- allowed: a test certificate ----
server_stop
set_conf ca.allow_uncertified_modules true
out=$("$SIGNETD" check --home "$SERVER_HOME" 2>&1)
check_match "signetd check warns about test certificates" \
    'warning: ca\.allow_uncertified_modules = true' "$out"
server_start
issue test || true
check_status "allow_uncertified_modules: issued" 201
pol=$(openssl x509 -in test.pem -noout -ext certificatePolicies 2>&1 | grep -oE 'Policy: [0-9.]+' | sort | tr '\n' ' ')
check_eq "test certificate: policies (openssl)" \
    "Policy: $ARC.3.1 Policy: 2.23.140.1.4.1 Policy: $TEST_POLICY " "$pol"
fields=$(kp_fields test.pem)
log "key protection (uncertified): $fields"
check_match "test certificate: key protection says version 1, the service holds the key" \
    '^INTEGER:01\|UTF8STRING:signing-service\|' "$fields"
check_match "test certificate: the module as it reports itself" \
    '\|UTF8STRING:SoftHSM project\|UTF8STRING:SoftHSM v2\|UTF8STRING:[0-9a-f]+\|' "$fields"
check_match "test certificate: not listed, no certificate number" \
    '\|BOOLEAN:0\|UTF8STRING:\|$' "$fields"
check_match "key protection extension not critical" "$ARC.2.1: *"$'\n' \
    "$(openssl x509 -in test.pem -noout -text)"

# ---- SoftHSM2 listed as certified: an ordinary certificate ----
server_stop
echo "hsm.certified_modules = SoftHSM project | SoftHSM v2 | Test cert #32473" >>"$SERVER_HOME/signetd.conf"
set_conf ca.allow_uncertified_modules false
server_start
issue listed || true
check_status "module on hsm.certified_modules: issued" 201
pol=$(openssl x509 -in listed.pem -noout -ext certificatePolicies 2>&1 | grep -oE 'Policy: [0-9.]+' | sort | tr '\n' ' ')
check_eq "listed module: no test policy (openssl)" "Policy: $ARC.3.1 Policy: 2.23.140.1.4.1 " "$pol"
fields=$(kp_fields listed.pem)
log "key protection (listed): $fields"
check_match "listed module: listed, names the certificate number" \
    '\|BOOLEAN:255\|UTF8STRING:Test cert #32473\|$' "$fields"

# ---- every certificate through pyca/cryptography 38 ----
env -u SIGNET_TOKEN "$SIGNET" ca roots -o roots.pem >/dev/null 2>&1 || die "signet ca roots"
SIGNET_TOKEN=$TA "$SIGNET" key attestation "$K" -o att.pem >/dev/null 2>&1 || die "signet key attestation"
sed -n '/-----BEGIN/,$p' "$SERVER_HOME/ca/tsa.pem" >tsa.pem
out=$(pyca test.pem listed.pem roots.pem tsa.pem att.pem)
rc=$?
log "pyca: "$'\n'"$out"
check_eq "pyca 38 loads the leaves, the five CA certificates, the TSA and attestation certificates" 0 "$rc"
check_eq "pyca: 2 leaves + 5 CAs + TSA + attestation (2) certificates" 10 "$(grep -c ' policies=' <<<"$out")"
# cert_line NAME#N: that certificate's line of the pyca output
cert_line() { grep -m1 "^$1 " <<<"$out"; }
check_match "pyca: test leaf policies" \
    "policies=2\.23\.140\.1\.4\.1,$ARC\.3\.1,$TEST_POLICY " "$(cert_line 'test.pem#0')"
check_match "pyca: test leaf has the key-protection extension" \
    "extensions=.*$ARC\.2\.1" "$(cert_line 'test.pem#0')"
check_match "pyca: listed leaf policies" \
    "policies=2\.23\.140\.1\.4\.1,$ARC\.3\.1 " "$(cert_line 'listed.pem#0')"
check_match "pyca: TSA certificate policy under the arc" \
    "policies=2\.23\.140\.1\.4\.2,$ARC\.3\.1 " "$(cert_line 'tsa.pem#0')"
check_match "pyca: attestation extension under the arc" \
    "extensions=.*$ARC\.1\.1" "$(cert_line 'att.pem#0')"
check_nomatch "pyca: no 2.25 OID anywhere" '2\.25\.' "$out"

# ---- the offline verifier reads the home's arc ----
check_cmd "signet attestation verify --oid-arc ARC" \
    "$SIGNET" attestation verify --oid-arc "$ARC" --root roots.pem att.pem
out=$("$SIGNET" attestation verify --root roots.pem att.pem 2>&1)
check_match "signet attestation verify without the home's arc finds no extension" \
    'lacks the Signet key attestation extension' "$out"

finish
