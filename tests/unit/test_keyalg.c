/*
 * Unit tests for common/keyalg: the closed algorithm sets and their wire
 * names. Digest lengths are checked against OpenSSL's own tables.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "common/keyalg.h"

static const struct {
    enum sn_keyalg alg;
    const char *name;
    unsigned bits;
    int rsa;
} algs[] = {
    {SN_KEY_RSA3072, "rsa-3072", 3072, 1},
    {SN_KEY_RSA4096, "rsa-4096", 4096, 1},
    {SN_KEY_P256, "ecdsa-p256", 256, 0},
    {SN_KEY_P384, "ecdsa-p384", 384, 0},
};

static void
test_keyalg_names(void **state)
{
    enum sn_keyalg a;
    size_t i;

    (void)state;
    assert_int_equal(sizeof(algs) / sizeof(algs[0]), SN_KEY_COUNT);
    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        assert_string_equal(sn_keyalg_name(algs[i].alg), algs[i].name);
        a = SN_KEY_COUNT;
        assert_int_equal(sn_keyalg_from_name(algs[i].name, &a), SN_OK);
        assert_int_equal(a, algs[i].alg);
        assert_int_equal(sn_keyalg_bits(a), algs[i].bits);
        assert_int_equal(sn_keyalg_is_rsa(a), algs[i].rsa);
        /* The list shown to clients names every accepted algorithm. */
        assert_non_null(strstr(sn_keyalg_allowed(), algs[i].name));
    }
    assert_string_equal(sn_keyalg_name(SN_KEY_COUNT), "unknown");
    assert_int_equal(sn_keyalg_bits(SN_KEY_COUNT), 0);
    assert_int_equal(sn_keyalg_is_rsa(SN_KEY_COUNT), 0);
}

static void
test_keyalg_rejects(void **state)
{
    static const char *const bad[] = {
        "rsa-2048",   "rsa-1024", "rsa-8192", "ed25519",   "ed448",
        "ecdsa-p521", "p256",     "RSA-3072", "rsa-3072 ", " rsa-3072",
        "rsa3072",    "",         "sha256",   "unknown",
    };
    enum sn_keyalg a;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("key algorithm '%s'\n", bad[i]);
        assert_int_equal(sn_keyalg_from_name(bad[i], &a), SN_ERR_INVALID);
    }
}

static const struct {
    enum sn_digest md;
    const char *name;
    size_t len;
    int nid;
} mds[] = {
    {SN_MD_SHA256, "sha256", 32, NID_sha256},
    {SN_MD_SHA384, "sha384", 48, NID_sha384},
    {SN_MD_SHA512, "sha512", 64, NID_sha512},
};

static void
test_digest_names(void **state)
{
    enum sn_digest d;
    size_t i;

    (void)state;
    assert_int_equal(sizeof(mds) / sizeof(mds[0]), SN_MD_COUNT);
    for (i = 0; i < sizeof(mds) / sizeof(mds[0]); i++) {
        const EVP_MD *md;
        assert_string_equal(sn_digest_name(mds[i].md), mds[i].name);
        d = SN_MD_COUNT;
        assert_int_equal(sn_digest_from_name(mds[i].name, &d), SN_OK);
        assert_int_equal(d, mds[i].md);
        assert_int_equal(sn_digest_len(d), mds[i].len);
        assert_int_equal(sn_digest_nid(d), mds[i].nid);
        /* OpenSSL agrees on the length of the digest behind the NID. */
        md = EVP_get_digestbynid(sn_digest_nid(d));
        assert_non_null(md);
        assert_int_equal(EVP_MD_get_size(md), sn_digest_len(d));
    }
    assert_string_equal(sn_digest_name(SN_MD_COUNT), "unknown");
    assert_int_equal(sn_digest_len(SN_MD_COUNT), 0);
    assert_int_equal(sn_digest_nid(SN_MD_COUNT), NID_undef);
}

static void
test_digest_rejects(void **state)
{
    static const char *const bad[] = {
        "sha1",     "md5",        "sha224",  "SHA256", "sha-256",
        "sha3-256", "sha512-256", "sha256 ", "",       "rsa-3072",
    };
    enum sn_digest d;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("digest '%s'\n", bad[i]);
        assert_int_equal(sn_digest_from_name(bad[i], &d), SN_ERR_INVALID);
    }
}

static void
test_scheme_names(void **state)
{
    enum sn_scheme s;

    (void)state;
    assert_string_equal(sn_scheme_name(SN_SCHEME_PKCS1), "pkcs1");
    assert_string_equal(sn_scheme_name(SN_SCHEME_PSS), "pss");
    assert_string_equal(sn_scheme_name(SN_SCHEME_ECDSA), "ecdsa");
    assert_int_equal(sn_scheme_from_name("pkcs1", &s), SN_OK);
    assert_int_equal(s, SN_SCHEME_PKCS1);
    assert_int_equal(sn_scheme_from_name("pss", &s), SN_OK);
    assert_int_equal(s, SN_SCHEME_PSS);
    assert_int_equal(sn_scheme_from_name("PSS", &s), SN_ERR_INVALID);
    assert_int_equal(sn_scheme_from_name("raw", &s), SN_ERR_INVALID);
    assert_int_equal(sn_scheme_from_name("", &s), SN_ERR_INVALID);
    assert_string_equal(sn_scheme_name((enum sn_scheme)3), "unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyalg_names),
        cmocka_unit_test(test_keyalg_rejects),
        cmocka_unit_test(test_digest_names),
        cmocka_unit_test(test_digest_rejects),
        cmocka_unit_test(test_scheme_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
