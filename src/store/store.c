/*
 * store: the front of Signet's durable state. Each sn_store_* call goes
 * to the backend chosen at open (struct sn_store_ops, store/store_backend.h);
 * what is not about storage stays here, the same for every backend: the
 * caches of the rows every signing request reads, dropped whenever this
 * process changes the row, and the revocation counter. Callers are the
 * policy layer; their values are validated, not trusted by the backends
 * for SQL (every backend binds parameters).
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include <openssl/evp.h>

#include "common/log.h"

#include "store/store_int.h"

/* Backends by the prefix of the path given to sn_store_open. */
static const struct sn_store_ops *const backends[] = {
    &sn_store_sqlite_ops,
    &sn_store_postgres_ops,
};

const char *
sn_key_state_name(enum sn_key_state s)
{
    switch (s) {
    case SN_KEY_ENABLED:
        return "enabled";
    case SN_KEY_DISABLED:
        return "disabled";
    case SN_KEY_DESTROYED:
        return "destroyed";
    }
    return "unknown";
}

static int
token_copy(void *dst, const void *src)
{
    memcpy(dst, src, sizeof(struct sn_token));
    return 1;
}

/*
 * The client-certificate registrations of one match, kept so that
 * authenticating a certificate (on an event thread, for every request)
 * reads no database: also an empty set, for a certificate nobody
 * registered. Bounded: past CC_CACHE_MAX matches, the database is read.
 * Any registration added or deleted clears the whole cache (both are
 * rare).
 */
#define CC_CACHE_MAX 4096

struct cc_set {
    struct sn_clientcert *c;
    size_t n;
};

static void
cc_release(void *v)
{
    struct cc_set *s = v;

    if (s != NULL)
        sn_clientcert_list_free(s->c, s->n);
    free(s);
}

/* A deep copy into dst; 0 (nothing in dst) if memory runs out. */
static int
cc_copy(void *dst, const void *src)
{
    const struct cc_set *s = src;
    struct cc_set *d = dst;
    size_t i;

    d->c = NULL;
    d->n = 0;
    if (s->n == 0)
        return 1;
    if ((d->c = calloc(s->n, sizeof(*d->c))) == NULL)
        return 0;
    for (i = 0; i < s->n; i++) {
        d->c[i] = s->c[i];
        if ((d->c[i].pem = strdup(s->c[i].pem)) == NULL) {
            sn_clientcert_list_free(d->c, i);
            d->c = NULL;
            return 0;
        }
    }
    d->n = s->n;
    return 1;
}

/*
 * What the key cache keeps of a row: what the signing path checks. The rest
 * (public key, certificates, attestation: about 2 KB a key) is read from
 * the database by the few requests that need it.
 */
struct key_brief {
    char subscriber[SN_UUID_LEN];
    enum sn_keyalg alg;
    enum sn_key_state state;
    char spki_sha256[2 * 32 + 1];
};

static int
brief_copy(void *dst, const void *src)
{
    const struct key_brief *b = src;
    struct sn_key *k = dst;

    memcpy(k->subscriber, b->subscriber, sizeof(k->subscriber));
    k->alg = b->alg;
    k->state = b->state;
    memcpy(k->spki_sha256, b->spki_sha256, sizeof(k->spki_sha256));
    return 1;
}

void
sn_key_cleanup(struct sn_key *k)
{
    if (k == NULL)
        return;
    free(k->spki);
    free(k->cert_pem);
    free(k->att_pem);
    memset(k, 0, sizeof(*k));
}

void
sn_key_list_free(struct sn_key *keys, size_t n)
{
    size_t i;

    for (i = 0; keys != NULL && i < n; i++)
        sn_key_cleanup(&keys[i]);
    free(keys);
}

sn_err
sn_store_key_brief(struct sn_store *st, const char *id, struct sn_key *out)
{
    struct key_brief keep, *b;
    unsigned long gen;
    size_t len = strlen(id);
    sn_err r;

    memset(out, 0, sizeof(*out));
    if (len >= sizeof(out->id))
        return SN_ERR_NOT_FOUND;
    if (!sn_cache_get(&st->keys, id, out)) {
        gen = sn_cache_gen(&st->keys);
        if ((r = sn_store_key_get(st, id, out)) != SN_OK)
            return r;
        memcpy(keep.subscriber, out->subscriber, sizeof(keep.subscriber));
        keep.alg = out->alg;
        keep.state = out->state;
        memcpy(keep.spki_sha256, out->spki_sha256, sizeof(keep.spki_sha256));
        /* The same view as a hit: nothing a caller could come to rely on. */
        sn_key_cleanup(out);
        brief_copy(out, &keep);
        if ((b = malloc(sizeof(*b))) != NULL) {
            *b = keep;
            sn_cache_put(&st->keys, id, b, gen);
        }
    }
    memcpy(out->id, id, len + 1);
    return SN_OK;
}

