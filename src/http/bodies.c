/*
 * bodies: parsers for the API's JSON request bodies. The input is
 * untrusted: every member is checked for type, length and content, and
 * unknown members are refused. The messages are the ones clients see.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "common/text.h"
#include "common/util.h"
#include "crypto/subject.h"
#include "crypto/x509util.h"
#include "http/bodies.h"

static void fault(struct sn_body_fault *f, enum sn_api code, const char *fmt,
                  ...) __attribute__((format(printf, 3, 4)));

static void
fault(struct sn_body_fault *f, enum sn_api code, const char *fmt, ...)
{
    va_list ap;

    f->code = code;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof(f->why), fmt, ap);
    va_end(ap);
}

/* Refuses members of obj not in the NULL-terminated allowed list. */
static sn_err
only(json_t *obj, const char *const *allowed, struct sn_body_fault *f)
{
    const char *name;
    json_t *v;
    size_t i;

    json_object_foreach(obj, name, v)
    {
        for (i = 0; allowed[i] != NULL; i++)
            if (strcmp(name, allowed[i]) == 0)
                break;
        if (allowed[i] == NULL) {
            fault(f, API_INVALID_FIELD, "unknown field '%.64s'", name);
            return SN_ERR_INVALID;
        }
    }
    return SN_OK;
}

/* String member, required or optional, 1..max bytes without NUL. */
static sn_err
str(json_t *obj, const char *name, int required, size_t max, const char **out,
    struct sn_body_fault *f)
{
    json_t *v = json_object_get(obj, name);
    size_t len;

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (!required)
            return SN_OK;
        fault(f, API_INVALID_FIELD, "'%s' is required", name);
        return SN_ERR_INVALID;
    }
    if (!json_is_string(v)) {
        fault(f, API_INVALID_FIELD, "'%s' must be a string", name);
        return SN_ERR_INVALID;
    }
    len = json_string_length(v);
    if (len == 0 || len > max || strlen(json_string_value(v)) != len) {
        fault(f, API_INVALID_FIELD, "'%s' must be 1 to %zu characters", name,
              max);
        return SN_ERR_INVALID;
    }
    *out = json_string_value(v);
    return SN_OK;
}

/* A subscriber's name is also a directory and label component. */
static int
name_ok(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return i > 0 && i <= SN_NAME_MAX;
}

sn_err
sn_body_subscriber(json_t *body, struct sn_body_subscriber *out,
                   struct sn_body_fault *f)
{
    static const char *const allowed[] = {"name", NULL};
    const char *name;
    sn_err r;

    memset(out, 0, sizeof(*out));
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "name", 1, SN_NAME_MAX, &name, f)) != SN_OK)
        return r;
    if (!name_ok(name)) {
        fault(f, API_INVALID_FIELD, "'name' must be 1-64 of A-Z a-z 0-9 . _ -");
        return SN_ERR_INVALID;
    }
    snprintf(out->name, sizeof(out->name), "%s", name);
    return SN_OK;
}

static sn_err
token_roles(json_t *v, unsigned *roles, struct sn_body_fault *f)
{
    size_t i;
    json_t *e;

    *roles = 0;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 2)
        goto bad;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            goto bad;
        if (strcmp(json_string_value(e), "manage") == 0)
            *roles |= SN_ROLE_MANAGE;
        else if (strcmp(json_string_value(e), "sign") == 0)
            *roles |= SN_ROLE_SIGN;
        else
            goto bad;
    }
    return SN_OK;
bad:
    *roles = 0;
    fault(f, API_INVALID_FIELD,
          "'roles' must be a non-empty array of \"manage\" and \"sign\"");
    return SN_ERR_INVALID;
}

/* Key ids only by shape; the handler checks they are the subscriber's. */
static sn_err
token_keys(json_t *v, struct sn_body_token *t, struct sn_body_fault *f)
{
    size_t i;
    json_t *e;

    if (v == NULL || json_is_null(v))
        return SN_OK;
    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > SN_TOKEN_MAX_KEYS) {
        fault(f, API_INVALID_FIELD,
              "'keys' must be an array of 1 to %d key ids", SN_TOKEN_MAX_KEYS);
        return SN_ERR_INVALID;
    }
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || json_string_length(e) != SN_UUID_LEN - 1 ||
            strlen(json_string_value(e)) != SN_UUID_LEN - 1) {
            fault(f, API_INVALID_FIELD, "'keys' must contain key ids");
            return SN_ERR_INVALID;
        }
        snprintf(t->keys[t->nkeys++], SN_UUID_LEN, "%s", json_string_value(e));
    }
    return SN_OK;
}

/* "no_expiry": true asks for a token that never expires; false or absent
 * for an expiry (the one given, else the server's default). */
static sn_err
token_no_expiry(json_t *v, const char *expires, int *out,
                struct sn_body_fault *f)
{
    *out = 0;
    if (v == NULL || json_is_false(v))
        return SN_OK;
    if (!json_is_true(v)) {
        fault(f, API_INVALID_FIELD, "'no_expiry' must be true or false");
        return SN_ERR_INVALID;
    }
    if (expires != NULL) {
        fault(f, API_INVALID_FIELD,
              "give 'expires_at' or 'no_expiry', not both");
        return SN_ERR_INVALID;
    }
    *out = 1;
    return SN_OK;
}

