/*
 * pool: threads, a bounded queue and round-robin lanes (see pool.h). Its
 * input is the server's own requests; tenant strings are only hashed.
 */
#include "http/pool.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/util.h"

/* One tenant's queue (or several tenants', hashed together). */
struct lane {
    struct sn_pool_job *head, *tail;
    struct lane *next; /* in the ring of lanes with jobs */
    unsigned running;  /* jobs running now */
    int heavy;
};

struct sn_pool {
    struct sn_pool_params par;
    pthread_mutex_t lock;
    pthread_cond_t cond;         /* the other threads wait here */
    pthread_cond_t express_cond; /* express threads wait here */
    /* Light lanes first, then heavy ones. */
    struct lane lanes[2 * SN_POOL_LANES];
    struct lane *ring, *ring_tail; /* lanes with jobs, in serving order */
    size_t queued;
    unsigned heavy_running;
    /* The two tenants (lane numbers below SN_POOL_LANES) that submitted
     * last, the latest first, and when (ms): whether a busy tenant has
     * anyone to yield to (nice_hint). UINT_MAX: none yet. */
    unsigned recent[2];
    int64_t recent_ms[2];
    unsigned idle;         /* threads waiting for a job */
    unsigned express_idle; /* of them, express threads */
    /* Wake-ups sent and not yet taken: each is meant for one job, so a
     * thread already woken is not counted free twice. */
    unsigned woken, express_woken;
    int stop;
    struct worker *threads;
    unsigned n;
};

/* One thread of the pool. */
struct worker {
    pthread_t tid;
    struct sn_pool *p;
    int express;
};

/* FNV-1a: spreads tenants over the lanes; not a defence, only a spread. */
static unsigned
lane_of(const char *tenant)
{
    uint32_t h = 2166136261u;

    for (; *tenant != '\0'; tenant++)
        h = (h ^ (unsigned char)*tenant) * 16777619u;
    return h % SN_POOL_LANES;
}

static void
ring_append(struct sn_pool *p, struct lane *l)
{
    l->next = NULL;
    if (p->ring_tail != NULL)
        p->ring_tail->next = l;
    else
        p->ring = l;
    p->ring_tail = l;
}

/* Another tenant submitted within this long: a busy one yields to it. */
#define YIELD_WINDOW_MS 250

/*
 * With p->lock held, the job of lane l just taken (counted as running):
 * the nice its work elsewhere asks for. A busy tenant's (l has more than
 * this job) yields while another tenant has submitted lately; a light
 * tenant's, or a busy one alone, does not: with no one to yield to it
 * would only lose the CPU to whatever else runs on the machine.
 */
static int
hint_for(const struct sn_pool *p, const struct lane *l, unsigned lane)
{
    unsigned tenant = lane % SN_POOL_LANES, i;
    int64_t now;

    if (l->running <= 1 && l->head == NULL)
        return 0;
    now = sn_mono_ms();
    for (i = 0; i < 2; i++)
        if (p->recent[i] != UINT_MAX && p->recent[i] != tenant &&
            now - p->recent_ms[i] <= (int64_t)p->par.yield_window_ms)
            return p->par.nice;
    return 0;
}

/* A heavy lane may start a job only within both limits. */
static int
runnable(const struct sn_pool *p, const struct lane *l)
{
    return !l->heavy || (p->heavy_running < p->par.heavy_max &&
                         l->running < p->par.heavy_per_lane);
}

/* A light lane: its one queued job would be all it has running. */
static int
light(const struct lane *l)
{
    return l->running == 0 && l->head == l->tail;
}

/* Express threads waiting and not woken already. */
static unsigned
express_free(const struct sn_pool *p)
{
    return p->express_idle - p->express_woken;
}

/* May this thread take a job of lane l now? */
static int
takes(const struct sn_pool *p, const struct lane *l, int express)
{
    if (!runnable(p, l))
        return 0;
    if (p->par.express == 0)
        return 1;
    return express ? light(l) : !light(l) || express_free(p) == 0;
}

/*
 * Lane l has a job that may now be taken: wakes one waiting thread that
 * may take it, if any is free (one wake-up per job, not every thread: a
 * busy pool would otherwise pay a futex wake and a sleep per thread for
 * each job). A thread already running takes it when it is done.
 */
