/* partitions: subscriber id -> open token; see partitions.h. */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#include "keeper/partitions.h"

#include <stdlib.h>
#include <string.h>

#define MIN_SLOTS 64

/* Ids are random UUIDs, so FNV-1a is hash enough. */
static size_t
hash_id(const char *id)
{
    return (size_t)sn_str_hash(id);
}

/* With p->lock held (either way). */
static struct sn_hsm_token *
find(const struct sn_parts *p, const char *id)
{
    size_t mask, i;
    uint32_t s;

    if (p->nslots == 0)
        return NULL;
    mask = p->nslots - 1;
    for (i = hash_id(id) & mask; (s = p->slots[i]) != 0; i = (i + 1) & mask)
        if (strcmp(p->v[s - 1].subscriber, id) == 0)
            return p->v[s - 1].tok;
    return NULL;
}

static void
place(uint32_t *slots, size_t nslots, const char *id, uint32_t s)
{
    size_t mask = nslots - 1, i;

    for (i = hash_id(id) & mask; slots[i] != 0; i = (i + 1) & mask)
        ;
    slots[i] = s;
}

/* With p->lock held for writing: keeps tok as id's partition. */
static sn_err
add(struct sn_parts *p, const char *id, struct sn_hsm_token *tok)
{
    struct sn_partition *nv;
    uint32_t *ns;
    size_t cap, nslots, i;

    if (strlen(id) >= SN_UUID_LEN || p->n >= UINT32_MAX - 1)
        return SN_ERR_INVALID;
    if (p->n == p->cap) {
        cap = p->cap ? p->cap * 2 : 16;
        if ((nv = realloc(p->v, cap * sizeof(*nv))) == NULL)
            return SN_ERR_NOMEM;
        p->v = nv;
        p->cap = cap;
    }
    if ((p->n + 1) * 2 > p->nslots) {
        nslots = p->nslots ? p->nslots * 2 : MIN_SLOTS;
        if ((ns = calloc(nslots, sizeof(*ns))) == NULL)
            return SN_ERR_NOMEM;
        for (i = 0; i < p->n; i++)
            place(ns, nslots, p->v[i].subscriber, (uint32_t)(i + 1));
        free(p->slots);
        p->slots = ns;
        p->nslots = nslots;
    }
    memcpy(p->v[p->n].subscriber, id, strlen(id) + 1);
    p->v[p->n].tok = tok;
    p->n++;
    place(p->slots, p->nslots, id, (uint32_t)p->n);
    return SN_OK;
}

static struct sn_hsm_token *
lookup(struct sn_parts *p, const char *id)
{
    struct sn_hsm_token *tok;

    pthread_rwlock_rdlock(&p->lock);
    tok = find(p, id);
    pthread_rwlock_unlock(&p->lock);
    return tok;
}

struct sn_hsm_token *
sn_parts_find(struct sn_parts *p, const char *subscriber)
{
    return lookup(p, subscriber);
}

void
sn_parts_init(struct sn_parts *p, void (*release)(struct sn_hsm_token *))
{
    pthread_rwlockattr_t a;

    memset(p, 0, sizeof(*p));
    /* Writers first: signers read all the time, and an open waiting to add
     * its token must not starve behind them. */
    pthread_rwlockattr_init(&a);
    pthread_rwlockattr_setkind_np(&a,
                                  PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&p->lock, &a);
    pthread_rwlockattr_destroy(&a);
    pthread_mutex_init(&p->open_lock, NULL);
    p->release = release;
}

void
sn_parts_cleanup(struct sn_parts *p)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        if (p->release != NULL)
            p->release(p->v[i].tok);
    free(p->v);
    free(p->slots);
    pthread_rwlock_destroy(&p->lock);
    pthread_mutex_destroy(&p->open_lock);
    memset(p, 0, sizeof(*p));
}

sn_err
sn_parts_get(struct sn_parts *p, const char *subscriber, sn_parts_open_fn open,
             void *arg, struct sn_hsm_token **out)
{
    struct sn_hsm_token *tok = NULL;
    sn_err r;

    if ((*out = lookup(p, subscriber)) != NULL)
        return SN_OK;
    if (strlen(subscriber) >= SN_UUID_LEN)
        return SN_ERR_INVALID;
    pthread_mutex_lock(&p->open_lock);
    /* Opened by another caller while this one waited its turn? */
    if ((*out = lookup(p, subscriber)) != NULL) {
        r = SN_OK;
        goto out;
    }
    if ((r = open(arg, subscriber, &tok)) != SN_OK)
        goto out;
    if (tok == NULL) {
        r = SN_ERR_INTERNAL;
        goto out;
    }
    pthread_rwlock_wrlock(&p->lock);
    r = add(p, subscriber, tok);
    pthread_rwlock_unlock(&p->lock);
    if (r != SN_OK)
        goto out;
    *out = tok;
    tok = NULL;
out:
    pthread_mutex_unlock(&p->open_lock);
    if (tok != NULL && p->release != NULL)
        p->release(tok);
    return r;
}

size_t
sn_parts_count(struct sn_parts *p)
{
    size_t n;

    pthread_rwlock_rdlock(&p->lock);
    n = p->n;
    pthread_rwlock_unlock(&p->lock);
    return n;
}
