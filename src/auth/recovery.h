/*
 * recovery: one-time recovery codes, the way into an account whose
 * authenticator is lost (issue 17). Each code carries 80 random bits as
 * 16 base32 characters (lower case) shown as xxxx-xxxx-xxxx-xxxx, so that
 * a stolen database's hashes cannot be searched for codes; the store
 * keeps only SHA-256 hashes of the normalised codes. Pure.
 */
#ifndef SN_RECOVERY_H
#define SN_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Codes made at confirmation, shown once. */
#define SN_RECOVERY_CODES 10
/* Room for one code as shown, with its NUL ("xxxx-xxxx-xxxx-xxxx" is
 * 20). */
#define SN_RECOVERY_CODE_SIZE 20

/* n distinct fresh codes, each "xxxx-xxxx-xxxx-xxxx". The caller wipes
 * them. */
sn_err sn_recovery_new(char codes[][SN_RECOVERY_CODE_SIZE], size_t n);

/*
 * out = SHA-256 of the normalised code: lower case, dashes and spaces
 * removed. SN_ERR_INVALID unless that leaves exactly 16 base32 characters.
 */
sn_err sn_recovery_hash(const char *code, uint8_t out[32]);

#endif
