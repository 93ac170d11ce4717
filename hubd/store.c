/*  store.c - see store.h.

    Group commit: the thread blocks for one batch, then takes every batch already waiting
    (up to STORE_COMMIT_MAX entries) and commits them together. While it sits in fsync,
   new batches queue in the socket, so the batch size grows with the load by itself: one
   row per commit when idle (low latency), hundreds under load (throughput).

    Order: batches carry consecutive numbers from the front door; verifier threads may
   hand them over out of order, so a small ring holds early ones until their turn. A
   client's pipelined publishes are therefore stored in the order it sent them.

    Failure: if the transaction fails (disk full, I/O error), it is rolled back, the head
    and chain go back to where they were, and every entry that would have been stored is
    refused with HUB_E_STORAGE. Nothing was acknowledged, so nothing is lost; the next
    batch tries again, which is how the hub recovers when space returns.
*/
#include "store.h"
#include "db.h"
#include "derive.h"
#include "entry.h"
#include "log.h"
#include "mem.h"
#include "hub_sig.h"
#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <czmq.h>
#include <string.h>
#include <sys/time.h>

#define STORE_COMMIT_MAX 4096 //  entries per transaction
#define STORE_RING       4096 //  batches the front door may have in flight, at most

typedef struct {
    sqlite3 *db;
    hub_identity_t hub;
    zsock_t *pipe;
    zsock_t *in;
    zsock_t *out;
    uint64_t head;
    uint8_t head_hash[HUB_HASH_BYTES];
    uint64_t last_ts;    //  hub time of the last commit: a commit's is never earlier
    uint64_t next_batch; //  number of the batch to commit next
    batch_t *ring[STORE_RING];
    sqlite3_stmt *find;
    sqlite3_stmt *insert;
    sqlite3_stmt *checkpoint;
    derive_t *derive;
    sqlite3_stmt *enqueue;
    //  Relays and the channels each one carries: whose outbox a message goes into
    char **relay_names;
    char ***relay_channels; //  per relay, NULL-terminated
    size_t relay_count;
    //  Why the log cannot take writes (its end is not the one the hub signed), or "":
    //  reads and hubctl verify are served, every write is refused.
    char damaged[512];
} s_self_t;

struct _store_t {
    zactor_t *actor;
    s_self_t *state; //  the thread's; freed here only after the thread has ended
    uint64_t start_head;
};

