/*
 * libFuzzer driver: the JSON request body parsers (src/http/bodies.c). The
 * first byte picks the route, the rest is the body, loaded the way
 * server.c loads it (duplicate members refused, an object required). A
 * refusal must say why and leave the output zeroed; an accepted body must
 * satisfy the struct's limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/bodies.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum route {
    R_SUBSCRIBER,
    R_TOKEN,
    R_KEY,
    R_SIGN_RSA,
    R_SIGN_EC,
    R_REVOKE,
    R_CSR,
    R_IDENTITY,
    R_ISSUE,
    R_ACCOUNT,        /* issue 17 */
    R_LOGIN,          /* issue 17 */
    R_TOTP_CODE,      /* issue 17 */
    R_REPORT,         /* issue 18 */
    R_REPORT_CONFIRM, /* issue 18 */
    R_REPORT_REJECT,  /* issue 18 */
    R_COUNT
};

static void
check_refusal(sn_err r, const void *out, size_t len,
              const struct sn_body_fault *f)
{
    const uint8_t *p = out;
    size_t i;

    if (r == SN_OK)
        return;
    if (f->why[0] == '\0' || strnlen(f->why, sizeof(f->why)) >= sizeof(f->why))
        abort();
    for (i = 0; i < len; i++)
        if (p[i] != 0)
            abort();
}

static void
check_sign(sn_err r, int rsa, struct sn_body_sign *s,
           const struct sn_body_fault *f)
{
    size_t i;

    check_refusal(r, s, sizeof(*s), f);
    if (r != SN_OK)
        return;
    if (s->n == 0 || s->n > SN_BODY_MAX_BATCH || (!s->batch && s->n != 1))
        abort();
    if (!rsa && s->scheme != SN_SCHEME_ECDSA)
        abort();
    for (i = 0; i < s->n; i++)
        if (s->digests[i] == NULL)
            abort();
    sn_body_sign_cleanup(s);
}

/* An accepted report: one form of evidence, of its form's length. */
static void
check_report(sn_err r, struct sn_body_report *rep,
             const struct sn_body_fault *f)
{
    check_refusal(r, rep, sizeof(*rep), f);
    if (r != SN_OK)
        return;
    if (rep->evidence == NULL || rep->evidence_len == 0 ||
        rep->reason == NULL || rep->contact == NULL ||
        strlen(rep->reason) > SN_REPORT_REASON_MAX ||
        strlen(rep->contact) > SN_REPORT_CONTACT_MAX)
        abort();
    if ((rep->ev == SN_REPORT_EV_PKCS7 &&
         rep->evidence_len > SN_REPORT_EVIDENCE_MAX) ||
        (rep->ev == SN_REPORT_EV_SIGNATURE && rep->evidence_len > 1024) ||
        (rep->ev == SN_REPORT_EV_DIGEST &&
         rep->evidence_len != sn_digest_len(rep->md)))
        abort();
    sn_body_report_cleanup(rep);
}

