#!/usr/bin/env bash
# signetd as the shipped systemd unit starts it (contrib/systemd/
# signetd.service: User=, CapabilityBoundingSet=, NoNewPrivileges=):
# started here by setpriv as nobody with no capability, an empty bounding
# set and no_new_privs, and traced by strace -f. Judged from outside:
#  - the front end hides HOME/hsm in a user and mount namespace of its own
#    (its view of HOME/hsm through /proc/PID/root is empty) and holds no
#    capability there; the log has no "no private mount namespace";
#  - a signature works (openssl verifies it), and a time-stamp (openssl ts);
#  - every system call signetd made is one the unit's SystemCallFilter
#    lines allow, their groups expanded by systemd-analyze syscall-filter,
#    and every namespace it made is one RestrictNamespaces= allows (the
#    syscall check is skipped for sanitizer builds, whose runtime makes
#    calls of its own).
# Usage: test_unit_user.sh SIGNETD SIGNET SYSTEMD_ANALYZE
. "$(dirname "$0")/lib.sh"
ANALYZE=${3:?usage: test_unit_user.sh SIGNETD SIGNET SYSTEMD_ANALYZE}
command -v setpriv >/dev/null || die "setpriv (util-linux) is not installed"
command -v strace >/dev/null || die "strace is not installed"
[ "$(id -u)" -eq 0 ] || die "needs root (to start signetd as nobody)"
UNIT=$SIGNET_REPO/contrib/systemd/signetd.service
RUN_UID=65534
SERVER_STORE=sqlite
chmod 0711 "$WORK"
server_init "$WORK/home"
# nobody must reach the program: the build tree may lie under a private
# directory (a CI's clone under /root).
install -m 0755 "$SIGNETD" "$WORK/signetd"
SIGNETD=$WORK/signetd
chown -R "$RUN_UID:$RUN_UID" "$SERVER_HOME"
SERVER_LAUNCH="strace -f -qq -o $WORK/trace setpriv --reuid=$RUN_UID --regid=$RUN_UID \
--clear-groups --bounding-set=-all --inh-caps=-all --no-new-privs --"
server_start
STRACE_PID=$SERVER_PID
SERVER_PID=$(pgrep -P "$STRACE_PID" | head -1) # signetd (setpriv exec'd it)
check_eq "signetd runs as nobody" "$RUN_UID" "$(awk '/^Uid:/ { print $2 }' "/proc/$SERVER_PID/status")"

FRONT=$(child_named signetd-front)
check_ne "a front end process" "" "$FRONT"
check_eq "the front end's HOME/hsm is empty" "" "$(ls -A "/proc/$FRONT/root$SERVER_HOME/hsm" 2>&1)"
check_cmd "the host (as nobody) sees the PIN files" \
    setpriv --reuid=$RUN_UID --regid=$RUN_UID --clear-groups -- test -s "$SERVER_HOME/hsm/service.pin"
check_eq "the front end holds no capability in its namespace" "0000000000000000 0000000000000000" \
    "$(awk '/^CapEff:/ { e = $2 } /^CapPrm:/ { p = $2 } END { print e, p }' "/proc/$FRONT/status")"
check_eq "the log says nothing of a missing namespace" "" \
    "$(grep -h 'no private mount namespace' "$WORK"/signetd.*.log)"

SUB=$(new_subscriber "unit-acme") || exit 1
TOK=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1
KEY=$(new_key "$TOK" ecdsa-p256) || exit 1
check_signs "$TOK" "$KEY" "a signature"
echo "time-stamp me" >"$WORK/ts.data"
openssl ts -query -data "$WORK/ts.data" -sha256 -cert -out "$WORK/q.tsq" 2>/dev/null
curl -sS --max-time 30 -o "$WORK/r.tsr" -H 'Content-Type: application/timestamp-query' \
    --data-binary @"$WORK/q.tsq" "$PUBLIC_URL/tsa" >/dev/null 2>&1
check_match "a time-stamp is granted (openssl ts -reply)" 'Status: Granted' \
    "$(openssl ts -reply -in "$WORK/r.tsr" -text 2>/dev/null)"

# Stop signetd itself (strace would only detach), then read the trace.
kill -TERM "$SERVER_PID"
wait "$STRACE_PID"
SERVER_PID=

# expand FILTER-VALUE: the system calls of a SystemCallFilter value's words
# (groups expanded by systemd-analyze, nested groups too).
expand() {
    local w
    for w in $1; do
        case $w in
        @*) "$ANALYZE" syscall-filter "$w" 2>/dev/null | sed -n '2,$p' |
            sed 's/#.*//' | tr -d ' ' | grep -v '^$' |
            while read -r n; do expand "$n"; done ;;
        *) echo "$w" ;;
        esac
    done
}
: >"$WORK/allowed"
while read -r value; do
    case $value in
    "~"*) expand "${value#\~}" | sort -u >"$WORK/minus"
        sort -u "$WORK/allowed" | comm -23 - "$WORK/minus" >"$WORK/allowed.new" ;;
    *) { cat "$WORK/allowed"; expand "$value"; } | sort -u >"$WORK/allowed.new" ;;
    esac
    mv "$WORK/allowed.new" "$WORK/allowed"
done < <(sed -n 's/^SystemCallFilter=//p' "$UNIT")
check_cmd "the unit's filter expands to a list (systemd-analyze)" \
    grep -qx read "$WORK/allowed"
# Only signetd's calls: from setpriv's execve of it on (setpriv's own
# setresuid and setgroups are systemd's part under the unit).
awk -v bin="$SIGNETD" 'on { print; next }
    index($0, "execve(\"" bin "\"") && / = 0$/ { on = 1 }' "$WORK/trace" >"$WORK/trace.signetd"
check_cmd "the trace has signetd's exec" test -s "$WORK/trace.signetd"
sed -E 's/^[0-9]+ +//; s/^<\.\.\. ([a-z0-9_]+) resumed.*/\1/; s/\(.*//' "$WORK/trace.signetd" |
    grep -E '^[a-z_0-9]+$' | sort -u >"$WORK/used"
log "$(wc -l <"$WORK/used") distinct system calls"
if ldd "$SIGNETD" | grep -qE 'lib(a|ub|t)san'; then
    log "a sanitizer build: its runtime's own calls are not the unit's; syscall check skipped"
else
    check_eq "every system call signetd made is allowed by the unit's SystemCallFilter" "" \
        "$(comm -23 "$WORK/used" "$WORK/allowed" | tr '\n' ' ')"
fi
# RestrictNamespaces: the kinds it names; CLONE_NEW* flags in the trace.
ALLOWED_NS=$(sed -n 's/^RestrictNamespaces=//p' "$UNIT")
USED_NS=$(grep -oE 'CLONE_NEW[A-Z]+' "$WORK/trace.signetd" | sort -u |
    sed 's/CLONE_NEWNS/mnt/; s/CLONE_NEWUSER/user/; s/CLONE_NEWNET/net/; s/CLONE_NEWIPC/ipc/; s/CLONE_NEWUTS/uts/; s/CLONE_NEWPID/pid/; s/CLONE_NEWCGROUP/cgroup/' | tr '\n' ' ')
check_ne "signetd made namespaces (the front end's)" "" "$USED_NS"
bad=
for ns in $USED_NS; do
    case " $ALLOWED_NS " in *" $ns "*) ;; *) bad="$bad $ns" ;; esac
done
check_eq "every namespace it made is one RestrictNamespaces=$ALLOWED_NS allows" "" "$bad"
finish
