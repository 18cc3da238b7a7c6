/*
 * test_evidence: the parser of report evidence (crypto/evidence.c). The
 * PKCS#7s are made here with OpenSSL's PKCS7_sign and a software key (one
 * signer, several, a nested Authenticode signature, nesting past the
 * limit), then mangled: trailing bytes, PE padding, truncation, another
 * content type. The hashes expected are SHA-256 of the SignerInfo's
 * encryptedDigest as OpenSSL reads it back from the DER.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "crypto/evidence.h"

#define NESTED "1.3.6.1.4.1.311.2.4.1"

struct fixture {
    EVP_PKEY *key;
    X509 *cert;
};

static X509 *
self_signed(EVP_PKEY *key, long serial)
{
    X509 *x = X509_new();
    X509_NAME *n;

    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
    n = X509_get_subject_name(x);
    assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"ev", -1,
                                                -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, n), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), 0));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
    assert_int_equal(X509_set_pubkey(x, key), 1);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->key = EVP_EC_gen("P-256");
    assert_non_null(f->key);
    f->cert = self_signed(f->key, 0x1234);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    X509_free(f->cert);
    EVP_PKEY_free(f->key);
    free(f);
    return 0;
}

/* A detached SignedData over "content" with nsigners signers (the same
 * key and certificate). */
static PKCS7 *
make_p7(struct fixture *f, int nsigners)
{
    BIO *in = BIO_new_mem_buf("content", 7);
    PKCS7 *p7;
    int i;

    p7 = PKCS7_sign(NULL, NULL, NULL, in,
                    PKCS7_DETACHED | PKCS7_BINARY | PKCS7_PARTIAL);
    assert_non_null(p7);
    for (i = 0; i < nsigners; i++)
        assert_non_null(PKCS7_sign_add_signer(p7, f->cert, f->key, EVP_sha256(),
                                              PKCS7_BINARY));
    assert_int_equal(PKCS7_final(p7, in, PKCS7_DETACHED | PKCS7_BINARY), 1);
    BIO_free(in);
    return p7;
}

static size_t
der_of(PKCS7 *p7, uint8_t **out)
{
    unsigned char *der = NULL;
    int n = i2d_PKCS7(p7, &der);

    assert_true(n > 0);
    *out = malloc((size_t)n + 16);
    assert_non_null(*out);
    memcpy(*out, der, (size_t)n);
    OPENSSL_free(der);
    return (size_t)n;
}

/* Nests inner as an Authenticode nested signature of outer's first
 * signer (an unsigned attribute: outer's signature stays valid). */
static void
nest(PKCS7 *outer, PKCS7 *inner)
{
    PKCS7_SIGNER_INFO *si =
        sk_PKCS7_SIGNER_INFO_value(outer->d.sign->signer_info, 0);
    ASN1_OBJECT *oid = OBJ_txt2obj(NESTED, 1);
    ASN1_STRING *seq = ASN1_STRING_new();
    X509_ATTRIBUTE *a;
    uint8_t *der;
    size_t n = der_of(inner, &der);

    assert_non_null(oid);
    assert_int_equal(ASN1_STRING_set(seq, der, (int)n), 1);
    a = X509_ATTRIBUTE_create_by_OBJ(NULL, oid, V_ASN1_SEQUENCE, seq->data,
                                     seq->length);
    assert_non_null(a);
    if (si->unauth_attr == NULL)
        si->unauth_attr = sk_X509_ATTRIBUTE_new_null();
    assert_true(sk_X509_ATTRIBUTE_push(si->unauth_attr, a) > 0);
    ASN1_STRING_free(seq);
    ASN1_OBJECT_free(oid);
    free(der);
}

/* SHA-256 of signer i's encryptedDigest, read back from der. */
static void
expected(const uint8_t *der, size_t len, int i, uint8_t out[32])
{
    const unsigned char *p = der;
    PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
    PKCS7_SIGNER_INFO *si;

    assert_non_null(p7);
    si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), i);
    assert_non_null(si);
    assert_int_equal(EVP_Digest(si->enc_digest->data,
                                (size_t)si->enc_digest->length, out, NULL,
                                EVP_sha256(), NULL),
                     1);
    PKCS7_free(p7);
}

