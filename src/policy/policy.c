/*
 * policy: the authorization decision table (see policy.h). Its inputs are
 * trusted: an authenticated principal and resources read from the store.
 * The texts are the answers the API has always given; the 404-like
 * denials (hide) keep another subscriber's objects invisible.
 */
#include "policy/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *
sn_policy_deny_str(enum sn_deny reason)
{
    switch (reason) {
#define SN_DENY_STR(c, t)                                                      \
    case c:                                                                    \
        return t;
        SN_POLICY_DENIALS(SN_DENY_STR)
#undef SN_DENY_STR
    }
    return "denied";
}

static enum sn_verdict deny(struct sn_decision *d, enum sn_deny reason,
                            const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum sn_verdict
deny(struct sn_decision *d, enum sn_deny reason, const char *fmt, ...)
{
    va_list ap;

    d->verdict = SN_POLICY_DENY;
    d->reason = reason;
    va_start(ap, fmt);
    vsnprintf(d->message, sizeof(d->message), fmt, ap);
    va_end(ap);
    return SN_POLICY_DENY;
}

/* A denial that looks like a missing resource. */
static enum sn_verdict
hide(struct sn_decision *d, enum sn_deny reason, const char *what)
{
    d->hide = 1;
    return deny(d, reason, "%s", what);
}

static int
owns(const struct sn_principal *p, const char *subscriber)
{
    return !p->admin && subscriber != NULL &&
           strcmp(p->subscriber, subscriber) == 0;
}

/* 1 if the principal's key scope (none = every key) includes key. */
static int
in_scope(const struct sn_principal *p, const char *key)
{
    size_t i;

    if (p->nkeys == 0)
        return 1;
    for (i = 0; key != NULL && i < p->nkeys; i++)
        if (strcmp(p->keys[i], key) == 0)
            return 1;
    return 0;
}

/* A token limited to some keys (a key scope) acts on those keys only: it
 * creates no keys and no tokens, revokes no token but itself, and reads
 * no record of the subscriber's other keys. */
static int
scoped(const struct sn_principal *p)
{
    return !p->admin && p->nkeys > 0;
}

/* Actions of the operator alone; the texts name each. */
static enum sn_verdict
operator_only(const struct sn_principal *p, enum sn_action a,
              struct sn_decision *d)
{
    static const struct {
        enum sn_action a;
        const char *text;
    } texts[] = {
        {SN_ACT_SUBSCRIBER_CREATE,
         "only an admin token may create subscribers"},
        {SN_ACT_SUBSCRIBER_LIST, "only an admin token may list subscribers"},
        {SN_ACT_IDENTITY_SET,
         "identities are recorded by the operator (admin token)"},
        {SN_ACT_TSA_ROTATE, "only an admin token may rotate the TSA key"},
        {SN_ACT_TSA_CLOCK_OK, "only an admin token may confirm the clock"},
        {SN_ACT_METRICS_READ, "only an admin token may read the metrics"},
        {SN_ACT_ADMIN_AUDIT_READ,
         "the operators' audit log is read by an operator"},
        {SN_ACT_OIDC_ISSUER_MANAGE,
         "only an admin token may register or remove OIDC issuers"},
        {SN_ACT_COMPROMISE_LATER,
         "a keyCompromise revocation date may only be moved earlier; moving "
         "it later is an operator decision (admin token, with a 'comment')"},
    };
    size_t i;

    if (p->admin)
        return SN_POLICY_ALLOW;
    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (texts[i].a == a)
            return deny(d, SN_DENY_OPERATOR_ONLY, "%s", texts[i].text);
    return deny(d, SN_DENY_OPERATOR_ONLY, "%s",
                sn_policy_deny_str(SN_DENY_OPERATOR_ONLY));
}

/*
 * Using a key: subscriber tokens only, with the role, the subscriber's own
 * key (another's answers like a missing one, and its owner's log shows
 * the attempt), within the token's scope.
 */
static enum sn_verdict
key_use(const struct sn_principal *p, enum sn_action a,
        const struct sn_resource *r, struct sn_decision *d)
{
    unsigned need = a == SN_ACT_KEY_SIGN     ? SN_ROLE_SIGN
                    : a == SN_ACT_KEY_MANAGE ? SN_ROLE_MANAGE
                                             : SN_ROLE_MANAGE | SN_ROLE_SIGN;

    if (p->admin)
        return deny(d, SN_DENY_OPERATOR_EXCLUDED,
                    "admin tokens manage subscribers and tokens; they cannot "
                    "use subscriber keys");
    if ((p->roles & need) == 0) {
        d->audit_subscriber = p->subscriber;
        d->audit_detail = "role missing";
        return deny(d, SN_DENY_ROLE, "token lacks the '%s' role",
                    need == SN_ROLE_SIGN ? "sign" : "manage");
    }
    if (r == NULL)
        return SN_POLICY_ALLOW;
    if (!owns(p, r->subscriber)) {
        d->audit_subscriber = r->subscriber;
        d->audit_detail = "token of another subscriber";
        return hide(d, SN_DENY_FOREIGN, "no such key");
    }
    if (!in_scope(p, r->key)) {
        d->audit_subscriber = p->subscriber;
        d->audit_detail = "key outside token scope";
        return deny(d, SN_DENY_SCOPE,
                    "this token is not allowed to use this key");
    }
    return SN_POLICY_ALLOW;
}

/* Listing keys: a subscriber's token sees its own keys within its scope. */
static enum sn_verdict
key_list(const struct sn_principal *p, const struct sn_resource *r,
         struct sn_decision *d)
{
    if (p->admin)
        return deny(d, SN_DENY_OPERATOR_EXCLUDED,
                    "keys are listed with a subscriber's token");
    if (r == NULL)
        return SN_POLICY_ALLOW;
    if (!owns(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN, "no such key");
    if (!in_scope(p, r->key))
        return hide(d, SN_DENY_SCOPE, "no such key");
    return SN_POLICY_ALLOW;
}

/* Whose tokens a caller manages: the operator's, everyone's; a 'manage'
 * token's, its own subscriber's. */
static int
manages(const struct sn_principal *p, const char *subscriber)
{
    return p->admin || ((p->roles & SN_ROLE_MANAGE) && owns(p, subscriber));
}

/* A scoped token's try at a subscriber-wide act, in its own log. */
static enum sn_verdict
deny_scoped(const struct sn_principal *p, const char *detail, const char *text,
            struct sn_decision *d)
{
    d->audit_subscriber = p->subscriber;
    d->audit_detail = detail;
    return deny(d, SN_DENY_SCOPE, "%s", text);
}

/* Another subscriber, or a token without 'manage', sees no subscriber;
 * a scoped 'manage' token of its own subscriber is refused. */
static enum sn_verdict
token_create(const struct sn_principal *p, const struct sn_resource *r,
             struct sn_decision *d)
{
    if (r != NULL && !manages(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN, "no such subscriber");
    if (scoped(p))
        return deny_scoped(p, "token creation by a key-limited token",
                           "a token limited to some keys cannot create "
                           "tokens; use a token without a key limit",
                           d);
    return SN_POLICY_ALLOW;
}

/* Any subscriber token may revoke itself; others need 'manage' on the
 * subscriber and no key scope. An operator's token only the operator. */
static int
is_self(const struct sn_principal *p, const struct sn_resource *r)
{
    return r->token != NULL && strcmp(r->token, p->id) == 0 &&
           owns(p, r->subscriber) && !r->admin_token;
}

static enum sn_verdict
token_revoke(const struct sn_principal *p, const struct sn_resource *r,
             struct sn_decision *d)
{
    if (r == NULL || p->admin || is_self(p, r))
        return SN_POLICY_ALLOW;
    if (r->admin_token || !manages(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN, "no such active token");
    if (scoped(p))
        return deny_scoped(p, "token revocation by a key-limited token",
                           "a token limited to some keys can revoke only "
                           "itself",
                           d);
    return SN_POLICY_ALLOW;
}

/*
 * A subscriber's token may only hand out what it holds itself: no role it
 * lacks, no key outside its own scope, no later expiry. Otherwise one call
 * would undo the role split, the key scope and the expiry.
 */
static enum sn_verdict
token_grant(const struct sn_principal *p, const struct sn_resource *r,
            struct sn_decision *d)
{
    size_t i;

    if (r == NULL || p->admin)
        return SN_POLICY_ALLOW;
    if ((r->roles & ~p->roles) != 0)
        return deny(d, SN_DENY_GRANT,
                    "a token cannot grant a role it does not hold");
    if (p->nkeys > 0 && r->nkeys == 0)
        return deny(d, SN_DENY_GRANT,
                    "this token is limited to some keys; the new token must "
                    "list keys within that limit");
    for (i = 0; p->nkeys > 0 && i < r->nkeys; i++)
        if (!in_scope(p, r->keys[i]))
            return deny(d, SN_DENY_GRANT,
                        "key %s is outside this token's limit", r->keys[i]);
    if (p->expires_at != 0 &&
        (r->expires_at == 0 || r->expires_at > p->expires_at))
        return deny(d, SN_DENY_GRANT,
                    "the new token cannot outlive this token");
    return SN_POLICY_ALLOW;
}

time_t
sn_policy_grant_expiry(const struct sn_principal *p, time_t asked)
{
    if (!p->admin && p->expires_at != 0 && asked == 0)
        return p->expires_at;
    return asked;
}

/* Importing a key is refused to everyone; a subscriber's try is recorded. */
static enum sn_verdict
key_import(const struct sn_principal *p, struct sn_decision *d)
{
    if (!p->admin) {
        d->audit_subscriber = p->subscriber;
        d->audit_detail = "key import attempted";
    }
    return deny(d, SN_DENY_NEVER,
                "keys are generated inside the HSM and never imported or "
                "exported (CA/B Forum Code Signing BR 6.2.7.4); create one "
                "with POST /v1/keys");
}

/* A subscriber's token with 'manage', for its own subscriber. */
static enum sn_verdict
subscriber_manage(const struct sn_principal *p, const char *text,
                  struct sn_decision *d)
{
    if (p->admin || !(p->roles & SN_ROLE_MANAGE))
        return deny(d, SN_DENY_ROLE, "%s", text);
    return SN_POLICY_ALLOW;
}

/* A certificate request names an attested key: the caller's, in scope. */
static enum sn_verdict
cert_request(const struct sn_principal *p, const struct sn_resource *r,
             struct sn_decision *d)
{
    if (subscriber_manage(p,
                          "certificates are requested with a subscriber "
                          "token with 'manage'",
                          d) != SN_POLICY_ALLOW)
        return SN_POLICY_DENY;
    if (r == NULL)
        return SN_POLICY_ALLOW;
    if (!owns(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN,
                    "the attested key is not one of this subscriber's keys");
    if (!in_scope(p, r->key))
        return deny(d, SN_DENY_SCOPE,
                    "this token is not allowed to use the attested key");
    return SN_POLICY_ALLOW;
}

/* Creating a key: 'manage' on the subscriber, no key scope. */
static enum sn_verdict
key_create(const struct sn_principal *p, struct sn_decision *d)
{
    if (subscriber_manage(
            p, "creating keys needs a subscriber token with 'manage'", d) !=
        SN_POLICY_ALLOW)
        return SN_POLICY_DENY;
    if (scoped(p))
        return deny_scoped(p, "key creation by a key-limited token",
                           "a token limited to some keys cannot create keys; "
                           "use a token without a key limit",
                           d);
    return SN_POLICY_ALLOW;
}

/*
 * The audit log: a subscriber's token. A scoped one reads the records of
 * one of its keys at a time (the subscriber-wide records and other keys'
 * are not its business), so it must name the key.
 */
static enum sn_verdict
audit_read(const struct sn_principal *p, const struct sn_resource *r,
           struct sn_decision *d)
{
    if (p->admin)
        return deny(d, SN_DENY_OPERATOR_EXCLUDED,
                    "the audit log is read with a subscriber's token");
    if (r == NULL || !scoped(p))
        return SN_POLICY_ALLOW;
    if (r->key == NULL || r->key[0] == '\0')
        return deny(d, SN_DENY_SCOPE,
                    "a token limited to some keys reads the audit records "
                    "of one of its keys: add ?key=ID");
    if (!in_scope(p, r->key))
        return deny_scoped(p, "audit read outside token scope",
                           "this token is not allowed to read this key's "
                           "audit records",
                           d);
    return SN_POLICY_ALLOW;
}

/* A certificate: the operator's or its subscriber's; a scoped token sees
 * those of its keys only (others look missing, as in a key list). */
static enum sn_verdict
cert_read(const struct sn_principal *p, const struct sn_resource *r,
          struct sn_decision *d)
{
    if (r == NULL || p->admin)
        return SN_POLICY_ALLOW;
    if (!owns(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN, "no such certificate");
    if (scoped(p) && (r->key == NULL || !in_scope(p, r->key)))
        return hide(d, SN_DENY_SCOPE, "no such certificate");
    return SN_POLICY_ALLOW;
}

/* The operator, or the subscriber whose object it is. */
static enum sn_verdict
own_or_operator(const struct sn_principal *p, const struct sn_resource *r,
                const char *missing, struct sn_decision *d)
{
    if (r == NULL || p->admin || owns(p, r->subscriber))
        return SN_POLICY_ALLOW;
    return hide(d, SN_DENY_FOREIGN, missing);
}

static enum sn_verdict
cert_revoke(const struct sn_principal *p, const struct sn_resource *r,
            struct sn_decision *d)
{
    if (p->admin)
        return SN_POLICY_ALLOW;
    if (!(p->roles & SN_ROLE_MANAGE))
        return deny(d, SN_DENY_ROLE, "revocation needs 'manage'");
    if (r == NULL)
        return SN_POLICY_ALLOW;
    if (!owns(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN, "no such certificate");
    if (!in_scope(p, r->key))
        return deny(d, SN_DENY_SCOPE,
                    "this token is not allowed to use this certificate's "
                    "key");
    return SN_POLICY_ALLOW;
}

/*
 * A subscriber's default signing policy: set by its own 'manage' token
 * without a key scope (it governs every key without a policy of its own);
 * read by its own tokens. Another subscriber's looks missing.
 */
static enum sn_verdict
subscriber_policy(const struct sn_principal *p, enum sn_action a,
                  const struct sn_resource *r, struct sn_decision *d)
{
    if (p->admin)
        return deny(d, SN_DENY_OPERATOR_EXCLUDED,
                    "signing policies are a subscriber's: use a subscriber "
                    "token");
    if (a == SN_ACT_SUBSCRIBER_POLICY_SET && !(p->roles & SN_ROLE_MANAGE))
        return deny(d, SN_DENY_ROLE, "token lacks the 'manage' role");
    if (r == NULL)
        return SN_POLICY_ALLOW;
    if (!owns(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN, "no such subscriber");
    if (a == SN_ACT_SUBSCRIBER_POLICY_SET && scoped(p))
        return deny_scoped(p, "subscriber policy by a key-limited token",
                           "a token limited to some keys cannot set the "
                           "subscriber's default policy",
                           d);
    return SN_POLICY_ALLOW;
}

/* Trust policies: 'manage' on the subscriber, no key scope (a token
 * minted by a trust policy is always limited to keys, so it cannot make
 * itself more trust); another's policy looks missing. */
static enum sn_verdict
trust_policy(const struct sn_principal *p, const struct sn_resource *r,
             struct sn_decision *d)
{
    if (subscriber_manage(p,
                          "trust policies are managed with a subscriber "
                          "token with 'manage'",
                          d) != SN_POLICY_ALLOW)
        return SN_POLICY_DENY;
    if (scoped(p))
        return deny_scoped(p, "trust policy change by a key-limited token",
                           "a token limited to some keys cannot manage trust "
                           "policies",
                           d);
    if (r != NULL && !owns(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN, "no such trust policy");
    return SN_POLICY_ALLOW;
}

/*
 * Client-certificate registrations: a subscriber's own 'manage' caller
 * without a key limit (a registration is a credential, as a token is);
 * another subscriber's registration answers like a missing one.
 */
static enum sn_verdict
clientcert_manage(const struct sn_principal *p, const struct sn_resource *r,
                  struct sn_decision *d)
{
    if (p->admin)
        return deny(d, SN_DENY_OPERATOR_EXCLUDED,
                    "client certificates are registered with a subscriber's "
                    "'manage' token");
    if ((p->roles & SN_ROLE_MANAGE) == 0)
        return deny(d, SN_DENY_ROLE, "token lacks the 'manage' role");
    if (scoped(p))
        return deny_scoped(p,
                           "client-certificate registration by a "
                           "key-limited token",
                           "a token limited to some keys cannot manage "
                           "client certificates; use one without a key limit",
                           d);
    if (r != NULL && !owns(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN,
                    "no such client-certificate registration");
    return SN_POLICY_ALLOW;
}

/* ---- sign requests awaiting approval (issue 17) ---- */

/* The requester: the same credential, or a login session of the same
 * account (a person's next session is still that person). */
static int
is_requester(const struct sn_principal *p, const struct sn_resource *r)
{
    if (r->requester != NULL && strcmp(r->requester, p->id) == 0)
        return 1;
    /* A session of the account that asked, or that made the asking
     * token (a token a person made carries their account as its via;
     * other vias are trust policies and registrations, never an
     * account's id). */
    return p->method == SN_AUTH_SESSION && p->via[0] != '\0' &&
           r->requester_via != NULL && strcmp(r->requester_via, p->via) == 0;
}

/* An approver: a person's session, with its second factor and the role,
 * whose account the request names. */
static int
is_approver(const struct sn_principal *p, const struct sn_resource *r)
{
    size_t i;

    if (p->method != SN_AUTH_SESSION || !p->mfa ||
        !(p->roles & SN_ROLE_APPROVE) || p->via[0] == '\0')
        return 0;
    for (i = 0; i < r->napprovers; i++)
        if (strcmp(r->approvers[i], p->via) == 0)
            return 1;
    return 0;
}

/* What every sign-request action asks first: a subscriber's caller (a
 * person's session has proved its second factor: the caller gate). */
static enum sn_verdict
sign_request_caller(const struct sn_principal *p, struct sn_decision *d)
{
    if (p->admin)
        return deny(d, SN_DENY_OPERATOR_EXCLUDED,
                    "sign requests are a subscriber's: use a subscriber's "
                    "credential");
    return SN_POLICY_ALLOW;
}

static enum sn_verdict
sign_request_read(const struct sn_principal *p, const struct sn_resource *r,
                  struct sn_decision *d)
{
    if (sign_request_caller(p, d) != SN_POLICY_ALLOW)
        return SN_POLICY_DENY;
    if (r == NULL)
        return SN_POLICY_ALLOW;
    if (!owns(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN, "no such sign request");
    if (is_requester(p, r) || is_approver(p, r) ||
        ((p->roles & SN_ROLE_MANAGE) && in_scope(p, r->key)))
        return SN_POLICY_ALLOW;
    return deny(d, SN_DENY_ROLE,
                "only the requester, the request's approvers and the "
                "subscriber's 'manage' credentials see a sign request");
}

/*
 * A vote: a person's login session with its second factor and the
 * 'approve' role, whose account the request names, and not the
 * requester's. A refusal of someone the subscriber knows is recorded in
 * its audit log (a static token or the requester trying to approve is
 * worth knowing about).
 */
static enum sn_verdict
sign_request_vote(const struct sn_principal *p, const struct sn_resource *r,
                  struct sn_decision *d)
{
    if (sign_request_caller(p, d) != SN_POLICY_ALLOW)
        return SN_POLICY_DENY;
    d->audit_subscriber = p->subscriber;
    if (p->method != SN_AUTH_SESSION) {
        d->audit_detail = "a vote without a login session";
        return deny(d, SN_DENY_ROLE,
                    "approvals are given with an approver's login session "
                    "(password and second factor), not with an API token, "
                    "an exchanged token or a client certificate");
    }
    if (!(p->roles & SN_ROLE_APPROVE)) {
        d->audit_detail = "a vote without the approve role";
        return deny(d, SN_DENY_ROLE, "this account lacks the 'approve' role");
    }
    d->audit_subscriber = NULL;
    if (r == NULL)
        return SN_POLICY_ALLOW;
    if (!owns(p, r->subscriber)) {
        /* The owner's log shows the attempt, as for a key. */
        d->audit_subscriber = r->subscriber;
        d->audit_detail = "a vote by another subscriber's account";
        return hide(d, SN_DENY_FOREIGN, "no such sign request");
    }
    d->audit_subscriber = p->subscriber;
    if (is_requester(p, r)) {
        d->audit_detail = "a vote on its own sign request";
        return deny(d, SN_DENY_SELF,
                    "the requester cannot approve or deny its own request");
    }
    if (!is_approver(p, r)) {
        d->audit_detail = "a vote by an account that is not an approver";
        return deny(d, SN_DENY_NOT_APPROVER,
                    "this account is not one of the request's approvers "
                    "(the key's policy names them)");
    }
    d->audit_subscriber = NULL;
    return SN_POLICY_ALLOW;
}

static enum sn_verdict
sign_request_cancel(const struct sn_principal *p, const struct sn_resource *r,
                    struct sn_decision *d)
{
    if (sign_request_caller(p, d) != SN_POLICY_ALLOW)
        return SN_POLICY_DENY;
    if (r == NULL)
        return SN_POLICY_ALLOW;
    if (!owns(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN, "no such sign request");
    if (is_requester(p, r) ||
        ((p->roles & SN_ROLE_MANAGE) && in_scope(p, r->key)))
        return SN_POLICY_ALLOW;
    return deny(d, SN_DENY_ROLE,
                "only the requester or a 'manage' credential of the "
                "subscriber may cancel a sign request");
}

/* The account itself, through one of its login sessions. */
static int
is_own_account(const struct sn_principal *p, const struct sn_resource *r)
{
    return p->method == SN_AUTH_SESSION && r != NULL && r->token != NULL &&
           strcmp(r->token, p->via) == 0;
}

/* The bootstrap admin token: an operator's credential that is not a
 * person's session. */
static int
is_bootstrap(const struct sn_principal *p)
{
    return p->admin && p->method != SN_AUTH_SESSION;
}

/*
 * People (issue 17). Nobody grants a role they do not hold: an operator
 * creates operators with some of its own roles (the bootstrap token, which
 * holds all, creates operators only, and the handler lets it create the
 * first one only) and subscribers' users with any subscriber role; a
 * subscriber's 'manage' caller without a key limit creates its own
 * subscriber's users, with the roles it holds and 'approve' (approvals
 * are the subscriber's own control, and its manager sets them).
 */
static enum sn_verdict
account_create(const struct sn_principal *p, const struct sn_resource *r,
               struct sn_decision *d)
{
    int operator_account =
        r != NULL && (r->subscriber == NULL || r->subscriber[0] == '\0');

    if (p->admin) {
        if (r == NULL)
            return SN_POLICY_ALLOW;
        if (operator_account && (r->roles & ~(p->roles & SN_OP_ROLES)) != 0)
            return deny(d, SN_DENY_GRANT,
                        "an operator cannot grant an operator role it does "
                        "not hold");
        if (!operator_account && is_bootstrap(p) && !p->mfa_exempt)
            return deny(d, SN_DENY_MFA,
                        "the admin token creates operators only; "
                        "subscribers' users are created by an operator's "
                        "login session or the subscriber's manager");
        return SN_POLICY_ALLOW;
    }
    if (subscriber_manage(p,
                          "accounts are created by an operator or a "
                          "subscriber's 'manage' credential",
                          d) != SN_POLICY_ALLOW)
        return SN_POLICY_DENY;
    /* People are made by people: a token or a machine's credential would
     * otherwise mint strong signing identities and approvers. */
    if (p->method != SN_AUTH_SESSION)
        return deny(d, SN_DENY_MFA,
                    "a subscriber's people are created by its manager's "
                    "login session (with a second factor) or an operator, "
                    "not an API token or a machine's credential");
    if (scoped(p))
        return deny_scoped(p, "account creation by a key-limited token",
                           "a token limited to some keys cannot create "
                           "accounts",
                           d);
    if (r == NULL)
        return SN_POLICY_ALLOW;
    if (operator_account)
        return deny(d, SN_DENY_OPERATOR_ONLY,
                    "only an operator may create an operator's account");
    if (!owns(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN, "no such subscriber");
    if ((r->roles & ~SN_SUB_ROLES) != 0)
        return deny(d, SN_DENY_GRANT,
                    "a subscriber's account holds subscriber roles only");
    if ((r->roles & ~(p->roles | SN_ROLE_APPROVE)) != 0)
        return deny(d, SN_DENY_GRANT,
                    "a credential cannot grant a role it does not hold");
    return SN_POLICY_ALLOW;
}

/* The operators see every account; a 'manage' caller without a key limit
 * its subscriber's. */
static enum sn_verdict
account_list(const struct sn_principal *p, const struct sn_resource *r,
             struct sn_decision *d)
{
    if (p->admin)
        return SN_POLICY_ALLOW;
    if (subscriber_manage(p,
                          "accounts are listed by an operator or a "
                          "subscriber's 'manage' credential",
                          d) != SN_POLICY_ALLOW)
        return SN_POLICY_DENY;
    if (scoped(p))
        return deny_scoped(p, "account list by a key-limited token",
                           "a token limited to some keys cannot list "
                           "accounts",
                           d);
    if (r != NULL && !owns(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN, "no such subscriber");
    return SN_POLICY_ALLOW;
}

/*
 * Resetting a factor or disabling an account: the person themself, the
 * subscriber's 'manage' caller for its own users, an operator for
 * subscribers' users and for operators holding none of the roles it
 * lacks (resource roles: the account's).
 */
static enum sn_verdict
account_manage(const struct sn_principal *p, const struct sn_resource *r,
               struct sn_decision *d)
{
    if (r == NULL || is_own_account(p, r))
        return SN_POLICY_ALLOW;
    if (p->admin) {
        if ((r->subscriber == NULL || r->subscriber[0] == '\0') &&
            (r->roles & ~(p->roles & SN_OP_ROLES)) != 0)
            return deny(d, SN_DENY_GRANT,
                        "this operator account holds a role the caller "
                        "does not");
        return SN_POLICY_ALLOW;
    }
    if (!(p->roles & SN_ROLE_MANAGE) || scoped(p) || r->subscriber == NULL ||
        !owns(p, r->subscriber))
        return hide(d, SN_DENY_FOREIGN, "no such account");
    return SN_POLICY_ALLOW;
}

/*
 * Reports (issue 18): the operators read every one; a subscriber the ones
 * it filed, and once an operator confirmed one, those that matched its
 * keys (what must be re-signed). Anyone else sees no such report.
 */
static enum sn_verdict
report_read(const struct sn_principal *p, const struct sn_resource *r,
            struct sn_decision *d)
{
    size_t i;

    if (r == NULL || p->admin || owns(p, r->subscriber))
        return SN_POLICY_ALLOW;
    for (i = 0; r->confirmed && i < r->nowners; i++)
        if (owns(p, r->owners[i]))
            return SN_POLICY_ALLOW;
    return hide(d, SN_DENY_FOREIGN, "no such report");
}

/* Confirming a report revokes certificates and disables keys; rejecting
 * it closes it: the operator's, with the role and factor caller_gate
 * asked for. */
static enum sn_verdict
report_decide(const struct sn_principal *p, struct sn_decision *d)
{
    if (p->admin)
        return SN_POLICY_ALLOW;
    return deny(d, SN_DENY_OPERATOR_ONLY,
                "reports are confirmed or rejected by an operator");
}

/*
 * What each operator role covers; an operator's credential needs the
 * role of the action (the bootstrap admin token holds them all). 0: any
 * operator role will do.
 */
static unsigned
operator_role(enum sn_action a)
{
    switch (a) {
    case SN_ACT_SUBSCRIBER_CREATE:
    case SN_ACT_SUBSCRIBER_LIST:
    case SN_ACT_TOKEN_CREATE:
    case SN_ACT_TOKEN_GRANT:
    case SN_ACT_TOKEN_REVOKE:
    case SN_ACT_OIDC_ISSUER_MANAGE:
    case SN_ACT_ACCOUNT_CREATE:
    case SN_ACT_ACCOUNT_LIST:
    case SN_ACT_ACCOUNT_MANAGE:
        return SN_OROLE_SUBSCRIBERS;
    case SN_ACT_IDENTITY_SET:
    case SN_ACT_IDENTITY_READ:
        return SN_OROLE_IDENTITY;
    case SN_ACT_TSA_ROTATE:
    case SN_ACT_TSA_CLOCK_OK:
    case SN_ACT_METRICS_READ:
        return SN_OROLE_CA;
    case SN_ACT_CERT_REVOKE:
    case SN_ACT_COMPROMISE_LATER:
    case SN_ACT_REPORT_READ:
    case SN_ACT_REPORT_LIST:
    case SN_ACT_REPORT_DECIDE:
        return SN_OROLE_REVOCATION;
    default:
        return 0;
    }
}

static const char *
operator_role_name(unsigned role)
{
    switch (role) {
    case SN_OROLE_SUBSCRIBERS:
        return "subscribers";
    case SN_OROLE_IDENTITY:
        return "identity";
    case SN_OROLE_CA:
        return "ca";
    case SN_OROLE_REVOCATION:
        return "revocation";
    }
    return "?";
}

/*
 * Operator actions that can cause issuance or change who can sign
 * (identity, revocation, credentials, accounts, issuers, the TSA key)
 * need a session that proved a second factor (CSBR 6.2.7.3 and the
 * NetSec requirements' 2.2.3). The bootstrap admin token may still create
 * accounts: it creates the first operator.
 */
static int
needs_mfa(enum sn_action a)
{
    switch (a) {
    case SN_ACT_SUBSCRIBER_CREATE:
    case SN_ACT_TOKEN_CREATE:
    case SN_ACT_TOKEN_GRANT:
    case SN_ACT_TOKEN_REVOKE:
    case SN_ACT_IDENTITY_SET:
    case SN_ACT_CERT_REVOKE:
    case SN_ACT_COMPROMISE_LATER:
    case SN_ACT_TSA_ROTATE:
    case SN_ACT_TSA_CLOCK_OK:
    case SN_ACT_OIDC_ISSUER_MANAGE:
    case SN_ACT_ACCOUNT_CREATE:
    case SN_ACT_ACCOUNT_MANAGE:
    case SN_ACT_REPORT_DECIDE:
        return 1;
    default:
        return 0;
    }
}

/* Who the caller is before what they ask: a session without its second
 * factor only enrols its own; an operator needs the action's role and,
 * for the actions above, a second factor. */
static enum sn_verdict
caller_gate(const struct sn_principal *p, enum sn_action a,
            const struct sn_resource *r, struct sn_decision *d)
{
    unsigned role;

    /* Anyone enrols their own account's factors, whatever their roles. */
    if (a == SN_ACT_ACCOUNT_MANAGE && is_own_account(p, r))
        return SN_POLICY_ALLOW;
    /* Someone else's account looks missing to it, as to anyone. */
    if (p->method == SN_AUTH_SESSION && !p->mfa && a == SN_ACT_ACCOUNT_MANAGE &&
        r != NULL)
        return hide(d, SN_DENY_FOREIGN, "no such account");
    if (p->method == SN_AUTH_SESSION && !p->mfa &&
        !(a == SN_ACT_ACCOUNT_MANAGE && r == NULL))
        return deny(d, SN_DENY_MFA,
                    "this session has not proved a second factor: it may "
                    "only enrol the account's TOTP; log in again with a "
                    "code");
    if (!p->admin)
        return SN_POLICY_ALLOW;
    role = operator_role(a);
    if (role != 0 && (p->roles & role) == 0)
        return deny(d, SN_DENY_ROLE, "this operator lacks the '%s' role",
                    operator_role_name(role));
    if (needs_mfa(a) && !p->mfa && !p->mfa_exempt &&
        !(a == SN_ACT_ACCOUNT_CREATE && p->method != SN_AUTH_SESSION))
        return deny(d, SN_DENY_MFA,
                    "this operator action needs a login session with a "
                    "second factor (signet login), not an admin token");
    return SN_POLICY_ALLOW;
}

static enum sn_verdict
decide(const struct sn_principal *p, enum sn_action a,
       const struct sn_resource *r, struct sn_decision *d)
{
    if (caller_gate(p, a, r, d) != SN_POLICY_ALLOW)
        return SN_POLICY_DENY;
    switch (a) {
    case SN_ACT_SUBSCRIBER_CREATE:
    case SN_ACT_SUBSCRIBER_LIST:
    case SN_ACT_IDENTITY_SET:
    case SN_ACT_TSA_ROTATE:
    case SN_ACT_TSA_CLOCK_OK:
    case SN_ACT_COMPROMISE_LATER:
        return operator_only(p, a, d);
    case SN_ACT_TOKEN_CREATE:
        return token_create(p, r, d);
    case SN_ACT_TOKEN_GRANT:
        return token_grant(p, r, d);
    case SN_ACT_TOKEN_REVOKE:
        return token_revoke(p, r, d);
    case SN_ACT_KEY_IMPORT:
        return key_import(p, d);
    case SN_ACT_KEY_CREATE:
        return key_create(p, d);
    case SN_ACT_KEY_LIST:
        return key_list(p, r, d);
    case SN_ACT_KEY_READ:
    case SN_ACT_KEY_MANAGE:
    case SN_ACT_KEY_SIGN:
        return key_use(p, a, r, d);
    case SN_ACT_AUDIT_READ:
        return audit_read(p, r, d);
    case SN_ACT_IDENTITY_READ:
        return own_or_operator(p, r, "no such subscriber", d);
    case SN_ACT_CERT_REQUEST:
        return cert_request(p, r, d);
    case SN_ACT_CERT_READ:
        return cert_read(p, r, d);
    case SN_ACT_CERT_REVOKE:
        return cert_revoke(p, r, d);
    /* Per-route and per-algorithm volumes of every tenant. */
    case SN_ACT_METRICS_READ:
    case SN_ACT_OIDC_ISSUER_MANAGE:
        return operator_only(p, a, d);
    case SN_ACT_SUBSCRIBER_POLICY_SET:
    case SN_ACT_SUBSCRIBER_POLICY_READ:
        return subscriber_policy(p, a, r, d);
    case SN_ACT_TRUST_POLICY:
        return trust_policy(p, r, d);
    case SN_ACT_CLIENTCERT_MANAGE:
        return clientcert_manage(p, r, d);
    case SN_ACT_SIGN_REQUEST_READ:
        return sign_request_read(p, r, d);
    case SN_ACT_SIGN_REQUEST_LIST:
        return sign_request_caller(p, d);
    case SN_ACT_SIGN_REQUEST_VOTE:
        return sign_request_vote(p, r, d);
    case SN_ACT_SIGN_REQUEST_CANCEL:
        return sign_request_cancel(p, r, d);
    case SN_ACT_ACCOUNT_CREATE:
        return account_create(p, r, d);
    case SN_ACT_ACCOUNT_LIST:
        return account_list(p, r, d);
    case SN_ACT_ACCOUNT_MANAGE:
        return account_manage(p, r, d);
    case SN_ACT_ADMIN_AUDIT_READ:
        return operator_only(p, a, d);
    case SN_ACT_OIDC_ISSUER_LIST:
        return SN_POLICY_ALLOW;
    case SN_ACT_REPORT_CREATE:
    case SN_ACT_REPORT_LIST:
        return SN_POLICY_ALLOW;
    case SN_ACT_REPORT_READ:
        return report_read(p, r, d);
    case SN_ACT_REPORT_DECIDE:
        return report_decide(p, d);
    }
    return deny(d, SN_DENY_NEVER, "unknown action");
}

enum sn_verdict
sn_policy_decide(const struct sn_principal *p, enum sn_action action,
                 const struct sn_resource *r, struct sn_decision *d)
{
    struct sn_decision scratch;

    if (d == NULL)
        d = &scratch;
    memset(d, 0, sizeof(*d));
    d->verdict = decide(p, action, r, d);
    if (d->verdict == SN_POLICY_ALLOW) {
        d->reason = SN_DENY_NONE;
        d->hide = 0;
        d->audit_subscriber = NULL;
        d->audit_detail = NULL;
    }
    return d->verdict;
}
