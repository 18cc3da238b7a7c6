#!/usr/bin/env bash
# The offline root (CSBR 6.2.7.1, 6.2.7.2), the commands of
# docs/ceremony.md run as written, judged by openssl, pkcs11-tool and
# Debian's pyca/cryptography:
#  - `signetd init --ca-csr` makes the issuing CA keys in the service
#    token, `signetd ca ceremony` makes the root in its own home and token
#    and certifies them, `signetd init --ca-from` completes the service
#    home: the service token holds the issuing CA keys (a pkcs11-tool
#    signature checks against each certificate) and no root key; the root
#    token holds the root key;
#  - the chain verifies to the offline root, the timestamping CA lasts at
#    most 72 months, the root CRL (from the ceremony) verifies and is what
#    the service publishes;
#  - the service so built issues a code signing certificate that verifies
#    to the offline root and time-stamps that `openssl ts -verify` accepts;
#  - `signetd check` warns about the online root of a plain `signetd
#    init` home (a test hierarchy: every CA name says TEST), not about the
#    ceremony's;
#  - refusals: --ca-from on a home not prepared with --ca-csr, and on a
#    home whose token lacks the certified keys; a second ceremony reuses
#    the root.
. "$(dirname "$0")/lib.sh"

cd "$WORK" || die "no work directory"
PY=/usr/bin/python3
command -v pkcs11-tool >/dev/null || die "pkcs11-tool is not installed"
$PY -c 'import cryptography' 2>/dev/null || die "no python3-cryptography"

SVC=$WORK/service
ROOTH=$WORK/root
XFER=$WORK/transfer

# ---- the documented commands (docs/ceremony.md) ----
check_cmd "step 1: signetd init --ca-csr (issuing CA keys and requests)" \
    "$SIGNETD" init --home "$SVC" --ca-csr "$XFER" || die "step 1"
check_eq "step 1: two requests, nothing else" "codesigning.csr timestamping.csr" \
    "$(cd "$XFER" && echo *)"
check_eq "step 1: the service home is not usable yet (no signetd.conf)" no \
    "$([ -f "$SVC/signetd.conf" ] && echo yes || echo no)"
for n in codesigning timestamping; do
    check_cmd "$n.csr: signed by its own key" openssl req -in "$XFER/$n.csr" -verify -noout
done
check_cmd "step 2: signetd ca ceremony (root home and token)" \
    "$SIGNETD" ca ceremony --home "$ROOTH" --csr "$XFER" || die "step 2"
check_cmd "step 3: signetd init --ca-from" \
    "$SIGNETD" init --home "$SVC" --ca-from "$XFER" --oid-arc "$TEST_OID_ARC" || die "step 3"

# ---- the ceremony's output, by openssl ----
R=$XFER/root.pem CS=$XFER/codesigning.pem TS=$XFER/timestamping.pem
subj() { openssl x509 -in "$1" -noout -subject -nameopt oneline 2>&1; }
fpr() { openssl x509 -in "$1" -noout -fingerprint -sha256 2>&1; }
check_eq "root subject" "subject=C = US, O = Signet, CN = Signet Root CA" "$(subj "$R")"
check_eq "root: self-signed" "$(openssl x509 -in "$R" -noout -subject | cut -d= -f2-)" \
    "$(openssl x509 -in "$R" -noout -issuer | cut -d= -f2-)"
check_cmd "root: verifies as its own trust anchor" openssl verify -x509_strict -CAfile "$R" "$R"
check_eq "code signing CA subject" "subject=C = US, O = Signet, CN = Signet Code Signing CA" "$(subj "$CS")"
check_eq "timestamping CA subject" "subject=C = US, O = Signet, CN = Signet Timestamping CA" "$(subj "$TS")"
check_cmd "issuing CAs verify to the offline root" \
    openssl verify -x509_strict -CAfile "$R" "$CS" "$TS"
for n in codesigning timestamping; do
    check_eq "$n CA: the certified key is the requested one" \
        "$(openssl req -in "$XFER/$n.csr" -noout -pubkey)" \
        "$(openssl x509 -in "$XFER/$n.pem" -noout -pubkey)"
