/*
 * sign: mechanism rules of the PKCS#11 module. Input comes from the
 * application (trusted to be the caller, not to be well-formed): every
 * length and parameter is checked before a digest is formed.
 */
#include "pkcs11/sign.h"

#include <string.h>

#include <openssl/crypto.h>

/*
 * Hashing mechanisms first: tools that test "the first signing mechanism"
 * with arbitrary data (pkcs11-tool --test) then get one that accepts it.
 */
const CK_MECHANISM_TYPE sn_p11_mechs[] = {
    CKM_SHA256_RSA_PKCS,     CKM_SHA384_RSA_PKCS,
    CKM_SHA512_RSA_PKCS,     CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA384_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS,
    CKM_ECDSA_SHA256,        CKM_ECDSA_SHA384,
    CKM_ECDSA_SHA512,        CKM_RSA_PKCS,
    CKM_RSA_PKCS_PSS,        CKM_ECDSA};
const size_t sn_p11_nmechs = sizeof(sn_p11_mechs) / sizeof(sn_p11_mechs[0]);

/* How a mechanism maps onto the service's closed set. */
struct mech {
    CK_MECHANISM_TYPE type;
    int rsa;
    enum sn_scheme scheme;
    int hashing; /* hashes the input locally */
    enum sn_digest md;
};

static const struct mech mechs[] = {
    {CKM_RSA_PKCS, 1, SN_SCHEME_PKCS1, 0, SN_MD_SHA256},
    {CKM_SHA256_RSA_PKCS, 1, SN_SCHEME_PKCS1, 1, SN_MD_SHA256},
    {CKM_SHA384_RSA_PKCS, 1, SN_SCHEME_PKCS1, 1, SN_MD_SHA384},
    {CKM_SHA512_RSA_PKCS, 1, SN_SCHEME_PKCS1, 1, SN_MD_SHA512},
    {CKM_RSA_PKCS_PSS, 1, SN_SCHEME_PSS, 0, SN_MD_SHA256},
    {CKM_SHA256_RSA_PKCS_PSS, 1, SN_SCHEME_PSS, 1, SN_MD_SHA256},
    {CKM_SHA384_RSA_PKCS_PSS, 1, SN_SCHEME_PSS, 1, SN_MD_SHA384},
    {CKM_SHA512_RSA_PKCS_PSS, 1, SN_SCHEME_PSS, 1, SN_MD_SHA512},
    {CKM_ECDSA, 0, SN_SCHEME_ECDSA, 0, SN_MD_SHA256},
    {CKM_ECDSA_SHA256, 0, SN_SCHEME_ECDSA, 1, SN_MD_SHA256},
    {CKM_ECDSA_SHA384, 0, SN_SCHEME_ECDSA, 1, SN_MD_SHA384},
    {CKM_ECDSA_SHA512, 0, SN_SCHEME_ECDSA, 1, SN_MD_SHA512},
};

static const struct mech *
mech_find(CK_MECHANISM_TYPE t)
{
    size_t i;

    for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
        if (mechs[i].type == t)
            return &mechs[i];
    return NULL;
}

CK_RV
sn_p11_mech_info(CK_MECHANISM_TYPE t, CK_MECHANISM_INFO *info)
{
    const struct mech *m = mech_find(t);

    if (m == NULL)
        return CKR_MECHANISM_INVALID;
    memset(info, 0, sizeof(*info));
    info->flags = CKF_HW | CKF_SIGN;
    if (m->rsa) {
        info->ulMinKeySize = 3072;
        info->ulMaxKeySize = 4096;
    } else {
        info->ulMinKeySize = 256;
        info->ulMaxKeySize = 384;
        info->flags |= CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
    }
    return CKR_OK;
}

static const EVP_MD *
evp_md(enum sn_digest md)
{
    switch (md) {
    case SN_MD_SHA384:
        return EVP_sha384();
    case SN_MD_SHA512:
        return EVP_sha512();
    default:
        return EVP_sha256();
    }
}

static int
md_from_ckm(CK_MECHANISM_TYPE hash, CK_RSA_PKCS_MGF_TYPE mgf,
            enum sn_digest *md)
{
    if (hash == CKM_SHA256 && mgf == CKG_MGF1_SHA256)
        *md = SN_MD_SHA256;
    else if (hash == CKM_SHA384 && mgf == CKG_MGF1_SHA384)
        *md = SN_MD_SHA384;
    else if (hash == CKM_SHA512 && mgf == CKG_MGF1_SHA512)
        *md = SN_MD_SHA512;
    else
        return 0;
    return 1;
}

/* PSS: the service uses MGF1 with the same digest and salt = its length. */
static CK_RV
pss_params(const CK_MECHANISM *m, const struct mech *mm, enum sn_digest *md)
{
    const CK_RSA_PKCS_PSS_PARAMS *p = m->pParameter;

    if (p == NULL || m->ulParameterLen != sizeof(*p))
        return CKR_MECHANISM_PARAM_INVALID;
    if (!md_from_ckm(p->hashAlg, p->mgf, md))
        return CKR_MECHANISM_PARAM_INVALID;
    if (mm->hashing && *md != mm->md)
        return CKR_MECHANISM_PARAM_INVALID;
    if (p->sLen != sn_digest_len(*md))
        return CKR_MECHANISM_PARAM_INVALID;
    return CKR_OK;
}