unsigned long
sn_store_revocation_gen(struct sn_store *st)
{
    return __atomic_load_n(&st->revocations, __ATOMIC_SEQ_CST);
}

void
sn_cert_cleanup(struct sn_cert *c)
{
    if (c == NULL)
        return;
    free(c->der);
    memset(c, 0, sizeof(*c));
}

void
sn_cert_list_free(struct sn_cert *c, size_t n)
{
    size_t i;

    for (i = 0; c != NULL && i < n; i++)
        sn_cert_cleanup(&c[i]);
    free(c);
}

/* 1 if path starts with "name:"; *rest is what follows. */
static int
prefixed(const char *path, const char *name, const char **rest)
{
    size_t len = strlen(name);

    if (strncmp(path, name, len) != 0 || path[len] != ':')
        return 0;
    *rest = path + len + 1;
    return 1;
}

/*
 * "name:rest" picks backend name with path rest ("sqlite:PATH",
 * "postgresql://..." or "postgres://..."); a path without a known prefix
 * is a SQLite file (what every configuration said before backends
 * existed, including names with a colon in them).
 */
static const struct sn_store_ops *
pick(const char *path, const char **rest)
{
    size_t i;

    for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (prefixed(path, backends[i]->name, rest))
            return backends[i];
    /* libpq's other scheme */
    if (prefixed(path, "postgres", rest))
        return &sn_store_postgres_ops;
    *rest = path;
    return &sn_store_sqlite_ops;
}

/* The directory of a database file, whose file system is measured. */
static sn_err
dir_of(const char *file, char **out)
{
    const char *slash = strrchr(file, '/');
    size_t n = slash == NULL ? 1 : slash == file ? 1 : (size_t)(slash - file);
    char *d;

    *out = NULL;
    if ((d = malloc(n + 1)) == NULL)
        return SN_ERR_NOMEM;
    if (slash == NULL)
        d[0] = '.';
    else
        memcpy(d, file, n);
    d[n] = '\0';
    *out = d;
    return SN_OK;
}

static int
is(const char *table, const char *name)
{
    return strcmp(table, "*") == 0 || strcmp(table, name) == 0;
}

/* A change another node made to a table: what this node cached of it
 * goes, a revocation among it is counted, then the caller's callback.
 * The backend's listening thread. */
static void
on_change(void *arg, const char *table)
{
    struct sn_store *st = arg;
    void (*fn)(void *, const char *);
    void *fnarg;

    if (is(table, "tokens") || is(table, "accounts"))
        sn_cache_clear(&st->tokens);
    if (is(table, "keys") || is(table, "subscribers"))
        sn_cache_clear(&st->keys);
    if (is(table, "client_certs"))
        sn_cache_clear(&st->clientcerts);
    if (is(table, "tokens") || is(table, "accounts") || is(table, "keys") ||
        is(table, "certificates"))
        __atomic_add_fetch(&st->revocations, 1, __ATOMIC_SEQ_CST);
    pthread_rwlock_rdlock(&st->changed_lock);
    fn = st->changed;
    fnarg = st->changed_arg;
    if (fn != NULL)
        fn(fnarg, table);
    pthread_rwlock_unlock(&st->changed_lock);
}

void
sn_store_watch(struct sn_store *st,
               void (*changed)(void *arg, const char *table), void *arg)
{
    pthread_rwlock_wrlock(&st->changed_lock);
    st->changed = changed;
    st->changed_arg = arg;
    pthread_rwlock_unlock(&st->changed_lock);
}

int
sn_store_shared(const struct sn_store *st)
{
    return st->ops->watch != NULL;
}

sn_err
sn_store_open(const char *path, struct sn_store **out)
{
    return sn_store_open_at(path, NULL, out);
}

