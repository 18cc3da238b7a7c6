/*
 * cache: an in-memory map from row id to a copy of the row, for the rows
 * every signing request reads (its API token and its key). The store is
 * the only writer of those rows and drops an entry whenever it changes
 * the row, so a hit is always current.
 */
#ifndef SN_CACHE_H
#define SN_CACHE_H

#include <pthread.h>
#include <stddef.h>

#define SN_CACHE_BUCKETS 8192
#define SN_CACHE_MAX 200000

struct sn_cache_entry;

struct sn_cache {
    pthread_rwlock_t lock;
    struct sn_cache_entry *b[SN_CACHE_BUCKETS];
    size_t n;
    unsigned long gen; /* bumped by every drop */
    /* copies a value into caller memory; frees a stored value */
    int (*copy)(void *dst, const void *src);
    void (*release)(void *val);
};

void sn_cache_init(struct sn_cache *c, int (*copy)(void *, const void *),
                   void (*release)(void *));
void sn_cache_cleanup(struct sn_cache *c);
/* 1 and a copy in dst on a hit; 0 on a miss. */
int sn_cache_get(struct sn_cache *c, const char *id, void *dst);
/* The generation to pass to sn_cache_put, read before loading a row. */
unsigned long sn_cache_gen(struct sn_cache *c);
/*
 * Stores val (taking ownership) unless a drop happened since gen (the row
 * read may be stale), the id is present, or the cache is full.
 */
void sn_cache_put(struct sn_cache *c, const char *id, void *val,
                  unsigned long gen);
void sn_cache_drop(struct sn_cache *c, const char *id);

#endif
