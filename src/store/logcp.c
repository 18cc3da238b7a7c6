/*
 * logcp: the transparency log's state across restarts and its
 * checkpoints. At open the tree's right edge is rebuilt from the stored
 * tile hashes and checked against the last checkpoint signed: a database
 * altered since (a row deleted, changed or reordered) no longer yields
 * that root, and the log then refuses to grow or sign, so two
 * inconsistent checkpoints are never signed. Checkpoints have a thread of
 * their own (the HSM's time never holds up a commit): whenever the
 * committed tree has grown, at most every LOG_CP_MS, it signs one (the
 * first even for the empty tree) and has the writer keep it.
 */
#include "store/store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "translog/note.h"

#define LOG_CP_MS 500

static sn_err
read_hashes(void *arg, unsigned level, uint64_t start, size_t n,
            uint8_t (*out)[SN_TLOG_HASH])
{
    struct sn_store *st = arg;

    return st->ops->log_hashes(st->be, level, start, n, out);
}

/*
 * The anchor: the last checkpoint's size and root, also in a file beside
 * the database (HOME/log-anchor), so that a database restored from a
 * backup, or its checkpoints deleted, cannot make the log sign a second
 * tree of a size it already signed: at open the stored tree must pass
 * through the anchor.
 */
#define ANCHOR_HEADER "signet-log-anchor v1"

/* 0: no anchor (a server's database opened without a home) */
static int
anchor_path(const struct sn_store *st, char *buf, size_t len)
{
    const char *d = st->anchor_dir != NULL ? st->anchor_dir : st->dir;

    if (d == NULL)
        return 0;
    snprintf(buf, len, "%s/log-anchor", d);
    return 1;
}

/* 1 with size and root, 0 without an anchor, -1 if it is unreadable. */
static int
anchor_read(const struct sn_store *st, uint64_t *size, uint8_t root[32])
{
    char path[4096], *end, *nl;
    uint8_t *data = NULL, *h = NULL;
    size_t len = 0, hl = 0;
    int ok = -1;

    if (!anchor_path(st, path, sizeof(path)) ||
        (access(path, F_OK) != 0 && errno == ENOENT))
        return 0;
    if (sn_file_read(path, 256, &data, &len) != SN_OK)
        return -1;
    /* "signet-log-anchor v1\n<size> <base64 root>\n" */
    if (strncmp((char *)data, ANCHOR_HEADER "\n", sizeof(ANCHOR_HEADER)) == 0) {
        char *p = (char *)data + sizeof(ANCHOR_HEADER);

        errno = 0;
        *size = strtoull(p, &end, 10);
        if (errno == 0 && end != p && *end == ' ' &&
            (nl = strchr(end + 1, '\n')) != NULL && nl[1] == '\0') {
            *nl = '\0';
            if (sn_b64_decode(end + 1, &h, &hl) == SN_OK && hl == 32) {
                memcpy(root, h, 32);
                ok = 1;
            }
        }
    }
    free(h);
    free(data);
    return ok;
}

static void
anchor_write(const struct sn_store *st, uint64_t size, const uint8_t root[32])
{
    char path[4096], tmp[4200], *b64 = NULL;
    FILE *f = NULL;
    int ok = 0;

    if (!anchor_path(st, path, sizeof(path)))
        return;
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (sn_b64_encode(root, 32, &b64) == SN_OK &&
        (f = fopen(tmp, "w")) != NULL &&
        fprintf(f, ANCHOR_HEADER "\n%llu %s\n", (unsigned long long)size, b64) >
            0 &&
        fflush(f) == 0 && fsync(fileno(f)) == 0) {
        ok = fclose(f) == 0 && rename(tmp, path) == 0;
        f = NULL;
    }
    if (f != NULL)
        fclose(f);
    free(b64);
    if (!ok)
        sn_error("log: cannot write the anchor %s: %s", path, strerror(errno));
}

