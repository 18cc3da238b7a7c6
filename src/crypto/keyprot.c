/*
 * keyprot: DER of the key-protection extension, written by hand (a few
 * fixed fields). Inputs are the module's token info, bounded by the
 * sizes of struct sn_hsm_info, and the operator's configuration.
 */
#include "crypto/keyprot.h"

#include <stdlib.h>
#include <string.h>

#define TAG_BOOLEAN 0x01
#define TAG_INTEGER 0x02
#define TAG_UTF8 0x0c
#define TAG_SEQUENCE 0x30
#define KEYPROT_MAX 512 /* every field at its largest fits well within */

struct der {
    uint8_t b[KEYPROT_MAX];
    size_t n;
    int failed; /* sticky */
};

/* One TLV; lengths up to 65535 (long form where needed). */
static void
put(struct der *d, uint8_t tag, const void *v, size_t len)
{
    size_t hdr = len < 0x80 ? 2 : len < 0x100 ? 3 : 4;

    if (d->failed || len > 0xffff || hdr + len > sizeof(d->b) - d->n) {
        d->failed = 1;
        return;
    }
    d->b[d->n++] = tag;
    if (len >= 0x100) {
        d->b[d->n++] = 0x82;
        d->b[d->n++] = (uint8_t)(len >> 8);
    } else if (len >= 0x80)
        d->b[d->n++] = 0x81;
    d->b[d->n++] = (uint8_t)len;
    if (len > 0)
        memcpy(d->b + d->n, v, len);
    d->n += len;
}

static void
put_str(struct der *d, const char *s, size_t size)
{
    put(d, TAG_UTF8, s, strnlen(s, size));
}

static void
put_der(struct der *d, uint8_t tag, const struct der *inner)
{
    if (inner->failed)
        d->failed = 1;
    put(d, tag, inner->b, inner->n);
}

sn_err
sn_keyprot_encode(const struct sn_key_protection *kp, uint8_t **der,
                  size_t *len)
{
    static const uint8_t version = 1;
    const uint8_t listed = kp->listed ? 0xff : 0x00;
    struct der module, cert, body, all;

    *der = NULL;
    *len = 0;
    memset(&module, 0, sizeof(module));
    memset(&cert, 0, sizeof(cert));
    memset(&body, 0, sizeof(body));
    memset(&all, 0, sizeof(all));
    /* A listed module names its certificate; an unlisted one none. */
    if ((kp->listed != 0) != (kp->certificate[0] != '\0'))
        return SN_ERR_INVALID;
    put_str(&module, kp->hsm.manufacturer, sizeof(kp->hsm.manufacturer));
    put_str(&module, kp->hsm.model, sizeof(kp->hsm.model));
    put_str(&module, kp->hsm.serial, sizeof(kp->hsm.serial));
    put(&cert, TAG_BOOLEAN, &listed, 1);
    put_str(&cert, kp->certificate, sizeof(kp->certificate));
    put(&body, TAG_INTEGER, &version, 1);
    put(&body, TAG_UTF8, SN_KEYPROT_HOLDER, strlen(SN_KEYPROT_HOLDER));
    put_der(&body, TAG_SEQUENCE, &module);
    put_der(&body, TAG_SEQUENCE, &cert);
    put_der(&all, TAG_SEQUENCE, &body);
    if (all.failed)
        return SN_ERR_LIMIT;
    if ((*der = malloc(all.n)) == NULL)
        return SN_ERR_NOMEM;
    memcpy(*der, all.b, all.n);
    *len = all.n;
    return SN_OK;
}
