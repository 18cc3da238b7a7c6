/*
 * h_policy: signing policies (issue 16). The routes that set, read and
 * delete a key's policy and a subscriber's default (bodies untrusted,
 * parsed strictly by policy/keypolicy.c), and the decision on the signing
 * path (keyrules.h): the policy comes from memory after its first read,
 * the quota is counted under one mutex (policy/quota.h).
 *
 * Quota and the gate: signatures are counted when the request is allowed,
 * before the HSM signs. If the HSM fails, none of the batch is returned
 * and the count is given back. If the audit commit fails afterwards the
 * gate withholds the signatures (503) and they stay counted: the counter
 * errs toward refusing, never toward a signature returned uncounted. On
 * restart a key's counts are seeded from its "sign"/"sign_file" records
 * of the hour and day, which hold every signature ever returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "http/handlers.h"
#include "http/keyrules.h"
#include "policy/keypolicy.h"
#include "policy/quota.h"
#include "store/cache.h"

struct sn_keyrules {
    struct sn_cache cache; /* "k:ID" / "s:ID" -> struct cached */
    struct sn_quota *quota;
    int strong_default;
};

/* A target's policy, or the fact that it has none. */
struct cached {
    int present;
    struct sn_keypolicy kp;
};

static int
cached_copy(void *dst, const void *src)
{
    memcpy(dst, src, sizeof(struct cached));
    return 1;
}

sn_err
sn_keyrules_new(int require_strong_auth, struct sn_keyrules **out)
{
    struct sn_keyrules *kr;
    sn_err r;

    *out = NULL;
    if ((kr = calloc(1, sizeof(*kr))) == NULL)
        return SN_ERR_NOMEM;
    if ((r = sn_quota_new(0, &kr->quota)) != SN_OK) {
        free(kr);
        return r;
    }
    sn_cache_init(&kr->cache, 100000, cached_copy, free);
    kr->strong_default = require_strong_auth != 0;
    *out = kr;
    return SN_OK;
}

void
sn_keyrules_forget(struct sn_keyrules *kr)
{
    if (kr != NULL)
        sn_cache_clear(&kr->cache);
}

void
sn_keyrules_free(struct sn_keyrules *kr)
{
    if (kr == NULL)
        return;
    sn_cache_cleanup(&kr->cache);
    sn_quota_free(kr->quota);
    free(kr);
}

static void
cache_id(char *buf, size_t len, char kind, const char *id)
{
    snprintf(buf, len, "%c:%s", kind, id);
}

/* The stored policy of target (kind 'k' or 's'), from memory if read
 * before. A stored policy that no longer parses fails closed. */
static sn_err
lookup(struct sn_keyrules *kr, struct sn_store *st, char kind,
       const char *target, struct cached *out)
{
    struct cached *v = NULL;
    char cid[80], why[160];
    unsigned long gen;
    char *json = NULL;
    sn_err r;

    memset(out, 0, sizeof(*out));
    cache_id(cid, sizeof(cid), kind, target);
    if (sn_cache_get(&kr->cache, cid, out))
        return SN_OK;
    gen = sn_cache_gen(&kr->cache);
    r = sn_store_policy_get(st, target, &json);
    if (r == SN_OK) {
        out->present = 1;
        r = sn_keypolicy_parse_text(json, strlen(json), kind == 'k', &out->kp,
                                    why, sizeof(why));
        if (r != SN_OK)
            sn_error("policy: stored policy of %s does not parse: %s", target,
                     why);
    } else if (r == SN_ERR_NOT_FOUND) {
        r = SN_OK;
    }
    free(json);
    if (r != SN_OK)
        return r;
    if ((v = malloc(sizeof(*v))) != NULL) {
        memcpy(v, out, sizeof(*v));
        sn_cache_put(&kr->cache, cid, v, gen);
    }
    return SN_OK;
}

/* The policy that governs key k: its own, else its subscriber's. *source
 * names which ("key", "subscriber", or "instance" for neither). */
static sn_err
effective(struct sn_keyrules *kr, struct sn_store *st, const struct sn_key *k,
          struct cached *out, const char **source)
{
    sn_err r;

    *source = "key";
    if ((r = lookup(kr, st, 'k', k->id, out)) != SN_OK || out->present)
        return r;
    *source = "subscriber";
    if ((r = lookup(kr, st, 's', k->subscriber, out)) != SN_OK || out->present)
        return r;
    *source = "instance";
    return SN_OK;
}

