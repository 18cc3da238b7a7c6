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
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/util.h"
#include "auth/auth.h"
#include "crypto/peercert.h"
#include "http/anon.h"
#include "http/gate.h"
#include "http/handlers.h"
#include "http/headlines.h"
#include "http/peerlog.h"
#include "http/pool.h"
#include "http/proxyaccept.h"
#include "http/router.h"
#include "policy/policy.h"

static const char unmatched[] = "unmatched";

struct conn_ctx;
struct track;

struct sn_http {
    struct MHD_Daemon *d;
    const struct sn_deps *deps;
    struct sn_http_opts opts;
    int plain;    /* the public plain-HTTP listener: public routes only */
    int inflight; /* requests between first call and completion */
    struct sn_pool *signers, *workers, *keygen;
    int anon; /* holds a reference to the anonymous pool */
    /* Connection deadlines (see "connection deadlines" below). */
    pthread_mutex_t track_lock;
    pthread_cond_t sweep_cond;
    struct track *tracks; /* every open connection */
    pthread_t sweeper;
    int sweeper_on, sweep_stop;
    /* The HTTP library's messages, rate-limited (see mhd_log). */
    pthread_mutex_t log_lock;
    time_t log_window;
    unsigned log_count, log_dropped;
    /* Failed TLS handshakes (see "failed TLS handshakes"). */
    struct sn_peerlog tls_log;
    int tls_watched; /* a handshake has been watched (atomic) */
    /* proxy.protocol = v2: the acceptor that reads each connection's
     * PROXY header and hands it to MHD (NULL: MHD accepts) */
    struct sn_proxy_accept *proxy;
    /* MHD is the version whose read buffer headlines.c reads */
    int check_lines;
    /* Refusals of anonymous work waiting to be sent, oldest first (under
     * track_lock; see "held refusals"). */
    struct conn_ctx *held_head, *held_tail;
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
    int keygen;   /* a key generation admitted (sn_keygen_admit) */
    int overflow; /* the body ran over its limit */
    /* anonymous work: a route of anonymous work (SN_ROUTE_ANON), or an
     * optional-auth route's caller without a credential (issue 18) */
    int anon;
    int close; /* answer with "Connection: close" and close */
    struct sn_resp early;
    struct sn_buf body; /* JSON and PEM bodies, bounded by limit */
    size_t limit;
    EVP_MD_CTX *md;
    uint64_t file_bytes, file_limit;
    uint8_t digest[EVP_MAX_MD_SIZE];
    struct track *track; /* the connection's deadline (NULL: none) */
    int64_t body_start;  /* ms: when the headers were complete */
    /* a refusal of anonymous work held back (see "held refusals") */
    struct conn_ctx *held_next;
    int64_t held_until; /* ms */
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

int
sn_api_failed(enum sn_api code)
{
    return sn_api_status(code) >= 300;
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

/*
 * The certificate chain the TLS client presented (DER, leaf first; the
 * handshake proved possession of the leaf's key, nothing more): how many,
 * at most max (one more than the longest chain accepted, so that a longer
 * one is refused rather than cut). 0 on the plain listener or without one.
 */
static size_t
peer_chain(struct MHD_Connection *conn, const uint8_t **der, size_t *len,
           size_t max)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    const gnutls_datum_t *l;
    unsigned int n = 0, i;

    if (ci == NULL || ci->tls_session == NULL ||
        gnutls_certificate_type_get(ci->tls_session) != GNUTLS_CRT_X509 ||
        (l = gnutls_certificate_get_peers(ci->tls_session, &n)) == NULL)
        return 0;
    for (i = 0; i < n && i < max; i++) {
        der[i] = l[i].data;
        len[i] = l[i].size;
    }
    return i;
}

/*
 * The caller of an authenticated route; on failure c->early is the answer.
 * Without a client certificate, the bearer token. With one, the
 * certificate authenticates (its registration is the principal); a token
 * sent as well must be valid and its subscriber's registrations are the
 * only ones considered (docs/api.md, "Client certificates").
 */
static void
authenticate(const struct sn_deps *deps, struct MHD_Connection *conn,
             struct conn_ctx *c)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    const uint8_t *der[SN_PEERCERT_MAX_CHAIN + 1];
    size_t len[SN_PEERCERT_MAX_CHAIN + 1], n;
    struct sn_principal tok;
    enum sn_auth_fault f;

    n = peer_chain(conn, der, len, SN_PEERCERT_MAX_CHAIN + 1);
    f = sn_auth_bearer(deps->store, h, c->req.client, &tok);
    if (f == SN_AUTH_OK || (f == SN_AUTH_MISSING && n > 0)) {
        if (n == 0)
            c->who = tok;
        else
            f = sn_auth_mtls(deps->store, der, len, n,
                             f == SN_AUTH_OK ? tok.subscriber : NULL,
                             c->req.client, &c->who);
    }
    memset(&tok, 0, sizeof(tok));
    if (f == SN_AUTH_UNAVAILABLE)
        sn_resp_error(&c->early, API_UNAVAILABLE, "%s", sn_auth_fault_str(f));
    else if (f != SN_AUTH_OK)
        sn_resp_error(&c->early, API_UNAUTHORIZED, "%s", sn_auth_fault_str(f));
    else {
        /* A home that keeps auth.operator_mfa off (as older homes do):
         * operators act without a second factor, as before issue 17. */
        c->who.mfa_exempt = !deps->people.operator_mfa;
        c->req.who = &c->who;
    }
}

/* ---- connection deadlines ----
 *
 * MHD's own timeout starts again with every byte, so a client sending a
 * byte every few seconds holds a connection for ever. Each connection
 * gets a deadline instead, which bytes do not move: the TLS handshake and
 * the headers (limits.header_timeout from connect, or limits.idle_timeout
 * from the previous answer), then the body (limits.body_timeout in all,
 * or for sign-file an average of limits.stream_min_rate after
 * limits.stream_grace), then the taking of the answer (body_timeout). A
 * request at a pool has none. One sweeper thread per listener looks every
 * quarter second and shuts down the socket of a connection past its
 * deadline; MHD then sees the connection fail and closes it as any other.
 * The socket is valid while the track is listed: MHD reports a connection
 * closed (on_notify, which unlists it under the lock) before it closes
 * the descriptor.
 */

#define SWEEP_MS 250
#define LOG_WINDOW 10 /* seconds; see mhd_log */
#define LOG_BURST 10

enum phase { PH_NONE, PH_HEADERS, PH_IDLE, PH_BODY, PH_STREAM, PH_ANSWER };

static const char *const phase_names[] = {
    "none", "headers", "next request", "body", "sign-file body", "answer"};

