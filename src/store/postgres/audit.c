/*
 * postgres/audit: the PostgreSQL transaction of the audit log's group
 * commit (the batching is in store/auditlog.c), and the transparency
 * log's tables. A batch is one transaction on the writer's own
 * connection (one WAL flush with synchronous_commit = on); each caller's
 * records sit in a savepoint (in PostgreSQL a failed statement spoils the
 * whole transaction, so every job has one), so one caller's failure fails
 * only that caller.
 *
 * Several nodes append to one log: each batch takes the log's advisory
 * transaction lock first, so batches of all nodes are sequenced one after
 * another, and a node whose tree edge is behind the stored tree (another
 * node appended since) reloads the edge from the stored hashes before it
 * appends. Checkpoints are signed by one node at a time (log_leader).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"

#include "store/postgres/pg_int.h"

/* pg_advisory locks: the log's sequence (per transaction) and its
 * checkpoint signer (per session) */
#define LOG_LOCK "7453109462846417721"
#define LEADER_LOCK "7453109462846417722"

static sn_err
writer(struct pg_store *st)
{
    /* waiting longer than this for the log's lock (a node paused inside
     * its batch) fails the batch (503) rather than every node's */
    return sn_pg_conn_ready(st, &st->w, "SET lock_timeout = '10s'");
}

#define AUDIT_INSERT_COLS                                                      \
    "time, subscriber_id, key_id, token_id, client, action,"                   \
    " digest_algorithm, digest, scheme, result, detail, policy, principal,"    \
    " sig_sha256, digest_salt, log_index"
static const char sql_insert[] =
    "INSERT INTO audit (" AUDIT_INSERT_COLS ") VALUES ($1, $2, $3, $4, $5,"
    " $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::bigint)"
    " RETURNING id";
/* the pipeline's: the id taken from the sequence beforehand */
static const char sql_insert_id[] =
    "INSERT INTO audit (" AUDIT_INSERT_COLS ", id) VALUES ($1, $2, $3, $4,"
    " $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::bigint, $17)";
static const char sql_entry[] =
    "INSERT INTO log_entries (idx, audit_id, spki, data, leaf)"
    " VALUES ($1, $2, $3, $4, $5)";
static const char sql_hash[] =
    "INSERT INTO log_hashes (level, idx, hash) VALUES ($1, $2, $3)";
static const char sql_tsa[] =
    "INSERT INTO tsa_tokens (serial, gen_time, hash, imprint, policy,"
    " recorded_at) VALUES ($1, $2, $3, $4, $5, $6)";
/* Two statements: in READ COMMITTED a statement reads the snapshot taken
 * when it starts, so the size must be read by one that starts after the
 * lock is held (then it sees every batch committed before). */
static const char sql_lock[] = "SELECT pg_advisory_xact_lock(" LOG_LOCK ")";
static const char sql_size[] =
    "SELECT coalesce(max(idx) + 1, 0) FROM log_entries";
static const char sql_ids[] =
    "SELECT nextval(pg_get_serial_sequence('audit', 'id'))"
    " FROM generate_series(1, $1)";

/* A write of the writer's: run now, or queued in the batch's pipeline. */
static sn_err
wrun(struct pg_store *st, const char *sql, const struct sn_pg_params *p)
{
    if (!st->piped)
        return sn_pg_exec(&st->w, sql, p, NULL, NULL);
    st->nsent++;
    return sn_pg_send(&st->w, sql, p);
}

