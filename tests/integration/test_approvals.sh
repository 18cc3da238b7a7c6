#!/usr/bin/env bash
# k-of-n approval of release signing (issue 17). A key whose policy
# requires 2 of 3 approvers (people's accounts, logged in with a password
# and a TOTP code from oathtool):
#  - a pipeline's digest signing answers 202 with Location and
#    Retry-After; two approvals release exactly the digest asked, whose
#    signature openssl verifies; the requester fetches it with GET;
#  - one vote per approver (409 already_voted); the requester cannot
#    approve its own request (403); a deny after one approval ends it;
#    approval after expiry is refused (409 request_state), the sweeper
#    having expired it unread; approving digest X releases X, never Y (a
#    body sent with the approval changes nothing); racing approvals make
#    exactly one transition and one signature; a requester revoked while
#    waiting gets none (failed);
#  - bad input changes nothing: malformed ids, oversize bodies, another
#    subscriber's request (404), a session of a person who is not an
#    approver, a session without its second factor, a static token trying
#    to approve (403); sign-file with such a key is 409 approval_required;
#  - every transition is an audit record;
#  - the CLI waits (signet sign-digest --wait, signet sign --wait) and
#    prints what a direct sign prints; signet request
#    list/show/approve/deny/cancel;
#  - the PKCS#11 module (third argument): C_Sign waits up to approval_wait
#    and returns the approved signature (openssl verifies), or fails saying
#    which request and why.
. "$(dirname "$0")/lib.sh" "$@"

command -v oathtool >/dev/null || die "oathtool is not installed"

server_start
unset SIGNET_TOKEN
PW='correct horse battery staple'
A=$(new_subscriber alpha) || exit 1
B=$(new_subscriber beta) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TS=$(new_token "$A" '"roles":["sign"]') || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$TA" ecdsa-p256 release) || exit 1
req GET /v1/whoami "$TS"
TS_ID=$(jget .token_id)
# A certificate, so that sign-file is refused for approvals alone and the
# CLI can build a CMS.
"$SIGNET" --token "$ADMIN" subscriber identity "$A" --O "Acme Corp" --C DE \
    --ST Berlin --L Berlin >"$WORK/identity.out" 2>&1 ||
    die "identity: $(cat "$WORK/identity.out")"
"$SIGNET" --token "$TA" key certify "$K" -o "$WORK/chain.pem" \
    --subject "/CN=Acme Corp/O=Acme Corp/C=DE/ST=Berlin/L=Berlin" \
    >"$WORK/certify.out" 2>&1 || die "certify: $(cat "$WORK/certify.out")"

# ---- people: accounts, TOTP from oathtool, sessions with MFA ----


# person NAME ROLES_JSON MANAGE_TOKEN [SUBSCRIBER]: an account enrolled in
# TOTP and logged in with a code; sets P_ID and P_TOKEN (an MFA session).
# A person of the subscriber, made by the operator (the admin token, in a
# home without auth.operator_mfa), with TOTP enrolled and logged in with
# it (lib.sh mfa_person): P_ID, P_TOKEN.
MFA_PW=$PW
person() { mfa_person "$1" "$2" "$ADMIN" "${4:-$A}"; }

person alice '["approve","sign"]' "$TA" && ALICE=$P_ID S_ALICE=$P_TOKEN
person bob '["approve"]' "$TA" && BOB=$P_ID S_BOB=$P_TOKEN
person carol '["approve"]' "$TA" && CAROL=$P_ID S_CAROL=$P_TOKEN
person dave '["approve"]' "$TA" && S_DAVE=$P_TOKEN
person zed '["approve"]' "$TB" "$B" && ZED=$P_ID S_ZED=$P_TOKEN
# A person who never enrolled: a session without a second factor.
req_json POST /v1/accounts "$ADMIN" \
    "{\"name\":\"frank\",\"roles\":[\"approve\"],\"subscriber\":\"$A\",\"password\":\"$PW\"}"
FRANK=$(jget .id)
req_json POST /v1/sessions - "{\"name\":\"frank\",\"password\":\"$PW\"}"
S_FRANK=$(jget .token)
check_eq "frank's session proved no second factor" false "$(jget .mfa)"

