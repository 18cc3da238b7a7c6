/*
 * peercert: TLS client certificates (see peercert.h). Registration input
 * (PEM, subject rules) and presented chains are untrusted; the stored
 * rules are re-checked as strictly when read back.
 */
#include "crypto/peercert.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "crypto/x509util.h"

const char *
sn_peercert_fault_str(enum sn_peercert_fault f)
{
    switch (f) {
#define SN_PEERCERT_STR(c, m)                                                  \
    case c:                                                                    \
        return m;
        SN_PEERCERT_FAULTS(SN_PEERCERT_STR)
#undef SN_PEERCERT_STR
    }
    return "client certificate refused";
}

sn_err
sn_peercert_sha256_hex(const uint8_t *p, size_t len, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;

    hex[0] = '\0';
    if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return SN_ERR_CRYPTO;
    for (i = 0; i < mdlen; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    return SN_OK;
}

sn_err
sn_peercert_fingerprint(X509 *x, char hex[65])
{
    unsigned char *der = NULL;
    int len;
    sn_err r;

    hex[0] = '\0';
    if ((len = i2d_X509(x, &der)) <= 0)
        return SN_ERR_CRYPTO;
    r = sn_peercert_sha256_hex(der, (size_t)len, hex);
    OPENSSL_free(der);
    return r;
}

sn_err
sn_peercert_name_hash(const X509 *x, int issuer, char hex[65])
{
    const X509_NAME *n =
        issuer ? X509_get_issuer_name(x) : X509_get_subject_name(x);
    const unsigned char *der = NULL;
    size_t len = 0;

    hex[0] = '\0';
    if (n == NULL || X509_NAME_get0_der(n, &der, &len) != 1 || len == 0)
        return SN_ERR_CRYPTO;
    return sn_peercert_sha256_hex(der, len, hex);
}

sn_err
sn_peercert_parse_pem(const char *pem, X509 **out)
{
    BIO *b = NULL;
    X509 *x = NULL, *extra = NULL;
    sn_err r = SN_ERR_INVALID;

    *out = NULL;
    if (pem == NULL || strlen(pem) > 4 * SN_PEERCERT_MAX_DER)
        return SN_ERR_INVALID;
    if ((b = BIO_new_mem_buf(pem, -1)) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    if ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL)
        goto out;
    /* One certificate: a second one is refused, not silently ignored. */
    if ((extra = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        goto out;
    *out = x;
    x = NULL;
    r = SN_OK;
out:
    ERR_clear_error();
    X509_free(extra);
    X509_free(x);
    BIO_free(b);
    return r;
}

/* ---- subject rules ---- */

static const struct {
    const char *name;
    int nid;
} attrs[] = {
    {"CN", NID_commonName},
    {"O", NID_organizationName},
    {"OU", NID_organizationalUnitName},
    {"C", NID_countryName},
    {"L", NID_localityName},
    {"ST", NID_stateOrProvinceName},
    {"serialNumber", NID_serialNumber},
};

const char *
sn_peercert_rule_attr(const struct sn_subject_rule *r)
{
    size_t i;

    for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
        if (attrs[i].nid == r->nid)
            return attrs[i].name;
    return "?";
}

sn_err
sn_peercert_rule_make(const char *attr, const char *pattern,
                      struct sn_subject_rule *out)
{
    size_t i, len;

    memset(out, 0, sizeof(*out));
    if (attr == NULL || pattern == NULL)
        return SN_ERR_INVALID;
    for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
        if (strcmp(attrs[i].name, attr) == 0)
            break;
    if (i == sizeof(attrs) / sizeof(attrs[0]))
        return SN_ERR_INVALID;
    len = strlen(pattern);
    if (len == 0 || len > SN_PEERCERT_PATTERN_MAX)
        return SN_ERR_INVALID;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)pattern[i];

        if (c < 0x20 || c > 0x7e || (c == '*' && i != len - 1))
            return SN_ERR_INVALID;
    }
    /* A lone '*' would match any value: say what to match. */
    if (strcmp(pattern, "*") == 0)
        return SN_ERR_INVALID;
    out->nid = attrs[0].nid;
    for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
        if (strcmp(attrs[i].name, attr) == 0)
            out->nid = attrs[i].nid;
    memcpy(out->pattern, pattern, len + 1);
    return SN_OK;
}

sn_err
sn_peercert_rules_format(const struct sn_subject_rule *rules, size_t n,
                         char *out, size_t outlen)
{
    size_t i, off = 0;
    int w;

    if (outlen == 0)
        return SN_ERR_LIMIT;
    out[0] = '\0';
    for (i = 0; i < n; i++) {
        w = snprintf(out + off, outlen - off, "%s=%s\n",
                     sn_peercert_rule_attr(&rules[i]), rules[i].pattern);
        if (w < 0 || (size_t)w >= outlen - off) {
            out[0] = '\0';
            return SN_ERR_LIMIT;
        }
        off += (size_t)w;
    }
    return SN_OK;
}

sn_err
sn_peercert_rules_parse(const char *text, struct sn_subject_rule *rules,
                        size_t *n)
{
    char attr[16], pattern[SN_PEERCERT_PATTERN_MAX + 1];
    const char *p = text, *eq, *nl;
    sn_err r;

    *n = 0;
    while (*p != '\0') {
        if ((nl = strchr(p, '\n')) == NULL ||
            (eq = memchr(p, '=', (size_t)(nl - p))) == NULL ||
            (size_t)(eq - p) >= sizeof(attr) ||
            (size_t)(nl - eq - 1) >= sizeof(pattern) ||
            *n == SN_PEERCERT_MAX_RULES)
            return SN_ERR_INVALID;
        memcpy(attr, p, (size_t)(eq - p));
        attr[eq - p] = '\0';
        memcpy(pattern, eq + 1, (size_t)(nl - eq - 1));
        pattern[nl - eq - 1] = '\0';
        if ((r = sn_peercert_rule_make(attr, pattern, &rules[*n])) != SN_OK)
            return r;
        (*n)++;
        p = nl + 1;
    }
    return *n > 0 ? SN_OK : SN_ERR_INVALID;
}

/* The one value of type nid in name, as UTF-8 (malloc'd by OpenSSL), or
 * NULL if there is none, more than one, or it holds a NUL. */
static unsigned char *
one_value(const X509_NAME *name, int nid, int *len)
{
    const X509_NAME_ENTRY *e;
    unsigned char *u = NULL;
    int i;

    *len = 0;
    if ((i = X509_NAME_get_index_by_NID(name, nid, -1)) < 0 ||
        X509_NAME_get_index_by_NID(name, nid, i) >= 0)
        return NULL;
    e = X509_NAME_get_entry(name, i);
    if (e == NULL ||
        (*len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e))) < 0)
        return NULL;
    if (memchr(u, '\0', (size_t)*len) != NULL) {
        OPENSSL_free(u);
        return NULL;
    }
    return u;
}

