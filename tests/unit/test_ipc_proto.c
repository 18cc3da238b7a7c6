/*
 * test_ipc_proto: src/ipc/proto.c, the keeper protocol's codec. The
 * expected frames are written byte by byte here from this file's own copy
 * of the schema (docs/ipc.md), not by proto.c: every type round-trips in
 * both directions, every field is tried at its bounds and one past them,
 * and each malformed frame the keeper must refuse is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ipc/proto.h"

#define NF SN_KP_MAX_FIELDS
#define DER 65536
#define CRL (SN_KP_MAX_BODY - 64)

struct tf {
    char kind;
    uint64_t min, max;
};

struct tdef {
    uint8_t type;
    const char *name;
    size_t nreq;
    struct tf req[NF];
    size_t nrep;
    struct tf rep[NF];
};

/* clang-format off */
#define U(max) {'u', 0, (max)}
#define S(min, max) {'s', (min), (max)}
#define B(min, max) {'b', (min), (max)}
/* clang-format on */

/* The schema as the brief and docs/ipc.md state it. */
static const struct tdef defs[] = {
    {SN_KP_PING, "ping", 0, {{0}}, 0, {{0}}},
    {SN_KP_TOKEN_CREATE,
     "token_create",
     2,
     {S(1, 64), S(1, 128)},
     2,
     {S(1, 64), B(0, 512)}},
    {SN_KP_TOKEN_OPEN,
     "token_open",
     3,
     {S(1, 64), S(1, 128), B(0, 512)},
     1,
     {S(1, 64)}},
    {SN_KP_KEY_GENERATE,
     "key_generate",
     4,
     {S(1, 64), S(1, 64), U(255), U(INT64_MAX)},
     7,
     {B(1, 4096), B(5, 5), S(0, 64), S(0, 64), S(0, 64), S(0, 64),
      B(1, 16384)}},
    {SN_KP_KEY_DESTROY, "key_destroy", 2, {S(1, 64), S(1, 64)}, 0, {{0}}},
    {SN_KP_SIGN_DIGEST,
     "sign_digest",
     5,
     {S(1, 64), S(1, 64), U(255), U(255), B(1, 64)},
     1,
     {B(1, 1024)}},
    {SN_KP_SIGN_CERT,
     "sign_cert",
     3,
     {U(255), B(1, DER), B(0, 16384)},
     1,
     {B(1, DER)}},
    {SN_KP_SIGN_CRL, "sign_crl", 2, {U(255), B(1, CRL)}, 1, {B(1, CRL)}},
    {SN_KP_SIGN_OCSP, "sign_ocsp", 2, {U(255), B(1, DER)}, 1, {B(1, DER)}},
    {SN_KP_SIGN_TST, "sign_tst", 2, {S(1, 64), B(1, 16384)}, 1, {B(1, DER)}},
    {SN_KP_SIGN_TS_PKCS7,
     "sign_ts_pkcs7",
     2,
     {S(1, 64), B(1, DER)},
     1,
     {B(1, 2 * DER)}},
    {SN_KP_SIGN_CHECKPOINT,
     "sign_checkpoint",
     2,
     {B(1, 4096), B(0, 8 + 64 * 32)},
     1,
     {B(64, 64)}},
    {SN_KP_SIGN_NOTICE, "sign_notice", 1, {B(1, DER)}, 1, {B(64, 64)}},
    {SN_KP_SEAL, "seal", 2, {S(1, 256), B(1, 1024)}, 1, {B(1, 1053)}},
    {SN_KP_UNSEAL, "unseal", 2, {S(1, 256), B(1, 1053)}, 1, {B(0, 1024)}},
    {SN_KP_PUBKEYS,
     "pubkeys",
     0,
     {{0}},
     4,
     {B(32, 32), B(32, 32), U(255), U(INT64_MAX)}},
    {SN_KP_TSA_KEYGEN, "tsa_keygen", 2, {S(1, 64), U(255)}, 1, {B(1, 4096)}},
    {SN_KP_TSA_USE, "tsa_use", 2, {S(1, 64), B(1, DER)}, 0, {{0}}},
    {SN_KP_TSA_DESTROY, "tsa_destroy", 1, {S(1, 64)}, 0, {{0}}},
};
#define NDEFS (sizeof(defs) / sizeof(defs[0]))

/* An ERR's code is an sn_err, never SN_OK. */
static const struct tf err_def[NF] = {{'u', 1, 1000}, S(0, 200)};