sn_err
sn_store_open_at(const char *path, const char *home, struct sn_store **out)
{
    struct sn_store *st = NULL;
    const char *rest;
    sn_err r;

    *out = NULL;
    if ((st = calloc(1, sizeof(*st))) == NULL)
        return SN_ERR_NOMEM;
    sn_cache_init(&st->tokens, 0, token_copy, free);
    sn_cache_init(&st->keys, 0, brief_copy, free);
    sn_cache_init(&st->clientcerts, CC_CACHE_MAX, cc_copy, cc_release);
    pthread_rwlock_init(&st->changed_lock, NULL);
    st->changed_ready = 1;
    if ((r = sn_auditlog_init(st)) != SN_OK)
        goto out;
    if ((st->ops = pick(path, &rest)) == NULL) {
        r = SN_ERR_CONFIG;
        goto out;
    }
    if ((r = st->ops->open(rest, &st->be)) != SN_OK)
        goto out;
    /* A file's directory is measured for free space and holds the log's
     * anchor; a server's database has neither, the home the anchor. */
    if (st->ops == &sn_store_sqlite_ops)
        r = dir_of(rest, &st->dir);
    else if (home != NULL && (st->anchor_dir = strdup(home)) == NULL)
        r = SN_ERR_NOMEM;
    if (r != SN_OK || (r = sn_logcp_open(st)) != SN_OK)
        goto out;
    if (st->ops->watch != NULL &&
        (r = st->ops->watch(st->be, on_change, st)) != SN_OK)
        goto out;
    if ((r = sn_auditlog_start(st)) != SN_OK)
        goto out;
    *out = st;
    st = NULL;
out:
    sn_store_close(st);
    return r;
}

void
sn_store_close(struct sn_store *st)
{
    if (st == NULL)
        return;
    /* The folded records, the last checkpoint (the checkpointer covers
     * everything written), then the writer (it may be in a batch). */
    if (st->writer_running && sn_auditlog_flush(st) != SN_OK)
        sn_warn("audit: folded records not written at close");
    sn_logcp_stop(st);
    sn_auditlog_stop(st);
    if (st->ops != NULL)
        st->ops->close(st->be);
    sn_cache_cleanup(&st->tokens);
    sn_cache_cleanup(&st->keys);
    sn_cache_cleanup(&st->clientcerts);
    if (st->changed_ready)
        pthread_rwlock_destroy(&st->changed_lock);
    sn_auditlog_cleanup(st);
    sn_logcp_close(st);
    free(st->dir);
    free(st->anchor_dir);
    free(st);
}

/*
 * Below the hard floor, writes that add rows are refused (as a database
 * failure: the callers answer 503); revocations and state changes, which
 * take power away, are still tried.
 */
static int
no_room(struct sn_store *st)
{
    return sn_store_space(st) == SN_SPACE_CRITICAL;
}

sn_err
sn_store_token_get(struct sn_store *st, const char *id, struct sn_token *out)
{
    struct sn_token *copy;
    unsigned long gen;
    sn_err r;

    memset(out, 0, sizeof(*out));
    if (sn_cache_get(&st->tokens, id, out))
        return SN_OK;
    gen = sn_cache_gen(&st->tokens);
    if ((r = st->ops->token_get(st->be, id, out)) != SN_OK)
        return r;
    if ((copy = malloc(sizeof(*copy))) != NULL) {
        *copy = *out;
        sn_cache_put(&st->tokens, id, copy, gen);
    }
    return SN_OK;
}

sn_err
sn_store_token_revoke(struct sn_store *st, const char *id, time_t when)
{
    sn_err r = st->ops->token_revoke(st->be, id, when);

    sn_cache_drop(&st->tokens, id);
    return r;
}

/* A busy session writes its use once a minute (or at a quarter of a
 * shorter idle limit). */
#define SN_TOUCH_EVERY 60

sn_err
sn_store_token_touch(struct sn_store *st, const struct sn_token *t, time_t now)
{
    sn_err r;

    time_t every = SN_TOUCH_EVERY;

    /* Well inside the idle limit, so that a session in use never ends. */
    if (t->idle_timeout != 0 && t->idle_timeout / 4 < every)
        every = t->idle_timeout / 4;
    if (now - t->last_used < every)
        return SN_OK;
    r = st->ops->token_touch(st->be, t->id, t->via, now);
    sn_cache_drop(&st->tokens, t->id);
    return r;
}

