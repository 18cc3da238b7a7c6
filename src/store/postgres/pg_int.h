/*
 * pg_int: the PostgreSQL backend's state and helpers, shared by pg.c (the
 * connection pool, the schema, the helpers), pgops.c (the ops table), tables.c
 * (subscribers, tokens, keys, certificates, policies ...), accounts.c (people),
 * signreq.c (sign requests), reports.c (reports) and audit.c (the audit
 * log's writes and the transparency log). Not for callers.
 *
 * Every statement binds its values as parameters ($1, $2 ...; no SQL built
 * from values). The tables and columns are SQLite's (sqlite/sqlite.c),
 * with BIGINT for INTEGER and BYTEA for BLOB, so `signetd migrate` copies
 * a table by its column names. Results come in text format: read them
 * with the sn_pg_col_* functions.
 */
#ifndef SN_STORE_PG_INT_H
#define SN_STORE_PG_INT_H

#include <pthread.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/store_backend.h"

/* At most this many connections in the pool (callers wait for one). */
#define SN_PG_POOL 16
/* At most this many parameters in one statement. */
#define SN_PG_MAXP 32

struct pg_conn {
    PGconn *c;
    int pid; /* its server process (atomic: watch.c reads it) */
    /* Statements prepared on this connection, by their SQL text's
     * address (the SQL is always a string literal). */
    const char **prepared;
    size_t nprepared, capprepared;
};

struct pg_store {
    char *conninfo;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct pg_conn pool[SN_PG_POOL];
    int busy[SN_PG_POOL];
    size_t npool; /* opened so far (lazily, up to SN_PG_POOL) */
    /* The audit writer's own connection (audit.c; writer thread only). */
    struct pg_conn w;
    /* The checkpoint signer's lock's connection, and whether it holds
     * the lock (audit.c; the checkpointer thread only). */
    struct pg_conn lead;
    int leading;
    /* Other nodes' changes (watch.c): the listening connection, its
     * thread, and the front's callback. */
    struct pg_conn wconn;
    pthread_t watch_thread;
    int watching, watch_stop;
    void (*changed)(void *arg, const char *table);
    void *changed_arg;
    /* audit.c, writer only: the record whose entry is being stored, and
     * whether its text is kept. */
    const struct sn_audit *cur;
    int cur_text;
    /* audit.c, writer only: statements are queued in a pipeline (nsent
     * so far) rather than run one by one */
    int piped;
    size_t nsent;
};

/* Parameters of one statement: text (NULL is SQL NULL), integers (as
 * text), and bytes (binary; NULL is SQL NULL). */
struct sn_pg_params {
    int n;
    const char *val[SN_PG_MAXP];
    int len[SN_PG_MAXP];
    int fmt[SN_PG_MAXP];
    char num[SN_PG_MAXP][24];
};

/* path: what followed "postgresql:" in the configuration (a URI's
 * "//host/db?..."), or a libpq keyword string ("host=... dbname=...").
 * Connects, brings the schema up to date (sn_pg_close(NULL) is a no-op). */
sn_err sn_pg_open(const char *path, struct pg_store **out);
void sn_pg_close(struct pg_store *st);
/* watch.c: stops the listening thread, if any (before close). */
void sn_pg_watch_stop(struct pg_store *st);

void sn_pg_p_init(struct sn_pg_params *p);
void sn_pg_p_text(struct sn_pg_params *p, const char *s);
void sn_pg_p_int(struct sn_pg_params *p, int64_t v);
void sn_pg_p_bytes(struct sn_pg_params *p, const void *b, size_t n);

/* A connection of the pool for one op (or one transaction), waiting while
 * all are busy; NULL (logged) if none can be opened. Give it back with
 * sn_pg_put; a connection whose link broke is reopened then. */
struct pg_conn *sn_pg_get(struct pg_store *st);
void sn_pg_put(struct pg_store *st, struct pg_conn *c);
/* A connection kept by one thread for itself (the writer's, the
 * leader's): opened if it is not, opened again if its link broke; extra:
 * settings of its kind (SET ...; NULL: none). sn_pg_conn_drop closes one
 * whose state is unknown. */
sn_err sn_pg_conn_ready(struct pg_store *st, struct pg_conn *c,
                        const char *extra);
void sn_pg_conn_drop(struct pg_conn *c);

