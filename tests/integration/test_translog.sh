#!/usr/bin/env bash
# issue 18: the transparency log. Sign answers carry log_index (a batch's
# consecutive); each entry says what the signature was (its SHA-256 and
# the key's SPKI's, computed here with openssl); the inclusion proof with
# its checkpoint comes within seconds and the independent Go verifier
# (x/mod's note and tlog) accepts it, the checkpoints' signatures, every
# entry and the consistency of checkpoints taken apart. `signet log
# verify` agrees; `signet log monitor` reports exactly the signature an
# allow-list did not expect. Then, in the stopped service's database,
# audit rows and log rows are deleted, altered and reordered: each is
# detected by signet log verify and by the Go verifier, and a stored tree
# that no longer matches its checkpoint stops the service's signing.
. "$(dirname "$0")/lib.sh"
# SQLite's file and triggers are read and altered here: SQLite only.
SERVER_STORE=sqlite

GOBIN="$WORK/go"
"$(dirname "$0")/../go/build.sh" "$GOBIN" || die "cannot build tests/go"
LV="$GOBIN/logverify"

server_start
A=$(new_subscriber alpha) || exit 1
B=$(new_subscriber bravo) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$TA" ecdsa-p256 "log p256") || exit 1
KR=$(new_key "$TA" rsa-3072 "log rsa") || exit 1
KB=$(new_key "$TB" ecdsa-p256 "bravo") || exit 1

# sign TOKEN KEY FILE: signs FILE's SHA-256; the answer stays in $BODY
sign() {
    openssl dgst -sha256 -binary "$3" >"$WORK/s.dg"
    req_json POST "/v1/keys/$2/sign" "$1" \
        "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/s.dg")\"}"
    [ "$STATUS" = 200 ] || die "sign: HTTP $STATUS $BODY"
}

# The key's SPKI hash, from its public key as the API gives it.
req GET "/v1/keys/$K" "$TA"
jget .public_key_pem >"$WORK/k.pub"
SPKI=$(openssl pkey -pubin -in "$WORK/k.pub" -outform DER |
    openssl dgst -sha256 -r | cut -d' ' -f1)
check_match "the key's SPKI hash" '^[0-9a-f]{64}$' "$SPKI"

printf 'artifact one' >"$WORK/a1"
sign "$TA" "$K" "$WORK/a1"
I1=$(jget .log_index)
jget .signature | base64 -d >"$WORK/a1.sig"
SIG1=$(openssl dgst -sha256 -r "$WORK/a1.sig" | cut -d' ' -f1)
DG1=$(openssl dgst -sha256 -r "$WORK/a1" | cut -d' ' -f1)
check_match "a signature's answer carries its log index" '^[0-9]+$' "$I1"

# A batch: consecutive entries, log_index the first.
openssl dgst -sha256 -binary "$WORK/a1" >"$WORK/b.dg"
D=$(b64 "$WORK/b.dg")
req_json POST "/v1/keys/$KR/sign" "$TA" \
    "{\"digest_algorithm\":\"sha256\",\"digests\":[\"$D\",\"$D\",\"$D\"]}"
check_status "a batch of three" 200
check_eq "a batch's log indexes are consecutive" \
    "$(jget .log_index) $(($(jget .log_index) + 1)) $(($(jget .log_index) + 2))" \
    "$(jget '.log_indexes | map(tostring) | join(" ")')"
check_eq "the batch's indexes follow the first signature's" 1 \
    "$([ "$(jget .log_index)" -gt "$I1" ] && echo 1)"

# An early copy of the database (restored at the end, it must be refused).
server_stop
cp "$SERVER_HOME/signet.db" "$WORK/early.db"
server_start

# The verifier key: /log/vkey on both listeners and `signet log key`.
curl -sS --max-time 10 "$PUBLIC_URL/log/vkey" | tr -d '\n' >"$WORK/vkey"
check_match "the log's key in note verifier form" \
    '^[^+ ]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$' "$(cat "$WORK/vkey")"
check_eq "signet log key prints it" "$(cat "$WORK/vkey")" \
    "$("$SIGNET" log key)"

