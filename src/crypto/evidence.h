/*
 * evidence: what a report of Suspect Code or key compromise (issue 18)
 * carries as proof, reduced to what Signet recorded when it signed: the
 * SHA-256 of each signature value (audit sig_sha256). The input is
 * untrusted: anyone may report. A PKCS#7/CMS SignedData (as
 * `osslsigncode extract-signature` writes it, a JAR's META-INF RSA or EC
 * signature file, a detached .p7s) is parsed with OpenSSL within fixed
 * bounds; a raw signature value is taken as it is. Pure: no I/O, no
 * globals.
 */
#ifndef SN_EVIDENCE_H
#define SN_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* The largest PKCS#7 accepted, in bytes (a signature with its chain and
 * time-stamps is a few KiB; a nested Authenticode signature doubles it). */
#define SN_EVIDENCE_PKCS7_MAX (64 * 1024)
/* The largest raw signature value (RSA-8192). */
#define SN_EVIDENCE_SIG_MAX 1024
/* Signatures taken from one PKCS#7: top-level signers and Authenticode
 * nested signatures (1.3.6.1.4.1.311.2.4.1), at most this many in all and
 * nested at most SN_EVIDENCE_DEPTH_MAX deep. */
#define SN_EVIDENCE_MAX_SIGS 16
#define SN_EVIDENCE_DEPTH_MAX 3

struct sn_evidence_sig {
    /* SHA-256 of the signature value as found */
    uint8_t sha256[32];
    /* An ECDSA value in another encoding (r||s for DER, DER for r||s), as
     * Signet may have recorded it: has_alt set. */
    uint8_t alt_sha256[32];
    int has_alt;
    /* 0 for a top-level SignerInfo, n for one nested n deep */
    unsigned depth;
    /* The signer's certificate, if the SignedData carries it: SHA-256 of
     * its DER and of its SubjectPublicKeyInfo, its serial (upper-case
     * hex) and its subject and issuer (OpenSSL's one-line form, cut to
     * fit). */
    int has_cert;
    uint8_t cert_sha256[32];
    uint8_t spki_sha256[32];
    char cert_serial[65];
    char cert_subject[256];
    char cert_issuer[256];
};

struct sn_evidence {
    struct sn_evidence_sig sigs[SN_EVIDENCE_MAX_SIGS];
    size_t nsigs;
};

/*
 * Parses der (a DER ContentInfo of SignedData; up to 7 zero bytes of
 * padding after it, as PE attribute certificates are aligned, are
 * allowed) into *out: every SignerInfo's signature value. SN_ERR_INVALID
 * with why (a sentence for the reporter) if it is not such a structure,
 * holds no signer, or exceeds the bounds above.
 */
sn_err sn_evidence_pkcs7(const uint8_t *der, size_t len,
                         struct sn_evidence *out, char *why, size_t whylen);

/* A raw signature value (1..SN_EVIDENCE_SIG_MAX bytes) as one signature. */
sn_err sn_evidence_signature(const uint8_t *sig, size_t len,
                             struct sn_evidence *out);

#endif