static uint64_t
s_now_ms (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static bool
s_read_head (sqlite3 *db, uint64_t *head, uint8_t hash[HUB_HASH_BYTES])
{
    sqlite3_stmt *stmt =
        db_prepare (db, "SELECT seq, hash FROM messages ORDER BY seq DESC LIMIT 1");
    int rc = sqlite3_step (stmt);
    *head = 0;
    memset (hash, 0, HUB_HASH_BYTES);
    if (rc == SQLITE_ROW && sqlite3_column_bytes (stmt, 1) == HUB_HASH_BYTES) {
        *head = (uint64_t)sqlite3_column_int64 (stmt, 0);
        memcpy (hash, sqlite3_column_blob (stmt, 1), HUB_HASH_BYTES);
    }
    sqlite3_finalize (stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

//  The hub signs a checkpoint of the log's head in every commit's transaction, so the two
//  always agree. A log that ends elsewhere lost its last messages (rows deleted, an old
//  copy of the file): starting on it would hand their seqs out again and sign over the
//  gap, and hubctl verify would pass. False with why filled.
static bool
s_anchor_holds (sqlite3 *db, uint64_t head, const uint8_t hash[HUB_HASH_BYTES], char *why,
                size_t why_size)
{
    sqlite3_stmt *stmt = db_prepare (db, "SELECT seq, hash FROM checkpoint");
    int rc = sqlite3_step (stmt);
    uint64_t cp_seq = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64 (stmt, 0) : 0;
    bool same =
        cp_seq == head &&
        (head == 0 || (sqlite3_column_bytes (stmt, 1) == HUB_HASH_BYTES &&
                       memcmp (sqlite3_column_blob (stmt, 1), hash, HUB_HASH_BYTES) == 0));
    sqlite3_finalize (stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        snprintf (why, why_size, "cannot read the checkpoint: %s", sqlite3_errmsg (db));
    else if (cp_seq > head)
        snprintf (why, why_size,
                  "the log ends at seq %" PRIu64 " but the hub signed it up to seq %" PRIu64
                  ": messages were removed from its end, or this is an old copy of the file",
                  head, cp_seq);
    else if (!same)
        snprintf (why, why_size,
                  "the log's last message (seq %" PRIu64 ") is not the one the hub signed "
                  "(seq %" PRIu64 "): the file was changed by something other than hubd",
                  head, cp_seq);
    return (rc == SQLITE_ROW || rc == SQLITE_DONE) && same;
}

//  Looks for (author, ts, msg_id) already in the log: a retry of a stored message, or, if
//  its signature differs (Ed25519 signs the same bytes the same way), another message
//  under an id already taken, which is refused rather than answered with the first's seq.
static bool
s_find_duplicate (s_self_t *self, entry_t *entry)
{
    sqlite3_stmt *stmt = self->find;
    sqlite3_bind_blob (stmt, 1, entry->hdr.author, HUB_PUBKEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, entry->hdr.ts_ms);
    sqlite3_bind_blob (stmt, 3, entry->hdr.id, HUB_MSG_ID_BYTES, SQLITE_STATIC);
    bool found = sqlite3_step (stmt) == SQLITE_ROW;
    if (found && (sqlite3_column_bytes (stmt, 3) != HUB_SIG_BYTES ||
                  memcmp (sqlite3_column_blob (stmt, 3), entry->sig, HUB_SIG_BYTES) != 0))
        entry_refuse (entry, HUB_E_CONFLICT,
                      "another message with this ts and id is stored (seq %lld): a new "
                      "message needs an id of its own",
                      (long long)sqlite3_column_int64 (stmt, 0));
    else if (found) {
        entry->duplicate = true;
        entry->seq = (uint64_t)sqlite3_column_int64 (stmt, 0);
        entry->hub_ts_ms = (uint64_t)sqlite3_column_int64 (stmt, 1);
        if (sqlite3_column_bytes (stmt, 2) == HUB_HASH_BYTES)
            memcpy (entry->hash, sqlite3_column_blob (stmt, 2), HUB_HASH_BYTES);
    }
    sqlite3_reset (stmt);
    return found;
}

//  The outbox: one job per relay that carries the message's channel, in the same
//  transaction as the message (DESIGN.md 7).
static int
s_enqueue (s_self_t *self, const entry_t *entry, uint64_t now)
{
    for (size_t r = 0; r < self->relay_count; r++)
        for (char **channel = self->relay_channels[r]; *channel; channel++)
            if (strcmp (*channel, entry->hdr.channel) == 0) {
                sqlite3_stmt *stmt = self->enqueue;
                sqlite3_bind_text (stmt, 1, self->relay_names[r], -1, SQLITE_STATIC);
                sqlite3_bind_int64 (stmt, 2, (sqlite3_int64)entry->seq);
                sqlite3_bind_int64 (stmt, 3, (sqlite3_int64)now);
                int rc = sqlite3_step (stmt);
                sqlite3_reset (stmt);
                if (rc != SQLITE_DONE)
                    return rc;
                break;
            }
    return SQLITE_DONE;
}

static void
s_load_relays (s_self_t *self, const config_t *config)
{
    self->relay_count = config->relay_count;
    self->relay_names = mem_zalloc ((config->relay_count + 1) * sizeof (char *));
    self->relay_channels = mem_zalloc ((config->relay_count + 1) * sizeof (char **));
    for (size_t r = 0; r < config->relay_count; r++) {
        self->relay_names[r] = mem_strdup (config->relays[r].name);
        self->relay_channels[r] = config_split (config->relays[r].channels);
    }
}

static void
s_free_relays (s_self_t *self)
{
    for (size_t r = 0; r < self->relay_count; r++) {
        free (self->relay_names[r]);
        config_split_free (&self->relay_channels[r]);
    }
    free (self->relay_names);
    free (self->relay_channels);
    self->relay_names = NULL;
    self->relay_channels = NULL;
    self->relay_count = 0;
}

static int
s_insert (s_self_t *self, entry_t *entry, uint64_t now)
{
    entry->seq = self->head + 1;
    entry->hub_ts_ms = now;
    memcpy (entry->prev_hash, self->head_hash, HUB_HASH_BYTES);
    hub_chain_hash (entry->prev_hash, entry->seq, entry->header, entry->hlen, entry->body,
                    entry->blen, entry->sig, entry->hash);
    sqlite3_stmt *stmt = self->insert;
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)entry->seq);
    sqlite3_bind_text (stmt, 2, entry->hdr.channel, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 3, entry->hdr.kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 4, entry->hdr.author, HUB_PUBKEY_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 5, entry->hdr.id, HUB_MSG_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 6, entry->hdr.ts_ms);
    sqlite3_bind_int64 (stmt, 7, (sqlite3_int64)now);
    sqlite3_bind_blob (stmt, 8, entry->header, (int)entry->hlen, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 9, entry->body, (int)entry->blen, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 10, entry->sig, HUB_SIG_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 11, entry->prev_hash, HUB_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 12, entry->hash, HUB_HASH_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc == SQLITE_DONE) {
        self->head = entry->seq;
        memcpy (self->head_hash, entry->hash, HUB_HASH_BYTES);
        rc = s_enqueue (self, entry, now);
    }
    return rc;
}

static int
s_write_checkpoint (s_self_t *self, uint64_t now)
{
    hub_checkpoint_t cp = {.seq = self->head, .ts_ms = now};
    memcpy (cp.hash, self->head_hash, HUB_HASH_BYTES);
    hub_checkpoint_sign (&cp, &self->hub);
    sqlite3_stmt *stmt = self->checkpoint;
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)cp.seq);
    sqlite3_bind_blob (stmt, 2, cp.hash, HUB_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 3, (sqlite3_int64)cp.ts_ms);
    sqlite3_bind_blob (stmt, 4, cp.sig, HUB_SIG_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

//  Stores one checked entry (inside the commit's transaction), or finds it already stored.
//  A message that changes derived state is looked up first, so a retry never applies its
//  change twice; a plain message just tries the INSERT, and only a clash with the dedup
//  index costs a lookup: one B-tree descent less per message on the hot path.
static int
s_store (s_self_t *self, entry_t *entry, uint64_t now)
{
    if (derive_changes (entry->hdr.kind)) {
        if (s_find_duplicate (self, entry) ||
            !derive_apply (self->derive, entry, self->head + 1, now))
            return SQLITE_OK;
        int rc = s_insert (self, entry, now);
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    int rc = s_insert (self, entry, now);
    if (rc == SQLITE_CONSTRAINT_UNIQUE && s_find_duplicate (self, entry))
        return SQLITE_OK;
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

//  After a failed transaction: whatever it would have stored is refused, including a
//  "duplicate" of a row that was only in the rolled-back transaction, and the entries the
//  transaction never reached (a BEGIN that found the database locked reaches none): only
//  a duplicate of a row committed before is still acknowledged.
static void
s_refuse_uncommitted (batch_t **batches, size_t count, uint64_t committed_head, const char *why)
{
    for (size_t b = 0; b < count; b++)
        for (size_t i = 0; i < batches[b]->count; i++) {
            entry_t *entry = batches[b]->entries[i];
            if (entry->err == HUB_OK && (!entry->duplicate || entry->seq > committed_head)) {
                entry->seq = 0;
                entry->duplicate = false;
                entry_refuse (entry, HUB_E_STORAGE, "the hub could not store it: %s", why);
            }
        }
}

static void
s_commit (s_self_t *self, batch_t **batches, size_t count)
{
    if (self->damaged[0]) {
        for (size_t b = 0; b < count; b++)
            for (size_t i = 0; i < batches[b]->count; i++)
                if (batches[b]->entries[i]->err == HUB_OK)
                    entry_refuse (batches[b]->entries[i], HUB_E_STORAGE,
                                  "the hub takes no writes: %s", self->damaged);
        return;
    }
    uint64_t saved_head = self->head;
    uint8_t saved_hash[HUB_HASH_BYTES];
    memcpy (saved_hash, self->head_hash, HUB_HASH_BYTES);
    //  Hub time never goes back along the log, even when the clock does (hubctl verify
    //  checks it: the times are not in the hash chain, but cannot be moved past their
    //  neighbours' or the checkpoint's, which the hub signs).
    uint64_t now = s_now_ms ();
    if (now < self->last_ts)
        now = self->last_ts;
    int rc = db_exec (self->db, "BEGIN IMMEDIATE");
    for (size_t b = 0; b < count && rc == SQLITE_OK; b++)
        for (size_t i = 0; i < batches[b]->count && rc == SQLITE_OK; i++) {
            entry_t *entry = batches[b]->entries[i];
            if (entry->err == HUB_OK)
                rc = s_store (self, entry, now);
        }
    if (rc == SQLITE_OK && self->head != saved_head)
        rc = s_write_checkpoint (self, now);
    if (rc == SQLITE_OK)
        rc = db_exec (self->db, "COMMIT");
    if (rc == SQLITE_OK)
        self->last_ts = now;
    if (rc != SQLITE_OK) {
        const char *why = sqlite3_errstr (rc);
        log_error ("store",
                   "commit of %" PRIu64 " messages failed: %s (%d); refused, nothing "
                   "acknowledged",
                   self->head - saved_head, why, rc);
        db_exec (self->db, "ROLLBACK");
        self->head = saved_head;
        memcpy (self->head_hash, saved_hash, HUB_HASH_BYTES);
        s_refuse_uncommitted (batches, count, saved_head, why);
    }
}

//  Takes the batches that are ready (in number order), commits them, passes them on.
static void
s_commit_ready (s_self_t *self)
{
    batch_t *ready[STORE_RING];
    size_t count = 0, entries = 0;
    while (count < STORE_RING && entries < STORE_COMMIT_MAX) {
        batch_t **slot = &self->ring[self->next_batch % STORE_RING];
        if (!*slot || (*slot)->number != self->next_batch)
            break;
        entries += (*slot)->count;
        ready[count++] = *slot;
        *slot = NULL;
        self->next_batch++;
    }
    if (count == 0)
        return;
    s_commit (self, ready, count);
    for (size_t b = 0; b < count; b++)
        zsock_send (self->out, "p", ready[b]);
}

static void
s_take (s_self_t *self, batch_t *batch)
{
    batch_t **slot = &self->ring[batch->number % STORE_RING];
    assert (*slot == NULL); //  the front door never has STORE_RING batches in flight
    *slot = batch;
}

static void
s_actor (zsock_t *pipe, void *args)
{
    s_self_t *self = args;
    self->pipe = pipe;
    self->in = zsock_new_pull ("@" STORE_IN_ENDPOINT);
    self->out = zsock_new_push (">" STORE_OUT_ENDPOINT);
    assert (self->in && self->out);
    zsock_set_rcvtimeo (self->in, 0);
    zpoller_t *poller = zpoller_new (pipe, self->in, NULL);
    zsock_signal (pipe, 0);

    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe || !which) {
            char *command = NULL;
            void *config = NULL;
            if (zsock_recv (pipe, "sp", &command, &config) != 0 || !command ||
                streq (command, "$TERM")) {
                zstr_free (&command);
                break;
            }
            if (streq (command, "RELAYS")) {
                s_free_relays (self);
                s_load_relays (self, config);
                zsock_signal (pipe, 0);
            }
            zstr_free (&command);
            continue;
        }
        //  Take everything already waiting: that is the group in group commit.
        void *ptr;
        size_t taken = 0;
        while (taken < STORE_RING && zsock_recv (self->in, "p", &ptr) == 0) {
            s_take (self, ptr);
            taken++;
        }
        s_commit_ready (self);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&self->in);
    zsock_destroy (&self->out);
}

store_t *
store_new (const char *db_path, const hub_identity_t *hub,
           const uint8_t admin_pk[HUB_PUBKEY_BYTES], const config_t *config)
{
    sqlite3 *db = db_open_logged (db_path, true, "store");
    if (!db)
        return NULL;
    s_self_t *state = mem_zalloc (sizeof *state);
    state->db = db;
    state->hub = *hub;
    if (!s_read_head (db, &state->head, state->head_hash)) {
        log_error ("store", "cannot read the log head of %s: %s", db_path, sqlite3_errmsg (db));
        sqlite3_close (db);
        free (state);
        return NULL;
    }
    //  Writing on such a log would give the lost seqs out again and sign over the gap.
    //  Reads go on, so that hubctl verify can show the damage.
    //  The checkpoint is signed in each commit's transaction with that commit's time.
    sqlite3_stmt *ts = db_prepare (db, "SELECT ts_ms FROM checkpoint");
    if (ts && sqlite3_step (ts) == SQLITE_ROW)
        state->last_ts = (uint64_t)sqlite3_column_int64 (ts, 0);
    sqlite3_finalize (ts);
    if (!s_anchor_holds (db, state->head, state->head_hash, state->damaged,
                         sizeof state->damaged))
        log_error ("store",
                   "%s: %s. Every write is refused until hub.db is restored from a backup "
                   "(hubctl verify shows the damage)",
                   db_path, state->damaged);
    state->find =
        db_prepare (db, "SELECT seq, hub_ts_ms, hash, sig FROM messages WHERE author = ? "
                        "AND ts_ms = ? AND msg_id = ?");
    state->insert = db_prepare (db, "INSERT INTO messages VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    state->checkpoint = db_prepare (db, "INSERT OR REPLACE INTO checkpoint VALUES (1,?,?,?,?)");
    state->derive = derive_new (db, admin_pk, hub->pk);
    state->enqueue = db_prepare (db, "INSERT INTO relay_jobs (relay, seq, state, next_ms, "
                                     "created_ms) VALUES (?, ?, 'pending', ?3, ?3)");
    s_load_relays (state, config);
    state->next_batch = 1;

    store_t *self = mem_zalloc (sizeof *self);
    self->start_head = state->head;
    log_info ("store", "opened %s: %" PRIu64 " messages in the log", db_path, state->head);
    self->actor = zactor_new (s_actor, state);
    self->state = state;
    return self;
}

void
store_set_relays (store_t *self, const config_t *config)
{
    zsock_send (self->actor, "sp", "RELAYS", config);
    zsock_wait (self->actor);
}

uint64_t
store_head (store_t *self)
{
    return self->start_head;
}

void
store_destroy (store_t **self_p)
{
    store_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);
    s_self_t *state = self->state;
    for (size_t i = 0; i < STORE_RING; i++)
        batch_destroy (&state->ring[i]);
    sqlite3_finalize (state->find);
    sqlite3_finalize (state->insert);
    sqlite3_finalize (state->checkpoint);
    derive_destroy (&state->derive);
    sqlite3_finalize (state->enqueue);
    s_free_relays (state);
    //  A clean close checkpoints the WAL into the database file.
    sqlite3_close (state->db);
    sodium_memzero (&state->hub, sizeof state->hub);
    free (state);
    free (self);
    *self_p = NULL;
}
