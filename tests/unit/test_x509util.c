/*
 * test_x509util: public keys, PEM chains, subject names and CSRs. Parsers
 * get garbage, wrong PEM types and oversize input; CSRs and public keys are
 * written to SN_CRYPTO_OUT (when set) for `openssl req -verify` and
 * `openssl pkey` in verify_crypto.sh to judge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "crypto/x509util.h"
#include "support.h"

enum { K_RSA3072, K_P256, K_P384, K_COUNT };

static const char *const key_names[K_COUNT] = {"rsa3072", "p256", "p384"};

/* The subject every CSR test uses: an escaped '/', a '+' and UTF-8. */
#define SUBJECT                                                                \
    "/C=DE/O=Signet + \xc3\x9c"                                                \
    "mlaut GmbH/CN=Test\\/CSR"

struct fx {
    EVP_PKEY *key[K_COUNT];
    EVP_PKEY *root_key;
    X509 *root, *leaf; /* leaf: K_P256, issued by root */
    char *chain_pem;   /* leaf then root, built with PEM_write_bio_X509 */
    const char *outdir;
};

struct soft_signer {
    EVP_PKEY *key;
    int calls;
    int fail;
    uint8_t last; /* last byte of the last signature */
    size_t siglen;
};

static sn_err
soft_sign(void *arg, enum sn_digest md, const uint8_t *digest, size_t dlen,
          uint8_t **sig, size_t *siglen)
{
    struct soft_signer *s = arg;
    sn_err r;

    s->calls++;
    if (s->fail)
        return SN_ERR_HSM;
    if ((r = sn_test_soft_sign(s->key, md, digest, dlen, sig, siglen)) != SN_OK)
        return r;
    s->last = (*sig)[*siglen - 1];
    s->siglen = *siglen;
    return SN_OK;
}

static void
write_out(const char *dir, const char *name, const void *data, size_t len)
{
    sn_test_write_file(dir, name, data, len, 0600);
}

static char *
bio_string(BIO *bio)
{
    char *data = NULL, *s;
    long n = BIO_get_mem_data(bio, &data);

    assert_true(n > 0);
    s = malloc((size_t)n + 1);
    assert_non_null(s);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

static X509 *
make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
          long serial)
{
    X509 *x = sn_test_cert_new(cn, key, issuer, serial, -3600, 86400L * 30);
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    ext =
        X509V3_EXT_nconf_nid(NULL, &ctx, NID_basic_constraints,
                             issuer ? "critical,CA:FALSE" : "critical,CA:TRUE");
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static char *
cert_pem(X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *s;

    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_X509(bio, x), 1);
    s = bio_string(bio);
    BIO_free(bio);
    return s;
}

static char *
key_pem(EVP_PKEY *k)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *s;

    assert_non_null(bio);
    assert_int_equal(
        PEM_write_bio_PKCS8PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
    s = bio_string(bio);
    BIO_free(bio);
    return s;
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char *a, *b;
    size_t la, lb;

    if (f == NULL)
        return -1;
    f->key[K_RSA3072] = EVP_RSA_gen(3072);
    f->key[K_P256] = EVP_EC_gen("P-256");
    f->key[K_P384] = EVP_EC_gen("P-384");
    f->root_key = EVP_EC_gen("P-256");
    if (!f->key[0] || !f->key[1] || !f->key[2] || !f->root_key)
        return -1;
    f->root = make_cert("Chain Root", f->root_key, NULL, NULL, 1);
    f->leaf = make_cert("Chain Leaf", f->key[K_P256], f->root, f->root_key, 2);
    a = cert_pem(f->leaf);
    b = cert_pem(f->root);
    la = strlen(a);
    lb = strlen(b);
    f->chain_pem = malloc(la + lb + 1);
    if (f->chain_pem == NULL)
        return -1;
    memcpy(f->chain_pem, a, la);
    memcpy(f->chain_pem + la, b, lb + 1);
    free(a);
    free(b);
    f->outdir = getenv("SN_CRYPTO_OUT");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    int k;

    for (k = 0; k < K_COUNT; k++)
        EVP_PKEY_free(f->key[k]);
    EVP_PKEY_free(f->root_key);
    X509_free(f->root);
    X509_free(f->leaf);
    free(f->chain_pem);
    free(f);
    return 0;
}

