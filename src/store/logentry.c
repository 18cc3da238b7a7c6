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

#include "common/util.h"
#include "translog/entry.h"

sn_err
sn_log_entry(const struct sn_audit *a, uint8_t **out, size_t *len)
{
    const char *av[SN_TA_COUNT], *ev[SN_TE_COUNT];
    char id[24], when[SN_TIME_LEN], ahash[65], digest[7 + 65];
    const char *type = sn_tlog_entry_type(a->action, a->result);
    int sign = strcmp(type, "sign") == 0, record = strcmp(type, "record") == 0;
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
    ev[SN_TE_TYPE] = type;
    ev[SN_TE_TIME] = when;
    ev[SN_TE_SUBSCRIBER] = a->subscriber;
    ev[SN_TE_AUDIT_ID] = id;
    ev[SN_TE_AUDIT_SHA256] = ahash;
    if (!record) {
        ev[SN_TE_KEY] = a->key;
        ev[SN_TE_SPKI_SHA256] = a->spki_sha256;
    }
    if (sign) {
        ev[SN_TE_DIGEST_ALG] = a->digest_alg;
        ev[SN_TE_DIGEST] = a->digest;
        if (a->digest_salt[0] != '\0') {
            if ((r = sn_tlog_commitment(a->digest_salt, a->digest, digest)) !=
                SN_OK)
                return r;
            ev[SN_TE_DIGEST] = digest;
        }
        ev[SN_TE_SCHEME] = a->scheme;
        ev[SN_TE_SIG_SHA256] = a->sig_sha256;
        ev[SN_TE_PRINCIPAL] = a->principal;
    } else if (!record)
        ev[SN_TE_DETAIL] = a->detail;
    sn_buf_init(&b, SN_TLOG_ENTRY_MAX);
    r = sn_tlog_canon(&b, SN_TLOG_ENTRY_HEADER, sn_tlog_entry_names, ev,
                      SN_TE_COUNT);
    if (r == SN_OK)
        sn_buf_take(&b, out, len);
    sn_buf_cleanup(&b);
    return r;
}

sn_err
sn_log_entry_append(const struct sn_audit *a, struct sn_logseq *ls,
                    const struct sn_logseq_sink *sink)
{
    uint8_t *entry = NULL;
    size_t len = 0;
    sn_err r;

    if (!ls->on)
        return SN_OK;
    if ((r = sn_log_entry(a, &entry, &len)) == SN_OK)
        r = sn_logseq_add(ls, entry, len, sink);
    free(entry);
    return r;
}
