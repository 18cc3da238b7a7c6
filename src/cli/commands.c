/*
 * commands: shared command plumbing and the identity, subscriber, token
 * and audit commands. Command-line input is the user's and is validated
 * before anything is sent; server answers are untrusted and printed only
 * through the output filters.
 */
#include "cli/commands.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/output.h"
#include "common/util.h"

#define MAX_ID_LEN 64
#define PATH_LEN 512
/* Longest token lifetime the CLI will ask for: ten years. */
#define MAX_DURATION_S ((uint64_t)3650 * 86400)
#define AUDIT_MAX_LIMIT 1000

sn_err
sn_cli_usage(struct sn_cli *cli, const char *fmt, ...)
{
    va_list ap;

    cli->usage = 1;
    cli->err.status = 0;
    cli->err.code[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(cli->err.message, sizeof(cli->err.message), fmt, ap);
    va_end(ap);
    return SN_ERR_INVALID;
}

sn_err
sn_cli_fail(struct sn_cli *cli, sn_err r, const char *fmt, ...)
{
    va_list ap;

    cli->err.status = 0;
    cli->err.code[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(cli->err.message, sizeof(cli->err.message), fmt, ap);
    va_end(ap);
    return r;
}

/* An option, else a non-empty environment variable, else NULL. */
static const char *
opt_env(const struct sn_cli *cli, int opt, const char *env)
{
    const char *v = cli->opt[opt];

    if (v == NULL && (v = getenv(env)) != NULL && v[0] == '\0')
        v = NULL;
    return v;
}

/* The client certificate and key (mTLS), if any were given. */
static sn_err
load_cred(struct sn_cli *cli)
{
    struct sn_client_cred_src src = {
        .cert_file = opt_env(cli, SN_OPT_CLIENT_CERT, "SIGNET_CLIENT_CERT"),
        .key = opt_env(cli, SN_OPT_CLIENT_KEY, "SIGNET_CLIENT_KEY"),
        .pin = getenv("SIGNET_CLIENT_KEY_PIN"),
        .pin_file = opt_env(cli, SN_OPT_CLIENT_KEY_PIN_FILE,
                            "SIGNET_CLIENT_KEY_PIN_FILE"),
        .module = getenv("SIGNET_CLIENT_KEY_MODULE"),
    };
    char why[512];
    sn_err r;

    if (cli->cred != NULL || (src.cert_file == NULL && src.key == NULL))
        return SN_OK;
    if (src.cert_file == NULL || src.key == NULL)
        return sn_cli_usage(cli, "give both --client-cert and --client-key "
                                 "(or SIGNET_CLIENT_CERT and "
                                 "SIGNET_CLIENT_KEY)");
    if ((r = sn_client_cred_load(&src, &cli->cred, why, sizeof(why))) != SN_OK)
        return sn_cli_fail(cli, r, "client certificate: %s", why);
    return SN_OK;
}

sn_err
sn_cli_connect(struct sn_cli *cli)
{
    sn_err r;

    if (cli->client != NULL)
        return SN_OK;
    if ((r = load_cred(cli)) != SN_OK)
        return r;
    /* The stored login session comes last (issue 17). */
    if (cli->token == NULL && cli->cred == NULL &&
        (r = sn_cli_session_cred(cli)) != SN_OK) {
        if (r != SN_ERR_NOT_FOUND)
            return r;
        return sn_cli_usage(cli, "no API token: set SIGNET_TOKEN or pass "
                                 "--token-file FILE, present a registered "
                                 "client certificate (--client-cert, "
                                 "--client-key), or log in (signet login "
                                 "--name NAME)");
    }
    r = sn_client_new(cli->url, cli->token, cli->ca_file, &cli->err,
                      &cli->client);
    /* A bad --url or $SIGNET_URL is a command-line mistake. */
    if (r == SN_ERR_INVALID)
        cli->usage = 1;
    if (r == SN_OK)
        sn_client_set_cred(cli->client, cli->cred);
    return r;
}

sn_err
sn_cli_connect_public(struct sn_cli *cli)
{
    sn_err r;

    if (cli->client != NULL)
        return SN_OK;
    r = sn_client_new(cli->url, NULL, cli->ca_file, &cli->err, &cli->client);
    if (r == SN_ERR_INVALID)
        cli->usage = 1;
    return r;
}

sn_err
sn_cli_connect_optional(struct sn_cli *cli)
{
    sn_err r;

    if (cli->client != NULL)
        return SN_OK;
    if ((r = load_cred(cli)) != SN_OK)
        return r;
    if (cli->token == NULL && cli->cred == NULL &&
        (r = sn_cli_session_cred(cli)) != SN_OK) {
        if (r != SN_ERR_NOT_FOUND)
            return r;
        return sn_cli_connect_public(cli); /* anonymous */
    }
    return sn_cli_connect(cli);
}

sn_err
sn_cli_check_id(struct sn_cli *cli, const char *what, const char *id)
{
    size_t i, len = strlen(id);

    if (len == 0 || len > MAX_ID_LEN)
        return sn_cli_usage(cli, "invalid %s id", what);
    for (i = 0; i < len; i++) {
        char ch = id[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            return sn_cli_usage(cli, "invalid %s id", what);
    }
    return SN_OK;
}

sn_err
sn_cli_path(struct sn_cli *cli, char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len)
        return sn_cli_fail(cli, SN_ERR_LIMIT, "request path too long");
    return SN_OK;
}

sn_err
sn_cli_check_out(struct sn_cli *cli, const char *path)
{
    if (path == NULL || sn_out_writable(path))
        return SN_OK;
    return sn_cli_usage(cli, "cannot create %s: %s", path, strerror(errno));
}

sn_err
sn_cli_digest_opt(struct sn_cli *cli, enum sn_digest *out)
{
    const char *name = cli->opt[SN_OPT_DIGEST_ALG];

    *out = SN_MD_SHA256;
    if (name == NULL)
        return SN_OK;
    if (sn_digest_from_name(name, out) != SN_OK)
        return sn_cli_usage(cli,
                            "unknown digest algorithm '%s' (use sha256, "
                            "sha384 or sha512)",
                            name);
    return SN_OK;
}

/* Prints a JSON array of strings as "a, b, c", or empty_text if empty. */
static void
print_list(const char *label, const json_t *arr, const char *empty_text)
{
    const json_t *v;
    size_t i;

    printf("%-13s ", label);
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        printf("%s\n", empty_text);
        return;
    }
    json_array_foreach(arr, i, v)
    {
        if (i > 0)
            fputs(", ", stdout);
        sn_out_text(stdout, json_is_string(v) ? json_string_value(v) : "?", 0);
    }
    fputc('\n', stdout);
}

/* A scalar JSON value as text; null, absent and "" print as "-". */
static const char *
scalar_text(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return json_string_length(v) > 0 ? json_string_value(v) : "-";
    if (json_is_integer(v)) {
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "yes" : "no";
    return "-";
}

sn_err
sn_cmd_whoami(struct sn_cli *cli)
{
    json_t *reply = NULL;
    sn_err r;

    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, "GET", "/v1/whoami", NULL, &reply)) !=
        SN_OK)
        goto out;
    if (cli->json) {
        sn_out_json(reply);
        goto out;
    }
    sn_out_field("token:", sn_out_str(reply, "token_id"));
    sn_out_field("subscriber:", sn_out_str(reply, "subscriber"));
    sn_out_field("admin:",
                 json_is_true(json_object_get(reply, "admin")) ? "yes" : "no");
    print_list("roles:", json_object_get(reply, "roles"), "-");
    print_list("keys:", json_object_get(reply, "keys"), "any");
    sn_out_field("expires:", sn_out_str(reply, "expires_at") != NULL
                                 ? sn_out_str(reply, "expires_at")
                                 : "never");
