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
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#define MAX_BATCH_JOBS 1024
#define GATHER_NS 1000000L

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

static void *
writer(void *arg)
{
    struct sn_store *st = arg;
    struct sn_audit_job *jobs, *j, *last, *next;
    size_t n;

    prctl(PR_SET_NAME, "sn-audit", 0, 0, 0);
    pthread_mutex_lock(&st->qlock);
    for (;;) {
        while (st->head == NULL && !st->stop)
            pthread_cond_wait(&st->qcond, &st->qlock);
        if (st->head == NULL && st->stop)
            break;
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
        st->ops->audit_write(st->be, jobs);
        /* Wake exactly the callers of this batch, each on its own
         * semaphore (no herd on a shared condition), or call them back. */
        for (j = jobs; j != NULL; j = next) {
            next = j->next;
            if (j->cb != NULL) {
                j->cb(j->cbarg, j->result);
                free(j);
            } else
                sem_post(&j->done);
        }
        pthread_mutex_lock(&st->qlock);
    }
    pthread_mutex_unlock(&st->qlock);
    return NULL;
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

    if (n == 0)
        return SN_OK;
    memset(&job, 0, sizeof(job));
    job.recs = a;
    job.n = n;
    return submit(st, &job);
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
