/*
 * pool: a fixed set of threads taking jobs from one bounded queue, served
 * fairly. Each job is queued in the lane of its tenant (a subscriber, or a
 * client address for anonymous work) and the lanes are served round-robin,
 * one job at a time, so a tenant with a thousand jobs queued delays
 * another's next job by at most one job per thread. Jobs marked heavy (key
 * generation) run at most heavy_max at once in the pool and heavy_per_lane
 * at once per lane; the rest wait in their lane, queued rather than refused,
 * while the light jobs behind them go on.
 *
 * Express threads keep a tenant that asks little from waiting behind one
 * that asks much: the last `express` threads run at the process's own CPU
 * priority and take only a job whose lane has nothing running and nothing
 * else queued (a light tenant), while the others run at `nice` and take
 * the rest (and a light job only when no express thread is free). A tenant
 * that keeps every thread busy thus runs its signatures below the priority
 * of the event threads, the audit writer and a light tenant's signature,
 * which the scheduler then runs first instead of after a time slice of the
 * busy tenant's. A job wakes one waiting thread that may take it, never
 * all of them: a thread that finishes a job takes the next itself. Its
 * callers are the server's own (trusted); it knows nothing of HTTP.
 */
#ifndef SN_POOL_H
#define SN_POOL_H

#include <stddef.h>

#include "common/err.h"

struct sn_pool;

/* Lanes per kind of job: tenants are hashed onto them, so two tenants may
 * share one (and its fair share). */
#define SN_POOL_LANES 256

/* Embedded in the caller's request; the pool owns it while it is queued. */
struct sn_pool_job {
    struct sn_pool_job *next;
    unsigned lane; /* set by sn_pool_submit */
};

typedef void (*sn_pool_fn)(void *ctx, struct sn_pool_job *job);

struct sn_pool_params {
    const char *name;        /* thread name for top -H and gdb, 15 chars */
    unsigned threads;        /* at least 1 */
    size_t max_queued;       /* jobs waiting; 0: no bound */
    unsigned heavy_max;      /* heavy jobs running at once; 0: threads */
    unsigned heavy_per_lane; /* per lane; 0: heavy_max */
    int nice;                /* added to the threads' nice value (Linux) */
    unsigned express;        /* of threads, kept for light lanes at nice 0 */
    /* With express threads: told, before each job of another thread, the
     * nice its work elsewhere (the keeper) should have: `nice` for a busy
     * tenant's job (its lane has others queued or running) while another
     * tenant has submitted in the last yield_window_ms; 0 for a busy
     * tenant alone and for a light tenant's job that a bulk thread took
     * because the express one was busy; -1 after the job. Called with the
     * pool's lock held: it must not block. NULL: not told. */
    void (*nice_hint)(int nice);
    unsigned yield_window_ms; /* 0: 250 */
    sn_pool_fn run;           /* runs one job, on a pool thread */
    void *ctx;
};

sn_err sn_pool_start(const struct sn_pool_params *params, struct sn_pool **out);
/*
 * Queues job in the lane of tenant (NUL-terminated; "" is a lane like any
 * other). SN_ERR_LIMIT if max_queued jobs are waiting already: the job is
 * not queued and the caller still owns it.
 */
sn_err sn_pool_submit(struct sn_pool *p, struct sn_pool_job *job,
                      const char *tenant, int heavy);
/* Jobs waiting now (for tests and metrics). */
size_t sn_pool_queued(struct sn_pool *p);
/* Threads waiting for a job now (for tests). */
unsigned sn_pool_idle(struct sn_pool *p);
/* Stops and joins the threads once the queue is empty; NULL is a no-op. */
void sn_pool_stop(struct sn_pool *p);

#endif
