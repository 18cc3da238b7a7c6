#!/usr/bin/env bash
# mTLS client certificates (issue 16). Client CAs and leaves are made with
# openssl (an expired leaf with pyca/cryptography); every signature is
# judged by openssl pkeyutl:
#  - a pinned leaf (POST /v1/client-certs {"certificate_pem"}) signs with
#    curl --cert/--key and no token; whoami names the method and the
#    fingerprint (openssl x509 -fingerprint computes it); the audit record
#    of the signature carries it;
#  - a CA + subject rule registration signs for a matching leaf;
#  - refused (401, no signature): an unregistered leaf, an expired one, a
#    leaf of the CA whose subject misses the rule, a leaf of another
#    subscriber's CA (and that subscriber's own registered leaf cannot
#    reach this subscriber's key: 404 as for any foreign key); a token of
#    another subscriber sent with a registered certificate;
#  - a registration deleted while a signing body trickles: 401, nothing
#    signed; deleted: the certificate no longer authenticates;
#  - bad registrations: 400 with a reason;
#  - plain requests with a token and no certificate still work;
#  - the CLI signs with --client-cert/--client-key (and the environment
#    variables), and with the key in a SoftHSM2 token through a PKCS#11
#    URI (imported with softhsm2-util);
#  - the PKCS#11 module (if given) signs for pkcs11-tool with the client
#    certificate and no token (environment and configuration file).
. "$(dirname "$0")/lib.sh"
# Usage: test_mtls.sh SIGNETD SIGNET [MODULE] (libsignet-pkcs11.so)
MOD=${3:-}

PY=/usr/bin/python3
SLOW=$(cd "$(dirname "$0")" && pwd)/slowreq.py
server_start
cd "$WORK" || die "cd"

A=$(new_subscriber alpha) || exit 1
B=$(new_subscriber beta) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1
KA=$(new_key "$TA" ecdsa-p256 "alpha key") || exit 1
KB=$(new_key "$TB" ecdsa-p256 "beta key") || exit 1

openssl dgst -sha256 -binary <<<"mtls" >"$WORK/d.bin"
SIGN_BODY="{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d.bin")\"}"

# ---- client PKI, with openssl ----
cat >"$WORK/ext.cnf" <<'EOC'
[sn_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[sn_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
[sn_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
EOC
# ca NAME CN: a self-signed client CA
ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1.key" -out "$1.pem" -subj "/CN=$2/O=Test" -days 30 \
        -extensions sn_ca -config <(cat /etc/ssl/openssl.cnf "$WORK/ext.cnf") \
        2>/dev/null || die "client CA $1"
}
# leaf NAME SUBJECT CA [EXT]: a leaf issued by CA
leaf() {
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null || die "csr $1"
    openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" \
        -CAcreateserial -days 7 -out "$1.pem" -extfile "$WORK/ext.cnf" \
        -extensions "sn_${4:-client}" 2>/dev/null || die "leaf $1"
}
ca caA "alpha client CA"
ca caB "beta client CA"
leaf runner "/CN=ci-runner-1/O=Acme" caA
leaf wrongcn "/CN=laptop-1/O=Acme" caA
leaf wrongo "/CN=ci-runner-2/O=Other" caA
leaf serveronly "/CN=ci-runner-3/O=Acme" caA server
leaf fromB "/CN=ci-runner-1/O=Acme" caB
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout pinned.key -out pinned.pem -subj "/CN=alpha pinned" -days 7 \
    2>/dev/null || die "pinned leaf"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout stranger.key -out stranger.pem -subj "/CN=stranger" -days 7 \
    2>/dev/null || die "unregistered leaf"
# An expired leaf of caA: openssl 3.0 cannot back-date, pyca can.
"$PY" - <<'EOP' || die "expired leaf"
import datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
ca = x509.load_pem_x509_certificate(open("caA.pem", "rb").read())
cakey = serialization.load_pem_private_key(open("caA.key", "rb").read(), None)
key = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime.utcnow()
cert = (x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ci-runner-old"),
                                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme")]))
        .issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=10))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .sign(cakey, hashes.SHA256()))
