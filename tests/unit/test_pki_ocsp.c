/*
 * test_pki_ocsp: the OCSP responder with a software signer and a real
 * store. Requests are made by `openssl ocsp -reqout`; the answers must
 * pass `openssl ocsp -respin ... -CAfile` with good, revoked and unknown
 * where due; a request that is not one gets malformedRequest.
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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