sn_err
sn_body_token(json_t *body, time_t now, struct sn_body_token *out,
              struct sn_body_fault *f)
{
    static const char *const allowed[] = {"name",       "roles",     "keys",
                                          "expires_at", "no_expiry", NULL};
    struct sn_body_token t;
    const char *name, *expires;
    enum sn_text_fault tf;
    sn_err r;

    memset(out, 0, sizeof(*out));
    memset(&t, 0, sizeof(t));
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "name", 1, SN_NAME_MAX, &name, f)) != SN_OK ||
        (r = str(body, "expires_at", 0, 64, &expires, f)) != SN_OK ||
        (r = token_roles(json_object_get(body, "roles"), &t.roles, f)) != SN_OK)
        return r;
    if ((tf = sn_text_check(name, strlen(name), SN_NAME_MAX, 0)) !=
        SN_TEXT_OK) {
        fault(f, API_INVALID_FIELD, "'name' %s", sn_text_fault_str(tf));
        return SN_ERR_INVALID;
    }
    if ((r = token_keys(json_object_get(body, "keys"), &t, f)) != SN_OK)
        return r;
    if (expires != NULL && (sn_time_parse(expires, &t.expires_at) != SN_OK ||
                            t.expires_at <= now)) {
        fault(f, API_INVALID_FIELD,
              "'expires_at' must be an RFC 3339 time in the future");
        return SN_ERR_INVALID;
    }
    if ((r = token_no_expiry(json_object_get(body, "no_expiry"), expires,
                             &t.no_expiry, f)) != SN_OK)
        return r;
    snprintf(t.name, sizeof(t.name), "%s", name);
    *out = t;
    return SN_OK;
}

/* "subject": {"CN": "ci-runner-*", "O": "Acme"}: 1 to 8 rules. */
static sn_err
clientcert_rules(json_t *v, struct sn_body_clientcert *b,
                 struct sn_body_fault *f)
{
    const char *attr;
    json_t *e;

    if (!json_is_object(v) || json_object_size(v) == 0 ||
        json_object_size(v) > SN_PEERCERT_MAX_RULES) {
        fault(f, API_INVALID_FIELD,
              "'subject' must be an object of 1 to %d attribute rules "
              "(CN, O, OU, C, L, ST, serialNumber)",
              SN_PEERCERT_MAX_RULES);
        return SN_ERR_INVALID;
    }
    json_object_foreach(v, attr, e)
    {
        if (!json_is_string(e) ||
            strlen(json_string_value(e)) != json_string_length(e) ||
            sn_peercert_rule_make(attr, json_string_value(e),
                                  &b->rules[b->nrules]) != SN_OK) {
            fault(f, API_INVALID_FIELD,
                  "'subject' rule '%.32s': the attribute must be one of CN, "
                  "O, OU, C, L, ST, serialNumber and its value 1 to %d "
                  "printable ASCII characters, '*' only at the end (a "
                  "prefix) and not alone",
                  attr, SN_PEERCERT_PATTERN_MAX);
            return SN_ERR_INVALID;
        }
        b->nrules++;
    }
    return SN_OK;
}

/* The certificate of a registration, checked for its kind. */
static sn_err
clientcert_cert(const char *pem, time_t now, struct sn_body_clientcert *b,
                struct sn_body_fault *f)
{
    const char *field =
        b->kind == SN_CLIENTCERT_LEAF ? "certificate_pem" : "ca_pem";
    enum sn_peercert_fault pf;
    time_t nb, na;