static void
run(enum route route, json_t *body)
{
    struct sn_body_subscriber sub;
    struct sn_body_token tok;
    struct sn_body_key key;
    struct sn_body_sign sign;
    struct sn_body_revoke rev;
    struct sn_body_csr csr;
    struct sn_body_issue iss;
    struct sn_identity id;
    struct sn_body_account acct;
    struct sn_body_login login;
    struct sn_body_report rep;
    struct sn_body_report_confirm conf;
    const char *code, *why;
    struct sn_body_fault f;
    sn_err r;

    memset(&f, 0, sizeof(f));
    switch (route) {
    case R_SUBSCRIBER:
        r = sn_body_subscriber(body, &sub, &f);
        check_refusal(r, &sub, sizeof(sub), &f);
        if (r == SN_OK &&
            (sub.name[0] == '\0' ||
             strnlen(sub.name, sizeof(sub.name)) >= sizeof(sub.name)))
            abort();
        break;
    case R_TOKEN:
        r = sn_body_token(body, 1700000000, &tok, &f);
        check_refusal(r, &tok, sizeof(tok), &f);
        if (r == SN_OK &&
            (tok.roles == 0 || tok.nkeys > SN_TOKEN_MAX_KEYS ||
             (tok.expires_at != 0 && tok.expires_at <= 1700000000) ||
             (tok.no_expiry && tok.expires_at != 0)))
            abort();
        break;
    case R_KEY:
        r = sn_body_key(body, &key, &f);
        check_refusal(r, &key, sizeof(key), &f);
        break;
    case R_SIGN_RSA:
    case R_SIGN_EC:
        r = sn_body_sign(body, route == R_SIGN_RSA, &sign, &f);
        check_sign(r, route == R_SIGN_RSA, &sign, &f);
        break;
    case R_REVOKE:
        r = sn_body_revoke(body, 1700000000, &rev, &f);
        check_refusal(r, &rev, sizeof(rev), &f);
        if (r == SN_OK &&
            (rev.rname == NULL || rev.when > 1700000000 ||
             strcmp(sn_body_reason_name(rev.code), rev.rname) != 0))
            abort();
        break;
    case R_CSR:
        r = sn_body_csr(body, &csr, &f);
        check_refusal(r, &csr, sizeof(csr), &f);
        if (r == SN_OK && csr.subject == NULL)
            abort();
        sn_body_csr_cleanup(&csr);
        break;
    case R_IDENTITY:
        r = sn_body_identity(body, &id, &f);
        check_refusal(r, &id, sizeof(id), &f);
        break;
    case R_ISSUE:
        r = sn_body_issue(body, &iss, &f);
        check_refusal(r, &iss, sizeof(iss), &f);
        if (r == SN_OK && (iss.csr_pem == NULL || iss.days < 1 ||
                           iss.days > SN_BODY_MAX_VALIDITY_DAYS))
            abort();
        break;
    case R_ACCOUNT:
        r = sn_body_account(body, &acct, &f);
        check_refusal(r, &acct, sizeof(acct), &f);
        /* One kind of roles; an operator has no subscriber; a subscriber
         * id has its length. */
        if (r == SN_OK &&
            (acct.roles == 0 || acct.password == NULL ||
             ((acct.roles & SN_OP_ROLES) && (acct.roles & SN_SUB_ROLES)) ||
             (acct.roles & ~(SN_OP_ROLES | SN_SUB_ROLES)) ||
             acct.operator_ != ((acct.roles & SN_OP_ROLES) != 0) ||
             (acct.operator_ && acct.subscriber[0] != '\0') ||
             (acct.subscriber[0] != '\0' &&
              strlen(acct.subscriber) != SN_UUID_LEN - 1) ||
             acct.name[0] == '\0'))
            abort();
        break;
    case R_LOGIN:
        r = sn_body_login(body, &login, &f);
        check_refusal(r, &login, sizeof(login), &f);
        if (r == SN_OK && (login.password == NULL || login.name[0] == '\0' ||
                           (login.code != NULL && login.recovery != NULL) ||
                           strlen(login.password) > 1024))
            abort();
        break;
    case R_TOTP_CODE:
        r = sn_body_totp_code(body, &code, &f);
        check_refusal(r, &code, sizeof(code), &f);
        if (r == SN_OK && (code == NULL || strlen(code) > 16))
            abort();
        break;
    case R_REPORT:
        r = sn_body_report(body, &rep, &f);
        check_report(r, &rep, &f);
        break;
    case R_REPORT_CONFIRM:
        r = sn_body_report_confirm(body, 1700000000, &conf, &f);
        check_refusal(r, &conf, sizeof(conf), &f);
        if (r == SN_OK && conf.dated && conf.when > 1700000000)
            abort();
        break;
    case R_REPORT_REJECT:
        r = sn_body_report_reject(body, &why, &f);
        check_refusal(r, &why, sizeof(why), &f);
        if (r == SN_OK && (why == NULL || strlen(why) > SN_REPORT_REASON_MAX))
            abort();
        break;
    default:
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *body;

    if (size < 1)
        return 0;
    body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES,
                      &jerr);
    /* server.c answers anything but an object before a handler runs. */
    if (body != NULL && json_is_object(body))
        run((enum route)(data[0] % R_COUNT), body);
    json_decref(body);
    return 0;
}
