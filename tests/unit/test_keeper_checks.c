/*
 * test_keeper_checks: the keeper signs with a CA or TSA key only what fits
 * that key's profile (src/keeper/checks.c), and what it signs is well
 * formed. Software keys stand in for the HSM. Each object is built the way
 * Signet's front end builds it: certificates by crypto/caprofile.c and
 * crypto/attest.c, CRLs and OCSP answers with the calls of pki/ca.c, the
 * TSTInfo by OpenSSL's TS_RESP_CTX set up as pki/tsa.c sets it up; then it
 * is signed with a placeholder key (crypto/placeholder.h), as
 * pki/keeperkeys.c does, and its DER handed to the keeper. What the keeper
 * returns is judged by OpenSSL, not by Signet: X509_verify_cert,
 * X509_CRL_verify, OCSP_basic_verify, TS_RESP_verify_token, PKCS7_verify,
 * and the openssl tool for the time-stamp token. Every refusal is checked
 * to leave no output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "common/oids.h"
#include "crypto/attest.h"
#include "crypto/caprofile.h"
#include "crypto/keyprot.h"
#include "crypto/placeholder.h"
#include "crypto/x509util.h"
#include "keeper/checks.h"
#include "support.h"

#define DAY 86400L
#define CSBR_TSA_POLICY "2.23.140.1.4.2"
#define BASE "https://signet.example"

/* The hierarchy: Signet's shapes, faster keys (P-256; the code signing
 * CA RSA-2048, so that the RSA placeholder is exercised too). */
struct fx {
    char dir[64];
    struct sn_oids oids;
    char policies[256];
    EVP_PKEY *root_key, *cs_key, *ts_key, *att_root_key, *att_key;
    EVP_PKEY *tsa_key, *leaf_key, *rsa2048_key;
    X509 *root, *cs, *ts, *att_root, *att, *tsa_cert;
    STACK_OF(X509) *tsa_chain;
    struct sn_kc_ca cs_ca, ts_ca, att_ca, root_ca;
    struct sn_kc_tsa tsa;
};

static struct fx F;

/* ---- building, as the front end does ---- */

static X509 *
ca_cert(enum sn_ca_kind kind, EVP_PKEY *key, const char *cn, X509 *issuer,
        EVP_PKEY *issuer_key, int days, const EVP_MD *md)
{
    X509 *x = NULL;

    assert_int_equal(sn_caprofile_ca_cert(kind, key, cn, "Example Org", "US",
                                          issuer, NULL, days, &x),
                     SN_OK);
    assert_true(X509_sign(x, issuer_key, md) > 0);
    return x;
}

static void
urls_for(const char *ca, struct sn_ca_urls *u, char crl[128], char aia[128],
         char ocsp[128])
{
    snprintf(crl, 128, "%s/ca/crl/%s", BASE, ca);
    snprintf(aia, 128, "%s/ca/%s.cer", BASE, ca);
    snprintf(ocsp, 128, "%s/ca/ocsp", BASE);
    u->crl = crl;
    u->ca_issuers = aia;
    u->ocsp = ocsp;
}

/* A code signing certificate for key under issuer, as h_ca.c makes it. */
static X509 *
cs_leaf(enum sn_cs_profile profile, X509 *issuer, EVP_PKEY *key, int days)
{
    char crl[128], aia[128], ocsp[128];
    struct sn_ca_urls urls;
    struct sn_key_protection kp;
    X509_REQ *req = X509_REQ_new();
    X509_NAME *subject = X509_NAME_new();
    X509 *x = NULL;

    assert_non_null(req);
    assert_non_null(subject);
    assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
    assert_int_equal(sn_name_add(subject, "CN", "Example Publisher"), SN_OK);
    assert_int_equal(sn_name_add(subject, "O", "Example Publisher Inc"), SN_OK);
    assert_int_equal(sn_name_add(subject, "L", "Springfield"), SN_OK);
    assert_int_equal(sn_name_add(subject, "C", "US"), SN_OK);
    memset(&kp, 0, sizeof(kp));
    snprintf(kp.hsm.manufacturer, sizeof(kp.hsm.manufacturer), "SoftHSM");
    snprintf(kp.hsm.model, sizeof(kp.hsm.model), "SoftHSM v2");
    snprintf(kp.hsm.serial, sizeof(kp.hsm.serial), "0123456789abcdef");
    kp.listed = 1;
    snprintf(kp.certificate, sizeof(kp.certificate), "4321");
    urls_for("codesigning", &urls, crl, aia, ocsp);
    assert_int_equal(sn_cs_cert_build(profile, req, subject, issuer, &F.oids,
                                      &urls, days, &kp, &x),
                     SN_OK);
    X509_NAME_free(subject);
    X509_REQ_free(req);
    return x;
}

/* A TSA certificate, as sn_tsa_create makes it. */
static X509 *
tsa_leaf(EVP_PKEY *key)
{
    char crl[128], aia[128], ocsp[128];
    struct sn_ca_urls urls;
    X509 *x = NULL;
    int days = sn_x509_days_within(F.ts, time(NULL), 3650);

    urls_for("timestamping", &urls, crl, aia, ocsp);
    assert_true(days > 0);
    assert_int_equal(sn_tsa_cert_build(key, F.ts,
                                       "Signet Timestamping Authority",
                                       "Example Org", "US", F.oids.ca_policy,
                                       &urls, days, &x),
                     SN_OK);
    return x;
}

/* An attestation certificate, as sn_ca_attest makes it. */
static X509 *
att_leaf(X509 *issuer, EVP_PKEY *key, time_t at)
{
    struct sn_attestation a;
    X509 *x = NULL;

    memset(&a, 0, sizeof(a));
    snprintf(a.subscriber, sizeof(a.subscriber), "%s",
             "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f");
    snprintf(a.key_id, sizeof(a.key_id), "%s",
             "5b0e3c2a-8f1d-4c7e-9a6b-2d4f8e1c0a93");
    snprintf(a.hsm.manufacturer, sizeof(a.hsm.manufacturer), "SoftHSM");
    snprintf(a.hsm.model, sizeof(a.hsm.model), "SoftHSM v2");
    a.facts.local = a.facts.never_extractable = a.facts.always_sensitive = 1;
    a.facts.sensitive = 1;
    a.generated_at = at;
    assert_int_equal(sn_attest_cert_build(key, issuer, &a, &F.oids, &x), SN_OK);
    return x;
}

/* Replaces x's extension nid (if any) with value ("" : none). */
static void
set_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    int i;

    while ((i = X509_get_ext_by_NID(x, nid, -1)) >= 0)
        X509_EXTENSION_free(X509_delete_ext(x, i));
    if (value[0] != '\0')
        sn_test_add_ext(x, issuer, nid, value);
}

static EVP_PKEY *
placeholder(X509 *issuer)
{
    EVP_PKEY *ph = NULL;

    assert_int_equal(sn_placeholder_pkey(X509_get0_pubkey(issuer), &ph), SN_OK);
    return ph;
}

static uint8_t *
dup_der(unsigned char *der, int n, size_t *len)
{
    uint8_t *copy;

    assert_true(n > 0);
    copy = malloc((size_t)n + 1); /* room for a trailing-byte test */
    assert_non_null(copy);
    memcpy(copy, der, (size_t)n);
    OPENSSL_free(der);
    *len = (size_t)n;
    return copy;
}

/* x signed with issuer's placeholder: the DER the front end sends. */
static uint8_t *
cert_der(X509 *x, X509 *issuer, const EVP_MD *md, size_t *len)
{
    EVP_PKEY *ph = placeholder(issuer);
    unsigned char *der = NULL;
    int n;

    assert_true(X509_sign(x, ph, md) > 0);
    n = i2d_X509(x, &der);
    EVP_PKEY_free(ph);
    return dup_der(der, n, len);
}

/* ---- asking the keeper ---- */

static uint8_t sentinel;
static const char *expected_why; /* for the next refusal */

