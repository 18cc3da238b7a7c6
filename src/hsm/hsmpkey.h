/*
 * hsmpkey: an OpenSSL EVP_PKEY whose private operations are signatures in
 * the HSM. It carries the public key only; OpenSSL code that signs with an
 * EVP_PKEY (X509_sign, X509_CRL_sign, OCSP_basic_sign, TS_RESP_create_
 * response, CMS) then signs inside the module. Only PKCS#1 v1.5 (RSA) and
 * ECDSA with SHA-256/384/512 are offered.
 */
#ifndef SN_HSMPKEY_H
#define SN_HSMPKEY_H

#include <openssl/evp.h>

#include "hsm/hsm.h"

/*
 * Wraps key id on tok (algorithm alg, public key spki as DER). The token
 * must outlive the EVP_PKEY. Free with EVP_PKEY_free.
 */
sn_err sn_hsm_pkey(struct sn_hsm_token *tok, const char *id, enum sn_keyalg alg,
                   const uint8_t *spki, size_t spki_len, EVP_PKEY **out);

#endif
