/*
 * server: the HTTPS front end (libmicrohttpd over GnuTLS, TLS 1.2+) and its
 * thread pools, request body limits, and the one place where api codes
 * become HTTP statuses. The route table is router.h's; the "no record, no
 * signature" hand-off is gate.h's.
 */
#ifndef SN_HTTP_H
#define SN_HTTP_H

#include "http/deps.h"

struct sn_http;

/*
 * A listening socket on listen, "IPV4:PORT" or "[IPV6]:PORT", into *fd for
 * sn_http_start; signetd check only tries it. Bound here, not by the HTTP
 * library, so that a failure says why in the caller's words. On failure
 * *fd is -1 and why holds the reason ("Address already in use").
 */
sn_err sn_http_listen(const char *listen, int *fd, char *why, size_t whylen);
/*
 * Serves deps on fd (from sn_http_listen, the server's from the call on:
 * closed by sn_http_stop, or here on failure); plain: the public
 * plain-HTTP listener, serving public routes only. deps (and what it
 * points to) must outlive the server; opts is copied.
 */
sn_err sn_http_start(const struct sn_deps *deps,
                     const struct sn_http_opts *opts, int fd, int plain,
                     struct sn_http **out);
/*
 * Stops listening, lets in-flight requests finish (30 s at most) and frees
 * h. Returns non-zero if requests were still in flight: h is then left as
 * it is (a thread may be inside the HSM) and the caller must exit at once.
 */
int sn_http_stop(struct sn_http *h);

#endif
