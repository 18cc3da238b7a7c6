/*
 * signet-bench: load generator and raw-HSM baseline for `make bench`.
 *
 *   signet-bench raw  --module SO --token LABEL --pin-file F --key ID
 *                     --alg ALG --threads T --seconds S
 *   signet-bench http --url URL --ca FILE --token-file F --keys FILE
 *                     --alg ALG --clients C --seconds S [--batch N]
 *                     [--rate R]   (R requests/s in all; default: flat out)
 *   signet-bench tsa  --url URL --clients C --seconds S
 *
 * Prints one line of key=value results: ops (signatures or tokens), ops/s,
 * p50 and p99 latency per request in ms, and the generator's own CPU use
 * (so a saturated generator shows). Arguments are trusted (the bench
 * script's).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/rand.h>
#include <openssl/ts.h>

#include "common/keyalg.h"
#include "common/util.h"
#include "hsm/hsm.h"

#define MAX_SAMPLES (1 << 22)
#define MAX_KEYS 20000

struct opts {
    const char *mode, *module, *token, *pin_file, *key, *url, *ca, *token_file,
        *keys_file;
    enum sn_keyalg alg;
    int threads, seconds, batch;
    double rate; /* http: requests per second in all, 0 = as fast as it goes */
};

static struct opts o;
static double *samples;
static size_t nsamples;
static unsigned long long total_ops;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sn_hsm_token *tok;
static char *keys[MAX_KEYS];
static size_t nkeys;
static char auth[256];
static double deadline;

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
record(double *lat, size_t n, unsigned long long ops)
{
    pthread_mutex_lock(&lock);
    if (nsamples + n <= MAX_SAMPLES) {
        memcpy(samples + nsamples, lat, n * sizeof(*lat));
        nsamples += n;
    }
    total_ops += ops;
    pthread_mutex_unlock(&lock);
}

static void *
raw_worker(void *arg)
{
    uint8_t digest[64], *sig;
    size_t siglen, n = 0, cap = 1 << 16;
    double *lat = malloc(cap * sizeof(*lat)), t0;
    enum sn_scheme scheme =
        sn_keyalg_is_rsa(o.alg) ? SN_SCHEME_PKCS1 : SN_SCHEME_ECDSA;
    unsigned long long ops = 0;

    (void)arg;
    RAND_bytes(digest, sizeof(digest));
    while (lat != NULL && (t0 = now()) < deadline) {
        if (sn_hsm_sign(tok, o.key, o.alg, SN_MD_SHA256, scheme, digest, 32,
                        &sig, &siglen) != SN_OK) {
            fprintf(stderr, "raw: sign failed\n");
            exit(1);
        }
        free(sig);
        if (n < cap)
            lat[n++] = now() - t0;
        ops++;
    }
    record(lat, n, ops);
    free(lat);
    return NULL;
}

struct buf {
    char *p;
    size_t len;
};

static size_t
sink(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;
    char *np;

    if (b->len + n > (1 << 24) || (np = realloc(b->p, b->len + n + 1)) == NULL)
        return 0;
    memcpy(np + b->len, ptr, n);
    b->p = np;
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

static void *
http_worker(void *arg)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[512], body[32768], *b64 = NULL;
    uint8_t digest[32];
    struct buf resp = {NULL, 0};
    size_t n = 0, cap = 1 << 16, off, i;
    double *lat = malloc(cap * sizeof(*lat)), t0;
    unsigned long long ops = 0;
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    long code;

    RAND_bytes(digest, sizeof(digest));
    sn_b64_encode(digest, sizeof(digest), &b64);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CAINFO, o.ca);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    if (o.batch > 1) {
        off = (size_t)snprintf(body, sizeof(body),
                               "{\"digest_algorithm\":\"sha256\","
                               "\"digests\":[");
        for (i = 0; i < (size_t)o.batch; i++)
            off += (size_t)snprintf(body + off, sizeof(body) - off, "%s\"%s\"",
                                    i ? "," : "", b64);
        snprintf(body + off, sizeof(body) - off, "]}");
    } else
        snprintf(body, sizeof(body),
                 "{\"digest_algorithm\":\"sha256\",\"digest\":\"%s\"}", b64);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    double next = now(), gap = o.rate > 0 ? o.threads / o.rate : 0;

    while (lat != NULL && (t0 = now()) < deadline) {
        if (gap > 0) {
            /* Paced: one request every gap seconds per client. */
            struct timespec ts;
            double wait = next - t0;
            if (wait > 0) {
                ts.tv_sec = (time_t)wait;
                ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
                nanosleep(&ts, NULL);
            }
            next += gap;
            t0 = now();
        }
        seed = seed * 1103515245u + 12345u;
        snprintf(url, sizeof(url), "%s/v1/keys/%s/sign", o.url,
                 keys[(seed >> 8) % nkeys]);
        curl_easy_setopt(c, CURLOPT_URL, url);
        resp.len = 0;
        if (curl_easy_perform(c) != CURLE_OK ||
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
            code != 200) {
            fprintf(stderr, "http: request failed: %s\n",
                    resp.p ? resp.p : "(no body)");
            exit(1);
        }
        if (n < cap)
            lat[n++] = now() - t0;
        ops += (unsigned long long)(o.batch > 1 ? o.batch : 1);
    }
    record(lat, n, ops);
    free(lat);
    free(resp.p);
    free(b64);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static void *
