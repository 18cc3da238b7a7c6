/*
 * test_apiclient: the shared API client against a one-shot TLS server on
 * 127.0.0.1 run by OpenSSL in a thread (certificates from sn_tls_generate).
 * The server records the raw request so that the headers curl really sent
 * are checked, not what the client meant to send: the bearer token, no
 * Content-Type without a body, the body bytes. Limits: an answer past
 * max_response is refused, a short input file is reported, an unknown CA
 * fails verification, an over-long URL or token is refused before any
 * connection. Test input is trusted.
 */
#define _GNU_SOURCE /* strcasestr */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <curl/curl.h>
#include <openssl/ssl.h>

#include "apiclient/apiclient.h"
#include "crypto/tlsgen.h"

struct server {
    char dir[64], ca[96], cert[96], key[96];
    int lfd;
    char base[64];
    const char *answer; /* the raw HTTP response to send */
    char request[8192]; /* what arrived (headers and body) */
    size_t request_len;
    pthread_t thread;
};

static void
read_request(SSL *ssl, struct server *s)
{
    const char *end, *cl;
    size_t want = 0;
    int n;

    s->request_len = 0;
    for (;;) {
        n = SSL_read(ssl, s->request + s->request_len,
                     (int)(sizeof(s->request) - 1 - s->request_len));
        if (n <= 0)
            break;
        s->request_len += (size_t)n;
        s->request[s->request_len] = '\0';
        if ((end = strstr(s->request, "\r\n\r\n")) == NULL)
            continue;
        cl = strcasestr(s->request, "\r\nContent-Length: ");
        want = (size_t)(end + 4 - s->request);
        if (cl != NULL && cl < end)
            want += strtoul(cl + 18, NULL, 10);
        if (s->request_len >= want)
            break;
    }
}

static void *
serve(void *arg)
{
    struct server *s = arg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL *ssl = NULL;
    int fd;

    if (SSL_CTX_use_certificate_chain_file(ctx, s->cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, s->key, SSL_FILETYPE_PEM) != 1)
        goto out;
    if ((fd = accept(s->lfd, NULL, NULL)) < 0)
        goto out;
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
        read_request(ssl, s);
        SSL_write(ssl, s->answer, (int)strlen(s->answer));
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(fd);
out:
    SSL_CTX_free(ctx);
    return NULL;
}

static int
setup(void **state)
{
    struct server *s = calloc(1, sizeof(*s));
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);

    assert_non_null(s);
    snprintf(s->dir, sizeof(s->dir), "/tmp/sn_apiclient_XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->ca, sizeof(s->ca), "%s/ca.pem", s->dir);
    snprintf(s->cert, sizeof(s->cert), "%s/server.pem", s->dir);
    snprintf(s->key, sizeof(s->key), "%s/server.key", s->dir);
    assert_int_equal(sn_tls_generate(s->ca, s->cert, s->key), SN_OK);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(s->lfd, 4), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sa, &len), 0);
    snprintf(s->base, sizeof(s->base), "https://127.0.0.1:%u",
             (unsigned)ntohs(sa.sin_port));
    *state = s;
    return 0;
}

static int
teardown(void **state)
{
    struct server *s = *state;

    close(s->lfd);
    unlink(s->ca);
    unlink(s->cert);
    unlink(s->key);
    rmdir(s->dir);
    free(s);
    return 0;
}

static void
start(struct server *s, const char *answer)
{
    s->answer = answer;
    s->request[0] = '\0';
    s->request_len = 0;
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

/* Connects once to the server so a thread waiting in accept() ends. */
static void
finish(struct server *s, int served)
{
    int fd;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);

    if (!served) {
        assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sa, &len), 0);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(fd);
    }
    pthread_join(s->thread, NULL);
}

static void
cfg_init(struct sn_api_cfg *cfg, const struct server *s)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->base = s->base;
    cfg->ca_file = s->ca;
    cfg->user_agent = "signet-test/0";
    cfg->connect_timeout_s = 10;
    cfg->total_timeout_s = 30;
    cfg->max_response = 64;
    cfg->max_header = SN_API_MAX_HEADER;
}

