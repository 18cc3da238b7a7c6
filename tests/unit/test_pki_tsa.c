/*
 * test_pki_tsa: the RFC 3161 TSA with a software signer and a real store:
 * a request made by `openssl ts -query` gets a token `openssl ts -verify`
 * accepts against the root; once the TSA certificate is revoked in the
 * store, the answer is a rejection.
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

#include "pki/tsa.h"
#include "pki_fixture.h"

struct tsa_fixture {
    struct pki_fixture p;
    struct sn_tsa tsa;
};

static int
setup(void **state)
{
    struct tsa_fixture *f = calloc(1, sizeof(*f));
    struct sn_tsa_settings set;

    assert_non_null(f);
    pki_fixture_open(&f->p);
    memset(&set, 0, sizeof(set));
    set.home = f->p.dir;
    set.ca_policy = f->p.ca.oids.ca_policy;
    set.accuracy_ms = 1000;
    assert_int_equal(sn_tsa_init(&f->tsa, f->p.store, NULL, &set,
                                 f->p.ca.cert[SN_CA_TIMESTAMPING],
                                 f->p.ca.signer[SN_CA_TIMESTAMPING]),
                     SN_OK);
    assert_int_equal(
        sn_tsa_use(&f->tsa, f->p.tsa_cert, f->p.tsa_signer, "tsa-test"), SN_OK);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct tsa_fixture *f = *state;

    sn_tsa_cleanup(&f->tsa);
    pki_fixture_close(&f->p);
    free(f);
    return 0;
}

/* Asks for a token on a fresh request; the reply goes to resp.tsr. */
static void
ask(struct tsa_fixture *f, int want_record)
{
    struct sn_tsa_record *rec = NULL;
    uint8_t *req, *der = NULL;
    size_t len, dlen = 0;
    char path[128];

    pki_write(&f->p, "data.bin", "signet time-stamp test", 22);
    assert_int_equal(pki_run(&f->p,
                             "%s ts -query -data data.bin -sha256 -cert "
                             "-out req.tsq",
                             SN_OPENSSL_BIN),
                     0);
    snprintf(path, sizeof(path), "%s/req.tsq", f->p.dir);
    req = pki_read(path, &len);
    assert_int_equal(sn_tsa_respond(&f->tsa, req, len, &der, &dlen, &rec),
                     SN_OK);
    assert_true(dlen > 0);
    if (want_record) {
        assert_non_null(rec);
        assert_int_equal(sn_store_tsa_add(f->p.store, rec), SN_OK);
    } else {
        assert_null(rec);
    }
    pki_write(&f->p, "resp.tsr", der, dlen);
    free(rec);
    free(der);
    free(req);
}

static void
test_token_verifies(void **state)
{
    struct tsa_fixture *f = *state;

    ask(f, 1);
    assert_int_equal(pki_run(&f->p,
                             "%s ts -verify -in resp.tsr -queryfile req.tsq "
                             "-CAfile root.pem -untrusted timestamping.pem",
                             SN_OPENSSL_BIN),
                     0);
    assert_true(pki_out_has(&f->p, "Verification: OK"));
    /* Another root must not do. */
    assert_int_not_equal(pki_run(&f->p,
                                 "%s ts -verify -in resp.tsr -queryfile "
                                 "req.tsq -CAfile codesigning.pem "
                                 "-partial_chain",
                                 SN_OPENSSL_BIN),
                         0);
}

static void
test_revoked_rejects(void **state)
{
    struct tsa_fixture *f = *state;
    char serial[65];

    pki_serial_hex(f->p.tsa_cert, serial, sizeof(serial));
    assert_int_equal(sn_store_cert_revoke(f->p.store, serial, time(NULL) - 60,
                                          1, time(NULL)),
                     SN_OK);
    ask(f, 0);
    assert_int_equal(
        pki_run(&f->p, "%s ts -reply -in resp.tsr -text", SN_OPENSSL_BIN), 0);
    assert_true(pki_out_has(&f->p, "Status: Rejected"));
    assert_int_not_equal(pki_run(&f->p,
                                 "%s ts -verify -in resp.tsr -queryfile "
                                 "req.tsq -CAfile root.pem -untrusted "
                                 "timestamping.pem",
                                 SN_OPENSSL_BIN),
                         0);
}

static void
test_garbage_is_rejection(void **state)
{
    struct tsa_fixture *f = *state;
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01};
    struct sn_tsa_record *rec = NULL;
    uint8_t *der = NULL;
    size_t dlen = 0;

    assert_int_equal(
        sn_tsa_respond(&f->tsa, junk, sizeof(junk), &der, &dlen, &rec), SN_OK);
    assert_null(rec);
    pki_write(&f->p, "resp.tsr", der, dlen);
    free(der);
    assert_int_equal(
        pki_run(&f->p, "%s ts -reply -in resp.tsr -text", SN_OPENSSL_BIN), 0);
    assert_true(pki_out_has(&f->p, "Status: Rejected"));
    assert_true(pki_out_has(&f->p, "wrong format"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_token_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoked_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_is_rejection, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
