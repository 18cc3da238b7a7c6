#!/usr/bin/env bash
# make bench: Signet's throughput beside the HSM's own limit, measured side
# by side in one run on this machine.
#   bench/run.sh BUILD_DIR [SECONDS] [--smoke]
# Every row is measured in each of BENCH_ROUNDS rounds (default 5); prints
# a markdown table of the medians and writes it to BUILD_DIR/bench-results.md.
# --smoke: a seconds-long run that only proves the pipeline still works.
# BENCH_ONLY=abuse: only the abuse-resistance rows (flood and tenants).
# BENCH_ONLY=log: only the transparency log's rows (issue 18): signing
# with the log on beside a second signetd with log.enabled = false, and
# how long an entry waits for a checkpoint under load.
# BENCH_ONLY=pg: only the PostgreSQL rows (issue 19): the same signing on
# a home moved to PostgreSQL (scripts/pg.sh) beside the SQLite one, the
# database server's own CPU, and three nodes behind haproxy
# (scripts/cluster.sh) with the CPU per signature of all of them.
# BENCH_ONLY=keeper BENCH_BASELINE=PATH: only the keeper's rows (issue 20):
# single signatures (RSA-3072, P-256; 8 clients and 1) by this signetd
# (supervisor, keeper, front end) beside PATH, a signetd built before the
# split (one process), alternating in each round; the ratio is this one's
# rate to the baseline's.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SECS=${2:-4}
SMOKE=0
[ "${3:-}" = --smoke ] && SMOKE=1
BENCH=$BUILD/signet-bench
SIGNETD=$BUILD/signetd
MODULE=/usr/lib/softhsm/libsofthsm2.so
THREADS=${BENCH_THREADS:-2}   # HSM parallelism: one per core
CLIENTS=${BENCH_CLIENTS:-8}
MANY=${BENCH_MANY_KEYS:-10000}
ROUNDS=${BENCH_ROUNDS:-5}
[ $SMOKE = 1 ] && { SECS=1; MANY=20; ROUNDS=1; }

