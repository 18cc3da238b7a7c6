/*
 * conn: libcurl plumbing for the PKCS#11 module. Trusted input: the URL
 * and CA file from the configuration and the token the application gave.
 * Untrusted: everything the server sends, which is capped in size here
 * and handed back raw for reply.c to validate.
 */
#include "pkcs11/conn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "common/buf.h"
#include "pkcs11/reply.h"

#define MAX_URL_LEN 2048
#define CONNECT_TIMEOUT_S 10L
#define TOTAL_TIMEOUT_S 60L
#define RETRIES 2
#define POOL_MAX 8

/* Idle handles; the pid says which process made them. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static CURL *pool[POOL_MAX];
static size_t pool_n;
static pid_t pool_pid;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void
global_init_once(void)
{
    /* Never curl_global_cleanup(): the application may use libcurl too. */
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

sn_err
sn_p11_conn_global_init(void)
{
    pthread_once(&global_once, global_init_once);
    return global_rc == CURLE_OK ? SN_OK : SN_ERR_INTERNAL;
}

/* Takes an idle handle or makes one; a forked child forgets the parent's. */
static CURL *
handle_get(void)
{
    CURL *h = NULL;
    pid_t me = getpid();

    pthread_mutex_lock(&pool_lock);
    if (pool_pid != me) {
        /* The parent's connections are not ours: leak, never close. */
        pool_n = 0;
        pool_pid = me;
    }
    if (pool_n > 0)
        h = pool[--pool_n];
    pthread_mutex_unlock(&pool_lock);
    if (h == NULL)
        h = curl_easy_init();
    return h;
}

static void
handle_put(CURL *h)
{
    pthread_mutex_lock(&pool_lock);
    if (pool_pid == getpid() && pool_n < POOL_MAX) {
        pool[pool_n++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
    if (h != NULL)
        curl_easy_cleanup(h);
}

void
sn_p11_conn_shutdown(void)
{
    pthread_mutex_lock(&pool_lock);
    if (pool_pid == getpid())
        while (pool_n > 0)
            curl_easy_cleanup(pool[--pool_n]);
    pool_n = 0;
    pthread_mutex_unlock(&pool_lock);
}

void
sn_p11_answer_cleanup(struct sn_p11_answer *ans)
{
    free(ans->body);
    memset(ans, 0, sizeof(*ans));
}

static void
printable(char *dst, size_t dstlen, const char *src)
{
    size_t i;

    for (i = 0; i + 1 < dstlen && src[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    dst[i] = '\0';
}

/* Headers; the Authorization line is wiped before the list is freed. */
static void
headers_free(struct curl_slist *h)
{
    struct curl_slist *p;

    for (p = h; p != NULL; p = p->next)
        OPENSSL_cleanse(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

static struct curl_slist *
headers_build(const char *token, int has_body)
{
    struct curl_slist *h = NULL, *n;
    char line[512];
    int len;

    len = snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
    if (len < 0 || (size_t)len >= sizeof(line))
        goto fail;
    if ((n = curl_slist_append(h, line)) == NULL)
        goto fail;
    h = n;
    if ((n = curl_slist_append(h, "Accept: application/json")) == NULL)
        goto fail;
    h = n;
    if ((n = curl_slist_append(h, has_body ? "Content-Type: application/json"
                                           : "Content-Type:")) == NULL)
        goto fail;
    h = n;
    OPENSSL_cleanse(line, sizeof(line));
    return h;
fail:
    OPENSSL_cleanse(line, sizeof(line));
    headers_free(h);
    return NULL;
}

static void
set_options(CURL *c, const struct sn_p11_conn_cfg *cfg, const char *url,
            const char *method, const char *json, struct curl_slist *headers,
            struct sn_buf *sink, char *errbuf)
{
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (cfg->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)SN_P11_MAX_REPLY);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "signet-pkcs11/0.1");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sn_buf_sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json != NULL ? json : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
                         (long)(json != NULL ? strlen(json) : 0));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
}

/*
 * Failures where nothing reached the server, or the connection dropped.
 * Timeouts are not retried, so a request never takes much over 60 s.
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

sn_err
sn_p11_conn_request(const struct sn_p11_conn_cfg *cfg, const char *token,
                    const char *method, const char *path, const char *json,
                    struct sn_p11_answer *ans)
{
    char url[MAX_URL_LEN], errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers = NULL;
    struct sn_buf sink;
    CURLcode rc = CURLE_FAILED_INIT;
    CURL *c = NULL;
    sn_err r = SN_ERR_INTERNAL;
    int n, attempt;

    memset(ans, 0, sizeof(*ans));
    sn_buf_init(&sink, SN_P11_MAX_REPLY);
    if (cfg->url == NULL || token == NULL) {
        r = SN_ERR_CONFIG;
        goto out;
    }
    n = snprintf(url, sizeof(url), "%s%s", cfg->url, path);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        r = SN_ERR_LIMIT;
        goto out;
    }
    r = SN_ERR_NOMEM;
    if ((headers = headers_build(token, json != NULL)) == NULL ||
        (c = handle_get()) == NULL)
        goto out;
    for (attempt = 0; attempt <= RETRIES; attempt++) {
        if (attempt > 0)
            backoff(attempt);
        sn_buf_cleanup(&sink);
        errbuf[0] = '\0';
        set_options(c, cfg, url, method, json, headers, &sink, errbuf);
        rc = curl_easy_perform(c);
        if (rc == CURLE_OK || !retryable(rc) || sink.overflow)
            break;
    }
    if (sink.overflow || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(ans->detail, sizeof(ans->detail), "answer exceeds %zu bytes",
                 SN_P11_MAX_REPLY);
        r = SN_ERR_LIMIT;
        goto out;
    }
    if (rc != CURLE_OK) {
        printable(ans->detail, sizeof(ans->detail),
                  errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
        r = SN_ERR_IO;
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ans->status);
    sn_buf_take(&sink, &ans->body, &ans->len);
    r = SN_OK;
out:
    if (c != NULL) {
        /* Drop curl's pointers to our stack and headers before reuse. */
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
        handle_put(c);
    }
    headers_free(headers);
    sn_buf_cleanup(&sink);
    return r;
}
