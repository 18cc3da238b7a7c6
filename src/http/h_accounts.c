/*
 * h_accounts: people (issue 17). Accounts (an operator's or a subscriber's
 * user), their TOTP enrolment and recovery codes, login sessions, and the
 * disabling of an account. Bodies are untrusted and parsed by bodies.c;
 * passwords are hashed with argon2id (auth/password.c), TOTP secrets are
 * sealed by the service token's key (in the keeper: sn_keeper_seal) and opened
 * only to check a code; neither, nor a code, nor a session token, is ever
 * written to a log line or an error message.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "auth/password.h"
#include "auth/recovery.h"
#include "auth/totp.h"
#include "common/log.h"
#include "crypto/apitoken.h"
#include "http/bodies.h"
#include "http/handlers.h"
#include "http/loginguard.h"

/* Five failed logins in a row lock an account for 30 s, doubling with
 * each further failure, to an hour. */
static const struct sn_lockout lockout = {5, 30, 3600};
/* A session that proved no second factor only enrols one: short. */
#define ENROL_LIFETIME 900
#define TOTP_ISSUER "Signet"

/* The one answer to every failed login: it does not say which part was
 * wrong, or whether the name exists. */
#define LOGIN_FAILED "name, password or code not accepted"

static struct sn_log_limit login_lines = SN_LOG_LIMIT(10, 10);

static const char *
totp_state_name(enum sn_totp_state s)
{
    return s == SN_TOTP_ACTIVE    ? "active"
           : s == SN_TOTP_PENDING ? "pending"
                                  : "none";
}

static json_t *
account_json(const struct sn_account *a)
{
    json_t *factors = json_array(), *o;

    json_array_append_new(factors, json_string("password"));
    if (a->totp_state == SN_TOTP_ACTIVE)
        json_array_append_new(factors, json_string("totp"));
    o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:s, s:i, s:i, s:o, "
                  "s:o, s:o, s:o, s:s, s:o}",
                  "id", a->id, "name", a->name, "kind",
                  a->operator_ ? "operator" : "subscriber", "subscriber",
                  a->operator_ ? json_null() : json_string(a->subscriber),
                  "roles", sn_roles_json(a->roles), "state",
                  a->disabled_at != 0 ? "disabled" : "active", "factors",
                  factors, "totp",
                  totp_state_name(a->totp_pending_len > 0 &&
                                          a->totp_state == SN_TOTP_ACTIVE
                                      ? SN_TOTP_PENDING
                                      : a->totp_state),
                  "recovery_codes_left", (int)a->recovery_left, "failed_logins",
                  (int)a->failures, "locked_until",
                  a->locked_until > time(NULL) ? sn_time_json(a->locked_until)
                                               : json_null(),
                  "last_login", sn_time_json(a->last_login), "last_use",
                  sn_time_json(a->last_use), "created_at",
                  sn_time_json(a->created_at), "created_by", a->created_by,
                  "disabled_at", sn_time_json(a->disabled_at));
    return o;
}

/* An account's record goes to its subscriber's log, or the operators'. */
static void
account_audit(struct sn_audit *a, const struct sn_req *req,
              const struct sn_account *acct, const char *action)
{
    sn_audit_init(a, req, acct->operator_ ? "" : acct->subscriber, "", action);
    snprintf(a->detail, sizeof(a->detail), "account %s name=%s", acct->id,
             acct->name);
}

void
sn_h_account_create(const struct sn_deps *deps, struct sn_req *req,
                    struct sn_resp *resp)
{
    struct sn_body_account body;
    struct sn_body_fault f;
    struct sn_resource res;
    struct sn_subscriber sub;
    struct sn_account a;
    struct sn_audit rec;
    char why[128];
    sn_err r;

