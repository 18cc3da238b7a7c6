/*
 * Unit tests for src/translog: RFC 6962 hashing against the RFC's
 * reference vectors, every inclusion and consistency proof of small trees
 * (built from tile-level hashes only) checked by the RFC 9162 algorithms
 * and refused once altered, tile paths, canonical entries, and checkpoint
 * notes signed with a software Ed25519 key. The log's independent check is
 * the Go verifier (tests/go/logverify); these pin the C side's pieces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/util.h"
#include "translog/entry.h"
#include "translog/merkle.h"
#include "translog/note.h"

#define MAXLEAVES 2100

/* Stored hashes by level (0 and 8 suffice below 65,536 leaves). */
struct mem {
    uint8_t l0[MAXLEAVES][SN_TLOG_HASH];
    uint8_t l8[MAXLEAVES / 256 + 1][SN_TLOG_HASH];
    uint64_t n0, n8;
};

static sn_err
mem_emit(void *arg, unsigned level, uint64_t index, const uint8_t h[32])
{
    struct mem *m = arg;

    if (level == 0) {
        assert_int_equal(index, m->n0);
        memcpy(m->l0[m->n0++], h, 32);
    } else if (level == 8) {
        assert_int_equal(index, m->n8);
        memcpy(m->l8[m->n8++], h, 32);
    } else
        fail();
    return SN_OK;
}

static sn_err
mem_read(void *arg, unsigned level, uint64_t start, size_t n,
         uint8_t (*out)[SN_TLOG_HASH])
{
    struct mem *m = arg;
    size_t i;

    for (i = 0; i < n; i++) {
        if (level == 0 && start + i < m->n0)
            memcpy(out[i], m->l0[start + i], 32);
        else if (level == 8 && start + i < m->n8)
            memcpy(out[i], m->l8[start + i], 32);
        else
            return SN_ERR_NOT_FOUND;
    }
    return SN_OK;
}

static void
hexeq(const uint8_t h[32], const char *hex)
{
    char got[65];

    sn_hex_encode(h, 32, got);
    assert_string_equal(got, hex);
}

