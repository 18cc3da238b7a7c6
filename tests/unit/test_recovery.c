/*
 * Unit tests for auth/recovery. The expected hash is sha256sum(1)'s:
 * printf abcdefghijklmnop | sha256sum.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "auth/recovery.h"

static const uint8_t abc_hash[32] = {
    0xf3, 0x9d, 0xac, 0x6c, 0xba, 0xba, 0x53, 0x5e, 0x2c, 0x20, 0x7c,
    0xd0, 0xcd, 0x8f, 0x15, 0x49, 0x74, 0x22, 0x3c, 0x84, 0x8f, 0x72,
    0x7f, 0x98, 0xb3, 0x56, 0x4c, 0xea, 0x56, 0x9b, 0x41, 0xcf};

static int
shaped(const char *c)
{
    size_t i;

    if (strlen(c) != 19 || c[4] != '-' || c[9] != '-' || c[14] != '-')
        return 0;
    for (i = 0; i < 19; i++) {
        if (i == 4 || i == 9 || i == 14)
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
    static const char *same[] = {"abcdefghijklmnop", "ABCD-efgh-ijkl-MNOP",
                                 "abcd efgh ijkl mnop", " ABCD-EFGH-IJKL-MNOP ",
                                 "a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p"};
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
        "abcd-efgh-ijkl",       /* 12: the old length */
        "abcd-efgh-ijkl-mno",   /* 15 */
        "abcd-efgh-ijkl-mnopq", /* 17 */
        "abcd-efgh-ijkl-mno1",  /* '1' is not base32 */
        "abcd-efgh-ijkl-mno0",  /* nor '0' */
        "abcd_efgh_ijkl_mnop",  /* other separators */
        "abcd\tefgh\tijkl\tmnop",
        "abcd-efgh-ijkl-mno\xc3\xa9", /* non-ASCII */
        "abcd-efgh-ijkl-mnop\n",
        /* dashes past the bound on what is typed */
        "------------------------------------------------------------"
        "abcdefghijklmnop",
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
