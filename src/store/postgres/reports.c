/*
 * postgres/reports: reports of Suspect Code and key compromise (issue 18)
 * in PostgreSQL, as sqlite/reports.c, and the signing events they match.
 * A report and its events are written in one transaction, a decision and
 * what it did to each key in another. Several nodes share the database:
 * reports with one evidence are added one at a time (a transaction-scoped
 * advisory lock on the evidence's hash), so that two nodes cannot both
 * find no open duplicate; a notice's outcome locks its report's row, so
 * that the last two keys informed at once on two nodes still mark the
 * report's CA informed. Every move is conditional on the state it
 * expects. Values come from the policy layer and are bound as
 * parameters; names read back are checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#include "store/postgres/pg_int.h"

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

/* A report not done with: undecided, or confirmed with a CA still to be
 * informed. */
#define OPEN_SQL                                                               \
    "(state = 'received' OR (state = 'confirmed' AND ca_informed_at = 0))"

/* pg_advisory_xact_lock's first key of the reports' evidence ("sgnt"); the
 * second is the evidence hash's hashtext. */
#define EVIDENCE_LOCK "1936158324"

/* A name column as text ("" for NULL), whole (not cut to a buffer). */
static const char *
col_name(const PGresult *res, int row, int col)
{
    return sn_pg_col_null(res, row, col) ? "" : PQgetvalue(res, row, col);
}

/* ---- a report and its events ---- */

static sn_err
insert_report(struct pg_conn *c, const struct sn_report *r)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, r->id);
    sn_pg_p_text(&p, sn_report_kind_name(r->kind));
    sn_pg_p_text(&p, sn_report_evidence_name(r->evidence_kind));
    sn_pg_p_text(&p, r->digest_alg);
    sn_pg_p_text(&p, r->evidence_sha256);
    sn_pg_p_text(&p, r->reason);
    sn_pg_p_text(&p, r->contact);
    sn_pg_p_text(&p, r->reporter_subscriber);
    sn_pg_p_text(&p, r->reporter_token);
    sn_pg_p_text(&p, r->reporter_client);
    sn_pg_p_int(&p, (int64_t)r->received_at);
    sn_pg_p_int(&p, (int64_t)r->events_total);
    sn_pg_p_bytes(&p, r->evidence, r->evidence_len);
    return sn_pg_exec(c,
                      "INSERT INTO reports (" REPORT_COLS ", evidence)"
                      " VALUES ($1, $2, 'received', $3, $4, $5, $6, $7, $8,"
                      " $9, $10, $11, $12, 0, '', 0, '', '', 0, 1, $13)",
                      &p, NULL, NULL);
}

static sn_err
insert_event(struct pg_conn *c, const char *id,
             const struct sn_report_event *ev)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, id);
    sn_pg_p_int(&p, ev->audit_id);
    if (ev->log_index >= 0)
        sn_pg_p_int(&p, ev->log_index);
    else
        sn_pg_p_text(&p, NULL);
    sn_pg_p_int(&p, (int64_t)ev->time);
    sn_pg_p_text(&p, ev->subscriber);
    sn_pg_p_text(&p, ev->key);
    sn_pg_p_text(&p, ev->action);
    sn_pg_p_text(&p, ev->principal);
    sn_pg_p_text(&p, ev->digest_alg);
    sn_pg_p_text(&p, ev->digest);
    sn_pg_p_text(&p, ev->sig_sha256);
    sn_pg_p_text(&p, ev->matched_by);
    return sn_pg_exec(c,
                      "INSERT INTO report_events (report_id, " EVENT_COLS ")"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
                      " $12)",
                      &p, NULL, NULL);
}

/* The open report with this evidence, into dup: SN_ERR_EXISTS if there is
 * one, SN_OK if not. */
static sn_err
find_dup(struct pg_conn *c, const char *sha256, char *dup)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err e;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, sha256);
    if ((e = sn_pg_exec(c,
                        "SELECT id FROM reports WHERE evidence_sha256 = $1"
                        " AND " OPEN_SQL
                        " ORDER BY received_at, id COLLATE \"C\" LIMIT 1",
                        &p, &res, NULL)) != SN_OK)
        goto out;
    if (res == NULL)
        e = SN_ERR_DB;
    else if (PQntuples(res) > 0) {
        sn_pg_col_text(res, 0, 0, dup, SN_UUID_LEN);
        e = SN_ERR_EXISTS;
    }
