#!/usr/bin/env bash
# server.user (issue 20): signetd serve started as root with server.user =
# nobody. Judged from outside (/proc, stat, setpriv):
#  - the keeper stays root; the front end runs as nobody, with no
#    capability at all;
#  - the home is nobody's but HOME/hsm, which stays root's and 0700: the
#    front end's user cannot read a PIN file even outside the front end's
#    mount namespace; the keeper's socket is the front end's;
#  - subscribers, keys and signatures work (openssl verifies one);
#  - SIGTERM stops all three, exit 0.
. "$(dirname "$0")/lib.sh"
command -v setpriv >/dev/null || die "setpriv (util-linux) is not installed"
RUN_UID=65534
SERVER_STORE=sqlite
chmod 0711 "$WORK" # nobody may reach the home below it
server_init "$WORK/home"
set_conf server.user nobody
server_start

KEEPER=$(child_named signetd-keeper)
FRONT=$(child_named signetd-front)
check_eq "the keeper runs as root" 0 "$(awk '/^Uid:/ { print $2 }' "/proc/$KEEPER/status")"
check_eq "the front end runs as nobody" "$RUN_UID $RUN_UID $RUN_UID $RUN_UID" \
    "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$FRONT/status")"
check_eq "the front end holds no capability" 0000000000000000 \
    "$(awk '/^CapEff:/ { print $2 }' "/proc/$FRONT/status")"
check_eq "... and none it could raise" 0000000000000000 \
    "$(awk '/^CapPrm:/ { print $2 }' "/proc/$FRONT/status")"

SUB=$(new_subscriber "user-acme") || exit 1
TOK=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1
KEY=$(new_key "$TOK" ecdsa-p256) || exit 1
check_signs "$TOK" "$KEY" "a signature through the nobody front end"

H=$SERVER_HOME
check_eq "HOME/hsm stays root's, 0700" "root 700" "$(stat -c '%U %a' "$H/hsm")"
check_eq "the subscriber's PIN file is root's" root "$(stat -c %U "$H/hsm/pins/$SUB.pin")"
check_eq "the database is nobody's" nobody "$(stat -c %U "$H/signet.db")"
check_eq "the keeper's socket is the front end's" "nobody 600" "$(stat -c '%U %a' "$H/run/keeper.sock")"
check_cmd_fails "nobody cannot read a PIN file, even outside the front end's namespace" \
    setpriv --reuid=$RUN_UID --regid=$RUN_UID --clear-groups -- cat "$H/hsm/pins/$SUB.pin"
server_stop
finish
