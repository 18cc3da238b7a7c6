/*
 * signcmd: `signet sign` and `signet sign-digest`. By default the file is
 * hashed here and only its digest (then the digest of the CMS signed
 * attributes) goes to the server; --upload streams the file to the server
 * instead. Every signature the server returns is checked locally before
 * it is written: signatures against the key's certificate, CMS output by
 * OpenSSL's own CMS_verify against the file.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/util.h"
#include "crypto/cms.h"
#include "crypto/x509util.h"

#define PATH_LEN 512
#define OUT_PATH_LEN 4096

/* What the CMS builder's signing callback needs to reach the server. */
struct remote_signer {
    struct sn_cli *cli;
    const char *path;   /* "/v1/keys/ID/sign" */
    const char *scheme; /* "pkcs1" for RSA keys, NULL for ECDSA */
    EVP_PKEY *pub;      /* the leaf certificate's key, to check answers */
    json_t *reply;      /* the last answer, for --json */
    int failed;         /* cli->err already describes the failure */
};

/* The signing key named by --key (exactly one). */
static sn_err
one_key(struct sn_cli *cli, const char **out)
{
    *out = NULL;
    if (cli->nkeys != 1)
        return sn_cli_usage(cli, "name exactly one signing key with --key ID");
    *out = cli->keys[0];
    return sn_cli_check_id(cli, "key", cli->keys[0]);
}

/* Streams path through md; the file is read once, in 64 KiB pieces. */
sn_err
sn_cli_hash_file(struct sn_cli *cli, const char *path, enum sn_digest md,
                 uint8_t *digest, size_t *dlen)
{
    unsigned char buf[65536];
    EVP_MD_CTX *ctx = NULL;
    unsigned int len = 0;
    FILE *f = NULL;
    sn_err r;
    size_t n;

    *dlen = 0;
    if ((f = fopen(path, "rb")) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    r = sn_cli_fail(cli, SN_ERR_CRYPTO, "hashing %s failed", path);
    if ((ctx = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(ctx, EVP_get_digestbynid(sn_digest_nid(md)), NULL) !=
            1)
        goto out;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        if (EVP_DigestUpdate(ctx, buf, n) != 1)
            goto out;
    if (ferror(f)) {
        r = sn_cli_fail(cli, SN_ERR_IO, "%s: read error", path);
        goto out;
    }
    if (EVP_DigestFinal_ex(ctx, digest, &len) != 1 || len != sn_digest_len(md))
        goto out;
    *dlen = len;
    r = SN_OK;
out:
    EVP_MD_CTX_free(ctx);
    if (f != NULL)
        fclose(f);
    return r;
}

/* 1 if sig is a valid signature of digest by pub (PKCS#1 v1.5 or ECDSA). */
static int
signature_ok(EVP_PKEY *pub, enum sn_digest md, const uint8_t *digest,
             size_t dlen, const uint8_t *sig, size_t siglen)
{
    EVP_PKEY_CTX *ctx;
    int ok = 0;

    if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL)) == NULL)
        return 0;
    if (EVP_PKEY_verify_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(
            ctx, EVP_get_digestbynid(sn_digest_nid(md))) != 1)
        goto out;
    if (EVP_PKEY_is_a(pub, "RSA") &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
        goto out;
    ok = EVP_PKEY_verify(ctx, sig, siglen, digest, dlen) == 1;
out:
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/*
 * POST /v1/keys/{id}/sign for one digest; *reply is the API's answer, or,
 * for a key whose signatures need approval (202, issue 17), the answer
 * the completed sign request gives after --wait.
 */
static sn_err
remote_sign_once(struct sn_cli *cli, const char *path, enum sn_digest md,
                 const uint8_t *digest, size_t dlen, const char *scheme,
                 json_t **reply, uint8_t **sig, size_t *siglen)
{
    struct sn_client_meta meta;
    json_t *req = NULL, *done = NULL;
    char *b64 = NULL;
    const char *s;
    sn_err r;

    *reply = NULL;
    if ((r = sn_b64_encode(digest, dlen, &b64)) != SN_OK ||
        (req = json_pack("{s:s,s:s}", "digest_algorithm", sn_digest_name(md),
                         "digest", b64)) == NULL ||
        (scheme != NULL &&
         json_object_set_new(req, "scheme", json_string(scheme)) != 0)) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((r = sn_client_json_meta(cli->client, "POST", path, req, reply,
                                 &meta)) != SN_OK)
        goto out;
    if (meta.status == 202) {
        if ((r = sn_cli_await_request(cli, *reply, meta.retry_after, &done)) !=
            SN_OK)
            goto out;
        json_decref(*reply);
        *reply = done;
    }
    s = sn_out_str(*reply, "signature");
    if (s == NULL || sn_b64_decode(s, sig, siglen) != SN_OK) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server's answer has no valid signature");
        goto out;
    }
    r = SN_OK;
out:
    free(b64);
    json_decref(req);
    return r;
}

