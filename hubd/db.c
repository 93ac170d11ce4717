/*  db.c - see db.h.

    Schema, version 6 (PRAGMA user_version):

    messages    the log. seq is the rowid: lookups by seq and "the last row" cost a B-tree
                descent, never a scan, whatever the size of the log. header, body and sig
                are the exact bytes the author sent (PROTOCOL.md 4.1); prev_hash and hash
                are the chain (PROTOCOL.md 6.2): hash(seq) = BLAKE2b(prev_hash || seq ||
                signed bytes || sig), and prev_hash(seq) = hash(seq - 1).
                (author, msg_id) is unique: that is what makes a retried publish land
   once. checkpoint  the latest hub-signed (seq, hash, ts), one row, rewritten every
   commit. channels    name and rights (comma-separated roles, "*" = every partner).

    Migrations run forward only, each in its own transaction, from user_version to
    DB_SCHEMA_VERSION.
*/
#include "db.h"
#include "log.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *s_migrations[] = {
    //  0 -> 1
    "CREATE TABLE messages ("
    "  seq INTEGER PRIMARY KEY,"
    "  channel TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  author BLOB NOT NULL,"
    "  msg_id BLOB NOT NULL,"
    "  ts_ms INTEGER NOT NULL,"
    "  hub_ts_ms INTEGER NOT NULL,"
    "  header BLOB NOT NULL,"
    "  body BLOB NOT NULL,"
    "  sig BLOB NOT NULL,"
    "  prev_hash BLOB NOT NULL,"
    "  hash BLOB NOT NULL);"
    "CREATE UNIQUE INDEX messages_dedup ON messages (author, msg_id);"
    "CREATE INDEX messages_channel ON messages (channel, seq);"
    "CREATE TABLE checkpoint ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  seq INTEGER NOT NULL, hash BLOB NOT NULL, ts_ms INTEGER NOT NULL, sig BLOB NOT "
    "NULL);"
    "CREATE TABLE channels ("
    "  name TEXT PRIMARY KEY,"
    "  publish TEXT NOT NULL,"
    "  read TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL);"
    "INSERT INTO channels VALUES"
    "  ('announcements', 'admin,convener', '*', 0),"
    "  ('updates', '*', '*', 0),"
    "  ('actions', '*', '*', 0);",
    //  1 -> 2: the partner directory, and the channel where administrator commands are
    //  logged (readable by all: the history shows who was admitted, by whom, when).
    "CREATE TABLE partners ("
    "  name TEXT PRIMARY KEY,"
    "  key BLOB NOT NULL UNIQUE,"
    "  org TEXT NOT NULL DEFAULT '',"
    "  email TEXT NOT NULL DEFAULT '',"
    "  roles TEXT NOT NULL DEFAULT '',"
    "  joined_ms INTEGER NOT NULL,"
    "  left_ms INTEGER,"
    "  admitted_seq INTEGER NOT NULL);"
    "INSERT INTO channels VALUES ('admin', 'admin', '*', 0);",
    //  2 -> 3: commitments, derived from the action messages of the log.
    "CREATE TABLE actions ("
    "  id INTEGER PRIMARY KEY,"
    "  title TEXT NOT NULL,"
    "  detail TEXT NOT NULL,"
    "  owner TEXT NOT NULL,"
    "  creator TEXT NOT NULL,"
    "  due_ms INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  done_ms INTEGER,"
    "  note TEXT NOT NULL DEFAULT '',"
    "  seqs TEXT NOT NULL,"
    "  last_reminder_ms INTEGER NOT NULL DEFAULT 0);",
    //  3 -> 4: the relay outbox, written in the transaction that logs each message.
    "CREATE TABLE relay_jobs ("
    "  id INTEGER PRIMARY KEY,"
    "  relay TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_ms INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  done_ms INTEGER,"
    "  last_error TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX relay_jobs_queue ON relay_jobs (relay, state, id);"
    "CREATE TABLE relay_memos ("
    "  relay TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY (relay, key));",
    //  4 -> 5: the dedup key leads with the author's clock, so a publisher's inserts land
    //  next to each other in the index instead of on a random page per message (random
    //  message ids made every message dirty a page of its own in the WAL). A retry sends
    //  the same header, so (author, ts, id) finds it exactly as (author, id) did.
    ("DROP INDEX messages_dedup;"
     "CREATE UNIQUE INDEX messages_dedup ON messages (author, ts_ms, msg_id);"),
    //  5 -> 6: a job's tries in all (what plugins are told; attempts, the ones counted
    //  against max_tries, leave out answers that said when to come back and start again
    //  on a relay retry), and whether a try is in progress (claimed before the plugin is
    //  called, cleared with its outcome: still set at the next pickup, it was cut short).
    ("ALTER TABLE relay_jobs ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE relay_jobs ADD COLUMN claimed INTEGER NOT NULL DEFAULT 0;"
     "UPDATE relay_jobs SET tries = attempts;"),
};

