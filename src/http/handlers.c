/*
 * handlers: helpers shared by the route handlers (typed JSON access, key
 * objects, loading a key for the caller) and the small routes: health,
 * whoami, audit.
 */
#include "http/bodies.h"
#include "http/handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/auth.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/x509util.h"

json_t *
sn_time_json(time_t t)
{
    char buf[SN_TIME_LEN];

    if (t == 0)
        return json_null();
    sn_time_format(t, buf);
    return json_string(buf);
}

json_t *
sn_key_json(const struct sn_key *k)
{
    EVP_PKEY *pub = NULL;
    char *pem = NULL;
    json_t *o;

    if (sn_pubkey_from_der(k->spki, k->spki_len, &pub) != SN_OK ||
        sn_pubkey_to_pem(pub, &pem) != SN_OK) {
        EVP_PKEY_free(pub);
        return NULL;
    }
    EVP_PKEY_free(pub);
    o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:{s:b, s:b, s:b, s:b, s:b},"
        " s:{s:s, s:s, s:s, s:s}}",
        "id", k->id, "subscriber", k->subscriber, "label", k->label,
        "algorithm", sn_keyalg_name(k->alg), "state",
        sn_key_state_name(k->state), "created_at", sn_time_json(k->created_at),
        "public_key_pem", pem, "protection", "local", k->facts.local,
        "never_extractable", k->facts.never_extractable, "always_sensitive",
        k->facts.always_sensitive, "extractable", k->facts.extractable,
        "sensitive", k->facts.sensitive, "hsm", "manufacturer",
        k->hsm.manufacturer, "model", k->hsm.model, "serial", k->hsm.serial,
        "token_label", k->hsm.label);
    free(pem);
    if (o != NULL && k->cert_pem != NULL)
        json_object_set_new(o, "certificate_pem", json_string(k->cert_pem));
    return o;
}

void
sn_audit_signature(struct sn_audit *a, const struct sn_key *k,
                   const uint8_t *sig, size_t siglen)
{
    uint8_t md[32];

    if (sig != NULL &&
        EVP_Digest(sig, siglen, md, NULL, EVP_sha256(), NULL) == 1)
        sn_hex_encode(md, sizeof(md), a->sig_sha256);
    if (k != NULL && k->spki_sha256[0] != '\0')
        memcpy(a->spki_sha256, k->spki_sha256, sizeof(a->spki_sha256));
    else if (k != NULL && k->spki != NULL &&
             EVP_Digest(k->spki, k->spki_len, md, NULL, EVP_sha256(), NULL) ==
                 1)
        sn_hex_encode(md, sizeof(md), a->spki_sha256);
}

sn_err
sn_audit_salt(struct sn_audit *a, int commit)
{
    uint8_t salt[32];
    sn_err r;

    if (!commit)
        return SN_OK;
    if ((r = sn_random(salt, sizeof(salt))) != SN_OK)
        return r;
    sn_hex_encode(salt, sizeof(salt), a->digest_salt);
    return SN_OK;
}

void
sn_audit_init(struct sn_audit *a, const struct sn_req *req,
              const char *subscriber, const char *key, const char *action)
{
    memset(a, 0, sizeof(*a));
    a->time = time(NULL);
    snprintf(a->subscriber, sizeof(a->subscriber), "%s",
             subscriber ? subscriber : "");
    snprintf(a->key, sizeof(a->key), "%s", key ? key : "");
    if (req != NULL) {
        if (req->who != NULL) {
            snprintf(a->token, sizeof(a->token), "%s", req->who->id);
            a->operator_ = req->who->admin;
            sn_audit_principal(a->principal, sizeof(a->principal),
                               req->who->method, req->who->id, req->who->via,
                               req->who->proof);
        }
        snprintf(a->client, sizeof(a->client), "%s", req->client);
    }
    snprintf(a->action, sizeof(a->action), "%s", action);
    snprintf(a->result, sizeof(a->result), "ok");
}

/* Records a denied request in the subscriber's audit log. */
static void
audit_denied(const struct sn_deps *deps, struct sn_req *req,
             const char *subscriber, const char *key, const char *detail)
{
    struct sn_audit a;

    sn_audit_init(&a, req, subscriber, key, "denied");
    snprintf(a.result, sizeof(a.result), "denied");
    snprintf(a.detail, sizeof(a.detail), "%s %s: %s", req->method, req->route,
             detail);
    /* Counted, not written here: the audit writer writes one record per
     * caller, key and reason a minute (store.h), so a flood of refusals
     * neither waits for the disk nor grows the log by a row each. */
    sn_store_audit_tally(deps->store, &a);
}

