/*
 * backend: what a storage backend implements (src/store/sqlite/ today; a
 * PostgreSQL one would be src/store/postgres/ with the same ops). The
 * front (store.c) dispatches each sn_store_* call to one op and keeps what
 * is not about storage: the token and key caches, the revocation counter,
 * the audit log's queue and its writer thread (auditlog.c). Not for
 * callers outside src/store.
 *
 * Each op takes the backend's own state, as its open op returned it, and
 * means what the sn_store_* function of the same name in store.h means.
 * Ops are called from many threads at once, except audit_write, which is
 * called by the audit writer thread only (never concurrently with itself)
 * and may keep a connection of its own for it.
 *
 * Caches: the front drops a cached token or key when it changes the row
 * itself (token_revoke, key_transition, key_set_cert), and counts the
 * revocations it writes. A backend shared by several processes or nodes
 * (several signetd on one PostgreSQL) would let a cached row outlive a
 * change made elsewhere: such a backend must tell the front about the
 * others' changes (for example LISTEN/NOTIFY, or a change counter read
 * on each request, answered by sn_cache_clear and a bump of the
 * revocation counter) before it can be used by more than one node. The
 * SQLite backend assumes one signetd per database file (nothing enforces
 * it today).
 */
#ifndef SN_STORE_BACKEND_H
#define SN_STORE_BACKEND_H

#include <semaphore.h>

#include "store/logseq.h"
#include "store/store.h"

/* What a job asks of the writer besides records (auditlog.c). */
enum sn_job_kind {
    SN_JOB_RECORDS,   /* recs or tsa, through audit_write */
    SN_JOB_FLUSH,     /* write the tally now (a reader wants it) */
    SN_JOB_PROBE,     /* the write probe */
    SN_JOB_COMPACT,   /* a retention step: before, max -> removed */
    SN_JOB_CHECKPOINT /* keep a signed checkpoint: cp_* (logcp.c) */
};

/* One caller's records for the group commit (auditlog.c). */
struct sn_audit_job {
    enum sn_job_kind kind;
    struct sn_audit *recs; /* audit records, or */
    size_t n;
    const struct sn_tsa_record *tsa; /* one time-stamp token record */
    time_t before;                   /* SN_JOB_COMPACT */
    size_t max, removed;
    uint64_t cp_size; /* SN_JOB_CHECKPOINT */
    const uint8_t *cp_root;
    const char *cp_note;
    sn_err result;    /* set by audit_write */
    sem_t done;       /* posted by the writer once result is set, or */
    sn_audit_done cb; /* called by the writer, then the job freed */
    void *cbarg;
    struct sn_audit_job *next;
};

/* logentry.c: record a's log entry (a->id set), malloc'd; for backends,
 * which append it with sn_logseq_add in the record's transaction. */
sn_err sn_log_entry(const struct sn_audit *a, uint8_t **out, size_t *len);
/* Record a's entry built and appended to ls through sink (nothing when the
 * log is off): both backends' writers. */
sn_err sn_log_entry_append(const struct sn_audit *a, struct sn_logseq *ls,
                           const struct sn_logseq_sink *sink);

struct sn_store_ops {
    const char *name;
    /* path without the backend's "name:" prefix */
    sn_err (*open)(const char *path, void **be);
    void (*close)(void *be); /* be may be NULL */
    sn_err (*ping)(void *be);

    sn_err (*subscriber_add)(void *be, const struct sn_subscriber *s);
    sn_err (*subscriber_get)(void *be, const char *id,
                             struct sn_subscriber *out);
    sn_err (*subscriber_by_name)(void *be, const char *name,
                                 struct sn_subscriber *out);
    sn_err (*subscriber_list)(void *be, struct sn_subscriber **out, size_t *n);

    sn_err (*token_add)(void *be, const struct sn_token *t);
    sn_err (*token_get)(void *be, const char *id, struct sn_token *out);
    sn_err (*token_revoke)(void *be, const char *id, time_t when);
    /* issue 17: a session's last use and its account's (the front
     * decides when); a new session, only while its account is active
     * (SN_ERR_STATE otherwise), atomically with account_disable */
    sn_err (*token_touch)(void *be, const char *id, const char *account,
                          time_t now);
    sn_err (*session_add)(void *be, const struct sn_token *t);
    sn_err (*account_add)(void *be, const struct sn_account *a,
                          int first_operator);
    sn_err (*account_get)(void *be, const char *id, struct sn_account *out);
    sn_err (*account_by_name)(void *be, const char *name,
                              struct sn_account *out);
    sn_err (*account_list)(void *be, const char *subscriber,
                           struct sn_account **out, size_t *n);
    sn_err (*account_totp_pending)(void *be, const char *id,
                                   const uint8_t *sealed, size_t len);
    sn_err (*account_totp_clear)(void *be, const char *id);
    sn_err (*account_totp_confirm)(void *be, const char *id,
                                   const uint8_t *sealed, size_t len,
                                   int64_t step);
    sn_err (*account_totp_step)(void *be, const char *id, int64_t step);
    sn_err (*account_login)(void *be, const char *id, int good, time_t now,
                            const struct sn_lockout *lk);
    sn_err (*account_set_password)(void *be, const char *id,
                                   const char *pw_hash);
    /* also revokes the account's sessions (the front drops its token
     * cache) */
    sn_err (*account_disable)(void *be, const char *id, time_t when);
    sn_err (*recovery_set)(void *be, const char *account,
                           const uint8_t (*hashes)[32], size_t n);
    sn_err (*recovery_use)(void *be, const char *account,
                           const uint8_t hash[32], time_t when);

