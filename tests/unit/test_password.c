/*
 * Unit tests for auth/password. Hashes are judged by libargon2's own
 * argon2id_verify() called directly (not through Signet's wrapper), and
 * the wrapper is held to the reference implementation's published test
 * vector (phc-winner-argon2 src/test.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include <argon2.h>

#include "auth/password.h"

static const char good_pw[] = "correct horse battery staple";

/* phc-winner-argon2's test.c: argon2id, t=2, m=2^16, p=1, "password",
 * salt "somesalt". */
static const char ref_hash[] = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ"
                               "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";

static void
test_hash_verify(void **state)
{
    char h[SN_PWHASH_MAX + 1];

    (void)state;
    assert_int_equal(sn_password_hash(good_pw, h), SN_OK);
    print_message("%s\n", h);
    /* OWASP's minimum: argon2id, m=19456 KiB, t=2, p=1; 16-byte salt (22
     * base64 characters), 32-byte hash (43). */
    assert_int_equal(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31), 0);
    assert_int_equal(strlen(h), 31 + 22 + 1 + 43);
    assert_int_equal(h[31 + 22], '$');
    assert_int_equal(argon2id_verify(h, good_pw, strlen(good_pw)), ARGON2_OK);
    assert_int_equal(sn_password_verify(good_pw, h), 1);
}

static void
test_wrong_password(void **state)
{
    char h[SN_PWHASH_MAX + 1];

    (void)state;
    assert_int_equal(sn_password_hash(good_pw, h), SN_OK);
    assert_int_equal(sn_password_verify("correct horse battery stapler", h), 0);
    assert_int_equal(sn_password_verify("", h), 0);
    assert_int_equal(sn_password_verify("password", ref_hash), 1);
    assert_int_equal(sn_password_verify("Password", ref_hash), 0);
}

static void
test_salted(void **state)
{
    char a[SN_PWHASH_MAX + 1], b[SN_PWHASH_MAX + 1];

    (void)state;
    assert_int_equal(sn_password_hash(good_pw, a), SN_OK);
    assert_int_equal(sn_password_hash(good_pw, b), SN_OK);
    assert_string_not_equal(a, b);
    assert_int_equal(sn_password_verify(good_pw, a), 1);
    assert_int_equal(sn_password_verify(good_pw, b), 1);
}

static void
test_malformed_encoded(void **state)
{
    static const char *bad[] = {
        "",
        "garbage",
        /* argon2i, not argon2id */
        "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ"
        "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        /* the old version 16 */
        "$argon2id$v=16$m=65536,t=2,p=1$c29tZXNhbHQ"
        "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        /* truncated */
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y",
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ",
        "$argon2id$v=19$m=65536,t=2,p=1",
        /* one character of the hash changed */
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ"
        "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPd",
        /* parameters past the bounds (memory, time, lanes), or odd */
        "$argon2id$v=19$m=262145,t=2,p=1$c29tZXNhbHQ"
        "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ"
        "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=65536,t=17,p=1$c29tZXNhbHQ"
        "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=65536,t=2,p=9$c29tZXNhbHQ"
        "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=065536,t=2,p=1$c29tZXNhbHQ"
        "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=65536,t=0,p=1$c29tZXNhbHQ"
        "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        "$argon2id$v=19$m=,t=2,p=1$c29tZXNhbHQ"
        "$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
    };
    char longer[SN_PWHASH_MAX + 16];
    size_t i;

    (void)state;
    /* The reference vector itself verifies through the wrapper. */
    assert_int_equal(sn_password_verify("password", ref_hash), 1);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("refuse \"%s\"\n", bad[i]);
        assert_int_equal(sn_password_verify("password", bad[i]), 0);
    }
    /* Longer than any stored hash may be. */
    memset(longer, 'A', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    memcpy(longer, ref_hash, strlen(ref_hash));
    assert_int_equal(sn_password_verify("password", longer), 0);
}

static void
test_acceptable(void **state)
{
    char why[128], pw[300];

    (void)state;
    why[0] = '\0';
    assert_int_equal(sn_password_acceptable("short", why, sizeof(why)),
                     SN_ERR_INVALID);
    print_message("short: %s\n", why);
    assert_non_null(strstr(why, "at least 12"));
    assert_int_equal(sn_password_acceptable("elevenchars", why, sizeof(why)),
                     SN_ERR_INVALID);
    assert_int_equal(sn_password_acceptable("twelve chars", why, sizeof(why)),
                     SN_OK);
    memset(pw, 'x', 256);
    pw[256] = '\0';
    assert_int_equal(sn_password_acceptable(pw, why, sizeof(why)), SN_OK);
    pw[256] = 'x';
    pw[257] = '\0';
    assert_int_equal(sn_password_acceptable(pw, why, sizeof(why)),
                     SN_ERR_INVALID);
    assert_non_null(strstr(why, "at most 256"));
    assert_int_equal(
        sn_password_acceptable("tab\there is not ok", why, sizeof(why)),
        SN_ERR_INVALID);
    assert_non_null(strstr(why, "control"));
    assert_int_equal(
        sn_password_acceptable("newline at end\n", why, sizeof(why)),
        SN_ERR_INVALID);
    assert_int_equal(sn_password_acceptable("delete \x7f char", why, 0),
                     SN_ERR_INVALID);
    /* UTF-8 is fine, its C1 controls are not. */
    assert_int_equal(sn_password_acceptable("p\xc3\xa4ssw\xc3\xb6rd with space",
                                            why, sizeof(why)),
                     SN_OK);
    assert_int_equal(
        sn_password_acceptable("c1 control \xc2\x85 here", why, sizeof(why)),
        SN_ERR_INVALID);
    /* Hashing refuses what could not be a password. */
    {
        char h[SN_PWHASH_MAX + 1];
        assert_int_equal(sn_password_hash(pw, h), SN_ERR_INVALID);
        assert_int_equal(h[0], '\0');
    }
}

static double
seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The dummy verification costs what a real one does. Loose bounds (the
 * machine is shared): what it catches is a dummy hash that stopped
 * parsing, which answers at once.
 */
static void
test_dummy_time(void **state)
{
    char h[SN_PWHASH_MAX + 1];
    double t0, real = 1e9, dummy = 1e9, d;
    int i;

    (void)state;
    assert_int_equal(sn_password_hash(good_pw, h), SN_OK);
    for (i = 0; i < 3; i++) {
        t0 = seconds();
        assert_int_equal(sn_password_verify("wrong password!", h), 0);
        d = seconds() - t0;
        real = d < real ? d : real;
        t0 = seconds();
        sn_password_dummy_verify("wrong password!");
        d = seconds() - t0;
        dummy = d < dummy ? d : dummy;
    }
    print_message("verify %.1f ms, dummy %.1f ms\n", real * 1e3, dummy * 1e3);
    assert_true(dummy > real / 3);
    assert_true(dummy < real * 3);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_verify),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_salted),
        cmocka_unit_test(test_malformed_encoded),
        cmocka_unit_test(test_acceptable),
        cmocka_unit_test(test_dummy_time),
    };

    return cmocka_run_group_tests_name("password", tests, NULL, NULL);
}
