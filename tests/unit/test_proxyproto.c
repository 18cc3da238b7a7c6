/*
 * test_proxyproto: src/http/proxyproto.c, the PROXY protocol v2 header.
 * Headers are built byte by byte here (as haproxy sends them), not by
 * Signet's code. Valid headers of each kind, every prefix of them (need
 * more, never an answer from bytes not there), and each refusal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "http/proxyproto.h"

static const uint8_t sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* A header: signature, ver_cmd, fam, then block (its length written). */
static size_t
build(uint8_t *out, uint8_t vc, uint8_t fam, const uint8_t *block, size_t blen)
{
    memcpy(out, sig, 12);
    out[12] = vc;
    out[13] = fam;
    out[14] = (uint8_t)(blen >> 8);
    out[15] = (uint8_t)blen;
    if (blen > 0)
        memcpy(out + 16, block, blen);
    return 16 + blen;
}

/* 192.0.2.7:40000 -> 198.51.100.1:8443 */
static const uint8_t v4_block[12] = {192, 0, 2,    7,    198,  51,
                                     100, 1, 0x9c, 0x40, 0x20, 0xfb};

static size_t
v4_header(uint8_t *out)
{
    return build(out, 0x21, 0x11, v4_block, sizeof(v4_block));
}

static void
test_v4(void **state)
{
    uint8_t b[64 + 8];
    struct sn_proxy_hdr h;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&h.src;
    char addr[INET_ADDRSTRLEN];
    size_t n, need;

    (void)state;
    n = v4_header(b);
    /* The client's first bytes follow: not the header's. */
    memcpy(b + n, "\x16\x03\x01\x02\x00", 5);
    assert_int_equal(sn_proxy_parse(b, n + 5, &h, &need), SN_OK);
    assert_int_equal(need, 0);
    assert_int_equal(h.len, 28);
    assert_int_equal(h.cmd, SN_PROXY_PROXY);
    assert_int_equal(h.srclen, sizeof(struct sockaddr_in));
    assert_int_equal(s4->sin_family, AF_INET);
    assert_non_null(inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr)));
    assert_string_equal(addr, "192.0.2.7");
    assert_int_equal(ntohs(s4->sin_port), 40000);
}

static void
test_v6(void **state)
{
    uint8_t blk[36], b[64];
    struct sn_proxy_hdr h;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h.src;
    char addr[INET6_ADDRSTRLEN];
    size_t n, need;

    (void)state;
    memset(blk, 0, sizeof(blk));
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", blk), 1);
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", blk + 16), 1);
    blk[32] = 0x01; /* port 443 */
    blk[33] = 0xbb;
    blk[34] = 0x20;
    blk[35] = 0xfb;
    n = build(b, 0x21, 0x21, blk, sizeof(blk));
    assert_int_equal(sn_proxy_parse(b, n, &h, &need), SN_OK);
    assert_int_equal(need, 0);
    assert_int_equal(h.len, 52);
    assert_int_equal(h.cmd, SN_PROXY_PROXY);
    assert_int_equal(h.srclen, sizeof(struct sockaddr_in6));
    assert_int_equal(s6->sin6_family, AF_INET6);
    assert_non_null(inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr)));
    assert_string_equal(addr, "2001:db8::7");
    assert_int_equal(ntohs(s6->sin6_port), 443);
}

/* haproxy's health checks: LOCAL, UNSPEC, no block. And LOCAL with
 * addresses: they are the balancer's own, not a client's. */
static void
test_local(void **state)
{
    uint8_t b[64];
    struct sn_proxy_hdr h;
    size_t n, need;

    (void)state;
    n = build(b, 0x20, 0x00, NULL, 0);
    assert_int_equal(sn_proxy_parse(b, n, &h, &need), SN_OK);
    assert_int_equal(need, 0);
    assert_int_equal(h.len, 16);
    assert_int_equal(h.cmd, SN_PROXY_LOCAL);
    assert_int_equal(h.srclen, 0);
    assert_int_equal(h.src.ss_family, 0);

    n = build(b, 0x20, 0x11, v4_block, sizeof(v4_block));
    assert_int_equal(sn_proxy_parse(b, n, &h, &need), SN_OK);
    assert_int_equal(h.len, 28);
    assert_int_equal(h.cmd, SN_PROXY_LOCAL);
    assert_int_equal(h.srclen, 0);
}

/* TLVs after the addresses are skipped, whatever they hold, up to the
 * largest block. */
static void
test_tlvs(void **state)
{
    uint8_t blk[SN_PROXY_MAX_BLOCK], b[SN_PROXY_MAX + 4];
    struct sn_proxy_hdr h;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&h.src;
    size_t n, need;

    (void)state;
    memcpy(blk, v4_block, sizeof(v4_block));
    /* PP2_TYPE_ALPN "h2", then a TLV whose length runs past the block:
     * not read, so not refused. */
    memcpy(blk + 12, "\x01\x00\x02h2\x04\xff\xff", 8);
    n = build(b, 0x21, 0x11, blk, 20);
    assert_int_equal(sn_proxy_parse(b, n, &h, &need), SN_OK);
    assert_int_equal(h.len, 36);
    assert_int_equal(ntohs(s4->sin_port), 40000);

    memset(blk + 12, 0xee, sizeof(blk) - 12);
    n = build(b, 0x21, 0x11, blk, sizeof(blk));
    assert_int_equal(n, SN_PROXY_MAX);
    assert_int_equal(sn_proxy_parse(b, n, &h, &need), SN_OK);
    assert_int_equal(h.len, SN_PROXY_MAX);
}

