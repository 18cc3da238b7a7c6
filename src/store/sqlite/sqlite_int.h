/*
 * sqlite_int: the SQLite backend's state, shared by sqlite.c (the tables)
 * and audit.c (the audit log's writes). Not for callers.
 */
#ifndef SN_STORE_SQLITE_INT_H
#define SN_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/store_backend.h"

struct sq_store {
    sqlite3 *db; /* shared connection, SQLite's serialised mode */
    /* The audit writer's own connection, used by its thread only. */
    sqlite3 *wdb;
    sqlite3_stmt *winsert;
    sqlite3_stmt *wtsa;
    /* BEGIN IMMEDIATE, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ROLLBACK TO:
     * prepared once, not parsed per batch. */
    sqlite3_stmt *wctl[6];
    /* Sign requests' own connection (sqlite/signreq.c), used by one
     * caller at a time under rlock: a vote is a transaction of several
     * statements, which the shared connection cannot hold apart from
     * other threads' statements. */
    sqlite3 *rdb;
    pthread_mutex_t rlock;
    int rlock_ready;
};

sn_err sn_sqlite_audit_open(struct sq_store *st, const char *path);
void sn_sqlite_audit_close(struct sq_store *st);
void sn_sqlite_audit_write(void *be, struct sn_audit_job *jobs);
sn_err sn_sqlite_audit_tally(void *be, struct sn_audit *recs, size_t n);
sn_err sn_sqlite_write_probe(void *be);
sn_err sn_sqlite_tsa_compact(void *be, time_t before, size_t max,
                             size_t *removed);

/* issue 17: sign requests (sqlite/signreq.c); ops as in store_backend.h */
sn_err sn_sqlite_signreq_open(struct sq_store *st, const char *path);
void sn_sqlite_signreq_close(struct sq_store *st);
sn_err sn_sqlite_sr_add(void *be, const struct sn_sign_request *r);
sn_err sn_sqlite_sr_get(void *be, const char *id, struct sn_sign_request *out);
sn_err sn_sqlite_sr_list(void *be, const char *subscriber,
                         enum sn_sr_state state, size_t limit,
                         struct sn_sign_request **out, size_t *n);
sn_err sn_sqlite_sr_vote(void *be, const char *id, const struct sn_sr_vote *v,
                         time_t now, enum sn_sr_state *state, int *decided);
sn_err sn_sqlite_sr_move(void *be, const char *id, enum sn_sr_state from,
                         enum sn_sr_state to, time_t now, const char *reason,
                         const char *signatures);
sn_err sn_sqlite_sr_sweep(void *be, time_t now, time_t stale_before, size_t max,
                          struct sn_sign_request **out, size_t *n);

#endif
