/*
 * home: creating a new signetd home: configuration, SoftHSM2 store with
 * the service token, TLS material, database and the first admin token;
 * and the home of the offline root ceremony (docs/ceremony.md).
 */
#ifndef SN_HOME_H
#define SN_HOME_H

#include "common/err.h"

enum sn_home_ca {
    SN_HOME_CA_TEST,    /* all-in-one test hierarchy, root key online */
    SN_HOME_CA_REQUEST, /* issuing CA keys + requests into dir; no conf */
    SN_HOME_CA_FROM     /* completes a REQUEST home with the ceremony's dir */
};

/*
 * Refuses an existing home (one that holds signetd.conf). base_url (NULL:
 * the default) is written into certificates and ca.base_url. oid_arc: the
 * operator's arc for Signet's private OIDs (written as oid.arc), or NULL
 * for the default UUID arc.
 */
sn_err sn_home_init(const char *home, const char *module, enum sn_home_ca mode,
                    const char *dir, const char *base_url, const char *oid_arc);

/*
 * signetd ca ceremony: the root's home (its own SoftHSM2 store and token
 * signet-root, made on first use) certifies the requests in dir
 * (sn_ca_ceremony). Never a service home.
 */
sn_err sn_home_ceremony(const char *home, const char *module, const char *dir,
                        const char *base_url);

#endif
