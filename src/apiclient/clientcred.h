/*
 * clientcred: a TLS client certificate and its private key, for mTLS with
 * signetd (the API authenticates a registered certificate). The key is a
 * PEM file or a PKCS#11 URI (common/p11uri.h) naming a key in a token,
 * used through libp11 so that it never leaves the token; the PIN comes
 * from the caller (environment, file) and is wiped after the login. The
 * files and the URI are the user's; their contents are parsed strictly.
 * A loaded credential is read-only and may be shared by threads.
 */
#ifndef SN_CLIENTCRED_H
#define SN_CLIENTCRED_H

#include <stddef.h>

#include "common/err.h"

struct sn_client_cred;

/* Where a credential comes from; every pointer is borrowed. */
struct sn_client_cred_src {
    const char *cert_file; /* PEM: the leaf, then any intermediates */
    const char *key;       /* a PEM file, or a "pkcs11:" URI */
    const char *pin;       /* the token's PIN (URI only), or NULL */
    const char *pin_file;  /* or a file holding it (also pin-source) */
    const char *module;    /* PKCS#11 module if the URI names none */
};

/* The PKCS#11 module used when neither the URI nor the caller names one. */
#define SN_CLIENT_CRED_DEFAULT_MODULE                                          \
    "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"

/*
 * Loads the certificate and the key and checks that they match. On
 * failure why (whylen bytes) says what, never holding the PIN.
 */
sn_err sn_client_cred_load(const struct sn_client_cred_src *src,
                           struct sn_client_cred **out, char *why,
                           size_t whylen);
void sn_client_cred_free(struct sn_client_cred *c);

/*
 * Puts the credential into an OpenSSL SSL_CTX (void * so that callers
 * need not see OpenSSL's types): certificate, chain and key. 1 on success.
 */
int sn_client_cred_apply(const struct sn_client_cred *c, void *ssl_ctx);

#endif
