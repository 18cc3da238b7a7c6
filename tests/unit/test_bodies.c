/*
 * test_bodies: the JSON request body parsers (src/http/bodies.c): one
 * accepted body per route and refusals with the api code and the message
 * clients see. Bodies here stand for untrusted input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/bodies.h"

#define NOW ((time_t)1700000000) /* 2023-11-14T22:13:20Z */
#define KEYID "0b9e4c1a-5f7d-4a2e-9c3b-1d2e3f4a5b6c"
#define SHA256_EMPTY "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

static json_t *
load(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);

    if (j == NULL)
        fail_msg("bad test JSON: %s", jerr.text);
    return j;
}

/* Runs route's parser on text; 1 if accepted. */
static int
parse(int route, const char *text, struct sn_body_fault *f)
{
    struct sn_body_subscriber sub;
    struct sn_body_token tok;
    struct sn_body_key key;
    struct sn_body_sign sign;
    struct sn_body_revoke rev;
    struct sn_body_csr csr;
    struct sn_body_issue iss;
    struct sn_identity id;
    json_t *j = load(text);
    sn_err r = SN_ERR_INTERNAL;

    memset(f, 0, sizeof(*f));
    switch (route) {
    case 0:
        r = sn_body_subscriber(j, &sub, f);
        break;
    case 1:
        r = sn_body_token(j, NOW, &tok, f);
        break;
    case 2:
        r = sn_body_key(j, &key, f);
        break;
    case 3:
        r = sn_body_sign(j, 1, &sign, f);
        sn_body_sign_cleanup(&sign);
        break;
    case 4:
        r = sn_body_sign(j, 0, &sign, f);
        sn_body_sign_cleanup(&sign);
        break;
    case 5:
        r = sn_body_revoke(j, NOW, &rev, f);
        break;
    case 6:
        r = sn_body_csr(j, &csr, f);
        sn_body_csr_cleanup(&csr);
        break;
    case 7:
        r = sn_body_identity(j, &id, f);
        break;
    case 8:
        r = sn_body_issue(j, &iss, f);
        break;
    default:
        fail();
    }
    json_decref(j);
    return r == SN_OK;
}

static void
refused(int route, const char *text, enum sn_api code, const char *why)
{
    struct sn_body_fault f;

    if (parse(route, text, &f))
        fail_msg("accepted: %s", text);
    assert_int_equal(f.code, code);
    assert_string_equal(f.why, why);
}

static void
test_accept(void **state)
{
    static const char *const ok[] = {
        "{\"name\":\"acme-corp\"}",
        "{\"name\":\"ci\",\"roles\":[\"sign\",\"manage\"],\"keys\":[\"" KEYID
        "\"],\"expires_at\":\"2030-01-01T00:00:00Z\"}",
        "{\"algorithm\":\"ecdsa-p256\",\"label\":\"release key\"}",
        "{\"digest_algorithm\":\"sha256\",\"scheme\":\"pss\",\"digest\":"
        "\"" SHA256_EMPTY "\"}",
        "{\"digest_algorithm\":\"sha256\",\"digests\":[\"" SHA256_EMPTY "\"]}",
        "{\"reason\":\"superseded\",\"revocation_date\":\"2023-01-01T00:00:"
        "00Z\"}",
        "{\"subject\":{\"CN\":\"Example\",\"C\":\"GB\"}}",
        "{\"O\":\"Example Ltd\",\"C\":\"GB\",\"L\":\"London\"}",
        "{\"csr_pem\":\"x\",\"profile\":\"ev-code-signing\","
        "\"validity_days\":460}",
    };
    struct sn_body_fault f;
    int i;

    (void)state;
    for (i = 0; i < 9; i++)
        if (!parse(i, ok[i], &f))
            fail_msg("route %d refused: %s", i, f.why);
}

static void
test_token_fields(void **state)
{
    struct sn_body_token t;
    struct sn_body_fault f;
    json_t *j = load("{\"name\":\"ci\",\"roles\":[\"sign\"],\"keys\":[\"" KEYID
                     "\"],\"expires_at\":\"2030-01-01T00:00:00Z\"}");

    (void)state;
    assert_int_equal(sn_body_token(j, NOW, &t, &f), SN_OK);
    assert_string_equal(t.name, "ci");
    assert_int_equal(t.roles, SN_ROLE_SIGN);
    assert_int_equal(t.nkeys, 1);
    assert_string_equal(t.keys[0], KEYID);
    assert_true(t.expires_at > NOW);
    assert_int_equal(t.no_expiry, 0);
    json_decref(j);
}

/* Issue 15: a token without an expiry must be asked for; absent fields
 * leave the server's default to the handler. */
