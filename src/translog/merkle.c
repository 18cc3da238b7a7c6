/*
 * merkle: RFC 9162 tree hashing, proofs and their checks, over hashes
 * kept at the tile levels (every 8th). Proofs are built by the RFC's
 * recursive definitions (PATH, SUBPROOF) from subtree hashes, which are
 * computed from at most 128 stored hashes each; checks are the RFC's
 * iterative algorithms, so a proof from any source can be checked.
 */
#include "translog/merkle.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

/* SHA-256 fetched once, and a context per thread, kept: the writer
 * hashes a few times per record, so neither is made anew each time. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha256_key; /* the thread's EVP_MD_CTX, freed at exit */
static int sha256_key_ok;

static void
ctx_free(void *c)
{
    EVP_MD_CTX_free(c);
}

static void
sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    sha256_key_ok = pthread_key_create(&sha256_key, ctx_free) == 0;
}

static EVP_MD_CTX *
thread_ctx(void)
{
    EVP_MD_CTX *c;

    if (!sha256_key_ok)
        return NULL;
    if ((c = pthread_getspecific(sha256_key)) == NULL &&
        (c = EVP_MD_CTX_new()) != NULL &&
        pthread_setspecific(sha256_key, c) != 0) {
        EVP_MD_CTX_free(c);
        c = NULL;
    }
    return c;
}

static void
sha256_2(uint8_t prefix, const uint8_t *a, size_t alen, const uint8_t *b,
         size_t blen, uint8_t out[SN_TLOG_HASH])
{
    unsigned int outlen = SN_TLOG_HASH;
    EVP_MD_CTX *c;

    pthread_once(&sha256_once, sha256_fetch);
    c = thread_ctx();
    if (c == NULL || sha256_md == NULL ||
        !EVP_DigestInit_ex2(c, sha256_md, NULL) ||
        !EVP_DigestUpdate(c, &prefix, 1) ||
        (alen > 0 && !EVP_DigestUpdate(c, a, alen)) ||
        (blen > 0 && !EVP_DigestUpdate(c, b, blen)) ||
        !EVP_DigestFinal_ex(c, out, &outlen))
        memset(out, 0, SN_TLOG_HASH); /* never matches a real hash */
}

void
sn_tlog_leaf_hash(const uint8_t *data, size_t len, uint8_t out[SN_TLOG_HASH])
{
    sha256_2(0x00, data, len, NULL, 0, out);
}

void
sn_tlog_node_hash(const uint8_t l[SN_TLOG_HASH], const uint8_t r[SN_TLOG_HASH],
                  uint8_t out[SN_TLOG_HASH])
{
    sha256_2(0x01, l, SN_TLOG_HASH, r, SN_TLOG_HASH, out);
}

static void
empty_hash(uint8_t out[SN_TLOG_HASH])
{
    unsigned int outlen = SN_TLOG_HASH;

    if (!EVP_Digest("", 0, out, &outlen, EVP_sha256(), NULL))
        memset(out, 0, SN_TLOG_HASH);
}

sn_err
sn_tlog_edge_append(struct sn_tlog_edge *e, const uint8_t leaf[SN_TLOG_HASH],
                    sn_tlog_emit_fn emit, void *arg)
{
    uint8_t h[SN_TLOG_HASH];
    uint64_t s = e->size;
    unsigned lvl = 0;
    sn_err r;

    if (s >= (UINT64_C(1) << 62))
        return SN_ERR_LIMIT;
    memcpy(h, leaf, SN_TLOG_HASH);
    if (emit != NULL && (r = emit(arg, 0, s, h)) != SN_OK)
        return r;
    while (s & (UINT64_C(1) << lvl)) {
        sn_tlog_node_hash(e->h[lvl], h, h);
        lvl++;
        if (emit != NULL && lvl % SN_TLOG_TILE_H == 0 &&
            (r = emit(arg, lvl, s >> lvl, h)) != SN_OK)
            return r;
    }
    memcpy(e->h[lvl], h, SN_TLOG_HASH);
    e->size = s + 1;
    return SN_OK;
}

