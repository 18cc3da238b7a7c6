/*
 * report: the front of the reports of Suspect Code and key compromise
 * (issue 18, store.h): names of kinds, states and evidence, the limits
 * every backend is held to, and dispatch. Callers are the policy layer.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"

static const char *const kind_names[] = {"suspect_code", "key_compromise"};
static const char *const state_names[] = {"received", "confirmed", "rejected"};
static const char *const evidence_names[] = {"pkcs7", "signature", "digest"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static sn_err
from_name(const char *const *names, size_t n, const char *name, int *out)
{
    size_t i;

    for (i = 0; name != NULL && i < n; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (int)i;
            return SN_OK;
        }
    return SN_ERR_INVALID;
}

const char *
sn_report_kind_name(enum sn_report_kind k)
{
    return (unsigned)k < COUNT(kind_names) ? kind_names[k] : "unknown";
}

const char *
sn_report_state_name(enum sn_report_state s)
{
    return (unsigned)s < COUNT(state_names) ? state_names[s] : "unknown";
}

const char *
sn_report_evidence_name(enum sn_report_evidence e)
{
    return (unsigned)e < COUNT(evidence_names) ? evidence_names[e] : "unknown";
}

sn_err
sn_report_kind_from_name(const char *name, enum sn_report_kind *out)
{
    int v;
    sn_err r = from_name(kind_names, COUNT(kind_names), name, &v);

    if (r == SN_OK)
        *out = (enum sn_report_kind)v;
    return r;
}

sn_err
sn_report_state_from_name(const char *name, enum sn_report_state *out)
{
    int v;
    sn_err r = from_name(state_names, COUNT(state_names), name, &v);

    if (r == SN_OK)
        *out = (enum sn_report_state)v;
    return r;
}

sn_err
sn_report_evidence_from_name(const char *name, enum sn_report_evidence *out)
{
    int v;
    sn_err r = from_name(evidence_names, COUNT(evidence_names), name, &v);

    if (r == SN_OK)
        *out = (enum sn_report_evidence)v;
    return r;
}

void
sn_report_cleanup(struct sn_report *r)
{
    if (r == NULL)
        return;
    free(r->evidence);
    free(r->events);
    free(r->keys);
    memset(r, 0, sizeof(*r));
}

void
sn_report_list_free(struct sn_report *r, size_t n)
{
    size_t i;

    for (i = 0; r != NULL && i < n; i++)
        sn_report_cleanup(&r[i]);
    free(r);
}

sn_err
sn_store_report_add(struct sn_store *st, const struct sn_report *r, char *dup)
{
    if (dup != NULL)
        dup[0] = '\0';
    if (r->nevents > SN_REPORT_MAX_EVENTS ||
        r->evidence_len > SN_REPORT_EVIDENCE_MAX || r->evidence == NULL ||
        r->evidence_len == 0)
        return SN_ERR_INVALID;
    /* A report is a row with up to 64 KiB of evidence: refused, like the
     * other writes that add rows, when the disk is nearly full. */
    if (sn_store_space(st) == SN_SPACE_CRITICAL)
        return SN_ERR_DB;
    return st->ops->report_add(st->be, r, dup);
}

sn_err
sn_store_report_get(struct sn_store *st, const char *id, struct sn_report *out)
{
    memset(out, 0, sizeof(*out));
    return st->ops->report_get(st->be, id, out);
}

sn_err
sn_store_report_list(struct sn_store *st, const char *subscriber,
                     time_t overdue_now, size_t limit, struct sn_report **out,
                     size_t *n)
{
    *out = NULL;
    *n = 0;
    if (limit == 0 || limit > 1000)
        return SN_ERR_INVALID;
    return st->ops->report_list(st->be, subscriber, overdue_now, limit, out, n);
}

sn_err
sn_store_report_ack(struct sn_store *st, const char *id, time_t now,
                    const char *token)
{
    return st->ops->report_ack(st->be, id, now, token);
}

sn_err
sn_store_report_decide(struct sn_store *st, const char *id,
                       enum sn_report_state to, time_t now, const char *token,
                       const char *decision, const struct sn_report_key *keys,
                       size_t nkeys, time_t ca_informed)
{
    if (to == SN_REPORT_RECEIVED || nkeys > SN_REPORT_MAX_KEYS ||
        (nkeys > 0 && keys == NULL))
        return SN_ERR_INVALID;
    return st->ops->report_decide(st->be, id, to, now, token,
                                  decision != NULL ? decision : "", keys, nkeys,
                                  ca_informed);
}

sn_err
sn_store_report_notices_due(struct sn_store *st, time_t now, size_t max,
                            struct sn_report **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (max == 0 || max > 1000)
        return SN_ERR_INVALID;
    return st->ops->report_notices_due(st->be, now, max, out, n);
}

sn_err
sn_store_report_notice_result(struct sn_store *st, const char *id,
                              const char *key, int ok, time_t now,
                              time_t next_attempt, const char *result)
{
    return st->ops->report_notice_result(st->be, id, key, ok, now, next_attempt,
                                         result != NULL ? result : "");
}

sn_err
sn_store_report_overdue(struct sn_store *st, time_t now,
                        struct sn_report_overdue *out)
{
    memset(out, 0, sizeof(*out));
    return st->ops->report_overdue(st->be, now, out);
}

sn_err
sn_store_sign_events_match(struct sn_store *st, const char (*sigs)[2 * 32 + 1],
                           size_t nsigs, const char *digest_alg,
                           const char *digest_hex, int first_per_key,
                           size_t limit, struct sn_audit **out, size_t *n,
                           size_t *total)
{
    *out = NULL;
    *n = 0;
    *total = 0;
    if (limit == 0 || limit > 1000 || nsigs > 64 ||
        (nsigs == 0 && (digest_hex == NULL || digest_alg == NULL)))
        return SN_ERR_INVALID;
    return st->ops->sign_events_match(st->be, sigs, nsigs, digest_alg,
                                      digest_hex, first_per_key, limit, out, n,
                                      total);
}

sn_err
sn_store_sign_events_since(struct sn_store *st, const char *key, time_t since,
                           size_t limit, struct sn_audit **out, size_t *n,
                           size_t *total)
{
    *out = NULL;
    *n = 0;
    *total = 0;
    if (limit == 0 || limit > 1000)
        return SN_ERR_INVALID;
    return st->ops->sign_events_since(st->be, key, since, limit, out, n, total);
}
