/*
 * app: assembling the service from its home, and the partition (HSM
 * token) of each subscriber. PINs are read from 0600 files, used for
 * C_Login and wiped at once.
 */
#include "daemon/app.h"
#include "daemon/notices.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/keeperrun.h"
#include "http/keyrules.h"
#include "keeper/keeper.h"
#include "translog/merkle.h"
#include "translog/note.h"

static sn_err
open_token(struct sn_app *app, const char *label, const char *pin_file,
           struct sn_hsm_token **out)
{
    char *pin = NULL;
    sn_err r;

    if ((r = sn_keeper_read_pin(pin_file, &pin)) != SN_OK) {
        sn_error("app: cannot read PIN file %s: %s", pin_file, sn_err_str(r));
        return r;
    }
    r = sn_hsm_token_open(app->hsm, label, pin, out);
    sn_secret_free(pin);
    return r;
}

/*
 * signetd creates its files 0600 and its directories 0700, but a home made
 * by hand or by an older signetd may let others in: say so, change
 * nothing (the operator may mean it; the database alone is tightened, by
 * the store).
 */
static void
check_home_mode(const char *home)
{
    struct stat st;

    if (stat(home, &st) != 0 || (st.st_mode & 077) == 0)
        return;
    sn_warn("app: the home %s is mode %04o: group or others can reach its "
            "files; chmod 700 it",
            home, (unsigned)(st.st_mode & 07777));
}

static sn_err keeper_opener(void *arg, const char *subscriber, char name[129],
                            uint8_t **sealed, size_t *slen);

static sn_err
app_config(const char *home, struct sn_app *app, char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    sn_err r;

    memset(app, 0, sizeof(*app));
    sn_metrics_init(&app->metrics);
    snprintf(path, sizeof(path), "%s/signetd.conf", home);
    if ((r = sn_config_load(path, home, &app->cfg, errbuf, errlen)) != SN_OK)
        return r;
    check_home_mode(app->cfg.home);
    return SN_OK;
}

sn_err
sn_app_open_service(const char *home, struct sn_app *app, char *errbuf,
                    size_t errlen)
{
    sn_err r;

    if ((r = app_config(home, app, errbuf, errlen)) != SN_OK)
        return r;
    if (app->cfg.hsm_softhsm_conf != NULL)
        setenv("SOFTHSM2_CONF", app->cfg.hsm_softhsm_conf, 1);
    if ((r = sn_hsm_open(app->cfg.hsm_module, &app->hsm)) != SN_OK) {
        snprintf(errbuf, errlen, "cannot load PKCS#11 module %s",
                 app->cfg.hsm_module);
        return r;
    }
    if ((r = open_token(app, app->cfg.hsm_service_label,
                        app->cfg.hsm_service_pin_file, &app->service)) !=
        SN_OK) {
        snprintf(errbuf, errlen, "cannot open the service token '%s': %s",
                 app->cfg.hsm_service_label, sn_err_str(r));
        return r;
    }
    return SN_OK;
}

/* The TSA gets what it uses: the store, the service token, its settings
 * and the timestamping CA. */
static sn_err
tsa_load(struct sn_app *app)
{
    struct sn_tsa_settings set = {
        .home = app->cfg.home,
        .key_algorithm = app->cfg.tsa_key_algorithm,
        .org = app->cfg.ca_organization,
        .country = app->cfg.ca_country,
        .base_url = app->cfg.ca_base_url,
        .policy_oid = app->cfg.tsa_policy_oid,
        .ca_policy = app->ca.oids.ca_policy,
        .accuracy_ms = app->cfg.tsa_accuracy_ms,
    };

    return sn_tsa_load(&app->tsa, app->store, &app->keys, &set,
                       app->ca.cert[SN_CA_TIMESTAMPING],
                       app->ca.signer[SN_CA_TIMESTAMPING]);
}

static sn_err
read_hashes(void *arg, unsigned level, uint64_t start, size_t n,
            uint8_t (*out)[SN_TLOG_HASH])
{
    return sn_store_log_hashes(arg, level, start, n, out);
}

