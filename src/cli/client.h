/*
 * client: the CLI's HTTPS connection to signetd. It owns the base URL, the
 * bearer token and the TLS trust settings; it sends JSON or a raw body
 * streamed from a file and returns the response bounded in size. Responses
 * are untrusted: bodies are size-limited, JSON is parsed strictly and error
 * texts are stripped of control characters before anyone prints them.
 * Nothing here prints or exits; failures are described in the caller's
 * struct sn_client_error.
 */
#ifndef SN_CLIENT_H
#define SN_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "apiclient/clientcred.h"
#include "common/err.h"

/* Largest response body the client buffers (a CMS or a key list). */
#define SN_CLIENT_MAX_RESPONSE ((size_t)16 << 20)

/*
 * What went wrong, for the user. status and code are set when the server
 * answered with an API error; message is always set on failure.
 */
struct sn_client_error {
    long status;       /* HTTP status, 0 if there was no usable response */
    char code[64];     /* API error code ("not_found"), "" if none */
    char message[512]; /* printable text, never contains the token */
};

/* A raw response body; data is NUL-terminated for convenience. */
struct sn_client_body {
    uint8_t *data;
    size_t len;
    char content_type[128];
};

/* What sn_client_json_meta tells besides the body. */
struct sn_client_meta {
    long status;          /* the HTTP status of a 2xx answer */
    unsigned retry_after; /* its Retry-After in seconds, 0: none */
};

struct sn_client;

/* Fills err with a local (non-HTTP) failure message. */
void sn_client_error_set(struct sn_client_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Prepares a client for base_url ("https://host:port", no path needed).
 * token is copied (and wiped on free); ca_file may be NULL to use the
 * system trust store. Only https URLs are accepted and peer verification
 * is always on. err receives every later failure description.
 */
sn_err sn_client_new(const char *base_url, const char *token,
                     const char *ca_file, struct sn_client_error *err,
                     struct sn_client **out);
void sn_client_free(struct sn_client *c);
/* Presents cred (borrowed; NULL: none) as the TLS client certificate. */
void sn_client_set_cred(struct sn_client *c, struct sn_client_cred *cred);

/*
 * Sends method path (which starts with "/v1/...") with an optional JSON
 * body and parses the JSON answer. A non-2xx answer fills err from the
 * API's {"error","message"} object and returns the status translated to
 * the local enum (404 SN_ERR_NOT_FOUND, 409 SN_ERR_EXISTS, 400
 * SN_ERR_INVALID, ...); transport and TLS failures are SN_ERR_IO.
 */
sn_err sn_client_json(struct sn_client *c, const char *method, const char *path,
                      json_t *body, json_t **out);

/*
 * The same, telling which 2xx status answered and its Retry-After (a sign
 * request awaiting approval is 202, issue 17).
 */
sn_err sn_client_json_meta(struct sn_client *c, const char *method,
                           const char *path, json_t *body, json_t **out,
                           struct sn_client_meta *meta);

/*
 * Sends method path with the raw body read from in (exactly len bytes,
 * streamed, never held in memory) and returns the raw answer. A non-2xx
 * answer is reported as for sn_client_json.
 */
sn_err sn_client_upload(struct sn_client *c, const char *method,
                        const char *path, const char *content_type, FILE *in,
                        uint64_t len, struct sn_client_body *out);
/*
 * Sends method path with a raw body from memory (a PEM chain, say) and
 * parses the JSON answer, as sn_client_json does.
 */
sn_err sn_client_send(struct sn_client *c, const char *method, const char *path,
                      const char *content_type, const void *data, size_t len,
                      json_t **out);
/*
 * POSTs a raw body from memory (a DER time-stamp query, say) asking for
 * accept and returns the raw 2xx answer; a non-2xx answer is reported as
 * for sn_client_json.
 */
sn_err sn_client_post_raw(struct sn_client *c, const char *path,
                          const char *content_type, const char *accept,
                          const void *data, size_t len,
                          struct sn_client_body *out);
/*
 * GETs path asking for accept (a media type list) and returns the raw
 * 2xx answer; a non-2xx answer is reported as for sn_client_json.
 */
sn_err sn_client_get(struct sn_client *c, const char *path, const char *accept,
                     struct sn_client_body *out);
void sn_client_body_cleanup(struct sn_client_body *b);

#endif
