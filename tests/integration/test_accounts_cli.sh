#!/usr/bin/env bash
# issue 17 through the `signet` CLI: account create (password from a file
# or stdin, never from argv), login --name (password and code piped, one
# line each), the session file (where, mode, atomic), the session as the
# last credential choice (a token wins; an expired session or another
# --url refused), account totp/confirm with oathtool's codes, a recovery
# code login, admin accounts review, account disable, logout (the server's
# session ended, the file removed even when the server refuses). Every
# TOTP code comes from oathtool; verdicts from jq, stat and curl.
. "$(dirname "$0")/lib.sh" "$@"

command -v oathtool >/dev/null || die "oathtool is not installed"

SERVER_OPERATOR_MFA=true server_init
server_start
cd "$WORK" || die "cd"

PW='correct horse battery staple'
printf '%s\n' "$PW" >"$WORK/pw"
export XDG_CONFIG_HOME=$WORK/cfg
SESSION=$XDG_CONFIG_HOME/signet/session

# cli WHAT ARGS...: stdout in OUT, stderr in ERR, status in RC
cli() {
    shift
    "$SIGNET" "$@" >"$WORK/cli.out" 2>"$WORK/cli.err" </dev/null
    RC=$?
    OUT=$(cat "$WORK/cli.out")
    ERR=$(cat "$WORK/cli.err")
}
# cli_in INPUT WHAT ARGS...: the same with INPUT on standard input
cli_in() {
    local input=$1
    shift 2
    printf '%s' "$input" | "$SIGNET" "$@" >"$WORK/cli.out" 2>"$WORK/cli.err"
    RC=$?
    OUT=$(cat "$WORK/cli.out")
    ERR=$(cat "$WORK/cli.err")
}

# ---- account create: the password never from the command line ----
export SIGNET_TOKEN=$ADMIN
cli "password on argv" account create --name alice --role identity --password "$PW"
check_eq "--password: a usage error (exit 2)" 2 "$RC"
check_match "--password: says why" "never taken from the command line" "$ERR"
cli "no password file" account create --name alice --role identity
check_eq "no --password-file: exit 2" 2 "$RC"
cli "subscriber role, no subscriber" account create --name alice --role sign --password-file "$WORK/pw"
check_eq "a subscriber's role without --subscriber: exit 2" 2 "$RC"
cli "create alice" --json account create --name alice --role identity \
    --role subscribers --password-file "$WORK/pw"
check_eq "account create: exit 0 ($ERR)" 0 "$RC"
ALICE=$(jget .id "$OUT")
check_match "account create: the account's id" '^[0-9a-f-]{36}$' "$ALICE"
check_eq "account create: an operator" operator "$(jget .kind "$OUT")"
unset SIGNET_TOKEN

# ---- login with the password only: a session that can enrol ----
cli "whoami, not logged in" whoami
check_eq "no token and no session: exit 2" 2 "$RC"
check_match "no token: says to log in" "signet login --name" "$ERR"
cli_in "$PW"$'\n' "login alice" login --url "$SIGNET_URL" --ca-file "$SIGNET_CA_FILE" --name alice
check_eq "login with the password (no code line): exit 0 ($ERR)" 0 "$RC"
check_match "login: no second factor yet" "no second factor yet" "$OUT"
check_cmd "the session file is at \$XDG_CONFIG_HOME/signet/session" test -f "$SESSION"
check_eq "the session file's mode" 600 "$(stat -c %a "$SESSION")"
check_eq "its directory's mode" 700 "$(stat -c %a "$XDG_CONFIG_HOME/signet")"
check_eq "the session file's URL" "$SIGNET_URL" "$(jq -r .url "$SESSION")"
check_eq "the session file's CA file (absolute)" "$(realpath "$SIGNET_CA_FILE")" "$(jq -r .ca_file "$SESSION")"
check_match "the session file's token" '^sn_' "$(jq -r .token "$SESSION")"
check_eq "no temporary file left beside it" "session" "$(ls "$XDG_CONFIG_HOME/signet")"
check_nomatch "the token is not printed" "sn_[0-9a-f-]{36}_" "$OUT$ERR"

