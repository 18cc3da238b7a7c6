/*
 * oidcreply: pure checks and parsers for the OIDC client side, shared by
 * the signet CLI and the PKCS#11 module: the shape of an ID token (a JWS
 * in compact form; its signature is the server's to verify, not ours),
 * GitHub Actions' ID token answer {"value": "<jwt>"}, and the answer of
 * POST /v1/auth/oidc {"token", "expires_at", "keys", "trust_policy"}.
 * Input is untrusted (a CI platform's or the server's bytes): every length
 * is bounded, types are exact, and nothing here logs, so a token can never
 * reach a message. The Signet token in a grant is a secret: it is wiped
 * by sn_oidc_grant_cleanup.
 */
#ifndef SN_OIDCREPLY_H
#define SN_OIDCREPLY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "common/err.h"

/* Longest ID token accepted (GitHub's and GitLab's are 1-2 KiB). */
#define SN_IDTOKEN_MAX 16384
/* Longest answer read from a CI platform's ID token endpoint. */
#define SN_IDTOKEN_MAX_REPLY (64 * 1024)
/* Longest Signet token an exchange may return (API tokens are < 128). */
#define SN_OIDC_TOKEN_MAX 512
/* A trust policy id as shown: printable ASCII. */
#define SN_OIDC_POLICY_MAX 64

/* What an exchange granted. */
struct sn_oidc_grant {
    char *token; /* the short-lived Signet token (secret) */
    time_t expires_at;
    char expires_text[32]; /* RFC 3339, as the server said it */
    char trust_policy[SN_OIDC_POLICY_MAX + 1]; /* "" if not given */
    size_t nkeys; /* keys the token may use (0 if not listed) */
};

/*
 * SN_OK if s (len bytes, no NUL needed) looks like a compact JWS: three
 * non-empty base64url parts joined by two dots, at most SN_IDTOKEN_MAX
 * bytes. The signature is not checked: only the server can.
 */
sn_err sn_idtoken_check(const char *s, size_t len);

/*
 * Trims trailing whitespace in place (a file or variable often ends in a
 * newline) and checks the rest with sn_idtoken_check.
 */
sn_err sn_idtoken_trim_check(char *s);

/*
 * GitHub Actions' answer {"value": "<jwt>", ...}: *jwt is a malloc'd,
 * checked copy of the token (a secret: free with sn_secret_free).
 */
sn_err sn_oidc_parse_actions(const uint8_t *data, size_t len, char **jwt);

/*
 * The exchange's 2xx answer. token (printable ASCII without spaces, at
 * most SN_OIDC_TOKEN_MAX) and expires_at (RFC 3339 text or seconds since
 * the epoch) are required; keys (an array of ids or of objects) and
 * trust_policy (an id, or an object with "id") are optional. *out is
 * zeroed first and filled only on success.
 */
sn_err sn_oidc_parse_grant(const uint8_t *data, size_t len,
                           struct sn_oidc_grant *out);
void sn_oidc_grant_cleanup(struct sn_oidc_grant *g);

/*
 * Wipes the string member key of obj in place (jansson frees without
 * wiping); anything else is left alone. For the tokens of parsed answers.
 */
void sn_oidc_wipe_member(json_t *obj, const char *key);

#endif
