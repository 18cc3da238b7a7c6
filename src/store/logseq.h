/*
 * logseq: the transparency log's sequencer inside the audit writer. Each
 * audit record becomes a log entry (docs/translog.md) in the same
 * transaction as the record, so "no record, no signature" covers the log
 * too. The backend drives it around its transaction (begin, a mark per
 * job, add per record, commit or abort); the tree's right edge lives here,
 * the entries and tile hashes in the backend's tables. Writer thread only,
 * except the published head (size and root of what is committed), which
 * readers take under its lock.
 */
#ifndef SN_STORE_LOGSEQ_H
#define SN_STORE_LOGSEQ_H

#include <pthread.h>
#include <stdint.h>

#include "translog/merkle.h"

struct sn_logseq {
    int on;     /* entries are written (log.enabled) */
    int broken; /* the stored tree failed its check at open: nothing is
                   appended (every record fails: 503), no checkpoint */
    struct sn_tlog_edge edge, work, mark;
    pthread_mutex_t lock;
    uint64_t size; /* published after each commit, under lock */
    uint8_t root[SN_TLOG_HASH];
};

/* Stores an entry (put) and the tile hashes (emit) in the open
 * transaction. */
struct sn_logseq_sink {
    sn_err (*put)(void *arg, uint64_t index, const uint8_t *entry, size_t len,
                  const uint8_t leaf[SN_TLOG_HASH]);
    sn_tlog_emit_fn emit;
    void *arg;
};

void sn_logseq_init(struct sn_logseq *ls);
void sn_logseq_cleanup(struct sn_logseq *ls);
void sn_logseq_begin(struct sn_logseq *ls);
void sn_logseq_mark(struct sn_logseq *ls);
void sn_logseq_unmark(struct sn_logseq *ls);
/* The index the next entry gets, or -1 if the log is off. */
int64_t sn_logseq_next(const struct sn_logseq *ls);
/* An entry (its record inserted), appended; SN_OK without effect when
 * the log is off. */
sn_err sn_logseq_add(struct sn_logseq *ls, const uint8_t *entry, size_t len,
                     const struct sn_logseq_sink *sink);
void sn_logseq_commit(struct sn_logseq *ls);
/* Another node appended: the edge (and the published head) become e's,
 * before sn_logseq_begin. */
void sn_logseq_reset(struct sn_logseq *ls, const struct sn_tlog_edge *e);
void sn_logseq_abort(struct sn_logseq *ls);

#endif
