/*
 * h_log: the transparency log on the listeners (docs/translog.md): the
 * latest checkpoint, the verifier key, C2SP tlog-tiles (hash tiles and
 * entry bundles) and an entry's inclusion proof in the latest
 * checkpoint. Everything here is public and self-authenticating: a tile
 * is checked against a signed checkpoint by whoever reads it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "common/util.h"
#include "http/handlers.h"
#include "translog/merkle.h"

#define IMMUTABLE "public, max-age=31536000, immutable"

void
sn_h_log_checkpoint(const struct sn_deps *deps, struct sn_req *req,
                    struct sn_resp *resp)
{
    uint64_t size = 0;
    char *note = NULL;

    (void)req;
    if (sn_store_log_checkpoint(deps->store, &note, &size) != SN_OK) {
        (void)sn_resp_header(resp, "Retry-After", "1");
        sn_resp_error(resp, API_UNAVAILABLE, "no checkpoint signed yet");
        return;
    }
    resp->code = API_OK;
    resp->raw = (uint8_t *)note;
    resp->raw_len = strlen(note);
    resp->raw_type = "text/plain; charset=utf-8";
    (void)sn_resp_header(resp, "Cache-Control", "public, max-age=1");
}

void
sn_h_log_vkey(const struct sn_deps *deps, struct sn_req *req,
              struct sn_resp *resp)
{
    (void)req;
    sn_resp_key_line(resp, deps->log_vkey, "the log has no key");
}

/* How many nodes the committed tree has at level 8L (entries: L < 0). */
static uint64_t
nodes_at(uint64_t size, int level)
{
    if (level <= 0)
        return size;
    return level * SN_TLOG_TILE_H >= 64 ? 0 : size >> (level * SN_TLOG_TILE_H);
}

void
sn_h_log_tile(const struct sn_deps *deps, struct sn_req *req,
              struct sn_resp *resp)
{
    uint8_t root[32], (*h)[32] = NULL;
    struct sn_buf b;
    uint64_t n, size, first;
    unsigned width;
    int level;
    sn_err r;

    if (sn_tlog_tile_parse(req->tail, &level, &n, &width) != SN_OK ||
        level > 7) {
        sn_resp_error(resp, API_NOT_FOUND, "no such tile");
        return;
    }
    sn_store_log_head(deps->store, &size, root);
    first = n * SN_TLOG_TILE_W;
    if (n > UINT64_MAX / SN_TLOG_TILE_W || first > nodes_at(size, level) ||
        width > nodes_at(size, level) - first) {
        sn_resp_error(resp, API_NOT_FOUND, "no such tile yet");
        return;
    }
    if (level < 0) {
        sn_buf_init(&b, (size_t)width * (2 + 65535));
        r = sn_store_log_entries(deps->store, first, width, &b);
        if (r == SN_OK)
            sn_buf_take(&b, &resp->raw, &resp->raw_len);
        sn_buf_cleanup(&b);
    } else if ((h = malloc((size_t)width * 32)) == NULL)
        r = SN_ERR_NOMEM;
    else if ((r = sn_store_log_hashes(deps->store,
                                      (unsigned)level * SN_TLOG_TILE_H, first,
                                      width, h)) == SN_OK) {
        resp->raw = (uint8_t *)h;
        resp->raw_len = (size_t)width * 32;
        h = NULL;
    }
    free(h);
    if (r == SN_ERR_NOT_FOUND) {
        /* Rows missing below the committed size: the database lost them. */
        sn_error("log: tile %s: stored rows are missing", req->tail);
        sn_resp_error(resp, API_NOT_FOUND, "the log has lost this tile");
        return;
    }
    if (r != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "the log is unavailable");
        return;
    }
    resp->code = API_OK;
    resp->raw_type = "application/octet-stream";
    (void)sn_resp_header(resp, "Cache-Control", IMMUTABLE);
}

static sn_err
read_hashes(void *arg, unsigned level, uint64_t start, size_t n,
            uint8_t (*out)[SN_TLOG_HASH])
{
    return sn_store_log_hashes(arg, level, start, n, out);
}

/* A decimal index, as the route's parameter. */
static int
parse_index(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0' || (*s == '0' && s[1] != '\0') || strlen(s) > 18)
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

static json_t *
b64_json(const uint8_t *p, size_t n)
{
    char *b64 = NULL;
    json_t *j;

    if (sn_b64_encode(p, n, &b64) != SN_OK)
        return NULL;
    j = json_string(b64);
    free(b64);
    return j;
}

void
sn_h_log_proof(const struct sn_deps *deps, struct sn_req *req,
               struct sn_resp *resp)
{
    const struct sn_tlog_reader rd = {read_hashes, deps->store};
    uint8_t proof[SN_TLOG_MAX_PROOF][32], leaf[32];
    uint64_t index, latest = 0, size;
    const char *q = sn_req_query(req, "size");
    char *note = NULL;
    json_t *o = NULL, *arr = NULL;
    struct sn_buf b;
    size_t np = 0, i, len;

    sn_buf_init(&b, 2 + 65535);
    if (parse_index(req->params[0], &index) != 0) {
        sn_resp_error(resp, API_NOT_FOUND, "no such entry");
        goto out;
    }
    if (sn_store_log_checkpoint(deps->store, &note, &latest) != SN_OK)
        latest = 0;
    /* ?size=N: the proof in an earlier checkpoint's tree (the answer then
     * names no checkpoint: the caller holds it); else in the latest. */
    size = latest;
    if (q != NULL && (parse_index(q, &size) != 0 || size > latest)) {
        sn_resp_error(resp, API_NOT_FOUND,
                      "size must be a tree size no larger than the latest "
                      "checkpoint's (%llu)",
                      (unsigned long long)latest);
        goto out;
    }
    if (index >= size) {
        (void)sn_resp_header(resp, "Retry-After", "1");
        sn_resp_error(resp, API_NOT_FOUND,
                      "entry %llu is not in a checkpoint yet; retry",
                      (unsigned long long)index);
        goto out;
    }
    if (sn_store_log_entries(deps->store, index, 1, &b) != SN_OK || b.len < 2 ||
        (len = (size_t)b.data[0] << 8 | b.data[1]) != b.len - 2 ||
        sn_tlog_prove_inclusion(&rd, index, size, proof, &np) != SN_OK) {
        sn_resp_error(resp, API_UNAVAILABLE, "the log is unavailable");
        goto out;
    }
    sn_tlog_leaf_hash(b.data + 2, len, leaf);
    if ((arr = json_array()) == NULL)
        goto oom;
    for (i = 0; i < np; i++)
        json_array_append_new(arr, b64_json(proof[i], 32));
    o = json_pack("{s:I, s:I, s:o, s:O, s:o}", "index", (json_int_t)index,
                  "tree_size", (json_int_t)size, "leaf_hash",
                  b64_json(leaf, 32), "inclusion", arr, "entry",
                  b64_json(b.data + 2, len));
    if (o != NULL && size == latest)
        json_object_set_new(o, "checkpoint", json_string(note));
    if (o == NULL)
        goto oom;
    sn_resp_json(resp, API_OK, o);
    goto out;
oom:
    sn_resp_error(resp, API_UNAVAILABLE, "out of memory");
out:
    json_decref(arr);
    free(note);
    sn_buf_cleanup(&b);
}
