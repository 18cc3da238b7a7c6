#!/usr/bin/env bash
# issue 19: the restore drill of docs/operations.md, on PostgreSQL. A home
# moved to PostgreSQL by signetd migrate signs; signetd stops (its last
# checkpoint signed); a logical backup (pg_dump -Fc) and a physical one
# (pg_basebackup) are taken. Each restored copy serves: the same audit
# records (psql counts them), signing goes on, and `signet log verify`
# (state kept from before the backup) finds the restored log consistent
# with what it saw. A backup older than the log's last checkpoint (the
# home's anchor) is refused: the log stops rather than fork.
. "$(dirname "$0")/lib.sh"
[ -n "${SIGNET_TEST_PG_DIR:-}" ] || die "needs SIGNET_TEST_PG_DIR (tests/pg.cmake)"
SERVER_PINS_IN_FILES=false # the subscribers' PINs sealed in the database
for tool in psql pg_dump pg_restore pg_basebackup; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

server_start
[ -n "$PG_URL" ] || die "the home is not on PostgreSQL"
A=$(new_subscriber drill) || exit 1
# Several nodes share a database, not a home: the token's PIN is there,
# sealed by the service token's key, and no PIN file is written.
check_eq "the subscriber's PIN is kept sealed in the database" 1 \
    "$(db_query "SELECT count(*) FROM token_pins WHERE subscriber_id = '$A'")"
check_eq "no PIN file in the home" "" "$(ls "$SERVER_HOME/hsm/pins/" 2>/dev/null | grep -F "$A")"
check_eq "the sealed form is not the PIN's hex" 1 \
    "$(db_query "SELECT count(*) FROM token_pins WHERE subscriber_id = '$A'
        AND length(sealed) > 29 AND encode(sealed, 'escape') !~ '^[0-9a-f]+$'")"
T=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$T" ecdsa-p256 "drill") || exit 1

sign_n() {
    local i
    for i in $(seq 1 "$1"); do
        head -c 32 /dev/urandom >"$WORK/d.bin"
        req_json POST "/v1/keys/$K/sign" "$T" \
            "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(base64 -w0 "$WORK/d.bin")\"}"
        [ "$STATUS" = 200 ] || die "sign: HTTP $STATUS $BODY"
    done
}

# log_verify: signet log verify with the state kept in $WORK/log.state
# (the first run pins the log's key)
log_verify() {
    [ -s "$WORK/vkey" ] ||
        curl -sf "$PUBLIC_URL/log/vkey" -o "$WORK/vkey" || return 1
    SIGNET_TOKEN=$T "$SIGNET" log verify --vkey "$(cat "$WORK/vkey")" \
        --state-file "$WORK/log.state" >"$WORK/lv.out" 2>&1
}

sign_n 5
# An early backup, taken while more is still to be signed.
pg_dump -Fc -d "$PG_URL" -f "$WORK/early.dump" || die "pg_dump (early)"
sign_n 5
log_verify || die "signet log verify (before): $(cat "$WORK/lv.out")"
server_stop
AUDIT=$(db_query "SELECT count(*) FROM audit")
ENTRIES=$(db_query "SELECT count(*) FROM log_entries")
check_ne "records to back up" 0 "$AUDIT"

# ---- logical backup: pg_dump, pg_restore into a new database ----
pg_dump -Fc -d "$PG_URL" -f "$WORK/signet.dump" || die "pg_dump"
name=it_$$_restored
NEW=$("$SIGNET_REPO/scripts/pg.sh" createdb "$SIGNET_TEST_PG_DIR" "$name") ||
    die "createdb"
PG_NAMES+=("$name")
pg_restore --no-owner -d "$NEW" "$WORK/signet.dump" ||
    die "pg_restore"
PG_URL=$NEW
set_conf store.url "$NEW"
server_start
check_healthy
check_eq "pg_restore: every audit record" "$AUDIT" \
    "$(db_query "SELECT count(*) FROM audit")"
check_eq "pg_restore: every log entry" "$ENTRIES" \
    "$(db_query "SELECT count(*) FROM log_entries")"
sign_n 2
sleep 1.5 # a checkpoint covers them
check_cmd "pg_restore: signet log verify finds the log consistent with before" \
    log_verify
server_stop
AUDIT=$(db_query "SELECT count(*) FROM audit")

