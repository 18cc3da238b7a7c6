/*
 * h_ca: the CA role over HTTP: subscriber identities (the RA step),
 * attestation bundles, issuance under the code signing profiles,
 * revocation with CSC-12 back-dating, and the public objects (CA
 * certificates, CRLs, OCSP). Request bodies are untrusted: CSRs are parsed
 * and checked before anything is issued.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/util.h"
#include "common/text.h"
#include "crypto/subject.h"
#include "crypto/x509util.h"
#include "http/bodies.h"
#include "http/handlers.h"

static void
ca_audit(const struct sn_deps *deps, struct sn_req *req, const char *subscriber,
         const char *key, const char *action, const char *result,
         const char *detail)
{
    struct sn_audit a;

    sn_audit_init(&a, req, subscriber, key, action);
    snprintf(a.result, sizeof(a.result), "%s", result);
    snprintf(a.detail, sizeof(a.detail), "%s", detail);
    if (sn_store_audit_add(deps->store, &a) != SN_OK)
        sn_error("audit: cannot record %s", action);
}

void
sn_h_identity_put(const struct sn_deps *deps, struct sn_req *req,
                  struct sn_resp *resp)
{
    struct sn_subscriber sub;
    struct sn_body_fault f;
    struct sn_identity id;
    char *text = NULL;

    if (sn_allowed(deps, req, resp, SN_ACT_IDENTITY_SET, NULL) != 0)
        return;
    if (sn_store_subscriber_get(deps->store, req->params[0], &sub) != SN_OK) {
        sn_resp_error(resp, API_NOT_FOUND, "no such subscriber");
        return;
    }
    if (sn_body_identity(req->json, &id, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        return;
    }
    if ((text = json_dumps(req->json, JSON_COMPACT | JSON_SORT_KEYS)) == NULL ||
        sn_store_identity_set(deps->store, sub.id, text) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    ca_audit(deps, req, sub.id, "", "identity_set", "ok", text);
    sn_resp_json(
        resp, API_OK,
        json_pack("{s:s, s:O}", "subscriber", sub.id, "identity", req->json));
out:
    free(text);
}

/* The recorded identity: to the operator, and to the subscriber itself. */
void
sn_h_identity_get(const struct sn_deps *deps, struct sn_req *req,
                  struct sn_resp *resp)
{
    struct sn_subscriber sub;
    struct sn_resource res = {.subscriber = req->params[0]};
    json_t *id = NULL;
    char *text = NULL;
    sn_err r;

    if (sn_policy_decide(req->who, SN_ACT_IDENTITY_READ, &res, NULL) !=
            SN_POLICY_ALLOW ||
        sn_store_subscriber_get(deps->store, req->params[0], &sub) != SN_OK) {
        sn_resp_error(resp, API_NOT_FOUND, "no such subscriber");
        return;
    }
    if ((r = sn_store_identity_get(deps->store, sub.id, &text)) ==
        SN_ERR_NOT_FOUND) {
        sn_resp_error(resp, API_NOT_FOUND, "no identity has been recorded");
        return;
    }
    if (r != SN_OK || (id = json_loads(text, 0, NULL)) == NULL) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    sn_resp_json(resp, API_OK,
                 json_pack("{s:s, s:o}", "subscriber", sub.id, "identity", id));
out:
    free(text);
}

void
sn_h_attestation(const struct sn_deps *deps, struct sn_req *req,
                 struct sn_resp *resp)
{
    char *issuer = NULL, *pem = NULL;
    BIO *b = NULL;
    struct sn_key k;
    size_t n;

    if (sn_load_key(deps, req, resp, SN_ACT_KEY_READ, &k) != 0)
        return;
    if (k.att_pem == NULL) {
        sn_resp_error(resp, API_NOT_FOUND, "no attestation for this key");
        goto out;
    }
    if ((b = BIO_new(BIO_s_mem())) == NULL ||
        PEM_write_bio_X509(b, deps->ca->cert[SN_CA_ATT_ISSUER]) != 1 ||
        (n = (size_t)BIO_get_mem_data(b, &issuer)) == 0 ||
        (pem = malloc(strlen(k.att_pem) + n + 1)) == NULL) {
        sn_resp_error(resp, API_UNAVAILABLE, "out of memory");
        goto out;
    }
    memcpy(pem, k.att_pem, strlen(k.att_pem));
    memcpy(pem + strlen(k.att_pem), issuer, n);
    pem[strlen(k.att_pem) + n] = '\0';
    resp->code = API_OK;
    resp->raw = (uint8_t *)pem;
    resp->raw_len = strlen(pem);
    resp->raw_type = "application/x-pem-file";
    pem = NULL;
out:
    free(pem);
    BIO_free(b);
    sn_key_cleanup(&k);
}

/* ---- issuance ---- */

static sn_err
parse_csr(const char *pem, X509_REQ **out)
{
    BIO *b = BIO_new_mem_buf(pem, (int)strlen(pem));

    *out = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return *out ? SN_OK : SN_ERR_INVALID;
}

static char *
pem_of(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long len;

    if (b != NULL && PEM_write_bio_X509(b, x) == 1 &&
        (len = BIO_get_mem_data(b, &data)) > 0 &&
        (out = malloc((size_t)len + 1)) != NULL) {
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
    }
    BIO_free(b);
    return out;
}