struct track {
    struct track *prev, *next;
    MHD_socket fd;
    int64_t deadline; /* ms, CLOCK_MONOTONIC; 0: none (atomic) */
    int phase;        /* enum phase: what the deadline is for (atomic) */
    int shut;         /* the sweeper has shut the socket down */
    unsigned hs;      /* HS_*: the TLS handshake so far (hs_hook) */
    /* the client's address as MHD has it (a PROXY header's, if any) */
    struct sockaddr_storage peer;
    socklen_t peerlen;
};

/* Sets the deadline of t (NULL: an untracked connection) to at (ms). */
static void
track_set(struct track *t, enum phase ph, int64_t at)
{
    if (t == NULL)
        return;
    __atomic_store_n(&t->phase, (int)ph, __ATOMIC_RELAXED);
    __atomic_store_n(&t->deadline, at, __ATOMIC_RELEASE);
}

static struct track *
track_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

/* ---- failed TLS handshakes ----
 * A client that does not trust the server's certificate gives up in the
 * handshake; MHD then logs a line that names no client and calls nothing
 * of ours but the connection's end (on_notify). So each connection of the
 * TLS listener has its handshake followed: gnutls calls hs_hook on every
 * handshake message received, which notes the client's hello and its
 * Finished (sent only once it has accepted the certificate). A connection
 * that ends with a hello and no Finished, or with neither (plain HTTP to
 * the HTTPS port, a port probe), failed its handshake unless the sweeper
 * cut it for being late (it has its own line). Each failure is counted in
 * /metrics; the log gets one line per client address a minute (peerlog.h),
 * the failures in between summed up when the minute ends.
 */

#define TLS_LOG_WINDOW 60 /* seconds */

enum { HS_WATCHED = 1, HS_HELLO = 2, HS_FINISHED = 4 };

static void client_address(struct MHD_Connection *conn, char *buf, size_t len);

static int
hs_hook(gnutls_session_t s, unsigned int type, unsigned when,
        unsigned int incoming, const gnutls_datum_t *msg)
{
    struct track *t;

    (void)when;
    (void)msg;
    /* The session's pointer is MHD's connection (watch_handshake). */
    if (!incoming || (t = track_of(gnutls_session_get_ptr(s))) == NULL)
        return 0;
    if (type == GNUTLS_HANDSHAKE_CLIENT_HELLO)
        t->hs |= HS_HELLO;
    else if (type == GNUTLS_HANDSHAKE_FINISHED)
        t->hs |= HS_FINISHED;
    return 0;
}

/* Follows the handshake of a new TLS connection (and asks the client for
 * a certificate). MHD sets the session's
 * pointer to its connection (its PSK callback relies on it); checked, so
 * that a libmicrohttpd that did otherwise leaves the handshakes unwatched
 * (and MHD's own line in the log) instead of misread. MHD runs a
 * connection on one thread: the hook, STARTED and CLOSED never race. */
static void
watch_handshake(struct sn_http *h, struct MHD_Connection *conn, struct track *t)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t s;

    if (ci == NULL || (s = ci->tls_session) == NULL)
        return;
    /* Every client is asked for a certificate and none is required: the
     * CertificateRequest names no CA and nothing is verified in the
     * handshake but the client's proof of its key; each request's chain
     * is checked against the registrations (authenticate, sn_auth_mtls). */
    gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
    if (gnutls_session_get_ptr(s) != (void *)conn)
        return;
    gnutls_handshake_set_hook_function(s, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_PRE,
                                       hs_hook);
    t->hs = HS_WATCHED;
    __atomic_store_n(&h->tls_watched, 1, __ATOMIC_RELAXED);
}

/* The end of a watched TLS connection: a failed handshake is counted, and
 * logged if it is its client's first of the minute. */
static void
handshake_end(struct sn_http *h, struct MHD_Connection *conn, unsigned hs,
              int shut)
{
    char addr[SN_PEERLOG_ADDR];

    if (!(hs & HS_WATCHED) || (hs & HS_FINISHED) || shut)
        return;
    sn_metrics_tls_failure(h->deps->metrics);
    client_address(conn, addr, sizeof(addr));
    if (!sn_peerlog_event(&h->tls_log, addr, time(NULL)))
        return;
    sn_log_set_client(addr);
    if (hs & HS_HELLO)
        sn_warn("http (api): TLS handshake failed: the client may not trust "
                "the server's certificate (its root: tls/ca.pem in the home) "
                "or share no TLS version or cipher with it; this client's "
                "next failures are counted, one line a minute");
    else
        sn_warn("http (api): TLS handshake failed: no TLS hello (plain "
                "HTTP to the HTTPS port, or a port probe); this client's "
                "next failures are counted, one line a minute");
    sn_log_set_client(NULL);
}

/* Logs the failures held in the minutes that have ended. */
static void
handshake_flush(struct sn_http *h, time_t now)
{
    struct sn_peerlog_report rep[SN_PEERLOG_SLOTS + 1];
    size_t i, n;

    n = sn_peerlog_expire(&h->tls_log, now, rep, SN_PEERLOG_SLOTS + 1);
    for (i = 0; i < n; i++) {
        if (rep[i].addr[0] == '\0') {
            sn_warn("http (api): %u failed TLS handshake(s) in the last "
                    "minute from clients past the %d named ones",
                    rep[i].n, SN_PEERLOG_SLOTS);
            continue;
        }
        sn_log_set_client(rep[i].addr);
        sn_warn("http (api): %u more failed TLS handshake(s) from this "
                "client in the last minute",
                rep[i].n);
        sn_log_set_client(NULL);
    }
}

/* MHD's connection start and end: the track is made and listed, or
 * unlisted and freed. */
static void
on_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
          enum MHD_ConnectionNotificationCode toe)
{
    struct sn_http *h = cls;
    const union MHD_ConnectionInfo *ci;
    struct track *t = *socket_context;
    int shut;

    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        if (t == NULL)
            return;
        pthread_mutex_lock(&h->track_lock);
        if (t->prev != NULL)
            t->prev->next = t->next;
        else
            h->tracks = t->next;
        if (t->next != NULL)
            t->next->prev = t->prev;
        shut = t->shut;
        pthread_mutex_unlock(&h->track_lock);
        handshake_end(h, conn, t->hs, shut);
        free(t);
        *socket_context = NULL;
        return;
    }
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci == NULL)
        return;
    if ((t = calloc(1, sizeof(*t))) == NULL) {
        /* No deadline could be kept: refuse the connection. */
        shutdown(ci->connect_fd, SHUT_RDWR);
        return;
    }
    t->fd = ci->connect_fd;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != NULL && ci->client_addr != NULL &&
        (ci->client_addr->sa_family == AF_INET ||
         ci->client_addr->sa_family == AF_INET6)) {
        t->peerlen = ci->client_addr->sa_family == AF_INET6
                         ? sizeof(struct sockaddr_in6)
                         : sizeof(struct sockaddr_in);
        memcpy(&t->peer, ci->client_addr, t->peerlen);
    }
    t->phase = PH_HEADERS;
    t->deadline = sn_mono_ms() + (int64_t)h->opts.header_timeout * 1000;
    pthread_mutex_lock(&h->track_lock);
    t->next = h->tracks;
    if (h->tracks != NULL)
        h->tracks->prev = t;
    h->tracks = t;
    pthread_mutex_unlock(&h->track_lock);
    *socket_context = t;
    if (!h->plain)
        watch_handshake(h, conn, t);
}

