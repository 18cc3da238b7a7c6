/*
 * Unit tests for server/config: a full valid file, defaults, and every
 * class of error with its "PATH:LINE:" prefix. Each test gets a fresh home
 * directory; the config file lives inside it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"

#define REQUIRED                                                               \
    "hsm.module = /usr/lib/softhsm/libsofthsm2.so\n"                           \
    "hsm.service_token = signet-service\n"                                     \
    "hsm.service_pin_file = hsm/service.pin\n"

/* Substring and prefix checks that print both strings when they fail. */
#define assert_contains(hay, needle)                                           \
    do {                                                                       \
        if (strstr((hay), (needle)) == NULL)                                   \
            fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));       \
    } while (0)
#define assert_prefix(s, prefix)                                               \
    do {                                                                       \
        if (strncmp((s), (prefix), strlen(prefix)) != 0)                       \
            fail_msg("\"%s\" does not start with \"%s\"", (s), (prefix));      \
    } while (0)

struct fx {
    char home[64];
    char abs[PATH_MAX]; /* realpath of home, what the parser should store */
    char conf[128];
    char err[512];
    struct sn_config cfg;
};

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->home, sizeof(f->home), "/tmp/sn-test-config-XXXXXX");
    if (mkdtemp(f->home) == NULL || realpath(f->home, f->abs) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->conf, sizeof(f->conf), "%s/signetd.conf", f->home);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    sn_config_cleanup(&f->cfg);
    unlink(f->conf);
    rmdir(f->home);
    free(f);
    return 0;
}