/* The next refusal must give a reason containing why. */
static void
expect(const char *why)
{
    expected_why = why;
}

/* Output parameters are reset on entry; a refusal leaves none and says
 * why (the expected reason, if one was set). */
static void
check_outcome(sn_err r, sn_err want, const uint8_t *out, size_t outlen,
              const char *why)
{
    const char *want_why = expected_why;

    expected_why = NULL;
    printf("  -> %s%s%s\n", sn_err_str(r), why[0] ? ": " : "", why);
    if (r == SN_OK && want_why != NULL)
        fail_msg("accepted, expected a refusal for \"%s\"", want_why);
    if (r != SN_OK && want_why != NULL && strstr(why, want_why) == NULL)
        fail_msg("refused for \"%s\", expected \"%s\"", why, want_why);
    if (r != SN_OK) {
        assert_null(out);
        assert_int_equal(outlen, 0);
        assert_true(why[0] != '\0');
    } else {
        assert_non_null(out);
        assert_ptr_not_equal(out, &sentinel);
        assert_true(outlen > 0);
    }
    assert_int_equal(r, want);
}

static sn_err
ask_cert(const struct sn_kc_ca *ca, const uint8_t *der, size_t len, time_t now,
         sn_err want, X509 **signed_x)
{
    uint8_t *out = &sentinel;
    size_t outlen = 99;
    char why[200];
    const unsigned char *p;
    sn_err r;

    why[0] = 'x';
    why[1] = '\0';
    r = sn_kc_sign_cert(ca, der, len, now, &out, &outlen, why, sizeof(why));
    check_outcome(r, want, out, outlen, why);
    if (r == SN_OK && signed_x != NULL) {
        p = out;
        *signed_x = d2i_X509(NULL, &p, (long)outlen);
        assert_non_null(*signed_x);
        assert_ptr_equal(p, out + outlen);
    }
    free(out);
    return r;
}

/* Builds-to-DER x under ca's certificate and asks; x is freed. */
static void
cert_case(const struct sn_kc_ca *ca, X509 *x, time_t now, sn_err want)
{
    size_t len;
    uint8_t *der = cert_der(x, ca->cert, ca->md, &len);

    ask_cert(ca, der, len, now, want, NULL);
    free(der);
    X509_free(x);
}

/* The keeper's certificate: signed by the CA's key over the very TBS the
 * front end built, and valid to OpenSSL's own path validation. */
static void
cert_accepted(const struct sn_kc_ca *ca, X509 *x, STACK_OF(X509) *untrusted,
              X509 *anchor)
{
    unsigned char *tbs_want = NULL, *tbs_got = NULL;
    int n_want, n_got;
    size_t len;
    uint8_t *der = cert_der(x, ca->cert, ca->md, &len);
    X509 *got = NULL;
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *vctx = X509_STORE_CTX_new();

    assert_int_equal(ask_cert(ca, der, len, time(NULL), SN_OK, &got), SN_OK);
    assert_int_equal(X509_verify(got, X509_get0_pubkey(ca->cert)), 1);
    n_want = i2d_re_X509_tbs(x, &tbs_want);
    n_got = i2d_re_X509_tbs(got, &tbs_got);
    assert_int_equal(n_got, n_want);
    assert_memory_equal(tbs_got, tbs_want, (size_t)n_want);
    assert_non_null(store);
    assert_non_null(vctx);
    assert_int_equal(X509_STORE_add_cert(store, anchor), 1);
    assert_int_equal(X509_STORE_CTX_init(vctx, store, got, untrusted), 1);
    if (X509_verify_cert(vctx) != 1)
        fail_msg("path validation: %s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
    X509_STORE_CTX_free(vctx);
    X509_STORE_free(store);
    OPENSSL_free(tbs_want);
    OPENSSL_free(tbs_got);
    X509_free(got);
    X509_free(x);
    free(der);
}

static STACK_OF(X509) *
one(X509 *x)
{
    STACK_OF(X509) *sk = sk_X509_new_null();

    assert_non_null(sk);
    assert_true(sk_X509_push(sk, x) > 0);
    return sk;
}

/* ---- certificates ---- */

static void
test_cert_codesigning_ok(void **state)
{
    STACK_OF(X509) *mid = one(F.cs);

    (void)state;
    cert_accepted(&F.cs_ca, cs_leaf(SN_PROFILE_CS, F.cs, F.leaf_key, 365), mid,
                  F.root);
    cert_accepted(&F.cs_ca, cs_leaf(SN_PROFILE_EV_CS, F.cs, F.leaf_key, 30),
                  mid, F.root);
    /* CSBR 6.3.2's maximum, counted as caprofile.c counts it. */
    cert_accepted(&F.cs_ca, cs_leaf(SN_PROFILE_CS, F.cs, F.leaf_key, 460), mid,
                  F.root);
    sk_X509_free(mid);
}

static void
test_cert_timestamping_ok(void **state)
{
    STACK_OF(X509) *mid = one(F.ts);
    X509 *x = tsa_leaf(F.tsa_key);
    size_t len;
    uint8_t *der = cert_der(x, F.ts, EVP_sha256(), &len);
    X509 *got = NULL;

    (void)state;
    ask_cert(&F.ts_ca, der, len, time(NULL), SN_OK, &got);
    /* What the keeper's TSA_USE will ask of it. */
    assert_int_equal(X509_check_purpose(got, X509_PURPOSE_TIMESTAMP_SIGN, 0),
                     1);
    X509_free(got);
    free(der);
    cert_accepted(&F.ts_ca, x, mid, F.root);
    sk_X509_free(mid);
}

static void
test_cert_attestation_ok(void **state)
{
    STACK_OF(X509) *mid = one(F.att);

    (void)state;
    cert_accepted(&F.att_ca, att_leaf(F.att, F.leaf_key, time(NULL)), mid,
                  F.att_root);
    sk_X509_free(mid);
}

/*
 * Today's attestation certificates last twenty years (attest.c) under an
 * attestation issuer of fifteen (ca.c): such a certificate outlives its
 * issuer and the keeper refuses it.
 */
static void
test_cert_attestation_outlives_issuer(void **state)
{
    X509 *issuer = ca_cert(SN_CA_ATT_ISSUER, F.att_key, "Att Issuer 15y",
                           F.att_root, F.att_root_key, 15 * 365, EVP_sha384());
    struct sn_kc_ca ca = {SN_KC_ATTESTATION, issuer, F.att_key, EVP_sha384()};
    X509 *x;

    (void)state;
    /* As ca.c makes them (an attestation issuer of 15 years): the
     * attestation certificate ends with its issuer, and is accepted. */
    x = att_leaf(issuer, F.leaf_key, time(NULL));
    assert_int_equal(
        ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(issuer)),
        0);
    cert_case(&ca, x, time(NULL), SN_OK);
    /* One that outlives its issuer by a day is refused. */
    x = att_leaf(issuer, F.leaf_key, time(NULL));
    assert_non_null(
        X509_time_adj_ex(X509_getm_notAfter(x), 1, 0,
                         &(time_t){time(NULL) + 15 * 365 * 86400L}));
    expect("validity not inside the CA's");
    cert_case(&ca, x, time(NULL), SN_ERR_STATE);
    X509_free(issuer);
}

static void
test_cert_refused_ca_true(void **state)
{
    X509 *x = cs_leaf(SN_PROFILE_CS, F.cs, F.leaf_key, 365);

    (void)state;
    sn_test_add_ext(x, F.cs, NID_basic_constraints, "critical,CA:TRUE");
    expect("a CA certificate");
    cert_case(&F.cs_ca, x, time(NULL), SN_ERR_STATE);
    /* Nor a keyUsage that signs certificates. */
    x = cs_leaf(SN_PROFILE_CS, F.cs, F.leaf_key, 365);
    set_ext(x, F.cs, NID_key_usage, "critical,digitalSignature,keyCertSign");
    expect("keyCertSign");
    cert_case(&F.cs_ca, x, time(NULL), SN_ERR_STATE);
}

