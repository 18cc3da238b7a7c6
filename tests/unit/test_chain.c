/*
 * test_chain: the code signing chain check for uploaded certificates
 * (src/crypto/chain.c). A small hierarchy is made here with OpenSSL (root,
 * issuing CA, code signing leaf) and each way an upload can be wrong is
 * tried: a self-signed "Microsoft Corporation" leaf, an expired leaf, a
 * leaf without codeSigning, a wrong intermediate, an untrusted root, an
 * issuing CA restricted to TLS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "crypto/chain.h"
#include "support.h"

#define DAY 86400L

struct fx {
    EVP_PKEY *root_key, *inter_key, *leaf_key, *other_key;
    X509 *root, *inter, *leaf, *other_root, *other_inter;
    STACK_OF(X509) *anchors;
};

static EVP_PKEY *
p256(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    assert_non_null(k);
    return k;
}

static X509 *
ca_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
        long serial)
{
    X509 *x = sn_test_cert_new(cn, key, issuer, serial, -DAY, 30 * DAY);

    sn_test_add_ext(x, issuer ? issuer : x, NID_basic_constraints,
                    "critical,CA:TRUE");
    sn_test_add_ext(x, issuer ? issuer : x, NID_key_usage,
                    "critical,keyCertSign,cRLSign");
    sn_test_add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
    if (issuer != NULL)
        sn_test_add_ext(x, issuer, NID_authority_key_identifier, "keyid");
    assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
    return x;
}

/* A leaf for key by issuer; eku NULL: no extendedKeyUsage. */
static X509 *
leaf_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
          const char *eku, long not_before, long not_after)
{
    X509 *x = sn_test_cert_new(cn, key, issuer, 99, not_before, not_after);
    X509 *iss = issuer ? issuer : x;

    sn_test_add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE");
    sn_test_add_ext(x, iss, NID_key_usage, "critical,digitalSignature");
    if (eku != NULL)
        sn_test_add_ext(x, iss, NID_ext_key_usage, eku);
    sn_test_add_ext(x, iss, NID_subject_key_identifier, "hash");
    if (issuer != NULL)
        sn_test_add_ext(x, issuer, NID_authority_key_identifier, "keyid");
    assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
    return x;
}

static int
setup(void **state)
{
    static struct fx f;

    memset(&f, 0, sizeof(f));
    f.root_key = p256();
    f.inter_key = p256();
    f.leaf_key = p256();
    f.other_key = p256();
    f.root = ca_cert("Test Root", f.root_key, NULL, f.root_key, 1);
    f.inter =
        ca_cert("Test Code Signing CA", f.inter_key, f.root, f.root_key, 2);
    f.leaf = leaf_cert("Acme", f.leaf_key, f.inter, f.inter_key, "codeSigning",
                       -DAY, DAY);
    f.other_root = ca_cert("Other Root", f.other_key, NULL, f.other_key, 3);
    /* Same name as the real issuing CA, another key and root. */
    f.other_inter = ca_cert("Test Code Signing CA", f.other_key, f.other_root,
                            f.other_key, 4);
    f.anchors = sk_X509_new_null();
    assert_non_null(f.anchors);
    assert_true(sk_X509_push(f.anchors, f.root) > 0);
    *state = &f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    sk_X509_free(f->anchors);
    X509_free(f->root);
    X509_free(f->inter);
    X509_free(f->leaf);
    X509_free(f->other_root);
    X509_free(f->other_inter);
    EVP_PKEY_free(f->root_key);
    EVP_PKEY_free(f->inter_key);
    EVP_PKEY_free(f->leaf_key);
    EVP_PKEY_free(f->other_key);
    return 0;
}

/* The chain of certificates given, in order (borrowed). */
static STACK_OF(X509) *
chain_of(X509 *a, X509 *b)
{
    STACK_OF(X509) *s = sk_X509_new_null();

    assert_non_null(s);
    assert_true(sk_X509_push(s, a) > 0);
    if (b != NULL)
        assert_true(sk_X509_push(s, b) > 0);
    return s;
}

/* Verifies [a, b] at now + at against the anchors; returns the result
 * and leaves the reason in why. */
static sn_err
verify(struct fx *f, X509 *a, X509 *b, STACK_OF(X509) *known, long at,
       char *why, size_t len)
{
    STACK_OF(X509) *c = chain_of(a, b);
    sn_err r;

    r = sn_chain_verify_codesigning(c, f->anchors, known, time(NULL) + at, why,
                                    len);
    sk_X509_free(c);
    return r;
}

static void
expect_refused(sn_err r, const char *why, const char *who, const char *what)
{
    if (r != SN_ERR_INVALID || strstr(why, who) == NULL ||
        strstr(why, what) == NULL)
        fail_msg("expected SN_ERR_INVALID naming '%s' and '%s'; got %d '%s'",
                 who, what, (int)r, why);
}

static void
test_good_chain(void **state)
{
    struct fx *f = *state;
    STACK_OF(X509) *known = chain_of(f->inter, NULL);
    char why[256];

    assert_int_equal(verify(f, f->leaf, f->inter, NULL, 0, why, sizeof(why)),
                     SN_OK);
    assert_string_equal(why, "");
    /* The leaf alone, with the issuing CA known to the service. */
    assert_int_equal(verify(f, f->leaf, NULL, known, 0, why, sizeof(why)),
                     SN_OK);
    /* The leaf alone, without: no path. */
    expect_refused(verify(f, f->leaf, NULL, NULL, 0, why, sizeof(why)), why,
                   "certificate 0 (CN=Acme)", "local issuer");
    sk_X509_free(known);
}

