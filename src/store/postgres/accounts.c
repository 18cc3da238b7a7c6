/*
 * postgres/accounts: the PostgreSQL backend's people (issue 17), as
 * sqlite/accounts.c: accounts, their recovery codes, and login sessions,
 * which are rows of the tokens table (auth_method 3, via the account).
 * Several nodes share the database, so what SQLite got from its single
 * writer is said here: a TOTP step accepted once and a recovery code used
 * once are single conditional updates (a racing update waits for the row
 * and then finds its condition false); a session is added with its
 * account's row locked FOR SHARE, so a disable either waits for it (and
 * its trigger then revokes it) or has committed (and nothing is added);
 * the first operator is decided under a transaction-scoped advisory lock.
 * Values come from the policy layer and are bound as parameters; none is
 * logged.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/log.h"

#include "store/postgres/pg_int.h"

#define ACCOUNT_COLS                                                           \
    "id, name, operator, subscriber_id, roles, pw_hash, totp_sealed,"          \
    " totp_state, totp_last_step, failures, locked_until, disabled_at,"        \
    " last_login, last_use, created_at, created_by, totp_pending,"             \
    " (SELECT count(*) FROM recovery_codes r WHERE r.account_id = a.id"        \
    " AND r.used_at = 0)"

/* pg_advisory_xact_lock key of the first operator ("sgntfop1") */
#define FIRST_OPERATOR_LOCK "8315736683176751153"

/* A sealed secret of up to max bytes (larger or damaged: none, as
 * SQLite's reader). */
static void
read_sealed(const PGresult *res, int row, int col, uint8_t *dst, size_t max,
            size_t *len)
{
    int slen = PQgetlength(res, row, col);
    size_t n = slen > 2 ? (size_t)(slen - 2) / 2 : 0;

    *len = 0;
    if (n == 0 || n > max || sn_pg_col_fixed(res, row, col, dst, n) != SN_OK) {
        OPENSSL_cleanse(dst, max);
        return;
    }
    *len = n;
}

static void
account_row(const PGresult *res, int row, struct sn_account *a)
{
    memset(a, 0, sizeof(*a));
    sn_pg_col_text(res, row, 0, a->id, sizeof(a->id));
    sn_pg_col_text(res, row, 1, a->name, sizeof(a->name));
    a->operator_ = sn_pg_col_int(res, row, 2) != 0;
    sn_pg_col_text(res, row, 3, a->subscriber, sizeof(a->subscriber));
    a->roles = (unsigned)sn_pg_col_int(res, row, 4);
    sn_pg_col_text(res, row, 5, a->pw_hash, sizeof(a->pw_hash));
    read_sealed(res, row, 6, a->totp_sealed, sizeof(a->totp_sealed),
                &a->totp_sealed_len);
    a->totp_state = (enum sn_totp_state)sn_pg_col_int(res, row, 7);
    a->totp_last_step = sn_pg_col_int(res, row, 8);
    a->failures = (unsigned)sn_pg_col_int(res, row, 9);
    a->locked_until = (time_t)sn_pg_col_int(res, row, 10);
    a->disabled_at = (time_t)sn_pg_col_int(res, row, 11);
    a->last_login = (time_t)sn_pg_col_int(res, row, 12);
    a->last_use = (time_t)sn_pg_col_int(res, row, 13);
    a->created_at = (time_t)sn_pg_col_int(res, row, 14);
    sn_pg_col_text(res, row, 15, a->created_by, sizeof(a->created_by));
    read_sealed(res, row, 16, a->totp_pending, sizeof(a->totp_pending),
                &a->totp_pending_len);
    a->recovery_left = (unsigned)sn_pg_col_int(res, row, 17);
}

static sn_err
fill_account(const PGresult *res, int row, void *elem)
{
    account_row(res, row, elem);
    return SN_OK;
}

static void
wipe_account(void *elem)
{
    OPENSSL_cleanse(elem, sizeof(struct sn_account));
}

