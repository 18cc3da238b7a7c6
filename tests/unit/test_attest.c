/*
 * test_attest: key attestation evidence. Software keys stand in for the
 * HSM: an attestation root and issuer are made here and sign attestation
 * certificates for software subscriber keys. The extension encoder is
 * checked against DER assembled by hand, the decoder gets truncations,
 * trailing bytes, BER and over-long fields, and the verifiers get every
 * kind of bad evidence. With SN_CRYPTO_OUT set, the certificates, bundles
 * and CSRs are written for verify_attest.sh to hand to openssl and to the
 * signet CLI.
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

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "crypto/attest.h"
#include "crypto/keyprot.h"
#include "crypto/x509util.h"
#include "support.h"

#define WHY_LEN 256
#define UUID_KEY "5b0e3c2a-8f1d-4c7e-9a6b-2d4f8e1c0a93"
#define UUID_SUB "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"
#define GENTIME "20260301120000Z"

/*
 * Signet's OIDs under the documentation PEN (RFC 5612), as the test homes
 * use them; verify_attest.sh looks for them there.
 */
static struct sn_oids oids;

struct fx {
    EVP_PKEY *root_key, *issuer_key, *other_root_key;
    EVP_PKEY *key, *rsa_key, *other_key; /* subscriber keys */
    X509 *root, *issuer, *other_root;
    STACK_OF(X509) *roots, *other_roots;
    struct sn_attestation good;
    const char *outdir;
};

/* ---- plumbing ---- */

struct soft_signer {
    EVP_PKEY *key;
};

static sn_err
soft_sign(void *arg, enum sn_digest md, const uint8_t *digest, size_t dlen,
          uint8_t **sig, size_t *siglen)
{
    struct soft_signer *s = arg;

    return sn_test_soft_sign(s->key, md, digest, dlen, sig, siglen);
}

static void
write_out(const struct fx *f, const char *name, const void *data, size_t len)
{
    if (f->outdir != NULL)
        sn_test_write_file(f->outdir, name, data, len, 0600);
}

/* Writes the PEM of up to three certificates, concatenated. */
static void
write_certs(const struct fx *f, const char *name, X509 *a, X509 *b, X509 *c)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;

    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_X509(bio, a), 1);
    if (b != NULL)
        assert_int_equal(PEM_write_bio_X509(bio, b), 1);
    if (c != NULL)
        assert_int_equal(PEM_write_bio_X509(bio, c), 1);
    n = BIO_get_mem_data(bio, &data);
    assert_true(n > 0);
    write_out(f, name, data, (size_t)n);
    BIO_free(bio);
}

static void
write_req(const struct fx *f, const char *name, X509_REQ *req)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long n;

    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
    n = BIO_get_mem_data(bio, &data);
    assert_true(n > 0);
    write_out(f, name, data, (size_t)n);
    BIO_free(bio);
}