static void
wake(struct sn_pool *p, const struct lane *l)
{
    if (l->head == NULL || !runnable(p, l))
        return;
    if (takes(p, l, 1) && p->par.express != 0 && express_free(p) > 0) {
        p->express_woken++;
        pthread_cond_signal(&p->express_cond);
    } else if (takes(p, l, 0) && p->idle - p->express_idle > p->woken) {
        p->woken++;
        pthread_cond_signal(&p->cond);
    }
}

/* The first lane in the ring (but skip) that a free thread may take
 * from: wakes that thread. For a thread going idle with jobs it may not
 * take. */
static void
wake_any(struct sn_pool *p, const struct lane *skip)
{
    unsigned woken = p->woken, express_woken = p->express_woken;
    const struct lane *l;

    for (l = p->ring; l != NULL; l = l->next) {
        if (l == skip)
            continue;
        wake(p, l);
        if (p->woken != woken || p->express_woken != express_woken)
            return;
    }
}

/* Waits for a wake-up (lock held); counts the thread idle meanwhile. */
static void
idle_wait(struct sn_pool *p, int express)
{
    p->idle++;
    if (express) {
        p->express_idle++;
        pthread_cond_wait(&p->express_cond, &p->lock);
        p->express_idle--;
        if (p->express_woken > 0)
            p->express_woken--;
    } else {
        pthread_cond_wait(&p->cond, &p->lock);
        if (p->woken > 0)
            p->woken--;
    }
    p->idle--;
}

/*
 * The next job for a thread: the first lane in the ring that it may take
 * from gives up its head and goes to the back of the ring if it has more.
 * Lanes passed over keep their place. NULL if nothing may run now.
 */
static struct sn_pool_job *
take(struct sn_pool *p, int express, const struct lane *skip)
{
    struct lane *l, *prev = NULL;
    struct sn_pool_job *job;

    for (l = p->ring; l != NULL && (l == skip || !takes(p, l, express));
         l = l->next)
        prev = l;
    if (l == NULL)
        return NULL;
    if (prev != NULL)
        prev->next = l->next;
    else
        p->ring = l->next;
    if (p->ring_tail == l)
        p->ring_tail = prev;
    job = l->head;
    if ((l->head = job->next) == NULL)
        l->tail = NULL;
    else
        ring_append(p, l);
    job->next = NULL;
    p->queued--;
    l->running++;
    if (l->heavy)
        p->heavy_running++;
    return job;
}

