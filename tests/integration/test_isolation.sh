#!/usr/bin/env bash
# Isolation and authorization:
#  - subscriber B's token gets, on every key route, exactly the answer it
#    gets for a key that does not exist (404), A's keys are untouched and
#    A's audit log shows the attempts as "denied";
#  - B cannot read A's audit records;
#  - the admin token cannot sign or list keys (403);
#  - a sign-only token scoped to key X cannot use key Y (403), cannot
#    create, disable or make CSRs; a manage-only token cannot sign;
#  - revoked and expired tokens, unknown and malformed ones: 401;
#  - POST /v1/keys/import: 403 key_import_forbidden.
. "$(dirname "$0")/lib.sh"

server_start
A=$(new_subscriber alpha) || exit 1
B=$(new_subscriber bravo) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1
KA1=$(new_key "$TA" ecdsa-p256 "alpha one") || exit 1
KA2=$(new_key "$TA" ecdsa-p256 "alpha two") || exit 1
KB=$(new_key "$TB" ecdsa-p256 "bravo one") || exit 1
req GET /v1/whoami "$TB"
TB_ID=$(jget .token_id)

openssl dgst -sha256 -binary <<<"isolation" >"$WORK/d.bin"
DG=$(b64 "$WORK/d.bin")
SIGN_BODY="{\"digest_algorithm\":\"sha256\",\"digest\":\"$DG\"}"
# An issued certificate is not needed: B must be stopped before the body is
# looked at. A self-signed certificate of some other key will do.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$WORK/x.key" -out "$WORK/x.pem" -days 1 -subj /CN=x >/dev/null 2>&1 ||
    die "cannot make a throw-away certificate"

# ---- B's list ----
req GET /v1/keys "$TB"
check_status "B lists its keys" 200
check_eq "B's list is exactly B's key" "$KB" "$(jget '[.keys[].id] | join(" ")')"

