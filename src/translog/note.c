/*
 * note: signed notes (C2SP signed-note) holding checkpoints (C2SP
 * tlog-checkpoint). Parsing is strict and bounded: the whole note is at
 * most SN_TLOG_NOTE_MAX bytes, text only, lines ending in '\n'.
 */
#include "translog/note.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/util.h"

#define DASH "\xe2\x80\x94" /* U+2014, EM DASH */

int
sn_tlog_name_ok(const char *name)
{
    size_t i, n = strlen(name);

    if (n == 0 || n > SN_TLOG_ORIGIN_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (name[i] <= 0x20 || name[i] >= 0x7f || name[i] == '+')
            return 0;
    return 1;
}

void
sn_tlog_key_id(const char *name, const uint8_t pub[SN_ED25519_PUB],
               uint8_t id[4])
{
    uint8_t md[32];
    unsigned int mdlen = sizeof(md);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    static const uint8_t sep[2] = {0x0a, 0x01};

    if (c == NULL || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(c, name, strlen(name)) ||
        !EVP_DigestUpdate(c, sep, sizeof(sep)) ||
        !EVP_DigestUpdate(c, pub, SN_ED25519_PUB) ||
        !EVP_DigestFinal_ex(c, md, &mdlen))
        memset(md, 0, sizeof(md));
    EVP_MD_CTX_free(c);
    memcpy(id, md, 4);
}

sn_err
sn_tlog_vkey_format(const char *name, const uint8_t pub[SN_ED25519_PUB],
                    char **out)
{
    uint8_t raw[1 + SN_ED25519_PUB], id[4];
    char idhex[9], *b64 = NULL;
    size_t n;
    sn_err r;

    *out = NULL;
    if (!sn_tlog_name_ok(name))
        return SN_ERR_INVALID;
    raw[0] = 0x01;
    memcpy(raw + 1, pub, SN_ED25519_PUB);
    sn_tlog_key_id(name, pub, id);
    sn_hex_encode(id, 4, idhex);
    if ((r = sn_b64_encode(raw, sizeof(raw), &b64)) != SN_OK)
        return r;
    n = strlen(name) + 1 + 8 + 1 + strlen(b64) + 1;
    if ((*out = malloc(n)) == NULL)
        r = SN_ERR_NOMEM;
    else
        snprintf(*out, n, "%s+%s+%s", name, idhex, b64);
    free(b64);
    return r;
}

sn_err
sn_tlog_vkey_parse(const char *vkey, char name[SN_TLOG_ORIGIN_MAX + 1],
                   uint8_t pub[SN_ED25519_PUB])
{
    const char *p1 = strchr(vkey, '+'), *p2;
    uint8_t *raw = NULL, *idb = NULL, id[4];
    size_t rawlen = 0, idlen = 0;
    char idhex[9];
    sn_err r = SN_ERR_INVALID;

    if (p1 == NULL || (size_t)(p1 - vkey) > SN_TLOG_ORIGIN_MAX ||
        (p2 = strchr(p1 + 1, '+')) == NULL || p2 - p1 != 9)
        return SN_ERR_INVALID;
    memcpy(name, vkey, (size_t)(p1 - vkey));
    name[p1 - vkey] = '\0';
    memcpy(idhex, p1 + 1, 8);
    idhex[8] = '\0';
    if (!sn_tlog_name_ok(name) || sn_hex_decode(idhex, &idb, &idlen) != SN_OK ||
        idlen != 4 || sn_b64_decode(p2 + 1, &raw, &rawlen) != SN_OK ||
        rawlen != 1 + SN_ED25519_PUB || raw[0] != 0x01)
        goto out;
    memcpy(pub, raw + 1, SN_ED25519_PUB);
    sn_tlog_key_id(name, pub, id);
    if (memcmp(id, idb, 4) == 0)
        r = SN_OK;
out:
    free(raw);
    free(idb);
    return r;
}

sn_err
sn_tlog_checkpoint_body(const char *origin, uint64_t size,
                        const uint8_t root[32], char *out, size_t outlen)
{
    char *b64 = NULL;
    sn_err r;
    int n;

    if (!sn_tlog_name_ok(origin))
        return SN_ERR_INVALID;
    if ((r = sn_b64_encode(root, 32, &b64)) != SN_OK)
        return r;
    n = snprintf(out, outlen, "%s\n%llu\n%s\n", origin,
                 (unsigned long long)size, b64);
    free(b64);
    return n < 0 || (size_t)n >= outlen ? SN_ERR_LIMIT : SN_OK;
}

sn_err
sn_tlog_note_assemble(const char *body, const char *name,
                      const uint8_t pub[SN_ED25519_PUB],
                      const uint8_t sig[SN_ED25519_SIG], char **out)
{
    uint8_t raw[4 + SN_ED25519_SIG];
    char *b64 = NULL;
    size_t n;
    sn_err r;

    *out = NULL;
    sn_tlog_key_id(name, pub, raw);
    memcpy(raw + 4, sig, SN_ED25519_SIG);
    if ((r = sn_b64_encode(raw, sizeof(raw), &b64)) != SN_OK)
        return r;
    n = strlen(body) + 1 + strlen(DASH) + 1 + strlen(name) + 1 + strlen(b64) +
        2;
    if ((*out = malloc(n)) == NULL)
        r = SN_ERR_NOMEM;
    else
        snprintf(*out, n, "%s\n" DASH " %s %s\n", body, name, b64);
    free(b64);
    return r;
}

static int
ed25519_verify(const uint8_t pub[SN_ED25519_PUB], const void *msg, size_t len,
               const uint8_t sig[SN_ED25519_SIG])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
                                              SN_ED25519_PUB);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = 0;

    if (k != NULL && c != NULL &&
        EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1 &&
        EVP_DigestVerify(c, sig, SN_ED25519_SIG, msg, len) == 1)
        ok = 1;
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(k);
    return ok;
}

