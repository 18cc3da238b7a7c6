/*
 * h_clientcerts: POST, GET and DELETE /v1/client-certs, a subscriber's
 * registrations of TLS client-certificate trust (see auth/mtls.c for how
 * a presented certificate is checked against them). The body is
 * untrusted and parsed by sn_body_clientcert.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "crypto/peercert.h"
#include "crypto/x509util.h"
#include "http/bodies.h"
#include "http/handlers.h"

/* The keys a registration names must be the subscriber's. */
static int
keys_owned(const struct sn_deps *deps, const struct sn_clientcert *c,
           struct sn_resp *resp)
{
    struct sn_key k;
    size_t i;
    sn_err r;

    for (i = 0; i < c->nkeys; i++) {
        r = sn_store_key_brief(deps->store, c->keys[i], &k);
        if (r == SN_OK && strcmp(k.subscriber, c->subscriber) != 0)
            r = SN_ERR_NOT_FOUND;
        sn_key_cleanup(&k);
        if (r != SN_OK) {
            sn_resp_error(resp, API_INVALID_FIELD,
                          "key %s is not one of this subscriber's keys",
                          c->keys[i]);
            return -1;
        }
    }
    return 0;
}

static json_t *
clientcert_json(const struct sn_clientcert *c)
{
    struct sn_subject_rule rules[SN_PEERCERT_MAX_RULES];
    json_t *o, *subject = NULL, *roles, *keys;
    X509 *x = NULL;
    char dn[256] = "";
    time_t nb = 0, na = 0;
    size_t n = 0, i;

    if (sn_peercert_parse_pem(c->pem, &x) == SN_OK) {
        X509_NAME_oneline(X509_get_subject_name(x), dn, sizeof(dn));
        if (sn_x509_validity(x, &nb, &na) != SN_OK)
            na = 0;
    }
    X509_free(x);
    roles = json_array();
    keys = json_array();
    if (c->kind == SN_CLIENTCERT_CA &&
        sn_peercert_rules_parse(c->rules, rules, &n) == SN_OK &&
        (subject = json_object()) != NULL)
        for (i = 0; i < n; i++)
            json_object_set_new(subject, sn_peercert_rule_attr(&rules[i]),
                                json_string(rules[i].pattern));
    if (c->roles & SN_ROLE_MANAGE)
        json_array_append_new(roles, json_string("manage"));
    if (c->roles & SN_ROLE_SIGN)
        json_array_append_new(roles, json_string("sign"));
    for (i = 0; i < c->nkeys; i++)
        json_array_append_new(keys, json_string(c->keys[i]));
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "id",
                  c->id, "subscriber", c->subscriber, "name", c->name, "kind",
                  c->kind == SN_CLIENTCERT_LEAF ? "certificate" : "ca",
                  "fingerprint", c->fingerprint, "certificate_subject", dn,
                  "not_after", sn_time_json(na), "roles", roles, "keys", keys,
                  "created_at", sn_time_json(c->created_at));
    if (o != NULL && subject != NULL)
        json_object_set_new(o, "subject", subject);
    else
        json_decref(subject);
    if (o != NULL)
        json_object_set_new(
            o, c->kind == SN_CLIENTCERT_LEAF ? "certificate_pem" : "ca_pem",
            json_string(c->pem));
    return o;
}

/* The registration a valid body describes, for the caller's subscriber. */
static sn_err
registration(const struct sn_body_clientcert *b, const char *subscriber,
             struct sn_clientcert *c)
{
    BIO *bio = NULL;
    char *p = NULL;
    long len;
    sn_err r = SN_ERR_CRYPTO;

    memset(c, 0, sizeof(*c));
    snprintf(c->subscriber, sizeof(c->subscriber), "%s", subscriber);
    snprintf(c->name, sizeof(c->name), "%s", b->name);
    c->kind = b->kind;
    c->roles = b->roles;
    memcpy(c->keys, b->keys, sizeof(c->keys));
    c->nkeys = b->nkeys;
    c->created_at = time(NULL);
    if (sn_peercert_fingerprint(b->cert, c->fingerprint) != SN_OK)
        goto out;
    if (b->kind == SN_CLIENTCERT_LEAF)
        memcpy(c->match, c->fingerprint, sizeof(c->match));
    else if (sn_peercert_name_hash(b->cert, 0, c->match) != SN_OK ||
             sn_peercert_rules_format(b->rules, b->nrules, c->rules,
                                      sizeof(c->rules)) != SN_OK)
        goto out;
    /* Stored as PEM, re-encoded: only the certificate, nothing around. */
    if ((bio = BIO_new(BIO_s_mem())) == NULL ||
        PEM_write_bio_X509(bio, b->cert) != 1 ||
        (len = BIO_get_mem_data(bio, &p)) <= 0 ||
        (c->pem = strndup(p, (size_t)len)) == NULL)
        goto out;
    r = sn_uuid(c->id);
out:
    BIO_free(bio);
    if (r != SN_OK)
        sn_clientcert_cleanup(c);
    return r;
}

