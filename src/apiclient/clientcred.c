/*
 * clientcred: TLS client credentials (see clientcred.h). A PKCS#11 key is
 * reached through libp11 (its own context, not the process-wide pkcs11
 * engine: the PKCS#11 module may itself be loaded by an application that
 * uses that engine): the module is loaded, the token found by the URI's
 * attributes, the user logged in, the private key found by label or id;
 * its EVP_PKEY then signs inside the token.
 */
#include "apiclient/clientcred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libp11.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/p11uri.h"
#include "common/util.h"

#define MAX_CHAIN 8
#define MAX_PIN 256

struct sn_client_cred {
    X509 *cert;
    STACK_OF(X509) *chain; /* intermediates, possibly empty */
    EVP_PKEY *key;
    PKCS11_CTX *p11; /* a token key: the context it lives in */
    PKCS11_SLOT *slots;
    unsigned int nslots;
};

void
sn_client_cred_free(struct sn_client_cred *c)
{
    if (c == NULL)
        return;
    EVP_PKEY_free(c->key);
    X509_free(c->cert);
    sk_X509_pop_free(c->chain, X509_free);
    if (c->p11 != NULL) {
        if (c->slots != NULL)
            PKCS11_release_all_slots(c->p11, c->slots, c->nslots);
        PKCS11_CTX_unload(c->p11);
        PKCS11_CTX_free(c->p11);
    }
    free(c);
}

static sn_err
load_certs(const char *file, struct sn_client_cred *c, char *why, size_t whylen)
{
    BIO *b = NULL;
    X509 *x = NULL;
    sn_err r = SN_ERR_INVALID;

    if ((b = BIO_new_file(file, "r")) == NULL) {
        snprintf(why, whylen, "cannot read the client certificate %s", file);
        r = SN_ERR_IO;
        goto out;
    }
    if ((c->cert = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL ||
        (c->chain = sk_X509_new_null()) == NULL) {
        snprintf(why, whylen, "%s holds no PEM certificate", file);
        goto out;
    }
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_num(c->chain) == MAX_CHAIN || !sk_X509_push(c->chain, x)) {
            snprintf(why, whylen, "%s: too many certificates", file);
            goto out;
        }
        x = NULL;
    }
    r = SN_OK;
out:
    ERR_clear_error();
    X509_free(x);
    BIO_free(b);
    return r;
}

