/*
 * bodies: the JSON request bodies of the API routes, parsed into validated,
 * typed structs before a handler acts ("parse, then act"). The input is
 * untrusted. Pure: no store, no HSM, no app; checks that need the store
 * (a key's owner, a name already taken) stay in the handlers.
 */
#ifndef SN_BODIES_H
#define SN_BODIES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "common/err.h"
#include "common/keyalg.h"
#include "crypto/caprofile.h"
#include "crypto/peercert.h"
#include "crypto/subject.h"
#include "http/api.h"
#include "store/store.h"

/*
 * Why a body was refused: the api code and the message the client sees
 * (naming the field). Set only when a parser returns an error.
 */
struct sn_body_fault {
    enum sn_api code;
    char why[256];
};

/* POST /v1/subscribers */
struct sn_body_subscriber {
    char name[SN_NAME_MAX + 1];
};

/*
 * POST /v1/subscribers/{id}/tokens. keys are well-formed key ids; whether
 * they are the subscriber's is the handler's to check.
 */
struct sn_body_token {
    char name[SN_NAME_MAX + 1];
    unsigned roles;
    char keys[SN_TOKEN_MAX_KEYS][SN_UUID_LEN];
    size_t nkeys;
    time_t expires_at; /* 0: none asked for */
    int no_expiry;     /* "no_expiry": true: never (else 0: the default) */
};

/*
 * POST /v1/client-certs: a pinned leaf ("certificate_pem") or a CA
 * ("ca_pem") with subject rules ("subject"), and the keys and roles the
 * registration holds. keys by shape only, as for a token.
 */
struct sn_body_clientcert {
    char name[SN_NAME_MAX + 1];
    enum sn_clientcert_kind kind;
    X509 *cert; /* owned: the leaf or the CA */
    struct sn_subject_rule rules[SN_PEERCERT_MAX_RULES];
    size_t nrules;
    unsigned roles;
    char keys[SN_TOKEN_MAX_KEYS][SN_UUID_LEN];
    size_t nkeys;
};

/*
 * POST /v1/accounts (issue 17). roles are all operator roles (an
 * operator's account; no subscriber) or all subscriber roles; subscriber
 * is "" when not given. password points into the body (the caller keeps
 * the body alive and wipes it); its strength is the handler's to check.
 */
struct sn_body_account {
    char name[SN_NAME_MAX + 1];
    unsigned roles;
    int operator_;
    char subscriber[SN_UUID_LEN];
    const char *password;
};

/* POST /v1/sessions: name, password and a TOTP code or a recovery code
 * (or neither: an account still to enrol); the strings point into the
 * body. */
struct sn_body_login {
    char name[SN_NAME_MAX + 1];
    const char *password;
    const char *code;     /* NULL: none */
    const char *recovery; /* NULL: none */
};

sn_err sn_body_account(json_t *body, struct sn_body_account *out,
                       struct sn_body_fault *f);
sn_err sn_body_login(json_t *body, struct sn_body_login *out,
                     struct sn_body_fault *f);
/* POST /v1/accounts/{id}/totp/confirm: {"code"}; *code points into it. */
sn_err sn_body_totp_code(json_t *body, const char **code,
                         struct sn_body_fault *f);
/* POST /v1/accounts/{id}/password: {"password"}; *pw points into it. */
sn_err sn_body_password(json_t *body, const char **pw, struct sn_body_fault *f);
/* The names of roles (operator's and subscriber's), for answers. */
json_t *sn_roles_json(unsigned roles);

/* POST /v1/keys */
struct sn_body_key {
    enum sn_keyalg alg;
    char label[SN_NAME_MAX + 1];
};

/* POST /v1/keys/{id}/csr */
struct sn_body_csr {
    enum sn_digest md;
    X509_NAME *subject; /* owned; never empty */
};

#define SN_BODY_MAX_VALIDITY_DAYS 460 /* CSBR 6.3.2, from 2026-03 */
#define SN_BODY_DEFAULT_VALIDITY_DAYS 365

/* POST /v1/ca/certificates. csr_pem points into the body (parsed later). */
struct sn_body_issue {
    const char *csr_pem;
    enum sn_cs_profile profile;
    int days;
};

/* A reason for moving a revocation date, kept whole in the audit record. */
#define SN_BODY_COMMENT_MAX 100