WORK=$(mktemp -d /tmp/signet-bench.XXXXXX)
PID=
EXTRA_PIDS=()
cleanup() {
    local p
    # (set -e holds here too: a server already gone must not stop the
    # rest of the cleanup)
    for p in "${EXTRA_PIDS[@]}"; do kill "$p" 2>/dev/null || :; done
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || :
    # issue 19: the cluster and the PostgreSQL servers
    [ -d "$WORK/cluster" ] && "$(dirname "$0")/../scripts/cluster.sh" stop "$WORK/cluster" >/dev/null 2>&1
    [ -n "${PGDIR:-}" ] && "$(dirname "$0")/../scripts/pg.sh" stop "$PGDIR" >/dev/null 2>&1 &&
        rm -rf "$PGDIR"
    [ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

HOME_DIR=$WORK/home
"$SIGNETD" init --home "$HOME_DIR" >/dev/null
# The benchmarks sign with static API tokens, which a new home refuses by
# default (auth.require_strong_auth).
sed -i 's/^auth\.operator_mfa = .*/auth.operator_mfa = false/' "$HOME_DIR/signetd.conf"
sed -i 's/^auth\.require_strong_auth = .*/auth.require_strong_auth = false/' \
    "$HOME_DIR/signetd.conf"
# BENCH_CONF: extra signetd.conf lines (e.g. "limits.anon_signatures_per_second = 50").
[ -n "${BENCH_CONF:-}" ] && printf '%s\n' "$BENCH_CONF" >>"$HOME_DIR/signetd.conf"
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
# A second tenant for the fairness rows (B; the bench subscriber is A).
SUB_B=$(api POST /v1/subscribers "$ADMIN" '{"name":"bench-b"}' | jq -r .id)
api POST "/v1/subscribers/$SUB_B/tokens" "$ADMIN" \
    '{"name":"bench-b","roles":["manage","sign"]}' | jq -r .token >"$WORK/token-b"
api POST /v1/keys "$(cat "$WORK/token-b")" '{"algorithm":"ecdsa-p256","label":"b"}' |
    jq -r .id >"$WORK/b.keys"
# The flood's OCSP request: a serial nobody issued, with a nonce (so no
# cache can answer it: every one is a CA signature unless refused).
openssl ocsp -issuer "$HOME_DIR/ca/codesigning.pem" -serial 0x5ee1 \
    -reqout "$WORK/ocsp.req" >/dev/null 2>&1
RSA=$(newkey rsa-3072)
EC=$(newkey ecdsa-p256)
echo "$RSA" >"$WORK/rsa.keys"
echo "$EC" >"$WORK/ec.keys"
: >"$WORK/ec10.keys"
for _ in $(seq 10); do newkey ecdsa-p256 >>"$WORK/ec10.keys"; done
LABEL=${SUB//-/}
PIN=$HOME_DIR/hsm/pins/$SUB.pin
TSA_KEY=$(head -1 "$HOME_DIR/ca/tsa.pem" | sed 's/^key-id: //')

# ---- issue 16: a token exchanged for an OIDC ID token ----
# The jose test issuer of the integration tests on loopback, its policy
# granting the P-256 key; each round exchanges a freshly minted ID token
# (outside the measured seconds: the exchange is not on the signing path)
# and signs with the short-lived token beside the static token's row.
OIDC=0
random_port() { port; }
die() { echo "bench: $*" >&2; exit 1; }
oidc_setup() {
    local here aud=signet-bench
    here=$(cd "$(dirname "$0")/../tests/integration" && pwd)
    command -v node >/dev/null && command -v npm >/dev/null || return 0
    mkdir -p "$WORK/oidc"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$WORK/oidc/tls.key" -out "$WORK/oidc/tls.crt" -days 1 \
        -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
    cp "$WORK/oidc/tls.crt" "$WORK/oidc/ca.pem"
    # shellcheck source=../tests/integration/oidc_issuer.sh
    . "$here/oidc_issuer.sh"
    [ -f "${JOSE_ESM:-}" ] || return 0
    OIDC_ISSUER_LIFETIME=86400 issuer_start "$WORK/oidc/issuer" "$WORK/oidc"
    api POST /v1/oidc/issuers "$ADMIN" "{\"issuer\":\"$ISS\",\"audience\":\"$aud\",\
\"ca_file\":\"$WORK/oidc/ca.pem\"}" >/dev/null
    api POST /v1/trust-policies "$TOK" "{\"issuer\":\"$ISS\",\"claims\":\
{\"repository\":\"acme/bench\",\"repository_id\":\"1\"},\"keys\":[\"$EC\"],\
\"roles\":[\"sign\"],\"token_lifetime\":900}" | jq -e .id >/dev/null || return 0
    OIDC=1
}
# oidc_token: a fresh exchange into $WORK/oidc-token (the CLI's --out).
oidc_token() {
    mint '{"aud":"signet-bench","repository":"acme/bench","repository_id":"1"}' \
        >"$WORK/oidc/id.jwt" &&
        "$BUILD/signet" --url "$URL" --ca-file "$CA" login --oidc \
            --id-token-file "$WORK/oidc/id.jwt" --out "$WORK/oidc-token" >/dev/null
}
oidc_setup

# ---- issue 18: a second signetd, the same but with the log off ----
HOME2=$WORK/home-nolog
"$SIGNETD" init --home "$HOME2" >/dev/null
sed -i 's/^auth\.operator_mfa = .*/auth.operator_mfa = false/; s/^auth\.require_strong_auth = .*/auth.require_strong_auth = false/' \
    "$HOME2/signetd.conf"
printf 'log.enabled = %s\n' "${BENCH_LOG2:-false}" >>"$HOME2/signetd.conf"
API2=$(port)
PUB2=$(port)
URL2=https://127.0.0.1:$API2
CA2=$HOME2/tls/ca.pem
SOFTHSM2_CONF=$HOME2/hsm/softhsm2.conf "$SIGNETD" serve --home "$HOME2" \
    --listen 127.0.0.1:$API2 --public-listen 127.0.0.1:$PUB2 >"$WORK/signetd2.log" 2>&1 &
EXTRA_PIDS+=($!)
PID2=$!
for _ in $(seq 100); do
    curl -fsS --cacert "$CA2" "$URL2/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
api2() { URL=$URL2 CA=$CA2 api "$@"; }
ADMIN2=$(cat "$HOME2/admin.token")
SUB2=$(api2 POST /v1/subscribers "$ADMIN2" '{"name":"bench"}' | jq -r .id)
api2 POST "/v1/subscribers/$SUB2/tokens" "$ADMIN2" \
    '{"name":"bench","roles":["manage","sign"]}' | jq -r .token >"$WORK/token2"
api2 POST /v1/keys "$(cat "$WORK/token2")" '{"algorithm":"rsa-3072","label":"b"}' |
    jq -r .id >"$WORK/rsa2.keys"
api2 POST /v1/keys "$(cat "$WORK/token2")" '{"algorithm":"ecdsa-p256","label":"b"}' |
    jq -r .id >"$WORK/ec2.keys"

# ---- issue 19: a third signetd, its home moved to PostgreSQL ----
PG=0
if [ -z "${BENCH_ONLY:-}" ] || [ "${BENCH_ONLY:-}" = pg ]; then
    PG=1
    PGDIR=$(mktemp -d /tmp/signet-bench-pg.XXXXXX) # the postgres user's
    PG_URL=$("$(dirname "$0")/../scripts/pg.sh" start "$PGDIR" | sed -n 's/^PG_URL=//p')
    HOME3=$WORK/home-pg
    "$SIGNETD" init --home "$HOME3" >/dev/null
    sed -i 's/^auth\.operator_mfa = .*/auth.operator_mfa = false/; s/^auth\.require_strong_auth = .*/auth.require_strong_auth = false/' \
        "$HOME3/signetd.conf"
    "$SIGNETD" migrate --home "$HOME3" --to "$PG_URL" >/dev/null
    API3=$(port)
    URL3=https://127.0.0.1:$API3
    CA3=$HOME3/tls/ca.pem
    SOFTHSM2_CONF=$HOME3/hsm/softhsm2.conf "$SIGNETD" serve --home "$HOME3" \
        --listen 127.0.0.1:$API3 --public-listen 127.0.0.1:$(port) >"$WORK/signetd3.log" 2>&1 &
    PID3=$!
    EXTRA_PIDS+=($PID3)
    for _ in $(seq 100); do
        curl -fsS --cacert "$CA3" "$URL3/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    api3() { URL=$URL3 CA=$CA3 api "$@"; }
    ADMIN3=$(cat "$HOME3/admin.token")
    SUB3=$(api3 POST /v1/subscribers "$ADMIN3" '{"name":"bench"}' | jq -r .id)
    api3 POST "/v1/subscribers/$SUB3/tokens" "$ADMIN3" \
        '{"name":"bench","roles":["manage","sign"]}' | jq -r .token >"$WORK/token3"
    api3 POST /v1/keys "$(cat "$WORK/token3")" '{"algorithm":"rsa-3072","label":"b"}' |
        jq -r .id >"$WORK/rsa3.keys"
    api3 POST /v1/keys "$(cat "$WORK/token3")" '{"algorithm":"ecdsa-p256","label":"b"}' |
        jq -r .id >"$WORK/ec3.keys"
    # The database server's processes: its postmaster and their children.
    pg_pids() {
        local pm
        pm=$(head -1 "$PGDIR/data/postmaster.pid")
        echo "$pm $(pgrep -d ' ' -P "$pm")"
    }
fi

# ---- issue 20: the single process before the keeper, as a baseline ----
BASE=0
if [ "${BENCH_ONLY:-}" = keeper ]; then
    [ -x "${BENCH_BASELINE:-}" ] || { echo "BENCH_ONLY=keeper needs BENCH_BASELINE=signetd" >&2; exit 2; }
    BASE=1
    HOMEB=$WORK/home-base
    "$BENCH_BASELINE" init --home "$HOMEB" >/dev/null
    sed -i 's/^auth\.operator_mfa = .*/auth.operator_mfa = false/; s/^auth\.require_strong_auth = .*/auth.require_strong_auth = false/' \
        "$HOMEB/signetd.conf"
    [ -n "${BENCH_CONF:-}" ] && printf '%s\n' "$BENCH_CONF" >>"$HOMEB/signetd.conf"
    URLB=https://127.0.0.1:$(port)
    CAB=$HOMEB/tls/ca.pem
    SOFTHSM2_CONF=$HOMEB/hsm/softhsm2.conf "$BENCH_BASELINE" serve --home "$HOMEB" \
        --listen "${URLB#https://}" --public-listen 127.0.0.1:$(port) >"$WORK/signetd-base.log" 2>&1 &
    PIDB=$!
    EXTRA_PIDS+=($PIDB)
    for _ in $(seq 100); do
        curl -fsS --cacert "$CAB" "$URLB/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    apib() { URL=$URLB CA=$CAB api "$@"; }
    ADMINB=$(cat "$HOMEB/admin.token")
    SUBB=$(apib POST /v1/subscribers "$ADMINB" '{"name":"bench"}' | jq -r .id)
    apib POST "/v1/subscribers/$SUBB/tokens" "$ADMINB" \
        '{"name":"bench","roles":["manage","sign"]}' | jq -r .token >"$WORK/token-base"
    apib POST /v1/keys "$(cat "$WORK/token-base")" '{"algorithm":"rsa-3072","label":"b"}' |
        jq -r .id >"$WORK/rsa-base.keys"
    apib POST /v1/keys "$(cat "$WORK/token-base")" '{"algorithm":"ecdsa-p256","label":"b"}' |
        jq -r .id >"$WORK/ec-base.keys"
fi
httpb() { SRV_PID=$PIDB rss_reset; "$BENCH" http --url "$URLB" --ca "$CAB" --token-file "$WORK/token-base" \
        --keys "$1" --alg "$2" --clients "$CLIENTS" --seconds "$SECS" "${@:3}"; }
# In each round, per row: the baseline, then this signetd (odd rounds) or
# the other way round (even rounds), so a drift favours neither.
KROUND=0
keeperrows() {
    local B H alg keys bkeys c label
    KROUND=$((KROUND + 1))
    for alg in rsa-3072 ecdsa-p256; do
        keys=$WORK/rsa.keys bkeys=$WORK/rsa-base.keys label=RSA-3072
        [ "$alg" = ecdsa-p256 ] && keys=$WORK/ec.keys bkeys=$WORK/ec-base.keys label=P-256
        for c in "$CLIENTS" 1; do
            if [ $((KROUND % 2)) = 1 ]; then
                B=$(CLIENTS=$c httpb "$bkeys" "$alg")
                SRV_PID=$PIDB keep "baseline (one process): HTTPS $label, $c client(s)" "$B" "" "$(SRV_PID=$PIDB rss_peak)"
                H=$(CLIENTS=$c http "$keys" "$alg")
                keep "keeper (three processes): HTTPS $label, $c client(s) (ratio: to the baseline)" \
                    "$H" "$(field ops_per_s "$B")" "$(rss_peak)"
            else
                # this signetd's CPU counted over its own row only
                H=$(CLIENTS=$c http "$keys" "$alg")
                cp "$WORK/ticks" "$WORK/ticks.h"
                T1=$(srv_ticks)
                B=$(CLIENTS=$c httpb "$bkeys" "$alg")
                SRV_PID=$PIDB keep "baseline (one process): HTTPS $label, $c client(s)" "$B" "" "$(SRV_PID=$PIDB rss_peak)"
                cp "$WORK/ticks.h" "$WORK/ticks"
                ON_TICKS=$T1 keep "keeper (three processes): HTTPS $label, $c client(s) (ratio: to the baseline)" \
                    "$H" "$(field ops_per_s "$B")" "$(rss_peak)"
            fi
        done
    done
}

RESULTS=$BUILD/bench-results.md
RAWDIR=$WORK/rows
mkdir -p "$RAWDIR"

# Before each row served by signetd: reset its peak RSS and note its CPU
# time so far (clock ticks, user + system).
# SRV_PID: the signetd measured (default the first; the log-off rows set
# the second's).
# SRV_PID may list several processes (a cluster's nodes): their CPU time
# adds up, and so do their peak RSS.
# issue 20: signetd serve is a supervisor and its children (the keeper,
# the front end): all of them count.
srv_pids() {
    local p
    for p in ${SRV_PID:-$PID}; do echo "$p $(pgrep -P "$p" | tr '\n' ' ')"; done
}
rss_reset() {
    local p
    for p in $(srv_pids); do
        echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true
    done
    srv_ticks >"$WORK/ticks"
}
rss_peak() {
    local p
    # (a process may end between pgrep and the read: skipped)
    for p in $(srv_pids); do cat "/proc/$p/status" 2>/dev/null || :; done |
        awk '/VmHWM/ { kb += $2 } END { printf "%.0f", kb / 1024 }'
}
srv_ticks() {
    local p
    for p in $(srv_pids); do cat "/proc/$p/stat" 2>/dev/null || :; done |
        awk '{ t += $14 + $15 } END { print t + 0 }'
}
TICK=$(getconf CLK_TCK)
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$2"; }
# CPU time per operation in microseconds. Rows with a server RSS: signetd's
# CPU since rss_reset over the row's operations; raw rows: the bench
# process's own CPU (cores busy over operations per second). NO_CPU=1 keep:
# no figure (p11-kit's server is a process of its own).
cpu_per_op() { # cpu_per_op RESULT SERVED
    if [ "$2" = 1 ]; then
        awk -v t0="$(cat "$WORK/ticks")" -v t1="${ON_TICKS:-$(srv_ticks)}" -v hz="$TICK" \
            -v n="$(field ops "$1")" 'BEGIN { if (n > 0) printf "%.1f", (t1 - t0) / hz / n * 1e6; else print "-" }'
    else
        awk -v c="$(field client_cpu "$1")" -v r="$(field ops_per_s "$1")" \
            'BEGIN { if (r > 0) printf "%.1f", c / r * 1e6; else print "-" }'
    fi
}
# keep ROW RESULT [RAW_OPS] [RSS]: one round's figures of a row, kept as
# "ops p50 p99 cpu ratio rss cpu_per_op"; the table is made of their medians.
ORDER=()
keep() {
    local f="$RAWDIR/$(md5sum <<<"$1" | cut -c1-12)" ratio per
    [ -f "$f" ] || ORDER+=("$1")
    ratio=$(awk -v a="$(field ops_per_s "$2")" -v b="${3:-0}" \
        'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')
    # RATIO_P50=1: the ratio is the given p50 to this row's (a slowdown).
    [ -n "${RATIO_P50:-}" ] && ratio=$(awk -v a="$(field p50_ms "$2")" -v b="${3:-0}" \
        'BEGIN { if (a > 0) printf "%.3f", b / a; else print "-" }')
    per=-
    [ -n "${NO_CPU:-}" ] || per=$(cpu_per_op "$2" "$([ -n "${4:-}" ] && echo 1)")
    echo "$(field ops_per_s "$2") $(field p50_ms "$2") $(field p99_ms "$2")" \
        "$(field client_cpu "$2") $ratio ${4:--} $per" >>"$f"
    echo "  $1: $(field ops_per_s "$2")/s ratio $ratio cpu/op ${per}us" >&2
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0 || v[1] == "-") print "-";
    else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
table() {
    local name f
    {
        echo "Medians of $ROUNDS rounds, $SECS s per row, $CLIENTS clients, $(nproc) cores, $(date -u +%F)."
        echo
        echo "| measurement | ops/s | p50 ms | p99 ms | ratio to raw | server peak RSS MB | generator CPU | CPU us/op |"
        echo "|---|---|---|---|---|---|---|---|"
        for name in "${ORDER[@]}"; do
            f="$RAWDIR/$(md5sum <<<"$name" | cut -c1-12)"
            printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" \
                "$(cut -d' ' -f1 "$f" | median)" "$(cut -d' ' -f2 "$f" | median)" \
                "$(cut -d' ' -f3 "$f" | median)" "$(cut -d' ' -f5 "$f" | median)" \
                "$(cut -d' ' -f6 "$f" | sort -g | tail -1)" "$(cut -d' ' -f4 "$f" | median)" \
                "$(cut -d' ' -f7 "$f" | median)"
        done
    } >"$RESULTS"
}
raw() { "$BENCH" raw --module "$MODULE" --token "$1" --pin-file "$2" "$3" "$4" \
        --alg "$5" --threads "$THREADS" --seconds "$SECS"; }
http() { rss_reset; "$BENCH" http --url "$URL" --ca "$CA" --token-file "$WORK/token" \
        --keys "$1" --alg "$2" --clients "$CLIENTS" --seconds "$SECS" "${@:3}"; }
# Abuse resistance (issue 14), in each round: a row alone, then the same
# while the abuse runs (started a second before the measurement and ending
# a second after it); the ratio is the second to the first.
FLOODERS=${BENCH_FLOODERS:-16}
httpt() { # httpt TOKEN_FILE KEYS CLIENTS [ARGS]: P-256 signing by one tenant
    rss_reset; "$BENCH" http --url "$URL" --ca "$CA" --token-file "$1" \
        --keys "$2" --alg ecdsa-p256 --clients "$3" --seconds "$SECS" "${@:4}"; }
B_RATE=${BENCH_B_RATE:-100}
APIDS=()
tenant_a() { # tenant_a keygen|sign...: tenant A's abuse in the background
    local w
    APIDS=()
    for w in "$@"; do
        if [ "$w" = keygen ]; then
            "$BENCH" keygen --url "$URL" --ca "$CA" --token-file "$WORK/token" --alg rsa-4096 \
                --clients 2 --seconds $((SECS + 2)) >"$WORK/a-$w.out" &
        else
            "$BENCH" http --url "$URL" --ca "$CA" --token-file "$WORK/token" --keys "$WORK/rsa.keys" \
                --alg rsa-3072 --clients "$CLIENTS" --seconds $((SECS + 2)) >"$WORK/a-$w.out" &
        fi
        APIDS+=($!)
    done
    sleep 1
}
tenant_a_done() {
    wait "${APIDS[@]}"
    [ -s "$WORK/a-keygen.out" ] && echo "  A's keys: $(field ops "$(cat "$WORK/a-keygen.out")")" >&2
    [ -s "$WORK/a-sign.out" ] && echo "  A's signatures/s: $(field ops_per_s "$(cat "$WORK/a-sign.out")")" >&2
    rm -f "$WORK/a-keygen.out" "$WORK/a-sign.out"
}
abuse() {
    local A F P1 P2 P3
    A=$(httpt "$WORK/token" "$WORK/ec.keys" "$CLIENTS")
    keep "abuse: HTTPS P-256, $CLIENTS clients, alone" "$A" "$(field ops_per_s "$A")" "$(rss_peak)"
    "$BENCH" tsa --url "http://127.0.0.1:$PUB" --clients "$FLOODERS" --sources "$FLOODERS" \
        --ocsp-req "$WORK/ocsp.req" --seconds $((SECS + 2)) >"$WORK/flood.out" &
    P1=$!
    sleep 1
    H=$(httpt "$WORK/token" "$WORK/ec.keys" "$CLIENTS")
    keep "abuse: the same during an anonymous TSA+OCSP flood ($FLOODERS connections from $FLOODERS addresses; ratio: to alone, want >= 0.8)" "$H" "$(field ops_per_s "$A")" "$(rss_peak)"
    wait "$P1"
    F=$(cat "$WORK/flood.out")
    NO_CPU=1 keep "abuse: the flood's answered requests ($FLOODERS connections)" "$F"
    echo "  flood refused (429/503): $(field refused "$F")" >&2
    # Tenant B, a steady 2 clients at $B_RATE/s in all (paced: B's rate is
    # the same under load, its latency shows the slowdown), alone and while
    # tenant A generates RSA-4096 keys (2 clients), signs flat out with
    # RSA-3072 ($CLIENTS clients), and both. Ratio: B's p50 alone to its
    # p50 under load (1/slowdown, want >= 0.67).
    A=$(httpt "$WORK/token-b" "$WORK/b.keys" 2 --rate "$B_RATE")
    keep "abuse: tenant B, P-256, 2 clients at $B_RATE/s, alone" "$A" "$(field ops_per_s "$A")" "$(rss_peak)"
    tenant_a keygen
    H=$(httpt "$WORK/token-b" "$WORK/b.keys" 2 --rate "$B_RATE")
    RATIO_P50=1 keep "abuse: tenant B while A makes RSA-4096 keys (ratio: B's p50 alone to this p50)" "$H" "$(field p50_ms "$A")" "$(rss_peak)"
    tenant_a_done
    tenant_a sign
    H=$(httpt "$WORK/token-b" "$WORK/b.keys" 2 --rate "$B_RATE")
    RATIO_P50=1 keep "abuse: tenant B while A signs RSA-3072 flat out (ratio: B's p50 alone to this p50)" "$H" "$(field p50_ms "$A")" "$(rss_peak)"
    tenant_a_done
    tenant_a keygen sign
    H=$(httpt "$WORK/token-b" "$WORK/b.keys" 2 --rate "$B_RATE")
    RATIO_P50=1 keep "abuse: tenant B while A does both (ratio: B's p50 alone to this p50)" "$H" "$(field p50_ms "$A")" "$(rss_peak)"
    tenant_a_done
}

# The log's cost (issue 18): each row with the log off (the second
# signetd) and on (the first), in the same round; ratio on/off, want >=
# 0.95. Then the wait for a checkpoint: while P-256 signing runs flat out,
# single signatures whose inclusion proof is polled every 20 ms.
http2() { SRV_PID=$PID2 rss_reset; "$BENCH" http --url "$URL2" --ca "$CA2" --token-file "$WORK/token2" \
        --keys "$1" --alg "$2" --clients "$CLIENTS" --seconds "$SECS" "${@:3}"; }
cp_latency() { # cp_latency SAMPLES: "ops=N ... p50_ms=X p99_ms=Y" of the waits
    local i idx t0 t1 out=$WORK/cp.ms d
    : >"$out"
    d=$(head -c 32 /dev/urandom | base64 -w0)
    for i in $(seq "$1"); do
        idx=$(api POST "/v1/keys/$EC/sign" "$TOK" \
            "{\"digest_algorithm\":\"sha256\",\"digest\":\"$d\"}" | jq -r .log_index)
        t0=$(date +%s%N)
        until curl -fsS -o /dev/null "http://127.0.0.1:$PUB/log/proof/$idx" 2>/dev/null; do
            sleep 0.02
        done
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000000)) >>"$out"
    done
    sort -n "$out" | awk '{ v[NR] = $1 } END { printf "ops=%d ops_per_s=%d p50_ms=%s p99_ms=%s client_cpu=0\n",
        NR, NR, v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.999)] }'
}
logrows() {
    local OFF ON L row
    # pair NAME KEYS_OFF KEYS_ON ALG [ARGS]: off and on, in an order that
    # alternates between rounds (a drift within a round cancels out).
    pair() {
        local name=$1 koff=$2 kon=$3 alg=$4
        shift 4
        if [ $((LOGROUND % 2)) = 0 ]; then
            OFF=$(http2 "$koff" "$alg" "$@"); SRV_PID=$PID2 keep "log off: $name" "$OFF" "$(field ops_per_s "$OFF")" "$(SRV_PID=$PID2 rss_peak)"
            ON=$(http "$kon" "$alg" "$@")
        else
            ON=$(http "$kon" "$alg" "$@"); RON=$(rss_peak); cp "$WORK/ticks" "$WORK/ticks.on"; TON=$(srv_ticks)
            OFF=$(http2 "$koff" "$alg" "$@"); SRV_PID=$PID2 keep "log off: $name" "$OFF" "$(field ops_per_s "$OFF")" "$(SRV_PID=$PID2 rss_peak)"
            cp "$WORK/ticks.on" "$WORK/ticks"
            ON_TICKS=$TON
        fi
        keep "log on: $name (ratio: to log off, want >= 0.95)" "$ON" "$(field ops_per_s "$OFF")" "$(rss_peak)"
        ON_TICKS=
    }
    LOGROUND=$((${LOGROUND:-0} + 1))
    pair "HTTPS RSA-3072, $CLIENTS clients" "$WORK/rsa2.keys" "$WORK/rsa.keys" rsa-3072
    pair "HTTPS P-256, $CLIENTS clients" "$WORK/ec2.keys" "$WORK/ec.keys" ecdsa-p256
    pair "HTTPS P-256, batches of 64" "$WORK/ec2.keys" "$WORK/ec.keys" ecdsa-p256 --batch 64
    "$BENCH" http --url "$URL" --ca "$CA" --token-file "$WORK/token" --keys "$WORK/ec.keys" \
        --alg ecdsa-p256 --clients "$CLIENTS" --seconds 120 >/dev/null &
    L=$!
    sleep 1
    NO_CPU=1 keep "log on: entry to checkpoint (proof served) under P-256 load; ops = samples (p99 ms want <= 1500)" \
        "$(cp_latency "$([ $SMOKE = 1 ] && echo 5 || echo 40)")"
    kill "$L" 2>/dev/null
    wait "$L" 2>/dev/null || true
}

