/*
 * loginguard: failed logins per client address (issue 17, NetSec 2.2.1.5
 * brute-force protection). An address with LOGINGUARD_MAX failures within
 * LOGINGUARD_WINDOW seconds waits LOGINGUARD_LOCK seconds before its next
 * login is tried. Kept in this process's memory: per account the lock is
 * in the database and holds on every node; per address it is per node.
 * An IPv6 client counts by its /64.
 */
#ifndef SN_LOGINGUARD_H
#define SN_LOGINGUARD_H

#include <time.h>

#define LOGINGUARD_MAX 20
#define LOGINGUARD_WINDOW 600
#define LOGINGUARD_LOCK 600

/* Seconds the address must still wait (0: none). */
time_t sn_loginguard_wait(const char *addr, time_t now);
/* Counts a failed login from the address. */
void sn_loginguard_failed(const char *addr, time_t now);

#endif
