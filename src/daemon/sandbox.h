/*
 * sandbox: what the front end gives up before it reads a byte from the
 * network (issue 20). It runs in a mount namespace of its own in which
 * HOME/hsm (the tokens, the PINs, the keeper's state) is an empty
 * read-only tmpfs, each PIN file configured outside it is /dev/null and
 * signetd.conf (which names the keeper's module) is read-only;
 * it keeps no capability but binding low ports, and cannot gain one
 * (no_new_privs). Started as root with server.user set, it also becomes
 * that user. The keeper, which holds all of it, is another process.
 */
#ifndef SN_SANDBOX_H
#define SN_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

struct sn_sandbox {
    const char *home;
    const char *const *hide; /* files to show as /dev/null (PIN files) */
    size_t nhide;
    const char *readonly; /* a file it may read, not change (the config) */
    uid_t uid;            /* (uid_t)-1: stay */
    gid_t gid;
};

/*
 * server.user: sets sb's uid and gid to user name's and gives it the home
 * (sb->home) but HOME/hsm, which stays the keeper's. Run as root, before
 * the front end starts.
 */
sn_err sn_sandbox_user(const char *name, struct sn_sandbox *sb);

/*
 * Enters it. SN_ERR_STATE if no mount namespace can be had (neither root
 * nor unprivileged user namespaces; logged): the process is as it was and
 * the caller decides whether to go on. Any other error: a step failed
 * half way; the process must not serve.
 */
sn_err sn_sandbox_enter(const struct sn_sandbox *sb);

#endif
