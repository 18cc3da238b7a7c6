/*
 * oidc: the module's exchange of an ID token for a Signet token, and its
 * renewal. Trusted input: the configuration. Untrusted: the ID token's
 * source (shape-checked by apiclient) and the service's answers (parsed
 * by apiclient/oidcreply.c). Tokens are wiped after use and never said.
 */
#include "pkcs11/oidc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "apiclient/idtoken.h"
#include "apiclient/oidcreply.h"
#include "common/util.h"
#include "pkcs11/conn.h"
#include "pkcs11/reply.h"

#define EXCHANGE_PATH "/v1/auth/oidc"
/* Renew this long before expiry (or at half the lifetime, if shorter). */
#define MARGIN_S 60

static pthread_mutex_t oidc_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
    char *token; /* the current Signet token, or NULL */
    time_t got_at;
    time_t expires_at;
    unsigned char used[SHA256_DIGEST_LENGTH]; /* the last ID token sent */
    int have_used;
} st;

static void
idtoken_opts(const struct sn_p11_conf *c, struct sn_idtoken_opts *o)
{
    const char *e = getenv("SIGNET_ID_TOKEN_CA_FILE");

    memset(o, 0, sizeof(*o));
    o->file = c->id_token_file;
    o->audience = c->audience;
    o->ca_file = e != NULL && e[0] != '\0' ? e : NULL;
    o->user_agent = "signet-pkcs11/0.1";
}

int
sn_p11_oidc_configured(const struct sn_p11_conf *c)
{
    struct sn_idtoken_opts o;
    struct sn_idtoken_src src;

    idtoken_opts(c, &o);
    sn_idtoken_pick(&o, &src);
    return src.kind != SN_IDTOKEN_NONE;
}

/* Whether the held token is usable now, and whether it is due renewal. */
static int
usable(time_t now)
{
    return st.token != NULL && now < st.expires_at;
}

static int
due(time_t now)
{
    time_t margin = (st.expires_at - st.got_at) / 2;

    if (margin > MARGIN_S)
        margin = MARGIN_S;
    return st.token == NULL || now >= st.expires_at - margin;
}

/* POST /v1/auth/oidc {"token": jwt}, no Authorization; *g on success. */
static sn_err
exchange(const struct sn_p11_conf *c, const char *jwt, const char *src_name,
         struct sn_oidc_grant *g)
{
    struct sn_p11_answer a = {0};
    char *body = NULL, code[64], msg[256];
    size_t cap = strlen(jwt) + 16;
    sn_err r = SN_ERR_NOMEM;

    if ((body = malloc(cap)) == NULL)
        goto out;
    /* A checked JWT is base64url and dots: nothing to escape in JSON. */
    snprintf(body, cap, "{\"token\":\"%s\"}", jwt);
    r = sn_p11_conn_request(&c->conn, NULL, "POST", EXCHANGE_PATH, body, &a);
    if (r != SN_OK) {
        if (r == SN_ERR_IO)
            sn_p11_say_net(c, &a);
        goto out;
    }
    r = SN_ERR_STATE;
    if (a.status < 200 || a.status > 299) {
        sn_p11_parse_error(a.body, a.len, code, sizeof(code), msg, sizeof(msg));
        sn_p11_say(SN_P11_CAUSE_OIDC,
                   "the service refused the ID token from %s (HTTP %ld%s%s): "
                   "%s",
                   src_name, a.status, code[0] != '\0' ? " " : "", code,
                   msg[0] != '\0' ? msg : "no reason given");
        goto out;
    }
    if (sn_oidc_parse_grant(a.body, a.len, g) != SN_OK) {
        sn_p11_say(SN_P11_CAUSE_OIDC,
                   "the service's answer to POST " EXCHANGE_PATH
                   " is not a token grant");
        goto out;
    }
    r = SN_OK;
out:
    if (body != NULL) {
        OPENSSL_cleanse(body, strlen(body));
        free(body);
    }
    if (a.body != NULL)
        OPENSSL_cleanse(a.body, a.len);
    sn_p11_answer_cleanup(&a);
    return r;
}

/* A fresh ID token from the source, exchanged; st updated (lock held). */
static sn_err
renew(const struct sn_p11_conf *c, time_t now)
{
    struct sn_oidc_grant g = {0};
    struct sn_idtoken_opts o;
    struct sn_idtoken_src src;
    unsigned char h[SHA256_DIGEST_LENGTH];
    char *jwt = NULL, why[512];
    CURL *curl = NULL;
    sn_err r;

    idtoken_opts(c, &o);
    sn_idtoken_pick(&o, &src);
    if (src.kind == SN_IDTOKEN_ACTIONS && (curl = curl_easy_init()) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    if ((r = sn_idtoken_get(curl, &o, &src, &jwt, why, sizeof(why))) != SN_OK) {
        sn_p11_say(SN_P11_CAUSE_OIDC, "%s", why);
        r = SN_ERR_STATE;
        goto out;
    }
    SHA256((const unsigned char *)jwt, strlen(jwt), h);
    if (st.have_used && CRYPTO_memcmp(h, st.used, sizeof(h)) == 0) {
        /* Sent once already: the server would refuse it as a replay. */
        r = SN_ERR_STATE;
        if (!usable(now))
            sn_p11_say(SN_P11_CAUSE_OIDC,
                       "the Signet token from %s expired and it holds no "
                       "fresh ID token (the one there was exchanged already)",
                       src.name);
        goto out;
    }
    memcpy(st.used, h, sizeof(h));
    st.have_used = 1;
    if ((r = exchange(c, jwt, src.name, &g)) != SN_OK)
        goto out;
    sn_secret_free(st.token);
    st.token = g.token;
    g.token = NULL;
    st.got_at = now;
    st.expires_at = g.expires_at;
out:
    if (curl != NULL)
        curl_easy_cleanup(curl);
    sn_secret_free(jwt);
    sn_oidc_grant_cleanup(&g);
    return r;
}

sn_err
sn_p11_oidc_token(const struct sn_p11_conf *c, char **token)
{
    time_t now = time(NULL);
    sn_err r = SN_OK;

    *token = NULL;
    pthread_mutex_lock(&oidc_lock);
    if (due(now))
        r = renew(c, now);
    /* A failed renewal leaves a token that is still valid in use. */
    if (usable(now)) {
        r = SN_ERR_NOMEM;
        if ((*token = strdup(st.token)) != NULL)
            r = SN_OK;
    } else if (r == SN_OK) {
        /* Granted, yet already expired: our clock or the server's is off. */
        sn_p11_say(SN_P11_CAUSE_OIDC,
                   "the Signet token from the exchange has already expired: "
                   "is this machine's clock right?");
        r = SN_ERR_STATE;
    }
    pthread_mutex_unlock(&oidc_lock);
    return r;
}

void
sn_p11_oidc_reset(void)
{
    pthread_mutex_lock(&oidc_lock);
    sn_secret_free(st.token);
    OPENSSL_cleanse(&st, sizeof(st));
    memset(&st, 0, sizeof(st));
    pthread_mutex_unlock(&oidc_lock);
}
