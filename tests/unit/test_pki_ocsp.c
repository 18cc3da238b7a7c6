/*
 * test_pki_ocsp: the OCSP responder with a software signer and a real
 * store. Requests are made by `openssl ocsp -reqout`; the answers must
 * pass `openssl ocsp -respin ... -CAfile` with good, revoked and unknown
 * where due; a request that is not one gets malformedRequest. Nonces
 * (RFC 8954): 1 and 32 octets are echoed, 0, 33 and 512 Ki octets or a
 * value that is not an OCTET STRING get malformedRequest. Answers about
 * serials never issued are kept like the others (counted signatures:
 * two requests, one signature) until the serial is issued, and random
 * serials do not push out the answers about issued ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "pki_fixture.h"

/* The responder's answer to req.der goes to resp.der. */
static void
answer(struct pki_fixture *f, struct sn_ocsp_meta *meta)
{
    uint8_t *req, *der = NULL;
    size_t len, dlen = 0;
    char path[128];

    snprintf(path, sizeof(path), "%s/req.der", f->dir);
    req = pki_read(path, &len);
    assert_int_equal(sn_ca_ocsp(&f->ca, f->store, req, len, &der, &dlen, meta),
                     SN_OK);
    pki_write(f, "resp.der", der, dlen);
    free(der);
    free(req);
}

static void
test_good_revoked_unknown(void **state)
{
    struct pki_fixture *f = *state;
    struct sn_ocsp_meta meta;
    X509 *good = pki_leaf(f, 0x1001), *bad = pki_leaf(f, 0x1002);
    char serial[65];

    pki_write_pem(f, "good.pem", good);
    pki_write_pem(f, "bad.pem", bad);
    pki_serial_hex(bad, serial, sizeof(serial));
    assert_int_equal(
        sn_store_cert_revoke(f->store, serial, time(NULL) - 60, 1, time(NULL)),
        SN_OK);
    sn_ca_ocsp_forget(&f->ca);
    assert_int_equal(pki_run(f,
                             "%s ocsp -issuer codesigning.pem -cert good.pem "
                             "-cert bad.pem -serial 0x2002 -no_nonce "
                             "-reqout req.der",
                             SN_OPENSSL_BIN),
                     0);
    answer(f, &meta);
    assert_true(meta.cacheable);
    assert_int_equal(pki_run(f,
                             "%s ocsp -respin resp.der -issuer "
                             "codesigning.pem -cert good.pem -cert bad.pem "
                             "-serial 0x2002 -no_nonce -CAfile root.pem "
                             "-verify_other codesigning.pem -resp_text",
                             SN_OPENSSL_BIN),
                     0);
    assert_true(pki_out_has(f, "Response verify OK"));
    assert_true(pki_out_has(f, "good.pem: good"));
    assert_true(pki_out_has(f, "bad.pem: revoked"));
    assert_true(pki_out_has(f, "Reason: keyCompromise"));
    assert_true(pki_out_has(f, "0x2002: unknown"));
    /* Another CA's key did not sign it. */
    assert_int_not_equal(pki_run(f,
                                 "%s ocsp -respin resp.der -CAfile "
                                 "timestamping.pem -partial_chain "
                                 "-verify_other timestamping.pem",
                                 SN_OPENSSL_BIN),
                         0);
    X509_free(good);
    X509_free(bad);
}

static void
test_nonce_echoed(void **state)
{
    struct pki_fixture *f = *state;
    struct sn_ocsp_meta meta;
    X509 *good = pki_leaf(f, 0x3003);

    pki_write_pem(f, "good.pem", good);
    assert_int_equal(pki_run(f,
                             "%s ocsp -issuer codesigning.pem -cert good.pem "
                             "-nonce -reqout req.der -req_text",
                             SN_OPENSSL_BIN),
                     0);
    answer(f, &meta);
    assert_false(meta.cacheable);
    /* -reqin (and no -cert, which makes a new request with a nonce of
     * its own): openssl checks the answer's nonce against the request's. */
    assert_int_equal(pki_run(f,
                             "%s ocsp -reqin req.der -respin resp.der "
                             "-CAfile root.pem -verify_other codesigning.pem "
                             "-resp_text",
                             SN_OPENSSL_BIN),
                     0);
    assert_true(pki_out_has(f, "Response verify OK"));
    assert_true(pki_out_has(f, "Cert Status: good"));
    assert_false(pki_out_has(f, "Nonce Verify error"));
    assert_false(pki_out_has(f, "WARNING"));
    X509_free(good);
}

