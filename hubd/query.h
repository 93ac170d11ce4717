/*  query.h - answers to QUERY requests: read-only views of the directory, the channels
    and the action items, as a partner may see them (PROTOCOL.md section 10).
*/
#ifndef HUBD_QUERY_H_INCLUDED
#define HUBD_QUERY_H_INCLUDED

#include "action.h"
#include "channel.h"
#include "directory.h"
#include "hub_err.h"
#include <jansson.h>

//  What the answers are made from; all borrowed.
typedef struct {
    channel_set_t *channels;
    directory_t *directory;
    action_set_t *actions;
} query_state_t;

//  Answers query (a QUERY's JSON object, borrowed) for partner who: {"q": "channels"},
//  "partners", "partner" (+ "name"), "actions" (+ "owner", "status"), "action" (+ "id").
//  Returns the REPLY object (caller owns it), or NULL with *err and why set.
json_t *query_answer (const query_state_t *state, const partner_t *who, json_t *query,
                      hub_err_t *err, char *why, size_t why_size);

#endif
