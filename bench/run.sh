#!/usr/bin/env bash
# make bench: Signet's throughput beside the HSM's own limit, measured side
# by side in one run on this machine.
#   bench/run.sh BUILD_DIR [SECONDS] [--smoke]
# Prints a markdown table and writes it to BUILD_DIR/bench-results.md.
# --smoke: a seconds-long run that only proves the pipeline still works.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SECS=${2:-10}
SMOKE=0
[ "${3:-}" = --smoke ] && SMOKE=1
BENCH=$BUILD/signet-bench
SIGNETD=$BUILD/signetd
MODULE=/usr/lib/softhsm/libsofthsm2.so
THREADS=${BENCH_THREADS:-2}   # HSM parallelism: one per core
CLIENTS=${BENCH_CLIENTS:-8}
MANY=${BENCH_MANY_KEYS:-10000}
[ $SMOKE = 1 ] && { SECS=2; MANY=20; }

WORK=$(mktemp -d /tmp/signet-bench.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

HOME_DIR=$WORK/home
"$SIGNETD" init --home "$HOME_DIR" >/dev/null
export SOFTHSM2_CONF=$HOME_DIR/hsm/softhsm2.conf
API=$(port)
PUB=$(port)
URL=https://127.0.0.1:$API
CA=$HOME_DIR/tls/ca.pem
"$SIGNETD" serve --home "$HOME_DIR" --listen 127.0.0.1:$API \
    --public-listen 127.0.0.1:$PUB >"$WORK/signetd.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
    curl -fsS --cacert "$CA" "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done

api() { # api METHOD PATH TOKEN [JSON]
    curl -fsS --cacert "$CA" -X "$1" -H "Authorization: Bearer $3" \
        ${4:+-H 'Content-Type: application/json' -d "$4"} "$URL$2"
}
ADMIN=$(cat "$HOME_DIR/admin.token")
SUB=$(api POST /v1/subscribers "$ADMIN" '{"name":"bench"}' | jq -r .id)
TOK=$(api POST "/v1/subscribers/$SUB/tokens" "$ADMIN" \
    '{"name":"bench","roles":["manage","sign"]}' | jq -r .token)
echo "$TOK" >"$WORK/token"
newkey() { api POST /v1/keys "$TOK" "{\"algorithm\":\"$1\",\"label\":\"b\"}" | jq -r .id; }
RSA=$(newkey rsa-3072)
EC=$(newkey ecdsa-p256)
echo "$RSA" >"$WORK/rsa.keys"
echo "$EC" >"$WORK/ec.keys"
: >"$WORK/ec10.keys"
for _ in $(seq 10); do newkey ecdsa-p256 >>"$WORK/ec10.keys"; done
LABEL=${SUB//-/}
PIN=$HOME_DIR/hsm/pins/$SUB.pin
TSA_KEY=$(head -1 "$HOME_DIR/ca/tsa.pem" | sed 's/^key-id: //')

RESULTS=$BUILD/bench-results.md
{
    echo "| measurement | ops/s | p50 ms | p99 ms | ratio to raw | server peak RSS MB | generator CPU |"
    echo "|---|---|---|---|---|---|---|"
} >"$RESULTS"

rss_reset() { echo 5 >"/proc/$PID/clear_refs" 2>/dev/null || true; }
rss_peak() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$PID/status"; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
row() { # row NAME RESULT RAW_OPS RSS
    local ops p50 p99 cpu ratio
    ops=$(field ops_per_s "$2"); p50=$(field p50_ms "$2")
    p99=$(field p99_ms "$2"); cpu=$(field client_cpu "$2")
    ratio=$(awk -v a="$ops" -v b="$3" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    echo "| $1 | $ops | $p50 | $p99 | $ratio | $4 | $cpu |" | tee -a "$RESULTS"
}
raw() { "$BENCH" raw --module "$MODULE" --token "$1" --pin-file "$2" --key "$3" \
        --alg "$4" --threads "$THREADS" --seconds "$SECS"; }
http() { rss_reset; "$BENCH" http --url "$URL" --ca "$CA" --token-file "$WORK/token" \
        --keys "$1" --alg "$2" --clients "$CLIENTS" --seconds "$SECS" "${@:3}"; }

R_RSA=$(raw "$LABEL" "$PIN" "$RSA" rsa-3072)
row "raw RSA-3072, $THREADS threads" "$R_RSA" "$(field ops_per_s "$R_RSA")" -
H=$(http "$WORK/rsa.keys" rsa-3072); row "HTTPS RSA-3072, $CLIENTS clients" "$H" "$(field ops_per_s "$R_RSA")" "$(rss_peak)"
H=$(http "$WORK/rsa.keys" rsa-3072 --batch 64); row "HTTPS RSA-3072, batches of 64" "$H" "$(field ops_per_s "$R_RSA")" "$(rss_peak)"

R_EC=$(raw "$LABEL" "$PIN" "$EC" ecdsa-p256)
row "raw ECDSA P-256, $THREADS threads" "$R_EC" "$(field ops_per_s "$R_EC")" -
H=$(http "$WORK/ec.keys" ecdsa-p256); row "HTTPS P-256, $CLIENTS clients" "$H" "$(field ops_per_s "$R_EC")" "$(rss_peak)"
H=$(http "$WORK/ec.keys" ecdsa-p256 --batch 64); row "HTTPS P-256, batches of 64" "$H" "$(field ops_per_s "$R_EC")" "$(rss_peak)"
H=$(http "$WORK/ec10.keys" ecdsa-p256); row "HTTPS P-256, random of 10 keys" "$H" "$(field ops_per_s "$R_EC")" "$(rss_peak)"
# Latency at half the peak rate, against the raw single-operation median.
PEAK=$(field ops_per_s "$(http "$WORK/ec.keys" ecdsa-p256)")
HALF=$(awk -v p="$PEAK" 'BEGIN { printf "%.0f", p / 2 }')
H=$(http "$WORK/ec.keys" ecdsa-p256 --rate "$HALF")
row "HTTPS P-256 paced at half the peak ($HALF/s)" "$H" "$(field ops_per_s "$R_EC")" "$(rss_peak)"
R1=$(THREADS=1 raw "$LABEL" "$PIN" "$EC" ecdsa-p256)
row "raw ECDSA P-256, 1 thread (single-operation time)" "$R1" "$(field ops_per_s "$R_EC")" -

# The TSA beside the raw rate of its own key with the same thread count.
R_TSA=$(THREADS=$CLIENTS raw signet-service "$HOME_DIR/hsm/service.pin" "$TSA_KEY" rsa-3072)
row "raw TSA key (RSA-3072), $CLIENTS threads" "$R_TSA" "$(field ops_per_s "$R_TSA")" -
rss_reset
H=$("$BENCH" tsa --url "http://127.0.0.1:$PUB" --clients "$CLIENTS" --seconds "$SECS")
row "TSA over HTTP, $CLIENTS clients" "$H" "$(field ops_per_s "$R_TSA")" "$(rss_peak)"

# ---- PKCS#11 forwarding: Signet's module vs p11-kit's own (issue 5) ----
MODULE_SO=$BUILD/libsignet-pkcs11.so
CLIENT_SO=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so
if [ -f "$MODULE_SO" ] && [ -f "$CLIENT_SO" ] && command -v p11-kit >/dev/null; then
    rss_reset
    R=$(SIGNET_URL=$URL SIGNET_CA_FILE=$CA SIGNET_TOKEN=$TOK "$BENCH" raw \
        --module "$MODULE_SO" --token "${SUB:0:32}" --pin-file "$WORK/token" \
        --key "$EC" --alg ecdsa-p256 --threads "$CLIENTS" --seconds "$SECS" || :)
    [ -n "$R" ] && row "libsignet-pkcs11 P-256, $CLIENTS threads" "$R" "$(field ops_per_s "$R_EC")" "$(rss_peak)"
    mkdir -m 700 "$WORK/run"
    eval "$(XDG_RUNTIME_DIR=$WORK/run p11-kit server --provider "$MODULE" \
        "pkcs11:token=$LABEL" 2>/dev/null)"
    if [ -n "${P11_KIT_SERVER_PID:-}" ]; then
        R=$(P11_KIT_SERVER_ADDRESS=$P11_KIT_SERVER_ADDRESS "$BENCH" raw \
            --module "$CLIENT_SO" --token "$LABEL" --pin-file "$PIN" --key "$EC" \
            --alg ecdsa-p256 --threads "$CLIENTS" --seconds "$SECS" || :)
        [ -n "$R" ] && row "p11-kit server + p11-kit-client.so P-256, $CLIENTS threads" "$R" "$(field ops_per_s "$R_EC")" -
        kill "$P11_KIT_SERVER_PID" 2>/dev/null || true
    fi
fi

# ---- last: the same with $MANY keys on the subscriber's token ----
echo "creating $MANY keys..." >&2
cp "$WORK/ec10.keys" "$WORK/many.keys"
export -f api newkey
export URL CA TOK
seq $((MANY - 10)) | xargs -P 4 -I{} bash -c 'newkey ecdsa-p256' >>"$WORK/many.keys"
H=$(http "$WORK/ec10.keys" ecdsa-p256); row "HTTPS P-256, random of 10 keys (with $MANY on the token)" "$H" "$(field ops_per_s "$R_EC")" "$(rss_peak)"
H=$(http "$WORK/many.keys" ecdsa-p256); row "HTTPS P-256, random of $MANY keys" "$H" "$(field ops_per_s "$R_EC")" "$(rss_peak)"

echo "results: $RESULTS" >&2