# The proof within seconds (a checkpoint every 0.5 s while entries come).
for i in $(seq 1 40); do
    curl -sS --max-time 10 -o "$WORK/p1.json" -w '%{http_code}' \
        "$PUBLIC_URL/log/proof/$I1" >"$WORK/p1.code"
    [ "$(cat "$WORK/p1.code")" = 200 ] && break
    sleep 0.1
done
check_eq "the inclusion proof is served within 4 s" 200 "$(cat "$WORK/p1.code")"
jq -r .entry "$WORK/p1.json" | base64 -d >"$WORK/e1"
check_cmd "the Go verifier accepts the proof and its checkpoint" \
    "$LV" proof -vkey "@$WORK/vkey" -proof "$WORK/p1.json" -entry "$WORK/e1"
check_eq "the entry is a signature" "type sign" "$(sed -n 2p "$WORK/e1")"
check_eq "the entry names the key" "key $K" "$(grep '^key ' "$WORK/e1")"
check_eq "the entry has the signature's SHA-256 (openssl)" \
    "sig-sha256 $SIG1" "$(grep '^sig-sha256 ' "$WORK/e1")"
check_eq "the entry has the key's SPKI SHA-256 (openssl)" \
    "spki-sha256 $SPKI" "$(grep '^spki-sha256 ' "$WORK/e1")"
check_eq "the entry has the signed digest" "digest $DG1" \
    "$(grep '^digest ' "$WORK/e1")"
check_match "the entry has the principal (the token)" '^principal [0-9a-f-]{36}$' \
    "$(grep '^principal ' "$WORK/e1")"
flip_byte "$WORK/e1" "$WORK/e1.bad" 40
check_cmd_fails "the Go verifier refuses an altered entry" \
    "$LV" proof -vkey "@$WORK/vkey" -proof "$WORK/p1.json" -entry "$WORK/e1.bad"

# Hostile paths on the public listener: a clear 404, nothing else.
for path in tile/0/x000/001 tile/8/000 tile/0/000.p/0 tile/0/000.p/256 \
    tile/entries/x999/x999/x999/x999/x999/x999/999.p/255 tile/0/999 \
    tile/../checkpoint proof/abc proof/-1 proof/99999999 \
    "proof/0?size=abc" "proof/0?size=99999999" proof/018446744073709551615; do
    code=$(curl -sS --path-as-is --max-time 10 -o "$WORK/h.out" -w '%{http_code}' "$PUBLIC_URL/log/$path")
    check_eq "GET /log/$path is refused with 404" 404 "$code"
done
code=$(curl -sS --max-time 10 -o /dev/null -D "$WORK/h.hdr" -w '%{http_code}' \
    "$PUBLIC_URL/log/proof/99999999")
check_match "a proof not yet checkpointed says when to retry" '^Retry-After: 1' \
    "$(tr -d '\r' <"$WORK/h.hdr" | grep -i '^retry-after')"

# The CLI waits for the proof when asked, and the Go verifier accepts it.
printf 'cli artifact' >"$WORK/a2"
SIGNET_TOKEN=$TA check_cmd "signet sign-digest --log-proof waits for the proof" \
    "$SIGNET" sign-digest --key "$K" --digest-algorithm sha256 \
    --digest "$(openssl dgst -sha256 -r "$WORK/a2" | cut -d' ' -f1)" \
    --log-proof "$WORK/p2.json"
jq -r .entry "$WORK/p2.json" | base64 -d >"$WORK/e2"
check_cmd "the Go verifier accepts the CLI's proof" \
    "$LV" proof -vkey "@$WORK/vkey" -proof "$WORK/p2.json" -entry "$WORK/e2"
check_eq "the proof is of that digest's entry" \
    "digest $(openssl dgst -sha256 -r "$WORK/a2" | cut -d' ' -f1)" \
    "$(grep '^digest ' "$WORK/e2")"

