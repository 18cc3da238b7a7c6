/*
 * libFuzzer driver: the OCSP responder's answer to an untrusted
 * OCSPRequest (DER), signed by a software CA key (fuzz_pki.h) with a
 * SQLite store of one issued and one revoked serial. Every input gets an
 * OCSPResponse that parses; a successful one carries a basic response
 * signed by the CA it asks about.
 */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/ocsp.h>

#include "fuzz_pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_pki world;
static int ready;
static STACK_OF(X509) *signers; /* the CAs that answer */

static void
check(const uint8_t *der, size_t dlen)
{
    const unsigned char *p = der;
    OCSP_RESPONSE *resp;
    OCSP_BASICRESP *basic = NULL;

    if ((resp = d2i_OCSP_RESPONSE(NULL, &p, (long)dlen)) == NULL ||
        p != der + dlen)
        abort();
    if (OCSP_response_status(resp) == OCSP_RESPONSE_STATUS_SUCCESSFUL &&
        ((basic = OCSP_response_get1_basic(resp)) == NULL ||
         OCSP_basic_verify(basic, signers, NULL, OCSP_NOVERIFY) != 1))
        abort();
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(resp);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sn_ocsp_meta meta;
    uint8_t *der = NULL;
    size_t dlen = 0;

    if (!ready) {
        fuzz_pki_open(&world);
        need((signers = sk_X509_new_null()) != NULL &&
             sk_X509_push(signers, world.ca.cert[SN_CA_CODESIGNING]) &&
             sk_X509_push(signers, world.ca.cert[SN_CA_TIMESTAMPING]));
        ready = 1;
    }
    if (size > 65536)
        return 0;
    if (sn_ca_ocsp(&world.ca, world.store, data, size, &der, &dlen, &meta) !=
        SN_OK)
        abort(); /* a software key does not fail: only the request can */
    check(der, dlen);
    free(der);
    return 0;
}
