/*
 * supervise: the keeper and the front end as child processes, restarted
 * as the header says.
 */
#define _GNU_SOURCE
#include "daemon/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define KEEPER_READY_MS 120000 /* the module, the service token, CA keys */
#define FRONT_READY_MS 600000  /* a large database's checks at open */
#define RESTART_BURST 5        /* quick deaths in a row before giving up */

struct child {
    pid_t pid;
    int ready_fd; /* read end: one byte once it serves; -1 after */
    time_t started;
    unsigned quick_deaths;
};

/* In the child: dies with the supervisor, whichever way it goes. */
static void
child_setup(pid_t parent, const char *name)
{
    sigset_t none;

    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        _exit(1);
    prctl(PR_SET_NAME, name, 0, 0, 0);
    sigemptyset(&none);
    /* The keeper takes SIGTERM's default action; the front end blocks
     * and sigwaits for it itself. */
    if (strcmp(name, "signetd-keeper") == 0)
        sigprocmask(SIG_SETMASK, &none, NULL);
}

static int
start_keeper(const struct sn_keeper_conf *kc, struct child *c)
{
    pid_t parent = getpid();
    int p[2];

    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    if ((c->pid = fork()) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (c->pid == 0) {
        close(p[0]);
        child_setup(parent, "signetd-keeper");
        _exit(sn_keeper_serve(kc, p[1]) == SN_OK ? 0 : 1);
    }
    close(p[1]);
    c->ready_fd = p[0];
    c->started = time(NULL);
    return 0;
}

static int
start_front(const struct sn_sandbox *sb, sn_front_fn front, void *arg,
            struct child *c)
{
    pid_t parent = getpid();
    int p[2];
    sn_err r;

    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    if ((c->pid = fork()) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (c->pid == 0) {
        close(p[0]);
        child_setup(parent, "signetd-front");
        /* Before it reads its configuration or a byte from the network. */
        r = sn_sandbox_enter(sb);
        if (r != SN_OK && r != SN_ERR_STATE)
            _exit(1);
        _exit(front(arg, p[1]));
    }
    close(p[1]);
    c->ready_fd = p[0];
    c->started = time(NULL);
    return 0;
}

/* Waits for c's ready byte: 0; -1 if it exited first, -2 if it took
 * too long. */
static int
wait_ready(struct child *c, int ms)
{
    struct pollfd pfd = {c->ready_fd, POLLIN, 0};
    char b;
    int n;

    do
        n = poll(&pfd, 1, ms);
    while (n < 0 && errno == EINTR);
    n = n == 0 ? -2 : n == 1 && read(c->ready_fd, &b, 1) == 1 ? 0 : -1;
    close(c->ready_fd);
    c->ready_fd = -1;
    return n;
}

static int
status_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
stop_child(struct child *c)
{
    int st, i;

    if (c->pid <= 0)
        return;
    kill(c->pid, SIGTERM);
    for (i = 0; i < 100; i++) {
        if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
            c->pid = 0;
            return;
        }
        usleep(50000);
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, &st, 0);
    c->pid = 0;
}

/* A child that keeps dying right after its start is not restarted for
 * ever. */
static int
too_quick(struct child *c)
{
    if (time(NULL) - c->started < 2)
        c->quick_deaths++;
    else
        c->quick_deaths = 0;
    return c->quick_deaths >= RESTART_BURST;
}

static int
restart_keeper(const struct sn_keeper_conf *kc, struct child *k)
{
    if (too_quick(k)) {
        sn_error("supervisor: the keeper keeps dying; giving up");
        return -1;
    }
    if (k->quick_deaths > 0)
        usleep(200000u * k->quick_deaths);
    if (start_keeper(kc, k) != 0)
        return -1;
    if (wait_ready(k, KEEPER_READY_MS) != 0) {
        /* hung, or dead already: either way its exit is reaped next and
         * it is started again (too_quick counts) */
        sn_error("supervisor: the keeper did not come back");
        kill(k->pid, SIGKILL);
        return 0;
    }
    sn_info("supervisor: the keeper is back (pid %ld)", (long)k->pid);
    return 0;
}

int
sn_supervise(const struct sn_keeper_conf *kc, const struct sn_sandbox *sb,
             sn_front_fn front, void *arg)
{
    struct child k = {0, -1, 0, 0}, f = {0, -1, 0, 0};
    sigset_t set;
    pid_t pid;
    int sig, st, n, stopping = 0, failed = 0, rc = 1;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (start_keeper(kc, &k) != 0 || wait_ready(&k, KEEPER_READY_MS) != 0) {
        sn_error("serve: the keeper did not start (its log is above)");
        goto out;
    }
    if (start_front(sb, front, arg, &f) != 0)
        goto out;
    if ((n = wait_ready(&f, FRONT_READY_MS)) != 0) {
        /* its own error is in the log; its status is ours (one that did
         * not get ready in time is stopped) */
        if (n == -2)
            kill(f.pid, SIGKILL);
        if (waitpid(f.pid, &st, 0) == f.pid)
            rc = n == -2 ? 1 : status_code(st);
        f.pid = 0;
        goto out;
    }
    for (;;) {
        if ((sig = sigwaitinfo(&set, NULL)) < 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT) {
            stopping = 1;
            if (f.pid > 0)
                kill(f.pid, sig);
            continue;
        }
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            if (pid == f.pid) {
                f.pid = 0;
                if (stopping || WIFEXITED(st)) {
                    rc = failed ? 1 : status_code(st);
                    goto out;
                }
                sn_error("supervisor: the front end died (signal %d); "
                         "starting it again",
                         WTERMSIG(st));
                if (too_quick(&f) || start_front(sb, front, arg, &f) != 0 ||
                    wait_ready(&f, FRONT_READY_MS) != 0)
                    goto out;
            } else if (pid == k.pid) {
                k.pid = 0;
                if (stopping)
                    continue;
                sn_error("supervisor: the keeper exited (%s %d); starting it "
                         "again",
                         WIFEXITED(st) ? "status" : "signal",
                         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
                if (restart_keeper(kc, &k) != 0) {
                    /* the service ends, with a failure status */
                    stopping = 1;
                    failed = 1;
                    if (f.pid > 0)
                        kill(f.pid, SIGTERM);
                }
            }
        }
    }
out:
    stop_child(&f);
    stop_child(&k);
    return rc;
}
