/*
 * reply: the PKCS#11 module's view of what the Signet service says. Pure
 * functions over bytes (no HTTP, no globals, no PKCS#11 types): they turn
 * the untrusted bodies of GET /v1/whoami, GET /v1/keys, POST
 * /v1/keys/{id}/sign and GET /v1/sign-requests/{id} into validated, typed
 * structs, and hold the two
 * signature-format helpers the mechanisms need (DigestInfo and ECDSA
 * DER -> r||s). Every length is bounded; anything unexpected is rejected.
 */
#ifndef SN_P11_REPLY_H
#define SN_P11_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/keyalg.h"

/* Largest server answer the module reads (a key list with chains). */
#define SN_P11_MAX_REPLY ((size_t)8 << 20)
/* Key ids go into URL paths: short, from a small alphabet. */
#define SN_P11_KEYID_MAX 64
/* Key labels are 1-64 printable characters; allow UTF-8 room. */
#define SN_P11_LABEL_MAX 256
#define SN_P11_SUBSCRIBER_MAX 64
#define SN_P11_MAX_KEYS 1024
#define SN_P11_MAX_CHAIN 8
/* The largest signature: RSA-4096. */
#define SN_P11_MAX_SIG 512

/* One certificate of a key's chain, pre-split into the PKCS#11 fields. */
struct sn_p11_cert {
    uint8_t *der;
    size_t der_len;
    uint8_t *subject; /* DER Name */
    size_t subject_len;
    uint8_t *issuer; /* DER Name */
    size_t issuer_len;
    uint8_t *serial; /* DER INTEGER */
    size_t serial_len;
    uint8_t fp[32]; /* SHA-256 of der */
    char cn[65];    /* the subject's CN, printable ASCII, or "" */
};

/* One key the token may use, with its public parts and chain. */
struct sn_p11_key {
    char id[SN_P11_KEYID_MAX + 1];
    char label[SN_P11_LABEL_MAX + 1];
    enum sn_keyalg alg;
    int enabled;
    uint8_t *spki; /* DER SubjectPublicKeyInfo */
    size_t spki_len;
    uint8_t *modulus; /* RSA: big-endian, no leading zero */
    size_t modulus_len;
    uint8_t *exponent; /* RSA */
    size_t exponent_len;
    uint8_t *ec_point; /* EC: 04 || X || Y */
    size_t ec_point_len;
    size_t sig_len;            /* RSA modulus bytes, or 2 * EC field bytes */
    struct sn_p11_cert *certs; /* leaf first; only if the leaf is this key */
    size_t ncerts;
};

struct sn_p11_keylist {
    struct sn_p11_key *keys;
    size_t n;
};

void sn_p11_keylist_free(struct sn_p11_keylist *l);

/*
 * GET /v1/whoami: copies the subscriber id (printable ASCII, at most
 * SN_P11_SUBSCRIBER_MAX) into sub. An admin token (subscriber null) is
 * SN_ERR_STATE: it has no keys to sign with.
 */
sn_err sn_p11_parse_whoami(const uint8_t *data, size_t len,
                           char sub[SN_P11_SUBSCRIBER_MAX + 1]);

/* GET /v1/keys: every listed key, validated; *out is the caller's. */
sn_err sn_p11_parse_keys(const uint8_t *data, size_t len,
                         struct sn_p11_keylist **out);

/*
 * POST /v1/keys/{id}/sign: the signature of a key of algorithm alg whose
 * PKCS#11 signature is sig_len bytes. RSA signatures must be exactly
 * sig_len bytes; ECDSA DER is converted to r || s (sig_len bytes).
 */
sn_err sn_p11_parse_signature(const uint8_t *data, size_t len,
                              enum sn_keyalg alg, size_t sig_len, uint8_t *sig);

/*
 * issue 17: a sign request awaiting approval, as the 202 answer of POST
 * /v1/keys/{id}/sign ({"request": id, "state"}) or GET
 * /v1/sign-requests/{id} ({"id", "state", "reason"?}) says it. The id is
 * used in a URL path: [A-Za-z0-9_-], 1..SN_P11_KEYID_MAX; the state one
 * of the API's names; the reason printable, cut to fit. A completed
 * request's signature is read with sn_p11_parse_signature.
 */
enum sn_p11_sr_state {
    SN_P11_SR_PENDING,
    SN_P11_SR_APPROVED,
    SN_P11_SR_COMPLETED,
    SN_P11_SR_DENIED,
    SN_P11_SR_EXPIRED,
    SN_P11_SR_CANCELED,
    SN_P11_SR_FAILED
};

struct sn_p11_request {
    char id[SN_P11_KEYID_MAX + 1];
    enum sn_p11_sr_state state;
    char state_name[24];
    char reason[201]; /* failed: why, printable; else "" */
};

sn_err sn_p11_parse_request(const uint8_t *data, size_t len,
                            struct sn_p11_request *out);

/*
 * An API error body {"error","message"}: copies both, made printable, for
 * the debug log. Missing fields come back as "".
 */
void sn_p11_parse_error(const uint8_t *data, size_t len, char *code,
                        size_t codelen, char *msg, size_t msglen);

/*
 * Parses a DER DigestInfo for SHA-256/384/512 (with or without the NULL
 * parameters). *digest points into in and is sn_digest_len(*md) bytes.
 * Any other algorithm or shape is SN_ERR_INVALID.
 */
sn_err sn_p11_digestinfo_parse(const uint8_t *in, size_t len,
                               enum sn_digest *md, const uint8_t **digest);

/*
 * Converts a strict-DER ECDSA-Sig-Value into r || s, each left-padded to
 * field_len bytes (out holds 2 * field_len).
 */
sn_err sn_p11_ecdsa_der_to_raw(const uint8_t *der, size_t len, size_t field_len,
                               uint8_t *out);

#endif
