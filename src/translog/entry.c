/*
 * entry: canonical field lines. A value is printable ASCII but '%' as
 * itself, every other byte (space, control, non-ASCII, '%') as %XX; empty
 * is "-", a lone "-" is "%2D". One encoding, so one text per record.
 */
#include "translog/entry.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/util.h"

const char *const sn_tlog_entry_names[SN_TE_COUNT] = {
    [SN_TE_TYPE] = "type",
    [SN_TE_TIME] = "time",
    [SN_TE_SUBSCRIBER] = "subscriber",
    [SN_TE_AUDIT_ID] = "audit-id",
    [SN_TE_AUDIT_SHA256] = "audit-sha256",
    [SN_TE_KEY] = "key",
    [SN_TE_SPKI_SHA256] = "spki-sha256",
    [SN_TE_DIGEST_ALG] = "digest-alg",
    [SN_TE_DIGEST] = "digest",
    [SN_TE_SCHEME] = "scheme",
    [SN_TE_SIG_SHA256] = "sig-sha256",
    [SN_TE_PRINCIPAL] = "principal",
    [SN_TE_DETAIL] = "detail",
};

const char *const sn_tlog_audit_names[SN_TA_COUNT] = {
    [SN_TA_ID] = "id",
    [SN_TA_TIME] = "time",
    [SN_TA_SUBSCRIBER] = "subscriber",
    [SN_TA_KEY] = "key",
    [SN_TA_TOKEN] = "token",
    [SN_TA_CLIENT] = "client",
    [SN_TA_ACTION] = "action",
    [SN_TA_DIGEST_ALG] = "digest-alg",
    [SN_TA_DIGEST] = "digest",
    [SN_TA_SCHEME] = "scheme",
    [SN_TA_RESULT] = "result",
    [SN_TA_DETAIL] = "detail",
    [SN_TA_POLICY] = "policy",
    [SN_TA_PRINCIPAL] = "principal",
    [SN_TA_SIG_SHA256] = "sig-sha256",
    [SN_TA_DIGEST_SALT] = "digest-salt",
};

static int
plain(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '%';
}

static sn_err
put_value(struct sn_buf *b, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)v;
    char esc[3];
    size_t run;
    sn_err r;

    if (v == NULL || *v == '\0')
        return sn_buf_append(b, "-", 1);
    if (strcmp(v, "-") == 0)
        return sn_buf_append(b, "%2D", 3);
    while (*p != '\0') {
        for (run = 0; p[run] != '\0' && plain(p[run]); run++)
            ;
        if (run > 0 && (r = sn_buf_append(b, p, run)) != SN_OK)
            return r;
        p += run;
        if (*p == '\0')
            break;
        esc[0] = '%';
        esc[1] = hex[*p >> 4];
        esc[2] = hex[*p & 15];
        if ((r = sn_buf_append(b, esc, 3)) != SN_OK)
            return r;
        p++;
    }
    return SN_OK;
}

sn_err
sn_tlog_canon(struct sn_buf *out, const char *header, const char *const *names,
              const char *const *values, size_t n)
{
    size_t i;
    sn_err r;

    if ((r = sn_buf_append(out, header, strlen(header))) != SN_OK ||
        (r = sn_buf_append(out, "\n", 1)) != SN_OK)
        return r;
    for (i = 0; i < n; i++)
        if ((r = sn_buf_append(out, names[i], strlen(names[i]))) != SN_OK ||
            (r = sn_buf_append(out, " ", 1)) != SN_OK ||
            (r = put_value(out, values[i])) != SN_OK ||
            (r = sn_buf_append(out, "\n", 1)) != SN_OK)
            return r;
    return SN_OK;
}

sn_err
sn_tlog_audit_hash(const char *const values[SN_TA_COUNT], char hex[2 * 32 + 1])
{
    uint8_t md[32];
    unsigned int mdlen = sizeof(md);
    struct sn_buf b;
    sn_err r;

    sn_buf_init(&b, 2 * SN_TLOG_ENTRY_MAX);
    r = sn_tlog_canon(&b, SN_TLOG_AUDIT_HEADER, sn_tlog_audit_names, values,
                      SN_TA_COUNT);
    if (r == SN_OK &&
        !EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL))
        r = SN_ERR_CRYPTO;
    if (r == SN_OK)
        sn_hex_encode(md, sizeof(md), hex);
    sn_buf_cleanup(&b);
    return r;
}