# The whole log, twice, with signatures between: consistent.
check_cmd "the Go verifier: checkpoint, every entry" \
    "$LV" tree -vkey "@$WORK/vkey" -url "$PUBLIC_URL/log" -state "$WORK/go.state"
for n in 1 2 3 4 5 6; do
    printf 'more %s' "$n" >"$WORK/m$n"
    sign "$TA" "$K" "$WORK/m$n"
    sign "$TB" "$KB" "$WORK/m$n"
done
sleep 1.2
check_cmd "the Go verifier: a later checkpoint is consistent (API listener)" \
    "$LV" tree -vkey "@$WORK/vkey" -url "$SERVER_URL/log" -ca "$SERVER_CA" \
    -state "$WORK/go.state"

# signet log verify: first run pins the key; then again after more.
export SIGNET_TOKEN=$TA
check_cmd "the Go verifier: alpha's audit records and the log agree" \
    "$LV" audit -vkey "@$WORK/vkey" -url "$PUBLIC_URL/log" -api "$SERVER_URL" \
    -ca "$SERVER_CA" -token-file <(printf '%s' "$TA")
check_cmd "signet log verify (first run, key pinned)" \
    "$SIGNET" log verify --vkey "$(cat "$WORK/vkey")" --state-file "$WORK/cli.state"
sign "$TA" "$K" "$WORK/a1"
sleep 1.2
check_cmd "signet log verify (consistent with the last run)" \
    "$SIGNET" log verify --state-file "$WORK/cli.state"
check_cmd "signet log verify --full (every entry again, through the old checkpoint)" \
    "$SIGNET" log verify --full --state-file "$WORK/cli.state"
check_cmd_fails "signet log verify refuses another pinned key" \
    "$SIGNET" log verify --state-file "$WORK/cli.state" \
    --vkey "other+00000000+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
unset SIGNET_TOKEN

# signet log monitor: the allow-list holds every signature alpha's CI
# made; one more, unexpected, is reported by its signature hash.
req GET "/v1/audit?limit=1000" "$TA"
jget '.records[] | select(.sig_sha256 != null) | .sig_sha256' >"$WORK/allow"
check_cmd "monitor: nothing unexpected" \
    "$SIGNET" log monitor --subscriber "$A" --allow "$WORK/allow" \
    --vkey "$(cat "$WORK/vkey")" --state-file "$WORK/mon.state"
printf 'not from CI' >"$WORK/rogue"
sign "$TA" "$K" "$WORK/rogue"
jget .signature | base64 -d >"$WORK/rogue.sig"
ROGUE=$(openssl dgst -sha256 -r "$WORK/rogue.sig" | cut -d' ' -f1)
sign "$TB" "$KB" "$WORK/rogue" # another subscriber's: not watched
sleep 1.2
"$SIGNET" log monitor --subscriber "$A" --allow "$WORK/allow" \
    --state-file "$WORK/mon.state" >"$WORK/mon.out" 2>&1
check_eq "monitor exits 1 on an unexpected signature" 1 "$?"
check_eq "monitor reports exactly that one" 1 "$(grep -c '^UNEXPECTED' "$WORK/mon.out")"
check_match "monitor names it by its signature hash" "sig-sha256=$ROGUE" \
    "$(grep '^UNEXPECTED' "$WORK/mon.out")"

# Commitments (log_digests in bravo's default policy): the log shows
# SHA-256("signet-commit/v1\n" || salt || digest), the salt only bravo's
# audit shows; computed here with openssl.
req_json PUT "/v1/subscribers/$B/policy" "$TB" '{"log_digests":"commitment"}'
check_status "bravo's default policy: log_digests commitment" 200
printf 'secret artifact' >"$WORK/c1"
sign "$TB" "$KB" "$WORK/c1"
IC=$(jget .log_index)
DGC=$(openssl dgst -sha256 -r "$WORK/c1" | cut -d' ' -f1)
req GET "/v1/audit?order=desc&limit=5" "$TB"
SALT=$(jget "[.records[] | select(.log_index == $IC)][0].digest_salt")
check_match "bravo's audit record keeps the salt" '^[0-9a-f]{64}$' "$SALT"
COMMIT=$({ printf 'signet-commit/v1\n'; printf '%s%s' "$SALT" "$DGC" | xxd -r -p; } |
    openssl dgst -sha256 -r | cut -d' ' -f1)