static sn_err
insert_one(struct pg_store *st, struct sn_audit *a, int64_t log_index)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)a->time);
    sn_pg_p_text(&p, a->subscriber);
    sn_pg_p_text(&p, a->key);
    sn_pg_p_text(&p, a->token);
    sn_pg_p_text(&p, a->client);
    sn_pg_p_text(&p, a->action);
    sn_pg_p_text(&p, a->digest_alg);
    sn_pg_p_text(&p, a->digest);
    sn_pg_p_text(&p, a->scheme);
    sn_pg_p_text(&p, a->result);
    sn_pg_p_text(&p, a->detail);
    sn_pg_p_text(&p, a->policy);
    sn_pg_p_text(&p, a->principal);
    sn_pg_p_text(&p, a->sig_sha256);
    sn_pg_p_text(&p, a->digest_salt);
    if (log_index >= 0)
        sn_pg_p_int(&p, log_index);
    else
        sn_pg_p_text(&p, NULL);
    a->log_index = log_index;
    if (st->piped) { /* a->id is the sequence's, taken before */
        sn_pg_p_int(&p, a->id);
        return wrun(st, sql_insert_id, &p);
    }
    r = sn_pg_exec(&st->w, sql_insert, &p, &res, NULL);
    if (r == SN_OK && (res == NULL || PQntuples(res) != 1))
        r = SN_ERR_DB;
    if (r == SN_OK)
        a->id = sn_pg_col_int(res, 0, 0);
    PQclear(res);
    return r;
}

/* The log's sink (store/logseq.h), in the writer's open transaction. */
static sn_err
put_entry(void *arg, uint64_t index, const uint8_t *entry, size_t len,
          const uint8_t leaf[32])
{
    struct pg_store *st = arg;
    struct sn_pg_params p;
    uint8_t *spki = NULL;
    size_t spkilen = 0;
    sn_err r;

    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)index);
    sn_pg_p_int(&p, st->cur->id);
    if (st->cur->spki_sha256[0] != '\0' &&
        sn_hex_decode(st->cur->spki_sha256, &spki, &spkilen) == SN_OK)
        sn_pg_p_bytes(&p, spki, spkilen);
    else
        sn_pg_p_bytes(&p, NULL, 0);
    sn_pg_p_bytes(&p, st->cur_text ? entry : NULL, len);
    sn_pg_p_bytes(&p, leaf, 32);
    r = wrun(st, sql_entry, &p);
    free(spki);
    return r;
}

static sn_err
put_hash(void *arg, unsigned level, uint64_t index, const uint8_t hash[32])
{
    struct pg_store *st = arg;
    struct sn_pg_params p;

    if (level == 0)
        return SN_OK; /* kept with its entry (put_entry) */
    sn_pg_p_init(&p);
    sn_pg_p_int(&p, level);
    sn_pg_p_int(&p, (int64_t)index);
    sn_pg_p_bytes(&p, hash, 32);
    return wrun(st, sql_hash, &p);
}

static sn_err
add_entry(struct pg_store *st, const struct sn_audit *a, struct sn_logseq *ls,
          int text)
{
    const struct sn_logseq_sink sink = {put_entry, put_hash, st};
    sn_err r;

    st->cur = a;
    st->cur_text = text;
    r = sn_log_entry_append(a, ls, &sink);
    st->cur = NULL;
    return r;
}

static sn_err
insert_logged(struct pg_store *st, struct sn_audit *a, struct sn_logseq *ls,
              int text)
{
    sn_err r;

    if ((r = insert_one(st, a, sn_logseq_next(ls))) != SN_OK)
        return r;
    return add_entry(st, a, ls, text);
}

static sn_err
insert_tsa(struct pg_store *st, const struct sn_tsa_record *t)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, t->serial);
    sn_pg_p_text(&p, t->gen_time);
    sn_pg_p_text(&p, t->hash);
    sn_pg_p_text(&p, t->imprint);
    sn_pg_p_text(&p, t->policy);
    sn_pg_p_int(&p, (int64_t)time(NULL));
    return wrun(st, sql_tsa, &p);
}

static sn_err
ctl(struct pg_store *st, const char *sql)
{
    return sn_pg_exec(&st->w, sql, NULL, NULL, NULL);
}

static sn_err
read_hashes(void *arg, unsigned level, uint64_t start, size_t n,
            uint8_t (*out)[SN_TLOG_HASH])
{
    return sn_pg_log_hashes(arg, level, start, n, out);
}

