/*
 * libFuzzer driver: the PKCS#11 module's reply parser (src/pkcs11/reply.c),
 * which turns the service's untrusted answers into objects and
 * signatures: GET /v1/keys, GET /v1/whoami, the sign answer for each key
 * type, a sign request's answers (issue 17), API error bodies, and the
 * DigestInfo and ECDSA DER helpers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char sub[SN_P11_SUBSCRIBER_MAX + 1], code[64], msg[256];
    uint8_t sig[SN_P11_MAX_SIG];
    struct sn_p11_keylist *keys = NULL;
    struct sn_p11_request sr;
    const uint8_t *digest;
    enum sn_digest md;
    size_t i;

    if (sn_p11_parse_keys(data, size, &keys) == SN_OK) {
        /* Every accepted key must be internally consistent. */
        for (i = 0; i < keys->n; i++)
            if (keys->keys[i].sig_len == 0 ||
                keys->keys[i].sig_len > SN_P11_MAX_SIG ||
                strlen(keys->keys[i].id) == 0)
                abort();
        sn_p11_keylist_free(keys);
    }
    (void)sn_p11_parse_whoami(data, size, sub);
    (void)sn_p11_parse_signature(data, size, SN_KEY_RSA3072, 384, sig);
    (void)sn_p11_parse_signature(data, size, SN_KEY_P256, 64, sig);
    (void)sn_p11_parse_signature(data, size, SN_KEY_P384, 96, sig);
    sn_p11_parse_error(data, size, code, sizeof(code), msg, sizeof(msg));
    /* issue 17: an accepted sign request has an id safe in a path */
    if (sn_p11_parse_request(data, size, &sr) == SN_OK &&
        (sr.id[0] == '\0' || strlen(sr.id) > SN_P11_KEYID_MAX ||
         strcspn(sr.id, "/?#%. ") != strlen(sr.id)))
        abort();
    if (sn_p11_digestinfo_parse(data, size, &md, &digest) == SN_OK &&
        digest + sn_digest_len(md) != data + size)
        abort();
    (void)sn_p11_ecdsa_der_to_raw(data, size, 32, sig);
    (void)sn_p11_ecdsa_der_to_raw(data, size, 48, sig);
    return 0;
}
