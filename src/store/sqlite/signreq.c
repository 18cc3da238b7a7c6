/*
 * sqlite/signreq: sign requests awaiting k-of-n approval (issue 17) in
 * SQLite. They have a connection of their own, used by one caller at a
 * time: a vote is a transaction of several statements (read the state,
 * insert the vote, move the state), which on the shared connection would
 * take in other threads' statements. BEGIN IMMEDIATE takes the database's
 * write lock first, so two votes, in this process or in another signetd
 * on the same file, run one after the other and each sees the other's
 * result. Every write is also conditional on the state it expects, so the
 * statements say what they rely on. Values come from the policy layer and
 * are bound as parameters; rows read back are checked (lengths, names).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#include "store/sqlite/sqlite_int.h"

#define SR_COLS                                                                \
    "id, subscriber_id, key_id, token_id, auth_method, via, principal,"        \
    " client, digest_algorithm, scheme, batch, digests, required,"             \
    " approvers, state, reason, signatures, created_at, expires_at,"           \
    " updated_at, version"

/* A list's rows: the digests' length instead of the digests, and no
 * signatures (a batch's are up to ~175 KB a request). */
#define SR_COLS_BRIEF                                                          \
    "id, subscriber_id, key_id, token_id, auth_method, via, principal,"        \
    " client, digest_algorithm, scheme, batch, length(digests), required,"     \
    " approvers, state, reason, NULL, created_at, expires_at, updated_at,"     \
    " version"

/* Approvers and their separator: ids never hold a space (keypolicy.c). */
#define APPROVERS_MAX (SN_SR_MAX_APPROVERS * SN_UUID_LEN + 1)

sn_err
sn_sqlite_signreq_open(struct sq_store *st, const char *path)
{
    int rc;

    if (pthread_mutex_init(&st->rlock, NULL) != 0)
        return SN_ERR_INTERNAL;
    st->rlock_ready = 1;
    rc = sqlite3_open_v2(path, &st->rdb,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return SN_ERR_DB;
    sqlite3_busy_timeout(st->rdb, 10000);
    if (sqlite3_exec(st->rdb,
                     "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL,
                     NULL, NULL) != SQLITE_OK)
        return SN_ERR_DB;
    return SN_OK;
}

void
sn_sqlite_signreq_close(struct sq_store *st)
{
    sqlite3_close(st->rdb);
    st->rdb = NULL;
    if (st->rlock_ready)
        pthread_mutex_destroy(&st->rlock);
    st->rlock_ready = 0;
}

static int
exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

/* Ends a read transaction; a COMMIT that fails is rolled back, so the
 * connection never stays inside a transaction. */
static void
end_read(sqlite3 *db)
{
    if (!exec(db, "COMMIT"))
        (void)exec(db, "ROLLBACK");
}

static sn_err
prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s)
{
    *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK) {
        sn_error("store: sign requests: prepare: %s", sqlite3_errmsg(db));
        return SN_ERR_DB;
    }
    return SN_OK;
}

static void
col_text(sqlite3_stmt *s, int i, char *dst, size_t dstlen)
{
    const unsigned char *t = sqlite3_column_text(s, i);

    snprintf(dst, dstlen, "%s", t != NULL ? (const char *)t : "");
}

/* The approvers as one column. */
static void
join_ids(const char (*ids)[SN_UUID_LEN], size_t n, char *out, size_t len)
{
    size_t i, off = 0;

    out[0] = '\0';
    for (i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(out + off, len - off, "%s%s", i ? " " : "",
                                ids[i]);
}

/* The approvers column back into ids; SN_ERR_DB if it is not n of them. */
static sn_err
split_ids(const char *text, struct sn_sign_request *r)
{
    const char *p = text;
    size_t len;

    r->napprovers = 0;
    while (*p != '\0') {
        len = strcspn(p, " ");
        if (len == 0 || len >= SN_UUID_LEN ||
            r->napprovers >= SN_SR_MAX_APPROVERS)
            return SN_ERR_DB;
        memcpy(r->approvers[r->napprovers], p, len);
        r->approvers[r->napprovers][len] = '\0';
        r->napprovers++;
        p += len;
        if (*p == ' ')
            p++;
    }
    return r->napprovers > 0 ? SN_OK : SN_ERR_DB;
}

/* A name column as text ("" for NULL). */
static const char *
col_name(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);

    return t != NULL ? (const char *)t : "";
}

