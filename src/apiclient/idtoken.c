/*
 * idtoken: obtains a CI job's ID token from a file, a variable or GitHub
 * Actions' endpoint. Trusted input: the caller's options and environment.
 * Untrusted: the endpoint's answer, bounded by apiclient and parsed by
 * oidcreply.c. The request token and the ID token are wiped after use.
 */
#include "apiclient/idtoken.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "apiclient/apiclient.h"
#include "apiclient/oidcreply.h"
#include "common/util.h"

#define ACTIONS_URL_ENV "ACTIONS_ID_TOKEN_REQUEST_URL"
#define ACTIONS_TOKEN_ENV "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
#define CONNECT_TIMEOUT_S 10L
#define TOTAL_TIMEOUT_S 30L
#define RETRIES 2
/* A file holds one token and perhaps a newline. */
#define FILE_MAX (SN_IDTOKEN_MAX + 64)

static const char *
env_set(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : NULL;
}

void
sn_idtoken_pick(const struct sn_idtoken_opts *o, struct sn_idtoken_src *src)
{
    const char *v;

    memset(src, 0, sizeof(*src));
    if (o->file != NULL || (v = env_set("SIGNET_ID_TOKEN_FILE")) != NULL) {
        src->kind = SN_IDTOKEN_FILE;
        src->file = o->file != NULL ? o->file : v;
        snprintf(src->name, sizeof(src->name), "the ID token file %s%s",
                 src->file, o->file != NULL ? "" : " ($SIGNET_ID_TOKEN_FILE)");
    } else if (o->env != NULL || env_set("SIGNET_ID_TOKEN") != NULL) {
        src->kind = SN_IDTOKEN_ENV;
        src->env = o->env != NULL ? o->env : "SIGNET_ID_TOKEN";
        snprintf(src->name, sizeof(src->name), "$%.200s", src->env);
    } else if (env_set(ACTIONS_URL_ENV) != NULL &&
               env_set(ACTIONS_TOKEN_ENV) != NULL) {
        src->kind = SN_IDTOKEN_ACTIONS;
        snprintf(src->name, sizeof(src->name),
                 "GitHub Actions' ID token endpoint ($" ACTIONS_URL_ENV ")");
    }
}

static sn_err
from_file(const struct sn_idtoken_src *src, char **jwt, char *why,
          size_t whylen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    sn_err r;

    if ((r = sn_file_read(src->file, FILE_MAX, &buf, &len)) != SN_OK) {
        snprintf(why, whylen, "cannot read %s: %s", src->name, sn_err_str(r));
        goto out;
    }
    r = SN_ERR_INVALID;
    if (memchr(buf, '\0', len) != NULL ||
        sn_idtoken_trim_check((char *)buf) != SN_OK) {
        snprintf(why, whylen, "%s does not hold an ID token (a JWT)",
                 src->name);
        goto out;
    }
    *jwt = (char *)buf;
    buf = NULL;
    r = SN_OK;
out:
    if (buf != NULL)
        OPENSSL_cleanse(buf, len);
    free(buf);
    return r;
}

static sn_err
from_env(const struct sn_idtoken_src *src, char **jwt, char *why, size_t whylen)
{
    const char *v = env_set(src->env);
    char *copy;

    if (v == NULL) {
        snprintf(why, whylen, "%s is not set", src->name);
        return SN_ERR_NOT_FOUND;
    }
    if ((copy = strdup(v)) == NULL) {
        snprintf(why, whylen, "out of memory");
        return SN_ERR_NOMEM;
    }
    if (sn_idtoken_trim_check(copy) != SN_OK) {
        sn_secret_free(copy);
        snprintf(why, whylen, "%s does not hold an ID token (a JWT)",
                 src->name);
        return SN_ERR_INVALID;
    }
    *jwt = copy;
    return SN_OK;
}

