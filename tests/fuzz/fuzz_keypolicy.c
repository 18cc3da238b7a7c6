/*
 * libFuzzer driver: the signing policy parser (src/policy/keypolicy.c),
 * the body of PUT /v1/keys/{id}/policy and /v1/subscribers/{id}/policy.
 * The first byte picks the level (key or subscriber), the rest is the
 * body. A refusal must say why and leave the policy empty; an accepted
 * policy must be within its limits, its canonical JSON must parse again
 * to the same policy, and deciding with it must not crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/keypolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_accepted(const struct sn_keypolicy *kp, int key_level)
{
    struct sn_keypolicy again;
    struct sn_principal p;
    struct sn_kp_verdict v;
    char why[200], *text;
    json_t *j;
    size_t i, k;

    if (kp->ncidrs > SN_KP_MAX_CIDRS || kp->nwindows > SN_KP_MAX_WINDOWS ||
        kp->ntokens > SN_KP_MAX_IDS || kp->per_hour > SN_KP_MAX_QUOTA ||
        kp->per_day > SN_KP_MAX_QUOTA || (!key_level && kp->has_principals))
        abort();
    /* approvals: k of n, n unique, a bounded wait; a key's policy only */
    if (kp->approvals.required > SN_KP_MAX_REQUIRED ||
        kp->approvals.required > kp->approvals.napprovers ||
        kp->approvals.napprovers > SN_KP_MAX_IDS ||
        (kp->approvals.required == 0) != (kp->approvals.napprovers == 0) ||
        (kp->approvals.required > 0 &&
         (kp->approvals.expires_in < SN_KP_APPROVAL_TTL_MIN ||
          kp->approvals.expires_in > SN_KP_APPROVAL_TTL_MAX)) ||
        (!key_level && kp->approvals.required > 0))
        abort();
    for (i = 0; i < kp->approvals.napprovers; i++)
        for (k = 0; k < i; k++)
            if (strcmp(kp->approvals.approvers[i],
                       kp->approvals.approvers[k]) == 0)
                abort();
    for (i = 0; i < kp->nwindows; i++)
        if (kp->windows[i].from >= kp->windows[i].to ||
            kp->windows[i].to > 1440 || kp->windows[i].days == 0)
            abort();
    if ((j = sn_keypolicy_json(kp)) == NULL ||
        (text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
        abort();
    if (sn_keypolicy_parse_text(text, strlen(text), key_level, &again, why,
                                sizeof(why)) != SN_OK ||
        memcmp(kp, &again, sizeof(again)) != 0)
        abort();
    free(text);
    json_decref(j);
    memset(&p, 0, sizeof(p));
    sn_keypolicy_decide(kp, 1, &p, "10.1.2.3", 1796639400, &v);
    sn_keypolicy_decide(kp, 0, &p, "::ffff:127.0.0.1", 1796639400, &v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct sn_keypolicy zero = {.strong = -1};
    struct sn_keypolicy kp;
    char why[200];
    int key_level;

    if (size < 1)
        return 0;
    key_level = data[0] & 1;
    if (sn_keypolicy_parse_text((const char *)data + 1, size - 1, key_level,
                                &kp, why, sizeof(why)) != SN_OK) {
        if (why[0] == '\0' || memcmp(&kp, &zero, sizeof(kp)) != 0)
            abort();
        return 0;
    }
    check_accepted(&kp, key_level);
    return 0;
}
