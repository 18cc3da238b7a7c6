/*
 * h_keys: key life cycle. Keys are generated in the subscriber's own HSM
 * partition and judged by the protection facts read back from the module;
 * no route moves a private key in or out. Bodies are untrusted JSON/PEM.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/attest.h"
#include "crypto/chain.h"
#include "crypto/peercert.h"
#include "crypto/x509util.h"
#include "http/bodies.h"
#include "http/handlers.h"
#include "http/hsmsign.h"

void
sn_h_key_import(const struct sn_deps *deps, struct sn_req *req,
                struct sn_resp *resp)
{
    struct sn_decision d;
    struct sn_audit a;

    /* Never allowed; a subscriber's attempt is recorded. */
    sn_policy_decide(req->who, SN_ACT_KEY_IMPORT, NULL, &d);
    if (d.audit_subscriber != NULL) {
        sn_audit_init(&a, req, d.audit_subscriber, "", "denied");
        snprintf(a.result, sizeof(a.result), "denied");
        snprintf(a.detail, sizeof(a.detail), "%s", d.audit_detail);
        sn_store_audit_add(deps->store, &a);
    }
    sn_resp_error(resp, API_IMPORT_FORBIDDEN, "%s", d.message);
}

static sn_err
key_audit(const struct sn_deps *deps, struct sn_req *req,
          const struct sn_key *k, const char *action, const char *result,
          const char *detail)
{
    struct sn_audit a;
    sn_err r;

    sn_audit_init(&a, req, k->subscriber, k->id, action);
    snprintf(a.result, sizeof(a.result), "%s", result);
    snprintf(a.detail, sizeof(a.detail), "%s", detail);
    sn_audit_signature(&a, k, NULL, 0);
    if ((r = sn_store_audit_add(deps->store, &a)) != SN_OK)
        sn_error("audit: cannot record %s of key %s", action, k->id);
    return r;
}

/* The key generation's detail: algorithm, label and the SHA-256 of its
 * attestation certificate (DER), which the log entry then names. */
static void
generated_detail(const struct sn_key *k, char *buf, size_t len)
{
    char fp[65] = "-";
    BIO *b = BIO_new_mem_buf(k->att_pem, -1);
    X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

    if (x == NULL || sn_peercert_fingerprint(x, fp) != SN_OK)
        snprintf(fp, sizeof(fp), "-");
    snprintf(buf, len, "%s '%.64s' attestation-sha256=%s",
             sn_keyalg_name(k->alg), k->label, fp);
    X509_free(x);
    BIO_free(b);
}

/*
 * Key generations in progress, by subscriber (quota.key_generations): one
 * tenant's generations must not take every worker. A generation holds a
 * worker thread, so no more than server.threads (at most 256) slots are
 * ever in use.
 */
#define GEN_SLOTS 256

struct gen_slot {
    char subscriber[SN_UUID_LEN];
    unsigned n;
};

static pthread_mutex_t gen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gen_slot gen_slots[GEN_SLOTS];

/* Counts one more generation for subscriber; how many it has now, with
 * this one, or 0 if that would be more than max (nothing counted). */
unsigned
sn_keygen_admit(const char *subscriber, unsigned max)
{
    struct gen_slot *s = NULL;
    unsigned n = 0;
    size_t i;

    pthread_mutex_lock(&gen_lock);
    for (i = 0; i < GEN_SLOTS; i++) {
        if (gen_slots[i].n > 0 &&
            strcmp(gen_slots[i].subscriber, subscriber) == 0) {
            s = &gen_slots[i];
            break;
        }
        if (gen_slots[i].n == 0 && s == NULL)
            s = &gen_slots[i];
    }
    if (s != NULL && s->n < max) {
        if (s->n == 0)
            snprintf(s->subscriber, sizeof(s->subscriber), "%s", subscriber);
        n = ++s->n;
    }
    pthread_mutex_unlock(&gen_lock);
    return n;
}

unsigned
sn_keygen_inflight(const char *subscriber)
{
    unsigned n = 0;
    size_t i;

    pthread_mutex_lock(&gen_lock);
    for (i = 0; i < GEN_SLOTS && n == 0; i++)
        if (gen_slots[i].n > 0 &&
            strcmp(gen_slots[i].subscriber, subscriber) == 0)
            n = gen_slots[i].n;
    pthread_mutex_unlock(&gen_lock);
    return n;
}

