/*
 * sqlite/audit: the SQLite transaction of the audit log's group commit
 * (the batching and waking is backend-independent, in store/auditlog.c).
 * A batch is one transaction on the writer's own connection, one fsync
 * with synchronous=FULL; each caller's records sit in their own savepoint,
 * so one caller's failure (a constraint, a trigger) fails only that caller.
 * Records come from the policy layer, bound as parameters.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"

#include "store/sqlite/sqlite_int.h"

static sn_err
insert_one(struct sq_store *st, struct sn_audit *a, int64_t log_index)
{
    sqlite3_stmt *s = st->winsert;
    int rc;

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    sqlite3_bind_int64(s, 1, a->time);
    sqlite3_bind_text(s, 2, a->subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, a->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, a->token, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, a->client, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, a->action, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, a->digest_alg, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, a->digest, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, a->scheme, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 10, a->result, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 11, a->detail, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 12, a->policy, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 13, a->principal, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 14, a->sig_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 15, a->digest_salt, -1, SQLITE_STATIC);
    if (log_index >= 0)
        sqlite3_bind_int64(s, 16, log_index);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return SN_ERR_DB;
    a->id = sqlite3_last_insert_rowid(st->wdb);
    a->log_index = log_index;
    return SN_OK;
}

/* The log's sink (store/logseq.h): entries and tile hashes, in the
 * writer's open transaction. */
static sn_err
put_entry(void *arg, uint64_t index, const uint8_t *entry, size_t len,
          const uint8_t leaf[32])
{
    struct sq_store *st = arg;
    sqlite3_stmt *s = st->wlogentry;
    uint8_t *spki = NULL;
    size_t spkilen = 0;
    int rc;

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    sqlite3_bind_int64(s, 1, (sqlite3_int64)index);
    sqlite3_bind_int64(s, 2, st->cur->id);
    if (st->cur->spki_sha256[0] != '\0' &&
        sn_hex_decode(st->cur->spki_sha256, &spki, &spkilen) == SN_OK)
        sqlite3_bind_blob(s, 3, spki, (int)spkilen, SQLITE_TRANSIENT);
    if (st->cur_text)
        sqlite3_bind_blob(s, 4, entry, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, leaf, 32, SQLITE_STATIC);
    free(spki);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SN_OK : SN_ERR_DB;
}

static sn_err
put_hash(void *arg, unsigned level, uint64_t index, const uint8_t hash[32])
{
    struct sq_store *st = arg;
    sqlite3_stmt *s = st->wloghash;
    int rc;

    if (level == 0)
        return SN_OK; /* kept with its entry (put_entry) */
    sqlite3_reset(s);
    sqlite3_bind_int(s, 1, (int)level);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)index);
    sqlite3_bind_blob(s, 3, hash, 32, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SN_OK : SN_ERR_DB;
}

/* Record a's entry (the record is inserted); text: keep the entry's text
 * (the row will change), else it is written again from the row. */
static sn_err
add_entry(struct sq_store *st, const struct sn_audit *a, struct sn_logseq *ls,
          int text)
{
    const struct sn_logseq_sink sink = {put_entry, put_hash, st};
    sn_err r;

    st->cur = a;
    st->cur_text = text;
    r = sn_log_entry_append(a, ls, &sink);
    st->cur = NULL;
    return r;
}

/* Record a, and its log entry. */
static sn_err
insert_logged(struct sq_store *st, struct sn_audit *a, struct sn_logseq *ls,
              int text)
{
    sn_err r;

    if ((r = insert_one(st, a, sn_logseq_next(ls))) != SN_OK)
        return r;
    return add_entry(st, a, ls, text);
}