/*
 * Runs sql (prepared once per connection) with p (NULL: none). If it
 * returns rows, *res (if res is not NULL) holds them for the caller to
 * PQclear; otherwise *res is NULL and *changed (if not NULL) the number of
 * rows it changed. SN_ERR_EXISTS for a unique or primary-key violation,
 * SN_ERR_DB for any other failure (logged, without the values).
 */
sn_err sn_pg_exec(struct pg_conn *c, const char *sql,
                  const struct sn_pg_params *p, PGresult **res,
                  int64_t *changed);

/* Pipelines (the audit writer's, audit.c): sql prepared on c beforehand
 * (outside pipeline mode), then queued with p in pipeline mode. */
sn_err sn_pg_prepare(struct pg_conn *c, const char *sql, int nparams);
sn_err sn_pg_send(struct pg_conn *c, const char *sql,
                  const struct sn_pg_params *p);

/* One statement on a pooled connection: a query (*res set, caller
 * PQclears), or a write (res NULL: SN_ERR_NOT_FOUND if it changed nothing
 * and must_change is set). */
sn_err sn_pg_query(struct pg_store *st, const char *sql,
                   const struct sn_pg_params *p, PGresult **res);
sn_err sn_pg_write(struct pg_store *st, const char *sql,
                   const struct sn_pg_params *p, int must_change);

/* BEGIN (READ COMMITTED), COMMIT, ROLLBACK on a held connection. A
 * transaction's conditional writes lock what they read (SELECT ... FOR
 * UPDATE) or are single conditional statements. */
sn_err sn_pg_begin(struct pg_conn *c);
sn_err sn_pg_commit(struct pg_conn *c);
void sn_pg_rollback(struct pg_conn *c);
/* Ends a transaction: COMMIT if r is SN_OK, else (or if COMMIT fails)
 * ROLLBACK; the outcome. */
sn_err sn_pg_tx_end(struct pg_conn *c, sn_err r);
/* A write on a held connection; none (SN_ERR_NOT_FOUND, SN_ERR_STATE ...)
 * if it changed nothing and must_change is set. */
sn_err sn_pg_run(sn_err none, struct pg_conn *c, const char *sql,
                 const struct sn_pg_params *p, int must_change);

/* Columns of a text-format result. An SQL NULL reads as "", 0, or no
 * bytes. */
int sn_pg_col_null(const PGresult *r, int row, int col);
void sn_pg_col_text(const PGresult *r, int row, int col, char *dst,
                    size_t dstlen);
char *sn_pg_col_strdup(const PGresult *r, int row, int col); /* NULL: nomem
                                                                 or NULL */
int64_t sn_pg_col_int(const PGresult *r, int row, int col);
/* bytea, malloc'd (caller frees; *out NULL and *len 0 for NULL or empty);
 * SN_ERR_NOMEM or SN_ERR_DB (not bytea hex) */
sn_err sn_pg_col_bytes(const PGresult *r, int row, int col, uint8_t **out,
                       size_t *len);
/* bytea of exactly n bytes into out; SN_ERR_DB otherwise */
sn_err sn_pg_col_fixed(const PGresult *r, int row, int col, uint8_t *out,
                       size_t n);
/* An audit record from 17 columns from c on, in sqlite_int.h's order: id,
 * time, subscriber_id, key_id, token_id, client, action,
 * digest_algorithm, digest, scheme, result, detail, policy, principal,
 * sig_sha256, digest_salt, log_index (NULL: -1). */
#define SN_PG_AUDIT_COLS                                                       \
    "id, time, subscriber_id, key_id, token_id, client, action,"               \
    " digest_algorithm, digest, scheme, result, detail, policy, principal,"    \
    " sig_sha256, digest_salt, log_index"
void sn_pg_read_audit(const PGresult *r, int row, int c, struct sn_audit *a);

/*
 * Fills an array with one element of elem bytes per row of r, by fill;
 * on success *arr holds *n elements (the caller frees each with clean,
 * then the array); on failure nothing.
 */
sn_err sn_pg_collect(const PGresult *r, size_t elem,
                     sn_err (*fill)(const PGresult *, int, void *),
                     void (*clean)(void *), void **arr, size_t *n);

/* The ops, each named sn_pg_<op> (sn_pg_account_add ...). */
#include "store/postgres/pg_ops.h"

#endif
