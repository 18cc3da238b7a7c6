/*
 * casigner: the signatures a CA, the OCSP responder and the TSA make, one
 * typed operation each. Whoever holds the key sees what it signs (a
 * certificate, a CRL, an OCSP answer, a time-stamp token, an Authenticode
 * counter-signature), not a bare digest: a later key keeper can check the
 * object before it signs. Two holders today: a key in the HSM (through
 * hsmpkey) and a software EVP_PKEY (tests, fuzzing). The objects handed
 * in are built by the caller; the signer trusts its caller.
 */
#ifndef SN_CASIGNER_H
#define SN_CASIGNER_H

#include <openssl/ocsp.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "common/err.h"
#include "hsm/hsm.h"

struct sn_ca_signer;

struct sn_ca_signer_ops {
    /* ev: whose key x certifies, for a keeper (sn_ca_sign_cert_ev) */
    sn_err (*sign_cert)(struct sn_ca_signer *s, X509 **x, const EVP_MD *md,
                        const uint8_t *ev, size_t evlen);
    /* a CA's own request to its issuer (the offline root) */
    sn_err (*sign_req)(struct sn_ca_signer *s, X509_REQ *req, const EVP_MD *md);
    sn_err (*sign_crl)(struct sn_ca_signer *s, X509_CRL **crl,
                       const EVP_MD *md);
    /* cert is the signer's own certificate (the responder id) */
    sn_err (*sign_ocsp)(struct sn_ca_signer *s, OCSP_BASICRESP **bs, X509 *cert,
                        const EVP_MD *md, unsigned long flags);
    /* ctx is ready but for its key; req is the DER TimeStampReq */
    sn_err (*sign_tst)(struct sn_ca_signer *s, TS_RESP_CTX *ctx, BIO *req,
                       TS_RESP **out);
    /* Authenticode: SignedData over data by cert, with chain */
    sn_err (*sign_pkcs7)(struct sn_ca_signer *s, X509 *cert,
                         STACK_OF(X509) *chain, BIO *data, int flags,
                         PKCS7 **out);
    void (*free)(struct sn_ca_signer *s);
};

struct sn_ca_signer {
    const struct sn_ca_signer_ops *ops;
    int refs; /* atomic */
};

/* A software key: key is referenced, not copied. */
sn_err sn_ca_signer_soft(EVP_PKEY *key, struct sn_ca_signer **out);
/* Key id on tok (algorithm alg, public key pub); tok outlives it. */
sn_err sn_ca_signer_hsm(struct sn_hsm_token *tok, const char *id,
                        enum sn_keyalg alg, EVP_PKEY *pub,
                        struct sn_ca_signer **out);
/* One more holder of s; sn_ca_signer_free drops one (NULL is fine). */
struct sn_ca_signer *sn_ca_signer_ref(struct sn_ca_signer *s);
void sn_ca_signer_free(struct sn_ca_signer *s);

/* cert, CRL and OCSP answers may come back as new objects (a keeper's
 * signer replaces them with what it signed): *x is then freed. */
sn_err sn_ca_sign_cert(struct sn_ca_signer *s, X509 **x, const EVP_MD *md);
/* The same with the evidence a keeper wants of whose key x certifies: a
 * code signing key's attestation certificate (DER), a TSA key's id. */
sn_err sn_ca_sign_cert_ev(struct sn_ca_signer *s, X509 **x, const EVP_MD *md,
                          const uint8_t *ev, size_t evlen);
sn_err sn_ca_sign_req(struct sn_ca_signer *s, X509_REQ *req, const EVP_MD *md);
sn_err sn_ca_sign_crl(struct sn_ca_signer *s, X509_CRL **crl, const EVP_MD *md);
sn_err sn_ca_sign_ocsp(struct sn_ca_signer *s, OCSP_BASICRESP **bs, X509 *cert,
                       const EVP_MD *md, unsigned long flags);
sn_err sn_ca_sign_tst(struct sn_ca_signer *s, TS_RESP_CTX *ctx, BIO *req,
                      TS_RESP **out);
sn_err sn_ca_sign_pkcs7(struct sn_ca_signer *s, X509 *cert,
                        STACK_OF(X509) *chain, BIO *data, int flags,
                        PKCS7 **out);

#endif
