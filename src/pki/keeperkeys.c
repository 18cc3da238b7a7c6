/*
 * keeperkeys: the CA and TSA keys as the keeper holds them. Each object
 * is built here by OpenSSL with a placeholder key (crypto/placeholder.h:
 * the right shape, no signature) and sent whole; the keeper checks it,
 * signs it and sends it back, and the object signed replaces the one
 * built. A time-stamp: the TSTInfo OpenSSL made goes to the keeper, whose
 * token replaces the placeholder's.
 */
#include "pki/keys.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/ocsp.h>
#include <openssl/ts.h>

#include "crypto/placeholder.h"
#include "ipc/client.h"
#include "ipc/proto.h"

struct keeper_signer {
    struct sn_ca_signer base; /* first: the ops see a keeper_signer */
    struct sn_keeper *k;
    unsigned kind; /* enum sn_ca_kind; unused for the TSA */
    EVP_PKEY *placeholder;
    /* the TSA's: its key id and certificate, bound again (TSA_USE) when
     * a restarted keeper does not have it */
    char tsa_id[65];
    X509 *tsa_cert;
};

static struct keeper_signer *
ks(struct sn_ca_signer *s)
{
    return (struct keeper_signer *)s;
}

static sn_err
ks_cert(struct sn_ca_signer *s, X509 **x, const EVP_MD *md, const uint8_t *ev,
        size_t evlen)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    uint8_t *out = NULL;
    size_t outlen = 0;
    X509 *signed_x = NULL;
    int n;
    sn_err r = SN_ERR_CRYPTO;

    if (X509_sign(*x, ks(s)->placeholder, md) <= 0 ||
        (n = i2d_X509(*x, &der)) <= 0)
        goto out;
    if ((r = sn_keeper_sign_object(ks(s)->k, SN_KP_SIGN_CERT, ks(s)->kind, der,
                                   (size_t)n, ev, evlen, &out, &outlen)) !=
        SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    p = out;
    if ((signed_x = d2i_X509(NULL, &p, (long)outlen)) == NULL ||
        p != out + outlen)
        goto out;
    X509_free(*x);
    *x = signed_x;
    signed_x = NULL;
    r = SN_OK;
out:
    X509_free(signed_x);
    OPENSSL_free(der);
    free(out);
    return r;
}

static sn_err
ks_req(struct sn_ca_signer *s, X509_REQ *req, const EVP_MD *md)
{
    (void)s;
    (void)req;
    (void)md;
    return SN_ERR_STATE; /* a CA's request to the root: a ceremony's */
}

static sn_err
ks_crl(struct sn_ca_signer *s, X509_CRL **crl, const EVP_MD *md)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    uint8_t *out = NULL;
    size_t outlen = 0;
    X509_CRL *signed_crl = NULL;
    int n;
    sn_err r = SN_ERR_CRYPTO;

    if (X509_CRL_sign(*crl, ks(s)->placeholder, md) <= 0 ||
        (n = i2d_X509_CRL(*crl, &der)) <= 0)
        goto out;
    if ((r = sn_keeper_sign_object(ks(s)->k, SN_KP_SIGN_CRL, ks(s)->kind, der,
                                   (size_t)n, NULL, 0, &out, &outlen)) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    p = out;
    if ((signed_crl = d2i_X509_CRL(NULL, &p, (long)outlen)) == NULL ||
        p != out + outlen)
        goto out;
    X509_CRL_free(*crl);
    *crl = signed_crl;
    signed_crl = NULL;
    r = SN_OK;
out:
    X509_CRL_free(signed_crl);
    OPENSSL_free(der);
    free(out);
    return r;
}

static sn_err
ks_ocsp(struct sn_ca_signer *s, OCSP_BASICRESP **bs, X509 *cert,
        const EVP_MD *md, unsigned long flags)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    uint8_t *out = NULL;
    size_t outlen = 0;
    OCSP_BASICRESP *signed_bs = NULL;
    int n;
    sn_err r = SN_ERR_CRYPTO;

    if (OCSP_basic_sign(*bs, cert, ks(s)->placeholder, md, NULL, flags) != 1 ||
        (n = i2d_OCSP_BASICRESP(*bs, &der)) <= 0)
        goto out;
    if ((r = sn_keeper_sign_object(ks(s)->k, SN_KP_SIGN_OCSP, ks(s)->kind, der,
                                   (size_t)n, NULL, 0, &out, &outlen)) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    p = out;
    if ((signed_bs = d2i_OCSP_BASICRESP(NULL, &p, (long)outlen)) == NULL ||
        p != out + outlen)
        goto out;
    OCSP_BASICRESP_free(*bs);
    *bs = signed_bs;
    signed_bs = NULL;
    r = SN_OK;
out:
    OCSP_BASICRESP_free(signed_bs);
    OPENSSL_free(der);
    free(out);
    return r;
}