# issue 19: PostgreSQL beside SQLite (the first signetd), in an order that
# alternates between rounds; then the database server's own CPU over the
# PostgreSQL row's signatures.
http3() { SRV_PID=$PID3 rss_reset; "$BENCH" http --url "$URL3" --ca "$CA3" --token-file "$WORK/token3" \
        --keys "$1" --alg "$2" --clients "$CLIENTS" --seconds "$SECS" "${@:3}"; }
pgrows() {
    local SQ PQ DB0 DB1
    pgpair() {
        local name=$1 ksq=$2 kpg=$3 alg=$4 T0 T1 RPQ
        shift 4
        if [ $((PGROUND % 2)) = 0 ]; then
            SQ=$(http "$ksq" "$alg" "$@"); keep "SQLite: $name" "$SQ" "$(field ops_per_s "$SQ")" "$(rss_peak)"
        fi
        DB0=$(SRV_PID=$(pg_pids) srv_ticks)
        PQ=$(http3 "$kpg" "$alg" "$@")
        T0=$(cat "$WORK/ticks")
        T1=$(SRV_PID=$PID3 srv_ticks)
        RPQ=$(SRV_PID=$PID3 rss_peak)
        DB1=$(SRV_PID=$(pg_pids) srv_ticks)
        if [ $((PGROUND % 2)) = 1 ]; then
            SQ=$(http "$ksq" "$alg" "$@"); keep "SQLite: $name" "$SQ" "$(field ops_per_s "$SQ")" "$(rss_peak)"
        fi
        echo "$T0" >"$WORK/ticks"
        ON_TICKS=$T1 keep "PostgreSQL: $name (ratio: to SQLite, want >= 0.9)" "$PQ" \
            "$(field ops_per_s "$SQ")" "$RPQ"
        echo "$DB0" >"$WORK/ticks"
        ON_TICKS=$DB1 keep "PostgreSQL server's own CPU: $name" "$PQ" \
            "$(field ops_per_s "$PQ")" 0
    }
    PGROUND=$((${PGROUND:-0} + 1))
    pgpair "HTTPS RSA-3072, $CLIENTS clients" "$WORK/rsa.keys" "$WORK/rsa3.keys" rsa-3072
    pgpair "HTTPS P-256, batches of 64" "$WORK/ec.keys" "$WORK/ec3.keys" ecdsa-p256 --batch 64
}

