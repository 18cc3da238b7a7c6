/*
 * reply: parsers for the Signet service's answers, as the PKCS#11 module
 * sees them. Untrusted input: the server (or whoever answers in its name)
 * controls every byte, so bodies are size-capped, JSON is parsed strictly
 * (duplicate keys rejected), every field is type- and length-checked, base64
 * is strict, PEM and DER are parsed by OpenSSL and re-checked against the
 * key's declared algorithm. Pure: no I/O, no globals, fuzzed by
 * tests/fuzz/fuzz_p11_reply.c.
 */
#include "pkcs11/reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/digestinfo.h"
#include "common/util.h"
#include "crypto/x509util.h"

#define PUBKEY_PEM_MAX (16 * 1024)
#define CHAIN_PEM_MAX (128 * 1024)
#define SIG_B64_MAX 1024

sn_err
sn_p11_digestinfo_parse(const uint8_t *in, size_t len, enum sn_digest *md,
                        const uint8_t **digest)
{
    return sn_digestinfo_parse(in, len, md, digest);
}

sn_err
sn_p11_ecdsa_der_to_raw(const uint8_t *der, size_t len, size_t field_len,
                        uint8_t *out)
{
    const unsigned char *p = der;
    const BIGNUM *r = NULL, *s = NULL;
    unsigned char *back = NULL;
    ECDSA_SIG *sig = NULL;
    sn_err rc = SN_ERR_INVALID;
    int blen;

    if (der == NULL || len == 0 || len > SN_P11_MAX_SIG || field_len == 0 ||
        field_len > 66)
        goto out;
    if ((sig = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL || p != der + len)
        goto out;
    /* Only the canonical encoding: re-encoding must give the same bytes. */
    blen = i2d_ECDSA_SIG(sig, &back);
    if (blen < 0 || (size_t)blen != len || memcmp(back, der, len) != 0)
        goto out;
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_is_negative(r) || BN_is_negative(s) || BN_is_zero(r) ||
        BN_is_zero(s) || (size_t)BN_num_bytes(r) > field_len ||
        (size_t)BN_num_bytes(s) > field_len)
        goto out;
    if (BN_bn2binpad(r, out, (int)field_len) < 0 ||
        BN_bn2binpad(s, out + field_len, (int)field_len) < 0)
        goto out;
    rc = SN_OK;
out:
    OPENSSL_free(back);
    ECDSA_SIG_free(sig);
    ERR_clear_error();
    return rc;
}

/* Parses a bounded JSON object; anything else is SN_ERR_INVALID. */
static sn_err
load_object(const uint8_t *data, size_t len, json_t **out)
{
    json_t *j;

    *out = NULL;
    if (data == NULL || len == 0)
        return SN_ERR_INVALID;
    if (len > SN_P11_MAX_REPLY)
        return SN_ERR_LIMIT;
    j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return SN_ERR_INVALID;
    }
    *out = j;
    return SN_OK;
}

/* A string member of 1..max bytes without embedded NULs, or NULL. */
static const char *
get_str(json_t *o, const char *name, size_t max)
{
    json_t *v = json_object_get(o, name);
    const char *s;
    size_t n;

    if (!json_is_string(v))
        return NULL;
    s = json_string_value(v);
    n = json_string_length(v);
    if (n == 0 || n > max || strlen(s) != n)
        return NULL;
    return s;
}

