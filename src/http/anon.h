/*
 * anon: the admission of anonymous work (time-stamps and OCSP, which
 * anyone may ask for): a token bucket per client address (refusals are
 * 429) and one ceiling on the HSM signatures that work makes per second,
 * whichever listener it came by (refusals are 503). Client addresses come
 * from the OS; the responses it weighs are our own handlers'.
 * Thread-safe.
 */
#ifndef SN_ANON_H
#define SN_ANON_H

#include <time.h>

#include "common/err.h"
#include "http/api.h"

struct sn_anon;

/* rate and burst per address, signatures per second in all (> 0). */
sn_err sn_anon_new(double rate, double burst, double signatures,
                   struct sn_anon **out);
void sn_anon_free(struct sn_anon *a);
/* 1 if client may send one more request; 0 and the whole seconds to wait
 * (at least 1) if not. */
int sn_anon_admit(struct sn_anon *a, const char *client, unsigned *retry);
/* Before the request is queued: 1 if the ceiling allows one more
 * signature (the token is then the request's until sn_anon_settle). */
int sn_anon_sign_take(struct sn_anon *a, unsigned *retry);
/*
 * After the handler, with the token taken: gives it back if resp cost no
 * signature (a refusal, a time-stamp request that was rejected, or an
 * OCSP answer made before started: the responder's cache).
 */
void sn_anon_settle(struct sn_anon *a, const struct sn_resp *resp, int tsa,
                    time_t started);
/*
 * issue 18: anonymous reports (routes a caller may use without a
 * credential) have a stricter bucket per address of their own: per_hour
 * reports an hour, burst at once (both > 0). Set once, before serving;
 * until then every report is admitted. sn_anon_report_admit answers as
 * sn_anon_admit.
 */
sn_err sn_anon_reports_limit(struct sn_anon *a, double per_hour, double burst);
int sn_anon_report_admit(struct sn_anon *a, const char *client,
                         unsigned *retry);

#endif
