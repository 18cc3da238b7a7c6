/*
 * Unit tests for hsm against the real SoftHSM2 module, in a token directory
 * of its own. Every public key and signature is judged by OpenSSL (the
 * independent verifier), never by Signet: keys are parsed with d2i_PUBKEY
 * and signatures checked with EVP_PKEY_verify using OpenSSL's own digest,
 * padding and salt settings.
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
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "common/util.h"
#include "hsm/hsm.h"
#include "support.h"
#include "hsm/hsmpkey.h"

#define SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"

/* One module and two tokens for the whole group: SoftHSM is global. */
struct fixture {
    char dir[64];
    struct sn_hsm *hsm;
    struct sn_hsm_token *a, *b;
    char *pin_a, *pin_b;
};

static struct fixture fx;

/* ---- helpers ---- */

static const EVP_MD *
ossl_md(enum sn_digest md)
{
    /* OpenSSL's digests, chosen here and not through sn_digest_nid(). */
    switch (md) {
    case SN_MD_SHA256:
        return EVP_sha256();
    case SN_MD_SHA384:
        return EVP_sha384();
    case SN_MD_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

static EVP_PKEY *
parse_spki(const uint8_t *spki, size_t len)
{
    const unsigned char *p = spki;
    EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)len);

    /* The whole buffer must be the one SubjectPublicKeyInfo. */
    if (pkey != NULL && p != spki + len) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

/* 1: verifies, 0: does not, -1: could not set up the check. */
static int
ossl_verify(EVP_PKEY *pkey, enum sn_digest md, enum sn_scheme scheme,
            const uint8_t *dg, size_t dlen, const uint8_t *sig, size_t siglen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
    const EVP_MD *m = ossl_md(md);
    int ok = -1;

    if (ctx == NULL || m == NULL || EVP_PKEY_verify_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx, m) != 1)
        goto out;
    if (scheme == SN_SCHEME_PKCS1 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
        goto out;
    if (scheme == SN_SCHEME_PSS &&
        (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, EVP_MD_get_size(m)) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, m) != 1))
        goto out;
    ok = EVP_PKEY_verify(ctx, sig, siglen, dg, dlen) == 1 ? 1 : 0;
out:
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static void
make_digest(enum sn_digest md, const char *msg, uint8_t *out, size_t *len)
{
    unsigned int n = 0;

    assert_int_equal(EVP_Digest(msg, strlen(msg), out, &n, ossl_md(md), NULL),
                     1);
    *len = n;
}

static void
scheme_for(enum sn_keyalg alg, enum sn_scheme *list, size_t *n)
{
    if (sn_keyalg_is_rsa(alg)) {
        list[0] = SN_SCHEME_PKCS1;
        list[1] = SN_SCHEME_PSS;
        *n = 2;
    } else {
        list[0] = SN_SCHEME_ECDSA;
        *n = 1;
    }
}

/* Signs one digest and has OpenSSL judge it and a corrupted copy. */
static void
sign_and_verify(struct sn_hsm_token *tok, EVP_PKEY *pkey, const char *id,
                enum sn_keyalg alg, enum sn_digest md, enum sn_scheme scheme)
{
    uint8_t dg[64], *sig = NULL;
    size_t dlen = 0, siglen = 0;

    print_message("sign %s %s %s\n", sn_keyalg_name(alg), sn_digest_name(md),
                  sn_scheme_name(scheme));
    make_digest(md, "signet unit test", dg, &dlen);
    assert_int_equal(dlen, sn_digest_len(md));
    assert_int_equal(
        sn_hsm_sign(tok, id, alg, md, scheme, dg, dlen, &sig, &siglen), SN_OK);
    assert_non_null(sig);
    if (sn_keyalg_is_rsa(alg))
        assert_int_equal(siglen, sn_keyalg_bits(alg) / 8);
    assert_int_equal(ossl_verify(pkey, md, scheme, dg, dlen, sig, siglen), 1);
    /* A different digest must not verify under the same signature. The
     * first byte: ECDSA uses only the leftmost bits of a long digest. */
    dg[0] ^= 0x01;
    assert_int_equal(ossl_verify(pkey, md, scheme, dg, dlen, sig, siglen), 0);
    free(sig);
}

