/*
 * notices: delivery of the notices owed to other CAs (see notices.h). The
 * body is built by the reports' handlers (sn_report_notice_json) from the
 * store; the answer of the webhook is untrusted and only its status is
 * used (its body is read into nothing, at most NOTICE_ANSWER_MAX bytes).
 */
#include "daemon/notices.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "common/util.h"
#include "http/handlers.h"

#define NOTICE_DOMAIN "signet-ca-notice/v1"
#define NOTICE_TIMEOUT 10 /* seconds one attempt may take */
#define NOTICE_ANSWER_MAX 65536
#define NOTICE_BATCH 16 /* due notices taken at once */
#define NOTICE_BACKOFF_MAX 3600

struct sn_notices {
    const struct sn_deps *deps;
    struct sn_keeper *keeper;
    struct sn_notices_opts o;
    char keyid[9];
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
};

static void
key_id(const uint8_t pub[32], char keyid[9])
{
    uint8_t md[32];

    keyid[0] = '\0';
    if (EVP_Digest(pub, 32, md, NULL, EVP_sha256(), NULL) == 1)
        sn_hex_encode(md, 4, keyid);
}

sn_err
sn_notices_key(struct sn_keeper *keeper, char **out, char keyid[9])
{
    uint8_t pub[32], log[32];
    uint64_t cas;
    char *b64 = NULL;
    size_t n;
    sn_err r;

    *out = NULL;
    keyid[0] = '\0';
    if ((r = sn_keeper_pubkeys(keeper, log, pub, &cas, NULL)) != SN_OK ||
        (r = sn_b64_encode(pub, sizeof(pub), &b64)) != SN_OK)
        return r;
    n = strlen("ed25519:") + strlen(b64) + 1;
    if ((*out = malloc(n)) == NULL) {
        free(b64);
        return SN_ERR_NOMEM;
    }
    snprintf(*out, n, "ed25519:%s", b64);
    key_id(pub, keyid);
    free(b64);
    return SN_OK;
}

/* The signature header's value over body: Ed25519 (in the HSM) of
 * NOTICE_DOMAIN "\n" hex(SHA-256(body)) "\n". */
static sn_err
sign_body(struct sn_notices *n, const char *body, char *hdr, size_t hdrlen)
{
    char msg[sizeof(NOTICE_DOMAIN) + 2 * 32 + 2], *b64 = NULL;
    uint8_t md[32], sig[64];
    sn_err r;

    if (EVP_Digest(body, strlen(body), md, NULL, EVP_sha256(), NULL) != 1)
        return SN_ERR_CRYPTO;
    memcpy(msg, NOTICE_DOMAIN "\n", sizeof(NOTICE_DOMAIN));
    sn_hex_encode(md, sizeof(md), msg + sizeof(NOTICE_DOMAIN));
    memcpy(msg + sizeof(NOTICE_DOMAIN) + 64, "\n", 2);
    if ((r = sn_keeper_sign_notice(n->keeper, (const uint8_t *)msg, strlen(msg),
                                   sig)) != SN_OK ||
        (r = sn_b64_encode(sig, sizeof(sig), &b64)) != SN_OK)
        return r;
    snprintf(hdr, hdrlen, "Signet-Signature: keyid=%s, ed25519=%s", n->keyid,
             b64);
    free(b64);
    return SN_OK;
}

/* Counts and drops the answer's body, up to NOTICE_ANSWER_MAX. */
static size_t
sink(char *p, size_t size, size_t nmemb, void *arg)
{
    size_t *seen = arg;

    (void)p;
    *seen += size * nmemb;
    return *seen > NOTICE_ANSWER_MAX ? 0 : size * nmemb;
}

