/*
 * signet-bench: load generator and raw-HSM baseline for `make bench`.
 *
 *   signet-bench raw  --module SO --token LABEL --pin-file F
 *                     (--key ID | --keys FILE) --alg ALG --threads T
 *                     --seconds S   (--keys: a random key per signature)
 *   signet-bench http --url URL --ca FILE --token-file F --keys FILE
 *                     --alg ALG --clients C --seconds S [--batch N]
 *                     [--rate R]   (R requests/s in all; default: flat out)
 *   signet-bench tsa  --url URL --clients C --seconds S [--sources N]
 *                     [--ocsp-req FILE]
 *                     (--sources: the clients connect from N loopback
 *                     addresses 127.0.1.1..N, as N hosts would; --ocsp-req:
 *                     every other request is this DER OCSP request; 429
 *                     and 503 answers are counted as refused, not as ops)
 *   signet-bench keygen --url URL --ca FILE --token-file F --alg ALG
 *                     --clients C --seconds S   (creates keys flat out)
 *
 * Prints one line of key=value results: ops (signatures or tokens), ops/s,
 * p50 and p99 latency per request in ms, and the generator's own CPU use
 * (so a saturated generator shows). Arguments are trusted (the bench
 * script's).
 *
 * The HTTP client is a minimal HTTP/1.1 keep-alive client over one TLS
 * connection per client thread (OpenSSL): a general-purpose client library
 * spent several times more CPU per request than the server's own HTTP
 * work, on the same two cores the server needs.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/ts.h>

#include "common/keyalg.h"
#include "common/util.h"
#include "hsm/hsm.h"

#define MAX_SAMPLES (1 << 22)
#define MAX_KEYS 20000

struct opts {
    const char *mode, *module, *token, *pin_file, *key, *url, *ca, *token_file,
        *keys_file, *ocsp_file;
    int sources;
    enum sn_keyalg alg;
    int threads, seconds, batch;
    double rate; /* http: requests per second in all, 0 = as fast as it goes */
};