/* ---- public keys ---- */

static void
test_pubkey_der_roundtrip(void **state)
{
    struct fx *f = *state;
    unsigned char *der = NULL;
    uint8_t *big;
    EVP_PKEY *pk = (EVP_PKEY *)state; /* non-NULL sentinel */
    char *pem = NULL;
    int k, len;

    for (k = 0; k < K_COUNT; k++) {
        len = i2d_PUBKEY(f->key[k], &der);
        assert_true(len > 0);
        assert_int_equal(sn_pubkey_from_der(der, (size_t)len, &pk), SN_OK);
        assert_int_equal(EVP_PKEY_eq(pk, f->key[k]), 1);
        EVP_PKEY_free(pk);
        pk = (EVP_PKEY *)state;

        /* Truncated, or followed by trailing bytes: not one SPKI. */
        assert_int_equal(sn_pubkey_from_der(der, (size_t)len - 1, &pk),
                         SN_ERR_INVALID);
        assert_null(pk);
        big = malloc((size_t)len + 1);
        assert_non_null(big);
        memcpy(big, der, (size_t)len);
        big[len] = 0;
        pk = (EVP_PKEY *)state;
        assert_int_equal(sn_pubkey_from_der(big, (size_t)len + 1, &pk),
                         SN_ERR_INVALID);
        assert_null(pk);
        free(big);

        assert_int_equal(sn_pubkey_to_pem(f->key[k], &pem), SN_OK);
        assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----\n"));
        assert_null(strstr(pem, "PRIVATE"));
        if (f->outdir != NULL) {
            char name[64], *priv = key_pem(f->key[k]);
            snprintf(name, sizeof(name), "pub-%s.pem", key_names[k]);
            write_out(f->outdir, name, pem, strlen(pem));
            snprintf(name, sizeof(name), "key-%s.pem", key_names[k]);
            write_out(f->outdir, name, priv, strlen(priv));
            free(priv);
        }
        free(pem);
        pem = NULL;
        OPENSSL_free(der);
        der = NULL;
    }
    pk = (EVP_PKEY *)state;
    assert_int_equal(
        sn_pubkey_from_der((const uint8_t *)"\x30\x03\x02\x01\x01", 5, &pk),
        SN_ERR_INVALID);
    assert_null(pk);
    assert_int_equal(sn_pubkey_from_der((const uint8_t *)"", 0, &pk),
                     SN_ERR_INVALID);
}

/* ---- chains ---- */

static sn_err
parse(const char *pem, STACK_OF(X509) **out)
{
    return sn_chain_from_pem(pem, strlen(pem), out);
}

static void
expect_chain_rejected(const char *pem, sn_err want)
{
    STACK_OF(X509) *chain = (STACK_OF(X509) *)&chain; /* sentinel */

    assert_int_equal(parse(pem, &chain), want);
    assert_null(chain);
}