/*
 * POST /v1/certificates/{serial}/revoke. rname and comment point into the
 * body and live as long as it does.
 */
struct sn_body_revoke {
    int code; /* RFC 5280 CRLReason */
    const char *rname;
    int dated; /* revocation_date given */
    time_t when;
    const char *comment; /* NULL if none */
};

#define SN_BODY_MAX_BATCH 256

/* POST /v1/keys/{id}/sign: digests of exactly the algorithm's length. */
struct sn_body_sign {
    enum sn_digest md;
    enum sn_scheme scheme;
    size_t n;
    uint8_t *digests[SN_BODY_MAX_BATCH];
    int batch;
};

sn_err sn_body_subscriber(json_t *body, struct sn_body_subscriber *out,
                          struct sn_body_fault *f);
/* now: the request's time; expires_at must lie after it. */
sn_err sn_body_token(json_t *body, time_t now, struct sn_body_token *out,
                     struct sn_body_fault *f);
sn_err sn_body_key(json_t *body, struct sn_body_key *out,
                   struct sn_body_fault *f);
/* The certificate is checked at now (a leaf: valid and for clientAuth; a
 * CA: a CA certificate, valid). Free with sn_body_clientcert_cleanup. */
sn_err sn_body_clientcert(json_t *body, time_t now,
                          struct sn_body_clientcert *out,
                          struct sn_body_fault *f);
void sn_body_clientcert_cleanup(struct sn_body_clientcert *b);
sn_err sn_body_csr(json_t *body, struct sn_body_csr *out,
                   struct sn_body_fault *f);
/* Frees the subject and zeroes in; in may be zeroed already. */
void sn_body_csr_cleanup(struct sn_body_csr *in);
/*
 * PUT /v1/subscribers/{id}/identity: only identity fields, each a string
 * of displayable text (borrowed from body), passing the non-EV checks.
 */
sn_err sn_body_identity(json_t *body, struct sn_identity *out,
                        struct sn_body_fault *f);
/* The field checks alone (also for an identity read back from the store). */
sn_err sn_body_identity_fields(json_t *obj, struct sn_identity *out,
                               struct sn_body_fault *f);
sn_err sn_body_issue(json_t *body, struct sn_body_issue *out,
                     struct sn_body_fault *f);
/* now: the request's time; when is now unless a date was given. */
sn_err sn_body_revoke(json_t *body, time_t now, struct sn_body_revoke *out,
                      struct sn_body_fault *f);
/* The RFC 5280 name of a CRLReason code the API accepts, or "unspecified". */
const char *sn_body_reason_name(int code);
/* rsa: whether the key is an RSA key (which schemes are allowed). */
sn_err sn_body_sign(json_t *body, int rsa, struct sn_body_sign *out,
                    struct sn_body_fault *f);
/* Frees the digests and zeroes in; in may be zeroed already. */
void sn_body_sign_cleanup(struct sn_body_sign *in);

/*
 * POST /v1/reports (issue 18): {"kind", "evidence", "reason", "contact"},
 * evidence exactly one of {"pkcs7": base64 DER}, {"signature": base64},
 * {"digest_algorithm", "digest": base64}. The evidence's bytes are
 * decoded (owned; a PKCS#7 is parsed later, by crypto/evidence.h), the
 * texts point into the body. Free with sn_body_report_cleanup.
 */
struct sn_body_report {
    enum sn_report_kind kind;
    enum sn_report_evidence ev;
    enum sn_digest md; /* digest evidence */
    uint8_t *evidence; /* the DER, the signature value or the digest */
    size_t evidence_len;
    const char *reason;
    const char *contact;
};
sn_err sn_body_report(json_t *body, struct sn_body_report *out,
                      struct sn_body_fault *f);
void sn_body_report_cleanup(struct sn_body_report *b);
/* POST /v1/reports/{id}/confirm: {"revocation_date"} (optional, RFC 3339,
 * not after now). */
struct sn_body_report_confirm {
    int dated;
    time_t when;
};
sn_err sn_body_report_confirm(json_t *body, time_t now,
                              struct sn_body_report_confirm *out,
                              struct sn_body_fault *f);
/* POST /v1/reports/{id}/reject: {"reason"} (displayable text); *reason
 * points into the body. */
sn_err sn_body_report_reject(json_t *body, const char **reason,
                             struct sn_body_fault *f);

#endif
