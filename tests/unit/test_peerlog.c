/*
 * test_peerlog: src/http/peerlog.c, "one log line per client address per
 * window". The first event of an address is shown, the rest of its window
 * held and reported once when it ends; a full table folds new addresses
 * into one count; the table never grows. Addresses stand for untrusted
 * input (an over-long one is cut, not overflowed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/peerlog.h"

#define W 60

static void
test_once_per_window(void **state)
{
    struct sn_peerlog pl;
    struct sn_peerlog_report rep[SN_PEERLOG_SLOTS + 1];
    int i;

    (void)state;
    sn_peerlog_init(&pl, W);
    assert_int_equal(sn_peerlog_event(&pl, "192.0.2.1", 1000), 1);
    assert_int_equal(sn_peerlog_event(&pl, "192.0.2.2", 1000), 1);
    for (i = 0; i < 20; i++)
        assert_int_equal(sn_peerlog_event(&pl, "192.0.2.1", 1000 + i), 0);
    /* Nothing to report before the window ends. */
    assert_int_equal(sn_peerlog_expire(&pl, 1059, rep, SN_PEERLOG_SLOTS + 1),
                     0);
    /* 192.0.2.1's 20 held; 192.0.2.2 had none: forgotten, no line. */
    assert_int_equal(sn_peerlog_expire(&pl, 1060, rep, SN_PEERLOG_SLOTS + 1),
                     1);
    assert_string_equal(rep[0].addr, "192.0.2.1");
    assert_int_equal(rep[0].n, 20);
    /* The report was 192.0.2.1's line: its next event waits a window. */
    assert_int_equal(sn_peerlog_event(&pl, "192.0.2.1", 1061), 0);
    assert_int_equal(sn_peerlog_event(&pl, "192.0.2.2", 1061), 1);
    assert_int_equal(sn_peerlog_expire(&pl, 1120, rep, SN_PEERLOG_SLOTS + 1),
                     1);
    assert_int_equal(rep[0].n, 1);
    /* Quiet for a window: forgotten, the next event is shown again. */
    assert_int_equal(sn_peerlog_expire(&pl, 1200, rep, SN_PEERLOG_SLOTS + 1),
                     0);
    assert_int_equal(sn_peerlog_event(&pl, "192.0.2.1", 1201), 1);
    sn_peerlog_cleanup(&pl);
}

/* An event after the window ended but before its report: held too, and
 * the report carries both (never two lines for one address). */
static void
test_late_report(void **state)
{
    struct sn_peerlog pl;
    struct sn_peerlog_report rep[2];

    (void)state;
    sn_peerlog_init(&pl, W);
    assert_int_equal(sn_peerlog_event(&pl, "2001:db8::1", 0 + 5), 1);
    assert_int_equal(sn_peerlog_event(&pl, "2001:db8::1", 10), 0);
    assert_int_equal(sn_peerlog_event(&pl, "2001:db8::1", 70), 0);
    assert_int_equal(sn_peerlog_expire(&pl, 70, rep, 2), 1);
    assert_int_equal(rep[0].n, 2);
    sn_peerlog_cleanup(&pl);
}

/* More addresses than slots: the first SN_PEERLOG_SLOTS are named, the
 * others counted together; lines in a window stay bounded. */
static void
test_full_table(void **state)
{
    struct sn_peerlog pl;
    struct sn_peerlog_report rep[SN_PEERLOG_SLOTS + 1];
    char addr[32];
    int i, shown = 0;
    size_t n, j;

    (void)state;
    sn_peerlog_init(&pl, W);
    for (i = 0; i < 1000; i++) {
        snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
        shown += sn_peerlog_event(&pl, addr, 100);
        shown += sn_peerlog_event(&pl, addr, 101);
    }
    assert_int_equal(shown, SN_PEERLOG_SLOTS);
    n = sn_peerlog_expire(&pl, 160, rep, SN_PEERLOG_SLOTS + 1);
    assert_int_equal(n, SN_PEERLOG_SLOTS + 1);
    for (j = 0; j < SN_PEERLOG_SLOTS; j++)
        assert_int_equal(rep[j].n, 1); /* each named address's second */
    assert_string_equal(rep[SN_PEERLOG_SLOTS].addr, "");
    assert_int_equal(rep[SN_PEERLOG_SLOTS].n, 2 * (1000 - SN_PEERLOG_SLOTS));
    /* A short report buffer: the rest waits for the next call. */
    for (i = 0; i < 3; i++) {
        snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
        sn_peerlog_event(&pl, addr, 170);
    }
    assert_int_equal(sn_peerlog_expire(&pl, 300, rep, 1), 1);
    assert_int_equal(sn_peerlog_expire(&pl, 300, rep, 1), 1);
    assert_int_equal(sn_peerlog_expire(&pl, 300, rep, 1), 1);
    assert_int_equal(sn_peerlog_expire(&pl, 300, rep, 1), 0);
    sn_peerlog_cleanup(&pl);
}

static void
test_long_address(void **state)
{
    struct sn_peerlog pl;
    struct sn_peerlog_report rep[2];
    char addr[300];

    (void)state;
    memset(addr, 'a', sizeof(addr) - 1);
    addr[sizeof(addr) - 1] = '\0';
    sn_peerlog_init(&pl, W);
    assert_int_equal(sn_peerlog_event(&pl, addr, 1), 1);
    /* Stored cut to SN_PEERLOG_ADDR - 1, and still the same key: held. */
    assert_int_equal(sn_peerlog_event(&pl, addr, 2), 0);
    assert_int_equal(sn_peerlog_expire(&pl, 100, rep, 2), 1);
    assert_int_equal(strlen(rep[0].addr), SN_PEERLOG_ADDR - 1);
    assert_int_equal(rep[0].n, 1);
    sn_peerlog_cleanup(&pl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_once_per_window),
        cmocka_unit_test(test_late_report),
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_long_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
