/*
 * util: small pure helpers shared by daemon and CLI: hex and base64 codecs
 * (strict, for untrusted input), RFC 3339 times, random ids, whole-file I/O.
 * Nothing here logs or exits.
 */
#ifndef SN_UTIL_H
#define SN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"

/* Lower-case hex; out must hold 2*len+1 bytes. */
void sn_hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly; rejects odd lengths and non-hex. *out is malloc'd. */
sn_err sn_hex_decode(const char *in, uint8_t **out, size_t *outlen);
/* One hex digit's value (either case), or -1. */
int sn_hexval(char c);

/* Standard base64 with padding; *out is malloc'd and NUL-terminated. */
sn_err sn_b64_encode(const uint8_t *in, size_t len, char **out);
/* Strict: standard alphabet, correct padding, no whitespace. */
sn_err sn_b64_decode(const char *in, uint8_t **out, size_t *outlen);
/* base64url (RFC 4648 5) without padding; out must hold
 * SN_B64URL_LEN(len)+1 bytes. */
#define SN_B64URL_LEN(len)                                                     \
    ((len) / 3 * 4 + ((len) % 3 == 0 ? 0 : (len) % 3 + 1))
void sn_b64url_encode(const uint8_t *in, size_t len, char *out);
/* Strict base64url of len bytes (no padding, no whitespace, unused bits
 * zero, so one text per value); *out is malloc'd (NUL-terminated after
 * *outlen bytes). SN_ERR_INVALID for anything else. */
sn_err sn_b64url_decode(const char *in, size_t len, uint8_t **out,
                        size_t *outlen);

/* "2026-11-22T04:57:17Z"; buf must hold SN_TIME_LEN bytes. */
#define SN_TIME_LEN 21
void sn_time_format(time_t t, char *buf);
/* RFC 3339 with "Z" or a numeric offset; fractional seconds ignored. */
sn_err sn_time_parse(const char *s, time_t *out);

/* Cryptographically secure random bytes (OpenSSL's DRBG). */
sn_err sn_random(uint8_t *buf, size_t len);
/* A random RFC 4122 version 4 UUID; buf must hold SN_UUID_LEN bytes. */
#define SN_UUID_LEN 37
sn_err sn_uuid(char *buf);

/* Reads a whole file of at most max bytes; *out is NUL-terminated. */
/*
 * *end = tm (UTC) plus months calendar months, the day kept within the
 * month (30 November + 3 -> 28 or 29 February): a period never longer
 * than the months counted. 0 if the time cannot be represented.
 */
int sn_tm_add_months(struct tm tm, int months, time_t *end);

sn_err sn_file_read(const char *path, size_t max, uint8_t **out,
                    size_t *outlen);
/* Creates path (O_EXCL) with mode, writes data, fsyncs. */
sn_err sn_file_write_new(const char *path, const void *data, size_t len,
                         int mode);

/* Milliseconds on CLOCK_MONOTONIC: for deadlines and intervals, never a
 * date. */
int64_t sn_mono_ms(void);

/* FNV-1a (64-bit) of a string: for hash tables keyed by ids, not crypto. */
uint64_t sn_str_hash(const char *s);

/* Wipes then frees a NUL-terminated secret string. */
void sn_secret_free(char *s);

#endif
