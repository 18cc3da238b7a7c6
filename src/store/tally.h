/*
 * tally: folds repeated audit records (the same refused request, again and
 * again) into one record per caller, subscriber, key, reason and minute,
 * with a count. The request path only bumps a counter in a table of fixed
 * size; the audit writer (auditlog.c) writes what changed about once a
 * second, replacing the record's detail with the count so far. A flood of
 * refused requests then costs a few rows a minute instead of one each.
 *
 * Bounded: SN_TALLY_SLOTS slots in all. When the ordinary slots are full,
 * a subscriber's further records fold into one overflow record for that
 * subscriber (SN_TALLY_SPARE slots kept for those), and past those into
 * one record for the whole service (subscriber ""); only if that slot is
 * still busy with an earlier minute is a record lost (counted, and said in
 * the log). Input: records the policy layer built (bounded strings).
 */
#ifndef SN_TALLY_H
#define SN_TALLY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define SN_TALLY_SLOTS 256
#define SN_TALLY_SPARE 32 /* the last slots, for overflow records only */

struct sn_tally_slot {
    struct sn_audit rec; /* as first seen; rec.id is its row once written */
    uint64_t hash;       /* of what makes two records the same */
    int64_t minute;
    uint64_t count, written; /* folded so far; as of the last write */
    int used;
};

struct sn_tally {
    pthread_mutex_t lock;
    struct sn_tally_slot slot[SN_TALLY_SLOTS];
    size_t used;   /* slots in use (read without the lock as a hint) */
    uint64_t lost; /* records folded nowhere */
};

/* What one write takes: copies of the changed slots' records. */
struct sn_tally_batch {
    struct sn_audit rec[SN_TALLY_SLOTS]; /* id 0: insert; else update */
    size_t slot[SN_TALLY_SLOTS];
    uint64_t count[SN_TALLY_SLOTS];
    size_t n;
};

void sn_tally_init(struct sn_tally *t);
void sn_tally_cleanup(struct sn_tally *t);
/* Counts a record; a->time names its minute. */
void sn_tally_add(struct sn_tally *t, const struct sn_audit *a);
/* 1 if some slot is in use (a hint: no lock). */
int sn_tally_pending(struct sn_tally *t);
/*
 * Fills b with every slot changed since its last write, detail carrying
 * " (xN)" when N > 1. Returns b->n. Records lost since the last call are
 * reported in *lost (and reset).
 */
size_t sn_tally_take(struct sn_tally *t, struct sn_tally_batch *b,
                     uint64_t *lost);
/*
 * After the write of b: if ok, each slot remembers its row (b->rec[i].id)
 * and the count written. Then slots of minutes before now's whose count
 * is all written are freed.
 */
void sn_tally_done(struct sn_tally *t, const struct sn_tally_batch *b, int ok,
                   time_t now);

#endif