sn_err
sn_store_session_add(struct sn_store *st, const struct sn_token *t)
{
    if (no_room(st))
        return SN_ERR_DB;
    return st->ops->session_add(st->be, t);
}

sn_err
sn_store_account_add(struct sn_store *st, const struct sn_account *a,
                     int first_operator)
{
    if (no_room(st))
        return SN_ERR_DB;
    return st->ops->account_add(st->be, a, first_operator);
}

sn_err
sn_store_account_get(struct sn_store *st, const char *id,
                     struct sn_account *out)
{
    return st->ops->account_get(st->be, id, out);
}

sn_err
sn_store_account_by_name(struct sn_store *st, const char *name,
                         struct sn_account *out)
{
    return st->ops->account_by_name(st->be, name, out);
}

sn_err
sn_store_account_list(struct sn_store *st, const char *subscriber,
                      struct sn_account **out, size_t *n)
{
    return st->ops->account_list(st->be, subscriber, out, n);
}

sn_err
sn_store_account_totp_pending(struct sn_store *st, const char *id,
                              const uint8_t *sealed, size_t len)
{
    return st->ops->account_totp_pending(st->be, id, sealed, len);
}

sn_err
sn_store_account_totp_clear(struct sn_store *st, const char *id)
{
    sn_err r = st->ops->account_totp_clear(st->be, id);

    /* Its sessions were revoked in the database (store.h). */
    sn_cache_clear(&st->tokens);
    return r;
}

sn_err
sn_store_account_totp_confirm(struct sn_store *st, const char *id,
                              const uint8_t *sealed, size_t len, int64_t step)
{
    return st->ops->account_totp_confirm(st->be, id, sealed, len, step);
}

sn_err
sn_store_account_totp_step(struct sn_store *st, const char *id, int64_t step)
{
    return st->ops->account_totp_step(st->be, id, step);
}

sn_err
sn_store_account_login(struct sn_store *st, const char *id, int good,
                       time_t now, const struct sn_lockout *lk)
{
    return st->ops->account_login(st->be, id, good, now, lk);
}

sn_err
sn_store_account_set_password(struct sn_store *st, const char *id,
                              const char *pw_hash)
{
    return st->ops->account_set_password(st->be, id, pw_hash);
}

sn_err
sn_store_account_disable(struct sn_store *st, const char *id, time_t when)
{
    sn_err r = st->ops->account_disable(st->be, id, when);

    /* Its sessions were revoked in the database: no cached copy of one
     * may still say otherwise. */
    sn_cache_clear(&st->tokens);
    return r;
}

sn_err
sn_store_recovery_set(struct sn_store *st, const char *account,
                      const uint8_t (*hashes)[32], size_t n)
{
    return st->ops->recovery_set(st->be, account, hashes, n);
}

sn_err
sn_store_recovery_use(struct sn_store *st, const char *account,
                      const uint8_t hash[32], time_t when)
{
    return st->ops->recovery_use(st->be, account, hash, when);
}

sn_err
sn_store_key_transition(struct sn_store *st, const char *id, unsigned from,
                        enum sn_key_state to)
{
    sn_err r = st->ops->key_transition(st->be, id, from, to);

    sn_cache_drop(&st->keys, id);
    return r;
}

sn_err
sn_store_key_set_cert(struct sn_store *st, const char *id, const char *pem)
{
    sn_err r;

    if (no_room(st))
        return SN_ERR_DB;
    r = st->ops->key_set_cert(st->be, id, pem);
    sn_cache_drop(&st->keys, id);
    return r;
}

sn_err
sn_store_cert_revoke(struct sn_store *st, const char *serial,
                     time_t revocation_date, int reason, time_t revoked_at)
{
    sn_err r = st->ops->cert_revoke(st->be, serial, revocation_date, reason,
                                    revoked_at);

    /* After the write, also when its report is unsure: whoever read a
     * status before this point reads it again. */
    __atomic_add_fetch(&st->revocations, 1, __ATOMIC_SEQ_CST);
    return r;
}

sn_err
sn_store_cert_compromise(struct sn_store *st, const uint8_t *spki,
                         size_t spki_len, time_t revocation_date,
                         time_t revoked_at)
{
    sn_err r = st->ops->cert_compromise(st->be, spki, spki_len, revocation_date,
                                        revoked_at);

    __atomic_add_fetch(&st->revocations, 1, __ATOMIC_SEQ_CST);
    return r;
}

