#!/usr/bin/env bash
# Per-key signing policy (issue 16). With static tokens from 127.0.0.1:
#  - source_cidrs: a key allowing only 10.0.0.0/8 refuses (403
#    policy_denied), the same key allowing 127.0.0.0/8 signs (the cached
#    policy is dropped by the PUT);
#  - windows: a window on another weekday refuses;
#  - principals: a token the policy does not list is refused, one it lists
#    signs;
#  - require_strong_auth: a static token is refused (403
#    strong_auth_required), by the key's policy and by the instance default
#    (auth.require_strong_auth = true, which signetd init writes);
#  - a subscriber's default governs a key without a policy of its own;
#  - quota: per_hour 50, 8 parallel clients x 20 requests: exactly 50
#    signatures come back, each verified by openssl pkeyutl, the other
#    110 are 429 quota_exceeded with Retry-After; a batch of N counts N;
#  - bad policy bodies are 400 naming the field, and change nothing;
#    another subscriber's key looks missing; a sign-only token cannot set;
#  - the audit log shows the rule that decided, allow and deny, with the
#    principal.
. "$(dirname "$0")/lib.sh"

server_start
A=$(new_subscriber alpha) || exit 1
B=$(new_subscriber beta) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TS=$(new_token "$A" '"roles":["sign"]') || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1
K1=$(new_key "$TA" ecdsa-p256 "cidr") || exit 1
K2=$(new_key "$TA" ecdsa-p256 "quota") || exit 1
K3=$(new_key "$TA" ecdsa-p256 "no policy") || exit 1
req GET /v1/whoami "$TA"
TA_ID=$(jget .token_id)
req GET /v1/whoami "$TS"
TS_ID=$(jget .token_id)

openssl dgst -sha256 -binary <<<"policy" >"$WORK/d.bin"
D=$(b64 "$WORK/d.bin")
SIGN_BODY="{\"digest_algorithm\":\"sha256\",\"digest\":\"$D\"}"

# sign KEY TOKEN: one signature, verified by openssl when it is 200.
sign() {
    req_json POST "/v1/keys/$1/sign" "$2" "$SIGN_BODY"
    if [ "$STATUS" = 200 ]; then
        unb64 "$(jget .signature)" "$WORK/sig"
        openssl pkeyutl -verify -pubin -inkey "$WORK/pub.$1.pem" \
            -sigfile "$WORK/sig" -in "$WORK/d.bin" >/dev/null 2>&1 ||
            STATUS=bad-signature
    fi
}

# ---- no policy: signs (this home's auth.require_strong_auth is false) ----
sign "$K1" "$TA"
check_status "no policy: a static token signs (openssl verifies)" 200
req GET "/v1/keys/$K1/policy" "$TA"
check_eq "no policy: the source is the instance" "instance null false" \
    "$(jget '"\(.source) \(.policy) \(.require_strong_auth)"')"

# ---- source_cidrs ----
req_json PUT "/v1/keys/$K1/policy" "$TA" '{"source_cidrs":["10.0.0.0/8"]}'
check_status "PUT a policy allowing 10.0.0.0/8 only" 200
sign "$K1" "$TA"
check_error "sign from 127.0.0.1 with only 10.0.0.0/8 allowed" 403 policy_denied
check_match "the answer names the rule" 'source_cidrs' "$(jget .message)"
req_json PUT "/v1/keys/$K1/policy" "$TA" '{"source_cidrs":["10.0.0.0/8","127.0.0.0/8","::1/128"]}'
check_status "PUT a policy allowing 127.0.0.0/8 too" 200
sign "$K1" "$TA"
check_status "sign from 127.0.0.1 with 127.0.0.0/8 allowed (openssl verifies)" 200
req GET "/v1/keys/$K1/policy" "$TA"
check_eq "GET shows the key's own policy, canonical" \
    'key ["10.0.0.0/8","127.0.0.0/8","::1/128"]' \
    "$(jget '"\(.source) \(.policy.source_cidrs | tojson)"')"

