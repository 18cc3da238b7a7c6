/*
 * commands: one function per `signet` command. main parses the command
 * line into struct sn_cli; each command validates its local input first,
 * then connects, calls the API and prints the result (human lines, or the
 * API's JSON with --json). Commands return an sn_err and describe failures
 * in cli->err; usage mistakes also set cli->usage.
 */
#ifndef SN_COMMANDS_H
#define SN_COMMANDS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "apiclient/clientcred.h"
#include "cli/client.h"
#include "common/err.h"
#include "common/keyalg.h"

struct sn_oidc_grant;
struct sn_sessionfile;

#define SN_CLI_MAX_LIST 64
#define SN_CLI_MAX_POS 4

/* Every option the CLI knows; each command accepts a subset. */
enum sn_cli_opt {
    SN_OPT_URL,
    SN_OPT_TOKEN,
    SN_OPT_TOKEN_FILE,
    SN_OPT_CA_FILE,
    SN_OPT_JSON,
    SN_OPT_HELP,
    SN_OPT_SUBSCRIBER,
    SN_OPT_ROLE,
    SN_OPT_KEY,
    SN_OPT_EXPIRES,
    SN_OPT_NAME,
    SN_OPT_ALGORITHM,
    SN_OPT_LABEL,
    SN_OPT_SUBJECT,
    SN_OPT_OUT,
    SN_OPT_DIGEST_ALG,
    SN_OPT_DIGEST,
    SN_OPT_SCHEME,
    SN_OPT_UPLOAD,
    SN_OPT_AFTER,
    SN_OPT_LIMIT,
    SN_OPT_ROOT,
    SN_OPT_OID_ARC,
    /* subscriber identity: the validated organisation (RA step) */
    SN_OPT_ID_O,
    SN_OPT_ID_ASSUMED_NAME,
    SN_OPT_ID_C,
    SN_OPT_ID_ST,
    SN_OPT_ID_L,
    SN_OPT_ID_STREET,
    SN_OPT_ID_POSTAL_CODE,
    SN_OPT_ID_OU,
    SN_OPT_ID_SERIAL_NUMBER,
    SN_OPT_ID_BUSINESS_CATEGORY,
    SN_OPT_ID_JURISDICTION_C,
    SN_OPT_ID_JURISDICTION_ST,
    SN_OPT_ID_JURISDICTION_L,
    /* key certify, ca revoke */
    SN_OPT_PROFILE,
    SN_OPT_DAYS,
    SN_OPT_REASON,
    SN_OPT_DATE,
    SN_OPT_COMMENT,
    /* timestamp */
    SN_OPT_NO_NONCE,
    SN_OPT_NO_CERT,
    /* issue 15: audit paging back in time, tokens without expiry */
    SN_OPT_BEFORE,
    SN_OPT_NO_EXPIRY,
    /* issue 16: OIDC workload identity (global: any command exchanges) */
    SN_OPT_OIDC,
    SN_OPT_AUDIENCE,
    SN_OPT_ID_TOKEN_FILE,
    SN_OPT_ID_TOKEN_ENV,
    /* mTLS: a client certificate and its key (file or pkcs11: URI) */
    SN_OPT_CLIENT_CERT,
    SN_OPT_CLIENT_KEY,
    SN_OPT_CLIENT_KEY_PIN_FILE,
    /* issue 17: a new account's password (a file or - for stdin); and
     * --password, known only to refuse it: never a password on argv */
    SN_OPT_PASSWORD_FILE,
    SN_OPT_PASSWORD,
    /* issue 17: sign requests awaiting approval */
    SN_OPT_WAIT,  /* --wait[=SECONDS] */
    SN_OPT_STATE, /* request list --state */
    /* issue 18: the transparency log */
    SN_OPT_VKEY,
    SN_OPT_STATE_FILE,
    SN_OPT_ALLOW,
    SN_OPT_FOLLOW,
    SN_OPT_INTERVAL,
    SN_OPT_FULL,
    SN_OPT_LOG_PROOF,
    /* issue 18: reports of Suspect Code and key compromise */
    SN_OPT_KIND,
    SN_OPT_PKCS7,
    SN_OPT_SIGFILE, /* --signature FILE */
    SN_OPT_CONTACT,
    SN_OPT_OVERDUE,
    SN_OPT_REVOCATION_DATE,
    SN_OPT_COUNT
};

