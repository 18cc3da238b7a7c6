/*
 * tsa: time-stamp requests are untrusted DER (or base64 for Authenticode),
 * bounded by the router's body limit and parsed by OpenSSL's TS code,
 * which answers malformed requests, unknown hashes, bad imprint lengths,
 * unknown policies and extensions with the RFC 3161 failure statuses.
 */
#include "pki/tsa.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/attest.h"
#include "crypto/caprofile.h"
#include "crypto/x509util.h"
#include "pki/casigner.h"
#include "store/store.h"

#define CSBR_TSA_POLICY "2.23.140.1.4.2"
#define KEY_USE_MONTHS 15 /* after the certificate's notBefore (CSBR 6.3.2) */
#define CERT_DAYS 3650
#define PREFIX "key-id: "
#define TSA_NONCE_MAX 32 /* octets of value, as RFC 8954 for OCSP */

static const char *
tsa_path(char *buf, size_t len, const char *home, const char *suffix)
{
    if (snprintf(buf, len, "%s/ca/tsa.pem%s", home, suffix) >= (int)len)
        buf[0] = '\0';
    return buf;
}

/* HOME/ca/tsa.pem: the key id rides in front of the PEM block; one
 * atomic rename. */
static sn_err
write_tsa_file(const char *home, const char *id, X509 *x)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    char *data = NULL;
    long len;
    BIO *b = NULL;
    sn_err r = SN_ERR_CRYPTO;

    if ((b = BIO_new(BIO_s_mem())) == NULL ||
        BIO_printf(b, PREFIX "%s\n", id) <= 0 || PEM_write_bio_X509(b, x) != 1)
        goto out;
    len = BIO_get_mem_data(b, &data);
    tsa_path(path, sizeof(path), home, "");
    tsa_path(tmp, sizeof(tmp), home, ".new");
    unlink(tmp);
    if ((r = sn_file_write_new(tmp, data, (size_t)len, 0600)) != SN_OK)
        goto out;
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        r = SN_ERR_IO;
    }
out:
    BIO_free(b);
    return r;
}

