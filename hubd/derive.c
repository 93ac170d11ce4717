/*  derive.c - see derive.h. */
#include "derive.h"
#include "action.h"
#include "admin.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include <inttypes.h>
#include <string.h>

struct _derive_t {
    sqlite3 *db;
    uint8_t admin_pk[HUB_PUBKEY_BYTES];
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
    sqlite3_stmt *partner;
};

derive_t *
derive_new (sqlite3 *db, const uint8_t admin_pk[HUB_PUBKEY_BYTES],
            const uint8_t hub_pk[HUB_PUBKEY_BYTES])
{
    derive_t *self = mem_zalloc (sizeof *self);
    self->db = db;
    memcpy (self->admin_pk, admin_pk, HUB_PUBKEY_BYTES);
    memcpy (self->hub_pk, hub_pk, HUB_PUBKEY_BYTES);
    self->partner = db_prepare (db, "SELECT name FROM partners WHERE key = ?");
    return self;
}

void
derive_destroy (derive_t **self_p)
{
    derive_t *self = *self_p;
    if (!self)
        return;
    sqlite3_finalize (self->partner);
    free (self);
    *self_p = NULL;
}

//  The directory name of an author, for the actions table; "" if none.
static void
s_author_name (derive_t *self, const uint8_t key[HUB_PUBKEY_BYTES], char *name, size_t size)
{
    if (memcmp (key, self->admin_pk, HUB_PUBKEY_BYTES) == 0)
        snprintf (name, size, "admin");
    else if (memcmp (key, self->hub_pk, HUB_PUBKEY_BYTES) == 0)
        snprintf (name, size, "hub");
    else {
        sqlite3_bind_blob (self->partner, 1, key, HUB_PUBKEY_BYTES, SQLITE_STATIC);
        snprintf (name, size, "%s",
                  sqlite3_step (self->partner) == SQLITE_ROW
                      ? (const char *)sqlite3_column_text (self->partner, 0)
                      : "");
        sqlite3_reset (self->partner);
    }
}

bool
derive_changes (const char *kind)
{
    return strcmp (kind, "admin") == 0 || action_kind (kind);
}

bool
derive_apply (derive_t *self, entry_t *entry, uint64_t seq, uint64_t now_ms)
{
    char why[160];
    hub_err_t err = HUB_OK;
    if (strcmp (entry->hdr.kind, "admin") == 0) {
        admin_op_t op;
        //  By the rules it was logged under: the front door checked a new one freshly.
        err = admin_parse (entry->body, entry->blen, false, &op, why, sizeof why);
        if (err == HUB_OK)
            err = admin_apply (self->db, &op, seq, now_ms, why, sizeof why);
    } else if (action_kind (entry->hdr.kind)) {
        char author[65];
        s_author_name (self, entry->hdr.author, author, sizeof author);
        bool is_admin = memcmp (entry->hdr.author, self->admin_pk, HUB_PUBKEY_BYTES) == 0;
        err = action_apply (self->db, entry, author, is_admin, seq, now_ms, why, sizeof why);
    }
    if (err != HUB_OK)
        entry_refuse (entry, err, "%s", why);
    return err == HUB_OK;
}

static int64_t
s_replay (sqlite3 *db, derive_t *derive)
{
    sqlite3_stmt *stmt = db_prepare (
        db, "SELECT seq, hub_ts_ms, header, body FROM messages WHERE kind IN "
            "('admin', 'action', 'action-done', 'action-cancel', 'reminder') ORDER BY seq");
    int64_t count = 0;
    while (count >= 0 && sqlite3_step (stmt) == SQLITE_ROW) {
        entry_t *entry =
            entry_new (sqlite3_column_blob (stmt, 2), (size_t)sqlite3_column_bytes (stmt, 2),
                       sqlite3_column_blob (stmt, 3), (size_t)sqlite3_column_bytes (stmt, 3));
        uint64_t seq = (uint64_t)sqlite3_column_int64 (stmt, 0);
        if (hub_header_decode (entry->header, entry->hlen, &entry->hdr) != HUB_OK) {
            log_error ("derive", "seq %" PRIu64 ": stored header does not decode", seq);
            count = -1;
        } else if (!derive_apply (derive, entry, seq,
                                  (uint64_t)sqlite3_column_int64 (stmt, 1))) {
            //  The hub refused nothing it logged; a refusal now means the log was damaged.
            log_error ("derive", "seq %" PRIu64 ": %s", seq, entry->reason);
            count = -1;
        } else
            count++;
        entry_destroy (&entry);
    }
    sqlite3_finalize (stmt);
    return count;
}

int64_t
derive_rebuild (const char *db_path, const uint8_t admin_pk[HUB_PUBKEY_BYTES],
                const uint8_t hub_pk[HUB_PUBKEY_BYTES])
{
    sqlite3 *db = db_open_logged (db_path, true, "derive");
    if (!db)
        return -1;
    derive_t *derive = derive_new (db, admin_pk, hub_pk);
    int64_t count = -1;
    if (db_exec (db, "BEGIN IMMEDIATE") == SQLITE_OK &&
        db_exec (db, "DELETE FROM actions; DELETE FROM partners; DELETE FROM channels;") ==
            SQLITE_OK &&
        db_exec (db, DB_DEFAULT_CHANNELS_SQL) == SQLITE_OK)
        count = s_replay (db, derive);
    if (count < 0 || db_exec (db, "COMMIT") != SQLITE_OK) {
        log_error ("derive", "rebuild failed: %s; nothing changed", sqlite3_errmsg (db));
        db_exec (db, "ROLLBACK");
        count = -1;
    }
    derive_destroy (&derive);
    sqlite3_close (db);
    return count;
}
