/*
 * home: signetd init, the home of the root ceremony, and signetd check.
 * Everything is created with owner-only permissions; nothing existing is
 * overwritten (files are opened O_EXCL). The operator's arguments are
 * trusted but checked before the first file is made: a listener or a
 * base URL frozen into the CA certificates cannot be changed afterwards.
 */
#include "daemon/home.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/oids.h"
#include "common/util.h"
#include "crypto/apitoken.h"
#include "crypto/tlsgen.h"
#include "hsm/hsm.h"
#include "http/server.h"
#include "pki/ca.h"
#include "pki/tsa.h"
#include "store/store.h"

#define SERVICE_LABEL "signet-service"
#define DEFAULT_ORG "Signet"
#define DEFAULT_COUNTRY "US"
#define DEFAULT_LISTEN "127.0.0.1:8443"
#define DEFAULT_PUBLIC "127.0.0.1:8080"
#define DEFAULT_BASE_URL "http://" DEFAULT_PUBLIC
#define DEFAULT_TSA_ALG "rsa-3072"
#define MAX_BASE_URL 200 /* leaves room for the paths in certificates */
/* The ceremony's home: its own SoftHSM2 store and the root token. */
#define ROOT_LABEL "signet-root"
#define ROOT_PIN "hsm/root.pin"

/* ---- listeners and the base URL ---- */

/* A host and port, from a listener or a URL, and the kind of address. */
struct endpoint {
    char host[254]; /* without brackets */
    unsigned port;  /* a URL without one: 80 */
    int loopback;   /* 127.0.0.0/8, ::1 or localhost */
    int any;        /* 0.0.0.0 or :: (every address) */
};

/* 1..65535 from the n digits at s. */
static int
port_ok(const char *s, size_t n, unsigned *port)
{
    unsigned long v = 0;
    size_t i;

    if (n == 0 || n > 5)
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    *port = (unsigned)v;
    return v >= 1 && v <= 65535;
}

/* An IP literal (brackets already removed if v6) into e's flags. */
static int
ip_kind(const char *host, int v6, struct endpoint *e)
{
    struct in6_addr a6;
    struct in_addr a4;

    if (v6) {
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return 0;
        e->loopback = IN6_IS_ADDR_LOOPBACK(&a6);
        e->any = IN6_IS_ADDR_UNSPECIFIED(&a6);
        return 1;
    }
    if (inet_pton(AF_INET, host, &a4) != 1)
        return 0;
    e->loopback = (ntohl(a4.s_addr) >> 24) == 127;
    e->any = a4.s_addr == 0;
    return 1;
}

/*
 * Splits "HOST[:PORT]" or "[V6][:PORT]" (n bytes at s) into e; *v6 says
 * which. Without a port: 80, unless need_port. 0 if malformed.
 */
static int
split_hostport(const char *s, size_t n, int need_port, struct endpoint *e,
               int *v6)
{
    const char *end = s + n, *host = s, *after;
    size_t hl;

    memset(e, 0, sizeof(*e));
    *v6 = n > 0 && s[0] == '[';
    if (*v6) {
        if ((after = memchr(s, ']', n)) == NULL)
            return 0;
        host = s + 1;
        hl = (size_t)(after - host);
        after++;
    } else {
        after = memchr(s, ':', n);
        if (after == NULL)
            after = end;
        hl = (size_t)(after - s);
    }
    if (hl == 0 || hl >= sizeof(e->host) || (after != end && *after != ':'))
        return 0;
    memcpy(e->host, host, hl);
    e->host[hl] = '\0';
    e->port = 80;
    if (after == end)
        return !need_port;
    return port_ok(after + 1, (size_t)(end - after - 1), &e->port);
}

/* "IPV4:PORT" or "[IPV6]:PORT", as config.c accepts listen. */
static int
parse_listen_ep(const char *s, struct endpoint *e)
{
    int v6;

    return split_hostport(s, strlen(s), 1, e, &v6) && ip_kind(e->host, v6, e);
}

/* A DNS name: labels of letters, digits and inner hyphens. */
static int
dns_name_ok(const char *h)
{
    size_t label = 0;
    const char *p;

    for (p = h; *p != '\0'; p++) {
        if (*p == '.') {
            if (label == 0 || p[-1] == '-')
                return 0;
            label = 0;
        } else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || (*p == '-' && label > 0)) {
            if (++label > 63)
                return 0;
        } else
            return 0;
    }
    return label > 0 && p[-1] != '-';
}

