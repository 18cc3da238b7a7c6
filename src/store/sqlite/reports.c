/*
 * sqlite/reports: reports of Suspect Code and key compromise (issue 18) in
 * SQLite, and the signing events they match. A report and its events are
 * written in one transaction, a decision and what it did to each key in
 * another; both run on the sign requests' connection (rdb) under its lock,
 * since the shared connection cannot hold a transaction of several
 * statements apart from other threads' statements. Every move is
 * conditional on the state it expects. Values come from the policy layer
 * and are bound as parameters; names read back are checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#include "store/sqlite/sqlite_int.h"

#define REPORT_COLS                                                            \
    "id, kind, state, evidence_kind, digest_algorithm, evidence_sha256,"       \
    " reason, contact, reporter_subscriber, reporter_token,"                   \
    " reporter_client, received_at, events_total, acked_at, acked_by,"         \
    " decided_at, decided_by, decision, ca_informed_at, version"

#define EVENT_COLS                                                             \
    "audit_id, log_index, time, subscriber_id, key_id, action, principal,"     \
    " digest_algorithm, digest, sig_sha256, matched_by"

#define KEY_COLS                                                               \
    "key_id, subscriber_id, first_event, revocation_date, certs_revoked,"      \
    " external, notified_at, attempts, next_attempt, last_result"

static int
exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

static sn_err
prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s)
{
    *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK) {
        sn_error("store: reports: prepare: %s", sqlite3_errmsg(db));
        return SN_ERR_DB;
    }
    return SN_OK;
}

/* Runs a statement that returns no rows and finalizes it. */
static sn_err
step_done(sqlite3 *db, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);

    sqlite3_finalize(s);
    if (rc == SQLITE_DONE)
        return SN_OK;
    if (rc == SQLITE_CONSTRAINT)
        return SN_ERR_EXISTS;
    sn_error("store: reports: write: %s", sqlite3_errmsg(db));
    return SN_ERR_DB;
}

/* Ends a transaction: COMMIT if ok, else (or if COMMIT fails) ROLLBACK. */
static sn_err
end_tx(sqlite3 *db, sn_err r)
{
    if (r == SN_OK && exec(db, "COMMIT"))
        return SN_OK;
    (void)exec(db, "ROLLBACK");
    return r == SN_OK ? SN_ERR_DB : r;
}

/* ---- a report and its events ---- */

