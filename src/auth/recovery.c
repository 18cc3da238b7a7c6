/*
 * recovery: codes from OpenSSL's DRBG; hashes of what a person typed
 * (untrusted: bounded and normalised before hashing).
 */
#include "auth/recovery.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/util.h"

#define CODE_CHARS 16 /* 80 bits, 5 a character */
#define GROUP 4
/* What a person may type around the 16 characters: dashes and spaces. */
#define TYPED_MAX 64

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

/* One code from 80 random bits, dashed every GROUP characters: character
 * i is bits 5i..5i+4 of the bytes read as one big-endian number. */
static sn_err
one_code(char out[SN_RECOVERY_CODE_SIZE])
{
    uint8_t raw[CODE_CHARS * 5 / 8];
    unsigned bit, w;
    size_t i, o = 0;
    sn_err r;

    if ((r = sn_random(raw, sizeof(raw))) != SN_OK)
        return r;
    for (i = 0; i < CODE_CHARS; i++) {
        if (i > 0 && i % GROUP == 0)
            out[o++] = '-';
        bit = 5 * (unsigned)i;
        w = (unsigned)raw[bit / 8] << 8;
        if (bit / 8 + 1 < sizeof(raw))
            w |= raw[bit / 8 + 1];
        out[o++] = alphabet[(w >> (11 - bit % 8)) & 0x1f];
    }
    out[o] = '\0';
    OPENSSL_cleanse(raw, sizeof(raw));
    return SN_OK;
}

sn_err
sn_recovery_new(char codes[][SN_RECOVERY_CODE_SIZE], size_t n)
{
    size_t i = 0, j, tries = 0;
    sn_err r = SN_OK;

    while (i < n) {
        /* 80 bits rarely repeat, but the set must be distinct; a DRBG
         * that keeps repeating itself is broken, not unlucky. */
        if (tries++ > n + 16) {
            r = SN_ERR_CRYPTO;
            goto out;
        }
        if ((r = one_code(codes[i])) != SN_OK)
            goto out;
        for (j = 0; j < i && strcmp(codes[i], codes[j]) != 0; j++)
            ;
        if (j == i)
            i++;
    }
out:
    if (r != SN_OK)
        OPENSSL_cleanse(codes, n * SN_RECOVERY_CODE_SIZE);
    return r;
}

sn_err
sn_recovery_hash(const char *code, uint8_t out[32])
{
    char norm[CODE_CHARS + 1];
    size_t i, n = 0, len = strnlen(code, TYPED_MAX + 1);
    unsigned int hl = 0;
    sn_err r = SN_ERR_INVALID;
    char c;

    memset(out, 0, 32);
    if (len > TYPED_MAX)
        goto out;
    for (i = 0; i < len; i++) {
        c = code[i];
        if (c == '-' || c == ' ')
            continue;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) ||
            n == CODE_CHARS)
            goto out;
        norm[n++] = c;
    }
    if (n != CODE_CHARS)
        goto out;
    norm[n] = '\0';
    r = SN_ERR_CRYPTO;
    if (EVP_Digest(norm, n, out, &hl, EVP_sha256(), NULL) != 1 || hl != 32) {
        memset(out, 0, 32);
        goto out;
    }
    r = SN_OK;
out:
    OPENSSL_cleanse(norm, sizeof(norm));
    return r;
}
