/*
 * pg_ops: the PostgreSQL backend's ops, one function per op of
 * struct sn_store_ops (store_backend.h says what each means), assembled
 * into sn_store_postgres_ops by pg.c. Defined in tables.c, accounts.c,
 * signreq.c, reports.c and audit.c. Not for callers.
 */
#ifndef SN_STORE_PG_OPS_H
#define SN_STORE_PG_OPS_H

#include "store/store_backend.h"

sn_err sn_pg_subscriber_add(void *be, const struct sn_subscriber *s);
sn_err sn_pg_subscriber_get(void *be, const char *id,
                            struct sn_subscriber *out);
sn_err sn_pg_subscriber_by_name(void *be, const char *name,
                                struct sn_subscriber *out);
sn_err sn_pg_subscriber_list(void *be, struct sn_subscriber **out, size_t *n);
sn_err sn_pg_token_add(void *be, const struct sn_token *t);
sn_err sn_pg_token_get(void *be, const char *id, struct sn_token *out);
sn_err sn_pg_token_revoke(void *be, const char *id, time_t when);
sn_err sn_pg_token_touch(void *be, const char *id, const char *account,
                         time_t now);
sn_err sn_pg_session_add(void *be, const struct sn_token *t);
sn_err sn_pg_account_add(void *be, const struct sn_account *a,
                         int first_operator);
sn_err sn_pg_account_get(void *be, const char *id, struct sn_account *out);
sn_err sn_pg_account_by_name(void *be, const char *name,
                             struct sn_account *out);
sn_err sn_pg_account_list(void *be, const char *subscriber,
                          struct sn_account **out, size_t *n);
sn_err sn_pg_account_totp_pending(void *be, const char *id,
                                  const uint8_t *sealed, size_t len);
sn_err sn_pg_account_totp_clear(void *be, const char *id);
sn_err sn_pg_account_totp_confirm(void *be, const char *id,
                                  const uint8_t *sealed, size_t len,
                                  int64_t step);
sn_err sn_pg_account_totp_step(void *be, const char *id, int64_t step);
sn_err sn_pg_account_login(void *be, const char *id, int good, time_t now,
                           const struct sn_lockout *lk);
sn_err sn_pg_account_set_password(void *be, const char *id,
                                  const char *pw_hash);
sn_err sn_pg_account_disable(void *be, const char *id, time_t when);
sn_err sn_pg_recovery_set(void *be, const char *account,
                          const uint8_t (*hashes)[32], size_t n);
sn_err sn_pg_recovery_use(void *be, const char *account, const uint8_t hash[32],
                          time_t when);
sn_err sn_pg_clientcert_add(void *be, const struct sn_clientcert *c);
sn_err sn_pg_clientcert_get(void *be, const char *id,
                            struct sn_clientcert *out);
sn_err sn_pg_clientcert_list(void *be, const char *subscriber,
                             struct sn_clientcert **out, size_t *n);
sn_err sn_pg_clientcert_find(void *be, const char *match,
                             struct sn_clientcert **out, size_t *n);
sn_err sn_pg_clientcert_delete(void *be, const char *id);
sn_err sn_pg_key_add(void *be, const struct sn_key *k);
sn_err sn_pg_key_get(void *be, const char *id, struct sn_key *out);
sn_err sn_pg_key_list(void *be, const char *subscriber, struct sn_key **out,
                      size_t *n);
sn_err sn_pg_key_transition(void *be, const char *id, unsigned from,
                            enum sn_key_state to);
sn_err sn_pg_key_set_cert(void *be, const char *id, const char *pem);
void sn_pg_audit_write(void *be, struct sn_audit_job *jobs,
                       struct sn_logseq *ls);
sn_err sn_pg_audit_list(void *be, const char *subscriber, const char *key,
                        const struct sn_audit_page *pg, struct sn_audit **out,
                        size_t *n);
sn_err sn_pg_identity_set(void *be, const char *subscriber, const char *json);
sn_err sn_pg_identity_get(void *be, const char *subscriber, char **json);
sn_err sn_pg_cert_add(void *be, const struct sn_cert *c);
sn_err sn_pg_cert_get(void *be, const char *ca, const char *serial,
                      struct sn_cert *out);
sn_err sn_pg_pin_put(void *be, const char *subscriber, const uint8_t *sealed,
                     size_t len);
sn_err sn_pg_pin_get(void *be, const char *subscriber, uint8_t **sealed,
                     size_t *len);
sn_err sn_pg_cert_latest(void *be, const char *ca, const char *profile,
                         struct sn_cert *out);
sn_err sn_pg_cert_revoke(void *be, const char *serial, time_t revocation_date,
                         int reason, time_t revoked_at);
sn_err sn_pg_cert_compromise(void *be, const uint8_t *spki, size_t spki_len,
                             time_t revocation_date, time_t revoked_at);
sn_err sn_pg_cert_by_spki(void *be, const uint8_t *spki, size_t spki_len,
                          struct sn_cert **out, size_t *n);
sn_err sn_pg_cert_unindexed(void *be, const char *after, size_t limit,
                            struct sn_cert **out, size_t *n);
sn_err sn_pg_cert_set_spki(void *be, const char *serial, const uint8_t *spki,
                           size_t spki_len);