    if (sn_peercert_parse_pem(pem, &b->cert) != SN_OK) {
        fault(f, API_INVALID_FIELD, "'%s' must hold one PEM certificate",
              field);
        return SN_ERR_INVALID;
    }
    if (b->kind == SN_CLIENTCERT_LEAF) {
        if ((pf = sn_peercert_check_leaf(b->cert, now)) != SN_PEERCERT_OK) {
            fault(f, API_INVALID_FIELD, "'certificate_pem': %s",
                  sn_peercert_fault_str(pf));
            return SN_ERR_INVALID;
        }
        return SN_OK;
    }
    if (X509_check_ca(b->cert) < 1) {
        fault(f, API_INVALID_FIELD, "'ca_pem' is not a CA certificate");
        return SN_ERR_INVALID;
    }
    if (sn_x509_validity(b->cert, &nb, &na) != SN_OK || now < nb || now > na) {
        fault(f, API_INVALID_FIELD, "'ca_pem' is not valid now");
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

void
sn_body_clientcert_cleanup(struct sn_body_clientcert *b)
{
    if (b == NULL)
        return;
    X509_free(b->cert);
    memset(b, 0, sizeof(*b));
}

sn_err
sn_body_clientcert(json_t *body, time_t now, struct sn_body_clientcert *out,
                   struct sn_body_fault *f)
{
    static const char *const allowed[] = {
        "name", "certificate_pem", "ca_pem", "subject", "roles", "keys", NULL};
    struct sn_body_token scope;
    const char *name, *leaf, *ca;
    enum sn_text_fault tf;
    json_t *subject;
    sn_err r;

    memset(out, 0, sizeof(*out));
    memset(&scope, 0, sizeof(scope));
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "name", 0, SN_NAME_MAX, &name, f)) != SN_OK ||
        (r = str(body, "certificate_pem", 0, 4 * SN_PEERCERT_MAX_DER, &leaf,
                 f)) != SN_OK ||
        (r = str(body, "ca_pem", 0, 4 * SN_PEERCERT_MAX_DER, &ca, f)) !=
            SN_OK ||
        (r = token_roles(json_object_get(body, "roles"), &out->roles, f)) !=
            SN_OK ||
        (r = token_keys(json_object_get(body, "keys"), &scope, f)) != SN_OK)
        goto out;
    r = SN_ERR_INVALID;
    if (name != NULL && (tf = sn_text_check(name, strlen(name), SN_NAME_MAX,
                                            0)) != SN_TEXT_OK) {
        fault(f, API_INVALID_FIELD, "'name' %s", sn_text_fault_str(tf));
        goto out;
    }
    subject = json_object_get(body, "subject");
    if ((leaf == NULL) == (ca == NULL)) {
        fault(f, API_INVALID_FIELD,
              "give 'certificate_pem' (one pinned certificate) or 'ca_pem' "
              "with 'subject' rules");
        goto out;
    }
    if (leaf != NULL && subject != NULL) {
        fault(f, API_INVALID_FIELD,
              "'subject' goes with 'ca_pem'; a pinned certificate is "
              "matched whole");
        goto out;
    }
    out->kind = leaf != NULL ? SN_CLIENTCERT_LEAF : SN_CLIENTCERT_CA;
    if (ca != NULL && (r = clientcert_rules(subject, out, f)) != SN_OK)
        goto out;
    if ((r = clientcert_cert(leaf != NULL ? leaf : ca, now, out, f)) != SN_OK)
        goto out;
    snprintf(out->name, sizeof(out->name), "%s", name != NULL ? name : "");
    memcpy(out->keys, scope.keys, sizeof(out->keys));
    out->nkeys = scope.nkeys;
    r = SN_OK;
out:
    if (r != SN_OK)
        sn_body_clientcert_cleanup(out);
    return r;
}

sn_err
sn_body_key(json_t *body, struct sn_body_key *out, struct sn_body_fault *f)
{
    static const char *const allowed[] = {"algorithm", "label", NULL};
    const char *alg_name, *label;
    enum sn_text_fault tf;
    enum sn_keyalg alg;
    sn_err r;

    memset(out, 0, sizeof(*out));
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "algorithm", 1, 32, &alg_name, f)) != SN_OK ||
        (r = str(body, "label", 1, SN_NAME_MAX, &label, f)) != SN_OK)
        return r;
    if (sn_keyalg_from_name(alg_name, &alg) != SN_OK) {
        fault(f, API_UNSUPPORTED_ALG,
              "algorithm '%.32s' is not allowed; use one of: %s", alg_name,
              sn_keyalg_allowed());
        return SN_ERR_INVALID;
    }
    if ((tf = sn_text_check(label, strlen(label), SN_NAME_MAX, 0)) !=
        SN_TEXT_OK) {
        fault(f, API_INVALID_FIELD, "'label' %s", sn_text_fault_str(tf));
        return SN_ERR_INVALID;
    }
    out->alg = alg;
    snprintf(out->label, sizeof(out->label), "%s", label);
    return SN_OK;
}

/* The reasons a subscriber may give (CSBR 4.9.1.1; no certificateHold). */
static const struct {
    const char *name;
    int code; /* RFC 5280 CRLReason */
} reasons[] = {
    {"unspecified", 0}, {"keyCompromise", 1},        {"affiliationChanged", 3},
    {"superseded", 4},  {"cessationOfOperation", 5}, {"privilegeWithdrawn", 9},
};

const char *
sn_body_reason_name(int code)
{
    size_t i;

    for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].code == code)
            return reasons[i].name;
    return "unspecified";
}

