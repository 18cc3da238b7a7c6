/*
 * signetd: command line of the signing service: init, check, serve,
 * migrate (to PostgreSQL), and the offline root ceremony (ca ceremony).
 * Arguments are trusted (the operator's); the network is handled in http.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/oids.h"
#include "daemon/app.h"
#include "daemon/harden.h"
#include "daemon/keeperrun.h"
#include "daemon/supervise.h"
#include "daemon/home.h"
#include "http/handlers.h"
#include "daemon/notices.h"
#include "http/server.h"
#include "store/store.h"

#ifndef SIGNET_SOFTHSM_MODULE
#define SIGNET_SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#endif
/* How often the sign requests' sweeper runs (issue 17): a request is also
 * expired by whoever reads it after its deadline, so this only bounds how
 * long an unread one stays pending in lists and records. */
#define SWEEP_EVERY 5

static void
usage(void)
{
    fprintf(stderr,
            "usage: signetd init  [--home] DIR [--public-url URL]\n"
            "                     [--listen ADDR:PORT] "
            "[--public-listen ADDR:PORT|off]\n"
            "                     [--module PKCS11_MODULE] "
            "[--oid-arc 1.3.6.1.4.1.PEN]\n"
            "                     [--ca-csr XDIR | --ca-from XDIR]\n"
            "       signetd ca ceremony --home ROOTDIR --csr XDIR\n"
            "                     [--module PKCS11_MODULE] [--base-url URL]\n"
            "       signetd check [--home] DIR\n"
            "       signetd admin-token [--home] DIR  (a new bootstrap admin "
            "token)\n"
            "       signetd migrate [--home] DIR --to postgresql://...\n"
            "       signetd keeper [--home] DIR  (the HSM keeper alone, "
            "on HOME/run/keeper.sock)\n"
            "       signetd serve [--home] DIR [--listen ADDR:PORT]\n"
            "                     [--public-listen ADDR:PORT|off]\n"
            "init: the listeners default to 127.0.0.1:8443 (HTTPS API) and\n"
            "127.0.0.1:8080 (plain HTTP: CRLs, OCSP, CA certificates, TSA);\n"
            "--public-url (default http://PUBLIC-LISTEN) is what clients\n"
            "reach that listener at: it is written into every certificate.\n"
            "Without --ca-csr/--ca-from, init makes a TEST hierarchy whose\n"
            "root key is online; see docs/ceremony.md for an offline root.\n");
}

/*
 * Says where the root key is: in the service token (a test hierarchy, a
 * warning) or not (the offline root of docs/ceremony.md).
 */
static void
check_hierarchy(const char *home, unsigned *errors, unsigned *warnings)
{
    struct sn_app app;
    char err[512] = "";
    sn_err r;

    if (sn_app_open_service(home, &app, err, sizeof(err)) != SN_OK) {
        printf("signetd: error: %s\n", err);
        (*errors)++;
    } else if ((r = sn_ca_root_key(app.service)) == SN_OK) {
        printf("signetd: warning: the root CA key is online in the service "
               "token: this is a TEST hierarchy, not for public trust (an "
               "offline root: docs/ceremony.md)\n");
        (*warnings)++;
    } else if (r == SN_ERR_NOT_FOUND)
        printf("root CA: offline (no root key in the service token)\n");
    else {
        printf("signetd: error: cannot look for the root key: %s\n",
               sn_err_str(r));
        (*errors)++;
    }
    sn_app_close(&app);
}

/*
 * Loads the configuration, then lists what a new operator gets wrong
 * (sn_home_check) and where the root key is. Non-zero on errors only.
 */
