/*
 * ca: creation and use of the CA keys. Requests reaching the OCSP
 * responder are untrusted DER, bounded by the router's body limit and
 * parsed by OpenSSL; everything else here is the service's own data.
 */
#include "pki/ca.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/x509util.h"
#include "hsm/hsmpkey.h"
#include "pki/casigner.h"
#include "store/store.h"

#define CRL_VALID_DAYS 7  /* nextUpdate; CSBR allows at most 10 */
#define OCSP_VALID_DAYS 7 /* CSBR: at most 10 */
#define OCSP_NONCE_MIN 1  /* RFC 8954: a nonce is 1..32 octets */
#define OCSP_NONCE_MAX 32
#define OCSP_CERTIDS_MAX 16 /* CertIDs in one request */
/*
 * Anyone may ask for OCSP, and every fresh answer is a CA-key signature in
 * the HSM the subscribers sign with. An answer to a request without a
 * nonce (one with a nonce must echo it) and with one CertID is kept for
 * an hour: about certificates this CA issued, until the next revocation;
 * about a serial it never issued ("unknown"), in a cache of its own, so
 * that asking for random serials cannot push the others out, and served
 * only while the store still has no such serial (see ocsp_kept).
 */
#define OCSP_CACHE_SECS 3600
#define OCSP_CACHE_MAX 8192
#define OCSP_CACHE_ANSWER_MAX 16384 /* bytes; a larger answer is not kept */
/* "unknown" answers: the caller picks the serial, and so the size; one
 * with a 20-octet serial, a SHA-512 CertID and an RSA-4096 signature is
 * under 1 KiB. At most 16 MiB in all. */
#define OCSP_UNKNOWN_MAX 4096
#define OCSP_UNKNOWN_ANSWER_MAX 4096

/*
 * The hierarchy. A home made by plain `signetd init` holds every key,
 * the root's included, in the service token: a test hierarchy, named so
 * (test_cn). A production root is made by the offline ceremony
 * (sn_ca_ceremony) and certifies issuing CA keys generated in the service
 * token (sn_ca_request, sn_ca_install); only the certificates travel.
 */
static const struct {
    const char *name;   /* file HOME/ca/<name>.pem, URL /ca/<name>.cer */
    const char *key_id; /* CKA_ID in the service (or root) token */
    const char *cn;
    const char *test_cn; /* CN in a test (all-in-one) hierarchy */
    enum sn_keyalg alg;
    int days;
    int issuer; /* enum sn_ca_kind of the issuer; itself for roots */
} cas[SN_CA_COUNT] = {
    [SN_CA_ROOT] = {"root", "ca-root", "Signet Root CA",
                    "Signet TEST Root CA - not for public trust",
                    SN_KEY_RSA4096, 25 * 365, SN_CA_ROOT},
    [SN_CA_CODESIGNING] = {"codesigning", "ca-codesigning",
                           "Signet Code Signing CA",
                           "Signet TEST Code Signing CA - not for public trust",
                           SN_KEY_RSA4096, 15 * 365, SN_CA_ROOT},
    /* CSBR 6.2.7.2: an online timestamping CA lasts at most 72 months. */
    [SN_CA_TIMESTAMPING] = {"timestamping", "ca-timestamping",
                            "Signet Timestamping CA",
                            "Signet TEST Timestamping CA - not for public "
                            "trust",
                            SN_KEY_RSA4096, 6 * 365, SN_CA_ROOT},
    [SN_CA_ATT_ROOT] = {"attest-root", "attest-root",
                        "Signet Key Attestation Root",
                        "Signet TEST Key Attestation Root - not for public "
                        "trust",
                        SN_KEY_P384, 25 * 365, SN_CA_ATT_ROOT},
    [SN_CA_ATT_ISSUER] = {"attest-issuer", "attest-issuer",
                          "Signet Key Attestation Issuer",
                          "Signet TEST Key Attestation Issuer - not for "
                          "public trust",
                          SN_KEY_P384, 15 * 365, SN_CA_ATT_ROOT},
};

const char *
sn_ca_name(enum sn_ca_kind kind)
{
    return (unsigned)kind < SN_CA_COUNT ? cas[kind].name : "unknown";
}

const char *
sn_ca_key_id(enum sn_ca_kind kind)
{
    return (unsigned)kind < SN_CA_COUNT ? cas[kind].key_id : NULL;
}

enum sn_keyalg
sn_ca_key_alg(enum sn_ca_kind kind)
{
    return (unsigned)kind < SN_CA_COUNT ? cas[kind].alg : SN_KEY_COUNT;
}

int
sn_ca_from_name(const char *name, enum sn_ca_kind *out)
{
    int i;

    for (i = 0; i < SN_CA_COUNT; i++) {
        if (strcmp(name, cas[i].name) == 0) {
            *out = (enum sn_ca_kind)i;
            return 1;
        }
    }
    return 0;
}

static const EVP_MD *
md_for(enum sn_ca_kind kind)
{
    return sn_keyalg_is_rsa(cas[kind].alg) ? EVP_sha256() : EVP_sha384();
}

const EVP_MD *
sn_ca_md(enum sn_ca_kind kind)
{
    return md_for(kind);
}

static void
ca_path(char *buf, size_t len, const char *home, enum sn_ca_kind kind)
{
    if (snprintf(buf, len, "%s/ca/%s.pem", home, cas[kind].name) >= (int)len)
        buf[0] = '\0';
}

static sn_err
read_cert(const char *path, X509 **out)
{
    BIO *b = BIO_new_file(path, "r");

    *out = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return *out ? SN_OK : SN_ERR_IO;
}

/* The HSM-backed signing key of kind whose public half is pub. Only the
 * possession check (holds_key) signs with it directly, a fixed message;
 * certificates, requests, CRLs and OCSP answers go through a typed
 * signer (signer_of). */
static sn_err
pkey_of(struct sn_hsm_token *tok, enum sn_ca_kind kind, EVP_PKEY *pub,
        EVP_PKEY **out)
{
    unsigned char *spki = NULL;
    int n;
    sn_err r;

    *out = NULL;
    if ((n = i2d_PUBKEY(pub, &spki)) <= 0)
        return SN_ERR_CRYPTO;
    r = sn_hsm_pkey(tok, cas[kind].key_id, cas[kind].alg, spki, (size_t)n, out);
    OPENSSL_free(spki);
    return r;
}

static sn_err
pkey_for(struct sn_hsm_token *tok, enum sn_ca_kind kind, X509 *cert,
         EVP_PKEY **out)
{
    return pkey_of(tok, kind, X509_get0_pubkey(cert), out);
}

/* The signer of kind's HSM key, whose public half is pub. */
static sn_err
signer_of(struct sn_hsm_token *tok, enum sn_ca_kind kind, EVP_PKEY *pub,
          struct sn_ca_signer **out)
{
    return sn_ca_signer_hsm(tok, cas[kind].key_id, cas[kind].alg, pub, out);
}

/* Writes data to path through path.new and a rename: path may exist. */
static sn_err
write_replace(const char *path, const void *data, size_t len, int mode)
{
    char tmp[PATH_MAX];
    sn_err r;

    if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
        return SN_ERR_INVALID;
    unlink(tmp);
    if ((r = sn_file_write_new(tmp, data, len, mode)) != SN_OK)
        return r;
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return SN_ERR_IO;
    }
    return SN_OK;
}

static sn_err
write_pem(const char *path, X509 *x, int replace)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long len;
    sn_err r = SN_ERR_CRYPTO;

    if (b != NULL && PEM_write_bio_X509(b, x) == 1 &&
        (len = BIO_get_mem_data(b, &data)) > 0)
        r = replace ? write_replace(path, data, (size_t)len, 0600)
                    : sn_file_write_new(path, data, (size_t)len, 0600);
    BIO_free(b);
    if (r != SN_OK)
        sn_error("ca: cannot write %s: %s", path, sn_err_str(r));
    return r;
}

