#!/usr/bin/env bash
# Key compromise covers the key, not one certificate (CSBR 4.9.1.1, 6.1.2),
# judged by openssl (ocsp, crl) and pyca/cryptography (the CRL):
#  - two certificates of one key; a keyCompromise revocation of one revokes
#    both, with the same date and reason, in OCSP and in the CRL; another
#    key's certificate stays good;
#  - the key's date: the subscriber may move it only earlier (later: 403,
#    nothing changes); earlier moves it for both certificates; the operator
#    (admin token) may move it later only with a comment (400 without);
#    every change is a ca_revocation_date audit record naming the serial,
#    the old and new date and the reason;
#  - re-revocations: a second non-keyCompromise revocation is 409; a
#    keyCompromise after superseded is 409 unless it back-dates, and then
#    changes the reason and the date.
. "$(dirname "$0")/lib.sh"

cd "$WORK" || die "no work directory"
server_start
A=$(new_subscriber acme) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$TA" ecdsa-p256 "twice certified") || exit 1
KO=$(new_key "$TA" ecdsa-p256 "other key") || exit 1
J=(-H 'Content-Type: application/json')
PY=/usr/bin/python3 # Debian's, with Debian's pyca/cryptography

epoch() { date -u -d "$1" +%s 2>/dev/null || echo "unparsable: $1"; }
rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

fetch_ca_certs . root codesigning
cat codesigning.pem root.pem >cs-chain.pem

req_json PUT "/v1/subscribers/$A/identity" "$ADMIN" '{"O":"Acme Corp","C":"DE","L":"Berlin"}'
[ "$STATUS" = 200 ] || die "identity: HTTP $STATUS $BODY"

# issue KEY OUT: a certificate for KEY from a server-made CSR; prints the
# serial (dies on failure: everything below depends on it)
issue() {
    req_json POST "/v1/keys/$1/csr" "$TA" \
        '{"subject":{"CN":"Acme Corp","O":"Acme Corp","C":"DE","L":"Berlin"}}'
    [ "$STATUS" = 200 ] || die "CSR for $1: HTTP $STATUS $BODY"
    jget .csr_pem >"$2.csr"
    jq -n --rawfile c "$2.csr" '{csr_pem: $c}' >"$2.json"
    req POST /v1/ca/certificates "$TA" "${J[@]}" --data-binary @"$2.json"
    [ "$STATUS" = 201 ] || die "issue for $1: HTTP $STATUS $BODY"
    jget .certificate_pem >"$2.pem"
    jget .serial
}
S1=$(issue "$K" c1) || exit 1
S2=$(issue "$K" c2) || exit 1
S3=$(issue "$KO" c3) || exit 1
check_eq "two certificates of one key: the same public key (openssl)" \
    "$(openssl x509 -in c1.pem -noout -pubkey | sha256sum)" \
    "$(openssl x509 -in c2.pem -noout -pubkey | sha256sum)"
check_ne "two certificates of one key: two serials" "$S1" "$S2"
NB1=$(epoch "$(openssl x509 -in c1.pem -noout -startdate | cut -d= -f2)")
NB2=$(epoch "$(openssl x509 -in c2.pem -noout -startdate | cut -d= -f2)")
# Room for dates after both notBefores, none in the future.
while [ "$(date +%s)" -lt $((NB2 + 6)) ]; do sleep 1; done

