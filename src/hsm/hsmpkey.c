/*
 * hsmpkey: OpenSSL 3.0 offers two ways to put an external signer behind an
 * EVP_PKEY: a provider, or the legacy RSA_METHOD / EC_KEY_METHOD. The
 * legacy one is a few dozen lines and is what this file uses, so it alone
 * opts back into the deprecated API. Inputs come from OpenSSL's own
 * signing code: a digest NID and a digest of that length.
 */
#undef OPENSSL_NO_DEPRECATED
#undef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 10101
#define OPENSSL_SUPPRESS_DEPRECATED

#include "hsm/hsmpkey.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

struct ref {
    struct sn_hsm_token *tok;
    char id[65];
    enum sn_keyalg alg;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static RSA_METHOD *rsa_meth;
static EC_KEY_METHOD *ec_meth;
static int rsa_idx = -1, ec_idx = -1;

static void
ref_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
         void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

static int
md_from_nid(int nid, enum sn_digest *md)
{
    int i;

    for (i = 0; i < SN_MD_COUNT; i++) {
        if (sn_digest_nid((enum sn_digest)i) == nid) {
            *md = (enum sn_digest)i;
            return 1;
        }
    }
    return 0;
}

static int
md_from_len(size_t len, enum sn_digest *md)
{
    int i;

    for (i = 0; i < SN_MD_COUNT; i++) {
        if (sn_digest_len((enum sn_digest)i) == len) {
            *md = (enum sn_digest)i;
            return 1;
        }
    }
    return 0;
}

static int
rsa_sign(int type, const unsigned char *m, unsigned int m_len,
         unsigned char *sigret, unsigned int *siglen, const RSA *rsa)
{
    const struct ref *ref = RSA_get_ex_data(rsa, rsa_idx);
    uint8_t *sig = NULL;
    size_t len = 0;
    enum sn_digest md;
    int ok = 0;

    if (ref == NULL || !md_from_nid(type, &md) || m_len != sn_digest_len(md))
        return 0;
    if (sn_hsm_sign(ref->tok, ref->id, ref->alg, md, SN_SCHEME_PKCS1, m, m_len,
                    &sig, &len) == SN_OK &&
        len <= (size_t)RSA_size(rsa)) {
        memcpy(sigret, sig, len);
        *siglen = (unsigned int)len;
        ok = 1;
    }
    free(sig);
    return ok;
}

static int
ec_sign(int type, const unsigned char *dgst, int dlen, unsigned char *sigret,
        unsigned int *siglen, const BIGNUM *kinv, const BIGNUM *r,
        EC_KEY *eckey)
{
    const struct ref *ref = EC_KEY_get_ex_data(eckey, ec_idx);
    uint8_t *sig = NULL;
    size_t len = 0;
    enum sn_digest md;
    int ok = 0;

    (void)type;
    (void)kinv;
    (void)r;
    if (ref == NULL || dlen <= 0 || !md_from_len((size_t)dlen, &md))
        return 0;
    if (sn_hsm_sign(ref->tok, ref->id, ref->alg, md, SN_SCHEME_ECDSA, dgst,
                    (size_t)dlen, &sig, &len) == SN_OK &&
        len <= (size_t)ECDSA_size(eckey)) {
        memcpy(sigret, sig, len);
        *siglen = (unsigned int)len;
        ok = 1;
    }
    free(sig);
    return ok;
}

static void
init_methods(void)
{
    rsa_idx = RSA_get_ex_new_index(0, NULL, NULL, NULL, ref_free);
    ec_idx = EC_KEY_get_ex_new_index(0, NULL, NULL, NULL, ref_free);
    if ((rsa_meth = RSA_meth_dup(RSA_get_default_method())) != NULL) {
        RSA_meth_set1_name(rsa_meth, "signet-hsm");
        RSA_meth_set_sign(rsa_meth, rsa_sign);
    }
    if ((ec_meth = EC_KEY_METHOD_new(EC_KEY_get_default_method())) != NULL)
        EC_KEY_METHOD_set_sign(ec_meth, ec_sign, NULL, NULL);
}

sn_err
sn_hsm_pkey(struct sn_hsm_token *tok, const char *id, enum sn_keyalg alg,
            const uint8_t *spki, size_t spki_len, EVP_PKEY **out)
{
    const unsigned char *p = spki;
    EVP_PKEY *pub = NULL, *pk = NULL;
    struct ref *ref = NULL;
    RSA *rsa = NULL;
    EC_KEY *ec = NULL;
    sn_err r = SN_ERR_CRYPTO;

    *out = NULL;
    pthread_once(&once, init_methods);
    if (rsa_meth == NULL || ec_meth == NULL || rsa_idx < 0 || ec_idx < 0)
        return SN_ERR_CRYPTO;
    if (strlen(id) >= sizeof(ref->id))
        return SN_ERR_INVALID;
    if ((pub = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL ||
        p != spki + spki_len)
        goto out;
    if ((ref = calloc(1, sizeof(*ref))) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    ref->tok = tok;
    ref->alg = alg;
    memcpy(ref->id, id, strlen(id) + 1);
    if ((pk = EVP_PKEY_new()) == NULL)
        goto out;
    if (sn_keyalg_is_rsa(alg)) {
        if ((rsa = EVP_PKEY_get1_RSA(pub)) == NULL ||
            RSA_set_method(rsa, rsa_meth) != 1 ||
            RSA_set_ex_data(rsa, rsa_idx, ref) != 1)
            goto out;
        ref = NULL; /* owned by rsa */
        if (EVP_PKEY_assign_RSA(pk, rsa) != 1)
            goto out;
        rsa = NULL;
    } else {
        if ((ec = EVP_PKEY_get1_EC_KEY(pub)) == NULL ||
            EC_KEY_set_method(ec, ec_meth) != 1 ||
            EC_KEY_set_ex_data(ec, ec_idx, ref) != 1)
            goto out;
        ref = NULL;
        if (EVP_PKEY_assign_EC_KEY(pk, ec) != 1)
            goto out;
        ec = NULL;
    }
    *out = pk;
    pk = NULL;
    r = SN_OK;
out:
    free(ref);
    RSA_free(rsa);
    EC_KEY_free(ec);
    EVP_PKEY_free(pk);
    EVP_PKEY_free(pub);
    return r;
}
