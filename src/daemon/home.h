/*
 * home: creating a new signetd home: configuration, SoftHSM2 store with
 * the service token, TLS material, database and the first admin token;
 * the home of the offline root ceremony (docs/ceremony.md); and signetd
 * check's list of what a new operator gets wrong. The arguments are the
 * operator's (trusted) but checked before anything is created.
 */
#ifndef SN_HOME_H
#define SN_HOME_H

#include <stddef.h>

#include "common/err.h"
#include "daemon/config.h"

enum sn_home_ca {
    SN_HOME_CA_TEST,    /* all-in-one test hierarchy, root key online */
    SN_HOME_CA_REQUEST, /* issuing CA keys + requests into dir; no conf */
    SN_HOME_CA_FROM     /* completes a REQUEST home with the ceremony's dir */
};

/*
 * Where a new home listens and what its certificates name: signetd init
 * --listen, --public-listen and --public-url. NULL members: the defaults
 * (127.0.0.1:8443, 127.0.0.1:8080, http://PUBLIC_LISTEN).
 */
struct sn_home_net {
    const char *listen;        /* API (HTTPS) listener: listen */
    const char *public_listen; /* plain HTTP: public.listen, or "off" */
    const char *base_url;      /* ca.base_url, frozen into certificates */
};

/*
 * Refuses an existing home (one that holds signetd.conf), and, before
 * anything is created, bad listeners or a bad base URL (http only, a host
 * clients can reach, no query). oid_arc: the operator's arc for Signet's
 * private OIDs (written as oid.arc), or NULL for the default UUID arc.
 */
sn_err sn_home_init(const char *home, const char *module, enum sn_home_ca mode,
                    const char *dir, const struct sn_home_net *net,
                    const char *oid_arc);

/*
 * 1, with why, if base_url cannot be what clients reach public_listen at:
 * a loopback URL for a listener on another address or the reverse, or
 * another port (fine behind a proxy, which the warning says).
 */
int sn_home_net_mismatch(const char *base_url, const char *public_listen,
                         char *why, size_t whylen);

/*
 * signetd check's findings about the home cfg was loaded from: listeners
 * that cannot bind, a base URL clients cannot reach, loose file modes, the
 * default OID arc, a software HSM, test certificates. Each is printed as
 * a "signetd: warning:" or "signetd: error:" line naming the setting;
 * *errors and *warnings count them.
 */
void sn_home_check(const struct sn_config *cfg, unsigned *errors,
                   unsigned *warnings);

/*
 * signetd ca ceremony: the root's home (its own SoftHSM2 store and token
 * signet-root, made on first use) certifies the requests in dir
 * (sn_ca_ceremony). Never a service home.
 */
/*
 * signetd admin-token (issue 17): a new bootstrap admin token (30 days)
 * replaces HOME/admin.token, and the one it held is revoked (*revoked
 * says whether there was one to revoke). A running
 * signetd may keep accepting the old one until it restarts (its token
 * cache); disable it through the API to end it at once.
 */
sn_err sn_home_admin_token(const char *home, const char *db, int *revoked);
/* signetd migrate: the home's signetd.conf names store.url = url in place
 * of its database (kept 0600; the url may hold a password). */
sn_err sn_home_set_store(const char *home, const char *url);

sn_err sn_home_ceremony(const char *home, const char *module, const char *dir,
                        const char *base_url);

#endif
