/*
 * keeperrun: the keeper's configuration, read from HOME/signetd.conf and
 * HOME/ca, and its start (`signetd keeper`, and the supervisor's child).
 */
#include "daemon/keeperrun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "common/log.h"
#include "pki/ca.h"

#define CSBR_TSA_POLICY "2.23.140.1.4.2"

void
sn_keeper_socket_path(const char *home, char *buf, size_t len)
{
    snprintf(buf, len, "%s/run/keeper.sock", home);
}

/* HOME/ca/<name>.pem of every CA: the keeper's issuers, read now. */
static void
load_certs(const char *home, struct sn_keeper_conf *kc)
{
    char path[PATH_MAX];
    FILE *f;
    int i;

    for (i = 0; i < SN_CA_COUNT; i++) {
        snprintf(path, sizeof(path), "%s/ca/%s.pem", home,
                 sn_ca_name((enum sn_ca_kind)i));
        if ((f = fopen(path, "r")) == NULL)
            continue;
        kc->ca_certs[i] = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
    }
}

sn_err
sn_keeper_prepare(const struct sn_config *cfg, struct sn_keeper_run *kr)
{
    struct sn_keeper_conf *kc = &kr->kc;
    struct sn_oids oids;
    char path[PATH_MAX];
    size_t i;
    sn_err r;

    memset(kr, 0, sizeof(*kr));
    if (cfg->hsm_softhsm_conf != NULL)
        setenv("SOFTHSM2_CONF", cfg->hsm_softhsm_conf, 1);
    if ((r = sn_oids_init(&oids, cfg->oid_arc)) != SN_OK)
        return r;
    snprintf(kr->policies, sizeof(kr->policies), "%s,%s%s%s", CSBR_TSA_POLICY,
             oids.ca_policy, cfg->tsa_policy_oid ? "," : "",
             cfg->tsa_policy_oid ? cfg->tsa_policy_oid : "");
    if (cfg->nmaps > 0 &&
        (kr->maps = calloc(cfg->nmaps, sizeof(*kr->maps))) == NULL)
        return SN_ERR_NOMEM;
    for (i = 0; i < cfg->nmaps; i++) {
        kr->maps[i].name = cfg->maps[i].subscriber;
        kr->maps[i].label = cfg->maps[i].label;
        kr->maps[i].pin_file = cfg->maps[i].pin_file;
    }
    snprintf(path, sizeof(path), "%s/run", cfg->home);
    mkdir(path, 0700);
    sn_keeper_socket_path(cfg->home, kr->sock, sizeof(kr->sock));
    kc->home = cfg->home;
    kc->module = cfg->hsm_module;
    kc->service_label = cfg->hsm_service_label;
    kc->service_pin_file = cfg->hsm_service_pin_file;
    kc->mapped = cfg->hsm_tokens == SN_TOKENS_MAPPED;
    kc->map = kr->maps;
    kc->nmap = cfg->nmaps;
    kc->pins_sealed =
        strncmp(cfg->database, "postgres", 8) == 0 && !cfg->pins_in_files;
    kc->oid_arc = cfg->oid_arc;
    kc->tsa_policies = kr->policies;
    /* the accuracy the TSA states, and a little for the trip */
    kc->tsa_window = cfg->tsa_accuracy_ms / 1000 + 5;
    kc->log_origin = cfg->log_origin;
    kc->socket_path = kr->sock;
    kc->peer_uid = getuid();
    load_certs(cfg->home, kc);
    return SN_OK;
}

void
sn_keeper_run_cleanup(struct sn_keeper_run *kr)
{
    int i;

    for (i = 0; i < SN_CA_COUNT; i++)
        X509_free(kr->kc.ca_certs[i]);
    free(kr->maps);
    memset(kr, 0, sizeof(*kr));
}

sn_err
sn_keeper_run(const char *home, int ready_fd)
{
    struct sn_keeper_run kr;
    struct sn_config cfg;
    char path[PATH_MAX], err[512] = "";
    sn_err r;

    memset(&cfg, 0, sizeof(cfg));
    snprintf(path, sizeof(path), "%s/signetd.conf", home);
    if ((r = sn_config_load(path, home, &cfg, err, sizeof(err))) != SN_OK) {
        sn_error("keeper: %s", err);
        return r;
    }
    if ((r = sn_keeper_prepare(&cfg, &kr)) == SN_OK)
        r = sn_keeper_serve(&kr.kc, ready_fd);
    sn_keeper_run_cleanup(&kr);
    sn_config_cleanup(&cfg);
    return r;
}
