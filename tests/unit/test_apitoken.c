/*
 * Unit tests for crypto/apitoken. The stored hash is recomputed here with
 * OpenSSL directly (SHA-256 of the secret part) rather than trusting the
 * module's own parse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/apitoken.h"

#define ID "0b8f6c2e-3d4a-4f5b-9c6d-7e8f90a1b2c3"
#define PREFIX_LEN 3                     /* "sn_" */
#define SECRET_OFF (PREFIX_LEN + 36 + 1) /* after "sn_<id>_" */
#define TOKEN_LEN (SECRET_OFF + 43)

/* A well-formed token with a fixed secret, for the rejection tests. */
static const char good[] = "sn_" ID "_"
                           "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";

static void
sha256(const char *s, size_t len, uint8_t out[SN_TOKEN_HASH_LEN])
{
    unsigned int n = 0;

    assert_int_equal(EVP_Digest(s, len, out, &n, EVP_sha256(), NULL), 1);
    assert_int_equal(n, SN_TOKEN_HASH_LEN);
}

static void
test_new_parses_back(void **state)
{
    uint8_t hash[SN_TOKEN_HASH_LEN], parsed[SN_TOKEN_HASH_LEN];
    uint8_t want[SN_TOKEN_HASH_LEN];
    char id[SN_UUID_LEN], got_id[SN_UUID_LEN];
    char *token = NULL;

    (void)state;
    assert_int_equal(sn_uuid(id), SN_OK);
    assert_int_equal(sn_apitoken_new(id, &token, hash), SN_OK);
    assert_non_null(token);
    assert_int_equal(strlen(token), TOKEN_LEN);
    assert_memory_equal(token, "sn_", PREFIX_LEN);
    assert_memory_equal(token + PREFIX_LEN, id, SN_UUID_LEN - 1);
    assert_int_equal(token[SECRET_OFF - 1], '_');

    sha256(token + SECRET_OFF, strlen(token + SECRET_OFF), want);
    assert_memory_equal(hash, want, SN_TOKEN_HASH_LEN);

    assert_int_equal(sn_apitoken_parse(token, got_id, parsed), SN_OK);
    assert_string_equal(got_id, id);
    assert_memory_equal(parsed, hash, SN_TOKEN_HASH_LEN);
    assert_true(sn_apitoken_hash_equal(parsed, hash));
    sn_secret_free(token);
}

static void
test_new_is_random(void **state)
{
    uint8_t h1[SN_TOKEN_HASH_LEN], h2[SN_TOKEN_HASH_LEN];
    char *t1 = NULL, *t2 = NULL;

    (void)state;
    assert_int_equal(sn_apitoken_new(ID, &t1, h1), SN_OK);
    assert_int_equal(sn_apitoken_new(ID, &t2, h2), SN_OK);
    assert_string_not_equal(t1, t2);
    assert_false(sn_apitoken_hash_equal(h1, h2));
    sn_secret_free(t1);
    sn_secret_free(t2);
}

static void
test_new_rejects_bad_id(void **state)
{
    uint8_t hash[SN_TOKEN_HASH_LEN];
    char *token = (char *)"x";

    (void)state;
    assert_int_equal(sn_apitoken_new("", &token, hash), SN_ERR_INVALID);
    assert_null(token);
    token = (char *)"x";
    assert_int_equal(sn_apitoken_new(ID "0", &token, hash), SN_ERR_INVALID);
    assert_null(token);
}

static void
test_parse_fixed(void **state)
{
    uint8_t hash[SN_TOKEN_HASH_LEN], want[SN_TOKEN_HASH_LEN];
    char id[SN_UUID_LEN];

    (void)state;
    assert_int_equal(strlen(good), TOKEN_LEN);
    assert_int_equal(sn_apitoken_parse(good, id, hash), SN_OK);
    assert_string_equal(id, ID);
    sha256(good + SECRET_OFF, 43, want);
    assert_memory_equal(hash, want, SN_TOKEN_HASH_LEN);
}