static sn_err
insert_report(sqlite3 *db, const struct sn_report *r)
{
    sqlite3_stmt *s = NULL;
    sn_err e;

    if ((e = prepare(db,
                     "INSERT INTO reports (" REPORT_COLS ", evidence)"
                     " VALUES (?, ?, 'received', ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                     " ?, 0, '', 0, '', '', 0, 1, ?)",
                     &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sn_report_kind_name(r->kind), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, sn_report_evidence_name(r->evidence_kind), -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(s, 4, r->digest_alg, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, r->evidence_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, r->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, r->contact, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, r->reporter_subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, r->reporter_token, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 10, r->reporter_client, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 11, (sqlite3_int64)r->received_at);
    sqlite3_bind_int64(s, 12, (sqlite3_int64)r->events_total);
    sqlite3_bind_blob(s, 13, r->evidence, (int)r->evidence_len, SQLITE_STATIC);
    return step_done(db, s);
}

static sn_err
insert_event(sqlite3 *db, const char *id, const struct sn_report_event *ev)
{
    sqlite3_stmt *s = NULL;
    sn_err e;

    if ((e = prepare(db,
                     "INSERT INTO report_events (report_id, " EVENT_COLS ")"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, ev->audit_id);
    if (ev->log_index >= 0)
        sqlite3_bind_int64(s, 3, ev->log_index);
    else
        sqlite3_bind_null(s, 3);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)ev->time);
    sqlite3_bind_text(s, 5, ev->subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, ev->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, ev->action, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, ev->principal, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, ev->digest_alg, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 10, ev->digest, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 11, ev->sig_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 12, ev->matched_by, -1, SQLITE_STATIC);
    return step_done(db, s);
}

/* A report not done with: undecided, or confirmed with a CA still to be
 * informed. */
#define OPEN_SQL                                                               \
    "(state = 'received' OR (state = 'confirmed' AND ca_informed_at = 0))"

/* The open report with this evidence, into dup: SN_ERR_EXISTS if there is
 * one, SN_OK if not. */
static sn_err
find_dup(sqlite3 *db, const char *sha256, char *dup)
{
    sqlite3_stmt *s = NULL;
    sn_err e;
    int rc;

    if ((e = prepare(db,
                     "SELECT id FROM reports WHERE evidence_sha256 = ?"
                     " AND " OPEN_SQL " ORDER BY received_at, id LIMIT 1",
                     &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, sha256, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        sn_sq_col_text(s, 0, dup, SN_UUID_LEN);
        e = SN_ERR_EXISTS;
    } else if (rc != SQLITE_DONE)
        e = SN_ERR_DB;
    sqlite3_finalize(s);
    return e;
}

sn_err
sn_sqlite_report_add(void *be, const struct sn_report *r, char *dup)
{
    struct sq_store *st = be;
    sn_err e;
    size_t i;

    pthread_mutex_lock(&st->rlock);
    if (!exec(st->rdb, "BEGIN IMMEDIATE")) {
        e = SN_ERR_DB;
        goto out;
    }
    e = dup != NULL ? find_dup(st->rdb, r->evidence_sha256, dup) : SN_OK;
    if (e == SN_OK)
        e = insert_report(st->rdb, r);
    for (i = 0; e == SN_OK && i < r->nevents; i++)
        e = insert_event(st->rdb, r->id, &r->events[i]);
    e = end_tx(st->rdb, e);
out:
    pthread_mutex_unlock(&st->rlock);
    return e;
}

/* One row of REPORT_COLS into r; SN_ERR_DB if a name is not ours. */
static sn_err
read_report(sqlite3_stmt *s, struct sn_report *r)
{
    char kind[32], state[32], ev[32];

    sn_sq_col_text(s, 0, r->id, sizeof(r->id));
    sn_sq_col_text(s, 1, kind, sizeof(kind));
    sn_sq_col_text(s, 2, state, sizeof(state));
    sn_sq_col_text(s, 3, ev, sizeof(ev));
    sn_sq_col_text(s, 4, r->digest_alg, sizeof(r->digest_alg));
    sn_sq_col_text(s, 5, r->evidence_sha256, sizeof(r->evidence_sha256));
    sn_sq_col_text(s, 6, r->reason, sizeof(r->reason));
    sn_sq_col_text(s, 7, r->contact, sizeof(r->contact));
    sn_sq_col_text(s, 8, r->reporter_subscriber,
                   sizeof(r->reporter_subscriber));
    sn_sq_col_text(s, 9, r->reporter_token, sizeof(r->reporter_token));
    sn_sq_col_text(s, 10, r->reporter_client, sizeof(r->reporter_client));
    r->received_at = (time_t)sqlite3_column_int64(s, 11);
    r->events_total = (size_t)sqlite3_column_int64(s, 12);
    r->acked_at = (time_t)sqlite3_column_int64(s, 13);
    sn_sq_col_text(s, 14, r->acked_by, sizeof(r->acked_by));
    r->decided_at = (time_t)sqlite3_column_int64(s, 15);
    sn_sq_col_text(s, 16, r->decided_by, sizeof(r->decided_by));
    sn_sq_col_text(s, 17, r->decision, sizeof(r->decision));
    r->ca_informed_at = (time_t)sqlite3_column_int64(s, 18);
    r->version = sqlite3_column_int64(s, 19);
    if (sn_report_kind_from_name(kind, &r->kind) != SN_OK ||
        sn_report_state_from_name(state, &r->state) != SN_OK ||
        sn_report_evidence_from_name(ev, &r->evidence_kind) != SN_OK)
        return SN_ERR_DB;
    return SN_OK;
}

static sn_err
read_events(sqlite3 *db, struct sn_report *r)
{
    struct sn_report_event *ev;
    sqlite3_stmt *s = NULL;
    sn_err e;
    int rc;

    if ((r->events = calloc(SN_REPORT_MAX_EVENTS, sizeof(*r->events))) == NULL)
        return SN_ERR_NOMEM;
    if ((e = prepare(db,
                     "SELECT " EVENT_COLS " FROM report_events"
                     " WHERE report_id = ? ORDER BY time, audit_id LIMIT ?",
                     &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, SN_REPORT_MAX_EVENTS);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW &&
           r->nevents < SN_REPORT_MAX_EVENTS) {
        ev = &r->events[r->nevents++];
        ev->audit_id = sqlite3_column_int64(s, 0);
        ev->log_index = sqlite3_column_type(s, 1) == SQLITE_NULL
                            ? -1
                            : sqlite3_column_int64(s, 1);
        ev->time = (time_t)sqlite3_column_int64(s, 2);
        sn_sq_col_text(s, 3, ev->subscriber, sizeof(ev->subscriber));
        sn_sq_col_text(s, 4, ev->key, sizeof(ev->key));
        sn_sq_col_text(s, 5, ev->action, sizeof(ev->action));
        sn_sq_col_text(s, 6, ev->principal, sizeof(ev->principal));
        sn_sq_col_text(s, 7, ev->digest_alg, sizeof(ev->digest_alg));
        sn_sq_col_text(s, 8, ev->digest, sizeof(ev->digest));
        sn_sq_col_text(s, 9, ev->sig_sha256, sizeof(ev->sig_sha256));
        sn_sq_col_text(s, 10, ev->matched_by, sizeof(ev->matched_by));
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SN_OK : SN_ERR_DB;
}

static void
read_key(sqlite3_stmt *s, int at, struct sn_report_key *k)
{
    sn_sq_col_text(s, at, k->key, sizeof(k->key));
    sn_sq_col_text(s, at + 1, k->subscriber, sizeof(k->subscriber));
    k->first_event = (time_t)sqlite3_column_int64(s, at + 2);
    k->revocation_date = (time_t)sqlite3_column_int64(s, at + 3);
    k->certs_revoked = (unsigned)sqlite3_column_int(s, at + 4);
    k->external = sqlite3_column_int(s, at + 5) != 0;
    k->notified_at = (time_t)sqlite3_column_int64(s, at + 6);
    k->attempts = (unsigned)sqlite3_column_int(s, at + 7);
    k->next_attempt = (time_t)sqlite3_column_int64(s, at + 8);
    sn_sq_col_text(s, at + 9, k->last_result, sizeof(k->last_result));
}

static sn_err
read_keys(sqlite3 *db, struct sn_report *r)
{
    sqlite3_stmt *s = NULL;
    sn_err e;
    int rc;

    if ((r->keys = calloc(SN_REPORT_MAX_KEYS, sizeof(*r->keys))) == NULL)
        return SN_ERR_NOMEM;
    if ((e = prepare(db,
                     "SELECT " KEY_COLS " FROM report_keys"
                     " WHERE report_id = ? ORDER BY first_event, key_id"
                     " LIMIT ?",
                     &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, SN_REPORT_MAX_KEYS);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW &&
           r->nkeys < SN_REPORT_MAX_KEYS)
        read_key(s, 0, &r->keys[r->nkeys++]);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SN_OK : SN_ERR_DB;
}

/* The report row with its evidence; rlock held, in a read transaction. */
static sn_err
get_row(sqlite3 *db, const char *id, struct sn_report *r)
{
    sqlite3_stmt *s = NULL;
    const void *blob;
    sn_err e;
    int rc, n;

    if ((e = prepare(db,
                     "SELECT " REPORT_COLS ", evidence FROM reports"
                     " WHERE id = ?",
                     &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
        e = rc == SQLITE_DONE ? SN_ERR_NOT_FOUND : SN_ERR_DB;
        goto out;
    }
    if ((e = read_report(s, r)) != SN_OK)
        goto out;
    blob = sqlite3_column_blob(s, 20);
    n = sqlite3_column_bytes(s, 20);
    if (blob == NULL || n <= 0 || n > SN_REPORT_EVIDENCE_MAX) {
        e = SN_ERR_DB;
        goto out;
    }
    if ((r->evidence = malloc((size_t)n)) == NULL) {
        e = SN_ERR_NOMEM;
        goto out;
    }
    memcpy(r->evidence, blob, (size_t)n);
    r->evidence_len = (size_t)n;
out:
    sqlite3_finalize(s);
    return e;
}

sn_err
sn_sqlite_report_get(void *be, const char *id, struct sn_report *out)
{
    struct sq_store *st = be;
    sn_err e;

    pthread_mutex_lock(&st->rlock);
    if (!exec(st->rdb, "BEGIN")) {
        e = SN_ERR_DB;
        goto out;
    }
    if ((e = get_row(st->rdb, id, out)) == SN_OK &&
        (e = read_events(st->rdb, out)) == SN_OK)
        e = read_keys(st->rdb, out);
    (void)end_tx(st->rdb, SN_OK);
out:
    pthread_mutex_unlock(&st->rlock);
    if (e != SN_OK)
        sn_report_cleanup(out);
    return e;
}

sn_err
sn_sqlite_report_list(void *be, const char *subscriber, time_t overdue_now,
                      size_t limit, struct sn_report **out, size_t *n)
{
    struct sq_store *st = be;
    struct sn_report *arr = NULL;
    sqlite3_stmt *s = NULL;
    size_t cnt = 0;
    sn_err e;
    int rc;

    if ((arr = calloc(limit, sizeof(*arr))) == NULL)
        return SN_ERR_NOMEM;
    pthread_mutex_lock(&st->rlock);
    /* Overdue: received before now - 24 h, and not acknowledged, or (not
     * rejected) not decided or its CA not informed (deadlines_json). */
    if ((e = prepare(st->rdb,
                     overdue_now == 0
                         ? "SELECT " REPORT_COLS " FROM reports"
                           " WHERE (?1 IS NULL OR reporter_subscriber = ?1)"
                           " ORDER BY received_at DESC, id LIMIT ?3"
                         : "SELECT " REPORT_COLS " FROM reports"
                           " WHERE (?1 IS NULL OR reporter_subscriber = ?1)"
                           " AND received_at < ?2 AND (acked_at = 0"
                           " OR (state != 'rejected' AND (decided_at = 0"
                           " OR ca_informed_at = 0)))"
                           " ORDER BY received_at, id LIMIT ?3",
                     &s)) != SN_OK)
        goto out;
    if (subscriber != NULL)
        sqlite3_bind_text(s, 1, subscriber, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 1);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)(overdue_now - SN_REPORT_DEADLINE));
    sqlite3_bind_int64(s, 3, (sqlite3_int64)limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && cnt < limit)
        if ((e = read_report(s, &arr[cnt++])) != SN_OK)
            goto out;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        e = SN_ERR_DB;
        goto out;
    }
    *out = arr;
    *n = cnt;
    arr = NULL;
    e = SN_OK;
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    sn_report_list_free(arr, cnt);
    return e;
}

sn_err
sn_sqlite_report_ack(void *be, const char *id, time_t now, const char *token)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err e;

    pthread_mutex_lock(&st->rlock);
    if ((e = prepare(st->rdb,
                     "UPDATE reports SET acked_at = ?, acked_by = ?,"
                     " version = version + 1 WHERE id = ? AND acked_at = 0",
                     &s)) != SN_OK)
        goto out;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
    sqlite3_bind_text(s, 2, token, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, id, -1, SQLITE_STATIC);
    if ((e = step_done(st->rdb, s)) == SN_OK && sqlite3_changes(st->rdb) == 0)
        e = SN_ERR_STATE;
out:
    pthread_mutex_unlock(&st->rlock);
    return e;
}

static sn_err
insert_key(sqlite3 *db, const char *id, const struct sn_report_key *k)
{
    sqlite3_stmt *s = NULL;
    sn_err e;

    if ((e = prepare(db,
                     "INSERT INTO report_keys (report_id, " KEY_COLS ")"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, k->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, k->subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)k->first_event);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)k->revocation_date);
    sqlite3_bind_int(s, 6, (int)k->certs_revoked);
    sqlite3_bind_int(s, 7, k->external != 0);
    sqlite3_bind_int64(s, 8, (sqlite3_int64)k->notified_at);
    sqlite3_bind_int(s, 9, (int)k->attempts);
    sqlite3_bind_int64(s, 10, (sqlite3_int64)k->next_attempt);
    sqlite3_bind_text(s, 11, k->last_result, -1, SQLITE_STATIC);
    return step_done(db, s);
}

sn_err
sn_sqlite_report_decide(void *be, const char *id, enum sn_report_state to,
                        time_t now, const char *token, const char *decision,
                        const struct sn_report_key *keys, size_t nkeys,
                        time_t ca_informed)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err e;
    size_t i;

    pthread_mutex_lock(&st->rlock);
    if (!exec(st->rdb, "BEGIN IMMEDIATE")) {
        e = SN_ERR_DB;
        goto out;
    }
    if ((e = prepare(st->rdb,
                     "UPDATE reports SET state = ?1, decided_at = ?2,"
                     " decided_by = ?3, decision = ?4, ca_informed_at = ?5,"
                     " acked_at = CASE acked_at WHEN 0 THEN ?2"
                     " ELSE acked_at END,"
                     " acked_by = CASE acked_at WHEN 0 THEN ?3"
                     " ELSE acked_by END,"
                     " version = version + 1"
                     " WHERE id = ?6 AND state = 'received'",
                     &s)) != SN_OK)
        goto done;
    sqlite3_bind_text(s, 1, sn_report_state_name(to), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
    sqlite3_bind_text(s, 3, token, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, decision, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)ca_informed);
    sqlite3_bind_text(s, 6, id, -1, SQLITE_STATIC);
    if ((e = step_done(st->rdb, s)) == SN_OK && sqlite3_changes(st->rdb) == 0)
        e = SN_ERR_STATE;
    for (i = 0; e == SN_OK && i < nkeys; i++)
        e = insert_key(st->rdb, id, &keys[i]);
done:
    e = end_tx(st->rdb, e);
out:
    pthread_mutex_unlock(&st->rlock);
    return e;
}

sn_err
sn_sqlite_report_notices_due(void *be, time_t now, size_t max,
                             struct sn_report **out, size_t *n)
{
    struct sq_store *st = be;
    struct sn_report *arr = NULL, *r;
    sqlite3_stmt *s = NULL;
    size_t cnt = 0;
    sn_err e;
    int rc;

    if ((arr = calloc(max, sizeof(*arr))) == NULL)
        return SN_ERR_NOMEM;
    pthread_mutex_lock(&st->rlock);
    if ((e = prepare(st->rdb,
                     "SELECT report_id, " KEY_COLS " FROM report_keys"
                     " WHERE external = 1 AND notified_at = 0"
                     " AND next_attempt <= ? ORDER BY next_attempt LIMIT ?",
                     &s)) != SN_OK)
        goto out;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && cnt < max) {
        r = &arr[cnt++];
        sn_sq_col_text(s, 0, r->id, sizeof(r->id));
        if ((r->keys = calloc(1, sizeof(*r->keys))) == NULL) {
            e = SN_ERR_NOMEM;
            goto out;
        }
        read_key(s, 1, &r->keys[0]);
        r->nkeys = 1;
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        e = SN_ERR_DB;
        goto out;
    }
    *out = arr;
    *n = cnt;
    arr = NULL;
    e = SN_OK;
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    sn_report_list_free(arr, cnt);
    return e;
}

sn_err
sn_sqlite_report_notice_result(void *be, const char *id, const char *key,
                               int ok, time_t now, time_t next_attempt,
                               const char *result)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err e;

    pthread_mutex_lock(&st->rlock);
    if (!exec(st->rdb, "BEGIN IMMEDIATE")) {
        e = SN_ERR_DB;
        goto out;
    }
    if ((e = prepare(st->rdb,
                     "UPDATE report_keys SET attempts = attempts + 1,"
                     " notified_at = ?, next_attempt = ?, last_result = ?"
                     " WHERE report_id = ? AND key_id = ?"
                     " AND notified_at = 0",
                     &s)) != SN_OK)
        goto done;
    sqlite3_bind_int64(s, 1, ok ? (sqlite3_int64)now : 0);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)next_attempt);
    sqlite3_bind_text(s, 3, result, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, key, -1, SQLITE_STATIC);
    if ((e = step_done(st->rdb, s)) == SN_OK && sqlite3_changes(st->rdb) == 0)
        e = SN_ERR_STATE;
    if (e != SN_OK || !ok)
        goto done;
    /* The last notice owed: the report's CA is informed. */
    if ((e = prepare(st->rdb,
                     "UPDATE reports SET ca_informed_at = ?,"
                     " version = version + 1"
                     " WHERE id = ? AND ca_informed_at = 0"
                     " AND NOT EXISTS (SELECT 1 FROM report_keys"
                     " WHERE report_id = ? AND external = 1"
                     " AND notified_at = 0)",
                     &s)) != SN_OK)
        goto done;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, id, -1, SQLITE_STATIC);
    e = step_done(st->rdb, s);