sn_err
sn_tsa_create(const struct sn_ca_keys *keys, const char *home, X509 *ts_ca,
              struct sn_ca_signer *ts_ca_signer, const char *alg_name,
              const char *org, const char *country, const char *base_url,
              const char *policy_oid)
{
    char id[64], uuid[SN_UUID_LEN];
    char crl[300], aia[300], ocsp[300];
    struct sn_ca_urls urls = {crl, aia, ocsp};
    enum sn_keyalg alg;
    const unsigned char *p;
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    EVP_PKEY *pub = NULL;
    X509 *x = NULL;
    int days;
    sn_err r;

    if (sn_keyalg_from_name(alg_name, &alg) != SN_OK)
        return SN_ERR_CONFIG;
    /* Never past the timestamping CA's own notAfter. */
    if ((days = sn_x509_days_within(ts_ca, time(NULL), CERT_DAYS)) < 1) {
        sn_error("tsa: the timestamping CA expires within a day");
        return SN_ERR_STATE;
    }
    if ((r = sn_uuid(uuid)) != SN_OK)
        return r;
    /* "tsa-" and the UUID's 32 hex digits: 36 characters, whole in the
     * certificates table's key column (other nodes bind it from there) */
    {
        size_t i, o = 4;

        memcpy(id, "tsa-", 4);
        for (i = 0; uuid[i] != '\0' && o + 1 < sizeof(id); i++)
            if (uuid[i] != '-')
                id[o++] = uuid[i];
        id[o] = '\0';
    }
    snprintf(crl, sizeof(crl), "%s/ca/crl/timestamping", base_url);
    snprintf(aia, sizeof(aia), "%s/ca/timestamping.cer", base_url);
    /* The responder that answers for this certificate (CSBR 7.1.2.3 c):
     * the same one the code signing certificates name. */
    snprintf(ocsp, sizeof(ocsp), "%s/ca/ocsp", base_url);
    if ((r = keys->tsa_generate(keys->arg, id, alg, &spki, &spki_len)) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    p = spki;
    if ((pub = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL ||
        sn_tsa_cert_build(pub, ts_ca, "Signet Timestamping Authority", org,
                          country, policy_oid, &urls, days, &x) != SN_OK ||
        sn_ca_sign_cert_ev(ts_ca_signer, &x, EVP_sha256(), (const uint8_t *)id,
                           strlen(id)) != SN_OK)
        goto out;
    r = write_tsa_file(home, id, x);
out:
    if (r != SN_OK) {
        sn_error("tsa: cannot create the TSA key: %s", sn_err_str(r));
        if (spki != NULL)
            keys->tsa_destroy(keys->arg, id);
    }
    X509_free(x);
    EVP_PKEY_free(pub);
    free(spki);
    return r;
}

/* Reads HOME/ca/tsa.pem: the key id line, then the certificate. */
sn_err
sn_tsa_read_file(const char *home, char *key_id, size_t idlen, X509 **cert)
{
    char path[PATH_MAX];
    uint8_t *text = NULL;
    size_t len = 0, n;
    BIO *b = NULL;
    sn_err r;

    *cert = NULL;
    if ((r = sn_file_read(tsa_path(path, sizeof(path), home, ""), 1 << 20,
                          &text, &len)) != SN_OK)
        return r;
    r = SN_ERR_CONFIG;
    if (strncmp((char *)text, PREFIX, strlen(PREFIX)) != 0)
        goto out;
    n = strcspn((char *)text + strlen(PREFIX), "\n");
    if (n == 0 || n >= idlen)
        goto out;
    memcpy(key_id, text + strlen(PREFIX), n);
    key_id[n] = '\0';
    if ((b = BIO_new_mem_buf(text, (int)len)) == NULL ||
        (*cert = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL)
        goto out;
    r = SN_OK;
out:
    BIO_free(b);
    free(text);
    return r;
}

static sn_err
bind_key(struct sn_tsa *tsa, X509 *cert, const char *key_id,
         struct sn_ca_signer **out)
{
    return tsa->keys.tsa_signer(tsa->keys.arg, key_id, cert, out);
}

static const char *cert_refusal(struct sn_tsa *tsa, X509 *cert,
                                const char *serial);
static sn_err latest(struct sn_tsa *tsa, X509 **cert, char *id, size_t idlen,
                     char *serial, size_t slen);

/* The certificate's serial as the certificates table has it (BN_bn2hex). */
static sn_err
serial_hex(X509 *cert, char *out, size_t len)
{
    BIGNUM *bn = NULL;
    char *hex = NULL;
    sn_err r = SN_ERR_CRYPTO;

    out[0] = '\0';
    if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) == NULL ||
        (hex = BN_bn2hex(bn)) == NULL || strlen(hex) >= len)
        goto out;
    memcpy(out, hex, strlen(hex) + 1);
    r = SN_OK;
out:
    OPENSSL_free(hex);
    BN_free(bn);
    return r;
}

/*
 * The TSA certificate is one the timestamping CA issued: it goes into the
 * certificates table once, so OCSP answers for it and it can be revoked.
 */
static sn_err
register_cert(struct sn_tsa *tsa, X509 *cert, const char *key_id)
{
    struct sn_cert rec;
    unsigned char *der = NULL;
    int n;
    sn_err r = SN_ERR_CRYPTO;

    memset(&rec, 0, sizeof(rec));
    if (serial_hex(cert, rec.serial, sizeof(rec.serial)) != SN_OK ||
        (n = i2d_X509(cert, &der)) <= 0)
        goto out;
    snprintf(rec.ca, sizeof(rec.ca), "timestamping");
    snprintf(rec.key, sizeof(rec.key), "%.36s", key_id);
    snprintf(rec.profile, sizeof(rec.profile), "tsa");
    rec.der = der;
    rec.der_len = (size_t)n;
    rec.issued_at = time(NULL);
    if (sn_x509_validity(cert, &rec.not_before, &rec.not_after) != SN_OK)
        goto out;
    r = sn_store_cert_add(tsa->store, &rec);
    if (r == SN_ERR_EXISTS)
        r = SN_OK;
out:
    OPENSSL_free(der);
    return r;
}

sn_err
sn_tsa_init(struct sn_tsa *tsa, struct sn_store *st,
            const struct sn_ca_keys *keys, const struct sn_tsa_settings *set,
            X509 *issuer, struct sn_ca_signer *issuer_signer)
{
    memset(tsa, 0, sizeof(*tsa));
    pthread_mutex_init(&tsa->lock, NULL);
    pthread_rwlock_init(&tsa->use_lock, NULL);
    tsa->store = st;
    if (keys != NULL)
        tsa->keys = *keys;
    tsa->set = *set;
    if (issuer == NULL || issuer_signer == NULL || !X509_up_ref(issuer))
        return SN_ERR_INVALID;
    tsa->issuer = issuer;
    tsa->issuer_signer = sn_ca_signer_ref(issuer_signer);
    if (set->policy_oid != NULL &&
        (tsa->extra_policy = strdup(set->policy_oid)) == NULL)
        return SN_ERR_NOMEM;
    return SN_OK;
}

sn_err
sn_tsa_use(struct sn_tsa *tsa, X509 *cert, struct sn_ca_signer *signer,
           const char *key_id)
{
    int64_t boot;
    sn_err r;

    if (snprintf(tsa->key_id, sizeof(tsa->key_id), "%s", key_id) >=
        (int)sizeof(tsa->key_id))
        return SN_ERR_INVALID;
    /* Once per TSA: a new key later is sn_tsa_rotate's. */
    if (tsa->cert != NULL || tsa->signer != NULL || cert == NULL ||
        signer == NULL || !X509_up_ref(cert))
        return SN_ERR_INVALID;
    tsa->cert = cert;
    tsa->signer = sn_ca_signer_ref(signer);
    if ((r = serial_hex(tsa->cert, tsa->serial, sizeof(tsa->serial))) !=
            SN_OK ||
        (r = register_cert(tsa, tsa->cert, tsa->key_id)) != SN_OK)
        return r;
    /* A new boot number, durably, before any token of this run. */
    if ((r = sn_store_counter_next(tsa->store, "tsa_boot", &boot)) != SN_OK)
        return r;
    tsa->boot = (uint64_t)boot;
    /* A TSA that starts refusing says so now, not at the first request. */
    (void)cert_refusal(tsa, tsa->cert, tsa->serial);
    return SN_OK;
}

sn_err
sn_tsa_load(struct sn_tsa *tsa, struct sn_store *st,
            const struct sn_ca_keys *keys, const struct sn_tsa_settings *set,
            X509 *issuer, struct sn_ca_signer *issuer_signer)
{
    char key_id[sizeof(tsa->key_id)];
    struct sn_ca_signer *signer = NULL;
    X509 *cert = NULL;
    sn_err r;

    char serial[sizeof(tsa->serial)];

    if ((r = sn_tsa_init(tsa, st, keys, set, issuer, issuer_signer)) != SN_OK)
        return r;
    if ((r = sn_tsa_read_file(set->home, key_id, sizeof(key_id), &cert)) !=
        SN_OK)
        sn_error("tsa: cannot read HOME/ca/tsa.pem");
    else
        r = bind_key(tsa, cert, key_id, &signer);
    /* Several nodes: another may have rotated while this one was away
     * (the key HOME/ca/tsa.pem names is gone): the newest recorded. */
    if (r != SN_OK) {
        X509_free(cert);
        if (latest(tsa, &cert, key_id, sizeof(key_id), serial,
                   sizeof(serial)) == SN_OK &&
            bind_key(tsa, cert, key_id, &signer) == SN_OK) {
            sn_warn("tsa: HOME/ca/tsa.pem names no usable key; using the "
                    "newest TSA certificate recorded (key %s)",
                    key_id);
            (void)write_tsa_file(set->home, key_id, cert);
            r = SN_OK;
        }
    }
    if (r == SN_OK)
        r = sn_tsa_use(tsa, cert, signer, key_id);
    sn_ca_signer_free(signer);
    X509_free(cert);
    return r;
}

void
sn_tsa_cleanup(struct sn_tsa *tsa)
{
    X509_free(tsa->cert);
    sn_ca_signer_free(tsa->signer);
    free(tsa->extra_policy);
    X509_free(tsa->issuer);
    sn_ca_signer_free(tsa->issuer_signer);
    pthread_rwlock_destroy(&tsa->use_lock);
    pthread_mutex_destroy(&tsa->lock);
    memset(tsa, 0, sizeof(*tsa));
}

/* serial = boot << 40 | counter: unique across restarts and crashes. */
static BIGNUM *
next_serial(struct sn_tsa *tsa)
{
    uint64_t n = __atomic_add_fetch(&tsa->counter, 1, __ATOMIC_SEQ_CST);
    BIGNUM *bn = BN_new();

    if (bn != NULL && BN_set_word(bn, tsa->boot) == 1 &&
        BN_lshift(bn, bn, 40) == 1 && BN_add_word(bn, n) == 1)
        return bn;
    BN_free(bn);
    return NULL;
}

static ASN1_INTEGER *
serial_cb(TS_RESP_CTX *ctx, void *data)
{
    BIGNUM *bn = next_serial(data);
    ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;

    BN_free(bn);
    if (ai == NULL) {
        TS_RESP_CTX_set_status_info(ctx, TS_STATUS_REJECTION,
                                    "Error during serial number generation.");
        TS_RESP_CTX_add_failure_info(ctx, TS_INFO_ADD_INFO_NOT_AVAILABLE);
    }
    return ai;
}

struct time_arg {
    struct sn_tsa *tsa;
    const char *refuse; /* why no token may be issued (statusString) */
    int fail;           /* its failInfo (TS_INFO_*) */
};

static void
clock_event(struct sn_tsa *tsa, const char *what, double drift)
{
    struct sn_audit a;

    sn_warn("tsa: %s (%.3f s against the monotonic clock)", what, drift);
    /* What sn_audit_init makes of a record without a request. */
    memset(&a, 0, sizeof(a));
    a.time = time(NULL);
    snprintf(a.action, sizeof(a.action), "tsa_clock");
    snprintf(a.result, sizeof(a.result), "warning");
    snprintf(a.detail, sizeof(a.detail), "%s: %.3f s", what, drift);
    if (sn_store_audit_add(tsa->store, &a) != SN_OK)
        sn_error("audit: cannot record a clock event");
}

/*
 * Reads the wall clock and compares it with the monotonic clock since the
 * previous token. A jump of a second or more either way is an audit event;
 * going back by more than the stated accuracy stops the TSA until an
 * operator confirms. 1 if a time may be issued (in *wall).
 */
static int
clock_check(struct sn_tsa *tsa, struct timespec *wall)
{
    struct timespec mono;
    double drift = 0;
    int ok;

    clock_gettime(CLOCK_REALTIME, wall);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    pthread_mutex_lock(&tsa->lock);
    if (tsa->have_last) {
        double dw = (double)(wall->tv_sec - tsa->last_wall.tv_sec) +
                    (double)(wall->tv_nsec - tsa->last_wall.tv_nsec) / 1e9;
        double dm = (double)(mono.tv_sec - tsa->last_mono.tv_sec) +
                    (double)(mono.tv_nsec - tsa->last_mono.tv_nsec) / 1e9;
        drift = dw - dm;
    }
    if (drift <= -(double)tsa->set.accuracy_ms / 1000.0)
        tsa->clock_refused = 1;
    ok = !tsa->clock_refused;
    tsa->have_last = 1;
    tsa->last_wall = *wall;
    tsa->last_mono = mono;
    pthread_mutex_unlock(&tsa->lock);
    if (drift >= 1.0 || drift <= -1.0 || !ok)
        clock_event(tsa,
                    ok ? "wall clock jumped"
                       : "wall clock went back past the accuracy; refusing",
                    drift);
    return ok;
}

/*
 * 1 if the key is past its usage period: notBefore plus 15 calendar
 * months, the day kept within the month (30 November -> 28 or 29
 * February), so the period is never longer than the months the CSBR
 * counts. An unreadable notBefore counts as past.
 */
static int
key_expired(X509 *cert, time_t now)
{
    struct tm tm;
    time_t end;

    if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm) != 1 ||
        !sn_tm_add_months(tm, KEY_USE_MONTHS, &end))
        return 1;
    return now >= end;
}