out:
    json_decref(reply);
    return r;
}

/* Subscriber names: 1-64 of [A-Za-z0-9._-], as the server requires. */
static int
name_ok(const char *s)
{
    size_t i, len = strlen(s);

    if (len == 0 || len > 64)
        return 0;
    for (i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

static void
print_subscriber(const json_t *s)
{
    sn_out_text(stdout, sn_out_str(s, "id"), 0);
    fputs("  ", stdout);
    sn_out_text(stdout, sn_out_str(s, "name"), 0);
    fputs("  ", stdout);
    sn_out_text(stdout, sn_out_str(s, "created_at"), 0);
    fputc('\n', stdout);
}

sn_err
sn_cmd_subscriber_create(struct sn_cli *cli)
{
    json_t *req = NULL, *reply = NULL;
    const char *name = cli->pos[0];
    sn_err r;

    if (!name_ok(name)) {
        r = sn_cli_usage(cli, "subscriber names are 1-64 characters of "
                              "A-Z a-z 0-9 . _ -");
        goto out;
    }
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((req = json_pack("{s:s}", "name", name)) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((r = sn_client_json(cli->client, "POST", "/v1/subscribers", req,
                            &reply)) != SN_OK)
        goto out;
    if (cli->json)
        sn_out_json(reply);
    else
        print_subscriber(reply);
out:
    json_decref(req);
    json_decref(reply);
    return r;
}

sn_err
sn_cmd_subscriber_list(struct sn_cli *cli)
{
    json_t *reply = NULL, *list, *s;
    size_t i;
    sn_err r;

    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, "GET", "/v1/subscribers", NULL,
                            &reply)) != SN_OK)
        goto out;
    if (cli->json) {
        sn_out_json(reply);
        goto out;
    }
    list = json_object_get(reply, "subscribers");
    json_array_foreach(list, i, s)
    {
        print_subscriber(s);
    }
out:
    json_decref(reply);
    return r;
}