void
sn_tlog_edge_root(const struct sn_tlog_edge *e, uint8_t out[SN_TLOG_HASH])
{
    uint8_t r[SN_TLOG_HASH];
    int have = 0;
    unsigned b;

    for (b = 0; b < 64; b++) {
        if (!(e->size & (UINT64_C(1) << b)))
            continue;
        if (!have)
            memcpy(r, e->h[b], SN_TLOG_HASH);
        else
            sn_tlog_node_hash(e->h[b], r, r);
        have = 1;
    }
    if (have)
        memcpy(out, r, SN_TLOG_HASH);
    else
        empty_hash(out);
}

/* The complete subtree (level, k): 2^(level % 8) stored hashes folded. */
static sn_err
subtree(const struct sn_tlog_reader *rd, unsigned level, uint64_t k,
        uint8_t out[SN_TLOG_HASH])
{
    uint8_t buf[SN_TLOG_TILE_W / 2][SN_TLOG_HASH];
    unsigned base = level - level % SN_TLOG_TILE_H, d = level - base;
    size_t cnt = (size_t)1 << d, i;
    sn_err r;

    if (level >= 63 || (d > 0 && k > (UINT64_MAX >> d)))
        return SN_ERR_INVALID;
    if ((r = rd->read(rd->arg, base, k << d, cnt, buf)) != SN_OK)
        return r;
    for (; cnt > 1; cnt /= 2)
        for (i = 0; i < cnt / 2; i++)
            sn_tlog_node_hash(buf[2 * i], buf[2 * i + 1], buf[i]);
    memcpy(out, buf[0], SN_TLOG_HASH);
    return SN_OK;
}

/* The largest power of two strictly below n (n >= 2). */
static uint64_t
split_point(uint64_t n)
{
    uint64_t k = 1;

    while (k * 2 < n)
        k *= 2;
    return k;
}

static unsigned
log2_exact(uint64_t n)
{
    unsigned b = 0;

    while ((UINT64_C(1) << b) < n)
        b++;
    return b;
}

sn_err
sn_tlog_range_hash(const struct sn_tlog_reader *rd, uint64_t lo, uint64_t hi,
                   uint8_t out[SN_TLOG_HASH])
{
    uint8_t l[SN_TLOG_HASH], rr[SN_TLOG_HASH];
    uint64_t n = hi - lo, k;
    sn_err r;

    if (hi < lo)
        return SN_ERR_INVALID;
    if (n == 0) {
        empty_hash(out);
        return SN_OK;
    }
    if ((n & (n - 1)) == 0 && lo % n == 0)
        return subtree(rd, log2_exact(n), lo / n, out);
    k = split_point(n);
    if ((r = sn_tlog_range_hash(rd, lo, lo + k, l)) != SN_OK ||
        (r = sn_tlog_range_hash(rd, lo + k, hi, rr)) != SN_OK)
        return r;
    sn_tlog_node_hash(l, rr, out);
    return SN_OK;
}

sn_err
sn_tlog_edge_load(const struct sn_tlog_reader *rd, uint64_t size,
                  struct sn_tlog_edge *e)
{
    uint64_t at = 0;
    unsigned b;
    sn_err r;

    memset(e, 0, sizeof(*e));
    /* The subtrees of size's binary decomposition, largest (leftmost)
     * first. */
    for (b = 64; b-- > 0;) {
        if (!(size & (UINT64_C(1) << b)))
            continue;
        if ((r = subtree(rd, b, at >> b, e->h[b])) != SN_OK)
            return r;
        at += UINT64_C(1) << b;
    }
    e->size = size;
    return SN_OK;
}

static sn_err
append_hash(uint8_t (*proof)[SN_TLOG_HASH], size_t *n,
            const uint8_t h[SN_TLOG_HASH])
{
    if (*n >= SN_TLOG_MAX_PROOF)
        return SN_ERR_LIMIT;
    memcpy(proof[(*n)++], h, SN_TLOG_HASH);
    return SN_OK;
}

