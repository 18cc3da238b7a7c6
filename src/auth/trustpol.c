/*
 * trustpol: trust-policy rules and their matching (see trustpol.h). The
 * rules are untrusted when parsed: names, values and counts are bounded
 * before they are kept.
 */
#include "auth/trustpol.h"

#include <stdio.h>
#include <string.h>

static const char *const registered[] = {"iss", "aud", "exp",
                                         "nbf", "iat", "jti"};

static int
is_numeric_claim(const char *name)
{
    return strcmp(name, "repository_owner_id") == 0 ||
           strcmp(name, "repository_id") == 0;
}

static int
name_ok(const char *n)
{
    size_t i, len = strlen(n);

    if (len == 0 || len > SN_TRUST_NAME_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') ||
              (n[i] >= '0' && n[i] <= '9') || n[i] == '_' || n[i] == '-' ||
              n[i] == '.'))
            return 0;
    for (i = 0; i < sizeof(registered) / sizeof(registered[0]); i++)
        if (strcmp(n, registered[i]) == 0)
            return 0;
    return 1;
}

static int
digits(const char *s)
{
    size_t i, len = strlen(s);

    if (len == 0 || len > 20)
        return 0;
    for (i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* One rule, checked; its value as kept (a string) in *out. */
static int
rule_ok(const char *name, json_t *v, json_t **out, char *why, size_t whylen)
{
    char num[32];
    const char *s;

    *out = NULL;
    if (!name_ok(name)) {
        snprintf(why, whylen,
                 "claim rule names must be 1..%d of [A-Za-z0-9_.-] and not "
                 "a registered claim (iss, aud, exp, nbf, iat, jti)",
                 SN_TRUST_NAME_MAX);
        return -1;
    }
    if (is_numeric_claim(name) && json_is_integer(v) &&
        json_integer_value(v) >= 0) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        *out = json_string(num);
        return *out != NULL ? 0 : -1;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > SN_TRUST_VALUE_MAX ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(why, whylen, "claim '%.64s' must be a string of 1..%d bytes",
                 name, SN_TRUST_VALUE_MAX);
        return -1;
    }
    s = json_string_value(v);
    if (is_numeric_claim(name) && !digits(s)) {
        snprintf(why, whylen, "claim '%.64s' must be decimal digits", name);
        return -1;
    }
    if (strchr(s, '*') != NULL && strcmp(name, "ref") != 0) {
        snprintf(why, whylen,
                 "'*' is allowed only in the 'ref' claim ('%.64s' is "
                 "matched exactly)",
                 name);
        return -1;
    }
    *out = json_incref(v);
    return 0;
}

static int
parse_claims(json_t *claims, json_t **out, char *why, size_t whylen)
{
    json_t *kept = NULL, *v, *k;
    const char *name;

    *out = NULL;
    if (!json_is_object(claims) || json_object_size(claims) == 0 ||
        json_object_size(claims) > SN_TRUST_RULES_MAX) {
        snprintf(why, whylen,
                 "'claims' must be an object of 1..%d rules besides the "
                 "issuer",
                 SN_TRUST_RULES_MAX);
        return -1;
    }
    if ((kept = json_object()) == NULL)
        return -1;
    json_object_foreach(claims, name, v)
    {
        if (rule_ok(name, v, &k, why, whylen) != 0) {
            json_decref(kept);
            return -1;
        }
        json_object_set_new(kept, name, k);
    }
    *out = kept;
    return 0;
}

static int
parse_keys(json_t *keys, struct sn_trust_rules *r, char *why, size_t whylen)
{
    json_t *k;
    size_t i;

    if (!json_is_array(keys) || json_array_size(keys) == 0 ||
        json_array_size(keys) > SN_TOKEN_MAX_KEYS) {
        snprintf(why, whylen, "'keys' must be an array of 1..%d key ids",
                 SN_TOKEN_MAX_KEYS);
        return -1;
    }
    json_array_foreach(keys, i, k)
    {
        if (!json_is_string(k) || json_string_length(k) == 0 ||
            json_string_length(k) >= SN_UUID_LEN) {
            snprintf(why, whylen, "'keys' must hold key ids");
            return -1;
        }
        memcpy(r->keys[i], json_string_value(k), json_string_length(k) + 1);
    }
    r->nkeys = json_array_size(keys);
    return 0;
}

static int
parse_roles(json_t *roles, unsigned *out, char *why, size_t whylen)
{
    json_t *v;
    const char *s;
    size_t i;

    *out = SN_ROLE_SIGN;
    if (roles == NULL)
        return 0;
    *out = 0;
    if (json_is_array(roles) && json_array_size(roles) > 0 &&
        json_array_size(roles) <= 2)
        json_array_foreach(roles, i, v)
        {
            s = json_string_value(v);
            if (s != NULL && strcmp(s, "sign") == 0)
                *out |= SN_ROLE_SIGN;
            else if (s != NULL && strcmp(s, "manage") == 0)
                *out |= SN_ROLE_MANAGE;
            else {
                *out = 0;
                break;
            }
        }
    if (*out == 0) {
        snprintf(why, whylen,
                 "'roles' must be a list of \"sign\" and "
                 "\"manage\"");
        return -1;
    }
    return 0;
}

int
sn_trust_rules_parse(json_t *body, struct sn_trust_rules *out, char *why,
                     size_t whylen)
{
    json_t *lt = json_object_get(body, "token_lifetime");

    memset(out, 0, sizeof(*out));
    if (parse_claims(json_object_get(body, "claims"), &out->claims, why,
                     whylen) != 0 ||
        parse_keys(json_object_get(body, "keys"), out, why, whylen) != 0 ||
        parse_roles(json_object_get(body, "roles"), &out->roles, why, whylen) !=
            0)
        goto bad;
    out->lifetime = SN_TRUST_LIFETIME_DEFAULT;
    if (lt != NULL) {
        if (!json_is_integer(lt) || json_integer_value(lt) < 1 ||
            json_integer_value(lt) > SN_TRUST_LIFETIME_MAX) {
            snprintf(why, whylen, "'token_lifetime' must be 1..%d seconds",
                     SN_TRUST_LIFETIME_MAX);
            goto bad;
        }
        out->lifetime = (time_t)json_integer_value(lt);
    }
    return 0;
bad:
    sn_trust_rules_cleanup(out);
    return -1;
}

void
sn_trust_rules_cleanup(struct sn_trust_rules *r)
{
    json_decref(r->claims);
    memset(r, 0, sizeof(*r));
}

static json_t *
roles_array(unsigned roles)
{
    json_t *a = json_array();

    if (roles & SN_ROLE_SIGN)
        json_array_append_new(a, json_string("sign"));
    if (roles & SN_ROLE_MANAGE)
        json_array_append_new(a, json_string("manage"));
    return a;
}

char *
sn_trust_rules_dump(const struct sn_trust_rules *r)
{
    json_t *keys = json_array(), *o;
    char *s;
    size_t i;

    for (i = 0; i < r->nkeys; i++)
        json_array_append_new(keys, json_string(r->keys[i]));
    o = json_pack("{s:O, s:o, s:o, s:I}", "claims", r->claims, "keys", keys,
                  "roles", roles_array(r->roles), "token_lifetime",
                  (json_int_t)r->lifetime);
    s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return s;
}

/* "*" in pattern matches any run of characters (iterative, linear). */
static int
glob(const char *p, const char *s)
{
    const char *star = NULL, *mark = NULL;

    while (*s != '\0') {
        if (*p == '*') {
            star = p++;
            mark = s;
        } else if (*p == *s) {
            p++;
            s++;
        } else if (star != NULL) {
            p = star + 1;
            s = ++mark;
        } else
            return 0;
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

/* The token's claim as text for matching: strings as they are, and the
 * numeric ids also as JSON integers; NULL otherwise. */
static const char *
claim_text(json_t *claims, const char *name, char *num, size_t numlen)
{
    json_t *v = json_object_get(claims, name);

    if (json_is_string(v) &&
        strlen(json_string_value(v)) == json_string_length(v))
        return json_string_value(v);
    if (is_numeric_claim(name) && json_is_integer(v) &&
        json_integer_value(v) >= 0) {
        snprintf(num, numlen, "%lld", (long long)json_integer_value(v));
        return num;
    }
    return NULL;
}

int
sn_trust_match(json_t *rules, json_t *claims)
{
    const char *name, *have;
    char num[32];
    json_t *v;

    if (!json_is_object(rules) || json_object_size(rules) == 0)
        return 0;
    json_object_foreach(rules, name, v)
    {
        const char *want = json_string_value(v);

        if (want == NULL ||
            (have = claim_text(claims, name, num, sizeof(num))) == NULL)
            return 0;
        if (strcmp(name, "ref") == 0 ? !glob(want, have)
                                     : strcmp(want, have) != 0)
            return 0;
    }
    return 1;
}

/* Appends " name=value" to out, made printable, within outlen. */
static void
append(char *out, size_t outlen, const char *name, const char *value)
{
    size_t off = strlen(out), i;

    if (off + 1 >= outlen)
        return;
    snprintf(out + off, outlen - off, "%s%s=%s", off ? " " : "", name,
             value ? value : "");
    for (i = off ? off + 1 : 0; out[i] != '\0'; i++)
        if ((unsigned char)out[i] < 0x21 || (unsigned char)out[i] > 0x7e)
            out[i] = '?';
}

void
sn_trust_proof(const char *iss, json_t *rules, json_t *claims, char *out,
               size_t outlen)
{
    const char *name;
    char num[32];
    json_t *v;

    if (outlen == 0)
        return;
    out[0] = '\0';
    append(out, outlen, "iss", iss);
    append(out, outlen, "sub",
           json_string_value(json_object_get(claims, "sub")));
    json_object_foreach(rules, name, v)
    {
        (void)v;
        append(out, outlen, name, claim_text(claims, name, num, sizeof(num)));
    }
}
