/*
 * x509util: public keys, certificate chains, subject names and PKCS#10
 * requests. PEM chains, slash names and name values arrive from clients and
 * are untrusted: every input is bounded, only the expected PEM type and an
 * allowlist of name attributes are accepted, and DER must be consumed
 * exactly. The CSR is signed through the callback; the key never comes here.
 */
#include "crypto/x509util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/text.h"
#include "common/util.h"

/* A chain is a handful of certificates; anything bigger is not a chain. */
#define CHAIN_PEM_MAX (256 * 1024)
#define CHAIN_MAX_CERTS 16
#define PUBKEY_DER_MAX 4096
#define NAME_VALUE_MAX 64
#define NAME_FIELD_MAX 32
#define SLASH_NAME_MAX 2048
#define MAX_SIG_LEN 1024

static const struct {
    const char *field;
    int nid;
} name_fields[] = {
    {"CN", NID_commonName},
    {"O", NID_organizationName},
    {"OU", NID_organizationalUnitName},
    {"C", NID_countryName},
    {"ST", NID_stateOrProvinceName},
    {"L", NID_localityName},
    {"serialNumber", NID_serialNumber},
    {"emailAddress", NID_pkcs9_emailAddress},
    {"street", NID_streetAddress},
    {"postalCode", NID_postalCode},
    {"businessCategory", NID_businessCategory},
    {"jurisdictionC", NID_jurisdictionCountryName},
    {"jurisdictionST", NID_jurisdictionStateOrProvinceName},
    {"jurisdictionL", NID_jurisdictionLocalityName},
};

/* Copies a memory BIO's contents into a malloc'd NUL-terminated string. */
static sn_err
bio_to_str(BIO *bio, char **out)
{
    char *data = NULL, *s;
    long n;

    n = BIO_get_mem_data(bio, &data);
    if (n <= 0 || data == NULL)
        return SN_ERR_CRYPTO;
    if ((s = malloc((size_t)n + 1)) == NULL)
        return SN_ERR_NOMEM;
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    *out = s;
    return SN_OK;
}

sn_err
sn_pubkey_from_der(const uint8_t *der, size_t len, EVP_PKEY **out)
{
    const unsigned char *p = der;
    EVP_PKEY *pkey = NULL;
    sn_err r = SN_ERR_INVALID;

    *out = NULL;
    if (der == NULL || len == 0 || len > PUBKEY_DER_MAX)
        goto out;
    if ((pkey = d2i_PUBKEY(NULL, &p, (long)len)) == NULL)
        goto out;
    /* Trailing bytes mean the input was not one SubjectPublicKeyInfo. */
    if (p != der + len)
        goto out;
    if (!EVP_PKEY_is_a(pkey, "RSA") && !EVP_PKEY_is_a(pkey, "EC"))
        goto out;
    *out = pkey;
    pkey = NULL;
    r = SN_OK;
out:
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return r;
}