sn_err
sn_pg_account_add(void *be, const struct sn_account *a, int first_operator)
{
    /* The first operator: the condition and the insert under one lock,
     * so that two nodes' bootstrap requests cannot both make one (each
     * statement sees what committed before it began). */
    static const char first[] =
        "INSERT INTO accounts (id, name, operator, subscriber_id, roles,"
        " pw_hash, created_at, created_by)"
        " SELECT $1::text, $2::text, $3::bigint, $4::text, $5::bigint,"
        " $6::text, $7::bigint, $8::text WHERE NOT EXISTS"
        " (SELECT 1 FROM accounts WHERE operator = 1 AND disabled_at = 0)";
    static const char plain[] =
        "INSERT INTO accounts (id, name, operator, subscriber_id, roles,"
        " pw_hash, created_at, created_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    struct sn_pg_params p;
    struct pg_conn *c;
    sn_err r;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, a->id);
    sn_pg_p_text(&p, a->name);
    sn_pg_p_int(&p, a->operator_ ? 1 : 0);
    sn_pg_p_text(&p, a->subscriber);
    sn_pg_p_int(&p, (int64_t)a->roles);
    sn_pg_p_text(&p, a->pw_hash);
    sn_pg_p_int(&p, (int64_t)a->created_at);
    sn_pg_p_text(&p, a->created_by);
    if (!first_operator)
        return sn_pg_write(be, plain, &p, 0);
    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    if ((r = sn_pg_begin(c)) == SN_OK &&
        (r = sn_pg_exec(c,
                        "SELECT pg_advisory_xact_lock(" FIRST_OPERATOR_LOCK ")",
                        NULL, NULL, NULL)) == SN_OK)
        r = sn_pg_run(SN_ERR_NOT_FOUND, c, first, &p, 1);
    r = sn_pg_tx_end(c, r);
    sn_pg_put(be, c);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_STATE : r;
}

static sn_err
account_one(struct pg_store *st, const char *sql, const char *arg,
            struct sn_account *out)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    memset(out, 0, sizeof(*out));
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, arg);
    if ((r = sn_pg_query(st, sql, &p, &res)) != SN_OK)
        goto out;
    if (PQntuples(res) == 0) {
        r = SN_ERR_NOT_FOUND;
        goto out;
    }
    account_row(res, 0, out);
out:
    PQclear(res);
    return r;
}

sn_err
sn_pg_account_get(void *be, const char *id, struct sn_account *out)
{
    static const char sql[] =
        "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.id = $1";

    return account_one(be, sql, id, out);
}

sn_err
sn_pg_account_by_name(void *be, const char *name, struct sn_account *out)
{
    static const char sql[] =
        "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.name = $1";

    return account_one(be, sql, name, out);
}

sn_err
sn_pg_account_list(void *be, const char *subscriber, struct sn_account **out,
                   size_t *n)
{
    /* COLLATE "C": SQLite's order (bytes), whatever the database's
     * collation. */
    static const char of_sub[] =
        "SELECT " ACCOUNT_COLS " FROM accounts a"
        " WHERE a.subscriber_id = $1 ORDER BY a.name COLLATE \"C\"";
    static const char all[] = "SELECT " ACCOUNT_COLS " FROM accounts a"
                              " ORDER BY a.operator DESC, a.name COLLATE \"C\"";
    struct sn_pg_params p;
    PGresult *res = NULL;
    void *arr = NULL;
    sn_err r;

    *out = NULL;
    *n = 0;
    sn_pg_p_init(&p);
    if (subscriber != NULL)
        sn_pg_p_text(&p, subscriber);
    if ((r = sn_pg_query(be, subscriber != NULL ? of_sub : all, &p, &res)) ==
            SN_OK &&
        (r = sn_pg_collect(res, sizeof(struct sn_account), fill_account,
                           wipe_account, &arr, n)) == SN_OK)
        *out = arr;
    PQclear(res);
    return r;
}

sn_err
sn_pg_account_totp_pending(void *be, const char *id, const uint8_t *sealed,
                           size_t len)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_bytes(&p, sealed, len);
    sn_pg_p_text(&p, id);
    return sn_pg_write(be,
                       "UPDATE accounts SET totp_pending = $1,"
                       " totp_state = CASE totp_state WHEN 2 THEN 2"
                       " ELSE 1 END WHERE id = $2 AND disabled_at = 0",
                       &p, 1);
}

sn_err
sn_pg_account_totp_clear(void *be, const char *id)
{
    struct sn_pg_params p;
    struct pg_conn *c;
    sn_err r;

    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, id);
    /* The factor was lost or taken: the sessions it opened end too, and
     * its recovery codes go, all in one transaction. */
    if ((r = sn_pg_begin(c)) == SN_OK &&
        (r = sn_pg_run(SN_ERR_NOT_FOUND, c,
                       "UPDATE accounts SET totp_sealed = NULL,"
                       " totp_pending = NULL, totp_state = 0,"
                       " totp_last_step = 0 WHERE id = $1 AND disabled_at = 0",
                       &p, 1)) == SN_OK &&
        (r = sn_pg_run(SN_ERR_NOT_FOUND, c,
                       "UPDATE tokens SET revoked_at ="
                       " floor(extract(epoch FROM now()))::bigint"
                       " WHERE auth_method = 3 AND via = $1 AND revoked_at = 0",
                       &p, 0)) == SN_OK)
        r = sn_pg_run(SN_ERR_NOT_FOUND, c,
                      "DELETE FROM recovery_codes WHERE account_id = $1", &p,
                      0);
    r = sn_pg_tx_end(c, r);
    sn_pg_put(be, c);
    return r;
}

