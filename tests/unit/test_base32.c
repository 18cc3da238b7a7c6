/*
 * Unit tests for common/base32. Expected texts are RFC 4648 section 10's
 * test vectors (with the padding removed) and coreutils base32(1)'s output.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/base32.h"

static const struct {
    const char *plain, *b32;
} rfc4648[] = {
    {"", ""},
    {"f", "MY"},
    {"fo", "MZXQ"},
    {"foo", "MZXW6"},
    {"foob", "MZXW6YQ"},
    {"fooba", "MZXW6YTB"},
    {"foobar", "MZXW6YTBOI"},
    /* printf 12345678901234567890 | base32 (RFC 6238's secret) */
    {"12345678901234567890", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"},
};

static void
test_encode_vectors(void **state)
{
    char out[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        size_t n = strlen(rfc4648[i].plain);
        assert_int_equal(SN_BASE32_LEN(n), strlen(rfc4648[i].b32));
        sn_base32_encode((const uint8_t *)rfc4648[i].plain, n, out);
        assert_string_equal(out, rfc4648[i].b32);
    }
}

static void
test_decode_vectors(void **state)
{
    uint8_t out[64];
    size_t i, n;

    (void)state;
    for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        assert_int_equal(sn_base32_decode(rfc4648[i].b32, out, sizeof(out), &n),
                         SN_OK);
        assert_int_equal(n, strlen(rfc4648[i].plain));
        assert_memory_equal(out, rfc4648[i].plain, n);
    }
}

static void
test_decode_strict(void **state)
{
    static const char *bad[] = {
        "MY======",                    /* padding */
        "my",                          /* lower case */
        "M",                           /* 1, 3 or 6 characters end no byte */
        "MZX",         "MZXW6Y", "MZ", /* "f" with a non-zero unused bit */
        "MZXW6YTB OI", "MZXW1",        /* space, '1' */
    };
    uint8_t out[64];
    size_t i, n = 99;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("refuse \"%s\"\n", bad[i]);
        assert_int_equal(sn_base32_decode(bad[i], out, sizeof(out), &n),
                         SN_ERR_INVALID);
        assert_int_equal(n, 0);
    }
    /* Too small an output buffer. */
    assert_int_equal(sn_base32_decode("MZXW6YTBOI", out, 5, &n), SN_ERR_LIMIT);
    assert_int_equal(sn_base32_decode("MZXW6YTBOI", out, 6, &n), SN_OK);
    assert_int_equal(n, 6);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_vectors),
        cmocka_unit_test(test_decode_vectors),
        cmocka_unit_test(test_decode_strict),
    };

    return cmocka_run_group_tests_name("base32", tests, NULL, NULL);
}
