/*
 * main: the `signet` command line. Parses global and command options
 * (trusted: the user's own input, still validated), loads the API token,
 * dispatches to one command and turns its result into a message on stderr
 * and an exit status. The token is wiped before exit on every path.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "common/util.h"
#include "crypto/apitoken.h"

#define EXIT_USAGE 2
#define DEFAULT_URL "https://127.0.0.1:8443"
/* A token file holds one token and perhaps a newline; anything more is odd. */
#define MAX_TOKEN_FILE 4096

/* One bit per option: options 0..63 in a command's opts (BIT), 64..127
 * in its opts2 (BIT2). A shift past either word is a compile error
 * (-Wshift-count-overflow), so an option in the wrong word cannot go
 * unnoticed. */
#define BIT(o) ((uint64_t)1 << (o))
#define BIT2(o) ((uint64_t)1 << ((o)-64))
#define GLOBAL_OPTS                                                            \
    (BIT(SN_OPT_URL) | BIT(SN_OPT_TOKEN) | BIT(SN_OPT_TOKEN_FILE) |            \
     BIT(SN_OPT_CA_FILE) | BIT(SN_OPT_JSON) | BIT(SN_OPT_HELP) |               \
     BIT(SN_OPT_CLIENT_CERT) | BIT(SN_OPT_CLIENT_KEY) |                        \
     BIT(SN_OPT_CLIENT_KEY_PIN_FILE) | OIDC_OPTS)
/* The ID token options: any command may exchange one for its token. */
#define OIDC_OPTS                                                              \
    (BIT(SN_OPT_OIDC) | BIT(SN_OPT_AUDIENCE) | BIT(SN_OPT_ID_TOKEN_FILE) |     \
     BIT(SN_OPT_ID_TOKEN_ENV))

_Static_assert(SN_OPT_COUNT <= 128, "options must fit two 64-bit masks");

static const struct option_def {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 if none */
    int has_arg;      /* 0 none, 1 required, 2 optional (--name=value) */
} option_defs[SN_OPT_COUNT] = {
    [SN_OPT_URL] = {"url", 0, 1},
    [SN_OPT_TOKEN] = {"token", 0, 1},
    [SN_OPT_TOKEN_FILE] = {"token-file", 0, 1},
    [SN_OPT_CA_FILE] = {"ca-file", 0, 1},
    [SN_OPT_JSON] = {"json", 0, 0},
    [SN_OPT_HELP] = {"help", 'h', 0},
    [SN_OPT_SUBSCRIBER] = {"subscriber", 0, 1},
    [SN_OPT_ROLE] = {"role", 0, 1},
    [SN_OPT_KEY] = {"key", 0, 1},
    [SN_OPT_EXPIRES] = {"expires", 0, 1},
    [SN_OPT_NAME] = {"name", 0, 1},
    [SN_OPT_ALGORITHM] = {"algorithm", 0, 1},
    [SN_OPT_LABEL] = {"label", 0, 1},
    [SN_OPT_SUBJECT] = {"subject", 0, 1},
    [SN_OPT_OUT] = {"out", 'o', 1},
    [SN_OPT_DIGEST_ALG] = {"digest-algorithm", 0, 1},
    [SN_OPT_DIGEST] = {"digest", 0, 1},
    [SN_OPT_SCHEME] = {"scheme", 0, 1},
    [SN_OPT_UPLOAD] = {"upload", 0, 0},
    [SN_OPT_AFTER] = {"after", 0, 1},
    [SN_OPT_LIMIT] = {"limit", 0, 1},
    [SN_OPT_ROOT] = {"root", 0, 1},
    [SN_OPT_OID_ARC] = {"oid-arc", 0, 1},
    [SN_OPT_ID_O] = {"O", 0, 1},
    [SN_OPT_ID_ASSUMED_NAME] = {"assumed-name", 0, 1},
    [SN_OPT_ID_C] = {"C", 0, 1},
    [SN_OPT_ID_ST] = {"ST", 0, 1},
    [SN_OPT_ID_L] = {"L", 0, 1},
    [SN_OPT_ID_STREET] = {"street", 0, 1},
    [SN_OPT_ID_POSTAL_CODE] = {"postal-code", 0, 1},
    [SN_OPT_ID_OU] = {"OU", 0, 1},
    [SN_OPT_ID_SERIAL_NUMBER] = {"serial-number", 0, 1},
    [SN_OPT_ID_BUSINESS_CATEGORY] = {"business-category", 0, 1},
    [SN_OPT_ID_JURISDICTION_C] = {"jurisdiction-C", 0, 1},
    [SN_OPT_ID_JURISDICTION_ST] = {"jurisdiction-ST", 0, 1},
    [SN_OPT_ID_JURISDICTION_L] = {"jurisdiction-L", 0, 1},
    [SN_OPT_PROFILE] = {"profile", 0, 1},
    [SN_OPT_CLIENT_CERT] = {"client-cert", 0, 1},
    [SN_OPT_CLIENT_KEY] = {"client-key", 0, 1},
    [SN_OPT_CLIENT_KEY_PIN_FILE] = {"client-key-pin-file", 0, 1},
    [SN_OPT_DAYS] = {"days", 0, 1},
    [SN_OPT_REASON] = {"reason", 0, 1},
    [SN_OPT_DATE] = {"date", 0, 1},
    [SN_OPT_COMMENT] = {"comment", 0, 1},
    [SN_OPT_NO_NONCE] = {"no-nonce", 0, 0},
    [SN_OPT_NO_CERT] = {"no-cert", 0, 0},
    [SN_OPT_BEFORE] = {"before", 0, 1},
    [SN_OPT_NO_EXPIRY] = {"no-expiry", 0, 0},
    [SN_OPT_OIDC] = {"oidc", 0, 0},
    [SN_OPT_AUDIENCE] = {"audience", 0, 1},
    [SN_OPT_ID_TOKEN_FILE] = {"id-token-file", 0, 1},
    [SN_OPT_ID_TOKEN_ENV] = {"id-token-env", 0, 1},
    [SN_OPT_PASSWORD_FILE] = {"password-file", 0, 1},
    [SN_OPT_PASSWORD] = {"password", 0, 1},
    /* has_arg 2: a value only as --wait=SECONDS */
    [SN_OPT_WAIT] = {"wait", 0, 2},
    [SN_OPT_STATE] = {"state", 0, 1},
    [SN_OPT_VKEY] = {"vkey", 0, 1},
    [SN_OPT_STATE_FILE] = {"state-file", 0, 1},
    [SN_OPT_ALLOW] = {"allow", 0, 1},
    [SN_OPT_FOLLOW] = {"follow", 0, 0},
    [SN_OPT_INTERVAL] = {"interval", 0, 1},
    [SN_OPT_FULL] = {"full", 0, 0},
    [SN_OPT_LOG_PROOF] = {"log-proof", 0, 1},
    [SN_OPT_KIND] = {"kind", 0, 1},
    [SN_OPT_PKCS7] = {"pkcs7", 0, 1},
    [SN_OPT_SIGFILE] = {"signature", 0, 1},
    [SN_OPT_CONTACT] = {"contact", 0, 1},
    [SN_OPT_OVERDUE] = {"overdue", 0, 0},
    [SN_OPT_REVOCATION_DATE] = {"revocation-date", 0, 1},
};

