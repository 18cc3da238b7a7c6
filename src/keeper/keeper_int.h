/*
 * keeper's insides: its state, shared by the loop (keeper.c) and the
 * operations (ops.c).
 */
#ifndef SN_KEEPER_INT_H
#define SN_KEEPER_INT_H

#include <pthread.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/oids.h"
#include "hsm/hsm.h"
#include "ipc/proto.h"
#include "keeper/checks.h"
#include "keeper/keeper.h"
#include "keeper/partitions.h"
#include "pki/ca.h"

#define KEEPER_PIN_CONTEXT "signet token pin v1:"

struct keeper {
    const struct sn_keeper_conf *c;
    struct sn_hsm *hsm;
    struct sn_hsm_token *service;
    struct sn_parts parts;
    struct sn_oids oids;
    struct sn_kc_ca ca[SN_CA_COUNT]; /* key NULL: not held */
    X509 *ca_cert[SN_CA_COUNT];
    /* each CA's certificate is its key's: 0 not known yet, 1, -1 */
    pthread_mutex_t ca_lock;
    int ca_checked[SN_CA_COUNT];
    /* the TSA's current key and certificate (TSA_USE swaps them) */
    pthread_rwlock_t tsa_lock;
    struct sn_kc_tsa tsa; /* key NULL: none yet */
    char tsa_id[65];
    /* the one before, until it is destroyed: a token being made with it
     * while the TSA rotates is still signed (by the key it names) */
    struct sn_kc_tsa tsa_prev;
    char tsa_prev_id[65];
    /* the last checkpoint signed (HOME/hsm/keeper/checkpoint) */
    pthread_mutex_t cp_lock;
    int cp_have;
    uint64_t cp_size;
    uint8_t cp_root[32];
    uint8_t log_pub[32], notice_pub[32];
    uint64_t held; /* the CA keys held: 1 << enum sn_ca_kind */
};

/*
 * One request: m (decoded) from a front end; the reply frame in *frame.
 * SN_OK with an OK or ERR reply built; an error only if no reply could be
 * built (the connection is then closed).
 */
sn_err sn_keeper_op(struct keeper *kp, const struct sn_kp_msg *m,
                    uint8_t **frame, size_t *flen);
/* The TSA certificate id's key, bound after its checks (TSA_USE, and
 * HOME/ca/tsa.pem at start). */
sn_err sn_keeper_tsa_bind(struct keeper *kp, const char *id, X509 *cert,
                          char *why, size_t whylen);
/* CA kind's key and certificate once the certificate is known to be the
 * key's (checked at the first call), or NULL. */
const struct sn_kc_ca *sn_keeper_ca_ready(struct keeper *kp, unsigned kind);
/* SN_OK if key pair id on the service token is the one cert certifies. */
sn_err sn_keeper_holds_key(struct keeper *kp, const char *id, X509 *cert);
/* The checkpoint state file: read at start, written before a signature
 * leaves. */
sn_err sn_keeper_cp_load(struct keeper *kp);

#endif
