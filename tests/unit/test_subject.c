/*
 * test_subject: displayable-text rules (common/text) and the identity and
 * subject rules of the CA (crypto/subject). The ISO 3166-1 table is judged
 * against tzdata's iso3166.tab, an independent copy of the same list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/objects.h>
#include <openssl/x509.h>

#include "common/text.h"
#include "crypto/subject.h"

#define ISO3166_TAB "/usr/share/zoneinfo/iso3166.tab"

static void
test_text(void **state)
{
    static const struct {
        const char *s;
        enum sn_text_fault want;
    } cases[] = {
        {"Acme Corp", SN_TEXT_OK},
        {"M\xc3\xbcnchen", SN_TEXT_OK},           /* ü */
        {"\xe6\x9d\xb1\xe4\xba\xac", SN_TEXT_OK}, /* 東京 */
        {"Acme\xe2\x80\xae"
         "proC",
         SN_TEXT_INVISIBLE},                      /* U+202E RLO */
        {"Ac\xe2\x80\x8bme", SN_TEXT_INVISIBLE},  /* U+200B ZWSP */
        {"Acme\xe2\x81\xa6x", SN_TEXT_INVISIBLE}, /* U+2066 LRI */
        {"\xef\xbb\xbf"
         "Acme",
         SN_TEXT_INVISIBLE},                         /* U+FEFF BOM */
        {"Acme\xc2\xad", SN_TEXT_INVISIBLE},         /* soft hyphen */
        {"Acme\xf3\xa0\x80\x81", SN_TEXT_INVISIBLE}, /* U+E0001 tag */
        {"Acme\tCorp", SN_TEXT_CONTROL},
        {"Acme\x7f", SN_TEXT_CONTROL},
        {"Acme\xc2\x85", SN_TEXT_CONTROL},          /* NEL */
        {"Acme\xe2\x80\xa8", SN_TEXT_CONTROL},      /* U+2028 */
        {"Acme\xee\x80\x80", SN_TEXT_PRIVATE},      /* U+E000 */
        {"Acme\xef\xbf\xbe", SN_TEXT_PRIVATE},      /* U+FFFE */
        {"Acme\xef\xb7\x90", SN_TEXT_PRIVATE},      /* U+FDD0 */
        {"Acme\xc0\xaf", SN_TEXT_BAD_UTF8},         /* overlong */
        {"Acme\xed\xa0\x80", SN_TEXT_BAD_UTF8},     /* surrogate */
        {"Acme\xf4\x90\x80\x80", SN_TEXT_BAD_UTF8}, /* > U+10FFFF */
        {"Acme\xe2\x80", SN_TEXT_BAD_UTF8},         /* truncated */
        {"", SN_TEXT_EMPTY},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum sn_text_fault got =
            sn_text_check(cases[i].s, strlen(cases[i].s), 64, 0);
        if (got != cases[i].want)
            fail_msg("case %zu: got %d want %d", i, got, cases[i].want);
    }
    /* Spacing: only strict mode looks at it. */
    assert_int_equal(sn_text_check(" Acme", 5, 64, 1), SN_TEXT_SPACING);
    assert_int_equal(sn_text_check("Acme ", 5, 64, 1), SN_TEXT_SPACING);
    assert_int_equal(sn_text_check("Acme  Corp", 10, 64, 1), SN_TEXT_SPACING);
    assert_int_equal(sn_text_check("Acme\xc2\xa0"
                                   "Corp",
                                   10, 64, 1),
                     SN_TEXT_SPACING);
    assert_int_equal(sn_text_check("Acme  Corp", 10, 64, 0), SN_TEXT_OK);
    assert_int_equal(sn_text_check("Acme Corp", 9, 64, 1), SN_TEXT_OK);
    /* Length counts code points, not bytes. */
    assert_int_equal(sn_text_check("\xc3\xbc\xc3\xbc\xc3\xbc", 6, 3, 1),
                     SN_TEXT_OK);
    assert_int_equal(sn_text_check("\xc3\xbc\xc3\xbc\xc3\xbc", 6, 2, 1),
                     SN_TEXT_TOO_LONG);
    /* An embedded NUL is a control character. */
    assert_int_equal(sn_text_check("Ac\0me", 5, 64, 0), SN_TEXT_CONTROL);
}

