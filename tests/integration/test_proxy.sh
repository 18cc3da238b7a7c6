#!/usr/bin/env bash
# proxy.protocol = v2 behind haproxy 2.6 in TCP mode (TLS stays at signetd),
# with proxy.trusted = 127.0.0.1 and limits.connections_per_address = 2.
# Judged by curl, openssl s_client, haproxy's own health check and stats,
# and proxyv2.py (headers built byte by byte, sent straight to signetd):
#  - whoami, signing and the public listener work through haproxy, whose
#    TLS health check (option httpchk GET /healthz, check-ssl, a LOCAL
#    header) sees the node up;
#  - the audit records carry the client's address as the header gives it:
#    127.0.0.1 through haproxy, 192.0.2.7 and 2001:db8::7 when a
#    hand-made header claims them; so does the log (a failed handshake);
#  - the per-address limit counts the header's address: of three held
#    connections claiming 192.0.2.50 the third is closed, one claiming
#    192.0.2.51 is served;
#  - refused, closed without an answer: a TLS hello with no header, a bad
#    signature, a bad length, an unknown family with PROXY, a PROXY
#    header with UNSPEC, a header over 1040 bytes; a peer that sends
#    nothing is closed after the header deadline (5 s); meanwhile other
#    clients are served;
#  - a peer not in proxy.trusted is served as itself, no header read
#    (127.0.0.2: its request is answered, its audit record names it);
#  - signetd stops cleanly (exit 0) with a connection still waiting.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
PX=$(dirname "$0")/proxyv2.py
command -v haproxy >/dev/null || die "haproxy is not installed (scripts/deps.sh)"

server_init
set_conf proxy.protocol v2
set_conf proxy.trusted 127.0.0.1
set_conf limits.connections_per_address 2
set_conf server.event_threads 2

# server_start waits for /healthz on signetd's own port, which now wants a
# header: signetd and haproxy are started here, and SERVER_URL (req's
# target) is haproxy's.
# start_pair: signetd and haproxy on four random ports; 0 once haproxy
# answers /healthz through to signetd, 1 if a port was taken meanwhile (a
# random port may be another test's, or a client's ephemeral port).
start_pair() {
    local i
    NODE_PORT=$(random_port)
    PUBLIC_PORT=$(random_port)
    HA_PORT=$(random_port)
    HA_PUB=$(random_port)
    cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 256
    stats socket $WORK/haproxy.sock mode 600 level admin
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend api
    bind 127.0.0.1:$HA_PORT
    default_backend nodes
backend nodes
    option httpchk GET /healthz
    http-check expect status 200
    server n1 127.0.0.1:$NODE_PORT send-proxy-v2 check check-ssl verify none check-send-proxy inter 1s fall 2 rise 1
frontend public
    bind 127.0.0.1:$HA_PUB
    default_backend public_nodes
backend public_nodes
    server n1 127.0.0.1:$PUBLIC_PORT send-proxy-v2 check check-send-proxy inter 1s
EOF
    haproxy -c -f "$WORK/haproxy.cfg" >"$WORK/haproxy.check" 2>&1 ||
        die "haproxy rejects its configuration: $(cat "$WORK/haproxy.check")"
    LOG=$WORK/signetd.$NODE_PORT.log
    "$SIGNETD" serve --home "$SERVER_HOME" --listen "127.0.0.1:$NODE_PORT" \
        --public-listen "127.0.0.1:$PUBLIC_PORT" >"$LOG" 2>&1 &
    SERVER_PID=$!
    haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
    HA_PID=$!
    SERVER_PORT=$HA_PORT
    SERVER_URL=https://127.0.0.1:$HA_PORT
    PUBLIC_URL=http://127.0.0.1:$HA_PUB
    for i in $(seq 1 300); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            grep -q "cannot listen" "$LOG" || die "signetd exited: $(cat "$LOG")"
            kill "$HA_PID" 2>/dev/null
            wait "$HA_PID" 2>/dev/null
            return 1
        fi
        if ! kill -0 "$HA_PID" 2>/dev/null; then # its ports: haproxy.log
            kill "$SERVER_PID" 2>/dev/null
            wait "$SERVER_PID" 2>/dev/null
            return 1
        fi
        curl -sS --max-time 2 --cacert "$SERVER_CA" -o /dev/null \
            "$SERVER_URL/healthz" 2>/dev/null && return 0
        sleep 0.1
    done
    return 0 # the checks below say what does not answer
}
for try in 1 2 3 4 5; do
    start_pair && break
    log "a port was taken (try $try), trying others"
    [ "$try" = 5 ] && die "no free ports found"
done
EXTRA_PIDS+=("$HA_PID")
log "signetd on 127.0.0.1:$NODE_PORT behind haproxy on $SERVER_URL"

