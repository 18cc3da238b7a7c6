/*
 * test_pki_tsa: the RFC 3161 TSA with a software signer and a real store:
 * a request made by `openssl ts -query` gets a token `openssl ts -verify`
 * accepts against the root; once the TSA certificate is revoked in the
 * store, the answer is a rejection. Nonces (RFC 8954's bound, 1..32
 * octets of value): hand-made requests with nonces of 1, 32, 33 and
 * 512 Ki octets; the longer ones get a rejection with badRequest, read
 * by `openssl ts -reply -text`, and no token.
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
#include <openssl/evp.h>

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

/* Answers req.tsq; the reply goes to resp.tsr. */
static void
answer(struct tsa_fixture *f, int want_record)
{
    struct sn_tsa_record *rec = NULL;
    uint8_t *req, *der = NULL;
    size_t len, dlen = 0;
    char path[128];

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
    /* A rejection carries no token, and so nothing of the request. */
    if (!want_record)
        assert_in_range(dlen, 1, 1024);
    pki_write(&f->p, "resp.tsr", der, dlen);
    free(rec);
    free(der);
    free(req);
}

/* Asks for a token on a fresh request made by openssl ts -query. */
static void
ask(struct tsa_fixture *f, int want_record)
{
    pki_write(&f->p, "data.bin", "signet time-stamp test", 22);
    assert_int_equal(pki_run(&f->p,
                             "%s ts -query -data data.bin -sha256 -cert "
                             "-out req.tsq",
                             SN_OPENSSL_BIN),
                     0);
    answer(f, want_record);
}

/* Appends a DER TLV (minimal length) at p; returns the end. */
static uint8_t *
tlv(uint8_t *p, uint8_t tag, const uint8_t *v, size_t len)
{
    int i, k = 0;

    *p++ = tag;
    if (len < 0x80) {
        *p++ = (uint8_t)len;
    } else {
        while (k < 8 && (len >> (8 * k)) != 0)
            k++;
        *p++ = (uint8_t)(0x80 | k);
        for (i = k - 1; i >= 0; i--)
            *p++ = (uint8_t)(len >> (8 * i));
    }
    memcpy(p, v, len);
    return p + len;
}

/*
 * A TimeStampReq (v1, SHA-256 imprint of data.bin, certReq) written to
 * req.tsq, with a nonce INTEGER of content octets nonce[0..nlen) unless
 * nonce is NULL. Made by hand: openssl ts -query makes neither the long
 * nonces nor one of no octets.
 */
static void
write_query(struct tsa_fixture *f, const uint8_t *nonce, size_t nlen)
{
    static const uint8_t head[] = {0x02, 0x01, 0x01}; /* version v1 */
    static const uint8_t sha256[] = {0x30, 0x0d, 0x06, 0x09, 0x60,
                                     0x86, 0x48, 0x01, 0x65, 0x03,
                                     0x04, 0x02, 0x01, 0x05, 0x00};
    static const uint8_t cert_req[] = {0x01, 0x01, 0xff};
    static const char data[] = "signet time-stamp test";
    uint8_t md[32], imprint[64], *body, *der, *p, *q;

    assert_int_equal(
        EVP_Digest(data, strlen(data), md, NULL, EVP_sha256(), NULL), 1);
    memcpy(imprint, sha256, sizeof(sha256));
    q = tlv(imprint + sizeof(sha256), 0x04, md, sizeof(md));
    assert_non_null(body = malloc(nlen + 128));
    assert_non_null(der = malloc(nlen + 144));
    memcpy(body, head, sizeof(head));
    p = tlv(body + sizeof(head), 0x30, imprint, (size_t)(q - imprint));
    if (nonce != NULL)
        p = tlv(p, 0x02, nonce, nlen);
    memcpy(p, cert_req, sizeof(cert_req));
    p += sizeof(cert_req);
    q = tlv(der, 0x30, body, (size_t)(p - body));
    pki_write(&f->p, "data.bin", data, strlen(data));
    pki_write(&f->p, "req.tsq", der, (size_t)(q - der));
    free(body);
    free(der);
}

/* Nonce content octets: n octets, the first first, then a pattern. */
static uint8_t *
nonce_of(size_t n, uint8_t first)
{
    uint8_t *b = malloc(n + 1);
    size_t i;

    assert_non_null(b);
    for (i = 0; i < n; i++)
        b[i] = i == 0 ? first : (uint8_t)(i * 7 + 3);
    return b;
}

/* req.tsq with that nonce is granted, and openssl checks the token's
 * nonce against the query's. */
static void
nonce_granted(struct tsa_fixture *f, const uint8_t *nonce, size_t nlen)
{
    write_query(f, nonce, nlen);
    answer(f, 1);
    assert_int_equal(pki_run(&f->p,
                             "%s ts -verify -in resp.tsr -queryfile req.tsq "
                             "-CAfile root.pem -untrusted timestamping.pem",
                             SN_OPENSSL_BIN),
                     0);
    assert_true(pki_out_has(&f->p, "Verification: OK"));
}

/* req.tsq with that nonce is rejected with failInfo why, as openssl
 * prints it (badRequest: "transaction not permitted or supported"). */
static void
nonce_rejected(struct tsa_fixture *f, const uint8_t *nonce, size_t nlen,
               const char *why)
{
    write_query(f, nonce, nlen);
    answer(f, 0);
    assert_int_equal(
        pki_run(&f->p, "%s ts -reply -in resp.tsr -text", SN_OPENSSL_BIN), 0);
    assert_true(pki_out_has(&f->p, "Status: Rejected"));
    assert_true(pki_out_has(&f->p, why));
    assert_true(pki_out_has(&f->p, "Not included."));
}

static void
test_nonce_lengths(void **state)
{
    struct tsa_fixture *f = *state;
    uint8_t *n;

    nonce_granted(f, NULL, 0); /* no nonce */
    n = nonce_of(1, 0x2a);
    nonce_granted(f, n, 1);
    free(n);
    n = nonce_of(32, 0x5a);
    nonce_granted(f, n, 32);
    free(n);
    /* 32 octets of value whose top bit is set: DER adds a sign octet. */
    n = nonce_of(33, 0x00);
    n[1] = 0xc3;
    nonce_granted(f, n, 33);
    free(n);
    n = nonce_of(33, 0x01);
    nonce_rejected(f, n, 33, "not permitted or supported");
    free(n);
    n = nonce_of(512 * 1024, 0x01);
    nonce_rejected(f, n, 512 * 1024, "not permitted or supported");
    free(n);
    /* An INTEGER of no octets is not DER. */
    nonce_rejected(f, (const uint8_t *)"", 0, "wrong format");
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
        cmocka_unit_test_setup_teardown(test_nonce_lengths, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
