/*
 * test_policy: the authorization decision table (src/policy/policy.c).
 * Every action is asked with a caller it allows and one it denies; the
 * denials that must look like a missing object (another subscriber's) are
 * checked for hide, and the audit record each denial asks for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"

#define SUB_A "aaaaaaaa-0000-4000-8000-00000000000a"
#define SUB_B "bbbbbbbb-0000-4000-8000-00000000000b"
#define KEY_1 "11111111-0000-4000-8000-000000000001"
#define KEY_2 "22222222-0000-4000-8000-000000000002"

static struct sn_principal
admin(void)
{
    struct sn_principal p;

    memset(&p, 0, sizeof(p));
    snprintf(p.id, sizeof(p.id), "admin-token");
    p.admin = 1;
    /* The bootstrap token (every operator role) where auth.operator_mfa
     * is off: the rules below the caller gate. */
    p.roles = SN_ROLE_MANAGE | SN_OP_ROLES;
    p.mfa_exempt = 1;
    return p;
}

/* A person's login session (issue 17). */
static struct sn_principal
session(const char *account, const char *sub, unsigned roles, int mfa)
{
    struct sn_principal p;

    memset(&p, 0, sizeof(p));
    p.method = SN_AUTH_SESSION;
    snprintf(p.id, sizeof(p.id), "session-of-%.8s", account);
    snprintf(p.via, sizeof(p.via), "%s", account);
    if (sub == NULL)
        p.admin = 1;
    else
        snprintf(p.subscriber, sizeof(p.subscriber), "%s", sub);
    p.roles = roles;
    p.mfa = mfa;
    return p;
}

static struct sn_principal
subscriber(const char *sub, unsigned roles)
{
    struct sn_principal p;

    memset(&p, 0, sizeof(p));
    snprintf(p.id, sizeof(p.id), "token-of-%.8s", sub);
    snprintf(p.subscriber, sizeof(p.subscriber), "%s", sub);
    p.roles = roles;
    return p;
}

static void
limit_to(struct sn_principal *p, const char *key)
{
    snprintf(p->keys[p->nkeys++], SN_UUID_LEN, "%s", key);
}

#define ALLOW(p, a, r)                                                         \
    assert_int_equal(sn_policy_decide(&(p), (a), (r), NULL), SN_POLICY_ALLOW)

/* Denied with reason, hidden or not; the message is checked by caller. */
static struct sn_decision
denied(const struct sn_principal *p, enum sn_action a,
       const struct sn_resource *r, enum sn_deny reason, int hide)
{
    struct sn_decision d;

    assert_int_equal(sn_policy_decide(p, a, r, &d), SN_POLICY_DENY);
    assert_int_equal(d.verdict, SN_POLICY_DENY);
    assert_int_equal(d.reason, reason);
    assert_int_equal(d.hide, hide);
    assert_true(d.message[0] != '\0');
    return d;
}

static void
test_operator_only(void **state)
{
    static const enum sn_action acts[] = {
        SN_ACT_SUBSCRIBER_CREATE, SN_ACT_SUBSCRIBER_LIST,
        SN_ACT_IDENTITY_SET,      SN_ACT_TSA_ROTATE,
        SN_ACT_TSA_CLOCK_OK,      SN_ACT_COMPROMISE_LATER,
    };
    struct sn_principal op = admin();
    struct sn_principal all = subscriber(SUB_A, SN_ROLE_MANAGE | SN_ROLE_SIGN);
    struct sn_decision d;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
        ALLOW(op, acts[i], NULL);
        d = denied(&all, acts[i], NULL, SN_DENY_OPERATOR_ONLY, 0);
        assert_null(d.audit_subscriber);
    }
    d = denied(&all, SN_ACT_SUBSCRIBER_CREATE, NULL, SN_DENY_OPERATOR_ONLY, 0);
    assert_string_equal(d.message,
                        "only an admin token may create subscribers");
    d = denied(&all, SN_ACT_TSA_ROTATE, NULL, SN_DENY_OPERATOR_ONLY, 0);
    assert_string_equal(d.message,
                        "only an admin token may rotate the TSA key");
}

