/*
 * signetd: command line of the signing service: init, check, serve, and
 * the offline root ceremony (ca ceremony).
 * Arguments are trusted (the operator's); the network is handled in http.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/oids.h"
#include "daemon/app.h"
#include "daemon/harden.h"
#include "daemon/home.h"
#include "http/server.h"

#ifndef SIGNET_SOFTHSM_MODULE
#define SIGNET_SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#endif

static void
usage(void)
{
    fprintf(
        stderr,
        "usage: signetd init  --home DIR [--module PKCS11_MODULE]\n"
        "                     [--ca-csr XDIR | --ca-from XDIR]\n"
        "                     [--base-url URL] [--oid-arc 1.3.6.1.4.1.PEN]\n"
        "       signetd ca ceremony --home ROOTDIR --csr XDIR\n"
        "                     [--module PKCS11_MODULE] [--base-url URL]\n"
        "       signetd check --home DIR\n"
        "       signetd serve --home DIR [--listen ADDR:PORT]\n"
        "                     [--public-listen ADDR:PORT|off]\n"
        "Without --ca-csr/--ca-from, init makes a TEST hierarchy whose\n"
        "root key is online; see docs/ceremony.md for an offline root.\n");
}

/*
 * Says where the root key is: in the service token (a test hierarchy, a
 * warning) or not (the offline root of docs/ceremony.md).
 */
static int
check_hierarchy(const char *home)
{
    struct sn_app app;
    char err[512] = "";
    int rc = 1;
    sn_err r;

    if (sn_app_open_service(home, &app, err, sizeof(err)) != SN_OK) {
        fprintf(stderr, "signetd: %s\n", err);
        goto out;
    }
    if ((r = sn_ca_root_key(app.service)) == SN_OK)
        printf("warning: the root CA key is online in the service token: "
               "this is a TEST hierarchy, not for public trust (an offline "
               "root: docs/ceremony.md)\n");
    else if (r == SN_ERR_NOT_FOUND)
        printf("root CA: offline (no root key in the service token)\n");
    else {
        fprintf(stderr, "signetd: cannot look for the root key: %s\n",
                sn_err_str(r));
        goto out;
    }
    rc = 0;
out:
    sn_app_close(&app);
    return rc;
}

/* Settings that load but that an operator must know about. */
static void
check_warnings(const struct sn_config *cfg)
{
    if (sn_oid_arc_is_default(cfg->oid_arc))
        fprintf(stderr,
                "signetd: warning: oid.arc is not set: Signet's private OIDs "
                "use the default UUID arc %s, whose 128-bit component Go "
                "before 1.22 and pyca/cryptography 38 refuse to parse (every "
                "certificate fails); set oid.arc to your IANA Private "
                "Enterprise Number arc, 1.3.6.1.4.1.N\n",
                SN_OID_DEFAULT_ARC);
    if (cfg->allow_uncertified)
        fprintf(stderr,
                "signetd: warning: ca.allow_uncertified_modules = true: keys "
                "on modules not in hsm.certified_modules get test code "
                "signing certificates (policy %s)\n",
                SN_OID_CABF_TEST);
}

static int
cmd_check(const char *home)
{
    struct sn_config cfg;
    char path[4096], err[512];

    snprintf(path, sizeof(path), "%s/signetd.conf", home);
    if (sn_config_load(path, home, &cfg, err, sizeof(err)) != SN_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    check_warnings(&cfg);
    printf("%s: ok\n", path);
    sn_config_cleanup(&cfg);
    return check_hierarchy(home);
}

static int
cmd_serve(const char *home, const char *listen, const char *public_listen)
{
    struct sn_http *http = NULL, *pub = NULL;
    struct sn_app app;
    struct sn_deps deps;
    struct sn_http_opts opts;
    char err[512] = "";
    struct timespec wait = {0, 0};
    sigset_t set;
    int sig = -1, rc = 1;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Worker threads inherit the mask: only sigwait() sees these. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (sn_app_open(home, &app, err, sizeof(err)) != SN_OK) {
        /* serve's output is the log: its lines, not a bare one. */
        sn_error("serve: %s", err);
        goto out;
    }
    if (listen == NULL)
        listen = app.cfg.listen;
    sn_app_deps(&app, &deps);
    sn_app_http_opts(&app, &opts);
    if (sn_http_start(&deps, &opts, listen, 0, &http) != SN_OK)
        goto out;
    if (public_listen == NULL)
        public_listen = app.cfg.public_listen;
    if (strcmp(public_listen, "off") != 0 &&
        sn_http_start(&deps, &opts, public_listen, 1, &pub) != SN_OK) {
        sn_http_stop(http);
        goto out;
    }
    sn_info("serving https://%s (home %s)", listen, app.cfg.home);
    if (pub != NULL)
        sn_info(
            "serving CRLs, OCSP, CA certificates and time-stamps on http://%s",
            public_listen);
    /* The main thread waits for a signal and, meanwhile, runs the CRL
     * timer: requests are served by the listeners' threads. */
    while (sig < 0) {
        wait.tv_sec = (time_t)sn_ca_crl_timer(&app.ca, app.store);
        sig = sigtimedwait(&set, NULL, &wait);
        if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            sn_error("sigtimedwait: %s", strerror(errno));
            sig = 0;
        }
    }
    sn_info("signal %d: finishing in-flight requests", sig);
    if (sn_http_stop(pub) != 0 || sn_http_stop(http) != 0) {
        /* A request is stuck (in the HSM, say): no teardown under it.
         * Every answered signature's record is already committed. */
        sn_error("stopping with requests unfinished");
        _exit(1);
    }
    sn_info("stopped");
    rc = 0;
out:
    sn_app_close(&app);
    return rc;
}

