/*
 * logcmd: `signet log key`, `signet log verify` and `signet log monitor`
 * (docs/translog.md). The CLI trusts nothing the server says about the
 * log: it pins the log's key, reads every entry since the last run from
 * the entry tiles, rebuilds the tree itself (RFC 9162 hashing, from the
 * right edge it kept), and requires the checkpoint's root. That one check
 * proves the new checkpoint consistent with the last one it saw and every
 * entry it read included. verify then compares the subscriber's audit
 * records with the entries that commit to them; monitor reports the
 * subscriber's (or the keys') entries that an allow-list does not expect.
 *
 * The state file (0600) keeps the pinned key, the last checkpoint's size,
 * root and right edge, and the entries of the subscriber or keys watched.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "common/util.h"
#include "translog/entry.h"
#include "translog/merkle.h"
#include "translog/note.h"

#define STATE_HEADER "signet-log-state v1"
#define STATE_MAX ((size_t)256 << 20)
#define LINE_MAX_LEN 1024
#define TILE_PATH_LEN 96
#define ALLOW_MAX 4096

/* What the state keeps of one watched entry. */
struct mine {
    uint64_t index;
    int64_t audit_id;
    char audit_sha[65];
    char type[16];
    char key[64];
    char sig[65];
    char digest[72];
    char time[32];
    char *principal;            /* malloc'd, "" for none */
    uint8_t leaf[SN_TLOG_HASH]; /* entries read in this run only */
};

struct logstate {
    char vkey[512];
    uint64_t size;
    uint8_t root[SN_TLOG_HASH];
    struct sn_tlog_edge edge;
    char subscriber[64];
    struct mine *m;
    size_t n, cap;
    /* --full: the tree is rebuilt from entry 0 and must pass through the
     * last checkpoint seen (size check_at, root check_root) */
    uint64_t check_at;
    uint8_t check_root[SN_TLOG_HASH];
    int check_bad;
};

static void
state_free(struct logstate *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        free(s->m[i].principal);
    free(s->m);
    memset(s, 0, sizeof(*s));
}

static sn_err
state_path(struct sn_cli *cli, const char *name, char *out, size_t len)
{
    const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

    if (cli->opt[SN_OPT_STATE_FILE] != NULL)
        return sn_cli_path(cli, out, len, "%s", cli->opt[SN_OPT_STATE_FILE]);
    if (x != NULL && x[0] == '/')
        return sn_cli_path(cli, out, len, "%s/signet/%s", x, name);
    if (home == NULL || home[0] != '/')
        return sn_cli_usage(cli, "no state file: pass --state-file FILE");
    return sn_cli_path(cli, out, len, "%s/.config/signet/%s", home, name);
}

static sn_err
add_mine(struct logstate *s, const struct mine *e)
{
    struct mine *n;

    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;

        if ((n = realloc(s->m, cap * sizeof(*n))) == NULL)
            return SN_ERR_NOMEM;
        s->m = n;
        s->cap = cap;
    }
    s->m[s->n++] = *e;
    return SN_OK;
}

/* A value of the state file: one token (escaped as in entries). */
static sn_err
put_line(struct sn_buf *b, const char *name, const char *const *vals, size_t n)
{
    const char *const names[1] = {name};
    struct sn_buf t;
    size_t i;
    sn_err r = SN_OK;

    /* Each value escaped by the entries' own rules, space-separated. */
    if ((r = sn_buf_append(b, name, strlen(name))) != SN_OK)
        return r;
    for (i = 0; i < n && r == SN_OK; i++) {
        sn_buf_init(&t, 4 * LINE_MAX_LEN);
        r = sn_tlog_canon(&t, "", names, &vals[i], 1);
        /* "\nname value\n": keep the value */
        if (r == SN_OK) {
            const char *v = (const char *)t.data + 1 + strlen(name) + 1;

            r = sn_buf_append(b, " ", 1);
            if (r == SN_OK)
                r = sn_buf_append(b, v, strlen(v) - 1);
        }
        sn_buf_cleanup(&t);
    }
    if (r == SN_OK)
        r = sn_buf_append(b, "\n", 1);
    return r;
}

/* The state file's directories (0700), as far as they are missing. */
static void
make_dirs(const char *path)
{
    char d[4096];
    size_t i;

    if ((size_t)snprintf(d, sizeof(d), "%s", path) >= sizeof(d))
        return;
    for (i = 1; d[i] != '\0'; i++)
        if (d[i] == '/') {
            d[i] = '\0';
            (void)mkdir(d, 0700);
            d[i] = '/';
        }
}

