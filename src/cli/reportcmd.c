/*
 * reportcmd: reports of Suspect Code and key compromise (issue 18).
 * `signet report create|show|list|confirm|reject`. The evidence comes from
 * local files (a PKCS#7 as `osslsigncode extract-signature` writes it, DER
 * or PEM; a raw signature value) or a digest in hex, read within the
 * server's bounds before anything is sent. Without a credential a report
 * is sent anonymously. Answers are untrusted: printed through the output
 * filter.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/pkcs7.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/util.h"

#define PATH_LEN 512
/* The server's bounds (store.h SN_REPORT_EVIDENCE_MAX, a signature of
 * RSA-8192); a PEM file is larger than its DER. */
#define PKCS7_MAX 65536
#define SIG_MAX 1024
#define FILE_MAX (2 * PKCS7_MAX)

/* The whole file at path, at most max bytes. */
static sn_err
read_small(struct sn_cli *cli, const char *path, size_t max, uint8_t **out,
           size_t *len)
{
    FILE *f = NULL;
    uint8_t *buf = NULL;
    size_t n;
    sn_err r;

    *out = NULL;
    *len = 0;
    if ((f = fopen(path, "rb")) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if ((buf = malloc(max + 1)) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    n = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        r = sn_cli_fail(cli, SN_ERR_IO, "%s: read error", path);
        goto out;
    }
    if (n == 0 || n > max) {
        r = sn_cli_usage(cli, "%s must hold 1 to %zu bytes", path, max);
        goto out;
    }
    *out = buf;
    *len = n;
    buf = NULL;
    r = SN_OK;
out:
    free(buf);
    if (f != NULL)
        fclose(f);
    return r;
}

/* A PEM PKCS#7 (osslsigncode extract-signature -pem) as DER; DER as it is. */
static sn_err
pkcs7_der(struct sn_cli *cli, const char *path, uint8_t **der, size_t *len)
{
    uint8_t *raw = NULL;
    unsigned char *d = NULL;
    size_t n = 0;
    PKCS7 *p7 = NULL;
    BIO *b = NULL;
    int dl;
    sn_err r;

    *der = NULL;
    *len = 0;
    if ((r = read_small(cli, path, FILE_MAX, &raw, &n)) != SN_OK)
        return r;
    if (n < 11 || memcmp(raw, "-----BEGIN ", 11) != 0) {
        if (n > PKCS7_MAX) {
            free(raw);
            return sn_cli_usage(cli, "%s is larger than %d bytes", path,
                                PKCS7_MAX);
        }
        *der = raw;
        *len = n;
        return SN_OK;
    }
    r = sn_cli_usage(cli, "%s is not a PEM PKCS7", path);
    if ((b = BIO_new_mem_buf(raw, (int)n)) != NULL &&
        (p7 = PEM_read_bio_PKCS7(b, NULL, NULL, NULL)) != NULL &&
        (dl = i2d_PKCS7(p7, &d)) > 0 && dl <= PKCS7_MAX &&
        (*der = malloc((size_t)dl)) != NULL) {
        memcpy(*der, d, (size_t)dl);
        *len = (size_t)dl;
        cli->usage = 0;
        r = SN_OK;
    }
    OPENSSL_free(d);
    PKCS7_free(p7);
    BIO_free(b);
    free(raw);
    return r;
}

/* The "evidence" object from --pkcs7, --signature or --digest. */
static sn_err
evidence(struct sn_cli *cli, json_t **out)
{
    const char *p7 = cli->opt[SN_OPT_PKCS7], *sig = cli->opt[SN_OPT_SIGFILE];
    const char *hex = cli->opt[SN_OPT_DIGEST];
    uint8_t *bytes = NULL;
    char *b64 = NULL;
    size_t len = 0;
    enum sn_digest md;
    sn_err r;

    *out = NULL;
    if ((p7 != NULL) + (sig != NULL) + (hex != NULL) != 1)
        return sn_cli_usage(cli, "give one of --pkcs7 FILE, --signature FILE "
                                 "or --digest HEX");
    if (p7 != NULL)
        r = pkcs7_der(cli, p7, &bytes, &len);
    else if (sig != NULL)
        r = read_small(cli, sig, SIG_MAX, &bytes, &len);
    else if ((r = sn_cli_digest_opt(cli, &md)) == SN_OK &&
             (sn_hex_decode(hex, &bytes, &len) != SN_OK ||
              len != sn_digest_len(md)))
        r = sn_cli_usage(cli,
                         "--digest needs the %s digest in hex (%zu "
                         "digits)",
                         sn_digest_name(md), 2 * sn_digest_len(md));
    if (r != SN_OK)
        goto out;
    if (sn_b64_encode(bytes, len, &b64) != SN_OK) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    *out = p7 != NULL    ? json_pack("{s:s}", "pkcs7", b64)
           : sig != NULL ? json_pack("{s:s}", "signature", b64)
                         : json_pack("{s:s, s:s}", "digest_algorithm",
                                     sn_digest_name(md), "digest", b64);
    if (*out == NULL)
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
out:
    free(b64);
    free(bytes);
    return r;
}

static void
print_deadlines(const json_t *d)
{
    static const char *const names[] = {"acknowledgement", "revocation",
                                        "ca_informed"};
    char line[160];
    const json_t *one;
    size_t i;

    for (i = 0; i < 3; i++) {
        one = json_object_get(d, names[i]);
        if (!json_is_true(json_object_get(one, "applies")))
            snprintf(line, sizeof(line), "%-15s not needed", names[i]);
        else
            snprintf(line, sizeof(line), "%-15s due %.32s, %s%.32s", names[i],
                     sn_out_str(one, "due") ? sn_out_str(one, "due") : "-",
                     sn_out_str(one, "met_at") != NULL               ? "met "
                     : json_is_true(json_object_get(one, "overdue")) ? "OVERDUE"
                                                                     : "open",
                     sn_out_str(one, "met_at") ? sn_out_str(one, "met_at")
                                               : "");
        sn_out_field(i == 0 ? "deadlines:" : "", line);
    }
}

static void
print_event(const char *label, const json_t *e)
{
    char line[320];
    json_t *li = json_object_get(e, "log_index");

    snprintf(line, sizeof(line), "%.32s %.16s key %.40s log %lld %.70s",
             sn_out_str(e, "time") ? sn_out_str(e, "time") : "-",
             sn_out_str(e, "action") ? sn_out_str(e, "action") : "-",
             sn_out_str(e, "key") ? sn_out_str(e, "key") : "-",
             json_is_integer(li) ? (long long)json_integer_value(li) : -1LL,
             sn_out_str(e, "sig_sha256") ? sn_out_str(e, "sig_sha256") : "");
    sn_out_field(label, line);
}

static void
print_report(const json_t *r)
{
    const json_t *v, *k, *m = json_object_get(r, "matches");
    char line[160];
    size_t i, j;

    sn_out_field("report:", sn_out_str(r, "id"));
    sn_out_field("kind:", sn_out_str(r, "kind"));
    sn_out_field("state:", sn_out_str(r, "state"));
    sn_out_field("received:", sn_out_str(r, "received_at"));
    if (json_object_get(r, "deadlines") == NULL)
        return; /* an anonymous receipt */
    sn_out_field("reason:", sn_out_str(r, "reason"));
    if (sn_out_str(r, "decision") != NULL)
        sn_out_field("rejected:", sn_out_str(r, "decision"));
    print_deadlines(json_object_get(r, "deadlines"));
    snprintf(line, sizeof(line), "%lld signing event(s)",
             (long long)json_integer_value(json_object_get(m, "total")));
    sn_out_field("matched:", line);
    json_array_foreach(json_object_get(m, "events"), i, v)
    {
        print_event("", v);
    }
    json_array_foreach(json_object_get(r, "keys"), i, k)
    {
        const json_t *rs = json_object_get(k, "resign");

        sn_out_field("key:", sn_out_str(k, "key"));
        sn_out_field("  revoked from:", sn_out_str(k, "revocation_date"));
        snprintf(line, sizeof(line), "%lld signature(s) made at or after it",
                 (long long)json_integer_value(json_object_get(rs, "total")));
        sn_out_field("  re-sign:", line);
        json_array_foreach(json_object_get(rs, "events"), j, v)
        {
            print_event("", v);
        }
    }
}

sn_err
sn_cmd_report_create(struct sn_cli *cli)
{
    const char *kind = cli->opt[SN_OPT_KIND], *reason = cli->opt[SN_OPT_REASON];
    const char *contact = cli->opt[SN_OPT_CONTACT];
    json_t *ev = NULL, *body = NULL, *reply = NULL;
    sn_err r;

    if (kind == NULL || reason == NULL || contact == NULL)
        return sn_cli_usage(cli, "report create needs --kind, --reason and "
                                 "--contact");
    if (strcmp(kind, "suspect_code") != 0 &&
        strcmp(kind, "key_compromise") != 0)
        return sn_cli_usage(cli, "--kind is suspect_code or key_compromise");
    if ((r = evidence(cli, &ev)) != SN_OK)
        goto out;
    if ((body = json_pack("{s:s, s:O, s:s, s:s}", "kind", kind, "evidence", ev,
                          "reason", reason, "contact", contact)) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((r = sn_cli_connect_optional(cli)) != SN_OK ||
        (r = sn_client_json(cli->client, "POST", "/v1/reports", body,
                            &reply)) != SN_OK)
        goto out;
    if (cli->json)
        sn_out_json(reply);
    else
        print_report(reply);
out:
    json_decref(reply);
    json_decref(body);
    json_decref(ev);
    return r;
}

static sn_err
report_one(struct sn_cli *cli, const char *method, const char *suffix,
           json_t *body)
{
    char path[PATH_LEN];
    json_t *reply = NULL;
    sn_err r;

    if ((r = sn_cli_check_id(cli, "report", cli->pos[0])) != SN_OK ||
        (r = sn_cli_path(cli, path, sizeof(path), "/v1/reports/%s%s",
                         cli->pos[0], suffix)) != SN_OK ||
        (r = sn_cli_connect(cli)) != SN_OK ||
        (r = sn_client_json(cli->client, method, path, body, &reply)) != SN_OK)
        goto out;
    if (cli->json)
        sn_out_json(reply);
    else
        print_report(reply);
out:
    json_decref(reply);
    return r;
}

sn_err
sn_cmd_report_show(struct sn_cli *cli)
{
    return report_one(cli, "GET", "", NULL);
}

sn_err
sn_cmd_report_confirm(struct sn_cli *cli)
{
    const char *date = cli->opt[SN_OPT_REVOCATION_DATE];
    json_t *body = date != NULL ? json_pack("{s:s}", "revocation_date", date)
                                : json_object();
    sn_err r;

    if (body == NULL)
        return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    r = report_one(cli, "POST", "/confirm", body);
    json_decref(body);
    return r;
}

sn_err
sn_cmd_report_reject(struct sn_cli *cli)
{
    const char *reason = cli->opt[SN_OPT_REASON];
    json_t *body;
    sn_err r;

    if (reason == NULL)
        return sn_cli_usage(cli, "report reject needs --reason TEXT");
    if ((body = json_pack("{s:s}", "reason", reason)) == NULL)
        return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    r = report_one(cli, "POST", "/reject", body);
    json_decref(body);
    return r;
}

static void
print_line(const json_t *r)
{
    char kind[20], state[12], at[32], id[40];

    sn_out_clean(sn_out_str(r, "id"), id, sizeof(id));
    sn_out_clean(sn_out_str(r, "kind"), kind, sizeof(kind));
    sn_out_clean(sn_out_str(r, "state"), state, sizeof(state));
    sn_out_clean(sn_out_str(r, "received_at"), at, sizeof(at));
    printf("%-36s  %-14s  %-9s  %-20s%s\n", id, kind, state, at,
           json_is_true(json_object_get(r, "overdue")) ? "  OVERDUE" : "");
}

sn_err
sn_cmd_report_list(struct sn_cli *cli)
{
    json_t *reply = NULL, *r1, *od;
    size_t i;
    sn_err r;

    if ((r = sn_cli_connect(cli)) != SN_OK ||
        (r = sn_client_json(cli->client, "GET",
                            cli->seen[SN_OPT_OVERDUE] ? "/v1/reports?overdue=1"
                                                      : "/v1/reports",
                            NULL, &reply)) != SN_OK)
        goto out;
    if (cli->json) {
        sn_out_json(reply);
        goto out;
    }
    json_array_foreach(json_object_get(reply, "reports"), i, r1)
    {
        print_line(r1);
    }
    if ((od = json_object_get(reply, "overdue")) != NULL)
        printf(
            "overdue: acknowledgement %lld, revocation %lld, CA informed "
            "%lld (of %lld open)\n",
            (long long)json_integer_value(
                json_object_get(od, "acknowledgement")),
            (long long)json_integer_value(json_object_get(od, "revocation")),
            (long long)json_integer_value(json_object_get(od, "ca_informed")),
            (long long)json_integer_value(json_object_get(od, "open")));
out:
    json_decref(reply);
    return r;
}
