#!/usr/bin/env bash
# signetd serve as three processes (issue 20): the supervisor, the keeper
# (the only one with the PKCS#11 module, the PINs and the HSM sessions)
# and the front end (network, database, parsing), judged from outside:
#  - the front end's view of HOME/hsm is empty (/proc/PID/root), its PIN
#    files and token files cannot be opened there, it has no capability
#    but CAP_NET_BIND_SERVICE and no_new_privs (/proc/PID/status); the
#    keeper sees the tokens;
#  - no PIN is in the front end's memory (memscan.py reads it through
#    /proc/PID/mem, as a core would show it), while a string it must hold
#    (its home's path) is found there: the scan works;
#  - kill -9 of the keeper under load: clients get 200 or 503, never
#    another status; the supervisor starts a new keeper and signing
#    resumes by itself; every signature a client received has its audit
#    record (sqlite3/psql), and a sample verifies with openssl;
#  - kill -9 of the front end: the supervisor starts a new one, the keeper
#    is the same process; SIGTERM stops all three, exit 0;
#  - a time-stamp (anonymous work, nice 15 in the front end) is signed by
#    a keeper thread at the keeper's nice + 15 (/proc/PID/task/*/stat);
#  - while one subscriber signs flat out and another signs too, the busy
#    one's signatures are made by a keeper thread at the keeper's nice + 5
#    (tenants.py), and every request of both is answered 200.
. "$(dirname "$0")/lib.sh"
command -v xxd >/dev/null || die "xxd is not installed"

server_start
SUB=$(new_subscriber "split-acme-$RANDOM") || exit 1
TOK=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1
KEY=$(new_key "$TOK" ecdsa-p256) || exit 1

KEEPER=$(child_named signetd-keeper)
FRONT=$(child_named signetd-front)
check_ne "a keeper process" "" "$KEEPER"
check_ne "a front end process" "" "$FRONT"

# ---- what the front end can reach ----
check_cmd "the host sees the subscriber's PIN file" test -s "$SERVER_HOME/hsm/pins/$SUB.pin"
check_eq "the front end's HOME/hsm is empty" "" "$(ls -A "/proc/$FRONT/root$SERVER_HOME/hsm" 2>&1)"
check_cmd_fails "the front end cannot open the subscriber's PIN file" \
    cat "/proc/$FRONT/root$SERVER_HOME/hsm/pins/$SUB.pin"
TOKFILE=$(find "$SERVER_HOME/hsm" -name '*.object' | head -1)
check_ne "the host sees SoftHSM2's token files" "" "$TOKFILE"
check_cmd_fails "the front end cannot open a token file" cat "/proc/$FRONT/root$TOKFILE"
check_cmd "the keeper sees the token files" test -s "/proc/$KEEPER/root$TOKFILE"
check_eq "the front end keeps only CAP_NET_BIND_SERVICE" "0000000000000400" \
    "$(awk '/^CapEff:/ { print $2 }' "/proc/$FRONT/status")"
check_eq "... and can never regain one (bounding set)" "0000000000000400" \
    "$(awk '/^CapBnd:/ { print $2 }' "/proc/$FRONT/status")"
check_eq "the front end has no_new_privs" 1 "$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$FRONT/status")"
check_eq "the front end is not dumpable (core limit 0)" "0 0" \
    "$(awk '/^Max core file size/ { print $5, $6 }' "/proc/$FRONT/limits")"

# ---- anonymous work is served at a lower priority in the keeper too ----
# A time-stamp runs on the front end's anonymous thread (nice 15): the
# keeper thread that makes its signature takes that nice (header byte 6)
# and keeps it while its link is idle. Each thread's nice is
# /proc/PID/task/TID/stat's 19th field (the 17th after the command).
nices() { # nices PID: "TID NICE" lines, one per thread
    local t
    for t in /proc/"$1"/task/*; do
        echo "${t##*/} $(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{ print $17 }')"
    done | sort
}
KBASE=$(sed 's/.*) //' "/proc/$KEEPER/stat" | awk '{ print $17 }')
KLOW=$((KBASE + 15 > 19 ? 19 : KBASE + 15))
echo "time-stamp me" >"$WORK/ts.data"
openssl ts -query -data "$WORK/ts.data" -sha256 -cert -out "$WORK/q.tsq" 2>/dev/null ||
    die "openssl ts -query failed"
nices "$KEEPER" >"$WORK/nices.before"
curl -sS --max-time 30 -o "$WORK/r.tsr" -w '%{http_code}' \
    -H 'Content-Type: application/timestamp-query' \
    --data-binary @"$WORK/q.tsq" "$PUBLIC_URL/tsa" >"$WORK/ts.code" 2>&1
check_eq "a time-stamp is answered" 200 "$(cat "$WORK/ts.code")"
check_match "... granted (openssl ts -reply)" 'Status: Granted' \
    "$(openssl ts -reply -in "$WORK/r.tsr" -text 2>/dev/null)"