/* One field's value: u, or len bytes at p (NUL-terminated for 's'). */
struct val {
    uint64_t u;
    uint8_t *p;
    size_t len;
};

static void
set_val(const struct tf *f, struct val *v, size_t len, uint64_t u, int salt)
{
    size_t i;

    v->u = u;
    v->len = 0;
    v->p = NULL;
    if (f->kind == 'u')
        return;
    v->p = calloc(1, len + 1);
    assert_non_null(v->p);
    for (i = 0; i < len; i++)
        v->p[i] = f->kind == 's' ? (uint8_t)('a' + (i + salt) % 26)
                                 : (uint8_t)(i * 7 + salt);
    v->len = len;
}

/* A typical value: the integer's maximum, up to 40 bytes otherwise. */
static void
typical(const struct tf *f, struct val *v, int salt)
{
    size_t len = f->max < 40 ? f->max : (f->min > 40 ? f->min : 40);

    set_val(f, v, len, f->max, salt);
}

static void
free_vals(struct val *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(v[i].p);
        v[i].p = NULL;
    }
}

static void
put_be(uint8_t *p, uint64_t v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

/* The frame, written by hand: header, then each field. */
static uint8_t *
hand_frame(uint8_t type, const struct tf *f, const struct val *v, size_t n,
           size_t *len)
{
    size_t i, body = 0, at = SN_KP_HDR;
    uint8_t *out;

    for (i = 0; i < n; i++)
        body += f[i].kind == 'u' ? 8 : 4 + v[i].len;
    out = calloc(1, SN_KP_HDR + body + 1);
    assert_non_null(out);
    put_be(out, body, 4);
    out[4] = SN_KP_VERSION;
    out[5] = type;
    for (i = 0; i < n; i++) {
        if (f[i].kind == 'u') {
            put_be(out + at, v[i].u, 8);
            at += 8;
            continue;
        }
        put_be(out + at, v[i].len, 4);
        if (v[i].len > 0)
            memcpy(out + at + 4, v[i].p, v[i].len);
        at += 4 + v[i].len;
    }
    *len = at;
    return out;
}

static sn_err
build(uint8_t type, uint8_t req, const struct tf *f, const struct val *v,
      size_t n, uint8_t **frame, size_t *len)
{
    struct sn_kp_out o;
    size_t i;

    sn_kp_begin(&o, type, req);
    for (i = 0; i < n; i++) {
        if (f[i].kind == 'u')
            sn_kp_u(&o, v[i].u);
        else if (f[i].kind == 's')
            sn_kp_s(&o, (const char *)v[i].p);
        else
            sn_kp_b(&o, v[i].p, v[i].len);
    }
    return sn_kp_finish(&o, frame, len);
}

static void
check_fields(const struct sn_kp_msg *m, uint8_t type, const struct tf *f,
             const struct val *v, size_t n)
{
    size_t i;

    assert_int_equal(m->type, type);
    assert_int_equal(m->nf, n);
    for (i = 0; i < n; i++) {
        if (f[i].kind == 'u') {
            assert_int_equal(m->f[i].u, v[i].u);
            continue;
        }
        assert_int_equal(m->f[i].len, v[i].len);
        if (v[i].len > 0)
            assert_memory_equal(m->f[i].p, v[i].p, v[i].len);
    }
}

/* Builds with proto.c, compares with the hand frame, decodes it back. */
static void
round_trip(uint8_t type, uint8_t req, const struct tf *f, const struct val *v,
           size_t n)
{
    uint8_t *want, *got = NULL, htype;
    size_t wlen, glen, blen;
    struct sn_kp_msg m;

    want = hand_frame(type, f, v, n, &wlen);
    assert_int_equal(build(type, req, f, v, n, &got, &glen), SN_OK);
    assert_int_equal(glen, wlen);
    assert_memory_equal(got, want, wlen);
    assert_int_equal(sn_kp_header(want, &htype, &blen, NULL), SN_OK);
    assert_int_equal(htype, type);
    assert_int_equal(blen, wlen - SN_KP_HDR);
    assert_int_equal(sn_kp_decode(htype, req, want + SN_KP_HDR, blen, &m),
                     SN_OK);
    check_fields(&m, type, f, v, n);
    free(got);
    free(want);
}

/* Both the decoder (on the hand frame) and the builder refuse it. */
static void
refused(uint8_t type, uint8_t req, const struct tf *f, const struct val *v,
        size_t n)
{
    uint8_t *want, *got = (uint8_t *)"x";
    size_t wlen, glen = 1;
    struct sn_kp_msg m;

    want = hand_frame(type, f, v, n, &wlen);
    memset(&m, 0xa5, sizeof(m));
    assert_int_equal(
        sn_kp_decode(type, req, want + SN_KP_HDR, wlen - SN_KP_HDR, &m),
        SN_ERR_INVALID);
    assert_int_equal(m.nf, 0);
    assert_int_equal(m.type, 0);
    assert_int_not_equal(build(type, req, f, v, n, &got, &glen), SN_OK);
    assert_null(got);
    assert_int_equal(glen, 0);
    free(want);
}

static void
test_round_trip_requests(void **state)
{
    struct val v[NF];
    size_t i, j;

    (void)state;
    for (i = 0; i < NDEFS; i++) {
        for (j = 0; j < defs[i].nreq; j++)
            typical(&defs[i].req[j], &v[j], (int)(i + j));
        round_trip(defs[i].type, 0, defs[i].req, v, defs[i].nreq);
        free_vals(v, defs[i].nreq);
    }
}

static void
test_round_trip_replies(void **state)
{
    struct val v[NF];
    size_t i, j;

    (void)state;
    for (i = 0; i < NDEFS; i++) {
        for (j = 0; j < defs[i].nrep; j++)
            typical(&defs[i].rep[j], &v[j], (int)(i + j));
        round_trip(SN_KP_OK, defs[i].type, defs[i].rep, v, defs[i].nrep);
        free_vals(v, defs[i].nrep);
    }
}

/* Field k of (f, n) at one value, the others typical. */
static void
try_field(uint8_t type, uint8_t req, const struct tf *f, size_t n, size_t k,
          uint64_t x, int ok)
{
    struct val v[NF];
    size_t j;

    for (j = 0; j < n; j++) {
        if (j == k)
            set_val(&f[j], &v[j], (size_t)x, x, 3);
        else
            typical(&f[j], &v[j], (int)j);
    }
    if (ok)
        round_trip(type, req, f, v, n);
    else
        refused(type, req, f, v, n);
    free_vals(v, n);
}

static void
bounds(uint8_t type, uint8_t req, const struct tf *f, size_t n)
{
    size_t k;

    for (k = 0; k < n; k++) {
        try_field(type, req, f, n, k, f[k].min, 1);
        if (f[k].min > 0)
            try_field(type, req, f, n, k, f[k].min - 1, 0);
        try_field(type, req, f, n, k, f[k].max, 1);
        try_field(type, req, f, n, k, f[k].max + 1, 0);
    }
}

/* Every field of every message (ERR included) at min and max, and one
 * past each. */
static void
test_bounds(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < NDEFS; i++) {
        bounds(defs[i].type, 0, defs[i].req, defs[i].nreq);
        bounds(SN_KP_OK, defs[i].type, defs[i].rep, defs[i].nrep);
        bounds(SN_KP_ERR, defs[i].type, err_def, 2);
    }
}