static void
test_key_use(void **state)
{
    struct sn_principal op = admin();
    struct sn_principal m = subscriber(SUB_A, SN_ROLE_MANAGE);
    struct sn_principal s = subscriber(SUB_A, SN_ROLE_SIGN);
    struct sn_principal lim = subscriber(SUB_A, SN_ROLE_MANAGE | SN_ROLE_SIGN);
    struct sn_resource own = {.subscriber = SUB_A, .key = KEY_1};
    struct sn_resource own2 = {.subscriber = SUB_A, .key = KEY_2};
    struct sn_resource other = {.subscriber = SUB_B, .key = KEY_2};
    struct sn_decision d;

    (void)state;
    limit_to(&lim, KEY_1);
    /* Allowed: the role, the own key, within scope; before and after the
     * key is looked up. */
    ALLOW(m, SN_ACT_KEY_MANAGE, NULL);
    ALLOW(m, SN_ACT_KEY_MANAGE, &own);
    ALLOW(m, SN_ACT_KEY_READ, &own);
    ALLOW(s, SN_ACT_KEY_SIGN, &own);
    ALLOW(s, SN_ACT_KEY_READ, &own);
    ALLOW(lim, SN_ACT_KEY_SIGN, &own);
    /* The operator never uses a key, not even with a resource. */
    d = denied(&op, SN_ACT_KEY_SIGN, NULL, SN_DENY_OPERATOR_EXCLUDED, 0);
    assert_null(d.audit_subscriber);
    denied(&op, SN_ACT_KEY_READ, &own, SN_DENY_OPERATOR_EXCLUDED, 0);
    denied(&op, SN_ACT_KEY_MANAGE, &other, SN_DENY_OPERATOR_EXCLUDED, 0);
    /* A role missing: refused before the key is known, recorded. */
    d = denied(&s, SN_ACT_KEY_MANAGE, NULL, SN_DENY_ROLE, 0);
    assert_string_equal(d.message, "token lacks the 'manage' role");
    assert_string_equal(d.audit_subscriber, SUB_A);
    assert_string_equal(d.audit_detail, "role missing");
    d = denied(&m, SN_ACT_KEY_SIGN, &own, SN_DENY_ROLE, 0);
    assert_string_equal(d.message, "token lacks the 'sign' role");
    /* Another subscriber's key: like a missing one, in its owner's log. */
    d = denied(&m, SN_ACT_KEY_MANAGE, &other, SN_DENY_FOREIGN, 1);
    assert_string_equal(d.message, "no such key");
    assert_string_equal(d.audit_subscriber, SUB_B);
    assert_string_equal(d.audit_detail, "token of another subscriber");
    denied(&s, SN_ACT_KEY_SIGN, &other, SN_DENY_FOREIGN, 1);
    /* Outside the scope: 403, in the caller's log; another subscriber's
     * key outside the scope is still only "missing". */
    d = denied(&lim, SN_ACT_KEY_SIGN, &own2, SN_DENY_SCOPE, 0);
    assert_string_equal(d.message, "this token is not allowed to use this key");
    assert_string_equal(d.audit_subscriber, SUB_A);
    denied(&lim, SN_ACT_KEY_READ, &other, SN_DENY_FOREIGN, 1);
}

static void
test_key_create_list_import(void **state)
{
    struct sn_principal op = admin();
    struct sn_principal m = subscriber(SUB_A, SN_ROLE_MANAGE);
    struct sn_principal s = subscriber(SUB_A, SN_ROLE_SIGN);
    struct sn_principal lim = subscriber(SUB_A, SN_ROLE_SIGN);
    struct sn_resource k1 = {.subscriber = SUB_A, .key = KEY_1};
    struct sn_resource k2 = {.subscriber = SUB_A, .key = KEY_2};
    struct sn_resource other = {.subscriber = SUB_B, .key = KEY_2};
    struct sn_decision d;

    (void)state;
    limit_to(&lim, KEY_1);
    ALLOW(m, SN_ACT_KEY_CREATE, NULL);
    denied(&s, SN_ACT_KEY_CREATE, NULL, SN_DENY_ROLE, 0);
    d = denied(&op, SN_ACT_KEY_CREATE, NULL, SN_DENY_ROLE, 0);
    assert_string_equal(d.message,
                        "creating keys needs a subscriber token with 'manage'");
    /* Listing: any subscriber token; a limited one sees its keys only. */
    ALLOW(s, SN_ACT_KEY_LIST, NULL);
    ALLOW(s, SN_ACT_KEY_LIST, &k2);
    ALLOW(lim, SN_ACT_KEY_LIST, &k1);
    denied(&lim, SN_ACT_KEY_LIST, &k2, SN_DENY_SCOPE, 1);
    denied(&s, SN_ACT_KEY_LIST, &other, SN_DENY_FOREIGN, 1);
    denied(&op, SN_ACT_KEY_LIST, NULL, SN_DENY_OPERATOR_EXCLUDED, 0);
    /* Import: never; a subscriber's try is recorded, the operator's not. */
    d = denied(&m, SN_ACT_KEY_IMPORT, NULL, SN_DENY_NEVER, 0);
    assert_string_equal(d.audit_subscriber, SUB_A);
    assert_string_equal(d.audit_detail, "key import attempted");
    d = denied(&op, SN_ACT_KEY_IMPORT, NULL, SN_DENY_NEVER, 0);
    assert_null(d.audit_subscriber);
}

static void
test_tokens(void **state)
{
    struct sn_principal op = admin();
    struct sn_principal m = subscriber(SUB_A, SN_ROLE_MANAGE);
    struct sn_principal s = subscriber(SUB_A, SN_ROLE_SIGN);
    struct sn_resource own = {.subscriber = SUB_A};
    struct sn_resource other = {.subscriber = SUB_B};
    struct sn_resource optok = {.subscriber = "", .admin_token = 1};
    struct sn_decision d;

    (void)state;
    ALLOW(op, SN_ACT_TOKEN_CREATE, &other);
    ALLOW(m, SN_ACT_TOKEN_CREATE, &own);
    d = denied(&m, SN_ACT_TOKEN_CREATE, &other, SN_DENY_FOREIGN, 1);
    assert_string_equal(d.message, "no such subscriber");
    denied(&s, SN_ACT_TOKEN_CREATE, &own, SN_DENY_FOREIGN, 1);
    ALLOW(op, SN_ACT_TOKEN_REVOKE, &other);
    ALLOW(op, SN_ACT_TOKEN_REVOKE, &optok);
    ALLOW(m, SN_ACT_TOKEN_REVOKE, &own);
    d = denied(&m, SN_ACT_TOKEN_REVOKE, &other, SN_DENY_FOREIGN, 1);
    assert_string_equal(d.message, "no such active token");
    denied(&m, SN_ACT_TOKEN_REVOKE, &optok, SN_DENY_FOREIGN, 1);
    denied(&s, SN_ACT_TOKEN_REVOKE, &own, SN_DENY_FOREIGN, 1);
}

