/*  verify.h - the pool of threads that check Ed25519 signatures.

    Signature checks are the CPU ceiling of hubd (~23,000/s per core), so they run on one
    thread per core, off the front door's thread. The front door submits batches to one
    queue that every thread takes from, so a batch waits only while every thread is busy
    (a round-robin hand-out queued batches behind a busy thread while another was idle).
    Each thread checks every entry not already refused, marks the ones that fail with
    HUB_E_BAD_SIGNATURE, and PUSHes the batch on to the store. Batches (rather than single
    messages) keep the hand-off cost per message low.
*/
#ifndef HUBD_VERIFY_H_INCLUDED
#define HUBD_VERIFY_H_INCLUDED

#include "entry.h"

typedef struct _verify_t verify_t;

//  Starts threads verifier threads (0 = one per online core). Caller destroys the pool.
verify_t *verify_new (int threads);

//  Queues the batch (the pool owns it from now on) for the first thread that is free.
void verify_submit (verify_t *self, batch_t *batch);

//  How many threads are waiting for a batch now: a hint, which may change at once.
int verify_idle (verify_t *self);

//  Stops every thread after the batch it is checking; batches still queued are destroyed.
//  NULL-safe.
void verify_destroy (verify_t **self_p);

#endif