static void *
pool_main(void *arg)
{
    struct worker *w = arg;
    struct sn_pool *p = w->p;
    const struct lane *handed = NULL;
    struct sn_pool_job *job;
    struct lane *l;

    prctl(PR_SET_NAME, p->par.name, 0, 0, 0);
    /* Per thread on Linux: anonymous work, and the bulk of a busy
     * tenant's, yields the CPU to the rest: nice raised by par.nice above
     * the thread's own (the process's, when it runs niced as a whole). */
    if (p->par.nice != 0 && !w->express) {
        id_t tid = (id_t)syscall(SYS_gettid);
        int base;

        errno = 0;
        base = getpriority(PRIO_PROCESS, tid);
        if (errno != 0)
            base = 0;
        setpriority(PRIO_PROCESS, tid, base + p->par.nice);
    }
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while ((job = take(p, w->express, handed)) == NULL &&
               !(p->stop && p->queued == 0)) {
            /*
             * Jobs this thread may not take: an express thread's whose
             * lane is not light (perhaps no longer), or a light job that
             * waits for a free express thread (a heavy slot it needed
             * freed). One free thread that may take one is woken; the
             * lane just handed to an express thread is its own.
             */
            if (p->ring != NULL && (w->express || express_free(p) > 0))
                wake_any(p, handed);
            handed = NULL;
            idle_wait(p, w->express);
        }
        handed = NULL;
        if (job == NULL)
            break;
        /* Stopping and the last job taken: threads asleep for jobs they
         * could not take may leave now. */
        if (p->stop && p->queued == 0) {
            pthread_cond_broadcast(&p->cond);
            pthread_cond_broadcast(&p->express_cond);
        }
        l = &p->lanes[job->lane];
        if (p->par.nice_hint != NULL && !w->express)
            p->par.nice_hint(hint_for(p, l, job->lane));
        pthread_mutex_unlock(&p->lock);
        p->par.run(p->par.ctx, job);
        pthread_mutex_lock(&p->lock);
        if (p->par.nice_hint != NULL && !w->express)
            p->par.nice_hint(-1);
        l->running--;
        /* A heavy slot freed lets one more job run: this thread takes it
         * next, or wakes a thread that may. */
        if (l->heavy)
            p->heavy_running--;
        /* The lane turned light: its next job is an express thread's, not
         * this one's, which skips the lane on its next take. */
        if (!w->express && l->head != NULL && light(l) && express_free(p) > 0) {
            wake(p, l);
            handed = l;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

sn_err
sn_pool_submit(struct sn_pool *p, struct sn_pool_job *job, const char *tenant,
               int heavy)
{
    struct lane *l;
    sn_err r = SN_ERR_LIMIT;

    job->lane = lane_of(tenant) + (heavy ? SN_POOL_LANES : 0);
    job->next = NULL;
    l = &p->lanes[job->lane];
    pthread_mutex_lock(&p->lock);
    if (p->par.max_queued != 0 && p->queued >= p->par.max_queued)
        goto out;
    if (l->tail != NULL)
        l->tail->next = job;
    else {
        l->head = job;
        ring_append(p, l);
    }
    l->tail = job;
    p->queued++;
    if (p->recent[0] != job->lane % SN_POOL_LANES) {
        p->recent[1] = p->recent[0];
        p->recent_ms[1] = p->recent_ms[0];
        p->recent[0] = job->lane % SN_POOL_LANES;
    }
    p->recent_ms[0] = sn_mono_ms();
    wake(p, l);
    r = SN_OK;
out:
    pthread_mutex_unlock(&p->lock);
    return r;
}

size_t
sn_pool_queued(struct sn_pool *p)
{
    size_t n;

    pthread_mutex_lock(&p->lock);
    n = p->queued;
    pthread_mutex_unlock(&p->lock);
    return n;
}

unsigned
sn_pool_idle(struct sn_pool *p)
{
    unsigned n;

    pthread_mutex_lock(&p->lock);
    n = p->idle;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void
sn_pool_stop(struct sn_pool *p)
{
    unsigned i;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->cond);
    pthread_cond_broadcast(&p->express_cond);
    pthread_mutex_unlock(&p->lock);
    for (i = 0; i < p->n; i++)
        pthread_join(p->threads[i].tid, NULL);
    free(p->threads);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    pthread_cond_destroy(&p->express_cond);
    free(p);
}

sn_err
sn_pool_start(const struct sn_pool_params *params, struct sn_pool **out)
{
    struct sn_pool *p;
    unsigned i;
    sn_err r = SN_ERR_NOMEM;

    *out = NULL;
    if (params->threads == 0 || params->run == NULL ||
        params->express >= params->threads)
        return SN_ERR_INVALID;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return SN_ERR_NOMEM;
    p->par = *params;
    if (p->par.heavy_max == 0 || p->par.heavy_max > p->par.threads)
        p->par.heavy_max = p->par.threads;
    if (p->par.heavy_per_lane == 0 || p->par.heavy_per_lane > p->par.heavy_max)
        p->par.heavy_per_lane = p->par.heavy_max;
    for (i = SN_POOL_LANES; i < 2 * SN_POOL_LANES; i++)
        p->lanes[i].heavy = 1;
    p->recent[0] = p->recent[1] = UINT_MAX;
    if (p->par.yield_window_ms == 0)
        p->par.yield_window_ms = YIELD_WINDOW_MS;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    pthread_cond_init(&p->express_cond, NULL);
    if ((p->threads = calloc(params->threads, sizeof(*p->threads))) == NULL)
        goto out;
    r = SN_ERR_INTERNAL;
    for (; p->n < params->threads; p->n++) {
        p->threads[p->n].p = p;
        p->threads[p->n].express = p->n >= params->threads - params->express;
        if (pthread_create(&p->threads[p->n].tid, NULL, pool_main,
                           &p->threads[p->n]) != 0)
            goto out;
    }
    *out = p;
    p = NULL;
    r = SN_OK;
out:
    sn_pool_stop(p);
    return r;
}