static void
write_conf(struct fx *f, const char *text, size_t len)
{
    FILE *fp = fopen(f->conf, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static sn_err
load(struct fx *f, const char *text)
{
    write_conf(f, text, strlen(text));
    sn_config_cleanup(&f->cfg);
    f->err[0] = '\0';
    return sn_config_load(f->conf, f->home, &f->cfg, f->err, sizeof(f->err));
}

/* HOME_ABS/rel, for comparing resolved paths. */
static const char *
in_home(struct fx *f, const char *rel)
{
    static char buf[PATH_MAX + 64];

    snprintf(buf, sizeof(buf), "%s/%s", f->abs, rel);
    return buf;
}

static void
assert_zeroed(const struct sn_config *cfg)
{
    static const struct sn_config zero;

    assert_memory_equal(cfg, &zero, sizeof(zero));
}

/*
 * Loads text, expects SN_ERR_CONFIG, an errbuf starting "CONF:LINE: " and
 * containing what, and a config left zeroed.
 */
static void
expect_error(struct fx *f, const char *text, unsigned line, const char *what)
{
    char prefix[256];

    print_message("config:\n%s", text);
    assert_int_equal(load(f, text), SN_ERR_CONFIG);
    snprintf(prefix, sizeof(prefix), "%s:%u: ", f->conf, line);
    print_message("error: %s\n", f->err);
    assert_string_equal(
        strncmp(f->err, prefix, strlen(prefix)) == 0 ? prefix : f->err, prefix);
    assert_contains(f->err, what);
    assert_zeroed(&f->cfg);
}

static void
test_full(void **state)
{
    struct fx *f = *state;
    const struct sn_token_map *m;

    assert_int_equal(
        load(f, "# Signet test configuration\n"
                "\n"
                "   # indented comment\n"
                "listen = 0.0.0.0:9443\n"
                "database=/var/lib/signet/signet.db\n"
                "tls.cert\t=\tcerts/server.pem  \n"
                "tls.key = ./certs/server.key\r\n"
                "limits.json_body = 4M\n"
                "limits.file_body = 3G\n"
                "server.threads = 16\n"
                "server.event_threads = 3\n"
                "hsm.parallelism = 24\n"
                "hsm.module = /usr/lib/softhsm/libsofthsm2.so\n"
                "hsm.softhsm_conf = hsm/softhsm2.conf\n"
                "hsm.tokens = mapped\n"
                "hsm.service_token = signet-service\n"
                "hsm.service_pin_file = /etc/signet/service.pin\n"
                "hsm.subscriber_token = alice part-alice pins/alice.pin\n"
                "hsm.subscriber_token =  bob\tpart.bob   /etc/bob#1.pin \n"
                "\n"),
        SN_OK);
    assert_string_equal(f->err, "");
    assert_string_equal(f->cfg.home, f->abs);
    assert_string_equal(f->cfg.listen, "0.0.0.0:9443");
    assert_string_equal(f->cfg.database, "/var/lib/signet/signet.db");
    assert_string_equal(f->cfg.tls_cert, in_home(f, "certs/server.pem"));
    assert_string_equal(f->cfg.tls_key, in_home(f, "./certs/server.key"));
    assert_int_equal(f->cfg.json_limit, 4 * 1024 * 1024);
    assert_int_equal(f->cfg.file_limit, 3ULL * 1024 * 1024 * 1024);
    assert_int_equal(f->cfg.threads, 16);
    assert_int_equal(f->cfg.event_threads, 3);
    assert_int_equal(f->cfg.hsm_parallelism, 24);
    assert_string_equal(f->cfg.hsm_module, "/usr/lib/softhsm/libsofthsm2.so");
    assert_string_equal(f->cfg.hsm_softhsm_conf,
                        in_home(f, "hsm/softhsm2.conf"));
    assert_int_equal(f->cfg.hsm_tokens, SN_TOKENS_MAPPED);
    assert_string_equal(f->cfg.hsm_service_label, "signet-service");
    assert_string_equal(f->cfg.hsm_service_pin_file, "/etc/signet/service.pin");
    assert_int_equal(f->cfg.nmaps, 2);

    m = sn_config_token_for(&f->cfg, "alice");
    assert_non_null(m);
    assert_string_equal(m->subscriber, "alice");
    assert_string_equal(m->label, "part-alice");
    assert_string_equal(m->pin_file, in_home(f, "pins/alice.pin"));
    m = sn_config_token_for(&f->cfg, "bob");
    assert_non_null(m);
    assert_string_equal(m->label, "part.bob");
    assert_string_equal(m->pin_file, "/etc/bob#1.pin");
    assert_null(sn_config_token_for(&f->cfg, "carol"));
    assert_null(sn_config_token_for(&f->cfg, "Alice"));
}

static void
test_defaults(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load(f, REQUIRED), SN_OK);
    assert_string_equal(f->cfg.home, f->abs);
    assert_string_equal(f->cfg.listen, "127.0.0.1:8443");
    assert_string_equal(f->cfg.database, in_home(f, "signet.db"));
    assert_string_equal(f->cfg.tls_cert, in_home(f, "tls/server.pem"));
    assert_string_equal(f->cfg.tls_key, in_home(f, "tls/server.key"));
    assert_int_equal(f->cfg.json_limit, 1048576);
    assert_int_equal(f->cfg.file_limit, 2147483648ULL);
    assert_int_equal(f->cfg.threads, 8);
    assert_int_equal(f->cfg.event_threads, 0); /* one per CPU at start */
    assert_int_equal(f->cfg.hsm_parallelism, 0);
    assert_int_equal(f->cfg.hsm_tokens, SN_TOKENS_CREATE);
    assert_null(f->cfg.hsm_softhsm_conf);
    assert_string_equal(f->cfg.hsm_service_pin_file,
                        in_home(f, "hsm/service.pin"));
    assert_int_equal(f->cfg.nmaps, 0);
    assert_null(f->cfg.maps);
    assert_null(sn_config_token_for(&f->cfg, "alice"));
}

/* A relative home is made absolute, and relative paths follow it. */
static void
test_relative_home(void **state)
{
    struct fx *f = *state;
    char cwd[PATH_MAX], rel[PATH_MAX];
    const char *slash = strrchr(f->home, '/');

    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir("/tmp"), 0);
    snprintf(rel, sizeof(rel), "./%s/.", slash + 1);
    write_conf(f, REQUIRED, strlen(REQUIRED));
    assert_int_equal(
        sn_config_load(f->conf, rel, &f->cfg, f->err, sizeof(f->err)), SN_OK);
    assert_int_equal(chdir(cwd), 0);
    assert_string_equal(f->cfg.home, f->abs);
    assert_string_equal(f->cfg.database, in_home(f, "signet.db"));
}

static void
test_bad_home(void **state)
{
    struct fx *f = *state;
    char path[128];

    write_conf(f, REQUIRED, strlen(REQUIRED));
    assert_int_equal(sn_config_load(f->conf, "/nonexistent/signet", &f->cfg,
                                    f->err, sizeof(f->err)),
                     SN_ERR_CONFIG);
    assert_contains(f->err, ":0: home");
    assert_zeroed(&f->cfg);
    /* The home must be a directory. */
    assert_int_equal(
        sn_config_load(f->conf, f->conf, &f->cfg, f->err, sizeof(f->err)),
        SN_ERR_CONFIG);
    assert_contains(f->err, "not a directory");
    /* A missing file is reported on line 0. */
    snprintf(path, sizeof(path), "%s/missing.conf", f->home);
    assert_int_equal(
        sn_config_load(path, f->home, &f->cfg, f->err, sizeof(f->err)),
        SN_ERR_CONFIG);
    snprintf(path, sizeof(path), "%s/missing.conf:0: cannot read", f->home);
    assert_prefix(f->err, path);
}

