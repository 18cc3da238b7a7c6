/*
 * anon: per-address limits and the signature ceiling for anonymous work
 * (see anon.h). Client addresses come from the OS, or from a trusted load
 * balancer's PROXY header (proxy.protocol); the OCSP answers read here are
 * our own responder's.
 */
#include "http/anon.h"

#include <pthread.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "http/ratelimit.h"

/* Addresses tracked at once; an address past this takes over the slot of
 * one that has been quiet (ratelimit.h). */
#define ADDRESS_SLOTS 16384

struct sn_anon {
    pthread_mutex_t lock;
    struct sn_ratelimit *per_address;
    struct sn_bucket signatures;
    struct sn_ratelimit *reports; /* issue 18: NULL until set */
};

static double
monotonic(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned
whole_seconds(double wait)
{
    unsigned s;

    if (!(wait < 3600))
        return 3600;
    s = (unsigned)wait;
    s += (double)s < wait;
    return s < 1 ? 1 : s;
}

sn_err
sn_anon_new(double rate, double burst, double signatures, struct sn_anon **out)
{
    struct sn_anon *a;
    sn_err r;

    *out = NULL;
    if (!(signatures > 0))
        return SN_ERR_INVALID;
    if ((a = calloc(1, sizeof(*a))) == NULL)
        return SN_ERR_NOMEM;
    if ((r = sn_ratelimit_new(rate, burst, ADDRESS_SLOTS, &a->per_address)) !=
        SN_OK) {
        free(a);
        return r;
    }
    /* One second's worth at once, no more. */
    sn_bucket_init(&a->signatures, signatures, signatures, monotonic());
    pthread_mutex_init(&a->lock, NULL);
    *out = a;
    return SN_OK;
}

void
sn_anon_free(struct sn_anon *a)
{
    if (a == NULL)
        return;
    sn_ratelimit_free(a->per_address);
    sn_ratelimit_free(a->reports);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

int
sn_anon_admit(struct sn_anon *a, const char *client, unsigned *retry)
{
    double wait;
    int ok;

    pthread_mutex_lock(&a->lock);
    ok = sn_ratelimit_take(a->per_address, client, monotonic(), &wait);
    pthread_mutex_unlock(&a->lock);
    *retry = ok ? 0 : whole_seconds(wait);
    return ok;
}

int
sn_anon_sign_take(struct sn_anon *a, unsigned *retry)
{
    double wait;
    int ok;

    pthread_mutex_lock(&a->lock);
    ok = sn_bucket_take(&a->signatures, monotonic(), &wait);
    pthread_mutex_unlock(&a->lock);
    *retry = ok ? 0 : whole_seconds(wait);
    return ok;
}

/* 1 if der is a signed OCSP answer produced at or after started. */
static int
ocsp_fresh(const uint8_t *der, size_t len, time_t started)
{
    const unsigned char *p = der;
    OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
    OCSP_BASICRESP *basic = NULL;
    const ASN1_GENERALIZEDTIME *produced;
    int fresh = 0;

    if (resp == NULL ||
        OCSP_response_status(resp) != OCSP_RESPONSE_STATUS_SUCCESSFUL ||
        (basic = OCSP_response_get1_basic(resp)) == NULL ||
        (produced = OCSP_resp_get0_produced_at(basic)) == NULL)
        goto out;
    /* Whole seconds: an answer cached in the second it was made counts. */
    fresh = ASN1_TIME_cmp_time_t(produced, started) >= 0;
out:
    ERR_clear_error();
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(resp);
    return fresh;
}

void
sn_anon_settle(struct sn_anon *a, const struct sn_resp *resp, int tsa,
               time_t started)
{
    int signed_one;

    if (resp->code != API_OK || resp->raw == NULL)
        signed_one = 0;
    else if (tsa)
        signed_one = resp->tsa != NULL;
    else
        signed_one = ocsp_fresh(resp->raw, resp->raw_len, started);
    if (signed_one)
        return;
    pthread_mutex_lock(&a->lock);
    sn_bucket_give(&a->signatures);
    pthread_mutex_unlock(&a->lock);
}

sn_err
sn_anon_reports_limit(struct sn_anon *a, double per_hour, double burst)
{
    struct sn_ratelimit *rl = NULL;
    sn_err r;

    if (!(per_hour > 0) || !(burst >= 1))
        return SN_ERR_INVALID;
    /* Fewer addresses tracked: an address past them takes a quiet one's
     * slot, and reports are rare. */
    if ((r = sn_ratelimit_new(per_hour / 3600, burst, ADDRESS_SLOTS / 4,
                              &rl)) != SN_OK)
        return r;
    pthread_mutex_lock(&a->lock);
    sn_ratelimit_free(a->reports);
    a->reports = rl;
    pthread_mutex_unlock(&a->lock);
    return SN_OK;
}

int
sn_anon_report_admit(struct sn_anon *a, const char *client, unsigned *retry)
{
    double wait = 0;
    int ok;

    pthread_mutex_lock(&a->lock);
    ok = a->reports == NULL ||
         sn_ratelimit_take(a->reports, client, monotonic(), &wait);
    pthread_mutex_unlock(&a->lock);
    *retry = ok ? 0 : whole_seconds(wait);
    return ok;
}
