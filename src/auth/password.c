/*
 * password: argon2id through libargon2 (the reference implementation).
 * The password is untrusted input from a login or an account creation;
 * the encoded hash comes from the store (trusted, but still parsed with
 * bounds: a damaged row must not make one login allocate gigabytes).
 */
#include "auth/password.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

/*
 * OWASP's Password Storage Cheat Sheet lists argon2id with m = 19 MiB
 * (19456 KiB), t = 2, p = 1 as its minimum configuration. These are the
 * parameters of new hashes; a stored hash carries its own and is verified
 * with those, within the bounds below.
 */
#define PW_T_COST 2
#define PW_M_COST 19456 /* KiB */
#define PW_PARALLEL 1
#define PW_SALT_LEN 16
#define PW_HASH_LEN 32

/* The most a stored hash may ask for: room to raise the parameters later,
 * not enough for a damaged row to exhaust the daemon's memory. */
#define PW_T_COST_MAX 16
#define PW_M_COST_MAX (256 * 1024) /* KiB */
#define PW_PARALLEL_MAX 8

/*
 * The fixed hash sn_password_dummy_verify() checks against: made once with
 * the parameters above (libargon2, of a password nobody is told). Its
 * parameters must stay those of new hashes, or unknown names answer at a
 * different speed; tests/unit/test_password.c compares the times.
 */
static const char dummy_hash[] =
    "$argon2id$v=19$m=19456,t=2,p=1$xl10m33/tSeSIzvO4Ic0qg$"
    "h9oVIf166GkPCfLwrjtZlt5qGUe8GTjZI+HQzwgt18A";

/* A second-byte range of UTF-8 C1 controls (U+0080..U+009F: C2 80..9F). */
static int
is_c1(const unsigned char *p)
{
    return p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
}

sn_err
sn_password_acceptable(const char *pw, char *why, size_t len)
{
    const unsigned char *p = (const unsigned char *)pw;
    size_t n = strnlen(pw, SN_PASSWORD_MAX + 1), i;
    const char *reason = NULL;

    if (n < SN_PASSWORD_MIN)
        reason = "a password needs at least 12 bytes";
    else if (n > SN_PASSWORD_MAX)
        reason = "a password may have at most 256 bytes";
    else {
        for (i = 0; i < n && reason == NULL; i++)
            if (p[i] < 0x20 || p[i] == 0x7f || is_c1(p + i))
                reason = "a password may not contain control characters";
    }
    if (reason == NULL)
        return SN_OK;
    if (why != NULL && len > 0)
        snprintf(why, len, "%s", reason);
    return SN_ERR_INVALID;
}

sn_err
sn_password_hash(const char *pw, char out[SN_PWHASH_MAX + 1])
{
    uint8_t salt[PW_SALT_LEN];
    size_t n = strnlen(pw, SN_PASSWORD_MAX + 1);
    sn_err r = SN_ERR_INTERNAL;

    memset(out, 0, SN_PWHASH_MAX + 1);
    if (n > SN_PASSWORD_MAX)
        return SN_ERR_INVALID;
    if (argon2_encodedlen(PW_T_COST, PW_M_COST, PW_PARALLEL, PW_SALT_LEN,
                          PW_HASH_LEN, Argon2_id) > SN_PWHASH_MAX + 1)
        goto out;
    if (RAND_bytes(salt, sizeof(salt)) != 1) {
        r = SN_ERR_CRYPTO;
        goto out;
    }
    if (argon2id_hash_encoded(PW_T_COST, PW_M_COST, PW_PARALLEL, pw, n, salt,
                              sizeof(salt), PW_HASH_LEN, out,
                              SN_PWHASH_MAX + 1) != ARGON2_OK) {
        r = SN_ERR_CRYPTO;
        goto out;
    }
    r = SN_OK;
out:
    if (r != SN_OK)
        memset(out, 0, SN_PWHASH_MAX + 1);
    OPENSSL_cleanse(salt, sizeof(salt));
    return r;
}

/* Reads a decimal number of at most 7 digits at *p, advancing it. */
static int
parse_u32(const char **p, uint32_t *v)
{
    const char *s = *p;
    uint32_t n = 0;
    int digits = 0;

    while (*s >= '0' && *s <= '9' && digits < 8) {
        n = n * 10 + (uint32_t)(*s - '0');
        s++;
        digits++;
    }
    if (digits == 0 || digits > 7 || (digits > 1 && **p == '0'))
        return -1;
    *p = s;
    *v = n;
    return 0;
}

/*
 * Checks the encoded string's head, "$argon2id$v=19$m=M,t=T,p=P$", and
 * its parameters against the bounds; libargon2 parses the rest.
 */
static int
encoded_ok(const char *e)
{
    static const char head[] = "$argon2id$v=19$m=";
    uint32_t m = 0, t = 0, par = 0;
    const char *p = e;

    if (strnlen(e, SN_PWHASH_MAX + 1) > SN_PWHASH_MAX ||
        strncmp(p, head, sizeof(head) - 1) != 0)
        return 0;
    p += sizeof(head) - 1;
    if (parse_u32(&p, &m) != 0 || strncmp(p, ",t=", 3) != 0)
        return 0;
    p += 3;
    if (parse_u32(&p, &t) != 0 || strncmp(p, ",p=", 3) != 0)
        return 0;
    p += 3;
    if (parse_u32(&p, &par) != 0 || *p != '$')
        return 0;
    return t >= 1 && t <= PW_T_COST_MAX && m <= PW_M_COST_MAX && par >= 1 &&
           par <= PW_PARALLEL_MAX;
}

int
sn_password_verify(const char *pw, const char *encoded)
{
    size_t n = strnlen(pw, SN_PASSWORD_MAX + 1);

    if (n > SN_PASSWORD_MAX || !encoded_ok(encoded))
        return 0;
    /*
     * argon2id_verify() decodes the string, hashes pw with its salt and
     * parameters, and compares the two hashes with argon2_compare(), which
     * ORs the XOR of every byte pair and looks at the result once: constant
     * time (libargon2 20171227, src/argon2.c, argon2_verify_ctx()). Any
     * failure, a malformed string included, is not ARGON2_OK.
     */
    return argon2id_verify(encoded, pw, n) == ARGON2_OK;
}

void
sn_password_dummy_verify(const char *pw)
{
    /* The answer is meaningless (and almost surely 0): only the time
     * spent counts. */
    (void)sn_password_verify(pw, dummy_hash);
}
