/*
 * h_reports: reports of Suspect Code and key compromise (issue 18,
 * docs/reports.md). Anyone may report (anonymously: the route is limited
 * per address and the answer tells nothing of tenants), a subscriber with
 * its credential too; the evidence (untrusted) is reduced to signature
 * hashes or a digest and matched against the signing events of the audit
 * log. An operator with the 'revocation' role reads, confirms (every
 * matched key disabled, its certificates revoked for keyCompromise from
 * the first matching signing event, CRL and OCSP at once) or rejects; each
 * change is an audit record, so a log entry.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/evidence.h"
#include "crypto/x509util.h"
#include "http/bodies.h"
#include "http/handlers.h"
#include "translog/merkle.h"

/* One decision at a time: a confirmation disables and revokes before it
 * records the decision, so a reject running meanwhile must not be able
 * to win and leave keys revoked under a "rejected" report. Held from the
 * state check to the recorded decision (the CA's revoke_lock is taken
 * inside it, never the other way round). */
static pthread_mutex_t decide_lock = PTHREAD_MUTEX_INITIALIZER;

/* Events listed per key under "what must be re-signed". */
#define RESIGN_MAX 1000
#define LIST_DEFAULT 200

/* Who is looking at a report: what of it they are shown. */
enum view {
    VIEW_OPERATOR, /* everything */
    VIEW_REPORTER, /* a subscriber that filed it: its own keys' events */
    VIEW_OWNER,    /* a subscriber whose key it matched, once confirmed */
    VIEW_ANONYMOUS /* the receipt alone */
};

