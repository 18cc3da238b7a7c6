/*
 * tlsgen: the TLS material of a new home. A throw-away ECDSA P-256 root
 * signs a server certificate for localhost, 127.0.0.1 and ::1; the root's
 * private key is discarded, only its certificate is kept for clients.
 * These are software keys for transport security, never signing keys.
 */
#ifndef SN_TLSGEN_H
#define SN_TLSGEN_H

#include "common/err.h"

/*
 * Writes ca_path (root certificate PEM), cert_path (server certificate
 * PEM) and key_path (server private key PEM, mode 0600). Refuses to
 * overwrite existing files. Validity: root 10 years, server 825 days.
 */
sn_err sn_tls_generate(const char *ca_path, const char *cert_path,
                       const char *key_path);

#endif
