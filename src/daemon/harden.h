/*
 * harden: the process-wide protections signetd takes before it reads its
 * configuration or touches a file or a key. The process holds HSM PINs,
 * the TLS private key and (with SoftHSM2) subscribers' keys in memory, so
 * it leaves no core and lets no other process of its uid read its memory;
 * what it writes is for its own user only. No input: only the kernel's
 * limits are read.
 */
#ifndef SN_HARDEN_H
#define SN_HARDEN_H

#include "common/err.h"

/*
 * Not dumpable (PR_SET_DUMPABLE 0: no core, and /proc/PID/mem, environ
 * and ptrace closed to processes of the same uid), RLIMIT_CORE 0, umask
 * 077, and the RLIMIT_NOFILE soft limit raised to the hard limit (each
 * connection holds a descriptor; the value is logged). Fails if one of
 * the first three cannot be set; a descriptor limit left low is a warning.
 */
sn_err sn_harden_process(void);

#endif