static void report_audit(const struct sn_deps *deps, struct sn_req *req,
                         const char *subscriber, const char *key,
                         const char *action, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void
report_audit(const struct sn_deps *deps, struct sn_req *req,
             const char *subscriber, const char *key, const char *action,
             const char *fmt, ...)
{
    struct sn_audit a;
    va_list ap;

    sn_audit_init(&a, req, subscriber, key, action);
    snprintf(a.result, sizeof(a.result), "ok");
    va_start(ap, fmt);
    vsnprintf(a.detail, sizeof(a.detail), fmt, ap);
    va_end(ap);
    if (sn_store_audit_add(deps->store, &a) != SN_OK)
        sn_error("audit: cannot record %s", action);
}

/* ---- matching ---- */

static void
event_of(const struct sn_audit *a, const char *by, struct sn_report_event *e)
{
    memset(e, 0, sizeof(*e));
    e->audit_id = a->id;
    e->log_index = a->log_index;
    e->time = a->time;
    snprintf(e->subscriber, sizeof(e->subscriber), "%s", a->subscriber);
    snprintf(e->key, sizeof(e->key), "%s", a->key);
    snprintf(e->action, sizeof(e->action), "%s", a->action);
    snprintf(e->principal, sizeof(e->principal), "%s", a->principal);
    snprintf(e->digest_alg, sizeof(e->digest_alg), "%s", a->digest_alg);
    snprintf(e->digest, sizeof(e->digest), "%s", a->digest);
    snprintf(e->sig_sha256, sizeof(e->sig_sha256), "%s", a->sig_sha256);
    snprintf(e->matched_by, sizeof(e->matched_by), "%s", by);
}

/* The evidence's query: its signature hashes, or r's digest. */
struct match_query {
    char sigs[2 * SN_EVIDENCE_MAX_SIGS][2 * 32 + 1];
    size_t nsigs;
    char hex[2 * 64 + 1];
};

static sn_err
run_match(const struct sn_deps *deps, const struct match_query *q,
          const struct sn_report *r, int first_per_key, size_t limit,
          struct sn_audit **found, size_t *n, size_t *total)
{
    if (r->evidence_kind == SN_REPORT_EV_DIGEST)
        return sn_store_sign_events_match(deps->store, NULL, 0, r->digest_alg,
                                          q->hex, first_per_key, limit, found,
                                          n, total);
    return sn_store_sign_events_match(
        deps->store, (const char(*)[2 * 32 + 1]) q->sigs, q->nsigs, NULL, NULL,
        first_per_key, limit, found, n, total);
}

static int
by_time(const void *a, const void *b)
{
    const struct sn_audit *x = a, *y = b;

    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * The signing events the evidence (its signature hashes ev, or r's
 * digest) matches, into r->events (at most SN_REPORT_MAX_EVENTS, oldest
 * first) and r->events_total. Kept: each key's first matching event (up
 * to SN_REPORT_MAX_KEYS + 1 keys, computed in SQL over every match) and
 * the oldest of the rest, so that a confirmation acts on every key from
 * its first event however many events the evidence matched.
 */
static sn_err
match_events(const struct sn_deps *deps, const struct sn_evidence *ev,
             struct sn_report *r)
{
    struct match_query q;
    struct sn_audit *firsts = NULL, *found = NULL, *all = NULL;
    size_t nf = 0, n = 0, total = 0, keys = 0, i, j, m = 0;
    sn_err e;

    memset(&q, 0, sizeof(q));
    for (i = 0; i < ev->nsigs; i++) {
        sn_hex_encode(ev->sigs[i].sha256, 32, q.sigs[q.nsigs++]);
        if (ev->sigs[i].has_alt)
            sn_hex_encode(ev->sigs[i].alt_sha256, 32, q.sigs[q.nsigs++]);
    }
    if (r->evidence_kind == SN_REPORT_EV_DIGEST) {
        if (r->evidence_len > 64)
            return SN_ERR_INVALID;
        sn_hex_encode(r->evidence, r->evidence_len, q.hex);
    }
    if ((e = run_match(deps, &q, r, 1, SN_REPORT_MAX_KEYS + 1, &firsts, &nf,
                       &keys)) != SN_OK ||
        (e = run_match(deps, &q, r, 0,
                       SN_REPORT_MAX_EVENTS - (SN_REPORT_MAX_KEYS + 1), &found,
                       &n, &total)) != SN_OK)
        goto out;
    e = SN_ERR_NOMEM;
    if ((all = calloc(nf + n + 1, sizeof(*all))) == NULL)
        goto out;
    for (i = 0; i < n; i++)
        all[m++] = found[i];
    for (i = 0; i < nf; i++) {
        for (j = 0; j < n && found[j].id != firsts[i].id; j++)
            ;
        if (j == n)
            all[m++] = firsts[i];
    }
    qsort(all, m, sizeof(*all), by_time);
    if (m > 0 && (r->events = calloc(m, sizeof(*r->events))) == NULL)
        goto out;
    for (i = 0; i < m; i++)
        event_of(&all[i],
                 r->evidence_kind == SN_REPORT_EV_DIGEST ? "digest"
                                                         : "signature",
                 &r->events[i]);
    r->nevents = m;
    r->events_total = total;
    e = SN_OK;
out:
    free(all);
    free(found);
    free(firsts);
    return e;
}

/* ---- views ---- */

static int
sees(enum view v, const struct sn_req *req, const char *subscriber)
{
    return v == VIEW_OPERATOR ||
           ((v == VIEW_REPORTER || v == VIEW_OWNER) && req->who != NULL &&
            strcmp(req->who->subscriber, subscriber) == 0);
}

static json_t *
deadline_json(time_t due, time_t met, int applies, time_t now)
{
    if (!applies)
        return json_pack("{s:n, s:o, s:b, s:b}", "due", "met_at",
                         sn_time_json(met), "overdue", 0, "applies", 0);
    return json_pack("{s:o, s:o, s:b, s:b}", "due", sn_time_json(due), "met_at",
                     sn_time_json(met), "overdue", met == 0 && now > due,
                     "applies", 1);
}

/* The three clocks of CSBR (4.9.5, 4.9.1.1, 9.6.5), from receipt. A
 * rejected report owes no revocation and no notice. */
static json_t *
deadlines_json(const struct sn_report *r, time_t now, int *overdue)
{
    time_t due = r->received_at + SN_REPORT_DEADLINE;
    int rejected = r->state == SN_REPORT_REJECTED;

    *overdue = now > due &&
               (r->acked_at == 0 ||
                (!rejected && (r->decided_at == 0 || r->ca_informed_at == 0)));
    return json_pack("{s:o, s:o, s:o}", "acknowledgement",
                     deadline_json(due, r->acked_at, 1, now), "revocation",
                     deadline_json(due, r->decided_at, 1, now), "ca_informed",
                     deadline_json(due, r->ca_informed_at, !rejected, now));
}

static json_t *
event_json(const struct sn_report_event *e)
{
    json_t *o = json_pack(
        "{s:I, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "audit_id",
        (json_int_t)e->audit_id, "time", sn_time_json(e->time), "subscriber",
        e->subscriber, "key", e->key, "action", e->action, "principal",
        e->principal, "digest_algorithm", e->digest_alg, "digest", e->digest,
        "sig_sha256", e->sig_sha256, "matched_by", e->matched_by);

    if (o != NULL)
        json_object_set_new(o, "log_index",
                            e->log_index >= 0 ? json_integer(e->log_index)
                                              : json_null());
    return o;
}

/* What was signed with the key at or after the revocation date: the
 * artifacts that must be signed again (with another key). */
static json_t *
resign_json(const struct sn_deps *deps, const struct sn_report_key *k)
{
    struct sn_audit *ev = NULL;
    size_t n = 0, total = 0, i;
    json_t *arr = json_array(), *o;

    if (arr == NULL ||
        sn_store_sign_events_since(deps->store, k->key, k->revocation_date,
                                   RESIGN_MAX, &ev, &n, &total) != SN_OK) {
        json_decref(arr);
        return json_pack("{s:s}", "error", "the audit log is unavailable");
    }
    for (i = 0; i < n; i++) {
        o = json_pack("{s:I, s:o, s:s, s:s, s:s, s:s}", "audit_id",
                      (json_int_t)ev[i].id, "time", sn_time_json(ev[i].time),
                      "action", ev[i].action, "digest_algorithm",
                      ev[i].digest_alg, "digest", ev[i].digest, "sig_sha256",
                      ev[i].sig_sha256);
        if (o != NULL)
            json_object_set_new(o, "log_index",
                                ev[i].log_index >= 0
                                    ? json_integer(ev[i].log_index)
                                    : json_null());
        json_array_append_new(arr, o);
    }
    free(ev);
    return json_pack("{s:o, s:I, s:b, s:o}", "since",
                     sn_time_json(k->revocation_date), "total",
                     (json_int_t)total, "truncated", total > n, "events", arr);
}

static json_t *
key_json(const struct sn_deps *deps, const struct sn_report_key *k, enum view v)
{
    json_t *o =
        json_pack("{s:s, s:s, s:o, s:o, s:I, s:b}", "key", k->key, "subscriber",
                  k->subscriber, "first_event", sn_time_json(k->first_event),
                  "revocation_date", sn_time_json(k->revocation_date),
                  "certificates_revoked", (json_int_t)k->certs_revoked,
                  "external_ca", k->external);

    if (o == NULL)
        return NULL;
    if (k->external)
        json_object_set_new(o, "ca_notice",
                            json_pack("{s:o, s:I, s:o, s:s}", "acknowledged_at",
                                      sn_time_json(k->notified_at), "attempts",
                                      (json_int_t)k->attempts, "next_attempt",
                                      k->notified_at == 0
                                          ? sn_time_json(k->next_attempt)
                                          : json_null(),
                                      "last_result", k->last_result));
    (void)v;
    json_object_set_new(o, "resign", resign_json(deps, k));
    return o;
}

/* What the stored evidence says, for the operators: re-parsed, so that
 * nothing but the evidence itself is kept. */
static json_t *
evidence_json(const struct sn_report *r, enum view v)
{
    struct sn_evidence ev;
    json_t *o, *sigs;
    char hex[65], why[128];
    size_t i;

    o = json_pack("{s:s, s:s, s:I}", "kind",
                  sn_report_evidence_name(r->evidence_kind), "sha256",
                  r->evidence_sha256, "size", (json_int_t)r->evidence_len);
    if (o == NULL)
        return NULL;
    if (r->evidence_kind == SN_REPORT_EV_DIGEST && r->evidence != NULL) {
        json_object_set_new(o, "digest_algorithm", json_string(r->digest_alg));
        if (r->evidence_len <= 64) {
            sn_hex_encode(r->evidence, r->evidence_len, hex);
            json_object_set_new(o, "digest", json_string(hex));
        }
    }
    if (v != VIEW_OPERATOR || r->evidence_kind != SN_REPORT_EV_PKCS7 ||
        r->evidence == NULL ||
        sn_evidence_pkcs7(r->evidence, r->evidence_len, &ev, why,
                          sizeof(why)) != SN_OK ||
        (sigs = json_array()) == NULL)
        return o;
    for (i = 0; i < ev.nsigs; i++) {
        json_t *s;

        sn_hex_encode(ev.sigs[i].sha256, 32, hex);
        s = json_pack("{s:s, s:I}", "sha256", hex, "depth",
                      (json_int_t)ev.sigs[i].depth);
        if (s != NULL && ev.sigs[i].has_cert)
            json_object_set_new(s, "certificate",
                                json_pack("{s:s, s:s, s:s}", "serial",
                                          ev.sigs[i].cert_serial, "subject",
                                          ev.sigs[i].cert_subject, "issuer",
                                          ev.sigs[i].cert_issuer));
        json_array_append_new(sigs, s);
    }
    json_object_set_new(o, "signatures", sigs);
    return o;
}

static json_t *
report_json(const struct sn_deps *deps, const struct sn_req *req,
            const struct sn_report *r, enum view v)
{
    json_t *o, *evs, *keys;
    time_t now = time(NULL);
    size_t i, shown = 0;
    int overdue;

    o = json_pack("{s:s, s:s, s:s, s:o}", "id", r->id, "kind",
                  sn_report_kind_name(r->kind), "state",
                  sn_report_state_name(r->state), "received_at",
                  sn_time_json(r->received_at));
    if (o == NULL || v == VIEW_ANONYMOUS)
        return o;
    json_object_set_new(o, "evidence", evidence_json(r, v));
    json_object_set_new(o, "reason", json_string(r->reason));
    if (v != VIEW_OWNER)
        json_object_set_new(o, "contact", json_string(r->contact));
    if (v == VIEW_OPERATOR)
        json_object_set_new(
            o, "reporter",
            r->reporter_subscriber[0] != '\0' || r->reporter_token[0] != '\0'
                ? json_pack("{s:s, s:s, s:s}", "subscriber",
                            r->reporter_subscriber, "token", r->reporter_token,
                            "client", r->reporter_client)
                : json_pack("{s:b, s:s}", "anonymous", 1, "client",
                            r->reporter_client));
    json_object_set_new(o, "acknowledged_at", sn_time_json(r->acked_at));
    json_object_set_new(o, "decided_at", sn_time_json(r->decided_at));
    if (r->state == SN_REPORT_REJECTED)
        json_object_set_new(o, "decision", json_string(r->decision));
    json_object_set_new(o, "ca_informed_at", sn_time_json(r->ca_informed_at));
    json_object_set_new(o, "deadlines", deadlines_json(r, now, &overdue));
    json_object_set_new(o, "overdue", json_boolean(overdue));
    if ((evs = json_array()) == NULL || (keys = json_array()) == NULL) {
        json_decref(evs);
        json_decref(o);
        return NULL;
    }
    for (i = 0; i < r->nevents; i++)
        if (sees(v, req, r->events[i].subscriber)) {
            json_array_append_new(evs, event_json(&r->events[i]));
            shown++;
        }
    /* The total is counted up to SN_REPORT_COUNT_MAX + 1: past it, the
     * maximum with "more": true. */
    json_object_set_new(
        o, "matches",
        json_pack("{s:I, s:b, s:o}", "total",
                  (json_int_t)(v != VIEW_OPERATOR ? shown
                               : r->events_total > SN_REPORT_COUNT_MAX
                                   ? SN_REPORT_COUNT_MAX
                                   : r->events_total),
                  "more",
                  v == VIEW_OPERATOR && r->events_total > SN_REPORT_COUNT_MAX,
                  "events", evs));
    for (i = 0; i < r->nkeys; i++)
        if (sees(v, req, r->keys[i].subscriber))
            json_array_append_new(keys, key_json(deps, &r->keys[i], v));
    json_object_set_new(o, "keys", keys);
    return o;
}

/* ---- POST /v1/reports ---- */

/* The evidence's signature hashes (none for a digest); 0, or a 400. */
static int
read_evidence(const struct sn_body_report *in, struct sn_evidence *ev,
              struct sn_resp *resp)
{
    char why[160];

    memset(ev, 0, sizeof(*ev));
    switch (in->ev) {
    case SN_REPORT_EV_PKCS7:
        if (sn_evidence_pkcs7(in->evidence, in->evidence_len, ev, why,
                              sizeof(why)) != SN_OK) {
            sn_resp_error(resp, API_INVALID_FIELD, "evidence.pkcs7: %s", why);
            return -1;
        }
        return 0;
    case SN_REPORT_EV_SIGNATURE:
        if (sn_evidence_signature(in->evidence, in->evidence_len, ev) !=
            SN_OK) {
            sn_resp_error(resp, API_INVALID_FIELD,
                          "evidence.signature is not a signature value");
            return -1;
        }
        return 0;
    case SN_REPORT_EV_DIGEST:
        return 0;
    }
    sn_resp_error(resp, API_INVALID_FIELD, "unknown evidence");
    return -1;
}

static sn_err
new_report(const struct sn_req *req, struct sn_body_report *in,
           struct sn_report *r)
{
    uint8_t md[32];

    memset(r, 0, sizeof(*r));
    if (sn_uuid(r->id) != SN_OK ||
        EVP_Digest(in->evidence, in->evidence_len, md, NULL, EVP_sha256(),
                   NULL) != 1)
        return SN_ERR_CRYPTO;
    r->kind = in->kind;
    r->state = SN_REPORT_RECEIVED;
    r->evidence_kind = in->ev;
    if (in->ev == SN_REPORT_EV_DIGEST)
        snprintf(r->digest_alg, sizeof(r->digest_alg), "%s",
                 sn_digest_name(in->md));
    r->evidence = in->evidence;
    r->evidence_len = in->evidence_len;
    in->evidence = NULL;
    in->evidence_len = 0;
    sn_hex_encode(md, sizeof(md), r->evidence_sha256);
    snprintf(r->reason, sizeof(r->reason), "%s", in->reason);
    snprintf(r->contact, sizeof(r->contact), "%s", in->contact);
    if (req->who != NULL) {
        snprintf(r->reporter_subscriber, sizeof(r->reporter_subscriber), "%s",
                 req->who->subscriber);
        snprintf(r->reporter_token, sizeof(r->reporter_token), "%s",
                 req->who->id);
    }
    snprintf(r->reporter_client, sizeof(r->reporter_client), "%s", req->client);
    r->received_at = time(NULL);
    r->version = 1;
    return SN_OK;
}

/* A report is a durable row of up to 64 KiB: anonymous reports are the
 * first refused when the disk runs low, every report when it is critical
 * (store.h, sn_store_space). */
static int
no_room(const struct sn_deps *deps, const struct sn_req *req,
        struct sn_resp *resp)
{
    enum sn_space sp = sn_store_space(deps->store);

    if (sp == SN_SPACE_OK || (sp == SN_SPACE_LOW && req->who != NULL))
        return 0;
    sn_resp_error(resp, API_UNAVAILABLE,
                  "reports are refused for now: storage is low");
    (void)sn_resp_header(resp, "Retry-After", "60");
    return 1;
}

/* The events of the reporter's own keys among those kept: what its own
 * audit log may say (the total spans every tenant). */
static size_t
own_matches(const struct sn_report *r)
{
    size_t n = 0, i;

    for (i = 0; i < r->nevents; i++)
        n += strcmp(r->events[i].subscriber, r->reporter_subscriber) == 0;
    return n;
}

/* The report_receive records: the operators' log with every match, the
 * reporting subscriber's with its own keys' alone (a subscriber must not
 * learn whether Signet signed a digest for another tenant). */
static void
audit_receive(const struct sn_deps *deps, struct sn_req *req,
              const struct sn_report *r)
{
    report_audit(deps, req, "", "", "report_receive",
                 "report %s kind=%s evidence=%s sha256=%.16s matched=%s%zu",
                 r->id, sn_report_kind_name(r->kind),
                 sn_report_evidence_name(r->evidence_kind), r->evidence_sha256,
                 r->events_total > SN_REPORT_COUNT_MAX ? ">" : "",
                 r->events_total > SN_REPORT_COUNT_MAX ? SN_REPORT_COUNT_MAX
                                                       : r->events_total);
    if (r->reporter_subscriber[0] != '\0')
        report_audit(deps, req, r->reporter_subscriber, "", "report_receive",
                     "report %s kind=%s evidence=%s sha256=%.16s "
                     "matched_own=%zu",
                     r->id, sn_report_kind_name(r->kind),
                     sn_report_evidence_name(r->evidence_kind),
                     r->evidence_sha256, own_matches(r));
}

/* The view of the answer to POST: the operators' only with REPORT_READ
 * (the revocation role); an admin caller without it gets the receipt. */
static enum view
create_view(const struct sn_req *req)
{
    if (req->who == NULL)
        return VIEW_ANONYMOUS;
    if (!req->who->admin)
        return VIEW_REPORTER;
    return sn_policy_decide(req->who, SN_ACT_REPORT_READ, NULL, NULL) ==
                   SN_POLICY_ALLOW
               ? VIEW_OPERATOR
               : VIEW_ANONYMOUS;
}

/* An anonymous report of evidence an open report already holds: answered
 * with that report's receipt, nothing stored. */
static void
answer_dup(const struct sn_deps *deps, struct sn_req *req, const char *id,
           struct sn_resp *resp)
{
    struct sn_report r;

    if (sn_store_report_get(deps->store, id, &r) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    sn_info("report of evidence %.16s: the same as open report %s",
            r.evidence_sha256, r.id);
    (void)sn_resp_header(resp, "Location", "/v1/reports/%s", r.id);
    sn_resp_json(resp, API_ACCEPTED,
                 report_json(deps, req, &r, VIEW_ANONYMOUS));
    sn_report_cleanup(&r);
}

void
sn_h_report_create(const struct sn_deps *deps, struct sn_req *req,
                   struct sn_resp *resp)
{
    struct sn_body_report in;
    struct sn_body_fault f;
    struct sn_evidence ev;
    struct sn_report r;
    char dup[SN_UUID_LEN];
    sn_err e;

    memset(&r, 0, sizeof(r));
    memset(&in, 0, sizeof(in));
    if (req->who != NULL &&
        sn_allowed(deps, req, resp, SN_ACT_REPORT_CREATE, NULL) != 0)
        return;
    if (no_room(deps, req, resp))
        return;
    if (sn_body_report(req->json, &in, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        return;
    }
    if (read_evidence(&in, &ev, resp) != 0)
        goto out;
    if (new_report(req, &in, &r) != SN_OK ||
        match_events(deps, &ev, &r) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "the report could not be taken");
        goto out;
    }
    /* Anonymous reports are deduplicated: one sender cannot fill the
     * disk with copies of one piece of evidence. */
    e = sn_store_report_add(deps->store, &r, req->who == NULL ? dup : NULL);
    if (e == SN_ERR_EXISTS && req->who == NULL && dup[0] != '\0') {
        answer_dup(deps, req, dup, resp);
        goto out;
    }
    if (e != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    audit_receive(deps, req, &r);
    sn_info("report %s received (%s, %zu signing events matched)", r.id,
            sn_report_kind_name(r.kind), r.events_total);
    (void)sn_resp_header(resp, "Location", "/v1/reports/%s", r.id);
    sn_resp_json(resp, API_ACCEPTED,
                 report_json(deps, req, &r, create_view(req)));
out:
    sn_report_cleanup(&r);
    sn_body_report_cleanup(&in);
}

/* ---- reading ---- */

/* The distinct subscribers whose keys the report matched. */
static size_t
owners_of(const struct sn_report *r, char (*out)[SN_UUID_LEN], size_t max)
{
    size_t n = 0, i, j;

    for (i = 0; i < r->nevents; i++) {
        for (j = 0; j < n && strcmp(out[j], r->events[i].subscriber) != 0; j++)
            ;
        if (j == n && n < max)
            snprintf(out[n++], SN_UUID_LEN, "%s", r->events[i].subscriber);
    }
    return n;
}

/*
 * Loads the report named by the path for the caller, if the policy lets
 * it read it (404 otherwise, as for a missing one), with the view it
 * gets. 0, or -1 with resp set.
 */
static int
load_report(const struct sn_deps *deps, struct sn_req *req, struct sn_report *r,
            enum view *v, struct sn_resp *resp)
{
    char owners[SN_REPORT_MAX_EVENTS][SN_UUID_LEN];
    struct sn_resource res = {0};
    sn_err e;

    if ((e = sn_store_report_get(deps->store, req->params[0], r)) ==
        SN_ERR_NOT_FOUND) {
        sn_resp_error(resp, API_NOT_FOUND, "no such report");
        return -1;
    }
    if (e != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return -1;
    }
    res.subscriber = r->reporter_subscriber;
    res.owners = (const char(*)[SN_UUID_LEN])owners;
    res.nowners = owners_of(r, owners, SN_REPORT_MAX_EVENTS);
    res.confirmed = r->state == SN_REPORT_CONFIRMED;
    if (sn_allowed(deps, req, resp, SN_ACT_REPORT_READ, &res) != 0) {
        sn_report_cleanup(r);
        return -1;
    }
    *v = req->who->admin ? VIEW_OPERATOR
         : strcmp(req->who->subscriber, r->reporter_subscriber) == 0
             ? VIEW_REPORTER
             : VIEW_OWNER;
    return 0;
}

void
sn_h_report_get(const struct sn_deps *deps, struct sn_req *req,
                struct sn_resp *resp)
{
    struct sn_report r;
    enum view v;
    time_t now = time(NULL);

    if (sn_allowed(deps, req, resp, SN_ACT_REPORT_READ, NULL) != 0 ||
        load_report(deps, req, &r, &v, resp) != 0)
        return;
    /* An operator opening it acknowledges it (CSBR 4.9.5). */
    if (v == VIEW_OPERATOR && r.acked_at == 0 &&
        sn_store_report_ack(deps->store, r.id, now, req->who->id) == SN_OK) {
        r.acked_at = now;
        snprintf(r.acked_by, sizeof(r.acked_by), "%s", req->who->id);
        report_audit(deps, req, "", "", "report_ack", "report %s", r.id);
    }
    sn_resp_json(resp, API_OK, report_json(deps, req, &r, v));
    sn_report_cleanup(&r);
}

static json_t *
brief_json(const struct sn_report *r, enum view v, time_t now, int *overdue)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", r->id, "kind",
                          sn_report_kind_name(r->kind), "state",
                          sn_report_state_name(r->state), "evidence",
                          sn_report_evidence_name(r->evidence_kind),
                          "received_at", sn_time_json(r->received_at),
                          "deadlines", deadlines_json(r, now, overdue));

    if (o != NULL && v == VIEW_OPERATOR)
        json_object_set_new(o, "matched",
                            json_integer(r->events_total > SN_REPORT_COUNT_MAX
                                             ? SN_REPORT_COUNT_MAX
                                             : r->events_total));
    if (o != NULL)
        json_object_set_new(o, "overdue", json_boolean(*overdue));
    return o;
}

void
sn_h_report_list(const struct sn_deps *deps, struct sn_req *req,
                 struct sn_resp *resp)
{
    const char *q = sn_req_query(req, "overdue");
    int only_overdue = q != NULL && strcmp(q, "1") == 0, overdue;
    struct sn_report_overdue od;
    struct sn_report *list = NULL;
    enum view v;
    time_t now = time(NULL);
    json_t *arr = NULL, *o;
    size_t n = 0, i;

    if (sn_allowed(deps, req, resp, SN_ACT_REPORT_LIST, NULL) != 0)
        return;
    if (q != NULL && strcmp(q, "1") != 0 && strcmp(q, "0") != 0) {
        sn_resp_error(resp, API_INVALID_FIELD, "overdue is 0 or 1");
        return;
    }
    v = req->who->admin ? VIEW_OPERATOR : VIEW_REPORTER;
    if (sn_store_report_list(
            deps->store, v == VIEW_OPERATOR ? NULL : req->who->subscriber,
            only_overdue ? now : 0, LIST_DEFAULT, &list, &n) != SN_OK ||
        (v == VIEW_OPERATOR &&
         sn_store_report_overdue(deps->store, now, &od) != SN_OK)) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    if ((arr = json_array()) == NULL)
        goto oom;
    for (i = 0; i < n; i++) {
        if ((o = brief_json(&list[i], v, now, &overdue)) == NULL)
            goto oom;
        if (only_overdue && !overdue)
            json_decref(o);
        else
            json_array_append_new(arr, o);
    }
    o = json_pack("{s:O}", "reports", arr);
    if (o != NULL && v == VIEW_OPERATOR)
        json_object_set_new(o, "overdue",
                            json_pack("{s:I, s:I, s:I, s:I}", "open",
                                      (json_int_t)od.open, "acknowledgement",
                                      (json_int_t)od.ack, "revocation",
                                      (json_int_t)od.revocation, "ca_informed",
                                      (json_int_t)od.ca_informed));
    if (o == NULL)
        goto oom;
    sn_resp_json(resp, API_OK, o);
    goto out;
oom:
    sn_resp_error(resp, API_UNAVAILABLE, "out of memory");
out:
    json_decref(arr);
    sn_report_list_free(list, n);
}

/* ---- deciding ---- */

/* The distinct keys among the events, each with its first event (the
 * events are oldest first). -1 if there are more than max. */
static int
plan_keys(const struct sn_report *r, struct sn_report_key *keys, size_t max,
          size_t *n)
{
    size_t i, j;

    *n = 0;
    for (i = 0; i < r->nevents; i++) {
        for (j = 0; j < *n && strcmp(keys[j].key, r->events[i].key) != 0; j++)
            ;
        if (j < *n)
            continue;
        if (*n == max)
            return -1;
        memset(&keys[j], 0, sizeof(keys[j]));
        snprintf(keys[j].key, sizeof(keys[j].key), "%s", r->events[i].key);
        snprintf(keys[j].subscriber, sizeof(keys[j].subscriber), "%s",
                 r->events[i].subscriber);
        keys[j].first_event = r->events[i].time;
        (*n)++;
    }
    return 0;
}

/* 1 if the key's attached certificate was not issued by Signet's code
 * signing CA: its CA must be told (CSBR 9.6.5). */
static int
external_cert(const struct sn_deps *deps, const struct sn_key *k)
{
    STACK_OF(X509) *chain = NULL;
    int ext = 0;

    if (k->cert_pem == NULL ||
        sn_chain_from_pem(k->cert_pem, strlen(k->cert_pem), &chain) != SN_OK ||
        sk_X509_num(chain) < 1)
        goto out;
    ext = X509_check_issued(deps->ca->cert[SN_CA_CODESIGNING],
                            sk_X509_value(chain, 0)) != X509_V_OK;
out:
    sk_X509_pop_free(chain, X509_free);
    return ext;
}

/*
 * A confirmed report's key k: disabled at once, then every certificate
 * Signet's CA issued for it revoked for keyCompromise from when (CRL and
 * OCSP at once); a certificate of another CA marks a notice owed. 0, or
 * -1 with resp set.
 */
static int
act_on_key(const struct sn_deps *deps, struct sn_req *req,
           const struct sn_report *r, time_t when, struct sn_report_key *k,
           struct sn_resp *resp)
{
    struct sn_key key;
    char why[100];
    sn_err e;
    int rc = -1;

    memset(&key, 0, sizeof(key));
    if (sn_store_key_get(deps->store, k->key, &key) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "key %s unreadable", k->key);
        goto out;
    }
    if (sn_store_key_transition(deps->store, key.id,
                                SN_KEY_FROM(SN_KEY_ENABLED),
                                SN_KEY_DISABLED) == SN_OK)
        report_audit(deps, req, key.subscriber, key.id, "key_disable",
                     "report %s (%s) confirmed", r->id,
                     sn_report_kind_name(r->kind));
    snprintf(why, sizeof(why), "report %s (%s)", r->id,
             sn_report_kind_name(r->kind));
    e = sn_ca_key_compromise(deps, req, key.spki, key.spki_len, when, why,
                             &k->certs_revoked, &k->revocation_date);
    if (e == SN_ERR_NOT_FOUND) {
        k->certs_revoked = 0;
        k->revocation_date = when;
    } else if (e != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE,
                      "the revocation of key %s failed; the report stays "
                      "received: confirm it again",
                      k->key);
        goto out;
    }
    k->external = external_cert(deps, &key);
    k->next_attempt = k->external ? time(NULL) : 0;
    rc = 0;
