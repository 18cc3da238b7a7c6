/*
 * postgres/watch: other nodes' changes, heard at once. The tables the
 * nodes cache (tokens, keys, policies, certificates ...) notify channel
 * signet_changes with their name when changed (pg.c's triggers); a
 * thread of each node listens on a connection of its own and passes each
 * name to the front, which drops what it cached. A link lost and found
 * again is "*": anything may have changed meanwhile. This node's own
 * changes, heard back, are not passed on: the front knew of them.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "common/log.h"

#include "store/postgres/pg_int.h"

static int
stopping(struct pg_store *st)
{
    return __atomic_load_n(&st->watch_stop, __ATOMIC_SEQ_CST);
}

/* LISTEN on a fresh connection; 0 on failure. */
static int
listen_on(struct pg_store *st)
{
    PGresult *res;
    int ok;

    if (sn_pg_conn_ready(st, &st->wconn, NULL) != SN_OK)
        return 0;
    res = PQexec(st->wconn.c, "LISTEN signet_changes");
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    return ok;
}

/* Waits up to a second for the server; 0 if the link is lost. */
static int
wait_input(struct pg_store *st)
{
    struct pollfd pfd;
    int n;

    pfd.fd = PQsocket(st->wconn.c);
    pfd.events = POLLIN;
    if (pfd.fd < 0)
        return 0;
    n = poll(&pfd, 1, 1000);
    if (n < 0 && errno != EINTR)
        return 0;
    return n <= 0 || PQconsumeInput(st->wconn.c) == 1;
}

/* 1 if the server process pid is one of this node's connections: its
 * own changes, which the front knew of as it made them. */
static int
ours(struct pg_store *st, int pid)
{
    size_t i;

    for (i = 0; i < SN_PG_POOL; i++)
        if (__atomic_load_n(&st->pool[i].pid, __ATOMIC_SEQ_CST) == pid)
            return 1;
    return __atomic_load_n(&st->w.pid, __ATOMIC_SEQ_CST) == pid ||
           __atomic_load_n(&st->lead.pid, __ATOMIC_SEQ_CST) == pid;
}

/* 1 if the server still answers on the listening connection (asked when
 * it was quiet for a while: a link gone silent is otherwise found only
 * by TCP, and changes would go unheard meanwhile). */
static int
alive(struct pg_store *st)
{
    PGresult *res = PQexec(st->wconn.c, "SELECT 1");
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK;

    PQclear(res);
    return ok;
}

static void *
watcher(void *arg)
{
    struct pg_store *st = arg;
    PGnotify *nt;
    int up = 1, was_up = 1, quiet = 0;

    prctl(PR_SET_NAME, "sn-pg-watch", 0, 0, 0);
    while (!stopping(st)) {
        if (!up) {
            /* the server away: try again each second, then say anything
             * may have changed */
            if (!listen_on(st)) {
                if (was_up)
                    sn_warn("store: postgres: other nodes' changes are not "
                            "heard (no link); retrying");
                was_up = 0;
                poll(NULL, 0, 1000);
                continue;
            }
            up = was_up = 1;
            st->changed(st->changed_arg, "*");
        }
        if (!wait_input(st) || (++quiet >= 5 && !alive(st))) {
            sn_pg_conn_drop(&st->wconn); /* a new link, a new LISTEN */
            up = 0;
            quiet = 0;
            continue;
        }
        if (quiet >= 5)
            quiet = 0;
        while ((nt = PQnotifies(st->wconn.c)) != NULL) {
            if (!ours(st, nt->be_pid))
                st->changed(st->changed_arg, nt->extra);
            PQfreemem(nt);
        }
    }
    return NULL;
}

sn_err
sn_pg_watch(void *be, void (*changed)(void *arg, const char *table), void *arg)
{
    struct pg_store *st = be;

    if (st->watching)
        return SN_ERR_STATE;
    if (!listen_on(st))
        return SN_ERR_DB;
    st->changed = changed;
    st->changed_arg = arg;
    st->watch_stop = 0;
    if (pthread_create(&st->watch_thread, NULL, watcher, st) != 0)
        return SN_ERR_INTERNAL;
    st->watching = 1;
    return SN_OK;
}

void
sn_pg_watch_stop(struct pg_store *st)
{
    if (!st->watching)
        return;
    __atomic_store_n(&st->watch_stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(st->watch_thread, NULL);
    st->watching = 0;
}