/* The identity options, in the order of SN_OPT_ID_O..SN_OPT_ID_*_L. */
#define IDENTITY_OPTS                                                          \
    (BIT(SN_OPT_ID_O) | BIT(SN_OPT_ID_ASSUMED_NAME) | BIT(SN_OPT_ID_C) |       \
     BIT(SN_OPT_ID_ST) | BIT(SN_OPT_ID_L) | BIT(SN_OPT_ID_STREET) |            \
     BIT(SN_OPT_ID_POSTAL_CODE) | BIT(SN_OPT_ID_OU) |                          \
     BIT(SN_OPT_ID_SERIAL_NUMBER) | BIT(SN_OPT_ID_BUSINESS_CATEGORY) |         \
     BIT(SN_OPT_ID_JURISDICTION_C) | BIT(SN_OPT_ID_JURISDICTION_ST) |          \
     BIT(SN_OPT_ID_JURISDICTION_L))

static const struct command {
    const char *group; /* "key", or NULL for a one-word command */
    const char *name;
    sn_err (*run)(struct sn_cli *cli);
    uint64_t opts; /* accepted options besides the global ones (0..63) */
    size_t npos;   /* exact number of positional arguments */
} commands[] = {
    {NULL, "login", sn_cmd_login, BIT(SN_OPT_OUT) | BIT(SN_OPT_NAME), 0},
    {NULL, "logout", sn_cmd_logout, 0, 0},
    {NULL, "whoami", sn_cmd_whoami, 0, 0},
    {"subscriber", "create", sn_cmd_subscriber_create, 0, 1},
    {"subscriber", "list", sn_cmd_subscriber_list, 0, 0},
    {"subscriber", "identity", sn_cmd_subscriber_identity, IDENTITY_OPTS, 1},
    {"token", "create", sn_cmd_token_create,
     BIT(SN_OPT_SUBSCRIBER) | BIT(SN_OPT_ROLE) | BIT(SN_OPT_KEY) |
         BIT(SN_OPT_EXPIRES) | BIT(SN_OPT_NO_EXPIRY) | BIT(SN_OPT_NAME),
     0},
    {"token", "revoke", sn_cmd_token_revoke, 0, 1},
    {"key", "create", sn_cmd_key_create,
     BIT(SN_OPT_ALGORITHM) | BIT(SN_OPT_LABEL), 0},
    {"key", "list", sn_cmd_key_list, 0, 0},
    {"key", "show", sn_cmd_key_show, 0, 1},
    {"key", "disable", sn_cmd_key_disable, 0, 1},
    {"key", "enable", sn_cmd_key_enable, 0, 1},
    {"key", "destroy", sn_cmd_key_destroy, 0, 1},
    {"key", "csr", sn_cmd_key_csr,
     BIT(SN_OPT_SUBJECT) | BIT(SN_OPT_OUT) | BIT(SN_OPT_DIGEST_ALG), 1},
    {"key", "set-certificate", sn_cmd_key_set_certificate, 0, 2},
    {"key", "certificate", sn_cmd_key_certificate, BIT(SN_OPT_OUT), 1},
    {"key", "attestation", sn_cmd_key_attestation, BIT(SN_OPT_OUT), 1},
    {"key", "certify", sn_cmd_key_certify,
     BIT(SN_OPT_SUBJECT) | BIT(SN_OPT_PROFILE) | BIT(SN_OPT_DAYS) |
         BIT(SN_OPT_OUT),
     1},
    {NULL, "sign", sn_cmd_sign,
     BIT(SN_OPT_KEY) | BIT(SN_OPT_OUT) | BIT(SN_OPT_DIGEST_ALG) |
         BIT(SN_OPT_UPLOAD) | BIT(SN_OPT_WAIT),
     1},
    {NULL, "sign-digest", sn_cmd_sign_digest,
     BIT(SN_OPT_KEY) | BIT(SN_OPT_DIGEST_ALG) | BIT(SN_OPT_DIGEST) |
         BIT(SN_OPT_SCHEME) | BIT(SN_OPT_OUT) | BIT(SN_OPT_WAIT) |
         BIT(SN_OPT_LOG_PROOF),
     0},
    {"request", "list", sn_cmd_request_list, BIT(SN_OPT_STATE), 0},
    {"request", "show", sn_cmd_request_show, 0, 1},
    {"request", "approve", sn_cmd_request_approve, 0, 1},
    {"request", "deny", sn_cmd_request_deny, 0, 1},
    {"request", "cancel", sn_cmd_request_cancel, 0, 1},
    /* issue 18: reports of Suspect Code and key compromise */
    {"report", "create", sn_cmd_report_create,
     BIT(SN_OPT_KIND) | BIT(SN_OPT_DIGEST_ALG) | BIT(SN_OPT_DIGEST) |
         BIT(SN_OPT_REASON),
     0},
    {"report", "show", sn_cmd_report_show, 0, 1},
    {"report", "list", sn_cmd_report_list, 0, 0},
    {"report", "confirm", sn_cmd_report_confirm, 0, 1},
    {"report", "reject", sn_cmd_report_reject, BIT(SN_OPT_REASON), 1},
    {NULL, "audit", sn_cmd_audit,
     BIT(SN_OPT_KEY) | BIT(SN_OPT_AFTER) | BIT(SN_OPT_BEFORE) |
         BIT(SN_OPT_LIMIT),
     0},
    {"attestation", "verify", sn_cmd_attestation_verify,
     BIT(SN_OPT_ROOT) | BIT(SN_OPT_OID_ARC), 1},
    {"ca", "certificate", sn_cmd_ca_certificate, BIT(SN_OPT_OUT), 1},
    {"ca", "revoke", sn_cmd_ca_revoke,
     BIT(SN_OPT_REASON) | BIT(SN_OPT_DATE) | BIT(SN_OPT_COMMENT), 1},
    {"ca", "roots", sn_cmd_ca_roots, BIT(SN_OPT_OUT), 0},
    {NULL, "timestamp", sn_cmd_timestamp,
     BIT(SN_OPT_OUT) | BIT(SN_OPT_DIGEST_ALG) | BIT(SN_OPT_NO_NONCE) |
         BIT(SN_OPT_NO_CERT),
     1},
    {"tsa", "rotate", sn_cmd_tsa_rotate, 0, 0},
    {"tsa", "clock-ok", sn_cmd_tsa_clock_ok, 0, 0},
    /* issue 18: the transparency log */
    {"log", "key", sn_cmd_log_key, 0, 0},
    {"log", "verify", sn_cmd_log_verify,
     BIT(SN_OPT_VKEY) | BIT(SN_OPT_STATE_FILE) | BIT(SN_OPT_FULL), 0},
    {"log", "monitor", sn_cmd_log_monitor,
     BIT(SN_OPT_VKEY) | BIT(SN_OPT_STATE_FILE) | BIT(SN_OPT_ALLOW) |
         BIT(SN_OPT_FOLLOW) | BIT(SN_OPT_INTERVAL) | BIT(SN_OPT_SUBSCRIBER) |
         BIT(SN_OPT_KEY),
     0},
    /* issue 17: people's accounts */
    {"account", "create", sn_cmd_account_create,
     BIT(SN_OPT_NAME) | BIT(SN_OPT_ROLE) | BIT(SN_OPT_SUBSCRIBER) |
         BIT(SN_OPT_PASSWORD_FILE),
     0},
    {"account", "list", sn_cmd_account_list, BIT(SN_OPT_SUBSCRIBER), 0},
    {"account", "totp", sn_cmd_account_totp, 0, 1},
    {"account", "confirm", sn_cmd_account_confirm, 0, 2},
    {"account", "disable", sn_cmd_account_disable, 0, 1},
    /* a name of two words: `signet admin accounts review` */
    {"admin", "accounts review", sn_cmd_admin_accounts_review,
     BIT(SN_OPT_SUBSCRIBER), 0},
};