/* Generates the key of kind on tok; *pub is its public half. */
static sn_err
gen_key(struct sn_hsm_token *tok, enum sn_ca_kind kind, EVP_PKEY **pub)
{
    struct sn_key_facts facts;
    const unsigned char *p;
    uint8_t *spki = NULL;
    size_t spki_len = 0;
    sn_err r;

    *pub = NULL;
    if ((r = sn_hsm_generate(tok, cas[kind].alg, cas[kind].key_id, &spki,
                             &spki_len, &facts)) != SN_OK)
        goto out;
    r = SN_ERR_HSM_PROTECTION;
    if (!sn_key_facts_ok(&facts))
        goto out;
    r = SN_ERR_CRYPTO;
    p = spki;
    if ((*pub = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL)
        goto out;
    r = SN_OK;
out:
    free(spki);
    return r;
}

/*
 * The certificate of kind for pub, signed by signer: the key of issuer's
 * certificate, or of pub itself when issuer is NULL (a root).
 */
static sn_err
issue_ca(enum sn_ca_kind kind, EVP_PKEY *pub, const char *cn, const char *org,
         const char *country, X509 *issuer, struct sn_ca_signer *signer,
         const char *base_url, X509 **out)
{
    char crl[256], aia[256];
    struct sn_ca_urls urls = {NULL, NULL, NULL};
    int by = cas[kind].issuer;
    X509 *x = NULL;

    *out = NULL;
    if (issuer != NULL && kind != SN_CA_ATT_ISSUER) {
        snprintf(crl, sizeof(crl), "%s/ca/crl/%s", base_url, cas[by].name);
        snprintf(aia, sizeof(aia), "%s/ca/%s.cer", base_url, cas[by].name);
        urls.crl = crl;
        urls.ca_issuers = aia;
    }
    if (sn_caprofile_ca_cert(kind, pub, cn, org, country, issuer, &urls,
                             cas[kind].days, &x) != SN_OK ||
        sn_ca_sign_cert(signer, &x, md_for((enum sn_ca_kind)by)) != SN_OK) {
        X509_free(x);
        return SN_ERR_CRYPTO;
    }
    *out = x;
    return SN_OK;
}

/* Generates one CA key and certificate; its issuer is in certs. */
static sn_err
create_one(struct sn_hsm_token *tok, enum sn_ca_kind kind, X509 **certs,
           const char *home, const char *org, const char *country,
           const char *base_url, int test)
{
    char path[PATH_MAX];
    EVP_PKEY *pub = NULL;
    struct sn_ca_signer *signer = NULL;
    X509 *x = NULL;
    int issuer = cas[kind].issuer, self = issuer == (int)kind;
    sn_err r;

    if ((r = gen_key(tok, kind, &pub)) != SN_OK ||
        (r = signer_of(tok, (enum sn_ca_kind)issuer,
                       self ? pub : X509_get0_pubkey(certs[issuer]),
                       &signer)) != SN_OK ||
        (r = issue_ca(kind, pub, test ? cas[kind].test_cn : cas[kind].cn, org,
                      country, self ? NULL : certs[issuer], signer, base_url,
                      &x)) != SN_OK)
        goto out;
    ca_path(path, sizeof(path), home, kind);
    if ((r = write_pem(path, x, 0)) != SN_OK)
        goto out;
    certs[kind] = x;
    x = NULL;
out:
    if (r != SN_OK) {
        sn_error("ca: cannot create %s: %s (%s)", cas[kind].name, sn_err_str(r),
                 ERR_reason_error_string(ERR_peek_error()));
        ERR_clear_error();
    }
    X509_free(x);
    sn_ca_signer_free(signer);
    EVP_PKEY_free(pub);
    return r;
}

static sn_err
mkdir_ca(const char *home)
{
    char dir[PATH_MAX];

    snprintf(dir, sizeof(dir), "%s/ca", home);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        sn_error("ca: cannot create %s: %s", dir, strerror(errno));
        return SN_ERR_IO;
    }
    return SN_OK;
}

sn_err
sn_ca_create(struct sn_hsm_token *tok, const char *home, const char *org,
             const char *country, const char *base_url)
{
    X509 *certs[SN_CA_COUNT] = {NULL};
    sn_err r;
    int i;

    if ((r = mkdir_ca(home)) != SN_OK)
        return r;
    /* Issuers come first in the enum order. */
    for (i = 0; i < SN_CA_COUNT && r == SN_OK; i++)
        r = create_one(tok, (enum sn_ca_kind)i, certs, home, org, country,
                       base_url, 1);
    for (i = 0; i < SN_CA_COUNT; i++)
        X509_free(certs[i]);
    return r;
}

/* ---- The offline root: requests, ceremony, installation ---- */

static const enum sn_ca_kind issuing[] = {SN_CA_CODESIGNING,
                                          SN_CA_TIMESTAMPING};
#define N_ISSUING (sizeof(issuing) / sizeof(issuing[0]))

static void
dir_path(char *buf, size_t len, const char *dir, enum sn_ca_kind kind,
         const char *ext)
{
    if (snprintf(buf, len, "%s/%s.%s", dir, cas[kind].name, ext) >= (int)len)
        buf[0] = '\0';
}

/* One issuing CA key on tok and its PKCS#10 request DIR/<name>.csr. */
static sn_err
request_one(struct sn_hsm_token *tok, enum sn_ca_kind kind, const char *dir,
            const char *org, const char *country)
{
    char path[PATH_MAX], *data;
    EVP_PKEY *pub = NULL;
    struct sn_ca_signer *signer = NULL;
    X509_REQ *req = NULL;
    X509_NAME *name = NULL;
    BIO *b = NULL;
    long len;
    sn_err r;

    dir_path(path, sizeof(path), dir, kind, "csr");
    if ((r = gen_key(tok, kind, &pub)) != SN_OK ||
        (r = signer_of(tok, kind, pub, &signer)) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if ((req = X509_REQ_new()) == NULL || (name = X509_NAME_new()) == NULL ||
        sn_name_add(name, "C", country) != SN_OK ||
        sn_name_add(name, "O", org) != SN_OK ||
        sn_name_add(name, "CN", cas[kind].cn) != SN_OK ||
        X509_REQ_set_version(req, 0) != 1 ||
        X509_REQ_set_subject_name(req, name) != 1 ||
        X509_REQ_set_pubkey(req, pub) != 1 ||
        sn_ca_sign_req(signer, req, md_for(kind)) != SN_OK ||
        (b = BIO_new(BIO_s_mem())) == NULL ||
        PEM_write_bio_X509_REQ(b, req) != 1 ||
        (len = BIO_get_mem_data(b, &data)) <= 0)
        goto out;
    r = sn_file_write_new(path, data, (size_t)len, 0600);
out:
    if (r != SN_OK) {
        sn_error("ca: cannot make the request %s: %s", path, sn_err_str(r));
        ERR_clear_error();
    }
    BIO_free(b);
    X509_NAME_free(name);
    X509_REQ_free(req);
    sn_ca_signer_free(signer);
    EVP_PKEY_free(pub);
    return r;
}

sn_err
sn_ca_request(struct sn_hsm_token *tok, const char *dir, const char *org,
              const char *country)
{
    char path[PATH_MAX];
    size_t i;
    sn_err r = SN_OK;

    for (i = 0; i < N_ISSUING; i++) {
        dir_path(path, sizeof(path), dir, issuing[i], "csr");
        if (access(path, F_OK) == 0) {
            sn_error("ca: %s exists; refusing to overwrite it", path);
            return SN_ERR_EXISTS;
        }
    }
    for (i = 0; i < N_ISSUING && r == SN_OK; i++)
        r = request_one(tok, issuing[i], dir, org, country);
    return r;
}

/* One line per ceremony act in HOME/ceremony.log (the ceremony's record). */
static void
ceremony_log(const char *home, const char *what, X509 *x)
{
    char path[PATH_MAX], when[32], *subject = NULL, *serial = NULL;
    unsigned char md[32];
    char fp[65];
    unsigned mdlen = 0;
    BIGNUM *bn = NULL;
    FILE *f = NULL;
    int fd;

    snprintf(path, sizeof(path), "%s/ceremony.log", home);
    sn_time_format(time(NULL), when);
    fp[0] = '\0';
    if (x != NULL) {
        subject = X509_NAME_oneline(X509_get_subject_name(x), NULL, 0);
        if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) != NULL)
            serial = BN_bn2hex(bn);
        if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32)
            sn_hex_encode(md, 32, fp);
    }
    sn_info("ceremony: %s%s%s", what, subject ? ": " : "",
            subject ? subject : "");
    /* fopen() would create it 0666 less the umask: owner only, as all. */
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && (f = fdopen(fd, "a")) == NULL)
        close(fd);
    if (f != NULL) {
        fprintf(f, "%s %s", when, what);
        if (x != NULL)
            fprintf(f, " subject=\"%s\" serial=%s sha256=%s",
                    subject ? subject : "?", serial ? serial : "?", fp);
        fputc('\n', f);
        fclose(f);
    }
    OPENSSL_free(subject);
    OPENSSL_free(serial);
    BN_free(bn);
}

