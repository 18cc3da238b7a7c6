/*
 * tables: the PostgreSQL backend's ops on subscribers, tokens, client
 * certificates, keys, identities, certificates, CRLs, counters, signing
 * policies, OIDC issuers, trust policies and jtis, and the audit's pages
 * (pg_ops.h). Values come from the validated policy layer and are always
 * bound as parameters.
 *
 * The semantics are SQLite's (sqlite/sqlite.c), op for op, for several
 * nodes on one database: every read-modify-write is one conditional
 * statement (UPDATE ... WHERE, INSERT ... ON CONFLICT) or a transaction on
 * one pooled connection. Text is ordered and compared COLLATE "C", SQLite's
 * byte order, whatever the database's locale.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/postgres/pg_int.h"

/* ---- helpers ---- */

/* A column's text ("" for NULL), valid until res is cleared. */
static const char *
col_str(const PGresult *res, int row, int col)
{
    return sn_pg_col_null(res, row, col) ? "" : PQgetvalue(res, row, col);
}

/* A column's text, malloc'd; NULL for SQL NULL. */
static sn_err
col_dup(const PGresult *res, int row, int col, char **out)
{
    *out = NULL;
    if (sn_pg_col_null(res, row, col))
        return SN_OK;
    *out = sn_pg_col_strdup(res, row, col);
    return *out != NULL ? SN_OK : SN_ERR_NOMEM;
}

/* A query of at most one row: SN_ERR_NOT_FOUND (and *res NULL) if none. */
static sn_err
query_row(struct pg_store *st, const char *sql, const struct sn_pg_params *p,
          PGresult **res)
{
    sn_err r = sn_pg_query(st, sql, p, res);

    if (r == SN_OK && PQntuples(*res) == 0) {
        PQclear(*res);
        *res = NULL;
        r = SN_ERR_NOT_FOUND;
    }
    return r;
}

/* Every row of a query, one element of elem bytes each (sn_pg_collect). */
static sn_err
query_list(struct pg_store *st, const char *sql, const struct sn_pg_params *p,
           size_t elem, sn_err (*fill)(const PGresult *, int, void *),
           void (*clean)(void *), void **arr, size_t *n)
{
    PGresult *res = NULL;
    sn_err r;

    *arr = NULL;
    *n = 0;
    if ((r = sn_pg_query(st, sql, p, &res)) == SN_OK)
        r = sn_pg_collect(res, elem, fill, clean, arr, n);
    PQclear(res);
    return r;
}

/* One text parameter. */
static void
p_one(struct sn_pg_params *p, const char *s)
{
    sn_pg_p_init(p);
    sn_pg_p_text(p, s);
}

/* "id id id": a token's or a registration's key scope. */
static void
join_keys(const char (*keys)[SN_UUID_LEN], size_t n, char *out, size_t outlen)
{
    size_t i, off = 0;

    out[0] = '\0';
    for (i = 0; i < n && off < outlen; i++)
        off += (size_t)snprintf(out + off, outlen - off, "%s%s", i ? " " : "",
                                keys[i]);
}

/* The scope back; an over-long id is skipped, at most SN_TOKEN_MAX_KEYS. */
static void
split_keys(const char *s, char (*keys)[SN_UUID_LEN], size_t *n)
{
    size_t len;

    *n = 0;
    while (*s != '\0' && *n < SN_TOKEN_MAX_KEYS) {
        while (*s == ' ')
            s++;
        len = strcspn(s, " ");
        if (len == 0)
            break;
        if (len < SN_UUID_LEN) {
            memcpy(keys[*n], s, len);
            keys[*n][len] = '\0';
            (*n)++;
        }
        s += len;
    }
}

/* ---- subscribers ---- */

sn_err
sn_pg_subscriber_add(void *be, const struct sn_subscriber *s)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, s->id);
    sn_pg_p_text(&p, s->name);
    sn_pg_p_text(&p, s->token_label);
    sn_pg_p_int(&p, s->created_at);
    return sn_pg_write(be,
                       "INSERT INTO subscribers (id, name, token_label,"
                       " created_at) VALUES ($1, $2, $3, $4)",
                       &p, 0);
}

#define SUB_COLS "id, name, token_label, created_at"

static sn_err
fill_subscriber(const PGresult *res, int row, void *p)
{
    struct sn_subscriber *out = p;

    memset(out, 0, sizeof(*out));
    sn_pg_col_text(res, row, 0, out->id, sizeof(out->id));
    sn_pg_col_text(res, row, 1, out->name, sizeof(out->name));
    sn_pg_col_text(res, row, 2, out->token_label, sizeof(out->token_label));
    out->created_at = (time_t)sn_pg_col_int(res, row, 3);
    return SN_OK;
}

static sn_err
subscriber_where(struct pg_store *st, const char *sql, const char *arg,
                 struct sn_subscriber *out)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    memset(out, 0, sizeof(*out));
    p_one(&p, arg);
    if ((r = query_row(st, sql, &p, &res)) == SN_OK)
        r = fill_subscriber(res, 0, out);
    PQclear(res);
    return r;
}

sn_err
sn_pg_subscriber_get(void *be, const char *id, struct sn_subscriber *out)
{
    return subscriber_where(
        be, "SELECT " SUB_COLS " FROM subscribers WHERE id = $1", id, out);
}

sn_err
sn_pg_subscriber_by_name(void *be, const char *name, struct sn_subscriber *out)
{
    return subscriber_where(
        be, "SELECT " SUB_COLS " FROM subscribers WHERE name = $1", name, out);
}

sn_err
sn_pg_subscriber_list(void *be, struct sn_subscriber **out, size_t *n)
{
    void *arr = NULL;
    sn_err r;

    r = query_list(be,
                   "SELECT " SUB_COLS " FROM subscribers"
                   " ORDER BY created_at, name COLLATE \"C\"",
                   NULL, sizeof(**out), fill_subscriber, NULL, &arr, n);
    *out = arr;
    return r;
}

