/*
 * server: the libmicrohttpd adapter and the two thread pools. Everything
 * that arrives from the network passes here first and is untrusted:
 * method, path, headers, query and body. Paths are matched by the router
 * (router.c); bodies are bounded by the configured limits before a byte is
 * buffered, and a streamed body is digested as it arrives (here); bearer
 * tokens are checked by the auth module (auth/auth.c) on the event
 * thread; the answers of requests that made records wait at the
 * gate (gate.c) until the records are durable.
 *
 * Threads: a few event threads (server.event_threads, one per CPU by
 * default) serve every connection: TLS, HTTP, routing, authentication and
 * bodies. A complete request is handed, its connection suspended, to one of
 * three pools with a queue each (pool.c; so no connection waits behind
 * another's):
 * - signers (hsm.parallelism, one per CPU by default: as many signatures
 *   as the HSM makes at once) run subscribers' signing requests; the
 *   records (audit) then go to the group commit and the signer takes the
 *   next request: no thread waits for a disk sync. The writer resumes the
 *   connection once the records are durable.
 * - anonymous (one per two CPUs, shared by both listeners, at a lower CPU
 *   priority) run time-stamp and OCSP requests, which anyone may send, so
 *   they never take a signer from a subscriber; its queue is bounded and a
 *   request that finds it full is answered 503 at once.
 * - keygen (one per two CPUs, at a lower CPU priority) generate keys, one
 *   subscriber's on at most one per four CPUs (at least one); the others
 *   wait their turn.
 * - workers (server.threads) run every other request; these may block
 *   (the CA, CRLs, audit listings).
 * Each pool serves its tenants (subscribers; addresses for anonymous
 * work) round-robin, and one subscriber holds at most hsm.parallelism of
 * the hsm.parallelism + 1 signers, so one tenant's flood delays another's
 * request by little more than one request.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/buf.h"
#include "common/log.h"
#include "auth/auth.h"
#include "http/anon.h"
#include "http/gate.h"
#include "http/handlers.h"
#include "http/pool.h"
#include "http/router.h"

static const char unmatched[] = "unmatched";

struct conn_ctx;

struct sn_http {
    struct MHD_Daemon *d;
    struct sn_app *app;
    int plain;    /* the public plain-HTTP listener: public routes only */
    int inflight; /* requests between first call and completion */
    struct sn_pool *signers, *workers, *keygen;
    int anon; /* holds a reference to the anonymous pool */
};

enum stage {
    STAGE_NEW,  /* headers and body being read */
    STAGE_WAIT, /* suspended: at a worker, or its records at the writer */
    STAGE_DONE  /* resumed: c->resp is the answer */
};

struct conn_ctx {
    struct MHD_Connection *conn;
    enum stage stage;
    struct sn_resp resp;
    sn_err audit_result;
    struct sn_pool_job job; /* while queued: owned by the pool */
    struct sn_http *h;
    const struct sn_route *route;
    const char *metric_route;
    struct sn_req req;
    struct sn_principal who;
    int failed;   /* 1: an error response is queued; 2: after the body */
    int overflow; /* the body ran over its limit */
    struct sn_resp early;
    struct sn_buf body; /* JSON and PEM bodies, bounded by limit */
    size_t limit;
    EVP_MD_CTX *md;
    uint64_t file_bytes, file_limit;
    uint8_t digest[EVP_MAX_MD_SIZE];
};

/* ---- api codes ---- */

int
sn_api_status(enum sn_api code)
{
    switch (code) {
#define SN_API_STATUS(c, s, n)                                                 \
    case c:                                                                    \
        return s;
        SN_API_CODES(SN_API_STATUS)
#undef SN_API_STATUS
    }
    return 500;
}

const char *
sn_api_name(enum sn_api code)
{
    switch (code) {
#define SN_API_NAME(c, s, n)                                                   \
    case c:                                                                    \
        return n;
        SN_API_CODES(SN_API_NAME)
#undef SN_API_NAME
    }
    return "internal";
}