/* The depth of the signature whose hash is want; -1 if none. */
static int
find(const struct sn_evidence *ev, const uint8_t want[32])
{
    size_t i;

    for (i = 0; i < ev->nsigs; i++)
        if (memcmp(ev->sigs[i].sha256, want, 32) == 0)
            return (int)ev->sigs[i].depth;
    return -1;
}

static void
test_one_signer(void **state)
{
    struct fixture *f = *state;
    PKCS7 *p7 = make_p7(f, 1);
    struct sn_evidence ev;
    uint8_t *der, want[32];
    size_t n = der_of(p7, &der);
    char why[128];

    expected(der, n, 0, want);
    assert_int_equal(sn_evidence_pkcs7(der, n, &ev, why, sizeof(why)), SN_OK);
    assert_int_equal(ev.nsigs, 1);
    assert_memory_equal(ev.sigs[0].sha256, want, 32);
    assert_int_equal(ev.sigs[0].depth, 0);
    assert_true(ev.sigs[0].has_cert);
    assert_string_equal(ev.sigs[0].cert_serial, "1234");
    assert_non_null(strstr(ev.sigs[0].cert_subject, "CN=ev"));
    free(der);
    PKCS7_free(p7);
}

static void
test_signers_and_nested(void **state)
{
    struct fixture *f = *state;
    PKCS7 *outer = make_p7(f, 2), *inner = make_p7(f, 1);
    struct sn_evidence ev;
    uint8_t *der, *ider, want[32];
    size_t n, in;
    char why[128];

    nest(outer, inner);
    n = der_of(outer, &der);
    in = der_of(inner, &ider);
    assert_int_equal(sn_evidence_pkcs7(der, n, &ev, why, sizeof(why)), SN_OK);
    assert_int_equal(ev.nsigs, 3);
    /* Both signers (a SET OF: DER order) at depth 0, the nested one at 1. */
    expected(der, n, 0, want);
    assert_int_equal(find(&ev, want), 0);
    expected(der, n, 1, want);
    assert_int_equal(find(&ev, want), 0);
    expected(ider, in, 0, want);
    assert_int_equal(find(&ev, want), 1);
    free(der);
    free(ider);
    PKCS7_free(outer);
    PKCS7_free(inner);
}

static void
test_nesting_limit(void **state)
{
    struct fixture *f = *state;
    PKCS7 *p[SN_EVIDENCE_DEPTH_MAX + 2];
    struct sn_evidence ev;
    uint8_t *der;
    size_t n;
    char why[128];
    int i;

    /* p[0] is outermost; each holds the next, DEPTH_MAX + 1 levels down */
    for (i = 0; i < SN_EVIDENCE_DEPTH_MAX + 2; i++)
        p[i] = make_p7(f, 1);
    for (i = SN_EVIDENCE_DEPTH_MAX; i >= 0; i--)
        nest(p[i], p[i + 1]);
    n = der_of(p[0], &der);
    assert_int_equal(sn_evidence_pkcs7(der, n, &ev, why, sizeof(why)),
                     SN_ERR_LIMIT);
    assert_non_null(strstr(why, "nested"));
    assert_int_equal(ev.nsigs, 0);
    free(der);
    /* One level less is accepted. */
    n = der_of(p[1], &der);
    assert_int_equal(sn_evidence_pkcs7(der, n, &ev, why, sizeof(why)), SN_OK);
    assert_int_equal(ev.nsigs, SN_EVIDENCE_DEPTH_MAX + 1);
    free(der);
    for (i = 0; i < SN_EVIDENCE_DEPTH_MAX + 2; i++)
        PKCS7_free(p[i]);
}

static void
test_too_many_signers(void **state)
{
    struct fixture *f = *state;
    PKCS7 *p7 = make_p7(f, SN_EVIDENCE_MAX_SIGS + 1);
    struct sn_evidence ev;
    uint8_t *der;
    size_t n = der_of(p7, &der);
    char why[128];

    assert_int_equal(sn_evidence_pkcs7(der, n, &ev, why, sizeof(why)),
                     SN_ERR_LIMIT);
    assert_int_equal(ev.nsigs, 0);
    free(der);
    PKCS7_free(p7);
}

