/*
 * cacmd: the CA commands of the `signet` CLI: recording a subscriber's
 * validated identity (`subscriber identity`), certifying a key in one step
 * (`key certify`: CSR, issuance, attachment of the chain), looking up and
 * revoking issued certificates (`ca certificate`, `ca revoke`) and fetching
 * the CA certificates (`ca roots`). Command-line input is the user's and is
 * validated before anything is sent; server answers are untrusted: PEM is
 * parsed before it is written or uploaded, and text is printed only through
 * the output filters.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/util.h"
#include "crypto/x509util.h"

#define PATH_LEN 512
#define MAX_SERIAL_HEX 64     /* 256 bits; the CA issues 128 */
#define MAX_VALIDITY_DAYS 460 /* CSBR 6.3.2 */
#define MAX_FIELD_LEN 64      /* the server's limit per identity field */
#define PEM_MEDIA_TYPE "application/x-pem-file"

/* Identity options and the API's field names, in the API's order. */
static const struct {
    enum sn_cli_opt opt;
    const char *field;
} identity_opts[] = {
    {SN_OPT_ID_O, "O"},
    {SN_OPT_ID_ASSUMED_NAME, "assumedName"},
    {SN_OPT_ID_C, "C"},
    {SN_OPT_ID_ST, "ST"},
    {SN_OPT_ID_L, "L"},
    {SN_OPT_ID_STREET, "street"},
    {SN_OPT_ID_POSTAL_CODE, "postalCode"},
    {SN_OPT_ID_OU, "OU"},
    {SN_OPT_ID_SERIAL_NUMBER, "serialNumber"},
    {SN_OPT_ID_BUSINESS_CATEGORY, "businessCategory"},
    {SN_OPT_ID_JURISDICTION_C, "jurisdictionC"},
    {SN_OPT_ID_JURISDICTION_ST, "jurisdictionST"},
    {SN_OPT_ID_JURISDICTION_L, "jurisdictionL"},
};

/* RFC 5280 reasons the CA accepts; certificateHold is never one. */
static const char *const revoke_reasons[] = {
    "keyCompromise",      "superseded",         "cessationOfOperation",
    "affiliationChanged", "privilegeWithdrawn", "unspecified",
};

/* 1..max bytes without control characters (the server decides the rest). */
static int
text_ok(const char *s, size_t max)
{
    size_t len = strlen(s), i;

    if (len == 0 || len > max)
        return 0;
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* Serials are hex, as the API prints them; "0x" and colons are accepted. */
static sn_err
serial_arg(struct sn_cli *cli, const char *in, char *out, size_t outlen)
{
    size_t o = 0;

    if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X'))
        in += 2;
    for (; *in != '\0'; in++) {
        char ch = *in;
        if (ch == ':')
            continue;
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
              (ch >= 'A' && ch <= 'F')) ||
            o + 1 >= outlen || o >= MAX_SERIAL_HEX)
            return sn_cli_usage(cli,
                                "the serial number must be 1..%d hex "
                                "digits",
                                MAX_SERIAL_HEX);
        out[o++] = ch;
    }
    if (o == 0)
        return sn_cli_usage(cli, "the serial number must be 1..%d hex digits",
                            MAX_SERIAL_HEX);
    out[o] = '\0';
    return SN_OK;
}

/* ---- subscriber identity ---- */