/* The entries since the last checkpoint hash to their stored leaves. */
static sn_err
tail_check(struct sn_store *st, uint64_t from, uint64_t n)
{
    uint8_t leaf[SN_TLOG_HASH], (*h)[SN_TLOG_HASH] = NULL;
    struct sn_buf b;
    uint64_t at;
    size_t cnt, i, off, len;
    sn_err r = SN_OK;

    if ((h = malloc(SN_TLOG_TILE_W * sizeof(*h))) == NULL)
        return SN_ERR_NOMEM;
    for (at = from; at < n && r == SN_OK; at += cnt) {
        cnt = n - at < SN_TLOG_TILE_W ? (size_t)(n - at) : SN_TLOG_TILE_W;
        sn_buf_init(&b, cnt * (2 + 65535));
        r = st->ops->log_entries(st->be, at, cnt, &b);
        if (r == SN_OK)
            r = st->ops->log_hashes(st->be, 0, at, cnt, h);
        for (i = 0, off = 0; r == SN_OK && i < cnt; i++) {
            len = (size_t)b.data[off] << 8 | b.data[off + 1];
            sn_tlog_leaf_hash(b.data + off + 2, len, leaf);
            if (memcmp(leaf, h[i], sizeof(leaf)) != 0)
                r = SN_ERR_MISMATCH;
            off += 2 + len;
        }
        sn_buf_cleanup(&b);
    }
    free(h);
    return r;
}

sn_err
sn_logcp_open(struct sn_store *st)
{
    const struct sn_tlog_reader rd = {read_hashes, st};
    uint8_t root[SN_TLOG_HASH], cproot[SN_TLOG_HASH], aroot[SN_TLOG_HASH];
    struct sn_tlog_edge e;
    uint64_t n = 0, cps = 0, as = 0;
    char *note = NULL;
    const char *why = NULL;
    int anchored;
    sn_err r;

    sn_logseq_init(&st->log);
    st->log_ready = 1;
    /* The checkpoint first: another node may append and sign meanwhile,
     * and the tree read after it is at least as large. */
    r = st->ops->log_checkpoint_latest(st->be, &cps, cproot, &note);
    if (r != SN_OK && r != SN_ERR_NOT_FOUND)
        return r;
    if ((r = st->ops->log_size(st->be, &n)) != SN_OK) {
        free(note);
        return r;
    }
    memset(&e, 0, sizeof(e));
    anchored = anchor_read(st, &as, aroot);
    if (anchored < 0)
        why = "its anchor (HOME/log-anchor) is unreadable";
    else if (sn_tlog_edge_load(&rd, n, &e) != SN_OK)
        why = "the stored tree is incomplete";
    else if (note != NULL &&
             (cps > n || sn_tlog_range_hash(&rd, 0, cps, root) != SN_OK ||
              memcmp(root, cproot, sizeof(root)) != 0))
        why = "the stored tree does not match the last checkpoint";
    else if (anchored && (cps < as || as > n ||
                          sn_tlog_range_hash(&rd, 0, as, root) != SN_OK ||
                          memcmp(root, aroot, sizeof(root)) != 0))
        why = "the database does not hold the tree its anchor "
              "(HOME/log-anchor) names: an older or altered database";
    else if (tail_check(st, cps, n) != SN_OK)
        why = "entries since the last checkpoint do not match their hashes";
    if (why != NULL) {
        sn_error("log: %s; the database was altered or replaced: the log "
                 "is stopped (nothing is signed)",
                 why);
        st->log.broken = 1;
    }
    /* Even a stopped log's stored tiles are served: verifiers judge them. */
    st->log.edge = e;
    st->log.work = e;
    st->log.size = e.size;
    sn_tlog_edge_root(&e, st->log.root);
    st->cp_note = note;
    st->cp_size = cps;
    memcpy(st->cp_root, cproot, sizeof(cproot));
    return SN_OK;
}

void
sn_logcp_close(struct sn_store *st)
{
    if (st->log_ready)
        sn_logseq_cleanup(&st->log);
    st->log_ready = 0;
    free(st->cp_note);
    st->cp_note = NULL;
}

/* The checkpoint served and anchored from now on. */
static void
checkpoint_keep(struct sn_store *st, uint64_t size, const uint8_t root[32],
                char *note)
{
    char *old;

    anchor_write(st, size, root);
    pthread_mutex_lock(&st->log.lock);
    old = st->cp_note;
    st->cp_note = note;
    st->cp_size = size;
    memcpy(st->cp_root, root, SN_TLOG_HASH);
    /* Several nodes: the tree the checkpoint covers is stored, whoever
     * appended it; tiles and proofs are served up to it (a node's own
     * head moves only with its own batches). */
    if (size > st->log.size) {
        st->log.size = size;
        memcpy(st->log.root, root, SN_TLOG_HASH);
    }
    pthread_mutex_unlock(&st->log.lock);
    free(old);
}