void
sn_resp_error(struct sn_resp *resp, enum sn_api code, const char *fmt, ...)
{
    va_list ap;

    resp->code = code;
    va_start(ap, fmt);
    vsnprintf(resp->message, sizeof(resp->message), fmt, ap);
    va_end(ap);
    json_decref(resp->json);
    resp->json = NULL;
}

int
sn_resp_header(struct sn_resp *resp, const char *name, const char *fmt, ...)
{
    struct sn_resp_header *h;
    va_list ap;
    size_t i;
    int n;

    if (resp->nheaders >= SN_RESP_HEADERS)
        return 0;
    h = &resp->headers[resp->nheaders];
    va_start(ap, fmt);
    n = vsnprintf(h->value, sizeof(h->value), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(h->value))
        return 0;
    for (i = 0; i < (size_t)n; i++)
        if ((unsigned char)h->value[i] < 0x20 || h->value[i] == 0x7f)
            return 0;
    h->name = name;
    resp->nheaders++;
    return 1;
}

void
sn_resp_json(struct sn_resp *resp, enum sn_api code, json_t *body)
{
    json_decref(resp->json);
    resp->code = code;
    resp->json = body;
    if (body == NULL)
        sn_resp_error(resp, API_UNAVAILABLE, "out of memory");
}

const char *
sn_req_query(const struct sn_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- authentication ---- */

/* The caller of an authenticated route; on failure c->early is the answer. */
static void
authenticate(struct sn_app *app, struct MHD_Connection *conn,
             struct conn_ctx *c)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    enum sn_auth_fault f;

    f = sn_auth_bearer(app->store, h, c->req.client, &c->who);
    if (f == SN_AUTH_UNAVAILABLE)
        sn_resp_error(&c->early, API_UNAVAILABLE, "%s", sn_auth_fault_str(f));
    else if (f != SN_AUTH_OK)
        sn_resp_error(&c->early, API_UNAUTHORIZED, "%s", sn_auth_fault_str(f));
    else
        c->req.who = &c->who;
}

/* ---- responses ---- */

static enum MHD_Result
send_resp(struct MHD_Connection *conn, struct conn_ctx *c, struct sn_resp *resp)
{
    struct MHD_Response *mr;
    const char *type = "application/json";
    char *body = NULL;
    size_t len;
    enum MHD_Result ret;
    int status = sn_api_status(resp->code);
    int cached = 0;
    json_t *err;
    size_t i;

    if (resp->raw != NULL) {
        body = (char *)resp->raw;
        len = resp->raw_len;
        type = resp->raw_type;
        resp->raw = NULL;
    } else {
        if (resp->json == NULL || resp->code > API_CREATED) {
            err = json_pack("{s:s, s:s}", "error", sn_api_name(resp->code),
                            "message", resp->message);
            json_decref(resp->json);
            resp->json = err;
        }
        body = resp->json ? json_dumps(resp->json, JSON_COMPACT) : NULL;
        if (body == NULL) {
            status = 503;
            body = strdup("{\"error\":\"unavailable\",\"message\":\"out of "
                          "memory\"}");
        }
        len = body ? strlen(body) : 0;
    }
    mr = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (mr == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    for (i = 0; i < resp->nheaders; i++) {
        /* An error answer carries only its Retry-After. */
        if (resp->code > API_CREATED &&
            strcasecmp(resp->headers[i].name, MHD_HTTP_HEADER_RETRY_AFTER) != 0)
            continue;
        MHD_add_response_header(mr, resp->headers[i].name,
                                resp->headers[i].value);
        if (strcasecmp(resp->headers[i].name, MHD_HTTP_HEADER_CACHE_CONTROL) ==
            0)
            cached = 1;
    }
    if (!cached)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    ret = MHD_queue_response(conn, (unsigned)status, mr);
    MHD_destroy_response(mr);
    c->req.route = c->metric_route;
    if (c->failed == 0)
        c->failed = resp->code > API_CREATED ? 1 : 0;
    json_decref(resp->json);
    resp->json = NULL;
    /* status recorded at completion */
    c->early.code = resp->code;
    return ret;
}

static enum MHD_Result
send_metrics(struct sn_app *app, struct MHD_Connection *conn)
{
    struct MHD_Response *mr;
    enum MHD_Result ret;
    char *text;
    size_t len;

    if (sn_metrics_render(&app->metrics, &text, &len) != 0)
        return MHD_NO;
    mr = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (mr == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "text/plain; version=0.0.4");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, mr);
    MHD_destroy_response(mr);
    return ret;
}

