/*
 * headlines: the line ends of a request head as libmicrohttpd 0.9.75
 * leaves it (see headlines.h). A single forward pass through a bounded
 * cursor; nothing past head + len is read.
 */
#include "http/headlines.h"

#include <string.h>

struct cursor {
    const char *p, *end;
};

/* Skips bytes that are not NUL (a token, a value); returns how many. */
static size_t
skip_text(struct cursor *c)
{
    size_t n = 0;

    while (c->p < c->end && *c->p != '\0') {
        c->p++;
        n++;
    }
    return n;
}

/* Skips NUL bytes (line ends, a colon); returns how many. */
static size_t
skip_nuls(struct cursor *c)
{
    size_t n = 0;

    while (c->p < c->end && *c->p == '\0') {
        c->p++;
        n++;
    }
    return n;
}

/* A line end just read as nuls NUL bytes: two for CRLF; at the end of the
 * head, four (the last line's CRLF and the empty line's). */
static const char *
line_end(const struct cursor *c, size_t nuls)
{
    size_t want = c->p == c->end ? 4 : 2;

    if (nuls == want)
        return NULL;
    if (nuls == 0)
        return "a request head that does not end with an empty line";
    return nuls < want ? "a line ended by a bare LF"
                       : "a line ended by a bare LF or an empty line in the "
                         "header section";
}

const char *
sn_headlines_fault(const char *head, size_t len, size_t version_off)
{
    struct cursor c;
    const char *fault;

    if (head == NULL || version_off >= len)
        return "a request head that cannot be read";
    /* MHD turned every CR of a CRLF into NUL: a CR left is a bare one. */
    if (memchr(head, '\r', len) != NULL)
        return "a bare CR in the request head";
    c.p = head + version_off;
    c.end = head + len;
    /* The request line's end, after the version. */
    if (skip_text(&c) == 0)
        return "a request line without a version";
    if ((fault = line_end(&c, skip_nuls(&c))) != NULL)
        return fault;
    while (c.p < c.end) {
        if (*c.p == ' ' || *c.p == '\t')
            return "a folded header line (obs-fold)";
        /* name, the colon's NUL, optional white space, the value */
        if (skip_text(&c) == 0 || c.p == c.end)
            return "a header line that cannot be read";
        c.p++;
        while (c.p < c.end && (*c.p == ' ' || *c.p == '\t'))
            c.p++;
        (void)skip_text(&c);
        if ((fault = line_end(&c, skip_nuls(&c))) != NULL)
            return fault;
    }
    return NULL;
}
