/*
 * router: the route table and path matching (see router.h). The method and
 * path are untrusted; percent-escapes are not decoded before they get here
 * (server.c), so a literal '%' fails the parameter alphabet.
 */
#include "http/router.h"

#include <string.h>

static const struct sn_route routes[] = {
    {"GET", "/healthz", "/healthz", SN_ROUTE_OPEN, SN_BODY_NONE, sn_h_healthz,
     NULL, 0},
    /* Volumes per route and algorithm across tenants: the operator's. */
    {"GET", "/metrics", "/metrics", SN_ROUTE_AUTH, SN_BODY_NONE, NULL, NULL, 0},
    {"GET", "/v1/whoami", "/v1/whoami", SN_ROUTE_AUTH, SN_BODY_NONE,
     sn_h_whoami, NULL, 0},
    {"POST", "/v1/subscribers", "/v1/subscribers", SN_ROUTE_AUTH, SN_BODY_JSON,
     sn_h_subscriber_create, NULL, 0},
    {"GET", "/v1/subscribers", "/v1/subscribers", SN_ROUTE_AUTH, SN_BODY_NONE,
     sn_h_subscriber_list, NULL, 0},
    {"POST", "/v1/subscribers/{}/tokens", "/v1/subscribers/{id}/tokens",
     SN_ROUTE_AUTH, SN_BODY_JSON, sn_h_token_create, NULL, 0},
    {"DELETE", "/v1/tokens/{}", "/v1/tokens/{id}", SN_ROUTE_AUTH, SN_BODY_NONE,
     sn_h_token_revoke, NULL, 0},
    /* mTLS client-certificate registrations (issue 16). */
    {"POST", "/v1/client-certs", "/v1/client-certs", SN_ROUTE_AUTH,
     SN_BODY_JSON, sn_h_clientcert_create, NULL, 0},
    {"GET", "/v1/client-certs", "/v1/client-certs", SN_ROUTE_AUTH, SN_BODY_NONE,
     sn_h_clientcert_list, NULL, 0},
    {"DELETE", "/v1/client-certs/{}", "/v1/client-certs/{id}", SN_ROUTE_AUTH,
     SN_BODY_NONE, sn_h_clientcert_delete, NULL, 0},
    {"POST", "/v1/keys/import", "/v1/keys/import", SN_ROUTE_AUTH, SN_BODY_NONE,
     sn_h_key_import, NULL, 0},
    {"POST", "/v1/keys", "/v1/keys", SN_ROUTE_AUTH, SN_BODY_JSON,
     sn_h_key_create, NULL, SN_ROUTE_HEAVY},
    {"GET", "/v1/keys", "/v1/keys", SN_ROUTE_AUTH, SN_BODY_NONE, sn_h_key_list,
     NULL, 0},
    {"GET", "/v1/keys/{}", "/v1/keys/{id}", SN_ROUTE_AUTH, SN_BODY_NONE,
     sn_h_key_show, NULL, 0},
    {"DELETE", "/v1/keys/{}", "/v1/keys/{id}", SN_ROUTE_AUTH, SN_BODY_NONE,
     sn_h_key_destroy, NULL, 0},
    {"POST", "/v1/keys/{}/disable", "/v1/keys/{id}/disable", SN_ROUTE_AUTH,
     SN_BODY_NONE, sn_h_key_disable, NULL, 0},
    {"POST", "/v1/keys/{}/enable", "/v1/keys/{id}/enable", SN_ROUTE_AUTH,
     SN_BODY_NONE, sn_h_key_enable, NULL, 0},
    {"POST", "/v1/keys/{}/csr", "/v1/keys/{id}/csr", SN_ROUTE_AUTH,
     SN_BODY_JSON, sn_h_key_csr, NULL, 0},
    {"PUT", "/v1/keys/{}/certificate", "/v1/keys/{id}/certificate",
     SN_ROUTE_AUTH, SN_BODY_RAW, sn_h_cert_put, NULL, 0},
    {"GET", "/v1/keys/{}/certificate", "/v1/keys/{id}/certificate",
     SN_ROUTE_AUTH, SN_BODY_NONE, sn_h_cert_get, NULL, 0},
    /* issue 16: signing policies, a key's own and a subscriber's default */
    {"PUT", "/v1/keys/{}/policy", "/v1/keys/{id}/policy", SN_ROUTE_AUTH,
     SN_BODY_JSON, sn_h_key_policy_put, NULL, 0},
    {"GET", "/v1/keys/{}/policy", "/v1/keys/{id}/policy", SN_ROUTE_AUTH,
     SN_BODY_NONE, sn_h_key_policy_get, NULL, 0},
    {"DELETE", "/v1/keys/{}/policy", "/v1/keys/{id}/policy", SN_ROUTE_AUTH,
     SN_BODY_NONE, sn_h_key_policy_delete, NULL, 0},
    {"PUT", "/v1/subscribers/{}/policy", "/v1/subscribers/{id}/policy",
     SN_ROUTE_AUTH, SN_BODY_JSON, sn_h_subscriber_policy_put, NULL, 0},
    {"GET", "/v1/subscribers/{}/policy", "/v1/subscribers/{id}/policy",
     SN_ROUTE_AUTH, SN_BODY_NONE, sn_h_subscriber_policy_get, NULL, 0},
    {"DELETE", "/v1/subscribers/{}/policy", "/v1/subscribers/{id}/policy",
     SN_ROUTE_AUTH, SN_BODY_NONE, sn_h_subscriber_policy_delete, NULL, 0},
    {"POST", "/v1/keys/{}/sign", "/v1/keys/{id}/sign", SN_ROUTE_AUTH,
     SN_BODY_JSON, sn_h_sign, NULL, SN_ROUTE_SIGN},
    {"POST", "/v1/keys/{}/sign-file", "/v1/keys/{id}/sign-file", SN_ROUTE_AUTH,
     SN_BODY_STREAM, sn_h_sign_file, sn_h_sign_file_check, 0},
    /* issue 17: sign requests awaiting approval. An approval may release
     * signatures: its HSM work runs on the worker that took the vote. */
    {"GET", "/v1/sign-requests", "/v1/sign-requests", SN_ROUTE_AUTH,
     SN_BODY_NONE, sn_h_sign_request_list, NULL, 0},
    {"GET", "/v1/sign-requests/{}", "/v1/sign-requests/{id}", SN_ROUTE_AUTH,
     SN_BODY_NONE, sn_h_sign_request_get, NULL, 0},
    {"POST", "/v1/sign-requests/{}/approve", "/v1/sign-requests/{id}/approve",
     SN_ROUTE_AUTH, SN_BODY_NONE, sn_h_sign_request_approve, NULL, 0},
    {"POST", "/v1/sign-requests/{}/deny", "/v1/sign-requests/{id}/deny",
     SN_ROUTE_AUTH, SN_BODY_NONE, sn_h_sign_request_deny, NULL, 0},
    {"POST", "/v1/sign-requests/{}/cancel", "/v1/sign-requests/{id}/cancel",
     SN_ROUTE_AUTH, SN_BODY_NONE, sn_h_sign_request_cancel, NULL, 0},
    /* issue 18: reports of Suspect Code and key compromise. Anyone may
     * report (anonymous callers are limited per address and run as
     * anonymous work); on the API listener only (docs/reports.md). */
    {"POST", "/v1/reports", "/v1/reports", SN_ROUTE_OPTIONAL, SN_BODY_JSON,
     sn_h_report_create, NULL, 0},
    {"GET", "/v1/reports", "/v1/reports", SN_ROUTE_AUTH, SN_BODY_NONE,
     sn_h_report_list, NULL, 0},
    {"GET", "/v1/reports/{}", "/v1/reports/{id}", SN_ROUTE_AUTH, SN_BODY_NONE,
     sn_h_report_get, NULL, 0},
    {"POST", "/v1/reports/{}/confirm", "/v1/reports/{id}/confirm",
     SN_ROUTE_AUTH, SN_BODY_JSON, sn_h_report_confirm, NULL, 0},
    {"POST", "/v1/reports/{}/reject", "/v1/reports/{id}/reject", SN_ROUTE_AUTH,
     SN_BODY_JSON, sn_h_report_reject, NULL, 0},
    {"GET", "/v1/audit", "/v1/audit", SN_ROUTE_AUTH, SN_BODY_NONE, sn_h_audit,
     NULL, 0},
    {"PUT", "/v1/subscribers/{}/identity", "/v1/subscribers/{id}/identity",
     SN_ROUTE_AUTH, SN_BODY_JSON, sn_h_identity_put, NULL, 0},
    {"GET", "/v1/subscribers/{}/identity", "/v1/subscribers/{id}/identity",
     SN_ROUTE_AUTH, SN_BODY_NONE, sn_h_identity_get, NULL, 0},
    {"GET", "/v1/keys/{}/attestation", "/v1/keys/{id}/attestation",
     SN_ROUTE_AUTH, SN_BODY_NONE, sn_h_attestation, NULL, 0},
    {"POST", "/v1/ca/certificates", "/v1/ca/certificates", SN_ROUTE_AUTH,
     SN_BODY_JSON, sn_h_ca_issue, NULL, 0},
    {"GET", "/v1/ca/certificates/{}", "/v1/ca/certificates/{serial}",
     SN_ROUTE_AUTH, SN_BODY_NONE, sn_h_ca_cert_get, NULL, 0},
    {"POST", "/v1/ca/certificates/{}/revoke",
     "/v1/ca/certificates/{serial}/revoke", SN_ROUTE_AUTH, SN_BODY_JSON,
     sn_h_ca_revoke, NULL, 0},
    /* issue 16: OIDC workload identity. The exchange is unauthenticated
     * (the ID token is the credential): it runs in the anonymous pool,
     * behind the per-address limit, never on the signing path. */
    {"POST", "/v1/oidc/issuers", "/v1/oidc/issuers", SN_ROUTE_AUTH,
     SN_BODY_JSON, sn_h_oidc_issuer_create, NULL, 0},
    {"GET", "/v1/oidc/issuers", "/v1/oidc/issuers", SN_ROUTE_AUTH, SN_BODY_NONE,
     sn_h_oidc_issuer_list, NULL, 0},
    {"DELETE", "/v1/oidc/issuers/{}", "/v1/oidc/issuers/{id}", SN_ROUTE_AUTH,
     SN_BODY_NONE, sn_h_oidc_issuer_delete, NULL, 0},
    {"POST", "/v1/trust-policies", "/v1/trust-policies", SN_ROUTE_AUTH,
     SN_BODY_JSON, sn_h_trust_policy_create, NULL, 0},
    {"GET", "/v1/trust-policies", "/v1/trust-policies", SN_ROUTE_AUTH,
     SN_BODY_NONE, sn_h_trust_policy_list, NULL, 0},
    {"DELETE", "/v1/trust-policies/{}", "/v1/trust-policies/{id}",
     SN_ROUTE_AUTH, SN_BODY_NONE, sn_h_trust_policy_delete, NULL, 0},
    {"POST", "/v1/auth/oidc", "/v1/auth/oidc", SN_ROUTE_OPEN, SN_BODY_JSON,
     sn_h_oidc_exchange, NULL, SN_ROUTE_ANON},
    /* issue 17: people. A login is unauthenticated (the password and code
     * are the credential): it runs in the anonymous pool, behind the
     * per-address limit, as the OIDC exchange does. */
    {"POST", "/v1/accounts", "/v1/accounts", SN_ROUTE_AUTH, SN_BODY_JSON,
     sn_h_account_create, NULL, SN_ROUTE_SECRET},
    {"GET", "/v1/accounts", "/v1/accounts", SN_ROUTE_AUTH, SN_BODY_NONE,
     sn_h_account_list, NULL, 0},
    {"POST", "/v1/accounts/{}/totp", "/v1/accounts/{id}/totp", SN_ROUTE_AUTH,
     SN_BODY_NONE, sn_h_account_totp, NULL, 0},
    {"POST", "/v1/accounts/{}/totp/confirm", "/v1/accounts/{id}/totp/confirm",
     SN_ROUTE_AUTH, SN_BODY_JSON, sn_h_account_totp_confirm, NULL,
     SN_ROUTE_SECRET},
    {"POST", "/v1/accounts/{}/password", "/v1/accounts/{id}/password",
     SN_ROUTE_AUTH, SN_BODY_JSON, sn_h_account_password, NULL, SN_ROUTE_SECRET},
    {"POST", "/v1/accounts/{}/disable", "/v1/accounts/{id}/disable",
     SN_ROUTE_AUTH, SN_BODY_NONE, sn_h_account_disable, NULL, 0},
    {"POST", "/v1/sessions", "/v1/sessions", SN_ROUTE_OPEN, SN_BODY_JSON,
     sn_h_session_create, NULL, SN_ROUTE_ANON | SN_ROUTE_SECRET},
    {"DELETE", "/v1/sessions/current", "/v1/sessions/current", SN_ROUTE_AUTH,
     SN_BODY_NONE, sn_h_session_delete, NULL, 0},
    {"GET", "/v1/admin/audit", "/v1/admin/audit", SN_ROUTE_AUTH, SN_BODY_NONE,
     sn_h_admin_audit, NULL, 0},
    /* Public, self-authenticating objects (CSBR wants them over HTTP). */
    {"GET", "/ca/certs.pem", "/ca/certs.pem", SN_ROUTE_OPEN, SN_BODY_NONE,
     sn_h_ca_bundle, NULL, SN_ROUTE_PUB},
    {"GET", "/ca/crl", "/ca/crl", SN_ROUTE_OPEN, SN_BODY_NONE, sn_h_ca_crl,
     NULL, SN_ROUTE_PUB},
    /* The transparency log (docs/translog.md): C2SP tlog-tiles. */
    {"GET", "/log/checkpoint", "/log/checkpoint", SN_ROUTE_OPEN, SN_BODY_NONE,
     sn_h_log_checkpoint, NULL, SN_ROUTE_PUB},
    {"GET", "/log/vkey", "/log/vkey", SN_ROUTE_OPEN, SN_BODY_NONE,
     sn_h_log_vkey, NULL, SN_ROUTE_PUB},
    /* issue 18: the public key of the reports' notices to other CAs */
    {"GET", "/reports/notice-key", "/reports/notice-key", SN_ROUTE_OPEN,
     SN_BODY_NONE, sn_h_report_notice_key, NULL, SN_ROUTE_PUB},
    {"GET", "/log/tile/{*}", "/log/tile", SN_ROUTE_OPEN, SN_BODY_NONE,
     sn_h_log_tile, NULL, SN_ROUTE_PUB},
    {"GET", "/log/proof/{}", "/log/proof/{index}", SN_ROUTE_OPEN, SN_BODY_NONE,
     sn_h_log_proof, NULL, SN_ROUTE_PUB},
    {"GET", "/ca/crl/{}", "/ca/crl/{name}", SN_ROUTE_OPEN, SN_BODY_NONE,
     sn_h_ca_crl, NULL, SN_ROUTE_PUB},
    {"POST", "/ca/ocsp", "/ca/ocsp", SN_ROUTE_OPEN, SN_BODY_RAW, sn_h_ca_ocsp,
     NULL, SN_ROUTE_PUB | SN_ROUTE_ANON},
    {"GET", "/ca/ocsp/{*}", "/ca/ocsp", SN_ROUTE_OPEN, SN_BODY_NONE,
     sn_h_ca_ocsp, NULL, SN_ROUTE_PUB | SN_ROUTE_ANON},
    {"POST", "/tsa", "/tsa", SN_ROUTE_OPEN, SN_BODY_RAW, sn_h_tsa, NULL,
     SN_ROUTE_PUB | SN_ROUTE_SIGN | SN_ROUTE_ANON},
    {"POST", "/tsa/authenticode", "/tsa/authenticode", SN_ROUTE_OPEN,
     SN_BODY_RAW, sn_h_tsa_authenticode, NULL,
     SN_ROUTE_PUB | SN_ROUTE_SIGN | SN_ROUTE_ANON},
    {"POST", "/v1/tsa/rotate", "/v1/tsa/rotate", SN_ROUTE_AUTH, SN_BODY_NONE,
     sn_h_tsa_rotate, NULL, 0},
    {"POST", "/v1/tsa/clock-ok", "/v1/tsa/clock-ok", SN_ROUTE_AUTH,
     SN_BODY_NONE, sn_h_tsa_clock_ok, NULL, 0},
    {"GET", "/ca/{}", "/ca/{name}.cer", SN_ROUTE_OPEN, SN_BODY_NONE,
     sn_h_ca_cert_der, NULL, SN_ROUTE_PUB},
};

