/*
 * h_signreq: sign requests awaiting k-of-n approval (issue 17). A digest
 * signing request with a key whose policy requires approvals is stored
 * (h_sign.c hands it here) and answered 202; approvers vote with their
 * login sessions; the vote that completes the approval releases exactly
 * the stored digests, signed in the HSM as h_sign signs them, each
 * signature's audit record committed before the request completes ("no
 * record, no signature"). Every transition is an audit record. Expiry is
 * checked on every access and by the daemon's sweeper.
 *
 * Input: path ids (untrusted; the router bounds their alphabet and
 * length) and query arguments (checked here); the rows read back are
 * ours. Every move of a request is conditional in the store, so two
 * nodes, or two racing approvers, make each transition once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "http/bodies.h"
#include "http/handlers.h"
#include "http/hsmsign.h"
#include "http/keyrules.h"

/* Seconds a client waits between polls of a pending request, and of an
 * approved one (its release takes seconds). */
#define RETRY_PENDING 5
#define RETRY_RELEASE 1
/* An approved request whose release has not finished after this many
 * seconds failed (its node stopped while signing). */
#define RELEASE_STALE 600
/* Requests the sweeper moves at most per step. */
#define SWEEP_MAX 100
/* GET /v1/sign-requests: its limit's default and maximum. */
#define LIST_DEFAULT 100
#define LIST_MAX 1000
/* The rows read for a list: visibility is decided per row, so as many as
 * may be answered; each is small (no digests, no signatures). */
#define LIST_READ LIST_MAX
/* The released signatures as one text: base64 of RSA-4096 at most, and a
 * space, per digest. */
#define SIGS_MAX ((size_t)SN_SR_MAX_DIGESTS * 1024)

static const char *
auth_name(int method)
{
    static const char *const names[] = {"bearer", "oidc", "mtls", "session"};

    return method >= 0 && (size_t)method < sizeof(names) / sizeof(names[0])
               ? names[method]
               : "unknown";
}

/* The request as the policy sees it (borrows from r). */
static void
resource_of(const struct sn_sign_request *r, struct sn_resource *res)
{
    memset(res, 0, sizeof(*res));
    res->subscriber = r->subscriber;
    res->key = r->key;
    res->requester = r->token;
    res->requester_method = r->auth_method;
    res->requester_via = r->via;
    res->approvers = (const char(*)[SN_UUID_LEN])r->approvers;
    res->napprovers = r->napprovers;
}

static unsigned
approvals_of(const struct sn_sign_request *r)
{
    unsigned n = 0;
    size_t i;

    for (i = 0; i < r->nvotes; i++)
        n += r->votes[i].approve != 0;
    return n;
}

/* ---- audit records ---- */

/* A record about r; req is whoever made the transition (NULL: the clock,
 * or the release, which then names the requester: see as_requester). */
static void
record_init(struct sn_audit *a, const struct sn_req *req,
            const struct sn_sign_request *r, const char *action)
{
    sn_audit_init(a, req, r->subscriber, r->key, action);
    snprintf(a->digest_alg, sizeof(a->digest_alg), "%s", sn_digest_name(r->md));
    snprintf(a->scheme, sizeof(a->scheme), "%s", sn_scheme_name(r->scheme));
    if (r->ndigests == 1 && r->digests != NULL)
        sn_hex_encode(r->digests, sn_digest_len(r->md), a->digest);
}

/* The signatures and the request's end are the requester's: its
 * credential, principal and address, as when it asked. */
static void
as_requester(struct sn_audit *a, const struct sn_sign_request *r)
{
    snprintf(a->token, sizeof(a->token), "%s", r->token);
    snprintf(a->principal, sizeof(a->principal), "%s", r->principal);
    snprintf(a->client, sizeof(a->client), "%s", r->client);
}

