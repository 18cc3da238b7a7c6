/*
 * accountcmd: people's accounts (issue 17): create one with a password
 * read from a file or standard input (never from the command line), list
 * them, enrol and confirm a TOTP authenticator (the recovery codes are
 * shown once), disable one, and the operator's periodic review of who can
 * do what. Trusted: the command line and the password file. Untrusted:
 * the server's answers, printed only through the output filters; the
 * otpauth URI and the recovery codes are secrets, wiped after printing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "apiclient/oidcreply.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/secretin.h"

#define PASSWORD_MAX 1024
#define PATH_LEN 512

static const char *const operator_roles[] = {"identity", "ca", "revocation",
                                             "subscribers", NULL};
static const char *const subscriber_roles[] = {"manage", "sign", "approve",
                                               NULL};

static int
in_list(const char *const *list, const char *s)
{
    for (; *list != NULL; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

/* Roles are all a subscriber's (with --subscriber) or all an operator's. */
static sn_err
check_roles(struct sn_cli *cli, int subscriber)
{
    size_t i;

    if (cli->nroles == 0)
        return sn_cli_usage(cli, "account create needs at least one --role");
    for (i = 0; i < cli->nroles; i++) {
        if (subscriber && !in_list(subscriber_roles, cli->roles[i]))
            return sn_cli_usage(cli,
                                "unknown role '%.64s' for a subscriber's "
                                "account (use manage, sign or approve)",
                                cli->roles[i]);
        if (!subscriber && !in_list(operator_roles, cli->roles[i]))
            return sn_cli_usage(
                cli,
                "unknown role '%.64s' for an operator's account (use "
                "identity, ca, revocation or subscribers; a subscriber's "
                "account needs --subscriber ID)",
                cli->roles[i]);
    }
    return SN_OK;
}

/* The new password from --password-file (a file, or - for standard
 * input: typed twice on a terminal). */
static sn_err
read_password(struct sn_cli *cli, const char *path, const char *name, char *pw,
              size_t len)
{
    char prompt[160], again[PASSWORD_MAX + 1];
    sn_err r;

    snprintf(prompt, sizeof(prompt), "Password for the new account %s: ", name);
    r = sn_secretin_file(path, prompt, pw, len);
    if (r == SN_ERR_NOT_FOUND && strcmp(path, "-") != 0)
        return sn_cli_usage(cli,
                            "cannot read the password file %s: no such "
                            "file",
                            path);
    if (r == SN_ERR_NOT_FOUND || (r == SN_OK && pw[0] == '\0'))
        return sn_cli_fail(cli, SN_ERR_INVALID, "the password is empty");
    if (r == SN_ERR_LIMIT)
        return sn_cli_fail(cli, r, "the password is longer than %d bytes",
                           PASSWORD_MAX);
    if (r == SN_ERR_INVALID)
        return sn_cli_fail(cli, r,
                           "the password file must hold one line (and no "
                           "NUL byte)");
    if (r != SN_OK)
        return sn_cli_fail(cli, r, "cannot read the password from %s", path);
    if (strcmp(path, "-") != 0 || !sn_secretin_tty())
        return SN_OK;
    r = sn_secretin_prompt("Again: ", again, sizeof(again));
    if (r == SN_OK && (strlen(again) != strlen(pw) ||
                       CRYPTO_memcmp(again, pw, strlen(pw)) != 0))
        r = sn_cli_fail(cli, SN_ERR_INVALID, "the passwords differ");
    else if (r != SN_OK)
        r = sn_cli_fail(cli, SN_ERR_INVALID, "the passwords differ");
    OPENSSL_cleanse(again, sizeof(again));
    return r;
}

