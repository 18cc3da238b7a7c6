/*
 * config: parser for signetd's configuration file. The file is written by
 * the operator (trusted for intent) but parsed strictly: every line is
 * checked, and the first problem stops the parse with "PATH:LINE: message"
 * in errbuf. Problems that belong to no line (a missing required key, an
 * unreadable file, a bad home) are reported as line 0.
 *
 * Rules beyond the header's key list:
 *   - '#' starts a comment only as the first non-blank character of a line;
 *     elsewhere it is part of the value (paths may contain it).
 *   - A trailing CR is dropped (CRLF files); other control characters
 *     except tab are rejected.
 *   - listen takes a numeric address: "IPV4:PORT" or "[IPV6]:PORT".
 *   - Token labels are 1..32 bytes of printable ASCII without spaces (the
 *     size of CK_TOKEN_INFO.label); subscriber names follow the API's rule,
 *     1..64 of [A-Za-z0-9._-].
 *   - A token label may be mapped to one subscriber only, and never to the
 *     service token's label: subscribers must not share a token.
 *   - hsm.subscriber_token lines are accepted in either token mode.
 *   - hsm.certified_modules fields are separated by '|' and trimmed; each
 *     is printable UTF-8 without '|' (manufacturer 1..32 bytes, model
 *     1..16, certificate 1..64); a manufacturer and model pair once only.
 */
#include "daemon/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/oids.h"
#include "common/util.h"
#include "translog/note.h"

#define MAX_FILE (1024 * 1024)
#define MAX_LINE 4096
#define MAX_LABEL 32
#define MAX_NAME 64
#define MAX_SHOWN 64 /* bytes of an offending value quoted in messages */

enum key_id {
    KEY_LISTEN,
    KEY_DATABASE,
    KEY_STORE_URL,
    KEY_TLS_CERT,
    KEY_TLS_KEY,
    KEY_JSON_BODY,
    KEY_FILE_BODY,
    KEY_THREADS,
    KEY_EVENT_THREADS,
    KEY_HSM_PARALLELISM,
    KEY_MODULE,
    KEY_SOFTHSM_CONF,
    KEY_TOKENS,
    KEY_SERVICE_TOKEN,
    KEY_SERVICE_PIN,
    KEY_SUBSCRIBER,
    KEY_PUBLIC_LISTEN,
    KEY_CA_BASE_URL,
    KEY_CA_ORG,
    KEY_CA_COUNTRY,
    KEY_ATT_ROOT,
    KEY_TSA_ALG,
    KEY_TSA_POLICY,
    KEY_TSA_ACCURACY,
    KEY_OID_ARC,
    KEY_CERTIFIED,
    KEY_ALLOW_UNCERTIFIED,
    KEY_CRL_REISSUE,
    /* issue 14: upload trust store and per-subscriber quotas */
    KEY_UPLOAD_ROOT,
    KEY_QUOTA_KEYS,
    KEY_QUOTA_CERTS,
    KEY_QUOTA_KEYGEN,
    /* storage and retention (issue 14) */
    KEY_STORAGE_MIN_FREE,
    KEY_TSA_RETENTION,
    /* connections: deadlines and limits (issue 14) */
    KEY_HEADER_TIMEOUT,
    KEY_IDLE_TIMEOUT,
    KEY_BODY_TIMEOUT,
    KEY_STREAM_MIN_RATE,
    KEY_STREAM_GRACE,
    KEY_CONNECTIONS,
    KEY_CONNECTIONS_PER_ADDRESS,
    /* issue 15: API tokens expire by default */
    KEY_TOKEN_LIFETIME,
    KEY_ANON_RATE,
    KEY_ANON_BURST,
    KEY_ANON_SIGNATURES,
    /* issue 16: static tokens alone may not sign (keys without a policy
     * saying otherwise) */
    KEY_REQUIRE_STRONG_AUTH,
    /* issue 16: OIDC workload identity */
    KEY_OIDC_MAX_AGE,
    KEY_OIDC_REFRESH,
    KEY_OIDC_FETCH_TIMEOUT,
    KEY_OPERATOR_MFA,
    KEY_SESSION_LIFETIME,
    KEY_SESSION_IDLE,
    KEY_LOG_ENABLED,
    KEY_PINS_IN_FILES,
    KEY_LOG_ORIGIN,
    /* issue 18: reports of Suspect Code and key compromise */
    KEY_REPORT_PER_HOUR,
    KEY_REPORT_BURST,
    KEY_REPORT_WEBHOOK,
    KEY_REPORT_WEBHOOK_CA,
    KEY_REPORT_RETRY,
    /* PROXY protocol v2 behind a load balancer */
    KEY_PROXY_PROTOCOL,
    KEY_PROXY_TRUSTED,
    KEY_SERVER_USER,
    KEY_COUNT
};

enum kind {
    K_PATH,
    K_LABEL,
    K_LISTEN,
    K_SIZE,
    K_UINT,
    K_TOKENS,
    K_MAP,
    K_LISTEN_OFF,  /* K_LISTEN or "off" */
    K_URL,         /* http://... without spaces */
    K_WEBHOOK,     /* https://..., or http:// to the loopback */
    K_TEXT,        /* printable UTF-8, 1..64 bytes */
    K_COUNTRY,     /* two capital letters */
    K_PATHS,       /* repeatable path */
    K_TSA_ALG,     /* rsa-3072, rsa-4096, ecdsa-p256, ecdsa-p384 */
    K_OID,         /* dotted object identifier */
    K_OID_ARC,     /* an arc for Signet's OIDs (common/oids.h) */
    K_CERTIFIED,   /* MANUFACTURER | MODEL | CERTIFICATE, repeatable */
    K_BOOL,        /* true or false */
    K_UPLOAD_ROOT, /* repeatable path of a PEM root (ca.upload_root) */
    K_NOTE_NAME,   /* a signed note's name: printable ASCII, no space or + */
    K_STORE,       /* sqlite:PATH, PATH, or postgresql://... (a URI) */
    K_PROXY,       /* off or v2 */
    K_CIDRS        /* ADDR[/BITS], comma-separated */
};

