/*
 * output: how the CLI shows things. Server-supplied strings are untrusted,
 * so human output passes them through a filter that drops terminal
 * control characters; --json output goes through jansson, which escapes
 * them. Output files are written whole or not at all.
 */
#ifndef SN_OUTPUT_H
#define SN_OUTPUT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "common/err.h"

/* Pretty-prints j (2-space indent) and a newline on stdout. */
void sn_out_json(const json_t *j);

/*
 * Prints s with control characters (and C1 controls) replaced by '?';
 * newlines are kept only if multiline is set. NULL prints "-".
 */
void sn_out_text(FILE *f, const char *s, int multiline);

/*
 * A filtered copy of s in buf (len bytes), as sn_out_text() prints it
 * (newlines too become '?'), cut to fit; NULL or "" gives "-". For
 * columns whose width is counted before printing.
 */
void sn_out_clean(const char *s, char *buf, size_t len);

/* The string member key of obj, or NULL if absent or not a string. */
const char *sn_out_str(const json_t *obj, const char *key);

/* Prints "label value\n" with label padded to a column. */
void sn_out_field(const char *label, const char *value);

/*
 * Writes data to path through a temporary file in the same directory
 * and rename(2), so that a failed write leaves no half file behind and an
 * existing file is replaced only by a complete one. "-" means stdout.
 * On failure errno describes the step that failed.
 */
sn_err sn_out_file(const char *path, const void *data, size_t len);

/* As sn_out_file, but the file is made mode 0600 (it holds a secret). */
sn_err sn_out_private_file(const char *path, const void *data, size_t len);

/*
 * Usage check before any work is done: can path's directory take a new
 * file? "-" always can. errno is set when it cannot.
 */
int sn_out_writable(const char *path);

#endif
