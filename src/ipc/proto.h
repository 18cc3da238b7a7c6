/*
 * proto: the keeper protocol (docs/ipc.md), the only language spoken
 * between a front end and the keeper that holds the HSM. Pure: no I/O,
 * no globals. A frame is an 8-byte header and a body:
 *
 *   u32 body length (big-endian, at most SN_KP_MAX_BODY)
 *   u8  version (SN_KP_VERSION)
 *   u8  type (enum sn_kp_type)
 *   u8  nice: how far below the keeper's own CPU priority it serves
 *       this request (0..SN_KP_NICE_MAX: the asking thread's nice above
 *       its process's; 0 in a reply)
 *   u8  reserved, zero
 *
 * The body is the fields of that type, in order, each of a fixed kind:
 * 'u' an unsigned integer (8 bytes, big-endian, at most the field's
 * maximum), 's' a string or 'b' bytes (a u32 big-endian length, at most
 * the field's maximum, then the bytes; a string holds no NUL and may be
 * empty only where its minimum is 0). Nothing may follow the last field.
 * A reply is SN_KP_OK with the fields of the request's type, or SN_KP_ERR
 * (code, reason). The decoder reads through a cursor with a sticky error
 * and checks every length before it reads; any frame it does not accept
 * ends the connection.
 */
#ifndef SN_IPC_PROTO_H
#define SN_IPC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SN_KP_VERSION 1
#define SN_KP_HDR 8
#define SN_KP_MAX_BODY (8u << 20) /* a CRL with many entries */
#define SN_KP_MAX_FIELDS 10
#define SN_KP_NICE_MAX 19 /* as setpriority(2)'s range above 0 */

enum sn_kp_type {
    SN_KP_PING = 1,         /* -> (nothing) */
    SN_KP_TOKEN_CREATE = 2, /* subscriber id, name -> label, sealed pin */
    SN_KP_TOKEN_OPEN = 3,   /* subscriber id, name, sealed pin -> label */
    SN_KP_KEY_GENERATE = 4, /* subscriber, key id, alg, generated_at ->
                               spki, facts, token info, attestation */
    SN_KP_KEY_DESTROY = 5,  /* subscriber, key id -> */
    SN_KP_SIGN_DIGEST = 6,  /* subscriber, key id, md, scheme, digest -> sig */
    SN_KP_SIGN_CERT = 7,    /* ca kind, certificate DER -> certificate DER */
    SN_KP_SIGN_CRL = 8,     /* ca kind, CRL DER -> CRL DER */
    SN_KP_SIGN_OCSP = 9,    /* ca kind, BasicOCSPResponse DER -> same */
    SN_KP_SIGN_TST = 10,    /* TSTInfo DER -> time-stamp token DER */
    SN_KP_SIGN_TS_PKCS7 = 11,   /* data (Authenticode) -> SignedData DER */
    SN_KP_SIGN_CHECKPOINT = 12, /* note text, consistency proof -> sig */
    SN_KP_SIGN_NOTICE = 13,     /* message -> sig */
    SN_KP_SEAL = 14,            /* context, data -> sealed */
    SN_KP_UNSEAL = 15,          /* context, sealed -> data */
    SN_KP_PUBKEYS = 16,         /* -> log key, notice key */
    SN_KP_TSA_KEYGEN = 17,      /* key id, alg -> spki */
    SN_KP_TSA_USE = 18,         /* key id, certificate DER -> */
    SN_KP_TSA_DESTROY = 19,     /* key id -> */
    SN_KP_TYPE_MAX = 19,
    SN_KP_OK = 128,
    SN_KP_ERR = 129,
};

/* One decoded field: a string or bytes (p, len; p points into the body)
 * or an integer (u). */
struct sn_kp_field {
    const uint8_t *p;
    size_t len;
    uint64_t u;
};

struct sn_kp_msg {
    uint8_t type; /* a request type, SN_KP_OK or SN_KP_ERR */
    size_t nf;
    struct sn_kp_field f[SN_KP_MAX_FIELDS];
};

/* The header: SN_OK with *type, *body_len and *nice (nice may be NULL)
 * if the version is ours, the nice is at most SN_KP_NICE_MAX, the reserved
 * byte is zero and the length is at most SN_KP_MAX_BODY; SN_ERR_INVALID
 * (or SN_ERR_LIMIT for the length) otherwise, the outputs zero. */
sn_err sn_kp_header(const uint8_t hdr[SN_KP_HDR], uint8_t *type,
                    size_t *body_len, unsigned *nice);

/*
 * Decodes a body. A request (type 1..SN_KP_TYPE_MAX) when req is 0; a
 * reply (SN_KP_OK or SN_KP_ERR) to a request of type req otherwise.
 * SN_OK with m filled (its pointers into body); SN_ERR_INVALID for an
 * unknown type, a missing, short, oversize or trailing field, a NUL in a
 * string, an integer past its field's maximum.
 */
sn_err sn_kp_decode(uint8_t type, uint8_t req, const uint8_t *body, size_t len,
                    struct sn_kp_msg *m);

/* A string field copied into out (size outlen, NUL-terminated);
 * SN_ERR_LIMIT if it does not fit. */
sn_err sn_kp_str(const struct sn_kp_field *f, char *out, size_t outlen);

/*
 * Building a frame: begin, then one call per field in the type's order,
 * then finish, which checks the fields against the type's schema (the
 * same one decode uses), fills the header and hands the frame over. Any
 * error is sticky and reported by finish; out is then freed. Each call's
 * kind is checked against the schema as it is made (nf counts them).
 * The builder wipes what it frees; a frame handed over may hold a secret
 * (UNSEAL's reply), so its owner wipes it too.
 */
struct sn_kp_out {
    uint8_t *buf;
    size_t len, cap;
    size_t nf; /* fields added so far: each call's kind is checked */
    uint8_t type, req, nice;
    int err;
};

void sn_kp_begin(struct sn_kp_out *o, uint8_t type, uint8_t req);
/* The header's nice (0 unless set): past SN_KP_NICE_MAX is an error. */
void sn_kp_nice(struct sn_kp_out *o, unsigned nice);
void sn_kp_u(struct sn_kp_out *o, uint64_t v);
void sn_kp_s(struct sn_kp_out *o, const char *s);
void sn_kp_b(struct sn_kp_out *o, const uint8_t *p, size_t len);
sn_err sn_kp_finish(struct sn_kp_out *o, uint8_t **frame, size_t *len);
void sn_kp_out_cleanup(struct sn_kp_out *o);

/* An error reply to a request of type req: code an sn_err other than
 * SN_OK (SN_ERR_INVALID otherwise), reason at most 200 bytes, cut there
 * (NULL: empty). */
sn_err sn_kp_error(uint8_t req, sn_err code, const char *reason,
                   uint8_t **frame, size_t *len);

const char *sn_kp_type_name(uint8_t type);

#endif
