/*  reader.c - see reader.h. */
#include "reader.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "hub_sig.h"
#include <assert.h>
#include <string.h>

typedef struct {
    sqlite3 *db;
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
    sqlite3_stmt *head;
    sqlite3_stmt *checkpoint;
} s_self_t;

struct _reader_t {
    zactor_t *actor;
    s_self_t *state; //  the thread's; freed here only after the thread has ended
};

read_t *
read_new (const char *const *channels, size_t count, uint64_t since, uint32_t limit)
{
    read_t *self = mem_zalloc (sizeof *self);
    for (size_t i = 0; i < count; i++)
        read_add_channel (self, channels[i]);
    self->since = since;
    self->limit = limit;
    return self;
}

void
read_add_channel (read_t *self, const char *channel)
{
    self->channels =
        mem_realloc (self->channels, (self->channel_count + 1) * sizeof *self->channels);
    snprintf (self->channels[self->channel_count++], sizeof *self->channels, "%s", channel);
}

void
read_destroy (read_t **self_p)
{
    read_t *self = *self_p;
    if (!self)
        return;
    free (self->channels);
    batch_destroy (&self->rows);
    free (self->checkpoint_json);
    free (self);
    *self_p = NULL;
}

static char *
s_checkpoint (s_self_t *self)
{
    sqlite3_stmt *stmt = self->checkpoint;
    char *json = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_bytes (stmt, 1) == HUB_HASH_BYTES &&
        sqlite3_column_bytes (stmt, 3) == HUB_SIG_BYTES) {
        hub_checkpoint_t cp = {.seq = (uint64_t)sqlite3_column_int64 (stmt, 0),
                               .ts_ms = (uint64_t)sqlite3_column_int64 (stmt, 2)};
        memcpy (cp.hash, sqlite3_column_blob (stmt, 1), HUB_HASH_BYTES);
        memcpy (cp.sig, sqlite3_column_blob (stmt, 3), HUB_SIG_BYTES);
        memcpy (cp.hub_key, self->hub_pk, HUB_PUBKEY_BYTES);
        json = hub_checkpoint_to_json (&cp);
    }
    sqlite3_reset (stmt);
    return json;
}

static sqlite3_stmt *
s_prepare_rows (s_self_t *self, read_t *req)
{
    char sql[8192];
    int len =
        snprintf (sql, sizeof sql,
                  "SELECT seq, hub_ts_ms, channel, header, body, sig, prev_hash, hash, author "
                  "FROM messages WHERE seq > ?");
    if (req->channel_count) {
        len += snprintf (sql + len, sizeof sql - (size_t)len, " AND channel IN (");
        for (size_t i = 0; i < req->channel_count; i++)
            len += snprintf (sql + len, sizeof sql - (size_t)len, i ? ",?" : "?");
        len += snprintf (sql + len, sizeof sql - (size_t)len, ")");
    }
    snprintf (sql + len, sizeof sql - (size_t)len, " ORDER BY seq LIMIT ?");
    sqlite3_stmt *stmt = db_prepare (self->db, sql);
    int arg = 1;
    sqlite3_bind_int64 (stmt, arg++, (sqlite3_int64)req->since);
    for (size_t i = 0; i < req->channel_count; i++)
        sqlite3_bind_text (stmt, arg++, req->channels[i], -1, SQLITE_STATIC);
    //  One row more than asked tells whether there is a next page.
    sqlite3_bind_int64 (stmt, arg, (sqlite3_int64)req->limit + 1);
    return stmt;
}

//  Whether the header text gives value (quoted, as is) as the value of member name
//  (quoted, e.g. "\"author\""). Inside a JSON string a quote is escaped, so the name
//  followed by a colon is a member name, never text of a title that quotes a key.
static bool
s_member_is (const char *header, const char *name, const char *value)
{
    size_t name_len = strlen (name), value_len = strlen (value);
    for (const char *at = strstr (header, name); at; at = strstr (at + 1, name)) {
        const char *c = at + name_len;
        c += strspn (c, " \t\r\n");
        if (*c++ != ':')
            continue;
        c += strspn (c, " \t\r\n");
        if (*c == '"' && strncmp (c + 1, value, value_len) == 0 && c[1 + value_len] == '"')
            return true;
    }
    return false;
}

