#!/usr/bin/env bash
# Concurrency and the HSM handle cache: parallel clients of two subscribers
# sign while keys are created and destroyed next to them; every signature
# must verify with the right key (openssl), none may be lost from the audit
# log. Then a destroyed key's place in the HSM is taken by new keys: the
# new keys must sign with their own private key, never a stale handle.
. "$(dirname "$0")/lib.sh"

server_start
A=$(new_subscriber alpha) || exit 1
B=$(new_subscriber bravo) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1
KA1=$(new_key "$TA" ecdsa-p256) || exit 1
KA2=$(new_key "$TA" rsa-3072) || exit 1
KB1=$(new_key "$TB" ecdsa-p384) || exit 1
KB2=$(new_key "$TB" ecdsa-p256) || exit 1

WORKERS=6
PER=15
# worker N TOKEN KEY...: PER signatures, each "key digestfile sigfile status"
worker() {
    local n=$1 tok=$2 i k s
    shift 2
    local keys=("$@")
    for i in $(seq 1 $PER); do
        k=${keys[$((i % ${#keys[@]}))]}
        head -c 32 /dev/urandom >"$WORK/w$n.$i.dg"
        s=$(curl -sS --max-time 60 --cacert "$SERVER_CA" -H "Authorization: Bearer $tok" \
            -H 'Content-Type: application/json' \
            --data-binary "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/w$n.$i.dg")\"}" \
            -o "$WORK/w$n.$i.json" -w '%{http_code}' "$SERVER_URL/v1/keys/$k/sign" 2>&1)
        echo "$k $WORK/w$n.$i.dg $WORK/w$n.$i.json $s" >>"$WORK/w$n.results"
    done
}
# churn: creates and destroys keys of A while the workers sign
churn() {
    local i id
    for i in 1 2 3 4 5 6; do
        id=$(curl -sS --cacert "$SERVER_CA" -H "Authorization: Bearer $TA" \
            -H 'Content-Type: application/json' \
            --data-binary '{"algorithm":"ecdsa-p256","label":"churn"}' \
            "$SERVER_URL/v1/keys" | jq -r .id)
        curl -sS --cacert "$SERVER_CA" -H "Authorization: Bearer $TA" -X DELETE \
            -o /dev/null -w '%{http_code}\n' "$SERVER_URL/v1/keys/$id" >>"$WORK/churn.results"
    done
}

declare -a PIDS=()
for n in $(seq 1 $WORKERS); do
    if [ $((n % 2)) = 0 ]; then
        worker "$n" "$TA" "$KA1" "$KA2" &
    else
        worker "$n" "$TB" "$KB1" "$KB2" &
    fi
    PIDS+=($!)
    EXTRA_PIDS+=($!)
done
churn &
PIDS+=($!)
EXTRA_PIDS+=($!)
for p in "${PIDS[@]}"; do wait "$p"; done
EXTRA_PIDS=()

check_eq "key churn: every destroy answered 200" "200 200 200 200 200 200" \
    "$(tr '\n' ' ' <"$WORK/churn.results" | sed 's/ $//')"

ok=0 bad=0 detail=""
for n in $(seq 1 $WORKERS); do
    while read -r k dg js s; do
        if [ "$s" != 200 ]; then
            bad=$((bad + 1))
            detail+=$'\n'"    $k: HTTP $s $(head -c 200 "$js" 2>/dev/null)"
            continue
        fi
        jq -r .signature "$js" | base64 -d >"$js.sig" 2>/dev/null
        if [ "$(jq -r .key "$js")" = "$k" ] &&
            openssl pkeyutl -verify -pubin -inkey "$WORK/pub.$k.pem" -sigfile "$js.sig" \
                -in "$dg" -pkeyopt digest:sha256 >/dev/null 2>&1; then
            ok=$((ok + 1))
        else
            bad=$((bad + 1))
            detail+=$'\n'"    $k: signature does not verify ($js)"
        fi
    done <"$WORK/w$n.results"
done
check_eq "concurrent signatures: all $((WORKERS * PER)) answered 200 and verify$detail" \
    "$((WORKERS * PER)) 0" "$ok $bad"

# Audit: one sign record per signature, per subscriber.
count_signs() {
    req GET "/v1/audit?limit=1000" "$1"
    jget '[.records[] | select(.action == "sign" and .result == "ok")] | length'
}
check_eq "A's audit has A's $((WORKERS / 2 * PER)) signatures" "$((WORKERS / 2 * PER))" "$(count_signs "$TA")"
check_eq "B's audit has B's $(((WORKERS + 1) / 2 * PER)) signatures" "$(((WORKERS + 1) / 2 * PER))" "$(count_signs "$TB")"

# ---- stale handles: sign, destroy, create anew, sign with the new key ----
sign_verify() { # sign_verify WHAT TOKEN KEY
    head -c 32 /dev/urandom >"$WORK/sv.dg"
    req_json POST "/v1/keys/$3/sign" "$2" \
        "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/sv.dg")\"}"
    check_status "$1" 200 || return
    unb64 "$(jget .signature)" "$WORK/sv.sig"
    check_cmd "$1: verifies with the key's own public key" openssl pkeyutl -verify -pubin \
        -inkey "$WORK/pub.$3.pem" -sigfile "$WORK/sv.sig" -in "$WORK/sv.dg" -pkeyopt digest:sha256
}
for round in 1 2 3; do
    X=$(new_key "$TA" ecdsa-p256 "round $round") || exit 1
    sign_verify "round $round: new key signs" "$TA" "$X"
    req DELETE "/v1/keys/$X" "$TA"
    check_status "round $round: destroy" 200
    head -c 32 /dev/urandom >"$WORK/sv.dg"
    req_json POST "/v1/keys/$X/sign" "$TA" \
        "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/sv.dg")\"}"
    check_error "round $round: the destroyed key does not sign" 409 key_state
    Y=$(new_key "$TA" ecdsa-p256 "round $round successor") || exit 1
    sign_verify "round $round: the next new key signs with its own key" "$TA" "$Y"
    sign_verify "round $round: the old key KA1 still signs with its own key" "$TA" "$KA1"
done
privs=$(p11_privkeys "$A")
# KA1, KA2 and the 3 successors remain; churn and round keys are gone.
check_eq "A's HSM token holds exactly the 5 live private keys" 5 "$(grep -c '^Private Key Object' <<<"$privs")"

check_healthy
server_stop
finish
