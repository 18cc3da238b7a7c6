#!/usr/bin/env bash
# The thread model with one event thread and one signer: slow requests
# (RSA-4096 key generation) run on the workers, so signatures keep being
# answered while key generations are in flight; many parallel clients all
# get verified signatures, each with its audit record.
. "$(dirname "$0")/lib.sh"

server_init
set_conf server.event_threads 1
set_conf hsm.parallelism 1
set_conf server.threads 2
server_start
A=$(new_subscriber alpha) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$TA" ecdsa-p256) || exit 1
req GET "/v1/keys/$K" "$TA"
jget .public_key_pem >"$WORK/pub.pem"

sign_once() { # sign_once N: one signature, verified; prints "ok" or "bad"
    head -c 32 /dev/urandom >"$WORK/s$1.dg"
    curl -sS --max-time 30 --cacert "$SERVER_CA" -H "Authorization: Bearer $TA" \
        -H 'Content-Type: application/json' \
        --data-binary "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/s$1.dg")\"}" \
        -o "$WORK/s$1.json" "$SERVER_URL/v1/keys/$K/sign" 2>/dev/null
    jq -r .signature "$WORK/s$1.json" 2>/dev/null | base64 -d >"$WORK/s$1.sig" 2>/dev/null
    if openssl pkeyutl -verify -pubin -inkey "$WORK/pub.pem" \
        -in "$WORK/s$1.dg" -sigfile "$WORK/s$1.sig" >/dev/null 2>&1; then
        echo ok
    else
        echo bad
    fi
}

# ---- signing goes on while the workers generate RSA-4096 keys ----
# A key generation takes SoftHSM2 a fraction of a second to seconds; try
# up to three times to catch signatures answered while one is in flight.
seen=0 bad=0
for attempt in 1 2 3; do
    curl -sS --max-time 120 --cacert "$SERVER_CA" -H "Authorization: Bearer $TA" \
        -H 'Content-Type: application/json' \
        --data-binary '{"algorithm":"rsa-4096","label":"slow"}' \
        -o "$WORK/gen$attempt.json" "$SERVER_URL/v1/keys" &
    gen=$!
    sleep 0.05
    during=0
    for i in $(seq 1 200); do
        kill -0 "$gen" 2>/dev/null || break
        r=$(sign_once "g$attempt.$i")
        [ "$r" = ok ] || bad=$((bad + 1))
        kill -0 "$gen" 2>/dev/null && [ "$r" = ok ] && during=$((during + 1))
    done
    wait "$gen"
    check_eq "attempt $attempt: the RSA-4096 key was generated" rsa-4096 \
        "$(jq -r .algorithm "$WORK/gen$attempt.json")"
    log "attempt $attempt: $during signature(s) answered during the key generation"
    if [ "$during" -ge 3 ]; then
        seen=1
        break
    fi
done
check_eq "signatures are answered while a key generation runs (one event thread, one signer)" 1 "$seen"
check_eq "no signature failed meanwhile" 0 "$bad"

# ---- 8 parallel clients on one event thread and one signer ----
before=$(curl -sS --cacert "$SERVER_CA" -H "Authorization: Bearer $TA" \
    "$SERVER_URL/v1/audit?key=$K&limit=1000" | jq '[.records[] | select(.action == "sign" and .result == "ok")] | length')
export -f sign_once b64
export WORK SERVER_CA SERVER_URL TA K
seq 1 80 | xargs -P 8 -I{} bash -c 'sign_once p{}' >"$WORK/par.out"
check_eq "80 parallel signatures, all verified by openssl" 80 "$(grep -c '^ok$' "$WORK/par.out")"
after=$(curl -sS --cacert "$SERVER_CA" -H "Authorization: Bearer $TA" \
    "$SERVER_URL/v1/audit?key=$K&limit=1000" | jq '[.records[] | select(.action == "sign" and .result == "ok")] | length')
check_eq "each has its audit record" 80 "$((after - before))"

check_healthy
server_stop
finish
