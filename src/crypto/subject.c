/*
 * subject: identity checks and the subject the CA writes (subject.h).
 */
#include "crypto/subject.h"

#include <stdio.h>
#include <string.h>

#include <openssl/objects.h>

#include "common/text.h"

static const struct {
    const char *name;
    int nid;
    size_t max_chars; /* RFC 5280 Appendix A upper bounds */
    int printable;    /* PrintableString in certificates */
} fields[SN_ID_NFIELDS] = {
    [SN_ID_BUSINESS_CATEGORY] = {"businessCategory", NID_businessCategory, 128,
                                 0},
    [SN_ID_JURISDICTION_C] = {"jurisdictionC", NID_jurisdictionCountryName, 2,
                              1},
    [SN_ID_JURISDICTION_ST] = {"jurisdictionST",
                               NID_jurisdictionStateOrProvinceName, 128, 0},
    [SN_ID_JURISDICTION_L] = {"jurisdictionL", NID_jurisdictionLocalityName,
                              128, 0},
    [SN_ID_SERIAL_NUMBER] = {"serialNumber", NID_serialNumber, 64, 1},
    [SN_ID_C] = {"C", NID_countryName, 2, 1},
    [SN_ID_ST] = {"ST", NID_stateOrProvinceName, 128, 0},
    [SN_ID_L] = {"L", NID_localityName, 128, 0},
    [SN_ID_STREET] = {"street", NID_streetAddress, 128, 0},
    [SN_ID_POSTAL_CODE] = {"postalCode", NID_postalCode, 40, 0},
    [SN_ID_O] = {"O", NID_organizationName, 64, 0},
    [SN_ID_OU] = {"OU", NID_organizationalUnitName, 64, 0},
    [SN_ID_ASSUMED_NAME] = {"assumedName", NID_commonName, 64, 0},
};

/*
 * ISO 3166-1 alpha-2 codes assigned to countries and territories (249, as
 * of ISO/TC 46 N1108, 2023). User-assigned codes (AA, QM-QZ, XA-XZ, ZZ),
 * reserved and withdrawn ones are not here.
 */
static const char iso3166[] =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ "
    "BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ "
    "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ "
    "DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR "
    "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY "
    "HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP "
    "KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY "
    "MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ "
    "NA NC NE NF NG NI NL NO NP NR NU NZ OM "
    "PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW "
    "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ "
    "TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ "
    "VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW ";

static const char *const categories[] = {"Private Organization",
                                         "Government Entity", "Business Entity",
                                         "Non-Commercial Entity", NULL};

/* Values that say a field is absent rather than fill it (CSBR
 * 7.1.4.2.2 d), compared on their letters and digits, lowercased. */
static const char *const fillers[] = {"na",
                                      "nil",
                                      "null",
                                      "none",
                                      "unknown",
                                      "tbd",
                                      "tba",
                                      "tbc",
                                      "empty",
                                      "blank",
                                      "undefined",
                                      "void",
                                      "notapplicable",
                                      "notavailable",
                                      "unspecified",
                                      "missing",
                                      "x",
                                      "xx",
                                      "xxx",
                                      NULL};

const char *
sn_id_field_name(enum sn_id_field f)
{
    return (unsigned)f < SN_ID_NFIELDS ? fields[f].name : "?";
}

int
sn_id_field_by_name(const char *name)
{
    int i;

    for (i = 0; i < SN_ID_NFIELDS; i++)
        if (strcmp(name, fields[i].name) == 0)
            return i;
    return -1;
}

static int
country_ok(const char *v)
{
    size_t i;

    if (strlen(v) != 2 || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A' || v[1] > 'Z')
        return 0;
    for (i = 0; iso3166[i] != '\0'; i += 3)
        if (iso3166[i] == v[0] && iso3166[i + 1] == v[1])
            return 1;
    return 0;
}

static int
printable_ok(const unsigned char *v, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || strchr(" '()+,-./:=?", c) != NULL) ||
            c == '\0')
            return 0;
    }
    return 1;
}

/* Punctuation outside ASCII counts as no content either. */
static int
punct_cp(long cp)
{
    return (cp >= 0xa1 && cp <= 0xbf) || cp == 0xd7 || cp == 0xf7 ||
           (cp >= 0x2010 && cp <= 0x205e) || (cp >= 0x3000 && cp <= 0x303f) ||
           (cp >= 0xff01 && cp <= 0xff0f) || cp == 0xfe58 || cp == 0xfe63;
}

