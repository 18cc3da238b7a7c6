#!/usr/bin/env bash
# issue 19: three nodes over one PostgreSQL behind haproxy
# (scripts/cluster.sh). A key made through one node signs through every
# node (openssl verifies); a token revoked on node 1 is refused on node 2
# within a second; kill -9 of a node under load: every signature a client
# received has its audit record and its log entry (psql), and the others
# go on serving through haproxy; the node signing checkpoints killed,
# another takes over within 5 s and the independent Go verifier finds the
# checkpoints before and after consistent; 10,000 time-stamp tokens from
# the three nodes have 10,000 serials (openssl reads a sample's serials
# back from the tokens). Audit records of requests through haproxy carry
# the client's own address (PROXY protocol v2).
. "$(dirname "$0")/lib.sh"
for tool in haproxy psql python3 xxd go; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

GOBIN="$WORK/go"
"$(dirname "$0")/../go/build.sh" "$GOBIN" || die "cannot build tests/go"
LV="$GOBIN/logverify"

CL=$WORK/cluster
cluster_cleanup() {
    local rc=$?
    "$SIGNET_REPO/scripts/cluster.sh" stop "$CL" >/dev/null 2>&1
    (exit $rc)
    cleanup
}
trap cluster_cleanup EXIT
# time-stamps from one address as fast as they come
export CLUSTER_EXTRA_CONF="limits.anon_rate = 1000000
limits.anon_burst = 1000000
limits.anon_signatures_per_second = 1000000"
BUILD=$(dirname "$SIGNETD") "$SIGNET_REPO/scripts/cluster.sh" start "$CL" \
    >"$WORK/cluster.env" 2>"$WORK/cluster.err" ||
    die "cluster.sh start: $(cat "$WORK/cluster.err")"
# KEY=VALUE lines (values may hold spaces)
while IFS='=' read -r k v; do
    [ -n "$k" ] && printf -v "$k" '%s' "$v"
done <"$WORK/cluster.env"
read -r -a NODES <<<"$NODE_URLS"
read -r -a PIDS <<<"$NODE_PIDS"
check_eq "cluster.sh: three nodes" 3 "${#NODES[@]}"
SERVER_URL=$SIGNET_URL SERVER_CA=$SIGNET_CA_FILE
ADMIN=$(tr -d '\n' <"$ADMIN_TOKEN_FILE")
export SIGNET_URL SIGNET_CA_FILE

# at URL: runs req against another base URL
at() {
    local keep=$SERVER_URL
    SERVER_URL=$1
    shift
    "$@"
    SERVER_URL=$keep
}

S=$(new_subscriber acme) || exit 1
T=$(new_token "$S" '"roles":["manage","sign"]') || exit 1
K=$(at "${NODES[0]}" new_key "$T" ecdsa-p256 "made on node 1") || exit 1
req GET "/v1/keys/$K" "$T"
jget .public_key_pem >"$WORK/k.pub"

# sign_at URL: signs a fresh digest; checks the signature with openssl
sign_at() {
    head -c 32 /dev/urandom >"$WORK/d.bin"
    at "$1" req_json POST "/v1/keys/$K/sign" "$T" \
        "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(base64 -w0 "$WORK/d.bin")\"}"
    [ "$STATUS" = 200 ] || return 1
    jget .signature | base64 -d >"$WORK/s.bin"
    openssl pkeyutl -verify -pubin -inkey "$WORK/k.pub" -sigfile "$WORK/s.bin" \
        -in "$WORK/d.bin" -pkeyopt digest:sha256 >/dev/null 2>&1
}
for i in 0 1 2; do
    check_cmd "a key made on node 1 signs on node $((i + 1)) (openssl verifies)" \
        sign_at "${NODES[$i]}"
done
check_cmd "signing through haproxy" sign_at "$SIGNET_URL"

# ---- PROXY v2: the client's address in the audit record ----
req GET "/v1/audit?limit=1" "$T"
check_eq "through haproxy, the audit record names the client, not haproxy" \
    "127.0.0.1" "$(jget '.records[0].client' | sed 's/:[0-9]*$//')"