# Policy changes where approvals are in force take a strong principal.
mfa_person mona '["manage"]' "$ADMIN" "$A" && S_MGR=$P_TOKEN
policy() {
    req_json PUT "/v1/keys/$K/policy" "$S_MGR" \
        "{\"approvals\":{\"required\":2,\"approvers\":[\"$ALICE\",\"$BOB\",\"$CAROL\"${2-}],\"expires_in\":$1}}"
    check_status "PUT a 2-of-3 approvals policy (expires_in $1)" 200
}

# digest NAME: a SHA-256 digest of NAME into $WORK/NAME.bin; prints base64.
digest() {
    printf 'release %s\n' "$1" | openssl dgst -sha256 -binary >"$WORK/$1.bin"
    b64 "$WORK/$1.bin"
}
hexof() { od -An -tx1 <"$WORK/$1.bin" | tr -d ' \n'; }

# ask TOKEN NAME [KEY]: the requester asks for digest NAME (with K or
# KEY); RID is the request.
ask() {
    req_json POST "/v1/keys/${3:-$K}/sign" "$1" \
        "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(digest "$2")\"}"
    RID=$(jget .request)
}
vote() { req POST "/v1/sign-requests/$1/$2" "$3" "${@:4}"; }
# verifies SIG_B64 NAME: openssl checks the signature over digest NAME.
verifies() {
    unb64 "$1" "$WORK/sig.der"
    openssl pkeyutl -verify -pubin -inkey "$WORK/pub.$K.pem" \
        -sigfile "$WORK/sig.der" -in "$WORK/$2.bin" >/dev/null 2>&1
}
# records ID ACTION: how many audit records of the request have ACTION.
records() {
    req GET "/v1/audit?order=desc&limit=1000" "$TA"
    jget "[.records[] | select(.detail | contains(\"$1\")) | select(.action == \"$2\")] | length"
}

# ---- the approvers must be people who can approve ----
req_json POST /v1/accounts "$ADMIN" \
    "{\"name\":\"erin\",\"roles\":[\"sign\"],\"subscriber\":\"$A\",\"password\":\"$PW\"}"
ERIN=$(jget .id)
for who in "no such account:$(rand_uuid)" "another subscriber's approver:$ZED" \
    "an account without the approve role:$ERIN"; do
    req_json PUT "/v1/keys/$K/policy" "$S_MGR" \
        "{\"approvals\":{\"required\":1,\"approvers\":[\"$ALICE\",\"${who##*:}\"]}}"
    check_error "approvers: ${who%%:*}" 400 invalid_field &&
        check_match "it names approvals.approvers[1]" 'approvals\.approvers\[1\]' "$(jget .message)"
done
req_json PUT "/v1/keys/$K/policy" "$S_MGR" \
    "{\"approvals\":{\"required\":3,\"approvers\":[\"$ALICE\",\"$BOB\"]}}"
check_error "required above the number of approvers" 400 invalid_field
req GET "/v1/keys/$K/policy" "$TA"
check_eq "the refused policies changed nothing" null "$(jget .policy)"

# ---- the request that will expire unread (the sweeper's), on a key of
# its own whose policy nobody changes ----
KX=$(new_key "$TA" ecdsa-p256 expiring) || exit 1
req_json PUT "/v1/keys/$KX/policy" "$S_MGR" \
    "{\"approvals\":{\"required\":2,\"approvers\":[\"$ALICE\",\"$BOB\",\"$CAROL\"],\"expires_in\":60}}"
check_status "KX: approvals that expire in 60 s" 200
ask "$TS" expiring "$KX"
RID_EXP=$RID
EXP_AT=$(date +%s)

# ---- a change of the key's policy fails its pending requests ----
policy 60
req DELETE "/v1/keys/$K/policy" "$TA"
check_error "a static manage token cannot remove the approvals" 403 strong_auth_required
ask "$TS" changed
RID_CHG=$RID
policy 3600
req GET "/v1/sign-requests/$RID_CHG" "$TS"
check_eq "the policy change failed the request made under the old one" failed "$(jget .state)"
check_match "saying why" "policy changed" "$(jget .reason)"