/* Every prefix of a valid header asks for more: first the fixed part,
 * then the whole; never done early. */
static void
test_prefixes(void **state)
{
    uint8_t b[64];
    struct sn_proxy_hdr h;
    size_t n, i, need;

    (void)state;
    n = v4_header(b);
    for (i = 0; i < n; i++) {
        assert_int_equal(sn_proxy_parse(b, i, &h, &need), SN_OK);
        assert_int_equal(need, i < 16 ? 16 : n);
        assert_int_equal(h.len, 0);
    }
}

static void
refused(const uint8_t *b, size_t n, sn_err want)
{
    struct sn_proxy_hdr h;
    size_t need = 99;

    assert_int_equal(sn_proxy_parse(b, n, &h, &need), want);
    assert_int_equal(need, 0);
    assert_int_equal(h.len, 0);
    assert_int_equal(h.srclen, 0);
}

/* A wrong signature byte, wherever it is, as soon as it arrives: a TLS
 * ClientHello or an HTTP request is refused at its first byte. */
static void
test_bad_signature(void **state)
{
    uint8_t b[64];
    size_t n, i;

    (void)state;
    refused((const uint8_t *)"\x16\x03\x01", 1, SN_ERR_INVALID);
    refused((const uint8_t *)"GET / HTTP/1.1\r\n", 16, SN_ERR_INVALID);
    /* v1's text form is not accepted. */
    refused((const uint8_t *)"PROXY TCP4 192.0.2.7 ", 21, SN_ERR_INVALID);
    for (i = 0; i < 12; i++) {
        n = v4_header(b);
        b[i] ^= 0x40;
        refused(b, i + 1, SN_ERR_INVALID);
        refused(b, n, SN_ERR_INVALID);
    }
}

static void
test_bad_version_command(void **state)
{
    static const uint8_t vcs[] = {0x11, 0x10, 0x31, 0x01,
                                  0x22, 0x2f, 0xf1, 0x00};
    uint8_t b[64];
    size_t n, i;

    (void)state;
    for (i = 0; i < sizeof(vcs); i++) {
        n = build(b, vcs[i], 0x11, v4_block, sizeof(v4_block));
        refused(b, 13, SN_ERR_INVALID);
        refused(b, n, SN_ERR_INVALID);
    }
}

/* UDP, UNIX sockets, unknown families; UNSPEC with PROXY (whose client
 * would then be unknown). */
static void
test_bad_family(void **state)
{
    static const uint8_t fams[] = {0x12, 0x22, 0x31, 0x32, 0x01,
                                   0x10, 0x13, 0x41, 0xff};
    uint8_t blk[216], b[256];
    size_t n, i;

    (void)state;
    memset(blk, 0, sizeof(blk));
    for (i = 0; i < sizeof(fams); i++) {
        n = build(b, 0x21, fams[i], blk, sizeof(blk));
        refused(b, 14, SN_ERR_INVALID);
        refused(b, n, SN_ERR_INVALID);
        n = build(b, 0x20, fams[i], blk, sizeof(blk));
        refused(b, n, SN_ERR_INVALID);
    }
    n = build(b, 0x21, 0x00, NULL, 0);
    refused(b, n, SN_ERR_INVALID);
    n = build(b, 0x21, 0x00, blk, 12);
    refused(b, 14, SN_ERR_INVALID);
}

/* A block shorter than its family's addresses is refused from the fixed
 * part alone (no wait for bytes that would not help); one past the limit
 * too. */
static void
test_bad_length(void **state)
{
    uint8_t blk[64], b[128];
    size_t n;

    (void)state;
    memset(blk, 0, sizeof(blk));
    n = build(b, 0x21, 0x11, blk, 11);
    refused(b, 16, SN_ERR_INVALID);
    refused(b, n, SN_ERR_INVALID);
    n = build(b, 0x21, 0x21, blk, 35);
    refused(b, 16, SN_ERR_INVALID);
    refused(b, n, SN_ERR_INVALID);
    n = build(b, 0x20, 0x21, blk, 12);
    refused(b, n, SN_ERR_INVALID);
    n = build(b, 0x21, 0x11, blk, 0);
    refused(b, n, SN_ERR_INVALID);
    /* 1025 and 65535: refused before a byte of the block is awaited. */
    build(b, 0x21, 0x11, NULL, 0);
    b[14] = 0x04;
    b[15] = 0x01;
    refused(b, 16, SN_ERR_LIMIT);
    b[14] = 0xff;
    b[15] = 0xff;
    refused(b, 16, SN_ERR_LIMIT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4),
        cmocka_unit_test(test_v6),
        cmocka_unit_test(test_local),
        cmocka_unit_test(test_tlvs),
        cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_bad_version_command),
        cmocka_unit_test(test_bad_family),
        cmocka_unit_test(test_bad_length),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
