/*
 * loginguard: a fixed table of recent failures by client address (see
 * loginguard.h). Bounded: an address that hashes onto a slot held by
 * another replaces it unless that one is locked, so a flood of new
 * addresses cannot lift a lock (it can only reset counts still below
 * the limit; the account's own lock, in the database, still holds).
 */
#include "http/loginguard.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SLOTS 4096

struct slot {
    char addr[64];
    unsigned fails;
    time_t since;        /* the window's start */
    time_t locked_until; /* 0: not locked */
};

static struct slot slots[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct slot *
find(const char *addr)
{
    uint32_t h = 2166136261u;
    const char *p;

    for (p = addr; *p != '\0'; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return &slots[h % SLOTS];
}

time_t
sn_loginguard_wait(const char *addr, time_t now)
{
    struct slot *s;
    time_t wait = 0;

    pthread_mutex_lock(&lock);
    s = find(addr);
    if (strcmp(s->addr, addr) == 0 && s->locked_until > now)
        wait = s->locked_until - now;
    pthread_mutex_unlock(&lock);
    return wait;
}

void
sn_loginguard_failed(const char *addr, time_t now)
{
    struct slot *s;

    pthread_mutex_lock(&lock);
    s = find(addr);
    if (strcmp(s->addr, addr) != 0) {
        if (s->addr[0] != '\0' && s->locked_until > now)
            goto out; /* held by another address, locked */
        memset(s, 0, sizeof(*s));
        snprintf(s->addr, sizeof(s->addr), "%s", addr);
        s->since = now;
    }
    if (now - s->since >= LOGINGUARD_WINDOW) {
        s->fails = 0;
        s->since = now;
    }
    if (++s->fails >= LOGINGUARD_MAX) {
        s->locked_until = now + LOGINGUARD_LOCK;
        s->fails = 0;
        s->since = now;
    }
out:
    pthread_mutex_unlock(&lock);
}
