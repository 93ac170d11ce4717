/*  deliver.c - see deliver.h for the cursor model. */
#include "deliver.h"
#include "log.h"
#include "mem.h"
#include "wire.h"
#include "hub_text.h"
#include <czmq.h>
#include <string.h>

#define DELIVER_READ_MAX 1000 //  rows per catch-up read
//  Catch-up reads asked of the reader and not yet handled: each holds a page (up to
//  READER_PAGE_BYTES), and a thousand subscribers catching up at once held 443 MB.
#define DELIVER_READS_MAX 32

typedef struct {
    uint64_t id; //  unique: tags catch-up reads, which may outlive the subscription
    uint8_t peer[ENTRY_PEER_MAX];
    size_t peer_len;
    uint32_t req_id;
    char user[65];
    char (*channels)[HUB_CHANNEL_MAX + 1];
    size_t channel_count;
    uint64_t cursor;
    uint64_t credit;
    bool live;
    bool reading;        //  a catch-up read is with the reader
    bool pack;           //  takes MSGS packs (PROTOCOL.md 6.4)
    bool held;           //  paused (deliver_resume): too much unread, or waiting its turn
                         //  for a catch-up read (DELIVER_READS_MAX)
    bool told;           //  the log said so once for this subscription
    meter_peer_t *meter; //  held: what its peer has not read of what it was sent
} s_sub_t;

//  One delivery round (a commit's fan-out, a catch-up page) for one subscriber. A packing
//  subscriber's messages collect in one MSGS, sent when full and when the round ends; its
//  cursor moves only once the pack is sent, so a pack that cannot be sent comes again
//  from the log like any message that found no room.
typedef struct {
    wire_pack_t pack;
    uint64_t advance_to; //  the cursor once the pack is sent: its last or a later seq
    wire_memo_t *memo;   //  a fan-out's packs, shared between subscribers; NULL catching up
} s_round_t;

struct _deliver_t {
    void *front;
    reader_t *reader;
    uint64_t head;
    uint64_t next_id;
    zhashx_t *subs;    //  hex of routing id -> s_sub_t
    wire_memo_t *memo; //  the packs of the fan-out in progress
    deliver_name_fn *name_fn;
    void *name_arg;
    meter_t *meter;
    bool any_held; //  some subscriber may be held (deliver_resume has work)
    size_t reads;  //  catch-up reads with the reader
};

static void
s_sub_destroy (void **item_p)
{
    s_sub_t *sub = *item_p;
    if (sub) {
        meter_peer_release (&sub->meter);
        free (sub->channels);
        free (sub);
        *item_p = NULL;
    }
}

static void
s_peer_key (const uint8_t *peer, size_t peer_len, char key[2 * ENTRY_PEER_MAX + 1])
{
    hub_hex_encode (peer, peer_len, key);
}

deliver_t *
deliver_new (void *front, reader_t *reader, meter_t *meter, uint64_t head,
             deliver_name_fn *name_fn, void *name_arg)
{
    deliver_t *self = mem_zalloc (sizeof *self);
    self->front = front;
    self->reader = reader;
    self->head = head;
    self->next_id = 1;
    self->subs = zhashx_new ();
    zhashx_set_destructor (self->subs, s_sub_destroy);
    self->name_fn = name_fn;
    self->name_arg = name_arg;
    self->meter = meter;
    self->memo = wire_memo_new ();
    return self;
}

static bool
s_wants (const s_sub_t *sub, const char *channel)
{
    for (size_t i = 0; i < sub->channel_count; i++)
        if (strcmp (sub->channels[i], channel) == 0)
            return true;
    return false;
}

static void
s_drop (deliver_t *self, s_sub_t *sub)
{
    char key[2 * ENTRY_PEER_MAX + 1];
    s_peer_key (sub->peer, sub->peer_len, key);
    log_debug ("deliver", "subscriber %" PRIu64 " is gone", sub->id);
    zhashx_delete (self->subs, key);
}

//  Starts a round (not by zero-filling it: the pack is 16 KB, and rounds run per
//  subscriber). memo: the fan-out's, or NULL for a catch-up page.
static void
s_round_start (s_round_t *round, wire_memo_t *memo)
{
    wire_pack_empty (&round->pack);
    round->memo = memo;
}

//  Sends the round's pack; false if it could not (none of it was sent; *gone is set if the
//  subscriber is gone). With nothing packed there is nothing to send.
static bool
s_flush (deliver_t *self, s_sub_t *sub, s_round_t *round, bool *gone)
{
    size_t count = round->pack.count;
    if (count == 0)
        return true;
    wire_result_t result = wire_send_pack (self->front, sub->peer, sub->peer_len, sub->req_id,
                                           &round->pack, round->memo, sub->meter);
    if (result == WIRE_GONE)
        *gone = true;
    if (result != WIRE_SENT)
        return false;
    sub->credit -= count;
    sub->cursor = round->advance_to;
    return true;
}