/* A TSA signature by this signer's key; a keeper that has not bound it
 * (restarted with an older HOME/ca/tsa.pem) is told again once. */
static sn_err
tsa_call(struct sn_ca_signer *s, uint8_t type, const uint8_t *in, size_t len,
         uint8_t **out, size_t *outlen)
{
    unsigned char *der = NULL;
    int n, tries;
    sn_err r = SN_ERR_NOT_FOUND;

    for (tries = 0; tries < 2 && r == SN_ERR_NOT_FOUND; tries++) {
        if (tries > 0) {
            if ((n = i2d_X509(ks(s)->tsa_cert, &der)) <= 0)
                return SN_ERR_CRYPTO;
            r = sn_keeper_tsa_use(ks(s)->k, ks(s)->tsa_id, der, (size_t)n);
            OPENSSL_free(der);
            der = NULL;
            if (r != SN_OK)
                return r;
        }
        r = type == SN_KP_SIGN_TST
                ? sn_keeper_sign_tst(ks(s)->k, ks(s)->tsa_id, in, len, out,
                                     outlen)
                : sn_keeper_sign_ts_pkcs7(ks(s)->k, ks(s)->tsa_id, in, len, out,
                                          outlen);
    }
    return r;
}

/* The placeholder's token: signed data without certificates. */
static int
no_certs(PKCS7 *token)
{
    return token != NULL && PKCS7_type_is_signed(token) &&
           token->d.sign != NULL && sk_X509_num(token->d.sign->cert) <= 0;
}

