/*
 * Unit tests of the OIDC parsers' edges (issue 16): strict base64url
 * (common/util.c), the header refusals of auth/jwt.c before any key is
 * looked at, and trust-policy rules and matching (auth/trustpol.c). The
 * signature and claim checks are judged end to end against tokens minted
 * by npm jose (tests/integration/test_oidc.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/jwt.h"
#include "auth/trustpol.h"
#include "common/util.h"

static void
test_b64url_strict(void **state)
{
    uint8_t *out = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(sn_b64url_decode("aGk", 3, &out, &len), SN_OK);
    assert_int_equal(len, 2);
    assert_memory_equal(out, "hi", 2);
    free(out);
    /* padding, the standard alphabet, a lone char, non-zero spare bits */
    assert_int_equal(sn_b64url_decode("aGk=", 4, &out, &len), SN_ERR_INVALID);
    assert_int_equal(sn_b64url_decode("a+k", 3, &out, &len), SN_ERR_INVALID);
    assert_int_equal(sn_b64url_decode("aGkxa", 5, &out, &len), SN_ERR_INVALID);
    assert_int_equal(sn_b64url_decode("aGl", 3, &out, &len), SN_ERR_INVALID);
    assert_null(out);
}

/* header.payload.sig with the header JSON h (base64url-encoded here). */
static enum sn_jwt_reason
parse_with_header(const char *h)
{
    char enc[512], tok[700];
    struct sn_jwt *t = NULL;
    enum sn_jwt_reason r;

    sn_b64url_encode((const uint8_t *)h, strlen(h), enc);
    snprintf(tok, sizeof(tok), "%s.e30.AAAA", enc);
    r = sn_jwt_parse(tok, strlen(tok), &t);
    sn_jwt_free(t);
    return r;
}

static void
test_jwt_header(void **state)
{
    char big[SN_JWT_MAX + 2];
    struct sn_jwt *t = NULL;

    (void)state;
    assert_int_equal(parse_with_header("{\"alg\":\"none\",\"kid\":\"a\"}"),
                     SN_JWT_ALG);
    assert_int_equal(parse_with_header("{\"alg\":\"HS256\",\"kid\":\"a\"}"),
                     SN_JWT_ALG);
    assert_int_equal(parse_with_header("{\"alg\":\"RS384\",\"kid\":\"a\"}"),
                     SN_JWT_ALG);
    assert_int_equal(parse_with_header("{\"alg\":\"RS256\"}"), SN_JWT_NO_KID);
    assert_int_equal(
        parse_with_header("{\"alg\":\"RS256\",\"kid\":\"a\",\"jku\":\"x\"}"),
        SN_JWT_HEADER);
    assert_int_equal(
        parse_with_header("{\"alg\":\"RS256\",\"kid\":\"a\",\"crit\":[]}"),
        SN_JWT_HEADER);
    assert_int_equal(
        parse_with_header("{\"alg\":\"RS256\",\"kid\":\"a\",\"alg\":\"x\"}"),
        SN_JWT_BAD_JSON);
    /* ES256 signatures are 64 raw bytes: "AAAA" is 3 */
    assert_int_equal(parse_with_header("{\"alg\":\"ES256\",\"kid\":\"a\"}"),
                     SN_JWT_MALFORMED);
    assert_int_equal(parse_with_header("{\"alg\":\"RS256\",\"kid\":\"a\"}"),
                     SN_JWT_OK);
    memset(big, 'a', sizeof(big));
    assert_int_equal(sn_jwt_parse(big, sizeof(big), &t), SN_JWT_TOO_LARGE);
    assert_null(t);
}

static json_t *
js(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);

    assert_non_null(j);
    return j;
}

static void
test_trust_rules(void **state)
{
    struct sn_trust_rules r;
    char why[256], proof[128];
    json_t *b;

    (void)state;
    b = js("{\"claims\":{},\"keys\":[\"k\"]}");
    assert_int_equal(sn_trust_rules_parse(b, &r, why, sizeof(why)), -1);
    json_decref(b);
    b = js("{\"claims\":{\"environment\":\"rel*\"},\"keys\":[\"k\"]}");
    assert_int_equal(sn_trust_rules_parse(b, &r, why, sizeof(why)), -1);
    json_decref(b);
    b = js("{\"claims\":{\"aud\":\"x\"},\"keys\":[\"k\"]}");
    assert_int_equal(sn_trust_rules_parse(b, &r, why, sizeof(why)), -1);
    json_decref(b);
    b = js("{\"claims\":{\"ref\":\"refs/tags/v*\",\"repository_id\":123},"
           "\"keys\":[\"k\"],\"token_lifetime\":900}");
    assert_int_equal(sn_trust_rules_parse(b, &r, why, sizeof(why)), 0);
    json_decref(b);
    assert_int_equal(r.roles, SN_ROLE_SIGN);
    b = js("{\"ref\":\"refs/tags/v1.2\",\"repository_id\":\"123\"}");
    assert_int_equal(sn_trust_match(r.claims, b), 1);
    sn_trust_proof("https://i", r.claims, b, proof, sizeof(proof));
    assert_string_equal(proof, "iss=https://i sub= ref=refs/tags/v1.2 "
                               "repository_id=123");
    json_decref(b);
    b = js("{\"ref\":\"refs/tags/v1\",\"repository_id\":123}");
    assert_int_equal(sn_trust_match(r.claims, b), 1);
    json_decref(b);
    b = js("{\"ref\":\"refs/heads/v1\",\"repository_id\":\"123\"}");
    assert_int_equal(sn_trust_match(r.claims, b), 0);
    json_decref(b);
    b = js("{\"ref\":\"refs/tags/v1\",\"repository_id\":\"1234\"}");
    assert_int_equal(sn_trust_match(r.claims, b), 0);
    json_decref(b);
    b = js("{\"ref\":\"refs/tags/v1\"}");
    assert_int_equal(sn_trust_match(r.claims, b), 0);
    json_decref(b);
    sn_trust_rules_cleanup(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_strict),
        cmocka_unit_test(test_jwt_header),
        cmocka_unit_test(test_trust_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
