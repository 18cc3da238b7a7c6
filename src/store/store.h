/*
 * store: Signet's durable state: subscribers, API tokens (hashes only),
 * key records, certificates, CRLs and the audit log. Every write is a
 * committed, durable transaction before the call returns, so an audit
 * record reported as written survives a crash.
 *
 * The calls dispatch to a backend (store/store_backend.h), chosen by the path
 * given to sn_store_open: "sqlite:FILE" or a plain FILE is SQLite
 * (src/store/sqlite/). Tokens and key briefs are cached in memory and the
 * cache is dropped only by this process's own writes: every backend today
 * has one signetd per database; a backend shared by several nodes must
 * first tell each node of the others' changes (see store_backend.h).
 */
#ifndef SN_STORE_H
#define SN_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/keyalg.h"
#include "common/keyinfo.h"
#include "common/util.h"
#include "crypto/apitoken.h"

struct sn_store;

#define SN_NAME_MAX 64

struct sn_subscriber {
    char id[SN_UUID_LEN];
    char name[SN_NAME_MAX + 1];
    char token_label[33]; /* the subscriber's HSM token (partition) */
    time_t created_at;
};

/*
 * Roles. A subscriber's credentials: manage, sign, and (issue 17, a
 * person's account) approve other people's signing requests. An operator
 * account's (admin) are SN_OROLE_*: identity vetting, the CA and TSA,
 * revocation, subscriber administration (subscribers, their credentials,
 * accounts and policies).
 */
enum sn_role {
    SN_ROLE_MANAGE = 1,
    SN_ROLE_SIGN = 2,
    SN_ROLE_APPROVE = 4,
    SN_OROLE_IDENTITY = 0x100,
    SN_OROLE_CA = 0x200,
    SN_OROLE_REVOCATION = 0x400,
    SN_OROLE_SUBSCRIBERS = 0x800
};
#define SN_SUB_ROLES (SN_ROLE_MANAGE | SN_ROLE_SIGN | SN_ROLE_APPROVE)
#define SN_OP_ROLES                                                            \
    (SN_OROLE_IDENTITY | SN_OROLE_CA | SN_OROLE_REVOCATION |                   \
     SN_OROLE_SUBSCRIBERS)

#define SN_TOKEN_MAX_KEYS 64
/* Room for a principal's proof text (auth/principal.h SN_PROOF_MAX). */
#define SN_AUDIT_PROOF_MAX 512

struct sn_token {
    char id[SN_UUID_LEN];
    char subscriber[SN_UUID_LEN]; /* "" for admin tokens */
    int admin;
    char name[SN_NAME_MAX + 1];
    uint8_t hash[SN_TOKEN_HASH_LEN];
    unsigned roles;                            /* enum sn_role bits */
    char keys[SN_TOKEN_MAX_KEYS][SN_UUID_LEN]; /* scope; none = all keys */
    size_t nkeys;
    time_t expires_at; /* 0: never */
    time_t created_at;
    time_t revoked_at; /* 0: active */
    /*
     * How the holder proved who they were when the token was minted
     * (issue 16): 0 a static token; else enum sn_auth_method
     * (auth/principal.h), with the trust policy (via) and what the proof
     * said (proof), carried into the principal of each request it
     * authenticates and so into its audit records.
     */
    int auth_method;
    char via[SN_UUID_LEN];
    char proof[SN_AUDIT_PROOF_MAX];
    /*
     * A login session (issue 17, auth_method SN_AUTH_SESSION, via the
     * account): whether it proved a second factor, and its idle limit:
     * it expires idle_timeout seconds after last_used (0: no idle limit).
     */
    int mfa;
    unsigned idle_timeout;
    time_t last_used;
};

enum sn_key_state { SN_KEY_ENABLED, SN_KEY_DISABLED, SN_KEY_DESTROYED };

struct sn_key {
    char id[SN_UUID_LEN];
    char subscriber[SN_UUID_LEN];
    char label[SN_NAME_MAX + 1];
    enum sn_keyalg alg;
    enum sn_key_state state;
    time_t created_at;
    uint8_t *spki; /* SubjectPublicKeyInfo DER, owned */
    size_t spki_len;
    struct sn_key_facts facts;
    struct sn_hsm_info hsm;
    char *cert_pem; /* attached chain or NULL, owned */
    char *att_pem;  /* attestation certificate or NULL, owned */
    /* SHA-256 of spki (hex), also in the brief view (the log's entries) */
    char spki_sha256[2 * 32 + 1];
};

/* "oidc policy=<id> " or "mtls registration=<id> " and a proof, or a token
 * id (auth.h sn_audit_principal) */
#define SN_AUDIT_PRINCIPAL_MAX (SN_AUDIT_PROOF_MAX + 64)

struct sn_audit {
    int64_t id; /* assigned on append */
    time_t time;
    char subscriber[SN_UUID_LEN];
    char key[SN_UUID_LEN];
    char token[SN_UUID_LEN];
    char client[64];
    char action[32];
    char digest_alg[16];
    char digest[2 * 64 + 1]; /* hex */
    char scheme[16];
    char result[16];
    char detail[256];
    /* issue 16: the signing policy's decision ("allow key", "deny
     * subscriber source_cidrs", ...; "" where no policy was asked) and
     * who signed: the token id for a static token, else what the proof
     * said (sn_audit_principal: OIDC issuer, subject and bound claims with
     * the trust policy; mTLS registration and fingerprint). */
    char policy[64];
    char principal[SN_AUDIT_PRINCIPAL_MAX];
    /* issue 17: made by an operator's credential. Not stored: such a
     * record about a subscriber is written to its log and, as a copy,
     * to the operators' (subscriber ""), read by GET /v1/admin/audit. */
    int operator_;
    /* issue 18: a signature's SHA-256 (hex) and its key's SPKI's; in
     * commitment mode (docs/translog.md) the digest's salt (hex); the
     * record's log entry, set by the writer (-1: the log is off). */
    char sig_sha256[2 * 32 + 1];
    char spki_sha256[2 * 32 + 1];
    char digest_salt[2 * 32 + 1];
    int64_t log_index;
};

