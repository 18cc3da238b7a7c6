/*
 * test_cms: detached CMS SignedData through a software callback signer.
 * These tests check the structure by re-parsing the DER; the signature
 * verdict comes from `openssl cms -verify` in verify_crypto.sh, which runs
 * this binary with SN_CRYPTO_OUT set so that the artifacts land on disk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "crypto/cms.h"
#include "support.h"

#define SIGNING_TIME ((time_t)1700000000) /* 2023-11-14T22:13:20Z */
#define CONTENT_LEN 1000

enum { K_RSA3072, K_P256, K_P384, K_COUNT };

static const char *const key_names[K_COUNT] = {"rsa3072", "p256", "p384"};

struct soft_signer {
    EVP_PKEY *key;
    int calls;
    int fail;      /* return SN_ERR_HSM */
    int garbage;   /* return bytes that are no signature */
    size_t expect; /* digest length the callback must be given */
};

struct pki {
    EVP_PKEY *root_key, *int_key, *other_key;
    X509 *root, *inter, *other_root;
    EVP_PKEY *leaf_key[K_COUNT];
    X509 *leaf[K_COUNT];
    const char *outdir;
};

static EVP_PKEY *
gen_key(int kind)
{
    switch (kind) {
    case K_RSA3072:
        return EVP_RSA_gen(3072);
    case K_P256:
        return EVP_EC_gen("P-256");
    default:
        return EVP_EC_gen("P-384");
    }
}