static void
test_type_names(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < NDEFS; i++)
        assert_string_equal(sn_kp_type_name(defs[i].type), defs[i].name);
    assert_int_equal(NDEFS, SN_KP_TYPE_MAX);
    assert_string_equal(sn_kp_type_name(SN_KP_OK), "ok");
    assert_string_equal(sn_kp_type_name(SN_KP_ERR), "err");
    assert_string_equal(sn_kp_type_name(0), "unknown");
    assert_string_equal(sn_kp_type_name(SN_KP_TYPE_MAX + 1), "unknown");
    assert_string_equal(sn_kp_type_name(255), "unknown");
}

/* An ERR reply: the exact bytes, then decoded as a reply to each type. */
static void
test_err_reply(void **state)
{
    static const uint8_t want[] = {
        0,   0,   0,   22,  SN_KP_VERSION, 129, 0,   0,  0,  0,   0,
        0,   0,   0,   0,   SN_ERR_HSM,    0,   0,   0,  10, 't', 'o',
        'k', 'e', 'n', ' ', 'g',           'o', 'n', 'e'};
    struct sn_kp_msg m;
    uint8_t *fr = NULL;
    size_t len = 0, i;
    char reason[201];

    (void)state;
    assert_int_equal(
        sn_kp_error(SN_KP_SIGN_DIGEST, SN_ERR_HSM, "token gone", &fr, &len),
        SN_OK);
    assert_int_equal(len, sizeof(want));
    assert_memory_equal(fr, want, sizeof(want));
    for (i = 0; i < NDEFS; i++) {
        assert_int_equal(sn_kp_decode(SN_KP_ERR, defs[i].type, fr + SN_KP_HDR,
                                      len - SN_KP_HDR, &m),
                         SN_OK);
        assert_int_equal(m.type, SN_KP_ERR);
        assert_int_equal(m.nf, 2);
        assert_int_equal(m.f[0].u, SN_ERR_HSM);
        assert_int_equal(sn_kp_str(&m.f[1], reason, sizeof(reason)), SN_OK);
        assert_string_equal(reason, "token gone");
    }
    /* Not a request, nor a reply to no request. */
    assert_int_equal(
        sn_kp_decode(SN_KP_ERR, 0, fr + SN_KP_HDR, len - SN_KP_HDR, &m),
        SN_ERR_INVALID);
    assert_int_equal(sn_kp_decode(SN_KP_ERR, SN_KP_TYPE_MAX + 1, fr + SN_KP_HDR,
                                  len - SN_KP_HDR, &m),
                     SN_ERR_INVALID);
    free(fr);
}