# issue 19: three nodes behind haproxy (scripts/cluster.sh), each round one
# row a key type; the CPU per signature is all the nodes', haproxy's and
# the database server's together (2 cores cannot show scaling: the row
# says what a signature costs the whole cluster).
CLUSTER=0
cluster_start() {
    local env
    [ "$PG" = 1 ] && command -v haproxy >/dev/null || return 0
    CLDIR=$WORK/cluster
    env=$(BUILD=$BUILD CLUSTER_SUBSCRIBERS=bench "$(dirname "$0")/../scripts/cluster.sh" start "$CLDIR") || {
        echo "bench: no cluster row: cluster.sh failed" >&2
        return 0
    }
    CL_URL=$(sed -n 's/^SIGNET_URL=//p' <<<"$env")
    CL_PIDS="$(sed -n 's/^NODE_PIDS=//p' <<<"$env") $(sed -n 's/^HAPROXY_PID=//p' <<<"$env")"
    CL_PG=$(cat "$CLDIR/run/pgdir")
    CA_CL=$(sed -n 's/^SIGNET_CA_FILE=//p' <<<"$env")
    local adm sub tok
    adm=$(cat "$CLDIR/node1/admin.token")
    sub=$(URL=$CL_URL CA=$CA_CL api POST /v1/subscribers "$adm" '{"name":"bench"}' | jq -r .id)
    URL=$CL_URL CA=$CA_CL api POST "/v1/subscribers/$sub/tokens" "$adm" \
        '{"name":"bench","roles":["manage","sign"]}' | jq -r .token >"$WORK/token-cl"
    tok=$(cat "$WORK/token-cl")
    URL=$CL_URL CA=$CA_CL api POST /v1/keys "$tok" '{"algorithm":"rsa-3072","label":"b"}' |
        jq -r .id >"$WORK/rsa-cl.keys"
    URL=$CL_URL CA=$CA_CL api POST /v1/keys "$tok" '{"algorithm":"ecdsa-p256","label":"b"}' |
        jq -r .id >"$WORK/ec-cl.keys"
    CLUSTER=1
}
clusterrows() {
    local H pm SRV_PID
    [ "$CLUSTER" = 1 ] || return 0
    pm=$(head -1 "$CL_PG/data/postmaster.pid")
    for kind in rsa ec ec64; do
        case $kind in
        rsa) set -- rsa-3072 "RSA-3072, $CLIENTS clients" ;;
        ec) set -- ecdsa-p256 "P-256, $CLIENTS clients" ;;
        ec64) set -- ecdsa-p256 "P-256, batches of 64" --batch 64 ;;
        esac
        SRV_PID="$CL_PIDS $pm $(pgrep -d ' ' -P "$pm")"
        SRV_PID=$SRV_PID rss_reset
        H=$("$BENCH" http --url "$CL_URL" --ca "$CA_CL" --token-file "$WORK/token-cl" \
            --keys "$WORK/${kind%64}-cl.keys" --alg "$1" --clients "$CLIENTS" --seconds "$SECS" "${@:3}")
        SRV_PID=$SRV_PID keep "cluster: 3 nodes behind haproxy, $2 (CPU: nodes + haproxy + PostgreSQL)" \
            "$H" "$(field ops_per_s "$H")" "$(SRV_PID=$SRV_PID rss_peak)"
    done
}