static sn_err
identity_request(struct sn_cli *cli, json_t **out)
{
    json_t *req = NULL;
    const char *v;
    size_t i;
    sn_err r;

    *out = NULL;
    if (cli->opt[SN_OPT_ID_O] == NULL || cli->opt[SN_OPT_ID_C] == NULL ||
        (cli->opt[SN_OPT_ID_ST] == NULL && cli->opt[SN_OPT_ID_L] == NULL))
        return sn_cli_usage(cli, "subscriber identity needs --O, --C, and "
                                 "--ST or --L (CSBR 7.1.4.2)");
    if ((req = json_object()) == NULL)
        return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    for (i = 0; i < sizeof(identity_opts) / sizeof(identity_opts[0]); i++) {
        if ((v = cli->opt[identity_opts[i].opt]) == NULL)
            continue;
        if (!text_ok(v, MAX_FIELD_LEN)) {
            r = sn_cli_usage(cli,
                             "identity field %s must be 1-%d printable "
                             "characters",
                             identity_opts[i].field, MAX_FIELD_LEN);
            goto out;
        }
        if (json_object_set_new(req, identity_opts[i].field, json_string(v)) !=
            0) {
            r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    *out = req;
    req = NULL;
    r = SN_OK;
out:
    json_decref(req);
    return r;
}

sn_err
sn_cmd_subscriber_identity(struct sn_cli *cli)
{
    json_t *req = NULL, *reply = NULL, *id;
    char path[PATH_LEN];
    size_t i;
    sn_err r;

    if ((r = sn_cli_check_id(cli, "subscriber", cli->pos[0])) != SN_OK)
        goto out;
    if ((r = identity_request(cli, &req)) != SN_OK)
        goto out;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/subscribers/%s/identity",
                         cli->pos[0])) != SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, "PUT", path, req, &reply)) != SN_OK)
        goto out;
    if (cli->json) {
        sn_out_json(reply);
        goto out;
    }
    sn_out_field("subscriber:", sn_out_str(reply, "subscriber"));
    id = json_object_get(reply, "identity");
    for (i = 0; i < sizeof(identity_opts) / sizeof(identity_opts[0]); i++) {
        const char *v = sn_out_str(id, identity_opts[i].field);
        char label[32];

        if (v == NULL)
            continue;
        snprintf(label, sizeof(label), "%s:", identity_opts[i].field);
        sn_out_field(label, v);
    }
out:
    json_decref(req);
    json_decref(reply);
    return r;
}

/* ---- key certify ---- */

/* The validated options of `key certify`. */
struct certify_args {
    const char *key;
    const char *profile;
    uint64_t days; /* 0: the server's default */
    const char *outpath;
    json_t *subject;
};

static sn_err
certify_args(struct sn_cli *cli, struct certify_args *a)
{
    const char *days = cli->opt[SN_OPT_DAYS];
    sn_err r;
    size_t i;

    memset(a, 0, sizeof(*a));
    a->key = cli->pos[0];
    a->outpath = cli->opt[SN_OPT_OUT];
    a->profile = cli->opt[SN_OPT_PROFILE];
    if ((r = sn_cli_check_id(cli, "key", a->key)) != SN_OK)
        return r;
    if (a->profile != NULL && strcmp(a->profile, "code-signing") != 0 &&
        strcmp(a->profile, "ev-code-signing") != 0)
        return sn_cli_usage(cli, "--profile must be code-signing or "
                                 "ev-code-signing");
    if (days != NULL) {
        a->days = 0;
        for (i = 0; days[i] != '\0' && i < 4; i++) {
            if (days[i] < '0' || days[i] > '9')
                break;
            a->days = a->days * 10 + (uint64_t)(days[i] - '0');
        }
        if (i == 0 || days[i] != '\0' || a->days < 1 ||
            a->days > MAX_VALIDITY_DAYS)
            return sn_cli_usage(cli, "--days must be 1..%d (CSBR 6.3.2)",
                                MAX_VALIDITY_DAYS);
    }
    if (cli->opt[SN_OPT_SUBJECT] == NULL)
        return sn_cli_usage(cli, "key certify needs --subject "
                                 "\"/CN=../O=../C=../ST=..\"");
    if ((r = sn_cli_subject_json(cli, cli->opt[SN_OPT_SUBJECT], &a->subject)) !=
        SN_OK)
        return r;
    return sn_cli_check_out(cli, a->outpath);
}

/* POST /v1/keys/{id}/csr; *csr is a copy of the server's PEM. */
static sn_err
certify_csr(struct sn_cli *cli, const struct certify_args *a, char **csr)
{
    json_t *req = NULL, *reply = NULL;
    char path[PATH_LEN];
    const char *pem;
    sn_err r;

    *csr = NULL;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/keys/%s/csr", a->key)) !=
        SN_OK)
        goto out;
    if ((req = json_pack("{s:O,s:s}", "subject", a->subject, "digest_algorithm",
                         "sha256")) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((r = sn_client_json(cli->client, "POST", path, req, &reply)) != SN_OK)
        goto out;
    if ((pem = sn_out_str(reply, "csr_pem")) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_INVALID, "the server sent no csr_pem");
        goto out;
    }
    if ((*csr = strdup(pem)) == NULL)
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
out:
    json_decref(req);
    json_decref(reply);
    return r;
}