# ocsp_time CERT: "STATUS TIME|-" for CERT from openssl ocsp (signature
# checked against the root); sets OCSP_OUT
ocsp_state() {
    local t
    OCSP_OUT=$(openssl ocsp -issuer codesigning.pem -cert "$1" -url "$PUBLIC_URL/ca/ocsp" \
        -CAfile root.pem 2>&1)
    t=$(grep -m1 'Revocation Time:' <<<"$OCSP_OUT" | sed 's/.*Time: //')
    printf '%s %s %s' "$(grep -m1 -oE "^$1: [a-z]+" <<<"$OCSP_OUT" | sed 's/.*: //')" \
        "$([ -n "$t" ] && epoch "$t" || echo -)" \
        "$(grep -m1 'Reason:' <<<"$OCSP_OUT" | sed 's/.*Reason: //')"
}
crl_fetch() { # OUT.der: sets CRL_TEXT; checks the signature
    curl -sS --max-time 10 -o "$1" "$PUBLIC_URL/ca/crl/codesigning" || die "GET CRL"
    CRL_TEXT=$(openssl crl -inform DER -in "$1" -CAfile cs-chain.pem -noout -text 2>&1)
    check_match "CRL $1 signature verifies (openssl crl -CAfile)" '(^|'$'\n'')verify OK' "$CRL_TEXT"
}
# crl_state SERIAL: "DATE REASON" of one CRL entry, "absent" if none
crl_state() {
    local e
    e=$(awk -v s="Serial Number: $1" '$0 ~ s {p=1; print; next} p && /Serial Number:|Signature Algorithm/ {p=0} p' <<<"$CRL_TEXT")
    [ -n "$e" ] || { echo absent; return; }
    printf '%s %s' "$(epoch "$(grep 'Revocation Date:' <<<"$e" | sed 's/.*Date: //')")" \
        "$(grep -A1 'CRL Reason Code' <<<"$e" | tail -1 | tr -d ' ')"
}
# py_crl CRL.der SERIAL...: "DATE REASON" per serial, read by pyca/cryptography
py_crl() {
    "$PY" - "$@" <<'EOF' 2>&1
import sys, calendar
from cryptography import x509
crl = x509.load_der_x509_crl(open(sys.argv[1], "rb").read())
for s in sys.argv[2:]:
    e = crl.get_revoked_certificate_by_serial_number(int(s, 16))
    if e is None:
        print("absent", end=";")
        continue
    r = e.extensions.get_extension_for_class(x509.CRLReason).value.reason
    print(calendar.timegm(e.revocation_date.utctimetuple()), r.name, end=";")
EOF
}
audit_records() { # ACTION: "RESULT DETAIL" of the subscriber's records, one a line
    req GET "/v1/audit?limit=1000" "$TA"
    jget ".records[] | select(.action == \"$1\") | \"\(.result) \(.detail)\""
}
audit_once() { # WHAT ACTION LINE: exactly one record reads LINE
    check_eq "$1" 1 "$(audit_records "$2" | grep -cxF -- "$3")"
}

# ---- before: both good ----
check_eq "before: the first certificate is good (openssl ocsp)" "good - " "$(ocsp_state c1.pem)"
check_eq "before: the second certificate is good (openssl ocsp)" "good - " "$(ocsp_state c2.pem)"

# ---- keyCompromise of one certificate revokes the key's every certificate ----
D1=$((NB2 + 3))
req_json POST "/v1/ca/certificates/$S1/revoke" "$TA" \
    "{\"reason\":\"keyCompromise\",\"revocation_date\":\"$(rfc3339 $D1)\"}"
check_status "revoke the first certificate for keyCompromise, back-dated" 200
check_eq "OCSP: the revoked certificate, at the given date" "revoked $D1 keyCompromise" "$(ocsp_state c1.pem)"
check_eq "OCSP: the key's second certificate is revoked too, same date and reason" \
    "revoked $D1 keyCompromise" "$(ocsp_state c2.pem)"
check_eq "OCSP: another key's certificate stays good" "good - " "$(ocsp_state c3.pem)"
crl_fetch crl1.der
check_eq "CRL: the revoked certificate" "$D1 KeyCompromise" "$(crl_state "$S1")"
check_eq "CRL: the key's second certificate, same date and reason" "$D1 KeyCompromise" "$(crl_state "$S2")"
check_eq "CRL: another key's certificate is not listed" absent "$(crl_state "$S3")"
check_eq "CRL (pyca/cryptography): both entries, same date, keyCompromise" \
    "$D1 key_compromise;$D1 key_compromise;absent;" "$(py_crl crl1.der "$S1" "$S2" "$S3")"
req GET "/v1/ca/certificates/$S2" "$TA"
check_eq "API: the second certificate is revoked, keyCompromise, same date" \
    "revoked keyCompromise $(rfc3339 $D1)" "$(jget '"\(.status) \(.reason) \(.revocation_date)"')"
audit_once "audit: ca_revoke of the first certificate" ca_revoke \
    "ok codesigning $S1 reason=keyCompromise date=$D1"
audit_once "audit: ca_revoke of the second, naming the first" ca_revoke \
    "ok codesigning $S2 reason=keyCompromise date=$D1 (same key as $S1)"
req GET "/v1/keys/$K" "$TA"
check_eq "the compromised key is disabled" disabled "$(jget .state)"

# ---- the subscriber may not move the key's date later ----
req_json POST "/v1/ca/certificates/$S1/revoke" "$TA" \
    "{\"reason\":\"keyCompromise\",\"revocation_date\":\"$(rfc3339 $((D1 + 2)))\",\"comment\":\"typo\"}"
