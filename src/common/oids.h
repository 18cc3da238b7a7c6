/*
 * oids: Signet's private object identifiers, built at run time under one
 * arc. The arc is the operator's (an IANA Private Enterprise Number arc,
 * 1.3.6.1.4.1.N, set as oid.arc in signetd.conf); the built-in default is
 * a UUID arc (2.25.x, ITU-T X.667) that needs no registration but whose
 * 128-bit component older parsers refuse (Go before 1.22, golang/go#60665;
 * pyca/cryptography 38 and older). Arc strings come from the operator's
 * configuration or command line and are checked here.
 */
#ifndef SN_OIDS_H
#define SN_OIDS_H

#include "common/err.h"

#define SN_OID_DEFAULT_ARC "2.25.119564763254642916656305459667247640959"
/* The IANA documentation PEN (RFC 5612): examples and tests only. */
#define SN_OID_EXAMPLE_ARC "1.3.6.1.4.1.32473"
#define SN_OID_ID_AA_ATTESTATION "1.2.840.113549.1.9.16.2.59"
/* CA/Browser Forum test certificate policy. */
#define SN_OID_CABF_TEST "2.23.140.2.1"

#define SN_OID_ARC_MAX 64 /* bytes of an arc */
#define SN_OID_MAX (SN_OID_ARC_MAX + 8)

struct sn_oids {
    char arc[SN_OID_ARC_MAX + 1];
    char key_attestation[SN_OID_MAX];  /* arc.1.1: attestation extension */
    char attestation_stmt[SN_OID_MAX]; /* arc.1.2: AttestationStatement.type */
    char key_protection[SN_OID_MAX];   /* arc.2.1: key-protection extension */
    char ca_policy[SN_OID_MAX];        /* arc.3.1: Signet CA policy */
};

/*
 * Checks an arc: dotted decimal, at least two components, no leading
 * zeros, the first 0..2, the second below 40 under 0 and 1, every
 * component below 2^31, at most SN_OID_ARC_MAX bytes. The default arc is
 * accepted too, though its UUID component is far larger.
 */
sn_err sn_oid_arc_check(const char *arc);

/* Fills *o for arc (NULL: the default arc). */
sn_err sn_oids_init(struct sn_oids *o, const char *arc);

/* Whether o (or an arc string) is the built-in default UUID arc. */
int sn_oids_is_default(const struct sn_oids *o);
int sn_oid_arc_is_default(const char *arc);

#endif