void
sn_keygen_done(const char *subscriber)
{
    size_t i;

    pthread_mutex_lock(&gen_lock);
    for (i = 0; i < GEN_SLOTS; i++) {
        if (gen_slots[i].n > 0 &&
            strcmp(gen_slots[i].subscriber, subscriber) == 0) {
            gen_slots[i].n--;
            break;
        }
    }
    pthread_mutex_unlock(&gen_lock);
}

/*
 * quota.keys: the subscriber's keys (destroyed ones not counted) and its
 * generations in progress (inflight, this one included) stay within the
 * quota. 0 if so; otherwise resp is the answer.
 */
static int
key_quota_ok(const struct sn_deps *deps, const char *subscriber,
             unsigned inflight, struct sn_resp *resp)
{
    struct sn_usage u;

    if (sn_store_usage(deps->store, subscriber, 0, &u) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return -1;
    }
    if (u.keys + inflight > deps->quota.keys) {
        sn_resp_error(resp, API_CONFLICT,
                      "the subscriber holds %llu keys (%u being generated) "
                      "and its quota is %u (quota.keys); destroy keys it "
                      "no longer needs",
                      (unsigned long long)u.keys, inflight - 1,
                      deps->quota.keys);
        return -1;
    }
    return 0;
}

/* Generates the key in the subscriber's partition, attests and records
 * it; the key is destroyed again if any later step fails. */
static void
create_key(const struct sn_deps *deps, struct sn_req *req, struct sn_resp *resp,
           const struct sn_body_key *body)
{
    const struct sn_principal *who = req->who;
    struct sn_keeper_key made;
    char detail[256];
    struct sn_key k;
    sn_err r;

    memset(&k, 0, sizeof(k));
    memset(&made, 0, sizeof(made));
    k.alg = body->alg;
    if (sn_uuid(k.id) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "no randomness");
        return;
    }
    snprintf(k.subscriber, sizeof(k.subscriber), "%s", who->subscriber);
    snprintf(k.label, sizeof(k.label), "%s", body->label);
    k.state = SN_KEY_ENABLED;
    k.created_at = time(NULL);
    /* The keeper generates, reads the protection facts itself (a key
     * whose facts are not acceptable is destroyed there) and attests. */
    r = sn_keeper_key_generate(deps->keeper, k.subscriber, k.id, k.alg,
                               k.created_at, &made);
    if (r != SN_OK) {
        key_audit(deps, req, &k, "key_generate",
                  r == SN_ERR_HSM_PROTECTION ? "rejected" : "error",
                  r == SN_ERR_HSM_PROTECTION
                      ? "protection facts not acceptable; key destroyed"
                      : sn_err_str(r));
        if (r == SN_ERR_HSM_PROTECTION)
            sn_resp_error(resp, API_UNAVAILABLE,
                          "the HSM protection facts not acceptable (the "
                          "keeper read them); key destroyed");
        else
            sn_resp_error(resp, API_UNAVAILABLE, "key generation failed: %s",
                          sn_err_str(r));
        goto out;
    }
    k.spki = made.spki;
    k.spki_len = made.spki_len;
    made.spki = NULL;
    k.facts = made.facts;
    k.hsm = made.hsm;
    /* The attestation the keeper made: for this key, by the issuer. */
    if (sn_ca_attestation_adopt(deps->ca, made.att_der, made.att_len, k.spki,
                                k.spki_len, &k.att_pem) != SN_OK) {
        sn_keeper_key_destroy(deps->keeper, k.subscriber, k.id);
        key_audit(deps, req, &k, "key_generate", "error",
                  "attestation unusable; key destroyed");
        sn_resp_error(resp, API_UNAVAILABLE,
                      "the attestation certificate could not be made");
        goto out;
    }
    if (sn_store_key_add(deps->store, &k) != SN_OK) {
        sn_keeper_key_destroy(deps->keeper, k.subscriber, k.id);
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    generated_detail(&k, detail, sizeof(detail));
    /* No record (no log entry), no key: it is destroyed again. */
    if (key_audit(deps, req, &k, "key_generate", "ok", detail) != SN_OK) {
        sn_keeper_key_destroy(deps->keeper, k.subscriber, k.id);
        (void)sn_store_key_transition(
            deps->store, k.id, SN_KEY_FROM(SN_KEY_ENABLED), SN_KEY_DESTROYED);
        sn_resp_error(resp, API_UNAVAILABLE,
                      "the audit log is unavailable; the key was destroyed");
        goto out;
    }
    sn_info("key %s (%s) generated for subscriber %s", k.id,
            sn_keyalg_name(k.alg), k.subscriber);
    sn_resp_json(resp, API_CREATED, sn_key_json(&k));
out:
    sn_keeper_key_cleanup(&made);
    sn_key_cleanup(&k);
}

