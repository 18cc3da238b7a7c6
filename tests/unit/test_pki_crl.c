/*
 * test_pki_crl: CRLs with a software signer and a real store; `openssl
 * crl -verify` judges the signature, and the revoked serial (only that
 * one) is listed. A second CRL is issued only when forced or stale.
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

static void
test_crl_lists_revoked(void **state)
{
    struct pki_fixture *f = *state;
    X509 *kept = pki_leaf(f, 0xA001), *gone = pki_leaf(f, 0xA002);
    uint8_t *der = NULL, *again = NULL;
    size_t len = 0, alen = 0;
    char serial[65];

    pki_serial_hex(gone, serial, sizeof(serial));
    assert_int_equal(
        sn_store_cert_revoke(f->store, serial, time(NULL) - 60, 4, time(NULL)),
        SN_OK);
    assert_int_equal(
        sn_ca_crl(&f->ca, f->store, SN_CA_CODESIGNING, 0, &der, &len), SN_OK);
    pki_write(f, "cs.crl", der, len);
    assert_int_equal(pki_run(f,
                             "%s crl -inform DER -in cs.crl -CAfile "
                             "codesigning.pem -noout -text -crlnumber -verify",
                             SN_OPENSSL_BIN),
                     0);
    assert_true(pki_out_has(f, "verify OK"));
    assert_true(pki_out_has(f, "Serial Number: A002"));
    assert_false(pki_out_has(f, "Serial Number: A001"));
    assert_true(pki_out_has(f, "Superseded"));
    assert_true(pki_out_has(f, "crlNumber=0x01"));
    /* Another CA's key did not sign it (openssl crl says so, exit 0). */
    (void)pki_run(f,
                  "%s crl -inform DER -in cs.crl -CAfile timestamping.pem "
                  "-noout -verify",
                  SN_OPENSSL_BIN);
    assert_false(pki_out_has(f, "verify OK"));
    /* Fresh: the same CRL again; forced: the next number. */
    assert_int_equal(
        sn_ca_crl(&f->ca, f->store, SN_CA_CODESIGNING, 0, &again, &alen),
        SN_OK);
    assert_int_equal(alen, len);
    assert_memory_equal(again, der, len);
    free(again);
    assert_int_equal(
        sn_ca_crl(&f->ca, f->store, SN_CA_CODESIGNING, 1, &again, &alen),
        SN_OK);
    pki_write(f, "cs2.crl", again, alen);
    assert_int_equal(pki_run(f,
                             "%s crl -inform DER -in cs2.crl -CAfile "
                             "codesigning.pem -noout -crlnumber -verify",
                             SN_OPENSSL_BIN),
                     0);
    assert_true(pki_out_has(f, "crlNumber=0x02"));
    free(again);
    free(der);
    X509_free(kept);
    X509_free(gone);
}

static void
test_crl_kinds(void **state)
{
    struct pki_fixture *f = *state;
    uint8_t *der = NULL;
    size_t len = 0;

    assert_int_equal(sn_ca_crl(&f->ca, f->store, SN_CA_ATT_ROOT, 0, &der, &len),
                     SN_ERR_INVALID);
    assert_null(der);
    assert_int_equal(sn_ca_crl(&f->ca, f->store, SN_CA_ROOT, 0, &der, &len),
                     SN_OK);
    pki_write(f, "root.crl", der, len);
    free(der);
    assert_int_equal(pki_run(f,
                             "%s crl -inform DER -in root.crl -CAfile "
                             "root.pem -noout -verify",
                             SN_OPENSSL_BIN),
                     0);
    assert_true(pki_out_has(f, "verify OK"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_crl_lists_revoked, pki_fixture_setup, pki_fixture_teardown),
        cmocka_unit_test_setup_teardown(test_crl_kinds, pki_fixture_setup,
                                        pki_fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