void
sn_h_clientcert_create(const struct sn_deps *deps, struct sn_req *req,
                       struct sn_resp *resp)
{
    struct sn_body_clientcert body;
    struct sn_body_fault f;
    struct sn_resource res;
    struct sn_clientcert c;
    struct sn_audit a;

    memset(&c, 0, sizeof(c));
    memset(&body, 0, sizeof(body));
    memset(&res, 0, sizeof(res));
    res.subscriber = req->who->subscriber;
    if (sn_allowed(deps, req, resp, SN_ACT_CLIENTCERT_MANAGE, &res) != 0)
        goto out;
    if (sn_body_clientcert(req->json, time(NULL), &body, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        goto out;
    }
    if (registration(&body, req->who->subscriber, &c) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "cannot record the certificate");
        goto out;
    }
    if (keys_owned(deps, &c, resp) != 0)
        goto out;
    /* What it grants, the caller must hold (as for a new token). */
    res.roles = c.roles;
    res.keys = (const char(*)[SN_UUID_LEN])c.keys;
    res.nkeys = c.nkeys;
    res.expires_at = req->who->expires_at;
    if (sn_allowed(deps, req, resp, SN_ACT_TOKEN_GRANT, &res) != 0)
        goto out;
    sn_audit_init(&a, req, c.subscriber, "", "client_cert_add");
    snprintf(a.detail, sizeof(a.detail), "client certificate %s %s sha256:%s",
             c.id, c.kind == SN_CLIENTCERT_LEAF ? "certificate" : "ca",
             c.fingerprint);
    if (sn_store_clientcert_add(deps->store, &c) != SN_OK ||
        sn_store_audit_add(deps->store, &a) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    sn_resp_json(resp, API_CREATED, clientcert_json(&c));
out:
    sn_clientcert_cleanup(&c);
    sn_body_clientcert_cleanup(&body);
}

void
sn_h_clientcert_list(const struct sn_deps *deps, struct sn_req *req,
                     struct sn_resp *resp)
{
    struct sn_resource res = {.subscriber = req->who->subscriber};
    struct sn_clientcert *cs = NULL;
    json_t *arr;
    size_t n = 0, i;

    if (sn_allowed(deps, req, resp, SN_ACT_CLIENTCERT_MANAGE, &res) != 0)
        return;
    if (sn_store_clientcert_list(deps->store, req->who->subscriber, &cs, &n) !=
        SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    if ((arr = json_array()) != NULL)
        for (i = 0; i < n; i++)
            json_array_append_new(arr, clientcert_json(&cs[i]));
    sn_clientcert_list_free(cs, n);
    sn_resp_json(resp, API_OK,
                 arr != NULL ? json_pack("{s:o}", "client_certs", arr) : NULL);
}

void
sn_h_clientcert_delete(const struct sn_deps *deps, struct sn_req *req,
                       struct sn_resp *resp)
{
    struct sn_resource res;
    struct sn_decision d;
    struct sn_clientcert c;
    struct sn_audit a;
    sn_err r;

    if (sn_allowed(deps, req, resp, SN_ACT_CLIENTCERT_MANAGE, NULL) != 0)
        return;
    r = sn_store_clientcert_get(deps->store, req->params[0], &c);
    memset(&res, 0, sizeof(res));
    res.subscriber = c.subscriber;
    if (r == SN_OK && sn_policy_decide(req->who, SN_ACT_CLIENTCERT_MANAGE, &res,
                                       &d) != SN_POLICY_ALLOW)
        r = SN_ERR_NOT_FOUND;
    if (r == SN_OK)
        r = sn_store_clientcert_delete(deps->store, c.id);
    if (r != SN_OK) {
        sn_resp_error(
            resp, r == SN_ERR_NOT_FOUND ? API_NOT_FOUND : API_UNAVAILABLE,
            r == SN_ERR_NOT_FOUND ? "no such client-certificate registration"
                                  : "database unavailable");
        sn_clientcert_cleanup(&c);
        return;
    }
    sn_audit_init(&a, req, c.subscriber, "", "client_cert_delete");
    snprintf(a.detail, sizeof(a.detail), "client certificate %s sha256:%s",
             c.id, c.fingerprint);
    if (sn_store_audit_add(deps->store, &a) != SN_OK)
        sn_error("audit: cannot record a client-certificate deletion");
    sn_resp_json(resp, API_OK,
                 json_pack("{s:s, s:b}", "id", c.id, "deleted", 1));
    sn_clientcert_cleanup(&c);
}