static void
test_token_grant(void **state)
{
    static const char keys[2][SN_UUID_LEN] = {KEY_1, KEY_2};
    struct sn_principal op = admin();
    struct sn_principal m = subscriber(SUB_A, SN_ROLE_MANAGE);
    struct sn_principal lim = subscriber(SUB_A, SN_ROLE_MANAGE | SN_ROLE_SIGN);
    struct sn_resource g;
    struct sn_decision d;

    (void)state;
    limit_to(&lim, KEY_1);
    lim.expires_at = 1000;
    memset(&g, 0, sizeof(g));
    g.roles = SN_ROLE_MANAGE | SN_ROLE_SIGN;
    ALLOW(op, SN_ACT_TOKEN_GRANT, &g);
    d = denied(&m, SN_ACT_TOKEN_GRANT, &g, SN_DENY_GRANT, 0);
    assert_string_equal(d.message,
                        "a token cannot grant a role it does not hold");
    g.roles = SN_ROLE_MANAGE;
    ALLOW(m, SN_ACT_TOKEN_GRANT, &g);
    /* A limited token: keys within its scope, no later expiry. */
    g.expires_at = 900;
    d = denied(&lim, SN_ACT_TOKEN_GRANT, &g, SN_DENY_GRANT, 0);
    assert_string_equal(d.message,
                        "this token is limited to some keys; the new token "
                        "must list keys within that limit");
    g.keys = keys;
    g.nkeys = 2;
    d = denied(&lim, SN_ACT_TOKEN_GRANT, &g, SN_DENY_GRANT, 0);
    assert_string_equal(d.message,
                        "key " KEY_2 " is outside this token's limit");
    g.nkeys = 1;
    ALLOW(lim, SN_ACT_TOKEN_GRANT, &g);
    g.expires_at = 1001;
    d = denied(&lim, SN_ACT_TOKEN_GRANT, &g, SN_DENY_GRANT, 0);
    assert_string_equal(d.message, "the new token cannot outlive this token");
    /* The limit is handed on to a token asked for without one. */
    assert_int_equal(sn_policy_grant_expiry(&lim, 0), 1000);
    assert_int_equal(sn_policy_grant_expiry(&lim, 500), 500);
    assert_int_equal(sn_policy_grant_expiry(&m, 0), 0);
    op.expires_at = 1000;
    assert_int_equal(sn_policy_grant_expiry(&op, 0), 0);
}

static void
test_audit_identity(void **state)
{
    struct sn_principal op = admin();
    struct sn_principal s = subscriber(SUB_A, SN_ROLE_SIGN);
    struct sn_resource own = {.subscriber = SUB_A};
    struct sn_resource other = {.subscriber = SUB_B};
    struct sn_decision d;

    (void)state;
    ALLOW(s, SN_ACT_AUDIT_READ, NULL);
    d = denied(&op, SN_ACT_AUDIT_READ, NULL, SN_DENY_OPERATOR_EXCLUDED, 0);
    assert_string_equal(d.message,
                        "the audit log is read with a subscriber's token");
    ALLOW(op, SN_ACT_IDENTITY_READ, &other);
    ALLOW(s, SN_ACT_IDENTITY_READ, &own);
    d = denied(&s, SN_ACT_IDENTITY_READ, &other, SN_DENY_FOREIGN, 1);
    assert_string_equal(d.message, "no such subscriber");
}