nices "$KEEPER" >"$WORK/nices.after"
# threads new or changed since, at KLOW, other than the keeper's main one
MOVED=$(comm -13 "$WORK/nices.before" "$WORK/nices.after" |
    awk -v low="$KLOW" -v main="$KEEPER" '$2 == low && $1 != main { print $1 }')
if [ "$KLOW" = "$KBASE" ]; then
    log "the keeper runs at nice $KBASE: a lower nice cannot be seen; skipped"
else
    check_ne "its signature was made by a keeper thread that went to nice $KLOW (keeper's $KBASE + 15)" \
        "" "$MOVED"
fi

# ---- a busy subscriber yields the keeper's CPU to another ----
# A signs on 6 connections at once (its lane has requests queued), B one
# request at a time: A's signatures ask the keeper for nice 5 (pool.h,
# nice_hint). No other work asks for 5 (key generation asks for 10,
# anonymous work for 15), and a link keeps its nice while idle.
SUB_B=$(new_subscriber "split-bravo-$RANDOM") || exit 1
TOK_B=$(new_token "$SUB_B" '"roles":["manage","sign"]') || exit 1
KEY_B=$(new_key "$TOK_B" ecdsa-p256) || exit 1
KBUSY=$((KBASE + 5 > 19 ? 19 : KBASE + 5))
nices "$KEEPER" >"$WORK/nices.before"
log "keeper threads at nice $KBUSY before: $(awk -v low="$KBUSY" '$2 == low' "$WORK/nices.before" | wc -l)"
/usr/bin/python3 "$(dirname "$0")/tenants.py" --port "$SERVER_PORT" --ca "$SERVER_CA" \
    --a "$TOK,$KEY" --b "$TOK_B,$KEY_B" --seconds 4 >"$WORK/tenants.out" 2>&1
log "$(tr '\n' ' ' <"$WORK/tenants.out")"
check_match "A's signatures were all answered 200" '^A 200=[0-9]+$' "$(grep '^A' "$WORK/tenants.out")"
check_match "B's signatures were all answered 200" '^B 200=[0-9]+$' "$(grep '^B' "$WORK/tenants.out")"
nices "$KEEPER" >"$WORK/nices.after"
# (a thread already there before would count too: nothing before this
# section asks for 5, as the line logged above shows)
BUSY=$(awk -v low="$KBUSY" -v main="$KEEPER" '$2 == low && $1 != main { print $1 }' \
    "$WORK/nices.after")
if [ "$KBUSY" = "$KBASE" ]; then
    log "the keeper runs at nice $KBASE: a lower nice cannot be seen; skipped"
else
    check_ne "A's signatures were made by a keeper thread at nice $KBUSY (keeper's $KBASE + 5)" \
        "" "$BUSY"
fi