void
sn_h_key_create(const struct sn_deps *deps, struct sn_req *req,
                struct sn_resp *resp)
{
    const struct sn_principal *who = req->who;
    struct sn_body_key body;
    struct sn_body_fault f;
    unsigned inflight;

    if (sn_allowed(deps, req, resp, SN_ACT_KEY_CREATE, NULL) != 0)
        return;
    if (sn_body_key(req->json, &body, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        return;
    }
    /* This one was admitted (counted) before it was queued: server.c. */
    inflight = sn_keygen_inflight(who->subscriber);
    if (key_quota_ok(deps, who->subscriber, inflight > 0 ? inflight : 1,
                     resp) == 0)
        create_key(deps, req, resp, &body);
}

void
sn_h_key_list(const struct sn_deps *deps, struct sn_req *req,
              struct sn_resp *resp)
{
    const struct sn_principal *who = req->who;
    struct sn_key *keys = NULL;
    struct sn_resource res;
    size_t n = 0, i;
    json_t *arr;

    if (sn_allowed(deps, req, resp, SN_ACT_KEY_LIST, NULL) != 0)
        return;
    if (sn_store_key_list(deps->store, who->subscriber, &keys, &n) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    arr = json_array();
    for (i = 0; i < n; i++) {
        /* A token limited to some keys sees only those. */
        memset(&res, 0, sizeof(res));
        res.subscriber = keys[i].subscriber;
        res.key = keys[i].id;
        if (sn_policy_decide(who, SN_ACT_KEY_LIST, &res, NULL) ==
            SN_POLICY_ALLOW)
            json_array_append_new(arr, sn_key_json(&keys[i]));
    }
    sn_key_list_free(keys, n);
    sn_resp_json(resp, API_OK, json_pack("{s:o}", "keys", arr));
}

void
sn_h_key_show(const struct sn_deps *deps, struct sn_req *req,
              struct sn_resp *resp)
{
    struct sn_key k;

    if (sn_load_key(deps, req, resp, SN_ACT_KEY_READ, &k) != 0)
        return;
    sn_resp_json(resp, API_OK, sn_key_json(&k));
    sn_key_cleanup(&k);
}

static void
set_state(const struct sn_deps *deps, struct sn_req *req, struct sn_resp *resp,
          enum sn_key_state from, enum sn_key_state to, const char *action)
{
    struct sn_key k;
    sn_err r;

    if (sn_load_key(deps, req, resp, SN_ACT_KEY_MANAGE, &k) != 0)
        return;
    /* The store moves the key only from the expected state (and never
     * enables a compromised key), in one statement. */
    r = sn_store_key_transition(deps->store, k.id, SN_KEY_FROM(from), to);
    if (r == SN_OK) {
        k.state = to;
        key_audit(deps, req, &k, action, "ok", "");
    } else if (r != SN_ERR_STATE) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    } else {
        sn_key_cleanup(&k);
        if (sn_store_key_get(deps->store, req->params[0], &k) != SN_OK) {
            sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
            goto out;
        }
        if (k.state != to) {
            sn_resp_error(resp, API_KEY_STATE, "the key is %s%s",
                          sn_key_state_name(k.state),
                          to == SN_KEY_ENABLED && k.state == SN_KEY_DISABLED
                              ? " and stays so: a certificate of it was "
                                "revoked for key compromise"
                              : "");
            goto out;
        }
    }
    sn_resp_json(resp, API_OK, sn_key_json(&k));
out:
    sn_key_cleanup(&k);
}

void
sn_h_key_disable(const struct sn_deps *deps, struct sn_req *req,
                 struct sn_resp *resp)
{
    set_state(deps, req, resp, SN_KEY_ENABLED, SN_KEY_DISABLED, "key_disable");
}

void
sn_h_key_enable(const struct sn_deps *deps, struct sn_req *req,
                struct sn_resp *resp)
{
    set_state(deps, req, resp, SN_KEY_DISABLED, SN_KEY_ENABLED, "key_enable");
}

void
sn_h_key_destroy(const struct sn_deps *deps, struct sn_req *req,
                 struct sn_resp *resp)
{
    struct sn_key k;
    sn_err r;

