/*
 * auth: authentication. Turns a credential presented with a request
 * (untrusted) into a principal, or says why not. Today the one way of
 * proving is a bearer API token "sn_<id>_<secret>" whose secret's SHA-256
 * is stored and compared in constant time.
 */
#ifndef SN_AUTH_H
#define SN_AUTH_H

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
    X(SN_AUTH_UNAVAILABLE, "database unavailable")

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
 * Is the principal's credential still good (not revoked, not expired)?
 * For requests that last long, such as an upload. SN_AUTH_OK if so.
 */
enum sn_auth_fault sn_auth_recheck(struct sn_store *st,
                                   const struct sn_principal *p);

#endif