static sn_err
revoke_reason(struct sn_body_revoke *rq, struct sn_body_fault *f)
{
    size_t i;

    for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (strcmp(rq->rname, reasons[i].name) == 0)
            rq->code = reasons[i].code;
    if (rq->code < 0) {
        fault(f, API_INVALID_FIELD,
              "reason must be one of unspecified, keyCompromise, "
              "affiliationChanged, superseded, cessationOfOperation, "
              "privilegeWithdrawn%s",
              strcmp(rq->rname, "certificateHold") == 0
                  ? " (certificateHold is never used: CSBR 4.9.13)"
                  : "");
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

sn_err
sn_body_revoke(json_t *body, time_t now, struct sn_body_revoke *out,
               struct sn_body_fault *f)
{
    static const char *const allowed[] = {"reason", "revocation_date",
                                          "comment", NULL};
    struct sn_body_revoke rq;
    const char *date;
    enum sn_text_fault tf;
    sn_err r;

    memset(out, 0, sizeof(*out));
    memset(&rq, 0, sizeof(rq));
    rq.code = -1;
    rq.when = now;
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "reason", 1, 32, &rq.rname, f)) != SN_OK ||
        (r = str(body, "revocation_date", 0, 64, &date, f)) != SN_OK ||
        (r = str(body, "comment", 0, SN_BODY_COMMENT_MAX, &rq.comment, f)) !=
            SN_OK ||
        (r = revoke_reason(&rq, f)) != SN_OK)
        return r;
    if (date != NULL) {
        if (sn_time_parse(date, &rq.when) != SN_OK || rq.when > now) {
            fault(f, API_INVALID_FIELD,
                  "revocation_date must be an RFC 3339 time, not in the "
                  "future");
            return SN_ERR_INVALID;
        }
        rq.dated = 1;
    }
    if (rq.comment != NULL &&
        (tf = sn_text_check(rq.comment, strlen(rq.comment), SN_BODY_COMMENT_MAX,
                            0)) != SN_TEXT_OK) {
        fault(f, API_INVALID_FIELD, "comment %s", sn_text_fault_str(tf));
        return SN_ERR_INVALID;
    }
    *out = rq;
    return SN_OK;
}

/* Subject fields in the order their RDNs are written. */
static const char *const subject_order[] = {"C",
                                            "ST",
                                            "L",
                                            "street",
                                            "postalCode",
                                            "O",
                                            "OU",
                                            "CN",
                                            "serialNumber",
                                            "businessCategory",
                                            "jurisdictionC",
                                            "jurisdictionST",
                                            "jurisdictionL",
                                            "emailAddress",
                                            NULL};

static sn_err
csr_subject(json_t *subj, X509_NAME **out, struct sn_body_fault *f)
{
    X509_NAME *name = NULL;
    size_t used = 0, i;
    json_t *v;

    *out = NULL;
    if (!json_is_object(subj) || json_object_size(subj) == 0) {
        fault(f, API_INVALID_FIELD,
              "'subject' must be an object such as {\"CN\": ...}");
        return SN_ERR_INVALID;
    }
    if ((name = X509_NAME_new()) == NULL) {
        fault(f, API_UNAVAILABLE, "out of memory");
        return SN_ERR_NOMEM;
    }
    for (i = 0; subject_order[i] != NULL; i++) {
        if ((v = json_object_get(subj, subject_order[i])) == NULL)
            continue;
        used++;
        if (!json_is_string(v) || sn_name_add(name, subject_order[i],
                                              json_string_value(v)) != SN_OK) {
            fault(f, API_INVALID_FIELD, "subject %s must be 1-64 characters%s",
                  subject_order[i],
                  strcmp(subject_order[i], "C") == 0 ? " (C: two letters)"
                                                     : "");
            X509_NAME_free(name);
            return SN_ERR_INVALID;
        }
    }
    if (used != json_object_size(subj)) {
        fault(f, API_INVALID_FIELD,
              "unknown subject field; allowed: C ST L street "
              "postalCode O OU CN serialNumber businessCategory "
              "jurisdictionC jurisdictionST jurisdictionL "
              "emailAddress");
        X509_NAME_free(name);
        return SN_ERR_INVALID;
    }
    *out = name;
    return SN_OK;
}

sn_err
sn_body_csr(json_t *body, struct sn_body_csr *out, struct sn_body_fault *f)
{
    static const char *const allowed[] = {"subject", "digest_algorithm", NULL};
    enum sn_digest md = SN_MD_SHA256;
    const char *mdname;
    sn_err r;

    memset(out, 0, sizeof(*out));
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "digest_algorithm", 0, 16, &mdname, f)) != SN_OK)
        return r;
    if (mdname != NULL && sn_digest_from_name(mdname, &md) != SN_OK) {
        fault(f, API_UNSUPPORTED_ALG,
              "digest_algorithm must be sha256, sha384 or sha512");
        return SN_ERR_INVALID;
    }
    if ((r = csr_subject(json_object_get(body, "subject"), &out->subject, f)) !=
        SN_OK)
        return r;
    out->md = md;
    return SN_OK;
}

void
sn_body_csr_cleanup(struct sn_body_csr *in)
{
    X509_NAME_free(in->subject);
    memset(in, 0, sizeof(*in));
}

sn_err
sn_body_identity_fields(json_t *obj, struct sn_identity *out,
                        struct sn_body_fault *f)
{
    struct sn_identity id;
    const char *key;
    json_t *v;
    int field;

