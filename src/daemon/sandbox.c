/*
 * sandbox: a private mount namespace (a user namespace too when not
 * root), HOME/hsm hidden, capabilities dropped, no_new_privs.
 */
#define _GNU_SOURCE
#include "daemon/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"

static int
write_file(const char *path, const char *text)
{
    int fd, ok;

    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
        return -1;
    ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
    close(fd);
    return ok ? 0 : -1;
}

/* A mount namespace of our own; as a user, inside a user namespace that
 * maps our ids to themselves. */
static sn_err
new_namespace(void)
{
    char map[64];
    uid_t uid = geteuid();
    gid_t gid = getegid();
    int ok;

    if (uid == 0)
        return unshare(CLONE_NEWNS) == 0 ? SN_OK : SN_ERR_STATE;
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
        return SN_ERR_STATE;
    /* /proc/self's files are root's while the process is not dumpable (as
     * harden.c made it), and the maps could not be written: dumpable for
     * these three writes only (sn_sandbox_enter clears it again before it
     * returns; nothing secret is held yet). */
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0)
        return SN_ERR_STATE;
    snprintf(map, sizeof(map), "%lu %lu 1\n", (unsigned long)uid,
             (unsigned long)uid);
    ok = write_file("/proc/self/uid_map", map) == 0 &&
         write_file("/proc/self/setgroups", "deny\n") == 0;
    snprintf(map, sizeof(map), "%lu %lu 1\n", (unsigned long)gid,
             (unsigned long)gid);
    ok = ok && write_file("/proc/self/gid_map", map) == 0;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        ok = 0;
    return ok ? SN_OK : SN_ERR_STATE;
}

/* The bounding set: nothing but CAP_NET_BIND_SERVICE (a listener on a
 * low port) can ever be held again. Before a change of uid: it needs
 * CAP_SETPCAP. */
static sn_err
drop_bounding(void)
{
    int cap;

    for (cap = 0; cap <= 63; cap++)
        if (cap != CAP_NET_BIND_SERVICE &&
            prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            return SN_ERR_STATE;
    return SN_OK;
}

/* Every capability gone from the process's sets but, as root,
 * CAP_NET_BIND_SERVICE; no_new_privs. */
static sn_err
drop_caps(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];

    struct __user_cap_data_struct now[2];

    memset(d, 0, sizeof(d));
    if (geteuid() == 0) {
        d[0].effective = d[0].permitted = 1u << CAP_NET_BIND_SERVICE;
    }
    /* Nothing to drop (a user without capabilities, as under the shipped
     * systemd unit, whose system call filter refuses capset): no call. */
    memset(now, 0, sizeof(now));
    if (syscall(SYS_capget, &h, now) != 0)
        return SN_ERR_STATE;
    if (memcmp(now, d, sizeof(d)) != 0 && syscall(SYS_capset, &h, d) != 0)
        return SN_ERR_STATE;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return SN_ERR_STATE;
    return SN_OK;
}

static uid_t give_uid;
static gid_t give_gid;
static const struct sn_sandbox *give_sb;

/* What stays the keeper's (root's): HOME/hsm, HOME/run (its socket's
 * directory), signetd.conf (which names its module) and the PIN files. */
static int
kept(const char *path)
{
    char p[PATH_MAX];
    size_t i;

    snprintf(p, sizeof(p), "%s/hsm", give_sb->home);
    if (strcmp(path, p) == 0)
        return 1;
    snprintf(p, sizeof(p), "%s/run", give_sb->home);
    if (strcmp(path, p) == 0)
        return 1;
    if (give_sb->readonly != NULL && strcmp(path, give_sb->readonly) == 0)
        return 1;
    for (i = 0; i < give_sb->nhide; i++)
        if (strcmp(path, give_sb->hide[i]) == 0)
            return 1;
    return 0;
}

static int
give_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (kept(path))
        return type == FTW_D ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
    if (type != FTW_SL && lchown(path, give_uid, give_gid) != 0)
        sn_warn("supervisor: cannot give %s to the front end's user: %s", path,
                strerror(errno));
    return FTW_CONTINUE;
}