static const struct keydef {
    const char *name;
    enum kind kind;
    uint64_t min, max; /* bounds for K_SIZE and K_UINT */
    int required;
} keys[KEY_COUNT] = {
    [KEY_LISTEN] = {"listen", K_LISTEN, 0, 0, 0},
    [KEY_DATABASE] = {"database", K_STORE, 0, 0, 0},
    [KEY_STORE_URL] = {"store.url", K_STORE, 0, 0, 0},
    [KEY_TLS_CERT] = {"tls.cert", K_PATH, 0, 0, 0},
    [KEY_TLS_KEY] = {"tls.key", K_PATH, 0, 0, 0},
    [KEY_JSON_BODY] = {"limits.json_body", K_SIZE, 1024,
                       (uint64_t)64 * 1024 * 1024, 0},
    [KEY_FILE_BODY] = {"limits.file_body", K_SIZE, 1, (uint64_t)1 << 40, 0},
    [KEY_THREADS] = {"server.threads", K_UINT, 1, 256, 0},
    [KEY_EVENT_THREADS] = {"server.event_threads", K_UINT, 1, 256, 0},
    [KEY_HSM_PARALLELISM] = {"hsm.parallelism", K_UINT, 1, 1024, 0},
    [KEY_MODULE] = {"hsm.module", K_PATH, 0, 0, 1},
    [KEY_SOFTHSM_CONF] = {"hsm.softhsm_conf", K_PATH, 0, 0, 0},
    [KEY_TOKENS] = {"hsm.tokens", K_TOKENS, 0, 0, 0},
    [KEY_SERVICE_TOKEN] = {"hsm.service_token", K_LABEL, 0, 0, 1},
    [KEY_SERVICE_PIN] = {"hsm.service_pin_file", K_PATH, 0, 0, 1},
    [KEY_SUBSCRIBER] = {"hsm.subscriber_token", K_MAP, 0, 0, 0},
    [KEY_PUBLIC_LISTEN] = {"public.listen", K_LISTEN_OFF, 0, 0, 0},
    [KEY_CA_BASE_URL] = {"ca.base_url", K_URL, 0, 0, 0},
    [KEY_CA_ORG] = {"ca.organization", K_TEXT, 0, 0, 0},
    [KEY_CA_COUNTRY] = {"ca.country", K_COUNTRY, 0, 0, 0},
    [KEY_ATT_ROOT] = {"attestation.trusted_root", K_PATHS, 0, 0, 0},
    [KEY_TSA_ALG] = {"tsa.key_algorithm", K_TSA_ALG, 0, 0, 0},
    [KEY_TSA_POLICY] = {"tsa.policy_oid", K_OID, 0, 0, 0},
    [KEY_TSA_ACCURACY] = {"tsa.accuracy_ms", K_UINT, 1, 60000, 0},
    [KEY_OID_ARC] = {"oid.arc", K_OID_ARC, 0, 0, 0},
    [KEY_CERTIFIED] = {"hsm.certified_modules", K_CERTIFIED, 0, 0, 0},
    [KEY_ALLOW_UNCERTIFIED] = {"ca.allow_uncertified_modules", K_BOOL, 0, 0, 0},
    /* At most 6 days: the timer may look up to 5 minutes late, and CSBR
     * 4.9.7 wants a new CRL at least every 7 days. */
    [KEY_CRL_REISSUE] = {"ca.crl_reissue_seconds", K_UINT, 1, 6 * 86400, 0},
    [KEY_UPLOAD_ROOT] = {"ca.upload_root", K_UPLOAD_ROOT, 0, 0, 0},
    [KEY_QUOTA_KEYS] = {"quota.keys", K_UINT, 1, 10000000, 0},
    [KEY_QUOTA_CERTS] = {"quota.certificates_per_day", K_UINT, 1, 1000000, 0},
    [KEY_QUOTA_KEYGEN] = {"quota.key_generations", K_UINT, 1, 256, 0},
    [KEY_STORAGE_MIN_FREE] = {"storage.min_free", K_SIZE, 0, (uint64_t)1 << 50,
                              0},
    [KEY_TSA_RETENTION] = {"tsa.record_retention", K_UINT, 0, 36500, 0},
    /* connections: deadlines and limits (issue 14) */
    [KEY_HEADER_TIMEOUT] = {"limits.header_timeout", K_UINT, 1, 300, 0},
    [KEY_IDLE_TIMEOUT] = {"limits.idle_timeout", K_UINT, 1, 3600, 0},
    [KEY_BODY_TIMEOUT] = {"limits.body_timeout", K_UINT, 1, 3600, 0},
    [KEY_STREAM_MIN_RATE] = {"limits.stream_min_rate", K_SIZE, 1,
                             (uint64_t)1 << 30, 0},
    [KEY_STREAM_GRACE] = {"limits.stream_grace", K_UINT, 1, 3600, 0},
    [KEY_CONNECTIONS] = {"limits.connections", K_UINT, 16, 1 << 20, 0},
    [KEY_CONNECTIONS_PER_ADDRESS] = {"limits.connections_per_address", K_UINT,
                                     1, 1 << 20, 0},
    /* issue 15: API tokens expire by default */
    [KEY_TOKEN_LIFETIME] = {"tokens.default_lifetime", K_UINT, 0, 3650, 0},
    [KEY_ANON_RATE] = {"limits.anon_rate", K_UINT, 1, 1000000, 0},
    [KEY_ANON_BURST] = {"limits.anon_burst", K_UINT, 1, 1000000, 0},
    [KEY_ANON_SIGNATURES] = {"limits.anon_signatures_per_second", K_UINT, 1,
                             1000000, 0},
    [KEY_REQUIRE_STRONG_AUTH] = {"auth.require_strong_auth", K_BOOL, 0, 0, 0},
    /* issue 16: OIDC workload identity */
    [KEY_OIDC_MAX_AGE] = {"oidc.max_token_age", K_UINT, 60, 86400, 0},
    [KEY_OIDC_REFRESH] = {"oidc.refresh_interval", K_UINT, 1, 3600, 0},
    [KEY_OIDC_FETCH_TIMEOUT] = {"oidc.fetch_timeout", K_UINT, 1, 120, 0},
    /* issue 17: people's login sessions, and operators' second factor */
    [KEY_OPERATOR_MFA] = {"auth.operator_mfa", K_BOOL, 0, 0, 0},
    [KEY_SESSION_LIFETIME] = {"sessions.lifetime", K_UINT, 300, 7 * 86400, 0},
    [KEY_SESSION_IDLE] = {"sessions.idle_timeout", K_UINT, 60, 86400, 0},
    /* issue 18: the transparency log */
    [KEY_LOG_ENABLED] = {"log.enabled", K_BOOL, 0, 0, 0},
    [KEY_PINS_IN_FILES] = {"hsm.pins_in_files", K_BOOL, 0, 0, 0},
    [KEY_LOG_ORIGIN] = {"log.origin", K_NOTE_NAME, 0, 0, 0},
    /* issue 18: anonymous reports per client address */
    [KEY_REPORT_PER_HOUR] = {"reports.anon_per_hour", K_UINT, 1, 1000000, 0},
    [KEY_REPORT_BURST] = {"reports.anon_burst", K_UINT, 1, 1000000, 0},
    /* issue 18: the notices owed to other CAs */
    [KEY_REPORT_WEBHOOK] = {"reports.ca_webhook", K_WEBHOOK, 0, 0, 0},
    [KEY_REPORT_WEBHOOK_CA] = {"reports.ca_webhook_ca_file", K_PATH, 0, 0, 0},
    [KEY_REPORT_RETRY] = {"reports.ca_webhook_retry", K_UINT, 1, 86400, 0},
    [KEY_PROXY_PROTOCOL] = {"proxy.protocol", K_PROXY, 0, 0, 0},
    [KEY_PROXY_TRUSTED] = {"proxy.trusted", K_CIDRS, 0, 0, 0},
    [KEY_SERVER_USER] = {"server.user", K_TEXT, 0, 0, 0},
};

