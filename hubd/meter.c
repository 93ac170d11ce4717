/*  meter.c - see meter.h. */
#include "meter.h"
#include "mem.h"
#include <assert.h>
#include <czmq.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct _meter_peer_t {
    atomic_size_t bytes; //  queued, not yet released
    atomic_size_t refs;  //  the set's, one per queued frame and per hold: the last frees it
    int reads;           //  the front door's alone
};

struct _meter_t {
    zhashx_t *peers; //  hex routing id -> meter_peer_t
};

#define METER_FRAME_OVERHEAD 128 //  bytes: zmq_msg_t, its content record, malloc's header

//  One front door per process; frames are released on ZeroMQ's I/O thread.
static atomic_size_t s_total;

//  A metered buffer: what it counts, then the bytes ZeroMQ sends.
typedef struct {
    meter_peer_t *peer;
    size_t size;
    max_align_t data[];
} s_block_t;

static void
s_unref (meter_peer_t *peer)
{
    if (atomic_fetch_sub (&peer->refs, 1) == 1)
        free (peer);
}

static void
s_release (void *data, void *hint)
{
    s_block_t *block = hint;
    (void)data;
    meter_peer_t *peer = block->peer;
    atomic_fetch_sub (&peer->bytes, block->size);
    atomic_fetch_sub (&s_total, block->size);
    free (block);
    s_unref (peer);
}

meter_t *
meter_new (void)
{
    meter_t *self = mem_zalloc (sizeof *self);
    self->peers = zhashx_new ();
    return self;
}

void
meter_destroy (meter_t **self_p)
{
    meter_t *self = *self_p;
    if (!self)
        return;
    for (meter_peer_t *peer = zhashx_first (self->peers); peer;
         peer = zhashx_next (self->peers))
        s_unref (peer); //  the set's reference: queued frames keep it until released
    zhashx_destroy (&self->peers);
    free (self);
    *self_p = NULL;
}

meter_peer_t *
meter_peer (meter_t *self, const uint8_t *peer, size_t peer_len)
{
    char key[2 * 256 + 1];
    if (peer_len > 256)
        peer_len = 256;
    for (size_t i = 0; i < peer_len; i++)
        snprintf (key + 2 * i, 3, "%02x", peer[i]);
    key[2 * peer_len] = 0;
    meter_peer_t *meter = zhashx_lookup (self->peers, key);
    if (!meter) {
        meter = mem_zalloc (sizeof *meter);
        atomic_init (&meter->refs, 1);
        zhashx_insert (self->peers, key, meter);
    }
    return meter;
}

size_t
meter_queued (const meter_peer_t *peer)
{
    return atomic_load (&peer->bytes);
}

size_t
meter_total (void)
{
    return atomic_load (&s_total);
}

bool
meter_has_room (const meter_peer_t *peer)
{
    return meter_queued (peer) < METER_PEER_MAX && meter_total () < METER_TOTAL_MAX;
}

bool
meter_may_resume (const meter_peer_t *peer)
{
    return meter_queued (peer) <= METER_PEER_MAX / 2 &&
           meter_total () <= METER_TOTAL_MAX / 4 * 3;
}

void *
meter_frame (meter_peer_t *peer, zmq_msg_t *frame, size_t size)
{
    s_block_t *block = mem_alloc (sizeof *block + (size ? size : 1));
    block->peer = peer;
    //  Counted with what ZeroMQ and malloc add to a frame, so that many small frames
    //  weigh what they cost.
    block->size = size + METER_FRAME_OVERHEAD;
    atomic_fetch_add (&peer->bytes, block->size);
    atomic_fetch_add (&s_total, block->size);
    atomic_fetch_add (&peer->refs, 1);
    int rc = zmq_msg_init_data (frame, block->data, size, s_release, block);
    assert (rc == 0);
    (void)rc;
    return block->data;
}

struct _meter_shared_t {
    atomic_size_t refs; //  the maker's, and one per frame
    size_t size;
    max_align_t data[];
};

//  One peer's frame of a shared buffer: ZeroMQ gives each frame its own release.
typedef struct {
    meter_peer_t *peer;
    meter_shared_t *shared;
} s_share_t;

//  What one peer's frame of a shared buffer counts on that peer.
static size_t
s_share_size (const meter_shared_t *shared)
{
    return shared->size + METER_FRAME_OVERHEAD;
}

meter_shared_t *
meter_shared_new (size_t size)
{
    meter_shared_t *self = mem_alloc (sizeof *self + (size ? size : 1));
    atomic_init (&self->refs, 1);
    self->size = size;
    atomic_fetch_add (&s_total, s_share_size (self)); //  once, however many peers share it
    return self;
}

void *
meter_shared_data (meter_shared_t *self)
{
    return self->data;
}

static void
s_shared_unref (meter_shared_t *self)
{
    if (atomic_fetch_sub (&self->refs, 1) == 1) {
        atomic_fetch_sub (&s_total, s_share_size (self));
        free (self);
    }
}

void
meter_shared_unref (meter_shared_t **self_p)
{
    if (*self_p) {
        s_shared_unref (*self_p);
        *self_p = NULL;
    }
}

static void
s_release_share (void *data, void *hint)
{
    s_share_t *share = hint;
    (void)data;
    atomic_fetch_sub (&share->peer->bytes, s_share_size (share->shared));
    s_unref (share->peer);
    s_shared_unref (share->shared);
    free (share);
}

void
meter_frame_shared (meter_peer_t *peer, zmq_msg_t *frame, meter_shared_t *shared)
{
    s_share_t *share = mem_alloc (sizeof *share);
    share->peer = peer;
    share->shared = shared;
    atomic_fetch_add (&peer->bytes, s_share_size (shared));
    atomic_fetch_add (&peer->refs, 1);
    atomic_fetch_add (&shared->refs, 1);
    int rc = zmq_msg_init_data (frame, shared->data, shared->size, s_release_share, share);
    assert (rc == 0);
    (void)rc;
}

void
meter_peer_hold (meter_peer_t *peer)
{
    atomic_fetch_add (&peer->refs, 1);
}

void
meter_peer_release (meter_peer_t **peer_p)
{
    if (*peer_p) {
        s_unref (*peer_p);
        *peer_p = NULL;
    }
}

int
meter_reads (const meter_peer_t *peer)
{
    return peer->reads;
}

static int s_reads; //  every peer's, the front door's alone

void
meter_read_start (meter_peer_t *peer)
{
    peer->reads++;
    s_reads++;
}

void
meter_read_end (meter_peer_t *peer)
{
    if (peer->reads > 0) {
        peer->reads--;
        s_reads--;
    }
}

int
meter_reads_total (void)
{
    return s_reads;
}

void
meter_sweep (meter_t *self)
{
    //  Only this thread adds references, so a meter with the set's alone stays that way.
    zlistx_t *idle = zlistx_new ();
    zlistx_set_destructor (idle, (zlistx_destructor_fn *)zstr_free);
    for (meter_peer_t *peer = zhashx_first (self->peers); peer;
         peer = zhashx_next (self->peers))
        if (atomic_load (&peer->refs) == 1 && peer->reads == 0)
            zlistx_add_end (idle, mem_strdup (zhashx_cursor (self->peers)));
    for (const char *key = zlistx_first (idle); key; key = zlistx_next (idle)) {
        free (zhashx_lookup (self->peers, key));
        zhashx_delete (self->peers, key);
    }
    zlistx_destroy (&idle);
}