static void
test_cert_refused_eku(void **state)
{
    static const struct {
        const char *eku, *why;
    } bad[] = {
        {"", "without codeSigning"},                /* none */
        {"emailProtection", "without codeSigning"}, /* another */
        {"codeSigning,anyExtendedKeyUsage", "anyExtendedKeyUsage"},
        {"codeSigning,serverAuth", "serverAuth"},
        {"codeSigning,timeStamping", "timeStamping"}, /* the TSA's CA's */
        {"codeSigning,OCSPSigning", "OCSPSigning"},   /* a responder */
    };
    X509 *x;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        printf("EKU \"%s\"\n", bad[i].eku);
        x = cs_leaf(SN_PROFILE_CS, F.cs, F.leaf_key, 365);
        set_ext(x, F.cs, NID_ext_key_usage, bad[i].eku);
        expect(bad[i].why);
        cert_case(&F.cs_ca, x, time(NULL), SN_ERR_STATE);
    }
}

static void
test_cert_refused_timestamping_eku(void **state)
{
    X509 *x;

    (void)state;
    x = tsa_leaf(F.tsa_key);
    set_ext(x, F.ts, NID_ext_key_usage, "timeStamping"); /* not critical */
    expect("not critical and timeStamping only");
    cert_case(&F.ts_ca, x, time(NULL), SN_ERR_STATE);
    x = tsa_leaf(F.tsa_key);
    set_ext(x, F.ts, NID_ext_key_usage, "critical,timeStamping,codeSigning");
    expect("not critical and timeStamping only");
    cert_case(&F.ts_ca, x, time(NULL), SN_ERR_STATE);
    /* A code signing certificate is not the timestamping CA's to make. */
    expect("not critical and timeStamping only");
    cert_case(&F.ts_ca, cs_leaf(SN_PROFILE_CS, F.ts, F.leaf_key, 365),
              time(NULL), SN_ERR_STATE);
}

static void
test_cert_refused_issuer(void **state)
{
    (void)state;
    /* Built for the timestamping CA, presented to the code signing one. */
    expect("issuer is not this CA");
    cert_case(&F.cs_ca, cs_leaf(SN_PROFILE_CS, F.ts, F.leaf_key, 365),
              time(NULL), SN_ERR_STATE);
}

static void
test_cert_refused_validity(void **state)
{
    X509 *short_ca = ca_cert(SN_CA_CODESIGNING, F.cs_key, "Short CS CA", F.root,
                             F.root_key, 30, EVP_sha256());
    struct sn_kc_ca ca = {SN_KC_CODESIGNING, short_ca, F.cs_key, EVP_sha256()};
    time_t now = time(NULL);

    (void)state;
    /* Past the CA's own notAfter. */
    expect("validity not inside the CA's");
    cert_case(&ca, cs_leaf(SN_PROFILE_CS, short_ca, F.leaf_key, 100), now,
              SN_ERR_STATE);
    /* Longer than CSBR 6.3.2 allows. */
    expect("longer than 460 days");
    cert_case(&F.cs_ca, cs_leaf(SN_PROFILE_CS, F.cs, F.leaf_key, 461), now,
              SN_ERR_STATE);
    /* Not issued now: the keeper's clock is two days off the front end's. */
    expect("notBefore is not now");
    cert_case(&F.cs_ca, cs_leaf(SN_PROFILE_CS, F.cs, F.leaf_key, 365),
              now + 2 * DAY, SN_ERR_STATE);
    expect("notBefore is not now");
    cert_case(&F.cs_ca, cs_leaf(SN_PROFILE_CS, F.cs, F.leaf_key, 365),
              now - 2 * DAY, SN_ERR_STATE);
    X509_free(short_ca);
}

static void
test_cert_refused_key(void **state)
{
    (void)state;
    expect("the CA's own");
    cert_case(&F.cs_ca, cs_leaf(SN_PROFILE_CS, F.cs, F.cs_key, 365), time(NULL),
              SN_ERR_STATE);
    expect("RSA key under 3072");
    cert_case(&F.cs_ca, cs_leaf(SN_PROFILE_CS, F.cs, F.rsa2048_key, 365),
              time(NULL), SN_ERR_STATE);
}

static void
test_cert_refused_root(void **state)
{
    X509 *x = cs_leaf(SN_PROFILE_CS, F.root, F.leaf_key, 365);
    size_t len;
    uint8_t *der = cert_der(x, F.root, EVP_sha256(), &len);

    (void)state;
    expect("only in a ceremony");
    ask_cert(&F.root_ca, der, len, time(NULL), SN_ERR_STATE, NULL);
    free(der);
    X509_free(x);
    /* Nor its own kind of certificate: a subordinate CA's. */
    x = ca_cert(SN_CA_CODESIGNING, F.leaf_key, "Another CA", F.root, F.root_key,
                365, EVP_sha256());
    der = cert_der(x, F.root, EVP_sha256(), &len);
    expect("only in a ceremony");
    ask_cert(&F.root_ca, der, len, time(NULL), SN_ERR_STATE, NULL);
    free(der);
    X509_free(x);
}

static void
test_cert_refused_malformed(void **state)
{
    static const uint8_t garbage[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    X509 *x = cs_leaf(SN_PROFILE_CS, F.cs, F.leaf_key, 365);
    size_t len;
    uint8_t *der = cert_der(x, F.cs, EVP_sha256(), &len);

    (void)state;
    ask_cert(&F.cs_ca, garbage, sizeof(garbage), time(NULL), SN_ERR_INVALID,
             NULL);
    ask_cert(&F.cs_ca, der, 0, time(NULL), SN_ERR_INVALID, NULL);
    ask_cert(&F.cs_ca, der, len - 1, time(NULL), SN_ERR_INVALID, NULL);
    der[len] = 0x00; /* trailing bytes */
    ask_cert(&F.cs_ca, der, len + 1, time(NULL), SN_ERR_INVALID, NULL);
    ask_cert(&F.cs_ca, der, len, time(NULL), SN_OK, NULL);
    free(der);
    X509_free(x);
}

/* ---- CRLs ---- */

static void
add_revoked(X509_CRL *crl, long serial, time_t when, int reason)
{
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_INTEGER *sn = ASN1_INTEGER_new();
    ASN1_TIME *date = ASN1_TIME_set(NULL, when);
    ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
    ASN1_GENERALIZEDTIME *inv = ASN1_GENERALIZEDTIME_set(NULL, when);

    assert_int_equal(ASN1_INTEGER_set(sn, serial), 1);
    assert_int_equal(X509_REVOKED_set_serialNumber(rev, sn), 1);
    assert_int_equal(X509_REVOKED_set_revocationDate(rev, date), 1);
    if (reason != 0) {
        assert_int_equal(ASN1_ENUMERATED_set(e, reason), 1);
        assert_int_equal(
            X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, e, 0, 0), 1);
    }
    if (reason == 1) /* key compromise, as ca.c writes it */
        assert_int_equal(
            X509_REVOKED_add1_ext_i2d(rev, NID_invalidity_date, inv, 0, 0), 1);
    assert_int_equal(X509_CRL_add0_revoked(crl, rev), 1);
    ASN1_INTEGER_free(sn);
    ASN1_TIME_free(date);
    ASN1_ENUMERATED_free(e);
    ASN1_GENERALIZEDTIME_free(inv);
}

/* As ca.c's crl_build: v2, lastUpdate t, nextUpdate t + valid, AKI,
 * CRL number, a back-dated key compromise and a plain revocation. */
