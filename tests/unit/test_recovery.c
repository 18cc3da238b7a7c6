/*
 * Unit tests for auth/recovery. The expected hash is sha256sum(1)'s:
 * printf abcdefghijkl | sha256sum.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "auth/recovery.h"

static const uint8_t abc_hash[32] = {
    0xd6, 0x82, 0xed, 0x4c, 0xa4, 0xd9, 0x89, 0xc1, 0x34, 0xec, 0x94,
    0xf1, 0x55, 0x1e, 0x1e, 0xc5, 0x80, 0xdd, 0x6d, 0x5a, 0x6e, 0xcd,
    0xe9, 0xf3, 0xd3, 0x5e, 0x6e, 0x4a, 0x71, 0x7f, 0xbd, 0xe4};

static int
shaped(const char *c)
{
    size_t i;

    if (strlen(c) != 14 || c[4] != '-' || c[9] != '-')
        return 0;
    for (i = 0; i < 14; i++) {
        if (i == 4 || i == 9)
            continue;
        if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '2' && c[i] <= '7')))
            return 0;
    }
    return 1;
}

static void
test_new_codes(void **state)
{
    char codes[SN_RECOVERY_CODES][SN_RECOVERY_CODE_SIZE];
    uint8_t h[32], h2[32];
    size_t i, j;

    (void)state;
    memset(codes, 0, sizeof(codes));
    assert_int_equal(sn_recovery_new(codes, SN_RECOVERY_CODES), SN_OK);
    for (i = 0; i < SN_RECOVERY_CODES; i++) {
        print_message("%s\n", codes[i]);
        assert_true(shaped(codes[i]));
        for (j = 0; j < i; j++)
            assert_string_not_equal(codes[i], codes[j]);
        /* Each code hashes as shown and as typed in capitals. */
        assert_int_equal(sn_recovery_hash(codes[i], h), SN_OK);
        {
            char up[SN_RECOVERY_CODE_SIZE];
            for (j = 0; codes[i][j] != '\0'; j++)
                up[j] = (char)(codes[i][j] >= 'a' && codes[i][j] <= 'z'
                                   ? codes[i][j] - 'a' + 'A'
                                   : codes[i][j]);
            up[j] = '\0';
            assert_int_equal(sn_recovery_hash(up, h2), SN_OK);
            assert_memory_equal(h, h2, 32);
        }
    }
}

static void
test_hash_normalised(void **state)
{
    static const char *same[] = {"abcdefghijkl", "ABCD-efgh-ijkl",
                                 "abcd efgh ijkl", " ABCD-EFGH-IJKL ",
                                 "a-b-c-d-e-f-g-h-i-j-k-l"};
    uint8_t h[32];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        print_message("\"%s\"\n", same[i]);
        assert_int_equal(sn_recovery_hash(same[i], h), SN_OK);
        assert_memory_equal(h, abc_hash, 32);
    }
}

static void
test_hash_malformed(void **state)
{
    static const char *bad[] = {
        "",
        "abcd-efgh-ijk",   /* 11 */
        "abcd-efgh-ijklm", /* 13 */
        "abcd-efgh-ijk1",  /* '1' is not base32 */
        "abcd-efgh-ijk0",  /* nor '0' */
        "abcd_efgh_ijkl",  /* other separators */
        "abcd\tefgh\tijkl",
        "abcd-efgh-ijk\xc3\xa9", /* non-ASCII */
        "abcd-efgh-ijkl\n",
        /* dashes past the bound on what is typed */
        "------------------------------------------------------------"
        "abcdefghijkl",
    };
    uint8_t h[32];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("refuse \"%s\"\n", bad[i]);
        memset(h, 0xaa, sizeof(h));
        assert_int_equal(sn_recovery_hash(bad[i], h), SN_ERR_INVALID);
        assert_int_equal(h[0], 0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_codes),
        cmocka_unit_test(test_hash_normalised),
        cmocka_unit_test(test_hash_malformed),
    };

    return cmocka_run_group_tests_name("recovery", tests, NULL, NULL);
}