#define DEFAULT_LISTEN "127.0.0.1:8443"
#define DEFAULT_DATABASE "signet.db"
#define DEFAULT_TLS_CERT "tls/server.pem"
#define DEFAULT_TLS_KEY "tls/server.key"
#define DEFAULT_JSON_BODY ((size_t)1024 * 1024)
#define DEFAULT_FILE_BODY ((uint64_t)2 * 1024 * 1024 * 1024)
#define DEFAULT_THREADS 8
#define DEFAULT_PUBLIC_LISTEN "127.0.0.1:8080"
#define DEFAULT_CA_ORG "Signet"
#define DEFAULT_CA_COUNTRY "US"
#define MAX_URL 200
#define MAX_ATT_ROOTS 16
#define DEFAULT_QUOTA_KEYS 20000
#define DEFAULT_QUOTA_CERTS 1000
#define DEFAULT_QUOTA_KEYGEN 4
#define DEFAULT_STORAGE_MIN_FREE ((uint64_t)256 * 1024 * 1024)
#define DEFAULT_TSA_RETENTION 90  /* days */
#define DEFAULT_TOKEN_LIFETIME 90 /* days (issue 15) */

struct parser {
    const char *path; /* the config file, as named in messages */
    char *errbuf;
    size_t errlen;
    unsigned seen[KEY_COUNT]; /* line of first occurrence, 0 if unseen */
    size_t mapcap;
    struct sn_config cfg;
};

static void fail(struct parser *p, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error only; later calls keep it. */
static void
fail(struct parser *p, unsigned line, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (p->errbuf == NULL || p->errlen == 0 || p->errbuf[0] != '\0')
        return;
    n = snprintf(p->errbuf, p->errlen, "%s:%u: ", p->path, line);
    if (n < 0 || (size_t)n >= p->errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(p->errbuf + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static int
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static char *
trim(char *s)
{
    size_t n;

    while (is_blank(*s))
        s++;
    n = strlen(s);
    while (n > 0 && is_blank(s[n - 1]))
        s[--n] = '\0';
    return s;
}

static char *
dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

/* An absolute path stays; a relative one is taken relative to home. */
static sn_err
resolve_path(const char *home, const char *value, char **out)
{
    size_t n;
    char *s;

    *out = NULL;
    if (value[0] == '/') {
        if ((s = dup_str(value)) == NULL)
            return SN_ERR_NOMEM;
    } else {
        n = strlen(home) + 1 + strlen(value) + 1;
        if ((s = malloc(n)) == NULL)
            return SN_ERR_NOMEM;
        snprintf(s, n, "%s/%s", home, value);
    }
    *out = s;
    return SN_OK;
}

/* The store: a PostgreSQL URI as written (it may hold a password: never
 * shown), "sqlite:PATH" or PATH resolved like any path. database and
 * store.url name the same thing: once. */
static sn_err
set_store(struct parser *p, unsigned line, const char *name, const char *value,
          char **field)
{
    if (*field != NULL) {
        fail(p, line, "%s: the database is named twice (database, store.url)",
             name);
        return SN_ERR_CONFIG;
    }
    if (strncmp(value, "postgresql://", 13) == 0 ||
        strncmp(value, "postgres://", 11) == 0)
        return (*field = dup_str(value)) == NULL ? SN_ERR_NOMEM : SN_OK;
    if (strncmp(value, "sqlite:", 7) == 0)
        value += 7;
    if (*value == '\0') {
        fail(p, line, "%s: expected sqlite:PATH, PATH or postgresql://...",
             name);
        return SN_ERR_CONFIG;
    }
    return resolve_path(p->cfg.home, value, field);
}

/* Decimal digits only: no sign, no blanks, no base prefix, no overflow. */
static int
parse_u64(const char *s, uint64_t *out, const char **end)
{
    unsigned long long v;
    char *e;

    if (*s < '0' || *s > '9')
        return 0;
    errno = 0;
    v = strtoull(s, &e, 10);
    if (errno == ERANGE)
        return 0;
    *out = (uint64_t)v;
    *end = e;
    return 1;
}

static sn_err
parse_number(struct parser *p, unsigned line, const struct keydef *k,
             const char *value, uint64_t *out)
{
    const char *end = NULL;
    uint64_t v = 0, mult = 1;

    if (!parse_u64(value, &v, &end)) {
        fail(p, line, "%s: %s: '%.*s'", k->name,
             *value >= '0' && *value <= '9' ? "out of range" : "not a number",
             MAX_SHOWN, value);
        return SN_ERR_CONFIG;
    }
    if (k->kind == K_SIZE && *end != '\0') {
        if (end[1] != '\0' || strchr("KMG", *end) == NULL) {
            fail(p, line, "%s: bad size suffix '%.*s' (use K, M or G)", k->name,
                 MAX_SHOWN, end);
            return SN_ERR_CONFIG;
        }
        mult = *end == 'K'   ? 1024
               : *end == 'M' ? 1024 * 1024
                             : 1024 * 1024 * 1024;
    } else if (*end != '\0') {
        fail(p, line, "%s: not a number: '%.*s'", k->name, MAX_SHOWN, value);
        return SN_ERR_CONFIG;
    }
    if (v > k->max / mult || v * mult < k->min) {
        fail(p, line, "%s: %.*s out of range (%llu..%llu)", k->name, MAX_SHOWN,
             value, (unsigned long long)k->min, (unsigned long long)k->max);
        return SN_ERR_CONFIG;
    }
    *out = v * mult;
    return SN_OK;
}

/* "IPV4:PORT" or "[IPV6]:PORT", port 1..65535. */
static int
listen_ok(const char *value)
{
    char addr[INET6_ADDRSTRLEN + 1];
    unsigned char bin[sizeof(struct in6_addr)];
    const char *colon, *start = value, *stop, *end;
    uint64_t port;
    int family = AF_INET;

    if ((colon = strrchr(value, ':')) == NULL)
        return 0;
    stop = colon;
    if (value[0] == '[') {
        if (colon == value || colon[-1] != ']')
            return 0;
        start = value + 1;
        stop = colon - 1;
        family = AF_INET6;
    }
    if (stop <= start || (size_t)(stop - start) >= sizeof(addr))
        return 0;
    memcpy(addr, start, (size_t)(stop - start));
    addr[stop - start] = '\0';
    if (inet_pton(family, addr, bin) != 1)
        return 0;
    if (!parse_u64(colon + 1, &port, &end) || *end != '\0' || port < 1 ||
        port > 65535)
        return 0;
    return 1;
}

/* http://host[:port][/path]: printable ASCII, no spaces, no trailing '/'
 * (paths are appended to it). */
static int
url_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n <= 7 || n > MAX_URL || strncmp(s, "http://", 7) != 0 ||
        s[n - 1] == '/')
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
            s[i] == '"' || s[i] == '\\')
            return 0;
    return 1;
}

/* issue 18: a webhook's URL: https://, or http:// to the loopback only
 * (a test receiver): a notice carries the reporter's evidence. Parsed by
 * libcurl, the parser that will fetch it, and judged by its parts: a
 * prefix test would pass http://localhost:x@evil.example/ (user
 * "localhost", host evil.example). No user or password, a host. */
static int
webhook_ok(const char *s)
{
    static const char *const loopback[] = {"127.0.0.1", "[::1]", "localhost"};
    char *scheme = NULL, *host = NULL, *user = NULL, *pw = NULL;
    CURLU *u = NULL;
    size_t n = strlen(s), i;
    int ok = 0;

    if (n > MAX_URL ||
        (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
            s[i] == '"' || s[i] == '\\')
            return 0;
    if ((u = curl_url()) == NULL ||
        curl_url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        host[0] == '\0' ||
        curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER ||
        curl_url_get(u, CURLUPART_PASSWORD, &pw, 0) != CURLUE_NO_PASSWORD)
        goto out;
    if (strcmp(scheme, "https") == 0)
        ok = 1;
    else if (strcmp(scheme, "http") == 0)
        for (i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
            if (strcasecmp(host, loopback[i]) == 0)
                ok = 1;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(pw);
    curl_url_cleanup(u);
    return ok;
}

/* 0-2 "." digits ("." digits)+, at most 128 bytes. */
static int
oid_ok(const char *s)
{
    size_t n = strlen(s), i, arcs = 1;

    if (n < 3 || n > 128 || (s[0] < '0' || s[0] > '2') || s[1] != '.')
        return 0;
    for (i = 2; i < n; i++) {
        if (s[i] == '.') {
            if (s[i - 1] == '.' || i + 1 == n)
                return 0;
            arcs++;
        } else if (s[i] < '0' || s[i] > '9')
            return 0;
    }
    return arcs >= 2;
}

static int
label_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > MAX_LABEL)
        return 0;
    for (i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return 0;
    return 1;
}

static int
name_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > MAX_NAME)
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

/*
 * A subscriber's token must be its own: not another subscriber's and not
 * the service token. Checked on whichever line comes second.
 */
static int
label_free(struct parser *p, unsigned line, const char *label)
{
    const struct sn_config *cfg = &p->cfg;
    size_t i;

    if (cfg->hsm_service_label != NULL &&
        strcmp(label, cfg->hsm_service_label) == 0) {
        fail(p, line,
             "token '%s' is both the service token and mapped to "
             "a subscriber",
             label);
        return 0;
    }
    for (i = 0; i < cfg->nmaps; i++) {
        if (strcmp(label, cfg->maps[i].label) == 0) {
            fail(p, line, "token '%s' already mapped to subscriber '%s'", label,
                 cfg->maps[i].subscriber);
            return 0;
        }
    }
    return 1;
}

/* Splits s in place into exactly n blank-separated fields. */
static int
split_fields(char *s, char **fields, size_t n)
{
    size_t i = 0;

    for (;;) {
        while (is_blank(*s))
            s++;
        if (*s == '\0')
            return i == n;
        if (i == n)
            return 0;
        fields[i++] = s;
        while (*s != '\0' && !is_blank(*s))
            s++;
        if (*s != '\0')
            *s++ = '\0';
    }
}

static sn_err
add_map(struct parser *p, unsigned line, char *value)
{
    struct sn_config *cfg = &p->cfg;
    struct sn_token_map m = {NULL, NULL, NULL}, *grown;
    char *f[3];
    sn_err r = SN_ERR_CONFIG;
    size_t cap;

    if (!split_fields(value, f, 3)) {
        fail(p, line, "hsm.subscriber_token: expected NAME LABEL PIN_FILE");
        goto out;
    }
    if (!name_ok(f[0])) {
        fail(p, line, "hsm.subscriber_token: bad subscriber name '%.*s'",
             MAX_SHOWN, f[0]);
        goto out;
    }
    if (!label_ok(f[1])) {
        fail(p, line, "hsm.subscriber_token: bad token label '%.*s'", MAX_SHOWN,
             f[1]);
        goto out;
    }
    if (sn_config_token_for(cfg, f[0]) != NULL) {
        fail(p, line, "hsm.subscriber_token: subscriber '%s' mapped twice",
             f[0]);
        goto out;
    }
    if (!label_free(p, line, f[1]))
        goto out;
    if (cfg->nmaps == p->mapcap) {
        cap = p->mapcap == 0 ? 8 : p->mapcap * 2;
        if ((grown = realloc(cfg->maps, cap * sizeof(*grown))) == NULL) {
            r = SN_ERR_NOMEM;
            goto out;
        }
        cfg->maps = grown;
        p->mapcap = cap;
    }
    if ((m.subscriber = dup_str(f[0])) == NULL ||
        (m.label = dup_str(f[1])) == NULL ||
        resolve_path(cfg->home, f[2], &m.pin_file) != SN_OK) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    cfg->maps[cfg->nmaps++] = m;
    memset(&m, 0, sizeof(m));
    r = SN_OK;
out:
    free(m.subscriber);
    free(m.label);
    free(m.pin_file);
    return r;
}

/* Printable text without '|' and without C0/DEL, min..max bytes. */
static int
field_text_ok(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s), i;

    if (n < min || n > max)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < ' ' || s[i] == 0x7f || s[i] == '|')
            return 0;
    return 1;
}