/* A CA certificate good enough for X509_V_FLAG_X509_STRICT. */
static X509 *
make_ca(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
        long serial)
{
    X509 *x = sn_test_cert_new(cn, key, issuer, serial, -86400, 86400L * 3650);

    sn_test_add_ext(x, issuer ? issuer : x, NID_basic_constraints,
                    issuer ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE");
    sn_test_add_ext(x, issuer ? issuer : x, NID_key_usage,
                    "critical,keyCertSign,cRLSign");
    sn_test_add_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash");
    if (issuer != NULL)
        sn_test_add_ext(x, issuer, NID_authority_key_identifier,
                        "keyid:always");
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static time_t
gentime_value(void)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = 2026 - 1900;
    tm.tm_mon = 2;
    tm.tm_mday = 1;
    tm.tm_hour = 12;
    return timegm(&tm);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct sn_attestation *a;

    if (f == NULL)
        return -1;
    f->root_key = EVP_EC_gen("P-256");
    f->issuer_key = EVP_EC_gen("P-384");
    f->other_root_key = EVP_EC_gen("P-256");
    f->key = EVP_EC_gen("P-256");
    f->rsa_key = EVP_RSA_gen(3072);
    f->other_key = EVP_EC_gen("P-256");
    if (!f->root_key || !f->issuer_key || !f->other_root_key || !f->key ||
        !f->rsa_key || !f->other_key)
        return -1;
    f->root = make_ca("Signet Attestation Root", f->root_key, NULL, NULL, 1);
    f->issuer = make_ca("Signet Attestation Issuer", f->issuer_key, f->root,
                        f->root_key, 2);
    f->other_root =
        make_ca("Signet Attestation Root", f->other_root_key, NULL, NULL, 1);
    f->roots = sk_X509_new_null();
    f->other_roots = sk_X509_new_null();
    if (f->roots == NULL || f->other_roots == NULL ||
        !sk_X509_push(f->roots, f->root) ||
        !sk_X509_push(f->other_roots, f->other_root))
        return -1;

    a = &f->good;
    snprintf(a->subscriber, sizeof(a->subscriber), "%s", UUID_SUB);
    snprintf(a->key_id, sizeof(a->key_id), "%s", UUID_KEY);
    snprintf(a->hsm.manufacturer, sizeof(a->hsm.manufacturer),
             "SoftHSM project");
    snprintf(a->hsm.model, sizeof(a->hsm.model), "SoftHSM v2");
    snprintf(a->hsm.serial, sizeof(a->hsm.serial), "0123456789abcdef");
    snprintf(a->hsm.label, sizeof(a->hsm.label), "signet-token");
    a->facts.local = 1;
    a->facts.never_extractable = 1;
    a->facts.always_sensitive = 1;
    a->facts.extractable = 0;
    a->facts.sensitive = 1;
    a->generated_at = time(NULL) - 60;
    f->outdir = getenv("SN_CRYPTO_OUT");
    if (f->outdir != NULL) {
        write_certs(f, "att-root.pem", f->root, NULL, NULL);
        write_certs(f, "att-issuer.pem", f->issuer, NULL, NULL);
        write_certs(f, "att-other-root.pem", f->other_root, NULL, NULL);
        write_certs(f, "att-roots.pem", f->other_root, f->root, NULL);
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    sk_X509_free(f->roots);
    sk_X509_free(f->other_roots);
    X509_free(f->root);
    X509_free(f->issuer);
    X509_free(f->other_root);
    EVP_PKEY_free(f->root_key);
    EVP_PKEY_free(f->issuer_key);
    EVP_PKEY_free(f->other_root_key);
    EVP_PKEY_free(f->key);
    EVP_PKEY_free(f->rsa_key);
    EVP_PKEY_free(f->other_key);
    free(f);
    return 0;
}

/* An attestation certificate for key, signed by the test issuer. */
static X509 *
attest(struct fx *f, EVP_PKEY *key, const struct sn_attestation *a)
{
    X509 *x = (X509 *)f; /* sentinel: must be replaced */

    assert_int_equal(sn_attest_cert_build(key, f->issuer, a, &oids, &x), SN_OK);
    assert_non_null(x);
    assert_true(X509_sign(x, f->issuer_key, EVP_sha384()) > 0);
    return x;
}

static void
assert_reason(sn_err r, const char *why, const char *want)
{
    if (r == SN_OK || strstr(why, want) == NULL) {
        print_error("verification returned %s with reason '%s'; want a "
                    "failure mentioning '%s'\n",
                    sn_err_str(r), why, want);
        fail();
    }
}

static void
assert_same_attestation(const struct sn_attestation *got,
                        const struct sn_attestation *want)
{
    assert_string_equal(got->subscriber, want->subscriber);
    assert_string_equal(got->key_id, want->key_id);
    assert_string_equal(got->hsm.manufacturer, want->hsm.manufacturer);
    assert_string_equal(got->hsm.model, want->hsm.model);
    assert_string_equal(got->hsm.serial, want->hsm.serial);
    assert_string_equal(got->hsm.label, want->hsm.label);
    assert_int_equal(got->facts.local, want->facts.local);
    assert_int_equal(got->facts.never_extractable,
                     want->facts.never_extractable);
    assert_int_equal(got->facts.always_sensitive, want->facts.always_sensitive);
    assert_int_equal(got->facts.extractable, want->facts.extractable);
    assert_int_equal(got->facts.sensitive, want->facts.sensitive);
    assert_int_equal((long long)got->generated_at,
                     (long long)want->generated_at);
}

/* ---- DER by hand, to check the encoder and feed the decoder ---- */

struct der {
    uint8_t b[16384];
    size_t n;
};

static void
der_raw(struct der *d, const void *p, size_t n)
{
    assert_true(d->n + n <= sizeof(d->b));
    memcpy(d->b + d->n, p, n);
    d->n += n;
}

static void
der_tlv(struct der *d, uint8_t tag, const void *content, size_t n)
{
    uint8_t hdr[4];
    size_t h = 0;

    hdr[h++] = tag;
    if (n < 0x80) {
        hdr[h++] = (uint8_t)n;
    } else if (n < 0x100) {
        hdr[h++] = 0x81;
        hdr[h++] = (uint8_t)n;
    } else {
        assert_true(n < 0x10000);
        hdr[h++] = 0x82;
        hdr[h++] = (uint8_t)(n >> 8);
        hdr[h++] = (uint8_t)n;
    }
    der_raw(d, hdr, h);
    der_raw(d, content, n);
}

static void
der_str(struct der *d, uint8_t tag, const char *s)
{
    der_tlv(d, tag, s, strlen(s));
}

/* The pieces of a SignetKeyAttestation, each replaceable by a test. */
struct spec {
    uint8_t version;
    uint8_t str_tag;
    const char *subscriber, *key_id, *manufacturer, *model, *serial, *label;
    uint8_t bools[5];
    const char *gentime;
};

static struct spec
good_spec(void)
{
    struct spec s = {
        .version = 1,
        .str_tag = 0x0c,
        .subscriber = UUID_SUB,
        .key_id = UUID_KEY,
        .manufacturer = "SoftHSM project",
        .model = "SoftHSM v2",
        .serial = "0123456789abcdef",
        .label = "signet-token",
        .bools = {0xff, 0xff, 0xff, 0x00, 0xff},
        .gentime = GENTIME,
    };
    return s;
}

static void
spec_der(const struct spec *s, struct der *out)
{
    struct der hsm = {.n = 0}, prot = {.n = 0}, body = {.n = 0};
    int i;

    der_str(&hsm, s->str_tag, s->manufacturer);
    der_str(&hsm, s->str_tag, s->model);
    der_str(&hsm, s->str_tag, s->serial);
    der_str(&hsm, s->str_tag, s->label);
    for (i = 0; i < 5; i++)
        der_tlv(&prot, 0x01, &s->bools[i], 1);
    der_tlv(&body, 0x02, &s->version, 1);
    der_str(&body, s->str_tag, s->subscriber);
    der_str(&body, s->str_tag, s->key_id);
    der_tlv(&body, 0x30, hsm.b, hsm.n);
    der_tlv(&body, 0x30, prot.b, prot.n);
    der_str(&body, 0x18, s->gentime);
    out->n = 0;
    der_tlv(out, 0x30, body.b, body.n);
}

static sn_err
decode_spec(const struct spec *s, struct sn_attestation *a)
{
    struct der d;

    spec_der(s, &d);
    return sn_attest_ext_decode(d.b, d.n, a);
}

/* ---- the extension ---- */

static void
test_ext_matches_hand_der(void **state)
{
    struct fx *f = *state;
    struct sn_attestation a = f->good, back;
    struct spec s = good_spec();
    struct der want;
    uint8_t *der = NULL;
    size_t len = 0;

    a.generated_at = gentime_value();
    assert_int_equal(sn_attest_ext_encode(&a, &der, &len), SN_OK);
    spec_der(&s, &want);
    assert_int_equal(len, want.n);
    assert_memory_equal(der, want.b, want.n);
    write_out(f, "att-ext.der", der, len);
    assert_int_equal(sn_attest_ext_decode(der, len, &back), SN_OK);
    assert_same_attestation(&back, &a);
    free(der);
}

static void
test_ext_roundtrip_limits(void **state)
{
    struct fx *f = *state;
    struct sn_attestation a = f->good, back;
    uint8_t *der = NULL;
    size_t len = 0;

    /* Every field at its maximum, UTF-8 included (2-byte characters). */
    memset(a.subscriber, 'S', 64);
    a.subscriber[64] = '\0';
    memset(a.key_id, 'k', 62);
    memcpy(a.key_id + 62, "\xc3\xbc", 3);
    memset(a.hsm.manufacturer, 'M', 32);
    a.hsm.manufacturer[32] = '\0';
    memset(a.hsm.model, 'm', 16);
    a.hsm.model[16] = '\0';
    memset(a.hsm.serial, '9', 16);
    a.hsm.serial[16] = '\0';
    memset(a.hsm.label, 'L', 32);
    a.hsm.label[32] = '\0';
    a.facts.extractable = 1; /* bad facts still encode: they are facts */
    a.facts.local = 0;
    assert_int_equal(sn_attest_ext_encode(&a, &der, &len), SN_OK);
    assert_int_equal(sn_attest_ext_decode(der, len, &back), SN_OK);
    assert_same_attestation(&back, &a);
    free(der);

    /* HSM fields may be empty (blank-padded token info). */
    a = f->good;
    a.hsm.serial[0] = '\0';
    a.hsm.model[0] = '\0';
    assert_int_equal(sn_attest_ext_encode(&a, &der, &len), SN_OK);
    assert_int_equal(sn_attest_ext_decode(der, len, &back), SN_OK);
    assert_same_attestation(&back, &a);
    free(der);
}

static void
expect_encode_rejected(const struct sn_attestation *a)
{
    uint8_t *der = (uint8_t *)"sentinel";
    size_t len = 99;

    assert_int_equal(sn_attest_ext_encode(a, &der, &len), SN_ERR_INVALID);
    assert_null(der);
    assert_int_equal(len, 0);
}

static void
test_ext_encode_rejects(void **state)
{
    struct fx *f = *state;
    struct sn_attestation a;

    a = f->good;
    a.subscriber[0] = '\0';
    expect_encode_rejected(&a);
    a = f->good;
    memset(a.key_id, 'k', sizeof(a.key_id)); /* no terminator */
    expect_encode_rejected(&a);
    a = f->good;
    memset(a.hsm.model, 'm', sizeof(a.hsm.model));
    expect_encode_rejected(&a);
    a = f->good;
    a.hsm.label[3] = '\n';
    expect_encode_rejected(&a);
    a = f->good;
    a.hsm.manufacturer[0] = (char)0xc3; /* truncated UTF-8 sequence */
    a.hsm.manufacturer[1] = '\0';
    expect_encode_rejected(&a);
    a = f->good;
    memcpy(a.subscriber, "\xc2\x9b", 3); /* C1 control (CSI) */
    expect_encode_rejected(&a);
    a = f->good;
    a.facts.sensitive = 2;
    expect_encode_rejected(&a);
    a = f->good;
    a.generated_at = -1;
    expect_encode_rejected(&a);
}

static void
expect_decode_rejected(const uint8_t *der, size_t len)
{
    struct sn_attestation a;

    memset(&a, 0x55, sizeof(a));
    assert_int_equal(sn_attest_ext_decode(der, len, &a), SN_ERR_INVALID);
    /* The out-parameter is zeroed, not half filled. */
    assert_int_equal(a.subscriber[0], 0);
    assert_int_equal(a.facts.local, 0);
    assert_int_equal((long long)a.generated_at, 0);
}

static void
expect_spec_rejected(const struct spec *s)
{
    struct der d;

    spec_der(s, &d);
    expect_decode_rejected(d.b, d.n);
}

static void
test_ext_decode_rejects(void **state)
{
    struct spec s, good = good_spec();
    struct sn_attestation a;
    struct der d, big;
    char s65[66], s33[34], s17[18];
    size_t i;

    (void)state;
    spec_der(&good, &d);
    assert_int_equal(sn_attest_ext_decode(d.b, d.n, &a), SN_OK);
    assert_int_equal((long long)a.generated_at, (long long)gentime_value());

    /* Every truncation, trailing bytes, garbage, nothing. */
    for (i = 0; i < d.n; i++)
        expect_decode_rejected(d.b, i);
    big = d;
    big.b[big.n++] = 0x00;
    expect_decode_rejected(big.b, big.n);
    big = d;
    der_tlv(&big, 0x05, "", 0); /* a whole extra NULL element */
    expect_decode_rejected(big.b, big.n);
    expect_decode_rejected((const uint8_t *)"garbage!", 8);
    expect_decode_rejected(NULL, 0);

    /* Version must be 1. */
    s = good;
    s.version = 2;
    expect_spec_rejected(&s);
    s.version = 0;
    expect_spec_rejected(&s);

    /* Over-long strings: 65 bytes for ids, field size + 1 for the HSM. */
    memset(s65, 'x', 65);
    s65[65] = '\0';
    memset(s33, 'x', 33);
    s33[33] = '\0';
    memset(s17, 'x', 17);
    s17[17] = '\0';
    s = good;
    s.subscriber = s65;
    expect_spec_rejected(&s);
    s.subscriber = s65 + 1; /* 64: fine */
    assert_int_equal(decode_spec(&s, &a), SN_OK);
    s = good;
    s.key_id = s65;
    expect_spec_rejected(&s);
    s = good;
    s.manufacturer = s33;
    expect_spec_rejected(&s);
    s.manufacturer = s33 + 1;
    assert_int_equal(decode_spec(&s, &a), SN_OK);
    s = good;
    s.model = s17;
    expect_spec_rejected(&s);
    s = good;
    s.serial = s17;
    expect_spec_rejected(&s);
    s = good;
    s.label = s33;
    expect_spec_rejected(&s);
    s = good;
    s.key_id = "";
    expect_spec_rejected(&s);

    /* Strings: UTF8String only, no NUL or controls, valid UTF-8. */
    s = good;
    s.str_tag = 0x13; /* PrintableString */
    expect_spec_rejected(&s);
    s = good;
    s.label = "tab\there";
    expect_spec_rejected(&s);
    s = good;
    s.model = "\xff\xfe";
    expect_spec_rejected(&s);
    s = good;
    s.serial = "\xc0\xaf"; /* overlong '/' */
    expect_spec_rejected(&s);

    /* BER is not DER: BOOLEAN TRUE must be 0xFF. */
    s = good;
    s.bools[0] = 0x01;
    expect_spec_rejected(&s);

    /* GeneralizedTime: UTC, whole seconds, valid. */
    s = good;
    s.gentime = "20260301120000.5Z";
    expect_spec_rejected(&s);
    s.gentime = "20260301120000";
    expect_spec_rejected(&s);
    s.gentime = "20261301120000Z";
    expect_spec_rejected(&s);

    /* A length in more octets than it needs is BER: 30 81 NN becomes
     * 30 82 00 NN. */
    spec_der(&good, &d);
    assert_int_equal(d.b[1], 0x81);
    big.n = 0;
    big.b[big.n++] = 0x30;
    big.b[big.n++] = 0x82;
    big.b[big.n++] = 0x00;
    der_raw(&big, d.b + 2, d.n - 2);
    expect_decode_rejected(big.b, big.n);
}

/* ---- the attestation certificate ---- */

static void
test_cert_build(void **state)
{
    struct fx *f = *state;
    X509 *x = attest(f, f->key, &f->good);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    X509_EXTENSION *ext;
    ASN1_OBJECT *obj = OBJ_txt2obj(oids.key_attestation, 1);
    const ASN1_OCTET_STRING *os;
    const ASN1_OCTET_STRING *ski, *issuer_ski;
    AUTHORITY_KEYID *akid;
    BASIC_CONSTRAINTS *bc;
    struct sn_attestation back;
    char cn[128];
    int idx, crit = -1;
    time_t t;

    assert_non_null(obj);
    assert_int_equal(X509_get_version(x), X509_VERSION_3);
    /* Positive, 16 octets, top bit clear. */
    assert_int_equal(ASN1_STRING_length(serial), 16);
    assert_int_equal(ASN1_STRING_type(serial), V_ASN1_INTEGER);
    assert_int_not_equal(ASN1_STRING_get0_data(serial)[0], 0);
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
                                          NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, "Signet attested key " UUID_KEY);
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(x),
                                   X509_get_subject_name(f->issuer)),
                     0);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), f->key), 1);

    /* notBefore = generated_at, notAfter 20 calendar years later, but
     * never past the issuer's: this one's issuer ends in ten years. */
    t = f->good.generated_at;
    assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), t), 0);
    assert_int_equal(
        ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(f->issuer)),
        0);
    {
        struct tm tm;
        X509 *long_issuer, *y = NULL;

        gmtime_r(&t, &tm);
        tm.tm_year += 20;
        /* an issuer good for thirty years: the twenty years stand */
        long_issuer = sn_test_cert_new("Long Issuer", f->issuer_key, f->root,
                                       77, -86400, 86400L * 365 * 30);
        sn_test_add_ext(long_issuer, f->root, NID_subject_key_identifier,
                        "hash");
        assert_int_equal(
            sn_attest_cert_build(f->key, long_issuer, &f->good, &oids, &y),
            SN_OK);
        assert_int_equal(
            ASN1_TIME_cmp_time_t(X509_get0_notAfter(y), timegm(&tm)), 0);
        X509_free(y);
        X509_free(long_issuer);
    }
    {
        /* An issuer whose notAfter is a GeneralizedTime before 2050 (as an
         * operator's own issuer may have): the copy is a UTCTime, as RFC
         * 5280 4.1.2.5 wants, and the same instant. */
        X509 *gen_issuer, *y = NULL;
        ASN1_GENERALIZEDTIME *g = ASN1_GENERALIZEDTIME_new();
        time_t g_at = t + 86400L * 365 * 5;

        assert_non_null(g);
        assert_non_null(ASN1_GENERALIZEDTIME_set(g, g_at));
        gen_issuer = sn_test_cert_new("Generalized Issuer", f->issuer_key,
                                      f->root, 78, -86400, 86400L * 3650);
        sn_test_add_ext(gen_issuer, f->root, NID_subject_key_identifier,
                        "hash");
        assert_int_equal(X509_set1_notAfter(gen_issuer, g), 1);
        assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(gen_issuer)),
                         V_ASN1_GENERALIZEDTIME);
        assert_int_equal(
            sn_attest_cert_build(f->key, gen_issuer, &f->good, &oids, &y),
            SN_OK);
        assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(y)),
                         V_ASN1_UTCTIME);
        assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notAfter(y), g_at), 0);
        X509_free(y);
        X509_free(gen_issuer);
        ASN1_GENERALIZEDTIME_free(g);
    }
    {
        /* An issuer that ended before the key was made vouches for
         * nothing: refused, no certificate. */
        X509 *old_issuer, *y = (X509 *)f;

        old_issuer = sn_test_cert_new("Old Issuer", f->issuer_key, f->root, 79,
                                      -86400L * 20, -86400L * 10);
        sn_test_add_ext(old_issuer, f->root, NID_subject_key_identifier,
                        "hash");
        assert_true(X509_cmp_time(X509_get0_notAfter(old_issuer), &t) < 0);
        assert_int_equal(
            sn_attest_cert_build(f->key, old_issuer, &f->good, &oids, &y),
            SN_ERR_STATE);
        assert_null(y);
        X509_free(old_issuer);
    }

    bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
    assert_non_null(bc);
    assert_int_equal(bc->ca, 0);
    assert_int_equal(crit, 1);
    BASIC_CONSTRAINTS_free(bc);
    assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
    assert_int_equal(X509_get_extension_flags(x) & EXFLAG_XKUSAGE, 0);
    ski = X509_get0_subject_key_id(x);
    assert_non_null(ski);
    issuer_ski = X509_get0_subject_key_id(f->issuer);
    akid = X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
    assert_non_null(akid);
    assert_non_null(akid->keyid);
    assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, issuer_ski), 0);
    AUTHORITY_KEYID_free(akid);

    /* The attestation extension: once, non-critical, decodes back. */
    idx = X509_get_ext_by_OBJ(x, obj, -1);
    assert_true(idx >= 0);
    assert_int_equal(X509_get_ext_by_OBJ(x, obj, idx), -1);
    ext = X509_get_ext(x, idx);
    assert_int_equal(X509_EXTENSION_get_critical(ext), 0);
    os = X509_EXTENSION_get_data(ext);
    assert_int_equal(sn_attest_ext_decode(ASN1_STRING_get0_data(os),
                                          (size_t)ASN1_STRING_length(os),
                                          &back),
                     SN_OK);
    assert_same_attestation(&back, &f->good);

    write_certs(f, "att.pem", x, NULL, NULL);
    write_certs(f, "att-bundle.pem", x, f->issuer, NULL);
    ASN1_OBJECT_free(obj);
    X509_free(x);
}