# The session is the credential, with its URL and CA file.
unset SIGNET_URL_SAVED
SAVED_URL=$SIGNET_URL SAVED_CA=$SIGNET_CA_FILE
unset SIGNET_URL SIGNET_CA_FILE
cli "totp enrolment" account totp "$ALICE"
check_eq "account totp with the stored session (its URL and CA): exit 0 ($ERR)" 0 "$RC"
check_match "account totp prints the otpauth URI" \
    '^otpauth://totp/Signet:alice\?secret=[A-Z2-7]+&issuer=Signet&algorithm=SHA1&digits=6&period=30$' "$OUT"
SECRET=$(printf '%s' "$OUT" | sed 's/.*secret=\([A-Z2-7]*\).*/\1/')
cli "confirm with a bad code" account confirm "$ALICE" 12345
check_eq "account confirm with 5 digits: exit 2" 2 "$RC"
totp_fresh_step
cli "confirm" account confirm "$ALICE" "$(totp_code "$SECRET" 0)"
check_eq "account confirm with oathtool's code: exit 0 ($ERR)" 0 "$RC"
check_match "confirm: the codes are shown once" "shown once" "$OUT"
check_eq "confirm: ten recovery codes" 10 "$(grep -cE '^  [a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$' <<<"$OUT")"
RC1=$(grep -oE '[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}' <<<"$OUT" | sed -n 1p)
RC2=$(grep -oE '[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}' <<<"$OUT" | sed -n 2p)
cli "enrolment session lists nothing" account list
check_eq "the password-only session may not list accounts (exit 1)" 1 "$RC"

# ---- login with the second factor ----
totp_fresh_step
cli_in "$PW"$'\n'"$(totp_code "$SECRET" 30)"$'\n' "login alice with a code" \
    login --url "$SAVED_URL" --ca-file "$SAVED_CA" --name alice
check_eq "login with password and oathtool's next code: exit 0 ($ERR)" 0 "$RC"
check_nomatch "no 'no second factor' note" "no second factor" "$OUT"
check_eq "the stored session proved a second factor" true "$(jq -r .mfa "$SESSION")"
cli "subscriber create" --json subscriber create acme
check_eq "the operator's session creates a subscriber: exit 0 ($ERR)" 0 "$RC"
SUB=$(jget .id "$OUT")
cli "whoami" --json whoami
check_eq "whoami through the session: exit 0 ($ERR)" 0 "$RC"
# The first operator makes the next ones (the admin token no longer may).
cli_in "$PW"$'\n' "create bob from stdin" account create --name bob \
    --role identity --password-file -
check_eq "account create --password-file - (stdin): exit 0 ($ERR)" 0 "$RC"
check_match "the text line names bob, an operator" ' bob  operator  -  identity  active  password$' "$OUT"
BOB=$(awk '{print $1}' <<<"$OUT")

# A token comes before the session.
SIGNET_TOKEN=$ADMIN SIGNET_URL=$SAVED_URL SIGNET_CA_FILE=$SAVED_CA \
    "$SIGNET" --json whoami >"$WORK/w.json" 2>"$WORK/w.err" </dev/null
check_eq "with SIGNET_TOKEN the admin token is used, not the session" true \
    "$(jq -r .admin "$WORK/w.json")"

# ---- the review and the list ----
cli "review" admin accounts review
check_eq "admin accounts review: exit 0 ($ERR)" 0 "$RC"
check_match "review: a header" '^NAME +KIND +SUBSCRIBER +ROLES +STATE +FACTORS +LAST-LOGIN +LAST-USE' "$OUT"
check_match "review: alice with both factors and a last login" \
    $'\n''alice +operator +- +identity,subscribers +active +password,totp +20[0-9-]+T' "$OUT"
check_match "review: bob never logged in" $'\n''bob +operator +- +identity +active +password +- +-' "$OUT"
cli "review --json" --json admin accounts review
check_eq "review --json: the API's accounts" 2 "$(jget '.accounts | length' "$OUT")"
cli "list" account list
check_match "account list: one line per account" "$ALICE  alice  operator" "$OUT"

# ---- a subscriber's account, password from stdin ----
cli_in "$PW"$'\n' "create carol" --json account create --name carol \
    --subscriber "$SUB" --role sign --role approve --password-file -
check_eq "a subscriber's account: exit 0 ($ERR)" 0 "$RC"
check_eq "its subscriber" "$SUB" "$(jget .subscriber "$OUT")"
check_eq "its roles" "approve,sign" "$(jget '.roles | sort | join(",")' "$OUT")"