/* MANUFACTURER | MODEL | CERTIFICATE: fields may hold spaces. */
static sn_err
add_certified(struct parser *p, unsigned line, char *value)
{
    struct sn_config *cfg = &p->cfg;
    struct sn_certified_module *m;
    char *f[3], *bar;
    size_t i;

    f[0] = value;
    for (i = 1; i < 3; i++) {
        if ((bar = strchr(f[i - 1], '|')) == NULL)
            break;
        *bar = '\0';
        f[i] = bar + 1;
    }
    if (i < 3 || strchr(f[2], '|') != NULL) {
        fail(p, line,
             "hsm.certified_modules: expected MANUFACTURER | MODEL | "
             "CERTIFICATE");
        return SN_ERR_CONFIG;
    }
    for (i = 0; i < 3; i++)
        f[i] = trim(f[i]);
    if (!field_text_ok(f[0], 1, 32) || !field_text_ok(f[1], 1, 16) ||
        !field_text_ok(f[2], 1, 64)) {
        fail(p, line,
             "hsm.certified_modules: manufacturer 1..32 bytes, model 1..16, "
             "certificate 1..64, printable");
        return SN_ERR_CONFIG;
    }
    if (sn_config_certified(cfg, f[0], f[1]) != NULL) {
        fail(p, line, "hsm.certified_modules: '%s | %s' listed twice", f[0],
             f[1]);
        return SN_ERR_CONFIG;
    }
    if (cfg->ncertified == SN_CONFIG_MAX_CERTIFIED) {
        fail(p, line, "hsm.certified_modules: at most %d",
             SN_CONFIG_MAX_CERTIFIED);
        return SN_ERR_CONFIG;
    }
    m = &cfg->certified[cfg->ncertified];
    if ((m->manufacturer = dup_str(f[0])) == NULL ||
        (m->model = dup_str(f[1])) == NULL ||
        (m->certificate = dup_str(f[2])) == NULL) {
        free(m->manufacturer);
        free(m->model);
        memset(m, 0, sizeof(*m));
        return SN_ERR_NOMEM;
    }
    cfg->ncertified++;
    return SN_OK;
}

void
sn_config_default_origin(char *buf, size_t len)
{
    char host[65];
    size_t i;

    if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    for (i = 0; host[i] != '\0'; i++)
        if (host[i] <= 0x20 || host[i] >= 0x7f || host[i] == '+')
            host[i] = '-';
    snprintf(buf, len, "signet-log/%s", host);
}

