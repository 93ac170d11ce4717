/*  action.c - see action.h. */
#include "action.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "hub_text.h"
#include <czmq.h>
#include <string.h>
#include <time.h>

bool
action_kind (const char *kind)
{
    return strcmp (kind, "action") == 0 || strcmp (kind, "action-done") == 0 ||
           strcmp (kind, "action-cancel") == 0 || strcmp (kind, "reminder") == 0;
}

static bool
s_int (json_t *obj, const char *key, int64_t min, int64_t *out)
{
    json_t *value = json_object_get (obj, key);
    if (!json_is_integer (value) || json_integer_value (value) < min)
        return false;
    *out = json_integer_value (value);
    return true;
}

hub_err_t
action_parse (const char *kind, const char *action_json, action_fields_t *out, char *why,
              size_t why_size)
{
    memset (out, 0, sizeof *out);
    json_t *obj = action_json ? json_loads (action_json, 0, NULL) : NULL;
    bool creates = strcmp (kind, "action") == 0, reminds = strcmp (kind, "reminder") == 0;
    int64_t id = 0;
    const char *owner = json_string_value (json_object_get (obj, "owner"));
    const char *slot = json_string_value (json_object_get (obj, "slot"));
    bool ok = json_is_object (obj);
    if (ok && !creates)
        ok = s_int (obj, "id", 1, &id);
    if (ok && (creates || reminds))
        ok = owner && hub_channel_valid (owner) && s_int (obj, "due", 0, &out->due_ms);
    if (ok && reminds)
        ok = slot && strlen (slot) < sizeof out->slot &&
             s_int (obj, "slot_ms", 0, &out->slot_ms);
    if (ok) {
        out->id = (uint64_t)id;
        //  Only the fields of this kind, all checked: a closing message's "owner" is noise.
        snprintf (out->owner, sizeof out->owner, "%s", creates || reminds ? owner : "");
        snprintf (out->slot, sizeof out->slot, "%s", reminds ? slot : "");
    } else
        snprintf (why, why_size,
                  creates ? "an action needs an \"action\" object with \"owner\" (a partner "
                            "name) and \"due\" (ms since the epoch)"
                          : "a %s message needs an \"action\" object with the item's \"id\"",
                  kind);
    //  An owner that cannot be a partner's name is no partner: say so, not "malformed".
    hub_err_t err = ok ? HUB_OK : HUB_E_BAD_REQUEST;
    if (!ok && creates && json_is_object (obj) && owner && !hub_channel_valid (owner)) {
        snprintf (why, why_size,
                  "there is no partner '%.64s' (partner names are a-z, 0-9, '.', '_', '-')",
                  owner);
        err = HUB_E_UNKNOWN_PARTNER;
    }
    json_decref (obj);
    return err;
}

//  --------------------------------------------------------------------------
//  Store side

static hub_err_t
s_run (sqlite3_stmt *stmt, char *why, size_t why_size)
{
    int rc = sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    if (rc == SQLITE_DONE)
        return HUB_OK;
    snprintf (why, why_size, "the actions table could not be updated: %s", sqlite3_errstr (rc));
    return HUB_E_STORAGE;
}

static hub_err_t
s_create (sqlite3 *db, const entry_t *entry, const action_fields_t *f, const char *author,
          uint64_t seq, uint64_t now_ms, char *why, size_t why_size)
{
    sqlite3_stmt *stmt = db_prepare (
        db, "INSERT INTO actions (id, title, detail, owner, creator, due_ms, status, "
            "created_ms, seqs) VALUES (?,?,?,?,?,?,'open',?,?)");
    char seqs[24];
    snprintf (seqs, sizeof seqs, "%llu", (unsigned long long)seq);
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)seq);
    sqlite3_bind_text (stmt, 2, entry->hdr.title, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 3, (const char *)entry->body, (int)entry->blen, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 4, f->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 5, author, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 6, f->due_ms);
    sqlite3_bind_int64 (stmt, 7, (sqlite3_int64)now_ms);
    sqlite3_bind_text (stmt, 8, seqs, -1, SQLITE_TRANSIENT);
    return s_run (stmt, why, why_size);
}

