/*  rights.h - who may do what: the checks a signed request passes before any signature
    is verified, and the read rights of channels.

    A partner who may not read a channel is told it does not exist (UNKNOWN_CHANNEL): the
    channel's existence is not hinted at either. A partner who may read but not publish
    gets FORBIDDEN. The administrator may do everything, and is the only one who may
    publish on the admin channel, the record of its commands. Everything here is cheap
    next to an Ed25519 verify, which is why it runs first (DESIGN.md: refuse floods early).
*/
#ifndef HUBD_RIGHTS_H_INCLUDED
#define HUBD_RIGHTS_H_INCLUDED

#include "action.h"
#include "channel.h"
#include "directory.h"
#include "hub_frame.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct _rights_t rights_t;

//  The state the checks read; all borrowed, current at the time of the call.
typedef struct {
    channel_set_t *channels;
    directory_t *directory;
    action_set_t *actions;
    size_t max_message_bytes;
} rights_view_t;

//  hub_pk and admin_pk are copied. Caller destroys the result.
rights_t *rights_new (const uint8_t hub_pk[HUB_PUBKEY_BYTES],
                      const uint8_t admin_pk[HUB_PUBKEY_BYTES]);
void rights_destroy (rights_t **self_p);

//  Whether a channel with these rights exists for who: it may read it, or publish on it
//  (a channel partners write to and only the backbone reads). To anyone else it does not.
bool rights_may_see (const char *publish, const char *read, const partner_t *who);

//  HUB_OK if who may read every one of the channels; else HUB_E_UNKNOWN_CHANNEL for one
//  it cannot see, HUB_E_FORBIDDEN for one it may only publish on (with why).
hub_err_t rights_check_readable (const rights_view_t *view, const partner_t *who,
                                 char (*channels)[HUB_CHANNEL_MAX + 1], size_t count, char *why,
                                 size_t why_size);

//  Checks a signed request (PUBLISH or ADMIN, cmd) from who, connected with the CURVE key
//  user_id (hex, from ZAP): the signature's length, the header (decoded into *hdr, which
//  the caller clears), the body's size and text, the kind and channel, that the author
//  is the connection's key, the rights, and an admin command's or action item's fields.
//  The signature itself is not verified here. Returns HUB_OK or a code with why.
hub_err_t rights_check_signed (rights_t *self, const rights_view_t *view, uint8_t cmd,
                               const partner_t *who, const char *user_id, const void *header,
                               size_t hlen, const void *body, size_t blen, size_t sig_len,
                               hub_header_t *hdr, char *why, size_t why_size);

#endif
