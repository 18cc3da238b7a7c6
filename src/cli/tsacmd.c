/*
 * tsacmd: `signet timestamp`, `signet tsa rotate` and `signet tsa
 * clock-ok`. The file to time-stamp is hashed here; only an RFC 3161
 * TimeStampReq (imprint, random nonce) goes to the server. The reply is
 * untrusted: it is parsed with OpenSSL's TS code and written only after
 * its status, imprint, nonce and certificate inclusion matched the
 * request.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/util.h"

#define OUT_PATH_LEN 4096
#define QUERY_TYPE "application/timestamp-query"
#define REPLY_TYPE "application/timestamp-reply"
#define NONCE_BYTES 8
/* A status text longer than this is cut; it is only shown to the user. */
#define STATUS_TEXT_LEN 200

/* The request as sent, and what the reply must echo. */
struct ts_query {
    TS_REQ *req;
    uint8_t *der;
    size_t len;
};

static void
query_cleanup(struct ts_query *q)
{
    TS_REQ_free(q->req);
    OPENSSL_free(q->der);
    memset(q, 0, sizeof(*q));
}

/* A positive random 64-bit nonce (leading zero bytes are harmless). */
static ASN1_INTEGER *
random_nonce(void)
{
    unsigned char buf[NONCE_BYTES];
    ASN1_INTEGER *ai = NULL;
    BIGNUM *bn = NULL;

    if (RAND_bytes(buf, sizeof(buf)) != 1)
        return NULL;
    buf[0] |= 0x01; /* never zero */
    if ((bn = BN_bin2bn(buf, sizeof(buf), NULL)) != NULL)
        ai = BN_to_ASN1_INTEGER(bn, NULL);
    BN_free(bn);
    OPENSSL_cleanse(buf, sizeof(buf));
    return ai;
}

/* TimeStampReq v1 over digest, with a nonce and certReq as asked. */
static sn_err
build_query(enum sn_digest md, uint8_t *digest, size_t dlen, int nonce,
            int cert_req, struct ts_query *q)
{
    TS_MSG_IMPRINT *mi = NULL;
    X509_ALGOR *alg = NULL;
    ASN1_INTEGER *n = NULL;
    unsigned char *der = NULL;
    sn_err r = SN_ERR_CRYPTO;
    int len;

    memset(q, 0, sizeof(*q));
    if ((q->req = TS_REQ_new()) == NULL || TS_REQ_set_version(q->req, 1) != 1 ||
        (mi = TS_MSG_IMPRINT_new()) == NULL ||
        (alg = X509_ALGOR_new()) == NULL ||
        X509_ALGOR_set0(alg, OBJ_nid2obj(sn_digest_nid(md)), V_ASN1_NULL,
                        NULL) != 1 ||
        TS_MSG_IMPRINT_set_algo(mi, alg) != 1 ||
        TS_MSG_IMPRINT_set_msg(mi, digest, (int)dlen) != 1 ||
        TS_REQ_set_msg_imprint(q->req, mi) != 1 ||
        TS_REQ_set_cert_req(q->req, cert_req) != 1)
        goto out;
    if (nonce &&
        ((n = random_nonce()) == NULL || TS_REQ_set_nonce(q->req, n) != 1))
        goto out;
    if ((len = i2d_TS_REQ(q->req, &der)) <= 0)
        goto out;
    q->der = der;
    q->len = (size_t)len;
    der = NULL;
    r = SN_OK;
out:
    ERR_clear_error();
    OPENSSL_free(der);
    ASN1_INTEGER_free(n);
    X509_ALGOR_free(alg);
    TS_MSG_IMPRINT_free(mi);
    if (r != SN_OK)
        query_cleanup(q);
    return r;
}

static const char *
status_name(long s)
{
    static const char *const names[] = {
        "granted", "grantedWithMods",   "rejection",
        "waiting", "revocationWarning", "revocationNotification"};

    return s >= 0 && s < (long)(sizeof(names) / sizeof(names[0])) ? names[s]
                                                                  : "unknown";
}