    if (sn_load_key(deps, req, resp, SN_ACT_KEY_MANAGE, &k) != 0)
        return;
    if (k.state == SN_KEY_DESTROYED) {
        sn_resp_error(resp, API_KEY_STATE, "the key is already destroyed");
        goto out;
    }
    if (sn_keeper_ping(deps->keeper) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE,
                      "the subscriber's HSM partition is unavailable");
        goto out;
    }
    /* Claim the key first: once the record says destroyed nothing signs
     * with it or enables it again, whatever the HSM says next. */
    r = sn_store_key_transition(deps->store, k.id,
                                SN_KEY_FROM(SN_KEY_ENABLED) |
                                    SN_KEY_FROM(SN_KEY_DISABLED),
                                SN_KEY_DESTROYED);
    if (r == SN_ERR_STATE) {
        sn_resp_error(resp, API_KEY_STATE, "the key is already destroyed");
        goto out;
    }
    if (r != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    r = sn_keeper_key_destroy(deps->keeper, k.subscriber, k.id);
    if (r != SN_OK && r != SN_ERR_NOT_FOUND) {
        k.state = SN_KEY_DESTROYED;
        key_audit(deps, req, &k, "key_destroy", "error", sn_err_str(r));
        sn_resp_error(resp, API_UNAVAILABLE,
                      "the key is destroyed for signing, but the HSM could "
                      "not remove the object: %s",
                      sn_err_str(r));
        goto out;
    }
    k.state = SN_KEY_DESTROYED;
    key_audit(deps, req, &k, "key_destroy", "ok",
              r == SN_OK ? "private key destroyed in the HSM"
                         : "private key was already absent from the HSM");
    sn_resp_json(resp, API_OK, sn_key_json(&k));
out:
    sn_key_cleanup(&k);
}

void
sn_h_key_csr(const struct sn_deps *deps, struct sn_req *req,
             struct sn_resp *resp)
{
    struct sn_body_csr body;
    struct sn_body_fault f;
    struct sn_hsm_signer hs;
    struct sn_audit a;
    EVP_PKEY *pub = NULL;
    X509 *att = NULL;
    char *pem = NULL;
    struct sn_key k;

    if (sn_load_key(deps, req, resp, SN_ACT_KEY_MANAGE, &k) != 0)
        return;
    memset(&body, 0, sizeof(body));
    if (sn_body_csr(req->json, &body, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        goto out;
    }
    if (k.state != SN_KEY_ENABLED) {
        sn_resp_error(resp, API_KEY_STATE, "the key is %s",
                      sn_key_state_name(k.state));
        goto out;
    }
    if (sn_hsm_signer_init(deps, &k, &hs) != SN_OK ||
        sn_pubkey_from_der(k.spki, k.spki_len, &pub) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE,
                      "the subscriber's HSM partition is unavailable");
        goto out;
    }
    if (k.att_pem != NULL &&
        sn_ca_attestation_certs(deps->ca, k.att_pem, &att) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "stored attestation unreadable");
        goto out;
    }
    /* The request carries the key's attestation (id-aa-attestation). */
    if (sn_csr_build_ex(pub, body.subject, body.md, sn_hsm_signer_cb, &hs, att,
                        att ? deps->ca->cert[SN_CA_ATT_ISSUER] : NULL,
                        &deps->ca->oids, &pem) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE,
                      "the HSM could not sign the "
                      "request");
        goto out;
    }
    /* A CSR is a use of the key: no record, no CSR. */
    sn_audit_init(&a, req, k.subscriber, k.id, "key_csr");
    if (sn_store_audit_add(deps->store, &a) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE,
                      "the audit log is unavailable; no CSR was returned");
        goto out;
    }
    sn_resp_json(resp, API_OK, json_pack("{s:s}", "csr_pem", pem));
out:
    free(pem);
    X509_free(att);
    EVP_PKEY_free(pub);
    sn_body_csr_cleanup(&body);
    sn_key_cleanup(&k);
}

#define ROOT_FILE_MAX (256 * 1024) /* sn_chain_from_pem's limit */