out:
    PQclear(res);
    return e;
}

sn_err
sn_pg_report_add(void *be, const struct sn_report *r, char *dup)
{
    struct sn_pg_params p;
    struct pg_conn *c;
    sn_err e;
    size_t i;

    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    /* One add of this evidence at a time, so that the duplicate check
     * sees every report that committed before it. */
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, r->evidence_sha256);
    if ((e = sn_pg_begin(c)) == SN_OK)
        e = sn_pg_exec(
            c, "SELECT pg_advisory_xact_lock(" EVIDENCE_LOCK ", hashtext($1))",
            &p, NULL, NULL);
    if (e == SN_OK && dup != NULL)
        e = find_dup(c, r->evidence_sha256, dup);
    if (e == SN_OK)
        e = insert_report(c, r);
    for (i = 0; e == SN_OK && i < r->nevents; i++)
        e = insert_event(c, r->id, &r->events[i]);
    e = sn_pg_tx_end(c, e);
    sn_pg_put(be, c);
    return e;
}

/* One row of REPORT_COLS into r; SN_ERR_DB if a name is not ours. */
static sn_err
read_report(const PGresult *res, int row, struct sn_report *r)
{
    sn_pg_col_text(res, row, 0, r->id, sizeof(r->id));
    sn_pg_col_text(res, row, 4, r->digest_alg, sizeof(r->digest_alg));
    sn_pg_col_text(res, row, 5, r->evidence_sha256, sizeof(r->evidence_sha256));
    sn_pg_col_text(res, row, 6, r->reason, sizeof(r->reason));
    sn_pg_col_text(res, row, 7, r->contact, sizeof(r->contact));
    sn_pg_col_text(res, row, 8, r->reporter_subscriber,
                   sizeof(r->reporter_subscriber));
    sn_pg_col_text(res, row, 9, r->reporter_token, sizeof(r->reporter_token));
    sn_pg_col_text(res, row, 10, r->reporter_client,
                   sizeof(r->reporter_client));
    r->received_at = (time_t)sn_pg_col_int(res, row, 11);
    r->events_total = (size_t)sn_pg_col_int(res, row, 12);
    r->acked_at = (time_t)sn_pg_col_int(res, row, 13);
    sn_pg_col_text(res, row, 14, r->acked_by, sizeof(r->acked_by));
    r->decided_at = (time_t)sn_pg_col_int(res, row, 15);
    sn_pg_col_text(res, row, 16, r->decided_by, sizeof(r->decided_by));
    sn_pg_col_text(res, row, 17, r->decision, sizeof(r->decision));
    r->ca_informed_at = (time_t)sn_pg_col_int(res, row, 18);
    r->version = sn_pg_col_int(res, row, 19);
    if (sn_report_kind_from_name(col_name(res, row, 1), &r->kind) != SN_OK ||
        sn_report_state_from_name(col_name(res, row, 2), &r->state) != SN_OK ||
        sn_report_evidence_from_name(col_name(res, row, 3),
                                     &r->evidence_kind) != SN_OK)
        return SN_ERR_DB;
    return SN_OK;
}

static sn_err
fill_report(const PGresult *res, int row, void *elem)
{
    return read_report(res, row, elem);
}

