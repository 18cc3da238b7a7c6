/*
 * trustpol: a subscriber's trust policy, which says which workloads (the
 * claims of an ID token from one issuer) may have a short-lived token for
 * which keys and roles. The rules come from a subscriber's request
 * (untrusted JSON, checked here); the claims they are matched against
 * come from a verified ID token.
 *
 * Rules: each names a claim and the value it must have. Values are
 * compared exactly, as strings; only "ref" may use "*", which matches any
 * run of characters (so "refs/tags/v*"). The numeric ids
 * "repository_owner_id" and "repository_id" must be decimal digits (a
 * string or a JSON integer) and match the token's claim, string or
 * integer, exactly, so a renamed or re-created repository does not
 * inherit the trust. The registered claims (iss, aud, exp, nbf, iat, jti)
 * cannot be rules; a policy names at least one rule.
 */
#ifndef SN_TRUSTPOL_H
#define SN_TRUSTPOL_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "store/store.h"

#define SN_TRUST_RULES_MAX 16
#define SN_TRUST_NAME_MAX 64
#define SN_TRUST_VALUE_MAX 256
#define SN_TRUST_LIFETIME_MAX 900
#define SN_TRUST_LIFETIME_DEFAULT 900

struct sn_trust_rules {
    json_t *claims; /* {"name": "value"} as checked (owned) */
    unsigned roles; /* enum sn_role bits; sign if not given */
    char keys[SN_TOKEN_MAX_KEYS][SN_UUID_LEN];
    size_t nkeys;
    time_t lifetime; /* seconds, 1..SN_TRUST_LIFETIME_MAX */
};

/*
 * Reads {"claims", "keys", "roles", "token_lifetime"} of body (other
 * members are the caller's) into *out (sn_trust_rules_cleanup). -1 and a
 * reason in why if a rule or field is not acceptable. keys must name at
 * least one key (ids only: whose they are is the caller's to check).
 */
int sn_trust_rules_parse(json_t *body, struct sn_trust_rules *out, char *why,
                         size_t whylen);
void sn_trust_rules_cleanup(struct sn_trust_rules *r);
/* The rules as stored (compact JSON, malloc'd). */
char *sn_trust_rules_dump(const struct sn_trust_rules *r);

/* 1 if every rule holds for the token's claims. */
int sn_trust_match(json_t *rules, json_t *claims);

/*
 * What the proof said, for the principal and the audit: "iss=... sub=..."
 * then each rule's claim as the token had it, "name=value"; characters
 * other than printable ASCII are written as '?', and the text is cut to
 * outlen.
 */
void sn_trust_proof(const char *iss, json_t *rules, json_t *claims, char *out,
                    size_t outlen);

#endif
