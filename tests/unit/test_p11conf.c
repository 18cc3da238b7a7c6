/*
 * Unit tests for pkcs11/conf: the environment over the file, each setting
 * named by its source, and the one-line reports: once per cause, naming
 * the setting, never a token (not even one typed as a key of the file),
 * never a URL's password. stderr is captured into a temporary file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkcs11/conf.h"

#define SECRET "sn_00000000-0000-0000-0000-000000000000_secretsecret"

static char errpath[] = "/tmp/test_p11conf.XXXXXX";
static int saved_fd = -1;

/* Sends stderr to a fresh temporary file. */
static void
capture(void)
{
    int fd = mkstemp(errpath);

    assert_true(fd >= 0);
    fflush(stderr);
    saved_fd = dup(2);
    dup2(fd, 2);
    close(fd);
}

/* Restores stderr; returns what was written (the caller frees it). */
static char *
captured(void)
{
    char *buf = calloc(1, 4096);
    size_t n;
    FILE *f;

    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    assert_non_null(buf);
    assert_non_null(f = fopen(errpath, "r"));
    n = fread(buf, 1, 4095, f);
    buf[n] = '\0';
    fclose(f);
    unlink(errpath);
    memcpy(errpath + strlen(errpath) - 6, "XXXXXX", 6);
    return buf;
}

