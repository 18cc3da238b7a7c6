/*
 * attestcmd: key attestation in the CLI. `signet attestation verify`
 * checks, offline, a key attestation (a CSR carrying one, or a PEM bundle
 * of attestation certificate and issuer) against roots the user pins; the
 * evidence file is untrusted and goes through attest.c's strict parsers.
 * `signet key attestation` fetches a key's attestation from the server; the
 * answer is untrusted, parsed as a certificate chain and written
 * re-encoded.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/util.h"
#include "crypto/attest.h"
#include "crypto/x509util.h"

#define PATH_LEN 512
/* A CSR or a two-certificate bundle is a few kilobytes. */
#define MAX_PEM_FILE ((size_t)256 << 10)
#define WHY_LEN 256
#define PEM_MEDIA_TYPE "application/x-pem-file"

/* What the evidence file holds, told apart by its first PEM label. */
enum evidence_kind { EV_CSR, EV_BUNDLE };

struct evidence_file {
    enum evidence_kind kind;
    X509_REQ *req;
    STACK_OF(X509) *bundle;
};

static void
evidence_file_cleanup(struct evidence_file *ev)
{
    X509_REQ_free(ev->req);
    sk_X509_pop_free(ev->bundle, X509_free);
    memset(ev, 0, sizeof(*ev));
}

static sn_err
verify_failed(struct sn_cli *cli, sn_err r, const char *reason)
{
    return sn_cli_fail(cli, r, "attestation verification failed: %s", reason);
}

/* Reads the trusted roots: one or more PEM certificates. */
static sn_err
read_roots(struct sn_cli *cli, const char *file, STACK_OF(X509) **out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    sn_err r;

    *out = NULL;
    if ((r = sn_file_read(file, MAX_PEM_FILE, &buf, &len)) != SN_OK) {
        r = sn_cli_fail(cli, r, "cannot read %s: %s", file, sn_err_str(r));
        goto out;
    }
    if (sn_chain_from_pem((const char *)buf, len, out) != SN_OK)
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "%s: not a PEM file of root certificates", file);
out:
    free(buf);
    return r;
}

