/*  action.h - commitments: action items with an owner, a due time and a status.

    An action item lives in the log (PROTOCOL.md section 13): created by a message of kind
    "action" on channel "actions" (its id is that message's seq), closed by "action-done"
    or "action-cancel", reminded of by the hub's "reminder" messages. The header's "action"
    object carries the fields; the title is the header's title and the detail or note is
    the body. The actions table is derived from those messages by the store, in the
    transaction that logs each one; the front door keeps the same state in memory
    (action_set_t) to answer listings and to schedule reminders without touching the disk.
*/
#ifndef HUBD_ACTION_H_INCLUDED
#define HUBD_ACTION_H_INCLUDED

#include "entry.h"
#include "hub_err.h"
#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#define ACTION_CHANNEL "actions"

//  The due times the front door takes for a new item: HUB_DUE_MIN_MS to HUB_DUE_MAX_MS
//  (hub_frame.h). A due time already past is a commitment recorded late: the item is
//  overdue from the start.

//  The fields of a header's "action" object, by kind:
//    action                    owner (partner name), due (ms since the epoch)
//    action-done, -cancel      id
//    reminder                  id, owner, due, slot ("before", "due", "overdue"), slot_ms
typedef struct {
    uint64_t id;
    char owner[65];
    int64_t due_ms;
    char slot[16];
    int64_t slot_ms;
} action_fields_t;

//  True for the kinds this module handles.
bool action_kind (const char *kind);

//  Parses the action object of a header of the given kind. HUB_E_BAD_REQUEST with why.
hub_err_t action_parse (const char *kind, const char *action_json, action_fields_t *out,
                        char *why, size_t why_size);

//  Store side: applies a checked entry of an action kind to the actions table (inside the
//  caller's transaction). author is the author's directory name; is_admin whether it is
//  the administrator; seq the seq it is logged at. Refusals: HUB_E_NOT_FOUND (no such
//  item), HUB_E_CONFLICT (already closed), HUB_E_FORBIDDEN (not owner, creator or
//  administrator); HUB_E_STORAGE if the database fails.
hub_err_t action_apply (sqlite3 *db, const entry_t *entry, const char *author, bool is_admin,
                        uint64_t seq, uint64_t now_ms, char *why, size_t why_size);

//  --------------------------------------------------------------------------
//  The in-memory set, for the front door

typedef struct {
    uint64_t id;
    char *title;
    char *detail;
    char owner[65];
    char creator[65];
    int64_t due_ms;
    char status[12]; //  open, done, cancelled
    int64_t created_ms;
    int64_t done_ms; //  0 if not done
    char *note;
    int64_t last_reminder_ms;
} action_t;

typedef struct _action_set_t action_set_t;

//  Loads every action item from the database (read-only). NULL after logging why.
action_set_t *action_set_load (const char *db_path);

//  Follows a committed entry (borrowed) of an action kind: adds, closes or notes a reminder.
void action_set_follow (action_set_t *self, const entry_t *entry, const char *author);

//  The item with this id, or NULL. Borrowed.
action_t *action_set_find (action_set_t *self, uint64_t id);

//  Calls fn for every item in id order.
void action_set_each (action_set_t *self, void (*fn) (action_t *action, void *arg), void *arg);

//  JSON form of an item (CONTRACT.md: `id`, ...); status "overdue" when open past due.
//  Caller owns the result.
json_t *action_to_json (const action_t *action, int64_t now_ms);

void action_set_destroy (action_set_t **self_p);

#endif
