#!/usr/bin/env bash
# The OIDC client side (issue 16): a CI job's ID token, minted by a test
# issuer on loopback with npm's jose (an independent JOSE implementation),
# exchanged by the signet CLI and by libsignet-pkcs11.so for a short-lived
# Signet token, whose signatures openssl verifies:
#  - GitHub Actions: a fake request endpoint (fake_actions.py) that checks
#    the request token and the audience; `signet login --oidc` (eval,
#    --out 0600, --json) then `signet sign`; `--oidc` with sign itself;
#    a wrong request token or audience fails with a reason, no secret;
#  - GitLab: `id_tokens:` as a variable (--id-token-env), a file; a replayed
#    or malformed ID token refused;
#  - the PKCS#11 module with SIGNET_ID_TOKEN_FILE and no Signet token:
#    pkcs11-tool signs; one PyKCS11 process renews its token from a fresh
#    file past expiry, another without a fresh file cannot sign.
# Usage: test_oidc_client.sh SIGNETD SIGNET MODULE
. "$(dirname "$0")/lib.sh"
MOD=${3:?usage: test_oidc_client.sh SIGNETD SIGNET MODULE}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -f "$MOD" ] || die "no PKCS#11 module at $MOD"
for tool in node python3 pkcs11-tool; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
# Debian's python3 (python3-pykcs11, python3-cryptography), not another.
PY=/usr/bin/python3
"$PY" -c 'import PyKCS11' 2>/dev/null || die "python3-pykcs11 is not installed"
# A module built with ASan needs the runtime in the tools that load it.
PRELOAD=()
if ldd "$MOD" 2>/dev/null | grep libasan >/dev/null; then
    # PyKCS11 is C++: ASan's __cxa_throw needs libstdc++ loaded with it.
    PRELOAD=(env "LD_PRELOAD=$(ldd "$MOD" | awk '/libasan/ {print $3}') $(
        /sbin/ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')"
        "ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:handle_segv=0")
fi
with_mod() { "${PRELOAD[@]}" "$@"; }
hexid() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

cd "$WORK" || die "no work directory"
server_start
unset SIGNET_TOKEN SIGNET_ID_TOKEN SIGNET_ID_TOKEN_FILE SIGNET_OIDC_AUDIENCE \
    ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN

# ---- TLS for the issuer and the fake Actions endpoint (loopback) ----
mkdir -p tls
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout tls/ca.key -out tls/ca.pem -days 2 -subj "/CN=OIDC test CA" \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign >/dev/null 2>&1 || die "test CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout tls/tls.key -out tls/tls.csr -subj "/CN=127.0.0.1" >/dev/null 2>&1 ||
    die "TLS key"
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >tls/ext
openssl x509 -req -in tls/tls.csr -CA tls/ca.pem -CAkey tls/ca.key \
    -CAcreateserial -days 1 -out tls/tls.crt -extfile tls/ext >/dev/null 2>&1 ||
    die "TLS certificate"

# ---- the test issuer ----
. "$HERE/oidc_issuer.sh"
issuer_start "$WORK/issuer" "$WORK/tls"
AUD=signet-ci-test
req_json POST /v1/oidc/issuers "$ADMIN" \
    "{\"issuer\":\"$ISS\",\"audience\":\"$AUD\",\"ca_file\":\"$WORK/tls/ca.pem\"}"
check_status "register the test issuer" 201 || die "cannot register the issuer: $BODY"

# ---- a subscriber, a certified key, trust policies ----
SUB=$(new_subscriber acme) || exit 1
TOK=$(new_token "$SUB" '"roles":["manage","sign"]') || exit 1
KE=$(new_key "$TOK" ecdsa-p256 "ci signer") || exit 1
KX=$(new_key "$TOK" ecdsa-p256 "not for ci") || exit 1
openssl pkey -pubin -in "pub.$KE.pem" -out ec.pem 2>/dev/null || die "public key"
req_json PUT "/v1/subscribers/$SUB/identity" "$ADMIN" '{"O":"Acme","C":"US","ST":"CA"}'
[ "$STATUS" = 200 ] || die "identity: HTTP $STATUS $BODY"
req_json POST "/v1/keys/$KE/csr" "$TOK" '{"subject":{"CN":"Acme","O":"Acme","C":"US","ST":"CA"}}'
[ "$STATUS" = 200 ] || die "CSR: HTTP $STATUS $BODY"
jget .csr_pem >ke.csr
req POST /v1/ca/certificates "$TOK" -H 'Content-Type: application/json' \
    --data-binary "$(jq -n --rawfile c ke.csr '{csr_pem: $c}')"
