/*
 * proto: the keeper protocol's codec (docs/ipc.md). The decoder's input is
 * untrusted in both directions: the keeper reads requests from front ends
 * that may be compromised, and a front end reads replies from a socket.
 * One static schema per message type drives both the decoder and the
 * builder's final check, so the two cannot disagree. Pure: no I/O, no
 * globals, fuzzed by tests/fuzz/fuzz_ipc.c.
 */
#include "ipc/proto.h"

#include <stdlib.h>
#include <string.h>

/* One field: 'u' (an integer in [min, max]), 's' or 'b' (a length in
 * [min, max], then that many bytes). A zero kind ends a field list. */
struct fld {
    char kind;
    uint64_t min, max;
};

struct schema {
    const char *name;
    struct fld req[SN_KP_MAX_FIELDS];
    struct fld rep[SN_KP_MAX_FIELDS]; /* the fields of the OK reply */
};

/* clang-format off */
#define U(max) {'u', 0, (max)}
#define S(min, max) {'s', (min), (max)}
#define B(min, max) {'b', (min), (max)}
/* clang-format on */

#define DER_MAX 65536
#define CRL_MAX (SN_KP_MAX_BODY - 64)
#define ERR_REASON_MAX 200
#define ERR_CODE_MAX 1000

/* Field names are in comments and docs/ipc.md, in the same order. */
static const struct schema schemas[SN_KP_TYPE_MAX + 1] = {
    [SN_KP_PING] = {"ping", {{0}}, {{0}}},
    /* subscriber_id, name -> label, sealed_pin */
    [SN_KP_TOKEN_CREATE] = {"token_create",
                            {S(1, 64), S(1, 128)},
                            {S(1, 64), B(0, 512)}},
    /* subscriber_id, name, sealed_pin -> label */
    [SN_KP_TOKEN_OPEN] = {"token_open",
                          {S(1, 64), S(1, 128), B(0, 512)},
                          {S(1, 64)}},
    /* subscriber, key_id, alg, generated_at -> spki, facts, manufacturer,
     * model, serial, token_label, attestation */
    [SN_KP_KEY_GENERATE] = {"key_generate",
                            {S(1, 64), S(1, 64), U(255), U(INT64_MAX)},
                            {B(1, 4096), B(5, 5), S(0, 64), S(0, 64), S(0, 64),
                             S(0, 64), B(1, 16384)}},
    /* subscriber, key_id -> */
    [SN_KP_KEY_DESTROY] = {"key_destroy", {S(1, 64), S(1, 64)}, {{0}}},
    /* subscriber, key_id, md, scheme, digest -> sig */
    [SN_KP_SIGN_DIGEST] = {"sign_digest",
                           {S(1, 64), S(1, 64), U(255), U(255), B(1, 64)},
                           {B(1, 1024)}},
    /* kind, der -> der */
    /* kind, der, evidence (whose key: an attestation, a TSA key id) */
    [SN_KP_SIGN_CERT] = {"sign_cert",
                         {U(255), B(1, DER_MAX), B(0, 16384)},
                         {B(1, DER_MAX)}},
    [SN_KP_SIGN_CRL] = {"sign_crl", {U(255), B(1, CRL_MAX)}, {B(1, CRL_MAX)}},
    [SN_KP_SIGN_OCSP] = {"sign_ocsp", {U(255), B(1, DER_MAX)}, {B(1, DER_MAX)}},
    /* tstinfo -> token */
    [SN_KP_SIGN_TST] = {"sign_tst", {S(1, 64), B(1, 16384)}, {B(1, DER_MAX)}},
    /* data -> der */
    [SN_KP_SIGN_TS_PKCS7] = {"sign_ts_pkcs7",
                             {S(1, 64), B(1, DER_MAX)},
                             {B(1, 2 * DER_MAX)}},
    /* note, proof (u64 m and up to 64 hashes) -> sig */
    [SN_KP_SIGN_CHECKPOINT] = {"sign_checkpoint",
                               {B(1, 4096), B(0, 8 + 64 * 32)},
                               {B(64, 64)}},
    /* msg -> sig */
    [SN_KP_SIGN_NOTICE] = {"sign_notice", {B(1, DER_MAX)}, {B(64, 64)}},
    /* context, data -> sealed */
    [SN_KP_SEAL] = {"seal", {S(1, 256), B(1, 1024)}, {B(1, 1053)}},
    /* context, sealed -> data */
    [SN_KP_UNSEAL] = {"unseal", {S(1, 256), B(1, 1053)}, {B(0, 1024)}},
    /* -> log_pub, notice_pub, the CA keys held (1 << enum sn_ca_kind),
     * the size of the last checkpoint signed */
    [SN_KP_PUBKEYS] = {"pubkeys",
                       {{0}},
                       {B(32, 32), B(32, 32), U(255), U(INT64_MAX)}},
    /* key_id, alg -> spki */
    [SN_KP_TSA_KEYGEN] = {"tsa_keygen", {S(1, 64), U(255)}, {B(1, 4096)}},
    /* key_id, cert -> */
    [SN_KP_TSA_USE] = {"tsa_use", {S(1, 64), B(1, DER_MAX)}, {{0}}},
    /* key_id -> */
    [SN_KP_TSA_DESTROY] = {"tsa_destroy", {S(1, 64)}, {{0}}},
};

