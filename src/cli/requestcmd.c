/*
 * requestcmd: sign requests awaiting approval (issue 17). `signet request
 * list|show|approve|deny|cancel`, and the wait of `signet sign --wait` and
 * `sign-digest --wait`: a signature answered 202 is polled until the
 * request completes (then the command goes on as if the server had
 * answered the signature at once), ends otherwise, or the wait runs out.
 * Answers are untrusted: states and ids are checked before they are used
 * in a path or shown; delays are bounded whatever Retry-After says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/output.h"

#define PATH_LEN 512
/* --wait without a value, and its largest value (a request lives at most a
 * week). */
#define WAIT_DEFAULT 600
#define WAIT_MAX 604800
/* Polls: Retry-After, kept within these bounds. */
#define POLL_MIN 1
#define POLL_MAX 30

/* --wait[=SECONDS]: 0 if not given. */
static sn_err
wait_seconds(struct sn_cli *cli, unsigned *out)
{
    const char *v = cli->opt[SN_OPT_WAIT];
    unsigned long n = 0;
    size_t i;

    *out = 0;
    if (!cli->seen[SN_OPT_WAIT])
        return SN_OK;
    if (v == NULL || v[0] == '\0') {
        *out = WAIT_DEFAULT;
        return SN_OK;
    }
    for (i = 0; v[i] != '\0'; i++) {
        if (i >= 7 || v[i] < '0' || v[i] > '9')
            return sn_cli_usage(cli, "--wait=SECONDS takes 1 to %d seconds",
                                WAIT_MAX);
        n = n * 10 + (unsigned long)(v[i] - '0');
    }
    if (n == 0 || n > WAIT_MAX)
        return sn_cli_usage(cli, "--wait=SECONDS takes 1 to %d seconds",
                            WAIT_MAX);
    *out = (unsigned)n;
    return SN_OK;
}

/* A request id from an answer: safe in a path, or NULL. */
static const char *
request_id(struct sn_cli *cli, const json_t *j, const char *field)
{
    const char *id = sn_out_str(j, field);

    if (id == NULL || sn_cli_check_id(cli, "sign request", id) != SN_OK) {
        cli->usage = 0;
        sn_cli_fail(cli, SN_ERR_INVALID,
                    "the server's answer names no valid sign request");
        return NULL;
    }
    return id;
}

/* The answer a direct sign gives, from a completed request. */
static json_t *
signature_reply(const json_t *req)
{
    json_t *o =
        json_pack("{s:s?, s:s?, s:s?}", "key", sn_out_str(req, "key"),
                  "digest_algorithm", sn_out_str(req, "digest_algorithm"),
                  "scheme", sn_out_str(req, "scheme"));
    json_t *one = json_object_get(req, "signature");
    json_t *many = json_object_get(req, "signatures");

    if (o == NULL)
        return NULL;
    if (json_is_string(one))
        json_object_set(o, "signature", one);
    else if (json_is_array(many))
        json_object_set(o, "signatures", many);
    return o;
}

