/*
 * ratelimit: token buckets and a bounded table of them by client address
 * (see ratelimit.h). Keys come from the OS (numeric addresses) but are
 * still bounded before use.
 */
#include "http/ratelimit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS ((size_t)1 << 20)

struct slot {
    char key[SN_RL_KEY_MAX + 1];
    struct sn_bucket b;
    size_t next; /* in its hash chain; NONE ends it */
    int used;
    int ref; /* the clock's "recently used" bit */
};

#define NONE SIZE_MAX

struct sn_ratelimit {
    double rate, burst;
    struct slot *slots;
    size_t nslots, nused, hand;
    size_t *heads; /* hash chains */
    size_t nheads; /* a power of two */
};

/* Refills b up to now; a clock that went back refills nothing. */
static void
refill(struct sn_bucket *b, double now)
{
    if (now > b->last) {
        b->tokens += (now - b->last) * b->rate;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last = now;
    }
}

void
sn_bucket_init(struct sn_bucket *b, double rate, double burst, double now)
{
    b->rate = rate > 0 ? rate : 1e-9;
    b->burst = burst >= 1 ? burst : 1;
    b->tokens = b->burst;
    b->last = now;
}

int
sn_bucket_take(struct sn_bucket *b, double now, double *wait)
{
    *wait = 0;
    refill(b, now);
    /* Not exactly 1: (100.1 - 100.0) * 10 is 0.99999... in doubles. */
    if (b->tokens >= 1 - 1e-9) {
        b->tokens -= 1;
        return 1;
    }
    *wait = (1 - b->tokens) / b->rate;
    return 0;
}

void
sn_bucket_give(struct sn_bucket *b)
{
    b->tokens += 1;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
}

/* FNV-1a of the (already bounded) key. */
static size_t
hash(const char *key)
{
    uint32_t h = 2166136261u;

    for (; *key != '\0'; key++)
        h = (h ^ (unsigned char)*key) * 16777619u;
    return h;
}

sn_err
sn_ratelimit_new(double rate, double burst, size_t slots,
                 struct sn_ratelimit **out)
{
    struct sn_ratelimit *rl = NULL;
    size_t i;
    sn_err r = SN_ERR_NOMEM;

    *out = NULL;
    if (slots == 0 || slots > MAX_SLOTS || !(rate > 0))
        return SN_ERR_INVALID;
    if ((rl = calloc(1, sizeof(*rl))) == NULL)
        goto out;
    rl->rate = rate;
    rl->burst = burst;
    rl->nslots = slots;
    for (rl->nheads = 1; rl->nheads < slots; rl->nheads <<= 1)
        ;
    if ((rl->slots = calloc(slots, sizeof(*rl->slots))) == NULL ||
        (rl->heads = calloc(rl->nheads, sizeof(*rl->heads))) == NULL)
        goto out;
    for (i = 0; i < rl->nheads; i++)
        rl->heads[i] = NONE;
    *out = rl;
    rl = NULL;
    r = SN_OK;
out:
    sn_ratelimit_free(rl);
    return r;
}

void
sn_ratelimit_free(struct sn_ratelimit *rl)
{
    if (rl == NULL)
        return;
    free(rl->slots);
    free(rl->heads);
    free(rl);
}

size_t
sn_ratelimit_count(const struct sn_ratelimit *rl)
{
    return rl->nused;
}

static void
unlink_slot(struct sn_ratelimit *rl, size_t i)
{
    size_t *p = &rl->heads[hash(rl->slots[i].key) & (rl->nheads - 1)];

    while (*p != i)
        p = &rl->slots[*p].next;
    *p = rl->slots[i].next;
    rl->slots[i].used = 0;
    rl->nused--;
}

/*
 * A slot for a new key: a free one, else (clock sweep, at most two turns)
 * one whose bucket is full again at now, or the first not used since the
 * hand last passed it.
 */
static size_t
victim(struct sn_ratelimit *rl, double now)
{
    struct slot *s;
    size_t n;

    if (rl->nused < rl->nslots)
        return rl->nused; /* slots fill in order and are never freed */
    for (n = 0; n < 2 * rl->nslots; n++) {
        s = &rl->slots[rl->hand];
        rl->hand = (rl->hand + 1) % rl->nslots;
        refill(&s->b, now);
        if (!s->ref || s->b.tokens >= s->b.burst)
            break;
        s->ref = 0;
    }
    n = (rl->hand + rl->nslots - 1) % rl->nslots;
    unlink_slot(rl, n);
    return n;
}

/* key's slot, made (full) if it is not held. */
static struct slot *
lookup(struct sn_ratelimit *rl, const char *key, double now)
{
    char k[SN_RL_KEY_MAX + 1];
    size_t len = strnlen(key, SN_RL_KEY_MAX), i, h;
    struct slot *s;

    memcpy(k, key, len);
    k[len] = '\0';
    h = hash(k) & (rl->nheads - 1);
    for (i = rl->heads[h]; i != NONE; i = rl->slots[i].next)
        if (strcmp(rl->slots[i].key, k) == 0)
            return &rl->slots[i];
    i = victim(rl, now);
    s = &rl->slots[i];
    memcpy(s->key, k, len + 1);
    sn_bucket_init(&s->b, rl->rate, rl->burst, now);
    s->used = 1;
    s->ref = 0;
    s->next = rl->heads[h];
    rl->heads[h] = i;
    rl->nused++;
    return s;
}

int
sn_ratelimit_take(struct sn_ratelimit *rl, const char *key, double now,
                  double *wait)
{
    struct slot *s = lookup(rl, key, now);

    s->ref = 1;
    return sn_bucket_take(&s->b, now, wait);
}
