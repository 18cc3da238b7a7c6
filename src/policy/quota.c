/*
 * quota: per-key signature counters (see quota.h). A chained hash table
 * under one mutex; each entry keeps the current hour's and day's counts,
 * reset when the clock passes into the next window. The lock is held for
 * a lookup and two additions: the signing path pays that and nothing
 * more.
 */
#include "policy/quota.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define BUCKETS 4096
#define DEFAULT_MAX 1000000

struct entry {
    char key[SN_UUID_LEN];
    int seeded;
    time_t hour, day; /* the windows the counts are for */
    uint64_t in_hour, in_day;
    struct entry *next;
};

struct sn_quota {
    pthread_mutex_t lock;
    struct entry *b[BUCKETS];
    size_t n, max;
};

time_t
sn_quota_hour_start(time_t t)
{
    return t - t % 3600;
}

time_t
sn_quota_day_start(time_t t)
{
    return t - t % 86400;
}

sn_err
sn_quota_new(size_t max, struct sn_quota **out)
{
    struct sn_quota *q;

    *out = NULL;
    if ((q = calloc(1, sizeof(*q))) == NULL)
        return SN_ERR_NOMEM;
    if (pthread_mutex_init(&q->lock, NULL) != 0) {
        free(q);
        return SN_ERR_INTERNAL;
    }
    q->max = max != 0 ? max : DEFAULT_MAX;
    *out = q;
    return SN_OK;
}

void
sn_quota_free(struct sn_quota *q)
{
    struct entry *e, *next;
    size_t i;

    if (q == NULL)
        return;
    for (i = 0; i < BUCKETS; i++)
        for (e = q->b[i]; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static size_t
bucket(const char *key)
{
    uint32_t h = 2166136261u;

    for (; *key != '\0'; key++)
        h = (h ^ (uint8_t)*key) * 16777619u;
    return h % BUCKETS;
}

/* Under the lock: key's entry, made if missing and create is set (NULL
 * when the table is full or memory is out). */
static struct entry *
find(struct sn_quota *q, const char *key, int create)
{
    size_t b = bucket(key);
    struct entry *e;

    for (e = q->b[b]; e != NULL; e = e->next)
        if (strcmp(e->key, key) == 0)
            return e;
    if (!create || q->n >= q->max || (e = calloc(1, sizeof(*e))) == NULL)
        return NULL;
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->next = q->b[b];
    q->b[b] = e;
    q->n++;
    return e;
}

/* Under the lock: the counts of the windows now falls in. */
static void
roll(struct entry *e, time_t now)
{
    if (e->hour != sn_quota_hour_start(now)) {
        e->hour = sn_quota_hour_start(now);
        e->in_hour = 0;
    }
    if (e->day != sn_quota_day_start(now)) {
        e->day = sn_quota_day_start(now);
        e->in_day = 0;
    }
}

int
sn_quota_seeded(struct sn_quota *q, const char *key)
{
    struct entry *e;
    int seeded;

    pthread_mutex_lock(&q->lock);
    e = find(q, key, 0);
    seeded = e != NULL && e->seeded;
    pthread_mutex_unlock(&q->lock);
    return seeded;
}

void
sn_quota_seed(struct sn_quota *q, const char *key, time_t now,
              uint64_t signed_hour, uint64_t signed_day)
{
    struct entry *e;

    pthread_mutex_lock(&q->lock);
    if ((e = find(q, key, 1)) != NULL && !e->seeded) {
        roll(e, now);
        /* Signatures counted here before the seed are this process's own
         * and not yet in the log the seed was read from, or already in it:
         * take the larger, never less than what was counted. */
        if (signed_hour > e->in_hour)
            e->in_hour = signed_hour;
        if (signed_day > e->in_day)
            e->in_day = signed_day;
        e->seeded = 1;
    }
    pthread_mutex_unlock(&q->lock);
}

static unsigned
until(time_t end, time_t now)
{
    return end > now ? (unsigned)(end - now) : 1;
}

enum sn_kp_rule
sn_quota_take(struct sn_quota *q, const char *key, uint64_t per_hour,
              uint64_t per_day, uint64_t n, time_t now, unsigned *retry_after)
{
    enum sn_kp_rule rule = SN_KP_ALLOWED;
    struct entry *e;

    *retry_after = 0;
    if (per_hour == 0 && per_day == 0)
        return SN_KP_ALLOWED;
    pthread_mutex_lock(&q->lock);
    if ((e = find(q, key, 1)) == NULL) {
        /* No room to count: refuse rather than sign uncounted. */
        rule = per_hour != 0 ? SN_KP_QUOTA_HOUR : SN_KP_QUOTA_DAY;
        *retry_after = 60;
        goto out;
    }
    roll(e, now);
    if (per_hour != 0 && (n > per_hour || e->in_hour > per_hour - n)) {
        rule = SN_KP_QUOTA_HOUR;
        *retry_after = until(e->hour + 3600, now);
    } else if (per_day != 0 && (n > per_day || e->in_day > per_day - n)) {
        rule = SN_KP_QUOTA_DAY;
        *retry_after = until(e->day + 86400, now);
    } else {
        e->in_hour += n;
        e->in_day += n;
    }
out:
    pthread_mutex_unlock(&q->lock);
    return rule;
}

void
sn_quota_give(struct sn_quota *q, const char *key, uint64_t n, time_t when)
{
    struct entry *e;

    pthread_mutex_lock(&q->lock);
    if ((e = find(q, key, 0)) != NULL) {
        if (e->hour == sn_quota_hour_start(when))
            e->in_hour = e->in_hour > n ? e->in_hour - n : 0;
        if (e->day == sn_quota_day_start(when))
            e->in_day = e->in_day > n ? e->in_day - n : 0;
    }
    pthread_mutex_unlock(&q->lock);
}
