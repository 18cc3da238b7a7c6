/*
 * accounts: the SQLite backend's people (issue 17): accounts, their
 * recovery codes, and login sessions, which are rows of the tokens table
 * (auth_method 3, via the account). Every change that must not race is
 * one conditional statement: a TOTP step accepted once, a recovery code
 * used once, a session added only while its account is active (the
 * account_disabled trigger revokes the sessions in the statement that
 * disables).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "common/log.h"

#include "store/sqlite/sqlite_int.h"

#define ACCOUNT_COLS                                                           \
    "id, name, operator, subscriber_id, roles, pw_hash, totp_sealed,"          \
    " totp_state, totp_last_step, failures, locked_until, disabled_at,"        \
    " last_login, last_use, created_at, created_by, totp_pending,"             \
    " (SELECT count(*) FROM recovery_codes r WHERE r.account_id = a.id"        \
    " AND r.used_at = 0)"

static void
account_row(sqlite3_stmt *s, struct sn_account *a)
{
    int n;

    memset(a, 0, sizeof(*a));
    sn_sq_col_text(s, 0, a->id, sizeof(a->id));
    sn_sq_col_text(s, 1, a->name, sizeof(a->name));
    a->operator_ = sqlite3_column_int(s, 2) != 0;
    sn_sq_col_text(s, 3, a->subscriber, sizeof(a->subscriber));
    a->roles = (unsigned)sqlite3_column_int(s, 4);
    sn_sq_col_text(s, 5, a->pw_hash, sizeof(a->pw_hash));
    n = sqlite3_column_bytes(s, 6);
    if (n > 0 && (size_t)n <= sizeof(a->totp_sealed)) {
        memcpy(a->totp_sealed, sqlite3_column_blob(s, 6), (size_t)n);
        a->totp_sealed_len = (size_t)n;
    }
    a->totp_state = (enum sn_totp_state)sqlite3_column_int(s, 7);
    a->totp_last_step = sqlite3_column_int64(s, 8);
    a->failures = (unsigned)sqlite3_column_int(s, 9);
    a->locked_until = (time_t)sqlite3_column_int64(s, 10);
    a->disabled_at = (time_t)sqlite3_column_int64(s, 11);
    a->last_login = (time_t)sqlite3_column_int64(s, 12);
    a->last_use = (time_t)sqlite3_column_int64(s, 13);
    a->created_at = (time_t)sqlite3_column_int64(s, 14);
    sn_sq_col_text(s, 15, a->created_by, sizeof(a->created_by));
    a->recovery_left = (unsigned)sqlite3_column_int(s, 17);
    n = sqlite3_column_bytes(s, 16);
    if (n > 0 && (size_t)n <= sizeof(a->totp_pending)) {
        memcpy(a->totp_pending, sqlite3_column_blob(s, 16), (size_t)n);
        a->totp_pending_len = (size_t)n;
    }
}

sn_err
sn_sq_account_add(void *be, const struct sn_account *a, int first_operator)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    /* The first operator: one statement, so that two racing requests of
     * the bootstrap token cannot both make one. */
    if ((r = sn_sq_prepare(
             st,
             first_operator
                 ? "INSERT INTO accounts (id, name, operator, subscriber_id,"
                   " roles, pw_hash, created_at, created_by)"
                   " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE NOT EXISTS"
                   " (SELECT 1 FROM accounts WHERE operator = 1"
                   " AND disabled_at = 0)"
                 : "INSERT INTO accounts (id, name, operator, subscriber_id,"
                   " roles, pw_hash, created_at, created_by)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
             &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, a->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, a->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, a->operator_ ? 1 : 0);
    sqlite3_bind_text(s, 4, a->subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, (int)a->roles);
    sqlite3_bind_text(s, 6, a->pw_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, a->created_at);
    sqlite3_bind_text(s, 8, a->created_by, -1, SQLITE_STATIC);
    r = sn_sq_finish_write(st, s, first_operator);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_STATE : r;
}

static sn_err
account_one(struct sq_store *st, const char *where, const char *arg,
            struct sn_account *out)
{
    char sql[512];
    sqlite3_stmt *s = NULL;
    sn_err r;
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(sql, sizeof(sql), "SELECT " ACCOUNT_COLS " FROM accounts a %s",
             where);
    if ((r = sn_sq_prepare(st, sql, &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        account_row(s, out);
        r = SN_OK;
    } else
        r = rc == SQLITE_DONE ? SN_ERR_NOT_FOUND : SN_ERR_DB;
    sqlite3_finalize(s);
    return r;
}

sn_err
sn_sq_account_get(void *be, const char *id, struct sn_account *out)
{
    return account_one(be, "WHERE a.id = ?", id, out);
}

sn_err
sn_sq_account_by_name(void *be, const char *name, struct sn_account *out)
{
    return account_one(be, "WHERE a.name = ?", name, out);
}

sn_err
sn_sq_account_list(void *be, const char *subscriber, struct sn_account **out,
                   size_t *n)
{
    struct sq_store *st = be;
    struct sn_account *v = NULL, *nv;
    sqlite3_stmt *s = NULL;
    size_t cap = 0, cnt = 0;
    sn_err r;
    int rc;

    *out = NULL;
    *n = 0;
    if ((r = sn_sq_prepare(st,
                           subscriber != NULL
                               ? "SELECT " ACCOUNT_COLS " FROM accounts a"
                                 " WHERE a.subscriber_id = ? ORDER BY a.name"
                               : "SELECT " ACCOUNT_COLS " FROM accounts a"
                                 " ORDER BY a.operator DESC, a.name",
                           &s)) != SN_OK)
        return r;
    if (subscriber != NULL)
        sqlite3_bind_text(s, 1, subscriber, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
                r = SN_ERR_NOMEM;
                goto out;
            }
            v = nv;
        }
        account_row(s, &v[cnt]);
        cnt++;
    }
    if (rc != SQLITE_DONE) {
        r = SN_ERR_DB;
        goto out;
    }
    *out = v;
    *n = cnt;
    v = NULL;
    cnt = 0;
    r = SN_OK;
out:
    if (v != NULL) {
        OPENSSL_cleanse(v, cap * sizeof(*v));
        free(v);
    }
    sqlite3_finalize(s);
    return r;
}

sn_err
sn_sq_account_totp_pending(void *be, const char *id, const uint8_t *sealed,
                           size_t len)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = sn_sq_prepare(st,
                           "UPDATE accounts SET totp_pending = ?,"
                           " totp_state = CASE totp_state WHEN 2 THEN 2"
                           " ELSE 1 END WHERE id = ? AND disabled_at = 0",
                           &s)) != SN_OK)
        return r;
    sqlite3_bind_blob(s, 1, sealed, (int)len, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    return sn_sq_finish_write(st, s, 1);
}

