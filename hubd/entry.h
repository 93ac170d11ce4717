/*  entry.h - one message on its way through the data path, and batches of them.

    The front door creates an entry per PUBLISH, the verifier fills in the verdict, the
    store assigns seq and chain hash, and the front door acknowledges and fans it out. An
    entry is owned by exactly one stage at a time: it travels between threads inside a
    batch passed by pointer over inproc sockets, never shared.
*/
#ifndef HUBD_ENTRY_H_INCLUDED
#define HUBD_ENTRY_H_INCLUDED

#include "hub_frame.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENTRY_PEER_MAX 256 //  ZeroMQ routing ids are at most 255 bytes

typedef struct {
    //  Set by the front door
    uint8_t peer[ENTRY_PEER_MAX]; //  routing id of the publisher (empty: the hub itself)
    size_t peer_len;
    uint32_t req_id;
    bool packed;     //  came in a PUBLISHES: its ack may go out in an ACKS
    uint8_t *header; //  exact bytes as received; header and body share one allocation
    size_t hlen;
    uint8_t *body;
    size_t blen;
    uint8_t sig[HUB_SIG_BYTES];
    hub_header_t hdr; //  decoded header
    //  Verdict: set by the verifier or the store; HUB_OK until something refuses it
    hub_err_t err;
    char reason[160];
    //  Set by the store on success
    uint64_t seq;
    bool duplicate;
    uint64_t hub_ts_ms;
    uint8_t prev_hash[HUB_HASH_BYTES];
    uint8_t hash[HUB_HASH_BYTES];
} entry_t;

//  Creates an entry holding copies of header and body. Caller owns it.
entry_t *entry_new (const void *header, size_t hlen, const void *body, size_t blen);

//  Frees the entry and what it owns; NULL-safe; sets *self_p to NULL.
void entry_destroy (entry_t **self_p);

//  Memory the entry holds: the struct and its copy of header and body.
size_t entry_bytes (const entry_t *self);

//  Records a refusal (first one wins).
void entry_refuse (entry_t *self, hub_err_t err, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

typedef struct {
    uint64_t number; //  assigned by the front door, consecutive: the store keeps this order
    size_t count;
    size_t bytes; //  memory its entries hold (entry_bytes), for the front door's budget
    size_t capacity;
    entry_t **entries;
} batch_t;

//  Creates an empty batch. Caller owns it.
batch_t *batch_new (uint64_t number);

//  Takes ownership of *entry_p and sets it to NULL.
void batch_append (batch_t *self, entry_t **entry_p);

//  Moves the second half of the batch's entries (the later ones) into a new batch with
//  the given number, and returns it; the caller owns it. Both keep their byte counts.
batch_t *batch_split (batch_t *self, uint64_t number);

//  Destroys the batch and every entry in it; NULL-safe.
void batch_destroy (batch_t **self_p);

#endif