/* An optional path: "/" segments of unreserved characters, no "." or
 * "..", no empty segment, no trailing "/" (paths are appended to it). */
static int
path_ok(const char *p)
{
    size_t seg = 0;

    if (*p == '\0')
        return 1;
    if (*p != '/')
        return 0;
    for (p++;; p++) {
        if (*p == '/' || *p == '\0') {
            if (seg == 0 || (seg == 1 && p[-1] == '.') ||
                (seg == 2 && p[-1] == '.' && p[-2] == '.'))
                return 0;
            if (*p == '\0')
                return 1;
            seg = 0;
        } else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL)
            seg++;
        else
            return 0;
    }
}

/*
 * A base URL for CRL, caIssuers and OCSP: http (CSBR 7.1.2.3 and RFC 5280
 * clients fetch these over plain HTTP), a DNS name or an IP literal a
 * client can reach, an optional port and path; no user, query or
 * fragment, no trailing '/'. why says what is wrong.
 */
static int
parse_url(const char *url, struct endpoint *e, char *why, size_t len)
{
    const char *hp = url + 7;
    size_t hl;
    int v6 = 0, ip, ok;

    memset(e, 0, sizeof(*e));
    if (strlen(url) > MAX_BASE_URL) {
        snprintf(why, len, "longer than %d bytes", MAX_BASE_URL);
        return 0;
    }
    if (strncmp(url, "https://", 8) == 0) {
        snprintf(why, len,
                 "must be http://: clients fetch CRLs, OCSP "
                 "and CA certificates over plain HTTP (CSBR "
                 "7.1.2.3); the answers are signed");
        return 0;
    }
    ok = strncmp(url, "http://", 7) == 0;
    hl = ok ? strcspn(hp, "/") : 0;
    ok = ok && split_hostport(hp, hl, 0, e, &v6) && path_ok(hp + hl);
    /* All digits and dots: meant as an IPv4 address, so it must be one. */
    ip = v6 || strspn(e->host, "0123456789.") == strlen(e->host);
    if (!ok || !(ip ? ip_kind(e->host, v6, e) : dns_name_ok(e->host))) {
        snprintf(why, len,
                 "expected http://HOST[:PORT][/PATH] (no user, "
                 "query, fragment or trailing '/')");
        return 0;
    }
    if (strcmp(e->host, "localhost") == 0)
        e->loopback = 1;
    if (e->any) {
        snprintf(why, len,
                 "%.64s is no address a client can reach: name the host "
                 "clients use",
                 e->host);
        return 0;
    }
    return 1;
}

int
sn_home_net_mismatch(const char *base_url, const char *public_listen, char *why,
                     size_t whylen)
{
    struct endpoint u, l;
    char err[160];

    if (whylen > 0)
        why[0] = '\0';
    /* off: another server (or a proxy) serves the URLs. */
    if (strcmp(public_listen, "off") == 0 ||
        !parse_listen_ep(public_listen, &l))
        return 0;
    if (!parse_url(base_url, &u, err, sizeof(err))) {
        snprintf(why, whylen, "ca.base_url %s: %s", base_url, err);
        return 1;
    }
    if (u.loopback && !l.loopback)
        snprintf(why, whylen,
                 "ca.base_url %s names this machine's loopback, "
                 "but public.listen %s serves other machines: their clients "
                 "cannot fetch CRLs, OCSP or the TSA",
                 base_url, public_listen);
    else if (!u.loopback && l.loopback)
        snprintf(why, whylen,
                 "public.listen %s is loopback only: clients "
                 "reach ca.base_url %s only through a proxy on this machine",
                 public_listen, base_url);
    else if (u.port != l.port)
        snprintf(why, whylen,
                 "ca.base_url %s names port %u but "
                 "public.listen %s is port %u: right only behind a proxy or "
                 "port forwarding",
                 base_url, u.port, public_listen, l.port);
    else
        return 0;
    return 1;
}