/* The scheme as sn_scheme_name wrote it ("ecdsa" included). */
static sn_err
scheme_parse(const char *name, enum sn_scheme *out)
{
    if (strcmp(name, "ecdsa") == 0) {
        *out = SN_SCHEME_ECDSA;
        return SN_OK;
    }
    return sn_scheme_from_name(name, out);
}

/* The names and digests of a row: a row that does not read back whole is
 * a damaged database, not a request. */
static sn_err
row_what(sqlite3_stmt *s, struct sn_sign_request *r)
{
    /* SR_COLS_BRIEF: an integer, the digests' length, and no digests. */
    int brief = sqlite3_column_type(s, 11) == SQLITE_INTEGER;
    const void *d = brief ? NULL : sqlite3_column_blob(s, 11);
    sqlite3_int64 len =
        brief ? sqlite3_column_int64(s, 11) : sqlite3_column_bytes(s, 11);
    size_t dlen;

    if (sn_digest_from_name(col_name(s, 8), &r->md) != SN_OK ||
        scheme_parse(col_name(s, 9), &r->scheme) != SN_OK ||
        sn_sr_state_from_name(col_name(s, 14), &r->state) != SN_OK)
        return SN_ERR_DB;
    dlen = sn_digest_len(r->md);
    if ((!brief && d == NULL) || len <= 0 || (size_t)len % dlen != 0 ||
        (size_t)len / dlen > SN_SR_MAX_DIGESTS)
        return SN_ERR_DB;
    r->ndigests = (size_t)len / dlen;
    if (brief)
        return SN_OK;
    if ((r->digests = malloc((size_t)len)) == NULL)
        return SN_ERR_NOMEM;
    memcpy(r->digests, d, (size_t)len);
    r->ndigests = (size_t)len / dlen;
    return SN_OK;
}

static sn_err
row_request(sqlite3_stmt *s, struct sn_sign_request *r)
{
    const unsigned char *t;
    sn_err e;

    memset(r, 0, sizeof(*r));
    col_text(s, 0, r->id, sizeof(r->id));
    col_text(s, 1, r->subscriber, sizeof(r->subscriber));
    col_text(s, 2, r->key, sizeof(r->key));
    col_text(s, 3, r->token, sizeof(r->token));
    r->auth_method = sqlite3_column_int(s, 4);
    col_text(s, 5, r->via, sizeof(r->via));
    col_text(s, 6, r->principal, sizeof(r->principal));
    col_text(s, 7, r->client, sizeof(r->client));
    r->batch = sqlite3_column_int(s, 10) != 0;
    r->required = (unsigned)sqlite3_column_int(s, 12);
    t = sqlite3_column_text(s, 13);
    if ((e = split_ids(t != NULL ? (const char *)t : "", r)) != SN_OK ||
        (e = row_what(s, r)) != SN_OK)
        goto fail;
    col_text(s, 15, r->reason, sizeof(r->reason));
    if ((t = sqlite3_column_text(s, 16)) != NULL &&
        (r->signatures = strdup((const char *)t)) == NULL) {
        e = SN_ERR_NOMEM;
        goto fail;
    }
    r->created_at = (time_t)sqlite3_column_int64(s, 17);
    r->expires_at = (time_t)sqlite3_column_int64(s, 18);
    r->updated_at = (time_t)sqlite3_column_int64(s, 19);
    r->version = sqlite3_column_int64(s, 20);
    return SN_OK;
fail:
    if (e == SN_ERR_DB)
        sn_error("store: sign request %s does not read back whole", r->id);
    sn_sign_request_cleanup(r);
    return e;
}

