/*
 * conf: the PKCS#11 module's configuration (SIGNET_URL, SIGNET_CA_FILE,
 * SIGNET_TOKEN, the SIGNET_PKCS11_CONF file) and the one-line reports of
 * what is wrong with it. A tool that loads the module shows the user only
 * a CKR_ code, so each kind of failure is said once per process on stderr
 * ("libsignet-pkcs11: ..."), naming the setting to change; never a token
 * or a PIN. Trusted input: the environment and the file the user points
 * at; the transport texts and error codes quoted are made printable first.
 */
#ifndef SN_P11_CONF_H
#define SN_P11_CONF_H

#include "common/err.h"
#include "pkcs11/conn.h"

/* Where a setting came from, for the messages: "SIGNET_URL", "url in F". */
#define SN_P11_FROM_MAX 320

struct sn_p11_conf {
    struct sn_p11_conn_cfg conn;
    char *token; /* SIGNET_TOKEN or the file's token (a secret), or NULL */
    /*
     * Issue 16: an ID token to exchange when no Signet token is given.
     * id_token_file in the file (SIGNET_ID_TOKEN_FILE, SIGNET_ID_TOKEN
     * and GitHub Actions' variables are read by apiclient/idtoken.c);
     * audience: oidc_audience in the file or SIGNET_OIDC_AUDIENCE.
     */
    char *id_token_file;
    char *audience;
    int debug; /* SIGNET_PKCS11_DEBUG: more detail on stderr */
    /*
     * issue 17: seconds C_Sign waits for a signature whose key's policy
     * requires approvals (approval_wait in the file, SIGNET_APPROVAL_WAIT);
     * 0: fail at once, naming the sign request.
     */
    unsigned approval_wait;
    char url_from[SN_P11_FROM_MAX];
    char ca_from[SN_P11_FROM_MAX];
    char token_from[SN_P11_FROM_MAX];
    /* mTLS: where the client certificate and key come from (loaded into
     * conn.cred by sn_p11_conf_load); the PIN is wiped once used. */
    char *client_cert, *client_key, *client_key_pin, *client_key_pin_file,
        *client_key_module;
};

/* The kinds of failure; each is reported at most once per process. */
enum sn_p11_cause {
    SN_P11_CAUSE_CONF_FILE,
    SN_P11_CAUSE_NO_URL,
    SN_P11_CAUSE_BAD_URL,
    SN_P11_CAUSE_CA_FILE,
    SN_P11_CAUSE_UNREACHABLE,
    SN_P11_CAUSE_TLS,
    SN_P11_CAUSE_TOKEN,       /* the service refused SIGNET_TOKEN */
    SN_P11_CAUSE_PIN,         /* the service refused the PIN of C_Login */
    SN_P11_CAUSE_SERVICE,     /* not Signet's API, or it failed */
    SN_P11_CAUSE_CLIENT_CERT, /* the client certificate or key unusable */
    SN_P11_CAUSE_OIDC,        /* no ID token, or its exchange was refused */
    SN_P11_CAUSE_COUNT
};

/*
 * Reads the environment over the file (c zeroed first). A broken file or
 * a URL that is not https is reported and fails (SN_ERR_CONFIG); a
 * missing URL or an unreadable CA file is reported and left for the
 * exchanges to fail, so that tools can still list the slot.
 */
sn_err sn_p11_conf_load(struct sn_p11_conf *c);
void sn_p11_conf_cleanup(struct sn_p11_conf *c);

/* C_Sign's default wait for approvals, and the longest (a request lives at
 * most a week). */
#define SN_P11_APPROVAL_WAIT_DEFAULT 300
#define SN_P11_APPROVAL_WAIT_MAX 604800

/* Prints "libsignet-pkcs11: <text>" unless cause was already reported. */
void sn_p11_say(enum sn_p11_cause cause, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "libsignet-pkcs11: <text>" every time: one sign request's news
 * (each request is its own, unlike a setting said once). */
void sn_p11_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reports a failed exchange (conn's SN_ERR_IO with a->net set). */
void sn_p11_say_net(const struct sn_p11_conf *c, const struct sn_p11_answer *a);

/* The URL as it may be shown: any user:password@ part is left out. */
void sn_p11_url_shown(const char *url, char *dst, size_t dstlen);

#endif
