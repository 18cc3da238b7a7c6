/*
 * api: the outcome of a request as handlers see it, and the request and
 * response shapes the router hands them. Handlers never see MHD or pick an
 * HTTP status: they set an api code, and server.c maps codes to statuses.
 */
#ifndef SN_API_H
#define SN_API_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/principal.h"
#include "store/store.h"

/* code, HTTP status, wire error name */
#define SN_API_CODES(X)                                                        \
    X(API_OK, 200, "ok")                                                       \
    X(API_CREATED, 201, "ok")                                                  \
    X(API_ACCEPTED, 202, "ok")                                                 \
    X(API_BAD_REQUEST, 400, "bad_request")                                     \
    X(API_INVALID_JSON, 400, "invalid_json")                                   \
    X(API_INVALID_FIELD, 400, "invalid_field")                                 \
    X(API_UNSUPPORTED_ALG, 400, "unsupported_algorithm")                       \
    X(API_BAD_DIGEST, 400, "bad_digest")                                       \
    X(API_UNAUTHORIZED, 401, "unauthorized")                                   \
    X(API_FORBIDDEN, 403, "forbidden")                                         \
    X(API_POLICY_DENIED, 403, "policy_denied")                                 \
    X(API_STRONG_AUTH, 403, "strong_auth_required")                            \
    X(API_MFA_REQUIRED, 403, "mfa_required")                                   \
    X(API_LOGIN_FAILED, 401, "login_failed")                                   \
    X(API_LOCKED, 429, "login_locked")                                         \
    X(API_IMPORT_FORBIDDEN, 403, "key_import_forbidden")                       \
    X(API_NOT_FOUND, 404, "not_found")                                         \
    X(API_METHOD, 405, "method_not_allowed")                                   \
    X(API_CONFLICT, 409, "conflict")                                           \
    X(API_KEY_STATE, 409, "key_state")                                         \
    X(API_NO_CERT, 409, "no_certificate")                                      \
    X(API_APPROVAL_REQUIRED, 409, "approval_required")                         \
    X(API_REQUEST_STATE, 409, "request_state")                                 \
    X(API_ALREADY_VOTED, 409, "already_voted")                                 \
    X(API_TOO_LARGE, 413, "too_large")                                         \
    X(API_TOO_MANY, 429, "too_many_requests")                                  \
    X(API_QUOTA, 429, "quota_exceeded")                                        \
    X(API_MEDIA_TYPE, 415, "unsupported_media_type")                           \
    X(API_UNAVAILABLE, 503, "unavailable")

enum sn_api {
#define SN_API_ENUM(c, s, n) c,
    SN_API_CODES(SN_API_ENUM)
#undef SN_API_ENUM
};

int sn_api_status(enum sn_api code);
/* 1 if code answers a failure (an HTTP status of 300 or more). */
int sn_api_failed(enum sn_api code);
const char *sn_api_name(enum sn_api code);

#define SN_MAX_PARAMS 2

/* What a handler gets: validated path parameters, body, caller. */
struct sn_req {
    const char *method;
    const char *route; /* the matched pattern, e.g. "/v1/keys/{id}" */
    char params[SN_MAX_PARAMS][65];
    char tail[2048]; /* a "{*}" pattern's rest of the path, undecoded */
    char client[64]; /* numeric client address */
    const char *content_type;
    json_t *json; /* parsed JSON body (routes that take JSON) */
    const uint8_t *body;
    size_t body_len;
    const struct sn_principal *who; /* NULL on unauthenticated routes */
    void *conn;                     /* opaque: for query arguments */
    /* sign-file: the digest chosen by the precheck, and the result */
    enum sn_digest file_md;
    const uint8_t *file_digest;
    size_t file_digest_len;
    uint64_t file_bytes;
};

/* Query-string argument or NULL. */
const char *sn_req_query(const struct sn_req *req, const char *name);

/* What a handler returns: a code and either a message or a body. */
#define SN_RESP_HEADERS 6

struct sn_resp_header {
    const char *name; /* a static string */
    char value[96];
};

struct sn_resp {
    enum sn_api code;
    char message[256];
    /* A refusal's reason code for clients (e.g. the OIDC exchange's
     * "aud_mismatch"); "" for none. Sent as "reason" with the error. */
    char reason[32];
    json_t *json; /* success body (owned) */
    uint8_t *raw; /* or raw body (owned, malloc'd) */
    size_t raw_len;
    const char *raw_type;
    /*
     * Audit records (owned, malloc'd) that must be committed before this
     * response may leave: the HTTP layer commits them without holding a
     * thread, then sends the response, or 503 with audit_fail_message if
     * the commit failed.
     */
    struct sn_audit *audit;
    size_t naudit;
    struct sn_tsa_record *tsa; /* or a time-stamp token's record (owned) */
    /* issue 18: the answer names its records' log entries: "log_index"
     * (the first; a batch's are consecutive) in JSON, else a header */
    int log_field;
    const char *audit_fail_message;
    /* Extra headers, sent with a successful answer only; a Cache-Control
     * among them replaces the default "no-store". */
    struct sn_resp_header headers[SN_RESP_HEADERS];
    size_t nheaders;
    /* The answer holds a secret (a session token, a TOTP secret, recovery
     * codes): its buffer is wiped when it is freed. */
    int secret;
};

void sn_resp_error(struct sn_resp *resp, enum sn_api code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds a header (see struct sn_resp); 0 if it is full or the value is too
 * long or holds a control character. */
int sn_resp_header(struct sn_resp *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Takes ownership of body. */
void sn_resp_json(struct sn_resp *resp, enum sn_api code, json_t *body);

#endif