static void
test_certificates(void **state)
{
    struct sn_principal op = admin();
    struct sn_principal m = subscriber(SUB_A, SN_ROLE_MANAGE);
    struct sn_principal s = subscriber(SUB_A, SN_ROLE_SIGN);
    struct sn_principal lim = subscriber(SUB_A, SN_ROLE_MANAGE);
    struct sn_resource own = {.subscriber = SUB_A, .key = KEY_1};
    struct sn_resource own2 = {.subscriber = SUB_A, .key = KEY_2};
    struct sn_resource other = {.subscriber = SUB_B, .key = KEY_2};
    struct sn_decision d;

    (void)state;
    limit_to(&lim, KEY_1);
    /* Requesting: a 'manage' subscriber token, its own attested key. */
    ALLOW(m, SN_ACT_CERT_REQUEST, NULL);
    ALLOW(m, SN_ACT_CERT_REQUEST, &own);
    denied(&op, SN_ACT_CERT_REQUEST, NULL, SN_DENY_ROLE, 0);
    denied(&s, SN_ACT_CERT_REQUEST, &own, SN_DENY_ROLE, 0);
    d = denied(&m, SN_ACT_CERT_REQUEST, &other, SN_DENY_FOREIGN, 1);
    assert_string_equal(
        d.message, "the attested key is not one of this subscriber's keys");
    denied(&lim, SN_ACT_CERT_REQUEST, &own2, SN_DENY_SCOPE, 0);
    /* Reading: the operator or the owner; another's is missing. */
    ALLOW(op, SN_ACT_CERT_READ, &other);
    ALLOW(s, SN_ACT_CERT_READ, &own);
    d = denied(&s, SN_ACT_CERT_READ, &other, SN_DENY_FOREIGN, 1);
    assert_string_equal(d.message, "no such certificate");
    /* Revoking: the operator, or 'manage' on the own key within scope. */
    ALLOW(op, SN_ACT_CERT_REVOKE, NULL);
    ALLOW(op, SN_ACT_CERT_REVOKE, &other);
    ALLOW(m, SN_ACT_CERT_REVOKE, &own);
    d = denied(&s, SN_ACT_CERT_REVOKE, NULL, SN_DENY_ROLE, 0);
    assert_string_equal(d.message, "revocation needs 'manage'");
    denied(&m, SN_ACT_CERT_REVOKE, &other, SN_DENY_FOREIGN, 1);
    d = denied(&lim, SN_ACT_CERT_REVOKE, &own2, SN_DENY_SCOPE, 0);
    assert_string_equal(d.message,
                        "this token is not allowed to use this certificate's "
                        "key");
}

/*
 * A key-scoped token (manage+sign, limited to KEY_1) acts on KEY_1 only:
 * no key creation, no token creation, no revocation of a sibling token
 * (the subscriber's unlimited one included) but of itself, no audit
 * records but KEY_1's, no certificates of other keys, no identity set.
 */
static void
test_key_scope(void **state)
{
    struct sn_principal lim = subscriber(SUB_A, SN_ROLE_MANAGE | SN_ROLE_SIGN);
    struct sn_principal all = subscriber(SUB_A, SN_ROLE_MANAGE | SN_ROLE_SIGN);
    struct sn_resource k1 = {.subscriber = SUB_A, .key = KEY_1};
    struct sn_resource k2 = {.subscriber = SUB_A, .key = KEY_2};
    struct sn_resource sub = {.subscriber = SUB_A};
    struct sn_resource other = {.subscriber = SUB_B};
    struct sn_resource unlimited = {.subscriber = SUB_A, .token = all.id};
    struct sn_resource self = {.subscriber = SUB_A, .token = lim.id};
    struct sn_resource a_none = {.subscriber = SUB_A};
    struct sn_decision d;

    (void)state;
    limit_to(&lim, KEY_1);
    snprintf(lim.id, sizeof(lim.id), "limited-token");
    self.token = lim.id;
    /* Its own key: every use. */
    ALLOW(lim, SN_ACT_KEY_MANAGE, &k1);
    ALLOW(lim, SN_ACT_KEY_SIGN, &k1);
    ALLOW(lim, SN_ACT_CERT_REQUEST, &k1);
    ALLOW(lim, SN_ACT_CERT_REVOKE, &k1);
    ALLOW(lim, SN_ACT_CERT_READ, &k1);
    /* Keys: none created, before anything is looked up; recorded. */
    d = denied(&lim, SN_ACT_KEY_CREATE, NULL, SN_DENY_SCOPE, 0);
    assert_string_equal(d.message,
                        "a token limited to some keys cannot create keys; use "
                        "a token without a key limit");
    assert_string_equal(d.audit_subscriber, SUB_A);
    ALLOW(all, SN_ACT_KEY_CREATE, NULL);
    denied(&lim, SN_ACT_KEY_IMPORT, NULL, SN_DENY_NEVER, 0);
    /* Tokens: none created, for its own subscriber or another. */
    d = denied(&lim, SN_ACT_TOKEN_CREATE, NULL, SN_DENY_SCOPE, 0);
    assert_string_equal(d.audit_subscriber, SUB_A);
    denied(&lim, SN_ACT_TOKEN_CREATE, &sub, SN_DENY_SCOPE, 0);
    denied(&lim, SN_ACT_TOKEN_CREATE, &other, SN_DENY_FOREIGN, 1);
    ALLOW(all, SN_ACT_TOKEN_CREATE, &sub);
    /* Revocation: itself only; the unlimited token is out of reach. */
    d = denied(&lim, SN_ACT_TOKEN_REVOKE, &unlimited, SN_DENY_SCOPE, 0);
    assert_string_equal(d.message,
                        "a token limited to some keys can revoke only itself");
    denied(&lim, SN_ACT_TOKEN_REVOKE, &a_none, SN_DENY_SCOPE, 0);
    ALLOW(lim, SN_ACT_TOKEN_REVOKE, &self);
    ALLOW(all, SN_ACT_TOKEN_REVOKE, &self);
    /* Audit: its key's records only, and it must name the key. */
    ALLOW(lim, SN_ACT_AUDIT_READ, NULL);
    ALLOW(lim, SN_ACT_AUDIT_READ, &k1);
    d = denied(&lim, SN_ACT_AUDIT_READ, &k2, SN_DENY_SCOPE, 0);
    assert_string_equal(d.message, "this token is not allowed to read this "
                                   "key's audit records");
    d = denied(&lim, SN_ACT_AUDIT_READ, &sub, SN_DENY_SCOPE, 0);
    assert_string_equal(d.message,
                        "a token limited to some keys reads the audit "
                        "records of one of its keys: add ?key=ID");
    ALLOW(all, SN_ACT_AUDIT_READ, &sub);
    ALLOW(all, SN_ACT_AUDIT_READ, &k2);
    /* Certificates of other keys look missing; the identity is the
     * operator's. */
    d = denied(&lim, SN_ACT_CERT_READ, &k2, SN_DENY_SCOPE, 1);
    assert_string_equal(d.message, "no such certificate");
    denied(&lim, SN_ACT_CERT_READ, &sub, SN_DENY_SCOPE, 1);
    ALLOW(all, SN_ACT_CERT_READ, &k2);
    denied(&lim, SN_ACT_IDENTITY_SET, NULL, SN_DENY_OPERATOR_ONLY, 0);
    denied(&lim, SN_ACT_SUBSCRIBER_CREATE, NULL, SN_DENY_OPERATOR_ONLY, 0);
}