/* ---- tokens ---- */

sn_err
sn_pg_token_add(void *be, const struct sn_token *t)
{
    char keys[SN_TOKEN_MAX_KEYS * SN_UUID_LEN + 1];
    struct sn_pg_params p;

    if (t->nkeys > SN_TOKEN_MAX_KEYS)
        return SN_ERR_INVALID;
    join_keys(t->keys, t->nkeys, keys, sizeof(keys));
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, t->id);
    sn_pg_p_text(&p, t->admin ? NULL : t->subscriber);
    sn_pg_p_int(&p, t->admin ? 1 : 0);
    sn_pg_p_text(&p, t->name);
    sn_pg_p_bytes(&p, t->hash, SN_TOKEN_HASH_LEN);
    sn_pg_p_int(&p, (int)t->roles);
    sn_pg_p_text(&p, keys);
    sn_pg_p_int(&p, t->expires_at);
    sn_pg_p_int(&p, t->created_at);
    sn_pg_p_int(&p, t->auth_method);
    sn_pg_p_text(&p, t->via);
    sn_pg_p_text(&p, t->proof);
    sn_pg_p_int(&p, t->mfa ? 1 : 0);
    sn_pg_p_int(&p, t->idle_timeout);
    sn_pg_p_int(&p, t->last_used);
    return sn_pg_write(be,
                       "INSERT INTO tokens (id, subscriber_id, admin, name,"
                       " hash, roles, keys, expires_at, created_at,"
                       " revoked_at, auth_method, via, proof, mfa,"
                       " idle_timeout, last_used) VALUES ($1, $2, $3, $4,"
                       " $5, $6, $7, $8, $9, 0, $10, $11, $12, $13, $14, $15)",
                       &p, 0);
}

/* Every column but the hash (column 4, read by the caller). */
static void
row_token(const PGresult *res, struct sn_token *out)
{
    sn_pg_col_text(res, 0, 0, out->id, sizeof(out->id));
    sn_pg_col_text(res, 0, 1, out->subscriber, sizeof(out->subscriber));
    out->admin = sn_pg_col_int(res, 0, 2) != 0;
    sn_pg_col_text(res, 0, 3, out->name, sizeof(out->name));
    out->roles = (unsigned)sn_pg_col_int(res, 0, 5);
    split_keys(col_str(res, 0, 6), out->keys, &out->nkeys);
    out->expires_at = (time_t)sn_pg_col_int(res, 0, 7);
    out->created_at = (time_t)sn_pg_col_int(res, 0, 8);
    out->revoked_at = (time_t)sn_pg_col_int(res, 0, 9);
    out->auth_method = (int)sn_pg_col_int(res, 0, 10);
    sn_pg_col_text(res, 0, 11, out->via, sizeof(out->via));
    sn_pg_col_text(res, 0, 12, out->proof, sizeof(out->proof));
    out->mfa = sn_pg_col_int(res, 0, 13) != 0;
    out->idle_timeout = (unsigned)sn_pg_col_int(res, 0, 14);
    out->last_used = (time_t)sn_pg_col_int(res, 0, 15);
}

sn_err
sn_pg_token_get(void *be, const char *id, struct sn_token *out)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    memset(out, 0, sizeof(*out));
    p_one(&p, id);
    if ((r = query_row(be,
                       "SELECT id, subscriber_id, admin, name, hash, roles,"
                       " keys, expires_at, created_at, revoked_at,"
                       " auth_method, via, proof, mfa, idle_timeout,"
                       " last_used FROM tokens WHERE id = $1",
                       &p, &res)) != SN_OK)
        goto out;
    /* a hash of any other length is a damaged row */
    if ((r = sn_pg_col_fixed(res, 0, 4, out->hash, SN_TOKEN_HASH_LEN)) !=
        SN_OK) {
        memset(out, 0, sizeof(*out));
        goto out;
    }
    row_token(res, out);
out:
    PQclear(res);
    return r;
}

sn_err
sn_pg_token_revoke(void *be, const char *id, time_t when)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_int(&p, when);
    sn_pg_p_text(&p, id);
    return sn_pg_write(be,
                       "UPDATE tokens SET revoked_at = $1 WHERE id = $2"
                       " AND revoked_at = 0",
                       &p, 1);
}

/* ---- client certificates ---- */

sn_err
sn_pg_clientcert_add(void *be, const struct sn_clientcert *c)
{
    char keys[SN_TOKEN_MAX_KEYS * SN_UUID_LEN + 1];
    struct sn_pg_params p;

    if (c->nkeys > SN_TOKEN_MAX_KEYS || c->pem == NULL)
        return SN_ERR_INVALID;
    join_keys(c->keys, c->nkeys, keys, sizeof(keys));
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, c->id);
    sn_pg_p_text(&p, c->subscriber);
    sn_pg_p_text(&p, c->name);
    sn_pg_p_int(&p, (int)c->kind);
    sn_pg_p_text(&p, c->match);
    sn_pg_p_text(&p, c->fingerprint);
    sn_pg_p_text(&p, c->pem);
    sn_pg_p_text(&p, c->rules);
    sn_pg_p_int(&p, (int)c->roles);
    sn_pg_p_text(&p, keys);
    sn_pg_p_int(&p, c->created_at);
    return sn_pg_write(be,
                       "INSERT INTO client_certs (id, subscriber_id, name,"
                       " kind, match, fingerprint, pem, rules, roles, keys,"
                       " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
                       " $9, $10, $11)",
                       &p, 0);
}

#define CC_COLS                                                                \
    "id, subscriber_id, name, kind, match, fingerprint, pem, rules, roles,"    \
    " keys, created_at"

