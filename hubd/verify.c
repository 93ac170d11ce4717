/*  verify.c - see verify.h. */
#include "verify.h"
#include "entry.h"
#include "log.h"
#include "mem.h"
#include "store.h"
#include "hub_sig.h"
#include <assert.h>
#include <czmq.h>
#include <unistd.h>

#define VERIFY_MAX_THREADS 64

struct _verify_t {
    zactor_t *workers[VERIFY_MAX_THREADS];
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

static void
s_worker (zsock_t *pipe, void *args)
{
    (void)args;
    zsock_t *in = zsock_new_pull (">" VERIFY_ENDPOINT);
    zsock_t *out = zsock_new_push (">" STORE_IN_ENDPOINT);
    assert (in && out);
    zpoller_t *poller = zpoller_new (pipe, in, NULL);
    zsock_signal (pipe, 0);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which != in)
            break; //  $TERM on the pipe, or interrupted
        void *batch = NULL;
        if (zsock_recv (in, "p", &batch) == 0 && batch) {
            s_check (batch);
            zsock_send (out, "p", batch);
        }
    }
    zpoller_destroy (&poller);
    zsock_destroy (&in);
    zsock_destroy (&out);
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
    for (int i = 0; i < threads; i++)
        self->workers[self->count++] = zactor_new (s_worker, NULL);
    log_info ("verify", "%d signature verifier threads", threads);
    return self;
}

void
verify_destroy (verify_t **self_p)
{
    verify_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->count; i++)
        zactor_destroy (&self->workers[i]);
    free (self);
    *self_p = NULL;
}
