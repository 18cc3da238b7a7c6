#!/usr/bin/env bash
# Free space (issue 14, "Storage"): the database lives on a 16 MiB tmpfs
# this test mounts (as root), with storage.min_free = 8M (hard floor 2M).
#  - with room: time-stamps, signing and /healthz ("storage": "ok") work;
#  - a filler file leaves ~5 MiB (below the watermark): time-stamps (RFC
#    3161 and Authenticode) get 503 with Retry-After, while authenticated
#    signing goes on and /healthz answers 200 with "storage": "low";
#  - a bigger filler leaves ~1 MiB (below the floor): signing gets 503 too
#    and /healthz answers 503 saying storage is degraded;
#  - the filler removed, all of it recovers.
# The time-stamp replies are judged by `openssl ts -reply`.
. "$(dirname "$0")/lib.sh"
# SQLite's file and triggers are read and altered here: SQLite only.
SERVER_STORE=sqlite

VOL=$WORK/vol
mkdir -p "$VOL" || die "mkdir $VOL"
mount -t tmpfs -o size=16m,mode=0700 signet-test "$VOL" ||
    die "cannot mount a tmpfs on $VOL (the test needs root)"

# The server stops before the volume is unmounted; then the usual cleanup.
vol_cleanup() {
    local rc=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    umount "$VOL" 2>/dev/null || umount -l "$VOL" 2>/dev/null
    (exit $rc)
    cleanup
}
trap vol_cleanup EXIT

server_init
# The database moves onto the small volume (init wrote it in the home).
for f in signet.db signet.db-wal signet.db-shm; do
    [ -f "$SERVER_HOME/$f" ] && { mv "$SERVER_HOME/$f" "$VOL/$f" || die "mv $f"; }
done
set_conf database "$VOL/signet.db"
set_conf storage.min_free 8M
server_start

S=$(new_subscriber storage) || exit 1
T=$(new_token "$S" '"roles":["manage","sign"]') || exit 1
K=$(new_key "$T" ecdsa-p256 "storage key") || exit 1
cd "$WORK" || die "cd $WORK"
printf 'time-stamp me' >data.bin
openssl ts -query -data data.bin -sha256 -cert -out q.tsq 2>/dev/null ||
    die "openssl ts -query"
openssl dgst -sha256 -binary data.bin >d.bin
SIGN_BODY="{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 d.bin)\"}"

# tsa [PATH] [CONTENT_TYPE] [BODY_FILE]: sets TSA_STATUS, TSA_RETRY (the
# Retry-After header or ""); the reply is in r.tsr.
tsa() {
    local out
    out=$(curl -sS --max-time 30 -D hdr.txt -o r.tsr -w '%{http_code}' \
        -H "Content-Type: ${2:-application/timestamp-query}" \
        --data-binary "@${3:-q.tsq}" "$PUBLIC_URL${1:-/tsa}" 2>&1)
    TSA_STATUS=$out
    TSA_RETRY=$(sed -n 's/^[Rr]etry-[Aa]fter: *\([0-9]*\).*/\1/p' hdr.txt | tr -d '\r')
}
# health: sets STATUS and BODY of /healthz.
health() { req GET /healthz -; }
# fill_to BYTES_FREE: a filler file leaving about that much free on $VOL.
fill_to() {
    local avail
    rm -f "$VOL/filler"
    avail=$(df --output=avail -B1 "$VOL" | tail -n1 | tr -d ' ')
    [ "$avail" -gt "$1" ] || die "only $avail bytes free on $VOL"
    dd if=/dev/zero of="$VOL/filler" bs=64K count=$(((avail - $1) / 65536)) \
        status=none || die "dd filler"
    log "free on $VOL: $(df --output=avail -B1 "$VOL" | tail -n1 | tr -d ' ') bytes"
    # The server measures at most once a second.
    sleep 1.2
}
# An Authenticode request: base64 of a DER PKCS#7 with some content.
printf 'MIIBOQYKKwYBBAGCNwMCATCCASkGCSqGSIb3DQEHAaCCARoEggEWMIIBEgIBATANBgkq' >ac.b64
printf 'hkiG9w0BAQsFAAOCAQEAAAAA' >>ac.b64

# ---- with room ----
tsa
check_eq "with room: a time-stamp" 200 "$TSA_STATUS"
check_cmd "with room: openssl reads a granted reply" \
    sh -c "openssl ts -reply -in r.tsr -text | grep -q 'Status: Granted'"
req_json POST "/v1/keys/$K/sign" "$T" "$SIGN_BODY"
check_status "with room: signing" 200
health
check_eq "with room: /healthz says storage ok" "200 ok" "$STATUS $(jget .storage)"

# ---- below the watermark ----
fill_to $((5 * 1024 * 1024))
tsa
check_eq "low: a time-stamp is refused" 503 "$TSA_STATUS"
check_match "low: the refusal says when to come back (Retry-After)" '^[1-9][0-9]*$' "$TSA_RETRY"
tsa /tsa/authenticode application/octet-stream ac.b64
check_eq "low: an Authenticode time-stamp is refused" "503 yes" \
    "$TSA_STATUS $([ -n "$TSA_RETRY" ] && echo yes || echo no)"
req_json POST "/v1/keys/$K/sign" "$T" "$SIGN_BODY"
check_status "low: authenticated signing goes on" 200
health
check_eq "low: /healthz answers 200 with storage low" "200 low" "$STATUS $(jget .storage)"

# ---- below the hard floor ----
fill_to $((1024 * 1024))
req_json POST "/v1/keys/$K/sign" "$T" "$SIGN_BODY"
check_error "critical: signing is refused (no record, no signature)" 503 unavailable
health
check_eq "critical: /healthz answers 503" 503 "$STATUS"
check_match "critical: /healthz says storage is degraded" 'storage degraded' "$(jget .message)"
tsa
check_eq "critical: a time-stamp is refused" 503 "$TSA_STATUS"

# ---- room again ----
rm -f "$VOL/filler"
sleep 1.2
tsa
check_eq "recovered: a time-stamp" 200 "$TSA_STATUS"
check_cmd "recovered: openssl reads a granted reply" \
    sh -c "openssl ts -reply -in r.tsr -text | grep -q 'Status: Granted'"
req_json POST "/v1/keys/$K/sign" "$T" "$SIGN_BODY"
check_status "recovered: signing" 200
health
check_eq "recovered: /healthz says storage ok" "200 ok" "$STATUS $(jget .storage)"

finish