    memset(&a, 0, sizeof(a));
    memset(&res, 0, sizeof(res));
    if (sn_allowed(deps, req, resp, SN_ACT_ACCOUNT_CREATE, NULL) != 0)
        goto out;
    if (sn_body_account(req->json, &body, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        goto out;
    }
    /* A subscriber's manager creates its own users by default. */
    if (!body.operator_ && body.subscriber[0] == '\0')
        snprintf(body.subscriber, sizeof(body.subscriber), "%s",
                 req->who->subscriber);
    if (!body.operator_ && body.subscriber[0] == '\0') {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "a subscriber's account needs 'subscriber'");
        goto out;
    }
    res.subscriber = body.operator_ ? NULL : body.subscriber;
    res.roles = body.roles;
    if (sn_allowed(deps, req, resp, SN_ACT_ACCOUNT_CREATE, &res) != 0)
        goto out;
    if (!body.operator_) {
        r = sn_store_subscriber_get(deps->store, body.subscriber, &sub);
        if (r == SN_ERR_NOT_FOUND) {
            sn_resp_error(resp, API_NOT_FOUND, "no such subscriber");
            goto out;
        }
        if (r != SN_OK) {
            sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
            goto out;
        }
    }
    if (sn_password_acceptable(body.password, why, sizeof(why)) != SN_OK) {
        sn_resp_error(resp, API_INVALID_FIELD, "'password': %s", why);
        goto out;
    }
    snprintf(a.name, sizeof(a.name), "%s", body.name);
    a.operator_ = body.operator_;
    snprintf(a.subscriber, sizeof(a.subscriber), "%s", body.subscriber);
    a.roles = body.roles;
    a.created_at = time(NULL);
    sn_audit_principal(a.created_by, sizeof(a.created_by), req->who->method,
                       req->who->id, req->who->via, req->who->proof);
    if (sn_uuid(a.id) != SN_OK ||
        sn_password_hash(body.password, a.pw_hash) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "cannot create the account");
        goto out;
    }
    /* The bootstrap token makes the first operator only: once one is
     * active, operators make accounts with their second factor. */
    r = sn_store_account_add(deps->store, &a,
                             req->who->admin &&
                                 req->who->method != SN_AUTH_SESSION &&
                                 !req->who->mfa_exempt);
    if (r == SN_ERR_EXISTS) {
        sn_resp_error(resp, API_CONFLICT, "an account with this name exists");
        goto out;
    }
    if (r == SN_ERR_STATE) {
        sn_resp_error(resp, API_MFA_REQUIRED,
                      "an operator account exists: accounts are now made "
                      "by an operator's login session, not the admin token");
        goto out;
    }
    account_audit(&rec, req, &a, "account_create");
    if (r != SN_OK || sn_store_audit_add(deps->store, &rec) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    sn_resp_json(resp, API_CREATED, account_json(&a));
out:
    OPENSSL_cleanse(&a, sizeof(a));
}

void
sn_h_account_list(const struct sn_deps *deps, struct sn_req *req,
                  struct sn_resp *resp)
{
    const char *sub = sn_req_query(req, "subscriber");
    struct sn_resource res;
    struct sn_account *v = NULL;
    json_t *arr;
    size_t n = 0, i;

    memset(&res, 0, sizeof(res));
    /* A subscriber's manager sees its own users. */
    if (!req->who->admin)
        sub = req->who->subscriber;
    if (sub != NULL && (strlen(sub) == 0 || strlen(sub) >= SN_UUID_LEN)) {
        sn_resp_error(resp, API_BAD_REQUEST, "'subscriber' is not an id");
        return;
    }
    res.subscriber = sub;
    if (sn_allowed(deps, req, resp, SN_ACT_ACCOUNT_LIST, &res) != 0)
        return;
    if (sn_store_account_list(deps->store, sub, &v, &n) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    arr = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(arr, account_json(&v[i]));
    OPENSSL_cleanse(v, n * sizeof(*v));
    free(v);
    sn_resp_json(resp, API_OK, json_pack("{s:o}", "accounts", arr));
}

/* Loads the account of the path for action; 0 if allowed. */
static int
load_account(const struct sn_deps *deps, struct sn_req *req,
             struct sn_resp *resp, struct sn_account *a)
{
    struct sn_resource res;
    sn_err r;

