/*
 * modules: the operator's list of HSM models it holds certified (CSBR
 * 6.2.7.4). PKCS#11 cannot prove certification, so the CA matches the
 * module's own report of manufacturer and model against this list.
 */
#ifndef SN_MODULES_H
#define SN_MODULES_H

#include <stddef.h>

/* An hsm.certified_modules entry: a module the operator holds certified. */
struct sn_certified_module {
    char *manufacturer; /* CK_TOKEN_INFO.manufacturerID, 1..32 bytes */
    char *model;        /* CK_TOKEN_INFO.model, 1..16 bytes */
    char *certificate;  /* e.g. "FIPS 140-3 #4745", 1..64 bytes */
};

/* The list and what to do with a module not on it. */
struct sn_module_list {
    const struct sn_certified_module *v;
    size_t n;
    int allow_uncertified; /* test certificates, which then say so */
};

/* The entry for a module, or NULL (exact, case-sensitive match). */
const struct sn_certified_module *
sn_modules_find(const struct sn_certified_module *v, size_t n,
                const char *manufacturer, const char *model);

#endif
