/*
 * merkle: the transparency log's tree (RFC 6962/9162 hashing) in the
 * C2SP tlog-tiles shape: hashes are kept at the levels that are multiples
 * of 8 (the tiles), everything else is computed from them. Pure: the
 * hashes come through a reader callback (the store on the server, HTTP
 * tiles in the CLI), so the same proofs run on both sides.
 */
#ifndef SN_TLOG_MERKLE_H
#define SN_TLOG_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SN_TLOG_HASH 32
#define SN_TLOG_TILE_H 8 /* tile height: 256 hashes a tile */
#define SN_TLOG_TILE_W 256
#define SN_TLOG_MAX_PROOF 64 /* hashes in a proof of a 2^63-leaf tree */

void sn_tlog_leaf_hash(const uint8_t *data, size_t len,
                       uint8_t out[SN_TLOG_HASH]);
void sn_tlog_node_hash(const uint8_t l[SN_TLOG_HASH],
                       const uint8_t r[SN_TLOG_HASH],
                       uint8_t out[SN_TLOG_HASH]);

/*
 * The right edge of a tree: for each set bit b of size, h[b] is the hash
 * of the complete subtree of 2^b leaves at that place. Enough to append
 * and to compute the root.
 */
struct sn_tlog_edge {
    uint64_t size;
    uint8_t h[64][SN_TLOG_HASH];
};

/* A hash to keep: the node (level, index), level a multiple of 8. */
typedef sn_err (*sn_tlog_emit_fn)(void *arg, unsigned level, uint64_t index,
                                  const uint8_t hash[SN_TLOG_HASH]);

/* Appends a leaf; emit sees every node completed at a tile level (the
 * leaf itself at level 0 first). Stops at emit's first error (the edge
 * is then unchanged). */
sn_err sn_tlog_edge_append(struct sn_tlog_edge *e,
                           const uint8_t leaf[SN_TLOG_HASH],
                           sn_tlog_emit_fn emit, void *arg);
/* The root hash (SHA-256 of nothing for the empty tree). */
void sn_tlog_edge_root(const struct sn_tlog_edge *e, uint8_t out[SN_TLOG_HASH]);

/* Reads n stored hashes of level (a multiple of 8) from index start. */
typedef sn_err (*sn_tlog_read_fn)(void *arg, unsigned level, uint64_t start,
                                  size_t n, uint8_t (*out)[SN_TLOG_HASH]);

struct sn_tlog_reader {
    sn_tlog_read_fn read;
    void *arg;
};

/* MTH of leaves [lo, hi) of a tree whose stored hashes rd reads. */
sn_err sn_tlog_range_hash(const struct sn_tlog_reader *rd, uint64_t lo,
                          uint64_t hi, uint8_t out[SN_TLOG_HASH]);
/* The edge of the first size leaves, from stored hashes. */
sn_err sn_tlog_edge_load(const struct sn_tlog_reader *rd, uint64_t size,
                         struct sn_tlog_edge *e);

/* RFC 9162 2.1.3.1: the inclusion proof of leaf index in a tree of size. */
sn_err sn_tlog_prove_inclusion(const struct sn_tlog_reader *rd, uint64_t index,
                               uint64_t size, uint8_t (*proof)[SN_TLOG_HASH],
                               size_t *n);
/* RFC 9162 2.1.4.1: the consistency proof from size m to size n. */
sn_err sn_tlog_prove_consistency(const struct sn_tlog_reader *rd, uint64_t m,
                                 uint64_t n, uint8_t (*proof)[SN_TLOG_HASH],
                                 size_t *np);
/* RFC 9162 2.1.3.2 and 2.1.4.2: 1 if the proof holds. */
int sn_tlog_check_inclusion(uint64_t index, uint64_t size,
                            const uint8_t leaf[SN_TLOG_HASH],
                            const uint8_t (*proof)[SN_TLOG_HASH], size_t n,
                            const uint8_t root[SN_TLOG_HASH]);
int sn_tlog_check_consistency(uint64_t m, uint64_t n,
                              const uint8_t old_root[SN_TLOG_HASH],
                              const uint8_t new_root[SN_TLOG_HASH],
                              const uint8_t (*proof)[SN_TLOG_HASH], size_t np);

/*
 * A tile's path below the log's prefix: "tile/<L>/<N>[.p/<W>]", or
 * "tile/entries/<N>[.p/<W>]" for level < 0. SN_ERR_LIMIT if out is short.
 */
sn_err sn_tlog_tile_path(int level, uint64_t n, unsigned width, char *out,
                         size_t outlen);
/* Parses such a path (after "tile/"); strictly: the canonical form only.
 * level -1 for entries; width 256 when full. */
sn_err sn_tlog_tile_parse(const char *path, int *level, uint64_t *n,
                          unsigned *width);

#endif
