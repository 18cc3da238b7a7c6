/*
 * postgres/signreq: sign requests awaiting k-of-n approval (issue 17) in
 * PostgreSQL, as sqlite/signreq.c. Several nodes vote on one database, so
 * a vote is a transaction that first locks the request's row (SELECT ...
 * FOR UPDATE): racing votes run one after the other, each seeing the
 * other's result, and exactly one makes the transition. Every write is
 * also conditional on the state it expects. A read of a request and its
 * votes is one REPEATABLE READ snapshot. Values come from the policy layer
 * and are bound as parameters; rows read back are checked (lengths,
 * names).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#include "store/postgres/pg_int.h"

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

/* A read transaction: every statement sees the same snapshot (a row and
 * its votes of one moment). */
static sn_err
begin_read(struct pg_conn *c)
{
    sn_err r;

    if ((r = sn_pg_begin(c)) != SN_OK)
        return r;
    return sn_pg_exec(c,
                      "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ,"
                      " READ ONLY",
                      NULL, NULL, NULL);
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

/* A name column as text ("" for NULL), whole (not cut to a buffer). */
static const char *
col_name(const PGresult *res, int row, int col)
{
    return sn_pg_col_null(res, row, col) ? "" : PQgetvalue(res, row, col);
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
 * a damaged database, not a request. brief: SR_COLS_BRIEF (the digests'
 * length, no digests). */
static sn_err
row_what(const PGresult *res, int row, int brief, struct sn_sign_request *r)
{
    int64_t len;
    size_t dlen;

    if (sn_digest_from_name(col_name(res, row, 8), &r->md) != SN_OK ||
        scheme_parse(col_name(res, row, 9), &r->scheme) != SN_OK ||
        sn_sr_state_from_name(col_name(res, row, 14), &r->state) != SN_OK ||
        sn_pg_col_null(res, row, 11))
        return SN_ERR_DB;
    len = brief ? sn_pg_col_int(res, row, 11)
                : (PQgetlength(res, row, 11) - 2) / 2;
    dlen = sn_digest_len(r->md);
    if (len <= 0 || dlen == 0 || (size_t)len % dlen != 0 ||
        (size_t)len / dlen > SN_SR_MAX_DIGESTS)
        return SN_ERR_DB;
    r->ndigests = (size_t)len / dlen;
    if (brief)
        return SN_OK;
    if ((r->digests = malloc((size_t)len)) == NULL)
        return SN_ERR_NOMEM;
    return sn_pg_col_fixed(res, row, 11, r->digests, (size_t)len);
}

static sn_err
row_request(const PGresult *res, int row, int brief, struct sn_sign_request *r)
{
    sn_err e;

    memset(r, 0, sizeof(*r));
    sn_pg_col_text(res, row, 0, r->id, sizeof(r->id));
    sn_pg_col_text(res, row, 1, r->subscriber, sizeof(r->subscriber));
    sn_pg_col_text(res, row, 2, r->key, sizeof(r->key));
    sn_pg_col_text(res, row, 3, r->token, sizeof(r->token));
    r->auth_method = (int)sn_pg_col_int(res, row, 4);
    sn_pg_col_text(res, row, 5, r->via, sizeof(r->via));
    sn_pg_col_text(res, row, 6, r->principal, sizeof(r->principal));
    sn_pg_col_text(res, row, 7, r->client, sizeof(r->client));
    r->batch = sn_pg_col_int(res, row, 10) != 0;
    r->required = (unsigned)sn_pg_col_int(res, row, 12);
    if ((e = split_ids(col_name(res, row, 13), r)) != SN_OK ||
        (e = row_what(res, row, brief, r)) != SN_OK)
        goto fail;
    sn_pg_col_text(res, row, 15, r->reason, sizeof(r->reason));
    if (!sn_pg_col_null(res, row, 16) &&
        (r->signatures = sn_pg_col_strdup(res, row, 16)) == NULL) {
        e = SN_ERR_NOMEM;
        goto fail;
    }
    r->created_at = (time_t)sn_pg_col_int(res, row, 17);
    r->expires_at = (time_t)sn_pg_col_int(res, row, 18);
    r->updated_at = (time_t)sn_pg_col_int(res, row, 19);
    r->version = sn_pg_col_int(res, row, 20);
    return SN_OK;
fail:
    if (e == SN_ERR_DB)
        sn_error("store: sign request %s does not read back whole", r->id);
    sn_sign_request_cleanup(r);
    return e;
}

/* The request's votes, oldest first (ties: in the order stored, as
 * SQLite's rowid; votes are never updated, so ctid keeps that order). */
static sn_err
read_votes(struct pg_conn *c, struct sn_sign_request *r)
{
    struct sn_pg_params p;
    struct sn_sr_vote *v;
    PGresult *res = NULL;
    sn_err e;
    int i;

    r->nvotes = 0;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, r->id);
    if ((e = sn_pg_exec(c,
                        "SELECT account_id, vote, time, token_id"
                        " FROM sign_request_votes WHERE request_id = $1"
                        " ORDER BY time, ctid",
                        &p, &res, NULL)) != SN_OK)
        goto out;
    if (res == NULL || PQntuples(res) > SN_SR_MAX_APPROVERS) {
        e = SN_ERR_DB;
        goto out;
    }
    for (i = 0; i < PQntuples(res); i++) {
        v = &r->votes[r->nvotes++];
        sn_pg_col_text(res, i, 0, v->account, sizeof(v->account));
        v->approve = strcmp(col_name(res, i, 1), "approve") == 0;
        v->time = (time_t)sn_pg_col_int(res, i, 2);
        sn_pg_col_text(res, i, 3, v->token, sizeof(v->token));
    }
out:
    PQclear(res);
    return e;
}

/* The rows of res (SR_COLS, or SR_COLS_BRIEF if brief), each with its
 * votes, into a new array. */
static sn_err
collect_rows(struct pg_conn *c, const PGresult *res, int brief,
             struct sn_sign_request **out, size_t *n)
{
    struct sn_sign_request *arr;
    size_t rows = (size_t)PQntuples(res), cnt = 0, i;
    sn_err e = SN_OK;

    *out = NULL;
    *n = 0;
    if ((arr = calloc(rows > 0 ? rows : 1, sizeof(*arr))) == NULL)
        return SN_ERR_NOMEM;
    for (cnt = 0; cnt < rows; cnt++)
        if ((e = row_request(res, (int)cnt, brief, &arr[cnt])) != SN_OK)
            break;
    for (i = 0; e == SN_OK && i < cnt; i++)
        e = read_votes(c, &arr[i]);
    if (e != SN_OK) {
        sn_sign_request_list_free(arr, cnt);
        return e;
    }
    *out = arr;
    *n = cnt;
    return SN_OK;
}

sn_err
sn_pg_sign_request_add(void *be, const struct sn_sign_request *r)
{
    char approvers[APPROVERS_MAX];
    struct sn_pg_params p;

    join_ids((const char(*)[SN_UUID_LEN])r->approvers, r->napprovers, approvers,
             sizeof(approvers));
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, r->id);
    sn_pg_p_text(&p, r->subscriber);
    sn_pg_p_text(&p, r->key);
    sn_pg_p_text(&p, r->token);
    sn_pg_p_int(&p, r->auth_method);
    sn_pg_p_text(&p, r->via);
    sn_pg_p_text(&p, r->principal);
    sn_pg_p_text(&p, r->client);
    sn_pg_p_text(&p, sn_digest_name(r->md));
    sn_pg_p_text(&p, sn_scheme_name(r->scheme));
    sn_pg_p_int(&p, r->batch != 0);
    sn_pg_p_bytes(&p, r->digests, r->ndigests * sn_digest_len(r->md));
    sn_pg_p_int(&p, (int64_t)r->required);
    sn_pg_p_text(&p, approvers);
    sn_pg_p_int(&p, (int64_t)r->created_at);
    sn_pg_p_int(&p, (int64_t)r->expires_at);
    return sn_pg_write(be,
                       "INSERT INTO sign_requests (" SR_COLS ")"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
                       " $11, $12, $13, $14, 'pending_approval', '', NULL,"
                       " $15, $16, $15, 1)",
                       &p, 0);
}