static int
printable_ascii(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

/* Key ids are used in URL paths: [A-Za-z0-9_-] only. */
static int
id_safe(const char *s)
{
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

/* Labels: no control characters (UTF-8 is fine). */
static int
label_safe(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return 0;
    return 1;
}

sn_err
sn_p11_parse_whoami(const uint8_t *data, size_t len,
                    char sub[SN_P11_SUBSCRIBER_MAX + 1])
{
    json_t *j = NULL, *v;
    const char *s;
    sn_err r;

    sub[0] = '\0';
    if ((r = load_object(data, len, &j)) != SN_OK)
        goto out;
    r = SN_ERR_INVALID;
    v = json_object_get(j, "subscriber");
    if (json_is_null(v)) {
        r = SN_ERR_STATE;
        goto out;
    }
    if ((s = get_str(j, "subscriber", SN_P11_SUBSCRIBER_MAX)) == NULL ||
        !printable_ascii(s))
        goto out;
    memcpy(sub, s, strlen(s) + 1);
    r = SN_OK;
out:
    json_decref(j);
    return r;
}

static void
cert_cleanup(struct sn_p11_cert *c)
{
    free(c->der);
    free(c->subject);
    free(c->issuer);
    free(c->serial);
    memset(c, 0, sizeof(*c));
}

static void
key_cleanup(struct sn_p11_key *k)
{
    size_t i;

    for (i = 0; i < k->ncerts; i++)
        cert_cleanup(&k->certs[i]);
    free(k->certs);
    free(k->spki);
    free(k->modulus);
    free(k->exponent);
    free(k->ec_point);
    memset(k, 0, sizeof(*k));
}

void
sn_p11_keylist_free(struct sn_p11_keylist *l)
{
    size_t i;

    if (l == NULL)
        return;
    for (i = 0; i < l->n; i++)
        key_cleanup(&l->keys[i]);
    free(l->keys);
    free(l);
}

/* i2d into a malloc'd buffer (OpenSSL's allocator is not ours to mix). */
static sn_err
der_dup(const unsigned char *der, int n, uint8_t **out, size_t *outlen)
{
    if (n <= 0)
        return SN_ERR_CRYPTO;
    if ((*out = malloc((size_t)n)) == NULL)
        return SN_ERR_NOMEM;
    memcpy(*out, der, (size_t)n);
    *outlen = (size_t)n;
    return SN_OK;
}

static sn_err
bn_param(EVP_PKEY *pkey, const char *name, uint8_t **out, size_t *outlen)
{
    BIGNUM *bn = NULL;
    sn_err r = SN_ERR_CRYPTO;
    int n;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
        goto out;
    n = BN_num_bytes(bn);
    if (n <= 0 || n > SN_P11_MAX_SIG)
        goto out;
    r = SN_ERR_NOMEM;
    if ((*out = malloc((size_t)n)) == NULL)
        goto out;
    BN_bn2bin(bn, *out);
    *outlen = (size_t)n;
    r = SN_OK;
out:
    BN_free(bn);
    return r;
}

/* The public key must be what the algorithm name promises. */
static sn_err
key_public_parts(struct sn_p11_key *k, EVP_PKEY *pkey)
{
    unsigned bits = sn_keyalg_bits(k->alg);
    uint8_t point[1 + 2 * 66];
    char group[32];
    size_t plen = 0, field;
    sn_err r;

    if (sn_keyalg_is_rsa(k->alg)) {
        if (!EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_get_bits(pkey) != (int)bits)
            return SN_ERR_INVALID;
        if ((r = bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &k->modulus,
                          &k->modulus_len)) != SN_OK ||
            (r = bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &k->exponent,
                          &k->exponent_len)) != SN_OK)
            return r;
        if (k->modulus_len != bits / 8)
            return SN_ERR_INVALID;
        k->sig_len = k->modulus_len;
        return SN_OK;
    }
    field = (bits + 7) / 8;
    if (!EVP_PKEY_is_a(pkey, "EC") ||
        EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                       sizeof(group), NULL) != 1)
        return SN_ERR_INVALID;
    if (strcmp(group, k->alg == SN_KEY_P256 ? "prime256v1" : "secp384r1") != 0)
        return SN_ERR_INVALID;
    if (EVP_PKEY_set_utf8_string_param(
            pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed") !=
            1 ||
        EVP_PKEY_get_octet_string_param(pkey,
                                        OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                        point, sizeof(point), &plen) != 1 ||
        plen != 1 + 2 * field || point[0] != 0x04)
        return SN_ERR_INVALID;
    if ((k->ec_point = malloc(plen)) == NULL)
        return SN_ERR_NOMEM;
    memcpy(k->ec_point, point, plen);
    k->ec_point_len = plen;
    k->sig_len = 2 * field;
    return SN_OK;
}

