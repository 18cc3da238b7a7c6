/*
 * support: fixtures shared by the unit tests (were copied between them).
 * Test-only; a failing step fails the running cmocka test.
 */
#ifndef SN_TEST_SUPPORT_H
#define SN_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "common/keyalg.h"

/* Removes path and, for a directory, everything under it. */
void sn_test_rm_rf(const char *path);
/*
 * Signs digest (dlen must be sn_digest_len(md)) with a software key, as an
 * HSM would: RSA PKCS#1 v1.5 or ECDSA (DER) by key's type. *sig is
 * malloc'd. For the sn_sign_cb callbacks of the crypto tests.
 */
sn_err sn_test_soft_sign(EVP_PKEY *key, enum sn_digest md,
                         const uint8_t *digest, size_t dlen, uint8_t **sig,
                         size_t *siglen);
/* Writes dir/name afresh (replacing any old file) with the given mode. */
void sn_test_write_file(const char *dir, const char *name, const void *data,
                        size_t len, mode_t mode);

#endif
