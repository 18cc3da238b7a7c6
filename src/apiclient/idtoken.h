/*
 * idtoken: where a CI job's OIDC ID token comes from, shared by the
 * signet CLI and the PKCS#11 module. Three sources, chosen in this order:
 *   1. a file (--id-token-file, or $SIGNET_ID_TOKEN_FILE): re-read at each
 *      use, so a job that writes a fresh token there is followed;
 *   2. an environment variable (--id-token-env NAME, else
 *      $SIGNET_ID_TOKEN): GitLab CI's `id_tokens:` exposes tokens so;
 *   3. GitHub Actions' request endpoint ($ACTIONS_ID_TOKEN_REQUEST_URL
 *      with $ACTIONS_ID_TOKEN_REQUEST_TOKEN as a bearer credential, and
 *      the audience asked for), which mints a fresh token at each call.
 * The ID token and the request token are secrets: never printed, wiped
 * after use. Failures are described in printable text that names the
 * source, never its value. Trusted input: the caller's options and the
 * environment; untrusted: the endpoint's answer (oidcreply.c parses it).
 */
#ifndef SN_IDTOKEN_H
#define SN_IDTOKEN_H

#include <stddef.h>

#include <curl/curl.h>

#include "common/err.h"

enum sn_idtoken_kind {
    SN_IDTOKEN_NONE = 0,
    SN_IDTOKEN_FILE,
    SN_IDTOKEN_ENV,
    SN_IDTOKEN_ACTIONS
};

/* The caller's choices; every pointer is borrowed, any may be NULL. */
struct sn_idtoken_opts {
    const char *file;       /* an explicit file */
    const char *env;        /* an explicit variable name */
    const char *audience;   /* asked of GitHub Actions (NULL: its default) */
    const char *ca_file;    /* trust for the Actions URL (NULL: system) */
    const char *user_agent; /* "signet-cli/0.1" */
};

/* The source picked, and how messages name it. */
struct sn_idtoken_src {
    enum sn_idtoken_kind kind;
    char name[320];   /* "the file F", "$SIGNET_ID_TOKEN", ... */
    const char *file; /* FILE: the path (borrowed from opts or environ) */
    const char *env;  /* ENV: the variable's name */
};

/*
 * Picks the source as the header says. An explicit file or variable is
 * taken even if missing (the use then fails, naming it); without one,
 * the first configured default wins, else kind is SN_IDTOKEN_NONE.
 */
void sn_idtoken_pick(const struct sn_idtoken_opts *o,
                     struct sn_idtoken_src *src);

/*
 * Obtains a token from src (curl is used for GitHub Actions only). *jwt
 * is malloc'd and checked for shape (free with sn_secret_free). On
 * failure why holds a printable reason and nothing is returned.
 */
sn_err sn_idtoken_get(CURL *curl, const struct sn_idtoken_opts *o,
                      const struct sn_idtoken_src *src, char **jwt, char *why,
                      size_t whylen);

#endif