const char *sn_key_state_name(enum sn_key_state s);

/* path: "sqlite:FILE" or FILE, or a PostgreSQL URI ("postgresql://...",
 * docs/scaling.md); sn_store_open_at also names the home, where a
 * server's database keeps the log's anchor (a file's sits beside it). */
sn_err sn_store_open(const char *path, struct sn_store **out);
sn_err sn_store_open_at(const char *path, const char *home,
                        struct sn_store **out);
void sn_store_close(struct sn_store *st);
/*
 * signetd migrate: the SQLite database `from` (its log checked, with the
 * home's anchor) copied into the empty PostgreSQL database `to`, table by
 * table in one transaction, and opened again as a store whose log must
 * hold. SN_ERR_EXISTS if `to` holds data already, SN_ERR_STATE if either
 * log does not hold, SN_ERR_INVALID unless from is SQLite and to a URI.
 */
#define SN_MIGRATE_TABLES 25
struct sn_migrate_report {
    uint64_t rows[SN_MIGRATE_TABLES]; /* by sn_migrate_table(i) */
    uint64_t total;
};
sn_err sn_store_migrate(const char *from, const char *to, const char *home,
                        struct sn_migrate_report *rep);
const char *sn_migrate_table(size_t i);

/* A database shared by several nodes (PostgreSQL): 1. The other nodes'
 * changes to cached rows are heard at once: the store drops its own caches,
 * then calls changed(arg, table) from a thread of its own, with the table's
 * name (tokens, accounts, keys, subscribers, signing_policies,
 * client_certs, oidc_issuers, trust_policies, certificates, crls) or "*"
 * (anything: the link to the database was lost meanwhile). Replacing the
 * callback (NULL: none) waits for a call in progress. */
int sn_store_shared(const struct sn_store *st);
void sn_store_watch(struct sn_store *st,
                    void (*changed)(void *arg, const char *table), void *arg);
sn_err sn_store_ping(struct sn_store *st);

sn_err sn_store_subscriber_add(struct sn_store *st,
                               const struct sn_subscriber *s);
sn_err sn_store_subscriber_get(struct sn_store *st, const char *id,
                               struct sn_subscriber *out);
sn_err sn_store_subscriber_by_name(struct sn_store *st, const char *name,
                                   struct sn_subscriber *out);
/* *out is a malloc'd array of *n subscribers, oldest first. */
sn_err sn_store_subscriber_list(struct sn_store *st, struct sn_subscriber **out,
                                size_t *n);

sn_err sn_store_token_add(struct sn_store *st, const struct sn_token *t);
sn_err sn_store_token_get(struct sn_store *st, const char *id,
                          struct sn_token *out);
sn_err sn_store_token_revoke(struct sn_store *st, const char *id, time_t when);

/*
 * A login session's use (issue 17): moves its last_used to now, and its
 * account's last use, when the stored one is a minute old or more (so a
 * busy session writes once a minute).
 */
sn_err sn_store_token_touch(struct sn_store *st, const struct sn_token *t,
                            time_t now);
/* A login session (t->via: the account): added only while the account is
 * active (SN_ERR_STATE otherwise), so a session cannot outlive a disable
 * that raced its login. */
sn_err sn_store_session_add(struct sn_store *st, const struct sn_token *t);

/*
 * People (issue 17): an operator's account (operator set, no subscriber)
 * or a subscriber's user. A password's argon2id hash (its encoded string)
 * and the TOTP secret sealed by the service token's wrapping key; neither
 * is ever returned by the API.
 */
#define SN_PWHASH_MAX 160
#define SN_TOTP_SEALED_MAX 128
/* NONE: no factor; PENDING: a first secret awaits its confirmation;
 * ACTIVE: a confirmed secret (a new one may be pending beside it). */
enum sn_totp_state { SN_TOTP_NONE, SN_TOTP_PENDING, SN_TOTP_ACTIVE };

struct sn_account {
    char id[SN_UUID_LEN];
    char name[SN_NAME_MAX + 1];
    int operator_;                /* an operator's account */
    char subscriber[SN_UUID_LEN]; /* "" for an operator */
    unsigned roles;               /* enum sn_role bits */
    char pw_hash[SN_PWHASH_MAX + 1];
    uint8_t totp_sealed[SN_TOTP_SEALED_MAX]; /* the confirmed secret */
    size_t totp_sealed_len;
    /* an enrolment awaiting its code: the confirmed secret, if any, stays
     * in force until then */
    uint8_t totp_pending[SN_TOTP_SEALED_MAX];
    size_t totp_pending_len;
    enum sn_totp_state totp_state;
    int64_t totp_last_step; /* the last accepted code's time step */
    unsigned failures;      /* failed logins since the last good one */
    time_t locked_until;    /* 0: not locked */
    time_t disabled_at;     /* 0: active */
    time_t last_login, last_use, created_at;
    char created_by[SN_AUDIT_PRINCIPAL_MAX]; /* the creator's principal */
    unsigned recovery_left; /* unused recovery codes (read only) */
};

/* SN_ERR_EXISTS if the name is taken. With first_operator set (the
 * bootstrap token's), only while no active operator account exists
 * (SN_ERR_STATE otherwise), in one statement. */
sn_err sn_store_account_add(struct sn_store *st, const struct sn_account *a,
                            int first_operator);
sn_err sn_store_account_get(struct sn_store *st, const char *id,
                            struct sn_account *out);
sn_err sn_store_account_by_name(struct sn_store *st, const char *name,
                                struct sn_account *out);
/* Every account, or a subscriber's (subscriber not NULL); free(*out). */
sn_err sn_store_account_list(struct sn_store *st, const char *subscriber,
                             struct sn_account **out, size_t *n);
/* A new secret (sealed) awaiting confirmation; the confirmed one, if any,
 * stays in force. */
sn_err sn_store_account_totp_pending(struct sn_store *st, const char *id,
                                     const uint8_t *sealed, size_t len);
/* Removes every factor (a reset by someone else: the person enrols
 * again), the recovery codes and the account's sessions. */
