#!/usr/bin/env bash
# Refusals are counted, not written one by one (issue 14, "denied records"):
#  - 300 requests with a revoked token: all 401; the audit table gains a
#    handful of rows (one per token, reason and minute) whose counts
#    " (xN)" add up to 300, written within a few seconds by themselves
#    (read with the sqlite3 CLI) and shown by GET /v1/audit;
#  - 300 probes of another subscriber's key: all 404 and, in the owner's
#    log, a handful of rows counting 300;
#  - a probe of another subscriber's key answers in the time of a probe
#    of a missing key (medians of 200 each, interleaved; within 1.5x + 0.5 ms).
. "$(dirname "$0")/lib.sh"
# SQLite's file and triggers are read and altered here: SQLite only.
SERVER_STORE=sqlite

command -v sqlite3 >/dev/null || die "sqlite3 is not installed"
server_start
A=$(new_subscriber alpha) || exit 1
B=$(new_subscriber bravo) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1
KA=$(new_key "$TA" ecdsa-p256 "alpha key") || exit 1
TR=$(new_token "$A" '"roles":["sign"]' "$TA") || exit 1
req GET /v1/whoami "$TR"
TR_ID=$(jget .token_id)
req GET /v1/whoami "$TB"
TB_ID=$(jget .token_id)
req DELETE "/v1/tokens/$TR_ID" "$TA"
[ "$STATUS" = 200 ] || [ "$STATUS" = 204 ] || die "revoke: HTTP $STATUS $BODY"
DB=$SERVER_HOME/signet.db

# many TOKEN METHOD PATH N: N requests on one connection (curl's URL
# ranges); prints "status seconds" per request.
many() {
    curl -sS --max-time 120 --cacert "$SERVER_CA" -X "$2" \
        -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        --data-binary '{}' -o /dev/null -w '%{http_code} %{time_total}\n' \
        "$SERVER_URL$3?n=[1-$4]"
}
# counted WHERE: "rows sum" of the denied rows matching WHERE, counts
# read from the " (xN)" at the end of the detail.
counted() {
    sqlite3 "$DB" "SELECT count(*), coalesce(sum(CASE WHEN detail LIKE '% (x%)'
        THEN CAST(rtrim(substr(detail, instr(detail, ' (x') + 3), ')') AS INTEGER)
        ELSE 1 END), 0) FROM audit WHERE action = 'denied' AND $1" | tr '|' ' '
}
# settle WHERE N: waits (up to 10 s) until the rows count N; prints them.
settle() {
    local got i
    for i in $(seq 1 50); do
        got=$(counted "$1")
        [ "${got#* }" = "$2" ] && break
        sleep 0.2
    done
    echo "$got"
}

# ---- a revoked token, 300 times ----
codes=$(many "$TR" GET /v1/whoami 300 | cut -d' ' -f1 | sort | uniq -c | tr -s ' ')
check_eq "300 requests with a revoked token: all 401" " 300 401" "$codes"
got=$(settle "token_id = '$TR_ID'" 300)
check_eq "the revoked token's refusals add up to 300, by themselves" 300 "${got#* }"
check_match "in a handful of rows, not 300 (rows: ${got% *})" '^[1-3]$' "${got% *}"
check_match "a row says why and how many" 'token revoked \(x[0-9]+\)' \
    "$(sqlite3 "$DB" "SELECT detail FROM audit WHERE token_id = '$TR_ID'")"
req GET "/v1/audit?limit=1000" "$TA"
check_eq "A's GET /v1/audit counts the 300 too" 300 \
    "$(jget "[.records[] | select(.action == \"denied\" and .token == \"$TR_ID\") | ((.detail | capture(\" [(]x(?<n>[0-9]+)[)]\$\") | .n) // \"1\" | tonumber)] | add")"

# ---- another subscriber's key, 300 times ----
codes=$(many "$TB" POST "/v1/keys/$KA/sign" 300 | cut -d' ' -f1 | sort | uniq -c | tr -s ' ')
check_eq "300 probes of A's key by B: all 404" " 300 404" "$codes"
got=$(settle "token_id = '$TB_ID' AND key_id = '$KA'" 300)
check_eq "A's log counts B's 300 probes" 300 "${got#* }"
check_match "in a handful of rows (rows: ${got% *})" '^[1-3]$' "${got% *}"

# ---- a foreign key answers as fast as a missing one ----
MISSING=$(rand_uuid)
: >foreign.t
: >missing.t
cd "$WORK" || die "cd"
for round in 1 2 3 4; do
    many "$TB" POST "/v1/keys/$KA/sign" 50 | cut -d' ' -f2 >>foreign.t
    many "$TB" POST "/v1/keys/$MISSING/sign" 50 | cut -d' ' -f2 >>missing.t
done
median() { sort -n "$1" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
MF=$(median foreign.t)
MM=$(median missing.t)
log "median of 200: another's key ${MF}s, a missing key ${MM}s"
check_eq "200 timings of each" "200 200" "$(wc -l <foreign.t) $(wc -l <missing.t)"
check_eq "another's key answers within 1.5x + 0.5 ms of a missing key ($MF s vs $MM s)" yes \
    "$(awk -v f="$MF" -v m="$MM" 'BEGIN {print (f <= 1.5 * m + 0.0005) ? "yes" : "no"}')"
check_healthy "the floods"

finish