/* The edge of the stored tree of size, if this node's is not it. */
static sn_err
log_reload(struct pg_store *st, struct sn_logseq *ls, uint64_t size)
{
    const struct sn_tlog_reader rd = {read_hashes, st};
    struct sn_tlog_edge e;
    sn_err r;

    if (size == ls->edge.size)
        return SN_OK;
    /* The stored tree lost entries this node appended or saw (a restored
     * or altered database): appending again would fork the log. */
    if (size < ls->edge.size) {
        sn_error("log: the stored tree has %llu entries, fewer than the "
                 "%llu this node knew: the database was restored or "
                 "altered; the log is stopped (nothing is signed)",
                 (unsigned long long)size, (unsigned long long)ls->edge.size);
        __atomic_store_n(&ls->broken, 1, __ATOMIC_SEQ_CST);
        return SN_ERR_STATE;
    }
    /* committed before the lock was granted: visible to every
     * connection, and nothing appends while it is held */
    if ((r = sn_tlog_edge_load(&rd, size, &e)) != SN_OK) {
        sn_error("log: the stored tree of another node cannot be read");
        return r;
    }
    sn_logseq_reset(ls, &e);
    return SN_OK;
}

/*
 * Inside the batch's transaction: the log's lock (other nodes' batches
 * wait for this one's commit), then the edge made to match the stored
 * tree if another node appended since this one's last batch.
 */
static sn_err
log_sync(struct pg_store *st, struct sn_logseq *ls)
{
    PGresult *res = NULL;
    uint64_t size;
    sn_err r;

    if (!ls->on || ls->broken)
        return SN_OK;
    if ((r = sn_pg_exec(&st->w, sql_lock, NULL, &res, NULL)) != SN_OK)
        return r;
    PQclear(res);
    res = NULL;
    if ((r = sn_pg_exec(&st->w, sql_size, NULL, &res, NULL)) != SN_OK)
        return r;
    size = (uint64_t)sn_pg_col_int(res, 0, 0);
    PQclear(res);
    return log_reload(st, ls, size);
}

static void
fail_all(struct sn_audit_job *jobs)
{
    for (; jobs != NULL; jobs = jobs->next)
        jobs->result = SN_ERR_DB;
}

/* One job in its savepoint; SN_ERR_DB if the transaction is lost. */
static sn_err
write_job(struct pg_store *st, struct sn_audit_job *j, struct sn_logseq *ls)
{
    size_t i;

    if (ctl(st, "SAVEPOINT job") != SN_OK)
        return SN_ERR_DB;
    sn_logseq_mark(ls);
    j->result = SN_OK;
    if (j->tsa != NULL)
        j->result = insert_tsa(st, j->tsa);
    for (i = 0; i < j->n && j->result == SN_OK; i++)
        j->result = insert_logged(st, &j->recs[i], ls, 0);
    if (j->result == SN_OK)
        return ctl(st, "RELEASE job");
    sn_logseq_unmark(ls);
    if (ctl(st, "ROLLBACK TO job") != SN_OK || ctl(st, "RELEASE job") != SN_OK)
        return SN_ERR_DB;
    return SN_OK;
}

/*
 * The results of a pipeline up to its sync, *n of them: the first max
 * kept in keep (the caller clears them), the others only looked at. 1 if
 * every one succeeded and the sync came.
 */
static int
pipe_results(PGconn *c, PGresult **keep, size_t max, size_t *n)
{
    ExecStatusType es;
    PGresult *r;
    int ok = 1, nulls = 0;

    *n = 0;
    for (;;) {
        if ((r = PQgetResult(c)) == NULL) {
            if (++nulls > 1) /* nothing comes: the link is gone */
                return 0;
            continue;
        }
        nulls = 0;
        es = PQresultStatus(r);
        if (es == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return ok;
        }
        if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
            if (ok && es != PGRES_PIPELINE_ABORTED)
                sn_warn("audit: postgres: %s",
                        PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                            ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
                            : "a write failed");
            ok = 0;
        }
        if (*n < max)
            keep[*n] = r;
        else
            PQclear(r);
        (*n)++;
    }
}

