/*
 * principal: who is calling and how they proved it, as the handlers and
 * the policy see it. Filled by the auth module from a verified credential
 * (trusted from then on); it holds no secret and no hash.
 */
#ifndef SN_PRINCIPAL_H
#define SN_PRINCIPAL_H

#include <stddef.h>
#include <time.h>

#include "store/store.h"

/*
 * How the caller proved who they are: a static bearer API token, a
 * short-lived token minted by an OIDC exchange (a trust policy vouched for
 * the workload), a registered TLS client certificate, or a person's login
 * session (issue 17: an account's password, and with mfa its TOTP code or
 * a recovery code).
 */
enum sn_auth_method {
    SN_AUTH_BEARER,
    SN_AUTH_OIDC,
    SN_AUTH_MTLS,
    SN_AUTH_SESSION
};

/* Room for what a proof said, for the audit record. */
#define SN_PROOF_MAX 512

struct sn_principal {
    enum sn_auth_method method;
    char id[SN_UUID_LEN];         /* the credential: the API token's id */
    char name[SN_NAME_MAX + 1];   /* the credential's name */
    char subscriber[SN_UUID_LEN]; /* "" for the operator (admin) */
    int admin;                    /* the operator */
    /* enum sn_role bits; an operator's (admin) also its SN_OROLE_* bits:
     * the bootstrap admin token holds every operator role */
    unsigned roles;
    /* SN_AUTH_SESSION: the login proved a second factor. A session without
     * one may only enrol the account's TOTP. */
    int mfa;
    /* Set by the front end where auth.operator_mfa is off: an operator
     * credential without a second factor may still do what needs one. */
    int mfa_exempt;
    char keys[SN_TOKEN_MAX_KEYS][SN_UUID_LEN]; /* scope; none = all keys */
    size_t nkeys;
    time_t expires_at; /* 0: never */
    time_t created_at;
    /*
     * SN_AUTH_OIDC: the trust policy that minted the token; SN_AUTH_MTLS:
     * the client-certificate registration; SN_AUTH_SESSION: the account.
     * "" for a static token.
     */
    char via[SN_UUID_LEN];
    /*
     * What the proof said, for audit records: OIDC "iss=... sub=..." and
     * the claims the policy bound; mTLS "sha256:<certificate fingerprint>".
     * "" for a static token.
     */
    char proof[SN_PROOF_MAX];
};

#endif
