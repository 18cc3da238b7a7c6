/*
 * auditlog: group commit for the audit log. Callers hand their records to
 * one writer thread and wait; the writer takes every record waiting, has
 * the backend write them in one transaction (its audit_write op: one
 * sync, each caller's records failing alone) and wakes the callers whose
 * records are now durable. This file knows no database. A caller returns
 * only after its own records' commit: "no record, no signature" holds
 * under load.
 *
 * Records can be announced before they exist (a signature in the making).
 * Taking a batch, the writer first waits, at most GATHER_NS, for the
 * records announced by then: one sync then covers every request that was
 * already signing, instead of one sync each (PostgreSQL's commit_delay
 * with commit_siblings, bounded by what is actually on its way). Nothing
 * announced, nothing waited for: a lone request is committed at once.
 *
 * Between batches, and once a second when idle, the writer does its
 * chores, each short: it writes the tally of folded records (tally.h)
 * and, once a minute when a retention is set, compacts old time-stamp
 * token records in batches of COMPACT_BATCH, one batch between two group
 * commits, so no commit waits behind more than one. Below the hard
 * free-space floor it refuses every job of records (the callers answer
 * 503) but still runs the probe.
 */
#include "store/store_int.h"
#include "store/tally.h"

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "common/log.h"

#define MAX_BATCH_JOBS 1024
#define GATHER_NS 1000000L
#define TICK_MS 1000
#define COMPACT_EVERY_MS 60000
#define COMPACT_BATCH 1000
#define COMPACT_BATCHES 60 /* per minute at most: 60,000 records */
#define PROBE_WAIT_MS 2000

/* With qlock held: waits (bounded) for the records announced so far. */
static void
gather(struct sn_store *st)
{
    uint64_t target = st->announced;
    struct timespec dl;

    if (st->settled >= target)
        return;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_nsec += GATHER_NS;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    while (st->settled < target && !st->stop)
        if (pthread_cond_timedwait(&st->qcond, &st->qlock, &dl) != 0)
            break;
}

int64_t
sn_store_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes what the tally counted since its last write. Writer only. */
static void
flush_tally(struct sn_store *st)
{
    uint64_t lost = 0;
    sn_err r = SN_OK;

    if (!sn_tally_pending(st->tally))
        return;
    if (sn_tally_take(st->tally, st->tbatch, &lost) > 0 &&
        sn_store_space(st) != SN_SPACE_CRITICAL)
        r = st->ops->audit_tally(st->be, st->tbatch->rec, st->tbatch->n,
                                 &st->log);
    else if (st->tbatch->n > 0)
        r = SN_ERR_DB; /* kept counting in memory until there is room */
    if (r != SN_OK)
        sn_error("audit: cannot write %zu folded record(s) yet", st->tbatch->n);
    if (lost > 0)
        sn_error("audit: %llu refused request(s) not recorded: the "
                 "aggregation table is full",
                 (unsigned long long)lost);
    sn_tally_done(st->tally, st->tbatch, r == SN_OK, time(NULL));
}

/* One retention step if one is due. Writer only; qlock not held. */
static void
compact_step(struct sn_store *st, unsigned days, int64_t now)
{
    size_t removed = 0;

    if (days == 0)
        return;
    if (st->compact_left == 0) {
        if (now < st->next_compact_ms)
            return;
        st->next_compact_ms = now + COMPACT_EVERY_MS;
        st->compact_left = COMPACT_BATCHES;
    }
    st->compact_left--;
    if (st->ops->tsa_compact(st->be, time(NULL) - (time_t)days * 86400,
                             COMPACT_BATCH, &removed) != SN_OK) {
        sn_error("tsa: retention step failed; next try in a minute");
        removed = 0;
    }
    if (removed < COMPACT_BATCH)
        st->compact_left = 0; /* done for this minute */
}

/* With qlock held: whether a chore is due now. */
static int
chores_due(struct sn_store *st, int64_t now)
{
    return now >= st->next_tick_ms || st->compact_left > 0;
}

/* The chores; qlock held on entry and exit, released meanwhile. */
static void
chores(struct sn_store *st)
{
    unsigned days = st->limits.tsa_retention_days;
    int64_t now = sn_store_now_ms();

    if (now >= st->next_tick_ms)
        st->next_tick_ms = now + TICK_MS;
    pthread_mutex_unlock(&st->qlock);
    flush_tally(st);
    compact_step(st, days, now);
    pthread_mutex_lock(&st->qlock);
}