/* POST /v1/ca/certificates; *reply is the issuance answer. */
static sn_err
certify_issue(struct sn_cli *cli, const struct certify_args *a, const char *csr,
              json_t **reply)
{
    json_t *req = NULL;
    sn_err r = SN_ERR_NOMEM;

    *reply = NULL;
    if ((req = json_pack("{s:s}", "csr_pem", csr)) == NULL ||
        (a->profile != NULL &&
         json_object_set_new(req, "profile", json_string(a->profile)) != 0) ||
        (a->days != 0 &&
         json_object_set_new(req, "validity_days",
                             json_integer((json_int_t)a->days)) != 0)) {
        r = sn_cli_fail(cli, r, "out of memory");
        goto out;
    }
    r = sn_client_json(cli->client, "POST", "/v1/ca/certificates", req, reply);
out:
    json_decref(req);
    return r;
}

/*
 * The chain to attach, leaf then issuing CA, from the (untrusted) answer:
 * both must parse as certificates; they are re-encoded, never copied.
 */
static sn_err
certify_chain(struct sn_cli *cli, const json_t *issued, char **chain_pem)
{
    const char *leaf = sn_out_str(issued, "certificate_pem");
    const char *issuer = sn_out_str(issued, "issuer_pem");
    STACK_OF(X509) *chain = NULL;
    char *joined = NULL;
    size_t ll, il;
    sn_err r;

    *chain_pem = NULL;
    if (leaf == NULL || issuer == NULL) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server sent no certificate_pem and issuer_pem");
        goto out;
    }
    ll = strlen(leaf);
    il = strlen(issuer);
    if ((joined = malloc(ll + il + 1)) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    memcpy(joined, leaf, ll);
    memcpy(joined + ll, issuer, il + 1);
    if (sn_chain_from_pem(joined, ll + il, &chain) != SN_OK ||
        sk_X509_num(chain) != 2) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server's certificate and issuer are not two PEM "
                        "certificates");
        goto out;
    }
    if ((r = sn_chain_to_pem(chain, chain_pem)) != SN_OK)
        r = sn_cli_fail(cli, r, "cannot encode the certificate chain");
out:
    free(joined);
    sk_X509_pop_free(chain, X509_free);
    return r;
}

static void
print_issued(const json_t *issued, const char *outpath)
{
    sn_out_field("serial:", sn_out_str(issued, "serial"));
    sn_out_field("key:", sn_out_str(issued, "key"));
    sn_out_field("profile:", sn_out_str(issued, "profile"));
    sn_out_field("not before:", sn_out_str(issued, "not_before"));
    sn_out_field("not after:", sn_out_str(issued, "not_after"));
    sn_out_field("chain:", outpath != NULL ? outpath : "attached to the key");
}

sn_err
sn_cmd_key_certify(struct sn_cli *cli)
{
    struct certify_args a;
    json_t *issued = NULL, *key = NULL;
    char path[PATH_LEN], *csr = NULL, *chain = NULL;
    sn_err r;

    if ((r = certify_args(cli, &a)) != SN_OK)
        goto out;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/keys/%s/certificate",
                         a.key)) != SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = certify_csr(cli, &a, &csr)) != SN_OK ||
        (r = certify_issue(cli, &a, csr, &issued)) != SN_OK ||
        (r = certify_chain(cli, issued, &chain)) != SN_OK)
        goto out;
    /* The certificate exists now: keep it even if attaching fails. */
    if (a.outpath != NULL && strcmp(a.outpath, "-") != 0 &&
        sn_out_file(a.outpath, chain, strlen(chain)) != SN_OK) {
        r = sn_cli_fail(cli, SN_ERR_IO,
                        "certificate %s issued, but %s "
                        "cannot be written: %s",
                        sn_out_str(issued, "serial"), a.outpath,
                        strerror(errno));
        goto out;
    }
    if ((r = sn_client_send(cli->client, "PUT", path, PEM_MEDIA_TYPE, chain,
                            strlen(chain), &key)) != SN_OK) {
        fflush(stdout);
        fprintf(stderr,
                "signet: certificate %s was issued but not "
                "attached to the key\n",
                sn_out_str(issued, "serial") ? sn_out_str(issued, "serial")
                                             : "?");
        goto out;
    }
    if (a.outpath != NULL && strcmp(a.outpath, "-") == 0)
        fputs(chain, stdout);
    else if (cli->json)
        sn_out_json(issued);
    else
        print_issued(issued, a.outpath);