static void
test_chain_parse(void **state)
{
    struct fx *f = *state;
    STACK_OF(X509) *chain = NULL;
    char *text, *pem2 = NULL;
    size_t n;

    assert_int_equal(parse(f->chain_pem, &chain), SN_OK);
    assert_int_equal(sk_X509_num(chain), 2);
    assert_int_equal(X509_cmp(sk_X509_value(chain, 0), f->leaf), 0);
    assert_int_equal(X509_cmp(sk_X509_value(chain, 1), f->root), 0);

    /* to_pem is the exact inverse. */
    assert_int_equal(sn_chain_to_pem(chain, &pem2), SN_OK);
    assert_string_equal(pem2, f->chain_pem);
    if (f->outdir != NULL) {
        char *root = cert_pem(f->root);
        write_out(f->outdir, "chain.pem", pem2, strlen(pem2));
        write_out(f->outdir, "chain-root.pem", root, strlen(root));
        free(root);
    }
    free(pem2);
    sk_X509_pop_free(chain, X509_free);

    /* Explanatory text around blocks is allowed (RFC 7468, 5.2). */
    n = strlen(f->chain_pem) + 64;
    text = malloc(n);
    assert_non_null(text);
    snprintf(text, n, "subject=CN = Chain Leaf\n%s\n# end\n", f->chain_pem);
    chain = NULL;
    assert_int_equal(parse(text, &chain), SN_OK);
    assert_int_equal(sk_X509_num(chain), 2);
    sk_X509_pop_free(chain, X509_free);
    free(text);

    /* Only len bytes are read: the first certificate alone. */
    chain = NULL;
    text = strstr(f->chain_pem, "-----END CERTIFICATE-----\n");
    assert_non_null(text);
    n = (size_t)(text - f->chain_pem) + strlen("-----END CERTIFICATE-----\n");
    assert_int_equal(sn_chain_from_pem(f->chain_pem, n, &chain), SN_OK);
    assert_int_equal(sk_X509_num(chain), 1);
    sk_X509_pop_free(chain, X509_free);
}

/* Replaces the first occurrence of from by to (same length) in a copy. */
static char *
swap(const char *s, const char *from, const char *to)
{
    char *c = strdup(s), *p;

    assert_non_null(c);
    assert_int_equal(strlen(from), strlen(to));
    p = strstr(c, from);
    assert_non_null(p);
    memcpy(p, to, strlen(to));
    return c;
}