static void
test_self_signed_microsoft(void **state)
{
    struct fx *f = *state;
    X509 *ms = leaf_cert("Microsoft Corporation", f->leaf_key, NULL,
                         f->leaf_key, "codeSigning", -DAY, DAY);
    char why[256];

    expect_refused(verify(f, ms, NULL, NULL, 0, why, sizeof(why)), why,
                   "certificate 0 (CN=Microsoft Corporation)", "self");
    /* With the real issuing CA after it: still not a path. */
    expect_refused(verify(f, ms, f->inter, NULL, 0, why, sizeof(why)), why,
                   "CN=Microsoft Corporation", "self");
    X509_free(ms);
}

static void
test_expired(void **state)
{
    struct fx *f = *state;
    X509 *old = leaf_cert("Acme", f->leaf_key, f->inter, f->inter_key,
                          "codeSigning", -3 * DAY, -DAY);
    char why[256];

    expect_refused(verify(f, old, f->inter, NULL, 0, why, sizeof(why)), why,
                   "certificate 0 (CN=Acme)", "certificate has expired");
    /* The good leaf, two days on; and before it was valid. */
    expect_refused(
        verify(f, f->leaf, f->inter, NULL, 2 * DAY, why, sizeof(why)), why,
        "certificate 0", "expired");
    expect_refused(
        verify(f, f->leaf, f->inter, NULL, -2 * DAY, why, sizeof(why)), why,
        "certificate ", "not yet valid");
    X509_free(old);
}

static void
test_no_codesigning(void **state)
{
    struct fx *f = *state;
    X509 *tls = leaf_cert("Acme", f->leaf_key, f->inter, f->inter_key,
                          "serverAuth", -DAY, DAY);
    X509 *none =
        leaf_cert("Acme", f->leaf_key, f->inter, f->inter_key, NULL, -DAY, DAY);
    X509 *any = leaf_cert("Acme", f->leaf_key, f->inter, f->inter_key,
                          "anyExtendedKeyUsage", -DAY, DAY);
    char why[256];

    expect_refused(verify(f, tls, f->inter, NULL, 0, why, sizeof(why)), why,
                   "certificate 0 (CN=Acme)", "codeSigning");
    expect_refused(verify(f, none, f->inter, NULL, 0, why, sizeof(why)), why,
                   "certificate 0 (CN=Acme)", "codeSigning");
    expect_refused(verify(f, any, f->inter, NULL, 0, why, sizeof(why)), why,
                   "certificate 0 (CN=Acme)", "codeSigning");
    X509_free(tls);
    X509_free(none);
    X509_free(any);
}

static void
test_wrong_intermediate(void **state)
{
    struct fx *f = *state;
    STACK_OF(X509) *saved = f->anchors;
    STACK_OF(X509) *other = chain_of(f->other_root, NULL);
    char why[256];

    /* An issuing CA of the same name but another key. */
    expect_refused(
        verify(f, f->leaf, f->other_inter, NULL, 0, why, sizeof(why)), why,
        "certificate 0 (CN=Acme)", "");
    /* A good chain to a root the operator does not trust. */
    f->anchors = other;
    expect_refused(verify(f, f->leaf, f->inter, NULL, 0, why, sizeof(why)), why,
                   "certificate 1 (CN=Test Code Signing CA)", "local issuer");
    f->anchors = saved;
    sk_X509_free(other);
}

static void
test_restricted_issuer(void **state)
{
    struct fx *f = *state;
    X509 *tlsca = sn_test_cert_new("TLS Only CA", f->other_key, f->root, 5,
                                   -DAY, 30 * DAY);
    X509 *leaf;
    char why[256];

    sn_test_add_ext(tlsca, f->root, NID_basic_constraints, "critical,CA:TRUE");
    sn_test_add_ext(tlsca, f->root, NID_key_usage, "critical,keyCertSign");
    sn_test_add_ext(tlsca, f->root, NID_ext_key_usage, "serverAuth");
    sn_test_add_ext(tlsca, f->root, NID_subject_key_identifier, "hash");
    sn_test_add_ext(tlsca, f->root, NID_authority_key_identifier, "keyid");
    assert_true(X509_sign(tlsca, f->root_key, EVP_sha256()) > 0);
    leaf = leaf_cert("Acme", f->leaf_key, tlsca, f->other_key, "codeSigning",
                     -DAY, DAY);
    expect_refused(verify(f, leaf, tlsca, NULL, 0, why, sizeof(why)), why,
                   "certificate 1 (CN=TLS Only CA)", "excludes codeSigning");
    X509_free(leaf);
    X509_free(tlsca);
}

/* A CA certificate as the leaf, even with codeSigning, is refused. */
static void
test_ca_leaf(void **state)
{
    struct fx *f = *state;
    char why[256];

    expect_refused(verify(f, f->inter, NULL, NULL, 0, why, sizeof(why)), why,
                   "certificate 0", "codeSigning");
    assert_int_equal(sn_chain_verify_codesigning(NULL, f->anchors, NULL,
                                                 time(NULL), why, sizeof(why)),
                     SN_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_chain),
        cmocka_unit_test(test_self_signed_microsoft),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_no_codesigning),
        cmocka_unit_test(test_wrong_intermediate),
        cmocka_unit_test(test_restricted_issuer),
        cmocka_unit_test(test_ca_leaf),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
