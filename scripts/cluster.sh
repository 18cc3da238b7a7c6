#!/usr/bin/env bash
# A local Signet cluster on loopback, for trying and testing (docs/scaling.md):
# one PostgreSQL (scripts/pg.sh), the HSM stand-in (SoftHSM2 over one token
# directory that every node loads), NODES signetd nodes over both, and
# haproxy in front (TCP passthrough: TLS stays at the nodes; PROXY protocol
# v2 carries each client's address to them).
#
#   scripts/cluster.sh start DIR    prints KEY=VALUE lines: SIGNET_URL
#                                   (haproxy), SIGNET_CA_FILE,
#                                   ADMIN_TOKEN_FILE, PUBLIC_URL (haproxy),
#                                   NODE_URLS, NODE_PUBLIC_URLS, NODE_PIDS,
#                                   HAPROXY_PID, PG_URL
#   scripts/cluster.sh stop DIR     stops everything start started
#
# NODES (default 3), BUILD (default build, where signetd is),
# CLUSTER_SUBSCRIBERS (default "acme": the subscribers that can be
# created, each with a token made beforehand; see map_tokens) and
# CLUSTER_EXTRA_CONF (lines added to every node's signetd.conf) come from
# the environment. The first node makes the home (signetd init) and moves
# its database to PostgreSQL (signetd migrate); the others share its
# hsm/ and ca/ directories (tokens, PINs, CA certificates) and have their
# own configuration, TLS files and listeners. haproxy connects to the
# nodes from 127.0.0.2, the only address whose PROXY headers they trust;
# clients reaching a node directly (NODE_URLS) come from 127.0.0.1.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
    echo "usage: cluster.sh start|stop DIR" >&2
    exit 2
}
repo=$(cd "$(dirname "$0")/.." && pwd)
nodes=${NODES:-3}
build=${BUILD:-$repo/build}
signetd=$build/signetd

stop() {
    local pid
    for f in "$dir"/run/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill -TERM "$pid" 2>/dev/null || true
    done
    for f in "$dir"/run/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$f"
    done
    if [ -f "$dir/run/pgdir" ]; then
        "$repo/scripts/pg.sh" stop "$(cat "$dir/run/pgdir")" 2>/dev/null || true
        rm -rf "$(cat "$dir/run/pgdir")"
        rm -f "$dir/run/pgdir"
    fi
}

# A TCP port nothing listens on (the kernel's pick).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_healthz() {
    local url=$1 pid=$2 log=$3
    for _ in $(seq 1 300); do
        kill -0 "$pid" 2>/dev/null || {
            echo "cluster: a node exited at start:" >&2
            tail -n 20 "$log" >&2
            return 1
        }
        curl -sf --max-time 2 --cacert "$dir/node1/tls/ca.pem" \
            -o /dev/null "$url/healthz" && return 0
        sleep 0.1
    done
    echo "cluster: $url did not answer /healthz in 30 s" >&2
    return 1
}

# The subscribers' tokens, made before any node starts (hsm.tokens =
# mapped): SoftHSM2 lists its tokens once, when a process loads it, so a
# token one node made later would stay unknown to the others. Keys made
# in a token are seen by every node at once.
map_tokens() {
    local home=$1 name pin
    sed -i 's/^hsm\.tokens = .*/hsm.tokens = mapped/' "$home/signetd.conf"
    grep -q '^hsm\.tokens' "$home/signetd.conf" ||
        echo "hsm.tokens = mapped" >>"$home/signetd.conf"
    mkdir -p -m 0700 "$home/hsm/mapped"
    for name in ${CLUSTER_SUBSCRIBERS:-acme}; do
        pin=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
        (umask 077 && printf '%s\n' "$pin" >"$home/hsm/mapped/$name.pin")
        SOFTHSM2_CONF=$home/hsm/softhsm2.conf softhsm2-util --init-token --free \
            --label "$name" --so-pin "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" \
            --pin "$pin" >/dev/null
        echo "hsm.subscriber_token = $name $name $home/hsm/mapped/$name.pin" \
            >>"$home/signetd.conf"
    done
}

