/*  fuzz_hub.h - a small hub for the harnesses of hubd's decoders that need one: a
    database in the scratch directory whose log history made a directory, channels and
    action items, and the in-memory views the front door reads (PROTOCOL.md 9, 10, 13).

    Partners (keys of proto/vectors, so seeds can carry them as text):
        admin   ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ   (msg-1's author)
        alice   rcFAEfgtHFbZVqpPnXPYhYNhpgYEhSXg0Ixjjcdd2Mc   roles convener, finance
        hub     AgvUJ0RrcjQk2A0srTUro982SdDvj6rgyn6yVEOUGyk   (checkpoint-1's hub)
        bob     (from a fixed seed)                           no roles
        carol   (from a fixed seed)                           removed
    Channels: the defaults, "ops" (publish convener; read convener, finance) and "vault"
    (administrator only). Action items: 7 open, owner bob, due in 2100; 8 open, owner alice,
    overdue; 9 done. Inputs are applied at seq FUZZ_HUB_NEXT_SEQ and rolled back, so
    every input meets the same state.
*/
#ifndef FUZZ_HUB_H_INCLUDED
#define FUZZ_HUB_H_INCLUDED

#include "derive.h"
#include "rights.h"
#include <sqlite3.h>

#define FUZZ_HUB_NEXT_SEQ 12
#define FUZZ_HUB_NOW_MS   1800000000000 //  2027-01-15: after item 8's due, before 7's

typedef struct {
    sqlite3 *db; //  the store's writing connection
    derive_t *derive;
    rights_t *rights;
    rights_view_t view; //  channels, directory, actions as loaded after the seeds
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
    const partner_t *admin, *alice, *bob; //  borrowed from view.directory
} fuzz_hub_t;

//  The hub, built on the first call (aborts if it cannot be). Borrowed.
fuzz_hub_t *fuzz_hub (void);

//  An entry of kind on channel by author with the given title (NULL: none), action object
//  (NULL: none) and body; its header is encoded and decoded as the front door would.
//  NULL if that header cannot be encoded. Caller destroys it.
entry_t *fuzz_hub_entry (const char *channel, const char *kind,
                         const uint8_t author[HUB_PUBKEY_BYTES], const char *title,
                         const char *action_json, const void *body, size_t blen);

//  Applies entry as the store does (derive_apply at FUZZ_HUB_NEXT_SEQ) and rolls the
//  database back. Returns the verdict; a storage failure breaks an invariant.
hub_err_t fuzz_hub_derive (fuzz_hub_t *self, entry_t *entry);

#endif