open("expired.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open("expired.key", "wb").write(key.private_bytes(serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
EOP

fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }
# pem_json FILE: the file as a JSON string
pem_json() { jq -Rs . <"$1"; }
# csign NAME KEY [TOKEN]: signs KEY with certificate NAME.pem/NAME.key
csign() {
    req_json POST "/v1/keys/$2/sign" "${3:--}" "$SIGN_BODY" \
        --cert "$WORK/$1.pem" --key "$WORK/$1.key"
}
# verified WHAT KEY: the answer's signature verifies with KEY's public key
verified() {
    unb64 "$(jget .signature)" "$WORK/sig"
    check_cmd "$1: openssl pkeyutl verifies the signature" openssl pkeyutl \
        -verify -pubin -inkey "$WORK/pub.$2.pem" -sigfile "$WORK/sig" \
        -in "$WORK/d.bin"
}
# refused WHAT REASON: 401 whose message contains REASON, no signature
refused() {
    check_error "$1" 401 unauthorized
    check_match "$1: the reason" "$2" "$(jget .message)"
    check_nomatch "$1: no signature" '"signature"' "$BODY"
}

# ---- plain token requests, no certificate: unchanged ----
req_json POST "/v1/keys/$KA/sign" "$TA" "$SIGN_BODY"
check_status "a token without a certificate signs" 200 && verified "token" "$KA"
req GET /v1/whoami "$TA"
check_eq "whoami with a token: auth" bearer "$(jget .auth)"
req GET /v1/whoami -
check_error "no token, no certificate" 401 unauthorized

# ---- a pinned leaf ----
csign pinned "$KA"
refused "a leaf not yet registered" "not registered"
req_json POST /v1/client-certs "$TA" \
    "{\"name\":\"pinned\",\"certificate_pem\":$(pem_json pinned.pem),\"roles\":[\"sign\"],\"keys\":[\"$KA\"]}"
