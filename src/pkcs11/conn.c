/*
 * conn: the PKCS#11 module's policy over apiclient: libcurl's global
 * state once, a fork-aware pool of handles shared by threads, timeouts,
 * retries and the reply cap. Trusted input: the URL and CA file from the
 * configuration and the token the application gave. Untrusted:
 * everything the server sends, which apiclient caps in size and which is
 * handed back raw for reply.c to validate.
 */
#include "pkcs11/conn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "apiclient/apiclient.h"
#include "pkcs11/reply.h"

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

/* The module's policy for every exchange. */
static void
module_cfg(const struct sn_p11_conn_cfg *c, struct sn_api_cfg *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->base = c->url;
    cfg->ca_file = c->ca_file;
    cfg->user_agent = "signet-pkcs11/0.1";
    cfg->connect_timeout_s = CONNECT_TIMEOUT_S;
    cfg->total_timeout_s = TOTAL_TIMEOUT_S;
    cfg->tcp_keepalive = 1;
    cfg->max_response = SN_P11_MAX_REPLY;
    cfg->max_header = SN_API_MAX_HEADER;
    cfg->retries = RETRIES;
    cfg->cred = c->cred;
}

/* Sorts libcurl's transport failures into what the user must fix. */
static enum sn_p11_net
net_kind(CURLcode code)
{
    switch (code) {
    case CURLE_SSL_CACERT_BADFILE:
        return SN_P11_NET_CA_FILE;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return SN_P11_NET_TLS;
    default:
        return SN_P11_NET_UNREACHABLE;
    }
}

/* Translates a failed exchange into this module's codes and detail. */
static sn_err
failure(sn_err r, const struct sn_api_resp *resp, struct sn_p11_answer *ans)
{
    switch (resp->fail) {
    case SN_API_FAIL_TOO_LARGE:
        snprintf(ans->detail, sizeof(ans->detail), "answer exceeds %zu bytes",
                 SN_P11_MAX_REPLY);
        return SN_ERR_LIMIT;
    case SN_API_FAIL_TRANSPORT:
        snprintf(ans->detail, sizeof(ans->detail), "%s", resp->detail);
        ans->net = net_kind(resp->code);
        return SN_ERR_IO;
    case SN_API_FAIL_HEADERS:
        return SN_ERR_NOMEM;
    default:
        return r;
    }
}

sn_err
sn_p11_conn_request(const struct sn_p11_conn_cfg *cfg, const char *token,
                    const char *method, const char *path, const char *json,
                    struct sn_p11_answer *ans)
{
    struct sn_api_req req = {.path = path};
    struct sn_api_resp resp = {0};
    struct sn_api_cfg acfg;
    CURL *c = NULL;
    sn_err r = SN_ERR_CONFIG;

    memset(ans, 0, sizeof(*ans));
    if (cfg->url == NULL)
        goto out;
    /* No bearer token (NULL or ""): the OIDC exchange, or the client
     * certificate of cfg authenticates. */
    req.token = token != NULL && token[0] != '\0' ? token : NULL;
    /* The module only reads (GET) or asks for a signature (POST, JSON). */
    req.method = strcmp(method, "POST") == 0 ? "POST" : "GET";
    if (strcmp(req.method, "POST") == 0) {
        req.data = json != NULL ? json : "";
        req.len = json != NULL ? strlen(json) : 0;
    }
    req.content_type = json != NULL ? "application/json" : NULL;
    req.accept = "application/json";
    module_cfg(cfg, &acfg);
    r = SN_ERR_NOMEM;
    if ((c = handle_get()) == NULL)
        goto out;
    if ((r = sn_api_perform(c, &acfg, &req, &resp)) != SN_OK) {
        r = failure(r, &resp, ans);
        goto out;
    }
    ans->status = resp.status;
    ans->retry_after = resp.retry_after;
    ans->body = resp.body;
    ans->len = resp.len;
    resp.body = NULL;
    r = SN_OK;
out:
    if (c != NULL)
        handle_put(c);
    sn_api_resp_cleanup(&resp);
    return r;
}
