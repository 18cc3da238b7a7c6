/*
 * Unit tests for keeper/partitions.c: each subscriber's token opened once
 * and found again, failures kept out, many subscribers, callers racing on
 * the same subscribers, and lookups of open partitions going on while
 * another subscriber's token is being opened. Tokens here are heap blocks
 * naming their subscriber; release frees them, so ASan sees any token
 * leaked or released twice.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keeper/partitions.h"

struct fake {
    char id[SN_UUID_LEN];
};

static atomic_int opens, releases;

static void
release(struct sn_hsm_token *tok)
{
    atomic_fetch_add(&releases, 1);
    free(tok);
}

static sn_err
open_ok(void *arg, const char *id, struct sn_hsm_token **tok)
{
    struct fake *f = calloc(1, sizeof(*f));

    (void)arg;
    if (f == NULL)
        return SN_ERR_NOMEM;
    snprintf(f->id, sizeof(f->id), "%s", id);
    atomic_fetch_add(&opens, 1);
    *tok = (struct sn_hsm_token *)f;
    return SN_OK;
}

static sn_err
open_fail(void *arg, const char *id, struct sn_hsm_token **tok)
{
    (void)arg;
    (void)id;
    (void)tok;
    atomic_fetch_add(&opens, 1);
    return SN_ERR_HSM;
}

static const char *
id_of(const struct sn_hsm_token *tok)
{
    return ((const struct fake *)tok)->id;
}

static void
make_id(char buf[SN_UUID_LEN], unsigned n)
{
    snprintf(buf, SN_UUID_LEN, "%08x-0000-4000-8000-%012x", n, n * 7u);
}

static int
setup(void **state)
{
    (void)state;
    atomic_store(&opens, 0);
    atomic_store(&releases, 0);
    return 0;
}

static void
test_open_once(void **state)
{
    struct sn_parts p;
    struct sn_hsm_token *a = NULL, *b = NULL;
    char id[SN_UUID_LEN];

    (void)state;
    make_id(id, 1);
    sn_parts_init(&p, release);
    assert_int_equal(sn_parts_get(&p, id, open_ok, NULL, &a), SN_OK);
    assert_int_equal(sn_parts_get(&p, id, open_ok, NULL, &b), SN_OK);
    assert_ptr_equal(a, b);
    assert_string_equal(id_of(a), id);
    assert_int_equal(atomic_load(&opens), 1);
    assert_int_equal(sn_parts_count(&p), 1);
    sn_parts_cleanup(&p);
    assert_int_equal(atomic_load(&releases), 1);
}

static void
test_failure_not_kept(void **state)
{
    struct sn_parts p;
    struct sn_hsm_token *t = (struct sn_hsm_token *)&p;
    char id[SN_UUID_LEN];

    (void)state;
    make_id(id, 2);
    sn_parts_init(&p, release);
    assert_int_equal(sn_parts_get(&p, id, open_fail, NULL, &t), SN_ERR_HSM);
    assert_null(t);
    assert_int_equal(sn_parts_count(&p), 0);
    /* The next caller tries again, and this time the token opens. */
    assert_int_equal(sn_parts_get(&p, id, open_ok, NULL, &t), SN_OK);
    assert_string_equal(id_of(t), id);
    assert_int_equal(atomic_load(&opens), 2);
    /* An id too long for a subscriber is refused before any open. */
    assert_int_equal(sn_parts_get(&p,
                                  "0123456789-0123456789-0123456789-0123456789",
                                  open_ok, NULL, &t),
                     SN_ERR_INVALID);
    assert_null(t);
    assert_int_equal(atomic_load(&opens), 2);
    sn_parts_cleanup(&p);
    assert_int_equal(atomic_load(&releases), 1);
}

#define MANY 5000

static void
test_many(void **state)
{
    struct sn_parts p;
    struct sn_hsm_token *t;
    char id[SN_UUID_LEN];
    unsigned i;

    (void)state;
    sn_parts_init(&p, release);
    for (i = 0; i < MANY; i++) {
        make_id(id, i);
        assert_int_equal(sn_parts_get(&p, id, open_ok, NULL, &t), SN_OK);
    }
    /* Every one found again through the grown index, none opened twice. */
    for (i = 0; i < MANY; i++) {
        make_id(id, i);
        assert_int_equal(sn_parts_get(&p, id, open_fail, NULL, &t), SN_OK);
        assert_string_equal(id_of(t), id);
    }
    assert_int_equal(atomic_load(&opens), MANY);
    assert_int_equal(sn_parts_count(&p), MANY);
    sn_parts_cleanup(&p);
    assert_int_equal(atomic_load(&releases), MANY);
}

#define RACERS 8
#define RACE_IDS 200
#define RACE_ROUNDS 20

static pthread_barrier_t race_start;

