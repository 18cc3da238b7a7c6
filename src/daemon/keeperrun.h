/*
 * keeperrun: starting the keeper (keeper/keeper.h) from a home.
 */
#ifndef SN_KEEPERRUN_H
#define SN_KEEPERRUN_H

#include <stddef.h>

#include "common/err.h"

/* HOME/run/keeper.sock */
void sn_keeper_socket_path(const char *home, char *buf, size_t len);
/* Reads HOME/signetd.conf and serves as the keeper (returns on failure). */
sn_err sn_keeper_run(const char *home, int ready_fd);

#endif
