#!/usr/bin/env bash
# issue 18: reports of Suspect Code and key compromise (POST /v1/reports),
# judged by openssl (crl, ocsp), sha256sum, the log's own proof endpoint
# and jq:
#  - bodies are parsed strictly: malformed JSON, bad base64, an oversize
#    PKCS#7, an unknown kind or field, two forms of evidence, a digest of
#    the wrong length, control characters, a PKCS#7 that is not one: 400,
#    and nothing is stored;
#  - an anonymous report's 202 says nothing about tenants; past
#    reports.anon_burst an address gets 429 with Retry-After;
#  - matching by a PKCS#7 (signet sign --upload's CMS), by a raw signature
#    and by a digest finds the exact signing event: key, subscriber, time,
#    principal, log index (whose entry carries the signature's SHA-256),
#    audit id; a subscriber sees only its own keys' events;
#  - access: another subscriber cannot read a report (404); the admin
#    token and an operator's session without a second factor cannot
#    confirm (403 mfa_required); a subscriber cannot decide its own;
#  - confirm: the key is disabled at once; its certificate is revoked for
#    keyCompromise with the revocation date of the first matching signing
#    event (openssl crl -text, openssl ocsp); a date later than that event
#    is refused; the key's owner then sees what must be re-signed;
#  - reject; a decided report cannot be decided again (409);
#  - deadlines: 25 hours later (libfaketime) the open reports are overdue
#    in GET /v1/reports?overdue=1, `signet report list --overdue` and
#    /metrics.
. "$(dirname "$0")/lib.sh" "$@"

command -v oathtool >/dev/null || die "oathtool is not installed"
IT_DIR=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3 # Debian's, with Debian's pyca/cryptography
FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
[ -f "$FAKETIME_LIB" ] || die "libfaketime is not installed ($FAKETIME_LIB)"

cd "$WORK" || die "no work directory"
# Another CA (openssl), for a key Signet's CA did not certify, and its
# webhook: a receiver that answers 503 once, then 200.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ext.key -out ext.pem -subj "/CN=External Test CA/O=Ext/C=DE" \
    -days 30 -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign >ext.log 2>&1 ||
    die "external CA: $(cat ext.log)"
mkdir notices
"$PY" "$IT_DIR/notice_receiver.py" receiver.port notices 1 &
EXTRA_PIDS+=($!)
for _ in $(seq 1 50); do [ -f receiver.port ] && break; sleep 0.1; done
[ -f receiver.port ] || die "the notice receiver did not start"
SERVER_OPERATOR_MFA=true server_init
# Five anonymous reports at once per address, then one an hour.
set_conf reports.anon_burst 5
set_conf reports.anon_per_hour 1
set_conf ca.upload_root "$WORK/ext.pem"
set_conf reports.ca_webhook "http://127.0.0.1:$(cat receiver.port)/notices"
set_conf reports.ca_webhook_retry 1
server_start
unset SIGNET_TOKEN
BOOT=$ADMIN
MFA_PW='reports test passphrase'
J=(-H 'Content-Type: application/json')
epoch() { date -u -d "$1" +%s 2>/dev/null || echo "unparsable: $1"; }

# ---- the operator, with a second factor; setup runs as her ----
mfa_operator olga '["identity","subscribers","revocation","ca"]' &&
    OP=$P_TOKEN OLGA_SECRET=$P_SECRET
ADMIN=$OP
req_json POST /v1/accounts "$OP" \
    "{\"name\":\"nina\",\"roles\":[\"revocation\"],\"password\":\"$MFA_PW\"}"
[ "$STATUS" = 201 ] || die "create nina: HTTP $STATUS $BODY"
req_json POST /v1/sessions - "{\"name\":\"nina\",\"password\":\"$MFA_PW\"}"
NINA=$(jget .token)
check_eq "nina's session (never enrolled) proved no second factor" false "$(jget .mfa)"