/* Any subscriber token may revoke itself, even sign-only; never another
 * subscriber's token or an operator's token of the same id. */
static void
test_token_self_revoke(void **state)
{
    struct sn_principal s = subscriber(SUB_A, SN_ROLE_SIGN);
    struct sn_resource self = {.subscriber = SUB_A, .token = s.id};
    struct sn_resource elsewhere = {.subscriber = SUB_B, .token = s.id};
    struct sn_resource optok = {
        .subscriber = "", .admin_token = 1, .token = s.id};

    (void)state;
    ALLOW(s, SN_ACT_TOKEN_REVOKE, &self);
    denied(&s, SN_ACT_TOKEN_REVOKE, &elsewhere, SN_DENY_FOREIGN, 1);
    denied(&s, SN_ACT_TOKEN_REVOKE, &optok, SN_DENY_FOREIGN, 1);
}

/* An action the table does not know is denied; an allowed decision
 * carries no denial residue. */
static void
test_fail_closed(void **state)
{
    struct sn_principal op = admin();
    struct sn_decision d;

    (void)state;
    assert_int_equal(sn_policy_decide(&op, (enum sn_action)999, NULL, &d),
                     SN_POLICY_DENY);
    assert_int_equal(sn_policy_decide(&op, SN_ACT_TSA_ROTATE, NULL, &d),
                     SN_POLICY_ALLOW);
    assert_int_equal(d.reason, SN_DENY_NONE);
    assert_int_equal(d.hide, 0);
    assert_null(d.audit_subscriber);
}

/* issue 16: a subscriber's default signing policy: set by its own
 * 'manage' token without a key scope, read by its own tokens; another
 * subscriber's looks missing; the operator's token is not a subscriber. */
static void
test_subscriber_policy(void **state)
{
    struct sn_principal m = subscriber(SUB_A, SN_ROLE_MANAGE);
    struct sn_principal s = subscriber(SUB_A, SN_ROLE_SIGN);
    struct sn_principal lim = subscriber(SUB_A, SN_ROLE_MANAGE);
    struct sn_principal op = admin();
    struct sn_resource a = {.subscriber = SUB_A};
    struct sn_resource b = {.subscriber = SUB_B};

    (void)state;
    limit_to(&lim, KEY_1);
    ALLOW(m, SN_ACT_SUBSCRIBER_POLICY_SET, &a);
    ALLOW(m, SN_ACT_SUBSCRIBER_POLICY_READ, &a);
    ALLOW(s, SN_ACT_SUBSCRIBER_POLICY_READ, &a);
    ALLOW(lim, SN_ACT_SUBSCRIBER_POLICY_READ, &a);
    denied(&s, SN_ACT_SUBSCRIBER_POLICY_SET, &a, SN_DENY_ROLE, 0);
    denied(&lim, SN_ACT_SUBSCRIBER_POLICY_SET, &a, SN_DENY_SCOPE, 0);
    denied(&m, SN_ACT_SUBSCRIBER_POLICY_SET, &b, SN_DENY_FOREIGN, 1);
    denied(&s, SN_ACT_SUBSCRIBER_POLICY_READ, &b, SN_DENY_FOREIGN, 1);
    denied(&op, SN_ACT_SUBSCRIBER_POLICY_SET, &a, SN_DENY_OPERATOR_EXCLUDED, 0);
}

