/*
 * cms: detached CMS SignedData built without the private key. OpenSSL lays
 * out the SignedData (CMS_add1_signer with CMS_PARTIAL and the leaf's
 * public key); we add the signed attributes, hash their DER SET OF encoding
 * and hand that digest to the signing callback. Inputs are trusted (the
 * chain comes from Signet's own store), but the callback's signature is
 * checked against the leaf before anything is returned.
 */
#include "crypto/cms.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/rsa.h>

/* Larger than any RSA-4096 signature or DER ECDSA-Sig-Value we accept. */
#define MAX_SIG_LEN 1024

static sn_err
add_signed_attrs(CMS_SignerInfo *si, const uint8_t *content_digest, size_t dlen,
                 time_t signing_time)
{
    ASN1_TIME *tm = NULL;
    sn_err r = SN_ERR_CRYPTO;

    if (CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                    OBJ_nid2obj(NID_pkcs7_data), -1) != 1)
        goto out;
    if (CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest,
                                    V_ASN1_OCTET_STRING, content_digest,
                                    (int)dlen) != 1)
        goto out;
    /* ASN1_TIME_set picks UTCTime through 2049, as RFC 5652 requires. */
    if ((tm = ASN1_TIME_set(NULL, signing_time)) == NULL)
        goto out;
    if (CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, tm->type, tm,
                                    -1) != 1)
        goto out;
    r = SN_OK;
out:
    ASN1_TIME_free(tm);
    return r;
}

/*
 * The signature covers the DER of the signed attributes as an explicit
 * SET OF (RFC 5652, 5.4), not the [0] IMPLICIT form in the SignerInfo.
 * PKCS7_ATTR_SIGN is that SET OF with DER ordering.
 */
static sn_err
attrs_digest(CMS_SignerInfo *si, const EVP_MD *md, uint8_t *out,
             unsigned int *outlen)
{
    STACK_OF(X509_ATTRIBUTE) *attrs = NULL;
    unsigned char *der = NULL;
    int i, n, derlen;
    sn_err r = SN_ERR_CRYPTO;

    if ((attrs = sk_X509_ATTRIBUTE_new_null()) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    n = CMS_signed_get_attr_count(si);
    if (n <= 0)
        goto out;
    for (i = 0; i < n; i++) {
        /* Borrowed pointers: the stack is freed without its elements. */
        if (sk_X509_ATTRIBUTE_push(attrs, CMS_signed_get_attr(si, i)) <= 0)
            goto out;
    }
    derlen = ASN1_item_i2d((ASN1_VALUE *)attrs, &der,
                           ASN1_ITEM_rptr(PKCS7_ATTR_SIGN));
    if (derlen <= 0)
        goto out;
    if (EVP_Digest(der, (size_t)derlen, out, outlen, md, NULL) != 1)
        goto out;
    r = SN_OK;
out:
    OPENSSL_free(der);
    sk_X509_ATTRIBUTE_free(attrs);
    return r;
}

/*
 * Checks sig over digest with the leaf's public key, so a signer that
 * answers with the wrong key never yields a SignedData. (CMS_SignerInfo_verify
 * is no use here: on OpenSSL 3.0 it rejects a SignerInfo whose signature was
 * set from outside until the structure has been re-parsed.)
 */
static sn_err
check_sig(EVP_PKEY *pub, const EVP_MD *md, const uint8_t *digest, size_t dlen,
          const uint8_t *sig, size_t siglen)
{
    EVP_PKEY_CTX *ctx = NULL;
    sn_err r = SN_ERR_CRYPTO;

    if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL)) == NULL)
        goto out;
    if (EVP_PKEY_verify_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)
        goto out;
    if (EVP_PKEY_is_a(pub, "RSA") &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
        goto out;
    if (EVP_PKEY_verify(ctx, sig, siglen, digest, dlen) != 1)
        goto out;
    r = SN_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    return r;
}

static sn_err
sign_attrs(CMS_SignerInfo *si, EVP_PKEY *pub, const EVP_MD *md,
           enum sn_digest dg, sn_sign_cb cb, void *arg)
{
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    uint8_t *sig = NULL;
    size_t siglen = 0;
    sn_err r;

