/*
 * h_sign: signing digests and files. The request names a key, a digest
 * algorithm from a closed set and digests of exactly the right length;
 * every signature is in the audit log, committed, before it is returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/cms.h"
#include "crypto/x509util.h"
#include "http/bodies.h"
#include "http/handlers.h"
#include "http/hsmsign.h"
#include "http/keyrules.h"

static int
key_usable(const struct sn_key *k, struct sn_resp *resp)
{
    if (k->state != SN_KEY_ENABLED) {
        sn_resp_error(resp, API_KEY_STATE,
                      "the key is %s; only enabled keys "
                      "sign",
                      sn_key_state_name(k->state));
        return -1;
    }
    return 0;
}

/*
 * Approvals (issue 17) release digests: a key whose policy requires them
 * signs no file on the server (the approvers could not see what the
 * signature covers before the upload ends). 0 if the key needs none.
 */
static int
approval_refused(struct sn_resp *resp, const struct sn_sign_ticket *t)
{
    if (t->approvals.required == 0)
        return 0;
    sn_resp_error(resp, API_APPROVAL_REQUIRED,
                  "this key's policy requires %u approval(s): sign-file "
                  "cannot wait for them; hash the file and sign the digest "
                  "(POST /v1/keys/{id}/sign, or signet sign without "
                  "--upload), which opens a sign request",
                  t->approvals.required);
    return -1;
}

/* Signature i's record. */
static void
record_signed(struct sn_audit *a, const struct sn_req *req,
              const struct sn_key *k, const struct sn_body_sign *in, size_t i,
              const struct sn_sign_ticket *t)
{
    sn_audit_init(a, req, k->subscriber, k->id, "sign");
    snprintf(a->policy, sizeof(a->policy), "%s", t->policy);
    snprintf(a->digest_alg, sizeof(a->digest_alg), "%s",
             sn_digest_name(in->md));
    sn_hex_encode(in->digests[i], sn_digest_len(in->md), a->digest);
    snprintf(a->scheme, sizeof(a->scheme), "%s", sn_scheme_name(in->scheme));
}

/* The HSM failed at signature i: the signatures made so far are not
 * returned, but they were made, so they are recorded with the failure. */
static void
record_failed_batch(const struct sn_deps *deps, const struct sn_req *req,
                    const struct sn_key *k, const struct sn_sign_ticket *t,
                    struct sn_audit *recs, size_t i, sn_err r)
{
    sn_audit_init(&recs[i], req, k->subscriber, k->id, "sign");
    snprintf(recs[i].result, sizeof(recs[i].result), "error");
    snprintf(recs[i].detail, sizeof(recs[i].detail),
             "HSM: %s; %zu signature(s) of the batch made, none returned",
             sn_err_str(r), i);
    snprintf(recs[i].policy, sizeof(recs[i].policy), "%s", t->policy);
    if (sn_store_audit_add_many(deps->store, recs, i + 1) != SN_OK)
        sn_error("audit: cannot record a failed batch");
}