/*
 * The log's checkpoint, signed by the keeper: with the RFC 9162 proof that
 * its tree extends the last one the keeper signed (whose size the keeper
 * says), from the stored hashes. The keeper checks it against the root it
 * signed then.
 */
static sn_err
log_sign(void *arg, const uint8_t *msg, size_t len, uint8_t sig[64])
{
    struct sn_app *app = arg;
    const struct sn_tlog_reader rd = {read_hashes, app->store};
    uint8_t pub[32], notice[32], hashes[SN_TLOG_MAX_PROOF][SN_TLOG_HASH];
    uint8_t proof[8 + sizeof(hashes)];
    const char *p;
    uint64_t cas, m = 0, n;
    size_t np = 0, i;
    char *end;
    sn_err r;

    /* "<origin>\n<size>\n<root>\n", as the store formats it */
    if ((p = memchr(msg, '\n', len)) == NULL)
        return SN_ERR_INVALID;
    n = strtoull(p + 1, &end, 10);
    if ((r = sn_keeper_pubkeys(app->keeper, pub, notice, &cas, &m)) != SN_OK)
        return r;
    if (m == 0 || m >= n)
        return sn_keeper_sign_checkpoint(app->keeper, msg, len, NULL, 0, sig);
    if ((r = sn_tlog_prove_consistency(&rd, m, n, hashes, &np)) != SN_OK)
        return r;
    for (i = 0; i < 8; i++)
        proof[i] = (uint8_t)(m >> (56 - 8 * i));
    memcpy(proof + 8, hashes, np * SN_TLOG_HASH);
    return sn_keeper_sign_checkpoint(app->keeper, msg, len, proof,
                                     8 + np * SN_TLOG_HASH, sig);
}

/* The transparency log: entries on or off, and checkpoints signed by the
 * log key on the service token (generated there the first time). */
static sn_err
log_start(struct sn_app *app, char *errbuf, size_t errlen)
{
    uint8_t pub[32], notice[32];
    uint64_t cas;
    sn_err r;

    sn_store_log_enable(app->store, app->cfg.log_enabled);
    if ((r = sn_keeper_pubkeys(app->keeper, pub, notice, &cas, NULL)) !=
            SN_OK ||
        (r = sn_tlog_vkey_format(app->cfg.log_origin, pub, &app->log_vkey)) !=
            SN_OK ||
        (r = sn_store_log_checkpoints(app->store, app->cfg.log_origin, pub,
                                      log_sign, app)) != SN_OK)
        snprintf(errbuf, errlen,
                 "cannot start the transparency log (its Ed25519 key on the "
                 "service token): %s",
                 sn_err_str(r));
    return r;
}

/*
 * A node changed a table (several nodes over one database): what this
 * node keeps of it beside the store's own caches goes too. OCSP answers
 * are made anew after a certificate was issued or revoked on another
 * node, the TSA follows another node's rotation, a policy is read again.
 * The store's listening thread.
 */
static void
changed_elsewhere(void *arg, const char *table)
{
    struct sn_app *app = arg;
    int all = strcmp(table, "*") == 0;

    if (all || strcmp(table, "certificates") == 0) {
        sn_ca_ocsp_forget(&app->ca);
        (void)sn_tsa_follow(&app->tsa); /* a rotation elsewhere */
    }
    if (all || strcmp(table, "signing_policies") == 0 ||
        strcmp(table, "keys") == 0 || strcmp(table, "subscribers") == 0)
        sn_keyrules_forget(app->keyrules);
}

