#!/usr/bin/env bash
# Process and file hardening (issue 14), observed from outside through the
# kernel, with signetd run as an unprivileged user (nobody) as the systemd
# unit runs it as `signet`:
#  - after init, serve, a subscriber, a token, a key (a new SoftHSM2 token),
#    a signature, a time-stamp and a TSA rotation, every file under the
#    home is 0600 and every directory 0700 (database -wal/-shm included),
#    although signetd was started with umask 022;
#  - a database left 0644 by an older signetd is made 0600 at open, with a
#    warning in the log; a home open to its group is warned about;
#  - init and check harden themselves as serve does (their logs);
#  - the running process: umask 0077 (/proc/PID/status), core file size 0
#    and the open-files soft limit raised to the hard limit
#    (/proc/PID/limits, the soft limit was lowered before the start), and
#    not dumpable: its /proc/PID files belong to root rather than to its
#    own uid, and another process of the same uid cannot read its
#    /proc/PID/environ (the ptrace access check a debugger or a memory
#    reader goes through).
. "$(dirname "$0")/lib.sh"
# SQLite's file and triggers are read and altered here: SQLite only.
SERVER_STORE=sqlite

command -v setpriv >/dev/null || die "setpriv (util-linux) is not installed"
RUN_UID=65534
as_nobody() { setpriv --reuid=$RUN_UID --regid=$RUN_UID --clear-groups -- "$@"; }

# The binary is copied where nobody can read it: an unreadable executable
# would make the kernel mark the process non-dumpable by itself.
chmod 0711 "$WORK"
mkdir -m 0755 "$WORK/bin" "$WORK/srv"
chown $RUN_UID:$RUN_UID "$WORK/srv"
install -m 0755 "$SIGNETD" "$WORK/bin/signetd"
cat >"$WORK/bin/signetd-nobody" <<EOF
#!/bin/sh
# A permissive start: signetd must tighten all of this itself.
umask 022
ulimit -S -n 512
ulimit -S -c "\$(ulimit -H -c)"
exec setpriv --reuid=$RUN_UID --regid=$RUN_UID --clear-groups -- \
    "$WORK/bin/signetd" "\$@"
EOF
chmod 0755 "$WORK/bin/signetd-nobody"
SIGNETD=$WORK/bin/signetd-nobody

server_init "$WORK/srv/home"
H=$SERVER_HOME
# set_conf rewrites signetd.conf as root: give it back to the service.
chown -R $RUN_UID:$RUN_UID "$H"
# As an older signetd left it (created 0644 under the usual umask 022).
chmod 0644 "$H/signet.db"
server_start
PID=$SERVER_PID
LOG=$WORK/signetd.$SERVER_PORT.log

# ---- the process ----
check_eq "signetd runs as uid $RUN_UID" "$RUN_UID" \
    "$(awk '/^Uid:/ { print $2 }' "/proc/$PID/status")"
check_eq "umask of the running process" "0077" \
    "$(awk '/^Umask:/ { print $2 }' "/proc/$PID/status")"
check_eq "core file size limit (soft hard)" "0 0" \
    "$(awk '/^Max core file size/ { print $5, $6 }' "/proc/$PID/limits")"
read -r soft hard < <(awk '/^Max open files/ { print $4, $5 }' "/proc/$PID/limits")
check_eq "open files: soft limit raised to the hard limit (started at 512)" \
    "$hard" "$soft"
check_match "the log states the descriptor limit" \
    "descriptor limit $hard" "$(cat "$LOG")"
# A dumpable process's /proc/PID files belong to its uid; a non-dumpable
# one's to root (fs/proc/base.c, task_dump_owner).
check_eq "not dumpable: /proc/PID/status belongs to root, not uid $RUN_UID" \
    "0" "$(stat -c %u "/proc/$PID/status")"
check_cmd_fails "not dumpable: uid $RUN_UID cannot read its /proc/PID/environ" \
    as_nobody dd if="/proc/$PID/environ" of=/dev/null status=none

# ---- what the home holds after some work ----
S=$(new_subscriber files) || exit 1
T=$(new_token "$S" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$T" ecdsa-p256 "files key") || exit 1
head -c 32 /dev/urandom >"$WORK/d.bin"
req_json POST "/v1/keys/$K/sign" "$T" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d.bin")\"}"
check_status "a signature" 200
jget .signature | base64 -d >"$WORK/d.sig"
check_cmd "openssl verifies the signature" openssl pkeyutl -verify -pubin \
    -inkey "$WORK/pub.$K.pem" -in "$WORK/d.bin" -sigfile "$WORK/d.sig"
openssl ts -query -data "$WORK/d.bin" -sha256 -cert -out "$WORK/q.tsq" 2>/dev/null ||
    die "openssl ts -query"
st=$(curl -sS --max-time 60 -o "$WORK/r.tsr" -w '%{http_code}' \
    -H 'Content-Type: application/timestamp-query' \
    --data-binary "@$WORK/q.tsq" "$PUBLIC_URL/tsa" 2>&1)
check_eq "a time-stamp" 200 "$st"
check_match "the time-stamp is granted" "Status: Granted" \
    "$(openssl ts -reply -in "$WORK/r.tsr" -text 2>&1)"
req POST /v1/tsa/rotate "$ADMIN"
check_status "a TSA rotation (rewrites ca/tsa.pem)" 200

check_match "the database left 0644 was reported" \
    "signet.db.*0644.*0600" "$(cat "$LOG")"
for f in signet.db signet.db-wal signet.db-shm; do
    check_eq "$f exists while serving and is 0600" "600" \
        "$(stat -c %a "$H/$f" 2>&1)"
done
check_match "SoftHSM2 made the subscriber's token directory" "." \
    "$(find "$H/hsm/tokens" -mindepth 1 -maxdepth 1 -type d | sed -n 2p)"

# Every entry but the home itself is listed with its mode; the home too.
# One socket is expected: the keeper's (issue 20), 0600, in its own
# directory, 0711 (searchable: a front end of another user reaches it).
loose=$(find "$H" \( -type f ! -perm 0600 \) \
    -o \( -type d ! -perm 0700 ! \( -path "$H/run" -perm 0711 \) \) \
    -o \( ! -type f ! -type d ! \( -type s -perm 0600 -path "$H/run/keeper.sock" \) \) |
    while read -r p; do
    stat -c '%a %U %n' "$p"
done)
check_eq "files not 0600 and directories not 0700 under the home" "" "$loose"
check_eq "entries under the home not owned by the service's uid" "" \
    "$(find "$H" ! -uid $RUN_UID -printf '%u %p\n')"
log "$(find "$H" | wc -l) entries under the home checked"

server_stop

# ---- the other commands harden too; a loose home is reported ----
check_match "signetd init hardened itself (its log)" \
    "harden: descriptor limit $hard \(was 512\)" "$(cat "$WORK/init.log")"
chmod 0750 "$H"
out=$("$SIGNETD" check --home "$H" 2>&1)
check_match "signetd check hardened itself" \
    "harden: descriptor limit $hard \(was 512\)" "$out"
check_match "signetd check warns about a home open to its group" \
    "home $H is mode 0750" "$out"
chmod 0700 "$H"
finish
