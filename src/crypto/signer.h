/*
 * signer: the one shape in which a private key is used by the pure crypto
 * layer. The key itself is never here: a callback asks whoever holds it
 * (the HSM in signetd, the signing API in the CLI) to sign a digest.
 */
#ifndef SN_SIGNER_H
#define SN_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/keyalg.h"

/*
 * Signs digest (exactly sn_digest_len(md) bytes) with RSA PKCS#1 v1.5 or
 * ECDSA, whichever the key is. On success *sig is malloc'd: the raw RSA
 * signature or the DER ECDSA-Sig-Value.
 */
typedef sn_err (*sn_sign_cb)(void *arg, enum sn_digest md,
                             const uint8_t *digest, size_t dlen, uint8_t **sig,
                             size_t *siglen);

#endif