/* Init's listeners and base URL, defaults filled in, checked. */
static sn_err
net_choose(const struct sn_home_net *in, struct sn_home_net *out, char *url,
           size_t urllen)
{
    struct endpoint e;
    char why[512];

    out->listen = in->listen != NULL ? in->listen : DEFAULT_LISTEN;
    out->public_listen =
        in->public_listen != NULL ? in->public_listen : DEFAULT_PUBLIC;
    if (!parse_listen_ep(out->listen, &e)) {
        sn_error("init: --listen %s: expected IPV4:PORT or [IPV6]:PORT",
                 out->listen);
        return SN_ERR_INVALID;
    }
    if (strcmp(out->public_listen, "off") != 0 &&
        !parse_listen_ep(out->public_listen, &e)) {
        sn_error("init: --public-listen %s: expected IPV4:PORT, "
                 "[IPV6]:PORT or off",
                 out->public_listen);
        return SN_ERR_INVALID;
    }
    if (in->base_url == NULL && strcmp(out->public_listen, "off") == 0) {
        sn_error("init: --public-listen off: give --public-url, where "
                 "clients fetch CRLs, OCSP and CA certificates");
        return SN_ERR_INVALID;
    }
    if (in->base_url == NULL && e.any) {
        sn_error("init: --public-listen %s listens on every address: give "
                 "--public-url http://HOST:%u with the name clients reach it "
                 "at",
                 out->public_listen, e.port);
        return SN_ERR_INVALID;
    }
    snprintf(url, urllen, "http://%s", out->public_listen);
    out->base_url = in->base_url != NULL ? in->base_url : url;
    if (!parse_url(out->base_url, &e, why, sizeof(why))) {
        sn_error("init: --public-url %s: %s", out->base_url, why);
        return SN_ERR_INVALID;
    }
    if (sn_home_net_mismatch(out->base_url, out->public_listen, why,
                             sizeof(why)))
        sn_warn("init: %s", why);
    return SN_OK;
}

/* home + "/" + name into buf; homes are limited to keep paths short. */
static void
hpath(char *buf, size_t len, const char *home, const char *name)
{
    if (snprintf(buf, len, "%s/%s", home, name) >= (int)len)
        buf[0] = '\0';
}

static sn_err
mkdir_new(const char *home, const char *sub)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s%s%s", home, *sub ? "/" : "", sub);
    if (mkdir(path, 0700) != 0 && !(errno == EEXIST && *sub == '\0')) {
        sn_error("init: cannot create %s: %s", path, strerror(errno));
        return SN_ERR_IO;
    }
    return SN_OK;
}

static sn_err
write_text(const char *home, const char *name, const char *text, int mode)
{
    char path[PATH_MAX];
    sn_err r;

    snprintf(path, sizeof(path), "%s/%s", home, name);
    if ((r = sn_file_write_new(path, text, strlen(text), mode)) != SN_OK)
        sn_error("init: cannot write %s: %s", path, sn_err_str(r));
    return r;
}

/* Days the bootstrap admin token lives. */
#define ADMIN_TOKEN_DAYS 30