A=$(new_subscriber acme) || exit 1
B=$(new_subscriber beta) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1
KA=$(new_key "$TA" ecdsa-p256 release) || exit 1
req GET /v1/whoami "$TA"
TA_ID=$(jget .token_id)
req_json PUT "/v1/subscribers/$A/identity" "$OP" '{"O":"Acme Corp","C":"DE","L":"Berlin"}'
[ "$STATUS" = 200 ] || die "identity: HTTP $STATUS $BODY"
"$SIGNET" --token "$TA" key certify "$KA" -o chain.pem \
    --subject "/CN=Acme Corp/O=Acme Corp/C=DE/L=Berlin" >certify.out 2>&1 ||
    die "certify: $(cat certify.out)"
openssl x509 -in chain.pem -out leaf.pem || die "no leaf in chain.pem"
SERIAL=$(openssl x509 -in leaf.pem -noout -serial | sed 's/serial=//')
fetch_ca_certs . root codesigning
cat codesigning.pem root.pem >cs-chain.pem

# ---- three signatures with acme's key, seconds apart ----
# sign_digest HEX: the API's answer; SIG (base64), LI (log index), and
# the second before and after (T0, T1)
sign_digest() {
    T0=$(date +%s)
    req_json POST "/v1/keys/$KA/sign" "$TA" \
        "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(printf '%s' "$1" | xxd -r -p | base64 -w0)\"}"
    T1=$(date +%s)
    [ "$STATUS" = 200 ] || die "sign: HTTP $STATUS $BODY"
    SIG=$(jget .signature)
    LI=$(jget .log_index)
}
D1=$(head -c 100 /dev/urandom | sha256sum | cut -c1-64)
sign_digest "$D1" && SIG1=$SIG LI1=$LI
printf '%s' "$SIG1" | base64 -d >sig1.bin
sleep 2
echo "release 1.0 of acme's tool" >app.bin
P7_T0=$(date +%s)
"$SIGNET" --token "$TA" sign --key "$KA" --upload app.bin >sign.out 2>&1 ||
    die "signet sign --upload: $(cat sign.out)"
P7_T1=$(date +%s)
sleep 2
D3=$(head -c 100 /dev/urandom | sha256sum | cut -c1-64)
sign_digest "$D3" && SIG3=$SIG LI3=$LI S3_T0=$T0 S3_T1=$T1
printf '%s' "$SIG3" | base64 -d >sig3.bin
SIG3_SHA=$(sha256sum <sig3.bin | cut -c1-64)
SIG1_SHA=$(sha256sum <sig1.bin | cut -c1-64)
check_match "the sign answers carry log indexes" '^[0-9]+ [0-9]+$' "$LI1 $LI3"

# ---- strict bodies: 400, nothing stored ----
report_body() { # KIND EVIDENCE_JSON [EXTRA]
    printf '{"kind":"%s","evidence":%s,"reason":"seen signing malware","contact":"av@example.org"%s}' \
        "$1" "$2" "${3-}"
}
bad() { # WHAT BODY
    req_json POST /v1/reports "$TB" "$2"
    check_error "$1" 400 "$([ "$(jget .error)" = invalid_json ] && echo invalid_json || echo invalid_field)"
}
req_json POST /v1/reports "$TB" '{"kind":"suspect_code",'
check_error "malformed JSON" 400 invalid_json
bad "bad base64 signature" "$(report_body suspect_code '{"signature":"AA*A"}')"
check_match "... names the field" 'evidence.signature' "$(jget .message)"
head -c 70000 /dev/urandom >big.bin
bad "a PKCS#7 over 64 KiB" "$(report_body suspect_code "{\"pkcs7\":\"$(b64 big.bin)\"}")"
check_match "... says the limit" '65536' "$(jget .message)"
bad "an unknown kind" "$(report_body malware '{"signature":"AAAA"}')"
bad "an unknown field" "$(report_body suspect_code '{"signature":"AAAA"}' ',"severity":"high"')"
bad "an unknown evidence field" "$(report_body suspect_code '{"signature":"AAAA","key":"x"}')"
bad "two forms of evidence" "$(report_body suspect_code '{"signature":"AAAA","pkcs7":"AAAA"}')"
bad "a digest without its algorithm" "$(report_body suspect_code '{"digest":"AAAA"}')"
bad "a sha256 digest of 3 bytes" "$(report_body suspect_code '{"digest_algorithm":"sha256","digest":"AAAA"}')"
bad "sha1 digests" "$(report_body suspect_code "{\"digest_algorithm\":\"sha1\",\"digest\":\"$(head -c 20 /dev/zero | base64)\"}")"
bad "a reason with a control character" '{"kind":"suspect_code","evidence":{"signature":"AAAA"},"reason":"bad\u0007","contact":"c"}'
bad "no contact" '{"kind":"suspect_code","evidence":{"signature":"AAAA"},"reason":"r"}'
bad "a PKCS#7 that is not DER" "$(report_body suspect_code "{\"pkcs7\":\"$(printf 'hello world!' | base64)\"}")"
check_match "... says why" 'not a DER PKCS#7' "$(jget .message)"
req GET /v1/reports "$OP"
check_eq "nothing was stored" 0 "$(jget '.reports | length')"
check_healthy "hostile report bodies"

