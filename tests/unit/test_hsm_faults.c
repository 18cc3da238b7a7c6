/*
 * Fault-injection tests for hsm: the module under test is p11shim, which
 * forwards to SoftHSM2 and lies or fails as SIGNET_P11SHIM_FAULTS says.
 * SoftHSM is process-global, so one run exercises one fault set, named by
 * argv[1] (ctest registers one entry per set). Signatures are judged by
 * OpenSSL, never by Signet.
 *
 * Usage: test_hsm_faults none|stale_handle_once|sign_error|not_local|
 *        extractable [shim.so]
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/util.h"
#include "hsm/hsm.h"
#include "support.h"

#ifndef SN_P11SHIM_PATH
#define SN_P11SHIM_PATH "signet_p11shim.so"
#endif

struct fixture {
    char dir[64];
    const char *shim;
    struct sn_hsm *hsm;
    struct sn_hsm_token *tok;
    char *pin;
};

static struct fixture fx;

static int
group_setup(void **state)
{
    (void)state;
    if (sn_test_softhsm_home("/tmp/sn-test-hsmf-XXXXXX", fx.dir,
                             sizeof(fx.dir)) != 0)
        return -1;
    if (sn_hsm_open(fx.shim, &fx.hsm) != SN_OK) {
        print_error("cannot load the shim %s\n", fx.shim);
        return -1;
    }
    if (sn_hsm_token_init(fx.hsm, "faults", &fx.pin) != SN_OK ||
        sn_hsm_token_open(fx.hsm, "faults", fx.pin, &fx.tok) != SN_OK)
        return -1;
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    sn_hsm_token_close(fx.tok);
    sn_hsm_close(fx.hsm);
    sn_secret_free(fx.pin);
    sn_test_rm_rf(fx.dir);
    return 0;
}

static EVP_PKEY *
generate(const char *id, struct sn_key_facts *facts)
{
    uint8_t *spki = NULL;
    const unsigned char *p;
    size_t len = 0;
    EVP_PKEY *pkey;

    assert_int_equal(
        sn_hsm_generate(fx.tok, SN_KEY_P256, id, &spki, &len, facts), SN_OK);
    p = spki;
    pkey = d2i_PUBKEY(NULL, &p, (long)len);
    assert_non_null(pkey);
    assert_ptr_equal(p, spki + len);
    assert_int_equal(EVP_PKEY_get_base_id(pkey), EVP_PKEY_EC);
    assert_int_equal(EVP_PKEY_get_bits(pkey), 256);
    free(spki);
    return pkey;
}

static int
ossl_verify(EVP_PKEY *pkey, const uint8_t *dg, size_t dlen, const uint8_t *sig,
            size_t siglen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
    int ok = -1;

    if (ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
        EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1)
        ok = EVP_PKEY_verify(ctx, sig, siglen, dg, dlen) == 1 ? 1 : 0;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static sn_err
sign(const char *id, const char *msg, uint8_t *dg, uint8_t **sig,
     size_t *siglen)
{
    unsigned int n = 0;

    assert_int_equal(EVP_Digest(msg, strlen(msg), dg, &n, EVP_sha256(), NULL),
                     1);
    assert_int_equal(n, 32);
    return sn_hsm_sign(fx.tok, id, SN_KEY_P256, SN_MD_SHA256, SN_SCHEME_ECDSA,
                       dg, 32, sig, siglen);
}

static void
sign_verified(EVP_PKEY *pkey, const char *id, const char *msg)
{
    uint8_t dg[32], *sig = NULL;
    size_t siglen = 0;

    assert_int_equal(sign(id, msg, dg, &sig, &siglen), SN_OK);
    assert_int_equal(ossl_verify(pkey, dg, 32, sig, siglen), 1);
    dg[0] ^= 0x80;
    assert_int_equal(ossl_verify(pkey, dg, 32, sig, siglen), 0);
    free(sig);
}

static void
assert_facts_good(const struct sn_key_facts *f)
{
    assert_int_equal(f->local, 1);
    assert_int_equal(f->never_extractable, 1);
    assert_int_equal(f->always_sensitive, 1);
    assert_int_equal(f->extractable, 0);
    assert_int_equal(f->sensitive, 1);
    assert_int_equal(sn_key_facts_ok(f), 1);
}

/* ---- none: the shim alone is transparent ---- */

static void
test_none_transparent(void **state)
{
    struct sn_key_facts facts;
    EVP_PKEY *pkey;

    (void)state;
    pkey = generate("plain", &facts);
    assert_facts_good(&facts);
    sign_verified(pkey, "plain", "one");
    sign_verified(pkey, "plain", "two");
    assert_int_equal(sn_hsm_destroy(fx.tok, "plain"), SN_OK);
    EVP_PKEY_free(pkey);
}

/* ---- stale_handle_once ---- */

/* The first C_SignInit reports the cached handle stale: the hsm module
 * must look the key up again and sign with it. */
static void
test_stale_handle_retried(void **state)
{
    struct sn_key_facts facts;
    EVP_PKEY *pkey;

    (void)state;
    pkey = generate("stale", &facts);
    assert_facts_good(&facts);
    sign_verified(pkey, "stale", "after generate");
    sign_verified(pkey, "stale", "again");
    assert_int_equal(sn_hsm_token_ping(fx.tok), SN_OK);
    EVP_PKEY_free(pkey);
}