/* POST /v1/accounts's body as text; *text is wiped by the caller. */
static sn_err
create_body(struct sn_cli *cli, const char *pw, char **text)
{
    const char *sub = cli->opt[SN_OPT_SUBSCRIBER];
    json_t *req = NULL, *roles = NULL;
    sn_err r = SN_ERR_NOMEM;
    size_t i;

    *text = NULL;
    if ((req = json_pack("{s:s, s:s}", "name", cli->opt[SN_OPT_NAME],
                         "password", pw)) == NULL ||
        (roles = json_array()) == NULL ||
        json_object_set_new(req, "roles", roles) != 0)
        goto out;
    for (i = 0; i < cli->nroles; i++)
        if (json_array_append_new(roles, json_string(cli->roles[i])) != 0)
            goto out;
    if (sub != NULL &&
        json_object_set_new(req, "subscriber", json_string(sub)) != 0)
        goto out;
    if ((*text = json_dumps(req, JSON_COMPACT)) == NULL)
        goto out;
    r = SN_OK;
out:
    if (r != SN_OK)
        sn_cli_fail(cli, r, "out of memory");
    sn_oidc_wipe_member(req, "password");
    json_decref(req);
    return r;
}

/* "a, b, c" of a JSON array of strings into buf, "-" if empty. */
static void
joined(const json_t *arr, char *buf, size_t len)
{
    char tmp[256] = "";
    const json_t *v;
    size_t i, n = 0;

    json_array_foreach(arr, i, v)
    {
        const char *s = json_is_string(v) ? json_string_value(v) : "?";
        int w = snprintf(tmp + n, sizeof(tmp) - n, "%s%s", i > 0 ? "," : "", s);
        if (w < 0 || (size_t)w >= sizeof(tmp) - n)
            break;
        n += (size_t)w;
    }
    sn_out_clean(tmp, buf, len);
}

static void
print_account(const json_t *a)
{
    char roles[128], factors[64];
    const char *sub = sn_out_str(a, "subscriber");

    joined(json_object_get(a, "roles"), roles, sizeof(roles));
    joined(json_object_get(a, "factors"), factors, sizeof(factors));
    sn_out_text(stdout, sn_out_str(a, "id"), 0);
    fputs("  ", stdout);
    sn_out_text(stdout, sn_out_str(a, "name"), 0);
    fputs("  ", stdout);
    sn_out_text(stdout, sn_out_str(a, "kind"), 0);
    fputs("  ", stdout);
    sn_out_text(stdout, sub != NULL && sub[0] != '\0' ? sub : "-", 0);
    printf("  %s  ", roles);
    sn_out_text(stdout, sn_out_str(a, "state"), 0);
    printf("  %s\n", factors);
}

sn_err
sn_cmd_account_create(struct sn_cli *cli)
{
    const char *name = cli->opt[SN_OPT_NAME];
    const char *sub = cli->opt[SN_OPT_SUBSCRIBER];
    const char *pwfile = cli->opt[SN_OPT_PASSWORD_FILE];
    char pw[PASSWORD_MAX + 1];
    json_t *reply = NULL;
    char *text = NULL;
    sn_err r;

    pw[0] = '\0';
    if (name == NULL) {
        r = sn_cli_usage(cli, "account create needs --name NAME");
        goto out;
    }
    if (pwfile == NULL) {
        r = sn_cli_usage(cli, "account create needs --password-file FILE "
                              "(or - for standard input)");
        goto out;
    }
    if ((r = sn_cli_account_name_check(cli, name)) != SN_OK ||
        (sub != NULL &&
         (r = sn_cli_check_id(cli, "subscriber", sub)) != SN_OK) ||
        (r = check_roles(cli, sub != NULL)) != SN_OK ||
        (r = sn_cli_connect(cli)) != SN_OK ||
        (r = read_password(cli, pwfile, name, pw, sizeof(pw))) != SN_OK ||
        (r = create_body(cli, pw, &text)) != SN_OK)
        goto out;
    OPENSSL_cleanse(pw, sizeof(pw));
    if ((r = sn_client_send(cli->client, "POST", "/v1/accounts",
                            "application/json", text, strlen(text), &reply)) !=
        SN_OK)
        goto out;
    if (cli->json)
        sn_out_json(reply);
    else
        print_account(reply);
out:
    OPENSSL_cleanse(pw, sizeof(pw));
    if (text != NULL) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    json_decref(reply);
    return r;
}