static void
test_chain_rejects(void **state)
{
    struct fx *f = *state;
    char *leaf = cert_pem(f->leaf), *bad, *big, *priv, *pub = NULL;
    size_t i, n, llen = strlen(leaf);
    STACK_OF(X509) *chain = (STACK_OF(X509) *)&chain;

    /* Empty and garbage. */
    assert_int_equal(sn_chain_from_pem("", 0, &chain), SN_ERR_INVALID);
    assert_null(chain);
    expect_chain_rejected("   \n\n", SN_ERR_INVALID);
    expect_chain_rejected("hello, I am not a certificate\n", SN_ERR_INVALID);
    expect_chain_rejected("-----BEGIN CERTIFICATE-----\nAAAA\n"
                          "-----END CERTIFICATE-----\n",
                          SN_ERR_INVALID);
    expect_chain_rejected("-----BEGIN CERTIFICATE-----\n!!!!\n"
                          "-----END CERTIFICATE-----\n",
                          SN_ERR_INVALID);

    /* Non-certificate blocks, alone or after a good certificate. */
    priv = key_pem(f->key[K_P256]);
    expect_chain_rejected(priv, SN_ERR_INVALID);
    assert_int_equal(sn_pubkey_to_pem(f->key[K_P256], &pub), SN_OK);
    n = llen + strlen(pub) + 1;
    bad = malloc(n);
    assert_non_null(bad);
    snprintf(bad, n, "%s%s", leaf, pub);
    expect_chain_rejected(bad, SN_ERR_INVALID);
    free(bad);
    bad = swap(leaf, "BEGIN CERTIFICATE", "BEGIN X509 CRL   ");
    expect_chain_rejected(bad, SN_ERR_INVALID);
    free(bad);
    {
        /* Same base64, other label: TRUSTED CERTIFICATE is not accepted. */
        const char *body = strchr(leaf, '\n') + 1;
        size_t blen = (size_t)(strstr(leaf, "-----END") - body);
        n = blen + 128;
        bad = malloc(n);
        assert_non_null(bad);
        snprintf(bad, n,
                 "-----BEGIN TRUSTED CERTIFICATE-----\n%.*s"
                 "-----END TRUSTED CERTIFICATE-----\n",
                 (int)blen, body);
        expect_chain_rejected(bad, SN_ERR_INVALID);
        /* A certificate block with RFC 1421 headers is refused too. */
        snprintf(bad, n,
                 "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\n"
                 "%.*s-----END CERTIFICATE-----\n",
                 (int)blen, body);
        expect_chain_rejected(bad, SN_ERR_INVALID);
        free(bad);
    }

    /* A block without its END line. */
    bad = strdup(leaf);
    assert_non_null(bad);
    *strstr(bad, "-----END") = '\0';
    expect_chain_rejected(bad, SN_ERR_INVALID);
    free(bad);

    /* A good certificate followed by a truncated one. */
    n = 2 * llen + 1;
    bad = malloc(n);
    assert_non_null(bad);
    snprintf(bad, n, "%s%.*s", leaf, (int)(llen - 40), leaf);
    expect_chain_rejected(bad, SN_ERR_INVALID);
    free(bad);

    /* One byte of the DER changed inside the base64 ('A' <-> 'B'). */
    bad = strdup(leaf);
    assert_non_null(bad);
    bad[40] = bad[40] == 'A' ? 'B' : 'A';
    big = NULL;
    chain = NULL;
    if (parse(bad, &chain) == SN_OK) {
        /* Some flips still decode (e.g. inside the signature); the parsed
         * certificate must then differ from the original. */
        assert_int_not_equal(X509_cmp(sk_X509_value(chain, 0), f->leaf), 0);
        sk_X509_pop_free(chain, X509_free);
    }
    free(bad);

    /* Too many certificates, and too many bytes. */
    n = 17 * llen + 1;
    big = malloc(n);
    assert_non_null(big);
    for (i = 0; i < 17; i++)
        memcpy(big + i * llen, leaf, llen);
    big[17 * llen] = '\0';
    expect_chain_rejected(big, SN_ERR_LIMIT);
    big[16 * llen] = '\0';
    chain = NULL;
    assert_int_equal(parse(big, &chain), SN_OK);
    assert_int_equal(sk_X509_num(chain), 16);
    sk_X509_pop_free(chain, X509_free);
    free(big);
    n = 300 * 1024;
    big = malloc(n + 1);
    assert_non_null(big);
    memset(big, '\n', n);
    memcpy(big, leaf, llen);
    big[n] = '\0';
    expect_chain_rejected(big, SN_ERR_LIMIT);
    free(big);

    free(pub);
    free(priv);
    free(leaf);
}

static void
test_chain_matches_key(void **state)
{
    struct fx *f = *state;
    STACK_OF(X509) *chain = NULL, *empty = sk_X509_new_null();
    EVP_PKEY *pub = NULL;
    unsigned char *der = NULL;
    int len;

    assert_int_equal(parse(f->chain_pem, &chain), SN_OK);
    assert_int_equal(sn_chain_matches_key(chain, f->key[K_P256]), SN_OK);
    /* The public half alone matches too: that is what the HSM gives us. */
    len = i2d_PUBKEY(f->key[K_P256], &der);
    assert_true(len > 0);
    assert_int_equal(sn_pubkey_from_der(der, (size_t)len, &pub), SN_OK);
    assert_int_equal(sn_chain_matches_key(chain, pub), SN_OK);
    assert_int_equal(sn_chain_matches_key(chain, f->root_key), SN_ERR_MISMATCH);
    assert_int_equal(sn_chain_matches_key(chain, f->key[K_P384]),
                     SN_ERR_MISMATCH);
    assert_int_equal(sn_chain_matches_key(chain, f->key[K_RSA3072]),
                     SN_ERR_MISMATCH);
    assert_int_equal(sn_chain_matches_key(empty, pub), SN_ERR_INVALID);
    EVP_PKEY_free(pub);
    OPENSSL_free(der);
    sk_X509_free(empty);
    sk_X509_pop_free(chain, X509_free);
}

