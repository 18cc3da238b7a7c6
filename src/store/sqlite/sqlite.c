/*
 * sqlite: the store's SQLite backend (struct sn_store_ops, see
 * store/store_backend.h). Values come from the validated policy layer; every
 * statement binds parameters (no SQL built from strings). One connection
 * is shared under SQLite's own serialised mode; WAL journal and
 * synchronous=FULL make each commit durable. The audit log's writes go
 * through a second connection, in sqlite/audit.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "common/log.h"

#include "store/sqlite/sqlite_int.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS subscribers ("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " token_label TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tokens ("
    " id TEXT PRIMARY KEY, subscriber_id TEXT, admin INTEGER NOT NULL,"
    " name TEXT NOT NULL, hash BLOB NOT NULL, roles INTEGER NOT NULL,"
    " keys TEXT NOT NULL, expires_at INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS keys ("
    " id TEXT PRIMARY KEY, subscriber_id TEXT NOT NULL, label TEXT NOT NULL,"
    " algorithm INTEGER NOT NULL, state INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL, spki BLOB NOT NULL, facts INTEGER NOT NULL,"
    " hsm_manufacturer TEXT NOT NULL, hsm_model TEXT NOT NULL,"
    " hsm_serial TEXT NOT NULL, hsm_label TEXT NOT NULL, cert_pem TEXT);"
    "CREATE INDEX IF NOT EXISTS keys_by_sub ON keys(subscriber_id);"
    "CREATE TABLE IF NOT EXISTS audit ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,"
    " subscriber_id TEXT NOT NULL, key_id TEXT NOT NULL,"
    " token_id TEXT NOT NULL, client TEXT NOT NULL, action TEXT NOT NULL,"
    " digest_algorithm TEXT NOT NULL, digest TEXT NOT NULL,"
    " scheme TEXT NOT NULL, result TEXT NOT NULL, detail TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS audit_by_sub ON audit(subscriber_id, id);"
    "CREATE TABLE IF NOT EXISTS certificates ("
    " serial TEXT PRIMARY KEY, ca TEXT NOT NULL, subscriber_id TEXT NOT NULL,"
    " key_id TEXT NOT NULL, profile TEXT NOT NULL, der BLOB NOT NULL,"
    " not_before INTEGER NOT NULL, not_after INTEGER NOT NULL,"
    " issued_at INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,"
    " revocation_date INTEGER NOT NULL DEFAULT 0,"
    " reason INTEGER NOT NULL DEFAULT 0,"
    " revoked_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS certs_by_key ON certificates(key_id);"
    "CREATE TABLE IF NOT EXISTS counters ("
    " name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tsa_tokens ("
    " serial TEXT PRIMARY KEY, gen_time TEXT NOT NULL,"
    " hash TEXT NOT NULL, imprint TEXT NOT NULL, policy TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS crls ("
    " ca TEXT PRIMARY KEY, number INTEGER NOT NULL,"
    " this_update INTEGER NOT NULL, der BLOB);";

/*
 * The schema's history, oldest first: migrations[i] brings a database from
 * version i to version i + 1 (PRAGMA user_version), each in its own
 * transaction with the version it reaches, so each runs exactly once.
 * Append only: a released entry is never edited, a change is a new entry.
 *
 * Before versioning (user_version 0 with tables present) every open ran
 * the base schema and then tried each ALTER, ignoring "duplicate column".
 * Such a database is adopted by looking at its columns: an entry with a
 * marker column already present is counted as run.
 */
struct migration {
    const char *sql;
    const char *table, *column; /* marker for pre-versioning databases */
};