static sn_err
ks_tst(struct sn_ca_signer *s, TS_RESP_CTX *ctx, BIO *req, TS_RESP **out)
{
    TS_RESP *resp = NULL;
    TS_TST_INFO *tst;
    unsigned char *der = NULL;
    const unsigned char *p;
    uint8_t *token = NULL;
    size_t tlen = 0;
    PKCS7 *p7 = NULL;
    int n;
    sn_err r = SN_ERR_CRYPTO;

    *out = NULL;
    if (TS_RESP_CTX_set_signer_key(ctx, ks(s)->placeholder) != 1 ||
        (resp = TS_RESP_create_response(ctx, req)) == NULL) {
        r = SN_ERR_HSM;
        goto out;
    }
    /* A rejection carries no token: nothing for the keeper to sign. */
    if ((tst = TS_RESP_get_tst_info(resp)) == NULL) {
        *out = resp;
        return SN_OK;
    }
    if ((n = i2d_TS_TST_INFO(tst, &der)) <= 0)
        goto out;
    if ((r = tsa_call(s, SN_KP_SIGN_TST, der, (size_t)n, &token, &tlen)) !=
        SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    p = token;
    if ((p7 = d2i_PKCS7(NULL, &p, (long)tlen)) == NULL || p != token + tlen ||
        !PKCS7_type_is_signed(p7) || (tst = TS_TST_INFO_dup(tst)) == NULL)
        goto out;
    /* The keeper's token carries the certificates; a request without
     * certReq gets none (RFC 3161 2.4.1), as OpenSSL's own answer had. */
    if (no_certs(TS_RESP_get_token(resp))) {
        sk_X509_pop_free(p7->d.sign->cert, X509_free);
        p7->d.sign->cert = NULL;
    }
    TS_RESP_set_tst_info(resp, p7, tst); /* takes both */
    p7 = NULL;
    *out = resp;
    resp = NULL;
    r = SN_OK;
out:
    PKCS7_free(p7);
    TS_RESP_free(resp);
    OPENSSL_free(der);
    free(token);
    return r;
}

static sn_err
ks_pkcs7(struct sn_ca_signer *s, X509 *cert, STACK_OF(X509) *chain, BIO *data,
         int flags, PKCS7 **out)
{
    uint8_t buf[65537], *der = NULL;
    const unsigned char *p;
    size_t len = 0;
    int n;
    sn_err r;

    (void)cert;
    (void)chain;
    (void)flags;
    *out = NULL;
    /* The keeper signs with its own TSA certificate and chain. */
    while (len < sizeof(buf) &&
           (n = BIO_read(data, buf + len, (int)(sizeof(buf) - len))) > 0)
        len += (size_t)n;
    if (len == 0 || len > 65536)
        return SN_ERR_INVALID;
    if ((r = tsa_call(s, SN_KP_SIGN_TS_PKCS7, buf, len, &der, &len)) != SN_OK)
        return r;
    p = der;
    if ((*out = d2i_PKCS7(NULL, &p, (long)len)) == NULL || p != der + len) {
        PKCS7_free(*out);
        *out = NULL;
        r = SN_ERR_CRYPTO;
    }
    free(der);
    return r;
}

static void
ks_free(struct sn_ca_signer *s)
{
    EVP_PKEY_free(ks(s)->placeholder);
    X509_free(ks(s)->tsa_cert);
    free(s);
}

static const struct sn_ca_signer_ops keeper_ops = {
    ks_cert, ks_req, ks_crl, ks_ocsp, ks_tst, ks_pkcs7, ks_free,
};

static sn_err
new_signer(struct sn_keeper *k, unsigned kind, EVP_PKEY *pub,
           struct sn_ca_signer **out)
{
    struct keeper_signer *s;
    sn_err r;

    *out = NULL;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return SN_ERR_NOMEM;
    if ((r = sn_placeholder_pkey(pub, &s->placeholder)) != SN_OK) {
        free(s);
        return r;
    }
    s->base.ops = &keeper_ops;
    s->base.refs = 1;
    s->k = k;
    s->kind = kind;
    *out = &s->base;
    return SN_OK;
}

static sn_err
ca_signer(void *arg, enum sn_ca_kind kind, EVP_PKEY *pub,
          struct sn_ca_signer **out)
{
    uint8_t log[32], notice[32];
    uint64_t held = 0;
    sn_err r;

    *out = NULL;
    if ((r = sn_keeper_pubkeys(arg, log, notice, &held, NULL)) != SN_OK)
        return r;
    if ((held & (1u << (unsigned)kind)) == 0)
        return SN_ERR_NOT_FOUND;
    return new_signer(arg, (unsigned)kind, pub, out);
}

static sn_err
tsa_generate(void *arg, const char *id, enum sn_keyalg alg, uint8_t **spki,
             size_t *len)
{
    return sn_keeper_tsa_keygen(arg, id, alg, spki, len);
}

static sn_err
tsa_signer(void *arg, const char *id, X509 *cert, struct sn_ca_signer **out)
{
    unsigned char *der = NULL;
    int n;
    sn_err r;

    *out = NULL;
    if ((n = i2d_X509(cert, &der)) <= 0)
        return SN_ERR_CRYPTO;
    r = sn_keeper_tsa_use(arg, id, der, (size_t)n);
    OPENSSL_free(der);
    if (r != SN_OK)
        return r;
    if (strlen(id) >= sizeof(((struct keeper_signer *)0)->tsa_id) ||
        (r = new_signer(arg, 0, X509_get0_pubkey(cert), out)) != SN_OK)
        return r != SN_OK ? r : SN_ERR_INVALID;
    memcpy(ks(*out)->tsa_id, id, strlen(id) + 1);
    if (!X509_up_ref(cert)) {
        sn_ca_signer_free(*out);
        *out = NULL;
        return SN_ERR_CRYPTO;
    }
    ks(*out)->tsa_cert = cert;
    return SN_OK;
}

static sn_err
tsa_destroy(void *arg, const char *id)
{
    return sn_keeper_tsa_destroy(arg, id);
}

void
sn_ca_keys_keeper(struct sn_keeper *k, struct sn_ca_keys *keys)
{
    keys->ca_signer = ca_signer;
    keys->tsa_generate = tsa_generate;
    keys->tsa_signer = tsa_signer;
    keys->tsa_destroy = tsa_destroy;
    keys->arg = k;
}
