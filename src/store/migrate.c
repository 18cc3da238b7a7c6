/*
 * migrate: a SQLite home's database moved to PostgreSQL (signetd
 * migrate, docs/operations.md). Both are brought to the current schema
 * by opening them as stores (the SQLite one's transparency log is
 * checked then), every table is copied row by row, column by column,
 * in one PostgreSQL transaction (all or nothing), and the copy is opened
 * as a store again: its log must reproduce the last checkpoint and the
 * home's anchor, as any open does. The source is never written.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "common/log.h"

#include "store/store_int.h"

/* Parents before children (sign_request_votes, report_events and
 * report_keys name their parent). */
static const char *const tables[] = {
    "subscribers",
    "tokens",
    "keys",
    "audit",
    "certificates",
    "counters",
    "tsa_tokens",
    "tsa_token_counts",
    "crls",
    "signing_policies",
    "oidc_issuers",
    "trust_policies",
    "oidc_jti",
    "client_certs",
    "accounts",
    "recovery_codes",
    "sign_requests",
    "sign_request_votes",
    "log_entries",
    "log_hashes",
    "log_checkpoints",
    "reports",
    "report_events",
    "report_keys",
    "token_pins",
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))
_Static_assert(NTABLES == SN_MIGRATE_TABLES, "one count a table");
#define MAXCOLS 32

/* A statement or transaction control on the destination; 0 on failure
 * (logged). */
static int
pg_ok(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
             PQresultStatus(res) == PGRES_TUPLES_OK;

    if (!ok)
        sn_error("migrate: postgres: %s",
                 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                     ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                     : PQerrorMessage(c));
    PQclear(res);
    return ok;
}

/* The source's columns of table t, and the INSERT for them. */
static sn_err
columns(sqlite3 *db, const char *t, char *cols, size_t clen, char *ins,
        size_t ilen, int *n)
{
    sqlite3_stmt *s = NULL;
    char sql[128];
    size_t cl = 0, il = 0;
    int i = 0;

    *n = 0;
    snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", t);
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return SN_ERR_DB;
    cols[0] = '\0';
    while (sqlite3_step(s) == SQLITE_ROW && i < MAXCOLS) {
        cl += (size_t)snprintf(cols + cl, clen - cl, "%s\"%s\"", i ? ", " : "",
                               (const char *)sqlite3_column_text(s, 1));
        i++;
        if (cl >= clen)
            break;
    }
    sqlite3_finalize(s);
    if (i == 0 || i == MAXCOLS || cl >= clen)
        return SN_ERR_DB;
    il = (size_t)snprintf(ins, ilen, "INSERT INTO %s (%s) VALUES (", t, cols);
    for (*n = 0; *n < i && il < ilen; (*n)++)
        il += (size_t)snprintf(ins + il, ilen - il, "%s$%d", *n ? ", " : "",
                               *n + 1);
    if (il + 2 >= ilen)
        return SN_ERR_DB;
    snprintf(ins + il, ilen - il, ")");
    return SN_OK;
}

/* One row's values as PostgreSQL parameters: integers and text as text,
 * blobs as bytes, NULL as NULL. */
static void
row_params(sqlite3_stmt *s, int n, char (*num)[24], const char **val, int *len,
           int *fmt)
{
    int i;

    for (i = 0; i < n; i++) {
        len[i] = fmt[i] = 0;
        switch (sqlite3_column_type(s, i)) {
        case SQLITE_NULL:
            val[i] = NULL;
            break;
        case SQLITE_INTEGER:
            snprintf(num[i], sizeof(num[i]), "%lld",
                     (long long)sqlite3_column_int64(s, i));
            val[i] = num[i];
            break;
        case SQLITE_BLOB:
            len[i] = sqlite3_column_bytes(s, i);
            val[i] = len[i] ? (const char *)sqlite3_column_blob(s, i) : "";
            fmt[i] = 1;
            break;
        default:
            val[i] = (const char *)sqlite3_column_text(s, i);
            break;
        }
    }
}