sn_err
sn_store_subscriber_add(struct sn_store *st, const struct sn_subscriber *s)
{
    if (no_room(st))
        return SN_ERR_DB;
    return st->ops->subscriber_add(st->be, s);
}

sn_err
sn_store_subscriber_get(struct sn_store *st, const char *id,
                        struct sn_subscriber *out)
{
    return st->ops->subscriber_get(st->be, id, out);
}

sn_err
sn_store_subscriber_by_name(struct sn_store *st, const char *name,
                            struct sn_subscriber *out)
{
    return st->ops->subscriber_by_name(st->be, name, out);
}

sn_err
sn_store_subscriber_list(struct sn_store *st, struct sn_subscriber **out,
                         size_t *n)
{
    return st->ops->subscriber_list(st->be, out, n);
}

sn_err
sn_store_token_add(struct sn_store *st, const struct sn_token *t)
{
    if (no_room(st))
        return SN_ERR_DB;
    return st->ops->token_add(st->be, t);
}

void
sn_clientcert_cleanup(struct sn_clientcert *c)
{
    if (c == NULL)
        return;
    free(c->pem);
    memset(c, 0, sizeof(*c));
}

void
sn_clientcert_list_free(struct sn_clientcert *c, size_t n)
{
    size_t i;

    for (i = 0; c != NULL && i < n; i++)
        sn_clientcert_cleanup(&c[i]);
    free(c);
}

sn_err
sn_store_clientcert_add(struct sn_store *st, const struct sn_clientcert *c)
{
    sn_err r;

    if (no_room(st))
        return SN_ERR_DB;
    r = st->ops->clientcert_add(st->be, c);
    /* After the write: a lookup that read the table before it cannot
     * store its stale answer (the clear moves the generation on). */
    sn_cache_clear(&st->clientcerts);
    return r;
}

sn_err
sn_store_clientcert_get(struct sn_store *st, const char *id,
                        struct sn_clientcert *out)
{
    return st->ops->clientcert_get(st->be, id, out);
}

sn_err
sn_store_clientcert_list(struct sn_store *st, const char *subscriber,
                         struct sn_clientcert **out, size_t *n)
{
    return st->ops->clientcert_list(st->be, subscriber, out, n);
}

sn_err
sn_store_clientcert_find(struct sn_store *st, const char *match,
                         struct sn_clientcert **out, size_t *n)
{
    struct cc_set got, *keep;
    unsigned long gen;
    sn_err r;

    *out = NULL;
    *n = 0;
    if (sn_cache_get(&st->clientcerts, match, &got)) {
        *out = got.c;
        *n = got.n;
        return SN_OK;
    }
    gen = sn_cache_gen(&st->clientcerts);
    if ((r = st->ops->clientcert_find(st->be, match, out, n)) != SN_OK)
        return r;
    if ((keep = calloc(1, sizeof(*keep))) != NULL) {
        struct cc_set view = {*out, *n};

        if (cc_copy(keep, &view))
            sn_cache_put(&st->clientcerts, match, keep, gen);
        else
            free(keep);
    }
    return SN_OK;
}

sn_err
sn_store_clientcert_delete(struct sn_store *st, const char *id)
{
    sn_err r = st->ops->clientcert_delete(st->be, id);

    sn_cache_clear(&st->clientcerts);
    return r;
}

sn_err
sn_store_key_add(struct sn_store *st, const struct sn_key *k)
{
    if (no_room(st))
        return SN_ERR_DB;
    return st->ops->key_add(st->be, k);
}

sn_err
sn_store_key_get(struct sn_store *st, const char *id, struct sn_key *out)
{
    uint8_t md[32];
    sn_err r = st->ops->key_get(st->be, id, out);

    if (r == SN_OK && out->spki != NULL &&
        EVP_Digest(out->spki, out->spki_len, md, NULL, EVP_sha256(), NULL) == 1)
        sn_hex_encode(md, sizeof(md), out->spki_sha256);
    return r;
}

sn_err
sn_store_key_list(struct sn_store *st, const char *subscriber,
                  struct sn_key **out, size_t *n)
{
    return st->ops->key_list(st->be, subscriber, out, n);
}