    memset(out, 0, sizeof(*out));
    memset(&id, 0, sizeof(id));
    if (!json_is_object(obj)) {
        fault(f, API_INVALID_FIELD, "an identity is a JSON object");
        return SN_ERR_INVALID;
    }
    json_object_foreach(obj, key, v)
    {
        if ((field = sn_id_field_by_name(key)) < 0) {
            fault(f, API_INVALID_FIELD,
                  "'%s' is not an identity field (O, assumedName, C, "
                  "ST, L, street, postalCode, OU, serialNumber, "
                  "businessCategory, jurisdictionC, jurisdictionST, "
                  "jurisdictionL)",
                  sn_text_check(key, strlen(key), 64, 0) == SN_TEXT_OK
                      ? key
                      : "(unprintable)");
            return SN_ERR_INVALID;
        }
        if (!json_is_string(v) ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            fault(f, API_INVALID_FIELD, "identity field %s must be a string",
                  key);
            return SN_ERR_INVALID;
        }
        id.v[field] = json_string_value(v);
    }
    *out = id;
    return SN_OK;
}

sn_err
sn_body_identity(json_t *body, struct sn_identity *out, struct sn_body_fault *f)
{
    enum sn_id_field field;
    char why[200];
    sn_err r;

    if ((r = sn_body_identity_fields(body, out, f)) != SN_OK)
        return r;
    if (sn_identity_check(out, 0, &field, why, sizeof(why)) != SN_OK) {
        memset(out, 0, sizeof(*out));
        fault(f, API_INVALID_FIELD, "identity field %s %s",
              sn_id_field_name(field), why);
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

sn_err
sn_body_issue(json_t *body, struct sn_body_issue *out, struct sn_body_fault *f)
{
    static const char *const allowed[] = {"csr_pem", "profile", "validity_days",
                                          NULL};
    const char *profile_name;
    json_t *days_v;
    json_int_t days = SN_BODY_DEFAULT_VALIDITY_DAYS;
    sn_err r;

    memset(out, 0, sizeof(*out));
    out->profile = SN_PROFILE_CS;
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "csr_pem", 1, 64 * 1024, &out->csr_pem, f)) != SN_OK ||
        (r = str(body, "profile", 0, 32, &profile_name, f)) != SN_OK)
        goto out;
    if (profile_name != NULL && strcmp(profile_name, "ev-code-signing") == 0)
        out->profile = SN_PROFILE_EV_CS;
    else if (profile_name != NULL && strcmp(profile_name, "code-signing")) {
        fault(f, API_INVALID_FIELD,
              "profile must be \"code-signing\" or \"ev-code-signing\"");
        r = SN_ERR_INVALID;
        goto out;
    }
    if ((days_v = json_object_get(body, "validity_days")) != NULL) {
        if (!json_is_integer(days_v) ||
            (days = json_integer_value(days_v)) < 1 ||
            days > SN_BODY_MAX_VALIDITY_DAYS) {
            fault(f, API_INVALID_FIELD,
                  "validity_days must be 1 to %d (CSBR 6.3.2)",
                  SN_BODY_MAX_VALIDITY_DAYS);
            r = SN_ERR_INVALID;
            goto out;
        }
    }
    out->days = (int)days;
out:
    if (r != SN_OK)
        memset(out, 0, sizeof(*out));
    return r;
}

void
sn_body_sign_cleanup(struct sn_body_sign *in)
{
    size_t i;

    for (i = 0; i < in->n; i++)
        free(in->digests[i]);
    memset(in, 0, sizeof(*in));
}

static sn_err
sign_digest(json_t *v, size_t want, uint8_t **out, struct sn_body_fault *f)
{
    size_t len = 0;

    *out = NULL;
    if (!json_is_string(v) ||
        sn_b64_decode(json_string_value(v), out, &len) != SN_OK) {
        fault(f, API_BAD_DIGEST, "digests must be base64");
        return SN_ERR_INVALID;
    }
    if (len != want) {
        free(*out);
        *out = NULL;
        fault(f, API_BAD_DIGEST,
              "digest is %zu bytes; the digest algorithm needs %zu", len, want);
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

static sn_err
sign_scheme(const char *scheme, int rsa, struct sn_body_sign *in,
            struct sn_body_fault *f)
{
    if (rsa) {
        in->scheme = SN_SCHEME_PKCS1;
        if (scheme != NULL &&
            sn_scheme_from_name(scheme, &in->scheme) != SN_OK) {
            fault(f, API_INVALID_FIELD,
                  "scheme must be \"pkcs1\" or \"pss\" for RSA keys");
            return SN_ERR_INVALID;
        }
    } else {
        in->scheme = SN_SCHEME_ECDSA;
        if (scheme != NULL && strcmp(scheme, "ecdsa") != 0) {
            fault(f, API_INVALID_FIELD,
                  "ECDSA keys take no scheme (or \"ecdsa\")");
            return SN_ERR_INVALID;
        }
    }
    return SN_OK;
}

static sn_err
sign_digests(json_t *one, json_t *many, struct sn_body_sign *in,
             struct sn_body_fault *f)
{
    size_t i;
    json_t *e;

    if (one != NULL) {
        if (sign_digest(one, sn_digest_len(in->md), &in->digests[0], f) !=
            SN_OK)
            return SN_ERR_INVALID;
        in->n = 1;
        return SN_OK;
    }
    in->batch = 1;
    if (!json_is_array(many) || json_array_size(many) == 0 ||
        json_array_size(many) > SN_BODY_MAX_BATCH) {
        fault(f, API_INVALID_FIELD,
              "'digests' must be an array of 1 to %d digests",
              SN_BODY_MAX_BATCH);
        return SN_ERR_INVALID;
    }
    json_array_foreach(many, i, e)
    {
        if (sign_digest(e, sn_digest_len(in->md), &in->digests[i], f) != SN_OK)
            return SN_ERR_INVALID;
        in->n = i + 1;
    }
    return SN_OK;
}

sn_err
sn_body_sign(json_t *body, int rsa, struct sn_body_sign *out,
             struct sn_body_fault *f)
{
    static const char *const allowed[] = {"digest_algorithm", "digest",
                                          "digests", "scheme", NULL};
    json_t *one = json_object_get(body, "digest");
    json_t *many = json_object_get(body, "digests");
    struct sn_body_sign in;
    const char *mdname, *scheme;
    sn_err r;

    memset(out, 0, sizeof(*out));
    memset(&in, 0, sizeof(in));
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "digest_algorithm", 1, 16, &mdname, f)) != SN_OK ||
        (r = str(body, "scheme", 0, 16, &scheme, f)) != SN_OK)
        goto out;
    if (sn_digest_from_name(mdname, &in.md) != SN_OK) {
        fault(f, API_UNSUPPORTED_ALG,
              "digest_algorithm must be sha256, sha384 or sha512");
        r = SN_ERR_INVALID;
        goto out;
    }
    if ((r = sign_scheme(scheme, rsa, &in, f)) != SN_OK)
        goto out;
    if ((one == NULL) == (many == NULL)) {
        fault(f, API_INVALID_FIELD,
              "give exactly one of 'digest' and 'digests'");
        r = SN_ERR_INVALID;
        goto out;
    }
    if ((r = sign_digests(one, many, &in, f)) != SN_OK)
        goto out;
    *out = in;
    memset(&in, 0, sizeof(in));
