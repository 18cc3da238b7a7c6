/*
 * proxyaccept: the PROXY protocol v2 acceptor (see proxyaccept.h). Its
 * input, the first bytes of every connection from a proxy.trusted peer,
 * is untrusted. A peer not in proxy.trusted is no proxy: its connection
 * is served as any other, under its own address, and no byte of it is
 * read here (a header it sends is just bad TLS or HTTP).
 *
 * Connections waiting for their header are kept oldest first in one
 * array, at most max_pending of them, each with the same timeout: the
 * first is always the next to expire, and the one closed to make room.
 * No peer is ever waited for: sockets are non-blocking and each is read
 * only when poll() says it has bytes. A header is read without reading
 * past it: first its fixed 16 bytes (no header is shorter), then exactly
 * the length they announce.
 */
#define _GNU_SOURCE /* accept4, pipe2 */
#include "http/proxyaccept.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "http/proxyproto.h"

#define LOG_WINDOW 10   /* seconds between lines about closed connections */
#define ACCEPT_BATCH 64 /* accepts per turn: the waiting ones are read too */

struct pending {
    int fd;
    int64_t deadline; /* ms, CLOCK_MONOTONIC */
    struct sockaddr_storage peer;
    socklen_t peerlen;
    size_t have;                  /* header bytes read */
    size_t need;                  /* header bytes to read in all, so far */
    uint8_t head[SN_PROXY_FIXED]; /* the fixed part */
    uint8_t *buf;                 /* the whole header, once longer */
};

enum why { W_BAD, W_LATE, W_ROOM, W_COUNT };

static const char *const why_names[W_COUNT] = {"bad header", "late header",
                                               "no room"};

struct sn_proxy_accept {
    struct sn_proxy_accept_opts o;
    int wake[2]; /* a byte: stop */
    pthread_t thread;
    struct pending *p; /* oldest first */
    size_t n;
    struct pollfd *pfd; /* wake, listener, then one per pending */
    /* connections closed since the last line, and the last one's peer */
    unsigned closed[W_COUNT];
    char last[INET6_ADDRSTRLEN];
    enum why last_why;
    time_t said;
};

/* The numeric address of sa, or "" for another family. */
static void
addr_str(const struct sockaddr_storage *sa, char *buf, size_t len)
{
    const void *a = NULL;

    if (sa->ss_family == AF_INET)
        a = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa->ss_family == AF_INET6)
        a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (a == NULL || inet_ntop(sa->ss_family, a, buf, (socklen_t)len) == NULL)
        buf[0] = '\0';
}

static int
trusted(const struct sn_proxy_accept *a, const struct sockaddr_storage *sa)
{
    char s[INET6_ADDRSTRLEN];
    size_t i;

    addr_str(sa, s, sizeof(s));
    for (i = 0; i < a->o.ntrusted; i++)
        if (sn_cidr_match(&a->o.trusted[i], s))
            return 1;
    return 0;
}

static void
count(struct sn_proxy_accept *a, const struct sockaddr_storage *sa,
      enum why why)
{
    a->closed[why]++;
    a->last_why = why;
    addr_str(sa, a->last, sizeof(a->last));
}

/* A line for what was closed, at most one per LOG_WINDOW: a flood of bad
 * peers must not become a flood of lines. */
static void
log_closed(struct sn_proxy_accept *a, time_t now)
{
    unsigned *c = a->closed;

    if (c[W_BAD] + c[W_LATE] + c[W_ROOM] == 0 || now - a->said < LOG_WINDOW)
        return;
    sn_warn("http (%s): PROXY protocol: closed %u connection(s) from a "
            "proxy with a bad header or none, %u without a header within %u "
            "ms, %u to make room; the last from %s (%s)",
            a->o.name, c[W_BAD], c[W_LATE], a->o.timeout_ms, c[W_ROOM],
            a->last[0] != '\0' ? a->last : "unknown", why_names[a->last_why]);
    memset(a->closed, 0, sizeof(a->closed));
    a->said = now;
}

/* Forgets the i-th pending connection; closes it unless handed on. */
static void
drop(struct sn_proxy_accept *a, size_t i, int close_it)
{
    struct pending *p = &a->p[i];

    if (close_it)
        close(p->fd);
    free(p->buf);
    memmove(p, p + 1, (a->n - i - 1) * sizeof(*p));
    a->n--;
}

/* Reads what the i-th connection has of its header, never past it.
 * Returns 1 if it was handed on or closed, 0 if it still waits. */
