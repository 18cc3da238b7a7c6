/*
 * attest: builds, encodes and verifies Signet's key attestation evidence
 * (the ASN.1 is in attest.h). Extension values, bundles and CSRs handed to
 * the decoders and verifiers may come from anyone: they are parsed with
 * OpenSSL's template decoder, must be consumed exactly, are re-encoded and
 * compared so that only DER is accepted, and every string is checked
 * against the size of the field it lands in. Chains are checked against
 * the caller's roots only, never the system store.
 */
#include "crypto/x509util.h"
#include "crypto/attest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "common/util.h"

#define ATTEST_VERSION 1
#define VALIDITY_YEARS 20
#define ID_MAX 64
/* RFC 5280 ub-common-name. */
#define CN_MAX 64
#define CN_PREFIX "Signet attested key "
/* The extension is a few hundred bytes; a bundle is two certificates. */
#define EXT_DER_MAX 4096
#define BUNDLE_DER_MAX (64 * 1024)
#define BUNDLE_MAX_CERTS 8
#define BUNDLE_MAX_STMTS 8
/* "YYYYMMDDHHMMSSZ": DER GeneralizedTime without fractional seconds. */
#define GENTIME_LEN 15

/* ---- ASN.1 ---- */

typedef struct {
    ASN1_UTF8STRING *manufacturer;
    ASN1_UTF8STRING *model;
    ASN1_UTF8STRING *serial;
    ASN1_UTF8STRING *token_label;
} SN_ATT_HSM;

typedef struct {
    ASN1_BOOLEAN local;
    ASN1_BOOLEAN never_extractable;
    ASN1_BOOLEAN always_sensitive;
    ASN1_BOOLEAN extractable;
    ASN1_BOOLEAN sensitive;
} SN_ATT_PROT;

typedef struct {
    ASN1_INTEGER *version;
    ASN1_UTF8STRING *subscriber;
    ASN1_UTF8STRING *key_id;
    SN_ATT_HSM *hsm;
    SN_ATT_PROT *protection;
    ASN1_GENERALIZEDTIME *generation_time;
} SN_ATT_EXT;

typedef struct {
    ASN1_OBJECT *type;
    ASN1_TYPE *stmt;
} SN_ATT_STMT;

DEFINE_STACK_OF(SN_ATT_STMT)

typedef struct {
    STACK_OF(SN_ATT_STMT) *attestations;
    STACK_OF(X509) *certs;
} SN_ATT_BUNDLE;

/* clang-format off */
ASN1_SEQUENCE(SN_ATT_HSM) = {
    ASN1_SIMPLE(SN_ATT_HSM, manufacturer, ASN1_UTF8STRING),
    ASN1_SIMPLE(SN_ATT_HSM, model, ASN1_UTF8STRING),
    ASN1_SIMPLE(SN_ATT_HSM, serial, ASN1_UTF8STRING),
    ASN1_SIMPLE(SN_ATT_HSM, token_label, ASN1_UTF8STRING),
} static_ASN1_SEQUENCE_END(SN_ATT_HSM)

ASN1_SEQUENCE(SN_ATT_PROT) = {
    ASN1_SIMPLE(SN_ATT_PROT, local, ASN1_BOOLEAN),
    ASN1_SIMPLE(SN_ATT_PROT, never_extractable, ASN1_BOOLEAN),
    ASN1_SIMPLE(SN_ATT_PROT, always_sensitive, ASN1_BOOLEAN),
    ASN1_SIMPLE(SN_ATT_PROT, extractable, ASN1_BOOLEAN),
    ASN1_SIMPLE(SN_ATT_PROT, sensitive, ASN1_BOOLEAN),
} static_ASN1_SEQUENCE_END(SN_ATT_PROT)

ASN1_SEQUENCE(SN_ATT_EXT) = {
    ASN1_SIMPLE(SN_ATT_EXT, version, ASN1_INTEGER),
    ASN1_SIMPLE(SN_ATT_EXT, subscriber, ASN1_UTF8STRING),
    ASN1_SIMPLE(SN_ATT_EXT, key_id, ASN1_UTF8STRING),
    ASN1_SIMPLE(SN_ATT_EXT, hsm, SN_ATT_HSM),
    ASN1_SIMPLE(SN_ATT_EXT, protection, SN_ATT_PROT),
    ASN1_SIMPLE(SN_ATT_EXT, generation_time, ASN1_GENERALIZEDTIME),
} static_ASN1_SEQUENCE_END(SN_ATT_EXT)

ASN1_SEQUENCE(SN_ATT_STMT) = {
    ASN1_SIMPLE(SN_ATT_STMT, type, ASN1_OBJECT),
    ASN1_SIMPLE(SN_ATT_STMT, stmt, ASN1_ANY),
} static_ASN1_SEQUENCE_END(SN_ATT_STMT)