static sn_err
insert_tsa(struct sq_store *st, const struct sn_tsa_record *t)
{
    sqlite3_stmt *s = st->wtsa;
    int rc;

    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    sqlite3_bind_text(s, 1, t->serial, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, t->gen_time, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, t->hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, t->imprint, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, t->policy, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SN_OK : SN_ERR_DB;
}

static int
exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

enum ctl { BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ROLLBACK_TO, NCTL };

static const char *const ctl_sql[NCTL] = {
    [BEGIN] = "BEGIN IMMEDIATE", [COMMIT] = "COMMIT",
    [ROLLBACK] = "ROLLBACK",     [SAVEPOINT] = "SAVEPOINT job",
    [RELEASE] = "RELEASE job",   [ROLLBACK_TO] = "ROLLBACK TO job",
};

static int
ctl(struct sq_store *st, enum ctl c)
{
    sqlite3_stmt *s = st->wctl[c];
    int rc = sqlite3_step(s);

    sqlite3_reset(s);
    return rc == SQLITE_DONE;
}

/*
 * Writes one batch of jobs; sets each job's result. A job of one
 * statement needs no savepoint: a failed statement undoes itself (a
 * logged record is three or more: the record, its entry, tile hashes).
 */
void
sn_sqlite_audit_write(void *be, struct sn_audit_job *jobs, struct sn_logseq *ls)
{
    struct sq_store *st = be;
    struct sn_audit_job *j;
    size_t i;
    int ok, single;

    if (!ctl(st, BEGIN)) {
        for (j = jobs; j != NULL; j = j->next)
            j->result = SN_ERR_DB;
        return;
    }
    sn_logseq_begin(ls);
    for (j = jobs; j != NULL; j = j->next) {
        j->result = SN_OK;
        single = (j->tsa != NULL) + j->n == 1 && (j->n == 0 || !ls->on);
        if (!single && !ctl(st, SAVEPOINT)) {
            j->result = SN_ERR_DB;
            continue;
        }
        sn_logseq_mark(ls);
        if (j->tsa != NULL)
            j->result = insert_tsa(st, j->tsa);
        for (i = 0; i < j->n && j->result == SN_OK; i++)
            j->result = insert_logged(st, &j->recs[i], ls, 0);
        if (j->result != SN_OK)
            sn_logseq_unmark(ls);
        if (single)
            continue;
        if (j->result == SN_OK)
            ok = ctl(st, RELEASE);
        else
            ok = ctl(st, ROLLBACK_TO) && ctl(st, RELEASE);
        if (!ok)
            j->result = SN_ERR_DB;
        /* SQLite rolled the whole transaction back (disk full, I/O): the
         * batch is lost, and nothing more may be written in it (a later
         * statement would run outside it, with the log's edge ahead). */
        if (sqlite3_get_autocommit(st->wdb))
            break;
    }
    if (sqlite3_get_autocommit(st->wdb)) {
        sn_error("audit: the batch's transaction was rolled back: %s",
                 sqlite3_errmsg(st->wdb));
        sn_logseq_abort(ls);
        for (j = jobs; j != NULL; j = j->next)
            j->result = SN_ERR_DB;
        return;
    }
    if (!ctl(st, COMMIT)) {
        sn_error("audit: commit failed: %s", sqlite3_errmsg(st->wdb));
        ctl(st, ROLLBACK);
        sn_logseq_abort(ls);
        for (j = jobs; j != NULL; j = j->next)
            j->result = SN_ERR_DB;
        return;
    }
    sn_logseq_commit(ls);
}

/* Replaces the detail of record a->id (the tally's count grew); the
 * changed record gets a new log entry, which the row then names. */
static sn_err
update_detail(struct sq_store *st, struct sn_audit *a, struct sn_logseq *ls)
{
    int64_t at = sn_logseq_next(ls);
    sqlite3_stmt *s = NULL;
    int rc;

    if (sqlite3_prepare_v2(st->wdb,
                           "UPDATE audit SET detail = ?,"
                           " log_index = coalesce(?, log_index) WHERE id = ?",
                           -1, &s, NULL) != SQLITE_OK)
        return SN_ERR_DB;
    sqlite3_bind_text(s, 1, a->detail, -1, SQLITE_STATIC);
    if (at >= 0)
        sqlite3_bind_int64(s, 2, at);
    sqlite3_bind_int64(s, 3, a->id);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return SN_ERR_DB;
    a->log_index = at;
    return add_entry(st, a, ls, 1);
}

sn_err
sn_sqlite_audit_tally(void *be, struct sn_audit *recs, size_t n,
                      struct sn_logseq *ls)
{
    struct sq_store *st = be;
    sn_err r = SN_OK;
    size_t i;

    if (n == 0)
        return SN_OK;
    if (!ctl(st, BEGIN))
        return SN_ERR_DB;
    sn_logseq_begin(ls);
    for (i = 0; i < n && r == SN_OK; i++)
        r = recs[i].id == 0 ? insert_logged(st, &recs[i], ls, 1)
                            : update_detail(st, &recs[i], ls);
    if (r == SN_OK && ctl(st, COMMIT)) {
        sn_logseq_commit(ls);
        return SN_OK;
    }
    ctl(st, ROLLBACK);
    sn_logseq_abort(ls);
    return SN_ERR_DB;
}

/* ---- the transparency log's reads and checkpoints ---- */

sn_err
sn_sqlite_log_size(void *be, uint64_t *size)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r = SN_ERR_DB;

    *size = 0;
    if (sn_sq_prepare(st, "SELECT coalesce(max(idx) + 1, 0) FROM log_entries",
                      &s) != SN_OK)
        return SN_ERR_DB;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *size = (uint64_t)sqlite3_column_int64(s, 0);
        r = SN_OK;
    }
    sqlite3_finalize(s);
    return r;
}

