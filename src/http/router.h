/*
 * router: the route table and the matching of a request's method and path
 * against it. Both are untrusted bytes from the network; a path parameter
 * is accepted only within its length and alphabet. Pure: no MHD, no I/O,
 * no state beyond the constant table, so that it is unit-tested and fuzzed
 * on its own (tests/unit/test_router.c, tests/fuzz/fuzz_router.c).
 */
#ifndef SN_ROUTER_H
#define SN_ROUTER_H

#include <stddef.h>

#include "http/api.h"
#include "http/handlers.h"

/*
 * Whether a route needs a caller who has proved who they are. OPTIONAL
 * (issue 18, reports): a caller presenting a credential (a bearer token
 * or a client certificate) is authenticated, and refused if it does not
 * hold; one presenting none is anonymous work (see server.c), limited per
 * address.
 */
enum sn_route_auth { SN_ROUTE_OPEN, SN_ROUTE_AUTH, SN_ROUTE_OPTIONAL };

/* What a route's body is and how the server reads it. */
enum sn_route_body {
    SN_BODY_NONE,
    SN_BODY_JSON,  /* buffered up to the JSON limit, parsed before the call */
    SN_BODY_RAW,   /* buffered up to the JSON limit */
    SN_BODY_STREAM /* digested as it arrives, up to the file limit */
};

#define SN_ROUTE_PUB 1  /* also served on the plain-HTTP listener */
#define SN_ROUTE_SIGN 2 /* records go to the group commit (see server.c) */
/* Anonymous HSM work: its own queue and limits (see server.c). */
#define SN_ROUTE_ANON 4
#define SN_ROUTE_HEAVY 8 /* key generation: limited at once per tenant */
/* The request body carries a secret (a password, a code): wiped once the
 * request is done. */
#define SN_ROUTE_SECRET 16

struct sn_route {
    const char *method;
    const char *pattern; /* "{}" marks a parameter segment, "{*}" the rest */
    const char *name;    /* for metrics and audit records */
    enum sn_route_auth auth;
    enum sn_route_body body;
    sn_handler handler;  /* NULL: /metrics, answered by the server */
    sn_handler precheck; /* SN_BODY_STREAM only: before the body is read */
    unsigned flags;      /* SN_ROUTE_PUB, _SIGN, _ANON, _HEAVY */
};

/* The longest path parameter and "{*}" rest that match. */
#define SN_ROUTE_PARAM_MAX 64
#define SN_ROUTE_TAIL_MAX (sizeof(((struct sn_req *)0)->tail) - 1)

/*
 * Finds the route for method and path; plain: the plain-HTTP listener,
 * which serves public routes only. On a match, req->params and req->tail
 * are set and the route is returned; otherwise NULL, with *path_known 1 if
 * the path matched a route of another method (405 rather than 404). req
 * is left as it was when nothing matches.
 */
const struct sn_route *sn_router_find(int plain, const char *method,
                                      const char *path, struct sn_req *req,
                                      int *path_known);

/* The route table, for tests: *n routes. */
const struct sn_route *sn_router_table(size_t *n);

#endif