/* issuer == NULL: self-signed. */
static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
          int ca, long serial)
{
    X509 *x = sn_test_cert_new(cn, key, issuer, serial, -3600, 86400L * 30);

    sn_test_add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
    if (ca) {
        sn_test_add_ext(x, issuer ? issuer : x, NID_basic_constraints,
                        "critical,CA:TRUE");
        sn_test_add_ext(x, issuer ? issuer : x, NID_key_usage,
                        "critical,keyCertSign,cRLSign");
    } else {
        sn_test_add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
        sn_test_add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
        sn_test_add_ext(x, issuer, NID_ext_key_usage, "codeSigning");
    }
    if (issuer != NULL)
        sn_test_add_ext(x, issuer, NID_authority_key_identifier,
                        "keyid:always");
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static sn_err
soft_sign(void *arg, enum sn_digest md, const uint8_t *digest, size_t dlen,
          uint8_t **sig, size_t *siglen)
{
    struct soft_signer *s = arg;
    uint8_t *buf;

    s->calls++;
    /* The contract: exactly sn_digest_len(md) bytes, the md we asked for. */
    assert_int_equal(dlen, sn_digest_len(md));
    assert_int_equal(dlen, s->expect);
    if (s->fail)
        return SN_ERR_HSM;
    if (s->garbage) {
        buf = malloc(64);
        assert_non_null(buf);
        memset(buf, 0x5a, 64);
        *sig = buf;
        *siglen = 64;
        return SN_OK;
    }
    return sn_test_soft_sign(s->key, md, digest, dlen, sig, siglen);
}

static void
write_out(const char *dir, const char *name, const void *data, size_t len)
{
    sn_test_write_file(dir, name, data, len, 0644);
}

static void
write_cert_pem(const char *dir, const char *name, X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;

    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    n = BIO_get_mem_data(bio, &data);
    assert_true(n > 0);
    write_out(dir, name, data, (size_t)n);
    BIO_free(bio);
}

static int
setup(void **state)
{
    struct pki *p = calloc(1, sizeof(*p));
    int k;

    if (p == NULL)
        return -1;
    p->root_key = gen_key(K_P256);
    p->int_key = gen_key(K_P384);
    p->other_key = gen_key(K_P256);
    p->root = make_cert("Test Root", p->root_key, NULL, NULL, 1, 1);
    p->other_root = make_cert("Test Root", p->other_key, NULL, NULL, 1, 1);
    p->inter =
        make_cert("Test Intermediate", p->int_key, p->root, p->root_key, 1, 2);
    for (k = 0; k < K_COUNT; k++) {
        p->leaf_key[k] = gen_key(k);
        if (p->leaf_key[k] == NULL)
            return -1;
        p->leaf[k] = make_cert(key_names[k], p->leaf_key[k], p->inter,
                               p->int_key, 0, 10 + k);
    }
    p->outdir = getenv("SN_CRYPTO_OUT");
    if (p->outdir != NULL) {
        write_cert_pem(p->outdir, "cms-root.pem", p->root);
        write_cert_pem(p->outdir, "cms-other-root.pem", p->other_root);
    }
    *state = p;
    return 0;
}

static int
teardown(void **state)
{
    struct pki *p = *state;
    int k;

    for (k = 0; k < K_COUNT; k++) {
        X509_free(p->leaf[k]);
        EVP_PKEY_free(p->leaf_key[k]);
    }
    X509_free(p->inter);
    X509_free(p->root);
    X509_free(p->other_root);
    EVP_PKEY_free(p->root_key);
    EVP_PKEY_free(p->int_key);
    EVP_PKEY_free(p->other_key);
    free(p);
    return 0;
}

static STACK_OF(X509) *
chain_for(struct pki *p, int k)
{
    STACK_OF(X509) *chain = sk_X509_new_null();

    assert_non_null(chain);
    assert_true(sk_X509_push(chain, p->leaf[k]) > 0);
    assert_true(sk_X509_push(chain, p->inter) > 0);
    return chain;
}

static int
expected_sig_nid(int k, enum sn_digest md)
{
    if (k == K_RSA3072)
        return NID_rsaEncryption;
    switch (md) {
    case SN_MD_SHA256:
        return NID_ecdsa_with_SHA256;
    case SN_MD_SHA384:
        return NID_ecdsa_with_SHA384;
    default:
        return NID_ecdsa_with_SHA512;
    }
}

/* Re-parses der and checks everything that can be checked without the
 * signature: detached, one signer, its algorithms, the three attributes. */
static void
check_structure(struct pki *p, int k, enum sn_digest md, const uint8_t *der,
                size_t derlen, const uint8_t *digest, time_t when)
{
    const unsigned char *q = der;
    CMS_ContentInfo *cms;
    CMS_SignerInfo *si;
    STACK_OF(X509) *certs;
    X509_ALGOR *dig = NULL, *sig = NULL;
    ASN1_OCTET_STRING *os;
    ASN1_TYPE *t;
    ASN1_TIME *tm;
    const ASN1_OBJECT *obj;
    int ptype = -1;
    const void *pval = NULL;

    cms = d2i_CMS_ContentInfo(NULL, &q, (long)derlen);
    assert_non_null(cms);
    assert_ptr_equal(q, der + derlen);
    assert_int_equal(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_signed);
    assert_int_equal(OBJ_obj2nid(CMS_get0_eContentType(cms)), NID_pkcs7_data);
    assert_int_equal(CMS_is_detached(cms), 1);
    assert_int_equal(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)), 1);
    si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
    assert_int_equal(CMS_SignerInfo_cert_cmp(si, p->leaf[k]), 0);

    certs = CMS_get1_certs(cms);
    assert_int_equal(sk_X509_num(certs), 2);
    sk_X509_pop_free(certs, X509_free);

    CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
    assert_int_equal(OBJ_obj2nid(dig->algorithm), sn_digest_nid(md));
    X509_ALGOR_get0(&obj, &ptype, &pval, sig);
    assert_int_equal(OBJ_obj2nid(obj), expected_sig_nid(k, md));
    /* RSA: NULL parameter; ECDSA: parameter absent (RFC 5754, 5758). */
    assert_int_equal(ptype, k == K_RSA3072 ? V_ASN1_NULL : V_ASN1_UNDEF);

    assert_int_equal(CMS_signed_get_attr_count(si), 3);
    t = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_contentType), -3,
                                    V_ASN1_OBJECT);
    assert_non_null(t);
    assert_int_equal(OBJ_obj2nid((const ASN1_OBJECT *)t), NID_pkcs7_data);
    os = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_messageDigest),
                                     -3, V_ASN1_OCTET_STRING);
    assert_non_null(os);
    assert_int_equal(ASN1_STRING_length(os), sn_digest_len(md));
    assert_memory_equal(ASN1_STRING_get0_data(os), digest, sn_digest_len(md));
    tm = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_signingTime), -3,
                                     V_ASN1_UTCTIME);
    assert_non_null(tm); /* UTCTime, as RFC 5652 requires before 2050 */
    assert_int_equal(ASN1_TIME_cmp_time_t(tm, when), 0);
    CMS_ContentInfo_free(cms);
}

static void
sign_one(struct pki *p, int k, enum sn_digest md)
{
    uint8_t content[CONTENT_LEN], digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    struct soft_signer s = {0};
    STACK_OF(X509) *chain = chain_for(p, k);
    uint8_t *der = (uint8_t *)"sentinel";
    size_t derlen = 99;
    time_t when = p->outdir != NULL ? time(NULL) : SIGNING_TIME;
    char name[64];

    assert_int_equal(sn_random(content, sizeof(content)), SN_OK);
    assert_int_equal(EVP_Digest(content, sizeof(content), digest, &dlen,
                                EVP_get_digestbynid(sn_digest_nid(md)), NULL),
                     1);
    s.key = p->leaf_key[k];
    s.expect = sn_digest_len(md);
    assert_int_equal(sn_cms_sign_detached(chain, md, digest, dlen, when,
                                          soft_sign, &s, &der, &derlen),
                     SN_OK);
    assert_int_equal(s.calls, 1);
    assert_non_null(der);
    assert_true(derlen > 100);
    check_structure(p, k, md, der, derlen, digest, when);
    if (p->outdir != NULL) {
        snprintf(name, sizeof(name), "cms-%s-%s.der", key_names[k],
                 sn_digest_name(md));
        write_out(p->outdir, name, der, derlen);
        snprintf(name, sizeof(name), "cms-%s-%s.bin", key_names[k],
                 sn_digest_name(md));
        write_out(p->outdir, name, content, sizeof(content));
    }
    free(der);
    sk_X509_free(chain);
}

