/*
 * apiclient: libcurl plumbing for every Signet API client. Trusted input:
 * the caller's configuration, token and request. Untrusted: everything
 * the server sends, which is capped at cfg->max_response here and handed
 * back raw; curl's failure texts are made printable before they leave.
 */
#include "apiclient/apiclient.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/buf.h"

/* Where a request body comes from: a file (streamed) or memory. */
struct source {
    FILE *file;
    const uint8_t *mem;
    uint64_t remaining;
    int failed; /* the file ended early or could not be read */
};

void
sn_api_printable(char *dst, size_t dstlen, const char *src)
{
    size_t i;

    if (dstlen == 0)
        return;
    for (i = 0; i + 1 < dstlen && src[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    dst[i] = '\0';
}

int
sn_api_header_safe(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s == 0x7f)
            return 0;
    return 1;
}

void
sn_api_resp_cleanup(struct sn_api_resp *resp)
{
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
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
append(struct curl_slist **h, const char *line)
{
    struct curl_slist *n;

    if ((n = curl_slist_append(*h, line)) == NULL)
        return SN_ERR_NOMEM;
    *h = n;
    return SN_OK;
}

static sn_err
headers_build(const struct sn_api_cfg *cfg, const struct sn_api_req *req,
              struct curl_slist **out)
{
    struct curl_slist *h = NULL;
    char line[SN_API_MAX_HEADER];
    size_t max = cfg->max_header;
    sn_err r = SN_ERR_LIMIT;
    int len;

    *out = NULL;
    if (max == 0 || max > sizeof(line))
        max = sizeof(line);
    if (req->token != NULL) {
        len = snprintf(line, max, "Authorization: Bearer %s", req->token);
        if (len < 0 || (size_t)len >= max)
            goto out;
        if ((r = append(&h, line)) != SN_OK)
            goto out;
    }
    r = SN_ERR_LIMIT;
    len = snprintf(line, max, "Accept: %s", req->accept);
    if (len < 0 || (size_t)len >= max)
        goto out;
    if ((r = append(&h, line)) != SN_OK)
        goto out;
    /* Without a body, suppress the Content-Type curl would add for POST. */
    r = SN_ERR_LIMIT;
    len = snprintf(line, max, "Content-Type:%s%s",
                   req->content_type != NULL ? " " : "",
                   req->content_type != NULL ? req->content_type : "");
    if (len < 0 || (size_t)len >= max)
        goto out;
    if ((r = append(&h, line)) != SN_OK)
        goto out;
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

/* libcurl's OpenSSL context gets the client certificate and key. */
static CURLcode
ssl_ctx_cb(CURL *curl, void *ssl_ctx, void *arg)
{
    (void)curl;
    return sn_client_cred_apply(arg, ssl_ctx) ? CURLE_OK
                                              : CURLE_SSL_CERTPROBLEM;
}

/* Transport and TLS settings shared by every request. */
static void
set_transport(CURL *curl, const struct sn_api_cfg *cfg, const char *url,
              char *errbuf)
{
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cfg->ca_file != NULL)
        curl_easy_setopt(curl, CURLOPT_CAINFO, cfg->ca_file);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, cfg->connect_timeout_s);
    if (cfg->total_timeout_s > 0)
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, cfg->total_timeout_s);
    if (cfg->stall_timeout_s > 0) {
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, cfg->stall_timeout_s);
    }
    if (cfg->tcp_keepalive)
        curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)cfg->max_response);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, cfg->user_agent);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    if (cfg->cred != NULL) {
        curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
        curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, cfg->cred);
    }
}

/*
 * Failures where nothing reached the server, or the connection dropped.
 * Timeouts are not retried, so a request never takes much over the
 * caller's total timeout.
 */
static int
retryable(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_GOT_NOTHING || rc == CURLE_SEND_ERROR ||
           rc == CURLE_RECV_ERROR;
}

static void
backoff(int attempt)
{
    struct timespec ts = {0, 250L * 1000 * 1000};

    if (attempt > 1)
        ts = (struct timespec){1, 0};
    nanosleep(&ts, NULL);
}

/*
 * Runs the exchange, retrying connection failures of memory bodies up to
 * cfg->retries times; every attempt starts from a fresh sink and body.
 */