sn_err
sn_store_audit_page(struct sn_store *st, const char *subscriber,
                    const char *key, const struct sn_audit_page *pg,
                    struct sn_audit **out, size_t *n)
{
    /* Read your refusals: what was counted is written before the read. A
     * failed write leaves the counts in memory for the next try. */
    if (sn_auditlog_flush(st) != SN_OK)
        sn_warn("audit: folded records not written before a read");
    return st->ops->audit_list(st->be, subscriber, key, pg, out, n);
}

sn_err
sn_store_audit_list(struct sn_store *st, const char *subscriber,
                    const char *key, int64_t after, size_t limit,
                    struct sn_audit **out, size_t *n)
{
    struct sn_audit_page pg = {.after = after, .limit = limit};

    return sn_store_audit_page(st, subscriber, key, &pg, out, n);
}

sn_err
sn_store_identity_set(struct sn_store *st, const char *subscriber,
                      const char *json)
{
    if (no_room(st))
        return SN_ERR_DB;
    return st->ops->identity_set(st->be, subscriber, json);
}

sn_err
sn_store_policy_set(struct sn_store *st, const char *target,
                    const char *subscriber, const char *json)
{
    if (no_room(st))
        return SN_ERR_DB;
    return st->ops->policy_set(st->be, target, subscriber, json);
}

sn_err
sn_store_policy_get(struct sn_store *st, const char *target, char **json)
{
    return st->ops->policy_get(st->be, target, json);
}

sn_err
sn_store_policy_delete(struct sn_store *st, const char *target)
{
    return st->ops->policy_delete(st->be, target);
}

sn_err
sn_store_sign_count(struct sn_store *st, const char *key, time_t since,
                    uint64_t *out)
{
    *out = 0;
    return st->ops->sign_count(st->be, key, since, out);
}

sn_err
sn_store_identity_get(struct sn_store *st, const char *subscriber, char **json)
{
    return st->ops->identity_get(st->be, subscriber, json);
}

sn_err
sn_store_cert_add(struct sn_store *st, const struct sn_cert *c)
{
    if (no_room(st))
        return SN_ERR_DB;
    return st->ops->cert_add(st->be, c);
}

sn_err
sn_store_cert_get(struct sn_store *st, const char *ca, const char *serial,
                  struct sn_cert *out)
{
    return st->ops->cert_get(st->be, ca, serial, out);
}

sn_err
sn_store_pin_put(struct sn_store *st, const char *subscriber,
                 const uint8_t *sealed, size_t len)
{
    return st->ops->pin_put(st->be, subscriber, sealed, len);
}

sn_err
sn_store_pin_get(struct sn_store *st, const char *subscriber, uint8_t **sealed,
                 size_t *len)
{
    return st->ops->pin_get(st->be, subscriber, sealed, len);
}

sn_err
sn_store_cert_latest(struct sn_store *st, const char *ca, const char *profile,
                     struct sn_cert *out)
{
    return st->ops->cert_latest(st->be, ca, profile, out);
}

sn_err
sn_store_cert_by_spki(struct sn_store *st, const uint8_t *spki, size_t spki_len,
                      struct sn_cert **out, size_t *n)
{
    return st->ops->cert_by_spki(st->be, spki, spki_len, out, n);
}

sn_err
sn_store_cert_unindexed(struct sn_store *st, const char *after, size_t limit,
                        struct sn_cert **out, size_t *n)
{
    return st->ops->cert_unindexed(st->be, after, limit, out, n);
}

sn_err
sn_store_cert_set_spki(struct sn_store *st, const char *serial,
                       const uint8_t *spki, size_t spki_len)
{
    return st->ops->cert_set_spki(st->be, serial, spki, spki_len);
}

sn_err
sn_store_cert_revoked(struct sn_store *st, const char *ca, struct sn_cert **out,
                      size_t *n)
{
    return st->ops->cert_revoked(st->be, ca, out, n);
}

int
sn_store_key_compromised(struct sn_store *st, const char *key)
{
    return st->ops->key_compromised(st->be, key);
}

sn_err
sn_store_crl_get(struct sn_store *st, const char *ca, uint8_t **der,
                 size_t *len, int64_t *number, time_t *this_update)
{
    return st->ops->crl_get(st->be, ca, der, len, number, this_update);
}

