/*
 * Unit tests for common/util: the hex and base64 codecs, RFC 3339 times,
 * UUIDs and the whole-file helpers. Expected values are written out by hand
 * or come from independent sources (date(1), RFC 4648 test vectors).
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

#include "common/util.h"

/* A fresh directory per test, removed with everything in it afterwards. */
struct tmp {
    char dir[64];
    char path[128];
};

static int
tmp_setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return -1;
    snprintf(t->dir, sizeof(t->dir), "/tmp/sn-test-util-XXXXXX");
    if (mkdtemp(t->dir) == NULL) {
        free(t);
        return -1;
    }
    snprintf(t->path, sizeof(t->path), "%s/f", t->dir);
    *state = t;
    return 0;
}

static int
tmp_teardown(void **state)
{
    struct tmp *t = *state;

    unlink(t->path);
    rmdir(t->dir);
    free(t);
    return 0;
}

/* The FNV-1a 64-bit test vectors published with the algorithm. */
static void
test_str_hash(void **state)
{
    (void)state;
    assert_true(sn_str_hash("") == 0xcbf29ce484222325ULL);
    assert_true(sn_str_hash("a") == 0xaf63dc4c8601ec8cULL);
    assert_true(sn_str_hash("foobar") == 0x85944171f73967e8ULL);
}

static void
test_hex_encode(void **state)
{
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof(in) + 1];

    (void)state;
    sn_hex_encode(in, sizeof(in), out);
    assert_string_equal(out, "00017f80abff");
    sn_hex_encode(in, 0, out);
    assert_string_equal(out, "");
}

static void
test_hex_decode(void **state)
{
    const uint8_t want[] = {0xde, 0xad, 0xBE, 0xef, 0x00, 0x09};
    uint8_t *out = NULL;
    size_t len = 99;

    (void)state;
    assert_int_equal(sn_hex_decode("deadBEEF0009", &out, &len), SN_OK);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
    free(out);
}

static void
test_hex_decode_rejects(void **state)
{
    static const char *const bad[] = {
        "",    /* empty */
        "a",   /* odd length */
        "abc", /* odd length */
        "0g",  /* not hex */
        "zz",  " 0a", "0a ", "0x0a", "-1", "0a\n", " 0a ", "0a\n\n", "+1",
    };
    uint8_t *out;
    size_t len, i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out = (uint8_t *)"x";
        len = 99;
        print_message("hex input '%s'\n", bad[i]);
        assert_int_equal(sn_hex_decode(bad[i], &out, &len), SN_ERR_INVALID);
        assert_null(out);
        assert_int_equal(len, 0);
    }
}

