/*
 * auth: bearer API tokens (see auth.h). The header is untrusted: it is
 * parsed by sn_apitoken_parse, the token is looked up by id and its
 * secret's hash compared in constant time; the hash is wiped after use.
 */
#include "auth/auth.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "crypto/apitoken.h"

const char *
sn_auth_fault_str(enum sn_auth_fault f)
{
    switch (f) {
#define SN_AUTH_STR(c, m)                                                      \
    case c:                                                                    \
        return m;
        SN_AUTH_FAULTS(SN_AUTH_STR)
#undef SN_AUTH_STR
    }
    return "authentication failed";
}

/* The store and its trigger name a login session by this number. */
_Static_assert(SN_AUTH_SESSION == 3, "sessions are auth_method 3 in the store");

/* Revoked, expired (a session also when idle too long) or good: the token
 * row's own state. */
static enum sn_auth_fault
token_state(const struct sn_token *t, time_t now)
{
    if (t->revoked_at != 0)
        return SN_AUTH_REVOKED;
    if (t->expires_at != 0 && t->expires_at <= now)
        return SN_AUTH_EXPIRED;
    if (t->auth_method == SN_AUTH_SESSION && t->idle_timeout != 0 &&
        t->last_used + (time_t)t->idle_timeout <= now)
        return SN_AUTH_IDLE;
    return SN_AUTH_OK;
}

void
sn_audit_principal(char *buf, size_t len, int method, const char *id,
                   const char *via, const char *proof)
{
    if (method == SN_AUTH_OIDC)
        snprintf(buf, len, "oidc policy=%s %s", via, proof);
    else if (method == SN_AUTH_MTLS)
        snprintf(buf, len, "mtls registration=%s %s", via, proof);
    else if (method == SN_AUTH_SESSION)
        snprintf(buf, len, "session account=%s %s", via, proof);
    else
        snprintf(buf, len, "%s", id);
}

void
sn_auth_audit_refused(struct sn_store *st, const char *subscriber,
                      const char *id, int method, const char *via,
                      const char *proof, const char *client,
                      enum sn_auth_fault f)
{
    struct sn_audit a;

    memset(&a, 0, sizeof(a));
    a.time = time(NULL);
    snprintf(a.subscriber, sizeof(a.subscriber), "%s", subscriber);
    snprintf(a.token, sizeof(a.token), "%s", id);
    snprintf(a.client, sizeof(a.client), "%s", client);
    snprintf(a.action, sizeof(a.action), "denied");
    snprintf(a.result, sizeof(a.result), "denied");
    snprintf(a.detail, sizeof(a.detail), "%s", sn_auth_fault_str(f));
    sn_audit_principal(a.principal, sizeof(a.principal), method, id, via,
                       proof);
    /* Counted, written off this thread (store.h): a flood of a refused
     * credential is a few rows a minute, and no request waits for the
     * disk. */
    sn_store_audit_tally(st, &a);
}

/* The subscriber's log shows a refused token of theirs being used. */
static void
audit_refused(struct sn_store *st, const struct sn_token *t, const char *client,
              enum sn_auth_fault f)
{
    sn_auth_audit_refused(st, t->subscriber, t->id, t->auth_method, t->via,
                          t->proof, client, f);
}

/* The principal a token row stands for: no hash, no secret. */
/* The principal's fields are copied whole from the token row's. */
_Static_assert(sizeof(((struct sn_principal *)0)->id) ==
                   sizeof(((struct sn_token *)0)->id),
               "principal id and token id differ in size");
_Static_assert(sizeof(((struct sn_principal *)0)->name) ==
                   sizeof(((struct sn_token *)0)->name),
               "principal name and token name differ in size");
_Static_assert(sizeof(((struct sn_principal *)0)->subscriber) ==
                   sizeof(((struct sn_token *)0)->subscriber),
               "principal subscriber and token subscriber differ in size");
_Static_assert(sizeof(((struct sn_principal *)0)->keys) ==
                   sizeof(((struct sn_token *)0)->keys),
               "principal keys and token keys differ in size");

_Static_assert(sizeof(((struct sn_principal *)0)->via) ==
                   sizeof(((struct sn_token *)0)->via),
               "principal via and token via differ in size");
_Static_assert(sizeof(((struct sn_principal *)0)->proof) ==
                   sizeof(((struct sn_token *)0)->proof),
               "principal proof and token proof differ in size");

