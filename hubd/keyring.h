/*  keyring.h - the hub's own keys in its data directory.

    On first start with an empty data directory: hub.key (the hub's identity, which signs
    checkpoints and hub messages and secures the endpoint) and admin.key (the backbone's
    administrator identity), each with its .pub. Existing keys are never overwritten, and
    a data directory whose database holds a log gets no new key: the rules for each file
    are at the top of keyring.c.
*/
#ifndef HUBD_KEYRING_H_INCLUDED
#define HUBD_KEYRING_H_INCLUDED

#include "hub_keys.h"
#include <stdbool.h>

//  Creates the data directory (mode 0700) and the keys a new hub needs, then loads
//  hub.key (checked against the log's checkpoint and hub.pub) into *hub and the
//  administrator's public key (admin.key.pub, or derived from admin.key) into admin_pk.
//  Returns false after logging why (the hub must not start).
bool keyring_open (const char *data_dir, hub_identity_t *hub,
                   uint8_t admin_pk[HUB_PUBKEY_BYTES]);

//  Takes the data directory's lock so two hubs never share one database.
//  Returns the lock's file descriptor (kept open while running), or -1 after logging why.
int keyring_lock (const char *data_dir);

#endif
