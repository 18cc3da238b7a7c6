/* cache: a chained hash map under a read-write lock (trusted input). */
#include "store/cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct sn_cache_entry {
    char id[65];
    void *val;
    struct sn_cache_entry *next;
};

static size_t
bucket(const char *id)
{
    return (size_t)(sn_str_hash(id) % SN_CACHE_BUCKETS);
}

void
sn_cache_init(struct sn_cache *c, size_t max, int (*copy)(void *, const void *),
              void (*release)(void *))
{
    memset(c, 0, sizeof(*c));
    pthread_rwlock_init(&c->lock, NULL);
    c->max = max == 0 || max > SN_CACHE_MAX ? SN_CACHE_MAX : max;
    c->copy = copy;
    c->release = release;
}

/* Frees every entry; the caller holds the write lock or owns c alone. */
static void
free_all(struct sn_cache *c)
{
    struct sn_cache_entry *e, *next;
    size_t i;

    for (i = 0; i < SN_CACHE_BUCKETS; i++) {
        for (e = c->b[i]; e != NULL; e = next) {
            next = e->next;
            c->release(e->val);
            free(e);
        }
        c->b[i] = NULL;
    }
    c->n = 0;
}

void
sn_cache_cleanup(struct sn_cache *c)
{
    free_all(c);
    pthread_rwlock_destroy(&c->lock);
}

void
sn_cache_clear(struct sn_cache *c)
{
    pthread_rwlock_wrlock(&c->lock);
    c->gen++;
    free_all(c);
    pthread_rwlock_unlock(&c->lock);
}

int
sn_cache_get(struct sn_cache *c, const char *id, void *dst)
{
    struct sn_cache_entry *e;
    int hit = 0;

    pthread_rwlock_rdlock(&c->lock);
    for (e = c->b[bucket(id)]; e != NULL; e = e->next) {
        if (strcmp(e->id, id) == 0) {
            hit = c->copy(dst, e->val);
            break;
        }
    }
    pthread_rwlock_unlock(&c->lock);
    return hit;
}

unsigned long
sn_cache_gen(struct sn_cache *c)
{
    unsigned long g;

    pthread_rwlock_rdlock(&c->lock);
    g = c->gen;
    pthread_rwlock_unlock(&c->lock);
    return g;
}

int
sn_cache_put(struct sn_cache *c, const char *id, void *val, unsigned long gen)
{
    struct sn_cache_entry *e, *ne;
    size_t h = bucket(id);

    if (strlen(id) >= sizeof(ne->id) || (ne = calloc(1, sizeof(*ne))) == NULL) {
        c->release(val);
        return 0;
    }
    memcpy(ne->id, id, strlen(id) + 1);
    ne->val = val;
    pthread_rwlock_wrlock(&c->lock);
    for (e = c->b[h]; e != NULL; e = e->next)
        if (strcmp(e->id, id) == 0)
            break;
    if (e == NULL && c->n < c->max && c->gen == gen) {
        ne->next = c->b[h];
        c->b[h] = ne;
        c->n++;
        ne = NULL;
    }
    pthread_rwlock_unlock(&c->lock);
    if (ne != NULL) {
        c->release(ne->val);
        free(ne);
        return 0;
    }
    return 1;
}

int
sn_cache_full(struct sn_cache *c)
{
    int full;

    pthread_rwlock_rdlock(&c->lock);
    full = c->n >= c->max;
    pthread_rwlock_unlock(&c->lock);
    return full;
}

void
sn_cache_drop(struct sn_cache *c, const char *id)
{
    struct sn_cache_entry **pp, *e = NULL;

    pthread_rwlock_wrlock(&c->lock);
    c->gen++;
    for (pp = &c->b[bucket(id)]; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            e = *pp;
            *pp = e->next;
            c->n--;
            break;
        }
    }
    pthread_rwlock_unlock(&c->lock);
    if (e != NULL) {
        c->release(e->val);
        free(e);
    }
}
