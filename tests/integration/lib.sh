# lib.sh: shared helpers of the integration tests. Sourced by each
# test_*.sh as:  . lib.sh SIGNETD SIGNET
#
# Each test gets its own temporary directory ($WORK) and its own signetd on
# a free port; both are removed/stopped on exit, whatever happens. Verdicts
# come from independent tools (openssl, pkcs11-tool, jq), never from
# Signet itself. Assertions print the expected and the actual value; soft
# checks (check_*) keep going so one run shows every failure, and the test
# exits 1 at the end if any failed. die() stops at once (setup failures).

set -uo pipefail

SIGNETD=${1:?usage: test.sh SIGNETD SIGNET}
SIGNET=${2:?usage: test.sh SIGNETD SIGNET}
TEST_NAME=$(basename "$0" .sh)
P11_MODULE=${SIGNET_P11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
# Test homes put Signet's private OIDs under the IANA documentation PEN
# (RFC 5612), so that every parser (pyca/cryptography 38, Go < 1.22) reads
# their certificates: policy $TEST_OID_ARC.3.1, key protection .2.1,
# attestation extension .1.1, attestation statement .1.2. Set SERVER_OID_ARC
# before server_init to choose another arc, or to "" for signetd's default.
TEST_OID_ARC=1.3.6.1.4.1.32473

for tool in curl jq openssl base64 od dd; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "FATAL: $tool is not installed" >&2
        exit 1
    }