/* A decimal without sign or leading zeros, below 2^63. */
static int
parse_size(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0 || len > 19 || (s[0] == '0' && len > 1))
        return 0;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v >= (UINT64_C(1) << 63))
        return 0;
    *out = v;
    return 1;
}

sn_err
sn_tlog_checkpoint_open(const char *note, size_t len, const char *vkey,
                        uint64_t *size, uint8_t root[32])
{
    char name[SN_TLOG_ORIGIN_MAX + 1], line[4096];
    uint8_t pub[SN_ED25519_PUB], id[4], *raw = NULL, *rt = NULL;
    const char *p, *end = note + len, *sep, *l1, *l2, *l3, *nl;
    size_t i, rawlen = 0, rtlen = 0, bodylen, nlen;
    int found = 0, verified = 0;
    sn_err r = SN_ERR_INVALID;

    if (sn_tlog_vkey_parse(vkey, name, pub) != SN_OK)
        return SN_ERR_INVALID;
    sn_tlog_key_id(name, pub, id);
    if (len == 0 || len > SN_TLOG_NOTE_MAX || note[len - 1] != '\n')
        return SN_ERR_INVALID;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)note[i];

        if ((c < 0x20 && c != '\n') || c == 0x7f)
            return SN_ERR_INVALID;
    }
    /* The body ends at the first empty line. */
    for (sep = note; sep + 1 < end; sep++)
        if (sep[0] == '\n' && sep[1] == '\n')
            break;
    if (sep + 1 >= end)
        return SN_ERR_INVALID;
    bodylen = (size_t)(sep - note) + 1;
    /* Signature lines: "— <name> <base64>\n"; ours is the one by this
     * name and key id; others are skipped. */
    nlen = strlen(name);
    for (p = sep + 2; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL || (size_t)(nl - p) >= sizeof(line))
            goto out;
        memcpy(line, p, (size_t)(nl - p));
        line[nl - p] = '\0';
        if (strncmp(line, DASH " ", 4) != 0)
            goto out;
        if (strncmp(line + 4, name, nlen) != 0 || line[4 + nlen] != ' ')
            continue;
        free(raw);
        raw = NULL;
        if (sn_b64_decode(line + 4 + nlen + 1, &raw, &rawlen) != SN_OK)
            goto out;
        if (rawlen != 4 + SN_ED25519_SIG || memcmp(raw, id, 4) != 0)
            continue;
        found = 1;
        if (ed25519_verify(pub, note, bodylen, raw + 4))
            verified = 1;
    }
    if (!found || !verified) {
        r = SN_ERR_CRYPTO;
        goto out;
    }
    /* The body: origin, size, root, then extension lines. */
    l1 = note;
    l2 = memchr(l1, '\n', bodylen);
    if (l2 == NULL || (size_t)(l2 - l1) != nlen || memcmp(l1, name, nlen) != 0)
        goto out;
    l2++;
    if ((l3 = memchr(l2, '\n', (size_t)(note + bodylen - l2))) == NULL ||
        !parse_size(l2, (size_t)(l3 - l2), size))
        goto out;
    l3++;
    if ((nl = memchr(l3, '\n', (size_t)(note + bodylen - l3))) == NULL ||
        (size_t)(nl - l3) >= sizeof(line))
        goto out;
    memcpy(line, l3, (size_t)(nl - l3));
    line[nl - l3] = '\0';
    if (sn_b64_decode(line, &rt, &rtlen) != SN_OK || rtlen != 32)
        goto out;
    memcpy(root, rt, 32);
    r = SN_OK;
out:
    free(raw);
    free(rt);
    return r;
}
