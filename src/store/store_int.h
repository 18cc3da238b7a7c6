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

struct sn_store {
    const struct sn_store_ops *ops;
    void *be;               /* the backend's state */
    struct sn_cache tokens; /* id -> struct sn_token */
    struct sn_cache keys;   /* id -> struct key_brief (store.c) */
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
};

sn_err sn_auditlog_start(struct sn_store *st);
void sn_auditlog_stop(struct sn_store *st);

#endif
