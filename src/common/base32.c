/*
 * base32: RFC 4648 section 6, no padding. The decoder takes untrusted text
 * and checks every character and the trailing bits before writing.
 */
#include "common/base32.h"

#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void
sn_base32_encode(const uint8_t *in, size_t len, char *out)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        acc = (acc << 8) | in[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = alphabet[(acc >> bits) & 0x1f];
        }
    }
    /* The last group's low bits are zero (RFC 4648 section 6). */
    if (bits > 0)
        out[o++] = alphabet[(acc << (5 - bits)) & 0x1f];
    out[o] = '\0';
}

static int
value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

sn_err
sn_base32_decode(const char *in, uint8_t *out, size_t max, size_t *outlen)
{
    size_t len = strlen(in), i, o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    int v;

    *outlen = 0;
    /* A final group of 1, 3 or 6 characters encodes no whole byte. */
    if (len % 8 == 1 || len % 8 == 3 || len % 8 == 6)
        return SN_ERR_INVALID;
    if (len / 8 * 5 + (len % 8) * 5 / 8 > max)
        return SN_ERR_LIMIT;
    for (i = 0; i < len; i++)
        if (value(in[i]) < 0)
            return SN_ERR_INVALID;
    /* The last character's unused low bits must be zero: one text per
     * value. */
    if (len % 8 != 0 && (value(in[len - 1]) & ((1 << (5 * (len % 8) % 8)) - 1)))
        return SN_ERR_INVALID;
    for (i = 0; i < len; i++) {
        v = value(in[i]);
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
        acc &= (1u << bits) - 1;
    }
    *outlen = o;
    return SN_OK;
}