/* RFC 6962's reference inputs (the CT project's test vectors). */
static const char *const vec_leaves[8] = {
    "",
    "\x00",
    "\x10",
    "\x20\x21",
    "\x30\x31",
    "\x40\x41\x42\x43",
    "\x50\x51\x52\x53\x54\x55\x56\x57",
    "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
static const size_t vec_lens[8] = {0, 1, 1, 2, 2, 4, 8, 16};

static void
test_rfc6962_roots(void **state)
{
    static struct mem m;
    struct sn_tlog_edge e;
    uint8_t leaf[32], root[32];
    size_t i;

    (void)state;
    memset(&m, 0, sizeof(m));
    memset(&e, 0, sizeof(e));
    sn_tlog_edge_root(&e, root);
    hexeq(root,
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for (i = 0; i < 8; i++) {
        sn_tlog_leaf_hash((const uint8_t *)vec_leaves[i], vec_lens[i], leaf);
        assert_int_equal(sn_tlog_edge_append(&e, leaf, mem_emit, &m), SN_OK);
        if (i == 0) {
            sn_tlog_edge_root(&e, root);
            hexeq(root, "6e340b9cffb37a989ca544e6bb780a2c"
                        "78901d3fb33738768511a30617afa01d");
        }
    }
    sn_tlog_edge_root(&e, root);
    hexeq(root,
          "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
}

static void
build(struct mem *m, struct sn_tlog_edge *e, uint64_t n)
{
    uint8_t leaf[32];
    char data[32];
    uint64_t i;

    memset(m, 0, sizeof(*m));
    memset(e, 0, sizeof(*e));
    for (i = 0; i < n; i++) {
        snprintf(data, sizeof(data), "leaf %llu", (unsigned long long)i);
        sn_tlog_leaf_hash((const uint8_t *)data, strlen(data), leaf);
        assert_int_equal(sn_tlog_edge_append(e, leaf, mem_emit, m), SN_OK);
    }
}

static void
test_proofs(void **state)
{
    static struct mem m;
    static const uint64_t sizes[] = {1,   2,   3,   7,   8,   9,    255,
                                     256, 257, 511, 512, 513, 1000, 2049};
    struct sn_tlog_reader rd = {mem_read, &m};
    struct sn_tlog_edge e, e2, olde;
    uint8_t root[32], r2[32], oldroot[32], proof[SN_TLOG_MAX_PROOF][32];
    size_t si, np;
    uint64_t n, i, step;

    (void)state;
    for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        n = sizes[si];
        build(&m, &e, n);
        sn_tlog_edge_root(&e, root);
        assert_int_equal(sn_tlog_range_hash(&rd, 0, n, r2), SN_OK);
        assert_memory_equal(root, r2, 32);
        /* The edge comes back from the stored hashes alone. */
        assert_int_equal(sn_tlog_edge_load(&rd, n, &e2), SN_OK);
        sn_tlog_edge_root(&e2, r2);
        assert_memory_equal(root, r2, 32);
        step = n > 300 ? 37 : 1;
        for (i = 0; i < n; i += step) {
            assert_int_equal(sn_tlog_prove_inclusion(&rd, i, n, proof, &np),
                             SN_OK);
            assert_true(sn_tlog_check_inclusion(
                i, n, m.l0[i], (const uint8_t(*)[32])proof, np, root));
            /* Another leaf, another index, an altered hash: refused. */
            assert_false(sn_tlog_check_inclusion(i, n, m.l0[(i + 1) % n],
                                                 (const uint8_t(*)[32])proof,
                                                 np, root) &&
                         n > 1);
            if (np > 0) {
                proof[np / 2][3] ^= 1;
                assert_false(sn_tlog_check_inclusion(
                    i, n, m.l0[i], (const uint8_t(*)[32])proof, np, root));
            }
            /* The old tree of size i+1 is consistent with this one. */
            assert_int_equal(sn_tlog_edge_load(&rd, i + 1, &olde), SN_OK);
            sn_tlog_edge_root(&olde, oldroot);
            assert_int_equal(
                sn_tlog_prove_consistency(&rd, i + 1, n, proof, &np), SN_OK);
            assert_true(sn_tlog_check_consistency(
                i + 1, n, oldroot, root, (const uint8_t(*)[32])proof, np));
            assert_false(sn_tlog_check_consistency(i + 1, n, root, oldroot,
                                                   (const uint8_t(*)[32])proof,
                                                   np) &&
                         i + 1 < n);
            if (np > 0) {
                proof[0][0] ^= 0x80;
                assert_false(sn_tlog_check_consistency(
                    i + 1, n, oldroot, root, (const uint8_t(*)[32])proof, np));
            }
        }
        assert_int_equal(sn_tlog_prove_inclusion(&rd, n, n, proof, &np),
                         SN_ERR_INVALID);
    }
}

static void
test_tile_paths(void **state)
{
    static const struct {
        int level;
        uint64_t n;
        unsigned w;
        const char *path;
    } v[] = {
        {0, 0, 256, "tile/0/000"},
        {0, 5, 3, "tile/0/005.p/3"},
        {1, 1234, 256, "tile/1/x001/234"},
        {2, 1234067, 255, "tile/2/x001/x234/067.p/255"},
        {-1, 999, 256, "tile/entries/999"},
        {-1, 1000, 1, "tile/entries/x001/000.p/1"},
    };
    static const char *const bad[] = {
        "0/x000/005", "0/5",      "00/005",    "0/005.p/0", "0/005.p/256",
        "0/005.p/01", "0/005/",   "64/000",    "x/000",     "0/X001/000",
        "entries/00", "0/005.p/", "0/005.q/1", "0/x001",    "",
    };
    char buf[96];
    uint64_t n;
    unsigned w;
    size_t i;
    int lv;

    (void)state;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(
            sn_tlog_tile_path(v[i].level, v[i].n, v[i].w, buf, sizeof(buf)),
            SN_OK);
        assert_string_equal(buf, v[i].path);
        assert_int_equal(sn_tlog_tile_parse(buf + 5, &lv, &n, &w), SN_OK);
        assert_int_equal(lv, v[i].level);
        assert_int_equal(n, v[i].n);
        assert_int_equal(w, v[i].w);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_not_equal(sn_tlog_tile_parse(bad[i], &lv, &n, &w), SN_OK);
}

static void
test_entries(void **state)
{
    const char *vals[SN_TE_COUNT] = {"sign", "2026-12-07T01:02:03Z",
                                     "sub",  "42",
                                     "ab",   "key",
                                     NULL,   "sha256",
                                     "-",    "",
                                     "cd",   "oidc a b%c\n\x01\xff",
                                     "x"};
    char *back[SN_TE_COUNT];
    struct sn_buf b;
    size_t i;

    (void)state;
    sn_buf_init(&b, SN_TLOG_ENTRY_MAX);
    assert_int_equal(sn_tlog_canon(&b, SN_TLOG_ENTRY_HEADER,
                                   sn_tlog_entry_names, vals, SN_TE_COUNT),
                     SN_OK);
    assert_non_null(strstr((char *)b.data, "\nprincipal oidc%20a%20b%25c"
                                           "%0A%01%FF\n"));
    assert_non_null(strstr((char *)b.data, "\ndigest %2D\nscheme -\n"));
    assert_int_equal(sn_tlog_parse(b.data, b.len, SN_TLOG_ENTRY_HEADER,
                                   sn_tlog_entry_names, SN_TE_COUNT, back),
                     SN_OK);
    for (i = 0; i < SN_TE_COUNT; i++)
        assert_string_equal(back[i], vals[i] == NULL ? "" : vals[i]);
    sn_tlog_values_free(back, SN_TE_COUNT);
    /* Not canonical, out of order, or trailing: refused. */
    b.data[b.len - 2] = ' ';
    assert_int_not_equal(sn_tlog_parse(b.data, b.len, SN_TLOG_ENTRY_HEADER,
                                       sn_tlog_entry_names, SN_TE_COUNT, back),
                         SN_OK);
    b.data[b.len - 2] = 'x';
    assert_int_not_equal(sn_tlog_parse(b.data, b.len - 1, SN_TLOG_ENTRY_HEADER,
                                       sn_tlog_entry_names, SN_TE_COUNT, back),
                         SN_OK);
    sn_buf_cleanup(&b);
    {
        static const char lower[] = "signet/entry/v1\ntype a%2fb\n";
        static const char needless[] = "signet/entry/v1\ntype a%41\n";
        static const char ok[] = "signet/entry/v1\ntype a%2Fb\n";
        const char *const names[1] = {"type"};

        assert_int_not_equal(sn_tlog_parse((const uint8_t *)lower,
                                           strlen(lower), SN_TLOG_ENTRY_HEADER,
                                           names, 1, back),
                             SN_OK);
        assert_int_not_equal(
            sn_tlog_parse((const uint8_t *)needless, strlen(needless),
                          SN_TLOG_ENTRY_HEADER, names, 1, back),
            SN_OK);
        /* '/' is printable: escaping it is not canonical either. */
        assert_int_not_equal(sn_tlog_parse((const uint8_t *)ok, strlen(ok),
                                           SN_TLOG_ENTRY_HEADER, names, 1,
                                           back),
                             SN_OK);
    }
}

static void
test_notes(void **state)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint8_t pub[32], sig[64], root[32], got[32];
    size_t publen = sizeof(pub), siglen = sizeof(sig);
    char body[512], *vkey = NULL, *note = NULL, *other = NULL;
    char name[SN_TLOG_ORIGIN_MAX + 1];
    uint8_t pub2[32];
    uint64_t size;

    (void)state;
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_raw_public_key(k, pub, &publen), 1);
    memset(root, 0x5a, sizeof(root));
    assert_int_equal(sn_tlog_checkpoint_body("example.com/log", 12345, root,
                                             body, sizeof(body)),
                     SN_OK);
    assert_int_equal(EVP_DigestSignInit(c, NULL, NULL, NULL, k), 1);
    assert_int_equal(
        EVP_DigestSign(c, sig, &siglen, (uint8_t *)body, strlen(body)), 1);
    assert_int_equal(
        sn_tlog_note_assemble(body, "example.com/log", pub, sig, &note), SN_OK);
    assert_int_equal(sn_tlog_vkey_format("example.com/log", pub, &vkey), SN_OK);
    assert_int_equal(sn_tlog_vkey_parse(vkey, name, pub2), SN_OK);
    assert_string_equal(name, "example.com/log");
    assert_memory_equal(pub, pub2, 32);
    assert_int_equal(
        sn_tlog_checkpoint_open(note, strlen(note), vkey, &size, got), SN_OK);
    assert_int_equal(size, 12345);
    assert_memory_equal(got, root, 32);
    /* A changed size, a changed signature, another name: refused. */
    other = strdup(note);
    other[strlen("example.com/log\n")] = '2';
    assert_int_equal(
        sn_tlog_checkpoint_open(other, strlen(other), vkey, &size, got),
        SN_ERR_CRYPTO);
    free(other);
    other = strdup(note);
    other[strlen(other) - 20] ^= 1; /* inside the signature, not its pad bits */
    assert_int_not_equal(
        sn_tlog_checkpoint_open(other, strlen(other), vkey, &size, got), SN_OK);
    free(other);
    assert_int_not_equal(sn_tlog_vkey_format("a b", pub, &other), SN_OK);
    assert_int_not_equal(sn_tlog_vkey_format("a+b", pub, &other), SN_OK);
    vkey[strlen("example.com/log+")] ^= 1; /* the key id */
    assert_int_not_equal(sn_tlog_vkey_parse(vkey, name, pub2), SN_OK);
    free(vkey);
    free(note);
    EVP_MD_CTX_free(c);
    EVP_PKEY_free(k);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6962_roots), cmocka_unit_test(test_proofs),
        cmocka_unit_test(test_tile_paths),    cmocka_unit_test(test_entries),
        cmocka_unit_test(test_notes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