static sn_err
fill_clientcert(const PGresult *res, int row, void *p)
{
    struct sn_clientcert *out = p;

    memset(out, 0, sizeof(*out));
    sn_pg_col_text(res, row, 0, out->id, sizeof(out->id));
    sn_pg_col_text(res, row, 1, out->subscriber, sizeof(out->subscriber));
    sn_pg_col_text(res, row, 2, out->name, sizeof(out->name));
    out->kind = (enum sn_clientcert_kind)sn_pg_col_int(res, row, 3);
    sn_pg_col_text(res, row, 4, out->match, sizeof(out->match));
    sn_pg_col_text(res, row, 5, out->fingerprint, sizeof(out->fingerprint));
    if ((out->pem = strdup(col_str(res, row, 6))) == NULL)
        return SN_ERR_NOMEM;
    sn_pg_col_text(res, row, 7, out->rules, sizeof(out->rules));
    out->roles = (unsigned)sn_pg_col_int(res, row, 8);
    split_keys(col_str(res, row, 9), out->keys, &out->nkeys);
    out->created_at = (time_t)sn_pg_col_int(res, row, 10);
    return SN_OK;
}

static void
clean_clientcert(void *c)
{
    sn_clientcert_cleanup(c);
}

sn_err
sn_pg_clientcert_get(void *be, const char *id, struct sn_clientcert *out)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    memset(out, 0, sizeof(*out));
    p_one(&p, id);
    if ((r = query_row(be, "SELECT " CC_COLS " FROM client_certs WHERE id = $1",
                       &p, &res)) == SN_OK)
        r = fill_clientcert(res, 0, out);
    if (r != SN_OK)
        sn_clientcert_cleanup(out);
    PQclear(res);
    return r;
}

/* The rows of sql (one text parameter), oldest first. SQLite breaks a tie
 * of created_at by rowid (insertion); this table has no such column, so
 * by id. */
static sn_err
clientcert_where(struct pg_store *st, const char *sql, const char *arg,
                 struct sn_clientcert **out, size_t *n)
{
    struct sn_pg_params p;
    void *arr = NULL;
    sn_err r;

    p_one(&p, arg);
    r = query_list(st, sql, &p, sizeof(**out), fill_clientcert,
                   clean_clientcert, &arr, n);
    *out = arr;
    return r;
}

sn_err
sn_pg_clientcert_list(void *be, const char *subscriber,
                      struct sn_clientcert **out, size_t *n)
{
    return clientcert_where(be,
                            "SELECT " CC_COLS " FROM client_certs"
                            " WHERE subscriber_id = $1"
                            " ORDER BY created_at, id COLLATE \"C\"",
                            subscriber, out, n);
}

sn_err
sn_pg_clientcert_find(void *be, const char *match, struct sn_clientcert **out,
                      size_t *n)
{
    return clientcert_where(be,
                            "SELECT " CC_COLS " FROM client_certs"
                            " WHERE match = $1"
                            " ORDER BY created_at, id COLLATE \"C\"",
                            match, out, n);
}

sn_err
sn_pg_clientcert_delete(void *be, const char *id)
{
    struct sn_pg_params p;

    p_one(&p, id);
    return sn_pg_write(be, "DELETE FROM client_certs WHERE id = $1", &p, 1);
}

/* ---- keys ---- */

static int
facts_pack(const struct sn_key_facts *f)
{
    return (f->local ? 1 : 0) | (f->never_extractable ? 2 : 0) |
           (f->always_sensitive ? 4 : 0) | (f->extractable ? 8 : 0) |
           (f->sensitive ? 16 : 0);
}

static void
facts_unpack(int64_t v, struct sn_key_facts *f)
{
    f->local = (v & 1) != 0;
    f->never_extractable = (v & 2) != 0;
    f->always_sensitive = (v & 4) != 0;
    f->extractable = (v & 8) != 0;
    f->sensitive = (v & 16) != 0;
}

sn_err
sn_pg_key_add(void *be, const struct sn_key *k)
{
    struct sn_pg_params p;

    if (k->spki_len > INT_MAX)
        return SN_ERR_INVALID;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, k->id);
    sn_pg_p_text(&p, k->subscriber);
    sn_pg_p_text(&p, k->label);
    sn_pg_p_int(&p, (int)k->alg);
    sn_pg_p_int(&p, (int)k->state);
    sn_pg_p_int(&p, k->created_at);
    sn_pg_p_bytes(&p, k->spki, k->spki_len);
    sn_pg_p_int(&p, facts_pack(&k->facts));
    sn_pg_p_text(&p, k->hsm.manufacturer);
    sn_pg_p_text(&p, k->hsm.model);
    sn_pg_p_text(&p, k->hsm.serial);
    sn_pg_p_text(&p, k->hsm.label);
    sn_pg_p_text(&p, k->att_pem); /* NULL: none */
    return sn_pg_write(be,
                       "INSERT INTO keys (id, subscriber_id, label, algorithm,"
                       " state, created_at, spki, facts, hsm_manufacturer,"
                       " hsm_model, hsm_serial, hsm_label, cert_pem,"
                       " attestation_pem) VALUES ($1, $2, $3, $4, $5, $6,"
                       " $7, $8, $9, $10, $11, $12, NULL, $13)",
                       &p, 0);
}

#define KEY_COLS                                                               \
    "id, subscriber_id, label, algorithm, state, created_at, spki, facts,"     \
    " hsm_manufacturer, hsm_model, hsm_serial, hsm_label, cert_pem,"           \
    " attestation_pem"