out:
    free(csr);
    free(chain);
    json_decref(a.subject);
    json_decref(issued);
    json_decref(key);
    return r;
}

/* ---- ca certificate, ca revoke ---- */

static void
print_cert_status(const json_t *c)
{
    sn_out_field("serial:", sn_out_str(c, "serial"));
    sn_out_field("status:", sn_out_str(c, "status"));
    sn_out_field("ca:", sn_out_str(c, "ca"));
    sn_out_field("subscriber:", sn_out_str(c, "subscriber"));
    sn_out_field("key:", sn_out_str(c, "key"));
    sn_out_field("profile:", sn_out_str(c, "profile"));
    sn_out_field("not before:", sn_out_str(c, "not_before"));
    sn_out_field("not after:", sn_out_str(c, "not_after"));
    if (sn_out_str(c, "revocation_date") != NULL) {
        sn_out_field("revoked at:", sn_out_str(c, "revocation_date"));
        sn_out_field("reason:", sn_out_str(c, "reason"));
    }
}

sn_err
sn_cmd_ca_certificate(struct sn_cli *cli)
{
    const char *outpath = cli->opt[SN_OPT_OUT], *pem;
    char serial[MAX_SERIAL_HEX + 1], path[PATH_LEN];
    json_t *reply = NULL;
    sn_err r;

    if ((r = serial_arg(cli, cli->pos[0], serial, sizeof(serial))) != SN_OK ||
        (r = sn_cli_check_out(cli, outpath)) != SN_OK ||
        (r = sn_cli_path(cli, path, sizeof(path), "/v1/ca/certificates/%s",
                         serial)) != SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, "GET", path, NULL, &reply)) != SN_OK)
        goto out;
    if (outpath != NULL) {
        if ((pem = sn_out_str(reply, "certificate_pem")) == NULL) {
            r = sn_cli_fail(cli, SN_ERR_INVALID,
                            "the server sent no certificate_pem");
            goto out;
        }
        if ((r = sn_out_file(outpath, pem, strlen(pem))) != SN_OK) {
            sn_cli_fail(cli, r, "cannot write %s: %s", outpath,
                        strerror(errno));
            goto out;
        }
        if (strcmp(outpath, "-") == 0)
            goto out;
    }
    if (cli->json)
        sn_out_json(reply);
    else
        print_cert_status(reply);
out:
    json_decref(reply);
    return r;
}

static sn_err
revoke_request(struct sn_cli *cli, json_t **out)
{
    const char *reason = cli->opt[SN_OPT_REASON], *date = cli->opt[SN_OPT_DATE];
    const char *comment = cli->opt[SN_OPT_COMMENT];
    json_t *req = NULL;
    time_t when;
    size_t i;

    *out = NULL;
    if (reason == NULL)
        return sn_cli_usage(cli, "ca revoke needs --reason (e.g. "
                                 "keyCompromise)");
    for (i = 0; i < sizeof(revoke_reasons) / sizeof(revoke_reasons[0]); i++)
        if (strcmp(reason, revoke_reasons[i]) == 0)
            break;
    if (i == sizeof(revoke_reasons) / sizeof(revoke_reasons[0]))
        return sn_cli_usage(cli,
                            "unknown --reason '%.64s' (keyCompromise, "
                            "superseded, cessationOfOperation, "
                            "affiliationChanged, privilegeWithdrawn, "
                            "unspecified; never certificateHold)",
                            reason);
    if (date != NULL && sn_time_parse(date, &when) != SN_OK)
        return sn_cli_usage(cli, "--date must be an RFC 3339 time such as "
                                 "2026-01-31T12:00:00Z");
    if ((req = json_pack("{s:s}", "reason", reason)) == NULL ||
        (date != NULL &&
         json_object_set_new(req, "revocation_date", json_string(date)) != 0) ||
        (comment != NULL &&
         json_object_set_new(req, "comment", json_string(comment)) != 0)) {
        json_decref(req);
        return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    }
    *out = req;
    return SN_OK;
}

