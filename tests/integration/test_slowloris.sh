#!/usr/bin/env bash
# Slow and idle clients cannot hold the service (slowloris.py does the
# socket work; loopback only, every loop bounded in time):
#  - deadlines that trickled bytes do not move: an unfinished TLS
#    handshake, headers sent a line a second, a kept-alive connection left
#    idle, a JSON body sent a byte a second, a sign-file body below the
#    minimum rate: each is closed by the server near its deadline;
#  - 4,000 sockets from 127.0.0.1 (2,000 per listener), idle on the TLS listener and sending
#    headers a byte at a time on the plain one, opened again whenever the
#    server closes them: meanwhile signing, /healthz and the public CA
#    bundle, each on a new connection from 127.0.0.2, all answer, with
#    medians within 2x (+5 ms) of the unloaded ones measured just before
#    and just after.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
SL=$(dirname "$0")/slowloris.py
server_init
set_conf limits.header_timeout 3
set_conf limits.idle_timeout 3
set_conf limits.body_timeout 4
set_conf limits.stream_min_rate 64K
set_conf limits.stream_grace 2
server_start
A=$(new_subscriber acme) || exit 1
T=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$T" ecdsa-p256 "slowloris") || exit 1
# sign-file wants a certificate on the key: Signet's own CA issues one.
req_json PUT "/v1/subscribers/$A/identity" "$ADMIN" '{"O":"Acme Corp","C":"DE","L":"Berlin"}'
[ "$STATUS" = 200 ] || die "identity: HTTP $STATUS $BODY"
req_json POST "/v1/keys/$K/csr" "$T" '{"subject":{"CN":"Acme Corp","O":"Acme Corp","C":"DE"}}'
[ "$STATUS" = 200 ] || die "CSR: HTTP $STATUS $BODY"
jget .csr_pem >"$WORK/k.csr"
req POST /v1/ca/certificates "$T" -H 'Content-Type: application/json' \
    --data-binary "$(jq -n --rawfile c "$WORK/k.csr" '{csr_pem: $c}')"
[ "$STATUS" = 201 ] || die "issue: HTTP $STATUS $BODY"
{ jget .certificate_pem; jget .issuer_pem; } >"$WORK/chain.pem"
req PUT "/v1/keys/$K/certificate" "$T" -H 'Content-Type: application/x-pem-file' \
    --data-binary @"$WORK/chain.pem"
[ "$STATUS" = 200 ] || die "attach certificate: HTTP $STATUS $BODY"

openssl dgst -sha256 -binary <<<"slowloris" >"$WORK/d.bin"
COMMON=(--api "$SERVER_PORT" --public "$PUBLIC_PORT" --ca "$SERVER_CA" --token "$T" --key "$K")

# ---- deadlines ----
P=$("$PY" "$SL" probe "${COMMON[@]}")
log "seconds until closed: $P"
# within [deadline - 0.5, deadline + 1.5]: the sweeper looks 4 times a second
within() { # within WHAT FIELD DEADLINE
    local v
    v=$(jget ".$2" "$P")
    CHECKS=$((CHECKS + 1))
    if [ "$v" != null ] && [ -n "$v" ] &&
        awk -v v="$v" -v d="$3" 'BEGIN { exit !(v >= d - 0.5 && v <= d + 1.5) }'; then
        pass "$1: closed after ${v}s (deadline ${3}s)"
    else
        fail "$1"$'\n'"    expected: closed after ${3}s (+1.5 s)"$'\n'"    actual:   $v"
    fi
}
within "an unfinished TLS handshake" tls_handshake 3
within "headers sent a line a second" headers 3
within "a kept-alive connection left idle" idle 3
within "a JSON body sent a byte a second" body 4
# 1 KiB a second earns 1/64 s each at 64 KiB/s: the grace, and about 0.5 s.
within "a sign-file body at 1 KiB/s" stream 2.5

# ---- slowloris against a second client ----
M0=$("$PY" "$SL" measure "${COMMON[@]}" --digest "$(b64 "$WORK/d.bin")" --n 20)
log "unloaded (ms): $M0"
"$PY" "$SL" attack --api "$SERVER_PORT" --public "$PUBLIC_PORT" --sockets 4000 \
    --seconds 25 >"$WORK/attack.out" 2>&1 &
ATTACK=$!
EXTRA_PIDS+=("$ATTACK")
sleep 5
M1=$("$PY" "$SL" measure "${COMMON[@]}" --digest "$(b64 "$WORK/d.bin")" --n 20)
log "under attack (ms): $M1"
wait "$ATTACK"
log "attack: $(cat "$WORK/attack.out")"
M2=$("$PY" "$SL" measure "${COMMON[@]}" --digest "$(b64 "$WORK/d.bin")" --n 20)
log "unloaded again (ms): $M2"

for k in sign healthz public; do
    check_eq "$k under attack: every request answered" 0 "$(jget ".${k}_failed" "$M1")"
    base=$(awk -v a="$(jget ".$k" "$M0")" -v b="$(jget ".$k" "$M2")" 'BEGIN { print (a + b) / 2 }')
    loaded=$(jget ".$k" "$M1")
    CHECKS=$((CHECKS + 1))
    if [ "$loaded" != null ] &&
        awk -v l="$loaded" -v b="$base" 'BEGIN { exit !(l <= 2 * b + 5) }'; then
        pass "$k under attack: median ${loaded} ms, unloaded ${base} ms"
    else
        fail "$k under attack: median within 2x (+5 ms) of unloaded"$'\n'"    expected: <= 2 x $base + 5 ms"$'\n'"    actual:   $loaded ms"
    fi
done
# MHD reports every refused connection and failed handshake (thousands
# here); Signet passes on at most 10 per 10 s and listener, plus a count.
N=$(wc -l <"$WORK/signetd.$SERVER_PORT.log")
CHECKS=$((CHECKS + 1))
if [ "$N" -le 300 ]; then
    pass "the server log stays short under the attack ($N lines)"
else
    fail "the server log stays short under the attack"$'\n'"    expected: <= 300 lines"$'\n'"    actual:   $N"
fi
check_match "the left-out messages are counted" 'more message\(s\) of the HTTP library left out' \
    "$(cat "$WORK/signetd.$SERVER_PORT.log")"

check_healthy
finish