out:
    sn_body_sign_cleanup(&in);
    return r;
}

/* ---- people (issue 17) ---- */

static const struct {
    const char *name;
    unsigned bit;
} role_names[] = {
    {"manage", SN_ROLE_MANAGE},
    {"sign", SN_ROLE_SIGN},
    {"approve", SN_ROLE_APPROVE},
    {"identity", SN_OROLE_IDENTITY},
    {"ca", SN_OROLE_CA},
    {"revocation", SN_OROLE_REVOCATION},
    {"subscribers", SN_OROLE_SUBSCRIBERS},
};

json_t *
sn_roles_json(unsigned roles)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < sizeof(role_names) / sizeof(role_names[0]);
         i++)
        if (roles & role_names[i].bit)
            json_array_append_new(a, json_string(role_names[i].name));
    return a;
}

/* A person's name: what they type at login. */
static int
account_name_ok(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
              c == '@'))
            return 0;
    }
    return i > 0 && i <= SN_NAME_MAX;
}

static sn_err
account_roles(json_t *v, unsigned *roles, struct sn_body_fault *f)
{
    const char *name;
    json_t *e;
    size_t i, j;

    *roles = 0;
    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > 8) {
        fault(f, API_INVALID_FIELD,
              "'roles' must be a list of operator roles (identity, ca, "
              "revocation, subscribers) or subscriber roles (manage, sign, "
              "approve)");
        return SN_ERR_INVALID;
    }
    json_array_foreach(v, i, e)
    {
        name = json_string_value(e);
        for (j = 0;
             name != NULL && j < sizeof(role_names) / sizeof(role_names[0]);
             j++)
            if (strcmp(name, role_names[j].name) == 0)
                break;
        if (name == NULL || j == sizeof(role_names) / sizeof(role_names[0]) ||
            (*roles & role_names[j].bit)) {
            fault(f, API_INVALID_FIELD,
                  "'roles'[%zu] is not a known role, or repeats one", i);
            return SN_ERR_INVALID;
        }
        *roles |= role_names[j].bit;
    }
    if ((*roles & SN_OP_ROLES) && (*roles & SN_SUB_ROLES)) {
        fault(f, API_INVALID_FIELD,
              "'roles' mixes operator and subscriber roles: an account is "
              "one or the other");
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

sn_err
sn_body_account(json_t *body, struct sn_body_account *out,
                struct sn_body_fault *f)
{
    static const char *const allowed[] = {"name", "roles", "subscriber",
                                          "password", NULL};
    const char *name, *sub, *pw;
    unsigned roles;
    sn_err r;

    memset(out, 0, sizeof(*out));
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "name", 1, SN_NAME_MAX, &name, f)) != SN_OK ||
        (r = str(body, "subscriber", 0, SN_UUID_LEN - 1, &sub, f)) != SN_OK ||
        (r = str(body, "password", 1, 1024, &pw, f)) != SN_OK ||
        (r = account_roles(json_object_get(body, "roles"), &roles, f)) != SN_OK)
        return r;
    if (!account_name_ok(name)) {
        fault(f, API_INVALID_FIELD,
              "'name' must be 1-64 of A-Z a-z 0-9 . _ - @");
        return SN_ERR_INVALID;
    }
    if ((roles & SN_OP_ROLES) && sub != NULL) {
        fault(f, API_INVALID_FIELD,
              "an operator's account has no 'subscriber'");
        return SN_ERR_INVALID;
    }
    if (sub != NULL && (strlen(sub) != SN_UUID_LEN - 1 || !name_ok(sub))) {
        fault(f, API_INVALID_FIELD, "'subscriber' must be a subscriber id");
        return SN_ERR_INVALID;
    }
    snprintf(out->name, sizeof(out->name), "%s", name);
    snprintf(out->subscriber, sizeof(out->subscriber), "%s", sub ? sub : "");
    out->roles = roles;
    out->operator_ = (roles & SN_OP_ROLES) != 0;
    out->password = pw;
    return SN_OK;
}

