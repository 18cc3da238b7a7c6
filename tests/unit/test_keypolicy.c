/*
 * test_keypolicy: a key's signing policy (src/policy/keypolicy.c) and its
 * quota counters (src/policy/quota.c). CIDR parsing and matching for IPv4,
 * IPv6 and IPv4-mapped clients and refused input; time windows at their
 * edges; the strict parser naming the field at fault; the decision with
 * principals built for each way of proving (static token, OIDC, mTLS);
 * quota arithmetic, rollover, give-back and exactness under threads;
 * approvals (issue 17): k of n, unique approvers, the wait's bounds.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/keypolicy.h"
#include "policy/quota.h"

/* 2026-12-07 is a Monday; 10:30:00 UTC. */
#define MONDAY_1030 ((time_t)1796639400)

static int
matches(const char *cidr, const char *addr)
{
    struct sn_cidr c;

    assert_int_equal(sn_cidr_parse(cidr, &c), SN_OK);
    return sn_cidr_match(&c, addr);
}

static void
test_cidr_v4(void **state)
{
    (void)state;
    assert_true(matches("10.0.0.0/8", "10.200.3.4"));
    assert_false(matches("10.0.0.0/8", "11.0.0.1"));
    assert_true(matches("127.0.0.0/8", "127.0.0.1"));
    assert_true(matches("192.168.1.128/25", "192.168.1.255"));
    assert_false(matches("192.168.1.128/25", "192.168.1.127"));
    assert_true(matches("0.0.0.0/0", "203.0.113.9"));
    assert_true(matches("203.0.113.9/32", "203.0.113.9"));
    assert_false(matches("203.0.113.9/32", "203.0.113.8"));
    /* A v4 rule does not match a v6 client outside the mapped range. */
    assert_false(matches("0.0.0.0/0", "2001:db8::1"));
}

static void
test_cidr_v6_and_mapped(void **state)
{
    (void)state;
    assert_true(matches("::1/128", "::1"));
    assert_false(matches("::1/128", "::2"));
    assert_true(matches("2001:db8::/32", "2001:db8:ffff::1"));
    assert_false(matches("2001:db8::/32", "2001:db9::1"));
    assert_true(matches("2001:db8::/33", "2001:db8:7fff::1"));
    assert_false(matches("2001:db8::/33", "2001:db8:8000::1"));
    /* A v4 client seen on a dual-stack socket matches the v4 rule. */
    assert_true(matches("127.0.0.0/8", "::ffff:127.0.0.1"));
    assert_false(matches("10.0.0.0/8", "::ffff:127.0.0.1"));
    /* and a mapped rule matches the plain v4 client */
    assert_true(matches("::ffff:10.0.0.0/104", "10.1.2.3"));
    /* ::1 is not 127.0.0.1 */
    assert_false(matches("127.0.0.0/8", "::1"));
    /* an unparsable client matches nothing */
    assert_false(matches("0.0.0.0/0", "localhost"));
    assert_false(matches("::/0", ""));
}

static void
test_cidr_bad(void **state)
{
    static const char *const bad[] = {
        "10.0.0.0",        /* no prefix */
        "10.0.0.0/",       /* empty prefix */
        "10.0.0.0/33",     /* too long */
        "::/129",          /* too long */
        "10.1.2.3/8",      /* host bits */
        "2001:db8::1/32",  /* host bits */
        "10.0.0.0/08",     /* leading zero */
        "10.0.0.0/+8",     /* sign */
        "10.0.0.0/8 ",     /* trailing space */
        " 10.0.0.0/8",     /* leading space */
        "010.0.0.0/8",     /* octal-looking octet */
        "10.0.0/8",        /* three octets */
        "256.0.0.0/8",     /* octet too big */
        "fe80::1%eth0/64", /* zone */
        "10.0.0.0/8/8",    /* two slashes */
        "/8",              /* no address */
        "",
        "1000/8",
        "::ffff:1.2.3.4.5/128",
    };
    struct sn_cidr c;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sn_cidr_parse(bad[i], &c) != SN_ERR_INVALID)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(sn_cidr_parse(NULL, &c), SN_ERR_INVALID);
}