static void
sleep_s(unsigned s)
{
    struct timespec ts = {(time_t)s, 0};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* A request that ended without signatures: what the user is told. */
static sn_err
ended(struct sn_cli *cli, const char *id, const char *state, const json_t *j)
{
    const char *reason = sn_out_str(j, "reason");

    return sn_cli_fail(
        cli, SN_ERR_STATE, "sign request %.64s was %.32s%s%.200s", id, state,
        reason != NULL ? ": " : "", reason != NULL ? reason : "");
}

/* Polls request id until it is settled or deadline; *out on completion. */
static sn_err
await_settled(struct sn_cli *cli, const char *id, unsigned retry,
              time_t deadline, json_t **out)
{
    struct sn_client_meta meta;
    char path[PATH_LEN];
    json_t *j = NULL;
    const char *state;
    time_t now;
    sn_err r;

    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/sign-requests/%s",
                         id)) != SN_OK)
        return r;
    for (;;) {
        retry = retry < POLL_MIN   ? POLL_MIN
                : retry > POLL_MAX ? POLL_MAX
                                   : retry;
        if ((now = time(NULL)) >= deadline)
            return sn_cli_fail(cli, SN_ERR_STATE,
                               "gave up waiting: sign request %.64s still "
                               "awaits approval (signet request show %.64s)",
                               id, id);
        sleep_s(now + (time_t)retry > deadline ? (unsigned)(deadline - now)
                                               : retry);
        json_decref(j);
        if ((r = sn_client_json_meta(cli->client, "GET", path, NULL, &j,
                                     &meta)) != SN_OK)
            return r;
        retry = meta.retry_after;
        if ((state = sn_out_str(j, "state")) == NULL)
            break;
        if (strcmp(state, "completed") == 0) {
            *out = signature_reply(j);
            json_decref(j);
            return *out != NULL
                       ? SN_OK
                       : sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        }
        if (strcmp(state, "pending_approval") != 0 &&
            strcmp(state, "approved") != 0) {
            r = ended(cli, id, state, j);
            json_decref(j);
            return r;
        }
    }
    json_decref(j);
    return sn_cli_fail(cli, SN_ERR_INVALID,
                       "the server's answer about sign request %.64s has no "
                       "state",
                       id);
}

sn_err
sn_cli_await_request(struct sn_cli *cli, const json_t *accepted,
                     unsigned retry_after, json_t **out)
{
    const char *id;
    unsigned wait;
    sn_err r;

    *out = NULL;
    if ((r = wait_seconds(cli, &wait)) != SN_OK)
        return r;
    if ((id = request_id(cli, accepted, "request")) == NULL)
        return SN_ERR_INVALID;
    if (wait == 0)
        return sn_cli_fail(cli, SN_ERR_STATE,
                           "this key's signatures need approval: sign request "
                           "%.64s awaits its approvers (wait with --wait, or "
                           "see signet request show %.64s)",
                           id, id);
    fprintf(stderr,
            "signet: sign request %.64s awaits approval; waiting up to %u "
            "s\n",
            id, wait);
    fflush(stderr);
    return await_settled(cli, id, retry_after, time(NULL) + (time_t)wait, out);
}

/* ---- signet request ... ---- */

static void
print_request_line(const json_t *r)
{
    const json_t *ap = json_object_get(r, "approvals");
    char counts[32];

    snprintf(counts, sizeof(counts), "%lld/%lld",
             (long long)json_integer_value(json_object_get(ap, "approved")),
             (long long)json_integer_value(json_object_get(ap, "required")));
    sn_out_text(stdout, sn_out_str(r, "id"), 0);
    fputs("  ", stdout);
    sn_out_text(stdout, sn_out_str(r, "state"), 0);
    fprintf(stdout, "  %s  key ", counts);
    sn_out_text(stdout, sn_out_str(r, "key"), 0);
    fputs("  by ", stdout);
    sn_out_text(stdout,
                sn_out_str(json_object_get(r, "requester"), "principal"), 0);
    fputs("  expires ", stdout);
    sn_out_text(stdout, sn_out_str(r, "expires_at"), 0);
    fputc('\n', stdout);
}

/* An array of strings, one a line under label. */
static void
print_list(const char *label, const json_t *a)
{
    const json_t *v;
    size_t i;

    json_array_foreach(a, i, v)
    {
        sn_out_field(i == 0 ? label : "",
                     json_is_string(v) ? json_string_value(v) : NULL);
    }
}

