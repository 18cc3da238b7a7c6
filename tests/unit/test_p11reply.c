/*
 * Unit tests for pkcs11/reply: DigestInfo parsing, the ECDSA DER ->
 * r||s conversion and a sign request's answers (issue 17). Expected values come
 * from OpenSSL, not from reply.c: DigestInfo prefixes are built with OpenSSL's
 * X509_SIG encoder and ECDSA signatures are made and checked with OpenSSL's own
 * ECDSA.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "pkcs11/reply.h"

/* DER DigestInfo for nid over digest d (len bytes), made by OpenSSL. */
static int
digestinfo(int nid, const uint8_t *d, size_t len, uint8_t **out)
{
    X509_SIG *sig = X509_SIG_new();
    X509_ALGOR *alg = NULL;
    ASN1_OCTET_STRING *os = NULL;
    int n;

    X509_SIG_getm(sig, &alg, &os);
    X509_ALGOR_set0(alg, OBJ_nid2obj(nid), V_ASN1_NULL, NULL);
    ASN1_OCTET_STRING_set(os, d, (int)len);
    *out = NULL;
    n = i2d_X509_SIG(sig, out);
    X509_SIG_free(sig);
    return n;
}

static void
test_digestinfo_sha2(void **state)
{
    static const struct {
        int nid;
        enum sn_digest md;
    } cases[] = {{NID_sha256, SN_MD_SHA256},
                 {NID_sha384, SN_MD_SHA384},
                 {NID_sha512, SN_MD_SHA512}};
    uint8_t d[64], *der;
    const uint8_t *got;
    enum sn_digest md;
    size_t i;
    int n;

    (void)state;
    for (i = 0; i < 64; i++)
        d[i] = (uint8_t)(i * 7 + 1);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t dl = sn_digest_len(cases[i].md);
        n = digestinfo(cases[i].nid, d, dl, &der);
        assert_true(n > 0);
        assert_int_equal(sn_p11_digestinfo_parse(der, (size_t)n, &md, &got),
                         SN_OK);
        assert_int_equal(md, cases[i].md);
        assert_memory_equal(got, d, dl);
        /* One byte short or long is not a DigestInfo. */
        assert_int_equal(sn_p11_digestinfo_parse(der, (size_t)n - 1, &md, &got),
                         SN_ERR_INVALID);
        OPENSSL_free(der);
    }
}

static void
test_digestinfo_rejects(void **state)
{
    uint8_t d[64] = {0}, *der;
    const uint8_t *got;
    enum sn_digest md;
    int n;

    (void)state;
    n = digestinfo(NID_sha1, d, 20, &der);
    assert_int_equal(sn_p11_digestinfo_parse(der, (size_t)n, &md, &got),
                     SN_ERR_INVALID);
    OPENSSL_free(der);
    n = digestinfo(NID_md5, d, 16, &der);
    assert_int_equal(sn_p11_digestinfo_parse(der, (size_t)n, &md, &got),
                     SN_ERR_INVALID);
    OPENSSL_free(der);
    /* A SHA-256 OID with a 48-byte digest. */
    n = digestinfo(NID_sha256, d, 48, &der);
    assert_int_equal(sn_p11_digestinfo_parse(der, (size_t)n, &md, &got),
                     SN_ERR_INVALID);
    OPENSSL_free(der);
    assert_int_equal(sn_p11_digestinfo_parse(d, 32, &md, &got), SN_ERR_INVALID);
    assert_int_equal(sn_p11_digestinfo_parse(NULL, 0, &md, &got),
                     SN_ERR_INVALID);
}