static void
test_cidr_format(void **state)
{
    struct sn_cidr c;
    char buf[64];

    (void)state;
    assert_int_equal(sn_cidr_parse("10.0.0.0/8", &c), SN_OK);
    sn_cidr_format(&c, buf, sizeof(buf));
    assert_string_equal(buf, "10.0.0.0/8");
    assert_int_equal(sn_cidr_parse("2001:0db8:0000::/32", &c), SN_OK);
    sn_cidr_format(&c, buf, sizeof(buf));
    assert_string_equal(buf, "2001:db8::/32");
}

static struct sn_keypolicy
parsed(const char *text, int key_level)
{
    struct sn_keypolicy kp;
    char why[200];

    if (sn_keypolicy_parse_text(text, strlen(text), key_level, &kp, why,
                                sizeof(why)) != SN_OK)
        fail_msg("refused %s: %s", text, why);
    return kp;
}

static void
test_windows(void **state)
{
    struct sn_keypolicy kp;

    (void)state;
    kp = parsed("{\"windows\":[{\"days\":[\"mon\",\"tue\"],\"from\":\"08:00\","
                "\"to\":\"18:00\",\"tz\":\"UTC\"}]}",
                1);
    assert_int_equal(kp.nwindows, 1);
    assert_true(sn_window_match(&kp.windows[0], MONDAY_1030));
    /* edges: from is inside, to is outside */
    assert_true(sn_window_match(&kp.windows[0], MONDAY_1030 - 2.5 * 3600));
    assert_false(sn_window_match(&kp.windows[0], MONDAY_1030 - 2.5 * 3600 - 1));
    assert_true(sn_window_match(&kp.windows[0], MONDAY_1030 + 7.5 * 3600 - 1));
    assert_false(sn_window_match(&kp.windows[0], MONDAY_1030 + 7.5 * 3600));
    /* Wednesday at the same time: not a listed day */
    assert_false(sn_window_match(&kp.windows[0], MONDAY_1030 + 2 * 86400));
    /* Sunday to 24:00 */
    kp = parsed("{\"windows\":[{\"days\":[\"sun\"],\"from\":\"00:00\","
                "\"to\":\"24:00\"}]}",
                1);
    assert_true(sn_window_match(&kp.windows[0], MONDAY_1030 - 86400));
    assert_false(sn_window_match(&kp.windows[0], MONDAY_1030));
    assert_true(sn_window_match(&kp.windows[0], MONDAY_1030 - 10.5 * 3600 - 1));
}

/* A body refused, with the field named in the reason. */
static void
refused(const char *text, int key_level, const char *field)
{
    struct sn_keypolicy kp;
    char why[200];

    if (sn_keypolicy_parse_text(text, strlen(text), key_level, &kp, why,
                                sizeof(why)) != SN_ERR_INVALID)
        fail_msg("accepted %s", text);
    if (strstr(why, field) == NULL)
        fail_msg("%s: reason \"%s\" does not name \"%s\"", text, why, field);
    assert_int_equal(kp.ncidrs + kp.nwindows + kp.ntokens, 0);
    assert_int_equal(kp.approvals.required + kp.approvals.napprovers, 0);
}

