/*
 * supervise: `signetd serve` is three processes. The first, which the
 * operator started, only supervises: it starts the keeper (keeper/,
 * which alone holds the HSM), waits until it serves, then starts the
 * front end (the network, the database, everything that parses), in its
 * sandbox. A keeper that dies is started again (the front end answers
 * 503 meanwhile and reconnects by itself); a front end killed by a signal
 * is started again and the keeper is not touched. SIGTERM and SIGINT go
 * to the front end, which finishes what is in flight; then the keeper
 * stops, and the supervisor exits with the front end's status. Both
 * children die with the supervisor (PR_SET_PDEATHSIG).
 */
#ifndef SN_SUPERVISE_H
#define SN_SUPERVISE_H

#include "daemon/sandbox.h"
#include "keeper/keeper.h"

/* The front end's body: serves until SIGTERM/SIGINT (which it finds
 * blocked, for sigwait), writes one byte to ready_fd once it listens.
 * Returns the process's exit status. */
typedef int (*sn_front_fn)(void *arg, int ready_fd);

/* kc: the keeper's configuration, read once (keeperrun.h). */
int sn_supervise(const struct sn_keeper_conf *kc, const struct sn_sandbox *sb,
                 sn_front_fn front, void *arg);

#endif