static int
rule_match(const X509_NAME *name, const struct sn_subject_rule *r)
{
    size_t plen = strlen(r->pattern);
    unsigned char *v;
    int len, ok = 0;

    if ((v = one_value(name, r->nid, &len)) == NULL)
        return 0;
    if (plen > 0 && r->pattern[plen - 1] == '*')
        ok = (size_t)len >= plen - 1 && memcmp(v, r->pattern, plen - 1) == 0;
    else
        ok = (size_t)len == plen && memcmp(v, r->pattern, plen) == 0;
    OPENSSL_free(v);
    return ok;
}

int
sn_peercert_rules_match(const X509 *x, const struct sn_subject_rule *rules,
                        size_t n)
{
    const X509_NAME *name = X509_get_subject_name(x);
    size_t i;

    if (name == NULL || n == 0)
        return 0;
    for (i = 0; i < n; i++)
        if (!rule_match(name, &rules[i]))
            return 0;
    return 1;
}

/* ---- presented chains ---- */

sn_err
sn_peercert_chain_parse(const uint8_t *const *der, const size_t *len, size_t n,
                        STACK_OF(X509) **chain)
{
    STACK_OF(X509) *sk = NULL;
    const unsigned char *p;
    X509 *x = NULL;
    size_t i;
    sn_err r = SN_ERR_INVALID;

    *chain = NULL;
    if (n == 0 || n > SN_PEERCERT_MAX_CHAIN)
        return SN_ERR_INVALID;
    if ((sk = sk_X509_new_null()) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (len[i] == 0 || len[i] > SN_PEERCERT_MAX_DER)
            goto out;
        p = der[i];
        /* Exactly the certificate: no trailing octets. */
        if ((x = d2i_X509(NULL, &p, (long)len[i])) == NULL ||
            p != der[i] + len[i])
            goto out;
        if (!sk_X509_push(sk, x)) {
            r = SN_ERR_NOMEM;
            goto out;
        }
        x = NULL;
    }
    *chain = sk;
    sk = NULL;
    r = SN_OK;
out:
    ERR_clear_error();
    X509_free(x);
    sk_X509_pop_free(sk, X509_free);
    return r;
}