/* log.origin when absent (homes from before signetd init wrote it). */
static sn_err
default_origin(struct sn_config *cfg)
{
    char name[SN_TLOG_ORIGIN_MAX + 1];

    sn_config_default_origin(name, sizeof(name));
    return (cfg->log_origin = dup_str(name)) == NULL ? SN_ERR_NOMEM : SN_OK;
}

static char **
str_field(struct sn_config *cfg, enum key_id id)
{
    switch (id) {
    case KEY_LISTEN:
        return &cfg->listen;
    case KEY_DATABASE:
    case KEY_STORE_URL:
        return &cfg->database;
    case KEY_TLS_CERT:
        return &cfg->tls_cert;
    case KEY_TLS_KEY:
        return &cfg->tls_key;
    case KEY_MODULE:
        return &cfg->hsm_module;
    case KEY_SOFTHSM_CONF:
        return &cfg->hsm_softhsm_conf;
    case KEY_SERVICE_TOKEN:
        return &cfg->hsm_service_label;
    case KEY_SERVICE_PIN:
        return &cfg->hsm_service_pin_file;
    case KEY_PUBLIC_LISTEN:
        return &cfg->public_listen;
    case KEY_CA_BASE_URL:
        return &cfg->ca_base_url;
    case KEY_CA_ORG:
        return &cfg->ca_organization;
    case KEY_LOG_ORIGIN:
        return &cfg->log_origin;
    case KEY_CA_COUNTRY:
        return &cfg->ca_country;
    case KEY_TSA_ALG:
        return &cfg->tsa_key_algorithm;
    case KEY_TSA_POLICY:
        return &cfg->tsa_policy_oid;
    case KEY_OID_ARC:
        return &cfg->oid_arc;
    case KEY_REPORT_WEBHOOK:
        return &cfg->report_webhook;
    case KEY_REPORT_WEBHOOK_CA:
        return &cfg->report_webhook_ca;
    case KEY_SERVER_USER:
        return &cfg->server_user;
    default:
        return NULL;
    }
}

/*
 * ca.upload_root: a PEM file of roots that uploaded certificate chains may
 * end in. Read at each upload; a path that is no regular file is refused
 * here so that a typo shows at startup.
 */
static sn_err
add_upload_root(struct parser *p, unsigned line, const char *name,
                const char *value)
{
    struct stat st;
    char **field;
    sn_err r;

    if (p->cfg.nupload_roots == SN_CONFIG_MAX_UPLOAD_ROOTS) {
        fail(p, line, "%s: at most %d", name, SN_CONFIG_MAX_UPLOAD_ROOTS);
        return SN_ERR_CONFIG;
    }
    field = &p->cfg.upload_roots[p->cfg.nupload_roots];
    if ((r = resolve_path(p->cfg.home, value, field)) != SN_OK)
        return r;
    p->cfg.nupload_roots++;
    if (stat(*field, &st) != 0 || !S_ISREG(st.st_mode)) {
        fail(p, line, "%s: '%.*s' is not a readable file", name, MAX_SHOWN,
             *field);
        return SN_ERR_CONFIG;
    }
    return SN_OK;
}

/* One proxy.trusted entry: ADDR (the address alone) or ADDR/BITS with no
 * host bits set. */
static int
cidr_ok(const char *s, struct sn_cidr *out)
{
    char buf[INET6_ADDRSTRLEN + 8];

    if (strchr(s, '/') != NULL)
        return sn_cidr_parse(s, out) == SN_OK;
    if (strlen(s) >= INET6_ADDRSTRLEN)
        return 0;
    snprintf(buf, sizeof(buf), "%s/%s", s,
             strchr(s, ':') != NULL ? "128" : "32");
    return sn_cidr_parse(buf, out) == SN_OK;
}

/* proxy.protocol: off or v2 */
static sn_err
set_proxy(struct parser *p, unsigned line, const char *name, const char *value)
{
    if (strcmp(value, "off") != 0 && strcmp(value, "v2") != 0) {
        fail(p, line, "%s: expected 'off' or 'v2'", name);
        return SN_ERR_CONFIG;
    }
    p->cfg.proxy_v2 = strcmp(value, "v2") == 0;
    return SN_OK;
}

/* proxy.trusted: ADDR[/BITS][, ADDR[/BITS] ...] */
static sn_err
set_trusted(struct parser *p, unsigned line, const char *name, char *value)
{
    struct sn_config *cfg = &p->cfg;
    char *item = value, *comma;

    for (;;) {
        if ((comma = strchr(item, ',')) != NULL)
            *comma = '\0';
        item = trim(item);
        if (cfg->nproxy_trusted == SN_CONFIG_MAX_PROXY_TRUSTED) {
            fail(p, line, "%s: at most %d addresses or ranges", name,
                 SN_CONFIG_MAX_PROXY_TRUSTED);
            return SN_ERR_CONFIG;
        }
        if (!cidr_ok(item, &cfg->proxy_trusted[cfg->nproxy_trusted])) {
            fail(p, line,
                 "%s: '%.*s' is not an address or a range such as "
                 "10.0.0.0/8 (no host bits set)",
                 name, MAX_SHOWN, item);
            return SN_ERR_CONFIG;
        }
        cfg->nproxy_trusted++;
        if (comma == NULL)
            return SN_OK;
        item = comma + 1;
    }
}

/* connections: deadlines and limits (issue 14). 1 if id is one of them. */
static int
set_conn_limit(struct sn_config *cfg, enum key_id id, uint64_t v)
{
    switch (id) {
    case KEY_HEADER_TIMEOUT:
        cfg->header_timeout = (unsigned)v;
        return 1;
    case KEY_IDLE_TIMEOUT:
        cfg->idle_timeout = (unsigned)v;
        return 1;
    case KEY_BODY_TIMEOUT:
        cfg->body_timeout = (unsigned)v;
        return 1;
    case KEY_STREAM_MIN_RATE:
        cfg->stream_min_rate = v;
        return 1;
    case KEY_STREAM_GRACE:
        cfg->stream_grace = (unsigned)v;
        return 1;
    case KEY_CONNECTIONS:
        cfg->connections = (unsigned)v;
        return 1;
    case KEY_CONNECTIONS_PER_ADDRESS:
        cfg->connections_per_address = (unsigned)v;
        return 1;
    default:
        return 0;
    }
}

/* connections: the defaults of the keys not given (issue 14). */
static void
conn_limit_defaults(struct parser *p)
{
    struct sn_config *cfg = &p->cfg;

    if (p->seen[KEY_HEADER_TIMEOUT] == 0)
        cfg->header_timeout = 10;
    if (p->seen[KEY_IDLE_TIMEOUT] == 0)
        cfg->idle_timeout = 30;
    if (p->seen[KEY_BODY_TIMEOUT] == 0)
        cfg->body_timeout = 30;
    if (p->seen[KEY_STREAM_MIN_RATE] == 0)
        cfg->stream_min_rate = 64 * 1024;
    if (p->seen[KEY_STREAM_GRACE] == 0)
        cfg->stream_grace = 10;
    if (p->seen[KEY_CONNECTIONS] == 0)
        cfg->connections = 4096;
    if (p->seen[KEY_CONNECTIONS_PER_ADDRESS] == 0)
        cfg->connections_per_address = 32;
}

