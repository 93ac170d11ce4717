/*  wire.c - see wire.h. */
#include "wire.h"
#include "mem.h"
#include "hub_frame.h"
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  Sends the routing frame and the envelope; the result of the first frame decides the
//  whole message (ZeroMQ checks routability and high-water mark there).
static wire_result_t
s_begin (void *front, const uint8_t *peer, size_t peer_len, uint8_t cmd, uint32_t req_id,
         bool more)
{
    if (zmq_send (front, peer, peer_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return errno == EHOSTUNREACH ? WIRE_GONE : WIRE_FULL;
    uint8_t env[HUB_ENV_BYTES];
    hub_env_encode (cmd, req_id, env);
    int rc = zmq_send (front, env, sizeof env, more ? ZMQ_SNDMORE : 0);
    assert (rc == HUB_ENV_BYTES);
    return WIRE_SENT;
}

static void
s_frame (void *front, const void *data, size_t size, bool more)
{
    int rc = zmq_send (front, data, size, more ? ZMQ_SNDMORE : 0);
    assert (rc >= 0);
    (void)rc;
}

//  A frame as s_frame sends it, counted on the meter until ZeroMQ lets it go: every
//  frame of a MSG, as 200,000 queued small ones hold far more than their bodies.
static void
s_frame_metered (void *front, meter_peer_t *meter, const void *data, size_t size, bool more)
{
    zmq_msg_t frame;
    memcpy (meter_frame (meter, &frame, size), data, size);
    int rc = zmq_msg_send (&frame, front, more ? ZMQ_SNDMORE : 0);
    assert (rc >= 0);
    (void)rc;
}

//  What a MSG carries for an entry, as a MSGS record; meta is the caller's buffer for the
//  encoded meta (NULL: sizes only).
static hub_record_t
s_record (const entry_t *entry, const char *author_name, uint8_t *meta)
{
    if (meta) {
        hub_meta_t fields = {.seq = entry->seq, .hub_ts_ms = entry->hub_ts_ms};
        memcpy (fields.prev_hash, entry->prev_hash, HUB_HASH_BYTES);
        memcpy (fields.hash, entry->hash, HUB_HASH_BYTES);
        hub_meta_encode (&fields, meta);
    }
    return (hub_record_t){meta,        entry->header, entry->hlen, entry->body,
                          entry->blen, entry->sig,    author_name, strlen (author_name)};
}

static size_t
s_record_size (const entry_t *entry, const char *author_name)
{
    hub_record_t record = s_record (entry, author_name, NULL);
    return hub_record_size (&record);
}

wire_result_t
wire_send_msg (void *front, const uint8_t *peer, size_t peer_len, uint32_t req_id,
               const entry_t *entry, const char *author_name, meter_peer_t *meter)
{
    assert (meter);
    wire_result_t result = s_begin (front, peer, peer_len, HUB_CMD_MSG, req_id, true);
    if (result != WIRE_SENT)
        return result;
    uint8_t meta[HUB_META_BYTES];
    hub_record_t record = s_record (entry, author_name, meta);
    s_frame_metered (front, meter, record.meta, HUB_META_BYTES, true);
    s_frame_metered (front, meter, record.header, record.hlen, true);
    s_frame_metered (front, meter, record.body, record.blen, true);
    s_frame_metered (front, meter, record.sig, HUB_SIG_BYTES, true);
    s_frame_metered (front, meter, record.name, record.nlen, false);
    return WIRE_SENT;
}

void
wire_pack_empty (wire_pack_t *pack)
{
    pack->count = 0;
    pack->bytes = 0;
}

bool
wire_pack_add (wire_pack_t *pack, const entry_t *entry, const char *author_name)
{
    size_t size = s_record_size (entry, author_name);
    if (pack->count > 0 &&
        (pack->count == WIRE_PACK_RECORDS || pack->bytes + size > WIRE_PACK_BYTES))
        return false;
    pack->entries[pack->count] = entry;
    pack->names[pack->count++] = author_name;
    pack->bytes += size;
    return true;
}

//  A memo remembers the last few packs of a round (subscribers of different channels get
//  different packs; a handful of slots covers the usual few channel sets).
#define WIRE_MEMO_SLOTS 4
typedef struct {
    const entry_t *entries[WIRE_PACK_RECORDS]; //  what the frame was built from, in order
    size_t count;
    meter_shared_t *shared; //  the MSGS frame's bytes, built from them (count > 0)
} s_memo_slot_t;

struct _wire_memo_t {
    s_memo_slot_t slots[WIRE_MEMO_SLOTS];
    size_t next; //  the slot a new pack takes
};

wire_memo_t *
wire_memo_new (void)
{
    return mem_zalloc (sizeof (wire_memo_t));
}

void
wire_memo_clear (wire_memo_t *self)
{
    for (size_t i = 0; i < WIRE_MEMO_SLOTS; i++)
        if (self->slots[i].count) {
            meter_shared_unref (&self->slots[i].shared);
            self->slots[i].count = 0;
        }
    self->next = 0;
}

void
wire_memo_destroy (wire_memo_t **self_p)
{
    if (*self_p) {
        wire_memo_clear (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

//  The slot holding a frame built from exactly the pack's entries, or NULL. The names
//  need no comparing: in one round an author has one name.
static s_memo_slot_t *
s_memo_find (wire_memo_t *self, const wire_pack_t *pack)
{
    for (size_t i = 0; i < WIRE_MEMO_SLOTS; i++) {
        s_memo_slot_t *slot = &self->slots[i];
        if (slot->count == pack->count &&
            memcmp (slot->entries, pack->entries, pack->count * sizeof *pack->entries) == 0)
            return slot;
    }
    return NULL;
}

//  Writes the pack's records, back to back, at at (pack->bytes of room).
static void
s_pack_write (const wire_pack_t *pack, uint8_t *at)
{
    uint8_t *start = at;
    for (size_t i = 0; i < pack->count; i++) {
        uint8_t meta[HUB_META_BYTES];
        hub_record_t record = s_record (pack->entries[i], pack->names[i], meta);
        at += hub_record_encode (&record, at);
    }
    assert (at == start + pack->bytes);
    (void)start;
}

//  The memo's slot holding the pack's frame bytes, built now if none does.
static s_memo_slot_t *
s_memo_slot (wire_memo_t *self, const wire_pack_t *pack)
{
    s_memo_slot_t *slot = s_memo_find (self, pack);
    if (slot)
        return slot;
    slot = &self->slots[self->next];
    self->next = (self->next + 1) % WIRE_MEMO_SLOTS;
    if (slot->count)
        meter_shared_unref (&slot->shared);
    memcpy (slot->entries, pack->entries, pack->count * sizeof *pack->entries);
    slot->count = pack->count;
    slot->shared = meter_shared_new (pack->bytes);
    s_pack_write (pack, meter_shared_data (slot->shared));
    return slot;
}

wire_result_t
wire_send_pack (void *front, const uint8_t *peer, size_t peer_len, uint32_t req_id,
                wire_pack_t *pack, wire_memo_t *memo, meter_peer_t *meter)
{
    assert (meter); //  a shared frame is counted on each peer it goes to
    wire_result_t result = s_begin (front, peer, peer_len, HUB_CMD_MSGS, req_id, true);
    if (result == WIRE_SENT) {
        zmq_msg_t frame;
        if (memo)
            meter_frame_shared (meter, &frame, s_memo_slot (memo, pack)->shared);
        else
            s_pack_write (pack, meter_frame (meter, &frame, pack->bytes));
        int rc = zmq_msg_send (&frame, front, 0);
        assert (rc >= 0);
        (void)rc;
    }
    wire_pack_empty (pack);
    return result;
}

size_t
wire_send_acks (void *front, entry_t *const *entries, size_t count)
{
    const entry_t *first = entries[0];
    size_t run = 1;
    while (run < count && run < HUB_PUBLISHES_MAX && entries[run]->packed &&
           entries[run]->err == HUB_OK && entries[run]->peer_len == first->peer_len &&
           memcmp (entries[run]->peer, first->peer, first->peer_len) == 0)
        run++;
    if (s_begin (front, first->peer, first->peer_len, HUB_CMD_ACKS, 0, true) == WIRE_SENT) {
        zmq_msg_t frame;
        int rc = zmq_msg_init_size (&frame, run * HUB_ACKS_RECORD_BYTES);
        assert (rc == 0);
        uint8_t *at = zmq_msg_data (&frame);
        for (size_t i = 0; i < run; i++, at += HUB_ACKS_RECORD_BYTES)
            hub_acks_record_encode (entries[i]->req_id, entries[i]->seq, entries[i]->duplicate,
                                    at);
        rc = zmq_msg_send (&frame, front, 0);
        assert (rc >= 0);
        (void)rc;
    }
    return run;
}

wire_result_t
wire_send_ack (void *front, const uint8_t *peer, size_t peer_len, uint32_t req_id, uint64_t seq,
               bool duplicate)
{
    wire_result_t result = s_begin (front, peer, peer_len, HUB_CMD_ACK, req_id, true);
    if (result == WIRE_SENT) {
        uint8_t ack[HUB_ACK_BYTES];
        hub_ack_encode (seq, duplicate, ack);
        s_frame (front, ack, sizeof ack, false);
    }
    return result;
}

wire_result_t
wire_send_error (void *front, const uint8_t *peer, size_t peer_len, uint32_t req_id,
                 hub_err_t code, const char *reason)
{
    char *json = hub_error_encode (code, reason);
    wire_result_t result = wire_send_json (front, peer, peer_len, HUB_CMD_ERROR, req_id, json);
    free (json);
    return result;
}

wire_result_t
wire_send_json (void *front, const uint8_t *peer, size_t peer_len, uint8_t cmd, uint32_t req_id,
                const char *json)
{
    wire_result_t result = s_begin (front, peer, peer_len, cmd, req_id, json != NULL);
    if (result == WIRE_SENT && json)
        s_frame (front, json, strlen (json), false);
    return result;
}
