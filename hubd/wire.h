/*  wire.h - sending the hub's answers on the front door's ROUTER socket.

    Every send is non-blocking and the socket has ZMQ_ROUTER_MANDATORY set, so a send
   tells whether the peer is gone (WIRE_GONE) or its pipe is full (WIRE_FULL) instead of
    silently dropping: the caller decides what that means (drop the subscriber, wait for
    credit). Frame layouts are PROTOCOL.md's.
*/
#ifndef HUBD_WIRE_H_INCLUDED
#define HUBD_WIRE_H_INCLUDED

#include "entry.h"
#include "hub_err.h"
#include "meter.h"
#include <stddef.h>
#include <stdint.h>

typedef enum { WIRE_SENT, WIRE_FULL, WIRE_GONE } wire_result_t;

//  MSG: meta from the entry's seq/hub_ts/prev_hash/hash, then its exact bytes. Its frames
//  are counted on the peer's meter until ZeroMQ lets them go.
wire_result_t wire_send_msg (void *front, const uint8_t *peer, size_t peer_len, uint32_t req_id,
                             const entry_t *entry, const char *author_name,
                             meter_peer_t *meter);

//  A MSGS pack being filled for one peer (PROTOCOL.md 6.4). Entries and names are
//  borrowed until the pack is sent. One CURVE message then carries many MSG records:
//  catch-up and fan-out pay the per-message encryption once per pack, not five times per
//  message.
#define WIRE_PACK_RECORDS 1000         //  a catch-up page, a commit batch
#define WIRE_PACK_BYTES   (128 * 1024) //  fill up to this; one record may exceed it alone
typedef struct {
    const entry_t *entries[WIRE_PACK_RECORDS];
    const char *names[WIRE_PACK_RECORDS];
    size_t count;
    size_t bytes;
} wire_pack_t;

//  Makes the pack empty (a new one, or one whose entries are no longer wanted).
void wire_pack_empty (wire_pack_t *pack);

//  Adds the entry if it fits (it always does in an empty pack); false if the pack is full
//  for it, and must be sent first.
bool wire_pack_add (wire_pack_t *pack, const entry_t *entry, const char *author_name);

//  Packs built in one fan-out round, kept so that subscribers getting the same messages
//  share one buffer: each peer's frame refers to it (CURVE encrypts per peer when it
//  sends). A thousand live subscribers of one channel hold one copy of a commit's pack
//  between them instead of a thousand, and each still counts it on its own meter.
typedef struct _wire_memo_t wire_memo_t;

wire_memo_t *wire_memo_new (void);

//  Forgets the packs (the frames live on in the queues that hold them); the entries they
//  were built from may go after this.
void wire_memo_clear (wire_memo_t *self);

void wire_memo_destroy (wire_memo_t **self_p);

//  Sends the pack as one MSGS and empties it, whatever the result: WIRE_FULL and
//  WIRE_GONE mean none of it was sent. Its bytes are counted on the peer's meter until
//  ZeroMQ lets them go. With a memo (else NULL), a pack of the same entries built earlier in
//  the round is sent again instead of being encoded anew.
wire_result_t wire_send_pack (void *front, const uint8_t *peer, size_t peer_len,
                              uint32_t req_id, wire_pack_t *pack, wire_memo_t *memo,
                              meter_peer_t *meter);

//  One ACKS for the run of packed, stored entries from the same peer that starts at
//  entries[0] (at most count long). Returns how many entries it acknowledged (at least 1).
size_t wire_send_acks (void *front, entry_t *const *entries, size_t count);

wire_result_t wire_send_ack (void *front, const uint8_t *peer, size_t peer_len, uint32_t req_id,
                             uint64_t seq, bool duplicate);

wire_result_t wire_send_error (void *front, const uint8_t *peer, size_t peer_len,
                               uint32_t req_id, hub_err_t code, const char *reason);

//  REPLY or END with a JSON text (borrowed), or PONG with json NULL.
wire_result_t wire_send_json (void *front, const uint8_t *peer, size_t peer_len, uint8_t cmd,
                              uint32_t req_id, const char *json);

#endif
