/*
 * pki_fixture: a CA hierarchy of software keys (root, code signing CA,
 * timestamping CA, TSA) around a real SQLite store in a temporary
 * directory, for the pki unit tests; no daemon, no HSM. Signed output is
 * judged by the openssl command-line tool (SN_OPENSSL_BIN).
 */
#ifndef SN_PKI_FIXTURE_H
#define SN_PKI_FIXTURE_H

#include <openssl/x509.h>

#include "pki/ca.h"
#include "pki/casigner.h"
#include "store/store.h"

struct pki_fixture {
    char dir[64];
    struct sn_store *store;
    struct sn_ca ca; /* root, codesigning, timestamping set */
    EVP_PKEY *leaf_key;
    X509 *tsa_cert;
    struct sn_ca_signer *tsa_signer;
};

void pki_fixture_open(struct pki_fixture *f);
void pki_fixture_close(struct pki_fixture *f);
/* cmocka setup and teardown: *state is a fixture opened by pki_fixture_open. */
int pki_fixture_setup(void **state);
int pki_fixture_teardown(void **state);
/* A leaf certificate of the code signing CA, serial serial, recorded in
 * the store as issued. */
X509 *pki_leaf(struct pki_fixture *f, long serial);
/* Records cert (issued by ca_name) in the store. */
void pki_record(struct pki_fixture *f, X509 *cert, const char *ca_name);
/* The upper-case hex serial of x (as the store has it). */
void pki_serial_hex(X509 *x, char *out, size_t len);
/* Writes PEM of x, or DER data, to dir/name; returns the path (static). */
const char *pki_write_pem(struct pki_fixture *f, const char *name, X509 *x);
const char *pki_write(struct pki_fixture *f, const char *name, const void *data,
                      size_t len);
void *pki_read(const char *path, size_t *len);
/* A signer that hands every operation on to inner (referenced) and
 * counts in *ocsp the OCSP answers it signs; the caller owns the counter. */
struct sn_ca_signer *pki_counting_signer(struct sn_ca_signer *inner, int *ocsp);
/* Runs the shell command (printf format) with output to dir/out; returns
 * its exit status. */
int pki_run(struct pki_fixture *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* 1 if dir/out (the last pki_run's output) contains s. */
int pki_out_has(struct pki_fixture *f, const char *s);

#endif
