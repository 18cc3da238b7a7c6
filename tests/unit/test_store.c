/*
 * Unit tests for store against real SQLite in a fresh directory per test,
 * or, with SIGNET_TEST_PG_DIR naming a server of scripts/pg.sh, against
 * real PostgreSQL in a fresh database per test (the tests of SQLite's own
 * files and schema history are skipped there). Failures inside a
 * transaction are provoked from outside: a second connection installs a
 * trigger that aborts chosen inserts, and what was committed is then read
 * back through a new connection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "store/store.h"
#include "translog/entry.h"
#include "translog/merkle.h"
#include "translog/note.h"
#include "store/store_int.h"

struct tmp {
    char dir[64];
    char db[256];
    char pgname[64]; /* PostgreSQL: the test's database */
    struct sn_store *st;
};

/* SIGNET_TEST_PG_DIR: the socket directory of a scripts/pg.sh server */
static const char *pg_dir;

/* Runs sql on the server's maintenance database; 0 on failure. */
static int
pg_admin(const char *sql)
{
    char url[256];
    PGconn *c;
    PGresult *res;
    int ok;

    snprintf(url, sizeof(url), "postgresql:///postgres?host=%s", pg_dir);
    c = PQconnectdb(url);
    res = PQexec(c, sql);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        print_error("postgres: %s\n", PQerrorMessage(c));
    PQclear(res);
    PQfinish(c);
    return ok;
}

/* A fresh database for the test: t->db names it. */
static int
pg_fresh(struct tmp *t)
{
    static unsigned n;
    char sql[128];

    snprintf(t->pgname, sizeof(t->pgname), "ut_%ld_%u", (long)getpid(),
             __atomic_add_fetch(&n, 1, __ATOMIC_SEQ_CST));
    snprintf(t->db, sizeof(t->db), "postgresql:///%s?host=%s", t->pgname,
             pg_dir);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", t->pgname);
    return pg_admin(sql);
}

static void
pg_drop(struct tmp *t)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
             t->pgname);
    (void)pg_admin(sql);
}

/* The tests of SQLite's own files and schema history. */
#define SQLITE_ONLY()                                                          \
    do {                                                                       \
        if (pg_dir != NULL)                                                    \
            skip();                                                            \
    } while (0)

static void
tmp_paths_unlink(struct tmp *t)
{
    char p[300];

    unlink(t->db);
    snprintf(p, sizeof(p), "%s-wal", t->db);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", t->db);
    unlink(p);
    snprintf(p, sizeof(p), "%s-journal", t->db);
    unlink(p);
}

static int
setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return -1;
    snprintf(t->dir, sizeof(t->dir), "/tmp/sn-test-store-XXXXXX");
    if (mkdtemp(t->dir) == NULL) {
        free(t);
        return -1;
    }
    snprintf(t->db, sizeof(t->db), "%s/signet.db", t->dir);
    if ((pg_dir != NULL && !pg_fresh(t)) ||
        sn_store_open(t->db, &t->st) != SN_OK) {
        rmdir(t->dir);
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int
teardown(void **state)
{
    struct tmp *t = *state;

    sn_store_close(t->st);
    if (pg_dir != NULL)
        pg_drop(t);
    else
        tmp_paths_unlink(t);
    rmdir(t->dir);
    free(t);
    return 0;
}

/* Closes and reopens the store: only committed data survives. */
static void
reopen(struct tmp *t)
{
    sn_store_close(t->st);
    t->st = NULL;
    assert_int_equal(sn_store_open(t->db, &t->st), SN_OK);
    assert_int_equal(sn_store_ping(t->st), SN_OK);
}

/* Runs sql on a second, independent connection to the same database;
 * with PostgreSQL pg (NULL: the test is skipped there). */
static void
exec_other2(struct tmp *t, const char *sql, const char *pg)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    PGconn *c;
    PGresult *res;
    int rc;

    if (pg_dir != NULL) {
        if (pg == NULL)
            skip();
        c = PQconnectdb(t->db);
        res = PQexec(c, pg);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!rc)
            print_error("sql: %s\n", PQerrorMessage(c));
        PQclear(res);
        PQfinish(c);
        assert_true(rc);
        return;
    }
    assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
    rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        print_error("sql: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

/* The same SQL for both. */
static void
exec_other(struct tmp *t, const char *sql)
{
    exec_other2(t, sql, sql);
}

static int64_t query_int(struct tmp *t, const char *sql);

/* The trigger that fails the insert of an audit record whose detail is
 * "boom", and its removal. */
#define BOOM_SQLITE                                                            \
    "CREATE TRIGGER boom BEFORE INSERT ON audit WHEN NEW.detail = 'boom'"      \
    " BEGIN SELECT RAISE(ABORT, 'boom'); END;"
#define BOOM_PG                                                                \
    "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"      \
    " IF NEW.detail = 'boom' THEN RAISE EXCEPTION 'boom'; END IF;"             \
    " RETURN NEW; END $$;"                                                     \
    "CREATE TRIGGER boom BEFORE INSERT ON audit FOR EACH ROW"                  \
    " EXECUTE FUNCTION boom();"
#define UNBOOM_PG "DROP TRIGGER boom ON audit; DROP FUNCTION boom();"

static void
make_sub(struct sn_subscriber *s, const char *name, time_t created)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(sn_uuid(s->id), SN_OK);
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->token_label, sizeof(s->token_label), "tok-%s", name);
    s->created_at = created;
}

static void
assert_sub_equal(const struct sn_subscriber *a, const struct sn_subscriber *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->token_label, b->token_label);
    assert_int_equal(a->created_at, b->created_at);
}

/* ---- subscribers ---- */

static void
test_subscribers(void **state)
{
    struct tmp *t = *state;
    struct sn_subscriber a, b, c, dup, got, *list = NULL;
    size_t n = 99;

    make_sub(&a, "acme", 2000);
    make_sub(&b, "bravo", 1000);
    make_sub(&c, "charlie", 3000);
    assert_int_equal(sn_store_subscriber_add(t->st, &a), SN_OK);
    assert_int_equal(sn_store_subscriber_add(t->st, &b), SN_OK);
    assert_int_equal(sn_store_subscriber_add(t->st, &c), SN_OK);

    assert_int_equal(sn_store_subscriber_get(t->st, a.id, &got), SN_OK);
    assert_sub_equal(&got, &a);
    assert_int_equal(sn_store_subscriber_by_name(t->st, "bravo", &got), SN_OK);
    assert_sub_equal(&got, &b);
    assert_int_equal(sn_store_subscriber_get(t->st, "nope", &got),
                     SN_ERR_NOT_FOUND);
    assert_int_equal(sn_store_subscriber_by_name(t->st, "ACME", &got),
                     SN_ERR_NOT_FOUND);

    /* Names are unique; so are ids. */
    make_sub(&dup, "acme", 4000);
    assert_int_equal(sn_store_subscriber_add(t->st, &dup), SN_ERR_EXISTS);
    make_sub(&dup, "delta", 4000);
    memcpy(dup.id, a.id, sizeof(dup.id));
    assert_int_equal(sn_store_subscriber_add(t->st, &dup), SN_ERR_EXISTS);

    /* Oldest first. */
    assert_int_equal(sn_store_subscriber_list(t->st, &list, &n), SN_OK);
    assert_int_equal(n, 3);
    assert_sub_equal(&list[0], &b);
    assert_sub_equal(&list[1], &a);
    assert_sub_equal(&list[2], &c);
    free(list);

    reopen(t);
    assert_int_equal(sn_store_subscriber_list(t->st, &list, &n), SN_OK);
    assert_int_equal(n, 3);
    free(list);
}

static void
test_subscriber_list_empty(void **state)
{
    struct tmp *t = *state;
    struct sn_subscriber *list = (struct sn_subscriber *)t;
    size_t n = 99;

    assert_int_equal(sn_store_subscriber_list(t->st, &list, &n), SN_OK);
    assert_int_equal(n, 0);
    free(list);
}

/* ---- tokens ---- */

static void
assert_token_equal(const struct sn_token *a, const struct sn_token *b)
{
    size_t i;

    assert_string_equal(a->id, b->id);
    assert_string_equal(a->subscriber, b->subscriber);
    assert_int_equal(a->admin, b->admin);
    assert_string_equal(a->name, b->name);
    assert_memory_equal(a->hash, b->hash, SN_TOKEN_HASH_LEN);
    assert_int_equal(a->roles, b->roles);
    assert_int_equal(a->nkeys, b->nkeys);
    for (i = 0; i < a->nkeys; i++)
        assert_string_equal(a->keys[i], b->keys[i]);
    assert_int_equal(a->expires_at, b->expires_at);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->revoked_at, b->revoked_at);
}

static void
test_tokens(void **state)
{
    struct tmp *t = *state;
    struct sn_token tk, adm, got, big;
    size_t i;

    memset(&tk, 0, sizeof(tk));
    assert_int_equal(sn_uuid(tk.id), SN_OK);
    assert_int_equal(sn_uuid(tk.subscriber), SN_OK);
    snprintf(tk.name, sizeof(tk.name), "ci signer");
    assert_int_equal(sn_random(tk.hash, sizeof(tk.hash)), SN_OK);
    tk.hash[0] = 0x00; /* blobs keep embedded zeros */
    tk.roles = SN_ROLE_SIGN;
    tk.nkeys = 3;
    for (i = 0; i < tk.nkeys; i++)
        assert_int_equal(sn_uuid(tk.keys[i]), SN_OK);
    tk.expires_at = 1900000000;
    tk.created_at = 1700000000;
    assert_int_equal(sn_store_token_add(t->st, &tk), SN_OK);
    assert_int_equal(sn_store_token_add(t->st, &tk), SN_ERR_EXISTS);

    memset(&adm, 0, sizeof(adm));
    assert_int_equal(sn_uuid(adm.id), SN_OK);
    adm.admin = 1;
    snprintf(adm.name, sizeof(adm.name), "bootstrap");
    memset(adm.hash, 0xa5, sizeof(adm.hash));
    adm.roles = SN_ROLE_MANAGE | SN_ROLE_SIGN;
    adm.created_at = 1700000001;
    assert_int_equal(sn_store_token_add(t->st, &adm), SN_OK);

    assert_int_equal(sn_store_token_get(t->st, tk.id, &got), SN_OK);
    assert_token_equal(&got, &tk);
    assert_int_equal(sn_store_token_get(t->st, adm.id, &got), SN_OK);
    assert_token_equal(&got, &adm);
    assert_string_equal(got.subscriber, "");
    assert_int_equal(got.admin, 1);
    assert_int_equal(got.nkeys, 0);
    assert_int_equal(sn_store_token_get(t->st, "nope", &got), SN_ERR_NOT_FOUND);

    /* The full scope list round-trips; one more is refused. */
    big = tk;
    assert_int_equal(sn_uuid(big.id), SN_OK);
    big.nkeys = SN_TOKEN_MAX_KEYS;
    for (i = 0; i < big.nkeys; i++)
        assert_int_equal(sn_uuid(big.keys[i]), SN_OK);
    assert_int_equal(sn_store_token_add(t->st, &big), SN_OK);
    assert_int_equal(sn_store_token_get(t->st, big.id, &got), SN_OK);
    assert_token_equal(&got, &big);
    assert_int_equal(sn_uuid(big.id), SN_OK);
    big.nkeys = SN_TOKEN_MAX_KEYS + 1;
    assert_int_equal(sn_store_token_add(t->st, &big), SN_ERR_INVALID);
    assert_int_equal(sn_store_token_get(t->st, big.id, &got), SN_ERR_NOT_FOUND);

    /* Revocation happens once. */
    assert_int_equal(sn_store_token_revoke(t->st, tk.id, 1800000000), SN_OK);
    assert_int_equal(sn_store_token_get(t->st, tk.id, &got), SN_OK);
    assert_int_equal(got.revoked_at, 1800000000);
    assert_int_equal(sn_store_token_revoke(t->st, tk.id, 1800000005),
                     SN_ERR_NOT_FOUND);
    assert_int_equal(sn_store_token_get(t->st, tk.id, &got), SN_OK);
    assert_int_equal(got.revoked_at, 1800000000);
    assert_int_equal(sn_store_token_revoke(t->st, "nope", 1), SN_ERR_NOT_FOUND);
    /* The other tokens are untouched. */
    assert_int_equal(sn_store_token_get(t->st, adm.id, &got), SN_OK);
    assert_int_equal(got.revoked_at, 0);

    reopen(t);
    assert_int_equal(sn_store_token_get(t->st, adm.id, &got), SN_OK);
    assert_token_equal(&got, &adm);
    assert_int_equal(sn_store_token_get(t->st, tk.id, &got), SN_OK);
    tk.revoked_at = 1800000000;
    assert_token_equal(&got, &tk);
}

/* ---- keys ---- */

static void
make_key(struct sn_key *k, const char *sub, const char *label,
         enum sn_keyalg alg, time_t created, size_t spki_len)
{
    size_t i;

    memset(k, 0, sizeof(*k));
    assert_int_equal(sn_uuid(k->id), SN_OK);
    snprintf(k->subscriber, sizeof(k->subscriber), "%s", sub);
    snprintf(k->label, sizeof(k->label), "%s", label);
    k->alg = alg;
    k->state = SN_KEY_ENABLED;
    k->created_at = created;
    k->spki = malloc(spki_len);
    assert_non_null(k->spki);
    for (i = 0; i < spki_len; i++)
        k->spki[i] = (uint8_t)(i * 7 + created);
    k->spki[spki_len / 2] = 0x00;
    k->spki_len = spki_len;
    k->facts.local = 1;
    k->facts.never_extractable = 1;
    k->facts.always_sensitive = 1;
    k->facts.sensitive = 1;
    snprintf(k->hsm.manufacturer, sizeof(k->hsm.manufacturer),
             "SoftHSM project");
    snprintf(k->hsm.model, sizeof(k->hsm.model), "SoftHSM v2");
    snprintf(k->hsm.serial, sizeof(k->hsm.serial), "1234abcd5678ef90");
    snprintf(k->hsm.label, sizeof(k->hsm.label), "%s", label);
}

static void
assert_key_equal(const struct sn_key *a, const struct sn_key *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->subscriber, b->subscriber);
    assert_string_equal(a->label, b->label);
    assert_int_equal(a->alg, b->alg);
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->spki_len, b->spki_len);
    assert_memory_equal(a->spki, b->spki, a->spki_len);
    assert_int_equal(a->facts.local, b->facts.local);
    assert_int_equal(a->facts.never_extractable, b->facts.never_extractable);
    assert_int_equal(a->facts.always_sensitive, b->facts.always_sensitive);
    assert_int_equal(a->facts.extractable, b->facts.extractable);
    assert_int_equal(a->facts.sensitive, b->facts.sensitive);
    assert_string_equal(a->hsm.manufacturer, b->hsm.manufacturer);
    assert_string_equal(a->hsm.model, b->hsm.model);
    assert_string_equal(a->hsm.serial, b->hsm.serial);
    assert_string_equal(a->hsm.label, b->hsm.label);
    if (a->cert_pem == NULL || b->cert_pem == NULL)
        assert_ptr_equal(a->cert_pem, b->cert_pem);
    else
        assert_string_equal(a->cert_pem, b->cert_pem);
}

