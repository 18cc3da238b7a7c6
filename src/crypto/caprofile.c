/*
 * caprofile: building CA and code signing certificates. Inputs are the
 * CA's own parameters and requests the policy layer has already checked;
 * extensions are written with OpenSSL's v3 configuration syntax.
 */
#include "crypto/caprofile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/conf.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "crypto/x509util.h"

#define CSBR_POLICY_CS "2.23.140.1.4.1"
#define CSBR_POLICY_EV_CS "2.23.140.1.3"
#define CSBR_POLICY_TS "2.23.140.1.4.2"

static int
add_urls(X509 *cert, X509V3_CTX *ctx, const struct sn_ca_urls *urls)
{
    char buf[600];

    if (urls == NULL)
        return 1;
    if (urls->crl != NULL) {
        if (snprintf(buf, sizeof(buf), "URI:%s", urls->crl) >=
                (int)sizeof(buf) ||
            sn_x509_add_ext(cert, ctx, NID_crl_distribution_points, buf) !=
                SN_OK)
            return 0;
    }
    if (urls->ca_issuers != NULL || urls->ocsp != NULL) {
        int n = snprintf(buf, sizeof(buf), "%s%s%s%s%s",
                         urls->ca_issuers ? "caIssuers;URI:" : "",
                         urls->ca_issuers ? urls->ca_issuers : "",
                         urls->ca_issuers && urls->ocsp ? "," : "",
                         urls->ocsp ? "OCSP;URI:" : "",
                         urls->ocsp ? urls->ocsp : "");
        if (n < 0 || n >= (int)sizeof(buf) ||
            sn_x509_add_ext(cert, ctx, NID_info_access, buf) != SN_OK)
            return 0;
    }
    return 1;
}

static int
set_name(X509_NAME *n, const char *cn, const char *org, const char *country)
{
    return X509_NAME_add_entry_by_txt(n, "C", MBSTRING_UTF8,
                                      (const unsigned char *)country, -1, -1,
                                      0) == 1 &&
           X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8,
                                      (const unsigned char *)org, -1, -1,
                                      0) == 1 &&
           X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                      (const unsigned char *)cn, -1, -1,
                                      0) == 1;
}

/*
 * CSBR 6.3.2 and RFC 5280 4.1.2.5 count the validity period inclusively:
 * a certificate of N days ends one second before N * 86400 s have passed.
 */
static int
set_validity(X509 *x, long days)
{
    return X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
           X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L - 1) != NULL;
}

/*
 * CSBR 7.1.6.3: issuing CAs assert the CA/Browser Forum reserved policy
 * identifiers of what they issue, not anyPolicy. NULL: none (roots and
 * the attestation issuer, which is not part of the CSBR hierarchy).
 */
static const char *
ca_policies(enum sn_ca_kind kind)
{
    switch (kind) {
    case SN_CA_CODESIGNING:
        return CSBR_POLICY_CS "," CSBR_POLICY_EV_CS;
    case SN_CA_TIMESTAMPING:
        return CSBR_POLICY_TS;
    default:
        return NULL;
    }
}

sn_err
sn_caprofile_ca_cert(enum sn_ca_kind kind, EVP_PKEY *pub, const char *cn,
                     const char *org, const char *country, X509 *issuer,
                     const struct sn_ca_urls *urls, int days, X509 **out)
{
    X509 *x = NULL;
    X509_NAME *name = NULL;
    X509V3_CTX ctx;
    const char *bc, *eku = NULL;
    sn_err r = SN_ERR_CRYPTO;

    *out = NULL;
    if ((x = X509_new()) == NULL || (name = X509_NAME_new()) == NULL ||
        X509_set_version(x, 2) != 1 || sn_x509_random_serial(x) != SN_OK ||
        !set_name(name, cn, org, country) ||
        X509_set_subject_name(x, name) != 1 ||
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
                                       : name) != 1 ||
        !set_validity(x, days) || X509_set_pubkey(x, pub) != 1)
        goto out;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    switch (kind) {
    case SN_CA_ROOT:
    case SN_CA_ATT_ROOT:
        bc = "critical,CA:TRUE";
        break;
    case SN_CA_CODESIGNING:
        bc = "critical,CA:TRUE,pathlen:0";
        eku = "codeSigning";
        break;
    case SN_CA_TIMESTAMPING:
        bc = "critical,CA:TRUE,pathlen:0";
        eku = "timeStamping";
        break;
    default:
        bc = "critical,CA:TRUE,pathlen:0";
        break;
    }
    if (sn_x509_add_ext(x, &ctx, NID_basic_constraints, bc) != SN_OK ||
        sn_x509_add_ext(x, &ctx, NID_key_usage,
                        issuer ? "critical,digitalSignature,keyCertSign,cRLSign"
                               : "critical,keyCertSign,cRLSign") != SN_OK ||
        sn_x509_add_ext(x, &ctx, NID_subject_key_identifier, "hash") != SN_OK ||
        sn_x509_add_ext(x, &ctx, NID_authority_key_identifier,
                        "keyid:always") != SN_OK ||
        (eku != NULL &&
         sn_x509_add_ext(x, &ctx, NID_ext_key_usage, eku) != SN_OK) ||
        (issuer != NULL && ca_policies(kind) != NULL &&
         sn_x509_add_ext(x, &ctx, NID_certificate_policies,
                         ca_policies(kind)) != SN_OK) ||
        !add_urls(x, &ctx, urls))
        goto out;
    *out = x;
    x = NULL;
    r = SN_OK;