/* RFC 9162 PATH(m, D[lo:hi]), bottom-up. */
static sn_err
path(const struct sn_tlog_reader *rd, uint64_t m, uint64_t lo, uint64_t hi,
     uint8_t (*proof)[SN_TLOG_HASH], size_t *n)
{
    uint8_t h[SN_TLOG_HASH];
    uint64_t k;
    sn_err r;

    if (hi - lo <= 1)
        return SN_OK;
    k = split_point(hi - lo);
    if (m < k) {
        if ((r = path(rd, m, lo, lo + k, proof, n)) != SN_OK ||
            (r = sn_tlog_range_hash(rd, lo + k, hi, h)) != SN_OK)
            return r;
    } else {
        if ((r = path(rd, m - k, lo + k, hi, proof, n)) != SN_OK ||
            (r = sn_tlog_range_hash(rd, lo, lo + k, h)) != SN_OK)
            return r;
    }
    return append_hash(proof, n, h);
}

sn_err
sn_tlog_prove_inclusion(const struct sn_tlog_reader *rd, uint64_t index,
                        uint64_t size, uint8_t (*proof)[SN_TLOG_HASH],
                        size_t *n)
{
    *n = 0;
    if (index >= size)
        return SN_ERR_INVALID;
    return path(rd, index, 0, size, proof, n);
}

/* RFC 9162 SUBPROOF(m, D[lo:hi], b). */
static sn_err
subproof(const struct sn_tlog_reader *rd, uint64_t m, uint64_t lo, uint64_t hi,
         int b, uint8_t (*proof)[SN_TLOG_HASH], size_t *n)
{
    uint8_t h[SN_TLOG_HASH];
    uint64_t k;
    sn_err r;

    if (m == hi - lo) {
        if (b)
            return SN_OK;
        if ((r = sn_tlog_range_hash(rd, lo, hi, h)) != SN_OK)
            return r;
        return append_hash(proof, n, h);
    }
    k = split_point(hi - lo);
    if (m <= k) {
        if ((r = subproof(rd, m, lo, lo + k, b, proof, n)) != SN_OK ||
            (r = sn_tlog_range_hash(rd, lo + k, hi, h)) != SN_OK)
            return r;
    } else {
        if ((r = subproof(rd, m - k, lo + k, hi, 0, proof, n)) != SN_OK ||
            (r = sn_tlog_range_hash(rd, lo, lo + k, h)) != SN_OK)
            return r;
    }
    return append_hash(proof, n, h);
}

sn_err
sn_tlog_prove_consistency(const struct sn_tlog_reader *rd, uint64_t m,
                          uint64_t n, uint8_t (*proof)[SN_TLOG_HASH],
                          size_t *np)
{
    *np = 0;
    if (m > n)
        return SN_ERR_INVALID;
    if (m == 0 || m == n)
        return SN_OK;
    return subproof(rd, m, 0, n, 1, proof, np);
}

