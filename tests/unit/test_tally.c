/*
 * Unit tests for store/tally.c: repeats fold into one record with a count
 * per caller, key, reason and minute; a written record is updated (same
 * row) as its count grows; slots of past minutes are freed once written;
 * the table never grows: past its ordinary slots records fold into a
 * subscriber's overflow record, then the service's, then are counted lost.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/tally.h"

static void
rec(struct sn_audit *a, time_t when, const char *sub, const char *token,
    const char *client, const char *detail)
{
    memset(a, 0, sizeof(*a));
    a->time = when;
    snprintf(a->subscriber, sizeof(a->subscriber), "%s", sub);
    snprintf(a->token, sizeof(a->token), "%s", token);
    snprintf(a->client, sizeof(a->client), "%s", client);
    snprintf(a->action, sizeof(a->action), "denied");
    snprintf(a->result, sizeof(a->result), "denied");
    snprintf(a->detail, sizeof(a->detail), "%s", detail);
}

struct fixture {
    struct sn_tally t;
    struct sn_tally_batch b;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    sn_tally_init(&f->t);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    sn_tally_cleanup(&f->t);
    free(f);
    return 0;
}

/* Pretends the write gave rows 100, 101, ... to new records. */
static void
written(struct fixture *f, time_t now)
{
    size_t i;

    for (i = 0; i < f->b.n; i++)
        if (f->b.rec[i].id == 0)
            f->b.rec[i].id = 100 + (int64_t)i;
    sn_tally_done(&f->t, &f->b, 1, now);
}

static void
test_fold(void **state)
{
    struct fixture *f = *state;
    struct sn_audit a;
    uint64_t lost = 1;
    int i;

    assert_false(sn_tally_pending(&f->t));
    rec(&a, 6000, "sub-a", "tok-1", "10.0.0.1", "token revoked");
    for (i = 0; i < 300; i++)
        sn_tally_add(&f->t, &a);
    /* The same caller and reason from another address: the same record. */
    snprintf(a.client, sizeof(a.client), "10.0.0.2");
    sn_tally_add(&f->t, &a);
    /* Another reason, another token, another subscriber: three more. */
    rec(&a, 6001, "sub-a", "tok-1", "10.0.0.1", "token expired");
    sn_tally_add(&f->t, &a);
    rec(&a, 6002, "sub-a", "tok-2", "10.0.0.1", "token revoked");
    sn_tally_add(&f->t, &a);
    rec(&a, 6003, "sub-b", "tok-1", "10.0.0.1", "token revoked");
    sn_tally_add(&f->t, &a);
    assert_true(sn_tally_pending(&f->t));

    assert_int_equal(sn_tally_take(&f->t, &f->b, &lost), 4);
    assert_int_equal(lost, 0);
    assert_string_equal(f->b.rec[0].detail, "token revoked (x301)");
    assert_string_equal(f->b.rec[0].client, "10.0.0.1"); /* as first seen */
    assert_int_equal(f->b.rec[0].time, 6000);
    assert_int_equal(f->b.rec[0].id, 0); /* to insert */
    assert_string_equal(f->b.rec[1].detail, "token expired");
    assert_string_equal(f->b.rec[2].token, "tok-2");
    assert_string_equal(f->b.rec[3].subscriber, "sub-b");
}

static void
test_update_then_free(void **state)
{
    struct fixture *f = *state;
    struct sn_audit a;
    uint64_t lost;
    int i;

    rec(&a, 6000, "sub-a", "tok-1", "10.0.0.1", "token revoked");
    sn_tally_add(&f->t, &a);
    assert_int_equal(sn_tally_take(&f->t, &f->b, &lost), 1);
    written(f, 6000);
    /* Nothing new: nothing to write, the slot stays (its minute runs). */
    assert_int_equal(sn_tally_take(&f->t, &f->b, &lost), 0);
    assert_true(sn_tally_pending(&f->t));
    /* Repeats in the same minute update the same row. */
    for (i = 0; i < 4; i++)
        sn_tally_add(&f->t, &a);
    assert_int_equal(sn_tally_take(&f->t, &f->b, &lost), 1);
    assert_int_equal(f->b.rec[0].id, 100);
    assert_string_equal(f->b.rec[0].detail, "token revoked (x5)");
    /* A failed write keeps the count for the next try. */
    sn_tally_done(&f->t, &f->b, 0, 6000);
    assert_int_equal(sn_tally_take(&f->t, &f->b, &lost), 1);
    assert_string_equal(f->b.rec[0].detail, "token revoked (x5)");
    written(f, 6059);
    assert_true(sn_tally_pending(&f->t));
    /* The next minute: the same refusal is a new record; the old slot,
     * all written, is freed. */
    a.time = 6060;
    sn_tally_add(&f->t, &a);
    assert_int_equal(sn_tally_take(&f->t, &f->b, &lost), 1);
    assert_int_equal(f->b.rec[0].id, 0);
    assert_string_equal(f->b.rec[0].detail, "token revoked");
    written(f, 6125);
    assert_false(sn_tally_pending(&f->t));
}

