/*
 * keeperrun: the keeper's configuration, read from HOME/signetd.conf, and
 * its start (`signetd keeper`, and the supervisor's child).
 */
#include "daemon/keeperrun.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/oids.h"
#include "daemon/config.h"
#include "keeper/keeper.h"

#define CSBR_TSA_POLICY "2.23.140.1.4.2"

void
sn_keeper_socket_path(const char *home, char *buf, size_t len)
{
    snprintf(buf, len, "%s/run/keeper.sock", home);
}

sn_err
sn_keeper_run(const char *home, int ready_fd)
{
    struct sn_config cfg;
    struct sn_keeper_conf kc;
    struct sn_keeper_map *maps = NULL;
    struct sn_oids oids;
    char path[PATH_MAX], sock[PATH_MAX], err[512] = "";
    char policies[3 * (SN_OID_MAX + 1) + 32];
    size_t i;
    sn_err r;

    memset(&cfg, 0, sizeof(cfg));
    snprintf(path, sizeof(path), "%s/signetd.conf", home);
    if ((r = sn_config_load(path, home, &cfg, err, sizeof(err))) != SN_OK) {
        sn_error("keeper: %s", err);
        return r;
    }
    if (cfg.hsm_softhsm_conf != NULL)
        setenv("SOFTHSM2_CONF", cfg.hsm_softhsm_conf, 1);
    if ((r = sn_oids_init(&oids, cfg.oid_arc)) != SN_OK)
        goto out;
    snprintf(policies, sizeof(policies), "%s,%s%s%s", CSBR_TSA_POLICY,
             oids.ca_policy, cfg.tsa_policy_oid ? "," : "",
             cfg.tsa_policy_oid ? cfg.tsa_policy_oid : "");
    r = SN_ERR_NOMEM;
    if (cfg.nmaps > 0 && (maps = calloc(cfg.nmaps, sizeof(*maps))) == NULL)
        goto out;
    for (i = 0; i < cfg.nmaps; i++) {
        maps[i].name = cfg.maps[i].subscriber;
        maps[i].label = cfg.maps[i].label;
        maps[i].pin_file = cfg.maps[i].pin_file;
    }
    snprintf(path, sizeof(path), "%s/run", cfg.home);
    mkdir(path, 0700);
    sn_keeper_socket_path(cfg.home, sock, sizeof(sock));
    memset(&kc, 0, sizeof(kc));
    kc.home = cfg.home;
    kc.module = cfg.hsm_module;
    kc.service_label = cfg.hsm_service_label;
    kc.service_pin_file = cfg.hsm_service_pin_file;
    kc.mapped = cfg.hsm_tokens == SN_TOKENS_MAPPED;
    kc.map = maps;
    kc.nmap = cfg.nmaps;
    kc.pins_sealed =
        strncmp(cfg.database, "postgres", 8) == 0 && !cfg.pins_in_files;
    kc.oid_arc = cfg.oid_arc;
    kc.tsa_policies = policies;
    /* the accuracy the TSA states, and a little for the trip */
    kc.tsa_window = cfg.tsa_accuracy_ms / 1000 + 5;
    kc.log_origin = cfg.log_origin;
    kc.socket_path = sock;
    kc.peer_uid = getuid();
    r = sn_keeper_serve(&kc, ready_fd);
out:
    free(maps);
    sn_config_cleanup(&cfg);
    return r;
}
