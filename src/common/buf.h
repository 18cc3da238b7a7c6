/*
 * buf: a growable byte buffer with a hard maximum, for bodies that arrive
 * from the network in pieces (HTTP request bodies in signetd, replies in
 * the CLI and the PKCS#11 module). The data stays NUL-terminated.
 */
#ifndef SN_BUF_H
#define SN_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct sn_buf {
    uint8_t *data;
    size_t len, cap;
    size_t max;   /* the most len may reach */
    int overflow; /* an append ran past max */
};

void sn_buf_init(struct sn_buf *b, size_t max);
/* SN_ERR_LIMIT (and overflow set) past max, SN_ERR_NOMEM; else SN_OK. */
sn_err sn_buf_append(struct sn_buf *b, const void *p, size_t n);
/* A write callback of libcurl's shape for a reply (untrusted): appends to
 * the struct sn_buf at arg; 0 (curl then fails the transfer) past its
 * maximum. */
size_t sn_buf_sink(char *ptr, size_t size, size_t nmemb, void *arg);
/* Hands the data over: *out owns it (NUL-terminated), b is empty. */
void sn_buf_take(struct sn_buf *b, uint8_t **out, size_t *len);
void sn_buf_cleanup(struct sn_buf *b);

#endif
