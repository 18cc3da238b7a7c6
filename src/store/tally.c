/*
 * tally: the fixed table that folds repeated audit records (see tally.h).
 * Its input is records built by Signet's own policy layer; every string is
 * bounded by struct sn_audit and copied with its size.
 */
#include "store/tally.h"

#include <stdio.h>
#include <string.h>

#define ORDINARY (SN_TALLY_SLOTS - SN_TALLY_SPARE)
#define GLOBAL (SN_TALLY_SLOTS - 1)

static const char overflow_detail[] =
    "further refusals of this minute, beyond the aggregation table";

void
sn_tally_init(struct sn_tally *t)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
}

void
sn_tally_cleanup(struct sn_tally *t)
{
    pthread_mutex_destroy(&t->lock);
}

static uint64_t
fnv(uint64_t h, const char *s)
{
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (h ^ 0xff) * 0x100000001b3ULL; /* a separator */
}

/* Who: the credential if there is one, else the address. */
static const char *
caller(const struct sn_audit *a)
{
    return a->token[0] != '\0' ? a->token : a->client;
}

static uint64_t
hash_of(const struct sn_audit *a, int64_t minute)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)minute;

    h = fnv(h, a->subscriber);
    h = fnv(h, a->key);
    h = fnv(h, caller(a));
    h = fnv(h, a->action);
    h = fnv(h, a->result);
    h = fnv(h, a->principal);
    return fnv(h, a->detail);
}

static int
same(const struct sn_tally_slot *s, const struct sn_audit *a, uint64_t hash,
     int64_t minute)
{
    return s->used && s->hash == hash && s->minute == minute &&
           strcmp(s->rec.subscriber, a->subscriber) == 0 &&
           strcmp(s->rec.key, a->key) == 0 &&
           strcmp(caller(&s->rec), caller(a)) == 0 &&
           strcmp(s->rec.action, a->action) == 0 &&
           strcmp(s->rec.result, a->result) == 0 &&
           strcmp(s->rec.principal, a->principal) == 0 &&
           strcmp(s->rec.detail, a->detail) == 0;
}

/* Bumps the slot in [from, to) holding a's fold, or takes a free one
 * there for it. 0 if neither exists. */
static int
fold(struct sn_tally *t, size_t from, size_t to, const struct sn_audit *a,
     int64_t minute)
{
    uint64_t hash = hash_of(a, minute);
    size_t i, free_at = to;

    for (i = from; i < to; i++) {
        if (same(&t->slot[i], a, hash, minute)) {
            t->slot[i].count++;
            return 1;
        }
        if (!t->slot[i].used && free_at == to)
            free_at = i;
    }
    if (free_at == to)
        return 0;
    memset(&t->slot[free_at], 0, sizeof(t->slot[free_at]));
    t->slot[free_at].rec = *a;
    t->slot[free_at].rec.id = 0;
    t->slot[free_at].hash = hash;
    t->slot[free_at].minute = minute;
    t->slot[free_at].count = 1;
    t->slot[free_at].used = 1;
    __atomic_add_fetch(&t->used, 1, __ATOMIC_RELAXED);
    return 1;
}

/* The overflow record standing for a when the ordinary slots are full. */
static void
overflow_of(const struct sn_audit *a, const char *subscriber,
            struct sn_audit *o)
{
    memset(o, 0, sizeof(*o));
    o->time = a->time;
    snprintf(o->subscriber, sizeof(o->subscriber), "%s", subscriber);
    snprintf(o->action, sizeof(o->action), "%s", a->action);
    snprintf(o->result, sizeof(o->result), "%s", a->result);
    snprintf(o->detail, sizeof(o->detail), "%s", overflow_detail);
}

void
sn_tally_add(struct sn_tally *t, const struct sn_audit *a)
{
    int64_t minute = (int64_t)a->time / 60;
    struct sn_audit o;

    pthread_mutex_lock(&t->lock);
    if (fold(t, 0, ORDINARY, a, minute))
        goto out;
    overflow_of(a, a->subscriber, &o);
    if (fold(t, ORDINARY, GLOBAL, &o, minute))
        goto out;
    overflow_of(a, "", &o);
    if (!fold(t, GLOBAL, SN_TALLY_SLOTS, &o, minute))
        __atomic_add_fetch(&t->lost, 1, __ATOMIC_RELAXED);
out:
    pthread_mutex_unlock(&t->lock);
}

int
sn_tally_pending(struct sn_tally *t)
{
    return __atomic_load_n(&t->used, __ATOMIC_RELAXED) != 0 ||
           __atomic_load_n(&t->lost, __ATOMIC_RELAXED) != 0;
}

/* The slot's record as written: its detail with the count so far. */
static void
counted(const struct sn_tally_slot *s, struct sn_audit *out)
{
    char suffix[32];
    int room;

    *out = s->rec;
    if (s->count <= 1)
        return;
    snprintf(suffix, sizeof(suffix), " (x%llu)", (unsigned long long)s->count);
    room = (int)(sizeof(out->detail) - strlen(suffix) - 1);
    snprintf(out->detail, sizeof(out->detail), "%.*s%s", room, s->rec.detail,
             suffix);
}

size_t
sn_tally_take(struct sn_tally *t, struct sn_tally_batch *b, uint64_t *lost)
{
    size_t i;

    b->n = 0;
    pthread_mutex_lock(&t->lock);
    for (i = 0; i < SN_TALLY_SLOTS; i++) {
        if (!t->slot[i].used || t->slot[i].count == t->slot[i].written)
            continue;
        counted(&t->slot[i], &b->rec[b->n]);
        b->slot[b->n] = i;
        b->count[b->n] = t->slot[i].count;
        b->n++;
    }
    *lost = __atomic_exchange_n(&t->lost, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&t->lock);
    return b->n;
}

void
sn_tally_done(struct sn_tally *t, const struct sn_tally_batch *b, int ok,
              time_t now)
{
    int64_t minute = (int64_t)now / 60;
    struct sn_tally_slot *s;
    size_t i;

    pthread_mutex_lock(&t->lock);
    for (i = 0; ok && i < b->n; i++) {
        s = &t->slot[b->slot[i]];
        s->rec.id = b->rec[i].id;
        s->written = b->count[i];
    }
    for (i = 0; i < SN_TALLY_SLOTS; i++) {
        s = &t->slot[i];
        if (s->used && s->minute < minute && s->count == s->written) {
            s->used = 0;
            __atomic_sub_fetch(&t->used, 1, __ATOMIC_RELAXED);
        }
    }
    pthread_mutex_unlock(&t->lock);
}