out:
    sn_key_cleanup(&key);
    return rc;
}

/* The report of the path for a decision: readable by the caller (404),
 * decided by it (403), still received (409). 0, or -1 with resp set. */
static int
load_for_decision(const struct sn_deps *deps, struct sn_req *req,
                  struct sn_report *r, struct sn_resp *resp)
{
    enum view v;

    if (sn_allowed(deps, req, resp, SN_ACT_REPORT_READ, NULL) != 0 ||
        load_report(deps, req, r, &v, resp) != 0)
        return -1;
    if (sn_allowed(deps, req, resp, SN_ACT_REPORT_DECIDE, NULL) != 0)
        goto fail;
    if (r->state != SN_REPORT_RECEIVED) {
        sn_resp_error(resp, API_REQUEST_STATE, "report %s was %s already",
                      r->id, sn_report_state_name(r->state));
        goto fail;
    }
    return 0;
fail:
    sn_report_cleanup(r);
    return -1;
}

/* Answers with the report as it is now stored. */
static void
answer_stored(const struct sn_deps *deps, struct sn_req *req, const char *id,
              struct sn_resp *resp)
{
    struct sn_report r;

    if (sn_store_report_get(deps->store, id, &r) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    sn_resp_json(resp, API_OK, report_json(deps, req, &r, VIEW_OPERATOR));
    sn_report_cleanup(&r);
}

void
sn_h_report_confirm(const struct sn_deps *deps, struct sn_req *req,
                    struct sn_resp *resp)
{
    struct sn_report_key keys[SN_REPORT_MAX_KEYS];
    struct sn_body_report_confirm in;
    struct sn_body_fault f;
    char first[SN_TIME_LEN];
    struct sn_report r;
    time_t now = time(NULL), earliest, informed;
    size_t nkeys = 0, i;
    sn_err e;

