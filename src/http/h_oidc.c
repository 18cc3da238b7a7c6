/*
 * h_oidc: OIDC workload identity (issue 16). The operator registers the
 * issuers it trusts; subscribers bind workload identities to keys with
 * trust policies; a workload exchanges an ID token for a short-lived
 * Signet token scoped to the policy's keys and roles. Request bodies and
 * ID tokens are untrusted: bodies are checked field by field, tokens by
 * auth/oidc.c and auth/jwt.c; every refusal of an exchange names a reason
 * code, and a refused exchange writes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/oidc.h"
#include "auth/trustpol.h"
#include "common/log.h"
#include "common/util.h"
#include "http/handlers.h"

/* Anyone may present ID tokens at will: refusals are logged within a
 * budget. */
static struct sn_log_limit refused_lines = SN_LOG_LIMIT(10, 10);

static void
refuse(struct sn_resp *resp, enum sn_api code, const char *reason,
       const char *what)
{
    sn_resp_error(resp, code, "%s (%s)", what, reason);
    snprintf(resp->reason, sizeof(resp->reason), "%s", reason);
}

/* Printable ASCII without spaces, 1..max bytes. */
static int
text_ok(const char *s, size_t max)
{
    size_t i, len = strlen(s);

    if (len == 0 || len > max)
        return 0;
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* An optional string member: 0 if absent or good (copied), -1 if not. */
static int
opt_string(json_t *body, const char *name, char *dst, size_t dstlen, int url)
{
    json_t *v = json_object_get(body, name);

    dst[0] = '\0';
    if (v == NULL)
        return 0;
    if (!json_is_string(v) || !text_ok(json_string_value(v), dstlen - 1) ||
        strlen(json_string_value(v)) != json_string_length(v) ||
        (url && strncmp(json_string_value(v), "https://", 8) != 0))
        return -1;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static json_t *
issuer_json(const struct sn_oidc_issuer *i, int full)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:o}", "id", i->id, "issuer",
                          i->issuer, "audience", i->audience, "created_at",
                          sn_time_json(i->created_at));

    if (o != NULL && full) {
        json_object_set_new(o, "jwks_uri",
                            i->jwks_uri[0] ? json_string(i->jwks_uri)
                                           : json_null());
        json_object_set_new(o, "ca_file",
                            i->ca_file[0] ? json_string(i->ca_file)
                                          : json_null());
    }
    return o;
}

static int
parse_issuer(json_t *body, struct sn_oidc_issuer *i, struct sn_resp *resp)
{
    memset(i, 0, sizeof(*i));
    if (!json_is_object(body) ||
        !json_is_string(json_object_get(body, "issuer")) ||
        opt_string(body, "issuer", i->issuer, sizeof(i->issuer), 1) != 0) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "'issuer' must be an https URL of up to %d bytes",
                      SN_OIDC_URL_MAX);
        return -1;
    }
    if (!json_is_string(json_object_get(body, "audience")) ||
        opt_string(body, "audience", i->audience, sizeof(i->audience), 0) !=
            0) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "'audience' must be the one audience tokens carry "
                      "(1..%d printable bytes)",
                      SN_OIDC_AUD_MAX);
        return -1;
    }
    if (opt_string(body, "jwks_uri", i->jwks_uri, sizeof(i->jwks_uri), 1) !=
        0) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "'jwks_uri' must be an https URL (or absent: "
                      "discovery)");
        return -1;
    }
    if (opt_string(body, "ca_file", i->ca_file, sizeof(i->ca_file), 0) != 0 ||
        (i->ca_file[0] != '\0' &&
         (i->ca_file[0] != '/' || access(i->ca_file, R_OK) != 0))) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "'ca_file' must be the absolute path of a readable "
                      "PEM file");
        return -1;
    }
    return 0;
}

/* An operator's change of the trusted issuers, in the operators' log. */
static void
issuer_audit(const struct sn_deps *deps, const struct sn_req *req,
             const char *action, const char *id)
{
    struct sn_audit a;

    sn_audit_init(&a, req, "", "", action);
    snprintf(a.detail, sizeof(a.detail), "issuer %s", id);
    if (sn_store_audit_add(deps->store, &a) != SN_OK)
        sn_error("audit: %s %s not recorded", action, id);
}

void
sn_h_oidc_issuer_create(const struct sn_deps *deps, struct sn_req *req,
                        struct sn_resp *resp)
{
    struct sn_oidc_issuer i;
    sn_err r;

