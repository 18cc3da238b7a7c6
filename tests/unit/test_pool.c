/*
 * Unit tests for http/pool.c: every job runs once, the queue bound, the
 * round-robin lanes (a tenant with 1000 jobs queued does not make another's
 * 10 wait behind them), the heavy-job limits (queued, not refused) and the
 * express thread (a light tenant's job runs at once, at the process's
 * priority, while a busy tenant holds the other threads at a lower one;
 * a lane that turns light goes to it; a light job waiting for a heavy
 * slot is not stranded when the slot frees on a thread that may not take
 * it).
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
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http/pool.h"

#define MAX_JOBS 2048

struct tjob {
    struct sn_pool_job job; /* first */
    char tenant;
    int heavy;
    int block;    /* waits for the gate to open */
    int released; /* or for this */
};

/* What the jobs did, in the order they ran. */
struct record {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int open; /* the gate */
    char order[MAX_JOBS];
    int nice[MAX_JOBS]; /* the running thread's nice value */
    int hint[MAX_JOBS]; /* the nice hint its thread was given (-2: none) */
    size_t n;
    int heavy_now, heavy_max_seen;
    int heavy_a_now, heavy_a_max_seen;
};

/* The pool's nice hint to the running thread (sn_pool_params.nice_hint). */
static __thread int hint_now = -2;

static void
hint_cb(int nice)
{
    hint_now = nice;
}

static void
run(void *ctx, struct sn_pool_job *job)
{
    struct record *rec = ctx;
    struct tjob *t = (struct tjob *)job;

    pthread_mutex_lock(&rec->lock);
    if (t->heavy) {
        if (++rec->heavy_now > rec->heavy_max_seen)
            rec->heavy_max_seen = rec->heavy_now;
        if (t->tenant == 'A' && ++rec->heavy_a_now > rec->heavy_a_max_seen)
            rec->heavy_a_max_seen = rec->heavy_a_now;
    }
    if (rec->n < MAX_JOBS) {
        rec->nice[rec->n] =
            getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
        rec->hint[rec->n] = hint_now;
        rec->order[rec->n++] = t->tenant;
    }
    pthread_cond_broadcast(&rec->cond);
    while (t->block && !rec->open && !t->released)
        pthread_cond_wait(&rec->cond, &rec->lock);
    if (t->heavy) {
        rec->heavy_now--;
        if (t->tenant == 'A')
            rec->heavy_a_now--;
    }
    pthread_mutex_unlock(&rec->lock);
}

static void
record_init(struct record *rec)
{
    memset(rec, 0, sizeof(*rec));
    pthread_mutex_init(&rec->lock, NULL);
    pthread_cond_init(&rec->cond, NULL);
}

static void
open_gate(struct record *rec)
{
    pthread_mutex_lock(&rec->lock);
    rec->open = 1;
    pthread_cond_broadcast(&rec->cond);
    pthread_mutex_unlock(&rec->lock);
}

/* Lets one blocked job finish. */
static void
release(struct record *rec, struct tjob *t)
{
    pthread_mutex_lock(&rec->lock);
    t->released = 1;
    pthread_cond_broadcast(&rec->cond);
    pthread_mutex_unlock(&rec->lock);
}

/* Waits until n jobs have started. */
static void
wait_started(struct record *rec, size_t n)
{
    pthread_mutex_lock(&rec->lock);
    while (rec->n < n)
        pthread_cond_wait(&rec->cond, &rec->lock);
    pthread_mutex_unlock(&rec->lock);
}

static struct sn_pool *
start_express(struct record *rec, unsigned threads, size_t max_queued,
              unsigned heavy_max, unsigned heavy_per_lane, unsigned express,
              int nice)
{
    struct sn_pool_params par;
    struct sn_pool *p = NULL;

    memset(&par, 0, sizeof(par));
    par.express = express;
    par.nice = nice;
    par.name = "test-pool";
    par.threads = threads;
    par.max_queued = max_queued;
    par.heavy_max = heavy_max;
    par.heavy_per_lane = heavy_per_lane;
    par.run = run;
    par.ctx = rec;
    assert_int_equal(sn_pool_start(&par, &p), SN_OK);
    assert_non_null(p);
    /* Every thread started and waiting, so none is late to its first job. */
    while (sn_pool_idle(p) < threads)
        usleep(1000);
    return p;
}

static struct sn_pool *
start(struct record *rec, unsigned threads, size_t max_queued,
      unsigned heavy_max, unsigned heavy_per_lane)
{
    return start_express(rec, threads, max_queued, heavy_max, heavy_per_lane, 0,
                         0);
}