static const char usage_text[] =
    "usage: signet [global options] COMMAND [options] [arguments]\n"
    "\n"
    "Global options (also accepted after the command):\n"
    "  --url URL          server, default $SIGNET_URL or " DEFAULT_URL "\n"
    "  --token-file FILE  read the API token from FILE\n"
    "  --token TOKEN      the API token (visible to other users: prefer\n"
    "                     $SIGNET_TOKEN or --token-file)\n"
    "  --ca-file FILE     CA certificate(s) for the server, default\n"
    "                     $SIGNET_CA_FILE or the system trust store\n"
    "  --client-cert FILE TLS client certificate (PEM, leaf first) for a\n"
    "                     registered client certificate (mTLS), default\n"
    "                     $SIGNET_CLIENT_CERT; the token is then optional\n"
    "  --client-key KEY   its key: a PEM file or a PKCS#11 URI\n"
    "                     (pkcs11:token=T;object=O[?module-path=M]),\n"
    "                     default $SIGNET_CLIENT_KEY; the token's PIN from\n"
    "                     --client-key-pin-file FILE,\n"
    "                     $SIGNET_CLIENT_KEY_PIN_FILE or\n"
    "                     $SIGNET_CLIENT_KEY_PIN, the module from the URI\n"
    "                     or $SIGNET_CLIENT_KEY_MODULE\n"
    "  --json             print the API's JSON instead of text\n"
    "  -h, --help         this help\n"
    "  --oidc             exchange a CI job's OIDC ID token for a short-lived\n"
    "                     token first (POST /v1/auth/oidc); the ID token is\n"
    "  --id-token-file F  read from F, or $SIGNET_ID_TOKEN_FILE,\n"
    "  --id-token-env N   from the variable N, or $SIGNET_ID_TOKEN (GitLab\n"
    "                     id_tokens:), or else from GitHub Actions'\n"
    "                     endpoint ($ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN)\n"
    "  --audience A       the audience asked of GitHub Actions, default\n"
    "                     $SIGNET_OIDC_AUDIENCE or the platform's default\n"
    "\n"
    "Commands:\n"
    "  login --oidc [--audience A] [--id-token-file F | --id-token-env N]\n"
    "        [--out FILE]\n"
    "       exchange an ID token once; prints 'export SIGNET_TOKEN=...' for\n"
    "       eval, or writes the token to FILE (mode 0600) for --token-file\n"
    "       or SIGNET_PKCS11_CONF; --json prints the API's answer\n"
    "  login --name NAME [--url URL] [--ca-file FILE]\n"
    "       a person's login: the password, then the authenticator app's\n"
    "       6-digit code or a recovery code (an empty line if none is\n"
    "       enrolled yet), typed without echo, or one line each on\n"
    "       standard input; the session is stored in\n"
    "       $XDG_CONFIG_HOME/signet/session (~/.config/signet/session) and\n"
    "       is used, with its URL and CA file, by commands given no token\n"
    "       or client certificate\n"
    "  logout\n"
    "       end the stored session and remove it\n"
    "  whoami\n"
    "  subscriber create NAME\n"
    "  subscriber list\n"
    "  subscriber identity ID --O ORG --C CC [--ST S] [--L L]\n"
    "             [--assumed-name DBA] [--street S]\n"
    "             [--postal-code P] [--OU U] [--serial-number N]\n"
    "             [--business-category B] [--jurisdiction-C CC]\n"
    "             [--jurisdiction-ST S] [--jurisdiction-L L]\n"
    "       record the subscriber's validated identity (admin; needs O, C,\n"
    "       and ST or L)\n"
    "  token create [--subscriber ID] --role sign|manage [--role ...]\n"
    "               [--key ID]... [--expires 30d|12h|90m|3600s | --no-expiry]\n"
    "               [--name N]\n"
    "       without --expires the server's default lifetime applies\n"
    "       (tokens.default_lifetime, 90 days unless configured)\n"
    "  token revoke ID\n"
    "  key create --algorithm rsa-3072|rsa-4096|ecdsa-p256|ecdsa-p384\n"
    "             --label LABEL\n"
    "  key list\n"
    "  key show|disable|enable|destroy ID\n"
    "  key csr ID --subject \"/CN=../O=../C=..\" [--digest-algorithm ALG]\n"
    "             [-o OUT.csr]\n"
    "  key set-certificate ID CHAIN.pem\n"
    "  key certificate ID [-o FILE]\n"
    "  key attestation ID [-o FILE]\n"
    "       the key's attestation certificate and its issuer (PEM)\n"
    "  key certify ID --subject \"/CN=../O=../C=../ST=..\"\n"
    "             [--profile code-signing|ev-code-signing] [--days N]\n"
    "             [-o CHAIN.pem]\n"
    "       CSR, issuance by the Signet CA and attachment of the chain\n"
    "       (leaf, issuing CA) to the key in one step; --days 1..460\n"
    "  sign --key ID [--upload] FILE [-o OUT.p7s] [--digest-algorithm ALG]\n"
    "       [--wait[=SECONDS]]\n"
    "       detached CMS signature, default FILE.p7s; the file is hashed\n"
    "       locally unless --upload streams it to the server\n"
    "  sign-digest --key ID --digest-algorithm ALG --digest HEX\n"
    "              [--scheme pkcs1|pss] [-o OUT.sig] [--wait[=SECONDS]]\n"
    "              [--log-proof FILE]\n"
    "       --log-proof waits for the signature's transparency-log entry\n"
    "       to be in a checkpoint and writes its inclusion proof to FILE;\n"
    "       with a key whose policy requires approvals the server opens a\n"
    "       sign request: --wait waits for it (default 600 s), then goes\n"
    "       on as a direct sign; without it the command fails naming it\n"
    "  request list [--state pending|completed|...]\n"
    "  request show ID\n"
    "  request approve ID\n"
    "  request deny ID\n"
    "       sign requests awaiting approval: approve and deny with an\n"
    "       approver's login session (signet login --name NAME)\n"
    "  request cancel ID\n"
    "  report create --kind suspect_code|key_compromise\n"
    "                (--pkcs7 FILE | --signature FILE |\n"
    "                 [--digest-algorithm ALG] --digest HEX)\n"
    "                --reason TEXT --contact TEXT\n"
    "       report signed malware or a compromised key; FILE.p7 as\n"
    "       osslsigncode extract-signature writes it (DER or PEM), or a\n"
    "       raw signature value; without a credential it is anonymous\n"
    "  report show ID\n"
    "  report list [--overdue]\n"
    "       reports (an operator: all, with the overdue counts; a\n"
    "       subscriber: its own)\n"
    "  report confirm ID [--revocation-date RFC3339]\n"
    "       disable the matched keys and revoke their certificates from\n"
    "       the first matching signature (or the earlier date given)\n"
    "  report reject ID --reason TEXT\n"
    "  audit [--key ID] [--limit N] [--before N | --after N]\n"
    "       the subscriber's audit records, newest first (--before N: those\n"
    "       older than record N); --after N lists oldest first from N\n"
    "  attestation verify --root ROOTS.pem [--oid-arc ARC] FILE\n"
    "       offline check of a key attestation: FILE is a PEM CSR carrying\n"
    "       one, or the PEM attestation certificate followed by its issuer;\n"
    "       ROOTS.pem holds the trusted attestation root(s); ARC is the\n"
    "       operator's OID arc (its oid.arc), default Signet's UUID arc\n"
    "  ca certificate SERIAL [-o CERT.pem]\n"
    "       status of a certificate the Signet CA issued (serial in hex)\n"
    "  ca revoke SERIAL --reason REASON [--date RFC3339] [--comment TEXT]\n"
    "       REASON: keyCompromise, superseded, cessationOfOperation,\n"
    "       affiliationChanged, privilegeWithdrawn or unspecified; only\n"
    "       keyCompromise may be back-dated; it revokes every certificate\n"
    "       of the key, and re-revoking moves the key's date (earlier; later\n"
    "       only with an admin token and a --comment giving the reason)\n"
    "  ca roots [-o FILE]\n"
    "       the CA certificates (root, code signing, timestamping,\n"
    "       attestation root and issuer) as PEM; needs no token\n"
    "  timestamp FILE [-o FILE.tsr] [--digest-algorithm ALG] [--no-nonce]\n"
    "            [--no-cert]\n"
    "       RFC 3161 time-stamp of FILE (hashed locally) from the Signet\n"
    "       TSA; the reply is checked (granted, imprint, nonce) before it\n"
    "       is written, default FILE.tsr; needs no token. --no-cert asks\n"
    "       for a token without the TSA certificate\n"
    "  tsa rotate\n"
    "       a new TSA key and certificate; the old key is destroyed (admin)\n"
    "  tsa clock-ok\n"
    "       confirm the clock after the TSA stopped on a clock jump (admin)\n"
    "  log key\n"
    "       the transparency log's verifier key; needs no token\n"
    "  log verify [--vkey KEY] [--state-file FILE] [--full]\n"
    "       checks the log's checkpoint against the pinned KEY (given on\n"
    "       the first run), its consistency with the last one seen, every\n"
    "       new entry, and that the subscriber's audit records and the log\n"
    "       list the same events; --full reads every entry again, not\n"
    "       only those since the last run\n"
    "  log monitor (--subscriber ID | --key ID ...) [--allow FILE]\n"
    "              [--vkey KEY] [--state-file FILE] [--follow]\n"
    "              [--interval SECONDS]\n"
    "       follows the log and prints every entry of the subscriber or\n"
    "       keys that FILE (signature or digest hashes, principal text such\n"
    "       as run_id=123) does not expect; exit 1 if there was one; needs\n"
    "       no token\n"
    "  account create --name NAME --role ROLE [--role ...] [--subscriber ID]\n"
    "                 --password-file FILE\n"
    "       an operator's account (roles identity, ca, revocation,\n"
    "       subscribers) or, with --subscriber, a subscriber's (manage,\n"
    "       sign, approve); the password from FILE, or - for standard\n"
    "       input, never from the command line\n"
    "  account list [--subscriber ID]\n"
    "  account totp ID\n"
    "       enrol an authenticator app: prints its otpauth:// URI\n"
    "  account confirm ID CODE\n"
    "       confirm it with a code the app shows; prints the account's\n"
    "       recovery codes, once\n"
    "  account disable ID\n"
    "       the account can no longer log in; its sessions end\n"
    "  admin accounts review [--subscriber ID]\n"
    "       every account with its kind, subscriber, roles, state,\n"
    "       factors, last login and last use\n"
    "\n"
    "-o - writes to standard output. Digest algorithms: sha256 (default),\n"
    "sha384, sha512.\n"
    "\n"
    "Exit status: 0 success; 1 the server refused or failed, or a local\n"
    "error (file, network, TLS); 2 a usage error on the command line.\n";