static void
test_unknown_key(void **state)
{
    struct fx *f = *state;

    expect_error(f, REQUIRED "# ok\nlisten_addr = 1.2.3.4:5\n", 5,
                 "unknown key 'listen_addr'");
    expect_error(f, "Listen = 1.2.3.4:5\n" REQUIRED, 1, "unknown key");
    expect_error(f, REQUIRED "= value\n", 4, "unknown key ''");
}

/* reports.ca_webhook: judged by libcurl's parse, not by a prefix. */
static void
test_webhook(void **state)
{
    static const char *const bad[] = {
        "http://localhost:x@evil.example/", "http://127.0.0.1@evil.example/",
        "https://user:pw@ca.example/",      "http://evil.example/",
        "http://127.0.0.1.evil.example/",   "ftp://localhost/",
    };
    static const char *const good[] = {"https://ca.example/notices",
                                       "http://127.0.0.1:8080/n",
                                       "http://[::1]/n", "http://localhost/n"};
    struct fx *f = *state;
    char text[512];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), REQUIRED "reports.ca_webhook = %s\n",
                 bad[i]);
        expect_error(f, text, 4, "reports.ca_webhook: expected");
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(text, sizeof(text), REQUIRED "reports.ca_webhook = %s\n",
                 good[i]);
        print_message("config:\n%s", text);
        assert_int_equal(load(f, text), SN_OK);
    }
}

static void
test_duplicate_key(void **state)
{
    struct fx *f = *state;

    expect_error(f, "server.threads = 4\n" REQUIRED "server.threads = 4\n", 5,
                 "duplicate key 'server.threads' (first on line 1)");
    expect_error(f, REQUIRED "hsm.module = /x.so\n", 4,
                 "duplicate key 'hsm.module' (first on line 1)");
}

static void
test_bad_number(void **state)
{
    static const struct {
        const char *line, *what;
    } cases[] = {
        {"server.threads = abc\n", "not a number"},
        {"server.threads = -1\n", "not a number"},
        {"server.threads = +8\n", "not a number"},
        {"server.threads = 8x\n", "not a number"},
        {"server.threads = 8K\n", "not a number"}, /* no suffix on counts */
        {"server.threads = 0x10\n", "not a number"},
        {"server.threads = 1 6\n", "not a number"},
        {"server.threads = 0\n", "out of range"},
        {"server.threads = 257\n", "out of range"},
        {"server.event_threads = 0\n", "out of range"},
        {"server.event_threads = 257\n", "out of range"},
        {"hsm.parallelism = 0\n", "out of range"},
        {"hsm.parallelism = 1025\n", "out of range"},
        {"server.threads = 18446744073709551616\n", "out of range"},
        {"limits.file_body = 99999999999999999999999K\n", "out of range"},
        {"limits.json_body = 1023\n", "out of range"},
        {"limits.json_body = 65M\n", "out of range"},
        {"limits.file_body = 0\n", "out of range"},
        {"limits.file_body = 1025G\n", "out of range"},
        {"limits.file_body = 18014398509481984K\n", "out of range"},
        {"limits.file_body = -1G\n", "not a number"},
        {"limits.file_body = G\n", "not a number"},
    };
    struct fx *f = *state;
    char text[512];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text), REQUIRED "%s", cases[i].line);
        expect_error(f, text, 4, cases[i].what);
    }
    /* The edges of each range are accepted. */
    assert_int_equal(load(f, REQUIRED "server.threads = 256\n"
                                      "limits.json_body = 1K\n"
                                      "limits.file_body = 1024G\n"),
                     SN_OK);
    assert_int_equal(f->cfg.threads, 256);
    assert_int_equal(f->cfg.json_limit, 1024);
    assert_int_equal(f->cfg.file_limit, 1ULL << 40);
    assert_int_equal(load(f, REQUIRED "server.threads = 001\n"
                                      "limits.json_body = 64M\n"
                                      "limits.file_body = 1\n"),
                     SN_OK);
    assert_int_equal(f->cfg.threads, 1);
    assert_int_equal(f->cfg.json_limit, 64 * 1024 * 1024);
    assert_int_equal(f->cfg.file_limit, 1);
}

static void
test_bad_suffix(void **state)
{
    static const char *const lines[] = {
        "limits.json_body = 4k\n",  "limits.json_body = 4MB\n",
        "limits.json_body = 4 M\n", "limits.file_body = 1T\n",
        "limits.file_body = 2KM\n", "limits.file_body = 1.5G\n",
    };
    struct fx *f = *state;
    char text[512];
    size_t i;

    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        snprintf(text, sizeof(text), "\n\n%s" REQUIRED, lines[i]);
        expect_error(f, text, 3, "bad size suffix");
    }
}