check_status "register the pinned leaf" 201
PIN_ID=$(jget .id)
check_eq "the registration's fingerprint is openssl's" "$(fp pinned.pem)" "$(jget .fingerprint)"
csign pinned "$KA"
check_status "the pinned leaf signs (curl --cert, no token)" 200 && verified "pinned leaf" "$KA"
req GET /v1/whoami - --cert "$WORK/pinned.pem" --key "$WORK/pinned.key"
check_eq "whoami with the pinned leaf: auth" mtls "$(jget .auth)"
check_eq "whoami with the pinned leaf: via" "$PIN_ID" "$(jget .via)"
check_eq "whoami with the pinned leaf: proof" "sha256:$(fp pinned.pem)" "$(jget .proof)"
check_eq "whoami with the pinned leaf: subscriber" "$A" "$(jget .subscriber)"
req GET "/v1/audit?order=desc&limit=5" "$TA"
check_eq "the audit record of the signature names the registration and the fingerprint" \
    "mtls registration=$PIN_ID sha256:$(fp pinned.pem)" \
    "$(jget "[.records[] | select(.action == \"sign\" and .token == \"$PIN_ID\")][0].principal")"
# The signing policy (issue 16) sees the certificate as strong and names
# its registration: KA wants strong auth and only this registration.
req_json PUT "/v1/keys/$KA/policy" "$TA" '{"require_strong_auth":true}'
check_status "KA wants strong auth" 200
req_json POST "/v1/keys/$KA/sign" "$TA" "$SIGN_BODY"
check_error "A's static token does not sign with KA" 403 strong_auth_required
# Changing a policy that wants strong auth takes a strong principal too.
req_json PUT "/v1/keys/$KA/policy" "$TA" '{"require_strong_auth":false}'
check_error "nor does it lift the requirement" 403 strong_auth_required
mfa_person mira '["manage"]' "$ADMIN" "$A" && SA=$P_TOKEN
req_json PUT "/v1/keys/$KA/policy" "$SA" \
    "{\"require_strong_auth\":true,\"principals\":{\"client_certs\":[\"$PIN_ID\"]}}"
check_status "... and only the pinned registration" 200
csign pinned "$KA"
check_status "the pinned leaf signs under that policy" 200 && verified "policy" "$KA"
req DELETE "/v1/keys/$KA/policy" "$SA"
check_status "KA's policy removed (a manager's MFA session)" 200
csign pinned "$KA" "$TA"
check_status "the pinned leaf with its subscriber's token signs" 200
csign pinned "$KA" "$TB"
refused "the pinned leaf with another subscriber's token" "not registered by the token's subscriber"
req_json POST /v1/keys "-" '{"algorithm":"ecdsa-p256","label":"x"}' \
    --cert "$WORK/pinned.pem" --key "$WORK/pinned.key"
check_error "the pinned leaf holds only 'sign'" 403 forbidden

# ---- unregistered, expired, other CA ----
csign stranger "$KA"
refused "an unregistered self-signed leaf" "not registered"
csign runner "$KA"
refused "a CA leaf before its CA is registered" "not registered"

# ---- a CA with subject rules ----
req_json POST /v1/client-certs "$TA" \
    "{\"name\":\"runners\",\"ca_pem\":$(pem_json caA.pem),\"subject\":{\"CN\":\"ci-runner-*\",\"O\":\"Acme\"},\"roles\":[\"sign\"]}"
check_status "register client CA A with subject rules" 201
CA_ID=$(jget .id)
check_eq "the CA registration's fingerprint is openssl's" "$(fp caA.pem)" "$(jget .fingerprint)"
csign runner "$KA"
check_status "a CA leaf matching the rules signs" 200 && verified "CA leaf" "$KA"
req GET /v1/whoami - --cert "$WORK/runner.pem" --key "$WORK/runner.key"
check_eq "whoami with the CA leaf: via the CA registration" "$CA_ID" "$(jget .via)"
check_eq "whoami with the CA leaf: proof is the leaf's fingerprint" \
    "sha256:$(fp runner.pem)" "$(jget .proof)"
csign wrongcn "$KA"
refused "a CA leaf whose CN misses the rule" "subject does not match"
csign wrongo "$KA"
refused "a CA leaf whose O misses the rule" "subject does not match"
csign serveronly "$KA"
refused "a CA leaf for serverAuth only" "extended key usage"
csign expired "$KA"
refused "an expired CA leaf" "expired"
csign fromB "$KA"
refused "a leaf of another CA (same subject), not registered" "not registered"

# ---- another subscriber's CA ----
req_json POST /v1/client-certs "$TB" \
    "{\"ca_pem\":$(pem_json caB.pem),\"subject\":{\"CN\":\"ci-runner-*\"},\"roles\":[\"sign\"]}"
check_status "beta registers its own client CA" 201
csign fromB "$KB"
check_status "beta's leaf signs with beta's key" 200 && verified "beta leaf" "$KB"
csign fromB "$KA"
check_error "beta's leaf on alpha's key: as any foreign key" 404 not_found
check_nomatch "beta's leaf on alpha's key: no signature" '"signature"' "$BODY"
csign runner "$KA" "$TB"
refused "alpha's leaf with beta's token" "not registered by the token's subscriber"

# ---- listing, and other subscribers' views ----
req GET /v1/client-certs "$TA"
check_eq "alpha lists its two registrations" "$PIN_ID $CA_ID" "$(jget '[.client_certs[].id] | join(" ")')"
check_eq "the CA registration lists its rules" "ci-runner-*" "$(jget ".client_certs[1].subject.CN")"
req GET /v1/client-certs "$TB"
check_eq "beta lists one registration" 1 "$(jget '.client_certs | length')"
req DELETE "/v1/client-certs/$PIN_ID" "$TB"
check_error "beta cannot delete alpha's registration" 404 not_found
req GET /v1/client-certs "$ADMIN"
check_error "the admin token registers nothing" 403 forbidden

# ---- bad registrations: 400 with a reason, nothing stored ----
bad() {
    req_json POST /v1/client-certs "$TA" "$2"
    check_error "bad registration: $1" 400 invalid_field
}
bad "both kinds" "{\"certificate_pem\":$(pem_json pinned.pem),\"ca_pem\":$(pem_json caA.pem),\"roles\":[\"sign\"]}"
bad "neither kind" '{"roles":["sign"]}'
bad "a CA without rules" "{\"ca_pem\":$(pem_json caA.pem),\"roles\":[\"sign\"]}"
bad "a lone '*' rule" "{\"ca_pem\":$(pem_json caA.pem),\"subject\":{\"CN\":\"*\"},\"roles\":[\"sign\"]}"
bad "an inner '*'" "{\"ca_pem\":$(pem_json caA.pem),\"subject\":{\"CN\":\"ci-*-x\"},\"roles\":[\"sign\"]}"
bad "an unknown attribute" "{\"ca_pem\":$(pem_json caA.pem),\"subject\":{\"emailAddress\":\"a@b\"},\"roles\":[\"sign\"]}"
bad "a leaf as the CA" "{\"ca_pem\":$(pem_json runner.pem),\"subject\":{\"CN\":\"x\"},\"roles\":[\"sign\"]}"
bad "an expired leaf" "{\"certificate_pem\":$(pem_json expired.pem),\"roles\":[\"sign\"]}"
bad "not PEM" '{"certificate_pem":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n","roles":["sign"]}'
bad "two certificates" "{\"certificate_pem\":$(cat pinned.pem stranger.pem | jq -Rs .),\"roles\":[\"sign\"]}"
bad "another subscriber's key" "{\"certificate_pem\":$(pem_json stranger.pem),\"roles\":[\"sign\"],\"keys\":[\"$KB\"]}"
bad "no roles" "{\"certificate_pem\":$(pem_json stranger.pem)}"
req GET /v1/client-certs "$TA"
check_eq "no bad registration was stored" 2 "$(jget '.client_certs | length')"
TS=$(new_token "$A" '"roles":["sign"]') || exit 1
req_json POST /v1/client-certs "$TS" "{\"certificate_pem\":$(pem_json stranger.pem),\"roles\":[\"sign\"]}"
check_error "a sign-only token registers nothing" 403 forbidden
check_healthy "bad registrations"

# ---- the CLI: files, the environment, a key in a PKCS#11 token ----
# sdig WHAT [VAR=VALUE]... [OPTION]...: signet sign-digest with KA and no
# token, the variables in its environment; RC, ERR
DIGEST_HEX=$(od -An -tx1 -v "$WORK/d.bin" | tr -d ' \n')
sdig() {
    local a envs=() opts=()
    shift
    for a in "$@"; do
        if [[ $a =~ ^[A-Z_0-9]+= ]]; then envs+=("$a"); else opts+=("$a"); fi
    done
    rm -f "$WORK/cli.sig"
    env -u SIGNET_TOKEN "${envs[@]}" "$SIGNET" sign-digest --key "$KA" \
        --digest-algorithm sha256 --digest "$DIGEST_HEX" -o "$WORK/cli.sig" \
        "${opts[@]}" >"$WORK/cli.out" 2>"$WORK/cli.err"
    RC=$?
    ERR=$(cat "$WORK/cli.err")
}
sdig_ok() {
    sdig "$@"
    check_eq "$1: exit status (stderr: $ERR)" 0 "$RC"
    check_cmd "$1: openssl pkeyutl verifies the signature" openssl pkeyutl \
        -verify -pubin -inkey "$WORK/pub.$KA.pem" -sigfile "$WORK/cli.sig" \
        -in "$WORK/d.bin"
}
sdig_ok "CLI --client-cert/--client-key (CA leaf), no token" \
    --client-cert "$WORK/runner.pem" --client-key "$WORK/runner.key"
sdig_ok "CLI SIGNET_CLIENT_CERT/SIGNET_CLIENT_KEY (pinned leaf), no token" \
    SIGNET_CLIENT_CERT="$WORK/pinned.pem" SIGNET_CLIENT_KEY="$WORK/pinned.key"
sdig "CLI with an unregistered certificate" \
    --client-cert "$WORK/stranger.pem" --client-key "$WORK/stranger.key"
check_ne "CLI with an unregistered certificate: fails" 0 "$RC"
check_match "CLI with an unregistered certificate: says why" "not registered" "$ERR"
check_cmd_fails "CLI with an unregistered certificate: no signature file" \
    test -s "$WORK/cli.sig"
sdig "CLI with a key that is not the certificate's" \
    --client-cert "$WORK/runner.pem" --client-key "$WORK/pinned.key"
check_match "CLI with a mismatched key: says so" "does not match" "$ERR"
sdig "CLI with a certificate and no key" --client-cert "$WORK/runner.pem"
check_eq "CLI with a certificate and no key: usage error" 2 "$RC"

# A leaf of CA A whose key lives in a SoftHSM2 token of the client's own
# (its own SOFTHSM2_CONF), imported with softhsm2-util.
leaf p11runner "/CN=ci-runner-p11/O=Acme" caA
mkdir -p "$WORK/clienthsm"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$WORK/clienthsm" >"$WORK/clienthsm.conf"
CH="SOFTHSM2_CONF=$WORK/clienthsm.conf"
env "$CH" softhsm2-util --init-token --free --label ci-client --pin 4321 \
    --so-pin 87654321 >/dev/null || die "client token"
env "$CH" softhsm2-util --import "$WORK/p11runner.key" --token ci-client \
    --label ci-key --id 01 --pin 4321 >/dev/null || die "import the client key"
rm -f "$WORK/p11runner.key"
SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
URI="pkcs11:token=ci-client;object=ci-key;type=private"
sdig_ok "CLI with the key in SoftHSM2 (URI module-path, SIGNET_CLIENT_KEY_PIN)" \
    "$CH" SIGNET_CLIENT_KEY_PIN=4321 \
    --client-cert "$WORK/p11runner.pem" --client-key "$URI?module-path=$SOFTHSM"
printf '4321\n' >"$WORK/client.pin"
sdig_ok "CLI with the key in SoftHSM2 (SIGNET_CLIENT_KEY_MODULE, --client-key-pin-file)" \
    "$CH" SIGNET_CLIENT_KEY_MODULE=$SOFTHSM \
    --client-cert "$WORK/p11runner.pem" --client-key "$URI" \
    --client-key-pin-file "$WORK/client.pin"
sdig_ok "CLI with the key in SoftHSM2 (SIGNET_CLIENT_KEY, _MODULE, _PIN_FILE: docs/ci.md)" \
    "$CH" SIGNET_CLIENT_CERT="$WORK/p11runner.pem" SIGNET_CLIENT_KEY="$URI" \
    SIGNET_CLIENT_KEY_MODULE=$SOFTHSM SIGNET_CLIENT_KEY_PIN_FILE="$WORK/client.pin"
sdig_ok "CLI with the key in SoftHSM2 (through p11-kit-proxy, the default module)" \
    "$CH" SIGNET_CLIENT_KEY_PIN=4321 \
    --client-cert "$WORK/p11runner.pem" --client-key "$URI"
req GET "/v1/audit?order=desc&limit=1" "$TA"
check_eq "the PKCS#11 key's signature is audited with its certificate's fingerprint" \
    "sha256:$(fp p11runner.pem)" "$(jget '.records[0].principal' | sed 's/.* //')"
sdig "CLI with a wrong PIN" "$CH" SIGNET_CLIENT_KEY_PIN=0000 \
    --client-cert "$WORK/p11runner.pem" --client-key "$URI?module-path=$SOFTHSM"
check_ne "CLI with a wrong PIN: fails" 0 "$RC"
check_match "CLI with a wrong PIN: says the login failed" "login" "$ERR"
check_nomatch "CLI with a wrong PIN: the PIN is not echoed" "0000" "$ERR"
sdig "CLI with a PIN in the URI" "$CH" \
    --client-cert "$WORK/p11runner.pem" --client-key "$URI;x?pin-value=4321"
check_ne "CLI with a PIN in the URI: refused" 0 "$RC"
sdig "CLI with a missing object" "$CH" SIGNET_CLIENT_KEY_PIN=4321 \
    --client-cert "$WORK/p11runner.pem" \
    --client-key "pkcs11:token=ci-client;object=nope?module-path=$SOFTHSM"
check_match "CLI with a missing object: says which" "no private key 'nope'" "$ERR"

# ---- the PKCS#11 module (if given): the client certificate, no token ----
if [ -n "$MOD" ]; then
    # A module built with ASan needs the runtime in the tool that loads it.
    PRELOAD=()
    if ldd "$MOD" 2>/dev/null | grep libasan >/dev/null; then
        PRELOAD=(env "LD_PRELOAD=$(ldd "$MOD" | awk '/libasan/ {print $3}')"
            "ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:handle_segv=0")
    fi
    hexid() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }
    openssl pkey -pubin -in "pub.$KA.pem" -out ka.pem 2>/dev/null
    rm -f p11.sig
    out=$(env -u SIGNET_TOKEN "$CH" SIGNET_CLIENT_CERT="$WORK/p11runner.pem" \
        SIGNET_CLIENT_KEY="$URI?module-path=$SOFTHSM" SIGNET_CLIENT_KEY_PIN=4321 \
        "${PRELOAD[@]}" pkcs11-tool --module "$MOD" --sign --id "$(hexid "$KA")" \
        -m ECDSA -i d.bin -o p11.sig --signature-format openssl 2>&1)
    check_cmd "the module signs with the client certificate in SoftHSM2 and no token ($out)" \
        openssl pkeyutl -verify -pubin -inkey ka.pem -in d.bin -sigfile p11.sig
    printf 'url = %s\nca_file = %s\nclient_cert = %s\nclient_key = %s\n' \
        "$SERVER_URL" "$SERVER_CA" "$WORK/runner.pem" "$WORK/runner.key" >p11.conf
    rm -f p11.sig
    out=$(env -u SIGNET_TOKEN -u SIGNET_URL -u SIGNET_CA_FILE \
        SIGNET_PKCS11_CONF="$WORK/p11.conf" "${PRELOAD[@]}" pkcs11-tool \
        --module "$MOD" --sign --id "$(hexid "$KA")" -m ECDSA -i d.bin \
        -o p11.sig --signature-format openssl 2>&1)
    check_cmd "the module signs with client_cert/client_key from its file ($out)" \
        openssl pkeyutl -verify -pubin -inkey ka.pem -in d.bin -sigfile p11.sig
    out=$(env -u SIGNET_TOKEN SIGNET_CLIENT_CERT="$WORK/stranger.pem" \
        SIGNET_CLIENT_KEY="$WORK/stranger.key" "${PRELOAD[@]}" pkcs11-tool \
        --module "$MOD" --list-objects 2>&1)
    check_nomatch "the module with an unregistered certificate lists no key" \
        'Private Key Object' "$out"
    out=$(env -u SIGNET_TOKEN SIGNET_CLIENT_CERT="$WORK/runner.pem" \
        SIGNET_CLIENT_KEY="$WORK/pinned.key" "${PRELOAD[@]}" pkcs11-tool \
        --module "$MOD" --list-slots 2>&1)
    check_match "the module with a mismatched client key says so" \
        'libsignet-pkcs11: client certificate.*does not match' "$out"