static sn_err record(const struct sn_deps *deps, struct sn_audit *a,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Commits a, its detail from fmt; a failure is logged and returned. */
static sn_err
record(const struct sn_deps *deps, struct sn_audit *a, const char *fmt, ...)
{
    va_list ap;
    sn_err e;

    va_start(ap, fmt);
    vsnprintf(a->detail, sizeof(a->detail), fmt, ap);
    va_end(ap);
    if ((e = sn_store_audit_add(deps->store, a)) != SN_OK)
        sn_error("audit: cannot record %s (%s)", a->action, a->detail);
    return e;
}

/* The approvers' accounts that approved, for the records. */
static void
approved_by(const struct sn_sign_request *r, char *buf, size_t len)
{
    size_t i, off = 0;

    buf[0] = '\0';
    for (i = 0; i < r->nvotes && off < len; i++)
        if (r->votes[i].approve)
            off += (size_t)snprintf(buf + off, len - off, "%s%s",
                                    off > 0 ? " " : "", r->votes[i].account);
}

static void
record_expired(const struct sn_deps *deps, const struct sn_sign_request *r)
{
    char when[SN_TIME_LEN];
    struct sn_audit a;

    sn_time_format(r->expires_at, when);
    record_init(&a, NULL, r, "sign_request_expired");
    snprintf(a.result, sizeof(a.result), "expired");
    (void)record(deps, &a,
                 "sign request %s expired at %s with %u of %u approvals", r->id,
                 when, approvals_of(r), r->required);
}

/* ---- the request's view ---- */

/* The digests in hex; a list's requests hold none (null). */
static json_t *
digests_json(const struct sn_sign_request *r)
{
    char hex[2 * 64 + 1];
    size_t dlen = sn_digest_len(r->md), i;
    json_t *a;

    if (r->digests == NULL)
        return json_null();
    a = json_array();
    for (i = 0; a != NULL && i < r->ndigests; i++) {
        sn_hex_encode(r->digests + i * dlen, dlen, hex);
        json_array_append_new(a, json_string(hex));
    }
    return a;
}

static json_t *
votes_json(const struct sn_sign_request *r)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < r->nvotes; i++)
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:o}", "account", r->votes[i].account,
                         "vote", r->votes[i].approve ? "approve" : "deny",
                         "time", sn_time_json(r->votes[i].time)));
    return a;
}

/* Completed: the signatures, as the sign request itself would have been
 * answered ("signature", or "signatures" for a batch). */
static void
add_signatures(json_t *o, const struct sn_sign_request *r)
{
    json_t *a = json_array();
    const char *p = r->signatures;
    size_t len;

    while (a != NULL && p != NULL && *p != '\0') {
        len = strcspn(p, " ");
        json_array_append_new(a, json_stringn(p, len));
        p += len;
        p += *p == ' ';
    }
    if (a != NULL && r->batch)
        json_object_set(o, "signatures", a);
    else if (a != NULL && json_array_size(a) == 1)
        json_object_set(o, "signature", json_array_get(a, 0));
    json_decref(a);
}

static json_t *
approvers_json(const struct sn_sign_request *r)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < r->napprovers; i++)
        json_array_append_new(a, json_string(r->approvers[i]));
    return a;
}

static json_t *
request_json(const struct sn_sign_request *r)
{
    json_t *o;

    o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:i, s:o,"
        " s:{s:s, s:s, s:s, s:s}, s:{s:i, s:i, s:o}, s:o, s:o, s:o, s:o, s:I}",
        "id", r->id, "state", sn_sr_state_name(r->state), "subscriber",
        r->subscriber, "key", r->key, "digest_algorithm", sn_digest_name(r->md),
        "scheme", sn_scheme_name(r->scheme), "batch", r->batch, "digest_count",
        (int)r->ndigests, "digests", digests_json(r), "requester", "token",
        r->token, "auth", auth_name(r->auth_method), "principal", r->principal,
        "client", r->client, "approvals", "required", (int)r->required,
        "approved", (int)approvals_of(r), "approvers", approvers_json(r),
        "votes", votes_json(r), "created_at", sn_time_json(r->created_at),
        "expires_at", sn_time_json(r->expires_at), "updated_at",
        sn_time_json(r->updated_at), "version", (json_int_t)r->version);
    if (o != NULL && r->state == SN_SR_FAILED)
        json_object_set_new(o, "reason", json_string(r->reason));
    if (o != NULL && r->state == SN_SR_COMPLETED)
        add_signatures(o, r);
    return o;
}

/* The answer: the request, and while it is not settled when to ask
 * again. */
static void
answer(struct sn_resp *resp, enum sn_api code, const struct sn_sign_request *r)
{
    sn_resp_json(resp, code, request_json(r));
    if (r->state == SN_SR_PENDING)
        sn_resp_header(resp, "Retry-After", "%d", RETRY_PENDING);
    else if (r->state == SN_SR_APPROVED)
        sn_resp_header(resp, "Retry-After", "%d", RETRY_RELEASE);
}