/* ---- names ---- */

/* The value of entry i, which must have the given NID and ASN.1 type. */
static void
expect_entry(X509_NAME *name, int i, int nid, int type, const char *value)
{
    X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
    ASN1_STRING *s;

    assert_non_null(e);
    assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)), nid);
    s = X509_NAME_ENTRY_get_data(e);
    assert_int_equal(ASN1_STRING_type(s), type);
    assert_int_equal(ASN1_STRING_length(s), strlen(value));
    assert_memory_equal(ASN1_STRING_get0_data(s), value, strlen(value));
}

static void
test_name_add(void **state)
{
    static const struct {
        const char *field, *value;
        int nid;
    } ok[] = {
        {"CN", "Signet \xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91", NID_commonName},
        {"O", "Acme, Inc.", NID_organizationName},
        {"OU", "Release Engineering", NID_organizationalUnitName},
        {"C", "US", NID_countryName},
        {"ST", "Baden-W\xc3\xbcrttemberg", NID_stateOrProvinceName},
        {"L", "Stuttgart", NID_localityName},
        {"serialNumber", "HRB 12345", NID_serialNumber},
        {"emailAddress", "ops@example.org", NID_pkcs9_emailAddress},
        {"street", "1 Main St", NID_streetAddress},
        {"postalCode", "70173", NID_postalCode},
        {"businessCategory", "Private Organization", NID_businessCategory},
        {"jurisdictionC", "DE", NID_jurisdictionCountryName},
        {"jurisdictionST", "Bayern", NID_jurisdictionStateOrProvinceName},
        {"jurisdictionL", "M\xc3\xbcnchen", NID_jurisdictionLocalityName},
    };
    X509_NAME *name = X509_NAME_new();
    char v64[65], v65[66];
    size_t i;

    (void)state;
    assert_non_null(name);
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(sn_name_add(name, ok[i].field, ok[i].value), SN_OK);
        assert_int_equal(X509_NAME_entry_count(name), (int)i + 1);
        assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(
                             X509_NAME_get_entry(name, (int)i))),
                         ok[i].nid);
    }
    /* String types: UTF8String, PrintableString for countries. */
    expect_entry(name, 0, NID_commonName, V_ASN1_UTF8STRING, ok[0].value);
    expect_entry(name, 3, NID_countryName, V_ASN1_PRINTABLESTRING, "US");
    expect_entry(name, 7, NID_pkcs9_emailAddress, V_ASN1_IA5STRING,
                 "ops@example.org");
    X509_NAME_free(name);

    name = X509_NAME_new();
    assert_non_null(name);
    memset(v64, 'a', 64);
    v64[64] = '\0';
    memset(v65, 'a', 65);
    v65[65] = '\0';
    assert_int_equal(sn_name_add(name, "CN", v64), SN_OK);
    /* Unknown or mis-cased fields. */
    assert_int_equal(sn_name_add(name, "XX", "x"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "cn", "x"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "", "x"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "2.5.4.3", "x"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "commonName", "x"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "UID", "x"), SN_ERR_INVALID);
    /* Lengths. */
    assert_int_equal(sn_name_add(name, "CN", ""), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "CN", v65), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "O", v65), SN_ERR_INVALID);
    /* Countries: two upper-case letters. */
    assert_int_equal(sn_name_add(name, "C", "USA"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "C", "U"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "C", "us"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "C", "U1"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "C", "\xc3\x9c"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "jurisdictionC", "Germany"),
                     SN_ERR_INVALID);
    /* Broken UTF-8 and control characters. */
    assert_int_equal(sn_name_add(name, "O", "a\xff"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "O", "\xc0\xaf"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "O", "\xed\xa0\x80"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "O", "\xe2\x82"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "O", "\xf4\x90\x80\x80"),
                     SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "O", "a\nb"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "O", "a\x7f"), SN_ERR_INVALID);
    /* serialNumber is a PrintableString: no '@', no UTF-8. */
    assert_int_equal(sn_name_add(name, "serialNumber", "a@b"), SN_ERR_INVALID);
    assert_int_equal(sn_name_add(name, "emailAddress", "\xc3\xa9@x.org"),
                     SN_ERR_INVALID);
    /* Nothing but the one good CN was added. */
    assert_int_equal(X509_NAME_entry_count(name), 1);
    X509_NAME_free(name);
}