static void
exchange(const struct sn_api_cfg *cfg, const struct sn_api_req *req,
         struct sn_api_resp *resp, sn_err want)
{
    CURL *curl = curl_easy_init();

    assert_non_null(curl);
    assert_int_equal(sn_api_perform(curl, cfg, req, resp), want);
    curl_easy_cleanup(curl);
}

static void
test_get(void **state)
{
    struct server *s = *state;
    struct sn_api_cfg cfg;
    struct sn_api_req req = {.method = "GET",
                             .path = "/v1/whoami",
                             .token = "tok-123",
                             .accept = "application/json"};
    struct sn_api_resp resp;

    cfg_init(&cfg, s);
    start(s,
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
          "Content-Length: 10\r\nConnection: close\r\n\r\n{\"a\":\"\x01\"}\n");
    exchange(&cfg, &req, &resp, SN_OK);
    finish(s, 1);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.len, 10);
    assert_memory_equal(resp.body, "{\"a\":\"\x01\"}\n", 10);
    assert_string_equal(resp.content_type, "application/json");
    assert_non_null(strstr(s->request, "GET /v1/whoami HTTP/1.1\r\n"));
    assert_non_null(
        strstr(s->request, "\r\nAuthorization: Bearer tok-123\r\n"));
    assert_non_null(strstr(s->request, "\r\nAccept: application/json\r\n"));
    assert_non_null(strstr(s->request, "\r\nUser-Agent: signet-test/0\r\n"));
    assert_null(strcasestr(s->request, "Content-Type"));
    sn_api_resp_cleanup(&resp);
}