check_error "subscriber moves the keyCompromise date later" 403 forbidden
check_match "the refusal says it is the operator's decision" 'only be moved earlier.*operator' "$(jget .message)"
req_json POST "/v1/ca/certificates/$S2/revoke" "$TA" '{"reason":"keyCompromise"}'
check_status "re-posting keyCompromise without a date keeps the date" 200
check_eq "re-post answer: the key's date" "$(rfc3339 $D1)" "$(jget .revocation_date)"
check_eq "OCSP after the refusal: date unchanged (first)" "revoked $D1 keyCompromise" "$(ocsp_state c1.pem)"
check_eq "OCSP after the refusal: date unchanged (second)" "revoked $D1 keyCompromise" "$(ocsp_state c2.pem)"
audit_once "audit: the refused move is recorded" ca_revocation_date \
    "refused codesigning $S1 old=$(rfc3339 $D1) new=$(rfc3339 $((D1 + 2))) refused: a keyCompromise revocation date may only be moved earlier; moving it later is an operator decision (admin token, with a 'comment')"
check_eq "audit: no date changed yet" 0 "$(audit_records ca_revocation_date | grep -c '^ok ')"

# ---- earlier: allowed, and both move ----
D2=$((NB2 + 1))
req_json POST "/v1/ca/certificates/$S2/revoke" "$TA" \
    "{\"reason\":\"keyCompromise\",\"revocation_date\":\"$(rfc3339 $D2)\"}"
check_status "subscriber moves the keyCompromise date earlier (through the second certificate)" 200
check_eq "OCSP: the first certificate moved earlier too" "revoked $D2 keyCompromise" "$(ocsp_state c1.pem)"
check_eq "OCSP: the second certificate moved earlier" "revoked $D2 keyCompromise" "$(ocsp_state c2.pem)"
crl_fetch crl2.der
check_eq "CRL: first entry moved earlier" "$D2 KeyCompromise" "$(crl_state "$S1")"
check_eq "CRL: second entry moved earlier" "$D2 KeyCompromise" "$(crl_state "$S2")"
for s in "$S1" "$S2"; do
    audit_once "audit: ca_revocation_date of $s, old and new date, why" ca_revocation_date \
        "ok codesigning $s reason=keyCompromise old=$(rfc3339 $D1) new=$(rfc3339 $D2) why=earlier compromise date given by the subscriber"
done

# ---- later: the operator's decision, with a reason ----
D3=$((NB2 + 4))
req_json POST "/v1/ca/certificates/$S1/revoke" "$ADMIN" \
    "{\"reason\":\"keyCompromise\",\"revocation_date\":\"$(rfc3339 $D3)\"}"
check_error "operator moves the date later without a comment" 400 invalid_field
check_match "the refusal asks for a comment" "comment" "$(jget .message)"
audit_once "audit: the refusal is recorded" ca_revocation_date \
    "refused codesigning $S1 old=$(rfc3339 $D2) new=$(rfc3339 $D3) refused: moving a keyCompromise revocation date later needs a 'comment' giving the reason"
check_eq "OCSP after the refusal: date unchanged" "revoked $D2 keyCompromise" "$(ocsp_state c2.pem)"
WHY="subscriber mistyped the compromise time, ticket 4711"
req_json POST "/v1/ca/certificates/$S1/revoke" "$ADMIN" \
    "{\"reason\":\"keyCompromise\",\"revocation_date\":\"$(rfc3339 $D3)\",\"comment\":\"$WHY\"}"
check_status "operator moves the date later with a comment" 200
check_eq "OCSP: the first certificate moved later" "revoked $D3 keyCompromise" "$(ocsp_state c1.pem)"
check_eq "OCSP: the second certificate moved later" "revoked $D3 keyCompromise" "$(ocsp_state c2.pem)"
crl_fetch crl3.der
check_eq "CRL (pyca/cryptography): both entries moved later" \
    "$D3 key_compromise;$D3 key_compromise;" "$(py_crl crl3.der "$S1" "$S2")"
check_eq "CRL (openssl): invalidity date of the second entry moved too" "$D3" \
    "$(epoch "$(awk -v s="Serial Number: $S2" '$0 ~ s {p=1; next} p && /Serial Number:/ {p=0} p' <<<"$CRL_TEXT" |
        grep -A1 'Invalidity Date' | tail -1 | sed 's/^ *//')")"