# Each round measures every row once, raw beside HTTPS: a row's ratio is
# taken within its round, so drifts in the machine's speed cancel out.
round() {
    local R H O PEAK HALF
    if [ "$BASE" = 1 ]; then
        keeperrows
        return
    fi
    [ "$PG" = 1 ] && pgrows
    clusterrows
    [ "${BENCH_ONLY:-}" = pg ] && return
    logrows
    [ "${BENCH_ONLY:-}" = log ] && return
    abuse
    [ "${BENCH_ONLY:-}" = abuse ] && return
    R=$(raw "$LABEL" "$PIN" --key "$RSA" rsa-3072)
    keep "raw RSA-3072, $THREADS threads" "$R" "$(field ops_per_s "$R")"
    H=$(http "$WORK/rsa.keys" rsa-3072); keep "HTTPS RSA-3072, $CLIENTS clients" "$H" "$(field ops_per_s "$R")" "$(rss_peak)"
    H=$(http "$WORK/rsa.keys" rsa-3072 --batch 64); keep "HTTPS RSA-3072, batches of 64" "$H" "$(field ops_per_s "$R")" "$(rss_peak)"

    R=$(raw "$LABEL" "$PIN" --key "$EC" ecdsa-p256)
    keep "raw ECDSA P-256, $THREADS threads" "$R" "$(field ops_per_s "$R")"
    H=$(http "$WORK/ec.keys" ecdsa-p256); keep "HTTPS P-256, $CLIENTS clients" "$H" "$(field ops_per_s "$R")" "$(rss_peak)"
    PEAK=$(field ops_per_s "$H")
    if [ "$OIDC" = 1 ] && oidc_token; then
        rss_reset
        O=$("$BENCH" http --url "$URL" --ca "$CA" --token-file "$WORK/oidc-token" \
            --keys "$WORK/ec.keys" --alg ecdsa-p256 --clients "$CLIENTS" --seconds "$SECS")
        keep "HTTPS P-256 with an exchanged OIDC token (ratio: to the static token's row)" \
            "$O" "$PEAK" "$(rss_peak)"
    fi
    H=$(http "$WORK/ec.keys" ecdsa-p256 --batch 64); keep "HTTPS P-256, batches of 64" "$H" "$(field ops_per_s "$R")" "$(rss_peak)"
    H=$(http "$WORK/ec10.keys" ecdsa-p256); keep "HTTPS P-256, random of 10 keys" "$H" "$(field ops_per_s "$R")" "$(rss_peak)"
    # Latency: one request at a time, then half this round's peak rate.
    H=$(CLIENTS=1 http "$WORK/ec.keys" ecdsa-p256); keep "HTTPS P-256, 1 client (single-operation time)" "$H" "$(field ops_per_s "$R")" "$(rss_peak)"
    HALF=$(awk -v p="$PEAK" 'BEGIN { printf "%.0f", p / 2 }')
    H=$(http "$WORK/ec.keys" ecdsa-p256 --rate "$HALF"); keep "HTTPS P-256 paced at half the peak" "$H" "$(field ops_per_s "$R")" "$(rss_peak)"
    H=$(THREADS=1 raw "$LABEL" "$PIN" --key "$EC" ecdsa-p256); keep "raw ECDSA P-256, 1 thread (HSM operation time)" "$H" "$(field ops_per_s "$R")"

    # The TSA beside the raw rate of its own key with the same thread count.
    R=$(THREADS=$CLIENTS raw signet-service "$HOME_DIR/hsm/service.pin" --key "$TSA_KEY" rsa-3072)
    keep "raw TSA key (RSA-3072), $CLIENTS threads" "$R" "$(field ops_per_s "$R")"
    rss_reset
    H=$("$BENCH" tsa --url "http://127.0.0.1:$PUB" --clients "$CLIENTS" --sources "$CLIENTS" --seconds "$SECS")
    keep "TSA over HTTP, $CLIENTS clients from $CLIENTS addresses (at most limits.anon_signatures_per_second)" "$H" "$(field ops_per_s "$R")" "$(rss_peak)"
    forwarding
}