static void
test_malformed(void **state)
{
    struct pki_fixture *f = *state;
    static const uint8_t junk[] = {0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00};
    uint8_t *der = NULL;
    size_t dlen = 0;

    assert_int_equal(
        sn_ca_ocsp(&f->ca, f->store, junk, sizeof(junk), &der, &dlen, NULL),
        SN_OK);
    pki_write(f, "resp.der", der, dlen);
    free(der);
    (void)pki_run(f, "%s ocsp -respin resp.der -resp_text -noverify",
                  SN_OPENSSL_BIN);
    assert_true(pki_out_has(f, "malformedrequest"));
}

enum nonce_form { NO_NONCE, NONCE, NONCE_RAW };

/*
 * A DER OCSPRequest about serial of the code signing CA (a SHA-1 CertID,
 * as openssl ocsp makes), with a nonce extension of n octets: an OCTET
 * STRING holding them (RFC 6960 4.4.1, what openssl ocsp -nonce sends) or,
 * NONCE_RAW, the bare octets.
 */
static uint8_t *
make_req(struct pki_fixture *f, long serial, enum nonce_form form, size_t n,
         size_t *len)
{
    X509 *ca = f->ca.cert[SN_CA_CODESIGNING];
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    ASN1_INTEGER *sn = ASN1_INTEGER_new();
    ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new(), *value = NULL;
    X509_EXTENSION *ext = NULL;
    OCSP_CERTID *id;
    unsigned char *nonce = malloc(n + 1), *v = NULL, *der = NULL;
    size_t i;
    int vl, dl;

    assert_non_null(req);
    assert_non_null(sn);
    assert_non_null(inner);
    assert_non_null(nonce);
    assert_int_equal(ASN1_INTEGER_set(sn, serial), 1);
    assert_non_null(id = OCSP_cert_id_new(EVP_sha1(), X509_get_subject_name(ca),
                                          X509_get0_pubkey_bitstr(ca), sn));
    assert_non_null(OCSP_request_add0_id(req, id));
    for (i = 0; i < n; i++)
        nonce[i] = (uint8_t)(i * 7 + 3);
    if (form != NO_NONCE) {
        assert_int_equal(ASN1_OCTET_STRING_set(inner, nonce, (int)n), 1);
        if (form == NONCE) {
            assert_true((vl = i2d_ASN1_OCTET_STRING(inner, &v)) > 0);
            assert_non_null(value = ASN1_OCTET_STRING_new());
            assert_int_equal(ASN1_OCTET_STRING_set(value, v, vl), 1);
        }
        assert_non_null(
            ext = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_Nonce, 0,
                                               form == NONCE ? value : inner));
        assert_int_equal(OCSP_REQUEST_add_ext(req, ext, -1), 1);
    }
    assert_true((dl = i2d_OCSP_REQUEST(req, &der)) > 0);
    *len = (size_t)dl;
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(value);
    ASN1_OCTET_STRING_free(inner);
    OPENSSL_free(v);
    free(nonce);
    ASN1_INTEGER_free(sn);
    OCSP_REQUEST_free(req);
    return der;
}

/* The responder's answer to a request from make_req (as req.der). */
static uint8_t *
ask(struct pki_fixture *f, long serial, enum nonce_form form, size_t n,
    size_t *dlen, struct sn_ocsp_meta *meta)
{
    uint8_t *req, *der = NULL;
    size_t len;

    req = make_req(f, serial, form, n, &len);
    pki_write(f, "req.der", req, len);
    assert_int_equal(sn_ca_ocsp(&f->ca, f->store, req, len, &der, dlen, meta),
                     SN_OK);
    OPENSSL_free(req);
    return der;
}

/* The code signing CA's signatures, counted from now on in *count. */
static void
count_signatures(struct pki_fixture *f, int *count)
{
    struct sn_ca_signer *c =
        pki_counting_signer(f->ca.signer[SN_CA_CODESIGNING], count);

    sn_ca_signer_free(f->ca.signer[SN_CA_CODESIGNING]);
    f->ca.signer[SN_CA_CODESIGNING] = c;
    *count = 0;
}

/* req.der's answer, resp.der, as openssl reads it: verified against
 * the request's nonce (-reqin) when want_ok, else only its status. */
static void
nonce_verdict(struct pki_fixture *f, size_t n, enum nonce_form form,
              int want_ok)
{
    struct sn_ocsp_meta meta;
    uint8_t *der;
    size_t dlen = 0;

    der = ask(f, 0x5005, form, n, &dlen, &meta);
    pki_write(f, "resp.der", der, dlen);
    free(der);
    if (!want_ok) {
        (void)pki_run(f, "%s ocsp -respin resp.der -resp_text -noverify",
                      SN_OPENSSL_BIN);
        assert_true(pki_out_has(f, "malformedrequest"));
        assert_false(meta.cacheable);
        return;
    }
    assert_int_equal(pki_run(f,
                             "%s ocsp -reqin req.der -respin resp.der "
                             "-CAfile root.pem -verify_other codesigning.pem "
                             "-resp_text",
                             SN_OPENSSL_BIN),
                     0);
    assert_true(pki_out_has(f, "Response verify OK"));
    assert_true(pki_out_has(f, "Cert Status: good"));
    assert_true(pki_out_has(f, "OCSP Nonce"));
    assert_false(pki_out_has(f, "WARNING"));
    assert_false(meta.cacheable);
}