sn_err
sn_pubkey_to_pem(EVP_PKEY *pkey, char **pem)
{
    BIO *bio = NULL;
    sn_err r = SN_ERR_CRYPTO;

    *pem = NULL;
    if (pkey == NULL) {
        r = SN_ERR_INVALID;
        goto out;
    }
    if ((bio = BIO_new(BIO_s_mem())) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    if (PEM_write_bio_PUBKEY(bio, pkey) != 1)
        goto out;
    r = bio_to_str(bio, pem);
out:
    BIO_free(bio);
    ERR_clear_error();
    return r;
}

/* One PEM block: must be a header-less CERTIFICATE holding exactly one DER
 * certificate. */
static sn_err
cert_from_block(const char *name, const char *header, const unsigned char *data,
                long dlen, X509 **out)
{
    const unsigned char *p = data;
    X509 *x;

    if (strcmp(name, PEM_STRING_X509) != 0 || header[0] != '\0')
        return SN_ERR_INVALID;
    if ((x = d2i_X509(NULL, &p, dlen)) == NULL)
        return SN_ERR_INVALID;
    if (p != data + dlen) {
        X509_free(x);
        return SN_ERR_INVALID;
    }
    *out = x;
    return SN_OK;
}

/*
 * PEM_read_bio skips text outside the encapsulation boundaries, as RFC 7468
 * allows; it stops with PEM_R_NO_START_LINE once no block is left. Any other
 * stop (a block without an END line, bad base64) is a malformed chain.
 */
static int
pem_clean_eof(void)
{
    unsigned long e = ERR_peek_last_error();

    return ERR_GET_LIB(e) == ERR_LIB_PEM &&
           ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

sn_err
sn_chain_from_pem(const char *pem, size_t len, STACK_OF(X509) **out)
{
    STACK_OF(X509) *chain = NULL;
    BIO *bio = NULL;
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long dlen = 0;
    X509 *x = NULL;
    sn_err r = SN_ERR_INVALID;

    *out = NULL;
    ERR_clear_error();
    if (pem == NULL || len == 0)
        goto out;
    if (len > CHAIN_PEM_MAX) {
        r = SN_ERR_LIMIT;
        goto out;
    }
    if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
        (chain = sk_X509_new_null()) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    while (PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
        r = cert_from_block(name, header, data, dlen, &x);
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = NULL;
        data = NULL;
        if (r != SN_OK)
            goto out;
        r = SN_ERR_LIMIT;
        if (sk_X509_num(chain) >= CHAIN_MAX_CERTS)
            goto out;
        r = SN_ERR_NOMEM;
        if (sk_X509_push(chain, x) <= 0)
            goto out;
        x = NULL;
    }
    r = SN_ERR_INVALID;
    if (!pem_clean_eof() || sk_X509_num(chain) < 1)
        goto out;
    *out = chain;
    chain = NULL;
    r = SN_OK;
out:
    X509_free(x);
    sk_X509_pop_free(chain, X509_free);
    BIO_free(bio);
    ERR_clear_error();
    return r;
}

sn_err
sn_chain_to_pem(STACK_OF(X509) *chain, char **pem)
{
    BIO *bio = NULL;
    int i;
    sn_err r = SN_ERR_CRYPTO;

    *pem = NULL;
    if (chain == NULL || sk_X509_num(chain) < 1) {
        r = SN_ERR_INVALID;
        goto out;
    }
    if ((bio = BIO_new(BIO_s_mem())) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < sk_X509_num(chain); i++) {
        if (PEM_write_bio_X509(bio, sk_X509_value(chain, i)) != 1)
            goto out;
    }
    r = bio_to_str(bio, pem);
out:
    BIO_free(bio);
    ERR_clear_error();
    return r;
}

sn_err
sn_chain_matches_key(STACK_OF(X509) *chain, EVP_PKEY *pkey)
{
    EVP_PKEY *leafkey;

    if (chain == NULL || sk_X509_num(chain) < 1 || pkey == NULL)
        return SN_ERR_INVALID;
    leafkey = X509_get0_pubkey(sk_X509_value(chain, 0));
    /* EVP_PKEY_eq: 1 equal, 0 different, -1 other type, -2 unsupported. */
    if (leafkey == NULL || EVP_PKEY_eq(leafkey, pkey) != 1) {
        ERR_clear_error();
        return SN_ERR_MISMATCH;
    }
    return SN_OK;
}

static int
valid_country(const char *v, size_t len)
{
    return len == 2 && v[0] >= 'A' && v[0] <= 'Z' && v[1] >= 'A' && v[1] <= 'Z';
}

sn_err
sn_name_add(X509_NAME *name, const char *field, const char *value)
{
    size_t i, len;
    int nid = NID_undef;

    if (name == NULL || field == NULL || value == NULL)
        return SN_ERR_INVALID;
    for (i = 0; i < sizeof(name_fields) / sizeof(name_fields[0]); i++) {
        if (strcmp(field, name_fields[i].field) == 0) {
            nid = name_fields[i].nid;
            break;
        }
    }
    if (nid == NID_undef)
        return SN_ERR_INVALID;
    len = strnlen(value, NAME_VALUE_MAX + 1);
    if (len < 1 || len > NAME_VALUE_MAX)
        return SN_ERR_INVALID;
    if (sn_text_check(value, len, NAME_VALUE_MAX, 0) != SN_TEXT_OK)
        return SN_ERR_INVALID;
    if ((nid == NID_countryName || nid == NID_jurisdictionCountryName) &&
        !valid_country(value, len))
        return SN_ERR_INVALID;
    /*
     * OpenSSL picks the string type per attribute (PrintableString for
     * countries and serialNumber, IA5String for email, UTF8String else) and
     * refuses values that do not fit it.
     */
    if (X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                   (const unsigned char *)value, (int)len, -1,
                                   0) != 1) {
        ERR_clear_error();
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

/*
 * Splits one "/field=value" component starting at *pp (just past its '/')
 * into NUL-terminated field and value, undoing backslash escapes in the
 * value. Leaves *pp at the next '/' or the terminating NUL.
 */
static sn_err
slash_component(const char **pp, char field[NAME_FIELD_MAX + 1],
                char value[NAME_VALUE_MAX + 1])
{
    const char *p = *pp;
    size_t n = 0;

    while (*p != '=' && *p != '/' && *p != '\0') {
        if (n >= NAME_FIELD_MAX)
            return SN_ERR_INVALID;
        field[n++] = *p++;
    }
    field[n] = '\0';
    if (*p != '=' || n == 0)
        return SN_ERR_INVALID;
    p++;
    n = 0;
    while (*p != '/' && *p != '\0') {
        if (*p == '\\') {
            p++;
            if (*p == '\0')
                return SN_ERR_INVALID;
        }
        if (n >= NAME_VALUE_MAX)
            return SN_ERR_INVALID;
        value[n++] = *p++;
    }
    value[n] = '\0';
    *pp = p;
    return SN_OK;
}

sn_err
sn_name_from_slash(const char *s, X509_NAME **out)
{
    char field[NAME_FIELD_MAX + 1], value[NAME_VALUE_MAX + 1];
    X509_NAME *name = NULL;
    const char *p;
    sn_err r = SN_ERR_INVALID;

    *out = NULL;
    if (s == NULL || s[0] != '/' ||
        strnlen(s, SLASH_NAME_MAX + 1) > SLASH_NAME_MAX)
        goto out;
    if ((name = X509_NAME_new()) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    p = s;
    while (*p == '/') {
        p++;
        if ((r = slash_component(&p, field, value)) != SN_OK)
            goto out;
        if ((r = sn_name_add(name, field, value)) != SN_OK)
            goto out;
    }
    r = SN_ERR_INVALID;
    if (*p != '\0' || X509_NAME_entry_count(name) < 1)
        goto out;
    *out = name;
    name = NULL;
    r = SN_OK;
out:
    X509_NAME_free(name);
    return r;
}

/* signatureAlgorithm for pub's type and md: RSA with a NULL parameter
 * (RFC 4055), ECDSA with the parameter absent (RFC 5758). */
static sn_err
sig_algor(EVP_PKEY *pub, enum sn_digest md, X509_ALGOR **out)
{
    X509_ALGOR *alg = NULL;
    int signid, rsa;
    sn_err r = SN_ERR_CRYPTO;

    rsa = EVP_PKEY_is_a(pub, "RSA");
    if (!OBJ_find_sigid_by_algs(&signid, sn_digest_nid(md),
                                rsa ? NID_rsaEncryption
                                    : NID_X9_62_id_ecPublicKey))
        goto out;
    if ((alg = X509_ALGOR_new()) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    if (X509_ALGOR_set0(alg, OBJ_nid2obj(signid),
                        rsa ? V_ASN1_NULL : V_ASN1_UNDEF, NULL) != 1)
        goto out;
    *out = alg;
    alg = NULL;
    r = SN_OK;
out:
    X509_ALGOR_free(alg);
    return r;
}

static sn_err
csr_sign(X509_REQ *req, EVP_PKEY *pub, enum sn_digest md, sn_sign_cb cb,
         void *arg)
{
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    unsigned char *tbs = NULL;
    uint8_t *sig = NULL;
    size_t siglen = 0;
    X509_ALGOR *alg = NULL;
    ASN1_BIT_STRING *bs = NULL;
    int tbslen;
    sn_err r;

    /* The algorithm is part of neither the TBS nor the digest, but set it
     * first so a failure leaves nothing half-signed. */
    if ((r = sig_algor(pub, md, &alg)) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if (X509_REQ_set1_signature_algo(req, alg) != 1)
        goto out;
    if ((tbslen = i2d_re_X509_REQ_tbs(req, &tbs)) <= 0)
        goto out;
    if (EVP_Digest(tbs, (size_t)tbslen, digest, &dlen,
                   EVP_get_digestbynid(sn_digest_nid(md)), NULL) != 1 ||
        dlen != sn_digest_len(md))
        goto out;
    if ((r = cb(arg, md, digest, dlen, &sig, &siglen)) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if (sig == NULL || siglen == 0 || siglen > MAX_SIG_LEN)
        goto out;
    if ((bs = ASN1_BIT_STRING_new()) == NULL ||
        ASN1_BIT_STRING_set(bs, sig, (int)siglen) != 1)
        goto out;
    /* Whole bytes: without this, i2d trims trailing zero bits and corrupts
     * any signature that happens to end in a zero byte. */
    bs->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bs->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    X509_REQ_set0_signature(req, bs);
    bs = NULL;
    /* Never hand out a request the public key does not verify. */
    if (X509_REQ_verify(req, pub) != 1)
        goto out;
    r = SN_OK;
out:
    ASN1_BIT_STRING_free(bs);
    X509_ALGOR_free(alg);
    OPENSSL_free(tbs);
    free(sig);
    return r;
}

sn_err
sn_csr_build(EVP_PKEY *pub, const X509_NAME *subject, enum sn_digest md,
             sn_sign_cb cb, void *arg, char **pem)
{
    return sn_csr_build_with(pub, subject, md, cb, arg, NULL, NULL, pem);
}

sn_err
sn_csr_build_with(EVP_PKEY *pub, const X509_NAME *subject, enum sn_digest md,
                  sn_sign_cb cb, void *arg, sn_csr_prepare_cb prepare,
                  void *prepare_arg, char **pem)
{
    X509_REQ *req = NULL;
    BIO *bio = NULL;
    sn_err r = SN_ERR_INVALID;

    *pem = NULL;
    if (pub == NULL || subject == NULL || cb == NULL ||
        (unsigned)md >= SN_MD_COUNT)
        goto out;
    if (!EVP_PKEY_is_a(pub, "RSA") && !EVP_PKEY_is_a(pub, "EC"))
        goto out;
    r = SN_ERR_CRYPTO;
    if ((req = X509_REQ_new()) == NULL)
        goto out;
    if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_pubkey(req, pub) != 1 ||
        X509_REQ_set_subject_name(req, subject) != 1)
        goto out;
    if (prepare != NULL && (r = prepare(req, pub, prepare_arg)) != SN_OK)
        goto out;
    if ((r = csr_sign(req, pub, md, cb, arg)) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if ((bio = BIO_new(BIO_s_mem())) == NULL)
        goto out;
    if (PEM_write_bio_X509_REQ(bio, req) != 1)
        goto out;
    r = bio_to_str(bio, pem);
out:
    BIO_free(bio);
    X509_REQ_free(req);
    ERR_clear_error();
    return r;
}

/*
 * Some extensions (certificatePolicies) are parsed only with a
 * configuration database at hand, even an empty one; the others ignore it.
 */
sn_err
sn_x509_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    CONF *conf = NCONF_new(NULL);
    X509_EXTENSION *ext;
    int ok;

    if (conf == NULL)
        return SN_ERR_CRYPTO;
    X509V3_set_nconf(ctx, conf);
    ext = X509V3_EXT_nconf_nid(conf, ctx, nid, value);
    ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
    X509V3_set_nconf(ctx, NULL);
    NCONF_free(conf);
    X509_EXTENSION_free(ext);
    return ok ? SN_OK : SN_ERR_CRYPTO;
}

sn_err
sn_x509_random_serial(X509 *x)
{
    uint8_t raw[16];
    BIGNUM *bn = NULL;
    sn_err r;

    do {
        if ((r = sn_random(raw, sizeof(raw))) != SN_OK)
            return r;
        raw[0] &= 0x7f; /* positive, and 16 octets in DER */
    } while (raw[0] == 0);
    r = SN_ERR_CRYPTO;
    if ((bn = BN_bin2bn(raw, sizeof(raw), NULL)) != NULL &&
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
        r = SN_OK;
    BN_free(bn);
    return r;
}

int
sn_der_exact(const uint8_t *der, size_t len, const uint8_t *end,
             const unsigned char *re, int relen)
{
    return der != NULL && re != NULL && relen > 0 && end == der + len &&
           (size_t)relen == len && memcmp(der, re, len) == 0;
}

sn_err
sn_x509_validity(const X509 *x, time_t *not_before, time_t *not_after)
{
    struct tm tb, ta;

    *not_before = 0;
    *not_after = 0;
    if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tb) != 1 ||
        ASN1_TIME_to_tm(X509_get0_notAfter(x), &ta) != 1)
        return SN_ERR_CRYPTO;
    *not_before = timegm(&tb);
    *not_after = timegm(&ta);
    return SN_OK;
}

int
sn_x509_days_within(const X509 *issuer, time_t now, int days)
{
    time_t nb, na;
    long left;

    if (sn_x509_validity(issuer, &nb, &na) != SN_OK || na <= now)
        return 0;
    /* A certificate of N days ends at notBefore + N * 86400 - 1; its
     * notBefore may fall a second after now. */
    left = (long)((na - now) / 86400);
    return left < days ? (int)left : days;
}

sn_err
sn_x509_spki(const uint8_t *der, size_t len, uint8_t **spki, size_t *spki_len)
{
    const unsigned char *p = der;
    unsigned char *out = NULL;
    X509 *x = NULL;
    sn_err r = SN_ERR_CRYPTO;
    int n;

    *spki = NULL;
    *spki_len = 0;
    if (len == 0 || len > LONG_MAX)
        return SN_ERR_INVALID;
    if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len ||
        (n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &out)) <= 0)
        goto out;
    r = SN_ERR_NOMEM;
    if ((*spki = malloc((size_t)n)) == NULL)
        goto out;
    memcpy(*spki, out, (size_t)n);
    *spki_len = (size_t)n;
    r = SN_OK;
out:
    OPENSSL_free(out);
    X509_free(x);
    ERR_clear_error();
    return r;
}