ASN1_SEQUENCE(SN_ATT_BUNDLE) = {
    ASN1_SEQUENCE_OF(SN_ATT_BUNDLE, attestations, SN_ATT_STMT),
    ASN1_SEQUENCE_OF_OPT(SN_ATT_BUNDLE, certs, X509),
} static_ASN1_SEQUENCE_END(SN_ATT_BUNDLE)

IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(SN_ATT_EXT)
IMPLEMENT_STATIC_ASN1_ENCODE_FUNCTIONS(SN_ATT_EXT)
IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(SN_ATT_STMT)
IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(SN_ATT_BUNDLE)
IMPLEMENT_STATIC_ASN1_ENCODE_FUNCTIONS(SN_ATT_BUNDLE)

/* A declaration after the macros, still unformatted, so that clang-format
 * does not read them as the start of the next definition. */
static ASN1_OBJECT *oid(const char *dotted);
/* clang-format on */

/* ---- helpers ---- */

/* The OIDs live under the operator's arc and have no NID: make objects. */
static ASN1_OBJECT *
oid(const char *dotted)
{
    return OBJ_txt2obj(dotted, 1);
}

/*
 * Well-formed UTF-8 without control characters (C0, DEL, C1): these
 * strings end up on terminals and in CA logs.
 */
static int
text_ok(const unsigned char *s, size_t len)
{
    unsigned long cp;
    int n;

    while (len > 0) {
        if ((n = UTF8_getc(s, len > 8 ? 8 : (int)len, &cp)) <= 0)
            return 0;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return 0;
        s += n;
        len -= (size_t)n;
    }
    return 1;
}

/* A NUL-terminated struct field: length within [min, max], valid text. */
static int
field_ok(const char *s, size_t size, size_t min, size_t max)
{
    size_t len = strnlen(s, size);

    return len < size && len >= min && len <= max &&
           text_ok((const unsigned char *)s, len);
}

static int
set_utf8(ASN1_UTF8STRING *dst, const char *s)
{
    return ASN1_STRING_set(dst, s, (int)strlen(s)) == 1;
}

/* Copies a decoded UTF8String into a fixed field, checking its bounds. */
static int
get_utf8(const ASN1_UTF8STRING *src, char *dst, size_t size, size_t min)
{
    const unsigned char *data = ASN1_STRING_get0_data(src);
    int len = ASN1_STRING_length(src);

    if (ASN1_STRING_type(src) != V_ASN1_UTF8STRING || len < 0 ||
        (size_t)len >= size || (size_t)len < min || !text_ok(data, (size_t)len))
        return 0;
    memcpy(dst, data, (size_t)len);
    dst[len] = '\0';
    return 1;
}

static int
bool_ok(int v)
{
    return v == 0 || v == 1;
}

static sn_err
attestation_check(const struct sn_attestation *a)
{
    const struct sn_hsm_info *h = &a->hsm;
    const struct sn_key_facts *f = &a->facts;

    if (!field_ok(a->subscriber, sizeof(a->subscriber), 1, ID_MAX) ||
        !field_ok(a->key_id, sizeof(a->key_id), 1, ID_MAX) ||
        !field_ok(h->manufacturer, sizeof(h->manufacturer), 0,
                  sizeof(h->manufacturer) - 1) ||
        !field_ok(h->model, sizeof(h->model), 0, sizeof(h->model) - 1) ||
        !field_ok(h->serial, sizeof(h->serial), 0, sizeof(h->serial) - 1) ||
        !field_ok(h->label, sizeof(h->label), 0, sizeof(h->label) - 1))
        return SN_ERR_INVALID;
    if (!bool_ok(f->local) || !bool_ok(f->never_extractable) ||
        !bool_ok(f->always_sensitive) || !bool_ok(f->extractable) ||
        !bool_ok(f->sensitive) || a->generated_at < 0)
        return SN_ERR_INVALID;
    return SN_OK;
}

/* Copies an OpenSSL-allocated encoding into a malloc'd buffer. */
static sn_err
dup_der(const unsigned char *p, int n, uint8_t **der, size_t *len)
{
    uint8_t *buf;

    if (n <= 0)
        return SN_ERR_CRYPTO;
    if ((buf = malloc((size_t)n)) == NULL)
        return SN_ERR_NOMEM;
    memcpy(buf, p, (size_t)n);
    *der = buf;
    *len = (size_t)n;
    return SN_OK;
}

/* DER GeneralizedTime "YYYYMMDDHHMMSSZ" to time_t. */
static int
gentime_get(const ASN1_GENERALIZEDTIME *g, time_t *out)
{
    const unsigned char *d = ASN1_STRING_get0_data(g);
    struct tm tm;
    time_t t;

    if (ASN1_STRING_length(g) != GENTIME_LEN || d[GENTIME_LEN - 1] != 'Z' ||
        ASN1_GENERALIZEDTIME_check(g) != 1)
        return 0;
    memset(&tm, 0, sizeof(tm));
    if (ASN1_TIME_to_tm(g, &tm) != 1)
        return 0;
    if ((t = timegm(&tm)) == (time_t)-1 || t < 0)
        return 0;
    *out = t;
    return 1;
}