static void
test_keys(void **state)
{
    static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n"
                              "-----END CERTIFICATE-----\n";
    struct tmp *t = *state;
    struct sn_key k1, k2, k3, got, *list = NULL;
    char s1[SN_UUID_LEN], s2[SN_UUID_LEN];
    size_t n = 0;

    assert_int_equal(sn_uuid(s1), SN_OK);
    assert_int_equal(sn_uuid(s2), SN_OK);
    make_key(&k1, s1, "release", SN_KEY_RSA4096, 300, 550);
    make_key(&k2, s1, "nightly", SN_KEY_P256, 100, 91);
    make_key(&k3, s2, "other", SN_KEY_P384, 200, 120);
    /* Each fact is stored on its own. */
    k2.facts.local = 0;
    k2.facts.extractable = 1;
    k3.facts.never_extractable = 0;
    k3.facts.always_sensitive = 0;
    k3.facts.sensitive = 0;
    k3.state = SN_KEY_DISABLED;
    assert_int_equal(sn_store_key_add(t->st, &k1), SN_OK);
    assert_int_equal(sn_store_key_add(t->st, &k2), SN_OK);
    assert_int_equal(sn_store_key_add(t->st, &k3), SN_OK);
    assert_int_equal(sn_store_key_add(t->st, &k1), SN_ERR_EXISTS);

    assert_int_equal(sn_store_key_get(t->st, k1.id, &got), SN_OK);
    assert_key_equal(&got, &k1);
    sn_key_cleanup(&got);
    assert_int_equal(sn_store_key_get(t->st, k2.id, &got), SN_OK);
    assert_key_equal(&got, &k2);
    sn_key_cleanup(&got);
    assert_int_equal(sn_store_key_get(t->st, k3.id, &got), SN_OK);
    assert_key_equal(&got, &k3);
    sn_key_cleanup(&got);
    assert_int_equal(sn_store_key_get(t->st, "nope", &got), SN_ERR_NOT_FOUND);
    assert_null(got.spki);

    /* Only the subscriber's own keys, oldest first. */
    assert_int_equal(sn_store_key_list(t->st, s1, &list, &n), SN_OK);
    assert_int_equal(n, 2);
    assert_key_equal(&list[0], &k2);
    assert_key_equal(&list[1], &k1);
    sn_key_list_free(list, n);
    assert_int_equal(sn_store_key_list(t->st, s2, &list, &n), SN_OK);
    assert_int_equal(n, 1);
    assert_key_equal(&list[0], &k3);
    sn_key_list_free(list, n);
    assert_int_equal(sn_store_key_list(t->st, "nobody", &list, &n), SN_OK);
    assert_int_equal(n, 0);
    sn_key_list_free(list, n);

    /* State and certificate. */
    assert_int_equal(sn_store_key_transition(t->st, k1.id,
                                             SN_KEY_FROM(SN_KEY_ENABLED),
                                             SN_KEY_DESTROYED),
                     SN_OK);
    /* Out of destroyed there is no way: not even to disabled. */
    assert_int_equal(sn_store_key_transition(t->st, k1.id,
                                             SN_KEY_FROM(SN_KEY_ENABLED),
                                             SN_KEY_DISABLED),
                     SN_ERR_STATE);
    assert_int_equal(sn_store_key_transition(t->st, "nope",
                                             SN_KEY_FROM(SN_KEY_ENABLED),
                                             SN_KEY_DISABLED),
                     SN_ERR_STATE);
    assert_int_equal(sn_store_key_set_cert(t->st, k1.id, pem), SN_OK);
    assert_int_equal(sn_store_key_set_cert(t->st, "nope", pem),
                     SN_ERR_NOT_FOUND);
    assert_int_equal(sn_store_key_get(t->st, k1.id, &got), SN_OK);
    assert_int_equal(got.state, SN_KEY_DESTROYED);
    assert_non_null(got.cert_pem);
    assert_string_equal(got.cert_pem, pem);
    sn_key_cleanup(&got);
    assert_string_equal(sn_key_state_name(SN_KEY_DESTROYED), "destroyed");

    reopen(t);
    k1.state = SN_KEY_DESTROYED;
    k1.cert_pem = (char *)(uintptr_t)pem;
    assert_int_equal(sn_store_key_get(t->st, k1.id, &got), SN_OK);
    assert_key_equal(&got, &k1);
    sn_key_cleanup(&got);
    k1.cert_pem = NULL;
    /* Other keys kept their state and have no certificate. */
    assert_int_equal(sn_store_key_get(t->st, k2.id, &got), SN_OK);
    assert_key_equal(&got, &k2);
    sn_key_cleanup(&got);
    sn_key_cleanup(&k1);
    sn_key_cleanup(&k2);
    sn_key_cleanup(&k3);
}

/* The signing path's view: id, subscriber, alg and state, and nothing that
 * a cached copy could hold stale or that a caller would have to free. */
static void
assert_brief(struct sn_store *st, const struct sn_key *k,
             enum sn_key_state state)
{
    struct sn_key got;

    assert_int_equal(sn_store_key_brief(st, k->id, &got), SN_OK);
    assert_string_equal(got.id, k->id);
    assert_string_equal(got.subscriber, k->subscriber);
    assert_int_equal(got.alg, k->alg);
    assert_int_equal(got.state, state);
    assert_string_equal(got.label, "");
    assert_null(got.spki);
    assert_null(got.cert_pem);
    assert_null(got.att_pem);
    sn_key_cleanup(&got);
}

static void
test_key_brief(void **state)
{
    static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n"
                              "-----END CERTIFICATE-----\n";
    struct tmp *t = *state;
    struct sn_key k, got;
    char sub[SN_UUID_LEN], longid[100];

    assert_int_equal(sn_uuid(sub), SN_OK);
    make_key(&k, sub, "ci", SN_KEY_P256, 100, 91);
    assert_int_equal(sn_store_key_add(t->st, &k), SN_OK);
    assert_int_equal(sn_store_key_set_cert(t->st, k.id, pem), SN_OK);
    /* First from the database, then from memory: the same view. */
    assert_brief(t->st, &k, SN_KEY_ENABLED);
    assert_brief(t->st, &k, SN_KEY_ENABLED);
    /* A state change reaches the remembered copy at once. */
    assert_int_equal(sn_store_key_transition(t->st, k.id,
                                             SN_KEY_FROM(SN_KEY_ENABLED),
                                             SN_KEY_DISABLED),
                     SN_OK);
    assert_brief(t->st, &k, SN_KEY_DISABLED);
    /* The full row still has everything. */
    assert_int_equal(sn_store_key_get(t->st, k.id, &got), SN_OK);
    assert_int_equal(got.spki_len, k.spki_len);
    assert_memory_equal(got.spki, k.spki, k.spki_len);
    assert_string_equal(got.cert_pem, pem);
    sn_key_cleanup(&got);
    assert_int_equal(sn_store_key_brief(t->st, "nope", &got), SN_ERR_NOT_FOUND);
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(sn_store_key_brief(t->st, longid, &got), SN_ERR_NOT_FOUND);
    assert_string_equal(got.id, "");
    sn_key_cleanup(&k);
}

/* ---- audit ---- */

static void
make_audit(struct sn_audit *a, const char *sub, const char *key,
           const char *detail)
{
    memset(a, 0, sizeof(*a));
    a->time = 1700000000;
    snprintf(a->subscriber, sizeof(a->subscriber), "%s", sub);
    snprintf(a->key, sizeof(a->key), "%s", key);
    snprintf(a->token, sizeof(a->token), "tok-1");
    snprintf(a->client, sizeof(a->client), "192.0.2.7");
    snprintf(a->action, sizeof(a->action), "sign");
    snprintf(a->digest_alg, sizeof(a->digest_alg), "sha256");
    memset(a->digest, 'a', 64);
    snprintf(a->scheme, sizeof(a->scheme), "pss");
    snprintf(a->result, sizeof(a->result), "ok");
    snprintf(a->detail, sizeof(a->detail), "%s", detail);
}

static void
assert_audit_equal(const struct sn_audit *a, const struct sn_audit *b)
{
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->time, b->time);
    assert_string_equal(a->subscriber, b->subscriber);
    assert_string_equal(a->key, b->key);
    assert_string_equal(a->token, b->token);
    assert_string_equal(a->client, b->client);
    assert_string_equal(a->action, b->action);
    assert_string_equal(a->digest_alg, b->digest_alg);
    assert_string_equal(a->digest, b->digest);
    assert_string_equal(a->scheme, b->scheme);
    assert_string_equal(a->result, b->result);
    assert_string_equal(a->detail, b->detail);
}

/* Number of audit records of sub (any key). */
static size_t
audit_count(struct sn_store *st, const char *sub)
{
    struct sn_audit *out = NULL;
    size_t n = 0;

    assert_int_equal(sn_store_audit_list(st, sub, "", 0, 1000, &out, &n),
                     SN_OK);
    free(out);
    return n;
}

static void
test_audit(void **state)
{
    struct tmp *t = *state;
    struct sn_audit a[6], *out = (struct sn_audit *)t;
    size_t n = 99, i;

    make_audit(&a[0], "s1", "k1", "first");
    make_audit(&a[1], "s1", "k2", "second");
    make_audit(&a[2], "s2", "k3", "third");
    make_audit(&a[3], "s1", "k1", "fourth");
    make_audit(&a[4], "s1", "", "no key");
    make_audit(&a[5], "s1", "k1", "sixth");
    for (i = 0; i < 6; i++) {
        a[i].time += (time_t)i;
        assert_int_equal(sn_store_audit_add(t->st, &a[i]), SN_OK);
        if (i > 0)
            assert_true(a[i].id > a[i - 1].id);
    }

    assert_int_equal(sn_store_audit_list(t->st, "s1", NULL, 0, 100, &out, &n),
                     SN_OK);
    assert_int_equal(n, 5);
    assert_audit_equal(&out[0], &a[0]);
    assert_audit_equal(&out[1], &a[1]);
    assert_audit_equal(&out[2], &a[3]);
    assert_audit_equal(&out[3], &a[4]);
    assert_audit_equal(&out[4], &a[5]);
    free(out);

    assert_int_equal(sn_store_audit_list(t->st, "s1", "k1", 0, 100, &out, &n),
                     SN_OK);
    assert_int_equal(n, 3);
    assert_audit_equal(&out[0], &a[0]);
    assert_audit_equal(&out[1], &a[3]);
    assert_audit_equal(&out[2], &a[5]);
    free(out);

    /* Another subscriber's key is not reachable through s1. */
    assert_int_equal(sn_store_audit_list(t->st, "s1", "k3", 0, 100, &out, &n),
                     SN_OK);
    assert_int_equal(n, 0);
    free(out);
    assert_int_equal(sn_store_audit_list(t->st, "s2", "", 0, 100, &out, &n),
                     SN_OK);
    assert_int_equal(n, 1);
    assert_audit_equal(&out[0], &a[2]);
    free(out);

    /* Paging: after and limit. */
    assert_int_equal(sn_store_audit_list(t->st, "s1", "", a[1].id, 2, &out, &n),
                     SN_OK);
    assert_int_equal(n, 2);
    assert_audit_equal(&out[0], &a[3]);
    assert_audit_equal(&out[1], &a[4]);
    free(out);
    assert_int_equal(sn_store_audit_list(t->st, "s1", "", a[4].id, 2, &out, &n),
                     SN_OK);
    assert_int_equal(n, 1);
    assert_audit_equal(&out[0], &a[5]);
    free(out);
    assert_int_equal(sn_store_audit_list(t->st, "s1", "", a[5].id, 2, &out, &n),
                     SN_OK);
    assert_int_equal(n, 0);
    free(out);
    assert_int_equal(sn_store_audit_list(t->st, "s1", "k1", 0, 1, &out, &n),
                     SN_OK);
    assert_int_equal(n, 1);
    assert_audit_equal(&out[0], &a[0]);
    free(out);

    /* Limits. */
    out = (struct sn_audit *)t;
    n = 99;
    assert_int_equal(sn_store_audit_list(t->st, "s1", "", 0, 0, &out, &n),
                     SN_ERR_INVALID);
    assert_null(out);
    assert_int_equal(n, 0);
    assert_int_equal(sn_store_audit_list(t->st, "s1", "", 0, 1001, &out, &n),
                     SN_ERR_INVALID);
    assert_null(out);
    assert_int_equal(sn_store_audit_list(t->st, "s1", "", 0, 1000, &out, &n),
                     SN_OK);
    assert_int_equal(n, 5);
    free(out);

    reopen(t);
    assert_int_equal(sn_store_audit_list(t->st, "s1", "", 0, 100, &out, &n),
                     SN_OK);
    assert_int_equal(n, 5);
    assert_audit_equal(&out[4], &a[5]);
    free(out);
}

/* issue 15: newest first, paged back with before; both bounds at once. */
static void
test_audit_newest(void **state)
{
    struct tmp *t = *state;
    struct sn_audit a[4], *out = NULL;
    struct sn_audit_page pg = {.newest_first = 1, .limit = 2};
    size_t n = 0, i;

    for (i = 0; i < 4; i++) {
        make_audit(&a[i], "s1", i == 2 ? "k2" : "k1", "r");
        assert_int_equal(sn_store_audit_add(t->st, &a[i]), SN_OK);
    }
    assert_int_equal(sn_store_audit_page(t->st, "s1", "", &pg, &out, &n),
                     SN_OK);
    assert_int_equal(n, 2);
    assert_audit_equal(&out[0], &a[3]);
    assert_audit_equal(&out[1], &a[2]);
    free(out);
    pg.before = a[2].id;
    assert_int_equal(sn_store_audit_page(t->st, "s1", "", &pg, &out, &n),
                     SN_OK);
    assert_int_equal(n, 2);
    assert_audit_equal(&out[0], &a[1]);
    assert_audit_equal(&out[1], &a[0]);
    free(out);
    pg.before = a[0].id;
    assert_int_equal(sn_store_audit_page(t->st, "s1", "", &pg, &out, &n),
                     SN_OK);
    assert_int_equal(n, 0);
    free(out);
    /* A key, and a window (after, before), oldest first. */
    pg.before = 0;
    assert_int_equal(sn_store_audit_page(t->st, "s1", "k1", &pg, &out, &n),
                     SN_OK);
    assert_int_equal(n, 2);
    assert_audit_equal(&out[0], &a[3]);
    assert_audit_equal(&out[1], &a[1]);
    free(out);
    pg.newest_first = 0;
    pg.after = a[0].id;
    pg.before = a[3].id;
    pg.limit = 10;
    assert_int_equal(sn_store_audit_page(t->st, "s1", "", &pg, &out, &n),
                     SN_OK);
    assert_int_equal(n, 2);
    assert_audit_equal(&out[0], &a[1]);
    assert_audit_equal(&out[1], &a[2]);
    free(out);
}