static void
test_bad_listen(void **state)
{
    static const char *const bad[] = {
        "127.0.0.1",       "127.0.0.1:",      "127.0.0.1:0",
        "127.0.0.1:65536", "127.0.0.1:-1",    "127.0.0.1:+80",
        "127.0.0.1:80x",   ":8443",           "localhost:8443",
        "256.0.0.1:8443",  "::1:8443",        "[::1]8443",
        "[::1:8443",       "[]:8443",         "[127.0.0.1]:8443",
        "1.2.3.4:5:6",     "127.0.0.1 :8443",
    };
    static const char *const good[] = {"127.0.0.1:1", "0.0.0.0:65535",
                                       "[::1]:8443", "[::]:443"};
    struct fx *f = *state;
    char text[512];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), REQUIRED "listen = %s\n", bad[i]);
        expect_error(f, text, 4, "listen: expected");
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(text, sizeof(text), REQUIRED "listen = %s\n", good[i]);
        print_message("listen = %s\n", good[i]);
        assert_int_equal(load(f, text), SN_OK);
        assert_string_equal(f->cfg.listen, good[i]);
    }
}

static void
test_bad_tokens_mode(void **state)
{
    struct fx *f = *state;

    expect_error(f, REQUIRED "hsm.tokens = Mapped\n", 4,
                 "expected 'create' or 'mapped'");
    expect_error(f, REQUIRED "hsm.tokens = create mapped\n", 4,
                 "expected 'create' or 'mapped'");
    assert_int_equal(load(f, REQUIRED "hsm.tokens = create\n"), SN_OK);
    assert_int_equal(f->cfg.hsm_tokens, SN_TOKENS_CREATE);
}

static void
test_missing_required(void **state)
{
    struct fx *f = *state;

    expect_error(f,
                 "hsm.service_token = s\n"
                 "hsm.service_pin_file = p\n",
                 0, "missing required key 'hsm.module'");
    expect_error(f,
                 "hsm.module = /m.so\n"
                 "hsm.service_pin_file = p\n",
                 0, "missing required key 'hsm.service_token'");
    expect_error(f,
                 "hsm.module = /m.so\n"
                 "hsm.service_token = s\n",
                 0, "missing required key 'hsm.service_pin_file'");
    expect_error(f, "", 0, "missing required key");
    expect_error(f, "# only a comment\n\n", 0, "missing required key");
}

static void
test_subscriber_mapping(void **state)
{
    struct fx *f = *state;

    expect_error(f,
                 REQUIRED "hsm.subscriber_token = alice t1 a.pin\n"
                          "hsm.subscriber_token = bob t2 b.pin\n"
                          "hsm.subscriber_token = alice t3 c.pin\n",
                 6, "subscriber 'alice' mapped twice");
    /* Two subscribers may not share a token, nor use the service's. */
    expect_error(f,
                 REQUIRED "hsm.subscriber_token = alice t1 a.pin\n"
                          "hsm.subscriber_token = bob t1 b.pin\n",
                 5, "token 't1' already mapped to subscriber 'alice'");
    expect_error(f, REQUIRED "hsm.subscriber_token = alice signet-service p\n",
                 4, "service token");
    expect_error(f,
                 "hsm.subscriber_token = alice svc p\n"
                 "hsm.service_token = svc\n"
                 "hsm.module = /m.so\n"
                 "hsm.service_pin_file = p\n",
                 2, "token 'svc' already mapped to subscriber 'alice'");
    expect_error(f, REQUIRED "hsm.subscriber_token = alice t1\n", 4,
                 "expected NAME LABEL PIN_FILE");
    expect_error(f, REQUIRED "hsm.subscriber_token = alice t1 p extra\n", 4,
                 "expected NAME LABEL PIN_FILE");
    expect_error(f, REQUIRED "hsm.subscriber_token = al/ice t1 p\n", 4,
                 "bad subscriber name");
    expect_error(f,
                 REQUIRED "hsm.subscriber_token = alice "
                          "a-label-that-is-longer-than-32-bytes p\n",
                 4, "bad token label");
    expect_error(f, REQUIRED "hsm.service_token = has space\n", 4,
                 "duplicate key");
    expect_error(f,
                 "hsm.service_token = has space\n"
                 "hsm.module = /m.so\n",
                 1, "bad token label");
}