static sn_err
fill_key(const PGresult *res, int row, void *p)
{
    struct sn_key *k = p;
    sn_err r;

    memset(k, 0, sizeof(*k));
    sn_pg_col_text(res, row, 0, k->id, sizeof(k->id));
    sn_pg_col_text(res, row, 1, k->subscriber, sizeof(k->subscriber));
    sn_pg_col_text(res, row, 2, k->label, sizeof(k->label));
    k->alg = (enum sn_keyalg)sn_pg_col_int(res, row, 3);
    k->state = (enum sn_key_state)sn_pg_col_int(res, row, 4);
    k->created_at = (time_t)sn_pg_col_int(res, row, 5);
    if ((r = sn_pg_col_bytes(res, row, 6, &k->spki, &k->spki_len)) != SN_OK)
        return r;
    if (k->spki == NULL)
        return SN_ERR_NOMEM; /* an empty key: SQLite's answer too */
    facts_unpack(sn_pg_col_int(res, row, 7), &k->facts);
    sn_pg_col_text(res, row, 8, k->hsm.manufacturer,
                   sizeof(k->hsm.manufacturer));
    sn_pg_col_text(res, row, 9, k->hsm.model, sizeof(k->hsm.model));
    sn_pg_col_text(res, row, 10, k->hsm.serial, sizeof(k->hsm.serial));
    sn_pg_col_text(res, row, 11, k->hsm.label, sizeof(k->hsm.label));
    if ((r = col_dup(res, row, 12, &k->cert_pem)) != SN_OK ||
        (r = col_dup(res, row, 13, &k->att_pem)) != SN_OK) {
        sn_key_cleanup(k);
        return r;
    }
    return SN_OK;
}

static void
clean_key(void *k)
{
    sn_key_cleanup(k);
}

sn_err
sn_pg_key_get(void *be, const char *id, struct sn_key *out)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    memset(out, 0, sizeof(*out));
    p_one(&p, id);
    if ((r = query_row(be, "SELECT " KEY_COLS " FROM keys WHERE id = $1", &p,
                       &res)) == SN_OK)
        r = fill_key(res, 0, out);
    PQclear(res);
    return r;
}

sn_err
sn_pg_key_list(void *be, const char *subscriber, struct sn_key **out, size_t *n)
{
    struct sn_pg_params p;
    void *arr = NULL;
    sn_err r;

    p_one(&p, subscriber);
    r = query_list(be,
                   "SELECT " KEY_COLS " FROM keys WHERE subscriber_id = $1"
                   " ORDER BY created_at, id COLLATE \"C\"",
                   &p, sizeof(**out), fill_key, clean_key, &arr, n);
    *out = arr;
    return r;
}

/*
 * The move itself, as SQLite's: from a state in the mask $3, and to
 * enabled only while no certificate of the key (or of its public key) is
 * revoked for keyCompromise and no confirmed report names it.
 */
#define KEY_MOVE                                                               \
    "UPDATE keys SET state = $1::bigint WHERE id = $2::text"                   \
    " AND ((1::bigint << state::int) & $3::bigint) != 0"                       \
    " AND ($1::bigint != 0 OR (NOT EXISTS (SELECT 1 FROM certificates"         \
    " WHERE revoked = 1 AND reason = 1 AND (key_id = $2::text"                 \
    " OR spki = keys.spki))"                                                   \
    " AND NOT EXISTS (SELECT 1 FROM report_keys rk"                            \
    " JOIN reports rp ON rp.id = rk.report_id"                                 \
    " JOIN keys k2 ON k2.id = rk.key_id"                                       \
    " WHERE rp.state = 'confirmed'"                                            \
    " AND (rk.key_id = $2::text OR k2.spki = keys.spki))))"

/*
 * The key's row is locked first, then moved by a statement of its own: in
 * READ COMMITTED that statement's snapshot is taken after the lock, so it
 * sees every compromise committed before (one statement that waited on
 * the row would recheck it with its older snapshot).
 */
sn_err
sn_pg_key_transition(void *be, const char *id, unsigned from,
                     enum sn_key_state to)
{
    struct sn_pg_params p;
    struct pg_conn *c;
    PGresult *res = NULL;
    int64_t changed = 0;
    sn_err r;

    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    p_one(&p, id);
    if ((r = sn_pg_begin(c)) != SN_OK ||
        (r = sn_pg_exec(c, "SELECT 1 FROM keys WHERE id = $1 FOR UPDATE", &p,
                        &res, NULL)) != SN_OK)
        goto out;
    sn_pg_p_init(&p);
    sn_pg_p_int(&p, (int)to);
    sn_pg_p_text(&p, id);
    sn_pg_p_int(&p, (int)from);
    if ((r = sn_pg_exec(c, KEY_MOVE, &p, NULL, &changed)) != SN_OK)
        goto out;
    r = changed == 0 ? SN_ERR_STATE : sn_pg_commit(c);
out:
    if (r != SN_OK)
        sn_pg_rollback(c);
    PQclear(res);
    sn_pg_put(be, c);
    return r;
}

sn_err
sn_pg_key_set_cert(void *be, const char *id, const char *pem)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, pem);
    sn_pg_p_text(&p, id);
    return sn_pg_write(be, "UPDATE keys SET cert_pem = $1 WHERE id = $2", &p,
                       1);
}

/* ---- audit ---- */

/* Both orders read the (subscriber_id, id) range the same way; the
 * statement differs only in its ORDER BY, which cannot be a parameter. */
#define AUDIT_SELECT                                                           \
    "SELECT " SN_PG_AUDIT_COLS " FROM audit WHERE subscriber_id = $1"          \
    " AND ($2::text = '' OR key_id = $2::text) AND id > $3::bigint"            \
    " AND ($4::bigint = 0 OR id < $4::bigint)"

sn_err
sn_pg_audit_list(void *be, const char *subscriber, const char *key,
                 const struct sn_audit_page *pg, struct sn_audit **out,
                 size_t *n)
{
    struct sn_audit *arr = NULL;
    struct sn_pg_params p;
    PGresult *res = NULL;
    size_t cnt, limit = pg->limit;
    sn_err r;

    *out = NULL;
    *n = 0;
    if (limit == 0 || limit > 1000 || pg->after < 0 || pg->before < 0)
        return SN_ERR_INVALID;
    if ((arr = calloc(limit, sizeof(*arr))) == NULL)
        return SN_ERR_NOMEM;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, subscriber);
    sn_pg_p_text(&p, key ? key : "");
    sn_pg_p_int(&p, pg->after);
    sn_pg_p_int(&p, pg->before);
    sn_pg_p_int(&p, (int64_t)limit);
    if ((r = sn_pg_query(be,
                         pg->newest_first
                             ? AUDIT_SELECT " ORDER BY id DESC LIMIT $5::bigint"
                             : AUDIT_SELECT " ORDER BY id LIMIT $5::bigint",
                         &p, &res)) != SN_OK)
        goto out;
    for (cnt = 0; cnt < limit && cnt < (size_t)PQntuples(res); cnt++)
        sn_pg_read_audit(res, (int)cnt, 0, &arr[cnt]);
    /* an empty page is an empty array, as SQLite's */
    *out = arr;
    *n = cnt;
    arr = NULL;
