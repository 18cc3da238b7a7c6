/*
 * gate: the "no record, no signature" hand-off (see gate.h). Its input is
 * our own handlers' responses, not the network's.
 */
#include "http/gate.h"

#include <stdlib.h>

#include "common/log.h"

void
sn_gate_announce(struct sn_store *st)
{
    sn_store_audit_announce(st);
}

void
sn_gate_submit(struct sn_store *st, struct sn_resp *resp, sn_audit_done done,
               void *arg)
{
    if (resp->tsa != NULL) {
        if (sn_store_tsa_submit(st, resp->tsa, 1, done, arg) != SN_OK)
            done(arg, SN_ERR_DB);
    } else if (resp->audit != NULL) {
        if (sn_store_audit_submit(st, resp->audit, resp->naudit, 1, done,
                                  arg) != SN_OK)
            done(arg, SN_ERR_DB);
    } else {
        /* Nothing was signed: the announcement is withdrawn. */
        sn_store_audit_withdraw(st);
        done(arg, SN_OK);
    }
}

sn_err
sn_gate_commit(struct sn_store *st, struct sn_resp *resp)
{
    if (resp->tsa != NULL)
        return sn_store_tsa_add(st, resp->tsa);
    if (resp->audit != NULL)
        return sn_store_audit_add_many(st, resp->audit, resp->naudit);
    return SN_OK;
}

/* The records' log entries, now that they are sequenced (issue 18). */
static void
log_index(struct sn_resp *resp)
{
    json_t *all;
    size_t i;

    if (resp->json != NULL && json_is_object(resp->json)) {
        json_object_set_new(resp->json, "log_index",
                            json_integer((json_int_t)resp->audit[0].log_index));
        if (resp->naudit > 1 && (all = json_array()) != NULL) {
            for (i = 0; i < resp->naudit; i++)
                json_array_append_new(
                    all, json_integer((json_int_t)resp->audit[i].log_index));
            json_object_set_new(resp->json, "log_indexes", all);
        }
    } else
        (void)sn_resp_header(resp, "Signet-Log-Index", "%lld",
                             (long long)resp->audit[0].log_index);
}

void
sn_gate_settle(struct sn_resp *resp, sn_err result, const char *route)
{
    if (resp->audit == NULL && resp->tsa == NULL)
        return;
    if (result == SN_OK && resp->log_field && resp->naudit > 0 &&
        resp->audit[0].log_index >= 0)
        log_index(resp);
    if (result != SN_OK) {
        sn_error("audit: cannot commit %zu record(s) for %s; the answer "
                 "is withheld",
                 resp->naudit + (resp->tsa != NULL), route);
        free(resp->raw);
        resp->raw = NULL;
        sn_resp_error(resp, API_UNAVAILABLE, "%s",
                      resp->audit_fail_message
                          ? resp->audit_fail_message
                          : "the audit log is unavailable");
    }
    free(resp->audit);
    resp->audit = NULL;
    free(resp->tsa);
    resp->tsa = NULL;
}
