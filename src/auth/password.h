/*
 * password: the password factor of people's accounts (issue 17). Passwords
 * are kept only as argon2id hashes in the encoded form
 * ($argon2id$v=19$m=...,t=...,p=...$salt$hash). Pure: no store, no
 * logging; the caller decides what a refusal means.
 */
#ifndef SN_PASSWORD_H
#define SN_PASSWORD_H

#include <stddef.h>

#include "common/err.h"
#include "store/store.h"

/* Length limits, in bytes. */
#define SN_PASSWORD_MIN 12
#define SN_PASSWORD_MAX 256

/*
 * SN_OK if pw may be a password: SN_PASSWORD_MIN..SN_PASSWORD_MAX bytes
 * and no control characters. Otherwise SN_ERR_INVALID with the reason, a
 * sentence for the person choosing it, in why (len bytes, may be 0).
 */
sn_err sn_password_acceptable(const char *pw, char *why, size_t len);

/*
 * Hashes pw with argon2id and a fresh random salt into out (the encoded
 * string, NUL-terminated). SN_ERR_INVALID if pw is longer than
 * SN_PASSWORD_MAX; it does not judge the password (see acceptable()).
 */
sn_err sn_password_hash(const char *pw, char out[SN_PWHASH_MAX + 1]);

/*
 * 1 if pw matches the encoded hash, 0 otherwise: a wrong password, a
 * malformed or unsupported encoded string, or a failure to compute.
 */
int sn_password_verify(const char *pw, const char *encoded);

/*
 * Spends the time of one sn_password_verify() against a fixed hash with
 * the current parameters and forgets the result: a login for a name that
 * has no account takes as long as one for a name that has.
 */
void sn_password_dummy_verify(const char *pw);

#endif