/* sn_sign_cb for sn_cms_sign_detached: the server signs, we check. */
static sn_err
remote_sign(void *arg, enum sn_digest md, const uint8_t *digest, size_t dlen,
            uint8_t **sig, size_t *siglen)
{
    struct remote_signer *rs = arg;
    uint8_t *s = NULL;
    size_t slen = 0;
    sn_err r;

    *sig = NULL;
    *siglen = 0;
    json_decref(rs->reply);
    rs->reply = NULL;
    r = remote_sign_once(rs->cli, rs->path, md, digest, dlen, rs->scheme,
                         &rs->reply, &s, &slen);
    if (r != SN_OK)
        goto out;
    if (!signature_ok(rs->pub, md, digest, dlen, s, slen)) {
        r = sn_cli_fail(rs->cli, SN_ERR_MISMATCH,
                        "the server's signature does not verify with the "
                        "key's certificate");
        goto out;
    }
    *sig = s;
    *siglen = slen;
    s = NULL;
out:
    if (r != SN_OK)
        rs->failed = 1;
    free(s);
    return r;
}

/* Fetches the key's certificate chain (leaf first). */
static sn_err
fetch_chain(struct sn_cli *cli, const char *key, STACK_OF(X509) **out)
{
    char path[PATH_LEN];
    json_t *reply = NULL;
    const char *pem;
    sn_err r;

    *out = NULL;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/keys/%s/certificate",
                         key)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, "GET", path, NULL, &reply)) != SN_OK)
        goto out;
    pem = sn_out_str(reply, "certificate_pem");
    if (pem == NULL || sn_chain_from_pem(pem, strlen(pem), out) != SN_OK) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server sent an unusable certificate chain");
        goto out;
    }
    r = SN_OK;
out:
    json_decref(reply);
    return r;
}

/*
 * Checks a DER detached CMS against the file with OpenSSL's CMS_verify:
 * structure, messageDigest and the signature over the signed attributes.
 * The certificate is not chained to a trust anchor here; that is the
 * relying party's business.
 */