static void
test_cert_build_errors(void **state)
{
    struct fx *f = *state;
    struct sn_attestation a = f->good;
    X509 *x = (X509 *)f;
    char cn[128];

    assert_int_equal(sn_attest_cert_build(NULL, f->issuer, &a, &oids, &x),
                     SN_ERR_INVALID);
    assert_null(x);
    x = (X509 *)f;
    assert_int_equal(sn_attest_cert_build(f->key, NULL, &a, &oids, &x),
                     SN_ERR_INVALID);
    assert_null(x);
    x = (X509 *)f;
    a.key_id[0] = '\0';
    assert_int_equal(sn_attest_cert_build(f->key, f->issuer, &a, &oids, &x),
                     SN_ERR_INVALID);
    assert_null(x);

    /* An id too long for "Signet attested key <id>" in 64 characters. */
    a = f->good;
    memset(a.key_id, 'k', 64);
    a.key_id[64] = '\0';
    assert_int_equal(sn_attest_cert_build(f->key, f->issuer, &a, &oids, &x),
                     SN_OK);
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
                                          NID_commonName, cn, sizeof(cn)) > 0);
    assert_string_equal(cn, a.key_id);
    X509_free(x);
}

/* ---- bundles and CSRs ---- */

static X509_REQ *
req_from_pem(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509_REQ *req;

    assert_non_null(bio);
    req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    assert_non_null(req);
    BIO_free(bio);
    return req;
}

