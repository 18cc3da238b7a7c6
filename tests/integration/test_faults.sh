#!/usr/bin/env bash
# Failure modes, with a real SoftHSM2 behind a fault-injecting PKCS#11 shim
# (tests/fault/p11shim.c) and a real SQLite database:
# - a module that reports a key as not local / extractable: the key is
#   destroyed (pkcs11-tool sees nothing), the request fails, nothing stays;
# - a module whose C_Sign fails: 503, an audit record, the service serves on;
# - a stale cached key handle: signetd looks the key up again and signs;
# - an audit log that refuses writes: 503 and no signature leaves;
# - a stuck HSM does not hang the shutdown: signetd gives up after its 30 s
#   drain and exits 1, and no signature leaves;
# - everything survives a restart.
# Usage: test_faults.sh SIGNETD SIGNET SHIM_MODULE
. "$(dirname "$0")/lib.sh"
# SQLite's file and triggers are read and altered here: SQLite only.
SERVER_STORE=sqlite
SHIM=${3:?usage: test_faults.sh SIGNETD SIGNET SHIM}
[ -f "$SHIM" ] || die "no shim module at $SHIM"

server_init
set_conf hsm.module "$SHIM"

# ---- protection facts the module reports are judged ----
for fault in not_local extractable; do
    export SIGNET_P11SHIM_FAULTS=$fault
    server_start
    SUB=$(new_subscriber "acme-$fault") || exit 1
    TOK=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1
    req_json POST /v1/keys "$TOK" '{"algorithm":"ecdsa-p256","label":"x"}'
    check_error "$fault: key generation refused" 503 unavailable
    check_match "$fault: message names the facts" 'protection facts' "$(jget .message)"
    check_eq "$fault: no key listed" 0 "$(key_count "$TOK")"
    objs=$(p11 --token-label "$(sub_label "$SUB")" --login --pin "$(sub_pin "$SUB")" \
        --list-objects 2>&1)
    check_nomatch "$fault: pkcs11-tool finds no private key left" 'Private Key Object' "$objs"
    check_nomatch "$fault: pkcs11-tool finds no public key left" 'Public Key Object' "$objs"
    req GET "/v1/audit?limit=10" "$TOK"
    check_eq "$fault: audit records the rejection" rejected \
        "$(jget '[.records[] | select(.action == "key_generate")][0].result')"
    check_healthy "$fault"
    server_stop
done

# ---- the HSM fails to sign ----
# The key (and its attestation, signed in the HSM too) is made first.
export SIGNET_P11SHIM_FAULTS=
server_start
SUB=$(new_subscriber acme) || exit 1
TOK=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1
KEY=$(new_key "$TOK" ecdsa-p256) || exit 1
server_stop
export SIGNET_P11SHIM_FAULTS=sign_error
server_start
head -c 32 /dev/urandom >"$WORK/d"
req_json POST "/v1/keys/$KEY/sign" "$TOK" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d")\"}"
check_error "HSM sign failure -> 503" 503 unavailable
check_eq "no signature in the answer" null "$(jget .signature)"
req GET "/v1/audit?key=$KEY" "$TOK"
check_eq "audit records the HSM error" error \
    "$(jget '[.records[] | select(.action == "sign")][0].result')"
check_healthy "an HSM failure"
server_stop

# ---- a stale key handle is looked up again ----
export SIGNET_P11SHIM_FAULTS=stale_handle_once
server_start
req_json POST "/v1/keys/$KEY/sign" "$TOK" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d")\"}"
check_status "sign after CKR_OBJECT_HANDLE_INVALID" 200
unb64 "$(jget .signature)" "$WORK/sig"
check_cmd "openssl verifies the signature after the re-lookup" \
    openssl pkeyutl -verify -pubin -inkey "$WORK/pub.$KEY.pem" \
    -sigfile "$WORK/sig" -in "$WORK/d" -pkeyopt digest:sha256

# ---- no audit record, no signature ----
sqlite3 "$SERVER_HOME/signet.db" \
    "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk full'); END;" ||
    die "cannot install the trigger"
req_json POST "/v1/keys/$KEY/sign" "$TOK" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d")\"}"
check_error "audit log refuses writes -> 503" 503 unavailable
check_eq "no signature without an audit record" null "$(jget .signature)"
req_json POST "/v1/keys/$KEY/sign" "$TOK" \
    "{\"digest_algorithm\":\"sha256\",\"digests\":[\"$(b64 "$WORK/d")\",\"$(b64 "$WORK/d")\"]}"
check_error "batch: audit log refuses writes -> 503" 503 unavailable
check_eq "batch: no signatures" null "$(jget .signatures)"
check_healthy "audit failures"
sqlite3 "$SERVER_HOME/signet.db" "DROP TRIGGER no_audit;"
req_json POST "/v1/keys/$KEY/sign" "$TOK" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d")\"}"
check_status "signing resumes once the audit log accepts writes" 200
server_stop

# ---- a stuck HSM: the shutdown gives up after its drain ----
export SIGNET_P11SHIM_FAULTS=sign_hang
server_start
curl -sS --max-time 120 --cacert "$SERVER_CA" -H "Authorization: Bearer $TOK" \
    -H 'Content-Type: application/json' \
    --data-binary "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d")\"}" \
    -o "$WORK/hang.json" -w '%{http_code}' "$SERVER_URL/v1/keys/$KEY/sign" \
    >"$WORK/hang.code" 2>/dev/null &
hang=$!
sleep 1
t0=$(date +%s)
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
rc=$?
t1=$(date +%s)
SERVER_PID=
wait "$hang"
check_eq "a stuck signature: signetd exits 1 after its drain" 1 "$rc"
check_cmd "... within 45 s of SIGTERM ($((t1 - t0)) s)" test $((t1 - t0)) -le 45
check_cmd "... not before the 30 s drain ($((t1 - t0)) s)" test $((t1 - t0)) -ge 29
check_eq "the client got no signature" "" "$(jq -r '.signature // empty' "$WORK/hang.json" 2>/dev/null)"
check_match "signetd says why" 'still in flight after 30 s' \
    "$(cat "$WORK"/signetd.*.log)"

# ---- restart: subscribers, tokens, keys and the audit log persist ----
unset SIGNET_P11SHIM_FAULTS
set_conf hsm.module "$P11_MODULE"
server_start
req GET "/v1/keys/$KEY" "$TOK"
check_status "key visible after restart" 200
req_json POST "/v1/keys/$KEY/sign" "$TOK" \
    "{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d")\"}"
check_status "signing after restart" 200
unb64 "$(jget .signature)" "$WORK/sig2"
check_cmd "openssl verifies the signature after restart" \
    openssl pkeyutl -verify -pubin -inkey "$WORK/pub.$KEY.pem" \
    -sigfile "$WORK/sig2" -in "$WORK/d" -pkeyopt digest:sha256
req GET "/v1/audit?key=$KEY&limit=1000" "$TOK"
check_eq "audit: one ok signature per successful call (3)" 3 \
    "$(jget '[.records[] | select(.action == "sign" and .result == "ok")] | length')"
server_stop
finish