/*
 * Whether the certificate of serial is revoked. The store is asked only
 * when a revocation was written since the last answer (or the certificate
 * changed): the generation is taken before the read, so a revocation
 * committed during the read moves it and the next request reads again.
 */
static sn_err
cert_revoked(struct sn_tsa *tsa, const char *serial, int *revoked)
{
    unsigned long gen = sn_store_revocation_gen(tsa->store);
    struct sn_cert c;
    int known;
    sn_err r;

    *revoked = 0;
    pthread_mutex_lock(&tsa->lock);
    known = tsa->status_known && strcmp(tsa->serial, serial) == 0 &&
            (tsa->revoked || tsa->status_gen == gen);
    if (known)
        *revoked = tsa->revoked;
    pthread_mutex_unlock(&tsa->lock);
    if (known)
        return SN_OK;
    memset(&c, 0, sizeof(c));
    if ((r = sn_store_cert_get(tsa->store, "timestamping", serial, &c)) !=
        SN_OK)
        return r;
    *revoked = c.revoked != 0;
    sn_cert_cleanup(&c);
    pthread_mutex_lock(&tsa->lock);
    if (strcmp(tsa->serial, serial) == 0) {
        tsa->status_known = 1;
        tsa->status_gen = gen;
        tsa->revoked = *revoked;
    }
    pthread_mutex_unlock(&tsa->lock);
    return SN_OK;
}

