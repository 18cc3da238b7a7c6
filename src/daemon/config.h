/*
 * config: signetd's strict configuration file. Lines are "key = value";
 * '#' starts a comment line; blank lines are ignored. Unknown keys, bad
 * values, missing required keys and duplicates are errors reported as
 * "FILE:LINE: message". Relative paths are taken relative to the home.
 */
#ifndef SN_CONFIG_H
#define SN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "pki/modules.h"
#include "policy/keypolicy.h"

enum sn_token_mode {
    SN_TOKENS_CREATE, /* "create": one new token per subscriber (SoftHSM2) */
    SN_TOKENS_MAPPED  /* "mapped": subscribers use pre-provisioned tokens */
};

struct sn_token_map {
    char *subscriber; /* subscriber name */
    char *label;      /* token label (partition) on the module */
    char *pin_file;   /* absolute path of the file holding the user PIN */
};

#define SN_CONFIG_MAX_CERTIFIED 16
#define SN_CONFIG_MAX_UPLOAD_ROOTS 16
#define SN_CONFIG_MAX_PROXY_TRUSTED 32

struct sn_config {
    char *home;               /* absolute home directory */
    char *listen;             /* "ADDR:PORT", default "127.0.0.1:8443" */
    char *database;           /* absolute path, default HOME/signet.db */
    char *tls_cert;           /* default HOME/tls/server.pem */
    char *tls_key;            /* default HOME/tls/server.key */
    size_t json_limit;        /* bytes, default 1 MiB */
    uint64_t file_limit;      /* bytes, default 2 GiB */
    unsigned threads;         /* workers for blocking requests, default 8 */
    unsigned event_threads;   /* connection threads, 0: one per CPU */
    unsigned hsm_parallelism; /* signing threads, 0: one per CPU */
    char *hsm_module;       /* absolute path of the PKCS#11 module, required */
    char *hsm_softhsm_conf; /* optional: exported as SOFTHSM2_CONF */
    enum sn_token_mode hsm_tokens; /* default create */
    char *hsm_service_label;       /* service token label, required */
    char *hsm_service_pin_file;    /* service token PIN file, required */
    struct sn_token_map *maps;     /* hsm.subscriber_token lines */
    size_t nmaps;
    char *public_listen;     /* plain-HTTP listener for CRL/OCSP/certs, "off" */
    char *ca_base_url;       /* base of CDP/AIA/OCSP URLs, no trailing '/' */
    char *ca_organization;   /* O of the CA certificates */
    char *ca_country;        /* C of the CA certificates */
    unsigned ca_crl_reissue; /* seconds; a CRL this old is reissued */
    char *att_roots[16];     /* extra trusted attestation roots (PEM files) */
    size_t natt_roots;
    char *tsa_key_algorithm;  /* for new TSA keys, default rsa-3072 */
    char *tsa_policy_oid;     /* extra TSA policy, or NULL */
    unsigned tsa_accuracy_ms; /* stated accuracy, default 1000 */
    char *oid_arc;            /* private OID arc, NULL: the default */
    struct sn_certified_module certified[SN_CONFIG_MAX_CERTIFIED];
    size_t ncertified;
    int allow_uncertified; /* ca.allow_uncertified_modules: test certs */
    /* issue 14: what uploaded chains may end in, and quotas per subscriber */
    char *upload_roots[SN_CONFIG_MAX_UPLOAD_ROOTS]; /* ca.upload_root */
    size_t nupload_roots;
    unsigned quota_keys;            /* keys not destroyed, default 20000 */
    unsigned quota_certs_per_day;   /* issued in 24 h, default 1000 */
    unsigned quota_key_generations; /* at once, default 4 */
    /* storage.min_free: bytes free below which anonymous work is refused
     * (all writes below a quarter of it); auto: not set, so 256 MiB or a
     * tenth of the volume, whichever is smaller */
    uint64_t storage_min_free;
    int storage_min_free_auto;
    unsigned tsa_record_retention; /* days; 0: TSA records kept for ever */
    /* connections: deadlines and limits (issue 14), seconds unless said */
    unsigned header_timeout;  /* connect to complete headers, TLS included */
    unsigned idle_timeout;    /* end of an answer to the next headers */
    unsigned body_timeout;    /* JSON/PEM/raw body; the answer's sending */
    uint64_t stream_min_rate; /* sign-file body, bytes/s after the grace */
    unsigned stream_grace;    /* before stream_min_rate applies */
    unsigned connections;     /* per listener, within RLIMIT_NOFILE */
    unsigned connections_per_address; /* per listener and client address */
    /* issue 15: days a new API token lives unless asked otherwise; 0: none */
    unsigned token_lifetime_days;
    /* Anonymous work (time-stamps, OCSP): per client address, and the HSM
     * signatures it may make per second in all. */
    unsigned anon_rate;       /* limits.anon_rate: requests/s, default 50 */
    unsigned anon_burst;      /* limits.anon_burst, default 100 */
    unsigned anon_signatures; /* limits.anon_signatures_per_second; 0: 25
                                 per CPU */
    /* issue 18: anonymous reports per client address */
    unsigned report_per_hour; /* reports.anon_per_hour, default 60 */
    unsigned report_burst;    /* reports.anon_burst, default 10 */
    /* issue 18: the notices owed to other CAs: the webhook (NULL: none),
     * the CA file its TLS is checked with (NULL: the system's), and the
     * first retry's delay in seconds (doubling, at most an hour) */
    char *report_webhook;
    char *report_webhook_ca;
    /* issue 20: the front end's user when signetd starts as root
     * (server.user), or NULL */
    char *server_user;
    unsigned report_retry;
    /* issue 16: auth.require_strong_auth (false when absent; signetd init
     * writes true into new homes) */
    int require_strong_auth;
    /* issue 16: ID tokens older than this (since iat) are refused; an
     * issuer's keys are fetched at most once per refresh interval; one
     * fetch takes at most fetch_timeout (all seconds) */
    unsigned oidc_max_token_age;    /* oidc.max_token_age, default 600 */
    unsigned oidc_refresh_interval; /* oidc.refresh_interval, default 60 */
    unsigned oidc_fetch_timeout;    /* oidc.fetch_timeout, default 10 */
    /* issue 17: auth.operator_mfa (false when absent; signetd init writes
     * true): operator actions that can cause issuance or change who can
     * sign need a login session with a second factor. A session lives at
     * most sessions.lifetime and ends after sessions.idle_timeout unused
     * (seconds; 8 h and 15 min by default). */
    int operator_mfa;
    unsigned session_lifetime;
    unsigned session_idle;
    /* issue 18: log.enabled (default true; false only to compare rates:
     * records are then not covered by the log) and log.origin, the
     * checkpoints' origin line and key name (default
     * "signet-log/<host name>") */
    int log_enabled;
    /* issue 19: subscribers' token PINs in HOME/hsm/pins even over a
     * database several nodes share (default: sealed in the database) */
    int pins_in_files;
    char *log_origin;
    /* proxy.protocol = v2 (default off): both listeners take each
     * client's address from a PROXY protocol v2 header, and accept
     * connections only from proxy.trusted (required then): addresses or
     * CIDRs, comma-separated */
    int proxy_v2;
    struct sn_cidr proxy_trusted[SN_CONFIG_MAX_PROXY_TRUSTED];
    size_t nproxy_trusted;
};

