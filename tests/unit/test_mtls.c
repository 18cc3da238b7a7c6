/*
 * Unit tests for the pure parts of mTLS (issue 16): PKCS#11 URIs
 * (common/p11uri.c, RFC 7512's own examples among them) and subject rules
 * (crypto/peercert.c), the rules matched against names built with
 * OpenSSL's X509_NAME API and against a certificate whose CN appears
 * twice.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <openssl/x509.h>

#include "common/p11uri.h"
#include "crypto/peercert.h"

static void
test_uri_good(void **state)
{
    struct sn_p11uri u;
    const char *why = NULL;

    (void)state;
    assert_int_equal(
        sn_p11uri_parse("pkcs11:token=ci%20client;object=ci-key;type=private"
                        "?module-path=/usr/lib/softhsm/libsofthsm2.so"
                        "&pin-source=file:/run/pin",
                        &u, &why),
        SN_OK);
    assert_string_equal(u.token, "ci client");
    assert_string_equal(u.object, "ci-key");
    assert_string_equal(u.module_path, "/usr/lib/softhsm/libsofthsm2.so");
    assert_string_equal(u.pin_source, "file:/run/pin");
    /* RFC 7512 section 7: an id in percent-encoded octets. */
    assert_int_equal(
        sn_p11uri_parse("pkcs11:id=%01%02%03;serial=DECC0401648", &u, &why),
        SN_OK);
    assert_int_equal(u.id_len, 3);
    assert_memory_equal(u.id, "\x01\x02\x03", 3);
    assert_string_equal(u.serial, "DECC0401648");
}

static void
test_uri_bad(void **state)
{
    static const char *const bad[] = {
        "pkcs12:object=k",                /* another scheme */
        "pkcs11:token=t",                 /* which key? */
        "pkcs11:object=k;object=l",       /* repeated */
        "pkcs11:object=k%2",              /* short escape */
        "pkcs11:object=k%zz",             /* bad escape */
        "pkcs11:object=k%00",             /* NUL in text */
        "pkcs11:object=k;type=cert",      /* not a private key */
        "pkcs11:object=k;colour=blue",    /* unknown attribute */
        "pkcs11:object=k?pin-value=1234", /* a PIN in the URI */
        "pkcs11:object=k;;token=t",       /* empty attribute */
        "pkcs11:object=k?module-path",    /* no value */
        "pkcs11:object=a b",              /* a space unescaped */
    };
    struct sn_p11uri u;
    const char *why;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        assert_int_equal(sn_p11uri_parse(bad[i], &u, &why), SN_ERR_INVALID);
        assert_non_null(why);
        assert_int_equal(u.object[0], '\0');
    }
}

static X509 *
with_subject(const char *const *pairs, size_t n)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);
    size_t i;

    for (i = 0; i + 1 < n; i += 2)
        assert_int_equal(X509_NAME_add_entry_by_txt(
                             name, pairs[i], MBSTRING_UTF8,
                             (const unsigned char *)pairs[i + 1], -1, -1, 0),
                         1);
    return x;
}

static void
test_rules(void **state)
{
    static const char *const good[] = {"CN", "ci-runner-7", "O", "Acme"};
    static const char *const two_cn[] = {"CN",    "ci-runner-7", "CN",
                                         "admin", "O",           "Acme"};
    static const char *const near[] = {"CN", "ci-runner", "O", "Acme"};
    struct sn_subject_rule r[SN_PEERCERT_MAX_RULES];
    char text[256];
    size_t n = 0;
    X509 *x;

    (void)state;
    assert_int_equal(sn_peercert_rules_parse("CN=ci-runner-*\nO=Acme\n", r, &n),
                     SN_OK);
    assert_int_equal(n, 2);
    assert_int_equal(sn_peercert_rules_format(r, n, text, sizeof(text)), SN_OK);
    assert_string_equal(text, "CN=ci-runner-*\nO=Acme\n");
    x = with_subject(good, 4);
    assert_int_equal(sn_peercert_rules_match(x, r, n), 1);
    X509_free(x);
    /* The prefix needs its '-': one character short does not match. */
    x = with_subject(near, 4);
    assert_int_equal(sn_peercert_rules_match(x, r, n), 0);
    X509_free(x);
    /* Two CNs: which one would the rule mean? Neither. */
    x = with_subject(two_cn, 6);
    assert_int_equal(sn_peercert_rules_match(x, r, n), 0);
    X509_free(x);
    /* O exact: "Acme Corp" is not "Acme". */
    assert_int_equal(sn_peercert_rules_parse("O=Acme\n", r, &n), SN_OK);
    {
        static const char *const corp[] = {"O", "Acme Corp"};
        x = with_subject(corp, 2);
        assert_int_equal(sn_peercert_rules_match(x, r, n), 0);
        X509_free(x);
    }
    assert_int_equal(sn_peercert_rules_parse("CN=*\n", r, &n), SN_ERR_INVALID);
    assert_int_equal(sn_peercert_rules_parse("CN=a*b\n", r, &n),
                     SN_ERR_INVALID);
    assert_int_equal(sn_peercert_rules_parse("mail=a\n", r, &n),
                     SN_ERR_INVALID);
    assert_int_equal(sn_peercert_rules_parse("CN=a", r, &n), SN_ERR_INVALID);
    assert_int_equal(sn_peercert_rules_parse("", r, &n), SN_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_good),
        cmocka_unit_test(test_uri_bad),
        cmocka_unit_test(test_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