static void
submit(struct sn_pool *p, struct tjob *t, char tenant, int heavy, int block)
{
    char name[2] = {tenant, '\0'};

    t->tenant = tenant;
    t->heavy = heavy;
    t->block = block;
    assert_int_equal(sn_pool_submit(p, &t->job, name, heavy), SN_OK);
}

static void
test_fair_lanes(void **state)
{
    static struct tjob jobs[1011];
    struct record rec;
    struct sn_pool *p;
    size_t i, last_b = 0, nb = 0;

    (void)state;
    record_init(&rec);
    p = start(&rec, 1, 0, 0, 0);
    /* The one thread is held by A's first job while the rest queue. */
    submit(p, &jobs[0], 'A', 0, 1);
    wait_started(&rec, 1);
    for (i = 1; i < 1001; i++)
        submit(p, &jobs[i], 'A', 0, 0);
    for (; i < 1011; i++)
        submit(p, &jobs[i], 'B', 0, 0);
    assert_int_equal(sn_pool_queued(p), 1010);
    open_gate(&rec);
    sn_pool_stop(p);
    assert_int_equal(rec.n, 1011);
    for (i = 0; i < rec.n; i++)
        if (rec.order[i] == 'B') {
            last_b = i;
            nb++;
        }
    assert_int_equal(nb, 10);
    /* Round-robin: A, then A and B in turn: B's tenth is the 21st. */
    if (last_b >= 22)
        fail_msg("B's last job ran %zu-th; want within the first 22",
                 last_b + 1);
}

static void
test_bound(void **state)
{
    static struct tjob jobs[4];
    struct record rec;
    struct sn_pool *p;
    struct tjob extra;

    (void)state;
    record_init(&rec);
    p = start(&rec, 1, 2, 0, 0);
    submit(p, &jobs[0], 'A', 0, 1);
    wait_started(&rec, 1);
    submit(p, &jobs[1], 'A', 0, 0);
    submit(p, &jobs[2], 'B', 0, 0);
    /* Two wait: the third is refused and stays the caller's. */
    memset(&extra, 0, sizeof(extra));
    assert_int_equal(sn_pool_submit(p, &extra.job, "C", 0), SN_ERR_LIMIT);
    assert_int_equal(sn_pool_queued(p), 2);
    open_gate(&rec);
    sn_pool_stop(p);
    assert_int_equal(rec.n, 3);
}

static void
test_heavy_limits(void **state)
{
    static struct tjob jobs[16];
    struct record rec;
    struct sn_pool *p;
    size_t i;

    (void)state;
    record_init(&rec);
    /* 4 threads, 2 heavy at once, 1 per tenant. */
    p = start(&rec, 4, 0, 2, 1);
    for (i = 0; i < 4; i++)
        submit(p, &jobs[i], 'A', 1, 1);
    submit(p, &jobs[4], 'B', 1, 1);
    submit(p, &jobs[5], 'C', 1, 1);
    /* A and B hold the two heavy slots; a light job still runs at once. */
    wait_started(&rec, 2);
    submit(p, &jobs[6], 'A', 0, 0);
    wait_started(&rec, 3);
    usleep(20 * 1000);
    pthread_mutex_lock(&rec.lock);
    assert_int_equal(rec.n, 3);
    assert_int_equal(rec.order[2], 'A');
    pthread_mutex_unlock(&rec.lock);
    /* Queued, not refused: all of them run once the gate opens. */
    assert_int_equal(sn_pool_queued(p), 4);
    open_gate(&rec);
    sn_pool_stop(p);
    assert_int_equal(rec.n, 7);
    assert_int_equal(rec.heavy_max_seen, 2);
    assert_int_equal(rec.heavy_a_max_seen, 1);
}