static void
test_token_no_expiry(void **state)
{
    struct sn_body_token t;
    struct sn_body_fault f;
    json_t *j = load("{\"name\":\"ci\",\"roles\":[\"sign\"],"
                     "\"no_expiry\":true}");

    (void)state;
    assert_int_equal(sn_body_token(j, NOW, &t, &f), SN_OK);
    assert_int_equal(t.no_expiry, 1);
    assert_int_equal(t.expires_at, 0);
    json_decref(j);
    j = load("{\"name\":\"ci\",\"roles\":[\"sign\"],\"no_expiry\":false}");
    assert_int_equal(sn_body_token(j, NOW, &t, &f), SN_OK);
    assert_int_equal(t.no_expiry, 0);
    assert_int_equal(t.expires_at, 0);
    json_decref(j);
    j = load("{\"name\":\"ci\",\"roles\":[\"sign\"]}");
    assert_int_equal(sn_body_token(j, NOW, &t, &f), SN_OK);
    assert_int_equal(t.no_expiry, 0);
    assert_int_equal(t.expires_at, 0);
    json_decref(j);
    refused(1, "{\"name\":\"t\",\"roles\":[\"sign\"],\"no_expiry\":1}",
            API_INVALID_FIELD, "'no_expiry' must be true or false");
    refused(1,
            "{\"name\":\"t\",\"roles\":[\"sign\"],\"no_expiry\":true,"
            "\"expires_at\":\"2030-01-01T00:00:00Z\"}",
            API_INVALID_FIELD, "give 'expires_at' or 'no_expiry', not both");
}

static void
test_refuse(void **state)
{
    (void)state;
    refused(0, "{\"name\":\"a/b\"}", API_INVALID_FIELD,
            "'name' must be 1-64 of A-Z a-z 0-9 . _ -");
    refused(0, "{\"name\":\"a\",\"x\":1}", API_INVALID_FIELD,
            "unknown field 'x'");
    refused(0, "{}", API_INVALID_FIELD, "'name' is required");
    refused(1, "{\"name\":\"t\",\"roles\":[\"root\"]}", API_INVALID_FIELD,
            "'roles' must be a non-empty array of \"manage\" and \"sign\"");
    refused(1, "{\"name\":\"t\",\"roles\":[\"sign\"],\"keys\":[\"k\"]}",
            API_INVALID_FIELD, "'keys' must contain key ids");
    refused(1,
            "{\"name\":\"t\",\"roles\":[\"sign\"],"
            "\"expires_at\":\"2020-01-01T00:00:00Z\"}",
            API_INVALID_FIELD,
            "'expires_at' must be an RFC 3339 time in the future");
    refused(2, "{\"algorithm\":\"dsa\",\"label\":\"k\"}", API_UNSUPPORTED_ALG,
            "algorithm 'dsa' is not allowed; use one of: rsa-3072, rsa-4096, "
            "ecdsa-p256, ecdsa-p384");
    refused(2, "{\"algorithm\":7,\"label\":\"k\"}", API_INVALID_FIELD,
            "'algorithm' must be a string");
    refused(3, "{\"digest_algorithm\":\"md5\",\"digest\":\"AA==\"}",
            API_UNSUPPORTED_ALG,
            "digest_algorithm must be sha256, sha384 or sha512");
    refused(3, "{\"digest_algorithm\":\"sha256\",\"digest\":\"AA==\"}",
            API_BAD_DIGEST, "digest is 1 bytes; the digest algorithm needs 32");
    refused(4,
            "{\"digest_algorithm\":\"sha256\",\"scheme\":\"pss\","
            "\"digest\":\"" SHA256_EMPTY "\"}",
            API_INVALID_FIELD, "ECDSA keys take no scheme (or \"ecdsa\")");
    refused(4, "{\"digest_algorithm\":\"sha256\"}", API_INVALID_FIELD,
            "give exactly one of 'digest' and 'digests'");
    refused(5, "{\"reason\":\"certificateHold\"}", API_INVALID_FIELD,
            "reason must be one of unspecified, keyCompromise, "
            "affiliationChanged, superseded, cessationOfOperation, "
            "privilegeWithdrawn (certificateHold is never used: CSBR "
            "4.9.13)");
    refused(5,
            "{\"reason\":\"superseded\","
            "\"revocation_date\":\"2030-01-01T00:00:00Z\"}",
            API_INVALID_FIELD,
            "revocation_date must be an RFC 3339 time, not in the future");
    refused(6, "{\"subject\":{\"CN\":\"x\",\"C\":\"GBR\"}}", API_INVALID_FIELD,
            "subject C must be 1-64 characters (C: two letters)");
    refused(6, "{\"subject\":{}}", API_INVALID_FIELD,
            "'subject' must be an object such as {\"CN\": ...}");
    refused(7, "{\"O\":\"x\",\"CN\":\"y\"}", API_INVALID_FIELD,
            "'CN' is not an identity field (O, assumedName, C, ST, L, "
            "street, postalCode, OU, serialNumber, businessCategory, "
            "jurisdictionC, jurisdictionST, jurisdictionL)");
    refused(7, "{\"O\":1}", API_INVALID_FIELD,
            "identity field O must be a string");
    refused(8, "{\"csr_pem\":\"x\",\"validity_days\":461}", API_INVALID_FIELD,
            "validity_days must be 1 to 460 (CSBR 6.3.2)");
    refused(8, "{\"csr_pem\":\"x\",\"profile\":\"tls\"}", API_INVALID_FIELD,
            "profile must be \"code-signing\" or \"ev-code-signing\"");
}