/* One conditional update: exactly one caller moves the step forward (a
 * racing one waits for the row, then finds the condition false). */
static sn_err
step_update(struct pg_store *st, const char *sql, const char *id, int64_t step,
            int with_sealed, const uint8_t *sealed, size_t len)
{
    struct sn_pg_params p;
    sn_err r;

    sn_pg_p_init(&p);
    sn_pg_p_int(&p, step);
    sn_pg_p_text(&p, id);
    if (with_sealed)
        sn_pg_p_bytes(&p, sealed, len); /* NULL: SQL NULL, matches none */
    r = sn_pg_write(st, sql, &p, 1);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_STATE : r;
}

sn_err
sn_pg_account_totp_confirm(void *be, const char *id, const uint8_t *sealed,
                           size_t len, int64_t step)
{
    /* Only the secret whose code was checked: a newer enrolment that
     * replaced it meanwhile is not made active unverified. */
    return step_update(be,
                       "UPDATE accounts SET totp_sealed = totp_pending,"
                       " totp_pending = NULL, totp_state = 2,"
                       " totp_last_step = $1 WHERE id = $2"
                       " AND totp_pending = $3 AND disabled_at = 0",
                       id, step, 1, sealed, len);
}

sn_err
sn_pg_account_totp_step(void *be, const char *id, int64_t step)
{
    return step_update(be,
                       "UPDATE accounts SET totp_last_step = $1"
                       " WHERE id = $2 AND totp_state = 2"
                       " AND totp_last_step < $1",
                       id, step, 0, NULL, 0);
}

sn_err
sn_pg_account_login(void *be, const char *id, int good, time_t now,
                    const struct sn_lockout *lk)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)now);
    sn_pg_p_text(&p, id);
    if (good)
        return sn_pg_write(be,
                           "UPDATE accounts SET failures = 0,"
                           " locked_until = 0, last_login = $1,"
                           " last_use = $1 WHERE id = $2",
                           &p, 1);
    /* A failure counts and locks in one statement: racing failures all
     * count (each waits for the row and adds to what it finds), and a
     * lock is only ever lengthened. */
    sn_pg_p_int(&p, (int64_t)lk->after);
    sn_pg_p_int(&p, (int64_t)lk->first);
    sn_pg_p_int(&p, (int64_t)lk->max);
    return sn_pg_write(be,
                       "UPDATE accounts SET failures = failures + 1,"
                       " locked_until = CASE WHEN failures + 1 >= $3::bigint"
                       " THEN greatest(locked_until, $1::bigint +"
                       " least($5::bigint, $4::bigint <<"
                       " least(failures + 1 - $3::bigint, 20)::integer))"
                       " ELSE locked_until END WHERE id = $2",
                       &p, 1);
}

sn_err
sn_pg_account_set_password(void *be, const char *id, const char *pw_hash)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, pw_hash);
    sn_pg_p_text(&p, id);
    return sn_pg_write(be,
                       "UPDATE accounts SET pw_hash = $1 WHERE id = $2"
                       " AND disabled_at = 0",
                       &p, 1);
}

sn_err
sn_pg_account_disable(void *be, const char *id, time_t when)
{
    struct sn_pg_params p;
    sn_err r;

    /* The account_disabled trigger revokes its sessions in this same
     * statement (and transaction). */
    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)when);
    sn_pg_p_text(&p, id);
    r = sn_pg_write(be,
                    "UPDATE accounts SET disabled_at = $1"
                    " WHERE id = $2 AND disabled_at = 0",
                    &p, 1);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_STATE : r;
}

sn_err
sn_pg_session_add(void *be, const struct sn_token *t)
{
    struct sn_pg_params p;
    sn_err r;

    /* One statement, the account's row locked FOR SHARE: a disable
     * either committed before (no active row: nothing added) or waits for
     * this insert, and its trigger's update then sees and revokes it. */
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, t->id);
    sn_pg_p_text(&p, t->admin ? NULL : t->subscriber);
    sn_pg_p_int(&p, t->admin ? 1 : 0);
    sn_pg_p_text(&p, t->name);
    sn_pg_p_bytes(&p, t->hash, SN_TOKEN_HASH_LEN);
    sn_pg_p_int(&p, (int64_t)t->roles);
    sn_pg_p_int(&p, (int64_t)t->expires_at);
    sn_pg_p_int(&p, (int64_t)t->created_at);
    sn_pg_p_text(&p, t->via);
    sn_pg_p_text(&p, t->proof);
    sn_pg_p_int(&p, t->mfa ? 1 : 0);
    sn_pg_p_int(&p, (int64_t)t->idle_timeout);
    r = sn_pg_write(
        be,
        "INSERT INTO tokens (id, subscriber_id, admin, name, hash, roles,"
        " keys, expires_at, created_at, revoked_at, auth_method, via, proof,"
        " mfa, idle_timeout, last_used)"
        " SELECT $1::text, $2::text, $3::bigint, $4::text, $5::bytea,"
        " $6::bigint, '', $7::bigint, $8::bigint, 0, 3, $9::text, $10::text,"
        " $11::bigint, $12::bigint, $8::bigint FROM accounts"
        " WHERE id = $9::text AND disabled_at = 0 FOR SHARE",
        &p, 1);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_STATE : r;
}

