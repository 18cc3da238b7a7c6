/*
 * sqlite_int: the SQLite backend's state, shared by sqlite.c (the tables),
 * accounts.c (people), audit.c (the audit log's writes) and signreq.c
 * (sign requests awaiting approval). Not for callers.
 */
#ifndef SN_STORE_SQLITE_INT_H
#define SN_STORE_SQLITE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "store/store_backend.h"

struct sq_store {
    sqlite3 *db; /* shared connection, SQLite's serialised mode */
    /* The audit writer's own connection, used by its thread only. */
    sqlite3 *wdb;
    sqlite3_stmt *winsert;
    sqlite3_stmt *wtsa;
    sqlite3_stmt *wlogentry, *wloghash; /* the log's (audit.c) */
    /* The record whose entry is being stored, and whether its text is
     * kept (its row changes later) (audit.c; writer only). */
    const struct sn_audit *cur;
    int cur_text;
    /* BEGIN IMMEDIATE, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ROLLBACK TO:
     * prepared once, not parsed per batch. */
    sqlite3_stmt *wctl[6];
    /* Sign requests' own connection (sqlite/signreq.c), used by one
     * caller at a time under rlock: a vote is a transaction of several
     * statements, which the shared connection cannot hold apart from
     * other threads' statements. */
    sqlite3 *rdb;
    pthread_mutex_t rlock;
    int rlock_ready;
};

/* Shared by the table files (sqlite.c, accounts.c). */
sn_err sn_sq_prepare(struct sq_store *st, const char *sql, sqlite3_stmt **s);
/* Runs a statement that returns no rows and finalizes it;
 * SN_ERR_NOT_FOUND if it changed nothing and must_change is set. */
sn_err sn_sq_finish_write(struct sq_store *st, sqlite3_stmt *s,
                          int must_change);
void sn_sq_col_text(sqlite3_stmt *s, int i, char *dst, size_t dstlen);
/* An audit record from 17 columns from c on: id, time, subscriber_id,
 * key_id, token_id, client, action, digest_algorithm, digest, scheme,
 * result, detail, policy, principal, sig_sha256, digest_salt, log_index
 * (every reader of audit rows selects them in this order). */
void sn_sq_read_audit(sqlite3_stmt *s, int c, struct sn_audit *a);

/* accounts.c: people, their recovery codes and login sessions (the ops
 * of the same names in store_backend.h). */
sn_err sn_sq_token_touch(void *be, const char *id, const char *account,
                         time_t now);
sn_err sn_sq_session_add(void *be, const struct sn_token *t);
sn_err sn_sq_account_add(void *be, const struct sn_account *a,
                         int first_operator);
sn_err sn_sq_account_get(void *be, const char *id, struct sn_account *out);
sn_err sn_sq_account_by_name(void *be, const char *name,
                             struct sn_account *out);
sn_err sn_sq_account_list(void *be, const char *subscriber,
                          struct sn_account **out, size_t *n);
sn_err sn_sq_account_totp_pending(void *be, const char *id,
                                  const uint8_t *sealed, size_t len);
sn_err sn_sq_account_totp_clear(void *be, const char *id);
sn_err sn_sq_account_totp_confirm(void *be, const char *id,
                                  const uint8_t *sealed, size_t len,
                                  int64_t step);
sn_err sn_sq_account_totp_step(void *be, const char *id, int64_t step);
sn_err sn_sq_account_login(void *be, const char *id, int good, time_t now,
                           const struct sn_lockout *lk);
sn_err sn_sq_account_set_password(void *be, const char *id,
                                  const char *pw_hash);
sn_err sn_sq_account_disable(void *be, const char *id, time_t when);
sn_err sn_sq_recovery_set(void *be, const char *account,
                          const uint8_t (*hashes)[32], size_t n);
sn_err sn_sq_recovery_use(void *be, const char *account, const uint8_t hash[32],
                          time_t when);