sn_err
sn_pg_sign_request_get(void *be, const char *id, struct sn_sign_request *out)
{
    struct sn_pg_params p;
    struct pg_conn *c;
    PGresult *res = NULL;
    sn_err e;

    memset(out, 0, sizeof(*out));
    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, id);
    if ((e = begin_read(c)) != SN_OK ||
        (e = sn_pg_exec(c,
                        "SELECT " SR_COLS " FROM sign_requests WHERE id = $1",
                        &p, &res, NULL)) != SN_OK)
        goto out;
    if (res == NULL || PQntuples(res) == 0) {
        e = res == NULL ? SN_ERR_DB : SN_ERR_NOT_FOUND;
        goto out;
    }
    if ((e = row_request(res, 0, 0, out)) == SN_OK &&
        (e = read_votes(c, out)) != SN_OK)
        sn_sign_request_cleanup(out);
out:
    PQclear(res);
    sn_pg_rollback(c); /* a read: nothing to commit */
    sn_pg_put(be, c);
    return e;
}

sn_err
sn_pg_sign_request_list(void *be, const char *subscriber,
                        enum sn_sr_state state, size_t limit,
                        struct sn_sign_request **out, size_t *n)
{
    struct sn_pg_params p;
    struct pg_conn *c;
    PGresult *res = NULL;
    sn_err e;