static X509_CRL *
crl_new(X509 *issuer, time_t t, long valid, int extra_reason)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *at = ASN1_TIME_set(NULL, t);
    ASN1_INTEGER *num = ASN1_INTEGER_new();
    X509_EXTENSION *aki;
    X509V3_CTX ctx;

    assert_non_null(crl);
    assert_int_equal(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
    assert_int_equal(
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)), 1);
    assert_int_equal(X509_CRL_set1_lastUpdate(crl, at), 1);
    assert_non_null(ASN1_TIME_set(at, t + valid));
    assert_int_equal(X509_CRL_set1_nextUpdate(crl, at), 1);
    add_revoked(crl, 0x1234567, t - 30 * DAY, 1);
    add_revoked(crl, 0x7654321, t - 3600, 0);
    if (extra_reason != 0)
        add_revoked(crl, 0x1111111, t - 60, extra_reason);
    X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
    aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier,
                               "keyid:always");
    assert_non_null(aki);
    assert_int_equal(X509_CRL_add_ext(crl, aki, -1), 1);
    assert_int_equal(ASN1_INTEGER_set_int64(num, 42), 1);
    assert_int_equal(X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0), 1);
    assert_int_equal(X509_CRL_sort(crl), 1);
    X509_EXTENSION_free(aki);
    ASN1_INTEGER_free(num);
    ASN1_TIME_free(at);
    return crl;
}

static uint8_t *
crl_der(X509_CRL *crl, X509 *issuer, const EVP_MD *md, size_t *len)
{
    EVP_PKEY *ph = placeholder(issuer);
    unsigned char *der = NULL;
    int n;

    assert_true(X509_CRL_sign(crl, ph, md) > 0);
    n = i2d_X509_CRL(crl, &der);
    EVP_PKEY_free(ph);
    return dup_der(der, n, len);
}

/* Asks ca to sign crl (freed); a signed CRL must verify. */
static void
crl_case(const struct sn_kc_ca *ca, X509_CRL *crl, time_t now, sn_err want)
{
    unsigned char *tbs_want = NULL, *tbs_got = NULL;
    const unsigned char *p;
    uint8_t *out = &sentinel;
    size_t outlen = 99, len;
    uint8_t *der = crl_der(crl, ca->cert, ca->md, &len);
    X509_CRL *got;
    char why[200] = "";
    sn_err r;
    int n;

    r = sn_kc_sign_crl(ca, der, len, now, &out, &outlen, why, sizeof(why));
    check_outcome(r, want, out, outlen, why);
    if (r == SN_OK) {
        p = out;
        assert_non_null(got = d2i_X509_CRL(NULL, &p, (long)outlen));
        assert_ptr_equal(p, out + outlen);
        assert_int_equal(X509_CRL_verify(got, X509_get0_pubkey(ca->cert)), 1);
        n = i2d_re_X509_CRL_tbs(crl, &tbs_want);
        assert_int_equal(i2d_re_X509_CRL_tbs(got, &tbs_got), n);
        assert_memory_equal(tbs_got, tbs_want, (size_t)n);
        assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(got)), 2);
        X509_CRL_free(got);
    }
    OPENSSL_free(tbs_want);
    OPENSSL_free(tbs_got);
    free(out);
    free(der);
    X509_CRL_free(crl);
}

static void
test_crl_ok(void **state)
{
    time_t now = time(NULL);

    (void)state;
    crl_case(&F.cs_ca, crl_new(F.cs, now, 7 * DAY, 0), now, SN_OK);
    crl_case(&F.ts_ca, crl_new(F.ts, now, 7 * DAY, 0), now, SN_OK);
    /* A key that certifies nothing online still signs its CRL. */
    crl_case(&F.root_ca, crl_new(F.root, now, 7 * DAY, 0), now, SN_OK);
}

static void
test_crl_refused(void **state)
{
    time_t now = time(NULL);

    (void)state;
    printf("wrong issuer\n");
    expect("issuer is not this CA");
    crl_case(&F.cs_ca, crl_new(F.ts, now, 7 * DAY, 0), now, SN_ERR_STATE);
    printf("lastUpdate two days off\n");
    expect("lastUpdate is not now");
    crl_case(&F.cs_ca, crl_new(F.cs, now, 7 * DAY, 0), now + 2 * DAY,
             SN_ERR_STATE);
    printf("nextUpdate 30 days on\n");
    expect("nextUpdate");
    crl_case(&F.cs_ca, crl_new(F.cs, now, 30 * DAY, 0), now, SN_ERR_STATE);
    printf("certificateHold\n");
    expect("certificateHold");
    crl_case(&F.cs_ca, crl_new(F.cs, now, 7 * DAY, 6), now, SN_ERR_STATE);
}

static void
test_crl_refused_malformed(void **state)
{
    static const uint8_t garbage[] = {0x30, 0x82, 0xff, 0xff, 0x00};
    X509_CRL *crl = crl_new(F.cs, time(NULL), 7 * DAY, 0);
    uint8_t *out = &sentinel;
    size_t outlen = 99, len;
    uint8_t *der = crl_der(crl, F.cs, EVP_sha256(), &len);
    char why[200] = "";
    sn_err r;

    (void)state;
    r = sn_kc_sign_crl(&F.cs_ca, garbage, sizeof(garbage), time(NULL), &out,
                       &outlen, why, sizeof(why));
    check_outcome(r, SN_ERR_INVALID, out, outlen, why);
    der[len] = 0x00;
    r = sn_kc_sign_crl(&F.cs_ca, der, len + 1, time(NULL), &out, &outlen, why,
                       sizeof(why));
    check_outcome(r, SN_ERR_INVALID, out, outlen, why);
    free(der);
    X509_CRL_free(crl);
}

/* ---- OCSP ---- */

/* As ca.c's sn_ca_ocsp answers for subject (issued by issuer): count
 * SingleResponses (revoked: for keyCompromise a month back, as a
 * back-dated revocation), the nonce echoed, signed by the issuer's
 * placeholder. */
static uint8_t *
ocsp_der(X509 *issuer, const EVP_MD *md, X509 *subject, const EVP_MD *idmd,
         time_t t, long valid, size_t nonce_len, int count, int revoked,
         size_t *len)
{
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    OCSP_CERTID *id;
    ASN1_TIME *thisu = ASN1_TIME_set(NULL, t);
    ASN1_TIME *nextu = ASN1_TIME_set(NULL, t + valid);
    ASN1_TIME *revt = ASN1_TIME_set(NULL, t - 30 * DAY);
    EVP_PKEY *ph = placeholder(issuer);
    unsigned char nonce[64], *der = NULL;
    int i, n;

    assert_non_null(bs);
    id = OCSP_cert_id_new(idmd, X509_get_subject_name(issuer),
                          X509_get0_pubkey_bitstr(issuer),
                          X509_get0_serialNumber(subject));
    assert_non_null(id);
    for (i = 0; i < count; i++)
        assert_non_null(OCSP_basic_add1_status(
            bs, id,
            revoked ? V_OCSP_CERTSTATUS_REVOKED : V_OCSP_CERTSTATUS_GOOD,
            revoked ? OCSP_REVOKED_STATUS_KEYCOMPROMISE : 0, revt, thisu,
            nextu));
    if (nonce_len > 0) {
        assert_true(nonce_len <= sizeof(nonce));
        assert_int_equal(RAND_bytes(nonce, (int)nonce_len), 1);
        assert_int_equal(OCSP_basic_add1_nonce(bs, nonce, (int)nonce_len), 1);
    }
    assert_int_equal(OCSP_basic_sign(bs, issuer, ph, md, NULL,
                                     OCSP_RESPID_KEY | OCSP_NOCERTS),
                     1);
    n = i2d_OCSP_BASICRESP(bs, &der);
    OCSP_CERTID_free(id);
    ASN1_TIME_free(thisu);
    ASN1_TIME_free(nextu);
    ASN1_TIME_free(revt);
    EVP_PKEY_free(ph);
    OCSP_BASICRESP_free(bs);
    return dup_der(der, n, len);
}

/* The keeper's response says what the front end's said: the same
 * SingleResponses and extensions (the nonce), byte for byte. */