static void
test_post_error_status(void **state)
{
    struct server *s = *state;
    struct sn_api_cfg cfg;
    struct sn_api_req req = {.method = "POST",
                             .path = "/v1/keys/k/sign",
                             .content_type = "application/json",
                             .accept = "application/json",
                             .data = "{\"x\":1}",
                             .len = 7};
    struct sn_api_resp resp;

    cfg_init(&cfg, s);
    start(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n"
             "Connection: close\r\n\r\n{}");
    exchange(&cfg, &req, &resp, SN_OK);
    finish(s, 1);
    /* A non-2xx answer is an answer: the caller decides what it means. */
    assert_int_equal(resp.status, 404);
    assert_int_equal(resp.len, 2);
    assert_null(strstr(s->request, "Authorization"));
    assert_non_null(
        strstr(s->request, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(s->request, "\r\nContent-Length: 7\r\n"));
    assert_non_null(strstr(s->request, "\r\n\r\n{\"x\":1}"));
    sn_api_resp_cleanup(&resp);
}

static void
test_too_large(void **state)
{
    struct server *s = *state;
    struct sn_api_cfg cfg;
    struct sn_api_req req = {
        .method = "GET", .path = "/big", .accept = "application/json"};
    struct sn_api_resp resp;
    static char answer[512];
    size_t n;

    cfg_init(&cfg, s);
    /* No Content-Length: the cap must hold while the body streams in. */
    n = (size_t)snprintf(answer, sizeof(answer),
                         "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    memset(answer + n, 'A', 65);
    answer[n + 65] = '\0';
    start(s, answer);
    exchange(&cfg, &req, &resp, SN_ERR_LIMIT);
    finish(s, 1);
    assert_int_equal(resp.fail, SN_API_FAIL_TOO_LARGE);
    assert_int_equal(resp.status, 0);
    assert_null(resp.body);
}

static void
test_exactly_max(void **state)
{
    struct server *s = *state;
    struct sn_api_cfg cfg;
    struct sn_api_req req = {
        .method = "GET", .path = "/big", .accept = "application/json"};
    struct sn_api_resp resp;
    static char answer[512];
    size_t n;

    cfg_init(&cfg, s);
    n = (size_t)snprintf(answer, sizeof(answer),
                         "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    memset(answer + n, 'A', 64);
    answer[n + 64] = '\0';
    start(s, answer);
    exchange(&cfg, &req, &resp, SN_OK);
    finish(s, 1);
    assert_int_equal(resp.len, 64);
    sn_api_resp_cleanup(&resp);
}

static void
test_short_file(void **state)
{
    struct server *s = *state;
    struct sn_api_cfg cfg;
    struct sn_api_req req = {.method = "PUT",
                             .path = "/up",
                             .content_type = "application/octet-stream",
                             .accept = "application/json",
                             .len = 100};
    struct sn_api_resp resp;
    FILE *f = tmpfile();

    assert_non_null(f);
    fputs("only ten b", f);
    rewind(f);
    req.file = f;
    cfg_init(&cfg, s);
    cfg.retries = 2; /* never applied to a streamed file */
    start(s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    exchange(&cfg, &req, &resp, SN_ERR_IO);
    finish(s, 1);
    assert_int_equal(resp.fail, SN_API_FAIL_INPUT);
    fclose(f);
}

static void
test_unknown_ca(void **state)
{
    struct server *s = *state;
    struct sn_api_cfg cfg;
    struct sn_api_req req = {
        .method = "GET", .path = "/", .accept = "application/json"};
    struct sn_api_resp resp;

    cfg_init(&cfg, s);
    cfg.ca_file = NULL; /* the system store does not know this root */
    start(s, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    exchange(&cfg, &req, &resp, SN_ERR_IO);
    finish(s, 1);
    assert_int_equal(resp.fail, SN_API_FAIL_TRANSPORT);
    assert_true(resp.detail[0] != '\0');
    assert_int_equal(s->request_len, 0);
}

static void
test_refused_locally(void **state)
{
    struct server *s = *state;
    struct sn_api_cfg cfg;
    struct sn_api_req req = {
        .method = "GET", .path = "/", .accept = "application/json"};
    struct sn_api_resp resp;
    char path[SN_API_MAX_URL + 8], token[300];

    cfg_init(&cfg, s);
    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    req.path = path;
    exchange(&cfg, &req, &resp, SN_ERR_LIMIT);
    assert_int_equal(resp.fail, SN_API_FAIL_URL);

    req.path = "/";
    memset(token, 't', sizeof(token) - 1);
    token[sizeof(token) - 1] = '\0';
    req.token = token;
    cfg.max_header = 256;
    exchange(&cfg, &req, &resp, SN_ERR_LIMIT);
    assert_int_equal(resp.fail, SN_API_FAIL_HEADERS);

    req.token = NULL;
    req.method = "PATCH";
    exchange(&cfg, &req, &resp, SN_ERR_INVALID);
    assert_int_equal(resp.fail, SN_API_FAIL_METHOD);

    /* Plain HTTP is never spoken, whatever the base URL says. */
    req.method = "GET";
    cfg.base = "http://127.0.0.1:1";
    exchange(&cfg, &req, &resp, SN_ERR_IO);
    assert_int_equal(resp.fail, SN_API_FAIL_TRANSPORT);
}

static void
test_printable(void **state)
{
    char out[8];

    (void)state;
    sn_api_printable(out, sizeof(out), "a\x1b[2Jb\xff\n");
    assert_string_equal(out, "a?[2Jb?");
    sn_api_printable(out, 3, "abcdef");
    assert_string_equal(out, "ab");
    assert_true(sn_api_header_safe("abc"));
    assert_false(sn_api_header_safe("a\r\nX: y"));
    assert_false(sn_api_header_safe("a b"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_printable),
        cmocka_unit_test(test_get),
        cmocka_unit_test(test_post_error_status),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_exactly_max),
        cmocka_unit_test(test_short_file),
        cmocka_unit_test(test_unknown_ca),
        cmocka_unit_test(test_refused_locally),
    };
    int r;

    /* The server thread may write to a client that already hung up. */
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    r = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return r;
}
