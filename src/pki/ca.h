/*
 * ca: Signet's certification authorities and attestation issuer. The keys
 * live in the service's own HSM token (the root's too in a test hierarchy;
 * a production root stays in the offline ceremony's token); certificates
 * are files under HOME/ca/. Issues code signing certificates, attestation
 * certificates, CRLs and OCSP responses, all signed inside the HSM.
 */
#ifndef SN_CA_H
#define SN_CA_H

#include <pthread.h>
#include <time.h>

#include <openssl/x509.h>

#include "crypto/attest.h"
#include "crypto/caprofile.h"
#include "pki/keys.h"
#include "hsm/hsm.h"
#include "store/cache.h"

#define SN_CA_COUNT 5

struct sn_store;
struct sn_ca_signer;

struct sn_ca {
    X509 *cert[SN_CA_COUNT];                  /* by enum sn_ca_kind */
    struct sn_ca_signer *signer[SN_CA_COUNT]; /* keys, as typed signers */
    int root_offline;          /* no root key here: key[ROOT] is NULL */
    char *root_crl;            /* offline root: its CRL, from the ceremony */
    STACK_OF(X509) *att_roots; /* trusted attestation roots */
    pthread_mutex_t crl_lock;
    /* Revocations: a decision read from the records and the change it
     * makes are not split by another revocation. */
    pthread_mutex_t revoke_lock;
    char *base_url;
    struct sn_cache ocsp;         /* answers to requests without a nonce */
    struct sn_cache ocsp_unknown; /* the same, about serials not issued */
    struct sn_oids oids;          /* private OIDs under the home's oid.arc */
    unsigned crl_reissue;         /* seconds: ca.crl_reissue_seconds */
};

/* Short name of a CA: "root", "codesigning", "timestamping",
 * "attest-root", "attest-issuer". */
const char *sn_ca_name(enum sn_ca_kind kind);
int sn_ca_from_name(const char *name, enum sn_ca_kind *out);
/* The CA's key: its CKA_ID on the service token, algorithm, digest. */
const char *sn_ca_key_id(enum sn_ca_kind kind);
enum sn_keyalg sn_ca_key_alg(enum sn_ca_kind kind);
const EVP_MD *sn_ca_md(enum sn_ca_kind kind);

/*
 * signetd init: a test hierarchy (every name says TEST, the root key is
 * online): generates the five keys on tok, writes HOME/ca/.
 */
sn_err sn_ca_create(struct sn_hsm_token *tok, const char *home, const char *org,
                    const char *country, const char *base_url);

/*
 * The offline root (docs/ceremony.md), in three steps:
 * sn_ca_request (service token): generates the issuing CA keys and writes
 * their requests DIR/codesigning.csr and DIR/timestamping.csr.
 * sn_ca_ceremony (root token, HOME is the ceremony's home): creates the
 * root key and HOME/ca/root.pem unless they exist, certifies each request
 * found in DIR as DIR/<name>.pem, writes DIR/root.pem and a new root CRL
 * DIR/root.crl; every act is a line in HOME/ceremony.log.
 * sn_ca_install (service token): checks DIR (chain, keys in tok, no root
 * key in tok, timestamping CA at most 72 months), copies the certificates
 * and the root CRL to HOME/ca/ and creates the attestation root and
 * issuer, which stay online.
 */
sn_err sn_ca_request(struct sn_hsm_token *tok, const char *dir, const char *org,
                     const char *country);
sn_err sn_ca_ceremony(struct sn_hsm_token *tok, const char *home,
                      const char *dir, const char *org, const char *country,
                      const char *base_url);
sn_err sn_ca_install(struct sn_hsm_token *tok, const char *home,
                     const char *dir, const char *org, const char *country,
                     const char *base_url);
/* signetd serve: loads HOME/ca/ and binds the keys keys holds; a root
 * key not held makes root_offline (its CRL is HOME/ca/root.crl). */
sn_err sn_ca_load(struct sn_ca *ca, const struct sn_ca_keys *keys,
                  const char *home, const char *base_url,
                  char *const *extra_roots, size_t nextra);
