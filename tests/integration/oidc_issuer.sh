# oidc_issuer.sh: the test OIDC issuer (oidc_issuer.mjs, npm jose) for the
# integration tests; sourced. jose comes from tests/support/oidc (the
# server side's test issuer package) if installed there, else it is
# installed once with npm into ~/.cache/signet-test-jose.
#   issuer_start DIR TLSDIR   serve on a free loopback port; sets ISS
#   mint CLAIMS_JSON          prints an RS256 ID token (iss, iat, nbf,
#                             exp = now + 300, a fresh jti, the claims)
OIDC_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
jose_esm() {
    local d
    for d in "$OIDC_HERE/../support/oidc" "${XDG_CACHE_HOME:-$HOME/.cache}/signet-test-jose"; do
        if [ -f "$d/node_modules/jose/dist/node/esm/index.js" ]; then
            echo "$d/node_modules/jose/dist/node/esm/index.js"
            return 0
        fi
    done
    d="${XDG_CACHE_HOME:-$HOME/.cache}/signet-test-jose"
    mkdir -p "$d" && npm install --silent --prefix "$d" jose@5.9.6 >/dev/null 2>&1 &&
        echo "$d/node_modules/jose/dist/node/esm/index.js"
}
export JOSE_ESM=${JOSE_ESM:-$(jose_esm)}

issuer_start() {
    local port i
    ISSUER_DIR=$1
    mkdir -p "$ISSUER_DIR" && cp "$2/tls.key" "$2/tls.crt" "$ISSUER_DIR/" || return 1
    [ -f "$JOSE_ESM" ] || die "npm jose could not be installed"
    port=$(random_port)
    node "$OIDC_HERE/oidc_issuer.mjs" serve "$ISSUER_DIR" "$port" \
        >"$ISSUER_DIR/log" 2>&1 &
    EXTRA_PIDS+=($!)
    ISS=https://127.0.0.1:$port
    for i in $(seq 1 100); do
        curl -sS --max-time 2 --cacert "$2/ca.pem" -o /dev/null \
            "$ISS/.well-known/openid-configuration" 2>/dev/null && return 0
        sleep 0.1
    done
    die "the test issuer did not start: $(cat "$ISSUER_DIR/log")"
}

mint() { node "$OIDC_HERE/oidc_issuer.mjs" mint "$ISSUER_DIR" "$1"; }
