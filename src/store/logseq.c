/*
 * logseq: audit records to log entries, and the tree's edge through the
 * writer's transactions (see logseq.h). The entries themselves are
 * written by logentry.c.
 */
#include "store/logseq.h"

#include <string.h>

void
sn_logseq_init(struct sn_logseq *ls)
{
    memset(ls, 0, sizeof(*ls));
    ls->on = 1;
    pthread_mutex_init(&ls->lock, NULL);
    sn_tlog_edge_root(&ls->edge, ls->root);
}

void
sn_logseq_cleanup(struct sn_logseq *ls)
{
    pthread_mutex_destroy(&ls->lock);
}

void
sn_logseq_begin(struct sn_logseq *ls)
{
    ls->work = ls->edge;
}

void
sn_logseq_mark(struct sn_logseq *ls)
{
    ls->mark = ls->work;
}

void
sn_logseq_unmark(struct sn_logseq *ls)
{
    ls->work = ls->mark;
}

int64_t
sn_logseq_next(const struct sn_logseq *ls)
{
    return ls->on ? (int64_t)ls->work.size : -1;
}

void
sn_logseq_commit(struct sn_logseq *ls)
{
    uint8_t root[SN_TLOG_HASH];

    if (ls->work.size == ls->edge.size)
        return;
    ls->edge = ls->work;
    sn_tlog_edge_root(&ls->edge, root);
    pthread_mutex_lock(&ls->lock);
    /* never back: another node's checkpoint may have moved it on */
    if (ls->edge.size >= ls->size) {
        ls->size = ls->edge.size;
        memcpy(ls->root, root, sizeof(root));
    }
    pthread_mutex_unlock(&ls->lock);
}

void
sn_logseq_reset(struct sn_logseq *ls, const struct sn_tlog_edge *e)
{
    ls->work = *e;
    sn_logseq_commit(ls);
}

void
sn_logseq_abort(struct sn_logseq *ls)
{
    ls->work = ls->edge;
}

sn_err
sn_logseq_add(struct sn_logseq *ls, const uint8_t *entry, size_t len,
              const struct sn_logseq_sink *sink)
{
    uint8_t leaf[SN_TLOG_HASH];
    sn_err r;

    if (!ls->on)
        return SN_OK;
    if (ls->broken)
        return SN_ERR_STATE;
    sn_tlog_leaf_hash(entry, len, leaf);
    if ((r = sink->put(sink->arg, ls->work.size, entry, len, leaf)) == SN_OK)
        r = sn_tlog_edge_append(&ls->work, leaf, sink->emit, sink->arg);
    return r;
}