/* "30d", "12h", "90m", "3600s", "2w" -> seconds; at most ten years. */
static sn_err
parse_duration(const char *s, uint64_t *out)
{
    uint64_t v = 0, mult;
    size_t i, len = strlen(s);

    *out = 0;
    if (len < 2 || len > 11)
        return SN_ERR_INVALID;
    for (i = 0; i + 1 < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SN_ERR_INVALID;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    switch (s[len - 1]) {
    case 's':
        mult = 1;
        break;
    case 'm':
        mult = 60;
        break;
    case 'h':
        mult = 3600;
        break;
    case 'd':
        mult = 86400;
        break;
    case 'w':
        mult = 7 * 86400;
        break;
    default:
        return SN_ERR_INVALID;
    }
    /* v has at most ten digits, so v * mult cannot overflow 64 bits. */
    v *= mult;
    if (v == 0 || v > MAX_DURATION_S)
        return SN_ERR_INVALID;
    *out = v;
    return SN_OK;
}

/* Builds the POST /v1/subscribers/{id}/tokens body from the options. */
static sn_err
token_request(struct sn_cli *cli, json_t **out)
{
    char expires[SN_TIME_LEN], defname[32];
    json_t *req = NULL, *roles, *keys;
    const char *name = cli->opt[SN_OPT_NAME];
    uint64_t secs;
    sn_err r = SN_ERR_NOMEM;
    size_t i;

    *out = NULL;
    if (cli->nroles == 0) {
        r = sn_cli_usage(cli, "token create needs at least one --role "
                              "(sign or manage)");
        goto out;
    }
    for (i = 0; i < cli->nroles; i++) {
        if (strcmp(cli->roles[i], "sign") != 0 &&
            strcmp(cli->roles[i], "manage") != 0) {
            r = sn_cli_usage(cli, "unknown role '%s' (use sign or manage)",
                             cli->roles[i]);
            goto out;
        }
    }
    for (i = 0; i < cli->nkeys; i++)
        if ((r = sn_cli_check_id(cli, "key", cli->keys[i])) != SN_OK)
            goto out;
    if (name == NULL) {
        /* The API wants a name; default to one that says when and how. */
        sn_time_format(time(NULL), expires);
        snprintf(defname, sizeof(defname), "cli-%s", expires);
        name = defname;
    }
    r = SN_ERR_NOMEM;
    if ((req = json_object()) == NULL || (roles = json_array()) == NULL ||
        json_object_set_new(req, "roles", roles) != 0 ||
        json_object_set_new(req, "name", json_string(name)) != 0)
        goto out;
    for (i = 0; i < cli->nroles; i++)
        if (json_array_append_new(roles, json_string(cli->roles[i])) != 0)
            goto out;
    if (cli->nkeys > 0) {
        if ((keys = json_array()) == NULL ||
            json_object_set_new(req, "keys", keys) != 0)
            goto out;
        for (i = 0; i < cli->nkeys; i++)
            if (json_array_append_new(keys, json_string(cli->keys[i])) != 0)
                goto out;
    }
    if (cli->opt[SN_OPT_EXPIRES] != NULL && cli->seen[SN_OPT_NO_EXPIRY]) {
        r = sn_cli_usage(cli, "give --expires or --no-expiry, not both");
        goto out;
    }
    /* Neither: the server's default lifetime (tokens.default_lifetime). */
    if (cli->seen[SN_OPT_NO_EXPIRY] &&
        json_object_set_new(req, "no_expiry", json_true()) != 0)
        goto out;
    if (cli->opt[SN_OPT_EXPIRES] != NULL) {
        if (parse_duration(cli->opt[SN_OPT_EXPIRES], &secs) != SN_OK) {
            r = sn_cli_usage(cli,
                             "invalid --expires '%s' (use e.g. 30d, "
                             "12h, 90m or 3600s; at most 3650d)",
                             cli->opt[SN_OPT_EXPIRES]);
            goto out;
        }
        sn_time_format(time(NULL) + (time_t)secs, expires);
        if (json_object_set_new(req, "expires_at", json_string(expires)) != 0)
            goto out;
    }
    *out = req;
    req = NULL;
    r = SN_OK;
out:
    if (r == SN_ERR_NOMEM)
        sn_cli_fail(cli, r, "out of memory");
    json_decref(req);
    return r;
}

/* The caller's own subscriber id, from GET /v1/whoami. */
static sn_err
own_subscriber(struct sn_cli *cli, char *buf, size_t len)
{
    json_t *reply = NULL;
    const char *id;
    sn_err r;

    if ((r = sn_client_json(cli->client, "GET", "/v1/whoami", NULL, &reply)) !=
        SN_OK)
        goto out;
    if ((id = sn_out_str(reply, "subscriber")) == NULL) {
        r = sn_cli_usage(cli, "this token belongs to no subscriber (admin "
                              "token?): pass --subscriber ID");
        goto out;
    }
    if (sn_cli_check_id(cli, "subscriber", id) != SN_OK) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server returned an invalid subscriber id");
        goto out;
    }
    snprintf(buf, len, "%s", id);
    r = SN_OK;
out:
    json_decref(reply);
    return r;
}

