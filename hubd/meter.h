/*  meter.h - how many bytes of the hub's answers to each peer ZeroMQ still holds.

    ZeroMQ's send high-water mark counts messages, not bytes: 200,000 history MSGs of
    64 KiB are 13 GB queued for one client that asks for pages and never reads them. A
    metered frame owns its buffer and ZeroMQ frees it once it has written it to the
    connection (or dropped it with the connection); the free counts its bytes off the
    peer's meter, from ZeroMQ's I/O thread. So the front door can see, before it sends
    more history to a peer, what that peer has not taken yet.

    One thread (the front door's) finds peers, makes frames and sweeps; the releases may
    run on any thread.
*/
#ifndef HUBD_METER_H_INCLUDED
#define HUBD_METER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

typedef struct _meter_t meter_t;
typedef struct _meter_peer_t meter_peer_t;

meter_t *meter_new (void);

//  Frees the set. Frames still queued keep their peer's meter alive (it is freed by
//  their release), so ZeroMQ may outlive the set.
void meter_destroy (meter_t **self_p);

//  The meter of the peer with this routing id, made if it has none.
meter_peer_t *meter_peer (meter_t *self, const uint8_t *peer, size_t peer_len);

//  Bytes of the peer's metered frames that ZeroMQ has not released yet.
size_t meter_queued (const meter_peer_t *peer);

//  Bytes of every peer's metered frames not yet released, a shared buffer counted once:
//  what the queues really hold. Many connections (one partner may open any number) each
//  under its own bound could still add up to more memory than the machine has.
size_t meter_total (void);

//  The bounds the front door keeps to before it sends a peer more of what it asked for
//  (history pages, subscription messages): METER_PEER_MAX unread by this peer, and
//  METER_TOTAL_MAX in all. A peer held back goes on once it is down to half its bound
//  and the total to three quarters (meter_may_resume), so it does not stop and start at
//  every frame.
#define METER_PEER_MAX  ((size_t)16 << 20)
#define METER_TOTAL_MAX ((size_t)128 << 20)
bool meter_has_room (const meter_peer_t *peer);
bool meter_may_resume (const meter_peer_t *peer);

//  Initialises frame with a buffer of size bytes, metered to peer; returns the buffer
//  for the caller to fill before it sends the frame.
void *meter_frame (meter_peer_t *peer, zmq_msg_t *frame, size_t size);

//  A buffer the frames of several peers share (a fan-out's pack, built once). Each
//  peer's frame counts the whole buffer on that peer's meter: any one of them keeps it
//  in memory. Made with one reference, the caller's.
typedef struct _meter_shared_t meter_shared_t;
meter_shared_t *meter_shared_new (size_t size);
void *meter_shared_data (meter_shared_t *self);
void meter_shared_unref (meter_shared_t **self_p);

//  Initialises frame with the shared buffer's bytes, metered to peer.
void meter_frame_shared (meter_peer_t *peer, zmq_msg_t *frame, meter_shared_t *shared);

//  Keeps the peer's meter from the sweep while the caller holds it (a subscription);
//  release drops that hold and sets *peer_p to NULL.
void meter_peer_hold (meter_peer_t *peer);
void meter_peer_release (meter_peer_t **peer_p);

//  The peer's history reads in progress (asked of the reader, not yet sent): each holds
//  a page in memory, so the front door takes only a few at a time from one connection.
int meter_reads (const meter_peer_t *peer);
void meter_read_start (meter_peer_t *peer);
void meter_read_end (meter_peer_t *peer);
//  Every peer's reads in progress together.
int meter_reads_total (void);

//  Forgets the peers with nothing queued, no read in progress and no hold (the front door's
//  periodic sweep).
void meter_sweep (meter_t *self);

#endif
