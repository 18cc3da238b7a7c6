/*
 * sqlite_int: the SQLite backend's state, shared by sqlite.c (the tables)
 * and audit.c (the audit log's writes). Not for callers.
 */
#ifndef SN_STORE_SQLITE_INT_H
#define SN_STORE_SQLITE_INT_H

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
};

sn_err sn_sqlite_audit_open(struct sq_store *st, const char *path);
void sn_sqlite_audit_close(struct sq_store *st);
void sn_sqlite_audit_write(void *be, struct sn_audit_job *jobs);
sn_err sn_sqlite_audit_tally(void *be, struct sn_audit *recs, size_t n);
sn_err sn_sqlite_write_probe(void *be);
sn_err sn_sqlite_tsa_compact(void *be, time_t before, size_t max,
                             size_t *removed);

#endif