static hub_err_t
s_close (sqlite3 *db, const entry_t *entry, const action_fields_t *f, const char *author,
         bool is_admin, uint64_t seq, uint64_t now_ms, char *why, size_t why_size)
{
    sqlite3_stmt *stmt =
        db_prepare (db, "SELECT owner, creator, status FROM actions WHERE id = ?");
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)f->id);
    hub_err_t err = HUB_OK;
    if (sqlite3_step (stmt) != SQLITE_ROW) {
        snprintf (why, why_size, "there is no action item %llu", (unsigned long long)f->id);
        err = HUB_E_NOT_FOUND;
    } else if (strcmp ((const char *)sqlite3_column_text (stmt, 2), "open") != 0) {
        snprintf (why, why_size, "action item %llu is already %s", (unsigned long long)f->id,
                  sqlite3_column_text (stmt, 2));
        err = HUB_E_CONFLICT;
    } else if (!is_admin && strcmp ((const char *)sqlite3_column_text (stmt, 0), author) != 0 &&
               strcmp ((const char *)sqlite3_column_text (stmt, 1), author) != 0) {
        snprintf (why, why_size,
                  "only the owner, the creator or the administrator may close "
                  "action item %llu",
                  (unsigned long long)f->id);
        err = HUB_E_FORBIDDEN;
    }
    sqlite3_finalize (stmt);
    if (err != HUB_OK)
        return err;
    stmt = db_prepare (db, "UPDATE actions SET status = ?, done_ms = ?, note = ?, "
                           "seqs = seqs || ',' || ? WHERE id = ?");
    bool done = strcmp (entry->hdr.kind, "action-done") == 0;
    sqlite3_bind_text (stmt, 1, done ? "done" : "cancelled", -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64)now_ms);
    sqlite3_bind_text (stmt, 3, (const char *)entry->body, (int)entry->blen, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 4, (sqlite3_int64)seq);
    sqlite3_bind_int64 (stmt, 5, (sqlite3_int64)f->id);
    return s_run (stmt, why, why_size);
}

hub_err_t
action_apply (sqlite3 *db, const entry_t *entry, const char *author, bool is_admin,
              uint64_t seq, uint64_t now_ms, char *why, size_t why_size)
{
    action_fields_t f;
    hub_err_t err = action_parse (entry->hdr.kind, entry->hdr.action_json, &f, why, why_size);
    if (err != HUB_OK)
        return err;
    if (strcmp (entry->hdr.kind, "action") == 0)
        return s_create (db, entry, &f, author, seq, now_ms, why, why_size);
    if (strcmp (entry->hdr.kind, "reminder") == 0) {
        sqlite3_stmt *stmt =
            db_prepare (db, "UPDATE actions SET last_reminder_ms = max(last_reminder_ms, ?), "
                            "seqs = seqs || ',' || ? WHERE id = ?");
        sqlite3_bind_int64 (stmt, 1, f.slot_ms);
        sqlite3_bind_int64 (stmt, 2, (sqlite3_int64)seq);
        sqlite3_bind_int64 (stmt, 3, (sqlite3_int64)f.id);
        return s_run (stmt, why, why_size);
    }
    return s_close (db, entry, &f, author, is_admin, seq, now_ms, why, why_size);
}

//  --------------------------------------------------------------------------
//  The in-memory set

struct _action_set_t {
    zlistx_t *items; //  action_t, in id order (ids only grow)
};

static void
s_action_destroy (void **item_p)
{
    action_t *action = *item_p;
    if (action) {
        free (action->title);
        free (action->detail);
        free (action->note);
        free (action);
        *item_p = NULL;
    }
}