# ---- every key route: A's key vs a missing key, with B's token ----
MISSING=$(rand_uuid)
# op NAME METHOD SUFFIX [curl args]: runs it on KA1 and on MISSING
op() {
    local name=$1 method=$2 suffix=$3
    shift 3
    req "$method" "/v1/keys/$KA1$suffix" "$TB" "$@"
    local s1=$STATUS b1=${BODY//$KA1/ID}
    req "$method" "/v1/keys/$MISSING$suffix" "$TB" "$@"
    local s2=$STATUS b2=${BODY//$MISSING/ID}
    STATUS=$s1 BODY=$b1
    check_error "B: $name on A's key" 404 not_found
    check_eq "B: $name on A's key answers exactly like a missing key" "$s2 $b2" "$s1 $b1"
}
J=(-H 'Content-Type: application/json')
op "show" GET ""
op "sign" POST /sign "${J[@]}" --data-binary "$SIGN_BODY"
op "batch sign" POST /sign "${J[@]}" --data-binary "{\"digest_algorithm\":\"sha256\",\"digests\":[\"$DG\"]}"
op "disable" POST /disable
op "enable" POST /enable
op "destroy" DELETE ""
op "csr" POST /csr "${J[@]}" --data-binary '{"subject":{"CN":"stolen"}}'
op "set-certificate" PUT /certificate -H 'Content-Type: application/x-pem-file' --data-binary @"$WORK/x.pem"
op "get certificate" GET /certificate
op "sign-file" POST "/sign-file?digest_algorithm=sha256" --data-binary @"$WORK/x.pem"
DENIED_ATTEMPTS=10

# Nothing happened to A's key.
req GET "/v1/keys/$KA1" "$TA"
check_eq "A's key is still enabled, with no certificate" "enabled null" \
    "$(jget '"\(.state) \(.certificate_pem)"')"
check_match "A's private key is still in A's HSM token" "label: +$KA1" "$(p11_privkeys "$A")"

# ---- audit: A sees the attempts, B sees nothing of A ----
req GET "/v1/audit?limit=1000" "$TA"
check_status "A's audit" 200
# Repeats of one refusal in a minute are one record whose detail ends
# " (xN)" (sign and batch sign share a route): the counts add up.
n=$(jget "[.records[] | select(.action == \"denied\" and .key == \"$KA1\" and .token == \"$TB_ID\") | ((.detail | capture(\" [(]x(?<n>[0-9]+)[)]\$\") | .n) // \"1\" | tonumber)] | add")
check_eq "A's audit: the 'denied' records of B's token on A's key count every attempt" "$DENIED_ATTEMPTS" "$n"
check_eq "A's audit: the denied records name the client" "127.0.0.1" \
    "$(jget "[.records[] | select(.action == \"denied\" and .key == \"$KA1\")][0].client")"
check_match "A's audit: the denied records say why" 'another subscriber' \
    "$(jget "[.records[] | select(.action == \"denied\" and .key == \"$KA1\")][0].detail")"
req GET "/v1/audit?limit=1000" "$TB"
check_status "B's audit" 200
check_eq "B's audit has no record of subscriber A" 0 \
    "$(jget "[.records[] | select(.subscriber == \"$A\" or .key == \"$KA1\" or .key == \"$KA2\")] | length")"
check_eq "B's audit is only B's" "$B" "$(jget '[.records[].subscriber] | unique | join(" ")')"
req GET "/v1/audit?key=$KA1" "$TB"
check_eq "B filtering its audit by A's key gets nothing" "200 0" "$STATUS $(jget '.records | length')"

# ---- token scopes ----
req_json POST "/v1/subscribers/$A/tokens" "$TB" '{"name":"evil","roles":["sign"]}'
check_error "B creates a token for A" 404 not_found
req_json POST "/v1/subscribers/$B/tokens" "$TB" "{\"name\":\"x\",\"roles\":[\"sign\"],\"keys\":[\"$KA1\"]}"
check_error "B creates a token scoped to A's key" 400 invalid_field

TS=$(new_token "$A" "\"roles\":[\"sign\"],\"keys\":[\"$KA1\"]" "$TA") || exit 1
req GET /v1/whoami "$TS"
check_eq "whoami of the scoped sign token" "$A false sign $KA1" \
    "$(jget '"\(.subscriber) \(.admin) \(.roles | join(",")) \(.keys | join(","))"')"
TS_ID=$(jget .token_id)
req_json POST "/v1/keys/$KA1/sign" "$TS" "$SIGN_BODY"
if check_status "scoped sign token signs with its key" 200; then
    unb64 "$(jget .signature)" "$WORK/s.sig"
    check_cmd "that signature verifies" openssl pkeyutl -verify -pubin -inkey "$WORK/pub.$KA1.pem" \
        -sigfile "$WORK/s.sig" -in "$WORK/d.bin" -pkeyopt digest:sha256
fi
req_json POST "/v1/keys/$KA2/sign" "$TS" "$SIGN_BODY"
check_error "scoped sign token signs with another key of its subscriber" 403 forbidden
req GET /v1/keys "$TS"
check_eq "scoped token lists only its key" "$KA1" "$(jget '[.keys[].id] | join(" ")')"
req GET "/v1/keys/$KA2" "$TS"
check_error "scoped token shows a key outside its scope" 403 forbidden
n_before=$(key_count "$TA")
req_json POST /v1/keys "$TS" '{"algorithm":"ecdsa-p256","label":"nope"}'
check_error "sign-only token creates a key" 403 forbidden
check_eq "no key was created" "$n_before" "$(key_count "$TA")"
req POST "/v1/keys/$KA1/disable" "$TS"
check_error "sign-only token disables a key" 403 forbidden
req DELETE "/v1/keys/$KA1" "$TS"
check_error "sign-only token destroys a key" 403 forbidden
req_json POST "/v1/keys/$KA1/csr" "$TS" '{"subject":{"CN":"x"}}'
check_error "sign-only token makes a CSR" 403 forbidden
req PUT "/v1/keys/$KA1/certificate" "$TS" -H 'Content-Type: application/x-pem-file' --data-binary @"$WORK/x.pem"
check_error "sign-only token sets a certificate" 403 forbidden
req_json POST "/v1/subscribers/$A/tokens" "$TS" '{"name":"more","roles":["manage"]}'
check_status "sign-only token creates a token (escalation)" 404
req GET "/v1/keys/$KA1" "$TA"
check_eq "KA1 still enabled after the sign token's attempts" enabled "$(jget .state)"

TM=$(new_token "$A" '"roles":["manage"]' "$TA") || exit 1
req_json POST "/v1/keys/$KA1/sign" "$TM" "$SIGN_BODY"
check_error "manage-only token signs" 403 forbidden
req POST "/v1/keys/$KA1/sign-file" "$TM" --data-binary @"$WORK/x.pem"
check_error "manage-only token signs a file" 403 forbidden
req GET "/v1/audit?limit=1000" "$TA"
check_match "A's audit records the scope denial" 'key outside token scope' \
    "$(jget "[.records[] | select(.action == \"denied\" and .token == \"$TS_ID\") | .detail] | join(\";\")")"
check_match "A's audit records the missing role" 'role missing' \
    "$(jget '[.records[] | select(.action == "denied") | .detail] | join(";")')"

# ---- admin token ----
req_json POST "/v1/keys/$KA1/sign" "$ADMIN" "$SIGN_BODY"
check_error "admin token signs" 403 forbidden
req POST "/v1/keys/$KA1/sign-file" "$ADMIN" --data-binary @"$WORK/x.pem"
check_error "admin token signs a file" 403 forbidden
req GET /v1/keys "$ADMIN"
check_error "admin token lists keys" 403 forbidden
req_json POST /v1/keys "$ADMIN" '{"algorithm":"ecdsa-p256","label":"admin key"}'
check_error "admin token creates a key" 403 forbidden
req GET /v1/audit "$ADMIN"
check_error "admin token reads the audit log" 403 forbidden
req GET /v1/subscribers "$TA"
check_error "subscriber token lists subscribers" 403 forbidden
req_json POST /v1/subscribers "$TA" '{"name":"sneaky"}'
check_error "subscriber token creates a subscriber" 403 forbidden

# ---- key import ----
req_json POST /v1/keys/import "$TA" '{"algorithm":"rsa-3072","private_key_pem":"-----BEGIN PRIVATE KEY-----"}'
check_error "key import (subscriber)" 403 key_import_forbidden
req POST /v1/keys/import "$ADMIN"
check_error "key import (admin)" 403 key_import_forbidden
req GET "/v1/audit?limit=1000" "$TA"
check_match "A's audit records the import attempt" 'import' \
    "$(jget '[.records[] | select(.action == "denied") | .detail] | join(";")')"

# ---- revoked tokens ----
TR=$(new_token "$A" '"roles":["sign"]' "$TA") || exit 1
req GET /v1/whoami "$TR"
TR_ID=$(jget .token_id)
req_json POST "/v1/keys/$KA1/sign" "$TR" "$SIGN_BODY"
check_status "fresh token signs" 200
req DELETE "/v1/tokens/$TR_ID" "$TB"
check_error "B revokes A's token" 404 not_found
req DELETE "/v1/tokens/$TR_ID" "$TA"
check_status "A revokes its token" 200 && check_eq "revocation answer" "$TR_ID" "$(jget .id)"
req_json POST "/v1/keys/$KA1/sign" "$TR" "$SIGN_BODY"
check_error "revoked token signs" 401 unauthorized
req GET /v1/whoami "$TR"
check_error "revoked token whoami" 401 unauthorized
req DELETE "/v1/tokens/$TR_ID" "$TA"
check_error "revoke it again" 404 not_found
req DELETE "/v1/tokens/$(rand_uuid)" "$ADMIN"
check_error "revoke an unknown token" 404 not_found

# ---- expired tokens ----
exp=$(date -u -d "@$(($(date +%s) + 3))" +%Y-%m-%dT%H:%M:%SZ)
TE=$(new_token "$A" "\"roles\":[\"sign\"],\"expires_at\":\"$exp\"" "$TA") || exit 1
req_json POST "/v1/keys/$KA1/sign" "$TE" "$SIGN_BODY"
check_status "token before its expiry signs" 200
past=$(date -u -d "@$(($(date +%s) - 60))" +%Y-%m-%dT%H:%M:%SZ)
req_json POST "/v1/subscribers/$A/tokens" "$TA" "{\"name\":\"old\",\"roles\":[\"sign\"],\"expires_at\":\"$past\"}"
check_error "token that expires in the past" 400 invalid_field
req_json POST "/v1/subscribers/$A/tokens" "$TA" '{"name":"bad","roles":["sign"],"expires_at":"tomorrow"}'
check_error "token expiry that is not RFC 3339" 400 invalid_field
sleep 4.5
req_json POST "/v1/keys/$KA1/sign" "$TE" "$SIGN_BODY"
check_error "expired token signs" 401 unauthorized
check_match "message says expired" 'expired' "$(jget .message)"

# ---- malformed and unknown tokens ----
req GET /v1/keys -
check_error "no Authorization" 401 unauthorized
req GET /v1/keys - -H "Authorization: Basic dXNlcjpwYXNz"
check_error "Basic authorization" 401 unauthorized
req GET /v1/keys - -H "Authorization: Bearer"
check_error "empty bearer" 401 unauthorized
req GET /v1/keys "not-a-token"
check_error "malformed token" 401 unauthorized
req GET /v1/keys "sn_$(rand_uuid)_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
check_error "well-formed unknown token" 401 unauthorized
wrong=${TA%?}
[ "${TA: -1}" = A ] && wrong+=B || wrong+=A
req GET /v1/keys "$wrong"
check_error "A's token id with a wrong secret" 401 unauthorized
req GET /v1/keys "${TA}x"
check_error "A's token with a character appended" 401 unauthorized
req GET /v1/keys "$(head -c 5000 /dev/zero | tr '\0' a)"
check_error "a 5000-character token" 401 unauthorized
req GET /v1/keys "$TA"
check_status "A's real token still works" 200

# ---- a token hands out no more than it holds ----
exp_late=$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)
exp_soon=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
TL=$(new_token "$A" "\"roles\":[\"manage\"],\"keys\":[\"$KA1\"],\"expires_at\":\"$exp_soon\"" "$TA") || exit 1
req_json POST "/v1/subscribers/$A/tokens" "$TL" '{"name":"up","roles":["manage","sign"],"keys":["'"$KA1"'"]}'
check_error "a manage-only token cannot grant sign" 403 forbidden
req_json POST "/v1/subscribers/$A/tokens" "$TL" '{"name":"wide","roles":["manage"]}'
check_error "a token limited to a key cannot grant all keys" 403 forbidden
req_json POST "/v1/subscribers/$A/tokens" "$TL" '{"name":"other","roles":["manage"],"keys":["'"$KA2"'"]}'
check_error "a token limited to a key cannot grant another key" 403 forbidden
req_json POST "/v1/subscribers/$A/tokens" "$TL" '{"name":"later","roles":["manage"],"keys":["'"$KA1"'"],"expires_at":"'"$exp_late"'"}'
check_error "a token cannot grant a later expiry than its own" 403 forbidden
# A key-limited token creates no tokens at all (issue 14: test_scope.sh);
# an unlimited one with an expiry hands out what it holds.
req_json POST "/v1/subscribers/$A/tokens" "$TL" '{"name":"same","roles":["manage"],"keys":["'"$KA1"'"]}'
check_error "a key-limited token cannot create tokens, not even what it holds" 403 forbidden
TM=$(new_token "$A" "\"roles\":[\"manage\"],\"expires_at\":\"$exp_soon\"" "$TA") || exit 1
req_json POST "/v1/subscribers/$A/tokens" "$TM" '{"name":"up","roles":["manage","sign"]}'
check_error "a manage-only token cannot grant sign (unlimited)" 403 forbidden
req_json POST "/v1/subscribers/$A/tokens" "$TM" '{"name":"later","roles":["manage"],"expires_at":"'"$exp_late"'"}'
check_error "a token cannot grant a later expiry than its own (unlimited)" 403 forbidden
req_json POST "/v1/subscribers/$A/tokens" "$TM" '{"name":"same","roles":["manage"],"keys":["'"$KA1"'"]}'
check_status "a token may grant what it holds" 201
check_eq "the granted token inherits the expiry" "$exp_soon" "$(jget .expires_at)"

check_healthy
server_stop
finish
