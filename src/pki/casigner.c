/*
 * casigner: typed signing operations over an EVP_PKEY, the HSM's
 * (hsmpkey: each signature is made in the module) or a software key. The
 * objects come from the CA and TSA code and are trusted.
 */
#include "pki/casigner.h"

#include <stdlib.h>

#include <openssl/err.h>

#include "hsm/hsmpkey.h"

struct pkey_signer {
    struct sn_ca_signer base; /* first: the ops see a pkey_signer */
    EVP_PKEY *key;
};

static EVP_PKEY *
key_of(struct sn_ca_signer *s)
{
    return ((struct pkey_signer *)s)->key;
}

static sn_err
pk_cert(struct sn_ca_signer *s, X509 **x, const EVP_MD *md, const uint8_t *ev,
        size_t evlen)
{
    (void)ev;
    (void)evlen;
    return X509_sign(*x, key_of(s), md) > 0 ? SN_OK : SN_ERR_HSM;
}

static sn_err
pk_req(struct sn_ca_signer *s, X509_REQ *req, const EVP_MD *md)
{
    return X509_REQ_sign(req, key_of(s), md) > 0 ? SN_OK : SN_ERR_HSM;
}

static sn_err
pk_crl(struct sn_ca_signer *s, X509_CRL **crl, const EVP_MD *md)
{
    return X509_CRL_sign(*crl, key_of(s), md) > 0 ? SN_OK : SN_ERR_HSM;
}

static sn_err
pk_ocsp(struct sn_ca_signer *s, OCSP_BASICRESP **bs, X509 *cert,
        const EVP_MD *md, unsigned long flags)
{
    return OCSP_basic_sign(*bs, cert, key_of(s), md, NULL, flags) == 1
               ? SN_OK
               : SN_ERR_HSM;
}

static sn_err
pk_tst(struct sn_ca_signer *s, TS_RESP_CTX *ctx, BIO *req, TS_RESP **out)
{
    *out = NULL;
    if (TS_RESP_CTX_set_signer_key(ctx, key_of(s)) != 1)
        return SN_ERR_CRYPTO;
    /* A malformed request comes back as a rejection, not as NULL. */
    return (*out = TS_RESP_create_response(ctx, req)) != NULL ? SN_OK
                                                              : SN_ERR_HSM;
}

static sn_err
pk_pkcs7(struct sn_ca_signer *s, X509 *cert, STACK_OF(X509) *chain, BIO *data,
         int flags, PKCS7 **out)
{
    return (*out = PKCS7_sign(cert, key_of(s), chain, data, flags)) != NULL
               ? SN_OK
               : SN_ERR_HSM;
}

static void
pk_free(struct sn_ca_signer *s)
{
    EVP_PKEY_free(key_of(s));
    free(s);
}

static const struct sn_ca_signer_ops pkey_ops = {
    pk_cert, pk_req, pk_crl, pk_ocsp, pk_tst, pk_pkcs7, pk_free,
};

/* Takes key over. */
static sn_err
pkey_signer(EVP_PKEY *key, struct sn_ca_signer **out)
{
    struct pkey_signer *p;

    if ((p = calloc(1, sizeof(*p))) == NULL) {
        EVP_PKEY_free(key);
        return SN_ERR_NOMEM;
    }
    p->base.ops = &pkey_ops;
    p->base.refs = 1;
    p->key = key;
    *out = &p->base;
    return SN_OK;
}

sn_err
sn_ca_signer_soft(EVP_PKEY *key, struct sn_ca_signer **out)
{
    *out = NULL;
    if (key == NULL || EVP_PKEY_up_ref(key) != 1)
        return SN_ERR_INVALID;
    return pkey_signer(key, out);
}

sn_err
sn_ca_signer_hsm(struct sn_hsm_token *tok, const char *id, enum sn_keyalg alg,
                 EVP_PKEY *pub, struct sn_ca_signer **out)
{
    unsigned char *spki = NULL;
    EVP_PKEY *key = NULL;
    int n;
    sn_err r;

    *out = NULL;
    if (pub == NULL || (n = i2d_PUBKEY(pub, &spki)) <= 0)
        return SN_ERR_CRYPTO;
    r = sn_hsm_pkey(tok, id, alg, spki, (size_t)n, &key);
    OPENSSL_free(spki);
    if (r != SN_OK)
        return r;
    return pkey_signer(key, out);
}

struct sn_ca_signer *
sn_ca_signer_ref(struct sn_ca_signer *s)
{
    if (s != NULL)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_SEQ_CST);
    return s;
}

void
sn_ca_signer_free(struct sn_ca_signer *s)
{
    if (s != NULL && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_SEQ_CST) == 0)
        s->ops->free(s);
}

sn_err
sn_ca_sign_cert(struct sn_ca_signer *s, X509 **x, const EVP_MD *md)
{
    return s == NULL ? SN_ERR_STATE : s->ops->sign_cert(s, x, md, NULL, 0);
}

sn_err
sn_ca_sign_cert_ev(struct sn_ca_signer *s, X509 **x, const EVP_MD *md,
                   const uint8_t *ev, size_t evlen)
{
    return s == NULL ? SN_ERR_STATE : s->ops->sign_cert(s, x, md, ev, evlen);
}

sn_err
sn_ca_sign_req(struct sn_ca_signer *s, X509_REQ *req, const EVP_MD *md)
{
    return s == NULL ? SN_ERR_STATE : s->ops->sign_req(s, req, md);
}

sn_err
sn_ca_sign_crl(struct sn_ca_signer *s, X509_CRL **crl, const EVP_MD *md)
{
    return s == NULL ? SN_ERR_STATE : s->ops->sign_crl(s, crl, md);
}

sn_err
sn_ca_sign_ocsp(struct sn_ca_signer *s, OCSP_BASICRESP **bs, X509 *cert,
                const EVP_MD *md, unsigned long flags)
{
    return s == NULL ? SN_ERR_STATE : s->ops->sign_ocsp(s, bs, cert, md, flags);
}

sn_err
sn_ca_sign_tst(struct sn_ca_signer *s, TS_RESP_CTX *ctx, BIO *req,
               TS_RESP **out)
{
    *out = NULL;
    return s == NULL ? SN_ERR_STATE : s->ops->sign_tst(s, ctx, req, out);
}

sn_err
sn_ca_sign_pkcs7(struct sn_ca_signer *s, X509 *cert, STACK_OF(X509) *chain,
                 BIO *data, int flags, PKCS7 **out)
{
    *out = NULL;
    return s == NULL ? SN_ERR_STATE
                     : s->ops->sign_pkcs7(s, cert, chain, data, flags, out);
}