/* The answer to a denial, and its record where the policy asks for one. */
static void
answer_denial(const struct sn_deps *deps, struct sn_req *req,
              struct sn_resp *resp, const struct sn_decision *d,
              const char *key)
{
    if (d->audit_subscriber != NULL)
        audit_denied(deps, req, d->audit_subscriber, key, d->audit_detail);
    sn_resp_error(resp,
                  d->hide                    ? API_NOT_FOUND
                  : d->reason == SN_DENY_MFA ? API_MFA_REQUIRED
                                             : API_FORBIDDEN,
                  "%s", d->message);
}

int
sn_allowed(const struct sn_deps *deps, struct sn_req *req, struct sn_resp *resp,
           enum sn_action action, const struct sn_resource *r)
{
    struct sn_decision d;

    if (sn_policy_decide(req->who, action, r, &d) == SN_POLICY_ALLOW)
        return 0;
    answer_denial(deps, req, resp, &d, r != NULL && r->key ? r->key : "");
    return -1;
}

/* A caller can probe other tenants' keys at will (each probe is also
 * counted in the owner's audit log): its lines are budgeted. */
static struct sn_log_limit foreign_lines = SN_LOG_LIMIT(10, 10);

static int
load_key(const struct sn_deps *deps, struct sn_req *req, struct sn_resp *resp,
         enum sn_action action, int brief, struct sn_key *key)
{
    const struct sn_principal *who = req->who;
    const char *id = req->params[0];
    struct sn_resource res;
    struct sn_decision d;
    sn_err r;

    memset(key, 0, sizeof(*key));
    /* Roles first, before the store is asked. */
    if (sn_policy_decide(who, action, NULL, &d) != SN_POLICY_ALLOW) {
        answer_denial(deps, req, resp, &d, id);
        return -1;
    }
    r = brief ? sn_store_key_brief(deps->store, id, key)
              : sn_store_key_get(deps->store, id, key);
    if (r == SN_ERR_NOT_FOUND) {
        sn_resp_error(resp, API_NOT_FOUND, "no such key");
        return -1;
    }
    if (r != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return -1;
    }
    memset(&res, 0, sizeof(res));
    res.subscriber = key->subscriber;
    res.key = id;
    if (sn_policy_decide(who, action, &res, &d) != SN_POLICY_ALLOW) {
        /* Another subscriber's key: the owner's log shows the attempt. */
        if (d.reason == SN_DENY_FOREIGN)
            sn_log_limited(&foreign_lines, SN_LOG_WARN,
                           "security: token %s of subscriber %s tried key %s "
                           "of subscriber %s",
                           who->id, who->subscriber, id, key->subscriber);
        answer_denial(deps, req, resp, &d, id);
        sn_key_cleanup(key);
        return -1;
    }
    return 0;
}

int
sn_load_key(const struct sn_deps *deps, struct sn_req *req,
            struct sn_resp *resp, enum sn_action action, struct sn_key *key)
{
    return load_key(deps, req, resp, action, 0, key);
}

int
sn_load_key_brief(const struct sn_deps *deps, struct sn_req *req,
                  struct sn_resp *resp, enum sn_action action,
                  struct sn_key *key)
{
    return load_key(deps, req, resp, action, 1, key);
}

/* A write probed (store.h: cached a second, bounded in time) and the free
 * space: "ok", "low" (anonymous work refused), "degraded" (every write
 * refused) or "failed" (the probe write failed). */
static const char *
storage_state(struct sn_store *st)
{
    enum sn_space sp;

    if (sn_store_probe(st) != SN_OK)
        return "failed";
    sp = sn_store_space(st);
    return sp == SN_SPACE_OK ? "ok" : sp == SN_SPACE_LOW ? "low" : "degraded";
}

void
sn_h_healthz(const struct sn_deps *deps, struct sn_req *req,
             struct sn_resp *resp)
{
    int hsm_ok = sn_keeper_ping(deps->keeper) == SN_OK;
    int db_ok = sn_store_ping(deps->store) == SN_OK;
    const char *storage = storage_state(deps->store);
    /* issue 18: a log that failed its check at open signs nothing */
    int log_ok = sn_store_log_ok(deps->store);