action_set_t *
action_set_load (const char *db_path)
{
    sqlite3 *db = db_open_logged (db_path, false, "action");
    if (!db)
        return NULL;
    action_set_t *self = mem_zalloc (sizeof *self);
    self->items = zlistx_new ();
    zlistx_set_destructor (self->items, s_action_destroy);
    sqlite3_stmt *stmt = db_prepare (
        db, "SELECT id, title, detail, owner, creator, due_ms, status, created_ms, "
            "coalesce(done_ms, 0), note, last_reminder_ms FROM actions ORDER BY id");
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        action_t *a = mem_zalloc (sizeof *a);
        a->id = (uint64_t)sqlite3_column_int64 (stmt, 0);
        a->title = mem_strdup ((const char *)sqlite3_column_text (stmt, 1));
        a->detail = mem_strdup ((const char *)sqlite3_column_text (stmt, 2));
        snprintf (a->owner, sizeof a->owner, "%s", sqlite3_column_text (stmt, 3));
        snprintf (a->creator, sizeof a->creator, "%s", sqlite3_column_text (stmt, 4));
        a->due_ms = sqlite3_column_int64 (stmt, 5);
        snprintf (a->status, sizeof a->status, "%s", sqlite3_column_text (stmt, 6));
        a->created_ms = sqlite3_column_int64 (stmt, 7);
        a->done_ms = sqlite3_column_int64 (stmt, 8);
        a->note = mem_strdup ((const char *)sqlite3_column_text (stmt, 9));
        a->last_reminder_ms = sqlite3_column_int64 (stmt, 10);
        zlistx_add_end (self->items, a);
    }
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return self;
}

action_t *
action_set_find (action_set_t *self, uint64_t id)
{
    for (action_t *a = zlistx_first (self->items); a; a = zlistx_next (self->items))
        if (a->id == id)
            return a;
    return NULL;
}

static char *
s_text (const entry_t *entry)
{
    char *text = mem_alloc (entry->blen + 1);
    memcpy (text, entry->body, entry->blen);
    text[entry->blen] = 0;
    return text;
}

void
action_set_follow (action_set_t *self, const entry_t *entry, const char *author)
{
    action_fields_t f;
    char why[160];
    if (action_parse (entry->hdr.kind, entry->hdr.action_json, &f, why, sizeof why) != HUB_OK)
        return;
    if (strcmp (entry->hdr.kind, "action") == 0) {
        action_t *a = mem_zalloc (sizeof *a);
        a->id = entry->seq;
        a->title = mem_strdup (entry->hdr.title);
        a->detail = s_text (entry);
        snprintf (a->owner, sizeof a->owner, "%s", f.owner);
        snprintf (a->creator, sizeof a->creator, "%s", author);
        a->due_ms = f.due_ms;
        strcpy (a->status, "open");
        a->created_ms = (int64_t)entry->hub_ts_ms;
        a->note = mem_strdup ("");
        zlistx_add_end (self->items, a);
        return;
    }
    action_t *a = action_set_find (self, f.id);
    if (!a)
        return;
    if (strcmp (entry->hdr.kind, "reminder") == 0) {
        if (f.slot_ms > a->last_reminder_ms)
            a->last_reminder_ms = f.slot_ms;
        return;
    }
    strcpy (a->status, strcmp (entry->hdr.kind, "action-done") == 0 ? "done" : "cancelled");
    a->done_ms = (int64_t)entry->hub_ts_ms;
    free (a->note);
    a->note = s_text (entry);
}

void
action_set_each (action_set_t *self, void (*fn) (action_t *action, void *arg), void *arg)
{
    for (action_t *a = zlistx_first (self->items); a; a = zlistx_next (self->items))
        fn (a, arg);
}

//  RFC 3339 years have four digits: a later time (a due time far off, logged before the
//  front door bounded them) shows as the last.

static json_t *
s_time (int64_t ms)
{
    if (ms > HUB_DUE_MAX_MS)
        ms = HUB_DUE_MAX_MS;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r (&secs, &tm);
    char text[80];
    snprintf (text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return json_string (text);
}

json_t *
action_to_json (const action_t *a, int64_t now_ms)
{
    bool overdue = strcmp (a->status, "open") == 0 && now_ms >= a->due_ms;
    json_t *json = json_pack (
        "{s:I, s:s, s:s, s:s, s:s, s:o, s:I, s:s, s:b, s:o}", "id", (json_int_t)a->id, "title",
        a->title, "detail", a->detail, "owner", a->owner, "creator", a->creator, "due",
        s_time (a->due_ms), "due_ms", (json_int_t)a->due_ms, "status",
        overdue ? "overdue" : a->status, "overdue", overdue, "created", s_time (a->created_ms));
    json_object_set_new (json, "done_at", a->done_ms ? s_time (a->done_ms) : json_null ());
    json_object_set_new (json, "note", json_string (a->note));
    return json;
}

void
action_set_destroy (action_set_t **self_p)
{
    action_set_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy (&self->items);
    free (self);
    *self_p = NULL;
}