static void
assert_same_answers(const uint8_t *der, size_t len, OCSP_BASICRESP *got)
{
    const unsigned char *p = der;
    OCSP_BASICRESP *want = d2i_OCSP_BASICRESP(NULL, &p, (long)len);
    unsigned char *dw, *dg;
    int i, nw, ng;

    assert_non_null(want);
    assert_int_equal(OCSP_resp_count(got), OCSP_resp_count(want));
    assert_int_equal(OCSP_BASICRESP_get_ext_count(got),
                     OCSP_BASICRESP_get_ext_count(want));
    for (i = 0; i < OCSP_resp_count(want) + OCSP_BASICRESP_get_ext_count(want);
         i++) {
        dw = dg = NULL;
        if (i < OCSP_resp_count(want)) {
            nw = i2d_OCSP_SINGLERESP(OCSP_resp_get0(want, i), &dw);
            ng = i2d_OCSP_SINGLERESP(OCSP_resp_get0(got, i), &dg);
        } else {
            nw = i2d_X509_EXTENSION(
                OCSP_BASICRESP_get_ext(want, i - OCSP_resp_count(want)), &dw);
            ng = i2d_X509_EXTENSION(
                OCSP_BASICRESP_get_ext(got, i - OCSP_resp_count(want)), &dg);
        }
        assert_true(nw > 0);
        assert_int_equal(ng, nw);
        assert_memory_equal(dg, dw, (size_t)nw);
        OPENSSL_free(dw);
        OPENSSL_free(dg);
    }
    OCSP_BASICRESP_free(want);
}

static void
ocsp_case(const struct sn_kc_ca *ca, uint8_t *der, size_t len, time_t now,
          sn_err want)
{
    const unsigned char *p;
    uint8_t *out = &sentinel;
    size_t outlen = 99;
    OCSP_BASICRESP *got;
    STACK_OF(X509) *certs;
    X509_STORE *store;
    char why[200] = "";
    sn_err r;

    r = sn_kc_sign_ocsp(ca, der, len, now, &out, &outlen, why, sizeof(why));
    check_outcome(r, want, out, outlen, why);
    if (r == SN_OK) {
        p = out;
        assert_non_null(got = d2i_OCSP_BASICRESP(NULL, &p, (long)outlen));
        assert_ptr_equal(p, out + outlen);
        /* As a client that has the issuing CA's certificate judges it. */
        certs = one(ca->cert);
        assert_non_null(store = X509_STORE_new());
        assert_int_equal(X509_STORE_add_cert(store, F.root), 1);
        if (OCSP_basic_verify(got, certs, store, 0) != 1) {
            ERR_print_errors_fp(stdout);
            fail_msg("OCSP_basic_verify refused the keeper's answer");
        }
        assert_true(sk_X509_num(OCSP_resp_get0_certs(got)) <= 0);
        assert_same_answers(der, len, got);
        X509_STORE_free(store);
        sk_X509_free(certs);
        OCSP_BASICRESP_free(got);
    }
    free(out);
    free(der);
}

static void
test_ocsp_ok(void **state)
{
    X509 *leaf = cs_leaf(SN_PROFILE_CS, F.cs, F.leaf_key, 365);
    time_t now = time(NULL);
    size_t len;
    uint8_t *der;

    (void)state;
    /* SHA-1 CertIDs are what openssl ocsp and Windows send. */
    der = ocsp_der(F.cs, EVP_sha256(), leaf, EVP_sha1(), now, 7 * DAY, 16, 1, 0,
                   &len);
    ocsp_case(&F.cs_ca, der, len, now, SN_OK);
    der = ocsp_der(F.cs, EVP_sha256(), leaf, EVP_sha256(), now, 7 * DAY, 0, 1,
                   0, &len);
    ocsp_case(&F.cs_ca, der, len, now, SN_OK);
    /* Revoked (key compromise, back-dated), and as many CertIDs as a
     * request may hold. */
    der = ocsp_der(F.cs, EVP_sha384(), leaf, EVP_sha1(), now, 7 * DAY, 32, 1, 1,
                   &len);
    ocsp_case(&F.cs_ca, der, len, now, SN_OK);
    der = ocsp_der(F.cs, EVP_sha256(), leaf, EVP_sha1(), now, 7 * DAY, 0, 16, 0,
                   &len);
    ocsp_case(&F.cs_ca, der, len, now, SN_OK);
    X509_free(leaf);
}

static void
test_ocsp_refused(void **state)
{
    X509 *leaf = cs_leaf(SN_PROFILE_CS, F.cs, F.leaf_key, 365);
    X509 *tsa = tsa_leaf(F.tsa_key);
    time_t now = time(NULL);
    size_t len;
    uint8_t *der;

    (void)state;
    printf("another CA's certificate\n");
    der = ocsp_der(F.ts, EVP_sha256(), tsa, EVP_sha1(), now, 7 * DAY, 0, 1, 0,
                   &len);
    expect("names another CA");
    ocsp_case(&F.cs_ca, der, len, now, SN_ERR_STATE);
    printf("producedAt two days off\n");
    der = ocsp_der(F.cs, EVP_sha256(), leaf, EVP_sha1(), now, 7 * DAY, 0, 1, 0,
                   &len);
    expect("producedAt is not now");
    ocsp_case(&F.cs_ca, der, len, now - 2 * DAY, SN_ERR_STATE);
    printf("nextUpdate 30 days on\n");
    der = ocsp_der(F.cs, EVP_sha256(), leaf, EVP_sha1(), now, 30 * DAY, 0, 1, 0,
                   &len);
    expect("nextUpdate");
    ocsp_case(&F.cs_ca, der, len, now, SN_ERR_STATE);
    printf("nonce of 33 octets\n");
    der = ocsp_der(F.cs, EVP_sha256(), leaf, EVP_sha1(), now, 7 * DAY, 33, 1, 0,
                   &len);
    expect("nonce");
    ocsp_case(&F.cs_ca, der, len, now, SN_ERR_STATE);
    printf("trailing bytes\n");
    printf("17 SingleResponses\n");
    der = ocsp_der(F.cs, EVP_sha256(), leaf, EVP_sha1(), now, 7 * DAY, 0, 17, 0,
                   &len);
    expect("1..16");
    ocsp_case(&F.cs_ca, der, len, now, SN_ERR_STATE);
    der = ocsp_der(F.cs, EVP_sha256(), leaf, EVP_sha1(), now, 7 * DAY, 0, 1, 0,
                   &len);
    der[len] = 0x00;
    ocsp_case(&F.cs_ca, der, len + 1, now, SN_ERR_INVALID);
    X509_free(leaf);
    X509_free(tsa);
}

/* ---- time-stamps ---- */

/* A TimeStampReq for data's md imprint, certReq set, with a nonce of
 * nonce_len octets (0: none). */
static TS_REQ *
ts_request(const EVP_MD *md, const char *data, size_t nonce_len)
{
    TS_REQ *req = TS_REQ_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    BIGNUM *bn = NULL;
    ASN1_INTEGER *nonce = NULL;

    assert_non_null(req);
    assert_int_equal(TS_REQ_set_version(req, 1), 1);
    X509_ALGOR_set_md(alg, md);
    assert_int_equal(EVP_Digest(data, strlen(data), dig, &dlen, md, NULL), 1);
    assert_int_equal(TS_MSG_IMPRINT_set_algo(mi, alg), 1);
    assert_int_equal(TS_MSG_IMPRINT_set_msg(mi, dig, (int)dlen), 1);
    assert_int_equal(TS_REQ_set_msg_imprint(req, mi), 1);
    if (nonce_len > 0) {
        assert_non_null(bn = BN_new());
        assert_int_equal(BN_rand(bn, (int)nonce_len * 8, BN_RAND_TOP_ONE,
                                 BN_RAND_BOTTOM_ANY),
                         1);
        assert_non_null(nonce = BN_to_ASN1_INTEGER(bn, NULL));
        assert_int_equal(TS_REQ_set_nonce(req, nonce), 1);
    }
    assert_int_equal(TS_REQ_set_cert_req(req, 1), 1);
    BN_free(bn);
    ASN1_INTEGER_free(nonce);
    X509_ALGOR_free(alg);
    TS_MSG_IMPRINT_free(mi);
    return req;
}