[ "$STATUS" = 201 ] || die "issue: HTTP $STATUS $BODY"
jget .certificate_pem >leaf.pem
jget .issuer_pem >issuer.pem
curl -sS --max-time 10 -o root.der "$PUBLIC_URL/ca/root.cer" || die "GET root.cer"
openssl x509 -inform DER -in root.der -out root.pem || die "root.cer is not DER"
cat leaf.pem issuer.pem >chain.pem
req PUT "/v1/keys/$KE/certificate" "$TOK" -H 'Content-Type: application/x-pem-file' \
    --data-binary @chain.pem
[ "$STATUS" = 200 ] || die "attach: HTTP $STATUS $BODY"

# policy NAME CLAIMS LIFETIME -> the policy id
policy() {
    req_json POST /v1/trust-policies "$TOK" "{\"issuer\":\"$ISS\",\"claims\":$2,\
\"keys\":[\"$KE\"],\"roles\":[\"sign\"],\"token_lifetime\":$3}"
    [ "$STATUS" = 201 ] || die "trust policy $1: HTTP $STATUS $BODY"
    jget .id
}
GH_CLAIMS='{"repository":"acme/app","repository_id":"4242"}'
GL_CLAIMS='{"project_path":"acme/app","project_id":"77"}'
SHORT_CLAIMS='{"repository":"acme/short","repository_id":"4343"}'
P_GH=$(policy github "$GH_CLAIMS" 600) || exit 1
P_GL=$(policy gitlab "$GL_CLAIMS" 600) || exit 1
P_SHORT=$(policy short "$SHORT_CLAIMS" 6) || exit 1
log "trust policies: github $P_GH, gitlab $P_GL, short-lived $P_SHORT"

# mint_to FILE CLAIMS_JSON: an ID token for $AUD with those claims
mint_to() { mint "$(jq -cn --arg aud "$AUD" --argjson c "$2" '$c + {aud: $aud}')" >"$1"; }

rand_file app.bin 100000
# cli NAME ARGS...: runs the CLI; RC, OUT, ERR
cli() {
    local what=$1
    shift
    "$SIGNET" "$@" >cli.out 2>cli.err
    RC=$?
    OUT=$(cat cli.out)
    ERR=$(cat cli.err)
    log "$what: exit $RC"
}
# no_secret WHAT TEXT: neither a Signet token nor a JWT in TEXT
no_secret() {
    check_nomatch "$1: no Signet token printed" 'sn_[0-9a-f-]{36}_' "$2"
    check_nomatch "$1: no ID token printed" 'eyJ[A-Za-z0-9_-]+\.' "$2"
}
verify_cms() {
    check_cmd "$1: openssl cms -verify" openssl cms -verify -binary -inform DER \
        -in "$2" -content app.bin -CAfile root.pem -certfile issuer.pem \
        -purpose any -out /dev/null
}

# ---- GitHub Actions ----
AP=$(random_port)
REQTOK="ghs_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
cat >mint-gh.sh <<EOF
#!/usr/bin/env bash
. "$HERE/oidc_issuer.sh"
ISSUER_DIR="$WORK/issuer"
mint "\$(jq -cn --arg aud "\$OIDC_AUD" --argjson c '$GH_CLAIMS' '\$c + {aud: \$aud, ref: "refs/heads/main"}')"
EOF
chmod +x mint-gh.sh
"$PY" "$HERE/fake_actions.py" "$AP" tls/tls.crt tls/tls.key "$REQTOK" \
    actions.log "$WORK/mint-gh.sh" 2>actions.err &