static void
test_express(void **state)
{
    static struct tjob jobs[8];
    struct record rec;
    struct sn_pool *p;
    int base = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    size_t i;

    (void)state;
    record_init(&rec);
    memset(jobs, 0, sizeof(jobs));
    /* 3 threads, the last an express one; 2 per tenant, as the signers. */
    p = start_express(&rec, 3, 0, 3, 2, 1, 5);
    /* Alone, C's one job is light: the express thread takes it. */
    submit(p, &jobs[0], 'C', 1, 1);
    wait_started(&rec, 1);
    /* A busy tenant: two run on the other threads, at the lower priority,
     * three wait. */
    for (i = 1; i < 6; i++)
        submit(p, &jobs[i], 'A', 1, 1);
    wait_started(&rec, 3);
    pthread_mutex_lock(&rec.lock);
    assert_int_equal(rec.order[0], 'C');
    assert_int_equal(rec.nice[0], base);
    assert_int_equal(rec.nice[1], base + 5);
    assert_int_equal(rec.nice[2], base + 5);
    pthread_mutex_unlock(&rec.lock);
    /* C is done; the express thread takes none of A's queued jobs. */
    release(&rec, &jobs[0]);
    usleep(20 * 1000);
    pthread_mutex_lock(&rec.lock);
    assert_int_equal(rec.n, 3);
    pthread_mutex_unlock(&rec.lock);
    /* B asks for one: it runs at once, on the express thread. */
    submit(p, &jobs[6], 'B', 1, 0);
    wait_started(&rec, 4);
    pthread_mutex_lock(&rec.lock);
    assert_int_equal(rec.order[3], 'B');
    assert_int_equal(rec.nice[3], base);
    pthread_mutex_unlock(&rec.lock);
    open_gate(&rec);
    sn_pool_stop(p);
    assert_int_equal(rec.n, 7);
}

/*
 * A tenant's lane turns light when its job on a bulk thread finishes: its
 * next job goes to the express thread (at the process's priority), not
 * to the bulk thread that finished (which would run it at the lower one).
 */
static void
test_express_handoff(void **state)
{
    static struct tjob jobs[4];
    struct record rec;
    struct sn_pool *p;
    int base = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));

    (void)state;
    record_init(&rec);
    memset(jobs, 0, sizeof(jobs));
    /* 2 threads, the second an express one; 1 per tenant. */
    p = start_express(&rec, 2, 0, 2, 1, 1, 5);
    submit(p, &jobs[0], 'C', 1, 1); /* light: the express thread */
    wait_started(&rec, 1);
    submit(p, &jobs[1], 'A', 1, 1); /* light, express busy: the bulk one */
    wait_started(&rec, 2);
    submit(p, &jobs[2], 'A', 1, 1); /* waits: A has one running */
    release(&rec, &jobs[0]);
    usleep(20 * 1000);
    release(&rec, &jobs[1]);
    wait_started(&rec, 3);
    pthread_mutex_lock(&rec.lock);
    assert_int_equal(rec.order[1], 'A');
    assert_int_equal(rec.nice[1], base + 5);
    assert_int_equal(rec.order[2], 'A');
    assert_int_equal(rec.nice[2], base);
    pthread_mutex_unlock(&rec.lock);
    open_gate(&rec);
    sn_pool_stop(p);
    assert_int_equal(rec.n, 3);
}

/* threads (the last an express one) at nice 5, one tenant holding all
 * but one, hinted through hint_cb with a window of window_ms. */
static struct sn_pool *
start_hinted(struct record *rec, unsigned threads, unsigned window_ms)
{
    struct sn_pool_params par;
    struct sn_pool *p = NULL;

    memset(&par, 0, sizeof(par));
    par.name = "test-pool";
    par.threads = threads;
    par.express = 1;
    par.nice = 5;
    par.heavy_max = threads;
    par.heavy_per_lane = threads - 1;
    par.nice_hint = hint_cb;
    par.yield_window_ms = window_ms;
    par.run = run;
    par.ctx = rec;
    assert_int_equal(sn_pool_start(&par, &p), SN_OK);
    while (sn_pool_idle(p) < threads)
        usleep(1000);
    return p;
}

/*
 * The nice hint (what the keeper is asked for): a busy tenant's job (its
 * lane has another running or queued) yields (the pool's nice) once
 * another tenant has submitted lately, and is told 0 while it is alone; a
 * light tenant's job on a bulk thread (the express one was busy) is told
 * 0, whatever the thread's own nice. Express threads are told nothing.
 */