/* Refusals are audited with the rule that failed. */
static void
refuse(const struct sn_deps *deps, struct sn_req *req, const char *key,
       struct sn_resp *resp)
{
    ca_audit(deps, req, req->who->subscriber, key ? key : "", "ca_refuse",
             "denied", resp->message);
}

static int
check_request(const struct sn_deps *deps, struct sn_req *req, X509_REQ *csr,
              struct sn_key *key, struct sn_resp *resp)
{
    struct sn_attestation att;
    struct sn_resource res = {0};
    struct sn_decision d;
    EVP_PKEY *stored = NULL;
    char why[256];
    int ok = 0;

    if (X509_REQ_verify(csr, X509_REQ_get0_pubkey(csr)) != 1) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "the CSR's signature does not verify");
        return 0;
    }
    if (sn_attest_verify_csr(csr, deps->ca->att_roots, &deps->ca->oids, &att,
                             why, sizeof(why)) != SN_OK) {
        sn_resp_error(resp, API_INVALID_FIELD, "key attestation: %s", why);
        return 0;
    }
    if (strcmp(att.subscriber, req->who->subscriber) != 0 ||
        sn_store_key_get(deps->store, att.key_id, key) != SN_OK) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "the attested key is not one of this subscriber's keys");
        return 0;
    }
    res.subscriber = key->subscriber;
    res.key = key->id;
    if (sn_policy_decide(req->who, SN_ACT_CERT_REQUEST, &res, &d) !=
        SN_POLICY_ALLOW) {
        sn_resp_error(resp, d.hide ? API_INVALID_FIELD : API_FORBIDDEN, "%s",
                      d.message);
        return 0;
    }
    if (sn_pubkey_from_der(key->spki, key->spki_len, &stored) != SN_OK ||
        EVP_PKEY_eq(stored, X509_REQ_get0_pubkey(csr)) != 1) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "the CSR's key is not the attested key");
        goto out;
    }
    if (sn_store_key_compromised(deps->store, key->id)) {
        sn_resp_error(resp, API_CONFLICT,
                      "a certificate of this key was revoked for key "
                      "compromise; the key cannot be certified again");
        goto out;
    }
    if (key->state != SN_KEY_ENABLED) {
        sn_resp_error(resp, API_KEY_STATE, "the key is %s",
                      sn_key_state_name(key->state));
        goto out;
    }
    ok = 1;
out:
    EVP_PKEY_free(stored);
    return ok;
}

/*
 * CSBR 6.2.7.4: a code signing key belongs in a certified hardware module.
 * PKCS#11 cannot prove certification, so the operator lists the modules it
 * holds certified (hsm.certified_modules) and the module's own report of
 * manufacturer and model is matched against that list. A key on a module
 * not on it is refused, unless the operator allows test certificates
 * (ca.allow_uncertified_modules), which then say so.
 */
static int
module_protection(const struct sn_deps *deps, const struct sn_hsm_info *hsm,
                  struct sn_key_protection *kp, struct sn_resp *resp)
{
    const struct sn_certified_module *m;

    memset(kp, 0, sizeof(*kp));
    kp->hsm = *hsm;
    kp->hsm.label[0] = '\0';
    m = sn_modules_find(deps->modules.v, deps->modules.n, hsm->manufacturer,
                        hsm->model);
    if (m != NULL) {
        kp->listed = 1;
        snprintf(kp->certificate, sizeof(kp->certificate), "%s",
                 m->certificate);
        return 1;
    }
    if (deps->modules.allow_uncertified)
        return 1;
    sn_resp_error(resp, API_CONFLICT,
                  "the key's module (manufacturer '%s', model '%s') is not "
                  "on this CA's list of certified modules "
                  "(hsm.certified_modules); code signing keys must be in a "
                  "certified hardware module (CSBR 6.2.7.4)",
                  hsm->manufacturer, hsm->model);
    return 0;
}

/* quota.certificates_per_day: certificates issued to the subscriber in
 * the last 24 hours (a sliding window). 1 if one more may be issued. */
static int
issue_quota_ok(const struct sn_deps *deps, const char *subscriber,
               struct sn_resp *resp)
{
    struct sn_usage u;

    if (sn_store_usage(deps->store, subscriber, time(NULL) - 86400, &u) !=
        SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return 0;
    }
    if (u.certs_since >= deps->quota.certs_per_day) {
        sn_resp_error(resp, API_TOO_MANY,
                      "%llu certificates were issued to this subscriber in "
                      "the last 24 hours; its quota is %u "
                      "(quota.certificates_per_day)",
                      (unsigned long long)u.certs_since,
                      deps->quota.certs_per_day);
        return 0;
    }
    return 1;
}

/*
 * The subject of a certificate for the caller: the subscriber's validated
 * identity, as the CSR's subject chooses among its values. 1 if *out is
 * set; otherwise resp is the refusal.
 */
static int
issue_subject(const struct sn_deps *deps, struct sn_req *req, X509_REQ *csr,
              enum sn_cs_profile profile, X509_NAME **out, struct sn_resp *resp)
{
    enum sn_id_field field = SN_ID_O;
    json_t *identity = NULL;
    struct sn_body_fault f;
    struct sn_identity id;
    char why[300] = "", *id_text = NULL;
    int ok = 0;