/* ---- request lifecycle ---- */

static void
client_address(struct MHD_Connection *conn, char *buf, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    socklen_t slen;

    snprintf(buf, len, "unknown");
    if (ci == NULL || ci->client_addr == NULL)
        return;
    slen = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                  : sizeof(struct sockaddr_in);
    getnameinfo(ci->client_addr, slen, buf, (socklen_t)len, NULL, 0,
                NI_NUMERICHOST);
}

static int
content_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);

    return ct != NULL && strncasecmp(ct, want, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* Header phase: route, authenticate, check limits. 0 = go on. */
static int
begin(struct sn_http *h, struct MHD_Connection *conn, struct conn_ctx *c,
      const char *url, const char *method)
{
    struct sn_app *app = h->app;
    const char *cl = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = 0;
    int path_known;
    char *end;

    c->req.conn = conn;
    c->req.method = method;
    client_address(conn, c->req.client, sizeof(c->req.client));
    c->req.content_type = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    c->metric_route = unmatched;
    c->route = sn_router_find(h->plain, method, url, &c->req, &path_known);
    if (c->route == NULL) {
        if (path_known)
            sn_resp_error(&c->early, API_METHOD, "method %s not allowed here",
                          method);
        else
            sn_resp_error(&c->early, API_NOT_FOUND, "no such resource");
        return -1;
    }
    c->metric_route = c->route->name;
    c->req.route = c->route->name;
    c->limit = app->cfg.json_limit;
    sn_buf_init(&c->body, c->limit);
    c->file_limit = app->cfg.file_limit;
    if (cl != NULL) {
        declared = strtoull(cl, &end, 10);
        if (*end != '\0' ||
            (c->route->body == SN_BODY_STREAM ? declared > c->file_limit
                                              : declared > c->limit)) {
            sn_resp_error(&c->early, API_TOO_LARGE,
                          "request body larger than the limit of %llu bytes",
                          c->route->body == SN_BODY_STREAM
                              ? (unsigned long long)c->file_limit
                              : (unsigned long long)c->limit);
            return -1;
        }
    }
    if (c->route->auth == SN_ROUTE_AUTH) {
        authenticate(app, conn, c);
        if (c->req.who == NULL)
            return -1;
    }
    if (c->route->body == SN_BODY_JSON && cl != NULL && declared > 0 &&
        !content_type_is(c->req.content_type, "application/json")) {
        sn_resp_error(&c->early, API_MEDIA_TYPE,
                      "request body must be application/json");
        return -1;
    }
    if (c->route->body == SN_BODY_STREAM) {
        c->early.code = API_OK;
        c->route->precheck(app, &c->req, &c->early);
        if (c->early.code != API_OK)
            return -1;
        if ((c->md = EVP_MD_CTX_new()) == NULL ||
            EVP_DigestInit_ex(
                c->md, EVP_get_digestbynid(sn_digest_nid(c->req.file_md)),
                NULL) != 1) {
            sn_resp_error(&c->early, API_UNAVAILABLE, "digest unavailable");
            return -1;
        }
    }
    return 0;
}

/* Body phase: 0 = accepted, -1 = over the limit. */
static int
take_body(struct conn_ctx *c, const char *data, size_t len)
{
    if (c->route->body == SN_BODY_STREAM) {
        if (len > c->file_limit - c->file_bytes)
            return -1;
        c->file_bytes += len;
        return EVP_DigestUpdate(c->md, data, len) == 1 ? 0 : -1;
    }
    return sn_buf_append(&c->body, data, len) == SN_OK ? 0 : -1;
}

static void
run_handler(struct sn_app *app, struct conn_ctx *c, struct sn_resp *resp)
{
    json_error_t jerr;
    unsigned int dlen = 0;

    resp->code = API_OK;
    if (c->route->body == SN_BODY_JSON) {
        if (c->body.len == 0) {
            sn_resp_error(resp, API_INVALID_JSON, "a JSON object is required");
            return;
        }
        /* Also for bodies without a declared length (chunked). */
        if (!content_type_is(c->req.content_type, "application/json")) {
            sn_resp_error(resp, API_MEDIA_TYPE,
                          "request body must be application/json");
            return;
        }
        c->req.json = json_loadb((const char *)c->body.data, c->body.len,
                                 JSON_REJECT_DUPLICATES, &jerr);
        if (c->req.json == NULL || !json_is_object(c->req.json)) {
            sn_resp_error(
                resp, API_INVALID_JSON, "body is not a JSON object%s%s",
                c->req.json ? "" : ": ", c->req.json ? "" : jerr.text);
            return;
        }
    } else if (c->route->body == SN_BODY_STREAM) {
        if (EVP_DigestFinal_ex(c->md, c->digest, &dlen) != 1) {
            sn_resp_error(resp, API_UNAVAILABLE, "digest failed");
            return;
        }
        c->req.file_digest = c->digest;
        c->req.file_digest_len = dlen;
        c->req.file_bytes = c->file_bytes;
    }
    c->req.body = c->body.data;
    c->req.body_len = c->body.len;
    c->route->handler(app, &c->req, resp);
}

/* A declared body of 1..limit bytes, sent without waiting for 100. */
static int
small_body_pending(struct MHD_Connection *conn, size_t limit)
{
    const char *cl = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *ex = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_EXPECT);
    unsigned long long n;
    char *end;

    if (cl == NULL || ex != NULL)
        return 0;
    n = strtoull(cl, &end, 10);
    return *end == '\0' && n > 0 && n <= limit;
}

