/*
 * app: the running service's shared state (configuration, store, HSM,
 * open subscriber partitions, metrics) and the operations handlers share:
 * opening a subscriber's partition and writing audit records.
 */
#ifndef SN_APP_H
#define SN_APP_H

#include <pthread.h>

#include "hsm/hsm.h"
#include "pki/ca.h"
#include "pki/tsa.h"
#include "http/deps.h"
#include "daemon/config.h"
#include "http/metrics.h"
#include "ipc/client.h"
#include "pki/keys.h"
#include "store/store.h"

struct sn_app {
    struct sn_config cfg;
    struct sn_store *store;
    /* signetd check only: the module and the service's token, in this
     * process; a serving front end has neither */
    struct sn_hsm *hsm;
    struct sn_hsm_token *service;
    struct sn_keeper *keeper; /* serving: every key operation */
    struct sn_ca_keys keys;   /* the CA and TSA keys, through the keeper */
    struct sn_metrics metrics;
    struct sn_ca ca;
    struct sn_tsa tsa;
    struct sn_keyrules *keyrules; /* signing policies and quotas */
    struct sn_oidc *oidc;         /* issue 16: trusted issuers, their keys */
    char *log_vkey; /* issue 18: the log's verifier key (note form) */
    /* issue 18: the reports' notice key, "ed25519:<base64>" */
    char *notice_key;
};

/* Loads HOME/signetd.conf, opens the store and binds the keys the keeper
 * (HOME/run/keeper.sock, already running) holds. */
sn_err sn_app_open(const char *home, struct sn_app *app, char *errbuf,
                   size_t errlen);
/* Only HOME/signetd.conf, the module and the service token (signetd
 * check: no store, CA or TSA, nothing written). */
sn_err sn_app_open_service(const char *home, struct sn_app *app, char *errbuf,
                           size_t errlen);
void sn_app_close(struct sn_app *app);

/* What the HTTP front end gets of app: borrowed, valid until close. */
void sn_app_deps(struct sn_app *app, struct sn_deps *out);
void sn_app_http_opts(const struct sn_app *app, struct sn_http_opts *out);

/*
 * Prepares a new subscriber's partition, in the keeper: in "create" mode a
 * new token with a random PIN (which the keeper keeps: HOME/hsm/pins/, or
 * sealed into the database); in "mapped" mode the configured one. Sets
 * sub->token_label.
 */
sn_err sn_app_partition_create(struct sn_app *app, struct sn_subscriber *sub);

#endif
