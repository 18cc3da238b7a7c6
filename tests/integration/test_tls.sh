#!/usr/bin/env bash
# TLS of the API listener, judged by openssl s_client: TLS 1.3, and TLS 1.2
# with ECDHE and AEAD suites only. CBC suites (with SHA-1 or SHA-256 MACs)
# and TLS 1.1 fail the handshake; AES-GCM and ChaCha20-Poly1305 over
# TLS 1.2, and TLS 1.3, complete it. The server key is ECDSA P-256
# (crypto/tlsgen.c), so the suites named are the ECDSA ones.
. "$(dirname "$0")/lib.sh"

server_start

# hs WHAT EXPECT(ok|fails) s_client args...
hs() {
    local what=$1 want=$2 out rc got
    shift 2
    out=$(openssl s_client -connect "127.0.0.1:$SERVER_PORT" -CAfile "$SERVER_CA" \
        -servername 127.0.0.1 "$@" </dev/null 2>&1)
    rc=$?
    got=fails
    [ $rc -eq 0 ] && [[ "$out" == *"Verify return code: 0 (ok)"* ]] && got=ok
    check_eq "$what ($*)" "$want" "$got" ||
        printf '%s\n' "$out" | grep -E 'Cipher is|Protocol|error|alert' | head -5 >&2
}

hs "TLS 1.2, ECDHE-ECDSA AES-128-CBC with SHA-1" fails -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA
hs "TLS 1.2, ECDHE-ECDSA AES-256-CBC with SHA-1" fails -tls1_2 -cipher ECDHE-ECDSA-AES256-SHA
hs "TLS 1.2, ECDHE-ECDSA AES-128-CBC with SHA-256" fails -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256
hs "TLS 1.2, every non-AEAD suite" fails -tls1_2 -cipher 'ALL:!AESGCM:!CHACHA20:!AESCCM:!ARIAGCM:@SECLEVEL=0'
hs "TLS 1.1" fails -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
hs "TLS 1.2, AES-GCM" ok -tls1_2 -cipher AESGCM
hs "TLS 1.2, ECDHE-ECDSA ChaCha20-Poly1305" ok -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305
hs "TLS 1.3" ok -tls1_3

# The clients Signet ships still connect (libcurl over OpenSSL).
req GET /v1/whoami "$ADMIN"
check_status "curl with the defaults" 200
check_healthy
finish
