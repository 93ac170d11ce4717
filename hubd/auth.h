/*  auth.h - the door: the ZAP handler that admits CURVE connections.

    libzmq asks the ZAP handler (RFC 27) about every new CURVE connection. The answer's
    user id is the hex of the client's CURVE public key; the front door reads it from each
    message ("User-Id" property) to know which key is speaking. In open mode every CURVE
    key is admitted (signatures still bind every message to its key); otherwise only the
    keys in the allowed set.
*/
#ifndef HUBD_AUTH_H_INCLUDED
#define HUBD_AUTH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _auth_t auth_t;

//  Starts the handler. Must exist before any CURVE server socket binds.
auth_t *auth_new (bool open);

//  Adds or removes an admitted CURVE public key (32 bytes). Takes effect for new
//  connections at once (the handler has processed it when the call returns).
void auth_allow (auth_t *self, const uint8_t curve_pk[32]);
void auth_deny (auth_t *self, const uint8_t curve_pk[32]);

//  Replaces the whole admitted set with count keys (32 bytes each) and leaves open mode.
void auth_replace (auth_t *self, const uint8_t (*curve_pks)[32], size_t count);

void auth_destroy (auth_t **self_p);

#endif