static void
expect_sign_err(struct sn_hsm_token *tok, const char *id, enum sn_keyalg alg,
                enum sn_digest md, enum sn_scheme scheme, size_t dlen,
                sn_err want)
{
    uint8_t dg[80], *sig = (uint8_t *)"x";
    size_t siglen = 99;

    memset(dg, 0x5a, sizeof(dg));
    print_message("expect %s for %s %s %s dlen %zu\n", sn_err_str(want), id,
                  sn_digest_name(md), sn_scheme_name(scheme), dlen);
    assert_int_equal(
        sn_hsm_sign(tok, id, alg, md, scheme, dg, dlen, &sig, &siglen), want);
    assert_null(sig);
    assert_int_equal(siglen, 0);
}

/* Generates id on tok and checks the SPKI and facts; returns the key. */
static EVP_PKEY *
generate_checked(struct sn_hsm_token *tok, enum sn_keyalg alg, const char *id)
{
    struct sn_key_facts facts;
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    EVP_PKEY *pkey;
    char group[64];
    BIGNUM *e = NULL;

    assert_int_equal(sn_hsm_generate(tok, alg, id, &spki, &spki_len, &facts),
                     SN_OK);
    assert_non_null(spki);
    pkey = parse_spki(spki, spki_len);
    free(spki);
    assert_non_null(pkey);
    assert_int_equal(EVP_PKEY_get_bits(pkey), sn_keyalg_bits(alg));
    if (sn_keyalg_is_rsa(alg)) {
        assert_int_equal(EVP_PKEY_get_base_id(pkey), EVP_PKEY_RSA);
        assert_int_equal(EVP_PKEY_get_bn_param(pkey, "e", &e), 1);
        assert_int_equal(BN_get_word(e), 65537);
        BN_free(e);
    } else {
        assert_int_equal(EVP_PKEY_get_base_id(pkey), EVP_PKEY_EC);
        assert_int_equal(
            EVP_PKEY_get_group_name(pkey, group, sizeof(group), NULL), 1);
        assert_string_equal(group,
                            alg == SN_KEY_P256 ? "prime256v1" : "secp384r1");
    }
    assert_int_equal(facts.local, 1);
    assert_int_equal(facts.never_extractable, 1);
    assert_int_equal(facts.always_sensitive, 1);
    assert_int_equal(facts.extractable, 0);
    assert_int_equal(facts.sensitive, 1);
    assert_int_equal(sn_key_facts_ok(&facts), 1);
    return pkey;
}

/* The full life of one key of alg: generate, sign, misuse, destroy. */
static void
key_lifecycle(enum sn_keyalg alg)
{
    enum sn_scheme schemes[2];
    enum sn_digest md;
    const char *id = sn_keyalg_name(alg);
    EVP_PKEY *pkey;
    size_t i, ns;

    pkey = generate_checked(fx.a, alg, id);
    scheme_for(alg, schemes, &ns);
    for (md = SN_MD_SHA256; md < SN_MD_COUNT; md++)
        for (i = 0; i < ns; i++)
            sign_and_verify(fx.a, pkey, id, alg, md, schemes[i]);
    EVP_PKEY_free(pkey);

    /* Digest lengths must match the named digest exactly. */
    expect_sign_err(fx.a, id, alg, SN_MD_SHA256, schemes[0], 31,
                    SN_ERR_INVALID);
    expect_sign_err(fx.a, id, alg, SN_MD_SHA256, schemes[0], 33,
                    SN_ERR_INVALID);
    expect_sign_err(fx.a, id, alg, SN_MD_SHA384, schemes[0], 32,
                    SN_ERR_INVALID);
    expect_sign_err(fx.a, id, alg, SN_MD_SHA512, schemes[0], 0, SN_ERR_INVALID);
    /* Schemes that do not belong to the key type. */
    if (sn_keyalg_is_rsa(alg)) {
        expect_sign_err(fx.a, id, alg, SN_MD_SHA256, SN_SCHEME_ECDSA, 32,
                        SN_ERR_INVALID);
    } else {
        expect_sign_err(fx.a, id, alg, SN_MD_SHA256, SN_SCHEME_PSS, 32,
                        SN_ERR_INVALID);
        expect_sign_err(fx.a, id, alg, SN_MD_SHA256, SN_SCHEME_PKCS1, 32,
                        SN_ERR_INVALID);
    }

    assert_int_equal(sn_hsm_destroy(fx.a, id), SN_OK);
    expect_sign_err(fx.a, id, alg, SN_MD_SHA256, schemes[0], 32,
                    SN_ERR_NOT_FOUND);
    assert_int_equal(sn_hsm_destroy(fx.a, id), SN_ERR_NOT_FOUND);
}