/*
 * Certifies the request DIR/<name>.csr of issuing CA kind as
 * DIR/<name>.pem. The request proves possession of its key; its subject
 * is not copied: the ceremony writes the profile.
 */
static sn_err
certify(X509 *root, struct sn_ca_signer *signer, enum sn_ca_kind kind,
        const char *home, const char *dir, const char *org, const char *country,
        const char *base_url)
{
    char path[PATH_MAX];
    uint8_t *pem = NULL;
    size_t len = 0;
    BIO *b = NULL;
    X509_REQ *req = NULL;
    EVP_PKEY *pub;
    X509 *x = NULL;
    sn_err r;

    dir_path(path, sizeof(path), dir, kind, "csr");
    if ((r = sn_file_read(path, 65536, &pem, &len)) != SN_OK)
        goto out;
    r = SN_ERR_INVALID;
    if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL ||
        (req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL)) == NULL ||
        (pub = X509_REQ_get0_pubkey(req)) == NULL ||
        X509_REQ_verify(req, pub) != 1) {
        sn_error("ceremony: %s is not a request signed by its own key", path);
        goto out;
    }
    if ((EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) !=
            sn_keyalg_is_rsa(cas[kind].alg) ||
        EVP_PKEY_get_bits(pub) != (int)sn_keyalg_bits(cas[kind].alg)) {
        sn_error("ceremony: the key of %s is not %s", path,
                 sn_keyalg_name(cas[kind].alg));
        goto out;
    }
    if ((r = issue_ca(kind, pub, cas[kind].cn, org, country, root, signer,
                      base_url, &x)) != SN_OK)
        goto out;
    dir_path(path, sizeof(path), dir, kind, "pem");
    if ((r = write_pem(path, x, 0)) != SN_OK)
        goto out;
    ceremony_log(home, "issuing CA certified", x);
out:
    ERR_clear_error();
    X509_free(x);
    X509_REQ_free(req);
    BIO_free(b);
    free(pem);
    return r;
}

/* A CRL in DER signed by root: SN_OK or why not. */
static sn_err
crl_check(X509 *root, const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
    sn_err r = SN_ERR_CRYPTO;

    if (crl != NULL && p == der + len &&
        X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(root)) ==
            0 &&
        X509_CRL_verify(crl, X509_get0_pubkey(root)) == 1)
        r = SN_OK;
    ERR_clear_error();
    X509_CRL_free(crl);
    return r;
}

/*
 * The root's CRL (no entries: the ceremony revokes nothing yet), valid
 * for ROOT_CRL_DAYS (CSBR 4.9.7: at most twelve months), numbered from
 * HOME/ca/crlnumber, written to DIR/root.crl.
 */
#define ROOT_CRL_DAYS 365
static sn_err
root_crl(X509 *root, struct sn_ca_signer *signer, const char *home,
         const char *dir)
{
    char path[PATH_MAX], text[64];
    uint8_t *old = NULL;
    size_t oldlen = 0;
    long long number = 0;
    X509_CRL *crl = NULL;
    ASN1_TIME *t = NULL;
    ASN1_INTEGER *num = NULL;
    X509_EXTENSION *aki = NULL;
    X509V3_CTX ctx;
    unsigned char *der = NULL;
    time_t now = time(NULL);
    int n;
    sn_err r;

    snprintf(path, sizeof(path), "%s/ca/crlnumber", home);
    if (sn_file_read(path, 32, &old, &oldlen) == SN_OK)
        number = strtoll((const char *)old, NULL, 10);
    free(old);
    number = number < 0 ? 1 : number + 1;
    r = SN_ERR_CRYPTO;
    if ((crl = X509_CRL_new()) == NULL || X509_CRL_set_version(crl, 1) != 1 ||
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(root)) != 1 ||
        (t = ASN1_TIME_set(NULL, now)) == NULL ||
        X509_CRL_set1_lastUpdate(crl, t) != 1 ||
        ASN1_TIME_set(t, now + ROOT_CRL_DAYS * 86400L) == NULL ||
        X509_CRL_set1_nextUpdate(crl, t) != 1)
        goto out;
    X509V3_set_ctx(&ctx, root, NULL, NULL, crl, 0);
    if ((aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier,
                                    "keyid:always")) == NULL ||
        X509_CRL_add_ext(crl, aki, -1) != 1 ||
        (num = ASN1_INTEGER_new()) == NULL ||
        ASN1_INTEGER_set_int64(num, number) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1 ||
        sn_ca_sign_crl(signer, &crl, md_for(SN_CA_ROOT)) != SN_OK ||
        (n = i2d_X509_CRL(crl, &der)) <= 0)
        goto out;
    snprintf(text, sizeof(text), "%lld\n", number);
    snprintf(path, sizeof(path), "%s/root.crl", dir);
    if ((r = write_replace(path, der, (size_t)n, 0600)) != SN_OK)
        goto out;
    snprintf(path, sizeof(path), "%s/ca/crlnumber", home);
    if ((r = write_replace(path, text, strlen(text), 0600)) != SN_OK)
        goto out;
    snprintf(text, sizeof(text), "root CRL %lld issued", number);
    ceremony_log(home, text, NULL);
out:
    ERR_clear_error();
    OPENSSL_free(der);
    X509_EXTENSION_free(aki);
    ASN1_INTEGER_free(num);
    ASN1_TIME_free(t);
    X509_CRL_free(crl);
    return r;
}

sn_err
sn_ca_ceremony(struct sn_hsm_token *tok, const char *home, const char *dir,
               const char *org, const char *country, const char *base_url)
{
    X509 *certs[SN_CA_COUNT] = {NULL};
    struct sn_ca_signer *signer = NULL;
    char path[PATH_MAX];
    size_t i;
    sn_err r;

    ca_path(path, sizeof(path), home, SN_CA_ROOT);
    if (access(path, F_OK) != 0) {
        if ((r = mkdir_ca(home)) != SN_OK ||
            (r = create_one(tok, SN_CA_ROOT, certs, home, org, country,
                            base_url, 0)) != SN_OK)
            goto out;
        ceremony_log(home, "root key generated and self-signed", certs[0]);
    } else if ((r = read_cert(path, &certs[SN_CA_ROOT])) != SN_OK) {
        sn_error("ceremony: cannot read %s", path);
        goto out;
    }
    if ((r = sn_hsm_has_key(tok, cas[SN_CA_ROOT].key_id)) != SN_OK) {
        sn_error("ceremony: the root token holds no root key: %s",
                 sn_err_str(r));
        goto out;
    }
    if ((r = signer_of(tok, SN_CA_ROOT, X509_get0_pubkey(certs[SN_CA_ROOT]),
                       &signer)) != SN_OK)
        goto out;
    /* Nothing is signed unless everything can be written. */
    for (i = 0; i < N_ISSUING; i++) {
        dir_path(path, sizeof(path), dir, issuing[i], "pem");
        if (access(path, F_OK) == 0) {
            sn_error("ceremony: %s exists; refusing to overwrite it", path);
            r = SN_ERR_EXISTS;
            goto out;
        }
    }
    for (i = 0; i < N_ISSUING; i++) {
        dir_path(path, sizeof(path), dir, issuing[i], "csr");
        if (access(path, F_OK) != 0)
            continue;
        if ((r = certify(certs[SN_CA_ROOT], signer, issuing[i], home, dir, org,
                         country, base_url)) != SN_OK)
            goto out;
    }
    snprintf(path, sizeof(path), "%s/root.pem", dir);
    if ((r = write_pem(path, certs[SN_CA_ROOT], 1)) != SN_OK ||
        (r = root_crl(certs[SN_CA_ROOT], signer, home, dir)) != SN_OK)
        goto out;
out:
    sn_ca_signer_free(signer);
    for (i = 0; i < SN_CA_COUNT; i++)
        X509_free(certs[i]);
    return r;
}

