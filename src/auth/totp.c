/*
 * totp: RFC 6238 (TOTP) over RFC 4226 (HOTP), with OpenSSL's HMAC. The
 * code is untrusted input from a login; the secret is the caller's,
 * unsealed for the one check and wiped by the caller.
 */
#include "auth/totp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/base32.h"
#include "common/util.h"

/* Bounds on what we put into a URI and what we hash. */
#define LABEL_PART_MAX 128
#define SECRET_MAX 64

/* hotp() formats with "%06u" modulo 10^6. */
_Static_assert(SN_TOTP_DIGITS == 6, "hotp() writes 6 digits");

sn_err
sn_totp_secret_new(uint8_t s[SN_TOTP_SECRET_LEN])
{
    return sn_random(s, SN_TOTP_SECRET_LEN);
}

/* RFC 3986 section 2.3. */
static int
unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

/* Appends s percent-encoded at out + *o; out has room (3 bytes a char). */
static void
pct_encode(const char *s, char *out, size_t *o)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p != '\0'; p++) {
        if (unreserved(*p)) {
            out[(*o)++] = (char)*p;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[*p >> 4];
            out[(*o)++] = hex[*p & 0xf];
        }
    }
    out[*o] = '\0';
}

sn_err
sn_totp_uri(const char *issuer, const char *account, const uint8_t *s,
            size_t slen, char **out)
{
    char issuer_enc[3 * LABEL_PART_MAX + 1],
        account_enc[3 * LABEL_PART_MAX + 1];
    char b32[SN_BASE32_LEN(SECRET_MAX) + 1];
    char *uri = NULL;
    size_t ni = strnlen(issuer, LABEL_PART_MAX + 1);
    size_t na = strnlen(account, LABEL_PART_MAX + 1);
    size_t o, cap;
    sn_err r = SN_ERR_INVALID;
    int n;

    *out = NULL;
    if (ni == 0 || ni > LABEL_PART_MAX || na == 0 || na > LABEL_PART_MAX ||
        slen == 0 || slen > SECRET_MAX)
        goto out;
    o = 0;
    pct_encode(issuer, issuer_enc, &o);
    o = 0;
    pct_encode(account, account_enc, &o);
    sn_base32_encode(s, slen, b32);
    /* The two issuers, the account, the secret and the fixed text. */
    cap = 2 * strlen(issuer_enc) + strlen(account_enc) + strlen(b32) + 128;
    r = SN_ERR_NOMEM;
    if ((uri = malloc(cap)) == NULL)
        goto out;
    n = snprintf(uri, cap,
                 "otpauth://totp/%s:%s?secret=%s&issuer=%s"
                 "&algorithm=SHA1&digits=%d&period=%d",
                 issuer_enc, account_enc, b32, issuer_enc, SN_TOTP_DIGITS,
                 SN_TOTP_PERIOD);
    r = SN_ERR_INTERNAL;
    if (n < 0 || (size_t)n >= cap)
        goto out;
    *out = uri;
    uri = NULL;
    r = SN_OK;
out:
    OPENSSL_cleanse(b32, sizeof(b32));
    sn_secret_free(uri);
    return r;
}

/* RFC 4226 section 5.3: HOTP(s, step) as SN_TOTP_DIGITS digits in code. */
static sn_err
hotp(const uint8_t *s, size_t slen, uint64_t step,
     char code[SN_TOTP_DIGITS + 1])
{
    uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0, off;
    uint32_t bin;
    sn_err r = SN_ERR_CRYPTO;
    int i;

    for (i = 7; i >= 0; i--) {
        msg[i] = (uint8_t)(step & 0xff);
        step >>= 8;
    }
    if (HMAC(EVP_sha1(), s, (int)slen, msg, sizeof(msg), mac, &maclen) ==
            NULL ||
        maclen != 20)
        goto out;
    /* Dynamic truncation: 31 bits at the offset the last nibble names. */
    off = mac[maclen - 1] & 0x0f;
    bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
          ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
    snprintf(code, SN_TOTP_DIGITS + 1, "%06u", (unsigned)(bin % 1000000u));
    OPENSSL_cleanse(&bin, sizeof(bin));
    r = SN_OK;
out:
    OPENSSL_cleanse(mac, sizeof(mac));
    OPENSSL_cleanse(msg, sizeof(msg));
    return r;
}

/* Exactly SN_TOTP_DIGITS ASCII digits and nothing else. */
static int
well_formed(const char *code)
{
    size_t i;

    for (i = 0; i < SN_TOTP_DIGITS; i++)
        if (code[i] < '0' || code[i] > '9')
            return 0;
    return code[SN_TOTP_DIGITS] == '\0';
}

int
sn_totp_check(const uint8_t *s, size_t slen, const char *code, time_t now,
              int64_t last_step, int64_t *step_out)
{
    char want[SN_TOTP_DIGITS + 1];
    int64_t base, step, found = 0;
    uint64_t mask;
    unsigned ok = 0, hit;
    int i, r = 0;

    *step_out = 0;
    if (code == NULL || !well_formed(code) || s == NULL || slen == 0 ||
        slen > SECRET_MAX || now < 0)
        return 0;
    base = (int64_t)now / SN_TOTP_PERIOD;
    /*
     * Every candidate step is computed and compared, and the first match
     * is selected with masks, not with an early return: the time taken
     * does not tell which step (if any) matched.
     */
    for (i = -SN_TOTP_SKEW; i <= SN_TOTP_SKEW; i++) {
        step = base + i;
        if (step < 0)
            continue; /* only in the first 30 s of 1970 */
        if (hotp(s, slen, (uint64_t)step, want) != SN_OK)
            goto out;
        hit = (unsigned)(CRYPTO_memcmp(want, code, SN_TOTP_DIGITS) == 0) &
              (unsigned)(step > last_step);
        mask = 0 - (uint64_t)(hit & (ok ^ 1u));
        found = (int64_t)(((uint64_t)found & ~mask) | ((uint64_t)step & mask));
        ok |= hit;
    }
    if (ok) {
        *step_out = found;
        r = 1;
    }
out:
    OPENSSL_cleanse(want, sizeof(want));
    return r;
}