done
check_eq "the service home holds the ceremony's certificates" \
    "$(fpr "$R") $(fpr "$CS") $(fpr "$TS")" \
    "$(fpr "$SVC/ca/root.pem") $(fpr "$SVC/ca/codesigning.pem") $(fpr "$SVC/ca/timestamping.pem")"

# Validities, by pyca/cryptography: timestamping CA at most 72 months
# (CSBR 6.2.7.2: longer would keep its key offline), issuing CAs inside
# the root's validity.
validity=$($PY - "$R" "$CS" "$TS" <<'EOF'
import sys
from cryptography import x509
r, cs, ts = (x509.load_pem_x509_certificate(open(p, "rb").read()) for p in sys.argv[1:])
nb = ts.not_valid_before
limit = nb.replace(year=nb.year + 6, day=min(nb.day, 28) if nb.month == 2 else nb.day)
print("ts<=72months" if ts.not_valid_after <= limit else "ts>72months:%s" % ts.not_valid_after,
      "inside-root" if all(c.not_valid_after <= r.not_valid_after for c in (cs, ts)) else "outlives-root")
EOF
)
check_eq "timestamping CA lasts at most 72 months; issuing CAs end before the root" \
    "ts<=72months inside-root" "$validity"
nb=$(openssl x509 -in "$TS" -noout -startdate | cut -d= -f2)
na=$(openssl x509 -in "$TS" -noout -enddate | cut -d= -f2)
lim=$(date -u -d "$(date -u -d "$nb" '+%Y-%m-%d %H:%M:%S') UTC + 72 months" +%s)
check_eq "openssl: timestamping CA notAfter <= notBefore + 72 months" yes \
    "$([ "$(date -u -d "$na" +%s)" -le "$lim" ] && echo yes || echo "no ($nb .. $na)")"

# The root CRL: signed by the root, nextUpdate within twelve months.
check_cmd "root CRL verifies with the root" \
    openssl crl -inform DER -in "$XFER/root.crl" -CAfile "$R" -noout
crl_last=$(openssl crl -inform DER -in "$XFER/root.crl" -noout -lastupdate | cut -d= -f2)
crl_next=$(openssl crl -inform DER -in "$XFER/root.crl" -noout -nextupdate | cut -d= -f2)
check_eq "root CRL: nextUpdate within twelve months of thisUpdate" yes \
    "$([ "$(date -u -d "$crl_next" +%s)" -le "$(date -u -d "$(date -u -d "$crl_last" '+%Y-%m-%d %H:%M:%S') UTC + 12 months" +%s)" ] && echo yes || echo "no: $crl_last .. $crl_next")"
check_match "the ceremony's log records the root and both certifications" \
    'root key generated.*Signet Root CA.*issuing CA certified.*Signet Code Signing CA.*issuing CA certified.*Signet Timestamping CA.*root CRL 1 issued' \
    "$(tr '\n' ' ' <"$ROOTH/ceremony.log")"