    sn_err (*clientcert_add)(void *be, const struct sn_clientcert *c);
    sn_err (*clientcert_get)(void *be, const char *id,
                             struct sn_clientcert *out);
    sn_err (*clientcert_list)(void *be, const char *subscriber,
                              struct sn_clientcert **out, size_t *n);
    sn_err (*clientcert_find)(void *be, const char *match,
                              struct sn_clientcert **out, size_t *n);
    sn_err (*clientcert_delete)(void *be, const char *id);

    sn_err (*key_add)(void *be, const struct sn_key *k);
    sn_err (*key_get)(void *be, const char *id, struct sn_key *out);
    sn_err (*key_list)(void *be, const char *subscriber, struct sn_key **out,
                       size_t *n);
    sn_err (*key_transition)(void *be, const char *id, unsigned from,
                             enum sn_key_state to);
    sn_err (*key_set_cert)(void *be, const char *id, const char *pem);

    /*
     * Writes the jobs' records in one durable transaction, setting each
     * job's result: a job fails alone (its records all or none), and if
     * the commit fails every job fails. The writer thread only.
     */
    void (*audit_write)(void *be, struct sn_audit_job *jobs,
                        struct sn_logseq *ls);
    sn_err (*audit_list)(void *be, const char *subscriber, const char *key,
                         const struct sn_audit_page *pg, struct sn_audit **out,
                         size_t *n);

    sn_err (*identity_set)(void *be, const char *subscriber, const char *json);
    sn_err (*identity_get)(void *be, const char *subscriber, char **json);

    sn_err (*cert_add)(void *be, const struct sn_cert *c);
    sn_err (*cert_get)(void *be, const char *ca, const char *serial,
                       struct sn_cert *out);
    sn_err (*cert_latest)(void *be, const char *ca, const char *profile,
                          struct sn_cert *out);
    /* issue 19: a subscriber's token PIN as sealed by the service token */
    sn_err (*pin_put)(void *be, const char *subscriber, const uint8_t *sealed,
                      size_t len);
    sn_err (*pin_get)(void *be, const char *subscriber, uint8_t **sealed,
                      size_t *len);
    sn_err (*cert_revoke)(void *be, const char *serial, time_t revocation_date,
                          int reason, time_t revoked_at);
    sn_err (*cert_compromise)(void *be, const uint8_t *spki, size_t spki_len,
                              time_t revocation_date, time_t revoked_at);
    sn_err (*cert_by_spki)(void *be, const uint8_t *spki, size_t spki_len,
                           struct sn_cert **out, size_t *n);
    sn_err (*cert_unindexed)(void *be, const char *after, size_t limit,
                             struct sn_cert **out, size_t *n);
    sn_err (*cert_set_spki)(void *be, const char *serial, const uint8_t *spki,
                            size_t spki_len);
    sn_err (*cert_revoked)(void *be, const char *ca, struct sn_cert **out,
                           size_t *n);
    int (*key_compromised)(void *be, const char *key);

    sn_err (*crl_get)(void *be, const char *ca, uint8_t **der, size_t *len,
                      int64_t *number, time_t *this_update);
    sn_err (*crl_put)(void *be, const char *ca, int64_t number,
                      time_t this_update, const uint8_t *der, size_t len);
    sn_err (*counter_next)(void *be, const char *name, int64_t *out);
    sn_err (*usage)(void *be, const char *subscriber, time_t since,
                    struct sn_usage *out);
    /* issue 16: signing policies and the quota's seed */
    sn_err (*policy_set)(void *be, const char *target, const char *subscriber,
                         const char *json);
    sn_err (*policy_get)(void *be, const char *target, char **json);
    sn_err (*policy_delete)(void *be, const char *target);
    sn_err (*sign_count)(void *be, const char *key, time_t since,
                         uint64_t *out);

    sn_err (*oidc_issuer_add)(void *be, const struct sn_oidc_issuer *i);
    sn_err (*oidc_issuer_list)(void *be, struct sn_oidc_issuer **out,
                               size_t *n);
    sn_err (*oidc_issuer_delete)(void *be, const char *id);
    sn_err (*trust_policy_add)(void *be, const struct sn_trust_policy *p);
    sn_err (*trust_policy_list)(void *be, const char *subscriber,
                                const char *issuer,
                                struct sn_trust_policy **out, size_t *n);
    sn_err (*trust_policy_delete)(void *be, const char *subscriber,
                                  const char *id);
    sn_err (*oidc_jti_use)(void *be, const char *issuer, const char *jti,
                           time_t expires_at, time_t now);

