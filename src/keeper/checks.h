/*
 * checks: what the keeper signs with the CA and TSA keys, and why. The
 * front end builds every CA object with OpenSSL and a placeholder key
 * (crypto/placeholder.h) and sends its whole DER; that DER is untrusted
 * here. Each call parses it (one object, strict DER, nothing after it),
 * checks its content against the profile of the key asked to sign and the
 * keeper's own clock, and only then signs the object it parsed with the
 * key it holds (an EVP_PKEY whose signature is made in the HSM). Nothing
 * of the placeholder's signature survives: the signature algorithm fields
 * are set afresh and the signed part is re-encoded from what was checked.
 *
 * Return values, for every call: SN_OK with the signed DER in *out
 * (malloc'd; free()); SN_ERR_INVALID the input is not one well-formed
 * object; SN_ERR_STATE the object is well formed but the profile or the
 * policy refuses it; SN_ERR_HSM the key failed to sign; SN_ERR_CRYPTO or
 * SN_ERR_NOMEM the result could not be encoded. On any failure *out is
 * NULL, *outlen 0, and why (may be NULL) holds a short reason for the log:
 * a refused call produces no output.
 *
 * The checks, in short (checks.c says why for each):
 *   certificates   v3; serial positive, 64..160 bits; issuer = the CA's
 *                  subject, subject not; authorityKeyIdentifier = the CA's
 *                  subjectKeyIdentifier; not a CA; keyUsage without
 *                  keyCertSign and cRLSign; no anyExtendedKeyUsage or
 *                  OCSPSigning; no unknown critical extension; a key not
 *                  the CA's; validity inside the CA's, starting within a
 *                  day of now. Then by profile:
 *                    SN_KC_NONE          refused (a root certifies only in
 *                                        a ceremony);
 *                    SN_KC_CODESIGNING   EKU with codeSigning, without
 *                                        serverAuth or timeStamping; at
 *                                        most 460 days (CSBR 6.3.2); an
 *                                        RSA >= 3072 or P-256/384/521 key;
 *                    SN_KC_TIMESTAMPING  EKU critical and exactly
 *                                        timeStamping; key as above;
 *                    SN_KC_ATTESTATION   nothing more.
 *   CRLs           v2; issuer = the CA's subject; AKI = the CA's SKI; a
 *                  CRL number; lastUpdate within a day of now; nextUpdate
 *                  after it, at most 10 days on (365 for SN_KC_NONE, a
 *                  root's); no other CRL extensions; entries with at most
 *                  reasonCode (never certificateHold or removeFromCRL) and
 *                  invalidityDate. Any profile may sign CRLs.
 *   OCSP           a BasicOCSPResponse; producedAt within a day of now;
 *                  1..16 SingleResponses, each CertID naming this CA under
 *                  its own hash algorithm, thisUpdate within a day of now,
 *                  nextUpdate at most 10 days on, no extensions, never
 *                  certificateHold; no certificates; response extensions:
 *                  at most one nonce of 1..32 octets (RFC 8954). The
 *                  SingleResponses and the nonce go into a new response,
 *                  signed as the CA signs its own answers: responderID
 *                  byKey, no certificates (OCSP_RESPID_KEY |
 *                  OCSP_NOCERTS), producedAt from the keeper's clock.
 *   TSTInfo        v1; policy one of tsa->policies; serial positive, at
 *                  most 160 bits; genTime within tsa->window seconds of
 *                  now; imprint SHA-256/384/512 of the right length;
 *                  accuracy at most the window; no ordering, no tsa name
 *                  other than the TSA's, no extensions; a nonce of at most
 *                  32 octets; the TSA certificate valid then and its key
 *                  at most 15 months past notBefore (CSBR 6.3.2).
 */
#ifndef SN_KEEPER_CHECKS_H
#define SN_KEEPER_CHECKS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/err.h"

/* What an issuing key may certify. */
enum sn_kc_profile {
    SN_KC_NONE,         /* no certificates (a root: only in a ceremony) */
    SN_KC_CODESIGNING,  /* code signing certificates (CSBR 7.1.2.3) */
    SN_KC_TIMESTAMPING, /* TSA certificates */
    SN_KC_ATTESTATION   /* key attestation certificates (crypto/attest.h) */
};

/* One issuing key the keeper holds; nothing here is owned. */
struct sn_kc_ca {
    enum sn_kc_profile profile;
    X509 *cert;       /* its own certificate */
    EVP_PKEY *key;    /* signs (in the HSM) */
    const EVP_MD *md; /* the digest it signs with */
};

/* The TSA's key; nothing here is owned. */
struct sn_kc_tsa {
    X509 *cert;
    STACK_OF(X509) *chain; /* issuer(s) put in each token; may be NULL */
    EVP_PKEY *key;
    const EVP_MD *md; /* the token's digest */
    /*
     * The TSTInfo policies accepted, comma-separated dotted OIDs. A list:
     * Signet's TSA answers under the CSBR policy by default and under the
     * operator's (and an optional extra) one on request.
     */
    const char *policies;
    int window; /* seconds genTime may be off the keeper's clock */
};

/*
 * Each: parses der (exactly len bytes), checks it against ca's profile at
 * now (the keeper's clock), signs it and returns the signed DER.
 */
sn_err sn_kc_sign_cert(const struct sn_kc_ca *ca, const uint8_t *der,
                       size_t len, time_t now, uint8_t **out, size_t *outlen,
                       char *why, size_t whylen);
sn_err sn_kc_sign_crl(const struct sn_kc_ca *ca, const uint8_t *der, size_t len,
                      time_t now, uint8_t **out, size_t *outlen, char *why,
                      size_t whylen);
sn_err sn_kc_sign_ocsp(const struct sn_kc_ca *ca, const uint8_t *der,
                       size_t len, time_t now, uint8_t **out, size_t *outlen,
                       char *why, size_t whylen);

/*
 * An RFC 3161 time-stamp token for the TSTInfo DER the front end made:
 * the shape OpenSSL's TS_RESP_create_response gives Signet's TSA (a
 * PKCS#7 SignedData, version 3, eContentType id-smime-ct-TSTInfo, the
 * TSTInfo as eContent, one SignerInfo by issuerAndSerialNumber of
 * tsa->cert with tsa->md, signed attributes contentType, an ESS
 * signingCertificateV2 with one SHA-256 ESSCertIDv2 of tsa->cert,
 * signingTime (now) and messageDigest). The certificates field carries
 * tsa->cert and tsa->chain; it is outside the signature, so a front end
 * answering a request without certReq removes it (RFC 3161 2.4.1). *token
 * is the ContentInfo DER.
 */
sn_err sn_kc_sign_tst(const struct sn_kc_tsa *tsa, const uint8_t *tstinfo,
                      size_t len, time_t now, uint8_t **token, size_t *tlen,
                      char *why, size_t whylen);

/*
 * The legacy Authenticode counter-signature: a PKCS#7 SignedData over
 * data (1..65536 bytes, opaque signature bytes) by tsa->cert with
 * tsa->chain and signingTime, as PKCS7_sign(PKCS7_BINARY |
 * PKCS7_NOSMIMECAP) makes it. The TSA's certificate must be valid and its
 * key within its 15 months now (the system clock: PKCS7_sign's
 * signingTime is read from it too).
 */
sn_err sn_kc_sign_ts_pkcs7(const struct sn_kc_tsa *tsa, const uint8_t *data,
                           size_t len, uint8_t **out, size_t *outlen, char *why,
                           size_t whylen);

#endif
