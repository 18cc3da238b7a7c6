/*
 * output: printing and output files for the CLI. Strings printed here may
 * come from the server (untrusted) and are filtered for control bytes.
 */
#include "cli/output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIELD_WIDTH 13

void
sn_out_json(const json_t *j)
{
    json_dumpf(j, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
}

void
sn_out_text(FILE *f, const char *s, int multiline)
{
    const unsigned char *p = (const unsigned char *)s;

    if (s == NULL) {
        fputc('-', f);
        return;
    }
    for (; *p != '\0'; p++) {
        if (*p == '\n' && multiline) {
            fputc('\n', f);
        } else if (*p < 0x20 || *p == 0x7f) {
            fputc('?', f);
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            /* U+0080..U+009F: C1 controls some terminals obey. */
            fputc('?', f);
            p++;
        } else {
            fputc(*p, f);
        }
    }
}

void
sn_out_clean(const char *s, char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;

    if (len == 0)
        return;
    if (s == NULL || s[0] == '\0')
        p = (const unsigned char *)"-";
    for (; *p != '\0' && n + 1 < len; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            buf[n++] = '?';
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            buf[n++] = '?';
            p++;
        } else {
            buf[n++] = (char)*p;
        }
    }
    /* Never end inside a UTF-8 sequence that was cut. */
    while (n > 0 && *p != '\0' && ((unsigned char)buf[n - 1] & 0xc0) == 0x80)
        n--;
    if (n > 0 && *p != '\0' && ((unsigned char)buf[n - 1] & 0xc0) == 0xc0)
        n--;
    buf[n] = '\0';
}

const char *
sn_out_str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

void
sn_out_field(const char *label, const char *value)
{
    fprintf(stdout, "%-*s ", FIELD_WIDTH, label);
    sn_out_text(stdout, value, 0);
    fputc('\n', stdout);
}

static sn_err
write_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return SN_ERR_IO;
        p += n;
        len -= (size_t)n;
    }
    return SN_OK;
}

static sn_err
write_stdout(const void *data, size_t len)
{
    if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
        return SN_ERR_IO;
    return SN_OK;
}

/* private: the file stays 0600 (mkstemp's mode), whatever the umask. */
static sn_err
write_file(const char *path, const void *data, size_t len, int private)
{
    char tmp[4096];
    sn_err r = SN_ERR_IO;
    mode_t mask;
    int fd = -1, n, saved;

    if (strcmp(path, "-") == 0)
        return write_stdout(data, len);
    n = snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return SN_ERR_LIMIT;
    }
    if ((fd = mkstemp(tmp)) < 0)
        return SN_ERR_IO;
    /* mkstemp makes 0600; give the file the mode open(2) would have. */
    mask = umask(0);
    umask(mask);
    if (!private && fchmod(fd, 0666 & ~mask) != 0)
        goto out;
    if ((r = write_all(fd, data, len)) != SN_OK)
        goto out;
    r = SN_ERR_IO;
    if (fsync(fd) != 0)
        goto out;
    if (close(fd) != 0) {
        fd = -1;
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto out;
    r = SN_OK;
out:
    saved = errno;
    if (fd >= 0)
        close(fd);
    if (r != SN_OK)
        unlink(tmp);
    /* Callers report strerror(errno) from the failing step, not cleanup. */
    errno = saved;
    return r;
}

sn_err
sn_out_file(const char *path, const void *data, size_t len)
{
    return write_file(path, data, len, 0);
}

sn_err
sn_out_private_file(const char *path, const void *data, size_t len)
{
    return write_file(path, data, len, 1);
}

int
sn_out_writable(const char *path)
{
    char dir[4096];
    char *slash;
    int n;

    if (strcmp(path, "-") == 0)
        return 1;
    n = snprintf(dir, sizeof(dir), "%s", path);
    if (n < 0 || (size_t)n >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return 0;
    }
    if ((slash = strrchr(dir, '/')) == NULL)
        return access(".", W_OK | X_OK) == 0;
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    return access(dir, W_OK | X_OK) == 0;
}