# ---- 2 of 3 completes ----
hdr=$(curl -sS -D - -o "$WORK/body" --cacert "$SERVER_CA" \
    -H "Authorization: Bearer $TS" -H 'Content-Type: application/json' \
    --data-binary "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(digest one)\"}" \
    "$SERVER_URL/v1/keys/$K/sign" | tr -d '\r')
BODY=$(cat "$WORK/body")
R1=$(jget .request)
check_match "signing with the key answers 202" '^HTTP/[0-9.]+ 202' "$hdr"
check_eq "the answer names the request, pending approval" pending_approval "$(jget .state)"
check_eq "Location names the request" "/v1/sign-requests/$R1" \
    "$(sed -n 's/^[Ll]ocation: //p' <<<"$hdr")"
check_match "Retry-After says when to ask again" '^[0-9]+$' \
    "$(sed -n 's/^[Rr]etry-[Aa]fter: //p' <<<"$hdr")"
req GET "/v1/sign-requests/$R1" "$TS"
check_status "the requester reads its request" 200
check_eq "state, digest, requester and approvals as asked" \
    "pending_approval $(hexof one) $TS_ID bearer 2 0" \
    "$(jget '"\(.state) \(.digests[0]) \(.requester.token) \(.requester.auth) \(.approvals.required) \(.approvals.approved)"')"
check_eq "no signature while pending" null "$(jget .signature)"
vote "$R1" approve "$S_ALICE"
check_status "alice approves" 200
check_eq "one approval of two: still pending" "pending_approval 1" \
    "$(jget '"\(.state) \(.approvals.approved)"')"
