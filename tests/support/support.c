/*
 * support: fixtures shared by the unit tests. Test-only code; its inputs
 * are the tests' own.
 */
#include "support.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "common/util.h"

void
sn_test_rm_rf(const char *path)
{
    char sub[512];
    struct dirent *e;
    struct stat sb;
    DIR *d;

    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode) && (d = opendir(path)) != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
            sn_test_rm_rf(sub);
        }
        closedir(d);
        rmdir(path);
    } else
        unlink(path);
}

sn_err
sn_test_soft_sign(EVP_PKEY *key, enum sn_digest md, const uint8_t *digest,
                  size_t dlen, uint8_t **sig, size_t *siglen)
{
    EVP_PKEY_CTX *ctx;
    uint8_t *buf;
    size_t n = 0;

    assert_int_equal(dlen, sn_digest_len(md));
    ctx = EVP_PKEY_CTX_new(key, NULL);
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_signature_md(
                         ctx, EVP_get_digestbynid(sn_digest_nid(md))),
                     1);
    if (EVP_PKEY_is_a(key, "RSA"))
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING),
                         1);
    assert_int_equal(EVP_PKEY_sign(ctx, NULL, &n, digest, dlen), 1);
    buf = malloc(n);
    assert_non_null(buf);
    assert_int_equal(EVP_PKEY_sign(ctx, buf, &n, digest, dlen), 1);
    EVP_PKEY_CTX_free(ctx);
    *sig = buf;
    *siglen = n;
    return SN_OK;
}

void
sn_test_write_file(const char *dir, const char *name, const void *data,
                   size_t len, mode_t mode)
{
    char path[4096];
    int n;

    n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    (void)remove(path);
    assert_int_equal(sn_file_write_new(path, data, len, mode), SN_OK);
}

X509 *
sn_test_cert_new(const char *cn, EVP_PKEY *key, X509 *issuer, long serial,
                 long not_before, long not_after)
{
    X509 *x = X509_new();

    assert_non_null(x);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), not_before));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), not_after));
    assert_int_equal(X509_NAME_add_entry_by_txt(
                         X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                         (const unsigned char *)cn, -1, -1, 0),
                     1);
    assert_int_equal(
        X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x)), 1);
    assert_int_equal(X509_set_pubkey(x, key), 1);
    return x;
}

void
sn_test_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
}

int
sn_test_softhsm_home(const char *tmpl, char *dir, size_t dirlen)
{
    char path[4096];
    FILE *f;

    if (snprintf(dir, dirlen, "%s", tmpl) >= (int)dirlen ||
        mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/tokens", dir);
    if (mkdir(path, 0700) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/softhsm2.conf", dir);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    fprintf(f,
            "directories.tokendir = %s/tokens\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n",
            dir);
    if (fclose(f) != 0)
        return -1;
    return setenv("SOFTHSM2_CONF", path, 1) == 0 ? 0 : -1;
}
