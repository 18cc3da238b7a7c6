/*
 * Unit tests for the hsm module's sealing (sn_hsm_seal_key_ensure,
 * sn_hsm_seal, sn_hsm_unseal) against the real SoftHSM2 module, in a token
 * directory of its own. What the token holds is read back through PKCS#11
 * directly (the module's own answers, not Signet's): one key labelled
 * signet-seal, AES-256, sensitive, not extractable, its value refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "common/util.h"
#include "hsm/hsm.h"
#include "support.h"

#define SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define CTX "account:0b4f6a0e-0000-4000-8000-000000000001"
#define THREADS 8

struct fixture {
    char dir[64];
    struct sn_hsm *hsm;
    struct sn_hsm_token *a, *b;
    char *pin_a, *pin_b, *pin_c;
    void *dl; /* the module again, for looking at the tokens directly */
    CK_FUNCTION_LIST_PTR f;
};

static struct fixture fx;

static int
group_setup(void **state)
{
    CK_C_GetFunctionList getfl;
    CK_RV rv;

    (void)state;
    memset(&fx, 0, sizeof(fx));
    if (sn_test_softhsm_home("/tmp/sn-test-seal-XXXXXX", fx.dir,
                             sizeof(fx.dir)) != 0)
        return -1;
    if (sn_hsm_open(SOFTHSM_MODULE, &fx.hsm) != SN_OK ||
        sn_hsm_token_init(fx.hsm, "alpha", &fx.pin_a) != SN_OK ||
        sn_hsm_token_init(fx.hsm, "beta", &fx.pin_b) != SN_OK ||
        sn_hsm_token_init(fx.hsm, "gamma", &fx.pin_c) != SN_OK ||
        sn_hsm_token_open(fx.hsm, "alpha", fx.pin_a, &fx.a) != SN_OK ||
        sn_hsm_token_open(fx.hsm, "beta", fx.pin_b, &fx.b) != SN_OK)
        return -1;
    /* The same module instance (SoftHSM is process-global): already
     * initialised, and the tokens already logged in. */
    if ((fx.dl = dlopen(SOFTHSM_MODULE, RTLD_NOW | RTLD_LOCAL)) == NULL)
        return -1;
    *(void **)(&getfl) = dlsym(fx.dl, "C_GetFunctionList");
    if (getfl == NULL || getfl(&fx.f) != CKR_OK)
        return -1;
    rv = fx.f->C_Initialize(NULL);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
        return -1;
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    sn_hsm_token_close(fx.a);
    sn_hsm_token_close(fx.b);
    sn_hsm_close(fx.hsm);
    if (fx.dl != NULL)
        dlclose(fx.dl);
    sn_secret_free(fx.pin_a);
    sn_secret_free(fx.pin_b);
    sn_secret_free(fx.pin_c);
    sn_test_rm_rf(fx.dir);
    return 0;
}

/* ---- the token, seen through PKCS#11 directly ---- */

static CK_SESSION_HANDLE
raw_session(const char *label, const char *pin)
{
    CK_SLOT_ID slots[16];
    CK_ULONG n = 16, i;
    CK_TOKEN_INFO ti;
    CK_UTF8CHAR want[32];
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_RV rv;

    memset(want, ' ', sizeof(want));
    memcpy(want, label, strlen(label));
    assert_int_equal(fx.f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
    for (i = 0; i < n; i++)
        if (fx.f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            memcmp(ti.label, want, 32) == 0)
            break;
    assert_true(i < n);
    assert_int_equal(
        fx.f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s),
        CKR_OK);
    rv = fx.f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)(uintptr_t)pin,
                       strlen(pin));
    assert_true(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
    return s;
}

/* The secret keys labelled signet-seal: how many, and the first. */
static CK_ULONG
raw_seal_keys(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *first)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_LABEL, (void *)(uintptr_t) "signet-seal", 11},
    };
    CK_OBJECT_HANDLE h[8];
    CK_ULONG n = 0;

    assert_int_equal(fx.f->C_FindObjectsInit(s, t, 2), CKR_OK);
    assert_int_equal(fx.f->C_FindObjects(s, h, 8, &n), CKR_OK);
    assert_int_equal(fx.f->C_FindObjectsFinal(s), CKR_OK);
    if (n > 0 && first != NULL)
        *first = h[0];
    return n;
}