/* serial = boot << 40 | counter, as tsa.c numbers tokens; or zero, for
 * a refusal. */
static int zero_serial;

static ASN1_INTEGER *
serial_cb(TS_RESP_CTX *ctx, void *data)
{
    static uint64_t counter;
    BIGNUM *bn = BN_new();
    ASN1_INTEGER *ai = NULL;

    (void)ctx;
    (void)data;
    if (bn != NULL && zero_serial)
        ai = BN_to_ASN1_INTEGER(bn, NULL);
    else if (bn != NULL && BN_set_word(bn, 0x5a5a5a) == 1 &&
             BN_lshift(bn, bn, 40) == 1 && BN_add_word(bn, ++counter) == 1)
        ai = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    return ai;
}

/*
 * The front end's answer to req: TS_RESP_CTX set up as tsa.c's
 * sn_tsa_respond sets it up, signed with the TSA's placeholder (extra_md:
 * one more imprint hash allowed, for a refusal).
 */
static TS_RESP *
ts_respond(X509 *tsa_cert, TS_REQ *req, const EVP_MD *extra_md)
{
    TS_RESP_CTX *ctx = TS_RESP_CTX_new();
    EVP_PKEY *ph = placeholder(tsa_cert);
    ASN1_OBJECT *def = OBJ_txt2obj(CSBR_TSA_POLICY, 1);
    ASN1_OBJECT *capol = OBJ_txt2obj(F.oids.ca_policy, 1);
    unsigned char *der = NULL;
    BIO *in;
    TS_RESP *resp;
    int n;

    assert_non_null(ctx);
    assert_int_equal(TS_RESP_CTX_set_signer_cert(ctx, tsa_cert), 1);
    assert_int_equal(TS_RESP_CTX_set_signer_key(ctx, ph), 1);
    assert_int_equal(TS_RESP_CTX_set_certs(ctx, F.tsa_chain), 1);
    assert_int_equal(TS_RESP_CTX_set_signer_digest(ctx, EVP_sha256()), 1);
    assert_int_equal(TS_RESP_CTX_set_ess_cert_id_digest(ctx, EVP_sha256()), 1);
    assert_int_equal(TS_RESP_CTX_set_def_policy(ctx, def), 1);
    assert_int_equal(TS_RESP_CTX_add_policy(ctx, capol), 1);
    assert_int_equal(TS_RESP_CTX_add_md(ctx, EVP_sha256()), 1);
    assert_int_equal(TS_RESP_CTX_add_md(ctx, EVP_sha384()), 1);
    assert_int_equal(TS_RESP_CTX_add_md(ctx, EVP_sha512()), 1);
    if (extra_md != NULL)
        assert_int_equal(TS_RESP_CTX_add_md(ctx, extra_md), 1);
    assert_int_equal(TS_RESP_CTX_set_accuracy(ctx, 1, 0, 0), 1);
    assert_int_equal(TS_RESP_CTX_set_clock_precision_digits(ctx, 3), 1);
    TS_RESP_CTX_set_serial_cb(ctx, serial_cb, NULL);
    n = i2d_TS_REQ(req, &der);
    assert_true(n > 0);
    assert_non_null(in = BIO_new_mem_buf(der, n));
    resp = TS_RESP_create_response(ctx, in);
    assert_non_null(resp);
    assert_non_null(TS_RESP_get_tst_info(resp)); /* granted */
    BIO_free(in);
    OPENSSL_free(der);
    ASN1_OBJECT_free(def);
    ASN1_OBJECT_free(capol);
    EVP_PKEY_free(ph);
    TS_RESP_CTX_free(ctx);
    return resp;
}

static uint8_t *
tst_der(TS_RESP *resp, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_TS_TST_INFO(TS_RESP_get_tst_info(resp), &der);

    return dup_der(der, n, len);
}

static sn_err
ask_tst(const struct sn_kc_tsa *tsa, const uint8_t *der, size_t len, time_t now,
        sn_err want, PKCS7 **token)
{
    const unsigned char *p;
    uint8_t *out = &sentinel;
    size_t outlen = 99;
    char why[200] = "";
    sn_err r;

    r = sn_kc_sign_tst(tsa, der, len, now, &out, &outlen, why, sizeof(why));
    check_outcome(r, want, out, outlen, why);
    if (r == SN_OK && token != NULL) {
        p = out;
        assert_non_null(*token = d2i_PKCS7(NULL, &p, (long)outlen));
        assert_ptr_equal(p, out + outlen);
    }
    free(out);
    return r;
}

/* A case on the front end's TSTInfo for req under tsa. */
static void
tst_case(const struct sn_kc_tsa *tsa, TS_REQ *req, const EVP_MD *extra_md,
         long skew, sn_err want)
{
    TS_RESP *resp = ts_respond(F.tsa_cert, req, extra_md);
    size_t len;
    uint8_t *der = tst_der(resp, &len);

    ask_tst(tsa, der, len, time(NULL) + skew, want, NULL);
    free(der);
    TS_RESP_free(resp);
    TS_REQ_free(req);
}

static void
attr_nids(PKCS7_SIGNER_INFO *si, int nids[8], int *n)
{
    int i, j, t;

    *n = sk_X509_ATTRIBUTE_num(si->auth_attr);
    assert_true(*n <= 8);
    for (i = 0; i < *n; i++)
        nids[i] = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(
            sk_X509_ATTRIBUTE_value(si->auth_attr, i)));
    for (i = 0; i < *n; i++) /* sorted, to compare as sets */
        for (j = i + 1; j < *n; j++)
            if (nids[j] < nids[i]) {
                t = nids[i];
                nids[i] = nids[j];
                nids[j] = t;
            }
}

/* Two attribute values encode alike (an ASN1_TYPE built in memory and
 * one parsed differ in their inner string type). */
static void
assert_same_der(const ASN1_TYPE *want, const ASN1_TYPE *got)
{
    unsigned char *dw = NULL, *dg = NULL;
    int nw, ng;

    assert_non_null(want);
    assert_non_null(got);
    nw = i2d_ASN1_TYPE(want, &dw);
    ng = i2d_ASN1_TYPE(got, &dg);
    assert_true(nw > 0);
    assert_int_equal(ng, nw);
    assert_memory_equal(dg, dw, (size_t)nw);
    OPENSSL_free(dw);
    OPENSSL_free(dg);
}

/* The keeper's token has the shape of the one OpenSSL's responder made. */
static void
assert_same_shape(PKCS7 *want, PKCS7 *got)
{
    PKCS7_SIGNER_INFO *a, *b;
    ASN1_OCTET_STRING *ca, *cb;
    int na, nb, nids_a[8], nids_b[8];

    assert_true(PKCS7_type_is_signed(got));
    assert_int_equal(ASN1_INTEGER_get(got->d.sign->version),
                     ASN1_INTEGER_get(want->d.sign->version));
    assert_int_equal(ASN1_INTEGER_get(got->d.sign->version), 3);
    assert_int_equal(OBJ_obj2nid(got->d.sign->contents->type),
                     NID_id_smime_ct_TSTInfo);
    ca = want->d.sign->contents->d.other->value.octet_string;
    cb = got->d.sign->contents->d.other->value.octet_string;
    assert_int_equal(ASN1_OCTET_STRING_cmp(ca, cb), 0);
    assert_int_equal(sk_X509_num(got->d.sign->cert),
                     sk_X509_num(want->d.sign->cert));
    assert_int_equal(sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(got)), 1);
    a = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(want), 0);
    b = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(got), 0);
    assert_int_equal(ASN1_INTEGER_get(b->version),
                     ASN1_INTEGER_get(a->version));
    assert_int_equal(OBJ_obj2nid(b->digest_alg->algorithm),
                     OBJ_obj2nid(a->digest_alg->algorithm));
    assert_int_equal(OBJ_obj2nid(b->digest_enc_alg->algorithm),
                     OBJ_obj2nid(a->digest_enc_alg->algorithm));
    attr_nids(a, nids_a, &na);
    attr_nids(b, nids_b, &nb);
    assert_int_equal(nb, na);
    assert_memory_equal(nids_b, nids_a, (size_t)na * sizeof(int));
    assert_same_der(
        PKCS7_get_signed_attribute(a, NID_id_smime_aa_signingCertificateV2),
        PKCS7_get_signed_attribute(b, NID_id_smime_aa_signingCertificateV2));
    assert_same_der(PKCS7_get_signed_attribute(a, NID_pkcs9_contentType),
                    PKCS7_get_signed_attribute(b, NID_pkcs9_contentType));
}