/* ---- the extension ---- */

/*
 * OpenSSL's template codec keeps a BOOLEAN's content octet as it is, in
 * both directions: DER wants 0xFF for TRUE, so that is what we write and
 * all we accept.
 */
#define DER_TRUE 0xff

static ASN1_BOOLEAN
der_bool(int v)
{
    return v ? DER_TRUE : 0;
}

static int
der_bool_ok(ASN1_BOOLEAN v)
{
    return v == 0 || v == DER_TRUE;
}

static sn_err
ext_fill(SN_ATT_EXT *e, const struct sn_attestation *a)
{
    SN_ATT_PROT *p = e->protection;

    if (ASN1_INTEGER_set_int64(e->version, ATTEST_VERSION) != 1 ||
        !set_utf8(e->subscriber, a->subscriber) ||
        !set_utf8(e->key_id, a->key_id) ||
        !set_utf8(e->hsm->manufacturer, a->hsm.manufacturer) ||
        !set_utf8(e->hsm->model, a->hsm.model) ||
        !set_utf8(e->hsm->serial, a->hsm.serial) ||
        !set_utf8(e->hsm->token_label, a->hsm.label) ||
        ASN1_GENERALIZEDTIME_set(e->generation_time, a->generated_at) == NULL)
        return SN_ERR_CRYPTO;
    p->local = der_bool(a->facts.local);
    p->never_extractable = der_bool(a->facts.never_extractable);
    p->always_sensitive = der_bool(a->facts.always_sensitive);
    p->extractable = der_bool(a->facts.extractable);
    p->sensitive = der_bool(a->facts.sensitive);
    return SN_OK;
}

sn_err
sn_attest_ext_encode(const struct sn_attestation *a, uint8_t **der, size_t *len)
{
    SN_ATT_EXT *e = NULL;
    unsigned char *buf = NULL;
    sn_err r = SN_ERR_INVALID;
    int n;

    *der = NULL;
    *len = 0;
    if (a == NULL || attestation_check(a) != SN_OK)
        goto out;
    r = SN_ERR_NOMEM;
    if ((e = SN_ATT_EXT_new()) == NULL)
        goto out;
    if ((r = ext_fill(e, a)) != SN_OK)
        goto out;
    n = i2d_SN_ATT_EXT(e, &buf);
    r = dup_der(buf, n, der, len);
out:
    OPENSSL_free(buf);
    SN_ATT_EXT_free(e);
    ERR_clear_error();
    return r;
}

/*
 * d2i, exact consumption, and a re-encoding that must equal the input:
 * that rejects BER (long-form lengths, BOOLEAN TRUE as 0x01, ...) which
 * the template decoder would otherwise accept.
 */
static sn_err
ext_parse(const uint8_t *der, size_t len, SN_ATT_EXT **out)
{
    const unsigned char *p = der;
    unsigned char *re = NULL;
    SN_ATT_EXT *e = NULL;
    sn_err r = SN_ERR_INVALID;
    int n;

    *out = NULL;
    if (der == NULL || len == 0 || len > EXT_DER_MAX)
        goto out;
    if ((e = d2i_SN_ATT_EXT(NULL, &p, (long)len)) == NULL || p != der + len)
        goto out;
    if ((n = i2d_SN_ATT_EXT(e, &re)) <= 0 || (size_t)n != len ||
        memcmp(re, der, len) != 0)
        goto out;
    *out = e;
    e = NULL;
    r = SN_OK;
out:
    OPENSSL_free(re);
    SN_ATT_EXT_free(e);
    return r;
}

static sn_err
ext_extract(const SN_ATT_EXT *e, struct sn_attestation *a)
{
    const SN_ATT_PROT *p = e->protection;
    int64_t version;

    if (ASN1_INTEGER_get_int64(&version, e->version) != 1 ||
        version != ATTEST_VERSION)
        return SN_ERR_INVALID;
    if (!get_utf8(e->subscriber, a->subscriber, sizeof(a->subscriber), 1) ||
        !get_utf8(e->key_id, a->key_id, sizeof(a->key_id), 1) ||
        !get_utf8(e->hsm->manufacturer, a->hsm.manufacturer,
                  sizeof(a->hsm.manufacturer), 0) ||
        !get_utf8(e->hsm->model, a->hsm.model, sizeof(a->hsm.model), 0) ||
        !get_utf8(e->hsm->serial, a->hsm.serial, sizeof(a->hsm.serial), 0) ||
        !get_utf8(e->hsm->token_label, a->hsm.label, sizeof(a->hsm.label), 0))
        return SN_ERR_INVALID;
    if (!gentime_get(e->generation_time, &a->generated_at))
        return SN_ERR_INVALID;
    if (!der_bool_ok(p->local) || !der_bool_ok(p->never_extractable) ||
        !der_bool_ok(p->always_sensitive) || !der_bool_ok(p->extractable) ||
        !der_bool_ok(p->sensitive))
        return SN_ERR_INVALID;
    a->facts.local = p->local != 0;
    a->facts.never_extractable = p->never_extractable != 0;
    a->facts.always_sensitive = p->always_sensitive != 0;
    a->facts.extractable = p->extractable != 0;
    a->facts.sensitive = p->sensitive != 0;
    return SN_OK;
}