/* Finds an option by long name (without "--") or short letter. */
static int
find_option(const char *lname, size_t lnamelen, char sname)
{
    int i;

    for (i = 0; i < SN_OPT_COUNT; i++) {
        if (sname != 0 && option_defs[i].short_name == sname)
            return i;
        if (lname != NULL && strlen(option_defs[i].name) == lnamelen &&
            strncmp(option_defs[i].name, lname, lnamelen) == 0)
            return i;
    }
    return -1;
}

/* Wipes a secret given on the command line from the visible argv. */
static void
scrub_arg(char *s)
{
    OPENSSL_cleanse(s, strlen(s));
}

/* Stores one option value; lists for --role and --key, else single. */
static sn_err
store_option(struct sn_cli *cli, int o, const char *value)
{
    if (o == SN_OPT_ROLE || o == SN_OPT_KEY) {
        const char **list = o == SN_OPT_ROLE ? cli->roles : cli->keys;
        size_t *n = o == SN_OPT_ROLE ? &cli->nroles : &cli->nkeys;
        if (*n >= SN_CLI_MAX_LIST)
            return sn_cli_usage(cli, "too many --%s options",
                                option_defs[o].name);
        list[(*n)++] = value;
    } else if (cli->seen[o]) {
        return sn_cli_usage(cli, "--%s given twice", option_defs[o].name);
    }
    cli->seen[o] = 1;
    cli->opt[o] = value;
    return SN_OK;
}