    if (sn_allowed(deps, req, resp, SN_ACT_OIDC_ISSUER_MANAGE, NULL) != 0 ||
        parse_issuer(req->json, &i, resp) != 0)
        return;
    if (sn_uuid(i.id) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "no randomness");
        return;
    }
    i.created_at = time(NULL);
    if ((r = sn_store_oidc_issuer_add(deps->store, &i)) != SN_OK) {
        if (r == SN_ERR_EXISTS)
            sn_resp_error(resp, API_CONFLICT, "issuer '%s' is registered",
                          i.issuer);
        else
            sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    if (deps->oidc != NULL && sn_oidc_reload(deps->oidc) != SN_OK)
        sn_error("oidc: cannot reload the issuers");
    issuer_audit(deps, req, "oidc_issuer_add", i.id);
    sn_info("oidc: issuer %s registered (%s)", i.id, i.issuer);
    sn_resp_json(resp, API_CREATED, issuer_json(&i, 1));
}

void
sn_h_oidc_issuer_list(const struct sn_deps *deps, struct sn_req *req,
                      struct sn_resp *resp)
{
    struct sn_oidc_issuer *list = NULL;
    json_t *arr, *state = NULL, *o;
    size_t n = 0, k;
    int admin = req->who->admin;

    /* Subscribers see which issuers and audiences they may write policies
     * for; the operator sees where keys come from and how fetching goes. */
    if (sn_allowed(deps, req, resp, SN_ACT_OIDC_ISSUER_LIST, NULL) != 0)
        return;
    if (sn_store_oidc_issuer_list(deps->store, &list, &n) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    if (admin && deps->oidc != NULL)
        state = sn_oidc_status_json(deps->oidc);
    arr = json_array();
    for (k = 0; k < n; k++) {
        o = issuer_json(&list[k], admin);
        if (o != NULL && state != NULL)
            json_object_set(o, "keys", json_object_get(state, list[k].id));
        json_array_append_new(arr, o);
    }
    json_decref(state);
    free(list);
    sn_resp_json(resp, API_OK, json_pack("{s:o}", "issuers", arr));
}

void
sn_h_oidc_issuer_delete(const struct sn_deps *deps, struct sn_req *req,
                        struct sn_resp *resp)
{
    sn_err r;

    if (sn_allowed(deps, req, resp, SN_ACT_OIDC_ISSUER_MANAGE, NULL) != 0)
        return;
    if ((r = sn_store_oidc_issuer_delete(deps->store, req->params[0])) !=
        SN_OK) {
        sn_resp_error(
            resp, r == SN_ERR_NOT_FOUND ? API_NOT_FOUND : API_UNAVAILABLE, "%s",
            r == SN_ERR_NOT_FOUND ? "no such issuer" : "database unavailable");
        return;
    }
    if (deps->oidc != NULL && sn_oidc_reload(deps->oidc) != SN_OK)
        sn_error("oidc: cannot reload the issuers");
    issuer_audit(deps, req, "oidc_issuer_delete", req->params[0]);
    sn_resp_json(resp, API_OK, json_pack("{s:s}", "id", req->params[0]));
}

/* ---- trust policies ---- */

static json_t *
policy_json(const struct sn_trust_policy *p)
{
    json_t *o = json_loads(p->body, 0, NULL);

    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "id", json_string(p->id));
    json_object_set_new(o, "subscriber", json_string(p->subscriber));
    json_object_set_new(o, "issuer", json_string(p->issuer));
    json_object_set_new(o, "created_at", sn_time_json(p->created_at));
    return o;
}

/* issuer must be registered: a policy for an unknown issuer is a typo. */
static int
issuer_known(const struct sn_deps *deps, const char *issuer)
{
    struct sn_oidc_issuer *list = NULL;
    size_t n = 0, i;
    int found = 0;

    if (sn_store_oidc_issuer_list(deps->store, &list, &n) != SN_OK)
        return -1;
    for (i = 0; i < n; i++)
        found |= strcmp(list[i].issuer, issuer) == 0;
    free(list);
    return found;
}

/* The policy's keys are the subscriber's own, and the caller holds what
 * the policy would hand out (as for a token it creates). */