    *out = NULL;
    if (sn_store_identity_get(deps->store, req->who->subscriber, &id_text) !=
            SN_OK ||
        (identity = json_loads(id_text, 0, NULL)) == NULL) {
        sn_resp_error(resp, API_CONFLICT,
                      "the operator has not recorded this subscriber's "
                      "validated identity: an admin runs `signet subscriber "
                      "identity %s --O ... --C ...` (PUT /v1/subscribers/"
                      "%s/identity) first",
                      req->who->subscriber, req->who->subscriber);
        goto out;
    }
    /* The identity was checked when recorded; rules may have grown since. */
    if (sn_body_identity_fields(identity, &id, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why); /* names the field */
        goto out;
    }
    if (sn_identity_check(&id, profile == SN_PROFILE_EV_CS, &field, why,
                          sizeof(why)) != SN_OK) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "the subscriber's validated identity cannot be used for "
                      "the %s profile: %s %s",
                      profile == SN_PROFILE_EV_CS ? "ev-code-signing"
                                                  : "code-signing",
                      sn_id_field_name(field), why);
        goto out;
    }
    if (sn_subject_build(&id, profile == SN_PROFILE_EV_CS,
                         X509_REQ_get_subject_name(csr), out, why,
                         sizeof(why)) != SN_OK) {
        sn_resp_error(resp, API_INVALID_FIELD, "%s", why);
        goto out;
    }
    ok = 1;
out:
    json_decref(identity);
    free(id_text);
    return ok;
}

/*
 * Records the certificate just signed (leaf, its DER and serial hex), under
 * the revocation lock, so that a key compromise revoked meanwhile either
 * is seen here or sees this certificate. 0 if recorded; otherwise resp is
 * the answer and the result is -1 for a refusal, 1 for a failure.
 */
static int
record_issued(const struct sn_deps *deps, const struct sn_key *key,
              enum sn_cs_profile profile, X509 *leaf, unsigned char *der,
              size_t dl, const char *hex, struct sn_cert *rec,
              struct sn_resp *resp)
{
    struct sn_ca *ca = deps->ca;
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    int rc = 1;

    snprintf(rec->serial, sizeof(rec->serial), "%s", hex);
    snprintf(rec->ca, sizeof(rec->ca), "codesigning");
    snprintf(rec->subscriber, sizeof(rec->subscriber), "%s", key->subscriber);
    snprintf(rec->key, sizeof(rec->key), "%s", key->id);
    snprintf(rec->profile, sizeof(rec->profile), "%s",
             profile == SN_PROFILE_EV_CS ? "ev-code-signing" : "code-signing");
    rec->der = der;
    rec->der_len = dl;
    rec->issued_at = time(NULL);
    /* The record says what the certificate says. */
    if (sn_x509_validity(leaf, &rec->not_before, &rec->not_after) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "the CA could not sign");
        goto out;
    }
    pthread_mutex_lock(&ca->revoke_lock);
    if (!issue_quota_ok(deps, key->subscriber, resp)) {
        /* counted again here: parallel requests all passed the first look */
        rc = -1;
    } else if (sn_store_key_compromised(deps->store, key->id)) {
        sn_resp_error(resp, API_CONFLICT,
                      "a certificate of this key was revoked for key "
                      "compromise; the key cannot be certified again");
        rc = -1;
    } else if (sn_store_cert_add(deps->store, rec) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
    } else {
        /* Its public key too, for the key-compromise check above. */
        if (sn_x509_spki(der, dl, &spki, &spki_len) == SN_OK)
            sn_store_cert_set_spki(deps->store, rec->serial, spki, spki_len);
        rc = 0;
    }
    pthread_mutex_unlock(&ca->revoke_lock);
out:
    rec->der = NULL; /* the caller's */
    free(spki);
    return rc;
}

void
sn_h_ca_issue(const struct sn_deps *deps, struct sn_req *req,
              struct sn_resp *resp)
{
    struct sn_ca *ca = deps->ca;
    struct sn_body_issue body;
    struct sn_body_fault f;
    enum sn_cs_profile profile;
    char crl[300], aia[300], ocsp[300];
    char *leaf_pem = NULL, *chain_pem = NULL;
    struct sn_ca_urls urls;
    struct sn_key_protection kp;
    struct sn_cert rec;
    X509_REQ *csr = NULL;
    X509_NAME *subject = NULL;
    X509 *leaf = NULL;
    BIGNUM *bn = NULL;
    char *hex = NULL;
    unsigned char *der = NULL;
    struct sn_key key;
    json_int_t days;
    int dl, rc;