    *out = NULL;
    *n = 0;
    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, subscriber);
    sn_pg_p_text(&p, state == SN_SR_STATE_COUNT ? "" : sn_sr_state_name(state));
    sn_pg_p_int(&p, (int64_t)limit);
    if ((e = begin_read(c)) != SN_OK ||
        (e = sn_pg_exec(c,
                        "SELECT " SR_COLS_BRIEF " FROM sign_requests"
                        " WHERE subscriber_id = $1"
                        " AND ($2::text = '' OR state = $2::text)"
                        " ORDER BY created_at DESC, id COLLATE \"C\""
                        " LIMIT $3",
                        &p, &res, NULL)) != SN_OK)
        goto out;
    e = res != NULL ? collect_rows(c, res, 1, out, n) : SN_ERR_DB;
out:
    PQclear(res);
    sn_pg_rollback(c); /* a read: nothing to commit */
    sn_pg_put(be, c);
    return e;
}

/* The state and the deadline, the request's row locked until the end of
 * the transaction: racing votes on it wait here for each other. */
static sn_err
vote_lock(struct pg_conn *c, const char *id, enum sn_sr_state *state,
          time_t *expires_at)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err e;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, id);
    if ((e = sn_pg_exec(c,
                        "SELECT state, expires_at FROM sign_requests"
                        " WHERE id = $1 FOR UPDATE",
                        &p, &res, NULL)) != SN_OK)
        goto out;
    if (res == NULL || PQntuples(res) == 0) {
        e = res == NULL ? SN_ERR_DB : SN_ERR_NOT_FOUND;
        goto out;
    }
    if (sn_sr_state_from_name(col_name(res, 0, 0), state) != SN_OK) {
        e = SN_ERR_DB;
        goto out;
    }
    *expires_at = (time_t)sn_pg_col_int(res, 0, 1);
out:
    PQclear(res);
    return e;
}

static sn_err
insert_vote(struct pg_conn *c, const char *id, const struct sn_sr_vote *v)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, id);
    sn_pg_p_text(&p, v->account);
    sn_pg_p_text(&p, v->approve ? "approve" : "deny");
    sn_pg_p_int(&p, (int64_t)v->time);
    sn_pg_p_text(&p, v->token);
    return sn_pg_exec(c,
                      "INSERT INTO sign_request_votes (request_id, account_id,"
                      " vote, time, token_id) VALUES ($1, $2, $3, $4, $5)",
                      &p, NULL, NULL);
}

