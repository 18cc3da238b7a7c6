/*
 * keypolicy: parsing, canonical JSON and the decision of a signing policy
 * (see keypolicy.h). The body is untrusted: every field is checked for
 * type, length and range, and an unknown field is refused, so a typo
 * ("soruce_cidrs") is an error rather than a rule silently not applied.
 */
#include "policy/keypolicy.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *
sn_kp_rule_name(enum sn_kp_rule r)
{
    switch (r) {
#define SN_KP_STR(c, n)                                                        \
    case c:                                                                    \
        return n;
        SN_KP_RULES(SN_KP_STR)
#undef SN_KP_STR
    }
    return "policy";
}

static sn_err bad(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sn_err
bad(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && len > 0) {
        va_start(ap, fmt);
        vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return SN_ERR_INVALID;
}

/* ---- addresses ---- */

static int
all_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return n > 0;
}

/* A numeric address into 16 bytes (IPv4 mapped); 4 or 6, 0 if none. */
static int
addr_parse(const char *s, uint8_t out[16])
{
    uint8_t v4[4];

    if (inet_pton(AF_INET, s, v4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, v4, 4);
        return 4;
    }
    if (inet_pton(AF_INET6, s, out) == 1)
        return 6;
    return 0;
}

sn_err
sn_cidr_parse(const char *s, struct sn_cidr *out)
{
    char host[INET6_ADDRSTRLEN];
    const char *slash;
    unsigned bits = 0, max, i;
    size_t hl, pl;
    int fam;

    memset(out, 0, sizeof(*out));
    if (s == NULL || (slash = strchr(s, '/')) == NULL)
        return SN_ERR_INVALID;
    hl = (size_t)(slash - s);
    pl = strlen(slash + 1);
    if (hl == 0 || hl >= sizeof(host) || !all_digits(slash + 1, pl) || pl > 3 ||
        (pl > 1 && slash[1] == '0'))
        return SN_ERR_INVALID;
    memcpy(host, s, hl);
    host[hl] = '\0';
    for (i = 0; i < pl; i++)
        bits = bits * 10 + (unsigned)(slash[1 + i] - '0');
    if ((fam = addr_parse(host, out->addr)) == 0)
        return SN_ERR_INVALID;
    max = fam == 4 ? 32 : 128;
    if (bits > max)
        return SN_ERR_INVALID;
    out->bits = fam == 4 ? bits + 96 : bits;
    /* No host bits: "10.1.2.3/8" is a mistake, not 10.0.0.0/8. */
    for (i = out->bits; i < 128; i++)
        if (out->addr[i / 8] & (0x80u >> (i % 8))) {
            memset(out, 0, sizeof(*out));
            return SN_ERR_INVALID;
        }
    return SN_OK;
}

static int
is_mapped(const uint8_t a[16])
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};

    return memcmp(a, prefix, sizeof(prefix)) == 0;
}

int
sn_cidr_match(const struct sn_cidr *c, const char *addr)
{
    uint8_t a[16];
    unsigned full, rest;

    if (addr == NULL || addr_parse(addr, a) == 0)
        return 0;
    full = c->bits / 8;
    rest = c->bits % 8;
    if (memcmp(a, c->addr, full) != 0)
        return 0;
    if (rest != 0) {
        uint8_t mask = (uint8_t)(0xffu << (8 - rest));

        if ((a[full] & mask) != (c->addr[full] & mask))
            return 0;
    }
    return 1;
}

void
sn_cidr_format(const struct sn_cidr *c, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "";

    if (is_mapped(c->addr) && c->bits >= 96) {
        inet_ntop(AF_INET, c->addr + 12, host, sizeof(host));
        snprintf(buf, len, "%s/%u", host, c->bits - 96);
    } else {
        inet_ntop(AF_INET6, c->addr, host, sizeof(host));
        snprintf(buf, len, "%s/%u", host, c->bits);
    }
}

/* ---- time windows ---- */

static const char *const day_names[7] = {"sun", "mon", "tue", "wed",
                                         "thu", "fri", "sat"};

/* "HH:MM" exactly, 00:00..23:59, or 24:00 where end is set. */
static int
minutes_parse(const char *s, int end, unsigned *out)
{
    unsigned h, m;

    if (strlen(s) != 5 || s[2] != ':' || !all_digits(s, 2) ||
        !all_digits(s + 3, 2))
        return 0;
    h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (!end || m != 0)))
        return 0;
    *out = h * 60 + m;
    return 1;
}