EXTRA_PIDS+=($!)
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$AP") 2>/dev/null && break
    sleep 0.1
done
export ACTIONS_ID_TOKEN_REQUEST_URL="https://127.0.0.1:$AP/_apis/idtoken?api-version=2.0"
export ACTIONS_ID_TOKEN_REQUEST_TOKEN=$REQTOK
export SIGNET_ID_TOKEN_CA_FILE=$WORK/tls/ca.pem

cli "login --oidc (GitHub Actions)" login --oidc --audience "$AUD"
check_eq "login --oidc: exit 0" 0 "$RC" || log "stderr: $ERR"
check_match "login prints one export line" '^export SIGNET_TOKEN=sn_[0-9a-f-]{36}_[^ ]+$' "$OUT"
check_match "login says the trust policy on stderr" "trust policy $P_GH" "$ERR"
no_secret "login's stderr" "$ERR"
check_eq "the endpoint saw the request token and the audience" \
    "auth=ok audience=$AUD" "$(tail -n 1 actions.log)"
eval "$OUT"
check_ne "eval set SIGNET_TOKEN" "" "${SIGNET_TOKEN:-}"
req GET /v1/whoami "${SIGNET_TOKEN:--}"
check_status "whoami with the exchanged token (curl)" 200
check_eq "the exchanged token's keys are the policy's" "[\"$KE\"]" "$(jget '.keys' | jq -c .)"
check_eq "the exchanged token signs only" '["sign"]' "$(jget '.roles' | jq -c .)"
cli "signet sign with the exchanged token" sign --key "$KE" app.bin -o gh.p7s
check_eq "sign: exit 0" 0 "$RC" || log "stderr: $ERR"
verify_cms "GitHub, login then sign" gh.p7s
cli "a key outside the policy" sign --key "$KX" app.bin -o kx.p7s
check_eq "sign with a key the policy does not grant: exit 1" 1 "$RC"
unset SIGNET_TOKEN

cli "login --oidc --out" login --oidc --audience "$AUD" --out tok.txt
check_eq "login --out: exit 0" 0 "$RC" || log "stderr: $ERR"
check_eq "the token file is mode 600" 600 "$(stat -c %a tok.txt 2>&1)"
check_match "the token file holds one token" '^sn_[0-9a-f-]{36}_[^ ]+$' "$(cat tok.txt)"
no_secret "login --out's stdout" "$OUT"
cli "sign --token-file" --token-file tok.txt sign --key "$KE" app.bin -o gh2.p7s
verify_cms "GitHub, --out then --token-file" gh2.p7s

cli "login --oidc --json" --json login --oidc --audience "$AUD"
check_eq "login --json: trust_policy" "$P_GH" "$(jget .trust_policy "$OUT")"
check_match "login --json: expires_at" '^20[0-9-]+T[0-9:]+Z$' "$(jget .expires_at "$OUT")"
check_match "login --json: the token" '^sn_' "$(jget .token "$OUT")"
cli "login --oidc --json --out" --json login --oidc --audience "$AUD" --out tok2.txt
check_eq "login --json --out: no token in the JSON" null "$(jget .token "$OUT")"

cli "--oidc with sign (implicit exchange)" --oidc --audience "$AUD" sign --key "$KE" app.bin -o gh3.p7s
check_eq "--oidc sign: exit 0" 0 "$RC" || log "stderr: $ERR"
verify_cms "GitHub, implicit exchange" gh3.p7s
no_secret "--oidc sign's output" "$OUT$ERR"

cli "--oidc with --token" --oidc --token sn_x sign --key "$KE" app.bin
check_eq "--oidc and --token: usage error (exit 2)" 2 "$RC"
cli "--oidc with a client certificate" --oidc --audience "$AUD" \
    --client-cert app.bin --client-key app.bin sign --key "$KE" app.bin
check_eq "--oidc and --client-cert: usage error (exit 2)" 2 "$RC"
check_match "... saying why" "not both" "$ERR"
cli "--audience without --oidc" --audience "$AUD" whoami
check_eq "--audience without --oidc: usage error (exit 2)" 2 "$RC"
cli "login without --oidc" login
check_eq "login without --oidc: usage error (exit 2)" 2 "$RC"

