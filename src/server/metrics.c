/* metrics: in-memory counters rendered as Prometheus text (trusted). */
#include "server/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bounds[SN_METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

void
sn_metrics_init(struct sn_metrics *m)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
}

void
sn_metrics_cleanup(struct sn_metrics *m)
{
    pthread_mutex_destroy(&m->lock);
}

void
sn_metrics_request(struct sn_metrics *m, const char *route, int status)
{
    size_t i;

    pthread_mutex_lock(&m->lock);
    for (i = 0; i < m->nreq; i++) {
        if (m->req[i].route == route && m->req[i].status == status) {
            m->req[i].count++;
            goto out;
        }
    }
    if (m->nreq < SN_METRICS_MAX_SERIES) {
        m->req[m->nreq].route = route;
        m->req[m->nreq].status = status;
        m->req[m->nreq].count = 1;
        m->nreq++;
    }
out:
    pthread_mutex_unlock(&m->lock);
}

void
sn_metrics_signature(struct sn_metrics *m, enum sn_keyalg alg, double seconds)
{
    int i;

    pthread_mutex_lock(&m->lock);
    if ((unsigned)alg < SN_KEY_COUNT)
        m->sigs[alg]++;
    for (i = 0; i < SN_METRICS_BUCKETS; i++) {
        if (seconds <= bounds[i]) {
            m->buckets[i]++;
            break;
        }
    }
    m->lat_count++;
    m->lat_sum += seconds;
    pthread_mutex_unlock(&m->lock);
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

int
sn_metrics_render(struct sn_metrics *m, char **out, size_t *len)
{
    struct out o = {NULL, 0, 4096, 0};
    uint64_t cum = 0;
    size_t i;

    *out = NULL;
    *len = 0;
    if ((o.buf = malloc(o.cap)) == NULL)
        return -1;
    pthread_mutex_lock(&m->lock);
    emit(&o, "# HELP signet_http_requests_total HTTP requests by route and "
             "status.\n# TYPE signet_http_requests_total counter\n");
    for (i = 0; i < m->nreq; i++)
        emit(&o,
             "signet_http_requests_total{route=\"%s\",status=\"%d\"} "
             "%llu\n",
             m->req[i].route, m->req[i].status,
             (unsigned long long)m->req[i].count);
    emit(&o, "# HELP signet_signatures_total Signatures made, by key "
             "algorithm.\n# TYPE signet_signatures_total counter\n");
    for (i = 0; i < SN_KEY_COUNT; i++)
        emit(&o, "signet_signatures_total{algorithm=\"%s\"} %llu\n",
             sn_keyalg_name((enum sn_keyalg)i), (unsigned long long)m->sigs[i]);
    emit(&o, "# HELP signet_sign_duration_seconds Time spent in the HSM "
             "per signature.\n# TYPE signet_sign_duration_seconds "
             "histogram\n");
    for (i = 0; i < SN_METRICS_BUCKETS; i++) {
        cum += m->buckets[i];
        emit(&o, "signet_sign_duration_seconds_bucket{le=\"%g\"} %llu\n",
             bounds[i], (unsigned long long)cum);
    }
    emit(&o, "signet_sign_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
         (unsigned long long)m->lat_count);
    emit(&o, "signet_sign_duration_seconds_sum %.6f\n", m->lat_sum);
    emit(&o, "signet_sign_duration_seconds_count %llu\n",
         (unsigned long long)m->lat_count);
    pthread_mutex_unlock(&m->lock);
    if (o.failed) {
        free(o.buf);
        return -1;
    }
    *out = o.buf;
    *len = o.len;
    return 0;
}