/* ---- requests off the event threads ---- */

/* The writer's call: the records of c are committed (or not). */
static void
audit_done(void *arg, sn_err result)
{
    struct conn_ctx *c = arg;

    c->audit_result = result;
    c->stage = STAGE_DONE;
    /* Last: once resumed, the event thread may finish and free c. */
    MHD_resume_connection(c->conn);
}

/* Runs one request on a signer: its records are announced before the
 * signature is made, so the group commit may wait for them. */
static void
run_signing(struct sn_http *h, struct conn_ctx *c)
{
    sn_gate_announce(h->app->store);
    run_handler(h->app, c, &c->resp);
    sn_gate_submit(h->app->store, &c->resp, audit_done, c);
}

/*
 * Anonymous work is one budget for the process, whichever listener it
 * came by: one pool and one set of limits, made by the first listener and
 * freed by the last.
 */
static struct {
    pthread_mutex_t lock;
    unsigned refs;
    struct sn_pool *pool;
    struct sn_anon *limits;
} anon = {PTHREAD_MUTEX_INITIALIZER, 0, NULL, NULL};

/*
 * An anonymous request, its token of the signature ceiling taken before it
 * was queued (on_request): the token is given back if the answer cost no
 * signature. Time-stamps leave their records to the group
 * commit; OCSP answers make none.
 */