out:
    X509_NAME_free(name);
    X509_free(x);
    return r;
}

/* The key-protection extension (crypto/keyprot.h), non-critical. */
static int
add_protection(X509 *x, const char *oid, const struct sn_key_protection *kp)
{
    uint8_t *der = NULL;
    size_t len = 0;
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    int ok = 0;

    if (obj == NULL || os == NULL ||
        sn_keyprot_encode(kp, &der, &len) != SN_OK ||
        ASN1_OCTET_STRING_set(os, der, (int)len) != 1 ||
        (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) == NULL ||
        X509_add_ext(x, ext, -1) != 1)
        goto out;
    ok = 1;
out:
    free(der);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return ok;
}

sn_err
sn_cs_cert_build(enum sn_cs_profile profile, X509_REQ *req,
                 const X509_NAME *subject, X509 *issuer,
                 const struct sn_oids *oids, const struct sn_ca_urls *urls,
                 int days, const struct sn_key_protection *kp, X509 **out)
{
    X509 *x = NULL;
    X509V3_CTX ctx;
    char policies[256];
    sn_err r = SN_ERR_CRYPTO;

    *out = NULL;
    if (snprintf(policies, sizeof(policies), "%s,%s%s",
                 profile == SN_PROFILE_EV_CS ? CSBR_POLICY_EV_CS
                                             : CSBR_POLICY_CS,
                 oids->ca_policy, kp->listed ? "" : "," SN_OID_CABF_TEST) >=
        (int)sizeof(policies))
        return SN_ERR_INVALID;
    if ((x = X509_new()) == NULL || X509_set_version(x, 2) != 1 ||
        sn_x509_random_serial(x) != SN_OK ||
        X509_set_subject_name(x, subject) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(issuer)) != 1 ||
        !set_validity(x, days) ||
        X509_set_pubkey(x, X509_REQ_get0_pubkey(req)) != 1)
        goto out;
    X509V3_set_ctx(&ctx, issuer, x, req, NULL, 0);
    if (sn_x509_add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") !=
            SN_OK ||
        sn_x509_add_ext(x, &ctx, NID_ext_key_usage, "codeSigning") != SN_OK ||
        sn_x509_add_ext(x, &ctx, NID_certificate_policies, policies) != SN_OK ||
        sn_x509_add_ext(x, &ctx, NID_subject_key_identifier, "hash") != SN_OK ||
        sn_x509_add_ext(x, &ctx, NID_authority_key_identifier,
                        "keyid:always") != SN_OK ||
        !add_urls(x, &ctx, urls) ||
        !add_protection(x, oids->key_protection, kp))
        goto out;
    *out = x;
    x = NULL;
    r = SN_OK;
out:
    X509_free(x);
    return r;
}

sn_err
sn_tsa_cert_build(EVP_PKEY *pub, X509 *issuer, const char *cn, const char *org,
                  const char *country, const char *policy_oid,
                  const struct sn_ca_urls *urls, int days, X509 **out)
{
    X509 *x = NULL;
    X509_NAME *name = NULL;
    X509V3_CTX ctx;
    char policies[256];
    sn_err r = SN_ERR_CRYPTO;

    *out = NULL;
    if (snprintf(policies, sizeof(policies), CSBR_POLICY_TS ",%s",
                 policy_oid) >= (int)sizeof(policies))
        return SN_ERR_INVALID;
    if ((x = X509_new()) == NULL || (name = X509_NAME_new()) == NULL ||
        X509_set_version(x, 2) != 1 || sn_x509_random_serial(x) != SN_OK ||
        !set_name(name, cn, org, country) ||
        X509_set_subject_name(x, name) != 1 ||
        X509_set_issuer_name(x, X509_get_subject_name(issuer)) != 1 ||
        !set_validity(x, days) || X509_set_pubkey(x, pub) != 1)
        goto out;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    if (sn_x509_add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") !=
            SN_OK ||
        sn_x509_add_ext(x, &ctx, NID_ext_key_usage, "critical,timeStamping") !=
            SN_OK ||
        sn_x509_add_ext(x, &ctx, NID_certificate_policies, policies) != SN_OK ||
        sn_x509_add_ext(x, &ctx, NID_subject_key_identifier, "hash") != SN_OK ||
        sn_x509_add_ext(x, &ctx, NID_authority_key_identifier,
                        "keyid:always") != SN_OK ||
        !add_urls(x, &ctx, urls))
        goto out;
    *out = x;
    x = NULL;
    r = SN_OK;
out:
    X509_NAME_free(name);
    X509_free(x);
    return r;
}
