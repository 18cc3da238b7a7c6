/*
 * objects: PKCS#11 object attributes for the keys the token may use. Input
 * is the key list reply.c already validated; nothing here trusts more than
 * that. The attribute sets follow PKCS#11 v2.40 section 4 closely enough
 * for OpenSC, libp11 (engine_pkcs11) and Java's SunPKCS11 to pair keys
 * with certificates (same CKA_ID) and to build chains (CKA_SUBJECT).
 */
#include "pkcs11/objects.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define MAX_ATTRS 48

static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                   0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

static const CK_MECHANISM_TYPE rsa_mechs[] = {CKM_RSA_PKCS,
                                              CKM_SHA256_RSA_PKCS,
                                              CKM_SHA384_RSA_PKCS,
                                              CKM_SHA512_RSA_PKCS,
                                              CKM_RSA_PKCS_PSS,
                                              CKM_SHA256_RSA_PKCS_PSS,
                                              CKM_SHA384_RSA_PKCS_PSS,
                                              CKM_SHA512_RSA_PKCS_PSS};
static const CK_MECHANISM_TYPE ec_mechs[] = {
    CKM_ECDSA, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384, CKM_ECDSA_SHA512};

static void
object_cleanup(struct sn_p11_object *obj)
{
    size_t i;

    for (i = 0; i < obj->nattrs; i++)
        free(obj->attrs[i].val);
    free(obj->attrs);
    memset(obj, 0, sizeof(*obj));
}

void
sn_p11_objects_free(struct sn_p11_objects *o)
{
    size_t i;

    if (o == NULL)
        return;
    for (i = 0; i < o->n; i++)
        object_cleanup(&o->objs[i]);
    free(o->objs);
    sn_p11_keylist_free(o->keys);
    free(o);
}

/* Adds one attribute (a copy of val); a sensitive one carries no value. */
static sn_err
add(struct sn_p11_object *obj, CK_ATTRIBUTE_TYPE type, const void *val,
    size_t len, int sensitive)
{
    struct sn_p11_attr *a;

    if (obj->nattrs == obj->cap) {
        if (obj->cap >= MAX_ATTRS)
            return SN_ERR_LIMIT;
        a = realloc(obj->attrs, (obj->cap + 16) * sizeof(*a));
        if (a == NULL)
            return SN_ERR_NOMEM;
        obj->attrs = a;
        obj->cap += 16;
    }
    a = &obj->attrs[obj->nattrs];
    memset(a, 0, sizeof(*a));
    a->type = type;
    a->sensitive = sensitive;
    if (!sensitive && len > 0) {
        if ((a->val = malloc(len)) == NULL)
            return SN_ERR_NOMEM;
        memcpy(a->val, val, len);
    }
    a->len = sensitive ? 0 : (CK_ULONG)len;
    obj->nattrs++;
    return SN_OK;
}

static sn_err
add_bool(struct sn_p11_object *obj, CK_ATTRIBUTE_TYPE type, int v)
{
    CK_BBOOL b = v ? CK_TRUE : CK_FALSE;

    return add(obj, type, &b, sizeof(b), 0);
}

static sn_err
add_ulong(struct sn_p11_object *obj, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
    return add(obj, type, &v, sizeof(v), 0);
}

static sn_err
add_str(struct sn_p11_object *obj, CK_ATTRIBUTE_TYPE type, const char *s)
{
    return add(obj, type, s, strlen(s), 0);
}

/* Attributes every storage object has. */
static sn_err
add_common(struct sn_p11_object *obj, CK_OBJECT_CLASS cls, int private_obj,
           const char *label, const void *id, size_t idlen)
{
    sn_err r;

    if ((r = add_ulong(obj, CKA_CLASS, cls)) != SN_OK ||
        (r = add_bool(obj, CKA_TOKEN, 1)) != SN_OK ||
        (r = add_bool(obj, CKA_PRIVATE, private_obj)) != SN_OK ||
        (r = add_bool(obj, CKA_MODIFIABLE, 0)) != SN_OK ||
        (r = add_bool(obj, CKA_COPYABLE, 0)) != SN_OK ||
        (r = add_bool(obj, CKA_DESTROYABLE, 0)) != SN_OK ||
        (r = add_str(obj, CKA_LABEL, label)) != SN_OK ||
        (r = add(obj, CKA_ID, id, idlen, 0)) != SN_OK)
        return r;
    return SN_OK;
}