/* BEGIN, the log's lock and size, and nrec audit ids, in one round trip. */
static int
fast_begin(struct pg_store *st, struct sn_logseq *ls, size_t nrec, int64_t *ids)
{
    PGconn *c = st->w.c;
    struct sn_pg_params p;
    PGresult *r[4] = {NULL, NULL, NULL, NULL};
    size_t n = 0, i, want = 1;
    int ok, logged = ls->on && !ls->broken;

    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)nrec);
    ok = PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0) == 1 &&
         (!logged ||
          (want += 2, sn_pg_send(&st->w, sql_lock, NULL) == SN_OK &&
                          sn_pg_send(&st->w, sql_size, NULL) == SN_OK)) &&
         (nrec == 0 || (want++, sn_pg_send(&st->w, sql_ids, &p) == SN_OK));
    /* the sync always: the pipeline's results end with it */
    if (PQpipelineSync(c) != 1 || !pipe_results(c, r, 4, &n) || n != want)
        ok = 0;
    if (ok && logged)
        ok = log_reload(st, ls, (uint64_t)sn_pg_col_int(r[2], 0, 0)) == SN_OK;
    if (ok && nrec > 0 && (size_t)PQntuples(r[want - 1]) != nrec)
        ok = 0;
    for (i = 0; ok && i < nrec; i++)
        ids[i] = sn_pg_col_int(r[want - 1], (int)i, 0);
    for (i = 0; i < n && i < 4; i++)
        PQclear(r[i]);
    return ok;
}

/* Every job's records and entries queued, then COMMIT, in one round trip;
 * 1 if all were written. */
static int
fast_write(struct pg_store *st, struct sn_audit_job *jobs, struct sn_logseq *ls,
           const int64_t *ids)
{
    struct sn_audit_job *j;
    size_t k = 0, i, n;
    int ok = 1;

    st->piped = 1;
    st->nsent = 0;
    sn_logseq_begin(ls);
    for (j = jobs; j != NULL && ok; j = j->next) {
        j->result = SN_OK;
        if (j->tsa != NULL && insert_tsa(st, j->tsa) != SN_OK)
            ok = 0;
        for (i = 0; i < j->n && ok; i++) {
            j->recs[i].id = ids[k++];
            ok = insert_one(st, &j->recs[i], sn_logseq_next(ls)) == SN_OK &&
                 add_entry(st, &j->recs[i], ls, 0) == SN_OK;
        }
    }
    st->piped = 0;
    /* COMMIT only if all was queued; the sync always: the results of what
     * was sent end with it, even after a failure */
    ok = ok && PQsendQueryParams(st->w.c, "COMMIT", 0, NULL, NULL, NULL, NULL,
                                 0) == 1;
    if (PQpipelineSync(st->w.c) != 1 || !pipe_results(st->w.c, NULL, 0, &n))
        ok = 0;
    return ok && n == st->nsent + 1;
}

/*
 * The fast way: the batch in a pipeline of two round trips, without
 * savepoints (statements prepared before). If anything fails, nothing of
 * it is kept and 0 says to write the batch the careful way (one job
 * failing alone).
 */
static int
write_fast(struct pg_store *st, struct sn_audit_job *jobs, struct sn_logseq *ls)
{
    static const char *const sql[] = {sql_insert_id, sql_entry, sql_hash,
                                      sql_tsa,       sql_lock,  sql_size,
                                      sql_ids};
    static const int np[] = {17, 5, 3, 6, 0, 0, 1};
    struct sn_audit_job *j;
    int64_t *ids = NULL;
    size_t nrec = 0, i;
    int ok = 0, piped = 0;

    for (j = jobs; j != NULL; j = j->next)
        nrec += j->n;
    for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
        if (sn_pg_prepare(&st->w, sql[i], np[i]) != SN_OK)
            return 0;
    if (nrec > 0 && (ids = calloc(nrec, sizeof(*ids))) == NULL)
        return 0;
    if ((piped = PQenterPipelineMode(st->w.c)) == 1)
        ok = fast_begin(st, ls, nrec, ids) && fast_write(st, jobs, ls, ids);
    if (piped && PQexitPipelineMode(st->w.c) != 1) {
        /* results left unread: this connection's state is unknown */
        sn_pg_conn_drop(&st->w);
        ok = 0;
    }
    if (ok && PQtransactionStatus(st->w.c) != PQTRANS_IDLE)
        ok = 0;
    free(ids);
    if (ok) {
        sn_logseq_commit(ls);
        return 1;
    }
    if (st->w.c != NULL)
        sn_pg_rollback(&st->w);
    sn_logseq_abort(ls);
    for (j = jobs; j != NULL; j = j->next)
        for (i = 0; i < j->n; i++)
            j->recs[i].id = 0;
    return 0;
}

