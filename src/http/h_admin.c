/*
 * h_admin: subscribers and API tokens. Request bodies are untrusted JSON,
 * checked field by field before anything is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "http/bodies.h"
#include "http/handlers.h"

static json_t *
subscriber_json(const struct sn_subscriber *s)
{
    return json_pack("{s:s, s:s, s:o}", "id", s->id, "name", s->name,
                     "created_at", sn_time_json(s->created_at));
}

void
sn_h_subscriber_create(const struct sn_deps *deps, struct sn_req *req,
                       struct sn_resp *resp)
{
    struct sn_subscriber sub, other;
    struct sn_body_subscriber body;
    struct sn_audit a;
    struct sn_body_fault f;
    const char *name = body.name;
    sn_err r;

    if (sn_allowed(deps, req, resp, SN_ACT_SUBSCRIBER_CREATE, NULL) != 0)
        return;
    if (sn_body_subscriber(req->json, &body, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        return;
    }
    memset(&sub, 0, sizeof(sub));
    if (sn_store_subscriber_by_name(deps->store, name, &other) == SN_OK) {
        sn_resp_error(resp, API_CONFLICT, "a subscriber named '%s' exists",
                      name);
        return;
    }
    if (sn_uuid(sub.id) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "no randomness");
        return;
    }
    snprintf(sub.name, sizeof(sub.name), "%s", name);
    sub.created_at = time(NULL);
    if ((r = deps->parts.create(deps->parts.arg, &sub)) != SN_OK) {
        if (r == SN_ERR_CONFIG)
            sn_resp_error(resp, API_CONFLICT,
                          "no HSM partition is configured for subscriber "
                          "'%s' (hsm.subscriber_token)",
                          name);
        else
            sn_resp_error(resp, API_UNAVAILABLE,
                          "cannot create the subscriber's HSM partition: %s",
                          sn_err_str(r));
        return;
    }
    if ((r = sn_store_subscriber_add(deps->store, &sub)) != SN_OK) {
        if (r == SN_ERR_EXISTS)
            sn_resp_error(resp, API_CONFLICT, "a subscriber named '%s' exists",
                          name);
        else
            sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    /* In the new subscriber's log and, made by an operator, the
     * operators' (issue 17). */
    sn_audit_init(&a, req, sub.id, "", "subscriber_create");
    snprintf(a.detail, sizeof(a.detail), "subscriber %s name=%s", sub.id,
             sub.name);
    if (sn_store_audit_add(deps->store, &a) != SN_OK)
        sn_error("audit: subscriber %s created, its record not written",
                 sub.id);
    sn_info("subscriber %s created (%s), partition %s", sub.id, sub.name,
            sub.token_label);
    sn_resp_json(resp, API_CREATED, subscriber_json(&sub));
}

void
sn_h_subscriber_list(const struct sn_deps *deps, struct sn_req *req,
                     struct sn_resp *resp)
{
    struct sn_subscriber *subs = NULL;
    json_t *arr;
    size_t n = 0, i;

    if (sn_allowed(deps, req, resp, SN_ACT_SUBSCRIBER_LIST, NULL) != 0)
        return;
    if (sn_store_subscriber_list(deps->store, &subs, &n) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    arr = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(arr, subscriber_json(&subs[i]));
    free(subs);
    sn_resp_json(resp, API_OK, json_pack("{s:o}", "subscribers", arr));
}

/* The token's keys must be the subscriber's own. */
static int
keys_owned(const struct sn_deps *deps, const struct sn_token *t,
           struct sn_resp *resp)
{
    struct sn_key k;
    size_t i;
    sn_err r;

    for (i = 0; i < t->nkeys; i++) {
        r = sn_store_key_get(deps->store, t->keys[i], &k);
        if (r == SN_OK && strcmp(k.subscriber, t->subscriber) != 0)
            r = SN_ERR_NOT_FOUND;
        sn_key_cleanup(&k);
        if (r != SN_OK) {
            sn_resp_error(resp, API_INVALID_FIELD,
                          "key %s is not one of this subscriber's keys",
                          t->keys[i]);
            return -1;
        }
    }
    return 0;
}

/*
 * The new token's expiry: the time asked for; none if asked for (the
 * policy refuses that to a caller that expires itself); else the default
 * lifetime (tokens.default_lifetime), cut to the caller's own expiry.
 */
static time_t
token_expiry(const struct sn_deps *deps, const struct sn_principal *who,
             const struct sn_body_token *body, time_t now)
{
    time_t handed = sn_policy_grant_expiry(who, 0);

    if (body->expires_at != 0 || body->no_expiry)
        return body->expires_at;
    if (deps->token_lifetime > 0 &&
        (handed == 0 || handed - now > deps->token_lifetime))
        return now + deps->token_lifetime;
    return handed;
}

/* The new token t holds no more than the caller (see the policy). 0 if
 * allowed. */
static int
allowed_grant(const struct sn_deps *deps, struct sn_req *req,
              struct sn_token *t, struct sn_resp *resp)
{
    struct sn_resource res;

