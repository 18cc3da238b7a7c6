#!/usr/bin/env bash
# The README's first session (issue 15), so that it cannot drift from the
# product: the fenced block after the `<!-- session -->` line of README.md
# is extracted and run as written (bash -e, pipefail) against a signetd
# started as `make run` starts it (scripts/run.sh build var/home: a new
# home, the default ports 8443 and 8080), from a directory laid out as the
# reader's checkout (build/, var/home). The test gets its own network
# namespace (unshare -n, as root), where those ports are free whatever the
# host runs; without one it uses the host's ports if both are free, and is
# skipped (77) otherwise. Input: README.md (trusted, ours). Verdicts:
#  - the block exits 0; it holds the steps a new user needs (identity,
#    certify, sign, roots) and its own verdict is openssl's (cms -verify);
#  - the block's TSA URL is the one the banner printed;
#  - then the test's own openssl: the signature verifies against the root
#    in the home (not the block's ca.pem) with the signer named as the
#    README says and code signing in its EKU; a changed file fails; the
#    root is in the block's ca.pem; the time-stamp verifies likewise.
# SIGNET_README=FILE runs another copy of the README (to see it fail);
# SIGNET_README_NETNS=0 uses the host's ports.

if [ -z "${SIGNET_README_NETNS:-}" ] && [ "$(id -u)" = 0 ] &&
    command -v ip >/dev/null && unshare -n true 2>/dev/null; then
    SIGNET_README_NETNS=1 exec unshare -n -- bash "$0" "$@"
fi

. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
README=${SIGNET_README:-$SRC/README.md}

if [ "${SIGNET_README_NETNS:-}" = 1 ]; then
    ip link set lo up || die "cannot bring up lo in the network namespace"
    log "own network namespace: ports 8443 and 8080 are free"
else
    for p in 8443 8080; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            log "SKIP: no network namespace (needs root and unshare) and" \
                "port $p is in use"
            exit 77
        fi
    done
fi

# ---- the block ----
[ "$(grep -c '^<!-- session -->$' "$README")" = 1 ] ||
    die "README.md must have exactly one '<!-- session -->' line"
awk '/^<!-- session -->$/ { m = 1; next }
     m == 1 { if ($0 != "```sh") exit 1; m = 2; next }
     m == 2 && /^```$/ { m = 3; exit }
     m == 2 { print }
     END { if (m != 3) exit 1 }' "$README" >"$WORK/session.sh" ||
    die "no \`\`\`sh block closed by \`\`\` right after '<!-- session -->'"
for step in 'subscriber identity ' 'token create ' 'key certify ' \
    'signet sign ' 'ca roots -o ca.pem' 'openssl cms -verify '; do
    CHECKS=$((CHECKS + 1))
    if grep -qF -- "$step" "$WORK/session.sh"; then
        pass "the session has '$step'"
    else
        fail "the session has no '$step'"
    fi
done

# ---- make run ----
# The reader's checkout: build/ (the programs under test) and var/home.
mkdir -p "$WORK/repo/build"
ln -s "$(readlink -f "$SIGNETD")" "$WORK/repo/build/signetd"
ln -s "$(readlink -f "$SIGNET")" "$WORK/repo/build/signet"
cd "$WORK/repo" || die "no $WORK/repo"
# Port 8443 names the log lib.sh's finish() scans for sanitizer reports.
SERVER_PORT=8443
SERVER_HOME=$WORK/repo/var/home
SERVER_URL=https://127.0.0.1:8443
SERVER_CA=$SERVER_HOME/tls/ca.pem
LOG=$WORK/signetd.8443.log
# As the Makefile's run target: scripts/run.sh BUILD HOME LISTEN
# PUBLIC_LISTEN PUBLIC_URL, the variables empty. run.sh execs signetd.
"$SRC/scripts/run.sh" build var/home "" "" "" >"$LOG" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do
    kill -0 "$SERVER_PID" 2>/dev/null || die "make run exited: $(cat "$LOG")"
    [ -f var/home/tls/ca.pem ] &&
        curl -sS --max-time 2 --cacert var/home/tls/ca.pem -o /dev/null \
            "$SERVER_URL/healthz" 2>/dev/null && break
    sleep 0.1
done
check_healthy "make run" || die "make run did not answer $SERVER_URL/healthz"

# ---- the session, as written ----
# In the checkout, without the test's own SIGNET_* settings.
(
    unset SIGNET_URL SIGNET_CA_FILE SIGNET_TOKEN
    timeout 120 bash -e -o pipefail -x "$WORK/session.sh"
) >"$WORK/session.log" 2>&1 </dev/null
rc=$?
check_eq "the README session exits 0 (bash -e -o pipefail)" 0 "$rc" ||
    { echo "---- the session (bash -x; tokens elided) ----" >&2
      sed 's/sn_[A-Za-z0-9_-]*/sn_.../g' "$WORK/session.log" | tail -n 40 >&2; }
check_eq "openssl verified the session's signature (its message)" 1 \
    "$(grep -c '^CMS Verification successful$' "$WORK/session.log")"

# The TSA URL the README gives is the one make run printed.
TSA=$(sed -n 's/.* info TSA: \([^ ]*\) .*/\1/p' "$LOG" | head -n 1)
check_eq "the banner's TSA URL" "http://127.0.0.1:8080/tsa" "$TSA"
check_match "the session posts to the banner's TSA URL" " $TSA\$" \
    "$(grep -o " http://[^ ]*/tsa\$" "$WORK/session.sh")"

# ---- the test's own verdicts, from the home's root ----
ROOT=var/home/ca/root.pem
check_cmd "the signature verifies against the home's root (openssl cms)" \
    openssl cms -verify -binary -inform DER -in app.bin.p7s -content app.bin \
    -CAfile "$ROOT" -purpose any -out "$WORK/content"
check_cmd "the verified content is app.bin" cmp "$WORK/content" app.bin
cp app.bin "$WORK/changed.bin"
printf 'x' >>"$WORK/changed.bin"
check_cmd_fails "a changed file does not verify" \
    openssl cms -verify -binary -inform DER -in app.bin.p7s \
    -content "$WORK/changed.bin" -CAfile "$ROOT" -purpose any -out /dev/null
openssl pkcs7 -inform DER -in app.bin.p7s -print_certs 2>/dev/null |
    openssl x509 -noout -subject -ext extendedKeyUsage >"$WORK/signer" 2>&1
check_match "the signer is the README's subject" \
    'subject=C = US, ST = California, O = Acme Corp, CN = Acme Corp' \
    "$(cat "$WORK/signer")"
check_match "the signer certificate is for code signing" 'Code Signing' \
    "$(cat "$WORK/signer")"
# pyca (a second X.509 parser) reads every certificate in the block's
# ca.pem and names each, "same-as-root" where its DER is the home's root.
roots=$(/usr/bin/python3 - ca.pem "$ROOT" <<'EOF' 2>&1
import re, sys
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
pems = re.findall(rb"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                  open(sys.argv[1], "rb").read(), re.S)
bundle = [x509.load_pem_x509_certificate(p) for p in pems]
root = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
for c in bundle:
    same = c.public_bytes(Encoding.DER) == root.public_bytes(Encoding.DER)
    print(("same-as-root " if same else "other ") + c.subject.rfc4514_string())
EOF
)
check_match "the block's ca.pem holds the home's root" "same-as-root " "$roots"
check_cmd "the time-stamp verifies against the home's root (openssl ts)" \
    openssl ts -verify -in app.tsr -data app.bin -CAfile "$ROOT" \
    -untrusted var/home/ca/timestamping.pem
check_healthy "the session"

finish