/*
 * Why no token may be signed with cert (serial) now, or NULL: the
 * certificate is revoked (any reason), outside its validity, or its key
 * is past the 15-month usage period (CSBR 6.3.2). Each of these lasts
 * until an operator rotates the key (signet tsa rotate). A status that
 * cannot be read is a refusal too. Logged when the reason changes.
 */
static const char *
cert_refusal(struct sn_tsa *tsa, X509 *cert, const char *serial)
{
    time_t now = time(NULL);
    const char *why = NULL, *was;
    int revoked = 0;

    if (cert_revoked(tsa, serial, &revoked) != SN_OK)
        why = "TSA certificate status unavailable.";
    else if (revoked)
        why = "TSA certificate revoked.";
    else if (X509_cmp_time(X509_get0_notAfter(cert), &now) <= 0)
        why = "TSA certificate expired.";
    else if (X509_cmp_time(X509_get0_notBefore(cert), &now) >= 0)
        why = "TSA certificate not yet valid.";
    else if (key_expired(cert, now))
        why = "TSA key past its 15-month usage period.";
    pthread_mutex_lock(&tsa->lock);
    was = tsa->refusing;
    tsa->refusing = why;
    pthread_mutex_unlock(&tsa->lock);
    if (why != NULL && why != was)
        sn_warn("tsa: refusing time-stamps: %s Rotate the TSA key "
                "(signet tsa rotate).",
                why);
    else if (why == NULL && was != NULL)
        sn_info("tsa: issuing time-stamps again");
    return why;
}

/*
 * genTime source with clock discipline: the wall clock is compared with
 * the monotonic clock since the previous token. A jump of a second or more
 * either way is an audit event; going back by more than the stated
 * accuracy stops the TSA (timeNotAvailable) until an operator confirms.
 */
static int
time_cb(TS_RESP_CTX *ctx, void *data, long *sec, long *usec)
{
    struct time_arg *ta = data;
    struct timespec wall;
    int ok;

    /* Refused before the token is made (and signed): the TSA cannot sign
     * (systemFailure) or the request asks for what it will not sign
     * (badRequest). */
    if (ta->refuse != NULL) {
        TS_RESP_CTX_set_status_info(ctx, TS_STATUS_REJECTION, ta->refuse);
        TS_RESP_CTX_add_failure_info(ctx, ta->fail);
        return 0;
    }
    ok = clock_check(ta->tsa, &wall);
    if (!ok) {
        TS_RESP_CTX_set_status_info(ctx, TS_STATUS_REJECTION,
                                    "Time is not available.");
        TS_RESP_CTX_add_failure_info(ctx, TS_INFO_TIME_NOT_AVAILABLE);
        return 0;
    }
    *sec = (long)wall.tv_sec;
    *usec = (long)(wall.tv_nsec / 1000);
    return 1;
}

void
sn_tsa_clock_ok(struct sn_tsa *tsa)
{
    pthread_mutex_lock(&tsa->lock);
    tsa->clock_refused = 0;
    tsa->have_last = 0;
    pthread_mutex_unlock(&tsa->lock);
}

static sn_err
to_malloc(unsigned char *p, int n, uint8_t **der, size_t *dlen)
{
    if (n <= 0)
        return SN_ERR_CRYPTO;
    if ((*der = malloc((size_t)n)) == NULL)
        return SN_ERR_NOMEM;
    memcpy(*der, p, (size_t)n);
    *dlen = (size_t)n;
    return SN_OK;
}

