/*
 * keeperrun: the keeper's configuration (keeper/keeper.h), taken from
 * signetd.conf and HOME/ca once, by the supervisor, before any front end
 * exists: a keeper it starts again later uses this copy, never a file a
 * front end could have changed since.
 */
#ifndef SN_KEEPERRUN_H
#define SN_KEEPERRUN_H

#include <limits.h>
#include <stddef.h>

#include "common/err.h"
#include "common/oids.h"
#include "daemon/config.h"
#include "keeper/keeper.h"

struct sn_keeper_run {
    struct sn_keeper_conf kc; /* its strings are cfg's: cfg outlives it */
    struct sn_keeper_map *maps;
    char policies[3 * (SN_OID_MAX + 1) + 32];
    char sock[PATH_MAX];
};

/* HOME/run/keeper.sock */
void sn_keeper_socket_path(const char *home, char *buf, size_t len);
/* Fills kr from cfg (and HOME/ca's certificates); makes HOME/run. */
sn_err sn_keeper_prepare(const struct sn_config *cfg, struct sn_keeper_run *kr);
void sn_keeper_run_cleanup(struct sn_keeper_run *kr);
/* `signetd keeper`: reads HOME/signetd.conf and serves as the keeper
 * (returns on failure). */
sn_err sn_keeper_run(const char *home, int ready_fd);

#endif