int
sn_window_match(const struct sn_window *w, time_t t)
{
    struct tm tm;
    unsigned min;

    if (gmtime_r(&t, &tm) == NULL)
        return 0;
    min = (unsigned)(tm.tm_hour * 60 + tm.tm_min);
    return (w->days & (1u << tm.tm_wday)) != 0 && min >= w->from && min < w->to;
}

/* ---- parsing ---- */

/* Each key of o must be one of names (NULL-terminated). */
static sn_err
only_fields(json_t *o, const char *where, const char *const *names, char *why,
            size_t len)
{
    const char *k;
    json_t *v;
    size_t i;

    json_object_foreach(o, k, v)
    {
        for (i = 0; names[i] != NULL; i++)
            if (strcmp(k, names[i]) == 0)
                break;
        (void)v;
        if (names[i] == NULL)
            return bad(why, len, "%s%.64s: unknown field", where, k);
    }
    return SN_OK;
}

static int
id_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n >= SN_UUID_LEN)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return 0;
    return 1;
}

static sn_err
id_list(json_t *a, const char *field, char (*ids)[SN_UUID_LEN], size_t *n,
        char *why, size_t len)
{
    size_t i;
    json_t *v;

    if (a == NULL)
        return SN_OK;
    if (!json_is_array(a))
        return bad(why, len, "principals.%s: expected an array of ids", field);
    if (json_array_size(a) > SN_KP_MAX_IDS)
        return bad(why, len, "principals.%s: at most %d ids", field,
                   SN_KP_MAX_IDS);
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || !id_ok(json_string_value(v)))
            return bad(why, len,
                       "principals.%s[%zu]: expected an id (letters, digits, "
                       "'-', '_'; at most %d)",
                       field, i, SN_UUID_LEN - 1);
        snprintf(ids[i], SN_UUID_LEN, "%s", json_string_value(v));
    }
    *n = json_array_size(a);
    return SN_OK;
}

static sn_err
parse_principals(json_t *o, struct sn_keypolicy *kp, char *why, size_t len)
{
    static const char *const names[] = {"tokens", "trust_policies",
                                        "client_certs", "accounts", NULL};
    sn_err r;

    if (!json_is_object(o))
        return bad(why, len, "principals: expected an object");
    if ((r = only_fields(o, "principals.", names, why, len)) != SN_OK ||
        (r = id_list(json_object_get(o, "tokens"), "tokens", kp->tokens,
                     &kp->ntokens, why, len)) != SN_OK ||
        (r = id_list(json_object_get(o, "trust_policies"), "trust_policies",
                     kp->trust_policies, &kp->ntrust_policies, why, len)) !=
            SN_OK ||
        (r = id_list(json_object_get(o, "client_certs"), "client_certs",
                     kp->client_certs, &kp->nclient_certs, why, len)) !=
            SN_OK ||
        (r = id_list(json_object_get(o, "accounts"), "accounts", kp->accounts,
                     &kp->naccounts, why, len)) != SN_OK)
        return r;
    if (kp->ntokens + kp->ntrust_policies + kp->nclient_certs + kp->naccounts ==
        0)
        return bad(why, len,
                   "principals: lists no principal (nobody could sign); omit "
                   "it to allow every principal of the subscriber");
    kp->has_principals = 1;
    return SN_OK;
}

static sn_err
parse_cidrs(json_t *a, struct sn_keypolicy *kp, char *why, size_t len)
{
    size_t i;
    json_t *v;

    if (!json_is_array(a) || json_array_size(a) == 0)
        return bad(why, len,
                   "source_cidrs: expected a non-empty array of ranges such "
                   "as \"10.0.0.0/8\" (omit it to allow any address)");
    if (json_array_size(a) > SN_KP_MAX_CIDRS)
        return bad(why, len, "source_cidrs: at most %d ranges",
                   SN_KP_MAX_CIDRS);
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) ||
            sn_cidr_parse(json_string_value(v), &kp->cidrs[i]) != SN_OK)
            return bad(why, len,
                       "source_cidrs[%zu]: expected ADDRESS/PREFIX with no "
                       "host bits set (\"10.0.0.0/8\", \"::1/128\")",
                       i);
    }
    kp->ncidrs = json_array_size(a);
    return SN_OK;
}