/* The token's record (*out NULL for a rejection: no token was issued). */
static sn_err
record(TS_RESP *resp, struct sn_tsa_record **out)
{
    TS_TST_INFO *info = TS_RESP_get_tst_info(resp);
    TS_MSG_IMPRINT *mi;
    X509_ALGOR *alg;
    ASN1_OCTET_STRING *imp;
    const ASN1_GENERALIZEDTIME *gt;
    struct sn_tsa_record *t = NULL;
    BIGNUM *bn = NULL;
    char *serial = NULL;
    sn_err r = SN_ERR_CRYPTO;
    int n;

    *out = NULL;
    if (info == NULL)
        return SN_OK;
    mi = TS_TST_INFO_get_msg_imprint(info);
    alg = TS_MSG_IMPRINT_get_algo(mi);
    imp = TS_MSG_IMPRINT_get_msg(mi);
    gt = TS_TST_INFO_get_time(info);
    if ((t = calloc(1, sizeof(*t))) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    if ((bn = ASN1_INTEGER_to_BN(TS_TST_INFO_get_serial(info), NULL)) == NULL ||
        (serial = BN_bn2hex(bn)) == NULL ||
        strlen(serial) >= sizeof(t->serial) ||
        OBJ_obj2txt(t->hash, sizeof(t->hash), alg->algorithm, 0) <= 0 ||
        OBJ_obj2txt(t->policy, sizeof(t->policy),
                    TS_TST_INFO_get_policy_id(info), 1) <= 0 ||
        (n = ASN1_STRING_length(imp)) <= 0 ||
        2 * (size_t)n >= sizeof(t->imprint) ||
        (size_t)ASN1_STRING_length(gt) >= sizeof(t->gen_time))
        goto out;
    memcpy(t->serial, serial, strlen(serial) + 1);
    sn_hex_encode(ASN1_STRING_get0_data(imp), (size_t)n, t->imprint);
    memcpy(t->gen_time, ASN1_STRING_get0_data(gt),
           (size_t)ASN1_STRING_length(gt));
    *out = t;
    t = NULL;
    r = SN_OK;
out:
    free(t);
    OPENSSL_free(serial);
    BN_free(bn);
    return r;
}

/*
 * The request as OpenSSL's TS code reads it. Strict DER: the request is
 * exactly one TimeStampReq; anything else is handed on as an empty
 * request, which OpenSSL answers with badDataFormat. A nonce is echoed in
 * the signed token, so its size is bounded as RFC 8954 bounds OCSP's: at
 * most 32 octets of value (the DER INTEGER may add a sign octet, which a
 * 256-bit random nonce needs half the time). *why is then the rejection's
 * statusString (failInfo badRequest); no token is made. An INTEGER of no
 * octets is not DER: badDataFormat.
 */
static sn_err
request_in(const uint8_t *req, size_t len, BIO **in, const char **why)
{
    const unsigned char *p = req;
    TS_REQ *probe = NULL;
    const ASN1_INTEGER *nonce;
    unsigned char *re = NULL;
    int n = -1, exact;

    *in = NULL;
    *why = NULL;
    if (len <= INT_MAX && (probe = d2i_TS_REQ(NULL, &p, (long)len)) != NULL)
        n = i2d_TS_REQ(probe, &re);
    exact = probe != NULL && sn_der_exact(req, len, p, re, n);
    if (exact && (nonce = TS_REQ_get_nonce(probe)) != NULL &&
        ASN1_STRING_length(nonce) > TSA_NONCE_MAX)
        *why = "Nonce longer than 32 octets.";
    OPENSSL_free(re);
    TS_REQ_free(probe);
    if ((*in = BIO_new_mem_buf(exact ? req : (const uint8_t *)"",
                               exact ? (int)len : 0)) == NULL)
        return SN_ERR_NOMEM;
    return SN_OK;
}

sn_err
sn_tsa_respond(struct sn_tsa *tsa, const uint8_t *req, size_t len,
               uint8_t **der, size_t *dlen, struct sn_tsa_record **rec)
{
    struct time_arg ta = {tsa, NULL, TS_INFO_SYSTEM_FAILURE};
    const char *bad = NULL;
    char serial[sizeof(tsa->serial)];
    TS_RESP_CTX *ctx = NULL;
    TS_RESP *resp = NULL;
    STACK_OF(X509) *chain = NULL;
    ASN1_OBJECT *def = NULL, *extra = NULL, *capol = NULL;
    unsigned char *p = NULL;
    BIO *in = NULL;
    int dl;
    sn_err r = SN_ERR_CRYPTO;
    X509 *cert;
    struct sn_ca_signer *signer;

    *der = NULL;
    *dlen = 0;
    *rec = NULL;
    /* Held until the reply is built: a rotation waits for it before it
     * destroys the key this request signs with. */
    pthread_rwlock_rdlock(&tsa->use_lock);
    pthread_mutex_lock(&tsa->lock);
    cert = tsa->cert;
    signer = sn_ca_signer_ref(tsa->signer);
    memcpy(serial, tsa->serial, sizeof(serial));
    X509_up_ref(cert);
    pthread_mutex_unlock(&tsa->lock);
    /* Revoked, expired, key past 15 months: time_cb refuses. */
    ta.refuse = cert_refusal(tsa, cert, serial);
    if ((ctx = TS_RESP_CTX_new()) == NULL ||
        (chain = sk_X509_new_null()) == NULL ||
        !sk_X509_push(chain, tsa->issuer) ||
        TS_RESP_CTX_set_signer_cert(ctx, cert) != 1 ||
        TS_RESP_CTX_set_certs(ctx, chain) != 1 ||
        TS_RESP_CTX_set_signer_digest(ctx, EVP_sha256()) != 1 ||
        TS_RESP_CTX_set_ess_cert_id_digest(ctx, EVP_sha256()) != 1 ||
        (def = OBJ_txt2obj(CSBR_TSA_POLICY, 1)) == NULL ||
        TS_RESP_CTX_set_def_policy(ctx, def) != 1 ||
        (capol = OBJ_txt2obj(tsa->set.ca_policy, 1)) == NULL ||
        TS_RESP_CTX_add_policy(ctx, capol) != 1 ||
        (tsa->extra_policy != NULL &&
         ((extra = OBJ_txt2obj(tsa->extra_policy, 1)) == NULL ||
          TS_RESP_CTX_add_policy(ctx, extra) != 1)) ||
        TS_RESP_CTX_add_md(ctx, EVP_sha256()) != 1 ||
        TS_RESP_CTX_add_md(ctx, EVP_sha384()) != 1 ||
        TS_RESP_CTX_add_md(ctx, EVP_sha512()) != 1 ||
        TS_RESP_CTX_set_accuracy(ctx, (int)(tsa->set.accuracy_ms / 1000),
                                 (int)(tsa->set.accuracy_ms % 1000), 0) != 1 ||
        TS_RESP_CTX_set_clock_precision_digits(ctx, 3) != 1)
        goto out;
    TS_RESP_CTX_set_serial_cb(ctx, serial_cb, tsa);
    TS_RESP_CTX_set_time_cb(ctx, time_cb, &ta);
    if ((r = request_in(req, len, &in, &bad)) != SN_OK)
        goto out;
    if (bad != NULL) {
        ta.refuse = bad;
        ta.fail = TS_INFO_BAD_REQUEST;
    }
    /* Malformed requests come back as a rejection, not as NULL. */
    if ((r = sn_ca_sign_tst(signer, ctx, in, &resp)) != SN_OK)
        goto out;
    if ((r = record(resp, rec)) != SN_OK) {
        sn_error("tsa: cannot make a token's record; not returned");
        goto out;
    }
    /* i2d first: the order in which arguments are evaluated is not
     * defined, and p must be read after i2d set it. */
    dl = i2d_TS_RESP(resp, &p);
    if ((r = to_malloc(p, dl, der, dlen)) != SN_OK) {
        free(*rec);
        *rec = NULL;
    }
out:
    ERR_clear_error();
    OPENSSL_free(p);
    BIO_free(in);
    TS_RESP_free(resp);
    TS_RESP_CTX_free(ctx);
    sk_X509_free(chain);
    ASN1_OBJECT_free(def);
    ASN1_OBJECT_free(capol);
    ASN1_OBJECT_free(extra);
    X509_free(cert);
    sn_ca_signer_free(signer);
    pthread_rwlock_unlock(&tsa->use_lock);
    return r;
}

/* ---- legacy Authenticode ---- */

/*
 * TimeStampRequest ::= SEQUENCE {
 *   countersignatureType OBJECT IDENTIFIER,   -- 1.3.6.1.4.1.311.3.2.1
 *   attributes Attributes OPTIONAL,
 *   content ContentInfo }                     -- data, [0] signature bytes
 */
typedef struct {
    ASN1_OBJECT *type;
    ASN1_OCTET_STRING *data;
} AC_CONTENT;

typedef struct {
    ASN1_OBJECT *type;
    AC_CONTENT *content;
} AC_REQ;

/* clang-format off */
ASN1_SEQUENCE(AC_CONTENT) = {
    ASN1_SIMPLE(AC_CONTENT, type, ASN1_OBJECT),
    ASN1_EXP_OPT(AC_CONTENT, data, ASN1_OCTET_STRING, 0)
} static_ASN1_SEQUENCE_END(AC_CONTENT)

ASN1_SEQUENCE(AC_REQ) = {
    ASN1_SIMPLE(AC_REQ, type, ASN1_OBJECT),
    ASN1_SIMPLE(AC_REQ, content, AC_CONTENT)
} static_ASN1_SEQUENCE_END(AC_REQ)
    /* clang-format on */