# ---- a revocation on node 1, refused on node 2 within a second ----
T2=$(new_token "$S" '"roles":["sign"]') || exit 1
at "${NODES[1]}" req GET /v1/whoami "$T2"
check_status "node 2 knows the new token" 200
T2ID=$(jget .token_id)
at "${NODES[0]}" req DELETE "/v1/tokens/$T2ID" "$T"
check_status "revoked on node 1" 200
start=$(date +%s%N)
refused=
for _ in $(seq 1 50); do
    at "${NODES[1]}" req GET /v1/whoami "$T2"
    if [ "$STATUS" = 401 ]; then
        refused=$((($(date +%s%N) - start) / 1000000))
        break
    fi
    sleep 0.02
done
log "node 2 refused the token ${refused:-never} ms after node 1 revoked it"
check_eq "node 2 refuses a token node 1 revoked within 1 s" 1 \
    "$([ -n "$refused" ] && [ "$refused" -le 1000 ] && echo 1)"

# ---- 10,000 time-stamp tokens from three nodes, unique serials ----
printf 'cluster tsa' >"$WORK/t.txt"
openssl ts -query -data "$WORK/t.txt" -sha256 -cert -no_nonce -out "$WORK/t.tsq" \
    2>/dev/null || die "openssl ts -query"
mkdir -p "$WORK/tsr"
read -r -a PUBS <<<"$NODE_PUBLIC_URLS"
python3 "$(dirname "$0")/tsa_many.py" 10000 "$WORK/tsr" \
    "${PUBS[0]}/tsa" "${PUBS[1]}/tsa" "${PUBS[2]}/tsa" <"$WORK/t.tsq" \
    >"$WORK/serials" 2>"$WORK/tsa.err"
check_eq "10,000 time-stamp requests to three nodes: all granted" 0 "$?"
check_eq "10,000 tokens" 10000 "$(wc -l <"$WORK/serials")"
check_eq "10,000 distinct serials" 10000 "$(cut -d' ' -f1 "$WORK/serials" | sort -u | wc -l)"
check_eq "every node answered" 3 "$(cut -d' ' -f2 "$WORK/serials" | sort -u | wc -l)"
# openssl reads the same serial from a sample of the tokens
for f in "$WORK"/tsr/*.tsr; do
    want=$(basename "$f" .tsr)
    got=$(openssl ts -reply -in "$f" -text 2>/dev/null |
        sed -n 's/^Serial number: 0x//p' | tr 'A-F' 'a-f')
    check_eq "openssl reads the token's serial" "$(echo "$want" | sed 's/^0*//')" \
        "$(echo "$got" | sed 's/^0*//')"
done

# ---- a TSA rotation on node 1: node 2 signs with the new key within 1 s ----
# tsa_serial PUBLIC_URL: the serial of the TSA certificate in a fresh token
tsa_serial() {
    curl -sf --max-time 5 -H 'Content-Type: application/timestamp-query' \
        --data-binary @"$WORK/t.tsq" "$1/tsa" -o "$WORK/r.tsr" || return 1
    openssl ts -reply -in "$WORK/r.tsr" -token_out -out "$WORK/r.tok" 2>/dev/null &&
        openssl pkcs7 -inform DER -in "$WORK/r.tok" -print_certs 2>/dev/null |
        openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}
OLD_TSA=$(tsa_serial "${PUBS[1]}")
check_match "node 2's TSA certificate before" '^[0-9A-F]+$' "$OLD_TSA"
SIGNET_URL=${NODES[0]} SIGNET_TOKEN=$ADMIN "$SIGNET" tsa rotate >"$WORK/rot.out" 2>&1 ||
    fail "signet tsa rotate on node 1: $(cat "$WORK/rot.out")"
NEW_TSA=$(tsa_serial "${PUBS[0]}")
check_ne "node 1 signs with a new TSA certificate" "$OLD_TSA" "$NEW_TSA"
start=$(date +%s%N)
followed=
for _ in $(seq 1 50); do
    if [ "$(tsa_serial "${PUBS[1]}")" = "$NEW_TSA" ]; then
        followed=$((($(date +%s%N) - start) / 1000000))
        break
    fi
    sleep 0.02
done
log "node 2 signs time-stamps with node 1's new TSA key ${followed:-never} ms after"
check_eq "node 2 follows the rotation within 1 s" 1 \
    "$([ -n "$followed" ] && [ "$followed" -le 1000 ] && echo 1)"
