/*
 * test_tlsgen: the generated TLS material is judged by GnuTLS (the library
 * libmicrohttpd serves TLS with), not by OpenSSL: it must load the key pair,
 * verify the server certificate against the root and accept the names
 * localhost, 127.0.0.1 and ::1. verify_crypto.sh adds openssl verify and a
 * real s_server/s_client handshake on the files written to SN_CRYPTO_OUT.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "common/util.h"
#include "crypto/tlsgen.h"

struct paths {
    char dir[256];
    char ca[300], cert[300], key[300];
};

static void
paths_init(struct paths *p, const char *outdir)
{
    if (outdir != NULL) {
        snprintf(p->dir, sizeof(p->dir), "%s", outdir);
    } else {
        snprintf(p->dir, sizeof(p->dir), "/tmp/sn_tlsgen_XXXXXX");
        assert_non_null(mkdtemp(p->dir));
    }
    snprintf(p->ca, sizeof(p->ca), "%s/ca.pem", p->dir);
    snprintf(p->cert, sizeof(p->cert), "%s/server.pem", p->dir);
    snprintf(p->key, sizeof(p->key), "%s/server.key", p->dir);
}

static void
paths_cleanup(struct paths *p)
{
    (void)unlink(p->ca);
    (void)unlink(p->cert);
    (void)unlink(p->key);
    (void)rmdir(p->dir);
}

static gnutls_x509_crt_t
load_crt(const char *path)
{
    gnutls_datum_t d = {NULL, 0};
    gnutls_x509_crt_t crt;

    assert_int_equal(gnutls_load_file(path, &d), 0);
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
    gnutls_free(d.data);
    return crt;
}

/* A positive 128-bit serial; copied out for comparisons. */
static void
check_serial(gnutls_x509_crt_t crt, uint8_t out[16])
{
    uint8_t serial[32];
    size_t len = sizeof(serial);

    assert_int_equal(gnutls_x509_crt_get_serial(crt, serial, &len), 0);
    assert_int_equal(len, 16);
    assert_int_equal(serial[0] & 0x80, 0);
    assert_int_not_equal(serial[0], 0);
    memcpy(out, serial, 16);
}

static void
check_with_gnutls(const struct paths *p, uint8_t serials[2][16])
{
    gnutls_certificate_credentials_t cred;
    gnutls_x509_crt_t ca, srv;
    unsigned int status = 0, usage = 0, critical = 0, ca_flag = 0;
    char oid[128];
    size_t oidlen = sizeof(oid);
    static const uint8_t v4[4] = {127, 0, 0, 1};
    static const uint8_t v4other[4] = {127, 0, 0, 2};
    static const uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                   0, 0, 0, 0, 0, 0, 0, 1};

    /* What libmicrohttpd does with the files: load cert and key. */
    assert_int_equal(gnutls_certificate_allocate_credentials(&cred), 0);
    assert_int_equal(gnutls_certificate_set_x509_key_file(cred, p->cert, p->key,
                                                          GNUTLS_X509_FMT_PEM),
                     0);
    gnutls_certificate_free_credentials(cred);

    ca = load_crt(p->ca);
    srv = load_crt(p->cert);
    assert_int_equal(gnutls_x509_crt_verify(srv, &ca, 1, 0, &status), 0);
    assert_int_equal(status, 0);
    /* The root is self-signed and a CA; the server is neither. */
    assert_int_equal(gnutls_x509_crt_check_issuer(ca, ca), 1);
    assert_int_equal(
        gnutls_x509_crt_get_basic_constraints(ca, &critical, &ca_flag, NULL),
        1);
    assert_int_equal(ca_flag, 1);
    assert_int_equal(critical, 1);
    assert_int_equal(
        gnutls_x509_crt_get_basic_constraints(srv, &critical, &ca_flag, NULL),
        0);
    assert_int_equal(ca_flag, 0);

    assert_int_not_equal(gnutls_x509_crt_check_hostname(srv, "localhost"), 0);
    assert_int_equal(gnutls_x509_crt_check_hostname(srv, "example.com"), 0);
    assert_int_not_equal(gnutls_x509_crt_check_ip(srv, v4, 4, 0), 0);
    assert_int_not_equal(gnutls_x509_crt_check_ip(srv, v6, 16, 0), 0);
    assert_int_equal(gnutls_x509_crt_check_ip(srv, v4other, 4, 0), 0);

    assert_int_equal(gnutls_x509_crt_get_key_usage(srv, &usage, &critical), 0);
    assert_int_equal(usage, GNUTLS_KEY_DIGITAL_SIGNATURE);
    assert_int_equal(critical, 1);
    assert_int_equal(
        gnutls_x509_crt_get_key_purpose_oid(srv, 0, oid, &oidlen, &critical),
        0);
    assert_string_equal(oid, GNUTLS_KP_TLS_WWW_SERVER);
    assert_int_equal(gnutls_x509_crt_get_key_usage(ca, &usage, &critical), 0);
    assert_int_equal(usage, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
    assert_int_equal(gnutls_x509_crt_get_pk_algorithm(srv, NULL),
                     GNUTLS_PK_ECDSA);

    check_serial(ca, serials[0]);
    check_serial(srv, serials[1]);
    assert_memory_not_equal(serials[0], serials[1], 16);
    gnutls_x509_crt_deinit(srv);
    gnutls_x509_crt_deinit(ca);
}