/*
 * Parses one option at argv[*i] ("--name", "--name=value", "--name value",
 * "-o value"); advances *i past a separate value. argv is writable so that
 * a token given with --token can be wiped from it.
 */
static sn_err
parse_option(struct sn_cli *cli, int argc, char **argv, int *i)
{
    char *arg = argv[*i], *value = NULL, *eq = NULL;
    int o;

    if (arg[1] == '-') {
        eq = strchr(arg + 2, '=');
        o = find_option(
            arg + 2, eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2), 0);
        if (eq != NULL)
            value = eq + 1;
    } else {
        o = arg[2] == '\0' ? find_option(NULL, 0, arg[1]) : -1;
    }
    if (o < 0)
        return sn_cli_usage(cli, "unknown option '%.64s'", arg);
    if (option_defs[o].has_arg == 1 && value == NULL) {
        if (*i + 1 >= argc)
            return sn_cli_usage(cli, "--%s needs a value", option_defs[o].name);
        value = argv[++*i];
    } else if (!option_defs[o].has_arg && value != NULL) {
        return sn_cli_usage(cli, "--%s takes no value", option_defs[o].name);
    } else if (option_defs[o].has_arg == 2 && value == NULL) {
        value = ""; /* an optional value is given only as --name=value */
    }
    if (o == SN_OPT_PASSWORD) {
        /* Refused, and wiped from the argv that ps(1) shows. */
        scrub_arg(value);
        return sn_cli_usage(cli, "a password is never taken from the command "
                                 "line, where other users can see it: use "
                                 "--password-file FILE (- for standard "
                                 "input)");
    }
    if (o == SN_OPT_TOKEN) {
        /* Keep a private copy and wipe the one other users can see. */
        sn_secret_free(cli->token);
        if ((cli->token = strdup(value)) == NULL)
            return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        scrub_arg(value);
        value = "";
    }
    return store_option(cli, o, value);
}

