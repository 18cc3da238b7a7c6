/*
 * libFuzzer driver: the transparency log's parsers of untrusted text
 * (issue 18): tile paths (from request URLs, signetd), entries, checkpoint
 * notes and verifier keys (from a server, the CLI). The first byte picks
 * the parser. Whatever parses must hold its invariants: a tile path
 * formats back to itself; an entry re-encodes to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "translog/entry.h"
#include "translog/merkle.h"
#include "translog/note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed key: notes signed by it are in the corpus. */
#define VKEY                                                                   \
    "fuzz.example/log+a11b4825+AXrAoSzHtU8oQapyKPshd50ZgsYi/P1Ol3gcMmKC3D1+"

static void
tile(const char *s)
{
    char back[128];
    uint64_t n;
    unsigned w;
    int lv;

    if (sn_tlog_tile_parse(s, &lv, &n, &w) != SN_OK)
        return;
    if (sn_tlog_tile_path(lv, n, w, back, sizeof(back)) != SN_OK ||
        strcmp(back + 5, s) != 0)
        abort();
}

static void
entry(const uint8_t *d, size_t n)
{
    char *v[SN_TE_COUNT];
    struct sn_buf b;

    if (sn_tlog_parse(d, n, SN_TLOG_ENTRY_HEADER, sn_tlog_entry_names,
                      SN_TE_COUNT, v) != SN_OK)
        return;
    sn_buf_init(&b, SN_TLOG_ENTRY_MAX);
    if (sn_tlog_canon(&b, SN_TLOG_ENTRY_HEADER, sn_tlog_entry_names,
                      (const char *const *)v, SN_TE_COUNT) != SN_OK ||
        b.len != n || memcmp(b.data, d, n) != 0)
        abort();
    sn_buf_cleanup(&b);
    sn_tlog_values_free(v, SN_TE_COUNT);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char name[SN_TLOG_ORIGIN_MAX + 1], *s;
    uint8_t pub[32], root[32];
    uint64_t n;

    if (size < 1)
        return 0;
    if ((s = malloc(size)) == NULL)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 4) {
    case 0:
        tile(s);
        break;
    case 1:
        entry(data + 1, size - 1);
        break;
    case 2:
        (void)sn_tlog_checkpoint_open((const char *)data + 1, size - 1, VKEY,
                                      &n, root);
        break;
    default:
        (void)sn_tlog_vkey_parse(s, name, pub);
        break;
    }
    free(s);
    return 0;
}