# ---- anonymous: a receipt that says nothing about tenants ----
# anon BODY: POST without a credential; HDRS holds the headers
anon() {
    STATUS=$(curl -sS --max-time 30 --cacert "$SERVER_CA" -D hdrs -o "$WORK/body" \
        -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$1" \
        "$SERVER_URL/v1/reports")
    BODY=$(cat "$WORK/body")
    HDRS=$(tr -d '\r' <hdrs)
}
anon "$(report_body suspect_code "{\"signature\":\"$SIG3\"}")"
check_status "an anonymous report of the third signature" 202
R_ANON=$(jget .id)
check_eq "the receipt holds id, kind, state and time only" \
    "id kind received_at state" "$(jget '[keys[]] | join(" ")')"
check_eq "... state received" received "$(jget .state)"
check_eq "Location names the report" "/v1/reports/$R_ANON" \
    "$(grep -i '^location:' <<<"$HDRS" | sed 's/^[^:]*: *//')"
anon "$(report_body suspect_code "{\"pkcs7\":\"$(b64 app.bin.p7s)\"}")"
check_status "an anonymous report of the CMS signet sign made (PKCS#7 evidence)" 202
R_P7=$(jget .id)
anon "$(report_body suspect_code "{\"signature\":\"$(head -c 64 /dev/urandom | base64 -w0)\"}")"
check_status "an anonymous report matching nothing" 202
R_NONE=$(jget .id)
anon "$(report_body suspect_code "{\"signature\":\"$SIG3\"}")"
check_eq "the same evidence again, anonymously: the open report's receipt" \
    "202 $R_ANON" "$STATUS $(jget .id)"

# ---- authenticated reports: a subscriber sees its own keys' events ----
req_json POST /v1/reports "$TB" \
    "$(report_body key_compromise "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(printf '%s' "$D1" | xxd -r -p | base64 -w0)\"}")"
check_status "beta reports acme's first digest" 202
R_B=$(jget .id)
check_eq "beta is shown none of acme's events" "0 0" \
    "$(jget '.matches.total') $(jget '.matches.events | length')"
req GET "/v1/audit?limit=1000" "$TB"
check_eq "beta's own log counts only beta's keys' matches" "matched_own=0" \
    "$(jget ".records[] | select(.action == \"report_receive\" and (.detail | contains(\"$R_B\"))) | .detail" | grep -o 'matched[_a-z]*=[0-9]*')"
# An operator without the revocation role reporting: the receipt only.
mfa_operator ivan '["identity"]' && IVAN=$P_TOKEN
req_json POST /v1/reports "$IVAN" \
    "$(report_body key_compromise "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(printf '%s' "$D1" | xxd -r -p | base64 -w0)\"}")"
