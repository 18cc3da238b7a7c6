/*
 * hsmkeys: the CA and TSA keys on a token this process has open.
 */
#include "pki/keys.h"

#include <openssl/x509.h>

#include "hsm/hsm.h"
#include "pki/ca.h"

#include <stdlib.h>

/* The key's algorithm, from its public key. */
static enum sn_keyalg
alg_of(EVP_PKEY *pub)
{
    if (EVP_PKEY_is_a(pub, "RSA"))
        return EVP_PKEY_get_bits(pub) > 3072 ? SN_KEY_RSA4096 : SN_KEY_RSA3072;
    return EVP_PKEY_get_bits(pub) > 256 ? SN_KEY_P384 : SN_KEY_P256;
}

static sn_err
ca_signer(void *arg, enum sn_ca_kind kind, EVP_PKEY *pub,
          struct sn_ca_signer **out)
{
    sn_err r;

    *out = NULL;
    if ((r = sn_hsm_has_key(arg, sn_ca_key_id(kind))) != SN_OK)
        return r;
    return sn_ca_signer_hsm(arg, sn_ca_key_id(kind), sn_ca_key_alg(kind), pub,
                            out);
}

static sn_err
tsa_generate(void *arg, const char *id, enum sn_keyalg alg, uint8_t **spki,
             size_t *len)
{
    struct sn_key_facts facts;
    sn_err r;

    if ((r = sn_hsm_generate(arg, alg, id, spki, len, &facts)) != SN_OK)
        return r;
    if (!sn_key_facts_ok(&facts)) {
        sn_hsm_destroy(arg, id);
        free(*spki);
        *spki = NULL;
        return SN_ERR_HSM_PROTECTION;
    }
    return SN_OK;
}

static sn_err
tsa_signer(void *arg, const char *id, X509 *cert, struct sn_ca_signer **out)
{
    EVP_PKEY *pub = X509_get0_pubkey(cert);

    *out = NULL;
    if (pub == NULL)
        return SN_ERR_CRYPTO;
    return sn_ca_signer_hsm(arg, id, alg_of(pub), pub, out);
}

static sn_err
tsa_destroy(void *arg, const char *id)
{
    return sn_hsm_destroy(arg, id);
}

void
sn_ca_keys_hsm(struct sn_hsm_token *tok, struct sn_ca_keys *keys)
{
    keys->ca_signer = ca_signer;
    keys->tsa_generate = tsa_generate;
    keys->tsa_signer = tsa_signer;
    keys->tsa_destroy = tsa_destroy;
    keys->arg = tok;
}