cli "a wrong audience" login --oidc --audience someone-else
check_eq "wrong audience: exit 1" 1 "$RC"
check_match "wrong audience: the server's refusal is said" 'refused.*HTTP 40[13]' "$ERR"
no_secret "wrong audience's stderr" "$ERR"
ACTIONS_ID_TOKEN_REQUEST_TOKEN=wrong cli "a wrong request token" login --oidc --audience "$AUD"
check_eq "wrong request token: exit 1" 1 "$RC"
check_match "wrong request token: the endpoint's answer is said" 'answered HTTP 401' "$ERR"
check_nomatch "wrong request token: not echoed" 'wrong|ghs_' "$ERR"
check_eq "the endpoint saw the wrong request token" "auth=bad audience=$AUD" "$(tail -n 1 actions.log)"
SIGNET_ID_TOKEN_CA_FILE=$WORK/root.pem cli "an endpoint not trusted" login --oidc --audience "$AUD"
check_eq "untrusted endpoint: exit 1" 1 "$RC"
unset ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN SIGNET_ID_TOKEN_CA_FILE

# ---- GitLab CI: id_tokens as a variable, or a file ----
mint_to gl1.jwt "$GL_CLAIMS" || die "mint"
GITLAB_SIGNET_TOKEN=$(cat gl1.jwt) cli "login --oidc --id-token-env" \
    login --oidc --id-token-env GITLAB_SIGNET_TOKEN
check_eq "GitLab login: exit 0" 0 "$RC" || log "stderr: $ERR"
check_match "GitLab login: trust policy" "trust policy $P_GL" "$ERR"
eval "$OUT"
cli "GitLab sign" sign --key "$KE" app.bin -o gl.p7s
verify_cms "GitLab, login then sign" gl.p7s
unset SIGNET_TOKEN
GITLAB_SIGNET_TOKEN=$(cat gl1.jwt) cli "the same ID token again" \
    login --oidc --id-token-env GITLAB_SIGNET_TOKEN
check_eq "a replayed ID token: exit 1" 1 "$RC"
check_match "a replayed ID token: refused, with the source named" \
    'ID token from \$GITLAB_SIGNET_TOKEN was refused' "$ERR"
no_secret "replay's stderr" "$ERR"
mint_to gl2.jwt "$GL_CLAIMS" || die "mint"
SIGNET_ID_TOKEN=$(cat gl2.jwt) cli "SIGNET_ID_TOKEN by default" --json --oidc whoami
check_eq "\$SIGNET_ID_TOKEN: whoami through the exchange" "[\"$KE\"]" "$(jget '.keys' "$OUT" | jq -c .)"
mint_to gl3.jwt "$GL_CLAIMS" || die "mint"
cli "--id-token-file" --oidc --id-token-file gl3.jwt sign --key "$KE" app.bin -o gl3.p7s
verify_cms "GitLab, a file" gl3.p7s
cli "an unset variable" login --oidc --id-token-env NOT_SET_ANYWHERE
check_eq "unset variable: exit 1" 1 "$RC"
check_match "unset variable: named" 'NOT_SET_ANYWHERE is not set' "$ERR"
printf 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.\n' >none.jwt
cli "alg none shape" login --oidc --id-token-file none.jwt
check_eq "a token without a signature: exit 1" 1 "$RC"
check_match "a token without a signature: said" 'does not hold an ID token' "$ERR"
mint_to other.jwt '{"project_path":"acme/apq","project_id":"77"}' || die "mint"
cli "claims one character off" login --oidc --id-token-file other.jwt
check_eq "claims that miss the policy: exit 1" 1 "$RC"
check_match "claims that miss the policy: the server's reason" 'refused' "$ERR"