/* issue 17: operator roles, the second factor, accounts. */
static void
test_people(void **state)
{
    struct sn_principal boot = admin(), ca_op, id_op, half, alice, mgr, tok;
    struct sn_resource r;
    struct sn_decision d;

    (void)state;
    boot.mfa_exempt = 0;
    ca_op = session("op-ca", NULL, SN_OROLE_CA, 1);
    id_op = session("op-id", NULL, SN_OROLE_IDENTITY | SN_OROLE_SUBSCRIBERS, 1);
    half = session("op-half", NULL, SN_OP_ROLES, 0);
    alice = session("acct-alice", SUB_A, SN_ROLE_SIGN | SN_ROLE_APPROVE, 1);
    /* The subscriber's manager: a person (a token makes no people). */
    mgr = session("acct-mgr", SUB_A, SN_ROLE_MANAGE, 1);
    tok = subscriber(SUB_A, SN_ROLE_MANAGE | SN_ROLE_SIGN);

    /* The bootstrap token without the exemption: creates accounts (the
     * first operator), reads, but no longer vets identities, rotates the
     * TSA key or mints credentials. */
    ALLOW(boot, SN_ACT_ACCOUNT_CREATE, NULL);
    ALLOW(boot, SN_ACT_SUBSCRIBER_LIST, NULL);
    ALLOW(boot, SN_ACT_ADMIN_AUDIT_READ, NULL);
    d = denied(&boot, SN_ACT_IDENTITY_SET, NULL, SN_DENY_MFA, 0);
    assert_non_null(strstr(d.message, "second factor"));
    denied(&boot, SN_ACT_TSA_ROTATE, NULL, SN_DENY_MFA, 0);
    denied(&boot, SN_ACT_TOKEN_CREATE, NULL, SN_DENY_MFA, 0);
    denied(&boot, SN_ACT_CERT_REVOKE, NULL, SN_DENY_MFA, 0);
    /* An operator session with its factor: its roles, and only those. */
    ALLOW(id_op, SN_ACT_IDENTITY_SET, NULL);
    ALLOW(id_op, SN_ACT_ACCOUNT_CREATE, NULL);
    d = denied(&id_op, SN_ACT_TSA_ROTATE, NULL, SN_DENY_ROLE, 0);
    assert_non_null(strstr(d.message, "'ca'"));
    ALLOW(ca_op, SN_ACT_TSA_ROTATE, NULL);
    denied(&ca_op, SN_ACT_IDENTITY_SET, NULL, SN_DENY_ROLE, 0);
    denied(&ca_op, SN_ACT_CERT_REVOKE, NULL, SN_DENY_ROLE, 0);
    ALLOW(ca_op, SN_ACT_ADMIN_AUDIT_READ, NULL);
    /* A session that proved no second factor enrols its own account and
     * does nothing else, not even as an operator. */
    memset(&r, 0, sizeof(r));
    r.subscriber = "";
    r.token = "op-half";
    ALLOW(half, SN_ACT_ACCOUNT_MANAGE, &r);
    denied(&half, SN_ACT_SUBSCRIBER_LIST, NULL, SN_DENY_MFA, 0);
    denied(&half, SN_ACT_ADMIN_AUDIT_READ, NULL, SN_DENY_MFA, 0);
    r.token = "op-ca";
    denied(&half, SN_ACT_ACCOUNT_MANAGE, &r, SN_DENY_FOREIGN, 1);
    ca_op.mfa = 0; /* its own, without the 'subscribers' role */
    ALLOW(ca_op, SN_ACT_ACCOUNT_MANAGE, &r);
    ca_op.mfa = 1;
    /* Subscriber users: a manage credential creates its own subscriber's,
     * with the roles it holds and 'approve' only; another subscriber's
     * looks missing. */
    memset(&r, 0, sizeof(r));
    r.subscriber = SUB_A;
    r.roles = SN_ROLE_APPROVE | SN_ROLE_MANAGE;
    ALLOW(mgr, SN_ACT_ACCOUNT_CREATE, &r);
    d = denied(&tok, SN_ACT_ACCOUNT_CREATE, &r, SN_DENY_MFA, 0);
    assert_non_null(strstr(d.message, "not an API token"));
    r.roles = SN_ROLE_APPROVE | SN_ROLE_SIGN;
    d = denied(&mgr, SN_ACT_ACCOUNT_CREATE, &r, SN_DENY_GRANT, 0);
    assert_non_null(strstr(d.message, "does not hold"));
    r.roles = SN_OROLE_CA;
    denied(&mgr, SN_ACT_ACCOUNT_CREATE, &r, SN_DENY_GRANT, 0);
    r.roles = SN_ROLE_SIGN;
    r.subscriber = SUB_B;
    denied(&mgr, SN_ACT_ACCOUNT_CREATE, &r, SN_DENY_FOREIGN, 1);
    r.subscriber = NULL;
    denied(&mgr, SN_ACT_ACCOUNT_CREATE, &r, SN_DENY_OPERATOR_ONLY, 0);
    denied(&alice, SN_ACT_ACCOUNT_CREATE, NULL, SN_DENY_ROLE, 0);
    /* Managing an account: oneself, the subscriber's manager, an
     * operator; not another subscriber's user. */
    memset(&r, 0, sizeof(r));
    r.subscriber = SUB_A;
    r.token = "acct-alice";
    ALLOW(alice, SN_ACT_ACCOUNT_MANAGE, &r);
    ALLOW(mgr, SN_ACT_ACCOUNT_MANAGE, &r);
    ALLOW(id_op, SN_ACT_ACCOUNT_MANAGE, &r);
    r.token = "acct-bob";
    denied(&alice, SN_ACT_ACCOUNT_MANAGE, &r, SN_DENY_FOREIGN, 1);
    r.subscriber = SUB_B;
    denied(&mgr, SN_ACT_ACCOUNT_MANAGE, &r, SN_DENY_FOREIGN, 1);
    r.subscriber = "";
    denied(&mgr, SN_ACT_ACCOUNT_MANAGE, &r, SN_DENY_FOREIGN, 1);
    /* Only operators read their audit log. */
    denied(&mgr, SN_ACT_ADMIN_AUDIT_READ, NULL, SN_DENY_OPERATOR_ONLY, 0);
    /* Operators grant and manage only roles they hold; the bootstrap
     * token makes operators only. */
    memset(&r, 0, sizeof(r));
    r.roles = SN_OROLE_CA | SN_OROLE_IDENTITY;
    d = denied(&id_op, SN_ACT_ACCOUNT_CREATE, &r, SN_DENY_GRANT, 0);
    r.roles = SN_OROLE_IDENTITY;
    ALLOW(id_op, SN_ACT_ACCOUNT_CREATE, &r);
    ALLOW(boot, SN_ACT_ACCOUNT_CREATE, &r);
    r.subscriber = SUB_A;
    r.roles = SN_ROLE_SIGN;
    ALLOW(id_op, SN_ACT_ACCOUNT_CREATE, &r);
    denied(&boot, SN_ACT_ACCOUNT_CREATE, &r, SN_DENY_MFA, 0);
    memset(&r, 0, sizeof(r));
    r.subscriber = "";
    r.token = "op-ca";
    r.roles = SN_OROLE_CA;
    denied(&id_op, SN_ACT_ACCOUNT_MANAGE, &r, SN_DENY_GRANT, 0);
    r.roles = SN_OROLE_IDENTITY;
    ALLOW(id_op, SN_ACT_ACCOUNT_MANAGE, &r);
    /* A key-limited manager lists no accounts. */
    limit_to(&mgr, KEY_1);
    denied(&mgr, SN_ACT_ACCOUNT_LIST, NULL, SN_DENY_SCOPE, 0);
}