sn_err
sn_store_crl_put(struct sn_store *st, const char *ca, int64_t number,
                 time_t this_update, const uint8_t *der, size_t len)
{
    return st->ops->crl_put(st->be, ca, number, this_update, der, len);
}

sn_err
sn_store_counter_next(struct sn_store *st, const char *name, int64_t *out)
{
    return st->ops->counter_next(st->be, name, out);
}

sn_err
sn_store_ping(struct sn_store *st)
{
    return st->ops->ping(st->be);
}

sn_err
sn_store_usage(struct sn_store *st, const char *subscriber, time_t since,
               struct sn_usage *out)
{
    memset(out, 0, sizeof(*out));
    return st->ops->usage(st->be, subscriber, since, out);
}

/* ---- room to write ---- */

const char *
sn_space_name(enum sn_space s)
{
    switch (s) {
    case SN_SPACE_OK:
        return "ok";
    case SN_SPACE_LOW:
        return "low";
    case SN_SPACE_CRITICAL:
        return "critical";
    }
    return "unknown";
}

void
sn_store_set_limits(struct sn_store *st, const struct sn_store_limits *l)
{
    pthread_mutex_lock(&st->qlock);
    st->limits = *l;
    pthread_mutex_unlock(&st->qlock);
    __atomic_store_n(&st->space_at_ms, 0, __ATOMIC_SEQ_CST);
}

/* The free space now, against the watermark. */
static enum sn_space
measure(struct sn_store *st)
{
    struct sn_store_limits l;
    struct statvfs v;
    uint64_t avail, low, size;

    pthread_mutex_lock(&st->qlock);
    l = st->limits;
    pthread_mutex_unlock(&st->qlock);
    if (l.min_free == 0 || st->dir == NULL || statvfs(st->dir, &v) != 0)
        return SN_SPACE_OK;
    /* What an unprivileged writer may use: signetd need not be root. */
    avail = (uint64_t)v.f_bavail * v.f_frsize;
    size = (uint64_t)v.f_blocks * v.f_frsize;
    low = l.min_free;
    if (l.min_free_auto && size / 10 < low)
        low = size / 10;
    if (avail < low / 4)
        return SN_SPACE_CRITICAL;
    return avail < low ? SN_SPACE_LOW : SN_SPACE_OK;
}

