/*
 * logentry: an audit record's log entry (docs/translog.md). An entry
 * publishes what a relying party or the subscriber needs of the record
 * and commits to all of it by the record's hash; what it shows depends on
 * the kind of event. Called by backends inside the writer's transaction.
 */
#include "store/store_backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/util.h"
#include "translog/entry.h"

enum etype { E_SIGN, E_KEY, E_DESTROY, E_CERT, E_REVOKE, E_RECORD };

static const char *const etype_names[] = {
    [E_SIGN] = "sign", [E_KEY] = "key",       [E_DESTROY] = "destroy",
    [E_CERT] = "cert", [E_REVOKE] = "revoke", [E_RECORD] = "record",
};

static enum etype
etype_of(const struct sn_audit *a)
{
    static const struct {
        const char *action;
        enum etype t;
    } map[] = {
        {"sign", E_SIGN},
        {"sign_file", E_SIGN},
        {"key_generate", E_KEY},
        {"key_destroy", E_DESTROY},
        {"ca_issue", E_CERT},
        {"ca_revoke", E_REVOKE},
        {"ca_revocation_date", E_REVOKE},
    };
    size_t i;

    if (strcmp(a->result, "ok") != 0)
        return E_RECORD;
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(a->action, map[i].action) == 0)
            return map[i].t;
    return E_RECORD;
}

/* "commit:" SHA-256("signet-commit/v1\n" || salt || digest), hex. */
static sn_err
commitment(const char *salt_hex, const char *digest_hex, char *out,
           size_t outlen)
{
    static const char tag[] = "signet-commit/v1\n";
    uint8_t *salt = NULL, *dg = NULL, md[32];
    size_t saltlen = 0, dglen = 0;
    unsigned int mdlen = sizeof(md);
    EVP_MD_CTX *c = NULL;
    sn_err r = SN_ERR_INVALID;

    if (outlen < 7 + 65 || sn_hex_decode(salt_hex, &salt, &saltlen) != SN_OK ||
        saltlen != 32 || sn_hex_decode(digest_hex, &dg, &dglen) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if ((c = EVP_MD_CTX_new()) == NULL ||
        !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(c, tag, sizeof(tag) - 1) ||
        !EVP_DigestUpdate(c, salt, saltlen) ||
        !EVP_DigestUpdate(c, dg, dglen) || !EVP_DigestFinal_ex(c, md, &mdlen))
        goto out;
    memcpy(out, "commit:", 7);
    sn_hex_encode(md, sizeof(md), out + 7);
    r = SN_OK;
out:
    EVP_MD_CTX_free(c);
    free(salt);
    free(dg);
    return r;
}

sn_err
sn_log_entry(const struct sn_audit *a, uint8_t **out, size_t *len)
{
    const char *av[SN_TA_COUNT], *ev[SN_TE_COUNT];
    char id[24], when[SN_TIME_LEN], ahash[65], digest[7 + 65];
    enum etype t = etype_of(a);
    struct sn_buf b;
    sn_err r;

    *out = NULL;
    *len = 0;
    snprintf(id, sizeof(id), "%lld", (long long)a->id);
    sn_time_format(a->time, when);
    memset(av, 0, sizeof(av));
    av[SN_TA_ID] = id;
    av[SN_TA_TIME] = when;
    av[SN_TA_SUBSCRIBER] = a->subscriber;
    av[SN_TA_KEY] = a->key;
    av[SN_TA_TOKEN] = a->token;
    av[SN_TA_CLIENT] = a->client;
    av[SN_TA_ACTION] = a->action;
    av[SN_TA_DIGEST_ALG] = a->digest_alg;
    av[SN_TA_DIGEST] = a->digest;
    av[SN_TA_SCHEME] = a->scheme;
    av[SN_TA_RESULT] = a->result;
    av[SN_TA_DETAIL] = a->detail;
    av[SN_TA_POLICY] = a->policy;
    av[SN_TA_PRINCIPAL] = a->principal;
    av[SN_TA_SIG_SHA256] = a->sig_sha256;
    av[SN_TA_DIGEST_SALT] = a->digest_salt;
    if ((r = sn_tlog_audit_hash(av, ahash)) != SN_OK)
        return r;

    memset(ev, 0, sizeof(ev));
    ev[SN_TE_TYPE] = etype_names[t];
    ev[SN_TE_TIME] = when;
    ev[SN_TE_SUBSCRIBER] = a->subscriber;
    ev[SN_TE_AUDIT_ID] = id;
    ev[SN_TE_AUDIT_SHA256] = ahash;
    if (t != E_RECORD) {
        ev[SN_TE_KEY] = a->key;
        ev[SN_TE_SPKI_SHA256] = a->spki_sha256;
    }
    if (t == E_SIGN) {
        ev[SN_TE_DIGEST_ALG] = a->digest_alg;
        ev[SN_TE_DIGEST] = a->digest;
        if (a->digest_salt[0] != '\0') {
            if ((r = commitment(a->digest_salt, a->digest, digest,
                                sizeof(digest))) != SN_OK)
                return r;
            ev[SN_TE_DIGEST] = digest;
        }
        ev[SN_TE_SCHEME] = a->scheme;
        ev[SN_TE_SIG_SHA256] = a->sig_sha256;
        ev[SN_TE_PRINCIPAL] = a->principal;
    } else if (t != E_RECORD)
        ev[SN_TE_DETAIL] = a->detail;
    sn_buf_init(&b, SN_TLOG_ENTRY_MAX);
    r = sn_tlog_canon(&b, SN_TLOG_ENTRY_HEADER, sn_tlog_entry_names, ev,
                      SN_TE_COUNT);
    if (r == SN_OK)
        sn_buf_take(&b, out, len);
    sn_buf_cleanup(&b);
    return r;
}