static void
check_key_file(const char *path)
{
    struct stat st;
    uint8_t *data = NULL;
    size_t len = 0;
    const char *begin = "-----BEGIN PRIVATE KEY-----\n";

    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(sn_file_read(path, 4096, &data, &len), SN_OK);
    assert_true(len > strlen(begin));
    assert_memory_equal(data, begin, strlen(begin));
    free(data);
}

static void
test_generate(void **state)
{
    const char *outdir = getenv("SN_CRYPTO_OUT");
    struct paths p, q;
    uint8_t s1[2][16], s2[2][16];

    (void)state;
    paths_init(&p, outdir);
    assert_int_equal(sn_tls_generate(p.ca, p.cert, p.key), SN_OK);
    check_key_file(p.key);
    check_with_gnutls(&p, s1);

    /* A second home gets fresh serials. */
    paths_init(&q, NULL);
    assert_int_equal(sn_tls_generate(q.ca, q.cert, q.key), SN_OK);
    check_with_gnutls(&q, s2);
    assert_memory_not_equal(s1[0], s2[0], 16);
    assert_memory_not_equal(s1[1], s2[1], 16);
    paths_cleanup(&q);
    if (outdir == NULL)
        paths_cleanup(&p);
}

/* Existing files are never overwritten, and a refused call leaves none of
 * its own files behind. */
static void
test_no_overwrite(void **state)
{
    struct paths p;
    uint8_t *data = NULL;
    size_t len = 0;
    struct stat st;
    int which;

    (void)state;
    for (which = 0; which < 3; which++) {
        const char *existing;

        paths_init(&p, NULL);
        existing = which == 0 ? p.ca : which == 1 ? p.cert : p.key;
        assert_int_equal(sn_file_write_new(existing, "keep", 4, 0644), SN_OK);
        assert_int_equal(sn_tls_generate(p.ca, p.cert, p.key), SN_ERR_EXISTS);
        assert_int_equal(sn_file_read(existing, 100, &data, &len), SN_OK);
        assert_int_equal(len, 4);
        assert_memory_equal(data, "keep", 4);
        free(data);
        data = NULL;
        if (existing != p.ca)
            assert_int_not_equal(stat(p.ca, &st), 0);
        if (existing != p.cert)
            assert_int_not_equal(stat(p.cert, &st), 0);
        if (existing != p.key)
            assert_int_not_equal(stat(p.key, &st), 0);
        paths_cleanup(&p);
    }

    /* The same path twice: the second write collides, nothing remains. */
    paths_init(&p, NULL);
    assert_int_equal(sn_tls_generate(p.ca, p.cert, p.cert), SN_ERR_EXISTS);
    assert_int_not_equal(stat(p.ca, &st), 0);
    assert_int_not_equal(stat(p.cert, &st), 0);
    /* A directory that does not exist. */
    snprintf(p.key, sizeof(p.key), "%s/missing/server.key", p.dir);
    assert_int_equal(sn_tls_generate(p.ca, p.cert, p.key), SN_ERR_IO);
    assert_int_not_equal(stat(p.ca, &st), 0);
    assert_int_not_equal(stat(p.cert, &st), 0);
    paths_cleanup(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_no_overwrite),
    };

    return cmocka_run_group_tests_name("tlsgen", tests, NULL, NULL);
}