/* OpenSSL's verifier, as a client checks a token against its request. */
static void
assert_token_verifies(TS_REQ *req, PKCS7 *token)
{
    TS_VERIFY_CTX *v = TS_REQ_to_TS_VERIFY_CTX(req, NULL);
    X509_STORE *store = X509_STORE_new();

    assert_non_null(v);
    assert_non_null(store);
    assert_int_equal(X509_STORE_add_cert(store, F.root), 1);
    TS_VERIFY_CTX_add_flags(v, TS_VFY_SIGNATURE);
    TS_VERIFY_CTX_set_store(v, store); /* v owns it */
    if (TS_RESP_verify_token(v, token) != 1) {
        ERR_print_errors_fp(stdout);
        fail_msg("TS_RESP_verify_token refused the keeper's token");
    }
    TS_VERIFY_CTX_free(v);
}

static void
write_file(const char *name, const void *data, size_t len)
{
    sn_test_write_file(F.dir, name, data, len, 0600);
}

/* Runs argv (no shell) in F.dir with its output to F.dir/out; the exit
 * status. */
static int
run(char *const argv[])
{
    char path[128];
    pid_t pid;
    int st = 0, fd;

    snprintf(path, sizeof(path), "%s/out", F.dir);
    fflush(stdout);
    assert_true((pid = fork()) >= 0);
    if (pid == 0) {
        if (chdir(F.dir) != 0 ||
            (fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
            _exit(127);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Prints what the last run() wrote. */
static void
print_out(void)
{
    char path[128], buf[512];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "%s/out", F.dir);
    if ((f = fopen(path, "r")) == NULL)
        return;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, stdout);
    fclose(f);
}

/* The front end's reply with the keeper's token in it (keeperkeys.c),
 * judged by `openssl ts -verify` against the data and the root. */
static void
assert_openssl_ts_verifies(TS_RESP *resp, PKCS7 *token, const char *data)
{
    char *argv[] = {SN_OPENSSL_BIN, "ts",   "-verify", "-in",      "resp.der",
                    "-data",        "data", "-CAfile", "root.pem", NULL};
    PKCS7 *p7 = PKCS7_dup(token);
    TS_TST_INFO *tst = TS_TST_INFO_dup(TS_RESP_get_tst_info(resp));
    unsigned char *der = NULL;
    BIO *b = BIO_new(BIO_s_mem());
    char *pem;
    long pemlen;
    int n;

    assert_non_null(p7);
    assert_non_null(tst);
    TS_RESP_set_tst_info(resp, p7, tst);
    n = i2d_TS_RESP(resp, &der);
    assert_true(n > 0);
    write_file("resp.der", der, (size_t)n);
    write_file("data", data, strlen(data));
    assert_int_equal(PEM_write_bio_X509(b, F.root), 1);
    pemlen = BIO_get_mem_data(b, &pem);
    write_file("root.pem", pem, (size_t)pemlen);
    n = run(argv);
    print_out();
    assert_int_equal(n, 0);
    BIO_free(b);
    OPENSSL_free(der);
}

static void
test_tst_ok(void **state)
{
    static const char data[] = "signed bytes to be time-stamped";
    const EVP_MD *mds[] = {EVP_sha256(), EVP_sha384(), EVP_sha512()};
    TS_REQ *req;
    TS_RESP *resp;
    PKCS7 *token;
    uint8_t *der;
    size_t len, i;

    (void)state;
    for (i = 0; i < 3; i++) {
        req = ts_request(mds[i], data, i == 0 ? 8 : 32);
        resp = ts_respond(F.tsa_cert, req, NULL);
        der = tst_der(resp, &len);
        token = NULL;
        ask_tst(&F.tsa, der, len, time(NULL), SN_OK, &token);
        assert_same_shape(TS_RESP_get_token(resp), token);
        assert_token_verifies(req, token);
        if (i == 0)
            assert_openssl_ts_verifies(resp, token, data);
        PKCS7_free(token);
        free(der);
        TS_RESP_free(resp);
        TS_REQ_free(req);
    }
}

static void
test_tst_refused(void **state)
{
    static const char data[] = "some bytes";
    struct sn_kc_tsa tsa = F.tsa;

    (void)state;
    printf("genTime an hour off\n");
    expect("genTime is not now");
    tst_case(&F.tsa, ts_request(EVP_sha256(), data, 8), NULL, 3600,
             SN_ERR_STATE);
    expect("genTime is not now");
    tst_case(&F.tsa, ts_request(EVP_sha256(), data, 8), NULL, -3600,
             SN_ERR_STATE);
    printf("a policy the keeper does not accept\n");
    tsa.policies = "1.3.6.1.4.1.32473.77.1, 1.3.6.1.4.1.32473.77.2";
    expect("policy not accepted");
    tst_case(&tsa, ts_request(EVP_sha256(), data, 8), NULL, 0, SN_ERR_STATE);
    printf("a SHA-1 imprint\n");
    expect("imprint hash");
    tst_case(&F.tsa, ts_request(EVP_sha1(), data, 8), EVP_sha1(), 0,
             SN_ERR_STATE);
    printf("a nonce of 33 octets\n");
    expect("nonce longer");
    tst_case(&F.tsa, ts_request(EVP_sha256(), data, 33), NULL, 0, SN_ERR_STATE);
    printf("serial zero\n");
    zero_serial = 1;
    expect("serial");
    tst_case(&F.tsa, ts_request(EVP_sha256(), data, 8), NULL, 0, SN_ERR_STATE);
    zero_serial = 0;
    printf("no TSA key bound\n");
    tsa = F.tsa;
    tsa.key = NULL;
    expect("no TSA key");
    tst_case(&tsa, ts_request(EVP_sha256(), data, 8), NULL, 0, SN_ERR_STATE);
}

static void
test_tst_refused_malformed(void **state)
{
    static const uint8_t garbage[] = {0x30, 0x05, 0x02, 0x01, 0x01, 0x06, 0x00};
    TS_REQ *req = ts_request(EVP_sha256(), "x", 8);
    TS_RESP *resp = ts_respond(F.tsa_cert, req, NULL);
    size_t len;
    uint8_t *der = tst_der(resp, &len);

    (void)state;
    ask_tst(&F.tsa, garbage, sizeof(garbage), time(NULL), SN_ERR_INVALID, NULL);
    der[len] = 0x00;
    ask_tst(&F.tsa, der, len + 1, time(NULL), SN_ERR_INVALID, NULL);
    ask_tst(&F.tsa, der, len - 1, time(NULL), SN_ERR_INVALID, NULL);
    free(der);
    TS_RESP_free(resp);
    TS_REQ_free(req);
}

/* A TSA certificate whose notBefore is 16 months back: CSBR 6.3.2 lets
 * the key sign for 15. */
static void
test_tsa_key_past_15_months(void **state)
{
    X509 *old = tsa_leaf(F.tsa_key);
    struct sn_kc_tsa tsa = F.tsa;
    TS_REQ *req = ts_request(EVP_sha256(), "x", 8);
    TS_RESP *resp;
    uint8_t *der, *out = &sentinel;
    size_t len, outlen = 99;
    char why[200] = "";
    sn_err r;

    (void)state;
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(old), -487 * DAY));
    assert_true(X509_sign(old, F.ts_key, EVP_sha256()) > 0);
    tsa.cert = old;
    resp = ts_respond(old, req, NULL);
    der = tst_der(resp, &len);
    expect("15 months");
    ask_tst(&tsa, der, len, time(NULL), SN_ERR_STATE, NULL);
    expect("15 months");
    r = sn_kc_sign_ts_pkcs7(&tsa, (const uint8_t *)"sig", 3, &out, &outlen, why,
                            sizeof(why));
    check_outcome(r, SN_ERR_STATE, out, outlen, why);
    free(der);
    TS_RESP_free(resp);
    TS_REQ_free(req);
    X509_free(old);
}

