/*
 * logincmd: `signet login --oidc` and the implicit exchange of `--oidc`
 * with any other command (`signet login --name`, a person's login, is
 * sessioncmd.c's). An ID token (a file, a variable, or GitHub
 * Actions' endpoint: apiclient/idtoken.h) is exchanged at POST
 * /v1/auth/oidc for a short-lived Signet token scoped by the server's
 * trust policy. Trusted input: the command line and the environment.
 * Untrusted: the platform's and the server's answers, parsed by
 * apiclient/oidcreply.c. Neither the ID token nor the Signet token is ever
 * in a message; both are wiped after use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "apiclient/idtoken.h"
#include "apiclient/oidcreply.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "common/util.h"

#define EXCHANGE_PATH "/v1/auth/oidc"

/* The ID token source from the options and the environment. */
static void
idtoken_opts(const struct sn_cli *cli, struct sn_idtoken_opts *o)
{
    const char *e;

    memset(o, 0, sizeof(*o));
    o->file = cli->opt[SN_OPT_ID_TOKEN_FILE];
    o->env = cli->opt[SN_OPT_ID_TOKEN_ENV];
    o->audience = cli->opt[SN_OPT_AUDIENCE];
    if (o->audience == NULL && (e = getenv("SIGNET_OIDC_AUDIENCE")) != NULL &&
        e[0] != '\0')
        o->audience = e;
    if ((e = getenv("SIGNET_ID_TOKEN_CA_FILE")) != NULL && e[0] != '\0')
        o->ca_file = e;
    o->user_agent = "signet-cli/0.1";
}

/* Obtains the ID token; *jwt is a secret. */
static sn_err
obtain(struct sn_cli *cli, char **jwt, char *src_name, size_t namelen)
{
    struct sn_idtoken_opts o;
    struct sn_idtoken_src src;
    char why[512];
    CURL *curl = NULL;
    sn_err r;

    idtoken_opts(cli, &o);
    sn_idtoken_pick(&o, &src);
    snprintf(src_name, namelen, "%s", src.name);
    if (src.kind == SN_IDTOKEN_ACTIONS && (curl = curl_easy_init()) == NULL)
        return sn_cli_fail(cli, SN_ERR_INTERNAL, "cannot initialise libcurl");
    r = sn_idtoken_get(curl, &o, &src, jwt, why, sizeof(why));
    if (curl != NULL)
        curl_easy_cleanup(curl);
    if (r != SN_OK)
        return sn_cli_fail(cli, r, "%s", why);
    return SN_OK;
}

/* POST /v1/auth/oidc {"token": jwt} with no Authorization; raw answer. */
static sn_err
post_exchange(struct sn_cli *cli, const char *jwt, const char *src_name,
              struct sn_client_body *out)
{
    struct sn_client *pub = NULL;
    char *body = NULL, msg[sizeof(cli->err.message)];
    size_t cap = strlen(jwt) + 16;
    sn_err r;

    memset(out, 0, sizeof(*out));
    r = sn_client_new(cli->url, NULL, cli->ca_file, &cli->err, &pub);
    if (r != SN_OK) {
        if (r == SN_ERR_INVALID)
            cli->usage = 1;
        goto out;
    }
    r = SN_ERR_NOMEM;
    if ((body = malloc(cap)) == NULL)
        goto out;
    /* A checked JWT is base64url and dots: nothing to escape in JSON. */
    snprintf(body, cap, "{\"token\":\"%s\"}", jwt);
    r = sn_client_post_raw(pub, EXCHANGE_PATH, "application/json",
                           "application/json", body, strlen(body), out);
    if (r != SN_OK && cli->err.status != 0) {
        /* Say which ID token was refused; the server's reason follows. */
        snprintf(msg, sizeof(msg),
                 "the exchange of the ID token from %.150s "
                 "was refused: %.300s",
                 src_name, cli->err.message);
        memcpy(cli->err.message, msg, sizeof(msg));
    }
out:
    if (body != NULL) {
        OPENSSL_cleanse(body, strlen(body));
        free(body);
    }
    sn_client_free(pub);
    return r;
}

