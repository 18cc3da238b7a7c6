/*
 * sessionfile: the stored login session (see sessionfile.h). The file is
 * read back from disk, so every field is checked again as if untrusted.
 */
#include "cli/sessionfile.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "cli/output.h"
#include "common/util.h"
#include "crypto/apitoken.h"

#define FILE_MAX 16384
#define SUBDIR "/signet"
#define FILENAME "/session"

static void say(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || whylen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* The directory: $XDG_CONFIG_HOME/signet or $HOME/.config/signet. */
static sn_err
dir_path(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;

    if (xdg != NULL && xdg[0] == '/')
        n = snprintf(buf, len, "%s" SUBDIR, xdg);
    else if (home != NULL && home[0] == '/')
        n = snprintf(buf, len, "%s/.config" SUBDIR, home);
    else
        return SN_ERR_CONFIG;
    return n < 0 || (size_t)n >= len ? SN_ERR_LIMIT : SN_OK;
}

sn_err
sn_sessionfile_path(char *buf, size_t len)
{
    size_t n;
    sn_err r;

    if ((r = dir_path(buf, len)) != SN_OK)
        return r;
    n = strlen(buf);
    if (n + sizeof(FILENAME) > len)
        return SN_ERR_LIMIT;
    memcpy(buf + n, FILENAME, sizeof(FILENAME));
    return SN_OK;
}

/* mkdir -p with mode 0700 for every directory it makes. */
static int
mkdirs(char *path)
{
    char *p;

    for (p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            *p = '/';
            return -1;
        }
        *p = '/';
    }
    return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static json_t *
to_json(const struct sn_sessionfile *s)
{
    char exp[SN_TIME_LEN];

    if (s->expires_at != 0)
        sn_time_format(s->expires_at, exp);
    return json_pack(
        "{s:s, s:s, s:o, s:o, s:s, s:s, s:b}", "url", s->url, "token", s->token,
        "expires_at", s->expires_at != 0 ? json_string(exp) : json_null(),
        "ca_file",
        s->ca_file[0] != '\0' ? json_string(s->ca_file) : json_null(), "name",
        s->name, "account", s->account, "mfa", s->mfa);
}

sn_err
sn_sessionfile_save(const struct sn_sessionfile *s, char *why, size_t whylen)
{
    char dir[SN_SESSIONFILE_PATH_MAX], path[SN_SESSIONFILE_PATH_MAX];
    json_t *j = NULL;
    char *text = NULL;
    sn_err r;

    if ((r = dir_path(dir, sizeof(dir))) != SN_OK ||
        (r = sn_sessionfile_path(path, sizeof(path))) != SN_OK) {
        say(why, whylen,
            "neither XDG_CONFIG_HOME nor HOME names an "
            "absolute directory for the session file");
        goto out;
    }
    r = SN_ERR_IO;
    if (mkdirs(dir) != 0) {
        say(why, whylen, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    r = SN_ERR_NOMEM;
    if ((j = to_json(s)) == NULL ||
        (text = json_dumps(j, JSON_INDENT(2))) == NULL) {
        say(why, whylen, "out of memory");
        goto out;
    }
    /* A temporary file (mkstemp: 0600) renamed over the old one. */
    if ((r = sn_out_private_file(path, text, strlen(text))) != SN_OK) {
        say(why, whylen, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    r = SN_OK;
out:
    if (text != NULL) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    if (j != NULL) {
        /* The token's copy in the JSON object. */
        json_t *t = json_object_get(j, "token");
        if (json_is_string(t))
            OPENSSL_cleanse((void *)(uintptr_t)json_string_value(t),
                            json_string_length(t));
    }
    json_decref(j);
    return r;
}

/* A string member of at most max bytes without control characters; NULL
 * (and ok) when absent or null and not required. */
static int
member(const json_t *j, const char *key, size_t max, int required,
       const char **out)
{
    const json_t *v = json_object_get(j, key);
    const unsigned char *p;

    *out = NULL;
    if (v == NULL || json_is_null(v))
        return !required;
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v))
        return 0;
    for (p = (const unsigned char *)json_string_value(v); *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    *out = json_string_value(v);
    return 1;
}

/* Fills s from the parsed file; 0 if a field is missing or malformed. */
static int
from_json(const json_t *j, struct sn_sessionfile *s)
{
    const char *url, *token, *exp, *ca, *name, *account;
    const json_t *mfa = json_object_get(j, "mfa");
    size_t i;

    if (!json_is_object(j) ||
        !member(j, "url", SN_SESSIONFILE_URL_MAX, 1, &url) ||
        !member(j, "token", SN_TOKEN_MAX_LEN, 1, &token) ||
        !member(j, "expires_at", 64, 0, &exp) ||
        !member(j, "ca_file", SN_SESSIONFILE_PATH_MAX - 1, 0, &ca) ||
        !member(j, "name", sizeof(s->name) - 1, 0, &name) ||
        !member(j, "account", sizeof(s->account) - 1, 0, &account) ||
        (mfa != NULL && !json_is_boolean(mfa)))
        return 0;
    if (strncmp(url, "https://", 8) != 0 || token[0] == '\0')
        return 0;
    /* A token is sent in a header: printable ASCII, no spaces. */
    for (i = 0; token[i] != '\0'; i++)
        if ((unsigned char)token[i] <= 0x20 || (unsigned char)token[i] >= 0x7f)
            return 0;
    if (exp != NULL && sn_time_parse(exp, &s->expires_at) != SN_OK)
        return 0;
    if (ca != NULL && ca[0] != '/')
        return 0;
    if ((s->token = strdup(token)) == NULL)
        return 0;
    snprintf(s->url, sizeof(s->url), "%s", url);
    snprintf(s->ca_file, sizeof(s->ca_file), "%s", ca != NULL ? ca : "");
    snprintf(s->name, sizeof(s->name), "%s", name != NULL ? name : "");
    snprintf(s->account, sizeof(s->account), "%s",
             account != NULL ? account : "");
    s->mfa = json_is_true(mfa);
    return 1;
}

sn_err
sn_sessionfile_load(struct sn_sessionfile *s, char *why, size_t whylen)
{
    char path[SN_SESSIONFILE_PATH_MAX];
    uint8_t *buf = NULL;
    size_t len = 0;
    json_t *j = NULL;
    struct stat st;
    sn_err r;

    memset(s, 0, sizeof(*s));
    if ((r = sn_sessionfile_path(path, sizeof(path))) != SN_OK) {
        /* No home, no stored session. */
        r = SN_ERR_NOT_FOUND;
        goto out;
    }
    if (stat(path, &st) != 0) {
        r = errno == ENOENT ? SN_ERR_NOT_FOUND : SN_ERR_IO;
        say(why, whylen, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    r = SN_ERR_STATE;
    if (st.st_uid != getuid() || (st.st_mode & 077) != 0) {
        say(why, whylen,
            "the session file %s is not private to you (owner and mode "
            "0600): remove it and run signet login",
            path);
        goto out;
    }
    if ((r = sn_file_read(path, FILE_MAX, &buf, &len)) != SN_OK) {
        say(why, whylen, "cannot read the session file %s: %s", path,
            sn_err_str(r));
        goto out;
    }
    j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
    if (!from_json(j, s)) {
        sn_sessionfile_cleanup(s);
        r = SN_ERR_INVALID;
        say(why, whylen,
            "the session file %s is damaged: remove it and run signet "
            "login",
            path);
        goto out;
    }
    r = SN_OK;
out:
    if (j != NULL) {
        json_t *t = json_object_get(j, "token");
        if (json_is_string(t))
            OPENSSL_cleanse((void *)(uintptr_t)json_string_value(t),
                            json_string_length(t));
    }
    json_decref(j);
    if (buf != NULL) {
        OPENSSL_cleanse(buf, len);
        free(buf);
    }
    return r;
}

sn_err
sn_sessionfile_remove(char *why, size_t whylen)
{
    char path[SN_SESSIONFILE_PATH_MAX];

    if (sn_sessionfile_path(path, sizeof(path)) != SN_OK)
        return SN_ERR_NOT_FOUND;
    if (unlink(path) == 0)
        return SN_OK;
    if (errno == ENOENT)
        return SN_ERR_NOT_FOUND;
    say(why, whylen, "cannot remove %s: %s", path, strerror(errno));
    return SN_ERR_IO;
}

void
sn_sessionfile_cleanup(struct sn_sessionfile *s)
{
    sn_secret_free(s->token);
    s->token = NULL;
}