sn_err
sn_sandbox_user(const char *name, struct sn_sandbox *sb)
{
    struct passwd *pw;

    if ((pw = getpwnam(name)) == NULL) {
        sn_error("server.user: no user %s", name);
        return SN_ERR_CONFIG;
    }
    if (pw->pw_uid == 0) {
        sn_error("server.user: %s is root", name);
        return SN_ERR_CONFIG;
    }
    sb->uid = pw->pw_uid;
    sb->gid = pw->pw_gid;
    /* the home but what stays the keeper's (kept): the database, TLS
     * files, CA files */
    give_uid = pw->pw_uid;
    give_gid = pw->pw_gid;
    give_sb = sb;
    /* the configuration stays root's, readable by the user's group */
    if ((sb->readonly != NULL && (chown(sb->readonly, 0, pw->pw_gid) != 0 ||
                                  chmod(sb->readonly, 0640) != 0)) ||
        nftw(sb->home, give_one, 16, FTW_PHYS | FTW_ACTIONRETVAL) != 0) {
        sn_error("server.user: cannot give the home to %s", name);
        return SN_ERR_IO;
    }
    return SN_OK;
}

/* The mount namespace's part: HOME/hsm hidden, PIN files /dev/null,
 * the configuration read-only. */
static sn_err
hide(const struct sn_sandbox *sb, const char *hsm)
{
    struct statvfs vfs;
    unsigned long keep = 0;
    size_t i;

    /* Nothing mounted here reaches the host's namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", hsm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=4k,mode=0500") != 0 ||
        mount(NULL, hsm, NULL,
              MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              NULL) != 0) {
        sn_error("front end: cannot hide %s: %s", hsm, strerror(errno));
        return SN_ERR_INTERNAL;
    }
    for (i = 0; i < sb->nhide; i++)
        if (access(sb->hide[i], F_OK) == 0 &&
            mount("/dev/null", sb->hide[i], NULL, MS_BIND, NULL) != 0) {
            sn_error("front end: cannot hide %s: %s", sb->hide[i],
                     strerror(errno));
            return SN_ERR_INTERNAL;
        }
    if (sb->readonly == NULL)
        return SN_OK;
    /* A remount keeps the flags the file system has (a user namespace
     * may not drop them: nosuid, nodev, noexec, noatime). */
    if (statvfs(sb->readonly, &vfs) == 0) {
        keep |= (vfs.f_flag & ST_NOSUID) ? MS_NOSUID : 0;
        keep |= (vfs.f_flag & ST_NODEV) ? MS_NODEV : 0;
        keep |= (vfs.f_flag & ST_NOEXEC) ? MS_NOEXEC : 0;
        keep |= (vfs.f_flag & ST_NOATIME) ? MS_NOATIME : 0;
        keep |= (vfs.f_flag & ST_RELATIME) ? MS_RELATIME : 0;
    }
    if (mount(sb->readonly, sb->readonly, NULL, MS_BIND, NULL) != 0 ||
        mount(NULL, sb->readonly, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep,
              NULL) != 0) {
        sn_error("front end: cannot make %s read-only: %s", sb->readonly,
                 strerror(errno));
        return SN_ERR_INTERNAL;
    }
    return SN_OK;
}

sn_err
sn_sandbox_enter(const struct sn_sandbox *sb)
{
    char hsm[PATH_MAX];
    sn_err ns;

    if (snprintf(hsm, sizeof(hsm), "%s/hsm", sb->home) >= (int)sizeof(hsm))
        return SN_ERR_INVALID;
    if ((ns = new_namespace()) != SN_OK)
        sn_warn("front end: no private mount namespace (%s): it could read "
                "HOME/hsm; run signetd as root (with server.user) or allow "
                "user namespaces",
                strerror(errno));
    else if (hide(sb, hsm) != SN_OK)
        return SN_ERR_INTERNAL;
    /* With or without a namespace: no relative path to where it started,
     * no capability, another user if one is named, no gaining any. */
    if (chdir("/") != 0)
        return SN_ERR_INTERNAL;
    if (drop_bounding() != SN_OK && (ns == SN_OK || geteuid() == 0)) {
        sn_error("front end: cannot drop capabilities: %s", strerror(errno));
        return SN_ERR_INTERNAL;
    }
    if (sb->uid != (uid_t)-1 && geteuid() == 0 &&
        (setgroups(0, NULL) != 0 || setresgid(sb->gid, sb->gid, sb->gid) != 0 ||
         setresuid(sb->uid, sb->uid, sb->uid) != 0)) {
        sn_error("front end: cannot become uid %lu: %s", (unsigned long)sb->uid,
                 strerror(errno));
        return SN_ERR_INTERNAL;
    }
    if (drop_caps() != SN_OK) {
        sn_error("front end: cannot drop capabilities: %s", strerror(errno));
        return SN_ERR_INTERNAL;
    }
    /* setuid and capset may reset it: not dumpable, again. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return SN_ERR_INTERNAL;
    return ns;
}
