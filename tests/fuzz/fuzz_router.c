/*
 * libFuzzer driver: the route matcher (src/http/router.c) over arbitrary
 * request lines. The input is "METHOD PATH" (split at the first space; the
 * first byte's low bit picks the plain listener). A match must be the
 * asked method, carry parameters only of the allowed length and alphabet,
 * and be found again the same way; the plain listener serves public routes
 * only.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_param(const char *p)
{
    size_t len = strnlen(p, SN_ROUTE_PARAM_MAX + 1), i;

    if (len > SN_ROUTE_PARAM_MAX)
        abort();
    for (i = 0; i < len; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '_' ||
              p[i] == '.'))
            abort();
}

static void
check_match(int plain, const char *method, const char *path,
            const struct sn_route *r, const struct sn_req *req)
{
    const struct sn_route *again;
    struct sn_req req2;
    int known, i;

    if (strcmp(r->method, method) != 0)
        abort();
    if (plain && !(r->flags & SN_ROUTE_PUB))
        abort();
    for (i = 0; i < SN_MAX_PARAMS; i++)
        check_param(req->params[i]);
    if (strnlen(req->tail, sizeof(req->tail)) >= sizeof(req->tail))
        abort();
    memset(&req2, 0, sizeof(req2));
    again = sn_router_find(plain, method, path, &req2, &known);
    if (again != r || memcmp(req2.params, req->params, sizeof(req->params)))
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct sn_route *r;
    char *buf, *sp, *method, *path;
    struct sn_req req;
    int plain, known;

    if (size == 0 || size > 8192)
        return 0;
    plain = data[0] & 1;
    if ((buf = malloc(size)) == NULL)
        return 0;
    /* NUL bytes end the strings early, as they would a C string. */
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    method = buf;
    if ((sp = strchr(buf, ' ')) != NULL) {
        *sp = '\0';
        path = sp + 1;
    } else
        path = buf + strlen(buf);
    memset(&req, 0, sizeof(req));
    r = sn_router_find(plain, method, path, &req, &known);
    if (r != NULL)
        check_match(plain, method, path, r, &req);
    free(buf);
    return 0;
}
