/*
 * home: signetd init and the home of the root ceremony. Everything is
 * created with owner-only permissions; nothing existing is overwritten
 * (files are opened O_EXCL).
 */
#include "daemon/home.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/oids.h"
#include "common/util.h"
#include "crypto/apitoken.h"
#include "crypto/tlsgen.h"
#include "hsm/hsm.h"
#include "pki/ca.h"
#include "pki/tsa.h"
#include "store/store.h"

#define SERVICE_LABEL "signet-service"
#define DEFAULT_ORG "Signet"
#define DEFAULT_COUNTRY "US"
#define DEFAULT_PUBLIC "127.0.0.1:8080"
#define DEFAULT_BASE_URL "http://" DEFAULT_PUBLIC
#define DEFAULT_TSA_ALG "rsa-3072"
#define MAX_BASE_URL 200 /* leaves room for the paths in certificates */
/* The ceremony's home: its own SoftHSM2 store and the root token. */
#define ROOT_LABEL "signet-root"
#define ROOT_PIN "hsm/root.pin"

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

static sn_err
make_admin_token(const char *home, const char *db)
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
    r = write_text(home, "admin.token", line, 0600);
out:
    sn_secret_free(line);
    sn_secret_free(secret);
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
home_finish(const char *home, const char *module, const char *base_url,
            const char *oid_arc, const struct sn_oids *oids,
            struct sn_hsm_token *service)
{
    char path[PATH_MAX], tlsca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
    char text[4096];
    struct sn_ca ca;
    sn_err r;

    memset(&ca, 0, sizeof(ca));
    if ((r = mkdir_new(home, "tls")) != SN_OK ||
        (r = mkdir_new(home, "hsm/pins")) != SN_OK)
        return r;
    /* The TSA key, certified by the timestamping CA just made. */
    if ((r = sn_ca_load(&ca, service, home, base_url, NULL, 0)) != SN_OK ||
        (r = sn_tsa_create(service, home, ca.cert[SN_CA_TIMESTAMPING],
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
    if ((r = make_admin_token(home, path)) != SN_OK)
        goto out;

    if (snprintf(
            text, sizeof(text),
            "# signetd configuration. Relative paths are relative to the "
            "home.\n"
            "listen = 127.0.0.1:8443\n"
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
            "public.listen = " DEFAULT_PUBLIC "\n"
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
            "# Any PKCS#11 module can replace SoftHSM2. With a module that\n"
            "# cannot create tokens, set hsm.tokens = mapped and map each\n"
            "# subscriber to a pre-provisioned token:\n"
            "#   hsm.subscriber_token = NAME LABEL PIN_FILE\n"
            "hsm.module = %s\n"
            "hsm.softhsm_conf = hsm/softhsm2.conf\n"
            "hsm.tokens = create\n"
            "hsm.service_token = " SERVICE_LABEL "\n"
            "hsm.service_pin_file = hsm/service.pin\n",
            base_url, oid_arc != NULL ? "" : "# ",
            oid_arc != NULL ? oid_arc : "1.3.6.1.4.1.NNNNN",
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
             const char *dir, const char *base_url, const char *oid_arc)
{
    char home[PATH_MAX];
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

    if (base_url == NULL)
        base_url = DEFAULT_BASE_URL;
    if (strlen(base_url) > MAX_BASE_URL) {
        sn_error("init: base URL too long");
        return SN_ERR_INVALID;
    }
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
    r = home_finish(home, module, base_url, oid_arc, &oids, service);
out:
    sn_hsm_token_close(service);
    sn_hsm_close(hsm);
    return r;
}

sn_err
sn_home_ceremony(const char *home_arg, const char *module, const char *dir,
                 const char *base_url)
{
    char home[PATH_MAX], path[PATH_MAX];
    struct sn_hsm *hsm = NULL;
    struct sn_hsm_token *root = NULL;
    sn_err r;

    if (base_url == NULL)
        base_url = DEFAULT_BASE_URL;
    if (strlen(base_url) > MAX_BASE_URL) {
        sn_error("ceremony: base URL too long");
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
