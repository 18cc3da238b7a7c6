/*
 * ratelimit: token buckets. One bucket (sn_bucket) limits a rate as a
 * whole, e.g. anonymous HSM signatures per second; a table of them
 * (sn_ratelimit) limits each client address on its own. The table has a
 * fixed number of slots: when it is full, the slot of an address whose
 * bucket has refilled (it carries no state) or else the least recently
 * used one (a clock sweep) is taken over, so memory stays bounded whatever
 * the number of addresses. Keys are client addresses from the OS, bounded
 * to SN_RL_KEY_MAX bytes. Pure: no I/O, no locks, no clock of its own (the
 * caller passes a monotonic time in seconds), so it is unit-tested alone;
 * callers serialise access.
 */
#ifndef SN_RATELIMIT_H
#define SN_RATELIMIT_H

#include <stddef.h>

#include "common/err.h"

/* The longest key kept; longer keys are cut (a numeric IPv6 address with
 * a scope is at most 46 + 1 + 16 bytes). */
#define SN_RL_KEY_MAX 63

struct sn_bucket {
    double rate;   /* tokens per second, > 0 */
    double burst;  /* capacity, >= 1 */
    double tokens; /* now */
    double last;   /* time tokens was computed at */
};

/* A full bucket at time now. */
void sn_bucket_init(struct sn_bucket *b, double rate, double burst, double now);
/*
 * Takes one token at time now: 1 if there was one; 0 if not, with *wait
 * the seconds until there is (> 0).
 */
int sn_bucket_take(struct sn_bucket *b, double now, double *wait);
/* Gives back a token taken for work that was not done. */
void sn_bucket_give(struct sn_bucket *b);

struct sn_ratelimit;

/* A table of slots buckets of rate and burst (slots 1..1048576). */
sn_err sn_ratelimit_new(double rate, double burst, size_t slots,
                        struct sn_ratelimit **out);
void sn_ratelimit_free(struct sn_ratelimit *rl);
/* sn_bucket_take on key's bucket (a new key starts full). */
int sn_ratelimit_take(struct sn_ratelimit *rl, const char *key, double now,
                      double *wait);
/* Keys held now (for tests). */
size_t sn_ratelimit_count(const struct sn_ratelimit *rl);

#endif