static void
run_anon(struct sn_http *h, struct conn_ctx *c)
{
    time_t started = time(NULL);

    if (c->route->flags & SN_ROUTE_SIGN)
        sn_gate_announce(h->app->store);
    run_handler(h->app, c, &c->resp);
    /* Before the hand-off: once resumed, c may be freed. */
    sn_anon_settle(anon.limits, &c->resp, c->route->flags & SN_ROUTE_SIGN,
                   started);
    if (c->route->flags & SN_ROUTE_SIGN) {
        sn_gate_submit(h->app->store, &c->resp, audit_done, c);
        return;
    }
    c->audit_result = SN_OK;
    c->stage = STAGE_DONE;
    MHD_resume_connection(c->conn);
}

/* A pool's call (see the top): signing requests leave their records to the
 * group commit; the others commit theirs before the connection resumes. */
static void
run_job(void *ctx, struct sn_pool_job *job)
{
    struct conn_ctx *c =
        (struct conn_ctx *)((char *)job - offsetof(struct conn_ctx, job));
    struct sn_http *h = c->h;

    (void)ctx;
    if (c->route->flags & SN_ROUTE_ANON) {
        run_anon(h, c);
        return;
    }
    if (c->route->flags & SN_ROUTE_SIGN) {
        run_signing(h, c);
        return;
    }
    run_handler(h->app, c, &c->resp);
    c->audit_result = sn_gate_commit(h->app->store, &c->resp);
    c->stage = STAGE_DONE;
    MHD_resume_connection(c->conn);
}

/* A pool of n threads; per_lane: how many of them one tenant's jobs may
 * hold at once (0: all). */
static sn_err
pool_start(struct sn_http *h, const char *name, unsigned n, unsigned per_lane,
           int nice, struct sn_pool **out)
{
    struct sn_pool_params par;

    memset(&par, 0, sizeof(par));
    par.name = name;
    par.threads = n;
    par.heavy_max = n;
    par.heavy_per_lane = per_lane;
    par.nice = nice;
    par.run = run_job;
    par.ctx = h;
    return sn_pool_start(&par, out);
}

/* Requests waiting for an anonymous thread, per thread: past this, 503. */
#define ANON_QUEUE_PER_THREAD 32
/*
 * Anonymous threads yield the CPU to subscribers' (nice is per thread on
 * Linux). Not 19: a thread that is hardly ever scheduled while it holds a
 * lock inside the HSM library or OpenSSL stalls the subscribers' threads
 * that wait for it; 19 measured no better on a noisy 2-core VM.
 */
#define ANON_NICE 10

/* The configured value, or def for 0 (a configuration made in code). */
static double
or_default(unsigned configured, unsigned def)
{
    return configured != 0 ? configured : def;
}

static sn_err
anon_start(const struct sn_config *cfg, unsigned cpus)
{
    struct sn_pool_params par;
    sn_err r = SN_OK;

    pthread_mutex_lock(&anon.lock);
    if (anon.refs == 0 &&
        (r = sn_anon_new(
             or_default(cfg->anon_rate, 50), or_default(cfg->anon_burst, 100),
             or_default(cfg->anon_signatures, 200), &anon.limits)) == SN_OK) {
        memset(&par, 0, sizeof(par));
        par.name = "sn-anon";
        par.threads = cpus / 2 > 0 ? cpus / 2 : 1;
        par.max_queued = (size_t)par.threads * ANON_QUEUE_PER_THREAD;
        par.nice = ANON_NICE;
        par.run = run_job;
        if ((r = sn_pool_start(&par, &anon.pool)) != SN_OK) {
            sn_anon_free(anon.limits);
            anon.limits = NULL;
        }
    }
    if (r == SN_OK)
        anon.refs++;
    pthread_mutex_unlock(&anon.lock);
    return r;
}