static void
test_sign_all(void **state)
{
    struct pki *p = *state;
    int k, md;

    for (k = 0; k < K_COUNT; k++)
        for (md = 0; md < SN_MD_COUNT; md++)
            sign_one(p, k, (enum sn_digest)md);
}

/* Calls sign with a bad input or signer; nothing may come back. */
static void
expect_failure(STACK_OF(X509) *chain, enum sn_digest md, size_t dlen,
               struct soft_signer *s, sn_err want)
{
    uint8_t digest[64] = {1};
    uint8_t *der = (uint8_t *)"sentinel";
    size_t derlen = 99;

    assert_int_equal(sn_cms_sign_detached(chain, md, digest, dlen, SIGNING_TIME,
                                          soft_sign, s, &der, &derlen),
                     want);
    assert_null(der);
    assert_int_equal(derlen, 0);
}

static void
test_bad_input(void **state)
{
    struct pki *p = *state;
    STACK_OF(X509) *chain = chain_for(p, K_P256);
    STACK_OF(X509) *empty = sk_X509_new_null();
    struct soft_signer s = {.key = p->leaf_key[K_P256], .expect = 32};

    expect_failure(chain, SN_MD_SHA256, 31, &s, SN_ERR_INVALID);
    expect_failure(chain, SN_MD_SHA256, 48, &s, SN_ERR_INVALID);
    expect_failure(chain, SN_MD_COUNT, 32, &s, SN_ERR_INVALID);
    expect_failure(empty, SN_MD_SHA256, 32, &s, SN_ERR_INVALID);
    expect_failure(NULL, SN_MD_SHA256, 32, &s, SN_ERR_INVALID);
    assert_int_equal(s.calls, 0);
    sk_X509_free(empty);
    sk_X509_free(chain);
}

static void
test_signer_errors(void **state)
{
    struct pki *p = *state;
    STACK_OF(X509) *chain = chain_for(p, K_P256);
    struct soft_signer s = {.key = p->leaf_key[K_P256], .expect = 48};

    /* The callback's own error comes back unchanged. */
    s.fail = 1;
    expect_failure(chain, SN_MD_SHA384, 48, &s, SN_ERR_HSM);
    assert_int_equal(s.calls, 1);
    /* Bytes that do not verify under the leaf are refused. */
    s.fail = 0;
    s.garbage = 1;
    expect_failure(chain, SN_MD_SHA384, 48, &s, SN_ERR_CRYPTO);
    /* So is a valid signature by a key other than the leaf's. */
    s.garbage = 0;
    s.key = p->leaf_key[K_P384];
    expect_failure(chain, SN_MD_SHA384, 48, &s, SN_ERR_CRYPTO);
    s.key = p->root_key;
    expect_failure(chain, SN_MD_SHA384, 48, &s, SN_ERR_CRYPTO);
    assert_int_equal(s.calls, 4);
    sk_X509_free(chain);
}

/* A chain of just the leaf carries exactly one certificate. */
static void
test_leaf_only(void **state)
{
    struct pki *p = *state;
    STACK_OF(X509) *chain = sk_X509_new_null();
    struct soft_signer s = {.key = p->leaf_key[K_RSA3072], .expect = 64};
    uint8_t digest[64] = {0};
    uint8_t *der = NULL;
    size_t derlen = 0;
    const unsigned char *q;
    CMS_ContentInfo *cms;
    STACK_OF(X509) *certs;

    assert_true(sk_X509_push(chain, p->leaf[K_RSA3072]) > 0);
    assert_int_equal(sn_cms_sign_detached(chain, SN_MD_SHA512, digest, 64,
                                          SIGNING_TIME, soft_sign, &s, &der,
                                          &derlen),
                     SN_OK);
    q = der;
    cms = d2i_CMS_ContentInfo(NULL, &q, (long)derlen);
    assert_non_null(cms);
    certs = CMS_get1_certs(cms);
    assert_int_equal(sk_X509_num(certs), 1);
    assert_int_equal(X509_cmp(sk_X509_value(certs, 0), p->leaf[K_RSA3072]), 0);
    sk_X509_pop_free(certs, X509_free);
    CMS_ContentInfo_free(cms);
    free(der);
    sk_X509_free(chain);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_all),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_signer_errors),
        cmocka_unit_test(test_leaf_only),
    };

    return cmocka_run_group_tests_name("cms", tests, setup, teardown);
}
