/*
 * checks: the keeper's checks of what a front end asks its CA and TSA keys
 * to sign (checks.h). Every byte handed in is untrusted: it comes from the
 * network-facing process, which must be assumed compromised. Each object
 * is parsed once, in strict DER, checked field by field against the
 * profile of the key and the keeper's clock, and then signed as parsed.
 * After signing, the signature is verified with the certificate's public
 * key: a faulty signature (an HSM fault, a key that is not the
 * certificate's) never leaves.
 */
#include "keeper/checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/ocsp.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "common/util.h"

#include "crypto/x509util.h"

#define DAY 86400L
/* notBefore, lastUpdate, thisUpdate, producedAt: made now, give or take
 * the two processes' clocks. */
#define NOW_SLACK DAY
#define CS_MAX_SECS (460L * DAY)       /* CSBR 6.3.2, counted inclusively */
#define CRL_MAX_SECS (10L * DAY)       /* CSBR 4.9.7: nextUpdate */
#define ROOT_CRL_MAX_SECS (365L * DAY) /* CSBR 4.9.7: a CA certificate CRL */
#define OCSP_MAX_SECS (10L * DAY)      /* CSBR 4.9.10 */
#define TSA_KEY_MONTHS 15              /* CSBR 6.3.2: after notBefore */

/* The bounds of docs/ipc.md's SIGN_* messages. */
#define CERT_DER_MAX 65536
#define CRL_DER_MAX ((8u << 20) - 64)
#define OCSP_DER_MAX 65536
#define TST_DER_MAX 16384
#define TS_DATA_MAX 65536

#define EXTS_MAX 32         /* extensions of one certificate */
#define OCSP_SINGLES_MAX 16 /* as many CertIDs as a request may hold */
#define NONCE_MIN 1         /* octets, RFC 8954 */
#define NONCE_MAX 32
#define SERIAL_MIN_BITS 64  /* CSBR 7.1: 64 random bits; Signet draws 127 */
#define SERIAL_MAX_BITS 159 /* RFC 5280 4.1.2.2: 20 octets, positive */
#define OID_TEXT_MAX 128

/* ---- common ---- */

static void
begin(uint8_t **out, size_t *outlen, char *why, size_t whylen)
{
    *out = NULL;
    *outlen = 0;
    if (why != NULL && whylen > 0)
        why[0] = '\0';
}

static sn_err
fail(char *why, size_t whylen, sn_err code, const char *reason)
{
    if (why != NULL && whylen > 0)
        snprintf(why, whylen, "%s", reason);
    return code;
}

/* n bytes of OpenSSL's encoding at der into malloc'd *out. */
static sn_err
emit(const unsigned char *der, int n, uint8_t **out, size_t *outlen)
{
    if (der == NULL || n <= 0)
        return SN_ERR_CRYPTO;
    if ((*out = malloc((size_t)n)) == NULL)
        return SN_ERR_NOMEM;
    memcpy(*out, der, (size_t)n);
    *outlen = (size_t)n;
    return SN_OK;
}

static int
time_of(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    *out = timegm(&tm);
    return 1;
}

static int
near(time_t t, time_t now, long slack)
{
    return (long long)t >= (long long)now - slack &&
           (long long)t <= (long long)now + slack;
}

/* A positive INTEGER of min_bits..SERIAL_MAX_BITS bits. */
static int
serial_ok(const ASN1_INTEGER *s, int min_bits)
{
    BIGNUM *bn;
    int bits;

    if (s == NULL || ASN1_STRING_type(s) != V_ASN1_INTEGER ||
        (bn = ASN1_INTEGER_to_BN(s, NULL)) == NULL)
        return 0;
    bits = BN_num_bits(bn);
    BN_free(bn);
    return bits >= min_bits && bits >= 1 && bits <= SERIAL_MAX_BITS;
}

/*
 * The authorityKeyIdentifier of an object ca issues: present once (crit
 * as X509_get_ext_d2i gives it), not critical (RFC 5280 4.2.1.1), the
 * CA's subjectKeyIdentifier and nothing else.
 */
static const char *
aki_check(const AUTHORITY_KEYID *akid, int crit, X509 *ca)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);

    if (akid == NULL)
        return crit == -1 ? "no authorityKeyIdentifier"
                          : "authorityKeyIdentifier malformed or repeated";
    if (crit != 0)
        return "authorityKeyIdentifier is critical";
    if (akid->keyid == NULL || ski == NULL ||
        ASN1_OCTET_STRING_cmp(akid->keyid, ski) != 0)
        return "authorityKeyIdentifier is not this CA's key";
    if (akid->issuer != NULL || akid->serial != NULL)
        return "authorityKeyIdentifier names an issuer certificate";
    return NULL;
}

static int
ca_held(const struct sn_kc_ca *ca)
{
    return ca != NULL && ca->cert != NULL && ca->key != NULL && ca->md != NULL;
}

/* ---- certificates ---- */

/* One certificate, strict DER; X509 keeps its encoding, so this is
 * chiefly "nothing after it". */
static X509 *
cert_parse(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    unsigned char *re = NULL;
    X509 *x = NULL;
    int n = -1;

    if (der == NULL || len == 0 || len > CERT_DER_MAX)
        return NULL;
    if ((x = d2i_X509(NULL, &p, (long)len)) != NULL)
        n = i2d_X509(x, &re);
    if (x != NULL && !sn_der_exact(der, len, p, re, n)) {
        X509_free(x);
        x = NULL;
    }
    OPENSSL_free(re);
    return x;
}

