/*
 * keys: where the CA's and the TSA's keys are, for the code that uses
 * them online (sn_ca_load, the TSA's load and rotation). Two holders:
 * a token in this process (hsmkeys.c: `signetd init`, `check`, the unit
 * tests) and the keeper (keeperkeys.c: a serving front end, which holds
 * no key and no PIN). Either way a signature is one of casigner.h's typed
 * operations.
 */
#ifndef SN_PKI_KEYS_H
#define SN_PKI_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/err.h"
#include "common/keyalg.h"
#include "crypto/caprofile.h"
#include "pki/casigner.h"

struct sn_hsm_token;
struct sn_keeper;

struct sn_ca_keys {
    /* The signer of CA kind (public key pub); SN_ERR_NOT_FOUND if its
     * key is not held here (an offline root). */
    sn_err (*ca_signer)(void *arg, enum sn_ca_kind kind, EVP_PKEY *pub,
                        struct sn_ca_signer **out);
    /* A new TSA key id: its public key (SubjectPublicKeyInfo, malloc'd). */
    sn_err (*tsa_generate)(void *arg, const char *id, enum sn_keyalg alg,
                           uint8_t **spki, size_t *len);
    /* The signer of TSA key id, certified by cert (which it then uses). */
    sn_err (*tsa_signer)(void *arg, const char *id, X509 *cert,
                         struct sn_ca_signer **out);
    sn_err (*tsa_destroy)(void *arg, const char *id);
    void *arg;
};

/* The keys on tok (which outlives keys). */
void sn_ca_keys_hsm(struct sn_hsm_token *tok, struct sn_ca_keys *keys);
/* The keys the keeper holds, through k (which outlives keys). */
void sn_ca_keys_keeper(struct sn_keeper *k, struct sn_ca_keys *keys);

#endif