    memset(&key, 0, sizeof(key));
    memset(&rec, 0, sizeof(rec));
    if (sn_allowed(deps, req, resp, SN_ACT_CERT_REQUEST, NULL) != 0)
        goto refused;
    if (!issue_quota_ok(deps, req->who->subscriber, resp))
        goto refused;
    if (sn_body_issue(req->json, &body, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        goto refused;
    }
    profile = body.profile;
    days = body.days;
    if (parse_csr(body.csr_pem, &csr) != SN_OK) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "csr_pem is not a PEM "
                      "certificate request");
        goto refused;
    }
    if (!check_request(deps, req, csr, &key, resp))
        goto refused;
    if (!issue_subject(deps, req, csr, profile, &subject, resp))
        goto refused;
    if (!module_protection(deps, &key.hsm, &kp, resp))
        goto refused;

    snprintf(crl, sizeof(crl), "%s/ca/crl/codesigning", ca->base_url);
    snprintf(aia, sizeof(aia), "%s/ca/codesigning.cer", ca->base_url);
    snprintf(ocsp, sizeof(ocsp), "%s/ca/ocsp", ca->base_url);
    urls.crl = crl;
    urls.ca_issuers = aia;
    urls.ocsp = ocsp;
    /* Never past the code signing CA's own notAfter (a shorter
     * certificate near its end; none in its last day). */
    if ((days = sn_x509_days_within(ca->cert[SN_CA_CODESIGNING], time(NULL),
                                    (int)days)) < 1) {
        sn_resp_error(resp, API_CONFLICT,
                      "the code signing CA expires within a day");
        goto refused;
    }
    if (sn_cs_cert_build(profile, csr, subject, ca->cert[SN_CA_CODESIGNING],
                         &ca->oids, &urls, (int)days, &kp, &leaf) != SN_OK ||
        sn_ca_sign_codesigning(ca, &leaf, key.att_pem) != SN_OK ||
        (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL)) == NULL ||
        (hex = BN_bn2hex(bn)) == NULL || (dl = i2d_X509(leaf, &der)) <= 0) {
        sn_resp_error(resp, API_UNAVAILABLE, "the CA could not sign");
        goto out;
    }
    if ((rc = record_issued(deps, &key, profile, leaf, der, (size_t)dl, hex,
                            &rec, resp)) != 0) {
        if (rc < 0)
            goto refused;
        goto out;
    }
    ca_audit(deps, req, key.subscriber, key.id, "ca_issue", "ok", hex);
    leaf_pem = pem_of(leaf);
    chain_pem = pem_of(ca->cert[SN_CA_CODESIGNING]);
    sn_resp_json(resp, API_CREATED,
                 json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "serial", hex,
                           "key", key.id, "profile", rec.profile,
                           "certificate_pem", leaf_pem ? leaf_pem : "",
                           "issuer_pem", chain_pem ? chain_pem : "",
                           "not_before", sn_time_json(rec.not_before),
                           "not_after", sn_time_json(rec.not_after)));
    goto out;
refused:
    refuse(deps, req, key.id[0] ? key.id : NULL, resp);
out:
    free(leaf_pem);
    free(chain_pem);
    OPENSSL_free(der);
    OPENSSL_free(hex);
    BN_free(bn);
    X509_free(leaf);
    X509_NAME_free(subject);
    X509_REQ_free(csr);
    sn_key_cleanup(&key);
}

/* ---- revocation ---- */

static const char *
reason_name(int code)
{
    return sn_body_reason_name(code);
}

static json_t *
cert_json(const struct sn_cert *c)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "serial", c->serial, "ca",
        c->ca, "subscriber", c->subscriber, "key", c->key, "profile",
        c->profile, "not_before", sn_time_json(c->not_before), "not_after",
        sn_time_json(c->not_after), "status", c->revoked ? "revoked" : "good");
    if (o != NULL && c->revoked) {
        json_object_set_new(o, "revocation_date",
                            sn_time_json(c->revocation_date));
        json_object_set_new(o, "reason", json_string(reason_name(c->reason)));
    }
    return o;
}

static int
cert_visible(const struct sn_req *req, const struct sn_cert *c)
{
    struct sn_resource res = {.subscriber = c->subscriber, .key = c->key};

    return sn_policy_decide(req->who, SN_ACT_CERT_READ, &res, NULL) ==
           SN_POLICY_ALLOW;
}

/* Loads a certificate the caller may see: admin, or its subscriber. */
static int
load_cert(const struct sn_deps *deps, struct sn_req *req, struct sn_cert *c,
          struct sn_resp *resp)
{
    const char *in = req->params[0];
    BIGNUM *bn = NULL;
    char *canon = NULL;
    size_t i;
    int ok;

    memset(c, 0, sizeof(*c));
    /* Serials are hex in either case; the stored form is BN_bn2hex's
     * (upper case, whole octets), so the request is put in that form. */
    for (i = 0; in[i] != '\0'; i++) {
        char ch = in[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
              (ch >= 'A' && ch <= 'F')))
            break;
    }
    ok = i > 0 && in[i] == '\0' && i <= 64 && BN_hex2bn(&bn, in) == (int)i &&
         (canon = BN_bn2hex(bn)) != NULL &&
         sn_store_cert_get(deps->store, NULL, canon, c) == SN_OK &&
         cert_visible(req, c);
    OPENSSL_free(canon);
    BN_free(bn);
    if (!ok) {
        sn_cert_cleanup(c);
        sn_resp_error(resp, API_NOT_FOUND, "no such certificate");
        return -1;
    }
    return 0;
}

void
sn_h_ca_cert_get(const struct sn_deps *deps, struct sn_req *req,
                 struct sn_resp *resp)
{
    const unsigned char *p;
    struct sn_cert c;
    X509 *x = NULL;
    char *pem = NULL;
    json_t *o;

    if (load_cert(deps, req, &c, resp) != 0)
        return;
    p = c.der;
    if ((x = d2i_X509(NULL, &p, (long)c.der_len)) == NULL ||
        (pem = pem_of(x)) == NULL) {
        sn_resp_error(resp, API_UNAVAILABLE, "stored certificate unreadable");
        goto out;
    }
    o = cert_json(&c);
    if (o != NULL)
        json_object_set_new(o, "certificate_pem", json_string(pem));
    sn_resp_json(resp, API_OK, o);
out:
    free(pem);
    X509_free(x);
    sn_cert_cleanup(&c);
}

