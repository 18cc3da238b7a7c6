/*
 * oidcreply: the OIDC client's pure parsers. Untrusted input: the bytes a
 * CI platform's ID token endpoint or signetd's exchange sends back, and
 * the ID token a file or variable holds. Every length is checked before
 * use; secrets copied out are wiped on every failure path.
 */
#include "apiclient/oidcreply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/util.h"

/* The largest exchange answer worth parsing (a grant with many keys). */
#define GRANT_MAX_REPLY ((size_t)1 << 20)

static int
b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
}

sn_err
sn_idtoken_check(const char *s, size_t len)
{
    size_t i, dots = 0, part = 0;

    if (s == NULL || len == 0 || len > SN_IDTOKEN_MAX)
        return SN_ERR_INVALID;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            /* Every part (header, payload, signature) is non-empty. */
            if (part == 0 || ++dots > 2)
                return SN_ERR_INVALID;
            part = 0;
        } else if (b64url_char(c)) {
            part++;
        } else {
            return SN_ERR_INVALID;
        }
    }
    return dots == 2 && part > 0 ? SN_OK : SN_ERR_INVALID;
}

sn_err
sn_idtoken_trim_check(char *s)
{
    size_t len = strlen(s);

    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' ||
                       s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
    return sn_idtoken_check(s, len);
}

sn_err
sn_oidc_parse_actions(const uint8_t *data, size_t len, char **jwt)
{
    json_t *j = NULL, *v;
    const char *s;
    size_t n;
    sn_err r = SN_ERR_INVALID;

    *jwt = NULL;
    if (data == NULL || len == 0 || len > SN_IDTOKEN_MAX_REPLY)
        goto out;
    j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j) || !json_is_string(v = json_object_get(j, "value")))
        goto out;
    s = json_string_value(v);
    n = json_string_length(v);
    if (sn_idtoken_check(s, n) != SN_OK)
        goto out;
    r = SN_ERR_NOMEM;
    if ((*jwt = strndup(s, n)) == NULL)
        goto out;
    r = SN_OK;
out:
    /* jansson frees without wiping: wipe the token's copy in the tree. */
    sn_oidc_wipe_member(j, "value");
    json_decref(j);
    return r;
}

/* Printable ASCII without spaces, as an Authorization header needs. */
static int
token_text_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > SN_OIDC_TOKEN_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

static int
printable(const char *s, size_t len, size_t max)
{
    size_t i;

    if (len == 0 || len > max)
        return 0;
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* expires_at: RFC 3339 text or whole seconds since the epoch. */
static sn_err
parse_expiry(const json_t *v, struct sn_oidc_grant *g)
{
    json_int_t n;

    if (json_is_string(v)) {
        if (!printable(json_string_value(v), json_string_length(v),
                       sizeof(g->expires_text) - 1) ||
            sn_time_parse(json_string_value(v), &g->expires_at) != SN_OK)
            return SN_ERR_INVALID;
        memcpy(g->expires_text, json_string_value(v),
               json_string_length(v) + 1);
        return SN_OK;
    }
    if (!json_is_integer(v) || (n = json_integer_value(v)) <= 0 ||
        n > (json_int_t)253402300799) /* 9999-12-31T23:59:59Z */
        return SN_ERR_INVALID;
    g->expires_at = (time_t)n;
    sn_time_format(g->expires_at, g->expires_text);
    return SN_OK;
}

/* trust_policy: an id, or an object whose "id" is one; absent is fine. */
static sn_err
parse_policy(const json_t *v, struct sn_oidc_grant *g)
{
    if (v == NULL || json_is_null(v))
        return SN_OK;
    if (json_is_object(v))
        v = json_object_get(v, "id");
    if (!json_is_string(v) ||
        !printable(json_string_value(v), json_string_length(v),
                   SN_OIDC_POLICY_MAX))
        return SN_ERR_INVALID;
    memcpy(g->trust_policy, json_string_value(v), json_string_length(v) + 1);
    return SN_OK;
}

/* keys: an array (of ids or objects); absent or null counts none. */
static sn_err
parse_keys(const json_t *v, struct sn_oidc_grant *g)
{
    if (v == NULL || json_is_null(v))
        return SN_OK;
    if (!json_is_array(v))
        return SN_ERR_INVALID;
    g->nkeys = json_array_size(v);
    return SN_OK;
}

sn_err
sn_oidc_parse_grant(const uint8_t *data, size_t len, struct sn_oidc_grant *out)
{
    struct sn_oidc_grant g;
    json_t *j = NULL, *t = NULL;
    sn_err r = SN_ERR_INVALID;

    memset(out, 0, sizeof(*out));
    memset(&g, 0, sizeof(g));
    if (data == NULL || len == 0 || len > GRANT_MAX_REPLY)
        goto out;
    j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j))
        goto out;
    t = json_object_get(j, "token");
    if (!json_is_string(t) ||
        !token_text_ok(json_string_value(t), json_string_length(t)))
        goto out;
    if (parse_expiry(json_object_get(j, "expires_at"), &g) != SN_OK ||
        parse_policy(json_object_get(j, "trust_policy"), &g) != SN_OK ||
        parse_keys(json_object_get(j, "keys"), &g) != SN_OK)
        goto out;
    r = SN_ERR_NOMEM;
    if ((g.token = strndup(json_string_value(t), json_string_length(t))) ==
        NULL)
        goto out;
    *out = g;
    memset(&g, 0, sizeof(g));
    r = SN_OK;
out:
    sn_oidc_wipe_member(j, "token");
    json_decref(j);
    sn_oidc_grant_cleanup(&g);
    return r;
}

void
sn_oidc_grant_cleanup(struct sn_oidc_grant *g)
{
    sn_secret_free(g->token);
    memset(g, 0, sizeof(*g));
}

void
sn_oidc_wipe_member(json_t *obj, const char *key)
{
    json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;

    /* The string is jansson's own heap copy; writing it is harmless. */
    if (json_is_string(v))
        OPENSSL_cleanse((void *)(uintptr_t)json_string_value(v),
                        json_string_length(v));
}