    (void)req;
    /* Low space still serves signing: reported, not a failure. */
    if (!hsm_ok || !db_ok || !log_ok ||
        (strcmp(storage, "ok") != 0 && strcmp(storage, "low") != 0)) {
        sn_resp_error(
            resp, API_UNAVAILABLE, "hsm %s, database %s, storage %s, log %s",
            hsm_ok ? "ok" : "unreachable", db_ok ? "ok" : "unreachable",
            storage, log_ok ? "ok" : "inconsistent with its checkpoint");
        return;
    }
    sn_resp_json(resp, API_OK,
                 json_pack("{s:s, s:s, s:s, s:s, s:s}", "status", "ok", "hsm",
                           "ok", "database", "ok", "storage", storage, "log",
                           "ok"));
}

/* A token's or the caller's rights, in the one shape clients read. */
static json_t *
grant_json(const char *id, const char *name, const char *subscriber, int admin,
           unsigned roles, const char (*keys)[SN_UUID_LEN], size_t nkeys,
           time_t expires_at, time_t created_at)
{
    json_t *arr = json_array();
    size_t i;

    for (i = 0; i < nkeys; i++)
        json_array_append_new(arr, json_string(keys[i]));
    return json_pack(
        "{s:s, s:s, s:o, s:b, s:o, s:o, s:o, s:o}", "id", id, "name", name,
        "subscriber", admin ? json_null() : json_string(subscriber), "admin",
        admin, "roles", sn_roles_json(roles), "keys", arr, "expires_at",
        sn_time_json(expires_at), "created_at", sn_time_json(created_at));
}

json_t *
sn_token_json(const struct sn_token *t)
{
    return grant_json(t->id, t->name, t->subscriber, t->admin, t->roles,
                      (const char(*)[SN_UUID_LEN])t->keys, t->nkeys,
                      t->expires_at, t->created_at);
}

json_t *
sn_principal_json(const struct sn_principal *p)
{
    return grant_json(p->id, p->name, p->subscriber, p->admin, p->roles,
                      (const char(*)[SN_UUID_LEN])p->keys, p->nkeys,
                      p->expires_at, p->created_at);
}

void
sn_h_whoami(const struct sn_deps *deps, struct sn_req *req,
            struct sn_resp *resp)
{
    json_t *o = sn_principal_json(req->who);

    static const char *const methods[] = {"bearer", "oidc", "mtls", "session"};

    _Static_assert(sizeof(methods) / sizeof(methods[0]) == SN_AUTH_SESSION + 1,
                   "a name for every authentication method");

    (void)deps;
    if (o != NULL) {
        json_object_set_new(o, "token_id", json_string(req->who->id));
        json_object_set_new(o, "auth", json_string(methods[req->who->method]));
        if (req->who->via[0] != '\0')
            json_object_set_new(o, "via", json_string(req->who->via));
        if (req->who->proof[0] != '\0')
            json_object_set_new(o, "proof", json_string(req->who->proof));
        if (req->who->method == SN_AUTH_SESSION)
            json_object_set_new(o, "mfa", json_boolean(req->who->mfa));
    }
    sn_resp_json(resp, API_OK, o);
}