# ---- where the keys are, by pkcs11-tool ----
P11=(pkcs11-tool --module "$P11_MODULE")
hexid() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
# objects CONF LABEL PINFILE: pkcs11-tool --list-objects of that token
objects() {
    SOFTHSM2_CONF=$1 "${P11[@]}" --token-label "$2" --login --pin "$(cat "$3")" \
        --list-objects 2>&1
}
# holds KEYID CERT CONF LABEL PINFILE: the token signs with KEYID and
# openssl verifies the signature with CERT's public key.
holds() {
    printf 'ceremony key check %s\n' "$1" >"$WORK/msg"
    SOFTHSM2_CONF=$3 "${P11[@]}" --token-label "$4" --login --pin "$(cat "$5")" \
        --sign --mechanism SHA256-RSA-PKCS --id "$(hexid "$1")" \
        -i "$WORK/msg" -o "$WORK/sig" >/dev/null 2>&1 || return 1
    openssl x509 -in "$2" -noout -pubkey >"$WORK/pub.pem" &&
        openssl dgst -sha256 -verify "$WORK/pub.pem" -signature "$WORK/sig" "$WORK/msg"
}
SCONF=$SVC/hsm/softhsm2.conf RCONF=$ROOTH/hsm/softhsm2.conf
svc_objs=$(objects "$SCONF" signet-service "$SVC/hsm/service.pin")
log "service token objects:"$'\n'"$svc_objs"
check_nomatch "service token: no root key (ID ca-root)" "ID: +$(hexid ca-root)"$'\n' "$svc_objs"$'\n'
check_nomatch "service token: no object labelled ca-root" 'label: +ca-root' "$svc_objs"
check_match "service token: the code signing CA key" "ID: +$(hexid ca-codesigning)" "$svc_objs"
check_match "service token: the timestamping CA key" "ID: +$(hexid ca-timestamping)" "$svc_objs"
check_eq "service SoftHSM store: the service token only" "signet-service" \
    "$(SOFTHSM2_CONF=$SCONF "${P11[@]}" --list-slots 2>&1 | sed -n 's/^ *token label *: *//p' | sort | tr '\n' ' ' | sed 's/ $//')"
check_cmd "service token signs as codesigning.pem's key" \
    holds ca-codesigning "$CS" "$SCONF" signet-service "$SVC/hsm/service.pin"
check_cmd "service token signs as timestamping.pem's key" \
    holds ca-timestamping "$TS" "$SCONF" signet-service "$SVC/hsm/service.pin"
root_objs=$(objects "$RCONF" signet-root "$ROOTH/hsm/root.pin")
check_match "root token: the root key" "ID: +$(hexid ca-root)" "$root_objs"
check_nomatch "root token: no issuing CA key" "ID: +$(hexid ca-codesigning)|ID: +$(hexid ca-timestamping)" "$root_objs"
check_cmd "root token signs as root.pem's key" \
    holds ca-root "$R" "$RCONF" signet-root "$ROOTH/hsm/root.pin"

# ---- signetd check, for both kinds of home ----
out=$("$SIGNETD" check --home "$SVC" 2>&1)
check_match "check (ceremony home): root offline" 'root CA: offline' "$out"
check_nomatch "check (ceremony home): no warning about the root key" 'warning: the root CA key' "$out"
check_cmd "signetd init (plain): a test hierarchy" "$SIGNETD" init --home "$WORK/test"
out=$("$SIGNETD" check --home "$WORK/test" 2>&1)
check_match "check (plain init): warns that the root key is online" \
    'warning: the root CA key is online.*TEST hierarchy' "$out"
test_objs=$(objects "$WORK/test/hsm/softhsm2.conf" signet-service "$WORK/test/hsm/service.pin")
check_match "plain init: its service token holds the root key" "ID: +$(hexid ca-root)" "$test_objs"
for n in root codesigning timestamping attest-root attest-issuer; do
    check_match "plain init: $n CA named as a test CA" \
        'CN = Signet TEST .* - not for public trust$' "$(subj "$WORK/test/ca/$n.pem")"
    check_nomatch "ceremony home: $n CA not named TEST" 'TEST' "$(subj "$SVC/ca/$n.pem")"
done

# ---- refusals ----
out=$("$SIGNETD" init --home "$WORK/unprepared" --ca-from "$XFER" 2>&1)
check_eq "--ca-from on a home not made by --ca-csr: refused" 1 $?
check_match "... saying why" 'not prepared with signetd init --ca-csr' "$out"
check_cmd "a second service: signetd init --ca-csr" \
    "$SIGNETD" init --home "$WORK/svc2" --ca-csr "$WORK/transfer2"
out=$("$SIGNETD" init --home "$WORK/svc2" --ca-from "$XFER" 2>&1)
check_eq "--ca-from with certificates for another token's keys: refused" 1 $?
check_match "... saying why" 'holds no key for codesigning.pem' "$out"
check_eq "... and the home stays unfinished" no \
    "$([ -f "$WORK/svc2/signetd.conf" ] && echo yes || echo no)"
