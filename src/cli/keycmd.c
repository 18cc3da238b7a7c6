/*
 * keycmd: the `signet key ...` commands: create, list, show, disable,
 * enable, destroy, csr, set-certificate, certificate. Arguments and local
 * files are validated before the request; answers are untrusted and only
 * printed through the output filters.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/util.h"
#include "crypto/x509util.h"

#define PATH_LEN 512
/* A PEM chain worth uploading is far smaller (JSON limit default). */
#define MAX_PEM_FILE ((size_t)1 << 20)

/* X.509 name attributes the API's subject object can carry. */
static const struct {
    int nid;
    const char *field;
} name_fields[] = {
    {NID_commonName, "CN"},
    {NID_organizationName, "O"},
    {NID_organizationalUnitName, "OU"},
    {NID_countryName, "C"},
    {NID_stateOrProvinceName, "ST"},
    {NID_localityName, "L"},
    {NID_serialNumber, "serialNumber"},
    {NID_pkcs9_emailAddress, "emailAddress"},
    {NID_streetAddress, "street"},
    {NID_postalCode, "postalCode"},
    {NID_businessCategory, "businessCategory"},
    {NID_jurisdictionCountryName, "jurisdictionC"},
    {NID_jurisdictionStateOrProvinceName, "jurisdictionST"},
    {NID_jurisdictionLocalityName, "jurisdictionL"},
};

static const char *
field_for_nid(int nid)
{
    size_t i;

    for (i = 0; i < sizeof(name_fields) / sizeof(name_fields[0]); i++)
        if (name_fields[i].nid == nid)
            return name_fields[i].field;
    return NULL;
}

/* One line per key: id, state, algorithm, label, certificate or not. */
static void
print_key_line(const json_t *k)
{
    sn_out_text(stdout, sn_out_str(k, "id"), 0);
    fputs("  ", stdout);
    sn_out_text(stdout, sn_out_str(k, "state"), 0);
    fputs("  ", stdout);
    sn_out_text(stdout, sn_out_str(k, "algorithm"), 0);
    fputs("  ", stdout);
    sn_out_text(stdout, sn_out_str(k, "label"), 0);
    if (sn_out_str(k, "certificate_pem") != NULL)
        fputs("  [certificate]", stdout);
    fputc('\n', stdout);
}

static const char *
flag_text(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_boolean(v))
        return "?";
    return json_is_true(v) ? "yes" : "no";
}

static void
print_key_detail(const json_t *k)
{
    const json_t *prot = json_object_get(k, "protection");
    const json_t *hsm = json_object_get(k, "hsm");
    const char *cert = sn_out_str(k, "certificate_pem");

    sn_out_field("id:", sn_out_str(k, "id"));
    sn_out_field("label:", sn_out_str(k, "label"));
    sn_out_field("algorithm:", sn_out_str(k, "algorithm"));
    sn_out_field("state:", sn_out_str(k, "state"));
    sn_out_field("subscriber:", sn_out_str(k, "subscriber"));
    sn_out_field("created:", sn_out_str(k, "created_at"));
    printf("%-13s local=%s never_extractable=%s always_sensitive=%s "
           "extractable=%s sensitive=%s\n",
           "protection:", flag_text(prot, "local"),
           flag_text(prot, "never_extractable"),
           flag_text(prot, "always_sensitive"), flag_text(prot, "extractable"),
           flag_text(prot, "sensitive"));
    printf("%-13s ", "hsm:");
    sn_out_text(stdout, sn_out_str(hsm, "manufacturer"), 0);
    fputs(" / ", stdout);
    sn_out_text(stdout, sn_out_str(hsm, "model"), 0);
    fputs(" / serial ", stdout);
    sn_out_text(stdout, sn_out_str(hsm, "serial"), 0);
    fputs(" / token ", stdout);
    sn_out_text(stdout, sn_out_str(hsm, "token_label"), 0);
    fputc('\n', stdout);
    sn_out_field("certificate:", cert != NULL ? "attached" : "none");
    sn_out_text(stdout, sn_out_str(k, "public_key_pem"), 1);
    if (cert != NULL)
        sn_out_text(stdout, cert, 1);
}

/* Prints a key answer as JSON, one line, or in full. */
static void
show_key(struct sn_cli *cli, const json_t *k, int detail)
{
    if (cli->json)
        sn_out_json(k);
    else if (detail)
        print_key_detail(k);
    else
        print_key_line(k);
}