sn_err sn_pg_cert_revoked(void *be, const char *ca, struct sn_cert **out,
                          size_t *n);
int sn_pg_key_compromised(void *be, const char *key);
sn_err sn_pg_crl_get(void *be, const char *ca, uint8_t **der, size_t *len,
                     int64_t *number, time_t *this_update);
sn_err sn_pg_crl_put(void *be, const char *ca, int64_t number,
                     time_t this_update, const uint8_t *der, size_t len);
sn_err sn_pg_counter_next(void *be, const char *name, int64_t *out);
sn_err sn_pg_usage(void *be, const char *subscriber, time_t since,
                   struct sn_usage *out);
sn_err sn_pg_policy_set(void *be, const char *target, const char *subscriber,
                        const char *json);
sn_err sn_pg_policy_get(void *be, const char *target, char **json);
sn_err sn_pg_policy_delete(void *be, const char *target);
sn_err sn_pg_sign_count(void *be, const char *key, time_t since, uint64_t *out);
sn_err sn_pg_oidc_issuer_add(void *be, const struct sn_oidc_issuer *i);
sn_err sn_pg_oidc_issuer_list(void *be, struct sn_oidc_issuer **out, size_t *n);
sn_err sn_pg_oidc_issuer_delete(void *be, const char *id);
sn_err sn_pg_trust_policy_add(void *be, const struct sn_trust_policy *p);
sn_err sn_pg_trust_policy_list(void *be, const char *subscriber,
                               const char *issuer, struct sn_trust_policy **out,
                               size_t *n);
sn_err sn_pg_trust_policy_delete(void *be, const char *subscriber,
                                 const char *id);
sn_err sn_pg_oidc_jti_use(void *be, const char *issuer, const char *jti,
                          time_t expires_at, time_t now);
sn_err sn_pg_sign_request_add(void *be, const struct sn_sign_request *r);
sn_err sn_pg_sign_request_get(void *be, const char *id,
                              struct sn_sign_request *out);
sn_err sn_pg_sign_request_list(void *be, const char *subscriber,
                               enum sn_sr_state state, size_t limit,
                               struct sn_sign_request **out, size_t *n);
sn_err sn_pg_sign_request_vote(void *be, const char *id,
                               const struct sn_sr_vote *v, time_t now,
                               enum sn_sr_state *state, int *decided);
sn_err sn_pg_sign_request_move(void *be, const char *id, enum sn_sr_state from,
                               enum sn_sr_state to, time_t now,
                               const char *reason, const char *signatures);
sn_err sn_pg_sign_request_sweep(void *be, time_t now, time_t stale_before,
                                size_t max, struct sn_sign_request **out,
                                size_t *n);
sn_err sn_pg_report_add(void *be, const struct sn_report *r, char *dup);
sn_err sn_pg_report_get(void *be, const char *id, struct sn_report *out);
sn_err sn_pg_report_list(void *be, const char *subscriber, time_t overdue_now,
                         size_t limit, struct sn_report **out, size_t *n);
sn_err sn_pg_report_ack(void *be, const char *id, time_t now,
                        const char *token);
sn_err sn_pg_report_decide(void *be, const char *id, enum sn_report_state to,
                           time_t now, const char *token, const char *decision,
                           const struct sn_report_key *keys, size_t nkeys,
                           time_t ca_informed);
sn_err sn_pg_report_notices_due(void *be, time_t now, size_t max,
                                struct sn_report **out, size_t *n);
sn_err sn_pg_report_notice_result(void *be, const char *id, const char *key,
                                  int ok, time_t now, time_t next_attempt,
                                  const char *result);
sn_err sn_pg_report_overdue(void *be, time_t now,
                            struct sn_report_overdue *out);
sn_err sn_pg_sign_events_match(void *be, const char (*sigs)[2 * 32 + 1],
                               size_t nsigs, const char *digest_alg,
                               const char *digest_hex, int first_per_key,
                               size_t limit, struct sn_audit **out, size_t *n,
                               size_t *total);
sn_err sn_pg_sign_events_since(void *be, const char *key, time_t since,
                               size_t limit, struct sn_audit **out, size_t *n,
                               size_t *total);
sn_err sn_pg_audit_tally(void *be, struct sn_audit *recs, size_t n,
                         struct sn_logseq *ls);
sn_err sn_pg_log_size(void *be, uint64_t *size);
sn_err sn_pg_log_hashes(void *be, unsigned level, uint64_t start, size_t n,
                        uint8_t (*out)[32]);
sn_err sn_pg_log_entries(void *be, uint64_t start, size_t n,
                         struct sn_buf *out);
sn_err sn_pg_log_checkpoint_put(void *be, uint64_t size, const uint8_t root[32],
                                const char *note, time_t when);
sn_err sn_pg_log_checkpoint_latest(void *be, uint64_t *size, uint8_t root[32],
                                   char **note);
int sn_pg_log_leader(void *be);
sn_err sn_pg_watch(void *be, void (*changed)(void *arg, const char *table),
                   void *arg);
sn_err sn_pg_write_probe(void *be);
sn_err sn_pg_tsa_compact(void *be, time_t before, size_t max, size_t *removed);

#endif