static int
cmd_init(const char *home, const char *module, const char *csr_dir,
         const char *from_dir, const char *base_url, const char *oid_arc)
{
    enum sn_home_ca mode = SN_HOME_CA_TEST;

    if (csr_dir != NULL && from_dir != NULL) {
        usage();
        return 2;
    }
    if (csr_dir != NULL && oid_arc != NULL) {
        fprintf(stderr, "signetd: --oid-arc goes with --ca-from, which "
                        "writes the configuration\n");
        return 2;
    }
    if (csr_dir != NULL)
        mode = SN_HOME_CA_REQUEST;
    else if (from_dir != NULL)
        mode = SN_HOME_CA_FROM;
    if (sn_home_init(home, module, mode, csr_dir ? csr_dir : from_dir, base_url,
                     oid_arc) != SN_OK) {
        fprintf(stderr, "signetd: init of %s failed\n", home);
        return 1;
    }
    if (mode == SN_HOME_CA_REQUEST) {
        printf("signetd: issuing CA keys made in %s/hsm; requests in %s\n"
               "  next: signetd ca ceremony --home ROOTDIR --csr %s\n"
               "  then: signetd init --home %s --ca-from %s\n",
               home, csr_dir, csr_dir, home, csr_dir);
        return 0;
    }
    printf("signetd: new home in %s\n"
           "  admin token: %s/admin.token\n"
           "  TLS root:    %s/tls/ca.pem\n",
           home, home, home);
    if (mode == SN_HOME_CA_TEST)
        printf("  CA: a TEST hierarchy (root key online), not for public "
               "trust\n");
    return 0;
}

int
main(int argc, char **argv)
{
    const char *home = NULL, *listen = NULL, *module = SIGNET_SOFTHSM_MODULE;
    const char *public_listen = NULL, *csr_dir = NULL, *from_dir = NULL;
    const char *base_url = NULL, *xdir = NULL, *cmd, *sub = NULL;
    const char *oid_arc = NULL;
    int i = 2;

    if (argc < 2) {
        usage();
        return 2;
    }
    cmd = argv[1];
    if (strcmp(cmd, "ca") == 0 && argc > 2)
        sub = argv[i++];
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
            home = argv[++i];
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen = argv[++i];
        else if (strcmp(argv[i], "--public-listen") == 0 && i + 1 < argc)
            public_listen = argv[++i];
        else if (strcmp(argv[i], "--module") == 0 && i + 1 < argc)
            module = argv[++i];
        else if (strcmp(argv[i], "--ca-csr") == 0 && i + 1 < argc)
            csr_dir = argv[++i];
        else if (strcmp(argv[i], "--ca-from") == 0 && i + 1 < argc)
            from_dir = argv[++i];
        else if (sub != NULL && strcmp(argv[i], "--csr") == 0 && i + 1 < argc)
            xdir = argv[++i];
        else if (strcmp(argv[i], "--base-url") == 0 && i + 1 < argc)
            base_url = argv[++i];
        else if (strcmp(argv[i], "--oid-arc") == 0 && i + 1 < argc &&
                 strcmp(cmd, "init") == 0)
            oid_arc = argv[++i];
        else {
            usage();
            return 2;
        }
    }
    if (home == NULL) {
        usage();
        return 2;
    }
    /* Every command, before any file or key is touched. */
    if (sn_harden_process() != SN_OK)
        return 1;
    if (strcmp(cmd, "init") == 0)
        return cmd_init(home, module, csr_dir, from_dir, base_url, oid_arc);
    if (sub != NULL && strcmp(sub, "ceremony") == 0 && xdir != NULL &&
        csr_dir == NULL && from_dir == NULL) {
        if (sn_home_ceremony(home, module, xdir, base_url) != SN_OK) {
            fprintf(stderr, "signetd: the ceremony in %s failed\n", home);
            return 1;
        }
        printf("signetd: root ceremony done in %s; certificates and root CRL "
               "in %s\n",
               home, xdir);
        return 0;
    }
    if (csr_dir != NULL || from_dir != NULL || base_url != NULL ||
        xdir != NULL) {
        usage(); /* options of init and ca ceremony only */
        return 2;
    }
    if (strcmp(cmd, "check") == 0)
        return cmd_check(home);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(home, listen, public_listen);
    usage();
    return 2;
}
