/*
 * conn: the PKCS#11 module's HTTPS exchanges with the Signet service. A
 * small pool of libcurl handles gives keep-alive connection reuse across
 * threads; handles made before a fork() are abandoned in the child (never
 * cleaned up there, which would shut down the parent's TLS session).
 * Timeouts are bounded (connect 10 s, total 60 s) and connection failures
 * are retried twice with backoff. Answers are capped at SN_P11_MAX_REPLY
 * and returned raw: parsing is reply.c's job. Nothing here logs a token.
 */
#ifndef SN_P11_CONN_H
#define SN_P11_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "apiclient/clientcred.h"
#include "common/err.h"

struct sn_p11_conn_cfg {
    char *url;     /* "https://host:port", no trailing slash */
    char *ca_file; /* NULL: the system trust store */
    /* A TLS client certificate and key to present (mTLS), or NULL. */
    struct sn_client_cred *cred;
};

/* What kind of transport failure, for the user's one-line report. */
enum sn_p11_net {
    SN_P11_NET_OK = 0,
    SN_P11_NET_UNREACHABLE, /* DNS, TCP, timeouts */
    SN_P11_NET_TLS,         /* handshake or certificate verification */
    SN_P11_NET_CA_FILE      /* the CA file could not be used */
};

/* The raw answer to one request. */
struct sn_p11_answer {
    long status; /* HTTP status; 0 if the exchange failed */
    uint8_t *body;
    size_t len;
    unsigned retry_after; /* the answer's Retry-After (seconds), 0: none */
    enum sn_p11_net net;  /* set with SN_ERR_IO */
    char detail[256];     /* transport failure text, printable, "" if none */
};

/* Once per process: libcurl's global state. */
sn_err sn_p11_conn_global_init(void);
/* Frees the pooled handles (C_Finalize). */
void sn_p11_conn_shutdown(void);

/*
 * Sends method path (e.g. "/v1/keys") with an optional JSON body and the
 * bearer token (NULL or "" for none: the OIDC exchange, or the client
 * certificate of cfg authenticates). SN_OK means an HTTP answer arrived
 * (any status) and *ans holds it; SN_ERR_IO means the service could not be
 * reached after the retries (ans->detail says why); SN_ERR_LIMIT an
 * oversized answer.
 */
sn_err sn_p11_conn_request(const struct sn_p11_conn_cfg *cfg, const char *token,
                           const char *method, const char *path,
                           const char *json, struct sn_p11_answer *ans);
void sn_p11_answer_cleanup(struct sn_p11_answer *ans);

#endif
