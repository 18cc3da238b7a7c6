/*
 * placeholder: like hsm/hsmpkey.c, the legacy RSA_METHOD / EC_KEY_METHOD
 * route (a few lines), so this file alone opts back into the deprecated
 * API.
 */
#undef OPENSSL_NO_DEPRECATED
#undef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT 10101
#define OPENSSL_SUPPRESS_DEPRECATED

#include "crypto/placeholder.h"

#include <pthread.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/rsa.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static RSA_METHOD *rsa_meth;
static EC_KEY_METHOD *ec_meth;

static int
rsa_sign(int type, const unsigned char *m, unsigned int m_len,
         unsigned char *sigret, unsigned int *siglen, const RSA *rsa)
{
    (void)type;
    (void)m;
    (void)m_len;
    memset(sigret, 0, (size_t)RSA_size(rsa));
    *siglen = (unsigned int)RSA_size(rsa);
    return 1;
}

static int
ec_sign(int type, const unsigned char *dgst, int dlen, unsigned char *sigret,
        unsigned int *siglen, const BIGNUM *kinv, const BIGNUM *r,
        EC_KEY *eckey)
{
    /* ECDSA-Sig-Value { r 1, s 1 } */
    static const unsigned char dummy[] = {0x30, 0x06, 0x02, 0x01,
                                          0x01, 0x02, 0x01, 0x01};

    (void)type;
    (void)dgst;
    (void)dlen;
    (void)kinv;
    (void)r;
    (void)eckey;
    memcpy(sigret, dummy, sizeof(dummy));
    *siglen = sizeof(dummy);
    return 1;
}

static void
init_methods(void)
{
    if ((rsa_meth = RSA_meth_dup(RSA_get_default_method())) != NULL) {
        RSA_meth_set1_name(rsa_meth, "signet-placeholder");
        RSA_meth_set_sign(rsa_meth, rsa_sign);
    }
    if ((ec_meth = EC_KEY_METHOD_new(EC_KEY_get_default_method())) != NULL)
        EC_KEY_METHOD_set_sign(ec_meth, ec_sign, NULL, NULL);
}

sn_err
sn_placeholder_pkey(EVP_PKEY *pub, EVP_PKEY **out)
{
    EVP_PKEY *pk = NULL;
    RSA *rsa = NULL;
    EC_KEY *ec = NULL;
    sn_err r = SN_ERR_CRYPTO;

    *out = NULL;
    pthread_once(&once, init_methods);
    if (rsa_meth == NULL || ec_meth == NULL || pub == NULL)
        return SN_ERR_CRYPTO;
    if ((pk = EVP_PKEY_new()) == NULL)
        goto out;
    if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
        if ((rsa = EVP_PKEY_get1_RSA(pub)) == NULL ||
            RSA_set_method(rsa, rsa_meth) != 1 ||
            EVP_PKEY_assign_RSA(pk, rsa) != 1)
            goto out;
        rsa = NULL;
    } else if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC) {
        if ((ec = EVP_PKEY_get1_EC_KEY(pub)) == NULL ||
            EC_KEY_set_method(ec, ec_meth) != 1 ||
            EVP_PKEY_assign_EC_KEY(pk, ec) != 1)
            goto out;
        ec = NULL;
    } else {
        r = SN_ERR_INVALID;
        goto out;
    }
    *out = pk;
    pk = NULL;
    r = SN_OK;
out:
    RSA_free(rsa);
    EC_KEY_free(ec);
    EVP_PKEY_free(pk);
    return r;
}