/* What sn_ca_load does before it reads anything: locks, the OCSP cache,
 * base_url. The caller then sets cert[] and signer[] (tests: software
 * signers); sn_ca_cleanup frees them. */
sn_err sn_ca_init(struct sn_ca *ca, const char *base_url);
void sn_ca_cleanup(struct sn_ca *ca);
/* SN_OK if tok holds the root CA's key (a test hierarchy), SN_ERR_NOT_FOUND
 * if not (the root is offline), or why it cannot tell. */
sn_err sn_ca_root_key(struct sn_hsm_token *tok);

/* Every CA certificate as one PEM bundle; *pem malloc'd. */
sn_err sn_ca_bundle(struct sn_ca *ca, char **pem);
/* DER of one CA certificate; *der malloc'd. */
sn_err sn_ca_cert_der(struct sn_ca *ca, enum sn_ca_kind kind, uint8_t **der,
                      size_t *len);

/* The code signing CA signs leaf, a certificate sn_cs_cert_build made. */
/* att_pem: the key's attestation certificate, which the keeper wants to
 * see before it certifies the key (NULL: none). */
sn_err sn_ca_sign_codesigning(struct sn_ca *ca, X509 **leaf,
                              const char *att_pem);
/* An attestation certificate for a newly generated key (PEM). */
sn_err sn_ca_attest(struct sn_ca *ca, const uint8_t *spki, size_t spki_len,
                    const struct sn_attestation *a, char **pem);
/* An attestation certificate the keeper made (DER): it must be signed by
 * the attestation issuer and certify spki; *pem is malloc'd. */
sn_err sn_ca_attestation_adopt(struct sn_ca *ca, const uint8_t *der, size_t len,
                               const uint8_t *spki, size_t spki_len,
                               char **pem);
/* Attestation certificate + issuer parsed from the stored PEM. */
sn_err sn_ca_attestation_certs(struct sn_ca *ca, const char *att_pem,
                               X509 **cert);

/* Current CRL of kind (root, codesigning, timestamping); regenerated when
 * older than ca.crl_reissue_seconds (a day) or when force is set. */
sn_err sn_ca_crl(struct sn_ca *ca, struct sn_store *st, enum sn_ca_kind kind,
                 int force, uint8_t **der, size_t *len);
/* Records the public key of every certificate whose key is not recorded
 * yet, read from the certificate itself: what a key compromise revocation
 * looks up (sn_store_cert_by_spki). */
sn_err sn_ca_index_spki(struct sn_store *st);
/*
 * The CRL timer: reissues every CRL that has grown older than
 * ca.crl_reissue_seconds, whether or not anyone fetched it (CSBR 4.9.7:
 * at least every 7 days). Each is one HSM signature, made under the CRL
 * lock only. Returns how many seconds the caller may wait before calling
 * again.
 */
unsigned sn_ca_crl_timer(struct sn_ca *ca, struct sn_store *st);
/* After a revocation (or a revocation date moved): OCSP answers are made
 * anew from the records. */
void sn_ca_ocsp_forget(struct sn_ca *ca);
/* What HTTP caching headers for an OCSP answer (RFC 5019 6.2) need. */
struct sn_ocsp_meta {
    int cacheable;      /* a successful answer to a request without nonce */
    time_t this_update; /* of every SingleResponse in it */
    time_t next_update;
    time_t fresh_until; /* the responder makes it anew from then on */
};
/*
 * An OCSP response (DER) to a DER request; never "good" for unknown. A
 * request that is not strict DER, has a nonce of 0 or more than 32
 * octets, or an unknown critical extension is answered malformedRequest.
 * meta (may be NULL) is zeroed, then filled for a successful answer.
 */
sn_err sn_ca_ocsp(struct sn_ca *ca, struct sn_store *st, const uint8_t *req,
                  size_t len, uint8_t **der, size_t *dlen,
                  struct sn_ocsp_meta *meta);

#endif
