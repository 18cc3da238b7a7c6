#!/usr/bin/env bash
# Credentials are checked again when a request executes, not only when its
# headers arrive. A client sends the headers and half of a JSON body with a
# good token, the token is then revoked (or expires), and the client sends
# the rest one byte at a time:
#  - a signing request gets 401 and no signature;
#  - a manage token's token-creation request gets 401 and no token is
#    created (the database, read with Python's sqlite3, has no such row);
#  - a token that expires while its body trickles: 401;
#  - the same slow request with a token left alone: 200 (so this can fail).
. "$(dirname "$0")/lib.sh"
# SQLite's file and triggers are read and altered here: SQLite only.
SERVER_STORE=sqlite

PY=/usr/bin/python3
SLOW=$(dirname "$0")/slowreq.py
server_start
A=$(new_subscriber alpha) || exit 1
T=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$T" ecdsa-p256 "recheck") || exit 1

openssl dgst -sha256 -binary <<<"recheck" >"$WORK/d.bin"
SIGN_BODY="{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d.bin")\"}"

token_id() {
    req GET /v1/whoami "$1"
    jget .token_id
}

# slow NAME TOKEN PATH BODY ACTION: the slow request, with ACTION (a shell
# command) run once its first half is in; prints "STATUS BODY".
slow() {
    local name=$1 tok=$2 path=$3 body=$4 action=$5
    rm -f "$WORK/$name.ready" "$WORK/$name.gate"
    "$PY" "$SLOW" --port "$SERVER_PORT" --ca "$SERVER_CA" --token "$tok" \
        --path "$path" --body "$body" --ready "$WORK/$name.ready" \
        --gate "$WORK/$name.gate" >"$WORK/$name.out" 2>&1 &
    local pid=$! i
    for i in $(seq 1 100); do
        [ -f "$WORK/$name.ready" ] && break
        sleep 0.1
    done
    eval "$action"
    touch "$WORK/$name.gate"
    wait "$pid"
    cat "$WORK/$name.out"
}

# ---- control: a token left alone signs after a slow body ----
OUT=$(slow control "$T" "/v1/keys/$K/sign" "$SIGN_BODY" "sleep 1")
check_match "slow body, token left alone: 200 with a signature" \
    '^200 .*"signature"' "$OUT"

# ---- signing with a token revoked while the body trickles ----
TS=$(new_token "$A" '"roles":["sign"]') || exit 1
TS_ID=$(token_id "$TS")
OUT=$(slow sign "$TS" "/v1/keys/$K/sign" "$SIGN_BODY" \
    'req DELETE "/v1/tokens/$TS_ID" "$ADMIN"; log "revoke: HTTP $STATUS" >&2')
check_match "sign, token revoked mid-body: 401" '^401 .*"unauthorized"' "$OUT"
check_nomatch "sign, token revoked mid-body: no signature" '"signature"' "$OUT"

# ---- a manage token revoked while its token-creation body trickles ----
TM=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TM_ID=$(token_id "$TM")
OUT=$(slow mint "$TM" "/v1/subscribers/$A/tokens" \
    '{"name":"minted-after-revocation","roles":["manage","sign"]}' \
    'req DELETE "/v1/tokens/$TM_ID" "$ADMIN"; log "revoke: HTTP $STATUS" >&2')
check_match "token creation, manage token revoked mid-body: 401" \
    '^401 .*"unauthorized"' "$OUT"
check_nomatch "token creation, manage token revoked mid-body: no token" \
    '"token"' "$OUT"
N=$("$PY" - "$SERVER_HOME/signet.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print(db.execute("SELECT count(*) FROM tokens WHERE name = ?",
                 ("minted-after-revocation",)).fetchone()[0])
EOF
)
check_eq "token creation, manage token revoked mid-body: no row in the database" 0 "$N"

# ---- a token that expires while the body trickles ----
EXP=$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)
TE=$(new_token "$A" "\"roles\":[\"sign\"],\"expires_at\":\"$EXP\"") || exit 1
OUT=$(slow expire "$TE" "/v1/keys/$K/sign" "$SIGN_BODY" "sleep 5")
check_match "sign, token expired mid-body: 401" '^401 .*"unauthorized"' "$OUT"
check_nomatch "sign, token expired mid-body: no signature" '"signature"' "$OUT"

check_healthy
finish
