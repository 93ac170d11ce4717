/*  verify.c - see verify.h. */
#include "verify.h"
#include "log.h"
#include "mem.h"
#include "store.h"
#include "hub_sig.h"
#include <assert.h>
#include <czmq.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VERIFY_MAX_THREADS 64

struct _verify_t {
    pthread_mutex_t lock;
    pthread_cond_t queued; //  a batch was queued, or the pool is stopping
    zlistx_t *queue;       //  batch_t pointers, oldest first; under lock
    bool stopping;         //  under lock
    atomic_int idle;       //  threads waiting for a batch
    pthread_t threads[VERIFY_MAX_THREADS];
    int count;
};

static void
s_check (batch_t *batch)
{
    for (size_t i = 0; i < batch->count; i++) {
        entry_t *entry = batch->entries[i];
        if (entry->err == HUB_OK &&
            !hub_msg_verify (entry->hdr.author, entry->header, entry->hlen, entry->body,
                             entry->blen, entry->sig))
            entry_refuse (entry, HUB_E_BAD_SIGNATURE,
                          "the signature does not verify with the author key");
    }
}

//  The oldest queued batch, after waiting for one; NULL once the pool stops.
static batch_t *
s_next (verify_t *self)
{
    pthread_mutex_lock (&self->lock);
    batch_t *batch = NULL;
    while (!self->stopping && !(batch = zlistx_detach (self->queue, NULL))) {
        atomic_fetch_add (&self->idle, 1);
        pthread_cond_wait (&self->queued, &self->lock);
        atomic_fetch_sub (&self->idle, 1);
    }
    pthread_mutex_unlock (&self->lock);
    return batch;
}

static void *
s_worker (void *args)
{
    verify_t *self = args;
    zsock_t *out = zsock_new_push (">" STORE_IN_ENDPOINT);
    assert (out);
    batch_t *batch;
    while ((batch = s_next (self))) {
        s_check (batch);
        zsock_send (out, "p", batch);
    }
    zsock_destroy (&out);
    return NULL;
}

verify_t *
verify_new (int threads)
{
    if (threads <= 0) {
        long cores = sysconf (_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (int)cores : 1;
    }
    if (threads > VERIFY_MAX_THREADS)
        threads = VERIFY_MAX_THREADS;
    verify_t *self = mem_zalloc (sizeof *self);
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->queued, NULL);
    self->queue = zlistx_new ();
    assert (self->queue);
    for (int i = 0; i < threads; i++) {
        int rc = pthread_create (&self->threads[self->count], NULL, s_worker, self);
        if (rc != 0) {
            log_error ("verify", "cannot start verifier thread %d: %s", i + 1, strerror (rc));
            break;
        }
        self->count++;
    }
    if (self->count == 0)
        abort (); //  as mem_alloc: a hub that cannot check a signature is no hub
    log_info ("verify", "%d signature verifier threads", self->count);
    return self;
}

void
verify_submit (verify_t *self, batch_t *batch)
{
    pthread_mutex_lock (&self->lock);
    zlistx_add_end (self->queue, batch);
    pthread_cond_signal (&self->queued);
    pthread_mutex_unlock (&self->lock);
}

int
verify_idle (verify_t *self)
{
    return atomic_load (&self->idle);
}

void
verify_destroy (verify_t **self_p)
{
    verify_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    pthread_cond_broadcast (&self->queued);
    pthread_mutex_unlock (&self->lock);
    for (int i = 0; i < self->count; i++)
        pthread_join (self->threads[i], NULL);
    batch_t *batch;
    while ((batch = zlistx_detach (self->queue, NULL)))
        batch_destroy (&batch);
    zlistx_destroy (&self->queue);
    pthread_cond_destroy (&self->queued);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}