static sn_err
read_events(struct pg_conn *c, struct sn_report *r)
{
    struct sn_report_event *ev;
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err e;
    int i;

    if ((r->events = calloc(SN_REPORT_MAX_EVENTS, sizeof(*r->events))) == NULL)
        return SN_ERR_NOMEM;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, r->id);
    sn_pg_p_int(&p, SN_REPORT_MAX_EVENTS);
    if ((e = sn_pg_exec(c,
                        "SELECT " EVENT_COLS " FROM report_events"
                        " WHERE report_id = $1 ORDER BY time, audit_id"
                        " LIMIT $2",
                        &p, &res, NULL)) != SN_OK)
        goto out;
    if (res == NULL) {
        e = SN_ERR_DB;
        goto out;
    }
    for (i = 0; i < PQntuples(res) && r->nevents < SN_REPORT_MAX_EVENTS; i++) {
        ev = &r->events[r->nevents++];
        ev->audit_id = sn_pg_col_int(res, i, 0);
        ev->log_index =
            sn_pg_col_null(res, i, 1) ? -1 : sn_pg_col_int(res, i, 1);
        ev->time = (time_t)sn_pg_col_int(res, i, 2);
        sn_pg_col_text(res, i, 3, ev->subscriber, sizeof(ev->subscriber));
        sn_pg_col_text(res, i, 4, ev->key, sizeof(ev->key));
        sn_pg_col_text(res, i, 5, ev->action, sizeof(ev->action));
        sn_pg_col_text(res, i, 6, ev->principal, sizeof(ev->principal));
        sn_pg_col_text(res, i, 7, ev->digest_alg, sizeof(ev->digest_alg));
        sn_pg_col_text(res, i, 8, ev->digest, sizeof(ev->digest));
        sn_pg_col_text(res, i, 9, ev->sig_sha256, sizeof(ev->sig_sha256));
        sn_pg_col_text(res, i, 10, ev->matched_by, sizeof(ev->matched_by));
    }
out:
    PQclear(res);
    return e;
}

static void
read_key(const PGresult *res, int row, int at, struct sn_report_key *k)
{
    sn_pg_col_text(res, row, at, k->key, sizeof(k->key));
    sn_pg_col_text(res, row, at + 1, k->subscriber, sizeof(k->subscriber));
    k->first_event = (time_t)sn_pg_col_int(res, row, at + 2);
    k->revocation_date = (time_t)sn_pg_col_int(res, row, at + 3);
    k->certs_revoked = (unsigned)sn_pg_col_int(res, row, at + 4);
    k->external = sn_pg_col_int(res, row, at + 5) != 0;
    k->notified_at = (time_t)sn_pg_col_int(res, row, at + 6);
    k->attempts = (unsigned)sn_pg_col_int(res, row, at + 7);
    k->next_attempt = (time_t)sn_pg_col_int(res, row, at + 8);
    sn_pg_col_text(res, row, at + 9, k->last_result, sizeof(k->last_result));
}

static sn_err
read_keys(struct pg_conn *c, struct sn_report *r)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err e;
    int i;

    if ((r->keys = calloc(SN_REPORT_MAX_KEYS, sizeof(*r->keys))) == NULL)
        return SN_ERR_NOMEM;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, r->id);
    sn_pg_p_int(&p, SN_REPORT_MAX_KEYS);
    if ((e = sn_pg_exec(c,
                        "SELECT " KEY_COLS " FROM report_keys"
                        " WHERE report_id = $1"
                        " ORDER BY first_event, key_id COLLATE \"C\" LIMIT $2",
                        &p, &res, NULL)) != SN_OK)
        goto out;
    if (res == NULL) {
        e = SN_ERR_DB;
        goto out;
    }
    for (i = 0; i < PQntuples(res) && r->nkeys < SN_REPORT_MAX_KEYS; i++)
        read_key(res, i, 0, &r->keys[r->nkeys++]);
out:
    PQclear(res);
    return e;
}

/* The report row with its evidence, in the read transaction. */
static sn_err
get_row(struct pg_conn *c, const char *id, struct sn_report *r)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err e;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, id);
    if ((e = sn_pg_exec(c,
                        "SELECT " REPORT_COLS ", evidence FROM reports"
                        " WHERE id = $1",
                        &p, &res, NULL)) != SN_OK)
        goto out;
    if (res == NULL || PQntuples(res) == 0) {
        e = res == NULL ? SN_ERR_DB : SN_ERR_NOT_FOUND;
        goto out;
    }
    if ((e = read_report(res, 0, r)) != SN_OK ||
        (e = sn_pg_col_bytes(res, 0, 20, &r->evidence, &r->evidence_len)) !=
            SN_OK)
        goto out;
    if (r->evidence == NULL || r->evidence_len > SN_REPORT_EVIDENCE_MAX)
        e = SN_ERR_DB;
out:
    PQclear(res);
    return e;
}