/*
 * Keys (all optional unless marked):
 *   listen              = 127.0.0.1:8443
 *   database            = signet.db
 *   tls.cert            = tls/server.pem
 *   tls.key             = tls/server.key
 *   limits.json_body    = 1048576        (bytes; 1 KiB .. 64 MiB)
 *   limits.file_body    = 2147483648     (bytes; 1 .. 2^40)
 *   server.threads      = 8      (workers for requests that may block)
 *   server.event_threads = CPUs  (serve connections)
 *   hsm.parallelism     = CPUs   (signatures made at once; 1..1024)
 *   hsm.module          = /usr/lib/softhsm/libsofthsm2.so   (required)
 *   hsm.softhsm_conf    = hsm/softhsm2.conf
 *   hsm.tokens          = create | mapped
 *   hsm.service_token   = signet-service                   (required)
 *   hsm.service_pin_file = hsm/service.pin                 (required)
 *   hsm.subscriber_token = NAME LABEL PIN_FILE   (repeatable; one per NAME)
 *   public.listen       = 127.0.0.1:8080 | off  (plain HTTP: CRL, OCSP,
 *                                                CA certificates, TSA)
 *   ca.base_url         = http://127.0.0.1:8080  (default: public.listen)
 *   ca.organization     = Signet
 *   ca.country          = US
 *   attestation.trusted_root = PATH   (repeatable, up to 16; PEM roots
 *                                      trusted besides the service's own)
 *   tsa.key_algorithm   = rsa-3072 | rsa-4096 | ecdsa-p256 | ecdsa-p384
 *   tsa.policy_oid      = 1.2.3.4   (accepted besides 2.23.140.1.4.2)
 *   tsa.accuracy_ms     = 1000      (1 .. 60000)
 *   oid.arc             = 1.3.6.1.4.1.N   (the operator's PEN arc; default
 *                                          a 2.25 UUID arc, with a warning)
 *   hsm.certified_modules = MANUFACTURER | MODEL | CERTIFICATE
 *                         (repeatable, up to 16; matched exactly against
 *                          the module's CK_TOKEN_INFO)
 *   ca.allow_uncertified_modules = false | true   (true: test certificates
 *                                  for keys on unlisted modules)
 *   auth.require_strong_auth = false | true  (true: a static API token
 *                                  alone cannot sign with a key whose
 *                                  policy does not say otherwise)
 *   ca.crl_reissue_seconds = 86400  (1 .. 518400; CRLs this old are
 *                                    reissued by a timer)
 *   ca.upload_root      = PATH   (repeatable, up to 16; PEM roots that a
 *                                  certificate chain uploaded to a key may
 *                                  end in, besides Signet's own root)
 *   quota.keys          = 20000  (keys per subscriber, not counting
 *                                 destroyed ones; 1 .. 10000000)
 *   quota.certificates_per_day = 1000  (issued per subscriber in any 24 h;
 *                                       1 .. 1000000)
 *   quota.key_generations = 4    (per subscriber at once; 1 .. 256)
 *   storage.min_free    = 256M   (free bytes on the database's file system
 *                                 below which time-stamps and other
 *                                 anonymous writes get 503; below a
 *                                 quarter of it every write does; 0: off;
 *                                 unset: 256M or a tenth of the volume)
 *   tsa.record_retention = 90    (days a time-stamp token's record is
 *                                 kept before it is folded into hourly
 *                                 counts; 0: kept for ever)
 *   limits.header_timeout = 10   (1..300; connect, TLS handshake and the
 *                                 first request's headers, in all)
 *   limits.idle_timeout  = 30    (1..3600; from an answer to the next
 *                                 request's complete headers)
 *   limits.body_timeout  = 30    (1..3600; a JSON, PEM or raw body in all,
 *                                 and the sending of an answer)
 *   limits.stream_min_rate = 64K (bytes/s; a sign-file body, on average
 *                                 after limits.stream_grace = 10 s)
 *   limits.connections   = 4096  (16..2^20 per listener; lowered to fit
 *                                 RLIMIT_NOFILE)
 *   limits.connections_per_address = 32  (per listener)
 *   tokens.default_lifetime = 90  (days an API token created without
 *                                  expires_at or no_expiry lives;
 *                                  0..3650, 0: such tokens never expire)
 *   limits.anon_rate    = 50     (time-stamp and OCSP requests per second
 *                                 per client address; 1 .. 1000000)
 *   limits.anon_burst   = 100    (requests at once per address above it)
 *   limits.anon_signatures_per_second = 25 per CPU  (HSM signatures for
 *                                 anonymous work in all; 1 .. 1000000)
 *   reports.anon_per_hour = 60   (anonymous reports per client address
 *                                 an hour, issue 18; 1 .. 1000000)
 *   reports.anon_burst  = 10     (anonymous reports at once per address)
 *   reports.ca_webhook  = none   (https URL a notice to another CA is
 *                                 POSTed to; http only to the loopback)
 *   reports.ca_webhook_ca_file = none (its TLS trust; the system's)
 *   reports.ca_webhook_retry = 60 (seconds before the first retry,
 *                                 doubling, at most 3600; 1 .. 86400)
 *   proxy.protocol      = off | v2  (v2: every connection to either
 *                                 listener starts with a PROXY protocol
 *                                 v2 header naming the client)
 *   proxy.trusted       = ADDR[/BITS][, ...]  (up to 32; the peers that
 *                                 may connect and send it; required
 *                                 with v2)
 * Sizes may carry a K, M or G suffix (powers of 1024).
 */
sn_err sn_config_load(const char *path, const char *home, struct sn_config *cfg,
                      char *errbuf, size_t errlen);
void sn_config_cleanup(struct sn_config *cfg);
/* "signet-log/<host name>": the log's name signetd init writes (it must not
 * change with the host's name later: verifiers pin it). */
void sn_config_default_origin(char *buf, size_t len);

/* The certified-list entry for a module, or NULL. */
const struct sn_certified_module *
sn_config_certified(const struct sn_config *cfg, const char *manufacturer,
                    const char *model);

/* The token map entry for a subscriber name, or NULL. */
const struct sn_token_map *sn_config_token_for(const struct sn_config *cfg,
                                               const char *subscriber);

#endif
