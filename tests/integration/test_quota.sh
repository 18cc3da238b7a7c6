#!/usr/bin/env bash
# Per-subscriber quotas (issue 14), with small limits configured:
#  - quota.keys = 3: a fourth key is refused (409 conflict, naming the
#    quota) and nothing is generated; destroying a key makes room;
#  - quota.key_generations = 2: of four RSA-4096 generations started at
#    once by one subscriber, those beyond two are refused at once (429
#    too_many_requests) while another subscriber still creates a key;
#  - quota.certificates_per_day = 1: a second issuance in a day is 429.
. "$(dirname "$0")/lib.sh"

server_init
set_conf quota.keys 3
set_conf quota.key_generations 2
set_conf quota.certificates_per_day 1
server_start
A=$(new_subscriber alpha) || exit 1
B=$(new_subscriber bravo) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1

# ---- quota.keys ----
K1=$(new_key "$TA" ecdsa-p256 "one") || exit 1
K2=$(new_key "$TA" ecdsa-p256 "two") || exit 1
K3=$(new_key "$TA" ecdsa-p256 "three") || exit 1
req_json POST /v1/keys "$TA" '{"algorithm":"ecdsa-p256","label":"four"}'
check_error "a fourth key beyond quota.keys = 3" 409 conflict
check_match "the answer names the quota" 'quota.keys' "$(jget .message)"
check_eq "A still has three keys" 3 "$(key_count "$TA")"
check_eq "A's HSM token holds three private keys" 3 \
    "$(p11_privkeys "$A" | grep -c 'Private Key Object')"
req DELETE "/v1/keys/$K3" "$TA"
check_status "destroy a key" 200
req_json POST /v1/keys "$TA" '{"algorithm":"ecdsa-p256","label":"four"}'
check_status "a key again once one is destroyed" 201

# ---- quota.key_generations (B: four RSA-4096 at once) ----
for i in 1 2 3 4; do
    curl -sS --max-time 120 --cacert "$SERVER_CA" -H "Authorization: Bearer $TB" \
        -H 'Content-Type: application/json' -o "$WORK/gen.$i.json" -w '%{http_code}' \
        --data-binary '{"algorithm":"rsa-4096","label":"big"}' \
        "$SERVER_URL/v1/keys" >"$WORK/gen.$i.status" 2>/dev/null &
    EXTRA_PIDS+=($!)
done
# While B's generations run, A creates a key (its own quota).
sleep 0.3
req DELETE "/v1/keys/$K2" "$TA"
req_json POST /v1/keys "$TA" '{"algorithm":"ecdsa-p256","label":"five"}'
check_status "A creates a key while B's generations run" 201
wait "${EXTRA_PIDS[@]}"
EXTRA_PIDS=()
ok=0 busy=0 other=
for i in 1 2 3 4; do
    s=$(cat "$WORK/gen.$i.status")
    case "$s" in
    201) ok=$((ok + 1)) ;;
    429) busy=$((busy + 1))
         check_eq "refused generation $i: error code" too_many_requests "$(jget .error "$(cat "$WORK/gen.$i.json")")"
         check_match "refused generation $i names the quota" 'quota.key_generations' \
             "$(jget .message "$(cat "$WORK/gen.$i.json")")" ;;
    *) other+=" $s" ;;
    esac
done
check_eq "no answer other than 201 or 429" "" "$other"
check_eq "generations beyond two at once are refused: 201s + 429s" "2 2" "$ok $busy"
check_eq "B holds the keys it was answered 201 for" "$ok" "$(key_count "$TB")"
req_json POST /v1/keys "$TB" '{"algorithm":"ecdsa-p256","label":"after"}'
check_status "B creates a key once its generations are done" 201

# ---- quota.certificates_per_day ----
req_json PUT "/v1/subscribers/$A/identity" "$ADMIN" '{"O":"Acme","C":"US","ST":"CA"}'
[ "$STATUS" = 200 ] || die "identity: HTTP $STATUS $BODY"
issue() { # issue KEY
    req_json POST "/v1/keys/$1/csr" "$TA" '{"subject":{"CN":"Acme","O":"Acme","C":"US","ST":"CA"}}'
    [ "$STATUS" = 200 ] || die "CSR for $1: HTTP $STATUS $BODY"
    req POST /v1/ca/certificates "$TA" -H 'Content-Type: application/json' \
        --data-binary "$(jq -n --arg c "$(jget .csr_pem)" '{csr_pem: $c}')"
}
issue "$K1"
check_status "the first certificate of the day" 201
issue "$K1"
check_error "a second certificate beyond quota.certificates_per_day = 1" 429 too_many_requests
check_match "the answer names the quota" 'quota.certificates_per_day' "$(jget .message)"

check_healthy
server_stop
finish