    /* issue 17: sign requests awaiting approval; each op is one
     * transaction whose writes are conditional on the state read in it */
    sn_err (*sign_request_add)(void *be, const struct sn_sign_request *r);
    sn_err (*sign_request_get)(void *be, const char *id,
                               struct sn_sign_request *out);
    sn_err (*sign_request_list)(void *be, const char *subscriber,
                                enum sn_sr_state state, size_t limit,
                                struct sn_sign_request **out, size_t *n);
    sn_err (*sign_request_vote)(void *be, const char *id,
                                const struct sn_sr_vote *v, time_t now,
                                enum sn_sr_state *state, int *decided);
    sn_err (*sign_request_move)(void *be, const char *id, enum sn_sr_state from,
                                enum sn_sr_state to, time_t now,
                                const char *reason, const char *signatures);
    sn_err (*sign_request_sweep)(void *be, time_t now, time_t stale_before,
                                 size_t max, struct sn_sign_request **out,
                                 size_t *n);

    /* issue 18: reports of Suspect Code and key compromise (a report and
     * its events, a decision and its keys: one transaction each), and the
     * signing events they match (store/report.c) */
    sn_err (*report_add)(void *be, const struct sn_report *r, char *dup);
    sn_err (*report_get)(void *be, const char *id, struct sn_report *out);
    sn_err (*report_list)(void *be, const char *subscriber, time_t overdue_now,
                          size_t limit, struct sn_report **out, size_t *n);
    sn_err (*report_ack)(void *be, const char *id, time_t now,
                         const char *token);
    sn_err (*report_decide)(void *be, const char *id, enum sn_report_state to,
                            time_t now, const char *token, const char *decision,
                            const struct sn_report_key *keys, size_t nkeys,
                            time_t ca_informed);
    sn_err (*report_notices_due)(void *be, time_t now, size_t max,
                                 struct sn_report **out, size_t *n);
    sn_err (*report_notice_result)(void *be, const char *id, const char *key,
                                   int ok, time_t now, time_t next_attempt,
                                   const char *result);
    sn_err (*report_overdue)(void *be, time_t now,
                             struct sn_report_overdue *out);
    sn_err (*sign_events_match)(void *be, const char (*sigs)[2 * 32 + 1],
                                size_t nsigs, const char *digest_alg,
                                const char *digest_hex, int first_per_key,
                                size_t limit, struct sn_audit **out, size_t *n,
                                size_t *total);
    sn_err (*sign_events_since)(void *be, const char *key, time_t since,
                                size_t limit, struct sn_audit **out, size_t *n,
                                size_t *total);

    /* The writer thread only, each in a durable transaction of its own:
     * inserts each record with id 0 (setting its id) and replaces the
     * detail of each other one (all or none); */
    sn_err (*audit_tally)(void *be, struct sn_audit *recs, size_t n,
                          struct sn_logseq *ls);
    /* The transparency log: entries and tile hashes are written by
     * audit_write and audit_tally through ls; checkpoints by the writer
     * thread (log_checkpoint_put); the rest read committed state. */
    sn_err (*log_size)(void *be, uint64_t *size);
    sn_err (*log_hashes)(void *be, unsigned level, uint64_t start, size_t n,
                         uint8_t (*out)[32]);
    sn_err (*log_entries)(void *be, uint64_t start, size_t n,
                          struct sn_buf *out);
    sn_err (*log_checkpoint_put)(void *be, uint64_t size,
                                 const uint8_t root[32], const char *note,
                                 time_t when);
    sn_err (*log_checkpoint_latest)(void *be, uint64_t *size, uint8_t root[32],
                                    char **note);
    /* Several nodes over one database: 1 while this node is the one that
     * signs the log's checkpoints (tried again on each call; a dead
     * node's turn passes to another). NULL: a backend of one node, which
     * always signs. The checkpointer thread only. */
    int (*log_leader)(void *be);
    /* Several nodes: calls changed(arg, table) from a thread of the
     * backend whenever another node changed a table whose rows nodes cache
     * (tokens, accounts, keys, subscribers, signing_policies,
     * client_certs, oidc_issuers, trust_policies, certificates, crls),
     * and "*" after a lost link came back; until close. NULL: a backend
     * of one node (the front knows its own changes). */
    sn_err (*watch)(void *be, void (*changed)(void *arg, const char *table),
                    void *arg);
    /* upserts one row (the write probe); */
    sn_err (*write_probe)(void *be);
    /* one retention step (sn_store_tsa_compact). */
    sn_err (*tsa_compact)(void *be, time_t before, size_t max, size_t *removed);
};

extern const struct sn_store_ops sn_store_sqlite_ops;
extern const struct sn_store_ops sn_store_postgres_ops;

#endif