static const char *
cert_names(const struct sn_kc_ca *ca, X509 *x)
{
    const X509_NAME *subject = X509_get_subject_name(x);

    if (X509_get_version(x) != X509_VERSION_3)
        return "not an X.509 v3 certificate";
    if (!serial_ok(X509_get0_serialNumber(x), SERIAL_MIN_BITS))
        return "serial number not positive, or under 64 or over 159 bits";
    if (X509_NAME_cmp(X509_get_issuer_name(x),
                      X509_get_subject_name(ca->cert)) != 0)
        return "issuer is not this CA";
    if (X509_NAME_entry_count(subject) == 0 ||
        X509_NAME_cmp(subject, X509_get_subject_name(ca->cert)) == 0)
        return "subject is empty or the CA's own";
    return NULL;
}

/* Each extension once (RFC 5280 4.2), at most EXTS_MAX of them. */
static const char *
cert_ext_list(X509 *x)
{
    int i, n = X509_get_ext_count(x);

    if (n > EXTS_MAX)
        return "too many extensions";
    for (i = 0; i < n; i++)
        if (X509_get_ext_by_OBJ(
                x, X509_EXTENSION_get_object(X509_get_ext(x, i)), i) != -1)
            return "an extension is repeated";
    return NULL;
}

static const char *
cert_exts(const struct sn_kc_ca *ca, X509 *x)
{
    AUTHORITY_KEYID *akid;
    const char *bad;
    uint32_t flags;
    int crit;

    if ((bad = cert_ext_list(x)) != NULL)
        return bad;
    flags = X509_get_extension_flags(x);
    if (flags & EXFLAG_INVALID)
        return "an extension is malformed";
    if (flags & EXFLAG_CRITICAL)
        return "an unknown extension is critical";
    if (flags & EXFLAG_CA)
        return "a CA certificate (basicConstraints cA TRUE)";
    if ((flags & EXFLAG_KUSAGE) &&
        (X509_get_key_usage(x) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)))
        return "keyUsage allows keyCertSign or cRLSign";
    akid = X509_get_ext_d2i(x, NID_authority_key_identifier, &crit, NULL);
    bad = aki_check(akid, crit, ca->cert);
    AUTHORITY_KEYID_free(akid);
    return bad;
}

/* CSBR 6.1.5: RSA of 3072 bits or more, ECDSA on P-256, P-384 or P-521;
 * Signet's key algorithms are a subset. And never the CA's own key. */
static const char *
cert_key(const struct sn_kc_ca *ca, X509 *x)
{
    EVP_PKEY *k = X509_get0_pubkey(x);
    char group[32];
    size_t glen = 0;

    if (k == NULL)
        return "public key unreadable";
    if (EVP_PKEY_eq(k, X509_get0_pubkey(ca->cert)) == 1)
        return "the public key is the CA's own";
    if (EVP_PKEY_is_a(k, "RSA"))
        return EVP_PKEY_get_bits(k) >= 3072 ? NULL : "RSA key under 3072 bits";
    if (EVP_PKEY_is_a(k, "EC") &&
        EVP_PKEY_get_group_name(k, group, sizeof(group), &glen) == 1 &&
        (strcmp(group, "prime256v1") == 0 || strcmp(group, "secp384r1") == 0 ||
         strcmp(group, "secp521r1") == 0))
        return NULL;
    return "key neither RSA >= 3072 nor ECDSA P-256, P-384, P-521";
}

/*
 * Inside the CA's validity, issued now: Signet writes notBefore = now
 * (attestations: the key's generation time, which the keeper itself
 * bounds to minutes). max_secs > 0: at most that long, counted as RFC
 * 5280 does (both ends included).
 */
static const char *
cert_validity(const struct sn_kc_ca *ca, X509 *x, time_t now, long max_secs)
{
    time_t nb, na, cnb, cna;

    if (sn_x509_validity(x, &nb, &na) != SN_OK ||
        sn_x509_validity(ca->cert, &cnb, &cna) != SN_OK)
        return "validity unreadable";
    if (na < nb)
        return "notAfter before notBefore";
    if (nb < cnb || na > cna)
        return "validity not inside the CA's";
    if (!near(nb, now, NOW_SLACK))
        return "notBefore is not now";
    if (max_secs > 0 && (long long)na - (long long)nb + 1 > max_secs)
        return "validity longer than 460 days (CSBR 6.3.2)";
    return NULL;
}

static int
eku_has(const EXTENDED_KEY_USAGE *eku, int nid)
{
    int i;

    for (i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
        if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == nid)
            return 1;
    return 0;
}

/* keyUsage present, critical, with digitalSignature (CSBR 7.1.2.3 e). */
static const char *
ku_signs(X509 *x)
{
    ASN1_BIT_STRING *ku;
    int crit, ok;

    ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
    ok = ku != NULL && crit == 1 && ASN1_BIT_STRING_get_bit(ku, 0) == 1;
    ASN1_BIT_STRING_free(ku);
    return ok ? NULL : "keyUsage not critical with digitalSignature";
}

/*
 * The extended key usages by profile. None may say anyExtendedKeyUsage
 * or OCSPSigning (which would make the holder a delegated responder for
 * the CA).
 */
static const char *
cert_eku(const struct sn_kc_ca *ca, X509 *x)
{
    EXTENDED_KEY_USAGE *eku;
    const char *bad = NULL;
    int crit;

    eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
    if (eku == NULL && crit != -1)
        bad = "extendedKeyUsage malformed";
    else if (eku_has(eku, NID_anyExtendedKeyUsage) ||
             eku_has(eku, NID_OCSP_sign))
        bad = "extendedKeyUsage anyExtendedKeyUsage or OCSPSigning";
    else if (ca->profile == SN_KC_CODESIGNING) {
        /* CSBR 7.1.2.3 f; timeStamping belongs to the TSA's CA. */
        if (!eku_has(eku, NID_code_sign))
            bad = "extendedKeyUsage without codeSigning";
        else if (eku_has(eku, NID_server_auth) || eku_has(eku, NID_time_stamp))
            bad = "extendedKeyUsage serverAuth or timeStamping";
    } else if (ca->profile == SN_KC_TIMESTAMPING) {
        /* RFC 3161 2.3: critical, timeStamping only. */
        if (crit != 1 || sk_ASN1_OBJECT_num(eku) != 1 ||
            !eku_has(eku, NID_time_stamp))
            bad = "extendedKeyUsage not critical and timeStamping only";
    }
    EXTENDED_KEY_USAGE_free(eku);
    return bad;
}