/* A refusal: counted for the owner's audit log (folded per minute like
 * every denial), and the answer. */
static void
refuse(const struct sn_deps *deps, struct sn_req *req, struct sn_resp *resp,
       const struct sn_key *k, const char *source, enum sn_kp_rule rule,
       const char *message)
{
    struct sn_audit a;

    sn_audit_init(&a, req, k->subscriber, k->id, "denied");
    snprintf(a.result, sizeof(a.result), "denied");
    snprintf(a.detail, sizeof(a.detail), "%s %s: %s policy: %s", req->method,
             req->route, source, sn_kp_rule_name(rule));
    snprintf(a.policy, sizeof(a.policy), "deny %s %s", source,
             sn_kp_rule_name(rule));
    sn_store_audit_tally(deps->store, &a);
    sn_resp_error(resp,
                  rule == SN_KP_STRONG_AUTH ? API_STRONG_AUTH
                  : rule == SN_KP_QUOTA_HOUR || rule == SN_KP_QUOTA_DAY
                      ? API_QUOTA
                      : API_POLICY_DENIED,
                  "%s (rule: %s policy %s)", message, source,
                  sn_kp_rule_name(rule));
}

/* Seeds the key's counts from the log once per process, before its first
 * signature here is counted. */
static sn_err
seed(struct sn_keyrules *kr, struct sn_store *st, const char *key, time_t now)
{
    uint64_t hour, day;
    sn_err r;

    if (sn_quota_seeded(kr->quota, key))
        return SN_OK;
    if ((r = sn_store_sign_count(st, key, sn_quota_hour_start(now), &hour)) !=
            SN_OK ||
        (r = sn_store_sign_count(st, key, sn_quota_day_start(now), &day)) !=
            SN_OK)
        return r;
    sn_quota_seed(kr->quota, key, now, hour, day);
    return SN_OK;
}

static int
take(const struct sn_deps *deps, struct sn_req *req, struct sn_resp *resp,
     const struct sn_key *k, const struct cached *c, const char *source,
     size_t n, struct sn_sign_ticket *t)
{
    struct sn_keyrules *kr = deps->keyrules;
    enum sn_kp_rule rule;
    unsigned retry;

    if (!c->present || (c->kp.per_hour == 0 && c->kp.per_day == 0))
        return 0;
    if (seed(kr, deps->store, k->id, t->at) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return -1;
    }
    rule = sn_quota_take(kr->quota, k->id, c->kp.per_hour, c->kp.per_day, n,
                         t->at, &retry);
    if (rule != SN_KP_ALLOWED) {
        refuse(deps, req, resp, k, source, rule,
               rule == SN_KP_QUOTA_HOUR
                   ? "this key's signatures for this hour are used up"
                   : "this key's signatures for this day (UTC) are used up");
        sn_resp_header(resp, "Retry-After", "%u", retry);
        return -1;
    }
    t->counted = n;
    return 0;
}

int
sn_sign_policy(const struct sn_deps *deps, struct sn_req *req,
               struct sn_resp *resp, const struct sn_key *k, size_t n,
               struct sn_sign_ticket *t)
{
    struct sn_keyrules *kr = deps->keyrules;
    struct sn_kp_verdict v;
    const char *source;
    struct cached c;

    memset(t, 0, sizeof(*t));
    snprintf(t->key, sizeof(t->key), "%s", k->id);
    t->at = time(NULL);
    if (kr == NULL)
        return 0;
    if (effective(kr, deps->store, k, &c, &source) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return -1;
    }
    if (sn_keypolicy_decide(c.present ? &c.kp : NULL, kr->strong_default,
                            req->who, req->client, t->at,
                            &v) != SN_POLICY_ALLOW) {
        refuse(deps, req, resp, k, source, v.rule, v.message);
        return -1;
    }
    t->commit_digests = c.present && c.kp.commit_digests;
    /* A key that requires approvals: counted when they release it. */
    if (c.present && c.kp.approvals.required > 0)
        t->approvals = c.kp.approvals;
    else if (n > 0 && take(deps, req, resp, k, &c, source, n, t) != 0)
        return -1;
    snprintf(t->policy, sizeof(t->policy), "allow %s", source);
    return 0;
}

