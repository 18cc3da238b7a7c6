/*
 * auditlog: group commit for the audit log. Callers hand their records to
 * one writer thread and wait; the writer takes every record waiting,
 * writes them in one transaction (one fsync with synchronous=FULL) and
 * wakes the callers whose records are now durable. Each caller's records
 * sit in their own savepoint, so one caller's failure (a constraint, a
 * trigger) fails only that caller. A caller returns only after its own
 * records' commit: "no record, no signature" holds under load.
 *
 * Records can be announced before they exist (a signature in the making).
 * Taking a batch, the writer first waits, at most GATHER_NS, for the
 * records announced by then: one sync then covers every request that was
 * already signing, instead of one sync each (PostgreSQL's commit_delay
 * with commit_siblings, bounded by what is actually on its way). Nothing
 * announced, nothing waited for: a lone request is committed at once.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "common/log.h"

#define MAX_BATCH_JOBS 1024
#define GATHER_NS 1000000L

static sn_err
insert_one(struct sn_store *st, struct sn_audit *a)
{
    sqlite3_stmt *s = st->winsert;
    int rc;

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    sqlite3_bind_int64(s, 1, a->time);
    sqlite3_bind_text(s, 2, a->subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, a->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, a->token, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, a->client, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, a->action, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, a->digest_alg, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, a->digest, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, a->scheme, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 10, a->result, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 11, a->detail, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return SN_ERR_DB;
    a->id = sqlite3_last_insert_rowid(st->wdb);
    return SN_OK;
}

static sn_err
insert_tsa(struct sn_store *st, const struct sn_tsa_record *t)
{
    sqlite3_stmt *s = st->wtsa;
    int rc;

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    sqlite3_bind_text(s, 1, t->serial, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, t->gen_time, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, t->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, t->imprint, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, t->policy, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SN_OK : SN_ERR_DB;
}

static int
exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

enum ctl { BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ROLLBACK_TO, NCTL };

static const char *const ctl_sql[NCTL] = {
    [BEGIN] = "BEGIN IMMEDIATE", [COMMIT] = "COMMIT",
    [ROLLBACK] = "ROLLBACK",     [SAVEPOINT] = "SAVEPOINT job",
    [RELEASE] = "RELEASE job",   [ROLLBACK_TO] = "ROLLBACK TO job",
};

static int
ctl(struct sn_store *st, enum ctl c)
{
    sqlite3_stmt *s = st->wctl[c];
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    return rc == SQLITE_DONE;
}

/*
 * Writes one batch of jobs; sets each job's result. A job of one record
 * needs no savepoint: a failed statement undoes itself.
 */
static void
write_batch(struct sn_store *st, struct audit_job *jobs)
{
    struct audit_job *j;
    size_t i;
    int ok, single;

    if (!ctl(st, BEGIN)) {
        for (j = jobs; j != NULL; j = j->next)
            j->result = SN_ERR_DB;
        return;
    }
    for (j = jobs; j != NULL; j = j->next) {
        j->result = SN_OK;
        single = (j->tsa != NULL) + j->n == 1;
        if (!single && !ctl(st, SAVEPOINT)) {
            j->result = SN_ERR_DB;
            continue;
        }
        if (j->tsa != NULL)
            j->result = insert_tsa(st, j->tsa);
        for (i = 0; i < j->n && j->result == SN_OK; i++)
            j->result = insert_one(st, &j->recs[i]);
        if (single)
            continue;
        if (j->result == SN_OK)
            ok = ctl(st, RELEASE);
        else
            ok = ctl(st, ROLLBACK_TO) && ctl(st, RELEASE);
        if (!ok)
            j->result = SN_ERR_DB;
    }
    if (!ctl(st, COMMIT)) {
        sn_error("audit: commit failed: %s", sqlite3_errmsg(st->wdb));
        ctl(st, ROLLBACK);
        for (j = jobs; j != NULL; j = j->next)
            j->result = SN_ERR_DB;
    }
}

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
    struct audit_job *jobs, *j, *last, *next;
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
        write_batch(st, jobs);
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
sn_auditlog_start(struct sn_store *st, const char *path)
{
    pthread_condattr_t ca;
    size_t i;
    int rc;

    pthread_mutex_init(&st->qlock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->qcond, &ca);
    pthread_condattr_destroy(&ca);
    rc = sqlite3_open_v2(path, &st->wdb,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return SN_ERR_DB;
    sqlite3_busy_timeout(st->wdb, 10000);

    if (!exec(st->wdb, "PRAGMA synchronous=FULL") ||
        sqlite3_prepare_v2(st->wdb,
                           "INSERT INTO audit (time, subscriber_id, key_id,"
                           " token_id, client, action, digest_algorithm,"
                           " digest, scheme, result, detail)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &st->winsert, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->wdb,
                           "INSERT INTO tsa_tokens (serial, gen_time, hash,"
                           " imprint, policy) VALUES (?, ?, ?, ?, ?)",
                           -1, &st->wtsa, NULL) != SQLITE_OK)
        return SN_ERR_DB;
    for (i = 0; i < NCTL; i++)
        if (sqlite3_prepare_v2(st->wdb, ctl_sql[i], -1, &st->wctl[i], NULL) !=
            SQLITE_OK)
            return SN_ERR_DB;
    if (pthread_create(&st->writer, NULL, writer, st) != 0)
        return SN_ERR_INTERNAL;
    st->writer_running = 1;
    return SN_OK;
}

void
sn_auditlog_stop(struct sn_store *st)
{
    size_t i;

    if (st->writer_running) {
        pthread_mutex_lock(&st->qlock);
        st->stop = 1;
        pthread_cond_signal(&st->qcond);
        pthread_mutex_unlock(&st->qlock);
        pthread_join(st->writer, NULL);
        st->writer_running = 0;
    }

    for (i = 0; i < NCTL; i++) {
        sqlite3_finalize(st->wctl[i]);
        st->wctl[i] = NULL;
    }
    sqlite3_finalize(st->winsert);
    sqlite3_finalize(st->wtsa);
    st->winsert = NULL;
    st->wtsa = NULL;
    sqlite3_close(st->wdb);
    st->wdb = NULL;
}

static void
enqueue(struct sn_store *st, struct audit_job *job, int announced)
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
submit(struct sn_store *st, struct audit_job *job)
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
    struct audit_job *job;

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
    struct audit_job job;

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
    struct audit_job job;

    memset(&job, 0, sizeof(job));
    job.tsa = t;
    return submit(st, &job);
}

sn_err
sn_store_audit_add(struct sn_store *st, struct sn_audit *a)
{
    return sn_store_audit_add_many(st, a, 1);
}