static sn_err
parse_days(json_t *a, size_t wi, struct sn_window *w, char *why, size_t len)
{
    size_t i, d;
    json_t *v;

    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 7)
        return bad(why, len,
                   "windows[%zu].days: expected 1 to 7 of \"mon\" .. \"sun\"",
                   wi);
    json_array_foreach(a, i, v)
    {
        for (d = 0; d < 7 && json_is_string(v); d++)
            if (strcmp(json_string_value(v), day_names[d]) == 0)
                break;
        if (!json_is_string(v) || d == 7 || (w->days & (1u << d)))
            return bad(why, len,
                       "windows[%zu].days[%zu]: expected one of \"mon\" .. "
                       "\"sun\", each once",
                       wi, i);
        w->days |= 1u << d;
    }
    return SN_OK;
}

static sn_err
parse_window(json_t *o, size_t wi, struct sn_window *w, char *why, size_t len)
{
    static const char *const names[] = {"days", "from", "to", "tz", NULL};
    json_t *from, *to, *tz;
    char where[32];
    sn_err r;

    snprintf(where, sizeof(where), "windows[%zu].", wi);
    if (!json_is_object(o))
        return bad(why, len, "windows[%zu]: expected an object", wi);
    if ((r = only_fields(o, where, names, why, len)) != SN_OK ||
        (r = parse_days(json_object_get(o, "days"), wi, w, why, len)) != SN_OK)
        return r;
    from = json_object_get(o, "from");
    to = json_object_get(o, "to");
    tz = json_object_get(o, "tz");
    if (!json_is_string(from) ||
        !minutes_parse(json_string_value(from), 0, &w->from))
        return bad(why, len,
                   "windows[%zu].from: expected \"HH:MM\" (00:00 .. "
                   "23:59)",
                   wi);
    if (!json_is_string(to) || !minutes_parse(json_string_value(to), 1, &w->to))
        return bad(why, len,
                   "windows[%zu].to: expected \"HH:MM\" (00:01 .. "
                   "24:00)",
                   wi);
    if (w->from >= w->to)
        return bad(why, len,
                   "windows[%zu].to: must be later than from (a window over "
                   "midnight is two windows)",
                   wi);
    if (tz != NULL &&
        (!json_is_string(tz) || strcmp(json_string_value(tz), "UTC") != 0))
        return bad(why, len, "windows[%zu].tz: only \"UTC\" is supported", wi);
    return SN_OK;
}

static sn_err
parse_windows(json_t *a, struct sn_keypolicy *kp, char *why, size_t len)
{
    size_t i;
    json_t *v;
    sn_err r;

    if (!json_is_array(a) || json_array_size(a) == 0)
        return bad(why, len,
                   "windows: expected a non-empty array of windows (omit it "
                   "to allow any time)");
    if (json_array_size(a) > SN_KP_MAX_WINDOWS)
        return bad(why, len, "windows: at most %d windows", SN_KP_MAX_WINDOWS);
    json_array_foreach(a, i, v)
    {
        if ((r = parse_window(v, i, &kp->windows[i], why, len)) != SN_OK)
            return r;
    }
    kp->nwindows = json_array_size(a);
    return SN_OK;
}

static sn_err
quota_field(json_t *v, const char *name, uint64_t *out, char *why, size_t len)
{
    json_int_t n;

    if (v == NULL)
        return SN_OK;
    if (!json_is_integer(v) || (n = json_integer_value(v)) < 1 ||
        (uint64_t)n > SN_KP_MAX_QUOTA)
        return bad(why, len, "quota.%s: expected an integer from 1 to %u", name,
                   SN_KP_MAX_QUOTA);
    *out = (uint64_t)n;
    return SN_OK;
}

static sn_err
parse_quota(json_t *o, struct sn_keypolicy *kp, char *why, size_t len)
{
    static const char *const names[] = {"per_hour", "per_day", NULL};
    sn_err r;

    if (!json_is_object(o))
        return bad(why, len, "quota: expected an object");
    if ((r = only_fields(o, "quota.", names, why, len)) != SN_OK ||
        (r = quota_field(json_object_get(o, "per_hour"), "per_hour",
                         &kp->per_hour, why, len)) != SN_OK ||
        (r = quota_field(json_object_get(o, "per_day"), "per_day", &kp->per_day,
                         why, len)) != SN_OK)
        return r;
    if (kp->per_hour == 0 && kp->per_day == 0)
        return bad(why, len, "quota: expected per_hour, per_day or both");
    return SN_OK;
}