static void
test_err_reason_cut(void **state)
{
    char longr[301], reason[256];
    struct sn_kp_msg m;
    uint8_t *fr = NULL;
    size_t len = 0;

    (void)state;
    memset(longr, 'r', 300);
    longr[300] = '\0';
    /* A two-byte UTF-8 character across the cut: bytes are cut, no NUL. */
    longr[199] = (char)0xc3;
    longr[200] = (char)0xa9;
    assert_int_equal(sn_kp_error(SN_KP_SEAL, SN_ERR_LIMIT, longr, &fr, &len),
                     SN_OK);
    assert_int_equal(len, SN_KP_HDR + 8 + 4 + 200);
    assert_int_equal(sn_kp_decode(SN_KP_ERR, SN_KP_SEAL, fr + SN_KP_HDR,
                                  len - SN_KP_HDR, &m),
                     SN_OK);
    assert_int_equal(m.f[1].len, 200);
    assert_memory_equal(m.f[1].p, longr, 200);
    assert_int_equal(sn_kp_str(&m.f[1], reason, sizeof(reason)), SN_OK);
    assert_int_equal(strlen(reason), 200);
    free(fr);

    /* No reason: an empty one. */
    assert_int_equal(sn_kp_error(SN_KP_PING, SN_ERR_STATE, NULL, &fr, &len),
                     SN_OK);
    assert_int_equal(len, SN_KP_HDR + 12);
    assert_int_equal(sn_kp_decode(SN_KP_ERR, SN_KP_PING, fr + SN_KP_HDR,
                                  len - SN_KP_HDR, &m),
                     SN_OK);
    assert_int_equal(m.f[1].len, 0);
    free(fr);
}

/* The builder refuses an ERR it could not send: SN_OK as the code, a
 * code past 1000, no request or an unknown one. */
