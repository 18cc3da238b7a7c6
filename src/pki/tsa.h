/*
 * tsa: the RFC 3161 time-stamp authority with the CSBR code signing policy
 * (2.23.140.1.4.2), and legacy Authenticode time-stamps. The TSA key lives
 * in the service's HSM token; its certificate comes from the timestamping
 * CA. Serial numbers are unique forever: the high bits are a boot number
 * persisted before the first token of each run.
 */
#ifndef SN_TSA_H
#define SN_TSA_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "common/err.h"
#include "pki/keys.h"

struct sn_tsa_record;
struct sn_store;
struct sn_ca_signer;

/* What the TSA takes from the configuration (strings borrowed: they
 * outlive the TSA). */
struct sn_tsa_settings {
    const char *home;          /* HOME/ca/tsa.pem */
    const char *key_algorithm; /* of a rotated key */
    const char *org, *country, *base_url;
    const char *policy_oid; /* an extra policy, or NULL */
    const char *ca_policy;  /* Signet CA policy, ARC.3.1 (the CA's oids) */
    unsigned accuracy_ms;
};

struct sn_tsa {
    pthread_mutex_t lock;      /* key/cert swap and clock state */
    pthread_rwlock_t use_lock; /* read: signing; write: retiring a key */
    X509 *cert;
    struct sn_ca_signer *signer; /* the TSA key */
    char key_id[64];
    char serial[65]; /* cert's, as the certificates table has it */
    /* cert's revocation status, read from the store when its revocation
     * generation (sn_store_revocation_gen) moves; a revoked certificate
     * stays revoked. */
    int status_known;
    unsigned long status_gen;
    int revoked;
    const char *refusing; /* the reason last logged, or NULL */
    X509 *issuer;         /* the timestamping CA (own reference) */
    struct sn_ca_signer *issuer_signer; /* its key, for rotations (own ref) */
    struct sn_store *store;             /* borrowed: outlives the TSA */
    struct sn_ca_keys keys;             /* where the TSA keys are */
    struct sn_tsa_settings set;
    uint64_t boot;
    uint64_t counter; /* atomic */
    char *extra_policy;
    /* clock discipline */
    int have_last;
    struct timespec last_wall, last_mono;
    int clock_refused; /* wall clock went back past the accuracy */
};

/* Makes a TSA key and certificate (init and rotation); HOME/ca/tsa.pem.
 * policy_oid: the Signet CA policy under the home's arc. */
sn_err sn_tsa_create(const struct sn_ca_keys *keys, const char *home,
                     X509 *ts_ca, struct sn_ca_signer *ts_ca_signer,
                     const char *alg, const char *org, const char *country,
                     const char *base_url, const char *policy_oid);
/*
 * sn_tsa_load in two steps, for a TSA whose key is not in a token (tests):
 * sn_tsa_init keeps st, tok, set and references to issuer and
 * issuer_signer; sn_tsa_use takes references to the TSA certificate and
 * its signer, records the certificate and a new boot number.
 */
sn_err sn_tsa_init(struct sn_tsa *tsa, struct sn_store *st,
                   const struct sn_ca_keys *keys,
                   const struct sn_tsa_settings *set, X509 *issuer,
                   struct sn_ca_signer *issuer_signer);
sn_err sn_tsa_use(struct sn_tsa *tsa, X509 *cert, struct sn_ca_signer *signer,
                  const char *key_id);
/* Reads HOME/ca/tsa.pem and binds its key on tok; issuer and
 * issuer_signer (the timestamping CA's; the signer may be NULL: no
 * rotation) are kept by reference. */
sn_err sn_tsa_load(struct sn_tsa *tsa, struct sn_store *st,
                   const struct sn_ca_keys *keys,
                   const struct sn_tsa_settings *set, X509 *issuer,
                   struct sn_ca_signer *issuer_signer);
void sn_tsa_cleanup(struct sn_tsa *tsa);
/* HOME/ca/tsa.pem: the key id it names and the TSA certificate. */
sn_err sn_tsa_read_file(const char *home, char *key_id, size_t idlen,
                        X509 **cert);

/*
 * A TimeStampResp (DER) for a request; errors in the request are PKI
 * statuses inside the response, not failures of this call (a nonce of
 * more than 32 octets of value is badRequest). While the TSA
 * certificate is revoked, outside its validity or its key past 15 months
 * of use, every answer is a rejection with systemFailure. *rec is the
 * issued token's record (malloc'd; NULL for a rejection): the response
 * must not leave before the record is durable (sn_store_tsa_add or
 * sn_store_tsa_submit).
 */
sn_err sn_tsa_respond(struct sn_tsa *tsa, const uint8_t *req, size_t len,
                      uint8_t **der, size_t *dlen, struct sn_tsa_record **rec);
/* Legacy Authenticode: base64 request in, base64 PKCS#7 out; *rec as
 * above. */
sn_err sn_tsa_authenticode(struct sn_tsa *tsa, const uint8_t *body, size_t len,
                           char **b64, struct sn_tsa_record **rec);
/* A new key and certificate; the old key is destroyed. The new key's id
 * goes to new_key_id. This is also how the TSA resumes after its
 * certificate was revoked or expired: it refuses until then. */
sn_err sn_tsa_rotate(struct sn_tsa *tsa, char *new_key_id, size_t idlen);
/* Several nodes: another node rotated (its new TSA certificate is the
 * newest recorded): its key is bound on tok and used from now on, and
 * HOME/ca/tsa.pem names it. Nothing happens if this TSA's is the newest. */
sn_err sn_tsa_follow(struct sn_tsa *tsa);
/* The operator confirms the clock: lifts a clock refusal. */
void sn_tsa_clock_ok(struct sn_tsa *tsa);

#endif