static const struct migration migrations[] = {
    {schema, NULL, NULL},
    {"ALTER TABLE keys ADD COLUMN attestation_pem TEXT", "keys",
     "attestation_pem"},
    {"ALTER TABLE subscribers ADD COLUMN identity TEXT", "subscribers",
     "identity"},
    /* A certificate's SubjectPublicKeyInfo (DER), filled in by the policy
     * layer: key compromise is a fact about the key, whichever record
     * certified it. */
    {"ALTER TABLE certificates ADD COLUMN spki BLOB;"
     "CREATE INDEX IF NOT EXISTS certs_by_spki ON certificates(spki)",
     "certificates", "spki"},
    /* A database whose spki column came from an old ALTER may lack the
     * index (the old code created it on each open): adoption skips
     * migration 4 for it, so this step makes sure. */
    {"CREATE INDEX IF NOT EXISTS certs_by_spki ON certificates(spki)", NULL,
     NULL},
    /* Retention of time-stamp token records: when each was recorded
     * (0 for older rows: the writer dates them from their genTime in
     * bounded steps, rather than rewriting a possibly huge table in one
     * transaction here), and what compaction keeps of the rows it
     * removes: per hour, how many and the serials' range. */
    {"ALTER TABLE tsa_tokens ADD COLUMN recorded_at INTEGER NOT NULL"
     " DEFAULT 0;"
     "CREATE INDEX IF NOT EXISTS tsa_by_time ON tsa_tokens(recorded_at);"
     "CREATE TABLE IF NOT EXISTS tsa_token_counts ("
     " hour INTEGER PRIMARY KEY, count INTEGER NOT NULL,"
     " first_serial TEXT NOT NULL, last_serial TEXT NOT NULL);",
     NULL, NULL},
    /* issue 16: signing policies (a key's own, or a subscriber's default,
     * as canonical JSON), and in each audit record the policy's decision
     * and the principal; signatures of a key since a time (the quota's
     * seed) by an index on key and time. */
    {"CREATE TABLE IF NOT EXISTS signing_policies ("
     " target TEXT PRIMARY KEY, subscriber_id TEXT NOT NULL,"
     " policy TEXT NOT NULL, updated_at INTEGER NOT NULL);"
     "ALTER TABLE audit ADD COLUMN policy TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE audit ADD COLUMN principal TEXT NOT NULL DEFAULT '';"
     "CREATE INDEX IF NOT EXISTS audit_by_key_time ON audit(key_id, time);",
     NULL, NULL},
    /* issue 16: how a token's holder proved who they were (a token minted
     * by an OIDC exchange names its trust policy and the claims; the
     * audit records carry it in their principal). */
    {"ALTER TABLE tokens ADD COLUMN auth_method INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE tokens ADD COLUMN via TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE tokens ADD COLUMN proof TEXT NOT NULL DEFAULT '';",
     NULL, NULL},
    /* issue 16: trusted OIDC issuers, subscribers' trust policies, and the
     * jtis of exchanged ID tokens until they expire (a replay is refused
     * after a restart too). */
    {"CREATE TABLE IF NOT EXISTS oidc_issuers ("
     " id TEXT PRIMARY KEY, issuer TEXT NOT NULL UNIQUE,"
     " audience TEXT NOT NULL, jwks_uri TEXT NOT NULL,"
     " ca_file TEXT NOT NULL, created_at INTEGER NOT NULL);"
     "CREATE TABLE IF NOT EXISTS trust_policies ("
     " id TEXT PRIMARY KEY, subscriber_id TEXT NOT NULL,"
     " issuer TEXT NOT NULL, body TEXT NOT NULL,"
     " created_at INTEGER NOT NULL);"
     "CREATE INDEX IF NOT EXISTS trust_by_issuer ON trust_policies(issuer);"
     "CREATE TABLE IF NOT EXISTS oidc_jti ("
     " issuer TEXT NOT NULL, jti TEXT NOT NULL,"
     " expires_at INTEGER NOT NULL, PRIMARY KEY (issuer, jti));",
     NULL, NULL},
    /* mTLS (issue 16): subscribers' client-certificate registrations,
     * looked up by match (a pinned leaf's fingerprint, or a CA's subject
     * name hash). */
    {"CREATE TABLE IF NOT EXISTS client_certs ("
     " id TEXT PRIMARY KEY, subscriber_id TEXT NOT NULL, name TEXT NOT NULL,"
     " kind INTEGER NOT NULL, match TEXT NOT NULL,"
     " fingerprint TEXT NOT NULL, pem TEXT NOT NULL, rules TEXT NOT NULL,"
     " roles INTEGER NOT NULL, keys TEXT NOT NULL,"
     " created_at INTEGER NOT NULL);"
     "CREATE INDEX IF NOT EXISTS client_certs_by_match"
     " ON client_certs(match);"
     "CREATE INDEX IF NOT EXISTS client_certs_by_sub"
     " ON client_certs(subscriber_id);",
     NULL, NULL},
    /* issue 17: people. Accounts (a password's argon2id hash, a TOTP
     * secret sealed by the service token's key), their recovery codes'
     * hashes, and login sessions as tokens (auth_method 3, via the
     * account) with a second factor or not and an idle limit. Disabling
     * an account revokes its sessions in the same statement (the
     * trigger), so no node keeps one. */
    {"ALTER TABLE tokens ADD COLUMN mfa INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE tokens ADD COLUMN idle_timeout INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE tokens ADD COLUMN last_used INTEGER NOT NULL DEFAULT 0;"
     "CREATE INDEX IF NOT EXISTS tokens_by_via ON tokens(via);"
     "CREATE TABLE IF NOT EXISTS accounts ("
     " id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
     " operator INTEGER NOT NULL, subscriber_id TEXT NOT NULL,"
     " roles INTEGER NOT NULL, pw_hash TEXT NOT NULL, totp_sealed BLOB,"
     " totp_pending BLOB,"
     " totp_state INTEGER NOT NULL DEFAULT 0,"
     " totp_last_step INTEGER NOT NULL DEFAULT 0,"
     " failures INTEGER NOT NULL DEFAULT 0,"
     " locked_until INTEGER NOT NULL DEFAULT 0,"
     " disabled_at INTEGER NOT NULL DEFAULT 0,"
     " last_login INTEGER NOT NULL DEFAULT 0,"
     " last_use INTEGER NOT NULL DEFAULT 0,"
     " created_at INTEGER NOT NULL, created_by TEXT NOT NULL);"
     "CREATE INDEX IF NOT EXISTS accounts_by_sub ON accounts(subscriber_id);"
     "CREATE TABLE IF NOT EXISTS recovery_codes ("
     " account_id TEXT NOT NULL, hash BLOB NOT NULL,"
     " used_at INTEGER NOT NULL DEFAULT 0,"
     " PRIMARY KEY (account_id, hash));"
     "CREATE TRIGGER IF NOT EXISTS account_disabled"
     " AFTER UPDATE OF disabled_at ON accounts WHEN NEW.disabled_at != 0"
     " BEGIN UPDATE tokens SET revoked_at = NEW.disabled_at"
     " WHERE auth_method = 3 AND via = NEW.id AND revoked_at = 0; END;",
     NULL, NULL},
    /* issue 17: sign requests awaiting k-of-n approval and their votes.
     * The digests are the raw bytes one after the other; the approvers
     * the account ids named when the request was made, space-separated;
     * the signatures, once completed, base64 space-separated. A vote per
     * account and request: the primary key refuses a second one. */
    {"CREATE TABLE IF NOT EXISTS sign_requests ("
     " id TEXT PRIMARY KEY, subscriber_id TEXT NOT NULL,"
     " key_id TEXT NOT NULL, token_id TEXT NOT NULL,"
     " auth_method INTEGER NOT NULL, via TEXT NOT NULL,"
     " principal TEXT NOT NULL, client TEXT NOT NULL,"
     " digest_algorithm TEXT NOT NULL, scheme TEXT NOT NULL,"
     " batch INTEGER NOT NULL, digests BLOB NOT NULL,"
     " required INTEGER NOT NULL, approvers TEXT NOT NULL,"
     " state TEXT NOT NULL CHECK (state IN ('pending_approval',"
     " 'approved', 'completed', 'failed', 'denied', 'expired',"
     " 'canceled')),"
     " reason TEXT NOT NULL DEFAULT '', signatures TEXT,"
     " created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
     " updated_at INTEGER NOT NULL, version INTEGER NOT NULL);"
     "CREATE INDEX IF NOT EXISTS sign_requests_by_sub"
     " ON sign_requests(subscriber_id, created_at);"
     "CREATE INDEX IF NOT EXISTS sign_requests_by_state"
     " ON sign_requests(state, expires_at);"
     "CREATE TABLE IF NOT EXISTS sign_request_votes ("
     " request_id TEXT NOT NULL REFERENCES sign_requests(id),"
     " account_id TEXT NOT NULL,"
     " vote TEXT NOT NULL CHECK (vote IN ('approve', 'deny')),"
     " time INTEGER NOT NULL, token_id TEXT NOT NULL,"
     " PRIMARY KEY (request_id, account_id));",
     NULL, NULL},
    /* issue 18: the transparency log. Each audit record names its entry
     * (log_index) and keeps a signature's SHA-256 and a commitment's salt;
     * reports find signing events by signature hash or digest. The
     * entries with their leaf hashes (level 0: one row a record, so a
     * commit touches one more page, not two), the higher tile-level
     * hashes (8, 16 ...), and every checkpoint signed. An entry's text is
     * kept only for records whose row changes later (a tallied
     * refusal); the others' is written again from their row (and the
     * key's SPKI hash) when read, so a record is not stored twice. */
    {"ALTER TABLE audit ADD COLUMN sig_sha256 TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE audit ADD COLUMN digest_salt TEXT NOT NULL DEFAULT '';"
     "ALTER TABLE audit ADD COLUMN log_index INTEGER;"
     "CREATE INDEX IF NOT EXISTS audit_by_sig ON audit(sig_sha256)"
     " WHERE sig_sha256 != '';"
     "CREATE INDEX IF NOT EXISTS audit_by_digest ON audit(digest)"
     " WHERE digest != '';"
     "CREATE TABLE IF NOT EXISTS log_entries ("
     " idx INTEGER PRIMARY KEY, audit_id INTEGER NOT NULL, spki BLOB,"
     " data BLOB, leaf BLOB NOT NULL);"
     "CREATE TABLE IF NOT EXISTS log_hashes ("
     " level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,"
     " PRIMARY KEY (level, idx)) WITHOUT ROWID;"
     "CREATE TABLE IF NOT EXISTS log_checkpoints ("
     " size INTEGER PRIMARY KEY, root BLOB NOT NULL, note TEXT NOT NULL,"
     " signed_at INTEGER NOT NULL);",
     NULL, NULL},
    /* issue 18: reports of Suspect Code and key compromise. The evidence
     * as received (at most 64 KiB), the signing events it matched (audit
     * records), and once confirmed what was done to each key: its
     * revocation date, Signet's certificates revoked, and the notice owed
     * to another CA (attempts, the next one, the result). Deadlines run
     * from received_at; 0 is "not yet" for every time. */
    {"CREATE TABLE IF NOT EXISTS reports ("
     " id TEXT PRIMARY KEY,"
     " kind TEXT NOT NULL CHECK (kind IN ('suspect_code',"
     " 'key_compromise')),"
     " state TEXT NOT NULL CHECK (state IN ('received', 'confirmed',"
     " 'rejected')),"
     " evidence_kind TEXT NOT NULL CHECK (evidence_kind IN ('pkcs7',"
     " 'signature', 'digest')),"
     " digest_algorithm TEXT NOT NULL, evidence BLOB NOT NULL,"
     " evidence_sha256 TEXT NOT NULL, reason TEXT NOT NULL,"
     " contact TEXT NOT NULL, reporter_subscriber TEXT NOT NULL,"
     " reporter_token TEXT NOT NULL, reporter_client TEXT NOT NULL,"
     " received_at INTEGER NOT NULL, events_total INTEGER NOT NULL,"
     " acked_at INTEGER NOT NULL, acked_by TEXT NOT NULL,"
     " decided_at INTEGER NOT NULL, decided_by TEXT NOT NULL,"
     " decision TEXT NOT NULL, ca_informed_at INTEGER NOT NULL,"
     " version INTEGER NOT NULL);"
     "CREATE INDEX IF NOT EXISTS reports_by_time ON reports(received_at);"
     "CREATE INDEX IF NOT EXISTS reports_by_reporter"
     " ON reports(reporter_subscriber, received_at);"
     "CREATE TABLE IF NOT EXISTS report_events ("
     " report_id TEXT NOT NULL REFERENCES reports(id),"
     " audit_id INTEGER NOT NULL, log_index INTEGER,"
     " time INTEGER NOT NULL, subscriber_id TEXT NOT NULL,"
     " key_id TEXT NOT NULL, action TEXT NOT NULL,"
     " principal TEXT NOT NULL, digest_algorithm TEXT NOT NULL,"
     " digest TEXT NOT NULL, sig_sha256 TEXT NOT NULL,"
     " matched_by TEXT NOT NULL,"
     " PRIMARY KEY (report_id, audit_id)) WITHOUT ROWID;"
     "CREATE TABLE IF NOT EXISTS report_keys ("
     " report_id TEXT NOT NULL REFERENCES reports(id),"
     " key_id TEXT NOT NULL, subscriber_id TEXT NOT NULL,"
     " first_event INTEGER NOT NULL, revocation_date INTEGER NOT NULL,"
     " certs_revoked INTEGER NOT NULL, external INTEGER NOT NULL,"
     " notified_at INTEGER NOT NULL, attempts INTEGER NOT NULL,"
     " next_attempt INTEGER NOT NULL, last_result TEXT NOT NULL,"
     " PRIMARY KEY (report_id, key_id)) WITHOUT ROWID;"
     "CREATE INDEX IF NOT EXISTS report_keys_due"
     " ON report_keys(next_attempt) WHERE external = 1"
     " AND notified_at = 0;",
     NULL, NULL},
    /* issue 19: subscribers' token PINs sealed by the service token's key,
     * for nodes that share a database instead of a home (the PostgreSQL
     * backend writes them; a SQLite home keeps its PIN files). */
    {"CREATE TABLE IF NOT EXISTS token_pins ("
     " subscriber_id TEXT PRIMARY KEY, sealed BLOB NOT NULL)",
     NULL, NULL},
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))
/* migrations[0 .. PRE_VERSIONING - 1] predate versioning; later entries
 * need no marker. */
#define PRE_VERSIONING 4

static sn_err
db_err(int rc)
{
    switch (rc) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return SN_OK;
    case SQLITE_CONSTRAINT:
        return SN_ERR_EXISTS;
    case SQLITE_NOMEM:
        return SN_ERR_NOMEM;
    default:
        return SN_ERR_DB;
    }
}

