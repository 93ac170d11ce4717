/*  verify.h - the pool of threads that check Ed25519 signatures.

    Signature checks are the CPU ceiling of hubd (~23,000/s per core), so they run on one
    thread per core, off the front door's thread. The front door PUSHes batch_t pointers
    to VERIFY_ENDPOINT; each thread checks every entry not already refused, marks the ones
    that fail with HUB_E_BAD_SIGNATURE, and PUSHes the batch on to the store. Batches
    (rather than single messages) keep the hand-off cost per message low.
*/
#ifndef HUBD_VERIFY_H_INCLUDED
#define HUBD_VERIFY_H_INCLUDED

#define VERIFY_ENDPOINT "inproc://hubd-verify"

typedef struct _verify_t verify_t;

//  Starts threads verifier threads (0 = one per online core). Caller destroys the pool.
verify_t *verify_new (int threads);

//  Stops every thread; NULL-safe.
void verify_destroy (verify_t **self_p);

#endif