# ---- PKCS#11 forwarding: Signet's module vs p11-kit's own (issue 5) ----
MODULE_SO=$BUILD/libsignet-pkcs11.so
CLIENT_SO=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so
forwarding() {
    local R
    [ -f "$MODULE_SO" ] && [ -f "$CLIENT_SO" ] && command -v p11-kit >/dev/null || return 0
    R=$(raw "$LABEL" "$PIN" --key "$EC" ecdsa-p256)
    rss_reset
    H=$(SIGNET_URL=$URL SIGNET_CA_FILE=$CA SIGNET_TOKEN=$TOK MODULE=$MODULE_SO THREADS=$CLIENTS raw \
        "${SUB:0:32}" "$WORK/token" --key "$EC" ecdsa-p256 || :)
    [ -n "$H" ] && keep "libsignet-pkcs11 P-256, $CLIENTS threads" "$H" "$(field ops_per_s "$R")" "$(rss_peak)"
    mkdir -p -m 700 "$WORK/run"
    eval "$(XDG_RUNTIME_DIR=$WORK/run p11-kit server --provider "$MODULE" \
        "pkcs11:token=$LABEL" 2>/dev/null)"
    if [ -n "${P11_KIT_SERVER_PID:-}" ]; then
        H=$(P11_KIT_SERVER_ADDRESS=$P11_KIT_SERVER_ADDRESS MODULE=$CLIENT_SO \
            THREADS=$CLIENTS raw "$LABEL" "$PIN" --key "$EC" ecdsa-p256 || :)
        [ -n "$H" ] && NO_CPU=1 keep "p11-kit server + p11-kit-client.so P-256, $CLIENTS threads" "$H" "$(field ops_per_s "$R")"
        kill "$P11_KIT_SERVER_PID" 2>/dev/null || true
        unset P11_KIT_SERVER_PID
    fi
}

