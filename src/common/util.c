/*
 * util: codecs, time, randomness and file helpers. Decoders take untrusted
 * input and bound their output by the input length.
 */
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

void
sn_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

int
sn_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

sn_err
sn_hex_decode(const char *in, uint8_t **out, size_t *outlen)
{
    size_t len = strlen(in), i;
    uint8_t *buf;

    *out = NULL;
    *outlen = 0;
    if (len == 0 || len % 2 != 0)
        return SN_ERR_INVALID;
    if ((buf = malloc(len / 2)) == NULL)
        return SN_ERR_NOMEM;
    for (i = 0; i < len / 2; i++) {
        int hi = sn_hexval(in[2 * i]), lo = sn_hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(buf);
            return SN_ERR_INVALID;
        }
        buf[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = buf;
    *outlen = len / 2;
    return SN_OK;
}

sn_err
sn_b64_encode(const uint8_t *in, size_t len, char **out)
{
    char *buf;

    *out = NULL;
    if (len > (size_t)1 << 30)
        return SN_ERR_LIMIT;
    if ((buf = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
        return SN_ERR_NOMEM;
    EVP_EncodeBlock((unsigned char *)buf, in, (int)len);
    *out = buf;
    return SN_OK;
}

static int
b64_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

sn_err
sn_b64_decode(const char *in, uint8_t **out, size_t *outlen)
{
    size_t len = strlen(in), pad = 0, i;
    uint8_t *buf;
    int n;

    *out = NULL;
    *outlen = 0;
    if (len == 0 || len % 4 != 0 || len > (size_t)1 << 30)
        return SN_ERR_INVALID;
    if (in[len - 1] == '=')
        pad++;
    if (in[len - 2] == '=')
        pad++;
    for (i = 0; i < len - pad; i++)
        if (!b64_char_ok(in[i]))
            return SN_ERR_INVALID;
    if ((buf = malloc(len / 4 * 3)) == NULL)
        return SN_ERR_NOMEM;
    n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
    if (n < 0 || (size_t)n < pad) {
        free(buf);
        return SN_ERR_INVALID;
    }
    *out = buf;
    *outlen = (size_t)n - pad;
    return SN_OK;
}

void
sn_b64url_encode(const uint8_t *in, size_t len, char *out)
{
    static const char alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i, o = 0;
    uint32_t v;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        out[o++] = alpha[v & 63];
    }
    if (len - i == 2) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
    } else if (len - i == 1) {
        v = (uint32_t)in[i] << 16;
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
    }
    out[o] = '\0';
}

static int
b64url_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

sn_err
sn_b64url_decode(const char *in, size_t len, uint8_t **out, size_t *outlen)
{
    uint8_t *buf;
    uint32_t acc = 0;
    size_t i, o = 0;
    int v, bits = 0;

    *out = NULL;
    *outlen = 0;
    if (len % 4 == 1 || len > SIZE_MAX / 3)
        return SN_ERR_INVALID;
    if ((buf = malloc(len / 4 * 3 + 3)) == NULL)
        return SN_ERR_NOMEM;
    for (i = 0; i < len; i++) {
        if ((v = b64url_val(in[i])) < 0)
            goto bad;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* The bits left over must be zero: one text per value. */
    if ((acc & ((1u << bits) - 1)) != 0)
        goto bad;
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return SN_OK;
bad:
    free(buf);
    return SN_ERR_INVALID;
}

void
sn_time_format(time_t t, char *buf)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, SN_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
digits(const char *s, int n, int *out)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

sn_err
sn_time_parse(const char *s, time_t *out)
{
    struct tm tm;
    int y, mo, d, h, mi, se, oh, om, sign;
    const char *p;
    time_t t;

    *out = 0;
    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' ||
        !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se))
        return SN_ERR_INVALID;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        se > 60)
        return SN_ERR_INVALID;
    p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return SN_ERR_INVALID;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        oh = om = 0;
        sign = 1;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 &&
               digits(p + 1, 2, &oh) && p[3] == ':' && digits(p + 4, 2, &om) &&
               oh <= 23 && om <= 59) {
        sign = *p == '+' ? 1 : -1;
    } else
        return SN_ERR_INVALID;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    if ((t = timegm(&tm)) == (time_t)-1)
        return SN_ERR_INVALID;
    /* timegm normalises 31 April into 1 May: reject such dates. */
    if (tm.tm_mday != d || tm.tm_mon != mo - 1)
        return SN_ERR_INVALID;
    *out = t - sign * (oh * 3600 + om * 60);
    return SN_OK;
}

sn_err
sn_random(uint8_t *buf, size_t len)
{
    if (len > (size_t)1 << 20 || RAND_bytes(buf, (int)len) != 1)
        return SN_ERR_CRYPTO;
    return SN_OK;
}

sn_err
sn_uuid(char *buf)
{
    uint8_t b[16];
    sn_err r;

    if ((r = sn_random(b, sizeof(b))) != SN_OK)
        return r;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(buf, SN_UUID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
    return SN_OK;
}

sn_err
sn_file_read(const char *path, size_t max, uint8_t **out, size_t *outlen)
{
    sn_err r = SN_ERR_IO;
    uint8_t *buf = NULL;
    struct stat st;
    size_t got = 0;
    ssize_t n;
    int fd;

    *out = NULL;
    *outlen = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? SN_ERR_NOT_FOUND : SN_ERR_IO;
    /* Only regular files: a directory, FIFO or device has no size. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto out;
    if ((size_t)st.st_size > max) {
        r = SN_ERR_LIMIT;
        goto out;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    *outlen = got;
    buf = NULL;
    r = SN_OK;
out:
    free(buf);
    close(fd);
    return r;
}

sn_err
sn_file_write_new(const char *path, const void *data, size_t len, int mode)
{
    const uint8_t *p = data;
    sn_err r = SN_ERR_IO;
    ssize_t n;
    int fd;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return errno == EEXIST ? SN_ERR_EXISTS : SN_ERR_IO;
    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out;
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0)
        goto out;
    r = SN_OK;
out:
    close(fd);
    if (r != SN_OK)
        unlink(path);
    return r;
}

int64_t
sn_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t
sn_str_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    while (*s != '\0')
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

void
sn_secret_free(char *s)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

int
sn_tm_add_months(struct tm tm, int months, time_t *end)
{
    struct tm last;

    tm.tm_mon += months;
    tm.tm_year += tm.tm_mon / 12;
    tm.tm_mon %= 12;
    /* Day 0 of the next month is the last day of this one (timegm
     * normalises last). */
    last = tm;
    last.tm_mon += 1;
    last.tm_mday = 0;
    if (timegm(&last) == (time_t)-1)
        return 0;
    if (tm.tm_mday > last.tm_mday)
        tm.tm_mday = last.tm_mday;
    return (*end = timegm(&tm)) != (time_t)-1;
}