/*
 * What an uploaded chain may end in: Signet's own root, and the roots in
 * the operator's ca.upload_root files (read at each upload: uploads are
 * rare, and this keeps no state). *known gets the issuing CA Signet
 * certifies code signing keys with, so that its leaves need no
 * intermediate uploaded. 0, or -1 with resp the answer.
 */
static int
upload_trust(const struct sn_deps *deps, STACK_OF(X509) **anchors,
             STACK_OF(X509) **known, struct sn_resp *resp)
{
    STACK_OF(X509) *file = NULL;
    uint8_t *pem = NULL;
    size_t len = 0, i;
    X509 *x;

    *anchors = sk_X509_new_null();
    *known = sk_X509_new_null();
    if (*anchors == NULL || *known == NULL ||
        !X509_up_ref(deps->ca->cert[SN_CA_ROOT]) ||
        !sk_X509_push(*anchors, deps->ca->cert[SN_CA_ROOT]) ||
        !X509_up_ref(deps->ca->cert[SN_CA_CODESIGNING]) ||
        !sk_X509_push(*known, deps->ca->cert[SN_CA_CODESIGNING]))
        goto fail;
    for (i = 0; i < deps->nupload_roots; i++) {
        if (sn_file_read(deps->upload_roots[i], ROOT_FILE_MAX, &pem, &len) !=
                SN_OK ||
            sn_chain_from_pem((const char *)pem, len, &file) != SN_OK) {
            sn_error("ca.upload_root %s: not a readable PEM certificate file",
                     deps->upload_roots[i]);
            goto fail;
        }
        free(pem);
        pem = NULL;
        while ((x = sk_X509_shift(file)) != NULL)
            if (!sk_X509_push(*anchors, x)) {
                X509_free(x);
                goto fail;
            }
        sk_X509_free(file);
        file = NULL;
    }
    return 0;
fail:
    free(pem);
    sk_X509_pop_free(file, X509_free);
    sk_X509_pop_free(*anchors, X509_free);
    sk_X509_pop_free(*known, X509_free);
    *anchors = *known = NULL;
    sn_resp_error(resp, API_UNAVAILABLE,
                  "the trust store for uploaded certificates cannot be "
                  "loaded");
    return -1;
}

/* The certificate in set that issued x (by name and key identifier; the
 * signature is the verification's to check), or NULL. */
static X509 *
issuer_in(STACK_OF(X509) *set, X509 *x)
{
    int i;

    for (i = 0; set != NULL && i < sk_X509_num(set); i++)
        if (sk_X509_value(set, i) != x &&
            X509_check_issued(sk_X509_value(set, i), x) == X509_V_OK)
            return sk_X509_value(set, i);
    return NULL;
}

/*
 * Completes an uploaded chain the way `key certify` leaves one (leaf,
 * issuing CA): walks from the leaf up through the uploaded certificates;
 * where the walk ends below a root, the certificate's issuer must be a
 * trusted root (nothing to add) or a CA Signet knows (appended: a bare
 * leaf of Signet's CA). Otherwise the chain cannot be completed: 0, or -1
 * with resp the answer.
 */
static int
chain_complete(const struct sn_deps *deps, struct sn_req *req,
               const struct sn_key *k, STACK_OF(X509) *chain,
               STACK_OF(X509) *anchors, STACK_OF(X509) *known,
               struct sn_resp *resp)
{
    X509 *top = sk_X509_value(chain, 0), *up;
    char issuer[160] = "?";
    int steps, n = sk_X509_num(chain), on_path = 1;

    for (steps = n; steps > 0; steps--) {
        if ((up = issuer_in(chain, top)) == NULL ||
            up == sk_X509_value(chain, 0))
            break;
        top = up;
        on_path++;
    }
    /* Only the leaf's own chain is stored (and embedded in signatures): a
     * certificate beside it, say a self-signed one naming anyone, is not
     * carried along by a chain that verifies without it. */
    if (on_path < n) {
        key_audit(deps, req, k, "key_certificate", "rejected",
                  "certificates beside the chain");
        sn_resp_error(resp, API_INVALID_FIELD,
                      "the upload holds %d certificate(s) that are not in the "
                      "leaf's chain; upload the leaf followed by its issuing "
                      "CA certificates only",
                      n - on_path);
        return -1;
    }
    if (X509_check_issued(top, top) == X509_V_OK ||
        issuer_in(anchors, top) != NULL)
        return 0;
    if ((up = issuer_in(known, top)) != NULL) {
        if (X509_up_ref(up) && sk_X509_push(chain, up))
            return 0;
        /* up_ref cannot fail on a live certificate; a failed push can. */
        X509_free(up);
        sn_resp_error(resp, API_UNAVAILABLE, "out of memory");
        return -1;
    }
    X509_NAME_oneline(X509_get_issuer_name(top), issuer, sizeof(issuer));
    key_audit(deps, req, k, "key_certificate", "rejected", "chain incomplete");
    sn_resp_error(resp, API_INVALID_FIELD,
                  "the certificate chain is incomplete: the issuer %.150s is "
                  "neither in the upload nor a CA Signet trusts; upload the "
                  "leaf followed by its issuing CA certificates",
                  issuer);
    return -1;
}

