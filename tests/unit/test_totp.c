/*
 * Unit tests for auth/totp. The codes checked come from outside Signet:
 * RFC 6238 appendix B's SHA-1 vectors (truncated to 6 digits) and Debian's
 * oathtool (OATH Toolkit), run for each code. oathtool is a build
 * dependency (scripts/deps.sh): its absence fails the test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/totp.h"
#include "common/base32.h"
#include "common/util.h"

/* RFC 6238's SHA-1 seed: the ASCII digits 1..0 twice. */
static const uint8_t rfc_secret[] = "12345678901234567890";
#define RFC_SECRET_LEN 20

/*
 * oathtool --totp -b -N @t B32: the code of time t (6 digits) into code.
 * Run with fork and exec (no shell): the arguments are ours, but popen
 * is banned in the tree.
 */
static void
oathtool_code(const char *b32, time_t t, char code[SN_TOTP_DIGITS + 1])
{
    char when[32], out[64];
    int fd[2], status = 0;
    ssize_t n, got = 0;
    pid_t pid;

    snprintf(when, sizeof(when), "@%lld", (long long)t);
    assert_int_equal(pipe(fd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execlp("oathtool", "oathtool", "--totp", "-b", "-N", when, b32,
               (char *)NULL);
        fprintf(stderr, "oathtool: %s (install it: scripts/deps.sh)\n",
                strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    while (got < (ssize_t)sizeof(out) - 1 &&
           (n = read(fd[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
        got += n;
    close(fd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("oathtool failed (status 0x%x): is it installed?", status);
    out[got] = '\0';
    /* Six digits and a newline. */
    assert_int_equal(got, SN_TOTP_DIGITS + 1);
    assert_int_equal(out[SN_TOTP_DIGITS], '\n');
    memcpy(code, out, SN_TOTP_DIGITS);
    code[SN_TOTP_DIGITS] = '\0';
}

static void
test_rfc6238_vectors(void **state)
{
    /* Appendix B, SHA-1 column, last 6 of the 8 digits. */
    static const struct {
        time_t t;
        const char *code;
    } v[] = {
        {59, "287082"},         {1111111109, "081804"},
        {1111111111, "050471"}, {1234567890, "005924"},
        {2000000000, "279037"}, {(time_t)20000000000LL, "353130"},
    };
    int64_t step;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        print_message("T=%lld code %s\n", (long long)v[i].t, v[i].code);
        assert_int_equal(sn_totp_check(rfc_secret, RFC_SECRET_LEN, v[i].code,
                                       v[i].t, -1, &step),
                         1);
        assert_int_equal(step, (int64_t)v[i].t / 30);
        /* The same code again, with its step recorded: a replay. */
        assert_int_equal(sn_totp_check(rfc_secret, RFC_SECRET_LEN, v[i].code,
                                       v[i].t, step, &step),
                         0);
        assert_int_equal(step, 0);
    }
}

/* The RFC's secret as oathtool sees it gives the RFC's codes. */
static void
test_oathtool_agrees_with_rfc(void **state)
{
    char code[SN_TOTP_DIGITS + 1];

    (void)state;
    oathtool_code("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 1111111109, code);
    assert_string_equal(code, "081804");
}

/* Codes of now -30/0/+30 s are accepted, of +-60 s refused, at times
 * inside a step and on its edges. */
static void
test_oathtool_skew(void **state)
{
    static const time_t nows[] = {1700000015, 1700000010, 1700000039,
                                  1799999999};
    static const int ok_off[] = {-30, 0, 30}, bad_off[] = {-60, 60, -90, 90};
    uint8_t s[SN_TOTP_SECRET_LEN];
    char b32[SN_BASE32_LEN(SN_TOTP_SECRET_LEN) + 1];
    char code[SN_TOTP_DIGITS + 1], ok_codes[3][SN_TOTP_DIGITS + 1];
    int64_t step;
    size_t i, j, k;

    (void)state;
    assert_int_equal(sn_totp_secret_new(s), SN_OK);
    sn_base32_encode(s, sizeof(s), b32);
    for (i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
        time_t now = nows[i];
        for (j = 0; j < 3; j++) {
            oathtool_code(b32, now + ok_off[j], code);
            memcpy(ok_codes[j], code, sizeof(code));
            print_message("now %lld %+d s: %s accepted\n", (long long)now,
                          ok_off[j], code);
            assert_int_equal(sn_totp_check(s, sizeof(s), code, now, 0, &step),
                             1);
            assert_int_equal(step, (int64_t)(now + ok_off[j]) / 30);
        }
        for (j = 0; j < sizeof(bad_off) / sizeof(bad_off[0]); j++) {
            oathtool_code(b32, now + bad_off[j], code);
            /* A far step's code may equal a near one's (1 in 10^6). */
            for (k = 0; k < 3; k++)
                if (strcmp(code, ok_codes[k]) == 0)
                    break;
            if (k < 3)
                continue;
            print_message("now %lld %+d s: %s refused\n", (long long)now,
                          bad_off[j], code);
            assert_int_equal(sn_totp_check(s, sizeof(s), code, now, 0, &step),
                             0);
            assert_int_equal(step, 0);
        }
    }
}

/* A step at or before the last accepted one is refused (replay). */
static void
test_replay(void **state)
{
    const time_t now = 1700000015;
    const int64_t cur = now / 30;
    uint8_t s[SN_TOTP_SECRET_LEN];
    char b32[SN_BASE32_LEN(SN_TOTP_SECRET_LEN) + 1];
    char code[SN_TOTP_DIGITS + 1], prev[SN_TOTP_DIGITS + 1];
    int64_t step;

    (void)state;
    assert_int_equal(sn_totp_secret_new(s), SN_OK);
    sn_base32_encode(s, sizeof(s), b32);
    oathtool_code(b32, now, code);
    oathtool_code(b32, now - 30, prev);
    assert_int_equal(sn_totp_check(s, sizeof(s), code, now, cur - 1, &step), 1);
    assert_int_equal(step, cur);
    assert_int_equal(sn_totp_check(s, sizeof(s), code, now, cur, &step), 0);
    assert_int_equal(sn_totp_check(s, sizeof(s), code, now, cur + 1, &step), 0);
    /* The previous step's code after the current one was used. */
    if (strcmp(prev, code) != 0) {
        assert_int_equal(sn_totp_check(s, sizeof(s), prev, now, cur, &step), 0);
        assert_int_equal(sn_totp_check(s, sizeof(s), prev, now, cur - 2, &step),
                         1);
        assert_int_equal(step, cur - 1);
    }
}

/* Only exactly six ASCII digits are codes, even around a right one. */
static void
test_malformed(void **state)
{
    static const char *bad[] = {"12345",
                                "1234567",
                                "12a456",
                                " 123456",
                                "",
                                "123456 ",
                                "-12345",
                                "+12345",
                                "12345\n",
                                "\xef\xbc\x91"
                                "23456"};
    const time_t now = 1111111109;
    char ok[SN_TOTP_DIGITS + 1], buf[32];
    int64_t step = 77;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("refuse \"%s\"\n", bad[i]);
        assert_int_equal(
            sn_totp_check(rfc_secret, RFC_SECRET_LEN, bad[i], now, -1, &step),
            0);
        assert_int_equal(step, 0);
    }
    assert_int_equal(
        sn_totp_check(rfc_secret, RFC_SECRET_LEN, NULL, now, -1, &step), 0);
    oathtool_code("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", now, ok);
    snprintf(buf, sizeof(buf), " %s", ok);
    assert_int_equal(
        sn_totp_check(rfc_secret, RFC_SECRET_LEN, buf, now, -1, &step), 0);
    snprintf(buf, sizeof(buf), "%s\n", ok);
    assert_int_equal(
        sn_totp_check(rfc_secret, RFC_SECRET_LEN, buf, now, -1, &step), 0);
    snprintf(buf, sizeof(buf), "0%s", ok);
    assert_int_equal(
        sn_totp_check(rfc_secret, RFC_SECRET_LEN, buf, now, -1, &step), 0);
    /* No secret, no acceptance. */
    assert_int_equal(sn_totp_check(rfc_secret, 0, ok, now, -1, &step), 0);
    assert_int_equal(
        sn_totp_check(rfc_secret, RFC_SECRET_LEN, ok, now, -1, &step), 1);
}

static void
test_uri(void **state)
{
    char *uri = NULL;
    char longname[200];

    (void)state;
    assert_int_equal(sn_totp_uri("Signet Test", "alice@example.com", rfc_secret,
                                 RFC_SECRET_LEN, &uri),
                     SN_OK);
    assert_string_equal(uri, "otpauth://totp/Signet%20Test:alice%40example.com"
                             "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                             "&issuer=Signet%20Test&algorithm=SHA1&digits=6"
                             "&period=30");
    sn_secret_free(uri);
    uri = NULL;
    /* Unreserved characters stay, a colon and UTF-8 are encoded. */
    assert_int_equal(
        sn_totp_uri("a-b.c_d~e", "x:y\xc3\xa9", rfc_secret, 1, &uri), SN_OK);
    assert_string_equal(uri, "otpauth://totp/a-b.c_d~e:x%3Ay%C3%A9"
                             "?secret=GE&issuer=a-b.c_d~e&algorithm=SHA1"
                             "&digits=6&period=30");
    sn_secret_free(uri);
    uri = NULL;
    assert_int_equal(sn_totp_uri("", "a", rfc_secret, 20, &uri),
                     SN_ERR_INVALID);
    assert_int_equal(sn_totp_uri("i", "", rfc_secret, 20, &uri),
                     SN_ERR_INVALID);
    assert_int_equal(sn_totp_uri("i", "a", rfc_secret, 0, &uri),
                     SN_ERR_INVALID);
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(sn_totp_uri(longname, "a", rfc_secret, 20, &uri),
                     SN_ERR_INVALID);
    assert_null(uri);
}

static void
test_secret_new(void **state)
{
    uint8_t a[SN_TOTP_SECRET_LEN], b[SN_TOTP_SECRET_LEN];

    (void)state;
    assert_int_equal(sn_totp_secret_new(a), SN_OK);
    assert_int_equal(sn_totp_secret_new(b), SN_OK);
    assert_memory_not_equal(a, b, sizeof(a));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6238_vectors),
        cmocka_unit_test(test_oathtool_agrees_with_rfc),
        cmocka_unit_test(test_oathtool_skew),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_uri),
        cmocka_unit_test(test_secret_new),
    };

    return cmocka_run_group_tests_name("totp", tests, NULL, NULL);
}
