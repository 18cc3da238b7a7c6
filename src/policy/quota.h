/*
 * quota: signatures per key per clock hour and per UTC day, counted in
 * memory under one mutex so that the check and the count are one step:
 * with N requests racing for the last M signatures exactly M win. A key's
 * counts are seeded once per process from the audit log (what was signed
 * earlier this hour and day, before a restart); from then on every
 * signature of the key passes through here. Inputs are trusted (key ids
 * from the store, limits from a parsed policy).
 */
#ifndef SN_QUOTA_H
#define SN_QUOTA_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "policy/keypolicy.h"

struct sn_quota;

/* At most max keys are counted (0: a default of one million). */
sn_err sn_quota_new(size_t max, struct sn_quota **out);
void sn_quota_free(struct sn_quota *q);

/* 1 if key's counts were seeded in this process. */
int sn_quota_seeded(struct sn_quota *q, const char *key);
/*
 * Seeds key's counts for the hour and day of now (a no-op if another
 * thread seeded it first): signed_hour since the hour began, signed_day
 * since the UTC day began.
 */
void sn_quota_seed(struct sn_quota *q, const char *key, time_t now,
                   uint64_t signed_hour, uint64_t signed_day);

/*
 * Takes n signatures of key at now within per_hour and per_day (0: no
 * limit): SN_KP_ALLOWED and counted, or the rule that refused (nothing
 * counted; *retry_after is the seconds until that window ends). A key
 * not seeded yet counts from zero.
 */
enum sn_kp_rule sn_quota_take(struct sn_quota *q, const char *key,
                              uint64_t per_hour, uint64_t per_day, uint64_t n,
                              time_t now, unsigned *retry_after);
/* Gives back n signatures taken at when and never made (a failed HSM
 * call); a window that has ended since keeps nothing to give back. */
void sn_quota_give(struct sn_quota *q, const char *key, uint64_t n,
                   time_t when);

/* The hour and the UTC day that t falls in, as their first second. */
time_t sn_quota_hour_start(time_t t);
time_t sn_quota_day_start(time_t t);

#endif
