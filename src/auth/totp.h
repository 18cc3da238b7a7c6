/*
 * totp: the second factor of people's accounts (issue 17): RFC 6238 TOTP
 * with HMAC-SHA-1, 30-second steps and 6 digits, the parameters every
 * authenticator app reads from an otpauth:// URI. Pure: the caller keeps
 * the secret (sealed) and the last accepted step.
 */
#ifndef SN_TOTP_H
#define SN_TOTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"

/* 160 bits: RFC 4226 section 4 recommends it for HMAC-SHA-1. */
#define SN_TOTP_SECRET_LEN 20
#define SN_TOTP_PERIOD 30
#define SN_TOTP_DIGITS 6
/* Steps accepted either side of now's: one, for clocks 30 s apart. */
#define SN_TOTP_SKEW 1

/* A fresh random secret. */
sn_err sn_totp_secret_new(uint8_t s[SN_TOTP_SECRET_LEN]);

/*
 * The enrolment URI an authenticator app reads (usually as a QR code):
 * otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1
 * &digits=6&period=30, issuer and account percent-encoded (RFC 3986
 * unreserved characters kept), the secret base32 without padding. *out is
 * malloc'd and holds the secret: free it with sn_secret_free().
 * SN_ERR_INVALID for an empty or over-long issuer or account.
 */
sn_err sn_totp_uri(const char *issuer, const char *account, const uint8_t *s,
                   size_t slen, char **out);

/*
 * 1 if code is exactly SN_TOTP_DIGITS ASCII digits and is the code of a
 * step within SN_TOTP_SKEW of now's that is later than last_step (a step
 * accepted once is not accepted again); *step_out is then the step that
 * matched. 0 otherwise (*step_out 0). The caller records *step_out as the
 * new last step, atomically with the check's outcome.
 */
int sn_totp_check(const uint8_t *s, size_t slen, const char *code, time_t now,
                  int64_t last_step, int64_t *step_out);

#endif