static void
test_nice_hint(void **state)
{
    static struct tjob jobs[4];
    struct record rec;
    struct sn_pool *p;

    (void)state;
    record_init(&rec);
    memset(jobs, 0, sizeof(jobs));
    /* three bulk threads, one express; no slow machine misses the window */
    p = start_hinted(&rec, 4, 60000);
    submit(p, &jobs[0], 'A', 1, 1); /* light: the express thread */
    wait_started(&rec, 1);
    submit(p, &jobs[1], 'A', 1, 1); /* A again, busy but alone: bulk */
    wait_started(&rec, 2);
    submit(p, &jobs[2], 'B', 1, 1); /* B light, express busy: bulk */
    wait_started(&rec, 3);
    submit(p, &jobs[3], 'A', 1, 1); /* A busy, B lately: yields */
    wait_started(&rec, 4);
    pthread_mutex_lock(&rec.lock);
    assert_int_equal(rec.order[0], 'A');
    assert_int_equal(rec.hint[0], -2);
    assert_int_equal(rec.order[1], 'A');
    assert_int_equal(rec.hint[1], 0);
    assert_int_equal(rec.order[2], 'B');
    assert_int_equal(rec.hint[2], 0);
    assert_int_equal(rec.order[3], 'A');
    assert_int_equal(rec.hint[3], 5);
    pthread_mutex_unlock(&rec.lock);
    open_gate(&rec);
    sn_pool_stop(p);
    assert_int_equal(rec.n, 4);
}

/* Another tenant's submit counts for yield_window_ms only: a busy tenant
 * whose neighbour went quiet is told 0 again. */
static void
test_nice_hint_expires(void **state)
{
    static struct tjob jobs[3];
    struct record rec;
    struct sn_pool *p;

    (void)state;
    record_init(&rec);
    memset(jobs, 0, sizeof(jobs));
    p = start_hinted(&rec, 3, 50);  /* two bulk threads, one express */
    submit(p, &jobs[0], 'A', 1, 1); /* light: the express thread */
    wait_started(&rec, 1);
    submit(p, &jobs[1], 'B', 1, 1); /* B light, express busy: bulk */
    wait_started(&rec, 2);
    usleep(200 * 1000); /* B's submit is older than the window now */
    submit(p, &jobs[2], 'A', 1, 1); /* A busy, B quiet: not told to yield */
    wait_started(&rec, 3);
    pthread_mutex_lock(&rec.lock);
    assert_int_equal(rec.order[2], 'A');
    assert_int_equal(rec.hint[2], 0);
    pthread_mutex_unlock(&rec.lock);
    open_gate(&rec);
    sn_pool_stop(p);
    assert_int_equal(rec.n, 3);
}

/*
 * Fewer heavy slots than threads, with an express thread: a light job
 * that waited for the heavy slot starts when the slot frees, though the
 * bulk thread that freed it may not take it (it goes to the express
 * thread, which was asleep).
 */
static void
test_express_heavy_slot(void **state)
{
    static struct tjob jobs[4];
    struct record rec;
    struct sn_pool *p;

    (void)state;
    record_init(&rec);
    memset(jobs, 0, sizeof(jobs));
    /* 3 threads, the last an express one; 1 heavy at once. */
    p = start_express(&rec, 3, 0, 1, 1, 1, 5);
    submit(p, &jobs[0], 'C', 0, 1); /* not heavy: the express thread */
    wait_started(&rec, 1);
    submit(p, &jobs[1], 'A', 1, 1); /* the heavy slot, on a bulk thread */
    wait_started(&rec, 2);
    release(&rec, &jobs[0]); /* the express thread is free again */
    usleep(20 * 1000);
    submit(p, &jobs[2], 'B', 1, 1); /* light, but the slot is taken */
    usleep(20 * 1000);
    pthread_mutex_lock(&rec.lock);
    assert_int_equal(rec.n, 2);
    pthread_mutex_unlock(&rec.lock);
    release(&rec, &jobs[1]);
    wait_started(&rec, 3); /* hangs (ctest's timeout) if B is stranded */
    pthread_mutex_lock(&rec.lock);
    assert_int_equal(rec.order[2], 'B');
    pthread_mutex_unlock(&rec.lock);
    open_gate(&rec);
    sn_pool_stop(p);
    assert_int_equal(rec.n, 3);
}

static void
test_bad_params(void **state)
{
    struct sn_pool_params par;
    struct sn_pool *p = (struct sn_pool *)&par;

    (void)state;
    memset(&par, 0, sizeof(par));
    par.run = run;
    assert_int_equal(sn_pool_start(&par, &p), SN_ERR_INVALID);
    assert_null(p);
    /* Every thread an express one: none left for a busy tenant. */
    par.threads = 2;
    par.express = 2;
    assert_int_equal(sn_pool_start(&par, &p), SN_ERR_INVALID);
    assert_null(p);
    sn_pool_stop(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fair_lanes),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_heavy_limits),
        cmocka_unit_test(test_express),
        cmocka_unit_test(test_express_handoff),
        cmocka_unit_test(test_express_heavy_slot),
        cmocka_unit_test(test_nice_hint),
        cmocka_unit_test(test_nice_hint_expires),
        cmocka_unit_test(test_bad_params),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
