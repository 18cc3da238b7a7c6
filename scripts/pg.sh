#!/usr/bin/env bash
# A private PostgreSQL 15 server (Debian's postgresql-15) for tests, the
# local cluster and the benchmarks: its data, socket and log under DIR,
# reached only through the Unix socket in DIR (no TCP port), trusted for
# the local user it runs as. Not a production setup: see
# docs/operations.md for that.
#
#   scripts/pg.sh start DIR      prints PG_URL=postgresql:///signet?host=DIR
#   scripts/pg.sh createdb DIR NAME   prints the URL of a new database
#   scripts/pg.sh stop DIR
#
# PostgreSQL refuses to run as root: as root the server runs as the
# postgres user (created by Debian's package), DIR is given to it, and the
# database's superuser role is named after the caller (root), so the
# caller's clients connect without naming a user.
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bindir/initdb" ] || { echo "pg.sh: postgresql-15 is not installed" >&2; exit 1; }

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: pg.sh start|stop|createdb DIR [NAME]" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

url() { echo "postgresql:///$1?host=$dir"; }

case "$cmd" in
start)
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres: "$dir"
        # signetd's front end keeps no capability (issue 20): as root it
        # is a root without CAP_DAC_OVERRIDE, which reaches the socket
        # only through a directory it may search (the data stay 0700).
        chmod 0711 "$dir"
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bindir/initdb" -D "$dir/data" -A trust -U "$(id -un)" \
            -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    # Durable commits (fsync, synchronous_commit on), as in production;
    # sized for many short connections from parallel tests. Already
    # running (a test run's fixture left it): used as it is.
    as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 ||
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' \
            -c max_connections=400 -c shared_buffers=128MB \
            -c synchronous_commit=on -c fsync=on" start >/dev/null ||
        { cat "$dir/server.log" >&2; exit 1; }
    "$bindir/psql" -qAt -h "$dir" -d postgres \
        -c "SELECT 1 FROM pg_database WHERE datname = 'signet'" | grep -q 1 ||
        "$bindir/createdb" -h "$dir" signet
    echo "PG_URL=$(url signet)"
    ;;
createdb)
    name=${3:?name}
    "$bindir/createdb" -h "$dir" "$name"
    url "$name"
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
*)
    echo "pg.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
