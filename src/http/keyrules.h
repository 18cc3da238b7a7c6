/*
 * keyrules: the signing policies on the signing path (issue 16). Holds the
 * parsed policies of keys and subscribers (cached like key briefs: read
 * from the store once, dropped when PUT or DELETE changes them) and the
 * per-key quota counters; decides each signing request before the HSM is
 * asked. The daemon makes one (src/daemon/app.c) and hands it to the
 * handlers in deps.
 */
#ifndef SN_KEYRULES_H
#define SN_KEYRULES_H

#include <stddef.h>
#include <time.h>

#include "http/api.h"
#include "http/deps.h"
#include "policy/keypolicy.h"

/* require_strong_auth: the instance default (auth.require_strong_auth). */
sn_err sn_keyrules_new(int require_strong_auth, struct sn_keyrules **out);
void sn_keyrules_free(struct sn_keyrules *kr);
/* Another node changed a policy: every cached one goes. */
void sn_keyrules_forget(struct sn_keyrules *kr);

/* What a signing request was allowed, for its records and a refund. */
struct sn_sign_ticket {
    char key[SN_UUID_LEN];
    uint64_t counted; /* signatures taken from the key's quota */
    time_t at;
    char policy[64]; /* the audit record's decision: "allow key", ... */
    /* issue 17: the key's policy requires approvals (required > 0): the
     * request waits for them (a sign request) and nothing was counted */
    struct sn_kp_approvals approvals;
    /* issue 18: the log shows salted commitments to the digests */
    int commit_digests;
};

/*
 * Asks k's signing policy (its own, else its subscriber's default, else
 * the instance default) whether req's caller may make n signatures now,
 * and if so takes them from the key's quota. 0 if allowed (*t filled);
 * otherwise resp is the answer (403 naming the rule, or 429 with
 * Retry-After for a quota), the denial is counted for the audit log, and
 * non-zero is returned. n 0: decide without counting (a precheck). A key
 * whose policy requires approvals is decided but not counted: t->approvals
 * says so, and its quota is taken when the approval releases the
 * signatures (sn_sign_policy_release).
 */
int sn_sign_policy(const struct sn_deps *deps, struct sn_req *req,
                   struct sn_resp *resp, const struct sn_key *k, size_t n,
                   struct sn_sign_ticket *t);
/*
 * The release of an approved sign request (issue 17): takes n signatures
 * from k's quota, under the key's policy as it is now (the request itself
 * was decided when it was made). 0 if allowed (*t filled); otherwise why
 * names the quota and non-zero is returned.
 */
int sn_sign_policy_release(const struct sn_deps *deps, const struct sn_key *k,
                           size_t n, struct sn_sign_ticket *t, char *why,
                           size_t whylen);
/* Gives back the signatures of t that were never made (the HSM failed). */
void sn_sign_policy_refund(const struct sn_deps *deps,
                           const struct sn_sign_ticket *t);

#endif