static int
pragma_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *s = NULL;
    int rc;

    *out = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return 0;
    if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        *out = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

/* 1 if table has column (PRAGMA table_info; names are ours, not input). */
static int
has_column(sqlite3 *db, const char *table, const char *column)
{
    sqlite3_stmt *s = NULL;
    char sql[128];
    int found = 0;

    snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return 0;
    while (!found && sqlite3_step(s) == SQLITE_ROW)
        found = strcmp((const char *)sqlite3_column_text(s, 1), column) == 0;
    sqlite3_finalize(s);
    return found;
}

/*
 * Inside the open transaction: a database from before versioning (version
 * 0 with tables present) is adopted at once: every pre-versioning
 * migration whose column is missing is run (the base schema only creates
 * what is missing), then it is at PRE_VERSIONING. Otherwise migration v
 * runs. Either way the version reached is recorded in the transaction.
 */
static int
migrate_step(sqlite3 *db, int v)
{
    const struct migration *m;
    char sql[64];
    int legacy = 0, i, to = v + 1;

    if (v == 0 && !pragma_int(db,
                              "SELECT count(*) FROM sqlite_master"
                              " WHERE type = 'table' AND name = 'subscribers'",
                              &legacy))
        return 0;
    if (legacy)
        to = PRE_VERSIONING;
    for (i = v; i < to; i++) {
        m = &migrations[i];
        if (legacy && m->table != NULL && has_column(db, m->table, m->column))
            continue;
        if (sqlite3_exec(db, m->sql, NULL, NULL, NULL) != SQLITE_OK)
            return 0;
    }
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", to);
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

/*
 * Brings the schema to SCHEMA_VERSION, one migration per transaction. The
 * version is read inside each (BEGIN IMMEDIATE): two processes opening the
 * same file at once do not both run a step. A database from a newer
 * Signet is refused, not guessed at.
 */
static sn_err
migrate(sqlite3 *db, const char *path)
{
    int v = 0, ok;

    /* Up to date (every open but the first of a release): no write lock. */
    if (pragma_int(db, "PRAGMA user_version", &v) && v == SCHEMA_VERSION)
        return SN_OK;
    for (;;) {
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            break;
        if (!pragma_int(db, "PRAGMA user_version", &v))
            break;
        if (v >= SCHEMA_VERSION) {
            ok = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
            if (ok && v == SCHEMA_VERSION)
                return SN_OK;
            if (ok)
                sn_error("store: %s has schema version %d, newer than this"
                         " Signet knows (%d): refusing to open it",
                         path, v, SCHEMA_VERSION);
            return ok ? SN_ERR_STATE : SN_ERR_DB;
        }
        if (!migrate_step(db, v) ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            break;
    }
    sn_error("store: %s: migration to schema version %d: %s", path, v + 1,
             sqlite3_errmsg(db));
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return SN_ERR_DB;
}

static void
store_close(void *be)
{
    struct sq_store *st = be;

    if (st == NULL)
        return;
    sn_sqlite_audit_close(st);
    sn_sqlite_signreq_close(st);
    sqlite3_close(st->db);
    free(st);
}

/*
 * The database holds token hashes and every subscriber's audit: owner
 * only. SQLite creates a database 0644 less the umask and gives its -wal
 * and -shm the database's mode when it creates them, so a database made
 * 0600 right after its open keeps all three 0600 whatever the umask.
 * Files an older signetd left looser are tightened, with a warning. By
 * name, never through a descriptor: closing one would drop the POSIX
 * locks of every connection of this process on the file.
 */
static void
own_only(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm"};
    char p[PATH_MAX];
    struct stat st;
    mode_t m;
    size_t i;

    if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
        return;
    for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
        if (snprintf(p, sizeof(p), "%s%s", path, sfx[i]) >= (int)sizeof(p) ||
            stat(p, &st) != 0 || !S_ISREG(st.st_mode) ||
            (st.st_mode & 077) == 0)
            continue;
        m = st.st_mode & 07777;
        /* A new database (empty) is not news; an existing one is. */
        if (chmod(p, 0600) != 0)
            sn_warn("store: %s is mode %04o and cannot be made 0600: %s", p,
                    (unsigned)m, strerror(errno));
        else if (st.st_size > 0)
            sn_warn("store: %s was mode %04o, now 0600", p, (unsigned)m);
    }
}

static sn_err
store_open(const char *path, void **out)
{
    struct sq_store *st = NULL;
    char *msg = NULL;
    sn_err r = SN_ERR_DB;
    int rc;

    *out = NULL;
    if ((st = calloc(1, sizeof(*st))) == NULL)
        return SN_ERR_NOMEM;
    rc = sqlite3_open_v2(path, &st->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_FULLMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        sn_error("store: cannot open %s: %s", path,
                 st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto out;
    }
    /* Created by now; its -wal and -shm are not, until the first read. */
    own_only(path);
    sqlite3_busy_timeout(st->db, 5000);
    rc = sqlite3_exec(st->db,
                      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                      "PRAGMA foreign_keys=ON;",
                      NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        sn_error("store: %s: %s", path, msg ? msg : "?");
        goto out;
    }
    if ((r = migrate(st->db, path)) != SN_OK)
        goto out;
    if ((r = sn_sqlite_audit_open(st, path)) != SN_OK ||
        (r = sn_sqlite_signreq_open(st, path)) != SN_OK)
        goto out;
    *out = st;
    st = NULL;
    r = SN_OK;
out:
    sqlite3_free(msg);
    store_close(st);
    return r;
}

static sn_err
prepare(struct sq_store *st, const char *sql, sqlite3_stmt **stmt)
{
    return sn_sq_prepare(st, sql, stmt);
}

sn_err
sn_sq_prepare(struct sq_store *st, const char *sql, sqlite3_stmt **stmt)
{
    int rc = sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL);

    if (rc != SQLITE_OK) {
        sn_error("store: prepare: %s", sqlite3_errmsg(st->db));
        return SN_ERR_DB;
    }
    return SN_OK;
}

/* Runs a statement that returns no rows; SN_ERR_NOT_FOUND if it changed
 * nothing and must_change is set. */
static sn_err
finish_write(struct sq_store *st, sqlite3_stmt *stmt, int must_change)
{
    return sn_sq_finish_write(st, stmt, must_change);
}

sn_err
sn_sq_finish_write(struct sq_store *st, sqlite3_stmt *stmt, int must_change)
{
    int rc = sqlite3_step(stmt);
    sn_err r = db_err(rc);

    if (rc != SQLITE_DONE && r == SN_OK)
        r = SN_ERR_DB;
    if (r == SN_ERR_DB)
        sn_error("store: write: %s", sqlite3_errmsg(st->db));
    if (r == SN_OK && must_change && sqlite3_changes(st->db) == 0)
        r = SN_ERR_NOT_FOUND;
    sqlite3_finalize(stmt);
    return r;
}

static void
col_text(sqlite3_stmt *s, int i, char *dst, size_t dstlen)
{
    sn_sq_col_text(s, i, dst, dstlen);
}

void
sn_sq_col_text(sqlite3_stmt *s, int i, char *dst, size_t dstlen)
{
    const unsigned char *t = sqlite3_column_text(s, i);

    snprintf(dst, dstlen, "%s", t ? (const char *)t : "");
}

void
sn_sq_read_audit(sqlite3_stmt *s, int c, struct sn_audit *a)
{
    memset(a, 0, sizeof(*a));
    a->id = sqlite3_column_int64(s, c);
    a->time = (time_t)sqlite3_column_int64(s, c + 1);
    sn_sq_col_text(s, c + 2, a->subscriber, sizeof(a->subscriber));
    sn_sq_col_text(s, c + 3, a->key, sizeof(a->key));
    sn_sq_col_text(s, c + 4, a->token, sizeof(a->token));
    sn_sq_col_text(s, c + 5, a->client, sizeof(a->client));
    sn_sq_col_text(s, c + 6, a->action, sizeof(a->action));
    sn_sq_col_text(s, c + 7, a->digest_alg, sizeof(a->digest_alg));
    sn_sq_col_text(s, c + 8, a->digest, sizeof(a->digest));
    sn_sq_col_text(s, c + 9, a->scheme, sizeof(a->scheme));
    sn_sq_col_text(s, c + 10, a->result, sizeof(a->result));
    sn_sq_col_text(s, c + 11, a->detail, sizeof(a->detail));
    sn_sq_col_text(s, c + 12, a->policy, sizeof(a->policy));
    sn_sq_col_text(s, c + 13, a->principal, sizeof(a->principal));
    sn_sq_col_text(s, c + 14, a->sig_sha256, sizeof(a->sig_sha256));
    sn_sq_col_text(s, c + 15, a->digest_salt, sizeof(a->digest_salt));
    a->log_index = sqlite3_column_type(s, c + 16) == SQLITE_NULL
                       ? -1
                       : sqlite3_column_int64(s, c + 16);
}

static int
rc_row(sqlite3_stmt *s)
{
    return sqlite3_step(s) == SQLITE_ROW;
}

static sn_err
ping(void *be)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st, "SELECT count(*) FROM subscribers", &s)) != SN_OK)
        return r;
    r = sqlite3_step(s) == SQLITE_ROW ? SN_OK : SN_ERR_DB;
    sqlite3_finalize(s);
    return r;
}