    r = sn_store_account_get(deps->store, req->params[0], a);
    if (r == SN_ERR_NOT_FOUND) {
        sn_resp_error(resp, API_NOT_FOUND, "no such account");
        return -1;
    }
    if (r != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return -1;
    }
    memset(&res, 0, sizeof(res));
    res.subscriber = a->operator_ ? "" : a->subscriber;
    res.token = a->id;
    res.roles = a->roles;
    if (sn_allowed(deps, req, resp, SN_ACT_ACCOUNT_MANAGE, &res) != 0)
        return -1;
    if (a->disabled_at != 0) {
        sn_resp_error(resp, API_CONFLICT, "the account is disabled");
        return -1;
    }
    return 0;
}

/* The context a secret is sealed for: its account. */
static void
seal_context(char *buf, size_t len, const char *account)
{
    snprintf(buf, len, "signet totp %s", account);
}

/* The caller is the account's own person (one of its sessions). */
static int
is_self(const struct sn_req *req, const struct sn_account *a)
{
    return req->who->method == SN_AUTH_SESSION &&
           strcmp(req->who->via, a->id) == 0;
}

/*
 * POST /v1/accounts/{id}/totp. The person themself gets a new secret,
 * pending beside the active one (which stays in force) until a code made
 * from it is confirmed: while no factor is active with any session of
 * theirs, after that only with a session that proved it. Anyone else
 * allowed to manage the account (its manager, an operator) resets it:
 * every factor and recovery code goes, no secret is shown to them, and
 * the person enrols again at their next login.
 */
void
sn_h_account_totp(const struct sn_deps *deps, struct sn_req *req,
                  struct sn_resp *resp)
{
    uint8_t secret[SN_TOTP_SECRET_LEN], sealed[SN_TOTP_SEALED_MAX];
    size_t slen = sizeof(sealed);
    struct sn_account a;
    struct sn_audit rec;
    char ctx[96], *uri = NULL;

    memset(&a, 0, sizeof(a));
    memset(secret, 0, sizeof(secret));
    if (load_account(deps, req, resp, &a) != 0)
        goto out;
    if (!is_self(req, &a)) {
        /* Whoever resets a factor could enrol their own with a password
         * they know (the creator's): operators, who vet identities, do it. */
        if (!req->who->admin) {
            sn_resp_error(resp, API_FORBIDDEN,
                          "a second factor is reset by the person or an "
                          "operator");
            goto out;
        }
        account_audit(&rec, req, &a, "totp_reset");
        if (sn_store_account_totp_clear(deps->store, a.id) != SN_OK ||
            sn_store_audit_add(deps->store, &rec) != SN_OK) {
            sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
            goto out;
        }
        sn_resp_json(resp, API_OK, json_pack("{s:s}", "state", "none"));
        goto out;
    }
    if (a.totp_state == SN_TOTP_ACTIVE && !req->who->mfa) {
        sn_resp_error(resp, API_MFA_REQUIRED,
                      "a second factor is enrolled: log in with it to "
                      "enrol a new one");
        goto out;
    }
    seal_context(ctx, sizeof(ctx), a.id);
    if (sn_totp_secret_new(secret) != SN_OK ||
        sn_keeper_seal(deps->keeper, ctx, secret, sizeof(secret), sealed,
                       &slen) != SN_OK ||
        sn_totp_uri(TOTP_ISSUER, a.name, secret, sizeof(secret), &uri) !=
            SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "cannot make a TOTP secret");
        goto out;
    }
    account_audit(&rec, req, &a, "totp_enrol");
    if (sn_store_account_totp_pending(deps->store, a.id, sealed, slen) !=
            SN_OK ||
        sn_store_audit_add(deps->store, &rec) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    /* Shown once: the secret is not stored in clear anywhere. */
    sn_resp_json(
        resp, API_OK,
        json_pack("{s:s, s:s}", "otpauth_uri", uri, "state", "pending"));
    resp->secret = 1;
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(&a, sizeof(a));
    sn_secret_free(uri);
}

/* Opens a secret sealed for the account into secret; 0 on success. */
static int
open_secret(const struct sn_deps *deps, const struct sn_account *a,
            const uint8_t *sealed, size_t len,
            uint8_t secret[SN_TOTP_SECRET_LEN])
{
    size_t out = SN_TOTP_SECRET_LEN;
    char ctx[96];

    seal_context(ctx, sizeof(ctx), a->id);
    if (len == 0 ||
        sn_keeper_unseal(deps->keeper, ctx, sealed, len, secret, &out) !=
            SN_OK ||
        out != SN_TOTP_SECRET_LEN)
        return -1;
    return 0;
}

/* POST /v1/accounts/{id}/totp/confirm: the pending secret becomes the
 * account's second factor, and a new set of recovery codes is shown
 * once. */
void
sn_h_account_totp_confirm(const struct sn_deps *deps, struct sn_req *req,
                          struct sn_resp *resp)
{
    uint8_t secret[SN_TOTP_SECRET_LEN], hashes[SN_RECOVERY_CODES][32];
    char codes[SN_RECOVERY_CODES][SN_RECOVERY_CODE_SIZE];
    struct sn_body_fault f;
    struct sn_account a;
    struct sn_audit rec;
    const char *code;
    int64_t step = 0;
    json_t *list = NULL;
    size_t i;