check_status "an operator without the revocation role reports" 202
check_eq "... and is given the receipt alone" \
    "id kind received_at state" "$(jget '[keys[]] | join(" ")')"
R_IVAN=$(jget .id)
"$SIGNET" --json --token "$TA" report create --kind key_compromise \
    --signature sig1.bin --reason "our CI token leaked" --contact sec@acme.example \
    >ra.json 2>ra.err || fail "signet report create: $(cat ra.err)"
R_A=$(jq -r .id ra.json)
check_eq "acme's own report (signet report create --signature): its event" \
    "1 $KA $LI1 signature" \
    "$(jq -r '"\(.matches.total) \(.matches.events[0].key) \(.matches.events[0].log_index) \(.matches.events[0].matched_by)"' ra.json)"

# ---- the operator's view: the exact signing events ----
req GET "/v1/reports/$R_ANON" "$OP"
check_status "the operator reads the anonymous report" 200
check_match "opening it acknowledged it" '^20[0-9][0-9]-' "$(jget .acknowledged_at)"
check_eq "one event: acme's key, the sign action, the third signature's log index" \
    "1 $A $KA sign $LI3 $SIG3_SHA" \
    "$(jget '"\(.matches.total) \(.matches.events[0].subscriber) \(.matches.events[0].key) \(.matches.events[0].action) \(.matches.events[0].log_index) \(.matches.events[0].sig_sha256)"')"
check_eq "... signed by acme's token" "$TA_ID" "$(jget '.matches.events[0].principal')"
EV3_T=$(epoch "$(jget '.matches.events[0].time')")
check_eq "... at the time of the signature ($S3_T0..$S3_T1)" 1 \
    "$([ "$EV3_T" -ge "$S3_T0" ] && [ "$EV3_T" -le "$S3_T1" ] && echo 1 || echo "$EV3_T")"
AUDIT3=$(jget '.matches.events[0].audit_id')
req GET "/v1/audit?limit=1000" "$TA"
check_eq "the audit id is acme's record of that signature" "$SIG3_SHA" \
    "$(jget ".records[] | select(.id == $AUDIT3) | .sig_sha256")"
# The log entry at that index, from the public listener: its sig-sha256.
for _ in $(seq 1 30); do
    curl -sS -o proof.json -w '%{http_code}' "$PUBLIC_URL/log/proof/$LI3" | grep -q 200 && break
    sleep 0.2
done
check_match "the log entry at index $LI3 holds the signature's SHA-256" \
    "sig-sha256 $SIG3_SHA" "$(jq -r .entry proof.json | base64 -d)"
req GET "/v1/reports/$R_P7" "$OP"
check_eq "the PKCS#7 report found the sign_file event by its signature" \
    "1 sign_file signature $KA" \
    "$(jget '"\(.matches.total) \(.matches.events[0].action) \(.matches.events[0].matched_by) \(.matches.events[0].key)"')"
P7_EV_T=$(epoch "$(jget '.matches.events[0].time')")
check_eq "... at the time of signet sign --upload" 1 \
    "$([ "$P7_EV_T" -ge "$P7_T0" ] && [ "$P7_EV_T" -le "$P7_T1" ] && echo 1 || echo "$P7_EV_T")"
check_match "... and shows the signer's certificate serial" "$SERIAL" \
    "$(jget '.evidence.signatures[0].certificate.serial')"
req GET "/v1/reports/$R_B" "$OP"
check_eq "the digest report found the first signature" "1 $KA $LI1 digest" \
    "$(jget '"\(.matches.total) \(.matches.events[0].key) \(.matches.events[0].log_index) \(.matches.events[0].matched_by)"')"