sn_err sn_store_account_totp_clear(struct sn_store *st, const char *id);
/* The pending secret, if it is still sealed (the one whose code was
 * checked), becomes the account's factor, with step accepted;
 * SN_ERR_STATE if another enrolment replaced it meanwhile. */
sn_err sn_store_account_totp_confirm(struct sn_store *st, const char *id,
                                     const uint8_t *sealed, size_t len,
                                     int64_t step);
/* Accepts a code's time step once: SN_ERR_STATE if step is not later
 * than the last accepted one (a replay), as one conditional update. */
sn_err sn_store_account_totp_step(struct sn_store *st, const char *id,
                                  int64_t step);
/* How failed logins lock an account: after `after` in a row, for
 * first seconds, doubling with each further failure, at most max. */
struct sn_lockout {
    unsigned after, first, max;
};
/* A login's outcome: a good one resets the failures and dates the login;
 * a bad one counts and locks by lk, in one statement (racing failures
 * all count; a lock is never shortened). */
sn_err sn_store_account_login(struct sn_store *st, const char *id, int good,
                              time_t now, const struct sn_lockout *lk);
/* A new password hash (the person's own change). */
sn_err sn_store_account_set_password(struct sn_store *st, const char *id,
                                     const char *pw_hash);
/* Disables the account and revokes every session it holds, in one
 * transaction. */
sn_err sn_store_account_disable(struct sn_store *st, const char *id,
                                time_t when);
/* Recovery codes: replaces the account's set by n SHA-256 hashes; uses
 * one (SN_ERR_NOT_FOUND if no unused code has that hash). */
sn_err sn_store_recovery_set(struct sn_store *st, const char *account,
                             const uint8_t (*hashes)[32], size_t n);
sn_err sn_store_recovery_use(struct sn_store *st, const char *account,
                             const uint8_t hash[32], time_t when);

sn_err sn_store_key_add(struct sn_store *st, const struct sn_key *k);
/* Fills *out (free its members with sn_key_cleanup). */
sn_err sn_store_key_get(struct sn_store *st, const char *id,
                        struct sn_key *out);
/*
 * Only id, subscriber, alg and state (the rest of *out zero), kept in
 * memory after the first read: the signing path's view of a key.
 */
sn_err sn_store_key_brief(struct sn_store *st, const char *id,
                          struct sn_key *out);
/* The subscriber's keys; free with sn_key_list_free. */
sn_err sn_store_key_list(struct sn_store *st, const char *subscriber,
                         struct sn_key **out, size_t *n);
/*
 * Moves key id to state to, only from a state in from (a mask of
 * SN_KEY_FROM() bits); enabling also requires that no certificate of the
 * key was revoked for key compromise. SN_ERR_STATE if the key was in no
 * such state (nothing changes).
 */
#define SN_KEY_FROM(state) (1u << (state))
sn_err sn_store_key_transition(struct sn_store *st, const char *id,
                               unsigned from, enum sn_key_state to);
sn_err sn_store_key_set_cert(struct sn_store *st, const char *id,
                             const char *pem);
void sn_key_cleanup(struct sn_key *k);
void sn_key_list_free(struct sn_key *keys, size_t n);

/* Appends and commits; a->id is set on success. */
sn_err sn_store_audit_add(struct sn_store *st, struct sn_audit *a);
/* Appends n records in one transaction: all or none are written. */
sn_err sn_store_audit_add_many(struct sn_store *st, struct sn_audit *a,
                               size_t n);
/*
 * The same without waiting: queues the n records for the next group commit
 * and returns. done(arg, result) runs once, on the writer's thread, after
 * the commit (result SN_OK: all n are durable) or its failure; it must be
 * brief and must not call into the store. a stays the caller's and must
 * stay valid until done runs. On an error return done never runs.
 * announced: these records settle an sn_store_audit_announce (also on
 * an error return).
 */
typedef void (*sn_audit_done)(void *arg, sn_err result);
sn_err sn_store_audit_submit(struct sn_store *st, struct sn_audit *a, size_t n,
                             int announced, sn_audit_done done, void *arg);
/*
 * Records on their way (a signature being made): the group commit waits
 * briefly for announced records so that one sync covers them. Every
 * announcement is settled by exactly one sn_store_audit_submit with
 * announced set, or one sn_store_audit_withdraw.
 */
void sn_store_audit_announce(struct sn_store *st);
void sn_store_audit_withdraw(struct sn_store *st);
/*
 * A record that may be folded with its repeats (a refused request): the
 * call only counts it in memory and returns at once; the audit writer
 * writes one record per caller (token, or address without one),
 * subscriber, key, action, result, detail and minute, within about a
 * second, its detail ending " (xN)" once N > 1 (the row is updated as N
 * grows during its minute). The memory is bounded (store/tally.h).
 */
void sn_store_audit_tally(struct sn_store *st, const struct sn_audit *a);
/* Records of subscriber (and key if non-empty) with id > after; tallied
 * records counted so far are written first. */
sn_err sn_store_audit_list(struct sn_store *st, const char *subscriber,
                           const char *key, int64_t after, size_t limit,
                           struct sn_audit **out, size_t *n);
/* Which records a page holds: after < id < before (before 0: no upper
 * bound), at most limit (1..1000) of them, oldest or newest first. */
struct sn_audit_page {
    int64_t after;
    int64_t before;
    int newest_first;
    size_t limit;
};
/* Like sn_store_audit_list, for any page (GET /v1/audit?order=desc). */
sn_err sn_store_audit_page(struct sn_store *st, const char *subscriber,
                           const char *key, const struct sn_audit_page *pg,
                           struct sn_audit **out, size_t *n);

/* ---- the transparency log (store/logseq.h, docs/translog.md) ---- */
/* Entries are written for every record (on by default); off only for a
 * comparison: records written meanwhile are not covered. */
void sn_store_log_enable(struct sn_store *st, int on);
/* Signs msg with the log's Ed25519 key (64 bytes into sig). */
typedef sn_err (*sn_log_sign_fn)(void *arg, const uint8_t *msg, size_t len,
                                 uint8_t sig[64]);
