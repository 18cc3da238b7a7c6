/*
 * gate: "no record, no signature". A response that carries audit records
 * (or a time-stamp token's record) leaves only once those records are
 * durable; if they cannot be committed, the answer is withheld and replaced
 * by 503. The records are made by our own handlers (trusted); the gate
 * knows nothing of MHD: the server suspends the connection and the gate
 * calls back when it may be resumed.
 */
#ifndef SN_GATE_H
#define SN_GATE_H

#include "http/api.h"
#include "store/store.h"

/*
 * A signer's request, before its handler runs: records are on their way,
 * so the group commit may wait for them. Settled by exactly one
 * sn_gate_submit.
 */
void sn_gate_announce(struct sn_store *st);

/*
 * A signer's request, after its handler: hands resp's records to the group
 * commit without waiting for the disk. done(arg, result) runs once they are
 * durable or have failed, on the writer's thread or here (no records, or a
 * failed submission). After done the caller may free resp.
 */
void sn_gate_submit(struct sn_store *st, struct sn_resp *resp,
                    sn_audit_done done, void *arg);

/* A worker's request: commits resp's records now. SN_OK if there are none. */
sn_err sn_gate_commit(struct sn_store *st, struct sn_resp *resp);

/*
 * Before the answer leaves: if resp carries records and result (of
 * sn_gate_submit or sn_gate_commit) is not SN_OK, the answer is replaced
 * by 503. The records are freed either way. route names the request in
 * the log.
 */
void sn_gate_settle(struct sn_resp *resp, sn_err result, const char *route);

#endif
