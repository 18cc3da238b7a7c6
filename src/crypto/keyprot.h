/*
 * keyprot: the Signet key-protection extension of code signing
 * certificates (non-critical, OID ARC.2.1; specified in
 * docs/attestation.md). It states what the module holding the subscriber's
 * key reported about itself and whether the operator lists that module as
 * certified; it claims nothing the module did not report:
 *
 *   SignetKeyProtection ::= SEQUENCE {
 *     version        INTEGER (1),
 *     holder         UTF8String,    -- "signing-service"
 *     module         SEQUENCE {
 *       manufacturer UTF8String,    -- CK_TOKEN_INFO.manufacturerID
 *       model        UTF8String,    -- CK_TOKEN_INFO.model
 *       serial       UTF8String },  -- CK_TOKEN_INFO.serialNumber
 *     certification  SEQUENCE {
 *       listed       BOOLEAN,       -- on hsm.certified_modules
 *       certificate  UTF8String } } -- that entry's number, "" if unlisted
 */
#ifndef SN_KEYPROT_H
#define SN_KEYPROT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/keyinfo.h"

#define SN_KEYPROT_HOLDER "signing-service"
#define SN_KEYPROT_CERT_MAX 64 /* bytes of a certificate number */

struct sn_key_protection {
    struct sn_hsm_info hsm; /* as the module reported it (label unused) */
    int listed;             /* manufacturer and model on the certified list */
    char certificate[SN_KEYPROT_CERT_MAX + 1]; /* "" unless listed */
};

/* DER of the extension value; *der is malloc'd. */
sn_err sn_keyprot_encode(const struct sn_key_protection *kp, uint8_t **der,
                         size_t *len);

#endif