#define KEY_COMPROMISE 1

/* Publishes a new CRL of the CA named ca at once. */
static void
crl_now(const struct sn_deps *deps, const char *ca)
{
    enum sn_ca_kind kind;
    uint8_t *crl = NULL;
    size_t crl_len;

    if (sn_ca_from_name(ca, &kind) &&
        sn_ca_crl(deps->ca, deps->store, kind, 1, &crl, &crl_len) != SN_OK)
        sn_error("ca: CRL of %s not regenerated", ca);
    free(crl);
}

/* Any reason but keyCompromise: one certificate, revoked now, once. */
static void
revoke_one(const struct sn_deps *deps, struct sn_req *req, struct sn_cert *c,
           const struct sn_body_revoke *rq, time_t now, struct sn_resp *resp)
{
    char detail[200];
    sn_err rr;

    /* Back-dating is the key-compromise exception (CSBR 4.9, CSC-12):
     * any other revocation takes effect when it is asked for. */
    if (rq->dated && rq->when < now) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "only keyCompromise may carry a past revocation_date");
        return;
    }
    if (c->revoked) {
        sn_resp_error(resp, API_CONFLICT,
                      "already revoked; only a keyCompromise revocation "
                      "may be updated");
        return;
    }
    rr = sn_store_cert_revoke(deps->store, c->serial, now, rq->code, now);
    /* After the commit (also when its report is unsure): an answer made
     * from the old record is not kept. */
    sn_ca_ocsp_forget(deps->ca);
    if (rr == SN_ERR_STATE) {
        sn_resp_error(resp, API_CONFLICT, "already revoked");
        return;
    }
    if (rr != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    snprintf(detail, sizeof(detail), "%s %s reason=%s date=%lld", c->ca,
             c->serial, rq->rname, (long long)now);
    ca_audit(deps, req, c->subscriber, c->key, "ca_revoke", "ok", detail);
    c->revoked = 1;
    c->revocation_date = now;
    c->reason = rq->code;
    crl_now(deps, c->ca);
    sn_resp_json(resp, API_OK, cert_json(c));
}

/* A certificate revoked for another reason at or before the compromise
 * date keeps its revocation: making it keyCompromise at the later date
 * would move its revocation later. */
static int
revoked_before(const struct sn_cert *e, time_t when)
{
    return e->revoked && e->reason != KEY_COMPROMISE &&
           e->revocation_date <= when;
}

/*
 * The audit record of what a key compromise at when does to e (one of the
 * key's certificates; c is the one asked for). 0 if e does not change.
 */
static int
compromise_audit(struct sn_req *req, const struct sn_cert *e,
                 const struct sn_cert *c, time_t when, const char *why,
                 struct sn_audit *a)
{
    char was[40] = "", od[SN_TIME_LEN], nd[SN_TIME_LEN];
    int other = strcmp(e->serial, c->serial) != 0;

    if (revoked_before(e, when) || (e->revoked && e->revocation_date == when))
        return 0;
    if (!e->revoked) {
        sn_audit_init(a, req, e->subscriber, e->key, "ca_revoke");
        snprintf(a->detail, sizeof(a->detail),
                 "%s %s reason=keyCompromise date=%lld%s%s%s", e->ca, e->serial,
                 (long long)when, other ? " (same key as " : "",
                 other ? c->serial : "", other ? ")" : "");
    } else {
        /* Every change of a revocation date: old, new and why. */
        if (e->reason != KEY_COMPROMISE)
            snprintf(was, sizeof(was), " was=%s", reason_name(e->reason));
        sn_time_format(e->revocation_date, od);
        sn_time_format(when, nd);
        sn_audit_init(a, req, e->subscriber, e->key, "ca_revocation_date");
        snprintf(a->detail, sizeof(a->detail),
                 "%s %s reason=keyCompromise old=%s new=%s%s why=%s", e->ca,
                 e->serial, od, nd, was, why);
    }
    snprintf(a->result, sizeof(a->result), "ok");
    return 1;
}

/* A refused change of a key's revocation date: audited, then 4xx. */
static void
date_refused(const struct sn_deps *deps, struct sn_req *req,
             const struct sn_cert *c, time_t kdate, time_t when,
             enum sn_api code, const char *msg, struct sn_resp *resp)
{
    char od[SN_TIME_LEN], nd[SN_TIME_LEN], detail[256];

    sn_time_format(kdate, od);
    sn_time_format(when, nd);
    snprintf(detail, sizeof(detail), "%s %s old=%s new=%s refused: %s", c->ca,
             c->serial, od, nd, msg);
    ca_audit(deps, req, c->subscriber, c->key, "ca_revocation_date", "refused",
             detail);
    sn_resp_error(resp, code, "%s (the key's revocation date is %s)", msg, od);
}

/* Disables every key record of the compromised key's certificates (a
 * compromised key signs no more; enabling it is refused). */
