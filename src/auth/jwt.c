/*
 * jwt: ID-token verification (see jwt.h). Untrusted input throughout: the
 * length is checked before anything is decoded, each part is strict
 * base64url, JSON is parsed with duplicate members refused, and the
 * algorithm is taken from the header only to be checked against the
 * verifying key's type.
 */
#include "auth/jwt.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>

#include "common/util.h"

#define SIG_MAX 1024 /* an RSA-8192 signature */

const char *
sn_jwt_reason_str(enum sn_jwt_reason r)
{
    switch (r) {
#define SN_JWT_STR(c, m)                                                       \
    case c:                                                                    \
        return m;
        SN_JWT_REASONS(SN_JWT_STR)
#undef SN_JWT_STR
    }
    return "invalid_token";
}

void
sn_jwt_free(struct sn_jwt *t)
{
    if (t == NULL)
        return;
    json_decref(t->claims);
    free(t->signing_input);
    free(t->sig);
    free(t);
}

/* A JSON object from base64url text; NULL if either layer is malformed
 * (*bad_b64 tells which). */
static json_t *
decode_object(const char *s, size_t len, int *bad_b64)
{
    uint8_t *raw = NULL;
    size_t rawlen;
    json_t *o;

    *bad_b64 = 0;
    if (len == 0 || sn_b64url_decode(s, len, &raw, &rawlen) != SN_OK) {
        *bad_b64 = 1;
        return NULL;
    }
    o = json_loadb((const char *)raw, rawlen, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (o != NULL && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* Headers that would let the token choose its own key or add semantics
 * we do not implement. */
static const char *const refused_headers[] = {"jku", "jwk", "x5u", "x5c",
                                              "crit"};

static enum sn_jwt_reason
check_header(json_t *h, struct sn_jwt *t)
{
    const char *alg = json_string_value(json_object_get(h, "alg"));
    json_t *kid = json_object_get(h, "kid");
    size_t i;

    if (alg == NULL)
        return SN_JWT_ALG;
    if (strcmp(alg, "RS256") == 0)
        t->alg = SN_JWT_RS256;
    else if (strcmp(alg, "ES256") == 0)
        t->alg = SN_JWT_ES256;
    else
        return SN_JWT_ALG;
    for (i = 0; i < sizeof(refused_headers) / sizeof(refused_headers[0]); i++)
        if (json_object_get(h, refused_headers[i]) != NULL)
            return SN_JWT_HEADER;
    if (!json_is_string(kid) || json_string_length(kid) == 0 ||
        json_string_length(kid) > SN_JWK_KID_MAX ||
        strlen(json_string_value(kid)) != json_string_length(kid))
        return SN_JWT_NO_KID;
    memcpy(t->kid, json_string_value(kid), json_string_length(kid) + 1);
    return SN_JWT_OK;
}

enum sn_jwt_reason
sn_jwt_parse(const char *token, size_t len, struct sn_jwt **out)
{
    const char *d1, *d2;
    struct sn_jwt *t = NULL;
    json_t *h = NULL;
    enum sn_jwt_reason r = SN_JWT_TOO_LARGE;
    size_t hlen, plen, slen;
    int bad;

    *out = NULL;
    if (len > SN_JWT_MAX)
        goto out;
    r = SN_JWT_MALFORMED;
    if (len == 0 || memchr(token, '\0', len) != NULL ||
        (d1 = memchr(token, '.', len)) == NULL ||
        (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token))) == NULL ||
        memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        goto out;
    hlen = (size_t)(d1 - token);
    plen = (size_t)(d2 - d1 - 1);
    slen = len - (size_t)(d2 + 1 - token);
    if ((t = calloc(1, sizeof(*t))) == NULL)
        goto out;
    if ((h = decode_object(token, hlen, &bad)) == NULL) {
        r = bad ? SN_JWT_MALFORMED : SN_JWT_BAD_JSON;
        goto out;
    }
    if ((r = check_header(h, t)) != SN_JWT_OK)
        goto out;
    if ((t->claims = decode_object(d1 + 1, plen, &bad)) == NULL) {
        r = bad ? SN_JWT_MALFORMED : SN_JWT_BAD_JSON;
        goto out;
    }
    r = SN_JWT_MALFORMED;
    if (slen == 0 || slen > (SIG_MAX + 2) / 3 * 4 ||
        sn_b64url_decode(d2 + 1, slen, &t->sig, &t->sig_len) != SN_OK ||
        (t->alg == SN_JWT_ES256 && t->sig_len != 64))
        goto out;
    t->signing_len = (size_t)(d2 - token);
    if ((t->signing_input = malloc(t->signing_len + 1)) == NULL)
        goto out;
    memcpy(t->signing_input, token, t->signing_len);
    t->signing_input[t->signing_len] = '\0';
    *out = t;
    t = NULL;
    r = SN_JWT_OK;
out:
    json_decref(h);
    sn_jwt_free(t);
    return r;
}

const char *
sn_jwt_issuer(const struct sn_jwt *t)
{
    return json_string_value(json_object_get(t->claims, "iss"));
}

/* ES256's raw r||s as the DER ECDSA-Sig-Value EVP wants; *der malloc'd. */
static int
es256_der(const unsigned char *sig, unsigned char **der, int *derlen)
{
    ECDSA_SIG *es = NULL;
    BIGNUM *r = NULL, *s = NULL;
    int ok = 0;

    *der = NULL;
    if ((r = BN_bin2bn(sig, 32, NULL)) == NULL ||
        (s = BN_bin2bn(sig + 32, 32, NULL)) == NULL ||
        (es = ECDSA_SIG_new()) == NULL || !ECDSA_SIG_set0(es, r, s))
        goto out;
    r = s = NULL; /* owned by es */
    ok = (*derlen = i2d_ECDSA_SIG(es, der)) > 0;
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return ok;
}

static enum sn_jwt_reason
verify_sig(const struct sn_jwt *t, const struct sn_jwk *k)
{
    EVP_MD_CTX *md = NULL;
    unsigned char *der = NULL;
    const unsigned char *sig = t->sig;
    size_t siglen = t->sig_len;
    int derlen = 0;
    enum sn_jwt_reason r = SN_JWT_SIGNATURE;

    if (t->alg == SN_JWT_ES256) {
        if (!es256_der(t->sig, &der, &derlen))
            goto out;
        sig = der;
        siglen = (size_t)derlen;
    }
    if ((md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) != 1)
        goto out;
    if (EVP_DigestVerify(md, sig, siglen,
                         (const unsigned char *)t->signing_input,
                         t->signing_len) == 1)
        r = SN_JWT_OK;
out:
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return r;
}

/* An integer claim: 1 and *v if present, 0 if absent, -1 if not an
 * integer. */
static int
int_claim(json_t *claims, const char *name, time_t *v)
{
    json_t *o = json_object_get(claims, name);

    *v = 0;
    if (o == NULL)
        return 0;
    if (!json_is_integer(o) || json_integer_value(o) < 0)
        return -1;
    *v = (time_t)json_integer_value(o);
    return 1;
}

static enum sn_jwt_reason
check_aud(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0 &&
                       strlen(want) == json_string_length(aud)
                   ? SN_JWT_OK
                   : SN_JWT_AUD;
    /* An array of exactly the one audience: a token meant for several
     * parties is refused. */
    if (json_is_array(aud) && json_array_size(aud) == 1)
        return check_aud(json_array_get(aud, 0), want);
    return SN_JWT_AUD;
}

static enum sn_jwt_reason
check_times(json_t *c, const struct sn_jwt_expect *ex, time_t *exp)
{
    time_t nbf, iat;

    if (int_claim(c, "exp", exp) != 1 || int_claim(c, "iat", &iat) != 1 ||
        int_claim(c, "nbf", &nbf) < 0)
        return SN_JWT_CLAIMS;
    if (ex->now > *exp + SN_JWT_LEEWAY)
        return SN_JWT_EXPIRED;
    if (nbf > ex->now + SN_JWT_LEEWAY || iat > ex->now + SN_JWT_LEEWAY)
        return SN_JWT_NOT_YET;
    if (ex->now - iat > ex->max_age + SN_JWT_LEEWAY)
        return SN_JWT_TOO_OLD;
    return SN_JWT_OK;
}

enum sn_jwt_reason
sn_jwt_verify(const struct sn_jwt *t, const struct sn_jwks *ks,
              const struct sn_jwt_expect *ex, time_t *exp, char *jti)
{
    const struct sn_jwk *k = sn_jwks_find(ks, t->kid);
    json_t *c = t->claims, *iss, *sub, *j;
    enum sn_jwt_reason r;

    *exp = 0;
    jti[0] = '\0';
    if (k == NULL)
        return SN_JWT_KID_UNKNOWN;
    if ((t->alg == SN_JWT_RS256) != (k->kty == SN_JWK_RSA) ||
        (t->alg == SN_JWT_ES256) != (k->kty == SN_JWK_EC_P256))
        return SN_JWT_KEY_TYPE;
    if ((r = verify_sig(t, k)) != SN_JWT_OK)
        return r;
    iss = json_object_get(c, "iss");
    if (!json_is_string(iss) ||
        strcmp(json_string_value(iss), ex->issuer) != 0 ||
        json_string_length(iss) != strlen(ex->issuer))
        return SN_JWT_ISS;
    if ((r = check_aud(json_object_get(c, "aud"), ex->audience)) != SN_JWT_OK)
        return r;
    if ((r = check_times(c, ex, exp)) != SN_JWT_OK)
        return r;
    sub = json_object_get(c, "sub");
    if (!json_is_string(sub) || json_string_length(sub) == 0)
        return SN_JWT_CLAIMS;
    j = json_object_get(c, "jti");
    if (!json_is_string(j) || json_string_length(j) == 0 ||
        json_string_length(j) > SN_JWT_JTI_MAX ||
        strlen(json_string_value(j)) != json_string_length(j))
        return SN_JWT_NO_JTI;
    memcpy(jti, json_string_value(j), json_string_length(j) + 1);
    return SN_JWT_OK;
}