/* Shuts down the connections past their deadline; the caller holds the
 * lock. Returns how many; the first one's address and phase in addr and
 * *ph for the log. */
static unsigned
sweep(struct sn_http *h, int64_t now, char *addr, size_t len, int *ph)
{
    struct track *t;
    int64_t dl;
    unsigned n = 0;

    for (t = h->tracks; t != NULL; t = t->next) {
        dl = __atomic_load_n(&t->deadline, __ATOMIC_ACQUIRE);
        if (t->shut || dl == 0 || now < dl)
            continue;
        if (n++ == 0) {
            *ph = __atomic_load_n(&t->phase, __ATOMIC_RELAXED);
            if (t->peerlen == 0 ||
                getnameinfo((struct sockaddr *)&t->peer, t->peerlen, addr,
                            (socklen_t)len, NULL, 0, NI_NUMERICHOST) != 0)
                snprintf(addr, len, "unknown");
        }
        shutdown(t->fd, SHUT_RDWR);
        t->shut = 1;
    }
    return n;
}

/* ---- held refusals ----
 * A time-stamp or OCSP client over its address's rate or the anonymous
 * ceiling is answered 429 or 503 with Retry-After; a flood that ignores
 * Retry-After and asks again at once would make the server refuse tens of
 * thousands of requests a second, at the subscribers' priority. So such a
 * refusal is held back HOLD_MS (the connection suspended: no CPU) before
 * it is sent: one connection gets at most about one refusal a second, and
 * one address at most limits.connections_per_address of them. The
 * sweeper sends them. */
#define HOLD_MS 1000

static void
hold_refusal(struct sn_http *h, struct MHD_Connection *conn, struct conn_ctx *c)
{
    c->conn = conn;
    c->audit_result = SN_OK; /* no record: nothing was signed */
    c->stage = STAGE_WAIT;
    c->held_next = NULL;
    track_set(c->track, PH_NONE, 0);
    MHD_suspend_connection(conn);
    pthread_mutex_lock(&h->track_lock);
    c->held_until = sn_mono_ms() + HOLD_MS; /* the list stays in order */
    if (h->held_tail != NULL)
        h->held_tail->held_next = c;
    else
        h->held_head = c;
    h->held_tail = c;
    pthread_mutex_unlock(&h->track_lock);
}

/* Takes the held refusals due by now off the list; the caller holds the
 * lock and resumes them after releasing it (MHD's locks come first). */
static struct conn_ctx *
held_due(struct sn_http *h, int64_t now)
{
    struct conn_ctx *due = h->held_head, *last = NULL, *c;

    for (c = h->held_head; c != NULL && c->held_until <= now; c = c->held_next)
        last = c;
    if (last == NULL)
        return NULL;
    h->held_head = last->held_next;
    if (h->held_head == NULL)
        h->held_tail = NULL;
    last->held_next = NULL;
    return due;
}

static void
held_send(struct conn_ctx *c)
{
    struct conn_ctx *next;

    for (; c != NULL; c = next) {
        next = c->held_next;
        c->held_next = NULL;
        c->stage = STAGE_DONE;
        MHD_resume_connection(c->conn);
    }
}

static void log_flush(struct sn_http *h, time_t now);

static void *
sweeper_main(void *arg)
{
    struct sn_http *h = arg;
    struct timespec ts;
    char addr[NI_MAXHOST] = "";
    unsigned n, closed = 0;
    int ph = PH_NONE;
    time_t said = time(NULL);
    struct conn_ctx *due;

    prctl(PR_SET_NAME, "sn-deadlines", 0, 0, 0);
    pthread_mutex_lock(&h->track_lock);
    while (!h->sweep_stop) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += SWEEP_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&h->sweep_cond, &h->track_lock, &ts);
        if (h->sweep_stop)
            break;
        n = sweep(h, sn_mono_ms(), addr, sizeof(addr), &ph);
        due = held_due(h, sn_mono_ms());
        pthread_mutex_unlock(&h->track_lock);
        held_send(due);
        /* A line per LOG_WINDOW, not per connection: a flood of slow
         * clients must not become a flood of log lines. */
        closed += n;
        if (closed > 0 && time(NULL) - said >= LOG_WINDOW) {
            sn_warn("http (%s): closed %u connection(s) past their deadline "
                    "in %ld s (the last from %s, late with the %s)",
                    h->plain ? "public" : "api", closed,
                    (long)(time(NULL) - said), addr, phase_names[ph]);
            closed = 0;
            said = time(NULL);
        } else if (closed == 0)
            said = time(NULL);
        log_flush(h, time(NULL));
        handshake_flush(h, time(NULL));
        pthread_mutex_lock(&h->track_lock);
    }
    pthread_mutex_unlock(&h->track_lock);
    return NULL;
}

static void
sweeper_stop(struct sn_http *h)
{
    if (!h->sweeper_on)
        return;
    pthread_mutex_lock(&h->track_lock);
    h->sweep_stop = 1;
    pthread_cond_signal(&h->sweep_cond);
    pthread_mutex_unlock(&h->track_lock);
    pthread_join(h->sweeper, NULL);
    h->sweeper_on = 0;
}

/* ---- the HTTP library's messages ----
 * MHD reports every failed TLS handshake and refused connection; a flood
 * of them must not flood the log. At most LOG_BURST (10) lines per
 * LOG_WINDOW (10) seconds and listener, then one line saying how many were
 * left out. MHD does not say which connection a message is about; its
 * line for a failed TLS handshake is left out once the handshakes are
 * watched (see "failed TLS handshakes": a line with the client's address).
 */