/*
 * Starts checkpoints: the writer signs one (origin, size, root) whenever
 * the tree has grown, at most every LOG_TICK_MS, and keeps each. pub is
 * the key's public half (for the note's key id). Once, before serving.
 */
sn_err sn_store_log_checkpoints(struct sn_store *st, const char *origin,
                                const uint8_t pub[32], sn_log_sign_fn sign,
                                void *arg);
/* 0 if the stored tree did not match its last checkpoint at open (the
 * database was altered): nothing is appended then, every record fails. */
int sn_store_log_ok(struct sn_store *st);
/* The committed tree. */
void sn_store_log_head(struct sn_store *st, uint64_t *size, uint8_t root[32]);
/* The latest checkpoint (*note malloc'd) and its size; SN_ERR_NOT_FOUND
 * before the first. */
sn_err sn_store_log_checkpoint(struct sn_store *st, char **note,
                               uint64_t *size);
/* n stored hashes of level (a multiple of 8) from start: all or
 * SN_ERR_NOT_FOUND. */
sn_err sn_store_log_hashes(struct sn_store *st, unsigned level, uint64_t start,
                           size_t n, uint8_t (*out)[32]);
/* Entries start..start+n-1 as a bundle (uint16 length, entry) appended to
 * out: all or SN_ERR_NOT_FOUND. */
sn_err sn_store_log_entries(struct sn_store *st, uint64_t start, size_t n,
                            struct sn_buf *out);

/* ---- subscriber identity (the RA step): a JSON object, as text ---- */
sn_err sn_store_identity_set(struct sn_store *st, const char *subscriber,
                             const char *json);
/* *json is malloc'd; SN_ERR_NOT_FOUND if none was recorded. */
sn_err sn_store_identity_get(struct sn_store *st, const char *subscriber,
                             char **json);

/* ---- client certificates (mTLS) ----
 * A subscriber's registration of TLS client-certificate trust: one pinned
 * leaf certificate, or a CA whose certificates with matching subject
 * attributes authenticate. The registration holds keys and roles as a
 * token does; it is deleted, not revoked.
 */
enum sn_clientcert_kind { SN_CLIENTCERT_LEAF = 1, SN_CLIENTCERT_CA = 2 };

#define SN_CLIENTCERT_RULES_MAX 1024

struct sn_clientcert {
    char id[SN_UUID_LEN];
    char subscriber[SN_UUID_LEN];
    char name[SN_NAME_MAX + 1];
    enum sn_clientcert_kind kind;
    /* The lookup: LEAF, the leaf's SHA-256 (hex); CA, the SHA-256 of the
     * CA certificate's subject name (DER), which its leaves name as
     * issuer. */
    char match[2 * 32 + 1];
    char fingerprint[2 * 32 + 1]; /* SHA-256 of the registered cert */
    char *pem;                    /* the registered certificate, owned */
    /* CA: the subject rules, "ATTR=pattern" lines (crypto/peercert.h);
     * "" for a leaf. */
    char rules[SN_CLIENTCERT_RULES_MAX];
    unsigned roles;                            /* enum sn_role bits */
    char keys[SN_TOKEN_MAX_KEYS][SN_UUID_LEN]; /* scope; none = all keys */
    size_t nkeys;
    time_t created_at;
};

void sn_clientcert_cleanup(struct sn_clientcert *c);
void sn_clientcert_list_free(struct sn_clientcert *c, size_t n);

sn_err sn_store_clientcert_add(struct sn_store *st,
                               const struct sn_clientcert *c);
/* Fills *out (free its members with sn_clientcert_cleanup). */
sn_err sn_store_clientcert_get(struct sn_store *st, const char *id,
                               struct sn_clientcert *out);
/* The subscriber's registrations, oldest first; free with
 * sn_clientcert_list_free. */
sn_err sn_store_clientcert_list(struct sn_store *st, const char *subscriber,
                                struct sn_clientcert **out, size_t *n);
/* Every subscriber's registrations with this match, oldest first. */
sn_err sn_store_clientcert_find(struct sn_store *st, const char *match,
                                struct sn_clientcert **out, size_t *n);
/* SN_ERR_NOT_FOUND if there is none with this id. */
sn_err sn_store_clientcert_delete(struct sn_store *st, const char *id);

/* ---- issued certificates ---- */
struct sn_cert {
    char serial[65]; /* upper-case hex */
    char ca[16];     /* issuing CA: "codesigning", "timestamping" */
    char subscriber[SN_UUID_LEN];
    char key[SN_UUID_LEN];
    char profile[32];
    uint8_t *der; /* owned */
    size_t der_len;
    time_t not_before, not_after, issued_at;
    int revoked;
    time_t revocation_date; /* may be back-dated (key compromise) */
    int reason;             /* RFC 5280 CRLReason */
    time_t revoked_at;      /* when the revocation was recorded */
};

sn_err sn_store_cert_add(struct sn_store *st, const struct sn_cert *c);
/* A subscriber's token PIN as the service token sealed it (several nodes
 * share it through the database): kept (replacing one before), or read
 * (*sealed malloc'd; SN_ERR_NOT_FOUND if none). */
sn_err sn_store_pin_put(struct sn_store *st, const char *subscriber,
                        const uint8_t *sealed, size_t len);
sn_err sn_store_pin_get(struct sn_store *st, const char *subscriber,
                        uint8_t **sealed, size_t *len);
/* The newest certificate not revoked that CA ca issued under profile
 * (by issued_at); SN_ERR_NOT_FOUND if none. */
sn_err sn_store_cert_latest(struct sn_store *st, const char *ca,
                            const char *profile, struct sn_cert *out);
sn_err sn_store_cert_get(struct sn_store *st, const char *ca,
                         const char *serial, struct sn_cert *out);
/* Records the revocation of a certificate not yet revoked; SN_ERR_STATE if
 * it was revoked already (nothing changes). */
sn_err sn_store_cert_revoke(struct sn_store *st, const char *serial,
                            time_t revocation_date, int reason,
                            time_t revoked_at);