for i in $(seq 1 40); do
    curl -sS --max-time 10 -o "$WORK/pc.json" -w '%{http_code}' \
        "$PUBLIC_URL/log/proof/$IC" >"$WORK/pc.code"
    [ "$(cat "$WORK/pc.code")" = 200 ] && break
    sleep 0.1
done
jq -r .entry "$WORK/pc.json" | base64 -d >"$WORK/ec"
check_eq "the log shows the commitment, not the digest" "digest commit:$COMMIT" \
    "$(grep '^digest ' "$WORK/ec")"
check_nomatch "the digest itself is nowhere in the entry" "$DGC" "$(cat "$WORK/ec")"
sleep 1
check_cmd "signet log verify for bravo (the salt is in what the entry commits to)" \
    env SIGNET_TOKEN="$TB" "$SIGNET" log verify --vkey "$(cat "$WORK/vkey")" \
    --state-file "$WORK/cli-b.state"

# ---- tampering with the stopped service's database ----
server_stop
DB="$SERVER_HOME/signet.db"
cp "$DB" "$WORK/pristine.db"
CLI_STATE=$WORK/cli.state
printf '%s' "$TA" >"$WORK/ta.token"
cp "$CLI_STATE" "$WORK/cli.pristine"
cp "$WORK/go.state" "$WORK/go.pristine"

# tamper WHAT SQL [audit]: apply SQL to a copy of the pristine database,
# start, and expect both verifiers to fail (audit: the Go verifier's audit
# check, which compares alpha's audit records with the log).
tamper() {
    local what=$1 sql=$2 go=${3:-1}
    cp "$WORK/pristine.db" "$DB"
    rm -f "$DB-wal" "$DB-shm"
    sqlite3 "$DB" "$sql" || die "sqlite3: $sql"
    cp "$WORK/cli.pristine" "$CLI_STATE"
    cp "$WORK/go.pristine" "$WORK/go.state"
    server_start
    SIGNET_TOKEN=$TA check_cmd_fails "$what: signet log verify --full detects it" \
        "$SIGNET" log verify --full --state-file "$CLI_STATE"
    if [ "$go" = audit ]; then
        check_cmd_fails "$what: the Go verifier detects it" \
            "$LV" audit -vkey "@$WORK/vkey" -url "$PUBLIC_URL/log" \
            -api "$SERVER_URL" -ca "$SERVER_CA" -token-file "$WORK/ta.token"
    else
        check_cmd_fails "$what: the Go verifier detects it" \
            "$LV" tree -vkey "@$WORK/vkey" -url "$PUBLIC_URL/log" \
            -state "$WORK/go.state"
    fi
    server_stop
}

# An audit row of alpha's: deleted, altered, two reordered.
RID=$(sqlite3 "$WORK/pristine.db" \
    "SELECT id FROM audit WHERE subscriber_id='$A' AND action='sign' LIMIT 1")
RID2=$(sqlite3 "$WORK/pristine.db" \
    "SELECT id FROM audit WHERE subscriber_id='$A' AND action='sign' LIMIT 1 OFFSET 1")
tamper "audit row deleted" "DELETE FROM audit WHERE id=$RID" audit
tamper "audit row altered" \
    "UPDATE audit SET digest='00$(printf '%062d' 0)' WHERE id=$RID" audit
tamper "audit rows reordered" \
    "UPDATE audit SET id=-1 WHERE id=$RID;
     UPDATE audit SET id=$RID WHERE id=$RID2;
     UPDATE audit SET id=$RID2 WHERE id=-1" audit
# Log rows: an entry altered, two entries swapped, an entry deleted.
LI=$(sqlite3 "$WORK/pristine.db" "SELECT log_index FROM audit WHERE id=$RID")
tamper "log entry altered" \
    "UPDATE log_entries SET data=CAST('signet/entry/v1' || char(10) || 'type sigm' AS BLOB) WHERE idx=$LI"