static void
test_countries(void **state)
{
    FILE *f = fopen(ISO3166_TAB, "r");
    char line[256], cc[3], why[200];
    int n = 0;
    static const char *const refused[] = {"ZZ", "XX",  "AA", "QM", "QZ",
                                          "XK", "UK",  "EU", "AN", "de",
                                          "D",  "DEU", "D1", NULL};
    size_t i;

    (void)state;
    if (f == NULL)
        skip(); /* tzdata is part of every Debian system; not here */
    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[0] == '#' || strlen(line) < 3)
            continue;
        memcpy(cc, line, 2);
        cc[2] = '\0';
        if (sn_id_value_check(SN_ID_C, cc, why, sizeof(why)) != SN_OK ||
            sn_id_value_check(SN_ID_JURISDICTION_C, cc, why, sizeof(why)) !=
                SN_OK)
            fail_msg("tzdata's %s refused: %s", cc, why);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 249);
    for (i = 0; refused[i] != NULL; i++)
        if (sn_id_value_check(SN_ID_C, refused[i], why, sizeof(why)) == SN_OK)
            fail_msg("%s accepted as a country", refused[i]);
}

static void
test_values(void **state)
{
    static const struct {
        enum sn_id_field f;
        const char *v;
        int ok;
    } cases[] = {
        {SN_ID_O, "Acme Software Inc.", 1},
        {SN_ID_O, "-", 0},
        {SN_ID_O, ".", 0},
        {SN_ID_O, " ", 0},
        {SN_ID_O, "- . -", 0},
        {SN_ID_O, "N/A", 0},
        {SN_ID_O, "n.a.", 0},
        {SN_ID_O, "None", 0},
        {SN_ID_O, "NULL", 0},
        {SN_ID_O, "unknown", 0},
        {SN_ID_O, "Not Applicable", 0},
        {SN_ID_O, "\xe2\x80\x94", 0}, /* em dash only */
        {SN_ID_O, "\xe6\x9d\xb1\xe4\xba\xac", 1},
        {SN_ID_O,
         "Acme \xe2\x80\xae"
         "Corp",
         0},
        {SN_ID_O, "Acme  Corp", 0},
        {SN_ID_ST, "Berlin", 1},
        {SN_ID_L, "?", 0},
        {SN_ID_SERIAL_NUMBER, "HRB 12345", 1},
        {SN_ID_SERIAL_NUMBER, "HRB_12345", 0}, /* '_' not PrintableString */
        {SN_ID_SERIAL_NUMBER, "HRB\xc3\xbc", 0},
        {SN_ID_BUSINESS_CATEGORY, "Private Organization", 1},
        {SN_ID_BUSINESS_CATEGORY, "Government Entity", 1},
        {SN_ID_BUSINESS_CATEGORY, "Business Entity", 1},
        {SN_ID_BUSINESS_CATEGORY, "Non-Commercial Entity", 1},
        {SN_ID_BUSINESS_CATEGORY, "private organization", 0},
        {SN_ID_BUSINESS_CATEGORY, "V1.0, Clause 5.(b)", 0},
        {SN_ID_C, "DE", 1},
        {SN_ID_C, "NA", 1}, /* Namibia, not a filler */
        {SN_ID_C, "ZZ", 0},
    };
    char why[200];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int ok = sn_id_value_check(cases[i].f, cases[i].v, why, sizeof(why)) ==
                 SN_OK;
        if (ok != cases[i].ok)
            fail_msg("case %zu (%s): got %d", i, sn_id_field_name(cases[i].f),
                     ok);
        /* The message never quotes the value (long enough to tell). */
        if (!ok && strlen(cases[i].v) >= 4)
            assert_null(strstr(why, cases[i].v));
    }
}