/* issue 18: report bodies (route 9: create, 10: confirm, 11: reject). */
static int
parse_report(int route, const char *text, struct sn_body_fault *f,
             struct sn_body_report *out)
{
    struct sn_body_report_confirm conf;
    const char *why;
    json_t *j = load(text);
    sn_err r;

    memset(f, 0, sizeof(*f));
    memset(out, 0, sizeof(*out));
    r = route == 9    ? sn_body_report(j, out, f)
        : route == 10 ? sn_body_report_confirm(j, NOW, &conf, f)
                      : sn_body_report_reject(j, &why, f);
    json_decref(j);
    return r == SN_OK;
}

static void
report_refused(int route, const char *text, const char *why)
{
    struct sn_body_report rep;
    struct sn_body_fault f;

    if (parse_report(route, text, &f, &rep))
        fail_msg("accepted: %s", text);
    assert_int_equal(f.code, API_INVALID_FIELD);
    assert_string_equal(f.why, why);
    assert_null(rep.evidence);
}

#define REPORT(kind, ev)                                                       \
    "{\"kind\":\"" kind "\",\"evidence\":" ev                                  \
    ",\"reason\":\"malware\",\"contact\":\"a@b.c\"}"

static void
test_report(void **state)
{
    struct sn_body_report rep;
    struct sn_body_fault f;
    char *big;
    size_t i;

    (void)state;
    assert_true(parse_report(9, REPORT("suspect_code", "{\"pkcs7\":\"MAA=\"}"),
                             &f, &rep));
    assert_int_equal(rep.kind, SN_REPORT_SUSPECT_CODE);
    assert_int_equal(rep.ev, SN_REPORT_EV_PKCS7);
    assert_int_equal(rep.evidence_len, 2);
    /* (reason and contact point into the body, freed by now) */
    sn_body_report_cleanup(&rep);
    assert_true(parse_report(
        9,
        REPORT("key_compromise",
               "{\"digest_algorithm\":\"sha256\",\"digest\":\"" SHA256_EMPTY
               "\"}"),
        &f, &rep));
    assert_int_equal(rep.ev, SN_REPORT_EV_DIGEST);
    assert_int_equal(rep.md, SN_MD_SHA256);
    assert_int_equal(rep.evidence_len, 32);
    sn_body_report_cleanup(&rep);
    report_refused(9, REPORT("spam", "{\"signature\":\"AAAA\"}"),
                   "'kind' must be \"suspect_code\" or \"key_compromise\"");
    report_refused(9, REPORT("suspect_code", "{\"signature\":\"AA=A\"}"),
                   "evidence.signature is not base64");
    report_refused(
        9,
        REPORT("suspect_code", "{\"signature\":\"AAAA\",\"digest\":\"AAAA\"}"),
        "'evidence' holds exactly one of pkcs7, signature, or "
        "digest_algorithm with digest");
    report_refused(9,
                   REPORT("suspect_code", "{\"digest_algorithm\":\"sha384\","
                                          "\"digest\":\"" SHA256_EMPTY "\"}"),
                   "evidence.digest is 32 bytes; sha384 needs 48");
    report_refused(9, REPORT("suspect_code", "[]"),
                   "'evidence' must be an object: {\"pkcs7\"}, "
                   "{\"signature\"} or {\"digest_algorithm\", \"digest\"}");
    report_refused(9,
                   "{\"kind\":\"suspect_code\",\"evidence\":{\"signature\":"
                   "\"AAAA\"},\"reason\":\"r\",\"contact\":\"c\",\"x\":1}",
                   "unknown field 'x'");
    report_refused(9,
                   "{\"kind\":\"suspect_code\",\"evidence\":{\"signature\":"
                   "\"AAAA\"},\"reason\":\"line\\nbreak\",\"contact\":\"c\"}",
                   "'reason' contains a control or line-separator character");
    /* 64 KiB of DER is the most: its base64 is 87,384 characters. */
    big = malloc(100000);
    assert_non_null(big);
    i = (size_t)snprintf(big, 100000,
                         "{\"kind\":\"suspect_code\",\"reason\":\"r\","
                         "\"contact\":\"c\",\"evidence\":{\"pkcs7\":\"");
    memset(big + i, 'A', 87388);
    snprintf(big + i + 87388, 100000 - i - 87388, "\"}}");
    report_refused(9, big,
                   "evidence.pkcs7 is longer than 65536 bytes (base64: 87384 "
                   "characters)");
    free(big);
    report_refused(10, "{\"revocation_date\":\"tomorrow\"}",
                   "revocation_date must be an RFC 3339 time, not in the "
                   "future");
    report_refused(11, "{}", "'reason' is required");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_token_fields),
        cmocka_unit_test(test_token_no_expiry),
        cmocka_unit_test(test_refuse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
