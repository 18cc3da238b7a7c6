/*
 * headlines: were a request's head lines all ended by CRLF, with no line
 * folded? RFC 9112 2.2 and 5.2 let a server refuse a bare LF and an
 * obs-fold continuation line, and a server behind a proxy must: the two
 * may otherwise disagree on where a header, and so a request, ends.
 *
 * libmicrohttpd 0.9.75 (Debian 12's) accepts both and has no option to
 * refuse them. It parses the head in place in its read buffer, and the
 * access handler is given pointers into that buffer (method, version)
 * and the head's size (MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE). Each
 * line end it found became NUL bytes there: two for CRLF, one for a bare
 * LF; each header's colon became one NUL, its value is left as sent, and
 * a continuation line keeps its leading space or tab, and a CR not
 * followed by LF stays a CR. So the bytes from the version to the end of
 * the head still say how every line ended.
 *
 * One case cannot be told apart: a NUL byte right before a bare LF
 * ("\0\n") leaves the same two NULs as CRLF, so such a line passes (and
 * "\0\n" passes as the empty line that ends the head). A proxy in front
 * that refuses NUL in a header (haproxy, nginx) closes that gap.
 *
 * Pure: bytes in, a verdict out; no MHD, no globals. The bytes are
 * untrusted (whatever a client sent, as MHD left it).
 */
#ifndef SN_HEADLINES_H
#define SN_HEADLINES_H

#include <stddef.h>

/*
 * head[0..len) is the request head as MHD 0.9.75 leaves it and version
 * (at head + version_off) is where the HTTP version starts. Returns NULL
 * if the request line and every header line ended in CRLF, the head
 * ended with an empty CRLF line, no line began with a space or tab and
 * no CR was left anywhere in the head (RFC 9112 2.2: a bare CR);
 * else what is wrong, for a 400 answer. Bytes that do not have the shape
 * above (an offset past the end, a header line without its colon's NUL)
 * are refused too: the caller cannot tell how they were framed.
 */
const char *sn_headlines_fault(const char *head, size_t len,
                               size_t version_off);

#endif