done
[ -x "$SIGNETD" ] || { echo "FATAL: no signetd at $SIGNETD" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/signet-it.$TEST_NAME.XXXXXX")
FAILURES=0
CHECKS=0
SERVER_PID=
SERVER_PORT=
SERVER_HOME=
SERVER_URL=
SERVER_CA=
ADMIN=
declare -a EXTRA_PIDS=()
# PostgreSQL (server_to_pg): the databases this test made, and their URL
declare -a PG_NAMES=()
PG_DBS=0
PG_URL=
SIGNET_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

log() { printf '[%s] %s\n' "$TEST_NAME" "$*"; }

# Prints the last lines of the server log: context for a failure.
server_log_tail() {
    if [ -n "$SERVER_HOME" ] && [ -f "$WORK/signetd.$SERVER_PORT.log" ]; then
        echo "---- last lines of the signetd log ----" >&2
        tail -n 15 "$WORK/signetd.$SERVER_PORT.log" >&2
        echo "---------------------------------------" >&2
    fi
}

die() {
    printf '[%s] FATAL: %s\n' "$TEST_NAME" "$*" >&2
    server_log_tail
    exit 1
}

fail() {
    FAILURES=$((FAILURES + 1))
    printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
}

pass() {
    printf '[%s] ok: %s\n' "$TEST_NAME" "$*"
}

# check_eq WHAT EXPECTED ACTUAL
check_eq() {
    CHECKS=$((CHECKS + 1))
    if [ "$2" == "$3" ]; then
        pass "$1"
        return 0
    fi
    fail "$1"$'\n'"    expected: $2"$'\n'"    actual:   $3"
    return 1
}

check_ne() {
    CHECKS=$((CHECKS + 1))
    if [ "$2" != "$3" ]; then
        pass "$1"
        return 0
    fi
    fail "$1"$'\n'"    expected anything but: $2"$'\n'"    actual: $3"
    return 1
}

# check_match WHAT REGEX ACTUAL
check_match() {
    CHECKS=$((CHECKS + 1))
    if [[ "$3" =~ $2 ]]; then
        pass "$1"
        return 0
    fi
    fail "$1"$'\n'"    expected to match: $2"$'\n'"    actual: $3"
    return 1
}

check_nomatch() {
    CHECKS=$((CHECKS + 1))
    if ! [[ "$3" =~ $2 ]]; then
        pass "$1"
        return 0
    fi
    fail "$1"$'\n'"    expected NOT to match: $2"$'\n'"    actual: $3"
    return 1
}

# check_cmd WHAT CMD...: the command must succeed.
check_cmd() {
    local what=$1 out rc
    shift
    CHECKS=$((CHECKS + 1))
    out=$("$@" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        pass "$what"
        return 0
    fi
    fail "$what"$'\n'"    expected: exit 0"$'\n'"    actual:   exit $rc: $(printf '%s' "$out" | head -c 2000)"$'\n'"    command: $*"
    return 1
}

# check_cmd_fails WHAT CMD...: the command must fail.
check_cmd_fails() {
    local what=$1 out rc
    shift
    CHECKS=$((CHECKS + 1))
    out=$("$@" 2>&1)
    rc=$?
    if [ $rc -ne 0 ]; then
        pass "$what"
        return 0
    fi
    fail "$what"$'\n'"    expected: a non-zero exit"$'\n'"    actual:   exit 0: $(printf '%s' "$out" | head -c 2000)"$'\n'"    command: $*"
    return 1
}

finish() {
    local f
    # Sanitizer builds (SIGNET_SANITIZE=ON): any report in a server log fails.
    for f in "$WORK"/signetd.*.log; do
        [ -f "$f" ] || continue
        if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$f"; then
            fail "sanitizer report in $(basename "$f"):"$'\n'"$(grep -A12 -E 'Sanitizer|runtime error:' "$f" | head -40)"
        fi
    done
    if [ "$FAILURES" -ne 0 ]; then
        printf '[%s] %d of %d checks FAILED\n' "$TEST_NAME" "$FAILURES" "$CHECKS" >&2
        server_log_tail
        exit 1
    fi
    printf '[%s] all %d checks passed\n' "$TEST_NAME" "$CHECKS"
    exit 0
}

cleanup() {
    local rc=$? p
    for p in "${EXTRA_PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null
    fi
    for p in "${PG_NAMES[@]}"; do
        psql -qAtX -d "postgresql:///postgres?host=$SIGNET_TEST_PG_DIR" \
            -c "DROP DATABASE IF EXISTS $p WITH (FORCE)" >/dev/null 2>&1
    done
    if [ "${SIGNET_IT_KEEP:-0}" = 1 ]; then
        echo "[$TEST_NAME] kept $WORK (exit $rc)" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- server ----

# random_port: a port in 20000..59999 with nothing listening on it.
random_port() {
    local p
    while :; do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        [ "$p" = 18443 ] || [ "$p" = 28443 ] && continue
        # A successful connect means someone listens there.
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
}

# server_init [HOME]: signetd init into HOME (default $WORK/home), with
# oid.arc = ${SERVER_OID_ARC-$TEST_OID_ARC} (none if SERVER_OID_ARC is
# empty) and ca.allow_uncertified_modules = ${SERVER_ALLOW_UNCERTIFIED-true}:
# SoftHSM2 is on no list of certified modules, so the homes issue test code
# signing certificates (policy 2.23.140.2.1) unless a test says otherwise.
# auth.require_strong_auth = ${SERVER_REQUIRE_STRONG_AUTH-false}: the tests
# sign with static tokens; init's default (true) is tested on its own.
# auth.operator_mfa = ${SERVER_OPERATOR_MFA-false}: the tests act as the
# operator with the admin token; init's default (true) is tested in
# test_accounts.sh.
server_init() {
    local arc=${SERVER_OID_ARC-$TEST_OID_ARC}
    SERVER_HOME=${1:-$WORK/home}
    "$SIGNETD" init --home "$SERVER_HOME" ${arc:+--oid-arc "$arc"} \
        >"$WORK/init.log" 2>&1 ||
        die "signetd init failed: $(cat "$WORK/init.log")"
    set_conf ca.allow_uncertified_modules "${SERVER_ALLOW_UNCERTIFIED-true}"
    set_conf auth.require_strong_auth "${SERVER_REQUIRE_STRONG_AUTH-false}"
    set_conf auth.operator_mfa "${SERVER_OPERATOR_MFA-false}"
    SERVER_CA=$SERVER_HOME/tls/ca.pem
    ADMIN=$(tr -d '\n' <"$SERVER_HOME/admin.token")
    export SOFTHSM2_CONF=$SERVER_HOME/hsm/softhsm2.conf
    server_to_pg
}

# With SIGNET_TEST_PG_DIR (tests/pg.cmake: the suite runs on PostgreSQL),
# the new home's database moves to a fresh PostgreSQL database of its own
# by signetd migrate (PG_URL names it), unless the test set
# SERVER_STORE=sqlite (it reads SQLite's file, or SQLite's own triggers).
server_to_pg() {
    local name
    PG_URL=
    [ -n "${SIGNET_TEST_PG_DIR:-}" ] && [ "${SERVER_STORE:-}" != sqlite ] ||
        return 0
    name=it_$$_$((++PG_DBS))
    PG_URL=$("$SIGNET_REPO/scripts/pg.sh" createdb "$SIGNET_TEST_PG_DIR" "$name") ||
        die "cannot create the PostgreSQL database $name"
    PG_NAMES+=("$name")
    "$SIGNETD" migrate --home "$SERVER_HOME" --to "$PG_URL" \
        >"$WORK/migrate.log" 2>&1 ||
        die "signetd migrate failed: $(cat "$WORK/migrate.log")"
    # pkcs11-tool (p11_privkeys) checks keys on tokens with their PIN
    # files; test_pg_restore checks the PINs sealed in the database
    [ "${SERVER_PINS_IN_FILES:-true}" = false ] ||
        set_conf hsm.pins_in_files true
    log "the home's database is PostgreSQL's $name"
}

# db_query SQL: the rows of SQL on the running test's database, columns
# separated by |, whichever store it is (the SQL must suit both).
db_query() {
    if [ -n "${PG_URL:-}" ]; then
        psql -qAtX -F '|' -d "$PG_URL" -c "$1"
    else
        sqlite3 "$SERVER_HOME/signet.db" "$1"
    fi
}

# set_conf KEY VALUE: replaces (or appends) a line of signetd.conf.
set_conf() {
    local conf=$SERVER_HOME/signetd.conf
    if grep -q "^$1 *=" "$conf"; then
        sed -i "s|^$1 *=.*|$1 = $2|" "$conf"
    else
        echo "$1 = $2" >>"$conf"
    fi
}

# server_start: signetd serve on a free port; waits for /healthz.
# SERVER_LAUNCH (optional): a command prefix, e.g. setpriv's options.
server_start() {
    local try i
    [ -n "$SERVER_HOME" ] || server_init
    for try in 1 2 3 4 5; do
        SERVER_PORT=$(random_port)
        SERVER_URL=https://127.0.0.1:$SERVER_PORT
        # The plain-HTTP listener (CRL, OCSP, CA certificates): also free.
        PUBLIC_PORT=$(random_port)
        [ "$PUBLIC_PORT" = "$SERVER_PORT" ] && PUBLIC_PORT=$((SERVER_PORT + 1))
        PUBLIC_URL=http://127.0.0.1:$PUBLIC_PORT
        # SERVER_LAUNCH: words run before signetd (setpriv, strace), which
        # must exec it or trace it; SERVER_PID is then the first word's.
        # shellcheck disable=SC2086
        ${SERVER_LAUNCH:-} "$SIGNETD" serve --home "$SERVER_HOME" --listen "127.0.0.1:$SERVER_PORT" \
            --public-listen "127.0.0.1:$PUBLIC_PORT" \
            >"$WORK/signetd.$SERVER_PORT.log" 2>&1 &
        SERVER_PID=$!
        for i in $(seq 1 300); do
            if ! kill -0 "$SERVER_PID" 2>/dev/null; then
                break
            fi
            if curl -sS --max-time 2 --cacert "$SERVER_CA" -o /dev/null \
                "$SERVER_URL/healthz" 2>/dev/null; then
                log "signetd pid $SERVER_PID on $SERVER_URL (home $SERVER_HOME)"
                export SIGNET_URL=$SERVER_URL SIGNET_CA_FILE=$SERVER_CA
                return 0
            fi
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            kill -KILL "$SERVER_PID"
            die "signetd did not answer /healthz within 30 s"
        fi
        wait "$SERVER_PID" 2>/dev/null
        if ! grep -q "cannot listen" "$WORK/signetd.$SERVER_PORT.log"; then
            die "signetd exited at start: $(cat "$WORK/signetd.$SERVER_PORT.log")"
        fi
        log "port $SERVER_PORT taken, trying another"
    done
    die "no free port found"
}

# child_named NAME: the PID of signetd's (SERVER_PID's) child whose comm
# is NAME (signetd-keeper, signetd-front).
child_named() {
    local p
    for p in $(pgrep -P "$SERVER_PID"); do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] && echo "$p"
    done
}

# server_stop: SIGTERM, then the exit status must be 0.
server_stop() {
    local rc
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID"
    rc=$?
    SERVER_PID=
    check_eq "signetd exits 0 after SIGTERM" 0 "$rc"
}

# ---- HTTP ----

# req METHOD PATH TOKEN [curl args...]: sets STATUS and BODY; TOKEN "-"
# sends no Authorization header. The body is also in $WORK/body.
req() {
    local method=$1 path=$2 token=$3
    shift 3
    local auth=()
    [ "$token" != "-" ] && auth=(-H "Authorization: Bearer $token")
    rm -f "$WORK/body"
    STATUS=$(curl -sS --max-time 120 --cacert "$SERVER_CA" -X "$method" \
        "${auth[@]}" -o "$WORK/body" -w '%{http_code}' "$@" \
        "$SERVER_URL$path" 2>"$WORK/curl.err")
    CURL_RC=$?
    # No final answer (connection refused or closed, only "100 Continue"):
    # STATUS 000 and curl's complaint as BODY.
    if [ -z "$STATUS" ] || [ "$STATUS" -lt 200 ]; then
        STATUS=000
        BODY="curl exit $CURL_RC: $(cat "$WORK/curl.err")"
        return 0
    fi
    BODY=$(tr -d '\000' <"$WORK/body" 2>/dev/null)
    return 0
}

# req_json METHOD PATH TOKEN JSON: a JSON body.
req_json() {
    local m=$1 p=$2 t=$3 j=$4
    shift 4
    req "$m" "$p" "$t" -H 'Content-Type: application/json' --data-binary "$j" "$@"
}

# jget FILTER [JSON]: jq -r on JSON (default $BODY); "" when not JSON.
jget() {
    printf '%s' "${2-$BODY}" | jq -r "$1" 2>/dev/null
}

# check_status WHAT EXPECTED: compares STATUS, prints the body on failure.
check_status() {
    CHECKS=$((CHECKS + 1))
    if [ "$STATUS" = "$2" ]; then
        pass "$1 -> $2"
        return 0
    fi
    fail "$1"$'\n'"    expected: HTTP $2"$'\n'"    actual:   HTTP $STATUS $(printf '%s' "$BODY" | head -c 600)"
    return 1
}

# check_error WHAT STATUS CODE: an error answer {"error": CODE, "message"}.
check_error() {
    local err msg
    CHECKS=$((CHECKS + 1))
    err=$(jget .error)
    msg=$(jget .message)
    if [ "$STATUS" = "$2" ] && [ "$err" = "$3" ] && [ -n "$msg" ] &&
        [ "$msg" != null ]; then
        pass "$1 -> $2 $3"
        return 0
    fi
    fail "$1"$'\n'"    expected: HTTP $2 {\"error\":\"$3\",\"message\":...}"$'\n'"    actual:   HTTP $STATUS $(printf '%s' "$BODY" | head -c 600)"
    return 1
}

# check_healthy: the server still answers /healthz with status ok.
check_healthy() {
    local s b
    CHECKS=$((CHECKS + 1))
    s=$(curl -sS --max-time 10 --cacert "$SERVER_CA" -o "$WORK/health" \
        -w '%{http_code}' "$SERVER_URL/healthz" 2>&1)
    b=$(cat "$WORK/health" 2>/dev/null)
    if [ "$s" = 200 ] && [ "$(jget .status "$b")" = ok ] &&
        kill -0 "$SERVER_PID" 2>/dev/null; then
        pass "server healthy${1:+ after $1}"
        return 0
    fi
    fail "server healthy${1:+ after $1}"$'\n'"    expected: HTTP 200 {\"status\":\"ok\",...}"$'\n'"    actual:   HTTP $s $b"
    return 1
}

# ---- setup shortcuts (die on failure: later checks depend on them) ----

# new_subscriber NAME -> prints the id
new_subscriber() {
    req_json POST /v1/subscribers "$ADMIN" "{\"name\":\"$1\"}"
    [ "$STATUS" = 201 ] || die "create subscriber $1: HTTP $STATUS $BODY"
    jget .id
}

# new_token SUBSCRIBER JSON_EXTRA [AUTH] -> prints the token secret.
# JSON_EXTRA e.g. '"roles":["manage","sign"]'
new_token() {
    req_json POST "/v1/subscribers/$1/tokens" "${3:-$ADMIN}" \
        "{\"name\":\"t$RANDOM\",$2}"
    [ "$STATUS" = 201 ] || die "create token for $1: HTTP $STATUS $BODY"
    jget .token
}

# new_key TOKEN ALGORITHM [LABEL] -> prints the key id; the key JSON is
# kept in $WORK/key.<id>.json and its public key in $WORK/pub.<id>.pem.
new_key() {
    local id
    req_json POST /v1/keys "$1" "{\"algorithm\":\"$2\",\"label\":\"${3:-$2 key}\"}"
    [ "$STATUS" = 201 ] || die "create $2 key: HTTP $STATUS $BODY"
    id=$(jget .id)
    printf '%s' "$BODY" >"$WORK/key.$id.json"
    jget .public_key_pem >"$WORK/pub.$id.pem"
    echo "$id"
}

# check_signs TOKEN KEY WHAT: an EC or RSA-PKCS#1 signature of a fresh
# SHA-256 digest by KEY (made by new_key) is 200 and openssl verifies it.
check_signs() {
    head -c 32 /dev/urandom >"$WORK/signs.d"
    req_json POST "/v1/keys/$2/sign" "$1" \
        "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(base64 -w0 <"$WORK/signs.d")\"}"
    check_status "$3" 200
    jget .signature | base64 -d >"$WORK/signs.sig"
    check_cmd "... openssl verifies it" openssl pkeyutl -verify -pubin \
        -inkey "$WORK/pub.$2.pem" -sigfile "$WORK/signs.sig" -in "$WORK/signs.d" \
        -pkeyopt digest:sha256
}

# ---- people (issue 17) ----
# totp_code SECRET OFFSET: oathtool's TOTP code OFFSET seconds from now.
totp_code() { oathtool --totp -b -N "@$(($(date +%s) + $2))" "$1"; }
# Keeps clear of a 30 s step's last seconds, where "this step" and "the
# next" would be decided by a race.
totp_fresh_step() { while [ $(($(date +%s) % 30)) -gt 24 ]; do sleep 1; done; }
# mfa_person NAME ROLES_JSON MANAGER_TOKEN SUBSCRIBER: a subscriber's user
# made by its manager, with TOTP enrolled (codes by oathtool), logged in
# with it: P_ID is the account, P_TOKEN the session (a strong principal).
MFA_PW='integration test passphrase'
mfa_person() {
    mfa_enrol "$1" "{\"name\":\"$1\",\"roles\":$2,\"subscriber\":\"$4\",\"password\":\"$MFA_PW\"}" "$3"
}

# mfa_enrol NAME ACCOUNT_JSON CREATOR: the account made by CREATOR, TOTP
# enrolled and confirmed (oathtool), then a login with a second factor:
# P_ID, P_SECRET and P_TOKEN as mfa_person and mfa_operator describe.
mfa_enrol() {
    local half
    req_json POST /v1/accounts "$3" "$2"
    [ "$STATUS" = 201 ] || die "create account $1: HTTP $STATUS $BODY"
    P_ID=$(jget .id)
    req_json POST /v1/sessions - "{\"name\":\"$1\",\"password\":\"$MFA_PW\"}"
    [ "$STATUS" = 201 ] || die "login $1: HTTP $STATUS $BODY"
    half=$(jget .token)
    req POST "/v1/accounts/$P_ID/totp" "$half"
    [ "$STATUS" = 200 ] || die "enrol $1: HTTP $STATUS $BODY"
    P_SECRET=$(jget .otpauth_uri | sed 's/.*secret=\([A-Z2-7]*\).*/\1/')
    totp_fresh_step
    req_json POST "/v1/accounts/$P_ID/totp/confirm" "$half" \
        "{\"code\":\"$(totp_code "$P_SECRET" 0)\"}"
    [ "$STATUS" = 200 ] || die "confirm $1: HTTP $STATUS $BODY"
    # The confirming step is spent: the next step's code (skew +1).
    req_json POST /v1/sessions - \
        "{\"name\":\"$1\",\"password\":\"$MFA_PW\",\"code\":\"$(totp_code "$P_SECRET" 30)\"}"
    [ "$STATUS" = 201 ] && [ "$(jget .mfa)" = true ] ||
        die "MFA login $1: HTTP $STATUS $BODY"
    P_TOKEN=$(jget .token)
}

# mfa_operator NAME ROLES_JSON [CREATOR]: an operator's account made by
# CREATOR (default the admin token: in a home with auth.operator_mfa on it
# makes the first operator only), with TOTP enrolled (oathtool) and logged
# in with it: P_ID is the account, P_TOKEN the session, P_SECRET the TOTP
# secret (for later logins: totp_code "$P_SECRET" OFFSET).
mfa_operator() {
    mfa_enrol "$1" "{\"name\":\"$1\",\"roles\":$2,\"password\":\"$MFA_PW\"}" "${3:-$ADMIN}"
}

# key_count TOKEN -> number of keys the token lists
key_count() {
    req GET /v1/keys "$1"
    [ "$STATUS" = 200 ] || { echo "HTTP $STATUS"; return; }
    jget '.keys | length'
}

# ---- bytes ----

# b64 FILE: one-line base64 of a file.
b64() { base64 -w0 <"$1"; }

# unb64 STRING OUT: decodes base64 into OUT.
unb64() { printf '%s' "$1" | base64 -d >"$2"; }

# flip_byte IN OUT [OFFSET]: copy of IN with one bit flipped.
flip_byte() {
    local off=${3:-0} v
    cp "$1" "$2"
    v=$(od -An -tu1 -j "$off" -N1 "$1" | tr -d ' ')
    v=$((v ^ 1))
    # shellcheck disable=SC2059 # the format is the octal escape of one byte
    printf "\\$(printf '%03o' "$v")" |
        dd of="$2" bs=1 seek="$off" count=1 conv=notrunc status=none
}

# rand_file OUT SIZE_BYTES
rand_file() { head -c "$2" /dev/urandom >"$1"; }

# digest_len ALG
digest_len() {
    case $1 in sha256) echo 32 ;; sha384) echo 48 ;; sha512) echo 64 ;; esac
}