static int
placeholder(const char *v)
{
    char letters[32];
    size_t i = 0, n = 0, len = strlen(v), k;
    long cp;

    while (i < len) {
        if ((cp = sn_utf8_next(v, len, &i)) < 0)
            return 0; /* refused as text already */
        if (cp < 0x80) {
            if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9'))
                ;
            else if (cp >= 'A' && cp <= 'Z')
                cp += 'a' - 'A';
            else
                continue;
            if (n + 1 >= sizeof(letters))
                return 0; /* too long to be a filler */
            letters[n++] = (char)cp;
        } else if (!punct_cp(cp)) {
            return 0; /* a letter outside ASCII: content */
        }
    }
    letters[n] = '\0';
    if (n == 0)
        return 1;
    for (k = 0; fillers[k] != NULL; k++)
        if (strcmp(letters, fillers[k]) == 0)
            return 1;
    return 0;
}

sn_err
sn_id_value_check(enum sn_id_field f, const char *v, char *why, size_t why_len)
{
    enum sn_text_fault t;
    size_t k;

    if ((unsigned)f >= SN_ID_NFIELDS || v == NULL) {
        snprintf(why, why_len, "is not an identity field");
        return SN_ERR_INVALID;
    }
    if ((t = sn_text_check(v, strlen(v), fields[f].max_chars, 1)) !=
        SN_TEXT_OK) {
        if (t == SN_TEXT_TOO_LONG)
            snprintf(why, why_len, "is longer than %zu characters",
                     fields[f].max_chars);
        else
            snprintf(why, why_len, "%s", sn_text_fault_str(t));
        return SN_ERR_INVALID;
    }
    if (f == SN_ID_C || f == SN_ID_JURISDICTION_C) {
        if (!country_ok(v)) {
            snprintf(why, why_len,
                     "must be an assigned ISO 3166-1 alpha-2 code in capitals "
                     "(not a user-assigned one such as XX or ZZ)");
            return SN_ERR_INVALID;
        }
        return SN_OK;
    }
    if (f == SN_ID_BUSINESS_CATEGORY) {
        for (k = 0; categories[k] != NULL; k++)
            if (strcmp(v, categories[k]) == 0)
                return SN_OK;
        snprintf(why, why_len,
                 "must be \"Private Organization\", \"Government Entity\", "
                 "\"Business Entity\" or \"Non-Commercial Entity\" (CSBR "
                 "7.1.4.2.4 b)");
        return SN_ERR_INVALID;
    }
    if (fields[f].printable &&
        !printable_ok((const unsigned char *)v, strlen(v))) {
        snprintf(why, why_len,
                 "must use only PrintableString characters (A-Z a-z 0-9 "
                 "space ' ( ) + , - . / : = ?)");
        return SN_ERR_INVALID;
    }
    if (placeholder(v)) {
        snprintf(why, why_len,
                 "is a placeholder, not verified information (CSBR 7.1.4.2.2 "
                 "d)");
        return SN_ERR_INVALID;
    }
    return SN_OK;
}

sn_err
sn_identity_check(const struct sn_identity *id, int ev, enum sn_id_field *field,
                  char *why, size_t why_len)
{
    static const enum sn_id_field ev_required[] = {
        SN_ID_BUSINESS_CATEGORY, SN_ID_JURISDICTION_C, SN_ID_SERIAL_NUMBER};
    int f;
    size_t k;

    for (f = 0; f < SN_ID_NFIELDS; f++) {
        *field = (enum sn_id_field)f;
        if (id->v[f] != NULL && sn_id_value_check((enum sn_id_field)f, id->v[f],
                                                  why, why_len) != SN_OK)
            return SN_ERR_INVALID;
    }
    *field = SN_ID_O;
    if (id->v[SN_ID_O] == NULL) {
        snprintf(why, why_len, "is required (the verified legal name)");
        return SN_ERR_INVALID;
    }
    *field = SN_ID_C;
    if (id->v[SN_ID_C] == NULL) {
        snprintf(why, why_len, "is required (CSBR 7.1.4.2.3 f)");
        return SN_ERR_INVALID;
    }
    *field = SN_ID_L;
    if (id->v[SN_ID_ST] == NULL && id->v[SN_ID_L] == NULL) {
        snprintf(why, why_len, "or ST is required (CSBR 7.1.4.2.3 c, d)");
        return SN_ERR_INVALID;
    }
    for (f = SN_ID_JURISDICTION_ST; f <= SN_ID_JURISDICTION_L; f++) {
        *field = (enum sn_id_field)f;
        if (id->v[f] != NULL && id->v[SN_ID_JURISDICTION_C] == NULL) {
            snprintf(why, why_len, "needs jurisdictionC (CSBR 7.1.4.2.4 c)");
            return SN_ERR_INVALID;
        }
    }
    *field = SN_ID_ASSUMED_NAME;
    if (id->v[SN_ID_ASSUMED_NAME] != NULL &&
        strcmp(id->v[SN_ID_ASSUMED_NAME], id->v[SN_ID_O]) == 0) {
        snprintf(why, why_len, "repeats O; record it only if it differs");
        return SN_ERR_INVALID;
    }
    for (k = 0; ev && k < sizeof(ev_required) / sizeof(ev_required[0]); k++) {
        *field = ev_required[k];
        if (id->v[ev_required[k]] == NULL) {
            snprintf(why, why_len,
                     "is required by the ev-code-signing profile (CSBR "
                     "7.1.4.2.4)");
            return SN_ERR_INVALID;
        }
    }
    return SN_OK;
}