/* With qlock held: waits for a job, the stop or the next tick. */
static void
wait_work(struct sn_store *st)
{
    struct timespec dl;
    int64_t at = st->next_tick_ms;

    dl.tv_sec = (time_t)(at / 1000);
    dl.tv_nsec = (long)(at % 1000) * 1000000L;
    pthread_cond_timedwait(&st->qcond, &st->qlock, &dl);
}

/* A job the front does itself rather than the backend's audit_write. */
static void
run_other(struct sn_store *st, struct sn_audit_job *j, int *flushed)
{
    switch (j->kind) {
    case SN_JOB_FLUSH:
        if (!*flushed)
            flush_tally(st);
        *flushed = 1;
        j->result = SN_OK;
        break;
    case SN_JOB_PROBE:
        j->result = st->ops->write_probe(st->be);
        break;
    case SN_JOB_COMPACT:
        j->result =
            st->ops->tsa_compact(st->be, j->before, j->max, &j->removed);
        break;
    case SN_JOB_CHECKPOINT:
        j->result = st->ops->log_checkpoint_put(st->be, j->cp_size, j->cp_root,
                                                j->cp_note, time(NULL));
        break;
    case SN_JOB_RECORDS:
        j->result = SN_ERR_DB; /* refused: no room */
        break;
    }
}

/* Wakes exactly the callers of jobs, each on its own semaphore (no herd
 * on a shared condition), or calls them back. */
static void
wake(struct sn_audit_job *jobs)
{
    struct sn_audit_job *j, *next;

    for (j = jobs; j != NULL; j = next) {
        next = j->next;
        if (j->cb != NULL) {
            j->cb(j->cbarg, j->result);
            free(j);
        } else
            sem_post(&j->done);
    }
}

/*
 * Runs one batch: the jobs of records go to the backend in one
 * transaction (unless the disk is past its floor), in their order; the
 * others are done here. Then every caller is woken.
 */
static void
run_batch(struct sn_store *st, struct sn_audit_job *jobs)
{
    struct sn_audit_job *recs = NULL, *others = NULL, *j, *next;
    struct sn_audit_job **rtail = &recs, **otail = &others;
    int full = sn_store_space(st) == SN_SPACE_CRITICAL, flushed = 0;

    for (j = jobs; j != NULL; j = next) {
        next = j->next;
        j->next = NULL;
        if (j->kind == SN_JOB_RECORDS && !full) {
            *rtail = j;
            rtail = &j->next;
        } else {
            run_other(st, j, &flushed);
            *otail = j;
            otail = &j->next;
        }
    }
    if (recs != NULL)
        st->ops->audit_write(st->be, recs, &st->log);
    wake(recs);
    wake(others);
}

static void *
writer(void *arg)
{
    struct sn_store *st = arg;
    struct sn_audit_job *jobs, *last;
    size_t n;

    prctl(PR_SET_NAME, "sn-audit", 0, 0, 0);
    pthread_mutex_lock(&st->qlock);
    for (;;) {
        while (st->head == NULL && !st->stop &&
               !chores_due(st, sn_store_now_ms()))
            wait_work(st);
        if (st->head == NULL && st->stop)
            break;
        if (chores_due(st, sn_store_now_ms()))
            chores(st);
        if (st->head == NULL)
            continue;
        gather(st);
        /* Take up to MAX_BATCH_JOBS waiting jobs. */
        jobs = last = st->head;
        for (n = 1; last->next != NULL && n < MAX_BATCH_JOBS; n++)
            last = last->next;
        st->head = last->next;
        if (st->head == NULL)
            st->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&st->qlock);
        run_batch(st, jobs);
        pthread_mutex_lock(&st->qlock);
    }
    pthread_mutex_unlock(&st->qlock);
    flush_tally(st); /* the last counts, at shutdown */
    return NULL;
}

sn_err
sn_auditlog_init(struct sn_store *st)
{
    pthread_condattr_t ca;

    if ((st->tally = calloc(1, sizeof(*st->tally))) == NULL ||
        (st->tbatch = calloc(1, sizeof(*st->tbatch))) == NULL)
        return SN_ERR_NOMEM;
    sn_tally_init(st->tally);
    pthread_mutex_init(&st->plock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->pcond, &ca);
    pthread_condattr_destroy(&ca);
    st->chores_ready = 1;
    return SN_OK;
}