/* The ERR reply to any request: code (an sn_err, never SN_OK), reason. */
static const struct fld err_fields[SN_KP_MAX_FIELDS] = {{'u', 1, ERR_CODE_MAX},
                                                        S(0, ERR_REASON_MAX)};

/* The field list for (type, req) as sn_kp_decode reads them, or NULL. */
static const struct fld *
fields_for(uint8_t type, uint8_t req)
{
    if (req == 0)
        return type >= 1 && type <= SN_KP_TYPE_MAX ? schemas[type].req : NULL;
    if (req > SN_KP_TYPE_MAX)
        return NULL;
    if (type == SN_KP_OK)
        return schemas[req].rep;
    if (type == SN_KP_ERR)
        return err_fields;
    return NULL;
}

/* A cursor over untrusted bytes: once err is set every read fails. */
struct cur {
    const uint8_t *p;
    size_t left;
    int err;
};

static uint64_t
get_be(struct cur *c, size_t n)
{
    uint64_t v = 0;
    size_t i;

    if (c->err || c->left < n) {
        c->err = 1;
        return 0;
    }
    for (i = 0; i < n; i++)
        v = v << 8 | c->p[i];
    c->p += n;
    c->left -= n;
    return v;
}

/* Reads one field of kind fd into f; sets c->err if it does not fit. */
static void
get_field(struct cur *c, const struct fld *fd, struct sn_kp_field *f)
{
    uint64_t v;

    if (fd->kind == 'u') {
        v = get_be(c, 8);
        if (v < fd->min || v > fd->max)
            c->err = 1;
        f->u = v;
        return;
    }
    v = get_be(c, 4);
    if (c->err || v < fd->min || v > fd->max || v > c->left) {
        c->err = 1;
        return;
    }
    if (fd->kind == 's' && v > 0 && memchr(c->p, '\0', (size_t)v) != NULL) {
        c->err = 1;
        return;
    }
    f->p = c->p;
    f->len = (size_t)v;
    c->p += v;
    c->left -= (size_t)v;
}

sn_err
sn_kp_decode(uint8_t type, uint8_t req, const uint8_t *body, size_t len,
             struct sn_kp_msg *m)
{
    const struct fld *fds;
    struct cur c;
    size_t i;

