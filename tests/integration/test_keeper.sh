#!/usr/bin/env bash
# The keeper (issue 20) on its own: `signetd keeper` holds the module, the
# PINs and the CA, TSA and log keys, and keeper_probe.py plays a
# compromised front end on its socket (docs/ipc.md, written from the
# document, not from Signet's code):
#  - legitimate requests are signed, and the results are checked by pyca
#    (signatures), openssl verify (the code signing certificate to the
#    test root, the attestation certificate to the attestation root) and
#    openssl ts -verify (the time-stamp token);
#  - refused, with nothing signed: a digest for another subscriber's key,
#    a wrong-length digest, a digest called by another algorithm, an RSA
#    scheme for an EC key, a certificate with cA=TRUE, without codeSigning
#    or for TLS from the code signing CA, another issuer, ten years, a
#    root signature outside a ceremony, a non-critical time-stamping EKU,
#    garbage and trailing bytes, a TSTInfo an hour off either way or under
#    a foreign policy, a checkpoint smaller than the last or with another
#    root for its size, of another log, with a line riding along; a PIN
#    context sealed or opened; ids with paths in them;
#  - oversize, truncated, unknown-type, other-version and reserved-bit
#    frames end the connection, and the keeper goes on serving;
#  - every refusal is in the keeper's log;
#  - the keeper's socket is 0600 in a directory of its own (0711).
. "$(dirname "$0")/lib.sh"

SERVER_STORE=sqlite
server_init
KLOG=$WORK/keeper.log
"$SIGNETD" keeper --home "$SERVER_HOME" >"$KLOG" 2>&1 &
KPID=$!
EXTRA_PIDS+=("$KPID")
SOCK=$SERVER_HOME/run/keeper.sock
for _ in $(seq 1 100); do
    [ -S "$SOCK" ] && break
    kill -0 "$KPID" 2>/dev/null || die "the keeper exited: $(cat "$KLOG")"
    sleep 0.1
done
[ -S "$SOCK" ] || die "no keeper socket after 10 s: $(cat "$KLOG")"
check_eq "the socket is 0600" "$(stat -c %a "$SOCK")" 600
check_eq "its directory is the keeper's, 0711" "$(stat -c '%U %a' "$SERVER_HOME/run")" "root 711"

ORIGIN=$(sed -n 's/^log\.origin *= *//p' "$SERVER_HOME/signetd.conf" | head -1)
[ -n "$ORIGIN" ] || die "no log.origin in signetd.conf"
mkdir -p "$WORK/probe"
PROBE_ORIGIN=$ORIGIN PROBE_OUT=$WORK/probe /usr/bin/python3 \
    "$(dirname "$0")/keeper_probe.py" "$SERVER_HOME" "$SOCK" >"$WORK/probe.log" 2>&1
rc=$?
while IFS= read -r line; do
    case $line in
    "ok   "*) CHECKS=$((CHECKS + 1)) && pass "${line#ok   }" ;;
    "FAIL "*) CHECKS=$((CHECKS + 1)) && fail "${line#FAIL }" ;;
    *) [ -n "$line" ] && log "$line" ;;
    esac
done <"$WORK/probe.log"
check_eq "the probe finished" "$rc" 0

CA=$SERVER_HOME/ca
cat "$CA/codesigning.pem" >"$WORK/cs-chain.pem"
openssl x509 -inform DER -in "$WORK/probe/leaf.der" -out "$WORK/leaf.pem"
check_cmd "openssl verifies the keeper's code signing certificate to the root" \
    openssl verify -x509_strict -CAfile "$CA/root.pem" \
    -untrusted "$WORK/cs-chain.pem" "$WORK/leaf.pem"
check_match "it is a code signing certificate" "Code Signing" \
    "$(openssl x509 -in "$WORK/leaf.pem" -noout -ext extendedKeyUsage)"
openssl x509 -inform DER -in "$WORK/probe/att.der" -out "$WORK/att.pem"
check_cmd "openssl verifies the attestation certificate to the attestation root" \
    openssl verify -CAfile "$CA/attest-root.pem" -untrusted "$CA/attest-issuer.pem" \
    "$WORK/att.pem"
printf 'stamp me' >"$WORK/stamped"
cat "$CA/timestamping.pem" "$CA/root.pem" >"$WORK/ts-chain.pem"
sed -n '/BEGIN CERT/,$p' "$CA/tsa.pem" >"$WORK/tsa-cert.pem"
check_cmd "openssl ts -verify accepts the keeper's time-stamp token" \
    openssl ts -verify -token_in -in "$WORK/probe/token.der" -data "$WORK/stamped" \
    -CAfile "$WORK/ts-chain.pem" -untrusted "$WORK/tsa-cert.pem"

for what in "sign_digest" "sign_cert" "sign_tst" "sign_checkpoint" "malformed" "bad frame header"; do
    check_match "the keeper logged a refusal ($what)" "$what" "$(cat "$KLOG")"
done
check_cmd "the keeper is still running" kill -0 "$KPID"
kill -TERM "$KPID"
finish
