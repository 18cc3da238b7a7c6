/*
 * peercert: TLS client certificates (mTLS). Parses the certificate a
 * subscriber registers, the subject rules of a CA registration, and checks
 * a chain a TLS client presented (untrusted DER) against one registration:
 * a pinned leaf by its SHA-256 fingerprint, or a registered CA as the only
 * trust anchor with the subject rules matched. Pure OpenSSL.
 */
#ifndef SN_PEERCERT_H
#define SN_PEERCERT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "common/err.h"

/* A presented chain: at most this many certificates of at most this size. */
#define SN_PEERCERT_MAX_CHAIN 8
#define SN_PEERCERT_MAX_DER 16384
/* Subject rules: how many, and a pattern's length. */
#define SN_PEERCERT_MAX_RULES 8
#define SN_PEERCERT_PATTERN_MAX 128

/*
 * One subject rule: the subject holds exactly one attribute of type nid,
 * whose value equals pattern, or, if pattern ends in '*', begins with what
 * precedes it. Patterns are printable ASCII; '*' only at the end.
 */
struct sn_subject_rule {
    int nid;
    char pattern[SN_PEERCERT_PATTERN_MAX + 1];
};

/* Why a presented certificate does not authenticate (for the caller). */
#define SN_PEERCERT_FAULTS(X)                                                  \
    X(SN_PEERCERT_OK, "ok")                                                    \
    X(SN_PEERCERT_MALFORMED, "client certificate malformed")                   \
    X(SN_PEERCERT_NOT_YET_VALID, "client certificate not yet valid")           \
    X(SN_PEERCERT_EXPIRED, "client certificate expired")                       \
    X(SN_PEERCERT_PURPOSE,                                                     \
      "client certificate not for TLS client authentication (extended key "    \
      "usage)")                                                                \
    X(SN_PEERCERT_UNTRUSTED,                                                   \
      "client certificate chain does not verify to the registered CA")         \
    X(SN_PEERCERT_SUBJECT,                                                     \
      "client certificate subject does not match the registration's rules")

enum sn_peercert_fault {
#define SN_PEERCERT_ENUM(c, m) c,
    SN_PEERCERT_FAULTS(SN_PEERCERT_ENUM)
#undef SN_PEERCERT_ENUM
};

const char *sn_peercert_fault_str(enum sn_peercert_fault f);

/* SHA-256 of len octets as 64 lower-case hex digits and a NUL. */
sn_err sn_peercert_sha256_hex(const uint8_t *p, size_t len, char hex[65]);
/* The SHA-256 (hex) of x's DER encoding: its fingerprint. */
sn_err sn_peercert_fingerprint(X509 *x, char hex[65]);
/* The SHA-256 (hex) of the DER of x's subject (issuer if issuer is set). */
sn_err sn_peercert_name_hash(const X509 *x, int issuer, char hex[65]);

/*
 * Exactly one PEM certificate (untrusted, from a request body), nothing
 * but whitespace around it. *out is the caller's.
 */
sn_err sn_peercert_parse_pem(const char *pem, X509 **out);

/*
 * One rule from an attribute's short name (CN, O, OU, C, L, ST,
 * serialNumber) and a pattern; SN_ERR_INVALID for another name or a
 * pattern of other characters, empty, too long or with an inner '*'.
 */
sn_err sn_peercert_rule_make(const char *attr, const char *pattern,
                             struct sn_subject_rule *out);
/* The stored form, "ATTR=pattern" lines; SN_ERR_LIMIT if out is short. */
sn_err sn_peercert_rules_format(const struct sn_subject_rule *rules, size_t n,
                                char *out, size_t outlen);
/* The stored form back (it is checked as strictly as a new rule). */
sn_err sn_peercert_rules_parse(const char *text, struct sn_subject_rule *rules,
                               size_t *n);
/* The short name of a rule's attribute ("CN"). */
const char *sn_peercert_rule_attr(const struct sn_subject_rule *r);
/* 1 if x's subject matches every rule (n >= 1), else 0. */
int sn_peercert_rules_match(const X509 *x, const struct sn_subject_rule *rules,
                            size_t n);

/*
 * A presented chain (DER, leaf first; the TLS peer's, untrusted) as
 * certificates; *chain is the caller's (sk_X509_pop_free).
 */
sn_err sn_peercert_chain_parse(const uint8_t *const *der, const size_t *len,
                               size_t n, STACK_OF(X509) **chain);

/*
 * A pinned leaf: within its validity at now and, if it has an extended
 * key usage, for clientAuth. The fingerprint is the caller's to compare.
 */
enum sn_peercert_fault sn_peercert_check_leaf(X509 *leaf, time_t now);

/*
 * A chain (leaf first) under a registered CA: it verifies with ca as the
 * only trust anchor (it need not be a root), the other certificates of
 * chain only as intermediates, every certificate valid at now, the leaf's
 * extended key usage (if any) including clientAuth, and the leaf's subject
 * matching the rules.
 */
enum sn_peercert_fault sn_peercert_check_ca(STACK_OF(X509) *chain, X509 *ca,
                                            time_t now,
                                            const struct sn_subject_rule *rules,
                                            size_t nrules);

/* The earliest notAfter of the chain's certificates (0 if unreadable). */
time_t sn_peercert_not_after(STACK_OF(X509) *chain);

#endif