fi

# ---- recheck: the registration deleted while a body trickles ----
rm -f "$WORK/slow.ready" "$WORK/slow.gate"
"$PY" "$SLOW" --port "$SERVER_PORT" --ca "$SERVER_CA" --token "" \
    --cert "$WORK/pinned.pem" --key "$WORK/pinned.key" \
    --path "/v1/keys/$KA/sign" --body "$SIGN_BODY" --ready "$WORK/slow.ready" \
    --gate "$WORK/slow.gate" >"$WORK/slow.out" 2>&1 &
SLOW_PID=$!
for i in $(seq 1 100); do
    [ -f "$WORK/slow.ready" ] && break
    sleep 0.1
done
# "ready" is written once the headers are sent; give the server the moment
# it takes to authenticate them (a deletion before that is a plain 401
# "not registered", not the mid-body recheck this is about).
sleep 1
req DELETE "/v1/client-certs/$PIN_ID" "$TA"
check_status "delete the pinned registration (mid-body)" 200
touch "$WORK/slow.gate"
wait "$SLOW_PID"
OUT=$(cat "$WORK/slow.out")
check_match "sign, registration deleted mid-body: 401" '^401 .*deleted' "$OUT"
check_nomatch "sign, registration deleted mid-body: no signature" '"signature"' "$OUT"
csign pinned "$KA"
refused "the deleted registration's leaf" "not registered"
req GET /v1/audit?order=desc "$TA"
check_match "the refusals of a registered CA's leaves are in the audit log with their fingerprint" \
    "sha256:$(fp expired.pem)" "$(jget '[.records[].principal] | join(" ")')"

check_healthy "mTLS"
server_stop
finish