static void
print_token(const json_t *t)
{
    const char *exp = sn_out_str(t, "expires_at");

    sn_out_field("token id:", sn_out_str(t, "id"));
    sn_out_field("name:", sn_out_str(t, "name"));
    sn_out_field("subscriber:", sn_out_str(t, "subscriber"));
    print_list("roles:", json_object_get(t, "roles"), "-");
    print_list("keys:", json_object_get(t, "keys"), "any");
    sn_out_field("expires:", exp != NULL ? exp : "never");
    sn_out_field("token:", sn_out_str(t, "token"));
    fflush(stdout);
    fputs("\nThe token is shown only this once: store it now.\n", stderr);
}

sn_err
sn_cmd_token_create(struct sn_cli *cli)
{
    char sub[MAX_ID_LEN + 1], path[PATH_LEN];
    json_t *req = NULL, *reply = NULL;
    sn_err r;

    if (cli->opt[SN_OPT_SUBSCRIBER] != NULL &&
        (r = sn_cli_check_id(cli, "subscriber", cli->opt[SN_OPT_SUBSCRIBER])) !=
            SN_OK)
        goto out;
    if ((r = token_request(cli, &req)) != SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if (cli->opt[SN_OPT_SUBSCRIBER] != NULL)
        snprintf(sub, sizeof(sub), "%s", cli->opt[SN_OPT_SUBSCRIBER]);
    else if ((r = own_subscriber(cli, sub, sizeof(sub))) != SN_OK)
        goto out;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/subscribers/%s/tokens",
                         sub)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, "POST", path, req, &reply)) != SN_OK)
        goto out;
    if (cli->json)
        sn_out_json(reply);
    else
        print_token(reply);
out:
    json_decref(req);
    json_decref(reply);
    return r;
}

sn_err
sn_cmd_token_revoke(struct sn_cli *cli)
{
    char path[PATH_LEN];
    json_t *reply = NULL;
    sn_err r;

    if ((r = sn_cli_check_id(cli, "token", cli->pos[0])) != SN_OK)
        goto out;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/tokens/%s",
                         cli->pos[0])) != SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, "DELETE", path, NULL, &reply)) !=
        SN_OK)
        goto out;
    if (cli->json) {
        sn_out_json(reply);
        goto out;
    }
    fputs("revoked ", stdout);
    sn_out_text(stdout, sn_out_str(reply, "id"), 0);
    fputs(" at ", stdout);
    sn_out_text(stdout, sn_out_str(reply, "revoked_at"), 0);
    fputc('\n', stdout);
out:
    json_decref(reply);
    return r;
}

/* Decimal in [min, max], digits only. */
static int
parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i, len = strlen(s);

    if (len == 0 || len > 19)
        return 0;
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

