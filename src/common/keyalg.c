/* keyalg: name tables for the closed algorithm sets (trusted, static). */
#include "common/keyalg.h"

#include <string.h>

#include <openssl/obj_mac.h>

static const struct {
    const char *name;
    unsigned bits;
    int rsa;
} keyalgs[SN_KEY_COUNT] = {
    [SN_KEY_RSA3072] = {"rsa-3072", 3072, 1},
    [SN_KEY_RSA4096] = {"rsa-4096", 4096, 1},
    [SN_KEY_P256] = {"ecdsa-p256", 256, 0},
    [SN_KEY_P384] = {"ecdsa-p384", 384, 0},
};

static const struct {
    const char *name;
    size_t len;
    int nid;
} digests[SN_MD_COUNT] = {
    [SN_MD_SHA256] = {"sha256", 32, NID_sha256},
    [SN_MD_SHA384] = {"sha384", 48, NID_sha384},
    [SN_MD_SHA512] = {"sha512", 64, NID_sha512},
};

static const char *const schemes[] = {"pkcs1", "pss", "ecdsa"};

const char *
sn_keyalg_name(enum sn_keyalg a)
{
    return (unsigned)a < SN_KEY_COUNT ? keyalgs[a].name : "unknown";
}

sn_err
sn_keyalg_from_name(const char *name, enum sn_keyalg *out)
{
    int i;

    for (i = 0; i < SN_KEY_COUNT; i++) {
        if (strcmp(name, keyalgs[i].name) == 0) {
            *out = (enum sn_keyalg)i;
            return SN_OK;
        }
    }
    return SN_ERR_INVALID;
}

int
sn_keyalg_is_rsa(enum sn_keyalg a)
{
    return (unsigned)a < SN_KEY_COUNT && keyalgs[a].rsa;
}

unsigned
sn_keyalg_bits(enum sn_keyalg a)
{
    return (unsigned)a < SN_KEY_COUNT ? keyalgs[a].bits : 0;
}

const char *
sn_keyalg_allowed(void)
{
    return "rsa-3072, rsa-4096, ecdsa-p256, ecdsa-p384";
}

const char *
sn_digest_name(enum sn_digest d)
{
    return (unsigned)d < SN_MD_COUNT ? digests[d].name : "unknown";
}

sn_err
sn_digest_from_name(const char *name, enum sn_digest *out)
{
    int i;

    for (i = 0; i < SN_MD_COUNT; i++) {
        if (strcmp(name, digests[i].name) == 0) {
            *out = (enum sn_digest)i;
            return SN_OK;
        }
    }
    return SN_ERR_INVALID;
}

size_t
sn_digest_len(enum sn_digest d)
{
    return (unsigned)d < SN_MD_COUNT ? digests[d].len : 0;
}

int
sn_digest_nid(enum sn_digest d)
{
    return (unsigned)d < SN_MD_COUNT ? digests[d].nid : NID_undef;
}

const char *
sn_scheme_name(enum sn_scheme s)
{
    return (unsigned)s < sizeof(schemes) / sizeof(schemes[0]) ? schemes[s]
                                                              : "unknown";
}

sn_err
sn_scheme_from_name(const char *name, enum sn_scheme *out)
{
    if (strcmp(name, "pkcs1") == 0)
        *out = SN_SCHEME_PKCS1;
    else if (strcmp(name, "pss") == 0)
        *out = SN_SCHEME_PSS;
    else
        return SN_ERR_INVALID;
    return SN_OK;
}