static void
test_identity(void **state)
{
    struct sn_identity id;
    enum sn_id_field f;
    char why[200];

    (void)state;
    memset(&id, 0, sizeof(id));
    id.v[SN_ID_O] = "Acme Corp";
    id.v[SN_ID_C] = "DE";
    assert_int_not_equal(sn_identity_check(&id, 0, &f, why, sizeof(why)),
                         SN_OK);
    assert_int_equal(f, SN_ID_L);
    id.v[SN_ID_L] = "Berlin";
    assert_int_equal(sn_identity_check(&id, 0, &f, why, sizeof(why)), SN_OK);
    assert_int_not_equal(sn_identity_check(&id, 1, &f, why, sizeof(why)),
                         SN_OK);
    assert_int_equal(f, SN_ID_BUSINESS_CATEGORY);
    id.v[SN_ID_BUSINESS_CATEGORY] = "Private Organization";
    id.v[SN_ID_JURISDICTION_C] = "DE";
    id.v[SN_ID_SERIAL_NUMBER] = "HRB 12345";
    assert_int_equal(sn_identity_check(&id, 1, &f, why, sizeof(why)), SN_OK);
    id.v[SN_ID_ASSUMED_NAME] = "Acme Corp";
    assert_int_not_equal(sn_identity_check(&id, 1, &f, why, sizeof(why)),
                         SN_OK);
    assert_int_equal(f, SN_ID_ASSUMED_NAME);
    id.v[SN_ID_ASSUMED_NAME] = NULL;
    id.v[SN_ID_JURISDICTION_C] = NULL;
    id.v[SN_ID_JURISDICTION_ST] = "Bayern";
    assert_int_not_equal(sn_identity_check(&id, 0, &f, why, sizeof(why)),
                         SN_OK);
    assert_int_equal(f, SN_ID_JURISDICTION_ST);
}

/* A request subject from (nid, string type, value) triples; set > 0 adds
 * the attribute to the previous RDN (multi-valued). */
struct attr {
    int nid, type;
    const char *v;
    int set;
};

static X509_NAME *
req_name(const struct attr *a, size_t n)
{
    X509_NAME *name = X509_NAME_new();
    size_t i;

    assert_non_null(name);
    for (i = 0; i < n; i++)
        assert_int_equal(X509_NAME_add_entry_by_NID(
                             name, a[i].nid, a[i].type,
                             (const unsigned char *)a[i].v, (int)strlen(a[i].v),
                             -1, a[i].set ? -1 : 0),
                         1);
    return name;
}

static char *
oneline(const X509_NAME *n)
{
    static char buf[512];
    int i;
    size_t o = 0;

    buf[0] = '\0';
    for (i = 0; i < X509_NAME_entry_count(n); i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
        const ASN1_STRING *d = X509_NAME_ENTRY_get_data(e);
        o += (size_t)snprintf(
            buf + o, sizeof(buf) - o, "/%s:%s=%.*s",
            OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e))),
            ASN1_STRING_type(d) == V_ASN1_PRINTABLESTRING ? "P" : "U",
            ASN1_STRING_length(d), (const char *)ASN1_STRING_get0_data(d));
        assert_int_equal(X509_NAME_ENTRY_set(e), i); /* one per RDN */
    }
    return buf;
}

