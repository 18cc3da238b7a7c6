/*
 * subject: the subscriber identity the RA records, and the certificate
 * subject the CA writes from it (CSBR 7.1.4.2). The identity is checked
 * when it is recorded and again when it is used; the subject of a
 * certificate is never copied from a request: the request may only choose
 * among verified values, and the CA encodes them itself (fixed attribute
 * order, one attribute per RDN, PrintableString for C, jurisdictionC and
 * serialNumber, UTF8String for the rest).
 */
#ifndef SN_SUBJECT_H
#define SN_SUBJECT_H

#include <stddef.h>

#include <openssl/x509.h>

#include "common/err.h"

/* In the order the CA writes them (most general first, CN last). */
enum sn_id_field {
    SN_ID_BUSINESS_CATEGORY,
    SN_ID_JURISDICTION_C,
    SN_ID_JURISDICTION_ST,
    SN_ID_JURISDICTION_L,
    SN_ID_SERIAL_NUMBER,
    SN_ID_C,
    SN_ID_ST,
    SN_ID_L,
    SN_ID_STREET,
    SN_ID_POSTAL_CODE,
    SN_ID_O,
    SN_ID_OU,
    SN_ID_ASSUMED_NAME, /* a DBA the RA verified; may be the CN, not an
                           attribute of its own */
    SN_ID_NFIELDS
};

/* Borrowed values; NULL = not recorded. */
struct sn_identity {
    const char *v[SN_ID_NFIELDS];
};

/* The field's name in the API ("O", "jurisdictionC", "assumedName"). */
const char *sn_id_field_name(enum sn_id_field f);
/* The field named name, or -1. */
int sn_id_field_by_name(const char *name);

/*
 * Checks one value for field f: displayable text without spacing tricks,
 * not a placeholder ("-", "N/A", "none"...), an assigned ISO 3166-1
 * alpha-2 code for C and jurisdictionC, PrintableString characters for
 * serialNumber, one of the four CSBR categories for businessCategory.
 * On failure why says what is wrong (it never quotes the value).
 */
sn_err sn_id_value_check(enum sn_id_field f, const char *v, char *why,
                         size_t why_len);

/*
 * Checks a whole identity: every value, then the combinations (O, C and ST
 * or L present; jurisdictionST/L only with jurisdictionC; an assumed name
 * that differs from O). ev also requires businessCategory, jurisdictionC
 * and serialNumber (CSBR 7.1.4.2.4). On failure *field names the field.
 */
sn_err sn_identity_check(const struct sn_identity *id, int ev,
                         enum sn_id_field *field, char *why, size_t why_len);

/*
 * Writes the subject of a code signing certificate for identity id
 * (already checked with sn_identity_check for the same ev) as requested
 * by req, a CSR's subject. req may be empty; each attribute it has must be
 * single-valued, of the canonical string type, and equal byte for byte to
 * a verified value; its CN (at most one) must be the legal name O or the
 * recorded assumed name, and selects the CN (default: O). The subject
 * holds CN, O, C, the recorded ST and L, the EV fields for ev, and
 * street, postalCode and OU when req asks for them.
 */
sn_err sn_subject_build(const struct sn_identity *id, int ev,
                        const X509_NAME *req, X509_NAME **out, char *why,
                        size_t why_len);

#endif