static X509_NAME *
subject(void)
{
    X509_NAME *name = NULL;

    assert_int_equal(sn_name_from_slash(
                         "/C=DE/O=Example GmbH/CN=Example Code Signing", &name),
                     SN_OK);
    return name;
}

/* A CSR for key built by sn_csr_build_ex with an attestation. */
static X509_REQ *
attested_csr(EVP_PKEY *key, X509 *att, X509 *issuer, enum sn_digest md,
             char **pem_out)
{
    struct soft_signer s = {key};
    X509_NAME *name = subject();
    char *pem = NULL;
    X509_REQ *req;

    assert_int_equal(
        sn_csr_build_ex(key, name, md, soft_sign, &s, att, issuer, &oids, &pem),
        SN_OK);
    req = req_from_pem(pem);
    if (pem_out != NULL)
        *pem_out = pem;
    else
        free(pem);
    X509_NAME_free(name);
    return req;
}

static void
test_bundle_verify(void **state)
{
    struct fx *f = *state;
    X509 *x = attest(f, f->key, &f->good);
    STACK_OF(X509) *bundle = sk_X509_new_null();
    struct sn_attestation got;
    char why[WHY_LEN];
    uint8_t *der = NULL;
    size_t len = 0;

    assert_non_null(bundle);
    assert_true(sk_X509_push(bundle, x) > 0);
    assert_true(sk_X509_push(bundle, f->issuer) > 0);
    assert_int_equal(sn_attest_verify_bundle(bundle, f->roots, &oids, &got, why,
                                             sizeof(why)),
                     SN_OK);
    assert_string_equal(why, "");
    assert_same_attestation(&got, &f->good);

    /* Several pinned roots: the right one among them is enough. */
    {
        STACK_OF(X509) *two = sk_X509_new_null();
        assert_non_null(two);
        assert_true(sk_X509_push(two, f->other_root) > 0);
        assert_true(sk_X509_push(two, f->root) > 0);
        assert_int_equal(
            sn_attest_verify_bundle(bundle, two, &oids, &got, why, sizeof(why)),
            SN_OK);
        sk_X509_free(two);
    }

    /* Wrong root. */
    assert_reason(sn_attest_verify_bundle(bundle, f->other_roots, &oids, &got,
                                          why, sizeof(why)),
                  why, "attestation chain does not lead to a trusted root");
    assert_int_equal(got.subscriber[0], 0);

    /* No roots at all. */
    assert_reason(
        sn_attest_verify_bundle(bundle, NULL, &oids, &got, why, sizeof(why)),
        why, "no trusted attestation root");

    /* Without its issuer the chain is incomplete. */
    (void)sk_X509_pop(bundle);
    assert_reason(sn_attest_verify_bundle(bundle, f->roots, &oids, &got, why,
                                          sizeof(why)),
                  why, "unable to get local issuer certificate");

    /* The bundle encoder: statement and certs, decodable by OpenSSL. */
    assert_int_equal(sn_attest_bundle_encode(x, f->issuer, &oids, &der, &len),
                     SN_OK);
    assert_true(len > 0);
    {
        const unsigned char *p = der;
        ASN1_TYPE *t = d2i_ASN1_TYPE(NULL, &p, (long)len);
        assert_non_null(t);
        assert_ptr_equal(p, der + len);
        assert_int_equal(ASN1_TYPE_get(t), V_ASN1_SEQUENCE);
        ASN1_TYPE_free(t);
    }
    write_out(f, "att-bundle.der", der, len);
    free(der);
    assert_int_equal(
        sn_attest_bundle_encode(NULL, f->issuer, &oids, &der, &len),
        SN_ERR_INVALID);
    assert_null(der);

    sk_X509_free(bundle);
    X509_free(x);
}

