/*
 * sign: one signing operation of a session, from C_SignInit to the digest
 * the service is asked to sign. It checks the mechanism against the key
 * and its parameters, hashes multi-part input locally (EVP), unpacks
 * DigestInfo for CKM_RSA_PKCS and fits raw ECDSA input to the curve. It
 * never talks to the network: module.c sends what sn_p11_sign_digest()
 * returns.
 */
#ifndef SN_P11_SIGN_H
#define SN_P11_SIGN_H

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include "common/keyalg.h"
#include "pkcs11/reply.h"

#define SN_P11_RAW_MAX 1024

struct sn_p11_signop {
    int active;
    int multi; /* C_SignUpdate was called */
    CK_MECHANISM_TYPE mech;
    enum sn_keyalg alg;
    size_t sig_len;
    char key_id[SN_P11_KEYID_MAX + 1];
    enum sn_digest md; /* hashing and PSS mechanisms */
    EVP_MD_CTX *ctx;   /* hashing mechanisms */
    uint8_t raw[SN_P11_RAW_MAX];
    size_t rawlen;
};

/* What to ask the service for. */
struct sn_p11_signreq {
    enum sn_digest md;
    enum sn_scheme scheme;
    uint8_t digest[64];
    size_t dlen;
};

/* The mechanisms the module offers, for C_GetMechanismList/Info. */
extern const CK_MECHANISM_TYPE sn_p11_mechs[];
extern const size_t sn_p11_nmechs;
CK_RV sn_p11_mech_info(CK_MECHANISM_TYPE m, CK_MECHANISM_INFO *info);

/* Starts op for key k; op must be inactive. */
CK_RV sn_p11_sign_init(struct sn_p11_signop *op, const CK_MECHANISM *m,
                       const struct sn_p11_key *k);
CK_RV sn_p11_sign_update(struct sn_p11_signop *op, const uint8_t *data,
                         size_t len);
/*
 * The request for the input (single-part: data; after updates, data is
 * NULL and the accumulated input or hash is used).
 */
CK_RV sn_p11_sign_digest(struct sn_p11_signop *op, const uint8_t *data,
                         size_t len, struct sn_p11_signreq *req);
void sn_p11_sign_cleanup(struct sn_p11_signop *op);

#endif