static sn_err
state_save(struct sn_cli *cli, const char *path, const struct logstate *s)
{
    char tmp[4096], num[32], num2[32], *b64 = NULL, lv[8];
    struct sn_buf b;
    const char *v[9];
    unsigned lvl;
    size_t i;
    FILE *f = NULL;
    sn_err r;

    sn_buf_init(&b, STATE_MAX);
    r = sn_buf_append(&b, STATE_HEADER "\n", strlen(STATE_HEADER) + 1);
    v[0] = s->vkey;
    if (r == SN_OK)
        r = put_line(&b, "vkey", v, 1);
    snprintf(num, sizeof(num), "%llu", (unsigned long long)s->size);
    if (r == SN_OK && (r = sn_b64_encode(s->root, 32, &b64)) == SN_OK) {
        v[0] = num;
        v[1] = b64;
        r = put_line(&b, "tree", v, 2);
    }
    free(b64);
    b64 = NULL;
    for (lvl = 0; lvl < 64 && r == SN_OK; lvl++) {
        if (!(s->edge.size & (UINT64_C(1) << lvl)))
            continue;
        if ((r = sn_b64_encode(s->edge.h[lvl], 32, &b64)) != SN_OK)
            break;
        snprintf(lv, sizeof(lv), "%u", lvl);
        v[0] = lv;
        v[1] = b64;
        r = put_line(&b, "edge", v, 2);
        free(b64);
        b64 = NULL;
    }
    v[0] = s->subscriber;
    if (r == SN_OK)
        r = put_line(&b, "subscriber", v, 1);
    for (i = 0; i < s->n && r == SN_OK; i++) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)s->m[i].index);
        snprintf(num2, sizeof(num2), "%lld", (long long)s->m[i].audit_id);
        v[0] = num;
        v[1] = num2;
        v[2] = s->m[i].audit_sha;
        v[3] = s->m[i].type;
        v[4] = s->m[i].key;
        v[5] = s->m[i].sig;
        v[6] = s->m[i].time;
        v[7] = s->m[i].digest;
        v[8] = s->m[i].principal;
        r = put_line(&b, "entry", v, 9);
    }
    if (r != SN_OK) {
        sn_buf_cleanup(&b);
        return sn_cli_fail(cli, r, "log state too large or out of memory");
    }
    if ((r = sn_cli_path(cli, tmp, sizeof(tmp), "%s.tmp", path)) != SN_OK)
        goto out;
    make_dirs(path);
    unlink(tmp);
    if ((f = fopen(tmp, "wx")) == NULL || fchmod(fileno(f), 0600) != 0 ||
        fwrite(b.data, 1, b.len, f) != b.len || fflush(f) != 0 ||
        fsync(fileno(f)) != 0) {
        r = sn_cli_fail(cli, SN_ERR_IO, "cannot write the log state %s: %s",
                        tmp, strerror(errno));
        goto out;
    }
    if (fclose(f) != 0 || (f = NULL, rename(tmp, path) != 0))
        r = sn_cli_fail(cli, SN_ERR_IO, "cannot replace the log state %s: %s",
                        path, strerror(errno));
    f = NULL;
out:
    if (f != NULL)
        fclose(f);
    sn_buf_cleanup(&b);
    return r;
}

/* Splits a state line into at most max unescaped values after its name. */
static int
split(char *line, const char *name, char **vals, size_t max)
{
    size_t n = 0, nl = strlen(name);
    char *p, *save = NULL, buf[4 * LINE_MAX_LEN];
    const char *const names[1] = {"v"};
    char *one[1];

    if (strncmp(line, name, nl) != 0 || line[nl] != ' ')
        return -1;
    for (p = strtok_r(line + nl + 1, " ", &save); p != NULL;
         p = strtok_r(NULL, " ", &save)) {
        if (n == max ||
            (size_t)snprintf(buf, sizeof(buf), "x\nv %s\n", p) >= sizeof(buf) ||
            sn_tlog_parse((const uint8_t *)buf, strlen(buf), "x", names, 1,
                          one) != SN_OK)
            goto bad;
        vals[n++] = one[0];
    }
    if (n == max)
        return 0;
bad:
    while (n > 0)
        free(vals[--n]);
    return -1;
}

static int
copy(char *dst, size_t len, const char *src)
{
    return (size_t)snprintf(dst, len, "%s", src) < len ? 0 : -1;
}

static int
hash_b64(const char *s, uint8_t out[32])
{
    uint8_t *h = NULL;
    size_t n = 0;
    int ok = sn_b64_decode(s, &h, &n) == SN_OK && n == 32;

    if (ok)
        memcpy(out, h, 32);
    free(h);
    return ok ? 0 : -1;
}