/* PKIFailureInfo bits (RFC 3161 2.4.2) as their names, comma separated. */
static void
failure_names(const ASN1_BIT_STRING *fi, char *buf, size_t len)
{
    static const struct {
        int bit;
        const char *name;
    } bits[] = {
        {TS_INFO_BAD_ALG, "badAlg"},
        {TS_INFO_BAD_REQUEST, "badRequest"},
        {TS_INFO_BAD_DATA_FORMAT, "badDataFormat"},
        {TS_INFO_TIME_NOT_AVAILABLE, "timeNotAvailable"},
        {TS_INFO_UNACCEPTED_POLICY, "unacceptedPolicy"},
        {TS_INFO_UNACCEPTED_EXTENSION, "unacceptedExtension"},
        {TS_INFO_ADD_INFO_NOT_AVAILABLE, "addInfoNotAvailable"},
        {TS_INFO_SYSTEM_FAILURE, "systemFailure"},
    };
    size_t i, used = 0;
    int n;

    buf[0] = '\0';
    for (i = 0; fi != NULL && i < sizeof(bits) / sizeof(bits[0]); i++) {
        if (!ASN1_BIT_STRING_get_bit(fi, bits[i].bit))
            continue;
        n = snprintf(buf + used, len - used, "%s%s", used > 0 ? ", " : "",
                     bits[i].name);
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}

/* Status, free text and failure info of a refusal, for the user. */
static sn_err
refused(struct sn_cli *cli, TS_STATUS_INFO *si)
{
    const STACK_OF(ASN1_UTF8STRING) *text = TS_STATUS_INFO_get0_text(si);
    char msg[STATUS_TEXT_LEN + 1] = "", fail[160];
    const ASN1_UTF8STRING *t;
    int n;

    if (text != NULL && sk_ASN1_UTF8STRING_num(text) > 0) {
        t = sk_ASN1_UTF8STRING_value(text, 0);
        n = ASN1_STRING_length(t);
        if (n > STATUS_TEXT_LEN)
            n = STATUS_TEXT_LEN;
        memcpy(msg, ASN1_STRING_get0_data(t), (size_t)n);
        msg[n] = '\0';
        /* Untrusted text: no terminal control bytes reach the user. */
        for (n = 0; msg[n] != '\0'; n++)
            if ((unsigned char)msg[n] < 0x20 || (unsigned char)msg[n] >= 0x7f)
                msg[n] = '?';
    }
    failure_names(TS_STATUS_INFO_get0_failure_info(si), fail, sizeof(fail));
    return sn_cli_fail(
        cli, SN_ERR_STATE, "the TSA refused the request: %s (%s%s%s)",
        msg[0] != '\0' ? msg : "no reason given",
        status_name(ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si))),
        fail[0] != '\0' ? ", " : "", fail);
}

/* Granted, and the token answers this request: imprint, nonce, certs. */
static sn_err
check_reply(struct sn_cli *cli, const struct ts_query *q, TS_RESP *resp)
{
    TS_STATUS_INFO *si = TS_RESP_get_status_info(resp);
    PKCS7 *token = TS_RESP_get_token(resp);
    TS_VERIFY_CTX *vctx = NULL;
    STACK_OF(X509) *certs = NULL;
    long status;
    sn_err r;

    status = si != NULL ? ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si)) : -1;
    if (status != TS_STATUS_GRANTED && status != TS_STATUS_GRANTED_WITH_MODS)
        return si != NULL ? refused(cli, si)
                          : sn_cli_fail(cli, SN_ERR_INVALID,
                                        "the TSA's reply has no status");
    if (token == NULL || TS_RESP_get_tst_info(resp) == NULL)
        return sn_cli_fail(cli, SN_ERR_INVALID,
                           "the TSA granted the request but sent no token");
    /* Version, imprint (algorithm and bytes) and nonce; the signature is
     * for the relying party to check against the roots it trusts. */
    r = sn_cli_fail(cli, SN_ERR_MISMATCH,
                    "the time-stamp token does not answer this request");
    if ((vctx = TS_REQ_to_TS_VERIFY_CTX(q->req, NULL)) == NULL ||
        TS_RESP_verify_response(vctx, resp) != 1)
        goto out;
    certs = PKCS7_type_is_signed(token) ? token->d.sign->cert : NULL;
    if (TS_REQ_get_cert_req(q->req) && sk_X509_num(certs) <= 0) {
        r = sn_cli_fail(cli, SN_ERR_MISMATCH,
                        "the token lacks the TSA certificate it was asked "
                        "for");
        goto out;
    }
    if (!TS_REQ_get_cert_req(q->req) && sk_X509_num(certs) > 0) {
        r = sn_cli_fail(cli, SN_ERR_MISMATCH,
                        "the token carries certificates though none were "
                        "asked for");
        goto out;
    }
    r = SN_OK;
out:
    ERR_clear_error();
    TS_VERIFY_CTX_free(vctx);
    return r;
}

/* Prints what was written: text lines or a JSON summary. */
static sn_err
show_token(struct sn_cli *cli, const char *outpath, size_t len,
           TS_TST_INFO *info)
{
    const ASN1_GENERALIZEDTIME *gt = TS_TST_INFO_get_time(info);
    char gen[64] = "", policy[128] = "", *serial = NULL;
    BIGNUM *bn = NULL;
    json_t *j;
    int n;

    if ((bn = ASN1_INTEGER_to_BN(TS_TST_INFO_get_serial(info), NULL)) == NULL ||
        (serial = BN_bn2hex(bn)) == NULL) {
        BN_free(bn);
        return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    }
    n = gt != NULL ? ASN1_STRING_length(gt) : 0;
    if (n > 0 && (size_t)n < sizeof(gen))
        memcpy(gen, ASN1_STRING_get0_data(gt), (size_t)n);
    OBJ_obj2txt(policy, sizeof(policy), TS_TST_INFO_get_policy_id(info), 1);
    if (strcmp(outpath, "-") == 0) {
        /* The token went to stdout; nothing else may. */
    } else if (cli->json) {
        j = json_pack("{s:s,s:I,s:s,s:s,s:s}", "output", outpath, "bytes",
                      (json_int_t)len, "serial", serial, "gen_time", gen,
                      "policy", policy);
        if (j != NULL)
            sn_out_json(j);
        json_decref(j);
    } else {
        printf("wrote %s (%zu bytes)\n", outpath, len);
        sn_out_field("serial", serial);
        sn_out_field("gen_time", gen);
        sn_out_field("policy", policy);
    }
    OPENSSL_free(serial);
    BN_free(bn);
    ERR_clear_error();
    return SN_OK;
}