static const char *
cert_check(const struct sn_kc_ca *ca, X509 *x, time_t now)
{
    int csbr =
        ca->profile == SN_KC_CODESIGNING || ca->profile == SN_KC_TIMESTAMPING;
    long max = ca->profile == SN_KC_CODESIGNING ? CS_MAX_SECS : 0;
    const char *bad;

    if ((bad = cert_names(ca, x)) != NULL || (bad = cert_exts(ca, x)) != NULL ||
        (bad = cert_key(ca, x)) != NULL ||
        (bad = cert_validity(ca, x, now, max)) != NULL ||
        (bad = cert_eku(ca, x)) != NULL ||
        (csbr && (bad = ku_signs(x)) != NULL))
        return bad;
    return NULL;
}

sn_err
sn_kc_sign_cert(const struct sn_kc_ca *ca, const uint8_t *der, size_t len,
                time_t now, uint8_t **out, size_t *outlen, char *why,
                size_t whylen)
{
    X509 *x = NULL;
    unsigned char *enc = NULL;
    const char *bad;
    int n;
    sn_err r;

    begin(out, outlen, why, whylen);
    if (!ca_held(ca)) {
        r = fail(why, whylen, SN_ERR_STATE, "no such CA key");
        goto out;
    }
    if (ca->profile == SN_KC_NONE) {
        r = fail(why, whylen, SN_ERR_STATE,
                 "this key signs certificates only in a ceremony");
        goto out;
    }
    if ((x = cert_parse(der, len)) == NULL) {
        r = fail(why, whylen, SN_ERR_INVALID,
                 "not one certificate in strict DER");
        goto out;
    }
    if ((bad = cert_check(ca, x, now)) != NULL) {
        r = fail(why, whylen, SN_ERR_STATE, bad);
        goto out;
    }
    /* X509_sign sets both algorithm fields and re-encodes the TBS. */
    if (X509_sign(x, ca->key, ca->md) <= 0 ||
        X509_verify(x, X509_get0_pubkey(ca->cert)) != 1) {
        r = fail(why, whylen, SN_ERR_HSM, "signing failed");
        goto out;
    }
    n = i2d_X509(x, &enc);
    if ((r = emit(enc, n, out, outlen)) != SN_OK)
        fail(why, whylen, r, "cannot encode the certificate");
out:
    OPENSSL_free(enc);
    X509_free(x);
    ERR_clear_error();
    return r;
}

/* ---- CRLs ---- */

static X509_CRL *
crl_parse(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    unsigned char *re = NULL;
    X509_CRL *crl = NULL;
    int n = -1;

    if (der == NULL || len == 0 || len > CRL_DER_MAX)
        return NULL;
    if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) != NULL)
        n = i2d_X509_CRL(crl, &re);
    if (crl != NULL && !sn_der_exact(der, len, p, re, n)) {
        X509_CRL_free(crl);
        crl = NULL;
    }
    OPENSSL_free(re);
    return crl;
}

/* Exactly what Signet writes: AKI and a CRL number (RFC 5280 5.2.1, 5.2.3);
 * no delta, scope or issuer-naming extension to change what it covers. */
static const char *
crl_exts(const struct sn_kc_ca *ca, X509_CRL *crl)
{
    AUTHORITY_KEYID *akid;
    ASN1_INTEGER *num;
    const char *bad;
    int i, nid, crit;

    for (i = 0; i < X509_CRL_get_ext_count(crl); i++) {
        nid = OBJ_obj2nid(X509_EXTENSION_get_object(X509_CRL_get_ext(crl, i)));
        if (nid != NID_authority_key_identifier && nid != NID_crl_number)
            return "a CRL extension other than AKI and CRL number";
    }
    akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, NULL);
    bad = aki_check(akid, crit, ca->cert);
    AUTHORITY_KEYID_free(akid);
    if (bad != NULL)
        return bad;
    num = X509_CRL_get_ext_d2i(crl, NID_crl_number, &crit, NULL);
    if (num == NULL)
        bad = "no CRL number, or a malformed or repeated one";
    else if (crit != 0)
        bad = "CRL number is critical";
    else if (ASN1_STRING_type(num) != V_ASN1_INTEGER ||
             ASN1_STRING_length(num) > 20)
        bad = "CRL number negative or over 20 octets";
    ASN1_INTEGER_free(num);
    return bad;
}

/*
 * An entry: at most a reasonCode, never unspecified (it is left out),
 * certificateHold (no suspension, CSBR 4.9.13), removeFromCRL or an
 * unassigned value; and an invalidityDate equal to revocationDate.
 */