static int
policy_grant_ok(const struct sn_deps *deps, struct sn_req *req,
                const struct sn_trust_rules *rules, struct sn_resp *resp)
{
    struct sn_resource res;
    struct sn_key k;
    size_t i;
    sn_err r;

    for (i = 0; i < rules->nkeys; i++) {
        r = sn_store_key_brief(deps->store, rules->keys[i], &k);
        if (r == SN_OK && strcmp(k.subscriber, req->who->subscriber) != 0)
            r = SN_ERR_NOT_FOUND;
        sn_key_cleanup(&k);
        if (r != SN_OK) {
            sn_resp_error(resp, API_INVALID_FIELD,
                          "key %s is not one of this subscriber's keys",
                          rules->keys[i]);
            return -1;
        }
    }
    memset(&res, 0, sizeof(res));
    res.roles = rules->roles;
    res.keys = (const char(*)[SN_UUID_LEN])rules->keys;
    res.nkeys = rules->nkeys;
    res.expires_at = req->who->expires_at;
    return sn_allowed(deps, req, resp, SN_ACT_TOKEN_GRANT, &res);
}

void
sn_h_trust_policy_create(const struct sn_deps *deps, struct sn_req *req,
                         struct sn_resp *resp)
{
    struct sn_resource res = {.subscriber = req->who->subscriber};
    struct sn_trust_rules rules;
    struct sn_trust_policy p;
    struct sn_audit a;
    char why[256];
    json_t *iss = json_object_get(req->json, "issuer");

    memset(&rules, 0, sizeof(rules));
    memset(&p, 0, sizeof(p));
    if (sn_allowed(deps, req, resp, SN_ACT_TRUST_POLICY, &res) != 0)
        goto out;
    if (!json_is_string(iss) || json_string_length(iss) > SN_OIDC_URL_MAX ||
        issuer_known(deps, json_string_value(iss)) != 1) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "'issuer' must be a registered OIDC issuer "
                      "(GET /v1/oidc/issuers)");
        goto out;
    }
    if (sn_trust_rules_parse(req->json, &rules, why, sizeof(why)) != 0) {
        sn_resp_error(resp, API_INVALID_FIELD, "%s", why);
        goto out;
    }
    if (policy_grant_ok(deps, req, &rules, resp) != 0)
        goto out;
    if (sn_uuid(p.id) != SN_OK ||
        (p.body = sn_trust_rules_dump(&rules)) == NULL) {
        sn_resp_error(resp, API_UNAVAILABLE, "out of resources");
        goto out;
    }
    snprintf(p.subscriber, sizeof(p.subscriber), "%s", req->who->subscriber);
    snprintf(p.issuer, sizeof(p.issuer), "%s", json_string_value(iss));
    p.created_at = time(NULL);
    sn_audit_init(&a, req, p.subscriber, "", "trust_policy_create");
    snprintf(a.detail, sizeof(a.detail), "trust policy %s for %.180s", p.id,
             p.issuer);
    if (sn_store_trust_policy_add(deps->store, &p) != SN_OK ||
        sn_store_audit_add(deps->store, &a) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    sn_resp_json(resp, API_CREATED, policy_json(&p));
out:
    free(p.body);
    sn_trust_rules_cleanup(&rules);
}

void
sn_h_trust_policy_list(const struct sn_deps *deps, struct sn_req *req,
                       struct sn_resp *resp)
{
    struct sn_resource res = {.subscriber = req->who->subscriber};
    struct sn_trust_policy *list = NULL;
    size_t n = 0, i;
    json_t *arr;

    if (sn_allowed(deps, req, resp, SN_ACT_TRUST_POLICY, &res) != 0)
        return;
    if (sn_store_trust_policy_list(deps->store, req->who->subscriber, "", &list,
                                   &n) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    arr = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(arr, policy_json(&list[i]));
    sn_trust_policy_list_free(list, n);
    sn_resp_json(resp, API_OK, json_pack("{s:o}", "trust_policies", arr));
}

void
sn_h_trust_policy_delete(const struct sn_deps *deps, struct sn_req *req,
                         struct sn_resp *resp)
{
    struct sn_resource res = {.subscriber = req->who->subscriber};
    struct sn_audit a;
    sn_err r;