static void
test_audit_many(void **state)
{
    struct tmp *t = *state;
    struct sn_audit a[3], b[4], one, *out = NULL;
    size_t n = 0, i;

    for (i = 0; i < 3; i++)
        make_audit(&a[i], "s1", "k1", "batch one");
    assert_int_equal(sn_store_audit_add_many(t->st, a, 3), SN_OK);
    assert_true(a[0].id > 0);
    assert_true(a[1].id > a[0].id);
    assert_true(a[2].id > a[1].id);
    assert_int_equal(audit_count(t->st, "s1"), 3);

    /* An insert that fails part-way through writes none of the batch. */
    exec_other2(t, BOOM_SQLITE, BOOM_PG);
    for (i = 0; i < 4; i++)
        make_audit(&b[i], "s1", "k2", i == 2 ? "boom" : "batch two");
    assert_int_not_equal(sn_store_audit_add_many(t->st, b, 4), SN_OK);
    assert_int_equal(audit_count(t->st, "s1"), 3);
    /* The first record of a batch failing is the same. */
    make_audit(&b[0], "s1", "k2", "boom");
    assert_int_not_equal(sn_store_audit_add_many(t->st, b, 4), SN_OK);
    assert_int_equal(audit_count(t->st, "s1"), 3);
    /* A batch of one, and a single append. */
    make_audit(&one, "s1", "k2", "boom");
    assert_int_not_equal(sn_store_audit_add_many(t->st, &one, 1), SN_OK);
    assert_int_not_equal(sn_store_audit_add(t->st, &one), SN_OK);
    assert_int_equal(audit_count(t->st, "s1"), 3);

    /* No transaction was left open: later writes commit and persist. */
    for (i = 0; i < 4; i++)
        make_audit(&b[i], "s1", "k3", "batch three");
    assert_int_equal(sn_store_audit_add_many(t->st, b, 4), SN_OK);
    assert_true(b[0].id > a[2].id);
    reopen(t);
    assert_int_equal(audit_count(t->st, "s1"), 7);
    assert_int_equal(sn_store_audit_list(t->st, "s1", "k3", 0, 10, &out, &n),
                     SN_OK);
    assert_int_equal(n, 4);
    for (i = 0; i < 4; i++)
        assert_audit_equal(&out[i], &b[i]);
    free(out);
    assert_int_equal(sn_store_audit_list(t->st, "s1", "k2", 0, 10, &out, &n),
                     SN_OK);
    assert_int_equal(n, 0);
    free(out);
}

/* ---- sn_store_audit_submit: commit without a waiting thread ---- */

struct done_rec {
    pthread_mutex_t m;
    pthread_cond_t c;
    int calls;
    sn_err result;
};

/* A callback record not yet called, holding result until it is. */
#define DONE_REC(result)                                                       \
    {                                                                          \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, (result)       \
    }

static void
on_done(void *arg, sn_err result)
{
    struct done_rec *d = arg;

    pthread_mutex_lock(&d->m);
    d->calls++;
    d->result = result;
    pthread_cond_signal(&d->c);
    pthread_mutex_unlock(&d->m);
}

/* Waits up to 10 s for the callback; returns how many times it ran. */
static int
wait_done(struct done_rec *d)
{
    struct timespec dl;
    int calls;

    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    pthread_mutex_lock(&d->m);
    while (d->calls == 0 && pthread_cond_timedwait(&d->c, &d->m, &dl) == 0)
        ;
    calls = d->calls;
    pthread_mutex_unlock(&d->m);
    return calls;
}

static void
test_audit_submit(void **state)
{
    struct tmp *t = *state;
    struct done_rec d = DONE_REC(SN_ERR_INTERNAL);
    struct done_rec bad = DONE_REC(SN_OK);
    struct sn_audit a[2], b[2], *out = NULL;
    size_t n = 0;

    make_audit(&a[0], "s9", "k1", "async one");
    make_audit(&a[1], "s9", "k1", "async two");
    assert_int_equal(sn_store_audit_submit(t->st, a, 2, 0, on_done, &d), SN_OK);
    assert_int_equal(wait_done(&d), 1);
    assert_int_equal(d.result, SN_OK);
    assert_true(a[0].id > 0 && a[1].id > a[0].id);
    /* Durable: read back through a new connection. */
    reopen(t);
    assert_int_equal(sn_store_audit_list(t->st, "s9", "k1", 0, 10, &out, &n),
                     SN_OK);
    assert_int_equal(n, 2);
    assert_audit_equal(&out[0], &a[0]);
    assert_audit_equal(&out[1], &a[1]);
    free(out);

    /* A failing insert reports failure and writes none of the job. */
    exec_other2(t, BOOM_SQLITE, BOOM_PG);
    make_audit(&b[0], "s9", "k2", "fine");
    make_audit(&b[1], "s9", "k2", "boom");
    assert_int_equal(sn_store_audit_submit(t->st, b, 2, 0, on_done, &bad),
                     SN_OK);
    assert_int_equal(wait_done(&bad), 1);
    assert_int_not_equal(bad.result, SN_OK);
    assert_int_equal(audit_count(t->st, "s9"), 2);
    /* Bad arguments: refused, and no callback. */
    assert_int_equal(sn_store_audit_submit(t->st, b, 0, 0, on_done, &bad),
                     SN_ERR_INVALID);
    assert_int_equal(bad.calls, 1);
}

/* ---- time-stamp token records ---- */

static int
tsa_rows(struct tmp *t, const char *serial)
{
    char sql[160];

    /* serials here are the tests' own digits */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM tsa_tokens WHERE serial = '%s'"
             " AND policy = '2.23.140.1.4.2'",
             serial);
    return (int)query_int(t, sql);
}

static void
make_tsa(struct sn_tsa_record *r, const char *serial)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->serial, sizeof(r->serial), "%s", serial);
    snprintf(r->gen_time, sizeof(r->gen_time), "20261122100000.123Z");
    snprintf(r->hash, sizeof(r->hash), "sha256");
    memset(r->imprint, 'a', 64);
    snprintf(r->policy, sizeof(r->policy), "2.23.140.1.4.2");
}

/* Every announcement settled (the store's insides, read under its lock). */
static int
settled_all(struct sn_store *st)
{
    int all;

    pthread_mutex_lock(&st->qlock);
    all = st->settled == st->announced;
    pthread_mutex_unlock(&st->qlock);
    return all;
}

static void
test_tsa_records(void **state)
{
    struct tmp *t = *state;
    struct done_rec d = DONE_REC(SN_ERR_INTERNAL);
    struct done_rec dup = DONE_REC(SN_OK);
    struct sn_tsa_record a, b;

    make_tsa(&a, "01AB");
    assert_int_equal(sn_store_tsa_add(t->st, &a), SN_OK);
    assert_int_equal(tsa_rows(t, "01AB"), 1);
    /* A serial is recorded once. */
    assert_int_not_equal(sn_store_tsa_add(t->st, &a), SN_OK);
    /* Without a waiting thread: durable when the callback runs. */
    make_tsa(&b, "02CD");
    assert_int_equal(sn_store_tsa_submit(t->st, &b, 0, on_done, &d), SN_OK);
    assert_int_equal(wait_done(&d), 1);
    assert_int_equal(d.result, SN_OK);
    assert_int_equal(tsa_rows(t, "02CD"), 1);
    assert_int_equal(sn_store_tsa_submit(t->st, &b, 0, on_done, &dup), SN_OK);
    assert_int_equal(wait_done(&dup), 1);
    assert_int_not_equal(dup.result, SN_OK);
    assert_int_equal(tsa_rows(t, "02CD"), 1);
    /* No record: refused, no callback, and an announcement it was to
     * settle is settled all the same (the group commit would otherwise
     * wait for it before every batch). */
    sn_store_audit_announce(t->st);
    assert_int_equal(sn_store_tsa_submit(t->st, NULL, 1, on_done, &dup),
                     SN_ERR_INVALID);
    assert_int_equal(dup.calls, 1);
    assert_true(settled_all(t->st));
}

static double
mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Announced records: the group commit waits for them, but only briefly;
 * a withdrawn or submitted announcement ends the wait.
 */
static void
test_audit_announce(void **state)
{
    struct tmp *t = *state;
    struct done_rec d = DONE_REC(SN_ERR_INTERNAL);
    struct sn_audit a, b;
    double t0, el;

    /* An announcement never settled delays a commit by at most the
     * writer's bound (1 ms), never indefinitely. */
    sn_store_audit_announce(t->st);
    make_audit(&a, "s8", "k1", "while another is announced");
    t0 = mono();
    assert_int_equal(sn_store_audit_add(t->st, &a), SN_OK);
    el = mono() - t0;
    assert_true(el < 2.0);
    sn_store_audit_withdraw(t->st);

    /* An announcement settled by its own submission. */
    sn_store_audit_announce(t->st);
    make_audit(&b, "s8", "k1", "announced");
    assert_int_equal(sn_store_audit_submit(t->st, &b, 1, 1, on_done, &d),
                     SN_OK);
    assert_int_equal(wait_done(&d), 1);
    assert_int_equal(d.result, SN_OK);
    assert_int_equal(audit_count(t->st, "s8"), 2);

    /* Everything settled: a lone record is committed without a wait
     * (well under the bound, even on a slow disk a sync is not 1 s). */
    make_audit(&a, "s8", "k1", "alone");
    t0 = mono();
    assert_int_equal(sn_store_audit_add(t->st, &a), SN_OK);
    assert_true(mono() - t0 < 1.0);
    assert_int_equal(audit_count(t->st, "s8"), 3);
}

/*
 * Threads share one connection. The id each append reports must be the
 * id of its own record, not of one another thread wrote meanwhile.
 */
#define AUDIT_THREADS 4
#define AUDIT_PER_THREAD 40

struct appender {
    pthread_t th;
    struct sn_store *st;
    int n;
    int64_t ids[AUDIT_PER_THREAD];
    int failed;
};

static void *
appender_main(void *arg)
{
    struct appender *w = arg;
    struct sn_audit a;
    char detail[32];
    int i;

    for (i = 0; i < AUDIT_PER_THREAD; i++) {
        snprintf(detail, sizeof(detail), "t%d-%d", w->n, i);
        make_audit(&a, "conc", "k", detail);
        if (sn_store_audit_add(w->st, &a) != SN_OK)
            w->failed++;
        w->ids[i] = a.id;
    }
    return NULL;
}

static void
test_audit_concurrent_ids(void **state)
{
    struct tmp *t = *state;
    struct appender w[AUDIT_THREADS];
    struct sn_audit *out = NULL;
    char want[32];
    size_t n = 0, j;
    int i, k, found, wrong = 0;

    memset(w, 0, sizeof(w));
    for (i = 0; i < AUDIT_THREADS; i++) {
        w[i].st = t->st;
        w[i].n = i;
        assert_int_equal(pthread_create(&w[i].th, NULL, appender_main, &w[i]),
                         0);
    }
    for (i = 0; i < AUDIT_THREADS; i++) {
        assert_int_equal(pthread_join(w[i].th, NULL), 0);
        assert_int_equal(w[i].failed, 0);
    }
    assert_int_equal(sn_store_audit_list(t->st, "conc", "", 0, 1000, &out, &n),
                     SN_OK);
    assert_int_equal(n, AUDIT_THREADS * AUDIT_PER_THREAD);
    for (i = 0; i < AUDIT_THREADS; i++) {
        for (k = 0; k < AUDIT_PER_THREAD; k++) {
            snprintf(want, sizeof(want), "t%d-%d", i, k);
            found = 0;
            for (j = 0; j < n; j++) {
                if (out[j].id == w[i].ids[k]) {
                    found = 1;
                    if (strcmp(out[j].detail, want) != 0) {
                        if (wrong++ < 5)
                            print_message("id %lld is '%s', reported for "
                                          "'%s'\n",
                                          (long long)out[j].id, out[j].detail,
                                          want);
                    }
                }
            }
            assert_int_equal(found, 1);
        }
    }
    free(out);
    assert_int_equal(wrong, 0);
}

static void
cert_put(struct tmp *t, const char *serial, const char *key, const char *spki)
{
    static uint8_t der[] = "DER";
    struct sn_cert c;

    memset(&c, 0, sizeof(c));
    snprintf(c.serial, sizeof(c.serial), "%s", serial);
    snprintf(c.ca, sizeof(c.ca), "codesigning");
    snprintf(c.subscriber, sizeof(c.subscriber), "sub");
    snprintf(c.key, sizeof(c.key), "%s", key);
    snprintf(c.profile, sizeof(c.profile), "code-signing");
    c.der = der;
    c.der_len = sizeof(der);
    c.not_before = 10;
    c.not_after = 10000;
    c.issued_at = 10;
    assert_int_equal(sn_store_cert_add(t->st, &c), SN_OK);
    if (spki != NULL)
        assert_int_equal(sn_store_cert_set_spki(t->st, serial,
                                                (const uint8_t *)spki,
                                                strlen(spki)),
                         SN_OK);
}

static void
cert_expect(struct tmp *t, const char *serial, int revoked, time_t date,
            int reason, time_t revoked_at)
{
    struct sn_cert c;

    assert_int_equal(sn_store_cert_get(t->st, NULL, serial, &c), SN_OK);
    assert_int_equal(c.revoked, revoked);
    assert_int_equal(c.revocation_date, date);
    assert_int_equal(c.reason, reason);
    assert_int_equal(c.revoked_at, revoked_at);
    sn_cert_cleanup(&c);
}

/* Key compromise revokes by public key, whatever the key record, and
 * never moves an earlier revocation of another reason later. */
/* A token PIN as sealed: kept, replaced, read back; none for another. */
static void
test_pins(void **state)
{
    struct tmp *t = *state;
    const uint8_t a[] = {1, 2, 0, 4}, b[] = {9, 8, 7};
    uint8_t *got = NULL;
    size_t n = 0;

    assert_int_equal(sn_store_pin_get(t->st, "sub-1", &got, &n),
                     SN_ERR_NOT_FOUND);
    assert_null(got);
    assert_int_equal(sn_store_pin_put(t->st, "sub-1", a, sizeof(a)), SN_OK);
    assert_int_equal(sn_store_pin_get(t->st, "sub-1", &got, &n), SN_OK);
    assert_int_equal(n, sizeof(a));
    assert_memory_equal(got, a, sizeof(a));
    free(got);
    assert_int_equal(sn_store_pin_put(t->st, "sub-1", b, sizeof(b)), SN_OK);
    reopen(t);
    assert_int_equal(sn_store_pin_get(t->st, "sub-1", &got, &n), SN_OK);
    assert_int_equal(n, sizeof(b));
    assert_memory_equal(got, b, sizeof(b));
    free(got);
    assert_int_equal(sn_store_pin_get(t->st, "sub-2", &got, &n),
                     SN_ERR_NOT_FOUND);
}

