/*
 * oidc: the PKCS#11 module's short-lived Signet token obtained from a CI
 * job's ID token, for when no Signet token (SIGNET_TOKEN, the file's
 * token, a C_Login PIN) is given. The ID token comes from a file (re-read
 * at each renewal), a variable or GitHub Actions' endpoint
 * (apiclient/idtoken.h); it is exchanged at POST /v1/auth/oidc at first
 * use, never in C_Initialize (p11-kit initialises modules in programs
 * that never sign). The token is renewed when it is within a minute (or
 * half its lifetime) of expiry and a fresh ID token is at hand; an ID
 * token already exchanged is never sent again (the server refuses a
 * replayed jti), so an unchanged file or variable keeps the current token
 * until it expires. Failures are said once on stderr, naming the source,
 * never a token. Exchanges are serialised by a mutex of their own, held
 * across the network exchange (the module's state lock never is).
 */
#ifndef SN_P11_OIDC_H
#define SN_P11_OIDC_H

#include "common/err.h"
#include "pkcs11/conf.h"

/* Whether an ID token source is configured (file, variable, Actions). */
int sn_p11_oidc_configured(const struct sn_p11_conf *c);

/*
 * A copy of a valid Signet token (*token: free with sn_secret_free),
 * exchanging or renewing first if needed. SN_ERR_IO: the service could
 * not be reached; SN_ERR_STATE: no usable ID token or the exchange was
 * refused; both are said on stderr once.
 */
sn_err sn_p11_oidc_token(const struct sn_p11_conf *c, char **token);

/* Forgets the token (C_Finalize). */
void sn_p11_oidc_reset(void);

#endif