start() {
    local i home api pub urls=() pubs=() pids=() hp ha pg_url pid
    [ -x "$signetd" ] || { echo "cluster: no $signetd (make build)" >&2; exit 1; }
    command -v haproxy >/dev/null || { echo "cluster: haproxy is not installed" >&2; exit 1; }
    [ ! -e "$dir/node1" ] || { echo "cluster: $dir is in use (cluster.sh stop, then remove it)" >&2; exit 1; }
    mkdir -p "$dir/run"
    dir=$(cd "$dir" && pwd)
    # PostgreSQL's own directory: reachable by the postgres user when
    # this runs as root (DIR may sit in a private one)
    mktemp -d /tmp/signet-cluster-pg.XXXXXX >"$dir/run/pgdir"
    pg_url=$("$repo/scripts/pg.sh" start "$(cat "$dir/run/pgdir")" | sed -n 's/^PG_URL=//p')
    [ -n "$pg_url" ] || { stop; exit 1; }
    ha=$(free_port)
    hp=$(free_port)

    for i in $(seq 1 "$nodes"); do
        home=$dir/node$i
        api=$(free_port)
        pub=$(free_port)
        if [ "$i" = 1 ]; then
            "$signetd" init --home "$home" --listen "127.0.0.1:$api" \
                --public-listen "127.0.0.1:$pub" \
                --public-url "http://127.0.0.1:$hp" \
                --oid-arc 1.3.6.1.4.1.32473 >"$dir/init.log" 2>&1 ||
                { cat "$dir/init.log" >&2; exit 1; }
            # As make run's demo home: SoftHSM2 is software (test code
            # signing certificates), static tokens sign, the admin token
            # acts as the operator.
            sed -i -e 's/^ca\.allow_uncertified_modules = .*/ca.allow_uncertified_modules = true/' \
                -e 's/^auth\.require_strong_auth = .*/auth.require_strong_auth = false/' \
                -e 's/^auth\.operator_mfa = .*/auth.operator_mfa = false/' \
                "$home/signetd.conf"
            map_tokens "$home"
            # (copied into the other nodes' configuration)
            printf 'proxy.protocol = v2\nproxy.trusted = 127.0.0.2\n' >>"$home/signetd.conf"
            [ -z "${CLUSTER_EXTRA_CONF:-}" ] ||
                printf '%s\n' "$CLUSTER_EXTRA_CONF" >>"$home/signetd.conf"
            "$signetd" migrate --home "$home" --to "$pg_url" >"$dir/migrate.log" 2>&1 ||
                { cat "$dir/migrate.log" >&2; exit 1; }
        else
            mkdir -m 0700 "$home"
            cp -a "$dir/node1/signetd.conf" "$dir/node1/tls" "$dir/node1/admin.token" "$home/"
            ln -s "$dir/node1/hsm" "$home/hsm"
            ln -s "$dir/node1/ca" "$home/ca"
            sed -i -e "s/^listen = .*/listen = 127.0.0.1:$api/" \
                -e "s/^public\.listen = .*/public.listen = 127.0.0.1:$pub/" \
                "$home/signetd.conf"
        fi
        # One node at a time: the first makes the service token's keys,
        # the others find them.
        "$signetd" serve --home "$home" >"$dir/node$i.log" 2>&1 &
        pid=$!
        echo "$pid" >"$dir/run/node$i.pid"
        wait_healthz "https://127.0.0.1:$api" "$pid" "$dir/node$i.log" || { stop; exit 1; }
        urls+=("https://127.0.0.1:$api")
        pubs+=("http://127.0.0.1:$pub")
        pids+=("$pid")
    done

    {
        cat <<EOF
global
    pidfile $dir/run/haproxy.pid
defaults
    mode tcp
    timeout connect 5s
    timeout client 300s
    timeout server 300s
    timeout check 2s
frontend api
    bind 127.0.0.1:$ha
    default_backend nodes_api
frontend public
    bind 127.0.0.1:$hp
    default_backend nodes_public
backend nodes_api
    balance roundrobin
    option httpchk GET /healthz
EOF
        for i in $(seq 1 "$nodes"); do
            echo "    server n$i ${urls[$((i - 1))]#https://} source 127.0.0.2 send-proxy-v2 check check-send-proxy check-ssl verify none inter 1s fall 2 rise 1"
        done
        cat <<EOF
backend nodes_public
    balance roundrobin
    option httpchk GET /healthz
EOF
        for i in $(seq 1 "$nodes"); do
            echo "    server n$i ${pubs[$((i - 1))]#http://} source 127.0.0.2 send-proxy-v2 check check-send-proxy inter 1s fall 2 rise 1"
        done
    } >"$dir/haproxy.cfg"
    haproxy -c -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 ||
        { cat "$dir/haproxy.log" >&2; stop; exit 1; }
    haproxy -D -f "$dir/haproxy.cfg" >>"$dir/haproxy.log" 2>&1 ||
        { cat "$dir/haproxy.log" >&2; stop; exit 1; }
    for _ in $(seq 1 100); do
        curl -sf --max-time 2 --cacert "$dir/node1/tls/ca.pem" -o /dev/null \
            "https://127.0.0.1:$ha/healthz" && break
        sleep 0.1
    done

    echo "SIGNET_URL=https://127.0.0.1:$ha"
    echo "SIGNET_CA_FILE=$dir/node1/tls/ca.pem"
    echo "ADMIN_TOKEN_FILE=$dir/node1/admin.token"
    echo "PUBLIC_URL=http://127.0.0.1:$hp"
    echo "NODE_URLS=${urls[*]}"
    echo "NODE_PUBLIC_URLS=${pubs[*]}"
    echo "NODE_PIDS=${pids[*]}"
    echo "HAPROXY_PID=$(cat "$dir/run/haproxy.pid")"
    echo "PG_URL=$pg_url"
}

case "$cmd" in
start) start ;;
stop) stop ;;
*)
    echo "cluster.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