/* ---- subscribers ---- */

static sn_err
subscriber_add(void *be, const struct sn_subscriber *sub)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st,
                     "INSERT INTO subscribers (id, name, token_label,"
                     " created_at) VALUES (?, ?, ?, ?)",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, sub->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, sub->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, sub->token_label, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, sub->created_at);
    return finish_write(st, s, 0);
}

static void
row_subscriber(sqlite3_stmt *s, struct sn_subscriber *out)
{
    memset(out, 0, sizeof(*out));
    col_text(s, 0, out->id, sizeof(out->id));
    col_text(s, 1, out->name, sizeof(out->name));
    col_text(s, 2, out->token_label, sizeof(out->token_label));
    out->created_at = (time_t)sqlite3_column_int64(s, 3);
}

static sn_err
subscriber_where(struct sq_store *st, const char *sql, const char *arg,
                 struct sn_subscriber *out)
{
    sqlite3_stmt *s = NULL;
    sn_err r;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((r = prepare(st, sql, &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        row_subscriber(s, out);
        r = SN_OK;
    } else
        r = rc == SQLITE_DONE ? SN_ERR_NOT_FOUND : SN_ERR_DB;
    sqlite3_finalize(s);
    return r;
}

#define SUB_COLS "id, name, token_label, created_at"

static sn_err
subscriber_get(void *be, const char *id, struct sn_subscriber *out)
{
    struct sq_store *st = be;
    return subscriber_where(
        st, "SELECT " SUB_COLS " FROM subscribers WHERE id = ?", id, out);
}

static sn_err
subscriber_by_name(void *be, const char *name, struct sn_subscriber *out)
{
    struct sq_store *st = be;
    return subscriber_where(
        st, "SELECT " SUB_COLS " FROM subscribers WHERE name = ?", name, out);
}

/*
 * Steps s to its end, filling one element of elem bytes per row with fill
 * into a growing array. On success *arr holds *n elements (caller frees
 * each with clean, then the array); on failure nothing is returned.
 */
static sn_err
collect(sqlite3_stmt *s, size_t elem, sn_err (*fill)(sqlite3_stmt *, void *),
        void (*clean)(void *), void **arr, size_t *n)
{
    char *a = NULL, *tmp;
    size_t cnt = 0, cap = 0, i;
    sn_err r = SN_OK;
    int rc;

    *arr = NULL;
    *n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            if ((tmp = realloc(a, cap * elem)) == NULL) {
                r = SN_ERR_NOMEM;
                break;
            }
            a = tmp;
        }
        if ((r = fill(s, a + cnt * elem)) != SN_OK)
            break;
        cnt++;
    }
    if (r == SN_OK && rc != SQLITE_DONE)
        r = SN_ERR_DB;
    if (r != SN_OK) {
        for (i = 0; clean != NULL && i < cnt; i++)
            clean(a + i * elem);
        free(a);
        return r;
    }
    *arr = a;
    *n = cnt;
    return SN_OK;
}

static sn_err
fill_subscriber(sqlite3_stmt *s, void *out)
{
    row_subscriber(s, out);
    return SN_OK;
}

static sn_err
subscriber_list(void *be, struct sn_subscriber **out, size_t *n)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    void *arr = NULL;
    sn_err r;

    *out = NULL;
    *n = 0;
    if ((r = prepare(st,
                     "SELECT " SUB_COLS
                     " FROM subscribers ORDER BY created_at, name",
                     &s)) != SN_OK)
        return r;
    r = collect(s, sizeof(**out), fill_subscriber, NULL, &arr, n);
    *out = arr;
    sqlite3_finalize(s);
    return r;
}

/* ---- tokens ---- */