sn_err
sn_pg_report_get(void *be, const char *id, struct sn_report *out)
{
    struct pg_conn *c;
    sn_err e;

    memset(out, 0, sizeof(*out));
    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    /* One snapshot: the report, its events and keys of one moment. */
    if ((e = sn_pg_begin(c)) == SN_OK &&
        (e = sn_pg_exec(c,
                        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ,"
                        " READ ONLY",
                        NULL, NULL, NULL)) == SN_OK &&
        (e = get_row(c, id, out)) == SN_OK &&
        (e = read_events(c, out)) == SN_OK)
        e = read_keys(c, out);
    sn_pg_rollback(c); /* a read: nothing to commit */
    sn_pg_put(be, c);
    if (e != SN_OK)
        sn_report_cleanup(out);
    return e;
}

sn_err
sn_pg_report_list(void *be, const char *subscriber, time_t overdue_now,
                  size_t limit, struct sn_report **out, size_t *n)
{
    static const char all[] =
        "SELECT " REPORT_COLS " FROM reports"
        " WHERE ($1::text IS NULL OR reporter_subscriber = $1::text)"
        " ORDER BY received_at DESC, id COLLATE \"C\" LIMIT $2";
    /* Overdue: received before now - 24 h, and not acknowledged, or (not
     * rejected) not decided or its CA not informed (deadlines_json). */
    static const char overdue[] =
        "SELECT " REPORT_COLS " FROM reports"
        " WHERE ($1::text IS NULL OR reporter_subscriber = $1::text)"
        " AND received_at < $3 AND (acked_at = 0"
        " OR (state != 'rejected' AND (decided_at = 0"
        " OR ca_informed_at = 0)))"
        " ORDER BY received_at, id COLLATE \"C\" LIMIT $2";
    struct sn_pg_params p;
    PGresult *res = NULL;
    void *arr = NULL;
    sn_err e;

    *out = NULL;
    *n = 0;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, subscriber);
    sn_pg_p_int(&p, (int64_t)limit);
    if (overdue_now != 0)
        sn_pg_p_int(&p, (int64_t)(overdue_now - SN_REPORT_DEADLINE));
    if ((e = sn_pg_query(be, overdue_now == 0 ? all : overdue, &p, &res)) ==
            SN_OK &&
        (e = sn_pg_collect(res, sizeof(struct sn_report), fill_report, NULL,
                           &arr, n)) == SN_OK)
        *out = arr;
    PQclear(res);
    return e;
}

sn_err
sn_pg_report_ack(void *be, const char *id, time_t now, const char *token)
{
    struct sn_pg_params p;
    sn_err e;

    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)now);
    sn_pg_p_text(&p, token);
    sn_pg_p_text(&p, id);
    e = sn_pg_write(be,
                    "UPDATE reports SET acked_at = $1, acked_by = $2,"
                    " version = version + 1 WHERE id = $3 AND acked_at = 0",
                    &p, 1);
    return e == SN_ERR_NOT_FOUND ? SN_ERR_STATE : e;
}

static sn_err
insert_key(struct pg_conn *c, const char *id, const struct sn_report_key *k)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, id);
    sn_pg_p_text(&p, k->key);
    sn_pg_p_text(&p, k->subscriber);
    sn_pg_p_int(&p, (int64_t)k->first_event);
    sn_pg_p_int(&p, (int64_t)k->revocation_date);
    sn_pg_p_int(&p, (int64_t)k->certs_revoked);
    sn_pg_p_int(&p, k->external != 0);
    sn_pg_p_int(&p, (int64_t)k->notified_at);
    sn_pg_p_int(&p, (int64_t)k->attempts);
    sn_pg_p_int(&p, (int64_t)k->next_attempt);
    sn_pg_p_text(&p, k->last_result);
    return sn_pg_exec(c,
                      "INSERT INTO report_keys (report_id, " KEY_COLS ")"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                      &p, NULL, NULL);
}