    memset(&a, 0, sizeof(a));
    memset(codes, 0, sizeof(codes));
    memset(secret, 0, sizeof(secret));
    if (load_account(deps, req, resp, &a) != 0)
        goto out;
    if (sn_body_totp_code(req->json, &code, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        goto out;
    }
    if (!is_self(req, &a)) {
        sn_resp_error(resp, API_FORBIDDEN,
                      "only the person confirms their own authenticator");
        goto out;
    }
    if (a.totp_pending_len == 0) {
        sn_resp_error(resp, API_CONFLICT,
                      "no TOTP enrolment is pending: POST "
                      "/v1/accounts/{id}/totp first");
        goto out;
    }
    if (open_secret(deps, &a, a.totp_pending, a.totp_pending_len, secret) !=
        0) {
        sn_resp_error(resp, API_UNAVAILABLE, "cannot open the TOTP secret");
        goto out;
    }
    /* A new secret: its own codes from now on (no step of it was used). */
    if (!sn_totp_check(secret, sizeof(secret), code, time(NULL), 0, &step) ||
        sn_store_account_totp_confirm(deps->store, a.id, a.totp_pending,
                                      a.totp_pending_len, step) != SN_OK) {
        sn_resp_error(resp, API_INVALID_FIELD,
                      "'code' is not the current code of the enrolled "
                      "secret");
        goto out;
    }
    if (sn_recovery_new(codes, SN_RECOVERY_CODES) != SN_OK)
        goto fail;
    for (i = 0; i < SN_RECOVERY_CODES; i++)
        if (sn_recovery_hash(codes[i], hashes[i]) != SN_OK)
            goto fail;
    account_audit(&rec, req, &a, "totp_confirm");
    if (sn_store_recovery_set(deps->store, a.id, (const uint8_t(*)[32])hashes,
                              SN_RECOVERY_CODES) != SN_OK ||
        sn_store_audit_add(deps->store, &rec) != SN_OK)
        goto fail;
    list = json_array();
    for (i = 0; i < SN_RECOVERY_CODES; i++)
        json_array_append_new(list, json_string(codes[i]));
    sn_resp_json(
        resp, API_OK,
        json_pack("{s:s, s:o}", "state", "active", "recovery_codes", list));
    goto out;
fail:
    sn_resp_error(resp, API_UNAVAILABLE,
                  "the second factor is active, but its recovery codes "
                  "could not be made: enrol again");
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(codes, sizeof(codes));
    OPENSSL_cleanse(hashes, sizeof(hashes));
    OPENSSL_cleanse(&a, sizeof(a));
}

/* POST /v1/accounts/{id}/disable: at once, and its sessions with it. */
void
sn_h_account_disable(const struct sn_deps *deps, struct sn_req *req,
                     struct sn_resp *resp)
{
    struct sn_account a;
    struct sn_audit rec;
    time_t now = time(NULL);
    sn_err r;

    memset(&a, 0, sizeof(a));
    if (load_account(deps, req, resp, &a) != 0)
        goto out;
    /* A stolen password alone does not end the account. */
    if (is_self(req, &a) && !req->who->mfa) {
        sn_resp_error(resp, API_MFA_REQUIRED,
                      "disabling one's own account needs a session that "
                      "proved a second factor");
        goto out;
    }
    r = sn_store_account_disable(deps->store, a.id, now);
    if (r == SN_ERR_STATE) {
        sn_resp_error(resp, API_CONFLICT, "the account is disabled");
        goto out;
    }
    account_audit(&rec, req, &a, "account_disable");
    if (r != SN_OK || sn_store_audit_add(deps->store, &rec) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    a.disabled_at = now;
    sn_resp_json(resp, API_OK, account_json(&a));
out:
    OPENSSL_cleanse(&a, sizeof(a));
}

/*
 * POST /v1/accounts/{id}/password: the person's own new password (the
 * one their account was created with is known to whoever created it).
 * Once a second factor is enrolled, only with a session that proved it.
 */
void
sn_h_account_password(const struct sn_deps *deps, struct sn_req *req,
                      struct sn_resp *resp)
{
    struct sn_body_fault f;
    struct sn_account a;
    struct sn_audit rec;
    const char *pw;
    char why[128];

