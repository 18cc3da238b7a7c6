/*
 * cms: detached CMS SignedData (RFC 5652) around a content digest, signed
 * through a callback so that the private key stays wherever it lives.
 */
#ifndef SN_CMS_H
#define SN_CMS_H

#include <time.h>

#include <openssl/x509.h>

#include "crypto/signer.h"

/*
 * Builds a DER detached SignedData, eContentType id-data, one SignerInfo
 * (issuerAndSerialNumber of chain[0]) with signed attributes contentType,
 * messageDigest (content_digest) and signingTime (signing_time), carrying
 * every certificate in chain. chain is leaf first; the leaf's public key
 * decides RSA PKCS#1 v1.5 or ECDSA. cb signs the digest (md) of the DER
 * SET OF signed attributes. *der is malloc'd.
 */
sn_err sn_cms_sign_detached(STACK_OF(X509) *chain, enum sn_digest md,
                            const uint8_t *content_digest, size_t dlen,
                            time_t signing_time, sn_sign_cb cb, void *arg,
                            uint8_t **der, size_t *derlen);

#endif
