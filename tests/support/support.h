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
#include <openssl/x509.h>

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
/*
 * An unsigned v3 certificate for key with CN cn, issued by issuer (NULL:
 * self-issued), valid from now+not_before to now+not_after seconds.
 */
X509 *sn_test_cert_new(const char *cn, EVP_PKEY *key, X509 *issuer, long serial,
                       long not_before, long not_after);
/* Adds extension nid ("critical,CA:TRUE" syntax) with OpenSSL directly. */
void sn_test_add_ext(X509 *x, X509 *issuer, int nid, const char *value);
/*
 * A private SoftHSM2 home: makes a fresh directory from tmpl (mkdtemp, into
 * dir), its token directory and softhsm2.conf, and points SOFTHSM2_CONF
 * at it. Returns 0, or -1 (for cmocka group setups).
 */
int sn_test_softhsm_home(const char *tmpl, char *dir, size_t dirlen);

#endif
