/*
 * attest: Signet's key attestation evidence. An attestation certificate is
 * an X.509 certificate whose subject public key is the attested key, issued
 * by the service's attestation issuer, carrying one non-critical extension
 * (oids->key_attestation, ARC.1.1) with what the module reported at
 * generation:
 *
 *   SignetKeyAttestation ::= SEQUENCE {
 *     version          INTEGER (1),
 *     subscriberId     UTF8String,
 *     keyId            UTF8String,
 *     hsm              SEQUENCE { manufacturer UTF8String, model UTF8String,
 *                                 serial UTF8String, tokenLabel UTF8String },
 *     protection       SEQUENCE { local BOOLEAN, neverExtractable BOOLEAN,
 *                                 alwaysSensitive BOOLEAN,
 *                                 extractable BOOLEAN, sensitive BOOLEAN },
 *     generationTime   GeneralizedTime }
 *
 * In a PKCS#10 request the evidence travels in the attribute
 * id-aa-attestation (1.2.840.113549.1.9.16.2.59) as an AttestationBundle
 * (draft-ietf-lamps-csr-attestation):
 *
 *   AttestationBundle ::= SEQUENCE {
 *     attestations SEQUENCE SIZE (1..MAX) OF AttestationStatement,
 *     certs        SEQUENCE SIZE (1..MAX) OF Certificate OPTIONAL }
 *   AttestationStatement ::= SEQUENCE {
 *     type  OBJECT IDENTIFIER,        -- oids->attestation_stmt
 *     stmt  ANY DEFINED BY type }     -- the attestation Certificate
 *
 * with the attestation issuer's certificate in certs. The OIDs are under the
 * operator's arc (common/oids.h), passed in by the caller. Input parsed here
 * may be untrusted (CSRs and bundles from clients); it is bounded by callers.
 */
#ifndef SN_ATTEST_H
#define SN_ATTEST_H

#include <time.h>

#include <openssl/x509.h>

#include "common/err.h"
#include "common/keyinfo.h"
#include "common/oids.h"
#include "crypto/signer.h"

struct sn_attestation {
    char subscriber[65];
    char key_id[65];
    struct sn_hsm_info hsm;
    struct sn_key_facts facts;
    time_t generated_at;
};

/* DER of the SignetKeyAttestation extension value. *der is malloc'd. */
sn_err sn_attest_ext_encode(const struct sn_attestation *a, uint8_t **der,
                            size_t *len);
/* Parses the extension value (strict DER, version 1). */
sn_err sn_attest_ext_decode(const uint8_t *der, size_t len,
                            struct sn_attestation *out);

/*
 * Builds (unsigned) the attestation certificate for pub: random positive
 * 128-bit serial, subject "CN=Signet attested key <key_id>", issuer taken
 * from issuer_cert, notBefore = generated_at, notAfter = +20 years,
 * basicConstraints CA:FALSE, keyUsage digitalSignature, SKI, AKI, and the
 * attestation extension. The caller signs it (X509_sign with the issuer's
 * HSM-backed EVP_PKEY).
 */
sn_err sn_attest_cert_build(EVP_PKEY *pub, X509 *issuer_cert,
                            const struct sn_attestation *a,
                            const struct sn_oids *oids, X509 **out);

/* AttestationBundle DER for cert, with issuer in certs. */
sn_err sn_attest_bundle_encode(X509 *cert, X509 *issuer,
                               const struct sn_oids *oids, uint8_t **der,
                               size_t *len);
/* Adds the bundle as the id-aa-attestation attribute of req (before the
 * request is signed). */
sn_err sn_attest_csr_add(X509_REQ *req, X509 *cert, X509 *issuer,
                         const struct sn_oids *oids);
/*
 * As sn_csr_build (x509util.h); when att_cert is not NULL the request also
 * carries the key attestation: att_cert, which must certify pub
 * (SN_ERR_MISMATCH if not), and att_issuer (may be NULL) in the
 * id-aa-attestation attribute, added before the request is signed; the
 * statement type is under oids' arc (required with att_cert). It lives
 * here, not in x509util, so that x509util does not depend on attest.
 */
sn_err sn_csr_build_ex(EVP_PKEY *pub, const X509_NAME *subject,
                       enum sn_digest md, sn_sign_cb cb, void *arg,
                       X509 *att_cert, X509 *att_issuer,
                       const struct sn_oids *oids, char **pem);

/*
 * Verification, for CAs and the CLI. Extracts the attestation certificate
 * and the issuer(s) from a CSR's id-aa-attestation attribute, or from a
 * PEM bundle (attestation certificate first, then issuer). Checks:
 *   - the chain attestation cert -> issuer -> one of roots (X509_verify_cert
 *     with only roots as trust anchors, at the current time);
 *   - the attestation extension is present and decodes: found under
 *     oids' arc or, for attestations made before the operator set an arc,
 *     under the default arc;
 *   - for a CSR: the CSR's signature is valid and its public key is the
 *     attested key;
 *   - the facts: local, never extractable, always sensitive, not
 *     extractable, sensitive.
 * On failure returns non-SN_OK and writes the reason to why (one line).
 * On success fills *out.
 */
sn_err sn_attest_verify_csr(X509_REQ *req, STACK_OF(X509) *roots,
                            const struct sn_oids *oids,
                            struct sn_attestation *out, char *why,
                            size_t whylen);
sn_err sn_attest_verify_bundle(STACK_OF(X509) *bundle, STACK_OF(X509) *roots,
                               const struct sn_oids *oids,
                               struct sn_attestation *out, char *why,
                               size_t whylen);

#endif