int
sn_tlog_check_inclusion(uint64_t index, uint64_t size,
                        const uint8_t leaf[SN_TLOG_HASH],
                        const uint8_t (*proof)[SN_TLOG_HASH], size_t n,
                        const uint8_t root[SN_TLOG_HASH])
{
    uint8_t r[SN_TLOG_HASH];
    uint64_t fn, sn;
    size_t i;

    if (index >= size)
        return 0;
    fn = index;
    sn = size - 1;
    memcpy(r, leaf, SN_TLOG_HASH);
    for (i = 0; i < n; i++) {
        if (sn == 0)
            return 0;
        if ((fn & 1) || fn == sn) {
            sn_tlog_node_hash(proof[i], r, r);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else
            sn_tlog_node_hash(r, proof[i], r);
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, SN_TLOG_HASH) == 0;
}

int
sn_tlog_check_consistency(uint64_t m, uint64_t n,
                          const uint8_t old_root[SN_TLOG_HASH],
                          const uint8_t new_root[SN_TLOG_HASH],
                          const uint8_t (*proof)[SN_TLOG_HASH], size_t np)
{
    uint8_t fr[SN_TLOG_HASH], sr[SN_TLOG_HASH];
    uint64_t fn, sn;
    size_t i = 0;

    if (m > n)
        return 0;
    if (m == 0)
        return np == 0;
    if (m == n)
        return np == 0 && memcmp(old_root, new_root, SN_TLOG_HASH) == 0;
    if (np == 0)
        return 0;
    /* A first size that is a power of two: the old root starts the path. */
    if ((m & (m - 1)) == 0)
        memcpy(fr, old_root, SN_TLOG_HASH);
    else
        memcpy(fr, proof[i++], SN_TLOG_HASH);
    memcpy(sr, fr, SN_TLOG_HASH);
    fn = m - 1;
    sn = n - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    for (; i < np; i++) {
        if (sn == 0)
            return 0;
        if ((fn & 1) || fn == sn) {
            sn_tlog_node_hash(proof[i], fr, fr);
            sn_tlog_node_hash(proof[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else
            sn_tlog_node_hash(sr, proof[i], sr);
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(fr, old_root, SN_TLOG_HASH) == 0 &&
           memcmp(sr, new_root, SN_TLOG_HASH) == 0;
}

sn_err
sn_tlog_tile_path(int level, uint64_t n, unsigned width, char *out,
                  size_t outlen)
{
    char digits[32], lv[16];
    size_t len, pad, i, o = 0;
    int w;

    if (width == 0 || width > SN_TLOG_TILE_W || level < -1 || level > 63)
        return SN_ERR_INVALID;
    snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n);
    len = strlen(digits);
    pad = (3 - len % 3) % 3;
    if (level < 0)
        snprintf(lv, sizeof(lv), "entries");
    else
        snprintf(lv, sizeof(lv), "%d", level);
    w = snprintf(out, outlen, "tile/%s/", lv);
    if (w < 0 || (size_t)w >= outlen)
        return SN_ERR_LIMIT;
    o = (size_t)w;
    /* Groups of three digits, all but the last prefixed 'x'. */
    for (i = 0; i < len + pad; i++) {
        if (i % 3 == 0 && i > 0) {
            if (o + 1 >= outlen)
                return SN_ERR_LIMIT;
            out[o++] = '/';
        }
        if (i % 3 == 0 && i + 3 < len + pad) {
            if (o + 1 >= outlen)
                return SN_ERR_LIMIT;
            out[o++] = 'x';
        }
        if (o + 1 >= outlen)
            return SN_ERR_LIMIT;
        out[o++] = i < pad ? '0' : digits[i - pad];
    }
    out[o] = '\0';
    if (width < SN_TLOG_TILE_W) {
        w = snprintf(out + o, outlen - o, ".p/%u", width);
        if (w < 0 || (size_t)w >= outlen - o)
            return SN_ERR_LIMIT;
    }
    return SN_OK;
}

static int
digit(char c)
{
    return c >= '0' && c <= '9';
}

sn_err
sn_tlog_tile_parse(const char *p, int *level, uint64_t *n, unsigned *width)
{
    uint64_t v = 0;
    unsigned w = 0, groups = 0;
    int lv = 0;

    if (strncmp(p, "entries/", 8) == 0) {
        lv = -1;
        p += 8;
    } else {
        if (!digit(*p) || (*p == '0' && digit(p[1])))
            return SN_ERR_INVALID;
        for (; digit(*p); p++)
            if ((lv = lv * 10 + (*p - '0')) > 63)
                return SN_ERR_INVALID;
        if (*p++ != '/')
            return SN_ERR_INVALID;
    }
    for (;;) {
        int more = *p == 'x';

        if (more)
            p++;
        if (!digit(p[0]) || !digit(p[1]) || !digit(p[2]))
            return SN_ERR_INVALID;
        /* No leading zero group before others; 20 digits at most. */
        if (groups == 0 && more && p[0] == '0' && p[1] == '0' && p[2] == '0')
            return SN_ERR_INVALID;
        if (++groups > 7 || v > (UINT64_MAX - 999) / 1000)
            return SN_ERR_INVALID;
        v = v * 1000 +
            (uint64_t)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
        p += 3;
        if (!more)
            break;
        if (*p++ != '/')
            return SN_ERR_INVALID;
    }
    if (*p == '\0')
        w = SN_TLOG_TILE_W;
    else {
        if (strncmp(p, ".p/", 3) != 0)
            return SN_ERR_INVALID;
        p += 3;
        if (!digit(*p) || *p == '0')
            return SN_ERR_INVALID;
        for (; digit(*p); p++)
            if ((w = w * 10 + (unsigned)(*p - '0')) >= SN_TLOG_TILE_W)
                return SN_ERR_INVALID;
        if (*p != '\0')
            return SN_ERR_INVALID;
    }
    *level = lv;
    *n = v;
    *width = w;
    return SN_OK;
}
