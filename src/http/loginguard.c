/*
 * loginguard: a fixed table of recent failures by client address (see
 * loginguard.h). Bounded and hard to game: addresses are placed by a
 * keyed hash (SipHash, a random key per process), so nobody can aim at a
 * slot; each set holds a few addresses, and a newcomer takes the one
 * counting the least recent failures that is not locked. When every
 * address of a set is locked, a newcomer waits as they do: a flood of
 * addresses cannot wash a count out or slip past a lock. IPv6 addresses
 * count by their /64, which one client holds whole.
 */
#include "http/loginguard.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define SETS 1024
#define WAYS 4

struct slot {
    char addr[64]; /* "" free */
    unsigned fails;
    time_t since;        /* the window's start */
    time_t locked_until; /* 0: not locked */
};

static struct slot slots[SETS][WAYS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t key[16];
static int keyed;

/* The address as counted: an IPv6 address by its /64. */
static void
counted(const char *addr, char out[64])
{
    struct in6_addr a6;

    snprintf(out, 64, "%s", addr);
    if (strchr(addr, ':') != NULL && inet_pton(AF_INET6, addr, &a6) == 1) {
        memset(a6.s6_addr + 8, 0, 8);
        if (inet_ntop(AF_INET6, &a6, out, 64) == NULL)
            snprintf(out, 64, "%s", addr);
    }
}

/* The set of an address; a fixed set (0) if hashing fails. Called with
 * the lock held. */
static struct slot *
set_of(const char *addr)
{
    OSSL_PARAM params[2];
    EVP_MAC *mac = NULL;
    EVP_MAC_CTX *ctx = NULL;
    uint8_t out[8];
    size_t outlen = 0;
    uint64_t h = 0;
    size_t i;

    if (!keyed && RAND_bytes(key, sizeof(key)) == 1)
        keyed = 1;
    params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outlen);
    params[1] = OSSL_PARAM_construct_end();
    outlen = sizeof(out);
    if ((mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL)) != NULL &&
        (ctx = EVP_MAC_CTX_new(mac)) != NULL &&
        EVP_MAC_init(ctx, key, sizeof(key), params) == 1 &&
        EVP_MAC_update(ctx, (const uint8_t *)addr, strlen(addr)) == 1 &&
        EVP_MAC_final(ctx, out, &outlen, sizeof(out)) == 1)
        for (i = 0; i < outlen; i++)
            h = (h << 8) | out[i];
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return slots[h % SETS];
}

/* The address's slot in set, or NULL. */
static struct slot *
find(struct slot *set, const char *addr)
{
    size_t i;

    for (i = 0; i < WAYS; i++)
        if (strcmp(set[i].addr, addr) == 0)
            return &set[i];
    return NULL;
}

time_t
sn_loginguard_wait(const char *addr, time_t now)
{
    struct slot *set, *s;
    char a[64];
    time_t wait = 0;
    size_t i;

    counted(addr, a);
    pthread_mutex_lock(&lock);
    set = set_of(a);
    if ((s = find(set, a)) != NULL) {
        if (s->locked_until > now)
            wait = s->locked_until - now;
    } else {
        /* A stranger to a set whose every address is locked waits for
         * the first of them. */
        for (i = 0; i < WAYS; i++) {
            if (set[i].addr[0] == '\0' || set[i].locked_until <= now) {
                wait = 0;
                break;
            }
            if (wait == 0 || set[i].locked_until - now < wait)
                wait = set[i].locked_until - now;
        }
    }
    pthread_mutex_unlock(&lock);
    return wait;
}

void
sn_loginguard_failed(const char *addr, time_t now)
{
    struct slot *set, *s, *victim = NULL;
    char a[64];
    size_t i;

    counted(addr, a);
    pthread_mutex_lock(&lock);
    set = set_of(a);
    if ((s = find(set, a)) == NULL) {
        for (i = 0; i < WAYS; i++) {
            if (set[i].locked_until > now)
                continue;
            if (victim == NULL || set[i].addr[0] == '\0' ||
                (victim->addr[0] != '\0' && set[i].since < victim->since))
                victim = &set[i];
        }
        if (victim == NULL)
            goto out; /* all locked: sn_loginguard_wait holds it off */
        s = victim;
        memset(s, 0, sizeof(*s));
        snprintf(s->addr, sizeof(s->addr), "%s", a);
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