sn_err
sn_sqlite_log_hashes(void *be, unsigned level, uint64_t start, size_t n,
                     uint8_t (*out)[32])
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    size_t got = 0;
    sn_err r = SN_OK;
    int rc;

    if (n == 0 || start > (uint64_t)INT64_MAX - n)
        return SN_ERR_INVALID;
    /* Level 0 is the entries' leaves; the others their own table. */
    if (sn_sq_prepare(st,
                      level == 0 ? "SELECT idx, leaf FROM log_entries WHERE"
                                   " ?1 = 0 AND idx >= ?2 AND idx < ?3"
                                   " ORDER BY idx"
                                 : "SELECT idx, hash FROM log_hashes WHERE"
                                   " level = ?1 AND idx >= ?2 AND idx < ?3"
                                   " ORDER BY idx",
                      &s) != SN_OK)
        return SN_ERR_DB;
    sqlite3_bind_int(s, 1, (int)level);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)start);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)(start + n));
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (got >= n || (uint64_t)sqlite3_column_int64(s, 0) != start + got ||
            sqlite3_column_bytes(s, 1) != 32) {
            r = SN_ERR_NOT_FOUND;
            break;
        }
        memcpy(out[got++], sqlite3_column_blob(s, 1), 32);
    }
    if (r == SN_OK && rc != SQLITE_DONE)
        r = SN_ERR_DB;
    if (r == SN_OK && got != n)
        r = SN_ERR_NOT_FOUND;
    sqlite3_finalize(s);
    return r;
}

/* An entry written again from its record's row (columns 3.. of the
 * statement below) and the key's SPKI hash (column 2). */
static sn_err
entry_from_row(sqlite3_stmt *s, uint8_t **out, size_t *len)
{
    struct sn_audit a;

    sn_sq_read_audit(s, 3, &a);
    if (sqlite3_column_bytes(s, 2) == 32)
        sn_hex_encode(sqlite3_column_blob(s, 2), 32, a.spki_sha256);
    return sn_log_entry(&a, out, len);
}

sn_err
sn_sqlite_log_entries(void *be, uint64_t start, size_t n, struct sn_buf *out)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    uint8_t len2[2], *made = NULL;
    const uint8_t *data;
    size_t got = 0, len;
    sn_err r = SN_OK;
    int rc;

    if (n == 0 || start > (uint64_t)INT64_MAX - n)
        return SN_ERR_INVALID;
    if (sn_sq_prepare(
            st,
            "SELECT le.idx, le.data, le.spki, a.id, a.time, a.subscriber_id,"
            " a.key_id, a.token_id, a.client, a.action, a.digest_algorithm,"
            " a.digest, a.scheme, a.result, a.detail, a.policy, a.principal,"
            " a.sig_sha256, a.digest_salt, a.log_index FROM log_entries le"
            " LEFT JOIN audit a ON a.id = le.audit_id"
            " WHERE le.idx >= ? AND le.idx < ? ORDER BY le.idx",
            &s) != SN_OK)
        return SN_ERR_DB;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)start);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)(start + n));
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if ((uint64_t)sqlite3_column_int64(s, 0) != start + got) {
            r = SN_ERR_NOT_FOUND;
            break;
        }
        if (sqlite3_column_type(s, 1) != SQLITE_NULL) {
            data = sqlite3_column_blob(s, 1);
            len = (size_t)sqlite3_column_bytes(s, 1);
        } else if (sqlite3_column_type(s, 3) == SQLITE_NULL) {
            r = SN_ERR_NOT_FOUND; /* its record is gone */
            break;
        } else if ((r = entry_from_row(s, &made, &len)) != SN_OK)
            break;
        else
            data = made;
        if (len > 65535) {
            r = SN_ERR_NOT_FOUND;
            break;
        }
        len2[0] = (uint8_t)(len >> 8);
        len2[1] = (uint8_t)len;
        if ((r = sn_buf_append(out, len2, 2)) == SN_OK)
            r = sn_buf_append(out, data, len);
        free(made);
        made = NULL;
        if (r != SN_OK)
            break;
        got++;
    }
    free(made);
    if (r == SN_OK && rc != SQLITE_DONE)
        r = SN_ERR_DB;
    if (r == SN_OK && got != n)
        r = SN_ERR_NOT_FOUND;
    sqlite3_finalize(s);
    return r;
}

