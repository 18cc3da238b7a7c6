/*
 * libFuzzer driver: the PROXY protocol v2 header parser
 * (src/http/proxyproto.c), which reads the first bytes of every
 * connection to a listener with proxy.protocol = v2. Checks what the
 * acceptor relies on: a header never claims bytes it was not given, a
 * request for more asks for more than it has, the answer does not depend
 * on the bytes after the header, and an address is one of the two
 * families with its own length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "http/proxyproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sn_proxy_hdr h, again;
    size_t need = 0, need2 = 0;
    sn_err r;

    r = sn_proxy_parse(data, size, &h, &need);
    if (r != SN_OK) {
        if (need != 0 || h.len != 0)
            abort();
        return 0;
    }
    if (need != 0) {
        /* Not enough yet: asks for more, within the limit. */
        if (need <= size || need > SN_PROXY_MAX || h.len != 0)
            abort();
        return 0;
    }
    if (h.len < SN_PROXY_FIXED || h.len > size || h.len > SN_PROXY_MAX)
        abort();
    if (h.cmd == SN_PROXY_PROXY ? !((h.src.ss_family == AF_INET &&
                                     h.srclen == sizeof(struct sockaddr_in)) ||
                                    (h.src.ss_family == AF_INET6 &&
                                     h.srclen == sizeof(struct sockaddr_in6)))
                                : (h.cmd != SN_PROXY_LOCAL || h.srclen != 0))
        abort();
    /* The header alone gives the same answer. */
    if (sn_proxy_parse(data, h.len, &again, &need2) != SN_OK || need2 != 0 ||
        memcmp(&h, &again, sizeof(h)) != 0)
        abort();
    return 0;
}
