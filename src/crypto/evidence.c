/*
 * evidence: a report's proof reduced to signature hashes (see evidence.h).
 * The bytes are untrusted: lengths are checked before OpenSSL sees them,
 * the DER must end where the input ends (but for PE padding), and the
 * walk through nested signatures is bounded in depth and count.
 */
#include "crypto/evidence.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

/* Authenticode's nested signature (SPC_NESTED_SIGNATURE_OBJID), an
 * unsigned attribute holding another SignedData. */
#define NESTED_OID "1.3.6.1.4.1.311.2.4.1"

struct walk {
    struct sn_evidence *ev;
    ASN1_OBJECT *nested; /* NESTED_OID, made once per parse */
    char *why;
    size_t whylen;
};

static int
sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
    return EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL) == 1;
}

/* The signer's certificate facts, if its certificate is in certs. */
static void
signer_cert(STACK_OF(X509) *certs, PKCS7_SIGNER_INFO *si,
            struct sn_evidence_sig *s)
{
    PKCS7_ISSUER_AND_SERIAL *ias = si->issuer_and_serial;
    unsigned char *der = NULL, *spki = NULL;
    BIGNUM *bn = NULL;
    char *hex = NULL;
    X509 *x;
    int n, m;

    if (certs == NULL || ias == NULL ||
        (x = X509_find_by_issuer_and_serial(certs, ias->issuer, ias->serial)) ==
            NULL)
        return;
    if ((n = i2d_X509(x, &der)) <= 0 ||
        (m = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki)) <= 0 ||
        !sha256(der, (size_t)n, s->cert_sha256) ||
        !sha256(spki, (size_t)m, s->spki_sha256) ||
        (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) == NULL ||
        (hex = BN_bn2hex(bn)) == NULL || strlen(hex) >= sizeof(s->cert_serial))
        goto out;
    memcpy(s->cert_serial, hex, strlen(hex) + 1);
    X509_NAME_oneline(X509_get_subject_name(x), s->cert_subject,
                      sizeof(s->cert_subject));
    X509_NAME_oneline(X509_get_issuer_name(x), s->cert_issuer,
                      sizeof(s->cert_issuer));
    s->has_cert = 1;
out:
    OPENSSL_free(hex);
    BN_free(bn);
    OPENSSL_free(spki);
    OPENSSL_free(der);
}

static sn_err walk_signed(struct walk *w, const uint8_t *der, size_t len,
                          unsigned depth);

/* The nested signatures among si's unsigned attributes. */
static sn_err
walk_nested(struct walk *w, PKCS7_SIGNER_INFO *si, unsigned depth)
{
    X509_ATTRIBUTE *a;
    ASN1_TYPE *t;
    sn_err r;
    int i, j;

    for (i = 0; i < sk_X509_ATTRIBUTE_num(si->unauth_attr); i++) {
        a = sk_X509_ATTRIBUTE_value(si->unauth_attr, i);
        if (OBJ_cmp(X509_ATTRIBUTE_get0_object(a), w->nested) != 0)
            continue;
        for (j = 0; j < X509_ATTRIBUTE_count(a); j++) {
            t = X509_ATTRIBUTE_get0_type(a, j);
            if (t == NULL || t->type != V_ASN1_SEQUENCE ||
                t->value.sequence == NULL)
                continue;
            if ((r = walk_signed(w, t->value.sequence->data,
                                 (size_t)t->value.sequence->length,
                                 depth + 1)) != SN_OK)
                return r;
        }
    }
    return SN_OK;
}

/* One SignerInfo: its signature value's hash, its certificate, then its
 * nested signatures. */
static sn_err
take_signer(struct walk *w, PKCS7 *p7, PKCS7_SIGNER_INFO *si, unsigned depth)
{
    struct sn_evidence_sig *s;
    ASN1_OCTET_STRING *v = si->enc_digest;

    if (v == NULL || v->length <= 0 || v->length > SN_EVIDENCE_SIG_MAX) {
        snprintf(w->why, w->whylen,
                 "a SignerInfo's signature value is empty or longer than "
                 "%d bytes",
                 SN_EVIDENCE_SIG_MAX);
        return SN_ERR_INVALID;
    }
    if (w->ev->nsigs >= SN_EVIDENCE_MAX_SIGS) {
        snprintf(w->why, w->whylen,
                 "more than %d signatures in the PKCS#7 (nested ones "
                 "included)",
                 SN_EVIDENCE_MAX_SIGS);
        return SN_ERR_LIMIT;
    }
    s = &w->ev->sigs[w->ev->nsigs];
    memset(s, 0, sizeof(*s));
    if (!sha256(v->data, (size_t)v->length, s->sha256))
        return SN_ERR_CRYPTO;
    s->depth = depth;
    signer_cert(p7->d.sign->cert, si, s);
    w->ev->nsigs++;
    return walk_nested(w, si, depth);
}

