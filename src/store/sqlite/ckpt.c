/*
 * ckpt: the WAL's checkpoints, off the audit writer's path. SQLite's own
 * (wal_autocheckpoint) runs in the connection that commits: every 1,000
 * pages a group commit would copy the WAL into the database and sync it
 * before its callers are answered, and every signature in that batch
 * waits (the p99 of signing). Here the writer's WAL hook only looks at
 * the WAL's size; a thread with a connection of its own runs a PASSIVE
 * checkpoint (it waits for no writer and no reader, and copies what it
 * can) once CKPT_PAGES are there. Should that thread fall behind, the
 * writer checkpoints itself past CKPT_BACKSTOP pages, as SQLite would
 * have, so the WAL stays bounded.
 */
#include <pthread.h>
#include <sys/prctl.h>

#include "common/log.h"

#include "store/sqlite/sqlite_int.h"

#define CKPT_PAGES 1000     /* SQLite's default autocheckpoint */
#define CKPT_BACKSTOP 20000 /* 80 MB of 4 KiB pages */

/* The writer's connection, after each commit (sqlite3_wal_hook). */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct sq_store *st = arg;

    if (pages >= CKPT_BACKSTOP) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                  NULL);
        return SQLITE_OK;
    }
    if (pages >= CKPT_PAGES) {
        pthread_mutex_lock(&st->clock);
        if (!st->cdue) {
            st->cdue = 1;
            pthread_cond_signal(&st->ccond);
        }
        pthread_mutex_unlock(&st->clock);
    }
    return SQLITE_OK;
}

static void *
checkpointer(void *arg)
{
    struct sq_store *st = arg;
    int rc;

    prctl(PR_SET_NAME, "sn-checkpointer", 0, 0, 0);
    pthread_mutex_lock(&st->clock);
    for (;;) {
        while (!st->cdue && !st->cstop)
            pthread_cond_wait(&st->ccond, &st->clock);
        if (st->cstop)
            break;
        st->cdue = 0;
        pthread_mutex_unlock(&st->clock);
        rc = sqlite3_wal_checkpoint_v2(st->cdb, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                       NULL, NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            sn_warn("store: WAL checkpoint: %s", sqlite3_errmsg(st->cdb));
        pthread_mutex_lock(&st->clock);
    }
    pthread_mutex_unlock(&st->clock);
    return NULL;
}

sn_err
sn_sqlite_ckpt_start(struct sq_store *st, const char *path)
{
    if (sqlite3_open_v2(path, &st->cdb,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK ||
        sqlite3_exec(st->cdb, "PRAGMA synchronous=FULL", NULL, NULL, NULL) !=
            SQLITE_OK) {
        sqlite3_close(st->cdb);
        st->cdb = NULL;
        return SN_ERR_DB;
    }
    pthread_mutex_init(&st->clock, NULL);
    pthread_cond_init(&st->ccond, NULL);
    st->cdue = st->cstop = 0;
    if (pthread_create(&st->cthread, NULL, checkpointer, st) != 0) {
        pthread_mutex_destroy(&st->clock);
        pthread_cond_destroy(&st->ccond);
        sqlite3_close(st->cdb);
        st->cdb = NULL;
        return SN_ERR_INTERNAL;
    }
    st->crunning = 1;
    /* Replaces the writer's autocheckpoint (one hook per connection). */
    sqlite3_wal_hook(st->wdb, wal_hook, st);
    return SN_OK;
}

void
sn_sqlite_ckpt_stop(struct sq_store *st)
{
    if (!st->crunning)
        return;
    if (st->wdb != NULL)
        sqlite3_wal_hook(st->wdb, NULL, NULL);
    pthread_mutex_lock(&st->clock);
    st->cstop = 1;
    pthread_cond_signal(&st->ccond);
    pthread_mutex_unlock(&st->clock);
    pthread_join(st->cthread, NULL);
    pthread_mutex_destroy(&st->clock);
    pthread_cond_destroy(&st->ccond);
    sqlite3_close(st->cdb);
    st->cdb = NULL;
    st->crunning = 0;
}