static void
test_csr_verify(void **state)
{
    struct fx *f = *state;
    X509 *x = attest(f, f->key, &f->good);
    X509 *xr = attest(f, f->rsa_key, &f->good);
    struct sn_attestation got;
    char why[WHY_LEN], *pem = NULL;
    X509_REQ *req;
    struct soft_signer s = {f->key};
    X509_NAME *name = subject();

    req = attested_csr(f->key, x, f->issuer, SN_MD_SHA256, &pem);
    assert_int_equal(
        sn_attest_verify_csr(req, f->roots, &oids, &got, why, sizeof(why)),
        SN_OK);
    assert_same_attestation(&got, &f->good);
    write_out(f, "att-csr.pem", pem, strlen(pem));
    free(pem);
    X509_REQ_free(req);

    req = attested_csr(f->rsa_key, xr, f->issuer, SN_MD_SHA384, &pem);
    assert_int_equal(
        sn_attest_verify_csr(req, f->roots, &oids, &got, why, sizeof(why)),
        SN_OK);
    write_out(f, "att-csr-rsa.pem", pem, strlen(pem));
    free(pem);
    X509_REQ_free(req);

    /* sn_csr_build_ex refuses an attestation of another key. */
    pem = (char *)f;
    assert_int_equal(sn_csr_build_ex(f->key, name, SN_MD_SHA256, soft_sign, &s,
                                     xr, f->issuer, &oids, &pem),
                     SN_ERR_MISMATCH);
    assert_null(pem);

    /* Adding the attribute twice is refused. */
    req = X509_REQ_new();
    assert_non_null(req);
    assert_int_equal(sn_attest_csr_add(req, x, f->issuer, &oids), SN_OK);
    assert_int_equal(sn_attest_csr_add(req, x, f->issuer, &oids),
                     SN_ERR_EXISTS);
    X509_REQ_free(req);

    /* Wrong root, via the CSR. */
    req = attested_csr(f->key, x, f->issuer, SN_MD_SHA256, NULL);
    assert_reason(sn_attest_verify_csr(req, f->other_roots, &oids, &got, why,
                                       sizeof(why)),
                  why, "attestation chain does not lead to a trusted root");
    X509_REQ_free(req);

    /* No issuer in the bundle: the chain cannot be built. */
    req = attested_csr(f->key, x, NULL, SN_MD_SHA256, NULL);
    assert_reason(
        sn_attest_verify_csr(req, f->roots, &oids, &got, why, sizeof(why)), why,
        "unable to get local issuer certificate");
    X509_REQ_free(req);

    X509_NAME_free(name);
    X509_free(x);
    X509_free(xr);
}

/* A request for signer's key carrying the attestation att, signed with
 * OpenSSL directly (sn_csr_build_ex would refuse a mismatch). */