/* Labels: 1-64 bytes, no control characters (the server decides the rest). */
static int
label_ok(const char *s)
{
    size_t len = strlen(s), i;

    if (len == 0 || len > 64 * 4)
        return 0;
    for (i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

sn_err
sn_cmd_key_create(struct sn_cli *cli)
{
    const char *alg = cli->opt[SN_OPT_ALGORITHM];
    const char *label = cli->opt[SN_OPT_LABEL];
    json_t *req = NULL, *reply = NULL;
    enum sn_keyalg a;
    sn_err r;

    if (alg == NULL || sn_keyalg_from_name(alg, &a) != SN_OK) {
        r = sn_cli_usage(cli, "key create needs --algorithm, one of: %s",
                         sn_keyalg_allowed());
        goto out;
    }
    if (label == NULL || !label_ok(label)) {
        r = sn_cli_usage(cli, "key create needs --label (1-64 printable "
                              "characters)");
        goto out;
    }
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    req =
        json_pack("{s:s,s:s}", "algorithm", sn_keyalg_name(a), "label", label);
    if (req == NULL) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((r = sn_client_json(cli->client, "POST", "/v1/keys", req, &reply)) !=
        SN_OK)
        goto out;
    show_key(cli, reply, 0);
out:
    json_decref(req);
    json_decref(reply);
    return r;
}

sn_err
sn_cmd_key_list(struct sn_cli *cli)
{
    json_t *reply = NULL, *k;
    size_t i;
    sn_err r;

    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, "GET", "/v1/keys", NULL, &reply)) !=
        SN_OK)
        goto out;
    if (cli->json) {
        sn_out_json(reply);
        goto out;
    }
    json_array_foreach(json_object_get(reply, "keys"), i, k)
    {
        print_key_line(k);
    }
out:
    json_decref(reply);
    return r;
}

/* The common shape of show, disable, enable and destroy. */
static sn_err
key_simple(struct sn_cli *cli, const char *method, const char *suffix,
           int detail)
{
    char path[PATH_LEN];
    json_t *reply = NULL;
    sn_err r;

    if ((r = sn_cli_check_id(cli, "key", cli->pos[0])) != SN_OK)
        goto out;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/keys/%s%s", cli->pos[0],
                         suffix)) != SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, method, path, NULL, &reply)) != SN_OK)
        goto out;
    show_key(cli, reply, detail);
out:
    json_decref(reply);
    return r;
}

sn_err
sn_cmd_key_show(struct sn_cli *cli)
{
    return key_simple(cli, "GET", "", 1);
}

sn_err
sn_cmd_key_disable(struct sn_cli *cli)
{
    return key_simple(cli, "POST", "/disable", 0);
}

sn_err
sn_cmd_key_enable(struct sn_cli *cli)
{
    return key_simple(cli, "POST", "/enable", 0);
}

sn_err
sn_cmd_key_destroy(struct sn_cli *cli)
{
    return key_simple(cli, "DELETE", "", 0);
}

/* Adds one name entry to the subject object; fields may not repeat. */
static sn_err
subject_add(struct sn_cli *cli, json_t *obj, const X509_NAME_ENTRY *e)
{
    const char *field;
    unsigned char *utf8 = NULL;
    sn_err r = SN_ERR_NOMEM;
    int len;

    field = field_for_nid(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)));
    if (field == NULL) {
        r = sn_cli_usage(cli, "--subject has an attribute the API does not "
                              "take");
        goto out;
    }
    if (json_object_get(obj, field) != NULL) {
        r = sn_cli_usage(cli,
                         "--subject repeats %s; the API takes one "
                         "value per attribute",
                         field);
        goto out;
    }
    len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (len < 0)
        goto out;
    if (memchr(utf8, '\0', (size_t)len) != NULL) {
        r = sn_cli_usage(cli, "--subject %s contains a NUL", field);
        goto out;
    }
    if (json_object_set_new(obj, field,
                            json_stringn((char *)utf8, (size_t)len)) != 0)
        goto out;
    r = SN_OK;
out:
    OPENSSL_free(utf8);
    return r;
}

/*
 * Parses "/CN=../O=.." with the same rules the server applies, then maps
 * each entry back to the API's field name for the JSON subject object.
 */
sn_err
sn_cli_subject_json(struct sn_cli *cli, const char *slash, json_t **out)
{
    X509_NAME *name = NULL;
    json_t *obj = NULL;
    sn_err r;
    int i, n;

    *out = NULL;
    if ((r = sn_name_from_slash(slash, &name)) != SN_OK) {
        r = sn_cli_usage(cli, "invalid --subject (expected e.g. "
                              "\"/CN=Example Signing/O=Example/C=US\")");
        goto out;
    }
    if ((n = X509_NAME_entry_count(name)) <= 0) {
        r = sn_cli_usage(cli, "--subject is empty");
        goto out;
    }
    if ((obj = json_object()) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        if ((r = subject_add(cli, obj, X509_NAME_get_entry(name, i))) !=
            SN_OK) {
            if (r == SN_ERR_NOMEM)
                sn_cli_fail(cli, r, "cannot convert --subject");
            goto out;
        }
    }
    *out = obj;
    obj = NULL;
    r = SN_OK;
out:
    json_decref(obj);
    X509_NAME_free(name);
    return r;
}

/*
 * After a PEM was fetched (and written if -o was given): print it, or the
 * API's JSON, unless it already went to stdout with -o -.
 */
