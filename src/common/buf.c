/* buf: bounded growth; the maximum is checked before any arithmetic. */
#include "common/buf.h"

#include <stdlib.h>
#include <string.h>

void
sn_buf_init(struct sn_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

sn_err
sn_buf_append(struct sn_buf *b, const void *p, size_t n)
{
    size_t ncap;
    uint8_t *np;

    if (n > b->max - b->len) {
        b->overflow = 1;
        return SN_ERR_LIMIT;
    }
    if (b->len + n + 1 > b->cap) {
        ncap = b->cap == 0 ? 4096 : b->cap;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        if (ncap > b->max + 1)
            ncap = b->max + 1;
        if ((np = realloc(b->data, ncap)) == NULL)
            return SN_ERR_NOMEM;
        b->data = np;
        b->cap = ncap;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SN_OK;
}

void
sn_buf_take(struct sn_buf *b, uint8_t **out, size_t *len)
{
    *out = b->data;
    *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
}

void
sn_buf_cleanup(struct sn_buf *b)
{
    free(b->data);
    sn_buf_init(b, b->max);
}

size_t
sn_buf_sink(char *ptr, size_t size, size_t nmemb, void *arg)
{
    size_t n = size * nmemb;

    if (size != 0 && n / size != nmemb)
        return 0;
    return sn_buf_append(arg, ptr, n) == SN_OK ? n : 0;
}