done:
    e = end_tx(st->rdb, e);
out:
    pthread_mutex_unlock(&st->rlock);
    return e;
}

/* One count of the overdue query. */
static sn_err
count(sqlite3 *db, const char *where, time_t due_before, uint64_t *out)
{
    char sql[512];
    sqlite3_stmt *s = NULL;
    sn_err e;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM reports WHERE %s", where);
    if ((e = prepare(db, sql, &s)) != SN_OK)
        return e;
    if (sqlite3_bind_parameter_count(s) > 0)
        sqlite3_bind_int64(s, 1, (sqlite3_int64)due_before);
    if (sqlite3_step(s) == SQLITE_ROW)
        *out = (uint64_t)sqlite3_column_int64(s, 0);
    else
        e = SN_ERR_DB;
    sqlite3_finalize(s);
    return e;
}

sn_err
sn_sqlite_report_overdue(void *be, time_t now, struct sn_report_overdue *out)
{
    struct sq_store *st = be;
    time_t before = now - SN_REPORT_DEADLINE;
    sn_err e;

    pthread_mutex_lock(&st->rlock);
    if (!exec(st->rdb, "BEGIN")) {
        e = SN_ERR_DB;
        goto out;
    }
    /* A deadline passed (received before now - 24 h) and not met: no
     * acknowledgement; no decision; no CA informed of a confirmation (a
     * rejected report owes none). */
    if ((e = count(st->rdb, OPEN_SQL, 0, &out->open)) == SN_OK &&
        (e = count(st->rdb, "acked_at = 0 AND received_at < ?1", before,
                   &out->ack)) == SN_OK &&
        (e = count(st->rdb, "state = 'received' AND received_at < ?1", before,
                   &out->revocation)) == SN_OK)
        e = count(st->rdb,
                  "state != 'rejected' AND ca_informed_at = 0"
                  " AND received_at < ?1",
                  before, &out->ca_informed);
    (void)end_tx(st->rdb, SN_OK);
out:
    pthread_mutex_unlock(&st->rlock);
    return e;
}

