#!/usr/bin/env bash
# OIDC workload identity, server side (issue 16). A real issuer on loopback
# (tests/support/oidc/issuer.mjs: HTTPS discovery + JWKS, every token minted
# by the npm `jose` package) is registered by the operator; subscriber A
# binds the workload "acme/app, id 123456, refs/tags/v*, environment
# release" to key K1 with a trust policy.
#  - An ID token is exchanged once (POST /v1/auth/oidc) for a short-lived
#    token limited to K1 and 'sign'; it signs (judged by openssl pkeyutl),
#    and the signature's audit record names the issuer and the subject. It
#    cannot use K2 or create keys; it expires after the policy's lifetime.
#  - Refused, each with its status and reason code, nothing minted (A's
#    audit log has one oidc_exchange record per success only): alg none,
#    HS256 keyed with the RSA public key, an unlisted key, a known kid
#    with another key, wrong iss, wrong and multiple aud, expired, not yet
#    valid, too old, replayed jti (also after a restart), missing kid,
#    claims one character off, a renamed repository and a re-created one
#    (pinned repository_id), a ref outside the glob, oversize tokens,
#    malformed base64url and JSON.
#  - Key rotation is picked up by a refresh; an issuer that is down or
#    slow answers 503 at once, and the service keeps serving meanwhile.
#  - Of several matching policies the one with the most claim rules wins.
. "$(dirname "$0")/lib.sh"

ISSUER_DIR=$(cd "$(dirname "$0")/../support/oidc" && pwd)
command -v node >/dev/null && command -v npm >/dev/null ||
    die "node and npm are needed (make deps)"
if [ ! -d "$ISSUER_DIR/node_modules/jose" ]; then
    (cd "$ISSUER_DIR" && npm ci --no-audit --no-fund --silent) >"$WORK/npm.log" 2>&1 ||
        die "npm ci in $ISSUER_DIR failed: $(tail -5 "$WORK/npm.log")"
fi

# ---- the issuer's TLS: its own CA, a certificate for 127.0.0.1 ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=OIDC test CA" -keyout "$WORK/oidc-ca.key" -out "$WORK/oidc-ca.pem" \
    2>/dev/null || die "openssl: test CA"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$WORK/oidc.key" -out "$WORK/oidc.csr" 2>/dev/null || die "openssl: CSR"
printf 'subjectAltName=IP:127.0.0.1\n' >"$WORK/oidc.ext"
openssl x509 -req -in "$WORK/oidc.csr" -CA "$WORK/oidc-ca.pem" -CAkey "$WORK/oidc-ca.key" \
    -CAcreateserial -days 2 -extfile "$WORK/oidc.ext" -out "$WORK/oidc.pem" 2>/dev/null ||
    die "openssl: issuer certificate"

node "$ISSUER_DIR/issuer.mjs" "$WORK/oidc.pem" "$WORK/oidc.key" >"$WORK/issuer.out" 2>&1 &
EXTRA_PIDS+=($!)
for _ in $(seq 1 100); do
    grep -q '^READY' "$WORK/issuer.out" && break
    sleep 0.1
done
IPORT=$(awk '/^READY/ {print $2}' "$WORK/issuer.out")
[ -n "$IPORT" ] || die "the test issuer did not start: $(cat "$WORK/issuer.out")"
ISS=https://127.0.0.1:$IPORT
log "test issuer $ISS"

# iss_post PATH JSON: the issuer's own test routes.
iss_post() {
    curl -sS --max-time 10 --cacert "$WORK/oidc-ca.pem" -H 'Content-Type: application/json' \
        --data-binary "$2" "$ISS$1"
}
mint() { iss_post /mint "${1:-{\}}"; }

server_init
set_conf oidc.refresh_interval 3
set_conf oidc.fetch_timeout 3
server_start

# ---- the operator registers the issuer ----
A=$(new_subscriber alpha) || exit 1
TA=$(new_token "$A" '"roles":["manage","sign"]') || exit 1
K1=$(new_key "$TA" ecdsa-p256 one) || exit 1
K2=$(new_key "$TA" ecdsa-p256 two) || exit 1
B=$(new_subscriber beta) || exit 1
TB=$(new_token "$B" '"roles":["manage","sign"]') || exit 1
KB=$(new_key "$TB" ecdsa-p256 b) || exit 1

