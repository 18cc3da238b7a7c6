/*
 * digestinfo: the fixed DigestInfo prefixes. Input to sn_digestinfo_parse
 * is untrusted: it is matched whole against the table, never decoded.
 */
#include "common/digestinfo.h"

#include <string.h>

/* With the NULL parameters first: sn_digestinfo_prefix picks those. */
static const struct {
    enum sn_digest md;
    uint8_t prefix[SN_DIGESTINFO_PREFIX_MAX];
    size_t len;
} digestinfos[] = {
    {SN_MD_SHA256,
     {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
      0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
     19},
    {SN_MD_SHA384,
     {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
      0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
     19},
    {SN_MD_SHA512,
     {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
      0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
     19},
    {SN_MD_SHA256,
     {0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
      0x04, 0x02, 0x01, 0x04, 0x20},
     17},
    {SN_MD_SHA384,
     {0x30, 0x3f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
      0x04, 0x02, 0x02, 0x04, 0x30},
     17},
    {SN_MD_SHA512,
     {0x30, 0x4f, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03,
      0x04, 0x02, 0x03, 0x04, 0x40},
     17},
};

const uint8_t *
sn_digestinfo_prefix(enum sn_digest md, size_t *len)
{
    size_t i;

    *len = 0;
    for (i = 0; i < sizeof(digestinfos) / sizeof(digestinfos[0]); i++) {
        if (digestinfos[i].md == md) {
            *len = digestinfos[i].len;
            return digestinfos[i].prefix;
        }
    }
    return NULL;
}

sn_err
sn_digestinfo_parse(const uint8_t *in, size_t len, enum sn_digest *md,
                    const uint8_t **digest)
{
    size_t i;

    *digest = NULL;
    if (in == NULL)
        return SN_ERR_INVALID;
    for (i = 0; i < sizeof(digestinfos) / sizeof(digestinfos[0]); i++) {
        size_t plen = digestinfos[i].len;
        if (len != plen + sn_digest_len(digestinfos[i].md) ||
            memcmp(in, digestinfos[i].prefix, plen) != 0)
            continue;
        *md = digestinfos[i].md;
        *digest = in + plen;
        return SN_OK;
    }
    return SN_ERR_INVALID;
}
