/*
 * handlers: one function per API route. Each reads the validated request,
 * acts through the store and HSM, and fills the response with an api code;
 * none of them knows HTTP statuses or MHD.
 */
#ifndef SN_HANDLERS_H
#define SN_HANDLERS_H

#include "http/api.h"
#include "daemon/app.h"
#include "policy/policy.h"

typedef void (*sn_handler)(struct sn_app *app, struct sn_req *req,
                           struct sn_resp *resp);

void sn_h_healthz(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_whoami(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_subscriber_create(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_subscriber_list(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_token_create(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_token_revoke(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_key_import(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_key_create(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_key_list(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_key_show(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_key_disable(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_key_enable(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_key_destroy(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_key_csr(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_cert_put(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_cert_get(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_sign(struct sn_app *, struct sn_req *, struct sn_resp *);
/* sign-file: the precheck runs before the body is streamed. */
void sn_h_sign_file_check(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_sign_file(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_audit(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_identity_put(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_identity_get(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_attestation(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_ca_issue(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_ca_cert_get(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_ca_revoke(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_ca_bundle(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_ca_cert_der(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_ca_crl(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_ca_ocsp(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_tsa(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_tsa_authenticode(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_tsa_rotate(struct sn_app *, struct sn_req *, struct sn_resp *);
void sn_h_tsa_clock_ok(struct sn_app *, struct sn_req *, struct sn_resp *);

/*
 * Shared by key handlers: loads key id for the caller, if the policy
 * allows action (SN_ACT_KEY_READ, _MANAGE or _SIGN) on it. Another
 * subscriber's key answers exactly like a missing one (API_NOT_FOUND) and
 * is recorded as a security event. On failure resp is filled and non-zero
 * is returned.
 */
int sn_load_key(struct sn_app *app, struct sn_req *req, struct sn_resp *resp,
                enum sn_action action, struct sn_key *key);
/* The same with sn_store_key_brief's view of the key (the signing path). */
int sn_load_key_brief(struct sn_app *app, struct sn_req *req,
                      struct sn_resp *resp, enum sn_action action,
                      struct sn_key *key);

/*
 * Asks the policy whether the caller may do action to r (NULL: not looked
 * up yet, see policy.h). 0 if allowed; otherwise resp is the answer
 * (API_NOT_FOUND for a hidden resource, else API_FORBIDDEN), the denial is
 * audited where the policy asks, and non-zero is returned.
 */
int sn_allowed(struct sn_app *app, struct sn_req *req, struct sn_resp *resp,
               enum sn_action action, const struct sn_resource *r);

/* JSON views of stored objects and times (request bodies: bodies.h). */
json_t *sn_key_json(const struct sn_key *k);
json_t *sn_time_json(time_t t);
json_t *sn_token_json(const struct sn_token *t);
/* The same view of the caller (whoami). */
json_t *sn_principal_json(const struct sn_principal *p);

#endif
