/*
 * libFuzzer driver: report evidence (src/crypto/evidence.c), the PKCS#7
 * anyone may send with POST /v1/reports. The first byte picks PKCS#7 or a
 * raw signature value, the rest is the input. An accepted PKCS#7 holds 1
 * to SN_EVIDENCE_MAX_SIGS signatures within the depth limit and says no
 * why; a refusal says why and leaves nothing behind.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/evidence.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sn_evidence ev;
    char why[160];
    size_t i;
    sn_err r;

    if (size < 1)
        return 0;
    if (data[0] & 1) {
        r = sn_evidence_signature(data + 1, size - 1, &ev);
        if (r == SN_OK && (ev.nsigs != 1 || size - 1 > SN_EVIDENCE_SIG_MAX))
            abort();
        return 0;
    }
    r = sn_evidence_pkcs7(data + 1, size - 1, &ev, why, sizeof(why));
    if (r != SN_OK) {
        if (why[0] == '\0' || ev.nsigs != 0)
            abort();
        return 0;
    }
    if (ev.nsigs == 0 || ev.nsigs > SN_EVIDENCE_MAX_SIGS)
        abort();
    for (i = 0; i < ev.nsigs; i++)
        if (ev.sigs[i].depth > SN_EVIDENCE_DEPTH_MAX ||
            strnlen(ev.sigs[i].cert_serial, sizeof(ev.sigs[i].cert_serial)) ==
                sizeof(ev.sigs[i].cert_serial))
            abort();
    return 0;
}