/* One POST; 1 if the CA answered 2xx. why says what happened. */
static int
post(struct sn_notices *n, const char *body, const char *sighdr, char *why,
     size_t whylen)
{
    struct curl_slist *h = NULL, *h2;
    size_t seen = 0;
    long status = 0;
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    CURL *c;

    if ((c = curl_easy_init()) == NULL ||
        (h = curl_slist_append(NULL, "Content-Type: application/json")) ==
            NULL ||
        (h2 = curl_slist_append(h, sighdr)) == NULL)
        goto out;
    h = h2;
    curl_easy_setopt(c, CURLOPT_URL, n->o.url);
    /* https; http only reaches the loopback (the configuration checked) */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)NOTICE_TIMEOUT);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &seen);
    if (n->o.ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, n->o.ca_file);
    if ((rc = curl_easy_perform(c)) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
out:
    if (rc != CURLE_OK)
        snprintf(why, whylen, "%s", curl_easy_strerror(rc));
    else
        snprintf(why, whylen, "HTTP %ld", status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc == CURLE_OK && status >= 200 && status < 300;
}

static void
record(struct sn_notices *n, const char *id, const struct sn_report_key *k,
       int ok, time_t now, const char *why)
{
    unsigned shift = k->attempts < 12 ? k->attempts : 12;
    time_t wait = (time_t)n->o.retry << shift;
    struct sn_audit a;

    if (wait > NOTICE_BACKOFF_MAX)
        wait =
            n->o.retry > NOTICE_BACKOFF_MAX ? n->o.retry : NOTICE_BACKOFF_MAX;
    if (sn_store_report_notice_result(n->deps->store, id, k->key, ok, now,
                                      ok ? 0 : now + wait, why) != SN_OK)
        sn_error("report %s: the notice's outcome was not recorded", id);
    sn_audit_init(&a, NULL, "", k->key, "report_ca_notice");
    snprintf(a.result, sizeof(a.result), "%s", ok ? "ok" : "failed");
    snprintf(a.detail, sizeof(a.detail), "report %s attempt %u: %s%s", id,
             k->attempts + 1, why, ok ? "" : ", retried later");
    if (sn_store_audit_add(n->deps->store, &a) != SN_OK)
        sn_error("audit: cannot record a CA notice");
    if (ok)
        sn_info("report %s: the CA of key %s acknowledged the notice", id,
                k->key);
    else
        sn_warn("report %s: notice to the CA of key %s: %s; next in %lld s", id,
                k->key, why, (long long)wait);
}

static void
deliver(struct sn_notices *n, const char *id, const struct sn_report_key *k)
{
    char sighdr[256], why[128];
    time_t now = time(NULL);
    char *body = NULL;
    int ok = 0;

    if (sn_report_notice_json(n->deps, id, k->key, now, &body) != SN_OK)
        snprintf(why, sizeof(why), "the notice could not be made");
    else if (sign_body(n, body, sighdr, sizeof(sighdr)) != SN_OK)
        snprintf(why, sizeof(why), "the notice key could not sign");
    else
        ok = post(n, body, sighdr, why, sizeof(why));
    record(n, id, k, ok, now, why);
    free(body);
}

static void *
run(void *arg)
{
    struct sn_notices *n = arg;
    struct sn_report *due = NULL;
    struct timespec until;
    size_t nd = 0, i;

    pthread_mutex_lock(&n->lock);
    while (!n->stop) {
        pthread_mutex_unlock(&n->lock);
        if (sn_store_report_notices_due(n->deps->store, time(NULL),
                                        NOTICE_BATCH, &due, &nd) == SN_OK)
            for (i = 0; i < nd; i++)
                deliver(n, due[i].id, &due[i].keys[0]);
        sn_report_list_free(due, nd);
        due = NULL;
        nd = 0;
        pthread_mutex_lock(&n->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        if (!n->stop)
            pthread_cond_timedwait(&n->cond, &n->lock, &until);
    }
    pthread_mutex_unlock(&n->lock);
    return NULL;
}

sn_err
sn_notices_start(const struct sn_deps *deps, struct sn_keeper *keeper,
                 const struct sn_notices_opts *o, struct sn_notices **out)
{
    struct sn_notices *n;
    char *text = NULL;
    sn_err r;

    *out = NULL;
    if (o->url == NULL || o->retry == 0)
        return SN_ERR_INVALID;
    if ((n = calloc(1, sizeof(*n))) == NULL)
        return SN_ERR_NOMEM;
    n->deps = deps;
    n->keeper = keeper;
    n->o = *o;
    if ((r = sn_notices_key(keeper, &text, n->keyid)) != SN_OK) {
        free(n);
        return r;
    }
    free(text);
    pthread_mutex_init(&n->lock, NULL);
    pthread_cond_init(&n->cond, NULL);
    if (pthread_create(&n->thread, NULL, run, n) != 0) {
        pthread_cond_destroy(&n->cond);
        pthread_mutex_destroy(&n->lock);
        free(n);
        return SN_ERR_INTERNAL;
    }
    *out = n;
    return SN_OK;
}

void
sn_notices_stop(struct sn_notices *n)
{
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->lock);
    n->stop = 1;
    pthread_cond_signal(&n->cond);
    pthread_mutex_unlock(&n->lock);
    pthread_join(n->thread, NULL);
    pthread_cond_destroy(&n->cond);
    pthread_mutex_destroy(&n->lock);
    free(n);
}
