/*  db.h - opening hubd's SQLite database, and its schema.

    One file, hub.db in the data directory, in WAL mode. The store thread holds the only
    writing connection; readers open their own read-only connections (DESIGN.md 5).
    The schema and its migrations live in db.c, at the top.
*/
#ifndef HUBD_DB_H_INCLUDED
#define HUBD_DB_H_INCLUDED

#include "hub_sig.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DB_SCHEMA_VERSION 6

//  The channels every hub has (PROTOCOL.md 9.2), for the schema and for rebuilds.
#define DB_DEFAULT_CHANNELS_SQL                                                                \
    "INSERT INTO channels VALUES ('announcements', 'admin,convener', '*', 0),"                 \
    "  ('updates', '*', '*', 0), ('actions', '*', '*', 0), ('admin', 'admin', '*', 0);"

//  Opens path. A writer creates the file if needed, takes the data directory's single
//  writer role, and migrates the schema forward; a reader opens read-only and expects the
//  schema to exist. Returns NULL and writes a reason into why on failure.
//  Caller owns the connection and closes it with sqlite3_close.
sqlite3 *db_open (const char *path, bool writer, char *why, size_t why_size);

//  What the log at path holds, read (read-only) before the hub opens it, so that keyring.c
//  can tell a new database from one another hub key wrote. Returns 0 for no log yet (no
//  file, an empty file, a database with no message), 1 for a log: *head is its last seq
//  and *cp its latest checkpoint (cp->seq 0 if it has none; cp->hub_key is not stored
//  and left zero), or -1 with why if path cannot be read as a hubd database.
int db_read_anchor (const char *path, uint64_t *head, hub_checkpoint_t *cp, char *why,
                    size_t why_size);

//  db_open for a module that has no one to hand why to: logs it under module's name and
//  returns NULL on failure.
sqlite3 *db_open_logged (const char *path, bool writer, const char *module);

//  Copies the database at path into a new file dst with SQLite's online backup API: safe
//  while the hub runs (a consistent snapshot, unlike a file copy of a live WAL database).
//  Returns the number of pages copied, or -1 with why filled.
int db_backup (const char *path, const char *dst, char *why, size_t why_size);

//  Prepares sql or aborts: our own SQL failing to compile is a bug, not input.
sqlite3_stmt *db_prepare (sqlite3 *db, const char *sql);

//  Runs sql that returns no rows. Returns the SQLite result code.
int db_exec (sqlite3 *db, const char *sql);

#endif