    if (sn_allowed(deps, req, resp, SN_ACT_TRUST_POLICY, &res) != 0)
        return;
    /* Another subscriber's policy is not found: the store matches both. */
    r = sn_store_trust_policy_delete(deps->store, req->who->subscriber,
                                     req->params[0]);
    if (r != SN_OK) {
        sn_resp_error(
            resp, r == SN_ERR_NOT_FOUND ? API_NOT_FOUND : API_UNAVAILABLE, "%s",
            r == SN_ERR_NOT_FOUND ? "no such trust policy"
                                  : "database unavailable");
        return;
    }
    sn_audit_init(&a, req, req->who->subscriber, "", "trust_policy_delete");
    snprintf(a.detail, sizeof(a.detail), "trust policy %s", req->params[0]);
    if (sn_store_audit_add(deps->store, &a) != SN_OK)
        sn_error("audit: cannot record a trust policy deletion");
    sn_resp_json(resp, API_OK, json_pack("{s:s}", "id", req->params[0]));
}

/* ---- the exchange ---- */

/*
 * The policy that vouches for the token: of those whose rules all match
 * (only subscriber's if it is given), the one with the most rules (the
 * most specific), then the oldest, then the smallest id. Policies of
 * several subscribers matching a request that names none is ambiguous.
 * 0 and *pick (an index into list), or a reason code.
 */
static const char *
pick_policy(struct sn_trust_policy *list, size_t n, json_t *claims,
            const char *subscriber, struct sn_trust_rules *rules, size_t *pick)
{
    struct sn_trust_rules r;
    size_t i, best_rules = 0;
    const char *first_sub = NULL;
    char why[256];
    json_t *body;
    int found = 0, several = 0;

    for (i = 0; i < n; i++) {
        if (subscriber[0] != '\0' && strcmp(list[i].subscriber, subscriber))
            continue;
        body = json_loads(list[i].body, 0, NULL);
        if (body == NULL ||
            sn_trust_rules_parse(body, &r, why, sizeof(why)) != 0) {
            json_decref(body);
            continue;
        }
        json_decref(body);
        if (!sn_trust_match(r.claims, claims)) {
            sn_trust_rules_cleanup(&r);
            continue;
        }
        if (first_sub == NULL)
            first_sub = list[i].subscriber;
        else if (strcmp(first_sub, list[i].subscriber) != 0)
            several = 1;
        if (!found || json_object_size(r.claims) > best_rules) {
            sn_trust_rules_cleanup(rules);
            *rules = r;
            *pick = i;
            best_rules = json_object_size(r.claims);
            found = 1;
        } else
            sn_trust_rules_cleanup(&r);
    }
    if (!found)
        return "policy_mismatch";
    if (several)
        return "policy_ambiguous";
    return NULL;
}

static json_t *
keys_json(const struct sn_token *t)
{
    json_t *arr = json_array();
    size_t i;

    for (i = 0; i < t->nkeys; i++)
        json_array_append_new(arr, json_string(t->keys[i]));
    return arr;
}

/* The Signet token the policy grants; the secret in *secret (shown once). */
static int
mint(const struct sn_deps *deps, struct sn_req *req,
     const struct sn_trust_policy *p, const struct sn_trust_rules *rules,
     const struct sn_oidc_token *idt, struct sn_token *t, char **secret)
{
    struct sn_audit a;

    memset(t, 0, sizeof(*t));
    t->created_at = time(NULL);
    t->expires_at = t->created_at + rules->lifetime;
    snprintf(t->subscriber, sizeof(t->subscriber), "%s", p->subscriber);
    snprintf(t->name, sizeof(t->name), "oidc %.36s", p->id);
    t->roles = rules->roles;
    memcpy(t->keys, rules->keys, sizeof(t->keys));
    t->nkeys = rules->nkeys;
    t->auth_method = SN_AUTH_OIDC;
    snprintf(t->via, sizeof(t->via), "%s", p->id);
    sn_trust_proof(idt->issuer, rules->claims, idt->claims, t->proof,
                   sizeof(t->proof));
    if (sn_uuid(t->id) != SN_OK ||
        sn_apitoken_new(t->id, secret, t->hash) != SN_OK)
        return -1;
    sn_audit_init(&a, req, t->subscriber, "", "oidc_exchange");
    snprintf(a.token, sizeof(a.token), "%s", t->id);
    sn_audit_principal(a.principal, sizeof(a.principal), SN_AUTH_OIDC, t->id,
                       t->via, t->proof);
    snprintf(a.detail, sizeof(a.detail), "token %s until %lld", t->id,
             (long long)t->expires_at);
    if (sn_store_token_add(deps->store, t) != SN_OK ||
        sn_store_audit_add(deps->store, &a) != SN_OK) {
        sn_secret_free(*secret);
        *secret = NULL;
        return -1;
    }
    return 0;
}

/* The request: {"token": ID token, "subscriber": id (optional)}. */
static int
exchange_body(json_t *body, const char **token, size_t *len, char *subscriber,
              struct sn_resp *resp)
{
    json_t *t = json_object_get(body, "token");
    json_t *s = json_object_get(body, "subscriber");

