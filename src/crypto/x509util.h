/*
 * x509util: parsing and building the X.509 objects Signet exchanges:
 * public keys, certificate chains, subject names and PKCS#10 requests.
 * Input here may be untrusted (PEM bodies from clients); sizes are bounded
 * by the caller's body limit.
 */
#ifndef SN_X509UTIL_H
#define SN_X509UTIL_H

#include <openssl/evp.h>
#include <time.h>

#include <openssl/x509.h>

#include "common/oids.h"
#include "crypto/signer.h"

/*
 * Gives x a random positive serial of 16 octets (RFC 5280 4.1.2.2: at most
 * 20; CA/B Forum: at least 64 bits from a CSPRNG).
 */
sn_err sn_x509_random_serial(X509 *x);
/*
 * Adds the extension nid with value in OpenSSL's v3 configuration syntax
 * ("critical,CA:TRUE"), as ctx (X509V3_set_ctx) resolves it.
 */
sn_err sn_x509_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value);
/* notBefore and notAfter of x as seconds since the epoch (UTC). */
sn_err sn_x509_validity(const X509 *x, time_t *not_before, time_t *not_after);
/*
 * How many whole days, at most days, a certificate made from now (or a
 * second later) may last and still end within issuer's validity; 0 if
 * not one (or issuer's notAfter cannot be read).
 */
int sn_x509_days_within(const X509 *issuer, time_t now, int days);
/*
 * The SubjectPublicKeyInfo (DER, as the certificate encodes it) of the
 * DER certificate der; *spki is malloc'd. The certificate must be
 * exactly len octets.
 */
sn_err sn_x509_spki(const uint8_t *der, size_t len, uint8_t **spki,
                    size_t *spki_len);

/*
 * Strict DER (X.690 10): 1 if the len bytes at der are exactly one object
 * as OpenSSL writes it back, else 0. end is where the parser (d2i_...)
 * stopped; re and relen are the parsed object's re-encoding (i2d_...;
 * relen <= 0 if that failed). BER that the parsers tolerate (long-form or
 * indefinite lengths, a DEFAULT value written out, trailing bytes) is
 * refused. Parts OpenSSL keeps as received (names, certificates) are not
 * re-encoded and so are only as strict as its parser.
 */
int sn_der_exact(const uint8_t *der, size_t len, const uint8_t *end,
                 const unsigned char *re, int relen);

/* SubjectPublicKeyInfo DER <-> EVP_PKEY (public part only). */
sn_err sn_pubkey_from_der(const uint8_t *der, size_t len, EVP_PKEY **out);
/* "-----BEGIN PUBLIC KEY-----..." ; *pem is malloc'd, NUL-terminated. */
sn_err sn_pubkey_to_pem(EVP_PKEY *pkey, char **pem);

/*
 * Parses a PEM certificate chain (leaf first, at least one certificate,
 * nothing but CERTIFICATE blocks). *out owns the certificates.
 */
sn_err sn_chain_from_pem(const char *pem, size_t len, STACK_OF(X509) **out);
/* Concatenated PEM of every certificate; *pem is malloc'd. */
sn_err sn_chain_to_pem(STACK_OF(X509) *chain, char **pem);
/* SN_OK if the leaf's public key equals pkey, SN_ERR_MISMATCH if not. */
sn_err sn_chain_matches_key(STACK_OF(X509) *chain, EVP_PKEY *pkey);

/*
 * Adds one RDN to name. field is one of CN, O, OU, C, ST, L, serialNumber,
 * emailAddress, street, postalCode, businessCategory, jurisdictionC,
 * jurisdictionST, jurisdictionL; value is UTF-8, 1..64 bytes (C: exactly
 * two letters). Anything else is SN_ERR_INVALID.
 */
sn_err sn_name_add(X509_NAME *name, const char *field, const char *value);
/* Parses "/CN=x/O=y/C=US" (backslash escapes '/') via sn_name_add. */
sn_err sn_name_from_slash(const char *s, X509_NAME **out);

/*
 * Builds a PKCS#10 request for pub with subject, signed through cb with
 * md (RSA PKCS#1 v1.5 or ECDSA by pub's type). *pem is malloc'd.
 */
sn_err sn_csr_build(EVP_PKEY *pub, const X509_NAME *subject, enum sn_digest md,
                    sn_sign_cb cb, void *arg, char **pem);
/*
 * Adds to a request before it is signed (attest.c adds the key's
 * attestation this way); pub is the request's key.
 */
typedef sn_err (*sn_csr_prepare_cb)(X509_REQ *req, EVP_PKEY *pub, void *arg);
/* As sn_csr_build; prepare (may be NULL) is called before signing. */
sn_err sn_csr_build_with(EVP_PKEY *pub, const X509_NAME *subject,
                         enum sn_digest md, sn_sign_cb cb, void *arg,
                         sn_csr_prepare_cb prepare, void *prepare_arg,
                         char **pem);

#endif
