/*  derive.h - the state derived from the log: the partner directory, the channels and
    the action items.

    Every change to those tables is a message in the log (admin, action, action-done,
    action-cancel, reminder), applied here in the transaction that logs it. Because the
    tables are a function of the log, derive_rebuild can throw them away and replay the
    log into them: the result is the same state (hubd --rebuild).
*/
#ifndef HUBD_DERIVE_H_INCLUDED
#define HUBD_DERIVE_H_INCLUDED

#include "entry.h"
#include "hub_keys.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _derive_t derive_t;

//  For a writing connection db (borrowed); admin_pk and hub_pk name the built-ins.
derive_t *derive_new (sqlite3 *db, const uint8_t admin_pk[HUB_PUBKEY_BYTES],
                      const uint8_t hub_pk[HUB_PUBKEY_BYTES]);
void derive_destroy (derive_t **self_p);

//  True if messages of this kind change derived state (admin, action kinds).
bool derive_changes (const char *kind);

//  Applies a checked entry (its decoded header borrowed) that is about to be logged at seq
//  at time now_ms. Messages that derive nothing succeed. On refusal (a duplicate name, an
//  item already done, ...) records it in the entry and returns false: do not log it.
bool derive_apply (derive_t *self, entry_t *entry, uint64_t seq, uint64_t now_ms);

//  Empties the derived tables and replays the log of the database at db_path into them, in
//  one transaction. Returns the number of messages replayed, or -1 after logging why.
int64_t derive_rebuild (const char *db_path, const uint8_t admin_pk[HUB_PUBKEY_BYTES],
                        const uint8_t hub_pk[HUB_PUBKEY_BYTES]);

#endif
