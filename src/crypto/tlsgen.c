/*
 * tlsgen: generates a home's TLS material (trusted input: three paths from
 * the CLI). A fresh ECDSA P-256 root signs an ECDSA P-256 server
 * certificate for localhost, 127.0.0.1 and ::1. The root's private key
 * never leaves this file's memory. The server key is written as unencrypted
 * PKCS#8 PEM, which both OpenSSL and GnuTLS (libmicrohttpd) load, with mode
 * 0600; its in-memory PEM lives in a secure-heap BIO that is wiped on free.
 */
#include "crypto/x509util.h"
#include "crypto/tlsgen.h"

#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/util.h"

#define ROOT_DAYS 3650
#define SERVER_DAYS 825
/* Tolerate a client clock a little behind ours. */
#define BACKDATE_SECS (5 * 60)

static sn_err
set_name(X509_NAME *name, const char *cn)
{
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                   (const unsigned char *)"Signet", -1, -1,
                                   0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)cn, -1, -1, 0) != 1)
        return SN_ERR_CRYPTO;
    return SN_OK;
}

/* Fields common to both certificates: version, serial, validity, subject,
 * issuer and public key. */
static sn_err
cert_base(X509 *x, const char *cn, const X509_NAME *issuer, EVP_PKEY *key,
          long days)
{
    sn_err r;

    if (X509_set_version(x, X509_VERSION_3) != 1)
        return SN_ERR_CRYPTO;
    if ((r = sn_x509_random_serial(x)) != SN_OK)
        return r;
    if (X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_SECS) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) == NULL)
        return SN_ERR_CRYPTO;
    if ((r = set_name(X509_get_subject_name(x), cn)) != SN_OK)
        return r;
    if (X509_set_issuer_name(
            x, issuer != NULL ? issuer : X509_get_subject_name(x)) != 1 ||
        X509_set_pubkey(x, key) != 1)
        return SN_ERR_CRYPTO;
    return SN_OK;
}

static sn_err
make_root(EVP_PKEY *key, X509 **out)
{
    X509V3_CTX ctx;
    X509 *x = NULL;
    sn_err r = SN_ERR_CRYPTO;

    *out = NULL;
    if ((x = X509_new()) == NULL)
        goto out;
    if ((r = cert_base(x, "Signet local root", NULL, key, ROOT_DAYS)) != SN_OK)
        goto out;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if ((r = sn_x509_add_ext(x, &ctx, NID_basic_constraints,
                             "critical,CA:TRUE,pathlen:0")) != SN_OK ||
        (r = sn_x509_add_ext(x, &ctx, NID_key_usage,
                             "critical,keyCertSign,cRLSign")) != SN_OK ||
        (r = sn_x509_add_ext(x, &ctx, NID_subject_key_identifier, "hash")) !=
            SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if (X509_sign(x, key, EVP_sha256()) <= 0)
        goto out;
    *out = x;
    x = NULL;
    r = SN_OK;
out:
    X509_free(x);
    return r;
}

static sn_err
make_server(X509 *root, EVP_PKEY *root_key, EVP_PKEY *key, X509 **out)
{
    X509V3_CTX ctx;
    X509 *x = NULL;
    sn_err r = SN_ERR_CRYPTO;

    *out = NULL;
    if ((x = X509_new()) == NULL)
        goto out;
    if ((r = cert_base(x, "localhost", X509_get_subject_name(root), key,
                       SERVER_DAYS)) != SN_OK)
        goto out;
    X509V3_set_ctx(&ctx, root, x, NULL, NULL, 0);
    if ((r = sn_x509_add_ext(x, &ctx, NID_basic_constraints,
                             "critical,CA:FALSE")) != SN_OK ||
        (r = sn_x509_add_ext(x, &ctx, NID_key_usage,
                             "critical,digitalSignature")) != SN_OK ||
        (r = sn_x509_add_ext(x, &ctx, NID_ext_key_usage, "serverAuth")) !=
            SN_OK ||
        (r = sn_x509_add_ext(x, &ctx, NID_subject_alt_name,
                             "DNS:localhost,IP:127.0.0.1,IP:::1")) != SN_OK ||
        (r = sn_x509_add_ext(x, &ctx, NID_subject_key_identifier, "hash")) !=
            SN_OK ||
        (r = sn_x509_add_ext(x, &ctx, NID_authority_key_identifier,
                             "keyid:always")) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if (X509_sign(x, root_key, EVP_sha256()) <= 0)
        goto out;
    *out = x;
    x = NULL;
    r = SN_OK;
out:
    X509_free(x);
    return r;
}

static sn_err
write_cert(const char *path, X509 *x)
{
    BIO *bio = NULL;
    char *data = NULL;
    long n;
    sn_err r = SN_ERR_CRYPTO;

    if ((bio = BIO_new(BIO_s_mem())) == NULL)
        goto out;
    if (PEM_write_bio_X509(bio, x) != 1)
        goto out;
    if ((n = BIO_get_mem_data(bio, &data)) <= 0 || data == NULL)
        goto out;
    r = sn_file_write_new(path, data, (size_t)n, 0600);
out:
    BIO_free(bio);
    return r;
}

static sn_err
write_key(const char *path, EVP_PKEY *key)
{
    BIO *bio = NULL;
    char *data = NULL;
    long n;
    sn_err r = SN_ERR_CRYPTO;

    /* BIO_s_secmem clears its buffer when it grows and when it is freed. */
    if ((bio = BIO_new(BIO_s_secmem())) == NULL)
        goto out;
    if (PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    if ((n = BIO_get_mem_data(bio, &data)) <= 0 || data == NULL)
        goto out;
    r = sn_file_write_new(path, data, (size_t)n, 0600);
out:
    BIO_free(bio);
    return r;
}

/* Writes all three files or none: whatever this call created is removed
 * again on failure; files that already existed are never touched. */
static sn_err
write_all(const char *ca_path, const char *cert_path, const char *key_path,
          X509 *root, X509 *server, EVP_PKEY *key)
{
    sn_err r;

    if ((r = write_key(key_path, key)) != SN_OK)
        return r;
    if ((r = write_cert(cert_path, server)) != SN_OK) {
        unlink(key_path);
        return r;
    }
    if ((r = write_cert(ca_path, root)) != SN_OK) {
        unlink(cert_path);
        unlink(key_path);
        return r;
    }
    return SN_OK;
}

sn_err
sn_tls_generate(const char *ca_path, const char *cert_path,
                const char *key_path)
{
    EVP_PKEY *root_key = NULL, *key = NULL;
    X509 *root = NULL, *server = NULL;
    sn_err r = SN_ERR_INVALID;

    if (ca_path == NULL || cert_path == NULL || key_path == NULL)
        goto out;
    r = SN_ERR_EXISTS;
    if (access(ca_path, F_OK) == 0 || access(cert_path, F_OK) == 0 ||
        access(key_path, F_OK) == 0)
        goto out;
    r = SN_ERR_CRYPTO;
    if ((root_key = EVP_EC_gen("P-256")) == NULL ||
        (key = EVP_EC_gen("P-256")) == NULL)
        goto out;
    if ((r = make_root(root_key, &root)) != SN_OK)
        goto out;
    if ((r = make_server(root, root_key, key, &server)) != SN_OK)
        goto out;
    /* The root key has signed all it ever will; drop it now. */
    EVP_PKEY_free(root_key);
    root_key = NULL;
    r = write_all(ca_path, cert_path, key_path, root, server, key);
out:
    X509_free(server);
    X509_free(root);
    EVP_PKEY_free(key);
    EVP_PKEY_free(root_key);
    ERR_clear_error();
    return r;
}