struct sn_cli {
    /* Parsed command line: the last value of each single option. */
    const char *opt[SN_OPT_COUNT];
    int seen[SN_OPT_COUNT];
    const char *roles[SN_CLI_MAX_LIST];
    size_t nroles;
    const char *keys[SN_CLI_MAX_LIST];
    size_t nkeys;
    const char *pos[SN_CLI_MAX_POS];
    size_t npos;

    /* Connection settings; token is a malloc'd secret, wiped on exit. */
    const char *url;
    const char *ca_file;
    char *token;
    int json;
    /* mTLS: the client certificate and key, loaded by sn_cli_connect. */
    struct sn_client_cred *cred;

    /* --url/--ca-file or their variables were given (else defaults) */
    int url_given, ca_given;
    /* issue 17: the stored login session in use, if the credential came
     * from it (url and ca_file then point into it) */
    struct sn_sessionfile *session;

    struct sn_client *client; /* made on first use by sn_cli_connect */
    struct sn_client_error err;
    int usage; /* the failure is a command-line mistake (exit 2) */
};

/* Records a command-line mistake; always returns SN_ERR_INVALID. */
sn_err sn_cli_usage(struct sn_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Records a local (non-usage) failure; returns r. */
sn_err sn_cli_fail(struct sn_cli *cli, sn_err r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Creates cli->client from url, token and ca_file if not done yet. */
sn_err sn_cli_connect(struct sn_cli *cli);
/* Usage error unless id is 1..64 of [A-Za-z0-9_-] (safe in a URL path). */
sn_err sn_cli_check_id(struct sn_cli *cli, const char *what, const char *id);
/* snprintf into buf; SN_ERR_LIMIT (recorded in cli->err) if it won't fit. */
sn_err sn_cli_path(struct sn_cli *cli, char *buf, size_t len, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
/* Usage error unless an output file could be created at path (NULL: ok). */
sn_err sn_cli_check_out(struct sn_cli *cli, const char *path);
/* --digest-algorithm, defaulting to sha256. */
sn_err sn_cli_digest_opt(struct sn_cli *cli, enum sn_digest *out);
/* Like sn_cli_connect, but sends no token (public objects). */
sn_err sn_cli_connect_public(struct sn_cli *cli);
/* issue 18: sn_cli_connect if a credential is at hand (a token, a client
 * certificate, a stored session), else sn_cli_connect_public. */
sn_err sn_cli_connect_optional(struct sn_cli *cli);
/* Hashes the file at path with md into digest (EVP_MAX_MD_SIZE bytes). */
sn_err sn_cli_hash_file(struct sn_cli *cli, const char *path, enum sn_digest md,
                        uint8_t *digest, size_t *dlen);
/* -o, or FILE.EXT; a usage error if it would overwrite FILE itself. */
sn_err sn_cli_output_path(struct sn_cli *cli, const char *file, const char *ext,
                          char *buf, size_t len);
/* --subject "/CN=../O=.." as the API's JSON subject object. */
sn_err sn_cli_subject_json(struct sn_cli *cli, const char *slash, json_t **out);

/*
 * Obtains an ID token (--id-token-file, --id-token-env, the environment,
 * GitHub Actions) and exchanges it at POST /v1/auth/oidc; *g is the
 * caller's (sn_oidc_grant_cleanup), *reply (if asked) the API's answer.
 */
sn_err sn_cli_oidc_exchange(struct sn_cli *cli, struct sn_oidc_grant *g,
                            json_t **reply);
/* --oidc with another command: the exchanged token becomes cli->token. */
sn_err sn_cli_oidc_token(struct sn_cli *cli);

/*
 * Issue 17, people's sessions (sessioncmd.c). The stored login session as
 * the credential, the last choice after a token and a client certificate:
 * SN_ERR_NOT_FOUND if there is none; an expired one, or one for another
 * server than --url names, is an error that says so.
 */
sn_err sn_cli_session_cred(struct sn_cli *cli);
void sn_cli_session_free(struct sn_cli *cli);
/* `login --name NAME`: password and code, the session stored. */
sn_err sn_cli_password_login(struct sn_cli *cli);
/* Usage error unless name is an account name (1-64 of A-Za-z0-9._-@). */
sn_err sn_cli_account_name_check(struct sn_cli *cli, const char *name);
/* 1 if in is a TOTP code (6 digits; spaces ignored): the digits in out. */
#define SN_CLI_TOTP_LEN 6
int sn_cli_totp_code(const char *in, char out[SN_CLI_TOTP_LEN + 1]);

sn_err sn_cmd_login(struct sn_cli *cli);
sn_err sn_cmd_logout(struct sn_cli *cli);
sn_err sn_cmd_account_create(struct sn_cli *cli);
sn_err sn_cmd_account_list(struct sn_cli *cli);
sn_err sn_cmd_account_totp(struct sn_cli *cli);
sn_err sn_cmd_account_confirm(struct sn_cli *cli);
sn_err sn_cmd_account_disable(struct sn_cli *cli);
sn_err sn_cmd_admin_accounts_review(struct sn_cli *cli);
sn_err sn_cmd_whoami(struct sn_cli *cli);
sn_err sn_cmd_subscriber_create(struct sn_cli *cli);
sn_err sn_cmd_subscriber_list(struct sn_cli *cli);
sn_err sn_cmd_token_create(struct sn_cli *cli);
sn_err sn_cmd_token_revoke(struct sn_cli *cli);
sn_err sn_cmd_key_create(struct sn_cli *cli);
sn_err sn_cmd_key_list(struct sn_cli *cli);
sn_err sn_cmd_key_show(struct sn_cli *cli);
sn_err sn_cmd_key_disable(struct sn_cli *cli);
sn_err sn_cmd_key_enable(struct sn_cli *cli);
sn_err sn_cmd_key_destroy(struct sn_cli *cli);
sn_err sn_cmd_key_csr(struct sn_cli *cli);
sn_err sn_cmd_key_set_certificate(struct sn_cli *cli);
sn_err sn_cmd_key_certificate(struct sn_cli *cli);
sn_err sn_cmd_key_attestation(struct sn_cli *cli);
sn_err sn_cmd_sign(struct sn_cli *cli);
sn_err sn_cmd_sign_digest(struct sn_cli *cli);
sn_err sn_cmd_audit(struct sn_cli *cli);
sn_err sn_cmd_attestation_verify(struct sn_cli *cli);
sn_err sn_cmd_subscriber_identity(struct sn_cli *cli);
sn_err sn_cmd_key_certify(struct sn_cli *cli);
sn_err sn_cmd_ca_certificate(struct sn_cli *cli);
sn_err sn_cmd_ca_revoke(struct sn_cli *cli);
sn_err sn_cmd_ca_roots(struct sn_cli *cli);
sn_err sn_cmd_timestamp(struct sn_cli *cli);
sn_err sn_cmd_tsa_rotate(struct sn_cli *cli);
sn_err sn_cmd_tsa_clock_ok(struct sn_cli *cli);
/* issue 18: the transparency log (logcmd.c) */
sn_err sn_cmd_log_key(struct sn_cli *cli);
sn_err sn_cmd_log_verify(struct sn_cli *cli);
sn_err sn_cmd_log_monitor(struct sn_cli *cli);
/* Waits (at most 10 s) until entry index is in a checkpoint and writes its
 * inclusion proof (the server's JSON) to path. */
sn_err sn_cli_log_proof(struct sn_cli *cli, json_int_t index, const char *path);
sn_err sn_cmd_request_list(struct sn_cli *cli);
sn_err sn_cmd_request_show(struct sn_cli *cli);
sn_err sn_cmd_request_approve(struct sn_cli *cli);
sn_err sn_cmd_request_deny(struct sn_cli *cli);
sn_err sn_cmd_request_cancel(struct sn_cli *cli);
/* issue 18: reports of Suspect Code and key compromise (reportcmd.c) */
sn_err sn_cmd_report_create(struct sn_cli *cli);
sn_err sn_cmd_report_show(struct sn_cli *cli);
sn_err sn_cmd_report_list(struct sn_cli *cli);
sn_err sn_cmd_report_confirm(struct sn_cli *cli);
sn_err sn_cmd_report_reject(struct sn_cli *cli);

/*
 * issue 17: a signature answered 202 (accepted: {"request", "state"}), a
 * sign request awaiting approval. With --wait[=SECONDS] (default 600)
 * polls it, honouring Retry-After within 1..30 s, until it completes:
 * *out is then the answer a direct sign gives ({"key", "digest_algorithm",
 * "scheme", "signature"} or "signatures"). A request denied, expired,
 * canceled or failed, or still waiting when the time is up, or no --wait,
 * is a failure that names the request.
 */
sn_err sn_cli_await_request(struct sn_cli *cli, const json_t *accepted,
                            unsigned retry_after, json_t **out);

#endif
