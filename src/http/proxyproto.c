/*
 * proxyproto: the PROXY protocol v2 header (see proxyproto.h). Input is
 * untrusted: every field is read through a bounded cursor whose failure
 * is sticky, and every length is checked before it is used.
 */
#include "http/proxyproto.h"

#include <netinet/in.h>
#include <string.h>

static const uint8_t signature[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                      0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

#define VERSION 0x20 /* the high nibble of byte 12 */
#define CMD_LOCAL 0x00
#define CMD_PROXY 0x01
#define FAM_UNSPEC 0x00
#define FAM_TCP4 0x11
#define FAM_TCP6 0x21
#define ADDRS_TCP4 12 /* two IPv4 addresses, two ports */
#define ADDRS_TCP6 36 /* two IPv6 addresses, two ports */

/* A read position in bytes that are all there; a read past the end fails
 * the cursor for good and yields zeros. */
struct cursor {
    const uint8_t *p;
    size_t left;
    int failed;
};

static void
take(struct cursor *c, void *dst, size_t n)
{
    if (c->failed || n > c->left) {
        c->failed = 1;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, c->p, n);
    c->p += n;
    c->left -= n;
}

static uint8_t
take_u8(struct cursor *c)
{
    uint8_t v;

    take(c, &v, 1);
    return v;
}

static uint16_t
take_u16(struct cursor *c)
{
    uint8_t b[2];

    take(c, b, 2);
    return (uint16_t)((b[0] << 8) | b[1]);
}

static void
skip(struct cursor *c, size_t n)
{
    if (c->failed || n > c->left) {
        c->failed = 1;
        return;
    }
    c->p += n;
    c->left -= n;
}

/* The address block's minimum for a family byte, or -1 if refused. */
static int
addrs_len(uint8_t cmd, uint8_t fam)
{
    switch (fam) {
    case FAM_TCP4:
        return ADDRS_TCP4;
    case FAM_TCP6:
        return ADDRS_TCP6;
    case FAM_UNSPEC:
        return cmd == CMD_LOCAL ? 0 : -1;
    default:
        return -1;
    }
}

/* The bytes of the fixed part that are there, each refused as soon as it
 * is wrong. 1 if those are acceptable. */
static int
fixed_ok(const uint8_t *data, size_t len)
{
    size_t n = len < sizeof(signature) ? len : sizeof(signature);

    if (memcmp(data, signature, n) != 0)
        return 0;
    if (len > 12 &&
        ((data[12] & 0xf0) != VERSION ||
         ((data[12] & 0x0f) != CMD_LOCAL && (data[12] & 0x0f) != CMD_PROXY)))
        return 0;
    if (len > 13 && addrs_len(data[12] & 0x0f, data[13]) < 0)
        return 0;
    return 1;
}

/* The source address of a PROXY header's block into out. */
static void
take_source(struct cursor *c, uint8_t fam, struct sn_proxy_hdr *out)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)&out->src;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->src;
    uint8_t dst[16];

    if (fam == FAM_TCP4) {
        s4->sin_family = AF_INET;
        take(c, &s4->sin_addr, 4);
        take(c, dst, 4);
        s4->sin_port = htons(take_u16(c));
        out->srclen = sizeof(*s4);
    } else {
        s6->sin6_family = AF_INET6;
        take(c, &s6->sin6_addr, 16);
        take(c, dst, 16);
        s6->sin6_port = htons(take_u16(c));
        out->srclen = sizeof(*s6);
    }
    (void)take_u16(c); /* the destination port */
}

sn_err
sn_proxy_parse(const uint8_t *data, size_t len, struct sn_proxy_hdr *out,
               size_t *need)
{
    struct sn_proxy_hdr h;
    struct cursor c = {data, len, 0};
    uint8_t sig[sizeof(signature)], vc, fam;
    size_t block, total;
    int min;

    memset(out, 0, sizeof(*out));
    *need = 0;
    memset(&h, 0, sizeof(h));
    if (!fixed_ok(data, len))
        return SN_ERR_INVALID;
    if (len < SN_PROXY_FIXED) {
        *need = SN_PROXY_FIXED;
        return SN_OK;
    }
    take(&c, sig, sizeof(sig));
    vc = take_u8(&c);
    fam = take_u8(&c);
    block = take_u16(&c);
    min = addrs_len(vc & 0x0f, fam);
    if (c.failed || min < 0)
        return SN_ERR_INVALID;
    if (block > SN_PROXY_MAX_BLOCK)
        return SN_ERR_LIMIT;
    if (block < (size_t)min)
        return SN_ERR_INVALID;
    total = SN_PROXY_FIXED + block;
    if (len < total) {
        *need = total;
        return SN_OK;
    }
    /* The block alone: what follows the header is the client's. */
    c.left = block;
    h.len = total;
    if ((vc & 0x0f) == CMD_PROXY) {
        h.cmd = SN_PROXY_PROXY;
        take_source(&c, fam, &h);
    } else {
        h.cmd = SN_PROXY_LOCAL;
        skip(&c, (size_t)min);
    }
    /* TLVs (ALPN, authority, CRC32C, ...): skipped, not read. */
    skip(&c, c.left);
    if (c.failed)
        return SN_ERR_INVALID;
    *out = h;
    return SN_OK;
}