static X509_REQ *
manual_csr(EVP_PKEY *signer, X509 *att, X509 *issuer)
{
    X509_REQ *req = X509_REQ_new();
    X509_NAME *name = subject();

    assert_non_null(req);
    assert_int_equal(X509_REQ_set_version(req, X509_REQ_VERSION_1), 1);
    assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
    assert_int_equal(X509_REQ_set_pubkey(req, signer), 1);
    if (att != NULL)
        assert_int_equal(sn_attest_csr_add(req, att, issuer, &oids), SN_OK);
    assert_true(X509_REQ_sign(req, signer, EVP_sha256()) > 0);
    X509_NAME_free(name);
    return req;
}

/* Flips the last byte of the certificate's signature. */
static X509 *
tampered(X509 *x)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    X509 *bad;
    int len = i2d_X509(x, &der);

    assert_true(len > 0);
    der[len - 1] ^= 0x01;
    p = der;
    bad = d2i_X509(NULL, &p, len);
    assert_non_null(bad);
    OPENSSL_free(der);
    return bad;
}

/* x with its attestation extension replaced by value (or removed if
 * NULL), re-signed by the issuer. */
static X509 *
with_ext(struct fx *f, X509 *x, const uint8_t *value, size_t len)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oids.key_attestation, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext;
    X509 *y = X509_dup(x);
    int idx;

    assert_non_null(obj);
    assert_non_null(os);
    assert_non_null(y);
    idx = X509_get_ext_by_OBJ(y, obj, -1);
    assert_true(idx >= 0);
    X509_EXTENSION_free(X509_delete_ext(y, idx));
    if (value != NULL) {
        assert_int_equal(ASN1_OCTET_STRING_set(os, value, (int)len), 1);
        ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
        assert_non_null(ext);
        assert_int_equal(X509_add_ext(y, ext, -1), 1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(y, f->issuer_key, EVP_sha384()) > 0);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return y;
}

static void
expect_bundle_reason(struct fx *f, X509 *x, const char *file, const char *want)
{
    STACK_OF(X509) *bundle = sk_X509_new_null();
    struct sn_attestation got;
    char why[WHY_LEN];

    assert_non_null(bundle);
    assert_true(sk_X509_push(bundle, x) > 0);
    assert_true(sk_X509_push(bundle, f->issuer) > 0);
    assert_reason(sn_attest_verify_bundle(bundle, f->roots, &oids, &got, why,
                                          sizeof(why)),
                  why, want);
    assert_int_equal(got.subscriber[0], 0);
    if (file != NULL)
        write_certs(f, file, x, f->issuer, NULL);
    sk_X509_free(bundle);
}

static void
expect_csr_reason(struct fx *f, X509_REQ *req, const char *file,
                  const char *want)
{
    struct sn_attestation got;
    char why[WHY_LEN];

    assert_reason(
        sn_attest_verify_csr(req, f->roots, &oids, &got, why, sizeof(why)), why,
        want);
    assert_int_equal(got.key_id[0], 0);
    if (file != NULL)
        write_req(f, file, req);
}

static void
test_verify_bad_evidence(void **state)
{
    struct fx *f = *state;
    struct sn_attestation a;
    X509 *x = attest(f, f->key, &f->good), *bad;
    X509_REQ *req;
    uint8_t *der = NULL;
    size_t len = 0;
    struct der d;
    struct spec s = good_spec();

    /* A flipped bit in the attestation signature breaks the chain. */
    bad = tampered(x);
    expect_bundle_reason(f, bad, "att-bundle-badsig.pem",
                         "attestation chain does not lead to a trusted root: "
                         "certificate signature failure");
    req = attested_csr(f->key, bad, f->issuer, SN_MD_SHA256, NULL);
    expect_csr_reason(f, req, "att-csr-badsig.pem",
                      "certificate signature failure");
    X509_REQ_free(req);
    X509_free(bad);

    /* A valid attestation of another key. */
    req = manual_csr(f->other_key, x, f->issuer);
    expect_csr_reason(f, req, "att-csr-otherkey.pem",
                      "the CSR's key is not the attested key");
    X509_REQ_free(req);

    /* A CSR without the attribute. */
    req = manual_csr(f->key, NULL, NULL);
    expect_csr_reason(f, req, "att-csr-noattr.pem",
                      "no attestation attribute in the CSR");
    X509_REQ_free(req);

    /* A CSR whose own signature is broken. */
    req = manual_csr(f->key, x, f->issuer);
    {
        const ASN1_BIT_STRING *sig = NULL;
        X509_REQ_get0_signature(req, &sig, NULL);
        assert_non_null(sig);
        ((ASN1_BIT_STRING *)(uintptr_t)sig)->data[10] ^= 0x01;
    }
    expect_csr_reason(f, req, "att-csr-badcsrsig.pem", "CSR signature invalid");
    X509_REQ_free(req);

    /* Facts a CA must refuse. */
    a = f->good;
    a.facts.extractable = 1;
    bad = attest(f, f->key, &a);
    expect_bundle_reason(f, bad, "att-bundle-extractable.pem",
                         "key is extractable");
    req = attested_csr(f->key, bad, f->issuer, SN_MD_SHA256, NULL);
    expect_csr_reason(f, req, "att-csr-extractable.pem", "key is extractable");
    X509_REQ_free(req);
    X509_free(bad);
    a = f->good;
    a.facts.local = 0;
    bad = attest(f, f->key, &a);
    expect_bundle_reason(f, bad, "att-bundle-notlocal.pem",
                         "key was not generated on the device (CKA_LOCAL "
                         "false)");
    X509_free(bad);
    a = f->good;
    a.facts.never_extractable = 0;
    bad = attest(f, f->key, &a);
    expect_bundle_reason(f, bad, NULL, "CKA_NEVER_EXTRACTABLE false");
    X509_free(bad);
    a = f->good;
    a.facts.sensitive = 0;
    bad = attest(f, f->key, &a);
    expect_bundle_reason(f, bad, NULL, "CKA_SENSITIVE false");
    X509_free(bad);
    a = f->good;
    a.facts.always_sensitive = 0;
    bad = attest(f, f->key, &a);
    expect_bundle_reason(f, bad, NULL, "CKA_ALWAYS_SENSITIVE false");
    X509_free(bad);

    /* The extension missing, garbage, truncated, or with trailing bytes. */
    bad = with_ext(f, x, NULL, 0);
    expect_bundle_reason(f, bad, "att-bundle-noext.pem",
                         "attestation certificate lacks the Signet key "
                         "attestation extension");
    X509_free(bad);
    bad = with_ext(f, x, (const uint8_t *)"garbage", 7);
    expect_bundle_reason(f, bad, "att-bundle-garbage.pem",
                         "the Signet key attestation extension is malformed");
    X509_free(bad);
    spec_der(&s, &d);
    bad = with_ext(f, x, d.b, d.n - 3);
    expect_bundle_reason(f, bad, NULL, "extension is malformed");
    X509_free(bad);
    d.b[d.n++] = 0x00;
    bad = with_ext(f, x, d.b, d.n);
    expect_bundle_reason(f, bad, "att-bundle-trailing.pem",
                         "extension is malformed");
    X509_free(bad);
    s.version = 2;
    spec_der(&s, &d);
    bad = with_ext(f, x, d.b, d.n);
    expect_bundle_reason(f, bad, NULL, "extension is malformed");
    X509_free(bad);

    /* The attestation certificate must not be a CA. */
    expect_bundle_reason(f, f->issuer, NULL, "is a CA certificate");

    /* Malformed attribute values: trailing bytes after the bundle, and a
     * value that is no SEQUENCE. */
    assert_int_equal(sn_attest_bundle_encode(x, f->issuer, &oids, &der, &len),
                     SN_OK);
    {
        ASN1_OBJECT *obj = OBJ_txt2obj(SN_OID_ID_AA_ATTESTATION, 1);
        uint8_t *more = malloc(len + 2);
        assert_non_null(obj);
        assert_non_null(more);
        memcpy(more, der, len);
        more[len] = 0x05; /* NULL */
        more[len + 1] = 0x00;
        req = X509_REQ_new();
        assert_non_null(req);
        assert_int_equal(X509_REQ_set_pubkey(req, f->key), 1);
        assert_int_equal(X509_REQ_add1_attr_by_OBJ(req, obj, V_ASN1_SEQUENCE,
                                                   more, (int)len + 2),
                         1);
        assert_true(X509_REQ_sign(req, f->key, EVP_sha256()) > 0);
        expect_csr_reason(f, req, "att-csr-trailing.pem",
                          "attestation attribute is malformed");
        X509_REQ_free(req);

        req = X509_REQ_new();
        assert_non_null(req);
        assert_int_equal(X509_REQ_set_pubkey(req, f->key), 1);
        assert_int_equal(X509_REQ_add1_attr_by_OBJ(req, obj, V_ASN1_UTF8STRING,
                                                   (const uint8_t *)"hi", 2),
                         1);
        assert_true(X509_REQ_sign(req, f->key, EVP_sha256()) > 0);
        expect_csr_reason(f, req, NULL, "attestation attribute is malformed");
        X509_REQ_free(req);
        free(more);
        ASN1_OBJECT_free(obj);
    }
    free(der);
    X509_free(x);
}