static int
read_header(struct sn_proxy_accept *a, size_t i)
{
    struct pending *p = &a->p[i];
    struct sn_proxy_hdr h;
    uint8_t *data;
    size_t need;
    ssize_t got;
    sn_err r;

    for (;;) {
        data = p->buf != NULL ? p->buf : p->head;
        got = recv(p->fd, data + p->have, p->need - p->have, 0);
        if (got < 0 &&
            (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        if (got <= 0) {
            /* Gone before its header (a port probe): not a fault. */
            drop(a, i, 1);
            return 1;
        }
        p->have += (size_t)got;
        r = sn_proxy_parse(data, p->have, &h, &need);
        if (r != SN_OK) {
            count(a, &p->peer, W_BAD);
            drop(a, i, 1);
            return 1;
        }
        if (need == 0)
            break;
        /* need only grows, once: from the fixed part to the whole. */
        if (need > SN_PROXY_FIXED && p->buf == NULL) {
            if ((p->buf = malloc(need)) == NULL) {
                drop(a, i, 1);
                return 1;
            }
            memcpy(p->buf, p->head, p->have);
        }
        p->need = need;
    }
    /* A LOCAL header is the balancer's own connection (a health check):
     * it keeps its own address. */
    if (h.cmd == SN_PROXY_PROXY)
        a->o.hand(a->o.arg, p->fd, (const struct sockaddr *)&h.src, h.srclen);
    else
        a->o.hand(a->o.arg, p->fd, (const struct sockaddr *)&p->peer,
                  p->peerlen);
    drop(a, i, 0);
    return 1;
}

/* Takes the connections waiting on the listener, a batch at a time. */
static void
accept_some(struct sn_proxy_accept *a, int64_t now)
{
    struct pending *p;
    struct sockaddr_storage ss;
    socklen_t sl;
    int fd, i;

    for (i = 0; i < ACCEPT_BATCH; i++) {
        sl = sizeof(ss);
        memset(&ss, 0, sizeof(ss));
        fd = accept4(a->o.fd, (struct sockaddr *)&ss, &sl,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            /* Out of descriptors: the listener stays readable, so wait a
             * little rather than spin. EAGAIN: none left. */
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM)
                usleep(50 * 1000);
            return;
        }
        if (!trusted(a, &ss)) {
            a->o.hand(a->o.arg, fd, (const struct sockaddr *)&ss, sl);
            continue;
        }
        if (a->n == a->o.max_pending) {
            count(a, &a->p[0].peer, W_ROOM);
            drop(a, 0, 1);
        }
        p = &a->p[a->n++];
        memset(p, 0, sizeof(*p));
        p->fd = fd;
        p->need = SN_PROXY_FIXED;
        p->deadline = now + a->o.timeout_ms;
        p->peer = ss;
        p->peerlen = sl;
    }
}

/* Closes the connections past their deadline (the oldest first). */
static void
expire(struct sn_proxy_accept *a, int64_t now)
{
    while (a->n > 0 && a->p[0].deadline <= now) {
        count(a, &a->p[0].peer, W_LATE);
        drop(a, 0, 1);
    }
}

/* How long poll() may wait: until the first deadline, and at most a
 * second while a line about closed connections is owed. */
static int
wait_ms(const struct sn_proxy_accept *a, int64_t now)
{
    int64_t t = -1;
    size_t i;

    if (a->n > 0)
        t = a->p[0].deadline - now;
    for (i = 0; i < W_COUNT; i++)
        if (a->closed[i] != 0 && (t < 0 || t > 1000))
            t = 1000;
    return t < 0 && a->n > 0 ? 0 : (int)t;
}

static void *
acceptor_main(void *arg)
{
    struct sn_proxy_accept *a = arg;
    int64_t now;
    size_t i, n;
    int r;

    prctl(PR_SET_NAME, "sn-proxy", 0, 0, 0);
    for (;;) {
        now = sn_mono_ms();
        expire(a, now);
        log_closed(a, time(NULL));
        a->pfd[0] = (struct pollfd){a->wake[0], POLLIN, 0};
        a->pfd[1] = (struct pollfd){a->o.fd, POLLIN, 0};
        for (i = 0; i < a->n; i++)
            a->pfd[2 + i] = (struct pollfd){a->p[i].fd, POLLIN, 0};
        n = a->n;
        r = poll(a->pfd, 2 + n, wait_ms(a, now));
        if (r < 0 && errno != EINTR) {
            sn_error("http (%s): PROXY protocol: poll: %s", a->o.name,
                     strerror(errno));
            usleep(100 * 1000);
            continue;
        }
        if (r <= 0)
            continue;
        if (a->pfd[0].revents != 0)
            break;
        /* From the last: a connection handed on or closed moves only
         * those after it, which have been seen to. */
        for (i = n; i-- > 0;)
            if (a->pfd[2 + i].revents != 0)
                (void)read_header(a, i);
        if (a->pfd[1].revents != 0)
            accept_some(a, sn_mono_ms());
    }
    return NULL;
}

sn_err
sn_proxy_accept_start(const struct sn_proxy_accept_opts *o,
                      struct sn_proxy_accept **out)
{
    struct sn_proxy_accept *a = NULL;
    int fl;
    sn_err r = SN_ERR_INTERNAL;

    *out = NULL;
    if (o->max_pending == 0 || o->hand == NULL)
        return SN_ERR_INVALID;
    if ((a = calloc(1, sizeof(*a))) == NULL)
        return SN_ERR_NOMEM;
    a->o = *o;
    a->wake[0] = a->wake[1] = -1;
    a->said = 0;
    if ((a->p = calloc(o->max_pending, sizeof(*a->p))) == NULL ||
        (a->pfd = calloc((size_t)o->max_pending + 2, sizeof(*a->pfd))) ==
            NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    if (pipe2(a->wake, O_CLOEXEC | O_NONBLOCK) != 0 ||
        (fl = fcntl(o->fd, F_GETFL)) < 0 ||
        fcntl(o->fd, F_SETFL, fl | O_NONBLOCK) != 0) {
        r = SN_ERR_IO;
        goto out;
    }
    if (pthread_create(&a->thread, NULL, acceptor_main, a) != 0)
        goto out;
    *out = a;
    a = NULL;
    r = SN_OK;
out:
    if (a != NULL) {
        if (a->wake[0] >= 0) {
            close(a->wake[0]);
            close(a->wake[1]);
        }
        free(a->pfd);
        free(a->p);
        free(a);
    }
    return r;
}

void
sn_proxy_accept_stop(struct sn_proxy_accept *a)
{
    const char stop = 's';

    if (a == NULL)
        return;
    while (write(a->wake[1], &stop, 1) < 0 && errno == EINTR)
        ;
    pthread_join(a->thread, NULL);
    close(a->o.fd);
    while (a->n > 0)
        drop(a, a->n - 1, 1);
    close(a->wake[0]);
    close(a->wake[1]);
    free(a->pfd);
    free(a->p);
    free(a);
}