/* Reports the messages left out in a window that has ended. */
static void
log_flush(struct sn_http *h, time_t now)
{
    unsigned dropped = 0;

    pthread_mutex_lock(&h->log_lock);
    if (now - h->log_window >= LOG_WINDOW) {
        dropped = h->log_dropped;
        h->log_window = now;
        h->log_count = 0;
        h->log_dropped = 0;
    }
    pthread_mutex_unlock(&h->log_lock);
    if (dropped != 0)
        sn_warn("http (%s): %u more message(s) of the HTTP library left out",
                h->plain ? "public" : "api", dropped);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
    static const char hs_failed[] = "Error: received handshake message";
    struct sn_http *h = cls;
    char msg[256];
    size_t i;
    int show;

    if (__atomic_load_n(&h->tls_watched, __ATOMIC_RELAXED) &&
        strncmp(fmt, hs_failed, sizeof(hs_failed) - 1) == 0)
        return;
    log_flush(h, time(NULL));
    pthread_mutex_lock(&h->log_lock);
    if ((show = h->log_count < LOG_BURST) != 0)
        h->log_count++;
    else
        h->log_dropped++;
    pthread_mutex_unlock(&h->log_lock);
    if (!show)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* One line: MHD's messages end in a newline and may quote a client. */
    for (i = 0; msg[i] != '\0'; i++)
        if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
            msg[i] = msg[i + 1] == '\0' ? '\0' : '?';
    sn_warn("http (%s): %s", h->plain ? "public" : "api", msg);
}

/* MHD's fatal errors (an inconsistency of its own) end the process; the
 * last words go to the log in its format, not bare on stderr. */
static void
mhd_panic(void *cls, const char *file, unsigned int line, const char *reason)
{
    (void)cls;
    sn_error("http: fatal error in libmicrohttpd (%s:%u): %s",
             file != NULL ? file : "?", line, reason != NULL ? reason : "?");
    abort();
}

/* ---- responses ---- */

/* MHD's free of an answer that held a secret (struct sn_resp). */
static void
wipe_free(void *p)
{
    OPENSSL_cleanse(p, strlen(p));
    free(p);
}

/* Wipes every string of a parsed body in place (its secrets), before
 * jansson frees it. */