/* Appends "?name=value" or "&name=value"; value is already URL-safe. */
static sn_err
query_add(struct sn_cli *cli, char *path, size_t len, const char *name,
          const char *value)
{
    size_t used = strlen(path);

    return sn_cli_path(cli, path + used, len - used, "%c%s=%s",
                       strchr(path, '?') != NULL ? '&' : '?', name, value);
}

/*
 * GET /v1/audit?key=..&order=..&after=..&before=..&limit=.. from validated
 * options: newest first (a user asks what just happened), unless --after
 * walks forward from a record.
 */
static sn_err
audit_path(struct sn_cli *cli, char *path, size_t len)
{
    static const enum sn_cli_opt nums[] = {SN_OPT_AFTER, SN_OPT_BEFORE};
    static const char *const names[] = {"after", "before"};
    const char *key = cli->nkeys > 0 ? cli->keys[0] : NULL;
    const char *limit = cli->opt[SN_OPT_LIMIT];
    uint64_t v;
    size_t i;
    sn_err r;

    if (cli->nkeys > 1)
        return sn_cli_usage(cli, "audit takes at most one --key");
    if (key != NULL && (r = sn_cli_check_id(cli, "key", key)) != SN_OK)
        return r;
    for (i = 0; i < 2; i++)
        if (cli->opt[nums[i]] != NULL &&
            !parse_uint(cli->opt[nums[i]], 0, INT64_MAX, &v))
            return sn_cli_usage(cli, "--%s needs a record number", names[i]);
    if (limit != NULL && !parse_uint(limit, 1, AUDIT_MAX_LIMIT, &v))
        return sn_cli_usage(cli, "--limit must be 1..%d", AUDIT_MAX_LIMIT);
    if ((r = sn_cli_path(cli, path, len, "/v1/audit")) != SN_OK)
        return r;
    if (key != NULL && (r = query_add(cli, path, len, "key", key)) != SN_OK)
        return r;
    if (cli->opt[SN_OPT_AFTER] == NULL &&
        (r = query_add(cli, path, len, "order", "desc")) != SN_OK)
        return r;
    for (i = 0; i < 2; i++)
        if (cli->opt[nums[i]] != NULL &&
            (r = query_add(cli, path, len, names[i], cli->opt[nums[i]])) !=
                SN_OK)
            return r;
    if (limit != NULL &&
        (r = query_add(cli, path, len, "limit", limit)) != SN_OK)
        return r;
    return SN_OK;
}

/* "ID  TIME  ACTION  RESULT  KEY  ALG:DIGEST  DETAIL", "-" for blanks. */
static void
print_audit_record(const json_t *rec)
{
    static const char *const cols[] = {"id", "time", "action", "result", "key"};
    const char *alg = sn_out_str(rec, "digest_algorithm");
    const char *digest = sn_out_str(rec, "digest");
    char buf[32];
    size_t i;

    for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        sn_out_text(
            stdout,
            scalar_text(json_object_get(rec, cols[i]), buf, sizeof(buf)), 0);
        fputs("  ", stdout);
    }
    if (alg != NULL && alg[0] != '\0' && digest != NULL && digest[0] != '\0') {
        sn_out_text(stdout, alg, 0);
        fputc(':', stdout);
        sn_out_text(stdout, digest, 0);
    } else {
        fputc('-', stdout);
    }
    fputs("  ", stdout);
    sn_out_text(stdout,
                scalar_text(json_object_get(rec, "detail"), buf, sizeof(buf)),
                0);
    fputc('\n', stdout);
}

sn_err
sn_cmd_audit(struct sn_cli *cli)
{
    char path[PATH_LEN], buf[32];
    json_t *reply = NULL, *list, *rec;
    size_t i;
    sn_err r;

    if ((r = audit_path(cli, path, sizeof(path))) != SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, "GET", path, NULL, &reply)) != SN_OK)
        goto out;
    if (cli->json) {
        sn_out_json(reply);
        goto out;
    }
    list = json_object_get(reply, "records");
    json_array_foreach(list, i, rec)
    {
        print_audit_record(rec);
    }
    if (json_array_size(list) > 0) {
        /* Newest first pages back in time; --after pages forward. */
        int older = json_object_get(reply, "next_before") != NULL;
        fflush(stdout);
        fprintf(stderr, "(next page: --%s %s)\n", older ? "before" : "after",
                scalar_text(json_object_get(reply, older ? "next_before"
                                                         : "next_after"),
                            buf, sizeof(buf)));
    }
out:
    json_decref(reply);
    return r;
}
