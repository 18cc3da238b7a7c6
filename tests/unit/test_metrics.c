/*
 * Unit tests for server/metrics.c: counts made by many threads at once, with
 * no lock on the counting path, all add up in the Prometheus text, and the
 * latency histogram stays consistent (buckets cumulative, +Inf = count).
 * Two threads adding the same new series at once is left to reading the
 * code: the window is a few instructions wide, too narrow to hit here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/metrics.h"

#define THREADS 8
#define PER_THREAD 200000

static const char *const routes[] = {"sign", "keys", "healthz"};
static pthread_barrier_t start;

struct worker {
    struct sn_metrics *m;
    int n;
};

static void *
work(void *arg)
{
    struct worker *w = arg;
    int i;

    pthread_barrier_wait(&start); /* all count at once */
    for (i = 0; i < PER_THREAD; i++) {
        /* A new series may be added by any thread, at any time. */
        sn_metrics_request(w->m, routes[i % 3], 200 + (w->n + i) % 4);
        sn_metrics_signature(w->m, i % 2 ? SN_KEY_RSA3072 : SN_KEY_P256,
                             i % 5 ? 0.0002 : 0.02);
        if (i % 10 == 0)
            sn_metrics_tls_failure(w->m);
    }
    return NULL;
}

/* The value of the line starting with name followed by a space. */
static unsigned long long
value(const char *text, const char *name)
{
    const char *p = text;
    size_t n = strlen(name);

    while ((p = strstr(p, name)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtoull(p + n + 1, NULL, 10);
        p += n;
    }
    fail_msg("no line %s", name);
    return 0;
}

static void
test_concurrent_counts(void **state)
{
    struct sn_metrics m;
    struct worker w[THREADS];
    pthread_t th[THREADS];
    unsigned long long total = 0,
                       want = (unsigned long long)THREADS * PER_THREAD;
    char name[128], *text = NULL;
    const char *first;
    size_t len = 0;
    unsigned long long expect;
    int i, k, r, st;

    (void)state;
    sn_metrics_init(&m);
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (i = 0; i < THREADS; i++) {
        w[i].m = &m;
        w[i].n = i;
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    pthread_barrier_destroy(&start);
    assert_int_equal(sn_metrics_render(&m, &text, &len), 0);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);

    /* 3 routes x 4 statuses, each series once and counted exactly. */
    for (r = 0; r < 3; r++)
        for (st = 200; st < 204; st++) {
            expect = 0;
            for (i = 0; i < THREADS; i++)
                for (k = 0; k < PER_THREAD; k++)
                    expect += k % 3 == r && 200 + (i + k) % 4 == st;
            snprintf(name, sizeof(name),
                     "signet_http_requests_total{route=\"%s\",status=\"%d\"}",
                     routes[r], st);
            assert_non_null(first = strstr(text, name));
            assert_null(strstr(first + 1, name));
            assert_int_equal(value(text, name), expect);
            total += expect;
        }
    assert_int_equal(total, want);
    assert_int_equal(
        value(text, "signet_signatures_total{algorithm=\"rsa-3072\"}"),
        want / 2);
    assert_int_equal(
        value(text, "signet_signatures_total{algorithm=\"ecdsa-p256\"}"),
        want / 2);
    assert_int_equal(value(text, "signet_sign_duration_seconds_count"), want);
    assert_int_equal(
        value(text, "signet_sign_duration_seconds_bucket{le=\"+Inf\"}"), want);
    /* 4 in 5 took 0.2 ms (first bucket), 1 in 5 took 20 ms (<= 0.025). */
    assert_int_equal(
        value(text, "signet_sign_duration_seconds_bucket{le=\"0.0005\"}"),
        want / 5 * 4);
    assert_int_equal(
        value(text, "signet_sign_duration_seconds_bucket{le=\"0.01\"}"),
        want / 5 * 4);
    assert_int_equal(
        value(text, "signet_sign_duration_seconds_bucket{le=\"0.025\"}"), want);
    assert_non_null(
        strstr(text, "signet_sign_duration_seconds_sum 6656.000000\n"));
    assert_int_equal(
        value(text, "signet_tls_handshake_failures_total{listener=\"api\"}"),
        want / 10);
    free(text);
    sn_metrics_cleanup(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_counts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