# a random key id that does not exist
rand_uuid() {
    local h
    h=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    echo "${h:0:8}-${h:8:4}-4${h:13:3}-a${h:17:3}-${h:20:12}"
}

# ---- PKCS#11 (independent view of the HSM) ----

# p11 ARGS...: pkcs11-tool on this home's SoftHSM2 store.
p11() {
    SOFTHSM2_CONF=$SERVER_HOME/hsm/softhsm2.conf \
        pkcs11-tool --module "$P11_MODULE" "$@"
}

# token label of a subscriber: the id without dashes
sub_label() { echo "${1//-/}"; }

sub_pin() { tr -d '\n' <"$SERVER_HOME/hsm/pins/$1.pin"; }

# p11_privkeys SUBSCRIBER: --list-objects --type privkey on its token.
p11_privkeys() {
    p11 --token-label "$(sub_label "$1")" --login --pin "$(sub_pin "$1")" \
        --list-objects --type privkey 2>&1
}

# ---- DER by hand, for requests the API will not build ----
# der_wrap TAG_HEX IN OUT: OUT = tag, DER length, IN
der_wrap() {
    local n
    n=$(stat -c %s "$2")
    {
        printf "\\x$1"
        if [ "$n" -lt 128 ]; then printf "\\x$(printf %02x "$n")"
        elif [ "$n" -lt 256 ]; then printf "\\x81\\x$(printf %02x "$n")"
        else printf "\\x82\\x$(printf %02x $((n >> 8)))\\x$(printf %02x $((n & 255)))"; fi
        cat "$2"
    } >"$3"
}
# cut_d2 DER N OUT: the N-th element at depth 2 (CSR: version, subject,
# SPKI, attributes)
cut_d2() {
    local line off hl l
    line=$(openssl asn1parse -inform DER -in "$1" | grep ':d=2 ' | sed -n "${2}p")
    off=$(sed -E 's/^ *([0-9]+):.*/\1/' <<<"$line")
    hl=$(sed -E 's/.*hl= *([0-9]+).*/\1/' <<<"$line")
    l=$(sed -E 's/.* l= *([0-9]+).*/\1/' <<<"$line")
    dd if="$1" of="$3" bs=1 skip="$off" count=$((hl + l)) status=none
}

# fetch_ca_certs DIR NAME...: HOME's CA certificates as a relying party
# gets them (GET /ca/NAME.cer on the public listener), as DIR/NAME.pem.
fetch_ca_certs() {
    local dir=$1 ca
    shift
    for ca in "$@"; do
        curl -sS --max-time 10 -o "$dir/$ca.der" "$PUBLIC_URL/ca/$ca.cer" ||
            die "GET $PUBLIC_URL/ca/$ca.cer"
        openssl x509 -inform DER -in "$dir/$ca.der" -out "$dir/$ca.pem" 2>/dev/null ||
            die "$ca.cer is not a DER certificate"
    done
}