out:
    free(arr);
    PQclear(res);
    return r;
}

/* ---- identity ---- */

sn_err
sn_pg_identity_set(void *be, const char *subscriber, const char *json)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, json);
    sn_pg_p_text(&p, subscriber);
    return sn_pg_write(be, "UPDATE subscribers SET identity = $1 WHERE id = $2",
                       &p, 1);
}

/* The text of a one-row, one-column query, malloc'd; SN_ERR_NOT_FOUND for
 * no row or NULL. */
static sn_err
text_of(struct pg_store *st, const char *sql, const char *arg, char **out)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    *out = NULL;
    p_one(&p, arg);
    if ((r = query_row(st, sql, &p, &res)) == SN_OK &&
        (r = col_dup(res, 0, 0, out)) == SN_OK && *out == NULL)
        r = SN_ERR_NOT_FOUND;
    PQclear(res);
    return r;
}

sn_err
sn_pg_identity_get(void *be, const char *subscriber, char **json)
{
    return text_of(be, "SELECT identity FROM subscribers WHERE id = $1",
                   subscriber, json);
}

/* ---- signing policies (issue 16) ---- */

sn_err
sn_pg_policy_set(void *be, const char *target, const char *subscriber,
                 const char *json)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, target);
    sn_pg_p_text(&p, subscriber);
    sn_pg_p_text(&p, json);
    sn_pg_p_int(&p, (int64_t)time(NULL));
    return sn_pg_write(be,
                       "INSERT INTO signing_policies (target, subscriber_id,"
                       " policy, updated_at) VALUES ($1, $2, $3, $4)"
                       " ON CONFLICT (target) DO UPDATE SET"
                       " policy = excluded.policy,"
                       " updated_at = excluded.updated_at",
                       &p, 1);
}

sn_err
sn_pg_policy_get(void *be, const char *target, char **json)
{
    return text_of(be, "SELECT policy FROM signing_policies WHERE target = $1",
                   target, json);
}

sn_err
sn_pg_policy_delete(void *be, const char *target)
{
    struct sn_pg_params p;

    p_one(&p, target);
    return sn_pg_write(be, "DELETE FROM signing_policies WHERE target = $1", &p,
                       1);
}

sn_err
sn_pg_sign_count(void *be, const char *key, time_t since, uint64_t *out)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    *out = 0;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, key);
    sn_pg_p_int(&p, since);
    if ((r = query_row(be,
                       "SELECT count(*) FROM audit WHERE key_id = $1"
                       " AND time >= $2::bigint AND result = 'ok'"
                       " AND action IN ('sign', 'sign_file')",
                       &p, &res)) == SN_OK)
        *out = (uint64_t)sn_pg_col_int(res, 0, 0);
    PQclear(res);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_DB : r;
}

/* ---- certificates ---- */

#define CERT_COLS                                                              \
    "serial, ca, subscriber_id, key_id, profile, der, not_before, not_after,"  \
    " issued_at, revoked, revocation_date, reason, revoked_at"

static sn_err
fill_cert(const PGresult *res, int row, void *p)
{
    struct sn_cert *c = p;
    sn_err r;

    memset(c, 0, sizeof(*c));
    sn_pg_col_text(res, row, 0, c->serial, sizeof(c->serial));
    sn_pg_col_text(res, row, 1, c->ca, sizeof(c->ca));
    sn_pg_col_text(res, row, 2, c->subscriber, sizeof(c->subscriber));
    sn_pg_col_text(res, row, 3, c->key, sizeof(c->key));
    sn_pg_col_text(res, row, 4, c->profile, sizeof(c->profile));
    if ((r = sn_pg_col_bytes(res, row, 5, &c->der, &c->der_len)) != SN_OK)
        return r;
    if (c->der == NULL)
        return SN_ERR_NOMEM; /* an empty DER: SQLite's answer too */
    c->not_before = (time_t)sn_pg_col_int(res, row, 6);
    c->not_after = (time_t)sn_pg_col_int(res, row, 7);
    c->issued_at = (time_t)sn_pg_col_int(res, row, 8);
    c->revoked = (int)sn_pg_col_int(res, row, 9);
    c->revocation_date = (time_t)sn_pg_col_int(res, row, 10);
    c->reason = (int)sn_pg_col_int(res, row, 11);
    c->revoked_at = (time_t)sn_pg_col_int(res, row, 12);
    return SN_OK;
}

static void
clean_cert(void *c)
{
    sn_cert_cleanup(c);
}

sn_err
sn_pg_cert_add(void *be, const struct sn_cert *c)
{
    struct sn_pg_params p;

    if (c->der_len > INT_MAX)
        return SN_ERR_INVALID;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, c->serial);
    sn_pg_p_text(&p, c->ca);
    sn_pg_p_text(&p, c->subscriber);
    sn_pg_p_text(&p, c->key);
    sn_pg_p_text(&p, c->profile);
    sn_pg_p_bytes(&p, c->der, c->der_len);
    sn_pg_p_int(&p, c->not_before);
    sn_pg_p_int(&p, c->not_after);
    sn_pg_p_int(&p, c->issued_at);
    return sn_pg_write(be,
                       "INSERT INTO certificates (serial, ca, subscriber_id,"
                       " key_id, profile, der, not_before, not_after,"
                       " issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
                       " $9)",
                       &p, 0);
}