    memset(&res, 0, sizeof(res));
    res.roles = t->roles;
    res.keys = (const char(*)[SN_UUID_LEN])t->keys;
    res.nkeys = t->nkeys;
    res.expires_at = t->expires_at;
    return sn_allowed(deps, req, resp, SN_ACT_TOKEN_GRANT, &res);
}

void
sn_h_token_create(const struct sn_deps *deps, struct sn_req *req,
                  struct sn_resp *resp)
{
    struct sn_subscriber sub;
    struct sn_body_token body;
    struct sn_body_fault f;
    struct sn_resource res;
    struct sn_token t;
    struct sn_audit a;
    char *secret = NULL;
    json_t *o;
    sn_err r;

    memset(&t, 0, sizeof(t));
    memset(&res, 0, sizeof(res));
    res.subscriber = req->params[0];
    /* Another subscriber answers like a missing one; a key-limited token
     * is refused (403) whichever subscriber it names. */
    if (sn_allowed(deps, req, resp, SN_ACT_TOKEN_CREATE, &res) != 0)
        return;
    if ((r = sn_store_subscriber_get(deps->store, req->params[0], &sub)) ==
        SN_ERR_NOT_FOUND) {
        sn_resp_error(resp, API_NOT_FOUND, "no such subscriber");
        return;
    }
    if (r != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    t.created_at = time(NULL);
    if (sn_body_token(req->json, t.created_at, &body, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        return;
    }
    snprintf(t.subscriber, sizeof(t.subscriber), "%s", sub.id);
    snprintf(t.name, sizeof(t.name), "%s", body.name);
    t.roles = body.roles;
    memcpy(t.keys, body.keys, sizeof(t.keys));
    t.nkeys = body.nkeys;
    t.expires_at = token_expiry(deps, req->who, &body, t.created_at);
    /* A token a person made (through their session, or a token they
     * made) names that person's account, so that its sign requests are
     * theirs: they cannot approve them (issue 17). */
    if (req->who->method == SN_AUTH_SESSION ||
        (req->who->method == SN_AUTH_BEARER && req->who->via[0] != '\0'))
        snprintf(t.via, sizeof(t.via), "%s", req->who->via);
    if (keys_owned(deps, &t, resp) != 0)
        return;
    if (allowed_grant(deps, req, &t, resp) != 0)
        return;
    if (sn_uuid(t.id) != SN_OK ||
        sn_apitoken_new(t.id, &secret, t.hash) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "no randomness");
        return;
    }
    sn_audit_init(&a, req, sub.id, "", "token_create");
    snprintf(a.detail, sizeof(a.detail), "token %s '%s'", t.id, t.name);
    if (sn_store_token_add(deps->store, &t) != SN_OK ||
        sn_store_audit_add(deps->store, &a) != SN_OK) {
        sn_secret_free(secret);
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    o = sn_token_json(&t);
    if (o != NULL)
        json_object_set_new(o, "token", json_string(secret));
    sn_secret_free(secret);
    sn_resp_json(resp, API_CREATED, o);
}

void
sn_h_token_revoke(const struct sn_deps *deps, struct sn_req *req,
                  struct sn_resp *resp)
{
    struct sn_decision d;
    struct sn_resource res;
    struct sn_token t;
    struct sn_audit a;
    time_t now = time(NULL);
    sn_err r;

    memset(&t, 0, sizeof(t));
    r = sn_store_token_get(deps->store, req->params[0], &t);
    memset(&res, 0, sizeof(res));
    res.subscriber = t.subscriber;
    res.admin_token = t.admin;
    res.token = t.id;
    /* Another subscriber's token answers like a missing one (the policy
     * hides it); a key-limited token's try at a sibling is a 403. */
    if (r == SN_OK && sn_policy_decide(req->who, SN_ACT_TOKEN_REVOKE, &res,
                                       &d) != SN_POLICY_ALLOW) {
        if (!d.hide) {
            sn_allowed(deps, req, resp, SN_ACT_TOKEN_REVOKE, &res);
            return;
        }
        r = SN_ERR_NOT_FOUND;
    }
    if (r == SN_OK && t.revoked_at != 0)
        r = SN_ERR_NOT_FOUND;
    if (r == SN_ERR_NOT_FOUND) {
        sn_resp_error(resp, API_NOT_FOUND, "no such active token");
        return;
    }
    if (r != SN_OK ||
        (r = sn_store_token_revoke(deps->store, t.id, now)) != SN_OK) {
        sn_resp_error(resp,
                      r == SN_ERR_NOT_FOUND ? API_NOT_FOUND : API_UNAVAILABLE,
                      "cannot revoke the token");
        return;
    }
    if (!t.admin) {
        sn_audit_init(&a, req, t.subscriber, "", "token_revoke");
        snprintf(a.detail, sizeof(a.detail), "token %s '%s'", t.id, t.name);
        if (sn_store_audit_add(deps->store, &a) != SN_OK)
            sn_error("audit: cannot record a token revocation");
    }
    sn_resp_json(
        resp, API_OK,
        json_pack("{s:s, s:o}", "id", t.id, "revoked_at", sn_time_json(now)));
}
