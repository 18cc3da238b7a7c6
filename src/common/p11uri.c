/*
 * p11uri: RFC 7512 PKCS#11 URIs (see p11uri.h). The input is untrusted:
 * a cursor walks it once, every value is bounded before it is copied, and
 * a failure is sticky.
 */
#include "common/p11uri.h"
#include "common/util.h"

#include <string.h>

struct cur {
    const char *p, *end;
    const char *why; /* set on the first failure */
};

/* RFC 7512 pchar/qchar without the separators: what may stand unescaped. */
static int
plain(char c, int query)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return 1;
    if (c != '\0' && strchr("-._~:[]@!$'()*+,=", c) != NULL)
        return 1;
    return query ? (c == '/' || c == '?' || c == '|') : (c == '&');
}

/*
 * Decodes [p, end) into out (at most max octets); binary allows NULs.
 * Returns the length, or -1.
 */
static long
decode(const char *p, const char *end, int query, int binary, uint8_t *out,
       size_t max)
{
    size_t n = 0;
    int hi, lo;

    while (p < end) {
        uint8_t o;

        if (*p == '%') {
            if (end - p < 3 || (hi = sn_hexval(p[1])) < 0 ||
                (lo = sn_hexval(p[2])) < 0)
                return -1;
            o = (uint8_t)(hi << 4 | lo);
            p += 3;
        } else {
            if (!plain(*p, query))
                return -1;
            o = (uint8_t)*p++;
        }
        if (n == max || (!binary && (o == 0 || o < 0x20 || o == 0x7f)))
            return -1;
        out[n++] = o;
    }
    return (long)n;
}

/* A text value into dst (max bytes and a NUL), once. */
static void
text(struct cur *c, const char *v, const char *vend, int query, char *dst,
     const char *name)
{
    long n;

    if (c->why != NULL)
        return;
    if (dst[0] != '\0') {
        c->why = name;
        return;
    }
    n = decode(v, vend, query, 0, (uint8_t *)dst, SN_P11URI_VALUE_MAX);
    if (n <= 0) {
        dst[0] = '\0';
        c->why = name;
        return;
    }
    dst[n] = '\0';
}

static void
path_attr(struct cur *c, const char *a, const char *aend, struct sn_p11uri *u)
{
    const char *eq = memchr(a, '=', (size_t)(aend - a));
    size_t nlen;
    long n;

    if (eq == NULL) {
        c->why = "a path attribute without '='";
        return;
    }
    nlen = (size_t)(eq - a);
#define IS(s) (nlen == strlen(s) && memcmp(a, s, nlen) == 0)
    if (IS("token"))
        text(c, eq + 1, aend, 0, u->token, "token");
    else if (IS("object"))
        text(c, eq + 1, aend, 0, u->object, "object");
    else if (IS("manufacturer"))
        text(c, eq + 1, aend, 0, u->manufacturer, "manufacturer");
    else if (IS("model"))
        text(c, eq + 1, aend, 0, u->model, "model");
    else if (IS("serial"))
        text(c, eq + 1, aend, 0, u->serial, "serial");
    else if (IS("type")) {
        if ((size_t)(aend - eq - 1) != 7 || memcmp(eq + 1, "private", 7) != 0)
            c->why = "type (only 'private' names a key to sign with)";
    } else if (IS("id")) {
        n = decode(eq + 1, aend, 0, 1, u->id, sizeof(u->id));
        if (u->id_len != 0 || n <= 0)
            c->why = "id";
        else
            u->id_len = (size_t)n;
    } else
        c->why = "an unknown path attribute";
#undef IS
}

static void
query_attr(struct cur *c, const char *a, const char *aend, struct sn_p11uri *u)
{
    const char *eq = memchr(a, '=', (size_t)(aend - a));
    size_t nlen;

    if (eq == NULL) {
        c->why = "a query attribute without '='";
        return;
    }
    nlen = (size_t)(eq - a);
    if (nlen == 11 && memcmp(a, "module-path", 11) == 0)
        text(c, eq + 1, aend, 1, u->module_path, "module-path");
    else if (nlen == 10 && memcmp(a, "pin-source", 10) == 0)
        text(c, eq + 1, aend, 1, u->pin_source, "pin-source");
    else if (nlen == 9 && memcmp(a, "pin-value", 9) == 0)
        c->why = "pin-value (give the PIN in a file or the environment, "
                 "not in the URI)";
    else
        c->why = "an unknown query attribute";
}

int
sn_p11uri_is(const char *s)
{
    return s != NULL && strncmp(s, "pkcs11:", 7) == 0;
}

sn_err
sn_p11uri_parse(const char *s, struct sn_p11uri *out, const char **why)
{
    struct cur c;
    const char *a, *q;
    size_t len;

    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (!sn_p11uri_is(s)) {
        *why = "not a pkcs11: URI";
        return SN_ERR_INVALID;
    }
    if ((len = strlen(s)) > SN_P11URI_MAX) {
        *why = "too long";
        return SN_ERR_INVALID;
    }
    c.p = s + 7;
    c.end = s + len;
    c.why = NULL;
    q = memchr(c.p, '?', (size_t)(c.end - c.p));
    /* The path: attributes separated by ';', up to the query. */
    while (c.why == NULL && c.p < (q ? q : c.end)) {
        a = c.p;
        while (c.p < (q ? q : c.end) && *c.p != ';')
            c.p++;
        if (c.p == a)
            c.why = "an empty path attribute";
        else
            path_attr(&c, a, c.p, out);
        if (c.p < (q ? q : c.end))
            c.p++;
    }
    /* The query: attributes separated by '&'. */
    if (q != NULL)
        c.p = q + 1;
    while (c.why == NULL && q != NULL && c.p < c.end) {
        a = c.p;
        while (c.p < c.end && *c.p != '&')
            c.p++;
        if (c.p == a)
            c.why = "an empty query attribute";
        else
            query_attr(&c, a, c.p, out);
        if (c.p < c.end)
            c.p++;
    }
    if (c.why == NULL && out->object[0] == '\0' && out->id_len == 0)
        c.why = "no object or id (which key?)";
    if (c.why != NULL) {
        *why = c.why;
        memset(out, 0, sizeof(*out));
        return SN_ERR_INVALID;
    }
    return SN_OK;
}
