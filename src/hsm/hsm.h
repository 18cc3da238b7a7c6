/*
 * hsm: the only module that loads a PKCS#11 library and sees CK_ types.
 * Its API is narrow and typed: create or open a token (one per subscriber),
 * generate a key pair that cannot leave the module, read its public key and
 * protection facts, sign a digest of exactly the right length, destroy.
 * There is no call that imports, wraps or exports a private key.
 */
#ifndef SN_HSM_H
#define SN_HSM_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/keyalg.h"
#include "common/keyinfo.h"

struct sn_hsm;
struct sn_hsm_token;

/* Loads and initialises (CKF_OS_LOCKING_OK) the module at path. */
sn_err sn_hsm_open(const char *module_path, struct sn_hsm **out);
void sn_hsm_close(struct sn_hsm *hsm);

/*
 * Initialises a new token labelled label on the module's free slot with a
 * random SO PIN (discarded) and a random user PIN returned in *pin
 * (malloc'd; free with sn_secret_free). SN_ERR_EXISTS if the label exists,
 * SN_ERR_STATE if the module has no free slot.
 */
sn_err sn_hsm_token_init(struct sn_hsm *hsm, const char *label, char **pin);

/* Finds the token by label and logs in as user; the caller wipes pin. */
sn_err sn_hsm_token_open(struct sn_hsm *hsm, const char *label, const char *pin,
                         struct sn_hsm_token **out);
void sn_hsm_token_close(struct sn_hsm_token *tok);
const struct sn_hsm_info *sn_hsm_token_info(const struct sn_hsm_token *tok);
/* A cheap round trip to the module (C_GetSessionInfo). */
sn_err sn_hsm_token_ping(struct sn_hsm_token *tok);

/*
 * Generates a key pair with CKA_ID = id (any string up to 64 bytes),
 * private half sensitive and non-extractable. Returns the public key as
 * SubjectPublicKeyInfo DER (*spki malloc'd) and the facts read back from
 * the module. Does not judge the facts; see sn_key_facts_ok().
 */
sn_err sn_hsm_generate(struct sn_hsm_token *tok, enum sn_keyalg alg,
                       const char *id, uint8_t **spki, size_t *spki_len,
                       struct sn_key_facts *facts);

/*
 * Signs digest (sn_digest_len(md) bytes) with the private key id.
 * RSA: scheme PKCS1 or PSS (salt = digest length, MGF1 with md); EC:
 * scheme ECDSA, result DER-encoded. *sig is malloc'd.
 */
sn_err sn_hsm_sign(struct sn_hsm_token *tok, const char *id, enum sn_keyalg alg,
                   enum sn_digest md, enum sn_scheme scheme,
                   const uint8_t *digest, size_t dlen, uint8_t **sig,
                   size_t *siglen);

/* The algorithm of private key id, read from the module (its type and
 * size; cached with its handle). SN_ERR_NOT_FOUND if absent,
 * SN_ERR_INVALID for a key of another kind. */
sn_err sn_hsm_key_alg(struct sn_hsm_token *tok, const char *id,
                      enum sn_keyalg *alg);

/* The public key of key pair id, as SubjectPublicKeyInfo DER (*spki
 * malloc'd): from its public object while one exists, else (RSA) from
 * the private key's modulus and exponent. SN_ERR_NOT_FOUND for an EC key
 * whose public object is gone. */
sn_err sn_hsm_public_key(struct sn_hsm_token *tok, const char *id,
                         uint8_t **spki, size_t *len);

/* SN_OK if the token holds a private key with id, SN_ERR_NOT_FOUND if
 * not. */
sn_err sn_hsm_has_key(struct sn_hsm_token *tok, const char *id);

/* Destroys both halves of key id. SN_ERR_NOT_FOUND if absent. */
sn_err sn_hsm_destroy(struct sn_hsm_token *tok, const char *id);

/*
 * Sealing (issue 17): small secrets, such as people's TOTP secrets, are
 * kept encrypted by an AES-256 key that lives in the token and cannot
 * leave it ("signet-seal": sensitive, not extractable, encrypt and decrypt
 * only). The sealed form is version (1) | 12-byte IV | ciphertext |
 * 16-byte tag, AES-GCM with the context string as additional data: a
 * value sealed for one context (an account's id) does not open in
 * another.
 */
#define SN_HSM_SEAL_OVERHEAD 29

/*
 * Finds the token's sealing key or generates it; safe to call from several
 * threads at once (one key results). SN_ERR_HSM_PROTECTION if a key with
 * the label exists but could leave the token.
 */
sn_err sn_hsm_seal_key_ensure(struct sn_hsm_token *tok);

/*
 * Seals in (at most 1024 bytes) for context (1..256 bytes) into out: *outlen
 * is out's size on entry and the sealed length (inlen +
 * SN_HSM_SEAL_OVERHEAD) on success, 0 on failure. SN_ERR_LIMIT if out is
 * too small, SN_ERR_NOT_FOUND if the token has no sealing key.
 */
sn_err sn_hsm_seal(struct sn_hsm_token *tok, const char *context,
                   const uint8_t *in, size_t inlen, uint8_t *out,
                   size_t *outlen);

/*
 * Opens a value sealed for context; *outlen as for sn_hsm_seal(). A wrong
 * context, a changed byte or a value that is not a sealed one is
 * SN_ERR_CRYPTO, and out is then left untouched.
 */
sn_err sn_hsm_unseal(struct sn_hsm_token *tok, const char *context,
                     const uint8_t *in, size_t inlen, uint8_t *out,
                     size_t *outlen);

/* 1 if local, never extractable, always sensitive, not extractable and
 * sensitive. */
int sn_key_facts_ok(const struct sn_key_facts *f);

/* The service's Ed25519 keys (sn_hsm_edkey_*). */
enum sn_hsm_edkey { SN_EDKEY_LOG, SN_EDKEY_NOTICE, SN_EDKEY_COUNT };

/*
 * The transparency log's key (issue 18): an Ed25519 pair labelled
 * "signet-log" on tok (the service's token), generated there if missing
 * (sensitive, not extractable, sign only). ensure gives its public key;
 * sign makes an Ed25519 signature (CKM_EDDSA) of msg.
 */
sn_err sn_hsm_logkey_ensure(struct sn_hsm_token *tok, uint8_t pub[32]);
sn_err sn_hsm_logkey_sign(struct sn_hsm_token *tok, const uint8_t *msg,
                          size_t len, uint8_t sig[64]);
/*
 * The service's Ed25519 keys, each on tok under its own label, generated
 * the same way: the log's ("signet-log", the two calls above) and the one
 * that signs the reports' notices to other CAs ("signet-notice", issue
 * 18). A key signs for one purpose only.
 */
sn_err sn_hsm_edkey_ensure(struct sn_hsm_token *tok, enum sn_hsm_edkey which,
                           uint8_t pub[32]);
sn_err sn_hsm_edkey_sign(struct sn_hsm_token *tok, enum sn_hsm_edkey which,
                         const uint8_t *msg, size_t len, uint8_t sig[64]);

#endif