# ---- physical backup: pg_basebackup, a second server started from it ----
PGB=$(mktemp -d /tmp/signet-pgb.XXXXXX)
[ "$(id -u)" -ne 0 ] || chown postgres: "$PGB"
# the second server goes with the test, whatever happens
pgb_cleanup() {
    local rc=$?
    "$SIGNET_REPO/scripts/pg.sh" stop "$PGB" >/dev/null 2>&1
    rm -rf "$PGB"
    (exit $rc)
    cleanup
}
trap pgb_cleanup EXIT
if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- pg_basebackup -h "$SIGNET_TEST_PG_DIR" -U root \
        -D "$PGB/data" -X stream -c fast >"$WORK/pgb.log" 2>&1
else
    pg_basebackup -h "$SIGNET_TEST_PG_DIR" -D "$PGB/data" -X stream -c fast \
        >"$WORK/pgb.log" 2>&1
fi || die "pg_basebackup: $(cat "$WORK/pgb.log")"
"$SIGNET_REPO/scripts/pg.sh" start "$PGB" >/dev/null ||
    die "cannot start a server from the base backup"
BASE="postgresql:///$name?host=$PGB"
PG_URL=$BASE
set_conf store.url "$BASE"
server_start
check_healthy
check_eq "base backup: every audit record" "$AUDIT" \
    "$(db_query "SELECT count(*) FROM audit")"
sign_n 1
sleep 1.5
check_cmd "base backup: signet log verify finds the log consistent" log_verify
server_stop
"$SIGNET_REPO/scripts/pg.sh" stop "$PGB"

# ---- a backup older than the last checkpoint: the log stops ----
name=it_$$_early
OLD=$("$SIGNET_REPO/scripts/pg.sh" createdb "$SIGNET_TEST_PG_DIR" "$name") ||
    die "createdb"
PG_NAMES+=("$name")
pg_restore --no-owner -d "$OLD" "$WORK/early.dump" || die "pg_restore (early)"
PG_URL=$OLD
set_conf store.url "$OLD"
server_start
req GET /healthz -
check_match "an older backup: /healthz says the log is inconsistent" \
    "log inconsistent" "$BODY"
head -c 32 /dev/urandom >"$WORK/d.bin"
req_json POST "/v1/keys/$K/sign" "$T" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(base64 -w0 "$WORK/d.bin")\"}"
check_eq "an older backup: nothing is signed" 503 "$STATUS"
server_stop

# ---- bad URLs and targets: a clear refusal, the password never shown ----
# serve_refused WHAT URL PATTERN: signetd serve exits non-zero at start
serve_refused() {
    local rc
    set_conf store.url "$2"
    timeout 30 "$SIGNETD" serve --home "$SERVER_HOME" \
        --listen "127.0.0.1:$(random_port)" --public-listen off \
        >"$WORK/bad.log" 2>&1
    rc=$?
    check_eq "$1: signetd serve refuses to start" 1 \
        "$([ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && echo 1)"
    check_match "$1: it says why" "$3" "$(cat "$WORK/bad.log")"
    check_nomatch "$1: the password is not shown" 's3cr3t' "$(cat "$WORK/bad.log")"
}
serve_refused "a malformed URI" 'postgresql://signet:s3cr3t@[::1/db' \
    'not a valid PostgreSQL connection URI'
serve_refused "an unreachable server" \
    "postgresql://signet:s3cr3t@/nodb?host=$WORK/nowhere" \
    'cannot open the PostgreSQL database'
set_conf store.url "$NEW"
# A SQLite home moved into a database that holds another's data: refused,
# the database unchanged.
"$SIGNETD" init --home "$WORK/h2" >/dev/null 2>&1 || die "init of a second home"
BEFORE=$(psql -qAtX -d "$NEW" -c "SELECT count(*) FROM audit")
"$SIGNETD" migrate --home "$WORK/h2" \
    --to "postgresql://root:s3cr3t@/${NEW#postgresql:///}" >"$WORK/mig.out" 2>&1
check_eq "migrate into a database in use: exit 1" 1 "$?"
check_match "migrate into a database in use: says so" "not empty" "$(cat "$WORK/mig.out")"
check_nomatch "migrate: the password is not shown" 's3cr3t' "$(cat "$WORK/mig.out")"
check_eq "migrate: the database in use is unchanged" "$BEFORE" \
    "$(psql -qAtX -d "$NEW" -c "SELECT count(*) FROM audit")"
check_match "migrate: the second home still names its SQLite file" \
    '^database = ' "$(grep -E '^(database|store\.url)' "$WORK/h2/signetd.conf")"
finish