static const char *
crl_entry(X509_REVOKED *rev)
{
    const STACK_OF(X509_EXTENSION) *exts = X509_REVOKED_get0_extensions(rev);
    ASN1_ENUMERATED *reason;
    ASN1_GENERALIZEDTIME *inv;
    time_t tr, ti;
    long v = -1;
    int i, nid, crit, ok;

    for (i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
        nid = OBJ_obj2nid(
            X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i)));
        if (nid != NID_crl_reason && nid != NID_invalidity_date)
            return "a CRL entry extension other than reason and invalidity";
    }
    if ((reason = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL)) !=
        NULL)
        v = ASN1_ENUMERATED_get(reason);
    ASN1_ENUMERATED_free(reason);
    if ((reason == NULL && crit != -1) ||
        (reason != NULL && (v < 1 || v > 10 || v == 6 || v == 7 || v == 8)))
        return "a CRL entry's reasonCode is malformed, unspecified, "
               "certificateHold or removeFromCRL";
    inv = X509_REVOKED_get_ext_d2i(rev, NID_invalidity_date, &crit, NULL);
    if (inv == NULL)
        ok = crit == -1;
    else
        ok = time_of(inv, &ti) &&
             time_of(X509_REVOKED_get0_revocationDate(rev), &tr) && ti == tr;
    ASN1_GENERALIZEDTIME_free(inv);
    return ok ? NULL : "a CRL entry's invalidityDate is not its revocationDate";
}

static const char *
crl_check(const struct sn_kc_ca *ca, X509_CRL *crl, time_t now)
{
    STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);
    long max = ca->profile == SN_KC_NONE ? ROOT_CRL_MAX_SECS : CRL_MAX_SECS;
    const char *bad;
    time_t last, next;
    int i;

    if (X509_CRL_get_version(crl) != X509_CRL_VERSION_2)
        return "not a v2 CRL";
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl),
                      X509_get_subject_name(ca->cert)) != 0)
        return "issuer is not this CA";
    if (!time_of(X509_CRL_get0_lastUpdate(crl), &last) ||
        !near(last, now, NOW_SLACK))
        return "lastUpdate is not now";
    if (!time_of(X509_CRL_get0_nextUpdate(crl), &next) || next <= last ||
        (long long)next - (long long)last > max)
        return "nextUpdate missing, not after lastUpdate or too far on";
    if ((bad = crl_exts(ca, crl)) != NULL)
        return bad;
    for (i = 0; i < sk_X509_REVOKED_num(revs); i++)
        if ((bad = crl_entry(sk_X509_REVOKED_value(revs, i))) != NULL)
            return bad;
    return NULL;
}

sn_err
sn_kc_sign_crl(const struct sn_kc_ca *ca, const uint8_t *der, size_t len,
               time_t now, uint8_t **out, size_t *outlen, char *why,
               size_t whylen)
{
    X509_CRL *crl = NULL;
    unsigned char *enc = NULL;
    const char *bad;
    int n;
    sn_err r;

    begin(out, outlen, why, whylen);
    if (!ca_held(ca)) {
        r = fail(why, whylen, SN_ERR_STATE, "no such CA key");
        goto out;
    }
    if ((crl = crl_parse(der, len)) == NULL) {
        r = fail(why, whylen, SN_ERR_INVALID, "not one CRL in strict DER");
        goto out;
    }
    if ((bad = crl_check(ca, crl, now)) != NULL) {
        r = fail(why, whylen, SN_ERR_STATE, bad);
        goto out;
    }
    if (X509_CRL_sign(crl, ca->key, ca->md) <= 0 ||
        X509_CRL_verify(crl, X509_get0_pubkey(ca->cert)) != 1) {
        r = fail(why, whylen, SN_ERR_HSM, "signing failed");
        goto out;
    }
    n = i2d_X509_CRL(crl, &enc);
    if ((r = emit(enc, n, out, outlen)) != SN_OK)
        fail(why, whylen, r, "cannot encode the CRL");
out:
    OPENSSL_free(enc);
    X509_CRL_free(crl);
    ERR_clear_error();
    return r;
}

/* ---- OCSP ---- */

static OCSP_BASICRESP *
ocsp_parse(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    unsigned char *re = NULL;
    OCSP_BASICRESP *bs = NULL;
    int n = -1;

    if (der == NULL || len == 0 || len > OCSP_DER_MAX)
        return NULL;
    if ((bs = d2i_OCSP_BASICRESP(NULL, &p, (long)len)) != NULL)
        n = i2d_OCSP_BASICRESP(bs, &re);
    if (bs != NULL && !sn_der_exact(der, len, p, re, n)) {
        OCSP_BASICRESP_free(bs);
        bs = NULL;
    }
    OPENSSL_free(re);
    return bs;
}

/* The CertID names ca: its issuerNameHash and issuerKeyHash, under the
 * CertID's own hash algorithm, are the CA's (as the responder matched). */
static const char *
certid_ours(const struct sn_kc_ca *ca, const OCSP_CERTID *id)
{
    OCSP_CERTID *copy = NULL, *mine = NULL;
    ASN1_OBJECT *mdobj = NULL;
    const EVP_MD *md;
    const char *bad = "a CertID's hash algorithm is unknown";

    if ((copy = OCSP_CERTID_dup(id)) == NULL ||
        OCSP_id_get0_info(NULL, &mdobj, NULL, NULL, copy) != 1 ||
        (md = EVP_get_digestbyobj(mdobj)) == NULL)
        goto out;
    bad = "a CertID names another CA";
    if ((mine = OCSP_cert_id_new(md, X509_get_subject_name(ca->cert),
                                 X509_get0_pubkey_bitstr(ca->cert), NULL)) !=
            NULL &&
        OCSP_id_issuer_cmp(mine, id) == 0)
        bad = NULL;
out:
    OCSP_CERTID_free(mine);
    OCSP_CERTID_free(copy);
    return bad;
}