/* The approvers: account ids, each once (a repeat would let one person
 * count twice toward `required` in the eyes of a reader of the policy). */
static sn_err
parse_approvers(json_t *a, struct sn_kp_approvals *ap, char *why, size_t len)
{
    size_t i, j;
    json_t *v;

    if (!json_is_array(a) || json_array_size(a) == 0 ||
        json_array_size(a) > SN_KP_MAX_IDS)
        return bad(why, len,
                   "approvals.approvers: expected an array of 1 to %d "
                   "account ids",
                   SN_KP_MAX_IDS);
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || !id_ok(json_string_value(v)))
            return bad(why, len,
                       "approvals.approvers[%zu]: expected an account id "
                       "(letters, digits, '-', '_'; at most %d)",
                       i, SN_UUID_LEN - 1);
        for (j = 0; j < i; j++)
            if (strcmp(ap->approvers[j], json_string_value(v)) == 0)
                return bad(why, len,
                           "approvals.approvers[%zu]: listed twice (as "
                           "approvers[%zu])",
                           i, j);
        snprintf(ap->approvers[i], SN_UUID_LEN, "%s", json_string_value(v));
    }
    ap->napprovers = json_array_size(a);
    return SN_OK;
}

static sn_err
parse_approvals(json_t *o, struct sn_keypolicy *kp, char *why, size_t len)
{
    static const char *const names[] = {"required", "approvers", "expires_in",
                                        NULL};
    struct sn_kp_approvals *ap = &kp->approvals;
    json_t *req, *ttl;
    json_int_t n;
    sn_err r;

    if (!json_is_object(o))
        return bad(why, len, "approvals: expected an object");
    if ((r = only_fields(o, "approvals.", names, why, len)) != SN_OK ||
        (r = parse_approvers(json_object_get(o, "approvers"), ap, why, len)) !=
            SN_OK)
        return r;
    req = json_object_get(o, "required");
    if (!json_is_integer(req) || (n = json_integer_value(req)) < 1 ||
        n > SN_KP_MAX_REQUIRED || (size_t)n > ap->napprovers)
        return bad(why, len,
                   "approvals.required: expected an integer from 1 to %d, "
                   "and at most the number of approvers (%zu)",
                   SN_KP_MAX_REQUIRED, ap->napprovers);
    ap->required = (unsigned)n;
    ap->expires_in = SN_KP_APPROVAL_TTL_DEFAULT;
    if ((ttl = json_object_get(o, "expires_in")) != NULL) {
        if (!json_is_integer(ttl) ||
            (n = json_integer_value(ttl)) < SN_KP_APPROVAL_TTL_MIN ||
            n > SN_KP_APPROVAL_TTL_MAX)
            return bad(why, len,
                       "approvals.expires_in: expected seconds from %d to %d",
                       SN_KP_APPROVAL_TTL_MIN, SN_KP_APPROVAL_TTL_MAX);
        ap->expires_in = (unsigned)n;
    }
    return SN_OK;
}

static sn_err
parse_fields(json_t *j, int key_level, struct sn_keypolicy *kp, char *why,
             size_t len)
{
    /* Principals and approvers name a key's users: not a default's. */
    static const char *const key_names[] = {
        "principals", "approvals",           "source_cidrs", "windows",
        "quota",      "require_strong_auth", "log_digests",  NULL};
    static const char *const sub_names[] = {
        "source_cidrs",        "windows",     "quota",
        "require_strong_auth", "log_digests", NULL};
    json_t *v;
    sn_err r;

    if (!json_is_object(j))
        return bad(why, len, "expected a JSON object");
    if ((r = only_fields(j, "", key_level ? key_names : sub_names, why, len)) !=
        SN_OK)
        return r;
    if ((v = json_object_get(j, "approvals")) != NULL &&
        (r = parse_approvals(v, kp, why, len)) != SN_OK)
        return r;
    if ((v = json_object_get(j, "principals")) != NULL &&
        (r = parse_principals(v, kp, why, len)) != SN_OK)
        return r;
    if ((v = json_object_get(j, "source_cidrs")) != NULL &&
        (r = parse_cidrs(v, kp, why, len)) != SN_OK)
        return r;
    if ((v = json_object_get(j, "windows")) != NULL &&
        (r = parse_windows(v, kp, why, len)) != SN_OK)
        return r;
    if ((v = json_object_get(j, "quota")) != NULL &&
        (r = parse_quota(v, kp, why, len)) != SN_OK)
        return r;
    if ((v = json_object_get(j, "require_strong_auth")) != NULL) {
        if (!json_is_boolean(v))
            return bad(why, len, "require_strong_auth: expected true or false");
        kp->strong = json_is_true(v);
    }
    if ((v = json_object_get(j, "log_digests")) != NULL) {
        const char *s = json_string_value(v);

        if (s == NULL ||
            (strcmp(s, "clear") != 0 && strcmp(s, "commitment") != 0))
            return bad(why, len,
                       "log_digests: expected \"clear\" or \"commitment\"");
        kp->commit_digests = strcmp(s, "commitment") == 0;
    }
    return SN_OK;
}