/* ---- loading, expiry ---- */

/*
 * The request of the path, for the caller, if the policy allows action on
 * it: roles first (before the store is asked), then the request's
 * parties. Another subscriber's request answers like a missing one.
 */
static int
load_request(const struct sn_deps *deps, struct sn_req *req,
             struct sn_resp *resp, enum sn_action action,
             struct sn_sign_request *r)
{
    const char *id = req->params[0];
    struct sn_resource res;
    sn_err e;

    memset(r, 0, sizeof(*r));
    if (sn_allowed(deps, req, resp, action, NULL) != 0)
        return -1;
    e = strlen(id) < SN_UUID_LEN ? sn_store_sign_request_get(deps->store, id, r)
                                 : SN_ERR_NOT_FOUND;
    if (e != SN_OK) {
        sn_resp_error(
            resp, e == SN_ERR_NOT_FOUND ? API_NOT_FOUND : API_UNAVAILABLE, "%s",
            e == SN_ERR_NOT_FOUND ? "no such sign request"
                                  : "database unavailable");
        return -1;
    }
    resource_of(r, &res);
    if (sn_allowed(deps, req, resp, action, &res) != 0) {
        sn_sign_request_cleanup(r);
        return -1;
    }
    return 0;
}

/* Reads r again after another node or thread moved it. */
static void
reload(const struct sn_deps *deps, struct sn_sign_request *r)
{
    struct sn_sign_request again;

    if (sn_store_sign_request_get(deps->store, r->id, &again) != SN_OK)
        return;
    sn_sign_request_cleanup(r);
    *r = again;
}

/* Expiry on access: a pending request past its deadline is moved to
 * expired (once, by whoever sees it first) before it is answered. */
static void
expire_due(const struct sn_deps *deps, struct sn_sign_request *r, time_t now)
{
    sn_err e;

    if (r->state != SN_SR_PENDING || now < r->expires_at)
        return;
    e = sn_store_sign_request_move(deps->store, r->id, SN_SR_PENDING,
                                   SN_SR_EXPIRED, now, NULL, NULL);
    if (e == SN_OK) {
        r->state = SN_SR_EXPIRED;
        record_expired(deps, r);
    }
    reload(deps, r);
}

/* ---- opening a request (from POST /v1/keys/{id}/sign) ---- */

static void
requester_of(const struct sn_req *req, struct sn_sign_request *r)
{
    const struct sn_principal *p = req->who;

    snprintf(r->token, sizeof(r->token), "%s", p->id);
    r->auth_method = (int)p->method;
    snprintf(r->via, sizeof(r->via), "%s", p->via);
    sn_audit_principal(r->principal, sizeof(r->principal), p->method, p->id,
                       p->via, p->proof);
    snprintf(r->client, sizeof(r->client), "%s", req->client);
}

/* What is stored: the body's digests exactly, the policy's approvers. */
static sn_err
request_from(const struct sn_req *req, const struct sn_key *k,
             const struct sn_body_sign *in, const struct sn_kp_approvals *ap,
             time_t now, struct sn_sign_request *r)
{
    size_t dlen = sn_digest_len(in->md), i;

    memset(r, 0, sizeof(*r));
    if (in->n == 0 || in->n > SN_SR_MAX_DIGESTS ||
        ap->napprovers > SN_SR_MAX_APPROVERS)
        return SN_ERR_INVALID;
    if (sn_uuid(r->id) != SN_OK || (r->digests = malloc(in->n * dlen)) == NULL)
        return SN_ERR_NOMEM;
    for (i = 0; i < in->n; i++)
        memcpy(r->digests + i * dlen, in->digests[i], dlen);
    r->ndigests = in->n;
    r->md = in->md;
    r->scheme = in->scheme;
    r->batch = in->batch;
    snprintf(r->subscriber, sizeof(r->subscriber), "%s", k->subscriber);
    snprintf(r->key, sizeof(r->key), "%s", k->id);
    requester_of(req, r);
    r->required = ap->required;
    memcpy(r->approvers, ap->approvers, sizeof(r->approvers));
    r->napprovers = ap->napprovers;
    r->created_at = now;
    r->expires_at = now + (time_t)ap->expires_in;
    return SN_OK;
}