static sn_err
key_public(struct sn_p11_key *k, const char *pem)
{
    unsigned char *der = NULL;
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    sn_err r = SN_ERR_INVALID;
    int n;

    if ((bio = BIO_new_mem_buf(pem, (int)strlen(pem))) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    if ((pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL)
        goto out;
    if ((r = key_public_parts(k, pkey)) != SN_OK)
        goto out;
    n = i2d_PUBKEY(pkey, &der);
    if ((r = der_dup(der, n, &k->spki, &k->spki_len)) != SN_OK)
        goto out;
    r = SN_OK;
out:
    OPENSSL_free(der);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    ERR_clear_error();
    return r;
}

/* The subject's first CN, if it is short printable ASCII. */
static void
cert_cn(X509 *x, char *cn, size_t cnlen)
{
    const X509_NAME *name = X509_get_subject_name(x);
    const ASN1_STRING *d;
    X509_NAME_ENTRY *e;
    int i, n;

    cn[0] = '\0';
    i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i < 0 || (e = X509_NAME_get_entry(name, i)) == NULL ||
        (d = X509_NAME_ENTRY_get_data(e)) == NULL)
        return;
    n = ASN1_STRING_length(d);
    if (n <= 0 || (size_t)n >= cnlen)
        return;
    memcpy(cn, ASN1_STRING_get0_data(d), (size_t)n);
    cn[n] = '\0';
    if (strlen(cn) != (size_t)n || !printable_ascii(cn))
        cn[0] = '\0';
}

static sn_err
cert_split(X509 *x, struct sn_p11_cert *c)
{
    unsigned char *der = NULL;
    sn_err r;
    int n;

    n = i2d_X509(x, &der);
    if ((r = der_dup(der, n, &c->der, &c->der_len)) != SN_OK)
        goto out;
    OPENSSL_free(der);
    der = NULL;
    n = i2d_X509_NAME(X509_get_subject_name(x), &der);
    if ((r = der_dup(der, n, &c->subject, &c->subject_len)) != SN_OK)
        goto out;
    OPENSSL_free(der);
    der = NULL;
    n = i2d_X509_NAME(X509_get_issuer_name(x), &der);
    if ((r = der_dup(der, n, &c->issuer, &c->issuer_len)) != SN_OK)
        goto out;
    OPENSSL_free(der);
    der = NULL;
    n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &der);
    if ((r = der_dup(der, n, &c->serial, &c->serial_len)) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if (EVP_Digest(c->der, c->der_len, c->fp, NULL, EVP_sha256(), NULL) != 1)
        goto out;
    cert_cn(x, c->cn, sizeof(c->cn));
    r = SN_OK;
out:
    OPENSSL_free(der);
    return r;
}

/*
 * The chain attached to the key. A chain whose leaf is not this key is
 * ignored (the key stays usable); malformed PEM rejects the whole reply.
 */
static sn_err
key_chain(struct sn_p11_key *k, const char *pem)
{
    STACK_OF(X509) *chain = NULL;
    EVP_PKEY *pub = NULL;
    sn_err r;
    int i, n;

    if ((r = sn_chain_from_pem(pem, strlen(pem), &chain)) != SN_OK)
        goto out;
    n = sk_X509_num(chain);
    r = SN_ERR_LIMIT;
    if (n <= 0 || n > SN_P11_MAX_CHAIN)
        goto out;
    if ((r = sn_pubkey_from_der(k->spki, k->spki_len, &pub)) != SN_OK)
        goto out;
    if (sn_chain_matches_key(chain, pub) != SN_OK) {
        r = SN_OK;
        goto out;
    }
    r = SN_ERR_NOMEM;
    if ((k->certs = calloc((size_t)n, sizeof(*k->certs))) == NULL)
        goto out;
    for (i = 0; i < n; i++) {
        if ((r = cert_split(sk_X509_value(chain, i), &k->certs[i])) != SN_OK)
            goto out;
        k->ncerts++;
    }
    r = SN_OK;
out:
    EVP_PKEY_free(pub);
    sk_X509_pop_free(chain, X509_free);
    ERR_clear_error();
    return r;
}

static sn_err
key_parse(json_t *o, struct sn_p11_key *k)
{
    const char *id, *label, *alg, *state, *pub;
    json_t *cert;

    if (!json_is_object(o))
        return SN_ERR_INVALID;
    id = get_str(o, "id", SN_P11_KEYID_MAX);
    label = get_str(o, "label", SN_P11_LABEL_MAX);
    alg = get_str(o, "algorithm", 32);
    state = get_str(o, "state", 32);
    pub = get_str(o, "public_key_pem", PUBKEY_PEM_MAX);
    if (id == NULL || !id_safe(id) || label == NULL || !label_safe(label) ||
        alg == NULL || state == NULL || pub == NULL ||
        sn_keyalg_from_name(alg, &k->alg) != SN_OK)
        return SN_ERR_INVALID;
    memcpy(k->id, id, strlen(id) + 1);
    memcpy(k->label, label, strlen(label) + 1);
    k->enabled = strcmp(state, "enabled") == 0;
    if (key_public(k, pub) != SN_OK)
        return SN_ERR_INVALID;
    cert = json_object_get(o, "certificate_pem");
    if (cert == NULL || json_is_null(cert))
        return SN_OK;
    if (get_str(o, "certificate_pem", CHAIN_PEM_MAX) == NULL)
        return SN_ERR_INVALID;
    return key_chain(k, json_string_value(cert));
}

sn_err
sn_p11_parse_keys(const uint8_t *data, size_t len, struct sn_p11_keylist **out)
{
    struct sn_p11_keylist *l = NULL;
    json_t *j = NULL, *arr;
    size_t i, n;
    sn_err r;

    *out = NULL;
    if ((r = load_object(data, len, &j)) != SN_OK)
        goto out;
    r = SN_ERR_INVALID;
    arr = json_object_get(j, "keys");
    if (!json_is_array(arr))
        goto out;
    n = json_array_size(arr);
    r = SN_ERR_LIMIT;
    if (n > SN_P11_MAX_KEYS)
        goto out;
    r = SN_ERR_NOMEM;
    if ((l = calloc(1, sizeof(*l))) == NULL ||
        (n > 0 && (l->keys = calloc(n, sizeof(*l->keys))) == NULL))
        goto out;
    for (i = 0; i < n; i++) {
        r = key_parse(json_array_get(arr, i), &l->keys[l->n]);
        l->n++;
        if (r != SN_OK)
            goto out;
    }
    *out = l;
    l = NULL;
    r = SN_OK;
out:
    sn_p11_keylist_free(l);
    json_decref(j);
    return r;
}

sn_err
sn_p11_parse_signature(const uint8_t *data, size_t len, enum sn_keyalg alg,
                       size_t sig_len, uint8_t *sig)
{
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    const char *b64;
    json_t *j = NULL;
    sn_err r;

    if ((r = load_object(data, len, &j)) != SN_OK)
        goto out;
    r = SN_ERR_INVALID;
    if (sig_len == 0 || sig_len > SN_P11_MAX_SIG)
        goto out;
    if ((b64 = get_str(j, "signature", SIG_B64_MAX)) == NULL ||
        sn_b64_decode(b64, &raw, &rawlen) != SN_OK)
        goto out;
    if (sn_keyalg_is_rsa(alg)) {
        if (rawlen != sig_len)
            goto out;
        memcpy(sig, raw, sig_len);
    } else if ((r = sn_p11_ecdsa_der_to_raw(raw, rawlen, sig_len / 2, sig)) !=
               SN_OK) {
        goto out;
    }
    r = SN_OK;
out:
    free(raw);
    json_decref(j);
    return r;
}

static void copy_printable(char *dst, size_t dstlen, const char *src);

sn_err
sn_p11_parse_request(const uint8_t *data, size_t len,
                     struct sn_p11_request *out)
{
    static const char *const names[] = {
        [SN_P11_SR_PENDING] = "pending_approval",
        [SN_P11_SR_APPROVED] = "approved",
        [SN_P11_SR_COMPLETED] = "completed",
        [SN_P11_SR_DENIED] = "denied",
        [SN_P11_SR_EXPIRED] = "expired",
        [SN_P11_SR_CANCELED] = "canceled",
        [SN_P11_SR_FAILED] = "failed",
    };
    const char *id, *state;
    json_t *j = NULL;
    size_t i;
    sn_err r;

    memset(out, 0, sizeof(*out));
    if ((r = load_object(data, len, &j)) != SN_OK)
        goto out;
    r = SN_ERR_INVALID;
    if ((id = get_str(j, "request", SN_P11_KEYID_MAX)) == NULL &&
        (id = get_str(j, "id", SN_P11_KEYID_MAX)) == NULL)
        goto out;
    if (!id_safe(id) || (state = get_str(j, "state", 32)) == NULL)
        goto out;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(state, names[i]) == 0)
            break;
    if (i == sizeof(names) / sizeof(names[0]))
        goto out;
    memcpy(out->id, id, strlen(id) + 1);
    out->state = (enum sn_p11_sr_state)i;
    snprintf(out->state_name, sizeof(out->state_name), "%s", names[i]);
    copy_printable(out->reason, sizeof(out->reason),
                   json_string_value(json_object_get(j, "reason")));
    r = SN_OK;
out:
    if (r != SN_OK)
        memset(out, 0, sizeof(*out));
    json_decref(j);
    return r;
}

static void
copy_printable(char *dst, size_t dstlen, const char *src)
{
    size_t i;

    if (dstlen == 0)
        return;
    for (i = 0; src != NULL && i + 1 < dstlen && src[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    dst[i] = '\0';
}

void
sn_p11_parse_error(const uint8_t *data, size_t len, char *code, size_t codelen,
                   char *msg, size_t msglen)
{
    json_t *j = NULL;

    copy_printable(code, codelen, "");
    copy_printable(msg, msglen, "");
    if (load_object(data, len, &j) != SN_OK)
        return;
    copy_printable(code, codelen,
                   json_string_value(json_object_get(j, "error")));
    copy_printable(msg, msglen,
                   json_string_value(json_object_get(j, "message")));
    json_decref(j);
}
