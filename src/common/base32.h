/*
 * base32: RFC 4648 section 6 base32 without padding, as authenticator apps
 * read TOTP secrets (otpauth:// URIs). Pure codec; the decoder is strict
 * (upper case, no padding, no whitespace, unused bits zero) so that a value
 * has exactly one text.
 */
#ifndef SN_BASE32_H
#define SN_BASE32_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Characters for len bytes, without padding or the NUL. */
#define SN_BASE32_LEN(len) (((len)*8 + 4) / 5)

/* Upper case, no padding; out must hold SN_BASE32_LEN(len) + 1 bytes. */
void sn_base32_encode(const uint8_t *in, size_t len, char *out);

/*
 * Decodes in (strict, as above) into out (room for max bytes); *outlen is
 * the decoded length. SN_ERR_INVALID for a malformed text, SN_ERR_LIMIT if
 * the value does not fit.
 */
sn_err sn_base32_decode(const char *in, uint8_t *out, size_t max,
                        size_t *outlen);

#endif
