/*  sched.h - when to remind of an action item, and the reminder message itself.

    An open item has reminder *slots*: due - b for each configured offset b (that falls
    after the item was created), the due time, and due + k * overdue_every for k >= 1 while
    it stays open. A reminder is owed when a slot has passed that is later than the last
    one logged. If several have passed (the hub was down), only the latest is sent: one
    reminder on start, not one per missed interval. Each reminder's message id is derived
    from (item, slot), so the log's (author, id) uniqueness makes a slot impossible to send
    twice, even across a crash between sending and recording.

    An item recorded with a due time already past (a commitment that is late) gets no
    before-slots and one reminder at once, of kind "overdue" (its slot the latest of due,
    due + k * overdue_every that has passed), then one every overdue_every: never one per
    interval since the due time.
*/
#ifndef HUBD_SCHED_H_INCLUDED
#define HUBD_SCHED_H_INCLUDED

#include "action.h"
#include "entry.h"
#include "hub_keys.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t before_ms[16]; //  offsets before due
    size_t before_count;
    int64_t overdue_every_ms;
} sched_policy_t;

//  The latest slot at or before now that is owed for an open item; 0 if none. *kind gets
//  "before", "due" or "overdue".
int64_t sched_owed (const sched_policy_t *policy, const action_t *action, int64_t now_ms,
                    const char **kind);

//  The next slot after now for an open item (0 if none): when to wake up for it.
int64_t sched_next (const sched_policy_t *policy, const action_t *action, int64_t now_ms);

//  Builds the hub-signed reminder entry for the item's slot. Caller owns the entry.
entry_t *sched_reminder (const hub_identity_t *hub, const action_t *action, int64_t slot_ms,
                         const char *kind, int64_t now_ms);

//  Digests are due at every multiple of every_ms since the Unix epoch (UTC). The latest
//  slot at or before now; 0 when every_ms is 0 (no digest).
int64_t sched_digest_slot (int64_t every_ms, int64_t now_ms);

//  Builds the hub-signed digest of the action items as they stood at the slot: open items
//  per owner, what was overdue, and what was done since the previous slot. Its message id
//  and its text depend on the slot only, so a hub restarted within a period never posts a
//  second one, and a slot from before the first item posts nothing. NULL if nothing was
//  open or done then (nothing to summarise). Caller owns the entry.
entry_t *sched_digest (const hub_identity_t *hub, action_set_t *actions, int64_t slot_ms,
                       int64_t every_ms);

#endif