static int
lines(const char *s)
{
    int n = 0;

    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

static void
clear_env(void)
{
    unsetenv("SIGNET_URL");
    unsetenv("SIGNET_CA_FILE");
    unsetenv("SIGNET_TOKEN");
    unsetenv("SIGNET_PKCS11_CONF");
    unsetenv("SIGNET_PKCS11_DEBUG");
    unsetenv("SIGNET_ID_TOKEN_FILE");
    unsetenv("SIGNET_OIDC_AUDIENCE");
    unsetenv("SIGNET_APPROVAL_WAIT");
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
test_url_shown(void **state)
{
    char out[128];

    (void)state;
    sn_p11_url_shown("https://h.example:8443", out, sizeof(out));
    assert_string_equal(out, "https://h.example:8443");
    sn_p11_url_shown("https://user:pw@h.example:8443/x@y", out, sizeof(out));
    assert_string_equal(out, "https://h.example:8443/x@y");
    sn_p11_url_shown("http://a:b@h", out, sizeof(out));
    assert_string_equal(out, "http://h");
}

/* The environment wins over the file; each value says where it came from. */
static void
test_sources(void **state)
{
    struct sn_p11_conf c;
    char *err;

    (void)state;
    clear_env();
    write_file("p11conf.test", "# comment\n url = https://file:1/ \n"
                               "ca_file = /dev/null\ntoken = " SECRET "\n");
    setenv("SIGNET_PKCS11_CONF", "p11conf.test", 1);
    setenv("SIGNET_URL", "https://env:2//", 1);
    capture();
    assert_int_equal(sn_p11_conf_load(&c), SN_OK);
    err = captured();
    assert_string_equal(err, "");
    assert_string_equal(c.conn.url, "https://env:2");
    assert_string_equal(c.url_from, "SIGNET_URL");
    assert_string_equal(c.conn.ca_file, "/dev/null");
    assert_string_equal(c.ca_from, "ca_file in p11conf.test");
    assert_string_equal(c.token, SECRET);
    assert_string_equal(c.token_from, "the token in p11conf.test");
    sn_p11_conf_cleanup(&c);
    free(err);
    unlink("p11conf.test");
    clear_env();
}

/* Issue 16: the ID token settings, the environment over the file. */
static void
test_id_token_settings(void **state)
{
    struct sn_p11_conf c;
    char *err;

    (void)state;
    clear_env();
    write_file("p11conf.oidc", "url = https://h:1\nid_token_file = /f/jwt\n"
                               "oidc_audience = signet-ci\n");
    setenv("SIGNET_PKCS11_CONF", "p11conf.oidc", 1);
    capture();
    assert_int_equal(sn_p11_conf_load(&c), SN_OK);
    assert_null(c.token);
    assert_string_equal(c.id_token_file, "/f/jwt");
    assert_string_equal(c.audience, "signet-ci");
    sn_p11_conf_cleanup(&c);
    setenv("SIGNET_ID_TOKEN_FILE", "/e/jwt", 1);
    setenv("SIGNET_OIDC_AUDIENCE", "other", 1);
    assert_int_equal(sn_p11_conf_load(&c), SN_OK);
    assert_string_equal(c.id_token_file, "/e/jwt");
    assert_string_equal(c.audience, "other");
    sn_p11_conf_cleanup(&c);
    err = captured();
    assert_string_equal(err, "");
    free(err);
    unlink("p11conf.oidc");
    clear_env();
}

/*
 * Issue 17: approval_wait, C_Sign's wait for a sign request's approvals:
 * 300 s by default, the file's, the environment's over it; 0 means no
 * wait; anything but 0..604800 seconds in digits is refused.
 */
static void
test_approval_wait(void **state)
{
    static const char *const bad[] = {"-1", "5m",  "604801",  "",
                                      " ",  "1e3", "99999999"};
    struct sn_p11_conf c;
    char *err;
    size_t i;

    (void)state;
    clear_env();
    capture();
    assert_int_equal(sn_p11_conf_load(&c), SN_OK);
    assert_int_equal(c.approval_wait, 300);
    sn_p11_conf_cleanup(&c);
    write_file("p11conf.wait", "url = https://h:1\napproval_wait = 45\n");
    setenv("SIGNET_PKCS11_CONF", "p11conf.wait", 1);
    assert_int_equal(sn_p11_conf_load(&c), SN_OK);
    assert_int_equal(c.approval_wait, 45);
    sn_p11_conf_cleanup(&c);
    setenv("SIGNET_APPROVAL_WAIT", "0", 1);
    assert_int_equal(sn_p11_conf_load(&c), SN_OK);
    assert_int_equal(c.approval_wait, 0);
    sn_p11_conf_cleanup(&c);
    setenv("SIGNET_APPROVAL_WAIT", "604800", 1);
    assert_int_equal(sn_p11_conf_load(&c), SN_OK);
    assert_int_equal(c.approval_wait, 604800);
    sn_p11_conf_cleanup(&c);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("SIGNET_APPROVAL_WAIT", bad[i], 1);
        /* "" is unset for the environment: the file's 45 stands. */
        if (bad[i][0] == '\0') {
            assert_int_equal(sn_p11_conf_load(&c), SN_OK);
            assert_int_equal(c.approval_wait, 45);
        } else if (sn_p11_conf_load(&c) != SN_ERR_CONFIG)
            fail_msg("SIGNET_APPROVAL_WAIT=\"%s\" accepted", bad[i]);
        sn_p11_conf_cleanup(&c);
    }
    unsetenv("SIGNET_APPROVAL_WAIT");
    write_file("p11conf.wait", "url = https://h:1\napproval_wait = 10s\n");
    assert_int_equal(sn_p11_conf_load(&c), SN_ERR_CONFIG);
    sn_p11_conf_cleanup(&c);
    err = captured();
    free(err);
    unlink("p11conf.wait");
    clear_env();
}

/*
 * A bad line fails with one line naming the file and line; the key is not
 * echoed (here a token pasted where a key belongs). Also the causes are
 * said once: the second load prints nothing.
 */
static void
test_bad_file_once(void **state)
{
    struct sn_p11_conf c;
    char *err;

    (void)state;
    clear_env();
    write_file("p11conf.bad", "url = https://h:1\n" SECRET " = x\n");
    setenv("SIGNET_PKCS11_CONF", "p11conf.bad", 1);
    capture();
    assert_int_equal(sn_p11_conf_load(&c), SN_ERR_CONFIG);
    sn_p11_conf_cleanup(&c);
    assert_int_equal(sn_p11_conf_load(&c), SN_ERR_CONFIG);
    sn_p11_conf_cleanup(&c);
    err = captured();
    assert_int_equal(lines(err), 1);
    assert_non_null(strstr(err, "libsignet-pkcs11: SIGNET_PKCS11_CONF "
                                "p11conf.bad line 2: "));
    assert_null(strstr(err, "secretsecret"));
    free(err);
    unlink("p11conf.bad");
    clear_env();
}

/* A URL that is not https fails, named, without its password. */
static void
test_not_https(void **state)
{
    struct sn_p11_conf c;
    char *err;

    (void)state;
    clear_env();
    setenv("SIGNET_URL", "http://me:hunter2@h:1", 1);
    capture();
    assert_int_equal(sn_p11_conf_load(&c), SN_ERR_CONFIG);
    err = captured();
    sn_p11_conf_cleanup(&c);
    assert_string_equal(
        err, "libsignet-pkcs11: SIGNET_URL http://h:1: must start with "
             "https://\n");
    free(err);
    clear_env();
}

/* A missing CA file is said at load, which still succeeds. */
static void
test_ca_file(void **state)
{
    struct sn_p11_conf c;
    char *err;

    (void)state;
    clear_env();
    setenv("SIGNET_URL", "https://h:1", 1);
    setenv("SIGNET_CA_FILE", "/nonexistent/ca.pem", 1);
    setenv("SIGNET_TOKEN", SECRET, 1);
    capture();
    assert_int_equal(sn_p11_conf_load(&c), SN_OK);
    err = captured();
    sn_p11_conf_cleanup(&c);
    assert_string_equal(err, "libsignet-pkcs11: SIGNET_CA_FILE "
                             "/nonexistent/ca.pem: No such file or "
                             "directory\n");
    free(err);
    clear_env();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_shown),
        cmocka_unit_test(test_sources),
        cmocka_unit_test(test_id_token_settings),
        cmocka_unit_test(test_bad_file_once),
        cmocka_unit_test(test_not_https),
        cmocka_unit_test(test_ca_file),
        /* after test_bad_file_once: its refusals are the file's cause,
         * which is said once per process */
        cmocka_unit_test(test_approval_wait),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