/* ---- group setup ---- */

static int
group_setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof(fx));
    if (sn_test_softhsm_home("/tmp/sn-test-hsm-XXXXXX", fx.dir,
                             sizeof(fx.dir)) != 0)
        return -1;
    if (sn_hsm_open(SOFTHSM_MODULE, &fx.hsm) != SN_OK ||
        sn_hsm_token_init(fx.hsm, "alpha", &fx.pin_a) != SN_OK ||
        sn_hsm_token_init(fx.hsm, "beta", &fx.pin_b) != SN_OK ||
        sn_hsm_token_open(fx.hsm, "alpha", fx.pin_a, &fx.a) != SN_OK ||
        sn_hsm_token_open(fx.hsm, "beta", fx.pin_b, &fx.b) != SN_OK)
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
    sn_secret_free(fx.pin_a);
    sn_secret_free(fx.pin_b);
    sn_test_rm_rf(fx.dir);
    return 0;
}

/* ---- tokens ---- */

static void
test_token_init_pin(void **state)
{
    char *pin = NULL;
    size_t i;

    (void)state;
    assert_int_equal(sn_hsm_token_init(fx.hsm, "delta", &pin), SN_OK);
    assert_non_null(pin);
    /* 16 random bytes, hex: 32 characters. */
    assert_int_equal(strlen(pin), 32);
    for (i = 0; pin[i] != '\0'; i++)
        assert_non_null(strchr("0123456789abcdef", pin[i]));
    /* Two tokens never share a PIN. */
    assert_string_not_equal(pin, fx.pin_a);
    assert_string_not_equal(fx.pin_a, fx.pin_b);
    sn_secret_free(pin);
}

static void
test_token_init_exists(void **state)
{
    char *pin = (char *)"x";

    (void)state;
    assert_int_equal(sn_hsm_token_init(fx.hsm, "alpha", &pin), SN_ERR_EXISTS);
    assert_null(pin);
}

static void
test_token_init_bad_labels(void **state)
{
    char label[40], *pin = (char *)"x";

    (void)state;
    assert_int_equal(sn_hsm_token_init(fx.hsm, "", &pin), SN_ERR_INVALID);
    assert_null(pin);
    memset(label, 'x', 33);
    label[33] = '\0';
    pin = (char *)"x";
    assert_int_equal(sn_hsm_token_init(fx.hsm, label, &pin), SN_ERR_INVALID);
    assert_null(pin);
    /* 32 characters is the PKCS#11 maximum and is accepted. */
    label[32] = '\0';
    assert_int_equal(sn_hsm_token_init(fx.hsm, label, &pin), SN_OK);
    assert_non_null(pin);
    sn_secret_free(pin);
}

static void
test_token_open(void **state)
{
    const struct sn_hsm_info *info;
    struct sn_hsm_token *t = (struct sn_hsm_token *)&fx;
    char *pin = NULL;

    (void)state;
    assert_int_equal(sn_hsm_token_init(fx.hsm, "gamma", &pin), SN_OK);
    assert_int_not_equal(sn_hsm_token_open(fx.hsm, "gamma",
                                           "00000000000000000000000000000000",
                                           &t),
                         SN_OK);
    assert_null(t);
    assert_int_equal(sn_hsm_token_open(fx.hsm, "no-such-token", pin, &t),
                     SN_ERR_NOT_FOUND);
    assert_null(t);
    assert_int_equal(sn_hsm_token_open(fx.hsm, "gamma", pin, &t), SN_OK);
    assert_non_null(t);
    info = sn_hsm_token_info(t);
    assert_string_equal(info->manufacturer, "SoftHSM project");
    assert_string_equal(info->label, "gamma");
    assert_string_equal(info->model, "SoftHSM v2");
    assert_true(strlen(info->serial) > 0);
    assert_int_equal(sn_hsm_token_ping(t), SN_OK);
    sn_hsm_token_close(t);
    sn_secret_free(pin);
}

/* A second open of a token this process is logged in to must still check
 * the PIN, though C_Login answers CKR_USER_ALREADY_LOGGED_IN. */