const char *
sn_tlog_entry_type(const char *action, const char *result)
{
    static const struct {
        const char *action, *type;
    } map[] = {
        {"sign", "sign"},
        {"sign_file", "sign"},
        {"key_generate", "key"},
        {"key_destroy", "destroy"},
        {"ca_issue", "cert"},
        {"ca_revoke", "revoke"},
        {"ca_revocation_date", "revoke"},
    };
    size_t i;

    if (strcmp(result, "ok") != 0)
        return "record";
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(action, map[i].action) == 0)
            return map[i].type;
    return "record";
}

sn_err
sn_tlog_commitment(const char *salt_hex, const char *digest_hex, char out[72])
{
    static const char tag[] = "signet-commit/v1\n";
    uint8_t *salt = NULL, *dg = NULL, md[32];
    size_t saltlen = 0, dglen = 0;
    unsigned int mdlen = sizeof(md);
    EVP_MD_CTX *c = NULL;
    sn_err r = SN_ERR_INVALID;

    if (sn_hex_decode(salt_hex, &salt, &saltlen) != SN_OK || saltlen != 32 ||
        sn_hex_decode(digest_hex, &dg, &dglen) != SN_OK || dglen == 0)
        goto out;
    r = SN_ERR_CRYPTO;
    if ((c = EVP_MD_CTX_new()) == NULL ||
        !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(c, tag, sizeof(tag) - 1) ||
        !EVP_DigestUpdate(c, salt, saltlen) ||
        !EVP_DigestUpdate(c, dg, dglen) || !EVP_DigestFinal_ex(c, md, &mdlen))
        goto out;
    memcpy(out, "commit:", 7);
    sn_hex_encode(md, sizeof(md), out + 7);
    r = SN_OK;
out:
    EVP_MD_CTX_free(c);
    free(salt);
    free(dg);
    return r;
}

/* Unescapes v[0..len) into a new string; SN_ERR_INVALID if it is not in
 * canonical form (so that two texts never mean one record). */
static sn_err
get_value(const char *v, size_t len, char **out)
{
    char *s;
    size_t i, o = 0;
    int hi, lo;

    *out = NULL;
    if (len == 0)
        return SN_ERR_INVALID;
    if ((s = malloc(len + 1)) == NULL)
        return SN_ERR_NOMEM;
    if (len == 1 && v[0] == '-') {
        s[0] = '\0';
        *out = s;
        return SN_OK;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];

        if (c == '%') {
            if (i + 2 >= len)
                goto bad;
            hi = sn_hexval(v[i + 1]);
            lo = sn_hexval(v[i + 2]);
            if (hi < 0 || lo < 0 || (v[i + 1] >= 'a' && v[i + 1] <= 'f') ||
                (v[i + 2] >= 'a' && v[i + 2] <= 'f'))
                goto bad;
            c = (unsigned char)(hi << 4 | lo);
            /* Only what must be escaped may be; NUL never. */
            if (c == 0 || (plain(c) && !(c == '-' && len == 3)))
                goto bad;
            s[o++] = (char)c;
            i += 2;
        } else if (plain(c))
            s[o++] = (char)c;
        else
            goto bad;
    }
    s[o] = '\0';
    *out = s;
    return SN_OK;
bad:
    free(s);
    return SN_ERR_INVALID;
}

sn_err
sn_tlog_parse(const uint8_t *data, size_t len, const char *header,
              const char *const *names, size_t n, char **values)
{
    const char *p = (const char *)data, *end = p + len, *nl, *sp;
    size_t i, hl = strlen(header), nlen;
    sn_err r = SN_OK;

    for (i = 0; i < n; i++)
        values[i] = NULL;
    if (len > SN_TLOG_ENTRY_MAX || len < hl + 1 || memcmp(p, header, hl) != 0 ||
        p[hl] != '\n')
        return SN_ERR_INVALID;
    p += hl + 1;
    for (i = 0; i < n && r == SN_OK; i++) {
        nl = memchr(p, '\n', (size_t)(end - p));
        nlen = strlen(names[i]);
        if (nl == NULL || (size_t)(nl - p) < nlen + 2 ||
            memcmp(p, names[i], nlen) != 0 || p[nlen] != ' ') {
            r = SN_ERR_INVALID;
            break;
        }
        sp = p + nlen + 1;
        r = get_value(sp, (size_t)(nl - sp), &values[i]);
        p = nl + 1;
    }
    if (r == SN_OK && p != end)
        r = SN_ERR_INVALID;
    if (r != SN_OK)
        sn_tlog_values_free(values, n);
    return r;
}

void
sn_tlog_values_free(char **values, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(values[i]);
        values[i] = NULL;
    }
}