/* Splits argv into options and positional words (words[] = all of them). */
static sn_err
parse_args(struct sn_cli *cli, int argc, char **argv, const char **words,
           size_t *nwords, size_t maxwords)
{
    int i, only_pos = 0;
    sn_err r;

    *nwords = 0;
    for (i = 1; i < argc; i++) {
        if (!only_pos && strcmp(argv[i], "--") == 0) {
            only_pos = 1;
        } else if (!only_pos && argv[i][0] == '-' && argv[i][1] != '\0') {
            if ((r = parse_option(cli, argc, argv, &i)) != SN_OK)
                return r;
        } else {
            if (*nwords >= maxwords)
                return sn_cli_usage(cli, "too many arguments");
            words[(*nwords)++] = argv[i];
        }
    }
    return SN_OK;
}

/* Whether word names a command group ("key", "token", ...). */
static int
is_group(const char *word)
{
    size_t i;

    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].group != NULL && strcmp(commands[i].group, word) == 0)
            return 1;
    return 0;
}

/*
 * Prints the lines of usage_text's command list that belong to group,
 * with their continuation lines (indented deeper), under a usage line.
 */
static void
group_usage(FILE *f, const char *group)
{
    static const char title[] = "\nCommands:\n";
    const char *p = strstr(usage_text, title), *eol;
    size_t glen = strlen(group);
    int in = 0;

    fprintf(f,
            "usage: signet [global options] %s SUBCOMMAND [options] "
            "[arguments]\n\nSubcommands of '%s':\n",
            group, group);
    if (p == NULL)
        return;
    /* The command list ends at the first blank line. */
    for (p += sizeof(title) - 1; (eol = strchr(p, '\n')) != NULL && eol != p;
         p = eol + 1) {
        if (strncmp(p, "  ", 2) == 0 && p[2] != ' ')
            in = strncmp(p + 2, group, glen) == 0 && p[2 + glen] == ' ';
        if (in)
            fprintf(f, "%.*s\n", (int)(eol - p), p);
    }
}

/*
 * How many of words, from the first, spell name (a command's name may be
 * two words separated by one space); 0 if they do not.
 */
static size_t
match_name(const char *name, const char **words, size_t nwords)
{
    const char *sp;
    size_t n = 0, len;

    while (n < nwords) {
        sp = strchr(name, ' ');
        len = sp != NULL ? (size_t)(sp - name) : strlen(name);
        if (strlen(words[n]) != len || strncmp(words[n], name, len) != 0)
            return 0;
        n++;
        if (sp == NULL)
            return n;
        name = sp + 1;
    }
    return 0;
}

