/*
 * pgops: the PostgreSQL backend's ops table (store_backend.h), each op
 * defined in one of pg.c's sibling files (pg_ops.h).
 */
#include "store/postgres/pg_int.h"

static sn_err
store_open(const char *path, void **out)
{
    struct pg_store *st = NULL;
    sn_err r = sn_pg_open(path, &st);

    *out = st;
    return r;
}

static void
store_close(void *be)
{
    sn_pg_close(be);
}

static sn_err
ping(void *be)
{
    PGresult *res = NULL;
    sn_err r = sn_pg_query(be, "SELECT count(*) FROM subscribers", NULL, &res);

    PQclear(res);
    return r;
}

#define OP(name) .name = sn_pg_##name

const struct sn_store_ops sn_store_postgres_ops = {
    .name = "postgresql",
    .open = store_open,
    .close = store_close,
    .ping = ping,
    OP(subscriber_add),
    OP(subscriber_get),
    OP(subscriber_by_name),
    OP(subscriber_list),
    OP(token_add),
    OP(token_get),
    OP(token_revoke),
    OP(token_touch),
    OP(session_add),
    OP(account_add),
    OP(account_get),
    OP(account_by_name),
    OP(account_list),
    OP(account_totp_pending),
    OP(account_totp_clear),
    OP(account_totp_confirm),
    OP(account_totp_step),
    OP(account_login),
    OP(account_set_password),
    OP(account_disable),
    OP(recovery_set),
    OP(recovery_use),
    OP(clientcert_add),
    OP(clientcert_get),
    OP(clientcert_list),
    OP(clientcert_find),
    OP(clientcert_delete),
    OP(key_add),
    OP(key_get),
    OP(key_list),
    OP(key_transition),
    OP(key_set_cert),
    OP(audit_write),
    OP(audit_list),
    OP(identity_set),
    OP(identity_get),
    OP(cert_add),
    OP(cert_get),
    OP(cert_latest),
    OP(pin_put),
    OP(pin_get),
    OP(cert_revoke),
    OP(cert_compromise),
    OP(cert_by_spki),
    OP(cert_unindexed),
    OP(cert_set_spki),
    OP(cert_revoked),
    OP(key_compromised),
    OP(crl_get),
    OP(crl_put),
    OP(counter_next),
    OP(usage),
    OP(policy_set),
    OP(policy_get),
    OP(policy_delete),
    OP(sign_count),
    OP(oidc_issuer_add),
    OP(oidc_issuer_list),
    OP(oidc_issuer_delete),
    OP(trust_policy_add),
    OP(trust_policy_list),
    OP(trust_policy_delete),
    OP(oidc_jti_use),
    OP(sign_request_add),
    OP(sign_request_get),
    OP(sign_request_list),
    OP(sign_request_vote),
    OP(sign_request_move),
    OP(sign_request_sweep),
    OP(report_add),
    OP(report_get),
    OP(report_list),
    OP(report_ack),
    OP(report_decide),
    OP(report_notices_due),
    OP(report_notice_result),
    OP(report_overdue),
    OP(sign_events_match),
    OP(sign_events_since),
    OP(audit_tally),
    OP(log_size),
    OP(log_hashes),
    OP(log_entries),
    OP(log_checkpoint_put),
    OP(log_checkpoint_latest),
    OP(log_leader),
    OP(watch),
    OP(write_probe),
    OP(tsa_compact),
};