ISSUER_BODY="{\"issuer\":\"$ISS\",\"audience\":\"signet-test\",\"ca_file\":\"$WORK/oidc-ca.pem\"}"
req_json POST /v1/oidc/issuers "$TA" "$ISSUER_BODY"
check_error "a subscriber registers an issuer" 403 forbidden
req_json POST /v1/oidc/issuers "$ADMIN" '{"issuer":"http://127.0.0.1/","audience":"x"}'
check_error "an issuer that is not https" 400 invalid_field
req_json POST /v1/oidc/issuers "$ADMIN" "$ISSUER_BODY"
check_status "the operator registers the issuer" 201
ISS_ID=$(jget .id)
req_json POST /v1/oidc/issuers "$ADMIN" "$ISSUER_BODY"
check_error "the same issuer twice" 409 conflict

# keys_of ISSUER_ID: how many keys signetd holds for it.
keys_of() {
    req GET /v1/oidc/issuers "$ADMIN"
    jget ".issuers[] | select(.id == \"$1\") | .keys.keys"
}
for _ in $(seq 1 50); do
    [ "$(keys_of "$ISS_ID")" = 2 ] && break
    sleep 0.2
done
check_eq "signetd fetched the issuer's two keys (discovery, JWKS)" 2 "$(keys_of "$ISS_ID")"
req GET /v1/oidc/issuers "$TA"
check_eq "a subscriber sees the issuer and its audience" "signet-test" \
    "$(jget ".issuers[] | select(.issuer == \"$ISS\") | .audience")"

# ---- trust policies ----
RULES='"repository":"acme/app","repository_id":"123456","ref":"refs/tags/v*","environment":"release"'
req_json POST /v1/trust-policies "$TA" \
    "{\"issuer\":\"$ISS\",\"claims\":{},\"keys\":[\"$K1\"]}"
check_error "a policy with no claim rule" 400 invalid_field
req_json POST /v1/trust-policies "$TA" \
    "{\"issuer\":\"$ISS\",\"claims\":{\"repository\":\"acme/*\"},\"keys\":[\"$K1\"]}"
check_error "a '*' outside 'ref'" 400 invalid_field
req_json POST /v1/trust-policies "$TA" \
    "{\"issuer\":\"$ISS\",\"claims\":{\"repository_id\":\"12x\"},\"keys\":[\"$K1\"]}"
check_error "a repository_id that is not a number" 400 invalid_field
req_json POST /v1/trust-policies "$TA" \
    "{\"issuer\":\"$ISS\",\"claims\":{$RULES},\"keys\":[\"$KB\"]}"
check_error "a policy naming another subscriber's key" 400 invalid_field
req_json POST /v1/trust-policies "$TA" \
    "{\"issuer\":\"$ISS\",\"claims\":{$RULES},\"keys\":[\"$K1\"],\"token_lifetime\":901}"
check_error "a token lifetime over 900 s" 400 invalid_field
req_json POST /v1/trust-policies "$TA" \
    "{\"issuer\":\"https://unknown.example\",\"claims\":{$RULES},\"keys\":[\"$K1\"]}"
check_error "a policy for an unregistered issuer" 400 invalid_field
req_json POST /v1/trust-policies "$ADMIN" \
    "{\"issuer\":\"$ISS\",\"claims\":{$RULES},\"keys\":[\"$K1\"]}"
check_error "the operator writes a subscriber's policy" 403 forbidden
req_json POST /v1/trust-policies "$TA" \
    "{\"issuer\":\"$ISS\",\"claims\":{$RULES},\"keys\":[\"$K1\"],\"roles\":[\"sign\"],\"token_lifetime\":600}"
check_status "A binds the release workflow to K1" 201
P1=$(jget .id)
req_json POST /v1/trust-policies "$TA" \
    "{\"issuer\":\"$ISS\",\"claims\":{\"repository\":\"acme/app\",\"environment\":\"short\"},\"keys\":[\"$K1\"],\"token_lifetime\":3}"
check_status "A binds a short-lived workflow to K1" 201
P2=$(jget .id)
req GET /v1/trust-policies "$TB"
check_eq "B sees none of A's policies" 0 "$(jget '.trust_policies | length')"
req DELETE "/v1/trust-policies/$P1" "$TB"
check_error "B deletes A's policy" 404 not_found

# exchange TOKEN: POST /v1/auth/oidc without a bearer token.
exchange() { req_json POST /v1/auth/oidc - "{\"token\":\"$1\"}"; }
# minted: how many exchanges A's audit log shows.
minted() {
    req GET "/v1/audit?limit=1000" "$TA"
    jget '[.records[] | select(.action == "oidc_exchange")] | length'
}
# refused WHAT STATUS REASON: the exchange answer just received.
refused() {
    CHECKS=$((CHECKS + 1))
    if [ "$STATUS" = "$2" ] && [ "$(jget .reason)" = "$3" ] && [ "$(jget .token)" = null ]; then
        pass "$1 -> $2 $3"
        return 0
    fi
    fail "$1"$'\n'"    expected: HTTP $2 reason $3, no token"$'\n'"    actual:   HTTP $STATUS $(printf '%s' "$BODY" | head -c 400)"
}