void
sn_h_sign(const struct sn_deps *deps, struct sn_req *req, struct sn_resp *resp)
{
    struct sn_audit *recs = NULL;
    struct sn_sign_ticket ticket;
    struct sn_hsm_signer hs;
    struct sn_body_sign in;
    struct sn_body_fault f;
    uint8_t *sig = NULL;
    size_t siglen, i;
    char *b64 = NULL;
    json_t *sigs = NULL, *o;
    struct sn_key k;
    sn_err r;

    memset(&in, 0, sizeof(in));
    if (sn_load_key_brief(deps, req, resp, SN_ACT_KEY_SIGN, &k) != 0)
        return;
    if (sn_body_sign(req->json, sn_keyalg_is_rsa(k.alg), &in, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        goto out;
    }
    if (key_usable(&k, resp))
        goto out;
    /* The key's signing policy; a batch of n takes n from its quota. */
    if (sn_sign_policy(deps, req, resp, &k, in.n, &ticket) != 0)
        goto out;
    /* Approvals required (issue 17): the request waits for them. */
    if (ticket.approvals.required > 0) {
        (void)sn_sign_request_open(deps, req, resp, &k, &in, &ticket.approvals);
        goto out;
    }
    if (sn_hsm_signer_init(deps, &k, &hs) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE,
                      "the subscriber's HSM partition is unavailable");
        sn_sign_policy_refund(deps, &ticket);
        goto out;
    }
    if ((recs = calloc(in.n, sizeof(*recs))) == NULL ||
        (sigs = json_array()) == NULL) {
        sn_resp_error(resp, API_UNAVAILABLE, "out of memory");
        sn_sign_policy_refund(deps, &ticket);
        goto out;
    }
    for (i = 0; i < in.n; i++) {
        struct timespec t0, t1;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = sn_keeper_sign_digest(deps->keeper, k.subscriber, k.id, in.md,
                                  in.scheme, in.digests[i],
                                  sn_digest_len(in.md), &sig, &siglen);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (r != SN_OK) {
            record_failed_batch(deps, req, &k, &ticket, recs, i, r);
            /* None of the batch is returned: none is counted. */
            sn_sign_policy_refund(deps, &ticket);
            sn_resp_error(resp, API_UNAVAILABLE, "the HSM could not sign");
            goto out;
        }
        sn_metrics_signature(deps->metrics, k.alg,
                             (double)(t1.tv_sec - t0.tv_sec) +
                                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        record_signed(&recs[i], req, &k, &in, i, &ticket);
        sn_audit_signature(&recs[i], &k, sig, siglen);
        r = sn_audit_salt(&recs[i], ticket.commit_digests);
        if (r == SN_OK)
            r = sn_b64_encode(sig, siglen, &b64);
        free(sig);
        sig = NULL;
        if (r != SN_OK) {
            sn_resp_error(resp, API_UNAVAILABLE, "out of memory");
            goto out;
        }
        json_array_append_new(sigs, json_string(b64));
        free(b64);
        b64 = NULL;
    }
    o = json_pack("{s:s, s:s, s:s}", "key", k.id, "digest_algorithm",
                  sn_digest_name(in.md), "scheme", sn_scheme_name(in.scheme));
    if (o != NULL && in.batch)
        json_object_set(o, "signatures", sigs);
    else if (o != NULL)
        json_object_set(o, "signature", json_array_get(sigs, 0));
    sn_resp_json(resp, API_OK, o);
    /* No record, no signature: the response leaves only once the records
     * are committed (the HTTP layer waits without holding a thread). */
    if (resp->code == API_OK) {
        resp->audit = recs;
        resp->naudit = in.n;
        resp->log_field = 1;
        resp->audit_fail_message =
            "the audit log is unavailable; nothing was signed";
        recs = NULL;
    }
out:
    json_decref(sigs);
    free(recs);
    sn_body_sign_cleanup(&in);
    sn_key_cleanup(&k);
}

void
sn_h_sign_file_check(const struct sn_deps *deps, struct sn_req *req,
                     struct sn_resp *resp)
{
    const char *mdname = sn_req_query(req, "digest_algorithm");
    struct sn_sign_ticket ticket;
    struct sn_key k;

    if (sn_load_key(deps, req, resp, SN_ACT_KEY_SIGN, &k) != 0)
        return;
    req->file_md = SN_MD_SHA256;
    if (mdname != NULL && sn_digest_from_name(mdname, &req->file_md) != SN_OK)
        sn_resp_error(resp, API_UNSUPPORTED_ALG,
                      "digest_algorithm must be sha256, sha384 or sha512");
    else if (key_usable(&k, resp) != 0)
        ; /* resp says why */
    else if (k.cert_pem == NULL)
        sn_resp_error(resp, API_NO_CERT,
                      "attach a certificate first (PUT "
                      "/v1/keys/{id}/certificate): a CMS signature carries "
                      "the signer's certificate");
    /* the policy, before the upload (counted at its end) */
    else if (sn_sign_policy(deps, req, resp, &k, 0, &ticket) == 0)
        (void)approval_refused(resp, &ticket);
    sn_key_cleanup(&k);
}

void
sn_h_sign_file(const struct sn_deps *deps, struct sn_req *req,
               struct sn_resp *resp)
{
    STACK_OF(X509) *chain = NULL;
    struct sn_sign_ticket ticket;
    struct sn_hsm_signer hs;
    uint8_t *der = NULL;
    size_t derlen = 0;
    struct sn_audit a;
    struct sn_key k;

    if (sn_load_key(deps, req, resp, SN_ACT_KEY_SIGN, &k) != 0)
        return;
    if (key_usable(&k, resp) != 0)
        goto out;
    /* An upload can take long: the token must still be good at its end. */
    if (sn_auth_recheck(deps->store, req->who) != SN_AUTH_OK) {
        sn_resp_error(resp, API_UNAUTHORIZED,
                      "the token was revoked or expired during the upload");
        goto out;
    }
    if (k.cert_pem == NULL ||
        sn_chain_from_pem(k.cert_pem, strlen(k.cert_pem), &chain) != SN_OK) {
        sn_resp_error(resp, API_NO_CERT, "no usable certificate attached");
        goto out;
    }
    /* Decided again at the end of the upload (a window may have closed),
     * and one signature taken from the key's quota. */
    if (sn_sign_policy(deps, req, resp, &k, 1, &ticket) != 0 ||
        approval_refused(resp, &ticket) != 0)
        goto out;
    if (sn_hsm_signer_init(deps, &k, &hs) != SN_OK ||
        sn_cms_sign_detached(chain, req->file_md, req->file_digest,
                             req->file_digest_len, time(NULL), sn_hsm_signer_cb,
                             &hs, &der, &derlen) != SN_OK) {
        sn_sign_policy_refund(deps, &ticket);
        sn_resp_error(resp, API_UNAVAILABLE, "the HSM could not sign");
        goto out;
    }
    sn_audit_init(&a, req, k.subscriber, k.id, "sign_file");
    snprintf(a.policy, sizeof(a.policy), "%s", ticket.policy);
    snprintf(a.digest_alg, sizeof(a.digest_alg), "%s",
             sn_digest_name(req->file_md));
    sn_hex_encode(req->file_digest, req->file_digest_len, a.digest);
    snprintf(a.scheme, sizeof(a.scheme), "%s",
             sn_keyalg_is_rsa(k.alg) ? "pkcs1" : "ecdsa");
    snprintf(a.detail, sizeof(a.detail), "%llu bytes, detached CMS",
             (unsigned long long)req->file_bytes);
    sn_audit_signature(&a, &k, NULL, 0);
    memcpy(a.sig_sha256, hs.sig_sha256, sizeof(a.sig_sha256));
    if (sn_audit_salt(&a, ticket.commit_digests) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "no randomness");
        goto out;
    }
    if (sn_store_audit_add(deps->store, &a) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE,
                      "the audit log is unavailable; nothing was signed");
        goto out;
    }
    resp->code = API_OK;
    resp->raw = der;
    resp->raw_len = derlen;
    resp->raw_type = "application/pkcs7-signature";
    if (a.log_index >= 0)
        (void)sn_resp_header(resp, "Signet-Log-Index", "%lld",
                             (long long)a.log_index);
    der = NULL;
out:
    free(der);
    sk_X509_pop_free(chain, X509_free);
    sn_key_cleanup(&k);
}