_Static_assert(sizeof(((struct sn_req *)0)->params[0]) ==
                   SN_ROUTE_PARAM_MAX + 1,
               "a request holds a parameter of the longest length");

/* What one pattern captured; copied into the request only on a match. */
struct captures {
    char params[SN_MAX_PARAMS][SN_ROUTE_PARAM_MAX + 1];
    char tail[SN_ROUTE_TAIL_MAX + 1];
    int np;
    int has_tail;
};

static int
param_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* The "{*}" rest: an OCSP request in base64, percent-escapes undecoded,
 * or a log tile's path ("0/x001/234.p/7"). */
static int
tail_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=' ||
           c == '%' || c == '.';
}

static int
param_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > SN_ROUTE_PARAM_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (!param_char(s[i]))
            return 0;
    return 1;
}

/* The rest of the path for a "{*}" segment: 1 if it is acceptable. */
static int
take_tail(const char *u, struct captures *cap)
{
    size_t len = strlen(u), i;

    if (len == 0 || len > SN_ROUTE_TAIL_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (!tail_char(u[i]))
            return 0;
    memcpy(cap->tail, u, len + 1);
    cap->has_tail = 1;
    return 1;
}

/* 1 if path matches pattern; its parameters are left in cap. */
static int
match(const char *pattern, const char *path, struct captures *cap)
{
    const char *p = pattern, *u = path;
    size_t len;

    cap->np = 0;
    cap->has_tail = 0;
    while (*p != '\0') {
        if (p[0] == '{' && p[1] == '*' && p[2] == '}')
            return p[3] == '\0' && take_tail(u, cap);
        if (p[0] == '{' && p[1] == '}') {
            len = strcspn(u, "/");
            if (!param_ok(u, len) || cap->np >= SN_MAX_PARAMS)
                return 0;
            memcpy(cap->params[cap->np], u, len);
            cap->params[cap->np][len] = '\0';
            cap->np++;
            u += len;
            p += 2;
        } else if (*p++ != *u++)
            return 0;
    }
    return *u == '\0';
}

static void
captures_to_req(const struct captures *cap, struct sn_req *req)
{
    int i;

    /* The strings only: the rest of cap was never written. */
    for (i = 0; i < cap->np; i++)
        memcpy(req->params[i], cap->params[i], strlen(cap->params[i]) + 1);
    if (cap->has_tail)
        memcpy(req->tail, cap->tail, strlen(cap->tail) + 1);
}

const struct sn_route *
sn_router_find(int plain, const char *method, const char *path,
               struct sn_req *req, int *path_known)
{
    struct captures cap;
    size_t i;

    *path_known = 0;
    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if ((plain && !(routes[i].flags & SN_ROUTE_PUB)) ||
            !match(routes[i].pattern, path, &cap))
            continue;
        if (strcmp(routes[i].method, method) == 0) {
            captures_to_req(&cap, req);
            return &routes[i];
        }
        *path_known = 1;
    }
    return NULL;
}

const struct sn_route *
sn_router_table(size_t *n)
{
    *n = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