//  The author and channel columns are copies of the signed header's, kept for the
//  indexes. The name a MSG carries must be the signed key's, or an edited column would
//  put another partner's name on a message that verifies; and a message must not be
//  served as a channel's it was not signed for (read rights go by channel), which the
//  client, seeing only the signed header, could not tell. The copies are checked against
//  the header's text (a search, not a JSON parse per row); only a row where one does not
//  match is parsed. Returns false, with why, for a row stored under another channel than
//  its signed one.
static bool
s_signed_columns (entry_t *entry, char *why, size_t why_size)
{
    char text[HUB_KEYTEXT_LEN + 1], header[HUB_HEADER_MAX + 1];
    hub_key_to_text (entry->hdr.author, text);
    size_t len = entry->hlen < HUB_HEADER_MAX ? entry->hlen : HUB_HEADER_MAX;
    memcpy (header, entry->header, len);
    header[len] = 0;
    if (s_member_is (header, "\"author\"", text) &&
        s_member_is (header, "\"channel\"", entry->hdr.channel))
        return true;
    hub_header_t hdr;
    bool ok = true;
    if (hub_header_decode (entry->header, entry->hlen, &hdr) == HUB_OK) {
        memcpy (entry->hdr.author, hdr.author, HUB_PUBKEY_BYTES);
        if (strcmp (hdr.channel, entry->hdr.channel) != 0) {
            snprintf (why, why_size,
                      "seq %" PRIu64 " is stored as a message of channel '%s' but was "
                      "signed for '%s': hub.db was edited outside hubd (restore it from a "
                      "backup)",
                      entry->seq, entry->hdr.channel, hdr.channel);
            ok = false;
        }
    } else
        memset (entry->hdr.author, 0, HUB_PUBKEY_BYTES); //  damaged: nobody's name
    hub_header_clear (&hdr);
    return ok;
}

static entry_t *
s_row_entry (sqlite3_stmt *stmt)
{
    size_t hlen = (size_t)sqlite3_column_bytes (stmt, 3);
    size_t blen = (size_t)sqlite3_column_bytes (stmt, 4);
    entry_t *entry =
        entry_new (sqlite3_column_blob (stmt, 3), hlen, sqlite3_column_blob (stmt, 4), blen);
    entry->seq = (uint64_t)sqlite3_column_int64 (stmt, 0);
    entry->hub_ts_ms = (uint64_t)sqlite3_column_int64 (stmt, 1);
    snprintf (entry->hdr.channel, sizeof entry->hdr.channel, "%s",
              (const char *)sqlite3_column_text (stmt, 2));
    //  Rows are served as stored, even if someone damaged them: detecting that is the
    //  verifier's job (hubctl verify), and it needs to see the damage. Only a row filed
    //  under another channel than its signed one is not (s_signed_columns): the verifier
    //  could not see that, and it would bypass read rights.
    if (sqlite3_column_bytes (stmt, 5) == HUB_SIG_BYTES)
        memcpy (entry->sig, sqlite3_column_blob (stmt, 5), HUB_SIG_BYTES);
    if (sqlite3_column_bytes (stmt, 6) == HUB_HASH_BYTES)
        memcpy (entry->prev_hash, sqlite3_column_blob (stmt, 6), HUB_HASH_BYTES);
    if (sqlite3_column_bytes (stmt, 7) == HUB_HASH_BYTES)
        memcpy (entry->hash, sqlite3_column_blob (stmt, 7), HUB_HASH_BYTES);
    if (sqlite3_column_bytes (stmt, 8) == HUB_PUBKEY_BYTES)
        memcpy (entry->hdr.author, sqlite3_column_blob (stmt, 8), HUB_PUBKEY_BYTES);
    return entry;
}