/* ---- signing events ---- */

#define SIGN_EVENT_COLS                                                        \
    "id, time, subscriber_id, key_id, token_id, client, action,"               \
    " digest_algorithm, digest, scheme, result, detail, policy, principal,"    \
    " sig_sha256, digest_salt, log_index"

#define SIGN_EVENT_WHERE                                                       \
    "action IN ('sign', 'sign_file') AND result = 'ok'"                        \
    " AND subscriber_id != ''"

/* Runs s (SIGN_EVENT_COLS), taking up to limit rows and counting all. */
static sn_err
collect(struct sq_store *st, sqlite3_stmt *s, size_t limit,
        struct sn_audit **out, size_t *n, size_t *total)
{
    struct sn_audit *arr;
    size_t cnt = 0, all = 0;
    int rc;

    if ((arr = calloc(limit, sizeof(*arr))) == NULL)
        return SN_ERR_NOMEM;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt < limit)
            sn_sq_read_audit(s, 0, &arr[cnt++]);
        all++;
    }
    if (rc != SQLITE_DONE) {
        sn_error("store: signing events: %s", sqlite3_errmsg(st->db));
        free(arr);
        return SN_ERR_DB;
    }
    *out = arr;
    *n = cnt;
    *total = all;
    return SN_OK;
}