/* Signs with OpenSSL, converts, and checks r||s against the DER's r, s. */
static void
ecdsa_roundtrip(const char *curve, size_t field)
{
    uint8_t dg[32] = {1, 2, 3}, der[160], raw[2 * 66];
    EVP_PKEY *pkey = EVP_EC_gen(curve);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
    const unsigned char *p = der;
    const BIGNUM *r, *s;
    ECDSA_SIG *sig;
    size_t len = sizeof(der);
    BIGNUM *rr, *ss;
    int i;

    for (i = 0; i < 20; i++) {
        len = sizeof(der);
        dg[5] = (uint8_t)i;
        assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
        assert_int_equal(EVP_PKEY_sign(ctx, der, &len, dg, sizeof(dg)), 1);
        assert_int_equal(sn_p11_ecdsa_der_to_raw(der, len, field, raw), SN_OK);
        p = der;
        sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
        assert_non_null(sig);
        ECDSA_SIG_get0(sig, &r, &s);
        rr = BN_bin2bn(raw, (int)field, NULL);
        ss = BN_bin2bn(raw + field, (int)field, NULL);
        assert_int_equal(BN_cmp(rr, r), 0);
        assert_int_equal(BN_cmp(ss, s), 0);
        BN_free(rr);
        BN_free(ss);
        ECDSA_SIG_free(sig);
        /* Truncated or padded DER is refused. */
        assert_int_equal(sn_p11_ecdsa_der_to_raw(der, len - 1, field, raw),
                         SN_ERR_INVALID);
        der[len] = 0;
        assert_int_equal(sn_p11_ecdsa_der_to_raw(der, len + 1, field, raw),
                         SN_ERR_INVALID);
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
}

static void
test_ecdsa_der_to_raw(void **state)
{
    (void)state;
    ecdsa_roundtrip("P-256", 32);
    ecdsa_roundtrip("P-384", 48);
}

static void
test_ecdsa_der_rejects(void **state)
{
    /* r = 0x80 encoded without its leading zero (negative): not DER. */
    static const uint8_t neg[] = {0x30, 0x06, 0x02, 0x01,
                                  0x80, 0x02, 0x01, 0x01};
    /* r with a needless leading zero: BER, not DER. */
    static const uint8_t pad[] = {0x30, 0x07, 0x02, 0x02, 0x00,
                                  0x01, 0x02, 0x01, 0x01};
    /* r = 0. */
    static const uint8_t zero[] = {0x30, 0x06, 0x02, 0x01,
                                   0x00, 0x02, 0x01, 0x01};
    uint8_t big[2 + 2 + 33 + 3], raw[64];

    (void)state;
    assert_int_equal(sn_p11_ecdsa_der_to_raw(neg, sizeof(neg), 32, raw),
                     SN_ERR_INVALID);
    assert_int_equal(sn_p11_ecdsa_der_to_raw(pad, sizeof(pad), 32, raw),
                     SN_ERR_INVALID);
    assert_int_equal(sn_p11_ecdsa_der_to_raw(zero, sizeof(zero), 32, raw),
                     SN_ERR_INVALID);
    /* r of 33 significant bytes does not fit a 32-byte field. */
    big[0] = 0x30;
    big[1] = sizeof(big) - 2;
    big[2] = 0x02;
    big[3] = 33;
    memset(big + 4, 0x11, 33);
    big[37] = 0x02;
    big[38] = 0x01;
    big[39] = 0x01;
    assert_int_equal(sn_p11_ecdsa_der_to_raw(big, sizeof(big), 32, raw),
                     SN_ERR_INVALID);
}

/* issue 17: a sign request's 202 answer and its GET, strictly read. */
static int
parses(const char *json, struct sn_p11_request *sr)
{
    return sn_p11_parse_request((const uint8_t *)json, strlen(json), sr) ==
           SN_OK;
}

static void
test_sign_request(void **state)
{
    static const char *const bad[] = {
        "{\"request\":\"a/b\",\"state\":\"pending_approval\"}",
        "{\"request\":\"r-1\",\"state\":\"pending\"}",
        "{\"request\":\"r-1\"}",
        "{\"state\":\"completed\"}",
        "{\"request\":\"\",\"state\":\"completed\"}",
        "{\"request\":7,\"state\":\"completed\"}",
        "{\"request\":\"r-1\",\"state\":\"completed\",\"state\":\"denied\"}",
        "[\"r-1\",\"completed\"]",
        "{\"request\":"
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaa1\",\"state\":\"completed\"}",
        "{\"request\":\"r\\u0000x\",\"state\":\"completed\"}",
        "",
    };
    struct sn_p11_request sr;
    size_t i;

    (void)state;
    assert_true(parses("{\"request\":\"5e1b-AZ_9\",\"state\":"
                       "\"pending_approval\",\"key\":\"k\"}",
                       &sr));
    assert_string_equal(sr.id, "5e1b-AZ_9");
    assert_int_equal(sr.state, SN_P11_SR_PENDING);
    assert_true(parses("{\"id\":\"r-2\",\"state\":\"failed\",\"reason\":"
                       "\"the key is disabled\\u001b[31m\"}",
                       &sr));
    assert_string_equal(sr.id, "r-2");
    assert_int_equal(sr.state, SN_P11_SR_FAILED);
    assert_string_equal(sr.state_name, "failed");
    /* a control character in a reason is not passed to a terminal */
    assert_string_equal(sr.reason, "the key is disabled?[31m");
    assert_true(parses("{\"id\":\"r-3\",\"state\":\"completed\","
                       "\"signature\":\"AAAA\"}",
                       &sr));
    assert_int_equal(sr.state, SN_P11_SR_COMPLETED);
    assert_string_equal(sr.reason, "");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&sr, 0x5a, sizeof(sr));
        if (parses(bad[i], &sr))
            fail_msg("accepted %s", bad[i]);
        assert_string_equal(sr.id, "");
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digestinfo_sha2),
        cmocka_unit_test(test_digestinfo_rejects),
        cmocka_unit_test(test_ecdsa_der_to_raw),
        cmocka_unit_test(test_ecdsa_der_rejects),
        cmocka_unit_test(test_sign_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