sn_err
sn_attest_ext_decode(const uint8_t *der, size_t len, struct sn_attestation *out)
{
    struct sn_attestation a;
    SN_ATT_EXT *e = NULL;
    sn_err r;

    memset(out, 0, sizeof(*out));
    memset(&a, 0, sizeof(a));
    if ((r = ext_parse(der, len, &e)) != SN_OK)
        goto out;
    if ((r = ext_extract(e, &a)) != SN_OK)
        goto out;
    *out = a;
out:
    SN_ATT_EXT_free(e);
    ERR_clear_error();
    return r;
}

/* ---- the attestation certificate ---- */

/* notBefore = t, notAfter = the same instant twenty calendar years on,
 * or the issuer's notAfter if that comes first: a certificate never
 * outlives the one that vouches for it. An issuer that ends by t
 * vouches for nothing (SN_ERR_STATE). Both times are written by
 * ASN1_TIME_set, so each has RFC 5280's encoding (UTCTime before 2050),
 * whatever the issuer's uses. */
static sn_err
set_validity(X509 *x, const X509 *issuer, time_t t)
{
    struct tm tm;
    time_t end, iss_begin, iss_end;
    sn_err r;

    if (gmtime_r(&t, &tm) == NULL)
        return SN_ERR_INVALID;
    tm.tm_year += VALIDITY_YEARS;
    if ((end = timegm(&tm)) == (time_t)-1)
        return SN_ERR_INVALID;
    if ((r = sn_x509_validity(issuer, &iss_begin, &iss_end)) != SN_OK)
        return r;
    if (iss_end <= t)
        return SN_ERR_STATE;
    if (iss_end < end)
        end = iss_end;
    if (ASN1_TIME_set(X509_getm_notBefore(x), t) == NULL ||
        ASN1_TIME_set(X509_getm_notAfter(x), end) == NULL)
        return SN_ERR_CRYPTO;
    return SN_OK;
}

/*
 * "CN=Signet attested key <key_id>". Key ids are UUIDs, which fit; a
 * longer id would break the 64-character bound, so the CN is then the id
 * alone (the extension carries it either way).
 */
static sn_err
set_subject(X509 *x, const char *key_id)
{
    char cn[CN_MAX + 1];
    int n;

    n = snprintf(cn, sizeof(cn), "%s%s", CN_PREFIX, key_id);
    if (n < 0 || (size_t)n >= sizeof(cn))
        n = snprintf(cn, sizeof(cn), "%s", key_id);
    if (n < 0 || (size_t)n >= sizeof(cn))
        return SN_ERR_INVALID;
    if (X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
                                   MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                   -1, 0) != 1)
        return SN_ERR_CRYPTO;
    return SN_OK;
}

/* The Signet key attestation extension, non-critical. */
static sn_err
add_attest_ext(X509 *x, const uint8_t *der, size_t len,
               const struct sn_oids *oids)
{
    ASN1_OBJECT *obj = NULL;
    ASN1_OCTET_STRING *os = NULL;
    X509_EXTENSION *ext = NULL;
    sn_err r = SN_ERR_CRYPTO;

    if ((obj = oid(oids->key_attestation)) == NULL ||
        (os = ASN1_OCTET_STRING_new()) == NULL ||
        ASN1_OCTET_STRING_set(os, der, (int)len) != 1)
        goto out;
    if ((ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) == NULL)
        goto out;
    if (X509_add_ext(x, ext, -1) != 1)
        goto out;
    r = SN_OK;
out:
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return r;
}

static sn_err
cert_extensions(X509 *x, X509 *issuer_cert, const uint8_t *der, size_t len,
                const struct sn_oids *oids)
{
    X509V3_CTX ctx;
    sn_err r;

    X509V3_set_ctx(&ctx, issuer_cert, x, NULL, NULL, 0);
    if ((r = sn_x509_add_ext(x, &ctx, NID_basic_constraints,
                             "critical,CA:FALSE")) != SN_OK ||
        (r = sn_x509_add_ext(x, &ctx, NID_key_usage,
                             "critical,digitalSignature")) != SN_OK ||
        (r = sn_x509_add_ext(x, &ctx, NID_subject_key_identifier, "hash")) !=
            SN_OK ||
        (r = sn_x509_add_ext(x, &ctx, NID_authority_key_identifier,
                             "keyid:always")) != SN_OK)
        return r;
    return add_attest_ext(x, der, len, oids);
}

