#!/usr/bin/env bash
# The server log's format, and failed TLS handshakes (issue 15, item 6).
# Clients that reject the server's certificate (curl without the TLS root,
# openssl s_client with a wrong CA file), from 127.0.0.1 and 127.0.0.2,
# one that speaks plain HTTP to the HTTPS port, then ordinary requests and
# one with an unknown token (401). Afterwards:
# - every line of the log is "TIME LEVEL [client=ADDR] MESSAGE": time in
#   UTC, RFC 3339 with milliseconds, a level, the client's address where
#   the line is about a client (the 401, each handshake failure);
# - the failed handshakes were logged once per address (2 lines: the
#   second and later failures of an address within the minute are held);
# - /metrics (admin token) counts every one of them;
# - a serve that cannot start says why in a line of the same format.
# Verdicts: grep on the log and on the Prometheus text, curl's and
# openssl's own exit status for the handshakes.
. "$(dirname "$0")/lib.sh"

server_start
LOGF=$WORK/signetd.$SERVER_PORT.log
HOSTPORT=127.0.0.1:$SERVER_PORT

# A CA that did not issue the server's certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$WORK/wrong.key" -out "$WORK/wrong.pem" -days 1 \
    -subj /CN=wrong-ca >/dev/null 2>&1 || die "openssl req (wrong CA)"

# ---- handshakes the clients give up ----

rejected=0
# curl without the TLS root: "self-signed certificate in chain" (exit 60).
for _ in $(seq 1 12); do
    curl -sS --max-time 10 -o /dev/null "https://$HOSTPORT/healthz" 2>/dev/null
    [ $? -eq 60 ] && rejected=$((rejected + 1))
done
# openssl s_client, verifying against the wrong CA file.
for _ in $(seq 1 8); do
    openssl s_client -connect "$HOSTPORT" -servername 127.0.0.1 \
        -verify_return_error -CAfile "$WORK/wrong.pem" </dev/null \
        >/dev/null 2>&1 || rejected=$((rejected + 1))
done
# From another address: 127.0.0.2 (loopback, bound with --interface).
for _ in $(seq 1 5); do
    curl -sS --max-time 10 --interface 127.0.0.2 -o /dev/null \
        "https://$HOSTPORT/healthz" 2>/dev/null
    [ $? -eq 60 ] && rejected=$((rejected + 1))
done
check_eq "the clients rejected the certificate 25 times" 25 "$rejected"
# Plain HTTP to the HTTPS port: no TLS at all (also a failed handshake).
curl -sS --max-time 10 -o /dev/null "http://$HOSTPORT/healthz" 2>/dev/null

# ---- ordinary requests, and a 401 ----

check_healthy "the rejected handshakes"
req GET /v1/whoami "$ADMIN"
check_status "whoami (admin)" 200
# The admin token with its secret's last character changed: well formed,
# unknown (a malformed one is refused without a line).
last=${ADMIN: -1}
[ "$last" = A ] && wrong=${ADMIN%?}B || wrong=${ADMIN%?}A
req GET /v1/keys "$wrong"
check_error "an unknown token" 401 unauthorized

# ---- /metrics ----

req GET /metrics "$ADMIN"
check_status "metrics (admin token)" 200
failures=$(printf '%s\n' "$BODY" |
    sed -nE 's/^signet_tls_handshake_failures_total\{listener="api"\} ([0-9]+)$/\1/p')
CHECKS=$((CHECKS + 1))
if [ -n "$failures" ] && [ "$failures" -ge 25 ]; then
    pass "signet_tls_handshake_failures_total{listener=\"api\"} = $failures (>= 25)"
else
    fail "failed handshakes in /metrics"$'\n'"    expected: signet_tls_handshake_failures_total{listener=\"api\"} >= 25"$'\n'"    actual:   '${failures:-no such series}'"
fi

# ---- the log ----

sleep 1 # the server logs a failure when it closes the connection
# The format, every line: the time (UTC, RFC 3339, ms), the level, then
# the client's address if the line is about one, then the message.
line_re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z (debug|info|warn|error) (client=[0-9A-Fa-f.:%]+ )?[^ ]'
bad=$(grep -cvE "$line_re" "$LOGF")
check_eq "log lines not in the log's format" 0 "$bad" ||
    grep -vE "$line_re" "$LOGF" | head -5 >&2
check_eq "log lines with a control character" 0 \
    "$(grep -c $'[\x01-\x08\x0b-\x1f\x7f]' "$LOGF")"
# Lines about a client name it in the address field.
check_eq "the 401 logged with client=127.0.0.1" 1 \
    "$(grep -cE ' warn client=127\.0\.0\.1 auth: unknown token' "$LOGF")"
check_eq "lines of the HTTP library without a client address" 0 \
    "$(grep -c 'handshake message out of context' "$LOGF")"
tls_lines=$(grep -E 'TLS handshake' "$LOGF")
check_eq "failed handshakes logged once per address" 2 \
    "$(printf '%s' "$tls_lines" | grep -c .)" ||
    printf '%s\n' "$tls_lines" | head -5 >&2
check_eq "... one line for 127.0.0.1" 1 \
    "$(printf '%s\n' "$tls_lines" | grep -c ' warn client=127\.0\.0\.1 ')"
check_eq "... one line for 127.0.0.2" 1 \
    "$(printf '%s\n' "$tls_lines" | grep -c ' warn client=127\.0\.0\.2 ')"
# Still 2 after a few more failures within the minute.
for _ in 1 2 3; do
    curl -sS --max-time 10 -o /dev/null "https://$HOSTPORT/healthz" 2>/dev/null
done
sleep 1
check_eq "no more lines within the minute" 2 "$(grep -c 'TLS handshake' "$LOGF")"

server_stop

# A serve that cannot start (an unknown key in signetd.conf): its one
# complaint is a log line too, in the same format.
set_conf logs.no_such_key 1
"$SIGNETD" serve --home "$SERVER_HOME" --listen "127.0.0.1:$SERVER_PORT" \
    --public-listen off >"$WORK/bad-start.log" 2>&1
check_ne "serve with an unknown key fails" 0 "$?"
check_eq "its lines not in the log's format" 0 \
    "$(grep -cvE "$line_re" "$WORK/bad-start.log")" ||
    head -5 "$WORK/bad-start.log" >&2
check_match "it names the key" "no_such_key" "$(cat "$WORK/bad-start.log")"
finish