static sn_err
check_cms(struct sn_cli *cli, const uint8_t *der, size_t len, const char *file)
{
    const unsigned char *p = der;
    CMS_ContentInfo *cms = NULL;
    BIO *content = NULL;
    sn_err r;

    r = sn_cli_fail(cli, SN_ERR_CRYPTO,
                    "the CMS signature does not verify against %s", file);
    if (len > LONG_MAX ||
        (cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL ||
        p != der + len) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the signature is not a DER CMS structure");
        goto out;
    }
    if ((content = BIO_new_file(file, "rb")) == NULL)
        goto out;
    if (CMS_verify(cms, NULL, NULL, content, NULL,
                   CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1)
        goto out;
    r = SN_OK;
out:
    ERR_clear_error();
    BIO_free(content);
    CMS_ContentInfo_free(cms);
    return r;
}

/* Writes the finished signature and says so. */
static sn_err
emit_signature(struct sn_cli *cli, const char *outpath, const uint8_t *der,
               size_t len, const json_t *reply)
{
    json_t *summary = NULL;
    sn_err r;

    if ((r = sn_out_file(outpath, der, len)) != SN_OK)
        return sn_cli_fail(cli, r, "cannot write %s: %s", outpath,
                           strerror(errno));
    if (strcmp(outpath, "-") == 0)
        return SN_OK;
    if (!cli->json) {
        printf("wrote %s (%zu bytes)\n", outpath, len);
        return SN_OK;
    }
    if (reply != NULL) {
        sn_out_json(reply);
        return SN_OK;
    }
    /* sign-file answers with DER, not JSON: describe the result instead. */
    summary =
        json_pack("{s:s,s:I}", "output", outpath, "bytes", (json_int_t)len);
    if (summary != NULL)
        sn_out_json(summary);
    json_decref(summary);
    return SN_OK;
}

static sn_err
sign_local(struct sn_cli *cli, const char *key, enum sn_digest md,
           const char *file, const char *outpath)
{
    struct remote_signer rs = {.cli = cli};
    uint8_t digest[EVP_MAX_MD_SIZE], *der = NULL;
    STACK_OF(X509) *chain = NULL;
    char path[PATH_LEN];
    size_t dlen, derlen = 0;
    sn_err r;

    if ((r = sn_cli_hash_file(cli, file, md, digest, &dlen)) != SN_OK)
        goto out;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/keys/%s/sign", key)) !=
        SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = fetch_chain(cli, key, &chain)) != SN_OK)
        goto out;
    rs.path = path;
    if ((rs.pub = X509_get0_pubkey(sk_X509_value(chain, 0))) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_CRYPTO,
                        "the key's certificate has an unusable public key");
        goto out;
    }
    rs.scheme = EVP_PKEY_is_a(rs.pub, "RSA") ? "pkcs1" : NULL;
    r = sn_cms_sign_detached(chain, md, digest, dlen, time(NULL), remote_sign,
                             &rs, &der, &derlen);
    if (r != SN_OK) {
        if (!rs.failed)
            sn_cli_fail(cli, r, "building the CMS signature failed: %s",
                        sn_err_str(r));
        goto out;
    }
    if ((r = check_cms(cli, der, derlen, file)) != SN_OK)
        goto out;
    r = emit_signature(cli, outpath, der, derlen, rs.reply);
out:
    free(der);
    json_decref(rs.reply);
    sk_X509_pop_free(chain, X509_free);
    return r;
}

/* Streams file to sign-file; the server hashes and builds the CMS. */
static sn_err
sign_upload(struct sn_cli *cli, const char *key, enum sn_digest md,
            const char *file, const char *outpath)
{
    struct sn_client_body body = {0};
    char path[PATH_LEN];
    struct stat st;
    FILE *f = NULL;
    sn_err r;

    if ((f = fopen(file, "rb")) == NULL) {
        r = sn_cli_fail(cli, SN_ERR_IO, "%s: %s", file, strerror(errno));
        goto out;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        r = sn_cli_usage(cli, "%s: not a regular file", file);
        goto out;
    }
    if ((r = sn_cli_path(cli, path, sizeof(path),
                         "/v1/keys/%s/sign-file?digest_algorithm=%s", key,
                         sn_digest_name(md))) != SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_upload(cli->client, "POST", path,
                              "application/octet-stream", f,
                              (uint64_t)st.st_size, &body)) != SN_OK)
        goto out;
    if (strncmp(body.content_type, "application/pkcs7-signature", 27) != 0) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server answered with '%s', not a CMS signature",
                        body.content_type);
        goto out;
    }
    if ((r = check_cms(cli, body.data, body.len, file)) != SN_OK)
        goto out;
    r = emit_signature(cli, outpath, body.data, body.len, NULL);
out:
    sn_client_body_cleanup(&body);
    if (f != NULL)
        fclose(f);
    return r;
}

/* -o, or FILE.EXT; never the input file itself. */
sn_err
sn_cli_output_path(struct sn_cli *cli, const char *file, const char *ext,
                   char *buf, size_t len)
{
    const char *o = cli->opt[SN_OPT_OUT];
    struct stat in, outst;
    int n;

    if (o != NULL)
        n = snprintf(buf, len, "%s", o);
    else
        n = snprintf(buf, len, "%s.%s", file, ext);
    if (n < 0 || (size_t)n >= len)
        return sn_cli_usage(cli, "output path too long");
    if (stat(file, &in) == 0 && stat(buf, &outst) == 0 &&
        in.st_dev == outst.st_dev && in.st_ino == outst.st_ino)
        return sn_cli_usage(cli, "the output would overwrite the input file");
    return sn_cli_check_out(cli, buf);
}

