/*
 * auth: authentication. Turns a credential presented with a request
 * (untrusted) into a principal, or says why not: a bearer API token
 * "sn_<id>_<secret>" whose secret's SHA-256 is stored and compared in
 * constant time, or a registered TLS client certificate (auth/mtls.c).
 */
#ifndef SN_AUTH_H
#define SN_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "auth/principal.h"
#include "store/store.h"

/* code, message given to the caller */
#define SN_AUTH_FAULTS(X)                                                      \
    X(SN_AUTH_OK, "ok")                                                        \
    X(SN_AUTH_MISSING, "missing bearer token (Authorization: Bearer ...)")     \
    X(SN_AUTH_MALFORMED, "malformed token")                                    \
    X(SN_AUTH_UNKNOWN, "unknown token")                                        \
    X(SN_AUTH_REVOKED, "token revoked")                                        \
    X(SN_AUTH_EXPIRED, "token expired")                                        \
    X(SN_AUTH_IDLE, "session ended after being idle: log in again")            \
    X(SN_AUTH_UNAVAILABLE, "database unavailable")                             \
    X(SN_AUTH_CERT_UNKNOWN, "client certificate not registered")               \
    X(SN_AUTH_CERT_MALFORMED, "client certificate chain malformed")            \
    X(SN_AUTH_CERT_EXPIRED, "client certificate expired")                      \
    X(SN_AUTH_CERT_NOT_YET_VALID, "client certificate not yet valid")          \
    X(SN_AUTH_CERT_PURPOSE,                                                    \
      "client certificate not for TLS client authentication (extended key "    \
      "usage)")                                                                \
    X(SN_AUTH_CERT_UNTRUSTED,                                                  \
      "client certificate chain does not verify to the registered CA")         \
    X(SN_AUTH_CERT_SUBJECT,                                                    \
      "client certificate subject does not match the registration's rules")    \
    X(SN_AUTH_CERT_AMBIGUOUS,                                                  \
      "client certificate registered by more than one subscriber: send "       \
      "one's token as well")                                                   \
    X(SN_AUTH_CERT_MISMATCH,                                                   \
      "client certificate not registered by the token's subscriber")           \
    X(SN_AUTH_CERT_DELETED, "client certificate registration deleted")

enum sn_auth_fault {
#define SN_AUTH_ENUM(c, m) c,
    SN_AUTH_FAULTS(SN_AUTH_ENUM)
#undef SN_AUTH_ENUM
};

const char *sn_auth_fault_str(enum sn_auth_fault f);

/*
 * Authenticates an Authorization header value (NULL if absent) from client
 * (a numeric address, for the log and the audit record). On SN_AUTH_OK
 * *out is the caller; otherwise it is zeroed. A revoked or expired
 * subscriber token is recorded as "denied" in its subscriber's audit log.
 */
enum sn_auth_fault sn_auth_bearer(struct sn_store *st, const char *header,
                                  const char *client, struct sn_principal *out);

/*
 * Authenticates a TLS client's certificate chain (DER, leaf first, n >= 1;
 * untrusted) against the subscribers' registrations: a pinned leaf by its
 * SHA-256 fingerprint, or a registered CA whose subject name the chain's
 * issuers name (the chain must verify to it and the leaf match its subject
 * rules). subscriber (NULL: any) limits the registrations considered (the
 * one a token sent with the certificate names). On SN_AUTH_OK *out is the
 * registration's principal (SN_AUTH_MTLS, via the registration, proof
 * "sha256:<leaf fingerprint>"); several subscribers' registrations
 * matching is SN_AUTH_CERT_AMBIGUOUS. A refused certificate that matched
 * a registration is recorded in its subscriber's audit log.
 */
enum sn_auth_fault sn_auth_mtls(struct sn_store *st, const uint8_t *const *der,
                                const size_t *len, size_t n,
                                const char *subscriber, const char *client,
                                struct sn_principal *out);

/*
 * Is the principal's credential still good (not revoked, not expired; for
 * a client certificate, its registration not deleted)?
 * For requests that last long, such as an upload. SN_AUTH_OK if so.
 */
enum sn_auth_fault sn_auth_recheck(struct sn_store *st,
                                   const struct sn_principal *p);
/* The same for an SN_AUTH_MTLS principal (its registration and chain). */
enum sn_auth_fault sn_auth_mtls_recheck(struct sn_store *st,
                                        const struct sn_principal *p);

/*
 * An audit record's principal (store.h) for a credential proved by method
 * (enum sn_auth_method): "oidc policy=VIA PROOF", "mtls registration=VIA
 * PROOF", else the credential's id. Every record names it the same way.
 */
void sn_audit_principal(char *buf, size_t len, int method, const char *id,
                        const char *via, const char *proof);
/*
 * Counts a refused credential for its subscriber's audit log (a "denied"
 * record folded per minute, store.h): its id, how it proves (method, via,
 * proof, as above), the client address and the fault. For auth's own
 * files (token and certificate checks).
 */
void sn_auth_audit_refused(struct sn_store *st, const char *subscriber,
                           const char *id, int method, const char *via,
                           const char *proof, const char *client,
                           enum sn_auth_fault f);

#endif