/* SN_OK if tok holds the private key of cert (a signature proves it). */
static sn_err
holds_key(struct sn_hsm_token *tok, enum sn_ca_kind kind, X509 *cert)
{
    static const unsigned char msg[] = "signet: issuing CA key check";
    EVP_PKEY *k = NULL;
    EVP_MD_CTX *ctx = NULL;
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);
    sn_err r;

    if ((r = pkey_for(tok, kind, cert, &k)) != SN_OK)
        return r;
    r = SN_ERR_MISMATCH;
    if ((ctx = EVP_MD_CTX_new()) != NULL &&
        EVP_DigestSignInit(ctx, NULL, md_for(kind), NULL, k) == 1 &&
        EVP_DigestSign(ctx, sig, &siglen, msg, sizeof(msg)) == 1 &&
        EVP_MD_CTX_reset(ctx) == 1 &&
        EVP_DigestVerifyInit(ctx, NULL, md_for(kind), NULL,
                             X509_get0_pubkey(cert)) == 1 &&
        EVP_DigestVerify(ctx, sig, siglen, msg, sizeof(msg)) == 1)
        r = SN_OK;
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    return r;
}

/* CSBR 6.2.7.2: an online timestamping CA lasts at most 72 months. */
static int
within_72_months(X509 *x)
{
    time_t nb, na, limit;
    struct tm tm;

    if (sn_x509_validity(x, &nb, &na) != SN_OK || gmtime_r(&nb, &tm) == NULL)
        return 0;
    tm.tm_year += 6;
    return (limit = timegm(&tm)) != (time_t)-1 && na <= limit;
}

/* The ceremony's output in dir, checked against itself and tok. */
static sn_err
install_check(struct sn_hsm_token *tok, const char *dir, X509 **certs,
              uint8_t **crl, size_t *crl_len)
{
    char path[PATH_MAX];
    EVP_PKEY *rootpub;
    size_t i;
    sn_err r;

    for (i = 0; i < 3; i++) {
        dir_path(path, sizeof(path), dir, (enum sn_ca_kind)i, "pem");
        if ((r = read_cert(path, &certs[i])) != SN_OK) {
            sn_error("ca: cannot read %s", path);
            return r;
        }
    }
    rootpub = X509_get0_pubkey(certs[SN_CA_ROOT]);
    if (X509_check_issued(certs[SN_CA_ROOT], certs[SN_CA_ROOT]) != X509_V_OK ||
        X509_verify(certs[SN_CA_ROOT], rootpub) != 1 ||
        X509_check_ca(certs[SN_CA_ROOT]) != 1) {
        sn_error("ca: %s/root.pem is not a self-signed CA certificate", dir);
        return SN_ERR_INVALID;
    }
    for (i = 0; i < N_ISSUING; i++) {
        X509 *c = certs[issuing[i]];

        if (X509_check_issued(certs[SN_CA_ROOT], c) != X509_V_OK ||
            X509_verify(c, rootpub) != 1) {
            sn_error("ca: %s.pem is not issued by root.pem",
                     cas[issuing[i]].name);
            return SN_ERR_INVALID;
        }
        if ((r = holds_key(tok, issuing[i], c)) != SN_OK) {
            sn_error("ca: the service token holds no key for %s.pem: %s",
                     cas[issuing[i]].name, sn_err_str(r));
            return r;
        }
    }
    if (!within_72_months(certs[SN_CA_TIMESTAMPING])) {
        sn_error("ca: timestamping.pem lasts more than 72 months: its key "
                 "would have to stay offline (CSBR 6.2.7.2)");
        return SN_ERR_INVALID;
    }
    if ((r = sn_hsm_has_key(tok, cas[SN_CA_ROOT].key_id)) != SN_ERR_NOT_FOUND) {
        sn_error("ca: the service token holds a root key: refused");
        return r == SN_OK ? SN_ERR_STATE : r;
    }
    snprintf(path, sizeof(path), "%s/root.crl", dir);
    if ((r = sn_file_read(path, 1 << 20, crl, crl_len)) != SN_OK ||
        (r = crl_check(certs[SN_CA_ROOT], *crl, *crl_len)) != SN_OK) {
        sn_error("ca: %s is not a CRL signed by the root", path);
        return r;
    }
    return SN_OK;
}

sn_err
sn_ca_install(struct sn_hsm_token *tok, const char *home, const char *dir,
              const char *org, const char *country, const char *base_url)
{
    X509 *certs[SN_CA_COUNT] = {NULL};
    char path[PATH_MAX];
    uint8_t *crl = NULL;
    size_t crl_len = 0, i;
    sn_err r;

    if ((r = install_check(tok, dir, certs, &crl, &crl_len)) != SN_OK ||
        (r = mkdir_ca(home)) != SN_OK)
        goto out;
    for (i = 0; i < 3; i++) {
        ca_path(path, sizeof(path), home, (enum sn_ca_kind)i);
        if ((r = write_pem(path, certs[i], 0)) != SN_OK)
            goto out;
    }
    snprintf(path, sizeof(path), "%s/ca/root.crl", home);
    if ((r = sn_file_write_new(path, crl, crl_len, 0600)) != SN_OK)
        goto out;
    /* The attestation hierarchy stays online (docs/ceremony.md). */
    if ((r = create_one(tok, SN_CA_ATT_ROOT, certs, home, org, country,
                        base_url, 0)) != SN_OK ||
        (r = create_one(tok, SN_CA_ATT_ISSUER, certs, home, org, country,
                        base_url, 0)) != SN_OK)
        goto out;
out:
    free(crl);
    for (i = 0; i < SN_CA_COUNT; i++)
        X509_free(certs[i]);
    return r;
}

static sn_err
add_roots(STACK_OF(X509) *roots, const char *path)
{
    BIO *b = BIO_new_file(path, "r");
    X509 *x;
    int n = 0;

    if (b == NULL)
        return SN_ERR_IO;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(roots, x)) {
            X509_free(x);
            break;
        }
        n++;
    }
    ERR_clear_error();
    BIO_free(b);
    return n > 0 ? SN_OK : SN_ERR_CONFIG;
}

/* ---- OCSP answers kept (see OCSP_CACHE_SECS) ---- */

struct ocsp_answer {
    uint8_t *der;
    size_t len;
    time_t made;
};

static int
ocsp_answer_copy(void *dst, const void *src)
{
    const struct ocsp_answer *a = src;
    struct ocsp_answer *d = dst;

    if ((d->der = malloc(a->len)) == NULL)
        return 0;
    memcpy(d->der, a->der, a->len);
    d->len = a->len;
    d->made = a->made;
    return 1;
}

static void
ocsp_answer_free(void *val)
{
    struct ocsp_answer *a = val;

    free(a->der);
    free(a);
}

/*
 * The cache id of a request: SHA-256 of its one CertID, hex. 0 if the
 * answer must be made afresh: a nonce is echoed, several CertIDs are rare,
 * and a CertID other than the one OpenSSL itself would encode for this
 * issuer, hash and serial (hash parameters absent or anything but NULL) is
 * copied into the answer as it came, so a caller could vary it to fill the
 * cache. The ids of one certificate are then at most one per hash
 * algorithm. Other request extensions change nothing in the answer.
 */
static int
ocsp_cache_id(OCSP_REQUEST *req, X509 *issuer, char id[65])
{
    OCSP_CERTID *cid, *mine = NULL;
    ASN1_OBJECT *alg = NULL;
    ASN1_INTEGER *serial = NULL;
    const EVP_MD *md;
    unsigned char *der = NULL, *canon = NULL, h[32];
    int n, m, ok = 0;

    if (OCSP_request_onereq_count(req) != 1 ||
        OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1) >= 0)
        return 0;
    cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0));
    if (OCSP_id_get0_info(NULL, &alg, NULL, &serial, cid) != 1 ||
        (md = EVP_get_digestbyobj(alg)) == NULL ||
        (mine = OCSP_cert_id_new(md, X509_get_subject_name(issuer),
                                 X509_get0_pubkey_bitstr(issuer), serial)) ==
            NULL)
        goto out;
    n = i2d_OCSP_CERTID(cid, &der);
    m = i2d_OCSP_CERTID(mine, &canon);
    ok = n > 0 && n == m && memcmp(der, canon, (size_t)n) == 0 &&
         EVP_Digest(der, (size_t)n, h, NULL, EVP_sha256(), NULL) == 1;
    if (ok)
        sn_hex_encode(h, sizeof(h), id);
out:
    ERR_clear_error();
    OPENSSL_free(der);
    OPENSSL_free(canon);
    OCSP_CERTID_free(mine);
    return ok;
}