check_cmd "a second ceremony on the same root home" \
    "$SIGNETD" ca ceremony --home "$ROOTH" --csr "$WORK/transfer2"
check_eq "the second ceremony reuses the root" "$(fpr "$R")" "$(fpr "$WORK/transfer2/root.pem")"
check_match "the second root CRL is number 2" 'CRL Number: *2' \
    "$(openssl crl -inform DER -in "$WORK/transfer2/root.crl" -noout -text | tr -d '\n')"
check_cmd "the second service completes with its own certificates" \
    "$SIGNETD" init --home "$WORK/svc2" --ca-from "$WORK/transfer2"

# ---- the service so built, serving ----
SERVER_HOME=$SVC
SERVER_CA=$SVC/tls/ca.pem
ADMIN=$(tr -d '\n' <"$SVC/admin.token")
export SOFTHSM2_CONF=$SCONF
# SoftHSM2 is no certified module: test certificates (as server_init does).
set_conf ca.allow_uncertified_modules true
set_conf auth.operator_mfa false # the test acts with the admin token
server_start
curl -sS --max-time 10 -o root.der "$PUBLIC_URL/ca/root.cer" || die "GET /ca/root.cer"
check_eq "GET /ca/root.cer is the offline root" "$(fpr "$R")" \
    "$(openssl x509 -inform DER -in root.der -noout -fingerprint -sha256 2>&1)"
curl -sS --max-time 10 -o root.crl "$PUBLIC_URL/ca/crl/root" || die "GET /ca/crl/root"
check_eq "GET /ca/crl/root is the ceremony's CRL, byte for byte" \
    "$(sha256sum <"$XFER/root.crl")" "$(sha256sum <root.crl)"
curl -sS --max-time 10 -o cs.crl "$PUBLIC_URL/ca/crl/codesigning" || die "GET /ca/crl/codesigning"
check_cmd "the code signing CA's CRL (signed online) verifies" \
    openssl crl -inform DER -in cs.crl -CAfile "$CS" -noout

# A code signing certificate, as in test_ca.sh.
A=$(new_subscriber acme) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$TA" rsa-3072 release) || exit 1
req_json PUT "/v1/subscribers/$A/identity" "$ADMIN" '{"O":"Acme Corp","C":"DE","L":"Berlin"}'
check_status "identity recorded" 200
req_json POST "/v1/keys/$K/csr" "$TA" '{"subject":{"CN":"Acme Corp","O":"Acme Corp","C":"DE","L":"Berlin"}}'
[ "$STATUS" = 200 ] || die "CSR: HTTP $STATUS $BODY"
jget .csr_pem >leaf.csr
jq -n --rawfile c leaf.csr '{csr_pem: $c}' >issue.json
req POST /v1/ca/certificates "$TA" -H 'Content-Type: application/json' --data-binary @issue.json
if check_status "POST /v1/ca/certificates" 201; then
    jget .certificate_pem >leaf.pem
    check_cmd "the code signing certificate verifies to the offline root" \
        openssl verify -x509_strict -CAfile "$R" -untrusted "$CS" leaf.pem
    check_match "issued by the code signing CA" 'CN = Signet Code Signing CA' \
        "$(openssl x509 -in leaf.pem -noout -issuer -nameopt oneline)"
fi

# A time-stamp, verified to the offline root.
head -c 4096 /dev/urandom >data.bin
openssl ts -query -data data.bin -sha256 -cert -out q.tsq 2>/dev/null || die "ts -query"
code=$(curl -sS --max-time 30 -o r.tsr -w '%{http_code}' \
    -H 'Content-Type: application/timestamp-query' --data-binary @q.tsq "$PUBLIC_URL/tsa")
check_eq "POST /tsa" 200 "$code"
check_match "openssl ts -verify to the offline root" 'Verification: OK' \
    "$(openssl ts -verify -in r.tsr -queryfile q.tsq -CAfile "$R" -untrusted "$TS" 2>&1)"

server_stop
finish
