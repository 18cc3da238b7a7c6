/*
 * test_router: the route table and path matching (src/http/router.c):
 * methods, parameters, the plain listener's public routes, unknown and
 * malformed paths. Inputs here stand for untrusted request lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

static const struct sn_route *
find(int plain, const char *method, const char *path, struct sn_req *req,
     int *known)
{
    memset(req, 0, sizeof(*req));
    return sn_router_find(plain, method, path, req, known);
}

static void
test_plain_routes(void **state)
{
    struct sn_req req;
    const struct sn_route *r;
    int known;

    (void)state;
    r = find(0, "GET", "/healthz", &req, &known);
    assert_non_null(r);
    assert_ptr_equal(r->handler, sn_h_healthz);
    assert_int_equal(r->auth, SN_ROUTE_OPEN);
    r = find(0, "GET", "/metrics", &req, &known);
    assert_non_null(r);
    assert_null(r->handler);
    assert_int_equal(r->auth, SN_ROUTE_AUTH);
    r = find(0, "GET", "/v1/keys", &req, &known);
    assert_non_null(r);
    assert_ptr_equal(r->handler, sn_h_key_list);
    assert_int_equal(r->auth, SN_ROUTE_AUTH);
    r = find(0, "POST", "/v1/keys/import", &req, &known);
    assert_non_null(r);
    assert_ptr_equal(r->handler, sn_h_key_import);
}

static void
test_params(void **state)
{
    struct sn_req req;
    const struct sn_route *r;
    int known;

    (void)state;
    r = find(0, "POST", "/v1/keys/abc-123_x.y/sign", &req, &known);
    assert_non_null(r);
    assert_ptr_equal(r->handler, sn_h_sign);
    assert_true(r->flags & SN_ROUTE_SIGN);
    assert_string_equal(req.params[0], "abc-123_x.y");
    assert_string_equal(r->name, "/v1/keys/{id}/sign");
    r = find(0, "POST", "/v1/keys/k1/sign-file", &req, &known);
    assert_non_null(r);
    assert_int_equal(r->body, SN_BODY_STREAM);
    assert_ptr_equal(r->precheck, sn_h_sign_file_check);
    r = find(0, "GET", "/ca/crl/issuing", &req, &known);
    assert_non_null(r);
    assert_string_equal(req.params[0], "issuing");
    r = find(0, "GET", "/ca/ocsp/MEUwQz%2BA/B=", &req, &known);
    assert_non_null(r);
    assert_ptr_equal(r->handler, sn_h_ca_ocsp);
    assert_string_equal(req.tail, "MEUwQz%2BA/B=");
}

static void
test_param_limits(void **state)
{
    char path[2200], id[80];
    struct sn_req req;
    int known;

    (void)state;
    memset(id, 'a', 64);
    id[64] = '\0';
    snprintf(path, sizeof(path), "/v1/keys/%s", id);
    assert_non_null(find(0, "GET", path, &req, &known));
    assert_string_equal(req.params[0], id);
    id[64] = 'a';
    id[65] = '\0';
    snprintf(path, sizeof(path), "/v1/keys/%s", id);
    assert_null(find(0, "GET", path, &req, &known));
    assert_int_equal(known, 0);
    /* An OCSP tail of 2047 bytes fits, 2048 does not. */
    memcpy(path, "/ca/ocsp/", 9);
    memset(path + 9, 'A', 2047);
    path[9 + 2047] = '\0';
    assert_non_null(find(0, "GET", path, &req, &known));
    assert_int_equal(strlen(req.tail), 2047);
    path[9 + 2047] = 'A';
    path[9 + 2048] = '\0';
    assert_null(find(0, "GET", path, &req, &known));
}

static void
test_methods(void **state)
{
    struct sn_req req;
    int known;

    (void)state;
    assert_null(find(0, "PUT", "/v1/keys", &req, &known));
    assert_int_equal(known, 1);
    assert_null(find(0, "get", "/healthz", &req, &known));
    assert_int_equal(known, 1);
    assert_non_null(find(0, "DELETE", "/v1/keys/k1", &req, &known));
    assert_non_null(find(0, "GET", "/v1/keys/k1", &req, &known));
    assert_null(find(0, "", "/v1/keys/k1", &req, &known));
    assert_int_equal(known, 1);
}

static void
test_plain_listener(void **state)
{
    struct sn_req req;
    int known;

    (void)state;
    /* Only the public routes are served over plain HTTP. */
    assert_non_null(find(1, "POST", "/tsa", &req, &known));
    assert_non_null(find(1, "GET", "/ca/crl", &req, &known));
    assert_non_null(find(1, "GET", "/ca/root.cer", &req, &known));
    assert_null(find(1, "GET", "/v1/keys", &req, &known));
    assert_int_equal(known, 0);
    assert_null(find(1, "GET", "/healthz", &req, &known));
    assert_null(find(1, "POST", "/v1/keys/k1/sign", &req, &known));
    assert_int_equal(known, 0);
}

static void
test_weird_paths(void **state)
{
    static const char *const bad[] = {
        "",
        "/",
        "//",
        "/v1/keys/",
        "/v1/keys//sign",
        "/v1/keys/../keys",
        "/v1/keys/a%00b",
        "/v1/keys/a b",
        "/v1/keys/k1/sign/",
        "/v1/keys/k1/sign?x",
        "/healthz/",
        "healthz",
        "/HEALTHZ",
        "/ca/ocsp/",
        "/ca/ocsp/a?b",
        "/ca/crl/a/b",
        "/v1/keys/k1/certificate/x",
    };
    struct sn_req req;
    size_t i;
    int known;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (find(0, "GET", bad[i], &req, &known) != NULL ||
            find(0, "POST", bad[i], &req, &known) != NULL)
            fail_msg("'%s' matched a route", bad[i]);
    }
}

/* A failed match leaves the request as it was. */
static void
test_no_match_leaves_req(void **state)
{
    struct sn_req req;
    int known;

    (void)state;
    memset(&req, 0, sizeof(req));
    assert_null(sn_router_find(0, "GET", "/v1/keys/ok/nope", &req, &known));
    assert_string_equal(req.params[0], "");
    assert_string_equal(req.tail, "");
}

/* Every route of the table is found by its own pattern. */
static void
test_table_complete(void **state)
{
    const struct sn_route *t, *r;
    char path[128], *o;
    const char *p;
    struct sn_req req;
    size_t n, i;
    int known;

    (void)state;
    t = sn_router_table(&n);
    assert_true(n > 30);
    for (i = 0; i < n; i++) {
        o = path;
        for (p = t[i].pattern; *p != '\0';) {
            if (strncmp(p, "{}", 2) == 0) {
                memcpy(o, "x1", 2);
                o += 2;
                p += 2;
            } else if (strncmp(p, "{*}", 3) == 0) {
                memcpy(o, "QQ==", 4);
                o += 4;
                p += 3;
            } else
                *o++ = *p++;
        }
        *o = '\0';
        r = find(0, t[i].method, path, &req, &known);
        if (r == NULL)
            fail_msg("%s %s: no route", t[i].method, path);
        assert_string_equal(r->method, t[i].method);
        if (t[i].flags & SN_ROUTE_PUB)
            assert_non_null(find(1, t[i].method, path, &req, &known));
        else if (find(1, t[i].method, path, &req, &known) != NULL)
            fail_msg("%s %s: served on the plain listener", t[i].method, path);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_routes),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_param_limits),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_plain_listener),
        cmocka_unit_test(test_weird_paths),
        cmocka_unit_test(test_no_match_leaves_req),
        cmocka_unit_test(test_table_complete),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