static void
test_parse_refusals(void **state)
{
    (void)state;
    refused("[]", 1, "object");
    refused("{\"soruce_cidrs\":[\"10.0.0.0/8\"]}", 1, "soruce_cidrs");
    refused("{\"source_cidrs\":[]}", 1, "source_cidrs");
    refused("{\"source_cidrs\":\"10.0.0.0/8\"}", 1, "source_cidrs");
    refused("{\"source_cidrs\":[\"10.0.0.0/8\",\"10.1.0.0/8\"]}", 1,
            "source_cidrs[1]");
    refused("{\"source_cidrs\":[8]}", 1, "source_cidrs[0]");
    refused("{\"windows\":[{\"days\":[\"mon\"],\"from\":\"8:00\","
            "\"to\":\"18:00\"}]}",
            1, "windows[0].from");
    refused("{\"windows\":[{\"days\":[\"mon\"],\"from\":\"18:00\","
            "\"to\":\"08:00\"}]}",
            1, "windows[0].to");
    refused("{\"windows\":[{\"days\":[\"mon\"],\"from\":\"08:00\","
            "\"to\":\"24:01\"}]}",
            1, "windows[0].to");
    refused("{\"windows\":[{\"days\":[\"mon\",\"mon\"],\"from\":\"08:00\","
            "\"to\":\"09:00\"}]}",
            1, "windows[0].days[1]");
    refused("{\"windows\":[{\"days\":[\"Monday\"],\"from\":\"08:00\","
            "\"to\":\"09:00\"}]}",
            1, "windows[0].days[0]");
    refused("{\"windows\":[{\"days\":[\"mon\"],\"from\":\"08:00\","
            "\"to\":\"09:00\",\"tz\":\"Europe/Paris\"}]}",
            1, "windows[0].tz");
    refused("{\"windows\":[{\"days\":[\"mon\"],\"from\":\"08:00\","
            "\"to\":\"09:00\",\"zone\":\"UTC\"}]}",
            1, "windows[0].zone");
    refused("{\"quota\":{\"per_hour\":0}}", 1, "quota.per_hour");
    refused("{\"quota\":{\"per_hour\":1.5}}", 1, "quota.per_hour");
    refused("{\"quota\":{\"per_day\":-3}}", 1, "quota.per_day");
    refused("{\"quota\":{\"per_day\":10000001}}", 1, "quota.per_day");
    refused("{\"quota\":{}}", 1, "quota");
    refused("{\"quota\":{\"per_minute\":5}}", 1, "quota.per_minute");
    refused("{\"require_strong_auth\":\"yes\"}", 1, "require_strong_auth");
    refused("{\"principals\":{}}", 1, "principals");
    refused("{\"principals\":{\"tokens\":[\"a b\"]}}", 1,
            "principals.tokens[0]");
    refused("{\"principals\":{\"tokens\":\"abc\"}}", 1, "principals.tokens");
    refused("{\"principals\":{\"people\":[\"abc\"]}}", 1, "principals.people");
    /* a subscriber's default names no principals */
    refused("{\"principals\":{\"tokens\":[\"abc\"]}}", 0, "principals");
    refused("{\"a\":1,\"a\":2}", 1, "JSON");
    refused("{\"require_strong_auth\":true", 1, "JSON");
}

static void
test_parse_roundtrip(void **state)
{
    static const char text[] =
        "{\"principals\":{\"tokens\":[\"t-1\"],\"trust_policies\":[\"tp-1\"],"
        "\"client_certs\":[]},\"source_cidrs\":[\"10.0.0.0/8\",\"::1/128\"],"
        "\"windows\":[{\"days\":[\"fri\",\"mon\"],\"from\":\"08:00\","
        "\"to\":\"18:00\",\"tz\":\"UTC\"}],"
        "\"quota\":{\"per_hour\":50,\"per_day\":400},"
        "\"require_strong_auth\":false}";
    struct sn_keypolicy kp = parsed(text, 1), again;
    char *out;
    json_t *j;

    (void)state;
    assert_int_equal(kp.ntokens, 1);
    assert_int_equal(kp.ntrust_policies, 1);
    assert_int_equal(kp.nclient_certs, 0);
    assert_int_equal(kp.ncidrs, 2);
    assert_int_equal(kp.per_hour, 50);
    assert_int_equal(kp.per_day, 400);
    assert_int_equal(kp.strong, 0);
    j = sn_keypolicy_json(&kp);
    out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(strstr(out, "\"days\":[\"mon\",\"fri\"]"));
    again = parsed(out, 1);
    assert_memory_equal(&kp, &again, sizeof(kp));
    free(out);
    json_decref(j);
    kp = parsed("{}", 0);
    assert_int_equal(kp.strong, -1);
    assert_int_equal(kp.has_principals, 0);
}

/*
 * approvals (issue 17): required 1..16 and at most the approvers listed,
 * approvers unique account ids (1..32), expires_in 60..604800 (default a
 * day), nothing else; a key's own policy only. The refusals leave the
 * policy empty and name the field.
 */
