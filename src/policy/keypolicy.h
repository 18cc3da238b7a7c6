/*
 * keypolicy: a key's (or a subscriber's default) signing policy: which
 * principals may sign, from which source addresses, in which time
 * windows, how often, whether a static bearer token alone may sign, and
 * (a key's own policy) whose approval a signature waits for.
 * The JSON of PUT /v1/keys/{id}/policy is untrusted: parsed strictly into
 * a typed struct here (unknown fields, wrong types, empty lists, host
 * bits in a range are refused, naming the field). The decision over a
 * parsed policy is pure: no store, no clock of its own, no I/O.
 */
#ifndef SN_KEYPOLICY_H
#define SN_KEYPOLICY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "auth/principal.h"
#include "common/err.h"
#include "policy/policy.h"

#define SN_KP_MAX_IDS 32     /* per principals list */
#define SN_KP_MAX_CIDRS 32   /* source_cidrs */
#define SN_KP_MAX_WINDOWS 16 /* windows */
#define SN_KP_MAX_QUOTA 10000000u
/* approvals (issue 17): at most this many approvals required; the time a
 * request waits for them, in seconds */
#define SN_KP_MAX_REQUIRED 16
#define SN_KP_APPROVAL_TTL_MIN 60
#define SN_KP_APPROVAL_TTL_MAX 604800
#define SN_KP_APPROVAL_TTL_DEFAULT 86400

/* An address range; IPv4 is kept as IPv4-mapped IPv6 (::ffff:a.b.c.d),
 * its prefix length plus 96, so a v4 client seen as ::ffff:a.b.c.d on a
 * dual-stack socket matches the same rule. */
struct sn_cidr {
    uint8_t addr[16];
    unsigned bits; /* 0..128 */
};

/* A weekly window in UTC: days (bit 0 Sunday .. bit 6 Saturday, as
 * struct tm's tm_wday) and minutes of the day [from, to). */
struct sn_window {
    unsigned days;
    unsigned from, to; /* 0..1440, from < to */
};

/*
 * k-of-n approval of signing (issue 17): a signing request with the key
 * waits until `required` distinct accounts of `approvers` approve it, or
 * one denies it, or expires_in seconds pass. required 0: no approval.
 */
struct sn_kp_approvals {
    unsigned required; /* 1..SN_KP_MAX_REQUIRED, <= napprovers */
    char approvers[SN_KP_MAX_IDS][SN_UUID_LEN]; /* account ids, unique */
    size_t napprovers;
    unsigned expires_in; /* seconds */
};

struct sn_keypolicy {
    /* principals: absent = any of the subscriber's principals */
    int has_principals;
    char tokens[SN_KP_MAX_IDS][SN_UUID_LEN];
    size_t ntokens;
    char trust_policies[SN_KP_MAX_IDS][SN_UUID_LEN];
    size_t ntrust_policies;
    char client_certs[SN_KP_MAX_IDS][SN_UUID_LEN];
    size_t nclient_certs;
    char accounts[SN_KP_MAX_IDS][SN_UUID_LEN]; /* people's sessions */
    size_t naccounts;
    struct sn_cidr cidrs[SN_KP_MAX_CIDRS]; /* none: any address */
    size_t ncidrs;
    struct sn_window windows[SN_KP_MAX_WINDOWS]; /* none: any time */
    size_t nwindows;
    uint64_t per_hour, per_day;       /* 0: no quota */
    int strong;                       /* require_strong_auth: -1 absent, 0, 1 */
    struct sn_kp_approvals approvals; /* a key's own policy only */
    /* issue 18: log_digests "commitment": the log shows a salted
     * commitment to each signed digest rather than the digest */
    int commit_digests;
};

/* The rule that decided (the audit record's and the answer's name). */
#define SN_KP_RULES(X)                                                         \
    X(SN_KP_ALLOWED, "allowed")                                                \
    X(SN_KP_PRINCIPALS, "principals")                                          \
    X(SN_KP_STRONG_AUTH, "require_strong_auth")                                \
    X(SN_KP_SOURCE, "source_cidrs")                                            \
    X(SN_KP_WINDOW, "windows")                                                 \
    X(SN_KP_QUOTA_HOUR, "quota.per_hour")                                      \
    X(SN_KP_QUOTA_DAY, "quota.per_day")

enum sn_kp_rule {
#define SN_KP_ENUM(c, n) c,
    SN_KP_RULES(SN_KP_ENUM)
#undef SN_KP_ENUM
};

const char *sn_kp_rule_name(enum sn_kp_rule r);

/*
 * Parses a policy body (untrusted). key_level: principals and approvals
 * are allowed (a key's policy); otherwise it is a subscriber's default,
 * which has neither. On error *out is zeroed and why names the field and the
 * fault.
 */
sn_err sn_keypolicy_parse(json_t *j, int key_level, struct sn_keypolicy *out,
                          char *why, size_t whylen);
/* The same from text (the stored form; the fuzz driver). */
sn_err sn_keypolicy_parse_text(const char *text, size_t len, int key_level,
                               struct sn_keypolicy *out, char *why,
                               size_t whylen);
/* The canonical JSON of a policy (what GET answers and the store keeps). */
json_t *sn_keypolicy_json(const struct sn_keypolicy *kp);

/* "10.0.0.0/8", "::1/128": strict (prefix required, no host bits). */
sn_err sn_cidr_parse(const char *s, struct sn_cidr *out);
/* A numeric client address (IPv4, IPv6, IPv4-mapped) in the range? 0 for
 * an address that does not parse. */
int sn_cidr_match(const struct sn_cidr *c, const char *addr);
/* The range in canonical text (buf of at least 64 bytes). */
void sn_cidr_format(const struct sn_cidr *c, char *buf, size_t len);

/* Is t (UTC) inside the window? */
int sn_window_match(const struct sn_window *w, time_t t);

struct sn_kp_verdict {
    enum sn_verdict verdict;
    enum sn_kp_rule rule;
    char message[200]; /* what the caller is told */
};

/*
 * Decides whether p, calling from client at now, may sign under kp (NULL:
 * no policy). strong_default: the instance default for a policy without
 * require_strong_auth (and for no policy). Rules in order: principals,
 * require_strong_auth, source_cidrs, windows. Quotas are counted by the
 * caller (policy/quota.h) after an allow; approvals are the caller's too
 * (an allowed request of a key whose policy requires them waits for
 * them, see http/h_signreq.c).
 */
enum sn_verdict sn_keypolicy_decide(const struct sn_keypolicy *kp,
                                    int strong_default,
                                    const struct sn_principal *p,
                                    const char *client, time_t now,
                                    struct sn_kp_verdict *v);

#endif