    subscriber[0] = '\0';
    if (!json_is_string(t)) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "'token' must be the ID token (a string)");
        return -1;
    }
    if (s != NULL && (!json_is_string(s) || json_string_length(s) == 0 ||
                      json_string_length(s) >= SN_UUID_LEN)) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "'subscriber' must be a subscriber id");
        return -1;
    }
    if (s != NULL)
        memcpy(subscriber, json_string_value(s), json_string_length(s) + 1);
    *token = json_string_value(t);
    *len = json_string_length(t);
    return 0;
}

static void
answer_minted(struct sn_resp *resp, const struct sn_token *t,
              const char *secret)
{
    sn_resp_json(resp, API_OK,
                 json_pack("{s:s, s:s, s:o, s:o, s:s, s:I}", "token", secret,
                           "token_id", t->id, "expires_at",
                           sn_time_json(t->expires_at), "keys", keys_json(t),
                           "trust_policy", t->via, "expires_in",
                           (json_int_t)(t->expires_at - t->created_at)));
}

void
sn_h_oidc_exchange(const struct sn_deps *deps, struct sn_req *req,
                   struct sn_resp *resp)
{
    struct sn_trust_policy *list = NULL;
    struct sn_trust_rules rules;
    struct sn_oidc_token idt;
    struct sn_token t;
    const char *token, *reason = "internal";
    char subscriber[SN_UUID_LEN], *secret = NULL;
    size_t len, n = 0, pick = 0;
    enum sn_oidc_status st;
    sn_err r;

    memset(&rules, 0, sizeof(rules));
    memset(&idt, 0, sizeof(idt));
    memset(&t, 0, sizeof(t));
    if (exchange_body(req->json, &token, &len, subscriber, resp) != 0)
        goto out;
    if (deps->oidc == NULL) {
        refuse(resp, API_UNAVAILABLE, "issuer_unavailable",
               "OIDC is not running");
        goto out;
    }
    st = sn_oidc_verify(deps->oidc, token, len, &idt, &reason);
    if (st != SN_OIDC_OK) {
        sn_log_limited(&refused_lines, SN_LOG_WARN,
                       "oidc: exchange refused (%s) from %s", reason,
                       req->client);
        if (st == SN_OIDC_UNAVAILABLE) {
            refuse(resp, API_UNAVAILABLE, reason,
                   "the issuer's keys are not at hand; retry in a moment");
            sn_resp_header(resp, "Retry-After", "2");
        } else
            refuse(resp, API_UNAUTHORIZED, reason, "the ID token was refused");
        goto out;
    }
    if (sn_store_trust_policy_list(deps->store, "", idt.issuer, &list, &n) !=
        SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    if ((reason = pick_policy(list, n, idt.claims, subscriber, &rules,
                              &pick)) != NULL) {
        sn_log_limited(&refused_lines, SN_LOG_WARN,
                       "oidc: exchange refused (%s) from %s", reason,
                       req->client);
        refuse(resp, API_FORBIDDEN, reason,
               "no single trust policy admits this workload");
        goto out;
    }
    /* Last, so that a refused token is not used up: once only. */
    r = sn_store_oidc_jti_use(deps->store, idt.issuer, idt.jti,
                              idt.exp + SN_JWT_LEEWAY, time(NULL));
    if (r == SN_ERR_EXISTS) {
        refuse(resp, API_UNAUTHORIZED, "replayed",
               "this ID token was exchanged already");
        goto out;
    }
    if (r != SN_OK ||
        mint(deps, req, &list[pick], &rules, &idt, &t, &secret) != 0) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    sn_info("oidc: token %s minted by trust policy %s for %s", t.id, t.via,
            t.proof);
    answer_minted(resp, &t, secret);
out:
    sn_secret_free(secret);
    OPENSSL_cleanse(&t, sizeof(t));
    sn_trust_rules_cleanup(&rules);
    sn_trust_policy_list_free(list, n);
    json_decref(idt.claims);
}