int
sn_sign_policy_release(const struct sn_deps *deps, const struct sn_key *k,
                       size_t n, struct sn_sign_ticket *t, char *why,
                       size_t whylen)
{
    struct sn_keyrules *kr = deps->keyrules;
    const char *source = "instance";
    enum sn_kp_rule rule;
    unsigned retry;
    struct cached c;

    memset(t, 0, sizeof(*t));
    snprintf(t->key, sizeof(t->key), "%s", k->id);
    t->at = time(NULL);
    memset(&c, 0, sizeof(c));
    if (kr != NULL &&
        (effective(kr, deps->store, k, &c, &source) != SN_OK ||
         (c.present && (c.kp.per_hour != 0 || c.kp.per_day != 0) &&
          seed(kr, deps->store, k->id, t->at) != SN_OK))) {
        snprintf(why, whylen, "database unavailable");
        return -1;
    }
    if (kr != NULL && c.present && (c.kp.per_hour != 0 || c.kp.per_day != 0)) {
        rule = sn_quota_take(kr->quota, k->id, c.kp.per_hour, c.kp.per_day, n,
                             t->at, &retry);
        if (rule != SN_KP_ALLOWED) {
            snprintf(why, whylen,
                     "this key's signatures for this %s are used up (rule: "
                     "%s policy %s)",
                     rule == SN_KP_QUOTA_HOUR ? "hour" : "day (UTC)", source,
                     sn_kp_rule_name(rule));
            return -1;
        }
        t->counted = n;
    }
    t->commit_digests = c.present && c.kp.commit_digests;
    snprintf(t->policy, sizeof(t->policy), "allow %s", source);
    return 0;
}

void
sn_sign_policy_refund(const struct sn_deps *deps,
                      const struct sn_sign_ticket *t)
{
    if (deps->keyrules != NULL && t->counted > 0)
        sn_quota_give(deps->keyrules->quota, t->key, t->counted, t->at);
}

/* ---- routes ---- */

/* A policy change in the owner's audit log. */
static void
policy_audit(const struct sn_deps *deps, struct sn_req *req,
             const char *subscriber, const char *key, const char *action,
             const char *detail)
{
    struct sn_audit a;

    sn_audit_init(&a, req, subscriber, key, action);
    snprintf(a.detail, sizeof(a.detail), "%s", detail);
    if (sn_store_audit_add(deps->store, &a) != SN_OK)
        sn_error("audit: cannot record %s", action);
}

/*
 * The approvers a key's policy names (issue 17) must be people who can
 * approve: accounts of the key's subscriber, active, with the 'approve'
 * role. A typo would otherwise make a key nobody can release. Another
 * subscriber's account is refused like a missing one.
 */
static int
approvers_ok(const struct sn_deps *deps, struct sn_resp *resp,
             const struct sn_kp_approvals *ap, const char *subscriber)
{
    struct sn_account a;
    int ret = 0;
    size_t i;
    sn_err r;

    for (i = 0; ret == 0 && i < ap->napprovers; i++) {
        r = sn_store_account_get(deps->store, ap->approvers[i], &a);
        if (r != SN_OK && r != SN_ERR_NOT_FOUND) {
            sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
            ret = -1;
        } else if (r == SN_ERR_NOT_FOUND || a.operator_ ||
                   strcmp(a.subscriber, subscriber) != 0 ||
                   !(a.roles & SN_ROLE_APPROVE) || a.disabled_at != 0) {
            sn_resp_error(resp, API_INVALID_FIELD,
                          "approvals.approvers[%zu]: no active account of "
                          "this subscriber with the 'approve' role",
                          i);
            ret = -1;
        }
        OPENSSL_cleanse(&a, sizeof(a));
    }
    return ret;
}

/* Parses the body, stores its canonical form for target and drops the
 * cached one. *out is the canonical JSON on success. */