    memset(&a, 0, sizeof(a));
    if (load_account(deps, req, resp, &a) != 0)
        goto out;
    if (!is_self(req, &a)) {
        sn_resp_error(resp, API_FORBIDDEN,
                      "a password is changed by its own person only");
        goto out;
    }
    if (a.totp_state == SN_TOTP_ACTIVE && !req->who->mfa) {
        sn_resp_error(resp, API_MFA_REQUIRED,
                      "log in with the second factor to change the password");
        goto out;
    }
    if (sn_body_password(req->json, &pw, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        goto out;
    }
    if (sn_password_acceptable(pw, why, sizeof(why)) != SN_OK) {
        sn_resp_error(resp, API_INVALID_FIELD, "'password': %s", why);
        goto out;
    }
    if (sn_password_hash(pw, a.pw_hash) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "cannot hash the password");
        goto out;
    }
    account_audit(&rec, req, &a, "password_change");
    if (sn_store_account_set_password(deps->store, a.id, a.pw_hash) != SN_OK ||
        sn_store_audit_add(deps->store, &rec) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    sn_resp_json(resp, API_OK, json_pack("{s:s}", "password", "changed"));
out:
    OPENSSL_cleanse(&a, sizeof(a));
}

/* A failed login of a known account: counted and locked by the store in
 * one statement, tallied in its log (a flood is a few rows a minute). */
static void
login_failed(const struct sn_deps *deps, struct sn_req *req,
             const struct sn_account *a, time_t now)
{
    struct sn_audit rec;

    (void)sn_store_account_login(deps->store, a->id, 0, now, &lockout);
    sn_audit_init(&rec, req, a->operator_ ? "" : a->subscriber, "",
                  "login_failed");
    snprintf(rec.result, sizeof(rec.result), "denied");
    snprintf(rec.detail, sizeof(rec.detail), "account %s name=%s", a->id,
             a->name);
    sn_store_audit_tally(deps->store, &rec);
    sn_log_limited(&login_lines, SN_LOG_WARN,
                   "login: failed for account %s from %s", a->id, req->client);
}

/*
 * The second factor of a login: a TOTP code (each step once) or a
 * recovery code (each once). 1 proved, 0 refused; *how names it.
 */
static int
second_factor(const struct sn_deps *deps, const struct sn_account *a,
              const struct sn_body_login *b, time_t now, const char **how)
{
    uint8_t secret[SN_TOTP_SECRET_LEN], hash[32];
    int64_t step = 0;
    int ok = 0;

    if (b->code != NULL) {
        *how = "password+totp";
        ok = open_secret(deps, a, a->totp_sealed, a->totp_sealed_len, secret) ==
                 0 &&
             sn_totp_check(secret, sizeof(secret), b->code, now,
                           a->totp_last_step, &step) &&
             sn_store_account_totp_step(deps->store, a->id, step) == SN_OK;
    } else if (b->recovery != NULL) {
        *how = "password+recovery_code";
        ok = sn_recovery_hash(b->recovery, hash) == SN_OK &&
             sn_store_recovery_use(deps->store, a->id, hash, now) == SN_OK;
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    OPENSSL_cleanse(hash, sizeof(hash));
    return ok;
}

/* Mints the session token of a login that succeeded. */
static sn_err
mint_session(const struct sn_deps *deps, const struct sn_account *a, int mfa,
             const char *how, time_t now, char **secret, struct sn_token *t)
{
    memset(t, 0, sizeof(*t));
    t->admin = a->operator_;
    snprintf(t->subscriber, sizeof(t->subscriber), "%s", a->subscriber);
    snprintf(t->name, sizeof(t->name), "session %.40s", a->name);
    t->roles = a->roles;
    t->created_at = now;
    t->expires_at =
        now + (mfa ? (time_t)deps->people.session_lifetime : ENROL_LIFETIME);
    t->auth_method = SN_AUTH_SESSION;
    snprintf(t->via, sizeof(t->via), "%s", a->id);
    snprintf(t->proof, sizeof(t->proof), "name=%s factors=%s", a->name, how);
    t->mfa = mfa;
    t->idle_timeout = deps->people.session_idle;
    if (sn_uuid(t->id) != SN_OK ||
        sn_apitoken_new(t->id, secret, t->hash) != SN_OK)
        return SN_ERR_CRYPTO;
    return sn_store_session_add(deps->store, t);
}

void
sn_h_session_create(const struct sn_deps *deps, struct sn_req *req,
                    struct sn_resp *resp)
{
    struct sn_body_login b;
    struct sn_body_fault f;
    struct sn_account a;
    struct sn_token t;
    struct sn_audit rec;
    const char *how = "password";
    char *secret = NULL;
    time_t now = time(NULL), wait;
    int mfa = 0;
    sn_err r;

    memset(&a, 0, sizeof(a));
    memset(&t, 0, sizeof(t));
    if (sn_body_login(req->json, &b, &f) != SN_OK) {
        sn_resp_error(resp, f.code, "%s", f.why);
        goto out;
    }
    if ((wait = sn_loginguard_wait(req->client, now)) > 0) {
        sn_resp_error(resp, API_LOCKED,
                      "too many failed logins from this address: try again "
                      "in %lld s",
                      (long long)wait);
        goto out;
    }
    r = sn_store_account_by_name(deps->store, b.name, &a);
    if (r != SN_OK && r != SN_ERR_NOT_FOUND) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    if (r == SN_ERR_NOT_FOUND || a.disabled_at != 0) {
        /* As long as a wrong password: the answer's time does not tell
         * which names exist. */
        sn_password_dummy_verify(b.password);
        sn_loginguard_failed(req->client, now);
        sn_log_limited(&login_lines, SN_LOG_WARN,
                       "login: unknown or disabled account from %s",
                       req->client);
        sn_resp_error(resp, API_LOGIN_FAILED, LOGIN_FAILED);
        goto out;
    }
    if (a.locked_until > now) {
        sn_resp_error(resp, API_LOCKED,
                      "too many failed logins for this account: try again "
                      "in %lld s",
                      (long long)(a.locked_until - now));
        goto out;
    }
    if (!sn_password_verify(b.password, a.pw_hash))
        goto failed;
    if (a.totp_state == SN_TOTP_ACTIVE) {
        if (!second_factor(deps, &a, &b, now, &how))
            goto failed;
        mfa = 1;
    } else if (b.code != NULL || b.recovery != NULL)
        goto failed; /* no factor enrolled to check it against */
    if ((r = mint_session(deps, &a, mfa, how, now, &secret, &t)) != SN_OK) {
        if (r == SN_ERR_STATE) /* disabled meanwhile */
            sn_resp_error(resp, API_LOGIN_FAILED, LOGIN_FAILED);
        else
            sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    (void)sn_store_account_login(deps->store, a.id, 1, now, NULL);
    sn_audit_init(&rec, req, a.operator_ ? "" : a.subscriber, "", "login");
    snprintf(rec.token, sizeof(rec.token), "%s", t.id);
    sn_audit_principal(rec.principal, sizeof(rec.principal), SN_AUTH_SESSION,
                       t.id, t.via, t.proof);
    snprintf(rec.detail, sizeof(rec.detail), "account %s session %s%s", a.id,
             t.id, mfa ? "" : " (enrolment only: no second factor yet)");
    if (sn_store_audit_add(deps->store, &rec) != SN_OK) {
        (void)sn_store_token_revoke(deps->store, t.id, now);
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        goto out;
    }
    sn_resp_json(resp, API_CREATED,
                 json_pack("{s:s, s:s, s:o, s:i, s:b, s:s, s:o}", "token",
                           secret, "id", t.id, "expires_at",
                           sn_time_json(t.expires_at), "idle_timeout",
                           (int)t.idle_timeout, "mfa", mfa, "account", a.id,
                           "roles", sn_roles_json(a.roles)));
    resp->secret = 1;
    goto out;
failed:
    login_failed(deps, req, &a, now);
    sn_loginguard_failed(req->client, now);
    sn_resp_error(resp, API_LOGIN_FAILED, LOGIN_FAILED);
out:
    sn_secret_free(secret);
    OPENSSL_cleanse(&t, sizeof(t));
    OPENSSL_cleanse(&a, sizeof(a));
}

/* DELETE /v1/sessions/current: the caller's own session ends. */
void
sn_h_session_delete(const struct sn_deps *deps, struct sn_req *req,
                    struct sn_resp *resp)
{
    struct sn_audit rec;

    if (req->who->method != SN_AUTH_SESSION) {
        sn_resp_error(resp, API_BAD_REQUEST,
                      "this credential is not a login session");
        return;
    }
    if (sn_store_token_revoke(deps->store, req->who->id, time(NULL)) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "database unavailable");
        return;
    }
    sn_audit_init(&rec, req, req->who->subscriber, "", "logout");
    snprintf(rec.detail, sizeof(rec.detail), "account %s session %s",
             req->who->via, req->who->id);
    (void)sn_store_audit_add(deps->store, &rec);
    sn_resp_json(resp, API_OK, json_pack("{s:s}", "state", "ended"));
}