sn_err
sn_ca_index_spki(struct sn_store *st)
{
    struct sn_cert *certs = NULL;
    char after[sizeof(certs->serial)] = "";
    uint8_t *spki = NULL;
    size_t n = 0, len, i;
    sn_err r;

    /* In pages by serial: a first revocation after an upgrade reads the
     * older certificates a few hundred at a time. */
    for (;;) {
        if ((r = sn_store_cert_unindexed(st, after, 256, &certs, &n)) !=
                SN_OK ||
            n == 0)
            goto out;
        for (i = 0; i < n; i++) {
            /* A record that cannot be read matches no key; it must not
             * stop a revocation of the others. */
            if (sn_x509_spki(certs[i].der, certs[i].der_len, &spki, &len) !=
                SN_OK) {
                sn_error("ca: stored certificate %s unreadable",
                         certs[i].serial);
                continue;
            }
            r = sn_store_cert_set_spki(st, certs[i].serial, spki, len);
            free(spki);
            spki = NULL;
            if (r != SN_OK)
                goto out;
        }
        snprintf(after, sizeof(after), "%s", certs[n - 1].serial);
        sn_cert_list_free(certs, n);
        certs = NULL;
        n = 0;
    }
out:
    sn_cert_list_free(certs, n);
    return r;
}

void
sn_ca_ocsp_forget(struct sn_ca *ca)
{
    sn_cache_clear(&ca->ocsp);
    sn_cache_clear(&ca->ocsp_unknown);
}

/* Keeps a copy of a fresh answer in c, unless c was cleared (a
 * revocation) or id dropped since gen. */
static void
ocsp_keep(struct sn_cache *c, const char *id, const uint8_t *der, size_t len,
          time_t made, unsigned long gen)
{
    struct ocsp_answer *a = calloc(1, sizeof(*a));

    if (a == NULL || (a->der = malloc(len)) == NULL) {
        free(a);
        return;
    }
    memcpy(a->der, der, len);
    a->len = len;
    a->made = made;
    /* Full (answers expire only when asked for again): start over. This
     * answer is not kept; the next one is. */
    if (!sn_cache_put(c, id, a, gen) && sn_cache_full(c))
        sn_cache_clear(c);
}

sn_err
sn_ca_init(struct sn_ca *ca, const char *base_url)
{
    memset(ca, 0, sizeof(*ca));
    pthread_mutex_init(&ca->crl_lock, NULL);
    pthread_mutex_init(&ca->revoke_lock, NULL);
    sn_cache_init(&ca->ocsp, OCSP_CACHE_MAX, ocsp_answer_copy,
                  ocsp_answer_free);
    sn_cache_init(&ca->ocsp_unknown, OCSP_UNKNOWN_MAX, ocsp_answer_copy,
                  ocsp_answer_free);
    if ((ca->base_url = strdup(base_url)) == NULL ||
        (ca->att_roots = sk_X509_new_null()) == NULL)
        return SN_ERR_NOMEM;
    return SN_OK;
}

sn_err
sn_ca_load(struct sn_ca *ca, const struct sn_ca_keys *keys, const char *home,
           const char *base_url, char *const *extra_roots, size_t nextra)
{
    char path[PATH_MAX];
    size_t i;
    sn_err r;

    if ((r = sn_ca_init(ca, base_url)) != SN_OK)
        return r;
    for (i = 0; i < SN_CA_COUNT; i++) {
        ca_path(path, sizeof(path), home, (enum sn_ca_kind)i);
        if ((r = read_cert(path, &ca->cert[i])) != SN_OK) {
            sn_error("ca: cannot read %s", path);
            return r;
        }
        r = keys->ca_signer(keys->arg, (enum sn_ca_kind)i,
                            X509_get0_pubkey(ca->cert[i]), &ca->signer[i]);
        /* A root made by the ceremony has no key here: its CRL is the
         * one the ceremony signed, HOME/ca/root.crl. */
        if (i == SN_CA_ROOT && r == SN_ERR_NOT_FOUND) {
            snprintf(path, sizeof(path), "%s/ca/root.crl", home);
            if ((ca->root_crl = strdup(path)) == NULL)
                return SN_ERR_NOMEM;
            ca->root_offline = 1;
            continue;
        }
        if (r != SN_OK) {
            sn_error("ca: no key for the %s CA: %s",
                     sn_ca_name((enum sn_ca_kind)i), sn_err_str(r));
            return r;
        }
    }
    if (!X509_up_ref(ca->cert[SN_CA_ATT_ROOT]) ||
        !sk_X509_push(ca->att_roots, ca->cert[SN_CA_ATT_ROOT]))
        return SN_ERR_NOMEM;
    for (i = 0; i < nextra; i++) {
        if ((r = add_roots(ca->att_roots, extra_roots[i])) != SN_OK) {
            sn_error("ca: no certificate in attestation root file %s",
                     extra_roots[i]);
            return r;
        }
    }
    return SN_OK;
}

sn_err
sn_ca_root_key(struct sn_hsm_token *tok)
{
    return sn_hsm_has_key(tok, cas[SN_CA_ROOT].key_id);
}

/* The offline root's CRL as the ceremony signed it (checked each time:
 * the operator replaces the file with the next one). */
static sn_err
offline_crl(struct sn_ca *ca, uint8_t **der, size_t *len)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    sn_err r;

    if ((r = sn_file_read(ca->root_crl, 1 << 20, &buf, &n)) != SN_OK ||
        (r = crl_check(ca->cert[SN_CA_ROOT], buf, n)) != SN_OK) {
        sn_error("ca: %s is not a CRL signed by the root: %s", ca->root_crl,
                 sn_err_str(r));
        free(buf);
        return r;
    }
    *der = buf;
    *len = n;
    return SN_OK;
}

void
sn_ca_cleanup(struct sn_ca *ca)
{
    int i;

    for (i = 0; i < SN_CA_COUNT; i++) {
        X509_free(ca->cert[i]);
        sn_ca_signer_free(ca->signer[i]);
    }
    sk_X509_pop_free(ca->att_roots, X509_free);
    free(ca->base_url);
    free(ca->root_crl);
    pthread_mutex_destroy(&ca->crl_lock);
    pthread_mutex_destroy(&ca->revoke_lock);
    if (ca->ocsp.copy != NULL)
        sn_cache_cleanup(&ca->ocsp);
    if (ca->ocsp_unknown.copy != NULL)
        sn_cache_cleanup(&ca->ocsp_unknown);
    memset(ca, 0, sizeof(*ca));
}

sn_err
sn_ca_bundle(struct sn_ca *ca, char **pem)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long len;
    int i;

    *pem = NULL;
    if (b == NULL)
        return SN_ERR_NOMEM;
    for (i = 0; i < SN_CA_COUNT; i++) {
        if (PEM_write_bio_X509(b, ca->cert[i]) != 1) {
            BIO_free(b);
            return SN_ERR_CRYPTO;
        }
    }
    len = BIO_get_mem_data(b, &data);
    if (len > 0 && (*pem = malloc((size_t)len + 1)) != NULL) {
        memcpy(*pem, data, (size_t)len);
        (*pem)[len] = '\0';
    }
    BIO_free(b);
    return *pem ? SN_OK : SN_ERR_NOMEM;
}

sn_err
sn_ca_cert_der(struct sn_ca *ca, enum sn_ca_kind kind, uint8_t **der,
               size_t *len)
{
    unsigned char *p = NULL;
    int n;

    *der = NULL;
    *len = 0;
    if ((unsigned)kind >= SN_CA_COUNT ||
        (n = i2d_X509(ca->cert[kind], &p)) <= 0)
        return SN_ERR_CRYPTO;
    /* Hand back malloc'd memory, not OpenSSL's allocator's. */
    if ((*der = malloc((size_t)n)) != NULL) {
        memcpy(*der, p, (size_t)n);
        *len = (size_t)n;
    }
    OPENSSL_free(p);
    return *der ? SN_OK : SN_ERR_NOMEM;
}

static sn_err
x509_pem(X509 *x, char **pem)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data;
    long len;

    *pem = NULL;
    if (b != NULL && PEM_write_bio_X509(b, x) == 1 &&
        (len = BIO_get_mem_data(b, &data)) > 0 &&
        (*pem = malloc((size_t)len + 1)) != NULL) {
        memcpy(*pem, data, (size_t)len);
        (*pem)[len] = '\0';
    }
    BIO_free(b);
    return *pem ? SN_OK : SN_ERR_CRYPTO;
}

