/*  store.h - the log's single writer: dedup, sequence, chain, group commit.

    A thread that owns the writing SQLite connection. Verified batches arrive on
    STORE_IN_ENDPOINT (PUSH a batch_t pointer), in any order; the store takes them in
   batch number order, commits whatever has arrived while the last commit's fsync ran in
   ONE transaction, and only then passes each batch on to STORE_OUT_ENDPOINT with every
   entry's outcome filled in: seq and hash, duplicate of an earlier seq, or a refusal.
   Nothing is acknowledged before its commit returned.
*/
#ifndef HUBD_STORE_H_INCLUDED
#define HUBD_STORE_H_INCLUDED

#include "config.h"
#include "hub_keys.h"
#include <stdint.h>

#define STORE_IN_ENDPOINT  "inproc://hubd-store-in"
#define STORE_OUT_ENDPOINT "inproc://hubd-store-out"

typedef struct _store_t store_t;

//  Opens (creating or migrating) the database at db_path and starts the writer thread.
//  hub is the hub's identity, used to sign checkpoints (copied); admin_pk the
//  administrator's key (for the rights of action items); config's relays decide which
//  outboxes each message goes into (read at start). Returns NULL after
//  logging why if the database cannot be used.
store_t *store_new (const char *db_path, const hub_identity_t *hub,
                    const uint8_t admin_pk[HUB_PUBKEY_BYTES], const config_t *config);

//  Changes which relays' outboxes messages go into, from config's relays (borrowed for the
//  call), between two commits (SIGHUP).
void store_set_relays (store_t *self, const config_t *config);

//  The log's head when the store started (0 for an empty log).
uint64_t store_head (store_t *self);

//  Stops the thread after the batch it is committing, closes the database; NULL-safe.
//  Batches not yet taken are left in the socket and freed by nobody: stop the producers
//  and wait for their batches to come back first.
void store_destroy (store_t **self_p);

#endif