/* ---- tests ---- */

static void
test_ensure_once(void **state)
{
    struct sn_hsm_token *again = NULL;
    CK_SESSION_HANDLE s;

    (void)state;
    s = raw_session("alpha", fx.pin_a);
    assert_int_equal(raw_seal_keys(s, NULL), 0);
    assert_int_equal(sn_hsm_seal_key_ensure(fx.a), SN_OK);
    assert_int_equal(raw_seal_keys(s, NULL), 1);
    assert_int_equal(sn_hsm_seal_key_ensure(fx.a), SN_OK);
    /* A second handle to the token (no cached key handle) finds it. */
    assert_int_equal(sn_hsm_token_open(fx.hsm, "alpha", fx.pin_a, &again),
                     SN_OK);
    assert_int_equal(sn_hsm_seal_key_ensure(again), SN_OK);
    sn_hsm_token_close(again);
    assert_int_equal(raw_seal_keys(s, NULL), 1);
    fx.f->C_CloseSession(s);
}

static void
test_key_not_extractable(void **state)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
    CK_BBOOL ext = CK_TRUE, sens = CK_FALSE, nx = CK_FALSE, tok = CK_FALSE;
    CK_BBOOL enc = CK_FALSE, dec = CK_FALSE, wrap = CK_TRUE, sign = CK_TRUE;
    CK_KEY_TYPE kt = 0;
    CK_ULONG vlen = 0;
    CK_ATTRIBUTE a[] = {
        {CKA_EXTRACTABLE, &ext, sizeof(ext)},
        {CKA_SENSITIVE, &sens, sizeof(sens)},
        {CKA_NEVER_EXTRACTABLE, &nx, sizeof(nx)},
        {CKA_TOKEN, &tok, sizeof(tok)},
        {CKA_ENCRYPT, &enc, sizeof(enc)},
        {CKA_DECRYPT, &dec, sizeof(dec)},
        {CKA_WRAP, &wrap, sizeof(wrap)},
        {CKA_SIGN, &sign, sizeof(sign)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_VALUE_LEN, &vlen, sizeof(vlen)},
    };
    uint8_t value[64];
    CK_ATTRIBUTE v = {CKA_VALUE, value, sizeof(value)};

    (void)state;
    assert_int_equal(sn_hsm_seal_key_ensure(fx.a), SN_OK);
    s = raw_session("alpha", fx.pin_a);
    assert_int_equal(raw_seal_keys(s, &k), 1);
    assert_int_equal(fx.f->C_GetAttributeValue(s, k, a, 10), CKR_OK);
    assert_int_equal(ext, CK_FALSE);
    assert_int_equal(sens, CK_TRUE);
    assert_int_equal(nx, CK_TRUE);
    assert_int_equal(tok, CK_TRUE);
    assert_int_equal(enc, CK_TRUE);
    assert_int_equal(dec, CK_TRUE);
    assert_int_equal(wrap, CK_FALSE);
    assert_int_equal(sign, CK_FALSE);
    assert_int_equal(kt, CKK_AES);
    assert_int_equal(vlen, 32);
    /* The value itself is refused. */
    assert_int_equal(fx.f->C_GetAttributeValue(s, k, &v, 1),
                     CKR_ATTRIBUTE_SENSITIVE);
    fx.f->C_CloseSession(s);
}