static void
test_parse_approvals(void **state)
{
    static const char full[] =
        "{\"approvals\":{\"required\":2,\"approvers\":[\"acct-1\","
        "\"acct-2\",\"acct-3\"],\"expires_in\":3600}}";
    char many[2048], *out;
    struct sn_keypolicy kp, again;
    size_t off, i;
    json_t *j;

    (void)state;
    kp = parsed(full, 1);
    assert_int_equal(kp.approvals.required, 2);
    assert_int_equal(kp.approvals.napprovers, 3);
    assert_string_equal(kp.approvals.approvers[2], "acct-3");
    assert_int_equal(kp.approvals.expires_in, 3600);
    /* The canonical form parses back to the same policy. */
    j = sn_keypolicy_json(&kp);
    out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(strstr(out, "\"approvals\":{\"approvers\":[\"acct-1\","
                                "\"acct-2\",\"acct-3\"],\"expires_in\":3600,"
                                "\"required\":2}"));
    again = parsed(out, 1);
    assert_memory_equal(&kp, &again, sizeof(kp));
    free(out);
    json_decref(j);
    /* expires_in defaults to a day; edges of the bounds are accepted */
    kp = parsed("{\"approvals\":{\"required\":1,\"approvers\":[\"a\"]}}", 1);
    assert_int_equal(kp.approvals.expires_in, 86400);
    kp = parsed("{\"approvals\":{\"required\":1,\"approvers\":[\"a\"],"
                "\"expires_in\":60}}",
                1);
    assert_int_equal(kp.approvals.expires_in, 60);
    kp = parsed("{\"approvals\":{\"required\":1,\"approvers\":[\"a\"],"
                "\"expires_in\":604800}}",
                1);
    assert_int_equal(kp.approvals.expires_in, 604800);
    /* no approvals: required 0 */
    kp = parsed("{\"require_strong_auth\":true}", 1);
    assert_int_equal(kp.approvals.required, 0);

    refused("{\"approvals\":[]}", 1, "approvals");
    refused("{\"approvals\":{\"required\":0,\"approvers\":[\"a\"]}}", 1,
            "approvals.required");
    refused("{\"approvals\":{\"required\":2,\"approvers\":[\"a\"]}}", 1,
            "approvals.required");
    refused("{\"approvals\":{\"required\":\"1\",\"approvers\":[\"a\"]}}", 1,
            "approvals.required");
    refused("{\"approvals\":{\"required\":1.0,\"approvers\":[\"a\"]}}", 1,
            "approvals.required");
    refused("{\"approvals\":{\"approvers\":[\"a\"]}}", 1, "approvals.required");
    refused("{\"approvals\":{\"required\":1,\"approvers\":[]}}", 1,
            "approvals.approvers");
    refused("{\"approvals\":{\"required\":1}}", 1, "approvals.approvers");
    refused("{\"approvals\":{\"required\":1,\"approvers\":\"a\"}}", 1,
            "approvals.approvers");
    refused("{\"approvals\":{\"required\":1,\"approvers\":[\"a\",\"a\"]}}", 1,
            "approvals.approvers[1]");
    refused("{\"approvals\":{\"required\":1,\"approvers\":[\"a/b\"]}}", 1,
            "approvals.approvers[0]");
    refused("{\"approvals\":{\"required\":1,\"approvers\":[7]}}", 1,
            "approvals.approvers[0]");
    refused("{\"approvals\":{\"required\":1,\"approvers\":[\"a\"],"
            "\"expires_in\":59}}",
            1, "approvals.expires_in");
    refused("{\"approvals\":{\"required\":1,\"approvers\":[\"a\"],"
            "\"expires_in\":604801}}",
            1, "approvals.expires_in");
    refused("{\"approvals\":{\"required\":1,\"approvers\":[\"a\"],"
            "\"expires_in\":true}}",
            1, "approvals.expires_in");
    refused("{\"approvals\":{\"required\":1,\"approvers\":[\"a\"],"
            "\"quorum\":1}}",
            1, "approvals.quorum");
    /* a subscriber's default names no approvers */
    refused("{\"approvals\":{\"required\":1,\"approvers\":[\"a\"]}}", 0,
            "approvals");
    /* 17 required of 17 approvers: over the ceiling of 16 */
    off = (size_t)snprintf(many, sizeof(many),
                           "{\"approvals\":{\"required\":17,\"approvers\":[");
    for (i = 0; i < 17; i++)
        off += (size_t)snprintf(many + off, sizeof(many) - off, "%s\"a%zu\"",
                                i ? "," : "", i);
    snprintf(many + off, sizeof(many) - off, "]}}");
    refused(many, 1, "approvals.required");
    /* 33 approvers: over the list's ceiling */
    off = (size_t)snprintf(many, sizeof(many),
                           "{\"approvals\":{\"required\":1,\"approvers\":[");
    for (i = 0; i < 33; i++)
        off += (size_t)snprintf(many + off, sizeof(many) - off, "%s\"a%zu\"",
                                i ? "," : "", i);
    snprintf(many + off, sizeof(many) - off, "]}}");
    refused(many, 1, "approvals.approvers");
}