# ---- windows: another weekday only ----
days=(sun mon tue wed thu fri sat)
other=${days[$((($(date -u +%w) + 3) % 7))]}
req_json PUT "/v1/keys/$K1/policy" "$TA" \
    "{\"windows\":[{\"days\":[\"$other\"],\"from\":\"00:00\",\"to\":\"24:00\",\"tz\":\"UTC\"}]}"
check_status "PUT a policy with a window on $other only" 200
sign "$K1" "$TA"
check_error "sign outside the key's windows" 403 policy_denied
check_match "the answer names the rule" 'windows' "$(jget .message)"
today=${days[$(date -u +%w)]}
req_json PUT "/v1/keys/$K1/policy" "$TA" \
    "{\"windows\":[{\"days\":[\"$other\",\"$today\"],\"from\":\"00:00\",\"to\":\"24:00\"}]}"
sign "$K1" "$TA"
check_status "sign inside the key's windows (today, $today)" 200

# ---- principals ----
req_json PUT "/v1/keys/$K1/policy" "$TA" "{\"principals\":{\"tokens\":[\"$TS_ID\"]}}"
check_status "PUT a policy listing the sign-only token" 200
sign "$K1" "$TA"
check_error "a token the policy does not list" 403 policy_denied
check_match "the answer names the rule" 'principals' "$(jget .message)"
sign "$K1" "$TS"
check_status "the listed token signs (openssl verifies)" 200

# ---- require_strong_auth in the key's policy ----
req_json PUT "/v1/keys/$K1/policy" "$TA" '{"require_strong_auth":true}'
check_status "PUT require_strong_auth" 200
sign "$K1" "$TA"
check_error "a static token with require_strong_auth" 403 strong_auth_required
# Nor may it lift what it cannot meet: policy changes now take a strong
# principal, here a manager's login session with its second factor.
req_json PUT "/v1/keys/$K1/policy" "$TA" '{"require_strong_auth":false}'
check_error "the static token cannot lift require_strong_auth" 403 strong_auth_required
mfa_person mara '["manage"]' "$ADMIN" "$A" && SA=$P_TOKEN

# ---- bad bodies: 400 naming the field, nothing changes ----
bad_body() {
    req_json PUT "/v1/keys/$K1/policy" "$SA" "$2"
    check_error "$1" 400 invalid_field && check_match "$1: names $3" "$3" "$(jget .message)"
}
bad_body "an unknown field" '{"soruce_cidrs":["10.0.0.0/8"]}' soruce_cidrs
bad_body "host bits in a range" '{"source_cidrs":["10.1.2.3/8"]}' 'source_cidrs\[0\]'
bad_body "a prefix too long" '{"source_cidrs":["::1/129"]}' 'source_cidrs\[0\]'
bad_body "a window over midnight" \
    '{"windows":[{"days":["mon"],"from":"22:00","to":"02:00"}]}' 'windows\[0\].to'
bad_body "a time zone other than UTC" \
    '{"windows":[{"days":["mon"],"from":"08:00","to":"18:00","tz":"Europe/Berlin"}]}' 'windows\[0\].tz'
bad_body "a zero quota" '{"quota":{"per_hour":0}}' 'quota.per_hour'
bad_body "require_strong_auth as text" '{"require_strong_auth":"no"}' require_strong_auth
req PUT "/v1/keys/$K1/policy" "$TA" -H 'Content-Type: application/json' --data-binary '{"source_cidrs":'
check_status "malformed JSON" 400
req GET "/v1/keys/$K1/policy" "$TA"
check_eq "the refused bodies changed nothing" 'key true' \
    "$(jget '"\(.source) \(.policy.require_strong_auth)"')"
