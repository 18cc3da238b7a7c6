/*
 * Unit tests for http/loginguard: failed logins per client address lock
 * it after LOGINGUARD_MAX within the window; other addresses are not
 * touched, a flood of new addresses does not lift a lock, and an IPv6
 * client counts by its /64.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include "http/loginguard.h"

#define T0 1000000

static void
fail_n(const char *addr, int n, time_t now)
{
    int i;

    for (i = 0; i < n; i++)
        sn_loginguard_failed(addr, now);
}

static void
test_lock(void **state)
{
    (void)state;
    fail_n("192.0.2.1", LOGINGUARD_MAX - 1, T0);
    assert_int_equal(sn_loginguard_wait("192.0.2.1", T0), 0);
    sn_loginguard_failed("192.0.2.1", T0);
    assert_int_equal(sn_loginguard_wait("192.0.2.1", T0), LOGINGUARD_LOCK);
    assert_int_equal(sn_loginguard_wait("192.0.2.1", T0 + 100),
                     LOGINGUARD_LOCK - 100);
    assert_int_equal(sn_loginguard_wait("192.0.2.2", T0), 0);
    assert_int_equal(sn_loginguard_wait("192.0.2.1", T0 + LOGINGUARD_LOCK), 0);
}

static void
test_window(void **state)
{
    (void)state;
    /* failures spread beyond the window do not add up */
    fail_n("192.0.2.3", LOGINGUARD_MAX - 1, T0);
    fail_n("192.0.2.3", 1, T0 + LOGINGUARD_WINDOW);
    assert_int_equal(sn_loginguard_wait("192.0.2.3", T0 + LOGINGUARD_WINDOW),
                     0);
}

static void
test_flood_keeps_lock(void **state)
{
    char a[64];
    int i;

    (void)state;
    fail_n("198.51.100.7", LOGINGUARD_MAX, T0);
    /* 20,000 other addresses fail once each: the lock stays */
    for (i = 0; i < 20000; i++) {
        snprintf(a, sizeof(a), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255,
                 i & 255);
        sn_loginguard_failed(a, T0 + 1);
    }
    assert_true(sn_loginguard_wait("198.51.100.7", T0 + 2) > 0);
}

static void
test_ipv6_prefix(void **state)
{
    (void)state;
    fail_n("2001:db8:1:2::1", LOGINGUARD_MAX / 2, T0);
    fail_n("2001:db8:1:2:ffff::9", LOGINGUARD_MAX - LOGINGUARD_MAX / 2, T0);
    assert_true(sn_loginguard_wait("2001:db8:1:2:abcd::5", T0) > 0);
    assert_int_equal(sn_loginguard_wait("2001:db8:1:3::1", T0), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lock),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_flood_keeps_lock),
        cmocka_unit_test(test_ipv6_prefix),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