sn_err
sn_body_login(json_t *body, struct sn_body_login *out, struct sn_body_fault *f)
{
    static const char *const allowed[] = {"name", "password", "code",
                                          "recovery_code", NULL};
    struct sn_body_login l;
    const char *name;
    sn_err r;

    memset(out, 0, sizeof(*out));
    memset(&l, 0, sizeof(l));
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "name", 1, SN_NAME_MAX, &name, f)) != SN_OK ||
        (r = str(body, "password", 1, 1024, &l.password, f)) != SN_OK ||
        (r = str(body, "code", 0, 16, &l.code, f)) != SN_OK ||
        (r = str(body, "recovery_code", 0, 32, &l.recovery, f)) != SN_OK)
        return r;
    if (l.code != NULL && l.recovery != NULL) {
        fault(f, API_INVALID_FIELD, "send 'code' or 'recovery_code', not both");
        return SN_ERR_INVALID;
    }
    snprintf(l.name, sizeof(l.name), "%s", name);
    *out = l;
    return SN_OK;
}

sn_err
sn_body_totp_code(json_t *body, const char **code, struct sn_body_fault *f)
{
    static const char *const allowed[] = {"code", NULL};
    sn_err r;

    *code = NULL;
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "code", 1, 16, code, f)) != SN_OK)
        return r;
    return SN_OK;
}

sn_err
sn_body_password(json_t *body, const char **pw, struct sn_body_fault *f)
{
    static const char *const allowed[] = {"password", NULL};
    sn_err r;

    *pw = NULL;
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "password", 1, 1024, pw, f)) != SN_OK)
        return r;
    return SN_OK;
}

/* ---- reports (issue 18) ---- */

/* The base64 of at most max bytes: 4 characters per 3 bytes, rounded up. */
#define B64_LEN(max) (((max) + 2) / 3 * 4)

/* evidence.<name>: base64 of 1..max bytes into *out (owned). */
static sn_err
report_b64(json_t *ev, const char *name, size_t max, uint8_t **out, size_t *len,
           struct sn_body_fault *f)
{
    json_t *v = json_object_get(ev, name);
    size_t slen;