/* GET /v1/accounts (a subscriber's with --subscriber). */
static sn_err
get_accounts(struct sn_cli *cli, json_t **reply)
{
    const char *sub = cli->opt[SN_OPT_SUBSCRIBER];
    char path[PATH_LEN];
    sn_err r;

    *reply = NULL;
    if (sub != NULL && (r = sn_cli_check_id(cli, "subscriber", sub)) != SN_OK)
        return r;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        return r;
    if (sub != NULL) {
        if ((r = sn_cli_path(cli, path, sizeof(path),
                             "/v1/accounts?subscriber=%s", sub)) != SN_OK)
            return r;
    } else {
        snprintf(path, sizeof(path), "/v1/accounts");
    }
    return sn_client_json(cli->client, "GET", path, NULL, reply);
}

sn_err
sn_cmd_account_list(struct sn_cli *cli)
{
    json_t *reply = NULL, *a;
    size_t i;
    sn_err r;

    if ((r = get_accounts(cli, &reply)) != SN_OK)
        goto out;
    if (cli->json) {
        sn_out_json(reply);
        goto out;
    }
    json_array_foreach(json_object_get(reply, "accounts"), i, a)
    {
        print_account(a);
    }
out:
    json_decref(reply);
    return r;
}

/* POST path (no body) for the account named by the first argument. */
static sn_err
account_post(struct sn_cli *cli, const char *suffix, json_t *body,
             json_t **reply)
{
    char path[PATH_LEN];
    char *text = NULL;
    sn_err r;

    *reply = NULL;
    if ((r = sn_cli_check_id(cli, "account", cli->pos[0])) != SN_OK ||
        (r = sn_cli_path(cli, path, sizeof(path), "/v1/accounts/%s%s",
                         cli->pos[0], suffix)) != SN_OK ||
        (r = sn_cli_connect(cli)) != SN_OK)
        return r;
    if (body != NULL && (text = json_dumps(body, JSON_COMPACT)) == NULL)
        return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    r = sn_client_send(cli->client, "POST", path, "application/json", text,
                       text != NULL ? strlen(text) : 0, reply);
    if (text != NULL) {
        OPENSSL_cleanse(text, strlen(text));
        free(text);
    }
    return r;
}

sn_err
sn_cmd_account_totp(struct sn_cli *cli)
{
    json_t *reply = NULL;
    const char *uri;
    sn_err r;

    if ((r = account_post(cli, "/totp", NULL, &reply)) != SN_OK)
        goto out;
    if (cli->json) {
        sn_out_json(reply);
        goto out;
    }
    if ((uri = sn_out_str(reply, "otpauth_uri")) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server's answer holds no otpauth_uri");
        goto out;
    }
    sn_out_text(stdout, uri, 0);
    fputc('\n', stdout);
    fprintf(stderr,
            "signet: add this to your authenticator app (as a QR code: "
            "qrencode -t ansiutf8 'URI'), then confirm it with\n"
            "        signet account confirm %s CODE\n",
            cli->pos[0]);
out:
    /* The URI carries the TOTP secret. */
    sn_oidc_wipe_member(reply, "otpauth_uri");
    json_decref(reply);
    return r;
}

/* Wipes the strings of the array member key of obj. */
static void
wipe_array(json_t *obj, const char *key)
{
    json_t *arr = json_object_get(obj, key), *v;
    size_t i;

    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v))
            OPENSSL_cleanse((void *)(uintptr_t)json_string_value(v),
                            json_string_length(v));
    }
}

