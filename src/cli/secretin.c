/*
 * secretin: secrets from a terminal (echo off, restored even if a signal
 * ends the program meanwhile), a pipe or a file. Bytes are read one at a
 * time with read(2) so that no stdio buffer keeps a copy of a secret and
 * a second line stays in the pipe for the next read.
 */
#include "cli/secretin.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* The signals that restore the terminal before they take effect. */
static const int caught[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
#define NCAUGHT (sizeof(caught) / sizeof(caught[0]))

static struct termios saved_tio;
static struct sigaction saved_act[NCAUGHT];
static volatile sig_atomic_t echo_off;

static void
on_signal(int sig)
{
    size_t i;

    if (echo_off)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
    echo_off = 0;
    for (i = 0; i < NCAUGHT; i++)
        if (caught[i] == sig)
            sigaction(sig, &saved_act[i], NULL);
    raise(sig);
}

static int
echo_disable(void)
{
    struct termios t;
    struct sigaction sa;
    size_t i;

    if (tcgetattr(STDIN_FILENO, &saved_tio) != 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < NCAUGHT; i++)
        sigaction(caught[i], &sa, &saved_act[i]);
    t = saved_tio;
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
    echo_off = 1;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) != 0) {
        echo_off = 0;
        for (i = 0; i < NCAUGHT; i++)
            sigaction(caught[i], &saved_act[i], NULL);
        return -1;
    }
    return 0;
}

static void
echo_restore(void)
{
    size_t i;

    if (!echo_off)
        return;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
    echo_off = 0;
    for (i = 0; i < NCAUGHT; i++)
        sigaction(caught[i], &saved_act[i], NULL);
}

/* One line from fd, byte by byte; see sn_secretin_prompt for results. */
static sn_err
read_line(int fd, char *buf, size_t len)
{
    size_t n = 0;
    int any = 0, over = 0, nul = 0;
    ssize_t got;
    char c;

    for (;;) {
        got = read(fd, &c, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return SN_ERR_IO;
        if (got == 0 || c == '\n')
            break;
        any = 1;
        if (c == '\0')
            nul = 1;
        if (n + 1 < len)
            buf[n++] = c;
        else
            over = 1;
    }
    c = 0;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (!any && got == 0)
        return SN_ERR_NOT_FOUND;
    if (over || nul) {
        OPENSSL_cleanse(buf, len);
        return over ? SN_ERR_LIMIT : SN_ERR_INVALID;
    }
    return SN_OK;
}

int
sn_secretin_tty(void)
{
    return isatty(STDIN_FILENO);
}

sn_err
sn_secretin_prompt(const char *prompt, char *buf, size_t len)
{
    int tty = sn_secretin_tty();
    sn_err r;

    if (len == 0)
        return SN_ERR_LIMIT;
    buf[0] = '\0';
    if (tty) {
        fputs(prompt, stderr);
        fflush(stderr);
        if (echo_disable() != 0)
            return SN_ERR_IO;
    }
    r = read_line(STDIN_FILENO, buf, len);
    if (tty) {
        echo_restore();
        fputc('\n', stderr);
    }
    return r;
}

sn_err
sn_secretin_file(const char *path, const char *prompt, char *buf, size_t len)
{
    char extra;
    ssize_t got;
    sn_err r;
    int fd;

    if (strcmp(path, "-") == 0)
        return sn_secretin_prompt(prompt, buf, len);
    if (len == 0)
        return SN_ERR_LIMIT;
    buf[0] = '\0';
    /* Any readable file: a regular one, or a pipe (<(pass show x)). */
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? SN_ERR_NOT_FOUND : SN_ERR_IO;
    r = read_line(fd, buf, len);
    /* Nothing may follow the one line. */
    if (r == SN_OK) {
        while ((got = read(fd, &extra, 1)) < 0 && errno == EINTR)
            ;
        if (got != 0) {
            OPENSSL_cleanse(buf, len);
            r = got < 0 ? SN_ERR_IO : SN_ERR_INVALID;
        }
        extra = 0;
    }
    close(fd);
    return r;
}