sn_err sn_sqlite_audit_open(struct sq_store *st, const char *path);
void sn_sqlite_audit_close(struct sq_store *st);
void sn_sqlite_audit_write(void *be, struct sn_audit_job *jobs,
                           struct sn_logseq *ls);
sn_err sn_sqlite_audit_tally(void *be, struct sn_audit *recs, size_t n,
                             struct sn_logseq *ls);
sn_err sn_sqlite_log_size(void *be, uint64_t *size);
sn_err sn_sqlite_log_hashes(void *be, unsigned level, uint64_t start, size_t n,
                            uint8_t (*out)[32]);
sn_err sn_sqlite_log_entries(void *be, uint64_t start, size_t n,
                             struct sn_buf *out);
sn_err sn_sqlite_log_checkpoint_put(void *be, uint64_t size,
                                    const uint8_t root[32], const char *note,
                                    time_t when);
sn_err sn_sqlite_log_checkpoint_latest(void *be, uint64_t *size,
                                       uint8_t root[32], char **note);
sn_err sn_sqlite_write_probe(void *be);
sn_err sn_sqlite_tsa_compact(void *be, time_t before, size_t max,
                             size_t *removed);

/* issue 17: sign requests (sqlite/signreq.c); ops as in store_backend.h */
sn_err sn_sqlite_signreq_open(struct sq_store *st, const char *path);
void sn_sqlite_signreq_close(struct sq_store *st);
sn_err sn_sqlite_sr_add(void *be, const struct sn_sign_request *r);
sn_err sn_sqlite_sr_get(void *be, const char *id, struct sn_sign_request *out);
sn_err sn_sqlite_sr_list(void *be, const char *subscriber,
                         enum sn_sr_state state, size_t limit,
                         struct sn_sign_request **out, size_t *n);
sn_err sn_sqlite_sr_vote(void *be, const char *id, const struct sn_sr_vote *v,
                         time_t now, enum sn_sr_state *state, int *decided);
sn_err sn_sqlite_sr_move(void *be, const char *id, enum sn_sr_state from,
                         enum sn_sr_state to, time_t now, const char *reason,
                         const char *signatures);
sn_err sn_sqlite_sr_sweep(void *be, time_t now, time_t stale_before, size_t max,
                          struct sn_sign_request **out, size_t *n);

/* issue 18: reports of Suspect Code and key compromise, and the signing
 * events they match (sqlite/reports.c); ops as in store_backend.h */
sn_err sn_sqlite_report_add(void *be, const struct sn_report *r, char *dup);
sn_err sn_sqlite_report_get(void *be, const char *id, struct sn_report *out);
sn_err sn_sqlite_report_list(void *be, const char *subscriber,
                             time_t overdue_now, size_t limit,
                             struct sn_report **out, size_t *n);
sn_err sn_sqlite_report_ack(void *be, const char *id, time_t now,
                            const char *token);
sn_err sn_sqlite_report_decide(void *be, const char *id,
                               enum sn_report_state to, time_t now,
                               const char *token, const char *decision,
                               const struct sn_report_key *keys, size_t nkeys,
                               time_t ca_informed);
sn_err sn_sqlite_report_notices_due(void *be, time_t now, size_t max,
                                    struct sn_report **out, size_t *n);
sn_err sn_sqlite_report_notice_result(void *be, const char *id, const char *key,
                                      int ok, time_t now, time_t next_attempt,
                                      const char *result);
sn_err sn_sqlite_report_overdue(void *be, time_t now,
                                struct sn_report_overdue *out);
sn_err sn_sqlite_sign_events_match(void *be, const char (*sigs)[2 * 32 + 1],
                                   size_t nsigs, const char *digest_alg,
                                   const char *digest_hex, int first_per_key,
                                   size_t limit, struct sn_audit **out,
                                   size_t *n, size_t *total);
sn_err sn_sqlite_sign_events_since(void *be, const char *key, time_t since,
                                   size_t limit, struct sn_audit **out,
                                   size_t *n, size_t *total);

#endif