void
sn_pg_audit_write(void *be, struct sn_audit_job *jobs, struct sn_logseq *ls)
{
    struct pg_store *st = be;
    struct sn_audit_job *j;

    if (writer(st) != SN_OK) {
        fail_all(jobs);
        return;
    }
    if (write_fast(st, jobs, ls))
        return;
    /* The link broke: the batch may or may not be committed, and is not
     * written twice (its callers get errors; the next batch's log_sync
     * finds the stored tree, whichever it is). */
    if (st->w.c == NULL || PQstatus(st->w.c) != CONNECTION_OK) {
        sn_error("audit: postgres: the link broke during a batch");
        fail_all(jobs);
        return;
    }
    /* A statement failed, so nothing was committed: one job at a time,
     * each in its savepoint, a failing one fails alone (its records, its
     * entries); the others are written. */
    if (ctl(st, "BEGIN") != SN_OK) {
        fail_all(jobs);
        return;
    }
    if (log_sync(st, ls) != SN_OK)
        goto fail;
    sn_logseq_begin(ls);
    for (j = jobs; j != NULL; j = j->next)
        if (write_job(st, j, ls) != SN_OK)
            goto fail;
    if (sn_pg_commit(&st->w) != SN_OK) {
        sn_error("audit: postgres: commit failed");
        goto fail;
    }
    sn_logseq_commit(ls);
    return;
fail:
    /* An unknown outcome (the link broke at COMMIT) is found by the next
     * batch's log_sync: the edge then reloads from what was stored. */
    sn_pg_rollback(&st->w);
    sn_logseq_abort(ls);
    fail_all(jobs);
}

/* Replaces the detail of record a->id; the changed record gets a new log
 * entry, which the row then names. */
static sn_err
update_detail(struct pg_store *st, struct sn_audit *a, struct sn_logseq *ls)
{
    int64_t at = sn_logseq_next(ls);
    struct sn_pg_params p;
    int64_t n = 0;
    sn_err r;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, a->detail);
    if (at >= 0)
        sn_pg_p_int(&p, at);
    else
        sn_pg_p_text(&p, NULL);
    sn_pg_p_int(&p, a->id);
    if ((r = sn_pg_exec(&st->w,
                        "UPDATE audit SET detail = $1,"
                        " log_index = coalesce($2::bigint, log_index)"
                        " WHERE id = $3",
                        &p, NULL, &n)) != SN_OK)
        return r;
    a->log_index = at;
    return add_entry(st, a, ls, 1);
}

sn_err
sn_pg_audit_tally(void *be, struct sn_audit *recs, size_t n,
                  struct sn_logseq *ls)
{
    struct pg_store *st = be;
    sn_err r = SN_OK;
    size_t i;

    if (n == 0)
        return SN_OK;
    if (writer(st) != SN_OK || ctl(st, "BEGIN") != SN_OK)
        return SN_ERR_DB;
    r = log_sync(st, ls);
    sn_logseq_begin(ls);
    for (i = 0; i < n && r == SN_OK; i++)
        r = recs[i].id == 0 ? insert_logged(st, &recs[i], ls, 1)
                            : update_detail(st, &recs[i], ls);
    if (r == SN_OK && sn_pg_commit(&st->w) == SN_OK) {
        sn_logseq_commit(ls);
        return SN_OK;
    }
    sn_pg_rollback(&st->w);
    sn_logseq_abort(ls);
    return SN_ERR_DB;
}