/*
 * A CSR for the test key whose attribute holds a bundle assembled by hand:
 * statement type stmt_oid, and optionally an extra element after the
 * certificate inside the statement.
 */
static X509_REQ *
hand_bundle_csr(struct fx *f, X509 *x, const char *stmt_oid, int extra)
{
    ASN1_OBJECT *type = OBJ_txt2obj(stmt_oid, 1);
    ASN1_OBJECT *aa = OBJ_txt2obj(SN_OID_ID_AA_ATTESTATION, 1);
    unsigned char *cert = NULL, *issuer = NULL, *o = NULL;
    struct der *stmt = calloc(4, sizeof(*stmt));
    struct der *stmts = stmt + 1, *body = stmt + 2, *bundle = stmt + 3;
    X509_REQ *req = X509_REQ_new();
    int clen, ilen, olen;

    assert_non_null(type);
    assert_non_null(aa);
    assert_non_null(stmt);
    assert_non_null(req);
    clen = i2d_X509(x, &cert);
    ilen = i2d_X509(f->issuer, &issuer);
    olen = i2d_ASN1_OBJECT(type, &o);
    assert_true(clen > 0 && ilen > 0 && olen > 0);
    der_raw(stmt, o, (size_t)olen);
    der_raw(stmt, cert, (size_t)clen);
    if (extra)
        der_tlv(stmt, 0x05, "", 0);
    der_tlv(stmts, 0x30, stmt->b, stmt->n);  /* AttestationStatement */
    der_tlv(body, 0x30, stmts->b, stmts->n); /* attestations */
    stmts->n = 0;
    der_tlv(stmts, 0x30, issuer, (size_t)ilen); /* certs */
    der_raw(body, stmts->b, stmts->n);
    der_tlv(bundle, 0x30, body->b, body->n); /* AttestationBundle */
    assert_int_equal(X509_REQ_set_pubkey(req, f->key), 1);
    assert_int_equal(X509_REQ_add1_attr_by_OBJ(req, aa, V_ASN1_SEQUENCE,
                                               bundle->b, (int)bundle->n),
                     1);
    assert_true(X509_REQ_sign(req, f->key, EVP_sha256()) > 0);
    free(stmt);
    OPENSSL_free(cert);
    OPENSSL_free(issuer);
    OPENSSL_free(o);
    ASN1_OBJECT_free(type);
    ASN1_OBJECT_free(aa);
    return req;
}

/* Bundles with the wrong statement type or trailing bytes inside. */
static void
test_bundle_structure(void **state)
{
    struct fx *f = *state;
    X509 *x = attest(f, f->key, &f->good);
    struct sn_attestation got;
    char why[WHY_LEN];
    X509_REQ *req;

    /* The hand-made bundle is accepted: the layout is the documented one. */
    req = hand_bundle_csr(f, x, oids.attestation_stmt, 0);
    assert_int_equal(
        sn_attest_verify_csr(req, f->roots, &oids, &got, why, sizeof(why)),
        SN_OK);
    X509_REQ_free(req);
    req = hand_bundle_csr(f, x, oids.key_protection, 0);
    expect_csr_reason(f, req, NULL, "attestation attribute is malformed");
    X509_REQ_free(req);
    req = hand_bundle_csr(f, x, oids.attestation_stmt, 1);
    expect_csr_reason(f, req, NULL, "attestation attribute is malformed");
    X509_REQ_free(req);
    X509_free(x);
}