sn_err
sn_pg_cert_get(void *be, const char *ca, const char *serial,
               struct sn_cert *out)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    memset(out, 0, sizeof(*out));
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, serial);
    sn_pg_p_text(&p, ca); /* NULL: any CA */
    if ((r = query_row(be,
                       "SELECT " CERT_COLS " FROM certificates"
                       " WHERE serial = $1"
                       " AND ($2::text IS NULL OR ca = $2::text)",
                       &p, &res)) == SN_OK)
        r = fill_cert(res, 0, out);
    PQclear(res);
    return r;
}

sn_err
sn_pg_pin_put(void *be, const char *subscriber, const uint8_t *sealed,
              size_t len)
{
    struct sn_pg_params p;

    if (len > INT_MAX)
        return SN_ERR_INVALID;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, subscriber);
    sn_pg_p_bytes(&p, sealed, len);
    return sn_pg_write(be,
                       "INSERT INTO token_pins (subscriber_id, sealed)"
                       " VALUES ($1, $2) ON CONFLICT (subscriber_id)"
                       " DO UPDATE SET sealed = excluded.sealed",
                       &p, 0);
}

sn_err
sn_pg_pin_get(void *be, const char *subscriber, uint8_t **sealed, size_t *len)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    *sealed = NULL;
    *len = 0;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, subscriber);
    if ((r = query_row(be,
                       "SELECT sealed FROM token_pins WHERE subscriber_id = $1",
                       &p, &res)) == SN_OK)
        r = sn_pg_col_bytes(res, 0, 0, sealed, len);
    PQclear(res);
    if (r == SN_OK && *sealed == NULL)
        r = SN_ERR_NOT_FOUND;
    return r;
}

sn_err
sn_pg_cert_latest(void *be, const char *ca, const char *profile,
                  struct sn_cert *out)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    memset(out, 0, sizeof(*out));
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, ca);
    sn_pg_p_text(&p, profile);
    if ((r = query_row(be,
                       "SELECT " CERT_COLS " FROM certificates"
                       " WHERE ca = $1 AND profile = $2 AND revoked = 0"
                       " ORDER BY issued_at DESC, serial COLLATE \"C\" DESC"
                       " LIMIT 1",
                       &p, &res)) == SN_OK)
        r = fill_cert(res, 0, out);
    PQclear(res);
    return r;
}

sn_err
sn_pg_cert_revoke(void *be, const char *serial, time_t revocation_date,
                  int reason, time_t revoked_at)
{
    struct sn_pg_params p;
    sn_err r;

    sn_pg_p_init(&p);
    sn_pg_p_int(&p, revocation_date);
    sn_pg_p_int(&p, reason);
    sn_pg_p_int(&p, revoked_at);
    sn_pg_p_text(&p, serial);
    /* Only a certificate not yet revoked: a revocation recorded in the
     * meantime (a key compromise) is never overwritten. */
    r = sn_pg_write(be,
                    "UPDATE certificates SET revoked = 1,"
                    " revocation_date = $1, reason = $2, revoked_at = $3"
                    " WHERE serial = $4 AND revoked = 0",
                    &p, 1);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_STATE : r;
}

sn_err
sn_pg_cert_compromise(void *be, const uint8_t *spki, size_t spki_len,
                      time_t revocation_date, time_t revoked_at)
{
    struct sn_pg_params p;

    if (spki_len == 0 || spki_len > INT_MAX)
        return SN_ERR_INVALID;
    sn_pg_p_init(&p);
    sn_pg_p_bytes(&p, spki, spki_len);
    sn_pg_p_int(&p, revocation_date);
    sn_pg_p_int(&p, revoked_at);
    /* One statement, so every certificate of the key moves together. A
     * certificate revoked for another reason at or before the date keeps
     * its revocation (it is never moved later by a change of reason). */
    return sn_pg_write(be,
                       "UPDATE certificates SET revocation_date = $2::bigint,"
                       " revoked_at = CASE WHEN revoked = 1 THEN revoked_at"
                       " ELSE $3::bigint END,"
                       " revoked = 1, reason = 1 WHERE spki = $1::bytea"
                       " AND NOT (revoked = 1 AND reason != 1"
                       " AND revocation_date <= $2::bigint)",
                       &p, 1);
}

sn_err
sn_pg_cert_set_spki(void *be, const char *serial, const uint8_t *spki,
                    size_t spki_len)
{
    struct sn_pg_params p;

    if (spki_len == 0 || spki_len > INT_MAX)
        return SN_ERR_INVALID;
    sn_pg_p_init(&p);
    sn_pg_p_bytes(&p, spki, spki_len);
    sn_pg_p_text(&p, serial);
    /* a recorded key is never replaced */
    return sn_pg_write(be,
                       "UPDATE certificates SET spki = $1 WHERE serial = $2"
                       " AND spki IS NULL",
                       &p, 0);
}

static sn_err
cert_where(struct pg_store *st, const char *sql, const struct sn_pg_params *p,
           struct sn_cert **out, size_t *n)
{
    void *arr = NULL;
    sn_err r;

    r = query_list(st, sql, p, sizeof(**out), fill_cert, clean_cert, &arr, n);
    *out = arr;
    return r;
}

sn_err
sn_pg_cert_revoked(void *be, const char *ca, struct sn_cert **out, size_t *n)
{
    struct sn_pg_params p;

    p_one(&p, ca);
    return cert_where(be,
                      "SELECT " CERT_COLS " FROM certificates WHERE ca = $1"
                      " AND revoked = 1 ORDER BY serial COLLATE \"C\"",
                      &p, out, n);
}

sn_err
sn_pg_cert_by_spki(void *be, const uint8_t *spki, size_t spki_len,
                   struct sn_cert **out, size_t *n)
{
    struct sn_pg_params p;

    *out = NULL;
    *n = 0;
    if (spki_len == 0 || spki_len > INT_MAX)
        return SN_ERR_INVALID;
    sn_pg_p_init(&p);
    sn_pg_p_bytes(&p, spki, spki_len);
    return cert_where(be,
                      "SELECT " CERT_COLS " FROM certificates WHERE spki = $1"
                      " ORDER BY serial COLLATE \"C\"",
                      &p, out, n);
}