cluster_start
for r in $(seq "$ROUNDS"); do
    echo "round $r of $ROUNDS" >&2
    round
done
[ "$CLUSTER" = 1 ] && "$(dirname "$0")/../scripts/cluster.sh" stop "$CLDIR"

# ---- last: the same with $MANY keys on the subscriber's token ----
# BENCH_ONLY=abuse: the abuse rows only (see abuse above).
if [ -z "${BENCH_ONLY:-}" ]; then
echo "creating $MANY keys..." >&2
cp "$WORK/ec10.keys" "$WORK/many.keys"
export -f api newkey
export URL CA TOK
seq $((MANY - 10)) | xargs -P 4 -I{} bash -c 'newkey ecdsa-p256' >>"$WORK/many.keys"
for r in $(seq "$ROUNDS"); do
    echo "round $r of $ROUNDS ($MANY keys)" >&2
    # Each HTTPS row against the raw rate over the same keys; the raw
    # random-of-$MANY row against raw random-of-10: the module's own
    # slowdown with many objects.
    R10=$(raw "$LABEL" "$PIN" --keys "$WORK/ec10.keys" ecdsa-p256)
    keep "raw P-256, random of 10 keys (with $MANY on the token)" "$R10" "$(field ops_per_s "$R10")"
    R=$(raw "$LABEL" "$PIN" --keys "$WORK/many.keys" ecdsa-p256)
    keep "raw P-256, random of $MANY keys (ratio: to random of 10)" "$R" "$(field ops_per_s "$R10")"
    H=$(http "$WORK/ec10.keys" ecdsa-p256)
    keep "HTTPS P-256, random of 10 keys (with $MANY on the token)" "$H" "$(field ops_per_s "$R10")" "$(rss_peak)"
    H2=$(http "$WORK/many.keys" ecdsa-p256)
    keep "HTTPS P-256, random of $MANY keys" "$H2" "$(field ops_per_s "$R")" "$(rss_peak)"
    keep "HTTPS P-256, random of $MANY keys (ratio: to random of 10)" "$H2" "$(field ops_per_s "$H")" "$(rss_peak)"
done
fi
table
cat "$RESULTS"
echo "results: $RESULTS" >&2
# The smoke's verdict: every row was measured, at a non-zero rate.
if [ $SMOKE = 1 ]; then
    want="during an anonymous TSA+OCSP flood|tenant B while A does both|PostgreSQL: HTTPS RSA-3072|cluster: 3 nodes behind haproxy, P-256, batches|HTTPS RSA-3072, $CLIENTS clients|HTTPS P-256, batches of 64|paced at half|TSA over HTTP|libsignet-pkcs11|random of $MANY keys"
    awk -F' [|] ' -v want="$want" '
        /^[|] / && $2 !~ /^(ops|---)/ {
            n++; if ($2 + 0 <= 0) { print "no rate: " $1; bad = 1 }
            line = line "\n" $1 }
        END { k = split(want, w, "[|]")
              for (i = 1; i <= k; i++) if (index(line, w[i]) == 0) { print "missing: " w[i]; bad = 1 }
              if (n < 17) { print "only " n " rows"; bad = 1 }
              exit bad }' "$RESULTS" >&2
fi
