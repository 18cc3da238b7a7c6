/*
 * sessioncmd: a person's login (issue 17). `signet login --name NAME`
 * reads the password and then the authenticator's code (or a recovery
 * code) from the terminal without echo, or one line each from standard
 * input; POST /v1/sessions answers with a session token, which is stored
 * (sessionfile.h) for later commands; `signet logout` ends it. Trusted:
 * the command line and the person's input. Untrusted: the server's
 * answer, checked field by field before it is stored. The password, the
 * code and the token are wiped after use and never printed.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "apiclient/oidcreply.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/secretin.h"
#include "cli/sessionfile.h"
#include "common/util.h"
#include "crypto/apitoken.h"

/* The server's limits (POST /v1/sessions): a password of at most 1024
 * bytes, a code of 6 digits, a recovery code of at most 32 characters. */
#define PASSWORD_MAX 1024
#define CODE_MAX 32

sn_err
sn_cli_account_name_check(struct sn_cli *cli, const char *name)
{
    size_t i, len = strlen(name);

    if (len == 0 || len > 64)
        goto bad;
    for (i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
              c == '@'))
            goto bad;
    }
    return SN_OK;
bad:
    return sn_cli_usage(cli, "account names are 1-64 characters of "
                             "A-Z a-z 0-9 . _ - @");
}

int
sn_cli_totp_code(const char *in, char out[SN_CLI_TOTP_LEN + 1])
{
    size_t i, n = 0;

    /* Apps show "123 456": the digits without the spaces. */
    for (i = 0; in[i] != '\0'; i++) {
        if (in[i] == ' ')
            continue;
        if (in[i] < '0' || in[i] > '9' || n == SN_CLI_TOTP_LEN)
            return 0;
        out[n++] = in[i];
    }
    out[n] = '\0';
    return n == SN_CLI_TOTP_LEN;
}

/* A recovery code as typed: base32 letters and digits, dashes, spaces. */
static int
recovery_shaped(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '2' && c <= '7') || c == '-' || c == ' '))
            return 0;
    }
    return i > 0 && i <= CODE_MAX;
}

/* The password, then the code line ("" when there is none). */
static sn_err
read_login(struct sn_cli *cli, const char *name, char *pw, size_t pwlen,
           char *code, size_t codelen)
{
    char prompt[160];
    sn_err r;

    snprintf(prompt, sizeof(prompt), "Password for %s: ", name);
    r = sn_secretin_prompt(prompt, pw, pwlen);
    if (r == SN_ERR_NOT_FOUND)
        return sn_cli_fail(cli, SN_ERR_INVALID,
                           "no password given (standard input ended)");
    if (r == SN_ERR_LIMIT)
        return sn_cli_fail(cli, r, "the password is longer than %d bytes",
                           PASSWORD_MAX);
    if (r != SN_OK)
        return sn_cli_fail(cli, r, "cannot read the password");
    if (pw[0] == '\0')
        return sn_cli_fail(cli, SN_ERR_INVALID, "the password is empty");
    r = sn_secretin_prompt("Code from your authenticator app, or a recovery "
                           "code (empty if you have enrolled none yet): ",
                           code, codelen);
    /* No second line: an account that has no second factor yet. */
    if (r == SN_ERR_NOT_FOUND)
        r = SN_OK;
    if (r != SN_OK)
        return sn_cli_fail(cli, r == SN_ERR_LIMIT ? SN_ERR_INVALID : r,
                           "the code is not a 6-digit code or a recovery "
                           "code");
    return SN_OK;
}

/* {"name","password"[,"code"|"recovery_code"]} as text (*text wiped and
 * freed by the caller). */
static sn_err
login_body(struct sn_cli *cli, const char *name, const char *pw,
           const char *code, char **text)
{
    char digits[SN_CLI_TOTP_LEN + 1];
    json_t *req = NULL;
    sn_err r = SN_ERR_NOMEM;
    int rc = 0;

    *text = NULL;
    if ((req = json_pack("{s:s, s:s}", "name", name, "password", pw)) == NULL)
        goto out;
    if (code[0] != '\0') {
        if (sn_cli_totp_code(code, digits))
            rc = json_object_set_new(req, "code", json_string(digits));
        else if (recovery_shaped(code))
            rc = json_object_set_new(req, "recovery_code", json_string(code));
        else {
            r = sn_cli_fail(cli, SN_ERR_INVALID,
                            "the code is not a 6-digit code or a recovery "
                            "code");
            goto out;
        }
        if (rc != 0)
            goto out;
    }
    if ((*text = json_dumps(req, JSON_COMPACT)) == NULL)
        goto out;
    r = SN_OK;
out:
    if (r == SN_ERR_NOMEM)
        sn_cli_fail(cli, r, "out of memory");
    OPENSSL_cleanse(digits, sizeof(digits));
    sn_oidc_wipe_member(req, "password");
    sn_oidc_wipe_member(req, "code");
    sn_oidc_wipe_member(req, "recovery_code");
    json_decref(req);
    return r;
}

