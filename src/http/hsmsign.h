/*
 * hsmsign: adapts a subscriber key in the HSM (signed by the keeper) to
 * the crypto layer's sn_sign_cb, so CMS and PKCS#10 objects are signed
 * without the key ever leaving the module.
 */
#ifndef SN_HSMSIGN_H
#define SN_HSMSIGN_H

#include "crypto/signer.h"
#include "http/deps.h"

struct sn_hsm_signer {
    const struct sn_deps *deps;
    const struct sn_key *key;
    char sig_sha256[65]; /* the last signature's SHA-256, hex (issue 18) */
};

sn_err sn_hsm_signer_init(const struct sn_deps *deps, const struct sn_key *key,
                          struct sn_hsm_signer *hs);
/* sn_sign_cb: PKCS#1 v1.5 for RSA keys, ECDSA for EC keys. */
sn_err sn_hsm_signer_cb(void *arg, enum sn_digest md, const uint8_t *digest,
                        size_t dlen, uint8_t **sig, size_t *siglen);

#endif
