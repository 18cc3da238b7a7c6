/*
 * Unit tests for cli/sessionfile: where the login session is stored (the
 * XDG base directory rules), the modes it is made with, a round trip, and
 * the files it refuses to use (damaged, or readable by others). Modes are
 * read back with stat(2); contents are written by hand for the refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/sessionfile.h"
#include "support.h"

#define TOKEN "sn_0b4f6a0e-0000-4000-8000-000000000001_abcdefghijklmnop"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/sn-test-session-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    unsetenv("XDG_CONFIG_HOME");
    return setenv("HOME", dir, 1);
}

static int
teardown(void **state)
{
    (void)state;
    sn_test_rm_rf(dir);
    return 0;
}

static void
test_path(void **state)
{
    char p[SN_SESSIONFILE_PATH_MAX], want[256];

    (void)state;
    setenv("XDG_CONFIG_HOME", "/x/cfg", 1);
    assert_int_equal(sn_sessionfile_path(p, sizeof(p)), SN_OK);
    assert_string_equal(p, "/x/cfg/signet/session");
    /* A relative XDG_CONFIG_HOME is ignored (the XDG specification). */
    setenv("XDG_CONFIG_HOME", "rel/cfg", 1);
    assert_int_equal(sn_sessionfile_path(p, sizeof(p)), SN_OK);
    snprintf(want, sizeof(want), "%s/.config/signet/session", dir);
    assert_string_equal(p, want);
    unsetenv("XDG_CONFIG_HOME");
    assert_int_equal(sn_sessionfile_path(p, sizeof(p)), SN_OK);
    assert_string_equal(p, want);
    unsetenv("HOME");
    assert_int_equal(sn_sessionfile_path(p, sizeof(p)), SN_ERR_CONFIG);
    setenv("HOME", dir, 1);
}

static void
fill(struct sn_sessionfile *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->url, sizeof(s->url), "https://signet.example:8443");
    s->token = strdup(TOKEN);
    assert_non_null(s->token);
    s->expires_at = 2000000000;
    snprintf(s->ca_file, sizeof(s->ca_file), "/etc/signet/ca.pem");
    snprintf(s->name, sizeof(s->name), "alice");
    snprintf(s->account, sizeof(s->account), "acct-1");
    s->mfa = 1;
}

static void
test_round_trip_modes(void **state)
{
    struct sn_sessionfile s, t;
    char p[SN_SESSIONFILE_PATH_MAX], cfg[128], why[512];
    struct stat st;

    (void)state;
    /* Two directories to make: both 0700, whatever the umask. */
    snprintf(cfg, sizeof(cfg), "%s/deep/cfg", dir);
    setenv("XDG_CONFIG_HOME", cfg, 1);
    umask(022);
    fill(&s);
    assert_int_equal(sn_sessionfile_save(&s, why, sizeof(why)), SN_OK);
    assert_int_equal(sn_sessionfile_path(p, sizeof(p)), SN_OK);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(cfg, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(cfg, sizeof(cfg), "%s/deep/cfg/signet", dir);
    assert_int_equal(stat(cfg, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(sn_sessionfile_load(&t, why, sizeof(why)), SN_OK);
    assert_string_equal(t.url, s.url);
    assert_string_equal(t.token, TOKEN);
    assert_int_equal(t.expires_at, 2000000000);
    assert_string_equal(t.ca_file, s.ca_file);
    assert_string_equal(t.name, "alice");
    assert_string_equal(t.account, "acct-1");
    assert_int_equal(t.mfa, 1);
    sn_sessionfile_cleanup(&t);
    /* Saved again: replaced whole. */
    s.mfa = 0;
    assert_int_equal(sn_sessionfile_save(&s, why, sizeof(why)), SN_OK);
    assert_int_equal(sn_sessionfile_load(&t, why, sizeof(why)), SN_OK);
    assert_int_equal(t.mfa, 0);
    sn_sessionfile_cleanup(&t);
    sn_sessionfile_cleanup(&s);
    /* Others may not read it. */
    assert_int_equal(chmod(p, 0640), 0);
    assert_int_equal(sn_sessionfile_load(&t, why, sizeof(why)), SN_ERR_STATE);
    print_message("%s\n", why);
    assert_non_null(strstr(why, "not private"));
    assert_null(t.token);
    assert_int_equal(sn_sessionfile_remove(why, sizeof(why)), SN_OK);
    assert_int_equal(sn_sessionfile_remove(why, sizeof(why)), SN_ERR_NOT_FOUND);
    assert_int_equal(sn_sessionfile_load(&t, why, sizeof(why)),
                     SN_ERR_NOT_FOUND);
    unsetenv("XDG_CONFIG_HOME");
}

static void
test_refused(void **state)
{
    static const char *bad[] = {
        "not json",
        "[]",
        "{}",
        /* no token */
        "{\"url\":\"https://a\"}",
        /* plain HTTP */
        "{\"url\":\"http://a\",\"token\":\"" TOKEN "\"}",
        /* a token that could not go in a header */
        "{\"url\":\"https://a\",\"token\":\"sn_a b\"}",
        "{\"url\":\"https://a\",\"token\":\"\"}",
        "{\"url\":\"https://a\",\"token\":\"sn_\\u0001\"}",
        /* a relative CA file, an expiry that is no time, mfa not a bool */
        "{\"url\":\"https://a\",\"token\":\"t\",\"ca_file\":\"ca.pem\"}",
        "{\"url\":\"https://a\",\"token\":\"t\",\"expires_at\":\"soon\"}",
        "{\"url\":\"https://a\",\"token\":\"t\",\"mfa\":1}",
        /* a key twice */
        "{\"url\":\"https://a\",\"token\":\"t\",\"token\":\"u\"}",
    };
    struct sn_sessionfile t;
    char sdir[128], why[512];
    size_t i;

    (void)state;
    snprintf(sdir, sizeof(sdir), "%s/.config", dir);
    mkdir(sdir, 0700);
    snprintf(sdir, sizeof(sdir), "%s/.config/signet", dir);
    mkdir(sdir, 0700);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("refuse %s\n", bad[i]);
        sn_test_write_file(sdir, "session", bad[i], strlen(bad[i]), 0600);
        assert_int_equal(sn_sessionfile_load(&t, why, sizeof(why)),
                         SN_ERR_INVALID);
        assert_null(t.token);
    }
    /* The least a usable file holds. */
    {
        static const char min[] = "{\"url\":\"https://a\",\"token\":\"t\"}";
        sn_test_write_file(sdir, "session", min, sizeof(min) - 1, 0600);
    }
    assert_int_equal(sn_sessionfile_load(&t, why, sizeof(why)), SN_OK);
    assert_int_equal(t.expires_at, 0);
    assert_string_equal(t.ca_file, "");
    sn_sessionfile_cleanup(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
    };

    return cmocka_run_group_tests_name("sessionfile", tests, NULL, NULL);
}
