/*
 * test_headlines: src/http/headlines.c against the libmicrohttpd this is
 * linked with, not against a model of it. A real MHD daemon on loopback
 * answers each request with the checker's verdict on the head MHD left;
 * raw requests (bytes written here) are sent on a socket. Well-formed
 * heads of every shape must pass (short and long, many headers, empty
 * values, a tab, HTTP/1.0, a head large enough that MHD grows its buffer,
 * a second request on a kept connection); every bare LF, obs-fold and
 * bare CR must be refused, by MHD or by the checker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "http/headlines.h"

static struct MHD_Daemon *daemon_;
static uint16_t port;

/* Answers 200 "ok" if the head passed, else 400 with the fault. */
static enum MHD_Result
answer(void *cls, struct MHD_Connection *conn, const char *url,
       const char *method, const char *version, const char *upload,
       size_t *upload_size, void **ctx)
{
    const union MHD_ConnectionInfo *ci;
    struct MHD_Response *r;
    const char *fault;
    enum MHD_Result ret;
    uintptr_t m = (uintptr_t)method, v = (uintptr_t)version;

    (void)cls;
    (void)url;
    (void)upload;
    /* Judged at the first call, as the server does (before the body). */
    if (*ctx == NULL) {
        ci = MHD_get_connection_info(conn,
                                     MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
        if (ci == NULL || v < m || v - m >= ci->header_size)
            fault = "no head";
        else
            fault =
                sn_headlines_fault(method, ci->header_size, (size_t)(v - m));
        *ctx = (void *)(uintptr_t)(fault != NULL ? fault : "ok");
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    fault = *ctx;
    r = MHD_create_response_from_buffer(strlen(fault), (char *)(uintptr_t)fault,
                                        MHD_RESPMEM_MUST_COPY);
    ret = MHD_queue_response(conn, strcmp(fault, "ok") == 0 ? 200 : 400, r);
    MHD_destroy_response(r);
    return ret;
}

static int
setup(void **state)
{
    const union MHD_DaemonInfo *di;

    (void)state;
    if (strcmp(MHD_get_version(), "0.9.75") != 0) {
        fprintf(stderr, "libmicrohttpd %s, not 0.9.75\n", MHD_get_version());
        return -1;
    }
    daemon_ = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        answer, NULL, MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_END);
    if (daemon_ == NULL)
        return -1;
    di = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    if (di == NULL)
        return -1;
    port = di->port;
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    MHD_stop_daemon(daemon_);
    return 0;
}

/* How many whole answers buf holds (each has a Content-Length). */
static unsigned
answers(const char *buf)
{
    const char *p = buf, *end, *cl;
    unsigned n = 0;

    while ((end = strstr(p, "\r\n\r\n")) != NULL) {
        cl = strstr(p, "Content-Length: ");
        if (cl == NULL || cl > end)
            break;
        end += 4 + strtoul(cl + 16, NULL, 10);
        if (end > buf + strlen(buf))
            break;
        n++;
        p = end;
    }
    return n;
}

/* Sends req on a new connection; returns what is answered until want
 * whole answers came, the server closed, or 5 s passed. */
static char *
exchange(const char *req, size_t len, unsigned want)
{
    struct sockaddr_in a;
    struct timeval tv = {5, 0};
    size_t got = 0, cap = 1 << 16;
    char *out = calloc(1, cap + 1);
    ssize_t n;
    int s;

    assert_non_null(out);
    s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)),
                     0);
    assert_int_equal(send(s, req, len, MSG_NOSIGNAL), (ssize_t)len);
    while (got < cap && answers(out) < want &&
           (n = recv(s, out + got, cap - got, 0)) > 0)
        got += (size_t)n;
    close(s);
    return out;
}

/* The head passes: answered 200 "ok" by the checker. */
static void
passes(const char *req)
{
    char *out = exchange(req, strlen(req), 1);

    if (strncmp(out, "HTTP/1.1 200", 12) != 0 || strstr(out, "\r\nok") == NULL)
        fail_msg("refused a well-formed head:\n%s\nanswer:\n%s", req, out);
    free(out);
}

/* The head is refused: 400, by MHD or by the checker. */
static void
refused(const char *req, size_t len)
{
    char *out = exchange(req, len, 1);

    if (strncmp(out, "HTTP/1.1 400", 12) != 0 &&
        strncmp(out, "HTTP/1.0 400", 12))
        fail_msg("accepted a malformed head:\n%s\nanswer:\n%s", req, out);
    free(out);
}

#define REFUSED(lit) refused(lit, sizeof(lit) - 1)

static void
test_well_formed(void **state)
{
    (void)state;
    passes("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    passes("GET /a/b?c=d&e HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n"
           "User-Agent: t/1\r\nX-Empty:\r\nX-Space: \r\n"
           "X-Tab:\tv\r\nX-Trail: v  \r\nX-Colons: a:b: c\r\n\r\n");
    passes("GET / HTTP/1.0\r\n\r\n");
    passes("GET / HTTP/1.0\r\nHost: x\r\n\r\n");
    /* a request may follow empty lines (RFC 9112 2.2) */
    passes("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
}

/* Appends what fmt says at *len in buf (size REQ_MAX), or fails. */
#define REQ_MAX 32768
static void
add(char *buf, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf + *len, REQ_MAX - *len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < REQ_MAX - *len);
    *len += (size_t)n;
}