/* The request URL with "audience=A" appended, A percent-encoded. */
static sn_err
actions_url(CURL *curl, const char *base, const char *audience, char *url,
            size_t len)
{
    char *esc = NULL;
    int n;

    if (audience == NULL) {
        n = snprintf(url, len, "%s", base);
    } else {
        if ((esc = curl_easy_escape(curl, audience, 0)) == NULL)
            return SN_ERR_NOMEM;
        n = snprintf(url, len, "%s%saudience=%s", base,
                     strchr(base, '?') != NULL ? "&" : "?", esc);
        curl_free(esc);
    }
    return n < 0 || (size_t)n >= len ? SN_ERR_LIMIT : SN_OK;
}

static sn_err
from_actions(CURL *curl, const struct sn_idtoken_opts *o,
             const struct sn_idtoken_src *src, char **jwt, char *why,
             size_t whylen)
{
    const char *base = env_set(ACTIONS_URL_ENV),
               *rtok = env_set(ACTIONS_TOKEN_ENV);
    struct sn_api_req req = {.method = "GET",
                             .path = "",
                             .token = rtok,
                             .accept = "application/json"};
    struct sn_api_resp resp = {0};
    struct sn_api_cfg cfg = {0};
    char url[SN_API_MAX_URL];
    sn_err r = SN_ERR_CONFIG;

    if (base == NULL || rtok == NULL || strncmp(base, "https://", 8) != 0 ||
        !sn_api_header_safe(base) || !sn_api_header_safe(rtok)) {
        snprintf(why, whylen,
                 "%s: $" ACTIONS_URL_ENV
                 " must be an https URL and $" ACTIONS_TOKEN_ENV
                 " a token (does the job have "
                 "'permissions: id-token: write'?)",
                 src->name);
        goto out;
    }
    if ((r = actions_url(curl, base, o->audience, url, sizeof(url))) != SN_OK) {
        snprintf(why, whylen, "%s: the request URL is too long", src->name);
        goto out;
    }
    cfg.base = url;
    cfg.ca_file = o->ca_file;
    cfg.user_agent = o->user_agent != NULL ? o->user_agent : "signet";
    cfg.connect_timeout_s = CONNECT_TIMEOUT_S;
    cfg.total_timeout_s = TOTAL_TIMEOUT_S;
    cfg.max_response = SN_IDTOKEN_MAX_REPLY;
    cfg.max_header = SN_API_MAX_HEADER;
    cfg.retries = RETRIES;
    if ((r = sn_api_perform(curl, &cfg, &req, &resp)) != SN_OK) {
        snprintf(why, whylen, "%s: %s", src->name,
                 resp.fail == SN_API_FAIL_TRANSPORT ? resp.detail
                                                    : sn_err_str(r));
        goto out;
    }
    r = SN_ERR_STATE;
    if (resp.status != 200) {
        snprintf(why, whylen, "%s answered HTTP %ld", src->name, resp.status);
        goto out;
    }
    if ((r = sn_oidc_parse_actions(resp.body, resp.len, jwt)) != SN_OK) {
        snprintf(why, whylen, "%s sent no ID token ({\"value\": JWT})",
                 src->name);
        goto out;
    }
out:
    OPENSSL_cleanse(url, sizeof(url));
    if (resp.body != NULL)
        OPENSSL_cleanse(resp.body, resp.len);
    sn_api_resp_cleanup(&resp);
    return r;
}

sn_err
sn_idtoken_get(CURL *curl, const struct sn_idtoken_opts *o,
               const struct sn_idtoken_src *src, char **jwt, char *why,
               size_t whylen)
{
    *jwt = NULL;
    why[0] = '\0';
    switch (src->kind) {
    case SN_IDTOKEN_FILE:
        return from_file(src, jwt, why, whylen);
    case SN_IDTOKEN_ENV:
        return from_env(src, jwt, why, whylen);
    case SN_IDTOKEN_ACTIONS:
        return from_actions(curl, o, src, jwt, why, whylen);
    default:
        snprintf(why, whylen,
                 "no ID token: give --id-token-file FILE or --id-token-env "
                 "NAME, set $SIGNET_ID_TOKEN_FILE or $SIGNET_ID_TOKEN, or "
                 "run in GitHub Actions with 'permissions: id-token: write'");
        return SN_ERR_NOT_FOUND;
    }
}