/* RFC 4648 section 10 test vectors, both directions. */
static const struct {
    const char *plain, *b64;
} rfc4648[] = {
    {"f", "Zg=="},        {"fo", "Zm8="},        {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void
test_b64_vectors(void **state)
{
    uint8_t *dec;
    char *enc;
    size_t i, len;

    (void)state;
    for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        const char *p = rfc4648[i].plain;
        assert_int_equal(sn_b64_encode((const uint8_t *)p, strlen(p), &enc),
                         SN_OK);
        assert_string_equal(enc, rfc4648[i].b64);
        free(enc);
        assert_int_equal(sn_b64_decode(rfc4648[i].b64, &dec, &len), SN_OK);
        assert_int_equal(len, strlen(p));
        assert_memory_equal(dec, p, len);
        free(dec);
    }
    assert_int_equal(sn_b64_encode((const uint8_t *)"", 0, &enc), SN_OK);
    assert_string_equal(enc, "");
    free(enc);
}

static void
test_b64_binary(void **state)
{
    uint8_t in[256], *dec;
    char *enc;
    size_t i, len;

    (void)state;
    for (i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(255 - i);
    for (len = 1; len <= sizeof(in); len += 5) {
        size_t got;
        assert_int_equal(sn_b64_encode(in, len, &enc), SN_OK);
        assert_int_equal(strlen(enc), 4 * ((len + 2) / 3));
        assert_int_equal(sn_b64_decode(enc, &dec, &got), SN_OK);
        assert_int_equal(got, len);
        assert_memory_equal(dec, in, len);
        free(enc);
        free(dec);
    }
}

/* base64url is base64 with "-_" for "+/" and no padding (RFC 4648 5). */
static void
test_b64url(void **state)
{
    static const uint8_t hi[] = {0xfb, 0xff, 0xfe};
    uint8_t in[64];
    char url[SN_B64URL_LEN(sizeof(in)) + 1], *std, *p;
    size_t i, len;

    (void)state;
    sn_b64url_encode(hi, sizeof(hi), url);
    assert_string_equal(url, "-__-");
    sn_b64url_encode(hi, 2, url);
    assert_string_equal(url, "-_8");
    sn_b64url_encode((const uint8_t *)"f", 1, url);
    assert_string_equal(url, "Zg");
    sn_b64url_encode(in, 0, url);
    assert_string_equal(url, "");
    for (i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(0xff - 3 * i);
    for (len = 0; len <= sizeof(in); len++) {
        memset(url, 'X', sizeof(url));
        sn_b64url_encode(in, len, url);
        assert_int_equal(strlen(url), SN_B64URL_LEN(len));
        assert_int_equal(sn_b64_encode(in, len, &std), SN_OK);
        for (p = std; *p != '\0'; p++)
            *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
        if ((p = strchr(std, '=')) != NULL)
            *p = '\0';
        assert_string_equal(url, std);
        free(std);
    }
}

static void
test_b64_rejects(void **state)
{
    static const char *const bad[] = {
        "",          /* empty */
        "Zg",        /* missing padding */
        "Zg=",       /* short padding */
        "Zm9vYg=",   /* length not a multiple of 4 */
        "Z===",      /* too much padding */
        "====",      /* only padding */
        "Zg==Zg==",  /* padding in the middle */
        "Zm=v",      /* padding inside a group */
        "Zm9v\n",    /* trailing newline */
        " Zm9v",     /* leading blank */
        "Zm9v YmFy", /* inner blank */
        "Zm9v\tYmF", /* tab */
        "Zm9-",      /* base64url alphabet */
        "Zm9_",      /* base64url alphabet */
        "Zm9.",      /* not base64 at all */
        "Zm9vYmFy\r\n",
    };
    uint8_t *out;
    size_t len, i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out = (uint8_t *)"x";
        len = 99;
        print_message("base64 input '%s'\n", bad[i]);
        assert_int_equal(sn_b64_decode(bad[i], &out, &len), SN_ERR_INVALID);
        assert_null(out);
        assert_int_equal(len, 0);
    }
}

#define T0 ((time_t)1795323437) /* date -u -d 2026-11-22T04:57:17Z +%s */

static void
test_time_parse(void **state)
{
    static const char *const same[] = {
        "2026-11-22T04:57:17Z",          "2026-11-22t04:57:17z",
        "2026-11-22T04:57:17.5Z",        "2026-11-22T04:57:17.123456789Z",
        "2026-11-22T04:57:17+00:00",     "2026-11-22T04:57:17-00:00",
        "2026-11-22T10:27:17+05:30",     "2026-11-21T23:57:17-05:00",
        "2026-11-22T05:57:17.000+01:00",
    };
    time_t t;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        t = 0;
        print_message("time '%s'\n", same[i]);
        assert_int_equal(sn_time_parse(same[i], &t), SN_OK);
        assert_int_equal(t, T0);
    }
    assert_int_equal(sn_time_parse("1970-01-01T00:00:00Z", &t), SN_OK);
    assert_int_equal(t, 0);
    /* date -u -d 2024-02-29T12:00:00Z +%s: a leap day exists. */
    assert_int_equal(sn_time_parse("2024-02-29T12:00:00Z", &t), SN_OK);
    assert_int_equal(t, 1709208000);
}

static void
test_time_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "garbage garbage garbage",
        "2026-02-30T00:00:00Z", /* no such day */
        "2025-02-29T00:00:00Z", /* not a leap year */
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-11-22T24:00:00Z",
        "2026-11-22T04:60:00Z",
        "2026-11-22T04:57:17",       /* no zone */
        "2026-11-22 04:57:17Z",      /* space separator */
        "2026-11-22T04:57:17Zjunk",  /* trailing junk */
        "2026-11-22T04:57:17.Z",     /* empty fraction */
        "2026-11-22T04:57:17+0530",  /* offset without colon */
        "2026-11-22T04:57:17+05",    /* short offset */
        "2026-11-22T04:57:17+24:00", /* offset hour out of range */
        "2026-11-22T04:57:17+05:60",
        "2026-1-22T04:57:17Z",
        "+2026-11-22T04:57:17Z",
        "1969-12-31T23:59:59Z", /* before the epoch */
        "2026-11-22T04:57:17 Z",
    };
    time_t t;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 12345;
        print_message("time '%s'\n", bad[i]);
        assert_int_equal(sn_time_parse(bad[i], &t), SN_ERR_INVALID);
        assert_int_equal(t, 0);
    }
}

static void
test_time_format(void **state)
{
    static const time_t times[] = {0, 1, 951782400 /* 2000-02-29 */, T0,
                                   4102444799 /* 2099-12-31T23:59:59Z */};
    char buf[SN_TIME_LEN];
    time_t t;
    size_t i;

    (void)state;
    sn_time_format(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    sn_time_format(T0, buf);
    assert_string_equal(buf, "2026-11-22T04:57:17Z");
    for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        sn_time_format(times[i], buf);
        assert_int_equal(strlen(buf), SN_TIME_LEN - 1);
        assert_int_equal(sn_time_parse(buf, &t), SN_OK);
        assert_int_equal(t, times[i]);
    }
}