static int
field_of_nid(int nid)
{
    int f;

    for (f = 0; f < SN_ID_ASSUMED_NAME; f++)
        if (fields[f].nid == nid)
            return f;
    return -1;
}

static const char *
type_name(int type)
{
    switch (type) {
    case V_ASN1_UTF8STRING:
        return "UTF8String";
    case V_ASN1_PRINTABLESTRING:
        return "PrintableString";
    case V_ASN1_BMPSTRING:
        return "BMPString";
    case V_ASN1_T61STRING:
        return "TeletexString";
    case V_ASN1_IA5STRING:
        return "IA5String";
    case V_ASN1_UNIVERSALSTRING:
        return "UniversalString";
    default:
        return "another string type";
    }
}

/* Whether the CA writes field f: always, or only when it is asked for. */
static int
written(enum sn_id_field f, int ev, const int *asked)
{
    switch (f) {
    case SN_ID_C:
    case SN_ID_ST:
    case SN_ID_L:
    case SN_ID_O:
        return 1;
    case SN_ID_BUSINESS_CATEGORY:
    case SN_ID_JURISDICTION_C:
    case SN_ID_JURISDICTION_ST:
    case SN_ID_JURISDICTION_L:
    case SN_ID_SERIAL_NUMBER:
        return ev || asked[f];
    case SN_ID_ASSUMED_NAME:
    case SN_ID_NFIELDS:
        return 0;
    default:
        return asked[f];
    }
}

static int
add(X509_NAME *n, int nid, int printable, const char *v)
{
    return X509_NAME_add_entry_by_NID(
               n, nid, printable ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING,
               (const unsigned char *)v, (int)strlen(v), -1, 0) == 1;
}

/* An attribute's name for messages. */
static const char *
entry_label(int nid)
{
    int f;

    if (nid == NID_commonName)
        return "CN";
    if ((f = field_of_nid(nid)) >= 0)
        return fields[f].name;
    return nid != NID_undef ? OBJ_nid2sn(nid) : "(unknown attribute)";
}

/* The syntax of requested field f: its string type and characters. */
static int
entry_syntax_ok(int f, const ASN1_STRING *d, const char *label, char *why,
                size_t why_len)
{
    int type = ASN1_STRING_type(d), len = ASN1_STRING_length(d);
    const unsigned char *v = ASN1_STRING_get0_data(d);
    enum sn_text_fault t;

    if (fields[f].printable
            ? type != V_ASN1_PRINTABLESTRING
            : type != V_ASN1_UTF8STRING && type != V_ASN1_PRINTABLESTRING) {
        snprintf(why, why_len, "subject field %s is a %s; it must be %s", label,
                 type_name(type),
                 fields[f].printable ? "PrintableString"
                                     : "UTF8String or PrintableString");
        return 0;
    }
    if (type == V_ASN1_PRINTABLESTRING && !printable_ok(v, (size_t)len)) {
        snprintf(why, why_len,
                 "subject field %s has characters a PrintableString may "
                 "not hold",
                 label);
        return 0;
    }
    if ((t = sn_text_check((const char *)v, (size_t)len, 128, 0)) !=
        SN_TEXT_OK) {
        snprintf(why, why_len, "subject field %s %s", label,
                 sn_text_fault_str(t));
        return 0;
    }
    return 1;
}

static int
same(const char *want, const unsigned char *v, int len)
{
    return want != NULL && strlen(want) == (size_t)len &&
           memcmp(want, v, (size_t)len) == 0;
}