sn_err
sn_ca_attestation_adopt(struct sn_ca *ca, const uint8_t *der, size_t len,
                        const uint8_t *spki, size_t spki_len, char **pem)
{
    const unsigned char *p = der;
    unsigned char *mine = NULL;
    X509 *x = NULL;
    int n;
    sn_err r = SN_ERR_CRYPTO;

    *pem = NULL;
    if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != der + len ||
        X509_verify(x, X509_get0_pubkey(ca->cert[SN_CA_ATT_ISSUER])) != 1 ||
        (n = i2d_PUBKEY(X509_get0_pubkey(x), &mine)) <= 0 ||
        (size_t)n != spki_len || memcmp(mine, spki, spki_len) != 0)
        goto out;
    r = x509_pem(x, pem);
out:
    OPENSSL_free(mine);
    X509_free(x);
    return r;
}

sn_err
sn_ca_sign_codesigning(struct sn_ca *ca, X509 **leaf, const char *att_pem)
{
    unsigned char *der = NULL;
    X509 *att = NULL;
    BIO *b = NULL;
    int n = 0;
    sn_err r;

    if (att_pem != NULL &&
        ((b = BIO_new_mem_buf(att_pem, -1)) == NULL ||
         (att = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL ||
         (n = i2d_X509(att, &der)) <= 0)) {
        r = SN_ERR_CRYPTO;
        goto out;
    }
    r = sn_ca_sign_cert_ev(ca->signer[SN_CA_CODESIGNING], leaf, EVP_sha256(),
                           der, n > 0 ? (size_t)n : 0);
out:
    OPENSSL_free(der);
    X509_free(att);
    BIO_free(b);
    return r;
}

sn_err
sn_ca_attest(struct sn_ca *ca, const uint8_t *spki, size_t spki_len,
             const struct sn_attestation *a, char **pem)
{
    const unsigned char *p = spki;
    EVP_PKEY *pub = NULL;
    X509 *x = NULL;
    sn_err r = SN_ERR_CRYPTO;

    *pem = NULL;
    if ((pub = d2i_PUBKEY(NULL, &p, (long)spki_len)) == NULL)
        goto out;
    if ((r = sn_attest_cert_build(pub, ca->cert[SN_CA_ATT_ISSUER], a, &ca->oids,
                                  &x)) != SN_OK)
        goto out;
    if ((r = sn_ca_sign_cert(ca->signer[SN_CA_ATT_ISSUER], &x, EVP_sha384())) !=
        SN_OK)
        goto out;
    r = x509_pem(x, pem);
out:
    X509_free(x);
    EVP_PKEY_free(pub);
    return r;
}

sn_err
sn_ca_attestation_certs(struct sn_ca *ca, const char *att_pem, X509 **cert)
{
    BIO *b = BIO_new_mem_buf(att_pem, -1);

    (void)ca;
    *cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    return *cert ? SN_OK : SN_ERR_CRYPTO;
}

/* ---- CRL ---- */

static int
add_revoked(X509_CRL *crl, const struct sn_cert *c)
{
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *date = ASN1_TIME_set(NULL, c->revocation_date);
    ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();
    ASN1_GENERALIZEDTIME *inv = NULL;
    BIGNUM *bn = NULL;
    int ok = 0;

    if (rev == NULL || date == NULL || reason == NULL ||
        BN_hex2bn(&bn, c->serial) == 0 ||
        (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
        X509_REVOKED_set_serialNumber(rev, serial) != 1 ||
        X509_REVOKED_set_revocationDate(rev, date) != 1)
        goto out;
    /* unspecified (0) is expressed by leaving the reason out. */
    if (c->reason != 0 &&
        (ASN1_ENUMERATED_set(reason, c->reason) != 1 ||
         X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, 0) != 1))
        goto out;
    /* Key compromise: the invalidity date equals the revocation date. */
    if (c->reason == 1 &&
        ((inv = ASN1_GENERALIZEDTIME_set(NULL, c->revocation_date)) == NULL ||
         X509_REVOKED_add1_ext_i2d(rev, NID_invalidity_date, inv, 0, 0) != 1))
        goto out;
    if (X509_CRL_add0_revoked(crl, rev) != 1)
        goto out;
    rev = NULL;
    ok = 1;
out:
    X509_REVOKED_free(rev);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(date);
    ASN1_ENUMERATED_free(reason);
    ASN1_GENERALIZEDTIME_free(inv);
    BN_free(bn);
    return ok;
}

static sn_err
crl_build(struct sn_ca *ca, struct sn_store *st, enum sn_ca_kind kind,
          int64_t number, time_t now, uint8_t **der, size_t *len)
{
    struct sn_cert *revoked = NULL;
    size_t n = 0, i;
    X509_CRL *crl = NULL;
    ASN1_TIME *t = NULL;
    ASN1_INTEGER *num = NULL;
    X509_EXTENSION *aki = NULL;
    X509V3_CTX ctx;
    unsigned char *p = NULL;
    int dl;
    sn_err r;

    *der = NULL;
    *len = 0;
    if ((r = sn_store_cert_revoked(st, cas[kind].name, &revoked, &n)) != SN_OK)
        return r;
    r = SN_ERR_CRYPTO;
    if ((crl = X509_CRL_new()) == NULL || X509_CRL_set_version(crl, 1) != 1 ||
        X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert[kind])) !=
            1 ||
        (t = ASN1_TIME_set(NULL, now)) == NULL ||
        X509_CRL_set1_lastUpdate(crl, t) != 1 ||
        ASN1_TIME_set(t, now + CRL_VALID_DAYS * 86400L) == NULL ||
        X509_CRL_set1_nextUpdate(crl, t) != 1)
        goto out;
    for (i = 0; i < n; i++)
        if (!add_revoked(crl, &revoked[i]))
            goto out;
    X509V3_set_ctx(&ctx, ca->cert[kind], NULL, NULL, crl, 0);
    if ((aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier,
                                    "keyid:always")) == NULL ||
        X509_CRL_add_ext(crl, aki, -1) != 1 ||
        (num = ASN1_INTEGER_new()) == NULL ||
        ASN1_INTEGER_set_int64(num, number) != 1 ||
        X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1 ||
        X509_CRL_sort(crl) != 1)
        goto out;
    if ((r = sn_ca_sign_crl(ca->signer[kind], &crl, md_for(kind))) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if ((dl = i2d_X509_CRL(crl, &p)) <= 0)
        goto out;
    if ((*der = malloc((size_t)dl)) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    memcpy(*der, p, (size_t)dl);
    *len = (size_t)dl;
    r = SN_OK;
out:
    OPENSSL_free(p);
    X509_EXTENSION_free(aki);
    ASN1_INTEGER_free(num);
    ASN1_TIME_free(t);
    X509_CRL_free(crl);
    sn_cert_list_free(revoked, n);
    return r;
}

sn_err
sn_ca_crl(struct sn_ca *ca, struct sn_store *st, enum sn_ca_kind kind,
          int force, uint8_t **der, size_t *len)
{
    time_t now = time(NULL), this_update = 0;
    int64_t number = 0;
    sn_err r;

    *der = NULL;
    *len = 0;
    if (kind != SN_CA_ROOT && kind != SN_CA_CODESIGNING &&
        kind != SN_CA_TIMESTAMPING)
        return SN_ERR_INVALID;
    if (kind == SN_CA_ROOT && ca->root_offline)
        return offline_crl(ca, der, len);
    pthread_mutex_lock(&ca->crl_lock);
    r = sn_store_crl_get(st, cas[kind].name, der, len, &number, &this_update);
    if (r == SN_OK && !force && now - this_update < (time_t)ca->crl_reissue &&
        now >= this_update)
        goto out;
    if (r != SN_OK && r != SN_ERR_NOT_FOUND)
        goto out;
    free(*der);
    *der = NULL;
    *len = 0;
    if ((r = crl_build(ca, st, kind, number + 1, now, der, len)) != SN_OK ||
        (r = sn_store_crl_put(st, cas[kind].name, number + 1, now, *der,
                              *len)) != SN_OK) {
        free(*der);
        *der = NULL;
        *len = 0;
        goto out;
    }
    sn_info("ca: CRL %lld of %s issued", (long long)(number + 1),
            cas[kind].name);
out:
    pthread_mutex_unlock(&ca->crl_lock);
    return r;
}

unsigned
sn_ca_crl_timer(struct sn_ca *ca, struct sn_store *st)
{
    static const enum sn_ca_kind kinds[] = {SN_CA_ROOT, SN_CA_CODESIGNING,
                                            SN_CA_TIMESTAMPING};
    unsigned period = ca->crl_reissue / 4;
    uint8_t *der = NULL;
    size_t i, len;
    sn_err r;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        /* An offline root's CRL is the ceremony's, signed offline. */
        if (kinds[i] == SN_CA_ROOT && ca->root_offline)
            continue;
        if ((r = sn_ca_crl(ca, st, kinds[i], 0, &der, &len)) != SN_OK)
            sn_error("ca: cannot reissue the CRL of %s: %s", cas[kinds[i]].name,
                     sn_err_str(r));
        free(der);
    }
    /* A CRL is reissued at most a quarter period late; at least every
     * second, at most every five minutes, the timer looks. */
    return period < 1 ? 1 : period > 300 ? 300 : period;
}