//  db_prepare for the first statements on a file: one that is not a database, or is
//  damaged, fails here with why set (a start-up failure), not with an abort.
static sqlite3_stmt *
s_prepare_first (sqlite3 *db, const char *path, const char *sql, char *why, size_t why_size)
{
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        snprintf (why, why_size, "%s is not a usable hubd database: %s", path,
                  sqlite3_errmsg (db));
        sqlite3_finalize (stmt);
        return NULL;
    }
    return stmt;
}

static bool
s_migrate (sqlite3 *db, const char *path, char *why, size_t why_size)
{
    sqlite3_stmt *stmt = s_prepare_first (db, path, "PRAGMA user_version", why, why_size);
    if (!stmt)
        return false;
    int version = sqlite3_step (stmt) == SQLITE_ROW ? sqlite3_column_int (stmt, 0) : -1;
    sqlite3_finalize (stmt);
    int target = (int)(sizeof s_migrations / sizeof s_migrations[0]);
    assert (target == DB_SCHEMA_VERSION);
    if (version < 0 || version > target) {
        snprintf (why, why_size, "database schema version %d is not one this hubd knows (%d)",
                  version, target);
        return false;
    }
    for (; version < target; version++) {
        char sql[64];
        snprintf (sql, sizeof sql, "PRAGMA user_version = %d", version + 1);
        if (db_exec (db, "BEGIN IMMEDIATE") != SQLITE_OK ||
            db_exec (db, s_migrations[version]) != SQLITE_OK ||
            db_exec (db, sql) != SQLITE_OK || db_exec (db, "COMMIT") != SQLITE_OK) {
            snprintf (why, why_size, "schema migration to version %d failed: %s", version + 1,
                      sqlite3_errmsg (db));
            db_exec (db, "ROLLBACK");
            return false;
        }
        log_notice ("db", "schema migrated to version %d", version + 1);
    }
    return true;
}

