/*
 * home: creating a new signetd home: configuration, SoftHSM2 store with
 * the service token, TLS material, database and the first admin token.
 */
#ifndef SN_HOME_H
#define SN_HOME_H

#include "common/err.h"

/*
 * Refuses an existing home (one that holds signetd.conf). oid_arc: the
 * operator's arc for Signet's private OIDs (written as oid.arc), or NULL
 * for the default UUID arc.
 */
sn_err sn_home_init(const char *home, const char *module, const char *oid_arc);

#endif