static void
print_request(const json_t *r)
{
    const json_t *req = json_object_get(r, "requester");
    const json_t *ap = json_object_get(r, "approvals");
    const json_t *v;
    char counts[32];
    size_t i;

    snprintf(counts, sizeof(counts), "%lld of %lld",
             (long long)json_integer_value(json_object_get(ap, "approved")),
             (long long)json_integer_value(json_object_get(ap, "required")));
    sn_out_field("request:", sn_out_str(r, "id"));
    sn_out_field("state:", sn_out_str(r, "state"));
    if (sn_out_str(r, "reason") != NULL)
        sn_out_field("reason:", sn_out_str(r, "reason"));
    sn_out_field("key:", sn_out_str(r, "key"));
    sn_out_field("digest:", sn_out_str(r, "digest_algorithm"));
    sn_out_field("scheme:", sn_out_str(r, "scheme"));
    print_list("digests:", json_object_get(r, "digests"));
    sn_out_field("requester:", sn_out_str(req, "principal"));
    sn_out_field("  auth:", sn_out_str(req, "auth"));
    sn_out_field("  client:", sn_out_str(req, "client"));
    sn_out_field("approved:", counts);
    print_list("approvers:", json_object_get(ap, "approvers"));
    json_array_foreach(json_object_get(r, "votes"), i, v)
    {
        char line[160];

        snprintf(line, sizeof(line), "%.64s %.8s %.32s",
                 sn_out_str(v, "account") ? sn_out_str(v, "account") : "-",
                 sn_out_str(v, "vote") ? sn_out_str(v, "vote") : "-",
                 sn_out_str(v, "time") ? sn_out_str(v, "time") : "-");
        sn_out_field(i == 0 ? "votes:" : "", line);
    }
    sn_out_field("created:", sn_out_str(r, "created_at"));
    sn_out_field("expires:", sn_out_str(r, "expires_at"));
    if (sn_out_str(r, "signature") != NULL)
        sn_out_field("signature:", sn_out_str(r, "signature"));
    print_list("signatures:", json_object_get(r, "signatures"));
}

sn_err
sn_cmd_request_list(struct sn_cli *cli)
{
    const char *state = cli->opt[SN_OPT_STATE];
    char path[PATH_LEN];
    json_t *reply = NULL, *r1;
    size_t i;
    sn_err r;

    if (state != NULL && sn_cli_check_id(cli, "state", state) != SN_OK)
        return SN_ERR_INVALID;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/sign-requests%s%s",
                         state != NULL ? "?state=" : "",
                         state != NULL ? state : "")) != SN_OK ||
        (r = sn_cli_connect(cli)) != SN_OK ||
        (r = sn_client_json(cli->client, "GET", path, NULL, &reply)) != SN_OK)
        goto out;
    if (cli->json) {
        sn_out_json(reply);
        goto out;
    }
    json_array_foreach(json_object_get(reply, "sign_requests"), i, r1)
    {
        print_request_line(r1);
    }
out:
    json_decref(reply);
    return r;
}

/* show, approve, deny, cancel: one request by id. */
static sn_err
request_one(struct sn_cli *cli, const char *method, const char *suffix)
{
    char path[PATH_LEN];
    json_t *reply = NULL;
    sn_err r;

    if ((r = sn_cli_check_id(cli, "sign request", cli->pos[0])) != SN_OK ||
        (r = sn_cli_path(cli, path, sizeof(path), "/v1/sign-requests/%s%s",
                         cli->pos[0], suffix)) != SN_OK ||
        (r = sn_cli_connect(cli)) != SN_OK ||
        (r = sn_client_json(cli->client, method, path, NULL, &reply)) != SN_OK)
        goto out;
    if (cli->json)
        sn_out_json(reply);
    else
        print_request(reply);
out:
    json_decref(reply);
    return r;
}

sn_err
sn_cmd_request_show(struct sn_cli *cli)
{
    return request_one(cli, "GET", "");
}

sn_err
sn_cmd_request_approve(struct sn_cli *cli)
{
    return request_one(cli, "POST", "/approve");
}

sn_err
sn_cmd_request_deny(struct sn_cli *cli)
{
    return request_one(cli, "POST", "/deny");
}

sn_err
sn_cmd_request_cancel(struct sn_cli *cli)
{
    return request_one(cli, "POST", "/cancel");
}