void
sn_auditlog_cleanup(struct sn_store *st)
{
    if (st->chores_ready) {
        sn_tally_cleanup(st->tally);
        pthread_mutex_destroy(&st->plock);
        pthread_cond_destroy(&st->pcond);
        st->chores_ready = 0;
    }
    free(st->tally);
    free(st->tbatch);
    st->tally = NULL;
    st->tbatch = NULL;
}

sn_err
sn_auditlog_start(struct sn_store *st)
{
    pthread_condattr_t ca;

    pthread_mutex_init(&st->qlock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->qcond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&st->writer, NULL, writer, st) != 0)
        return SN_ERR_INTERNAL;
    st->writer_running = 1;
    return SN_OK;
}

void
sn_auditlog_stop(struct sn_store *st)
{
    if (st->writer_running) {
        pthread_mutex_lock(&st->qlock);
        st->stop = 1;
        pthread_cond_signal(&st->qcond);
        pthread_mutex_unlock(&st->qlock);
        pthread_join(st->writer, NULL);
        st->writer_running = 0;
    }
}

static void
enqueue(struct sn_store *st, struct sn_audit_job *job, int announced)
{
    pthread_mutex_lock(&st->qlock);
    st->settled += announced != 0;
    if (st->tail != NULL)
        st->tail->next = job;
    else
        st->head = job;
    st->tail = job;
    pthread_cond_signal(&st->qcond);
    pthread_mutex_unlock(&st->qlock);
}

/* Hands job to the writer and waits until its records are committed. */
static sn_err
submit(struct sn_store *st, struct sn_audit_job *job)
{
    if (!st->writer_running)
        return SN_ERR_DB;
    if (sem_init(&job->done, 0, 0) != 0)
        return SN_ERR_INTERNAL;
    enqueue(st, job, 0);
    while (sem_wait(&job->done) != 0)
        ; /* EINTR */
    sem_destroy(&job->done);
    return job->result;
}

void
sn_store_audit_announce(struct sn_store *st)
{
    pthread_mutex_lock(&st->qlock);
    st->announced++;
    pthread_mutex_unlock(&st->qlock);
}

void
sn_store_audit_withdraw(struct sn_store *st)
{
    pthread_mutex_lock(&st->qlock);
    st->settled++;
    pthread_cond_signal(&st->qcond);
    pthread_mutex_unlock(&st->qlock);
}

static sn_err
submit_async(struct sn_store *st, struct sn_audit *a, size_t n,
             const struct sn_tsa_record *tsa, int announced, sn_audit_done done,
             void *arg)
{
    struct sn_audit_job *job;

    if (n + (tsa != NULL) == 0 || done == NULL || !st->writer_running ||
        (job = calloc(1, sizeof(*job))) == NULL) {
        if (announced)
            sn_store_audit_withdraw(st);
        return n + (tsa != NULL) == 0 || done == NULL ? SN_ERR_INVALID
                                                      : SN_ERR_DB;
    }
    job->recs = a;
    job->n = n;
    job->tsa = tsa;
    job->cb = done;
    job->cbarg = arg;
    enqueue(st, job, announced);
    return SN_OK;
}

sn_err
sn_store_audit_submit(struct sn_store *st, struct sn_audit *a, size_t n,
                      int announced, sn_audit_done done, void *arg)
{
    return submit_async(st, a, n, NULL, announced, done, arg);
}

sn_err
sn_store_tsa_submit(struct sn_store *st, const struct sn_tsa_record *t,
                    int announced, sn_audit_done done, void *arg)
{
    if (t == NULL) {
        if (announced)
            sn_store_audit_withdraw(st);
        return SN_ERR_INVALID;
    }
    return submit_async(st, NULL, 0, t, announced, done, arg);
}

