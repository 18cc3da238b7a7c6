/*
 * apitoken: creation and checking of bearer tokens. Presented tokens are
 * untrusted: their length and alphabet are checked before anything else.
 */
#include "crypto/apitoken.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/util.h"

#define PREFIX "sn_"
#define SECRET_BYTES 32
#define SECRET_CHARS 43 /* base64url of 32 bytes, unpadded */

/*
 * Every request hashes its bearer token. EVP_sha256() would make OpenSSL 3
 * look the implementation up in its provider store on each call; it is
 * fetched once instead, and kept for the life of the process.
 */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
fetch_sha256(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static sn_err
hash_secret(const char *secret, size_t len, uint8_t hash[SN_TOKEN_HASH_LEN])
{
    unsigned int n = 0;

    /* Should the fetch have failed, the implicit lookup still works. */
    if (pthread_once(&sha256_once, fetch_sha256) != 0 ||
        EVP_Digest(secret, len, hash, &n,
                   sha256 != NULL ? sha256 : EVP_sha256(), NULL) != 1 ||
        n != SN_TOKEN_HASH_LEN)
        return SN_ERR_CRYPTO;
    return SN_OK;
}

sn_err
sn_apitoken_new(const char *id, char **token, uint8_t hash[SN_TOKEN_HASH_LEN])
{
    uint8_t raw[SECRET_BYTES];
    char secret[SECRET_CHARS + 1];
    size_t idlen = strlen(id), len;
    char *t = NULL;
    sn_err r;

    *token = NULL;
    if (idlen != SN_UUID_LEN - 1)
        return SN_ERR_INVALID;
    if ((r = sn_random(raw, sizeof(raw))) != SN_OK)
        goto out;
    sn_b64url_encode(raw, sizeof(raw), secret);
    if ((r = hash_secret(secret, SECRET_CHARS, hash)) != SN_OK)
        goto out;
    len = strlen(PREFIX) + idlen + 1 + SECRET_CHARS + 1;
    if ((t = malloc(len)) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    memcpy(t, PREFIX, strlen(PREFIX));
    memcpy(t + strlen(PREFIX), id, idlen);
    t[strlen(PREFIX) + idlen] = '_';
    memcpy(t + strlen(PREFIX) + idlen + 1, secret, SECRET_CHARS + 1);
    *token = t;
    r = SN_OK;
out:
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(secret, sizeof(secret));
    return r;
}

sn_err
sn_apitoken_parse(const char *token, char id[SN_UUID_LEN],
                  uint8_t hash[SN_TOKEN_HASH_LEN])
{
    size_t plen = strlen(PREFIX), i;
    size_t len = strnlen(token, SN_TOKEN_MAX_LEN + 1);
    const char *secret;

    if (len != plen + SN_UUID_LEN - 1 + 1 + SECRET_CHARS ||
        strncmp(token, PREFIX, plen) != 0 ||
        token[plen + SN_UUID_LEN - 1] != '_')
        return SN_ERR_INVALID;
    for (i = 0; i < SN_UUID_LEN - 1; i++) {
        char c = token[plen + i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'))
            return SN_ERR_INVALID;
    }
    secret = token + plen + SN_UUID_LEN;
    for (i = 0; i < SECRET_CHARS; i++) {
        char c = secret[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
            return SN_ERR_INVALID;
    }
    memcpy(id, token + plen, SN_UUID_LEN - 1);
    id[SN_UUID_LEN - 1] = '\0';
    return hash_secret(secret, SECRET_CHARS, hash);
}

int
sn_apitoken_hash_equal(const uint8_t a[SN_TOKEN_HASH_LEN],
                       const uint8_t b[SN_TOKEN_HASH_LEN])
{
    return CRYPTO_memcmp(a, b, SN_TOKEN_HASH_LEN) == 0;
}