/* The request's votes, oldest first. */
static sn_err
read_votes(sqlite3 *db, struct sn_sign_request *r)
{
    sqlite3_stmt *s = NULL;
    struct sn_sr_vote *v;
    sn_err e;
    int rc;

    r->nvotes = 0;
    if ((e = prepare(db,
                     "SELECT account_id, vote, time, token_id"
                     " FROM sign_request_votes WHERE request_id = ?"
                     " ORDER BY time, rowid",
                     &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
    e = SN_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (r->nvotes >= SN_SR_MAX_APPROVERS) {
            e = SN_ERR_DB;
            break;
        }
        v = &r->votes[r->nvotes++];
        col_text(s, 0, v->account, sizeof(v->account));
        v->approve = strcmp(col_name(s, 1), "approve") == 0;
        v->time = (time_t)sqlite3_column_int64(s, 2);
        col_text(s, 3, v->token, sizeof(v->token));
    }
    if (e == SN_OK && rc != SQLITE_DONE)
        e = SN_ERR_DB;
    sqlite3_finalize(s);
    return e;
}

/* With rlock held, inside a transaction. */
static sn_err
get_locked(sqlite3 *db, const char *id, struct sn_sign_request *out)
{
    sqlite3_stmt *s = NULL;
    sn_err e;
    int rc;

    if ((e = prepare(db, "SELECT " SR_COLS " FROM sign_requests WHERE id = ?",
                     &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        e = row_request(s, out);
    else
        e = rc == SQLITE_DONE ? SN_ERR_NOT_FOUND : SN_ERR_DB;
    sqlite3_finalize(s);
    if (e == SN_OK && (e = read_votes(db, out)) != SN_OK)
        sn_sign_request_cleanup(out);
    return e;
}

sn_err
sn_sqlite_sr_add(void *be, const struct sn_sign_request *r)
{
    struct sq_store *st = be;
    char approvers[APPROVERS_MAX];
    sqlite3_stmt *s = NULL;
    sn_err e;
    int rc;

    join_ids((const char(*)[SN_UUID_LEN])r->approvers, r->napprovers, approvers,
             sizeof(approvers));
    pthread_mutex_lock(&st->rlock);
    if ((e = prepare(st->rdb,
                     "INSERT INTO sign_requests (" SR_COLS ")"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                     " 'pending_approval', '', NULL, ?, ?, ?, 1)",
                     &s)) != SN_OK)
        goto out;
    sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, r->subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, r->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, r->token, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, r->auth_method);
    sqlite3_bind_text(s, 6, r->via, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, r->principal, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, r->client, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, sn_digest_name(r->md), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 10, sn_scheme_name(r->scheme), -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 11, r->batch != 0);
    sqlite3_bind_blob(s, 12, r->digests,
                      (int)(r->ndigests * sn_digest_len(r->md)), SQLITE_STATIC);
    sqlite3_bind_int(s, 13, (int)r->required);
    sqlite3_bind_text(s, 14, approvers, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 15, (sqlite3_int64)r->created_at);
    sqlite3_bind_int64(s, 16, (sqlite3_int64)r->expires_at);
    sqlite3_bind_int64(s, 17, (sqlite3_int64)r->created_at);
    rc = sqlite3_step(s);
    e = rc == SQLITE_DONE         ? SN_OK
        : rc == SQLITE_CONSTRAINT ? SN_ERR_EXISTS
                                  : SN_ERR_DB;
    if (e == SN_ERR_DB)
        sn_error("store: sign request add: %s", sqlite3_errmsg(st->rdb));
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->rlock);
    return e;
}

sn_err
sn_sqlite_sr_get(void *be, const char *id, struct sn_sign_request *out)
{
    struct sq_store *st = be;
    sn_err e = SN_ERR_DB;

    pthread_mutex_lock(&st->rlock);
    /* One read transaction: the row and its votes of the same moment. */
    if (exec(st->rdb, "BEGIN")) {
        e = get_locked(st->rdb, id, out);
        end_read(st->rdb);
    }
    pthread_mutex_unlock(&st->rlock);
    return e;
}

/* Steps s (which returns SR_COLS rows) to its end into a new array. */
static sn_err
collect_rows(sqlite3 *db, sqlite3_stmt *s, int votes, size_t max,
             struct sn_sign_request **out, size_t *n)
{
    struct sn_sign_request *arr;
    size_t cnt = 0, i;
    sn_err e = SN_OK;
    int rc;

    if ((arr = calloc(max, sizeof(*arr))) == NULL)
        return SN_ERR_NOMEM;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && cnt < max) {
        if ((e = row_request(s, &arr[cnt])) != SN_OK)
            break;
        cnt++;
    }
    if (e == SN_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        e = SN_ERR_DB;
    /* The statement is done (RETURNING rows all read) before the votes. */
    sqlite3_reset(s);
    for (i = 0; e == SN_OK && votes && i < cnt; i++)
        e = read_votes(db, &arr[i]);
    if (e != SN_OK) {
        sn_sign_request_list_free(arr, cnt);
        return e;
    }
    *out = arr;
    *n = cnt;
    return SN_OK;
}

sn_err
sn_sqlite_sr_list(void *be, const char *subscriber, enum sn_sr_state state,
                  size_t limit, struct sn_sign_request **out, size_t *n)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err e;

    pthread_mutex_lock(&st->rlock);
    if (!exec(st->rdb, "BEGIN")) {
        e = SN_ERR_DB;
        goto out;
    }
    if ((e = prepare(st->rdb,
                     "SELECT " SR_COLS_BRIEF " FROM sign_requests"
                     " WHERE subscriber_id = ?1 AND (?2 = '' OR state = ?2)"
                     " ORDER BY created_at DESC, id LIMIT ?3",
                     &s)) == SN_OK) {
        sqlite3_bind_text(s, 1, subscriber, -1, SQLITE_STATIC);
        sqlite3_bind_text(
            s, 2, state == SN_SR_STATE_COUNT ? "" : sn_sr_state_name(state), -1,
            SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)limit);
        e = collect_rows(st->rdb, s, 1, limit, out, n);
    }
    sqlite3_finalize(s);
    end_read(st->rdb);
out:
    pthread_mutex_unlock(&st->rlock);
    return e;
}

/* Runs a statement that returns no rows; *changed: rows it changed. */
static sn_err
run(sqlite3 *db, sqlite3_stmt *s, int *changed)
{
    int rc = sqlite3_step(s);

    sqlite3_finalize(s);
    if (rc == SQLITE_CONSTRAINT)
        return SN_ERR_EXISTS;
    if (rc != SQLITE_DONE) {
        sn_error("store: sign requests: %s", sqlite3_errmsg(db));
        return SN_ERR_DB;
    }
    if (changed != NULL)
        *changed = sqlite3_changes(db);
    return SN_OK;
}

/* The state and the deadline as the transaction sees them. */
static sn_err
vote_state(sqlite3 *db, const char *id, enum sn_sr_state *state,
           time_t *expires_at)
{
    sqlite3_stmt *s = NULL;
    sn_err e;
    int rc;

    if ((e = prepare(db,
                     "SELECT state, expires_at FROM sign_requests"
                     " WHERE id = ?",
                     &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        e = sn_sr_state_from_name(col_name(s, 0), state) == SN_OK ? SN_OK
                                                                  : SN_ERR_DB;
    else
        e = rc == SQLITE_DONE ? SN_ERR_NOT_FOUND : SN_ERR_DB;
    if (e == SN_OK)
        *expires_at = (time_t)sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);
    return e;
}

static sn_err
insert_vote(sqlite3 *db, const char *id, const struct sn_sr_vote *v)
{
    sqlite3_stmt *s = NULL;
    sn_err e;

    if ((e = prepare(db,
                     "INSERT INTO sign_request_votes (request_id, account_id,"
                     " vote, time, token_id) VALUES (?, ?, ?, ?, ?)",
                     &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, v->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, v->approve ? "approve" : "deny", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)v->time);
    sqlite3_bind_text(s, 5, v->token, -1, SQLITE_STATIC);
    return run(db, s, NULL);
}

/*
 * After the vote: a deny ends the request; an approval moves it once the
 * approvals reach `required`. Both only from pending_approval (the update
 * states its condition even though the transaction holds the write lock).
 * Otherwise the vote alone bumps the version.
 */
static sn_err
after_vote(sqlite3 *db, const char *id, int approve, time_t now, int *decided)
{
    sqlite3_stmt *s = NULL;
    int changed = 0;
    sn_err e;

    if ((e = prepare(db,
                     approve ? "UPDATE sign_requests SET state = 'approved',"
                               " version = version + 1, updated_at = ?2"
                               " WHERE id = ?1 AND state = 'pending_approval'"
                               " AND (SELECT count(*) FROM sign_request_votes"
                               " WHERE request_id = ?1 AND vote = 'approve')"
                               " >= required"
                             : "UPDATE sign_requests SET state = 'denied',"
                               " version = version + 1, updated_at = ?2"
                               " WHERE id = ?1 AND state = 'pending_approval'",
                     &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
    if ((e = run(db, s, &changed)) != SN_OK)
        return e;
    *decided = changed == 1;
    if (*decided)
        return SN_OK;
    if ((e = prepare(db,
                     "UPDATE sign_requests SET version = version + 1,"
                     " updated_at = ?2 WHERE id = ?1",
                     &s)) != SN_OK)
        return e;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)now);
    return run(db, s, NULL);
}

sn_err
sn_sqlite_sr_vote(void *be, const char *id, const struct sn_sr_vote *v,
                  time_t now, enum sn_sr_state *state, int *decided)
{
    struct sq_store *st = be;
    time_t expires_at = 0;
    sn_err e = SN_ERR_DB;

    pthread_mutex_lock(&st->rlock);
    if (!exec(st->rdb, "BEGIN IMMEDIATE"))
        goto out;
    if ((e = vote_state(st->rdb, id, state, &expires_at)) != SN_OK)
        goto rollback;
    /* Too late, or decided already: nothing is written. */
    if (*state != SN_SR_PENDING || now >= expires_at) {
        e = SN_ERR_STATE;
        goto rollback;
    }
    if ((e = insert_vote(st->rdb, id, v)) != SN_OK ||
        (e = after_vote(st->rdb, id, v->approve, now, decided)) != SN_OK)
        goto rollback;
    if (*decided)
        *state = v->approve ? SN_SR_APPROVED : SN_SR_DENIED;
    if (!exec(st->rdb, "COMMIT")) {
        sn_error("store: sign request vote: commit: %s",
                 sqlite3_errmsg(st->rdb));
        *decided = 0;
        e = SN_ERR_DB;
        goto rollback;
    }
    e = SN_OK;
    goto out;
rollback:
    exec(st->rdb, "ROLLBACK");
out:
    pthread_mutex_unlock(&st->rlock);
    return e;
}

sn_err
sn_sqlite_sr_move(void *be, const char *id, enum sn_sr_state from,
                  enum sn_sr_state to, time_t now, const char *reason,
                  const char *signatures)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    int changed = 0;
    sn_err e;

    pthread_mutex_lock(&st->rlock);
    /* The condition is the state the caller saw, and for an expiry the
     * deadline: a request is expired by its clock, not by a caller's. */
    if ((e = prepare(st->rdb,
                     "UPDATE sign_requests SET state = ?3,"
                     " version = version + 1, updated_at = ?4,"
                     " reason = coalesce(?5, reason),"
                     " signatures = coalesce(?6, signatures)"
                     " WHERE id = ?1 AND state = ?2"
                     " AND (?3 != 'expired' OR expires_at <= ?4)",
                     &s)) != SN_OK)
        goto out;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sn_sr_state_name(from), -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, sn_sr_state_name(to), -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)now);
    if (reason != NULL)
        sqlite3_bind_text(s, 5, reason, -1, SQLITE_STATIC);
    if (signatures != NULL)
        sqlite3_bind_text(s, 6, signatures, -1, SQLITE_STATIC);
    if ((e = run(st->rdb, s, &changed)) == SN_OK && changed != 1)
        e = SN_ERR_STATE;
out:
    pthread_mutex_unlock(&st->rlock);
    return e;
}

/* One sweep statement (RETURNING the rows it moved) appended to *arr. */
static sn_err
sweep_one(sqlite3 *db, const char *sql, time_t now, time_t stale_before,
          size_t max, struct sn_sign_request **arr, size_t *n)
{
    struct sn_sign_request *got = NULL, *tmp;
    sqlite3_stmt *s = NULL;
    size_t cnt = 0;
    sn_err e;

    if ((e = prepare(db, sql, &s)) != SN_OK)
        return e;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)now);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)stale_before);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)max);
    e = collect_rows(db, s, 1, max, &got, &cnt);
    sqlite3_finalize(s);
    if (e != SN_OK || cnt == 0) {
        sn_sign_request_list_free(got, cnt);
        return e;
    }
    if ((tmp = realloc(*arr, (*n + cnt) * sizeof(**arr))) == NULL) {
        sn_sign_request_list_free(got, cnt);
        return SN_ERR_NOMEM;
    }
    *arr = tmp;
    memcpy(*arr + *n, got, cnt * sizeof(*got));
    *n += cnt;
    free(got);
    return SN_OK;
}