sn_err
sn_app_open(const char *home, struct sn_app *app, char *errbuf, size_t errlen)
{
    char keyid[9];
    sn_err r;

    char sock[PATH_MAX];

    if ((r = app_config(home, app, errbuf, errlen)) != SN_OK)
        return r;
    /* The HSM is the keeper's: this process holds no module, no PIN. */
    sn_keeper_socket_path(app->cfg.home, sock, sizeof(sock));
    if ((r = sn_keeper_new(sock, &app->keeper)) != SN_OK) {
        snprintf(errbuf, errlen, "the keeper's socket path is too long");
        return r;
    }
    sn_keeper_set_opener(app->keeper, keeper_opener, app);
    sn_ca_keys_keeper(app->keeper, &app->keys);
    if ((r = sn_store_open_at(app->cfg.database, app->cfg.home, &app->store)) !=
        SN_OK) {
        /* a server's URI may hold a password */
        if (strncmp(app->cfg.database, "postgres", 8) == 0)
            snprintf(errbuf, errlen, "cannot open the PostgreSQL database");
        else
            snprintf(errbuf, errlen, "cannot open database %s",
                     app->cfg.database);
        return r;
    }
    sn_store_set_limits(
        app->store, &(struct sn_store_limits){app->cfg.storage_min_free,
                                              app->cfg.storage_min_free_auto,
                                              app->cfg.tsa_record_retention});
    if ((r = sn_ca_load(&app->ca, &app->keys, app->cfg.home,
                        app->cfg.ca_base_url, app->cfg.att_roots,
                        app->cfg.natt_roots)) != SN_OK) {
        snprintf(errbuf, errlen,
                 "cannot load the CA keys and certificates "
                 "(HOME/ca): %s",
                 sn_err_str(r));
        return r;
    }
    /* The configuration checked the arc. */
    if ((r = sn_oids_init(&app->ca.oids, app->cfg.oid_arc)) != SN_OK) {
        snprintf(errbuf, errlen, "bad oid.arc");
        return r;
    }
    app->ca.crl_reissue = app->cfg.ca_crl_reissue;
    if ((r = log_start(app, errbuf, errlen)) != SN_OK)
        return r;
    if ((r = sn_notices_key(app->keeper, &app->notice_key, keyid)) != SN_OK) {
        snprintf(errbuf, errlen,
                 "cannot make the reports' notice key (Ed25519, on the "
                 "service token): %s",
                 sn_err_str(r));
        return r;
    }
    if ((r = tsa_load(app)) != SN_OK) {
        snprintf(errbuf, errlen, "cannot load the TSA: %s", sn_err_str(r));
        return r;
    }
    if ((r = sn_keyrules_new(app->cfg.require_strong_auth, &app->keyrules)) !=
        SN_OK) {
        snprintf(errbuf, errlen, "signing policies: %s", sn_err_str(r));
        return r;
    }
    if ((r = sn_oidc_new(app->store,
                         &(struct sn_oidc_opts){app->cfg.oidc_max_token_age,
                                                app->cfg.oidc_refresh_interval,
                                                app->cfg.oidc_fetch_timeout},
                         &app->oidc)) != SN_OK) {
        snprintf(errbuf, errlen, "cannot start OIDC: %s", sn_err_str(r));
        return r;
    }
    sn_store_watch(app->store, changed_elsewhere, app);
    return SN_OK;
}

void
sn_app_close(struct sn_app *app)
{
    if (app->store != NULL)
        sn_store_watch(app->store, NULL, NULL);
    sn_keyrules_free(app->keyrules);
    sn_oidc_free(app->oidc);
    sn_tsa_cleanup(&app->tsa);
    sn_ca_cleanup(&app->ca);
    /* The store (its writer signs checkpoints) before the token. */
    sn_store_close(app->store);
    app->store = NULL;
    free(app->log_vkey);
    app->log_vkey = NULL;
    free(app->notice_key);
    app->notice_key = NULL;
    sn_keeper_free(app->keeper);
    sn_hsm_token_close(app->service);
    sn_hsm_close(app->hsm);
    sn_config_cleanup(&app->cfg);
    sn_metrics_cleanup(&app->metrics);
    memset(app, 0, sizeof(*app));
}

/*
 * Several nodes over one database (sn_store_shared): a subscriber token's
 * PIN is kept in the database, sealed in the keeper by the service
 * token's key for that subscriber id; it opens only there. Otherwise (or
 * with hsm.pins_in_files = true) the keeper keeps it in HOME/hsm/pins.
 */
