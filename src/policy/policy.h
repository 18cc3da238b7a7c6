/*
 * policy: the one authorization decision. Given who is calling (a
 * principal, already authenticated), what they want to do (an action) and
 * to what (a resource), it answers allow or deny with a reason. Pure: no
 * store, no I/O, no HTTP; the handlers gather the resource and act on the
 * decision (the answer, and the audit record it asks for).
 */
#ifndef SN_POLICY_H
#define SN_POLICY_H

#include <stddef.h>
#include <time.h>

#include "auth/principal.h"

enum sn_action {
    SN_ACT_SUBSCRIBER_CREATE,
    SN_ACT_SUBSCRIBER_LIST,
    SN_ACT_TOKEN_CREATE, /* resource: subscriber (the new token's) */
    SN_ACT_TOKEN_GRANT,  /* resource: roles, keys, expiry of the new token */
    SN_ACT_TOKEN_REVOKE, /* resource: subscriber, admin_token, token */
    SN_ACT_KEY_IMPORT,   /* never allowed: keys are born in the HSM */
    SN_ACT_KEY_CREATE,
    SN_ACT_KEY_LIST,   /* resource (per listed key): subscriber, key */
    SN_ACT_KEY_READ,   /* resource: subscriber (owner), key */
    SN_ACT_KEY_MANAGE, /* resource: subscriber (owner), key */
    SN_ACT_KEY_SIGN,   /* resource: subscriber (owner), key */
    SN_ACT_AUDIT_READ, /* resource: key (the filter; NULL: every key) */
    SN_ACT_IDENTITY_SET,
    SN_ACT_IDENTITY_READ,    /* resource: subscriber */
    SN_ACT_CERT_REQUEST,     /* resource: subscriber (owner), key (attested) */
    SN_ACT_CERT_READ,        /* resource: subscriber, key (the cert's) */
    SN_ACT_CERT_REVOKE,      /* resource: subscriber, key (the certificate's) */
    SN_ACT_COMPROMISE_LATER, /* move a keyCompromise date later */
    SN_ACT_TSA_ROTATE,
    SN_ACT_TSA_CLOCK_OK,
    SN_ACT_METRICS_READ, /* GET /metrics: volumes across every tenant */
    /* issue 16: a subscriber's default signing policy (resource:
     * subscriber); a key's own is SN_ACT_KEY_MANAGE / SN_ACT_KEY_READ */
    SN_ACT_SUBSCRIBER_POLICY_SET,
    SN_ACT_SUBSCRIBER_POLICY_READ,
    SN_ACT_OIDC_ISSUER_MANAGE, /* register or remove a trusted issuer */
    SN_ACT_TRUST_POLICY,       /* resource: subscriber (the policy's) */
    /* register, list, delete client certificates; resource: subscriber
     * (the registration's owner) */
    SN_ACT_CLIENTCERT_MANAGE,
    /* issue 17: people. Create an account (resource: subscriber, NULL for
     * an operator's account; roles); list accounts (resource: subscriber,
     * NULL for all); enrol, reset or disable one (resource: subscriber,
     * "" for an operator's; token: the account's id); read the operators'
     * audit log. */
    SN_ACT_ACCOUNT_CREATE,
    SN_ACT_ACCOUNT_LIST,
    SN_ACT_ACCOUNT_MANAGE,
    SN_ACT_ADMIN_AUDIT_READ,
    /* the trusted OIDC issuers: any caller (issue 16) past the gate */
    SN_ACT_OIDC_ISSUER_LIST,
    /*
     * issue 17: sign requests awaiting approval. Resource: subscriber,
     * key, the requester (requester, requester_method, requester_via) and
     * the approvers. READ: the requester, an approver, or a 'manage'
     * credential; LIST: any of the subscriber's credentials (each request
     * listed is then asked as READ); VOTE (approve or deny): an approver's
     * login session with its second factor, never the requester's;
     * CANCEL: the requester or a 'manage' credential.
     */
    SN_ACT_SIGN_REQUEST_READ,
    SN_ACT_SIGN_REQUEST_LIST,
    SN_ACT_SIGN_REQUEST_VOTE,
    SN_ACT_SIGN_REQUEST_CANCEL,
    /*
     * issue 18: reports of Suspect Code and key compromise. CREATE: an
     * authenticated report (anyone may report anonymously: the route, not
     * the policy, takes those); READ: an operator with the 'revocation'
     * role, the reporting subscriber (resource subscriber), or, once
     * confirmed, a subscriber whose key it matched (owners); LIST: the
     * operators every report, a subscriber its own; DECIDE (confirm or
     * reject): an operator with the 'revocation' role and a second factor.
     */
    SN_ACT_REPORT_CREATE,
    SN_ACT_REPORT_READ,
    SN_ACT_REPORT_LIST,
    SN_ACT_REPORT_DECIDE,
};

