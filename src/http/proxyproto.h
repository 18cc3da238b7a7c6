/*
 * proxyproto: the PROXY protocol version 2 header a load balancer (haproxy
 * with send-proxy-v2) sends before the client's bytes, naming the client's
 * address. Pure: bytes in, a validated, typed header out; no sockets, no
 * logging, no globals. The input is untrusted (anyone who can reach the
 * listener can send bytes); whether its sender may be believed is the
 * caller's decision (proxy.trusted).
 *
 * Accepted: the 12-byte signature, version 2, command LOCAL or PROXY,
 * TCP over IPv4 (0x11) or IPv6 (0x21), and UNSPEC (0x00) with LOCAL only;
 * an address block that covers the addresses; TLVs after them are skipped
 * unread. At most SN_PROXY_MAX bytes in all. Anything else is refused.
 */
#ifndef SN_PROXYPROTO_H
#define SN_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/err.h"

#define SN_PROXY_FIXED 16       /* signature, version/command, family, len */
#define SN_PROXY_MAX_BLOCK 1024 /* address block with its TLVs */
#define SN_PROXY_MAX (SN_PROXY_FIXED + SN_PROXY_MAX_BLOCK)

enum sn_proxy_cmd {
    SN_PROXY_LOCAL, /* the balancer's own connection (a health check) */
    SN_PROXY_PROXY  /* relayed for the client in src */
};

struct sn_proxy_hdr {
    size_t len; /* bytes of the header: exactly these are the balancer's */
    enum sn_proxy_cmd cmd;
    /* PROXY: the client's address and port (AF_INET or AF_INET6) and the
     * length of its sockaddr; LOCAL: zeroed */
    struct sockaddr_storage src;
    socklen_t srclen;
};

/*
 * Reads the header at the start of data[0..len). Three outcomes:
 * - SN_OK, *need 0: done; *out is the header (out->len bytes of data).
 * - SN_OK, *need > len: not enough yet; the header needs *need bytes in
 *   all (SN_PROXY_FIXED until its length is known). Bytes beyond *need
 *   are not the header's: never read them from the stream first.
 * - SN_ERR_INVALID: not a header this accepts (a wrong byte is refused as
 *   soon as it is seen, before the rest arrives); SN_ERR_LIMIT: longer
 *   than SN_PROXY_MAX.
 * *out is zeroed on entry and set only when done.
 */
sn_err sn_proxy_parse(const uint8_t *data, size_t len, struct sn_proxy_hdr *out,
                      size_t *need);

#endif