/*
 * A number that changes with every revocation written (sn_store_cert_revoke
 * and sn_store_cert_compromise bump it after their write): a status read after
 * taking the number stays true while the number is unchanged. A counter in
 * memory, no query.
 */
unsigned long sn_store_revocation_gen(struct sn_store *st);
/*
 * Key compromise: every certificate whose public key is spki (DER
 * SubjectPublicKeyInfo, as set by sn_store_cert_set_spki) is revoked for
 * keyCompromise at revocation_date, in one statement. A certificate revoked for
 * another reason at or before revocation_date keeps its revocation as it is;
 * revoked_at is set only where the certificate was not revoked before.
 * SN_ERR_NOT_FOUND if it touched no certificate.
 */
sn_err sn_store_cert_compromise(struct sn_store *st, const uint8_t *spki,
                                size_t spki_len, time_t revocation_date,
                                time_t revoked_at);
/* Certificates (of every CA) whose public key is spki, by serial; free
 * with sn_cert_list_free. */
sn_err sn_store_cert_by_spki(struct sn_store *st, const uint8_t *spki,
                             size_t spki_len, struct sn_cert **out, size_t *n);
/* Up to limit certificates whose public key is not recorded yet (issued
 * before the column existed, or since the last sn_store_cert_set_spki),
 * with serials after after ("" for the first), by serial. */
sn_err sn_store_cert_unindexed(struct sn_store *st, const char *after,
                               size_t limit, struct sn_cert **out, size_t *n);
/* Records a certificate's public key (read from its DER by the caller);
 * a recorded key is never replaced. */
sn_err sn_store_cert_set_spki(struct sn_store *st, const char *serial,
                              const uint8_t *spki, size_t spki_len);
/* Revoked certificates of ca; free with sn_cert_list_free. */
sn_err sn_store_cert_revoked(struct sn_store *st, const char *ca,
                             struct sn_cert **out, size_t *n);
/* 1 if a certificate of key, or one carrying the key's public key, was
 * revoked for key compromise, or a confirmed report named the key (or one
 * with its public key). */
int sn_store_key_compromised(struct sn_store *st, const char *key);
void sn_cert_cleanup(struct sn_cert *c);
void sn_cert_list_free(struct sn_cert *c, size_t n);

/* ---- CRLs ---- */
/* The newest CRL of ca (*der malloc'd); SN_ERR_NOT_FOUND if none. */
sn_err sn_store_crl_get(struct sn_store *st, const char *ca, uint8_t **der,
                        size_t *len, int64_t *number, time_t *this_update);
sn_err sn_store_crl_put(struct sn_store *st, const char *ca, int64_t number,
                        time_t this_update, const uint8_t *der, size_t len);

/* ---- counters and TSA tokens ---- */
/* Increments and returns a named counter (first value 1), durably. */
sn_err sn_store_counter_next(struct sn_store *st, const char *name,
                             int64_t *out);
/* An issued time-stamp token as the TSA's log keeps it. */
struct sn_tsa_record {
    char serial[65];   /* hex */
    char gen_time[40]; /* as in the token */
    char hash[64];     /* the imprint's hash algorithm */
    char imprint[129]; /* hex */
    char policy[128];  /* OID, or "authenticode" */
};
/* Records an issued time-stamp token; a serial can be recorded once. */
sn_err sn_store_tsa_add(struct sn_store *st, const struct sn_tsa_record *t);
/* The same without waiting, as sn_store_audit_submit (t stays the
 * caller's until done runs). */
sn_err sn_store_tsa_submit(struct sn_store *st, const struct sn_tsa_record *t,
                           int announced, sn_audit_done done, void *arg);

/* ---- quotas (issue 14) ---- */
/* What a subscriber holds: keys not destroyed, and certificates issued
 * at or after since. */
struct sn_usage {
    uint64_t keys;
    uint64_t certs_since;
};
sn_err sn_store_usage(struct sn_store *st, const char *subscriber, time_t since,
                      struct sn_usage *out);
/* ---- signing policies (issue 16) ---- */
/*
 * A signing policy's canonical JSON (policy/keypolicy.h) for target: a
 * key id (the key's own policy) or a subscriber id (the subscriber's
 * default), owned by subscriber. Set replaces; get gives a malloc'd copy
 * or SN_ERR_NOT_FOUND; delete says SN_ERR_NOT_FOUND if there was none.
 */
sn_err sn_store_policy_set(struct sn_store *st, const char *target,
                           const char *subscriber, const char *json);
sn_err sn_store_policy_get(struct sn_store *st, const char *target,
                           char **json);
sn_err sn_store_policy_delete(struct sn_store *st, const char *target);
/* Signatures of key recorded ("sign" and "sign_file" records with result
 * "ok") at or after since: seeds the quota counters (policy/quota.h). */
sn_err sn_store_sign_count(struct sn_store *st, const char *key, time_t since,
                           uint64_t *out);
/* ---- sign requests awaiting approval (issue 17) ----
 * A signing request with a key whose policy requires k-of-n approval: what
 * was asked (exactly the digests of the sign request's body), who asked,
 * the approvers named when it was made, their votes, its state and, once
 * completed, the signatures. States move only forward, each move one
 * conditional write (the row's state must still be the one the caller
 * saw), so several signetd on one database agree on every transition;
 * nothing of a request is cached in memory.
 *
 *   pending_approval -> approved -> completed | failed
 *   pending_approval -> denied | expired | canceled | failed
 */
enum sn_sr_state {
    SN_SR_PENDING,
    SN_SR_APPROVED,
    SN_SR_COMPLETED,
    SN_SR_FAILED,
    SN_SR_DENIED,
    SN_SR_EXPIRED,
    SN_SR_CANCELED,
    SN_SR_STATE_COUNT
};
/* "pending_approval", "approved", ... */
const char *sn_sr_state_name(enum sn_sr_state s);
sn_err sn_sr_state_from_name(const char *name, enum sn_sr_state *out);