# ---- access ----
req GET "/v1/reports/$R_ANON" "$TB"
check_error "beta cannot read a report about acme" 404 not_found
req GET "/v1/reports/$R_ANON" "$TA"
check_error "nor can acme before it is confirmed" 404 not_found
req GET "/v1/reports/$R_B" "$TB"
check_status "beta reads its own report" 200
req GET /v1/reports "$TA"
check_eq "acme lists its own report only" "$R_A" "$(jget '[.reports[].id] | join(",")')"
req_json POST "/v1/reports/$R_ANON/confirm" "$BOOT" '{}'
check_error "the admin token cannot confirm" 403 mfa_required
req_json POST "/v1/reports/$R_ANON/confirm" "$NINA" '{}'
check_error "an operator's session without a second factor cannot confirm" 403 mfa_required
req_json POST "/v1/reports/$R_A/confirm" "$TA" '{}'
check_error "a subscriber cannot confirm its own report" 403 forbidden
req_json POST "/v1/reports/$R_ANON/confirm" "$OP" \
    "{\"revocation_date\":\"$(date -u -d "@$((EV3_T + 1))" +%Y-%m-%dT%H:%M:%SZ)\"}"
check_error "a revocation date after the first matching event" 400 invalid_field
req_json POST "/v1/reports/$R_ANON/confirm" "$OP" '{"revoke":true}'
check_error "an unknown confirm field" 400 invalid_field
req_json POST "/v1/reports/$R_NONE/confirm" "$OP" '{}'
check_error "a report that matched nothing cannot be confirmed" 409 request_state
req GET "/v1/keys/$KA" "$TA"
check_eq "refusals changed nothing: the key is still enabled" enabled "$(jget .state)"

# ---- confirm: disabled, revoked from the first matching event ----
"$SIGNET" --json --token "$OP" report confirm "$R_ANON" >confirm.json 2>confirm.err ||
    fail "signet report confirm: $(cat confirm.err)"
check_eq "confirmed; one key, one certificate, Signet's CA" "confirmed $KA 1 false" \
    "$(jq -r '"\(.state) \(.keys[0].key) \(.keys[0].certificates_revoked) \(.keys[0].external_ca)"' confirm.json)"
check_eq "... revoked from the signing event's time" "$EV3_T" \
    "$(epoch "$(jq -r '.keys[0].revocation_date' confirm.json)")"
req GET "/v1/keys/$KA" "$TA"
check_eq "the key is disabled" disabled "$(jget .state)"
req_json POST "/v1/keys/$KA/sign" "$TA" "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(head -c 32 /dev/urandom | base64 -w0)\"}"
check_error "it signs no more" 409 key_state
curl -sS --max-time 10 -o crl.der "$PUBLIC_URL/ca/crl/codesigning" || die "GET CRL"
CRL_TEXT=$(openssl crl -inform DER -in crl.der -CAfile cs-chain.pem -noout -text 2>&1)
check_match "the CRL verifies (openssl crl -CAfile)" '(^|'$'\n'')verify OK' "$CRL_TEXT"
ENTRY=$(awk -v s="Serial Number: $SERIAL" '$0 ~ s {p=1; print; next} p && /Serial Number:|Signature Algorithm/ {p=0} p' <<<"$CRL_TEXT")
check_eq "openssl crl: the certificate's revocation date is the third signature's second" \
    "$EV3_T" "$(epoch "$(grep 'Revocation Date:' <<<"$ENTRY" | sed 's/.*Date: //')")"
check_eq "openssl crl: reason keyCompromise" "Key Compromise" \
    "$(grep -A1 'CRL Reason Code' <<<"$ENTRY" | tail -1 | sed 's/^ *//')"
OCSP_OUT=$(openssl ocsp -issuer codesigning.pem -cert leaf.pem -url "$PUBLIC_URL/ca/ocsp" \
    -CAfile cs-chain.pem 2>&1)
check_match "openssl ocsp: revoked" 'leaf.pem: revoked' "$OCSP_OUT"
check_eq "openssl ocsp: the same revocation time" "$EV3_T" \
    "$(epoch "$(grep -m1 'Revocation Time:' <<<"$OCSP_OUT" | sed 's/.*Time: //')")"
check_match "openssl ocsp: keyCompromise" 'Reason: keyCompromise' "$OCSP_OUT"
req_json POST "/v1/reports/$R_ANON/confirm" "$OP" '{}'
check_error "confirming twice" 409 request_state

