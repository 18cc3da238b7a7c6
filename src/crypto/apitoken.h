/*
 * apitoken: API bearer tokens. A token is "sn_<id>_<secret>": the id names
 * the database row, the secret is 256 random bits in base64url. Only
 * SHA-256(secret) is stored; the check compares hashes in constant time.
 */
#ifndef SN_APITOKEN_H
#define SN_APITOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/util.h"

#define SN_TOKEN_HASH_LEN 32
#define SN_TOKEN_MAX_LEN 128

/* New token for row id; *token is malloc'd (free with sn_secret_free). */
sn_err sn_apitoken_new(const char *id, char **token,
                       uint8_t hash[SN_TOKEN_HASH_LEN]);
/* Splits a presented token into id (SN_UUID_LEN buffer) and secret hash. */
sn_err sn_apitoken_parse(const char *token, char id[SN_UUID_LEN],
                         uint8_t hash[SN_TOKEN_HASH_LEN]);
/* Constant-time comparison of two hashes: 1 if equal. */
int sn_apitoken_hash_equal(const uint8_t a[SN_TOKEN_HASH_LEN],
                           const uint8_t b[SN_TOKEN_HASH_LEN]);

#endif
