/*
 * metrics: Prometheus counters kept in memory: requests by route and
 * status, signatures by key algorithm, a signing latency histogram and
 * failed TLS handshakes.
 * Counting takes no lock (relaxed atomic adds): every request and every
 * signature counts, and none may wait on another for it. The lock only
 * serialises adding a new route/status series.
 */
#ifndef SN_METRICS_H
#define SN_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/keyalg.h"

#define SN_METRICS_MAX_SERIES 256
#define SN_METRICS_BUCKETS 12

struct sn_metrics_series {
    const char *route; /* static string from the route table */
    int status;
    _Atomic uint64_t count;
};

struct sn_metrics {
    pthread_mutex_t lock; /* adding a series */
    struct sn_metrics_series req[SN_METRICS_MAX_SERIES];
    _Atomic size_t nreq; /* series published so far (release/acquire) */
    _Atomic uint64_t sigs[SN_KEY_COUNT];
    _Atomic uint64_t buckets[SN_METRICS_BUCKETS]; /* cumulative on output */
    _Atomic uint64_t lat_count;
    _Atomic uint64_t lat_sum_ns;
    _Atomic uint64_t tls_failures; /* the API listener's */
    /* issue 18: reports open, and overdue by deadline (acknowledgement,
     * revocation, CA informed), as the reports' sweeper last counted */
    _Atomic uint64_t reports[4];
};

void sn_metrics_init(struct sn_metrics *m);
void sn_metrics_cleanup(struct sn_metrics *m);
void sn_metrics_request(struct sn_metrics *m, const char *route, int status);
void sn_metrics_signature(struct sn_metrics *m, enum sn_keyalg alg,
                          double seconds);
/* A TLS handshake on the API listener failed (see server.c). */
void sn_metrics_tls_failure(struct sn_metrics *m);
/* issue 18: the reports' counts (gauges), set by the sweeper. */
void sn_metrics_reports(struct sn_metrics *m, uint64_t open, uint64_t ack,
                        uint64_t revocation, uint64_t ca_informed);
/* Prometheus text exposition; *out is malloc'd. */
int sn_metrics_render(struct sn_metrics *m, char **out, size_t *len);

#endif