sn_err
sn_sq_account_totp_clear(void *be, const char *id)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = sn_sq_prepare(st,
                           "UPDATE accounts SET totp_sealed = NULL,"
                           " totp_pending = NULL, totp_state = 0,"
                           " totp_last_step = 0 WHERE id = ?"
                           " AND disabled_at = 0",
                           &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    if ((r = sn_sq_finish_write(st, s, 1)) != SN_OK)
        return r;
    /* The factor was lost or taken: the sessions it opened end too. */
    if ((r = sn_sq_prepare(st,
                           "UPDATE tokens SET revoked_at = strftime('%s',"
                           " 'now') WHERE auth_method = 3 AND via = ?"
                           " AND revoked_at = 0",
                           &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    if ((r = sn_sq_finish_write(st, s, 0)) != SN_OK)
        return r;
    if ((r = sn_sq_prepare(st,
                           "DELETE FROM recovery_codes WHERE account_id = ?",
                           &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    return sn_sq_finish_write(st, s, 0);
}

/* One conditional update: exactly one caller moves the step forward. */
static sn_err
step_update(struct sq_store *st, const char *sql, const char *id, int64_t step)
{
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = sn_sq_prepare(st, sql, &s)) != SN_OK)
        return r;
    sqlite3_bind_int64(s, 1, step);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    r = sn_sq_finish_write(st, s, 1);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_STATE : r;
}

sn_err
sn_sq_account_totp_confirm(void *be, const char *id, const uint8_t *sealed,
                           size_t len, int64_t step)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    /* Only the secret whose code was checked: a newer enrolment that
     * replaced it meanwhile is not made active unverified. */
    if ((r = sn_sq_prepare(st,
                           "UPDATE accounts SET totp_sealed = totp_pending,"
                           " totp_pending = NULL, totp_state = 2,"
                           " totp_last_step = ? WHERE id = ?"
                           " AND totp_pending = ? AND disabled_at = 0",
                           &s)) != SN_OK)
        return r;
    sqlite3_bind_int64(s, 1, step);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, sealed, (int)len, SQLITE_STATIC);
    r = sn_sq_finish_write(st, s, 1);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_STATE : r;
}

sn_err
sn_sq_account_totp_step(void *be, const char *id, int64_t step)
{
    return step_update(be,
                       "UPDATE accounts SET totp_last_step = ?1"
                       " WHERE id = ?2 AND totp_state = 2"
                       " AND totp_last_step < ?1",
                       id, step);
}

sn_err
sn_sq_account_login(void *be, const char *id, int good, time_t now,
                    const struct sn_lockout *lk)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    /* A failure counts and locks in one statement: racing failures all
     * count, and a lock is only ever lengthened. */
    if ((r = sn_sq_prepare(
             st,
             good ? "UPDATE accounts SET failures = 0, locked_until = 0,"
                    " last_login = ?1, last_use = ?1 WHERE id = ?2"
                  : "UPDATE accounts SET failures = failures + 1,"
                    " locked_until = CASE WHEN failures + 1 >= ?3 THEN"
                    " max(locked_until, ?1 + min(?5, ?4 <<"
                    " min(failures + 1 - ?3, 20))) ELSE locked_until END"
                    " WHERE id = ?2",
             &s)) != SN_OK)
        return r;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    if (!good) {
        sqlite3_bind_int(s, 3, (int)lk->after);
        sqlite3_bind_int64(s, 4, lk->first);
        sqlite3_bind_int64(s, 5, lk->max);
    }
    return sn_sq_finish_write(st, s, 1);
}

sn_err
sn_sq_account_set_password(void *be, const char *id, const char *pw_hash)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = sn_sq_prepare(st,
                           "UPDATE accounts SET pw_hash = ? WHERE id = ?"
                           " AND disabled_at = 0",
                           &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, pw_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    return sn_sq_finish_write(st, s, 1);
}

sn_err
sn_sq_account_disable(void *be, const char *id, time_t when)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    /* The account_disabled trigger revokes its sessions in this same
     * statement. */
    if ((r = sn_sq_prepare(st,
                           "UPDATE accounts SET disabled_at = ?"
                           " WHERE id = ? AND disabled_at = 0",
                           &s)) != SN_OK)
        return r;
    sqlite3_bind_int64(s, 1, when);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    r = sn_sq_finish_write(st, s, 1);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_STATE : r;
}