# ---- no PIN in the front end's memory ----
req_json POST "/v1/keys/$KEY/sign" "$TOK" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(head -c 32 /dev/urandom | base64 -w0)\"}"
check_status "a signature before the scan" 200
SVC_PIN=$(sed -n 's/^hsm\.service_pin_file *= *//p' "$SERVER_HOME/signetd.conf" | head -1)
[ -n "$SVC_PIN" ] || SVC_PIN=hsm/service.pin
case $SVC_PIN in /*) ;; *) SVC_PIN=$SERVER_HOME/$SVC_PIN ;; esac
check_cmd "the service token's PIN file is there" test -s "$SVC_PIN"
cp "$SVC_PIN" "$WORK/needle.service-pin"
cp "$SERVER_HOME/hsm/pins/$SUB.pin" "$WORK/needle.subscriber-pin"
printf '%s' "$SERVER_HOME" >"$WORK/needle.home-path"
/usr/bin/python3 "$(dirname "$0")/memscan.py" "$FRONT" "$WORK"/needle.* >"$WORK/scan" 2>&1
log "$(tail -1 "$WORK/scan")"
check_match "the scan finds what the front end holds (its home's path)" \
    "found $WORK/needle.home-path" "$(cat "$WORK/scan")"
check_match "the service token's PIN is not in the front end's memory" \
    "absent $WORK/needle.service-pin" "$(cat "$WORK/scan")"
check_match "the subscriber's PIN is not in the front end's memory" \
    "absent $WORK/needle.subscriber-pin" "$(cat "$WORK/scan")"

# ---- kill -9 of the keeper under load ----
client() { # client N SECONDS: signs unique digests; records codes
    local n=$1 end=$(($(date +%s) + $2)) i=0 d b out code
    while [ "$(date +%s)" -lt "$end" ]; do
        i=$((i + 1))
        d=$(printf '%s-%s-%s' "$n" "$i" "$RANDOM$RANDOM" | openssl dgst -sha256 -binary | od -An -tx1 | tr -d ' \n')
        b=$(printf '%s' "$d" | xxd -r -p | base64 -w0)
        out=$(curl -sS --max-time 20 --cacert "$SERVER_CA" \
            -H "Authorization: Bearer $TOK" -H 'Content-Type: application/json' \
            -d "{\"digest_algorithm\":\"sha256\",\"digest\":\"$b\"}" \
            -w '\n%{http_code}' "$SERVER_URL/v1/keys/$KEY/sign" 2>/dev/null)
        code=${out##*$'\n'}
        echo "$code" >>"$WORK/codes.$n"
        [ "$code" = 200 ] &&
            printf '%s %s\n' "$d" "$(printf '%s' "${out%$'\n'*}" | jq -r .signature)" >>"$WORK/received.$n"
    done
}
for n in 1 2 3 4; do client "$n" 12 & EXTRA_PIDS+=($!); done
sleep 3
kill -KILL "$KEEPER"
log "keeper $KEEPER killed"
sleep 2
req GET /healthz -
log "healthz during the gap or after: $STATUS"
for p in "${EXTRA_PIDS[@]}"; do wait "$p" 2>/dev/null; done
EXTRA_PIDS=()
cat "$WORK"/codes.* >"$WORK/codes"
log "answers: $(sort "$WORK/codes" | uniq -c | tr '\n' ' ')"
check_eq "every answer under the keeper's death was 200 or 503" "" \
    "$(grep -v -x -e 200 -e 503 "$WORK/codes" | sort -u | tr '\n' ' ')"
NEWKEEPER=$(child_named signetd-keeper)
check_ne "the supervisor started a new keeper" "" "$NEWKEEPER"
check_ne "... another process" "$KEEPER" "$NEWKEEPER"
check_match "the supervisor said so" "the keeper exited" "$(cat "$WORK"/signetd.*.log)"
req_json POST "/v1/keys/$KEY/sign" "$TOK" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(head -c 32 /dev/urandom | base64 -w0)\"}"
check_status "signing resumed by itself" 200

# ---- the gap itself, held open: the supervisor stopped, the keeper killed ----
kill -STOP "$SERVER_PID"
kill -KILL "$NEWKEEPER"
sleep 0.5
T0=$(date +%s%N)
req_json POST "/v1/keys/$KEY/sign" "$TOK" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(head -c 32 /dev/urandom | base64 -w0)\"}"
T1=$(date +%s%N)
check_status "while no keeper runs, a signature is refused with 503" 503
check_cmd "... at once (under 5 s)" test $(((T1 - T0) / 1000000)) -lt 5000
req GET /healthz -
check_status "/healthz says 503 too" 503
check_match "... naming the HSM" 'hsm unreachable' "$BODY"
kill -CONT "$SERVER_PID"
for _ in $(seq 1 100); do
    req GET /healthz -
    [ "$STATUS" = 200 ] && break
    sleep 0.1
done
check_status "the keeper is back by itself once the supervisor runs" 200
NEWKEEPER=$(child_named signetd-keeper)

cat "$WORK"/received.* >"$WORK/received" 2>/dev/null
db_query "SELECT digest FROM audit WHERE action = 'sign' AND result = 'ok'" |
    sort -u >"$WORK/recorded"
cut -d' ' -f1 "$WORK/received" | sort -u >"$WORK/received.digests"
check_ne "clients received signatures" 0 "$(wc -l <"$WORK/received.digests")"
check_eq "every received signature has its audit record" 0 \
    "$(comm -23 "$WORK/received.digests" "$WORK/recorded" | wc -l)"
tail -n 3 "$WORK/received" | while read -r d sig; do
    printf '%s' "$d" | xxd -r -p >"$WORK/d.bin"
    printf '%s' "$sig" | base64 -d >"$WORK/s.bin"
    check_cmd "openssl verifies a signature from the run" \
        openssl pkeyutl -verify -pubin -inkey "$WORK/pub.$KEY.pem" \
        -sigfile "$WORK/s.bin" -in "$WORK/d.bin" -pkeyopt digest:sha256
done

# ---- kill -9 of the front end: the keeper is not touched ----
kill -KILL "$FRONT"
for _ in $(seq 1 100); do
    NEWFRONT=$(child_named signetd-front)
    [ -n "$NEWFRONT" ] && [ "$NEWFRONT" != "$FRONT" ] && check_healthy >/dev/null 2>&1 && break
    sleep 0.2
done
check_ne "the supervisor started a new front end" "$FRONT" "$NEWFRONT"
check_eq "the keeper is the same process" "$NEWKEEPER" "$(child_named signetd-keeper)"
req_json POST "/v1/keys/$KEY/sign" "$TOK" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(head -c 32 /dev/urandom | base64 -w0)\"}"
check_status "the new front end signs" 200
server_stop
check_cmd_fails "no keeper is left after SIGTERM" kill -0 "$NEWKEEPER"
finish