enum sn_space
sn_store_space(struct sn_store *st)
{
    int64_t now = sn_store_now_ms();
    int64_t at = __atomic_load_n(&st->space_at_ms, __ATOMIC_ACQUIRE);

    /* One caller a second measures; the others take its answer. */
    if ((at == 0 || now - at >= 1000) &&
        __atomic_compare_exchange_n(&st->space_at_ms, &at, now, 0,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        __atomic_store_n(&st->space, (int)measure(st), __ATOMIC_RELEASE);
    return (enum sn_space)__atomic_load_n(&st->space, __ATOMIC_ACQUIRE);
}

/* ---- OIDC issuers and trust policies ---- */

sn_err
sn_store_oidc_issuer_add(struct sn_store *st, const struct sn_oidc_issuer *i)
{
    if (no_room(st))
        return SN_ERR_DB;
    return st->ops->oidc_issuer_add(st->be, i);
}

sn_err
sn_store_oidc_issuer_list(struct sn_store *st, struct sn_oidc_issuer **out,
                          size_t *n)
{
    return st->ops->oidc_issuer_list(st->be, out, n);
}

sn_err
sn_store_oidc_issuer_delete(struct sn_store *st, const char *id)
{
    return st->ops->oidc_issuer_delete(st->be, id);
}

sn_err
sn_store_trust_policy_add(struct sn_store *st, const struct sn_trust_policy *p)
{
    if (no_room(st))
        return SN_ERR_DB;
    return st->ops->trust_policy_add(st->be, p);
}

sn_err
sn_store_trust_policy_list(struct sn_store *st, const char *subscriber,
                           const char *issuer, struct sn_trust_policy **out,
                           size_t *n)
{
    return st->ops->trust_policy_list(st->be, subscriber, issuer, out, n);
}

sn_err
sn_store_trust_policy_delete(struct sn_store *st, const char *subscriber,
                             const char *id)
{
    return st->ops->trust_policy_delete(st->be, subscriber, id);
}

void
sn_trust_policy_list_free(struct sn_trust_policy *p, size_t n)
{
    size_t i;

    for (i = 0; p != NULL && i < n; i++)
        free(p[i].body);
    free(p);
}

sn_err
sn_store_oidc_jti_use(struct sn_store *st, const char *issuer, const char *jti,
                      time_t expires_at, time_t now)
{
    if (no_room(st))
        return SN_ERR_DB;
    return st->ops->oidc_jti_use(st->be, issuer, jti, expires_at, now);
}

/* ---- sign requests (issue 17) ---- */

static const char *const sr_names[SN_SR_STATE_COUNT] = {
    [SN_SR_PENDING] = "pending_approval",
    [SN_SR_APPROVED] = "approved",
    [SN_SR_COMPLETED] = "completed",
    [SN_SR_FAILED] = "failed",
    [SN_SR_DENIED] = "denied",
    [SN_SR_EXPIRED] = "expired",
    [SN_SR_CANCELED] = "canceled",
};

const char *
sn_sr_state_name(enum sn_sr_state s)
{
    return (unsigned)s < SN_SR_STATE_COUNT ? sr_names[s] : "unknown";
}

sn_err
sn_sr_state_from_name(const char *name, enum sn_sr_state *out)
{
    size_t i;

    for (i = 0; name != NULL && i < SN_SR_STATE_COUNT; i++)
        if (strcmp(name, sr_names[i]) == 0) {
            *out = (enum sn_sr_state)i;
            return SN_OK;
        }
    return SN_ERR_INVALID;
}

void
sn_sign_request_cleanup(struct sn_sign_request *r)
{
    if (r == NULL)
        return;
    free(r->digests);
    free(r->signatures);
    memset(r, 0, sizeof(*r));
}

void
sn_sign_request_list_free(struct sn_sign_request *r, size_t n)
{
    size_t i;

    for (i = 0; r != NULL && i < n; i++)
        sn_sign_request_cleanup(&r[i]);
    free(r);
}

sn_err
sn_store_sign_request_add(struct sn_store *st, const struct sn_sign_request *r)
{
    if (no_room(st))
        return SN_ERR_DB;
    if (r->ndigests == 0 || r->ndigests > SN_SR_MAX_DIGESTS ||
        r->napprovers == 0 || r->napprovers > SN_SR_MAX_APPROVERS ||
        r->required == 0 || r->required > r->napprovers)
        return SN_ERR_INVALID;
    return st->ops->sign_request_add(st->be, r);
}

sn_err
sn_store_sign_request_get(struct sn_store *st, const char *id,
                          struct sn_sign_request *out)
{
    memset(out, 0, sizeof(*out));
    return st->ops->sign_request_get(st->be, id, out);
}

sn_err
sn_store_sign_request_list(struct sn_store *st, const char *subscriber,
                           enum sn_sr_state state, size_t limit,
                           struct sn_sign_request **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (limit == 0 || limit > 1000 || (unsigned)state > SN_SR_STATE_COUNT)
        return SN_ERR_INVALID;
    return st->ops->sign_request_list(st->be, subscriber, state, limit, out, n);
}

sn_err
sn_store_sign_request_vote(struct sn_store *st, const char *id,
                           const struct sn_sr_vote *v, time_t now,
                           enum sn_sr_state *state, int *decided)
{
    *state = SN_SR_PENDING;
    *decided = 0;
    if (no_room(st))
        return SN_ERR_DB;
    return st->ops->sign_request_vote(st->be, id, v, now, state, decided);
}

sn_err
sn_store_sign_request_move(struct sn_store *st, const char *id,
                           enum sn_sr_state from, enum sn_sr_state to,
                           time_t now, const char *reason,
                           const char *signatures)
{
    if ((unsigned)from >= SN_SR_STATE_COUNT ||
        (unsigned)to >= SN_SR_STATE_COUNT)
        return SN_ERR_INVALID;
    /* A move is allowed even when space is short: it ends a request (and
     * completing one is what its signatures wait for). */
    return st->ops->sign_request_move(st->be, id, from, to, now, reason,
                                      signatures);
}

sn_err
sn_store_sign_request_sweep(struct sn_store *st, time_t now,
                            time_t stale_before, size_t max,
                            struct sn_sign_request **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (max == 0 || max > 1000)
        return SN_ERR_INVALID;
    return st->ops->sign_request_sweep(st->be, now, stale_before, max, out, n);
}
