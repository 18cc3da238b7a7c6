/*
 * note: C2SP signed notes and tlog-checkpoints with Ed25519. Formatting
 * for the signer (which signs with a key it never shows: the HSM), and
 * strict opening for verifiers (the CLI; unit tests).
 */
#ifndef SN_TLOG_NOTE_H
#define SN_TLOG_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SN_TLOG_ORIGIN_MAX 128
#define SN_TLOG_NOTE_MAX 8192
#define SN_ED25519_PUB 32
#define SN_ED25519_SIG 64

/* A note name: printable ASCII, no space and no '+', 1..128 bytes. */
int sn_tlog_name_ok(const char *name);
/* The first 4 bytes of SHA-256(name || 0x0a || 0x01 || public key). */
void sn_tlog_key_id(const char *name, const uint8_t pub[SN_ED25519_PUB],
                    uint8_t id[4]);
/* "<name>+<hex key id>+<base64(0x01 || public key)>", malloc'd. */
sn_err sn_tlog_vkey_format(const char *name, const uint8_t pub[SN_ED25519_PUB],
                           char **out);
sn_err sn_tlog_vkey_parse(const char *vkey, char name[SN_TLOG_ORIGIN_MAX + 1],
                          uint8_t pub[SN_ED25519_PUB]);

/* "<origin>\n<size>\n<base64 root>\n": the signed part of a checkpoint. */
sn_err sn_tlog_checkpoint_body(const char *origin, uint64_t size,
                               const uint8_t root[32], char *out,
                               size_t outlen);
/* body, an empty line and "— <name> <base64(key id || sig)>\n"; malloc'd. */
sn_err sn_tlog_note_assemble(const char *body, const char *name,
                             const uint8_t pub[SN_ED25519_PUB],
                             const uint8_t sig[SN_ED25519_SIG], char **out);
/*
 * Opens a checkpoint note: a signature line by vkey's name and key id must
 * verify over the body, whose origin must be vkey's name. SN_ERR_INVALID
 * for a malformed note, SN_ERR_CRYPTO for a missing or bad signature.
 */
sn_err sn_tlog_checkpoint_open(const char *note, size_t len, const char *vkey,
                               uint64_t *size, uint8_t root[32]);

#endif