sn_err
sn_attest_cert_build(EVP_PKEY *pub, X509 *issuer_cert,
                     const struct sn_attestation *a, const struct sn_oids *oids,
                     X509 **out)
{
    uint8_t *der = NULL;
    size_t len = 0;
    X509 *x = NULL;
    sn_err r = SN_ERR_INVALID;

    *out = NULL;
    if (pub == NULL || issuer_cert == NULL || a == NULL || oids == NULL)
        goto out;
    if ((r = sn_attest_ext_encode(a, &der, &len)) != SN_OK)
        goto out;
    r = SN_ERR_NOMEM;
    if ((x = X509_new()) == NULL)
        goto out;
    r = SN_ERR_CRYPTO;
    if (X509_set_version(x, X509_VERSION_3) != 1)
        goto out;
    if ((r = sn_x509_random_serial(x)) != SN_OK ||
        (r = set_validity(x, issuer_cert, a->generated_at)) != SN_OK ||
        (r = set_subject(x, a->key_id)) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if (X509_set_issuer_name(x, X509_get_subject_name(issuer_cert)) != 1 ||
        X509_set_pubkey(x, pub) != 1)
        goto out;
    if ((r = cert_extensions(x, issuer_cert, der, len, oids)) != SN_OK)
        goto out;
    *out = x;
    x = NULL;
    r = SN_OK;
out:
    X509_free(x);
    free(der);
    ERR_clear_error();
    return r;
}

/* ---- the bundle ---- */

static sn_err
bundle_fill(SN_ATT_BUNDLE *b, X509 *cert, X509 *issuer,
            const struct sn_oids *oids)
{
    SN_ATT_STMT *st = NULL;
    sn_err r = SN_ERR_NOMEM;

    if ((st = SN_ATT_STMT_new()) == NULL)
        goto out;
    ASN1_OBJECT_free(st->type);
    r = SN_ERR_CRYPTO;
    if ((st->type = oid(oids->attestation_stmt)) == NULL ||
        ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(X509), cert, &st->stmt) == NULL)
        goto out;
    r = SN_ERR_NOMEM;
    if (sk_SN_ATT_STMT_push(b->attestations, st) <= 0)
        goto out;
    st = NULL;
    if (issuer != NULL) {
        if ((b->certs = sk_X509_new_null()) == NULL || X509_up_ref(issuer) != 1)
            goto out;
        if (sk_X509_push(b->certs, issuer) <= 0) {
            X509_free(issuer);
            goto out;
        }
    }
    r = SN_OK;
out:
    SN_ATT_STMT_free(st);
    return r;
}

sn_err
sn_attest_bundle_encode(X509 *cert, X509 *issuer, const struct sn_oids *oids,
                        uint8_t **der, size_t *len)
{
    SN_ATT_BUNDLE *b = NULL;
    unsigned char *buf = NULL;
    sn_err r = SN_ERR_INVALID;
    int n;

    *der = NULL;
    *len = 0;
    if (cert == NULL || oids == NULL)
        goto out;
    r = SN_ERR_NOMEM;
    if ((b = SN_ATT_BUNDLE_new()) == NULL)
        goto out;
    if ((r = bundle_fill(b, cert, issuer, oids)) != SN_OK)
        goto out;
    n = i2d_SN_ATT_BUNDLE(b, &buf);
    r = dup_der(buf, n, der, len);
    if (r == SN_OK && *len > BUNDLE_DER_MAX) {
        free(*der);
        *der = NULL;
        *len = 0;
        r = SN_ERR_LIMIT;
    }
out:
    OPENSSL_free(buf);
    SN_ATT_BUNDLE_free(b);
    ERR_clear_error();
    return r;
}

sn_err
sn_attest_csr_add(X509_REQ *req, X509 *cert, X509 *issuer,
                  const struct sn_oids *oids)
{
    ASN1_OBJECT *obj = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    sn_err r = SN_ERR_INVALID;

    if (req == NULL || cert == NULL)
        goto out;
    r = SN_ERR_CRYPTO;
    if ((obj = oid(SN_OID_ID_AA_ATTESTATION)) == NULL)
        goto out;
    r = SN_ERR_EXISTS;
    if (X509_REQ_get_attr_by_OBJ(req, obj, -1) >= 0)
        goto out;
    if ((r = sn_attest_bundle_encode(cert, issuer, oids, &der, &len)) != SN_OK)
        goto out;
    /*
     * A V_ASN1_SEQUENCE value is written as the complete encoding it
     * holds, so the attribute is {id-aa-attestation, SET {bundle}}.
     */
    r = SN_ERR_CRYPTO;
    if (X509_REQ_add1_attr_by_OBJ(req, obj, V_ASN1_SEQUENCE, der, (int)len) !=
        1)
        goto out;
    r = SN_OK;
out:
    free(der);
    ASN1_OBJECT_free(obj);
    ERR_clear_error();
    return r;
}

