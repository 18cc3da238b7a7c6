/*
 * libFuzzer driver: the keeper protocol's codec (src/ipc/proto.c), which
 * reads every frame a front end sends the keeper and every reply the
 * keeper sends back. The input is a frame, header then body. The body is
 * decoded as a request and as a reply to each type; whatever decodes is
 * built again with the builder and must come out byte for byte the same
 * (one encoding per message, and the builder accepts what the decoder
 * does). The field kinds are this file's own copy of docs/ipc.md.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Kinds of the request's fields and of its OK reply's, by type. */
static const char *const kinds[SN_KP_TYPE_MAX + 1][2] = {
    [SN_KP_PING] = {"", ""},
    [SN_KP_TOKEN_CREATE] = {"ss", "sb"},
    [SN_KP_TOKEN_OPEN] = {"ssb", "s"},
    [SN_KP_KEY_GENERATE] = {"ssuu", "bbssssb"},
    [SN_KP_KEY_DESTROY] = {"ss", ""},
    [SN_KP_SIGN_DIGEST] = {"ssuub", "b"},
    [SN_KP_SIGN_CERT] = {"ubb", "b"},
    [SN_KP_SIGN_CRL] = {"ub", "b"},
    [SN_KP_SIGN_OCSP] = {"ub", "b"},
    [SN_KP_SIGN_TST] = {"sb", "b"},
    [SN_KP_SIGN_TS_PKCS7] = {"sb", "b"},
    [SN_KP_SIGN_CHECKPOINT] = {"bb", "b"},
    [SN_KP_SIGN_NOTICE] = {"b", "b"},
    [SN_KP_SEAL] = {"sb", "b"},
    [SN_KP_UNSEAL] = {"sb", "b"},
    [SN_KP_PUBKEYS] = {"", "bbuu"},
    [SN_KP_TSA_KEYGEN] = {"su", "b"},
    [SN_KP_TSA_USE] = {"sb", ""},
    [SN_KP_TSA_DESTROY] = {"s", ""},
};

/* Builds m again as (type, req) and compares it with the input's body
 * (and its header too when that was a valid one for this body). */
static void
rebuild(uint8_t type, uint8_t req, const char *k, const struct sn_kp_msg *m,
        const uint8_t *data, size_t size, int hdr_ok, unsigned nice)
{
    struct sn_kp_out o;
    uint8_t *fr = NULL;
    size_t i, len = 0;
    char *s;

    if (m->type != type || m->nf != strlen(k))
        abort();
    sn_kp_begin(&o, type, req);
    sn_kp_nice(&o, nice);
    for (i = 0; i < m->nf; i++) {
        if (k[i] == 'u') {
            sn_kp_u(&o, m->f[i].u);
        } else if (k[i] == 'b') {
            sn_kp_b(&o, m->f[i].p, m->f[i].len);
        } else {
            if ((s = malloc(m->f[i].len + 1)) == NULL)
                abort();
            if (sn_kp_str(&m->f[i], s, m->f[i].len + 1) != SN_OK ||
                strlen(s) != m->f[i].len)
                abort();
            sn_kp_s(&o, s);
            free(s);
        }
    }
    if (sn_kp_finish(&o, &fr, &len) != SN_OK || len != size ||
        memcmp(fr + SN_KP_HDR, data + SN_KP_HDR, size - SN_KP_HDR) != 0 ||
        fr[4] != SN_KP_VERSION || fr[5] != type ||
        (hdr_ok && memcmp(fr, data, SN_KP_HDR) != 0))
        abort();
    free(fr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sn_kp_msg m;
    const uint8_t *body;
    size_t blen, hlen;
    uint8_t type, htype, req;
    unsigned hnice;
    int hdr_ok;

    if (size < SN_KP_HDR)
        return 0;
    /* The header's verdict is kept; the body is tried whatever it says. */
    hdr_ok = sn_kp_header(data, &htype, &hlen, &hnice) == SN_OK;
    if (!hdr_ok && (htype != 0 || hlen != 0 || hnice != 0))
        abort();
    if (hdr_ok && hnice > SN_KP_NICE_MAX)
        abort();
    type = data[5];
    body = data + SN_KP_HDR;
    blen = size - SN_KP_HDR;
    hdr_ok = hdr_ok && hlen == blen;

    if (sn_kp_decode(type, 0, body, blen, &m) == SN_OK) {
        if (type < 1 || type > SN_KP_TYPE_MAX)
            abort();
        rebuild(type, 0, kinds[type][0], &m, data, size, hdr_ok, hnice);
    } else if (m.type != 0 || m.nf != 0) {
        abort(); /* a refusal leaves nothing behind */
    }
    /* A reply to each type, and to one past the last (never accepted). */
    for (req = 1; req <= SN_KP_TYPE_MAX + 1; req++) {
        if (sn_kp_decode(type, req, body, blen, &m) != SN_OK)
            continue;
        if (req > SN_KP_TYPE_MAX || (type != SN_KP_OK && type != SN_KP_ERR))
            abort();
        rebuild(type, req, type == SN_KP_OK ? kinds[req][1] : "us", &m, data,
                size, hdr_ok, hnice);
    }
    /* A type name is always a string. */
    if (sn_kp_type_name(type) == NULL)
        abort();
    return 0;
}