/* ---- the transparency log's reads and checkpoints ---- */

sn_err
sn_pg_log_size(void *be, uint64_t *size)
{
    PGresult *res = NULL;
    sn_err r;

    *size = 0;
    r = sn_pg_query(be, "SELECT coalesce(max(idx) + 1, 0) FROM log_entries",
                    NULL, &res);
    if (r == SN_OK)
        *size = (uint64_t)sn_pg_col_int(res, 0, 0);
    PQclear(res);
    return r;
}

sn_err
sn_pg_log_hashes(void *be, unsigned level, uint64_t start, size_t n,
                 uint8_t (*out)[32])
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    size_t i;
    sn_err r;

    if (n == 0 || start > (uint64_t)INT64_MAX - n)
        return SN_ERR_INVALID;
    sn_pg_p_init(&p);
    sn_pg_p_int(&p, level);
    sn_pg_p_int(&p, (int64_t)start);
    sn_pg_p_int(&p, (int64_t)(start + n));
    /* Level 0 is the entries' leaves; the others their own table. */
    r = sn_pg_query(be,
                    level == 0 ? "SELECT idx, leaf FROM log_entries WHERE"
                                 " $1::bigint = 0 AND idx >= $2 AND idx < $3"
                                 " ORDER BY idx"
                               : "SELECT idx, hash FROM log_hashes WHERE"
                                 " level = $1 AND idx >= $2 AND idx < $3"
                                 " ORDER BY idx",
                    &p, &res);
    if (r != SN_OK)
        return r;
    if ((size_t)PQntuples(res) != n)
        r = SN_ERR_NOT_FOUND;
    for (i = 0; r == SN_OK && i < n; i++)
        if ((uint64_t)sn_pg_col_int(res, (int)i, 0) != start + i ||
            sn_pg_col_fixed(res, (int)i, 1, out[i], 32) != SN_OK)
            r = SN_ERR_NOT_FOUND;
    PQclear(res);
    return r;
}

/* Row i's entry: its kept text, or written again from its record
 * (columns 3..) and the key's SPKI hash (column 2); malloc'd. */
static sn_err
entry_of(const PGresult *res, int i, uint8_t **out, size_t *len)
{
    uint8_t spki[32];
    struct sn_audit a;
    sn_err r;

    if (!sn_pg_col_null(res, i, 1)) {
        if ((r = sn_pg_col_bytes(res, i, 1, out, len)) != SN_OK)
            return r;
        return *out != NULL ? SN_OK : SN_ERR_NOT_FOUND;
    }
    if (sn_pg_col_null(res, i, 3))
        return SN_ERR_NOT_FOUND; /* its record is gone */
    sn_pg_read_audit(res, i, 3, &a);
    if (sn_pg_col_fixed(res, i, 2, spki, sizeof(spki)) == SN_OK)
        sn_hex_encode(spki, sizeof(spki), a.spki_sha256);
    return sn_log_entry(&a, out, len);
}

