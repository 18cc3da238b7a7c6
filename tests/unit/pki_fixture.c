/*
 * pki_fixture: software CA keys and a temporary store for the pki unit
 * tests (see pki_fixture.h). Test code: inputs are its own.
 */
#include "pki_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "support.h"

static EVP_PKEY *
ec_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    assert_non_null(k);
    return k;
}

static X509 *
ca_cert(enum sn_ca_kind kind, EVP_PKEY *key, X509 *issuer,
        struct sn_ca_signer *by)
{
    struct sn_ca_urls urls = {"http://signet.test/ca/crl/root",
                              "http://signet.test/ca/root.cer", NULL};
    X509 *x = NULL;

    static const char *const cn[] = {"Signet TEST Root", "Signet TEST CS",
                                     "Signet TEST TS"};

    assert_int_equal(sn_caprofile_ca_cert(kind, key, cn[kind], "Signet", "DE",
                                          issuer, issuer ? &urls : NULL, 30,
                                          &x),
                     SN_OK);
    assert_int_equal(sn_ca_sign_cert(by, &x, EVP_sha256()), SN_OK);
    return x;
}

void
pki_serial_hex(X509 *x, char *out, size_t len)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;

    assert_non_null(hex);
    snprintf(out, len, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
}

void
pki_record(struct pki_fixture *f, X509 *cert, const char *ca_name)
{
    struct sn_cert rec;
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);

    assert_true(n > 0);
    memset(&rec, 0, sizeof(rec));
    pki_serial_hex(cert, rec.serial, sizeof(rec.serial));
    snprintf(rec.ca, sizeof(rec.ca), "%s", ca_name);
    snprintf(rec.profile, sizeof(rec.profile), "test");
    rec.der = der;
    rec.der_len = (size_t)n;
    rec.issued_at = time(NULL);
    rec.not_before = rec.issued_at - 3600;
    rec.not_after = rec.issued_at + 86400;
    assert_int_equal(sn_store_cert_add(f->store, &rec), SN_OK);
    OPENSSL_free(der);
}

X509 *
pki_leaf(struct pki_fixture *f, long serial)
{
    X509 *issuer = f->ca.cert[SN_CA_CODESIGNING];
    X509 *x = X509_new();

    assert_non_null(x);
    assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
    assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
    assert_int_equal(X509_NAME_add_entry_by_txt(
                         X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                         (const unsigned char *)"leaf", -1, -1, 0),
                     1);
    assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(issuer)), 1);
    assert_int_equal(X509_set_pubkey(x, f->leaf_key), 1);
    assert_int_equal(
        sn_ca_sign_cert(f->ca.signer[SN_CA_CODESIGNING], &x, EVP_sha256()),
        SN_OK);
    pki_record(f, x, "codesigning");
    return x;
}

/* ---- a signer that counts ---- */

struct counting_signer {
    struct sn_ca_signer base;
    struct sn_ca_signer *inner;
    int *ocsp;
};

static struct counting_signer *
counting(struct sn_ca_signer *s)
{
    return (struct counting_signer *)s;
}

static sn_err
c_cert(struct sn_ca_signer *s, X509 **x, const EVP_MD *md, const uint8_t *ev,
       size_t evlen)
{
    return sn_ca_sign_cert_ev(counting(s)->inner, x, md, ev, evlen);
}

static sn_err
c_req(struct sn_ca_signer *s, X509_REQ *req, const EVP_MD *md)
{
    return sn_ca_sign_req(counting(s)->inner, req, md);
}

static sn_err
c_crl(struct sn_ca_signer *s, X509_CRL **crl, const EVP_MD *md)
{
    return sn_ca_sign_crl(counting(s)->inner, crl, md);
}

static sn_err
c_ocsp(struct sn_ca_signer *s, OCSP_BASICRESP **bs, X509 *cert,
       const EVP_MD *md, unsigned long flags)
{
    (*counting(s)->ocsp)++;
    return sn_ca_sign_ocsp(counting(s)->inner, bs, cert, md, flags);
}

static sn_err
c_tst(struct sn_ca_signer *s, TS_RESP_CTX *ctx, BIO *req, TS_RESP **out)
{
    return sn_ca_sign_tst(counting(s)->inner, ctx, req, out);
}

static sn_err
c_pkcs7(struct sn_ca_signer *s, X509 *cert, STACK_OF(X509) *chain, BIO *data,
        int flags, PKCS7 **out)
{
    return sn_ca_sign_pkcs7(counting(s)->inner, cert, chain, data, flags, out);
}

static void
c_free(struct sn_ca_signer *s)
{
    sn_ca_signer_free(counting(s)->inner);
    free(s);
}

static const struct sn_ca_signer_ops counting_ops = {
    c_cert, c_req, c_crl, c_ocsp, c_tst, c_pkcs7, c_free,
};

struct sn_ca_signer *
pki_counting_signer(struct sn_ca_signer *inner, int *ocsp)
{
    struct counting_signer *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    c->base.ops = &counting_ops;
    c->base.refs = 1;
    c->inner = sn_ca_signer_ref(inner);
    c->ocsp = ocsp;
    return &c->base;
}