sn_err
sn_pg_token_touch(void *be, const char *id, const char *account, time_t now)
{
    struct sn_pg_params p, q;
    struct pg_conn *c;
    sn_err r;

    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)now);
    sn_pg_p_text(&p, id);
    if (account[0] == '\0')
        return sn_pg_write(be,
                           "UPDATE tokens SET last_used = $1 WHERE id = $2"
                           " AND revoked_at = 0",
                           &p, 0);
    sn_pg_p_init(&q);
    sn_pg_p_int(&q, (int64_t)now);
    sn_pg_p_text(&q, account);
    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    /* A disabled account's use is not dated (its sessions are revoked
     * with it, so only a touch racing the disable gets here). */
    if ((r = sn_pg_begin(c)) == SN_OK &&
        (r = sn_pg_run(SN_ERR_NOT_FOUND, c,
                       "UPDATE tokens SET last_used = $1 WHERE id = $2"
                       " AND revoked_at = 0",
                       &p, 0)) == SN_OK)
        r = sn_pg_run(SN_ERR_NOT_FOUND, c,
                      "UPDATE accounts SET last_use = $1 WHERE id = $2"
                      " AND disabled_at = 0",
                      &q, 0);
    r = sn_pg_tx_end(c, r);
    sn_pg_put(be, c);
    return r;
}

/* Inside recovery_set's transaction: the account's row locked (two sets
 * racing for one account do not mix), the old set deleted, the new one
 * inserted. */
static sn_err
recovery_replace(struct pg_conn *c, const char *account,
                 const uint8_t (*hashes)[32], size_t n)
{
    struct sn_pg_params p;
    sn_err r;
    size_t i;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, account);
    if ((r = sn_pg_exec(c,
                        "SELECT 1 FROM accounts WHERE id = $1"
                        " FOR NO KEY UPDATE",
                        &p, NULL, NULL)) != SN_OK ||
        (r = sn_pg_run(SN_ERR_NOT_FOUND, c,
                       "DELETE FROM recovery_codes WHERE account_id = $1", &p,
                       0)) != SN_OK)
        return r;
    for (i = 0; i < n; i++) {
        sn_pg_p_init(&p);
        sn_pg_p_text(&p, account);
        sn_pg_p_bytes(&p, hashes[i], 32);
        if ((r = sn_pg_run(SN_ERR_NOT_FOUND, c,
                           "INSERT INTO recovery_codes (account_id, hash)"
                           " VALUES ($1, $2)",
                           &p, 0)) != SN_OK)
            return r;
    }
    return SN_OK;
}

sn_err
sn_pg_recovery_set(void *be, const char *account, const uint8_t (*hashes)[32],
                   size_t n)
{
    struct sn_pg_params p;
    struct pg_conn *c;
    sn_err r;

    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    if ((r = sn_pg_begin(c)) == SN_OK)
        r = recovery_replace(c, account, hashes, n);
    r = sn_pg_tx_end(c, r);
    sn_pg_put(be, c);
    /* The old set never works again, even if the new one could not be
     * stored (the person then enrols again): as SQLite, which deletes
     * first. */
    if (r != SN_OK) {
        sn_pg_p_init(&p);
        sn_pg_p_text(&p, account);
        (void)sn_pg_write(
            be, "DELETE FROM recovery_codes WHERE account_id = $1", &p, 0);
    }
    return r;
}

sn_err
sn_pg_recovery_use(void *be, const char *account, const uint8_t hash[32],
                   time_t when)
{
    struct sn_pg_params p;

    /* Once: of two nodes racing with one code, the second waits for the
     * row and then finds it used (nothing changed: SN_ERR_NOT_FOUND). */
    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int64_t)when);
    sn_pg_p_text(&p, account);
    sn_pg_p_bytes(&p, hash, 32);
    return sn_pg_write(be,
                       "UPDATE recovery_codes SET used_at = $1"
                       " WHERE account_id = $2 AND hash = $3"
                       " AND used_at = 0",
                       &p, 1);
}