sn_err
sn_store_audit_add_many(struct sn_store *st, struct sn_audit *a, size_t n)
{
    struct sn_audit_job job;
    struct sn_audit *all = NULL;
    size_t i, m = 0;
    sn_err r;

    if (n == 0)
        return SN_OK;
    /* An operator's act on a subscriber's object goes to both logs, in
     * one commit (store.h). */
    for (i = 0; i < n; i++)
        m += a[i].operator_ && a[i].subscriber[0] != '\0';
    if (m > 0) {
        if ((all = calloc(n + m, sizeof(*all))) == NULL)
            return SN_ERR_NOMEM;
        memcpy(all, a, n * sizeof(*a));
        for (i = 0, m = n; i < n; i++)
            if (a[i].operator_ && a[i].subscriber[0] != '\0') {
                all[m] = a[i];
                all[m++].subscriber[0] = '\0';
            }
    }
    memset(&job, 0, sizeof(job));
    job.recs = all != NULL ? all : a;
    job.n = all != NULL ? m : n;
    r = submit(st, &job);
    if (all != NULL) {
        /* ids assigned to the caller's records */
        for (i = 0; i < n; i++) {
            a[i].id = all[i].id;
            a[i].log_index = all[i].log_index;
        }
        free(all);
    }
    return r;
}

sn_err
sn_store_tsa_add(struct sn_store *st, const struct sn_tsa_record *t)
{
    struct sn_audit_job job;

    memset(&job, 0, sizeof(job));
    job.tsa = t;
    return submit(st, &job);
}

sn_err
sn_store_audit_add(struct sn_store *st, struct sn_audit *a)
{
    return sn_store_audit_add_many(st, a, 1);
}

void
sn_store_audit_tally(struct sn_store *st, const struct sn_audit *a)
{
    sn_tally_add(st->tally, a);
}

/* Has the writer write the tally now, so that a reader sees every refusal
 * counted so far. Nothing to do, nothing waited for. */
sn_err
sn_auditlog_flush(struct sn_store *st)
{
    struct sn_audit_job job;

    if (!sn_tally_pending(st->tally))
        return SN_OK;
    memset(&job, 0, sizeof(job));
    job.kind = SN_JOB_FLUSH;
    return submit(st, &job);
}

/* A checkpoint kept by the writer, between two batches (logcp.c). */
sn_err
sn_auditlog_checkpoint_put(struct sn_store *st, uint64_t size,
                           const uint8_t root[32], const char *note)
{
    struct sn_audit_job job;

    memset(&job, 0, sizeof(job));
    job.kind = SN_JOB_CHECKPOINT;
    job.cp_size = size;
    job.cp_root = root;
    job.cp_note = note;
    return submit(st, &job);
}

sn_err
sn_store_tsa_compact(struct sn_store *st, time_t before, size_t max,
                     size_t *removed)
{
    struct sn_audit_job job;
    sn_err r;

    *removed = 0;
    memset(&job, 0, sizeof(job));
    job.kind = SN_JOB_COMPACT;
    job.before = before;
    job.max = max;
    if ((r = submit(st, &job)) == SN_OK)
        *removed = job.removed;
    return r;
}

/* The writer's answer to a probe: kept for the next second's callers. */
static void
probe_done(void *arg, sn_err result)
{
    struct sn_store *st = arg;

    pthread_mutex_lock(&st->plock);
    st->probe_result = result;
    st->probe_at_ms = sn_store_now_ms();
    st->probing = 0;
    pthread_cond_broadcast(&st->pcond);
    pthread_mutex_unlock(&st->plock);
}

/* With plock held: hands a probe to the writer. */
static sn_err
probe_start(struct sn_store *st)
{
    struct sn_audit_job *job;

    if (!st->writer_running || (job = calloc(1, sizeof(*job))) == NULL)
        return SN_ERR_DB;
    job->kind = SN_JOB_PROBE;
    job->cb = probe_done;
    job->cbarg = st;
    st->probing = 1;
    enqueue(st, job, 0);
    return SN_OK;
}

sn_err
sn_store_probe(struct sn_store *st)
{
    int64_t now = sn_store_now_ms(), until = now + PROBE_WAIT_MS;
    struct timespec dl;
    sn_err r;

    pthread_mutex_lock(&st->plock);
    if (st->probe_at_ms != 0 && now - st->probe_at_ms < TICK_MS) {
        r = st->probe_result;
        goto out;
    }
    if (!st->probing && (r = probe_start(st)) != SN_OK)
        goto out;
    dl.tv_sec = (time_t)(until / 1000);
    dl.tv_nsec = (long)(until % 1000) * 1000000L;
    while (st->probing)
        if (pthread_cond_timedwait(&st->pcond, &st->plock, &dl) != 0)
            break;
    /* A writer that has not answered within the wait cannot write. */
    r = st->probing ? SN_ERR_IO : st->probe_result;
out:
    pthread_mutex_unlock(&st->plock);
    return r;
}
