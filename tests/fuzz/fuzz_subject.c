/*
 * libFuzzer driver: displayable-text checks on identity values and labels
 * (first byte even), and the CA's subject writer over a DER Name from a
 * CSR (first byte odd). Whatever the CA writes must be a Name it would
 * accept as a request again, and write identically.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "common/text.h"
#include "crypto/subject.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
text(const uint8_t *data, size_t size)
{
    char why[300], *s = malloc(size + 1);
    int f;

    if (s == NULL)
        return;
    memcpy(s, data, size);
    s[size] = '\0';
    (void)sn_text_check(s, size, 64, 0);
    for (f = 0; f < SN_ID_NFIELDS; f++)
        if (sn_id_value_check((enum sn_id_field)f, s, why, sizeof(why)) ==
                SN_OK &&
            sn_text_check(s, strlen(s), 128, 1) != SN_TEXT_OK)
            abort(); /* an accepted value is always displayable text */
    free(s);
}

static void
name(const uint8_t *data, size_t size)
{
    struct sn_identity id;
    const unsigned char *p = data;
    X509_NAME *req = d2i_X509_NAME(NULL, &p, (long)size), *out = NULL,
              *again = NULL;
    char why[300];

    memset(&id, 0, sizeof(id));
    id.v[SN_ID_O] = "Acme Corp";
    id.v[SN_ID_ASSUMED_NAME] = "Acme Tools";
    id.v[SN_ID_C] = "DE";
    id.v[SN_ID_L] = "Berlin";
    id.v[SN_ID_OU] = "Release Engineering";
    id.v[SN_ID_SERIAL_NUMBER] = "HRB 12345";
    id.v[SN_ID_BUSINESS_CATEGORY] = "Private Organization";
    id.v[SN_ID_JURISDICTION_C] = "DE";
    if (req == NULL)
        return;
    if (sn_subject_build(&id, data[0] & 2, req, &out, why, sizeof(why)) ==
        SN_OK) {
        if (sn_subject_build(&id, data[0] & 2, out, &again, why, sizeof(why)) !=
                SN_OK ||
            X509_NAME_cmp(out, again) != 0)
            abort();
    }
    X509_NAME_free(again);
    X509_NAME_free(out);
    X509_NAME_free(req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1)
        name(data + 1, size - 1);
    else
        text(data + 1, size - 1);
    return 0;
}