static struct sn_principal
caller(enum sn_auth_method m, const char *id, const char *via)
{
    struct sn_principal p;

    memset(&p, 0, sizeof(p));
    p.method = m;
    snprintf(p.id, sizeof(p.id), "%s", id);
    snprintf(p.via, sizeof(p.via), "%s", via);
    snprintf(p.subscriber, sizeof(p.subscriber), "sub-a");
    p.roles = SN_ROLE_SIGN;
    return p;
}

static enum sn_kp_rule
rule_of(const struct sn_keypolicy *kp, int strong_default,
        const struct sn_principal *p, const char *client, time_t now)
{
    struct sn_kp_verdict v;
    enum sn_verdict r;

    r = sn_keypolicy_decide(kp, strong_default, p, client, now, &v);
    assert_int_equal(r == SN_POLICY_ALLOW, v.rule == SN_KP_ALLOWED);
    return v.rule;
}

static void
test_decide_strong_auth(void **state)
{
    struct sn_principal bearer = caller(SN_AUTH_BEARER, "tok-1", "");
    struct sn_principal oidc = caller(SN_AUTH_OIDC, "tok-2", "tp-1");
    struct sn_principal mtls = caller(SN_AUTH_MTLS, "", "cc-1");
    struct sn_keypolicy on = parsed("{\"require_strong_auth\":true}", 1);
    struct sn_keypolicy off = parsed("{\"require_strong_auth\":false}", 1);
    struct sn_keypolicy silent = parsed("{}", 1);

    (void)state;
    /* no policy: the instance default decides */
    assert_int_equal(rule_of(NULL, 0, &bearer, "127.0.0.1", MONDAY_1030),
                     SN_KP_ALLOWED);
    assert_int_equal(rule_of(NULL, 1, &bearer, "127.0.0.1", MONDAY_1030),
                     SN_KP_STRONG_AUTH);
    assert_int_equal(rule_of(NULL, 1, &oidc, "127.0.0.1", MONDAY_1030),
                     SN_KP_ALLOWED);
    assert_int_equal(rule_of(NULL, 1, &mtls, "127.0.0.1", MONDAY_1030),
                     SN_KP_ALLOWED);
    /* a policy that says nothing keeps the default; one that says wins */
    assert_int_equal(rule_of(&silent, 1, &bearer, "127.0.0.1", MONDAY_1030),
                     SN_KP_STRONG_AUTH);
    assert_int_equal(rule_of(&off, 1, &bearer, "127.0.0.1", MONDAY_1030),
                     SN_KP_ALLOWED);
    assert_int_equal(rule_of(&on, 0, &bearer, "127.0.0.1", MONDAY_1030),
                     SN_KP_STRONG_AUTH);
    assert_int_equal(rule_of(&on, 0, &oidc, "127.0.0.1", MONDAY_1030),
                     SN_KP_ALLOWED);
    assert_int_equal(rule_of(&on, 0, &mtls, "127.0.0.1", MONDAY_1030),
                     SN_KP_ALLOWED);
}