# haproxy's view of the node: its TLS HTTP health check passes (sent with
# a LOCAL header: haproxy's own connection).
ha_stat() { # ha_stat BACKEND FIELD (show stat CSV)
    "$PY" - "$WORK/haproxy.sock" "$1" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
out = b""
while True:
    c = s.recv(65536)
    if not c:
        break
    out += c
rows = out.decode().splitlines()
head = rows[0].lstrip("# ").split(",")
for r in rows[1:]:
    f = r.split(",")
    if len(f) == len(head) and f[0] == sys.argv[2] and f[1] == "n1":
        print(f[head.index(sys.argv[3])])
EOF
}
for i in $(seq 1 50); do
    [ "$(ha_stat nodes status)" = UP ] && break
    sleep 0.2
done
check_eq "haproxy's TLS health check (GET /healthz) sees the node up" UP "$(ha_stat nodes status)"
check_eq "the check's result is an HTTP answer" L7OK "$(ha_stat nodes check_status)"
check_eq "the public listener's check sees it up" UP "$(ha_stat public_nodes status)"

# ---- through haproxy ----
req GET /v1/whoami "$ADMIN"
check_status "whoami through haproxy" 200
check_eq "whoami: the admin token" true "$(jget .admin)"
A=$(new_subscriber acme) || exit 1
T=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$T" ecdsa-p256 "proxied") || exit 1
printf 'through haproxy' | openssl dgst -sha256 -binary >"$WORK/d1"
req_json POST "/v1/keys/$K/sign" "$T" "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d1")\"}"
check_status "sign through haproxy" 200
jget .signature | base64 -d >"$WORK/s1"
check_cmd "the signature verifies (openssl)" openssl pkeyutl -verify \
    -pubin -inkey "$WORK/pub.$K.pem" -in "$WORK/d1" -sigfile "$WORK/s1"
check_eq "the public listener through haproxy" 200 \
    "$(curl -sS --max-time 10 -o "$WORK/certs.pem" -w '%{http_code}' "$PUBLIC_URL/ca/certs.pem")"
check_match "  it serves the CA certificates" "BEGIN CERTIFICATE" "$(cat "$WORK/certs.pem")"
check_cmd "openssl s_client completes a handshake through haproxy" \
    sh -c "openssl s_client -connect 127.0.0.1:$HA_PORT -CAfile '$SERVER_CA' -verify_return_error </dev/null"

# ---- the client's address from the header ----
pxreq() { # pxreq SRC METHOD PATH TOKEN [BODY]
    "$PY" "$PX" request --port "$NODE_PORT" --ca "$SERVER_CA" --src "$1" \
        --method "$2" --path "$3" --token "$4" ${5:+--body "$5"}
}
printf 'from 192.0.2.7' | openssl dgst -sha256 -binary >"$WORK/d2"
printf 'from 2001:db8::7' | openssl dgst -sha256 -binary >"$WORK/d3"
R=$(pxreq 192.0.2.7 POST "/v1/keys/$K/sign" "$T" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d2")\"}")
check_eq "a sign request behind a header claiming 192.0.2.7" 200 "$(jget .status "$R")"
R=$(pxreq 2001:db8::7 POST "/v1/keys/$K/sign" "$T" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d3")\"}")
check_eq "a sign request behind a header claiming 2001:db8::7" 200 "$(jget .status "$R")"
req GET "/v1/audit?limit=1000" "$T"
check_status "the audit log through haproxy" 200
client_of() { # the client field of the sign record of digest file $1
    jget ".records[] | select(.action == \"sign\" and .digest == \"$(od -An -tx1 "$1" | tr -d ' \n')\") | .client"
}
check_eq "audit: signed through haproxy, client as haproxy saw it" 127.0.0.1 "$(client_of "$WORK/d1")"
check_eq "audit: the header's IPv4 source is the client" 192.0.2.7 "$(client_of "$WORK/d2")"
check_eq "audit: the header's IPv6 source is the client" 2001:db8::7 "$(client_of "$WORK/d3")"
# A failed handshake is logged with the header's address.
"$PY" "$PX" raw --port "$NODE_PORT" --seconds 3 --hex \
    "$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import proxyv2; print(proxyv2.header("192.0.2.99").hex() + "16030100050100000100")' "$(dirname "$PX")")" >/dev/null
sleep 0.5
check_match "the log names the header's address for a failed handshake" \
    'client=192\.0\.2\.99 .*TLS handshake failed' "$(cat "$LOG")"

# ---- the per-address limit counts the header's address ----
H=$("$PY" "$PX" hold --port "$NODE_PORT" --ca "$SERVER_CA" \
    --src 192.0.2.50,192.0.2.50,192.0.2.50,192.0.2.51)
log "held: $H"
check_eq "192.0.2.50's first two connections are served" "200 200" \
    "$(jget '[.[] | select(.src == "192.0.2.50" and .status == 200)] | map(.status) | join(" ")' "$H")"
check_eq "192.0.2.50's third is closed (limits.connections_per_address = 2)" false \
    "$(jget '[.[] | select(.src == "192.0.2.50")][2].handshake' "$H")"
check_eq "192.0.2.51's is served meanwhile" 200 \
    "$(jget '.[] | select(.src == "192.0.2.51") | .status' "$H")"