tsa_worker(void *arg)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct buf resp = {NULL, 0};
    unsigned char *der = NULL;
    uint8_t digest[32];
    size_t n = 0, cap = 1 << 16;
    double *lat = malloc(cap * sizeof(*lat)), t0;
    unsigned long long ops = 0;
    TS_REQ *req = TS_REQ_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    char url[512];
    long code;
    int len;

    (void)arg;
    RAND_bytes(digest, sizeof(digest));
    X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL);
    TS_MSG_IMPRINT_set_algo(mi, alg);
    TS_MSG_IMPRINT_set_msg(mi, digest, sizeof(digest));
    TS_REQ_set_version(req, 1);
    TS_REQ_set_msg_imprint(req, mi);
    TS_REQ_set_cert_req(req, 1);
    len = i2d_TS_REQ(req, &der);
    snprintf(url, sizeof(url), "%s/tsa", o.url);
    h = curl_slist_append(h, "Content-Type: application/timestamp-query");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (o.ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, o.ca);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, der);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    while (lat != NULL && (t0 = now()) < deadline) {
        resp.len = 0;
        if (curl_easy_perform(c) != CURLE_OK ||
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
            code != 200) {
            fprintf(stderr, "tsa: request failed\n");
            exit(1);
        }
        if (n < cap)
            lat[n++] = now() - t0;
        ops++;
    }
    record(lat, n, ops);
    free(lat);
    free(resp.p);
    OPENSSL_free(der);
    TS_REQ_free(req);
    TS_MSG_IMPRINT_free(mi);
    X509_ALGOR_free(alg);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static int
cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void
load_keys(void)
{
    FILE *f = fopen(o.keys_file, "r");
    char line[128];

    if (f == NULL) {
        perror(o.keys_file);
        exit(1);
    }
    while (nkeys < MAX_KEYS && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] != '\0')
            keys[nkeys++] = strdup(line);
    }
    fclose(f);
    if (nkeys == 0) {
        fprintf(stderr, "no keys in %s\n", o.keys_file);
        exit(1);
    }
}

static void
setup_raw(void)
{
    struct sn_hsm *hsm;
    uint8_t *pin;
    size_t len;

    if (sn_hsm_open(o.module, &hsm) != SN_OK ||
        sn_file_read(o.pin_file, 256, &pin, &len) != SN_OK) {
        fprintf(stderr, "raw: cannot open the module or PIN\n");
        exit(1);
    }
    pin[strcspn((char *)pin, "\r\n")] = '\0';
    if (sn_hsm_token_open(hsm, o.token, (char *)pin, &tok) != SN_OK) {
        fprintf(stderr, "raw: cannot open token %s\n", o.token);
        exit(1);
    }
}

int
main(int argc, char **argv)
{
    pthread_t th[256];
    struct rusage ru;
    uint8_t *t;
    size_t tl;
    double t0, el;
    int i;

    o.threads = 1;
    o.seconds = 5;
    o.batch = 1;
    o.alg = SN_KEY_RSA3072;
    if (argc < 2)
        return 2;
    o.mode = argv[1];
    for (i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--module"))
            o.module = v;
        else if (!strcmp(k, "--token"))
            o.token = v;
        else if (!strcmp(k, "--pin-file"))
            o.pin_file = v;
        else if (!strcmp(k, "--key"))
            o.key = v;
        else if (!strcmp(k, "--url"))
            o.url = v;
        else if (!strcmp(k, "--ca"))
            o.ca = v;
        else if (!strcmp(k, "--token-file"))
            o.token_file = v;
        else if (!strcmp(k, "--keys"))
            o.keys_file = v;
        else if (!strcmp(k, "--alg"))
            sn_keyalg_from_name(v, &o.alg);
        else if (!strcmp(k, "--threads") || !strcmp(k, "--clients"))
            o.threads = (int)strtol(v, NULL, 10);
        else if (!strcmp(k, "--seconds"))
            o.seconds = (int)strtol(v, NULL, 10);
        else if (!strcmp(k, "--batch"))
            o.batch = (int)strtol(v, NULL, 10);
        else if (!strcmp(k, "--rate"))
            o.rate = strtod(v, NULL);
        else
            return 2;
    }
    if (o.threads < 1 || o.threads > 256 || o.batch < 1 || o.batch > 256)
        return 2;
    samples = malloc(MAX_SAMPLES * sizeof(*samples));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!strcmp(o.mode, "raw"))
        setup_raw();
    else if (!strcmp(o.mode, "http")) {
        load_keys();
        if (sn_file_read(o.token_file, 256, &t, &tl) != SN_OK)
            return 1;
        t[strcspn((char *)t, "\r\n")] = '\0';
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", (char *)t);
    }
    t0 = now();
    deadline = t0 + o.seconds;
    for (i = 0; i < o.threads; i++)
        pthread_create(&th[i], NULL,
                       !strcmp(o.mode, "raw")    ? raw_worker
                       : !strcmp(o.mode, "http") ? http_worker
                                                 : tsa_worker,
                       (void *)(uintptr_t)(i + 1));
    for (i = 0; i < o.threads; i++)
        pthread_join(th[i], NULL);
    el = now() - t0;
    getrusage(RUSAGE_SELF, &ru);
    qsort(samples, nsamples, sizeof(*samples), cmp);
    printf("ops=%llu ops_per_s=%.1f p50_ms=%.3f p99_ms=%.3f "
           "client_cpu=%.2f\n",
           total_ops, (double)total_ops / el,
           nsamples ? samples[nsamples / 2] * 1e3 : 0,
           nsamples ? samples[nsamples * 99 / 100] * 1e3 : 0,
           ((double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
            (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6) /
               el);
    return 0;
}