/* A DER SignedData ContentInfo at depth (0: the evidence itself). */
static sn_err
walk_signed(struct walk *w, const uint8_t *der, size_t len, unsigned depth)
{
    const unsigned char *p = der;
    STACK_OF(PKCS7_SIGNER_INFO) *sis;
    PKCS7 *p7 = NULL;
    size_t used, i;
    sn_err r = SN_ERR_INVALID;
    int k;

    if (depth > SN_EVIDENCE_DEPTH_MAX) {
        snprintf(w->why, w->whylen, "signatures nested more than %d deep",
                 SN_EVIDENCE_DEPTH_MAX);
        return SN_ERR_LIMIT;
    }
    if (len == 0 || len > SN_EVIDENCE_PKCS7_MAX ||
        (p7 = d2i_PKCS7(NULL, &p, (long)len)) == NULL) {
        snprintf(w->why, w->whylen, "not a DER PKCS#7 ContentInfo");
        goto out;
    }
    used = (size_t)(p - der);
    /* Only the evidence itself may carry PE alignment padding. */
    for (i = used; i < len; i++)
        if (depth > 0 || der[i] != 0 || len - used > 7)
            break;
    if (i < len) {
        snprintf(w->why, w->whylen,
                 "%zu bytes after the PKCS#7 ContentInfo's end", len - used);
        goto out;
    }
    if (!PKCS7_type_is_signed(p7) || p7->d.sign == NULL ||
        (sis = PKCS7_get_signer_info(p7)) == NULL ||
        sk_PKCS7_SIGNER_INFO_num(sis) == 0) {
        snprintf(w->why, w->whylen,
                 "the PKCS#7 is not a SignedData with a SignerInfo");
        goto out;
    }
    for (k = 0; k < sk_PKCS7_SIGNER_INFO_num(sis); k++)
        if ((r = take_signer(w, p7, sk_PKCS7_SIGNER_INFO_value(sis, k),
                             depth)) != SN_OK)
            goto out;
    r = SN_OK;
out:
    PKCS7_free(p7);
    return r;
}

sn_err
sn_evidence_pkcs7(const uint8_t *der, size_t len, struct sn_evidence *out,
                  char *why, size_t whylen)
{
    struct walk w;
    sn_err r = SN_ERR_INVALID;

    memset(out, 0, sizeof(*out));
    if (whylen > 0)
        why[0] = '\0';
    memset(&w, 0, sizeof(w));
    w.ev = out;
    w.why = why;
    w.whylen = whylen;
    if (der == NULL || len == 0 || len > SN_EVIDENCE_PKCS7_MAX) {
        snprintf(why, whylen, "the PKCS#7 must be 1 to %d bytes",
                 SN_EVIDENCE_PKCS7_MAX);
        goto out;
    }
    if ((w.nested = OBJ_txt2obj(NESTED_OID, 1)) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    r = walk_signed(&w, der, len, 0);
out:
    ASN1_OBJECT_free(w.nested);
    ERR_clear_error();
    if (r != SN_OK)
        memset(out, 0, sizeof(*out));
    return r;
}

/* r||s of an ECDSA curve Signet uses (P-256, P-384, P-521) as DER. */
static int
ecdsa_der_of_raw(const uint8_t *sig, size_t len, uint8_t out[32])
{
    ECDSA_SIG *e = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *der = NULL;
    int n, ok = 0;

    if (len != 64 && len != 96 && len != 132)
        return 0;
    if ((e = ECDSA_SIG_new()) == NULL ||
        (r = BN_bin2bn(sig, (int)len / 2, NULL)) == NULL ||
        (s = BN_bin2bn(sig + len / 2, (int)len / 2, NULL)) == NULL ||
        BN_is_zero(r) || BN_is_zero(s) || ECDSA_SIG_set0(e, r, s) != 1)
        goto out;
    r = s = NULL; /* the signature's now */
    if ((n = i2d_ECDSA_SIG(e, &der)) > 0)
        ok = sha256(der, (size_t)n, out);
out:
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(e);
    return ok;
}

/* 1 if sig is exactly a DER ECDSA-Sig-Value. */
static int
is_ecdsa_der(const uint8_t *sig, size_t len)
{
    const unsigned char *p = sig;
    unsigned char *back = NULL;
    ECDSA_SIG *e = d2i_ECDSA_SIG(NULL, &p, (long)len);
    int n, ok;

    ok = e != NULL && (size_t)(p - sig) == len &&
         (n = i2d_ECDSA_SIG(e, &back)) > 0 && (size_t)n == len &&
         memcmp(back, sig, len) == 0;
    OPENSSL_free(back);
    ECDSA_SIG_free(e);
    return ok;
}

sn_err
sn_evidence_signature(const uint8_t *sig, size_t len, struct sn_evidence *out)
{
    struct sn_evidence_sig *s = &out->sigs[0];

    memset(out, 0, sizeof(*out));
    if (sig == NULL || len == 0 || len > SN_EVIDENCE_SIG_MAX)
        return SN_ERR_INVALID;
    if (!sha256(sig, len, s->sha256))
        return SN_ERR_CRYPTO;
    /* A raw r||s (as PKCS#11 returns it) of a signature Signet recorded
     * in DER. */
    if (!is_ecdsa_der(sig, len) && ecdsa_der_of_raw(sig, len, s->alt_sha256))
        s->has_alt = 1;
    ERR_clear_error();
    out->nsigs = 1;
    return SN_OK;
}