static void
test_round_trip(void **state)
{
    const uint8_t secret[20] = "twenty secret bytes!";
    uint8_t sealed[128], sealed2[128], plain[64];
    size_t slen = sizeof(sealed), slen2 = sizeof(sealed2), plen = sizeof(plain);

    (void)state;
    assert_int_equal(sn_hsm_seal_key_ensure(fx.a), SN_OK);
    assert_int_equal(
        sn_hsm_seal(fx.a, CTX, secret, sizeof(secret), sealed, &slen), SN_OK);
    assert_int_equal(slen, sizeof(secret) + SN_HSM_SEAL_OVERHEAD);
    assert_int_equal(sealed[0], 1);
    /* The ciphertext is not the secret. */
    assert_memory_not_equal(sealed + 13, secret, sizeof(secret));
    assert_int_equal(sn_hsm_unseal(fx.a, CTX, sealed, slen, plain, &plen),
                     SN_OK);
    assert_int_equal(plen, sizeof(secret));
    assert_memory_equal(plain, secret, sizeof(secret));
    /* A fresh IV each time: the same secret seals differently. */
    assert_int_equal(
        sn_hsm_seal(fx.a, CTX, secret, sizeof(secret), sealed2, &slen2), SN_OK);
    assert_int_equal(slen2, slen);
    assert_memory_not_equal(sealed + 1, sealed2 + 1, 12);
    assert_memory_not_equal(sealed, sealed2, slen);
    /* Nothing at all seals too (just the tag). */
    slen = sizeof(sealed);
    plen = sizeof(plain);
    assert_int_equal(sn_hsm_seal(fx.a, CTX, secret, 0, sealed, &slen), SN_OK);
    assert_int_equal(slen, SN_HSM_SEAL_OVERHEAD);
    assert_int_equal(sn_hsm_unseal(fx.a, CTX, sealed, slen, plain, &plen),
                     SN_OK);
    assert_int_equal(plen, 0);
}

/* Checks that unsealing fails with SN_ERR_CRYPTO and writes nothing. */
static void
refused(struct sn_hsm_token *tok, const char *ctx, const uint8_t *in,
        size_t inlen)
{
    uint8_t plain[64], untouched[64];
    size_t plen = sizeof(plain);

    memset(plain, 0xa5, sizeof(plain));
    memset(untouched, 0xa5, sizeof(untouched));
    assert_int_equal(sn_hsm_unseal(tok, ctx, in, inlen, plain, &plen),
                     SN_ERR_CRYPTO);
    assert_int_equal(plen, 0);
    assert_memory_equal(plain, untouched, sizeof(plain));
}

static void
test_wrong_context(void **state)
{
    const uint8_t secret[20] = "twenty secret bytes!";
    uint8_t sealed[128];
    size_t slen = sizeof(sealed);

    (void)state;
    assert_int_equal(sn_hsm_seal_key_ensure(fx.a), SN_OK);
    assert_int_equal(
        sn_hsm_seal(fx.a, CTX, secret, sizeof(secret), sealed, &slen), SN_OK);
    refused(fx.a, "account:0b4f6a0e-0000-4000-8000-000000000002", sealed, slen);
    refused(fx.a, "account:0b4f6a0e-0000-4000-8000-00000000000", sealed, slen);
    refused(fx.a, CTX "x", sealed, slen);
}

static void
test_flipped_bytes(void **state)
{
    const uint8_t secret[20] = "twenty secret bytes!";
    uint8_t sealed[128], bad[128];
    size_t slen = sizeof(sealed), i;

    (void)state;
    assert_int_equal(sn_hsm_seal_key_ensure(fx.a), SN_OK);
    assert_int_equal(
        sn_hsm_seal(fx.a, CTX, secret, sizeof(secret), sealed, &slen), SN_OK);
    /* Every byte: the version, the IV, the ciphertext and the tag. */
    for (i = 0; i < slen; i++) {
        memcpy(bad, sealed, slen);
        bad[i] ^= 0x01;
        refused(fx.a, CTX, bad, slen);
    }
    /* Truncated, or extended by a byte. */
    refused(fx.a, CTX, sealed, slen - 1);
    refused(fx.a, CTX, sealed, SN_HSM_SEAL_OVERHEAD - 1);
    refused(fx.a, CTX, sealed, 0);
    memcpy(bad, sealed, slen);
    bad[slen] = 0;
    refused(fx.a, CTX, bad, slen + 1);
}