sn_err
sn_keypolicy_parse(json_t *j, int key_level, struct sn_keypolicy *out,
                   char *why, size_t whylen)
{
    sn_err r;

    memset(out, 0, sizeof(*out));
    out->strong = -1;
    if (why != NULL && whylen > 0)
        why[0] = '\0';
    if ((r = parse_fields(j, key_level, out, why, whylen)) != SN_OK) {
        memset(out, 0, sizeof(*out));
        out->strong = -1;
    }
    return r;
}

sn_err
sn_keypolicy_parse_text(const char *text, size_t len, int key_level,
                        struct sn_keypolicy *out, char *why, size_t whylen)
{
    json_error_t e;
    json_t *j;
    sn_err r;

    memset(out, 0, sizeof(*out));
    out->strong = -1;
    if ((j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e)) == NULL)
        return bad(why, whylen, "not valid JSON");
    r = sn_keypolicy_parse(j, key_level, out, why, whylen);
    json_decref(j);
    return r;
}

/* ---- canonical JSON ---- */

static json_t *
ids_json(const char (*ids)[SN_UUID_LEN], size_t n)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < n; i++)
        json_array_append_new(a, json_string(ids[i]));
    return a;
}

static json_t *
window_json(const struct sn_window *w)
{
    char from[16], to[16];
    json_t *days = json_array();
    unsigned d;

    /* Monday first, as people write weeks. */
    for (d = 1; days != NULL && d <= 7; d++)
        if (w->days & (1u << (d % 7)))
            json_array_append_new(days, json_string(day_names[d % 7]));
    snprintf(from, sizeof(from), "%02u:%02u", w->from / 60, w->from % 60);
    snprintf(to, sizeof(to), "%02u:%02u", w->to / 60, w->to % 60);
    return json_pack("{s:o, s:s, s:s, s:s}", "days", days, "from", from, "to",
                     to, "tz", "UTC");
}

static void
add_lists(json_t *o, const struct sn_keypolicy *kp)
{
    char buf[64];
    json_t *a;
    size_t i;

    if (kp->ncidrs > 0 && (a = json_array()) != NULL) {
        for (i = 0; i < kp->ncidrs; i++) {
            sn_cidr_format(&kp->cidrs[i], buf, sizeof(buf));
            json_array_append_new(a, json_string(buf));
        }
        json_object_set_new(o, "source_cidrs", a);
    }
    if (kp->nwindows > 0 && (a = json_array()) != NULL) {
        for (i = 0; i < kp->nwindows; i++)
            json_array_append_new(a, window_json(&kp->windows[i]));
        json_object_set_new(o, "windows", a);
    }
}

