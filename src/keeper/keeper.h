/*
 * keeper: the process that alone loads the PKCS#11 module, holds the
 * PINs, the HSM sessions and the secrets sealed by HSM keys, and signs
 * only what it has checked itself (docs/ipc.md). Front ends speak to it
 * through the keeper protocol (ipc/proto.h) on a UNIX socket; nothing it
 * answers is a key or a PIN.
 */
#ifndef SN_KEEPER_H
#define SN_KEEPER_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/x509.h>

#include "common/err.h"

#define SN_KEEPER_CAS 5 /* enum sn_ca_kind's values (pki/ca.h) */

/* A subscriber name mapped to a pre-provisioned token. */
struct sn_keeper_map {
    const char *name, *label, *pin_file;
};

struct sn_keeper_conf {
    const char *home;
    const char *module;
    const char *service_label, *service_pin_file;
    int mapped; /* tokens: mapped by subscriber name, else one created each */
    const struct sn_keeper_map *map;
    size_t nmap;
    int pins_sealed;          /* new subscribers' PINs sealed, not in files */
    const char *oid_arc;      /* attestation extension's arc */
    const char *tsa_policies; /* accepted TSTInfo policies, comma-separated */
    unsigned tsa_window;      /* seconds a TSTInfo's genTime may be off */
    const char *log_origin;
    const char *socket_path;
    uid_t peer_uid; /* the front end's: the only one let in */
    /* the CAs' certificates, read before any front end ran (NULL: read
     * HOME/ca/<name>.pem at start) */
    X509 *ca_certs[SN_KEEPER_CAS];
};

/* A PIN file's PIN (sn_secret_free it): one line, at most 256 bytes, its
 * line end dropped; SN_ERR_CONFIG if empty. */
sn_err sn_keeper_read_pin(const char *path, char **out);

/*
 * Opens the module and tokens, binds socket_path (0600, the front end's),
 * writes one byte to ready_fd (then closes it) and serves until SIGTERM.
 * Returns only on a failure to start.
 */
sn_err sn_keeper_serve(const struct sn_keeper_conf *conf, int ready_fd);

#endif