/*
 * After the vote: a deny ends the request; an approval moves it once the
 * approvals reach `required`. Both only from pending_approval (the update
 * states its condition even though the transaction holds the row).
 * Otherwise the vote alone bumps the version.
 */
static sn_err
after_vote(struct pg_conn *c, const char *id, int approve, time_t now,
           int *decided)
{
    struct sn_pg_params p;
    int64_t changed = 0;
    sn_err e;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, id);
    sn_pg_p_int(&p, (int64_t)now);
    if ((e = sn_pg_exec(c,
                        approve
                            ? "UPDATE sign_requests SET state = 'approved',"
                              " version = version + 1, updated_at = $2"
                              " WHERE id = $1 AND state = 'pending_approval'"
                              " AND (SELECT count(*) FROM sign_request_votes"
                              " WHERE request_id = $1 AND vote = 'approve')"
                              " >= required"
                            : "UPDATE sign_requests SET state = 'denied',"
                              " version = version + 1, updated_at = $2"
                              " WHERE id = $1 AND state = 'pending_approval'",
                        &p, NULL, &changed)) != SN_OK)
        return e;
    *decided = changed == 1;
    if (*decided)
        return SN_OK;
    return sn_pg_exec(c,
                      "UPDATE sign_requests SET version = version + 1,"
                      " updated_at = $2 WHERE id = $1",
                      &p, NULL, NULL);
}

sn_err
sn_pg_sign_request_vote(void *be, const char *id, const struct sn_sr_vote *v,
                        time_t now, enum sn_sr_state *state, int *decided)
{
    struct pg_conn *c;
    time_t expires_at = 0;
    sn_err e;

    *decided = 0;
    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    if ((e = sn_pg_begin(c)) != SN_OK ||
        (e = vote_lock(c, id, state, &expires_at)) != SN_OK)
        goto out;
    /* Too late, or decided already: nothing is written. */
    if (*state != SN_SR_PENDING || now >= expires_at) {
        e = SN_ERR_STATE;
        goto out;
    }
    if ((e = insert_vote(c, id, v)) != SN_OK ||
        (e = after_vote(c, id, v->approve, now, decided)) != SN_OK)
        goto out;
    if (*decided)
        *state = v->approve ? SN_SR_APPROVED : SN_SR_DENIED;
out:
    if ((e = sn_pg_tx_end(c, e)) != SN_OK)
        *decided = 0;
    sn_pg_put(be, c);
    return e;
}

sn_err
sn_pg_sign_request_move(void *be, const char *id, enum sn_sr_state from,
                        enum sn_sr_state to, time_t now, const char *reason,
                        const char *signatures)
{
    struct sn_pg_params p;
    sn_err e;

    /* The condition is the state the caller saw, and for an expiry the
     * deadline: a request is expired by its clock, not by a caller's. */
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, id);
    sn_pg_p_text(&p, sn_sr_state_name(from));
    sn_pg_p_text(&p, sn_sr_state_name(to));
    sn_pg_p_int(&p, (int64_t)now);
    sn_pg_p_text(&p, reason);
    sn_pg_p_text(&p, signatures);
    e = sn_pg_write(be,
                    "UPDATE sign_requests SET state = $3::text,"
                    " version = version + 1, updated_at = $4::bigint,"
                    " reason = coalesce($5::text, reason),"
                    " signatures = coalesce($6::text, signatures)"
                    " WHERE id = $1 AND state = $2::text"
                    " AND ($3::text != 'expired' OR expires_at <= $4::bigint)",
                    &p, 1);
    return e == SN_ERR_NOT_FOUND ? SN_ERR_STATE : e;
}

/* One sweep statement (RETURNING the rows it moved) appended to *arr. */
static sn_err
sweep_one(struct pg_conn *c, const char *sql, const struct sn_pg_params *p,
          struct sn_sign_request **arr, size_t *n)
{
    struct sn_sign_request *got = NULL, *tmp;
    PGresult *res = NULL;
    size_t cnt = 0;
    sn_err e;

