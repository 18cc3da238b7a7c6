/*
 * oids: checking an arc and deriving Signet's private OIDs from it. The
 * arc is the operator's (trusted for intent) but is checked strictly: it
 * ends up in every certificate the service issues.
 */
#include "common/oids.h"

#include <stdio.h>
#include <string.h>

#define MAX_COMPONENT 0x7fffffffUL /* 31 bits: what every parser accepts */

int
sn_oid_arc_is_default(const char *arc)
{
    return arc == NULL || strcmp(arc, SN_OID_DEFAULT_ARC) == 0;
}

int
sn_oids_is_default(const struct sn_oids *o)
{
    return sn_oid_arc_is_default(o->arc);
}

sn_err
sn_oid_arc_check(const char *arc)
{
    size_t n, i, comps = 0, digits = 0;
    unsigned long v = 0, first = 0;

    if (arc == NULL)
        return SN_ERR_INVALID;
    if (sn_oid_arc_is_default(arc))
        return SN_OK;
    n = strlen(arc);
    if (n == 0 || n > SN_OID_ARC_MAX)
        return SN_ERR_INVALID;
    for (i = 0; i <= n; i++) {
        char c = arc[i];

        if (c >= '0' && c <= '9') {
            /* No leading zeros: "01" names no arc. */
            if (digits == 1 && v == 0)
                return SN_ERR_INVALID;
            v = v * 10 + (unsigned long)(c - '0');
            if (v > MAX_COMPONENT)
                return SN_ERR_INVALID;
            digits++;
            continue;
        }
        if ((c != '.' && c != '\0') || digits == 0)
            return SN_ERR_INVALID;
        if (comps == 0) {
            if (v > 2)
                return SN_ERR_INVALID;
            first = v;
        } else if (comps == 1 && first < 2 && v >= 40)
            return SN_ERR_INVALID;
        comps++;
        digits = 0;
        v = 0;
    }
    return comps >= 2 ? SN_OK : SN_ERR_INVALID;
}

sn_err
sn_oids_init(struct sn_oids *o, const char *arc)
{
    sn_err r;

    memset(o, 0, sizeof(*o));
    if (arc == NULL)
        arc = SN_OID_DEFAULT_ARC;
    if ((r = sn_oid_arc_check(arc)) != SN_OK)
        return r;
    /* The sizes hold any arc that passed the check. */
    snprintf(o->arc, sizeof(o->arc), "%s", arc);
    snprintf(o->key_attestation, sizeof(o->key_attestation), "%s.1.1", arc);
    snprintf(o->attestation_stmt, sizeof(o->attestation_stmt), "%s.1.2", arc);
    snprintf(o->key_protection, sizeof(o->key_protection), "%s.2.1", arc);
    snprintf(o->ca_policy, sizeof(o->ca_policy), "%s.3.1", arc);
    return SN_OK;
}
