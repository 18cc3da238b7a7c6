/*
 * signetd: command line of the signing service: init, check, serve.
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
#include "server/app.h"
#include "server/home.h"
#include "server/http.h"

#ifndef SIGNET_SOFTHSM_MODULE
#define SIGNET_SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#endif

static void
usage(void)
{
    fprintf(stderr, "usage: signetd init  --home DIR [--module PKCS11_MODULE]\n"
                    "                     [--oid-arc 1.3.6.1.4.1.PEN]\n"
                    "       signetd check --home DIR\n"
                    "       signetd serve --home DIR [--listen ADDR:PORT]\n"
                    "                     [--public-listen ADDR:PORT|off]\n");
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
    return 0;
}

static int
cmd_serve(const char *home, const char *listen, const char *public_listen)
{
    struct sn_http *http = NULL, *pub = NULL;
    struct sn_app app;
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
        fprintf(stderr, "signetd: %s\n", err);
        goto out;
    }
    if (listen == NULL)
        listen = app.cfg.listen;
    if (sn_http_start(&app, listen, 0, &http) != SN_OK)
        goto out;
    if (public_listen == NULL)
        public_listen = app.cfg.public_listen;
    if (strcmp(public_listen, "off") != 0 &&
        sn_http_start(&app, public_listen, 1, &pub) != SN_OK) {
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
        wait.tv_sec = (time_t)sn_ca_crl_timer(&app);
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

int
main(int argc, char **argv)
{
    const char *home = NULL, *listen = NULL, *module = SIGNET_SOFTHSM_MODULE;
    const char *public_listen = NULL, *oid_arc = NULL;
    const char *cmd;
    int i;

    if (argc < 2) {
        usage();
        return 2;
    }
    cmd = argv[1];
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
            home = argv[++i];
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen = argv[++i];
        else if (strcmp(argv[i], "--public-listen") == 0 && i + 1 < argc)
            public_listen = argv[++i];
        else if (strcmp(argv[i], "--module") == 0 && i + 1 < argc)
            module = argv[++i];
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
    if (strcmp(cmd, "init") == 0) {
        if (sn_home_init(home, module, oid_arc) != SN_OK) {
            fprintf(stderr, "signetd: init of %s failed\n", home);
            return 1;
        }
        printf("signetd: new home in %s\n"
               "  admin token: %s/admin.token\n"
               "  TLS root:    %s/tls/ca.pem\n",
               home, home, home);
        return 0;
    }
    if (strcmp(cmd, "check") == 0)
        return cmd_check(home);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(home, listen, public_listen);
    usage();
    return 2;
}