tamper "log entries reordered" \
    "UPDATE log_entries SET idx=-1 WHERE idx=$LI;
     UPDATE log_entries SET idx=$LI WHERE idx=$((LI + 1));
     UPDATE log_entries SET idx=$((LI + 1)) WHERE idx=-1"
tamper "log entry deleted" "DELETE FROM log_entries WHERE idx=$LI"

# A stored tree hash altered: the service finds its tree no longer
# matches its last checkpoint and signs nothing more.
cp "$WORK/pristine.db" "$DB"
sqlite3 "$DB" "UPDATE log_entries SET leaf=zeroblob(32) WHERE idx=$LI"
server_start
req GET /healthz -
check_status "healthz reports the inconsistent log" 503
check_match "healthz says why" "log inconsistent" "$BODY"
openssl dgst -sha256 -binary "$WORK/a1" >"$WORK/s.dg"
req_json POST "/v1/keys/$K/sign" "$TA" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/s.dg")\"}"
check_status "no signature leaves without its log entry" 503
"$LV" tree -vkey "@$WORK/vkey" -url "$PUBLIC_URL/log" >"$WORK/lv.out" 2>&1
check_eq "the Go verifier detects the altered tree (the stopped log still serves its tiles)" 1 "$?"
check_match "it names the tile, not a missing one" "FAIL: .*tile" "$(cat "$WORK/lv.out")"
server_stop

# The anchor beside the database: the checkpoints deleted, or an older
# copy of the database restored, would let the log sign a second tree of
# a size it signed already: the service refuses to.
anchor_refused() { # anchor_refused WHAT
    server_start
    req GET /healthz -
    check_status "$1: the log is stopped" 503
    req_json POST "/v1/keys/$K/sign" "$TA" \
        "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/s.dg")\"}"
    check_status "$1: nothing is signed" 503
    server_stop
}
cp "$WORK/pristine.db" "$DB"
sqlite3 "$DB" "DELETE FROM log_checkpoints"
anchor_refused "checkpoints deleted"
cp "$WORK/early.db" "$DB"
rm -f "$DB-wal" "$DB-shm"
anchor_refused "an older database restored"

# A forged tail: record $RID altered and a new entry for it appended
# (with its leaf hash) while the service was stopped. The service adopts
# the consistent tail, but signet log verify refuses a signature record
# with two entries.
cp "$WORK/pristine.db" "$DB"
N=$(sqlite3 "$DB" "SELECT max(idx) + 1 FROM log_entries")
sqlite3 "$DB" "UPDATE audit SET detail='forged' WHERE id=$RID"
printf 'signet/entry/v1\ntype record\ntime 2026-01-01T00:00:00Z\nsubscriber %s\naudit-id %s\naudit-sha256 %064d\nkey -\nspki-sha256 -\ndigest-alg -\ndigest -\nscheme -\nsig-sha256 -\nprincipal -\ndetail -\n' \
    "$A" "$RID" 0 >"$WORK/forged"
LEAF=$({ printf '\000'; cat "$WORK/forged"; } | openssl dgst -sha256 -r | cut -d' ' -f1)
# (the original entry's text kept, so that the altered row does not
# change what the log serves for it: only the second entry can tell)
check_eq "the record altered is the first signature's" "$I1" "$LI"
sqlite3 "$DB" "UPDATE log_entries SET data=readfile('$WORK/e1') WHERE idx=$LI;
    INSERT INTO log_entries (idx, audit_id, data, leaf)
    VALUES ($N, $RID, readfile('$WORK/forged'), X'$LEAF')"
cp "$WORK/cli.pristine" "$CLI_STATE"
server_start
SIGNET_TOKEN=$TA "$SIGNET" log verify --full --state-file "$CLI_STATE" >"$WORK/v.out" 2>&1
check_eq "a forged second entry for a signature record: signet log verify fails" 1 "$?"
check_match "it says why" "has 2 log entries" "$(cat "$WORK/v.out")"
server_stop
finish