static sn_err
set_number(struct parser *p, unsigned line, enum key_id id, const char *value)
{
    uint64_t v;
    sn_err r;

    if ((r = parse_number(p, line, &keys[id], value, &v)) != SN_OK)
        return r;
    if (set_conn_limit(&p->cfg, id, v))
        return SN_OK;
    if (id == KEY_TSA_ACCURACY)
        p->cfg.tsa_accuracy_ms = (unsigned)v;
    else if (id == KEY_CRL_REISSUE)
        p->cfg.ca_crl_reissue = (unsigned)v;
    else if (id == KEY_STORAGE_MIN_FREE)
        p->cfg.storage_min_free = v;
    else if (id == KEY_TSA_RETENTION)
        p->cfg.tsa_record_retention = (unsigned)v;
    else if (id == KEY_JSON_BODY)
        p->cfg.json_limit = (size_t)v;
    else if (id == KEY_FILE_BODY)
        p->cfg.file_limit = v;
    else if (id == KEY_EVENT_THREADS)
        p->cfg.event_threads = (unsigned)v;
    else if (id == KEY_HSM_PARALLELISM)
        p->cfg.hsm_parallelism = (unsigned)v;
    else if (id == KEY_QUOTA_KEYS)
        p->cfg.quota_keys = (unsigned)v;
    else if (id == KEY_QUOTA_CERTS)
        p->cfg.quota_certs_per_day = (unsigned)v;
    else if (id == KEY_QUOTA_KEYGEN)
        p->cfg.quota_key_generations = (unsigned)v;
    else if (id == KEY_TOKEN_LIFETIME)
        p->cfg.token_lifetime_days = (unsigned)v;
    else if (id == KEY_ANON_RATE)
        p->cfg.anon_rate = (unsigned)v;
    else if (id == KEY_ANON_BURST)
        p->cfg.anon_burst = (unsigned)v;
    else if (id == KEY_ANON_SIGNATURES)
        p->cfg.anon_signatures = (unsigned)v;
    else if (id == KEY_REPORT_PER_HOUR)
        p->cfg.report_per_hour = (unsigned)v;
    else if (id == KEY_REPORT_BURST)
        p->cfg.report_burst = (unsigned)v;
    else if (id == KEY_REPORT_RETRY)
        p->cfg.report_retry = (unsigned)v;
    else if (id == KEY_OIDC_MAX_AGE)
        p->cfg.oidc_max_token_age = (unsigned)v;
    else if (id == KEY_OIDC_REFRESH)
        p->cfg.oidc_refresh_interval = (unsigned)v;
    else if (id == KEY_OIDC_FETCH_TIMEOUT)
        p->cfg.oidc_fetch_timeout = (unsigned)v;
    else if (id == KEY_SESSION_LIFETIME)
        p->cfg.session_lifetime = (unsigned)v;
    else if (id == KEY_SESSION_IDLE)
        p->cfg.session_idle = (unsigned)v;
    else
        p->cfg.threads = (unsigned)v;
    return SN_OK;
}

/* Validates value for key id and stores it in p->cfg. */
static sn_err
set_value(struct parser *p, unsigned line, enum key_id id, char *value)
{
    const struct keydef *k = &keys[id];
    char **field = str_field(&p->cfg, id);

    switch (k->kind) {
    case K_SIZE:
    case K_UINT:
        return set_number(p, line, id, value);
    case K_MAP:
        return add_map(p, line, value);
    case K_TOKENS:
        if (strcmp(value, "create") == 0)
            p->cfg.hsm_tokens = SN_TOKENS_CREATE;
        else if (strcmp(value, "mapped") == 0)
            p->cfg.hsm_tokens = SN_TOKENS_MAPPED;
        else {
            fail(p, line, "%s: expected 'create' or 'mapped'", k->name);
            return SN_ERR_CONFIG;
        }
        return SN_OK;
    case K_LISTEN:
        if (!listen_ok(value)) {
            fail(p, line, "%s: expected IPV4:PORT or [IPV6]:PORT, got '%.*s'",
                 k->name, MAX_SHOWN, value);
            return SN_ERR_CONFIG;
        }
        return (*field = dup_str(value)) == NULL ? SN_ERR_NOMEM : SN_OK;
    case K_LABEL:
        if (!label_ok(value)) {
            fail(p, line, "%s: bad token label '%.*s'", k->name, MAX_SHOWN,
                 value);
            return SN_ERR_CONFIG;
        }
        if (!label_free(p, line, value))
            return SN_ERR_CONFIG;
        return (*field = dup_str(value)) == NULL ? SN_ERR_NOMEM : SN_OK;
    case K_PATH:
        return resolve_path(p->cfg.home, value, field);
    case K_STORE:
        return set_store(p, line, k->name, value, field);
    case K_LISTEN_OFF:
        if (strcmp(value, "off") != 0 && !listen_ok(value)) {
            fail(p, line,
                 "%s: expected IPV4:PORT, [IPV6]:PORT or off, got '%.*s'",
                 k->name, MAX_SHOWN, value);
            return SN_ERR_CONFIG;
        }
        return (*field = dup_str(value)) == NULL ? SN_ERR_NOMEM : SN_OK;
    case K_URL:
        if (!url_ok(value)) {
            fail(p, line,
                 "%s: expected http://HOST[:PORT][/PATH] without "
                 "spaces or a trailing '/', at most %d bytes",
                 k->name, MAX_URL);
            return SN_ERR_CONFIG;
        }
        return (*field = dup_str(value)) == NULL ? SN_ERR_NOMEM : SN_OK;
    case K_WEBHOOK:
        if (!webhook_ok(value)) {
            fail(p, line,
                 "%s: expected https://HOST[:PORT][/PATH] (or http:// to "
                 "127.0.0.1, [::1] or localhost) without spaces, at most %d "
                 "bytes",
                 k->name, MAX_URL);
            return SN_ERR_CONFIG;
        }
        return (*field = dup_str(value)) == NULL ? SN_ERR_NOMEM : SN_OK;
    case K_TEXT:
        if (strlen(value) > MAX_NAME) {
            fail(p, line, "%s: at most %d bytes", k->name, MAX_NAME);
            return SN_ERR_CONFIG;
        }
        return (*field = dup_str(value)) == NULL ? SN_ERR_NOMEM : SN_OK;
    case K_COUNTRY:
        if (strlen(value) != 2 || value[0] < 'A' || value[0] > 'Z' ||
            value[1] < 'A' || value[1] > 'Z') {
            fail(p, line, "%s: expected two capital letters", k->name);
            return SN_ERR_CONFIG;
        }
        return (*field = dup_str(value)) == NULL ? SN_ERR_NOMEM : SN_OK;
    case K_TSA_ALG:
        if (strcmp(value, "rsa-3072") != 0 && strcmp(value, "rsa-4096") != 0 &&
            strcmp(value, "ecdsa-p256") != 0 &&
            strcmp(value, "ecdsa-p384") != 0) {
            fail(p, line,
                 "%s: expected rsa-3072, rsa-4096, ecdsa-p256 or "
                 "ecdsa-p384",
                 k->name);
            return SN_ERR_CONFIG;
        }
        return (*field = dup_str(value)) == NULL ? SN_ERR_NOMEM : SN_OK;
    case K_OID:
        if (!oid_ok(value)) {
            fail(p, line, "%s: expected a dotted OID such as 1.2.3.4", k->name);
            return SN_ERR_CONFIG;
        }
        return (*field = dup_str(value)) == NULL ? SN_ERR_NOMEM : SN_OK;
    case K_OID_ARC:
        if (sn_oid_arc_check(value) != SN_OK) {
            fail(p, line,
                 "%s: expected an arc such as 1.3.6.1.4.1.NNNNN (your IANA "
                 "Private Enterprise Number): dotted decimal, at most %d "
                 "bytes, each component below 2^31",
                 k->name, SN_OID_ARC_MAX);
            return SN_ERR_CONFIG;
        }
        return (*field = dup_str(value)) == NULL ? SN_ERR_NOMEM : SN_OK;
    case K_CERTIFIED:
        return add_certified(p, line, value);
    case K_NOTE_NAME:
        if (!sn_tlog_name_ok(value)) {
            fail(p, line,
                 "%s: expected a name of 1 to %d printable ASCII characters "
                 "without spaces or '+' (e.g. example.com/signet-log)",
                 k->name, SN_TLOG_ORIGIN_MAX);
            return SN_ERR_CONFIG;
        }
        return (*field = dup_str(value)) == NULL ? SN_ERR_NOMEM : SN_OK;
    case K_BOOL:
        if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0) {
            fail(p, line, "%s: expected 'true' or 'false'", k->name);
            return SN_ERR_CONFIG;
        }
        *(id == KEY_REQUIRE_STRONG_AUTH ? &p->cfg.require_strong_auth
          : id == KEY_OPERATOR_MFA      ? &p->cfg.operator_mfa
          : id == KEY_LOG_ENABLED       ? &p->cfg.log_enabled
          : id == KEY_PINS_IN_FILES     ? &p->cfg.pins_in_files
                                        : &p->cfg.allow_uncertified) =
            strcmp(value, "true") == 0;
        return SN_OK;
    case K_PATHS:
        if (p->cfg.natt_roots == MAX_ATT_ROOTS) {
            fail(p, line, "%s: at most %d", k->name, MAX_ATT_ROOTS);
            return SN_ERR_CONFIG;
        }
        return resolve_path(p->cfg.home, value,
                            &p->cfg.att_roots[p->cfg.natt_roots++]);
    case K_UPLOAD_ROOT:
        return add_upload_root(p, line, k->name, value);
    case K_PROXY:
        return set_proxy(p, line, k->name, value);
    case K_CIDRS:
        return set_trusted(p, line, k->name, value);
    }
    return SN_ERR_INTERNAL;
}

