/*
 * Unit tests for apiclient/oidcreply: the shape check of ID tokens, GitHub
 * Actions' {"value"} answer and the exchange's grant. Each refusal is a
 * case of its own (one character off, a wrong type, too long), and an
 * accepted grant is checked field by field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apiclient/oidcreply.h"

#define JWT "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_"
#define TOK "sn_00000000-0000-0000-0000-000000000000_secret"

static sn_err
check(const char *s)
{
    return sn_idtoken_check(s, strlen(s));
}

static void
test_idtoken_shape(void **state)
{
    char big[SN_IDTOKEN_MAX + 2];
    char trimmed[] = JWT "\r\n \t";

    (void)state;
    assert_int_equal(check(JWT), SN_OK);
    assert_int_equal(check("a.b.c"), SN_OK);
    assert_int_equal(check(""), SN_ERR_INVALID);
    assert_int_equal(check("a.b"), SN_ERR_INVALID);     /* two parts */
    assert_int_equal(check("a.b.c.d"), SN_ERR_INVALID); /* JWE: five */
    assert_int_equal(check(".b.c"), SN_ERR_INVALID);    /* empty header */
    assert_int_equal(check("a..c"), SN_ERR_INVALID);    /* empty payload */
    assert_int_equal(check("a.b."), SN_ERR_INVALID);    /* alg none */
    assert_int_equal(check("a.b.c="), SN_ERR_INVALID);  /* padding */
    assert_int_equal(check("a.b+.c"), SN_ERR_INVALID);  /* base64, not url */
    assert_int_equal(check("a.b.c\n"), SN_ERR_INVALID); /* untrimmed */
    assert_int_equal(check("a.\"b.c"), SN_ERR_INVALID); /* JSON breaker */
    assert_int_equal(sn_idtoken_check(NULL, 3), SN_ERR_INVALID);
    memset(big, 'a', sizeof(big));
    big[1] = '.';
    big[3] = '.';
    assert_int_equal(sn_idtoken_check(big, SN_IDTOKEN_MAX), SN_OK);
    assert_int_equal(sn_idtoken_check(big, SN_IDTOKEN_MAX + 1), SN_ERR_INVALID);
    assert_int_equal(sn_idtoken_trim_check(trimmed), SN_OK);
    assert_string_equal(trimmed, JWT);
}

static sn_err
actions(const char *body, char **jwt)
{
    return sn_oidc_parse_actions((const uint8_t *)body, strlen(body), jwt);
}

static void
test_actions(void **state)
{
    char *jwt = NULL;

    (void)state;
    assert_int_equal(actions("{\"count\":1,\"value\":\"" JWT "\"}", &jwt),
                     SN_OK);
    assert_string_equal(jwt, JWT);
    free(jwt);
    assert_int_equal(actions("{\"value\":\"a.b\"}", &jwt), SN_ERR_INVALID);
    assert_null(jwt);
    assert_int_equal(actions("{\"value\":1}", &jwt), SN_ERR_INVALID);
    assert_int_equal(actions("{\"Value\":\"" JWT "\"}", &jwt), SN_ERR_INVALID);
    assert_int_equal(actions("[\"" JWT "\"]", &jwt), SN_ERR_INVALID);
    assert_int_equal(
        actions("{\"value\":\"" JWT "\",\"value\":\"a.b.c\"}", &jwt),
        SN_ERR_INVALID); /* duplicate keys */
    assert_int_equal(actions("{\"value\":\"" JWT "\"", &jwt), SN_ERR_INVALID);
    assert_int_equal(actions("", &jwt), SN_ERR_INVALID);
    assert_null(jwt);
}

static sn_err
grant(const char *body, struct sn_oidc_grant *g)
{
    return sn_oidc_parse_grant((const uint8_t *)body, strlen(body), g);
}

static void
test_grant(void **state)
{
    struct sn_oidc_grant g;

    (void)state;
    assert_int_equal(grant("{\"token\":\"" TOK "\",\"expires_at\":"
                           "\"2026-12-06T16:30:00Z\",\"keys\":[\"k1\",\"k2\"],"
                           "\"trust_policy\":\"tp-1\"}",
                           &g),
                     SN_OK);
    assert_string_equal(g.token, TOK);
    assert_int_equal(g.expires_at, 1796574600);
    assert_string_equal(g.expires_text, "2026-12-06T16:30:00Z");
    assert_string_equal(g.trust_policy, "tp-1");
    assert_int_equal(g.nkeys, 2);
    sn_oidc_grant_cleanup(&g);
    assert_null(g.token);

    /* Epoch seconds, a policy object, key objects. */
    assert_int_equal(grant("{\"token\":\"" TOK "\",\"expires_at\":1796574600,"
                           "\"keys\":[{\"id\":\"k1\"}],"
                           "\"trust_policy\":{\"id\":\"tp-2\"}}",
                           &g),
                     SN_OK);
    assert_int_equal(g.expires_at, 1796574600);
    assert_string_equal(g.expires_text, "2026-12-06T16:30:00Z");
    assert_string_equal(g.trust_policy, "tp-2");
    assert_int_equal(g.nkeys, 1);
    sn_oidc_grant_cleanup(&g);
}

static void
test_grant_rejects(void **state)
{
    static const char *bad[] = {
        "",
        "[]",
        "{\"expires_at\":1796574600}",                        /* no token */
        "{\"token\":\"" TOK "\"}",                            /* no expiry */
        "{\"token\":\"\",\"expires_at\":1796574600}",         /* empty token */
        "{\"token\":\"sn_a b\",\"expires_at\":1796574600}",   /* space */
        "{\"token\":\"sn_a\\nb\",\"expires_at\":1796574600}", /* newline */
        "{\"token\":1,\"expires_at\":1796574600}",
        "{\"token\":\"" TOK "\",\"expires_at\":\"tomorrow\"}",
        "{\"token\":\"" TOK "\",\"expires_at\":-5}",
        "{\"token\":\"" TOK "\",\"expires_at\":1.5}",
        "{\"token\":\"" TOK "\",\"expires_at\":99999999999999}",
        "{\"token\":\"" TOK "\",\"expires_at\":1796574600,\"keys\":{}}",
        "{\"token\":\"" TOK "\",\"expires_at\":1796574600,"
        "\"trust_policy\":7}",
        "{\"token\":\"" TOK "\",\"expires_at\":1796574600,"
        "\"trust_policy\":\"a\\u0007b\"}",
        "{\"token\":\"" TOK "\",\"token\":\"x\",\"expires_at\":1796574600}",
    };
    struct sn_oidc_grant g;
    char longtok[SN_OIDC_TOKEN_MAX + 64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&g, 0x5a, sizeof(g));
        if (grant(bad[i], &g) != SN_ERR_INVALID)
            fail_msg("accepted: %s", bad[i]);
        assert_null(g.token);
    }
    memset(longtok, 0, sizeof(longtok));
    snprintf(longtok, sizeof(longtok), "{\"token\":\"%0*d\",\"expires_at\":1}",
             SN_OIDC_TOKEN_MAX + 1, 0);
    assert_int_equal(grant(longtok, &g), SN_ERR_INVALID);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idtoken_shape),
        cmocka_unit_test(test_actions),
        cmocka_unit_test(test_grant),
        cmocka_unit_test(test_grant_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
