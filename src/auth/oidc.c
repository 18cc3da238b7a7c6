/*
 * oidc: trusted issuers, their keys, and ID-token verification (see
 * oidc.h). The documents fetched (discovery, JWKS) are untrusted: HTTPS
 * only, no redirects, bounded in size and time, parsed by jwk.c. One
 * mutex guards the table; a key set in use by a verification is held by a
 * reference, so the fetching thread can replace it meanwhile.
 */
#include "auth/oidc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "common/log.h"

#define MAX_ISSUERS 64
#define DOC_MAX SN_JWKS_DOC_MAX
#define PERIODIC 3600 /* a refresh an hour even without an unknown kid */

/* A key set shared by the table and the verifications using it. */
struct held {
    struct sn_jwks *ks;
    unsigned refs;
};

struct entry {
    struct sn_oidc_issuer cfg;
    struct held *keys;   /* NULL until a fetch succeeded */
    time_t fetched_at;   /* of keys */
    time_t last_attempt; /* 0: never */
    int want, fetching;  /* a refresh asked for; one under way */
    char error[160];     /* of the last failed fetch, "" if none */
};

struct sn_oidc {
    struct sn_store *st;
    struct sn_oidc_opts opts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, started;
    pthread_t thread;
    struct entry *e;
    size_t n;
};

static void
held_drop(struct held *h)
{
    if (h != NULL && --h->refs == 0) {
        sn_jwks_free(h->ks);
        free(h);
    }
}

/* ---- fetching (the background thread only) ---- */

struct sink {
    char *buf;
    size_t len;
};

static size_t
sink_write(char *p, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb;

    if (n > DOC_MAX - s->len)
        return 0; /* over the limit: curl aborts the transfer */
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return n;
}

/* Stopping: a fetch under way is abandoned rather than waited for. */
static int
stopping(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return __atomic_load_n((const int *)arg, __ATOMIC_RELAXED);
}

/* GETs an https URL into a malloc'd, NUL-terminated *body; *stop set
 * aborts it. */
static sn_err
http_get(const char *url, const char *ca_file, long timeout, int *stop,
         char **body, size_t *len, char *why, size_t whylen)
{
    struct sink s = {NULL, 0};
    CURL *c = NULL;
    CURLcode rc;
    long status = 0;
    sn_err r = SN_ERR_IO;

    *body = NULL;
    *len = 0;
    if (strncmp(url, "https://", 8) != 0) {
        snprintf(why, whylen, "not an https URL: %.100s", url);
        return SN_ERR_INVALID;
    }
    if ((s.buf = malloc(DOC_MAX + 1)) == NULL || (c = curl_easy_init()) == NULL)
        goto out;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stopping);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, stop);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout < 5 ? timeout : 5L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)DOC_MAX);
    if (ca_file != NULL && ca_file[0] != '\0')
        curl_easy_setopt(c, CURLOPT_CAINFO, ca_file);
    if ((rc = curl_easy_perform(c)) != CURLE_OK) {
        snprintf(why, whylen, "%.100s: %s", url, curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        snprintf(why, whylen, "%.100s: HTTP status %ld", url, status);
        goto out;
    }
    s.buf[s.len] = '\0';
    *body = s.buf;
    *len = s.len;
    s.buf = NULL;
    r = SN_OK;
out:
    free(s.buf);
    curl_easy_cleanup(c);
    return r;
}

/* The issuer's jwks_uri from its discovery document, which must name the
 * issuer exactly (OpenID Connect Discovery 1.0, 4.3). */