/* The label of the first PEM block, or SN_ERR_INVALID if there is none. */
static sn_err
first_label(const uint8_t *buf, size_t len, char *label, size_t labellen)
{
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long dlen = 0;
    BIO *bio;
    sn_err r = SN_ERR_INVALID;

    label[0] = '\0';
    if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
        return SN_ERR_NOMEM;
    if (PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
        snprintf(label, labellen, "%s", name);
        r = SN_OK;
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(bio);
    ERR_clear_error();
    return r;
}

/* Exactly one PEM CSR (no RFC 1421 headers) and no other PEM block. */
static sn_err
parse_csr(const uint8_t *buf, size_t len, X509_REQ **out)
{
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    const unsigned char *p;
    long dlen = 0;
    X509_REQ *req = NULL;
    BIO *bio;
    sn_err r = SN_ERR_INVALID;

    *out = NULL;
    if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
        return SN_ERR_NOMEM;
    if (PEM_read_bio(bio, &name, &header, &data, &dlen) != 1 ||
        header[0] != '\0')
        goto out;
    p = data;
    if ((req = d2i_X509_REQ(NULL, &p, dlen)) == NULL || p != data + dlen)
        goto out;
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    name = header = NULL;
    data = NULL;
    if (PEM_read_bio(bio, &name, &header, &data, &dlen) == 1)
        goto out;
    *out = req;
    req = NULL;
    r = SN_OK;
out:
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    X509_REQ_free(req);
    BIO_free(bio);
    ERR_clear_error();
    return r;
}

static sn_err
read_evidence(struct sn_cli *cli, const char *file, struct evidence_file *ev)
{
    char label[64];
    uint8_t *buf = NULL;
    size_t len = 0;
    sn_err r;

    memset(ev, 0, sizeof(*ev));
    if ((r = sn_file_read(file, MAX_PEM_FILE, &buf, &len)) != SN_OK) {
        r = sn_cli_fail(cli, r, "cannot read %s: %s", file, sn_err_str(r));
        goto out;
    }
    if (first_label(buf, len, label, sizeof(label)) != SN_OK) {
        r = verify_failed(cli, SN_ERR_INVALID, "the file holds no PEM block");
        goto out;
    }
    if (strcmp(label, PEM_STRING_X509_REQ) == 0 ||
        strcmp(label, PEM_STRING_X509_REQ_OLD) == 0) {
        ev->kind = EV_CSR;
        if ((r = parse_csr(buf, len, &ev->req)) != SN_OK)
            r = verify_failed(cli, r, "the file is not one well-formed CSR");
    } else if (strcmp(label, PEM_STRING_X509) == 0) {
        ev->kind = EV_BUNDLE;
        if ((r = sn_chain_from_pem((const char *)buf, len, &ev->bundle)) !=
            SN_OK)
            r = verify_failed(cli, r,
                              "the file is not a well-formed PEM bundle of "
                              "certificates");
    } else {
        r = verify_failed(cli, SN_ERR_INVALID,
                          "the file is neither a PEM CSR nor PEM "
                          "certificates");
    }
out:
    free(buf);
    return r;
}

static const char *
yes_no(int v)
{
    return v ? "yes" : "no";
}

static sn_err
print_json(struct sn_cli *cli, const struct sn_attestation *a, const char *when)
{
    const struct sn_key_facts *f = &a->facts;
    json_t *j;

    j = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s},s:{s:b,s:b,s:b,s:b,s:b},"
                  "s:s,s:s}",
                  "subscriber", a->subscriber, "key_id", a->key_id, "hsm",
                  "manufacturer", a->hsm.manufacturer, "model", a->hsm.model,
                  "serial", a->hsm.serial, "token_label", a->hsm.label,
                  "protection", "local", f->local, "never_extractable",
                  f->never_extractable, "always_sensitive", f->always_sensitive,
                  "extractable", f->extractable, "sensitive", f->sensitive,
                  "generated_at", when, "attestation", "OK");
    if (j == NULL)
        return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    sn_out_json(j);
    json_decref(j);
    return SN_OK;
}

static sn_err
print_facts(struct sn_cli *cli, const struct sn_attestation *a)
{
    const struct sn_key_facts *f = &a->facts;
    char when[SN_TIME_LEN];

    sn_time_format(a->generated_at, when);
    if (cli->json)
        return print_json(cli, a, when);
    sn_out_field("subscriber:", a->subscriber);
    sn_out_field("key id:", a->key_id);
    sn_out_field("manufacturer:", a->hsm.manufacturer);
    sn_out_field("model:", a->hsm.model);
    sn_out_field("serial:", a->hsm.serial);
    sn_out_field("token label:", a->hsm.label);
    printf("%-13s local=%s never_extractable=%s always_sensitive=%s "
           "extractable=%s sensitive=%s\n",
           "protection:", yes_no(f->local), yes_no(f->never_extractable),
           yes_no(f->always_sensitive), yes_no(f->extractable),
           yes_no(f->sensitive));
    sn_out_field("generated at:", when);
    puts("attestation: OK");
    return SN_OK;
}