/* By signature hash: sig_sha256 IN (one placeholder per hash) through
 * the partial index audit_by_sig (the != '' term lets SQLite use it); by
 * digest through audit_by_digest. The statement's text is built from the
 * count alone; the values are bound. first_per_key groups by key: with
 * the one min() aggregate, SQLite takes the bare columns from the row of
 * the key's earliest time. */
sn_err
sn_sqlite_sign_events_match(void *be, const char (*sigs)[2 * 32 + 1],
                            size_t nsigs, const char *digest_alg,
                            const char *digest_hex, int first_per_key,
                            size_t limit, struct sn_audit **out, size_t *n,
                            size_t *total)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    char sql[1024], in[64 * 3 + 1];
    const char *cols =
        first_per_key ? SIGN_EVENT_COLS ", min(time)" : SIGN_EVENT_COLS;
    const char *group = first_per_key ? " GROUP BY key_id" : "";
    size_t i, off = 0;
    sn_err e;

    in[0] = '\0';
    for (i = 0; i < nsigs && i < 64; i++)
        off += (size_t)snprintf(in + off, sizeof(in) - off, "%s?",
                                i > 0 ? "," : "");
    if (nsigs > 0)
        snprintf(sql, sizeof(sql),
                 "SELECT %s FROM audit"
                 " WHERE sig_sha256 != '' AND sig_sha256 IN (%s)"
                 " AND " SIGN_EVENT_WHERE "%s ORDER BY time, id LIMIT %d",
                 cols, in, group, SN_REPORT_COUNT_MAX + 1);
    else
        snprintf(sql, sizeof(sql),
                 "SELECT %s FROM audit"
                 " WHERE digest != '' AND digest = ?"
                 " AND digest_algorithm = ?"
                 " AND " SIGN_EVENT_WHERE "%s ORDER BY time, id LIMIT %d",
                 cols, group, SN_REPORT_COUNT_MAX + 1);
    if ((e = sn_sq_prepare(st, sql, &s)) != SN_OK)
        return e;
    if (nsigs > 0)
        for (i = 0; i < nsigs && i < 64; i++)
            sqlite3_bind_text(s, (int)i + 1, sigs[i], -1, SQLITE_STATIC);
    else {
        sqlite3_bind_text(s, 1, digest_hex, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, digest_alg, -1, SQLITE_STATIC);
    }
    e = collect(st, s, limit, out, n, total);
    sqlite3_finalize(s);
    return e;
}

sn_err
sn_sqlite_sign_events_since(void *be, const char *key, time_t since,
                            size_t limit, struct sn_audit **out, size_t *n,
                            size_t *total)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err e;

    if ((e = sn_sq_prepare(st,
                           "SELECT " SIGN_EVENT_COLS " FROM audit"
                           " WHERE key_id = ? AND time >= ?"
                           " AND " SIGN_EVENT_WHERE " ORDER BY time, id",
                           &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)since);
    e = collect(st, s, limit, out, n, total);
    sqlite3_finalize(s);
    return e;
}