static void
test_subject(void **state)
{
    struct sn_identity id;
    X509_NAME *req, *out = NULL;
    char why[300];
    const struct attr plain[] = {
        {NID_commonName, V_ASN1_UTF8STRING, "Acme Corp", 0}};
    const struct attr dba[] = {
        {NID_countryName, V_ASN1_PRINTABLESTRING, "DE", 0},
        {NID_organizationName, V_ASN1_PRINTABLESTRING, "Acme Corp", 0},
        {NID_streetAddress, V_ASN1_UTF8STRING, "Hauptstr. 1", 0},
        {NID_commonName, V_ASN1_UTF8STRING, "Acme Tools", 0}};
    static const struct {
        struct attr a[2];
        size_t n;
        const char *why;
    } bad[] = {
        {{{NID_commonName, V_ASN1_UTF8STRING, "Microsoft Corporation", 0}},
         1,
         "neither"},
        {{{NID_commonName, V_ASN1_UTF8STRING, "ACME Corp", 0}}, 1, "neither"},
        {{{NID_commonName, V_ASN1_UTF8STRING, "Acme  Corp", 0}}, 1, "neither"},
        {{{NID_commonName, V_ASN1_UTF8STRING, "Acme Corp ", 0}}, 1, "neither"},
        {{{NID_countryName, V_ASN1_UTF8STRING, "DE", 0}}, 1, "UTF8String"},
        {{{NID_organizationName, V_ASN1_BMPSTRING, "\0A\0c", 0}},
         1,
         "BMPString"},
        {{{NID_organizationName, V_ASN1_UTF8STRING, "Evil Corp", 0}},
         1,
         "does not match"},
        {{{NID_stateOrProvinceName, V_ASN1_UTF8STRING, "Bayern", 0}},
         1,
         "not in the"},
        {{{NID_countryName, V_ASN1_PRINTABLESTRING, "DE", 0},
          {NID_organizationName, V_ASN1_UTF8STRING, "Acme Corp", 1}},
         2,
         "multi-valued"},
        {{{NID_domainComponent, V_ASN1_IA5STRING, "com", 0}},
         1,
         "domainComponent"},
        {{{NID_pkcs9_emailAddress, V_ASN1_IA5STRING, "a@b.c", 0}},
         1,
         "not part of"},
        {{{NID_commonName, V_ASN1_UTF8STRING, "Acme Corp", 0},
          {NID_commonName, V_ASN1_UTF8STRING, "Acme Tools", 0}},
         2,
         "one CN"},
        {{{NID_commonName, V_ASN1_UTF8STRING,
           "Acme\xe2\x80\xae"
           "Corp",
           0}},
         1,
         "invisible"},
    };
    size_t i;

    (void)state;
    memset(&id, 0, sizeof(id));
    id.v[SN_ID_O] = "Acme Corp";
    id.v[SN_ID_C] = "DE";
    id.v[SN_ID_L] = "Berlin";
    id.v[SN_ID_STREET] = "Hauptstr. 1";
    id.v[SN_ID_SERIAL_NUMBER] = "HRB 12345";
    id.v[SN_ID_BUSINESS_CATEGORY] = "Private Organization";
    id.v[SN_ID_JURISDICTION_C] = "DE";
    id.v[SN_ID_ASSUMED_NAME] = "Acme Tools";

    /* An empty request: the required fields, CN = O, canonical types. */
    req = X509_NAME_new();
    assert_int_equal(sn_subject_build(&id, 0, req, &out, why, sizeof(why)),
                     SN_OK);
    assert_string_equal(oneline(out), "/C:P=DE/L:U=Berlin/O:U=Acme Corp"
                                      "/CN:U=Acme Corp");
    X509_NAME_free(out);
    X509_NAME_free(req);

    req = req_name(plain, 1);
    assert_int_equal(sn_subject_build(&id, 1, req, &out, why, sizeof(why)),
                     SN_OK);
    assert_string_equal(oneline(out),
                        "/businessCategory:U=Private Organization"
                        "/jurisdictionC:P=DE/serialNumber:P=HRB 12345"
                        "/C:P=DE/L:U=Berlin/O:U=Acme Corp/CN:U=Acme Corp");
    X509_NAME_free(out);
    X509_NAME_free(req);

    /* The recorded assumed name as CN; street only because it was asked
     * for; the request's PrintableString O is written as UTF8String. */
    req = req_name(dba, 4);
    assert_int_equal(sn_subject_build(&id, 0, req, &out, why, sizeof(why)),
                     SN_OK);
    assert_string_equal(oneline(out), "/C:P=DE/L:U=Berlin/street:U=Hauptstr. 1"
                                      "/O:U=Acme Corp/CN:U=Acme Tools");
    X509_NAME_free(out);
    X509_NAME_free(req);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        req = req_name(bad[i].a, bad[i].n);
        out = NULL;
        if (sn_subject_build(&id, 0, req, &out, why, sizeof(why)) == SN_OK)
            fail_msg("bad case %zu accepted", i);
        assert_null(out);
        if (strstr(why, bad[i].why) == NULL)
            fail_msg("bad case %zu: \"%s\" lacks \"%s\"", i, why, bad[i].why);
        X509_NAME_free(req);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text),    cmocka_unit_test(test_countries),
        cmocka_unit_test(test_values),  cmocka_unit_test(test_identity),
        cmocka_unit_test(test_subject),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
