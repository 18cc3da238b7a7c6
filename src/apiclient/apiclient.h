/*
 * apiclient: one HTTPS exchange with signetd's API over libcurl, shared by
 * the signet CLI (cli/client.c) and the PKCS#11 module (pkcs11/conn.c).
 * Each caller states its policy in a struct sn_api_cfg (timeouts, response
 * cap, retries, user agent) and owns its CURL handles; this layer fixes
 * what both must share: https only, no redirects, peer and host
 * verification on, TLS 1.2 or later, the bearer token in a header that is
 * wiped after use and never printed. libcurl's own proxy environment
 * variables apply as they always did. Responses are untrusted: they are
 * capped in size and returned raw; failure texts are made printable.
 * Nothing here logs or parses JSON, and nothing here touches globals
 * (curl_global_init is the caller's job), so it is thread-safe as long as
 * a CURL handle is used by one thread at a time.
 */
#ifndef SN_APICLIENT_H
#define SN_APICLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <curl/curl.h>

#include "apiclient/clientcred.h"
#include "common/err.h"

/* Longest request URL (base + path) and longest base URL. */
#define SN_API_MAX_URL 2048
#define SN_API_MAX_BASE (SN_API_MAX_URL / 2)
/*
 * Longest header line the client builds (the Authorization line): CI
 * platforms' request tokens (GitHub Actions') are JWTs of a few KiB.
 */
#define SN_API_MAX_HEADER 8192
/* The longest Retry-After a client is told to honour (a day). */
#define SN_API_MAX_RETRY_AFTER 86400

/* A caller's fixed policy; every pointer is borrowed. */
struct sn_api_cfg {
    const char *base;       /* "https://host:port", no trailing slash */
    const char *ca_file;    /* NULL: the system trust store */
    const char *user_agent; /* "signet-cli/0.1" */
    long connect_timeout_s;
    long total_timeout_s; /* 0: no limit on the whole exchange */
    long stall_timeout_s; /* 0: none; else abandon under 1 byte/s */
    int tcp_keepalive;
    size_t max_response; /* bytes of body buffered at most */
    size_t max_header;   /* header line length limit, <= SN_API_MAX_HEADER */
    int retries; /* extra attempts after a connection failure (memory bodies
                    only; a streamed file is never retried) */
    /* A TLS client certificate and key to present (mTLS), or NULL. */
    struct sn_client_cred *cred; /* borrowed, only read */
};

/* One request; every pointer is borrowed. */
struct sn_api_req {
    const char *method;       /* GET, POST, PUT or DELETE */
    const char *path;         /* "/v1/..." */
    const char *token;        /* NULL: no Authorization header */
    const char *content_type; /* NULL: no Content-Type header at all */
    const char *accept;       /* media type list */
    FILE *file;               /* body streamed from a file, or */
    const void *data;         /* body from memory */
    uint64_t len;             /* body length (exactly len bytes are sent) */
};

/* Why an exchange produced no answer, for the caller's own messages. */
enum sn_api_fail {
    SN_API_FAIL_NONE = 0,
    SN_API_FAIL_URL,       /* request URL too long (SN_ERR_LIMIT) */
    SN_API_FAIL_HEADERS,   /* header too long or out of memory */
    SN_API_FAIL_METHOD,    /* unsupported method (SN_ERR_INVALID) */
    SN_API_FAIL_INPUT,     /* the body file ended early or failed (IO) */
    SN_API_FAIL_TOO_LARGE, /* the answer exceeds max_response (LIMIT) */
    SN_API_FAIL_TRANSPORT  /* DNS, TCP, TLS, timeout: detail says (IO) */
};

/* The raw answer; body is NUL-terminated, content_type printable. */
struct sn_api_resp {
    long status; /* HTTP status, 0 if the exchange failed */
    uint8_t *body;
    size_t len;
    char content_type[128];
    enum sn_api_fail fail;
    CURLcode code; /* libcurl's code behind SN_API_FAIL_TRANSPORT */
    /* Retry-After in seconds (delta-seconds only; 0 when absent or not a
     * number), at most SN_API_MAX_RETRY_AFTER */
    unsigned retry_after;
    char detail[CURL_ERROR_SIZE]; /* transport failure text, printable */
};

/*
 * Copies untrusted text into dst, replacing control characters and
 * anything outside printable ASCII, so that a hostile server cannot drive
 * a terminal or a log through an error message.
 */
void sn_api_printable(char *dst, size_t dstlen, const char *src);

/* 1 if s may go into a header or URL (no controls, spaces or DEL). */
int sn_api_header_safe(const char *s);

/*
 * Sends req over curl (reset first, left without pointers to the stack
 * afterwards) under cfg. SN_OK means an HTTP answer arrived, whatever
 * its status, and *resp holds it; otherwise resp->fail says why and the
 * return is SN_ERR_LIMIT, SN_ERR_NOMEM, SN_ERR_INVALID or SN_ERR_IO.
 */
sn_err sn_api_perform(CURL *curl, const struct sn_api_cfg *cfg,
                      const struct sn_api_req *req, struct sn_api_resp *resp);
void sn_api_resp_cleanup(struct sn_api_resp *resp);

#endif