static void
test_trailing_bytes(void **state)
{
    struct fixture *f = *state;
    PKCS7 *p7 = make_p7(f, 1);
    struct sn_evidence ev;
    uint8_t *der;
    size_t n = der_of(p7, &der);
    char why[128];

    /* PE attribute certificates are 8-byte aligned: up to 7 zeros. */
    memset(der + n, 0, 8);
    assert_int_equal(sn_evidence_pkcs7(der, n + 7, &ev, why, sizeof(why)),
                     SN_OK);
    assert_int_equal(sn_evidence_pkcs7(der, n + 8, &ev, why, sizeof(why)),
                     SN_ERR_INVALID);
    assert_non_null(strstr(why, "after"));
    der[n] = 1;
    assert_int_equal(sn_evidence_pkcs7(der, n + 1, &ev, why, sizeof(why)),
                     SN_ERR_INVALID);
    /* Truncated anywhere: refused, never read past the end. */
    assert_int_equal(sn_evidence_pkcs7(der, n - 1, &ev, why, sizeof(why)),
                     SN_ERR_INVALID);
    assert_int_equal(sn_evidence_pkcs7(der, n / 2, &ev, why, sizeof(why)),
                     SN_ERR_INVALID);
    assert_int_equal(sn_evidence_pkcs7(der, 0, &ev, why, sizeof(why)),
                     SN_ERR_INVALID);
    assert_int_equal(sn_evidence_pkcs7(der, SN_EVIDENCE_PKCS7_MAX + 1, &ev, why,
                                       sizeof(why)),
                     SN_ERR_INVALID);
    free(der);
    PKCS7_free(p7);
}

static void
test_not_signed_data(void **state)
{
    PKCS7 *p7 = PKCS7_new();
    struct sn_evidence ev;
    uint8_t *der;
    size_t n;
    char why[128];

    (void)state;
    assert_int_equal(PKCS7_set_type(p7, NID_pkcs7_data), 1);
    n = der_of(p7, &der);
    assert_int_equal(sn_evidence_pkcs7(der, n, &ev, why, sizeof(why)),
                     SN_ERR_INVALID);
    assert_non_null(strstr(why, "SignedData"));
    free(der);
    PKCS7_free(p7);
    /* Not DER at all. */
    assert_int_equal(sn_evidence_pkcs7((const uint8_t *)"hello world", 11, &ev,
                                       why, sizeof(why)),
                     SN_ERR_INVALID);
}

static void
test_raw_signatures(void **state)
{
    struct fixture *f = *state;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[128], raw[64], *back = NULL, want[32];
    const unsigned char *p = sig;
    const BIGNUM *r, *s;
    struct sn_evidence ev;
    ECDSA_SIG *e;
    size_t len = sizeof(sig);
    int n;

    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, f->key),
                     1);
    assert_int_equal(
        EVP_DigestSign(md, sig, &len, (const unsigned char *)"x", 1), 1);
    EVP_MD_CTX_free(md);
    /* DER as Signet records it: its own hash, no other form. */
    assert_int_equal(sn_evidence_signature(sig, len, &ev), SN_OK);
    assert_int_equal(ev.nsigs, 1);
    assert_false(ev.sigs[0].has_alt);
    EVP_Digest(sig, len, want, NULL, EVP_sha256(), NULL);
    assert_memory_equal(ev.sigs[0].sha256, want, 32);
    /* r||s as PKCS#11 returns it: its DER form's hash as the other. */
    e = d2i_ECDSA_SIG(NULL, &p, (long)len);
    assert_non_null(e);
    ECDSA_SIG_get0(e, &r, &s);
    assert_int_equal(BN_bn2binpad(r, raw, 32), 32);
    assert_int_equal(BN_bn2binpad(s, raw + 32, 32), 32);
    assert_int_equal(sn_evidence_signature(raw, 64, &ev), SN_OK);
    assert_true(ev.sigs[0].has_alt);
    n = i2d_ECDSA_SIG(e, &back);
    assert_true(n > 0);
    EVP_Digest(back, (size_t)n, want, NULL, EVP_sha256(), NULL);
    assert_memory_equal(ev.sigs[0].alt_sha256, want, 32);
    OPENSSL_free(back);
    ECDSA_SIG_free(e);
    /* Bounds. */
    assert_int_equal(sn_evidence_signature(raw, 0, &ev), SN_ERR_INVALID);
    assert_int_equal(sn_evidence_signature(raw, SN_EVIDENCE_SIG_MAX + 1, &ev),
                     SN_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_signer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signers_and_nested, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nesting_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_signers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_bytes, setup, teardown),
        cmocka_unit_test(test_not_signed_data),
        cmocka_unit_test_setup_teardown(test_raw_signatures, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