static int
cmd_check(const char *home)
{
    struct sn_config cfg;
    char path[4096], err[512];
    unsigned errors = 0, warnings = 0;

    snprintf(path, sizeof(path), "%s/signetd.conf", home);
    if (sn_config_load(path, home, &cfg, err, sizeof(err)) != SN_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    printf("%s: ok\n", path);
    sn_home_check(&cfg, &errors, &warnings);
    sn_config_cleanup(&cfg);
    fflush(stdout); /* before the service's log lines on stderr */
    check_hierarchy(home, &errors, &warnings);
    printf("signetd check: %u error(s), %u warning(s)\n", errors, warnings);
    return errors > 0 ? 1 : 0;
}

/* signetd admin-token: rotates the bootstrap admin token. */
static int
cmd_admin_token(const char *home)
{
    struct sn_config cfg;
    char path[4096], err[512];
    int revoked = 0;
    sn_err r;

    snprintf(path, sizeof(path), "%s/signetd.conf", home);
    if (sn_config_load(path, home, &cfg, err, sizeof(err)) != SN_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    r = sn_home_admin_token(home, cfg.database, &revoked);
    sn_config_cleanup(&cfg);
    if (r != SN_OK) {
        fprintf(stderr, "signetd: admin-token: %s\n", sn_err_str(r));
        return 1;
    }
    printf("signetd: a new admin token is in %s/admin.token (30 days)%s\n",
           home,
           revoked ? "; the previous one is revoked (a running signetd "
                     "accepts it until it restarts)"
                   : "; no previous one was found to revoke");
    return 0;
}

/*
 * signetd migrate: the home's SQLite database copied into an empty
 * PostgreSQL database (sn_store_migrate), then signetd.conf names it.
 * signetd must not be serving from the home meanwhile.
 */
static int
cmd_migrate(const char *home, const char *to)
{
    struct sn_migrate_report rep;
    struct sn_config cfg;
    char path[4096], err[512];
    size_t i;
    sn_err r;

    snprintf(path, sizeof(path), "%s/signetd.conf", home);
    if (sn_config_load(path, home, &cfg, err, sizeof(err)) != SN_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (strncmp(cfg.database, "postgres", 8) == 0) {
        fprintf(stderr,
                "signetd: migrate: %s already names a PostgreSQL "
                "database\n",
                path);
        sn_config_cleanup(&cfg);
        return 1;
    }
    r = sn_store_migrate(cfg.database, to, cfg.home, &rep);
    sn_config_cleanup(&cfg);
    if (r == SN_OK && (r = sn_home_set_store(home, to)) != SN_OK)
        fprintf(stderr,
                "signetd: migrate: the data is copied, but %s could "
                "not be changed: set store.url there yourself\n",
                path);
    if (r != SN_OK) {
        fprintf(stderr, "signetd: migrate: %s%s\n", sn_err_str(r),
                r == SN_ERR_EXISTS ? " (the PostgreSQL database is not empty)"
                : r == SN_ERR_STATE
                    ? " (a transparency log does not hold: see the log)"
                    : "");
        return 1;
    }
    for (i = 0; i < SN_MIGRATE_TABLES; i++)
        if (rep.rows[i] > 0)
            printf("  %-20s %llu\n", sn_migrate_table(i),
                   (unsigned long long)rep.rows[i]);
    printf("signetd: migrate: %llu rows copied; %s now names the PostgreSQL "
           "database (store.url); the SQLite file is left as it was\n",
           (unsigned long long)rep.total, path);
    return 0;
}

/*
 * A listening socket for serve. A failure names what to change: the
 * option given, or the setting in the home's signetd.conf, and make run's
 * variable (README).
 */
static int
listen_on(const char *home, const char *addr, int from_option,
          const char *option, const char *setting, const char *make_var,
          int *fd)
{
    char why[128];

    if (sn_http_listen(addr, fd, why, sizeof(why)) == SN_OK)
        return 0;
    if (from_option)
        sn_error("cannot listen on %s (%s; with make run: %s=ADDR:PORT): %s",
                 addr, option, make_var, why);
    else
        sn_error("cannot listen on %s (%s in %s/signetd.conf, or make run "
                 "%s=ADDR:PORT): %s",
                 addr, setting, home, make_var, why);
    return -1;
}

/* The directory of this signetd if the signet client is beside it (a
 * build directory): the next steps put it on PATH. */
static void
client_dir(char *buf, size_t len)
{
    char self[4096], path[4200], *slash;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    buf[0] = '\0';
    if (n <= 0)
        return;
    self[n] = '\0';
    if ((slash = strrchr(self, '/')) == NULL)
        return;
    *slash = '\0';
    snprintf(path, sizeof(path), "%s/signet", self);
    if (access(path, X_OK) == 0)
        snprintf(buf, len, "%s", self);
}

/* The first steps of a new user, on a terminal only (not in a journal). */
static void
next_steps(const char *home, const char *listen)
{
    char dir[4096];

    if (!isatty(STDOUT_FILENO))
        return;
    client_dir(dir, sizeof(dir));
    printf("\nNext, in another shell (docs/api.md has the rest):\n");
    if (dir[0] != '\0')
        printf("  export PATH=%s:$PATH\n", dir);
    printf(
        "  export SIGNET_URL=https://%s SIGNET_CA_FILE=%s/tls/ca.pem\n"
        "  export SIGNET_TOKEN=$(cat %s/admin.token)\n"
        "  signet subscriber create acme                # -> ID\n"
        "  signet subscriber identity ID --O \"Acme Corp\" --C US "
        "--ST California\n"
        "  signet token create --subscriber ID --role manage --role sign\n"
        "  export SIGNET_TOKEN=...                      # the token printed\n"
        "  signet key create --algorithm ecdsa-p256 --label release  # -> KEY\n"
        "  signet key certify KEY --subject \"/CN=Acme Corp/O=Acme Corp/"
        "C=US/ST=California\"\n"
        "  signet sign --key KEY app.bin                # -> app.bin.p7s\n"
        "  signet ca roots -o ca.pem                    # the CA certificates\n"
        "  openssl cms -verify -binary -inform DER -in app.bin.p7s "
        "-content app.bin -CAfile ca.pem -purpose any\n"
        "Stop with Ctrl-C (in-flight requests finish first).\n\n",
        listen, home, home);
    fflush(stdout);
}

/* What a client needs: every URL in full, logged; then next_steps. */
static void
banner(const struct sn_app *app, const char *listen, const char *public_listen)
{
    const char *base = app->cfg.ca_base_url;
    char why[512];

    sn_info("serving https://%s (home %s)", listen, app->cfg.home);
    if (strcmp(public_listen, "off") != 0)
        sn_info("serving CRLs, OCSP, CA certificates and time-stamps on "
                "http://%s",
                public_listen);
    else
        sn_info("public.listen = off: %s must be served by another server",
                base);
    sn_info("TSA: %s/tsa (Authenticode: %s/tsa/authenticode)", base, base);
    sn_info("CRLs: %s/ca/crl/codesigning, %s/ca/crl/timestamping; "
            "OCSP: %s/ca/ocsp",
            base, base, base);
    sn_info("CA roots: signet ca roots -o ca.pem (or %s/ca/certs.pem)", base);
    if (sn_home_net_mismatch(base, public_listen, why, sizeof(why)))
        sn_warn("%s", why);
    next_steps(app->cfg.home, listen);
}

/* Both listeners, bound first so that a failure names its setting. */
static int
start_listeners(struct sn_app *app, const struct sn_deps *deps,
                const char *listen, const char *public_listen,
                struct sn_http **http, struct sn_http **pub)
{
    struct sn_http_opts opts;
    const char *home = app->cfg.home;
    int fd = -1, pfd = -1, pub_option = public_listen != NULL;

    sn_app_http_opts(app, &opts);
    if (listen_on(home, listen ? listen : app->cfg.listen, listen != NULL,
                  "--listen", "listen", "LISTEN", &fd) != 0)
        return -1;
    if (!pub_option)
        public_listen = app->cfg.public_listen;
    if (strcmp(public_listen, "off") != 0 &&
        listen_on(home, public_listen, pub_option, "--public-listen",
                  "public.listen", "PUBLIC_LISTEN", &pfd) != 0) {
        close(fd);
        return -1;
    }
    if (sn_http_start(deps, &opts, fd, 0, http) != SN_OK) {
        if (pfd >= 0)
            close(pfd);
        return -1;
    }
    if (pfd >= 0 && sn_http_start(deps, &opts, pfd, 1, pub) != SN_OK) {
        sn_http_stop(*http);
        *http = NULL;
        return -1;
    }
    return 0;
}

struct serve_args {
    const char *home, *listen, *public_listen;
};

/* The front end (supervise.h): the network, the store, the CA's and the
 * TSA's objects; every key operation goes to the keeper. */
static int
front_main(void *arg, int ready_fd)
{
    const struct serve_args *sa = arg;
    const char *home = sa->home, *listen = sa->listen;
    const char *public_listen = sa->public_listen;
    struct sn_http *http = NULL, *pub = NULL;
    struct sn_notices *notices = NULL;
    struct sn_app app;
    struct sn_deps deps;
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
    sn_app_deps(&app, &deps);
    if (start_listeners(&app, &deps, listen, public_listen, &http, &pub) != 0)
        goto out;
    /* issue 18: the notices confirmed reports owe to other CAs. */
    if (app.cfg.report_webhook != NULL &&
        sn_notices_start(&deps, app.keeper,
                         &(struct sn_notices_opts){app.cfg.report_webhook,
                                                   app.cfg.report_webhook_ca,
                                                   app.cfg.report_retry},
                         &notices) != SN_OK) {
        sn_error("serve: cannot start the CA notices (reports.ca_webhook)");
        sn_http_stop(pub);
        sn_http_stop(http);
        goto out;
    }
    banner(&app, listen ? listen : app.cfg.listen,
           public_listen ? public_listen : app.cfg.public_listen);
    (void)!write(ready_fd, "f", 1);
    close(ready_fd);
    /* The main thread waits for a signal and, meanwhile, runs the CRL
     * timer and the sign requests' sweeper: requests are served by the
     * listeners' threads. */
    while (sig < 0) {
        wait.tv_sec = (time_t)sn_ca_crl_timer(&app.ca, app.store);
        if (wait.tv_sec > SWEEP_EVERY)
            wait.tv_sec = SWEEP_EVERY;
        sn_sign_requests_sweep(&deps, time(NULL));
        sn_reports_sweep(&deps, time(NULL));
        sig = sigtimedwait(&set, NULL, &wait);
        if (sig < 0 && errno != EAGAIN && errno != EINTR) {
            sn_error("sigtimedwait: %s", strerror(errno));
            sig = 0;
        }
    }
    sn_info("signal %d: finishing in-flight requests", sig);
    sn_notices_stop(notices);
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

/* The PIN files the configuration names outside HOME/hsm: the front end
 * sees /dev/null there. */
static size_t
pin_files(const struct sn_config *cfg, const char **out, size_t max)
{
    size_t i, n = 0;

    if (cfg->hsm_service_pin_file != NULL && n < max)
        out[n++] = cfg->hsm_service_pin_file;
    for (i = 0; i < cfg->nmaps && n < max; i++)
        out[n++] = cfg->maps[i].pin_file;
    return n;
}

static int
cmd_serve(const char *home, const char *listen, const char *public_listen)
{
    struct serve_args sa = {home, listen, public_listen};
    struct sn_keeper_run kr;
    struct sn_sandbox sb;
    struct stat st;
    struct sn_config cfg;
    const char **hide = NULL;
    char path[PATH_MAX], conf[PATH_MAX], err[512] = "";
    int rc;

    /* What the sandbox hides; the front end reads the rest itself. */
    memset(&cfg, 0, sizeof(cfg));
    snprintf(path, sizeof(path), "%s/signetd.conf", home);
    if (sn_config_load(path, home, &cfg, err, sizeof(err)) != SN_OK) {
        sn_error("serve: %s", err);
        return 1;
    }
    if ((hide = calloc(cfg.nmaps + 1, sizeof(*hide))) == NULL) {
        sn_config_cleanup(&cfg);
        return 1;
    }
    memset(&sb, 0, sizeof(sb));
    sb.home = cfg.home;
    /* the keeper's module and tokens are named there: not the front
     * end's to change */
    snprintf(conf, sizeof(conf), "%s/signetd.conf", cfg.home);
    sb.readonly = conf;
    sb.hide = hide;
    sb.nhide = pin_files(&cfg, hide, cfg.nmaps + 1);
    sb.uid = (uid_t)-1;
    sb.gid = (gid_t)-1;
    /* The front end's user owns the home: a configuration (which names
     * the keeper's module) replaced since is not the supervisor's. */
    if (geteuid() == 0 &&
        (stat(conf, &st) != 0 || st.st_uid != 0 || (st.st_mode & 022) != 0)) {
        sn_error("serve: %s must be root's and writable by root only", conf);
        sn_config_cleanup(&cfg);
        free(hide);
        return 1;
    }
    if (cfg.server_user != NULL && geteuid() == 0 &&
        sn_sandbox_user(cfg.server_user, &sb) != SN_OK) {
        sn_config_cleanup(&cfg);
        free(hide);
        return 1;
    }
    if (geteuid() == 0 && sb.uid == (uid_t)-1)
        sn_warn("serve: the front end runs as root (without capabilities); "
                "server.user names the user it should run as");
    if (sn_keeper_prepare(&cfg, &kr) != SN_OK) {
        sn_error("serve: cannot prepare the keeper's configuration");
        sn_config_cleanup(&cfg);
        free(hide);
        return 1;
    }
    if (sb.uid != (uid_t)-1)
        kr.kc.peer_uid = sb.uid; /* the keeper lets in the front end */
    rc = sn_supervise(&kr.kc, &sb, front_main, &sa);
    sn_keeper_run_cleanup(&kr);
    sn_config_cleanup(&cfg);
    free(hide);
    return rc;
}

static int
cmd_init(const char *home, const char *module, const char *csr_dir,
         const char *from_dir, const struct sn_home_net *net,
         const char *oid_arc)
{
    enum sn_home_ca mode = SN_HOME_CA_TEST;

    if (csr_dir != NULL && from_dir != NULL) {
        usage();
        return 2;
    }
    if (csr_dir != NULL &&
        (oid_arc != NULL || net->base_url != NULL || net->listen != NULL ||
         net->public_listen != NULL)) {
        fprintf(stderr, "signetd: --oid-arc, --public-url and the listeners "
                        "go with --ca-from, which writes the configuration\n");
        return 2;
    }
    if (csr_dir != NULL)
        mode = SN_HOME_CA_REQUEST;
    else if (from_dir != NULL)
        mode = SN_HOME_CA_FROM;
    if (sn_home_init(home, module, mode, csr_dir ? csr_dir : from_dir, net,
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
           "  TLS root:    %s/tls/ca.pem\n"
           "  settings:    %s/signetd.conf (check: signetd check %s)\n",
           home, home, home, home, home);
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
    const char *oid_arc = NULL, *to = NULL;
    struct sn_home_net net;
    int i = 2;

    if (argc < 2) {
        usage();
        return 2;
    }
    cmd = argv[1];
    if (strcmp(cmd, "ca") == 0 && argc > 2)
        sub = argv[i++];
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--home") == 0 && i + 1 < argc && home == NULL)
            home = argv[++i];
        else if (argv[i][0] != '-' && home == NULL)
            home = argv[i]; /* signetd init DIR */
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
        else if ((strcmp(argv[i], "--base-url") == 0 ||
                  strcmp(argv[i], "--public-url") == 0) &&
                 i + 1 < argc)
            base_url = argv[++i];
        else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc &&
                 strcmp(cmd, "migrate") == 0)
            to = argv[++i];
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
    if (strcmp(cmd, "init") == 0) {
        net.listen = listen;
        net.public_listen = public_listen;
        net.base_url = base_url;
        return cmd_init(home, module, csr_dir, from_dir, &net, oid_arc);
    }
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
    if (strcmp(cmd, "admin-token") == 0)
        return cmd_admin_token(home);
    if (strcmp(cmd, "migrate") == 0 && to != NULL)
        return cmd_migrate(home, to);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(home, listen, public_listen);
    if (strcmp(cmd, "keeper") == 0)
        return sn_keeper_run(home, -1) == SN_OK ? 0 : 1;
    usage();
    return 2;
}