# ---- a recovery code logs in; a wrong code does not touch the file ----
cp "$SESSION" "$WORK/session.before"
cli_in "$PW"$'\n''000000'$'\n' "wrong code" login --url "$SAVED_URL" --ca-file "$SAVED_CA" --name alice
check_eq "a wrong code: exit 1" 1 "$RC"
check_cmd "the stored session is unchanged" cmp "$SESSION" "$WORK/session.before"
cli_in "$PW"$'\n'"${RC1^^}"$'\n' "recovery" login --url "$SAVED_URL" --ca-file "$SAVED_CA" --name alice
check_eq "a recovery code (typed in capitals) logs in: exit 0 ($ERR)" 0 "$RC"
check_eq "with a second factor" true "$(jq -r .mfa "$SESSION")"

# ---- the session file refused: another URL, expired, not private ----
cli "another url" --url "https://127.0.0.1:1" whoami
check_eq "--url of another server: exit 1" 1 "$RC"
check_match "the session is not sent elsewhere" "the stored session is for $SAVED_URL" "$ERR"
cp "$SESSION" "$WORK/session.good"
jq '.expires_at = "2020-01-01T00:00:00Z"' "$WORK/session.good" >"$SESSION"
cli "expired" whoami
check_eq "an expired session: exit 1" 1 "$RC"
check_match "says so" "session expired: run signet login" "$ERR"
cp "$WORK/session.good" "$SESSION"
chmod 644 "$SESSION"
cli "readable by others" whoami
check_eq "a session file others can read: refused (exit 1)" 1 "$RC"
check_match "says why" "not private" "$ERR"
chmod 600 "$SESSION"

# ---- logout ends the session at the server ----
TOKEN=$(jq -r .token "$SESSION")
cli "logout" logout
check_eq "logout: exit 0 ($ERR)" 0 "$RC"
check_cmd_fails "the session file is gone" test -e "$SESSION"
req GET /v1/whoami "$TOKEN"
check_status "the ended session's token is refused" 401
cli "logout again" logout
check_eq "logout without a session: exit 0" 0 "$RC"

# The server no longer accepts the session (ended elsewhere): removed.
# (A recovery code: the steps of the codes above are used up.)
cli_in "$PW"$'\n'"$RC2"$'\n' "login" login --url "$SAVED_URL" --ca-file "$SAVED_CA" --name alice
check_eq "login again: exit 0 ($ERR)" 0 "$RC"
cli "disable bob" account disable "$BOB"
check_eq "account disable: exit 0 ($ERR)" 0 "$RC"
req_json POST /v1/sessions - "{\"name\":\"bob\",\"password\":\"$PW\"}"
check_error "a disabled account cannot log in" 401 login_failed
req DELETE /v1/sessions/current "$(jq -r .token "$SESSION")"
check_status "the session ended behind the CLI's back (curl)" 200
cli "whoami after the end" whoami
check_eq "the ended session is refused (exit 1)" 1 "$RC"
check_match "a hint to log in again" "stored login session was refused" "$ERR"
cli "logout, refused" logout
check_eq "logout of an ended session: exit 0 ($ERR)" 0 "$RC"
check_match "says the server no longer accepted it" "no longer accepted" "$OUT"
check_cmd_fails "the session file is gone" test -e "$SESSION"

# The server cannot be reached: removed all the same, and said (exit 1).
cp "$WORK/session.good" "$SESSION"
jq '.url = "https://127.0.0.1:1"' "$WORK/session.good" >"$SESSION"
cli "logout, unreachable" logout
check_eq "logout with the server unreachable: exit 1" 1 "$RC"
check_match "says the stored session was removed anyway" "removed anyway" "$ERR"
check_cmd_fails "the session file is gone" test -e "$SESSION"

# ---- without XDG_CONFIG_HOME: ~/.config/signet/session ----
unset XDG_CONFIG_HOME
export HOME=$WORK/home-dir
mkdir -p "$HOME"
cli_in "$PW"$'\n' "login carol" login --url "$SAVED_URL" --ca-file "$SAVED_CA" --name carol
check_eq "carol logs in (no TOTP yet): exit 0 ($ERR)" 0 "$RC"
check_eq "the session file under ~/.config, mode 600" 600 \
    "$(stat -c %a "$HOME/.config/signet/session" 2>&1)"

finish
