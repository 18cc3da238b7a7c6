/*
 * jwt: verification of an OIDC ID token, a compact JWS (RFC 7515/7519).
 * The token is untrusted. Only RS256 and ES256 are accepted, each bound
 * to its key type (an RSA key never verifies ES256, an EC key never
 * RS256, and no HMAC: the algorithm in the header cannot choose how the
 * key is used); "kid" is required; "none", HS*, and the "jku", "jwk",
 * "x5u", "x5c" and "crit" headers are refused. Claims: "iss" exact, "aud"
 * exactly the one audience (a string, or an array of that one string),
 * "exp", "nbf", "iat" within SN_JWT_LEEWAY, a maximum age, "sub" and "jti"
 * present.
 *
 * Each refusal has a reason code (sn_jwt_reason_str) that the exchange
 * returns to the caller.
 */
#ifndef SN_JWT_H
#define SN_JWT_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "auth/jwk.h"

#define SN_JWT_MAX 8192  /* bytes of token, checked before decoding */
#define SN_JWT_LEEWAY 60 /* seconds of clock skew allowed */
#define SN_JWT_JTI_MAX 256

/* code, reason code given to the caller */
#define SN_JWT_REASONS(X)                                                      \
    X(SN_JWT_OK, "ok")                                                         \
    X(SN_JWT_TOO_LARGE, "token_too_large")                                     \
    X(SN_JWT_MALFORMED, "malformed_token")                                     \
    X(SN_JWT_BAD_JSON, "malformed_json")                                       \
    X(SN_JWT_ALG, "alg_not_allowed")                                           \
    X(SN_JWT_HEADER, "header_not_allowed")                                     \
    X(SN_JWT_NO_KID, "kid_missing")                                            \
    X(SN_JWT_KID_UNKNOWN, "kid_unknown")                                       \
    X(SN_JWT_KEY_TYPE, "alg_key_mismatch")                                     \
    X(SN_JWT_SIGNATURE, "bad_signature")                                       \
    X(SN_JWT_ISS, "iss_mismatch")                                              \
    X(SN_JWT_AUD, "aud_mismatch")                                              \
    X(SN_JWT_EXPIRED, "expired")                                               \
    X(SN_JWT_NOT_YET, "not_yet_valid")                                         \
    X(SN_JWT_TOO_OLD, "too_old")                                               \
    X(SN_JWT_CLAIMS, "claims_invalid")                                         \
    X(SN_JWT_NO_JTI, "jti_missing")

enum sn_jwt_reason {
#define SN_JWT_ENUM(c, m) c,
    SN_JWT_REASONS(SN_JWT_ENUM)
#undef SN_JWT_ENUM
};

const char *sn_jwt_reason_str(enum sn_jwt_reason r);

enum sn_jwt_alg { SN_JWT_RS256 = 1, SN_JWT_ES256 = 2 };

/* A token split and decoded, not yet verified. */
struct sn_jwt {
    enum sn_jwt_alg alg;
    char kid[SN_JWK_KID_MAX + 1];
    json_t *claims;      /* the payload object (owned) */
    char *signing_input; /* "header.payload" (owned) */
    size_t signing_len;
    unsigned char *sig; /* owned */
    size_t sig_len;
};

/*
 * Splits and decodes token (len bytes): three base64url parts, a header
 * object with an allowed alg and a kid and no refused member, a payload
 * object. On SN_JWT_OK *out is the token (sn_jwt_free); its claims are
 * not verified yet: only the unverified "iss" may be used, to find which
 * issuer's keys to verify with.
 */
enum sn_jwt_reason sn_jwt_parse(const char *token, size_t len,
                                struct sn_jwt **out);
void sn_jwt_free(struct sn_jwt *t);
/* The payload's "iss" (unverified before sn_jwt_verify), or NULL. */
const char *sn_jwt_issuer(const struct sn_jwt *t);

/* What the claims must say. */
struct sn_jwt_expect {
    const char *issuer;
    const char *audience;
    time_t now;
    time_t max_age; /* seconds since iat, beyond the leeway */
};

/*
 * Verifies the signature with the key named by the token's kid in ks
 * (SN_JWT_KID_UNKNOWN if there is none), the key's type bound to the
 * algorithm, then the claims against ex. On SN_JWT_OK *exp and jti (room
 * for SN_JWT_JTI_MAX + 1) are the token's.
 */
enum sn_jwt_reason sn_jwt_verify(const struct sn_jwt *t,
                                 const struct sn_jwks *ks,
                                 const struct sn_jwt_expect *ex, time_t *exp,
                                 char *jti);

#endif