sn_err
sn_pg_log_entries(void *be, uint64_t start, size_t n, struct sn_buf *out)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    uint8_t len2[2], *data = NULL;
    size_t i, len = 0;
    sn_err r;

    if (n == 0 || start > (uint64_t)INT64_MAX - n)
        return SN_ERR_INVALID;
    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)start);
    sn_pg_p_int(&p, (int64_t)(start + n));
    r = sn_pg_query(be,
                    "SELECT le.idx, le.data, le.spki, a.id, a.time,"
                    " a.subscriber_id, a.key_id, a.token_id, a.client,"
                    " a.action, a.digest_algorithm, a.digest, a.scheme,"
                    " a.result, a.detail, a.policy, a.principal,"
                    " a.sig_sha256, a.digest_salt, a.log_index"
                    " FROM log_entries le LEFT JOIN audit a"
                    " ON a.id = le.audit_id"
                    " WHERE le.idx >= $1 AND le.idx < $2 ORDER BY le.idx",
                    &p, &res);
    if (r != SN_OK)
        return r;
    if ((size_t)PQntuples(res) != n)
        r = SN_ERR_NOT_FOUND;
    for (i = 0; r == SN_OK && i < n; i++) {
        if ((uint64_t)sn_pg_col_int(res, (int)i, 0) != start + i ||
            (r = entry_of(res, (int)i, &data, &len)) != SN_OK || len > 65535) {
            r = r == SN_OK ? SN_ERR_NOT_FOUND : r;
            break;
        }
        len2[0] = (uint8_t)(len >> 8);
        len2[1] = (uint8_t)len;
        if ((r = sn_buf_append(out, len2, 2)) == SN_OK)
            r = sn_buf_append(out, data, len);
        free(data);
        data = NULL;
    }
    free(data);
    PQclear(res);
    return r;
}

/*
 * The writer's connection, after its batches. A checkpoint never goes
 * back: of a size at most the largest kept it is refused (two nodes'
 * signers, each once the leader, sign only sizes that grow).
 */
sn_err
sn_pg_log_checkpoint_put(void *be, uint64_t size, const uint8_t root[32],
                         const char *note, time_t when)
{
    struct pg_store *st = be;
    struct sn_pg_params p;
    int64_t n = 0;
    sn_err r;

    if ((r = writer(st)) != SN_OK)
        return r;
    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)size);
    sn_pg_p_bytes(&p, root, 32);
    sn_pg_p_text(&p, note);
    sn_pg_p_int(&p, (int64_t)when);
    if ((r = sn_pg_exec(&st->w,
                        "INSERT INTO log_checkpoints (size, root, note,"
                        " signed_at) SELECT $1, $2, $3, $4 WHERE $1 >"
                        " (SELECT coalesce(max(size), -1)"
                        " FROM log_checkpoints)",
                        &p, NULL, &n)) != SN_OK)
        return r;
    return n == 1 ? SN_OK : SN_ERR_STATE;
}

sn_err
sn_pg_log_checkpoint_latest(void *be, uint64_t *size, uint8_t root[32],
                            char **note)
{
    PGresult *res = NULL;
    sn_err r;

    *note = NULL;
    if ((r = sn_pg_query(be,
                         "SELECT size, root, note FROM log_checkpoints"
                         " ORDER BY size DESC LIMIT 1",
                         NULL, &res)) != SN_OK)
        return r;
    if (PQntuples(res) == 0)
        r = SN_ERR_NOT_FOUND;
    else if (sn_pg_col_fixed(res, 0, 1, root, 32) != SN_OK)
        r = SN_ERR_DB;
    else if ((*note = sn_pg_col_strdup(res, 0, 2)) == NULL)
        r = SN_ERR_NOMEM;
    else
        *size = (uint64_t)sn_pg_col_int(res, 0, 0);
    PQclear(res);
    return r;
}

/*
 * 1 while this node holds the checkpoint signer's lock (a session lock on
 * a connection of its own: a node that dies, or whose link breaks, lets
 * it go at once); the lock is tried on each call until it is had.
 */
int
sn_pg_log_leader(void *be)
{
    struct pg_store *st = be;
    PGresult *res;
    int held;

    if (st->leading && PQstatus(st->lead.c) != CONNECTION_OK)
        st->leading = 0; /* the lock went with the link */
    /* a paused leader's session, idle past this, ends and the lock with
     * it (a live one asks every 0.5 s) */
    if (sn_pg_conn_ready(st, &st->lead, "SET idle_session_timeout = '5s'") !=
        SN_OK)
        return 0;
    /* held: is the link alive (the lock with it); not yet: try */
    res = PQexec(st->lead.c,
                 st->leading ? "SELECT true"
                             : "SELECT pg_try_advisory_lock(" LEADER_LOCK ")");
    held = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
           strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (held && !st->leading)
        sn_info("log: this node now signs the log's checkpoints");
    else if (!held && st->leading)
        sn_warn("log: this node no longer signs the log's checkpoints");
    st->leading = held;
    return held;
}