sn_err
sn_pg_cert_unindexed(void *be, const char *after, size_t limit,
                     struct sn_cert **out, size_t *n)
{
    struct sn_pg_params p;

    *out = NULL;
    *n = 0;
    if (limit == 0 || limit > INT_MAX)
        return SN_ERR_INVALID;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, after);
    sn_pg_p_int(&p, (int64_t)limit);
    return cert_where(be,
                      "SELECT " CERT_COLS " FROM certificates"
                      " WHERE spki IS NULL AND serial COLLATE \"C\" > $1"
                      " ORDER BY serial COLLATE \"C\" LIMIT $2::bigint",
                      &p, out, n);
}

int
sn_pg_key_compromised(void *be, const char *key)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    int found;

    p_one(&p, key);
    if (sn_pg_query(be,
                    "SELECT 1 FROM certificates WHERE revoked = 1"
                    " AND reason = 1 AND (key_id = $1::text"
                    " OR spki = (SELECT spki FROM keys WHERE id = $1::text))"
                    " UNION ALL SELECT 1 FROM report_keys rk"
                    " JOIN reports rp ON rp.id = rk.report_id"
                    " JOIN keys k2 ON k2.id = rk.key_id"
                    " WHERE rp.state = 'confirmed' AND (rk.key_id = $1::text"
                    " OR k2.spki = (SELECT spki FROM keys"
                    " WHERE id = $1::text)) LIMIT 1",
                    &p, &res) != SN_OK)
        return 1; /* fail closed */
    found = PQntuples(res) > 0;
    PQclear(res);
    return found;
}

/* ---- CRLs ---- */

sn_err
sn_pg_crl_get(void *be, const char *ca, uint8_t **der, size_t *len,
              int64_t *number, time_t *this_update)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    *der = NULL;
    *len = 0;
    *number = 0;
    *this_update = 0;
    p_one(&p, ca);
    if ((r = query_row(be,
                       "SELECT number, this_update, der FROM crls"
                       " WHERE ca = $1",
                       &p, &res)) != SN_OK)
        goto out;
    *number = sn_pg_col_int(res, 0, 0);
    *this_update = (time_t)sn_pg_col_int(res, 0, 1);
    if ((r = sn_pg_col_bytes(res, 0, 2, der, len)) == SN_OK && *der == NULL)
        r = SN_ERR_NOT_FOUND; /* a row without a CRL (NULL or empty) */
out:
    PQclear(res);
    return r;
}

sn_err
sn_pg_crl_put(void *be, const char *ca, int64_t number, time_t this_update,
              const uint8_t *der, size_t len)
{
    struct sn_pg_params p;

    if (len > INT_MAX)
        return SN_ERR_INVALID;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, ca);
    sn_pg_p_int(&p, number);
    sn_pg_p_int(&p, this_update);
    sn_pg_p_bytes(&p, der, len);
    /* only a newer CRL replaces the stored one, whichever node wrote it */
    return sn_pg_write(be,
                       "INSERT INTO crls (ca, number, this_update, der)"
                       " VALUES ($1, $2, $3, $4) ON CONFLICT (ca) DO UPDATE"
                       " SET number = excluded.number,"
                       " this_update = excluded.this_update,"
                       " der = excluded.der"
                       " WHERE excluded.number > crls.number",
                       &p, 0);
}

/* ---- counters ---- */

/* One statement: every node's increment is its own (first value 1). */
sn_err
sn_pg_counter_next(void *be, const char *name, int64_t *out)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    *out = 0;
    p_one(&p, name);
    if ((r = query_row(be,
                       "INSERT INTO counters (name, value) VALUES ($1, 1)"
                       " ON CONFLICT (name) DO UPDATE"
                       " SET value = counters.value + 1 RETURNING value",
                       &p, &res)) == SN_OK)
        *out = sn_pg_col_int(res, 0, 0);
    PQclear(res);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_DB : r;
}

/* Both counts from one snapshot. The certificates scan has no index by
 * subscriber: issuance is rare and signs in the HSM anyway. */
sn_err
sn_pg_usage(void *be, const char *subscriber, time_t since,
            struct sn_usage *out)
{
    struct sn_pg_params p;
    PGresult *res = NULL;
    sn_err r;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, subscriber);
    sn_pg_p_int(&p, SN_KEY_DESTROYED);
    sn_pg_p_int(&p, since);
    if ((r = query_row(
             be,
             "SELECT (SELECT count(*) FROM keys"
             " WHERE subscriber_id = $1::text AND state != $2::bigint),"
             " (SELECT count(*) FROM certificates"
             " WHERE subscriber_id = $1::text"
             " AND issued_at >= $3::bigint)",
             &p, &res)) == SN_OK) {
        out->keys = (uint64_t)sn_pg_col_int(res, 0, 0);
        out->certs_since = (uint64_t)sn_pg_col_int(res, 0, 1);
    }
    PQclear(res);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_DB : r;
}

/* ---- OIDC issuers, trust policies, jtis ---- */

sn_err
sn_pg_oidc_issuer_add(void *be, const struct sn_oidc_issuer *i)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, i->id);
    sn_pg_p_text(&p, i->issuer);
    sn_pg_p_text(&p, i->audience);
    sn_pg_p_text(&p, i->jwks_uri);
    sn_pg_p_text(&p, i->ca_file);
    sn_pg_p_int(&p, i->created_at);
    return sn_pg_write(be,
                       "INSERT INTO oidc_issuers (id, issuer, audience,"
                       " jwks_uri, ca_file, created_at)"
                       " VALUES ($1, $2, $3, $4, $5, $6)",
                       &p, 0);
}