static sn_err
make_admin_token(const char *home, const char *db, const char *file)
{
    struct sn_store *st = NULL;
    struct sn_token t;
    char *secret = NULL, *line = NULL;
    size_t len;
    sn_err r;

    memset(&t, 0, sizeof(t));
    if ((r = sn_store_open(db, &st)) != SN_OK)
        goto out;
    t.admin = 1;
    t.roles = SN_ROLE_MANAGE;
    t.created_at = time(NULL);
    /* The bootstrap credential (issue 17): it creates the first operator
     * accounts, then an operator revokes it; it expires by itself. */
    t.expires_at = t.created_at + ADMIN_TOKEN_DAYS * 86400;
    snprintf(t.name, sizeof(t.name), "initial admin");
    if ((r = sn_uuid(t.id)) != SN_OK ||
        (r = sn_apitoken_new(t.id, &secret, t.hash)) != SN_OK ||
        (r = sn_store_token_add(st, &t)) != SN_OK)
        goto out;
    len = strlen(secret) + 2;
    if ((line = malloc(len)) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    snprintf(line, len, "%s\n", secret);
    r = write_text(home, file, line, 0600);
out:
    sn_secret_free(line);
    sn_secret_free(secret);
    sn_store_close(st);
    return r;
}

sn_err
sn_home_admin_token(const char *home, const char *db, int *revoked)
{
    uint8_t hash[SN_TOKEN_HASH_LEN], *old = NULL;
    char path[PATH_MAX], next[PATH_MAX], id[SN_UUID_LEN] = "";
    struct sn_store *st = NULL;
    size_t len = 0;
    sn_err r;

    *revoked = 0;
    hpath(path, sizeof(path), home, "admin.token");
    hpath(next, sizeof(next), home, "admin.token.new");
    /* The token being replaced, if its file is there and sound. */
    if (sn_file_read(path, 1024, &old, &len) == SN_OK) {
        old[strcspn((char *)old, "\r\n")] = '\0';
        if (sn_apitoken_parse((char *)old, id, hash) != SN_OK)
            id[0] = '\0';
    }
    (void)unlink(next);
    if ((r = make_admin_token(home, db, "admin.token.new")) != SN_OK)
        goto out;
    if (rename(next, path) != 0) {
        sn_error("admin-token: cannot replace %s: %s", path, strerror(errno));
        r = SN_ERR_IO;
        goto out;
    }
    if (id[0] != '\0' && (r = sn_store_open(db, &st)) == SN_OK) {
        r = sn_store_token_revoke(st, id, time(NULL));
        *revoked = r == SN_OK;
        if (r == SN_ERR_NOT_FOUND) /* already revoked, or not ours */
            r = SN_OK;
    }
out:
    OPENSSL_cleanse(hash, sizeof(hash));
    if (old != NULL) {
        OPENSSL_cleanse(old, len);
        free(old);
    }
    sn_store_close(st);
    return r;
}

/* Makes (or accepts) the directory home_arg; its real path into home. */
static sn_err
home_dir(const char *home_arg, char home[PATH_MAX])
{
    char path[PATH_MAX];
    sn_err r;

    if ((r = mkdir_new(home_arg, "")) != SN_OK)
        return r;
    if (realpath(home_arg, home) == NULL)
        return SN_ERR_IO;
    if (strlen(home) > 1024) {
        sn_error("init: home path too long");
        return SN_ERR_INVALID;
    }
    hpath(path, sizeof(path), home, "signetd.conf");
    if (access(path, F_OK) == 0) {
        sn_error("init: %s already holds a signetd home; refusing to "
                 "overwrite it",
                 home);
        return SN_ERR_EXISTS;
    }
    return SN_OK;
}

/*
 * A new SoftHSM2 store under HOME/hsm with one token, label, whose PIN is
 * written to HOME/pinfile; the token is opened into *tok.
 */
static sn_err
hsm_new(const char *home, const char *module, const char *label,
        const char *pinfile, struct sn_hsm **hsm, struct sn_hsm_token **tok)
{
    char path[PATH_MAX], text[4096];
    char *pin = NULL, *pinline = NULL;
    size_t len;
    sn_err r;

    if ((r = mkdir_new(home, "hsm")) != SN_OK ||
        (r = mkdir_new(home, "hsm/tokens")) != SN_OK)
        return r;
    if (snprintf(text, sizeof(text),
                 "# SoftHSM2 configuration for this signetd home.\n"
                 "directories.tokendir = %s/hsm/tokens\n"
                 "objectstore.backend = file\n"
                 "log.level = ERROR\n"
                 "slots.removable = false\n",
                 home) >= (int)sizeof(text))
        return SN_ERR_INVALID;
    if ((r = write_text(home, "hsm/softhsm2.conf", text, 0600)) != SN_OK)
        return r;
    hpath(path, sizeof(path), home, "hsm/softhsm2.conf");
    setenv("SOFTHSM2_CONF", path, 1);

    if ((r = sn_hsm_open(module, hsm)) != SN_OK)
        goto out;
    if ((r = sn_hsm_token_init(*hsm, label, &pin)) != SN_OK) {
        sn_error("init: cannot create the token %s: %s", label, sn_err_str(r));
        goto out;
    }
    len = strlen(pin) + 2;
    if ((pinline = malloc(len)) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    snprintf(pinline, len, "%s\n", pin);
    if ((r = write_text(home, pinfile, pinline, 0600)) != SN_OK ||
        (r = sn_hsm_token_open(*hsm, label, pin, tok)) != SN_OK)
        goto out;
out:
    sn_secret_free(pin);
    sn_secret_free(pinline);
    return r;
}

/* Opens the token label of the store hsm_new made under HOME/hsm. */
static sn_err
hsm_reopen(const char *home, const char *module, const char *label,
           const char *pinfile, struct sn_hsm **hsm, struct sn_hsm_token **tok)
{
    char path[PATH_MAX];
    uint8_t *pin = NULL;
    size_t len = 0;
    sn_err r;

    hpath(path, sizeof(path), home, pinfile);
    if ((r = sn_file_read(path, 256, &pin, &len)) != SN_OK) {
        sn_error("init: cannot read %s: %s", path, sn_err_str(r));
        return r;
    }
    while (len > 0 && (pin[len - 1] == '\n' || pin[len - 1] == '\r'))
        pin[--len] = '\0';
    hpath(path, sizeof(path), home, "hsm/softhsm2.conf");
    setenv("SOFTHSM2_CONF", path, 1);
    if ((r = sn_hsm_open(module, hsm)) != SN_OK ||
        (r = sn_hsm_token_open(*hsm, label, (const char *)pin, tok)) != SN_OK)
        sn_error("init: cannot open the token %s: %s", label, sn_err_str(r));
    sn_secret_free((char *)pin);
    return r;
}

/* A directory that may exist already (the ceremony's transfer medium). */
static sn_err
mkdir_any(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        sn_error("init: cannot create %s: %s", dir, strerror(errno));
        return SN_ERR_IO;
    }
    return SN_OK;
}

/* 1 if home is the first step's (signetd init --ca-csr) and no more. */
static int
prepared(const char *home)
{
    char pin[PATH_MAX], ca[PATH_MAX];

    hpath(pin, sizeof(pin), home, "hsm/service.pin");
    hpath(ca, sizeof(ca), home, "ca");
    return access(pin, F_OK) == 0 && access(ca, F_OK) != 0;
}

/* After the CA: TSA, TLS, database, admin token and signetd.conf. */
static sn_err
home_finish(const char *home, const char *module, const struct sn_home_net *net,
            const char *oid_arc, const struct sn_oids *oids,
            struct sn_hsm_token *service)
{
    const char *base_url = net->base_url;
    char path[PATH_MAX], tlsca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
    char text[4608], origin[160];
    struct sn_ca_keys keys;
    struct sn_ca ca;
    sn_err r;

    memset(&ca, 0, sizeof(ca));
    sn_config_default_origin(origin, sizeof(origin));
    if ((r = mkdir_new(home, "tls")) != SN_OK ||
        (r = mkdir_new(home, "hsm/pins")) != SN_OK)
        return r;
    /* The TSA key, certified by the timestamping CA just made. */
    sn_ca_keys_hsm(service, &keys);
    if ((r = sn_ca_load(&ca, &keys, home, base_url, NULL, 0)) != SN_OK ||
        (r = sn_tsa_create(&keys, home, ca.cert[SN_CA_TIMESTAMPING],
                           ca.signer[SN_CA_TIMESTAMPING], DEFAULT_TSA_ALG,
                           DEFAULT_ORG, DEFAULT_COUNTRY, base_url,
                           oids->ca_policy)) != SN_OK) {
        sn_error("init: cannot create the TSA: %s", sn_err_str(r));
        goto out;
    }

    hpath(tlsca, sizeof(tlsca), home, "tls/ca.pem");
    hpath(cert, sizeof(cert), home, "tls/server.pem");
    hpath(key, sizeof(key), home, "tls/server.key");
    if ((r = sn_tls_generate(tlsca, cert, key)) != SN_OK) {
        sn_error("init: cannot create TLS material: %s", sn_err_str(r));
        goto out;
    }
    hpath(path, sizeof(path), home, "signet.db");
    if ((r = make_admin_token(home, path, "admin.token")) != SN_OK)
        goto out;

    if (snprintf(
            text, sizeof(text),
            "# signetd configuration. Relative paths are relative to the "
            "home.\n"
            "listen = %s\n"
            "database = signet.db\n"
            "tls.cert = tls/server.pem\n"
            "tls.key = tls/server.key\n"
            "limits.json_body = 1M\n"
            "limits.file_body = 2G\n"
            "# Workers for requests that may block (key generation, CA,\n"
            "# TSA). Connections are served by server.event_threads and\n"
            "# signatures made by hsm.parallelism threads (both one per CPU\n"
            "# unless set; a network HSM wants its own parallelism).\n"
            "server.threads = 8\n"
            "\n"
            "# Plain-HTTP listener for CRLs, OCSP and CA certificates (off to\n"
            "# disable), and the base of the URLs written into certificates.\n"
            "public.listen = %s\n"
            "ca.base_url = %s\n"
            "ca.organization = " DEFAULT_ORG "\n"
            "ca.country = " DEFAULT_COUNTRY "\n"
            "tsa.key_algorithm = " DEFAULT_TSA_ALG "\n"
            "tsa.accuracy_ms = 1000\n"
            "\n"
            "# Signet's private OIDs (CA policy, key-protection and\n"
            "# attestation extensions) live under this arc: your IANA\n"
            "# Private Enterprise Number, 1.3.6.1.4.1.N. Without one a 2.25\n"
            "# UUID arc is used, which Go before 1.22 and pyca/cryptography\n"
            "# 38 cannot parse (docs/configuration.md).\n"
            "%soid.arc = %s\n"
            "\n"
            "# Modules held certified (FIPS 140-2/140-3 level 2+, Common\n"
            "# Criteria EAL 4+), matched exactly against what the module\n"
            "# reports (CK_TOKEN_INFO manufacturerID and model):\n"
            "#   hsm.certified_modules = MANUFACTURER | MODEL | CERTIFICATE\n"
            "# Code signing certificates for keys on other modules are\n"
            "# refused; true issues them as test certificates (SoftHSM2).\n"
            "ca.allow_uncertified_modules = false\n"
            "\n"
            "# Static API tokens alone cannot sign (CSBR 6.2.7.3): a key\n"
            "# whose policy (PUT /v1/keys/{id}/policy) does not say\n"
            "# require_strong_auth: false is signed with through an OIDC\n"
            "# exchange or a registered client certificate.\n"
            "auth.require_strong_auth = true\n"
            "\n"
            "# Operator actions that can cause issuance or change who can\n"
            "# sign (identity, revocation, credentials, accounts) need a\n"
            "# person's login session with a TOTP code (signet login); the\n"
            "# admin token creates the first operator account.\n"
            "auth.operator_mfa = true\n"
            "\n"
            "# The transparency log's name (its checkpoints' origin and its\n"
            "# key's name; verifiers pin it): name your service.\n"
            "log.origin = %s\n"
            "\n"
            "# Any PKCS#11 module can replace SoftHSM2. With a module that\n"
            "# cannot create tokens, set hsm.tokens = mapped and map each\n"
            "# subscriber to a pre-provisioned token:\n"
            "#   hsm.subscriber_token = NAME LABEL PIN_FILE\n"
            "hsm.module = %s\n"
            "hsm.softhsm_conf = hsm/softhsm2.conf\n"
            "hsm.tokens = create\n"
            "hsm.service_token = " SERVICE_LABEL "\n"
            "hsm.service_pin_file = hsm/service.pin\n",
            net->listen, net->public_listen, base_url,
            oid_arc != NULL ? "" : "# ",
            oid_arc != NULL ? oid_arc : "1.3.6.1.4.1.NNNNN", origin,
            module) >= (int)sizeof(text)) {
        r = SN_ERR_INVALID;
        goto out;
    }
    /* Written last: its presence marks a complete home. */
    r = write_text(home, "signetd.conf", text, 0600);
out:
    sn_ca_cleanup(&ca);
    return r;
}

sn_err
sn_home_init(const char *home_arg, const char *module, enum sn_home_ca mode,
             const char *dir, const struct sn_home_net *net_arg,
             const char *oid_arc)
{
    char home[PATH_MAX], url[MAX_BASE_URL + 16];
    struct sn_home_net net;
    const char *base_url;
    struct sn_hsm *hsm = NULL;
    struct sn_hsm_token *service = NULL;
    struct sn_oids oids;
    sn_err r;

    if (sn_oids_init(&oids, oid_arc) != SN_OK) {
        sn_error("init: bad OID arc '%s': expected dotted decimal such as "
                 "1.3.6.1.4.1.NNNNN, each component below 2^31",
                 oid_arc);
        return SN_ERR_INVALID;
    }

    /* Before anything is made: these are frozen into the CA. */
    if ((r = net_choose(net_arg, &net, url, sizeof(url))) != SN_OK)
        return r;
    base_url = net.base_url;
    if ((r = home_dir(home_arg, home)) != SN_OK)
        return r;
    if (mode == SN_HOME_CA_FROM && !prepared(home)) {
        sn_error("init: %s was not prepared with signetd init --ca-csr", home);
        return SN_ERR_STATE;
    }
    /* The service's own token, separate from every subscriber's. After
     * --ca-csr it exists and holds the issuing CA keys. */
    r = mode == SN_HOME_CA_FROM ? hsm_reopen(home, module, SERVICE_LABEL,
                                             "hsm/service.pin", &hsm, &service)
                                : hsm_new(home, module, SERVICE_LABEL,
                                          "hsm/service.pin", &hsm, &service);
    if (r != SN_OK)
        goto out;
    switch (mode) {
    case SN_HOME_CA_REQUEST:
        /* Step 1 of docs/ceremony.md: the home stays incomplete. */
        if ((r = mkdir_any(dir)) != SN_OK ||
            (r = sn_ca_request(service, dir, DEFAULT_ORG, DEFAULT_COUNTRY)) !=
                SN_OK)
            sn_error("init: cannot make the CA requests: %s", sn_err_str(r));
        goto out;
    case SN_HOME_CA_FROM:
        r = sn_ca_install(service, home, dir, DEFAULT_ORG, DEFAULT_COUNTRY,
                          base_url);
        break;
    default:
        r = sn_ca_create(service, home, DEFAULT_ORG, DEFAULT_COUNTRY, base_url);
        break;
    }
    if (r != SN_OK) {
        sn_error("init: cannot create the CA: %s", sn_err_str(r));
        goto out;
    }
    r = home_finish(home, module, &net, oid_arc, &oids, service);
out:
    sn_hsm_token_close(service);
    sn_hsm_close(hsm);
    return r;
}

sn_err
sn_home_ceremony(const char *home_arg, const char *module, const char *dir,
                 const char *base_url)
{
    char home[PATH_MAX], path[PATH_MAX], why[512];
    struct sn_hsm *hsm = NULL;
    struct sn_hsm_token *root = NULL;
    struct endpoint e;
    sn_err r;

    if (base_url == NULL)
        base_url = DEFAULT_BASE_URL;
    if (!parse_url(base_url, &e, why, sizeof(why))) {
        sn_error("ceremony: --base-url %s: %s", base_url, why);
        return SN_ERR_INVALID;
    }
    if ((r = home_dir(home_arg, home)) != SN_OK)
        return r;
    hpath(path, sizeof(path), home, ROOT_PIN);
    r = access(path, F_OK) == 0
            ? hsm_reopen(home, module, ROOT_LABEL, ROOT_PIN, &hsm, &root)
            : hsm_new(home, module, ROOT_LABEL, ROOT_PIN, &hsm, &root);
    if (r != SN_OK || (r = mkdir_any(dir)) != SN_OK)
        goto out;
    r = sn_ca_ceremony(root, home, dir, DEFAULT_ORG, DEFAULT_COUNTRY, base_url);
out:
    sn_hsm_token_close(root);
    sn_hsm_close(hsm);
    return r;
}

/* ---- signetd check ---- */

#define MODES_SHOWN 10 /* loose paths named; the rest counted */
#define WALK_DEPTH 8   /* HOME/hsm/tokens/<token>/<object> is 3 deep */

struct findings {
    unsigned errors, warnings;
    unsigned loose; /* paths with group or other permission bits */
};

static void finding(struct findings *f, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One line on stdout: check's findings are its output, not its log. */
static void
finding(struct findings *f, int error, const char *fmt, ...)
{
    va_list ap;

    printf("signetd: %s: ", error ? "error" : "warning");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    if (error)
        f->errors++;
    else
        f->warnings++;
}

/* Whether serve could bind name = value: the socket is closed at once. */
static void
check_port(struct findings *f, const char *home, const char *name,
           const char *value)
{
    char why[128];
    int fd;

    if (strcmp(value, "off") == 0)
        return;
    if (sn_http_listen(value, &fd, why, sizeof(why)) == SN_OK) {
        close(fd);
        return;
    }
    finding(f, 0,
            "%s = %s: cannot listen: %s (another program, or signetd "
            "already serving this home?); change %s in %s/signetd.conf",
            name, value, why, name, home);
}

/* A group or other bit on path: write is an error (they could change
 * the configuration or the module signetd loads), read a warning. */
static void
check_mode(struct findings *f, const char *path, mode_t mode)
{
    if ((mode & 077) == 0)
        return;
    if (++f->loose <= MODES_SHOWN)
        finding(f, (mode & 022) != 0,
                "%s is mode %04o: group or others can %s it (signetd makes "
                "everything 0600 or 0700: chmod -R go= HOME)",
                path, (unsigned)(mode & 07777),
                (mode & 022) != 0 ? "change" : "read");
    else if ((mode & 022) != 0)
        f->errors++;
    else
        f->warnings++;
}

/* Every entry under dir (symbolic links not followed), depth bounded. */
static void
walk_modes(struct findings *f, const char *dir, int depth)
{
    char path[PATH_MAX];
    struct dirent *d;
    struct stat st;
    DIR *dp;

    if (depth > WALK_DEPTH || (dp = opendir(dir)) == NULL)
        return;
    while ((d = readdir(dp)) != NULL) {
        if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof(path), "%s/%s", dir, d->d_name) >=
                (int)sizeof(path) ||
            lstat(path, &st) != 0 || S_ISLNK(st.st_mode))
            continue;
        /* the keeper's socket directory is searchable on purpose (a
         * front end of another user reaches the socket, 0600, in it) */
        if (depth == 1 && strcmp(d->d_name, "run") == 0 &&
            S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0711)
            st.st_mode &= ~(mode_t)011;
        check_mode(f, path, st.st_mode);
        if (S_ISDIR(st.st_mode))
            walk_modes(f, path, depth + 1);
    }
    closedir(dp);
}