static sn_err
load_key_file(const char *file, struct sn_client_cred *c, char *why,
              size_t whylen)
{
    BIO *b;

    if ((b = BIO_new_file(file, "r")) == NULL) {
        snprintf(why, whylen, "cannot read the client key %s", file);
        return SN_ERR_IO;
    }
    c->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    ERR_clear_error();
    if (c->key == NULL) {
        snprintf(why, whylen,
                 "%s holds no unencrypted PEM private key (or use a "
                 "pkcs11: URI)",
                 file);
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

/* The PIN: given, or read from a file (first line); *pin is wiped by the
 * caller. */
static sn_err
pin_of(const struct sn_client_cred_src *src, const struct sn_p11uri *u,
       char *pin, char *why, size_t whylen)
{
    const char *file = u->pin_source[0] ? u->pin_source : src->pin_file;
    uint8_t *buf = NULL;
    size_t len = 0;
    sn_err r;

    pin[0] = '\0';
    if (file != NULL && strncmp(file, "file:", 5) == 0)
        file += 5;
    if (src->pin != NULL && file == NULL) {
        if (strlen(src->pin) >= MAX_PIN)
            return SN_ERR_INVALID;
        memcpy(pin, src->pin, strlen(src->pin) + 1);
        return SN_OK;
    }
    if (file == NULL)
        return SN_OK; /* a token without a login, or a protected path */
    if ((r = sn_file_read(file, MAX_PIN - 1, &buf, &len)) != SN_OK) {
        snprintf(why, whylen, "cannot read the PIN file %s", file);
        return r;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (memchr(buf, '\0', len) != NULL)
        len = 0;
    memcpy(pin, buf, len);
    pin[len] = '\0';
    OPENSSL_cleanse(buf, len);
    free(buf);
    return SN_OK;
}

/* A slot whose token matches the URI's token attributes, from *from on. */
static PKCS11_SLOT *
find_slot(struct sn_client_cred *c, const struct sn_p11uri *u, unsigned *from)
{
    PKCS11_SLOT *s;

    for (; *from < c->nslots; (*from)++) {
        s = &c->slots[*from];
        if (s->token == NULL || !s->token->initialized)
            continue;
        if ((u->token[0] && strcmp(s->token->label, u->token) != 0) ||
            (u->manufacturer[0] &&
             strcmp(s->token->manufacturer, u->manufacturer) != 0) ||
            (u->model[0] && strcmp(s->token->model, u->model) != 0) ||
            (u->serial[0] && strcmp(s->token->serialnr, u->serial) != 0))
            continue;
        (*from)++;
        return s;
    }
    return NULL;
}

/* The private key of the token matching label and id. */
static PKCS11_KEY *
find_key(PKCS11_SLOT *s, const struct sn_p11uri *u)
{
    PKCS11_KEY *keys = NULL;
    unsigned int n = 0, i;

    if (PKCS11_enumerate_keys(s->token, &keys, &n) != 0)
        return NULL;
    for (i = 0; i < n; i++) {
        if (u->object[0] &&
            (keys[i].label == NULL || strcmp(keys[i].label, u->object) != 0))
            continue;
        if (u->id_len && (keys[i].id_len != u->id_len ||
                          memcmp(keys[i].id, u->id, u->id_len) != 0))
            continue;
        if (keys[i].isPrivate)
            return &keys[i];
    }
    return NULL;
}

static sn_err
load_key_p11(const struct sn_client_cred_src *src, struct sn_client_cred *c,
             char *why, size_t whylen)
{
    const char *module, *bad;
    struct sn_p11uri u;
    char pin[MAX_PIN];
    PKCS11_SLOT *s = NULL;
    PKCS11_KEY *k = NULL;
    unsigned from = 0;
    sn_err r;

    memset(pin, 0, sizeof(pin));
    if (sn_p11uri_parse(src->key, &u, &bad) != SN_OK) {
        snprintf(why, whylen, "the client key's PKCS#11 URI: %s", bad);
        r = SN_ERR_INVALID;
        goto out;
    }
    module = u.module_path[0] ? u.module_path
             : src->module    ? src->module
                              : SN_CLIENT_CRED_DEFAULT_MODULE;
    r = SN_ERR_IO;
    if ((c->p11 = PKCS11_CTX_new()) == NULL ||
        PKCS11_CTX_load(c->p11, module) != 0) {
        snprintf(why, whylen, "cannot load the PKCS#11 module %s", module);
        PKCS11_CTX_free(c->p11);
        c->p11 = NULL;
        goto out;
    }
    if (PKCS11_enumerate_slots(c->p11, &c->slots, &c->nslots) != 0) {
        snprintf(why, whylen, "the PKCS#11 module %s lists no slots", module);
        goto out;
    }
    if ((r = pin_of(src, &u, pin, why, whylen)) != SN_OK)
        goto out;
    r = SN_ERR_NOT_FOUND;
    /* The first matching token holding the key. */
    while (k == NULL && (s = find_slot(c, &u, &from)) != NULL) {
        if (pin[0] != '\0' && PKCS11_login(s, 0, pin) != 0) {
            snprintf(why, whylen, "PKCS#11 login to token '%s' failed",
                     s->token->label);
            r = SN_ERR_STATE;
            goto out;
        }
        k = find_key(s, &u);
    }
    if (k == NULL || (c->key = PKCS11_get_private_key(k)) == NULL) {
        snprintf(why, whylen,
                 "no private key %s%s%s in a token%s%s%s (module %s)",
                 u.object[0] ? "'" : "", u.object, u.object[0] ? "'" : "",
                 u.token[0] ? " labelled '" : "", u.token,
                 u.token[0] ? "'" : "", module);
        goto out;
    }
    r = SN_OK;
out:
    ERR_clear_error();
    OPENSSL_cleanse(pin, sizeof(pin));
    return r;
}

sn_err
sn_client_cred_load(const struct sn_client_cred_src *src,
                    struct sn_client_cred **out, char *why, size_t whylen)
{
    struct sn_client_cred *c = NULL;
    sn_err r = SN_ERR_NOMEM;

    *out = NULL;
    if (whylen > 0)
        why[0] = '\0';
    if (src->cert_file == NULL || src->key == NULL) {
        snprintf(why, whylen,
                 "a client certificate needs its key, and a key "
                 "its certificate");
        return SN_ERR_INVALID;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    if ((r = load_certs(src->cert_file, c, why, whylen)) != SN_OK ||
        (r = sn_p11uri_is(src->key)
                 ? load_key_p11(src, c, why, whylen)
                 : load_key_file(src->key, c, why, whylen)) != SN_OK)
        goto out;
    if (X509_check_private_key(c->cert, c->key) != 1) {
        ERR_clear_error();
        snprintf(why, whylen,
                 "the client key does not match the client certificate");
        r = SN_ERR_MISMATCH;
        goto out;
    }
    *out = c;
    c = NULL;
    r = SN_OK;
out:
    sn_client_cred_free(c);
    return r;
}

int
sn_client_cred_apply(const struct sn_client_cred *c, void *ssl_ctx)
{
    SSL_CTX *ctx = ssl_ctx;
    int i;

    if (SSL_CTX_use_certificate(ctx, c->cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, c->key) != 1)
        goto fail;
    for (i = 0; i < sk_X509_num(c->chain); i++)
        if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(c->chain, i)) != 1)
            goto fail;
    return 1;
fail:
    ERR_clear_error();
    return 0;
}