static sn_err
token_add(void *be, const struct sn_token *t)
{
    struct sq_store *st = be;
    char keys[SN_TOKEN_MAX_KEYS * SN_UUID_LEN + 1];
    sqlite3_stmt *s = NULL;
    size_t i, off = 0;
    sn_err r;

    keys[0] = '\0';
    if (t->nkeys > SN_TOKEN_MAX_KEYS)
        return SN_ERR_INVALID;
    for (i = 0; i < t->nkeys; i++)
        off += (size_t)snprintf(keys + off, sizeof(keys) - off, "%s%s",
                                i ? " " : "", t->keys[i]);
    if ((r = prepare(st,
                     "INSERT INTO tokens (id, subscriber_id, admin, name,"
                     " hash, roles, keys, expires_at, created_at,"
                     " revoked_at, auth_method, via, proof, mfa,"
                     " idle_timeout, last_used)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
    if (t->admin)
        sqlite3_bind_null(s, 2);
    else
        sqlite3_bind_text(s, 2, t->subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, t->admin ? 1 : 0);
    sqlite3_bind_text(s, 4, t->name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, t->hash, SN_TOKEN_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int(s, 6, (int)t->roles);
    sqlite3_bind_text(s, 7, keys, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 8, t->expires_at);
    sqlite3_bind_int64(s, 9, t->created_at);
    sqlite3_bind_int(s, 10, t->auth_method);
    sqlite3_bind_text(s, 11, t->via, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 12, t->proof, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 13, t->mfa ? 1 : 0);
    sqlite3_bind_int64(s, 14, t->idle_timeout);
    sqlite3_bind_int64(s, 15, t->last_used);
    return finish_write(st, s, 0);
}

static void
split_keys(const char *keys, struct sn_token *t)
{
    const char *p = keys;
    size_t len;

    t->nkeys = 0;
    while (*p != '\0' && t->nkeys < SN_TOKEN_MAX_KEYS) {
        while (*p == ' ')
            p++;
        len = strcspn(p, " ");
        if (len == 0)
            break;
        if (len < SN_UUID_LEN) {
            memcpy(t->keys[t->nkeys], p, len);
            t->keys[t->nkeys][len] = '\0';
            t->nkeys++;
        }
        p += len;
    }
}

static sn_err
token_get(void *be, const char *id, struct sn_token *out)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    const unsigned char *keys;
    sn_err r;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((r = prepare(st,
                     "SELECT id, subscriber_id, admin, name, hash, roles,"
                     " keys, expires_at, created_at, revoked_at,"
                     " auth_method, via, proof, mfa, idle_timeout,"
                     " last_used FROM tokens WHERE id = ?",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        r = rc == SQLITE_DONE ? SN_ERR_NOT_FOUND : SN_ERR_DB;
        goto out;
    }
    if (sqlite3_column_bytes(s, 4) != SN_TOKEN_HASH_LEN) {
        r = SN_ERR_DB;
        goto out;
    }
    col_text(s, 0, out->id, sizeof(out->id));
    col_text(s, 1, out->subscriber, sizeof(out->subscriber));
    out->admin = sqlite3_column_int(s, 2) != 0;
    col_text(s, 3, out->name, sizeof(out->name));
    memcpy(out->hash, sqlite3_column_blob(s, 4), SN_TOKEN_HASH_LEN);
    out->roles = (unsigned)sqlite3_column_int(s, 5);
    keys = sqlite3_column_text(s, 6);
    split_keys(keys ? (const char *)keys : "", out);
    out->expires_at = (time_t)sqlite3_column_int64(s, 7);
    out->created_at = (time_t)sqlite3_column_int64(s, 8);
    out->revoked_at = (time_t)sqlite3_column_int64(s, 9);
    out->auth_method = sqlite3_column_int(s, 10);
    col_text(s, 11, out->via, sizeof(out->via));
    col_text(s, 12, out->proof, sizeof(out->proof));
    out->mfa = sqlite3_column_int(s, 13) != 0;
    out->idle_timeout = (unsigned)sqlite3_column_int64(s, 14);
    out->last_used = (time_t)sqlite3_column_int64(s, 15);
    r = SN_OK;
out:
    sqlite3_finalize(s);
    return r;
}

static sn_err
token_revoke(void *be, const char *id, time_t when)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st,
                     "UPDATE tokens SET revoked_at = ? WHERE id = ?"
                     " AND revoked_at = 0",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_int64(s, 1, when);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    return finish_write(st, s, 1);
}

/* ---- client certificates ---- */

/* "id id id": the same form as a token's keys. */
static void
join_keys(const char (*keys)[SN_UUID_LEN], size_t n, char *out, size_t outlen)
{
    size_t i, off = 0;

    out[0] = '\0';
    for (i = 0; i < n && off < outlen; i++)
        off += (size_t)snprintf(out + off, outlen - off, "%s%s", i ? " " : "",
                                keys[i]);
}

static sn_err
clientcert_add(void *be, const struct sn_clientcert *c)
{
    struct sq_store *st = be;
    char keys[SN_TOKEN_MAX_KEYS * SN_UUID_LEN + 1];
    sqlite3_stmt *s = NULL;
    sn_err r;

    if (c->nkeys > SN_TOKEN_MAX_KEYS || c->pem == NULL)
        return SN_ERR_INVALID;
    join_keys(c->keys, c->nkeys, keys, sizeof(keys));
    if ((r = prepare(st,
                     "INSERT INTO client_certs (id, subscriber_id, name,"
                     " kind, match, fingerprint, pem, rules, roles, keys,"
                     " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, c->subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, c->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, (int)c->kind);
    sqlite3_bind_text(s, 5, c->match, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, c->fingerprint, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, c->pem, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, c->rules, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 9, (int)c->roles);
    sqlite3_bind_text(s, 10, keys, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 11, c->created_at);
    return finish_write(st, s, 0);
}

#define CC_COLS                                                                \
    "id, subscriber_id, name, kind, match, fingerprint, pem, rules, roles,"    \
    " keys, created_at"

static sn_err
row_clientcert(sqlite3_stmt *s, void *p)
{
    struct sn_clientcert *out = p;
    struct sn_token scope;
    const unsigned char *t;

    memset(out, 0, sizeof(*out));
    col_text(s, 0, out->id, sizeof(out->id));
    col_text(s, 1, out->subscriber, sizeof(out->subscriber));
    col_text(s, 2, out->name, sizeof(out->name));
    out->kind = (enum sn_clientcert_kind)sqlite3_column_int(s, 3);
    col_text(s, 4, out->match, sizeof(out->match));
    col_text(s, 5, out->fingerprint, sizeof(out->fingerprint));
    t = sqlite3_column_text(s, 6);
    if ((out->pem = strdup(t ? (const char *)t : "")) == NULL)
        return SN_ERR_NOMEM;
    col_text(s, 7, out->rules, sizeof(out->rules));
    out->roles = (unsigned)sqlite3_column_int(s, 8);
    t = sqlite3_column_text(s, 9);
    memset(&scope, 0, sizeof(scope));
    split_keys(t ? (const char *)t : "", &scope);
    memcpy(out->keys, scope.keys, sizeof(out->keys));
    out->nkeys = scope.nkeys;
    out->created_at = (time_t)sqlite3_column_int64(s, 10);
    return SN_OK;
}

static void
clean_clientcert(void *c)
{
    sn_clientcert_cleanup(c);
}

static sn_err
clientcert_get(void *be, const char *id, struct sn_clientcert *out)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((r = prepare(st, "SELECT " CC_COLS " FROM client_certs WHERE id = ?",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        r = row_clientcert(s, out);
    else
        r = rc == SQLITE_DONE ? SN_ERR_NOT_FOUND : SN_ERR_DB;
    if (r != SN_OK)
        sn_clientcert_cleanup(out);
    sqlite3_finalize(s);
    return r;
}

/* The rows of sql (one text parameter), oldest first. */
static sn_err
clientcert_where(struct sq_store *st, const char *sql, const char *arg,
                 struct sn_clientcert **out, size_t *n)
{
    sqlite3_stmt *s = NULL;
    void *arr = NULL;
    sn_err r;

    *out = NULL;
    *n = 0;
    if ((r = prepare(st, sql, &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
    r = collect(s, sizeof(**out), row_clientcert, clean_clientcert, &arr, n);
    *out = arr;
    sqlite3_finalize(s);
    return r;
}

static sn_err
clientcert_list(void *be, const char *subscriber, struct sn_clientcert **out,
                size_t *n)
{
    return clientcert_where(
        be,
        "SELECT " CC_COLS " FROM client_certs"
        " WHERE subscriber_id = ? ORDER BY created_at, rowid",
        subscriber, out, n);
}

static sn_err
clientcert_find(void *be, const char *match, struct sn_clientcert **out,
                size_t *n)
{
    return clientcert_where(be,
                            "SELECT " CC_COLS " FROM client_certs"
                            " WHERE match = ? ORDER BY created_at, rowid",
                            match, out, n);
}

static sn_err
clientcert_delete(void *be, const char *id)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st, "DELETE FROM client_certs WHERE id = ?", &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    return finish_write(st, s, 1);
}

/* ---- keys ---- */

static int
facts_pack(const struct sn_key_facts *f)
{
    return (f->local ? 1 : 0) | (f->never_extractable ? 2 : 0) |
           (f->always_sensitive ? 4 : 0) | (f->extractable ? 8 : 0) |
           (f->sensitive ? 16 : 0);
}

static void
facts_unpack(int v, struct sn_key_facts *f)
{
    f->local = (v & 1) != 0;
    f->never_extractable = (v & 2) != 0;
    f->always_sensitive = (v & 4) != 0;
    f->extractable = (v & 8) != 0;
    f->sensitive = (v & 16) != 0;
}

static sn_err
key_add(void *be, const struct sn_key *k)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st,
                     "INSERT INTO keys (id, subscriber_id, label, algorithm,"
                     " state, created_at, spki, facts, hsm_manufacturer,"
                     " hsm_model, hsm_serial, hsm_label, cert_pem,"
                     " attestation_pem)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, k->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, k->subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, k->label, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, (int)k->alg);
    sqlite3_bind_int(s, 5, (int)k->state);
    sqlite3_bind_int64(s, 6, k->created_at);
    sqlite3_bind_blob(s, 7, k->spki, (int)k->spki_len, SQLITE_STATIC);
    sqlite3_bind_int(s, 8, facts_pack(&k->facts));
    sqlite3_bind_text(s, 9, k->hsm.manufacturer, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 10, k->hsm.model, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 11, k->hsm.serial, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 12, k->hsm.label, -1, SQLITE_STATIC);
    if (k->att_pem != NULL)
        sqlite3_bind_text(s, 13, k->att_pem, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 13);
    return finish_write(st, s, 0);
}

#define KEY_COLS                                                               \
    "id, subscriber_id, label, algorithm, state, created_at, spki, facts,"     \
    " hsm_manufacturer, hsm_model, hsm_serial, hsm_label, cert_pem,"           \
    " attestation_pem"

static sn_err
row_key(sqlite3_stmt *s, struct sn_key *k)
{
    const unsigned char *pem;
    int len;

    memset(k, 0, sizeof(*k));
    col_text(s, 0, k->id, sizeof(k->id));
    col_text(s, 1, k->subscriber, sizeof(k->subscriber));
    col_text(s, 2, k->label, sizeof(k->label));
    k->alg = (enum sn_keyalg)sqlite3_column_int(s, 3);
    k->state = (enum sn_key_state)sqlite3_column_int(s, 4);
    k->created_at = (time_t)sqlite3_column_int64(s, 5);
    len = sqlite3_column_bytes(s, 6);
    if (len <= 0 || (k->spki = malloc((size_t)len)) == NULL)
        return SN_ERR_NOMEM;
    memcpy(k->spki, sqlite3_column_blob(s, 6), (size_t)len);
    k->spki_len = (size_t)len;
    facts_unpack(sqlite3_column_int(s, 7), &k->facts);
    col_text(s, 8, k->hsm.manufacturer, sizeof(k->hsm.manufacturer));
    col_text(s, 9, k->hsm.model, sizeof(k->hsm.model));
    col_text(s, 10, k->hsm.serial, sizeof(k->hsm.serial));
    col_text(s, 11, k->hsm.label, sizeof(k->hsm.label));
    if ((pem = sqlite3_column_text(s, 12)) != NULL &&
        (k->cert_pem = strdup((const char *)pem)) == NULL) {
        sn_key_cleanup(k);
        return SN_ERR_NOMEM;
    }
    if ((pem = sqlite3_column_text(s, 13)) != NULL &&
        (k->att_pem = strdup((const char *)pem)) == NULL) {
        sn_key_cleanup(k);
        return SN_ERR_NOMEM;
    }
    return SN_OK;
}

static sn_err
key_get(void *be, const char *id, struct sn_key *out)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((r = prepare(st, "SELECT " KEY_COLS " FROM keys WHERE id = ?", &s)) !=
        SN_OK)
        return r;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        r = row_key(s, out);
    else
        r = rc == SQLITE_DONE ? SN_ERR_NOT_FOUND : SN_ERR_DB;
    sqlite3_finalize(s);
    return r;
}

static sn_err
fill_key(sqlite3_stmt *s, void *out)
{
    return row_key(s, out);
}

static void
clean_key(void *k)
{
    sn_key_cleanup(k);
}

static sn_err
key_list(void *be, const char *subscriber, struct sn_key **out, size_t *n)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    void *arr = NULL;
    sn_err r;

    *out = NULL;
    *n = 0;
    if ((r = prepare(st,
                     "SELECT " KEY_COLS " FROM keys WHERE subscriber_id = ?"
                     " ORDER BY created_at, id",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, subscriber, -1, SQLITE_STATIC);
    r = collect(s, sizeof(**out), fill_key, clean_key, &arr, n);
    *out = arr;
    sqlite3_finalize(s);
    return r;
}

static sn_err
key_transition(void *be, const char *id, unsigned from, enum sn_key_state to)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    /* One statement: the check and the change cannot be split by another
     * request (an enable racing a destroy or a compromise revocation). A
     * compromised key: a certificate revoked for keyCompromise, or a key
     * named in a confirmed report (it may have no certificate of ours). */
    if ((r = prepare(st,
                     "UPDATE keys SET state = ?1 WHERE id = ?2"
                     " AND ((1 << state) & ?3) != 0"
                     " AND (?1 != 0 OR (NOT EXISTS (SELECT 1 FROM certificates"
                     " WHERE revoked = 1 AND reason = 1 AND (key_id = ?2"
                     " OR spki = keys.spki))"
                     " AND NOT EXISTS (SELECT 1 FROM report_keys rk"
                     " JOIN reports rp ON rp.id = rk.report_id"
                     " JOIN keys k2 ON k2.id = rk.key_id"
                     " WHERE rp.state = 'confirmed'"
                     " AND (rk.key_id = ?2 OR k2.spki = keys.spki))))",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_int(s, 1, (int)to);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, (int)from);
    r = finish_write(st, s, 1);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_STATE : r;
}

static sn_err
key_set_cert(void *be, const char *id, const char *pem)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st, "UPDATE keys SET cert_pem = ? WHERE id = ?", &s)) !=
        SN_OK)
        return r;
    sqlite3_bind_text(s, 1, pem, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    return finish_write(st, s, 1);
}

/* ---- audit ---- */

/* Both orders read the (subscriber_id, id) range the same way; the
 * statement differs only in its ORDER BY, which cannot be a parameter. */
#define AUDIT_SELECT                                                           \
    "SELECT id, time, subscriber_id, key_id, token_id,"                        \
    " client, action, digest_algorithm, digest, scheme,"                       \
    " result, detail, policy, principal, sig_sha256, digest_salt,"             \
    " log_index FROM audit"                                                    \
    " WHERE subscriber_id = ?"                                                 \
    " AND (?2 = '' OR key_id = ?2) AND id > ?3 AND (?4 = 0 OR id < ?4)"

static sn_err
audit_list(void *be, const char *subscriber, const char *key,
           const struct sn_audit_page *pg, struct sn_audit **out, size_t *n)
{
    struct sq_store *st = be;
    struct sn_audit *arr = NULL;
    sqlite3_stmt *s = NULL;
    size_t cnt = 0, limit = pg->limit;
    sn_err r;
    int rc;

    *out = NULL;
    *n = 0;
    if (limit == 0 || limit > 1000 || pg->after < 0 || pg->before < 0)
        return SN_ERR_INVALID;
    if ((arr = calloc(limit, sizeof(*arr))) == NULL)
        return SN_ERR_NOMEM;
    if ((r = prepare(st,
                     pg->newest_first ? AUDIT_SELECT
                         " ORDER BY id DESC LIMIT ?5"
                                      : AUDIT_SELECT " ORDER BY id LIMIT ?5",
                     &s)) != SN_OK)
        goto out;
    sqlite3_bind_text(s, 1, subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key ? key : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, pg->after);
    sqlite3_bind_int64(s, 4, pg->before);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)limit);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && cnt < limit) {
        sn_sq_read_audit(s, 0, &arr[cnt++]);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        r = SN_ERR_DB;
        goto out;
    }
    *out = arr;
    *n = cnt;
    arr = NULL;
    r = SN_OK;
out:
    free(arr);
    sqlite3_finalize(s);
    return r;
}

/* ---- identity ---- */

static sn_err
identity_set(void *be, const char *subscriber, const char *json)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st, "UPDATE subscribers SET identity = ? WHERE id = ?",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, subscriber, -1, SQLITE_STATIC);
    return finish_write(st, s, 1);
}

static sn_err
identity_get(void *be, const char *subscriber, char **json)
{
    struct sq_store *st = be;
    const unsigned char *t;
    sqlite3_stmt *s = NULL;
    sn_err r;

    *json = NULL;
    if ((r = prepare(st, "SELECT identity FROM subscribers WHERE id = ?",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, subscriber, -1, SQLITE_STATIC);
    r = SN_ERR_NOT_FOUND;
    if (sqlite3_step(s) == SQLITE_ROW &&
        (t = sqlite3_column_text(s, 0)) != NULL)
        r = (*json = strdup((const char *)t)) ? SN_OK : SN_ERR_NOMEM;
    sqlite3_finalize(s);
    return r;
}

/* ---- signing policies (issue 16) ---- */

static sn_err
policy_set(void *be, const char *target, const char *subscriber,
           const char *json)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st,
                     "INSERT INTO signing_policies (target, subscriber_id,"
                     " policy, updated_at) VALUES (?, ?, ?, ?)"
                     " ON CONFLICT(target) DO UPDATE SET"
                     " policy = excluded.policy,"
                     " updated_at = excluded.updated_at",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, json, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
    return finish_write(st, s, 1);
}

static sn_err
policy_get(void *be, const char *target, char **json)
{
    struct sq_store *st = be;
    const unsigned char *t;
    sqlite3_stmt *s = NULL;
    sn_err r;

    *json = NULL;
    if ((r = prepare(st, "SELECT policy FROM signing_policies WHERE target = ?",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
    r = SN_ERR_NOT_FOUND;
    if (rc_row(s) && (t = sqlite3_column_text(s, 0)) != NULL)
        r = (*json = strdup((const char *)t)) ? SN_OK : SN_ERR_NOMEM;
    sqlite3_finalize(s);
    return r;
}

static sn_err
policy_delete(void *be, const char *target)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st, "DELETE FROM signing_policies WHERE target = ?",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
    return finish_write(st, s, 1);
}

static sn_err
sign_count(void *be, const char *key, time_t since, uint64_t *out)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    *out = 0;
    if ((r = prepare(st,
                     "SELECT COUNT(*) FROM audit WHERE key_id = ? AND time >= ?"
                     " AND result = 'ok' AND action IN ('sign', 'sign_file')",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)since);
    r = SN_ERR_DB;
    if (rc_row(s)) {
        *out = (uint64_t)sqlite3_column_int64(s, 0);
        r = SN_OK;
    }
    sqlite3_finalize(s);
    return r;
}

/* ---- certificates ---- */

#define CERT_COLS                                                              \
    "serial, ca, subscriber_id, key_id, profile, der, not_before, not_after,"  \
    " issued_at, revoked, revocation_date, reason, revoked_at"

static sn_err
row_cert(sqlite3_stmt *s, struct sn_cert *c)
{
    int len;

    memset(c, 0, sizeof(*c));
    col_text(s, 0, c->serial, sizeof(c->serial));
    col_text(s, 1, c->ca, sizeof(c->ca));
    col_text(s, 2, c->subscriber, sizeof(c->subscriber));
    col_text(s, 3, c->key, sizeof(c->key));
    col_text(s, 4, c->profile, sizeof(c->profile));
    len = sqlite3_column_bytes(s, 5);
    if (len <= 0 || (c->der = malloc((size_t)len)) == NULL)
        return SN_ERR_NOMEM;
    memcpy(c->der, sqlite3_column_blob(s, 5), (size_t)len);
    c->der_len = (size_t)len;
    c->not_before = (time_t)sqlite3_column_int64(s, 6);
    c->not_after = (time_t)sqlite3_column_int64(s, 7);
    c->issued_at = (time_t)sqlite3_column_int64(s, 8);
    c->revoked = sqlite3_column_int(s, 9);
    c->revocation_date = (time_t)sqlite3_column_int64(s, 10);
    c->reason = sqlite3_column_int(s, 11);
    c->revoked_at = (time_t)sqlite3_column_int64(s, 12);
    return SN_OK;
}

static sn_err
cert_add(void *be, const struct sn_cert *c)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st,
                     "INSERT INTO certificates (serial, ca, subscriber_id,"
                     " key_id, profile, der, not_before, not_after,"
                     " issued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, c->serial, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, c->ca, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, c->subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, c->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, c->profile, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 6, c->der, (int)c->der_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, c->not_before);
    sqlite3_bind_int64(s, 8, c->not_after);
    sqlite3_bind_int64(s, 9, c->issued_at);
    return finish_write(st, s, 0);
}

static sn_err
cert_get(void *be, const char *ca, const char *serial, struct sn_cert *out)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((r = prepare(st,
                     "SELECT " CERT_COLS " FROM certificates WHERE serial = ?"
                     " AND (?2 IS NULL OR ca = ?2)",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, serial, -1, SQLITE_STATIC);
    if (ca != NULL)
        sqlite3_bind_text(s, 2, ca, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 2);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        r = row_cert(s, out);
    else
        r = rc == SQLITE_DONE ? SN_ERR_NOT_FOUND : SN_ERR_DB;
    sqlite3_finalize(s);
    return r;
}

/* The newest live certificate of a profile from a CA (the TSA's own, for
 * nodes that follow another's rotation). */
/* ---- sealed token PINs ---- */

static sn_err
pin_put(void *be, const char *subscriber, const uint8_t *sealed, size_t len)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if (len > INT_MAX)
        return SN_ERR_INVALID;
    if ((r = prepare(st,
                     "INSERT INTO token_pins (subscriber_id, sealed)"
                     " VALUES (?, ?) ON CONFLICT(subscriber_id)"
                     " DO UPDATE SET sealed = excluded.sealed",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, sealed, (int)len, SQLITE_STATIC);
    return finish_write(st, s, 0);
}

static sn_err
pin_get(void *be, const char *subscriber, uint8_t **sealed, size_t *len)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;
    int rc, n;

    *sealed = NULL;
    *len = 0;
    if ((r = prepare(st,
                     "SELECT sealed FROM token_pins WHERE subscriber_id = ?",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, subscriber, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    r = rc == SQLITE_DONE ? SN_ERR_NOT_FOUND : SN_ERR_DB;
    if (rc == SQLITE_ROW && (n = sqlite3_column_bytes(s, 0)) > 0) {
        r = (*sealed = malloc((size_t)n)) != NULL ? SN_OK : SN_ERR_NOMEM;
        if (r == SN_OK) {
            memcpy(*sealed, sqlite3_column_blob(s, 0), (size_t)n);
            *len = (size_t)n;
        }
    }
    sqlite3_finalize(s);
    return r;
}

static sn_err
cert_latest(void *be, const char *ca, const char *profile, struct sn_cert *out)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((r = prepare(st,
                     "SELECT " CERT_COLS " FROM certificates WHERE ca = ?"
                     " AND profile = ? AND revoked = 0"
                     " ORDER BY issued_at DESC, rowid DESC LIMIT 1",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, ca, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, profile, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        r = row_cert(s, out);
    else
        r = rc == SQLITE_DONE ? SN_ERR_NOT_FOUND : SN_ERR_DB;
    sqlite3_finalize(s);
    return r;
}

static sn_err
cert_revoke(void *be, const char *serial, time_t revocation_date, int reason,
            time_t revoked_at)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    /* Only a certificate not yet revoked: a revocation recorded in the
     * meantime (a key compromise) is never overwritten. */
    if ((r = prepare(st,
                     "UPDATE certificates SET revoked = 1,"
                     " revocation_date = ?, reason = ?, revoked_at = ?"
                     " WHERE serial = ? AND revoked = 0",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_int64(s, 1, revocation_date);
    sqlite3_bind_int(s, 2, reason);
    sqlite3_bind_int64(s, 3, revoked_at);
    sqlite3_bind_text(s, 4, serial, -1, SQLITE_STATIC);
    r = finish_write(st, s, 1);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_STATE : r;
}

static sn_err
cert_compromise(void *be, const uint8_t *spki, size_t spki_len,
                time_t revocation_date, time_t revoked_at)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if (spki_len == 0 || spki_len > INT_MAX)
        return SN_ERR_INVALID;
    /* One statement, so every certificate of the key moves together. A
     * certificate revoked for another reason at or before the date keeps
     * its revocation (it is never moved later by a change of reason). */
    if ((r = prepare(st,
                     "UPDATE certificates SET revocation_date = ?2,"
                     " revoked_at = CASE WHEN revoked = 1 THEN revoked_at"
                     " ELSE ?3 END,"
                     " revoked = 1, reason = 1 WHERE spki = ?1"
                     " AND NOT (revoked = 1 AND reason != 1"
                     " AND revocation_date <= ?2)",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_blob(s, 1, spki, (int)spki_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, revocation_date);
    sqlite3_bind_int64(s, 3, revoked_at);
    return finish_write(st, s, 1);
}

static sn_err
cert_set_spki(void *be, const char *serial, const uint8_t *spki,
              size_t spki_len)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if (spki_len == 0 || spki_len > INT_MAX)
        return SN_ERR_INVALID;
    if ((r = prepare(st,
                     "UPDATE certificates SET spki = ? WHERE serial = ?"
                     " AND spki IS NULL",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_blob(s, 1, spki, (int)spki_len, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, serial, -1, SQLITE_STATIC);
    return finish_write(st, s, 0);
}

static sn_err
fill_cert(sqlite3_stmt *s, void *out)
{
    return row_cert(s, out);
}

static void
clean_cert(void *c)
{
    sn_cert_cleanup(c);
}

static sn_err
cert_revoked(void *be, const char *ca, struct sn_cert **out, size_t *n)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    void *arr = NULL;
    sn_err r;

    *out = NULL;
    *n = 0;
    if ((r = prepare(st,
                     "SELECT " CERT_COLS " FROM certificates WHERE ca = ?"
                     " AND revoked = 1 ORDER BY serial",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, ca, -1, SQLITE_STATIC);
    r = collect(s, sizeof(**out), fill_cert, clean_cert, &arr, n);
    *out = arr;
    sqlite3_finalize(s);
    return r;
}

static sn_err
cert_by_spki(void *be, const uint8_t *spki, size_t spki_len,
             struct sn_cert **out, size_t *n)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    void *arr = NULL;
    sn_err r;

    *out = NULL;
    *n = 0;
    if (spki_len == 0 || spki_len > INT_MAX)
        return SN_ERR_INVALID;
    if ((r = prepare(st,
                     "SELECT " CERT_COLS " FROM certificates WHERE spki = ?"
                     " ORDER BY serial",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_blob(s, 1, spki, (int)spki_len, SQLITE_STATIC);
    r = collect(s, sizeof(**out), fill_cert, clean_cert, &arr, n);
    *out = arr;
    sqlite3_finalize(s);
    return r;
}

static sn_err
cert_unindexed(void *be, const char *after, size_t limit, struct sn_cert **out,
               size_t *n)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    void *arr = NULL;
    sn_err r;

    *out = NULL;
    *n = 0;
    if (limit == 0 || limit > INT_MAX)
        return SN_ERR_INVALID;
    if ((r = prepare(st,
                     "SELECT " CERT_COLS " FROM certificates WHERE spki IS NULL"
                     " AND serial > ? ORDER BY serial LIMIT ?",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, after, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, (int)limit);
    r = collect(s, sizeof(**out), fill_cert, clean_cert, &arr, n);
    *out = arr;
    sqlite3_finalize(s);
    return r;
}

static int
key_compromised(void *be, const char *key)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    int found;

    if (prepare(st,
                "SELECT 1 FROM certificates WHERE revoked = 1 AND reason = 1"
                " AND (key_id = ?1 OR spki = (SELECT spki FROM keys"
                " WHERE id = ?1))"
                " UNION ALL SELECT 1 FROM report_keys rk"
                " JOIN reports rp ON rp.id = rk.report_id"
                " JOIN keys k2 ON k2.id = rk.key_id"
                " WHERE rp.state = 'confirmed' AND (rk.key_id = ?1"
                " OR k2.spki = (SELECT spki FROM keys WHERE id = ?1))"
                " LIMIT 1",
                &s) != SN_OK)
        return 1; /* fail closed */
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    found = sqlite3_step(s) != SQLITE_DONE;
    sqlite3_finalize(s);
    return found;
}

/* ---- CRLs ---- */

static sn_err
crl_get(void *be, const char *ca, uint8_t **der, size_t *len, int64_t *number,
        time_t *this_update)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;
    int n;

    *der = NULL;
    *len = 0;
    *number = 0;
    *this_update = 0;
    if ((r = prepare(st,
                     "SELECT number, this_update, der FROM crls WHERE ca = ?",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, ca, -1, SQLITE_STATIC);
    r = SN_ERR_NOT_FOUND;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *number = sqlite3_column_int64(s, 0);
        *this_update = (time_t)sqlite3_column_int64(s, 1);
        n = sqlite3_column_bytes(s, 2);
        if (n > 0 && (*der = malloc((size_t)n)) != NULL) {
            memcpy(*der, sqlite3_column_blob(s, 2), (size_t)n);
            *len = (size_t)n;
            r = SN_OK;
        } else
            r = n > 0 ? SN_ERR_NOMEM : SN_ERR_NOT_FOUND;
    }
    sqlite3_finalize(s);
    return r;
}

static sn_err
crl_put(void *be, const char *ca, int64_t number, time_t this_update,
        const uint8_t *der, size_t len)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st,
                     "INSERT INTO crls (ca, number, this_update, der)"
                     " VALUES (?, ?, ?, ?) ON CONFLICT(ca) DO UPDATE SET"
                     " number = excluded.number,"
                     " this_update = excluded.this_update,"
                     " der = excluded.der WHERE excluded.number > number",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, ca, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, number);
    sqlite3_bind_int64(s, 3, this_update);
    sqlite3_bind_blob(s, 4, der, (int)len, SQLITE_STATIC);
    return finish_write(st, s, 0);
}

/* ---- counters and TSA tokens ---- */

static sn_err
counter_next(void *be, const char *name, int64_t *out)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    *out = 0;
    if ((r = prepare(st,
                     "INSERT INTO counters (name, value) VALUES (?, 1)"
                     " ON CONFLICT(name) DO UPDATE SET value = value + 1"
                     " RETURNING value",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    r = SN_ERR_DB;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        r = SN_OK;
    }
    sqlite3_finalize(s);
    return r;
}

/* One count; *n is set only on success. */
static sn_err
count_of(struct sq_store *st, const char *sql, const char *subscriber,
         int64_t arg, uint64_t *n)
{
    sqlite3_stmt *s;
    sn_err r;

    if ((r = prepare(st, sql, &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, arg);
    r = SN_ERR_DB;
    if (sqlite3_step(s) == SQLITE_ROW) {
        *n = (uint64_t)sqlite3_column_int64(s, 0);
        r = SN_OK;
    }
    sqlite3_finalize(s);
    return r;
}

/* The certificates scan has no index by subscriber: issuance is rare and
 * signs in the HSM anyway. */
static sn_err
usage(void *be, const char *subscriber, time_t since, struct sn_usage *out)
{
    struct sn_usage u = {0};
    sn_err r;

    if ((r = count_of(be,
                      "SELECT COUNT(*) FROM keys WHERE subscriber_id = ?"
                      " AND state != ?",
                      subscriber, SN_KEY_DESTROYED, &u.keys)) != SN_OK ||
        (r = count_of(be,
                      "SELECT COUNT(*) FROM certificates"
                      " WHERE subscriber_id = ? AND issued_at >= ?",
                      subscriber, (int64_t)since, &u.certs_since)) != SN_OK)
        return r;
    *out = u;
    return SN_OK;
}

/* ---- OIDC issuers, trust policies, jtis ---- */

static sn_err
oidc_issuer_add(void *be, const struct sn_oidc_issuer *i)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st,
                     "INSERT INTO oidc_issuers (id, issuer, audience,"
                     " jwks_uri, ca_file, created_at)"
                     " VALUES (?, ?, ?, ?, ?, ?)",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, i->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, i->issuer, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, i->audience, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, i->jwks_uri, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, i->ca_file, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, i->created_at);
    return finish_write(st, s, 0);
}

static sn_err
fill_issuer(sqlite3_stmt *s, void *out)
{
    struct sn_oidc_issuer *i = out;

    memset(i, 0, sizeof(*i));
    col_text(s, 0, i->id, sizeof(i->id));
    col_text(s, 1, i->issuer, sizeof(i->issuer));
    col_text(s, 2, i->audience, sizeof(i->audience));
    col_text(s, 3, i->jwks_uri, sizeof(i->jwks_uri));
    col_text(s, 4, i->ca_file, sizeof(i->ca_file));
    i->created_at = (time_t)sqlite3_column_int64(s, 5);
    return SN_OK;
}

static sn_err
oidc_issuer_list(void *be, struct sn_oidc_issuer **out, size_t *n)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    void *arr = NULL;
    sn_err r;

    *out = NULL;
    *n = 0;
    if ((r = prepare(st,
                     "SELECT id, issuer, audience, jwks_uri, ca_file,"
                     " created_at FROM oidc_issuers ORDER BY created_at, id",
                     &s)) != SN_OK)
        return r;
    r = collect(s, sizeof(**out), fill_issuer, NULL, &arr, n);
    *out = arr;
    sqlite3_finalize(s);
    return r;
}

static sn_err
oidc_issuer_delete(void *be, const char *id)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st, "DELETE FROM oidc_issuers WHERE id = ?", &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    return finish_write(st, s, 1);
}

static sn_err
trust_policy_add(void *be, const struct sn_trust_policy *p)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st,
                     "INSERT INTO trust_policies (id, subscriber_id, issuer,"
                     " body, created_at) VALUES (?, ?, ?, ?, ?)",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, p->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, p->subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, p->issuer, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, p->body, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, p->created_at);
    return finish_write(st, s, 0);
}

static sn_err
fill_policy(sqlite3_stmt *s, void *out)
{
    struct sn_trust_policy *p = out;
    const unsigned char *body = sqlite3_column_text(s, 3);

    memset(p, 0, sizeof(*p));
    col_text(s, 0, p->id, sizeof(p->id));
    col_text(s, 1, p->subscriber, sizeof(p->subscriber));
    col_text(s, 2, p->issuer, sizeof(p->issuer));
    if ((p->body = strdup(body ? (const char *)body : "{}")) == NULL)
        return SN_ERR_NOMEM;
    p->created_at = (time_t)sqlite3_column_int64(s, 4);
    return SN_OK;
}

static void
clean_policy(void *p)
{
    free(((struct sn_trust_policy *)p)->body);
}

static sn_err
trust_policy_list(void *be, const char *subscriber, const char *issuer,
                  struct sn_trust_policy **out, size_t *n)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    void *arr = NULL;
    sn_err r;

    *out = NULL;
    *n = 0;
    if ((r = prepare(st,
                     "SELECT id, subscriber_id, issuer, body, created_at"
                     " FROM trust_policies WHERE (?1 = '' OR"
                     " subscriber_id = ?1) AND (?2 = '' OR issuer = ?2)"
                     " ORDER BY created_at, id",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, subscriber, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, issuer, -1, SQLITE_STATIC);
    r = collect(s, sizeof(**out), fill_policy, clean_policy, &arr, n);
    *out = arr;
    sqlite3_finalize(s);
    return r;
}

static sn_err
trust_policy_delete(void *be, const char *subscriber, const char *id)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st,
                     "DELETE FROM trust_policies WHERE id = ?"
                     " AND subscriber_id = ?",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, subscriber, -1, SQLITE_STATIC);
    return finish_write(st, s, 1);
}

/* One statement: a jti is taken at most once, whichever thread asks (the
 * primary key decides); an expired row is replaced. */
static sn_err
oidc_jti_use(void *be, const char *issuer, const char *jti, time_t expires_at,
             time_t now)
{
    struct sq_store *st = be;
    sqlite3_stmt *s = NULL;
    sn_err r;

    if ((r = prepare(st,
                     "DELETE FROM oidc_jti WHERE issuer = ? AND"
                     " expires_at < ?",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, issuer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now);
    if ((r = finish_write(st, s, 0)) != SN_OK)
        return r;
    if ((r = prepare(st,
                     "INSERT INTO oidc_jti (issuer, jti, expires_at)"
                     " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                     &s)) != SN_OK)
        return r;
    sqlite3_bind_text(s, 1, issuer, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, jti, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, expires_at);
    r = finish_write(st, s, 1);
    return r == SN_ERR_NOT_FOUND ? SN_ERR_EXISTS : r;
}

const struct sn_store_ops sn_store_sqlite_ops = {
    .name = "sqlite",
    .open = store_open,
    .close = store_close,
    .ping = ping,
    .subscriber_add = subscriber_add,
    .subscriber_get = subscriber_get,
    .subscriber_by_name = subscriber_by_name,
    .subscriber_list = subscriber_list,
    .token_add = token_add,
    .token_get = token_get,
    .token_revoke = token_revoke,
    .clientcert_add = clientcert_add,
    .clientcert_get = clientcert_get,
    .clientcert_list = clientcert_list,
    .clientcert_find = clientcert_find,
    .clientcert_delete = clientcert_delete,
    .key_add = key_add,
    .key_get = key_get,
    .key_list = key_list,
    .key_transition = key_transition,
    .key_set_cert = key_set_cert,
    .audit_write = sn_sqlite_audit_write,
    .audit_list = audit_list,
    .identity_set = identity_set,
    .identity_get = identity_get,
    .cert_add = cert_add,
    .cert_get = cert_get,
    .cert_latest = cert_latest,
    .pin_put = pin_put,
    .pin_get = pin_get,
    .cert_revoke = cert_revoke,
    .cert_compromise = cert_compromise,
    .cert_by_spki = cert_by_spki,
    .cert_unindexed = cert_unindexed,
    .cert_set_spki = cert_set_spki,
    .cert_revoked = cert_revoked,
    .key_compromised = key_compromised,
    .crl_get = crl_get,
    .crl_put = crl_put,
    .counter_next = counter_next,
    .usage = usage,
    .policy_set = policy_set,
    .policy_get = policy_get,
    .policy_delete = policy_delete,
    .sign_count = sign_count,
    .oidc_issuer_add = oidc_issuer_add,
    .oidc_issuer_list = oidc_issuer_list,
    .oidc_issuer_delete = oidc_issuer_delete,
    .trust_policy_add = trust_policy_add,
    .trust_policy_list = trust_policy_list,
    .trust_policy_delete = trust_policy_delete,
    .oidc_jti_use = oidc_jti_use,
    .sign_request_add = sn_sqlite_sr_add,
    .sign_request_get = sn_sqlite_sr_get,
    .sign_request_list = sn_sqlite_sr_list,
    .sign_request_vote = sn_sqlite_sr_vote,
    .sign_request_move = sn_sqlite_sr_move,
    .sign_request_sweep = sn_sqlite_sr_sweep,
    .report_add = sn_sqlite_report_add,
    .report_get = sn_sqlite_report_get,
    .report_list = sn_sqlite_report_list,
    .report_ack = sn_sqlite_report_ack,
    .report_decide = sn_sqlite_report_decide,
    .report_notices_due = sn_sqlite_report_notices_due,
    .report_notice_result = sn_sqlite_report_notice_result,
    .report_overdue = sn_sqlite_report_overdue,
    .sign_events_match = sn_sqlite_sign_events_match,
    .sign_events_since = sn_sqlite_sign_events_since,
    .audit_tally = sn_sqlite_audit_tally,
    .log_size = sn_sqlite_log_size,
    .log_hashes = sn_sqlite_log_hashes,
    .log_entries = sn_sqlite_log_entries,
    .log_checkpoint_put = sn_sqlite_log_checkpoint_put,
    .log_checkpoint_latest = sn_sqlite_log_checkpoint_latest,
    .write_probe = sn_sqlite_write_probe,
    .tsa_compact = sn_sqlite_tsa_compact,
    .token_touch = sn_sq_token_touch,
    .session_add = sn_sq_session_add,
    .account_add = sn_sq_account_add,
    .account_get = sn_sq_account_get,
    .account_by_name = sn_sq_account_by_name,
    .account_list = sn_sq_account_list,
    .account_totp_pending = sn_sq_account_totp_pending,
    .account_totp_clear = sn_sq_account_totp_clear,
    .account_totp_confirm = sn_sq_account_totp_confirm,
    .account_totp_step = sn_sq_account_totp_step,
    .account_login = sn_sq_account_login,
    .account_set_password = sn_sq_account_set_password,
    .account_disable = sn_sq_account_disable,
    .recovery_set = sn_sq_recovery_set,
    .recovery_use = sn_sq_recovery_use,
};