/* SN_ERR_NOT_FOUND if there is no state yet. */
static sn_err
state_load(struct sn_cli *cli, const char *path, struct logstate *s)
{
    uint8_t *data = NULL;
    size_t len = 0, i;
    char *line, *save = NULL, *v[9];
    sn_err r;
    int bad = 0;

    memset(s, 0, sizeof(*s));
    r = sn_file_read(path, STATE_MAX, &data, &len);
    if (r == SN_ERR_NOT_FOUND || (r == SN_ERR_IO && errno == ENOENT))
        return SN_ERR_NOT_FOUND;
    if (r != SN_OK)
        return sn_cli_fail(cli, r, "cannot read the log state %s", path);
    line = strtok_r((char *)data, "\n", &save);
    if (line == NULL || strcmp(line, STATE_HEADER) != 0)
        bad = 1;
    while (!bad && (line = strtok_r(NULL, "\n", &save)) != NULL) {
        memset(v, 0, sizeof(v));
        if (split(line, "vkey", v, 1) == 0)
            bad = copy(s->vkey, sizeof(s->vkey), v[0]);
        else if (split(line, "subscriber", v, 1) == 0)
            bad = copy(s->subscriber, sizeof(s->subscriber), v[0]);
        else if (split(line, "tree", v, 2) == 0) {
            s->size = strtoull(v[0], NULL, 10);
            bad = hash_b64(v[1], s->root);
        } else if (split(line, "edge", v, 2) == 0) {
            unsigned lvl = (unsigned)strtoul(v[0], NULL, 10);

            bad = lvl >= 64 || hash_b64(v[1], s->edge.h[lvl]);
        } else if (split(line, "entry", v, 9) == 0) {
            struct mine e;

            memset(&e, 0, sizeof(e));
            e.index = strtoull(v[0], NULL, 10);
            e.audit_id = strtoll(v[1], NULL, 10);
            bad = copy(e.audit_sha, sizeof(e.audit_sha), v[2]) ||
                  copy(e.type, sizeof(e.type), v[3]) ||
                  copy(e.key, sizeof(e.key), v[4]) ||
                  copy(e.sig, sizeof(e.sig), v[5]) ||
                  copy(e.time, sizeof(e.time), v[6]) ||
                  copy(e.digest, sizeof(e.digest), v[7]);
            if (!bad && (e.principal = strdup(v[8])) == NULL)
                bad = 1;
            if (!bad && add_mine(s, &e) != SN_OK)
                bad = 1;
        } else
            bad = 1;
        for (i = 0; i < 9; i++)
            free(v[i]);
    }
    free(data);
    s->edge.size = s->size;
    if (!bad && s->vkey[0] == '\0')
        bad = 1;
    if (bad) {
        state_free(s);
        return sn_cli_fail(cli, SN_ERR_INVALID,
                           "the log state %s is damaged; move it away to "
                           "start again (with --vkey)",
                           path);
    }
    return SN_OK;
}

/* Which entries are watched: the subscriber's, or those of the keys. */
static int
watched(struct sn_cli *cli, const struct logstate *s, char **ev)
{
    size_t i;

    if (cli->nkeys == 0)
        return s->subscriber[0] != '\0' &&
               strcmp(ev[SN_TE_SUBSCRIBER], s->subscriber) == 0;
    for (i = 0; i < cli->nkeys; i++)
        if (strcmp(ev[SN_TE_KEY], cli->keys[i]) == 0)
            return 1;
    return 0;
}

/* Reads entries [from, to) from the entry tiles into the tree (and the
 * watched ones into the state). Fails on any malformed tile or entry. */
static sn_err
read_entries(struct sn_cli *cli, struct logstate *s, uint64_t to, size_t *nnew)
{
    char path[TILE_PATH_LEN + 8], tp[TILE_PATH_LEN];
    struct sn_client_body body;
    uint8_t leaf[SN_TLOG_HASH];
    uint64_t t, first, idx;
    unsigned w;
    size_t off, len;
    char *ev[SN_TE_COUNT];
    sn_err r = SN_OK;

    *nnew = 0;
    for (t = s->size / SN_TLOG_TILE_W; t * SN_TLOG_TILE_W < to; t++) {
        first = t * SN_TLOG_TILE_W;
        w = (unsigned)(to - first < SN_TLOG_TILE_W ? to - first
                                                   : SN_TLOG_TILE_W);
        if ((r = sn_tlog_tile_path(-1, t, w, tp, sizeof(tp))) != SN_OK)
            return sn_cli_fail(cli, r, "tile path");
        snprintf(path, sizeof(path), "/log/%s", tp);
        if ((r = sn_client_get(cli->client, path, "application/octet-stream",
                               &body)) != SN_OK)
            return r;
        off = 0;
        for (idx = first; idx < first + w && r == SN_OK; idx++) {
            if (body.len - off < 2 ||
                (len = (size_t)body.data[off] << 8 | body.data[off + 1]) >
                    body.len - off - 2) {
                r = sn_cli_fail(cli, SN_ERR_INVALID,
                                "FAIL: %s: entry %llu is cut short", path,
                                (unsigned long long)idx);
                break;
            }
            off += 2;
            if (idx >= s->size) {
                sn_tlog_leaf_hash(body.data + off, len, leaf);
                if (sn_tlog_parse(body.data + off, len, SN_TLOG_ENTRY_HEADER,
                                  sn_tlog_entry_names, SN_TE_COUNT,
                                  ev) != SN_OK) {
                    r = sn_cli_fail(cli, SN_ERR_INVALID,
                                    "FAIL: entry %llu is not a canonical "
                                    "signet/entry/v1",
                                    (unsigned long long)idx);
                    break;
                }
                if (watched(cli, s, ev)) {
                    struct mine e;

                    memset(&e, 0, sizeof(e));
                    e.index = idx;
                    e.audit_id = strtoll(ev[SN_TE_AUDIT_ID], NULL, 10);
                    copy(e.audit_sha, sizeof(e.audit_sha),
                         ev[SN_TE_AUDIT_SHA256]);
                    copy(e.type, sizeof(e.type), ev[SN_TE_TYPE]);
                    copy(e.key, sizeof(e.key), ev[SN_TE_KEY]);
                    copy(e.sig, sizeof(e.sig), ev[SN_TE_SIG_SHA256]);
                    copy(e.time, sizeof(e.time), ev[SN_TE_TIME]);
                    copy(e.digest, sizeof(e.digest), ev[SN_TE_DIGEST]);
                    memcpy(e.leaf, leaf, sizeof(leaf));
                    e.principal = ev[SN_TE_PRINCIPAL];
                    ev[SN_TE_PRINCIPAL] = NULL;
                    if (add_mine(s, &e) != SN_OK) {
                        free(e.principal);
                        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
                    }
                    (*nnew)++;
                }
                sn_tlog_values_free(ev, SN_TE_COUNT);
                if (r == SN_OK)
                    r = sn_tlog_edge_append(&s->edge, leaf, NULL, NULL);
                if (r == SN_OK && s->check_at != 0 &&
                    s->edge.size == s->check_at) {
                    uint8_t root[SN_TLOG_HASH];

                    sn_tlog_edge_root(&s->edge, root);
                    s->check_bad = memcmp(root, s->check_root, 32) != 0;
                }
            }
            off += len;
        }
        if (r == SN_OK && off != body.len)
            r = sn_cli_fail(cli, SN_ERR_INVALID,
                            "FAIL: %s holds bytes after its %u entries", path,
                            w);
        sn_client_body_cleanup(&body);
        if (r != SN_OK)
            return r;
    }
    return SN_OK;
}