/* ---- sign requests awaiting approval (issue 17) ---- */

static const char approvers[3][SN_UUID_LEN] = {"acct-a", "acct-b", "acct-c"};

/* A request of SUB_A's KEY_1 by a pipeline's exchanged token. */
static struct sn_resource
request_of(const char *requester, int method, const char *via)
{
    struct sn_resource r;

    memset(&r, 0, sizeof(r));
    r.subscriber = SUB_A;
    r.key = KEY_1;
    r.requester = requester;
    r.requester_method = method;
    r.requester_via = via;
    r.approvers = approvers;
    r.napprovers = 3;
    return r;
}

/*
 * Votes: an approver's session with its second factor and the role
 * approves; the requester (same credential, or another session of the
 * same account), a session without MFA, without the role or not listed,
 * a static token, an exchanged token, a client certificate and the
 * operator are refused; another subscriber's approver sees nothing.
 * The refusals of the subscriber's own callers are audited.
 */
static void
test_sign_request_vote(void **state)
{
    struct sn_resource ci = request_of("tok-ci", SN_AUTH_OIDC, "tp-1");
    struct sn_resource own =
        request_of("session-of-acct-b", SN_AUTH_SESSION, "acct-b");
    struct sn_principal b = session("acct-b", SUB_A, SN_ROLE_APPROVE, 1);
    struct sn_principal b2 = b;
    struct sn_principal nomfa = session("acct-a", SUB_A, SN_ROLE_APPROVE, 0);
    struct sn_principal norole = session("acct-a", SUB_A, SN_ROLE_SIGN, 1);
    struct sn_principal stranger = session("acct-z", SUB_A, SN_ROLE_APPROVE, 1);
    struct sn_principal foreign = session("acct-a", SUB_B, SN_ROLE_APPROVE, 1);
    struct sn_principal bearer =
        subscriber(SUB_A, SN_ROLE_MANAGE | SN_ROLE_SIGN | SN_ROLE_APPROVE);
    struct sn_principal oidc = bearer, mtls = bearer, op = admin();
    struct sn_decision d;

    (void)state;
    oidc.method = SN_AUTH_OIDC;
    snprintf(oidc.via, sizeof(oidc.via), "tp-1");
    mtls.method = SN_AUTH_MTLS;
    snprintf(mtls.via, sizeof(mtls.via), "reg-1");
    ALLOW(b, SN_ACT_SIGN_REQUEST_VOTE, NULL);
    ALLOW(b, SN_ACT_SIGN_REQUEST_VOTE, &ci);
    /* the requester, by its session or by another of the same account */
    d = denied(&b, SN_ACT_SIGN_REQUEST_VOTE, &own, SN_DENY_SELF, 0);
    assert_string_equal(d.audit_subscriber, SUB_A);
    snprintf(b2.id, sizeof(b2.id), "another-session");
    denied(&b2, SN_ACT_SIGN_REQUEST_VOTE, &own, SN_DENY_SELF, 0);
    /* not a session with a second factor and the role */
    denied(&nomfa, SN_ACT_SIGN_REQUEST_VOTE, &ci, SN_DENY_MFA, 0);
    d = denied(&norole, SN_ACT_SIGN_REQUEST_VOTE, &ci, SN_DENY_ROLE, 0);
    assert_non_null(strstr(d.message, "approve"));
    d = denied(&stranger, SN_ACT_SIGN_REQUEST_VOTE, &ci, SN_DENY_NOT_APPROVER,
               0);
    assert_string_equal(d.audit_subscriber, SUB_A);
    /* static, exchanged and certificate credentials never vote, whatever
     * their roles; before the store is asked (r NULL) too */
    d = denied(&bearer, SN_ACT_SIGN_REQUEST_VOTE, NULL, SN_DENY_ROLE, 0);
    assert_non_null(strstr(d.message, "login session"));
    assert_string_equal(d.audit_subscriber, SUB_A);
    denied(&bearer, SN_ACT_SIGN_REQUEST_VOTE, &ci, SN_DENY_ROLE, 0);
    denied(&oidc, SN_ACT_SIGN_REQUEST_VOTE, &ci, SN_DENY_ROLE, 0);
    denied(&mtls, SN_ACT_SIGN_REQUEST_VOTE, &ci, SN_DENY_ROLE, 0);
    denied(&op, SN_ACT_SIGN_REQUEST_VOTE, &ci, SN_DENY_OPERATOR_EXCLUDED, 0);
    /* another subscriber's: like a missing request, in the owner's log */
    d = denied(&foreign, SN_ACT_SIGN_REQUEST_VOTE, &ci, SN_DENY_FOREIGN, 1);
    assert_string_equal(d.audit_subscriber, SUB_A);
}