# ---- what acme must re-sign ----
req GET "/v1/reports/$R_ANON" "$TA"
check_status "acme, the key's owner, reads the confirmed report" 200
check_eq "acme is not shown the reporter's contact" null "$(jget .contact)"
RESIGN=$(jget '[.keys[0].resign.events[].sig_sha256] | join(" ")')
check_match "re-sign: the third signature (at the revocation date)" "$SIG3_SHA" "$RESIGN"
check_nomatch "re-sign: not the first (before it)" "$SIG1_SHA" "$RESIGN"
check_eq "re-sign: one signature since" 1 "$(jget '.keys[0].resign.total')"
req GET "/v1/audit?limit=1000" "$TA"
ACTS=$(jget '[.records[].action] | join(",")')
for a in report_confirm key_disable ca_revoke; do
    check_match "acme's audit log has $a" "(^|,)$a(,|$)" "$ACTS"
done

# ---- reject ----
"$SIGNET" --json --token "$OP" report reject "$R_B" --reason "the digest is a test vector" \
    >reject.json 2>reject.err || fail "signet report reject: $(cat reject.err)"
check_eq "rejected, with the reason" "rejected the digest is a test vector" \
    "$(jq -r '"\(.state) \(.decision)"' reject.json)"
req_json POST "/v1/reports/$R_B/reject" "$OP" '{"reason":"again"}'
check_error "rejecting twice" 409 request_state
req_json POST "/v1/reports/$R_B/confirm" "$OP" '{}'
check_error "confirming a rejected report" 409 request_state
req GET "/v1/admin/audit?limit=1000" "$OP"
OPS=$(jget '[.records[].action] | join(",")')
for a in report_receive report_ack report_confirm report_reject; do
    check_match "the operators' log has $a" "(^|,)$a(,|$)" "$OPS"
done
check_eq "the operators' log counts every tenant's matches of beta's report" \
    "matched=1" \
    "$(jget ".records[] | select(.action == \"report_receive\" and (.detail | contains(\"$R_B\")) and (.detail | contains(\"matched=\"))) | .detail" | grep -o 'matched=[0-9]*')"

# ---- a key of another CA: disabled, and that CA told (the webhook) ----
KX=$(new_key "$TA" ecdsa-p256 "externally certified") || exit 1
req_json POST "/v1/keys/$KX/csr" "$TA" '{"subject":{"CN":"Acme Corp","O":"Acme Corp","C":"DE","L":"Berlin"}}'
[ "$STATUS" = 200 ] || die "CSR: HTTP $STATUS $BODY"
jget .csr_pem >x.csr
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n' >x.ext
openssl x509 -req -in x.csr -CA ext.pem -CAkey ext.key -CAcreateserial -days 30 \
    -extfile x.ext -out x.pem >ext.log 2>&1 || die "external issue: $(cat ext.log)"
cat x.pem ext.pem >xchain.pem
req PUT "/v1/keys/$KX/certificate" "$TA" -H 'Content-Type: application/x-pem-file' \
    --data-binary @xchain.pem
[ "$STATUS" = 200 ] || die "attach the external chain: HTTP $STATUS $BODY"
req_json POST "/v1/keys/$KX/sign" "$TA" "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(head -c 32 /dev/urandom | base64 -w0)\"}"
[ "$STATUS" = 200 ] || die "sign with the external key: HTTP $STATUS $BODY"
SIGX=$(jget .signature) LIX=$(jget .log_index)
req_json POST /v1/reports "$TA" "$(report_body key_compromise "{\"signature\":\"$SIGX\"}")"
check_status "acme reports the externally certified key" 202
R_X=$(jget .id)
req_json POST "/v1/reports/$R_X/confirm" "$OP" '{}'
check_eq "confirmed: Signet's CA revoked nothing, another CA is owed a notice" \
    "confirmed 0 true null" \
    "$(jget '"\(.state) \(.keys[0].certificates_revoked) \(.keys[0].external_ca) \(.ca_informed_at)"')"