static void
compromise_keys(const struct sn_deps *deps, struct sn_req *req,
                const struct sn_cert *all, size_t n)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        for (j = 0; j < i && strcmp(all[j].key, all[i].key) != 0; j++)
            ;
        if (j < i || all[i].key[0] == '\0')
            continue;
        if (sn_store_key_transition(deps->store, all[i].key,
                                    SN_KEY_FROM(SN_KEY_ENABLED),
                                    SN_KEY_DISABLED) == SN_OK)
            ca_audit(deps, req, all[i].subscriber, all[i].key, "key_disable",
                     "ok", "certificate revoked for key compromise");
    }
}

/*
 * The date a key compromise revocation sets (*when), checked against the
 * key's current date (the earliest keyCompromise date of its
 * certificates): without a revocation_date the date stays; earlier is
 * anyone's; later is the operator's, with a comment. -1 after a 4xx.
 */
static int
key_date(const struct sn_deps *deps, struct sn_req *req,
         const struct sn_cert *c, const struct sn_cert *all, size_t nall,
         const struct sn_body_revoke *rq, time_t *when, struct sn_resp *resp)
{
    time_t kdate = 0;
    int has_kdate = 0;
    size_t i;

    *when = rq->when;
    for (i = 0; i < nall; i++) {
        if (all[i].revoked && all[i].reason == KEY_COMPROMISE &&
            (!has_kdate || all[i].revocation_date < kdate)) {
            kdate = all[i].revocation_date;
            has_kdate = 1;
        }
    }
    if (!rq->dated && has_kdate)
        *when = kdate; /* a repeated revocation keeps the date */
    if (rq->dated && *when < c->not_before) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "revocation_date is before the certificate's "
                      "notBefore");
        return -1;
    }
    if (has_kdate && *when > kdate &&
        sn_policy_decide(req->who, SN_ACT_COMPROMISE_LATER, NULL, NULL) !=
            SN_POLICY_ALLOW) {
        date_refused(deps, req, c, kdate, *when, API_FORBIDDEN,
                     "a keyCompromise revocation date may only be moved "
                     "earlier; moving it later is an operator decision "
                     "(admin token, with a 'comment')",
                     resp);
        return -1;
    }
    if (has_kdate && *when > kdate && rq->comment == NULL) {
        date_refused(deps, req, c, kdate, *when, API_INVALID_FIELD,
                     "moving a keyCompromise revocation date later needs a "
                     "'comment' giving the reason",
                     resp);
        return -1;
    }
    return 0;
}

/*
 * The writes of a key compromise at when: every certificate in
 * all[0..nall) (the key's, by its public key spki) revoked from when, each
 * change audited with why; the key records disabled; a new CRL of each CA
 * whose list changed; cached OCSP answers dropped. c: the certificate
 * asked for (NULL: the key itself): already revoked for another reason at
 * or before when, with nothing else to change, is a 409. 0 if done; -1
 * with resp set. Called with revoke_lock held.
 */
static int
compromise_apply(const struct sn_deps *deps, struct sn_req *req,
                 const uint8_t *spki, size_t len, const struct sn_cert *c,
                 const struct sn_cert *all, size_t nall, time_t when,
                 const char *why, time_t now, struct sn_resp *resp)
{
    struct sn_audit *recs = NULL;
    size_t i, j, nrec = 0;
    int rc = -1;
    sn_err rr;

    if ((recs = calloc(nall, sizeof(*recs))) == NULL) {
        sn_resp_error(resp, API_UNAVAILABLE, "out of memory");
        goto out;
    }
    for (i = 0; i < nall; i++)
        nrec += (size_t)compromise_audit(req, &all[i], c != NULL ? c : &all[i],
                                         when, why, &recs[nrec]);
    if (nrec == 0 && c != NULL && revoked_before(c, when)) {
        sn_resp_error(resp, API_CONFLICT,
                      "already revoked (%s) at or before that date; an "
                      "earlier revocation_date makes it keyCompromise",
                      reason_name(c->reason));
        goto out;
    }
    if (nrec > 0) {
        rr = sn_store_cert_compromise(deps->store, spki, len, when, now);
        /* After the commit (also when its report is unsure): an answer
         * made from the old records is not kept. */
        sn_ca_ocsp_forget(deps->ca);
        if (rr != SN_OK) {
            sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
            goto out;
        }
        if (sn_store_audit_add_many(deps->store, recs, nrec) != SN_OK)
            sn_error("audit: cannot record a key compromise revocation");
    }
    compromise_keys(deps, req, all, nall);
    /* Publish at once: a new CRL of every CA whose list changed. */
    for (i = 0; i < nall; i++) {
        for (j = 0; j < i && strcmp(all[j].ca, all[i].ca) != 0; j++)
            ;
        if (j == i && nrec > 0)
            crl_now(deps, all[i].ca);
    }
    rc = 0;
out:
    free(recs);
    return rc;
}

/*
 * keyCompromise (CSBR 4.9.1.1, 6.1.2): the key is compromised, not one
 * certificate. Every certificate carrying the same public key is revoked
 * with the same date. The key's date may move earlier at the subscriber's
 * word; later only by the operator, with a reason. Called with
 * revoke_lock held.
 */