sn_err
sn_pg_report_decide(void *be, const char *id, enum sn_report_state to,
                    time_t now, const char *token, const char *decision,
                    const struct sn_report_key *keys, size_t nkeys,
                    time_t ca_informed)
{
    struct sn_pg_params p;
    struct pg_conn *c;
    sn_err e;
    size_t i;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, sn_report_state_name(to));
    sn_pg_p_int(&p, (int64_t)now);
    sn_pg_p_text(&p, token);
    sn_pg_p_text(&p, decision);
    sn_pg_p_int(&p, (int64_t)ca_informed);
    sn_pg_p_text(&p, id);
    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    /* The update locks the row: a second decision waits, then finds the
     * report no longer received (SN_ERR_STATE, nothing written). */
    if ((e = sn_pg_begin(c)) == SN_OK)
        e = sn_pg_run(
            SN_ERR_STATE, c,
            "UPDATE reports SET state = $1, decided_at = $2,"
            " decided_by = $3, decision = $4, ca_informed_at = $5,"
            " acked_at = CASE acked_at WHEN 0 THEN $2 ELSE acked_at END,"
            " acked_by = CASE acked_at WHEN 0 THEN $3 ELSE acked_by END,"
            " version = version + 1"
            " WHERE id = $6 AND state = 'received'",
            &p, 1);
    for (i = 0; e == SN_OK && i < nkeys; i++)
        e = insert_key(c, id, &keys[i]);
    e = sn_pg_tx_end(c, e);
    sn_pg_put(be, c);
    return e;
}

static sn_err
fill_notice(const PGresult *res, int row, void *elem)
{
    struct sn_report *r = elem;

    sn_pg_col_text(res, row, 0, r->id, sizeof(r->id));
    if ((r->keys = calloc(1, sizeof(*r->keys))) == NULL)
        return SN_ERR_NOMEM;
    read_key(res, row, 1, &r->keys[0]);
    r->nkeys = 1;
    return SN_OK;
}

static void
clean_notice(void *elem)
{
    sn_report_cleanup(elem);
}

sn_err
sn_pg_report_notices_due(void *be, time_t now, size_t max,
                         struct sn_report **out, size_t *n)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    void *arr = NULL;
    sn_err e;

    *out = NULL;
    *n = 0;
    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)now);
    sn_pg_p_int(&p, (int64_t)max);
    /* Several nodes send notices: each due one is claimed for a minute
     * (next_attempt moved on) by the node that takes it, so one node
     * sends it; its result then sets next_attempt as ever. */
    if ((e = sn_pg_query(
             be,
             "WITH due AS (SELECT report_id AS rid, key_id AS kid"
             " FROM report_keys WHERE external = 1 AND notified_at = 0"
             " AND next_attempt <= $1 ORDER BY next_attempt,"
             " report_id COLLATE \"C\", key_id COLLATE \"C\""
             " LIMIT $2 FOR UPDATE SKIP LOCKED)"
             " UPDATE report_keys r SET next_attempt = $1 + 60 FROM due"
             " WHERE r.report_id = due.rid AND r.key_id = due.kid"
             " RETURNING r.report_id, r.key_id, r.subscriber_id,"
             " r.first_event, r.revocation_date, r.certs_revoked,"
             " r.external, r.notified_at, r.attempts, r.next_attempt,"
             " r.last_result",
             &p, &res)) == SN_OK &&
        (e = sn_pg_collect(res, sizeof(struct sn_report), fill_notice,
                           clean_notice, &arr, n)) == SN_OK)
        *out = arr;
    PQclear(res);
    return e;
}

/* Inside notice_result's transaction, the report's row locked. */
static sn_err
notice_write(struct pg_conn *c, const char *id, const char *key, int ok,
             time_t now, time_t next_attempt, const char *result)
{
    struct sn_pg_params p;
    sn_err e;

    sn_pg_p_init(&p);
    sn_pg_p_int(&p, ok ? (int64_t)now : 0);
    sn_pg_p_int(&p, (int64_t)next_attempt);
    sn_pg_p_text(&p, result);
    sn_pg_p_text(&p, id);
    sn_pg_p_text(&p, key);
    if ((e = sn_pg_run(
             SN_ERR_STATE, c,
             "UPDATE report_keys SET attempts = attempts + 1,"
             " notified_at = $1, next_attempt = $2, last_result = $3"
             " WHERE report_id = $4 AND key_id = $5 AND notified_at = 0",
             &p, 1)) != SN_OK ||
        !ok)
        return e;
    /* The last notice owed: the report's CA is informed. */
    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)now);
    sn_pg_p_text(&p, id);
    return sn_pg_run(
        SN_ERR_STATE, c,
        "UPDATE reports SET ca_informed_at = $1,"
        " version = version + 1"
        " WHERE id = $2 AND ca_informed_at = 0"
        " AND NOT EXISTS (SELECT 1 FROM report_keys"
        " WHERE report_id = $2 AND external = 1 AND notified_at = 0)",
        &p, 0);
}

