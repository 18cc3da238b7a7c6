/*
 * placeholder: an EVP_PKEY with a real public key whose "signatures" are
 * a fixed dummy of the right shape (zeros for RSA, r = s = 1 for ECDSA).
 * A front end that does not hold a CA key builds each object with
 * OpenSSL's own code (X509_sign, X509_CRL_sign, OCSP_basic_sign,
 * TS_RESP_create_response), which needs a key to produce a well-formed
 * object; the keeper then checks the object and signs it for real. Such a
 * signature verifies nowhere.
 */
#ifndef SN_PLACEHOLDER_H
#define SN_PLACEHOLDER_H

#include <openssl/evp.h>

#include "common/err.h"

/* pub: an RSA or EC public key (referenced, not kept). */
sn_err sn_placeholder_pkey(EVP_PKEY *pub, EVP_PKEY **out);

#endif