static void
report_pem(struct sn_cli *cli, const json_t *reply, const char *pem,
           const char *outpath)
{
    if (outpath != NULL && strcmp(outpath, "-") == 0)
        return;
    if (cli->json)
        sn_out_json(reply);
    else if (outpath == NULL)
        sn_out_text(stdout, pem, 1);
    else
        fprintf(stderr, "wrote %s\n", outpath);
}

sn_err
sn_cmd_key_csr(struct sn_cli *cli)
{
    const char *outpath = cli->opt[SN_OPT_OUT], *pem;
    json_t *req = NULL, *subject = NULL, *reply = NULL;
    char path[PATH_LEN];
    enum sn_digest md;
    sn_err r;

    if ((r = sn_cli_check_id(cli, "key", cli->pos[0])) != SN_OK)
        goto out;
    if (cli->opt[SN_OPT_SUBJECT] == NULL) {
        r = sn_cli_usage(cli, "key csr needs --subject \"/CN=../O=..\"");
        goto out;
    }
    if ((r = sn_cli_subject_json(cli, cli->opt[SN_OPT_SUBJECT], &subject)) !=
        SN_OK)
        goto out;
    if ((r = sn_cli_digest_opt(cli, &md)) != SN_OK)
        goto out;
    if ((r = sn_cli_check_out(cli, outpath)) != SN_OK)
        goto out;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/keys/%s/csr",
                         cli->pos[0])) != SN_OK)
        goto out;
    req = json_pack("{s:O,s:s}", "subject", subject, "digest_algorithm",
                    sn_digest_name(md));
    if (req == NULL) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, "POST", path, req, &reply)) != SN_OK)
        goto out;
    if ((pem = sn_out_str(reply, "csr_pem")) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_INVALID, "the server sent no csr_pem");
        goto out;
    }
    if (outpath != NULL &&
        (r = sn_out_file(outpath, pem, strlen(pem))) != SN_OK) {
        sn_cli_fail(cli, r, "cannot write %s: %s", outpath, strerror(errno));
        goto out;
    }
    report_pem(cli, reply, pem, outpath);
out:
    json_decref(req);
    json_decref(subject);
    json_decref(reply);
    return r;
}

/* Reads and parses a PEM chain file so nothing malformed is uploaded. */
static sn_err
read_chain_file(struct sn_cli *cli, const char *file, uint8_t **pem,
                size_t *len)
{
    STACK_OF(X509) *chain = NULL;
    sn_err r;

    *pem = NULL;
    *len = 0;
    if ((r = sn_file_read(file, MAX_PEM_FILE, pem, len)) != SN_OK) {
        if (r == SN_ERR_LIMIT)
            return sn_cli_fail(cli, r, "%s: larger than %zu bytes", file,
                               MAX_PEM_FILE);
        return sn_cli_fail(cli, r, "%s: cannot read the file", file);
    }
    if ((r = sn_chain_from_pem((const char *)*pem, *len, &chain)) != SN_OK) {
        free(*pem);
        *pem = NULL;
        *len = 0;
        return sn_cli_usage(cli, "%s: not a PEM certificate chain", file);
    }
    sk_X509_pop_free(chain, X509_free);
    return SN_OK;
}

sn_err
sn_cmd_key_set_certificate(struct sn_cli *cli)
{
    char path[PATH_LEN];
    json_t *reply = NULL;
    uint8_t *pem = NULL;
    size_t len;
    sn_err r;

    if ((r = sn_cli_check_id(cli, "key", cli->pos[0])) != SN_OK)
        goto out;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/keys/%s/certificate",
                         cli->pos[0])) != SN_OK)
        goto out;
    if ((r = read_chain_file(cli, cli->pos[1], &pem, &len)) != SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_send(cli->client, "PUT", path, "application/x-pem-file",
                            pem, len, &reply)) != SN_OK)
        goto out;
    show_key(cli, reply, 0);
out:
    free(pem);
    json_decref(reply);
    return r;
}

sn_err
sn_cmd_key_certificate(struct sn_cli *cli)
{
    const char *outpath = cli->opt[SN_OPT_OUT], *pem;
    char path[PATH_LEN];
    json_t *reply = NULL;
    sn_err r;

    if ((r = sn_cli_check_id(cli, "key", cli->pos[0])) != SN_OK)
        goto out;
    if ((r = sn_cli_check_out(cli, outpath)) != SN_OK)
        goto out;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/keys/%s/certificate",
                         cli->pos[0])) != SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, "GET", path, NULL, &reply)) != SN_OK)
        goto out;
    if ((pem = sn_out_str(reply, "certificate_pem")) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server sent no certificate_pem");
        goto out;
    }
    if (outpath != NULL &&
        (r = sn_out_file(outpath, pem, strlen(pem))) != SN_OK) {
        sn_cli_fail(cli, r, "cannot write %s: %s", outpath, strerror(errno));
        goto out;
    }
    report_pem(cli, reply, pem, outpath);
out:
    json_decref(reply);
    return r;
}