/* The writer's connection: after its batches, never inside one. */
sn_err
sn_sqlite_log_checkpoint_put(void *be, uint64_t size, const uint8_t root[32],
                             const char *note, time_t when)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    int rc;

    if (sqlite3_prepare_v2(st->wdb,
                           "INSERT INTO log_checkpoints (size, root, note,"
                           " signed_at) VALUES (?, ?, ?, ?)",
                           -1, &s, NULL) != SQLITE_OK)
        return SN_ERR_DB;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)size);
    sqlite3_bind_blob(s, 2, root, 32, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, note, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)when);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SN_OK : SN_ERR_DB;
}

sn_err
sn_sqlite_log_checkpoint_latest(void *be, uint64_t *size, uint8_t root[32],
                                char **note)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r = SN_ERR_NOT_FOUND;
    int rc;

    *note = NULL;
    if (sn_sq_prepare(st,
                      "SELECT size, root, note FROM log_checkpoints"
                      " ORDER BY size DESC LIMIT 1",
                      &s) != SN_OK)
        return SN_ERR_DB;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 1) == 32) {
        *size = (uint64_t)sqlite3_column_int64(s, 0);
        memcpy(root, sqlite3_column_blob(s, 1), 32);
        if ((*note = strdup((const char *)sqlite3_column_text(s, 2))) == NULL)
            r = SN_ERR_NOMEM;
        else
            r = SN_OK;
    } else if (rc == SQLITE_ROW)
        r = SN_ERR_DB;
    else if (rc != SQLITE_DONE)
        r = SN_ERR_DB;
    sqlite3_finalize(s);
    return r;
}

/* One row rewritten and committed: the disk took a write. */
sn_err
sn_sqlite_write_probe(void *be)
{
    struct sq_store *st = be;

    return exec(st->wdb, "INSERT INTO counters (name, value)"
                         " VALUES ('write_probe', 1) ON CONFLICT(name)"
                         " DO UPDATE SET value = value + 1")
               ? SN_OK
               : SN_ERR_DB;
}

/*
 * The oldest records before `before`, at most max, ordered so that both
 * statements of a step see the same ones (nothing else writes tsa_tokens:
 * the writer's own transaction). A serial is hex without leading zeros:
 * padded to 64 it sorts as a number.
 */
#define OLDEST                                                                 \
    "SELECT rowid, serial, recorded_at FROM tsa_tokens WHERE recorded_at < ?1" \
    " ORDER BY recorded_at, rowid LIMIT ?2"

static const char compact_count[] =
    "INSERT INTO tsa_token_counts (hour, count, first_serial, last_serial)"
    " SELECT recorded_at - recorded_at % 3600 AS h, count(*),"
    " ltrim(min(printf('%64s', serial))), ltrim(max(printf('%64s', serial)))"
    " FROM (" OLDEST ") WHERE true GROUP BY h"
    " ON CONFLICT(hour) DO UPDATE SET count = count + excluded.count,"
    " first_serial = CASE WHEN printf('%64s', excluded.first_serial) <"
    " printf('%64s', first_serial) THEN excluded.first_serial"
    " ELSE first_serial END,"
    " last_serial = CASE WHEN printf('%64s', excluded.last_serial) >"
    " printf('%64s', last_serial) THEN excluded.last_serial"
    " ELSE last_serial END";
/* Rows from before schema 6 (recorded_at 0) dated by their genTime
 * (YYYYMMDDhhmmss[.f]Z), at most max a step; a malformed one as now. */
