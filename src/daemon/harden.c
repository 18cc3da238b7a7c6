/*
 * harden: process protections taken first thing in main() (no core, not
 * ptrace-able, owner-only files, descriptor limit). No untrusted input.
 */
#include "daemon/harden.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "common/log.h"

/* Raises the descriptor soft limit as far as the hard limit allows. */
static void
raise_nofile(void)
{
    struct rlimit rl;
    rlim_t was;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        sn_warn("harden: getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return;
    }
    was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (rl.rlim_cur != was && setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        sn_warn("harden: cannot raise the descriptor limit from %llu to "
                "%llu: %s",
                (unsigned long long)was, (unsigned long long)rl.rlim_max,
                strerror(errno));
        return;
    }
    sn_info("harden: descriptor limit %llu (was %llu)",
            (unsigned long long)rl.rlim_cur, (unsigned long long)was);
}

sn_err
sn_harden_process(void)
{
    struct rlimit none = {0, 0};

    /* Files and directories are created for the owner only, whatever
     * mode a call site asks for or the caller's umask was. */
    umask(077);
    /* The hard limit too: nothing later in the process (a library) can
     * raise the soft one again without CAP_SYS_RESOURCE. */
    if (setrlimit(RLIMIT_CORE, &none) != 0) {
        sn_error("harden: setrlimit(RLIMIT_CORE, 0): %s", strerror(errno));
        return SN_ERR_INTERNAL;
    }
    /* Also closes ptrace and /proc/PID/mem to processes of the same uid.
     * An execve() would reset it; signetd execs nothing. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        sn_error("harden: prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
        return SN_ERR_INTERNAL;
    }
    raise_nofile();
    return SN_OK;
}