vote "$R1" approve "$S_ALICE"
check_error "alice again: one vote per approver" 409 already_voted
vote "$R1" deny "$S_ALICE"
check_error "alice denying after approving: still one vote" 409 already_voted
vote "$R1" approve "$S_BOB"
check_status "bob approves" 200
check_eq "the approve answer says the new state" completed "$(jget .state)"
req GET "/v1/sign-requests/$R1" "$TS"
check_eq "the requester sees it completed" completed "$(jget .state)"
SIG1=$(jget .signature)
if verifies "$SIG1" one; then pass "openssl verifies the released signature over digest one"
else fail "the released signature does not verify over digest one"; fi
CHECKS=$((CHECKS + 1))
vote "$R1" approve "$S_CAROL"
check_error "carol after completion" 409 request_state
check_eq "one signature recorded for the request" 1 "$(records "$R1" sign)"
req GET "/v1/audit?order=desc&limit=1000" "$TA"
check_eq "its principal is the requester" "$TS_ID" \
    "$(jget "[.records[] | select(.detail | contains(\"$R1\")) | select(.action == \"sign\")][0].principal")"
for act in sign_request sign_request_approve sign_request_approved sign_request_completed; do
    n=$(records "$R1" "$act")
    check_eq "audit: $act recorded for the request" \
        "$([ "$act" = sign_request_approve ] && echo 2 || echo 1)" "$n"
done

# ---- digest X releases X, never Y ----
ask "$TS" x
RX=$RID
ask "$TS" y
RY=$RID
vote "$RX" approve "$S_BOB"
# A body on the vote is not a request: it cannot name another digest.
vote "$RX" approve "$S_CAROL" -H 'Content-Type: application/json' \
    --data-binary "{\"digest\":\"$(digest y)\"}"
check_eq "X approved and completed" completed "$(jget .state)"
SX=$(jget .signature)
if verifies "$SX" x && ! verifies "$SX" y; then
    pass "the signature released for X verifies over X, not over Y"
else fail "the signature released for X does not verify over X alone"; fi
CHECKS=$((CHECKS + 1))
req GET "/v1/sign-requests/$RY" "$TS"
check_eq "Y is still pending, without a signature" "pending_approval null" \
    "$(jget '"\(.state) \(.signature)"')"

# ---- self-approval ----
ask "$S_ALICE" self
RSELF=$RID
check_status "alice's own session asks to sign" 202
vote "$RSELF" approve "$S_ALICE"
check_error "alice approves her own request" 403 forbidden
check_match "the answer says why" 'own request' "$(jget .message)"
req GET "/v1/sign-requests/$RSELF" "$S_BOB"
check_eq "nothing counted" "pending_approval 0" "$(jget '"\(.state) \(.approvals.approved)"')"
# Nor through a token she made: it is hers (its via names her account).
person max '["manage","sign","approve"]' && MAX=$P_ID S_MAX=$P_TOKEN
KM=$(new_key "$TA" ecdsa-p256 max) || exit 1
req_json PUT "/v1/keys/$KM/policy" "$S_MGR" \
    "{\"approvals\":{\"required\":1,\"approvers\":[\"$MAX\",\"$BOB\"]}}"
check_status "KM: one approval of max or bob" 200
TMAX=$(new_token "$A" '"roles":["sign"]' "$S_MAX")
ask "$TMAX" maxs "$KM"
check_status "a token max made asks to sign" 202
vote "$RID" approve "$S_MAX"
check_error "max approves his token's request" 403 forbidden
check_match "as his own" 'own request' "$(jget .message)"
vote "$RID" approve "$S_BOB"
check_status "bob's approval releases it" 200

# ---- a deny after one approval ends it ----
ask "$TS" denied
RD=$RID
vote "$RD" approve "$S_ALICE"
vote "$RD" deny "$S_CAROL"
check_status "carol denies after alice approved" 200
check_eq "one deny ends it" denied "$(jget .state)"
vote "$RD" approve "$S_BOB"
check_error "bob's approval after the deny" 409 request_state
req GET "/v1/sign-requests/$RD" "$TS"
check_eq "denied, no signature" "denied null" "$(jget '"\(.state) \(.signature)"')"
check_eq "audit: the deny and the denial" "1 1" \
    "$(records "$RD" sign_request_deny) $(records "$RD" sign_request_denied)"
check_eq "audit: no signature" 0 "$(records "$RD" sign)"

# ---- concurrent approvals racing ----
for round in 1 2 3; do
    ask "$TS" "race$round"
    RR=$RID
    [ "$round" = 1 ] && vote "$RR" approve "$S_ALICE"
    # round 1: bob and carol race for the last place; else all three at once
    pids=()
    for s in $([ "$round" = 1 ] || echo "$S_ALICE") "$S_BOB" "$S_CAROL"; do
        curl -sS --cacert "$SERVER_CA" -o "$WORK/race.$round.${s: -6}" -w '%{http_code}\n' \
            -X POST -H "Authorization: Bearer $s" \
            "$SERVER_URL/v1/sign-requests/$RR/approve" >>"$WORK/race.$round.codes" &
        pids+=($!)
    done
    wait "${pids[@]}"
    req GET "/v1/sign-requests/$RR" "$TS"
    check_eq "race $round: completed" completed "$(jget .state)"
    if verifies "$(jget .signature)" "race$round"; then pass "race $round: the signature verifies"
    else fail "race $round: the signature does not verify"; fi
    CHECKS=$((CHECKS + 1))
    check_eq "race $round: exactly one transition and one signature" "1 1" \
        "$(records "$RR" sign_request_approved) $(records "$RR" sign)"
    check_nomatch "race $round: every racer answered 200 or 409" '[^0-9](5[0-9][0-9]|4(0[0-8]|[1-9][0-9]))' \
        " $(tr '\n' ' ' <"$WORK/race.$round.codes")"
done

# ---- a requester revoked while waiting gets nothing ----
TX=$(new_token "$A" '"roles":["sign"]') || exit 1
req GET /v1/whoami "$TX"
TX_ID=$(jget .token_id)
ask "$TX" revoked
RREV=$RID
req DELETE "/v1/tokens/$TX_ID" "$TA"
check_status "the requester's token is revoked" 200
vote "$RREV" approve "$S_ALICE"
vote "$RREV" approve "$S_BOB"
check_eq "the approval finds the requester revoked: failed" failed "$(jget .state)"
check_match "the reason says so" 'revoked' "$(jget .reason)"
check_eq "no signature made" "0 1" "$(records "$RREV" sign) $(records "$RREV" sign_request_failed)"

# ---- bad input changes nothing ----
ask "$TS" bad
RB=$RID
snap() {
    req GET "/v1/sign-requests/$RB" "$TA"
    jget '"\(.state) \(.version) \(.approvals.approved)"'
}
BEFORE=$(snap)
for id in nope "$(rand_uuid)" "$(head -c 64 /dev/zero | tr '\0' a)" \
    "$(head -c 65 /dev/zero | tr '\0' a)" "$RB.x" ".."; do
    req GET "/v1/sign-requests/$id" "$TS"
    check_status "GET a malformed or unknown id '${id:0:20}'" 404
    vote "$id" approve "$S_ALICE"
    check_status "approve a malformed or unknown id '${id:0:20}'" 404
done
vote "$RB%2f..%2fx" approve "$S_ALICE"
check_status "an escaped slash in the id" 404
head -c $((2 * 1024 * 1024)) /dev/zero >"$WORK/big"
vote "$RB" approve "$S_ALICE" --data-binary @"$WORK/big"
check_status "an oversize body on the approval" 413
req GET "/v1/sign-requests/$RB" "$TB"
check_error "another subscriber reads the request" 404 not_found
vote "$RB" approve "$S_ZED"
check_error "another subscriber's approver approves" 404 not_found
vote "$RB" approve "$TB"
check_error "another subscriber's static token approves" 403 forbidden
vote "$RB" approve "$S_DAVE"
check_error "a person who is not an approver" 403 forbidden
check_match "the answer says why" 'not one of the request' "$(jget .message)"
vote "$RB" deny "$S_DAVE"
check_error "nor may that person deny" 403 forbidden
vote "$RB" approve "$S_FRANK"
check_error "a session without its second factor" 403 mfa_required
vote "$RB" approve "$TA"
check_error "a static manage token trying to approve" 403 forbidden
vote "$RB" approve "$TS"
check_error "the requester's static token trying to approve" 403 forbidden
vote "$RB" cancel "$S_BOB"
check_error "an approver cancels" 403 forbidden
req GET "/v1/sign-requests?state=bogus" "$TA"
check_error "a list with an unknown state" 400 bad_request
req GET "/v1/sign-requests?limit=0" "$TA"
check_error "a list with limit 0" 400 bad_request
check_eq "none of it changed the request" "$BEFORE" "$(snap)"
req GET '/v1/audit?order=desc&limit=200' "$TA"
check_match "the refused votes are in the audit log" \
    'not an approver.*(\(x2\))?' \
    "$(jget '[.records[] | select(.action == "denied") | .detail] | join(" ")')"

# ---- lists: approvers see what waits for them ----
req GET "/v1/sign-requests?state=pending" "$S_CAROL"
check_match "carol's pending list holds Y and the bad one" "$RY" "$(jget '[.sign_requests[].id] | join(" ")')"
check_eq "only pending ones" pending_approval "$(jget '[.sign_requests[].state] | unique | join(",")')"
req GET "/v1/sign-requests?state=pending" "$S_DAVE"
check_eq "dave is nobody's approver: an empty list" 0 "$(jget '.sign_requests | length')"
req GET "/v1/sign-requests" "$TB"
check_eq "another subscriber lists none" 0 "$(jget '.sign_requests | length')"
req GET "/v1/sign-requests?state=completed" "$TA"
check_match "the manage token sees the completed ones" "$R1" "$(jget '[.sign_requests[].id] | join(" ")')"

# ---- cancel by the requester ----
vote "$RB" cancel "$TS"
check_eq "the requester cancels" "200 canceled" "$STATUS $(jget .state)"
vote "$RB" approve "$S_ALICE"
check_error "approval after cancel" 409 request_state
check_eq "audit: canceled" 1 "$(records "$RB" sign_request_canceled)"

# ---- sign-file with a key that requires approvals ----
req POST "/v1/keys/$K/sign-file" "$TS" --data-binary @"$WORK/one.bin"
check_error "sign-file with an approvals key" 409 approval_required
check_match "it says: sign the digest instead" 'sign the digest' "$(jget .message)"

# ---- the CLI ----
cli() { "$SIGNET" --url "$SERVER_URL" --ca-file "$SERVER_CA" "$@"; }
# bg_sign NAME ARGS...: a CLI signing in the background as the pipeline;
# its stderr names the request: RID_BG (waits for the line).
bg_sign() {
    local name=$1 i
    shift
    SIGNET_TOKEN=$TS cli "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    BG_PID=$!
    RID_BG=
    for i in $(seq 1 100); do
        RID_BG=$(sed -n 's/^signet: sign request \([0-9a-f-]*\) awaits approval.*/\1/p' "$WORK/$name.err")
        [ -n "$RID_BG" ] && return 0
        sleep 0.1
    done
    fail "$name: the CLI named no sign request: $(cat "$WORK/$name.err")"
}
HEX_C=$(digest cli >/dev/null; hexof cli)
out=$(SIGNET_TOKEN=$TS cli sign-digest --key "$K" --digest-algorithm sha256 --digest "$HEX_C" 2>&1)
check_eq "sign-digest without --wait: exit 1" 1 "$?"
check_match "it names the request and --wait" 'sign request [0-9a-f-]+ awaits its approvers.*--wait' "$out"
bg_sign cli sign-digest --key "$K" --digest-algorithm sha256 --digest "$HEX_C" \
    --wait=120 --json
out=$(SIGNET_TOKEN=$S_CAROL cli request list --state pending)
check_match "signet request list --state pending shows it to an approver" "$RID_BG +pending_approval +0/2" "$out"
out=$(SIGNET_TOKEN=$S_ALICE cli request approve "$RID_BG")
check_match "signet request approve (alice)" 'state: +pending_approval' "$out"
check_match "it shows 1 of 2" 'approved: +1 of 2' "$out"
out=$(SIGNET_TOKEN=$S_BOB cli request approve "$RID_BG")
check_match "signet request approve (bob) completes it" 'state: +completed' "$out"
wait "$BG_PID"
check_eq "the waiting sign-digest exits 0" 0 "$?"
BODY=$(cat "$WORK/cli.out")
check_eq "it prints what a direct sign prints (--json)" \
    '["digest_algorithm","key","scheme","signature"]' "$(jget 'keys | tojson')"
if verifies "$(jget .signature)" cli; then pass "openssl verifies the CLI's waited signature"
else fail "the CLI's waited signature does not verify"; fi
CHECKS=$((CHECKS + 1))

# signet sign FILE --wait: the CMS over the signed attributes is approved
printf 'release artefact\n' >"$WORK/app.bin"
bg_sign cms sign --key "$K" "$WORK/app.bin" -o "$WORK/app.bin.p7s" --wait=120
out=$(SIGNET_TOKEN=$S_CAROL cli request show "$RID_BG")
check_match "signet request show: the digest of the CMS signed attributes" 'digests: +[0-9a-f]{64}' "$out"
check_match "and who asked" "requester: +$TS_ID" "$out"
SIGNET_TOKEN=$S_CAROL cli request approve "$RID_BG" >/dev/null
SIGNET_TOKEN=$S_BOB cli request approve "$RID_BG" >/dev/null
wait "$BG_PID"
check_eq "the waiting signet sign exits 0" 0 "$?"
fetch_ca_certs "$WORK" root codesigning
check_cmd "openssl cms verifies the approved CMS signature" \
    openssl cms -verify -binary -inform DER -in "$WORK/app.bin.p7s" \
    -content "$WORK/app.bin" -CAfile "$WORK/root.pem" \
    -certfile "$WORK/codesigning.pem" -purpose any -out /dev/null

# denied while the CLI waits: it fails saying so
bg_sign cli2 sign-digest --key "$K" --digest-algorithm sha256 --digest "$HEX_C" --wait=120
out=$(SIGNET_TOKEN=$S_CAROL cli request deny "$RID_BG")
check_match "signet request deny" 'state: +denied' "$out"
wait "$BG_PID"
check_eq "the waiting CLI exits 1 on a deny" 1 "$?"
check_match "it says denied" "sign request $RID_BG was denied" "$(cat "$WORK/cli2.err")"
# nobody answers: --wait=SECONDS runs out; the requester cancels
bg_sign cli3 sign-digest --key "$K" --digest-algorithm sha256 --digest "$HEX_C" --wait=3
wait "$BG_PID"
check_eq "the CLI gives up after --wait=3" 1 "$?"
check_match "it says it gave up" 'gave up waiting: sign request .* still awaits approval' "$(cat "$WORK/cli3.err")"
out=$(SIGNET_TOKEN=$TS cli request cancel "$RID_BG")
check_match "signet request cancel by the requester" 'state: +canceled' "$out"
out=$(SIGNET_TOKEN=$TS cli request approve "$RID_BG" 2>&1)
check_match "signet request approve with a static token: refused" 'login session.*HTTP 403' "$out"
check_cmd_fails "signet request show of a malformed id" \
    env SIGNET_TOKEN="$TS" "$SIGNET" --url "$SERVER_URL" --ca-file "$SERVER_CA" request show 'a/b'

# ---- the PKCS#11 module: C_Sign waits up to approval_wait ----
MOD=${3:-}
if [ -n "$MOD" ] && command -v pkcs11-tool >/dev/null; then
    PRELOAD=()
    if ldd "$MOD" 2>/dev/null | grep libasan >/dev/null; then
        PRELOAD=(env "LD_PRELOAD=$(ldd "$MOD" | awk '/libasan/ {print $3}')"
            "ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:handle_segv=0")
    fi
    hexid() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
    # p11sign NAME WAIT: pkcs11-tool signs digest NAME in the background
    p11sign() {
        local i
        digest "$1" >/dev/null
        SIGNET_APPROVAL_WAIT=$2 "${PRELOAD[@]}" pkcs11-tool --module "$MOD" \
            --login --pin "$TS" --sign --id "$(hexid "$K")" -m ECDSA \
            -i "$WORK/$1.bin" -o "$WORK/$1.p11sig" --signature-format openssl \
            >"$WORK/$1.p11out" 2>&1 &
        BG_PID=$!
        RID_BG=
        for i in $(seq 1 100); do
            RID_BG=$(sed -n 's/.*sign request \([0-9a-f-]*\) opened.*/\1/p' "$WORK/$1.p11out")
            [ -n "$RID_BG" ] && return 0
            kill -0 "$BG_PID" 2>/dev/null || break
            sleep 0.1
        done
    }
    p11sign p11 120
    check_match "C_Sign says it waits for the sign request" \
        'libsignet-pkcs11: key .*: signing needs approval: sign request [0-9a-f-]+ opened; waiting up to 120 s' \
        "$(cat "$WORK/p11.p11out")"
    vote "$RID_BG" approve "$S_ALICE"
    vote "$RID_BG" approve "$S_CAROL"
    wait "$BG_PID"
    check_eq "pkcs11-tool's C_Sign returns once approved" 0 "$?"
    check_cmd "openssl verifies the module's approved signature" \
        openssl pkeyutl -verify -pubin -inkey "$WORK/pub.$K.pem" \
        -sigfile "$WORK/p11.p11sig" -in "$WORK/p11.bin"
    p11sign p11late 3
    wait "$BG_PID"
    check_ne "C_Sign fails when approval_wait runs out" 0 "$?"
    check_match "it says which request and why" \
        "sign request $RID_BG still awaits approval after 3 s \\(approval_wait\\)" \
        "$(cat "$WORK/p11late.p11out")"
    digest p11none >/dev/null
    out=$(SIGNET_APPROVAL_WAIT=0 "${PRELOAD[@]}" pkcs11-tool --module "$MOD" \
        --login --pin "$TS" --sign --id "$(hexid "$K")" -m ECDSA \
        -i "$WORK/p11none.bin" -o "$WORK/p11none.sig" 2>&1)
    check_ne "approval_wait 0: C_Sign fails at once" 0 "$?"
    check_match "saying the request awaits its approvers" \
        'sign request [0-9a-f-]+ awaits its approvers, and approval_wait is 0' "$out"
else
    log "no PKCS#11 module given: its approval wait is not tested here"
fi

# ---- approval after expiry (the sweeper expired it unread) ----
while [ $(($(date +%s) - EXP_AT)) -lt 67 ]; do sleep 1; done
check_eq "the sweeper expired the unread request (its record)" 1 "$(records "$RID_EXP" sign_request_expired)"
vote "$RID_EXP" approve "$S_ALICE"
check_error "approval after expiry" 409 request_state
check_match "the answer says expired" expired "$(jget .message)"
req GET "/v1/sign-requests/$RID_EXP" "$TS"
check_eq "expired, no votes, no signature" "expired 0 null" \
    "$(jget '"\(.state) \(.votes | length) \(.signature)"')"

check_healthy "the approvals"
finish