/* Sends the query to /tsa, with the token if there is one. */
static sn_err
exchange(struct sn_cli *cli, const struct ts_query *q, TS_RESP **out)
{
    struct sn_client_body body = {NULL, 0, ""};
    const unsigned char *p;
    sn_err r;

    *out = NULL;
    r = cli->token != NULL ? sn_cli_connect(cli) : sn_cli_connect_public(cli);
    if (r != SN_OK)
        return r;
    if ((r = sn_client_post_raw(cli->client, "/tsa", QUERY_TYPE, REPLY_TYPE,
                                q->der, q->len, &body)) != SN_OK)
        goto out;
    if (strncmp(body.content_type, REPLY_TYPE, strlen(REPLY_TYPE)) != 0) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server answered with '%s', not a time-stamp "
                        "reply",
                        body.content_type);
        goto out;
    }
    p = body.data;
    if ((*out = d2i_TS_RESP(NULL, &p, (long)body.len)) == NULL ||
        p != body.data + body.len) {
        TS_RESP_free(*out);
        *out = NULL;
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "the server's time-stamp reply is malformed");
        goto out;
    }
    r = SN_OK;
out:
    ERR_clear_error();
    sn_client_body_cleanup(&body);
    return r;
}

sn_err
sn_cmd_timestamp(struct sn_cli *cli)
{
    char outpath[OUT_PATH_LEN];
    const char *file = cli->pos[0];
    uint8_t digest[EVP_MAX_MD_SIZE];
    struct ts_query q = {NULL, NULL, 0};
    unsigned char *der = NULL;
    TS_RESP *resp = NULL;
    enum sn_digest md;
    struct stat st;
    size_t dlen = 0;
    int len;
    sn_err r;

    if ((r = sn_cli_digest_opt(cli, &md)) != SN_OK)
        return r;
    if (stat(file, &st) != 0)
        return sn_cli_fail(cli, SN_ERR_IO, "%s: %s", file, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return sn_cli_usage(cli, "%s: not a regular file", file);
    if ((r = sn_cli_output_path(cli, file, "tsr", outpath, sizeof(outpath))) !=
        SN_OK)
        return r;
    if ((r = sn_cli_hash_file(cli, file, md, digest, &dlen)) != SN_OK)
        goto out;
    if ((r = build_query(md, digest, dlen, !cli->seen[SN_OPT_NO_NONCE],
                         !cli->seen[SN_OPT_NO_CERT], &q)) != SN_OK) {
        sn_cli_fail(cli, r, "cannot build the time-stamp request");
        goto out;
    }
    if ((r = exchange(cli, &q, &resp)) != SN_OK ||
        (r = check_reply(cli, &q, resp)) != SN_OK)
        goto out;
    /* Written as received after the checks: re-encoding is the same DER. */
    if ((len = i2d_TS_RESP(resp, &der)) <= 0) {
        r = sn_cli_fail(cli, SN_ERR_CRYPTO, "cannot encode the reply");
        goto out;
    }
    if ((r = sn_out_file(outpath, der, (size_t)len)) != SN_OK) {
        sn_cli_fail(cli, r, "cannot write %s: %s", outpath, strerror(errno));
        goto out;
    }
    r = show_token(cli, outpath, (size_t)len, TS_RESP_get_tst_info(resp));
out:
    OPENSSL_free(der);
    TS_RESP_free(resp);
    query_cleanup(&q);
    return r;
}

/* POST /v1/tsa/ACTION (admin) and print the answer's field. */
static sn_err
tsa_action(struct sn_cli *cli, const char *path, const char *field,
           const char *label)
{
    json_t *reply = NULL;
    sn_err r;

    if ((r = sn_cli_connect(cli)) != SN_OK)
        goto out;
    if ((r = sn_client_json(cli->client, "POST", path, NULL, &reply)) != SN_OK)
        goto out;
    if (cli->json) {
        sn_out_json(reply);
    } else {
        sn_out_field(label, sn_out_str(reply, field));
    }
out:
    json_decref(reply);
    return r;
}

sn_err
sn_cmd_tsa_rotate(struct sn_cli *cli)
{
    return tsa_action(cli, "/v1/tsa/rotate", "key_id", "new TSA key");
}

sn_err
sn_cmd_tsa_clock_ok(struct sn_cli *cli)
{
    return tsa_action(cli, "/v1/tsa/clock-ok", "status", "clock");
}