sn_err
sn_pg_report_notice_result(void *be, const char *id, const char *key, int ok,
                           time_t now, time_t next_attempt, const char *result)
{
    struct sn_pg_params p;
    struct pg_conn *c;
    sn_err e;

    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    /* The report's row first: two keys' notices of one report, informed
     * at once on two nodes, take turns, and the second sees the first's
     * and so finds no notice still owed. */
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, id);
    if ((e = sn_pg_begin(c)) == SN_OK &&
        (e = sn_pg_exec(c, "SELECT 1 FROM reports WHERE id = $1 FOR UPDATE", &p,
                        NULL, NULL)) == SN_OK)
        e = notice_write(c, id, key, ok, now, next_attempt, result);
    e = sn_pg_tx_end(c, e);
    sn_pg_put(be, c);
    return e;
}

sn_err
sn_pg_report_overdue(void *be, time_t now, struct sn_report_overdue *out)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err e;

    memset(out, 0, sizeof(*out));
    /* A deadline passed (received before now - 24 h) and not met: no
     * acknowledgement; no decision; no CA informed of a confirmation (a
     * rejected report owes none). One statement: one snapshot. */
    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)(now - SN_REPORT_DEADLINE));
    if ((e = sn_pg_query(be,
                         "SELECT count(*) FILTER (WHERE " OPEN_SQL "),"
                         " count(*) FILTER (WHERE acked_at = 0"
                         " AND received_at < $1),"
                         " count(*) FILTER (WHERE state = 'received'"
                         " AND received_at < $1),"
                         " count(*) FILTER (WHERE state != 'rejected'"
                         " AND ca_informed_at = 0 AND received_at < $1)"
                         " FROM reports",
                         &p, &res)) != SN_OK)
        goto out;
    if (PQntuples(res) != 1) {
        e = SN_ERR_DB;
        goto out;
    }
    out->open = (uint64_t)sn_pg_col_int(res, 0, 0);
    out->ack = (uint64_t)sn_pg_col_int(res, 0, 1);
    out->revocation = (uint64_t)sn_pg_col_int(res, 0, 2);
    out->ca_informed = (uint64_t)sn_pg_col_int(res, 0, 3);
out:
    PQclear(res);
    return e;
}

/* ---- signing events ---- */

#define SIGN_EVENT_WHERE                                                       \
    "action IN ('sign', 'sign_file') AND result = 'ok'"                        \
    " AND subscriber_id != ''"

/* At most this many hashes are matched (as SQLite's statement). */
#define MATCH_SIGS 64

/* The rows of res (SN_PG_AUDIT_COLS), up to limit taken; *total counts
 * them all, or, if res has one more column, is its value (a window
 * count). */
static sn_err
collect(const PGresult *res, size_t limit, struct sn_audit **out, size_t *n,
        size_t *total)
{
    struct sn_audit *arr;
    size_t rows = (size_t)PQntuples(res), cnt;

    if ((arr = calloc(limit, sizeof(*arr))) == NULL)
        return SN_ERR_NOMEM;
    for (cnt = 0; cnt < rows && cnt < limit; cnt++)
        sn_pg_read_audit(res, (int)cnt, 0, &arr[cnt]);
    *out = arr;
    *n = cnt;
    *total = rows;
    if (PQnfields(res) > 17 && rows > 0)
        *total = (size_t)sn_pg_col_int(res, 0, 17);
    return SN_OK;
}

/* sigs as a text[] literal ({"..","..."}), each element quoted and its
 * quotes and backslashes escaped: the values stay values. */