CK_RV
sn_p11_sign_init(struct sn_p11_signop *op, const CK_MECHANISM *m,
                 const struct sn_p11_key *k)
{
    const struct mech *mm = mech_find(m->mechanism);
    enum sn_digest md;
    CK_RV rv;

    memset(op, 0, sizeof(*op));
    if (mm == NULL)
        return CKR_MECHANISM_INVALID;
    if (mm->rsa != sn_keyalg_is_rsa(k->alg))
        return CKR_KEY_TYPE_INCONSISTENT;
    md = mm->md;
    if (mm->scheme == SN_SCHEME_PSS && (rv = pss_params(m, mm, &md)) != CKR_OK)
        return rv;
    if (mm->hashing) {
        if ((op->ctx = EVP_MD_CTX_new()) == NULL)
            return CKR_HOST_MEMORY;
        if (EVP_DigestInit_ex(op->ctx, evp_md(md), NULL) != 1) {
            sn_p11_sign_cleanup(op);
            return CKR_FUNCTION_FAILED;
        }
    }
    op->mech = m->mechanism;
    op->alg = k->alg;
    op->sig_len = k->sig_len;
    op->md = md;
    memcpy(op->key_id, k->id, sizeof(op->key_id));
    op->active = 1;
    return CKR_OK;
}

void
sn_p11_sign_cleanup(struct sn_p11_signop *op)
{
    EVP_MD_CTX_free(op->ctx);
    OPENSSL_cleanse(op, sizeof(*op));
}

CK_RV
sn_p11_sign_update(struct sn_p11_signop *op, const uint8_t *data, size_t len)
{
    op->multi = 1;
    if (op->ctx != NULL)
        return EVP_DigestUpdate(op->ctx, data, len) == 1 ? CKR_OK
                                                         : CKR_FUNCTION_FAILED;
    if (len > sizeof(op->raw) - op->rawlen)
        return CKR_DATA_LEN_RANGE;
    if (len > 0)
        memcpy(op->raw + op->rawlen, data, len);
    op->rawlen += len;
    return CKR_OK;
}

/*
 * Raw ECDSA input is the hash, used as its leftmost field bits. 32, 48 or
 * 64 bytes name SHA-256/384/512 (the service truncates the same way);
 * other lengths are fitted to the field size: left-padded with zeros when
 * shorter (same integer), cut to the leftmost bytes when longer.
 */
static CK_RV
ecdsa_raw(const uint8_t *in, size_t len, size_t field,
          struct sn_p11_signreq *req)
{
    if (len == 0 || len > 64)
        return CKR_DATA_LEN_RANGE;
    if (len == 32 || len == 48 || len == 64) {
        req->md = len == 32 ? SN_MD_SHA256
                            : (len == 48 ? SN_MD_SHA384 : SN_MD_SHA512);
        memcpy(req->digest, in, len);
        req->dlen = len;
        return CKR_OK;
    }
    req->md = field == 32 ? SN_MD_SHA256 : SN_MD_SHA384;
    req->dlen = field;
    memset(req->digest, 0, field);
    if (len <= field)
        memcpy(req->digest + field - len, in, len);
    else
        memcpy(req->digest, in, field);
    return CKR_OK;
}

static CK_RV
raw_input(const struct sn_p11_signop *op, const uint8_t *in, size_t len,
          struct sn_p11_signreq *req)
{
    const uint8_t *d;

    switch (op->mech) {
    case CKM_RSA_PKCS:
        if (sn_p11_digestinfo_parse(in, len, &req->md, &d) != SN_OK)
            return CKR_DATA_INVALID;
        req->dlen = sn_digest_len(req->md);
        memcpy(req->digest, d, req->dlen);
        return CKR_OK;
    case CKM_RSA_PKCS_PSS:
        if (len != sn_digest_len(op->md))
            return CKR_DATA_LEN_RANGE;
        req->md = op->md;
        req->dlen = len;
        memcpy(req->digest, in, len);
        return CKR_OK;
    default:
        return ecdsa_raw(in, len, op->sig_len / 2, req);
    }
}

CK_RV
sn_p11_sign_digest(struct sn_p11_signop *op, const uint8_t *data, size_t len,
                   struct sn_p11_signreq *req)
{
    const struct mech *mm = mech_find(op->mech);
    unsigned int dlen = 0;

    memset(req, 0, sizeof(*req));
    if (mm == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    req->scheme = mm->scheme;
    if (op->ctx != NULL) {
        if (data != NULL && EVP_DigestUpdate(op->ctx, data, len) != 1)
            return CKR_FUNCTION_FAILED;
        if (EVP_DigestFinal_ex(op->ctx, req->digest, &dlen) != 1 ||
            dlen != sn_digest_len(op->md))
            return CKR_FUNCTION_FAILED;
        req->md = op->md;
        req->dlen = dlen;
        return CKR_OK;
    }
    if (data == NULL)
        return raw_input(op, op->raw, op->rawlen, req);
    return raw_input(op, data, len, req);
}
