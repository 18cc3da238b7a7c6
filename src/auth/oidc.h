/*
 * oidc: the OIDC issuers the operator trusts and their signing keys, and
 * the verification of an ID token against them. Keys (JWKS) are fetched
 * over HTTPS by one background thread of this module, never by a thread
 * that serves a connection or a request: a request finds the keys in
 * memory, or is answered at once (unavailable) while a fetch is queued.
 * A refresh is asked for when a token names an unknown kid, and made at
 * most once per refresh interval per issuer (plus one an hour).
 */
#ifndef SN_OIDC_H
#define SN_OIDC_H

#include <time.h>

#include <jansson.h>

#include "auth/jwt.h"
#include "store/store.h"

struct sn_oidc;

struct sn_oidc_opts {
    time_t max_token_age;    /* seconds since iat (oidc.max_token_age) */
    time_t refresh_interval; /* seconds between fetches of one issuer */
    long fetch_timeout;      /* seconds for one HTTPS fetch, all in */
};

/* Reads the registered issuers from st and starts the fetching thread,
 * which fetches each issuer's keys at once. */
sn_err sn_oidc_new(struct sn_store *st, const struct sn_oidc_opts *o,
                   struct sn_oidc **out);
void sn_oidc_free(struct sn_oidc *o);
/* Rereads the issuers after one was added or deleted; keys of issuers
 * still registered are kept, new ones are fetched. */
sn_err sn_oidc_reload(struct sn_oidc *o);

enum sn_oidc_status {
    SN_OIDC_OK,
    SN_OIDC_REFUSED,    /* the token is not acceptable: 401 */
    SN_OIDC_UNAVAILABLE /* the issuer's keys are not at hand: 503 */
};

/* A verified ID token. */
struct sn_oidc_token {
    char issuer[SN_OIDC_URL_MAX + 1];
    json_t *claims; /* owned: json_decref */
    time_t exp;
    char jti[SN_JWT_JTI_MAX + 1];
};

/*
 * Verifies an ID token (untrusted, len bytes): its issuer must be
 * registered and its signature, algorithm and claims good (jwt.h). On
 * SN_OIDC_OK *out is filled; otherwise *reason is a reason code (static),
 * for the caller. The jti is not remembered here (the exchange does it
 * last, so that a refused token is not used up).
 */
enum sn_oidc_status sn_oidc_verify(struct sn_oidc *o, const char *token,
                                   size_t len, struct sn_oidc_token *out,
                                   const char **reason);

/* State of each issuer's keys for GET /v1/oidc/issuers: a JSON object
 * {issuer id: {"keys": n, "fetched_at": t|null, "error": s|null}}. */
json_t *sn_oidc_status_json(struct sn_oidc *o);

#endif