static void
check_modes(struct findings *f, const char *home)
{
    struct stat st;

    if (stat(home, &st) == 0)
        check_mode(f, home, st.st_mode);
    walk_modes(f, home, 1);
    if (f->loose > MODES_SHOWN)
        printf("signetd: ... and %u more paths with loose modes\n",
               f->loose - MODES_SHOWN);
}

/* SoftHSM2 keeps keys in files: by the module's name, as installed. */
static int
software_hsm(const char *module)
{
    const char *base = strrchr(module, '/');

    base = base != NULL ? base + 1 : module;
    return strncmp(base, "libsofthsm", 10) == 0;
}

void
sn_home_check(const struct sn_config *cfg, unsigned *errors, unsigned *warnings)
{
    struct findings f;
    char why[512];

    memset(&f, 0, sizeof(f));
    check_port(&f, cfg->home, "listen", cfg->listen);
    check_port(&f, cfg->home, "public.listen", cfg->public_listen);
    if (sn_home_net_mismatch(cfg->ca_base_url, cfg->public_listen, why,
                             sizeof(why)))
        finding(&f, 0, "%s", why);
    check_modes(&f, cfg->home);
    if (sn_oid_arc_is_default(cfg->oid_arc))
        finding(&f, 0,
                "oid.arc is not set: Signet's private OIDs use the default "
                "UUID arc %s, whose 128-bit component Go before 1.22 and "
                "pyca/cryptography 38 refuse to parse (every certificate "
                "fails); set oid.arc to your IANA Private Enterprise Number "
                "arc, 1.3.6.1.4.1.N",
                SN_OID_DEFAULT_ARC);
    if (software_hsm(cfg->hsm_module))
        finding(&f, 0,
                "hsm.module = %s is SoftHSM2, a software token: keys are "
                "files on this disk, not in a certified HSM (CSBR 6.2.7.4); "
                "for tests only",
                cfg->hsm_module);
    if (cfg->allow_uncertified)
        finding(&f, 0,
                "ca.allow_uncertified_modules = true: keys on modules not in "
                "hsm.certified_modules get test code signing certificates "
                "(policy %s)",
                SN_OID_CABF_TEST);
    *errors = f.errors;
    *warnings = f.warnings;
}