#define SN_SR_MAX_DIGESTS 256 /* a sign request's batch at most */
#define SN_SR_MAX_APPROVERS 32
#define SN_SR_REASON_MAX 200

struct sn_sr_vote {
    char account[SN_UUID_LEN];
    int approve; /* 1 approve, 0 deny */
    time_t time;
    char token[SN_UUID_LEN]; /* the session that voted */
};

struct sn_sign_request {
    char id[SN_UUID_LEN];
    char subscriber[SN_UUID_LEN];
    char key[SN_UUID_LEN];
    /* the requester: its credential, how it proved itself (enum
     * sn_auth_method and its via: the trust policy, registration or
     * account), the audit principal and the client address */
    char token[SN_UUID_LEN];
    int auth_method;
    char via[SN_UUID_LEN];
    char principal[SN_AUDIT_PRINCIPAL_MAX];
    char client[64];
    /* what it asked: ndigests digests of sn_digest_len(md) bytes each,
     * one after the other (owned; NULL in a list); batch: asked as
     * "digests" */
    enum sn_digest md;
    enum sn_scheme scheme;
    int batch;
    size_t ndigests;
    uint8_t *digests;
    /* the approval, as the key's policy said when it was made */
    unsigned required;
    char approvers[SN_SR_MAX_APPROVERS][SN_UUID_LEN];
    size_t napprovers;
    struct sn_sr_vote votes[SN_SR_MAX_APPROVERS]; /* oldest first */
    size_t nvotes;
    enum sn_sr_state state;
    char reason[SN_SR_REASON_MAX + 1]; /* failed: why */
    /* completed: one base64 signature per digest, in order, separated by
     * single spaces (owned; NULL before) */
    char *signatures;
    time_t created_at, expires_at, updated_at;
    int64_t version; /* 1 at creation, +1 per transition and vote */
};

void sn_sign_request_cleanup(struct sn_sign_request *r);
void sn_sign_request_list_free(struct sn_sign_request *r, size_t n);

/* A new request in SN_SR_PENDING, version 1 (r->id chosen by the caller). */
sn_err sn_store_sign_request_add(struct sn_store *st,
                                 const struct sn_sign_request *r);
/* Fills *out with the row and its votes (sn_sign_request_cleanup). */
sn_err sn_store_sign_request_get(struct sn_store *st, const char *id,
                                 struct sn_sign_request *out);
/* A subscriber's requests, newest first, at most limit (1..1000); state
 * SN_SR_STATE_COUNT: every state. Each with its votes and ndigests but
 * without the digests and signatures (NULL): GET one for those. Free with
 * sn_sign_request_list_free. */
sn_err sn_store_sign_request_list(struct sn_store *st, const char *subscriber,
                                  enum sn_sr_state state, size_t limit,
                                  struct sn_sign_request **out, size_t *n);
/*
 * One vote, in one transaction: the vote is recorded only while the request
 * is pending and now is before its expiry (else SN_ERR_STATE, nothing
 * written), once per account (a second vote: SN_ERR_EXISTS, nothing
 * written). Then a deny moves the request to denied; an approval moves it
 * to approved once its approvals reach `required`. *state is the state
 * after (set on SN_OK and SN_ERR_STATE); *decided is 1 if this vote made
 * the transition: of several approvals racing for the last place, exactly
 * one gets *decided (and releases the signatures).
 */
sn_err sn_store_sign_request_vote(struct sn_store *st, const char *id,
                                  const struct sn_sr_vote *v, time_t now,
                                  enum sn_sr_state *state, int *decided);
/*
 * Moves request id from `from` to `to` if it is still in `from`
 * (SN_ERR_STATE otherwise, nothing written). To SN_SR_EXPIRED only once
 * its expires_at is not after now; reason (failed) and signatures
 * (completed) are stored with the move (NULL: none).
 */
sn_err sn_store_sign_request_move(struct sn_store *st, const char *id,
                                  enum sn_sr_state from, enum sn_sr_state to,
                                  time_t now, const char *reason,
                                  const char *signatures);
/*
 * The sweeper's step: up to max pending requests past their expiry move to
 * expired, and up to max approved ones last moved at or before
 * stale_before (their release was interrupted: a node stopped while
 * signing) to failed. *out holds the requests moved, in their new state
 * with their votes, for their audit records.
 */
sn_err sn_store_sign_request_sweep(struct sn_store *st, time_t now,
                                   time_t stale_before, size_t max,
                                   struct sn_sign_request **out, size_t *n);

/* ---- reports of Suspect Code and key compromise (issue 18) ----
 * A report (POST /v1/reports) carries evidence of a signature: a PKCS#7,
 * a raw signature value or a signed digest. The signing events it matched
 * (audit records of signatures, found by the signature's SHA-256 or the
 * digest) are kept with it. An operator confirms it (every matched key is
 * disabled and its certificates revoked from the first matching event:
 * what was done per key is kept) or rejects it; states move only forward,
 * each move one conditional write.
 *
 *   received -> confirmed | rejected
 */
enum sn_report_kind { SN_REPORT_SUSPECT_CODE, SN_REPORT_KEY_COMPROMISE };
enum sn_report_state {
    SN_REPORT_RECEIVED,
    SN_REPORT_CONFIRMED,
    SN_REPORT_REJECTED
};
enum sn_report_evidence {
    SN_REPORT_EV_PKCS7,
    SN_REPORT_EV_SIGNATURE,
    SN_REPORT_EV_DIGEST
};
/* "suspect_code", "received", "pkcs7", ... and back (SN_ERR_INVALID). */
const char *sn_report_kind_name(enum sn_report_kind k);
const char *sn_report_state_name(enum sn_report_state s);
const char *sn_report_evidence_name(enum sn_report_evidence e);
sn_err sn_report_kind_from_name(const char *name, enum sn_report_kind *out);
sn_err sn_report_state_from_name(const char *name, enum sn_report_state *out);
sn_err sn_report_evidence_from_name(const char *name,
                                    enum sn_report_evidence *out);