openssl dgst -sha256 -binary <<<"oidc" >"$WORK/d.bin"
SIGN_BODY="{\"digest_algorithm\":\"sha256\",\"digest\":\"$(b64 "$WORK/d.bin")\"}"

# ---- happy path ----
T=$(mint) || die "mint"
exchange "$T"
check_status "an RS256 ID token of the release workflow is exchanged" 200
XT=$(jget .token)
XT_ID=$(jget .token_id)
check_eq "the answer names the trust policy" "$P1" "$(jget .trust_policy)"
check_eq "the exchanged token is limited to K1" "$K1" "$(jget '.keys | join(" ")')"
check_eq "it lives the policy's 600 s" 600 "$(jget .expires_in)"
req_json POST "/v1/keys/$K1/sign" "$XT" "$SIGN_BODY"
if check_status "the exchanged token signs with K1" 200; then
    unb64 "$(jget .signature)" "$WORK/sig"
    check_cmd "openssl pkeyutl verifies the signature" openssl pkeyutl -verify -pubin \
        -inkey "$WORK/pub.$K1.pem" -sigfile "$WORK/sig" -in "$WORK/d.bin"
fi
req GET "/v1/audit?key=$K1&order=desc&limit=10" "$TA"
PRINCIPAL=$(jget "[.records[] | select(.action == \"sign\" and .token == \"$XT_ID\")][0].principal")
check_match "the signature's audit record names the trust policy" "policy=$P1" "$PRINCIPAL"
check_match "... the issuer" "iss=$ISS " "$PRINCIPAL"
check_match "... the subject" "sub=repo:acme/app:environment:release" "$PRINCIPAL"
check_match "... and the bound repository_id" "repository_id=123456" "$PRINCIPAL"
# The signing policy (issue 16) sees the exchange as strong, and names
# its trust policy among the principals.
req_json PUT "/v1/keys/$K1/policy" "$TA" '{"require_strong_auth":true}'
check_status "A's K1 wants strong auth" 200
req_json POST "/v1/keys/$K1/sign" "$TA" "$SIGN_BODY"
check_error "A's static token does not sign with K1" 403 strong_auth_required
# Changing a policy that wants strong auth takes a strong principal too.
req_json PUT "/v1/keys/$K1/policy" "$TA" '{"require_strong_auth":false}'
check_error "nor does it lift the requirement" 403 strong_auth_required
mfa_person olga '["manage"]' "$ADMIN" "$A" && SA=$P_TOKEN
req_json PUT "/v1/keys/$K1/policy" "$SA" \
    "{\"require_strong_auth\":true,\"principals\":{\"trust_policies\":[\"$P1\"]}}"
