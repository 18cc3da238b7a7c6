/*
 * entry: the canonical text of log entries and of audit records
 * (docs/translog.md): a header line, then "name value" lines in a fixed
 * order, values escaped so that each is one printable token. Writing and
 * strict reading, both driven by the same field lists.
 */
#ifndef SN_TLOG_ENTRY_H
#define SN_TLOG_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define SN_TLOG_ENTRY_MAX 65535

#define SN_TLOG_ENTRY_HEADER "signet/entry/v1"
#define SN_TLOG_AUDIT_HEADER "signet/audit/v1"

enum sn_tlog_entry_field {
    SN_TE_TYPE,
    SN_TE_TIME,
    SN_TE_SUBSCRIBER,
    SN_TE_AUDIT_ID,
    SN_TE_AUDIT_SHA256,
    SN_TE_KEY,
    SN_TE_SPKI_SHA256,
    SN_TE_DIGEST_ALG,
    SN_TE_DIGEST,
    SN_TE_SCHEME,
    SN_TE_SIG_SHA256,
    SN_TE_PRINCIPAL,
    SN_TE_DETAIL,
    SN_TE_COUNT
};

enum sn_tlog_audit_field {
    SN_TA_ID,
    SN_TA_TIME,
    SN_TA_SUBSCRIBER,
    SN_TA_KEY,
    SN_TA_TOKEN,
    SN_TA_CLIENT,
    SN_TA_ACTION,
    SN_TA_DIGEST_ALG,
    SN_TA_DIGEST,
    SN_TA_SCHEME,
    SN_TA_RESULT,
    SN_TA_DETAIL,
    SN_TA_POLICY,
    SN_TA_PRINCIPAL,
    SN_TA_SIG_SHA256,
    SN_TA_DIGEST_SALT,
    SN_TA_COUNT
};

extern const char *const sn_tlog_entry_names[SN_TE_COUNT];
extern const char *const sn_tlog_audit_names[SN_TA_COUNT];

/*
 * Writes header and the n fields (NULL or "" is "-") into out (which the
 * caller initialised with its maximum). SN_ERR_LIMIT past it.
 */
sn_err sn_tlog_canon(struct sn_buf *out, const char *header,
                     const char *const *names, const char *const *values,
                     size_t n);
/* The entry type of an audit record: sign, key, destroy, cert, revoke
 * (for those actions done, result "ok"), else record. */
const char *sn_tlog_entry_type(const char *action, const char *result);
/* "commit:" and the hex of SHA-256("signet-commit/v1\n" || salt ||
 * digest), from the hex salt (32 bytes) and digest; out holds 72 bytes. */
sn_err sn_tlog_commitment(const char *salt_hex, const char *digest_hex,
                          char out[72]);

/* SHA-256 of the canonical audit record, as lower-case hex. */
sn_err sn_tlog_audit_hash(const char *const values[SN_TA_COUNT],
                          char hex[2 * 32 + 1]);

/*
 * Reads an entry strictly: the header, then exactly the n named fields in
 * order, nothing after. values[i] (malloc'd, unescaped, "" for "-") are
 * the caller's to free with sn_tlog_values_free.
 */
sn_err sn_tlog_parse(const uint8_t *data, size_t len, const char *header,
                     const char *const *names, size_t n, char **values);
void sn_tlog_values_free(char **values, size_t n);

#endif