/*
 * The common part: the pinned key, the checkpoint, the entries since the
 * last run; on success s holds the new tree (not yet saved).
 */
static sn_err
follow_log(struct sn_cli *cli, const char *path, const char *subscriber,
           struct logstate *s, uint64_t *old_size, size_t *nnew)
{
    struct sn_client_body cp;
    uint8_t root[SN_TLOG_HASH];
    const char *vkey = cli->opt[SN_OPT_VKEY];
    uint64_t size;
    char name[SN_TLOG_ORIGIN_MAX + 1];
    uint8_t pub[32];
    sn_err r;

    memset(&cp, 0, sizeof(cp));
    r = state_load(cli, path, s);
    if (r == SN_ERR_NOT_FOUND) {
        if (vkey == NULL)
            return sn_cli_usage(cli,
                                "pin the log's key on the first run: --vkey "
                                "KEY (`signet log key` prints it; check it "
                                "out of band)");
        if (copy(s->vkey, sizeof(s->vkey), vkey) != 0)
            return sn_cli_usage(cli, "--vkey is too long");
        r = SN_OK;
    } else if (r != SN_OK)
        return r;
    else if (vkey != NULL && strcmp(vkey, s->vkey) != 0)
        return sn_cli_fail(cli, SN_ERR_INVALID,
                           "FAIL: --vkey is not the key pinned in %s", path);
    if (sn_tlog_vkey_parse(s->vkey, name, pub) != SN_OK)
        return sn_cli_usage(cli, "not a log verifier key (name+id+key)");
    /* Whose entries are kept: fixed by the first run. */
    if (subscriber != NULL && s->subscriber[0] == '\0' &&
        copy(s->subscriber, sizeof(s->subscriber), subscriber) != 0)
        return sn_cli_usage(cli, "subscriber id too long");
    if (subscriber != NULL && strcmp(s->subscriber, subscriber) != 0)
        return sn_cli_fail(cli, SN_ERR_INVALID,
                           "%s follows subscriber %s; use another "
                           "--state-file",
                           path, s->subscriber);
    *old_size = s->size;
    if (cli->seen[SN_OPT_FULL] && s->size > 0) {
        /* Everything again from entry 0, through the old checkpoint. */
        size_t i;

        s->check_at = s->size;
        memcpy(s->check_root, s->root, sizeof(s->root));
        memset(&s->edge, 0, sizeof(s->edge));
        s->size = 0;
        for (i = 0; i < s->n; i++)
            free(s->m[i].principal);
        s->n = 0;
    }
    if ((r = sn_client_get(cli->client, "/log/checkpoint", "text/plain",
                           &cp)) != SN_OK)
        return r;
    r = sn_tlog_checkpoint_open((const char *)cp.data, cp.len, s->vkey, &size,
                                root);
    sn_client_body_cleanup(&cp);
    if (r != SN_OK)
        return sn_cli_fail(cli, SN_ERR_INVALID,
                           "FAIL: the checkpoint is not signed by the pinned "
                           "key or is malformed");
    if (size < s->size)
        return sn_cli_fail(cli, SN_ERR_INVALID,
                           "FAIL: the log shrank: %llu entries, %llu seen "
                           "before",
                           (unsigned long long)size,
                           (unsigned long long)s->size);
    if (size < s->check_at)
        return sn_cli_fail(cli, SN_ERR_INVALID,
                           "FAIL: the log shrank: %llu entries, %llu seen "
                           "before",
                           (unsigned long long)size,
                           (unsigned long long)s->check_at);
    if ((r = read_entries(cli, s, size, nnew)) != SN_OK)
        return r;
    if (s->check_bad)
        return sn_cli_fail(cli, SN_ERR_INVALID,
                           "FAIL: the entries up to %llu no longer hash to "
                           "the checkpoint seen before: the log was altered",
                           (unsigned long long)s->check_at);
    sn_tlog_edge_root(&s->edge, s->root);
    if (memcmp(s->root, root, sizeof(root)) != 0)
        return sn_cli_fail(cli, SN_ERR_INVALID,
                           "FAIL: the entries do not hash to the checkpoint "
                           "of size %llu: the log was altered, or it is not "
                           "an extension of the one seen before (size %llu)",
                           (unsigned long long)size,
                           (unsigned long long)*old_size);
    s->size = size;
    return SN_OK;
}