static sn_err
discover(const struct sn_oidc_issuer *cfg, long timeout, int *stop, char *uri,
         size_t urilen, char *why, size_t whylen)
{
    char url[SN_OIDC_URL_MAX + 64];
    size_t ilen = strlen(cfg->issuer);
    const char *iss, *ju;
    json_t *doc = NULL;
    char *body = NULL;
    size_t len;
    sn_err r;

    if (ilen > 0 && cfg->issuer[ilen - 1] == '/')
        ilen--;
    snprintf(url, sizeof(url), "%.*s/.well-known/openid-configuration",
             (int)ilen, cfg->issuer);
    if ((r = http_get(url, cfg->ca_file, timeout, stop, &body, &len, why,
                      whylen)) != SN_OK)
        return r;
    r = SN_ERR_INVALID;
    doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    iss = json_string_value(json_object_get(doc, "issuer"));
    ju = json_string_value(json_object_get(doc, "jwks_uri"));
    if (iss == NULL || strcmp(iss, cfg->issuer) != 0)
        snprintf(why, whylen, "discovery document names another issuer");
    else if (ju == NULL || strlen(ju) >= urilen)
        snprintf(why, whylen, "discovery document without a usable jwks_uri");
    else {
        snprintf(uri, urilen, "%s", ju);
        r = SN_OK;
    }
    json_decref(doc);
    free(body);
    return r;
}

static sn_err
fetch_keys(const struct sn_oidc_issuer *cfg, long timeout, int *stop,
           struct sn_jwks **out, char *why, size_t whylen)
{
    char uri[SN_OIDC_URL_MAX + 1];
    char *body = NULL;
    size_t len;
    sn_err r;

    *out = NULL;
    if (cfg->jwks_uri[0] != '\0')
        snprintf(uri, sizeof(uri), "%s", cfg->jwks_uri);
    else if ((r = discover(cfg, timeout, stop, uri, sizeof(uri), why,
                           whylen)) != SN_OK)
        return r;
    if ((r = http_get(uri, cfg->ca_file, timeout, stop, &body, &len, why,
                      whylen)) != SN_OK)
        return r;
    if ((r = sn_jwks_parse(body, len, out)) != SN_OK)
        snprintf(why, whylen, "%.100s: not an acceptable JWKS", uri);
    else if ((*out)->n == 0) {
        snprintf(why, whylen, "%.100s: no RS256 or ES256 key", uri);
        sn_jwks_free(*out);
        *out = NULL;
        r = SN_ERR_INVALID;
    }
    free(body);
    return r;
}

/* The next entry to fetch, or -1 (the mutex held). */
static long
next_due(struct sn_oidc *o, time_t now)
{
    size_t i;

    for (i = 0; i < o->n; i++) {
        struct entry *e = &o->e[i];
        int rested = now - e->last_attempt >= o->opts.refresh_interval;

        if (e->fetching)
            continue;
        if (e->last_attempt == 0 || (e->want && rested) ||
            (rested && now - e->fetched_at >= PERIODIC))
            return (long)i;
    }
    return -1;
}

static void
install(struct sn_oidc *o, const char *id, struct sn_jwks *ks, const char *why)
{
    struct held *h = NULL;
    size_t i;

    for (i = 0; i < o->n; i++) {
        struct entry *e = &o->e[i];

        if (strcmp(e->cfg.id, id) != 0)
            continue;
        e->fetching = 0;
        if (ks == NULL) {
            snprintf(e->error, sizeof(e->error), "%s", why);
            return;
        }
        if ((h = calloc(1, sizeof(*h))) == NULL)
            break;
        h->ks = ks;
        h->refs = 1;
        held_drop(e->keys);
        e->keys = h;
        e->fetched_at = time(NULL);
        e->error[0] = '\0';
        return;
    }
    sn_jwks_free(ks); /* the issuer went meanwhile */
}

static void *
fetcher(void *arg)
{
    struct sn_oidc *o = arg;
    struct sn_oidc_issuer cfg;
    struct sn_jwks *ks;
    struct timespec ts;
    char why[160];
    long i;

    pthread_mutex_lock(&o->mu);
    while (!__atomic_load_n(&o->stop, __ATOMIC_RELAXED)) {
        if ((i = next_due(o, time(NULL))) < 0) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&o->cv, &o->mu, &ts);
            continue;
        }
        cfg = o->e[i].cfg;
        o->e[i].last_attempt = time(NULL);
        o->e[i].want = 0;
        o->e[i].fetching = 1;
        pthread_mutex_unlock(&o->mu);
        why[0] = '\0';
        if (fetch_keys(&cfg, o->opts.fetch_timeout, &o->stop, &ks, why,
                       sizeof(why)) != SN_OK) {
            sn_warn("oidc: cannot fetch the keys of %s: %s", cfg.issuer, why);
            ks = NULL;
        } else
            sn_info("oidc: %zu keys of %s fetched", ks->n, cfg.issuer);
        pthread_mutex_lock(&o->mu);
        install(o, cfg.id, ks, why);
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

