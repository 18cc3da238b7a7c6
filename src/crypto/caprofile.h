/*
 * caprofile: the certificate profiles of Signet's CA, built unsigned with
 * OpenSSL; the caller signs with the CA's HSM-backed EVP_PKEY. Profiles
 * follow the CA/B Forum Code Signing BRs, section 7.1.2.
 */
#ifndef SN_CAPROFILE_H
#define SN_CAPROFILE_H

#include <time.h>

#include <openssl/x509.h>

#include "common/err.h"
#include "common/keyinfo.h"
#include "common/oids.h"
#include "crypto/keyprot.h"

enum sn_ca_kind {
    SN_CA_ROOT,         /* self-signed root */
    SN_CA_CODESIGNING,  /* issuing CA: EKU codeSigning */
    SN_CA_TIMESTAMPING, /* issuing CA: EKU timeStamping */
    SN_CA_ATT_ROOT,     /* attestation root */
    SN_CA_ATT_ISSUER    /* attestation issuing CA */
};

struct sn_ca_urls {
    const char *crl;        /* CDP of the issuer's CRL, or NULL */
    const char *ca_issuers; /* AIA caIssuers, or NULL */
    const char *ocsp;       /* AIA OCSP, or NULL */
};

/*
 * A CA certificate of kind for pub with subject CN=cn, O=org, C=country.
 * issuer == NULL makes it self-signed. Validity starts now, lasts days.
 */
sn_err sn_caprofile_ca_cert(enum sn_ca_kind kind, EVP_PKEY *pub, const char *cn,
                            const char *org, const char *country, X509 *issuer,
                            const struct sn_ca_urls *urls, int days,
                            X509 **out);

enum sn_cs_profile { SN_PROFILE_CS, SN_PROFILE_EV_CS };

/*
 * A code signing certificate (CSBR 7.1.2.3): the subject the CA wrote
 * (subject.h) and the request's key, keyUsage digitalSignature (critical), EKU
 * codeSigning, certificatePolicies {2.23.140.1.4.1 or 2.23.140.1.3 for EV,
 * oids->ca_policy}, CDP, AIA (caIssuers, OCSP), AKI, SKI, and the
 * non-critical key-protection extension (oids->key_protection) from kp.
 * A key on a module that is not listed as certified makes a test
 * certificate: the CA/B Forum test policy 2.23.140.2.1 is added.
 */
sn_err sn_cs_cert_build(enum sn_cs_profile profile, X509_REQ *req,
                        const X509_NAME *subject, X509 *issuer,
                        const struct sn_oids *oids,
                        const struct sn_ca_urls *urls, int days,
                        const struct sn_key_protection *kp, X509 **out);

/*
 * A TSA certificate (CSBR 7.1.2.x, RFC 3161 2.3): keyUsage digitalSignature
 * (critical), extendedKeyUsage timeStamping only and critical,
 * certificatePolicies {2.23.140.1.4.2, policy_oid}, CDP and AIA of the
 * timestamping CA, AKI, SKI. Subject CN=cn, O=org, C=country.
 */
sn_err sn_tsa_cert_build(EVP_PKEY *pub, X509 *issuer, const char *cn,
                         const char *org, const char *country,
                         const char *policy_oid, const struct sn_ca_urls *urls,
                         int days, X509 **out);

#endif
