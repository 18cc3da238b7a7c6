/*
 * libFuzzer driver: the request-head line checker (src/http/headlines.c),
 * which reads what libmicrohttpd left of every request's head. The first
 * two bytes give the version's offset; the rest is the head. Checks what
 * the server relies on: nothing outside the head is read (ASan), the
 * verdict does not depend on bytes after the head, and a head that
 * passes has the shape of CRLF lines: no CR left, and it ends with the
 * last line's and the empty line's NULs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/headlines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *head, *fault, *again;
    char *copy, *longer;
    size_t len, off;

    if (size < 2)
        return 0;
    off = (size_t)data[0] << 8 | data[1];
    len = size - 2;
    /* An exact-size copy: a read past the head is caught. */
    if ((copy = malloc(len > 0 ? len : 1)) == NULL ||
        (longer = malloc(len + 8)) == NULL)
        abort();
    memcpy(copy, data + 2, len);
    head = copy;
    fault = sn_headlines_fault(head, len, off);
    memcpy(longer, data + 2, len);
    memset(longer + len, 'x', 8);
    again = sn_headlines_fault(longer, len, off);
    if ((fault == NULL) != (again == NULL))
        abort();
    if (fault == NULL &&
        (off >= len || len < 5 || memchr(head, '\r', len) != NULL ||
         memcmp(head + len - 4, "\0\0\0\0", 4) != 0 || head[off] == '\0'))
        abort();
    free(copy);
    free(longer);
    return 0;
}
