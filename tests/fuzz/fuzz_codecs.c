/*
 * libFuzzer driver: the decoders that take untrusted text from requests:
 * strict base64 (digests), hex, RFC 3339 times (token expiry) and API
 * bearer tokens.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "crypto/apitoken.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t hash[SN_TOKEN_HASH_LEN], *out = NULL;
    char id[SN_UUID_LEN], *s;
    size_t len = 0;
    time_t t;

    if ((s = malloc(size + 1)) == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (sn_b64_decode(s, &out, &len) == SN_OK) {
        char *back = NULL;
        /* Whatever decodes must re-encode to no more than the input. */
        if (sn_b64_encode(out, len, &back) == SN_OK && strlen(back) > strlen(s))
            abort();
        free(back);
        free(out);
    }
    if (sn_hex_decode(s, &out, &len) == SN_OK)
        free(out);
    (void)sn_time_parse(s, &t);
    (void)sn_apitoken_parse(s, id, hash);
    free(s);
    return 0;
}