static void
test_token_reopen_checks_pin(void **state)
{
    struct sn_hsm_token *t = NULL;
    char wrong[] = "00000000000000000000000000000000";

    (void)state;
    assert_int_equal(sn_hsm_token_open(fx.hsm, "alpha", wrong, &t),
                     SN_ERR_CONFIG);
    assert_null(t);
    assert_int_equal(sn_hsm_token_open(fx.hsm, "alpha", fx.pin_a, &t), SN_OK);
    sn_hsm_token_close(t);
}

static void
test_token_ping(void **state)
{
    (void)state;
    assert_int_equal(sn_hsm_token_ping(fx.a), SN_OK);
    assert_int_equal(sn_hsm_token_ping(fx.b), SN_OK);
    assert_string_equal(sn_hsm_token_info(fx.b)->label, "beta");
}

/* ---- keys ---- */

static void
test_rsa3072(void **state)
{
    (void)state;
    key_lifecycle(SN_KEY_RSA3072);
}

static void
test_rsa4096(void **state)
{
    (void)state;
    key_lifecycle(SN_KEY_RSA4096);
}

static void
test_p256(void **state)
{
    (void)state;
    key_lifecycle(SN_KEY_P256);
}

static void
test_p384(void **state)
{
    (void)state;
    key_lifecycle(SN_KEY_P384);
}

/* An id names one key: generating a second key under it is refused and
 * leaves the first one usable. */
static void
test_duplicate_id(void **state)
{
    struct sn_key_facts facts;
    uint8_t *spki = NULL, *sig = NULL, d[32] = {1};
    size_t spki_len = 0, siglen = 0;

    (void)state;
    assert_int_equal(
        sn_hsm_generate(fx.a, SN_KEY_P256, "dup-id", &spki, &spki_len, &facts),
        SN_OK);
    free(spki);
    spki = NULL;
    assert_int_equal(
        sn_hsm_generate(fx.a, SN_KEY_P256, "dup-id", &spki, &spki_len, &facts),
        SN_ERR_EXISTS);
    assert_null(spki);
    assert_int_equal(sn_hsm_sign(fx.a, "dup-id", SN_KEY_P256, SN_MD_SHA256,
                                 SN_SCHEME_ECDSA, d, sizeof(d), &sig, &siglen),
                     SN_OK);
    free(sig);
    assert_int_equal(sn_hsm_destroy(fx.a, "dup-id"), SN_OK);
}

/* An EVP_PKEY view of an HSM key signs an X.509 certificate through
 * OpenSSL's own X509_sign; OpenSSL verifies it with the public key. */
static void
hsm_pkey_signs_x509(enum sn_keyalg alg, const char *id)
{
    struct sn_key_facts facts;
    EVP_PKEY *hk = NULL, *pub;
    uint8_t *spki = NULL;
    const unsigned char *p;
    size_t spki_len = 0;
    X509 *x;
    X509_NAME *n;

    assert_int_equal(sn_hsm_generate(fx.a, alg, id, &spki, &spki_len, &facts),
                     SN_OK);
    p = spki;
    pub = d2i_PUBKEY(NULL, &p, (long)spki_len);
    assert_non_null(pub);
    assert_int_equal(sn_hsm_pkey(fx.a, id, alg, spki, spki_len, &hk), SN_OK);
    x = X509_new();
    n = X509_NAME_new();
    assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                                                (const unsigned char *)"t", -1,
                                                -1, 0),
                     1);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, n);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pub);
    assert_true(X509_sign(x, hk, EVP_sha384()) > 0);
    assert_int_equal(X509_verify(x, pub), 1);
    /* A different digest goes through the same path. */
    assert_true(X509_sign(x, hk, EVP_sha256()) > 0);
    assert_int_equal(X509_verify(x, pub), 1);
    /* After destruction in the HSM, signing fails cleanly. */
    assert_int_equal(sn_hsm_destroy(fx.a, id), SN_OK);
    assert_int_equal(X509_sign(x, hk, EVP_sha256()), 0);
    X509_NAME_free(n);
    X509_free(x);
    EVP_PKEY_free(hk);
    EVP_PKEY_free(pub);
    free(spki);
}

static void
test_hsm_pkey(void **state)
{
    (void)state;
    hsm_pkey_signs_x509(SN_KEY_P384, "pkey-ec");
    hsm_pkey_signs_x509(SN_KEY_RSA3072, "pkey-rsa");
}

