#!/usr/bin/env bash
# Anonymous work (issue 14, item 3) has its own limits:
#  - per client address: past limits.anon_burst requests at once (refilled
#    at limits.anon_rate/s) a time-stamp request is answered 429
#    too_many_requests with a Retry-After header; another address still
#    gets its tokens (each judged by openssl ts);
#  - a refusal is held back about a second before it is sent (a client
#    that asks again at once cannot make the server refuse it faster),
#    while the other address is answered at once; clients that hang up
#    while held leave the server serving;
#  - in all: past limits.anon_signatures_per_second, 503 with Retry-After;
#    a subscriber's signature is answered 200 meanwhile (anonymous work
#    never takes a signer), verified by openssl.
# Every loop is a handful of requests on loopback.
. "$(dirname "$0")/lib.sh"

server_init
set_conf limits.anon_rate 1
set_conf limits.anon_burst 3
server_start

echo "time-stamp me" >"$WORK/data"
openssl ts -query -data "$WORK/data" -sha256 -cert -out "$WORK/q.tsq" 2>/dev/null ||
    die "openssl ts -query failed"

# tsa FROM N: the status line and Retry-After of a time-stamp request sent
# from address FROM, the reply kept as $WORK/r.N.tsr.
tsa() {
    curl -sS --max-time 30 --interface "$1" -D "$WORK/h.$2" -o "$WORK/r.$2.tsr" \
        -H 'Content-Type: application/timestamp-query' \
        --data-binary @"$WORK/q.tsq" "$PUBLIC_URL/tsa" >/dev/null 2>&1
    tr -d '\r' <"$WORK/h.$2" | grep -iE '^(HTTP/|retry-after:)' | tr '\n' ' '
}
granted() { openssl ts -reply -in "$1" -text 2>/dev/null | grep -m1 '^Status:'; }

# ---- per address ----
# At 1/s, a slow machine may earn a token or two meanwhile: the answered
# ones must be at most the burst and one per second spent.
codes= ok=0 t0=$(date +%s)
for i in 1 2 3 4 5 6 7 8; do
    line=$(tsa 127.0.0.1 "$i")
    code=$(awk '{ print $2 }' <<<"$line")
    codes="$codes $code"
    [ "$code" = 200 ] && ok=$((ok + 1))
    [ "$code" = 429 ] && last=$line n429=$i
done
spent=$(($(date +%s) - t0 + 1))
check_match "one address: the burst (3) answered first" '^ 200 200 200' "$codes"
check_eq "then refused: 429 seen, at most 3 + $spent answered" yes \
    "$([ -n "${n429:-}" ] && [ "$ok" -le $((3 + spent)) ] && echo yes || echo "no:$codes")"
check_match "a refusal says when to come back" \
    '429 Too Many Requests [Rr]etry-[Aa]fter: [0-9]+' "$last"
check_match "a refusal is too_many_requests" '"too_many_requests"' \
    "$(cat "$WORK/r.${n429:-8}.tsr")"
check_eq "a token answered before the limit is granted" "Status: Granted." \
    "$(granted "$WORK/r.3.tsr")"
line=$(tsa 127.0.0.2 9)
check_match "another address has its own bucket" '^HTTP/1.1 200' "$line"
check_eq "and its token is granted" "Status: Granted." "$(granted "$WORK/r.9.tsr")"

# Five at once from the first address: the refused ones are answered only
# after about a second (HOLD_MS); the other address meanwhile at once.
timed() { # timed FROM N: "CODE SECONDS" of a time-stamp request
    curl -sS --max-time 30 --interface "$1" -o /dev/null -w '%{http_code} %{time_total}\n' \
        -H 'Content-Type: application/timestamp-query' \
        --data-binary @"$WORK/q.tsq" "$PUBLIC_URL/tsa" >"$WORK/t.$2" 2>/dev/null
}
pids=()
for i in 1 2 3 4 5; do
    timed 127.0.0.1 "$i" &
    pids+=($!)
done
sleep 0.3
timed 127.0.0.2 other
wait "${pids[@]}"
cat "$WORK"/t.[1-5] >"$WORK/held"
log "held: $(tr '\n' ' ' <"$WORK/held"); other: $(cat "$WORK/t.other")"
check_match "of five at once, some refused" '429' "$(cat "$WORK/held")"
check_eq "every refusal took at least 0.9 s" "" \
    "$(awk '$1 == 429 && $2 < 0.9' "$WORK/held")"
check_eq "the other address meanwhile: 200 in under 0.9 s" yes \
    "$(awk '{ print ($1 == 200 && $2 < 0.9) ? "yes" : "no: " $0 }' "$WORK/t.other")"
# Clients that hang up while their refusal is held: the server lets the
# connection go when the hold ends and keeps serving.
pids=()
for i in 1 2 3 4 5 6; do
    curl -sS --max-time 0.3 --interface 127.0.0.1 -o /dev/null \
        -H 'Content-Type: application/timestamp-query' \
        --data-binary @"$WORK/q.tsq" "$PUBLIC_URL/tsa" >/dev/null 2>&1 &
    pids+=($!)
done
wait "${pids[@]}"
sleep 1.5
line=$(tsa 127.0.0.2 after-hangup)
check_match "after clients hung up on held refusals: another address is answered" \
    '^HTTP/1.1 200' "$line"
check_healthy

# ---- the ceiling on anonymous signatures ----
server_stop
set_conf limits.anon_rate 1000
set_conf limits.anon_burst 1000
set_conf limits.anon_signatures_per_second 2
server_start
ok=0 busy=0 retry=
for i in $(seq 11 22); do
    line=$(tsa 127.0.0.1 "$i")
    case $line in
    "HTTP/1.1 200"*) ok=$((ok + 1)) ;;
    "HTTP/1.1 503"*) busy=$((busy + 1)) retry=$line ;;
    esac
done
check_eq "past the ceiling: refused (12 requests, at most 2/s)" yes \
    "$([ "$busy" -ge 1 ] && [ "$ok" -ge 2 ] && echo yes || echo "no: $ok ok, $busy 503")"
check_match "a 503 of the ceiling says when to come back" \
    '[Rr]etry-[Aa]fter: [0-9]+' "$retry"

# A subscriber signs while anonymous work is at its ceiling.
S=$(new_subscriber subscriber) || exit 1
T=$(new_token "$S" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$T" ecdsa-p256) || exit 1
req GET "/v1/keys/$K" "$T"
jget .public_key_pem >"$WORK/pub.pem"
# Six at once: past the ceiling of 2/s, some are refused and held back
# while the subscriber signs.
pids=()
for i in 21 22 23 24 25 26; do
    tsa 127.0.0.1 "$i" >"$WORK/c.$i" &
    pids+=($!)
done
sleep 0.3
head -c 32 /dev/urandom >"$WORK/dg"
req_json POST "/v1/keys/$K/sign" "$T" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/dg")\"}"
check_status "a subscriber's signature at the anonymous ceiling" 200
wait "${pids[@]}"
check_match "... while anonymous requests were refused" 'HTTP/1.1 503' "$(cat "$WORK"/c.2[1-6])"
jget .signature | base64 -d >"$WORK/sig"
check_cmd "the signature verifies (openssl pkeyutl)" \
    openssl pkeyutl -verify -pubin -inkey "$WORK/pub.pem" -in "$WORK/dg" \
    -sigfile "$WORK/sig"
finish