static int
is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static void
test_uuid(void **state)
{
    char a[SN_UUID_LEN], b[SN_UUID_LEN];
    size_t i;

    (void)state;
    assert_int_equal(sn_uuid(a), SN_OK);
    assert_int_equal(sn_uuid(b), SN_OK);
    print_message("uuid %s\n", a);
    assert_int_equal(strlen(a), SN_UUID_LEN - 1);
    for (i = 0; i < SN_UUID_LEN - 1; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(a[i], '-');
        else
            assert_true(is_lower_hex(a[i]));
    }
    assert_int_equal(a[14], '4');           /* version 4 */
    assert_non_null(strchr("89ab", a[19])); /* RFC 4122 variant */
    assert_string_not_equal(a, b);
}

static void
test_random(void **state)
{
    uint8_t a[32], b[32];
    static uint8_t big[(1 << 20) + 1];

    (void)state;
    assert_int_equal(sn_random(a, sizeof(a)), SN_OK);
    assert_int_equal(sn_random(b, sizeof(b)), SN_OK);
    assert_true(memcmp(a, b, sizeof(a)) != 0);
    assert_int_equal(sn_random(big, sizeof(big)), SN_ERR_CRYPTO);
}

static void
test_file_read(void **state)
{
    struct tmp *t = *state;
    const char data[] = "0123456789";
    uint8_t *out = NULL;
    size_t len = 0;

    assert_int_equal(sn_file_write_new(t->path, data, 10, 0600), SN_OK);
    assert_int_equal(sn_file_read(t->path, 10, &out, &len), SN_OK);
    assert_int_equal(len, 10);
    assert_memory_equal(out, data, 10);
    assert_int_equal(out[10], '\0');
    free(out);

    out = (uint8_t *)"x";
    len = 99;
    assert_int_equal(sn_file_read(t->path, 9, &out, &len), SN_ERR_LIMIT);
    assert_null(out);
    assert_int_equal(len, 0);

    /* Only regular files: a directory or device is not a config or PIN. */
    assert_int_equal(sn_file_read(t->dir, 1 << 20, &out, &len), SN_ERR_IO);
    assert_null(out);
    assert_int_equal(sn_file_read("/dev/null", 1 << 20, &out, &len), SN_ERR_IO);
    assert_null(out);
}

static void
test_file_read_missing_and_empty(void **state)
{
    struct tmp *t = *state;
    uint8_t *out = (uint8_t *)"x";
    size_t len = 99;

    assert_int_equal(sn_file_read(t->path, 10, &out, &len), SN_ERR_NOT_FOUND);
    assert_null(out);
    assert_int_equal(len, 0);

    assert_int_equal(sn_file_write_new(t->path, "", 0, 0600), SN_OK);
    assert_int_equal(sn_file_read(t->path, 0, &out, &len), SN_OK);
    assert_int_equal(len, 0);
    assert_int_equal(out[0], '\0');
    free(out);
}

static void
test_file_write_new(void **state)
{
    struct tmp *t = *state;
    struct stat st;
    uint8_t *out = NULL;
    size_t len = 0;
    mode_t old = umask(022);

    assert_int_equal(sn_file_write_new(t->path, "first", 5, 0640), SN_OK);
    assert_int_equal(stat(t->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_size, 5);

    /* Never overwrites, and a refused write leaves the file alone. */
    assert_int_equal(sn_file_write_new(t->path, "second!", 7, 0600),
                     SN_ERR_EXISTS);
    assert_int_equal(sn_file_read(t->path, 100, &out, &len), SN_OK);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "first", 5);
    free(out);
    assert_int_equal(stat(t->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);

    assert_int_equal(unlink(t->path), 0);
    assert_int_equal(sn_file_write_new(t->path, "k", 1, 0600), SN_OK);
    assert_int_equal(stat(t->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    umask(old);
}

static void
test_file_write_new_bad_dir(void **state)
{
    struct tmp *t = *state;
    char path[192];

    snprintf(path, sizeof(path), "%s/no/such/dir", t->dir);
    assert_int_equal(sn_file_write_new(path, "x", 1, 0600), SN_ERR_IO);
}

static void
test_secret_free(void **state)
{
    char *s = malloc(8);

    (void)state;
    assert_non_null(s);
    memcpy(s, "123456", 7);
    sn_secret_free(s);
    sn_secret_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_str_hash),
        cmocka_unit_test(test_hex_encode),
        cmocka_unit_test(test_hex_decode),
        cmocka_unit_test(test_hex_decode_rejects),
        cmocka_unit_test(test_b64_vectors),
        cmocka_unit_test(test_b64_binary),
        cmocka_unit_test(test_b64url),
        cmocka_unit_test(test_b64_rejects),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_time_parse_rejects),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_random),
        cmocka_unit_test_setup_teardown(test_file_read, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_file_read_missing_and_empty,
                                        tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_file_write_new, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_file_write_new_bad_dir, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(test_secret_free),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