/* Another token's sealing key does not open alpha's values. */
static void
test_other_token(void **state)
{
    const uint8_t secret[20] = "twenty secret bytes!";
    uint8_t sealed[128], plain[64];
    size_t slen = sizeof(sealed), plen = sizeof(plain);

    (void)state;
    assert_int_equal(sn_hsm_seal_key_ensure(fx.a), SN_OK);
    assert_int_equal(
        sn_hsm_seal(fx.a, CTX, secret, sizeof(secret), sealed, &slen), SN_OK);
    /* beta has no sealing key yet: nothing seals or opens, nothing is
     * made behind the caller's back. */
    assert_int_equal(sn_hsm_unseal(fx.b, CTX, sealed, slen, plain, &plen),
                     SN_ERR_NOT_FOUND);
    plen = sizeof(plain);
    assert_int_equal(
        sn_hsm_seal(fx.b, CTX, secret, sizeof(secret), plain, &plen),
        SN_ERR_NOT_FOUND);
    assert_int_equal(sn_hsm_seal_key_ensure(fx.b), SN_OK);
    refused(fx.b, CTX, sealed, slen);
}

static void
test_limits(void **state)
{
    const uint8_t secret[20] = "twenty secret bytes!";
    uint8_t sealed[128], plain[64], big[1100];
    size_t slen, plen;

    (void)state;
    assert_int_equal(sn_hsm_seal_key_ensure(fx.a), SN_OK);
    slen = sizeof(secret) + SN_HSM_SEAL_OVERHEAD - 1;
    assert_int_equal(
        sn_hsm_seal(fx.a, CTX, secret, sizeof(secret), sealed, &slen),
        SN_ERR_LIMIT);
    assert_int_equal(slen, 0);
    slen = sizeof(sealed);
    assert_int_equal(
        sn_hsm_seal(fx.a, CTX, secret, sizeof(secret), sealed, &slen), SN_OK);
    plen = sizeof(secret) - 1;
    assert_int_equal(sn_hsm_unseal(fx.a, CTX, sealed, slen, plain, &plen),
                     SN_ERR_LIMIT);
    assert_int_equal(plen, 0);
    /* Contexts: 1..256 bytes. */
    plen = sizeof(plain);
    assert_int_equal(sn_hsm_unseal(fx.a, "", sealed, slen, plain, &plen),
                     SN_ERR_INVALID);
    slen = sizeof(sealed);
    assert_int_equal(sn_hsm_seal(fx.a, "", secret, 1, sealed, &slen),
                     SN_ERR_INVALID);
    /* At most 1024 bytes are sealed. */
    memset(big, 7, sizeof(big));
    slen = sizeof(big);
    assert_int_equal(sn_hsm_seal(fx.a, CTX, big, 1025, big, &slen),
                     SN_ERR_INVALID);
}

struct racer {
    struct sn_hsm_token *tok;
    sn_err r;
};

static void *
race(void *arg)
{
    struct racer *rc = arg;

    rc->r = sn_hsm_seal_key_ensure(rc->tok);
    return NULL;
}

/* Threads that ensure at once on a fresh token leave exactly one key. */
static void
test_ensure_concurrent(void **state)
{
    struct sn_hsm_token *tok = NULL;
    struct racer rc[THREADS];
    pthread_t th[THREADS];
    CK_SESSION_HANDLE s;
    size_t i;

    (void)state;
    assert_int_equal(sn_hsm_token_open(fx.hsm, "gamma", fx.pin_c, &tok), SN_OK);
    for (i = 0; i < THREADS; i++) {
        rc[i].tok = tok;
        rc[i].r = SN_ERR_INTERNAL;
        assert_int_equal(pthread_create(&th[i], NULL, race, &rc[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(rc[i].r, SN_OK);
    }
    s = raw_session("gamma", fx.pin_c);
    assert_int_equal(raw_seal_keys(s, NULL), 1);
    fx.f->C_CloseSession(s);
    sn_hsm_token_close(tok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ensure_once),
        cmocka_unit_test(test_key_not_extractable),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_wrong_context),
        cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_other_token),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_ensure_concurrent),
    };

    return cmocka_run_group_tests_name("seal", tests, group_setup,
                                       group_teardown);
}