static void
test_nonce_lengths(void **state)
{
    struct pki_fixture *f = *state;
    X509 *good = pki_leaf(f, 0x5005);

    nonce_verdict(f, 1, NONCE, 1);
    nonce_verdict(f, 16, NONCE, 1);
    nonce_verdict(f, 32, NONCE, 1);
    nonce_verdict(f, 0, NONCE, 0);
    nonce_verdict(f, 33, NONCE, 0);
    nonce_verdict(f, 512 * 1024, NONCE, 0);
    nonce_verdict(f, 16, NONCE_RAW, 0);
    X509_free(good);
}

static void
test_unknown_kept(void **state)
{
    struct pki_fixture *f = *state;
    struct sn_ocsp_meta meta;
    uint8_t *a, *b;
    size_t alen = 0, blen = 0;
    X509 *leaf;
    int sigs;

    count_signatures(f, &sigs);
    a = ask(f, 0x6006, NO_NONCE, 0, &alen, &meta);
    b = ask(f, 0x6006, NO_NONCE, 0, &blen, &meta);
    assert_int_equal(sigs, 1);
    assert_true(meta.cacheable);
    assert_memory_equal(a, b, alen);
    assert_int_equal(alen, blen);
    pki_write(f, "resp.der", b, blen);
    assert_int_equal(pki_run(f,
                             "%s ocsp -respin resp.der -issuer "
                             "codesigning.pem -serial 0x6006 -no_nonce "
                             "-CAfile root.pem -verify_other codesigning.pem",
                             SN_OPENSSL_BIN),
                     0);
    assert_true(pki_out_has(f, "0x6006: unknown"));
    free(a);
    free(b);
    /* With a nonce: made afresh each time, as for issued serials. */
    free(ask(f, 0x6006, NONCE, 16, &alen, &meta));
    free(ask(f, 0x6006, NONCE, 16, &alen, &meta));
    assert_int_equal(sigs, 3);
    assert_false(meta.cacheable);
    /* Issued now: the kept "unknown" is not served again. */
    leaf = pki_leaf(f, 0x6006);
    pki_write_pem(f, "leaf.pem", leaf);
    a = ask(f, 0x6006, NO_NONCE, 0, &alen, &meta);
    assert_int_equal(sigs, 4);
    pki_write(f, "resp.der", a, alen);
    free(a);
    assert_int_equal(pki_run(f,
                             "%s ocsp -respin resp.der -issuer "
                             "codesigning.pem -cert leaf.pem -no_nonce "
                             "-CAfile root.pem -verify_other codesigning.pem",
                             SN_OPENSSL_BIN),
                     0);
    assert_true(pki_out_has(f, "leaf.pem: good"));
    free(ask(f, 0x6006, NO_NONCE, 0, &alen, &meta));
    assert_int_equal(sigs, 4);
    X509_free(leaf);
}

/* Asking for more never-issued serials than their cache holds (4096)
 * starts it over and keeps the next ones; the answers about issued
 * serials stay. */
static void
test_unknown_flood(void **state)
{
    struct pki_fixture *f = *state;
    X509 *leaf = pki_leaf(f, 0x7007);
    size_t len = 0;
    long i;
    int sigs;

    count_signatures(f, &sigs);
    free(ask(f, 0x7007, NO_NONCE, 0, &len, NULL));
    for (i = 0; i < 5000; i++)
        free(ask(f, 0x100000 + i, NO_NONCE, 0, &len, NULL));
    assert_int_equal(sigs, 5001);
    /* Kept since the start over, and the issued one all along. */
    free(ask(f, 0x100000 + 4999, NO_NONCE, 0, &len, NULL));
    free(ask(f, 0x7007, NO_NONCE, 0, &len, NULL));
    assert_int_equal(sigs, 5001);
    X509_free(leaf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_good_revoked_unknown, pki_fixture_setup, pki_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_nonce_echoed, pki_fixture_setup,
                                        pki_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_malformed, pki_fixture_setup,
                                        pki_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_nonce_lengths, pki_fixture_setup,
                                        pki_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_kept, pki_fixture_setup,
                                        pki_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_flood, pki_fixture_setup,
                                        pki_fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
