/*  directory.h - the partners hubd knows: who a connection is, what roles it has, and
    the name to show for an author key.

    A snapshot of the partners table, reloaded after each administrator command commits.
    The administrator is always present, as the partner "admin" with role "admin"; the hub
    itself is "hub". Partners who left stay in the snapshot (for names in history) but are
    no longer current: they cannot connect or act.
*/
#ifndef HUBD_DIRECTORY_H_INCLUDED
#define HUBD_DIRECTORY_H_INCLUDED

#include "hub_keys.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _directory_t directory_t;

typedef struct {
    char name[65];
    uint8_t key[HUB_PUBKEY_BYTES];
    char curve_hex[65]; //  hex of the X25519 key: what ZAP reports as User-Id
    char *org;
    char *email;
    char *roles; //  comma-separated
    int64_t joined_ms;
    int64_t left_ms; //  0 while current
    bool admin;
} partner_t;

//  Loads the partners of db_path. admin_pk and hub_pk name the two built-in identities.
//  Returns NULL after logging why.
directory_t *directory_load (const char *db_path, const uint8_t admin_pk[HUB_PUBKEY_BYTES],
                             const uint8_t hub_pk[HUB_PUBKEY_BYTES]);

//  The current partner (or the administrator) whose CURVE key has this hex; NULL if none.
//  Borrowed; valid until the directory is destroyed.
const partner_t *directory_by_curve (directory_t *self, const char *curve_hex);

//  Any partner (current or not) by name or by key; NULL if none. Borrowed.
const partner_t *directory_by_name (directory_t *self, const char *name);
const partner_t *directory_by_key (directory_t *self, const uint8_t key[HUB_PUBKEY_BYTES]);

//  The name to show for an author key: a partner's name, "admin", "hub", or "". Borrowed.
const char *directory_name_of (directory_t *self, const uint8_t key[HUB_PUBKEY_BYTES]);

//  True if the partner may act under rights: a comma-separated role list where "*" is
//  every partner and "admin" the administrator only. The administrator may always.
bool directory_allows (const partner_t *partner, const char *rights);

//  Calls fn for every partner in name order (built-ins excluded).
void directory_each (directory_t *self, void (*fn) (const partner_t *partner, void *arg),
                     void *arg);

void directory_destroy (directory_t **self_p);

#endif