# ---- the PKCS#11 module with an ID token ----
head -c 3000 /dev/urandom >data
mint_to p11.jwt "$GL_CLAIMS" || die "mint"
# pkcs11-tool always logs in (the token asks for a PIN), so a PyKCS11
# process that never logs in plays the tool: two signatures each.
# p11sign NAME ENV=VALUE: signs into NAME.1.sig and NAME.2.sig; RC, out
p11sign() {
    out=$(env "$2" "${PRELOAD[@]}" "$PY" "$HERE/p11renew.py" "$MOD" \
        "$(hexid "$KE")" data "$1.1.sig" "$1.2.sig" 0 2>&1)
    RC=$?
}
p11sign p11 "SIGNET_ID_TOKEN_FILE=$WORK/p11.jwt"
check_eq "the module signs with an ID token file: exit 0" 0 "$RC" || log "$out"
check_cmd "the module's signature verifies (openssl)" openssl dgst -sha256 \
    -verify ec.pem -signature p11.1.sig data
check_cmd "... and its second one, same token" openssl dgst -sha256 \
    -verify ec.pem -signature p11.2.sig data
no_secret "the module's output" "$out"
p11sign p11b "SIGNET_ID_TOKEN_FILE=$WORK/p11.jwt"
check_eq "a second process with the same (spent) ID token cannot sign (exit 2)" 2 "$RC"
check_match "... and says why" 'libsignet-pkcs11: the service refused the ID token from the ID token file' "$out"
no_secret "the refusal" "$out"
mint_to p11c.jwt "$GL_CLAIMS" || die "mint"
p11sign p11c "SIGNET_ID_TOKEN=$(cat p11c.jwt)"
check_eq "the module signs with SIGNET_ID_TOKEN: exit 0" 0 "$RC" || log "$out"
check_cmd "... verified by openssl" openssl dgst -sha256 -verify ec.pem -signature p11c.1.sig data

# Renewal: Signet tokens of 6 s. Process A gets a fresh ID token in its
# file after the first signature, process B does not; both sign again
# after 8 s, when their first Signet token has expired.
mint_to rA.jwt "$SHORT_CLAIMS" && mint_to rB.jwt "$SHORT_CLAIMS" || die "mint"
cat >refresh.sh <<EOF
#!/usr/bin/env bash
. "$HERE/oidc_issuer.sh"
ISSUER_DIR="$WORK/issuer"
mint "\$(jq -cn --arg aud "$AUD" --argjson c '$SHORT_CLAIMS' '\$c + {aud: \$aud}')" >"$WORK/rA.jwt.new" &&
    mv "$WORK/rA.jwt.new" "$WORK/rA.jwt"
EOF
chmod +x refresh.sh
SIGNET_ID_TOKEN_FILE=$WORK/rA.jwt with_mod "$PY" "$HERE/p11renew.py" "$MOD" \
    "$(hexid "$KE")" data rA1.sig rA2.sig 8 "$WORK/refresh.sh" >rA.out 2>&1 &
PA=$!
SIGNET_ID_TOKEN_FILE=$WORK/rB.jwt with_mod "$PY" "$HERE/p11renew.py" "$MOD" \
    "$(hexid "$KE")" data rB1.sig rB2.sig 8 >rB.out 2>&1 &
PB=$!
wait "$PA"
RA=$?
wait "$PB"
RB=$?
check_eq "renewal: a fresh ID token keeps one process signing past expiry" 0 "$RA" ||
    log "$(cat rA.out)"
check_cmd "renewal: first signature verifies" openssl dgst -sha256 -verify ec.pem -signature rA1.sig data
check_cmd "renewal: signature after renewal verifies" openssl dgst -sha256 -verify ec.pem -signature rA2.sig data
check_eq "no fresh ID token: the second signature fails (exit 3)" 3 "$RB" || log "$(cat rB.out)"
check_match "no fresh ID token: not logged in" 'CKR_USER_NOT_LOGGED_IN' "$(cat rB.out)"
check_match "no fresh ID token: the module says why" \
    'expired and it holds no fresh ID token' "$(cat rB.out)"
no_secret "the renewal processes' output" "$(cat rA.out rB.out)"
check_cmd "the first signature without renewal verifies" openssl dgst -sha256 -verify ec.pem -signature rB1.sig data

check_healthy "the OIDC client tests"
finish
