/*
 * partitions: the open HSM token of each subscriber, found by subscriber
 * id on every signature. Lookups share a read lock and a hash index, so
 * signers never wait on one another. A partition not yet open is opened
 * (C_Login, handle preload: about a second on a token with 10,000 keys)
 * outside the table's lock, so a token being opened holds up no signature
 * with a token already open. First opens are made one at a time: a
 * subscriber's first signature may wait for another subscriber's open.
 * A failed open is not remembered; the next request tries again.
 */
#ifndef SN_PARTITIONS_H
#define SN_PARTITIONS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/util.h"

struct sn_hsm_token;

struct sn_partition {
    char subscriber[SN_UUID_LEN];
    struct sn_hsm_token *tok;
};

/* Opens subscriber's token; called with no table lock held. */
typedef sn_err (*sn_parts_open_fn)(void *arg, const char *subscriber,
                                   struct sn_hsm_token **tok);

struct sn_parts {
    pthread_rwlock_t lock;     /* v, n, slots: shared by lookups */
    pthread_mutex_t open_lock; /* one partition opened at a time; taken
                                  before lock, never while holding it */
    struct sn_partition *v;
    size_t n, cap;
    uint32_t *slots; /* open addressing: index into v plus one, 0 empty */
    size_t nslots;   /* a power of two, at least twice n */
    void (*release)(struct sn_hsm_token *);
};

void sn_parts_init(struct sn_parts *p, void (*release)(struct sn_hsm_token *));
/* Releases every token. */
void sn_parts_cleanup(struct sn_parts *p);
/*
 * The subscriber's token: the open one, or one opened now by open(arg, ..)
 * and kept. A failed open keeps nothing: the next call tries again.
 */
sn_err sn_parts_get(struct sn_parts *p, const char *subscriber,
                    sn_parts_open_fn open, void *arg,
                    struct sn_hsm_token **out);
size_t sn_parts_count(struct sn_parts *p);
/* The subscriber's open token, or NULL: a lookup only (no open waited
 * for). */
struct sn_hsm_token *sn_parts_find(struct sn_parts *p, const char *subscriber);

#endif