json_t *
sn_keypolicy_json(const struct sn_keypolicy *kp)
{
    json_t *o = json_object(), *q;

    if (o == NULL)
        return NULL;
    if (kp->has_principals)
        json_object_set_new(
            o, "principals",
            json_pack("{s:o, s:o, s:o, s:o}", "tokens",
                      ids_json(kp->tokens, kp->ntokens), "trust_policies",
                      ids_json(kp->trust_policies, kp->ntrust_policies),
                      "client_certs",
                      ids_json(kp->client_certs, kp->nclient_certs), "accounts",
                      ids_json(kp->accounts, kp->naccounts)));
    add_lists(o, kp);
    if ((kp->per_hour != 0 || kp->per_day != 0) &&
        (q = json_object()) != NULL) {
        if (kp->per_hour != 0)
            json_object_set_new(q, "per_hour",
                                json_integer((json_int_t)kp->per_hour));
        if (kp->per_day != 0)
            json_object_set_new(q, "per_day",
                                json_integer((json_int_t)kp->per_day));
        json_object_set_new(o, "quota", q);
    }
    if (kp->strong >= 0)
        json_object_set_new(o, "require_strong_auth", json_boolean(kp->strong));
    if (kp->commit_digests)
        json_object_set_new(o, "log_digests", json_string("commitment"));
    if (kp->approvals.required > 0)
        json_object_set_new(o, "approvals",
                            json_pack("{s:i, s:o, s:i}", "required",
                                      (int)kp->approvals.required, "approvers",
                                      ids_json(kp->approvals.approvers,
                                               kp->approvals.napprovers),
                                      "expires_in",
                                      (int)kp->approvals.expires_in));
    return o;
}

/* ---- the decision ---- */

static enum sn_verdict kp_deny(struct sn_kp_verdict *v, enum sn_kp_rule rule,
                               const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum sn_verdict
kp_deny(struct sn_kp_verdict *v, enum sn_kp_rule rule, const char *fmt, ...)
{
    va_list ap;

    v->verdict = SN_POLICY_DENY;
    v->rule = rule;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof(v->message), fmt, ap);
    va_end(ap);
    return SN_POLICY_DENY;
}

static int
listed(const char (*ids)[SN_UUID_LEN], size_t n, const char *id)
{
    size_t i;

    for (i = 0; id[0] != '\0' && i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return 1;
    return 0;
}

/* The principal is named in the policy by how it proved itself: a static
 * token by its id, an OIDC exchange by its trust policy, a client
 * certificate by its registration. */
static int
principal_listed(const struct sn_keypolicy *kp, const struct sn_principal *p)
{
    switch (p->method) {
    case SN_AUTH_BEARER:
        return listed(kp->tokens, kp->ntokens, p->id);
    case SN_AUTH_OIDC:
        return listed(kp->trust_policies, kp->ntrust_policies, p->via);
    case SN_AUTH_MTLS:
        return listed(kp->client_certs, kp->nclient_certs, p->via);
    case SN_AUTH_SESSION:
        return listed(kp->accounts, kp->naccounts, p->via);
    }
    return 0;
}

static int
source_ok(const struct sn_keypolicy *kp, const char *client)
{
    size_t i;

    for (i = 0; i < kp->ncidrs; i++)
        if (sn_cidr_match(&kp->cidrs[i], client))
            return 1;
    return kp->ncidrs == 0;
}

static int
time_ok(const struct sn_keypolicy *kp, time_t now)
{
    size_t i;

    for (i = 0; i < kp->nwindows; i++)
        if (sn_window_match(&kp->windows[i], now))
            return 1;
    return kp->nwindows == 0;
}

enum sn_verdict
sn_keypolicy_decide(const struct sn_keypolicy *kp, int strong_default,
                    const struct sn_principal *p, const char *client,
                    time_t now, struct sn_kp_verdict *v)
{
    int strong = kp != NULL && kp->strong >= 0 ? kp->strong : strong_default;

    memset(v, 0, sizeof(*v));
    if (kp != NULL && kp->has_principals && !principal_listed(kp, p))
        return kp_deny(v, SN_KP_PRINCIPALS,
                       "this key's policy does not list this principal");
    /* A person's session is strong once it proved a second factor. */
    if (strong && (p->method == SN_AUTH_BEARER ||
                   (p->method == SN_AUTH_SESSION && !p->mfa)))
        return kp_deny(v, SN_KP_STRONG_AUTH,
                       "this key requires strong authentication: sign with "
                       "an OIDC-exchanged token, a registered client "
                       "certificate or a login session with a second "
                       "factor, not a static API token");
    if (kp != NULL && !source_ok(kp, client))
        return kp_deny(v, SN_KP_SOURCE,
                       "the client address %.64s is outside this key's "
                       "source_cidrs",
                       client != NULL ? client : "");
    if (kp != NULL && !time_ok(kp, now))
        return kp_deny(v, SN_KP_WINDOW,
                       "signing with this key is outside its time windows "
                       "(UTC)");
    v->verdict = SN_POLICY_ALLOW;
    v->rule = SN_KP_ALLOWED;
    return SN_POLICY_ALLOW;
}