static void
test_cert_compromise(void **state)
{
    struct tmp *t = *state;
    const uint8_t *x = (const uint8_t *)"SPKI-X";
    struct sn_cert *l = NULL;
    struct sn_key kr;
    size_t n = 0;

    cert_put(t, "A1", "k1", NULL);
    cert_put(t, "A2", "k2", NULL); /* another record, the same key */
    cert_put(t, "B", "kb", NULL);
    cert_put(t, "C", "k1", NULL);
    cert_put(t, "D", "k1", NULL);
    assert_int_equal(sn_store_cert_unindexed(t->st, "", 3, &l, &n), SN_OK);
    assert_int_equal(n, 3);
    assert_string_equal(l[2].serial, "B");
    sn_cert_list_free(l, n);
    assert_int_equal(sn_store_cert_unindexed(t->st, "B", 3, &l, &n), SN_OK);
    assert_int_equal(n, 2);
    assert_string_equal(l[0].serial, "C");
    sn_cert_list_free(l, n);
    assert_int_equal(sn_store_cert_set_spki(t->st, "A1", x, 6), SN_OK);
    assert_int_equal(sn_store_cert_set_spki(t->st, "A2", x, 6), SN_OK);
    assert_int_equal(
        sn_store_cert_set_spki(t->st, "B", (const uint8_t *)"SPKI-Y", 6),
        SN_OK);
    assert_int_equal(sn_store_cert_set_spki(t->st, "C", x, 6), SN_OK);
    assert_int_equal(sn_store_cert_set_spki(t->st, "D", x, 6), SN_OK);
    /* A recorded key is never replaced. */
    assert_int_equal(
        sn_store_cert_set_spki(t->st, "A1", (const uint8_t *)"SPKI-Y", 6),
        SN_OK);
    assert_int_equal(sn_store_cert_unindexed(t->st, "", 10, &l, &n), SN_OK);
    assert_int_equal(n, 0);
    sn_cert_list_free(l, n);
    assert_int_equal(sn_store_cert_by_spki(t->st, x, 6, &l, &n), SN_OK);
    assert_int_equal(n, 4);
    assert_string_equal(l[0].serial, "A1");
    assert_string_equal(l[1].serial, "A2");
    assert_string_equal(l[2].serial, "C");
    assert_string_equal(l[3].serial, "D");
    sn_cert_list_free(l, n);

    /* C superseded before the compromise date, D after it. */
    assert_int_equal(sn_store_cert_revoke(t->st, "C", 50, 4, 50), SN_OK);
    assert_int_equal(sn_store_cert_revoke(t->st, "D", 500, 4, 500), SN_OK);
    assert_int_equal(sn_store_cert_revoke(t->st, "D", 600, 5, 600),
                     SN_ERR_STATE);
    /* A key record with the same public key and no certificate of its
     * own: compromised with the others. */
    make_key(&kr, "sub", "same key", SN_KEY_P256, 7, 6);
    memcpy(kr.spki, x, 6);
    assert_int_equal(sn_store_key_add(t->st, &kr), SN_OK);
    assert_int_equal(sn_store_key_transition(t->st, kr.id,
                                             SN_KEY_FROM(SN_KEY_ENABLED),
                                             SN_KEY_DISABLED),
                     SN_OK);
    assert_int_equal(sn_store_key_compromised(t->st, kr.id), 0);
    assert_int_equal(sn_store_key_compromised(t->st, "k2"), 0);
    assert_int_equal(sn_store_cert_compromise(t->st, x, 6, 100, 1000), SN_OK);
    assert_int_equal(sn_store_key_compromised(t->st, kr.id), 1);
    assert_int_equal(sn_store_key_transition(t->st, kr.id,
                                             SN_KEY_FROM(SN_KEY_DISABLED),
                                             SN_KEY_ENABLED),
                     SN_ERR_STATE);
    sn_key_cleanup(&kr);
    cert_expect(t, "A1", 1, 100, 1, 1000);
    cert_expect(t, "A2", 1, 100, 1, 1000);
    cert_expect(t, "C", 1, 50, 4, 50); /* earlier: kept as it is */
    cert_expect(t, "D", 1, 100, 1, 500);
    cert_expect(t, "B", 0, 0, 0, 0);
    assert_int_equal(sn_store_key_compromised(t->st, "k2"), 1);
    assert_int_equal(sn_store_key_compromised(t->st, "kb"), 0);
    /* The key's date moved: every certificate of the key moves. */
    assert_int_equal(sn_store_cert_compromise(t->st, x, 6, 80, 2000), SN_OK);
    cert_expect(t, "A1", 1, 80, 1, 1000);
    cert_expect(t, "C", 1, 50, 4, 50);
    cert_expect(t, "D", 1, 80, 1, 500);
    /* A non-keyCompromise revocation never overwrites one. */
    assert_int_equal(sn_store_cert_revoke(t->st, "A1", 3000, 4, 3000),
                     SN_ERR_STATE);
    cert_expect(t, "A1", 1, 80, 1, 1000);
    assert_int_equal(
        sn_store_cert_compromise(t->st, (const uint8_t *)"Z", 1, 100, 1000),
        SN_ERR_NOT_FOUND);
    cert_expect(t, "B", 0, 0, 0, 0);
}

/* ---- schema versions ---- */

#define SCHEMA_LATEST 15

static int
user_version(struct tmp *t)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int v;

    assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
    return v;
}

/* A fresh database is created at the latest version; opening it again
 * changes nothing. */
static void
test_schema_fresh(void **state)
{
    struct tmp *t = *state;
    struct sn_subscriber s, got;

    SQLITE_ONLY();

    assert_int_equal(user_version(t), SCHEMA_LATEST);
    make_sub(&s, "alice", 1000);
    assert_int_equal(sn_store_subscriber_add(t->st, &s), SN_OK);
    reopen(t);
    reopen(t);
    assert_int_equal(user_version(t), SCHEMA_LATEST);
    assert_int_equal(sn_store_subscriber_get(t->st, s.id, &got), SN_OK);
    assert_sub_equal(&s, &got);
}

/* The first release's tables, keys.attestation_pem added by an old ALTER. */
#define LEGACY_TABLES                                                          \
    "CREATE TABLE subscribers (id TEXT PRIMARY KEY, name TEXT NOT NULL"        \
    " UNIQUE, token_label TEXT NOT NULL, created_at INTEGER NOT NULL);"        \
    "CREATE TABLE keys (id TEXT PRIMARY KEY, subscriber_id TEXT NOT NULL,"     \
    " label TEXT NOT NULL, algorithm INTEGER NOT NULL, state INTEGER NOT"      \
    " NULL, created_at INTEGER NOT NULL, spki BLOB NOT NULL, facts"            \
    " INTEGER NOT NULL, hsm_manufacturer TEXT NOT NULL, hsm_model TEXT"        \
    " NOT NULL, hsm_serial TEXT NOT NULL, hsm_label TEXT NOT NULL,"            \
    " cert_pem TEXT);"                                                         \
    "ALTER TABLE keys ADD COLUMN attestation_pem TEXT;"                        \
    "CREATE TABLE certificates (serial TEXT PRIMARY KEY, ca TEXT NOT"          \
    " NULL, subscriber_id TEXT NOT NULL, key_id TEXT NOT NULL, profile"        \
    " TEXT NOT NULL, der BLOB NOT NULL, not_before INTEGER NOT NULL,"          \
    " not_after INTEGER NOT NULL, issued_at INTEGER NOT NULL, revoked"         \
    " INTEGER NOT NULL DEFAULT 0, revocation_date INTEGER NOT NULL"            \
    " DEFAULT 0, reason INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER"        \
    " NOT NULL DEFAULT 0);"

/*
 * A database written before versioning: the first release's tables, of
 * which one later column (keys.attestation_pem) had been added by an old
 * ALTER and two (subscribers.identity, certificates.spki) had not. It
 * opens, keeps its rows and gains the missing columns.
 */
static void
test_schema_legacy(void **state)
{
    struct tmp *t = *state;
    struct sn_subscriber got;
    struct sn_cert *certs = NULL;
    size_t n = 0;
    char *json = NULL;

    SQLITE_ONLY();

    sn_store_close(t->st);
    t->st = NULL;
    tmp_paths_unlink(t);
    exec_other(t, LEGACY_TABLES
               "INSERT INTO subscribers VALUES "
               "('00000000-0000-4000-8000-000000000001',"
               " 'old', 'tok-old', 1234);"
               "INSERT INTO certificates (serial, ca, subscriber_id, key_id,"
               " profile, der, not_before, not_after, issued_at) VALUES ('0A',"
               " 'codesigning', 's', 'k', 'p', x'3000', 1, 2, 3);");
    assert_int_equal(user_version(t), 0);
    assert_int_equal(sn_store_open(t->db, &t->st), SN_OK);
    assert_int_equal(user_version(t), SCHEMA_LATEST);
    assert_int_equal(sn_store_subscriber_get(
                         t->st, "00000000-0000-4000-8000-000000000001", &got),
                     SN_OK);
    assert_string_equal(got.name, "old");
    assert_int_equal(got.created_at, 1234);
    /* The added columns work: identity, spki. */
    assert_int_equal(
        sn_store_identity_set(t->st, "00000000-0000-4000-8000-000000000001",
                              "{\"cn\":\"old\"}"),
        SN_OK);
    assert_int_equal(sn_store_cert_unindexed(t->st, "", 10, &certs, &n), SN_OK);
    assert_int_equal(n, 1);
    assert_string_equal(certs[0].serial, "0A");
    sn_cert_list_free(certs, n);
    assert_int_equal(
        sn_store_cert_set_spki(t->st, "0A", (const uint8_t *)"K", 1), SN_OK);
    reopen(t);
    assert_int_equal(user_version(t), SCHEMA_LATEST);
    assert_int_equal(sn_store_identity_get(
                         t->st, "00000000-0000-4000-8000-000000000001", &json),
                     SN_OK);
    assert_string_equal(json, "{\"cn\":\"old\"}");
    free(json);
    assert_int_equal(
        sn_store_cert_by_spki(t->st, (const uint8_t *)"K", 1, &certs, &n),
        SN_OK);
    assert_int_equal(n, 1);
    sn_cert_list_free(certs, n);
}

/* "sqlite:FILE" names the same database as FILE; a backend this build
 * does not have is refused, not taken for a file name. */
static void
test_open_prefix(void **state)
{
    struct tmp *t = *state;
    struct sn_subscriber s, got;
    struct sn_store *st = NULL;
    char path[300];

    SQLITE_ONLY();

    make_sub(&s, "bob", 2000);
    assert_int_equal(sn_store_subscriber_add(t->st, &s), SN_OK);
    sn_store_close(t->st);
    t->st = NULL;
    snprintf(path, sizeof(path), "sqlite:%s", t->db);
    assert_int_equal(sn_store_open(path, &t->st), SN_OK);
    assert_int_equal(sn_store_subscriber_get(t->st, s.id, &got), SN_OK);
    assert_sub_equal(&s, &got);
    /* "postgres:" names a PostgreSQL server (here a bad one), never a
     * SQLite file of that name */
    snprintf(path, sizeof(path), "postgres:%s", t->db);
    assert_int_not_equal(sn_store_open(path, &st), SN_OK);
    assert_null(st);
}

/* A database from a newer Signet is refused, and left as it is. */
/* An old database whose certificates.spki came from an old ALTER without
 * its index: the column is kept, the index is made. */
static void
test_schema_legacy_index(void **state)
{
    struct tmp *t = *state;
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;

    SQLITE_ONLY();

    sn_store_close(t->st);
    t->st = NULL;
    tmp_paths_unlink(t);
    exec_other(t,
               LEGACY_TABLES "ALTER TABLE certificates ADD COLUMN spki BLOB;");
    assert_int_equal(sn_store_open(t->db, &t->st), SN_OK);
    assert_int_equal(user_version(t), SCHEMA_LATEST);
    assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM sqlite_master WHERE"
                           " type = 'index' AND name = 'certs_by_spki'",
                           -1, &s, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void
test_schema_too_new(void **state)
{
    struct tmp *t = *state;
    struct sn_store *st = NULL;

    SQLITE_ONLY();

    sn_store_close(t->st);
    t->st = NULL;
    exec_other(t, "PRAGMA user_version = 99");
    assert_int_equal(sn_store_open(t->db, &st), SN_ERR_STATE);
    assert_null(st);
    assert_int_equal(user_version(t), 99);
    exec_other(t, "PRAGMA user_version = 13");
    assert_int_equal(sn_store_open(t->db, &t->st), SN_OK);
}

/* issue 14: what the quotas count. Keys not destroyed, of the subscriber
 * only; certificates of the subscriber issued at or after since. */
/* issue 16: signing policies are kept per target, replaced, deleted
 * once; the quota's seed counts a key's "ok" sign and sign_file records
 * since a time, and nothing else; the audit record keeps its policy
 * decision and principal. */
static void
test_signing_policy(void **state)
{
    struct tmp *t = *state;
    struct sn_audit a[5], *got = NULL;
    char *json = NULL;
    uint64_t n = 99;
    size_t cnt = 0;

    assert_int_equal(sn_store_policy_get(t->st, "key-1", &json),
                     SN_ERR_NOT_FOUND);
    assert_null(json);
    assert_int_equal(sn_store_policy_set(t->st, "key-1", "sub", "{\"a\":1}"),
                     SN_OK);
    assert_int_equal(sn_store_policy_set(t->st, "key-1", "sub", "{\"b\":2}"),
                     SN_OK);
    assert_int_equal(sn_store_policy_get(t->st, "key-1", &json), SN_OK);
    assert_string_equal(json, "{\"b\":2}");
    free(json);
    assert_int_equal(sn_store_policy_delete(t->st, "key-1"), SN_OK);
    assert_int_equal(sn_store_policy_delete(t->st, "key-1"), SN_ERR_NOT_FOUND);

    make_audit(&a[0], "sub", "key-1", "one");
    make_audit(&a[1], "sub", "key-1", "two");
    a[1].time = 1700000100;
    make_audit(&a[2], "sub", "key-1", "failed");
    snprintf(a[2].result, sizeof(a[2].result), "error");
    make_audit(&a[3], "sub", "key-2", "other key");
    make_audit(&a[4], "sub", "key-1", "file");
    snprintf(a[4].action, sizeof(a[4].action), "sign_file");
    snprintf(a[4].policy, sizeof(a[4].policy), "allow key");
    snprintf(a[4].principal, sizeof(a[4].principal), "iss=x sub=y");
    assert_int_equal(sn_store_audit_add_many(t->st, a, 5), SN_OK);
    assert_int_equal(sn_store_sign_count(t->st, "key-1", 0, &n), SN_OK);
    assert_int_equal(n, 3);
    assert_int_equal(sn_store_sign_count(t->st, "key-1", 1700000050, &n),
                     SN_OK);
    assert_int_equal(n, 1);
    assert_int_equal(
        sn_store_audit_list(t->st, "sub", "key-1", 0, 10, &got, &cnt), SN_OK);
    assert_int_equal(cnt, 4);
    assert_string_equal(got[3].policy, "allow key");
    assert_string_equal(got[3].principal, "iss=x sub=y");
    assert_string_equal(got[0].policy, "");
    free(got);
}

static void
test_usage(void **state)
{
    static uint8_t der[] = "DER";
    struct tmp *t = *state;
    struct sn_key k[3];
    struct sn_cert c;
    struct sn_usage u;
    size_t i;

    make_key(&k[0], "sub", "a", SN_KEY_P256, 100, 91);
    make_key(&k[1], "sub", "b", SN_KEY_P256, 101, 91);
    make_key(&k[2], "other", "c", SN_KEY_P256, 102, 91);
    for (i = 0; i < 3; i++)
        assert_int_equal(sn_store_key_add(t->st, &k[i]), SN_OK);
    assert_int_equal(sn_store_usage(t->st, "sub", 0, &u), SN_OK);
    assert_int_equal(u.keys, 2);
    assert_int_equal(u.certs_since, 0);
    assert_int_equal(sn_store_key_transition(t->st, k[1].id,
                                             SN_KEY_FROM(SN_KEY_ENABLED),
                                             SN_KEY_DESTROYED),
                     SN_OK);
    assert_int_equal(sn_store_usage(t->st, "sub", 0, &u), SN_OK);
    assert_int_equal(u.keys, 1);
    for (i = 0; i < 3; i++) {
        memset(&c, 0, sizeof(c));
        snprintf(c.serial, sizeof(c.serial), "0%zu", i);
        snprintf(c.ca, sizeof(c.ca), "codesigning");
        snprintf(c.subscriber, sizeof(c.subscriber), "%s",
                 i == 2 ? "other" : "sub");
        memcpy(c.key, k[i].id, sizeof(c.key));
        snprintf(c.profile, sizeof(c.profile), "code-signing");
        c.der = der;
        c.der_len = sizeof(der);
        c.not_after = 10000;
        c.issued_at = 1000 + (time_t)i * 100;
        assert_int_equal(sn_store_cert_add(t->st, &c), SN_OK);
    }
    assert_int_equal(sn_store_usage(t->st, "sub", 1000, &u), SN_OK);
    assert_int_equal(u.certs_since, 2);
    assert_int_equal(sn_store_usage(t->st, "sub", 1001, &u), SN_OK);
    assert_int_equal(u.certs_since, 1);
    assert_int_equal(sn_store_usage(t->st, "nobody", 0, &u), SN_OK);
    assert_int_equal(u.keys, 0);
    assert_int_equal(u.certs_since, 0);
    for (i = 0; i < 3; i++)
        sn_key_cleanup(&k[i]);
}

/* ---- housekeeping: folded records, retention, the probe, free space ---- */

/* One int from a query on a second connection. */
static int64_t
query_int(struct tmp *t, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    PGconn *c;
    PGresult *res;

    if (pg_dir != NULL) {
        c = PQconnectdb(t->db);
        res = PQexec(c, sql);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
            !PQgetisnull(res, 0, 0))
            v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        PQfinish(c);
        return v;
    }
    assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/*
 * 300 refusals are one row; the list shows it at once (written before the
 * read); more of them update the same row; the counts left at close are
 * written.
 */
static void
test_audit_tally(void **state)
{
    struct tmp *t = *state;
    struct sn_audit a, *out = NULL;
    size_t n = 0;
    int64_t id;
    int i;

    make_audit(&a, "s1", "k1", "token revoked");
    snprintf(a.action, sizeof(a.action), "denied");
    a.time = time(NULL);
    for (i = 0; i < 300; i++)
        sn_store_audit_tally(t->st, &a);
    assert_int_equal(sn_store_audit_list(t->st, "s1", "", 0, 10, &out, &n),
                     SN_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].detail, "token revoked (x300)");
    assert_string_equal(out[0].action, "denied");
    id = out[0].id;
    free(out);
    for (i = 0; i < 5; i++)
        sn_store_audit_tally(t->st, &a);
    assert_int_equal(sn_store_audit_list(t->st, "s1", "", 0, 10, &out, &n),
                     SN_OK);
    /* The count moves on within the row, unless the minute turned. */
    if (n == 1) {
        assert_int_equal(out[0].id, id);
        assert_string_equal(out[0].detail, "token revoked (x305)");
    } else
        assert_int_equal(n, 2);
    free(out);
    make_audit(&a, "s2", "", "role missing");
    a.time = time(NULL);
    sn_store_audit_tally(t->st, &a);
    sn_store_audit_tally(t->st, &a);
    reopen(t);
    assert_int_equal(query_int(t, "SELECT count(*) FROM audit WHERE"
                                  " subscriber_id = 's2' AND detail ="
                                  " 'role missing (x2)'"),
                     1);
}