/* An open slow enough that other callers arrive for the same id meanwhile. */
static sn_err
open_yield(void *arg, const char *id, struct sn_hsm_token **tok)
{
    int i;

    for (i = 0; i < 20; i++)
        sched_yield();
    return open_ok(arg, id, tok);
}

struct racer {
    struct sn_parts *p;
    int wrong;
};

static void *
race(void *arg)
{
    struct racer *r = arg;
    struct sn_hsm_token *t;
    char id[SN_UUID_LEN];
    unsigned i, k;

    /* All start together and walk the ids in the same order, so they
     * keep asking for a subscriber whose token is being opened. */
    pthread_barrier_wait(&race_start);
    for (k = 0; k < RACE_ROUNDS; k++)
        for (i = 0; i < RACE_IDS; i++) {
            make_id(id, i);
            if (sn_parts_get(r->p, id, open_yield, NULL, &t) != SN_OK ||
                strcmp(id_of(t), id) != 0)
                r->wrong++;
        }
    return NULL;
}

static void
test_racing_callers(void **state)
{
    struct sn_parts p;
    struct racer r[RACERS];
    pthread_t th[RACERS];
    int i;

    (void)state;
    sn_parts_init(&p, release);
    assert_int_equal(pthread_barrier_init(&race_start, NULL, RACERS), 0);
    for (i = 0; i < RACERS; i++) {
        r[i].p = &p;
        r[i].wrong = 0;
        assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    for (i = 0; i < RACERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(r[i].wrong, 0);
    }
    pthread_barrier_destroy(&race_start);
    /* Each subscriber's token opened exactly once despite the race. */
    assert_int_equal(atomic_load(&opens), RACE_IDS);
    assert_int_equal(sn_parts_count(&p), RACE_IDS);
    sn_parts_cleanup(&p);
    assert_int_equal(atomic_load(&releases), RACE_IDS);
}

/* An open that takes as long as the test says: a token with many keys. */
static sem_t slow_started, slow_go;

static sn_err
open_slow(void *arg, const char *id, struct sn_hsm_token **tok)
{
    sem_post(&slow_started);
    while (sem_wait(&slow_go) != 0 && errno == EINTR)
        ;
    return open_ok(arg, id, tok);
}

struct getter {
    struct sn_parts *p;
    const char *id;
    sn_parts_open_fn open;
    struct sn_hsm_token *tok;
    sn_err r;
};

static void *
get(void *arg)
{
    struct getter *g = arg;

    g->r = sn_parts_get(g->p, g->id, g->open, NULL, &g->tok);
    return NULL;
}

static void
test_lookup_during_open(void **state)
{
    struct sn_parts p;
    struct sn_hsm_token *t;
    char open_id[SN_UUID_LEN], slow_id[SN_UUID_LEN];
    struct getter slow, fast;
    pthread_t ts, tf;
    struct timespec dl;
    int rc;

    (void)state;
    make_id(open_id, 10);
    make_id(slow_id, 11);
    assert_int_equal(sem_init(&slow_started, 0, 0), 0);
    assert_int_equal(sem_init(&slow_go, 0, 0), 0);
    sn_parts_init(&p, release);
    assert_int_equal(sn_parts_get(&p, open_id, open_ok, NULL, &t), SN_OK);

    slow = (struct getter){&p, slow_id, open_slow, NULL, SN_ERR_INTERNAL};
    assert_int_equal(pthread_create(&ts, NULL, get, &slow), 0);
    assert_int_equal(sem_wait(&slow_started), 0);

    /* While slow_id's token is being opened, an open partition is found:
     * the lookup must finish (it would hang if it waited for the open). */
    fast = (struct getter){&p, open_id, open_fail, NULL, SN_ERR_INTERNAL};
    assert_int_equal(pthread_create(&tf, NULL, get, &fast), 0);
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 30;
    rc = pthread_timedjoin_np(tf, NULL, &dl);
    sem_post(&slow_go);
    if (rc != 0)
        pthread_join(tf, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(fast.r, SN_OK);
    assert_ptr_equal(fast.tok, t);

    assert_int_equal(pthread_join(ts, NULL), 0);
    assert_int_equal(slow.r, SN_OK);
    assert_string_equal(id_of(slow.tok), slow_id);
    assert_int_equal(atomic_load(&opens), 2);
    sn_parts_cleanup(&p);
    assert_int_equal(atomic_load(&releases), 2);
    sem_destroy(&slow_started);
    sem_destroy(&slow_go);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_open_once, setup),
        cmocka_unit_test_setup(test_failure_not_kept, setup),
        cmocka_unit_test_setup(test_many, setup),
        cmocka_unit_test_setup(test_racing_callers, setup),
        cmocka_unit_test_setup(test_lookup_during_open, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