//  Whether the subscriber's peer has room for more; if not, it is held from now on.
static bool
s_has_room (deliver_t *self, s_sub_t *sub)
{
    //  Credit counts messages, and so does ZeroMQ's high-water mark: 100,000 of credit
    //  at 64 KiB would be 6.5 GB queued for a subscriber that stopped reading.
    if (meter_has_room (sub->meter))
        return true;
    if (!sub->told)
        log_info ("deliver",
                  "subscriber %" PRIu64 " has %zu bytes it was sent and has not read (all "
                  "clients: %zu, at most %zu): nothing more is sent to it until it reads "
                  "(then it catches up)",
                  sub->id, meter_queued (sub->meter), meter_total (), METER_TOTAL_MAX);
    sub->told = true;
    sub->held = true;
    self->any_held = true;
    return false;
}

//  Sends (or packs) one message; false if the subscriber cannot take more now (or is
//  gone, in which case *gone is set and the caller must drop it after it stops iterating).
static bool
s_send (deliver_t *self, s_sub_t *sub, s_round_t *round, const entry_t *entry, bool *gone)
{
    if (sub->credit <= round->pack.count || !s_has_room (self, sub))
        return false;
    const char *name = self->name_fn (entry->hdr.author, self->name_arg);
    if (sub->pack) {
        if (!wire_pack_add (&round->pack, entry, name)) {
            if (!s_flush (self, sub, round, gone))
                return false;
            wire_pack_add (&round->pack, entry, name); //  the pack is empty now
        }
        round->advance_to = entry->seq;
        return true;
    }
    wire_result_t result = wire_send_msg (self->front, sub->peer, sub->peer_len, sub->req_id,
                                          entry, name, sub->meter);
    if (result == WIRE_GONE)
        *gone = true;
    if (result != WIRE_SENT)
        return false;
    sub->credit--;
    sub->cursor = entry->seq;
    return true;
}

//  A message the subscriber does not want: its cursor passes it (after what is packed).
static void
s_pass (s_sub_t *sub, s_round_t *round, uint64_t seq)
{
    if (round->pack.count)
        round->advance_to = seq;
    else
        sub->cursor = seq;
}

//  Asks the reader for up to credit rows of sub's channels after since.
static void
s_read_from (deliver_t *self, s_sub_t *sub, uint64_t since, uint64_t credit)
{
    const char *names[HUB_SUB_CHANNELS_MAX];
    for (size_t i = 0; i < sub->channel_count; i++)
        names[i] = sub->channels[i];
    uint32_t limit = credit < DELIVER_READ_MAX ? (uint32_t)credit : DELIVER_READ_MAX;
    read_t *read = read_new (names, sub->channel_count, since, limit);
    read->tag = sub->id; //  and its peer, to find it again in one lookup
    memcpy (read->peer, sub->peer, sub->peer_len);
    read->peer_len = sub->peer_len;
    sub->reading = true;
    self->reads++;
    reader_request (self->reader, &read);
}

static void
s_start_read (deliver_t *self, s_sub_t *sub)
{
    if (sub->reading || sub->live || sub->credit == 0 || sub->held || !s_has_room (self, sub))
        return;
    if (self->reads >= DELIVER_READS_MAX) { //  its turn comes in deliver_resume
        sub->held = true;
        self->any_held = true;
        return;
    }
    s_read_from (self, sub, sub->cursor, sub->credit);
}

uint64_t
deliver_subscribe (deliver_t *self, const uint8_t *peer, size_t peer_len, uint32_t req_id,
                   const char *user, const hub_subscribe_args_t *args)
{
    s_sub_t *sub = mem_zalloc (sizeof *sub);
    sub->id = self->next_id++;
    memcpy (sub->peer, peer, peer_len);
    sub->peer_len = peer_len;
    sub->req_id = req_id;
    snprintf (sub->user, sizeof sub->user, "%s", user);
    sub->channels = mem_alloc (args->channel_count * sizeof *sub->channels);
    memcpy (sub->channels, args->channels, args->channel_count * sizeof *sub->channels);
    sub->channel_count = args->channel_count;
    sub->credit = args->credit;
    sub->pack = args->pack;
    sub->meter = meter_peer (self->meter, peer, peer_len);
    meter_peer_hold (sub->meter);
    sub->cursor = args->has_since && args->since < self->head ? args->since : self->head;
    sub->live = sub->cursor >= self->head;
    char key[2 * ENTRY_PEER_MAX + 1];
    s_peer_key (peer, peer_len, key);
    zhashx_update (self->subs, key, sub); //  replaces (and frees) an earlier subscription
    s_start_read (self, sub);
    return self->head;
}