static const char compact_date[] =
    "UPDATE tsa_tokens SET recorded_at = coalesce(CAST(strftime('%s',"
    " substr(gen_time, 1, 4) || '-' || substr(gen_time, 5, 2) || '-' ||"
    " substr(gen_time, 7, 2) || ' ' || substr(gen_time, 9, 2) || ':' ||"
    " substr(gen_time, 11, 2) || ':' || substr(gen_time, 13, 2)) AS INTEGER),"
    " CAST(strftime('%s', 'now') AS INTEGER))"
    " WHERE rowid IN (SELECT rowid FROM tsa_tokens WHERE recorded_at = 0"
    " LIMIT ?2)";
static const char compact_delete[] =
    "DELETE FROM tsa_tokens WHERE rowid IN (SELECT rowid FROM (" OLDEST "))";

static sn_err
compact_stmt(struct sq_store *st, const char *sql, time_t before, size_t max)
{
    sqlite3_stmt *s = NULL;
    int rc;

    if (sqlite3_prepare_v2(st->wdb, sql, -1, &s, NULL) != SQLITE_OK) {
        sn_error("tsa: retention: %s", sqlite3_errmsg(st->wdb));
        return SN_ERR_DB;
    }
    sqlite3_bind_int64(s, 1, (sqlite3_int64)before);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SN_OK : SN_ERR_DB;
}

sn_err
sn_sqlite_tsa_compact(void *be, time_t before, size_t max, size_t *removed)
{
    struct sq_store *st = be;

    *removed = 0;
    if (max == 0 || max > INT32_MAX)
        return SN_ERR_INVALID;
    if (!ctl(st, BEGIN))
        return SN_ERR_DB;
    if (compact_stmt(st, compact_date, before, max) == SN_OK &&
        compact_stmt(st, compact_count, before, max) == SN_OK &&
        compact_stmt(st, compact_delete, before, max) == SN_OK) {
        *removed = (size_t)sqlite3_changes(st->wdb);
        if (ctl(st, COMMIT))
            return SN_OK;
    }
    *removed = 0;
    ctl(st, ROLLBACK);
    return SN_ERR_DB;
}

sn_err
sn_sqlite_audit_open(struct sq_store *st, const char *path)
{
    size_t i;
    int rc;

    rc = sqlite3_open_v2(path, &st->wdb,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return SN_ERR_DB;
    sqlite3_busy_timeout(st->wdb, 10000);

    if (!exec(st->wdb, "PRAGMA synchronous=FULL") ||
        sqlite3_prepare_v2(st->wdb,
                           "INSERT INTO audit (time, subscriber_id, key_id,"
                           " token_id, client, action, digest_algorithm,"
                           " digest, scheme, result, detail, policy,"
                           " principal, sig_sha256, digest_salt, log_index)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                           " ?, ?, ?)",
                           -1, &st->winsert, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->wdb,
                           "INSERT INTO log_entries (idx, audit_id, spki,"
                           " data, leaf) VALUES (?, ?, ?, ?, ?)",
                           -1, &st->wlogentry, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->wdb,
                           "INSERT INTO log_hashes (level, idx, hash)"
                           " VALUES (?, ?, ?)",
                           -1, &st->wloghash, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->wdb,
                           "INSERT INTO tsa_tokens (serial, gen_time, hash,"
                           " imprint, policy, recorded_at)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           -1, &st->wtsa, NULL) != SQLITE_OK)
        return SN_ERR_DB;
    for (i = 0; i < NCTL; i++)
        if (sqlite3_prepare_v2(st->wdb, ctl_sql[i], -1, &st->wctl[i], NULL) !=
            SQLITE_OK)
            return SN_ERR_DB;
    return SN_OK;
}

void
sn_sqlite_audit_close(struct sq_store *st)
{
    size_t i;

    for (i = 0; i < NCTL; i++) {
        sqlite3_finalize(st->wctl[i]);
        st->wctl[i] = NULL;
    }
    sqlite3_finalize(st->winsert);
    sqlite3_finalize(st->wtsa);
    sqlite3_finalize(st->wlogentry);
    sqlite3_finalize(st->wloghash);
    st->winsert = NULL;
    st->wtsa = NULL;
    st->wlogentry = NULL;
    st->wloghash = NULL;
    sqlite3_close(st->wdb);
    st->wdb = NULL;
}
