/*
 * handlers: one function per API route. Each reads the validated request,
 * acts through the store and HSM, and fills the response with an api code;
 * none of them knows HTTP statuses or MHD.
 */
#ifndef SN_HANDLERS_H
#define SN_HANDLERS_H

#include "http/api.h"
#include "http/deps.h"
#include "policy/policy.h"

typedef void (*sn_handler)(const struct sn_deps *deps, struct sn_req *req,
                           struct sn_resp *resp);

void sn_h_healthz(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_whoami(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_subscriber_create(const struct sn_deps *, struct sn_req *,
                            struct sn_resp *);
void sn_h_subscriber_list(const struct sn_deps *, struct sn_req *,
                          struct sn_resp *);
void sn_h_token_create(const struct sn_deps *, struct sn_req *,
                       struct sn_resp *);
void sn_h_token_revoke(const struct sn_deps *, struct sn_req *,
                       struct sn_resp *);
void sn_h_clientcert_create(const struct sn_deps *, struct sn_req *,
                            struct sn_resp *);
void sn_h_clientcert_list(const struct sn_deps *, struct sn_req *,
                          struct sn_resp *);
void sn_h_clientcert_delete(const struct sn_deps *, struct sn_req *,
                            struct sn_resp *);
void sn_h_key_import(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_key_create(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_key_list(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_key_show(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_key_disable(const struct sn_deps *, struct sn_req *,
                      struct sn_resp *);
void sn_h_key_enable(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_key_destroy(const struct sn_deps *, struct sn_req *,
                      struct sn_resp *);
void sn_h_key_csr(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_cert_put(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_cert_get(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_sign(const struct sn_deps *, struct sn_req *, struct sn_resp *);
/* sign-file: the precheck runs before the body is streamed. */
void sn_h_sign_file_check(const struct sn_deps *, struct sn_req *,
                          struct sn_resp *);
void sn_h_sign_file(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_audit(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_admin_audit(const struct sn_deps *, struct sn_req *,
                      struct sn_resp *);
/* issue 17: people and their sessions (h_accounts.c) */
void sn_h_account_create(const struct sn_deps *, struct sn_req *,
                         struct sn_resp *);
void sn_h_account_list(const struct sn_deps *, struct sn_req *,
                       struct sn_resp *);
void sn_h_account_totp(const struct sn_deps *, struct sn_req *,
                       struct sn_resp *);
void sn_h_account_totp_confirm(const struct sn_deps *, struct sn_req *,
                               struct sn_resp *);
void sn_h_account_disable(const struct sn_deps *, struct sn_req *,
                          struct sn_resp *);
void sn_h_account_password(const struct sn_deps *, struct sn_req *,
                           struct sn_resp *);
void sn_h_session_create(const struct sn_deps *, struct sn_req *,
                         struct sn_resp *);
void sn_h_session_delete(const struct sn_deps *, struct sn_req *,
                         struct sn_resp *);
void sn_h_identity_put(const struct sn_deps *, struct sn_req *,
                       struct sn_resp *);
void sn_h_identity_get(const struct sn_deps *, struct sn_req *,
                       struct sn_resp *);
void sn_h_attestation(const struct sn_deps *, struct sn_req *,
                      struct sn_resp *);
void sn_h_ca_issue(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_ca_cert_get(const struct sn_deps *, struct sn_req *,
                      struct sn_resp *);
void sn_h_ca_revoke(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_ca_bundle(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_ca_cert_der(const struct sn_deps *, struct sn_req *,
                      struct sn_resp *);
void sn_h_ca_crl(const struct sn_deps *, struct sn_req *, struct sn_resp *);
/* A public key as one text line (the log's, the notices'), cacheable for
 * an hour; 404 saying missing when line is NULL. */
void sn_resp_key_line(struct sn_resp *resp, const char *line,
                      const char *missing);
/* issue 18: the transparency log (h_log.c) */
void sn_h_log_checkpoint(const struct sn_deps *, struct sn_req *,
                         struct sn_resp *);
void sn_h_log_vkey(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_log_tile(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_log_proof(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_ca_ocsp(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_tsa(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_tsa_authenticode(const struct sn_deps *, struct sn_req *,
                           struct sn_resp *);
/* issue 16: signing policies (h_policy.c) */
void sn_h_key_policy_put(const struct sn_deps *, struct sn_req *,
                         struct sn_resp *);
void sn_h_key_policy_get(const struct sn_deps *, struct sn_req *,
                         struct sn_resp *);
void sn_h_key_policy_delete(const struct sn_deps *, struct sn_req *,
                            struct sn_resp *);
void sn_h_subscriber_policy_put(const struct sn_deps *, struct sn_req *,
                                struct sn_resp *);
void sn_h_subscriber_policy_get(const struct sn_deps *, struct sn_req *,
                                struct sn_resp *);
void sn_h_subscriber_policy_delete(const struct sn_deps *, struct sn_req *,
                                   struct sn_resp *);
void sn_h_tsa_rotate(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_tsa_clock_ok(const struct sn_deps *, struct sn_req *,
                       struct sn_resp *);
/* issue 16: OIDC workload identity (h_oidc.c) */
void sn_h_oidc_issuer_create(const struct sn_deps *, struct sn_req *,
                             struct sn_resp *);
void sn_h_oidc_issuer_list(const struct sn_deps *, struct sn_req *,
                           struct sn_resp *);
void sn_h_oidc_issuer_delete(const struct sn_deps *, struct sn_req *,
                             struct sn_resp *);
void sn_h_trust_policy_create(const struct sn_deps *, struct sn_req *,
                              struct sn_resp *);
void sn_h_trust_policy_list(const struct sn_deps *, struct sn_req *,
                            struct sn_resp *);
void sn_h_trust_policy_delete(const struct sn_deps *, struct sn_req *,
                              struct sn_resp *);
void sn_h_oidc_exchange(const struct sn_deps *, struct sn_req *,
                        struct sn_resp *);
/* issue 17: sign requests awaiting approval (h_signreq.c) */
void sn_h_sign_request_list(const struct sn_deps *, struct sn_req *,
                            struct sn_resp *);
void sn_h_sign_request_get(const struct sn_deps *, struct sn_req *,
                           struct sn_resp *);
void sn_h_sign_request_approve(const struct sn_deps *, struct sn_req *,
                               struct sn_resp *);
void sn_h_sign_request_deny(const struct sn_deps *, struct sn_req *,
                            struct sn_resp *);
void sn_h_sign_request_cancel(const struct sn_deps *, struct sn_req *,
                              struct sn_resp *);
/* issue 18: reports of Suspect Code and key compromise (h_reports.c) */
void sn_h_report_create(const struct sn_deps *, struct sn_req *,
                        struct sn_resp *);
void sn_h_report_list(const struct sn_deps *, struct sn_req *,
                      struct sn_resp *);
void sn_h_report_get(const struct sn_deps *, struct sn_req *, struct sn_resp *);
void sn_h_report_confirm(const struct sn_deps *, struct sn_req *,
                         struct sn_resp *);
void sn_h_report_reject(const struct sn_deps *, struct sn_req *,
                        struct sn_resp *);
void sn_h_report_notice_key(const struct sn_deps *, struct sn_req *,
                            struct sn_resp *);

/*
 * Shared by key handlers: loads key id for the caller, if the policy
 * allows action (SN_ACT_KEY_READ, _MANAGE or _SIGN) on it. Another
 * subscriber's key answers exactly like a missing one (API_NOT_FOUND) and
 * is recorded as a security event. On failure resp is filled and non-zero
 * is returned.
 */
int sn_load_key(const struct sn_deps *deps, struct sn_req *req,
                struct sn_resp *resp, enum sn_action action,
                struct sn_key *key);
/* The same with sn_store_key_brief's view of the key (the signing path). */
int sn_load_key_brief(const struct sn_deps *deps, struct sn_req *req,
                      struct sn_resp *resp, enum sn_action action,
                      struct sn_key *key);

/*
 * Asks the policy whether the caller may do action to r (NULL: not looked
 * up yet, see policy.h). 0 if allowed; otherwise resp is the answer
 * (API_NOT_FOUND for a hidden resource, else API_FORBIDDEN), the denial is
 * audited where the policy asks, and non-zero is returned.
 */
int sn_allowed(const struct sn_deps *deps, struct sn_req *req,
               struct sn_resp *resp, enum sn_action action,
               const struct sn_resource *r);

/*
 * quota.key_generations: a subscriber's key generations are counted from
 * their admission, before they are queued (server.c), until they are
 * answered, so that one tenant cannot fill the generation queue.
 * sn_keygen_admit: how many with this one, or 0 (nothing counted) if that
 * would be more than max.
 */
unsigned sn_keygen_admit(const char *subscriber, unsigned max);
void sn_keygen_done(const char *subscriber);
unsigned sn_keygen_inflight(const char *subscriber);

struct sn_body_sign;
struct sn_kp_approvals;
/*
 * issue 17: a digest signing request (in, already decided by the key's
 * signing policy) with a key whose policy requires the approvals ap:
 * stores it as a sign request, records it, and answers 202 with its id,
 * Location and Retry-After. 0 if so; otherwise resp says why (503).
 */
int sn_sign_request_open(const struct sn_deps *deps, struct sn_req *req,
                         struct sn_resp *resp, const struct sn_key *k,
                         const struct sn_body_sign *in,
                         const struct sn_kp_approvals *ap);
/*
 * The sign requests' sweeper (the daemon calls it every few seconds):
 * pending requests past their expiry become expired, approved ones whose
 * release stalled become failed, each with its audit record.
 */
void sn_sign_requests_sweep(const struct sn_deps *deps, time_t now);
/* A key's policy changed: its pending sign requests fail (votes counted
 * under the old approvers and k would otherwise release them). */
void sn_sign_requests_fail_for_key(const struct sn_deps *deps,
                                   const char *subscriber, const char *key,
                                   time_t now);

/*
 * issue 18, a confirmed report: revokes for keyCompromise every
 * certificate of Signet's CA whose public key is spki (DER
 * SubjectPublicKeyInfo), from when: kept earlier if the key already has
 * an earlier date, moved to its first certificate's notBefore if before
 * it. Each change is audited with why; the key records are disabled, new
 * CRLs published and cached OCSP answers dropped (h_ca.c). *revoked: the
 * key's certificates, *date: the date set. SN_ERR_NOT_FOUND if Signet's
 * CA never certified the key (nothing changes).
 */
sn_err sn_ca_key_compromise(const struct sn_deps *deps, struct sn_req *req,
                            const uint8_t *spki, size_t len, time_t when,
                            const char *why, unsigned *revoked, time_t *date);
/* issue 18: the reports' chore, every few seconds (the daemon's main
 * loop): the overdue counts for /metrics (h_reports.c). */
void sn_reports_sweep(const struct sn_deps *deps, time_t now);
/*
 * issue 18: the notice owed to another CA about key of report id, as the
 * webhook sends it (docs/reports.md): compact JSON with sorted keys
 * (*out malloc'd) holding the report, its evidence, the key and its
 * attached certificate, and each matched signing event with its log
 * entry and inclusion proof (null until a checkpoint covers it).
 * SN_ERR_NOT_FOUND if the report holds no such key.
 */
sn_err sn_report_notice_json(const struct sn_deps *deps, const char *id,
                             const char *key_id, time_t now, char **out);

/* Starts an audit record for req: time, caller's token, client address. */
void sn_audit_init(struct sn_audit *a, const struct sn_req *req,
                   const char *subscriber, const char *key, const char *action);
/* issue 18: what the log shows of a signature: SHA-256 of its value (sig
 * may be NULL) and of the key's SubjectPublicKeyInfo. */
void sn_audit_signature(struct sn_audit *a, const struct sn_key *k,
                        const uint8_t *sig, size_t siglen);
/* A fresh random salt for the digest's commitment (log_digests
 * "commitment"); SN_OK without effect when commit is 0. */
sn_err sn_audit_salt(struct sn_audit *a, int commit);

/* JSON views of stored objects and times (request bodies: bodies.h). */
json_t *sn_key_json(const struct sn_key *k);
json_t *sn_time_json(time_t t);
json_t *sn_token_json(const struct sn_token *t);
/* The same view of the caller (whoami). */
json_t *sn_principal_json(const struct sn_principal *p);

#endif