/* One row rewritten and committed: the database took a write. */
sn_err
sn_pg_write_probe(void *be)
{
    struct pg_store *st = be;
    sn_err r;

    if ((r = writer(st)) != SN_OK)
        return r;
    return sn_pg_exec(&st->w,
                      "INSERT INTO counters (name, value)"
                      " VALUES ('write_probe', 1) ON CONFLICT (name)"
                      " DO UPDATE SET value = counters.value + 1",
                      NULL, NULL, NULL);
}

/*
 * One retention step in one statement: the oldest records before $1, at
 * most $2 (locked, so two nodes' steps never count a row twice), counted
 * per hour and deleted. A serial is hex without leading zeros: padded to
 * 64 it sorts as a number. Rows from before recorded_at existed (0) are
 * first dated by their genTime (a malformed one as now); that statement
 * names $1 only to have the step's two parameters.
 */
#define OLDEST                                                                 \
    "SELECT serial, recorded_at FROM tsa_tokens WHERE recorded_at < $1"        \
    " ORDER BY recorded_at, serial LIMIT $2 FOR UPDATE"

static const char compact_date[] =
    "UPDATE tsa_tokens SET recorded_at = CASE"
    " WHEN gen_time ~ '^[0-9]{14}' THEN extract(epoch FROM"
    " to_timestamp(substr(gen_time, 1, 14), 'YYYYMMDDHH24MISS'))::bigint"
    " ELSE extract(epoch FROM now())::bigint END"
    " WHERE serial IN (SELECT serial FROM tsa_tokens WHERE recorded_at = 0"
    " LIMIT $2) AND $1::bigint IS NOT NULL";
static const char compact_step[] =
    "WITH old AS (" OLDEST "), gone AS (DELETE FROM tsa_tokens t USING old"
    " WHERE t.serial = old.serial RETURNING t.serial, t.recorded_at),"
    " counted AS (INSERT INTO tsa_token_counts (hour, count, first_serial,"
    " last_serial) SELECT recorded_at - recorded_at % 3600 AS h, count(*),"
    " ltrim(min(lpad(serial, 64))), ltrim(max(lpad(serial, 64)))"
    " FROM gone GROUP BY h ON CONFLICT (hour) DO UPDATE SET"
    " count = tsa_token_counts.count + excluded.count,"
    " first_serial = CASE WHEN lpad(excluded.first_serial, 64) <"
    " lpad(tsa_token_counts.first_serial, 64) THEN excluded.first_serial"
    " ELSE tsa_token_counts.first_serial END,"
    " last_serial = CASE WHEN lpad(excluded.last_serial, 64) >"
    " lpad(tsa_token_counts.last_serial, 64) THEN excluded.last_serial"
    " ELSE tsa_token_counts.last_serial END)"
    " SELECT count(*) FROM gone";

sn_err
sn_pg_tsa_compact(void *be, time_t before, size_t max, size_t *removed)
{
    struct pg_store *st = be;
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    *removed = 0;
    if (max == 0 || max > INT32_MAX)
        return SN_ERR_INVALID;
    if ((r = writer(st)) != SN_OK || (r = ctl(st, "BEGIN")) != SN_OK)
        return SN_ERR_DB;
    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)before);
    sn_pg_p_int(&p, (int64_t)max);
    if ((r = sn_pg_exec(&st->w, compact_date, &p, NULL, NULL)) == SN_OK &&
        (r = sn_pg_exec(&st->w, compact_step, &p, &res, NULL)) == SN_OK &&
        res != NULL && (r = sn_pg_commit(&st->w)) == SN_OK) {
        *removed = (size_t)sn_pg_col_int(res, 0, 0);
        PQclear(res);
        return SN_OK;
    }
    PQclear(res);
    sn_pg_rollback(&st->w);
    return SN_ERR_DB;
}