static void
revoke_key(const struct sn_deps *deps, struct sn_req *req, struct sn_cert *c,
           const struct sn_body_revoke *rq, time_t now, struct sn_resp *resp)
{
    struct sn_cert *all = NULL;
    uint8_t *spki = NULL;
    size_t nall = 0, len;
    time_t when = rq->when;
    const char *why;

    if (sn_ca_index_spki(deps->store) != SN_OK ||
        sn_x509_spki(c->der, c->der_len, &spki, &len) != SN_OK ||
        sn_store_cert_by_spki(deps->store, spki, len, &all, &nall) != SN_OK ||
        nall == 0) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    if (key_date(deps, req, c, all, nall, rq, &when, resp) != 0)
        goto out;
    why = rq->comment != NULL ? rq->comment
          : req->who->admin   ? "earlier compromise date given by the operator"
                              : "earlier compromise date given by the "
                                "subscriber";
    if (compromise_apply(deps, req, spki, len, c, all, nall, when, why, now,
                         resp) != 0)
        goto out;
    if (!revoked_before(c, when)) {
        c->revoked = 1;
        c->revocation_date = when;
        c->reason = KEY_COMPROMISE;
    }
    sn_resp_json(resp, API_OK, cert_json(c));
out:
    sn_cert_list_free(all, nall);
    free(spki);
}

sn_err
sn_ca_key_compromise(const struct sn_deps *deps, struct sn_req *req,
                     const uint8_t *spki, size_t len, time_t when,
                     const char *why, unsigned *revoked, time_t *date)
{
    struct sn_cert *all = NULL;
    struct sn_resp resp;
    time_t nb = 0, now = time(NULL);
    size_t nall = 0, i;
    sn_err r = SN_ERR_DB;

    *revoked = 0;
    *date = 0;
    memset(&resp, 0, sizeof(resp));
    pthread_mutex_lock(&deps->ca->revoke_lock);
    if (sn_ca_index_spki(deps->store) != SN_OK ||
        sn_store_cert_by_spki(deps->store, spki, len, &all, &nall) != SN_OK)
        goto out;
    if (nall == 0) {
        r = SN_ERR_NOT_FOUND;
        goto out;
    }
    /* Never later than a date the key already has; never before its
     * first certificate (nothing it signed before was certified). */
    for (i = 0; i < nall; i++) {
        if (all[i].revoked && all[i].reason == KEY_COMPROMISE &&
            all[i].revocation_date < when)
            when = all[i].revocation_date;
        if (i == 0 || all[i].not_before < nb)
            nb = all[i].not_before;
    }
    if (when < nb)
        when = nb;
    if (compromise_apply(deps, req, spki, len, NULL, all, nall, when, why, now,
                         &resp) != 0)
        goto out;
    *revoked = (unsigned)nall; /* each revoked now or before */
    *date = when;
    r = SN_OK;
out:
    pthread_mutex_unlock(&deps->ca->revoke_lock);
    json_decref(resp.json);
    sn_cert_list_free(all, nall);
    return r;
}

void
sn_h_ca_revoke(const struct sn_deps *deps, struct sn_req *req,
               struct sn_resp *resp)
{
    struct sn_body_revoke rq;
    struct sn_body_fault f;
    time_t now = time(NULL);
    struct sn_resource res = {0};
    struct sn_cert c;

    if (sn_allowed(deps, req, resp, SN_ACT_CERT_REVOKE, NULL) != 0)
        return;
    /* The records a decision is read from stay as read until it is made. */
    pthread_mutex_lock(&deps->ca->revoke_lock);
    if (load_cert(deps, req, &c, resp) != 0)
        goto unlock;
    res.subscriber = c.subscriber;
    res.key = c.key;
    if (sn_allowed(deps, req, resp, SN_ACT_CERT_REVOKE, &res) != 0)
        goto out;
    if (sn_body_revoke(req->json, now, &rq, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        goto out;
    }
    if (rq.code == KEY_COMPROMISE)
        revoke_key(deps, req, &c, &rq, now, resp);
    else
        revoke_one(deps, req, &c, &rq, now, resp);
out:
    sn_cert_cleanup(&c);
unlock:
    pthread_mutex_unlock(&deps->ca->revoke_lock);
}

/* ---- public objects ---- */

void
sn_h_ca_bundle(const struct sn_deps *deps, struct sn_req *req,
               struct sn_resp *resp)
{
    char *pem = NULL;

    (void)req;
    if (sn_ca_bundle(deps->ca, &pem) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "out of memory");
        return;
    }
    resp->code = API_OK;
    resp->raw = (uint8_t *)pem;
    resp->raw_len = strlen(pem);
    resp->raw_type = "application/x-pem-file";
}

void
sn_h_ca_cert_der(const struct sn_deps *deps, struct sn_req *req,
                 struct sn_resp *resp)
{
    enum sn_ca_kind kind;
    char name[65];
    size_t n = strlen(req->params[0]);

    /* "/ca/{name}.cer" */
    if (n < 5 || strcmp(req->params[0] + n - 4, ".cer") != 0) {
        sn_resp_error(resp, API_NOT_FOUND, "no such resource");
        return;
    }
    memcpy(name, req->params[0], n - 4);
    name[n - 4] = '\0';
    if (!sn_ca_from_name(name, &kind)) {
        sn_resp_error(resp, API_NOT_FOUND, "no such CA");
        return;
    }
    if (sn_ca_cert_der(deps->ca, kind, &resp->raw, &resp->raw_len) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "out of memory");
        return;
    }
    resp->code = API_OK;
    resp->raw_type = "application/pkix-cert";
}