/* ---- the Authenticode counter-signature ---- */

static void
test_ts_pkcs7(void **state)
{
    uint8_t data[256], *out = &sentinel;
    size_t outlen = 99;
    const unsigned char *p;
    char why[200] = "";
    PKCS7 *p7;
    PKCS7_SIGNER_INFO *si;
    BIO *content = BIO_new(BIO_s_mem());
    char *got;
    long gotlen;
    sn_err r;

    (void)state;
    assert_int_equal(RAND_bytes(data, sizeof(data)), 1);
    r = sn_kc_sign_ts_pkcs7(&F.tsa, data, sizeof(data), &out, &outlen, why,
                            sizeof(why));
    check_outcome(r, SN_OK, out, outlen, why);
    p = out;
    assert_non_null(p7 = d2i_PKCS7(NULL, &p, (long)outlen));
    assert_ptr_equal(p, out + outlen);
    /* The signature (the TSA's chain is checked by the certificate tests). */
    assert_int_equal(PKCS7_verify(p7, NULL, NULL, NULL, content,
                                  PKCS7_NOVERIFY | PKCS7_BINARY),
                     1);
    gotlen = BIO_get_mem_data(content, &got);
    assert_int_equal(gotlen, sizeof(data));
    assert_memory_equal(got, data, sizeof(data));
    si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0);
    assert_non_null(PKCS7_get_signed_attribute(si, NID_pkcs9_signingTime));
    assert_int_equal(sk_X509_num(p7->d.sign->cert), 2);
    PKCS7_free(p7);
    BIO_free(content);
    free(out);

    out = &sentinel;
    r = sn_kc_sign_ts_pkcs7(&F.tsa, data, 0, &out, &outlen, why, sizeof(why));
    check_outcome(r, SN_ERR_INVALID, out, outlen, why);
    {
        uint8_t *big = calloc(1, 65537);

        assert_non_null(big);
        out = &sentinel;
        r = sn_kc_sign_ts_pkcs7(&F.tsa, big, 65537, &out, &outlen, why,
                                sizeof(why));
        check_outcome(r, SN_ERR_INVALID, out, outlen, why);
        out = &sentinel;
        r = sn_kc_sign_ts_pkcs7(&F.tsa, big, 65536, &out, &outlen, why,
                                sizeof(why));
        check_outcome(r, SN_OK, out, outlen, why);
        free(out);
        free(big);
    }
}

/* ---- fixture ---- */

static EVP_PKEY *
ec_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    assert_non_null(k);
    return k;
}

static int
setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof(F));
    snprintf(F.dir, sizeof(F.dir), "/tmp/sn-kc-XXXXXX");
    if (mkdtemp(F.dir) == NULL ||
        sn_oids_init(&F.oids, SN_OID_EXAMPLE_ARC) != SN_OK)
        return -1;
    F.root_key = ec_key();
    F.cs_key = EVP_RSA_gen(2048);
    F.rsa2048_key = EVP_RSA_gen(2048);
    F.ts_key = ec_key();
    F.att_root_key = ec_key();
    F.att_key = ec_key();
    F.tsa_key = ec_key();
    F.leaf_key = ec_key();
    assert_non_null(F.cs_key);
    assert_non_null(F.rsa2048_key);
    /* Lifetimes as in ca.c's table, but for the attestation issuer's
     * (21 years: its leaves keep their whole twenty; 15 years, as ca.c
     * has it, in test_cert_attestation_outlives_issuer). */
    F.root = ca_cert(SN_CA_ROOT, F.root_key, "Test Root", NULL, F.root_key,
                     25 * 365, EVP_sha256());
    F.cs = ca_cert(SN_CA_CODESIGNING, F.cs_key, "Test Code Signing CA", F.root,
                   F.root_key, 15 * 365, EVP_sha256());
    F.ts = ca_cert(SN_CA_TIMESTAMPING, F.ts_key, "Test Timestamping CA", F.root,
                   F.root_key, 6 * 365, EVP_sha256());
    F.att_root = ca_cert(SN_CA_ATT_ROOT, F.att_root_key, "Test Att Root", NULL,
                         F.att_root_key, 25 * 365, EVP_sha384());
    F.att = ca_cert(SN_CA_ATT_ISSUER, F.att_key, "Test Att Issuer", F.att_root,
                    F.att_root_key, 21 * 365, EVP_sha384());
    F.cs_ca =
        (struct sn_kc_ca){SN_KC_CODESIGNING, F.cs, F.cs_key, EVP_sha256()};
    F.ts_ca =
        (struct sn_kc_ca){SN_KC_TIMESTAMPING, F.ts, F.ts_key, EVP_sha256()};
    F.att_ca =
        (struct sn_kc_ca){SN_KC_ATTESTATION, F.att, F.att_key, EVP_sha384()};
    F.root_ca = (struct sn_kc_ca){SN_KC_NONE, F.root, F.root_key, EVP_sha256()};
    /* The TSA's certificate, signed by the timestamping CA's key. */
    F.tsa_cert = tsa_leaf(F.tsa_key);
    assert_true(X509_sign(F.tsa_cert, F.ts_key, EVP_sha256()) > 0);
    F.tsa_chain = one(F.ts);
    /* As keeperrun.c configures the keeper. */
    snprintf(F.policies, sizeof(F.policies), "%s,%s", CSBR_TSA_POLICY,
             F.oids.ca_policy);
    F.tsa = (struct sn_kc_tsa){F.tsa_cert,   F.tsa_chain, F.tsa_key,
                               EVP_sha256(), F.policies,  1 + 5};
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    sk_X509_free(F.tsa_chain);
    X509_free(F.root);
    X509_free(F.cs);
    X509_free(F.ts);
    X509_free(F.att_root);
    X509_free(F.att);
    X509_free(F.tsa_cert);
    EVP_PKEY_free(F.root_key);
    EVP_PKEY_free(F.cs_key);
    EVP_PKEY_free(F.rsa2048_key);
    EVP_PKEY_free(F.ts_key);
    EVP_PKEY_free(F.att_root_key);
    EVP_PKEY_free(F.att_key);
    EVP_PKEY_free(F.tsa_key);
    EVP_PKEY_free(F.leaf_key);
    sn_test_rm_rf(F.dir);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cert_codesigning_ok),
        cmocka_unit_test(test_cert_timestamping_ok),
        cmocka_unit_test(test_cert_attestation_ok),
        cmocka_unit_test(test_cert_attestation_outlives_issuer),
        cmocka_unit_test(test_cert_refused_ca_true),
        cmocka_unit_test(test_cert_refused_eku),
        cmocka_unit_test(test_cert_refused_timestamping_eku),
        cmocka_unit_test(test_cert_refused_issuer),
        cmocka_unit_test(test_cert_refused_validity),
        cmocka_unit_test(test_cert_refused_key),
        cmocka_unit_test(test_cert_refused_root),
        cmocka_unit_test(test_cert_refused_malformed),
        cmocka_unit_test(test_crl_ok),
        cmocka_unit_test(test_crl_refused),
        cmocka_unit_test(test_crl_refused_malformed),
        cmocka_unit_test(test_ocsp_ok),
        cmocka_unit_test(test_ocsp_refused),
        cmocka_unit_test(test_tst_ok),
        cmocka_unit_test(test_tst_refused),
        cmocka_unit_test(test_tst_refused_malformed),
        cmocka_unit_test(test_tsa_key_past_15_months),
        cmocka_unit_test(test_ts_pkcs7),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
