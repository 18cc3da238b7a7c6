/* Unit tests for src/common/buf.c: the bounded body buffer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

static void
test_append_and_take(void **state)
{
    struct sn_buf b;
    uint8_t *out;
    size_t len;
    char big[5000];

    (void)state;
    sn_buf_init(&b, 10000);
    assert_int_equal(sn_buf_append(&b, "abc", 3), SN_OK);
    memset(big, 'x', sizeof(big));
    assert_int_equal(sn_buf_append(&b, big, sizeof(big)), SN_OK);
    assert_int_equal(b.len, 3 + sizeof(big));
    assert_int_equal(b.data[b.len], '\0');
    sn_buf_take(&b, &out, &len);
    assert_int_equal(len, 3 + sizeof(big));
    assert_memory_equal(out, "abcxx", 5);
    assert_null(b.data);
    free(out);
    sn_buf_cleanup(&b);
}

static void
test_limit_exact_and_over(void **state)
{
    struct sn_buf b;
    char data[16];

    (void)state;
    memset(data, 'y', sizeof(data));
    sn_buf_init(&b, 16);
    assert_int_equal(sn_buf_append(&b, data, 10), SN_OK);
    assert_int_equal(sn_buf_append(&b, data, 6), SN_OK); /* exactly max */
    assert_int_equal(b.overflow, 0);
    assert_int_equal(sn_buf_append(&b, data, 1), SN_ERR_LIMIT);
    assert_int_equal(b.overflow, 1);
    assert_int_equal(b.len, 16); /* nothing of the refused append kept */
    assert_true(b.cap <= 17);    /* never grown past max + NUL */
    sn_buf_cleanup(&b);
    /* A single append larger than max, and SIZE_MAX, are refused. */
    sn_buf_init(&b, 8);
    assert_int_equal(sn_buf_append(&b, data, 9), SN_ERR_LIMIT);
    assert_int_equal(sn_buf_append(&b, data, SIZE_MAX), SN_ERR_LIMIT);
    assert_null(b.data);
    sn_buf_cleanup(&b);
}

/* The libcurl-shaped sink: all of a piece, or 0 (a failed transfer). */
static void
test_sink(void **state)
{
    struct sn_buf b;
    char data[] = "abcdefgh";

    (void)state;
    sn_buf_init(&b, 6);
    assert_int_equal(sn_buf_sink(data, 1, 4, &b), 4);
    assert_int_equal(sn_buf_sink(data, 1, 2, &b), 2);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "abcdab", 6);
    assert_int_equal(sn_buf_sink(data, 1, 1, &b), 0);
    assert_true(b.overflow);
    sn_buf_cleanup(&b);
    /* size * nmemb wrapping around to 2 is refused, not taken as 2. */
    sn_buf_init(&b, 1024);
    assert_int_equal(sn_buf_sink(data, SIZE_MAX / 2 + 2, 2, &b), 0);
    assert_int_equal(b.len, 0);
    sn_buf_cleanup(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_take),
        cmocka_unit_test(test_limit_exact_and_over),
        cmocka_unit_test(test_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