static void
test_line_without_equals(void **state)
{
    struct fx *f = *state;

    expect_error(f, REQUIRED "\n# c\nlisten 127.0.0.1:8443\n", 6,
                 "expected 'key = value'");
    expect_error(f, "hsm.module\n" REQUIRED, 1, "expected 'key = value'");
}

static void
test_empty_value(void **state)
{
    struct fx *f = *state;

    expect_error(f, REQUIRED "database =\n", 4, "database: empty value");
    expect_error(f, REQUIRED "database = \t \n", 4, "database: empty value");
}

static void
test_long_line(void **state)
{
    struct fx *f = *state;
    char *text;
    size_t n = 5000;

    text = malloc(n + 256);
    assert_non_null(text);
    memcpy(text, "# first\ndatabase = ", 19);
    memset(text + 19, 'a', n);
    memcpy(text + 19 + n, "\n" REQUIRED, sizeof("\n" REQUIRED));
    expect_error(f, text, 2, "line longer than 4096 bytes");

    /* Exactly 4096 bytes is allowed, even without a final newline. */
    memcpy(text, REQUIRED "database = ", strlen(REQUIRED) + 11);
    memset(text + strlen(REQUIRED) + 11, 'b', 4096 - 11);
    text[strlen(REQUIRED) + 4096] = '\0';
    assert_int_equal(load(f, text), SN_OK);
    assert_int_equal(strlen(f->cfg.database), strlen(f->abs) + 1 + 4085);
    free(text);
}

static void
test_control_chars(void **state)
{
    static const char nul[] = REQUIRED "database = a\0b\n";
    struct fx *f = *state;

    expect_error(f,
                 REQUIRED "database = a\x01"
                          "b\n",
                 4, "control character");
    expect_error(f, REQUIRED "database = a\rb\n", 4, "control character");
    write_conf(f, nul, sizeof(nul) - 1);
    assert_int_equal(
        sn_config_load(f->conf, f->home, &f->cfg, f->err, sizeof(f->err)),
        SN_ERR_CONFIG);
    assert_contains(f->err, ":4: NUL byte");
    assert_zeroed(&f->cfg);
}

static void
test_relative_paths(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load(f, REQUIRED "database = data/db#1\n"
                                      "tls.cert = ../outside.pem\n"
                                      "tls.key = /abs/key.pem\n"
                                      "hsm.subscriber_token = a t rel.pin\n"),
                     SN_OK);
    assert_string_equal(f->cfg.database, in_home(f, "data/db#1"));
    assert_string_equal(f->cfg.tls_cert, in_home(f, "../outside.pem"));
    assert_string_equal(f->cfg.tls_key, "/abs/key.pem");
    assert_string_equal(f->cfg.hsm_service_pin_file,
                        in_home(f, "hsm/service.pin"));
    assert_int_equal(f->cfg.nmaps, 1);
    assert_string_equal(f->cfg.maps[0].pin_file, in_home(f, "rel.pin"));
    assert_int_equal(f->cfg.maps[0].pin_file[0], '/');
}

static void
test_errbuf_handling(void **state)
{
    struct fx *f = *state;
    struct sn_config cfg;
    char small[8];

    write_conf(f, "bogus = 1\n", 10);
    /* No errbuf at all is fine. */
    assert_int_equal(sn_config_load(f->conf, f->home, &cfg, NULL, 0),
                     SN_ERR_CONFIG);
    assert_zeroed(&cfg);
    /* A short errbuf is truncated and still terminated. */
    memset(small, 'x', sizeof(small));
    assert_int_equal(
        sn_config_load(f->conf, f->home, &cfg, small, sizeof(small)),
        SN_ERR_CONFIG);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_memory_equal(small, f->conf, sizeof(small) - 1);
    /* Success clears a stale message. */
    write_conf(f, REQUIRED, strlen(REQUIRED));
    memcpy(f->err, "stale", 6);
    assert_int_equal(
        sn_config_load(f->conf, f->home, &f->cfg, f->err, sizeof(f->err)),
        SN_OK);
    assert_string_equal(f->err, "");
}

static void
test_cleanup(void **state)
{
    struct sn_config cfg;
    struct fx *f = *state;

    memset(&cfg, 0, sizeof(cfg));
    sn_config_cleanup(&cfg);
    assert_zeroed(&cfg);
    sn_config_cleanup(NULL);
    assert_int_equal(load(f, REQUIRED "hsm.subscriber_token = a t p\n"), SN_OK);
    sn_config_cleanup(&f->cfg);
    assert_zeroed(&f->cfg);
    sn_config_cleanup(&f->cfg);
    assert_zeroed(&f->cfg);
}