static sn_err
fill_issuer(const PGresult *res, int row, void *out)
{
    struct sn_oidc_issuer *i = out;

    memset(i, 0, sizeof(*i));
    sn_pg_col_text(res, row, 0, i->id, sizeof(i->id));
    sn_pg_col_text(res, row, 1, i->issuer, sizeof(i->issuer));
    sn_pg_col_text(res, row, 2, i->audience, sizeof(i->audience));
    sn_pg_col_text(res, row, 3, i->jwks_uri, sizeof(i->jwks_uri));
    sn_pg_col_text(res, row, 4, i->ca_file, sizeof(i->ca_file));
    i->created_at = (time_t)sn_pg_col_int(res, row, 5);
    return SN_OK;
}

sn_err
sn_pg_oidc_issuer_list(void *be, struct sn_oidc_issuer **out, size_t *n)
{
    void *arr = NULL;
    sn_err r;

    r = query_list(be,
                   "SELECT id, issuer, audience, jwks_uri, ca_file,"
                   " created_at FROM oidc_issuers"
                   " ORDER BY created_at, id COLLATE \"C\"",
                   NULL, sizeof(**out), fill_issuer, NULL, &arr, n);
    *out = arr;
    return r;
}

sn_err
sn_pg_oidc_issuer_delete(void *be, const char *id)
{
    struct sn_pg_params p;

    p_one(&p, id);
    return sn_pg_write(be, "DELETE FROM oidc_issuers WHERE id = $1", &p, 1);
}

sn_err
sn_pg_trust_policy_add(void *be, const struct sn_trust_policy *tp)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, tp->id);
    sn_pg_p_text(&p, tp->subscriber);
    sn_pg_p_text(&p, tp->issuer);
    sn_pg_p_text(&p, tp->body);
    sn_pg_p_int(&p, tp->created_at);
    return sn_pg_write(be,
                       "INSERT INTO trust_policies (id, subscriber_id, issuer,"
                       " body, created_at) VALUES ($1, $2, $3, $4, $5)",
                       &p, 0);
}

static sn_err
fill_policy(const PGresult *res, int row, void *out)
{
    struct sn_trust_policy *tp = out;

    memset(tp, 0, sizeof(*tp));
    sn_pg_col_text(res, row, 0, tp->id, sizeof(tp->id));
    sn_pg_col_text(res, row, 1, tp->subscriber, sizeof(tp->subscriber));
    sn_pg_col_text(res, row, 2, tp->issuer, sizeof(tp->issuer));
    tp->body =
        strdup(sn_pg_col_null(res, row, 3) ? "{}" : PQgetvalue(res, row, 3));
    if (tp->body == NULL)
        return SN_ERR_NOMEM;
    tp->created_at = (time_t)sn_pg_col_int(res, row, 4);
    return SN_OK;
}

static void
clean_policy(void *tp)
{
    free(((struct sn_trust_policy *)tp)->body);
}

sn_err
sn_pg_trust_policy_list(void *be, const char *subscriber, const char *issuer,
                        struct sn_trust_policy **out, size_t *n)
{
    struct sn_pg_params p;
    void *arr = NULL;
    sn_err r;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, subscriber);
    sn_pg_p_text(&p, issuer);
    r = query_list(be,
                   "SELECT id, subscriber_id, issuer, body, created_at"
                   " FROM trust_policies WHERE ($1::text = ''"
                   " OR subscriber_id = $1::text) AND ($2::text = ''"
                   " OR issuer = $2::text)"
                   " ORDER BY created_at, id COLLATE \"C\"",
                   &p, sizeof(**out), fill_policy, clean_policy, &arr, n);
    *out = arr;
    return r;
}

sn_err
sn_pg_trust_policy_delete(void *be, const char *subscriber, const char *id)
{
    struct sn_pg_params p;

    sn_pg_p_init(&p);
    sn_pg_p_text(&p, id);
    sn_pg_p_text(&p, subscriber);
    return sn_pg_write(be,
                       "DELETE FROM trust_policies WHERE id = $1"
                       " AND subscriber_id = $2",
                       &p, 1);
}

/*
 * A jti is taken at most once, whichever node asks: the primary key
 * decides (a racing insert waits for the other's commit, then conflicts).
 * In one transaction: the issuer's expired jtis are forgotten, then the
 * jti is inserted, or replaces a row of it that had expired. A replay
 * still commits the forgetting, as SQLite's separate statements do.
 */
sn_err
sn_pg_oidc_jti_use(void *be, const char *issuer, const char *jti,
                   time_t expires_at, time_t now)
{
    struct sn_pg_params p;
    struct pg_conn *c;
    PGresult *res = NULL;
    sn_err r, taken = SN_OK;

    if ((c = sn_pg_get(be)) == NULL)
        return SN_ERR_DB;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, issuer);
    sn_pg_p_int(&p, now);
    if ((r = sn_pg_begin(c)) != SN_OK ||
        (r = sn_pg_exec(c,
                        "DELETE FROM oidc_jti WHERE issuer = $1"
                        " AND expires_at < $2::bigint",
                        &p, NULL, NULL)) != SN_OK)
        goto out;
    sn_pg_p_init(&p);
    sn_pg_p_text(&p, issuer);
    sn_pg_p_text(&p, jti);
    sn_pg_p_int(&p, expires_at);
    sn_pg_p_int(&p, now);
    if ((r = sn_pg_exec(c,
                        "INSERT INTO oidc_jti (issuer, jti, expires_at)"
                        " VALUES ($1, $2, $3) ON CONFLICT (issuer, jti)"
                        " DO UPDATE SET expires_at = excluded.expires_at"
                        " WHERE oidc_jti.expires_at < $4::bigint RETURNING 1",
                        &p, &res, NULL)) != SN_OK)
        goto out;
    if (res == NULL || PQntuples(res) == 0)
        taken = SN_ERR_EXISTS;
    if ((r = sn_pg_commit(c)) == SN_OK)
        r = taken;
out:
    if (r != SN_OK)
        sn_pg_rollback(c);
    PQclear(res);
    sn_pg_put(be, c);
    return r;
}