/* ---- OCSP ---- */

/*
 * A nonce extension's extnValue holds the DER of an OCTET STRING whose
 * content is the nonce (RFC 6960 4.4.1); RFC 8954 bounds it to 1..32
 * octets.
 */
static int
ocsp_nonce_ok(X509_EXTENSION *ext)
{
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(ext);
    const unsigned char *start = ASN1_STRING_get0_data(v), *p = start;
    ASN1_OCTET_STRING *nonce = NULL;
    unsigned char *re = NULL;
    int len = ASN1_STRING_length(v), n = -1, ok;

    if ((nonce = d2i_ASN1_OCTET_STRING(NULL, &p, len)) != NULL)
        n = i2d_ASN1_OCTET_STRING(nonce, &re);
    ok = nonce != NULL && sn_der_exact(start, (size_t)len, p, re, n) &&
         ASN1_STRING_length(nonce) >= OCSP_NONCE_MIN &&
         ASN1_STRING_length(nonce) <= OCSP_NONCE_MAX;
    OPENSSL_free(re);
    ASN1_OCTET_STRING_free(nonce);
    return ok;
}

/*
 * DER rules OpenSSL's re-encoding does not enforce, as it writes critical
 * back as it came: critical is left out when FALSE (DEFAULT) and is 0xFF
 * when TRUE (X.690 11.1, 11.5). ext must encode as a fresh extension with
 * the same OID, criticality and value.
 */
static int
ocsp_ext_der_ok(X509_EXTENSION *ext)
{
    X509_EXTENSION *fresh = NULL;
    unsigned char *a = NULL, *b = NULL;
    int na, nb = -1, ok;

    na = i2d_X509_EXTENSION(ext, &a);
    if ((fresh = X509_EXTENSION_create_by_OBJ(
             NULL, X509_EXTENSION_get_object(ext),
             X509_EXTENSION_get_critical(ext), X509_EXTENSION_get_data(ext))) !=
        NULL)
        nb = i2d_X509_EXTENSION(fresh, &b);
    ok = na > 0 && na == nb && memcmp(a, b, (size_t)na) == 0;
    OPENSSL_free(a);
    OPENSSL_free(b);
    X509_EXTENSION_free(fresh);
    return ok;
}

/*
 * The version, v1 by DEFAULT and no other defined, is left out in DER
 * (X.690 11.5), which OpenSSL's re-encoding does not enforce either: the
 * tbsRequest must not open with [0]. der already re-encodes to itself, so
 * its headers are well formed.
 */
static int
ocsp_no_version(const uint8_t *der, size_t len)
{
    const unsigned char *p = der, *end = der + len;
    long l;
    int tag, cls;

    if ((ASN1_get_object(&p, &l, &tag, &cls, (long)len) & 0x80) != 0 ||
        (ASN1_get_object(&p, &l, &tag, &cls, (long)(end - p)) & 0x80) != 0)
        return 0;
    return l == 0 || *p != (V_ASN1_CONTEXT_SPECIFIC | V_ASN1_CONSTRUCTED);
}

/*
 * Request-level extensions: at most one nonce, well formed. The responder
 * knows no other extension, so a critical one is refused (RFC 6960 4.4,
 * RFC 5280 4.2) and a non-critical one ignored.
 */
static int
ocsp_request_exts_ok(OCSP_REQUEST *req)
{
    X509_EXTENSION *ext;
    int i, n = OCSP_REQUEST_get_ext_count(req), nonces = 0;

    for (i = 0; i < n; i++) {
        ext = OCSP_REQUEST_get_ext(req, i);
        if (!ocsp_ext_der_ok(ext))
            return 0;
        if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) ==
            NID_id_pkix_OCSP_Nonce) {
            if (++nonces > 1 || !ocsp_nonce_ok(ext))
                return 0;
        } else if (X509_EXTENSION_get_critical(ext)) {
            return 0;
        }
    }
    return 1;
}

/* singleRequestExtensions: none is known, so none may be critical. */
static int
ocsp_onereq_exts_ok(OCSP_ONEREQ *one)
{
    X509_EXTENSION *ext;
    int i, n = OCSP_ONEREQ_get_ext_count(one);

    for (i = 0; i < n; i++) {
        ext = OCSP_ONEREQ_get_ext(one, i);
        if (!ocsp_ext_der_ok(ext) || X509_EXTENSION_get_critical(ext))
            return 0;
    }
    return 1;
}

/*
 * Decodes an untrusted OCSP request: exactly one OCSPRequest in strict
 * DER, 1..OCSP_CERTIDS_MAX CertIDs, extensions as above. NULL means the
 * answer is malformedRequest.
 */
static OCSP_REQUEST *
ocsp_request_parse(const uint8_t *der, size_t len)
{
    const unsigned char *p = der;
    unsigned char *re = NULL;
    OCSP_REQUEST *req = NULL;
    int i, n = -1, ok = 0;

    if (len == 0 || len > LONG_MAX ||
        (req = d2i_OCSP_REQUEST(NULL, &p, (long)len)) == NULL)
        goto out;
    n = i2d_OCSP_REQUEST(req, &re);
    if (!sn_der_exact(der, len, p, re, n) || !ocsp_no_version(der, len) ||
        !ocsp_request_exts_ok(req) ||
        (n = OCSP_request_onereq_count(req)) <= 0 || n > OCSP_CERTIDS_MAX)
        goto out;
    for (i = 0; i < n; i++)
        if (!ocsp_onereq_exts_ok(OCSP_request_onereq_get0(req, i)))
            goto out;
    ok = 1;
out:
    ERR_clear_error();
    OPENSSL_free(re);
    if (!ok) {
        OCSP_REQUEST_free(req);
        req = NULL;
    }
    return req;
}

/* Which of our issuing CAs the request's CertID names, or -1. */
static int
ocsp_issuer(struct sn_ca *ca, OCSP_CERTID *id)
{
    ASN1_OBJECT *mdobj = NULL;
    OCSP_CERTID *mine;
    const EVP_MD *md;
    int kinds[] = {SN_CA_CODESIGNING, SN_CA_TIMESTAMPING};
    size_t i;
    int found = -1;

    if (OCSP_id_get0_info(NULL, &mdobj, NULL, NULL, id) != 1 ||
        (md = EVP_get_digestbyobj(mdobj)) == NULL)
        return -1;
    for (i = 0; i < 2 && found < 0; i++) {
        X509 *c = ca->cert[kinds[i]];
        mine = OCSP_cert_id_new(md, X509_get_subject_name(c),
                                X509_get0_pubkey_bitstr(c), NULL);
        if (mine != NULL && OCSP_id_issuer_cmp(mine, id) == 0)
            found = kinds[i];
        OCSP_CERTID_free(mine);
    }
    return found;
}

static sn_err
ocsp_status_resp(int status, uint8_t **der, size_t *dlen)
{
    OCSP_RESPONSE *resp = OCSP_response_create(status, NULL);
    unsigned char *p = NULL;
    int n;

    *der = NULL;
    *dlen = 0;
    if (resp == NULL || (n = i2d_OCSP_RESPONSE(resp, &p)) <= 0) {
        OCSP_RESPONSE_free(resp);
        return SN_ERR_CRYPTO;
    }
    OCSP_RESPONSE_free(resp);
    if ((*der = malloc((size_t)n)) != NULL) {
        memcpy(*der, p, (size_t)n);
        *dlen = (size_t)n;
    }
    OPENSSL_free(p);
    return *der ? SN_OK : SN_ERR_NOMEM;
}

/* HTTP caching facts of an answer made at made (see struct sn_ocsp_meta). */
static void
ocsp_meta_set(struct sn_ocsp_meta *meta, OCSP_REQUEST *req, time_t made)
{
    if (meta == NULL)
        return;
    meta->cacheable =
        OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1) < 0;
    meta->this_update = made;
    meta->next_update = made + OCSP_VALID_DAYS * 86400L;
    meta->fresh_until = made + OCSP_CACHE_SECS;
}