static void
anon_stop(void)
{
    pthread_mutex_lock(&anon.lock);
    if (anon.refs > 0 && --anon.refs == 0) {
        sn_pool_stop(anon.pool);
        anon.pool = NULL;
        sn_anon_free(anon.limits);
        anon.limits = NULL;
    }
    pthread_mutex_unlock(&anon.lock);
}

/* Sends the answer of a resumed request: withheld if its records are not
 * committed. */
static enum MHD_Result
finish(struct MHD_Connection *conn, struct conn_ctx *c)
{
    sn_gate_settle(&c->resp, c->audit_result, c->metric_route);
    return send_resp(conn, c, &c->resp);
}

/* A queue is full: the suspended request is answered 503 at once, as a
 * pool thread would answer it. */
static void
busy(struct conn_ctx *c)
{
    sn_resp_error(&c->resp, API_UNAVAILABLE, "the server is busy");
    sn_resp_header(&c->resp, "Retry-After", "1");
    if (c->route->flags & SN_ROUTE_ANON)
        sn_anon_settle(anon.limits, &c->resp, 0, 0); /* no signature */
    c->audit_result = SN_OK;
    c->stage = STAGE_DONE;
    MHD_resume_connection(c->conn);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **con_cls)
{
    struct sn_http *h = cls;
    struct conn_ctx *c = *con_cls;
    struct sn_resp resp;
    unsigned retry;

    (void)version;
    if (c == NULL) {
        if ((c = calloc(1, sizeof(*c))) == NULL)
            return MHD_NO;
        *con_cls = c;
        c->h = h;
        __atomic_add_fetch(&h->inflight, 1, __ATOMIC_SEQ_CST);
        if (begin(h, conn, c, url, method) != 0) {
            /* A small body already on its way is read and dropped first:
             * closing on a client still sending makes it see a broken pipe
             * instead of the answer. Large bodies are refused at once (the
             * client sends them after "Expect: 100-continue"). */
            if (small_body_pending(conn, h->app->cfg.json_limit)) {
                c->failed = 2;
                return MHD_YES;
            }
            c->failed = 1;
            return send_resp(conn, c, &c->early);
        }
        if (c->route->handler == NULL)
            return send_metrics(h->app, conn);
        return MHD_YES;
    }
    if (c->failed) {
        /* Discard whatever body remains; a deferred error answers at the
         * end of the body. */
        if (*upload_data_size != 0) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (c->failed == 2) {
            c->failed = 1;
            return send_resp(conn, c, &c->early);
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        /* An undeclared length that runs over the limit: discard the rest
         * and answer 413 once the client has finished sending. */
        if (!c->overflow && take_body(c, upload_data, *upload_data_size)) {
            sn_warn("http: body over the limit on %s from %s", c->metric_route,
                    c->req.client);
            c->overflow = 1;
            sn_buf_cleanup(&c->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->stage == STAGE_DONE)
        return finish(conn, c);
    if (c->stage == STAGE_WAIT)
        return MHD_YES;
    memset(&resp, 0, sizeof(resp));
    if (c->overflow) {
        sn_resp_error(&resp, API_TOO_LARGE,
                      "request body larger than the limit of %llu bytes",
                      c->route->body == SN_BODY_STREAM
                          ? (unsigned long long)c->file_limit
                          : (unsigned long long)c->limit);
        return send_resp(conn, c, &resp);
    }
    if ((c->route->flags & SN_ROUTE_ANON) &&
        !sn_anon_admit(anon.limits, c->req.client, &retry)) {
        sn_resp_error(&resp, API_TOO_MANY,
                      "too many requests from this address; retry later");
        sn_resp_header(&resp, MHD_HTTP_HEADER_RETRY_AFTER, "%u", retry);
        return send_resp(conn, c, &resp);
    }
    /* The ceiling before the queue: a refusal costs no thread hand-off. */
    if ((c->route->flags & SN_ROUTE_ANON) &&
        !sn_anon_sign_take(anon.limits, &retry)) {
        sn_resp_error(&resp, API_UNAVAILABLE,
                      "too many anonymous requests; retry later");
        sn_resp_header(&resp, MHD_HTTP_HEADER_RETRY_AFTER, "%u", retry);
        return send_resp(conn, c, &resp);
    }
    c->conn = conn;
    c->stage = STAGE_WAIT;
    MHD_suspend_connection(conn);
    /* Fair shares: a subscriber's requests queue in its own lane, an
     * anonymous client's in its address's (see pool.h). */
    if (sn_pool_submit(c->route->flags & SN_ROUTE_ANON    ? anon.pool
                       : c->route->flags & SN_ROUTE_SIGN  ? h->signers
                       : c->route->flags & SN_ROUTE_HEAVY ? h->keygen
                                                          : h->workers,
                       &c->job,
                       c->req.who != NULL ? c->who.subscriber : c->req.client,
                       !(c->route->flags & SN_ROUTE_ANON)) != SN_OK)
        busy(c);
    return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct sn_http *h = cls;
    struct conn_ctx *c = *con_cls;

    (void)conn;
    (void)toe;
    if (c == NULL)
        return;
    sn_metrics_request(&h->app->metrics, c->metric_route,
                       c->route && c->route->handler == NULL
                           ? 200
                           : sn_api_status(c->early.code));
    json_decref(c->req.json);
    json_decref(c->early.json);
    free(c->early.raw);
    json_decref(c->resp.json);
    free(c->resp.raw);
    free(c->resp.audit);
    free(c->resp.tsa);
    sn_buf_cleanup(&c->body);
    EVP_MD_CTX_free(c->md);
    OPENSSL_cleanse(&c->who, sizeof(c->who));
    free(c);
    *con_cls = NULL;
    __atomic_sub_fetch(&h->inflight, 1, __ATOMIC_SEQ_CST);
}

/* ---- daemon ---- */

/*
 * Percent-escapes are left as they are. No Signet path or query value
 * needs one, and decoding them would let "%00" cut a path short before
 * routing ("/v1/keys/ID%00/certificate" would become "/v1/keys/ID").
 * A literal '%' then fails the parameter alphabet and the request is 404.
 */
static size_t
no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

static sn_err
parse_listen(const char *listen, struct sockaddr_storage *ss)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    unsigned long port;
    size_t hl;
    char *end;

    memset(ss, 0, sizeof(*ss));
    if (colon == NULL || (hl = (size_t)(colon - listen)) == 0 ||
        hl >= sizeof(host))
        return SN_ERR_CONFIG;
    port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port == 0 || port > 65535)
        return SN_ERR_CONFIG;
    memcpy(host, listen, hl);
    host[hl] = '\0';
    if (host[0] == '[' && host[hl - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        host[hl - 1] = '\0';
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
            return SN_ERR_CONFIG;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            return SN_ERR_CONFIG;
    }
    return SN_OK;
}

/* Stops the pools and frees h. */
static void
http_free(struct sn_http *h)
{
    if (h == NULL)
        return;
    sn_pool_stop(h->signers);
    sn_pool_stop(h->workers);
    sn_pool_stop(h->keygen);
    if (h->anon)
        anon_stop();
    free(h);
}

/* The configured count, or one per CPU for 0. */
static unsigned
per_cpu(unsigned configured)
{
    long n;

    if (configured != 0)
        return configured;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 256 ? (unsigned)n : 2;
}

/* Key generation takes a CPU for seconds on a software HSM: it runs on
 * its own threads (see the top) at this lower CPU priority. */
#define KEYGEN_NICE 10

/*
 * The signers: hsm.parallelism threads for one subscriber at most, and
 * one more, so that another subscriber's request starts at once rather
 * than after a signature of the first.
 */
static sn_err
pools_start(struct sn_http *h, const struct sn_config *cfg)
{
    unsigned cpus = per_cpu(0), sign = per_cpu(cfg->hsm_parallelism);
    unsigned gen = cpus / 2 > 0 ? cpus / 2 : 1;
    sn_err r;

    if ((r = pool_start(h, "sn-signer", sign + 1, sign, 0, &h->signers)) !=
            SN_OK ||
        (r = pool_start(h, "sn-worker", cfg->threads, 0, 0, &h->workers)) !=
            SN_OK ||
        (r = pool_start(h, "sn-keygen", gen, cpus / 4 > 0 ? cpus / 4 : 1,
                        KEYGEN_NICE, &h->keygen)) != SN_OK ||
        (r = anon_start(cfg, cpus)) != SN_OK)
        return r;
    h->anon = 1;
    return SN_OK;
}

sn_err
sn_http_start(struct sn_app *app, const char *listen, int plain,
              struct sn_http **out)
{
    struct sockaddr_storage ss;
    struct sn_http *h = NULL;
    uint8_t *key = NULL, *cert = NULL;
    size_t keylen = 0, certlen = 0;
    unsigned int flags, events;
    sn_err r;

    *out = NULL;
    if ((r = parse_listen(listen, &ss)) != SN_OK) {
        sn_error("http: bad listen address %s", listen);
        return r;
    }
    if (!plain &&
        ((r = sn_file_read(app->cfg.tls_key, 1 << 20, &key, &keylen)) !=
             SN_OK ||
         (r = sn_file_read(app->cfg.tls_cert, 1 << 20, &cert, &certlen)) !=
             SN_OK)) {
        sn_error("http: cannot read TLS key or certificate");
        goto out;
    }
    if ((h = calloc(1, sizeof(*h))) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    h->app = app;
    h->plain = plain;
    if ((r = pools_start(h, &app->cfg)) != SN_OK)
        goto out;
    events = per_cpu(app->cfg.event_threads);
    /* Event threads never wait for a disk or the HSM: see the top. */
    flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
            MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    if (plain)
        h->d = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &ss,
            MHD_OPTION_THREAD_POOL_SIZE, events, MHD_OPTION_NOTIFY_COMPLETED,
            on_completed, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024,
            MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_END);
    else
        h->d = MHD_start_daemon(
            flags | MHD_USE_TLS, 0, NULL, NULL, on_request, h,
            MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_THREAD_POOL_SIZE, events,
            MHD_OPTION_HTTPS_MEM_KEY, (const char *)key,
            MHD_OPTION_HTTPS_MEM_CERT, (const char *)cert,
            MHD_OPTION_HTTPS_PRIORITIES,
            "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024,
            MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_END);
    if (h->d == NULL) {
        sn_error("http: cannot listen on %s", listen);
        r = SN_ERR_IO;
        goto out;
    }
    *out = h;
    h = NULL;
    r = SN_OK;
out:
    if (key != NULL) {
        OPENSSL_cleanse(key, keylen);
        free(key);
    }
    free(cert);
    http_free(h);
    return r;
}

int
sn_http_stop(struct sn_http *h)
{
    MHD_socket ls;
    int i, left;

    if (h == NULL)
        return 0;
    /* Close the listening socket at once: new connections are refused
     * rather than left waiting for a server that is going away. */
    if ((ls = MHD_quiesce_daemon(h->d)) != MHD_INVALID_SOCKET)
        close(ls);
    /* Let in-flight requests finish, for at most 30 seconds; idle
     * keep-alive connections are simply closed. */
    for (i = 0; i < 300; i++) {
        if (__atomic_load_n(&h->inflight, __ATOMIC_SEQ_CST) == 0)
            break;
        usleep(100 * 1000);
    }
    if ((left = __atomic_load_n(&h->inflight, __ATOMIC_SEQ_CST)) != 0) {
        sn_error("http: %d request(s) still in flight after 30 s", left);
        return 1;
    }
    MHD_stop_daemon(h->d);
    http_free(h);
    return 0;
}