//  Drops every subscription for which gone (sub, arg) says so. The hash table cannot lose
//  items while it is walked, so the condemned are collected first.
static void
s_drop_where (deliver_t *self, bool (*gone) (deliver_t *, s_sub_t *, const void *),
              const void *arg)
{
    zlistx_t *condemned = NULL; //  made only when needed: this runs on every commit
    for (s_sub_t *sub = zhashx_first (self->subs); sub; sub = zhashx_next (self->subs))
        if (gone (self, sub, arg)) {
            if (!condemned)
                condemned = zlistx_new ();
            zlistx_add_end (condemned, sub);
        }
    if (!condemned)
        return;
    for (s_sub_t *sub = zlistx_first (condemned); sub; sub = zlistx_next (condemned))
        s_drop (self, sub);
    zlistx_destroy (&condemned);
}

//  A subscription of user ends with an ERROR on it, so the client learns at once why
//  nothing more comes (it would otherwise wait, or resubscribe in vain).
static bool
s_ends_for_user (deliver_t *self, s_sub_t *sub, const void *user)
{
    if (strcmp (sub->user, user) != 0)
        return false;
    wire_send_error (self->front, sub->peer, sub->peer_len, sub->req_id, HUB_E_UNKNOWN_PARTNER,
                     "the partner was removed: its subscription has ended");
    return true;
}

void
deliver_drop_user (deliver_t *self, const char *user)
{
    s_drop_where (self, s_ends_for_user, user);
}

static s_sub_t *
s_lookup (deliver_t *self, const uint8_t *peer, size_t peer_len)
{
    char key[2 * ENTRY_PEER_MAX + 1];
    s_peer_key (peer, peer_len, key);
    return zhashx_lookup (self->subs, key);
}

void
deliver_credit (deliver_t *self, const uint8_t *peer, size_t peer_len, uint32_t credit)
{
    s_sub_t *sub = s_lookup (self, peer, peer_len);
    if (!sub)
        return;
    sub->credit += credit;
    if (sub->credit > HUB_CREDIT_MAX)
        sub->credit = HUB_CREDIT_MAX;
    s_start_read (self, sub);
}

bool
deliver_unsubscribe (deliver_t *self, const uint8_t *peer, size_t peer_len)
{
    s_sub_t *sub = s_lookup (self, peer, peer_len);
    if (sub)
        s_drop (self, sub);
    return sub != NULL;
}

//  Live delivery of the committed batches to one subscriber, as one round: a subscriber
//  taking packs gets them in one MSGS, not one per batch. Returns false if it is gone.
static bool
s_fan_out (deliver_t *self, s_sub_t *sub, batch_t *const *batches, size_t count)
{
    bool gone = false;
    s_round_t round;
    s_round_start (&round, self->memo);
    for (size_t b = 0; b < count && sub->live; b++)
        for (size_t i = 0; i < batches[b]->count && sub->live; i++) {
            const entry_t *entry = batches[b]->entries[i];
            if (entry->err != HUB_OK || entry->duplicate || entry->seq <= sub->cursor)
                continue;
            if (!s_wants (sub, entry->hdr.channel))
                s_pass (sub, &round, entry->seq);
            else if (!s_send (self, sub, &round, entry, &gone))
                sub->live = false; //  out of credit: it will catch up from the log
        }
    if (!s_flush (self, sub, &round, &gone))
        sub->live = false;
    if (!sub->live && !gone)
        s_start_read (self, sub);
    return !gone;
}

//  Committed batches as fan-out sees them: the channels they touch (usually one or two),
//  so a subscriber to none of them skips them at once instead of entry by entry.
#define S_COMMIT_CHANNELS 8
typedef struct {
    batch_t *const *batches;
    size_t count;
    const char *channels[S_COMMIT_CHANNELS];
    size_t channel_count; //  S_COMMIT_CHANNELS + 1: too many to list
    uint64_t last;        //  the last seq it stored
} s_commit_t;

static void
s_commit_add (s_commit_t *commit, const char *channel)
{
    if (commit->channel_count > S_COMMIT_CHANNELS)
        return; //  already too many to list
    for (size_t c = 0; c < commit->channel_count; c++)
        if (strcmp (commit->channels[c], channel) == 0)
            return;
    if (commit->channel_count < S_COMMIT_CHANNELS)
        commit->channels[commit->channel_count] = channel;
    commit->channel_count++;
}

static bool
s_touches (const s_sub_t *sub, const s_commit_t *commit)
{
    if (commit->channel_count > S_COMMIT_CHANNELS)
        return true;
    for (size_t i = 0; i < commit->channel_count; i++)
        if (s_wants (sub, commit->channels[i]))
            return true;
    return false;
}

