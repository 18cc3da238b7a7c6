#!/usr/bin/env bash
# Graceful shutdown: SIGTERM while several slow requests (batches of 256
# RSA-4096 signatures) are in flight. Every one must complete with 200 and
# valid signatures, the daemon must exit 0, new connections are not
# served meanwhile, and after a restart the audit log has every signature.
. "$(dirname "$0")/lib.sh"

server_start
SUB=$(new_subscriber acme) || exit 1
TOK=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$TOK" rsa-4096 "slow key") || exit 1

N=4
arr=""
for i in $(seq 0 255); do
    printf 'shutdown %s' "$i" | openssl dgst -sha256 -binary >"$WORK/dg.$i"
    arr+="${arr:+,}\"$(b64 "$WORK/dg.$i")\""
done
printf '{"digest_algorithm":"sha256","scheme":"pss","digests":[%s]}' "$arr" >"$WORK/batch.json"

# How long does one batch take? (also warms the partition up)
t0=$(date +%s%N)
req POST "/v1/keys/$K/sign" "$TOK" -H 'Content-Type: application/json' --data-binary @"$WORK/batch.json"
t1=$(date +%s%N)
check_status "one batch of 256 RSA-4096 signatures" 200
log "one batch took $(((t1 - t0) / 1000000)) ms"

declare -a PIDS=()
for i in $(seq 1 $N); do
    curl -sS --max-time 120 --cacert "$SERVER_CA" -H "Authorization: Bearer $TOK" \
        -H 'Content-Type: application/json' --data-binary @"$WORK/batch.json" \
        -o "$WORK/out.$i" -w '%{http_code}' "$SERVER_URL/v1/keys/$K/sign" \
        >"$WORK/status.$i" 2>"$WORK/err.$i" &
    PIDS+=($!)
    EXTRA_PIDS+=($!)
done
# Let the requests reach the server (TLS handshake, body sent).
sleep 1
still=0
for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && still=$((still + 1)); done
check_eq "all $N requests still in flight when SIGTERM is sent" "$N" "$still"
kill -TERM "$SERVER_PID"
sleep 0.2
# A new request while draining must not be served (refused, or left
# unanswered until the daemon is gone).
s=$(curl -sS --max-time 10 --cacert "$SERVER_CA" -o /dev/null -w '%{http_code}' \
    "$SERVER_URL/healthz" 2>"$WORK/probe.err")
check_eq "a new connection during the drain is not served ($(cat "$WORK/probe.err"))" 000 "${s:-000}"
wait "$SERVER_PID"
rc=$?
SERVER_PID=
check_eq "signetd exit status after SIGTERM with requests in flight" 0 "$rc"
for i in $(seq 1 $N); do
    wait "${PIDS[$((i - 1))]}"
    check_eq "in-flight request $i completed with 200 ($(cat "$WORK/err.$i"))" 200 "$(cat "$WORK/status.$i")"
    n=$(jq '.signatures | length' "$WORK/out.$i" 2>/dev/null)
    check_eq "in-flight request $i returned 256 signatures" 256 "$n"
    # spot-check first and last signature
    for j in 0 255; do
        jq -r ".signatures[$j]" "$WORK/out.$i" 2>/dev/null | base64 -d >"$WORK/sig" 2>/dev/null
        check_cmd "request $i signature $j verifies" openssl pkeyutl -verify -pubin \
            -inkey "$WORK/pub.$K.pem" -sigfile "$WORK/sig" -in "$WORK/dg.$j" \
            -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest
    done
done
EXTRA_PIDS=()

# Restart: every returned signature is in the audit log.
server_start
total=0 after=0
for _ in 1 2 3 4 5; do # the log is read 1000 records at a time
    req GET "/v1/audit?key=$K&limit=1000&after=$after" "$TOK"
    [ "$STATUS" = 200 ] || break
    [ "$(jget '.records | length')" = 0 ] && break
    total=$((total + $(jget '[.records[] | select(.action == "sign" and .result == "ok")] | length')))
    after=$(jget .next_after)
done
check_eq "audit after restart: all $((N + 1)) x 256 signatures recorded" $(((N + 1) * 256)) "$total"
check_healthy "restart"
server_stop
finish