struct sn_resource {
    const char *subscriber; /* the owning subscriber */
    const char *key;        /* a key id */
    int admin_token;        /* SN_ACT_TOKEN_REVOKE: an operator's token */
    const char *token;      /* SN_ACT_TOKEN_REVOKE: the token's id */
    /* SN_ACT_TOKEN_GRANT: what the new token would hold */
    unsigned roles;
    const char (*keys)[SN_UUID_LEN];
    size_t nkeys;
    time_t expires_at;
    /* SN_ACT_SIGN_REQUEST_*: who asked (its credential id, enum
     * sn_auth_method, and its via: a session's account) and who may
     * approve (account ids) */
    const char *requester;
    int requester_method;
    const char *requester_via;
    const char (*approvers)[SN_UUID_LEN];
    size_t napprovers;
    /* SN_ACT_REPORT_READ: the subscribers whose keys a report matched,
     * and whether it was confirmed */
    const char (*owners)[SN_UUID_LEN];
    size_t nowners;
    int confirmed;
};

#define SN_POLICY_DENIALS(X)                                                   \
    X(SN_DENY_NONE, "allowed")                                                 \
    X(SN_DENY_OPERATOR_ONLY, "only the operator may do this")                  \
    X(SN_DENY_OPERATOR_EXCLUDED, "the operator may not do this")               \
    X(SN_DENY_ROLE, "role missing")                                            \
    X(SN_DENY_FOREIGN, "another subscriber's")                                 \
    X(SN_DENY_SCOPE, "outside the token's key scope")                          \
    X(SN_DENY_GRANT, "more than the caller holds")                             \
    X(SN_DENY_MFA, "a login session with a second factor is needed")           \
    X(SN_DENY_SELF, "approval of one's own request")                           \
    X(SN_DENY_NOT_APPROVER, "not an approver")                                 \
    X(SN_DENY_NEVER, "never allowed")

enum sn_deny {
#define SN_DENY_ENUM(c, t) c,
    SN_POLICY_DENIALS(SN_DENY_ENUM)
#undef SN_DENY_ENUM
};

enum sn_verdict { SN_POLICY_DENY = 0, SN_POLICY_ALLOW = 1 };

struct sn_decision {
    enum sn_verdict verdict;
    enum sn_deny reason;
    /* Answer as if the resource did not exist: the caller must not learn
     * that another subscriber's object is there. */
    int hide;
    /* Whose audit log records the denial (NULL: none), and its detail;
     * these point into the principal, the resource or static text. */
    const char *audit_subscriber;
    const char *audit_detail;
    char message[256]; /* what the caller is told */
};

/*
 * Decides whether p may do action to r; the decision is also in *d if d is
 * not NULL (zeroed on entry). An action that takes a resource may first be
 * asked with r NULL, before the resource is looked up: that answers only
 * what depends on the caller and the action (roles, operator or not), so
 * that a handler can refuse before touching the store. It must be asked
 * again with the resource before acting. An unknown action is denied.
 */
enum sn_verdict sn_policy_decide(const struct sn_principal *p,
                                 enum sn_action action,
                                 const struct sn_resource *r,
                                 struct sn_decision *d);

const char *sn_policy_deny_str(enum sn_deny reason);

/*
 * The expiry a token created by p gets when asked for asked (0: none): a
 * subscriber's token whose own life is limited hands the limit on.
 */
time_t sn_policy_grant_expiry(const struct sn_principal *p, time_t asked);

#endif
