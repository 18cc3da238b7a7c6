/*
 * notices: the notices confirmed reports owe to other CAs (CSBR 9.6.5,
 * issue 18, docs/reports.md). A thread of their own POSTs each one due to
 * reports.ca_webhook, signed with the service token's notice key
 * (Ed25519), until the CA answers 2xx; every attempt is recorded (on the
 * report's key and as an audit record) and the next one waits
 * reports.ca_webhook_retry seconds, doubling, at most an hour.
 */
#ifndef SN_NOTICES_H
#define SN_NOTICES_H

#include "common/err.h"
#include "http/deps.h"

struct sn_notices_opts {
    const char *url;     /* reports.ca_webhook */
    const char *ca_file; /* its TLS trust; NULL: the system's */
    unsigned retry;      /* seconds before the first retry */
};

struct sn_notices;

/* The notice key's text for deps->notice_key ("ed25519:<base64>", *out
 * malloc'd) and its id (the first 4 bytes of SHA-256 of the key, hex),
 * as the keeper holds it. */
sn_err sn_notices_key(struct sn_keeper *keeper, char **out, char keyid[9]);
/* Starts the thread; deps, service and the options' strings outlive it. */
sn_err sn_notices_start(const struct sn_deps *deps, struct sn_keeper *keeper,
                        const struct sn_notices_opts *o,
                        struct sn_notices **out);
/* Stops it after the attempt in progress; n may be NULL. */
void sn_notices_stop(struct sn_notices *n);

#endif