struct csr_attestation {
    X509 *cert;
    X509 *issuer;
    const struct sn_oids *oids;
};

/* The attestation must be of the key the request is for. */
static sn_err
csr_attest(X509_REQ *req, EVP_PKEY *pub, void *arg)
{
    const struct csr_attestation *a = arg;
    EVP_PKEY *attested = X509_get0_pubkey(a->cert);

    if (attested == NULL || EVP_PKEY_eq(attested, pub) != 1)
        return SN_ERR_MISMATCH;
    return sn_attest_csr_add(req, a->cert, a->issuer, a->oids);
}

sn_err
sn_csr_build_ex(EVP_PKEY *pub, const X509_NAME *subject, enum sn_digest md,
                sn_sign_cb cb, void *arg, X509 *att_cert, X509 *att_issuer,
                const struct sn_oids *oids, char **pem)
{
    struct csr_attestation a = {att_cert, att_issuer, oids};

    return sn_csr_build_with(pub, subject, md, cb, arg,
                             att_cert != NULL ? csr_attest : NULL, &a, pem);
}

/* ---- verification ---- */

/* The certificates the verifier works with; cert is owned, the stack's
 * certificates are owned too. */
struct evidence {
    X509 *cert;
    STACK_OF(X509) *untrusted;
};

static void
evidence_cleanup(struct evidence *ev)
{
    X509_free(ev->cert);
    sk_X509_pop_free(ev->untrusted, X509_free);
    memset(ev, 0, sizeof(*ev));
}