    pthread_mutex_lock(&decide_lock);
    if (load_for_decision(deps, req, &r, resp) != 0) {
        pthread_mutex_unlock(&decide_lock);
        return;
    }
    if (sn_body_report_confirm(req->json, now, &in, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        goto out;
    }
    if (r.nevents == 0) {
        sn_resp_error(resp, API_REQUEST_STATE,
                      "the evidence matched no signing event: there is no "
                      "key to revoke (reject the report)");
        goto out;
    }
    if (plan_keys(&r, keys, SN_REPORT_MAX_KEYS, &nkeys) != 0) {
        sn_resp_error(resp, API_REQUEST_STATE,
                      "the evidence matched more than %d keys",
                      SN_REPORT_MAX_KEYS);
        goto out;
    }
    earliest = keys[0].first_event;
    for (i = 1; i < nkeys; i++)
        if (keys[i].first_event < earliest)
            earliest = keys[i].first_event;
    /* CSC-12: from the first misuse, or earlier; never later. */
    if (in.dated && in.when > earliest) {
        sn_time_format(earliest, first);
        sn_resp_error(resp, API_INVALID_FIELD,
                      "revocation_date may not be later than the first "
                      "matching signing event (%s)",
                      first);
        goto out;
    }
    informed = now;
    for (i = 0; i < nkeys; i++) {
        if (act_on_key(deps, req, &r, in.dated ? in.when : keys[i].first_event,
                       &keys[i], resp) != 0)
            goto out;
        if (keys[i].external)
            informed = 0;
    }
    e = sn_store_report_decide(deps->store, r.id, SN_REPORT_CONFIRMED, now,
                               req->who->id, "", keys, nkeys, informed);
    if (e == SN_ERR_STATE) {
        sn_resp_error(resp, API_REQUEST_STATE,
                      "report %s was decided meanwhile", r.id);
        goto out;
    }
    if (e != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    /* An owner's enable between act_on_key's disable and the decision is
     * undone: from here on the store refuses it (a confirmed report names
     * the key). */
    for (i = 0; i < nkeys; i++)
        (void)sn_store_key_transition(deps->store, keys[i].key,
                                      SN_KEY_FROM(SN_KEY_ENABLED),
                                      SN_KEY_DISABLED);
    for (i = 0; i < nkeys; i++) {
        sn_time_format(keys[i].revocation_date, first);
        report_audit(deps, req, keys[i].subscriber, keys[i].key,
                     "report_confirm",
                     "report %s kind=%s revocation_date=%s certificates=%u "
                     "external_ca=%d",
                     r.id, sn_report_kind_name(r.kind), first,
                     keys[i].certs_revoked, keys[i].external);
    }
    sn_info("report %s confirmed: %zu key(s) disabled and revoked", r.id,
            nkeys);
    answer_stored(deps, req, r.id, resp);
out:
    pthread_mutex_unlock(&decide_lock);
    sn_report_cleanup(&r);
}

void
sn_h_report_reject(const struct sn_deps *deps, struct sn_req *req,
                   struct sn_resp *resp)
{
    struct sn_body_fault f;
    struct sn_report r;
    const char *why;
    sn_err e;

    pthread_mutex_lock(&decide_lock);
    if (load_for_decision(deps, req, &r, resp) != 0) {
        pthread_mutex_unlock(&decide_lock);
        return;
    }
    if (sn_body_report_reject(req->json, &why, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        goto out;
    }
    e = sn_store_report_decide(deps->store, r.id, SN_REPORT_REJECTED,
                               time(NULL), req->who->id, why, NULL, 0, 0);
    if (e == SN_ERR_STATE) {
        sn_resp_error(resp, API_REQUEST_STATE,
                      "report %s was decided meanwhile", r.id);
        goto out;
    }
    if (e != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    report_audit(deps, req, r.reporter_subscriber, "", "report_reject",
                 "report %s kind=%s: %.120s", r.id, sn_report_kind_name(r.kind),
                 why);
    answer_stored(deps, req, r.id, resp);
out:
    pthread_mutex_unlock(&decide_lock);
    sn_report_cleanup(&r);
}

/* ---- chores ---- */

void
sn_reports_sweep(const struct sn_deps *deps, time_t now)
{
    struct sn_report_overdue od;

    if (sn_store_report_overdue(deps->store, now, &od) == SN_OK)
        sn_metrics_reports(deps->metrics, od.open, od.ack, od.revocation,
                           od.ca_informed);
}

/* ---- the notice owed to another CA (CSBR 9.6.5) ---- */

static sn_err
read_hashes(void *arg, unsigned level, uint64_t start, size_t n,
            uint8_t (*out)[SN_TLOG_HASH])
{
    return sn_store_log_hashes(arg, level, start, n, out);
}

static json_t *
b64_of(const uint8_t *p, size_t n)
{
    char *b64 = NULL;
    json_t *j;

    if (sn_b64_encode(p, n, &b64) != SN_OK)
        return NULL;
    j = json_string(b64);
    free(b64);
    return j;
}

/*
 * The entry at index with its RFC 9162 inclusion proof in the latest
 * checkpoint, as GET /log/proof/{index} gives it; JSON null while no
 * checkpoint covers it yet (a later attempt carries it).
 */
static json_t *
proof_json(const struct sn_deps *deps, int64_t index)
{
    const struct sn_tlog_reader rd = {read_hashes, deps->store};
    uint8_t proof[SN_TLOG_MAX_PROOF][32], leaf[32];
    uint64_t size = 0;
    char *note = NULL;
    json_t *o = NULL, *arr = NULL;
    struct sn_buf b;
    size_t np = 0, i, len;

    sn_buf_init(&b, 2 + 65535);
    if (index < 0 ||
        sn_store_log_checkpoint(deps->store, &note, &size) != SN_OK ||
        (uint64_t)index >= size ||
        sn_store_log_entries(deps->store, (uint64_t)index, 1, &b) != SN_OK ||
        b.len < 2 || (len = (size_t)b.data[0] << 8 | b.data[1]) != b.len - 2 ||
        sn_tlog_prove_inclusion(&rd, (uint64_t)index, size, proof, &np) !=
            SN_OK ||
        (arr = json_array()) == NULL)
        goto out;
    sn_tlog_leaf_hash(b.data + 2, len, leaf);
    for (i = 0; i < np; i++)
        json_array_append_new(arr, b64_of(proof[i], 32));
    o = json_pack("{s:I, s:I, s:o, s:O, s:s, s:o}", "index", (json_int_t)index,
                  "tree_size", (json_int_t)size, "leaf_hash", b64_of(leaf, 32),
                  "inclusion", arr, "checkpoint", note, "entry",
                  b64_of(b.data + 2, len));
out:
    json_decref(arr);
    free(note);
    sn_buf_cleanup(&b);
    return o != NULL ? o : json_null();
}

static json_t *
notice_of(const struct sn_deps *deps, const struct sn_report *r,
          const struct sn_report_key *k, const struct sn_key *key, time_t now)
{
    json_t *o, *evs = json_array(), *e;
    char spki[65];
    uint8_t md[32];
    size_t i;

    if (evs == NULL)
        return NULL;
    for (i = 0; i < r->nevents; i++) {
        if (strcmp(r->events[i].key, k->key) != 0)
            continue;
        if ((e = event_json(&r->events[i])) != NULL)
            json_object_set_new(e, "proof",
                                proof_json(deps, r->events[i].log_index));
        json_array_append_new(evs, e);
    }
    spki[0] = '\0';
    if (key->spki != NULL &&
        EVP_Digest(key->spki, key->spki_len, md, NULL, EVP_sha256(), NULL) == 1)
        sn_hex_encode(md, sizeof(md), spki);
    o = json_pack(
        "{s:s, s:o, s:s, s:{s:s, s:s, s:o, s:s, s:{s:s, s:s, s:I, s:o}}, "
        "s:{s:s, s:s, s:s, s:s?, s:o, s:o}, s:o}",
        "type", "signet-ca-notice/v1", "sent_at", sn_time_json(now), "log_vkey",
        deps->log_vkey != NULL ? deps->log_vkey : "", "report", "id", r->id,
        "kind", sn_report_kind_name(r->kind), "received_at",
        sn_time_json(r->received_at), "reason", r->reason, "evidence", "kind",
        sn_report_evidence_name(r->evidence_kind), "sha256", r->evidence_sha256,
        "size", (json_int_t)r->evidence_len, "base64",
        b64_of(r->evidence, r->evidence_len), "key", "id", key->id,
        "subscriber", key->subscriber, "spki_sha256", spki, "certificate_pem",
        key->cert_pem, "first_event", sn_time_json(k->first_event),
        "revocation_date", sn_time_json(k->revocation_date), "events", evs);
    if (o == NULL)
        json_decref(evs);
    return o;
}

sn_err
sn_report_notice_json(const struct sn_deps *deps, const char *id,
                      const char *key_id, time_t now, char **out)
{
    struct sn_report r;
    struct sn_key key;
    json_t *o = NULL;
    size_t i;
    sn_err e;

    *out = NULL;
    memset(&key, 0, sizeof(key));
    if ((e = sn_store_report_get(deps->store, id, &r)) != SN_OK)
        return e;
    for (i = 0; i < r.nkeys && strcmp(r.keys[i].key, key_id) != 0; i++)
        ;
    if (i == r.nkeys) {
        e = SN_ERR_NOT_FOUND;
        goto out;
    }
    if ((e = sn_store_key_get(deps->store, key_id, &key)) != SN_OK)
        goto out;
    e = SN_ERR_NOMEM;
    if ((o = notice_of(deps, &r, &r.keys[i], &key, now)) != NULL &&
        (*out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) != NULL)
        e = SN_OK;
out:
    json_decref(o);
    sn_key_cleanup(&key);
    sn_report_cleanup(&r);
    return e;
}

void
sn_h_report_notice_key(const struct sn_deps *deps, struct sn_req *req,
                       struct sn_resp *resp)
{
    (void)req;
    sn_resp_key_line(resp, deps->notice_key, "no notice key");
}