/*
 * Whether the requested value v of field f (SN_ID_ASSUMED_NAME: the CN) is
 * the verified one; a CN may be O or the assumed name, and *cn is then set
 * to it.
 */
static int
entry_value_ok(const struct sn_identity *id, int f, const ASN1_STRING *d,
               const char *label, const char **cn, char *why, size_t why_len)
{
    const unsigned char *v = ASN1_STRING_get0_data(d);
    int len = ASN1_STRING_length(d);

    if (f == SN_ID_ASSUMED_NAME) {
        if (same(id->v[SN_ID_O], v, len))
            *cn = id->v[SN_ID_O];
        else if (same(id->v[SN_ID_ASSUMED_NAME], v, len))
            *cn = id->v[SN_ID_ASSUMED_NAME];
        else {
            snprintf(why, why_len,
                     "subject CN is neither the subscriber's verified legal "
                     "name (O) nor a recorded assumed name (CSBR 7.1.4.2.2 "
                     "a)");
            return 0;
        }
        return 1;
    }
    if (id->v[f] == NULL) {
        snprintf(why, why_len,
                 "subject field %s is not in the subscriber's validated "
                 "identity",
                 label);
        return 0;
    }
    if (!same(id->v[f], v, len)) {
        snprintf(why, why_len,
                 "subject field %s does not match the subscriber's "
                 "validated identity",
                 label);
        return 0;
    }
    return 1;
}

/*
 * Checks the CSR's subject req against id: one attribute per RDN, each a
 * verified field in its type and value, one CN at most, no field twice.
 * Sets asked[f] for each field asked for and *cn to the CN's value.
 */
static int
request_ok(const struct sn_identity *id, const X509_NAME *req, int *asked,
           const char **cn, char *why, size_t why_len)
{
    int i, n = X509_NAME_entry_count(req), cns = 0, f, prev_set = -1;

    for (i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(req, i);
        const ASN1_STRING *d = X509_NAME_ENTRY_get_data(e);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        const char *label = entry_label(nid);

        if (X509_NAME_ENTRY_set(e) == prev_set) {
            snprintf(why, why_len,
                     "subject has a multi-valued RDN (%s); one attribute per "
                     "RDN",
                     label);
            return 0;
        }
        prev_set = X509_NAME_ENTRY_set(e);
        if (nid == NID_domainComponent) {
            snprintf(why, why_len,
                     "subject: domainComponent is not allowed (CSBR "
                     "7.1.4.2.2 c)");
            return 0;
        }
        f = nid == NID_commonName ? SN_ID_ASSUMED_NAME : field_of_nid(nid);
        if (f < 0) {
            snprintf(why, why_len,
                     "subject attribute %s is not part of a verified "
                     "identity",
                     label);
            return 0;
        }
        if (!entry_syntax_ok(f, d, label, why, why_len))
            return 0;
        if (nid == NID_commonName ? ++cns > 1 : asked[f]) {
            if (nid == NID_commonName)
                snprintf(why, why_len, "subject needs exactly one CN");
            else
                snprintf(why, why_len, "subject has %s twice", label);
            return 0;
        }
        if (!entry_value_ok(id, f, d, label, cn, why, why_len))
            return 0;
        if (nid != NID_commonName)
            asked[f] = 1;
    }
    return 1;
}

sn_err
sn_subject_build(const struct sn_identity *id, int ev, const X509_NAME *req,
                 X509_NAME **out, char *why, size_t why_len)
{
    int asked[SN_ID_NFIELDS] = {0}, f;
    const char *cn = id->v[SN_ID_O];
    X509_NAME *name = NULL;
    sn_err r = SN_ERR_INVALID;

    *out = NULL;
    if (!request_ok(id, req, asked, &cn, why, why_len))
        goto out;
    r = SN_ERR_CRYPTO;
    if ((name = X509_NAME_new()) == NULL)
        goto out;
    for (f = 0; f < SN_ID_NFIELDS; f++)
        if (id->v[f] != NULL && written((enum sn_id_field)f, ev, asked) &&
            !add(name, fields[f].nid, fields[f].printable, id->v[f]))
            goto out;
    if (!add(name, NID_commonName, 0, cn))
        goto out;
    *out = name;
    name = NULL;
    r = SN_OK;
out:
    if (r == SN_ERR_CRYPTO)
        snprintf(why, why_len, "the subject could not be encoded");
    X509_NAME_free(name);
    return r;
}