/* ---- the table ---- */

sn_err
sn_oidc_reload(struct sn_oidc *o)
{
    struct sn_oidc_issuer *list = NULL;
    struct entry *ne = NULL, *old;
    size_t n = 0, i, j, oldn;
    sn_err r;

    if ((r = sn_store_oidc_issuer_list(o->st, &list, &n)) != SN_OK)
        return r;
    if (n > MAX_ISSUERS)
        n = MAX_ISSUERS;
    if ((ne = calloc(n ? n : 1, sizeof(*ne))) == NULL) {
        free(list);
        return SN_ERR_NOMEM;
    }
    for (i = 0; i < n; i++)
        ne[i].cfg = list[i];
    free(list);
    pthread_mutex_lock(&o->mu);
    old = o->e;
    oldn = o->n;
    /* Keys and fetch state carry over for issuers still registered. */
    for (i = 0; i < n; i++)
        for (j = 0; j < oldn; j++)
            if (strcmp(ne[i].cfg.id, old[j].cfg.id) == 0) {
                ne[i].keys = old[j].keys;
                ne[i].fetched_at = old[j].fetched_at;
                ne[i].last_attempt = old[j].last_attempt;
                ne[i].fetching = old[j].fetching;
                memcpy(ne[i].error, old[j].error, sizeof(ne[i].error));
                old[j].keys = NULL;
            }
    for (j = 0; j < oldn; j++)
        held_drop(old[j].keys);
    o->e = ne;
    o->n = n;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    free(old);
    return SN_OK;
}

sn_err
sn_oidc_new(struct sn_store *st, const struct sn_oidc_opts *opts,
            struct sn_oidc **out)
{
    struct sn_oidc *o;
    sn_err r;

    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return SN_ERR_INTERNAL;
    if ((o = calloc(1, sizeof(*o))) == NULL)
        return SN_ERR_NOMEM;
    o->st = st;
    o->opts = *opts;
    if (o->opts.refresh_interval < 1)
        o->opts.refresh_interval = 60;
    if (o->opts.fetch_timeout < 1)
        o->opts.fetch_timeout = 10;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    if ((r = sn_oidc_reload(o)) != SN_OK) {
        sn_oidc_free(o);
        return r;
    }
    if (pthread_create(&o->thread, NULL, fetcher, o) != 0) {
        sn_oidc_free(o);
        return SN_ERR_INTERNAL;
    }
    o->started = 1;
    *out = o;
    return SN_OK;
}

void
sn_oidc_free(struct sn_oidc *o)
{
    size_t i;

    if (o == NULL)
        return;
    if (o->started) {
        pthread_mutex_lock(&o->mu);
        __atomic_store_n(&o->stop, 1, __ATOMIC_RELAXED);
        pthread_cond_signal(&o->cv);
        pthread_mutex_unlock(&o->mu);
        pthread_join(o->thread, NULL);
    }
    for (i = 0; i < o->n; i++)
        held_drop(o->e[i].keys);
    free(o->e);
    pthread_cond_destroy(&o->cv);
    pthread_mutex_destroy(&o->mu);
    free(o);
    curl_global_cleanup();
}

/* ---- verification (request threads) ---- */

/*
 * The issuer's keys (a reference: held_drop under the mutex) and its
 * audience; NULL with *status and *reason when there are none to use.
 * A refresh is asked for when the kid is unknown.
 */
