/*
 * client: the CLI's policy over apiclient (timeouts, response cap, error
 * texts and codes). Trusted input: the base URL, token and CA file the
 * user gave. Untrusted input: everything the server sends,
 * which is bounded (SN_CLIENT_MAX_RESPONSE), parsed strictly and sanitised
 * before it reaches an error message.
 */
#include "cli/client.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "apiclient/apiclient.h"
#include "common/util.h"

#define CONNECT_TIMEOUT_S 30L
/* A stalled transfer (under 1 byte/s for this long) is abandoned. */
#define STALL_TIMEOUT_S 300L
/* Longest Authorization line the CLI sends (the token is far shorter). */
#define MAX_HEADER 256

struct sn_client {
    char *base; /* "https://host:port", no trailing slash */
    char *token;
    char *ca_file;
    CURL *curl;
    struct sn_client_error *err;
    struct sn_client_cred *cred; /* borrowed; NULL: none */
    unsigned retry_after;        /* the last answer's Retry-After, 0: none */
};

void
sn_client_error_set(struct sn_client_error *err, const char *fmt, ...)
{
    va_list ap;

    err->status = 0;
    err->code[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

static sn_err
check_base_url(const char *url, struct sn_client_error *err)
{
    size_t len = strlen(url);

    if (strncasecmp(url, "https://", 8) != 0) {
        sn_client_error_set(err, "the server URL must start with https://");
        return SN_ERR_INVALID;
    }
    if (len < 9 || len > SN_API_MAX_BASE || !sn_api_header_safe(url) ||
        strchr(url + 8, '@') != NULL) {
        sn_client_error_set(err, "invalid server URL");
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

sn_err
sn_client_new(const char *base_url, const char *token, const char *ca_file,
              struct sn_client_error *err, struct sn_client **out)
{
    struct sn_client *c = NULL;
    sn_err r = SN_ERR_NOMEM;
    size_t len;

    *out = NULL;
    if ((r = check_base_url(base_url, err)) != SN_OK)
        goto out;
    if (token != NULL && !sn_api_header_safe(token)) {
        sn_client_error_set(err, "the API token contains invalid characters");
        r = SN_ERR_INVALID;
        goto out;
    }
    r = SN_ERR_NOMEM;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        goto out;
    c->err = err;
    if ((c->base = strdup(base_url)) == NULL)
        goto out;
    len = strlen(c->base);
    while (len > 8 && c->base[len - 1] == '/')
        c->base[--len] = '\0';
    if (token != NULL && (c->token = strdup(token)) == NULL)
        goto out;
    if (ca_file != NULL && (c->ca_file = strdup(ca_file)) == NULL)
        goto out;
    if ((c->curl = curl_easy_init()) == NULL) {
        sn_client_error_set(err, "cannot initialise libcurl");
        r = SN_ERR_INTERNAL;
        goto out;
    }
    *out = c;
    c = NULL;
    r = SN_OK;
out:
    if (r == SN_ERR_NOMEM)
        sn_client_error_set(err, "%s", sn_err_str(r));
    sn_client_free(c);
    return r;
}

void
sn_client_free(struct sn_client *c)
{
    if (c == NULL)
        return;
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);
    sn_secret_free(c->token);
    free(c->ca_file);
    free(c->base);
    free(c);
}

void
sn_client_set_cred(struct sn_client *c, struct sn_client_cred *cred)
{
    c->cred = cred;
}

void
sn_client_body_cleanup(struct sn_client_body *b)
{
    /* Answers may carry secrets (a session token, an otpauth URI,
     * recovery codes). */
    if (b->data != NULL)
        OPENSSL_cleanse(b->data, b->len);
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* The CLI's policy for every exchange. */
static void
client_cfg(const struct sn_client *c, struct sn_api_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->base = c->base;
    cfg->ca_file = c->ca_file;
    cfg->user_agent = "signet-cli/0.1";
    cfg->connect_timeout_s = CONNECT_TIMEOUT_S;
    cfg->stall_timeout_s = STALL_TIMEOUT_S;
    cfg->max_response = SN_CLIENT_MAX_RESPONSE;
    cfg->max_header = MAX_HEADER;
    cfg->cred = c->cred;
}

/* Describes an exchange that produced no usable HTTP answer. */
static void
transfer_error(struct sn_client *c, const struct sn_api_req *req,
               const struct sn_api_resp *resp)
{
    switch (resp->fail) {
    case SN_API_FAIL_URL:
        sn_client_error_set(c->err, "request URL too long");
        break;
    case SN_API_FAIL_HEADERS:
        sn_client_error_set(c->err, "cannot build request headers");
        break;
    case SN_API_FAIL_METHOD:
        sn_client_error_set(c->err, "unsupported method %s", req->method);
        break;
    case SN_API_FAIL_TOO_LARGE:
        sn_client_error_set(c->err, "the server's response exceeds %zu bytes",
                            SN_CLIENT_MAX_RESPONSE);
        break;
    case SN_API_FAIL_INPUT:
        sn_client_error_set(c->err,
                            "reading the input file failed or it changed "
                            "while being sent");
        break;
    default:
        sn_client_error_set(c->err, "cannot talk to %s: %s", c->base,
                            resp->detail);
        break;
    }
}

/*
 * One HTTP exchange. On any completed exchange (whatever the status)
 * *status and *out are set; failures fill c->err.
 */
static sn_err
perform(struct sn_client *c, const struct sn_api_req *req, long *status,
        struct sn_client_body *out)
{
    struct sn_api_cfg cfg;
    struct sn_api_resp resp;
    sn_err r;

    memset(out, 0, sizeof(*out));
    *status = 0;
    c->retry_after = 0;
    client_cfg(c, &cfg);
    if ((r = sn_api_perform(c->curl, &cfg, req, &resp)) != SN_OK) {
        transfer_error(c, req, &resp);
        /* An oversized answer was always an I/O failure for the CLI. */
        if (resp.fail == SN_API_FAIL_TOO_LARGE)
            r = SN_ERR_IO;
        goto out;
    }
    *status = resp.status;
    c->retry_after = resp.retry_after;
    memcpy(out->content_type, resp.content_type, sizeof(out->content_type));
    out->data = resp.body;
    out->len = resp.len;
    resp.body = NULL;
out:
    sn_api_resp_cleanup(&resp);
    return r;
}

/* Translates the HTTP status of an API error into the local enum. */
static sn_err
status_to_err(long status)
{
    switch (status) {
    case 400:
    case 415:
        return SN_ERR_INVALID;
    case 401:
    case 403:
        return SN_ERR_STATE;
    case 404:
        return SN_ERR_NOT_FOUND;
    case 409:
        return SN_ERR_EXISTS;
    case 413:
        return SN_ERR_LIMIT;
    default:
        return SN_ERR_IO;
    }
}

/* Fills c->err from an error answer; the body may be anything. */
static sn_err
api_error(struct sn_client *c, long status, const struct sn_client_body *b)
{
    json_t *j = NULL, *code, *msg;

    c->err->status = status;
    c->err->code[0] = '\0';
    snprintf(c->err->message, sizeof(c->err->message),
             "unexpected HTTP %ld response from the server", status);
    if (b->len > 0)
        j = json_loadb((const char *)b->data, b->len, 0, NULL);
    if (json_is_object(j)) {
        code = json_object_get(j, "error");
        msg = json_object_get(j, "message");
        if (json_is_string(code))
            sn_api_printable(c->err->code, sizeof(c->err->code),
                             json_string_value(code));
        if (json_is_string(msg))
            sn_api_printable(c->err->message, sizeof(c->err->message),
                             json_string_value(msg));
        else if (json_is_string(code))
            sn_api_printable(c->err->message, sizeof(c->err->message),
                             json_string_value(code));
    }
    json_decref(j);
    return status_to_err(status);
}

static sn_err
parse_json_reply(struct sn_client *c, long status,
                 const struct sn_client_body *b, json_t **out)
{
    json_error_t jerr;
    json_t *j;

    if (status < 200 || status > 299)
        return api_error(c, status, b);
    j = json_loadb((const char *)b->data, b->len, JSON_REJECT_DUPLICATES,
                   &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        sn_client_error_set(c->err,
                            "the server sent a malformed JSON response "
                            "(HTTP %ld)",
                            status);
        return SN_ERR_INVALID;
    }
    *out = j;
    return SN_OK;
}

/* The answer's status and Retry-After (issue 17: a sign request). */
static sn_err
send_meta(struct sn_client *c, const char *method, const char *path,
          const char *content_type, const void *data, size_t len, json_t **out,
          struct sn_client_meta *meta)
{
    struct sn_api_req req = {.method = method,
                             .path = path,
                             .token = c->token,
                             .content_type = data != NULL ? content_type : NULL,
                             .accept = "application/json",
                             .data = data,
                             .len = len};
    struct sn_client_body body;
    long status;
    sn_err r;

    *out = NULL;
    memset(meta, 0, sizeof(*meta));
    r = perform(c, &req, &status, &body);
    if (r != SN_OK)
        return r;
    meta->status = status;
    meta->retry_after = c->retry_after;
    r = parse_json_reply(c, status, &body, out);
    sn_client_body_cleanup(&body);
    return r;
}

sn_err
sn_client_json_meta(struct sn_client *c, const char *method, const char *path,
                    json_t *body, json_t **out, struct sn_client_meta *meta)
{
    char *text = NULL;
    sn_err r;

    *out = NULL;
    memset(meta, 0, sizeof(*meta));
    if (body != NULL &&
        (text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
        sn_client_error_set(c->err, "cannot encode the request");
        return SN_ERR_NOMEM;
    }
    r = send_meta(c, method, path, "application/json", text,
                  text != NULL ? strlen(text) : 0, out, meta);
    free(text);
    return r;
}

sn_err
sn_client_send(struct sn_client *c, const char *method, const char *path,
               const char *content_type, const void *data, size_t len,
               json_t **out)
{
    struct sn_api_req req = {.method = method,
                             .path = path,
                             .token = c->token,
                             .content_type = data != NULL ? content_type : NULL,
                             .accept = "application/json",
                             .data = data,
                             .len = len};
    struct sn_client_body body;
    long status;
    sn_err r;

    *out = NULL;
    r = perform(c, &req, &status, &body);
    if (r != SN_OK)
        return r;
    r = parse_json_reply(c, status, &body, out);
    sn_client_body_cleanup(&body);
    return r;
}

sn_err
sn_client_json(struct sn_client *c, const char *method, const char *path,
               json_t *body, json_t **out)
{
    char *text = NULL;
    sn_err r;

    *out = NULL;
    if (body != NULL &&
        (text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
        sn_client_error_set(c->err, "cannot encode the request");
        return SN_ERR_NOMEM;
    }
    r = sn_client_send(c, method, path, "application/json", text,
                       text != NULL ? strlen(text) : 0, out);
    /* Requests may carry secrets too. */
    if (text != NULL)
        OPENSSL_cleanse(text, strlen(text));
    free(text);
    return r;
}

sn_err
sn_client_upload(struct sn_client *c, const char *method, const char *path,
                 const char *content_type, FILE *in, uint64_t len,
                 struct sn_client_body *out)
{
    struct sn_api_req req = {
        .method = method,
        .path = path,
        .token = c->token,
        .content_type = content_type,
        .accept = "application/pkcs7-signature, application/json",
        .file = in,
        .len = len};
    struct sn_client_body body;
    long status;
    sn_err r;

    memset(out, 0, sizeof(*out));
    r = perform(c, &req, &status, &body);
    if (r != SN_OK)
        return r;
    if (status < 200 || status > 299) {
        r = api_error(c, status, &body);
        sn_client_body_cleanup(&body);
        return r;
    }
    *out = body;
    return SN_OK;
}

sn_err
sn_client_post_raw(struct sn_client *c, const char *path,
                   const char *content_type, const char *accept,
                   const void *data, size_t len, struct sn_client_body *out)
{
    struct sn_api_req req = {.method = "POST",
                             .path = path,
                             .token = c->token,
                             .content_type = content_type,
                             .accept = accept,
                             .data = data,
                             .len = len};
    struct sn_client_body body;
    long status;
    sn_err r;

    memset(out, 0, sizeof(*out));
    r = perform(c, &req, &status, &body);
    if (r != SN_OK)
        return r;
    if (status < 200 || status > 299) {
        r = api_error(c, status, &body);
        sn_client_body_cleanup(&body);
        return r;
    }
    *out = body;
    return SN_OK;
}

sn_err
sn_client_get(struct sn_client *c, const char *path, const char *accept,
              struct sn_client_body *out)
{
    struct sn_api_req req = {
        .method = "GET", .path = path, .token = c->token, .accept = accept};
    struct sn_client_body body;
    long status;
    sn_err r;

    memset(out, 0, sizeof(*out));
    r = perform(c, &req, &status, &body);
    if (r != SN_OK)
        return r;
    if (status < 200 || status > 299) {
        r = api_error(c, status, &body);
        sn_client_body_cleanup(&body);
        return r;
    }
    *out = body;
    return SN_OK;
}