/* Without a token the caller is its address. */
static void
test_by_address(void **state)
{
    struct fixture *f = *state;
    struct sn_audit a;
    uint64_t lost;

    rec(&a, 6000, "sub-a", "", "10.0.0.1", "role missing");
    sn_tally_add(&f->t, &a);
    sn_tally_add(&f->t, &a);
    snprintf(a.client, sizeof(a.client), "10.0.0.2");
    sn_tally_add(&f->t, &a);
    assert_int_equal(sn_tally_take(&f->t, &f->b, &lost), 2);
    assert_string_equal(f->b.rec[0].detail, "role missing (x2)");
    assert_string_equal(f->b.rec[1].client, "10.0.0.2");
}

/* A long detail keeps its count: the detail is cut, not the count. */
static void
test_long_detail(void **state)
{
    struct fixture *f = *state;
    struct sn_audit a;
    char longd[300];
    uint64_t lost;
    size_t n;

    memset(longd, 'x', sizeof(longd) - 1);
    longd[sizeof(longd) - 1] = '\0';
    rec(&a, 6000, "sub-a", "tok", "10.0.0.1", longd);
    sn_tally_add(&f->t, &a);
    sn_tally_add(&f->t, &a);
    assert_int_equal(sn_tally_take(&f->t, &f->b, &lost), 1);
    n = strlen(f->b.rec[0].detail);
    assert_true(n < sizeof(f->b.rec[0].detail));
    assert_string_equal(f->b.rec[0].detail + n - 5, " (x2)");
}

/* Many distinct refusals: the table keeps its size, nothing unbounded. */
static void
test_overflow(void **state)
{
    struct fixture *f = *state;
    struct sn_audit a;
    char tok[32];
    uint64_t lost = 0, sum = 0;
    size_t i, n, sub_over = 0, all_over = 0;

    /* One subscriber, many tokens: ordinary slots, then its overflow. */
    for (i = 0; i < 1000; i++) {
        snprintf(tok, sizeof(tok), "tok-%zu", i);
        rec(&a, 6000, "sub-a", tok, "10.0.0.1", "token revoked");
        sn_tally_add(&f->t, &a);
    }
    /* Many subscribers past the table: their overflow records, then the
     * service's, then lost. */
    for (i = 0; i < 100; i++) {
        snprintf(tok, sizeof(tok), "sub-%zu", i);
        rec(&a, 6000, tok, "t", "10.0.0.1", "token revoked");
        sn_tally_add(&f->t, &a);
    }
    n = sn_tally_take(&f->t, &f->b, &lost);
    assert_int_equal(n, SN_TALLY_SLOTS);
    for (i = 0; i < n; i++) {
        sum += f->b.count[i];
        if (strcmp(f->b.rec[i].subscriber, "sub-a") == 0 &&
            f->b.rec[i].token[0] == '\0')
            sub_over = i + 1;
        if (f->b.rec[i].subscriber[0] == '\0')
            all_over = i + 1;
    }
    assert_int_equal(sum + lost, 1100);
    assert_true(sub_over != 0);
    assert_int_equal(f->b.count[sub_over - 1],
                     1000 - (SN_TALLY_SLOTS - SN_TALLY_SPARE));
    assert_true(all_over != 0);
    assert_non_null(strstr(f->b.rec[all_over - 1].detail, "beyond"));
    /* The service's overflow record is busy with minute 100: a refusal of
     * minute 101 from a new subscriber, with the table full, is lost. */
    rec(&a, 6060, "sub-new", "t", "10.0.0.1", "token revoked");
    sn_tally_add(&f->t, &a);
    assert_int_equal(sn_tally_take(&f->t, &f->b, &lost), SN_TALLY_SLOTS);
    assert_int_equal(lost, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fold, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_then_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_by_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_detail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overflow, setup, teardown),
    };

    return cmocka_run_group_tests_name("tally", tests, NULL, NULL);
}
