/*
 * digestinfo: the DER DigestInfo prefixes of RSA PKCS#1 v1.5 signatures
 * (RFC 8017 9.2 note 1), in one table for the HSM (which prepends them) and
 * the PKCS#11 module (which strips them from untrusted application input).
 */
#ifndef SN_DIGESTINFO_H
#define SN_DIGESTINFO_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/keyalg.h"

/* The longest prefix; a DigestInfo fits in this plus the digest. */
#define SN_DIGESTINFO_PREFIX_MAX 19

/*
 * The prefix for md with the NULL parameters, as Signet writes it; NULL
 * for a digest outside the closed set. *len is its length.
 */
const uint8_t *sn_digestinfo_prefix(enum sn_digest md, size_t *len);
/*
 * Recognises a DigestInfo for SHA-256/384/512, with or without the NULL
 * parameters, that is exactly prefix and digest. On success sets *md and
 * points *digest into in; else SN_ERR_INVALID.
 */
sn_err sn_digestinfo_parse(const uint8_t *in, size_t len, enum sn_digest *md,
                           const uint8_t **digest);

#endif