/*
 * The chain must be a code signing chain to a trusted root, valid now
 * (a self-signed leaf naming anyone would otherwise be embedded in the
 * subscriber's signatures); a bare leaf of Signet's own CA gets that CA
 * appended. 0, or -1 with resp the answer.
 */
static int
chain_trusted(const struct sn_deps *deps, struct sn_req *req,
              const struct sn_key *k, STACK_OF(X509) *chain,
              struct sn_resp *resp)
{
    STACK_OF(X509) *anchors = NULL, *known = NULL;
    char why[200];
    sn_err r;
    int ret = -1;

    if (upload_trust(deps, &anchors, &known, resp) != 0)
        return -1;
    if (chain_complete(deps, req, k, chain, anchors, known, resp) != 0)
        goto out;
    r = sn_chain_verify_codesigning(chain, anchors, known, time(NULL), why,
                                    sizeof(why));
    if (r == SN_OK) {
        ret = 0;
    } else if (r != SN_ERR_INVALID) {
        sn_resp_error(resp, API_UNAVAILABLE, "cannot verify the chain: %s",
                      sn_err_str(r));
    } else {
        key_audit(deps, req, k, "key_certificate", "rejected", why);
        sn_resp_error(resp, API_INVALID_FIELD,
                      "the certificate chain is not a code signing chain to "
                      "a trusted root: %s",
                      why);
    }
out:
    sk_X509_pop_free(anchors, X509_free);
    sk_X509_pop_free(known, X509_free);
    return ret;
}

void
sn_h_cert_put(const struct sn_deps *deps, struct sn_req *req,
              struct sn_resp *resp)
{
    STACK_OF(X509) *chain = NULL;
    EVP_PKEY *pub = NULL;
    char *pem = NULL;
    struct sn_key k;
    sn_err r;

    if (sn_load_key(deps, req, resp, SN_ACT_KEY_MANAGE, &k) != 0)
        return;
    if (req->body_len == 0 ||
        sn_chain_from_pem((const char *)req->body, req->body_len, &chain) !=
            SN_OK) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "the body must be a PEM certificate chain, leaf first");
        goto out;
    }
    if (sn_pubkey_from_der(k.spki, k.spki_len, &pub) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "stored public key unreadable");
        goto out;
    }
    if ((r = sn_chain_matches_key(chain, pub)) != SN_OK) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "the leaf certificate's public key is not this key's");
        goto out;
    }
    /* What is stored is the completed chain, never less than `key
     * certify` attached. */
    if (chain_trusted(deps, req, &k, chain, resp) != 0)
        goto out;
    if (sn_chain_to_pem(chain, &pem) != SN_OK ||
        sn_store_key_set_cert(deps->store, k.id, pem) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    free(k.cert_pem);
    k.cert_pem = pem;
    pem = NULL;
    key_audit(deps, req, &k, "key_certificate", "ok", "");
    sn_resp_json(resp, API_OK, sn_key_json(&k));
out:
    free(pem);
    EVP_PKEY_free(pub);
    sk_X509_pop_free(chain, X509_free);
    sn_key_cleanup(&k);
}

void
sn_h_cert_get(const struct sn_deps *deps, struct sn_req *req,
              struct sn_resp *resp)
{
    struct sn_key k;

    if (sn_load_key(deps, req, resp, SN_ACT_KEY_READ, &k) != 0)
        return;
    if (k.cert_pem == NULL)
        sn_resp_error(resp, API_NOT_FOUND,
                      "no certificate is attached to this key");
    else
        sn_resp_json(resp, API_OK,
                     json_pack("{s:s}", "certificate_pem", k.cert_pem));
    sn_key_cleanup(&k);
}