/* Another node's newest checkpoint, kept once the stored tree hashes to
 * its root (and it is newer than this node's). */
static void
adopt_latest(struct sn_store *st)
{
    const struct sn_tlog_reader rd = {read_hashes, st};
    uint8_t cproot[SN_TLOG_HASH], mine[SN_TLOG_HASH];
    uint64_t cps = 0;
    char *note = NULL;

    if (st->ops->log_checkpoint_latest(st->be, &cps, cproot, &note) != SN_OK ||
        (st->cp_note != NULL && cps <= st->cp_size)) {
        free(note);
        return;
    }
    if (sn_tlog_range_hash(&rd, 0, cps, mine) != SN_OK ||
        memcmp(mine, cproot, sizeof(mine)) != 0) {
        sn_error("log: another node's checkpoint of size %llu does not "
                 "match the stored tree: not served",
                 (unsigned long long)cps);
        free(note);
        return;
    }
    checkpoint_keep(st, cps, cproot, note);
}

/*
 * Several nodes over one database (the backend has log_leader): the
 * committed tree is the database's, whichever node appended. The node
 * that signs takes the stored tree, once it still holds the last
 * checkpoint this node kept (a database restored or altered underneath
 * is not signed: the log stops); the others adopt the newest checkpoint.
 * 0: this node signs, size and root set.
 */
static int
cluster_head(struct sn_store *st, uint64_t *size, uint8_t root[32])
{
    const struct sn_tlog_reader rd = {read_hashes, st};
    uint8_t was[SN_TLOG_HASH];

    if (!sn_store_log_ok(st))
        return -1;
    if (!st->ops->log_leader(st->be)) {
        adopt_latest(st);
        return -1;
    }
    if (st->ops->log_size(st->be, size) != SN_OK || *size < st->cp_size ||
        sn_tlog_range_hash(&rd, 0, *size, root) != SN_OK)
        return -1;
    if (st->cp_note != NULL &&
        (sn_tlog_range_hash(&rd, 0, st->cp_size, was) != SN_OK ||
         memcmp(was, st->cp_root, sizeof(was)) != 0)) {
        sn_error("log: the stored tree no longer holds the checkpoint of "
                 "size %llu: the database was restored or altered; the log "
                 "is stopped (nothing is signed)",
                 (unsigned long long)st->cp_size);
        __atomic_store_n(&st->log.broken, 1, __ATOMIC_SEQ_CST);
        return -1;
    }
    return 0;
}

/* Signs and keeps a checkpoint of the committed tree if it grew since
 * the last one (or there is none yet). */
static void
checkpoint(struct sn_store *st)
{
    uint8_t root[SN_TLOG_HASH], sig[SN_ED25519_SIG];
    char body[512], *note = NULL;
    uint64_t size;
    int have;

    pthread_mutex_lock(&st->log.lock);
    size = st->log.size;
    memcpy(root, st->log.root, sizeof(root));
    have = st->cp_note != NULL;
    pthread_mutex_unlock(&st->log.lock);
    if (st->ops->log_leader != NULL && cluster_head(st, &size, root) != 0)
        return;
    /* One thread signs, sizes only grow: never two trees of one size. */
    if (have && size <= st->cp_size)
        return;
    if (sn_tlog_checkpoint_body(st->log_origin, size, root, body,
                                sizeof(body)) != SN_OK ||
        st->log_sign(st->log_sign_arg, (const uint8_t *)body, strlen(body),
                     sig) != SN_OK ||
        sn_tlog_note_assemble(body, st->log_origin, st->log_pub, sig, &note) !=
            SN_OK ||
        sn_auditlog_checkpoint_put(st, size, root, note) != SN_OK) {
        free(note);
        /* several nodes: one of this size or larger is kept already (this
         * node's view lagged when it took the lock): take it */
        if (st->ops->log_leader != NULL) {
            adopt_latest(st);
            if (st->cp_note != NULL && st->cp_size >= size)
                return;
        }
        sn_error("log: checkpoint of size %llu not signed or not kept; "
                 "next try in %d ms",
                 (unsigned long long)size, LOG_CP_MS);
        return;
    }
    checkpoint_keep(st, size, root, note);
}

