/*
 * client: a front end's side of the keeper protocol (proto.h,
 * docs/ipc.md). One typed call per keeper operation; each takes a
 * connection from a small pool (opened on demand to HOME/run/keeper.sock),
 * sends one request and reads one reply. While the keeper is gone every
 * call fails with SN_ERR_HSM (callers answer 503) and the next call tries
 * to connect again: the keeper's supervisor restarts it.
 *
 * A subscriber's token is opened in the keeper on first use: when the
 * keeper answers that it is not open (SN_ERR_STATE), the client asks the
 * opener (the front end's store: the subscriber's name and sealed PIN)
 * and retries once. Nothing the client holds is secret: no PIN, no key.
 */
#ifndef SN_IPC_CLIENT_H
#define SN_IPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "common/keyalg.h"
#include "common/keyinfo.h"

struct sn_keeper;

/* What the keeper needs to open a subscriber's token: the subscriber's
 * name (mapped tokens) and its sealed PIN (*sealed malloc'd; NULL, 0 when
 * the PIN is in a file of the keeper's). */
typedef sn_err (*sn_keeper_opener)(void *arg, const char *subscriber,
                                   char name[129], uint8_t **sealed,
                                   size_t *slen);

/* path: the keeper's socket. Nothing is connected yet. */
sn_err sn_keeper_new(const char *path, struct sn_keeper **out);
void sn_keeper_free(struct sn_keeper *k);
void sn_keeper_set_opener(struct sn_keeper *k, sn_keeper_opener fn, void *arg);
/* A round trip to the HSM through the keeper (/healthz). */
sn_err sn_keeper_ping(struct sn_keeper *k);
/*
 * The nice (0..19) the calling thread's requests ask the keeper for from
 * now on, instead of the thread's own nice above the process's (the
 * default); -1 goes back to that. A pool that knows whether there is
 * anyone to yield to sets it per job (http/pool.h, nice_hint).
 */
void sn_keeper_thread_nice(int nice);

/* A new subscriber's token: its label, and its PIN sealed for the
 * database (*sealed NULL when the keeper keeps it in a file). */
sn_err sn_keeper_token_create(struct sn_keeper *k, const char *subscriber,
                              const char *name, char label[65],
                              uint8_t **sealed, size_t *slen);

struct sn_keeper_key {
    uint8_t *spki;
    size_t spki_len;
    struct sn_key_facts facts;
    struct sn_hsm_info hsm;
    uint8_t *att_der; /* the attestation certificate the keeper signed */
    size_t att_len;
};
void sn_keeper_key_cleanup(struct sn_keeper_key *key);

/* Generates key id on the subscriber's token and attests it (the keeper
 * reads the protection facts itself and refuses bad ones). */
sn_err sn_keeper_key_generate(struct sn_keeper *k, const char *subscriber,
                              const char *id, enum sn_keyalg alg,
                              time_t generated_at, struct sn_keeper_key *out);
sn_err sn_keeper_key_destroy(struct sn_keeper *k, const char *subscriber,
                             const char *id);
/* A signature over digest by key id of the subscriber (the algorithm is
 * the key's own). *sig malloc'd. */
sn_err sn_keeper_sign_digest(struct sn_keeper *k, const char *subscriber,
                             const char *id, enum sn_digest md,
                             enum sn_scheme scheme, const uint8_t *digest,
                             size_t dlen, uint8_t **sig, size_t *siglen);

/* The CA operations: type is SN_KP_SIGN_CERT, _CRL or _OCSP, kind a CA
 * (enum sn_ca_kind); in and *out DER (*out malloc'd). A certificate's
 * evidence says whose key it certifies: a code signing key's attestation
 * certificate (DER), a TSA key's id. */
sn_err sn_keeper_sign_object(struct sn_keeper *k, uint8_t type, unsigned kind,
                             const uint8_t *in, size_t len,
                             const uint8_t *evidence, size_t evlen,
                             uint8_t **out, size_t *outlen);
/* TSTInfo -> token; Authenticode data -> SignedData; by TSA key key_id,
 * which the keeper must have bound (SN_ERR_STATE if not: TSA_USE). */
sn_err sn_keeper_sign_tst(struct sn_keeper *k, const char *key_id,
                          const uint8_t *tstinfo, size_t len, uint8_t **token,
                          size_t *tlen);
sn_err sn_keeper_sign_ts_pkcs7(struct sn_keeper *k, const char *key_id,
                               const uint8_t *data, size_t len, uint8_t **out,
                               size_t *outlen);
/* The log's checkpoint note body, with the proof that it extends the
 * last one the keeper signed (big-endian u64 of that size, then the RFC
 * 9162 consistency proof's hashes; empty when there is none), and the
 * notices' messages: Ed25519 signatures. */
sn_err sn_keeper_sign_checkpoint(struct sn_keeper *k, const uint8_t *note,
                                 size_t len, const uint8_t *proof, size_t plen,
                                 uint8_t sig[64]);
sn_err sn_keeper_sign_notice(struct sn_keeper *k, const uint8_t *msg,
                             size_t len, uint8_t sig[64]);
/* The log's and the notices' Ed25519 public keys, the CA keys the keeper
 * holds (bit 1 << enum sn_ca_kind) and the size of the last checkpoint
 * it signed (0: none; cp_size may be NULL). */
sn_err sn_keeper_pubkeys(struct sn_keeper *k, uint8_t log[32],
                         uint8_t notice[32], uint64_t *cas, uint64_t *cp_size);
/* Sealing by the service token's key (*outlen: out's size in, length
 * out). The keeper opens only what the front end may see (a TOTP
 * secret); a PIN's sealed form opens only inside it. */
sn_err sn_keeper_seal(struct sn_keeper *k, const char *context,
                      const uint8_t *in, size_t len, uint8_t *out,
                      size_t *outlen);
sn_err sn_keeper_unseal(struct sn_keeper *k, const char *context,
                        const uint8_t *in, size_t len, uint8_t *out,
                        size_t *outlen);
/* The TSA's keys on the service token ("tsa-..." ids only). */
sn_err sn_keeper_tsa_keygen(struct sn_keeper *k, const char *id,
                            enum sn_keyalg alg, uint8_t **spki, size_t *len);
sn_err sn_keeper_tsa_use(struct sn_keeper *k, const char *id,
                         const uint8_t *cert, size_t len);
sn_err sn_keeper_tsa_destroy(struct sn_keeper *k, const char *id);

#endif
