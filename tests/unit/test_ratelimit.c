/*
 * Unit tests for http/ratelimit.c: a bucket's burst, refill and wait; a
 * clock that goes back; per-key independence; the table's bound and which
 * key it lets go when full; long keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "http/ratelimit.h"

static void
test_bucket(void **state)
{
    struct sn_bucket b;
    double wait = -1;
    int i;

    (void)state;
    sn_bucket_init(&b, 10, 5, 100.0);
    for (i = 0; i < 5; i++)
        assert_true(sn_bucket_take(&b, 100.0, &wait));
    assert_false(sn_bucket_take(&b, 100.0, &wait));
    /* One token every 0.1 s. */
    if (wait < 0.099 || wait > 0.101)
        fail_msg("wait %f, want 0.1", wait);
    assert_false(sn_bucket_take(&b, 100.05, &wait));
    if (wait < 0.049 || wait > 0.051)
        fail_msg("wait %f, want 0.05", wait);
    assert_true(sn_bucket_take(&b, 100.1, &wait));
    /* A long pause refills up to the burst, no more. */
    for (i = 0; i < 5; i++)
        assert_true(sn_bucket_take(&b, 1000.0, &wait));
    assert_false(sn_bucket_take(&b, 1000.0, &wait));
    /* A clock that goes back refills nothing. */
    assert_false(sn_bucket_take(&b, 10.0, &wait));
    /* A token given back is there again. */
    sn_bucket_give(&b);
    assert_true(sn_bucket_take(&b, 1000.0, &wait));
}

static void
test_per_key(void **state)
{
    struct sn_ratelimit *rl = NULL;
    double wait;
    int i;

    (void)state;
    assert_int_equal(sn_ratelimit_new(1, 3, 16, &rl), SN_OK);
    for (i = 0; i < 3; i++)
        assert_true(sn_ratelimit_take(rl, "192.0.2.1", 5.0, &wait));
    assert_false(sn_ratelimit_take(rl, "192.0.2.1", 5.0, &wait));
    if (wait < 0.99 || wait > 1.01)
        fail_msg("wait %f, want 1", wait);
    /* Another address has its own bucket. */
    assert_true(sn_ratelimit_take(rl, "2001:db8::1", 5.0, &wait));
    assert_true(sn_ratelimit_take(rl, "192.0.2.1", 6.0, &wait));
    assert_int_equal(sn_ratelimit_count(rl), 2);
    sn_ratelimit_free(rl);
}

static void
test_bounded(void **state)
{
    struct sn_ratelimit *rl = NULL;
    char key[32];
    double wait;
    int i;

    (void)state;
    assert_int_equal(sn_ratelimit_new(1, 2, 8, &rl), SN_OK);
    for (i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "198.51.100.%d", i);
        assert_true(sn_ratelimit_take(rl, key, 0.0, &wait));
        assert_true(sn_ratelimit_count(rl) <= 8);
    }
    assert_int_equal(sn_ratelimit_count(rl), 8);
    sn_ratelimit_free(rl);
}

static void
test_evicts_refilled_first(void **state)
{
    struct sn_ratelimit *rl = NULL;
    double wait;

    (void)state;
    assert_int_equal(sn_ratelimit_new(1, 2, 2, &rl), SN_OK);
    /* X empties its bucket; Y takes one token. */
    assert_true(sn_ratelimit_take(rl, "X", 0.0, &wait));
    assert_true(sn_ratelimit_take(rl, "X", 0.0, &wait));
    assert_true(sn_ratelimit_take(rl, "Y", 0.0, &wait));
    /* A second later Y is full again (it holds nothing worth keeping), X
     * is not: Z takes Y's slot although both were used as recently. */
    assert_true(sn_ratelimit_take(rl, "Z", 1.0, &wait));
    assert_int_equal(sn_ratelimit_count(rl), 2);
    assert_true(sn_ratelimit_take(rl, "X", 1.0, &wait));
    /* X kept its state: one token, not a fresh burst of two. */
    assert_false(sn_ratelimit_take(rl, "X", 1.0, &wait));
    sn_ratelimit_free(rl);
}

static void
test_long_key(void **state)
{
    struct sn_ratelimit *rl = NULL;
    char a[200], b[200];
    double wait;

    (void)state;
    memset(a, 'a', sizeof(a) - 1);
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[150] = 'b'; /* past SN_RL_KEY_MAX: the same key once cut */
    assert_int_equal(sn_ratelimit_new(1, 1, 4, &rl), SN_OK);
    assert_true(sn_ratelimit_take(rl, a, 0.0, &wait));
    assert_false(sn_ratelimit_take(rl, b, 0.0, &wait));
    assert_int_equal(sn_ratelimit_count(rl), 1);
    sn_ratelimit_free(rl);
}

static void
test_bad_params(void **state)
{
    struct sn_ratelimit *rl = NULL;

    (void)state;
    assert_int_equal(sn_ratelimit_new(1, 1, 0, &rl), SN_ERR_INVALID);
    assert_int_equal(sn_ratelimit_new(0, 1, 4, &rl), SN_ERR_INVALID);
    assert_null(rl);
    sn_ratelimit_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_per_key),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_evicts_refilled_first),
        cmocka_unit_test(test_long_key),
        cmocka_unit_test(test_bad_params),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