sn_err
sn_app_partition_create(struct sn_app *app, struct sn_subscriber *sub)
{
    char label[65];
    uint8_t *sealed = NULL;
    size_t slen = 0;
    sn_err r;

    if ((r = sn_keeper_token_create(app->keeper, sub->id, sub->name, label,
                                    &sealed, &slen)) != SN_OK)
        return r;
    if (sealed != NULL)
        r = sn_store_pin_put(app->store, sub->id, sealed, slen);
    free(sealed);
    if (r != SN_OK)
        return r;
    if (strlen(label) >= sizeof(sub->token_label))
        return SN_ERR_INVALID;
    memcpy(sub->token_label, label, strlen(label) + 1);
    return SN_OK;
}

/* sn_keeper_opener: what the keeper needs to open a subscriber's token
 * (its name, for mapped tokens; its sealed PIN, if the database has one). */
static sn_err
keeper_opener(void *arg, const char *subscriber, char name[129],
              uint8_t **sealed, size_t *slen)
{
    struct sn_app *app = arg;
    struct sn_subscriber sub;
    sn_err r;

    *sealed = NULL;
    *slen = 0;
    if ((r = sn_store_subscriber_get(app->store, subscriber, &sub)) != SN_OK)
        return r;
    snprintf(name, 129, "%s", sub.name);
    r = sn_store_pin_get(app->store, subscriber, sealed, slen);
    return r == SN_ERR_NOT_FOUND ? SN_OK : r;
}

static sn_err
part_create(void *arg, struct sn_subscriber *sub)
{
    return sn_app_partition_create(arg, sub);
}

void
sn_app_deps(struct sn_app *app, struct sn_deps *out)
{
    memset(out, 0, sizeof(*out));
    out->store = app->store;
    out->keeper = app->keeper;
    out->parts.create = part_create;
    out->parts.arg = app;
    out->metrics = &app->metrics;
    out->ca = &app->ca;
    out->tsa = &app->tsa;
    out->modules.v = app->cfg.certified;
    out->modules.n = app->cfg.ncertified;
    out->modules.allow_uncertified = app->cfg.allow_uncertified;
    out->quota.keys = app->cfg.quota_keys;
    out->quota.certs_per_day = app->cfg.quota_certs_per_day;
    out->quota.key_generations = app->cfg.quota_key_generations;
    out->upload_roots = app->cfg.upload_roots;
    out->nupload_roots = app->cfg.nupload_roots;
    out->token_lifetime = (time_t)app->cfg.token_lifetime_days * 86400;
    out->keyrules = app->keyrules;
    out->oidc = app->oidc;
    out->log_vkey = app->log_vkey;
    out->notice_key = app->notice_key;
    out->people.operator_mfa = app->cfg.operator_mfa;
    out->people.session_lifetime = app->cfg.session_lifetime;
    out->people.session_idle = app->cfg.session_idle;
}

void
sn_app_http_opts(const struct sn_app *app, struct sn_http_opts *out)
{
    memset(out, 0, sizeof(*out));
    out->tls_cert = app->cfg.tls_cert;
    out->tls_key = app->cfg.tls_key;
    out->json_limit = app->cfg.json_limit;
    out->file_limit = app->cfg.file_limit;
    out->threads = app->cfg.threads;
    out->event_threads = app->cfg.event_threads;
    out->hsm_parallelism = app->cfg.hsm_parallelism;
    out->header_timeout = app->cfg.header_timeout;
    out->idle_timeout = app->cfg.idle_timeout;
    out->body_timeout = app->cfg.body_timeout;
    out->stream_min_rate = app->cfg.stream_min_rate;
    out->stream_grace = app->cfg.stream_grace;
    out->connections = app->cfg.connections;
    out->connections_per_address = app->cfg.connections_per_address;
    out->anon_rate = app->cfg.anon_rate;
    out->anon_burst = app->cfg.anon_burst;
    out->anon_signatures = app->cfg.anon_signatures;
    out->report_per_hour = app->cfg.report_per_hour;
    out->report_burst = app->cfg.report_burst;
    out->proxy_v2 = app->cfg.proxy_v2;
    out->proxy_trusted = app->cfg.proxy_trusted;
    out->nproxy_trusted = app->cfg.nproxy_trusted;
}