/*
 * Matches the leading words to a command; the rest are its arguments. A
 * group named without (or with an unknown) subcommand sets *group, so
 * that the caller can list the group's subcommands.
 */
static sn_err
find_command(struct sn_cli *cli, const char **words, size_t nwords,
             const struct command **out, const char **group)
{
    size_t i, j, k, skip;

    *out = NULL;
    *group = NULL;
    if (nwords == 0)
        return sn_cli_usage(cli, "no command given");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const struct command *c = &commands[i];
        if (c->group != NULL) {
            if (nwords < 2 || strcmp(words[0], c->group) != 0 ||
                (k = match_name(c->name, words + 1, nwords - 1)) == 0)
                continue;
            skip = 1 + k;
        } else {
            if ((k = match_name(c->name, words, nwords)) == 0)
                continue;
            skip = k;
        }
        if (nwords - skip != c->npos)
            return sn_cli_usage(cli, "wrong number of arguments for '%s%s%s'",
                                c->group != NULL ? c->group : "",
                                c->group != NULL ? " " : "", c->name);
        for (j = 0; j < c->npos; j++)
            cli->pos[j] = words[skip + j];
        cli->npos = c->npos;
        *out = c;
        return SN_OK;
    }
    if (is_group(words[0])) {
        *group = words[0];
        if (nwords == 1)
            return sn_cli_usage(cli, "'%.64s' needs a subcommand", words[0]);
        return sn_cli_usage(cli, "'%.64s' has no subcommand '%.64s'", words[0],
                            words[1]);
    }
    return sn_cli_usage(cli, "unknown command '%.64s'", words[0]);
}

/* The options 64..127 (BIT2) a command takes: the few commands that take
 * any, by name (a second mask in every entry of commands[] would be more
 * noise than these lines). */
static const struct wide_opts {
    const char *group, *name;
    uint64_t opts2;
} wide_opts[] = {
    {"report", "create",
     BIT2(SN_OPT_PKCS7) | BIT2(SN_OPT_SIGFILE) | BIT2(SN_OPT_CONTACT)},
    {"report", "list", BIT2(SN_OPT_OVERDUE)},
    {"report", "confirm", BIT2(SN_OPT_REVOCATION_DATE)},
};

static uint64_t
opts2_of(const struct command *c)
{
    size_t i;

    for (i = 0; i < sizeof(wide_opts) / sizeof(wide_opts[0]); i++)
        if (c->group != NULL && strcmp(c->group, wide_opts[i].group) == 0 &&
            strcmp(c->name, wide_opts[i].name) == 0)
            return wide_opts[i].opts2;
    return 0;
}

/* Rejects options the chosen command does not take. */
static sn_err
check_options(struct sn_cli *cli, const struct command *c)
{
    uint64_t opts2 = opts2_of(c);
    int o;

    for (o = 0; o < SN_OPT_COUNT; o++)
        if (cli->seen[o] && !(o < 64 ? (GLOBAL_OPTS | c->opts) >> o & 1
                                     : opts2 >> (o - 64) & 1))
            return sn_cli_usage(cli, "'%s%s%s' does not take --%s",
                                c->group != NULL ? c->group : "",
                                c->group != NULL ? " " : "", c->name,
                                option_defs[o].name);
    return SN_OK;
}

/* Trims trailing whitespace (a token file usually ends in a newline). */
static void
trim_right(char *s)
{
    size_t len = strlen(s);

    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' ||
                       s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
}

/* The ID token options need --oidc, which excludes a Signet token. */
static sn_err
check_oidc(struct sn_cli *cli)
{
    const char *e;
    int o;

    if (cli->seen[SN_OPT_OIDC]) {
        if (cli->token != NULL || cli->opt[SN_OPT_TOKEN_FILE] != NULL)
            return sn_cli_usage(cli, "give --oidc or a token (--token, "
                                     "--token-file), not both");
        /* A registered certificate is itself the caller: the server
         * prefers it to a bearer token, hiding the trust policy. */
        if (cli->opt[SN_OPT_CLIENT_CERT] != NULL ||
            ((e = getenv("SIGNET_CLIENT_CERT")) != NULL && *e != '\0'))
            return sn_cli_usage(cli, "give --oidc or a client certificate "
                                     "(--client-cert, SIGNET_CLIENT_CERT), "
                                     "not both");
        if (cli->opt[SN_OPT_ID_TOKEN_FILE] != NULL &&
            cli->opt[SN_OPT_ID_TOKEN_ENV] != NULL)
            return sn_cli_usage(cli, "give --id-token-file or --id-token-env, "
                                     "not both");
        return SN_OK;
    }
    for (o = SN_OPT_AUDIENCE; o <= SN_OPT_ID_TOKEN_ENV; o++)
        if (cli->seen[o])
            return sn_cli_usage(cli, "--%s needs --oidc", option_defs[o].name);
    return SN_OK;
}

/*
 * Token precedence: --token, --token-file, $SIGNET_TOKEN; with --oidc,
 * none of them (the exchange gives the token, after load_settings).
 */
