/*
 * store_int: the store front's insides, shared by store.c (dispatch and
 * caches) and auditlog.c (the group-commit writer of the audit log). Not
 * for callers.
 */
#ifndef SN_STORE_INT_H
#define SN_STORE_INT_H

#include <pthread.h>

#include "store/store_backend.h"
#include "store/cache.h"
#include "store/store.h"

struct sn_tally;
struct sn_tally_batch;

struct sn_store {
    const struct sn_store_ops *ops;
    void *be;               /* the backend's state */
    struct sn_cache tokens; /* id -> struct sn_token */
    struct sn_cache keys;   /* id -> struct key_brief (store.c) */
    /* match -> struct cc_set (store.c): the client-certificate
     * registrations a presented certificate could match, none included */
    struct sn_cache clientcerts;
    /* audit writer */
    pthread_t writer;
    int writer_running;
    pthread_mutex_t qlock;
    pthread_cond_t qcond; /* work for the writer */
    struct sn_audit_job *head, *tail;
    int stop;
    uint64_t announced, settled; /* records on their way: see auditlog.c */
    /* Bumped by every revocation written (atomic): sn_store_revocation_gen */
    unsigned long revocations;
    /* Other nodes' changes (a shared backend's watch): the caller's own
     * callback (sn_store_watch); held for reading while it runs, so that
     * taking it away waits for a call in progress */
    pthread_rwlock_t changed_lock;
    int changed_ready;
    void (*changed)(void *arg, const char *table);
    void *changed_arg;
    /* The writer's chores (auditlog.c): the tally, retention; its clock */
    struct sn_tally *tally;        /* store/tally.h */
    struct sn_tally_batch *tbatch; /* the writer's, for sn_tally_take */
    struct sn_store_limits limits; /* under qlock */
    int chores_ready;              /* sn_auditlog_init done */
    int64_t next_tick_ms, next_compact_ms;
    unsigned compact_left; /* batches left in this minute's step */
    /* Free space (store.c): the directory measured, the last answer */
    char *dir;
    /* The log's anchor's directory when it is not dir (a server's
     * database: the node's home), or NULL */
    char *anchor_dir;
    int space;           /* enum sn_space, atomic */
    int64_t space_at_ms; /* when it was measured, atomic */
    /* The write probe (auditlog.c) */
    pthread_mutex_t plock;
    pthread_cond_t pcond;
    int probing;
    sn_err probe_result;
    int64_t probe_at_ms;
    /* The transparency log (logseq.h, logcp.c): the sequencer, and the
     * checkpoints the writer signs. cp_note and cp_size under log.lock. */
    struct sn_logseq log;
    int log_ready;
    char log_origin[129];
    uint8_t log_pub[32];
    sn_log_sign_fn log_sign;
    void *log_sign_arg;
    char *cp_note;
    uint64_t cp_size;
    uint8_t cp_root[32];
    /* The checkpointer thread (logcp.c): signs apart from the writer, so
     * a slow HSM never holds up a commit. */
    pthread_t cp_thread;
    int cp_running, cp_stop;
    pthread_mutex_t cp_lock;
    pthread_cond_t cp_cond;
};

/* logcp.c: the log's state at open (the edge from the stored hashes,
 * checked against the last checkpoint); the checkpointer is stopped
 * before the writer (it hands the writer its checkpoints to keep). */
sn_err sn_logcp_open(struct sn_store *st);
void sn_logcp_stop(struct sn_store *st);
void sn_logcp_close(struct sn_store *st);
/* auditlog.c: the writer keeps a checkpoint between two batches. */
sn_err sn_auditlog_checkpoint_put(struct sn_store *st, uint64_t size,
                                  const uint8_t root[32], const char *note);

/* CLOCK_MONOTONIC in milliseconds. */
int64_t sn_store_now_ms(void);

/* What the writer's chores and the probe need (before the writer);
 * cleanup after the writer stopped, also after a failed init. */
sn_err sn_auditlog_init(struct sn_store *st);
void sn_auditlog_cleanup(struct sn_store *st);
sn_err sn_auditlog_start(struct sn_store *st);
void sn_auditlog_stop(struct sn_store *st);
/* Writes the tally now (a reader is about to read the log). */
sn_err sn_auditlog_flush(struct sn_store *st);

#endif