/* One line, NUL-terminated, without its newline. */
static sn_err
parse_line(struct parser *p, unsigned line, char *text)
{
    char *eq, *key, *value;
    size_t n = strlen(text), i;
    int id;

    if (n > 0 && text[n - 1] == '\r')
        text[--n] = '\0';
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c < ' ' && c != '\t') || c == 0x7f) {
            fail(p, line, "control character in line");
            return SN_ERR_CONFIG;
        }
    }
    key = trim(text);
    if (*key == '\0' || *key == '#')
        return SN_OK;
    if ((eq = strchr(key, '=')) == NULL) {
        fail(p, line, "expected 'key = value'");
        return SN_ERR_CONFIG;
    }
    *eq = '\0';
    key = trim(key);
    value = trim(eq + 1);
    for (id = 0; id < KEY_COUNT; id++)
        if (strcmp(key, keys[id].name) == 0)
            break;
    if (id == KEY_COUNT) {
        fail(p, line, "unknown key '%.*s'", MAX_SHOWN, key);
        return SN_ERR_CONFIG;
    }
    if (*value == '\0') {
        fail(p, line, "%s: empty value", key);
        return SN_ERR_CONFIG;
    }
    if (p->seen[id] != 0 && id != KEY_SUBSCRIBER && id != KEY_ATT_ROOT &&
        id != KEY_CERTIFIED && id != KEY_UPLOAD_ROOT) {
        fail(p, line, "duplicate key '%s' (first on line %u)", key,
             p->seen[id]);
        return SN_ERR_CONFIG;
    }
    if (p->seen[id] == 0)
        p->seen[id] = line;
    return set_value(p, line, (enum key_id)id, value);
}

static sn_err
parse_text(struct parser *p, const char *text, size_t len)
{
    char buf[MAX_LINE + 1];
    size_t pos = 0, n;
    const char *nl;
    unsigned line = 0;
    sn_err r;

    while (pos < len) {
        line++;
        nl = memchr(text + pos, '\n', len - pos);
        n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
        if (n > MAX_LINE) {
            fail(p, line, "line longer than %d bytes", MAX_LINE);
            return SN_ERR_CONFIG;
        }
        /* A NUL would silently cut the line short once it is a C string. */
        if (memchr(text + pos, '\0', n) != NULL) {
            fail(p, line, "NUL byte in line");
            return SN_ERR_CONFIG;
        }
        memcpy(buf, text + pos, n);
        buf[n] = '\0';
        if ((r = parse_line(p, line, buf)) != SN_OK)
            return r;
        pos += n + 1;
    }
    return SN_OK;
}

static sn_err
set_default_path(struct parser *p, char **field, const char *rel)
{
    if (*field != NULL)
        return SN_OK;
    return resolve_path(p->cfg.home, rel, field);
}

