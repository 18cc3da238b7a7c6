/*
 * attest: Signet's key attestation evidence. An attestation certificate is
 * an X.509 certificate whose subject public key is the attested key, issued
 * by the service's attestation issuer, carrying one non-critical extension
 * (SN_OID_KEY_ATTESTATION) with what the module reported at generation:
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
 *     type  OBJECT IDENTIFIER,        -- SN_OID_ATTESTATION_CERT_STMT
 *     stmt  ANY DEFINED BY type }     -- the attestation Certificate
 *
 * with the attestation issuer's certificate in certs. Input parsed here may
 * be untrusted (CSRs and bundles from clients); it is bounded by callers.
 */
#ifndef SN_ATTEST_H
#define SN_ATTEST_H

#include <time.h>

#include <openssl/x509.h>

#include "common/err.h"
#include "common/keyinfo.h"

/* Signet's arc: 2.25.119564763254642916656305459667247640959 */
#define SN_OID_ARC "2.25.119564763254642916656305459667247640959"
#define SN_OID_KEY_ATTESTATION SN_OID_ARC ".1.1"
#define SN_OID_ATTESTATION_CERT_STMT SN_OID_ARC ".1.2"
#define SN_OID_KEY_PROTECTION SN_OID_ARC ".2.1"
#define SN_OID_CA_POLICY SN_OID_ARC ".3.1"
#define SN_OID_ID_AA_ATTESTATION "1.2.840.113549.1.9.16.2.59"

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
                            const struct sn_attestation *a, X509 **out);

/* AttestationBundle DER for cert, with issuer in certs. */
sn_err sn_attest_bundle_encode(X509 *cert, X509 *issuer, uint8_t **der,
                               size_t *len);
/* Adds the bundle as the id-aa-attestation attribute of req (before the
 * request is signed). */
sn_err sn_attest_csr_add(X509_REQ *req, X509 *cert, X509 *issuer);

/*
 * Verification, for CAs and the CLI. Extracts the attestation certificate
 * and the issuer(s) from a CSR's id-aa-attestation attribute, or from a
 * PEM bundle (attestation certificate first, then issuer). Checks:
 *   - the chain attestation cert -> issuer -> one of roots (X509_verify_cert
 *     with only roots as trust anchors, at the current time);
 *   - the attestation extension is present and decodes;
 *   - for a CSR: the CSR's signature is valid and its public key is the
 *     attested key;
 *   - the facts: local, never extractable, always sensitive, not
 *     extractable, sensitive.
 * On failure returns non-SN_OK and writes the reason to why (one line).
 * On success fills *out.
 */
sn_err sn_attest_verify_csr(X509_REQ *req, STACK_OF(X509) *roots,
                            struct sn_attestation *out, char *why,
                            size_t whylen);
sn_err sn_attest_verify_bundle(STACK_OF(X509) *bundle, STACK_OF(X509) *roots,
                               struct sn_attestation *out, char *why,
                               size_t whylen);

#endif