#define SN_REPORT_REASON_MAX 2000 /* bytes of a reason or a rejection */
#define SN_REPORT_CONTACT_MAX 256 /* bytes of a contact */
#define SN_REPORT_MAX_EVENTS 100  /* matched events kept per report */
#define SN_REPORT_MAX_KEYS 16     /* distinct keys among them */
/* Matching events are counted up to one more than this: a digest signed a
 * million times is not walked to the end ("more than 1000"). */
#define SN_REPORT_COUNT_MAX 1000
#define SN_REPORT_EVIDENCE_MAX 65536
/* The deadlines (CSBR 4.9.5 acknowledgement, 4.9.1.1 revocation, 9.6.5
 * the CA informed), each this long after receipt. */
#define SN_REPORT_DEADLINE (24 * 3600)

/* A signing event (an audit record of a signature) the evidence matched. */
struct sn_report_event {
    int64_t audit_id;
    int64_t log_index; /* -1: the record has no log entry */
    time_t time;
    char subscriber[SN_UUID_LEN];
    char key[SN_UUID_LEN];
    char action[32]; /* sign, sign_file */
    char principal[SN_AUDIT_PRINCIPAL_MAX];
    char digest_alg[16];
    char digest[2 * 64 + 1];
    char sig_sha256[2 * 32 + 1];
    char matched_by[16]; /* "signature" or "digest" */
};

/* What a confirmation did to one key (and, for a certificate of another
 * CA, the notice owed to it: the webhook's attempts). */
struct sn_report_key {
    char key[SN_UUID_LEN];
    char subscriber[SN_UUID_LEN];
    time_t first_event;     /* its first matching signing event */
    time_t revocation_date; /* what its certificates were revoked from */
    unsigned certs_revoked; /* Signet's CA's certificates of the key */
    int external;           /* a certificate of another CA is attached */
    time_t notified_at;     /* external: the CA acknowledged (0: not yet) */
    unsigned attempts;
    time_t next_attempt;
    char last_result[128];
};

struct sn_report {
    char id[SN_UUID_LEN];
    enum sn_report_kind kind;
    enum sn_report_state state;
    enum sn_report_evidence evidence_kind;
    char digest_alg[16]; /* digest evidence: its algorithm */
    uint8_t *evidence;   /* the evidence (owned; NULL in a list) */
    size_t evidence_len;
    char evidence_sha256[2 * 32 + 1];
    char reason[SN_REPORT_REASON_MAX + 1];
    char contact[SN_REPORT_CONTACT_MAX + 1];
    /* who reported: a subscriber's credential, or anonymous ("") from an
     * address */
    char reporter_subscriber[SN_UUID_LEN];
    char reporter_token[SN_UUID_LEN];
    char reporter_client[64];
    time_t received_at;
    time_t acked_at; /* an operator first opened it (0: not yet) */
    char acked_by[SN_UUID_LEN];
    time_t decided_at; /* confirmed or rejected (0: not yet) */
    char decided_by[SN_UUID_LEN];
    char decision[SN_REPORT_REASON_MAX + 1]; /* a rejection's reason */
    time_t ca_informed_at;          /* every key's CA informed (0: not yet) */
    size_t events_total;            /* signing events matched (nevents kept) */
    struct sn_report_event *events; /* owned; NULL in a list */
    size_t nevents;
    struct sn_report_key *keys; /* owned; NULL in a list */
    size_t nkeys;
    int64_t version; /* 1 at receipt, +1 per change */
};

void sn_report_cleanup(struct sn_report *r);
void sn_report_list_free(struct sn_report *r, size_t n);

/* A new report in SN_REPORT_RECEIVED with its events, in one transaction
 * (r->id chosen by the caller). With dup (SN_UUID_LEN bytes) set, an open
 * report (undecided, or its CA not yet informed) with the same
 * evidence_sha256 is kept instead: nothing is stored, SN_ERR_EXISTS, and
 * dup names that report. Refused (SN_ERR_DB) when storage is critical. */
sn_err sn_store_report_add(struct sn_store *st, const struct sn_report *r,
                           char *dup);
/* Fills *out with the report, its evidence, events and keys. */
sn_err sn_store_report_get(struct sn_store *st, const char *id,
                           struct sn_report *out);
/* Reports filed by subscriber (NULL: every report), newest first, at most
 * limit (1..1000), without evidence, events and keys. With overdue_now
 * (not 0): only the reports with a deadline passed and not met at that
 * time (as GET /v1/reports computes "overdue"), oldest first, so that the
 * most overdue are never cut off by limit. */
sn_err sn_store_report_list(struct sn_store *st, const char *subscriber,
                            time_t overdue_now, size_t limit,
                            struct sn_report **out, size_t *n);
/* Marks the report acknowledged by token at now, once: SN_ERR_STATE if it
 * was already. */
sn_err sn_store_report_ack(struct sn_store *st, const char *id, time_t now,
                           const char *token);
/*
 * Decides a received report, in one transaction: to SN_REPORT_CONFIRMED
 * with what was done to its keys (keys[0..nkeys)), or SN_REPORT_REJECTED
 * with decision; acknowledged too if it was not; ca_informed (0: not yet)
 * is when every key's CA knew. SN_ERR_STATE (nothing written) if it was no
 * longer received.
 */
sn_err sn_store_report_decide(struct sn_store *st, const char *id,
                              enum sn_report_state to, time_t now,
                              const char *token, const char *decision,
                              const struct sn_report_key *keys, size_t nkeys,
                              time_t ca_informed);
/* Notices owed to other CAs: up to max (report id, key) whose next
 * attempt is due at now; out[i].key and out[i].id are set, with the key's
 * row in out[i].keys[0] (free with sn_report_list_free). Over a database
 * several nodes share, each is claimed for a minute by the node it is
 * given to (one node sends it). */
sn_err sn_store_report_notices_due(struct sn_store *st, time_t now, size_t max,
                                   struct sn_report **out, size_t *n);
/* One attempt's outcome: ok (the CA acknowledged at now) or the next
 * attempt's time, and its result text. When the last key's CA is informed
 * the report's ca_informed_at is set, in the same transaction. */