static void
test_err_refused(void **state)
{
    static const uint8_t code0[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t code1001[] = {0, 0, 0, 0, 0, 0, 3, 0xe9, 0, 0, 0, 0};
    static const uint8_t code1000[] = {0, 0, 0, 0, 0, 0, 3, 0xe8, 0, 0, 0, 0};
    struct sn_kp_msg m;
    uint8_t *fr = (uint8_t *)"x";
    size_t len = 1;

    (void)state;
    assert_int_equal(sn_kp_error(SN_KP_PING, SN_OK, "x", &fr, &len),
                     SN_ERR_INVALID);
    assert_null(fr);
    assert_int_equal(len, 0);
    assert_int_equal(sn_kp_error(SN_KP_PING, (sn_err)1001, "x", &fr, &len),
                     SN_ERR_INVALID);
    assert_null(fr);
    assert_int_equal(sn_kp_error(0, SN_ERR_HSM, "x", &fr, &len),
                     SN_ERR_INVALID);
    assert_null(fr);
    assert_int_equal(
        sn_kp_error(SN_KP_TYPE_MAX + 1, SN_ERR_HSM, "x", &fr, &len),
        SN_ERR_INVALID);
    assert_null(fr);
    assert_int_equal(
        sn_kp_decode(SN_KP_ERR, SN_KP_PING, code0, sizeof(code0), &m),
        SN_ERR_INVALID);
    assert_int_equal(
        sn_kp_decode(SN_KP_ERR, SN_KP_PING, code1001, sizeof(code1001), &m),
        SN_ERR_INVALID);
    assert_int_equal(
        sn_kp_decode(SN_KP_ERR, SN_KP_PING, code1000, sizeof(code1000), &m),
        SN_OK);
    assert_int_equal(m.f[0].u, 1000);
}

static void
test_header(void **state)
{
    uint8_t h[SN_KP_HDR] = {0, 0, 1, 0, SN_KP_VERSION, SN_KP_SIGN_CRL, 0, 0};
    uint8_t type;
    size_t len;
    unsigned nice = 99;

    (void)state;
    assert_int_equal(sn_kp_header(h, &type, &len, &nice), SN_OK);
    assert_int_equal(type, SN_KP_SIGN_CRL);
    assert_int_equal(len, 256);
    assert_int_equal(nice, 0);

    /* Bad version: the outputs stay zero. */
    h[4] = 0;
    assert_int_equal(sn_kp_header(h, &type, &len, NULL), SN_ERR_INVALID);
    assert_int_equal(type, 0);
    assert_int_equal(len, 0);
    h[4] = SN_KP_VERSION + 1;
    assert_int_equal(sn_kp_header(h, &type, &len, NULL), SN_ERR_INVALID);
    h[4] = SN_KP_VERSION;

    /* The nice: 0..SN_KP_NICE_MAX, and nothing past it. */
    h[6] = SN_KP_NICE_MAX;
    assert_int_equal(sn_kp_header(h, &type, &len, &nice), SN_OK);
    assert_int_equal(nice, SN_KP_NICE_MAX);
    h[6] = SN_KP_NICE_MAX + 1;
    assert_int_equal(sn_kp_header(h, &type, &len, &nice), SN_ERR_INVALID);
    assert_int_equal(nice, 0);
    h[6] = 0x80;
    assert_int_equal(sn_kp_header(h, &type, &len, NULL), SN_ERR_INVALID);
    h[6] = 0;
    /* Nonzero reserved byte. */
    h[7] = 0x80;
    assert_int_equal(sn_kp_header(h, &type, &len, NULL), SN_ERR_INVALID);
    h[7] = 1;
    assert_int_equal(sn_kp_header(h, &type, &len, NULL), SN_ERR_INVALID);
    h[7] = 0;

    /* The length: up to SN_KP_MAX_BODY. */
    put_be(h, SN_KP_MAX_BODY, 4);
    assert_int_equal(sn_kp_header(h, &type, &len, NULL), SN_OK);
    assert_int_equal(len, SN_KP_MAX_BODY);
    put_be(h, SN_KP_MAX_BODY + 1, 4);
    assert_int_equal(sn_kp_header(h, &type, &len, NULL), SN_ERR_LIMIT);
    assert_int_equal(len, 0);
    put_be(h, 0xffffffffu, 4);
    assert_int_equal(sn_kp_header(h, &type, &len, NULL), SN_ERR_LIMIT);
    put_be(h, 0, 4);
    assert_int_equal(sn_kp_header(h, &type, &len, NULL), SN_OK);
    assert_int_equal(len, 0);
}

static void
test_oversize_body(void **state)
{
    uint8_t *body;
    struct sn_kp_msg m;

    (void)state;
    body = calloc(1, SN_KP_MAX_BODY + 1);
    assert_non_null(body);
    /* kind 0, then a CRL that would fit its field but not the frame. */
    put_be(body + 8, SN_KP_MAX_BODY + 1 - 12, 4);
    assert_int_equal(
        sn_kp_decode(SN_KP_SIGN_CRL, 0, body, SN_KP_MAX_BODY + 1, &m),
        SN_ERR_INVALID);
    free(body);
}

static void
test_unknown_type(void **state)
{
    static const uint8_t types[] = {
        0, SN_KP_TYPE_MAX + 1, 127, SN_KP_OK, SN_KP_ERR, 130, 255};
    struct sn_kp_out o;
    struct sn_kp_msg m;
    uint8_t *fr = (uint8_t *)"x";
    size_t i, len = 1;

    (void)state;
    for (i = 0; i < sizeof(types); i++) {
        assert_int_equal(sn_kp_decode(types[i], 0, NULL, 0, &m),
                         SN_ERR_INVALID);
        /* A reply to an unknown request. */
        assert_int_equal(sn_kp_decode(SN_KP_OK, types[i], NULL, 0, &m),
                         SN_ERR_INVALID);
        sn_kp_begin(&o, types[i], 0);
        assert_int_equal(sn_kp_finish(&o, &fr, &len), SN_ERR_INVALID);
        assert_null(fr);
        assert_int_equal(len, 0);
    }
    assert_int_equal(sn_kp_decode(SN_KP_PING, 0, NULL, 0, &m), SN_OK);
    assert_int_equal(m.type, SN_KP_PING);
    assert_int_equal(m.nf, 0);
}

/* A SIGN_DIGEST request: every proper prefix is refused. */
static void
test_truncated(void **state)
{
    struct val v[NF];
    const struct tdef *d = &defs[5];
    struct sn_kp_msg m;
    uint8_t *fr;
    size_t len, j, cut;

    (void)state;
    assert_int_equal(d->type, SN_KP_SIGN_DIGEST);
    for (j = 0; j < d->nreq; j++)
        typical(&d->req[j], &v[j], (int)j);
    fr = hand_frame(d->type, d->req, v, d->nreq, &len);
    assert_int_equal(
        sn_kp_decode(d->type, 0, fr + SN_KP_HDR, len - SN_KP_HDR, &m), SN_OK);
    for (cut = 0; cut < len - SN_KP_HDR; cut++)
        assert_int_equal(sn_kp_decode(d->type, 0, fr + SN_KP_HDR, cut, &m),
                         SN_ERR_INVALID);
    /* A length that claims one byte more than the body has. */
    put_be(fr + len - 4 - v[4].len, v[4].len + 1, 4);
    assert_int_equal(
        sn_kp_decode(d->type, 0, fr + SN_KP_HDR, len - SN_KP_HDR, &m),
        SN_ERR_INVALID);
    free(fr);
    free_vals(v, d->nreq);
}

static void
test_trailing(void **state)
{
    static const uint8_t one[] = {0};
    struct val v[NF];
    const struct tdef *d = &defs[13];
    struct sn_kp_msg m;
    uint8_t *fr, *longer;
    size_t len, j;

    (void)state;
    assert_int_equal(sn_kp_decode(SN_KP_PING, 0, one, 1, &m), SN_ERR_INVALID);
    assert_int_equal(sn_kp_decode(SN_KP_OK, SN_KP_PING, one, 1, &m),
                     SN_ERR_INVALID);
    assert_int_equal(d->type, SN_KP_SEAL);
    for (j = 0; j < d->nreq; j++)
        typical(&d->req[j], &v[j], (int)j);
    fr = hand_frame(d->type, d->req, v, d->nreq, &len);
    longer = calloc(1, len + 1);
    assert_non_null(longer);
    memcpy(longer, fr, len);
    assert_int_equal(
        sn_kp_decode(d->type, 0, longer + SN_KP_HDR, len - SN_KP_HDR, &m),
        SN_OK);
    assert_int_equal(
        sn_kp_decode(d->type, 0, longer + SN_KP_HDR, len + 1 - SN_KP_HDR, &m),
        SN_ERR_INVALID);
    free(longer);
    free(fr);
    free_vals(v, d->nreq);
}

/* A NUL anywhere in a string is refused; the same bytes are fine as 'b'. */
static void
test_nul_in_string(void **state)
{
    /* TSA_DESTROY: s key_id. */
    uint8_t body[4 + 5] = {0, 0, 0, 5, 'a', 'b', 'c', 'd', 'e'};
    /* SIGN_TST: b tstinfo. */
    uint8_t tst[4 + 5] = {0, 0, 0, 5, 'a', 'b', 0, 'd', 'e'};
    struct sn_kp_out o;
    struct sn_kp_msg m;
    uint8_t *fr = NULL;
    size_t i, len;
    char out[8];

    (void)state;
    assert_int_equal(sn_kp_decode(SN_KP_TSA_DESTROY, 0, body, sizeof(body), &m),
                     SN_OK);
    for (i = 4; i < sizeof(body); i++) {
        uint8_t c = body[i];

        body[i] = 0;
        assert_int_equal(
            sn_kp_decode(SN_KP_TSA_DESTROY, 0, body, sizeof(body), &m),
            SN_ERR_INVALID);
        body[i] = c;
    }
    assert_int_equal(sn_kp_decode(SN_KP_SIGN_NOTICE, 0, tst, sizeof(tst), &m),
                     SN_OK);
    assert_int_equal(m.f[0].len, 5);
    /* sn_kp_str will not hand such bytes over as a string. */
    assert_int_equal(sn_kp_str(&m.f[0], out, sizeof(out)), SN_ERR_INVALID);
    assert_string_equal(out, "");

    /* A string field cannot be sent with sn_kp_b (the builder checks each
     * field's kind), so a NUL cannot reach one that way either. */
    sn_kp_begin(&o, SN_KP_TSA_DESTROY, 0);
    assert_int_equal(o.err, 0);
    sn_kp_b(&o, (const uint8_t *)"ab\0de", 5);
    assert_int_equal(sn_kp_finish(&o, &fr, &len), SN_ERR_INVALID);
    assert_null(fr);
}

static void
test_int_over_max(void **state)
{
    /* TSA_KEYGEN: s key_id "k", u alg. */
    uint8_t body[4 + 1 + 8] = {0, 0, 0, 1, 'k', 0, 0, 0, 0, 0, 0, 0, 255};
    /* KEY_GENERATE: s "s", s "k", u alg 1, u generated_at. */
    uint8_t kg[5 + 5 + 8 + 8] = {
        0, 0, 0, 1, 's', 0,    0,    0,    1,    'k',  0,    0,    0,
        0, 0, 0, 0, 1,   0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct sn_kp_msg m;

    (void)state;
    assert_int_equal(sn_kp_decode(SN_KP_TSA_KEYGEN, 0, body, sizeof(body), &m),
                     SN_OK);
    assert_int_equal(m.f[1].u, 255);
    body[11] = 1; /* 256 + 255 */
    assert_int_equal(sn_kp_decode(SN_KP_TSA_KEYGEN, 0, body, sizeof(body), &m),
                     SN_ERR_INVALID);
    body[11] = 0;
    body[5] = 0x80; /* the top bit */
    assert_int_equal(sn_kp_decode(SN_KP_TSA_KEYGEN, 0, body, sizeof(body), &m),
                     SN_ERR_INVALID);

    assert_int_equal(sn_kp_decode(SN_KP_KEY_GENERATE, 0, kg, sizeof(kg), &m),
                     SN_OK);
    assert_int_equal(m.f[3].u, (uint64_t)INT64_MAX);
    kg[18] = 0x80; /* INT64_MAX + 1 */
    memset(kg + 19, 0, 7);
    assert_int_equal(sn_kp_decode(SN_KP_KEY_GENERATE, 0, kg, sizeof(kg), &m),
                     SN_ERR_INVALID);
}

/* A body that is right for one type is wrong for another, and a request
 * is not a reply nor a reply a request. */
static void
test_reply_mismatch(void **state)
{
    uint8_t sig[4 + 64];
    struct sn_kp_msg m;

    (void)state;
    memset(sig, 0x5a, sizeof(sig));
    put_be(sig, 64, 4);
    assert_int_equal(
        sn_kp_decode(SN_KP_OK, SN_KP_SIGN_NOTICE, sig, sizeof(sig), &m), SN_OK);
    assert_int_equal(m.f[0].len, 64);
    /* PUBKEYS wants two keys of 32 and a bit set. */
    assert_int_equal(
        sn_kp_decode(SN_KP_OK, SN_KP_PUBKEYS, sig, sizeof(sig), &m),
        SN_ERR_INVALID);
    /* KEY_DESTROY's OK is empty. */
    assert_int_equal(
        sn_kp_decode(SN_KP_OK, SN_KP_KEY_DESTROY, sig, sizeof(sig), &m),
        SN_ERR_INVALID);
    /* An ERR is (code, reason), not a signature. */
    assert_int_equal(
        sn_kp_decode(SN_KP_ERR, SN_KP_SIGN_NOTICE, sig, sizeof(sig), &m),
        SN_ERR_INVALID);
    /* The request's own type where a reply is expected. */
    assert_int_equal(sn_kp_decode(SN_KP_SIGN_NOTICE, SN_KP_SIGN_NOTICE, sig,
                                  sizeof(sig), &m),
                     SN_ERR_INVALID);
    assert_int_equal(sn_kp_decode(SN_KP_SIGN_NOTICE, 0, sig, sizeof(sig), &m),
                     SN_OK);
    /* OK where a request is expected. */
    assert_int_equal(sn_kp_decode(SN_KP_OK, 0, sig, sizeof(sig), &m),
                     SN_ERR_INVALID);
    assert_int_equal(sn_kp_decode(SN_KP_OK, 0, NULL, 0, &m), SN_ERR_INVALID);
}

/* The builder: wrong kinds, too many or too few fields, a NULL string;
 * the first error sticks. */
static void
test_builder_misuse(void **state)
{
    static const uint8_t d[32] = {1};
    struct sn_kp_out o;
    uint8_t *fr = NULL;
    size_t len = 0;

    (void)state;
    /* 'u' where TSA_KEYGEN's reply wants 'b': these 8 bytes would even
     * parse as a 4-byte spki, so only the kind check catches it. */
    sn_kp_begin(&o, SN_KP_OK, SN_KP_TSA_KEYGEN);
    sn_kp_u(&o, 0x0000000461626364ULL);
    assert_int_equal(sn_kp_finish(&o, &fr, &len), SN_ERR_INVALID);
    assert_null(fr);
    assert_null(o.buf);

    /* One field too many, then a valid one: still refused. */
    sn_kp_begin(&o, SN_KP_TSA_DESTROY, 0);
    sn_kp_s(&o, "k");
    sn_kp_s(&o, "extra");
    sn_kp_s(&o, "k");
    assert_int_equal(sn_kp_finish(&o, &fr, &len), SN_ERR_INVALID);
    assert_null(fr);

    /* One too few. */
    sn_kp_begin(&o, SN_KP_OK, SN_KP_PUBKEYS);
    sn_kp_b(&o, d, sizeof(d));
    assert_int_equal(sn_kp_finish(&o, &fr, &len), SN_ERR_INVALID);
    assert_null(fr);

    /* A NULL string. */
    sn_kp_begin(&o, SN_KP_TSA_DESTROY, 0);
    sn_kp_s(&o, NULL);
    assert_int_equal(sn_kp_finish(&o, &fr, &len), SN_ERR_INVALID);

    /* Bytes past the frame's limit: LIMIT, before anything is copied. */
    sn_kp_begin(&o, SN_KP_SIGN_NOTICE, 0);
    sn_kp_b(&o, d, (size_t)SN_KP_MAX_BODY + 1);
    assert_int_equal(o.err, SN_ERR_LIMIT);
    assert_int_equal(sn_kp_finish(&o, &fr, &len), SN_ERR_LIMIT);
    assert_null(fr);

    /* A nice goes into byte 6 and is read back; past the maximum the
     * frame is refused. */
    sn_kp_begin(&o, SN_KP_TSA_DESTROY, 0);
    sn_kp_nice(&o, 15);
    sn_kp_s(&o, "k");
    assert_int_equal(sn_kp_finish(&o, &fr, &len), SN_OK);
    {
        uint8_t type;
        size_t blen;
        unsigned nice = 0;

        assert_int_equal(fr[6], 15);
        assert_int_equal(fr[7], 0);
        assert_int_equal(sn_kp_header(fr, &type, &blen, &nice), SN_OK);
        assert_int_equal(nice, 15);
        assert_int_equal(type, SN_KP_TSA_DESTROY);
    }
    free(fr);
    fr = NULL;
    sn_kp_begin(&o, SN_KP_TSA_DESTROY, 0);
    sn_kp_nice(&o, SN_KP_NICE_MAX + 1);
    sn_kp_s(&o, "k");
    assert_int_equal(sn_kp_finish(&o, &fr, &len), SN_ERR_INVALID);
    assert_null(fr);

    /* Abandoned halfway: cleanup frees (ASan and valgrind would say). */
    sn_kp_begin(&o, SN_KP_OK, SN_KP_PUBKEYS);
    sn_kp_b(&o, d, sizeof(d));
    sn_kp_out_cleanup(&o);
    assert_null(o.buf);
    assert_int_equal(o.len, 0);
}

static void
test_str(void **state)
{
    struct sn_kp_field f = {(const uint8_t *)"abcd", 4, 0};
    char out[5];

    (void)state;
    assert_int_equal(sn_kp_str(&f, out, sizeof(out)), SN_OK);
    assert_string_equal(out, "abcd");
    assert_int_equal(sn_kp_str(&f, out, 4), SN_ERR_LIMIT);
    assert_string_equal(out, "");
    f.len = 0;
    assert_int_equal(sn_kp_str(&f, out, 1), SN_OK);
    assert_string_equal(out, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_requests),
        cmocka_unit_test(test_round_trip_replies),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_err_reply),
        cmocka_unit_test(test_err_reason_cut),
        cmocka_unit_test(test_err_refused),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_oversize_body),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_trailing),
        cmocka_unit_test(test_nul_in_string),
        cmocka_unit_test(test_int_over_max),
        cmocka_unit_test(test_reply_mismatch),
        cmocka_unit_test(test_builder_misuse),
        cmocka_unit_test(test_str),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