static void
test_tampered_secret(void **state)
{
    uint8_t h0[SN_TOKEN_HASH_LEN], h1[SN_TOKEN_HASH_LEN];
    char t[sizeof(good)], id[SN_UUID_LEN];
    size_t i;

    (void)state;
    assert_int_equal(sn_apitoken_parse(good, id, h0), SN_OK);
    /* Any one changed character of the secret changes the hash. */
    for (i = SECRET_OFF; i < TOKEN_LEN; i++) {
        memcpy(t, good, sizeof(good));
        t[i] = t[i] == 'A' ? 'B' : 'A';
        assert_int_equal(sn_apitoken_parse(t, id, h1), SN_OK);
        assert_false(sn_apitoken_hash_equal(h0, h1));
    }
}

static void
expect_invalid(const char *token)
{
    uint8_t hash[SN_TOKEN_HASH_LEN];
    char id[SN_UUID_LEN];

    print_message("token '%s'\n", token);
    assert_int_equal(sn_apitoken_parse(token, id, hash), SN_ERR_INVALID);
}

/* good with character i replaced by c. */
static void
expect_invalid_at(size_t i, char c)
{
    char t[sizeof(good)];

    memcpy(t, good, sizeof(good));
    t[i] = c;
    expect_invalid(t);
}

static void
test_parse_rejects(void **state)
{
    char t[2 * sizeof(good)];

    (void)state;
    expect_invalid("");
    expect_invalid("sn_");
    expect_invalid_at(0, 'x');              /* wrong prefix */
    expect_invalid_at(0, 'S');              /* prefix is case-sensitive */
    expect_invalid_at(2, '-');              /* "sn-" */
    expect_invalid_at(SECRET_OFF - 1, '-'); /* separator */
    expect_invalid_at(PREFIX_LEN, 'g');     /* id not hex */
    expect_invalid_at(PREFIX_LEN, 'B');     /* id upper case */
    expect_invalid_at(PREFIX_LEN + 1, '_');
    expect_invalid_at(SECRET_OFF, '+'); /* standard base64, not url */
    expect_invalid_at(SECRET_OFF + 5, '/');
    expect_invalid_at(TOKEN_LEN - 1, '=');
    expect_invalid_at(SECRET_OFF + 1, ' ');
    expect_invalid_at(SECRET_OFF + 2, '.');

    /* Too short by one, too long by one, and far too long. */
    memcpy(t, good, TOKEN_LEN - 1);
    t[TOKEN_LEN - 1] = '\0';
    expect_invalid(t);
    memcpy(t, good, TOKEN_LEN);
    t[TOKEN_LEN] = 'A';
    t[TOKEN_LEN + 1] = '\0';
    expect_invalid(t);
    memset(t, 'A', sizeof(t) - 1);
    memcpy(t, good, TOKEN_LEN);
    t[sizeof(t) - 1] = '\0';
    expect_invalid(t);
    /* "Bearer sn_..." pasted whole. */
    memcpy(t, "Bearer ", 7);
    memcpy(t + 7, good, sizeof(good));
    expect_invalid(t);
}

static void
test_hash_equal(void **state)
{
    uint8_t a[SN_TOKEN_HASH_LEN], b[SN_TOKEN_HASH_LEN];

    (void)state;
    memset(a, 0x5a, sizeof(a));
    memcpy(b, a, sizeof(b));
    assert_int_equal(sn_apitoken_hash_equal(a, b), 1);
    b[0] ^= 1;
    assert_int_equal(sn_apitoken_hash_equal(a, b), 0);
    b[0] ^= 1;
    b[SN_TOKEN_HASH_LEN - 1] ^= 0x80;
    assert_int_equal(sn_apitoken_hash_equal(a, b), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_parses_back),
        cmocka_unit_test(test_new_is_random),
        cmocka_unit_test(test_new_rejects_bad_id),
        cmocka_unit_test(test_parse_fixed),
        cmocka_unit_test(test_tampered_secret),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_hash_equal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