static const char *
ocsp_single(const struct sn_kc_ca *ca, OCSP_SINGLERESP *s, time_t now)
{
    ASN1_GENERALIZEDTIME *rev = NULL, *thisu = NULL, *nextu = NULL;
    int reason = -1, status;
    time_t t, n;

    status = OCSP_single_get0_status(s, &reason, &rev, &thisu, &nextu);
    if (status < 0)
        return "a SingleResponse's status is unreadable";
    if (status == V_OCSP_CERTSTATUS_REVOKED &&
        (reason == OCSP_REVOKED_STATUS_CERTIFICATEHOLD ||
         reason == OCSP_REVOKED_STATUS_REMOVEFROMCRL))
        return "certificateHold or removeFromCRL (CSBR 4.9.13)";
    if (!time_of(thisu, &t) || !near(t, now, NOW_SLACK))
        return "thisUpdate is not now";
    if (!time_of(nextu, &n) || n <= t ||
        (long long)n - (long long)t > OCSP_MAX_SECS)
        return "nextUpdate missing, not after thisUpdate or too far on";
    if (OCSP_SINGLERESP_get_ext_count(s) != 0)
        return "a SingleResponse has extensions";
    return certid_ours(ca, OCSP_SINGLERESP_get0_id(s));
}

/* The nonce's extnValue is the DER of an OCTET STRING of 1..32 octets
 * (RFC 6960 4.4.1, RFC 8954), as the responder accepts it in requests. */
static int
nonce_ok(X509_EXTENSION *ext)
{
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
    const unsigned char *start = ASN1_STRING_get0_data(v), *p = start;
    long len = ASN1_STRING_length(v);
    ASN1_OCTET_STRING *nonce = NULL;
    unsigned char *re = NULL;
    int n = -1, ok;

    if ((nonce = d2i_ASN1_OCTET_STRING(NULL, &p, len)) != NULL)
        n = i2d_ASN1_OCTET_STRING(nonce, &re);
    ok = nonce != NULL && sn_der_exact(start, (size_t)len, p, re, n) &&
         ASN1_STRING_length(nonce) >= NONCE_MIN &&
         ASN1_STRING_length(nonce) <= NONCE_MAX;
    OPENSSL_free(re);
    ASN1_OCTET_STRING_free(nonce);
    return ok;
}

static const char *
ocsp_exts(OCSP_BASICRESP *bs)
{
    X509_EXTENSION *ext;
    int i, nonces = 0;

    for (i = 0; i < OCSP_BASICRESP_get_ext_count(bs); i++) {
        ext = OCSP_BASICRESP_get_ext(bs, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) !=
            NID_id_pkix_OCSP_Nonce)
            return "a response extension other than the nonce";
        if (++nonces > 1 || !nonce_ok(ext))
            return "the nonce is repeated, malformed or not 1..32 octets";
    }
    return NULL;
}

static const char *
ocsp_check(const struct sn_kc_ca *ca, OCSP_BASICRESP *bs, time_t now)
{
    const char *bad;
    time_t t;
    int i, n = OCSP_resp_count(bs);

    if (!time_of(OCSP_resp_get0_produced_at(bs), &t) ||
        !near(t, now, NOW_SLACK))
        return "producedAt is not now";
    if (n < 1 || n > OCSP_SINGLES_MAX)
        return "not 1..16 SingleResponses";
    /* The CA signs its own answers and embeds no certificate. */
    if (sk_X509_num(OCSP_resp_get0_certs(bs)) > 0)
        return "the response carries certificates";
    if ((bad = ocsp_exts(bs)) != NULL)
        return bad;
    for (i = 0; i < n; i++)
        if ((bad = ocsp_single(ca, OCSP_resp_get0(bs, i), now)) != NULL)
            return bad;
    return NULL;
}

/* One checked SingleResponse of in, copied into out. */
static int
ocsp_copy_single(OCSP_SINGLERESP *s, OCSP_BASICRESP *out)
{
    ASN1_GENERALIZEDTIME *rev = NULL, *thisu = NULL, *nextu = NULL;
    OCSP_CERTID *id = NULL;
    int reason = OCSP_REVOKED_STATUS_NOSTATUS, status, ok;

    status = OCSP_single_get0_status(s, &reason, &rev, &thisu, &nextu);
    ok = status >= 0 &&
         (id = OCSP_CERTID_dup(OCSP_SINGLERESP_get0_id(s))) != NULL &&
         OCSP_basic_add1_status(out, id, status, reason, rev, thisu, nextu) !=
             NULL;
    OCSP_CERTID_free(id);
    return ok;
}

/*
 * A new response holding only what was checked: the SingleResponses and
 * the nonce. The rest of tbsResponseData (version, responderID,
 * producedAt) is the keeper's to write; and OCSP_basic_sign would leak
 * the responderID of a parsed response it overwrites.
 */
static sn_err
ocsp_rebuild(OCSP_BASICRESP *in, OCSP_BASICRESP **out)
{
    OCSP_BASICRESP *bs = NULL;
    sn_err r = SN_ERR_CRYPTO;
    int i;

    *out = NULL;
    if ((bs = OCSP_BASICRESP_new()) == NULL)
        goto out;
    for (i = 0; i < OCSP_resp_count(in); i++)
        if (!ocsp_copy_single(OCSP_resp_get0(in, i), bs))
            goto out;
    for (i = 0; i < OCSP_BASICRESP_get_ext_count(in); i++)
        if (OCSP_BASICRESP_add_ext(bs, OCSP_BASICRESP_get_ext(in, i), -1) != 1)
            goto out;
    *out = bs;
    bs = NULL;
    r = SN_OK;
out:
    OCSP_BASICRESP_free(bs);
    return r;
}

/* Signed as Signet's responder signs (ca.c sn_ca_ocsp): responderID by
 * key, no certificates; producedAt is set from the keeper's clock. */
