/*
 * libFuzzer driver: the TSA's answer to an untrusted TimeStampReq (DER),
 * signed by a software TSA key (fuzz_pki.h). Every input gets a
 * TimeStampResp that parses; a token only when the answer is granted, and
 * then with a record of it.
 */
#include <stdint.h>
#include <stdlib.h>

#include <openssl/ts.h>

#include "fuzz_pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_pki world;
static int ready;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sn_tsa_record *rec = NULL;
    uint8_t *der = NULL;
    size_t dlen = 0;
    const unsigned char *p;
    TS_RESP *resp;
    long status;

    if (!ready) {
        fuzz_pki_open(&world);
        ready = 1;
    }
    if (size > 65536)
        return 0;
    if (sn_tsa_respond(&world.tsa, data, size, &der, &dlen, &rec) != SN_OK)
        abort(); /* a software key does not fail: only the request can */
    p = der;
    if ((resp = d2i_TS_RESP(NULL, &p, (long)dlen)) == NULL || p != der + dlen)
        abort();
    status = ASN1_INTEGER_get(
        TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp)));
    if ((status == TS_STATUS_GRANTED) != (rec != NULL) ||
        (rec != NULL && TS_RESP_get_token(resp) == NULL))
        abort();
    TS_RESP_free(resp);
    free(rec);
    free(der);
    return 0;
}
