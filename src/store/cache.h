/*
 * cache: an in-memory map from an id (a string of up to 64 characters) to
 * a value, handed out as copies: the rows every signing request reads (its
 * API token and its key; the store drops an entry whenever it changes the
 * row, so a hit is always current) and the CA's OCSP answers.
 * "Always current" holds while this process is the only writer of the
 * rows: with a database shared between nodes, a change made elsewhere
 * must reach sn_cache_drop or sn_cache_clear here (store/store_backend.h says
 * what such a backend must do).
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
    size_t n, max;
    unsigned long gen; /* bumped by every drop */
    /* copies a value into caller memory; frees a stored value */
    int (*copy)(void *dst, const void *src);
    void (*release)(void *val);
};

/* Holds at most max entries (0: SN_CACHE_MAX). */
void sn_cache_init(struct sn_cache *c, size_t max,
                   int (*copy)(void *, const void *), void (*release)(void *));
void sn_cache_cleanup(struct sn_cache *c);
/* 1 and a copy in dst on a hit; 0 on a miss. */
int sn_cache_get(struct sn_cache *c, const char *id, void *dst);
/* The generation to pass to sn_cache_put, read before loading a row. */
unsigned long sn_cache_gen(struct sn_cache *c);
/*
 * Stores val (taking ownership) unless a drop happened since gen (the row
 * read may be stale), the id is present, or the cache is full: 1 if
 * stored, else 0 (val is freed).
 */
int sn_cache_put(struct sn_cache *c, const char *id, void *val,
                 unsigned long gen);
/* 1 if the cache holds its maximum. */
int sn_cache_full(struct sn_cache *c);
void sn_cache_drop(struct sn_cache *c, const char *id);
/* Drops every entry. */
void sn_cache_clear(struct sn_cache *c);

#endif