enum sn_peercert_fault
sn_peercert_check_leaf(X509 *leaf, time_t now)
{
    time_t nb, na;

    if (sn_x509_validity(leaf, &nb, &na) != SN_OK)
        return SN_PEERCERT_MALFORMED;
    if (now < nb)
        return SN_PEERCERT_NOT_YET_VALID;
    if (now > na)
        return SN_PEERCERT_EXPIRED;
    /* Extended key usage and key usage, if present, allow a TLS client. */
    if (X509_check_purpose(leaf, X509_PURPOSE_SSL_CLIENT, 0) != 1) {
        ERR_clear_error();
        return SN_PEERCERT_PURPOSE;
    }
    return SN_PEERCERT_OK;
}

/* The verifier's answer as a fault. */
static enum sn_peercert_fault
verify_fault(int err)
{
    switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return SN_PEERCERT_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return SN_PEERCERT_NOT_YET_VALID;
    case X509_V_ERR_INVALID_PURPOSE:
        return SN_PEERCERT_PURPOSE;
    default:
        return SN_PEERCERT_UNTRUSTED;
    }
}

enum sn_peercert_fault
sn_peercert_check_ca(STACK_OF(X509) *chain, X509 *ca, time_t now,
                     const struct sn_subject_rule *rules, size_t nrules)
{
    enum sn_peercert_fault f = SN_PEERCERT_UNTRUSTED;
    STACK_OF(X509) *untrusted = NULL;
    X509_STORE_CTX *ctx = NULL;
    X509_STORE *store = NULL;
    X509_VERIFY_PARAM *vp;
    X509 *leaf;
    int i;

    if (chain == NULL || sk_X509_num(chain) < 1)
        return SN_PEERCERT_MALFORMED;
    leaf = sk_X509_value(chain, 0);
    /* Its own leaf check first: an expired leaf says so. */
    if ((f = sn_peercert_check_leaf(leaf, now)) != SN_PEERCERT_OK)
        return f;
    f = SN_PEERCERT_UNTRUSTED;
    if ((store = X509_STORE_new()) == NULL ||
        X509_STORE_add_cert(store, ca) != 1 ||
        (untrusted = sk_X509_new_null()) == NULL ||
        (ctx = X509_STORE_CTX_new()) == NULL)
        goto out;
    for (i = 1; i < sk_X509_num(chain); i++)
        if (!sk_X509_push(untrusted, sk_X509_value(chain, i)))
            goto out;
    if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1)
        goto out;
    vp = X509_STORE_CTX_get0_param(ctx);
    /* The registered CA is the anchor even if it is an intermediate. */
    X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_PARTIAL_CHAIN |
                                        X509_V_FLAG_X509_STRICT |
                                        X509_V_FLAG_USE_CHECK_TIME);
    X509_VERIFY_PARAM_set_time(vp, now);
    X509_VERIFY_PARAM_set_depth(vp, SN_PEERCERT_MAX_CHAIN);
    if (X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) != 1)
        goto out;
    if (X509_verify_cert(ctx) != 1) {
        f = verify_fault(X509_STORE_CTX_get_error(ctx));
        goto out;
    }
    f = sn_peercert_rules_match(leaf, rules, nrules) ? SN_PEERCERT_OK
                                                     : SN_PEERCERT_SUBJECT;
out:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    /* The stack borrowed the chain's certificates. */
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    return f;
}

time_t
sn_peercert_not_after(STACK_OF(X509) *chain)
{
    time_t nb, na, min = 0;
    int i;

    for (i = 0; i < sk_X509_num(chain); i++) {
        if (sn_x509_validity(sk_X509_value(chain, i), &nb, &na) != SN_OK)
            return 0;
        if (min == 0 || na < min)
            min = na;
    }
    return min;
}