req_json PUT "/v1/keys/$K1/policy" "$TB" '{"source_cidrs":["10.0.0.0/8"]}'
check_error "another subscriber's key" 404 not_found
req_json PUT "/v1/keys/$K1/policy" "$TS" '{"source_cidrs":["10.0.0.0/8"]}'
check_error "a sign-only token sets a policy" 403 forbidden
req_json PUT "/v1/subscribers/$A/policy" "$TB" '{"source_cidrs":["10.0.0.0/8"]}'
check_error "another subscriber's default" 404 not_found
req_json PUT "/v1/subscribers/$A/policy" "$TA" "{\"principals\":{\"tokens\":[\"$TS_ID\"]}}"
check_error "a subscriber default naming principals" 400 invalid_field

# ---- the subscriber's default ----
req_json PUT "/v1/subscribers/$A/policy" "$TA" '{"source_cidrs":["10.0.0.0/8"]}'
check_status "PUT the subscriber's default (10.0.0.0/8)" 200
sign "$K3" "$TA"
check_error "a key without a policy under the subscriber's default" 403 policy_denied
check_match "the answer names the subscriber's policy" 'subscriber policy source_cidrs' "$(jget .message)"
req GET "/v1/keys/$K3/policy" "$TA"
check_eq "GET: the key is governed by the subscriber's default" subscriber "$(jget .source)"
sign "$K1" "$TS"
check_error "a key with its own policy is governed by it, not the default" 403 strong_auth_required
req DELETE "/v1/keys/$K1/policy" "$SA"
check_status "DELETE the key's policy (the manager's MFA session)" 200
req DELETE "/v1/keys/$K1/policy" "$SA"
check_error "DELETE it again" 404 not_found
sign "$K1" "$TA"
check_error "after the DELETE the subscriber's default decides" 403 policy_denied
req DELETE "/v1/subscribers/$A/policy" "$TA"
check_status "DELETE the subscriber's default" 200
sign "$K3" "$TA"
check_status "with neither, the key signs again" 200

# ---- quota: exact under concurrency ----
# Not across an hour boundary (the hour's count starts again at zero).
left=$((3600 - $(date -u +%s) % 3600))
[ "$left" -lt 40 ] && { log "waiting ${left}s for the next hour"; sleep $((left + 1)); }
req_json PUT "/v1/keys/$K2/policy" "$TA" '{"quota":{"per_hour":50}}'
check_status "PUT per_hour 50" 200
pids=()
for c in 1 2 3 4 5 6 7 8; do
    (
        for i in $(seq 1 20); do
            curl -sS --max-time 60 --cacert "$SERVER_CA" -X POST \
                -H "Authorization: Bearer $TA" -H 'Content-Type: application/json' \
                --data-binary "$SIGN_BODY" -D "$WORK/q.$c.$i.head" \
                -o "$WORK/q.$c.$i.body" -w '%{http_code}' \
                "$SERVER_URL/v1/keys/$K2/sign" >"$WORK/q.$c.$i.status" 2>/dev/null
        done
    ) &
    pids+=($!)
done
wait "${pids[@]}" # not the server's
ok=0 refused=0 other=0 verified=0 retry=0
for f in "$WORK"/q.*.status; do
    s=$(cat "$f")
    b=${f%.status}.body
    case $s in
    200)
        ok=$((ok + 1))
        unb64 "$(jq -r .signature "$b")" "$WORK/qsig"
        openssl pkeyutl -verify -pubin -inkey "$WORK/pub.$K2.pem" -sigfile "$WORK/qsig" \
            -in "$WORK/d.bin" >/dev/null 2>&1 && verified=$((verified + 1))
        ;;
    429)
        if [ "$(jq -r .error "$b")" = quota_exceeded ]; then
            refused=$((refused + 1))
            grep -qi '^retry-after: [1-9]' "${f%.status}.head" && retry=$((retry + 1))
        else
            other=$((other + 1))
        fi
        ;;
    *) other=$((other + 1)) ;;
    esac
