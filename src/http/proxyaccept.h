/*
 * proxyaccept: the acceptor of a listener behind a load balancer that
 * speaks the PROXY protocol v2 (proxy.protocol = v2). One thread per
 * listener accepts connections, hands on at once those whose peer is not
 * a proxy (not in proxy.trusted: served under their own address, nothing
 * read), and waits, in one poll() loop, for each proxy connection's
 * header (proxyproto.h) until a deadline. It reads exactly the
 * header and nothing after it (the client's TLS hello follows in the same
 * stream), then hands the socket on with the client's address from the
 * header (the peer's own for a LOCAL header). The bytes read are
 * untrusted.
 */
#ifndef SN_PROXYACCEPT_H
#define SN_PROXYACCEPT_H

#include <stddef.h>
#include <sys/socket.h>

#include "common/err.h"
#include "policy/keypolicy.h"

struct sn_proxy_accept;

struct sn_proxy_accept_opts {
    int fd; /* the listening socket */
    /* the peers that may send a header; must outlive the acceptor */
    const struct sn_cidr *trusted;
    size_t ntrusted;
    unsigned timeout_ms;  /* from accept to the header's last byte */
    unsigned max_pending; /* headers awaited at once; then the oldest goes */
    const char *name;     /* the listener in log lines: "api", "public" */
    /* Takes a connection whose header has been read: fd (non-blocking,
     * the callee's from the call on) and the client's address. Called on
     * the acceptor's thread. */
    void (*hand)(void *arg, int fd, const struct sockaddr *addr, socklen_t len);
    void *arg;
};

/* Starts the acceptor on o->fd, which it then owns (closed by
 * sn_proxy_accept_stop); on failure the caller keeps it. */
sn_err sn_proxy_accept_start(const struct sn_proxy_accept_opts *o,
                             struct sn_proxy_accept **out);
/* Stops the thread, closes the listening socket and every connection
 * still waiting for its header, and frees a (NULL: nothing). */
void sn_proxy_accept_stop(struct sn_proxy_accept *a);

#endif