/* The key-type specific public parts, shared by private and public keys. */
static sn_err
add_key_parts(struct sn_p11_object *obj, const struct sn_p11_key *k)
{
    const struct sn_p11_cert *leaf = k->ncerts > 0 ? &k->certs[0] : NULL;
    uint8_t point[2 + 1 + 2 * 66];
    int rsa = sn_keyalg_is_rsa(k->alg);
    sn_err r;

    if ((r = add_ulong(obj, CKA_KEY_TYPE, rsa ? CKK_RSA : CKK_EC)) != SN_OK ||
        (r = add_bool(obj, CKA_LOCAL, 1)) != SN_OK ||
        (r = add_bool(obj, CKA_DERIVE, 0)) != SN_OK ||
        (r = add(obj, CKA_SUBJECT, leaf != NULL ? leaf->subject : NULL,
                 leaf != NULL ? leaf->subject_len : 0, 0)) != SN_OK ||
        (r = add(obj, CKA_PUBLIC_KEY_INFO, k->spki, k->spki_len, 0)) != SN_OK)
        return r;
    if (rsa) {
        if ((r = add(obj, CKA_MODULUS, k->modulus, k->modulus_len, 0)) !=
                SN_OK ||
            (r = add(obj, CKA_PUBLIC_EXPONENT, k->exponent, k->exponent_len,
                     0)) != SN_OK)
            return r;
        return add(obj, CKA_ALLOWED_MECHANISMS, rsa_mechs, sizeof(rsa_mechs),
                   0);
    }
    if (k->ec_point_len > sizeof(point) - 2)
        return SN_ERR_INVALID;
    /* CKA_EC_POINT is the DER OCTET STRING of the uncompressed point. */
    point[0] = 0x04;
    point[1] = (uint8_t)k->ec_point_len;
    memcpy(point + 2, k->ec_point, k->ec_point_len);
    if ((r = add(obj, CKA_EC_PARAMS,
                 k->alg == SN_KEY_P256 ? oid_p256 : oid_p384,
                 k->alg == SN_KEY_P256 ? sizeof(oid_p256) : sizeof(oid_p384),
                 0)) != SN_OK ||
        (r = add(obj, CKA_EC_POINT, point, k->ec_point_len + 2, 0)) != SN_OK)
        return r;
    return add(obj, CKA_ALLOWED_MECHANISMS, ec_mechs, sizeof(ec_mechs), 0);
}