static void
test_decide_principals_and_rules(void **state)
{
    struct sn_principal t1 = caller(SN_AUTH_BEARER, "tok-1", "");
    struct sn_principal t2 = caller(SN_AUTH_BEARER, "tok-2", "");
    struct sn_principal oidc = caller(SN_AUTH_OIDC, "tok-1", "tp-1");
    struct sn_principal oidc2 = caller(SN_AUTH_OIDC, "tok-9", "tp-2");
    struct sn_principal mtls = caller(SN_AUTH_MTLS, "", "cc-1");
    struct sn_keypolicy kp = parsed(
        "{\"principals\":{\"tokens\":[\"tok-1\"],\"trust_policies\":[\"tp-1\"],"
        "\"client_certs\":[\"cc-1\"]},\"source_cidrs\":[\"10.0.0.0/8\"],"
        "\"windows\":[{\"days\":[\"mon\"],\"from\":\"10:00\",\"to\":"
        "\"11:00\"}]}",
        1);

    (void)state;
    assert_int_equal(rule_of(&kp, 0, &t1, "10.1.1.1", MONDAY_1030),
                     SN_KP_ALLOWED);
    assert_int_equal(rule_of(&kp, 0, &t2, "10.1.1.1", MONDAY_1030),
                     SN_KP_PRINCIPALS);
    assert_int_equal(rule_of(&kp, 0, &oidc, "10.1.1.1", MONDAY_1030),
                     SN_KP_ALLOWED);
    /* a trust policy not listed, even with a listed token id */
    assert_int_equal(rule_of(&kp, 0, &oidc2, "10.1.1.1", MONDAY_1030),
                     SN_KP_PRINCIPALS);
    assert_int_equal(rule_of(&kp, 0, &mtls, "10.1.1.1", MONDAY_1030),
                     SN_KP_ALLOWED);
    assert_int_equal(rule_of(&kp, 0, &t1, "127.0.0.1", MONDAY_1030),
                     SN_KP_SOURCE);
    assert_int_equal(rule_of(&kp, 0, &t1, "10.1.1.1", MONDAY_1030 + 3600),
                     SN_KP_WINDOW);
    /* principals are asked first */
    assert_int_equal(rule_of(&kp, 0, &t2, "127.0.0.1", MONDAY_1030 + 3600),
                     SN_KP_PRINCIPALS);
}

static void
test_quota_arithmetic(void **state)
{
    struct sn_quota *q = NULL;
    unsigned retry;
    time_t now = MONDAY_1030;

    (void)state;
    assert_int_equal(sn_quota_new(0, &q), SN_OK);
    /* no limit: nothing counted */
    assert_int_equal(sn_quota_take(q, "k", 0, 0, 1000, now, &retry),
                     SN_KP_ALLOWED);
    assert_int_equal(sn_quota_take(q, "k", 10, 0, 4, now, &retry),
                     SN_KP_ALLOWED);
    assert_int_equal(sn_quota_take(q, "k", 10, 0, 6, now, &retry),
                     SN_KP_ALLOWED);
    /* a batch that would pass the limit is refused whole */
    assert_int_equal(sn_quota_take(q, "k", 10, 0, 1, now, &retry),
                     SN_KP_QUOTA_HOUR);
    assert_int_equal(retry, 1800);
    /* another key has its own count */
    assert_int_equal(sn_quota_take(q, "k2", 10, 0, 10, now, &retry),
                     SN_KP_ALLOWED);
    /* a give-back makes room again */
    sn_quota_give(q, "k", 3, now);
    assert_int_equal(sn_quota_take(q, "k", 10, 0, 4, now, &retry),
                     SN_KP_QUOTA_HOUR);
    assert_int_equal(sn_quota_take(q, "k", 10, 0, 3, now, &retry),
                     SN_KP_ALLOWED);
    /* the next hour starts at zero; the day keeps counting */
    assert_int_equal(sn_quota_take(q, "k", 10, 25, 10, now + 1800, &retry),
                     SN_KP_ALLOWED);
    assert_int_equal(sn_quota_take(q, "k", 10, 25, 6, now + 5400, &retry),
                     SN_KP_QUOTA_DAY);
    assert_int_equal(retry, 86400 - (10 * 3600 + 1800 + 5400));
    assert_int_equal(sn_quota_take(q, "k", 10, 25, 5, now + 5400, &retry),
                     SN_KP_ALLOWED);
    /* a give-back for an hour that has ended gives the day back only */
    sn_quota_give(q, "k", 5, now);
    assert_int_equal(sn_quota_take(q, "k", 10, 25, 5, now + 5400, &retry),
                     SN_KP_ALLOWED);
    assert_int_equal(sn_quota_take(q, "k", 10, 25, 1, now + 5400, &retry),
                     SN_KP_QUOTA_HOUR);
    /* a batch larger than the limit, and the counts near UINT64_MAX */
    assert_int_equal(sn_quota_take(q, "k3", 5, 0, 6, now, &retry),
                     SN_KP_QUOTA_HOUR);
    assert_int_equal(sn_quota_take(q, "k3", 5, 0, UINT64_MAX, now, &retry),
                     SN_KP_QUOTA_HOUR);
    sn_quota_free(q);
}