done
check_eq "8 x 20 concurrent requests: signatures returned" 50 "$ok"
check_eq "each of them verified by openssl pkeyutl" 50 "$verified"
check_eq "the others: 429 quota_exceeded" 110 "$refused"
check_eq "each 429 with a Retry-After" 110 "$retry"
check_eq "no other answer" 0 "$other"
req GET "/v1/audit?key=$K2&limit=1000" "$TA"
check_eq "the audit log holds exactly 50 signatures of the key" 50 \
    "$(jget '[.records[] | select(.action == "sign" and .result == "ok")] | length')"

# A batch of N counts N: per_hour 5, three then three (refused whole) then two.
K4=$(new_key "$TA" ecdsa-p256 "batch") || exit 1
req_json PUT "/v1/keys/$K4/policy" "$TA" '{"quota":{"per_hour":5,"per_day":100}}'
BATCH3="{\"digest_algorithm\":\"sha256\",\"digests\":[\"$D\",\"$D\",\"$D\"]}"
BATCH2="{\"digest_algorithm\":\"sha256\",\"digests\":[\"$D\",\"$D\"]}"
req_json POST "/v1/keys/$K4/sign" "$TA" "$BATCH3"
check_eq "a batch of 3 of 5" "200 3" "$STATUS $(jget '.signatures | length')"
req_json POST "/v1/keys/$K4/sign" "$TA" "$BATCH3"
check_error "a batch of 3 more than the 2 left" 429 quota_exceeded
req_json POST "/v1/keys/$K4/sign" "$TA" "$BATCH2"
check_eq "a batch of the 2 left" "200 2" "$STATUS $(jget '.signatures | length')"
sign "$K4" "$TA"
check_error "one more" 429 quota_exceeded

# ---- the audit log: the rule that decided, and the principal ----
req GET "/v1/audit?limit=1000" "$TA"
check_match "an allowed signature: the key's policy decided" \
    "allow key $TA_ID" \
    "$(jget "[.records[] | select(.action == \"sign\" and .key == \"$K2\") | \"\(.policy) \(.principal)\"] | unique | join(\"|\")")"
check_match "an allowed signature without a policy: the instance default" \
    "allow instance" \
    "$(jget "[.records[] | select(.action == \"sign\" and .key == \"$K3\") | .policy] | unique | join(\"|\")")"
denials=$(jget '[.records[] | select(.result == "denied") | "\(.policy);\(.principal);\(.detail)"] | join("\n")')
for rule in "deny key source_cidrs;$TA_ID" "deny key windows;$TA_ID" \
    "deny key principals;$TA_ID" "deny key require_strong_auth;$TA_ID" \
    "deny subscriber source_cidrs;$TA_ID" "deny key quota.per_hour;$TA_ID"; do
    check_match "A's log: $rule" "$rule" "$denials"
done
check_match "the folded quota refusals are counted" 'quota.per_hour \(x[0-9]+\)' "$denials"
actions=$(jget '[.records[].action] | unique | join(" ")')
for a in key_policy_set key_policy_delete subscriber_policy_set subscriber_policy_delete; do
    check_match "the log records $a" "$a" "$actions"
done

# ---- the instance default, as signetd init writes it ----
"$SIGNETD" init --home "$WORK/home2" >"$WORK/init2.log" 2>&1 || die "init: $(cat "$WORK/init2.log")"
check_eq "signetd init writes auth.require_strong_auth = true" 1 \
    "$(grep -c '^auth.require_strong_auth = true$' "$WORK/home2/signetd.conf")"
server_stop
set_conf auth.require_strong_auth true
server_start
sign "$K3" "$TA"
check_error "instance default on: a static token, key without a policy" 403 strong_auth_required
req_json PUT "/v1/keys/$K3/policy" "$TA" '{"require_strong_auth":false}'
check_error "instance default on: a static token cannot opt a key out" 403 strong_auth_required
req_json PUT "/v1/keys/$K3/policy" "$SA" '{"require_strong_auth":false}'
check_status "the manager's MFA session can" 200
sign "$K3" "$TA"
check_status "a key whose policy says require_strong_auth false" 200
check_healthy
finish