sn_err
sn_sqlite_sr_sweep(void *be, time_t now, time_t stale_before, size_t max,
                   struct sn_sign_request **out, size_t *n)
{
    static const char expire[] =
        "UPDATE sign_requests SET state = 'expired', version = version + 1,"
        " updated_at = ?1 WHERE id IN (SELECT id FROM sign_requests"
        " WHERE state = 'pending_approval' AND expires_at <= ?1"
        " ORDER BY expires_at LIMIT ?3) AND state = 'pending_approval'"
        " RETURNING " SR_COLS;
    static const char stale[] =
        "UPDATE sign_requests SET state = 'failed', version = version + 1,"
        " updated_at = ?1, reason = 'the release of the signatures was"
        " interrupted (the signing node stopped or timed out); nothing was"
        " returned' WHERE id IN (SELECT id FROM sign_requests"
        " WHERE state = 'approved' AND updated_at <= ?2"
        " ORDER BY updated_at LIMIT ?3) AND state = 'approved'"
        " RETURNING " SR_COLS;
    struct sq_store *st = be;
    struct sn_sign_request *arr = NULL;
    size_t cnt = 0;
    sn_err e = SN_ERR_DB;

    pthread_mutex_lock(&st->rlock);
    if (!exec(st->rdb, "BEGIN IMMEDIATE"))
        goto out;
    if ((e = sweep_one(st->rdb, expire, now, stale_before, max, &arr, &cnt)) !=
            SN_OK ||
        (e = sweep_one(st->rdb, stale, now, stale_before, max, &arr, &cnt)) !=
            SN_OK ||
        !exec(st->rdb, "COMMIT")) {
        exec(st->rdb, "ROLLBACK");
        sn_sign_request_list_free(arr, cnt);
        e = e != SN_OK ? e : SN_ERR_DB;
        goto out;
    }
    *out = arr;
    *n = cnt;
    e = SN_OK;
out:
    pthread_mutex_unlock(&st->rlock);
    return e;
}