sn_err
sn_cmd_ca_revoke(struct sn_cli *cli)
{
    char serial[MAX_SERIAL_HEX + 1], path[PATH_LEN];
    json_t *req = NULL, *reply = NULL;
    sn_err r;

    if ((r = serial_arg(cli, cli->pos[0], serial, sizeof(serial))) != SN_OK ||
        (r = revoke_request(cli, &req)) != SN_OK ||
        (r = sn_cli_path(cli, path, sizeof(path),
                         "/v1/ca/certificates/%s/revoke", serial)) != SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, "POST", path, req, &reply)) != SN_OK)
        goto out;
    if (cli->json)
        sn_out_json(reply);
    else
        print_cert_status(reply);
out:
    json_decref(req);
    json_decref(reply);
    return r;
}

/* ---- ca roots ---- */

/* "application/x-pem-file", perhaps with parameters. */
static int
is_pem_type(const char *ctype)
{
    size_t n = strlen(PEM_MEDIA_TYPE);

    return strncmp(ctype, PEM_MEDIA_TYPE, n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* One line per certificate: subject and SHA-256 fingerprint. */
static void
print_roots(STACK_OF(X509) *chain)
{
    unsigned char md[32];
    unsigned int mdlen;
    char *subj;
    int i;
    unsigned int j;

    for (i = 0; i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);

        subj = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
        sn_out_text(stdout, subj != NULL ? subj : "?", 0);
        OPENSSL_free(subj);
        fputs("  sha256:", stdout);
        mdlen = 0;
        if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1)
            for (j = 0; j < mdlen; j++)
                printf("%02X", md[j]);
        fputc('\n', stdout);
    }
}

sn_err
sn_cmd_ca_roots(struct sn_cli *cli)
{
    const char *outpath = cli->opt[SN_OPT_OUT];
    struct sn_client_body body = {NULL, 0, ""};
    STACK_OF(X509) *chain = NULL;
    char *pem = NULL;
    json_t *j;
    sn_err r;

    if ((r = sn_cli_check_out(cli, outpath)) != SN_OK)
        goto out;
    if ((r = sn_cli_connect_public(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_get(cli->client, "/ca/certs.pem",
                           PEM_MEDIA_TYPE ", application/json", &body)) !=
        SN_OK)
        goto out;
    if (!is_pem_type(body.content_type) ||
        sn_chain_from_pem((const char *)body.data, body.len, &chain) != SN_OK) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server sent no PEM certificates");
        goto out;
    }
    if ((r = sn_chain_to_pem(chain, &pem)) != SN_OK) {
        sn_cli_fail(cli, r, "cannot encode the certificates");
        goto out;
    }
    if (outpath != NULL) {
        if ((r = sn_out_file(outpath, pem, strlen(pem))) != SN_OK) {
            sn_cli_fail(cli, r, "cannot write %s: %s", outpath,
                        strerror(errno));
            goto out;
        }
        if (strcmp(outpath, "-") == 0)
            goto out;
    }
    if (cli->json) {
        if ((j = json_pack("{s:s}", "certificates_pem", pem)) == NULL) {
            r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
            goto out;
        }
        sn_out_json(j);
        json_decref(j);
    } else if (outpath == NULL) {
        fputs(pem, stdout);
    } else {
        print_roots(chain);
        fflush(stdout);
        fprintf(stderr, "wrote %s (%d certificates)\n", outpath,
                sk_X509_num(chain));
    }
out:
    free(pem);
    sk_X509_pop_free(chain, X509_free);
    sn_client_body_cleanup(&body);
    return r;
}