sn_err
sn_cmd_attestation_verify(struct sn_cli *cli)
{
    const char *rootfile = cli->opt[SN_OPT_ROOT];
    const char *arc = cli->opt[SN_OPT_OID_ARC];
    struct evidence_file ev = {EV_CSR, NULL, NULL};
    STACK_OF(X509) *roots = NULL;
    struct sn_attestation a;
    struct sn_oids oids;
    char why[WHY_LEN];
    sn_err r;

    if (rootfile == NULL) {
        r = sn_cli_usage(cli, "attestation verify needs --root ROOTS.pem "
                              "(the attestation root(s) you trust)");
        goto out;
    }
    /* The operator's arc (its signetd.conf oid.arc), published with its
     * attestation root; without --oid-arc the default arc. */
    if (sn_oids_init(&oids, arc) != SN_OK) {
        r = sn_cli_usage(cli, "--oid-arc: expected the operator's OID arc, "
                              "such as 1.3.6.1.4.1.NNNNN");
        goto out;
    }
    if ((r = read_roots(cli, rootfile, &roots)) != SN_OK)
        goto out;
    if ((r = read_evidence(cli, cli->pos[0], &ev)) != SN_OK)
        goto out;
    if (ev.kind == EV_CSR)
        r = sn_attest_verify_csr(ev.req, roots, &oids, &a, why, sizeof(why));
    else
        r = sn_attest_verify_bundle(ev.bundle, roots, &oids, &a, why,
                                    sizeof(why));
    if (r != SN_OK) {
        r = verify_failed(cli, r, why[0] != '\0' ? why : sn_err_str(r));
        goto out;
    }
    r = print_facts(cli, &a);
out:
    evidence_file_cleanup(&ev);
    sk_X509_pop_free(roots, X509_free);
    return r;
}

/* "application/x-pem-file", perhaps with parameters. */
static int
is_pem_type(const char *ctype)
{
    size_t n = strlen(PEM_MEDIA_TYPE);

    return strncmp(ctype, PEM_MEDIA_TYPE, n) == 0 &&
           (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

/* The answer must be PEM: attestation certificate, then its issuer. */
static sn_err
attestation_pem(struct sn_cli *cli, const struct sn_client_body *body,
                char **pem)
{
    STACK_OF(X509) *chain = NULL;
    sn_err r;

    *pem = NULL;
    if (!is_pem_type(body->content_type)) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server answered with '%s', not PEM",
                        body->content_type);
        goto out;
    }
    if (sn_chain_from_pem((const char *)body->data, body->len, &chain) !=
            SN_OK ||
        sk_X509_num(chain) < 2) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server sent no attestation certificate and "
                        "issuer");
        goto out;
    }
    if ((r = sn_chain_to_pem(chain, pem)) != SN_OK)
        r = sn_cli_fail(cli, r, "cannot encode the attestation");
out:
    sk_X509_pop_free(chain, X509_free);
    return r;
}

static sn_err
emit_attestation(struct sn_cli *cli, const char *pem, const char *outpath)
{
    json_t *j;

    if (outpath != NULL) {
        if (sn_out_file(outpath, pem, strlen(pem)) != SN_OK)
            return sn_cli_fail(cli, SN_ERR_IO, "cannot write %s: %s", outpath,
                               strerror(errno));
        if (strcmp(outpath, "-") != 0)
            fprintf(stderr, "wrote %s\n", outpath);
        return SN_OK;
    }
    if (!cli->json) {
        fputs(pem, stdout);
        return SN_OK;
    }
    if ((j = json_pack("{s:s}", "attestation_pem", pem)) == NULL)
        return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    sn_out_json(j);
    json_decref(j);
    return SN_OK;
}

sn_err
sn_cmd_key_attestation(struct sn_cli *cli)
{
    const char *outpath = cli->opt[SN_OPT_OUT];
    struct sn_client_body body = {NULL, 0, ""};
    char path[PATH_LEN], *pem = NULL;
    sn_err r;

    if ((r = sn_cli_check_id(cli, "key", cli->pos[0])) != SN_OK)
        goto out;
    if ((r = sn_cli_check_out(cli, outpath)) != SN_OK)
        goto out;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/keys/%s/attestation",
                         cli->pos[0])) != SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_get(cli->client, path,
                           PEM_MEDIA_TYPE ", application/json", &body)) !=
        SN_OK)
        goto out;
    if ((r = attestation_pem(cli, &body, &pem)) != SN_OK)
        goto out;
    r = emit_attestation(cli, pem, outpath);
out:
    free(pem);
    sn_client_body_cleanup(&body);
    return r;
}