static sn_err
ocsp_sign(const struct sn_kc_ca *ca, OCSP_BASICRESP *bs)
{
    STACK_OF(X509) *mine = NULL;
    sn_err r = SN_ERR_NOMEM;

    if ((mine = sk_X509_new_null()) == NULL ||
        sk_X509_push(mine, ca->cert) <= 0)
        goto out;
    r = SN_ERR_HSM;
    if (OCSP_basic_sign(bs, ca->cert, ca->key, ca->md, NULL,
                        OCSP_RESPID_KEY | OCSP_NOCERTS) != 1 ||
        OCSP_basic_verify(bs, mine, NULL, OCSP_NOINTERN | OCSP_NOVERIFY) != 1)
        goto out;
    r = SN_OK;
out:
    sk_X509_free(mine);
    return r;
}

sn_err
sn_kc_sign_ocsp(const struct sn_kc_ca *ca, const uint8_t *der, size_t len,
                time_t now, uint8_t **out, size_t *outlen, char *why,
                size_t whylen)
{
    OCSP_BASICRESP *bs = NULL, *fresh = NULL;
    unsigned char *enc = NULL;
    const char *bad;
    int n;
    sn_err r;

    begin(out, outlen, why, whylen);
    if (!ca_held(ca)) {
        r = fail(why, whylen, SN_ERR_STATE, "no such CA key");
        goto out;
    }
    if ((bs = ocsp_parse(der, len)) == NULL) {
        r = fail(why, whylen, SN_ERR_INVALID,
                 "not one BasicOCSPResponse in strict DER");
        goto out;
    }
    if ((bad = ocsp_check(ca, bs, now)) != NULL) {
        r = fail(why, whylen, SN_ERR_STATE, bad);
        goto out;
    }
    if ((r = ocsp_rebuild(bs, &fresh)) != SN_OK) {
        fail(why, whylen, r, "cannot rebuild the response");
        goto out;
    }
    if ((r = ocsp_sign(ca, fresh)) != SN_OK) {
        fail(why, whylen, r, "signing failed");
        goto out;
    }
    n = i2d_OCSP_BASICRESP(fresh, &enc);
    if ((r = emit(enc, n, out, outlen)) != SN_OK)
        fail(why, whylen, r, "cannot encode the response");
out:
    OPENSSL_free(enc);
    OCSP_BASICRESP_free(fresh);
    OCSP_BASICRESP_free(bs);
    ERR_clear_error();
    return r;
}

/* ---- the TSA ---- */

static int
tsa_held(const struct sn_kc_tsa *tsa)
{
    return tsa != NULL && tsa->cert != NULL && tsa->key != NULL &&
           tsa->md != NULL;
}

/* t plus months calendar months, the day kept within the month (30
 * November + 3 -> 28 or 29 February), as tsa.c counts the key's use. */
static int
months_on(time_t t, int months, time_t *end)
{
    struct tm tm;

    return gmtime_r(&t, &tm) != NULL && sn_tm_add_months(tm, months, end);
}

static const char *
tsa_usable(X509 *cert, time_t now)
{
    time_t nb, na, end;

    if (sn_x509_validity(cert, &nb, &na) != SN_OK || now < nb || now > na)
        return "the TSA certificate is not valid now";
    if (!months_on(nb, TSA_KEY_MONTHS, &end) || now >= end)
        return "the TSA key is past its 15 months (CSBR 6.3.2)";
    return NULL;
}

static TS_TST_INFO *
tst_parse(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    unsigned char *re = NULL;
    TS_TST_INFO *tst = NULL;
    int n = -1;

    if (der == NULL || len == 0 || len > TST_DER_MAX)
        return NULL;
    if ((tst = d2i_TS_TST_INFO(NULL, &p, (long)len)) != NULL)
        n = i2d_TS_TST_INFO(tst, &re);
    if (tst != NULL && !sn_der_exact(der, len, p, re, n)) {
        TS_TST_INFO_free(tst);
        tst = NULL;
    }
    OPENSSL_free(re);
    return tst;
}

/* policy is one of list's comma-separated dotted OIDs. */
static int
policy_listed(const char *list, const ASN1_OBJECT *policy)
{
    char oid[OID_TEXT_MAX];
    const char *p = list;
    size_t n, len;
    int r;

    if (list == NULL || policy == NULL ||
        (r = OBJ_obj2txt(oid, sizeof(oid), policy, 1)) <= 0 ||
        (size_t)r >= sizeof(oid))
        return 0;
    len = (size_t)r;
    while (*p != '\0') {
        while (*p == ' ')
            p++;
        n = strcspn(p, ", ");
        if (n == len && memcmp(p, oid, len) == 0)
            return 1;
        p += n;
        p += strspn(p, ", ");
    }
    return 0;
}

/* The hashes Signet's TSA accepts (tsa.c), with their lengths; parameters
 * absent or NULL, as OpenSSL's responder checks them. */
static const char *
imprint_check(TS_MSG_IMPRINT *mi)
{
    const ASN1_OBJECT *obj;
    const void *pval;
    int ptype, nid;
    size_t want;

    X509_ALGOR_get0(&obj, &ptype, &pval, TS_MSG_IMPRINT_get_algo(mi));
    nid = OBJ_obj2nid(obj);
    want = nid == NID_sha256   ? 32
           : nid == NID_sha384 ? 48
           : nid == NID_sha512 ? 64
                               : 0;
    if (want == 0 || (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL))
        return "imprint hash not SHA-256, SHA-384 or SHA-512";
    if ((size_t)ASN1_STRING_length(TS_MSG_IMPRINT_get_msg(mi)) != want)
        return "imprint length does not fit its hash";
    return NULL;
}

