/*
 * jwk: JWKS documents into public keys (see jwk.h). Untrusted input: the
 * document's size is checked before parsing, each base64url field is
 * decoded strictly within its own limit, and OpenSSL checks each key
 * (EC points on the curve) before it is kept.
 */
#include "auth/jwk.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "common/util.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192

/* A base64url member of o decoding to 1..max bytes; *out malloc'd. */
static sn_err
member_b64(json_t *o, const char *name, size_t max, uint8_t **out, size_t *len)
{
    json_t *v = json_object_get(o, name);
    size_t slen;

    *out = NULL;
    *len = 0;
    if (!json_is_string(v))
        return SN_ERR_INVALID;
    slen = json_string_length(v);
    if (slen == 0 || slen > (max + 2) / 3 * 4)
        return SN_ERR_INVALID;
    if (sn_b64url_decode(json_string_value(v), slen, out, len) != SN_OK)
        return SN_ERR_INVALID;
    if (*len == 0 || *len > max) {
        free(*out);
        *out = NULL;
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

/* Makes a public key of type name ("RSA", "EC") from params, checked. */
static sn_err
pkey_from(const char *name, OSSL_PARAM *params, EVP_PKEY **out)
{
    EVP_PKEY_CTX *ctx = NULL, *chk = NULL;
    EVP_PKEY *pk = NULL;
    sn_err r = SN_ERR_INVALID;

    if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        goto out;
    if ((chk = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL ||
        EVP_PKEY_public_check(chk) <= 0)
        goto out;
    *out = pk;
    pk = NULL;
    r = SN_OK;
out:
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(chk);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return r;
}

static sn_err
rsa_key(json_t *o, EVP_PKEY **out)
{
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    BIGNUM *n = NULL, *e = NULL;
    uint8_t *nb = NULL, *eb = NULL;
    size_t nlen, elen;
    sn_err r = SN_ERR_INVALID;

    if (member_b64(o, "n", RSA_MAX_BITS / 8, &nb, &nlen) != SN_OK ||
        member_b64(o, "e", 8, &eb, &elen) != SN_OK)
        goto out;
    if ((n = BN_bin2bn(nb, (int)nlen, NULL)) == NULL ||
        (e = BN_bin2bn(eb, (int)elen, NULL)) == NULL)
        goto out;
    if (BN_num_bits(n) < RSA_MIN_BITS || !BN_is_odd(e) || BN_is_one(e))
        goto out;
    if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
        goto out;
    r = pkey_from("RSA", params, out);
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    free(nb);
    free(eb);
    return r;
}

static sn_err
ec_key(json_t *o, EVP_PKEY **out)
{
    OSSL_PARAM params[3];
    uint8_t *x = NULL, *y = NULL, pt[65];
    size_t xlen, ylen;
    char group[] = "prime256v1";
    sn_err r = SN_ERR_INVALID;

    if (!json_is_string(json_object_get(o, "crv")) ||
        strcmp(json_string_value(json_object_get(o, "crv")), "P-256") != 0)
        goto out;
    if (member_b64(o, "x", 32, &x, &xlen) != SN_OK ||
        member_b64(o, "y", 32, &y, &ylen) != SN_OK || xlen != 32 || ylen != 32)
        goto out;
    pt[0] = 0x04;
    memcpy(pt + 1, x, 32);
    memcpy(pt + 33, y, 32);
    params[0] =
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    params[1] =
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, 65);
    params[2] = OSSL_PARAM_construct_end();
    r = pkey_from("EC", params, out);
out:
    free(x);
    free(y);
    return r;
}

/* A JWK's type if it is one we keep for signatures; 0 to skip it. A key
 * with an "alg" must name its type's algorithm. */
static enum sn_jwk_kty
kept_kty(json_t *o)
{
    const char *kty = json_string_value(json_object_get(o, "kty"));
    const char *use = json_string_value(json_object_get(o, "use"));
    const char *alg = json_string_value(json_object_get(o, "alg"));

    if (kty == NULL || (use != NULL && strcmp(use, "sig") != 0))
        return 0;
    if (strcmp(kty, "RSA") == 0 && (alg == NULL || strcmp(alg, "RS256") == 0))
        return SN_JWK_RSA;
    if (strcmp(kty, "EC") == 0 && (alg == NULL || strcmp(alg, "ES256") == 0))
        return SN_JWK_EC_P256;
    return 0;
}

static sn_err
add_key(struct sn_jwks *ks, json_t *o)
{
    enum sn_jwk_kty kty = kept_kty(o);
    json_t *kid = json_object_get(o, "kid");
    struct sn_jwk *k;
    sn_err r;

    if (kty == 0)
        return SN_OK;
    if (!json_is_string(kid) || json_string_length(kid) == 0 ||
        json_string_length(kid) > SN_JWK_KID_MAX ||
        strlen(json_string_value(kid)) != json_string_length(kid))
        return SN_ERR_INVALID;
    if (sn_jwks_find(ks, json_string_value(kid)) != NULL)
        return SN_ERR_INVALID;
    if (ks->n == SN_JWKS_MAX)
        return SN_ERR_LIMIT;
    k = &ks->keys[ks->n];
    memset(k, 0, sizeof(*k));
    r = kty == SN_JWK_RSA ? rsa_key(o, &k->pkey) : ec_key(o, &k->pkey);
    if (r != SN_OK)
        return r;
    memcpy(k->kid, json_string_value(kid), json_string_length(kid) + 1);
    k->kty = kty;
    ks->n++;
    return SN_OK;
}

sn_err
sn_jwks_parse(const char *doc, size_t len, struct sn_jwks **out)
{
    struct sn_jwks *ks = NULL;
    json_t *root = NULL, *keys, *o;
    size_t i;
    sn_err r = SN_ERR_INVALID;

    *out = NULL;
    if (len > SN_JWKS_DOC_MAX)
        return SN_ERR_LIMIT;
    if ((root = json_loadb(doc, len, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
        !json_is_object(root) ||
        !json_is_array(keys = json_object_get(root, "keys")))
        goto out;
    if ((ks = calloc(1, sizeof(*ks))) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    json_array_foreach(keys, i, o)
    {
        r = json_is_object(o) ? add_key(ks, o) : SN_ERR_INVALID;
        if (r != SN_OK)
            goto out;
    }
    *out = ks;
    ks = NULL;
    r = SN_OK;
out:
    sn_jwks_free(ks);
    json_decref(root);
    return r;
}

void
sn_jwks_free(struct sn_jwks *ks)
{
    size_t i;

    if (ks == NULL)
        return;
    for (i = 0; i < ks->n; i++)
        EVP_PKEY_free(ks->keys[i].pkey);
    free(ks);
}

const struct sn_jwk *
sn_jwks_find(const struct sn_jwks *ks, const char *kid)
{
    size_t i;

    for (i = 0; ks != NULL && i < ks->n; i++)
        if (strcmp(ks->keys[i].kid, kid) == 0)
            return &ks->keys[i];
    return NULL;
}
