/*
 * deps: what the daemon hands the HTTP room, named one by one. Handlers
 * see these and nothing else of the running service: not its
 * configuration, its PKCS#11 module or its table of open partitions. The
 * daemon (src/daemon/app.c) fills one at start-up; it outlives the server.
 */
#ifndef SN_DEPS_H
#define SN_DEPS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth/oidc.h"
#include "common/err.h"
#include "http/metrics.h"
#include "ipc/client.h"
#include "pki/ca.h"
#include "pki/modules.h"
#include "pki/tsa.h"
#include "policy/keypolicy.h"
#include "store/store.h"

/* The subscribers' HSM partitions (tokens, in the keeper). */
struct sn_part_ops {
    /* Prepares a new subscriber's partition; sets sub->token_label. */
    sn_err (*create)(void *arg, struct sn_subscriber *sub);
    void *arg;
};

/* Per subscriber (quota.*). */
struct sn_quotas {
    unsigned keys;            /* keys not destroyed */
    unsigned certs_per_day;   /* issued in any 24 h */
    unsigned key_generations; /* at once */
};

struct sn_keyrules; /* http/keyrules.h */

/* issue 17: people (auth.operator_mfa, sessions.*: seconds) */
struct sn_people_opts {
    int operator_mfa;
    unsigned session_lifetime;
    unsigned session_idle;
};

struct sn_deps {
    struct sn_store *store;
    /* the keeper (docs/ipc.md): every signature, key and sealed secret;
     * /healthz pings the HSM through it */
    struct sn_keeper *keeper;
    struct sn_part_ops parts;
    struct sn_metrics *metrics;
    struct sn_ca *ca;
    struct sn_tsa *tsa;
    struct sn_module_list modules; /* for issuance (CSBR 6.2.7.4) */
    struct sn_quotas quota;
    /* PEM files of roots an uploaded certificate chain may end in, besides
     * Signet's own (ca.upload_root) */
    char *const *upload_roots;
    size_t nupload_roots;
    /* issue 15: seconds a new API token lives unless its request says
     * otherwise; 0: no default expiry (tokens.default_lifetime) */
    time_t token_lifetime;
    /* issue 16: signing policies and quotas (NULL: none are applied) */
    struct sn_keyrules *keyrules;
    /* issue 16: the trusted OIDC issuers and their keys (NULL: the
     * exchange answers 503) */
    struct sn_oidc *oidc;
    struct sn_people_opts people;
    /* issue 18: the transparency log's verifier key (docs/translog.md) */
    const char *log_vkey;
    /* issue 18: the key that signs the reports' notices to other CAs,
     * "ed25519:<base64 of the 32-byte public key>" (docs/reports.md) */
    const char *notice_key;
};

/* How the front end runs: listeners' TLS files, threads and body limits. */
struct sn_http_opts {
    const char *tls_cert, *tls_key; /* PEM files */
    size_t json_limit;              /* bytes */
    uint64_t file_limit;            /* bytes */
    unsigned threads;               /* workers for blocking requests */
    unsigned event_threads;         /* connection threads, 0: one per CPU */
    unsigned hsm_parallelism;       /* signing threads, 0: one per CPU */
    /* deadlines (seconds) and connection limits: see limits.* in
     * docs/configuration.md */
    unsigned header_timeout;  /* connect to complete headers, TLS included */
    unsigned idle_timeout;    /* end of an answer to the next headers */
    unsigned body_timeout;    /* JSON/PEM/raw body; the answer's sending */
    uint64_t stream_min_rate; /* sign-file body, bytes/s after the grace */
    unsigned stream_grace;    /* before stream_min_rate applies */
    unsigned connections;     /* per listener, within RLIMIT_NOFILE */
    unsigned connections_per_address; /* per listener and client address */
    /* anonymous work (time-stamps, OCSP): per address and in all */
    unsigned anon_rate;       /* requests/s per address */
    unsigned anon_burst;      /* requests at once per address above it */
    unsigned anon_signatures; /* HSM signatures/s for anonymous callers */
    /* issue 18: anonymous reports per address (reports.anon_per_hour,
     * reports.anon_burst) */
    unsigned report_per_hour;
    unsigned report_burst;
    /* PROXY protocol v2 (proxy.protocol, proxy.trusted): both listeners
     * take each client's address from the header a load balancer sends;
     * only the trusted peers may connect. The list must outlive the
     * server. */
    int proxy_v2;
    const struct sn_cidr *proxy_trusted;
    size_t nproxy_trusted;
};

#endif