static sn_err fail(char *why, size_t whylen, sn_err r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static sn_err
fail(char *why, size_t whylen, sn_err r, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && whylen > 0) {
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return r;
}

/* One certificate from the DER in a statement or a bundle, consumed
 * exactly. */
static X509 *
cert_from_der(const unsigned char *der, int len)
{
    const unsigned char *p = der;
    X509 *x;

    if (der == NULL || len <= 0)
        return NULL;
    if ((x = d2i_X509(NULL, &p, len)) == NULL)
        return NULL;
    if (p != der + len) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/*
 * The single statement of Signet's type: its certificate. The type is
 * under the configured arc or, for evidence made before the operator set
 * one, under the default arc.
 */
static sn_err
bundle_cert(const SN_ATT_BUNDLE *b, const struct sn_oids *oids, X509 **out)
{
    ASN1_OBJECT *want = NULL, *legacy = NULL;
    const SN_ATT_STMT *st, *found = NULL;
    int i, n = sk_SN_ATT_STMT_num(b->attestations);
    sn_err r = SN_ERR_INVALID;

    *out = NULL;
    if (n < 1 || n > BUNDLE_MAX_STMTS)
        goto out;
    r = SN_ERR_CRYPTO;
    if ((want = oid(oids->attestation_stmt)) == NULL ||
        (legacy = oid(SN_OID_DEFAULT_ARC ".1.2")) == NULL)
        goto out;
    r = SN_ERR_INVALID;
    for (i = 0; i < n; i++) {
        st = sk_SN_ATT_STMT_value(b->attestations, i);
        if (OBJ_cmp(st->type, want) != 0 && OBJ_cmp(st->type, legacy) != 0)
            continue;
        if (found != NULL)
            goto out;
        found = st;
    }
    if (found == NULL || found->stmt->type != V_ASN1_SEQUENCE)
        goto out;
    if ((*out = cert_from_der(found->stmt->value.sequence->data,
                              found->stmt->value.sequence->length)) == NULL)
        goto out;
    r = SN_OK;
out:
    ASN1_OBJECT_free(legacy);
    ASN1_OBJECT_free(want);
    return r;
}

/* Parses an AttestationBundle strictly into its certificates. */
static sn_err
bundle_parse(const uint8_t *der, size_t len, const struct sn_oids *oids,
             struct evidence *ev)
{
    const unsigned char *p = der;
    unsigned char *re = NULL;
    SN_ATT_BUNDLE *b = NULL;
    sn_err r = SN_ERR_INVALID;
    int n;

    memset(ev, 0, sizeof(*ev));
    if (der == NULL || len == 0 || len > BUNDLE_DER_MAX)
        goto out;
    if ((b = d2i_SN_ATT_BUNDLE(NULL, &p, (long)len)) == NULL || p != der + len)
        goto out;
    if ((n = i2d_SN_ATT_BUNDLE(b, &re)) <= 0 || (size_t)n != len ||
        memcmp(re, der, len) != 0)
        goto out;
    /* certs is SIZE (1..MAX) when present. */
    if (b->certs != NULL &&
        (sk_X509_num(b->certs) < 1 || sk_X509_num(b->certs) > BUNDLE_MAX_CERTS))
        goto out;
    if ((r = bundle_cert(b, oids, &ev->cert)) != SN_OK)
        goto out;
    ev->untrusted = b->certs;
    b->certs = NULL;
    r = SN_OK;
out:
    if (r != SN_OK)
        evidence_cleanup(ev);
    OPENSSL_free(re);
    SN_ATT_BUNDLE_free(b);
    return r;
}

/* attestation cert -> untrusted issuer(s) -> one of roots, now. */
static sn_err
check_chain(X509 *cert, STACK_OF(X509) *untrusted, STACK_OF(X509) *roots,
            char *why, size_t whylen)
{
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    sn_err r = SN_ERR_NOMEM;
    int i;

    if ((store = X509_STORE_new()) == NULL ||
        (ctx = X509_STORE_CTX_new()) == NULL)
        goto out;
    r = SN_ERR_CRYPTO;
    for (i = 0; i < sk_X509_num(roots); i++)
        if (X509_STORE_add_cert(store, sk_X509_value(roots, i)) != 1)
            goto out;
    if (X509_STORE_CTX_init(ctx, store, cert, untrusted) != 1)
        goto out;
    X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
    /* The attestation certificate has no EKU: no purpose applies. */
    if (X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY) != 1)
        goto out;
    if (X509_verify_cert(ctx) != 1) {
        r = fail(why, whylen, SN_ERR_CRYPTO,
                 "attestation chain does not lead to a trusted root: %s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
        goto out;
    }
    r = SN_OK;
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return r;
}

/*
 * The attestation extension: exactly one, decoded strictly. Under the
 * configured arc or, when there is none there, under the default arc
 * (attestations made before the operator set an arc).
 */
static sn_err
cert_attestation(X509 *cert, const struct sn_oids *oids,
                 struct sn_attestation *a, char *why, size_t whylen)
{
    ASN1_OBJECT *obj = NULL;
    const ASN1_OCTET_STRING *os;
    int idx;
    sn_err r = SN_ERR_CRYPTO;

    if ((obj = oid(oids->key_attestation)) == NULL)
        goto out;
    if ((idx = X509_get_ext_by_OBJ(cert, obj, -1)) < 0 &&
        !sn_oids_is_default(oids)) {
        ASN1_OBJECT_free(obj);
        if ((obj = oid(SN_OID_DEFAULT_ARC ".1.1")) == NULL)
            goto out;
        idx = X509_get_ext_by_OBJ(cert, obj, -1);
    }
    if (idx < 0) {
        r = fail(why, whylen, SN_ERR_INVALID,
                 "attestation certificate lacks the Signet key attestation "
                 "extension");
        goto out;
    }
    if (X509_get_ext_by_OBJ(cert, obj, idx) >= 0) {
        r = fail(why, whylen, SN_ERR_INVALID,
                 "attestation certificate has more than one Signet key "
                 "attestation extension");
        goto out;
    }
    os = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
    if (os == NULL ||
        sn_attest_ext_decode(ASN1_STRING_get0_data(os),
                             (size_t)ASN1_STRING_length(os), a) != SN_OK) {
        r = fail(why, whylen, SN_ERR_INVALID,
                 "the Signet key attestation extension is malformed");
        goto out;
    }
    r = SN_OK;
out:
    ASN1_OBJECT_free(obj);
    return r;
}

/* What a CA needs: made on the device, never extractable, always
 * sensitive. */
static sn_err
check_facts(const struct sn_key_facts *f, char *why, size_t whylen)
{
    const char *reason = NULL;

    if (!f->local)
        reason = "key was not generated on the device (CKA_LOCAL false)";
    else if (f->extractable)
        reason = "key is extractable (CKA_EXTRACTABLE true)";
    else if (!f->never_extractable)
        reason = "key was extractable at some point (CKA_NEVER_EXTRACTABLE "
                 "false)";
    else if (!f->sensitive)
        reason = "key is not sensitive (CKA_SENSITIVE false)";
    else if (!f->always_sensitive)
        reason = "key was not always sensitive (CKA_ALWAYS_SENSITIVE false)";
    if (reason == NULL)
        return SN_OK;
    return fail(why, whylen, SN_ERR_HSM_PROTECTION, "%s", reason);
}

/*
 * The checks shared by CSRs and bundles. reqkey, when given, must be the
 * attested key.
 */
static sn_err
verify_evidence(const struct evidence *ev, STACK_OF(X509) *roots,
                const struct sn_oids *oids, EVP_PKEY *reqkey,
                struct sn_attestation *a, char *why, size_t whylen)
{
    EVP_PKEY *attested;
    sn_err r;

    if (roots == NULL || sk_X509_num(roots) < 1)
        return fail(why, whylen, SN_ERR_INVALID,
                    "no trusted attestation root given");
    if ((r = check_chain(ev->cert, ev->untrusted, roots, why, whylen)) != SN_OK)
        return r;
    if (X509_check_ca(ev->cert) != 0)
        return fail(why, whylen, SN_ERR_INVALID,
                    "the attestation certificate is a CA certificate");
    if ((r = cert_attestation(ev->cert, oids, a, why, whylen)) != SN_OK)
        return r;
    if (reqkey != NULL) {
        attested = X509_get0_pubkey(ev->cert);
        if (attested == NULL || EVP_PKEY_eq(reqkey, attested) != 1)
            return fail(why, whylen, SN_ERR_MISMATCH,
                        "the CSR's key is not the attested key");
    }
    return check_facts(&a->facts, why, whylen);
}

/* The one id-aa-attestation attribute of req, as parsed evidence. */
static sn_err
csr_evidence(X509_REQ *req, const struct sn_oids *oids, struct evidence *ev,
             char *why, size_t whylen)
{
    ASN1_OBJECT *obj = NULL;
    X509_ATTRIBUTE *attr;
    ASN1_TYPE *t;
    int idx;
    sn_err r = SN_ERR_CRYPTO;

    if ((obj = oid(SN_OID_ID_AA_ATTESTATION)) == NULL)
        goto out;
    if ((idx = X509_REQ_get_attr_by_OBJ(req, obj, -1)) < 0) {
        r = fail(why, whylen, SN_ERR_NOT_FOUND,
                 "no attestation attribute in the CSR");
        goto out;
    }
    if (X509_REQ_get_attr_by_OBJ(req, obj, idx) >= 0) {
        r = fail(why, whylen, SN_ERR_INVALID,
                 "more than one attestation attribute in the CSR");
        goto out;
    }
    attr = X509_REQ_get_attr(req, idx);
    if (X509_ATTRIBUTE_count(attr) != 1 ||
        (t = X509_ATTRIBUTE_get0_type(attr, 0)) == NULL ||
        t->type != V_ASN1_SEQUENCE ||
        bundle_parse(t->value.sequence->data, (size_t)t->value.sequence->length,
                     oids, ev) != SN_OK) {
        r = fail(why, whylen, SN_ERR_INVALID,
                 "the CSR's attestation attribute is malformed");
        goto out;
    }
    r = SN_OK;
out:
    ASN1_OBJECT_free(obj);
    return r;
}

static void
verify_start(struct sn_attestation *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    if (why != NULL && whylen > 0)
        why[0] = '\0';
}

sn_err
sn_attest_verify_csr(X509_REQ *req, STACK_OF(X509) *roots,
                     const struct sn_oids *oids, struct sn_attestation *out,
                     char *why, size_t whylen)
{
    struct evidence ev = {NULL, NULL};
    struct sn_attestation a;
    EVP_PKEY *reqkey;
    sn_err r = SN_ERR_INVALID;

    verify_start(out, why, whylen);
    memset(&a, 0, sizeof(a));
    if (req == NULL || oids == NULL) {
        r = fail(why, whylen, r, "no CSR given");
        goto out;
    }
    if ((reqkey = X509_REQ_get0_pubkey(req)) == NULL) {
        r = fail(why, whylen, r, "the CSR's public key is unusable");
        goto out;
    }
    if (X509_REQ_verify(req, reqkey) != 1) {
        r = fail(why, whylen, SN_ERR_CRYPTO, "CSR signature invalid");
        goto out;
    }
    if ((r = csr_evidence(req, oids, &ev, why, whylen)) != SN_OK)
        goto out;
    if ((r = verify_evidence(&ev, roots, oids, reqkey, &a, why, whylen)) !=
        SN_OK)
        goto out;
    *out = a;
out:
    evidence_cleanup(&ev);
    ERR_clear_error();
    return r;
}

sn_err
sn_attest_verify_bundle(STACK_OF(X509) *bundle, STACK_OF(X509) *roots,
                        const struct sn_oids *oids, struct sn_attestation *out,
                        char *why, size_t whylen)
{
    struct evidence ev = {NULL, NULL};
    struct sn_attestation a;
    X509 *x;
    int i, n;
    sn_err r = SN_ERR_INVALID;

    verify_start(out, why, whylen);
    memset(&a, 0, sizeof(a));
    n = bundle != NULL ? sk_X509_num(bundle) : 0;
    if (oids == NULL || n < 1 || n > BUNDLE_MAX_CERTS) {
        r = fail(why, whylen, r,
                 "the bundle must hold the attestation certificate and its "
                 "issuer");
        goto out;
    }
    r = SN_ERR_NOMEM;
    if ((ev.untrusted = sk_X509_new_null()) == NULL)
        goto out;
    for (i = 0; i < n; i++) {
        x = sk_X509_value(bundle, i);
        if (X509_up_ref(x) != 1)
            goto out;
        if (i == 0) {
            ev.cert = x;
        } else if (sk_X509_push(ev.untrusted, x) <= 0) {
            X509_free(x);
            goto out;
        }
    }
    if ((r = verify_evidence(&ev, roots, oids, NULL, &a, why, whylen)) != SN_OK)
        goto out;
    *out = a;
out:
    evidence_cleanup(&ev);
    ERR_clear_error();
    return r;
}
