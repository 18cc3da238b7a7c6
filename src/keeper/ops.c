/*
 * ops: the keeper's operations. Each reads its typed fields, checks what
 * it is asked to sign without trusting the front end (whose key, which
 * algorithm, which profile, which time), signs in the HSM and builds the
 * reply. A refusal is an ERR reply and a log line naming the operation
 * and the reason; nothing is signed.
 */
#include "keeper/keeper_int.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/attest.h"
#include "hsm/hsmpkey.h"
#include "translog/merkle.h"
#include "translog/note.h"

#define PIN_MAX 256
#define GEN_TIME_SLACK 300 /* a key's generated_at vs the keeper's clock */

struct ctx {
    struct keeper *kp;
    const struct sn_kp_msg *m;
    struct sn_kp_out o;
    char why[200];
    int routine; /* a refusal the front end expects (a token not open) */
};

static sn_err refuse(struct ctx *x, sn_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sn_err
refuse(struct ctx *x, sn_err code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(x->why, sizeof(x->why), fmt, ap);
    va_end(ap);
    return code;
}

/* A subscriber id or key id: a UUID (36) or 32 hex digits, no more. */
static int
id_ok(const struct sn_kp_field *f)
{
    size_t i;

    if (f->len < 1 || f->len > 64)
        return 0;
    for (i = 0; i < f->len; i++)
        if (!isalnum(f->p[i]) && f->p[i] != '-')
            return 0;
    return 1;
}

static sn_err
field_id(struct ctx *x, size_t i, char out[65])
{
    if (!id_ok(&x->m->f[i]) || sn_kp_str(&x->m->f[i], out, 65) != SN_OK)
        return refuse(x, SN_ERR_INVALID, "malformed id");
    return SN_OK;
}

/* ---- subscriber tokens ---- */

static const struct sn_keeper_map *
map_for(const struct keeper *kp, const char *name)
{
    size_t i;

    for (i = 0; i < kp->c->nmap; i++)
        if (strcmp(kp->c->map[i].name, name) == 0)
            return &kp->c->map[i];
    return NULL;
}

static void
label_of(const char *id, char label[33])
{
    size_t i, o = 0;

    for (i = 0; id[i] != '\0' && o < 32; i++)
        if (id[i] != '-')
            label[o++] = id[i];
    label[o] = '\0';
}

static void
pin_path(const struct keeper *kp, const char *id, char *buf, size_t len)
{
    snprintf(buf, len, "%s/hsm/pins/%s.pin", kp->c->home, id);
}

sn_err
sn_keeper_read_pin(const char *path, char **out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    sn_err r;

    *out = NULL;
    if ((r = sn_file_read(path, PIN_MAX, &buf, &len)) != SN_OK)
        return r;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = '\0';
    if (len == 0) {
        sn_secret_free((char *)buf);
        return SN_ERR_CONFIG;
    }
    *out = (char *)buf;
    return SN_OK;
}

/*
 * A mapped token belongs to the first subscriber id that opened
 * (HOME/hsm/keeper/mapped-<label>): the front end names the subscriber, and
 * another id naming the same subscriber later does not get the token.
 * SN_ERR_STATE if the token is another id's.
 */
static sn_err
bind_mapped(const struct keeper *kp, const char *label, const char *id)
{
    char path[PATH_MAX];
    uint8_t *text = NULL;
    size_t len = 0;
    sn_err r;

    snprintf(path, sizeof(path), "%s/hsm/keeper", kp->c->home);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/hsm/keeper/mapped-%s", kp->c->home, label);
    if ((r = sn_file_read(path, 128, &text, &len)) == SN_OK) {
        r = len == strlen(id) && memcmp(text, id, len) == 0 ? SN_OK
                                                            : SN_ERR_STATE;
        free(text);
        return r;
    }
    if (r != SN_ERR_NOT_FOUND)
        return r;
    r = sn_file_write_new(path, id, strlen(id), 0600);
    return r == SN_ERR_EXISTS ? bind_mapped(kp, label, id) : r;
}

static sn_err
op_token_create(struct ctx *x)
{
    struct keeper *kp = x->kp;
    const struct sn_keeper_map *map;
    char id[65], name[129], label[33], path[PATH_MAX];
    char pctx[sizeof(KEEPER_PIN_CONTEXT) + 64];
    uint8_t sealed[PIN_MAX + SN_HSM_SEAL_OVERHEAD];
    size_t slen = 0;
    char *pin = NULL;
    sn_err r;

    if ((r = field_id(x, 0, id)) != SN_OK ||
        sn_kp_str(&x->m->f[1], name, sizeof(name)) != SN_OK)
        return r != SN_OK ? r : refuse(x, SN_ERR_INVALID, "malformed name");
    if (kp->c->mapped) {
        if ((map = map_for(kp, name)) == NULL)
            return refuse(x, SN_ERR_CONFIG, "no token is mapped to this name");
        /* bound at its first open: a subscriber the front end failed
         * to record binds nothing */
        sn_kp_s(&x->o, map->label);
        sn_kp_b(&x->o, NULL, 0);
        return SN_OK;
    }
    label_of(id, label);
    if ((r = sn_hsm_token_init(kp->hsm, label, &pin)) != SN_OK)
        return refuse(x, r, "cannot initialise a token");
    if (kp->c->pins_sealed) {
        snprintf(pctx, sizeof(pctx), KEEPER_PIN_CONTEXT "%s", id);
        slen = sizeof(sealed);
        if ((r = sn_hsm_seal_key_ensure(kp->service)) == SN_OK)
            r = sn_hsm_seal(kp->service, pctx, (const uint8_t *)pin,
                            strlen(pin), sealed, &slen);
    } else {
        snprintf(path, sizeof(path), "%s/hsm/pins", kp->c->home);
        mkdir(path, 0700);
        pin_path(kp, id, path, sizeof(path));
        r = sn_file_write_new(path, pin, strlen(pin), 0600);
    }
    sn_secret_free(pin);
    if (r != SN_OK)
        return refuse(x, r, "cannot keep the new token's PIN");
    sn_kp_s(&x->o, label);
    sn_kp_b(&x->o, sealed, kp->c->pins_sealed ? slen : 0);
    return SN_OK;
}

struct open_args {
    struct keeper *kp;
    const char *name;
    const struct sn_kp_field *sealed;
};

/* sn_parts_open_fn: logs in to a subscriber's token (TOKEN_OPEN). */
static sn_err
open_token(void *arg, const char *id, struct sn_hsm_token **tok)
{
    struct open_args *a = arg;
    struct keeper *kp = a->kp;
    const struct sn_keeper_map *map;
    char label[33], path[PATH_MAX], pctx[sizeof(KEEPER_PIN_CONTEXT) + 64];
    char *pin = NULL;
    size_t len;
    sn_err r;

    if (kp->c->mapped) {
        if ((map = map_for(kp, a->name)) == NULL)
            return SN_ERR_CONFIG;
        if ((r = bind_mapped(kp, map->label, id)) != SN_OK) {
            sn_warn("keeper: subscriber %s named the mapped token %s of "
                    "another subscriber",
                    id, map->label);
            return r;
        }
        if ((r = sn_keeper_read_pin(map->pin_file, &pin)) != SN_OK)
            return r;
        snprintf(label, sizeof(label), "%s", map->label);
    } else if (a->sealed->len > 0) {
        /* sealed for this subscriber id only: another's will not open */
        snprintf(pctx, sizeof(pctx), KEEPER_PIN_CONTEXT "%s", id);
        if ((pin = calloc(1, PIN_MAX + 1)) == NULL)
            return SN_ERR_NOMEM;
        len = PIN_MAX;
        if ((r = sn_hsm_unseal(kp->service, pctx, a->sealed->p, a->sealed->len,
                               (uint8_t *)pin, &len)) != SN_OK) {
            sn_secret_free(pin);
            return r;
        }
        label_of(id, label);
    } else {
        pin_path(kp, id, path, sizeof(path));
        if ((r = sn_keeper_read_pin(path, &pin)) != SN_OK)
            return r;
        label_of(id, label);
    }
    r = sn_hsm_token_open(kp->hsm, label, pin, tok);
    sn_secret_free(pin);
    return r;
}

static sn_err
op_token_open(struct ctx *x)
{
    char id[65], name[129];
    struct open_args a = {x->kp, name, &x->m->f[2]};
    struct sn_hsm_token *tok;
    sn_err r;

    if ((r = field_id(x, 0, id)) != SN_OK ||
        sn_kp_str(&x->m->f[1], name, sizeof(name)) != SN_OK)
        return r != SN_OK ? r : refuse(x, SN_ERR_INVALID, "malformed name");
    if ((r = sn_parts_get(&x->kp->parts, id, open_token, &a, &tok)) != SN_OK)
        return refuse(x, r, "cannot open the subscriber's token");
    sn_kp_s(&x->o, sn_hsm_token_info(tok)->label);
    return SN_OK;
}

/* The subscriber's open token; SN_ERR_STATE (the front end then opens it)
 * if it is not. */
static sn_err
sub_token(struct ctx *x, char id[65], struct sn_hsm_token **tok)
{
    sn_err r;

    if ((r = field_id(x, 0, id)) != SN_OK)
        return r;
    /* a lookup only: a request for a token not open does not queue
     * behind other subscribers' opens */
    if ((*tok = sn_parts_find(&x->kp->parts, id)) == NULL) {
        x->routine = 1;
        return refuse(x, SN_ERR_STATE, "the subscriber's token is not open");
    }
    return SN_OK;
}

static sn_err
attest(struct keeper *kp, const char *sub, const char *kid,
       const struct sn_hsm_info *info, const struct sn_key_facts *facts,
       time_t at, const uint8_t *spki, size_t spki_len, uint8_t **der,
       int *dlen)
{
    const struct sn_kc_ca *ca = sn_keeper_ca_ready(kp, SN_CA_ATT_ISSUER);
    const unsigned char *p = spki;
    struct sn_attestation a;
    EVP_PKEY *pub = NULL;
    X509 *cert = NULL;
    sn_err r = SN_ERR_CRYPTO;

    *der = NULL;
    if (ca == NULL)
        return SN_ERR_STATE;
    memset(&a, 0, sizeof(a));
    snprintf(a.subscriber, sizeof(a.subscriber), "%s", sub);
    snprintf(a.key_id, sizeof(a.key_id), "%s", kid);
    a.hsm = *info;
    a.facts = *facts;
    a.generated_at = at;
    if ((pub = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL)
        goto out;
    if ((r = sn_attest_cert_build(pub, ca->cert, &a, &kp->oids, &cert)) !=
        SN_OK)
        goto out;
    r = SN_ERR_HSM;
    if (X509_sign(cert, ca->key, ca->md) <= 0 ||
        (*dlen = i2d_X509(cert, der)) <= 0)
        goto out;
    r = SN_OK;
out:
    X509_free(cert);
    EVP_PKEY_free(pub);
    return r;
}

static sn_err
op_key_generate(struct ctx *x)
{
    struct sn_hsm_token *tok;
    struct sn_key_facts facts;
    char sub[65], kid[65];
    uint8_t *spki = NULL, *att = NULL, fb[5];
    size_t spki_len = 0;
    time_t now = time(NULL), at;
    int alen = 0;
    sn_err r;

    if ((r = sub_token(x, sub, &tok)) != SN_OK ||
        (r = field_id(x, 1, kid)) != SN_OK)
        return r;
    if (x->m->f[2].u >= SN_KEY_COUNT)
        return refuse(x, SN_ERR_INVALID, "unknown key algorithm");
    at = (time_t)x->m->f[3].u;
    if (at < now - GEN_TIME_SLACK || at > now + GEN_TIME_SLACK)
        return refuse(x, SN_ERR_INVALID, "generation time is not now");
    if ((r = sn_hsm_generate(tok, (enum sn_keyalg)x->m->f[2].u, kid, &spki,
                             &spki_len, &facts)) != SN_OK)
        return refuse(x, r, "key generation failed");
    /* The keeper reads the facts itself and vouches only for good ones. */
    if (!sn_key_facts_ok(&facts)) {
        sn_hsm_destroy(tok, kid);
        r = refuse(x, SN_ERR_HSM_PROTECTION,
                   "protection facts not acceptable (local=%d "
                   "never_extractable=%d always_sensitive=%d extractable=%d "
                   "sensitive=%d); key destroyed",
                   facts.local, facts.never_extractable, facts.always_sensitive,
                   facts.extractable, facts.sensitive);
        goto out;
    }
    if ((r = attest(x->kp, sub, kid, sn_hsm_token_info(tok), &facts, at, spki,
                    spki_len, &att, &alen)) != SN_OK) {
        sn_hsm_destroy(tok, kid);
        r = refuse(x, r, "attestation failed; key destroyed");
        goto out;
    }
    fb[0] = (uint8_t)facts.local;
    fb[1] = (uint8_t)facts.never_extractable;
    fb[2] = (uint8_t)facts.always_sensitive;
    fb[3] = (uint8_t)facts.extractable;
    fb[4] = (uint8_t)facts.sensitive;
    sn_kp_b(&x->o, spki, spki_len);
    sn_kp_b(&x->o, fb, sizeof(fb));
    sn_kp_s(&x->o, sn_hsm_token_info(tok)->manufacturer);
    sn_kp_s(&x->o, sn_hsm_token_info(tok)->model);
    sn_kp_s(&x->o, sn_hsm_token_info(tok)->serial);
    sn_kp_s(&x->o, sn_hsm_token_info(tok)->label);
    sn_kp_b(&x->o, att, (size_t)alen);
out:
    OPENSSL_free(att);
    free(spki);
    return r;
}

static sn_err
op_key_destroy(struct ctx *x)
{
    struct sn_hsm_token *tok;
    char sub[65], kid[65];
    sn_err r;

    if ((r = sub_token(x, sub, &tok)) != SN_OK ||
        (r = field_id(x, 1, kid)) != SN_OK)
        return r;
    if ((r = sn_hsm_destroy(tok, kid)) != SN_OK)
        return refuse(x, r, "no such key on the subscriber's token");
    return SN_OK;
}

static sn_err
op_sign_digest(struct ctx *x)
{
    const struct sn_kp_msg *m = x->m;
    struct sn_hsm_token *tok;
    enum sn_keyalg alg;
    enum sn_digest md;
    enum sn_scheme scheme;
    char sub[65], kid[65];
    uint8_t *sig = NULL;
    size_t siglen = 0;
    sn_err r;

    if ((r = sub_token(x, sub, &tok)) != SN_OK ||
        (r = field_id(x, 1, kid)) != SN_OK)
        return r;
    /* Only a key on this subscriber's own token, in its own algorithm. */
    if ((r = sn_hsm_key_alg(tok, kid, &alg)) != SN_OK)
        return refuse(x, r == SN_ERR_NOT_FOUND ? SN_ERR_NOT_FOUND : r,
                      "no such key on the subscriber's token");
    if (m->f[2].u >= SN_MD_COUNT || m->f[3].u > SN_SCHEME_ECDSA)
        return refuse(x, SN_ERR_INVALID, "unknown digest or scheme");
    md = (enum sn_digest)m->f[2].u;
    scheme = (enum sn_scheme)m->f[3].u;
    if (m->f[4].len != sn_digest_len(md))
        return refuse(x, SN_ERR_INVALID, "a %s digest is %zu bytes, not %zu",
                      sn_digest_name(md), sn_digest_len(md), m->f[4].len);
    if (sn_keyalg_is_rsa(alg) == (scheme == SN_SCHEME_ECDSA))
        return refuse(x, SN_ERR_INVALID, "scheme %s does not fit a %s key",
                      sn_scheme_name(scheme), sn_keyalg_name(alg));
    if ((r = sn_hsm_sign(tok, kid, alg, md, scheme, m->f[4].p, m->f[4].len,
                         &sig, &siglen)) != SN_OK)
        return refuse(x, r, "signing failed");
    sn_kp_b(&x->o, sig, siglen);
    free(sig);
    return SN_OK;
}

/* ---- the CAs and the TSA ---- */

static int tsa_id_ok(const char *id);

/*
 * Whose key a certificate certifies, from the evidence the front end
 * sends with it: a code signing key must have the attestation this keeper
 * made when it generated it in a subscriber's token (signed by the
 * attestation issuer, for the same public key); a TSA key must be a
 * "tsa-" key pair on the service token with the same public key. Any
 * other issuing key certifies no key here.
 */
static sn_err
whose_key(struct ctx *x, unsigned kind, const struct sn_kp_field *der,
          const struct sn_kp_field *ev)
{
    const unsigned char *p = der->p, *q = ev->p;
    X509 *leaf = NULL, *att = NULL, *issuer;
    char id[65];
    sn_err r = SN_ERR_STATE;

    if ((leaf = d2i_X509(NULL, &p, (long)der->len)) == NULL) {
        r = refuse(x, SN_ERR_INVALID, "malformed certificate");
        goto out;
    }
    if (kind == SN_CA_CODESIGNING) {
        /* the issuer whose key the keeper holds, checked at its start */
        issuer = sn_keeper_ca_ready(x->kp, SN_CA_ATT_ISSUER) != NULL
                     ? x->kp->ca[SN_CA_ATT_ISSUER].cert
                     : NULL;
        if (issuer == NULL ||
            (att = d2i_X509(NULL, &q, (long)ev->len)) == NULL ||
            q != ev->p + ev->len ||
            X509_verify(att, X509_get0_pubkey(issuer)) != 1 ||
            EVP_PKEY_eq(X509_get0_pubkey(att), X509_get0_pubkey(leaf)) != 1) {
            r = refuse(x, SN_ERR_STATE,
                       "the key is not one this keeper generated and "
                       "attested");
            goto out;
        }
    } else if (kind == SN_CA_TIMESTAMPING) {
        if (ev->len == 0 || ev->len >= sizeof(id) ||
            memchr(ev->p, '\0', ev->len) != NULL) {
            r = refuse(x, SN_ERR_INVALID, "no TSA key id");
            goto out;
        }
        memcpy(id, ev->p, ev->len);
        id[ev->len] = '\0';
        if (!tsa_id_ok(id) || sn_keeper_holds_key(x->kp, id, leaf) != SN_OK) {
            r = refuse(x, SN_ERR_STATE,
                       "the key is not a TSA key on the service token");
            goto out;
        }
    }
    r = SN_OK;
out:
    X509_free(att);
    X509_free(leaf);
    return r;
}

static sn_err
op_sign_object(struct ctx *x)
{
    const struct sn_kp_msg *m = x->m;
    const struct sn_kc_ca *ca;
    uint8_t *out = NULL;
    size_t outlen = 0;
    sn_err r;

    if (m->f[0].u >= SN_CA_COUNT ||
        (ca = sn_keeper_ca_ready(x->kp, (unsigned)m->f[0].u)) == NULL)
        return refuse(x, SN_ERR_NOT_FOUND,
                      "this keeper holds no such CA key (or its certificate "
                      "is not the key's)");
    if (m->type == SN_KP_SIGN_CERT && ca->profile != SN_KC_NONE &&
        (r = whose_key(x, (unsigned)m->f[0].u, &m->f[1], &m->f[2])) != SN_OK)
        return r;
    if (m->type == SN_KP_SIGN_CERT)
        r = sn_kc_sign_cert(ca, m->f[1].p, m->f[1].len, time(NULL), &out,
                            &outlen, x->why, sizeof(x->why));
    else if (m->type == SN_KP_SIGN_CRL)
        r = sn_kc_sign_crl(ca, m->f[1].p, m->f[1].len, time(NULL), &out,
                           &outlen, x->why, sizeof(x->why));
    else
        r = sn_kc_sign_ocsp(ca, m->f[1].p, m->f[1].len, time(NULL), &out,
                            &outlen, x->why, sizeof(x->why));
    if (r != SN_OK)
        return r;
    sn_kp_b(&x->o, out, outlen);
    free(out);
    return SN_OK;
}

static sn_err
op_sign_tsa(struct ctx *x)
{
    struct keeper *kp = x->kp;
    const struct sn_kp_field *f = &x->m->f[1];
    const struct sn_kc_tsa *t;
    uint8_t *out = NULL;
    size_t outlen = 0;
    char id[65];
    sn_err r;

    if ((r = field_id(x, 0, id)) != SN_OK)
        return r;
    pthread_rwlock_rdlock(&kp->tsa_lock);
    t = kp->tsa.key != NULL && strcmp(id, kp->tsa_id) == 0 ? &kp->tsa
        : kp->tsa_prev.key != NULL && strcmp(id, kp->tsa_prev_id) == 0
            ? &kp->tsa_prev
            : NULL;
    /* NOT_FOUND: the front end binds it (TSA_USE) and asks again */
    if (t == NULL)
        r = refuse(x, SN_ERR_NOT_FOUND, "TSA key %s is not bound", id);
    else if (x->m->type == SN_KP_SIGN_TST)
        r = sn_kc_sign_tst(t, f->p, f->len, time(NULL), &out, &outlen, x->why,
                           sizeof(x->why));
    else
        r = sn_kc_sign_ts_pkcs7(t, f->p, f->len, &out, &outlen, x->why,
                                sizeof(x->why));
    pthread_rwlock_unlock(&kp->tsa_lock);
    if (r == SN_OK)
        sn_kp_b(&x->o, out, outlen);
    free(out);
    return r;
}

/* A TSA key id: "tsa-" and 32 hex digits. */
static int
tsa_id_ok(const char *id)
{
    size_t i;

    if (strncmp(id, "tsa-", 4) != 0 || strlen(id) != 36)
        return 0;
    for (i = 4; id[i] != '\0'; i++)
        if (!isxdigit((unsigned char)id[i]))
            return 0;
    return 1;
}

static sn_err
op_tsa_keygen(struct ctx *x)
{
    struct sn_key_facts facts;
    char id[65];
    uint8_t *spki = NULL;
    size_t len = 0;
    sn_err r;

    if ((r = field_id(x, 0, id)) != SN_OK)
        return r;
    if (!tsa_id_ok(id) || x->m->f[1].u >= SN_KEY_COUNT)
        return refuse(x, SN_ERR_INVALID, "not a TSA key id or algorithm");
    if ((r = sn_hsm_generate(x->kp->service, (enum sn_keyalg)x->m->f[1].u, id,
                             &spki, &len, &facts)) != SN_OK)
        return refuse(x, r, "key generation failed");
    if (!sn_key_facts_ok(&facts)) {
        sn_hsm_destroy(x->kp->service, id);
        free(spki);
        return refuse(x, SN_ERR_HSM_PROTECTION,
                      "protection facts not acceptable; key destroyed");
    }
    sn_kp_b(&x->o, spki, len);
    free(spki);
    return SN_OK;
}

static sn_err
op_tsa_use(struct ctx *x)
{
    const struct sn_kp_field *f = &x->m->f[1];
    const unsigned char *p = f->p;
    char id[65];
    X509 *cert = NULL;
    sn_err r;

    if ((r = field_id(x, 0, id)) != SN_OK)
        return r;
    if (!tsa_id_ok(id))
        return refuse(x, SN_ERR_INVALID, "not a TSA key id");
    if ((cert = d2i_X509(NULL, &p, (long)f->len)) == NULL ||
        p != f->p + f->len) {
        X509_free(cert);
        return refuse(x, SN_ERR_INVALID, "malformed certificate");
    }
    r = sn_keeper_tsa_bind(x->kp, id, cert, x->why, sizeof(x->why));
    X509_free(cert);
    return r;
}

static sn_err
op_tsa_destroy(struct ctx *x)
{
    struct keeper *kp = x->kp;
    char id[65];
    sn_err r;

    if ((r = field_id(x, 0, id)) != SN_OK)
        return r;
    if (!tsa_id_ok(id))
        return refuse(x, SN_ERR_INVALID, "not a TSA key id");
    /* Under the write lock: no token is being signed with it meanwhile,
     * and no rotation binds it again between the check and the destroy. */
    pthread_rwlock_wrlock(&kp->tsa_lock);
    if (strcmp(id, kp->tsa_id) == 0)
        r = refuse(x, SN_ERR_STATE, "the TSA's current key stays");
    else if ((r = sn_hsm_destroy(kp->service, id)) != SN_OK)
        r = refuse(x, r, "no such TSA key");
    else if (strcmp(id, kp->tsa_prev_id) == 0) {
        EVP_PKEY_free(kp->tsa_prev.key);
        X509_free(kp->tsa_prev.cert);
        sk_X509_pop_free(kp->tsa_prev.chain, X509_free);
        kp->tsa_prev.key = NULL;
        kp->tsa_prev.cert = NULL;
        kp->tsa_prev.chain = NULL;
        kp->tsa_prev_id[0] = '\0';
    }
    pthread_rwlock_unlock(&kp->tsa_lock);
    return r;
}

/* ---- the log, the notices, sealing ---- */

static sn_err
cp_save(const struct keeper *kp, uint64_t size, const uint8_t root[32])
{
    char path[PATH_MAX - 8], tmp[PATH_MAX], text[128];
    char hex[65];
    int n;
    sn_err r;

    sn_hex_encode(root, 32, hex);
    n = snprintf(text, sizeof(text), "%llu %s\n", (unsigned long long)size,
                 hex);
    snprintf(path, sizeof(path), "%s/hsm/keeper", kp->c->home);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/hsm/keeper/checkpoint", kp->c->home);
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    unlink(tmp);
    if ((r = sn_file_write_new(tmp, text, (size_t)n, 0600)) != SN_OK)
        return r;
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return SN_ERR_IO;
    }
    return SN_OK;
}

sn_err
sn_keeper_cp_load(struct keeper *kp)
{
    char path[PATH_MAX], hex[65];
    unsigned long long size;
    uint8_t *text = NULL, *root = NULL;
    size_t len = 0, rlen = 0;
    char *end;
    sn_err r;

    snprintf(path, sizeof(path), "%s/hsm/keeper/checkpoint", kp->c->home);
    if ((r = sn_file_read(path, 256, &text, &len)) != SN_OK)
        return r == SN_ERR_NOT_FOUND ? SN_OK : r;
    r = SN_ERR_INVALID;
    size = strtoull((char *)text, &end, 10);
    if (*end == ' ' && strlen(end + 1) >= 64) {
        memcpy(hex, end + 1, 64);
        hex[64] = '\0';
        if (sn_hex_decode(hex, &root, &rlen) == SN_OK && rlen == 32) {
            memcpy(kp->cp_root, root, 32);
            kp->cp_size = size;
            kp->cp_have = 1;
            r = SN_OK;
        }
        free(root);
    }
    free(text);
    return r;
}

/* A larger tree's checkpoint extends the last one signed: proof is its
 * size m (u64, big-endian) and the RFC 9162 consistency proof from m to
 * size, checked against the root signed for m. Called under cp_lock. */
static int
extends_last(const struct keeper *kp, const struct sn_kp_field *proof,
             uint64_t size, const uint8_t root[32])
{
    uint8_t hashes[SN_TLOG_MAX_PROOF][SN_TLOG_HASH];
    uint64_t m = 0;
    size_t i, np;

    if (kp->cp_size == 0)
        return 1; /* the empty tree: every tree extends it */
    if (proof->len < 8 || (proof->len - 8) % SN_TLOG_HASH != 0)
        return 0;
    for (i = 0; i < 8; i++)
        m = m << 8 | proof->p[i];
    np = (proof->len - 8) / SN_TLOG_HASH;
    if (m != kp->cp_size || np > SN_TLOG_MAX_PROOF)
        return 0;
    memcpy(hashes, proof->p + 8, np * SN_TLOG_HASH);
    return sn_tlog_check_consistency(m, size, kp->cp_root, root,
                                     (const uint8_t(*)[SN_TLOG_HASH])hashes,
                                     np) == 1;
}

/* A checkpoint body exactly as the log writes it: the origin, the size,
 * the root; never a smaller tree than the last one signed, nor another
 * root for the same size, nor a larger tree that does not extend it. */
static sn_err
op_sign_checkpoint(struct ctx *x)
{
    struct keeper *kp = x->kp;
    const struct sn_kp_field *f = &x->m->f[0];
    char body[SN_TLOG_NOTE_MAX], text[SN_TLOG_NOTE_MAX], *nl, *end;
    uint8_t root[32], sig[64], *dec = NULL;
    size_t olen = strlen(kp->c->log_origin), rlen = 0;
    unsigned long long size;
    sn_err r;

    if (f->len >= sizeof(text))
        return refuse(x, SN_ERR_INVALID, "checkpoint too long");
    memcpy(text, f->p, f->len);
    text[f->len] = '\0';
    if (strlen(text) != f->len || strncmp(text, kp->c->log_origin, olen) != 0 ||
        text[olen] != '\n' || !isdigit((unsigned char)text[olen + 1]))
        return refuse(x, SN_ERR_INVALID, "not a checkpoint of this log");
    size = strtoull(text + olen + 1, &end, 10);
    if (*end != '\n' || (nl = strchr(end + 1, '\n')) == NULL)
        return refuse(x, SN_ERR_INVALID, "malformed checkpoint");
    *nl = '\0';
    if (sn_b64_decode(end + 1, &dec, &rlen) != SN_OK || rlen != 32) {
        free(dec);
        return refuse(x, SN_ERR_INVALID, "malformed checkpoint root");
    }
    memcpy(root, dec, 32);
    free(dec);
    /* byte for byte the canonical form: nothing else rides along */
    if (sn_tlog_checkpoint_body(kp->c->log_origin, size, root, body,
                                sizeof(body)) != SN_OK ||
        strlen(body) != f->len || memcmp(body, f->p, f->len) != 0)
        return refuse(x, SN_ERR_INVALID, "not a canonical checkpoint");
    pthread_mutex_lock(&kp->cp_lock);
    if (kp->cp_have && size < kp->cp_size)
        r = refuse(x, SN_ERR_STATE,
                   "checkpoint of size %llu is smaller than the last signed "
                   "(%llu)",
                   size, (unsigned long long)kp->cp_size);
    else if (kp->cp_have && size == kp->cp_size &&
             CRYPTO_memcmp(root, kp->cp_root, 32) != 0)
        r = refuse(x, SN_ERR_STATE,
                   "another root for the size of the last checkpoint signed");
    else if (kp->cp_have && size > kp->cp_size &&
             !extends_last(kp, &x->m->f[1], size, root))
        r = refuse(x, SN_ERR_STATE,
                   "no proof that the tree of size %llu extends the last "
                   "checkpoint signed (%llu)",
                   size, (unsigned long long)kp->cp_size);
    else if ((r = sn_hsm_logkey_sign(kp->service, f->p, f->len, sig)) != SN_OK)
        r = refuse(x, r, "signing failed");
    else if ((r = cp_save(kp, size, root)) != SN_OK)
        r = refuse(x, r, "cannot keep the checkpoint state");
    else {
        kp->cp_have = 1;
        kp->cp_size = size;
        memcpy(kp->cp_root, root, 32);
    }
    pthread_mutex_unlock(&kp->cp_lock);
    if (r == SN_OK)
        sn_kp_b(&x->o, sig, sizeof(sig));
    return r;
}

static sn_err
op_sign_notice(struct ctx *x)
{
    const struct sn_kp_field *f = &x->m->f[0];
    uint8_t sig[64];
    sn_err r;

    if ((r = sn_hsm_edkey_sign(x->kp->service, SN_EDKEY_NOTICE, f->p, f->len,
                               sig)) != SN_OK)
        return refuse(x, r, "signing failed");
    sn_kp_b(&x->o, sig, sizeof(sig));
    return SN_OK;
}

static int
pin_context(const char *ctx)
{
    return strncmp(ctx, KEEPER_PIN_CONTEXT, strlen(KEEPER_PIN_CONTEXT)) == 0;
}

static sn_err
op_seal(struct ctx *x)
{
    const struct sn_kp_field *f = &x->m->f[1];
    uint8_t out[1024 + SN_HSM_SEAL_OVERHEAD];
    size_t outlen = sizeof(out);
    char context[257];
    sn_err r;

    if (sn_kp_str(&x->m->f[0], context, sizeof(context)) != SN_OK)
        return refuse(x, SN_ERR_INVALID, "malformed context");
    /* A token's PIN is sealed by the keeper only, inside it. */
    if (pin_context(context))
        return refuse(x, SN_ERR_STATE, "PIN contexts are the keeper's");
    if (x->m->type == SN_KP_SEAL) {
        if ((r = sn_hsm_seal_key_ensure(x->kp->service)) == SN_OK)
            r = sn_hsm_seal(x->kp->service, context, f->p, f->len, out,
                            &outlen);
    } else
        r = sn_hsm_unseal(x->kp->service, context, f->p, f->len, out, &outlen);
    if (r != SN_OK)
        return refuse(x, r, "cannot %s",
                      x->m->type == SN_KP_SEAL ? "seal" : "unseal");
    sn_kp_b(&x->o, out, outlen);
    explicit_bzero(out, sizeof(out));
    return SN_OK;
}

static sn_err
op_ping(struct ctx *x)
{
    sn_err r;

    if ((r = sn_hsm_token_ping(x->kp->service)) != SN_OK)
        return refuse(x, r, "the HSM does not answer");
    return SN_OK;
}

static sn_err
op_pubkeys(struct ctx *x)
{
    sn_kp_b(&x->o, x->kp->log_pub, 32);
    sn_kp_b(&x->o, x->kp->notice_pub, 32);
    sn_kp_u(&x->o, x->kp->held);
    pthread_mutex_lock(&x->kp->cp_lock);
    sn_kp_u(&x->o, x->kp->cp_have ? x->kp->cp_size : 0);
    pthread_mutex_unlock(&x->kp->cp_lock);
    return SN_OK;
}

sn_err
sn_keeper_op(struct keeper *kp, const struct sn_kp_msg *m, uint8_t **frame,
             size_t *flen)
{
    struct ctx x;
    sn_err r;

    memset(&x, 0, sizeof(x));
    x.kp = kp;
    x.m = m;
    sn_kp_begin(&x.o, SN_KP_OK, m->type);
    switch (m->type) {
    case SN_KP_PING:
        r = op_ping(&x);
        break;
    case SN_KP_TOKEN_CREATE:
        r = op_token_create(&x);
        break;
    case SN_KP_TOKEN_OPEN:
        r = op_token_open(&x);
        break;
    case SN_KP_KEY_GENERATE:
        r = op_key_generate(&x);
        break;
    case SN_KP_KEY_DESTROY:
        r = op_key_destroy(&x);
        break;
    case SN_KP_SIGN_DIGEST:
        r = op_sign_digest(&x);
        break;
    case SN_KP_SIGN_CERT:
    case SN_KP_SIGN_CRL:
    case SN_KP_SIGN_OCSP:
        r = op_sign_object(&x);
        break;
    case SN_KP_SIGN_TST:
    case SN_KP_SIGN_TS_PKCS7:
        r = op_sign_tsa(&x);
        break;
    case SN_KP_SIGN_CHECKPOINT:
        r = op_sign_checkpoint(&x);
        break;
    case SN_KP_SIGN_NOTICE:
        r = op_sign_notice(&x);
        break;
    case SN_KP_SEAL:
    case SN_KP_UNSEAL:
        r = op_seal(&x);
        break;
    case SN_KP_PUBKEYS:
        r = op_pubkeys(&x);
        break;
    case SN_KP_TSA_KEYGEN:
        r = op_tsa_keygen(&x);
        break;
    case SN_KP_TSA_USE:
        r = op_tsa_use(&x);
        break;
    case SN_KP_TSA_DESTROY:
        r = op_tsa_destroy(&x);
        break;
    default:
        r = refuse(&x, SN_ERR_INVALID, "unknown operation");
        break;
    }
    if (r == SN_OK && (r = sn_kp_finish(&x.o, frame, flen)) == SN_OK)
        return SN_OK;
    sn_kp_out_cleanup(&x.o);
    /* Subscribers' tokens not yet open are routine, not refusals. */
    if (!x.routine)
        sn_warn("keeper: refused %s: %s (%s)", sn_kp_type_name(m->type),
                x.why[0] ? x.why : "failed", sn_err_str(r));
    return sn_kp_error(m->type, r, x.why[0] ? x.why : sn_err_str(r), frame,
                       flen);
}