/* The key-protection extension against DER assembled by hand. */
static void
test_keyprot_der(void **state)
{
    static const uint8_t want[] = {
        0x30, 0x40, 0x02, 0x01, 0x01, 0x0c, 0x0f, 's',  'i',  'g',  'n',
        'i',  'n',  'g',  '-',  's',  'e',  'r',  'v',  'i',  'c',  'e',
        0x30, 0x23, 0x0c, 0x0f, 'S',  'o',  'f',  't',  'H',  'S',  'M',
        ' ',  'p',  'r',  'o',  'j',  'e',  'c',  't',  0x0c, 0x0a, 'S',
        'o',  'f',  't',  'H',  'S',  'M',  ' ',  'v',  '2',  0x0c, 0x04,
        '0',  '1',  '2',  '3',  0x30, 0x05, 0x01, 0x01, 0x00, 0x0c, 0x00};
    struct sn_key_protection kp;
    uint8_t *der = NULL;
    size_t len = 0;

    (void)state;
    memset(&kp, 0, sizeof(kp));
    snprintf(kp.hsm.manufacturer, sizeof(kp.hsm.manufacturer), "%s",
             "SoftHSM project");
    snprintf(kp.hsm.model, sizeof(kp.hsm.model), "%s", "SoftHSM v2");
    snprintf(kp.hsm.serial, sizeof(kp.hsm.serial), "%s", "0123");
    assert_int_equal(sn_keyprot_encode(&kp, &der, &len), SN_OK);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(der, want, sizeof(want));
    free(der);

    /* Listed, every field at its largest: the outer length is long form. */
    memset(kp.hsm.manufacturer, 'm', sizeof(kp.hsm.manufacturer) - 1);
    memset(kp.hsm.model, 'o', sizeof(kp.hsm.model) - 1);
    memset(kp.hsm.serial, 's', sizeof(kp.hsm.serial) - 1);
    memset(kp.certificate, 'c', sizeof(kp.certificate) - 1);
    kp.listed = 1;
    assert_int_equal(sn_keyprot_encode(&kp, &der, &len), SN_OK);
    assert_int_equal(len, 3 + 0xa3);
    assert_int_equal(der[0], 0x30);
    assert_int_equal(der[1], 0x81);
    assert_int_equal(der[2], 0xa3);
    /* ... BOOLEAN TRUE, then the 64-byte certificate string */
    assert_int_equal(der[len - 64 - 2 - 1], 0xff);
    free(der);

    /* Listed without a certificate, or a certificate without listing. */
    kp.certificate[0] = '\0';
    assert_int_equal(sn_keyprot_encode(&kp, &der, &len), SN_ERR_INVALID);
    assert_null(der);
    kp.listed = 0;
    kp.certificate[0] = 'c';
    assert_int_equal(sn_keyprot_encode(&kp, &der, &len), SN_ERR_INVALID);
    assert_null(der);
}

/* Arcs: PEN-style ones pass, anything a parser could refuse does not. */
static void
test_oid_arcs(void **state)
{
    static const char *const good[] = {"1.3.6.1.4.1.32473",
                                       "1.3.6.1.4.1.2147483647", "2.999",
                                       "0.39", SN_OID_DEFAULT_ARC};
    static const char *const bad[] = {
        "",
        "1",
        "1.",
        ".1",
        "1..3",
        "3.1",
        "1.40",
        "0.40",
        "1.3.6.1.4.1.01",
        "1.3.6.1.4.1.2147483648",
        "2.25.1195647632546429166563054596672476",
        "1.3.6.1.4.1.32473 ",
        "1.3.6.1.4.1.-1",
        "1.3.6.1.4.1.3a",
        "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25"};
    struct sn_oids o;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (sn_oids_init(&o, good[i]) != SN_OK)
            fail_msg("arc '%s' refused", good[i]);
        assert_string_equal(o.arc, good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sn_oid_arc_check(bad[i]) == SN_OK)
            fail_msg("arc '%s' accepted", bad[i]);
    assert_int_equal(sn_oids_init(&o, NULL), SN_OK);
    assert_string_equal(o.arc, SN_OID_DEFAULT_ARC);
    assert_true(sn_oids_is_default(&o));
    assert_int_equal(sn_oids_init(&o, "1.3.6.1.4.1.32473"), SN_OK);
    assert_false(sn_oids_is_default(&o));
    assert_string_equal(o.key_attestation, "1.3.6.1.4.1.32473.1.1");
    assert_string_equal(o.attestation_stmt, "1.3.6.1.4.1.32473.1.2");
    assert_string_equal(o.key_protection, "1.3.6.1.4.1.32473.2.1");
    assert_string_equal(o.ca_policy, "1.3.6.1.4.1.32473.3.1");
}

/*
 * The verifier reads the extension under its configured arc, and under
 * the default arc (attestations made before the operator set one); under
 * any other arc it finds none.
 */
static void
test_verify_arcs(void **state)
{
    struct fx *f = *state;
    struct sn_oids def, other;
    struct sn_attestation got;
    char why[WHY_LEN];
    STACK_OF(X509) *bundle = sk_X509_new_null();
    X509 *x = NULL;

    assert_non_null(bundle);
    assert_int_equal(sn_oids_init(&def, NULL), SN_OK);
    assert_int_equal(sn_oids_init(&other, "1.3.6.1.4.1.32473.9"), SN_OK);
    assert_int_equal(
        sn_attest_cert_build(f->key, f->issuer, &f->good, &def, &x), SN_OK);
    assert_true(X509_sign(x, f->issuer_key, EVP_sha384()) > 0);
    assert_true(sk_X509_push(bundle, x) > 0);
    assert_true(sk_X509_push(bundle, f->issuer) > 0);
    assert_int_equal(sn_attest_verify_bundle(bundle, f->roots, &oids, &got, why,
                                             sizeof(why)),
                     SN_OK);
    assert_same_attestation(&got, &f->good);
    assert_int_equal(
        sn_attest_verify_bundle(bundle, f->roots, &def, &got, why, sizeof(why)),
        SN_OK);
    X509_free(sk_X509_shift(bundle));
    /* Made under the example arc, read under another. */
    x = attest(f, f->key, &f->good);
    assert_true(sk_X509_unshift(bundle, x) > 0);
    assert_reason(sn_attest_verify_bundle(bundle, f->roots, &other, &got, why,
                                          sizeof(why)),
                  why, "lacks the Signet key attestation extension");
    X509_free(x);
    sk_X509_free(bundle);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oid_arcs),
        cmocka_unit_test(test_keyprot_der),
        cmocka_unit_test(test_verify_arcs),
        cmocka_unit_test(test_ext_matches_hand_der),
        cmocka_unit_test(test_ext_roundtrip_limits),
        cmocka_unit_test(test_ext_encode_rejects),
        cmocka_unit_test(test_ext_decode_rejects),
        cmocka_unit_test(test_cert_build),
        cmocka_unit_test(test_cert_build_errors),
        cmocka_unit_test(test_bundle_verify),
        cmocka_unit_test(test_csr_verify),
        cmocka_unit_test(test_verify_bad_evidence),
        cmocka_unit_test(test_bundle_structure),
    };

    if (sn_oids_init(&oids, SN_OID_EXAMPLE_ARC) != SN_OK)
        return 1;
    return cmocka_run_group_tests_name("attest", tests, setup, teardown);
}
