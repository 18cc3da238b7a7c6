/*
 * store_int: the store's insides, shared by store.c (the tables) and
 * auditlog.c (the group-commit writer of the audit log). Not for callers.
 */
#ifndef SN_STORE_INT_H
#define SN_STORE_INT_H

#include <pthread.h>
#include <semaphore.h>

#include <sqlite3.h>

#include "store/cache.h"
#include "store/store.h"

struct audit_job {
    struct sn_audit *recs; /* audit records, or */
    size_t n;
    const struct sn_tsa_record *tsa; /* one time-stamp token record */
    sn_err result;
    sem_t done;       /* posted by the writer once result is set, or */
    sn_audit_done cb; /* called by the writer, then the job freed */
    void *cbarg;
    struct audit_job *next;
};

struct sn_store {
    sqlite3 *db;            /* shared connection, SQLite's serialised mode */
    struct sn_cache tokens; /* id -> struct sn_token */
    struct sn_cache keys;   /* id -> struct sn_key */
    /* audit writer */
    sqlite3 *wdb; /* the writer's own connection */
    sqlite3_stmt *winsert;
    sqlite3_stmt *wtsa;
    /* BEGIN IMMEDIATE, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ROLLBACK TO:
     * prepared once, not parsed per batch. */
    sqlite3_stmt *wctl[6];
    pthread_t writer;
    int writer_running;
    pthread_mutex_t qlock;
    pthread_cond_t qcond; /* work for the writer */
    struct audit_job *head, *tail;
    int stop;
    uint64_t announced, settled; /* records on their way: see auditlog.c */
    /* Bumped by every revocation written (atomic): sn_store_revocation_gen */
    unsigned long revocations;
};

sn_err sn_auditlog_start(struct sn_store *st, const char *path);
void sn_auditlog_stop(struct sn_store *st);

#endif