static void
s_answer (s_self_t *self, read_t *req)
{
    req->rows = batch_new (0);
    if (db_exec (self->db, "BEGIN") != SQLITE_OK) {
        snprintf (req->why, sizeof req->why, "the history could not be read: %s",
                  sqlite3_errmsg (self->db));
        req->err = HUB_E_STORAGE;
        return;
    }
    //  Everything below reads one snapshot: head, rows and checkpoint agree.
    sqlite3_stmt *stmt = self->head;
    req->head =
        sqlite3_step (stmt) == SQLITE_ROW ? (uint64_t)sqlite3_column_int64 (stmt, 0) : 0;
    sqlite3_reset (stmt);
    stmt = s_prepare_rows (self, req);
    int rc;
    size_t bytes = 0;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        //  A page of 1,000 messages of 64 KiB would be 64 MB in memory until it is sent.
        if (req->rows->count == req->limit || bytes >= READER_PAGE_BYTES) {
            req->more = true;
            break;
        }
        entry_t *entry = s_row_entry (stmt);
        if (!s_signed_columns (entry, req->why, sizeof req->why)) {
            //  The page ends before it, with the reason: the damage is not hidden.
            log_error ("reader", "%s", req->why);
            entry_destroy (&entry);
            req->err = HUB_E_STORAGE;
            break;
        }
        bytes += entry->hlen + entry->blen;
        batch_append (req->rows, &entry);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        log_error ("reader", "history read failed: %s", sqlite3_errmsg (self->db));
        snprintf (req->why, sizeof req->why, "the history could not be read");
        req->err = HUB_E_STORAGE;
    }
    sqlite3_finalize (stmt);
    req->checkpoint_json = s_checkpoint (self);
    db_exec (self->db, "COMMIT");
}

static void
s_actor (zsock_t *pipe, void *args)
{
    s_self_t *self = args;
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        char *command = zmsg_popstr (msg);
        bool term = !command || streq (command, "$TERM");
        if (!term && streq (command, "READ")) {
            zframe_t *frame = zmsg_pop (msg);
            read_t *req = NULL;
            if (frame && zframe_size (frame) == sizeof req)
                memcpy (&req, zframe_data (frame), sizeof req);
            zframe_destroy (&frame);
            assert (req);
            s_answer (self, req);
            zsock_send (pipe, "p", req);
        }
        zstr_free (&command);
        zmsg_destroy (&msg);
        if (term)
            break;
    }
}

reader_t *
reader_new (const char *db_path, const uint8_t hub_pk[HUB_PUBKEY_BYTES])
{
    sqlite3 *db = db_open_logged (db_path, false, "reader");
    if (!db)
        return NULL;
    s_self_t *state = mem_zalloc (sizeof *state);
    state->db = db;
    memcpy (state->hub_pk, hub_pk, HUB_PUBKEY_BYTES);
    state->head = db_prepare (db, "SELECT seq FROM messages ORDER BY seq DESC LIMIT 1");
    state->checkpoint = db_prepare (db, "SELECT seq, hash, ts_ms, sig FROM checkpoint");
    reader_t *self = mem_zalloc (sizeof *self);
    self->actor = zactor_new (s_actor, state);
    self->state = state;
    return self;
}

void
reader_request (reader_t *self, read_t **req_p)
{
    zsock_send (self->actor, "sp", "READ", *req_p);
    *req_p = NULL;
}

zsock_t *
reader_sock (reader_t *self)
{
    return zactor_sock (self->actor);
}

read_t *
reader_answer (reader_t *self)
{
    void *req = NULL;
    if (zsock_recv (self->actor, "p", &req) != 0)
        return NULL;
    return req;
}

void
reader_destroy (reader_t **self_p)
{
    reader_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);
    sqlite3_finalize (self->state->head);
    sqlite3_finalize (self->state->checkpoint);
    sqlite3_close (self->state->db);
    free (self->state);
    free (self);
    *self_p = NULL;
}