for s in "$S1" "$S2"; do
    audit_once "audit: the operator's move of $s with its reason" ca_revocation_date \
        "ok codesigning $s reason=keyCompromise old=$(rfc3339 $D2) new=$(rfc3339 $D3) why=$WHY"
done
req_json POST "/v1/ca/certificates/$S1/revoke" "$ADMIN" \
    "{\"reason\":\"keyCompromise\",\"revocation_date\":\"$(rfc3339 $((D3 + 1)))\",\"comment\":\"a$(printf 'x%.0s' {1..100})\"}"
check_error "a comment over 100 characters" 400 invalid_field
check_match "the refusal gives the limit" "'comment' must be 1 to 100" "$(jget .message)"
req_json POST "/v1/ca/certificates/$S1/revoke" "$ADMIN" \
    "{\"reason\":\"keyCompromise\",\"revocation_date\":\"$(rfc3339 $((D3 + 1)))\",\"comment\":\"a\\nb\"}"
check_error "a comment with a control character" 400 invalid_field
check_match "the refusal names control characters" "comment contains a control or line-separator character" "$(jget .message)"
check_eq "OCSP after the refusals: date unchanged" "revoked $D3 keyCompromise" "$(ocsp_state c1.pem)"
D4=$((NB2 + 5))
check_cmd "signet ca revoke --comment (operator, later)" "$SIGNET" --token "$ADMIN" ca revoke "$S2" \
    --reason keyCompromise --date "$(rfc3339 $D4)" --comment "second look at the logs"
check_eq "OCSP: the CLI's move reached the first certificate" "revoked $D4 keyCompromise" "$(ocsp_state c1.pem)"
audit_once "audit: the CLI's move, with its comment" ca_revocation_date \
    "ok codesigning $S1 reason=keyCompromise old=$(rfc3339 $D3) new=$(rfc3339 $D4) why=second look at the logs"

# ---- re-revocations of another reason ----
req_json POST "/v1/ca/certificates/$S3/revoke" "$TA" '{"reason":"superseded"}'
check_status "revoke the other key's certificate (superseded)" 200
T3=$(date -u -d "$(jget .revocation_date)" +%s)
req_json POST "/v1/ca/certificates/$S3/revoke" "$TA" '{"reason":"superseded"}'
check_error "a second superseded revocation" 409 conflict
req_json POST "/v1/ca/certificates/$S2/revoke" "$TA" '{"reason":"cessationOfOperation"}'
check_error "a keyCompromise-revoked certificate revoked again for another reason" 409 conflict
check_eq "OCSP: superseded, at its time" "revoked $T3 superseded" "$(ocsp_state c3.pem)"
req_json POST "/v1/ca/certificates/$S3/revoke" "$TA" '{"reason":"keyCompromise"}'
check_error "keyCompromise now, after superseded (it would move the revocation later)" 409 conflict
check_eq "OCSP after the refusal: still superseded, at its time" "revoked $T3 superseded" "$(ocsp_state c3.pem)"
NB3=$(epoch "$(openssl x509 -in c3.pem -noout -startdate | cut -d= -f2)")
req_json POST "/v1/ca/certificates/$S3/revoke" "$TA" \
    "{\"reason\":\"keyCompromise\",\"revocation_date\":\"$(rfc3339 $NB3)\"}"
check_status "keyCompromise after superseded: reason and date change" 200
check_eq "OCSP: now keyCompromise, back-dated" "revoked $NB3 keyCompromise" "$(ocsp_state c3.pem)"
audit_once "audit: the date change names the former reason" ca_revocation_date \
    "ok codesigning $S3 reason=keyCompromise old=$(rfc3339 $T3) new=$(rfc3339 $NB3) was=superseded why=earlier compromise date given by the subscriber"

# ---- a compromised key gets no new certificate ----
req_json POST "/v1/keys/$K/csr" "$TA" '{"subject":{"CN":"Acme Corp","O":"Acme Corp","C":"DE","L":"Berlin"}}'
if [ "$STATUS" = 200 ]; then
    jget .csr_pem >c4.csr
    jq -n --rawfile c c4.csr '{csr_pem: $c}' >c4.json
    req POST /v1/ca/certificates "$TA" "${J[@]}" --data-binary @c4.json
    check_error "no new certificate for the compromised key" 409 conflict
else
    check_status "a disabled (compromised) key makes no CSR" 409
fi
check_healthy
finish