check_eq "node 3 follows it too" "$NEW_TSA" "$(tsa_serial "${PUBS[2]}")"

# ---- kill -9 of a node under load ----
client() { # client N: signs through haproxy for $2 seconds
    local n=$1 end=$(($(date +%s) + $2)) d b out
    while [ "$(date +%s)" -lt "$end" ]; do
        d=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
        b=$(printf '%s' "$d" | xxd -r -p | base64 -w0)
        out=$(curl -sS --max-time 10 --cacert "$SIGNET_CA_FILE" \
            -H "Authorization: Bearer $T" -H 'Content-Type: application/json' \
            -d "{\"digest_algorithm\":\"sha256\",\"digest\":\"$b\"}" \
            -w '\n%{http_code}' "$SIGNET_URL/v1/keys/$K/sign" 2>/dev/null) || continue
        [ "${out##*$'\n'}" = 200 ] || continue
        printf '%s\n' "$d" >>"$WORK/received.$n"
    done
}
for n in 1 2 3 4; do client "$n" 8 & EXTRA_PIDS+=($!); done
sleep 3
kill -KILL "${PIDS[1]}"
log "node 2 (pid ${PIDS[1]}) killed under load"
sleep 1
before=$(cat "$WORK"/received.* 2>/dev/null | wc -l)
for p in "${EXTRA_PIDS[@]}"; do wait "$p" 2>/dev/null; done
EXTRA_PIDS=()
after=$(cat "$WORK"/received.* | wc -l)
log "signatures received: $after ($((after - before)) in the last 4 s, after the kill)"
check_ne "the other nodes go on signing after the kill" 0 "$((after - before))"
psql -qAtX -d "$PG_URL" -c "SELECT digest FROM audit WHERE action = 'sign'
    AND result = 'ok' AND log_index IS NOT NULL
    AND log_index IN (SELECT idx FROM log_entries)" | sort -u >"$WORK/recorded"
cat "$WORK"/received.* | sort -u >"$WORK/received"
check_eq "every received signature has its audit record and log entry" 0 \
    "$(comm -23 "$WORK/received" "$WORK/recorded" | wc -l)"

# ---- the checkpoint signer killed: another takes over ----
read -r -a PUBS <<<"$NODE_PUBLIC_URLS"
curl -sf "${PUBS[0]}/log/vkey" | tr -d '\n' >"$WORK/vkey" || die "no /log/vkey"
check_cmd "the Go verifier: the tree and its checkpoint (before)" \
    "$LV" tree -vkey "@$WORK/vkey" -url "${PUBS[0]}/log" -state "$WORK/go.state"
leader=
for i in 0 2; do
    grep -q "now signs the log's checkpoints" "$CL/node$((i + 1)).log" && leader=$i
done
[ -n "$leader" ] || die "no live node says it signs the checkpoints"
other=$((leader == 0 ? 2 : 0))
kill -KILL "${PIDS[$leader]}"
log "the checkpoint signer, node $((leader + 1)), killed"
start=$(date +%s%N)
took=
for _ in $(seq 1 100); do
    if grep -q "now signs the log's checkpoints" "$CL/node$((other + 1)).log"; then
        took=$((($(date +%s%N) - start) / 1000000))
        break
    fi
    sleep 0.1
done
log "node $((other + 1)) signs the checkpoints after ${took:-never} ms"
check_eq "another node signs the checkpoints within 5 s" 1 \
    "$([ -n "$took" ] && [ "$took" -le 5000 ] && echo 1)"
cp1=$(curl -sf "${PUBS[$other]}/log/checkpoint" | sed -n 2p)
for _ in 1 2 3; do sign_at "${NODES[$other]}" || fail "signing on the last node"; done
sleep 1.5
cp2=$(curl -sf "${PUBS[$other]}/log/checkpoint" | sed -n 2p)
check_eq "the new signer's checkpoint covers the new entries" 1 \
    "$([ "${cp2:-0}" -ge $((${cp1:-0} + 3)) ] && echo 1)"
check_cmd "the Go verifier: consistent across the change of signer" \
    "$LV" tree -vkey "@$WORK/vkey" \
    -url "${PUBS[$other]}/log" \
    -state "$WORK/go.state"

finish