    if ((e = sn_pg_exec(c, sql, p, &res, NULL)) != SN_OK)
        goto out;
    if (res == NULL) {
        e = SN_ERR_DB;
        goto out;
    }
    if ((e = collect_rows(c, res, 0, &got, &cnt)) != SN_OK || cnt == 0)
        goto out;
    if ((tmp = realloc(*arr, (*n + cnt) * sizeof(**arr))) == NULL) {
        e = SN_ERR_NOMEM;
        goto out;
    }
    *arr = tmp;
    memcpy(*arr + *n, got, cnt * sizeof(*got));
    *n += cnt;
    free(got);
    got = NULL;
    cnt = 0;
out:
    sn_sign_request_list_free(got, cnt);
    PQclear(res);
    return e;
}

sn_err
sn_pg_sign_request_sweep(void *be, time_t now, time_t stale_before, size_t max,
                         struct sn_sign_request **out, size_t *n)
{
    /* The rows to move are picked and locked once, in a CTE: as a
     * subquery of the UPDATE (id IN (SELECT ... LIMIT ...)) it may be
     * rescanned after the update moved its first pick, and so move more
     * than max. They come back in the order picked (most overdue first).
     * SKIP LOCKED: a request another node is voting on, moving or
     * sweeping is left to that node or to the next sweep, rather than
     * waited for (two sweeps never wait on each other). */
    static const char expire[] =
        "WITH due AS (SELECT id AS due_id, expires_at AS due_at"
        " FROM sign_requests WHERE state = 'pending_approval'"
        " AND expires_at <= $1 ORDER BY expires_at LIMIT $2"
        " FOR UPDATE SKIP LOCKED),"
        " moved AS (UPDATE sign_requests SET state = 'expired',"
        " version = version + 1, updated_at = $1 FROM due"
        " WHERE id = due_id AND state = 'pending_approval'"
        " RETURNING " SR_COLS ", due_at)"
        " SELECT " SR_COLS " FROM moved ORDER BY due_at, id COLLATE \"C\"";
    static const char stale[] =
        "WITH due AS (SELECT id AS due_id, updated_at AS due_at"
        " FROM sign_requests WHERE state = 'approved'"
        " AND updated_at <= $2 ORDER BY updated_at LIMIT $3"
        " FOR UPDATE SKIP LOCKED),"
        " moved AS (UPDATE sign_requests SET state = 'failed',"
        " version = version + 1, updated_at = $1, reason = 'the release of"
        " the signatures was interrupted (the signing node stopped or timed"
        " out); nothing was returned' FROM due"
        " WHERE id = due_id AND state = 'approved'"
        " RETURNING " SR_COLS ", due_at)"
        " SELECT " SR_COLS " FROM moved ORDER BY due_at, id COLLATE \"C\"";
    struct sn_sign_request *arr = NULL;
    struct sn_pg_params pe, ps;
    struct pg_conn *c;
    size_t cnt = 0;
    sn_err e;

    *out = NULL;
    *n = 0;
    sn_pg_p_init(&pe);
    sn_pg_p_int(&pe, (int64_t)now);
    sn_pg_p_int(&pe, (int64_t)max);
    sn_pg_p_init(&ps);
    sn_pg_p_int(&ps, (int64_t)now);
    sn_pg_p_int(&ps, (int64_t)stale_before);
    sn_pg_p_int(&ps, (int64_t)max);
    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    if ((e = sn_pg_begin(c)) == SN_OK &&
        (e = sweep_one(c, expire, &pe, &arr, &cnt)) == SN_OK)
        e = sweep_one(c, stale, &ps, &arr, &cnt);
    if ((e = sn_pg_tx_end(c, e)) != SN_OK) {
        sn_sign_request_list_free(arr, cnt);
        goto out;
    }
    *out = arr;
    *n = cnt;
out:
    sn_pg_put(be, c);
    return e;
}