req GET "/v1/keys/$KX" "$TA"
check_eq "the externally certified key is disabled too" disabled "$(jget .state)"
req POST "/v1/keys/$KX/enable" "$TA"
check_error "its owner cannot enable it again (no certificate of ours: the report)" \
    409 key_state
for _ in $(seq 1 100); do [ -f notices/2.body ] && break; sleep 0.1; done
check_eq "the webhook got the notice twice (503, then retried after 1 s)" \
    "notices/1.body notices/2.body" "$(ls notices/*.body | tr '\n' ' ' | sed 's/ $//')"
curl -sS --max-time 10 -o notice.key "$PUBLIC_URL/reports/notice-key" || die "GET notice-key"
check_match "the notice key on the public listener" '^ed25519:[A-Za-z0-9+/]{43}=$' "$(cat notice.key)"
NC=$("$PY" "$IT_DIR/notice_check.py" notice.key notices/2.body notices/2.sig 2>&1)
check_match "pyca/cryptography: the Ed25519 signature over the notice verifies" \
    '(^|'$'\n'')signature ok' "$NC"
check_match "... with the key id the header names" \
    "keyid ([0-9a-f]{8}) \\1" "$(grep '^keyid' <<<"$NC")"
check_eq "the notice names the report and the key" \
    "report $R_X key_compromise|key $KX|evidence ok" \
    "$(grep -E '^(report|key|evidence) ' <<<"$NC" | tr '\n' '|' | sed 's/|$//')"
check_eq "its event: the signature's log index, with an inclusion proof to the checkpoint" \
    "event $LIX proof-ok" "$(grep '^event' <<<"$NC")"
for _ in $(seq 1 30); do
    req GET "/v1/reports/$R_X" "$OP"
    [ "$(jget .ca_informed_at)" != null ] && break
    sleep 0.2
done
check_eq "after the 200: the CA is informed, two attempts recorded" "2 HTTP 200" \
    "$(jget '"\(.keys[0].ca_notice.attempts) \(.keys[0].ca_notice.last_result)"')"
check_match "... and the report's ca_informed deadline met" '^20[0-9][0-9]-' \
    "$(jget .deadlines.ca_informed.met_at)"
req GET "/v1/admin/audit?limit=1000" "$OP"
check_eq "each attempt is an audit record: failed (503), then ok" "failed ok" \
    "$(jget '[.records[] | select(.action == "report_ca_notice") | .result] | join(" ")')"

# ---- the anonymous limit: reports.anon_burst, then 429 ----
N_BURST=0
for _ in 1 2 3 4 5 6; do
    anon "$(report_body suspect_code '{"signature":"AAAA"}')"
    [ "$STATUS" = 429 ] && break
    [ "$STATUS" = 202 ] && N_BURST=$((N_BURST + 1))
done
check_eq "four anonymous reports before, so one more within the burst of 5" 1 "$N_BURST"
check_eq "an address past its burst is refused" 429 "$STATUS"
check_match "... with Retry-After (seconds)" '^[1-9][0-9]*$' \
    "$(grep -i '^retry-after:' <<<"$HDRS" | sed 's/^[^:]*: *//')"
req_json POST /v1/reports "$TB" "$(report_body suspect_code '{"signature":"AAAA"}')"
check_status "a subscriber's report is not held to the anonymous limit" 202

# ---- deadlines: 25 hours later ----
# Open: R_P7 (acknowledged when opened), R_NONE, R_A, R_IVAN, the burst's and the
# last (never opened); R_ANON is confirmed and R_B rejected.
req GET /v1/reports "$OP"
check_eq "now: nothing is overdue" "0 0 0" \
    "$(jget '"\(.overdue.acknowledgement) \(.overdue.revocation) \(.overdue.ca_informed)"')"
server_stop
# Under ASan (make test-asan) its runtime must come first in LD_PRELOAD.
PRE=$FAKETIME_LIB
if ldd "$SIGNETD" 2>/dev/null | grep -q libasan; then
    PRE="$(ldd "$SIGNETD" | awk '/libasan/ {print $3}') $FAKETIME_LIB"