/* Many mappings: the map array grows past its first allocation. */
static void
test_many_mappings(void **state)
{
    struct fx *f = *state;
    char *text, line[96];
    size_t i, len;
    const struct sn_token_map *m;

    text = malloc(100 * sizeof(line) + sizeof(REQUIRED));
    assert_non_null(text);
    memcpy(text, REQUIRED, sizeof(REQUIRED));
    len = strlen(REQUIRED);
    for (i = 0; i < 100; i++) {
        int n =
            snprintf(line, sizeof(line),
                     "hsm.subscriber_token = sub%zu tok%zu p%zu\n", i, i, i);
        memcpy(text + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    assert_int_equal(load(f, text), SN_OK);
    free(text);
    assert_int_equal(f->cfg.nmaps, 100);
    m = sn_config_token_for(&f->cfg, "sub77");
    assert_non_null(m);
    assert_string_equal(m->label, "tok77");
    assert_string_equal(m->pin_file, in_home(f, "p77"));
}

/* oid.arc: a PEN arc is kept, the default arc is the absence of one,
 * anything a parser could refuse is an error on its line. */
static void
test_oid_arc(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load(f, REQUIRED), SN_OK);
    assert_null(f->cfg.oid_arc);
    assert_int_equal(load(f, REQUIRED "oid.arc = 1.3.6.1.4.1.32473\n"), SN_OK);
    assert_string_equal(f->cfg.oid_arc, "1.3.6.1.4.1.32473");
    assert_int_equal(
        load(f, REQUIRED
             "oid.arc = 2.25.119564763254642916656305459667247640959\n"),
        SN_OK);
    expect_error(f, REQUIRED "oid.arc = 1.3.6.1.4.1.2147483648\n", 4,
                 "oid.arc: expected an arc");
    expect_error(f, REQUIRED "oid.arc = 2.25.1195647632546429166563\n", 4,
                 "oid.arc: expected an arc");
    expect_error(f, REQUIRED "oid.arc = 1.3.6.1.4.1.032473\n", 4,
                 "oid.arc: expected an arc");
    expect_error(f, REQUIRED "oid.arc = 1.3.6.1.4.1.\n", 4,
                 "oid.arc: expected an arc");
    expect_error(f, REQUIRED "oid.arc = 1.3.6\noid.arc = 1.3.7\n", 5,
                 "duplicate key");
}

/* hsm.certified_modules and ca.allow_uncertified_modules. */
static void
test_certified_modules(void **state)
{
    struct fx *f = *state;
    const struct sn_certified_module *m;

    assert_int_equal(load(f, REQUIRED), SN_OK);
    assert_int_equal(f->cfg.ncertified, 0);
    assert_int_equal(f->cfg.allow_uncertified, 0);
    assert_int_equal(
        load(f,
             REQUIRED "hsm.certified_modules = SoftHSM project | SoftHSM v2 | "
                      "Test cert #1\n"
                      "hsm.certified_modules =Thales|Luna K7|FIPS 140-3 #4745\n"
                      "ca.allow_uncertified_modules = true\n"),
        SN_OK);
    assert_int_equal(f->cfg.ncertified, 2);
    assert_int_equal(f->cfg.allow_uncertified, 1);
    m = sn_config_certified(&f->cfg, "SoftHSM project", "SoftHSM v2");
    assert_non_null(m);
    assert_string_equal(m->certificate, "Test cert #1");
    m = sn_config_certified(&f->cfg, "Thales", "Luna K7");
    assert_non_null(m);
    assert_string_equal(m->certificate, "FIPS 140-3 #4745");
    assert_null(sn_config_certified(&f->cfg, "softhsm project", "SoftHSM v2"));
    assert_null(sn_config_certified(&f->cfg, "Thales", "SoftHSM v2"));
    expect_error(f, REQUIRED "hsm.certified_modules = A | B\n", 4,
                 "expected MANUFACTURER | MODEL | CERTIFICATE");
    expect_error(f, REQUIRED "hsm.certified_modules = A | B | C | D\n", 4,
                 "expected MANUFACTURER | MODEL | CERTIFICATE");
    expect_error(f, REQUIRED "hsm.certified_modules = A |  | C\n", 4,
                 "model 1..16");
    expect_error(f,
                 REQUIRED "hsm.certified_modules = A | 12345678901234567 | C\n",
                 4, "model 1..16");
    expect_error(f,
                 REQUIRED "hsm.certified_modules = A | B | C\n"
                          "hsm.certified_modules = A | B | D\n",
                 5, "listed twice");
    expect_error(f, REQUIRED "ca.allow_uncertified_modules = yes\n", 4,
                 "expected 'true' or 'false'");
}

/* issue 16: auth.require_strong_auth, off when absent (homes from before
 * it; init writes true), each boolean its own. */
static void
test_require_strong_auth(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load(f, REQUIRED), SN_OK);
    assert_int_equal(f->cfg.require_strong_auth, 0);
    assert_int_equal(load(f, REQUIRED "auth.require_strong_auth = true\n"),
                     SN_OK);
    assert_int_equal(f->cfg.require_strong_auth, 1);
    assert_int_equal(f->cfg.allow_uncertified, 0);
    assert_int_equal(load(f, REQUIRED "ca.allow_uncertified_modules = true\n"
                                      "auth.require_strong_auth = false\n"),
                     SN_OK);
    assert_int_equal(f->cfg.require_strong_auth, 0);
    assert_int_equal(f->cfg.allow_uncertified, 1);
    expect_error(f, REQUIRED "auth.require_strong_auth = on\n", 4,
                 "expected 'true' or 'false'");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* issue 14: quotas (defaults, bounds) and ca.upload_root (repeatable, a
 * file that exists, resolved against the home). */
static void
test_quota_upload_roots(void **state)
{
    struct fx *f = *state;
    char text[1024];

    assert_int_equal(load(f, REQUIRED), SN_OK);
    assert_int_equal(f->cfg.quota_keys, 20000);
    assert_int_equal(f->cfg.quota_key_generations, 4);
    assert_int_equal(f->cfg.quota_certs_per_day, 1000);
    assert_int_equal(f->cfg.nupload_roots, 0);
    snprintf(text, sizeof(text),
             "%squota.keys = 3\nquota.key_generations = 1\n"
             "quota.certificates_per_day = 7\n"
             "ca.upload_root = signetd.conf\nca.upload_root = %s\n",
             REQUIRED, f->conf);
    assert_int_equal(load(f, text), SN_OK);
    assert_int_equal(f->cfg.quota_keys, 3);
    assert_int_equal(f->cfg.quota_key_generations, 1);
    assert_int_equal(f->cfg.quota_certs_per_day, 7);
    assert_int_equal(f->cfg.nupload_roots, 2);
    assert_string_equal(f->cfg.upload_roots[0], in_home(f, "signetd.conf"));
    assert_string_equal(f->cfg.upload_roots[1], f->conf);
    assert_int_equal(load(f, REQUIRED "quota.key_generations = 0\n"),
                     SN_ERR_CONFIG);
    assert_int_equal(load(f, REQUIRED "quota.keys = 10000001\n"),
                     SN_ERR_CONFIG);
    assert_int_equal(load(f, REQUIRED "ca.upload_root = no-such.pem\n"),
                     SN_ERR_CONFIG);
    assert_non_null(strstr(f->err, "ca.upload_root"));
    assert_int_equal(load(f, REQUIRED "ca.upload_root = .\n"), SN_ERR_CONFIG);
}

/* storage.min_free and tsa.record_retention: defaults, values, bounds. */
static void
test_storage_keys(void **state)
{
    struct fx *f = *state;
    char text[512];

    assert_int_equal(load(f, REQUIRED), SN_OK);
    assert_int_equal(f->cfg.storage_min_free, 256ULL * 1024 * 1024);
    assert_int_equal(f->cfg.storage_min_free_auto, 1);
    assert_int_equal(f->cfg.tsa_record_retention, 90);
    sn_config_cleanup(&f->cfg);
    snprintf(text, sizeof(text),
             "%sstorage.min_free = 8M\ntsa.record_retention = 0\n", REQUIRED);
    assert_int_equal(load(f, text), SN_OK);
    assert_int_equal(f->cfg.storage_min_free, 8ULL * 1024 * 1024);
    assert_int_equal(f->cfg.storage_min_free_auto, 0);
    assert_int_equal(f->cfg.tsa_record_retention, 0);
    sn_config_cleanup(&f->cfg);
    snprintf(text, sizeof(text), "%sstorage.min_free = 0\n", REQUIRED);
    assert_int_equal(load(f, text), SN_OK);
    assert_int_equal(f->cfg.storage_min_free, 0);
    assert_int_equal(f->cfg.storage_min_free_auto, 0);
    sn_config_cleanup(&f->cfg);
    expect_error(f, "tsa.record_retention = 36501\n", 1, "out of range");
    expect_error(f, "storage.min_free = 5X\n", 1, "bad size suffix");
}

/* issue 15: tokens.default_lifetime, days, default 90, 0 for none. */
static void
test_token_lifetime(void **state)
{
    struct fx *f = *state;

    assert_int_equal(load(f, REQUIRED), SN_OK);
    assert_int_equal(f->cfg.token_lifetime_days, 90);
    sn_config_cleanup(&f->cfg);
    assert_int_equal(load(f, REQUIRED "tokens.default_lifetime = 0\n"), SN_OK);
    assert_int_equal(f->cfg.token_lifetime_days, 0);
    sn_config_cleanup(&f->cfg);
    assert_int_equal(load(f, REQUIRED "tokens.default_lifetime = 7\n"), SN_OK);
    assert_int_equal(f->cfg.token_lifetime_days, 7);
    sn_config_cleanup(&f->cfg);
    expect_error(f, "tokens.default_lifetime = 3651\n", 1, "out of range");
}

/* proxy.protocol and proxy.trusted: off by default; v2 needs the trusted
 * peers; addresses alone are single hosts; host bits, junk and too many
 * are refused. */
static void
test_proxy(void **state)
{
    struct fx *f = *state;
    char text[4096], *p;
    int i;

    assert_int_equal(load(f, REQUIRED), SN_OK);
    assert_int_equal(f->cfg.proxy_v2, 0);
    assert_int_equal(f->cfg.nproxy_trusted, 0);
    sn_config_cleanup(&f->cfg);
    assert_int_equal(load(f, REQUIRED
                          "proxy.protocol = v2\n"
                          "proxy.trusted = 127.0.0.1, 10.0.0.0/8,::1 , "
                          "2001:db8::/32\n"),
                     SN_OK);
    assert_int_equal(f->cfg.proxy_v2, 1);
    assert_int_equal(f->cfg.nproxy_trusted, 4);
    assert_true(sn_cidr_match(&f->cfg.proxy_trusted[0], "127.0.0.1"));
    assert_false(sn_cidr_match(&f->cfg.proxy_trusted[0], "127.0.0.2"));
    assert_true(sn_cidr_match(&f->cfg.proxy_trusted[1], "10.200.0.1"));
    assert_true(sn_cidr_match(&f->cfg.proxy_trusted[2], "::1"));
    assert_false(sn_cidr_match(&f->cfg.proxy_trusted[2], "::2"));
    assert_true(sn_cidr_match(&f->cfg.proxy_trusted[3], "2001:db8:1::5"));
    sn_config_cleanup(&f->cfg);
    assert_int_equal(load(f, REQUIRED "proxy.protocol = off\n"), SN_OK);
    assert_int_equal(f->cfg.proxy_v2, 0);
    sn_config_cleanup(&f->cfg);

    expect_error(f, REQUIRED "proxy.protocol = v2\n", 4,
                 "proxy.protocol = v2 needs proxy.trusted");
    expect_error(f, REQUIRED "proxy.protocol = v1\n", 4,
                 "proxy.protocol: expected 'off' or 'v2'");
    expect_error(f, REQUIRED "proxy.protocol = V2\n", 4, "expected");
    expect_error(f, REQUIRED "proxy.trusted = 10.1.2.3/8\n", 4,
                 "proxy.trusted: '10.1.2.3/8' is not an address");
    expect_error(f, REQUIRED "proxy.trusted = 127.0.0.1,\n", 4,
                 "proxy.trusted: '' is not");
    expect_error(f, REQUIRED "proxy.trusted = localhost\n", 4,
                 "'localhost' is not");
    expect_error(f, REQUIRED "proxy.trusted = 127.0.0.1 10.0.0.1\n", 4,
                 "is not an address");
    expect_error(f, REQUIRED "proxy.trusted = 1.2.3.4/33\n", 4,
                 "is not an address");
    p = text + snprintf(text, sizeof(text), REQUIRED "proxy.trusted = ");
    for (i = 0; i < 33; i++)
        p += snprintf(p, 32, "%s10.0.0.%d", i ? "," : "", i);
    snprintf(p, 8, "\n");
    expect_error(f, text, 4, "at most 32");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_full),
        T(test_quota_upload_roots),
        T(test_token_lifetime),
        T(test_defaults),
        T(test_relative_home),
        T(test_bad_home),
        T(test_webhook),
        T(test_unknown_key),
        T(test_duplicate_key),
        T(test_bad_number),
        T(test_bad_suffix),
        T(test_bad_listen),
        T(test_bad_tokens_mode),
        T(test_missing_required),
        T(test_subscriber_mapping),
        T(test_line_without_equals),
        T(test_empty_value),
        T(test_long_line),
        T(test_control_chars),
        T(test_relative_paths),
        T(test_errbuf_handling),
        T(test_cleanup),
        T(test_many_mappings),
        T(test_oid_arc),
        T(test_certified_modules),
        T(test_require_strong_auth),
        T(test_storage_keys),
        T(test_proxy),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