sn_err
sn_cmd_sign(struct sn_cli *cli)
{
    char outpath[OUT_PATH_LEN];
    const char *key, *file = cli->pos[0];
    enum sn_digest md;
    struct stat st;
    sn_err r;

    if ((r = one_key(cli, &key)) != SN_OK)
        return r;
    if ((r = sn_cli_digest_opt(cli, &md)) != SN_OK)
        return r;
    /* The file is read twice (hash or upload, then the CMS check). */
    if (stat(file, &st) != 0)
        return sn_cli_fail(cli, SN_ERR_IO, "%s: %s", file, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return sn_cli_usage(cli, "%s: not a regular file", file);
    if ((r = sn_cli_output_path(cli, file, "p7s", outpath, sizeof(outpath))) !=
        SN_OK)
        return r;
    if (cli->seen[SN_OPT_UPLOAD])
        return sign_upload(cli, key, md, file, outpath);
    return sign_local(cli, key, md, file, outpath);
}

static void
print_signature(const json_t *reply, const char *b64)
{
    sn_out_field("key:", sn_out_str(reply, "key"));
    sn_out_field("digest:", sn_out_str(reply, "digest_algorithm"));
    sn_out_field("scheme:", sn_out_str(reply, "scheme"));
    sn_out_field("signature:", b64);
    if (json_is_integer(json_object_get(reply, "log_index")))
        printf(
            "%-12s %lld\n", "log index:",
            (long long)json_integer_value(json_object_get(reply, "log_index")));
}

sn_err
sn_cmd_sign_digest(struct sn_cli *cli)
{
    const char *key, *hex = cli->opt[SN_OPT_DIGEST];
    const char *scheme = cli->opt[SN_OPT_SCHEME], *outpath;
    uint8_t *digest = NULL, *sig = NULL;
    char path[PATH_LEN];
    json_t *reply = NULL;
    size_t dlen = 0, siglen = 0;
    enum sn_scheme sch;
    enum sn_digest md;
    sn_err r;

    outpath = cli->opt[SN_OPT_OUT];
    if ((r = one_key(cli, &key)) != SN_OK ||
        (r = sn_cli_digest_opt(cli, &md)) != SN_OK)
        goto out;
    if (hex == NULL || sn_hex_decode(hex, &digest, &dlen) != SN_OK) {
        r = sn_cli_usage(cli, "--digest needs the digest in hex");
        goto out;
    }
    if (dlen != sn_digest_len(md)) {
        r = sn_cli_usage(cli,
                         "a %s digest is %zu bytes (%zu hex digits), "
                         "not %zu",
                         sn_digest_name(md), sn_digest_len(md),
                         2 * sn_digest_len(md), dlen);
        goto out;
    }
    if (scheme != NULL && sn_scheme_from_name(scheme, &sch) != SN_OK) {
        r = sn_cli_usage(cli, "unknown --scheme '%s' (use pkcs1 or pss)",
                         scheme);
        goto out;
    }
    if ((r = sn_cli_check_out(cli, outpath)) != SN_OK)
        goto out;
    if ((r = sn_cli_path(cli, path, sizeof(path), "/v1/keys/%s/sign", key)) !=
        SN_OK)
        goto out;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = remote_sign_once(cli, path, md, digest, dlen, scheme, &reply, &sig,
                              &siglen)) != SN_OK)
        goto out;
    if (outpath != NULL && (r = sn_out_file(outpath, sig, siglen)) != SN_OK) {
        sn_cli_fail(cli, r, "cannot write %s: %s", outpath, strerror(errno));
        goto out;
    }
    /* issue 18: wait for the entry's inclusion proof and keep it. */
    if (cli->opt[SN_OPT_LOG_PROOF] != NULL &&
        (r = sn_cli_log_proof(
             cli,
             json_is_integer(json_object_get(reply, "log_index"))
                 ? json_integer_value(json_object_get(reply, "log_index"))
                 : -1,
             cli->opt[SN_OPT_LOG_PROOF])) != SN_OK)
        goto out;
    if (outpath != NULL && strcmp(outpath, "-") == 0)
        goto out; /* the signature itself went to stdout */
    if (cli->json)
        sn_out_json(reply);
    else
        print_signature(reply, sn_out_str(reply, "signature"));
out:
    free(digest);
    free(sig);
    json_decref(reply);
    return r;
}