/* n bytes of 'a' at *len. */
static void
add_filler(char *buf, size_t *len, size_t n)
{
    assert_true(n < REQ_MAX - *len);
    memset(buf + *len, 'a', n);
    *len += n;
    buf[*len] = '\0';
}

static void
test_many_and_long(void **state)
{
    char *req = malloc(REQ_MAX);
    size_t sizes[] = {100, 1000, 4000, 9000, 14000, 17000, 20000, 24000};
    size_t len = 0;

    (void)state;
    assert_non_null(req);
    /* 150 headers */
    add(req, &len, "GET / HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 150; i++)
        add(req, &len, "X-H%d: value %d\r\n", i, i);
    add(req, &len, "\r\n");
    passes(req);
    /* one long value, past the read buffer's first size (MHD grows it) */
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        len = 0;
        add(req, &len, "GET / HTTP/1.1\r\nHost: x\r\nX-Long: ");
        add_filler(req, &len, sizes[i]);
        add(req, &len, "\r\nX-After: 1\r\n\r\n");
        passes(req);
    }
    free(req);
}

static void
test_kept_connection(void **state)
{
    static const char two[] = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /2 HTTP/1.1\r\nHost: x\r\nX-B: 2\r\n\r\n";
    static const char good_then_bad[] = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                                        "GET /2 HTTP/1.1\nHost: x\r\n\r\n";
    char *out;
    const char *second;

    (void)state;
    out = exchange(two, sizeof(two) - 1, 2);
    second = strstr(out + 1, "HTTP/1.1 200");
    assert_true(strncmp(out, "HTTP/1.1 200", 12) == 0);
    assert_non_null(second);
    assert_non_null(strstr(second, "\r\nok"));
    free(out);
    /* the second request on the connection is judged on its own */
    out = exchange(good_then_bad, sizeof(good_then_bad) - 1, 2);
    assert_true(strncmp(out, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strstr(out + 1, "HTTP/1.1 400"));
    free(out);
}

static void
test_bare_lf(void **state)
{
    (void)state;
    REFUSED("GET / HTTP/1.1\nHost: x\r\n\r\n");           /* request line */
    REFUSED("GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n"); /* a header */
    REFUSED("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\n\r\n"); /* the last */
    REFUSED("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\n"); /* the empty line */
    REFUSED("GET / HTTP/1.1\r\nHost: x\n\n");
    REFUSED("GET / HTTP/1.1\nHost: x\nX-A: 1\n\n");
    REFUSED("GET / HTTP/1.1\r\nHost: x\r\nX-E:\nX-A: 1\r\n\r\n");
    REFUSED("GET / HTTP/1.0\n\n");
    REFUSED("GET / HTTP/1.0\r\n\n");
}

static void
test_obs_fold(void **state)
{
    char *req = malloc(REQ_MAX);
    size_t len = 0;

    (void)state;
    assert_non_null(req);
    REFUSED("GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n");
    REFUSED("GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\tc\r\n\r\n");
    REFUSED(
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n d\r\nX-B: 1\r\n\r\n");
    REFUSED("GET / HTTP/1.1\r\n Host: x\r\n\r\n");
    REFUSED("GET / HTTP/1.1\r\nX-A:\r\n c\r\nHost: x\r\n\r\n");
    /* a fold, then enough bytes that MHD moves its read buffer */
    add(req, &len, "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\nX-Long: ");
    add_filler(req, &len, 14000);
    add(req, &len, "\r\n\r\n");
    refused(req, len);
    free(req);
}

static void
test_bare_cr_and_nul(void **state)
{
    (void)state;
    REFUSED("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n");
    REFUSED("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\r\n\r\n");
    REFUSED("GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n");
    REFUSED("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n");
    REFUSED("GET / HTTP/1.1\r\nHost: x\r\nX-A\0: b\r\n\r\n");
}

/* The checker alone, on bytes as MHD leaves them: the edges of its input. */
static void
test_edges(void **state)
{
    static const char good[] = "GET\0/\0HTTP/1.1\0\0Host\0 x\0\0\0\0";
    size_t n = sizeof(good) - 1;

    (void)state;
    assert_null(sn_headlines_fault(good, n, 6));
    for (size_t cut = 7; cut < n; cut++)
        assert_non_null(sn_headlines_fault(good, cut, 6));
    assert_non_null(sn_headlines_fault(good, n, n));
    assert_non_null(sn_headlines_fault(good, n, n + 1));
    assert_non_null(sn_headlines_fault(NULL, n, 6));
    /* the version itself missing */
    assert_non_null(sn_headlines_fault(good, n, 5));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_formed),
        cmocka_unit_test(test_many_and_long),
        cmocka_unit_test(test_kept_connection),
        cmocka_unit_test(test_bare_lf),
        cmocka_unit_test(test_obs_fold),
        cmocka_unit_test(test_bare_cr_and_nul),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