static int
store_policy(const struct sn_deps *deps, struct sn_req *req,
             struct sn_resp *resp, char kind, const char *target,
             const char *subscriber, json_t **out)
{
    struct sn_keypolicy kp;
    char why[200], cid[80];
    char *text = NULL;
    json_t *j = NULL;
    int ret = -1;

    *out = NULL;
    if (sn_keypolicy_parse(req->json, kind == 'k', &kp, why, sizeof(why)) !=
        SN_OK) {
        sn_resp_error(resp, API_INVALID_FIELD, "%s", why);
        goto out;
    }
    if (kp.approvals.required > 0 &&
        approvers_ok(deps, resp, &kp.approvals, subscriber) != 0)
        goto out;
    if ((j = sn_keypolicy_json(&kp)) == NULL ||
        (text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) == NULL ||
        sn_store_policy_set(deps->store, target, subscriber, text) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    cache_id(cid, sizeof(cid), kind, target);
    if (deps->keyrules != NULL)
        sn_cache_drop(&deps->keyrules->cache, cid);
    policy_audit(deps, req, subscriber, kind == 'k' ? target : "",
                 kind == 'k' ? "key_policy_set" : "subscriber_policy_set",
                 text);
    if (kind == 'k')
        sn_sign_requests_fail_for_key(deps, subscriber, target, time(NULL));
    *out = j;
    j = NULL;
    ret = 0;
out:
    free(text);
    json_decref(j);
    return ret;
}

static int
delete_policy(const struct sn_deps *deps, struct sn_req *req,
              struct sn_resp *resp, char kind, const char *target,
              const char *subscriber)
{
    char cid[80];
    sn_err r;

    r = sn_store_policy_delete(deps->store, target);
    cache_id(cid, sizeof(cid), kind, target);
    if (deps->keyrules != NULL)
        sn_cache_drop(&deps->keyrules->cache, cid);
    if (r == SN_ERR_NOT_FOUND) {
        sn_resp_error(resp, API_NOT_FOUND, "no policy of its own to delete");
        return -1;
    }
    if (r != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return -1;
    }
    policy_audit(deps, req, subscriber, kind == 'k' ? target : "",
                 kind == 'k' ? "key_policy_delete" : "subscriber_policy_delete",
                 "");
    if (kind == 'k')
        sn_sign_requests_fail_for_key(deps, subscriber, target, time(NULL));
    return 0;
}

/*
 * Weakening what guards signing must take as much as signing does: where
 * the rules in force want strong authentication (or approvals), a policy
 * is changed only by a strong principal (an OIDC-exchanged token, a
 * registered client certificate, a login session with a second factor),
 * not by a static token, which could otherwise lift the requirement it
 * cannot meet. 0 if the caller may change it; else resp is the answer.
 */
static int
change_allowed(const struct cached *c, int strong_default,
               const struct sn_req *req, struct sn_resp *resp)
{
    const struct sn_principal *p = req->who;
    int strong =
        c->present && c->kp.strong >= 0 ? c->kp.strong : strong_default;
    int approvals = c->present && c->kp.approvals.required > 0;

    /* Approvals guard against a misused pipeline or token: only a
     * person, with a second factor, changes them. */
    if (approvals && !(p->method == SN_AUTH_SESSION && p->mfa)) {
        sn_resp_error(resp, API_STRONG_AUTH,
                      "the signing policy in force requires approvals: "
                      "only a person's login session with a second factor "
                      "changes it");
        return -1;
    }
    if (!strong || !(p->method == SN_AUTH_BEARER ||
                     (p->method == SN_AUTH_SESSION && !p->mfa)))
        return 0;
    sn_resp_error(resp, API_STRONG_AUTH,
                  "the signing policy in force requires strong "
                  "authentication: change it with an OIDC-exchanged token, a "
                  "registered client certificate or a login session with a "
                  "second factor, not a static API token");
    return -1;
}

/* The key's policy in force may be changed by the caller (above). */
static int
key_change_allowed(const struct sn_deps *deps, const struct sn_key *k,
                   const struct sn_req *req, struct sn_resp *resp)
{
    const char *source = "instance";
    struct cached c;

    memset(&c, 0, sizeof(c));
    if (deps->keyrules == NULL)
        return 0;
    if (effective(deps->keyrules, deps->store, k, &c, &source) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return -1;
    }
    return change_allowed(&c, deps->keyrules->strong_default, req, resp);
}

/* The same for a subscriber's default. */
static int
subscriber_change_allowed(const struct sn_deps *deps, const char *sub,
                          const struct sn_req *req, struct sn_resp *resp)
{
    struct cached c;

    memset(&c, 0, sizeof(c));
    if (deps->keyrules == NULL)
        return 0;
    if (lookup(deps->keyrules, deps->store, 's', sub, &c) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return -1;
    }
    return change_allowed(&c, deps->keyrules->strong_default, req, resp);
}

void
sn_h_key_policy_put(const struct sn_deps *deps, struct sn_req *req,
                    struct sn_resp *resp)
{
    json_t *pol = NULL;
    struct sn_key k;

    if (sn_load_key_brief(deps, req, resp, SN_ACT_KEY_MANAGE, &k) != 0)
        return;
    if (key_change_allowed(deps, &k, req, resp) == 0 &&
        store_policy(deps, req, resp, 'k', k.id, k.subscriber, &pol) == 0)
        sn_resp_json(resp, API_OK,
                     json_pack("{s:s, s:s, s:o}", "key", k.id, "source", "key",
                               "policy", pol));
    sn_key_cleanup(&k);
}

/* The policy that governs the key, and where it comes from. */
void
sn_h_key_policy_get(const struct sn_deps *deps, struct sn_req *req,
                    struct sn_resp *resp)
{
    const char *source = "instance";
    struct cached c;
    struct sn_key k;
    int strong;

    memset(&c, 0, sizeof(c));
    if (sn_load_key_brief(deps, req, resp, SN_ACT_KEY_READ, &k) != 0)
        return;
    if (deps->keyrules != NULL &&
        effective(deps->keyrules, deps->store, &k, &c, &source) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    strong = c.present && c.kp.strong >= 0
                 ? c.kp.strong
                 : deps->keyrules != NULL && deps->keyrules->strong_default;
    sn_resp_json(resp, API_OK,
                 json_pack("{s:s, s:s, s:o, s:b}", "key", k.id, "source",
                           source, "policy",
                           c.present ? sn_keypolicy_json(&c.kp) : json_null(),
                           "require_strong_auth", strong));
out:
    sn_key_cleanup(&k);
}

void
sn_h_key_policy_delete(const struct sn_deps *deps, struct sn_req *req,
                       struct sn_resp *resp)
{
    struct sn_key k;

    if (sn_load_key_brief(deps, req, resp, SN_ACT_KEY_MANAGE, &k) != 0)
        return;
    if (key_change_allowed(deps, &k, req, resp) == 0 &&
        delete_policy(deps, req, resp, 'k', k.id, k.subscriber) == 0)
        sn_resp_json(resp, API_OK,
                     json_pack("{s:s, s:b}", "key", k.id, "deleted", 1));
    sn_key_cleanup(&k);
}

/* The caller's own subscriber (another's answers like a missing one). */
static int
load_subscriber(const struct sn_deps *deps, struct sn_req *req,
                struct sn_resp *resp, enum sn_action action)
{
    struct sn_resource res = {.subscriber = req->params[0]};

    if (sn_allowed(deps, req, resp, action, NULL) != 0 ||
        sn_allowed(deps, req, resp, action, &res) != 0)
        return -1;
    return 0;
}

void
sn_h_subscriber_policy_put(const struct sn_deps *deps, struct sn_req *req,
                           struct sn_resp *resp)
{
    const char *sub = req->params[0];
    json_t *pol = NULL;

    if (load_subscriber(deps, req, resp, SN_ACT_SUBSCRIBER_POLICY_SET) != 0 ||
        subscriber_change_allowed(deps, sub, req, resp) != 0)
        return;
    if (store_policy(deps, req, resp, 's', sub, sub, &pol) == 0)
        sn_resp_json(resp, API_OK,
                     json_pack("{s:s, s:o}", "subscriber", sub, "policy", pol));
}

void
sn_h_subscriber_policy_get(const struct sn_deps *deps, struct sn_req *req,
                           struct sn_resp *resp)
{
    const char *sub = req->params[0];
    struct cached c;

    memset(&c, 0, sizeof(c));
    if (load_subscriber(deps, req, resp, SN_ACT_SUBSCRIBER_POLICY_READ) != 0)
        return;
    if (deps->keyrules != NULL &&
        lookup(deps->keyrules, deps->store, 's', sub, &c) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    sn_resp_json(
        resp, API_OK,
        json_pack("{s:s, s:o, s:b}", "subscriber", sub, "policy",
                  c.present ? sn_keypolicy_json(&c.kp) : json_null(),
                  "instance_require_strong_auth",
                  deps->keyrules != NULL && deps->keyrules->strong_default));
}

void
sn_h_subscriber_policy_delete(const struct sn_deps *deps, struct sn_req *req,
                              struct sn_resp *resp)
{
    const char *sub = req->params[0];

    if (load_subscriber(deps, req, resp, SN_ACT_SUBSCRIBER_POLICY_SET) != 0 ||
        subscriber_change_allowed(deps, sub, req, resp) != 0)
        return;
    if (delete_policy(deps, req, resp, 's', sub, sub) == 0)
        sn_resp_json(resp, API_OK,
                     json_pack("{s:s, s:b}", "subscriber", sub, "deleted", 1));
}