static void
principal_from_token(const struct sn_token *t, struct sn_principal *p)
{
    memset(p, 0, sizeof(*p));
    p->method = SN_AUTH_BEARER;
    memcpy(p->id, t->id, sizeof(p->id));
    memcpy(p->name, t->name, sizeof(p->name));
    memcpy(p->subscriber, t->subscriber, sizeof(p->subscriber));
    p->admin = t->admin;
    p->roles = t->roles;
    memcpy(p->keys, t->keys, sizeof(p->keys));
    p->nkeys = t->nkeys;
    p->expires_at = t->expires_at;
    p->created_at = t->created_at;
    /* A minted token carries how its holder proved who they were. */
    if (t->auth_method == SN_AUTH_OIDC || t->auth_method == SN_AUTH_MTLS ||
        t->auth_method == SN_AUTH_SESSION)
        p->method = (enum sn_auth_method)t->auth_method;
    p->mfa = t->auth_method == SN_AUTH_SESSION && t->mfa;
    /* The bootstrap admin token (not a person's session) holds every
     * operator role; an operator's session holds its account's. */
    if (t->admin && t->auth_method != SN_AUTH_SESSION)
        p->roles |= SN_OP_ROLES;
    memcpy(p->via, t->via, sizeof(p->via));
    memcpy(p->proof, t->proof, sizeof(p->proof));
}

/* Anyone can send a bad token at will: its lines are budgeted (the audit
 * log counts every refusal of a known token, folded per minute). */
static struct sn_log_limit unknown_lines = SN_LOG_LIMIT(10, 10);
static struct sn_log_limit refused_lines = SN_LOG_LIMIT(10, 10);

enum sn_auth_fault
sn_auth_bearer(struct sn_store *st, const char *header, const char *client,
               struct sn_principal *out)
{
    uint8_t hash[SN_TOKEN_HASH_LEN];
    char id[SN_UUID_LEN];
    struct sn_token t;
    enum sn_auth_fault f;
    sn_err r;

    memset(out, 0, sizeof(*out));
    memset(&t, 0, sizeof(t));
    memset(hash, 0, sizeof(hash));
    f = SN_AUTH_MISSING;
    if (header == NULL || strncmp(header, "Bearer ", 7) != 0)
        goto out;
    f = SN_AUTH_MALFORMED;
    if (sn_apitoken_parse(header + 7, id, hash) != SN_OK)
        goto out;
    r = sn_store_token_get(st, id, &t);
    if (r != SN_OK && r != SN_ERR_NOT_FOUND) {
        f = SN_AUTH_UNAVAILABLE;
        goto out;
    }
    if (r == SN_ERR_NOT_FOUND || !sn_apitoken_hash_equal(hash, t.hash)) {
        sn_log_limited(&unknown_lines, SN_LOG_WARN,
                       "auth: unknown token from %s", client);
        f = SN_AUTH_UNKNOWN;
        goto out;
    }
    if ((f = token_state(&t, time(NULL))) != SN_AUTH_OK) {
        sn_log_limited(&refused_lines, SN_LOG_WARN,
                       "auth: %s: token %s from %s", sn_auth_fault_str(f), t.id,
                       client);
        if (!t.admin)
            audit_refused(st, &t, client, f);
        goto out;
    }
    principal_from_token(&t, out);
    /* A session's idle limit runs from its last use (written once a
     * minute); a failed write is not the caller's fault. */
    if (t.auth_method == SN_AUTH_SESSION)
        (void)sn_store_token_touch(st, &t, time(NULL));
out:
    OPENSSL_cleanse(hash, sizeof(hash));
    OPENSSL_cleanse(&t, sizeof(t));
    return f;
}

enum sn_auth_fault
sn_auth_recheck(struct sn_store *st, const struct sn_principal *p)
{
    struct sn_token t;
    enum sn_auth_fault f;

    if (p->method == SN_AUTH_MTLS)
        return sn_auth_mtls_recheck(st, p);
    memset(&t, 0, sizeof(t));
    if (sn_store_token_get(st, p->id, &t) != SN_OK)
        f = SN_AUTH_UNKNOWN;
    else
        f = token_state(&t, time(NULL));
    OPENSSL_cleanse(&t, sizeof(t));
    return f;
}