void
sn_h_ca_crl(const struct sn_deps *deps, struct sn_req *req,
            struct sn_resp *resp)
{
    enum sn_ca_kind kind = SN_CA_CODESIGNING;

    if (req->params[0][0] != '\0' &&
        (!sn_ca_from_name(req->params[0], &kind) ||
         (kind != SN_CA_ROOT && kind != SN_CA_CODESIGNING &&
          kind != SN_CA_TIMESTAMPING))) {
        sn_resp_error(resp, API_NOT_FOUND, "no CRL by that name");
        return;
    }
    if (sn_ca_crl(deps->ca, deps->store, kind, 0, &resp->raw, &resp->raw_len) !=
        SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "CRL unavailable");
        return;
    }
    resp->code = API_OK;
    resp->raw_type = "application/pkix-crl";
}

static int
unpercent(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    int hi, lo;

    for (; *in != '\0'; in++) {
        if (o + 1 >= outlen)
            return -1;
        if (*in != '%') {
            out[o++] = *in;
            continue;
        }
        hi = in[1] >= '0' && in[1] <= '9'   ? in[1] - '0'
             : in[1] >= 'A' && in[1] <= 'F' ? in[1] - 'A' + 10
             : in[1] >= 'a' && in[1] <= 'f' ? in[1] - 'a' + 10
                                            : -1;
        lo = hi < 0                         ? -1
             : in[2] >= '0' && in[2] <= '9' ? in[2] - '0'
             : in[2] >= 'A' && in[2] <= 'F' ? in[2] - 'A' + 10
             : in[2] >= 'a' && in[2] <= 'f' ? in[2] - 'a' + 10
                                            : -1;
        if (lo < 0 || (hi == 0 && lo == 0))
            return -1;
        out[o++] = (char)(hi << 4 | lo);
        in += 2;
    }
    out[o] = '\0';
    return 0;
}

/* RFC 9110 5.6.7 IMF-fixdate, whatever the locale; 0 if t is out of
 * range. HTTP_DATE_LEN leaves room for any int the compiler imagines. */
#define HTTP_DATE_LEN 80
static int
http_date(time_t t, char out[HTTP_DATE_LEN])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                    "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                       "May", "Jun", "Jul", "Aug",
                                       "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
        tm.tm_year + 1900 < 0)
        return 0;
    snprintf(out, HTTP_DATE_LEN, "%s, %02d %s %04d %02d:%02d:%02d GMT",
             days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    return 1;
}

/*
 * RFC 5019 6.2: an answer to a GET without nonce may be cached by HTTP
 * caches until the responder would make it anew (so a revocation shows
 * within the hour), never past its nextUpdate.
 */
static void
ocsp_cache_headers(struct sn_resp *resp, const struct sn_ocsp_meta *m)
{
    time_t now = time(NULL);
    time_t until =
        m->fresh_until < m->next_update ? m->fresh_until : m->next_update;
    unsigned char h[32];
    char etag[65], last[HTTP_DATE_LEN], expires[HTTP_DATE_LEN];

    if (!m->cacheable || until <= now || resp->raw == NULL ||
        EVP_Digest(resp->raw, resp->raw_len, h, NULL, EVP_sha256(), NULL) !=
            1 ||
        !http_date(m->this_update, last) || !http_date(m->next_update, expires))
        return;
    sn_hex_encode(h, sizeof(h), etag);
    if (!sn_resp_header(resp, "Cache-Control",
                        "max-age=%lld,public,no-transform,must-revalidate",
                        (long long)(until - now)) ||
        !sn_resp_header(resp, "ETag", "\"%s\"", etag) ||
        !sn_resp_header(resp, "Last-Modified", "%s", last) ||
        !sn_resp_header(resp, "Expires", "%s", expires))
        resp->nheaders = 0; /* all or nothing: back to no-store */
}

void
sn_h_ca_ocsp(const struct sn_deps *deps, struct sn_req *req,
             struct sn_resp *resp)
{
    struct sn_ocsp_meta meta;
    uint8_t *reqder = NULL;
    size_t len = 0;
    char b64[2048];
    sn_err r;

    if (strcmp(req->method, "GET") == 0) {
        /* RFC 6960 A.1: GET {url}/{url-encoding of base-64 of the DER} */
        if (unpercent(req->tail, b64, sizeof(b64)) != 0 ||
            sn_b64_decode(b64, &reqder, &len) != SN_OK) {
            sn_resp_error(resp, API_BAD_REQUEST, "not a base64 OCSP request");
            return;
        }
        r = sn_ca_ocsp(deps->ca, deps->store, reqder, len, &resp->raw,
                       &resp->raw_len, &meta);
        free(reqder);
        if (r == SN_OK)
            ocsp_cache_headers(resp, &meta);
    } else {
        if (req->content_type == NULL ||
            strcasecmp(req->content_type, "application/ocsp-request") != 0) {
            sn_resp_error(resp, API_MEDIA_TYPE,
                          "OCSP requests are application/ocsp-request");
            return;
        }
        r = sn_ca_ocsp(deps->ca, deps->store, req->body, req->body_len,
                       &resp->raw, &resp->raw_len, NULL);
    }
    if (r != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "OCSP responder unavailable");
        return;
    }
    resp->code = API_OK;
    resp->raw_type = "application/ocsp-response";
}
