/*  admin.h - administrator commands: admitting partners, removing them, creating channels.

    An administrator command is a signed message of kind "admin" on the "admin" channel
    (PROTOCOL.md section 9): it is stored in the log like any message, so the history shows
    who was admitted, by whom and when, and verify covers it. Its body is a JSON object:

      {"op":"partner.add", "name":N, "key":KEYTEXT, "org":S, "email":S, "roles":[R,...]}
      {"op":"partner.remove", "name":N}
      {"op":"channel.create", "name":N, "publish":[R,...], "read":[R,...]}

    The front door parses it (bad syntax is refused before any signature check); the store
    applies it to the directory tables in the same transaction that logs it, so the log and
    the tables never disagree, and a command the current state refuses is not logged.
*/
#ifndef HUBD_ADMIN_H_INCLUDED
#define HUBD_ADMIN_H_INCLUDED

#include "hub_err.h"
#include "hub_keys.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADMIN_CHANNEL "admin" //  only the administrator (and the hub) publish on it
#define ADMIN_ROLE    "admin" //  in a rights list, the administrator; no partner's role

typedef enum { ADMIN_PARTNER_ADD, ADMIN_PARTNER_REMOVE, ADMIN_CHANNEL_CREATE } admin_kind_t;

typedef struct {
    admin_kind_t kind;
    char name[65];
    uint8_t key[HUB_PUBKEY_BYTES];
    char org[201];
    char email[255];
    char roles[1100];   //  comma-separated
    char publish[1100]; //  comma-separated roles, "*" = every partner
    char read[1100];
} admin_op_t;

//  Parses and checks a command body. HUB_E_BAD_NAME or HUB_E_BAD_REQUEST (with why) if
//  invalid. fresh: a command the front door is asked to take now, which must also pass the
//  rules added since hubs began logging commands (no role named ADMIN_ROLE for a partner, no
//  empty role list for a channel); false for one already in the log, which is applied by
//  the rules it was taken under (an empty list of an old channel.create meant "*").
hub_err_t admin_parse (const uint8_t *body, size_t blen, bool fresh, admin_op_t *op, char *why,
                       size_t why_size);

//  Applies op to the tables of db (inside the caller's transaction). seq is the seq the
//  command is logged at. HUB_E_CONFLICT or HUB_E_NOT_FOUND (with why) if the state refuses
//  it; HUB_E_STORAGE if the database fails.
hub_err_t admin_apply (sqlite3 *db, const admin_op_t *op, uint64_t seq, uint64_t now_ms,
                       char *why, size_t why_size);

#endif
