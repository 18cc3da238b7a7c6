/*
 * objects: the token's PKCS#11 objects, built from the validated key list
 * (reply.h): per usable key a private key, its public key and, when one is
 * attached, its certificate; plus the chain's CA certificates, once each.
 * Private-key secrets are never here: the attributes that would hold them
 * exist only as "sensitive" markers that read as CKR_ATTRIBUTE_SENSITIVE.
 */
#ifndef SN_P11_OBJECTS_H
#define SN_P11_OBJECTS_H

#include <p11-kit/pkcs11.h>

#include "common/err.h"
#include "pkcs11/reply.h"

struct sn_p11_attr {
    CK_ATTRIBUTE_TYPE type;
    void *val;
    CK_ULONG len;
    int sensitive;
};

struct sn_p11_object {
    CK_OBJECT_HANDLE handle;
    CK_OBJECT_CLASS cls;
    const struct sn_p11_key *key; /* NULL for CA certificates */
    struct sn_p11_attr *attrs;
    size_t nattrs;
    size_t cap;
};

struct sn_p11_objects {
    struct sn_p11_keylist *keys;
    struct sn_p11_object *objs;
    size_t n;
    size_t cap;
};

/*
 * Builds the objects of every enabled key in keys (which *out then owns,
 * also on failure it is freed). Handles are taken from *next_handle,
 * which advances, so handles of an older list never come back.
 */
sn_err sn_p11_objects_build(struct sn_p11_keylist *keys,
                            CK_OBJECT_HANDLE *next_handle,
                            struct sn_p11_objects **out);
void sn_p11_objects_free(struct sn_p11_objects *o);

const struct sn_p11_object *sn_p11_objects_find(const struct sn_p11_objects *o,
                                                CK_OBJECT_HANDLE h);

/* 1 if every attribute of tmpl is present, not sensitive and equal. */
int sn_p11_object_match(const struct sn_p11_object *obj,
                        const CK_ATTRIBUTE *tmpl, CK_ULONG n);

/* C_GetAttributeValue semantics for one object. */
CK_RV sn_p11_object_get(const struct sn_p11_object *obj, CK_ATTRIBUTE *tmpl,
                        CK_ULONG n);

#endif
