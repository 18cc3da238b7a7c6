/*
 * client: libcurl plumbing for the CLI. Trusted input: the base URL, token
 * and CA file the user gave. Untrusted input: everything the server sends,
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

#include "common/buf.h"
#include "common/util.h"

#define MAX_URL_LEN 2048
#define CONNECT_TIMEOUT_S 30L
/* A stalled transfer (under 1 byte/s for this long) is abandoned. */
#define STALL_TIMEOUT_S 300L

struct sn_client {
    char *base; /* "https://host:port", no trailing slash */
    char *token;
    char *ca_file;
    CURL *curl;
    struct sn_client_error *err;
};

/* Where a request body comes from: a file (streamed) or memory. */
struct source {
    FILE *file;
    const uint8_t *mem;
    uint64_t remaining;
    int failed; /* the file ended early or could not be read */
};

/* The response body as it arrives, capped at SN_CLIENT_MAX_RESPONSE. */

/*
 * Copies untrusted text into dst, replacing control characters and
 * anything outside printable ASCII so that a hostile server cannot drive
 * the user's terminal through an error message.
 */
static void
copy_printable(char *dst, size_t dstlen, const char *src)
{
    size_t i;

    for (i = 0; i + 1 < dstlen && src[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    dst[i] = '\0';
}

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

/* Header values must not smuggle in CR/LF or other control bytes. */
static int
header_safe(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s == 0x7f)
            return 0;
    return 1;
}

static sn_err
check_base_url(const char *url, struct sn_client_error *err)
{
    size_t len = strlen(url);

    if (strncasecmp(url, "https://", 8) != 0) {
        sn_client_error_set(err, "the server URL must start with https://");
        return SN_ERR_INVALID;
    }
    if (len < 9 || len > MAX_URL_LEN / 2 || !header_safe(url) ||
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
    if (token != NULL && !header_safe(token)) {
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
sn_client_body_cleanup(struct sn_client_body *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

static size_t
source_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct source *s = arg;
    size_t want = size * nitems, got;

    if ((uint64_t)want > s->remaining)
        want = (size_t)s->remaining;
    if (want == 0)
        return 0;
    if (s->file != NULL) {
        got = fread(buf, 1, want, s->file);
        if (got == 0) {
            /* Shorter than announced: the file shrank or failed. */
            s->failed = 1;
            return CURL_READFUNC_ABORT;
        }
    } else {
        memcpy(buf, s->mem, want);
        s->mem += want;
        got = want;
    }
    s->remaining -= got;
    return got;
}

/* Wipes header strings (one holds the token) before freeing the list. */
static void
headers_free(struct curl_slist *h)
{
    struct curl_slist *p;

    for (p = h; p != NULL; p = p->next)
        OPENSSL_cleanse(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

static sn_err
headers_build(struct sn_client *c, const char *content_type, const char *accept,
              struct curl_slist **out)
{
    struct curl_slist *h = NULL, *n;
    char line[256];
    sn_err r = SN_ERR_NOMEM;
    int len;

    *out = NULL;
    if (c->token != NULL) {
        len =
            snprintf(line, sizeof(line), "Authorization: Bearer %s", c->token);
        if (len < 0 || (size_t)len >= sizeof(line)) {
            r = SN_ERR_LIMIT;
            goto out;
        }
        if ((n = curl_slist_append(h, line)) == NULL)
            goto out;
        h = n;
    }
    snprintf(line, sizeof(line), "Accept: %s", accept);
    if ((n = curl_slist_append(h, line)) == NULL)
        goto out;
    h = n;
    /* Without a body, suppress the Content-Type curl would add for POST. */
    snprintf(line, sizeof(line), "Content-Type:%s%s",
             content_type != NULL ? " " : "",
             content_type != NULL ? content_type : "");
    if ((n = curl_slist_append(h, line)) == NULL)
        goto out;
    h = n;
    *out = h;
    h = NULL;
    r = SN_OK;
out:
    OPENSSL_cleanse(line, sizeof(line));
    headers_free(h);
    return r;
}

/* Sets the method and, for methods that carry one, the streamed body. */
static sn_err
set_method(CURL *curl, const char *method, struct source *src)
{
    curl_off_t len = (curl_off_t)src->remaining;

    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, len);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, source_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, src);
    } else if (strcmp(method, "PUT") == 0) {
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, len);
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, source_read);
        curl_easy_setopt(curl, CURLOPT_READDATA, src);
    } else if (strcmp(method, "DELETE") == 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

/* Transport and TLS settings shared by every request. */
static void
set_transport(struct sn_client *c, const char *url, char *errbuf)
{
    CURL *curl = c->curl;

    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (c->ca_file != NULL)
        curl_easy_setopt(curl, CURLOPT_CAINFO, c->ca_file);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, STALL_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)SN_CLIENT_MAX_RESPONSE);
    curl_easy_setopt(curl, CURLOPT_USERAGENT,
                     "signet-cli/"
                     "0.1");
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
}

/* Describes a transfer that produced no usable HTTP answer. */
static void
transfer_error(struct sn_client *c, CURLcode rc, const struct sn_buf *sink,
               const struct source *src, const char *errbuf)
{
    char detail[CURL_ERROR_SIZE];

    if (sink->overflow || rc == CURLE_FILESIZE_EXCEEDED) {
        sn_client_error_set(c->err, "the server's response exceeds %zu bytes",
                            SN_CLIENT_MAX_RESPONSE);
    } else if (src->failed) {
        sn_client_error_set(c->err,
                            "reading the input file failed or it changed "
                            "while being sent");
    } else {
        copy_printable(detail, sizeof(detail),
                       errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        sn_client_error_set(c->err, "cannot talk to %s: %s", c->base, detail);
    }
}

/*
 * One HTTP exchange. On any completed exchange (whatever the status)
 * *status and *out are set; transport failures fill c->err.
 */
static sn_err
perform(struct sn_client *c, const char *method, const char *path,
        const char *content_type, const char *accept, struct source *src,
        long *status, struct sn_client_body *out)
{
    char url[MAX_URL_LEN], errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    struct sn_buf sink;
    char *ctype = NULL;
    sn_err r = SN_ERR_INTERNAL;
    CURLcode rc;
    int n;

    memset(out, 0, sizeof(*out));
    *status = 0;
    sn_buf_init(&sink, SN_CLIENT_MAX_RESPONSE);
    n = snprintf(url, sizeof(url), "%s%s", c->base, path);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        sn_client_error_set(c->err, "request URL too long");
        r = SN_ERR_LIMIT;
        goto out;
    }
    if ((r = headers_build(c, content_type, accept, &headers)) != SN_OK) {
        sn_client_error_set(c->err, "cannot build request headers");
        goto out;
    }
    curl_easy_reset(c->curl);
    set_transport(c, url, errbuf);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, sn_buf_sink);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &sink);
    if ((r = set_method(c->curl, method, src)) != SN_OK) {
        sn_client_error_set(c->err, "unsupported method %s", method);
        goto out;
    }
    if ((rc = curl_easy_perform(c->curl)) != CURLE_OK) {
        transfer_error(c, rc, &sink, src, errbuf);
        r = SN_ERR_IO;
        goto out;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
    if (curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK &&
        ctype != NULL)
        copy_printable(out->content_type, sizeof(out->content_type), ctype);
    sn_buf_take(&sink, &out->data, &out->len);
    r = SN_OK;
out:
    /* Drop curl's pointers to our stack before they dangle. */
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
    headers_free(headers);
    sn_buf_cleanup(&sink);
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
            copy_printable(c->err->code, sizeof(c->err->code),
                           json_string_value(code));
        if (json_is_string(msg))
            copy_printable(c->err->message, sizeof(c->err->message),
                           json_string_value(msg));
        else if (json_is_string(code))
            copy_printable(c->err->message, sizeof(c->err->message),
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

sn_err
sn_client_send(struct sn_client *c, const char *method, const char *path,
               const char *content_type, const void *data, size_t len,
               json_t **out)
{
    struct source src = {.mem = data, .remaining = len};
    struct sn_client_body body;
    long status;
    sn_err r;

    *out = NULL;
    r = perform(c, method, path, data != NULL ? content_type : NULL,
                "application/json", &src, &status, &body);
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
    free(text);
    return r;
}

sn_err
sn_client_upload(struct sn_client *c, const char *method, const char *path,
                 const char *content_type, FILE *in, uint64_t len,
                 struct sn_client_body *out)
{
    struct source src = {.file = in, .remaining = len};
    struct sn_client_body body;
    long status;
    sn_err r;

    memset(out, 0, sizeof(*out));
    r = perform(c, method, path, content_type,
                "application/pkcs7-signature, application/json", &src, &status,
                &body);
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
    struct source src = {.mem = data, .remaining = len};
    struct sn_client_body body;
    long status;
    sn_err r;

    memset(out, 0, sizeof(*out));
    r = perform(c, "POST", path, content_type, accept, &src, &status, &body);
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
    struct source src = {.remaining = 0};
    struct sn_client_body body;
    long status;
    sn_err r;

    memset(out, 0, sizeof(*out));
    r = perform(c, "GET", path, NULL, accept, &src, &status, &body);
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