//  Live delivery of a commit; true if the subscriber turned out to be gone.
static bool
s_fan_out_gone (deliver_t *self, s_sub_t *sub, const void *arg)
{
    const s_commit_t *commit = arg;
    if (!sub->live)
        return false;
    if (!s_touches (sub, commit)) {
        if (commit->last > sub->cursor)
            sub->cursor = commit->last;
        return false;
    }
    return !s_fan_out (self, sub, commit->batches, commit->count);
}

void
deliver_committed (deliver_t *self, batch_t *const *batches, size_t count)
{
    s_commit_t commit = {.batches = batches, .count = count};
    for (size_t b = 0; b < count; b++)
        for (size_t i = 0; i < batches[b]->count; i++) {
            const entry_t *entry = batches[b]->entries[i];
            if (entry->err != HUB_OK || entry->duplicate)
                continue;
            if (entry->seq > commit.last)
                commit.last = entry->seq;
            s_commit_add (&commit, entry->hdr.channel);
        }
    if (commit.last > self->head)
        self->head = commit.last;
    s_drop_where (self, s_fan_out_gone, &commit);
    wire_memo_clear (self->memo);
}

void
deliver_read_done (deliver_t *self, read_t **read_p)
{
    read_t *read = *read_p;
    self->reads--;
    //  The subscription that asked, unless it ended or was replaced meanwhile.
    s_sub_t *sub = s_lookup (self, read->peer, read->peer_len);
    if (sub && sub->id != read->tag)
        sub = NULL;
    if (sub && read->since != sub->cursor) {
        //  Read ahead from where the previous page ended, but that page could not all be
        //  sent: its rest comes again from the cursor.
        sub->reading = false;
        s_start_read (self, sub);
    } else if (sub) {
        sub->reading = false;
        //  Catching up, the next page is read while this one is sent: the reader thread
        //  and the front door overlap instead of taking turns.
        if (read->more && read->err == HUB_OK && read->rows->count &&
            sub->credit > read->rows->count)
            s_read_from (self, sub, read->rows->entries[read->rows->count - 1]->seq,
                         sub->credit - read->rows->count);
        bool gone = false, blocked = false;
        s_round_t round;
        s_round_start (&round, NULL);
        for (size_t i = 0; i < read->rows->count && !blocked; i++)
            if (read->rows->entries[i]->seq > sub->cursor)
                blocked = !s_send (self, sub, &round, read->rows->entries[i], &gone);
        if (!s_flush (self, sub, &round, &gone))
            blocked = true;
        if (!blocked && !read->more && read->err == HUB_OK && read->head > sub->cursor)
            sub->cursor = read->head; //  everything up to the snapshot's head is covered
        if (!gone && !blocked && read->err != HUB_OK) {
            //  Reading again would fail again (a damaged row): the subscription ends, and
            //  the client learns why.
            wire_send_error (self->front, sub->peer, sub->peer_len, sub->req_id, read->err,
                             read->why[0] ? read->why : "the log could not be read");
            gone = true;
        }
        if (gone)
            s_drop (self, sub);
        else if (sub->cursor >= self->head && !sub->reading)
            sub->live = true;
        else
            s_start_read (self, sub);
    }
    read_destroy (read_p);
    if (self->any_held && self->reads < DELIVER_READS_MAX / 2)
        deliver_resume (self); //  subscribers waiting for a turn with the reader
}

//  A subscriber is sent a PONG: ROUTER_MANDATORY tells whether it is still there. A live
//  one on a quiet channel is probed too, or one that left would be counted (status) and
//  kept until the channel's next message.
static bool
s_probe_gone (deliver_t *self, s_sub_t *sub, const void *arg)
{
    (void)arg;
    return !sub->reading && wire_send_json (self->front, sub->peer, sub->peer_len, HUB_CMD_PONG,
                                            0, NULL) == WIRE_GONE;
}

void
deliver_sweep (deliver_t *self)
{
    s_drop_where (self, s_probe_gone, NULL);
}

void
deliver_resume (deliver_t *self)
{
    if (!self->any_held)
        return;
    self->any_held = false;
    for (s_sub_t *sub = zhashx_first (self->subs); sub; sub = zhashx_next (self->subs))
        if (sub->held && !meter_may_resume (sub->meter))
            self->any_held = true;
        else if (sub->held) {
            sub->held = false;
            s_start_read (self, sub);
        }
}

bool
deliver_holding (const deliver_t *self)
{
    return self->any_held;
}

size_t
deliver_subscribers (deliver_t *self)
{
    return zhashx_size (self->subs);
}

size_t
deliver_behind (deliver_t *self)
{
    size_t behind = 0;
    for (s_sub_t *sub = zhashx_first (self->subs); sub; sub = zhashx_next (self->subs))
        behind += !sub->live;
    return behind;
}

void
deliver_destroy (deliver_t **self_p)
{
    deliver_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->subs);
    wire_memo_destroy (&self->memo);
    free (self);
    *self_p = NULL;
}