static void
sig_array(const char (*sigs)[2 * 32 + 1], size_t nsigs, char *out, size_t len)
{
    size_t i, j, off = 0;
    char ch;

    out[off++] = '{';
    for (i = 0; i < nsigs && i < MATCH_SIGS; i++) {
        if (i > 0)
            out[off++] = ',';
        out[off++] = '"';
        for (j = 0; j < 2 * 32 && (ch = sigs[i][j]) != '\0'; j++) {
            if (ch == '"' || ch == '\\')
                out[off++] = '\\';
            out[off++] = ch;
        }
        out[off++] = '"';
    }
    out[off++] = '}';
    out[off < len ? off : len - 1] = '\0';
}

/* By signature hash through the partial index audit_by_sig (the != ''
 * term lets PostgreSQL use it), by digest through audit_by_digest. With
 * first_per_key, each key's first event (DISTINCT ON), then oldest first.
 * Counted up to SN_REPORT_COUNT_MAX + 1 ($2 or $3). */
static const char *const match_sql[4] = {
    "SELECT " SN_PG_AUDIT_COLS " FROM audit WHERE sig_sha256 != ''"
    " AND sig_sha256 = ANY($1::text[]) AND " SIGN_EVENT_WHERE
    " ORDER BY time, id LIMIT $2",
    "SELECT * FROM (SELECT DISTINCT ON (key_id) " SN_PG_AUDIT_COLS
    " FROM audit WHERE sig_sha256 != '' AND sig_sha256 = ANY($1::text[])"
    " AND " SIGN_EVENT_WHERE " ORDER BY key_id, time, id) f"
    " ORDER BY time, id LIMIT $2",
    "SELECT " SN_PG_AUDIT_COLS " FROM audit WHERE digest != ''"
    " AND digest = $1 AND digest_algorithm = $2 AND " SIGN_EVENT_WHERE
    " ORDER BY time, id LIMIT $3",
    "SELECT * FROM (SELECT DISTINCT ON (key_id) " SN_PG_AUDIT_COLS
    " FROM audit WHERE digest != '' AND digest = $1"
    " AND digest_algorithm = $2 AND " SIGN_EVENT_WHERE
    " ORDER BY key_id, time, id) f ORDER BY time, id LIMIT $3",
};

sn_err
sn_pg_sign_events_match(void *be, const char (*sigs)[2 * 32 + 1], size_t nsigs,
                        const char *digest_alg, const char *digest_hex,
                        int first_per_key, size_t limit, struct sn_audit **out,
                        size_t *n, size_t *total)
{
    char arr[MATCH_SIGS * (2 * 2 * 32 + 3) + 3];
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err e;

    *out = NULL;
    *n = 0;
    *total = 0;
    sn_pg_p_init(&p);
    if (nsigs > 0) {
        sig_array(sigs, nsigs, arr, sizeof(arr));
        sn_pg_p_text(&p, arr);
    } else {
        sn_pg_p_text(&p, digest_hex);
        sn_pg_p_text(&p, digest_alg);
    }
    sn_pg_p_int(&p, SN_REPORT_COUNT_MAX + 1);
    if ((e = sn_pg_query(be,
                         match_sql[(nsigs > 0 ? 0 : 2) + (first_per_key != 0)],
                         &p, &res)) == SN_OK)
        e = collect(res, limit, out, n, total);
    PQclear(res);
    return e;
}

sn_err
sn_pg_sign_events_since(void *be, const char *key, time_t since, size_t limit,
                        struct sn_audit **out, size_t *n, size_t *total)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err e;

    *out = NULL;
    *n = 0;
    *total = 0;
    /* limit rows, and the count of all in each (a window count): a key
     * signed a million times is counted by the server, not sent. */
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, key);
    sn_pg_p_int(&p, (int64_t)since);
    sn_pg_p_int(&p, (int64_t)limit);
    if ((e = sn_pg_query(be,
                         "SELECT " SN_PG_AUDIT_COLS ", count(*) OVER ()"
                         " FROM audit WHERE key_id = $1 AND time >= $2"
                         " AND " SIGN_EVENT_WHERE " ORDER BY time, id LIMIT $3",
                         &p, &res)) == SN_OK)
        e = collect(res, limit, out, n, total);
    PQclear(res);
    return e;
}