/* Parses a non-negative decimal query argument. */
static int
query_num(const struct sn_req *req, const char *name, long long def,
          long long max, long long *out)
{
    const char *v = sn_req_query(req, name);
    long long n = 0;
    size_t i;

    *out = def;
    if (v == NULL)
        return 0;
    if (*v == '\0' || strlen(v) > 18)
        return -1;
    for (i = 0; v[i] != '\0'; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    if (n > max)
        return -1;
    *out = n;
    return 0;
}

/* The page GET /v1/audit asks for: order (asc, the default, or desc),
 * after, before, limit. 0, or -1 if a parameter is malformed. */
static int
audit_page(const struct sn_req *req, struct sn_audit_page *pg)
{
    const char *order = sn_req_query(req, "order");
    long long after, before, limit;

    memset(pg, 0, sizeof(*pg));
    if (order != NULL && strcmp(order, "asc") != 0 &&
        strcmp(order, "desc") != 0)
        return -1;
    if (query_num(req, "after", 0, (long long)1 << 62, &after) != 0 ||
        query_num(req, "before", 0, (long long)1 << 62, &before) != 0 ||
        query_num(req, "limit", 100, 1000, &limit) != 0 || limit == 0)
        return -1;
    pg->after = after;
    pg->before = before;
    pg->newest_first = order != NULL && strcmp(order, "desc") == 0;
    pg->limit = (size_t)limit;
    return 0;
}

/* The signing policy's decision and the principal (issue 16) appear on
 * the records that carry them. */
static json_t *
audit_json(const struct sn_audit *a)
{
    json_t *o;

    o = json_pack("{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
                  "s:s, s:s}",
                  "id", (json_int_t)a->id, "time", sn_time_json(a->time),
                  "subscriber", a->subscriber, "key", a->key, "token", a->token,
                  "client", a->client, "action", a->action, "digest_algorithm",
                  a->digest_alg, "digest", a->digest, "scheme", a->scheme,
                  "result", a->result, "detail", a->detail);
    if (o != NULL && a->policy[0] != '\0')
        json_object_set_new(o, "policy", json_string(a->policy));
    if (o != NULL && a->principal[0] != '\0')
        json_object_set_new(o, "principal", json_string(a->principal));
    /* issue 18: what the log entry commits to, and where it is */
    if (o != NULL && a->sig_sha256[0] != '\0')
        json_object_set_new(o, "sig_sha256", json_string(a->sig_sha256));
    if (o != NULL && a->digest_salt[0] != '\0')
        json_object_set_new(o, "digest_salt", json_string(a->digest_salt));
    if (o != NULL && a->log_index >= 0)
        json_object_set_new(o, "log_index",
                            json_integer((json_int_t)a->log_index));
    return o;
}

/* A page of log's records (a subscriber's id, or "" for the operators'),
 * as action allows the caller. */
static void
audit_answer(const struct sn_deps *deps, struct sn_req *req,
             struct sn_resp *resp, enum sn_action action, const char *log)
{
    const char *key = sn_req_query(req, "key");
    /* A key-limited token must name one of its keys (see the policy). */
    struct sn_resource res = {.subscriber = log, .key = key};
    struct sn_audit *recs = NULL;
    struct sn_audit_page pg;
    json_int_t last;
    json_t *arr;
    size_t n = 0, i;

    if (sn_allowed(deps, req, resp, action, &res) != 0)
        return;
    if (audit_page(req, &pg) != 0) {
        sn_resp_error(resp, API_BAD_REQUEST,
                      "'after' and 'before' must be record ids, 'limit' "
                      "1..1000 and 'order' asc or desc");
        return;
    }
    if (key != NULL && (strlen(key) == 0 || strlen(key) >= SN_UUID_LEN)) {
        sn_resp_error(resp, API_BAD_REQUEST, "'key' is not a key id");
        return;
    }
    if (sn_store_audit_page(deps->store, log, key, &pg, &recs, &n) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    arr = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(arr, audit_json(&recs[i]));
    /* The cursor for the next page in the same order: the last id
     * returned, or the bound given when the page is empty. */
    last = (json_int_t)(pg.newest_first ? pg.before : pg.after);
    if (n > 0)
        last = (json_int_t)recs[n - 1].id;
    sn_resp_json(resp, API_OK,
                 json_pack("{s:o, s:I}", "records", arr,
                           pg.newest_first ? "next_before" : "next_after",
                           last));
    free(recs);
}

void
sn_h_audit(const struct sn_deps *deps, struct sn_req *req, struct sn_resp *resp)
{
    audit_answer(deps, req, resp, SN_ACT_AUDIT_READ, req->who->subscriber);
}

/* issue 17: the operators' log: every record an operator's credential
 * made, and the operators' logins. */
void
sn_h_admin_audit(const struct sn_deps *deps, struct sn_req *req,
                 struct sn_resp *resp)
{
    audit_answer(deps, req, resp, SN_ACT_ADMIN_AUDIT_READ, "");
}

void
sn_resp_key_line(struct sn_resp *resp, const char *line, const char *missing)
{
    size_t n;

    if (line == NULL) {
        sn_resp_error(resp, API_NOT_FOUND, "%s", missing);
        return;
    }
    n = strlen(line);
    if ((resp->raw = malloc(n + 2)) == NULL) {
        sn_resp_error(resp, API_UNAVAILABLE, "out of memory");
        return;
    }
    memcpy(resp->raw, line, n);
    resp->raw[n] = '\n';
    resp->raw_len = n + 1;
    resp->code = API_OK;
    resp->raw_type = "text/plain; charset=utf-8";
    (void)sn_resp_header(resp, "Cache-Control", "public, max-age=3600");
}