sn_err sn_store_report_notice_result(struct sn_store *st, const char *id,
                                     const char *key, int ok, time_t now,
                                     time_t next_attempt, const char *result);
/* Reports whose deadline has passed at now without being met. */
struct sn_report_overdue {
    uint64_t open; /* not decided, or confirmed with a CA not informed */
    uint64_t ack, revocation, ca_informed;
};
sn_err sn_store_report_overdue(struct sn_store *st, time_t now,
                               struct sn_report_overdue *out);
/*
 * Signing events ("sign" and "sign_file" records with result ok):
 * sn_store_sign_events_match finds those whose sig_sha256 is one of
 * sigs[0..nsigs) (hex), or whose digest is digest_hex (with digest_alg),
 * oldest first, at most limit, *total counting them up to
 * SN_REPORT_COUNT_MAX + 1 (a larger total is "more than" the maximum);
 * with first_per_key, one event per key, each key's first (the keys a
 * report must act on, however many events it matched);
 * sn_store_sign_events_since lists key's at or after since, oldest first,
 * at most limit, with *total. Free *out.
 */
sn_err sn_store_sign_events_match(struct sn_store *st,
                                  const char (*sigs)[2 * 32 + 1], size_t nsigs,
                                  const char *digest_alg,
                                  const char *digest_hex, int first_per_key,
                                  size_t limit, struct sn_audit **out,
                                  size_t *n, size_t *total);
sn_err sn_store_sign_events_since(struct sn_store *st, const char *key,
                                  time_t since, size_t limit,
                                  struct sn_audit **out, size_t *n,
                                  size_t *total);

/* ---- OIDC issuers and trust policies (issue 16) ---- */
#define SN_OIDC_URL_MAX 255
#define SN_OIDC_AUD_MAX 255
#define SN_OIDC_PATH_MAX 255
/* An issuer the operator trusts (POST /v1/oidc/issuers). */
struct sn_oidc_issuer {
    char id[SN_UUID_LEN];
    char issuer[SN_OIDC_URL_MAX + 1];   /* the exact "iss" */
    char audience[SN_OIDC_AUD_MAX + 1]; /* the one "aud" accepted */
    char jwks_uri[SN_OIDC_URL_MAX + 1]; /* "": discovery */
    char ca_file[SN_OIDC_PATH_MAX + 1]; /* "": the system's roots */
    time_t created_at;
};
/* SN_ERR_EXISTS if the issuer URL is registered already. */
sn_err sn_store_oidc_issuer_add(struct sn_store *st,
                                const struct sn_oidc_issuer *i);
/* Every issuer, oldest first; *out malloc'd. */
sn_err sn_store_oidc_issuer_list(struct sn_store *st,
                                 struct sn_oidc_issuer **out, size_t *n);
sn_err sn_store_oidc_issuer_delete(struct sn_store *st, const char *id);

/* A subscriber's trust policy: its rules as validated JSON text (body:
 * {"claims", "keys", "roles", "token_lifetime"}, owned). */
struct sn_trust_policy {
    char id[SN_UUID_LEN];
    char subscriber[SN_UUID_LEN];
    char issuer[SN_OIDC_URL_MAX + 1];
    char *body;
    time_t created_at;
};
sn_err sn_store_trust_policy_add(struct sn_store *st,
                                 const struct sn_trust_policy *p);
/* The policies of subscriber ("": any) for issuer ("": any), oldest first
 * (then by id); free with sn_trust_policy_list_free. */
sn_err sn_store_trust_policy_list(struct sn_store *st, const char *subscriber,
                                  const char *issuer,
                                  struct sn_trust_policy **out, size_t *n);
/* SN_ERR_NOT_FOUND unless subscriber holds policy id. */
sn_err sn_store_trust_policy_delete(struct sn_store *st, const char *subscriber,
                                    const char *id);
void sn_trust_policy_list_free(struct sn_trust_policy *p, size_t n);
/*
 * Remembers an ID token's jti for its issuer until expires_at, durably:
 * SN_ERR_EXISTS if it is remembered already (a replay). Forgets the
 * issuer's jtis expired before now in the same transaction.
 */
sn_err sn_store_oidc_jti_use(struct sn_store *st, const char *issuer,
                             const char *jti, time_t expires_at, time_t now);

/* ---- room to write: free space, the write probe, retention ---- */
struct sn_store_limits {
    /* Free bytes on the database's file system below which anonymous work
     * is refused (sn_store_space says SN_SPACE_LOW); below a quarter of it
     * every write of the audit writer is refused (SN_SPACE_CRITICAL). 0:
     * no watermark. */
    uint64_t min_free;
    /* 1: min_free is a ceiling, and a tenth of the volume is used if
     * smaller (so a small volume is not refused from the start). */
    int min_free_auto;
    /* Time-stamp token records older than this many days are compacted
     * into hourly counts (sn_store_tsa_compact); 0: kept for ever. */
    unsigned tsa_retention_days;
};
/* Before the store is used by many threads. */
void sn_store_set_limits(struct sn_store *st, const struct sn_store_limits *l);

enum sn_space { SN_SPACE_OK, SN_SPACE_LOW, SN_SPACE_CRITICAL };
/* Measured with statvfs on the database's directory at most once a second;
 * SN_SPACE_OK when there is no watermark or the measure fails. */
enum sn_space sn_store_space(struct sn_store *st);
const char *sn_space_name(enum sn_space s);
/*
 * Can the store write? An upsert of one row committed by the audit
 * writer, at most once a second (callers in between get the last answer),
 * waited for at most about two seconds: SN_OK, or why not.
 */
sn_err sn_store_probe(struct sn_store *st);
/*
 * One compaction step, by the audit writer: up to max time-stamp token
 * records recorded before `before` are deleted, their number added to
 * tsa_token_counts by hour, with the hour's first and last serial.
 * *removed is how many went. The writer runs it by itself every minute
 * when a retention is set; exposed for tests.
 */
sn_err sn_store_tsa_compact(struct sn_store *st, time_t before, size_t max,
                            size_t *removed);

#endif