/* An accuracy field of 0..max, absent as 0. */
static int
acc_part(const ASN1_INTEGER *a, int64_t max, int64_t *v)
{
    *v = 0;
    return a == NULL ||
           (ASN1_INTEGER_get_int64(v, a) == 1 && *v >= 0 && *v <= max);
}

/* The accuracy claims no more than the window genTime is held to. */
static const char *
accuracy_check(TS_ACCURACY *acc, int window)
{
    int64_t s, ms, us;

    if (acc == NULL)
        return NULL;
    if (!acc_part(TS_ACCURACY_get_seconds(acc), window, &s) ||
        !acc_part(TS_ACCURACY_get_millis(acc), 999, &ms) ||
        !acc_part(TS_ACCURACY_get_micros(acc), 999, &us) ||
        s * 1000000 + ms * 1000 + us > (int64_t)window * 1000000)
        return "accuracy malformed or wider than the keeper's window";
    return NULL;
}

static const char *
tst_fields(const struct sn_kc_tsa *tsa, TS_TST_INFO *tst)
{
    const ASN1_INTEGER *nonce = TS_TST_INFO_get_nonce(tst);
    GENERAL_NAME *name = TS_TST_INFO_get_tsa(tst);
    const char *bad;

    if (TS_TST_INFO_get_version(tst) != 1)
        return "TSTInfo version is not 1";
    if (!policy_listed(tsa->policies, TS_TST_INFO_get_policy_id(tst)))
        return "TSTInfo policy not accepted";
    if (!serial_ok(TS_TST_INFO_get_serial(tst), 1))
        return "TSTInfo serial not positive or over 159 bits";
    if ((bad = imprint_check(TS_TST_INFO_get_msg_imprint(tst))) != NULL)
        return bad;
    if (nonce != NULL && ASN1_STRING_length(nonce) > NONCE_MAX)
        return "nonce longer than 32 octets";
    /* Signet's TSA promises no ordering and adds no extension. */
    if (TS_TST_INFO_get_ordering(tst))
        return "ordering is set";
    if (TS_TST_INFO_get_ext_count(tst) != 0)
        return "TSTInfo has extensions";
    if (name != NULL &&
        (name->type != GEN_DIRNAME ||
         X509_NAME_cmp(name->d.dirn, X509_get_subject_name(tsa->cert)) != 0))
        return "TSTInfo names another TSA";
    return NULL;
}

static const char *
tst_check(const struct sn_kc_tsa *tsa, TS_TST_INFO *tst, time_t now)
{
    int window = tsa->window > 0 ? tsa->window : 0;
    const char *bad;
    time_t gen;

    if ((bad = tst_fields(tsa, tst)) != NULL)
        return bad;
    if (!time_of(TS_TST_INFO_get_time(tst), &gen) || !near(gen, now, window))
        return "genTime is not now";
    if ((bad = accuracy_check(TS_TST_INFO_get_accuracy(tst), window)) != NULL)
        return bad;
    return tsa_usable(tsa->cert, now);
}

/* signingCertificateV2 with one SHA-256 ESSCertIDv2 of cert, no
 * issuerSerial: what TS_RESP_CTX_set_ess_cert_id_digest(SHA-256) makes. */
static int
add_ess(PKCS7_SIGNER_INFO *si, X509 *cert)
{
    ESS_SIGNING_CERT_V2 *sc = NULL;
    ASN1_STRING *seq = NULL;
    unsigned char *der = NULL;
    int n, ok = 0;

    if ((sc = OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), cert, NULL, 0)) ==
            NULL ||
        (n = i2d_ESS_SIGNING_CERT_V2(sc, &der)) <= 0 ||
        (seq = ASN1_STRING_new()) == NULL || ASN1_STRING_set(seq, der, n) != 1)
        goto out;
    if (PKCS7_add_signed_attribute(si, NID_id_smime_aa_signingCertificateV2,
                                   V_ASN1_SEQUENCE, seq) != 1)
        goto out;
    seq = NULL; /* the attribute's */
    ok = 1;
out:
    ASN1_STRING_free(seq);
    OPENSSL_free(der);
    ESS_SIGNING_CERT_V2_free(sc);
    return ok;
}

/* SignedData version 3 (the eContentType is not id-data), every
 * certificate, one SignerInfo with contentType, ESS and signingTime. */
static int
token_frame(const struct sn_kc_tsa *tsa, time_t now, PKCS7 *p7,
            PKCS7_SIGNER_INFO **si)
{
    ASN1_TIME *at = NULL;
    int i, ok = 0;

    if (PKCS7_set_type(p7, NID_pkcs7_signed) != 1 ||
        ASN1_INTEGER_set(p7->d.sign->version, 3) != 1 ||
        PKCS7_add_certificate(p7, tsa->cert) != 1)
        goto out;
    for (i = 0; i < sk_X509_num(tsa->chain); i++)
        if (PKCS7_add_certificate(p7, sk_X509_value(tsa->chain, i)) != 1)
            goto out;
    if ((*si = PKCS7_add_signature(p7, tsa->cert, tsa->key, tsa->md)) == NULL ||
        PKCS7_add_signed_attribute(*si, NID_pkcs9_contentType, V_ASN1_OBJECT,
                                   OBJ_nid2obj(NID_id_smime_ct_TSTInfo)) != 1 ||
        !add_ess(*si, tsa->cert) || (at = ASN1_TIME_set(NULL, now)) == NULL ||
        PKCS7_add0_attrib_signing_time(*si, at) != 1)
        goto out;
    at = NULL; /* the attribute's */
    ok = 1;
out:
    ASN1_TIME_free(at);
    return ok;
}

