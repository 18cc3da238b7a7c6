/*
 * chain: whether a certificate chain a subscriber uploads (untrusted, leaf
 * first) is a code signing chain to a trust anchor the operator chose.
 * Pure OpenSSL: the caller parses the PEM (x509util.h) and names the
 * anchors; nothing is read from disk here.
 */
#ifndef SN_CHAIN_H
#define SN_CHAIN_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "common/err.h"

/*
 * SN_OK if chain's leaf (the first certificate) verifies at now to one of
 * anchors (X509_verify_cert with X509_V_FLAG_X509_STRICT), with chain's
 * other certificates and known (may be NULL: intermediates the service
 * knows, such as its own issuing CA) as untrusted intermediates, and the
 * leaf is fit for code signing: extendedKeyUsage with id-kp-codeSigning,
 * not a CA, keyUsage (if present) with digitalSignature; an intermediate
 * with extendedKeyUsage must allow codeSigning. Otherwise SN_ERR_INVALID
 * with why saying which certificate failed and why (OpenSSL's text for
 * chain errors); SN_ERR_NOMEM if OpenSSL could not allocate.
 */
sn_err sn_chain_verify_codesigning(STACK_OF(X509) *chain,
                                   STACK_OF(X509) *anchors,
                                   STACK_OF(X509) *known, time_t now, char *why,
                                   size_t whylen);

#endif