static void
wipe_json(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_string(j))
        /* jansson's own heap copy: writing it is harmless */
        OPENSSL_cleanse((void *)(uintptr_t)json_string_value(j),
                        json_string_length(j));
    else if (json_is_object(j)) {
        json_object_foreach(j, k, v) wipe_json(v);
    } else if (json_is_array(j))
        json_array_foreach(j, i, v) wipe_json(v);
}

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
        if (resp->json == NULL || sn_api_failed(resp->code)) {
            err = json_pack("{s:s, s:s}", "error", sn_api_name(resp->code),
                            "message", resp->message);
            if (err != NULL && resp->reason[0] != '\0')
                json_object_set_new(err, "reason", json_string(resp->reason));
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
    mr =
        resp->secret && body != NULL
            ? MHD_create_response_from_buffer_with_free_callback(len, body,
                                                                 wipe_free)
            : MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (mr == NULL) {
        if (body != NULL)
            OPENSSL_cleanse(body, len);
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    for (i = 0; i < resp->nheaders; i++) {
        /* An error answer carries only its Retry-After. */
        if (sn_api_failed(resp->code) &&
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
    if (c->close)
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");
    ret = MHD_queue_response(conn, (unsigned)status, mr);
    MHD_destroy_response(mr);
    c->req.route = c->metric_route;
    if (c->failed == 0)
        c->failed = sn_api_failed(resp->code) ? 1 : 0;
    json_decref(resp->json);
    resp->json = NULL;
    /* status recorded at completion */
    c->early.code = resp->code;
    return ret;
}

static enum MHD_Result
send_metrics(const struct sn_deps *deps, struct MHD_Connection *conn)
{
    struct MHD_Response *mr;
    enum MHD_Result ret;
    char *text;
    size_t len;

    if (sn_metrics_render(deps->metrics, &text, &len) != 0)
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

/* /metrics tells volumes across tenants: the operator's credential only. */
static enum MHD_Result
metrics(const struct sn_deps *deps, struct MHD_Connection *conn,
        struct conn_ctx *c)
{
    struct sn_decision d;

    if (sn_policy_decide(c->req.who, SN_ACT_METRICS_READ, NULL, &d) !=
        SN_POLICY_ALLOW) {
        sn_resp_error(&c->early, API_FORBIDDEN, "%s", d.message);
        c->failed = 1;
        return send_resp(conn, c, &c->early);
    }
    return send_metrics(deps, conn);
}

/* ---- request lifecycle ---- */

/*
 * Strict HTTP/1.1 framing (RFC 9112 6.1, 6.3): a proxy in front and this
 * server must agree on where a request ends, or a second request can be
 * smuggled inside the first one's body. MHD takes a chunked body over a
 * Content-Length, the first of two Content-Lengths, and reads an unknown
 * Transfer-Encoding until the connection closes; so a request with
 * Transfer-Encoding and Content-Length, more than one Content-Length or
 * Transfer-Encoding, or a Transfer-Encoding other than "chunked" is
 * refused, before its body, and the connection is closed. (A missing Host
 * is refused by MHD itself: MHD_OPTION_STRICT_FOR_CLIENT.) Bare LF line
 * ends and folded lines are found in what MHD left of the head
 * (headlines.h).
 */
struct framing {
    unsigned cl, te;
    int te_other; /* a Transfer-Encoding other than "chunked" */
};

static enum MHD_Result
count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
              const char *value)
{
    struct framing *f = cls;

    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        f->cl++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->te++;
        if (value == NULL || strcasecmp(value, "chunked") != 0)
            f->te_other = 1;
    }
    return MHD_YES;
}

/* NULL if the request's framing is unambiguous, else what is wrong. */
static const char *
framing_fault(struct MHD_Connection *conn)
{
    struct framing f;

    memset(&f, 0, sizeof(f));
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
    if (f.cl > 0 && f.te > 0)
        return "both Content-Length and Transfer-Encoding";
    if (f.cl > 1)
        return "more than one Content-Length";
    if (f.te > 1)
        return "more than one Transfer-Encoding";
    if (f.te_other)
        return "a Transfer-Encoding other than chunked";
    return NULL;
}

/* The head's largest size worth reading: MHD's per-connection pool (32
 * KiB by default) holds it. */
#define HEAD_MAX (1024 * 1024)

/* NULL if every head line ended in CRLF and none was folded, else what is
 * wrong (headlines.h). Only for the MHD version headlines.c knows; with
 * any other, line ends are MHD's business. */
static const char *
line_fault(const struct sn_http *h, struct MHD_Connection *conn,
           const char *method, const char *version)
{
    const union MHD_ConnectionInfo *ci;
    uintptr_t m = (uintptr_t)method, v = (uintptr_t)version;

    if (!h->check_lines)
        return NULL;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (ci == NULL || ci->header_size > HEAD_MAX || v < m ||
        v - m >= ci->header_size)
        return "a request head that cannot be read";
    return sn_headlines_fault(method, ci->header_size, (size_t)(v - m));
}

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

/* A credential is presented: an Authorization header or a client
 * certificate (authenticate() then decides what it is worth). */
static int
presents_credential(struct MHD_Connection *conn)
{
    const uint8_t *der[1];
    size_t len[1];

    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_AUTHORIZATION) != NULL ||
           peer_chain(conn, der, len, 1) > 0;
}

/* Header phase: route, authenticate, check limits. 0 = go on. */
static int
begin(struct sn_http *h, struct MHD_Connection *conn, struct conn_ctx *c,
      const char *url, const char *method)
{
    const struct sn_deps *deps = h->deps;
    const char *cl = MHD_lookup_connection_value(
        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = 0;
    int path_known;
    char *end;

    c->req.conn = conn;
    c->req.method = method;
    client_address(conn, c->req.client, sizeof(c->req.client));
    sn_log_set_client(c->req.client);
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
    c->limit = h->opts.json_limit;
    sn_buf_init(&c->body, c->limit);
    c->file_limit = h->opts.file_limit;
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
    if (c->route->auth == SN_ROUTE_AUTH ||
        (c->route->auth == SN_ROUTE_OPTIONAL && presents_credential(conn))) {
        authenticate(deps, conn, c);
        if (c->req.who == NULL)
            return -1;
    }
    c->anon = (c->route->flags & SN_ROUTE_ANON) ||
              (c->route->auth == SN_ROUTE_OPTIONAL && c->req.who == NULL);
    if (c->route->body == SN_BODY_JSON && cl != NULL && declared > 0 &&
        !content_type_is(c->req.content_type, "application/json")) {
        sn_resp_error(&c->early, API_MEDIA_TYPE,
                      "request body must be application/json");
        return -1;
    }
    if (c->route->body == SN_BODY_STREAM) {
        c->early.code = API_OK;
        c->route->precheck(deps, &c->req, &c->early);
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
take_body(const struct sn_http_opts *cfg, struct conn_ctx *c, const char *data,
          size_t len)
{
    if (c->route->body == SN_BODY_STREAM) {
        int64_t due, cap;

        if (len > c->file_limit - c->file_bytes)
            return -1;
        c->file_bytes += len;
        /* The bytes so far buy time at the minimum rate, but never more
         * than one grace period ahead: a fast start is not credit for
         * trickling later. */
        due = c->body_start + (int64_t)cfg->stream_grace * 1000 +
              (int64_t)(c->file_bytes * 1000 / cfg->stream_min_rate);
        cap = sn_mono_ms() + (int64_t)cfg->stream_grace * 1000;
        track_set(c->track, PH_STREAM, due < cap ? due : cap);
        return EVP_DigestUpdate(c->md, data, len) == 1 ? 0 : -1;
    }
    return sn_buf_append(&c->body, data, len) == SN_OK ? 0 : -1;
}

/* Lines a client can cause at will are budgeted (see log.h). */
static struct sn_log_limit recheck_lines = SN_LOG_LIMIT(10, 10);

static void
handle(const struct sn_deps *deps, struct conn_ctx *c, struct sn_resp *resp)
{
    json_error_t jerr;
    unsigned int dlen = 0;
    enum sn_auth_fault f;

    resp->code = API_OK;
    /* The token was checked when the headers came; the body may have taken
     * minutes. A token revoked or expired meanwhile does nothing: it is
     * looked at again now, after the body and just before acting. */
    if (c->req.who != NULL &&
        (f = sn_auth_recheck(deps->store, c->req.who)) != SN_AUTH_OK) {
        sn_log_limited(&recheck_lines, SN_LOG_WARN,
                       "auth: %s: token %s, at execution", sn_auth_fault_str(f),
                       c->req.who->id);
        sn_resp_error(resp, API_UNAUTHORIZED, "%s", sn_auth_fault_str(f));
        return;
    }
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
        /* Where, not what: jansson's text quotes the input, which may be
         * a password. */
        if (c->req.json == NULL)
            sn_resp_error(resp, API_INVALID_JSON,
                          "body is not valid JSON (line %d, column %d)",
                          jerr.line, jerr.column);
        else if (!json_is_object(c->req.json))
            sn_resp_error(resp, API_INVALID_JSON, "body is not a JSON object");
        if (c->req.json == NULL || !json_is_object(c->req.json))
            return;
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
    c->route->handler(deps, &c->req, resp);
}

/* Runs the request's handler; its log lines name the client. */
static void
run_handler(const struct sn_deps *deps, struct conn_ctx *c,
            struct sn_resp *resp)
{
    sn_log_set_client(c->req.client);
    handle(deps, c, resp);
    sn_log_set_client(NULL);
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
    sn_gate_announce(h->deps->store);
    run_handler(h->deps, c, &c->resp);
    sn_gate_submit(h->deps->store, &c->resp, audit_done, c);
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
        sn_gate_announce(h->deps->store);
    run_handler(h->deps, c, &c->resp);
    /* Before the hand-off: once resumed, c may be freed. */
    sn_anon_settle(anon.limits, &c->resp, c->route->flags & SN_ROUTE_SIGN,
                   started);
    if (c->route->flags & SN_ROUTE_SIGN) {
        sn_gate_submit(h->deps->store, &c->resp, audit_done, c);
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
    if (c->anon) {
        run_anon(h, c);
        return;
    }
    if (c->route->flags & SN_ROUTE_SIGN) {
        run_signing(h, c);
        return;
    }
    run_handler(h->deps, c, &c->resp);
    c->audit_result = sn_gate_commit(h->deps->store, &c->resp);
    c->stage = STAGE_DONE;
    MHD_resume_connection(c->conn);
}

/* A pool of n threads; per_lane: how many of them one tenant's jobs may
 * hold at once (0: all); express: how many of them are kept for light
 * tenants at the process's priority while the rest run at nice (pool.h). */
static sn_err
pool_start(struct sn_http *h, const char *name, unsigned n, unsigned per_lane,
           int nice, unsigned express, struct sn_pool **out)
{
    struct sn_pool_params par;

    memset(&par, 0, sizeof(par));
    par.name = name;
    par.threads = n;
    par.heavy_max = n;
    par.heavy_per_lane = per_lane;
    par.nice = nice;
    par.express = express;
    /* a busy tenant's keeper requests yield to others, when there are */
    par.nice_hint = express > 0 ? sn_keeper_thread_nice : NULL;
    par.run = run_job;
    par.ctx = h;
    return sn_pool_start(&par, out);
}

/* Requests waiting for an anonymous thread, per thread: past this, 503. */
#define ANON_QUEUE_PER_THREAD 32
/*
 * Anonymous threads yield the CPU to subscribers' (nice is per thread on
 * Linux), even to a busy subscriber's signers at SIGN_BULK_NICE (a tenth
 * of their weight). Not 19: a thread that is hardly ever scheduled while
 * it holds a lock inside the HSM library or OpenSSL stalls the
 * subscribers' threads that wait for it.
 */
#define ANON_NICE 15
/*
 * The anonymous ceiling's default (limits.anon_signatures_per_second): a
 * software HSM signs on the CPUs, and a time-stamp or OCSP signature
 * (RSA-3072 or RSA-4096) costs 3-6 ms of one, so 25 a second per CPU is
 * about an eighth of the machine. Nice does not make the rest free: on
 * the 2-CPU machine of docs/performance.md, a busy loop at the lowest
 * priority (SCHED_IDLE) cost subscriber signing 14-25% of its rate.
 */
#define ANON_SIGNATURES_PER_CPU 25

/* The configured value, or def for 0 (a configuration made in code). */
static double
or_default(unsigned configured, unsigned def)
{
    return configured != 0 ? configured : def;
}

static sn_err
anon_start(const struct sn_http_opts *cfg, unsigned cpus)
{
    struct sn_pool_params par;
    sn_err r = SN_OK;

    pthread_mutex_lock(&anon.lock);
    if (anon.refs == 0 &&
        (r = sn_anon_new(
             or_default(cfg->anon_rate, 50), or_default(cfg->anon_burst, 100),
             or_default(cfg->anon_signatures, ANON_SIGNATURES_PER_CPU * cpus),
             &anon.limits)) == SN_OK) {
        memset(&par, 0, sizeof(par));
        par.name = "sn-anon";
        par.threads = cpus / 2 > 0 ? cpus / 2 : 1;
        par.max_queued = (size_t)par.threads * ANON_QUEUE_PER_THREAD;
        par.nice = ANON_NICE;
        par.run = run_job;
        if ((r = sn_anon_reports_limit(
                 anon.limits, or_default(cfg->report_per_hour, 60),
                 or_default(cfg->report_burst, 10))) != SN_OK ||
            (r = sn_pool_start(&par, &anon.pool)) != SN_OK) {
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

/* The headers are in: from now on the body has its own deadline. */
static void
body_deadline(struct sn_http *h, struct MHD_Connection *conn,
              struct conn_ctx *c)
{
    const struct sn_http_opts *cfg = &h->opts;

    c->track = track_of(conn);
    c->body_start = sn_mono_ms();
    if (c->route != NULL && c->route->body == SN_BODY_STREAM)
        track_set(c->track, PH_STREAM,
                  c->body_start + (int64_t)cfg->stream_grace * 1000);
    else
        track_set(c->track, PH_BODY,
                  c->body_start + (int64_t)cfg->body_timeout * 1000);
}

/* Sends the answer of a resumed request: withheld if its records are not
 * committed. */
static enum MHD_Result
finish(struct sn_http *h, struct MHD_Connection *conn, struct conn_ctx *c)
{
    track_set(c->track, PH_ANSWER,
              sn_mono_ms() + (int64_t)h->opts.body_timeout * 1000);
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
    if (c->anon)
        sn_anon_settle(anon.limits, &c->resp, 0, 0); /* no signature */
    c->audit_result = SN_OK;
    c->stage = STAGE_DONE;
    MHD_resume_connection(c->conn);
}

static enum MHD_Result
request_step(void *cls, struct MHD_Connection *conn, const char *url,
             const char *method, const char *version, const char *upload_data,
             size_t *upload_data_size, void **con_cls)
{
    struct sn_http *h = cls;
    struct conn_ctx *c = *con_cls;
    struct sn_resp resp;
    const char *fault;
    int refused;
    unsigned retry;

    if (c == NULL) {
        if ((c = calloc(1, sizeof(*c))) == NULL)
            return MHD_NO;
        *con_cls = c;
        c->h = h;
        __atomic_add_fetch(&h->inflight, 1, __ATOMIC_SEQ_CST);
        if ((fault = line_fault(h, conn, method, version)) != NULL ||
            (fault = framing_fault(conn)) != NULL) {
            /* The body's end is unknown: nothing more is read. */
            sn_resp_error(&c->early, API_BAD_REQUEST, "ambiguous framing: %s",
                          fault);
            c->metric_route = unmatched;
            c->failed = 1;
            c->close = 1;
            return send_resp(conn, c, &c->early);
        }
        refused = begin(h, conn, c, url, method) != 0;
        body_deadline(h, conn, c);
        if (refused) {
            /* A small body already on its way is read and dropped first:
             * closing on a client still sending makes it see a broken pipe
             * instead of the answer. Large bodies are refused at once (the
             * client sends them after "Expect: 100-continue"). */
            if (small_body_pending(conn, h->opts.json_limit)) {
                c->failed = 2;
                return MHD_YES;
            }
            c->failed = 1;
            return send_resp(conn, c, &c->early);
        }
        if (c->route->handler == NULL)
            return metrics(h->deps, conn, c);
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
        if (!c->overflow &&
            take_body(&h->opts, c, upload_data, *upload_data_size)) {
            sn_warn("http: body over the limit on %s from %s", c->metric_route,
                    c->req.client);
            c->overflow = 1;
            sn_buf_cleanup(&c->body);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->stage == STAGE_DONE)
        return finish(h, conn, c);
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
    if (c->anon &&
        (!sn_anon_admit(anon.limits, c->req.client, &retry) ||
         (!(c->route->flags & SN_ROUTE_ANON) &&
          !sn_anon_report_admit(anon.limits, c->req.client, &retry)))) {
        sn_resp_error(&c->resp, API_TOO_MANY,
                      "too many requests from this address; retry later");
        sn_resp_header(&c->resp, MHD_HTTP_HEADER_RETRY_AFTER, "%u", retry);
        hold_refusal(h, conn, c);
        return MHD_YES;
    }
    /* The ceiling before the queue: a refusal costs no thread hand-off. */
    if (c->anon && !sn_anon_sign_take(anon.limits, &retry)) {
        sn_resp_error(&c->resp, API_UNAVAILABLE,
                      "too many anonymous requests; retry later");
        sn_resp_header(&c->resp, MHD_HTTP_HEADER_RETRY_AFTER, "%u", retry);
        hold_refusal(h, conn, c);
        return MHD_YES;
    }
    /* A key generation is admitted, or refused at once, before it is
     * queued (quota.key_generations; see handlers.h). */
    if ((c->route->flags & SN_ROUTE_HEAVY) && c->req.who != NULL) {
        if (sn_keygen_admit(c->who.subscriber,
                            h->deps->quota.key_generations) == 0) {
            sn_resp_error(&resp, API_TOO_MANY,
                          "this subscriber already has %u key generations "
                          "in progress (quota.key_generations); try again "
                          "when one has finished",
                          h->deps->quota.key_generations);
            sn_resp_header(&resp, MHD_HTTP_HEADER_RETRY_AFTER, "5");
            return send_resp(conn, c, &resp);
        }
        c->keygen = 1;
    }
    c->conn = conn;
    c->stage = STAGE_WAIT;
    /* The server has the request now: no deadline until it answers. */
    track_set(c->track, PH_NONE, 0);
    MHD_suspend_connection(conn);
    /* Fair shares: a subscriber's requests queue in its own lane, an
     * anonymous client's in its address's (see pool.h). */
    if (sn_pool_submit(c->anon                            ? anon.pool
                       : c->route->flags & SN_ROUTE_SIGN  ? h->signers
                       : c->route->flags & SN_ROUTE_HEAVY ? h->keygen
                                                          : h->workers,
                       &c->job,
                       c->req.who != NULL ? c->who.subscriber : c->req.client,
                       !c->anon) != SN_OK)
        busy(c);
    return MHD_YES;
}

/* MHD's call for a request: the lines logged meanwhile name its client
 * (begin() sets it on the first call). */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **con_cls)
{
    struct conn_ctx *c = *con_cls;
    enum MHD_Result ret;

    if (c != NULL)
        sn_log_set_client(c->req.client);
    ret = request_step(cls, conn, url, method, version, upload_data,
                       upload_data_size, con_cls);
    sn_log_set_client(NULL);
    return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct sn_http *h = cls;
    struct conn_ctx *c = *con_cls;

    (void)toe;
    /* A kept-alive connection now waits for the next request's headers. */
    track_set(track_of(conn), PH_IDLE,
              sn_mono_ms() + (int64_t)h->opts.idle_timeout * 1000);
    if (c == NULL)
        return;
    sn_metrics_request(h->deps->metrics, c->metric_route,
                       c->route && c->route->handler == NULL && !c->failed
                           ? 200
                           : sn_api_status(c->early.code));
    /* A password or a code: wiped from the parsed body and its bytes. */
    if (c->route != NULL && (c->route->flags & SN_ROUTE_SECRET)) {
        wipe_json(c->req.json);
        if (c->body.data != NULL)
            OPENSSL_cleanse(c->body.data, c->body.cap);
    }
    json_decref(c->req.json);
    json_decref(c->early.json);
    free(c->early.raw);
    json_decref(c->resp.json);
    free(c->resp.raw);
    free(c->resp.audit);
    free(c->resp.tsa);
    sn_buf_cleanup(&c->body);
    EVP_MD_CTX_free(c->md);
    if (c->keygen)
        sn_keygen_done(c->who.subscriber);
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

/*
 * GnuTLS priorities of the API listener: TLS 1.3, and TLS 1.2 with ECDHE
 * key exchange (forward secrecy; for an ECDSA or an RSA certificate) and
 * AEAD ciphers only (AES-GCM, ChaCha20-Poly1305): no CBC, no SHA-1 MAC, no
 * RSA key exchange. Every client Signet ships (libcurl over OpenSSL, the
 * PKCS#11 module) and any current one offers these.
 */
static const char tls_priorities[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"
    "-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:"
    "-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE";

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
    sweeper_stop(h);
    pthread_mutex_destroy(&h->track_lock);
    pthread_cond_destroy(&h->sweep_cond);
    pthread_mutex_destroy(&h->log_lock);
    sn_peerlog_cleanup(&h->tls_log);
    free(h);
}

/*
 * Connections per listener: the configured figure, within the descriptor
 * limit. The two listeners may use three quarters of RLIMIT_NOFILE
 * between them; the rest is the database's, the HSM's and MHD's own.
 */
static unsigned
connection_limit(const struct sn_http_opts *cfg)
{
    struct rlimit rl;
    rlim_t room;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return cfg->connections;
    room = rl.rlim_cur / 8 * 3;
    if (room < 16)
        room = 16;
    if (room >= cfg->connections)
        return cfg->connections;
    sn_warn("http: %u connections per listener, not %u: the descriptor "
            "limit is %llu",
            (unsigned)room, cfg->connections, (unsigned long long)rl.rlim_cur);
    return (unsigned)room;
}

/* MHD's own idle timeout, behind the deadlines: the longest of them, so
 * that it cuts only what they do not cover (a stalled sign-file body that
 * is ahead of its rate). */
static unsigned
idle_backstop(const struct sn_http_opts *cfg)
{
    unsigned t = cfg->idle_timeout;

    if (cfg->header_timeout > t)
        t = cfg->header_timeout;
    if (cfg->body_timeout > t)
        t = cfg->body_timeout;
    return t;
}

/* The deadline thread and the locks of h. */
static sn_err
deadlines_start(struct sn_http *h)
{
    pthread_mutex_init(&h->track_lock, NULL);
    pthread_cond_init(&h->sweep_cond, NULL);
    pthread_mutex_init(&h->log_lock, NULL);
    h->log_window = time(NULL);
    sn_peerlog_init(&h->tls_log, TLS_LOG_WINDOW);
    if (pthread_create(&h->sweeper, NULL, sweeper_main, h) != 0)
        return SN_ERR_INTERNAL;
    h->sweeper_on = 1;
    return SN_OK;
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
 * one more, an express thread, so that another subscriber's request starts
 * at once rather than after a signature of the first. A subscriber with
 * requests queued signs at this nice value; one without (a light tenant),
 * on the express thread at the process's own, so that the scheduler runs
 * its signature, and the event threads and the audit writer that carry it,
 * before the busy one's (pool.h).
 */
#define SIGN_BULK_NICE 5
static sn_err
pools_start(struct sn_http *h, const struct sn_http_opts *cfg)
{
    unsigned cpus = per_cpu(0), sign = per_cpu(cfg->hsm_parallelism);
    unsigned gen = cpus / 2 > 0 ? cpus / 2 : 1;
    sn_err r;

    if ((r = pool_start(h, "sn-signer", sign + 1, sign, SIGN_BULK_NICE, 1,
                        &h->signers)) != SN_OK ||
        (r = pool_start(h, "sn-worker", cfg->threads, 0, 0, 0, &h->workers)) !=
            SN_OK ||
        (r = pool_start(h, "sn-keygen", gen, cpus / 4 > 0 ? cpus / 4 : 1,
                        KEYGEN_NICE, 0, &h->keygen)) != SN_OK ||
        (r = anon_start(cfg, cpus)) != SN_OK)
        return r;
    h->anon = 1;
    return SN_OK;
}

/* ---- PROXY protocol v2 (proxy.protocol = v2) ----
 * MHD then runs without a listening socket: the acceptor (proxyaccept.c)
 * takes each connection, reads its header and hands it here with the
 * client's address, which MHD keeps as the connection's own: the
 * per-address limit, the audit records' and the log's client. A header
 * comes within PROXY_HEADER_MS of the connect (or limits.header_timeout
 * if shorter); the listener's other deadlines start once MHD has it.
 */
#define PROXY_HEADER_MS 5000

/* MHD closes fd itself if it refuses it (a connection limit; its own
 * line in the log). */
static void
proxy_hand(void *arg, int fd, const struct sockaddr *addr, socklen_t len)
{
    struct sn_http *h = arg;

    (void)MHD_add_connection(h->d, fd, addr, len);
}

/* MHD's flags; behind the PROXY acceptor, without a listening socket
 * (listen, MHD's option for it, is then emptied). */
static unsigned
daemon_flags(const struct sn_http_opts *opts, int family,
             struct MHD_OptionItem *listen)
{
    /* Event threads never wait for a disk or the HSM: see the top. */
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;

    if (!opts->proxy_v2)
        return flags | (family == AF_INET6 ? MHD_USE_IPv6 : 0);
    /* MHD_add_connection with MHD's own threads needs its ITC. */
    listen[0].option = MHD_OPTION_END;
    return flags | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
}

/* The acceptor on fd, which it owns from then on. On failure MHD is
 * stopped (it has no connection yet) and fd is still the caller's. */
static sn_err
proxy_start(struct sn_http *h, int fd, unsigned limit)
{
    struct sn_proxy_accept_opts o;
    unsigned ms = PROXY_HEADER_MS;
    sn_err r;

    if (h->opts.header_timeout * 1000u < ms)
        ms = h->opts.header_timeout * 1000u;
    memset(&o, 0, sizeof(o));
    o.fd = fd;
    o.trusted = h->opts.proxy_trusted;
    o.ntrusted = h->opts.nproxy_trusted;
    o.timeout_ms = ms;
    o.max_pending = limit;
    o.name = h->plain ? "public" : "api";
    o.hand = proxy_hand;
    o.arg = h;
    if ((r = sn_proxy_accept_start(&o, &h->proxy)) != SN_OK) {
        sn_error("http: cannot start the %s listener's PROXY acceptor: %s",
                 o.name, sn_err_str(r));
        MHD_stop_daemon(h->d);
        h->d = NULL;
    }
    return r;
}

/* A listening socket on ss, or -1 with errno set. */
static int
bind_listen(const struct sockaddr_storage *ss)
{
    socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
    int fd, on = 1, e;

    if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    /* As libmicrohttpd would: a restart binds despite TIME_WAIT, and an
     * IPv6 address is IPv6 only. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        (ss->ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0) ||
        bind(fd, (const struct sockaddr *)ss, len) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

sn_err
sn_http_listen(const char *listen, int *fd, char *why, size_t whylen)
{
    struct sockaddr_storage ss;

    *fd = -1;
    if (whylen > 0)
        why[0] = '\0';
    if (parse_listen(listen, &ss) != SN_OK) {
        snprintf(why, whylen, "not IPV4:PORT or [IPV6]:PORT");
        return SN_ERR_CONFIG;
    }
    if ((*fd = bind_listen(&ss)) < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return SN_ERR_IO;
    }
    return SN_OK;
}

sn_err
sn_http_start(const struct sn_deps *deps, const struct sn_http_opts *opts,
              int fd, int plain, struct sn_http **out)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    struct sn_http *h = NULL;
    uint8_t *key = NULL, *cert = NULL;
    size_t keylen = 0, certlen = 0;
    unsigned int flags, events, limit, per_address, backstop;
    /* MHD's listening socket; none behind the PROXY acceptor */
    struct MHD_OptionItem listen_opt[2] = {{MHD_OPTION_LISTEN_SOCKET, fd, NULL},
                                           {MHD_OPTION_END, 0, NULL}};
    sn_err r;

    *out = NULL;
    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        sn_error("http: not a socket: %s", strerror(errno));
        r = SN_ERR_IO;
        goto out;
    }
    if (!plain &&
        ((r = sn_file_read(opts->tls_key, 1 << 20, &key, &keylen)) != SN_OK ||
         (r = sn_file_read(opts->tls_cert, 1 << 20, &cert, &certlen)) !=
             SN_OK)) {
        sn_error("http: cannot read TLS key or certificate");
        goto out;
    }
    if ((h = calloc(1, sizeof(*h))) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    h->deps = deps;
    h->opts = *opts;
    h->plain = plain;
    h->check_lines = strcmp(MHD_get_version(), "0.9.75") == 0;
    if (!h->check_lines)
        sn_warn("http: libmicrohttpd %s: bare LF line ends and folded "
                "header lines are left to it (checked with 0.9.75 only)",
                MHD_get_version());
    MHD_set_panic_func(mhd_panic, NULL);
    if ((r = deadlines_start(h)) != SN_OK ||
        (r = pools_start(h, opts)) != SN_OK)
        goto out;
    limit = connection_limit(opts);
    per_address = opts->connections_per_address;
    backstop = idle_backstop(opts);
    events = per_cpu(opts->event_threads);
    flags = daemon_flags(opts, ss.ss_family, listen_opt);
    if (plain)
        h->d = MHD_start_daemon(
            flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
            mhd_log, h, MHD_OPTION_ARRAY, listen_opt,
            MHD_OPTION_THREAD_POOL_SIZE, events, MHD_OPTION_NOTIFY_COMPLETED,
            on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_notify, h,

            MHD_OPTION_CONNECTION_TIMEOUT, backstop,
            MHD_OPTION_CONNECTION_LIMIT, limit,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_address,
            MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_UNESCAPE_CALLBACK,
            no_unescape, NULL, MHD_OPTION_END);
    else
        h->d = MHD_start_daemon(
            flags | MHD_USE_TLS, 0, NULL, NULL, on_request, h,
            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_ARRAY,
            listen_opt, MHD_OPTION_THREAD_POOL_SIZE, events,
            MHD_OPTION_HTTPS_MEM_KEY, (const char *)key,
            MHD_OPTION_HTTPS_MEM_CERT, (const char *)cert,
            MHD_OPTION_HTTPS_PRIORITIES, tls_priorities,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
            MHD_OPTION_NOTIFY_CONNECTION, on_notify, h,

            MHD_OPTION_CONNECTION_TIMEOUT, backstop,
            MHD_OPTION_CONNECTION_LIMIT, limit,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_address,
            MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_UNESCAPE_CALLBACK,
            no_unescape, NULL, MHD_OPTION_END);
    /* libmicrohttpd closes fd on its failures: not ours to close again.
     * Behind the PROXY acceptor, fd is not MHD's. */
    if (!opts->proxy_v2)
        fd = -1;
    if (h->d == NULL) {
        sn_error("http: cannot serve the %s listener",
                 plain ? "public" : "API");
        r = SN_ERR_IO;
        goto out;
    }
    if (opts->proxy_v2) {
        if ((r = proxy_start(h, fd, limit)) != SN_OK)
            goto out;
        fd = -1;
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
    if (fd >= 0)
        close(fd);
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
     * rather than left waiting for a server that is going away. Behind
     * the PROXY acceptor, the acceptor holds it (and the connections
     * still without a header: closed). */
    if (h->proxy != NULL) {
        sn_proxy_accept_stop(h->proxy);
        h->proxy = NULL;
    } else if ((ls = MHD_quiesce_daemon(h->d)) != MHD_INVALID_SOCKET)
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