/* The session from POST /v1/sessions' answer (untrusted). */
static sn_err
parse_grant(struct sn_cli *cli, const json_t *reply, struct sn_sessionfile *s)
{
    const char *token = sn_out_str(reply, "token");
    const char *exp = sn_out_str(reply, "expires_at");
    const char *account = sn_out_str(reply, "account");
    const json_t *mfa = json_object_get(reply, "mfa");
    size_t i, len = token != NULL ? strlen(token) : 0;

    if (len == 0 || len > SN_TOKEN_MAX_LEN || !json_is_boolean(mfa) ||
        (exp != NULL && sn_time_parse(exp, &s->expires_at) != SN_OK) ||
        (account != NULL && strlen(account) >= sizeof(s->account)))
        goto bad;
    for (i = 0; i < len; i++)
        if ((unsigned char)token[i] <= 0x20 || (unsigned char)token[i] >= 0x7f)
            goto bad;
    if ((s->token = strdup(token)) == NULL)
        return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    snprintf(s->account, sizeof(s->account), "%s",
             account != NULL ? account : "");
    s->mfa = json_is_true(mfa);
    return SN_OK;
bad:
    return sn_cli_fail(cli, SN_ERR_INVALID,
                       "the server's answer to POST /v1/sessions is not a "
                       "session");
}

/* The session's settings besides the token: where, verified by what. */
static sn_err
session_init(struct sn_cli *cli, const char *name, struct sn_sessionfile *s)
{
    char abs[PATH_MAX];

    memset(s, 0, sizeof(*s));
    if (strlen(cli->url) > SN_SESSIONFILE_URL_MAX)
        return sn_cli_usage(cli, "the URL is too long");
    snprintf(s->url, sizeof(s->url), "%s", cli->url);
    snprintf(s->name, sizeof(s->name), "%s", name);
    if (cli->ca_file != NULL) {
        /* Absolute: later commands run from other directories. */
        if (realpath(cli->ca_file, abs) == NULL)
            return sn_cli_usage(cli, "cannot find the CA file %s: %s",
                                cli->ca_file, strerror(errno));
        if (strlen(abs) >= sizeof(s->ca_file))
            return sn_cli_usage(cli, "the CA file's path is too long");
        snprintf(s->ca_file, sizeof(s->ca_file), "%s", abs);
    }
    return SN_OK;
}

static void
print_login(const struct sn_sessionfile *s, const json_t *reply)
{
    char path[SN_SESSIONFILE_PATH_MAX], exp[SN_TIME_LEN];
    const json_t *idle = json_object_get(reply, "idle_timeout");

    printf("signet: logged in as %s at ", s->name);
    sn_out_text(stdout, s->url, 0);
    if (s->expires_at != 0) {
        sn_time_format(s->expires_at, exp);
        printf("; the session ends at %s", exp);
    }
    if (json_is_integer(idle) && json_integer_value(idle) > 0)
        printf(", or after %" JSON_INTEGER_FORMAT " s unused",
               json_integer_value(idle));
    fputc('\n', stdout);
    if (sn_sessionfile_path(path, sizeof(path)) == SN_OK)
        printf("signet: the session is stored in %s\n", path);
    if (!s->mfa) {
        printf("signet: no second factor yet: this session can only enrol "
               "one (signet account totp ");
        sn_out_text(stdout, s->account[0] != '\0' ? s->account : "ID", 0);
        printf(", then signet account confirm ");
        sn_out_text(stdout, s->account[0] != '\0' ? s->account : "ID", 0);
        printf(" CODE, then signet login again)\n");
    }
}

sn_err
sn_cli_password_login(struct sn_cli *cli)
{
    const char *name = cli->opt[SN_OPT_NAME];
    char pw[PASSWORD_MAX + 1], code[CODE_MAX + 1], why[512];
    struct sn_sessionfile s;
    json_t *reply = NULL;
    char *text = NULL;
    sn_err r;

    memset(&s, 0, sizeof(s));
    pw[0] = code[0] = '\0';
    if (cli->opt[SN_OPT_OUT] != NULL) {
        r = sn_cli_usage(cli, "--out is for login --oidc: a person's "
                              "session is stored in the session file");
        goto out;
    }
    if ((r = sn_cli_account_name_check(cli, name)) != SN_OK ||
        (r = session_init(cli, name, &s)) != SN_OK ||
        (r = sn_cli_connect_public(cli)) != SN_OK ||
        (r = read_login(cli, name, pw, sizeof(pw), code, sizeof(code))) !=
            SN_OK ||
        (r = login_body(cli, name, pw, code, &text)) != SN_OK)
        goto out;
    OPENSSL_cleanse(pw, sizeof(pw));
    OPENSSL_cleanse(code, sizeof(code));
    r = sn_client_send(cli->client, "POST", "/v1/sessions", "application/json",
                       text, strlen(text), &reply);
    if (r != SN_OK)
        goto out;
    if ((r = parse_grant(cli, reply, &s)) != SN_OK)
        goto out;
    if ((r = sn_sessionfile_save(&s, why, sizeof(why))) != SN_OK) {
        r = sn_cli_fail(cli, r, "the session could not be stored: %s", why);
        goto out;
    }
    if (cli->json) {
        /* The API's answer without the token, which is in the file. */
        sn_oidc_wipe_member(reply, "token");
        json_object_del(reply, "token");
        sn_out_json(reply);
    } else {
        print_login(&s, reply);
    }
out:
    OPENSSL_cleanse(pw, sizeof(pw));
    OPENSSL_cleanse(code, sizeof(code));
    if (text != NULL) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    sn_oidc_wipe_member(reply, "token");
    json_decref(reply);
    sn_sessionfile_cleanup(&s);
    return r;
}

