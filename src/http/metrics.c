/* metrics: in-memory counters rendered as Prometheus text (trusted). */
#include "http/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bounds[SN_METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

void
sn_metrics_init(struct sn_metrics *m)
{
    memset(m, 0, sizeof(*m)); /* all-zero is a valid zero for the atomics */
    pthread_mutex_init(&m->lock, NULL);
}

void
sn_metrics_cleanup(struct sn_metrics *m)
{
    pthread_mutex_destroy(&m->lock);
}

/* The series of (route, status) among the first n, or NULL. */
static struct sn_metrics_series *
find_series(struct sn_metrics *m, size_t n, const char *route, int status)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (m->req[i].route == route && m->req[i].status == status)
            return &m->req[i];
    return NULL;
}

void
sn_metrics_request(struct sn_metrics *m, const char *route, int status)
{
    struct sn_metrics_series *s;
    size_t n;

    n = atomic_load_explicit(&m->nreq, memory_order_acquire);
    if ((s = find_series(m, n, route, status)) == NULL) {
        pthread_mutex_lock(&m->lock);
        n = atomic_load_explicit(&m->nreq, memory_order_relaxed);
        if ((s = find_series(m, n, route, status)) == NULL &&
            n < SN_METRICS_MAX_SERIES) {
            s = &m->req[n];
            s->route = route;
            s->status = status;
            atomic_init(&s->count, 0);
            atomic_store_explicit(&m->nreq, n + 1, memory_order_release);
        }
        pthread_mutex_unlock(&m->lock);
    }
    if (s != NULL)
        atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
}

void
sn_metrics_signature(struct sn_metrics *m, enum sn_keyalg alg, double seconds)
{
    int i;

    if ((unsigned)alg < SN_KEY_COUNT)
        atomic_fetch_add_explicit(&m->sigs[alg], 1, memory_order_relaxed);
    for (i = 0; i < SN_METRICS_BUCKETS; i++) {
        if (seconds <= bounds[i]) {
            atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&m->lat_count, 1, memory_order_relaxed);
    /* The sum in whole nanoseconds; a clock gone backwards or absurdly far
     * forward adds nothing to it (the signature is still counted). */
    if (seconds > 0 && seconds < 1e6)
        atomic_fetch_add_explicit(&m->lat_sum_ns,
                                  (uint64_t)(seconds * 1e9 + 0.5),
                                  memory_order_relaxed);
}

void
sn_metrics_tls_failure(struct sn_metrics *m)
{
    atomic_fetch_add_explicit(&m->tls_failures, 1, memory_order_relaxed);
}

struct out {
    char *buf;
    size_t len, cap;
    int failed;
};

static void emit(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
emit(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->failed)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = 1;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        char *nb = realloc(o->buf, o->cap * 2 + (size_t)n);
        if (nb == NULL) {
            o->failed = 1;
            return;
        }
        o->buf = nb;
        o->cap = o->cap * 2 + (size_t)n;
    }
}

void
sn_metrics_reports(struct sn_metrics *m, uint64_t open, uint64_t ack,
                   uint64_t revocation, uint64_t ca_informed)
{
    atomic_store(&m->reports[0], open);
    atomic_store(&m->reports[1], ack);
    atomic_store(&m->reports[2], revocation);
    atomic_store(&m->reports[3], ca_informed);
}

int
sn_metrics_render(struct sn_metrics *m, char **out, size_t *len)
{
    struct out o = {NULL, 0, 4096, 0};
    uint64_t cum = 0, count;
    size_t i, nreq;

    *out = NULL;
    *len = 0;
    if ((o.buf = malloc(o.cap)) == NULL)
        return -1;
    nreq = atomic_load_explicit(&m->nreq, memory_order_acquire);
    emit(&o, "# HELP signet_http_requests_total HTTP requests by route and "
             "status.\n# TYPE signet_http_requests_total counter\n");
    for (i = 0; i < nreq; i++)
        emit(&o,
             "signet_http_requests_total{route=\"%s\",status=\"%d\"} "
             "%llu\n",
             m->req[i].route, m->req[i].status,
             (unsigned long long)atomic_load(&m->req[i].count));
    emit(&o, "# HELP signet_signatures_total Signatures made, by key "
             "algorithm.\n# TYPE signet_signatures_total counter\n");
    for (i = 0; i < SN_KEY_COUNT; i++)
        emit(&o, "signet_signatures_total{algorithm=\"%s\"} %llu\n",
             sn_keyalg_name((enum sn_keyalg)i),
             (unsigned long long)atomic_load(&m->sigs[i]));
    emit(&o, "# HELP signet_sign_duration_seconds Time spent in the HSM "
             "per signature.\n# TYPE signet_sign_duration_seconds "
             "histogram\n");
    /* Read without a lock, the buckets and the count may be a few
     * signatures apart: +Inf and _count are the larger of the count and
     * the buckets' sum, so the histogram stays cumulative and monotonic. */
    count = atomic_load(&m->lat_count);
    for (i = 0; i < SN_METRICS_BUCKETS; i++) {
        cum += atomic_load(&m->buckets[i]);
        emit(&o, "signet_sign_duration_seconds_bucket{le=\"%g\"} %llu\n",
             bounds[i], (unsigned long long)cum);
    }
    if (count < cum)
        count = cum;
    emit(&o, "signet_sign_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
         (unsigned long long)count);
    emit(&o, "signet_sign_duration_seconds_sum %.6f\n",
         (double)atomic_load(&m->lat_sum_ns) / 1e9);
    emit(&o, "signet_sign_duration_seconds_count %llu\n",
         (unsigned long long)count);
    emit(&o, "# HELP signet_tls_handshake_failures_total TLS handshakes "
             "that failed (a client that does not trust the certificate, "
             "shares no TLS version or cipher, or does not speak TLS).\n"
             "# TYPE signet_tls_handshake_failures_total counter\n");
    emit(&o, "signet_tls_handshake_failures_total{listener=\"api\"} %llu\n",
         (unsigned long long)atomic_load(&m->tls_failures));
    emit(&o,
         "# HELP signet_reports_open Reports of Suspect Code or key "
         "compromise not yet decided, or confirmed with a CA not yet "
         "informed.\n# TYPE signet_reports_open gauge\n"
         "signet_reports_open %llu\n",
         (unsigned long long)atomic_load(&m->reports[0]));
    emit(&o, "# HELP signet_reports_overdue Reports past a 24-hour deadline "
             "not met: acknowledgement (CSBR 4.9.5), revocation (4.9.1.1), "
             "the CA informed (9.6.5).\n"
             "# TYPE signet_reports_overdue gauge\n");
    emit(&o, "signet_reports_overdue{deadline=\"acknowledgement\"} %llu\n",
         (unsigned long long)atomic_load(&m->reports[1]));
    emit(&o, "signet_reports_overdue{deadline=\"revocation\"} %llu\n",
         (unsigned long long)atomic_load(&m->reports[2]));
    emit(&o, "signet_reports_overdue{deadline=\"ca_informed\"} %llu\n",
         (unsigned long long)atomic_load(&m->reports[3]));
    if (o.failed) {
        free(o.buf);
        return -1;
    }
    *out = o.buf;
    *len = o.len;
    return 0;
}