static void
expect_slash_rejected(const char *s)
{
    X509_NAME *name = (X509_NAME *)&name; /* sentinel */

    assert_int_equal(sn_name_from_slash(s, &name), SN_ERR_INVALID);
    assert_null(name);
}

static void
test_name_from_slash(void **state)
{
    X509_NAME *name = NULL;
    char big[4096];

    (void)state;
    assert_int_equal(sn_name_from_slash("/CN=a/O=b/C=US", &name), SN_OK);
    assert_int_equal(X509_NAME_entry_count(name), 3);
    expect_entry(name, 0, NID_commonName, V_ASN1_UTF8STRING, "a");
    expect_entry(name, 1, NID_organizationName, V_ASN1_UTF8STRING, "b");
    expect_entry(name, 2, NID_countryName, V_ASN1_PRINTABLESTRING, "US");
    X509_NAME_free(name);

    /* Escapes: "\/" is '/', "\\" is '\'; '=' in a value is literal. */
    name = NULL;
    assert_int_equal(sn_name_from_slash("/CN=a\\/b\\\\c=d/OU=x", &name), SN_OK);
    assert_int_equal(X509_NAME_entry_count(name), 2);
    expect_entry(name, 0, NID_commonName, V_ASN1_UTF8STRING, "a/b\\c=d");
    X509_NAME_free(name);

    expect_slash_rejected("");
    expect_slash_rejected("/");
    expect_slash_rejected("CN=a");
    expect_slash_rejected("/CN");
    expect_slash_rejected("/CN=");
    expect_slash_rejected("/=a");
    expect_slash_rejected("/CN=a/");
    expect_slash_rejected("/CN=a//O=b");
    expect_slash_rejected("/CN=a\\");
    expect_slash_rejected("/XX=a");
    expect_slash_rejected("/CN=a/C=USA");
    expect_slash_rejected("/CN=a/C=us");
    expect_slash_rejected("/CN=a\nb");
    /* Overlong field name and value. */
    expect_slash_rejected(
        "/CNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCNCN=a");
    memset(big, 'a', sizeof(big));
    memcpy(big, "/CN=", 4);
    big[4 + 65] = '\0';
    expect_slash_rejected(big);
    big[4 + 64] = '\0';
    assert_int_equal(sn_name_from_slash(big, &name), SN_OK);
    X509_NAME_free(name);
    /* Overlong input as a whole, even of valid components. */
    {
        size_t i;
        for (i = 0; i + 6 < sizeof(big); i += 6)
            memcpy(big + i, "/OU=ab", 6);
        big[i] = '\0';
        expect_slash_rejected(big);
    }
}

/* ---- CSRs ---- */