/* DELETE /v1/sessions/current with the stored session's own settings. */
static sn_err
end_session(struct sn_cli *cli, const struct sn_sessionfile *s)
{
    struct sn_client *c = NULL;
    json_t *reply = NULL;
    sn_err r;

    r = sn_client_new(s->url, s->token,
                      s->ca_file[0] != '\0' ? s->ca_file : NULL, &cli->err, &c);
    if (r == SN_OK)
        r = sn_client_json(c, "DELETE", "/v1/sessions/current", NULL, &reply);
    json_decref(reply);
    sn_client_free(c);
    return r;
}

sn_err
sn_cmd_logout(struct sn_cli *cli)
{
    struct sn_sessionfile s;
    char why[512], exp[SN_TIME_LEN] = "its expiry";
    char msg[sizeof(cli->err.message)];
    sn_err r, rm;

    why[0] = '\0';
    r = sn_sessionfile_load(&s, why, sizeof(why));
    if (r == SN_ERR_NOT_FOUND) {
        fprintf(stderr, "signet: not logged in (no stored session)\n");
        return SN_OK;
    }
    if (r != SN_OK) {
        /* Unusable: remove it all the same, which is what was asked. */
        rm = sn_sessionfile_remove(why, sizeof(why));
        return sn_cli_fail(cli, r, "the stored session could not be read; %s",
                           rm == SN_OK ? "it was removed" : why);
    }
    r = end_session(cli, &s);
    rm = sn_sessionfile_remove(why, sizeof(why));
    if (s.expires_at != 0)
        sn_time_format(s.expires_at, exp);
    if (rm != SN_OK && rm != SN_ERR_NOT_FOUND) {
        r = sn_cli_fail(cli, rm, "%s", why);
    } else if (r == SN_OK) {
        printf("signet: logged out (the session has ended)\n");
    } else if (cli->err.status == 401) {
        /* Expired, idle too long or ended elsewhere: nothing to end. */
        printf("signet: the server no longer accepted the session (it had "
               "ended); the stored session was removed\n");
        r = SN_OK;
    } else {
        snprintf(msg, sizeof(msg), "%s", cli->err.message);
        r = sn_cli_fail(cli, r,
                        "the server did not end the session (%.300s); the "
                        "stored session was removed anyway, and the session "
                        "itself ends by %s",
                        msg, exp);
    }
    sn_sessionfile_cleanup(&s);
    return r;
}

/* URLs equal but for one trailing slash. */
static int
same_url(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la > 0 && a[la - 1] == '/')
        la--;
    if (lb > 0 && b[lb - 1] == '/')
        lb--;
    return la == lb && strncmp(a, b, la) == 0;
}

sn_err
sn_cli_session_cred(struct sn_cli *cli)
{
    struct sn_sessionfile *s = NULL;
    char why[512], exp[SN_TIME_LEN];
    sn_err r;

    if ((s = calloc(1, sizeof(*s))) == NULL)
        return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    why[0] = '\0';
    if ((r = sn_sessionfile_load(s, why, sizeof(why))) != SN_OK) {
        if (r != SN_ERR_NOT_FOUND)
            r = sn_cli_fail(cli, r, "%s", why);
        goto out;
    }
    if (s->expires_at != 0 && s->expires_at <= time(NULL)) {
        sn_time_format(s->expires_at, exp);
        r = sn_cli_fail(cli, SN_ERR_STATE,
                        "session expired: run signet login (the stored "
                        "session of %s ended at %s)",
                        s->name[0] != '\0' ? s->name : "your account", exp);
        goto out;
    }
    /* The token goes only to the server that issued it. */
    if (cli->url_given && !same_url(cli->url, s->url)) {
        r = sn_cli_fail(cli, SN_ERR_STATE,
                        "the stored session is for %.200s, not %.200s: run "
                        "signet login --url %.200s, or give a token",
                        s->url, cli->url, cli->url);
        goto out;
    }
    if ((cli->token = strdup(s->token)) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    sn_sessionfile_cleanup(s);
    cli->url = s->url;
    if (!cli->ca_given && s->ca_file[0] != '\0')
        cli->ca_file = s->ca_file;
    cli->session = s;
    s = NULL;
    r = SN_OK;
out:
    if (s != NULL)
        sn_sessionfile_cleanup(s);
    free(s);
    return r;
}

void
sn_cli_session_free(struct sn_cli *cli)
{
    if (cli->session != NULL)
        sn_sessionfile_cleanup(cli->session);
    free(cli->session);
    cli->session = NULL;
}