void
pki_fixture_open(struct pki_fixture *f)
{
    static const enum sn_ca_kind kinds[] = {SN_CA_ROOT, SN_CA_CODESIGNING,
                                            SN_CA_TIMESTAMPING};
    struct sn_ca_urls urls = {"http://signet.test/ca/crl/timestamping",
                              "http://signet.test/ca/timestamping.cer",
                              "http://signet.test/ca/ocsp"};
    char path[128];
    EVP_PKEY *k, *tk;
    size_t i;

    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/sn-pki-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof(path), "%s/signet.db", f->dir);
    assert_int_equal(sn_store_open(path, &f->store), SN_OK);
    assert_int_equal(sn_ca_init(&f->ca, "http://signet.test"), SN_OK);
    assert_int_equal(sn_oids_init(&f->ca.oids, "1.3.6.1.4.1.99999"), SN_OK);
    f->ca.crl_reissue = 86400;
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        k = ec_key();
        assert_int_equal(sn_ca_signer_soft(k, &f->ca.signer[kinds[i]]), SN_OK);
        f->ca.cert[kinds[i]] =
            ca_cert(kinds[i], k, i == 0 ? NULL : f->ca.cert[SN_CA_ROOT],
                    f->ca.signer[SN_CA_ROOT]);
        EVP_PKEY_free(k);
    }
    f->leaf_key = ec_key();
    tk = ec_key();
    assert_int_equal(sn_ca_signer_soft(tk, &f->tsa_signer), SN_OK);
    assert_int_equal(sn_tsa_cert_build(tk, f->ca.cert[SN_CA_TIMESTAMPING],
                                       "Signet TEST TSA", "Signet", "DE",
                                       f->ca.oids.ca_policy, &urls, 30,
                                       &f->tsa_cert),
                     SN_OK);
    assert_int_equal(sn_ca_sign_cert(f->ca.signer[SN_CA_TIMESTAMPING],
                                     &f->tsa_cert, EVP_sha256()),
                     SN_OK);
    EVP_PKEY_free(tk);
    (void)pki_write_pem(f, "root.pem", f->ca.cert[SN_CA_ROOT]);
    (void)pki_write_pem(f, "codesigning.pem", f->ca.cert[SN_CA_CODESIGNING]);
    (void)pki_write_pem(f, "timestamping.pem", f->ca.cert[SN_CA_TIMESTAMPING]);
}

void
pki_fixture_close(struct pki_fixture *f)
{
    sn_ca_cleanup(&f->ca);
    sn_store_close(f->store);
    EVP_PKEY_free(f->leaf_key);
    X509_free(f->tsa_cert);
    sn_ca_signer_free(f->tsa_signer);
    sn_test_rm_rf(f->dir);
}

const char *
pki_write(struct pki_fixture *f, const char *name, const void *data, size_t len)
{
    static char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    assert_non_null(fp = fopen(path, "wb"));
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return path;
}

const char *
pki_write_pem(struct pki_fixture *f, const char *name, X509 *x)
{
    static char path[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", f->dir, name);
    assert_non_null(fp = fopen(path, "w"));
    assert_int_equal(PEM_write_X509(fp, x), 1);
    assert_int_equal(fclose(fp), 0);
    return path;
}

void *
pki_read(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    assert_true((n = ftell(fp)) >= 0);
    rewind(fp);
    assert_non_null(buf = malloc((size_t)n + 1));
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* The child: in the fixture's directory, output to "out", then sh -c cmd
 * (only async-signal-safe calls: the store's writer thread exists). */
static void
run_child(const char *dir, const char *cmd)
{
    int fd;

    if (chdir(dir) != 0 ||
        (fd = open("out", O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
        dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
        _exit(127);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
}

int
pki_run(struct pki_fixture *f, const char *fmt, ...)
{
    char cmd[2048], path[300];
    va_list ap;
    size_t len;
    char *out;
    pid_t pid;
    int n, st = 0;

    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(cmd)); /* never run cut short */
    printf("$ %s\n", cmd);
    fflush(stdout);
    assert_true((pid = fork()) >= 0);
    if (pid == 0)
        run_child(f->dir, cmd);
    while (waitpid(pid, &st, 0) < 0)
        assert_int_equal(errno, EINTR);
    n = snprintf(path, sizeof(path), "%s/out", f->dir);
    assert_true(n > 0 && (size_t)n < sizeof(path));
    out = pki_read(path, &len);
    fwrite(out, 1, len, stdout);
    fflush(stdout);
    free(out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
pki_out_has(struct pki_fixture *f, const char *s)
{
    char path[256], *buf;
    size_t len;
    int has;

    snprintf(path, sizeof(path), "%s/out", f->dir);
    buf = pki_read(path, &len);
    buf[len] = '\0';
    has = strstr(buf, s) != NULL;
    free(buf);
    return has;
}

int
pki_fixture_setup(void **state)
{
    struct pki_fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    pki_fixture_open(f);
    *state = f;
    return 0;
}

int
pki_fixture_teardown(void **state)
{
    pki_fixture_close(*state);
    free(*state);
    return 0;
}