static sn_err
build_private(struct sn_p11_object *obj, const struct sn_p11_key *k)
{
    static const CK_ATTRIBUTE_TYPE secret[] = {
        CKA_VALUE,      CKA_PRIVATE_EXPONENT, CKA_PRIME_1,    CKA_PRIME_2,
        CKA_EXPONENT_1, CKA_EXPONENT_2,       CKA_COEFFICIENT};
    static const CK_ATTRIBUTE_TYPE off[] = {
        CKA_DECRYPT,           CKA_UNWRAP,
        CKA_SIGN_RECOVER,      CKA_EXTRACTABLE,
        CKA_WRAP_WITH_TRUSTED, CKA_ALWAYS_AUTHENTICATE};
    static const CK_ATTRIBUTE_TYPE on[] = {
        CKA_SIGN, CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE};
    size_t i;
    sn_err r;

    obj->cls = CKO_PRIVATE_KEY;
    if ((r = add_common(obj, CKO_PRIVATE_KEY, 1, k->label, k->id,
                        strlen(k->id))) != SN_OK ||
        (r = add_key_parts(obj, k)) != SN_OK)
        return r;
    for (i = 0; i < sizeof(on) / sizeof(on[0]); i++)
        if ((r = add_bool(obj, on[i], 1)) != SN_OK)
            return r;
    for (i = 0; i < sizeof(off) / sizeof(off[0]); i++)
        if ((r = add_bool(obj, off[i], 0)) != SN_OK)
            return r;
    for (i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
        if ((r = add(obj, secret[i], NULL, 0, 1)) != SN_OK)
            return r;
    return SN_OK;
}

static sn_err
build_public(struct sn_p11_object *obj, const struct sn_p11_key *k)
{
    static const CK_ATTRIBUTE_TYPE off[] = {CKA_ENCRYPT, CKA_WRAP,
                                            CKA_VERIFY_RECOVER, CKA_TRUSTED};
    size_t i;
    sn_err r;

    obj->cls = CKO_PUBLIC_KEY;
    if ((r = add_common(obj, CKO_PUBLIC_KEY, 0, k->label, k->id,
                        strlen(k->id))) != SN_OK ||
        (r = add_key_parts(obj, k)) != SN_OK ||
        (r = add_bool(obj, CKA_VERIFY, 1)) != SN_OK)
        return r;
    if (sn_keyalg_is_rsa(k->alg) &&
        (r = add_ulong(obj, CKA_MODULUS_BITS, (CK_ULONG)k->modulus_len * 8)) !=
            SN_OK)
        return r;
    for (i = 0; i < sizeof(off) / sizeof(off[0]); i++)
        if ((r = add_bool(obj, off[i], 0)) != SN_OK)
            return r;
    return SN_OK;
}

/* Category 1: token user (the leaf); 2: authority (a CA). */
static sn_err
build_cert(struct sn_p11_object *obj, const struct sn_p11_cert *c,
           const char *label, const void *id, size_t idlen, CK_ULONG category)
{
    sn_err r;

    obj->cls = CKO_CERTIFICATE;
    if ((r = add_common(obj, CKO_CERTIFICATE, 0, label, id, idlen)) != SN_OK ||
        (r = add_ulong(obj, CKA_CERTIFICATE_TYPE, CKC_X_509)) != SN_OK ||
        (r = add_bool(obj, CKA_TRUSTED, 0)) != SN_OK ||
        (r = add_ulong(obj, CKA_CERTIFICATE_CATEGORY, category)) != SN_OK ||
        (r = add(obj, CKA_SUBJECT, c->subject, c->subject_len, 0)) != SN_OK ||
        (r = add(obj, CKA_ISSUER, c->issuer, c->issuer_len, 0)) != SN_OK ||
        (r = add(obj, CKA_SERIAL_NUMBER, c->serial, c->serial_len, 0)) !=
            SN_OK ||
        (r = add(obj, CKA_VALUE, c->der, c->der_len, 0)) != SN_OK)
        return r;
    return SN_OK;
}

/* A fresh, zeroed object slot with the next handle. */
static sn_err
new_object(struct sn_p11_objects *o, CK_OBJECT_HANDLE *next,
           struct sn_p11_object **out)
{
    struct sn_p11_object *p;

    if (o->n == o->cap) {
        p = realloc(o->objs, (o->cap + 32) * sizeof(*p));
        if (p == NULL)
            return SN_ERR_NOMEM;
        o->objs = p;
        o->cap += 32;
    }
    p = &o->objs[o->n++];
    memset(p, 0, sizeof(*p));
    p->handle = (*next)++;
    *out = p;
    return SN_OK;
}

static int
have_ca(const struct sn_p11_objects *o, const uint8_t id[19])
{
    const struct sn_p11_attr *a;
    size_t i, j;

    for (i = 0; i < o->n; i++) {
        if (o->objs[i].key != NULL)
            continue;
        for (j = 0; j < o->objs[i].nattrs; j++) {
            a = &o->objs[i].attrs[j];
            if (a->type == CKA_ID && a->len == 19 &&
                memcmp(a->val, id, 19) == 0)
                return 1;
        }
    }
    return 0;
}

/* The issuing CAs of a chain: id "ca-" + 16 hex digits of the SHA-256. */
static sn_err
build_cas(struct sn_p11_objects *o, const struct sn_p11_key *k,
          CK_OBJECT_HANDLE *next)
{
    struct sn_p11_object *obj;
    uint8_t id[19];
    char hex[17];
    size_t i;
    sn_err r;

    for (i = 1; i < k->ncerts; i++) {
        memcpy(id, "ca-", 3);
        sn_hex_encode(k->certs[i].fp, 8, hex);
        memcpy(id + 3, hex, 16);
        if (have_ca(o, id))
            continue;
        if ((r = new_object(o, next, &obj)) != SN_OK ||
            (r = build_cert(obj, &k->certs[i],
                            k->certs[i].cn[0] != '\0' ? k->certs[i].cn
                                                      : "Signet CA",
                            id, sizeof(id), 2)) != SN_OK)
            return r;
    }
    return SN_OK;
}

static sn_err
build_key(struct sn_p11_objects *o, const struct sn_p11_key *k,
          CK_OBJECT_HANDLE *next)
{
    struct sn_p11_object *obj;
    sn_err r;

    if ((r = new_object(o, next, &obj)) != SN_OK)
        return r;
    obj->key = k;
    if ((r = build_private(obj, k)) != SN_OK)
        return r;
    if ((r = new_object(o, next, &obj)) != SN_OK)
        return r;
    obj->key = k;
    if ((r = build_public(obj, k)) != SN_OK)
        return r;
    if (k->ncerts == 0)
        return SN_OK;
    if ((r = new_object(o, next, &obj)) != SN_OK)
        return r;
    obj->key = k;
    if ((r = build_cert(obj, &k->certs[0], k->label, k->id, strlen(k->id),
                        1)) != SN_OK)
        return r;
    return build_cas(o, k, next);
}

sn_err
sn_p11_objects_build(struct sn_p11_keylist *keys, CK_OBJECT_HANDLE *next_handle,
                     struct sn_p11_objects **out)
{
    struct sn_p11_objects *o = NULL;
    sn_err r = SN_ERR_NOMEM;
    size_t i;

    *out = NULL;
    if ((o = calloc(1, sizeof(*o))) == NULL) {
        sn_p11_keylist_free(keys);
        goto out;
    }
    o->keys = keys;
    for (i = 0; i < keys->n; i++) {
        if (!keys->keys[i].enabled)
            continue;
        if ((r = build_key(o, &keys->keys[i], next_handle)) != SN_OK)
            goto out;
    }
    *out = o;
    o = NULL;
    r = SN_OK;
out:
    sn_p11_objects_free(o);
    return r;
}

const struct sn_p11_object *
sn_p11_objects_find(const struct sn_p11_objects *o, CK_OBJECT_HANDLE h)
{
    size_t i;

    if (o == NULL)
        return NULL;
    for (i = 0; i < o->n; i++)
        if (o->objs[i].handle == h)
            return &o->objs[i];
    return NULL;
}

static const struct sn_p11_attr *
attr_find(const struct sn_p11_object *obj, CK_ATTRIBUTE_TYPE type)
{
    size_t i;

    for (i = 0; i < obj->nattrs; i++)
        if (obj->attrs[i].type == type)
            return &obj->attrs[i];
    return NULL;
}

int
sn_p11_object_match(const struct sn_p11_object *obj, const CK_ATTRIBUTE *tmpl,
                    CK_ULONG n)
{
    const struct sn_p11_attr *a;
    CK_ULONG i;

    for (i = 0; i < n; i++) {
        a = attr_find(obj, tmpl[i].type);
        if (a == NULL || a->sensitive || a->len != tmpl[i].ulValueLen)
            return 0;
        if (a->len > 0 &&
            (tmpl[i].pValue == NULL || memcmp(a->val, tmpl[i].pValue, a->len)))
            return 0;
    }
    return 1;
}

CK_RV
sn_p11_object_get(const struct sn_p11_object *obj, CK_ATTRIBUTE *tmpl,
                  CK_ULONG n)
{
    const struct sn_p11_attr *a;
    CK_RV rv = CKR_OK;
    CK_ULONG i;

    /* Every entry is processed; the last error is what is returned. */
    for (i = 0; i < n; i++) {
        a = attr_find(obj, tmpl[i].type);
        if (a == NULL) {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_ATTRIBUTE_TYPE_INVALID;
        } else if (a->sensitive) {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_ATTRIBUTE_SENSITIVE;
        } else if (tmpl[i].pValue == NULL) {
            tmpl[i].ulValueLen = a->len;
        } else if (tmpl[i].ulValueLen < a->len) {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_BUFFER_TOO_SMALL;
        } else {
            if (a->len > 0)
                memcpy(tmpl[i].pValue, a->val, a->len);
            tmpl[i].ulValueLen = a->len;
        }
    }
    return rv;
}