sn_err
sn_sq_session_add(void *be, const struct sn_token *t)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    /* One statement: either it runs before a disable (whose trigger then
     * revokes the new row) or after it (and adds nothing). */
    if ((r = sn_sq_prepare(
             st,
             "INSERT INTO tokens (id, subscriber_id, admin, name, hash, roles,"
             " keys, expires_at, created_at, revoked_at, auth_method, via,"
             " proof, mfa, idle_timeout, last_used)"
             " SELECT ?1, ?2, ?3, ?4, ?5, ?6, '', ?7, ?8, 0, 3, ?9, ?10, ?11,"
             " ?12, ?8 WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?9"
             " AND disabled_at = 0)",
             &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
    if (t->admin)
        sqlite3_bind_null(s, 2);
    else
        sqlite3_bind_text(s, 2, t->subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, t->admin ? 1 : 0);
    sqlite3_bind_text(s, 4, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, t->hash, SN_TOKEN_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int(s, 6, (int)t->roles);
    sqlite3_bind_int64(s, 7, t->expires_at);
    sqlite3_bind_int64(s, 8, t->created_at);
    sqlite3_bind_text(s, 9, t->via, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 10, t->proof, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 11, t->mfa ? 1 : 0);
    sqlite3_bind_int64(s, 12, t->idle_timeout);
    r = sn_sq_finish_write(st, s, 1);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_STATE : r;
}

sn_err
sn_sq_token_touch(void *be, const char *id, const char *account, time_t now)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = sn_sq_prepare(st,
                           "UPDATE tokens SET last_used = ? WHERE id = ?"
                           " AND revoked_at = 0",
                           &s)) != SN_OK)
        return r;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    if ((r = sn_sq_finish_write(st, s, 0)) != SN_OK || account[0] == '\0')
        return r;
    if ((r = sn_sq_prepare(st, "UPDATE accounts SET last_use = ? WHERE id = ?",
                           &s)) != SN_OK)
        return r;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_text(s, 2, account, -1, SQLITE_STATIC);
    return sn_sq_finish_write(st, s, 0);
}

sn_err
sn_sq_recovery_set(void *be, const char *account, const uint8_t (*hashes)[32],
                   size_t n)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    size_t i;
    sn_err r;

    /* The old set goes first: a code of it never works again, even if
     * adding the new set fails half-way (the person then enrols again). */
    if ((r = sn_sq_prepare(st,
                           "DELETE FROM recovery_codes WHERE account_id = ?",
                           &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
    if ((r = sn_sq_finish_write(st, s, 0)) != SN_OK)
        return r;
    for (i = 0; i < n; i++) {
        if ((r = sn_sq_prepare(st,
                               "INSERT INTO recovery_codes (account_id, hash)"
                               " VALUES (?, ?)",
                               &s)) != SN_OK)
            return r;
        sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, hashes[i], 32, SQLITE_STATIC);
        if ((r = sn_sq_finish_write(st, s, 0)) != SN_OK)
            return r;
    }
    return SN_OK;
}

sn_err
sn_sq_recovery_use(void *be, const char *account, const uint8_t hash[32],
                   time_t when)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = sn_sq_prepare(st,
                           "UPDATE recovery_codes SET used_at = ?"
                           " WHERE account_id = ? AND hash = ?"
                           " AND used_at = 0",
                           &s)) != SN_OK)
        return r;
    sqlite3_bind_int64(s, 1, when);
    sqlite3_bind_text(s, 2, account, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, hash, 32, SQLITE_STATIC);
    return sn_sq_finish_write(st, s, 1);
}