static sn_err
copy_table(sqlite3 *db, PGconn *pg, const char *t, uint64_t *rows)
{
    char cols[1024], ins[1536], sel[1200], num[MAXCOLS][24];
    const char *val[MAXCOLS];
    int len[MAXCOLS], fmt[MAXCOLS], n = 0;
    sqlite3_stmt *s = NULL;
    PGresult *res;
    sn_err r;
    int rc;

    *rows = 0;
    if ((r = columns(db, t, cols, sizeof(cols), ins, sizeof(ins), &n)) != SN_OK)
        return r;
    res = PQprepare(pg, "", ins, n, NULL);
    rc = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!rc) {
        sn_error("migrate: %s: the columns differ: %s", t, PQerrorMessage(pg));
        return SN_ERR_DB;
    }
    snprintf(sel, sizeof(sel), "SELECT %s FROM %s", cols, t);
    if (sqlite3_prepare_v2(db, sel, -1, &s, NULL) != SQLITE_OK)
        return SN_ERR_DB;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        row_params(s, n, num, val, len, fmt);
        res = PQexecPrepared(pg, "", n, val, len, fmt, 0);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!rc)
            sn_error("migrate: %s: row %" PRIu64 ": %s", t, *rows,
                     PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                         ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                         : "?");
        PQclear(res);
        if (!rc)
            break;
        (*rows)++;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SN_OK : SN_ERR_DB;
}

/* 1 if the destination holds nothing yet. */
static int
empty(PGconn *pg)
{
    PGresult *res = PQexec(pg, "SELECT (SELECT count(*) FROM subscribers) +"
                               " (SELECT count(*) FROM audit) +"
                               " (SELECT count(*) FROM log_entries) +"
                               " (SELECT count(*) FROM log_checkpoints) +"
                               " (SELECT count(*) FROM counters) +"
                               " (SELECT count(*) FROM certificates)");
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
             strcmp(PQgetvalue(res, 0, 0), "0") == 0;

    PQclear(res);
    return ok;
}

static sn_err
copy_all(sqlite3 *db, PGconn *pg, struct sn_migrate_report *rep)
{
    size_t i;
    sn_err r = SN_OK;

    if (!pg_ok(pg, "BEGIN"))
        return SN_ERR_DB;
    if (!empty(pg)) {
        sn_error("migrate: the PostgreSQL database already holds a "
                 "Signet's data: refusing to mix two");
        r = SN_ERR_EXISTS;
    }
    for (i = 0; r == SN_OK && i < NTABLES; i++) {
        r = copy_table(db, pg, tables[i], &rep->rows[i]);
        rep->total += rep->rows[i];
    }
    /* the next audit record follows the copied ones */
    if (r == SN_OK &&
        !pg_ok(pg, "SELECT setval(pg_get_serial_sequence('audit', 'id'),"
                   " coalesce(max(id), 0) + 1, false) FROM audit"))
        r = SN_ERR_DB;
    if (r == SN_OK && !pg_ok(pg, "COMMIT"))
        r = SN_ERR_DB;
    if (r != SN_OK)
        (void)pg_ok(pg, "ROLLBACK");
    return r;
}

const char *
sn_migrate_table(size_t i)
{
    return i < NTABLES ? tables[i] : NULL;
}

sn_err
sn_store_migrate(const char *from, const char *to, const char *home,
                 struct sn_migrate_report *rep)
{
    struct sn_store *st = NULL;
    sqlite3 *db = NULL;
    PGconn *pg = NULL;
    const char *file = strncmp(from, "sqlite:", 7) == 0 ? from + 7 : from;
    sn_err r;

    memset(rep, 0, sizeof(*rep));
    if (strncmp(to, "postgres", 8) != 0 || strncmp(file, "postgres", 8) == 0)
        return SN_ERR_INVALID;
    /* Both at the current schema; the source's log checked. */
    if ((r = sn_store_open_at(from, home, &st)) != SN_OK)
        return r;
    if (!sn_store_log_ok(st)) {
        sn_store_close(st);
        return SN_ERR_STATE;
    }
    sn_store_close(st);
    if ((r = sn_store_open_at(to, NULL, &st)) != SN_OK)
        return r;
    sn_store_close(st);
    st = NULL;
    if (sqlite3_open_v2(file, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        r = SN_ERR_DB;
        goto out;
    }
    pg = PQconnectdb(to);
    if (PQstatus(pg) != CONNECTION_OK) {
        sn_error("migrate: postgres: %s", PQerrorMessage(pg));
        r = SN_ERR_DB;
        goto out;
    }
    if ((r = copy_all(db, pg, rep)) != SN_OK)
        goto out;
    /* The copy as any node opens it: the log against its checkpoint and
     * the home's anchor. */
    if ((r = sn_store_open_at(to, home, &st)) == SN_OK && !sn_store_log_ok(st))
        r = SN_ERR_STATE;
out:
    sn_store_close(st);
    PQfinish(pg);
    sqlite3_close(db);
    return r;
}