/* Who sees and who cancels a request. */
static void
test_sign_request_read_cancel(void **state)
{
    struct sn_resource ci = request_of("tok-ci", SN_AUTH_OIDC, "tp-1");
    struct sn_resource mine =
        request_of("session-of-acct-d", SN_AUTH_SESSION, "acct-d");
    struct sn_principal pipeline = subscriber(SUB_A, SN_ROLE_SIGN);
    struct sn_principal other_pipeline = subscriber(SUB_A, SN_ROLE_SIGN);
    struct sn_principal manage = subscriber(SUB_A, SN_ROLE_MANAGE);
    struct sn_principal scoped = subscriber(SUB_A, SN_ROLE_MANAGE);
    struct sn_principal b = session("acct-b", SUB_A, SN_ROLE_APPROVE, 1);
    struct sn_principal nomfa = session("acct-b", SUB_A, SN_ROLE_APPROVE, 0);
    struct sn_principal d2 = session("acct-d", SUB_A, SN_ROLE_SIGN, 1);
    struct sn_principal foreign = subscriber(SUB_B, SN_ROLE_MANAGE);
    struct sn_principal op = admin();

    (void)state;
    pipeline.method = SN_AUTH_OIDC;
    snprintf(pipeline.id, sizeof(pipeline.id), "tok-ci");
    snprintf(other_pipeline.id, sizeof(other_pipeline.id), "tok-other");
    limit_to(&scoped, KEY_2);
    /* read: the requester, an approver, a manage credential in scope */
    ALLOW(pipeline, SN_ACT_SIGN_REQUEST_READ, &ci);
    ALLOW(b, SN_ACT_SIGN_REQUEST_READ, &ci);
    ALLOW(manage, SN_ACT_SIGN_REQUEST_READ, &ci);
    ALLOW(d2, SN_ACT_SIGN_REQUEST_READ, &mine);
    denied(&other_pipeline, SN_ACT_SIGN_REQUEST_READ, &ci, SN_DENY_ROLE, 0);
    denied(&scoped, SN_ACT_SIGN_REQUEST_READ, &ci, SN_DENY_ROLE, 0);
    denied(&nomfa, SN_ACT_SIGN_REQUEST_READ, &ci, SN_DENY_MFA, 0);
    denied(&foreign, SN_ACT_SIGN_REQUEST_READ, &ci, SN_DENY_FOREIGN, 1);
    denied(&op, SN_ACT_SIGN_REQUEST_READ, &ci, SN_DENY_OPERATOR_EXCLUDED, 0);
    ALLOW(pipeline, SN_ACT_SIGN_REQUEST_LIST, NULL);
    denied(&op, SN_ACT_SIGN_REQUEST_LIST, NULL, SN_DENY_OPERATOR_EXCLUDED, 0);
    denied(&nomfa, SN_ACT_SIGN_REQUEST_LIST, NULL, SN_DENY_MFA, 0);
    /* cancel: the requester or a manage credential; not an approver */
    ALLOW(pipeline, SN_ACT_SIGN_REQUEST_CANCEL, &ci);
    ALLOW(manage, SN_ACT_SIGN_REQUEST_CANCEL, &ci);
    ALLOW(d2, SN_ACT_SIGN_REQUEST_CANCEL, &mine);
    denied(&b, SN_ACT_SIGN_REQUEST_CANCEL, &ci, SN_DENY_ROLE, 0);
    denied(&other_pipeline, SN_ACT_SIGN_REQUEST_CANCEL, &ci, SN_DENY_ROLE, 0);
    denied(&foreign, SN_ACT_SIGN_REQUEST_CANCEL, &ci, SN_DENY_FOREIGN, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operator_only),
        cmocka_unit_test(test_key_use),
        cmocka_unit_test(test_key_create_list_import),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_token_grant),
        cmocka_unit_test(test_audit_identity),
        cmocka_unit_test(test_certificates),
        cmocka_unit_test(test_key_scope),
        cmocka_unit_test(test_token_self_revoke),
        cmocka_unit_test(test_fail_closed),
        cmocka_unit_test(test_subscriber_policy),
        cmocka_unit_test(test_people),
        cmocka_unit_test(test_sign_request_vote),
        cmocka_unit_test(test_sign_request_read_cancel),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