static void
test_csr(void **state)
{
    struct fx *f = *state;
    struct soft_signer s = {0};
    X509_NAME *subject = NULL;
    X509_REQ *req;
    EVP_PKEY *rk;
    BIO *bio;
    char *pem, name[64];
    int k, md;

    assert_int_equal(sn_name_from_slash(SUBJECT, &subject), SN_OK);
    for (k = 0; k < K_COUNT; k++) {
        for (md = 0; md < SN_MD_COUNT; md++) {
            s.key = f->key[k];
            s.calls = 0;
            pem = NULL;
            assert_int_equal(sn_csr_build(f->key[k], subject,
                                          (enum sn_digest)md, soft_sign, &s,
                                          &pem),
                             SN_OK);
            assert_int_equal(s.calls, 1);
            assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE REQUEST-----"));
            bio = BIO_new_mem_buf(pem, -1);
            assert_non_null(bio);
            req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
            assert_non_null(req);
            assert_int_equal(
                X509_NAME_cmp(X509_REQ_get_subject_name(req), subject), 0);
            rk = X509_REQ_get0_pubkey(req);
            assert_non_null(rk);
            assert_int_equal(EVP_PKEY_eq(rk, f->key[k]), 1);
            assert_int_equal(X509_REQ_get_version(req), 0);
            X509_REQ_free(req);
            BIO_free(bio);
            if (f->outdir != NULL) {
                snprintf(name, sizeof(name), "csr-%s-%s.pem", key_names[k],
                         sn_digest_name((enum sn_digest)md));
                write_out(f->outdir, name, pem, strlen(pem));
            }
            free(pem);
        }
    }
    X509_NAME_free(subject);
}

/*
 * A signature ending in a zero byte must be kept whole: a BIT STRING
 * without explicit unused bits would drop trailing zeros. Sign until such
 * a signature comes up (1 in 256 for P-256) and check the request.
 */
static void
test_csr_zero_tail(void **state)
{
    struct fx *f = *state;
    struct soft_signer s = {.key = f->key[K_P256]};
    X509_NAME *subject = NULL;
    const ASN1_BIT_STRING *sig = NULL;
    X509_REQ *req;
    BIO *bio;
    char *pem = NULL;
    int i;

    assert_int_equal(sn_name_from_slash("/CN=zero tail", &subject), SN_OK);
    for (i = 0; i < 5000; i++) {
        free(pem);
        pem = NULL;
        assert_int_equal(sn_csr_build(f->key[K_P256], subject, SN_MD_SHA256,
                                      soft_sign, &s, &pem),
                         SN_OK);
        if (s.last == 0)
            break;
    }
    assert_int_equal(s.last, 0);
    bio = BIO_new_mem_buf(pem, -1);
    assert_non_null(bio);
    req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
    assert_non_null(req);
    X509_REQ_get0_signature(req, &sig, NULL);
    assert_int_equal(ASN1_STRING_length(sig), s.siglen);
    assert_int_equal(ASN1_STRING_get0_data(sig)[s.siglen - 1], 0);
    if (f->outdir != NULL)
        write_out(f->outdir, "csr-zero-tail.pem", pem, strlen(pem));
    X509_REQ_free(req);
    BIO_free(bio);
    free(pem);
    X509_NAME_free(subject);
}

static void
test_csr_errors(void **state)
{
    struct fx *f = *state;
    struct soft_signer s = {.key = f->key[K_P256]};
    X509_NAME *subject = NULL;
    char *pem = (char *)state;

    assert_int_equal(sn_name_from_slash("/CN=errors", &subject), SN_OK);
    s.fail = 1;
    assert_int_equal(sn_csr_build(f->key[K_P256], subject, SN_MD_SHA256,
                                  soft_sign, &s, &pem),
                     SN_ERR_HSM);
    assert_null(pem);
    /* A signature by another key is caught before the PEM is produced. */
    s.fail = 0;
    s.key = f->root_key;
    pem = (char *)state;
    assert_int_equal(sn_csr_build(f->key[K_P256], subject, SN_MD_SHA256,
                                  soft_sign, &s, &pem),
                     SN_ERR_CRYPTO);
    assert_null(pem);
    /* RSA key, ECDSA signature. */
    pem = (char *)state;
    assert_int_equal(sn_csr_build(f->key[K_RSA3072], subject, SN_MD_SHA256,
                                  soft_sign, &s, &pem),
                     SN_ERR_CRYPTO);
    assert_null(pem);
    pem = (char *)state;
    assert_int_equal(
        sn_csr_build(f->key[K_P256], subject, SN_MD_COUNT, soft_sign, &s, &pem),
        SN_ERR_INVALID);
    assert_null(pem);
    X509_NAME_free(subject);
}