static void
test_bad_ids(void **state)
{
    struct sn_key_facts facts;
    uint8_t *spki = (uint8_t *)"x";
    size_t spki_len = 99;
    char longid[70];

    (void)state;
    memset(longid, 'k', 65);
    longid[65] = '\0';
    assert_int_equal(
        sn_hsm_generate(fx.a, SN_KEY_P256, "", &spki, &spki_len, &facts),
        SN_ERR_INVALID);
    assert_null(spki);
    assert_int_equal(spki_len, 0);
    assert_int_equal(
        sn_hsm_generate(fx.a, SN_KEY_P256, longid, &spki, &spki_len, &facts),
        SN_ERR_INVALID);
    assert_int_equal(sn_hsm_destroy(fx.a, longid), SN_ERR_INVALID);
    assert_int_equal(sn_hsm_destroy(fx.a, ""), SN_ERR_INVALID);
    expect_sign_err(fx.a, longid, SN_KEY_P256, SN_MD_SHA256, SN_SCHEME_ECDSA,
                    32, SN_ERR_INVALID);
}

static void
test_unknown_key(void **state)
{
    (void)state;
    expect_sign_err(fx.a, "no-such-key", SN_KEY_P256, SN_MD_SHA256,
                    SN_SCHEME_ECDSA, 32, SN_ERR_NOT_FOUND);
    expect_sign_err(fx.a, "no-such-key", SN_KEY_RSA3072, SN_MD_SHA256,
                    SN_SCHEME_PKCS1, 32, SN_ERR_NOT_FOUND);
    assert_int_equal(sn_hsm_destroy(fx.a, "no-such-key"), SN_ERR_NOT_FOUND);
}

/* A key on token A is invisible through token B, even under the same id. */
static void
test_token_isolation(void **state)
{
    EVP_PKEY *ka, *kb;
    uint8_t dg[32], *sig = NULL;
    size_t dlen, siglen;

    (void)state;
    ka = generate_checked(fx.a, SN_KEY_P256, "iso");
    expect_sign_err(fx.b, "iso", SN_KEY_P256, SN_MD_SHA256, SN_SCHEME_ECDSA, 32,
                    SN_ERR_NOT_FOUND);
    assert_int_equal(sn_hsm_destroy(fx.b, "iso"), SN_ERR_NOT_FOUND);
    /* The failed destroy through B left A's key alone. */
    sign_and_verify(fx.a, ka, "iso", SN_KEY_P256, SN_MD_SHA256,
                    SN_SCHEME_ECDSA);

    /* B's own "iso" is a different key: A's public key rejects it. */
    kb = generate_checked(fx.b, SN_KEY_P256, "iso");
    make_digest(SN_MD_SHA256, "isolation", dg, &dlen);
    assert_int_equal(sn_hsm_sign(fx.b, "iso", SN_KEY_P256, SN_MD_SHA256,
                                 SN_SCHEME_ECDSA, dg, dlen, &sig, &siglen),
                     SN_OK);
    assert_int_equal(
        ossl_verify(kb, SN_MD_SHA256, SN_SCHEME_ECDSA, dg, dlen, sig, siglen),
        1);
    assert_int_equal(
        ossl_verify(ka, SN_MD_SHA256, SN_SCHEME_ECDSA, dg, dlen, sig, siglen),
        0);
    free(sig);
    assert_int_equal(sn_hsm_destroy(fx.b, "iso"), SN_OK);
    assert_int_equal(sn_hsm_destroy(fx.a, "iso"), SN_OK);
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kb);
}

/*
 * Two handles on one token (the daemon's service token and a mapped
 * partition may share a label). A key destroyed and re-made through one
 * handle leaves stale cached handles in the other: each must be dropped,
 * and signing must reach the current key.
 */
static void
test_stale_cache_regenerate(void **state)
{
    struct sn_hsm_token *t2 = NULL;
    EVP_PKEY *pkey = NULL;
    int round;

    (void)state;
    assert_int_equal(sn_hsm_token_open(fx.hsm, "alpha", fx.pin_a, &t2), SN_OK);
    for (round = 0; round < 3; round++) {
        EVP_PKEY_free(pkey);
        pkey = generate_checked(fx.a, SN_KEY_P256, "regen");
        if (round < 2)
            assert_int_equal(sn_hsm_destroy(t2, "regen"), SN_OK);
    }
    sign_and_verify(fx.a, pkey, "regen", SN_KEY_P256, SN_MD_SHA256,
                    SN_SCHEME_ECDSA);
    assert_int_equal(sn_hsm_destroy(t2, "regen"), SN_OK);
    expect_sign_err(fx.a, "regen", SN_KEY_P256, SN_MD_SHA256, SN_SCHEME_ECDSA,
                    32, SN_ERR_NOT_FOUND);
    EVP_PKEY_free(pkey);
    sn_hsm_token_close(t2);
}

