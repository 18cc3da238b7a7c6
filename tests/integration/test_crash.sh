#!/usr/bin/env bash
# No signature without its durable audit record, under load and a crash:
# four clients sign unique digests as fast as they can; every digest whose
# signature a client received is written down; signetd is killed with
# SIGKILL mid-flight. After a restart the audit log must hold a record of
# every one of those digests (group commit must not answer before its
# commit). Verdict: sqlite3 (or psql) over the database, and openssl over a sample
# of the received signatures.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || die "sqlite3 is not installed"
[ -z "${SIGNET_TEST_PG_DIR:-}" ] || command -v psql >/dev/null ||
    die "psql is not installed"

server_start
SUB=$(new_subscriber acme) || exit 1
TOK=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1
KEY=$(new_key "$TOK" ecdsa-p256) || exit 1

client() { # client N: signs until the server goes away
    local n=$1 i=0 d b
    while :; do
        i=$((i + 1))
        d=$(printf '%s-%s-%s' "$n" "$i" "$RANDOM$RANDOM" | openssl dgst -sha256 -binary | od -An -tx1 | tr -d ' \n')
        b=$(printf '%s' "$d" | xxd -r -p | base64 -w0)
        out=$(curl -sS --max-time 10 --cacert "$SERVER_CA" \
            -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
            -d "{\"digest_algorithm\":\"sha256\",\"digest\":\"$b\"}" \
            -w '\n%{http_code}' "$SERVER_URL/v1/keys/$KEY/sign" 2>/dev/null) || return 0
        [ "${out##*$'\n'}" = 200 ] || return 0
        printf '%s %s\n' "$d" "$(printf '%s' "${out%$'\n'*}" | jq -r .signature)" >>"$WORK/received.$n"
    done
}
command -v xxd >/dev/null || die "xxd is not installed"
for n in 1 2 3 4; do client "$n" & EXTRA_PIDS+=($!); done
sleep 3
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=
for p in "${EXTRA_PIDS[@]}"; do wait "$p" 2>/dev/null; done
EXTRA_PIDS=()
cat "$WORK"/received.* >"$WORK/received" 2>/dev/null
RECEIVED=$(wc -l <"$WORK/received")
log "signatures received before the crash: $RECEIVED"
check_ne "clients received signatures before the crash" 0 "$RECEIVED"

db_query "SELECT digest FROM audit WHERE action = 'sign' AND result = 'ok'" \
    | sort -u >"$WORK/recorded"
cut -d' ' -f1 "$WORK/received" | sort -u >"$WORK/received.digests"
MISSING=$(comm -23 "$WORK/received.digests" "$WORK/recorded" | wc -l)
check_eq "every received signature has its audit record after SIGKILL" 0 "$MISSING"

# The received signatures are real: openssl checks a sample of them.
head -n 5 "$WORK/received" | while read -r d sig; do
    printf '%s' "$d" | xxd -r -p >"$WORK/d.bin"
    printf '%s' "$sig" | base64 -d >"$WORK/s.bin"
    check_cmd "openssl verifies a signature received before the crash" \
        openssl pkeyutl -verify -pubin -inkey "$WORK/pub.$KEY.pem" \
        -sigfile "$WORK/s.bin" -in "$WORK/d.bin" -pkeyopt digest:sha256
done

# And the service comes back with the same records.
server_start
req GET "/v1/audit?key=$KEY&limit=1000" "$TOK"
check_status "audit log readable after the crash" 200
server_stop
finish