sqlite3 *
db_open (const char *path, bool writer, char *why, size_t why_size)
{
    sqlite3 *db = NULL;
    int flags = writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
    int rc = sqlite3_open_v2 (path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf (why, why_size, "cannot open %s: %s", path,
                  db ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
        sqlite3_close (db);
        return NULL;
    }
    sqlite3_extended_result_codes (db, 1);
    //  Wait a little for a lock held by a backup tool; a hub locked out for longer than
    //  this at start fails with a clear error rather than hanging.
    sqlite3_busy_timeout (db, 2000);
    if (writer) {
        //  Bigger pages mean fewer, larger WAL writes per commit (a commit of a few hundred
        //  messages was ~600 pwrite calls at 4 KB). Takes effect only on a new database.
        db_exec (db, "PRAGMA page_size = 16384");
        //  journal_mode answers with a row; read it to see WAL actually took.
        sqlite3_stmt *stmt =
            s_prepare_first (db, path, "PRAGMA journal_mode = WAL", why, why_size);
        if (!stmt) {
            sqlite3_close (db);
            return NULL;
        }
        rc = sqlite3_step (stmt);
        bool wal = rc == SQLITE_ROW &&
                   strcmp ((const char *)sqlite3_column_text (stmt, 0), "wal") == 0;
        sqlite3_finalize (stmt);
        if (!wal) {
            snprintf (why, why_size, "cannot switch %s to WAL mode: %s", path,
                      rc == SQLITE_ROW ? "refused" : sqlite3_errmsg (db));
            sqlite3_close (db);
            return NULL;
        }
        //  Inserts land at a few places only (the log's end; per author and per channel in
        //  the indexes), so SQLite's default 2 MB page cache is enough even for a large log
        //  (a 10M-message log ran as fast with 4 MB as with 20 MB), and the memory is
        //  better spent on connections (issue 8: 1,000 subscribers under 64 MB).
        db_exec (db, "PRAGMA cache_size = -2000");
        //  Take the write lock once now: a database another process holds locked is a
        //  clear start-up failure, not a stream of refused publishes later.
        if (db_exec (db, "BEGIN IMMEDIATE") != SQLITE_OK ||
            db_exec (db, "COMMIT") != SQLITE_OK) {
            snprintf (why, why_size,
                      "%s is locked by another process (%s); is another hub or "
                      "a tool writing to it?",
                      path, sqlite3_errmsg (db));
            sqlite3_close (db);
            return NULL;
        }
        if (db_exec (db, "PRAGMA synchronous = FULL") != SQLITE_OK ||
            !s_migrate (db, path, why, why_size)) {
            if (!why[0])
                snprintf (why, why_size, "%s: %s", path, sqlite3_errmsg (db));
            sqlite3_close (db);
            return NULL;
        }
    }
    return db;
}

sqlite3 *
db_open_logged (const char *path, bool writer, const char *module)
{
    char why[512] = "";
    sqlite3 *db = db_open (path, writer, why, sizeof why);
    if (!db)
        log_error (module, "%s", why);
    return db;
}

//  Steps a statement of db_read_anchor's; false with why set unless it gave a row or none.
static bool
s_step_first (sqlite3 *db, sqlite3_stmt *stmt, const char *path, char *why, size_t why_size)
{
    int rc = stmt ? sqlite3_step (stmt) : SQLITE_ERROR;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE && !why[0])
        snprintf (why, why_size, "%s is not a usable hubd database: %s", path,
                  sqlite3_errmsg (db));
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

int
db_read_anchor (const char *path, uint64_t *head, hub_checkpoint_t *cp, char *why,
                size_t why_size)
{
    *head = 0;
    memset (cp, 0, sizeof *cp);
    struct stat st;
    if (stat (path, &st) != 0 || st.st_size == 0)
        return 0;
    sqlite3 *db = db_open (path, false, why, why_size);
    if (!db)
        return -1;
    //  user_version 0: a file SQLite made, to which no hubd ever gave a schema.
    sqlite3_stmt *stmt = s_prepare_first (db, path, "PRAGMA user_version", why, why_size);
    bool ok = s_step_first (db, stmt, path, why, why_size);
    bool schema = ok && sqlite3_column_int (stmt, 0) > 0;
    sqlite3_finalize (stmt);
    if (schema) {
        stmt = s_prepare_first (db, path, "SELECT coalesce(max(seq), 0) FROM messages", why,
                                why_size);
        ok = s_step_first (db, stmt, path, why, why_size);
        *head = ok ? (uint64_t)sqlite3_column_int64 (stmt, 0) : 0;
        sqlite3_finalize (stmt);
    }
    if (ok && *head > 0) {
        stmt = s_prepare_first (db, path, "SELECT seq, hash, ts_ms, sig FROM checkpoint", why,
                                why_size);
        ok = s_step_first (db, stmt, path, why, why_size);
        if (ok && sqlite3_data_count (stmt) == 4 &&
            sqlite3_column_bytes (stmt, 1) == HUB_HASH_BYTES &&
            sqlite3_column_bytes (stmt, 3) == HUB_SIG_BYTES) {
            cp->seq = (uint64_t)sqlite3_column_int64 (stmt, 0);
            memcpy (cp->hash, sqlite3_column_blob (stmt, 1), HUB_HASH_BYTES);
            cp->ts_ms = (uint64_t)sqlite3_column_int64 (stmt, 2);
            memcpy (cp->sig, sqlite3_column_blob (stmt, 3), HUB_SIG_BYTES);
        }
        sqlite3_finalize (stmt);
    }
    sqlite3_close (db);
    return !ok ? -1 : *head > 0;
}

int
db_backup (const char *path, const char *dst, char *why, size_t why_size)
{
    if (access (dst, F_OK) == 0) {
        snprintf (why, why_size, "%s exists; a backup never overwrites a file", dst);
        return -1;
    }
    sqlite3 *src = db_open (path, false, why, why_size);
    sqlite3 *out = NULL;
    if (!src)
        return -1;
    int rc = sqlite3_open_v2 (dst, &out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    sqlite3_backup *backup =
        rc == SQLITE_OK ? sqlite3_backup_init (out, "main", src, "main") : NULL;
    int pages = -1;
    if (backup) {
        //  Small steps, so the hub's writer is never held up for long.
        while ((rc = sqlite3_backup_step (backup, 256)) == SQLITE_OK || rc == SQLITE_BUSY ||
               rc == SQLITE_LOCKED)
            sqlite3_sleep (rc == SQLITE_OK ? 0 : 10);
        pages = sqlite3_backup_pagecount (backup);
        sqlite3_backup_finish (backup);
    }
    if (rc != SQLITE_DONE) {
        snprintf (why, why_size, "backup to %s failed: %s", dst,
                  out ? sqlite3_errmsg (out) : sqlite3_errstr (rc));
        pages = -1;
    }
    sqlite3_close (out);
    sqlite3_close (src);
    if (pages < 0)
        unlink (dst);
    return pages;
}

sqlite3_stmt *
db_prepare (sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        log_error ("db", "cannot prepare '%s': %s", sql, sqlite3_errmsg (db));
        abort ();
    }
    return stmt;
}

int
db_exec (sqlite3 *db, const char *sql)
{
    char *error = NULL;
    int rc = sqlite3_exec (db, sql, NULL, NULL, &error);
    if (rc != SQLITE_OK)
        log_debug ("db", "'%.60s' failed: %s", sql, error ? error : sqlite3_errstr (rc));
    sqlite3_free (error);
    return rc;
}