# ---- refusals: closed at once, no answer ----
SIG=0d0a0d0a000d0a515549540a
V4=c000020ac633640100509c40 # 192.0.2.10 -> 198.51.100.1, ports 80 -> 40000
TLSHELLO=16030100a5010000a10303$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
refused() { # refused WHAT HEX
    local r
    r=$("$PY" "$PX" raw --port "$NODE_PORT" --seconds 3 --hex "$2")
    CHECKS=$((CHECKS + 1))
    if [ "$(jget .closed "$r")" = true ] && [ "$(jget .answer_bytes "$r")" = 0 ] &&
        awk -v a="$(jget .after "$r")" 'BEGIN { exit !(a < 1) }'; then
        pass "$1: closed at once, nothing answered"
    else
        fail "$1"$'\n'"    expected: closed within 1 s, 0 bytes answered"$'\n'"    actual:   $r"
    fi
}
refused "a TLS ClientHello without a header" "$TLSHELLO"
refused "a plain HTTP request without a header" "$(printf 'GET /healthz HTTP/1.0\r\n\r\n' | od -An -tx1 | tr -d ' \n')"
refused "a bad signature" "0d0a0d0a000d0a515549540d2111000c$V4"
refused "version 1 in a v2 header" "${SIG}1111000c$V4"
refused "an unknown command (2)" "${SIG}2211000c$V4"
refused "a length short of the IPv4 addresses" "${SIG}2111000b${V4:0:22}"
refused "a length short of the IPv6 addresses" "${SIG}2121000c$V4"
refused "PROXY over UDP (0x12)" "${SIG}2112000c$V4"
refused "PROXY with an unknown family (0x41)" "${SIG}2141000c$V4"
refused "PROXY with UNSPEC (no client)" "${SIG}21000000"
refused "a header longer than 16 + 1024 bytes" "${SIG}21110401$V4"
refused "the text PROXY v1 line" "$(printf 'PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\n' | od -An -tx1 | tr -d ' \n')"
# A peer that is not a proxy is served as itself: no header is read from
# it, and its audit record names its own address.
printf 'from 127.0.0.2' | openssl dgst -sha256 -binary >"$WORK/d4"
R=$("$PY" - "$NODE_PORT" "$SERVER_CA" "$T" "/v1/keys/$K/sign" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d4")\"}" <<'EOF'
import json, socket, ssl, sys
port, ca, tok, path, body = sys.argv[1:6]
s = socket.socket()
s.bind(("127.0.0.2", 0))
s.connect(("127.0.0.1", int(port)))
t = ssl.create_default_context(cafile=ca).wrap_socket(s, server_hostname="127.0.0.1")
t.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\n"
           "Connection: close\r\n\r\n%s" % (path, tok, len(body), body)).encode())
got = b""
while True:
    b = t.recv(4096)
    if not b:
        break
    got += b
print(json.dumps({"status": int(got.split(b" ")[1])}))
EOF
)
check_eq "a peer not in proxy.trusted (127.0.0.2) is served as itself" 200 "$(jget .status "$R")"
req GET "/v1/audit?limit=1000" "$T"
check_eq "its audit record names its own address" 127.0.0.2 "$(client_of "$WORK/d4")"

# ---- a slow header, and others served meanwhile ----
"$PY" "$PX" raw --port "$NODE_PORT" --seconds 9 >"$WORK/slow.json" &
SLOW=$!
"$PY" "$PX" raw --port "$NODE_PORT" --seconds 9 --hex "${SIG}2111" >"$WORK/slow2.json" &
SLOW2=$!
sleep 1
req GET /v1/whoami "$T"
check_status "whoami through haproxy while headers are awaited" 200
R=$(pxreq 192.0.2.8 GET /v1/whoami "$T")
check_eq "a hand-made header's request meanwhile" 200 "$(jget .status "$R")"
wait "$SLOW" "$SLOW2"
for f in slow slow2; do
    R=$(cat "$WORK/$f.json")
    CHECKS=$((CHECKS + 1))
    if [ "$(jget .closed "$R")" = true ] && [ "$(jget .answer_bytes "$R")" = 0 ] &&
        awk -v a="$(jget .after "$R")" 'BEGIN { exit !(a >= 4.5 && a <= 6.5) }'; then
        pass "$f: a header not sent (in full) within 5 s: closed after $(jget .after "$R") s"
    else
        fail "$f: closed at the header deadline"$'\n'"    expected: closed after 5 s (+1.5), nothing answered"$'\n'"    actual:   $R"
    fi
done
check_match "the closed connections are counted in the log" \
    'PROXY protocol: closed [0-9]+ connection\(s\) from a proxy with a bad header' "$(cat "$LOG")"

# ---- still serving; a clean stop with a connection still waiting ----
check_healthy "the refusals"
"$PY" "$PX" raw --port "$NODE_PORT" --seconds 5 >/dev/null &
sleep 0.5
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
RC=$?
SERVER_PID=
check_eq "signetd exits 0 after SIGTERM with a header still awaited" 0 "$RC"
finish