/* The CA kind every CertID of req names, or -1 (unauthorized): one
 * signer per response. */
static int
ocsp_kind(struct sn_ca *ca, OCSP_REQUEST *req)
{
    int i, k, kind = -1, n = OCSP_request_onereq_count(req);

    for (i = 0; i < n; i++) {
        k = ocsp_issuer(ca,
                        OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i)));
        if (k < 0 || (kind >= 0 && k != kind))
            return -1;
        kind = k;
    }
    return kind;
}

/* What the store says of the serial id names (sn_store_cert_get), with
 * the serial as the certificates table has it (BN_bn2hex). */
static sn_err
ocsp_lookup(struct sn_store *st, int kind, OCSP_CERTID *id, struct sn_cert *c)
{
    ASN1_INTEGER *serial;
    BIGNUM *bn = NULL;
    char *hex = NULL;
    sn_err r = SN_ERR_CRYPTO;

    memset(c, 0, sizeof(*c));
    if (OCSP_id_get0_info(NULL, NULL, NULL, &serial, id) == 1 &&
        (bn = ASN1_INTEGER_to_BN(serial, NULL)) != NULL &&
        (hex = BN_bn2hex(bn)) != NULL)
        r = sn_store_cert_get(st, cas[kind].name, hex, c);
    OPENSSL_free(hex);
    BN_free(bn);
    return r;
}

/*
 * A kept answer to req (cache id cid) made less than OCSP_CACHE_SECS
 * before t: 1 and a copy in *out. One kept as "unknown" is served only
 * while the store still has no certificate of that serial: one indexed
 * read instead of a CA-key signature, and a certificate issued since is
 * answered for by the very next request, whoever issued it. A stale
 * answer is dropped.
 */
static int
ocsp_kept(struct sn_ca *ca, struct sn_store *st, int kind, OCSP_REQUEST *req,
          const char *cid, time_t t, struct ocsp_answer *out)
{
    struct sn_cache *c = &ca->ocsp;
    struct sn_cert rec;
    int fresh;

    if (!sn_cache_get(c, cid, out)) {
        c = &ca->ocsp_unknown;
        if (!sn_cache_get(c, cid, out))
            return 0;
    }
    fresh = out->made <= t && t - out->made < OCSP_CACHE_SECS;
    if (fresh && c == &ca->ocsp_unknown) {
        fresh =
            ocsp_lookup(st, kind,
                        OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0)),
                        &rec) == SN_ERR_NOT_FOUND;
        sn_cert_cleanup(&rec);
    }
    if (fresh)
        return 1;
    free(out->der);
    out->der = NULL;
    sn_cache_drop(c, cid);
    return 0;
}

/* One SingleResponse per CertID of req into basic; *issued: every serial
 * is one the CA issued. Never "good" for a serial it did not issue. */
static sn_err
ocsp_statuses(struct sn_store *st, int kind, OCSP_REQUEST *req, time_t t,
              OCSP_BASICRESP *basic, int *issued)
{
    ASN1_TIME *now = NULL, *next = NULL, *revt = NULL;
    OCSP_CERTID *id;
    struct sn_cert c;
    int i, n = OCSP_request_onereq_count(req), status;
    sn_err r = SN_ERR_CRYPTO, lr;

    *issued = 1;
    memset(&c, 0, sizeof(c));
    if ((now = ASN1_TIME_set(NULL, t)) == NULL ||
        (next = ASN1_TIME_set(NULL, t + OCSP_VALID_DAYS * 86400L)) == NULL)
        goto out;
    for (i = 0; i < n; i++) {
        id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i));
        lr = ocsp_lookup(st, kind, id, &c);
        if (lr != SN_OK && lr != SN_ERR_NOT_FOUND) {
            r = lr;
            goto out;
        }
        *issued = *issued && lr == SN_OK;
        status = lr != SN_OK ? V_OCSP_CERTSTATUS_UNKNOWN
                 : c.revoked ? V_OCSP_CERTSTATUS_REVOKED
                             : V_OCSP_CERTSTATUS_GOOD;
        if (status == V_OCSP_CERTSTATUS_REVOKED &&
            (revt = ASN1_TIME_set(NULL, c.revocation_date)) == NULL)
            goto out;
        if (OCSP_basic_add1_status(basic, id, status, c.reason, revt, now,
                                   next) == NULL)
            goto out;
        ASN1_TIME_free(revt);
        revt = NULL;
        sn_cert_cleanup(&c);
    }
    r = SN_OK;
out:
    sn_cert_cleanup(&c);
    ASN1_TIME_free(now);
    ASN1_TIME_free(next);
    ASN1_TIME_free(revt);
    return r;
}

/* The answer just made (der), kept for the next request like it: in the
 * cache of issued serials or of "unknown" ones, if small enough. */
static void
ocsp_keep_answer(struct sn_ca *ca, const char *cid, int issued,
                 const uint8_t *der, size_t len, time_t made,
                 const unsigned long gen[2])
{
    if (issued && len <= OCSP_CACHE_ANSWER_MAX)
        ocsp_keep(&ca->ocsp, cid, der, len, made, gen[0]);
    else if (!issued && len <= OCSP_UNKNOWN_ANSWER_MAX)
        ocsp_keep(&ca->ocsp_unknown, cid, der, len, made, gen[1]);
}

sn_err
sn_ca_ocsp(struct sn_ca *ca, struct sn_store *st, const uint8_t *reqder,
           size_t len, uint8_t **der, size_t *dlen, struct sn_ocsp_meta *meta)
{
    OCSP_REQUEST *req = NULL;
    OCSP_BASICRESP *basic = NULL;
    OCSP_RESPONSE *resp = NULL;
    unsigned char *out = NULL;
    struct ocsp_answer kept;
    time_t t = time(NULL);
    int n, kind, keep, issued = 0;
    unsigned long gen[2] = {0, 0};
    char cid[65];
    sn_err r = SN_ERR_CRYPTO;

    *der = NULL;
    *dlen = 0;
    if (meta != NULL)
        memset(meta, 0, sizeof(*meta));
    if ((req = ocsp_request_parse(reqder, len)) == NULL)
        return ocsp_status_resp(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, der,
                                dlen);
    if ((kind = ocsp_kind(ca, req)) < 0) {
        OCSP_REQUEST_free(req);
        return ocsp_status_resp(OCSP_RESPONSE_STATUS_UNAUTHORIZED, der, dlen);
    }
    if ((keep = ocsp_cache_id(req, ca->cert[kind], cid))) {
        if (ocsp_kept(ca, st, kind, req, cid, t, &kept)) {
            ocsp_meta_set(meta, req, kept.made);
            OCSP_REQUEST_free(req);
            *der = kept.der;
            *dlen = kept.len;
            return SN_OK;
        }
        /* Before the records are read: a revocation from here on
         * keeps this answer out of the cache. */
        gen[0] = sn_cache_gen(&ca->ocsp);
        gen[1] = sn_cache_gen(&ca->ocsp_unknown);
    }
    if ((basic = OCSP_BASICRESP_new()) == NULL)
        goto out;
    if ((r = ocsp_statuses(st, kind, req, t, basic, &issued)) != SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if (OCSP_copy_nonce(basic, req) <= 0)
        goto out;
    /* The issuing CA signs its own answers: a client has its certificate
     * already, and embedding it makes some (Go's ParseResponseForCert)
     * take it for a delegated responder's and refuse the answer. */
    if ((r = sn_ca_sign_ocsp(ca->signer[kind], &basic, ca->cert[kind],
                             md_for(kind), OCSP_RESPID_KEY | OCSP_NOCERTS)) !=
        SN_OK)
        goto out;
    r = SN_ERR_CRYPTO;
    if ((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic)) ==
            NULL ||
        (n = i2d_OCSP_RESPONSE(resp, &out)) <= 0)
        goto out;
    if ((*der = malloc((size_t)n)) == NULL) {
        r = SN_ERR_NOMEM;
        goto out;
    }
    memcpy(*der, out, (size_t)n);
    *dlen = (size_t)n;
    if (keep)
        ocsp_keep_answer(ca, cid, issued, *der, *dlen, t, gen);
    ocsp_meta_set(meta, req, t);
    r = SN_OK;
out:
    OPENSSL_free(out);
    OCSP_RESPONSE_free(resp);
    OCSP_BASICRESP_free(basic);
    OCSP_REQUEST_free(req);
    return r;
}