/* Parses in with d2i_ASN1_OCTET_STRING and asks sn_der_exact. */
static int
octets_exact(const uint8_t *in, size_t len)
{
    const unsigned char *p = in;
    ASN1_OCTET_STRING *o = d2i_ASN1_OCTET_STRING(NULL, &p, (long)len);
    unsigned char *re = NULL;
    int n = o != NULL ? i2d_ASN1_OCTET_STRING(o, &re) : -1;
    int exact = sn_der_exact(in, len, p, re, n);

    OPENSSL_free(re);
    ASN1_OCTET_STRING_free(o);
    return exact;
}

static void
test_der_exact(void **state)
{
    static const uint8_t der[] = {0x04, 0x02, 0xaa, 0xbb};
    static const uint8_t long_len[] = {0x04, 0x81, 0x02, 0xaa, 0xbb};
    static const uint8_t long_len2[] = {0x04, 0x82, 0x00, 0x02, 0xaa, 0xbb};
    static const uint8_t trailing[] = {0x04, 0x02, 0xaa, 0xbb, 0x00};
    /* BER constructed OCTET STRING of two primitive parts */
    static const uint8_t constructed[] = {0x24, 0x06, 0x04, 0x01,
                                          0xaa, 0x04, 0x01, 0xbb};

    (void)state;
    assert_int_equal(octets_exact(der, sizeof(der)), 1);
    assert_int_equal(octets_exact(long_len, sizeof(long_len)), 0);
    assert_int_equal(octets_exact(long_len2, sizeof(long_len2)), 0);
    assert_int_equal(octets_exact(trailing, sizeof(trailing)), 0);
    assert_int_equal(octets_exact(constructed, sizeof(constructed)), 0);
    assert_int_equal(octets_exact(der, 3), 0); /* truncated */
    assert_int_equal(sn_der_exact(der, sizeof(der), der + sizeof(der), NULL, 4),
                     0);
    assert_int_equal(sn_der_exact(der, sizeof(der), der + sizeof(der), der, 0),
                     0);
    assert_int_equal(sn_der_exact(der, sizeof(der), der + sizeof(der), der, 4),
                     1);
    assert_int_equal(sn_der_exact(der, sizeof(der), der + 3, der, 4), 0);
}

static void
test_days_within(void **state)
{
    X509 *x = X509_new();
    time_t nb = 1767225600; /* 2026-01-01T00:00:00Z */

    (void)state;
    assert_non_null(x);
    /* An issuer of 10 days, counted inclusively: ends nb + 10 d - 1 s. */
    assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), nb));
    assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), nb + 10 * 86400 - 1));
    assert_int_equal(sn_x509_days_within(x, nb, 365), 9);
    assert_int_equal(sn_x509_days_within(x, nb, 5), 5);
    /* One day left exactly: a day from a second later ends at the
     * issuer's last second; a second less and no day fits. */
    assert_int_equal(sn_x509_days_within(x, nb + 9 * 86400 - 1, 365), 1);
    assert_int_equal(sn_x509_days_within(x, nb + 9 * 86400, 365), 0);
    assert_int_equal(sn_x509_days_within(x, nb + 10 * 86400, 365), 0);
    X509_free(x);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pubkey_der_roundtrip),
        cmocka_unit_test(test_chain_parse),
        cmocka_unit_test(test_chain_rejects),
        cmocka_unit_test(test_chain_matches_key),
        cmocka_unit_test(test_name_add),
        cmocka_unit_test(test_name_from_slash),
        cmocka_unit_test(test_csr),
        cmocka_unit_test(test_csr_zero_tail),
        cmocka_unit_test(test_csr_errors),
        cmocka_unit_test(test_der_exact),
        cmocka_unit_test(test_days_within),
    };

    return cmocka_run_group_tests_name("x509util", tests, setup, teardown);
}