    static sn_err
    b64_lenient(const uint8_t *body, size_t len, uint8_t **out, size_t *outlen)
{
    char *clean;
    size_t i, o = 0;
    sn_err r;

    /* Clients wrap lines and some send a trailing NUL byte. */
    if ((clean = malloc(len + 1)) == NULL)
        return SN_ERR_NOMEM;
    for (i = 0; i < len; i++) {
        if (body[i] == '\r' || body[i] == '\n' || body[i] == ' ' ||
            body[i] == '\t' || (body[i] == '\0' && i + 1 == len))
            continue;
        clean[o++] = (char)body[i];
    }
    clean[o] = '\0';
    r = sn_b64_decode(clean, out, outlen);
    free(clean);
    return r;
}

/* An Authenticode token's record: serial, time, SHA-256 of the signed
 * bytes. */
static sn_err
record_authenticode(struct sn_tsa *tsa, const ASN1_OCTET_STRING *data,
                    const struct timespec *wall, struct sn_tsa_record **out)
{
    uint8_t md[32];
    unsigned int mdlen = 0;
    char gen[SN_TIME_LEN], *hex = NULL;
    struct sn_tsa_record *t = NULL;
    BIGNUM *bn = NULL;
    sn_err r = SN_ERR_CRYPTO;

    *out = NULL;
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return SN_ERR_NOMEM;
    if (EVP_Digest(ASN1_STRING_get0_data(data),
                   (size_t)ASN1_STRING_length(data), md, &mdlen, EVP_sha256(),
                   NULL) != 1 ||
        mdlen != sizeof(md) || (bn = next_serial(tsa)) == NULL ||
        (hex = BN_bn2hex(bn)) == NULL || strlen(hex) >= sizeof(t->serial))
        goto out;
    sn_hex_encode(md, sizeof(md), t->imprint);
    sn_time_format(wall->tv_sec, gen);
    snprintf(t->serial, sizeof(t->serial), "%s", hex);
    snprintf(t->gen_time, sizeof(t->gen_time), "%s", gen);
    snprintf(t->hash, sizeof(t->hash), "sha256");
    snprintf(t->policy, sizeof(t->policy), "authenticode");
    *out = t;
    t = NULL;
    r = SN_OK;
out:
    free(t);
    OPENSSL_free(hex);
    BN_free(bn);
    return r;
}

sn_err
sn_tsa_authenticode(struct sn_tsa *tsa, const uint8_t *body, size_t len,
                    char **b64, struct sn_tsa_record **rec)
{
    uint8_t *der = NULL;
    size_t dlen = 0;
    const unsigned char *p;
    AC_REQ *req = NULL;
    ASN1_OBJECT *want = NULL;
    STACK_OF(X509) *chain = NULL;
    PKCS7 *p7 = NULL;
    BIO *data = NULL;
    unsigned char *out = NULL;
    struct timespec wall;
    char serial[sizeof(tsa->serial)];
    X509 *cert;
    struct sn_ca_signer *signer;
    int n;
    sn_err r;

    *b64 = NULL;
    *rec = NULL;
    pthread_rwlock_rdlock(&tsa->use_lock);
    pthread_mutex_lock(&tsa->lock);
    cert = tsa->cert;
    signer = sn_ca_signer_ref(tsa->signer);
    memcpy(serial, tsa->serial, sizeof(serial));
    X509_up_ref(cert);
    pthread_mutex_unlock(&tsa->lock);
    if ((r = b64_lenient(body, len, &der, &dlen)) != SN_OK)
        goto out;
    /* The same refusals as RFC 3161: certificate revoked or expired, key
     * past 15 months, clock back. */
    if (cert_refusal(tsa, cert, serial) != NULL || !clock_check(tsa, &wall)) {
        r = SN_ERR_STATE;
        goto out;
    }
    r = SN_ERR_INVALID;
    p = der;
    if ((req = (AC_REQ *)ASN1_item_d2i(NULL, &p, (long)dlen,
                                       ASN1_ITEM_rptr(AC_REQ))) == NULL ||
        p != der + dlen || req->content == NULL || req->content->data == NULL ||
        (want = OBJ_txt2obj("1.3.6.1.4.1.311.3.2.1", 1)) == NULL ||
        OBJ_cmp(req->type, want) != 0 ||
        OBJ_obj2nid(req->content->type) != NID_pkcs7_data)
        goto out;
    r = SN_ERR_CRYPTO;
    if ((chain = sk_X509_new_null()) == NULL ||
        !sk_X509_push(chain, tsa->issuer) ||
        (data = BIO_new_mem_buf(ASN1_STRING_get0_data(req->content->data),
                                ASN1_STRING_length(req->content->data))) ==
            NULL)
        goto out;
    /* SignedData over the signature bytes, with signingTime. */
    if ((r = sn_ca_sign_pkcs7(signer, cert, chain, data,
                              PKCS7_BINARY | PKCS7_NOSMIMECAP, &p7)) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if ((n = i2d_PKCS7(p7, &out)) <= 0)
        goto out;
    if ((r = record_authenticode(tsa, req->content->data, &wall, rec)) != SN_OK)
        goto out;
    if ((r = sn_b64_encode(out, (size_t)n, b64)) != SN_OK) {
        free(*rec);
        *rec = NULL;
    }
out:
    ERR_clear_error();
    OPENSSL_free(out);
    PKCS7_free(p7);
    BIO_free(data);
    sk_X509_free(chain);
    ASN1_OBJECT_free(want);
    ASN1_item_free((ASN1_VALUE *)req, ASN1_ITEM_rptr(AC_REQ));
    free(der);
    X509_free(cert);
    sn_ca_signer_free(signer);
    pthread_rwlock_unlock(&tsa->use_lock);
    return r;
}

static sn_err rotate(struct sn_tsa *tsa, char *new_key_id, size_t idlen);

/* One change of key at a time: a rotation writes and then reads
 * HOME/ca/tsa.pem; following another node's is the same swap. */
static pthread_mutex_t changing = PTHREAD_MUTEX_INITIALIZER;

sn_err
sn_tsa_rotate(struct sn_tsa *tsa, char *new_key_id, size_t idlen)
{
    sn_err r;

    pthread_mutex_lock(&changing);
    r = rotate(tsa, new_key_id, idlen);
    pthread_mutex_unlock(&changing);
    return r;
}

/* cert and signer become the TSA's (it owns them from then); the old
 * key's id goes to old_id. Returns once no request uses the old pair. */
static void
adopt(struct sn_tsa *tsa, X509 *cert, struct sn_ca_signer *signer,
      const char *id, const char *serial, char *old_id, size_t oldlen)
{
    X509 *old_cert;
    struct sn_ca_signer *old_signer;

    pthread_mutex_lock(&tsa->lock);
    old_cert = tsa->cert;
    old_signer = tsa->signer;
    snprintf(old_id, oldlen, "%s", tsa->key_id);
    tsa->cert = cert;
    tsa->signer = signer;
    snprintf(tsa->key_id, sizeof(tsa->key_id), "%s", id);
    snprintf(tsa->serial, sizeof(tsa->serial), "%s", serial);
    tsa->status_known = 0; /* the new certificate's status is read afresh */
    pthread_mutex_unlock(&tsa->lock);
    /* Requests that took the old pair finish first. */
    pthread_rwlock_wrlock(&tsa->use_lock);
    pthread_rwlock_unlock(&tsa->use_lock);
    X509_free(old_cert);
    sn_ca_signer_free(old_signer);
}

/* The newest TSA certificate recorded, its key id and serial. */
static sn_err
latest(struct sn_tsa *tsa, X509 **cert, char *id, size_t idlen, char *serial,
       size_t slen)
{
    struct sn_cert c;
    const unsigned char *p;
    sn_err r;

    *cert = NULL;
    if ((r = sn_store_cert_latest(tsa->store, "timestamping", "tsa", &c)) !=
        SN_OK)
        return r;
    snprintf(id, idlen, "%s", c.key);
    snprintf(serial, slen, "%s", c.serial);
    p = c.der;
    if ((*cert = d2i_X509(NULL, &p, (long)c.der_len)) == NULL)
        r = SN_ERR_CRYPTO;
    sn_cert_cleanup(&c);
    return r;
}

sn_err
sn_tsa_follow(struct sn_tsa *tsa)
{
    char id[64], serial[sizeof(tsa->serial)], old_id[64];
    struct sn_ca_signer *signer = NULL;
    X509 *cert = NULL;
    int same;
    sn_err r;

    pthread_mutex_lock(&changing);
    if ((r = latest(tsa, &cert, id, sizeof(id), serial, sizeof(serial))) !=
        SN_OK) {
        if (r == SN_ERR_NOT_FOUND)
            r = SN_OK;
        else
            sn_error("tsa: the newest TSA certificate cannot be read: %s",
                     sn_err_str(r));
        goto out;
    }
    pthread_mutex_lock(&tsa->lock);
    same = strcmp(serial, tsa->serial) == 0;
    pthread_mutex_unlock(&tsa->lock);
    if (same)
        goto out;
    if ((r = bind_key(tsa, cert, id, &signer)) != SN_OK) {
        sn_error("tsa: another node's new TSA key %s cannot be bound: %s", id,
                 sn_err_str(r));
        goto out;
    }
    /* this node's restart starts from it too */
    if (write_tsa_file(tsa->set.home, id, cert) != SN_OK)
        sn_warn("tsa: HOME/ca/tsa.pem not updated to key %s", id);
    adopt(tsa, cert, signer, id, serial, old_id, sizeof(old_id));
    cert = NULL;
    signer = NULL;
    sn_info("tsa: following another node's rotation: from %s to %s", old_id,
            id);
out:
    pthread_mutex_unlock(&changing);
    X509_free(cert);
    sn_ca_signer_free(signer);
    return r;
}

static sn_err
rotate(struct sn_tsa *tsa, char *new_key_id, size_t idlen)
{
    char old_id[64], new_id[64], new_serial[sizeof(tsa->serial)];
    X509 *cert = NULL;
    struct sn_ca_signer *signer = NULL;
    sn_err r;

    if (tsa->issuer_signer == NULL)
        return SN_ERR_STATE;
    if ((r = sn_tsa_create(&tsa->keys, tsa->set.home, tsa->issuer,
                           tsa->issuer_signer, tsa->set.key_algorithm,
                           tsa->set.org, tsa->set.country, tsa->set.base_url,
                           tsa->set.ca_policy)) != SN_OK)
        return r;
    if ((r = sn_tsa_read_file(tsa->set.home, new_id, sizeof(new_id), &cert)) !=
            SN_OK ||
        (r = serial_hex(cert, new_serial, sizeof(new_serial))) != SN_OK ||
        (r = bind_key(tsa, cert, new_id, &signer)) != SN_OK ||
        (r = register_cert(tsa, cert, new_id)) != SN_OK) {
        sn_ca_signer_free(signer);
        X509_free(cert);
        return r;
    }
    adopt(tsa, cert, signer, new_id, new_serial, old_id, sizeof(old_id));
    if (tsa->keys.tsa_destroy(tsa->keys.arg, old_id) != SN_OK)
        sn_error("tsa: old TSA key %s could not be destroyed", old_id);
    sn_info("tsa: rotated from %s to %s", old_id, new_id);
    snprintf(new_key_id, idlen, "%s", new_id);
    return SN_OK;
}
