/*  deliver.h - subscriptions: live fan-out, catch-up from the log, credit.

    Each subscriber has a cursor: every message with seq <= cursor on its channels has
    been sent (or was not its channel). A subscriber is *live* while its cursor has
   reached the log head the front door knows of; live subscribers get new messages
   straight from each commit. Without credit, or when it subscribed from an older seq, a
   subscriber is *behind*: commits pass it by, and it catches up by reading the log from
   its cursor (reader.h) as far as its credit allows, until it reaches the head and is
   live again. So there is never a gap or a duplicate at the seam between catch-up and
   live delivery, and a stalled subscriber costs a cursor, not a queue: memory stays
   bounded, by credit in messages and by what its peer has not read in bytes.
*/
#ifndef HUBD_DELIVER_H_INCLUDED
#define HUBD_DELIVER_H_INCLUDED

#include "entry.h"
#include "hub_frame.h"
#include "meter.h"
#include "reader.h"
#include <stddef.h>
#include <stdint.h>

typedef struct _deliver_t deliver_t;

//  Resolves an author key to a directory name ("" if none). Borrowed result.
typedef const char *(deliver_name_fn)(const uint8_t key[HUB_PUBKEY_BYTES], void *arg);

//  front is the ROUTER socket (borrowed), reader the log reader (borrowed), meter what
//  each peer has not read of what it was sent (borrowed), head the log head at start.
//  Caller destroys.
deliver_t *deliver_new (void *front, reader_t *reader, meter_t *meter, uint64_t head,
                        deliver_name_fn *name_fn, void *name_arg);

//  Starts (or replaces) the peer's subscription. Returns the head it started at.
//  user names who subscribes (the connection's key hex), for deliver_drop_user.
uint64_t deliver_subscribe (deliver_t *self, const uint8_t *peer, size_t peer_len,
                            uint32_t req_id, const char *user,
                            const hub_subscribe_args_t *args);

//  Ends every subscription of that user (a partner who left), telling each with an ERROR
//  UNKNOWN_PARTNER.
void deliver_drop_user (deliver_t *self, const char *user);

//  Adds credit to the peer's subscription (ignored without one).
void deliver_credit (deliver_t *self, const uint8_t *peer, size_t peer_len, uint32_t credit);

//  Ends the peer's subscription; false if it had none.
bool deliver_unsubscribe (deliver_t *self, const uint8_t *peer, size_t peer_len);

//  Fans out the newly stored entries of committed batches (borrowed, in commit order) to
//  live subscribers, as one delivery round: one MSGS per packing subscriber, not one per
//  batch.
void deliver_committed (deliver_t *self, batch_t *const *batches, size_t count);

//  Handles a catch-up read answered by the reader. Takes ownership of *read_p.
void deliver_read_done (deliver_t *self, read_t **read_p);

//  A subscriber whose peer holds METER_PEER_MAX bytes it has not read (16 MiB), or while
//  all peers hold METER_TOTAL_MAX, is held: nothing more is sent to it, live or from the
//  log. deliver_resume, called often while deliver_holding says so, lets it go on
//  (catching up) once meter_may_resume says so.
void deliver_resume (deliver_t *self);
bool deliver_holding (const deliver_t *self);

//  Probes stalled subscribers so the state of vanished peers is freed.
void deliver_sweep (deliver_t *self);

size_t deliver_subscribers (deliver_t *self);
size_t deliver_behind (deliver_t *self); //  subscribers not live

void deliver_destroy (deliver_t **self_p);

#endif