sn_err
sn_cli_oidc_exchange(struct sn_cli *cli, struct sn_oidc_grant *g,
                     json_t **reply)
{
    char *jwt = NULL, src_name[320];
    struct sn_client_body b = {0};
    sn_err r;

    memset(g, 0, sizeof(*g));
    if (reply != NULL)
        *reply = NULL;
    if ((r = obtain(cli, &jwt, src_name, sizeof(src_name))) != SN_OK)
        goto out;
    if ((r = post_exchange(cli, jwt, src_name, &b)) != SN_OK)
        goto out;
    if ((r = sn_oidc_parse_grant(b.data, b.len, g)) != SN_OK) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server's answer to " EXCHANGE_PATH
                        " is not a token grant");
        goto out;
    }
    if (reply != NULL)
        *reply = json_loadb((const char *)b.data, b.len, 0, NULL);
out:
    sn_secret_free(jwt);
    if (b.data != NULL)
        OPENSSL_cleanse(b.data, b.len);
    sn_client_body_cleanup(&b);
    return r;
}

/* The grant, without its token, on stderr or stdout. */
static void
print_grant(FILE *f, const struct sn_oidc_grant *g, const char *where)
{
    fprintf(f, "signet: a Signet token %s, valid until %s", where,
            g->expires_text);
    if (g->trust_policy[0] != '\0') {
        fputs(" (trust policy ", f);
        sn_out_text(f, g->trust_policy, 0);
        fputc(')', f);
    }
    fprintf(f, ", for %zu key%s\n", g->nkeys, g->nkeys == 1 ? "" : "s");
}

/* --json: the API's answer, less the token if it went to a file. */
static sn_err
print_json(struct sn_cli *cli, json_t *reply, int drop_token)
{
    if (reply == NULL)
        return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    if (drop_token) {
        sn_oidc_wipe_member(reply, "token");
        json_object_del(reply, "token");
    }
    sn_out_json(reply);
    return SN_OK;
}

/* --out FILE: the bare token and a newline, mode 0600. */
static sn_err
write_token(struct sn_cli *cli, const char *path, const char *token)
{
    size_t len = strlen(token);
    char *line = malloc(len + 2);
    sn_err r;

    if (line == NULL)
        return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    memcpy(line, token, len);
    line[len] = '\n';
    line[len + 1] = '\0';
    if ((r = sn_out_private_file(path, line, len + 1)) != SN_OK)
        r = sn_cli_fail(cli, r, "cannot write %s: %s", path, strerror(errno));
    sn_secret_free(line);
    return r;
}

sn_err
sn_cmd_login(struct sn_cli *cli)
{
    const char *out = cli->opt[SN_OPT_OUT];
    struct sn_oidc_grant g;
    json_t *reply = NULL;
    sn_err r;

    memset(&g, 0, sizeof(g));
    if (cli->seen[SN_OPT_OIDC] && cli->opt[SN_OPT_NAME] != NULL) {
        r = sn_cli_usage(cli, "give --oidc (a CI job) or --name (a person's "
                              "account), not both");
        goto out;
    }
    /* A person: password and second factor (sessioncmd.c). */
    if (cli->opt[SN_OPT_NAME] != NULL) {
        r = sn_cli_password_login(cli);
        goto out;
    }
    if (!cli->seen[SN_OPT_OIDC]) {
        r = sn_cli_usage(cli, "login needs --name NAME (a person's account) "
                              "or --oidc (an ID token from the CI platform, "
                              "exchanged for a Signet token)");
        goto out;
    }
    if ((r = sn_cli_check_out(cli, out)) != SN_OK)
        goto out;
    r = sn_cli_oidc_exchange(cli, &g, cli->json ? &reply : NULL);
    if (r != SN_OK)
        goto out;
    if (out != NULL && (r = write_token(cli, out, g.token)) != SN_OK)
        goto out;
    if (cli->json) {
        r = print_json(cli, reply, out != NULL);
    } else if (out != NULL) {
        print_grant(stdout, &g, "is in the file");
    } else {
        /* For eval "$(signet login --oidc)": the token goes to stdout. */
        printf("export SIGNET_TOKEN=%s\n", g.token);
        print_grant(stderr, &g, "as an export line");
    }
out:
    sn_oidc_wipe_member(reply, "token");
    json_decref(reply);
    sn_oidc_grant_cleanup(&g);
    return r;
}

sn_err
sn_cli_oidc_token(struct sn_cli *cli)
{
    struct sn_oidc_grant g;
    sn_err r;

    if ((r = sn_cli_oidc_exchange(cli, &g, NULL)) != SN_OK)
        return r;
    sn_secret_free(cli->token);
    cli->token = g.token;
    g.token = NULL;
    sn_oidc_grant_cleanup(&g);
    return SN_OK;
}