static sn_err
load_token(struct sn_cli *cli)
{
    const char *file = cli->opt[SN_OPT_TOKEN_FILE], *env;
    uint8_t *buf = NULL;
    size_t len = 0;
    sn_err r;

    if ((r = check_oidc(cli)) != SN_OK || cli->seen[SN_OPT_OIDC])
        return r;
    if (cli->token != NULL && file != NULL)
        return sn_cli_usage(cli, "give --token or --token-file, not both");
    if (file != NULL) {
        if ((r = sn_file_read(file, MAX_TOKEN_FILE, &buf, &len)) != SN_OK)
            return sn_cli_fail(cli, r, "cannot read token file %s: %s", file,
                               sn_err_str(r));
        if (memchr(buf, '\0', len) != NULL) {
            OPENSSL_cleanse(buf, len);
            free(buf);
            return sn_cli_usage(cli, "token file %s is not text", file);
        }
        cli->token = (char *)buf;
        trim_right(cli->token);
    } else if (cli->token == NULL && (env = getenv("SIGNET_TOKEN")) != NULL &&
               env[0] != '\0') {
        if ((cli->token = strdup(env)) == NULL)
            return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    }
    if (cli->token != NULL &&
        (cli->token[0] == '\0' || strlen(cli->token) > SN_TOKEN_MAX_LEN))
        return sn_cli_usage(cli, "the API token is empty or too long");
    return SN_OK;
}

static void
load_settings(struct sn_cli *cli)
{
    const char *env;

    cli->json = cli->seen[SN_OPT_JSON];
    cli->url = cli->opt[SN_OPT_URL];
    cli->url_given = cli->url != NULL ||
                     ((env = getenv("SIGNET_URL")) != NULL && env[0] != '\0');
    cli->ca_given =
        cli->opt[SN_OPT_CA_FILE] != NULL ||
        ((env = getenv("SIGNET_CA_FILE")) != NULL && env[0] != '\0');
    if (cli->url == NULL && (env = getenv("SIGNET_URL")) != NULL &&
        env[0] != '\0')
        cli->url = env;
    if (cli->url == NULL)
        cli->url = DEFAULT_URL;
    cli->ca_file = cli->opt[SN_OPT_CA_FILE];
    if (cli->ca_file == NULL && (env = getenv("SIGNET_CA_FILE")) != NULL &&
        env[0] != '\0')
        cli->ca_file = env;
}

/*
 * "signet: message (code, HTTP status)" or "signet: message"; after a
 * usage mistake the group's subcommands (if one was named) and one hint.
 */
static void
report(const struct sn_cli *cli, sn_err r, const char *group)
{
    const struct sn_client_error *e = &cli->err;

    fflush(stdout);
    if (e->message[0] == '\0')
        fprintf(stderr, "signet: %s\n", sn_err_str(r));
    else if (e->status != 0)
        fprintf(stderr, "signet: %s (%s, HTTP %ld)\n", e->message,
                e->code[0] != '\0' ? e->code : "no error code", e->status);
    else
        fprintf(stderr, "signet: %s\n", e->message);
    /* The stored login session was the credential, and it was refused. */
    if (cli->session != NULL && e->status == 401)
        fprintf(stderr, "signet: the stored login session was refused "
                        "(expired, unused too long or ended?): run signet "
                        "login\n");
    if (cli->usage && group != NULL) {
        fputc('\n', stderr);
        group_usage(stderr, group);
        fputc('\n', stderr);
    }
    if (cli->usage)
        fprintf(stderr, "Try 'signet --help'.\n");
}

static int
run(struct sn_cli *cli, int argc, char **argv)
{
    const char *words[SN_CLI_MAX_POS + 3], *group = NULL;
    const struct command *c = NULL;
    size_t nwords;
    sn_err r;

    if ((r = parse_args(cli, argc, argv, words, &nwords,
                        sizeof(words) / sizeof(words[0]))) != SN_OK)
        goto out;
    if (cli->seen[SN_OPT_HELP] && nwords >= 1 && is_group(words[0])) {
        group_usage(stdout, words[0]);
        return 0;
    }
    if (cli->seen[SN_OPT_HELP] ||
        (nwords == 1 && strcmp(words[0], "help") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if ((r = find_command(cli, words, nwords, &c, &group)) != SN_OK ||
        (r = check_options(cli, c)) != SN_OK || (r = load_token(cli)) != SN_OK)
        goto out;
    load_settings(cli);
    /* --oidc with any command but login: exchange first, then run it. */
    if (cli->seen[SN_OPT_OIDC] && c->run != sn_cmd_login &&
        (r = sn_cli_oidc_token(cli)) != SN_OK)
        goto out;
    r = c->run(cli);
out:
    if (r == SN_OK)
        return 0;
    report(cli, r, group);
    return cli->usage ? EXIT_USAGE : EXIT_FAILURE;
}

int
main(int argc, char **argv)
{
    struct sn_cli cli;
    int status;

    memset(&cli, 0, sizeof(cli));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("signet: cannot initialise libcurl\n", stderr);
        return EXIT_FAILURE;
    }
    status = run(&cli, argc, argv);
    sn_client_free(cli.client);
    sn_client_cred_free(cli.cred);
    sn_cli_session_free(&cli);
    sn_secret_free(cli.token);
    cli.token = NULL;
    curl_global_cleanup();
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fputs("signet: error writing standard output\n", stderr);
        status = EXIT_FAILURE;
    }
    return status;
}
