/*
 * keyalg: the closed sets Signet signs with: key algorithms, digest
 * algorithms and RSA padding schemes, with their names on the wire.
 */
#ifndef SN_KEYALG_H
#define SN_KEYALG_H

#include <stddef.h>

#include "common/err.h"

enum sn_keyalg {
    SN_KEY_RSA3072,
    SN_KEY_RSA4096,
    SN_KEY_P256,
    SN_KEY_P384,
    SN_KEY_COUNT
};

enum sn_digest { SN_MD_SHA256, SN_MD_SHA384, SN_MD_SHA512, SN_MD_COUNT };

enum sn_scheme { SN_SCHEME_PKCS1, SN_SCHEME_PSS, SN_SCHEME_ECDSA };

/* Wire names: "rsa-3072", "ecdsa-p256", ... */
const char *sn_keyalg_name(enum sn_keyalg a);
sn_err sn_keyalg_from_name(const char *name, enum sn_keyalg *out);
int sn_keyalg_is_rsa(enum sn_keyalg a);
/* RSA modulus bits or EC field bits. */
unsigned sn_keyalg_bits(enum sn_keyalg a);
/* "rsa-3072, rsa-4096, ecdsa-p256, ecdsa-p384" */
const char *sn_keyalg_allowed(void);

/* Wire names: "sha256", "sha384", "sha512". */
const char *sn_digest_name(enum sn_digest d);
sn_err sn_digest_from_name(const char *name, enum sn_digest *out);
size_t sn_digest_len(enum sn_digest d);
/* OpenSSL's NID for the digest. */
int sn_digest_nid(enum sn_digest d);

/* Wire names: "pkcs1", "pss", "ecdsa". */
const char *sn_scheme_name(enum sn_scheme s);
sn_err sn_scheme_from_name(const char *name, enum sn_scheme *out);

#endif
