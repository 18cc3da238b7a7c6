/*
 * test_log: src/common/log.c. Every record is one line in one format:
 * "TIME LEVEL [client=ADDR ]MESSAGE", the time in UTC, RFC 3339 with
 * milliseconds. Control characters of a message (it may quote a client)
 * become '?', a long message is cut and still ends the line, and the
 * client field is per thread and only ever one word.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <regex.h>

#include "common/log.h"

static const char line_re[] =
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
    "(debug|info|warn|error) (client=[0-9A-Za-z.:%_-]+ )?[^ ][^\n]*\n$";

/* What one sn_log call writes: stderr is a pipe meanwhile. */
static void
capture(char *out, size_t len, void (*fn)(void))
{
    int p[2], saved;
    ssize_t n;

    assert_int_equal(pipe(p), 0);
    saved = dup(STDERR_FILENO);
    dup2(p[1], STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(p[1]);
    n = read(p[0], out, len - 1);
    close(p[0]);
    assert_true(n > 0);
    out[n] = '\0';
}

static void
assert_line(const char *s)
{
    regex_t re;

    assert_int_equal(regcomp(&re, line_re, REG_EXTENDED | REG_NOSUB), 0);
    if (regexec(&re, s, 0, NULL, 0) != 0)
        fail_msg("not a log line: '%s'", s);
    regfree(&re);
}

static void
plain(void)
{
    sn_warn("http: %s", "plain");
}

static void
with_client(void)
{
    sn_log_set_client("2001:db8::7");
    sn_error("auth: unknown token");
    sn_log_set_client(NULL);
}

static void
controls(void)
{
    sn_info("quoted \"a\r\nb\x1b[31m\x7f\" end\n");
}

static void
bad_client(void)
{
    /* Not an address: no field rather than a second word. */
    sn_log_set_client("1.2.3.4 forged");
    sn_warn("x");
    sn_log_set_client(NULL);
}

static void
long_message(void)
{
    char big[3000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sn_log_set_client("192.0.2.1");
    sn_info("%s", big);
    sn_log_set_client(NULL);
}

static void
test_format(void **state)
{
    char out[4096];

    (void)state;
    capture(out, sizeof(out), plain);
    assert_line(out);
    assert_non_null(strstr(out, "Z warn http: plain\n"));
    capture(out, sizeof(out), with_client);
    assert_line(out);
    assert_non_null(strstr(out, "Z error client=2001:db8::7 auth: unknown"));
    /* Cleared: the next line names no client. */
    capture(out, sizeof(out), plain);
    assert_null(strstr(out, "client="));
}

static void
test_one_line(void **state)
{
    char out[4096];

    (void)state;
    capture(out, sizeof(out), controls);
    assert_line(out);
    assert_non_null(strstr(out, "quoted \"a??b?[31m?\" end\n"));
    capture(out, sizeof(out), bad_client);
    assert_line(out);
    assert_null(strstr(out, "client="));
    capture(out, sizeof(out), long_message);
    assert_line(out);
    assert_int_equal(strlen(out), 1023); /* the line's maximum, less one */
}

static struct sn_log_limit budget = SN_LOG_LIMIT(3, 3600);

static void
flood(void)
{
    int i;

    for (i = 0; i < 50; i++)
        sn_log_limited(&budget, SN_LOG_WARN, "auth: refused %d", i);
}

static void
next_window(void)
{
    budget.window -= 3600; /* as if the hour had passed */
    sn_log_limited(&budget, SN_LOG_WARN, "auth: refused again");
}

/* A budget of 3 lines: 50 calls write 3; the first line of the next
 * window says how many were left out. */
static void
test_limited(void **state)
{
    char out[4096];

    (void)state;
    capture(out, sizeof(out), flood);
    assert_non_null(strstr(out, "refused 2\n"));
    assert_null(strstr(out, "refused 3"));
    capture(out, sizeof(out), next_window);
    assert_line(out);
    assert_non_null(
        strstr(out, "refused again (and 47 more like it left out)"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_limited),
        cmocka_unit_test(test_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
