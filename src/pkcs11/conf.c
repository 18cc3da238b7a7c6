/*
 * conf: reads the module's configuration and reports, once per kind, what
 * is wrong with it. Trusted input: the environment and the file named by
 * SIGNET_PKCS11_CONF (bounded in size; a token in it is wiped after use).
 * Texts from the transport are printable already (apiclient); no token or
 * PIN is ever an argument of sn_p11_say.
 */
#include "pkcs11/conf.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/util.h"

#define CONF_MAX (64 * 1024)

/* Bit n set: cause n was reported. Per process, shared by threads. */
static unsigned said;

void
sn_p11_say(enum sn_p11_cause cause, const char *fmt, ...)
{
    static const char prefix[] = "libsignet-pkcs11: ";
    unsigned bit = 1u << (unsigned)cause;
    char line[1024];
    va_list ap;

    if (__atomic_fetch_or(&said, bit, __ATOMIC_RELAXED) & bit)
        return;
    /* The line is built first and written at once: threads never mix. */
    memcpy(line, prefix, sizeof(prefix));
    va_start(ap, fmt);
    vsnprintf(line + sizeof(prefix) - 1, sizeof(line) - sizeof(prefix) + 1, fmt,
              ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}

void
sn_p11_note(const char *fmt, ...)
{
    static const char prefix[] = "libsignet-pkcs11: ";
    char line[1024];
    va_list ap;

    memcpy(line, prefix, sizeof(prefix));
    va_start(ap, fmt);
    vsnprintf(line + sizeof(prefix) - 1, sizeof(line) - sizeof(prefix) + 1, fmt,
              ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}

void
sn_p11_url_shown(const char *url, char *dst, size_t dstlen)
{
    const char *host = url, *at, *end;

    if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    end = host + strcspn(host, "/?#");
    at = memchr(host, '@', (size_t)(end - host));
    if (at == NULL)
        snprintf(dst, dstlen, "%s", url);
    else
        snprintf(dst, dstlen, "%.*s%s", (int)(host - url), url, at + 1);
}

/* The CA file as the messages name it. */
static void
ca_named(const struct sn_p11_conf *c, char *dst, size_t dstlen)
{
    if (c->conn.ca_file == NULL)
        snprintf(dst, dstlen, "the system's CAs; SIGNET_CA_FILE is not set");
    else
        snprintf(dst, dstlen, "%s %s", c->ca_from, c->conn.ca_file);
}

void
sn_p11_say_net(const struct sn_p11_conf *c, const struct sn_p11_answer *a)
{
    char url[512], ca[SN_P11_FROM_MAX + 512];

    sn_p11_url_shown(c->conn.url != NULL ? c->conn.url : "", url, sizeof(url));
    ca_named(c, ca, sizeof(ca));
    switch (a->net) {
    case SN_P11_NET_CA_FILE:
        sn_p11_say(SN_P11_CAUSE_CA_FILE, "%s: %s", ca, a->detail);
        break;
    case SN_P11_NET_TLS:
        sn_p11_say(SN_P11_CAUSE_TLS, "TLS with %s (%s) failed: %s; trusted: %s",
                   url, c->url_from, a->detail, ca);
        break;
    default:
        sn_p11_say(SN_P11_CAUSE_UNREACHABLE, "cannot reach %s (%s): %s", url,
                   c->url_from, a->detail);
        break;
    }
}

static sn_err
set_str(char **dst, const char *v, int secret)
{
    char *copy = strdup(v);

    if (copy == NULL)
        return SN_ERR_NOMEM;
    if (secret)
        sn_secret_free(*dst);
    else
        free(*dst);
    *dst = copy;
    return SN_OK;
}

static char *
trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* approval_wait: seconds, 0..SN_P11_APPROVAL_WAIT_MAX, digits only. */
static sn_err
wait_parse(const char *v, unsigned *out)
{
    unsigned long n = 0;
    size_t i;

    for (i = 0; v[i] != '\0'; i++) {
        if (i >= 7 || v[i] < '0' || v[i] > '9')
            return SN_ERR_CONFIG;
        n = n * 10 + (unsigned long)(v[i] - '0');
    }
    if (i == 0 || n > SN_P11_APPROVAL_WAIT_MAX)
        return SN_ERR_CONFIG;
    *out = (unsigned)n;
    return SN_OK;
}

/* One "key = value" line of the file; the key is never echoed (a typo
 * could hold a token). */
static sn_err
conf_line(struct sn_p11_conf *c, const char *path, char *line)
{
    char *eq, *k, *v;

    if ((eq = strchr(line, '=')) == NULL)
        return SN_ERR_CONFIG;
    *eq = '\0';
    k = trim(line);
    v = trim(eq + 1);
    if (strcmp(k, "url") == 0) {
        snprintf(c->url_from, sizeof(c->url_from), "url in %s", path);
        return set_str(&c->conn.url, v, 0);
    }
    if (strcmp(k, "ca_file") == 0) {
        snprintf(c->ca_from, sizeof(c->ca_from), "ca_file in %s", path);
        return set_str(&c->conn.ca_file, v, 0);
    }
    if (strcmp(k, "token") == 0) {
        snprintf(c->token_from, sizeof(c->token_from), "the token in %s", path);
        return set_str(&c->token, v, 1);
    }
    if (strcmp(k, "id_token_file") == 0)
        return set_str(&c->id_token_file, v, 0);
    if (strcmp(k, "oidc_audience") == 0)
        return set_str(&c->audience, v, 0);
    if (strcmp(k, "client_cert") == 0)
        return set_str(&c->client_cert, v, 0);
    if (strcmp(k, "client_key") == 0)
        return set_str(&c->client_key, v, 0);
    if (strcmp(k, "client_key_pin_file") == 0)
        return set_str(&c->client_key_pin_file, v, 0);
    if (strcmp(k, "client_key_module") == 0)
        return set_str(&c->client_key_module, v, 0);
    if (strcmp(k, "approval_wait") == 0)
        return wait_parse(v, &c->approval_wait);
    return SN_ERR_CONFIG;
}

/*
 * SIGNET_PKCS11_CONF: "key = value" lines (url, ca_file, token,
 * id_token_file, oidc_audience, client_*, approval_wait), '#'.
 */
static sn_err
read_conf(struct sn_p11_conf *c, const char *path)
{
    uint8_t *data = NULL;
    char *line, *next;
    size_t len = 0, n = 0;
    sn_err r;

    if ((r = sn_file_read(path, CONF_MAX, &data, &len)) != SN_OK) {
        sn_p11_say(SN_P11_CAUSE_CONF_FILE, "SIGNET_PKCS11_CONF %s: %s", path,
                   access(path, R_OK) != 0 ? strerror(errno) : sn_err_str(r));
        goto out;
    }
    for (line = (char *)data; line != NULL; line = next) {
        n++;
        if ((next = strchr(line, '\n')) != NULL)
            *next++ = '\0';
        line = trim(line);
        if (*line == '#' || *line == '\0')
            continue;
        if ((r = conf_line(c, path, line)) != SN_OK) {
            sn_p11_say(SN_P11_CAUSE_CONF_FILE,
                       "SIGNET_PKCS11_CONF %s line %zu: expected url, ca_file, "
                       "token, id_token_file, oidc_audience, client_cert, "
                       "client_key, client_key_pin_file, client_key_module "
                       "or approval_wait (seconds, 0..%d) = value",
                       path, n, SN_P11_APPROVAL_WAIT_MAX);
            goto out;
        }
    }
    r = SN_OK;
out:
    if (data != NULL)
        OPENSSL_cleanse(data, len);
    free(data);
    return r;
}

/* The environment over the file; each setting remembers its source. */
static sn_err read_env_client(struct sn_p11_conf *c);

static sn_err
read_env(struct sn_p11_conf *c)
{
    const char *e;
    sn_err r = SN_OK;

    if ((e = getenv("SIGNET_URL")) != NULL && *e != '\0') {
        snprintf(c->url_from, sizeof(c->url_from), "SIGNET_URL");
        if ((r = set_str(&c->conn.url, e, 0)) != SN_OK)
            return r;
    }
    if ((e = getenv("SIGNET_CA_FILE")) != NULL && *e != '\0') {
        snprintf(c->ca_from, sizeof(c->ca_from), "SIGNET_CA_FILE");
        if ((r = set_str(&c->conn.ca_file, e, 0)) != SN_OK)
            return r;
    }
    if ((e = getenv("SIGNET_TOKEN")) != NULL && *e != '\0') {
        snprintf(c->token_from, sizeof(c->token_from), "SIGNET_TOKEN");
        if ((r = set_str(&c->token, e, 1)) != SN_OK)
            return r;
    }
    if ((e = getenv("SIGNET_ID_TOKEN_FILE")) != NULL && *e != '\0' &&
        (r = set_str(&c->id_token_file, e, 0)) != SN_OK)
        return r;
    if ((e = getenv("SIGNET_OIDC_AUDIENCE")) != NULL && *e != '\0' &&
        (r = set_str(&c->audience, e, 0)) != SN_OK)
        return r;
    if ((e = getenv("SIGNET_APPROVAL_WAIT")) != NULL && *e != '\0' &&
        wait_parse(e, &c->approval_wait) != SN_OK) {
        sn_p11_say(SN_P11_CAUSE_CONF_FILE,
                   "SIGNET_APPROVAL_WAIT: expected seconds, 0..%d",
                   SN_P11_APPROVAL_WAIT_MAX);
        return SN_ERR_CONFIG;
    }
    return read_env_client(c);
}

/* The client certificate settings of the environment (mTLS). */
static sn_err
read_env_client(struct sn_p11_conf *c)
{
    static const struct {
        const char *name;
        size_t off;
        int secret;
    } vars[] = {
        {"SIGNET_CLIENT_CERT", offsetof(struct sn_p11_conf, client_cert), 0},
        {"SIGNET_CLIENT_KEY", offsetof(struct sn_p11_conf, client_key), 0},
        {"SIGNET_CLIENT_KEY_PIN", offsetof(struct sn_p11_conf, client_key_pin),
         1},
        {"SIGNET_CLIENT_KEY_PIN_FILE",
         offsetof(struct sn_p11_conf, client_key_pin_file), 0},
        {"SIGNET_CLIENT_KEY_MODULE",
         offsetof(struct sn_p11_conf, client_key_module), 0},
    };
    const char *e;
    size_t i;
    sn_err r;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if ((e = getenv(vars[i].name)) != NULL && *e != '\0' &&
            (r = set_str((char **)((char *)c + vars[i].off), e,
                         vars[i].secret)) != SN_OK)
            return r;
    return SN_OK;
}

/* Loads the client certificate and key, if any are set. */
static sn_err
load_client(struct sn_p11_conf *c)
{
    struct sn_client_cred_src src = {
        .cert_file = c->client_cert,
        .key = c->client_key,
        .pin = c->client_key_pin,
        .pin_file = c->client_key_pin_file,
        .module = c->client_key_module,
    };
    char why[512];
    sn_err r;

    if (c->client_cert == NULL && c->client_key == NULL)
        return SN_OK;
    r = sn_client_cred_load(&src, &c->conn.cred, why, sizeof(why));
    sn_secret_free(c->client_key_pin);
    c->client_key_pin = NULL;
    if (r != SN_OK)
        sn_p11_say(SN_P11_CAUSE_CLIENT_CERT,
                   "client certificate (SIGNET_CLIENT_CERT, "
                   "SIGNET_CLIENT_KEY or client_cert, client_key): %s",
                   why);
    return r == SN_OK ? SN_OK : SN_ERR_CONFIG;
}

/* The URL must be https; a trailing slash is dropped. */
static sn_err
check_url(struct sn_p11_conf *c)
{
    char shown[512];
    size_t n;

    if (c->conn.url == NULL) {
        /* Said when an exchange needs it: listing the slot works without. */
        return SN_OK;
    }
    if (strncmp(c->conn.url, "https://", 8) != 0 || c->conn.url[8] == '\0') {
        sn_p11_url_shown(c->conn.url, shown, sizeof(shown));
        sn_p11_say(SN_P11_CAUSE_BAD_URL, "%s %s: must start with https://",
                   c->url_from, shown);
        return SN_ERR_CONFIG;
    }
    n = strlen(c->conn.url);
    while (n > 8 && c->conn.url[n - 1] == '/')
        c->conn.url[--n] = '\0';
    return SN_OK;
}

sn_err
sn_p11_conf_load(struct sn_p11_conf *c)
{
    const char *e;
    FILE *f;
    sn_err r;

    memset(c, 0, sizeof(*c));
    c->debug = getenv("SIGNET_PKCS11_DEBUG") != NULL;
    c->approval_wait = SN_P11_APPROVAL_WAIT_DEFAULT;
    if ((e = getenv("SIGNET_PKCS11_CONF")) != NULL && *e != '\0' &&
        (r = read_conf(c, e)) != SN_OK)
        return r;
    if ((r = read_env(c)) != SN_OK || (r = check_url(c)) != SN_OK ||
        (r = load_client(c)) != SN_OK)
        return r;
    /* Said now, in the words of the setting, rather than as TLS trouble. */
    if (c->conn.ca_file != NULL) {
        if ((f = fopen(c->conn.ca_file, "r")) == NULL)
            sn_p11_say(SN_P11_CAUSE_CA_FILE, "%s %s: %s", c->ca_from,
                       c->conn.ca_file, strerror(errno));
        else
            fclose(f);
    }
    return SN_OK;
}

void
sn_p11_conf_cleanup(struct sn_p11_conf *c)
{
    free(c->conn.url);
    free(c->conn.ca_file);
    sn_client_cred_free(c->conn.cred);
    free(c->client_cert);
    free(c->client_key);
    sn_secret_free(c->client_key_pin);
    free(c->client_key_pin_file);
    free(c->client_key_module);
    sn_secret_free(c->token);
    free(c->id_token_file);
    free(c->audience);
    memset(c, 0, sizeof(*c));
}
