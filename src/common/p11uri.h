/*
 * p11uri: RFC 7512 PKCS#11 URIs naming a private key, such as
 * "pkcs11:token=ci;object=client-key;type=private?module-path=/usr/lib/
 * softhsm/libsofthsm2.so". Input is untrusted (a command line, an
 * environment variable, a configuration file): parsed through a cursor,
 * each value bounded and percent-decoded. Path attributes: token, object,
 * id, type (private only), manufacturer, model, serial; query: module-path
 * and pin-source (a file). A PIN inside the URI (pin-value) is refused:
 * URIs show up in process lists and logs.
 */
#ifndef SN_P11URI_H
#define SN_P11URI_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SN_P11URI_MAX 2048
#define SN_P11URI_VALUE_MAX 255
#define SN_P11URI_ID_MAX 64

struct sn_p11uri {
    char token[SN_P11URI_VALUE_MAX + 1]; /* "" for any */
    char object[SN_P11URI_VALUE_MAX + 1];
    uint8_t id[SN_P11URI_ID_MAX];
    size_t id_len; /* 0: no id */
    char manufacturer[SN_P11URI_VALUE_MAX + 1];
    char model[SN_P11URI_VALUE_MAX + 1];
    char serial[SN_P11URI_VALUE_MAX + 1];
    char module_path[SN_P11URI_VALUE_MAX + 1]; /* "" for the default */
    char pin_source[SN_P11URI_VALUE_MAX + 1];  /* "" for none */
};

/* 1 if s starts with "pkcs11:" (a URI rather than a file name). */
int sn_p11uri_is(const char *s);

/*
 * Parses s into *out (zeroed first). SN_ERR_INVALID with why (a short
 * text naming the part) for anything else, including an unknown
 * attribute, a repeated one, a bad escape or a NUL in a text value; an
 * object or an id is required.
 */
sn_err sn_p11uri_parse(const char *s, struct sn_p11uri *out, const char **why);

#endif