static void *
checkpointer(void *arg)
{
    struct sn_store *st = arg;
    struct timespec dl;

    prctl(PR_SET_NAME, "sn-checkpoint", 0, 0, 0);
    pthread_mutex_lock(&st->cp_lock);
    while (!st->cp_stop) {
        pthread_mutex_unlock(&st->cp_lock);
        checkpoint(st);
        pthread_mutex_lock(&st->cp_lock);
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_nsec += (long)LOG_CP_MS * 1000000L;
        dl.tv_sec += dl.tv_nsec / 1000000000L;
        dl.tv_nsec %= 1000000000L;
        while (!st->cp_stop &&
               pthread_cond_timedwait(&st->cp_cond, &st->cp_lock, &dl) == 0)
            ;
    }
    pthread_mutex_unlock(&st->cp_lock);
    /* The last one, at shutdown: no entry is left uncovered. */
    checkpoint(st);
    return NULL;
}

void
sn_logcp_stop(struct sn_store *st)
{
    if (!st->cp_running)
        return;
    pthread_mutex_lock(&st->cp_lock);
    st->cp_stop = 1;
    pthread_cond_signal(&st->cp_cond);
    pthread_mutex_unlock(&st->cp_lock);
    pthread_join(st->cp_thread, NULL);
    pthread_mutex_destroy(&st->cp_lock);
    pthread_cond_destroy(&st->cp_cond);
    st->cp_running = 0;
}

void
sn_store_log_enable(struct sn_store *st, int on)
{
    pthread_mutex_lock(&st->qlock);
    st->log.on = on;
    pthread_mutex_unlock(&st->qlock);
}

sn_err
sn_store_log_checkpoints(struct sn_store *st, const char *origin,
                         const uint8_t pub[32], sn_log_sign_fn sign, void *arg)
{
    pthread_condattr_t ca;

    if (!sn_tlog_name_ok(origin) || st->cp_running)
        return SN_ERR_CONFIG;
    snprintf(st->log_origin, sizeof(st->log_origin), "%s", origin);
    memcpy(st->log_pub, pub, 32);
    st->log_sign_arg = arg;
    st->log_sign = sign;
    if (st->log.broken)
        return SN_OK; /* never a checkpoint of an altered tree */
    pthread_mutex_init(&st->cp_lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cp_cond, &ca);
    pthread_condattr_destroy(&ca);
    st->cp_stop = 0;
    if (pthread_create(&st->cp_thread, NULL, checkpointer, st) != 0) {
        pthread_mutex_destroy(&st->cp_lock);
        pthread_cond_destroy(&st->cp_cond);
        return SN_ERR_INTERNAL;
    }
    st->cp_running = 1;
    return SN_OK;
}

int
sn_store_log_ok(struct sn_store *st)
{
    return !__atomic_load_n(&st->log.broken, __ATOMIC_SEQ_CST);
}

void
sn_store_log_head(struct sn_store *st, uint64_t *size, uint8_t root[32])
{
    pthread_mutex_lock(&st->log.lock);
    *size = st->log.size;
    memcpy(root, st->log.root, 32);
    pthread_mutex_unlock(&st->log.lock);
}

sn_err
sn_store_log_checkpoint(struct sn_store *st, char **note, uint64_t *size)
{
    sn_err r = SN_ERR_NOT_FOUND;

    *note = NULL;
    pthread_mutex_lock(&st->log.lock);
    if (st->cp_note != NULL) {
        *note = strdup(st->cp_note);
        *size = st->cp_size;
        r = *note != NULL ? SN_OK : SN_ERR_NOMEM;
    }
    pthread_mutex_unlock(&st->log.lock);
    return r;
}

sn_err
sn_store_log_hashes(struct sn_store *st, unsigned level, uint64_t start,
                    size_t n, uint8_t (*out)[32])
{
    return st->ops->log_hashes(st->be, level, start, n, out);
}

sn_err
sn_store_log_entries(struct sn_store *st, uint64_t start, size_t n,
                     struct sn_buf *out)
{
    return st->ops->log_entries(st->be, start, n, out);
}