/* Required keys, defaults and cross-key rules, once every line is read. */
static sn_err
finish(struct parser *p)
{
    struct sn_config *cfg = &p->cfg;
    int id;

    for (id = 0; id < KEY_COUNT; id++) {
        if (keys[id].required && p->seen[id] == 0) {
            fail(p, 0, "missing required key '%s'", keys[id].name);
            return SN_ERR_CONFIG;
        }
    }
    if (cfg->proxy_v2 && cfg->nproxy_trusted == 0) {
        fail(p, p->seen[KEY_PROXY_PROTOCOL],
             "proxy.protocol = v2 needs proxy.trusted: the addresses of "
             "the load balancers that send the header");
        return SN_ERR_CONFIG;
    }
    if (cfg->listen == NULL && (cfg->listen = dup_str(DEFAULT_LISTEN)) == NULL)
        return SN_ERR_NOMEM;
    if (set_default_path(p, &cfg->database, DEFAULT_DATABASE) != SN_OK ||
        set_default_path(p, &cfg->tls_cert, DEFAULT_TLS_CERT) != SN_OK ||
        set_default_path(p, &cfg->tls_key, DEFAULT_TLS_KEY) != SN_OK)
        return SN_ERR_NOMEM;
    if (p->seen[KEY_JSON_BODY] == 0)
        cfg->json_limit = DEFAULT_JSON_BODY;
    if (p->seen[KEY_FILE_BODY] == 0)
        cfg->file_limit = DEFAULT_FILE_BODY;
    if (p->seen[KEY_THREADS] == 0)
        cfg->threads = DEFAULT_THREADS;
    if (p->seen[KEY_TSA_ACCURACY] == 0)
        cfg->tsa_accuracy_ms = 1000;
    if (p->seen[KEY_CRL_REISSUE] == 0)
        cfg->ca_crl_reissue = 86400;
    if (p->seen[KEY_QUOTA_KEYS] == 0)
        cfg->quota_keys = DEFAULT_QUOTA_KEYS;
    if (p->seen[KEY_QUOTA_CERTS] == 0)
        cfg->quota_certs_per_day = DEFAULT_QUOTA_CERTS;
    if (p->seen[KEY_QUOTA_KEYGEN] == 0)
        cfg->quota_key_generations = DEFAULT_QUOTA_KEYGEN;
    if (p->seen[KEY_STORAGE_MIN_FREE] == 0) {
        cfg->storage_min_free = DEFAULT_STORAGE_MIN_FREE;
        cfg->storage_min_free_auto = 1;
    }
    if (p->seen[KEY_TSA_RETENTION] == 0)
        cfg->tsa_record_retention = DEFAULT_TSA_RETENTION;
    if (p->seen[KEY_TOKEN_LIFETIME] == 0)
        cfg->token_lifetime_days = DEFAULT_TOKEN_LIFETIME;
    if (p->seen[KEY_OIDC_MAX_AGE] == 0)
        cfg->oidc_max_token_age = 600;
    if (p->seen[KEY_OIDC_REFRESH] == 0)
        cfg->oidc_refresh_interval = 60;
    if (p->seen[KEY_OIDC_FETCH_TIMEOUT] == 0)
        cfg->oidc_fetch_timeout = 10;
    if (p->seen[KEY_SESSION_LIFETIME] == 0)
        cfg->session_lifetime = 8 * 3600;
    if (p->seen[KEY_SESSION_IDLE] == 0)
        cfg->session_idle = 15 * 60;
    if (p->seen[KEY_LOG_ENABLED] == 0)
        cfg->log_enabled = 1;
    if (cfg->log_origin == NULL && default_origin(cfg) != SN_OK)
        return SN_ERR_NOMEM;
    conn_limit_defaults(p);
    if (p->seen[KEY_ANON_RATE] == 0)
        cfg->anon_rate = 50;
    if (p->seen[KEY_ANON_BURST] == 0)
        cfg->anon_burst = 100;
    /* limits.anon_signatures_per_second unset: 0, a figure per CPU (the
     * front end's; see src/http/server.c) */
    if (p->seen[KEY_REPORT_PER_HOUR] == 0)
        cfg->report_per_hour = 60;
    if (p->seen[KEY_REPORT_BURST] == 0)
        cfg->report_burst = 10;
    if (p->seen[KEY_REPORT_RETRY] == 0)
        cfg->report_retry = 60;
    if (cfg->tsa_key_algorithm == NULL &&
        (cfg->tsa_key_algorithm = dup_str("rsa-3072")) == NULL)
        return SN_ERR_NOMEM;
    if ((cfg->public_listen == NULL &&
         (cfg->public_listen = dup_str(DEFAULT_PUBLIC_LISTEN)) == NULL) ||
        (cfg->ca_organization == NULL &&
         (cfg->ca_organization = dup_str(DEFAULT_CA_ORG)) == NULL) ||
        (cfg->ca_country == NULL &&
         (cfg->ca_country = dup_str(DEFAULT_CA_COUNTRY)) == NULL))
        return SN_ERR_NOMEM;
    if (cfg->ca_base_url == NULL) {
        /* Default: the public listener itself. */
        char url[MAX_URL + 16];
        snprintf(url, sizeof(url), "http://%s",
                 strcmp(cfg->public_listen, "off") == 0 ? DEFAULT_PUBLIC_LISTEN
                                                        : cfg->public_listen);
        if ((cfg->ca_base_url = dup_str(url)) == NULL)
            return SN_ERR_NOMEM;
    }
    return SN_OK;
}

static sn_err
resolve_home(struct parser *p, const char *home)
{
    struct stat st;
    char *abs;

    if ((abs = realpath(home, NULL)) == NULL) {
        fail(p, 0, "home '%s': %s", home, strerror(errno));
        return SN_ERR_CONFIG;
    }
    if (stat(abs, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fail(p, 0, "home '%s' is not a directory", abs);
        free(abs);
        return SN_ERR_CONFIG;
    }
    p->cfg.home = abs;
    return SN_OK;
}

sn_err
sn_config_load(const char *path, const char *home, struct sn_config *cfg,
               char *errbuf, size_t errlen)
{
    struct parser p;
    uint8_t *text = NULL;
    size_t len = 0;
    sn_err r = SN_ERR_INTERNAL;

    memset(cfg, 0, sizeof(*cfg));
    memset(&p, 0, sizeof(p));
    p.path = path;
    p.errbuf = errbuf;
    p.errlen = errlen;
    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    if ((r = resolve_home(&p, home)) != SN_OK)
        goto out;
    if ((r = sn_file_read(path, MAX_FILE, &text, &len)) != SN_OK) {
        fail(&p, 0, "cannot read: %s", sn_err_str(r));
        r = SN_ERR_CONFIG;
        goto out;
    }
    if ((r = parse_text(&p, (const char *)text, len)) != SN_OK)
        goto out;
    if ((r = finish(&p)) != SN_OK)
        goto out;
    *cfg = p.cfg;
    memset(&p.cfg, 0, sizeof(p.cfg));
    r = SN_OK;
out:
    if (r == SN_ERR_NOMEM)
        fail(&p, 0, "%s", sn_err_str(r));
    free(text);
    sn_config_cleanup(&p.cfg);
    return r;
}

void
sn_config_cleanup(struct sn_config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    free(cfg->home);
    free(cfg->listen);
    free(cfg->database);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->hsm_module);
    free(cfg->hsm_softhsm_conf);
    free(cfg->hsm_service_label);
    free(cfg->hsm_service_pin_file);
    free(cfg->public_listen);
    free(cfg->ca_base_url);
    free(cfg->ca_organization);
    free(cfg->log_origin);
    free(cfg->ca_country);
    free(cfg->tsa_key_algorithm);
    free(cfg->tsa_policy_oid);
    free(cfg->oid_arc);
    free(cfg->report_webhook);
    free(cfg->report_webhook_ca);
    free(cfg->server_user);
    for (i = 0; i < cfg->ncertified; i++) {
        free(cfg->certified[i].manufacturer);
        free(cfg->certified[i].model);
        free(cfg->certified[i].certificate);
    }
    for (i = 0; i < cfg->natt_roots; i++)
        free(cfg->att_roots[i]);
    for (i = 0; i < cfg->nupload_roots; i++)
        free(cfg->upload_roots[i]);
    for (i = 0; i < cfg->nmaps; i++) {
        free(cfg->maps[i].subscriber);
        free(cfg->maps[i].label);
        free(cfg->maps[i].pin_file);
    }
    free(cfg->maps);
    memset(cfg, 0, sizeof(*cfg));
}

const struct sn_token_map *
sn_config_token_for(const struct sn_config *cfg, const char *subscriber)
{
    size_t i;

    for (i = 0; i < cfg->nmaps; i++)
        if (strcmp(cfg->maps[i].subscriber, subscriber) == 0)
            return &cfg->maps[i];
    return NULL;
}

const struct sn_certified_module *
sn_config_certified(const struct sn_config *cfg, const char *manufacturer,
                    const char *model)
{
    return sn_modules_find(cfg->certified, cfg->ncertified, manufacturer,
                           model);
}