/* The TSTInfo as encapsulated content of type id-smime-ct-TSTInfo. */
static int
token_content(PKCS7 *p7)
{
    PKCS7 *inner = NULL;
    ASN1_TYPE *other = NULL;
    ASN1_OCTET_STRING *os = NULL;
    int ok = 0;

    if ((inner = PKCS7_new()) == NULL || (other = ASN1_TYPE_new()) == NULL ||
        (os = ASN1_OCTET_STRING_new()) == NULL)
        goto out;
    ASN1_TYPE_set(other, V_ASN1_OCTET_STRING, os);
    os = NULL;
    if (PKCS7_set0_type_other(inner, NID_id_smime_ct_TSTInfo, other) != 1)
        goto out;
    other = NULL;
    if (PKCS7_set_content(p7, inner) != 1)
        goto out;
    inner = NULL;
    ok = 1;
out:
    ASN1_OCTET_STRING_free(os);
    ASN1_TYPE_free(other);
    PKCS7_free(inner);
    return ok;
}

/* The signature over p7's content verifies with cert's key. */
static int
p7_verifies(PKCS7 *p7, X509 *cert)
{
    STACK_OF(X509) *mine = sk_X509_new_null();
    int ok;

    ok = mine != NULL && sk_X509_push(mine, cert) > 0 &&
         PKCS7_verify(p7, mine, NULL, NULL, NULL,
                      PKCS7_NOVERIFY | PKCS7_NOINTERN | PKCS7_BINARY) == 1;
    sk_X509_free(mine);
    return ok;
}

static sn_err
token_sign(const struct sn_kc_tsa *tsa, const uint8_t *tst, size_t len,
           time_t now, PKCS7 **out)
{
    PKCS7 *p7 = NULL;
    PKCS7_SIGNER_INFO *si = NULL;
    BIO *b = NULL;
    sn_err r = SN_ERR_CRYPTO;

    *out = NULL;
    if ((p7 = PKCS7_new()) == NULL || !token_frame(tsa, now, p7, &si) ||
        !token_content(p7) || (b = PKCS7_dataInit(p7, NULL)) == NULL ||
        BIO_write(b, tst, (int)len) != (int)len)
        goto out;
    r = SN_ERR_HSM;
    if (PKCS7_dataFinal(p7, b) != 1 || !p7_verifies(p7, tsa->cert))
        goto out;
    *out = p7;
    p7 = NULL;
    r = SN_OK;
out:
    BIO_free_all(b);
    PKCS7_free(p7);
    return r;
}

sn_err
sn_kc_sign_tst(const struct sn_kc_tsa *tsa, const uint8_t *tstinfo, size_t len,
               time_t now, uint8_t **token, size_t *tlen, char *why,
               size_t whylen)
{
    TS_TST_INFO *tst = NULL;
    PKCS7 *p7 = NULL;
    unsigned char *enc = NULL;
    const char *bad;
    int n;
    sn_err r;

    begin(token, tlen, why, whylen);
    if (!tsa_held(tsa)) {
        r = fail(why, whylen, SN_ERR_STATE, "no TSA key");
        goto out;
    }
    if ((tst = tst_parse(tstinfo, len)) == NULL) {
        r = fail(why, whylen, SN_ERR_INVALID, "not one TSTInfo in strict DER");
        goto out;
    }
    if ((bad = tst_check(tsa, tst, now)) != NULL) {
        r = fail(why, whylen, SN_ERR_STATE, bad);
        goto out;
    }
    if ((r = token_sign(tsa, tstinfo, len, now, &p7)) != SN_OK) {
        fail(why, whylen, r, "signing failed");
        goto out;
    }
    n = i2d_PKCS7(p7, &enc);
    if ((r = emit(enc, n, token, tlen)) != SN_OK)
        fail(why, whylen, r, "cannot encode the token");
out:
    OPENSSL_free(enc);
    PKCS7_free(p7);
    TS_TST_INFO_free(tst);
    ERR_clear_error();
    return r;
}

sn_err
sn_kc_sign_ts_pkcs7(const struct sn_kc_tsa *tsa, const uint8_t *data,
                    size_t len, uint8_t **out, size_t *outlen, char *why,
                    size_t whylen)
{
    BIO *b = NULL;
    PKCS7 *p7 = NULL;
    unsigned char *enc = NULL;
    const char *bad;
    int n;
    sn_err r;

    begin(out, outlen, why, whylen);
    if (!tsa_held(tsa)) {
        r = fail(why, whylen, SN_ERR_STATE, "no TSA key");
        goto out;
    }
    if (data == NULL || len == 0 || len > TS_DATA_MAX) {
        r = fail(why, whylen, SN_ERR_INVALID, "data not 1..65536 bytes");
        goto out;
    }
    if ((bad = tsa_usable(tsa->cert, time(NULL))) != NULL) {
        r = fail(why, whylen, SN_ERR_STATE, bad);
        goto out;
    }
    if ((b = BIO_new_mem_buf(data, (int)len)) == NULL) {
        r = fail(why, whylen, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* As tsa.c signs it: the key's default digest (SHA-256), signingTime,
     * contentType and messageDigest, the TSA certificate and chain. */
    if ((p7 = PKCS7_sign(tsa->cert, tsa->key, tsa->chain, b,
                         PKCS7_BINARY | PKCS7_NOSMIMECAP)) == NULL ||
        !p7_verifies(p7, tsa->cert)) {
        r = fail(why, whylen, SN_ERR_HSM, "signing failed");
        goto out;
    }
    n = i2d_PKCS7(p7, &enc);
    if ((r = emit(enc, n, out, outlen)) != SN_OK)
        fail(why, whylen, r, "cannot encode the signature");
out:
    OPENSSL_free(enc);
    PKCS7_free(p7);
    BIO_free(b);
    ERR_clear_error();
    return r;
}