sn_err
sn_cmd_account_confirm(struct sn_cli *cli)
{
    char digits[SN_CLI_TOTP_LEN + 1];
    json_t *body = NULL, *reply = NULL, *codes, *v;
    size_t i;
    sn_err r;

    if (!sn_cli_totp_code(cli->pos[1], digits)) {
        r = sn_cli_usage(cli, "CODE is the 6-digit code your authenticator "
                              "app shows");
        goto out;
    }
    if ((body = json_pack("{s:s}", "code", digits)) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((r = account_post(cli, "/totp/confirm", body, &reply)) != SN_OK)
        goto out;
    if (cli->json) {
        sn_out_json(reply);
        goto out;
    }
    codes = json_object_get(reply, "recovery_codes");
    if (!json_is_array(codes)) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server's answer holds no recovery codes");
        goto out;
    }
    printf("Your authenticator is confirmed. These recovery codes are shown "
           "once:\nkeep them somewhere safe; each one logs you in once if "
           "you lose the\nauthenticator.\n\n");
    json_array_foreach(codes, i, v)
    {
        fputs("  ", stdout);
        sn_out_text(stdout, json_is_string(v) ? json_string_value(v) : "?", 0);
        fputc('\n', stdout);
    }
    printf("\nLog in again to use them: signet login --name NAME\n");
out:
    OPENSSL_cleanse(digits, sizeof(digits));
    sn_oidc_wipe_member(body, "code");
    wipe_array(reply, "recovery_codes");
    json_decref(body);
    json_decref(reply);
    return r;
}

sn_err
sn_cmd_account_disable(struct sn_cli *cli)
{
    json_t *reply = NULL;
    sn_err r;

    if ((r = account_post(cli, "/disable", NULL, &reply)) != SN_OK)
        goto out;
    if (cli->json)
        sn_out_json(reply);
    else
        printf("account %s disabled; its sessions have ended\n", cli->pos[0]);
out:
    json_decref(reply);
    return r;
}

/* ---- admin accounts review: one aligned line per account ---- */

#define REVIEW_COLS 8
#define CELL 96

struct review_row {
    char cell[REVIEW_COLS][CELL];
};

static void
review_row(const json_t *a, struct review_row *row)
{
    const char *sub = sn_out_str(a, "subscriber");

    sn_out_clean(sn_out_str(a, "name"), row->cell[0], CELL);
    sn_out_clean(sn_out_str(a, "kind"), row->cell[1], CELL);
    sn_out_clean(sub, row->cell[2], CELL);
    joined(json_object_get(a, "roles"), row->cell[3], CELL);
    sn_out_clean(sn_out_str(a, "state"), row->cell[4], CELL);
    joined(json_object_get(a, "factors"), row->cell[5], CELL);
    sn_out_clean(sn_out_str(a, "last_login"), row->cell[6], CELL);
    sn_out_clean(sn_out_str(a, "last_use"), row->cell[7], CELL);
}

static void
review_print(const struct review_row *rows, size_t n)
{
    int width[REVIEW_COLS];
    size_t i, c;

    for (c = 0; c < REVIEW_COLS; c++) {
        width[c] = 0;
        for (i = 0; i < n; i++)
            if ((int)strlen(rows[i].cell[c]) > width[c])
                width[c] = (int)strlen(rows[i].cell[c]);
    }
    for (i = 0; i < n; i++) {
        for (c = 0; c < REVIEW_COLS; c++) {
            if (c + 1 < REVIEW_COLS)
                printf("%-*s  ", width[c], rows[i].cell[c]);
            else
                printf("%s\n", rows[i].cell[c]);
        }
    }
}

sn_err
sn_cmd_admin_accounts_review(struct sn_cli *cli)
{
    static const char *const head[REVIEW_COLS] = {
        "NAME",  "KIND",    "SUBSCRIBER", "ROLES",
        "STATE", "FACTORS", "LAST-LOGIN", "LAST-USE"};
    struct review_row *rows = NULL;
    json_t *reply = NULL, *list, *a;
    size_t i, c;
    sn_err r;

    if ((r = get_accounts(cli, &reply)) != SN_OK)
        goto out;
    if (cli->json) {
        sn_out_json(reply);
        goto out;
    }
    list = json_object_get(reply, "accounts");
    if ((rows = calloc(json_array_size(list) + 1, sizeof(*rows))) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (c = 0; c < REVIEW_COLS; c++)
        snprintf(rows[0].cell[c], CELL, "%s", head[c]);
    json_array_foreach(list, i, a)
    {
        review_row(a, &rows[i + 1]);
    }
    review_print(rows, json_array_size(list) + 1);
out:
    free(rows);
    json_decref(reply);
    return r;
}