/*
 * signetd.conf names the store url instead of its database: the line
 * setting database (or store.url) is replaced, every other line kept;
 * written beside it and renamed over it (0600).
 */
sn_err
sn_home_set_store(const char *home, const char *url)
{
    char path[4096], tmp[4200], *line, *save = NULL;
    uint8_t *data = NULL;
    struct sn_buf out;
    size_t len = 0, klen;
    int done = 0;
    sn_err r;

    snprintf(path, sizeof(path), "%s/signetd.conf", home);
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    if ((r = sn_file_read(path, 1 << 20, &data, &len)) != SN_OK)
        return r;
    sn_buf_init(&out, len + strlen(url) + 64);
    for (line = strtok_r((char *)data, "\n", &save); line != NULL && r == SN_OK;
         line = strtok_r(NULL, "\n", &save)) {
        klen = strcspn(line, " =");
        if ((klen == 8 && strncmp(line, "database", 8) == 0) ||
            (klen == 9 && strncmp(line, "store.url", 9) == 0)) {
            if (done++)
                continue;
            r = sn_buf_append(&out, "store.url = ", 12);
            if (r == SN_OK)
                r = sn_buf_append(&out, url, strlen(url));
        } else
            r = sn_buf_append(&out, line, strlen(line));
        if (r == SN_OK)
            r = sn_buf_append(&out, "\n", 1);
    }
    if (r == SN_OK && !done) {
        r = sn_buf_append(&out, "store.url = ", 12);
        if (r == SN_OK)
            r = sn_buf_append(&out, url, strlen(url));
        if (r == SN_OK)
            r = sn_buf_append(&out, "\n", 1);
    }
    unlink(tmp);
    if (r == SN_OK &&
        (r = sn_file_write_new(tmp, out.data, out.len, 0600)) == SN_OK &&
        rename(tmp, path) != 0)
        r = SN_ERR_IO;
    sn_buf_cleanup(&out);
    free(data);
    return r;
}