    memset(m, 0, sizeof(*m));
    if ((fds = fields_for(type, req)) == NULL || len > SN_KP_MAX_BODY ||
        (body == NULL && len != 0))
        return SN_ERR_INVALID;
    c.p = body;
    c.left = len;
    c.err = 0;
    for (i = 0; i < SN_KP_MAX_FIELDS && fds[i].kind != 0 && !c.err; i++)
        get_field(&c, &fds[i], &m->f[i]);
    if (c.err || c.left != 0) {
        memset(m, 0, sizeof(*m));
        return SN_ERR_INVALID;
    }
    m->type = type;
    m->nf = i;
    return SN_OK;
}

sn_err
sn_kp_header(const uint8_t hdr[SN_KP_HDR], uint8_t *type, size_t *body_len,
             unsigned *nice)
{
    uint32_t n;

    *type = 0;
    *body_len = 0;
    if (nice != NULL)
        *nice = 0;
    if (hdr[4] != SN_KP_VERSION || hdr[6] > SN_KP_NICE_MAX || hdr[7] != 0)
        return SN_ERR_INVALID;
    n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
        (uint32_t)hdr[2] << 8 | hdr[3];
    if (n > SN_KP_MAX_BODY)
        return SN_ERR_LIMIT;
    *type = hdr[5];
    *body_len = n;
    if (nice != NULL)
        *nice = hdr[6];
    return SN_OK;
}

sn_err
sn_kp_str(const struct sn_kp_field *f, char *out, size_t outlen)
{
    if (out == NULL || outlen == 0)
        return SN_ERR_LIMIT;
    out[0] = '\0';
    if (f->len >= outlen)
        return SN_ERR_LIMIT;
    if (f->len > 0 && (f->p == NULL || memchr(f->p, '\0', f->len) != NULL))
        return SN_ERR_INVALID;
    if (f->len > 0)
        memcpy(out, f->p, f->len);
    out[f->len] = '\0';
    return SN_OK;
}

/* Frees the buffer after wiping it: frames carry unsealed PINs. */
static void
wipe_free(uint8_t *p, size_t cap)
{
    if (p != NULL)
        explicit_bzero(p, cap);
    free(p);
}

/* Room for n more bytes; the limit is checked before any arithmetic. A
 * new buffer rather than realloc, so no copy of a secret is left behind. */
static int
reserve(struct sn_kp_out *o, size_t n)
{
    const size_t max = SN_KP_HDR + SN_KP_MAX_BODY;
    size_t ncap;
    uint8_t *nb;

    if (n > max - o->len) {
        o->err = SN_ERR_LIMIT;
        return -1;
    }
    if (o->len + n <= o->cap)
        return 0;
    ncap = o->cap == 0 ? 256 : o->cap;
    while (ncap < o->len + n)
        ncap = ncap > max / 2 ? max : ncap * 2;
    if ((nb = calloc(1, ncap)) == NULL) {
        o->err = SN_ERR_NOMEM;
        return -1;
    }
    if (o->len > 0)
        memcpy(nb, o->buf, o->len);
    wipe_free(o->buf, o->cap);
    o->buf = nb;
    o->cap = ncap;
    return 0;
}