static struct opts o;
static double *samples;
static size_t nsamples;
static unsigned long long total_ops, total_refused;
static uint8_t *ocsp_der;
static size_t ocsp_len;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sn_hsm *hsm;
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
record_refused(unsigned long long refused)
{
    pthread_mutex_lock(&lock);
    total_refused += refused;
    pthread_mutex_unlock(&lock);
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
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    const char *key = o.key;

    RAND_bytes(digest, sizeof(digest));
    while (lat != NULL && (t0 = now()) < deadline) {
        if (nkeys > 0) {
            seed = seed * 1103515245u + 12345u;
            key = keys[(seed >> 8) % nkeys];
        }
        if (sn_hsm_sign(tok, key, o.alg, SN_MD_SHA256, scheme, digest, 32, &sig,
                        &siglen) != SN_OK) {
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

/* ---- a minimal HTTP/1.1 client: keep-alive, Content-Length bodies ---- */

struct conn {
    int source; /* 0, or the n of the source address 127.0.1.n */
    int fd;
    SSL *ssl; /* NULL for http:// */
    char rbuf[65536];
    size_t rlen;
};

static SSL_CTX *ssl_ctx;
static char host[64];
static int port;
static int use_tls;

/* Whole decimal number in [lo, hi] starting at s; -1 if anything else. */
static long
number(const char *s, long lo, long hi, char **end)
{
    long v;

    if (*s < '0' || *s > '9')
        return -1;
    v = strtol(s, end, 10);
    return v >= lo && v <= hi ? v : -1;
}

/* Takes http(s)://IPV4:PORT (the bench script's URLs). */
static void
parse_url(const char *url)
{
    const char *p, *colon;
    size_t hl;
    char *end;
    long v;

    use_tls = strncmp(url, "https://", 8) == 0;
    if (!use_tls && strncmp(url, "http://", 7) != 0)
        goto bad;
    p = url + (use_tls ? 8 : 7);
    if ((colon = strchr(p, ':')) == NULL || (hl = (size_t)(colon - p)) == 0 ||
        hl >= sizeof(host) || strspn(p, "0123456789.") != hl ||
        (v = number(colon + 1, 1, 65535, &end)) < 0 || *end != '\0')
        goto bad;
    memcpy(host, p, hl);
    host[hl] = '\0';
    port = (int)v;
    return;
bad:
    fprintf(stderr, "bench: need a URL like https://127.0.0.1:PORT\n");
    exit(1);
}

static int
conn_open(struct conn *c)
{
    struct sockaddr_in sa;
    int one = 1;

    int source = c->source;

    memset(c, 0, sizeof(*c));
    c->source = source;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
        return -1;
    if (source > 0) {
        sa.sin_addr.s_addr = htonl(0x7f000100u | (uint32_t)(source & 0xff));
        if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
            return -1;
    }
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return -1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!use_tls)
        return 0;
    if ((c->ssl = SSL_new(ssl_ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
        SSL_set1_host(c->ssl, host) != 1 || SSL_connect(c->ssl) != 1)
        return -1;
    return 0;
}

static void
conn_close(struct conn *c)
{
    if (c->ssl != NULL) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    if (c->fd > 0)
        close(c->fd);
    c->ssl = NULL;
    c->fd = -1;
}

static int
conn_write(struct conn *c, const char *p, size_t n)
{
    size_t off = 0;
    ssize_t w;

    while (off < n) {
        if (c->ssl != NULL)
            w = SSL_write(c->ssl, p + off, (int)(n - off));
        else
            w = write(c->fd, p + off, n - off);
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

static int
conn_fill(struct conn *c)
{
    ssize_t r;

    if (c->rlen >= sizeof(c->rbuf))
        return -1;
    if (c->ssl != NULL)
        r = SSL_read(c->ssl, c->rbuf + c->rlen,
                     (int)(sizeof(c->rbuf) - c->rlen));
    else
        r = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
    if (r <= 0)
        return -1;
    c->rlen += (size_t)r;
    return 0;
}

/*
 * Sends one request and reads its response; returns the status code (0 on
 * a transport error). The body is left at c->rbuf + *body_off, NUL-ended.
 */
static int
conn_request(struct conn *c, const char *req, size_t reqlen, size_t *body_off)
{
    char *hend, *cl, *end;
    size_t hlen, blen = 0;
    long v;
    int status;

    c->rlen = 0;
    if (conn_write(c, req, reqlen) != 0)
        return 0;
    for (;;) {
        c->rbuf[c->rlen] = '\0';
        if ((hend = strstr(c->rbuf, "\r\n\r\n")) != NULL)
            break;
        if (conn_fill(c) != 0 || c->rlen + 1 >= sizeof(c->rbuf))
            return 0;
    }
    hlen = (size_t)(hend - c->rbuf) + 4;
    *hend = '\0';
    if (strncmp(c->rbuf, "HTTP/1.1 ", 9) != 0 ||
        (v = number(c->rbuf + 9, 100, 599, &end)) < 0 || *end != ' ')
        return 0;
    status = (int)v;
    for (cl = c->rbuf; (cl = strchr(cl, '\n')) != NULL;) {
        if (strncasecmp(++cl, "content-length:", 15) != 0)
            continue;
        cl += 15 + strspn(cl + 15, " ");
        if ((v = number(cl, 0, (long)sizeof(c->rbuf), &end)) < 0)
            return 0;
        blen = (size_t)v;
    }
    if (hlen + blen + 1 > sizeof(c->rbuf))
        return 0;
    while (c->rlen < hlen + blen)
        if (conn_fill(c) != 0 || c->rlen + 1 >= sizeof(c->rbuf))
            return 0;
    c->rbuf[hlen + blen] = '\0';
    *body_off = hlen;
    return status;
}

/* One request on a kept-alive connection, reconnecting once if it died. */
static int
request(struct conn *c, const char *req, size_t reqlen, size_t *body_off)
{
    int status;

    if (c->fd < 0 && conn_open(c) != 0)
        return 0;
    if ((status = conn_request(c, req, reqlen, body_off)) != 0)
        return status;
    conn_close(c);
    if (conn_open(c) != 0)
        return 0;
    return conn_request(c, req, reqlen, body_off);
}

/* An exponentially distributed gap of the given mean (0: none). */
static double
exp_gap(unsigned *seed, double mean)
{
    double u;

    if (mean <= 0)
        return 0;
    *seed = *seed * 1103515245u + 12345u;
    u = ((double)(*seed >> 8) + 1.0) / 16777217.0; /* (0, 1) */
    return -log(u) * mean;
}

static void *
http_worker(void *arg)
{
    enum { BODY_MAX = 32768 };
    char *b64 = NULL, *body = malloc(BODY_MAX), *req = malloc(BODY_MAX + 1024);
    uint8_t digest[32];
    struct conn c = {.fd = -1};
    size_t n = 0, cap = 1 << 16, off, i, blen, bo;
    double *lat = malloc(cap * sizeof(*lat)), t0;
    unsigned long long ops = 0;
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    int len, status;

    if (lat == NULL || body == NULL || req == NULL) {
        fprintf(stderr, "http: out of memory\n");
        exit(1);
    }
    RAND_bytes(digest, sizeof(digest));
    sn_b64_encode(digest, sizeof(digest), &b64);
    if (o.batch > 1) {
        off = (size_t)snprintf(body, BODY_MAX,
                               "{\"digest_algorithm\":\"sha256\","
                               "\"digests\":[");
        for (i = 0; i < (size_t)o.batch; i++)
            off += (size_t)snprintf(body + off, BODY_MAX - off, "%s\"%s\"",
                                    i ? "," : "", b64);
        snprintf(body + off, BODY_MAX - off, "]}");
    } else
        snprintf(body, BODY_MAX,
                 "{\"digest_algorithm\":\"sha256\",\"digest\":\"%s\"}", b64);
    blen = strlen(body);
    double gap = o.rate > 0 ? o.threads / o.rate : 0;
    double next = now() + exp_gap(&seed, gap);

    while ((t0 = now()) < deadline) {
        if (gap > 0) {
            /* Paced: each client's requests arrive as a Poisson process of
             * rate/clients (so all of them together make one of the
             * given rate), not in lockstep. Latency counts from the
             * planned start: a request that had to wait for the one
             * before it shows that wait (no coordinated omission). */
            struct timespec ts;
            double wait = next - t0;
            if (wait > 0) {
                ts.tv_sec = (time_t)wait;
                ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
                nanosleep(&ts, NULL);
            }
            t0 = next;
            next += exp_gap(&seed, gap);
        }
        seed = seed * 1103515245u + 12345u;
        len = snprintf(req, BODY_MAX + 1024,
                       "POST /v1/keys/%s/sign HTTP/1.1\r\n"
                       "Host: %s:%d\r\n%s\r\n"
                       "Content-Type: application/json\r\n"
                       "Content-Length: %zu\r\n\r\n%s",
                       keys[(seed >> 8) % nkeys], host, port, auth, blen, body);
        if ((status = request(&c, req, (size_t)len, &bo)) != 200) {
            fprintf(stderr, "http: request failed (%d): %s\n", status,
                    status ? c.rbuf + bo : "(no response)");
            exit(1);
        }
        if (n < cap)
            lat[n++] = now() - t0;
        ops += (unsigned long long)(o.batch > 1 ? o.batch : 1);
    }
    record(lat, n, ops);
    conn_close(&c);
    free(lat);
    free(req);
    free(body);
    free(b64);
    return NULL;
}

/* A time-stamp request for a random digest, as DER; NULL on failure. */
static int
tsa_request_der(unsigned char **der)
{
    uint8_t digest[32];
    TS_REQ *tr = TS_REQ_new();
    TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
    X509_ALGOR *alg = X509_ALGOR_new();
    int len = -1;

    *der = NULL;
    RAND_bytes(digest, sizeof(digest));
    if (tr != NULL && mi != NULL && alg != NULL &&
        X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) &&
        TS_MSG_IMPRINT_set_algo(mi, alg) &&
        TS_MSG_IMPRINT_set_msg(mi, digest, sizeof(digest)) &&
        TS_REQ_set_version(tr, 1) && TS_REQ_set_msg_imprint(tr, mi) &&
        TS_REQ_set_cert_req(tr, 1))
        len = i2d_TS_REQ(tr, der);
    TS_REQ_free(tr);
    TS_MSG_IMPRINT_free(mi);
    X509_ALGOR_free(alg);
    return len;
}

/* "POST path" with a DER body in buf; its length, or exits. */
static size_t
post_der(char *buf, size_t cap, const char *path, const char *type,
         const uint8_t *der, size_t len)
{
    int hl = snprintf(buf, cap,
                      "POST %s HTTP/1.1\r\nHost: %s:%d\r\n"
                      "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                      path, host, port, type, len);

    if (hl <= 0 || (size_t)hl + len > cap)
        exit(1);
    memcpy(buf + hl, der, len);
    return (size_t)hl + len;
}

/* Time-stamps (and OCSP with --ocsp-req, every other request) flat out;
 * 429 and 503 are refusals, counted apart. */
static void *
tsa_worker(void *arg)
{
    unsigned char *der = NULL;
    struct conn c = {.fd = -1};
    size_t n = 0, cap = 1 << 16, bo, tlen, olen = 0;
    double *lat = malloc(cap * sizeof(*lat)), t0;
    unsigned long long ops = 0, refused = 0, i;
    char treq[1024], oreq[4096];
    int len, status, ocsp;

    if (o.sources > 0)
        c.source = (int)((uintptr_t)arg - 1) % o.sources + 1;
    if ((len = tsa_request_der(&der)) <= 0)
        exit(1);
    tlen = post_der(treq, sizeof(treq), "/tsa", "application/timestamp-query",
                    der, (size_t)len);
    if (ocsp_der != NULL)
        olen = post_der(oreq, sizeof(oreq), "/ca/ocsp",
                        "application/ocsp-request", ocsp_der, ocsp_len);
    for (i = 0; lat != NULL && (t0 = now()) < deadline; i++) {
        ocsp = ocsp_der != NULL && (i & 1);
        status = request(&c, ocsp ? oreq : treq, ocsp ? olen : tlen, &bo);
        if (status == 429 || status == 503) {
            refused++;
            continue;
        }
        if (status != 200) {
            fprintf(stderr, "tsa: request failed (%d)\n", status);
            exit(1);
        }
        if (n < cap)
            lat[n++] = now() - t0;
        ops++;
    }
    record(lat, n, ops);
    record_refused(refused);
    conn_close(&c);
    free(lat);
    OPENSSL_free(der);
    return NULL;
}

/* Creates keys flat out (a tenant's RSA-4096 generations); the keys are
 * left to the bench's home, which is thrown away. */
static void *
keygen_worker(void *arg)
{
    struct conn c = {.fd = -1};
    size_t n = 0, cap = 1 << 12, bo;
    double *lat = malloc(cap * sizeof(*lat)), t0;
    unsigned long long ops = 0, refused = 0;
    char req[1024], body[128];
    int len, blen, status;

    (void)arg;
    blen =
        snprintf(body, sizeof(body), "{\"algorithm\":\"%s\",\"label\":\"g\"}",
                 sn_keyalg_name(o.alg));
    len = snprintf(req, sizeof(req),
                   "POST /v1/keys HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n"
                   "Content-Type: application/json\r\n"
                   "Content-Length: %d\r\n\r\n%s",
                   host, port, auth, blen, body);
    if (len <= 0 || (size_t)len >= sizeof(req))
        exit(1);
    while (lat != NULL && (t0 = now()) < deadline) {
        status = request(&c, req, (size_t)len, &bo);
        if (status == 429 || status == 503) {
            refused++;
            continue;
        }
        if (status != 201) {
            fprintf(stderr, "keygen: request failed (%d)\n", status);
            exit(1);
        }
        if (n < cap)
            lat[n++] = now() - t0;
        ops++;
    }
    record(lat, n, ops);
    record_refused(refused);
    conn_close(&c);
    free(lat);
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
    uint8_t *pin;
    size_t len;
    sn_err r;

    if (sn_hsm_open(o.module, &hsm) != SN_OK ||
        sn_file_read(o.pin_file, 256, &pin, &len) != SN_OK) {
        fprintf(stderr, "raw: cannot open the module or PIN\n");
        exit(1);
    }
    pin[strcspn((char *)pin, "\r\n")] = '\0';
    r = sn_hsm_token_open(hsm, o.token, (char *)pin, &tok);
    OPENSSL_cleanse(pin, len);
    free(pin);
    if (r != SN_OK) {
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
        else if (!strcmp(k, "--sources"))
            o.sources = (int)strtol(v, NULL, 10);
        else if (!strcmp(k, "--ocsp-req"))
            o.ocsp_file = v;
        else
            return 2;
    }
    if (o.threads < 1 || o.threads > 256 || o.batch < 1 || o.batch > 256 ||
        o.sources < 0 || o.sources > 254)
        return 2;
    if (o.ocsp_file != NULL &&
        (sn_file_read(o.ocsp_file, 2048, &ocsp_der, &ocsp_len) != SN_OK))
        return 1;
    samples = malloc(MAX_SAMPLES * sizeof(*samples));
    if (o.url != NULL) {
        parse_url(o.url);
        if ((ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
            (use_tls &&
             SSL_CTX_load_verify_locations(ssl_ctx, o.ca, NULL) != 1))
            return 1;
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
    }
    if (!strcmp(o.mode, "raw")) {
        if (o.keys_file != NULL)
            load_keys();
        setup_raw();
    } else if (!strcmp(o.mode, "http") || !strcmp(o.mode, "keygen")) {
        if (!strcmp(o.mode, "http"))
            load_keys();
        if (sn_file_read(o.token_file, 256, &t, &tl) != SN_OK)
            return 1;
        t[strcspn((char *)t, "\r\n")] = '\0';
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", (char *)t);
        OPENSSL_cleanse(t, tl);
        free(t);
    }
    t0 = now();
    deadline = t0 + o.seconds;
    for (i = 0; i < o.threads; i++)
        pthread_create(&th[i], NULL,
                       !strcmp(o.mode, "raw")      ? raw_worker
                       : !strcmp(o.mode, "http")   ? http_worker
                       : !strcmp(o.mode, "keygen") ? keygen_worker
                                                   : tsa_worker,
                       (void *)(uintptr_t)(i + 1));
    for (i = 0; i < o.threads; i++)
        pthread_join(th[i], NULL);
    el = now() - t0;
    getrusage(RUSAGE_SELF, &ru);
    qsort(samples, nsamples, sizeof(*samples), cmp);
    printf("ops=%llu ops_per_s=%.1f p50_ms=%.3f p99_ms=%.3f "
           "client_cpu=%.2f refused=%llu\n",
           total_ops, (double)total_ops / el,
           nsamples ? samples[nsamples / 2] * 1e3 : 0,
           nsamples ? samples[nsamples * 99 / 100] * 1e3 : 0,
           ((double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
            (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6) /
               el,
           total_refused);
    OPENSSL_cleanse(auth, sizeof(auth));
    sn_hsm_token_close(tok);
    sn_hsm_close(hsm);
    SSL_CTX_free(ssl_ctx);
    while (nkeys > 0)
        free(keys[--nkeys]);
    free(samples);
    free(ocsp_der);
    return 0;
}