int
sn_sign_request_open(const struct sn_deps *deps, struct sn_req *req,
                     struct sn_resp *resp, const struct sn_key *k,
                     const struct sn_body_sign *in,
                     const struct sn_kp_approvals *ap)
{
    char when[SN_TIME_LEN];
    struct sn_sign_request r;
    struct sn_audit a;
    time_t now = time(NULL);
    int ret = -1;

    if (request_from(req, k, in, ap, now, &r) != SN_OK ||
        sn_store_sign_request_add(deps->store, &r) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    sn_time_format(r.expires_at, when);
    record_init(&a, req, &r, "sign_request");
    /* Approvals are only ever a key's own policy's. */
    snprintf(a.policy, sizeof(a.policy), "allow key, approval %u of %zu",
             r.required, r.napprovers);
    if (record(deps, &a,
               "sign request %s: %zu digest(s), waits for %u of %zu "
               "approvers until %s",
               r.id, r.ndigests, r.required, r.napprovers, when) != SN_OK) {
        /* No record, no request: it ends before anyone could approve. */
        (void)sn_store_sign_request_move(deps->store, r.id, SN_SR_PENDING,
                                         SN_SR_FAILED, now,
                                         "the audit log was unavailable", NULL);
        sn_resp_error(resp, API_UNAVAILABLE,
                      "the audit log is unavailable; nothing was requested");
        goto out;
    }
    sn_resp_json(resp, API_ACCEPTED,
                 json_pack("{s:s, s:s, s:s, s:i, s:o}", "request", r.id,
                           "state", sn_sr_state_name(SN_SR_PENDING), "key",
                           r.key, "required", (int)r.required, "expires_at",
                           sn_time_json(r.expires_at)));
    sn_resp_header(resp, "Location", "/v1/sign-requests/%s", r.id);
    sn_resp_header(resp, "Retry-After", "%d", RETRY_PENDING);
    ret = 0;
out:
    sn_sign_request_cleanup(&r);
    return ret;
}

/* ---- the release of an approved request ---- */

/* The request ends failed with why, recorded as the requester's. */
static void
release_failed(const struct sn_deps *deps, struct sn_sign_request *r,
               const char *why)
{
    struct sn_audit a;

    if (sn_store_sign_request_move(deps->store, r->id, SN_SR_APPROVED,
                                   SN_SR_FAILED, time(NULL), why,
                                   NULL) != SN_OK) {
        sn_error("sign request %s: cannot record its failure (%s)", r->id, why);
        return;
    }
    r->state = SN_SR_FAILED;
    snprintf(r->reason, sizeof(r->reason), "%s", why);
    record_init(&a, NULL, r, "sign_request_failed");
    as_requester(&a, r);
    snprintf(a.result, sizeof(a.result), "failed");
    (void)record(deps, &a, "sign request %s: %s", r->id, why);
}

/*
 * What must still hold when the approval comes: the requester's credential
 * (not revoked, not expired), the key enabled, and its quota. *k is the
 * key's brief, *t what the quota took.
 */
static int
release_check(const struct sn_deps *deps, const struct sn_sign_request *r,
              struct sn_key *k, struct sn_sign_ticket *t, char *why, size_t len)
{
    struct sn_principal who;
    enum sn_auth_fault f;

    memset(&who, 0, sizeof(who));
    who.method = (enum sn_auth_method)r->auth_method;
    snprintf(who.id, sizeof(who.id), "%s", r->token);
    snprintf(who.via, sizeof(who.via), "%s", r->via);
    snprintf(who.subscriber, sizeof(who.subscriber), "%s", r->subscriber);
    /* Revoked, not merely expired: a pipeline's exchanged token lives
     * minutes, its approval may take a day. What it asked was asked while
     * it was good; a revocation (or a deleted registration) withdraws it. */
    f = sn_auth_recheck(deps->store, &who);
    if (f != SN_AUTH_OK && f != SN_AUTH_EXPIRED && f != SN_AUTH_IDLE &&
        f != SN_AUTH_CERT_EXPIRED) {
        snprintf(why, len, "the requester's credential is no longer good: %s",
                 sn_auth_fault_str(f));
        return -1;
    }
    if (sn_store_key_brief(deps->store, r->key, k) != SN_OK) {
        snprintf(why, len, "the key is gone or the database unavailable");
        return -1;
    }
    if (k->state != SN_KEY_ENABLED) {
        snprintf(why, len, "the key is %s; only enabled keys sign",
                 sn_key_state_name(k->state));
        return -1;
    }
    return sn_sign_policy_release(deps, k, r->ndigests, t, why, len);
}

/* Signature i's record: the requester's, naming the request and who
 * approved it. */
static void
sign_record(struct sn_audit *a, const struct sn_sign_request *r, size_t i,
            const struct sn_sign_ticket *t)
{
    char who[SN_SR_MAX_APPROVERS * SN_UUID_LEN];
    size_t dlen = sn_digest_len(r->md);

    approved_by(r, who, sizeof(who));
    sn_audit_init(a, NULL, r->subscriber, r->key, "sign");
    as_requester(a, r);
    snprintf(a->policy, sizeof(a->policy), "%.40s approved", t->policy);
    snprintf(a->digest_alg, sizeof(a->digest_alg), "%s", sn_digest_name(r->md));
    sn_hex_encode(r->digests + i * dlen, dlen, a->digest);
    snprintf(a->scheme, sizeof(a->scheme), "%s", sn_scheme_name(r->scheme));
    snprintf(a->detail, sizeof(a->detail),
             "sign request %s, approved by %.160s", r->id, who);
}

/* Signature i, base64, appended to sigs. */
static sn_err
append_b64(struct sn_buf *sigs, const uint8_t *sig, size_t len)
{
    char *b64 = NULL;
    sn_err e;

    if ((e = sn_b64_encode(sig, len, &b64)) != SN_OK)
        return e;
    if ((sigs->len > 0 && (e = sn_buf_append(sigs, " ", 1)) != SN_OK) ||
        (e = sn_buf_append(sigs, b64, strlen(b64))) != SN_OK) {
        free(b64);
        return e;
    }
    free(b64);
    return SN_OK;
}

/*
 * Signs exactly the stored digests with the stored algorithm and scheme,
 * in order; recs gets one record per signature. On an HSM failure the
 * signatures made so far are recorded with the failure (they were made,
 * none is released) and why says so.
 */
static int
release_sign(const struct sn_deps *deps, const struct sn_sign_request *r,
             const struct sn_key *k, const struct sn_sign_ticket *t,
             struct sn_audit *recs, struct sn_buf *sigs, char *why, size_t len)
{
    size_t dlen = sn_digest_len(r->md), i, siglen;
    struct timespec t0, t1;
    struct sn_hsm_signer hs;
    uint8_t *sig = NULL;
    sn_err e;

    if (sn_hsm_signer_init(deps, k, &hs) != SN_OK) {
        snprintf(why, len, "the subscriber's HSM partition is unavailable");
        return -1;
    }
    for (i = 0; i < r->ndigests; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        e = sn_keeper_sign_digest(deps->keeper, k->subscriber, k->id, r->md,
                                  r->scheme, r->digests + i * dlen, dlen, &sig,
                                  &siglen);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (e != SN_OK) {
            sign_record(&recs[i], r, i, t);
            snprintf(recs[i].result, sizeof(recs[i].result), "error");
            snprintf(recs[i].detail, sizeof(recs[i].detail),
                     "sign request %s: HSM: %s; %zu signature(s) made, none "
                     "released",
                     r->id, sn_err_str(e), i);
            if (sn_store_audit_add_many(deps->store, recs, i + 1) != SN_OK)
                sn_error("audit: cannot record a failed release");
            snprintf(why, len, "the HSM could not sign: %s", sn_err_str(e));
            return -1;
        }
        sn_metrics_signature(deps->metrics, k->alg,
                             (double)(t1.tv_sec - t0.tv_sec) +
                                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        sign_record(&recs[i], r, i, t);
        sn_audit_signature(&recs[i], k, sig, siglen);
        e = sn_audit_salt(&recs[i], t->commit_digests);
        if (e == SN_OK)
            e = append_b64(sigs, sig, siglen);
        free(sig);
        sig = NULL;
        if (e != SN_OK) {
            snprintf(why, len, "out of memory");
            return -1;
        }
    }
    return 0;
}

static void
release_completed(const struct sn_deps *deps, struct sn_sign_request *r,
                  uint8_t *sigs)
{
    char who[SN_SR_MAX_APPROVERS * SN_UUID_LEN];
    struct sn_audit a;

    if (sn_store_sign_request_move(deps->store, r->id, SN_SR_APPROVED,
                                   SN_SR_COMPLETED, time(NULL), NULL,
                                   (const char *)sigs) != SN_OK) {
        /* The sweeper ended it meanwhile: made and recorded, never
         * released. */
        sn_error("sign request %s: no longer approved when its signatures "
                 "were ready; they are not released",
                 r->id);
        return;
    }
    r->state = SN_SR_COMPLETED;
    approved_by(r, who, sizeof(who));
    record_init(&a, NULL, r, "sign_request_completed");
    as_requester(&a, r);
    (void)record(deps, &a,
                 "sign request %s: %zu signature(s) released, "
                 "approved by %.160s",
                 r->id, r->ndigests, who);
}

/*
 * The release, by the thread whose vote made the approval (exactly one):
 * checks, signs, commits the records, then completes the request with the
 * signatures; any failure ends it failed, saying why.
 */
static void
release(const struct sn_deps *deps, struct sn_sign_request *r)
{
    char why[SN_SR_REASON_MAX + 1] = "";
    struct sn_sign_ticket t;
    struct sn_audit *recs = NULL;
    struct sn_buf sigs;
    uint8_t *text = NULL;
    struct sn_key k;
    size_t len;

    memset(&k, 0, sizeof(k));
    memset(&t, 0, sizeof(t));
    sn_buf_init(&sigs, SIGS_MAX);
    if (release_check(deps, r, &k, &t, why, sizeof(why)) != 0)
        goto failed;
    if ((recs = calloc(r->ndigests, sizeof(*recs))) == NULL) {
        snprintf(why, sizeof(why), "out of memory");
        goto failed;
    }
    if (release_sign(deps, r, &k, &t, recs, &sigs, why, sizeof(why)) != 0) {
        sn_sign_policy_refund(deps, &t);
        goto failed;
    }
    /* No record, no signature. */
    if (sn_store_audit_add_many(deps->store, recs, r->ndigests) != SN_OK) {
        snprintf(why, sizeof(why),
                 "the audit log is unavailable; nothing was released");
        goto failed;
    }
    sn_buf_take(&sigs, &text, &len);
    release_completed(deps, r, text);
    goto out;
failed:
    release_failed(deps, r, why);
out:
    free(text);
    free(recs);
    sn_buf_cleanup(&sigs);
    sn_key_cleanup(&k);
}

/* ---- routes ---- */

void
sn_h_sign_request_get(const struct sn_deps *deps, struct sn_req *req,
                      struct sn_resp *resp)
{
    struct sn_sign_request r;

    if (load_request(deps, req, resp, SN_ACT_SIGN_REQUEST_READ, &r) != 0)
        return;
    expire_due(deps, &r, time(NULL));
    answer(resp, API_OK, &r);
    sn_sign_request_cleanup(&r);
}

/* ?state=: a state's name, "pending" for pending_approval, or "all" (the
 * default); ?limit=1..1000. */
static int
list_args(const struct sn_req *req, enum sn_sr_state *state, size_t *limit)
{
    const char *s = sn_req_query(req, "state");
    const char *l = sn_req_query(req, "limit");
    size_t i, n = 0;

    *state = SN_SR_STATE_COUNT;
    *limit = LIST_DEFAULT;
    if (s != NULL && strcmp(s, "pending") == 0)
        *state = SN_SR_PENDING;
    else if (s != NULL && strcmp(s, "all") != 0 &&
             sn_sr_state_from_name(s, state) != SN_OK)
        return -1;
    if (l == NULL)
        return 0;
    for (i = 0; l[i] != '\0'; i++) {
        if (i >= 4 || l[i] < '0' || l[i] > '9')
            return -1;
        n = n * 10 + (size_t)(l[i] - '0');
    }
    if (n == 0 || n > LIST_MAX)
        return -1;
    *limit = n;
    return 0;
}

/* Whether the caller may see r (each listed request is asked alone). */
static int
visible(const struct sn_req *req, const struct sn_sign_request *r)
{
    struct sn_resource res;

    resource_of(r, &res);
    return sn_policy_decide(req->who, SN_ACT_SIGN_REQUEST_READ, &res, NULL) ==
           SN_POLICY_ALLOW;
}

void
sn_h_sign_request_list(const struct sn_deps *deps, struct sn_req *req,
                       struct sn_resp *resp)
{
    struct sn_sign_request *list = NULL;
    enum sn_sr_state state;
    time_t now = time(NULL);
    size_t n = 0, i, limit;
    json_t *arr;

    if (sn_allowed(deps, req, resp, SN_ACT_SIGN_REQUEST_LIST, NULL) != 0)
        return;
    if (list_args(req, &state, &limit) != 0) {
        sn_resp_error(resp, API_BAD_REQUEST,
                      "'state' must be pending, all or a state's name and "
                      "'limit' 1..%d",
                      LIST_MAX);
        return;
    }
    if (sn_store_sign_request_list(deps->store, req->who->subscriber, state,
                                   LIST_READ, &list, &n) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    arr = json_array();
    for (i = 0; arr != NULL && i < n && json_array_size(arr) < limit; i++) {
        if (!visible(req, &list[i]))
            continue;
        expire_due(deps, &list[i], now);
        /* A list shows no digests or signatures, even of a row read again
         * by the expiry. */
        free(list[i].digests);
        list[i].digests = NULL;
        free(list[i].signatures);
        list[i].signatures = NULL;
        /* Asked for pending ones: one just expired is not. */
        if (state != SN_SR_STATE_COUNT && list[i].state != state)
            continue;
        json_array_append_new(arr, request_json(&list[i]));
    }
    sn_resp_json(resp, API_OK, json_pack("{s:o}", "sign_requests", arr));
    sn_sign_request_list_free(list, n);
}

/* The records of a vote and of the transition it made, if any. */
static void
record_vote(const struct sn_deps *deps, const struct sn_req *req,
            const struct sn_sign_request *r, int approve, int decided)
{
    char who[SN_SR_MAX_APPROVERS * SN_UUID_LEN];
    struct sn_audit a;

    record_init(&a, req, r,
                approve ? "sign_request_approve" : "sign_request_deny");
    (void)record(deps, &a, "sign request %s: %s by account %s (%u of %u)",
                 r->id, approve ? "approval" : "denial", req->who->via,
                 approvals_of(r), r->required);
    if (!decided)
        return;
    approved_by(r, who, sizeof(who));
    record_init(&a, req, r,
                approve ? "sign_request_approved" : "sign_request_denied");
    if (approve)
        (void)record(deps, &a, "sign request %s approved by %.180s", r->id,
                     who);
    else
        (void)record(deps, &a, "sign request %s denied by account %s", r->id,
                     req->who->via);
}

/* Why a vote was not taken: the state the request is in. */
static void
refuse_vote(struct sn_resp *resp, sn_err e, const struct sn_sign_request *r)
{
    if (e == SN_ERR_EXISTS)
        sn_resp_error(resp, API_ALREADY_VOTED,
                      "this account has already voted on sign request %s",
                      r->id);
    else if (e == SN_ERR_STATE)
        sn_resp_error(resp, API_REQUEST_STATE,
                      "sign request %s is %s: it takes no more votes", r->id,
                      sn_sr_state_name(r->state));
    else if (e == SN_ERR_NOT_FOUND)
        sn_resp_error(resp, API_NOT_FOUND, "no such sign request");
    else
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
}

static void
vote(const struct sn_deps *deps, struct sn_req *req, struct sn_resp *resp,
     int approve)
{
    struct sn_sign_request r;
    enum sn_sr_state after;
    struct sn_sr_vote v;
    time_t now = time(NULL);
    int decided = 0;
    sn_err e;

    if (load_request(deps, req, resp, SN_ACT_SIGN_REQUEST_VOTE, &r) != 0)
        return;
    expire_due(deps, &r, now);
    memset(&v, 0, sizeof(v));
    snprintf(v.account, sizeof(v.account), "%s", req->who->via);
    snprintf(v.token, sizeof(v.token), "%s", req->who->id);
    v.approve = approve;
    v.time = now;
    e = r.state != SN_SR_PENDING
            ? SN_ERR_STATE
            : sn_store_sign_request_vote(deps->store, r.id, &v, now, &after,
                                         &decided);
    if (e == SN_ERR_STATE)
        reload(deps, &r);
    if (e != SN_OK) {
        refuse_vote(resp, e, &r);
        goto out;
    }
    reload(deps, &r);
    record_vote(deps, req, &r, approve, decided);
    /* Exactly one vote decides an approval: its thread releases. */
    if (decided && approve)
        release(deps, &r);
    reload(deps, &r);
    answer(resp, API_OK, &r);
out:
    sn_sign_request_cleanup(&r);
}

void
sn_h_sign_request_approve(const struct sn_deps *deps, struct sn_req *req,
                          struct sn_resp *resp)
{
    vote(deps, req, resp, 1);
}

void
sn_h_sign_request_deny(const struct sn_deps *deps, struct sn_req *req,
                       struct sn_resp *resp)
{
    vote(deps, req, resp, 0);
}

void
sn_h_sign_request_cancel(const struct sn_deps *deps, struct sn_req *req,
                         struct sn_resp *resp)
{
    struct sn_sign_request r;
    struct sn_audit a;
    time_t now = time(NULL);
    sn_err e;

    if (load_request(deps, req, resp, SN_ACT_SIGN_REQUEST_CANCEL, &r) != 0)
        return;
    expire_due(deps, &r, now);
    e = r.state != SN_SR_PENDING
            ? SN_ERR_STATE
            : sn_store_sign_request_move(deps->store, r.id, SN_SR_PENDING,
                                         SN_SR_CANCELED, now, NULL, NULL);
    if (e != SN_OK) {
        reload(deps, &r);
        if (e == SN_ERR_STATE)
            sn_resp_error(resp, API_REQUEST_STATE,
                          "sign request %s is %s: only a pending request is "
                          "canceled",
                          r.id, sn_sr_state_name(r.state));
        else
            sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    reload(deps, &r);
    record_init(&a, req, &r, "sign_request_canceled");
    (void)record(deps, &a, "sign request %s canceled with %u of %u approvals",
                 r.id, approvals_of(&r), r.required);
    answer(resp, API_OK, &r);
out:
    sn_sign_request_cleanup(&r);
}

/* ---- the daemon's sweeper ---- */

/* A database outage would say so every few seconds: budgeted. */
static struct sn_log_limit sweep_lines = SN_LOG_LIMIT(1, 60);

void
sn_sign_requests_sweep(const struct sn_deps *deps, time_t now)
{
    struct sn_sign_request *moved = NULL;
    struct sn_audit a;
    size_t n = 0, i;

    if (sn_store_sign_request_sweep(deps->store, now, now - RELEASE_STALE,
                                    SWEEP_MAX, &moved, &n) != SN_OK) {
        sn_log_limited(&sweep_lines, SN_LOG_WARN,
                       "sign requests: the sweep failed (database "
                       "unavailable?)");
        return;
    }
    for (i = 0; i < n; i++) {
        if (moved[i].state == SN_SR_EXPIRED) {
            record_expired(deps, &moved[i]);
            continue;
        }
        record_init(&a, NULL, &moved[i], "sign_request_failed");
        as_requester(&a, &moved[i]);
        snprintf(a.result, sizeof(a.result), "failed");
        (void)record(deps, &a, "sign request %s: %s", moved[i].id,
                     moved[i].reason);
    }
    sn_sign_request_list_free(moved, n);
}

void
sn_sign_requests_fail_for_key(const struct sn_deps *deps,
                              const char *subscriber, const char *key,
                              time_t now)
{
    static const char why[] =
        "the key's signing policy changed after the request was made";
    struct sn_sign_request *v = NULL;
    struct sn_audit a;
    size_t n = 0, i;

    if (sn_store_sign_request_list(deps->store, subscriber, SN_SR_PENDING, 1000,
                                   &v, &n) != SN_OK) {
        sn_error("sign requests: cannot list %s's pending requests after its "
                 "key's policy changed",
                 subscriber);
        return;
    }
    for (i = 0; i < n; i++) {
        if (strcmp(v[i].key, key) != 0 ||
            sn_store_sign_request_move(deps->store, v[i].id, SN_SR_PENDING,
                                       SN_SR_FAILED, now, why, NULL) != SN_OK)
            continue;
        record_init(&a, NULL, &v[i], "sign_request_failed");
        as_requester(&a, &v[i]);
        snprintf(a.result, sizeof(a.result), "failed");
        (void)record(deps, &a, "sign request %s: %s", v[i].id, why);
    }
    sn_sign_request_list_free(v, n);
}