static void
put_be(struct sn_kp_out *o, uint64_t v, size_t n)
{
    size_t i;

    if (reserve(o, n) != 0)
        return;
    for (i = 0; i < n; i++)
        o->buf[o->len + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    o->len += n;
}

/* Checks that the next field of the frame's schema is of this kind. */
static int
next_kind(struct sn_kp_out *o, char kind)
{
    const struct fld *fds;

    if (o->err)
        return -1;
    fds = fields_for(o->type, o->req);
    if (fds == NULL || o->nf >= SN_KP_MAX_FIELDS || fds[o->nf].kind != kind) {
        o->err = SN_ERR_INVALID;
        return -1;
    }
    o->nf++;
    return 0;
}

/* An 's' or 'b' field: u32 length, then the bytes. */
static void
put_bytes(struct sn_kp_out *o, char kind, const void *p, size_t len)
{
    if (next_kind(o, kind) != 0)
        return;
    if (p == NULL && len > 0) {
        o->err = SN_ERR_INVALID;
        return;
    }
    if (len > SN_KP_MAX_BODY) { /* before the u32 length is written */
        o->err = SN_ERR_LIMIT;
        return;
    }
    put_be(o, len, 4);
    if (len == 0 || reserve(o, len) != 0)
        return;
    memcpy(o->buf + o->len, p, len);
    o->len += len;
}

void
sn_kp_begin(struct sn_kp_out *o, uint8_t type, uint8_t req)
{
    memset(o, 0, sizeof(*o));
    o->type = type;
    o->req = req;
    put_be(o, 0, SN_KP_HDR); /* the header, filled in by finish */
}

void
sn_kp_nice(struct sn_kp_out *o, unsigned nice)
{
    if (nice > SN_KP_NICE_MAX) {
        if (!o->err)
            o->err = SN_ERR_INVALID;
        return;
    }
    o->nice = (uint8_t)nice;
}

void
sn_kp_u(struct sn_kp_out *o, uint64_t v)
{
    if (next_kind(o, 'u') == 0)
        put_be(o, v, 8);
}

void
sn_kp_s(struct sn_kp_out *o, const char *s)
{
    if (s == NULL) {
        if (!o->err)
            o->err = SN_ERR_INVALID;
        return;
    }
    put_bytes(o, 's', s, strlen(s));
}

void
sn_kp_b(struct sn_kp_out *o, const uint8_t *p, size_t len)
{
    put_bytes(o, 'b', p, len);
}

sn_err
sn_kp_finish(struct sn_kp_out *o, uint8_t **frame, size_t *len)
{
    struct sn_kp_msg m;
    sn_err r = SN_ERR_INTERNAL;
    size_t body;

    *frame = NULL;
    *len = 0;
    if (o->err) {
        r = (sn_err)o->err;
        goto out;
    }
    if (o->buf == NULL || o->len < SN_KP_HDR)
        goto out;
    /* The decoder is the one judge of what a frame may hold. */
    body = o->len - SN_KP_HDR;
    if ((r = sn_kp_decode(o->type, o->req, o->buf + SN_KP_HDR, body, &m)) !=
        SN_OK)
        goto out;
    o->buf[0] = (uint8_t)(body >> 24);
    o->buf[1] = (uint8_t)(body >> 16);
    o->buf[2] = (uint8_t)(body >> 8);
    o->buf[3] = (uint8_t)body;
    o->buf[4] = SN_KP_VERSION;
    o->buf[5] = o->type;
    o->buf[6] = o->nice;
    o->buf[7] = 0;
    *frame = o->buf;
    *len = o->len;
    o->buf = NULL;
    r = SN_OK;
out:
    sn_kp_out_cleanup(o);
    return r;
}

void
sn_kp_out_cleanup(struct sn_kp_out *o)
{
    wipe_free(o->buf, o->cap);
    memset(o, 0, sizeof(*o));
}

sn_err
sn_kp_error(uint8_t req, sn_err code, const char *reason, uint8_t **frame,
            size_t *len)
{
    struct sn_kp_out o;

    if (reason == NULL)
        reason = "";
    sn_kp_begin(&o, SN_KP_ERR, req);
    sn_kp_u(&o, (uint64_t)code);
    /* Whole bytes of a C string: the cut cannot make a NUL appear. */
    put_bytes(&o, 's', reason, strnlen(reason, ERR_REASON_MAX));
    return sn_kp_finish(&o, frame, len);
}

const char *
sn_kp_type_name(uint8_t type)
{
    if (type >= 1 && type <= SN_KP_TYPE_MAX)
        return schemas[type].name;
    if (type == SN_KP_OK)
        return "ok";
    if (type == SN_KP_ERR)
        return "err";
    return "unknown";
}
