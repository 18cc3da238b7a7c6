#!/usr/bin/env bash
# A key-scoped token acts on its keys only (issue 14). A manage+sign token
# limited to key K1 of subscriber A:
#  - cannot create or import keys, create tokens, revoke the subscriber's
#    unlimited token, read K2's or the subscriber-wide audit records, record
#    an identity: 403, and nothing changes (the unlimited token still works,
#    no key appears);
#  - still lists, signs with (judged by openssl pkeyutl), disables and
#    enables K1, reads K1's audit records (and only those), and may revoke
#    itself;
#  - its refused tries are in A's audit log as 'denied'.
. "$(dirname "$0")/lib.sh"

server_start
A=$(new_subscriber alpha) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
K1=$(new_key "$TA" ecdsa-p256 "one") || exit 1
K2=$(new_key "$TA" ecdsa-p256 "two") || exit 1
TL=$(new_token "$A" "\"roles\":[\"manage\",\"sign\"],\"keys\":[\"$K1\"]") || exit 1
req GET /v1/whoami "$TA"
TA_ID=$(jget .token_id)
req GET /v1/whoami "$TL"
TL_ID=$(jget .token_id)
check_eq "the limited token is limited to K1" "$K1" "$(jget '.keys | join(" ")')"

openssl dgst -sha256 -binary <<<"scope" >"$WORK/d.bin"
SIGN_BODY="{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d.bin")\"}"

# ---- subscriber-wide acts: refused ----
req_json POST /v1/keys "$TL" '{"algorithm":"ecdsa-p256","label":"more"}'
check_error "a key-scoped token creates a key" 403 forbidden
req POST /v1/keys/import "$TL"
check_error "a key-scoped token imports a key" 403 key_import_forbidden
req_json POST "/v1/subscribers/$A/tokens" "$TL" "{\"name\":\"sub\",\"roles\":[\"sign\"],\"keys\":[\"$K1\"]}"
check_error "a key-scoped token creates a token (within its own scope)" 403 forbidden
req DELETE "/v1/tokens/$TA_ID" "$TL"
check_error "a key-scoped token revokes the subscriber's unlimited token" 403 forbidden
req GET "/v1/audit?key=$K2" "$TL"
check_error "a key-scoped token reads another key's audit records" 403 forbidden
req GET /v1/audit "$TL"
check_error "a key-scoped token reads the subscriber-wide audit" 403 forbidden
req_json PUT "/v1/subscribers/$A/identity" "$TL" '{"O":"Mallory","C":"US"}'
check_error "a key-scoped token records an identity" 403 forbidden

# Nothing changed.
req GET /v1/keys "$TA"
check_eq "A still has exactly its two keys" "$(printf '%s\n' "$K1" "$K2" | sort | tr '\n' ' ')" \
    "$(jget '[.keys[].id] | sort | join(" ")') "
req GET /v1/whoami "$TA"
check_status "the unlimited token still works" 200

# ---- its own key: still works ----
req GET /v1/keys "$TL"
check_eq "the scoped token lists K1 only" "$K1" "$(jget '[.keys[].id] | join(" ")')"
req_json POST "/v1/keys/$K1/sign" "$TL" "$SIGN_BODY"
if check_status "the scoped token signs with K1" 200; then
    unb64 "$(jget .signature)" "$WORK/sig"
    check_cmd "openssl pkeyutl verifies K1's signature" openssl pkeyutl -verify -pubin \
        -inkey "$WORK/pub.$K1.pem" -sigfile "$WORK/sig" -in "$WORK/d.bin"
fi
req_json POST "/v1/keys/$K2/sign" "$TL" "$SIGN_BODY"
check_error "the scoped token signs with K2" 403 forbidden
req POST "/v1/keys/$K1/disable" "$TL"
check_status "the scoped token disables K1" 200
req POST "/v1/keys/$K1/enable" "$TL"
check_status "the scoped token enables K1" 200
req GET "/v1/audit?key=$K1&limit=1000" "$TL"
if check_status "the scoped token reads K1's audit records" 200; then
    check_eq "only K1's records" "$K1" "$(jget '[.records[].key] | unique | join(" ")')"
    check_match "K1's signature is among them" 'sign' "$(jget '[.records[].action] | join(" ")')"
fi

# ---- the attempts are on record (read with the unlimited token) ----
req GET "/v1/audit?limit=1000" "$TA"
denied=$(jget "[.records[] | select(.result == \"denied\" and .token == \"$TL_ID\") | .detail] | join(\"|\")")
check_match "A's log: the key creation try" 'key creation by a key-limited token' "$denied"
check_match "A's log: the token creation try" 'token creation by a key-limited token' "$denied"
check_match "A's log: the revocation try" 'token revocation by a key-limited token' "$denied"
check_match "A's log: the audit read of K2" 'audit read outside token scope' "$denied"

# ---- it may revoke itself, and then it is dead ----
req DELETE "/v1/tokens/$TL_ID" "$TL"
check_status "the scoped token revokes itself" 200
req_json POST "/v1/keys/$K1/sign" "$TL" "$SIGN_BODY"
check_error "the revoked scoped token signs" 401 unauthorized
req_json POST "/v1/keys/$K1/sign" "$TA" "$SIGN_BODY"
check_status "the unlimited token still signs" 200

check_healthy
server_stop
finish