    *out = NULL;
    *len = 0;
    if (!json_is_string(v)) {
        fault(f, API_INVALID_FIELD, "evidence.%s must be a base64 string",
              name);
        return SN_ERR_INVALID;
    }
    slen = json_string_length(v);
    if (slen > B64_LEN(max)) {
        fault(f, API_INVALID_FIELD,
              "evidence.%s is longer than %zu bytes (base64: %zu characters)",
              name, max, (size_t)B64_LEN(max));
        return SN_ERR_INVALID;
    }
    if (slen == 0 || strlen(json_string_value(v)) != slen ||
        sn_b64_decode(json_string_value(v), out, len) != SN_OK || *len == 0) {
        free(*out);
        *out = NULL;
        *len = 0;
        fault(f, API_INVALID_FIELD, "evidence.%s is not base64", name);
        return SN_ERR_INVALID;
    }
    if (*len > max) {
        free(*out);
        *out = NULL;
        *len = 0;
        fault(f, API_INVALID_FIELD, "evidence.%s is longer than %zu bytes",
              name, max);
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

/* The evidence object: exactly one of its three forms. */
static sn_err
report_evidence(json_t *ev, struct sn_body_report *rq, struct sn_body_fault *f)
{
    static const char *const allowed[] = {"pkcs7", "signature",
                                          "digest_algorithm", "digest", NULL};
    int p7, sig, dig, alg;
    const char *name;
    sn_err r;

    if (!json_is_object(ev)) {
        fault(f, API_INVALID_FIELD,
              "'evidence' must be an object: {\"pkcs7\"}, {\"signature\"} or "
              "{\"digest_algorithm\", \"digest\"}");
        return SN_ERR_INVALID;
    }
    if ((r = only(ev, allowed, f)) != SN_OK)
        return r;
    p7 = json_object_get(ev, "pkcs7") != NULL;
    sig = json_object_get(ev, "signature") != NULL;
    dig = json_object_get(ev, "digest") != NULL;
    alg = json_object_get(ev, "digest_algorithm") != NULL;
    if (p7 + sig + (dig || alg) != 1 || dig != alg) {
        fault(f, API_INVALID_FIELD,
              "'evidence' holds exactly one of pkcs7, signature, or "
              "digest_algorithm with digest");
        return SN_ERR_INVALID;
    }
    if (p7) {
        rq->ev = SN_REPORT_EV_PKCS7;
        return report_b64(ev, "pkcs7", SN_REPORT_EVIDENCE_MAX, &rq->evidence,
                          &rq->evidence_len, f);
    }
    if (sig) {
        rq->ev = SN_REPORT_EV_SIGNATURE;
        return report_b64(ev, "signature", 1024, &rq->evidence,
                          &rq->evidence_len, f);
    }
    rq->ev = SN_REPORT_EV_DIGEST;
    if ((r = str(ev, "digest_algorithm", 1, 16, &name, f)) != SN_OK ||
        sn_digest_from_name(name, &rq->md) != SN_OK) {
        fault(f, API_INVALID_FIELD,
              "evidence.digest_algorithm must be sha256, sha384 or sha512");
        return SN_ERR_INVALID;
    }
    if ((r = report_b64(ev, "digest", 64, &rq->evidence, &rq->evidence_len,
                        f)) != SN_OK)
        return r;
    if (rq->evidence_len != sn_digest_len(rq->md)) {
        fault(f, API_INVALID_FIELD,
              "evidence.digest is %zu bytes; %s needs %zu", rq->evidence_len,
              sn_digest_name(rq->md), sn_digest_len(rq->md));
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

/* A text member people will read: required, 1..max bytes, displayable. */
static sn_err
report_text(json_t *body, const char *name, size_t max, const char **out,
            struct sn_body_fault *f)
{
    enum sn_text_fault tf;
    sn_err r;

    if ((r = str(body, name, 1, max, out, f)) != SN_OK)
        return r;
    if ((tf = sn_text_check(*out, strlen(*out), max, 0)) != SN_TEXT_OK) {
        fault(f, API_INVALID_FIELD, "'%s' %s", name, sn_text_fault_str(tf));
        *out = NULL;
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

void
sn_body_report_cleanup(struct sn_body_report *b)
{
    if (b == NULL)
        return;
    free(b->evidence);
    memset(b, 0, sizeof(*b));
}

sn_err
sn_body_report(json_t *body, struct sn_body_report *out,
               struct sn_body_fault *f)
{
    static const char *const allowed[] = {"kind", "evidence", "reason",
                                          "contact", NULL};
    struct sn_body_report rq;
    const char *kind;
    sn_err r;

    memset(out, 0, sizeof(*out));
    memset(&rq, 0, sizeof(rq));
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "kind", 1, 32, &kind, f)) != SN_OK)
        goto out;
    /* The names of store.h's sn_report_kind_name (this library stays
     * without the store). */
    if (strcmp(kind, "suspect_code") == 0)
        rq.kind = SN_REPORT_SUSPECT_CODE;
    else if (strcmp(kind, "key_compromise") == 0)
        rq.kind = SN_REPORT_KEY_COMPROMISE;
    else {
        fault(f, API_INVALID_FIELD,
              "'kind' must be \"suspect_code\" or \"key_compromise\"");
        r = SN_ERR_INVALID;
        goto out;
    }
    if (json_object_get(body, "evidence") == NULL) {
        fault(f, API_INVALID_FIELD, "'evidence' is required");
        r = SN_ERR_INVALID;
        goto out;
    }
    if ((r = report_evidence(json_object_get(body, "evidence"), &rq, f)) !=
            SN_OK ||
        (r = report_text(body, "reason", SN_REPORT_REASON_MAX, &rq.reason,
                         f)) != SN_OK ||
        (r = report_text(body, "contact", SN_REPORT_CONTACT_MAX, &rq.contact,
                         f)) != SN_OK)
        goto out;
    *out = rq;
    memset(&rq, 0, sizeof(rq));
out:
    sn_body_report_cleanup(&rq);
    return r;
}

sn_err
sn_body_report_confirm(json_t *body, time_t now,
                       struct sn_body_report_confirm *out,
                       struct sn_body_fault *f)
{
    static const char *const allowed[] = {"revocation_date", NULL};
    const char *date;
    time_t when;
    sn_err r;

    memset(out, 0, sizeof(*out));
    if ((r = only(body, allowed, f)) != SN_OK ||
        (r = str(body, "revocation_date", 0, 64, &date, f)) != SN_OK)
        return r;
    if (date == NULL)
        return SN_OK;
    if (sn_time_parse(date, &when) != SN_OK || when > now) {
        fault(f, API_INVALID_FIELD,
              "revocation_date must be an RFC 3339 time, not in the future");
        return SN_ERR_INVALID;
    }
    out->dated = 1;
    out->when = when;
    return SN_OK;
}

sn_err
sn_body_report_reject(json_t *body, const char **reason,
                      struct sn_body_fault *f)
{
    static const char *const allowed[] = {"reason", NULL};
    sn_err r;

    *reason = NULL;
    if ((r = only(body, allowed, f)) != SN_OK)
        return r;
    return report_text(body, "reason", SN_REPORT_REASON_MAX, reason, f);
}
