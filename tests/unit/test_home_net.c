/*
 * Unit tests for daemon/home.c's judgement of a base URL against the
 * public listener (what signetd init warns about and signetd check
 * reports), and for http/server.c's sn_http_listen, whose failure reason
 * serve puts in its one-line bind error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/home.h"
#include "http/server.h"

static const struct {
    const char *url, *listen;
    const char *finding; /* NULL: none */
} cases[] = {
    {"http://127.0.0.1:8080", "127.0.0.1:8080", NULL},
    {"http://localhost:8080", "127.0.0.1:8080", NULL},
    {"http://[::1]:8080", "[::1]:8080", NULL},
    {"http://signet.example/pki", "0.0.0.0:80", NULL},
    {"http://192.0.2.7:8080", "[::]:8080", NULL},
    {"http://127.0.0.1:8080", "off", NULL},
    {"http://127.0.0.1:8080", "0.0.0.0:8080", "names this machine's loopback"},
    {"http://signet.example", "127.0.0.1:80", "is loopback only"},
    {"http://signet.example:8080", "0.0.0.0:9090",
     "names port 8080 but public.listen 0.0.0.0:9090 is port 9090"},
    {"http://signet.example", "0.0.0.0:8080", "names port 80"},
    {"http://signet.example/a?b", "0.0.0.0:80", "ca.base_url"},
    {"http://0.0.0.0:80", "0.0.0.0:80", "no address a client can reach"},
};

static void
test_mismatch(void **state)
{
    char why[512];
    size_t i;
    int r;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        r = sn_home_net_mismatch(cases[i].url, cases[i].listen, why,
                                 sizeof(why));
        if (cases[i].finding == NULL && r != 0)
            fail_msg("%s on %s: expected no finding, got \"%s\"", cases[i].url,
                     cases[i].listen, why);
        if (cases[i].finding != NULL &&
            (r != 1 || strstr(why, cases[i].finding) == NULL))
            fail_msg("%s on %s: expected \"%s\", got %d \"%s\"", cases[i].url,
                     cases[i].listen, cases[i].finding, r, why);
    }
}

/* A port another socket holds: the reason is the system's, not "port 0". */
static void
test_listen_in_use(void **state)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    char addr[32], why[128];
    int s, fd = 0;

    (void)state;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true((s = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s, 1), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(a.sin_port));

    assert_int_equal(sn_http_listen(addr, &fd, why, sizeof(why)), SN_ERR_IO);
    assert_int_equal(fd, -1);
    assert_string_equal(why, "Address already in use");
    close(s);
    /* Free again: bound, and handed back. */
    assert_int_equal(sn_http_listen(addr, &fd, why, sizeof(why)), SN_OK);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sn_http_listen("localhost:8080", &fd, why, sizeof(why)),
                     SN_ERR_CONFIG);
    assert_int_equal(fd, -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mismatch),
        cmocka_unit_test(test_listen_in_use),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