    if ((r = attrs_digest(si, md, digest, &dlen)) != SN_OK)
        goto out;
    if (dlen != sn_digest_len(dg)) {
        r = SN_ERR_INTERNAL;
        goto out;
    }
    if ((r = cb(arg, dg, digest, dlen, &sig, &siglen)) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if (sig == NULL || siglen == 0 || siglen > MAX_SIG_LEN)
        goto out;
    if ((r = check_sig(pub, md, digest, dlen, sig, siglen)) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if (ASN1_STRING_set(CMS_SignerInfo_get0_signature(si), sig, (int)siglen) !=
        1)
        goto out;
    r = SN_OK;
out:
    free(sig);
    return r;
}

static sn_err
encode(CMS_ContentInfo *cms, uint8_t **der, size_t *derlen)
{
    unsigned char *buf = NULL;
    uint8_t *copy = NULL;
    int len;
    sn_err r = SN_ERR_CRYPTO;

    if ((len = i2d_CMS_ContentInfo(cms, &buf)) <= 0)
        goto out;
    /* Callers free with free(); OpenSSL's allocator may differ. */
    if ((copy = malloc((size_t)len)) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    memcpy(copy, buf, (size_t)len);
    *der = copy;
    *derlen = (size_t)len;
    r = SN_OK;
out:
    OPENSSL_free(buf);
    return r;
}

static sn_err
add_chain(CMS_ContentInfo *cms, STACK_OF(X509) *chain)
{
    int i;

    /* CMS_add1_signer already added the leaf. */
    for (i = 1; i < sk_X509_num(chain); i++) {
        if (CMS_add1_cert(cms, sk_X509_value(chain, i)) != 1)
            return SN_ERR_CRYPTO;
    }
    return SN_OK;
}

sn_err
sn_cms_sign_detached(STACK_OF(X509) *chain, enum sn_digest md,
                     const uint8_t *content_digest, size_t dlen,
                     time_t signing_time, sn_sign_cb cb, void *arg,
                     uint8_t **der, size_t *derlen)
{
    const unsigned int flags = CMS_DETACHED | CMS_PARTIAL | CMS_BINARY;
    CMS_ContentInfo *cms = NULL;
    CMS_SignerInfo *si;
    const EVP_MD *evp_md;
    X509 *leaf;
    EVP_PKEY *pub;
    sn_err r = SN_ERR_INVALID;

    *der = NULL;
    *derlen = 0;
    if (chain == NULL || sk_X509_num(chain) < 1 || cb == NULL ||
        content_digest == NULL || (unsigned)md >= SN_MD_COUNT ||
        dlen != sn_digest_len(md))
        goto out;
    leaf = sk_X509_value(chain, 0);
    if ((pub = X509_get0_pubkey(leaf)) == NULL)
        goto out;
    if (!EVP_PKEY_is_a(pub, "RSA") && !EVP_PKEY_is_a(pub, "EC"))
        goto out;
    r = SN_ERR_CRYPTO;
    if ((evp_md = EVP_get_digestbynid(sn_digest_nid(md))) == NULL)
        goto out;
    if ((cms = CMS_sign(NULL, NULL, NULL, NULL, flags)) == NULL)
        goto out;
    /*
     * With CMS_PARTIAL nothing is signed here; the public key is enough
     * for OpenSSL to fill in sid, digestAlgorithm and signatureAlgorithm
     * (rsaEncryption, or ecdsa-with-SHAxxx). CMS_NOSMIMECAP keeps the
     * signed attributes to exactly the three we add.
     */
    si = CMS_add1_signer(cms, leaf, pub, evp_md,
                         CMS_PARTIAL | CMS_NOSMIMECAP | CMS_BINARY);
    if (si == NULL)
        goto out;
    if ((r = add_chain(cms, chain)) != SN_OK)
        goto out;
    if ((r = add_signed_attrs(si, content_digest, dlen, signing_time)) != SN_OK)
        goto out;
    if ((r = sign_attrs(si, pub, evp_md, md, cb, arg)) != SN_OK)
        goto out;
    if (CMS_is_detached(cms) != 1) {
        r = SN_ERR_INTERNAL;
        goto out;
    }
    r = encode(cms, der, derlen);
out:
    CMS_ContentInfo_free(cms);
    ERR_clear_error();
    return r;
}