/* The writer flushes by itself within about a second, no reader needed. */
static void
test_audit_tally_timer(void **state)
{
    struct tmp *t = *state;
    struct sn_audit a;
    int i;

    make_audit(&a, "s3", "", "token expired");
    a.time = time(NULL);
    sn_store_audit_tally(t->st, &a);
    for (i = 0; i < 40; i++) {
        if (query_int(t, "SELECT count(*) FROM audit WHERE subscriber_id ="
                         " 's3'") == 1)
            break;
        usleep(100000);
    }
    assert_true(i < 40);
}

static void
tsa_put(struct tmp *t, const char *serial)
{
    struct sn_tsa_record r;

    make_tsa(&r, serial);
    assert_int_equal(sn_store_tsa_add(t->st, &r), SN_OK);
}

/* Old token records go in bounded steps into hourly counts that keep how
 * many and the serial range (by number: "10000" > "A00"). */
static void
test_tsa_compact(void **state)
{
    struct tmp *t = *state;
    time_t now = time(NULL);
    size_t removed = 99;

    tsa_put(t, "1FF");
    tsa_put(t, "A00");
    tsa_put(t, "10000");
    tsa_put(t, "200");
    tsa_put(t, "FFF");
    /* Nothing recorded before an hour ago. */
    assert_int_equal(sn_store_tsa_compact(t->st, now - 3600, 100, &removed),
                     SN_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(sn_store_tsa_compact(t->st, now + 10, 3, &removed), SN_OK);
    assert_int_equal(removed, 3);
    assert_int_equal(query_int(t, "SELECT count(*) FROM tsa_tokens"), 2);
    assert_int_equal(sn_store_tsa_compact(t->st, now + 10, 3, &removed), SN_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(sn_store_tsa_compact(t->st, now + 10, 3, &removed), SN_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(query_int(t, "SELECT count(*) FROM tsa_tokens"), 0);
    assert_int_equal(query_int(t, "SELECT sum(count) FROM tsa_token_counts"),
                     5);
    assert_int_equal(query_int(t, "SELECT count(*) FROM tsa_token_counts"
                                  " WHERE last_serial = '10000'"),
                     1);
    assert_int_equal(query_int(t, "SELECT count(*) FROM tsa_token_counts"
                                  " WHERE first_serial = '1FF'"),
                     1);
    assert_int_equal(query_int(t, "SELECT count(*) FROM tsa_token_counts"
                                  " WHERE hour % 3600 != 0"),
                     0);
    /* New tokens are recorded as before. */
    tsa_put(t, "10001");
    assert_int_equal(tsa_rows(t, "10001"), 1);
}

/* Records from before schema 6 (recorded_at 0) are dated by their genTime
 * in the compaction's bounded steps, not all at once by the migration:
 * an old one goes, a recent one stays. */
static void
test_tsa_compact_legacy(void **state)
{
    struct tmp *t = *state;
    time_t now = time(NULL);
    size_t removed = 99;

    tsa_put(t, "300");
    tsa_put(t, "301");
    exec_other(t, "UPDATE tsa_tokens SET recorded_at = 0,"
                  " gen_time = '20200101120000Z' WHERE serial = '300'");
    exec_other2(t,
                "UPDATE tsa_tokens SET recorded_at = 0,"
                " gen_time = strftime('%Y%m%d%H%M%SZ', 'now')"
                " WHERE serial = '301'",
                "UPDATE tsa_tokens SET recorded_at = 0,"
                " gen_time = to_char(now() AT TIME ZONE 'UTC',"
                " 'YYYYMMDDHH24MISS') || 'Z' WHERE serial = '301'");
    assert_int_equal(sn_store_tsa_compact(t->st, now - 86400, 100, &removed),
                     SN_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(tsa_rows(t, "300"), 0);
    assert_int_equal(tsa_rows(t, "301"), 1);
    assert_int_equal(query_int(t, "SELECT hour FROM tsa_token_counts"),
                     1577880000); /* 2020-01-01T12:00:00Z */
    assert_true(query_int(t, "SELECT recorded_at FROM tsa_tokens") >
                (int64_t)now - 60);
}

/* With a retention set, the writer compacts by itself (its first step
 * comes within a second of start): old records go, recent ones stay. */
static void
test_tsa_retention_timer(void **state)
{
    struct tmp *t = *state;
    struct sn_store_limits l = {0, 0, 90};
    int i;

    tsa_put(t, "100");
    tsa_put(t, "101");
    tsa_put(t, "102");
    exec_other(t, "UPDATE tsa_tokens SET recorded_at = recorded_at - 91 * 86400"
                  " WHERE serial != '102'");
    reopen(t); /* a fresh writer: its first step is due at once */
    sn_store_set_limits(t->st, &l);
    for (i = 0; i < 40; i++) {
        if (query_int(t, "SELECT count(*) FROM tsa_tokens") == 1)
            break;
        usleep(100000);
    }
    assert_int_equal(query_int(t, "SELECT count(*) FROM tsa_tokens"), 1);
    assert_int_equal(tsa_rows(t, "102"), 1);
    assert_int_equal(query_int(t, "SELECT sum(count) FROM tsa_token_counts"),
                     2);
}

/* The probe commits a row; a write that fails is reported (once the
 * second's cached answer has expired). */
static void
test_probe(void **state)
{
    struct tmp *t = *state;

    assert_int_equal(sn_store_probe(t->st), SN_OK);
    assert_int_equal(query_int(t, "SELECT value FROM counters"
                                  " WHERE name = 'write_probe'"),
                     1);
    exec_other2(t,
                "CREATE TRIGGER no_probe BEFORE UPDATE ON counters"
                " BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
                "CREATE FUNCTION no_probe() RETURNS trigger LANGUAGE plpgsql"
                " AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;"
                "CREATE TRIGGER no_probe BEFORE UPDATE ON counters FOR EACH"
                " ROW EXECUTE FUNCTION no_probe();");
    /* Cached for a second: the same answer, no write. */
    assert_int_equal(sn_store_probe(t->st), SN_OK);
    usleep(1100000);
    assert_int_equal(sn_store_probe(t->st), SN_ERR_DB);
    exec_other2(t, "DROP TRIGGER no_probe",
                "DROP TRIGGER no_probe ON counters; DROP FUNCTION no_probe();");
    usleep(1100000);
    assert_int_equal(sn_store_probe(t->st), SN_OK);
}

/* The watermark against the real free space of the test's directory. */
static void
test_space(void **state)
{
    struct tmp *t = *state;
    struct sn_store_limits l = {0, 0, 0};
    struct sn_tsa_record r;
    struct sn_subscriber sub;
    struct statvfs v;
    uint64_t avail;

    SQLITE_ONLY();

    assert_int_equal(statvfs(t->dir, &v), 0);
    avail = (uint64_t)v.f_bavail * v.f_frsize;
    assert_int_equal(sn_store_space(t->st), SN_SPACE_OK); /* no watermark */
    l.min_free = avail * 2; /* below it, above a quarter of it */
    sn_store_set_limits(t->st, &l);
    assert_int_equal(sn_store_space(t->st), SN_SPACE_LOW);
    tsa_put(t, "AB"); /* low refuses nothing in the store: callers decide */
    l.min_free = avail * 8; /* avail < min_free / 4: the hard floor */
    sn_store_set_limits(t->st, &l);
    assert_int_equal(sn_store_space(t->st), SN_SPACE_CRITICAL);
    make_tsa(&r, "AC");
    assert_int_equal(sn_store_tsa_add(t->st, &r), SN_ERR_DB);
    make_sub(&sub, "floor", 1);
    assert_int_equal(sn_store_subscriber_add(t->st, &sub), SN_ERR_DB);
    assert_int_equal(tsa_rows(t, "AC"), 0);
    /* The probe still writes: it tells degraded from failed. */
    assert_int_equal(sn_store_probe(t->st), SN_OK);
    l.min_free = 1;
    sn_store_set_limits(t->st, &l);
    assert_int_equal(sn_store_space(t->st), SN_SPACE_OK);
    assert_int_equal(sn_store_tsa_add(t->st, &r), SN_OK);
}

/* issue 16: a minted token keeps how its holder proved who they were. */
static void
test_token_proof(void **state)
{
    struct tmp *t = *state;
    struct sn_token tk, got;

    memset(&tk, 0, sizeof(tk));
    assert_int_equal(sn_uuid(tk.id), SN_OK);
    assert_int_equal(sn_uuid(tk.subscriber), SN_OK);
    snprintf(tk.name, sizeof(tk.name), "oidc");
    tk.roles = SN_ROLE_SIGN;
    tk.auth_method = 1;
    assert_int_equal(sn_uuid(tk.via), SN_OK);
    snprintf(tk.proof, sizeof(tk.proof), "iss=https://i sub=repo:a/b");
    tk.created_at = 1700000000;
    assert_int_equal(sn_store_token_add(t->st, &tk), SN_OK);
    assert_int_equal(sn_store_token_get(t->st, tk.id, &got), SN_OK);
    assert_int_equal(got.auth_method, 1);
    assert_string_equal(got.via, tk.via);
    assert_string_equal(got.proof, tk.proof);
}

/* issue 16: issuers are unique by URL; a policy is deleted only by its
 * subscriber; a jti is taken once until it expires. */
static void
test_oidc_records(void **state)
{
    struct tmp *t = *state;
    struct sn_oidc_issuer is, *il = NULL;
    struct sn_trust_policy p, *pl = NULL;
    size_t n = 0;

    memset(&is, 0, sizeof(is));
    assert_int_equal(sn_uuid(is.id), SN_OK);
    snprintf(is.issuer, sizeof(is.issuer), "https://issuer.example");
    snprintf(is.audience, sizeof(is.audience), "signet");
    is.created_at = 1700000000;
    assert_int_equal(sn_store_oidc_issuer_add(t->st, &is), SN_OK);
    assert_int_equal(sn_uuid(is.id), SN_OK);
    assert_int_equal(sn_store_oidc_issuer_add(t->st, &is), SN_ERR_EXISTS);
    assert_int_equal(sn_store_oidc_issuer_list(t->st, &il, &n), SN_OK);
    assert_int_equal(n, 1);
    assert_string_equal(il[0].audience, "signet");
    assert_int_equal(sn_store_oidc_issuer_delete(t->st, il[0].id), SN_OK);
    assert_int_equal(sn_store_oidc_issuer_delete(t->st, il[0].id),
                     SN_ERR_NOT_FOUND);
    free(il);

    memset(&p, 0, sizeof(p));
    assert_int_equal(sn_uuid(p.id), SN_OK);
    snprintf(p.subscriber, sizeof(p.subscriber), "sub-a");
    snprintf(p.issuer, sizeof(p.issuer), "https://issuer.example");
    p.body = "{\"claims\":{\"repository\":\"a/b\"}}";
    assert_int_equal(sn_store_trust_policy_add(t->st, &p), SN_OK);
    assert_int_equal(sn_store_trust_policy_list(t->st, "", p.issuer, &pl, &n),
                     SN_OK);
    assert_int_equal(n, 1);
    assert_string_equal(pl[0].body, p.body);
    sn_trust_policy_list_free(pl, n);
    assert_int_equal(sn_store_trust_policy_list(t->st, "sub-b", "", &pl, &n),
                     SN_OK);
    assert_int_equal(n, 0);
    sn_trust_policy_list_free(pl, n);
    assert_int_equal(sn_store_trust_policy_delete(t->st, "sub-b", p.id),
                     SN_ERR_NOT_FOUND);
    assert_int_equal(sn_store_trust_policy_delete(t->st, "sub-a", p.id), SN_OK);

    assert_int_equal(sn_store_oidc_jti_use(t->st, "i", "j1", 2000, 1000),
                     SN_OK);
    assert_int_equal(sn_store_oidc_jti_use(t->st, "i", "j1", 2000, 1500),
                     SN_ERR_EXISTS);
    /* another issuer's jti of the same name is another token */
    assert_int_equal(sn_store_oidc_jti_use(t->st, "i2", "j1", 2000, 1500),
                     SN_OK);
    /* forgotten once expired */
    assert_int_equal(sn_store_oidc_jti_use(t->st, "i", "j1", 4000, 2001),
                     SN_OK);
}

/* issue 16: client-certificate registrations, found by match (through
 * the cache, which an add or a delete clears), listed, deleted. */
static void
make_cc(struct sn_clientcert *c, const char *id, const char *sub,
        const char *match)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", id);
    snprintf(c->subscriber, sizeof(c->subscriber), "%s", sub);
    snprintf(c->name, sizeof(c->name), "cc %s", id);
    c->kind = SN_CLIENTCERT_CA;
    snprintf(c->match, sizeof(c->match), "%s", match);
    snprintf(c->fingerprint, sizeof(c->fingerprint), "%064d", 7);
    c->pem = (char *)"-----BEGIN CERTIFICATE-----\n";
    snprintf(c->rules, sizeof(c->rules), "CN=ci-*\n");
    c->roles = SN_ROLE_SIGN;
    c->nkeys = 1;
    snprintf(c->keys[0], sizeof(c->keys[0]), "k1");
    c->created_at = 1000;
}

static void
test_clientcerts(void **state)
{
    struct tmp *t = *state;
    struct sn_clientcert a, b, got, *list = NULL;
    size_t n = 0;

    make_cc(&a, "cc-a", "sub1", "m1");
    make_cc(&b, "cc-b", "sub2", "m1");
    /* A miss is cached too: the add after it must be seen. */
    assert_int_equal(sn_store_clientcert_find(t->st, "m1", &list, &n), SN_OK);
    assert_int_equal(n, 0);
    assert_int_equal(sn_store_clientcert_add(t->st, &a), SN_OK);
    assert_int_equal(sn_store_clientcert_add(t->st, &b), SN_OK);
    assert_int_equal(sn_store_clientcert_add(t->st, &a), SN_ERR_EXISTS);
    assert_int_equal(sn_store_clientcert_find(t->st, "m1", &list, &n), SN_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "cc-a");
    assert_string_equal(list[1].id, "cc-b");
    assert_string_equal(list[0].rules, "CN=ci-*\n");
    assert_string_equal(list[0].pem, "-----BEGIN CERTIFICATE-----\n");
    assert_string_equal(list[0].keys[0], "k1");
    assert_int_equal(list[0].nkeys, 1);
    sn_clientcert_list_free(list, n);
    /* Again, from the cache: the same. */
    assert_int_equal(sn_store_clientcert_find(t->st, "m1", &list, &n), SN_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[1].subscriber, "sub2");
    sn_clientcert_list_free(list, n);
    assert_int_equal(sn_store_clientcert_list(t->st, "sub1", &list, &n), SN_OK);
    assert_int_equal(n, 1);
    sn_clientcert_list_free(list, n);
    assert_int_equal(sn_store_clientcert_get(t->st, "cc-b", &got), SN_OK);
    assert_int_equal(got.kind, SN_CLIENTCERT_CA);
    assert_int_equal(got.roles, SN_ROLE_SIGN);
    sn_clientcert_cleanup(&got);
    assert_int_equal(sn_store_clientcert_delete(t->st, "cc-a"), SN_OK);
    assert_int_equal(sn_store_clientcert_delete(t->st, "cc-a"),
                     SN_ERR_NOT_FOUND);
    assert_int_equal(sn_store_clientcert_get(t->st, "cc-a", &got),
                     SN_ERR_NOT_FOUND);
    /* The delete cleared the cached set. */
    assert_int_equal(sn_store_clientcert_find(t->st, "m1", &list, &n), SN_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "cc-b");
    sn_clientcert_list_free(list, n);
}

/* issue 17: accounts, one-time TOTP steps and recovery codes, sessions
 * that a disable revokes and that cannot be added after it. */
static void
test_accounts(void **state)
{
    struct tmp *t = *state;
    struct sn_account a, b, got, *list = NULL;
    struct sn_token sess, tok;
    int i;
    uint8_t h[3][32], sealed[40], other[40] = {0};
    const struct sn_lockout lk = {5, 30, 3600};
    size_t n = 0;

    memset(&a, 0, sizeof(a));
    snprintf(a.id, sizeof(a.id), "acct-1");
    snprintf(a.name, sizeof(a.name), "alice");
    a.operator_ = 1;
    a.roles = SN_OROLE_CA | SN_OROLE_IDENTITY;
    snprintf(a.pw_hash, sizeof(a.pw_hash), "$argon2id$x");
    a.created_at = 1000;
    snprintf(a.created_by, sizeof(a.created_by), "admin-token");
    assert_int_equal(sn_store_account_add(t->st, &a, 1), SN_OK);
    b = a;
    snprintf(b.id, sizeof(b.id), "acct-2");
    assert_int_equal(sn_store_account_add(t->st, &b, 0), SN_ERR_EXISTS);
    /* The bootstrap token's "first operator" only while there is none. */
    snprintf(b.name, sizeof(b.name), "second-op");
    assert_int_equal(sn_store_account_add(t->st, &b, 1), SN_ERR_STATE);
    snprintf(b.name, sizeof(b.name), "bob");
    b.operator_ = 0;
    snprintf(b.subscriber, sizeof(b.subscriber), "sub-1");
    b.roles = SN_ROLE_APPROVE;
    assert_int_equal(sn_store_account_add(t->st, &b, 0), SN_OK);

    assert_int_equal(sn_store_account_by_name(t->st, "alice", &got), SN_OK);
    assert_string_equal(got.id, "acct-1");
    assert_int_equal(got.operator_, 1);
    assert_int_equal(got.roles, SN_OROLE_CA | SN_OROLE_IDENTITY);
    assert_string_equal(got.pw_hash, "$argon2id$x");
    assert_string_equal(got.created_by, "admin-token");
    assert_int_equal(got.totp_state, SN_TOTP_NONE);
    assert_int_equal(sn_store_account_list(t->st, "sub-1", &list, &n), SN_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].name, "bob");
    free(list);
    assert_int_equal(sn_store_account_list(t->st, NULL, &list, &n), SN_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "alice"); /* operators first */
    free(list);

    /* TOTP: pending, confirmed with a step, each later step once. */
    memset(sealed, 7, sizeof(sealed));
    assert_int_equal(
        sn_store_account_totp_pending(t->st, "acct-1", sealed, sizeof(sealed)),
        SN_OK);
    assert_int_equal(sn_store_account_get(t->st, "acct-1", &got), SN_OK);
    assert_int_equal(got.totp_state, SN_TOTP_PENDING);
    assert_int_equal(got.totp_sealed_len, 0);
    assert_int_equal(sn_store_account_totp_step(t->st, "acct-1", 100),
                     SN_ERR_STATE); /* not active yet */
    other[0] = 1;
    assert_int_equal(sn_store_account_totp_confirm(t->st, "acct-1", other,
                                                   sizeof(other), 100),
                     SN_ERR_STATE); /* not the pending secret */
    assert_int_equal(sn_store_account_totp_confirm(t->st, "acct-1", sealed,
                                                   sizeof(sealed), 100),
                     SN_OK);
    assert_int_equal(sn_store_account_totp_confirm(t->st, "acct-1", sealed,
                                                   sizeof(sealed), 101),
                     SN_ERR_STATE); /* nothing pending now */
    assert_int_equal(sn_store_account_totp_step(t->st, "acct-1", 100),
                     SN_ERR_STATE); /* replay */
    assert_int_equal(sn_store_account_totp_step(t->st, "acct-1", 99),
                     SN_ERR_STATE);
    assert_int_equal(sn_store_account_totp_step(t->st, "acct-1", 101), SN_OK);
    assert_int_equal(sn_store_account_get(t->st, "acct-1", &got), SN_OK);
    assert_int_equal(got.totp_state, SN_TOTP_ACTIVE);
    assert_int_equal(got.totp_last_step, 101);
    assert_int_equal(got.totp_sealed_len, sizeof(sealed));
    assert_memory_equal(got.totp_sealed, sealed, sizeof(sealed));
    assert_int_equal(got.totp_pending_len, 0);
    /* A new enrolment waits beside the active secret. */
    assert_int_equal(
        sn_store_account_totp_pending(t->st, "acct-1", other, sizeof(other)),
        SN_OK);
    assert_int_equal(sn_store_account_get(t->st, "acct-1", &got), SN_OK);
    assert_int_equal(got.totp_state, SN_TOTP_ACTIVE);
    assert_memory_equal(got.totp_sealed, sealed, sizeof(sealed));
    assert_memory_equal(got.totp_pending, other, sizeof(other));

    /* Recovery codes: each once; a new set replaces the old. */
    memset(h, 0, sizeof(h));
    h[0][0] = 1;
    h[1][0] = 2;
    h[2][0] = 3;
    assert_int_equal(sn_store_recovery_set(t->st, "acct-1", h, 2), SN_OK);
    assert_int_equal(sn_store_account_get(t->st, "acct-1", &got), SN_OK);
    assert_int_equal(got.recovery_left, 2);
    assert_int_equal(sn_store_recovery_use(t->st, "acct-1", h[0], 5), SN_OK);
    assert_int_equal(sn_store_recovery_use(t->st, "acct-1", h[0], 6),
                     SN_ERR_NOT_FOUND);
    assert_int_equal(sn_store_recovery_use(t->st, "acct-2", h[1], 6),
                     SN_ERR_NOT_FOUND);
    assert_int_equal(sn_store_recovery_set(t->st, "acct-1", h + 2, 1), SN_OK);
    assert_int_equal(sn_store_recovery_use(t->st, "acct-1", h[1], 6),
                     SN_ERR_NOT_FOUND);
    assert_int_equal(sn_store_account_get(t->st, "acct-1", &got), SN_OK);
    assert_int_equal(got.recovery_left, 1);

    /* Login outcomes: five failures lock for 30 s, doubling; a good login
     * clears them. */
    for (i = 0; i < 4; i++)
        assert_int_equal(sn_store_account_login(t->st, "acct-1", 0, 50, &lk),
                         SN_OK);
    assert_int_equal(sn_store_account_get(t->st, "acct-1", &got), SN_OK);
    assert_int_equal(got.failures, 4);
    assert_int_equal(got.locked_until, 0);
    assert_int_equal(sn_store_account_login(t->st, "acct-1", 0, 50, &lk),
                     SN_OK);
    assert_int_equal(sn_store_account_get(t->st, "acct-1", &got), SN_OK);
    assert_int_equal(got.locked_until, 80);
    assert_int_equal(sn_store_account_login(t->st, "acct-1", 0, 51, &lk),
                     SN_OK);
    assert_int_equal(sn_store_account_get(t->st, "acct-1", &got), SN_OK);
    assert_int_equal(got.locked_until, 111);
    for (i = 0; i < 30; i++) /* capped */
        assert_int_equal(sn_store_account_login(t->st, "acct-1", 0, 60, &lk),
                         SN_OK);
    assert_int_equal(sn_store_account_get(t->st, "acct-1", &got), SN_OK);
    assert_int_equal(got.failures, 36);
    assert_int_equal(got.locked_until, 3660);
    /* never shortened: a racing failure that computes an earlier end
     * leaves the later lock */
    assert_int_equal(sn_store_account_login(t->st, "acct-1", 0, 0, &lk), SN_OK);
    assert_int_equal(sn_store_account_get(t->st, "acct-1", &got), SN_OK);
    assert_int_equal(got.locked_until, 3660);
    assert_int_equal(sn_store_account_login(t->st, "acct-1", 1, 200, NULL),
                     SN_OK);
    assert_int_equal(sn_store_account_get(t->st, "acct-1", &got), SN_OK);
    assert_int_equal(got.failures, 0);
    assert_int_equal(got.locked_until, 0);
    assert_int_equal(got.last_login, 200);
    assert_int_equal(
        sn_store_account_set_password(t->st, "acct-1", "$argon2id$new"), SN_OK);
    assert_int_equal(sn_store_account_get(t->st, "acct-1", &got), SN_OK);
    assert_string_equal(got.pw_hash, "$argon2id$new");
    /* A reset removes every factor and the recovery codes. */
    assert_int_equal(sn_store_account_totp_clear(t->st, "acct-2"), SN_OK);
    assert_int_equal(sn_store_account_get(t->st, "acct-2", &got), SN_OK);
    assert_int_equal(got.totp_state, SN_TOTP_NONE);

    /* A session, used (cached), then the account disabled: revoked. */
    memset(&sess, 0, sizeof(sess));
    snprintf(sess.id, sizeof(sess.id), "sess-1");
    sess.admin = 1;
    snprintf(sess.name, sizeof(sess.name), "session alice");
    sess.roles = a.roles;
    sess.expires_at = time(NULL) + 3600;
    sess.created_at = time(NULL) - 120;
    sess.auth_method = 3;
    snprintf(sess.via, sizeof(sess.via), "acct-1");
    sess.mfa = 1;
    sess.idle_timeout = 900;
    assert_int_equal(sn_store_session_add(t->st, &sess), SN_OK);
    assert_int_equal(sn_store_token_get(t->st, "sess-1", &tok), SN_OK);
    assert_int_equal(tok.mfa, 1);
    assert_int_equal(tok.idle_timeout, 900);
    assert_int_equal(tok.last_used, sess.created_at);
    assert_int_equal(sn_store_token_touch(t->st, &tok, tok.last_used + 61),
                     SN_OK);
    assert_int_equal(sn_store_token_get(t->st, "sess-1", &tok), SN_OK);
    assert_int_equal(tok.last_used, sess.created_at + 61);
    assert_int_equal(sn_store_account_get(t->st, "acct-1", &got), SN_OK);
    assert_int_equal(got.last_use, sess.created_at + 61);

    assert_int_equal(sn_store_account_disable(t->st, "acct-1", 300), SN_OK);
    assert_int_equal(sn_store_account_disable(t->st, "acct-1", 301),
                     SN_ERR_STATE);
    assert_int_equal(sn_store_token_get(t->st, "sess-1", &tok), SN_OK);
    assert_int_equal(tok.revoked_at, 300);
    snprintf(sess.id, sizeof(sess.id), "sess-2");
    assert_int_equal(sn_store_session_add(t->st, &sess), SN_ERR_STATE);
    assert_int_equal(sn_store_token_get(t->st, "sess-2", &tok),
                     SN_ERR_NOT_FOUND);
}

/* ---- sign requests awaiting approval (issue 17) ---- */

/* A 2-of-3 request of two SHA-256 digests, pending until now + ttl. */
static void
make_request(struct sn_sign_request *r, const char *id, time_t now, time_t ttl)
{
    static uint8_t digests[2 * 32];
    size_t i;

    for (i = 0; i < sizeof(digests); i++)
        digests[i] = (uint8_t)(i * 7 + 1);
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", id);
    snprintf(r->subscriber, sizeof(r->subscriber), "sub-a");
    snprintf(r->key, sizeof(r->key), "key-1");
    snprintf(r->token, sizeof(r->token), "tok-ci");
    r->auth_method = 1; /* an OIDC-exchanged token */
    snprintf(r->via, sizeof(r->via), "tp-1");
    snprintf(r->principal, sizeof(r->principal),
             "oidc policy=tp-1 iss=https://ci.example sub=repo:a/b");
    snprintf(r->client, sizeof(r->client), "10.1.2.3");
    r->md = SN_MD_SHA256;
    r->scheme = SN_SCHEME_ECDSA;
    r->batch = 1;
    r->ndigests = 2;
    r->digests = digests; /* borrowed: add copies nothing it keeps */
    r->required = 2;
    snprintf(r->approvers[0], SN_UUID_LEN, "acct-a");
    snprintf(r->approvers[1], SN_UUID_LEN, "acct-b");
    snprintf(r->approvers[2], SN_UUID_LEN, "acct-c");
    r->napprovers = 3;
    r->created_at = now;
    r->expires_at = now + ttl;
}

static sn_err
vote(struct sn_store *st, const char *id, const char *account, int approve,
     time_t now, enum sn_sr_state *state, int *decided)
{
    struct sn_sr_vote v;

    memset(&v, 0, sizeof(v));
    snprintf(v.account, sizeof(v.account), "%s", account);
    snprintf(v.token, sizeof(v.token), "sess-%s", account);
    v.approve = approve;
    v.time = now;
    return sn_store_sign_request_vote(st, id, &v, now, state, decided);
}

static enum sn_sr_state
state_of(struct sn_store *st, const char *id)
{
    struct sn_sign_request r;
    enum sn_sr_state s;

    assert_int_equal(sn_store_sign_request_get(st, id, &r), SN_OK);
    s = r.state;
    sn_sign_request_cleanup(&r);
    return s;
}

/*
 * The life of a request: stored as asked (digests, approvers, requester),
 * one vote per account (the second refused, nothing changed), the k-th
 * approval moves it to approved (decided once), later votes refused,
 * approved -> completed once with the signatures, then no other move.
 */
static void
test_sign_request_flow(void **state)
{
    struct tmp *t = *state;
    struct sn_sign_request r, got, *list = NULL;
    enum sn_sr_state st;
    int decided;
    size_t n;

    make_request(&r, "sr-1", 1000, 600);
    assert_int_equal(sn_store_sign_request_add(t->st, &r), SN_OK);
    assert_int_equal(sn_store_sign_request_add(t->st, &r), SN_ERR_EXISTS);
    assert_int_equal(sn_store_sign_request_get(t->st, "sr-1", &got), SN_OK);
    assert_int_equal(got.state, SN_SR_PENDING);
    assert_int_equal(got.ndigests, 2);
    assert_memory_equal(got.digests, r.digests, 64);
    assert_int_equal(got.md, SN_MD_SHA256);
    assert_int_equal(got.scheme, SN_SCHEME_ECDSA);
    assert_int_equal(got.batch, 1);
    assert_int_equal(got.required, 2);
    assert_int_equal(got.napprovers, 3);
    assert_string_equal(got.approvers[2], "acct-c");
    assert_string_equal(got.principal, r.principal);
    assert_string_equal(got.via, "tp-1");
    assert_int_equal(got.auth_method, 1);
    assert_int_equal(got.expires_at, 1600);
    assert_int_equal(got.version, 1);
    assert_null(got.signatures);
    sn_sign_request_cleanup(&got);
    assert_int_equal(sn_store_sign_request_get(t->st, "sr-none", &got),
                     SN_ERR_NOT_FOUND);

    assert_int_equal(vote(t->st, "sr-1", "acct-a", 1, 1010, &st, &decided),
                     SN_OK);
    assert_int_equal(st, SN_SR_PENDING);
    assert_int_equal(decided, 0);
    /* The same account again: refused by the key (request, account). */
    assert_int_equal(vote(t->st, "sr-1", "acct-a", 1, 1011, &st, &decided),
                     SN_ERR_EXISTS);
    assert_int_equal(vote(t->st, "sr-1", "acct-a", 0, 1011, &st, &decided),
                     SN_ERR_EXISTS);
    assert_int_equal(state_of(t->st, "sr-1"), SN_SR_PENDING);
    assert_int_equal(vote(t->st, "sr-none", "acct-a", 1, 1011, &st, &decided),
                     SN_ERR_NOT_FOUND);

    assert_int_equal(vote(t->st, "sr-1", "acct-b", 1, 1020, &st, &decided),
                     SN_OK);
    assert_int_equal(st, SN_SR_APPROVED);
    assert_int_equal(decided, 1);
    /* A third approver is too late: nothing is written. */
    assert_int_equal(vote(t->st, "sr-1", "acct-c", 1, 1021, &st, &decided),
                     SN_ERR_STATE);
    assert_int_equal(st, SN_SR_APPROVED);
    assert_int_equal(decided, 0);

    assert_int_equal(sn_store_sign_request_move(t->st, "sr-1", SN_SR_PENDING,
                                                SN_SR_CANCELED, 1030, NULL,
                                                NULL),
                     SN_ERR_STATE);
    assert_int_equal(sn_store_sign_request_move(t->st, "sr-1", SN_SR_APPROVED,
                                                SN_SR_COMPLETED, 1030, NULL,
                                                "c2lnMQ== c2lnMg=="),
                     SN_OK);
    /* Released once: a second completion (or failure) finds it moved. */
    assert_int_equal(sn_store_sign_request_move(t->st, "sr-1", SN_SR_APPROVED,
                                                SN_SR_COMPLETED, 1031, NULL,
                                                "b3RoZXI="),
                     SN_ERR_STATE);
    assert_int_equal(sn_store_sign_request_move(t->st, "sr-1", SN_SR_APPROVED,
                                                SN_SR_FAILED, 1031, "late",
                                                NULL),
                     SN_ERR_STATE);
    assert_int_equal(sn_store_sign_request_get(t->st, "sr-1", &got), SN_OK);
    assert_int_equal(got.state, SN_SR_COMPLETED);
    assert_string_equal(got.signatures, "c2lnMQ== c2lnMg==");
    assert_int_equal(got.nvotes, 2);
    assert_string_equal(got.votes[0].account, "acct-a");
    assert_string_equal(got.votes[1].account, "acct-b");
    assert_int_equal(got.votes[1].approve, 1);
    assert_string_equal(got.votes[1].token, "sess-acct-b");
    assert_int_equal(got.updated_at, 1030);
    /* created, two votes, approved (with the second), completed */
    assert_int_equal(got.version, 4);
    sn_sign_request_cleanup(&got);

    /* The list: newest first, a state filter, the subscriber's only. */
    make_request(&r, "sr-2", 2000, 600);
    assert_int_equal(sn_store_sign_request_add(t->st, &r), SN_OK);
    snprintf(r.id, sizeof(r.id), "sr-3");
    snprintf(r.subscriber, sizeof(r.subscriber), "sub-b");
    assert_int_equal(sn_store_sign_request_add(t->st, &r), SN_OK);
    assert_int_equal(sn_store_sign_request_list(
                         t->st, "sub-a", SN_SR_STATE_COUNT, 100, &list, &n),
                     SN_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "sr-2");
    assert_string_equal(list[1].id, "sr-1");
    assert_int_equal(list[1].nvotes, 2);
    /* A list's rows: how many digests, not the digests or signatures. */
    assert_int_equal(list[1].ndigests, 2);
    assert_null(list[1].digests);
    assert_null(list[1].signatures);
    assert_int_equal(list[1].state, SN_SR_COMPLETED);
    sn_sign_request_list_free(list, n);
    assert_int_equal(sn_store_sign_request_list(t->st, "sub-a", SN_SR_PENDING,
                                                100, &list, &n),
                     SN_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "sr-2");
    sn_sign_request_list_free(list, n);
    /* State names round-trip; an unknown one is refused. */
    assert_string_equal(sn_sr_state_name(SN_SR_PENDING), "pending_approval");
    assert_int_equal(sn_sr_state_from_name("canceled", &st), SN_OK);
    assert_int_equal(st, SN_SR_CANCELED);
    assert_int_equal(sn_sr_state_from_name("pending", &st), SN_ERR_INVALID);
}

/* One deny ends it, even after an approval; no vote counts after. */
static void
test_sign_request_deny(void **state)
{
    struct tmp *t = *state;
    struct sn_sign_request r;
    enum sn_sr_state st;
    int decided;

    make_request(&r, "sr-d", 1000, 600);
    assert_int_equal(sn_store_sign_request_add(t->st, &r), SN_OK);
    assert_int_equal(vote(t->st, "sr-d", "acct-a", 1, 1001, &st, &decided),
                     SN_OK);
    assert_int_equal(vote(t->st, "sr-d", "acct-b", 0, 1002, &st, &decided),
                     SN_OK);
    assert_int_equal(st, SN_SR_DENIED);
    assert_int_equal(decided, 1);
    assert_int_equal(vote(t->st, "sr-d", "acct-c", 1, 1003, &st, &decided),
                     SN_ERR_STATE);
    assert_int_equal(st, SN_SR_DENIED);
    assert_int_equal(state_of(t->st, "sr-d"), SN_SR_DENIED);
}

/*
 * Expiry: a vote at or after expires_at is refused; the move to expired
 * waits for the deadline; the sweeper expires what is due and fails an
 * approved request whose release stalled, each once.
 */
static void
test_sign_request_expiry(void **state)
{
    struct tmp *t = *state;
    struct sn_sign_request r, *moved = NULL;
    enum sn_sr_state st;
    int decided;
    size_t n;

    make_request(&r, "sr-e", 1000, 60);
    assert_int_equal(sn_store_sign_request_add(t->st, &r), SN_OK);
    assert_int_equal(vote(t->st, "sr-e", "acct-a", 1, 1060, &st, &decided),
                     SN_ERR_STATE);
    assert_int_equal(st, SN_SR_PENDING);
    assert_int_equal(sn_store_sign_request_move(t->st, "sr-e", SN_SR_PENDING,
                                                SN_SR_EXPIRED, 1059, NULL,
                                                NULL),
                     SN_ERR_STATE);
    assert_int_equal(sn_store_sign_request_move(t->st, "sr-e", SN_SR_PENDING,
                                                SN_SR_EXPIRED, 1060, NULL,
                                                NULL),
                     SN_OK);
    assert_int_equal(state_of(t->st, "sr-e"), SN_SR_EXPIRED);

    make_request(&r, "sr-s1", 1000, 60);
    assert_int_equal(sn_store_sign_request_add(t->st, &r), SN_OK);
    make_request(&r, "sr-s2", 1000, 6000);
    assert_int_equal(sn_store_sign_request_add(t->st, &r), SN_OK);
    make_request(&r, "sr-s3", 1000, 6000);
    assert_int_equal(sn_store_sign_request_add(t->st, &r), SN_OK);
    assert_int_equal(vote(t->st, "sr-s3", "acct-a", 1, 1001, &st, &decided),
                     SN_OK);
    assert_int_equal(vote(t->st, "sr-s3", "acct-b", 1, 1002, &st, &decided),
                     SN_OK);
    assert_int_equal(st, SN_SR_APPROVED);
    /* At 1100: sr-s1 is due; sr-s3 was approved at 1002, stale before
     * 1050. sr-s2 waits. */
    assert_int_equal(
        sn_store_sign_request_sweep(t->st, 1100, 1050, 100, &moved, &n), SN_OK);
    assert_int_equal(n, 2);
    assert_string_equal(moved[0].id, "sr-s1");
    assert_int_equal(moved[0].state, SN_SR_EXPIRED);
    assert_string_equal(moved[1].id, "sr-s3");
    assert_int_equal(moved[1].state, SN_SR_FAILED);
    assert_non_null(strstr(moved[1].reason, "interrupted"));
    sn_sign_request_list_free(moved, n);
    assert_int_equal(
        sn_store_sign_request_sweep(t->st, 1100, 1050, 100, &moved, &n), SN_OK);
    assert_int_equal(n, 0);
    sn_sign_request_list_free(moved, n);
    assert_int_equal(state_of(t->st, "sr-s2"), SN_SR_PENDING);
    /* The stalled release cannot complete after the sweeper failed it. */
    assert_int_equal(sn_store_sign_request_move(t->st, "sr-s3", SN_SR_APPROVED,
                                                SN_SR_COMPLETED, 1101, NULL,
                                                "c2ln"),
                     SN_ERR_STATE);
}

/*
 * Racing approvals, as two signetd on one database would: each thread has
 * a store of its own on the same file, the request has one approval of
 * two, and two approvers vote at once. Exactly one vote decides; that
 * thread (as the handler does) releases the signatures, completing the
 * request; a second release, by either, is refused. Many rounds, so the
 * order varies.
 */
struct racer {
    struct sn_store *st;
    const char *id;
    const char *account;
    pthread_barrier_t *go;
    sn_err r;
    int decided;
    int released;
};

static void *
race_vote(void *arg)
{
    struct racer *x = arg;
    enum sn_sr_state st;

    pthread_barrier_wait(x->go);
    x->r = vote(x->st, x->id, x->account, 1, 1005, &st, &x->decided);
    if (x->decided)
        x->released = sn_store_sign_request_move(x->st, x->id, SN_SR_APPROVED,
                                                 SN_SR_COMPLETED, 1006, NULL,
                                                 x->account) == SN_OK;
    return NULL;
}

static void
test_sign_request_race(void **state)
{
    struct tmp *t = *state;
    struct sn_store *other = NULL;
    struct sn_sign_request r, got;
    struct racer x[2];
    pthread_barrier_t go;
    pthread_t th[2];
    enum sn_sr_state st;
    char id[32];
    int round, decided, i;

    assert_int_equal(sn_store_open(t->db, &other), SN_OK);
    for (round = 0; round < 40; round++) {
        snprintf(id, sizeof(id), "sr-race-%d", round);
        make_request(&r, id, 1000, 600);
        assert_int_equal(sn_store_sign_request_add(t->st, &r), SN_OK);
        assert_int_equal(vote(t->st, id, "acct-a", 1, 1001, &st, &decided),
                         SN_OK);
        pthread_barrier_init(&go, NULL, 2);
        for (i = 0; i < 2; i++) {
            x[i] = (struct racer){.st = i ? other : t->st,
                                  .id = id,
                                  .account = i ? "acct-c" : "acct-b",
                                  .go = &go};
            assert_int_equal(pthread_create(&th[i], NULL, race_vote, &x[i]), 0);
        }
        for (i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&go);
        /* The loser's vote was either recorded before the decision (then
         * it decided nothing) or refused after it. */
        for (i = 0; i < 2; i++)
            if (x[i].r != SN_OK && x[i].r != SN_ERR_STATE)
                fail_msg("round %d: racer %d: %s", round, i,
                         sn_err_str(x[i].r));
        if (x[0].decided + x[1].decided != 1)
            fail_msg("round %d: %d decisions, expected 1", round,
                     x[0].decided + x[1].decided);
        if (x[0].released + x[1].released != 1)
            fail_msg("round %d: released %d and %d, expected once by the "
                     "decider",
                     round, x[0].released, x[1].released);
        for (i = 0; i < 2; i++)
            assert_int_equal(sn_store_sign_request_move(
                                 x[i].st, id, SN_SR_APPROVED, SN_SR_COMPLETED,
                                 1007, NULL, "again"),
                             SN_ERR_STATE);
        assert_int_equal(sn_store_sign_request_get(other, id, &got), SN_OK);
        assert_int_equal(got.state, SN_SR_COMPLETED);
        assert_string_equal(got.signatures,
                            x[0].decided ? x[0].account : x[1].account);
        sn_sign_request_cleanup(&got);
    }
    sn_store_close(other);
}

/* issue 18: the transparency log in the store. Every record becomes an
 * entry in its own commit (log_index set, consecutive in a batch); a
 * failed job leaves no entry and the tree as it was; the tree survives a
 * reopen; checkpoints are signed (by a software Ed25519 key here) and
 * open with its verifier key; a stored hash altered behind the store's
 * back stops the log at the next open. */
static sn_err
test_sign(void *arg, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t siglen = 64;
    int ok = c != NULL && EVP_DigestSignInit(c, NULL, NULL, NULL, arg) == 1 &&
             EVP_DigestSign(c, sig, &siglen, msg, len) == 1;

    EVP_MD_CTX_free(c);
    return ok ? SN_OK : SN_ERR_CRYPTO;
}

static sn_err
store_read(void *arg, unsigned level, uint64_t start, size_t n,
           uint8_t (*out)[SN_TLOG_HASH])
{
    return sn_store_log_hashes(arg, level, start, n, out);
}

static void
wait_checkpoint(struct sn_store *st, uint64_t size, char **note)
{
    uint64_t got = 0;
    int i;

    for (i = 0; i < 100; i++) {
        *note = NULL;
        if (sn_store_log_checkpoint(st, note, &got) == SN_OK && got >= size)
            return;
        free(*note);
        usleep(50000);
    }
    fail_msg("no checkpoint of size %llu", (unsigned long long)size);
}

static void
test_translog(void **state)
{
    struct tmp *t = *state;
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    struct sn_audit a[3], bad[2];
    const struct sn_tlog_reader rd = {store_read, t->st};
    uint8_t pub[32], root[32], r2[32], leaf[32];
    uint8_t proof[SN_TLOG_MAX_PROOF][32];
    size_t publen = sizeof(pub), np, i;
    uint64_t size, cps;
    char *note = NULL, *vkey = NULL, *v[SN_TE_COUNT];
    struct sn_buf b;

    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_raw_public_key(k, pub, &publen), 1);
    assert_int_equal(sn_tlog_vkey_format("test.example/log", pub, &vkey),
                     SN_OK);
    for (i = 0; i < 3; i++)
        make_audit(&a[i], "s1", "k1", "logged");
    assert_int_equal(sn_store_audit_add_many(t->st, a, 3), SN_OK);
    assert_true(a[0].log_index >= 0);
    assert_int_equal(a[1].log_index, a[0].log_index + 1);
    assert_int_equal(a[2].log_index, a[0].log_index + 2);

    /* A failing job: neither its records nor entries, the tree unchanged. */
    sn_store_log_head(t->st, &size, root);
    assert_int_equal(size, (uint64_t)a[2].log_index + 1);
    exec_other2(t, BOOM_SQLITE, BOOM_PG);
    make_audit(&bad[0], "s1", "k2", "fine");
    make_audit(&bad[1], "s1", "k2", "boom");
    assert_int_not_equal(sn_store_audit_add_many(t->st, bad, 2), SN_OK);
    sn_store_log_head(t->st, &cps, r2);
    assert_int_equal(cps, size);
    assert_memory_equal(root, r2, 32);
    exec_other2(t, "DROP TRIGGER boom", UNBOOM_PG);

    /* The entry of a[1]: a canonical sign entry naming its record. */
    sn_buf_init(&b, 70000);
    assert_int_equal(
        sn_store_log_entries(t->st, (uint64_t)a[1].log_index, 1, &b), SN_OK);
    assert_int_equal(sn_tlog_parse(b.data + 2, b.len - 2, SN_TLOG_ENTRY_HEADER,
                                   sn_tlog_entry_names, SN_TE_COUNT, v),
                     SN_OK);
    assert_string_equal(v[SN_TE_TYPE], "sign");
    assert_string_equal(v[SN_TE_KEY], "k1");
    assert_string_equal(v[SN_TE_DIGEST], a[1].digest);
    assert_int_equal(strtoll(v[SN_TE_AUDIT_ID], NULL, 10), a[1].id);
    sn_tlog_values_free(v, SN_TE_COUNT);
    sn_tlog_leaf_hash(b.data + 2, b.len - 2, leaf);
    sn_buf_cleanup(&b);

    /* Checkpoints: signed, kept, and the entry's proof holds in them. */
    assert_int_equal(
        sn_store_log_checkpoints(t->st, "test.example/log", pub, test_sign, k),
        SN_OK);
    wait_checkpoint(t->st, size, &note);
    assert_int_equal(
        sn_tlog_checkpoint_open(note, strlen(note), vkey, &cps, r2), SN_OK);
    assert_int_equal(cps, size);
    assert_memory_equal(r2, root, 32);
    assert_int_equal(sn_tlog_prove_inclusion(&rd, (uint64_t)a[1].log_index,
                                             size, proof, &np),
                     SN_OK);
    assert_true(sn_tlog_check_inclusion((uint64_t)a[1].log_index, size, leaf,
                                        (const uint8_t(*)[32])proof, np, root));
    free(note);

    /* Reopened: the same tree, and it grows on. */
    reopen(t);
    assert_true(sn_store_log_ok(t->st));
    sn_store_log_head(t->st, &cps, r2);
    assert_int_equal(cps, size);
    assert_memory_equal(r2, root, 32);
    make_audit(&bad[0], "s1", "k2", "after");
    assert_int_equal(sn_store_audit_add(t->st, &bad[0]), SN_OK);
    assert_int_equal(bad[0].log_index, (int64_t)size);

    /* A stored hash altered: the next open finds the tree does not match
     * its checkpoint; nothing more is appended. */
    reopen(t);
    exec_other2(t, "UPDATE log_entries SET leaf = zeroblob(32) WHERE idx = 0",
                "UPDATE log_entries SET leaf = decode(repeat('00', 32), 'hex')"
                " WHERE idx = 0");
    reopen(t);
    assert_false(sn_store_log_ok(t->st));
    make_audit(&bad[1], "s1", "k2", "refused");
    assert_int_not_equal(sn_store_audit_add(t->st, &bad[1]), SN_OK);
    free(vkey);
    sn_store_close(t->st);
    t->st = NULL;
    EVP_PKEY_free(k);
    assert_int_equal(sn_store_open(t->db, &t->st), SN_OK);
}

/* issue 18: reports. Signing events found by signature hash and by
 * digest (a refused or unsigned record never); a report and its events in
 * one write; states move forward once; the notice owed to another CA is
 * due, retried, and its success informs the report; the overdue counts. */
static void
test_reports(void **state)
{
    struct tmp *t = *state;
    struct sn_audit a[3], *found = NULL;
    char sigs[2][65];
    struct sn_report r, got, *list = NULL;
    char dup[SN_UUID_LEN];
    struct sn_report_key k;
    struct sn_report_overdue od;
    uint8_t ev[4] = {1, 2, 3, 4};
    size_t n = 0, total = 0;

    make_audit(&a[0], "s1", "k1", "one");
    memset(a[0].sig_sha256, 'b', 64);
    make_audit(&a[1], "s1", "k1", "two");
    memset(a[1].sig_sha256, 'c', 64);
    memset(a[1].digest, 'd', 64);
    a[1].time += 10;
    make_audit(&a[2], "s1", "k1", "refused");
    memset(a[2].sig_sha256, 'c', 64);
    snprintf(a[2].result, sizeof(a[2].result), "denied");
    assert_int_equal(sn_store_audit_add_many(t->st, a, 3), SN_OK);
    memset(sigs[0], 'c', 64);
    sigs[0][64] = '\0';
    memset(sigs[1], 'e', 64);
    sigs[1][64] = '\0';
    assert_int_equal(sn_store_sign_events_match(t->st, (const char(*)[65])sigs,
                                                2, NULL, NULL, 0, 10, &found,
                                                &n, &total),
                     SN_OK);
    assert_int_equal(n, 1);
    assert_int_equal(total, 1);
    assert_int_equal(found[0].id, a[1].id);
    free(found);
    /* One row per key, its first matching event. */
    memset(sigs[1], 'b', 64);
    assert_int_equal(sn_store_sign_events_match(t->st, (const char(*)[65])sigs,
                                                2, NULL, NULL, 1, 10, &found,
                                                &n, &total),
                     SN_OK);
    assert_int_equal(n, 1);
    assert_int_equal(found[0].id, a[0].id);
    assert_string_equal(found[0].key, "k1");
    free(found);
    assert_int_equal(sn_store_sign_events_match(t->st, NULL, 0, "sha256",
                                                a[1].digest, 0, 10, &found, &n,
                                                &total),
                     SN_OK);
    assert_int_equal(n, 1);
    assert_int_equal(found[0].id, a[1].id);
    free(found);
    assert_int_equal(sn_store_sign_events_since(t->st, "k1", a[1].time, 10,
                                                &found, &n, &total),
                     SN_OK);
    assert_int_equal(n, 1);
    free(found);

    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "r-1");
    r.kind = SN_REPORT_SUSPECT_CODE;
    r.evidence_kind = SN_REPORT_EV_SIGNATURE;
    r.evidence = ev;
    r.evidence_len = sizeof(ev);
    snprintf(r.reason, sizeof(r.reason), "malware");
    snprintf(r.contact, sizeof(r.contact), "av@example.org");
    snprintf(r.reporter_client, sizeof(r.reporter_client), "192.0.2.9");
    r.received_at = 1700000000;
    r.events_total = 1;
    r.events = calloc(1, sizeof(*r.events));
    assert_non_null(r.events);
    r.nevents = 1;
    r.events[0].audit_id = a[1].id;
    r.events[0].log_index = -1;
    r.events[0].time = a[1].time;
    snprintf(r.events[0].key, sizeof(r.events[0].key), "k1");
    snprintf(r.events[0].subscriber, sizeof(r.events[0].subscriber), "s1");
    assert_int_equal(sn_store_report_add(t->st, &r, NULL), SN_OK);
    assert_int_equal(sn_store_report_add(t->st, &r, NULL), SN_ERR_EXISTS);
    /* Another report of the same evidence, deduplicated: the open one. */
    snprintf(r.id, sizeof(r.id), "r-dup");
    assert_int_equal(sn_store_report_add(t->st, &r, dup), SN_ERR_EXISTS);
    assert_string_equal(dup, "r-1");
    free(r.events);
    assert_int_equal(sn_store_report_get(t->st, "r-1", &got), SN_OK);
    assert_int_equal(got.state, SN_REPORT_RECEIVED);
    assert_int_equal(got.nevents, 1);
    assert_int_equal(got.events[0].audit_id, a[1].id);
    assert_int_equal(got.events[0].log_index, -1);
    assert_int_equal(got.evidence_len, 4);
    assert_memory_equal(got.evidence, ev, 4);
    sn_report_cleanup(&got);
    assert_int_equal(sn_store_report_get(t->st, "r-2", &got), SN_ERR_NOT_FOUND);

    /* A day and more later: every deadline passed, none met. */
    assert_int_equal(sn_store_report_overdue(t->st, 1700000000 + 90000, &od),
                     SN_OK);
    assert_int_equal(od.open, 1);
    assert_int_equal(od.ack, 1);
    assert_int_equal(od.revocation, 1);
    assert_int_equal(od.ca_informed, 1);
    /* The overdue filter is the store's: none yet a minute in, r-1 later. */
    assert_int_equal(
        sn_store_report_list(t->st, NULL, 1700000000 + 60, 10, &list, &n),
        SN_OK);
    assert_int_equal(n, 0);
    sn_report_list_free(list, n);
    assert_int_equal(
        sn_store_report_list(t->st, NULL, 1700000000 + 90000, 10, &list, &n),
        SN_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "r-1");
    sn_report_list_free(list, n);
    assert_int_equal(sn_store_report_ack(t->st, "r-1", 1700000100, "op"),
                     SN_OK);
    assert_int_equal(sn_store_report_ack(t->st, "r-1", 1700000200, "op"),
                     SN_ERR_STATE);

    /* Confirmed with a key whose CA is another: a notice is owed. */
    memset(&k, 0, sizeof(k));
    snprintf(k.key, sizeof(k.key), "k1");
    snprintf(k.subscriber, sizeof(k.subscriber), "s1");
    k.external = 1;
    k.next_attempt = 1700000300;
    assert_int_equal(sn_store_report_decide(t->st, "r-1", SN_REPORT_CONFIRMED,
                                            1700000300, "op", "", &k, 1, 0),
                     SN_OK);
    assert_int_equal(sn_store_report_decide(t->st, "r-1", SN_REPORT_REJECTED,
                                            1700000301, "op", "no", NULL, 0, 0),
                     SN_ERR_STATE);
    assert_int_equal(
        sn_store_report_notices_due(t->st, 1700000299, 10, &list, &n), SN_OK);
    assert_int_equal(n, 0);
    sn_report_list_free(list, n);
    assert_int_equal(
        sn_store_report_notices_due(t->st, 1700000300, 10, &list, &n), SN_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].keys[0].key, "k1");
    sn_report_list_free(list, n);
    assert_int_equal(sn_store_report_notice_result(t->st, "r-1", "k1", 0,
                                                   1700000300, 1700000360,
                                                   "HTTP 503"),
                     SN_OK);
    assert_int_equal(sn_store_report_overdue(t->st, 1700000000 + 90000, &od),
                     SN_OK);
    assert_int_equal(od.ack, 0);
    assert_int_equal(od.revocation, 0);
    assert_int_equal(od.ca_informed, 1);
    assert_int_equal(sn_store_report_notice_result(t->st, "r-1", "k1", 1,
                                                   1700000360, 0, "HTTP 200"),
                     SN_OK);
    assert_int_equal(sn_store_report_get(t->st, "r-1", &got), SN_OK);
    assert_int_equal(got.state, SN_REPORT_CONFIRMED);
    assert_int_equal(got.ca_informed_at, 1700000360);
    assert_int_equal(got.keys[0].attempts, 2);
    assert_string_equal(got.keys[0].last_result, "HTTP 200");
    sn_report_cleanup(&got);
    assert_int_equal(sn_store_report_overdue(t->st, 1700000000 + 90000, &od),
                     SN_OK);
    assert_int_equal(od.open, 0);
    assert_int_equal(od.ca_informed, 0);
    assert_int_equal(sn_store_report_list(t->st, NULL, 0, 10, &list, &n),
                     SN_OK);
    assert_int_equal(n, 1);
    assert_null(list[0].evidence);
    sn_report_list_free(list, n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscribers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscriber_list_empty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_proof, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oidc_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clientcerts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_brief, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_submit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsa_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_announce, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_concurrent_ids, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cert_compromise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_legacy_index, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_schema_legacy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_too_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signing_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sign_request_flow, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sign_request_deny, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sign_request_expiry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sign_request_race, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_audit_tally, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_tally_timer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tsa_compact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsa_compact_legacy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tsa_retention_timer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_space, setup, teardown),
        cmocka_unit_test_setup_teardown(test_translog, setup, teardown),
    };

    pg_dir = getenv("SIGNET_TEST_PG_DIR");
    if (pg_dir != NULL && pg_dir[0] == '\0')
        pg_dir = NULL;
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