/* ---- concurrency ---- */

#define NTHREADS 8
#define NSIGNS 50

struct worker {
    pthread_t th;
    struct sn_hsm_token *tok;
    EVP_PKEY *pkey;
    int n;
    int ok, failed, bad_sig;
    sn_err first_err;
};

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    uint8_t dg[32], *sig;
    size_t siglen;
    unsigned int dn;
    char msg[64];
    sn_err r;
    int i;

    for (i = 0; i < NSIGNS; i++) {
        snprintf(msg, sizeof(msg), "worker %d message %d", w->n, i);
        if (EVP_Digest(msg, strlen(msg), dg, &dn, EVP_sha256(), NULL) != 1) {
            w->failed++;
            continue;
        }
        sig = NULL;
        r = sn_hsm_sign(w->tok, "conc", SN_KEY_P256, SN_MD_SHA256,
                        SN_SCHEME_ECDSA, dg, dn, &sig, &siglen);
        if (r != SN_OK) {
            if (w->failed++ == 0)
                w->first_err = r;
            continue;
        }
        if (ossl_verify(w->pkey, SN_MD_SHA256, SN_SCHEME_ECDSA, dg, dn, sig,
                        siglen) == 1)
            w->ok++;
        else
            w->bad_sig++;
        free(sig);
    }
    return NULL;
}

/*
 * Eight threads sign through one token handle that has not seen the key
 * yet, so they race on the session pool and the handle cache alike.
 */
static void
test_concurrent_signing(void **state)
{
    struct worker w[NTHREADS];
    struct sn_hsm_token *t2 = NULL;
    EVP_PKEY *pkey;
    int i, ok = 0;

    (void)state;
    pkey = generate_checked(fx.a, SN_KEY_P256, "conc");
    assert_int_equal(sn_hsm_token_open(fx.hsm, "alpha", fx.pin_a, &t2), SN_OK);
    memset(w, 0, sizeof(w));
    for (i = 0; i < NTHREADS; i++) {
        w[i].tok = t2;
        w[i].pkey = pkey;
        w[i].n = i;
        assert_int_equal(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(w[i].th, NULL), 0);
    for (i = 0; i < NTHREADS; i++) {
        print_message("worker %d: ok %d failed %d (%s) bad %d\n", i, w[i].ok,
                      w[i].failed, sn_err_str(w[i].first_err), w[i].bad_sig);
        assert_int_equal(w[i].failed, 0);
        assert_int_equal(w[i].bad_sig, 0);
        ok += w[i].ok;
    }
    assert_int_equal(ok, NTHREADS * NSIGNS);
    assert_int_equal(sn_hsm_token_ping(t2), SN_OK);
    /* Destroyed through the racing handle: no stale copy may survive. */
    assert_int_equal(sn_hsm_destroy(t2, "conc"), SN_OK);
    expect_sign_err(t2, "conc", SN_KEY_P256, SN_MD_SHA256, SN_SCHEME_ECDSA, 32,
                    SN_ERR_NOT_FOUND);
    expect_sign_err(fx.a, "conc", SN_KEY_P256, SN_MD_SHA256, SN_SCHEME_ECDSA,
                    32, SN_ERR_NOT_FOUND);
    sn_hsm_token_close(t2);
    EVP_PKEY_free(pkey);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_init_pin),
        cmocka_unit_test(test_token_init_exists),
        cmocka_unit_test(test_token_init_bad_labels),
        cmocka_unit_test(test_token_open),
        cmocka_unit_test(test_token_ping),
        cmocka_unit_test(test_token_reopen_checks_pin),
        cmocka_unit_test(test_duplicate_id),
        cmocka_unit_test(test_hsm_pkey),
        cmocka_unit_test(test_p256),
        cmocka_unit_test(test_p384),
        cmocka_unit_test(test_rsa3072),
        cmocka_unit_test(test_rsa4096),
        cmocka_unit_test(test_bad_ids),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_token_isolation),
        cmocka_unit_test(test_stale_cache_regenerate),
        cmocka_unit_test(test_concurrent_signing),
    };

    return cmocka_run_group_tests_name("hsm", tests, group_setup,
                                       group_teardown);
}
