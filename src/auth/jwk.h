/*
 * jwk: a JSON Web Key Set (RFC 7517) as an OIDC issuer publishes it, read
 * into OpenSSL public keys. The document is untrusted (fetched from the
 * network): its size, the number of keys and every field are bounded, and
 * only RSA (2048 to 8192 bits) and EC P-256 signature keys are kept; keys
 * of other types or uses are skipped.
 */
#ifndef SN_JWK_H
#define SN_JWK_H

#include <stddef.h>

#include <openssl/evp.h>

#include "common/err.h"

#define SN_JWKS_DOC_MAX (64 * 1024) /* bytes of JSON */
#define SN_JWKS_MAX 16              /* keys kept */
#define SN_JWK_KID_MAX 128

enum sn_jwk_kty { SN_JWK_RSA = 1, SN_JWK_EC_P256 = 2 };

struct sn_jwk {
    char kid[SN_JWK_KID_MAX + 1];
    enum sn_jwk_kty kty;
    EVP_PKEY *pkey; /* owned */
};

struct sn_jwks {
    struct sn_jwk keys[SN_JWKS_MAX];
    size_t n;
};

/*
 * Parses len bytes of a JWKS document into *out (sn_jwks_free). Refused:
 * a document over SN_JWKS_DOC_MAX, not an object with a "keys" array, a
 * supported key without a kid or with a kid seen before, a key whose
 * parameters do not make a valid public key.
 */
sn_err sn_jwks_parse(const char *doc, size_t len, struct sn_jwks **out);
void sn_jwks_free(struct sn_jwks *ks);
/* The key named kid, or NULL. */
const struct sn_jwk *sn_jwks_find(const struct sn_jwks *ks, const char *kid);

#endif
