/*
 * test_ipc_client: the front end's side of the keeper protocol
 * (src/ipc/client.c) against a fake keeper on a Unix socket, which
 * injects faults the real keeper never makes. The fake reads each request
 * and writes its reply byte by byte (docs/ipc.md's header, written here,
 * not by Signet's builder). Checks: the request carries the asking
 * thread's nice; a reply is taken only with nice 0, a zero reserved byte,
 * no bytes after it and the whole body; a link whose reply was refused is
 * not reused.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipc/client.h"

enum mode {
    REPLY_OK,       /* PING's OK reply */
    REPLY_NICE,     /* the same with nice 3 */
    REPLY_RESERVED, /* the same with byte 7 set */
    REPLY_TRAILING, /* OK, then a byte more */
    REPLY_SHORT,    /* a header that promises 4 body bytes, then close */
    REPLY_VERSION   /* version 2 */
};

static struct {
    pthread_mutex_t lock;
    enum mode mode;
    unsigned requests, connections;
    unsigned last_nice;
    int lfd;
    char dir[64], path[128];
    pthread_t thread;
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int
read_all(int fd, uint8_t *p, size_t n)
{
    ssize_t r;

    while (n > 0) {
        if ((r = read(fd, p, n)) <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void *
serve_one(void *arg)
{
    int fd = (int)(intptr_t)arg;
    uint8_t hdr[8], body[256], rep[16];
    size_t blen, rlen;

    for (;;) {
        if (read_all(fd, hdr, 8) != 0)
            break;
        blen = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
               (size_t)hdr[2] << 8 | hdr[3];
        if (blen > sizeof(body) || read_all(fd, body, blen) != 0)
            break;
        pthread_mutex_lock(&fake.lock);
        fake.requests++;
        fake.last_nice = hdr[6];
        /* PING's OK reply: an empty body, version 1, type 128 */
        memset(rep, 0, sizeof(rep));
        rep[4] = 1;
        rep[5] = 128;
        rlen = 8;
        switch (fake.mode) {
        case REPLY_OK:
            break;
        case REPLY_NICE:
            rep[6] = 3;
            break;
        case REPLY_RESERVED:
            rep[7] = 1;
            break;
        case REPLY_TRAILING:
            rlen = 9;
            break;
        case REPLY_SHORT:
            rep[3] = 4;
            break;
        case REPLY_VERSION:
            rep[4] = 2;
            break;
        }
        pthread_mutex_unlock(&fake.lock);
        if (write(fd, rep, rlen) != (ssize_t)rlen)
            break;
        if (rep[3] == 4)
            break; /* the promised body never comes */
    }
    close(fd);
    return NULL;
}

static void *
accept_loop(void *arg)
{
    pthread_t t;
    int fd;

    (void)arg;
    while ((fd = accept(fake.lfd, NULL, NULL)) >= 0) {
        pthread_mutex_lock(&fake.lock);
        fake.connections++;
        pthread_mutex_unlock(&fake.lock);
        if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)fd) != 0)
            close(fd);
        else
            pthread_detach(t);
    }
    return NULL;
}

static int
setup(void **state)
{
    struct sockaddr_un sa;

    (void)state;
    snprintf(fake.dir, sizeof(fake.dir), "/tmp/sn-ipc-client.XXXXXX");
    if (mkdtemp(fake.dir) == NULL)
        return -1;
    snprintf(fake.path, sizeof(fake.path), "%s/keeper.sock", fake.dir);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, fake.path, strlen(fake.path) + 1);
    if ((fake.lfd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
        bind(fake.lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fake.lfd, 16) != 0)
        return -1;
    return pthread_create(&fake.thread, NULL, accept_loop, NULL) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    shutdown(fake.lfd, SHUT_RDWR);
    close(fake.lfd);
    pthread_join(fake.thread, NULL);
    unlink(fake.path);
    rmdir(fake.dir);
    return 0;
}

static void
set_mode(enum mode m)
{
    pthread_mutex_lock(&fake.lock);
    fake.mode = m;
    pthread_mutex_unlock(&fake.lock);
}

/* A counter of the fake's, read under its lock. */
static unsigned
locked(const unsigned *field)
{
    unsigned n;

    pthread_mutex_lock(&fake.lock);
    n = *field;
    pthread_mutex_unlock(&fake.lock);
    return n;
}

#define connections() locked(&fake.connections)
#define last_nice() locked(&fake.last_nice)

static void
test_nice_sent(void **state)
{
    struct sn_keeper *k;

    (void)state;
    assert_int_equal(sn_keeper_new(fake.path, &k), SN_OK);
    set_mode(REPLY_OK);
    sn_keeper_thread_nice(7);
    assert_int_equal(sn_keeper_ping(k), SN_OK);
    assert_int_equal(last_nice(), 7);
    /* past the maximum: clamped to 19, never a byte the keeper refuses */
    sn_keeper_thread_nice(40);
    assert_int_equal(sn_keeper_ping(k), SN_OK);
    assert_int_equal(last_nice(), 19);
    sn_keeper_thread_nice(-1);
    assert_int_equal(sn_keeper_ping(k), SN_OK);
    assert_int_equal(last_nice(), 0);
    sn_keeper_free(k);
}

static void
test_links_pooled_by_nice(void **state)
{
    struct sn_keeper *k;
    unsigned before;

    (void)state;
    assert_int_equal(sn_keeper_new(fake.path, &k), SN_OK);
    set_mode(REPLY_OK);
    before = connections();
    sn_keeper_thread_nice(5);
    assert_int_equal(sn_keeper_ping(k), SN_OK);
    assert_int_equal(sn_keeper_ping(k), SN_OK);
    /* the same nice: the link is reused */
    assert_int_equal(connections(), before + 1);
    sn_keeper_thread_nice(0);
    assert_int_equal(sn_keeper_ping(k), SN_OK);
    /* another nice: another link */
    assert_int_equal(connections(), before + 2);
    sn_keeper_thread_nice(-1);
    sn_keeper_free(k);
}

/* Each bad reply fails the call, and the link is not used again: the next
 * good call dials a new one. */
static void
test_bad_replies(void **state)
{
    static const enum mode bad[] = {REPLY_NICE, REPLY_RESERVED, REPLY_TRAILING,
                                    REPLY_SHORT, REPLY_VERSION};
    struct sn_keeper *k;
    unsigned before;

    (void)state;
    assert_int_equal(sn_keeper_new(fake.path, &k), SN_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        set_mode(REPLY_OK);
        assert_int_equal(sn_keeper_ping(k), SN_OK);
        before = connections();
        set_mode(bad[i]);
        if (sn_keeper_ping(k) != SN_ERR_HSM)
            fail_msg("bad reply %zu was taken", i);
        set_mode(REPLY_OK);
        assert_int_equal(sn_keeper_ping(k), SN_OK);
        assert_true(connections() > before);
    }
    sn_keeper_free(k);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nice_sent),
        cmocka_unit_test(test_links_pooled_by_nice),
        cmocka_unit_test(test_bad_replies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