static sn_err
attempts(CURL *curl, const struct sn_api_cfg *cfg, const struct sn_api_req *req,
         const char *url, struct curl_slist *headers, struct sn_buf *sink,
         struct source *src, char *errbuf, CURLcode *rc)
{
    int attempt, retries = req->file != NULL ? 0 : cfg->retries;
    sn_err r;

    *rc = CURLE_FAILED_INIT;
    for (attempt = 0; attempt <= retries; attempt++) {
        if (attempt > 0)
            backoff(attempt);
        sn_buf_cleanup(sink);
        *src = (struct source){
            .file = req->file, .mem = req->data, .remaining = req->len};
        errbuf[0] = '\0';
        curl_easy_reset(curl);
        set_transport(curl, cfg, url, errbuf);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sn_buf_sink);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
        if ((r = set_method(curl, req->method, src)) != SN_OK)
            return r;
        *rc = curl_easy_perform(curl);
        if (*rc == CURLE_OK || !retryable(*rc) || sink->overflow)
            break;
    }
    return SN_OK;
}

/* Describes a transfer that produced no usable HTTP answer. */
static sn_err
transfer_error(CURLcode rc, const struct sn_buf *sink, const struct source *src,
               const char *errbuf, struct sn_api_resp *resp)
{
    if (sink->overflow || rc == CURLE_FILESIZE_EXCEEDED) {
        resp->fail = SN_API_FAIL_TOO_LARGE;
        return SN_ERR_LIMIT;
    }
    if (src->failed) {
        resp->fail = SN_API_FAIL_INPUT;
        return SN_ERR_IO;
    }
    resp->fail = SN_API_FAIL_TRANSPORT;
    resp->code = rc;
    sn_api_printable(resp->detail, sizeof(resp->detail),
                     errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
    return SN_ERR_IO;
}

/* Retry-After of the answer (untrusted): 1 to 9 digits of seconds,
 * capped; an HTTP date or anything else counts as absent. */
static unsigned
retry_after(CURL *curl)
{
    struct curl_header *h = NULL;
    unsigned long v = 0;
    size_t i;

    if (curl_easy_header(curl, "Retry-After", 0, CURLH_HEADER, -1, &h) !=
            CURLHE_OK ||
        h == NULL || h->value == NULL)
        return 0;
    for (i = 0; h->value[i] != '\0'; i++) {
        if (i >= 9 || h->value[i] < '0' || h->value[i] > '9')
            return 0;
        v = v * 10 + (unsigned long)(h->value[i] - '0');
    }
    return v > SN_API_MAX_RETRY_AFTER ? SN_API_MAX_RETRY_AFTER : (unsigned)v;
}

sn_err
sn_api_perform(CURL *curl, const struct sn_api_cfg *cfg,
               const struct sn_api_req *req, struct sn_api_resp *resp)
{
    char url[SN_API_MAX_URL], errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    struct source src = {0};
    struct sn_buf sink;
    char *ctype = NULL;
    sn_err r = SN_ERR_INTERNAL;
    CURLcode rc;
    int n;

    memset(resp, 0, sizeof(*resp));
    sn_buf_init(&sink, cfg->max_response);
    n = snprintf(url, sizeof(url), "%s%s", cfg->base, req->path);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        resp->fail = SN_API_FAIL_URL;
        r = SN_ERR_LIMIT;
        goto out;
    }
    if ((r = headers_build(cfg, req, &headers)) != SN_OK) {
        resp->fail = SN_API_FAIL_HEADERS;
        goto out;
    }
    r = attempts(curl, cfg, req, url, headers, &sink, &src, errbuf, &rc);
    if (r != SN_OK) {
        resp->fail = SN_API_FAIL_METHOD;
        goto out;
    }
    if (rc != CURLE_OK) {
        r = transfer_error(rc, &sink, &src, errbuf, resp);
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->retry_after = retry_after(curl);
    if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK &&
        ctype != NULL)
        sn_api_printable(resp->content_type, sizeof(resp->content_type), ctype);
    sn_buf_take(&sink, &resp->body, &resp->len);
    r = SN_OK;
out:
    /* Drop curl's pointers to our stack and headers before they dangle. */
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(curl, CURLOPT_READDATA, NULL);
    headers_free(headers);
    sn_buf_cleanup(&sink);
    return r;
}