sn_err
sn_cmd_log_key(struct sn_cli *cli)
{
    struct sn_client_body b;
    sn_err r;

    if ((r = sn_cli_connect_public(cli)) != SN_OK)
        return r;
    if ((r = sn_client_get(cli->client, "/log/vkey", "text/plain", &b)) !=
        SN_OK)
        return r;
    while (b.len > 0 && b.data[b.len - 1] == '\n')
        b.data[--b.len] = '\0';
    sn_out_text(stdout, (const char *)b.data, 0);
    putchar('\n');
    sn_client_body_cleanup(&b);
    return SN_OK;
}

/* The watched entries ordered by audit id, then index. */
static int
by_audit(const void *a, const void *b)
{
    const struct mine *x = *(const struct mine *const *)a;
    const struct mine *y = *(const struct mine *const *)b;

    if (x->audit_id != y->audit_id)
        return x->audit_id < y->audit_id ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The first of the entries for id in the sorted index, and how many. */
static size_t
find_audit(struct mine **ix, size_t n, int64_t id, size_t *count)
{
    size_t lo = 0, hi = n, mid, k;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (ix[mid]->audit_id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (k = lo; k < n && ix[k]->audit_id == id; k++)
        ;
    *count = k - lo;
    return lo;
}

static const char *
jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v != NULL ? v : "";
}

/*
 * What an entry shows must be what its record says: its type from the
 * action, and for a signature the key, the signature's hash, the digest
 * (or its commitment, from the salt) and the principal; for key events
 * the key. NULL if it is, else what differs.
 */
static const char *
entry_mismatch(const struct mine *e, const json_t *rec)
{
    const char *type =
        sn_tlog_entry_type(jstr(rec, "action"), jstr(rec, "result"));
    char digest[72];

    if (strcmp(e->type, type) != 0)
        return "type";
    if (strcmp(type, "record") == 0)
        return NULL;
    if (strcmp(e->key, jstr(rec, "key")) != 0)
        return "key";
    if (strcmp(type, "sign") != 0)
        return NULL;
    if (strcmp(e->sig, jstr(rec, "sig_sha256")) != 0)
        return "sig-sha256";
    if (jstr(rec, "digest_salt")[0] != '\0') {
        if (sn_tlog_commitment(jstr(rec, "digest_salt"), jstr(rec, "digest"),
                               digest) != SN_OK)
            return "digest";
    } else
        snprintf(digest, sizeof(digest), "%s", jstr(rec, "digest"));
    if (strcmp(e->digest, digest) != 0)
        return "digest";
    if (strcmp(e->principal, jstr(rec, "principal")) != 0)
        return "principal";
    return NULL;
}

/*
 * Every audit record of the subscriber matches its entry, and every
 * record an entry names is listed. A record has one entry, except a
 * tallied refusal (`denied`, whose count grows): its entries are all
 * `record` and the latest counts.
 */
static sn_err
compare_audit(struct sn_cli *cli, struct logstate *s, size_t *matched,
              size_t *before, size_t *later)
{
    char path[256], id[24], hash[65];
    const char *av[SN_TA_COUNT], *diff;
    int64_t after = 0;
    json_t *reply = NULL, *list, *rec;
    struct mine **ix = NULL;
    uint8_t *seen = NULL;
    const struct mine *e;
    size_t i, k, first, cnt;
    sn_err r = SN_OK;

    *matched = *before = *later = 0;
    if (s->n > 0 && ((seen = calloc(s->n, 1)) == NULL ||
                     (ix = calloc(s->n, sizeof(*ix))) == NULL)) {
        r = sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (k = 0; k < s->n; k++)
        ix[k] = &s->m[k];
    if (s->n > 0)
        qsort(ix, s->n, sizeof(*ix), by_audit);
    for (;;) {
        snprintf(path, sizeof(path), "/v1/audit?limit=1000&after=%lld",
                 (long long)after);
        if ((r = sn_client_json(cli->client, "GET", path, NULL, &reply)) !=
            SN_OK)
            goto out;
        list = json_object_get(reply, "records");
        if (json_array_size(list) == 0)
            break;
        json_array_foreach(list, i, rec)
        {
            json_int_t rid = json_integer_value(json_object_get(rec, "id"));

            after = (int64_t)rid;
            snprintf(id, sizeof(id), "%lld", (long long)rid);
            first = find_audit(ix, s->n, (int64_t)rid, &cnt);
            if (json_object_get(rec, "log_index") == NULL && cnt == 0) {
                (*before)++;
                continue;
            }
            /* written after the checkpoint verified: the next run's */
            if (cnt == 0 && json_integer_value(json_object_get(
                                rec, "log_index")) >= (json_int_t)s->size) {
                (*later)++;
                continue;
            }
            if (cnt == 0) {
                r = sn_cli_fail(cli, SN_ERR_INVALID,
                                "FAIL: audit record %s has no entry in the "
                                "log",
                                id);
                goto out;
            }
            for (k = first; k < first + cnt; k++) {
                seen[ix[k] - s->m] = 1;
                if (cnt > 1 && (strcmp(ix[k]->type, "record") != 0 ||
                                strcmp(jstr(rec, "action"), "denied") != 0)) {
                    r = sn_cli_fail(cli, SN_ERR_INVALID,
                                    "FAIL: audit record %s has %zu log "
                                    "entries: only a tallied refusal may",
                                    id, cnt);
                    goto out;
                }
            }
            e = ix[first + cnt - 1];
            av[SN_TA_ID] = id;
            av[SN_TA_TIME] = jstr(rec, "time");
            av[SN_TA_SUBSCRIBER] = jstr(rec, "subscriber");
            av[SN_TA_KEY] = jstr(rec, "key");
            av[SN_TA_TOKEN] = jstr(rec, "token");
            av[SN_TA_CLIENT] = jstr(rec, "client");
            av[SN_TA_ACTION] = jstr(rec, "action");
            av[SN_TA_DIGEST_ALG] = jstr(rec, "digest_algorithm");
            av[SN_TA_DIGEST] = jstr(rec, "digest");
            av[SN_TA_SCHEME] = jstr(rec, "scheme");
            av[SN_TA_RESULT] = jstr(rec, "result");
            av[SN_TA_DETAIL] = jstr(rec, "detail");
            av[SN_TA_POLICY] = jstr(rec, "policy");
            av[SN_TA_PRINCIPAL] = jstr(rec, "principal");
            av[SN_TA_SIG_SHA256] = jstr(rec, "sig_sha256");
            av[SN_TA_DIGEST_SALT] = jstr(rec, "digest_salt");
            if (sn_tlog_audit_hash(av, hash) != SN_OK ||
                strcmp(hash, e->audit_sha) != 0) {
                r = sn_cli_fail(cli, SN_ERR_INVALID,
                                "FAIL: audit record %s is not what log entry "
                                "%llu committed to: it was altered",
                                id, (unsigned long long)e->index);
                goto out;
            }
            if ((diff = entry_mismatch(e, rec)) != NULL) {
                r = sn_cli_fail(cli, SN_ERR_INVALID,
                                "FAIL: log entry %llu shows another %s than "
                                "its audit record %s",
                                (unsigned long long)e->index, diff, id);
                goto out;
            }
            (*matched)++;
        }
        json_decref(reply);
        reply = NULL;
    }
    for (k = 0; k < s->n; k++)
        if (!seen[k]) {
            r = sn_cli_fail(cli, SN_ERR_INVALID,
                            "FAIL: log entry %llu commits to audit record "
                            "%lld, which the audit API does not list: it "
                            "was deleted",
                            (unsigned long long)s->m[k].index,
                            (long long)s->m[k].audit_id);
            goto out;
        }
out:
    json_decref(reply);
    free(seen);
    free(ix);
    return r;
}

/* The server's inclusion proof of each entry read in this run, in the tree
 * just verified: the hashes it keeps (and serves as tiles) agree with the
 * entries. */
static sn_err
check_proofs(struct sn_cli *cli, const struct logstate *s, size_t from)
{
    uint8_t proof[SN_TLOG_MAX_PROOF][SN_TLOG_HASH];
    char path[128];
    json_t *reply = NULL, *list, *h;
    size_t i, k, np;
    sn_err r = SN_OK;

    /* The rebuilt root already proves inclusion; the server's proofs of
     * the newest entries show its stored hashes agree with them. */
    if (s->n - from > 16)
        from = s->n - 16;
    for (i = from; i < s->n && r == SN_OK; i++) {
        snprintf(path, sizeof(path), "/log/proof/%llu?size=%llu",
                 (unsigned long long)s->m[i].index,
                 (unsigned long long)s->size);
        if ((r = sn_client_json(cli->client, "GET", path, NULL, &reply)) !=
            SN_OK)
            break;
        list = json_object_get(reply, "inclusion");
        np = json_array_size(list);
        if (np > SN_TLOG_MAX_PROOF)
            r = SN_ERR_INVALID;
        json_array_foreach(list, k, h)
        {
            if (r == SN_OK && json_string_value(h) != NULL &&
                hash_b64(json_string_value(h), proof[k]) == 0)
                continue;
            r = SN_ERR_INVALID;
        }
        if (r != SN_OK ||
            !sn_tlog_check_inclusion(s->m[i].index, s->size, s->m[i].leaf,
                                     (const uint8_t(*)[SN_TLOG_HASH])proof, np,
                                     s->root))
            r = sn_cli_fail(cli, SN_ERR_INVALID,
                            "FAIL: the server's inclusion proof of entry %llu "
                            "does not hold: its stored tree was altered",
                            (unsigned long long)s->m[i].index);
        json_decref(reply);
        reply = NULL;
    }
    return r;
}

sn_err
sn_cmd_log_verify(struct sn_cli *cli)
{
    char path[4096];
    struct logstate s;
    json_t *who = NULL;
    const char *sub;
    uint64_t old = 0;
    size_t nnew = 0, matched = 0, before = 0, later = 0;
    sn_err r;

    memset(&s, 0, sizeof(s));
    if ((r = state_path(cli, "log-verify.state", path, sizeof(path))) != SN_OK)
        return r;
    if ((r = sn_cli_connect(cli)) != SN_OK)
        return r;
    if ((r = sn_client_json(cli->client, "GET", "/v1/whoami", NULL, &who)) !=
        SN_OK)
        return r;
    sub = json_string_value(json_object_get(who, "subscriber"));
    if (sub == NULL) {
        r = sn_cli_fail(cli, SN_ERR_INVALID,
                        "log verify needs a subscriber's credential (its "
                        "audit records are compared with the log)");
        goto out;
    }
    if ((r = follow_log(cli, path, sub, &s, &old, &nnew)) != SN_OK ||
        (r = check_proofs(cli, &s, s.n - nnew)) != SN_OK)
        goto out;
    if ((r = compare_audit(cli, &s, &matched, &before, &later)) != SN_OK)
        goto out;
    if ((r = state_save(cli, path, &s)) != SN_OK)
        goto out;
    printf("ok checkpoint size=%llu signed by the pinned key\n",
           (unsigned long long)s.size);
    printf("ok consistent with the last checkpoint seen (size %llu)\n",
           (unsigned long long)old);
    printf("ok entries: %llu read, %zu new of subscriber %s, all included "
           "(the server's proofs hold)\n",
           (unsigned long long)(s.size - old), nnew, s.subscriber);
    printf("ok audit: %zu records match their log entries", matched);
    if (before > 0)
        printf(" (%zu older than the log, not covered)", before);
    if (later > 0)
        printf(" (%zu newer than the checkpoint, left for the next run)",
               later);
    printf("\n");
out:
    json_decref(who);
    state_free(&s);
    return r;
}

/* The allow-list: one expectation per line (blank lines and '#' comments
 * skipped): a signature's or digest's SHA-256 hex as in the entry, or
 * text the principal contains (an OIDC claim such as run_id=1234). */
struct allow {
    char **v;
    size_t n;
};

static void
allow_free(struct allow *a)
{
    size_t i;

    for (i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof(*a));
}

static sn_err
allow_load(struct sn_cli *cli, const char *path, struct allow *a)
{
    uint8_t *data = NULL;
    size_t len = 0;
    char *line, *save = NULL, *end;
    sn_err r;

    memset(a, 0, sizeof(*a));
    if ((r = sn_file_read(path, (size_t)16 << 20, &data, &len)) != SN_OK)
        return sn_cli_fail(cli, r, "cannot read the allow-list %s", path);
    if ((a->v = calloc(ALLOW_MAX, sizeof(*a->v))) == NULL) {
        free(data);
        return sn_cli_fail(cli, SN_ERR_NOMEM, "out of memory");
    }
    for (line = strtok_r((char *)data, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ' || *line == '\t')
            line++;
        end = line + strlen(line);
        while (end > line &&
               (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            *--end = '\0';
        if (*line == '\0' || *line == '#')
            continue;
        if (a->n == ALLOW_MAX || strlen(line) < 3) {
            free(data);
            allow_free(a);
            return sn_cli_fail(cli, SN_ERR_INVALID,
                               "%s: at most %d lines of 3 or more "
                               "characters",
                               path, ALLOW_MAX);
        }
        if ((a->v[a->n++] = strdup(line)) == NULL)
            r = SN_ERR_NOMEM;
    }
    free(data);
    return r;
}

/* Whether the principal has word (space-separated) exactly. */
static int
has_word(const char *principal, const char *word)
{
    size_t n = strlen(word);
    const char *p = principal;

    while ((p = strstr(p, word)) != NULL) {
        if ((p == principal || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
        p++;
    }
    return 0;
}

static int
allowed(const struct allow *a, const struct mine *e)
{
    size_t i;

    for (i = 0; i < a->n; i++)
        if (strcmp(a->v[i], e->sig) == 0 || strcmp(a->v[i], e->digest) == 0 ||
            has_word(e->principal, a->v[i]))
            return 1;
    return 0;
}

sn_err
sn_cmd_log_monitor(struct sn_cli *cli)
{
    const char *sub = cli->opt[SN_OPT_SUBSCRIBER];
    unsigned interval = 10;
    char path[4096], pr[256];
    struct allow a;
    struct logstate s;
    uint64_t old = 0;
    size_t nnew = 0, i, from, unexpected = 0;
    sn_err r;

    memset(&a, 0, sizeof(a));
    memset(&s, 0, sizeof(s));
    if (sub == NULL && cli->nkeys == 0)
        return sn_cli_usage(cli, "name what to watch: --subscriber ID or "
                                 "--key ID (repeatable)");
    if (cli->opt[SN_OPT_INTERVAL] != NULL) {
        char *end;
        unsigned long v = strtoul(cli->opt[SN_OPT_INTERVAL], &end, 10);

        if (*end != '\0' || v < 1 || v > 86400)
            return sn_cli_usage(cli, "--interval: 1 to 86400 seconds");
        interval = (unsigned)v;
    }
    if (cli->opt[SN_OPT_ALLOW] != NULL &&
        (r = allow_load(cli, cli->opt[SN_OPT_ALLOW], &a)) != SN_OK)
        return r;
    if ((r = state_path(cli, "log-monitor.state", path, sizeof(path))) !=
            SN_OK ||
        (r = sn_cli_connect_public(cli)) != SN_OK)
        goto out;
    for (;;) {
        from = 0;
        if ((r = follow_log(cli, path, sub, &s, &old, &nnew)) != SN_OK)
            goto out;
        from = s.n - nnew;
        for (i = from; i < s.n; i++) {
            /* Signatures must be expected; the key's other events (made,
             * destroyed, certified, revoked) are shown. */
            int sig = strcmp(s.m[i].type, "sign") == 0;

            if (strcmp(s.m[i].type, "record") == 0 ||
                (sig && allowed(&a, &s.m[i])))
                continue;
            unexpected += sig;
            sn_out_clean(s.m[i].principal, pr, sizeof(pr));
            printf("%s %llu %s %s key=%s sig-sha256=%s digest=%s "
                   "principal=%s\n",
                   sig ? "UNEXPECTED" : "EVENT",
                   (unsigned long long)s.m[i].index, s.m[i].type, s.m[i].time,
                   s.m[i].key[0] ? s.m[i].key : "-",
                   s.m[i].sig[0] ? s.m[i].sig : "-",
                   s.m[i].digest[0] ? s.m[i].digest : "-", pr[0] ? pr : "-");
        }
        /* The monitor needs no entries of earlier runs. */
        for (i = 0; i < s.n; i++)
            free(s.m[i].principal);
        s.n = 0;
        if ((r = state_save(cli, path, &s)) != SN_OK)
            goto out;
        printf("ok checkpoint size=%llu, consistent with size %llu; %zu new "
               "entries watched, %zu unexpected so far\n",
               (unsigned long long)s.size, (unsigned long long)old, nnew,
               unexpected);
        fflush(stdout);
        state_free(&s);
        if (!cli->seen[SN_OPT_FOLLOW])
            break;
        sleep(interval);
    }
    if (unexpected > 0)
        r = sn_cli_fail(cli, SN_ERR_STATE,
                        "%zu entries of the watched keys are not in the "
                        "allow-list",
                        unexpected);
out:
    state_free(&s);
    allow_free(&a);
    return r;
}

sn_err
sn_cli_log_proof(struct sn_cli *cli, json_int_t index, const char *path)
{
    struct sn_client_body b;
    char url[64];
    int i;
    sn_err r = SN_ERR_STATE;

    if (index < 0)
        return sn_cli_fail(cli, SN_ERR_INVALID,
                           "the answer names no log entry (the log is off)");
    snprintf(url, sizeof(url), "/log/proof/%lld", (long long)index);
    for (i = 0; i < 100; i++) {
        r = sn_client_get(cli->client, url, "application/json", &b);
        if (r == SN_OK)
            break;
        if (cli->err.status != 404)
            return r;
        usleep(100000);
    }
    if (r != SN_OK)
        return sn_cli_fail(cli, r, "entry %lld is in no checkpoint after 10 s",
                           (long long)index);
    r = sn_out_file(path, b.data, b.len);
    sn_client_body_cleanup(&b);
    if (r != SN_OK)
        return sn_cli_fail(cli, r, "cannot write %s: %s", path,
                           strerror(errno));
    return SN_OK;
}