fi
cat >signetd-later <<EOF
#!/bin/sh
ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 LD_PRELOAD="$PRE" \\
    FAKETIME=+25h FAKETIME_DONT_RESET=1 exec "$SIGNETD" "\$@"
EOF
chmod +x signetd-later
REAL_SIGNETD=$SIGNETD
SIGNETD=$WORK/signetd-later server_start
SIGNETD=$REAL_SIGNETD
req_json POST /v1/sessions - \
    "{\"name\":\"olga\",\"password\":\"$MFA_PW\",\"code\":\"$(totp_code "$OLGA_SECRET" 90000)\"}"
check_status "olga logs in 25 hours later (oathtool's code for then)" 201
OP=$(jget .token)
req GET /v1/reports "$OP"
OPEN=$(jget '[.reports[] | select(.state == "received")] | length')
UNACKED=$(jget '[.reports[] | select(.state == "received" and .deadlines.acknowledgement.met_at == null)] | length')
check_eq "received: R_P7, R_NONE, R_A, R_IVAN, the last and the burst's" \
    $((5 + N_BURST)) "$OPEN"
check_eq "never opened: R_NONE, R_A, R_IVAN, the last and the burst's" \
    $((4 + N_BURST)) "$UNACKED"
check_eq "open: every received report (confirmed ones informed Signet's CA)" \
    "$OPEN" "$(jget .overdue.open)"
check_eq "overdue acknowledgement: received and never opened" "$UNACKED" \
    "$(jget .overdue.acknowledgement)"
check_eq "overdue revocation and CA: every received report" "$OPEN $OPEN" \
    "$(jget '"\(.overdue.revocation) \(.overdue.ca_informed)"')"
check_eq "R_P7 (opened) is overdue for revocation, not acknowledgement" "true false" \
    "$(jget ".reports[] | select(.id == \"$R_P7\") | \"\(.deadlines.revocation.overdue) \(.deadlines.acknowledgement.overdue)\"")"
req GET "/v1/reports?overdue=1" "$OP"
check_eq "?overdue=1 lists exactly the received reports" "$OPEN" "$(jget '.reports | length')"
check_eq "... oldest first (filtered in SQL, not among the newest 200)" true \
    "$(jget '[.reports[].received_at] as $t | $t == ($t | sort) and ($t | length) > 1')"
check_eq "... R_P7 (the oldest received) among the first in its second" true \
    "$(jget "(.reports[0].received_at) == (.reports[] | select(.id == \"$R_P7\") | .received_at)")"
check_eq "... not the confirmed or the rejected one" "" \
    "$(jget ".reports[] | select(.id == \"$R_ANON\" or .id == \"$R_B\") | .id")"
LIST=$("$SIGNET" --token "$OP" report list --overdue 2>&1)
check_eq "signet report list --overdue: one OVERDUE line each" "$OPEN" \
    "$(grep -c 'OVERDUE' <<<"$LIST")"
check_match "... and the counts" "overdue: acknowledgement $UNACKED, revocation $OPEN, CA informed $OPEN" "$LIST"
for _ in $(seq 1 40); do
    M=$(curl -sS --cacert "$SERVER_CA" -H "Authorization: Bearer $OP" "$SERVER_URL/metrics")
    grep -q "signet_reports_overdue{deadline=\"revocation\"} $OPEN" <<<"$M" && break
    sleep 0.25
done
check_match "/metrics: overdue acknowledgements" \
    "signet_reports_overdue\\{deadline=\"acknowledgement\"\\} $UNACKED" "$M"
check_match "/metrics: overdue revocations" \
    "signet_reports_overdue\\{deadline=\"revocation\"\\} $OPEN" "$M"
check_match "/metrics: overdue CA notices" \
    "signet_reports_overdue\\{deadline=\"ca_informed\"\\} $OPEN" "$M"
server_stop
finish