/* ---- sign_error ---- */

struct failer {
    pthread_t th;
    int other;
};

static void *
failer_main(void *arg)
{
    struct failer *w = arg;
    uint8_t dg[32], *sig;
    size_t siglen;
    int i;

    memset(dg, 0x11, sizeof(dg));
    for (i = 0; i < 20; i++) {
        sig = NULL;
        if (sn_hsm_sign(fx.tok, "err", SN_KEY_P256, SN_MD_SHA256,
                        SN_SCHEME_ECDSA, dg, 32, &sig, &siglen) != SN_ERR_HSM ||
            sig != NULL)
            w->other++;
        free(sig);
    }
    return NULL;
}

static void
test_sign_error(void **state)
{
    struct sn_key_facts facts;
    struct failer w[4];
    uint8_t dg[32], *sig = (uint8_t *)"x";
    size_t siglen = 99;
    EVP_PKEY *pkey;
    int i;

    (void)state;
    pkey = generate("err", &facts);
    assert_facts_good(&facts);
    assert_int_equal(sign("err", "fails", dg, &sig, &siglen), SN_ERR_HSM);
    assert_null(sig);
    assert_int_equal(siglen, 0);
    /* Failures from many threads leave the session pool usable. */
    memset(w, 0, sizeof(w));
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&w[i].th, NULL, failer_main, &w[i]), 0);
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(w[i].th, NULL), 0);
        assert_int_equal(w[i].other, 0);
    }
    assert_int_equal(sn_hsm_token_ping(fx.tok), SN_OK);
    assert_int_equal(sign("err", "fails again", dg, &sig, &siglen), SN_ERR_HSM);
    /* Everything that is not C_Sign still works. */
    EVP_PKEY_free(pkey);
    pkey = generate("err2", &facts);
    assert_facts_good(&facts);
    assert_int_equal(sn_hsm_destroy(fx.tok, "err"), SN_OK);
    assert_int_equal(sign("err", "gone", dg, &sig, &siglen), SN_ERR_NOT_FOUND);
    assert_int_equal(sn_hsm_destroy(fx.tok, "err2"), SN_OK);
    assert_int_equal(sn_hsm_token_ping(fx.tok), SN_OK);
    EVP_PKEY_free(pkey);
}

/* ---- not_local / extractable ---- */

static void
test_not_local(void **state)
{
    struct sn_key_facts facts;
    EVP_PKEY *pkey;

    (void)state;
    pkey = generate("nl", &facts);
    assert_int_equal(facts.local, 0);
    assert_int_equal(facts.never_extractable, 1);
    assert_int_equal(facts.always_sensitive, 1);
    assert_int_equal(facts.extractable, 0);
    assert_int_equal(facts.sensitive, 1);
    assert_int_equal(sn_key_facts_ok(&facts), 0);
    /* Generation does not judge; the key exists and signs. */
    sign_verified(pkey, "nl", "still signs");
    assert_int_equal(sn_hsm_destroy(fx.tok, "nl"), SN_OK);
    EVP_PKEY_free(pkey);
}

static void
test_extractable(void **state)
{
    struct sn_key_facts facts;
    EVP_PKEY *pkey;

    (void)state;
    pkey = generate("ex", &facts);
    assert_int_equal(facts.local, 1);
    assert_int_equal(facts.never_extractable, 1);
    assert_int_equal(facts.always_sensitive, 1);
    assert_int_equal(facts.extractable, 1);
    assert_int_equal(facts.sensitive, 1);
    assert_int_equal(sn_key_facts_ok(&facts), 0);
    assert_int_equal(sn_hsm_destroy(fx.tok, "ex"), SN_OK);
    EVP_PKEY_free(pkey);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest none[] = {cmocka_unit_test(test_none_transparent)};
    const struct CMUnitTest stale[] = {
        cmocka_unit_test(test_stale_handle_retried)};
    const struct CMUnitTest err[] = {cmocka_unit_test(test_sign_error)};
    const struct CMUnitTest nl[] = {cmocka_unit_test(test_not_local)};
    const struct CMUnitTest ex[] = {cmocka_unit_test(test_extractable)};
    const char *mode = argc > 1 ? argv[1] : "";

    fx.shim = argc > 2 ? argv[2] : SN_P11SHIM_PATH;
    /* The shim reads its faults in C_GetFunctionList, inside sn_hsm_open. */
    setenv("SIGNET_P11SHIM_FAULTS", strcmp(mode, "none") ? mode : "", 1);
    if (strcmp(mode, "none") == 0)
        return cmocka_run_group_tests_name("none", none, group_setup,
                                           group_teardown);
    if (strcmp(mode, "stale_handle_once") == 0)
        return cmocka_run_group_tests_name("stale_handle_once", stale,
                                           group_setup, group_teardown);
    if (strcmp(mode, "sign_error") == 0)
        return cmocka_run_group_tests_name("sign_error", err, group_setup,
                                           group_teardown);
    if (strcmp(mode, "not_local") == 0)
        return cmocka_run_group_tests_name("not_local", nl, group_setup,
                                           group_teardown);
    if (strcmp(mode, "extractable") == 0)
        return cmocka_run_group_tests_name("extractable", ex, group_setup,
                                           group_teardown);
    fprintf(stderr,
            "usage: %s none|stale_handle_once|sign_error|"
            "not_local|extractable [shim]\n",
            argv[0]);
    return 2;
}