static struct held *
keys_for(struct sn_oidc *o, const char *iss, const char *kid,
         struct sn_oidc_issuer *cfg, enum sn_oidc_status *status,
         const char **reason)
{
    struct held *h = NULL;
    time_t now = time(NULL);
    size_t i;

    *status = SN_OIDC_REFUSED;
    *reason = "issuer_unknown";
    for (i = 0; i < o->n; i++) {
        struct entry *e = &o->e[i];

        if (strcmp(e->cfg.issuer, iss) != 0)
            continue;
        *cfg = e->cfg;
        if (e->keys != NULL && sn_jwks_find(e->keys->ks, kid) != NULL) {
            h = e->keys;
            h->refs++;
            return h;
        }
        /* Unknown kid or no keys yet: a refresh, made by the fetcher. A
         * rotation is then found in a moment (503, retry); a kid still
         * unknown right after a fetch is refused. */
        e->want = 1;
        pthread_cond_signal(&o->cv);
        if (e->keys == NULL) {
            *status = SN_OIDC_UNAVAILABLE;
            *reason = "issuer_unavailable";
        } else {
            *reason = "kid_unknown";
            if (e->fetching ||
                now - e->last_attempt >= o->opts.refresh_interval)
                *status = SN_OIDC_UNAVAILABLE;
        }
        return NULL;
    }
    return NULL;
}

enum sn_oidc_status
sn_oidc_verify(struct sn_oidc *o, const char *token, size_t len,
               struct sn_oidc_token *out, const char **reason)
{
    struct sn_oidc_issuer cfg;
    struct sn_jwt_expect ex;
    struct sn_jwt *t = NULL;
    struct held *h = NULL;
    enum sn_oidc_status st = SN_OIDC_REFUSED;
    enum sn_jwt_reason jr;
    const char *iss;

    memset(out, 0, sizeof(*out));
    if ((jr = sn_jwt_parse(token, len, &t)) != SN_JWT_OK) {
        *reason = sn_jwt_reason_str(jr);
        goto out;
    }
    if ((iss = sn_jwt_issuer(t)) == NULL || strlen(iss) > SN_OIDC_URL_MAX) {
        *reason = "issuer_unknown";
        goto out;
    }
    pthread_mutex_lock(&o->mu);
    h = keys_for(o, iss, t->kid, &cfg, &st, reason);
    pthread_mutex_unlock(&o->mu);
    if (h == NULL)
        goto out;
    memset(&ex, 0, sizeof(ex));
    ex.issuer = cfg.issuer;
    ex.audience = cfg.audience;
    ex.now = time(NULL);
    ex.max_age = o->opts.max_token_age;
    st = SN_OIDC_REFUSED;
    if ((jr = sn_jwt_verify(t, h->ks, &ex, &out->exp, out->jti)) != SN_JWT_OK) {
        *reason = sn_jwt_reason_str(jr);
        goto out;
    }
    snprintf(out->issuer, sizeof(out->issuer), "%s", cfg.issuer);
    out->claims = json_incref(t->claims);
    *reason = "ok";
    st = SN_OIDC_OK;
out:
    if (h != NULL) {
        pthread_mutex_lock(&o->mu);
        held_drop(h);
        pthread_mutex_unlock(&o->mu);
    }
    sn_jwt_free(t);
    return st;
}

json_t *
sn_oidc_status_json(struct sn_oidc *o)
{
    json_t *all = json_object();
    char when[SN_TIME_LEN];
    size_t i;

    pthread_mutex_lock(&o->mu);
    for (i = 0; i < o->n; i++) {
        struct entry *e = &o->e[i];

        if (e->fetched_at != 0)
            sn_time_format(e->fetched_at, when);
        json_object_set_new(
            all, e->cfg.id,
            json_pack("{s:I, s:o, s:o}", "keys",
                      (json_int_t)(e->keys ? e->keys->ks->n : 0), "fetched_at",
                      e->fetched_at ? json_string(when) : json_null(), "error",
                      e->error[0] ? json_string(e->error) : json_null()));
    }
    pthread_mutex_unlock(&o->mu);
    return all;
}