static void
test_quota_seed(void **state)
{
    struct sn_quota *q = NULL;
    unsigned retry;

    (void)state;
    assert_int_equal(sn_quota_new(0, &q), SN_OK);
    assert_false(sn_quota_seeded(q, "k"));
    sn_quota_seed(q, "k", MONDAY_1030, 7, 30);
    assert_true(sn_quota_seeded(q, "k"));
    /* a second seed changes nothing */
    sn_quota_seed(q, "k", MONDAY_1030, 0, 0);
    assert_int_equal(sn_quota_take(q, "k", 10, 0, 4, MONDAY_1030, &retry),
                     SN_KP_QUOTA_HOUR);
    assert_int_equal(sn_quota_take(q, "k", 10, 0, 3, MONDAY_1030, &retry),
                     SN_KP_ALLOWED);
    /* the day was seeded with 30: 33 now */
    assert_int_equal(sn_quota_take(q, "k", 0, 40, 8, MONDAY_1030, &retry),
                     SN_KP_QUOTA_DAY);
    assert_int_equal(sn_quota_take(q, "k", 0, 40, 7, MONDAY_1030, &retry),
                     SN_KP_ALLOWED);
    /* a full table refuses rather than counting nothing */
    sn_quota_free(q);
    assert_int_equal(sn_quota_new(1, &q), SN_OK);
    assert_int_equal(sn_quota_take(q, "a", 5, 0, 1, MONDAY_1030, &retry),
                     SN_KP_ALLOWED);
    assert_int_equal(sn_quota_take(q, "b", 5, 0, 1, MONDAY_1030, &retry),
                     SN_KP_QUOTA_HOUR);
    sn_quota_free(q);
}

struct racer {
    struct sn_quota *q;
    unsigned won;
};

static void *
race(void *arg)
{
    struct racer *r = arg;
    unsigned retry, i;

    for (i = 0; i < 2000; i++)
        if (sn_quota_take(r->q, "hot", 5000, 0, (i % 3) + 1, MONDAY_1030,
                          &retry) == SN_KP_ALLOWED)
            r->won += (i % 3) + 1;
    return NULL;
}

/* 8 threads asking for 8 x 4000 signatures of a 5000 quota: exactly 5000
 * are granted (batches of 1 to 3 fill it to the last one). */
static void
test_quota_threads(void **state)
{
    struct racer r[8];
    pthread_t th[8];
    unsigned total = 0, retry;
    size_t i;
    struct sn_quota *q = NULL;

    (void)state;
    assert_int_equal(sn_quota_new(0, &q), SN_OK);
    for (i = 0; i < 8; i++) {
        r[i].q = q;
        r[i].won = 0;
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    for (i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        total += r[i].won;
    }
    assert_true(total <= 5000);
    /* what is left can only be less than a batch of 3 */
    while (sn_quota_take(q, "hot", 5000, 0, 1, MONDAY_1030, &retry) ==
           SN_KP_ALLOWED)
        total++;
    assert_int_equal(total, 5000);
    sn_quota_free(q);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cidr_v4),
        cmocka_unit_test(test_cidr_v6_and_mapped),
        cmocka_unit_test(test_cidr_bad),
        cmocka_unit_test(test_cidr_format),
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_parse_roundtrip),
        cmocka_unit_test(test_parse_approvals),
        cmocka_unit_test(test_decide_strong_auth),
        cmocka_unit_test(test_decide_principals_and_rules),
        cmocka_unit_test(test_quota_arithmetic),
        cmocka_unit_test(test_quota_seed),
        cmocka_unit_test(test_quota_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