check_status "... and only P1's tokens" 200
req_json POST "/v1/keys/$K1/sign" "$XT" "$SIGN_BODY"
check_status "the exchanged token of P1 signs under that policy" 200
req GET "/v1/audit?key=$K1&order=desc&limit=10" "$TA"
check_match "the policy's decision is audited with the exchange's principal" \
    "allow key;oidc policy=$P1 " \
    "$(jget "[.records[] | select(.action == \"sign\" and .token == \"$XT_ID\")][0] | \"\\(.policy);\\(.principal)\"")"
req DELETE "/v1/keys/$K1/policy" "$SA"
check_status "K1's policy removed (a manager's MFA session)" 200
req_json POST "/v1/keys/$K2/sign" "$XT" "$SIGN_BODY"
check_ne "the exchanged token cannot sign with K2 (outside the policy)" 200 "$STATUS"
req_json POST /v1/keys "$XT" '{"algorithm":"ecdsa-p256","label":"more"}'
check_error "the exchanged token cannot create keys" 403 forbidden
req_json POST /v1/trust-policies "$XT" \
    "{\"issuer\":\"$ISS\",\"claims\":{\"repository\":\"x\"},\"keys\":[\"$K2\"]}"
check_error "the exchanged token cannot write trust policies" 403 forbidden
T2=$(mint '{"alg":"ES256"}')
exchange "$T2"
check_status "an ES256 ID token is exchanged" 200
N_OK=2
check_eq "two exchanges in A's audit log" "$N_OK" "$(minted)"

# ---- refusals: status, reason, nothing minted ----
exchange "$T"
refused "the same ID token again (replayed jti)" 401 replayed
exchange "$(mint '{"alg":"none"}')"
refused "alg none" 401 alg_not_allowed
exchange "$(mint '{"alg":"HS256-pub"}')"
refused "HS256 keyed with the RSA public key" 401 alg_not_allowed
exchange "$(mint '{"alg":"ES256","key":"ec-1","kid":"rsa-1"}')"
refused "an ES256 token naming the RSA key's kid" 401 alg_key_mismatch
exchange "$(mint '{"key":"rogue","kid":"rsa-1"}')"
refused "a known kid, signed by another key" 401 bad_signature
exchange "$(mint '{"key":"rogue"}')"
CHECKS=$((CHECKS + 1))
if { [ "$STATUS" = 401 ] || [ "$STATUS" = 503 ]; } && [ "$(jget .reason)" = kid_unknown ]; then
    pass "a token signed by an unlisted key -> $STATUS kid_unknown"
else
    fail "a token signed by an unlisted key"$'\n'"    expected: HTTP 401 or 503, kid_unknown"$'\n'"    actual:   HTTP $STATUS $BODY"
fi
exchange "$(mint '{"iss":"https://evil.example"}')"
refused "wrong iss" 401 issuer_unknown
exchange "$(mint "{\"iss\":\"$ISS/\"}")"
refused "iss with a trailing slash" 401 issuer_unknown
exchange "$(mint '{"aud":"signet-tesT"}')"
refused "wrong aud" 401 aud_mismatch
exchange "$(mint '{"aud":["signet-test","other"]}')"
refused "multiple aud" 401 aud_mismatch
exchange "$(mint '{"exp":-120}')"
refused "expired (beyond the 60 s leeway)" 401 expired
exchange "$(mint '{"nbf":300}')"
refused "not yet valid" 401 not_yet_valid
exchange "$(mint '{"iat":-1200,"exp":300}')"
refused "too old (iat 20 min ago)" 401 too_old
exchange "$(mint '{"kid":null}')"
refused "missing kid" 401 kid_missing
exchange "$(mint '{"claims":{"jti":null}}')"
refused "missing jti" 401 jti_missing
exchange "$(mint '{"claims":{"repository":"acme/apq"}}')"
refused "repository one character off" 403 policy_mismatch
exchange "$(mint '{"claims":{"environment":"releasE"}}')"
refused "environment one character off" 403 policy_mismatch
exchange "$(mint '{"claims":{"repository":"acme/app2","repository_id":"123456"}}')"
refused "a renamed repository" 403 policy_mismatch
exchange "$(mint '{"claims":{"repository_id":"123457"}}')"
refused "a re-created repository (same name, new repository_id)" 403 policy_mismatch
exchange "$(mint '{"claims":{"ref":"refs/heads/main"}}')"
refused "a ref outside refs/tags/v*" 403 policy_mismatch
exchange "$(mint '{"aud":"signet-test","claims":{"pad":"'"$(head -c 9000 /dev/zero | tr '\0' a)"'"}}')"
refused "an oversize token (over 8 KiB)" 401 token_too_large
exchange "$(head -c 20000 /dev/zero | tr '\0' a)"
refused "20 KB of junk" 401 token_too_large
exchange 'eyJhbGciOiJSUzI1NiJ9$.e30.AAAA'
refused "malformed base64url" 401 malformed_token
exchange "$(printf '{not json' | base64 -w0 | tr '+/' '-_' | tr -d '=').e30.AAAA"
refused "a header that is not JSON" 401 malformed_json
exchange "a.b"
refused "two parts" 401 malformed_token
req_json POST /v1/auth/oidc - '{"token":42}'
check_error "a token that is not a string" 400 invalid_field
req_json POST /v1/auth/oidc - '{"token":'
check_error "a body that is not JSON" 400 invalid_json
check_eq "no refused exchange minted anything" "$N_OK" "$(minted)"
req GET "/v1/audit?key=$K1&limit=1000" "$TA"
check_eq "K1 made exactly two signatures (the happy path's, the policy's)" 2 "$(jget '[.records[] | select(.action == "sign" and .result == "ok")] | length')"

# ---- the most specific policy wins ----
req_json POST /v1/trust-policies "$TA" \
    "{\"issuer\":\"$ISS\",\"claims\":{\"repository\":\"acme/app\"},\"keys\":[\"$K2\"]}"
check_status "A adds a broad policy for K2" 201
P3=$(jget .id)
exchange "$(mint)"
check_eq "the policy with the most rules is picked" "$P1" "$(jget .trust_policy)"
exchange "$(mint '{"claims":{"environment":"staging"}}')"
check_eq "the broad policy admits what only it matches" "$P3" "$(jget .trust_policy)"
req DELETE "/v1/trust-policies/$P3" "$TA"
check_status "A deletes the broad policy" 200
exchange "$(mint '{"claims":{"environment":"staging"}}')"
refused "after its deletion" 403 policy_mismatch
N_OK=$((N_OK + 2))

# ---- the exchanged token expires after the policy's lifetime ----
exchange "$(mint '{"claims":{"environment":"short"}}')"
check_eq "the short policy is picked" "$P2" "$(jget .trust_policy)"
ST=$(jget .token)
N_OK=$((N_OK + 1))
req_json POST "/v1/keys/$K1/sign" "$ST" "$SIGN_BODY"
check_status "the 3 s token signs at once" 200
sleep 4
req_json POST "/v1/keys/$K1/sign" "$ST" "$SIGN_BODY"
check_error "the 3 s token, 4 s later" 401 unauthorized
ST_ID=$(printf '%s' "$ST" | cut -d_ -f2)
req GET "/v1/audit?order=desc&limit=50" "$TA"
check_match "its refusal is audited with the exchange's principal" \
    "^oidc policy=$P2 iss=" \
    "$(jget "[.records[] | select(.result == \"denied\" and .token == \"$ST_ID\")][0].principal")"

# ---- key rotation: a new kid is picked up by a refresh ----
iss_post /rotate '{}' >/dev/null
sleep 3.2
got=
for _ in $(seq 1 25); do
    exchange "$(mint '{"key":"rsa-2"}')"
    [ "$STATUS" = 200 ] && { got=200; break; }
    [ "$STATUS" = 503 ] && [ "$(jget .reason)" = kid_unknown ] || break
    sleep 0.2
done
check_eq "a token of the rotated key is exchanged once signetd refreshed" 200 "${got:-$STATUS $BODY}"
N_OK=$((N_OK + 1))

# ---- issuer down, issuer slow: 503 at once, the rest keeps serving ----
now_ms() { date +%s%3N; }
iss_post /mode '{"mode":"down"}' >/dev/null
req_json POST /v1/oidc/issuers "$ADMIN" \
    "{\"issuer\":\"$ISS/down\",\"audience\":\"signet-test\",\"jwks_uri\":\"$ISS/jwks\",\"ca_file\":\"$WORK/oidc-ca.pem\"}"
check_status "an issuer that is down is registered" 201
sleep 0.5
t0=$(now_ms)
exchange "$(mint "{\"iss\":\"$ISS/down\"}")"
t1=$(now_ms)
refused "a token of the issuer that is down" 503 issuer_unavailable
check_eq "answered within 2 s" 1 "$(( t1 - t0 < 2000 ))"
iss_post /mode '{"mode":"slow"}' >/dev/null
req_json POST /v1/oidc/issuers "$ADMIN" \
    "{\"issuer\":\"$ISS/slow\",\"audience\":\"signet-test\",\"jwks_uri\":\"$ISS/jwks\",\"ca_file\":\"$WORK/oidc-ca.pem\"}"
check_status "a slow issuer is registered" 201
sleep 0.5
t0=$(now_ms)
exchange "$(mint "{\"iss\":\"$ISS/slow\"}")"
t1=$(now_ms)
refused "a token of the slow issuer, its fetch under way" 503 issuer_unavailable
check_eq "answered within 2 s" 1 "$(( t1 - t0 < 2000 ))"
exchange "$(mint)"
check_status "the first issuer's tokens are still exchanged meanwhile" 200
N_OK=$((N_OK + 1))
req_json POST "/v1/keys/$K1/sign" "$TA" "$SIGN_BODY"
check_status "signing goes on meanwhile" 200
check_healthy "a slow and a down issuer"
iss_post /mode '{"mode":"ok"}' >/dev/null
check_eq "every success, and nothing else, in A's audit log" "$N_OK" "$(minted)"

# ---- a jti is remembered across a restart ----
T3=$(mint)
exchange "$T3"
check_status "a token is exchanged before the restart" 200
server_stop
server_start
for _ in $(seq 1 50); do
    [ "$(keys_of "$ISS_ID")" -ge 2 ] 2>/dev/null && break
    sleep 0.2
done
exchange "$T3"
refused "the same token after a restart (replayed jti)" 401 replayed
check_healthy "the OIDC tests"
finish
