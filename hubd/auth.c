/*  auth.c - see auth.h. ZAP: https://rfc.zeromq.org/spec/27/ */
#include "auth.h"
#include "log.h"
#include "mem.h"
#include "hub_text.h"
#include <assert.h>
#include <czmq.h>
#include <string.h>

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

struct _auth_t {
    zactor_t *actor;
};

typedef struct {
    bool open;
    zhashx_t *allowed; //  hex of CURVE public key -> (void *) 1
    zsock_t *handler;
} s_self_t;

static void
s_reply (zsock_t *handler, const char *request_id, const char *status, const char *text,
         const char *user_id)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zmsg_addstr (reply, request_id);
    zmsg_addstr (reply, status);
    zmsg_addstr (reply, text);
    zmsg_addstr (reply, user_id);
    zmsg_addmem (reply, NULL, 0); //  no metadata
    zmsg_send (&reply, handler);
}

static void
s_handle_zap (s_self_t *self)
{
    zmsg_t *request = zmsg_recv (self->handler);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    char *request_id = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *identity = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *key = zmsg_pop (request);
    char hex[65] = "";
    bool curve = mechanism && streq (mechanism, "CURVE") && key && zframe_size (key) == 32;
    if (curve)
        hub_hex_encode (zframe_data (key), 32, hex);
    if (!version || !streq (version, "1.0") || !request_id)
        log_warning ("auth", "malformed ZAP request ignored");
    else if (!curve) {
        log_warning ("auth", "refused %s connection from %s: CURVE required",
                     mechanism ? mechanism : "?", address ? address : "?");
        s_reply (self->handler, request_id, "400", "CURVE required", "");
    } else if (self->open || zhashx_lookup (self->allowed, hex)) {
        log_debug ("auth", "admitted key %s from %s", hex, address);
        s_reply (self->handler, request_id, "200", "OK", hex);
    } else {
        log_warning ("auth", "refused connection from %s: unknown CURVE key %s",
                     address ? address : "?", hex);
        s_reply (self->handler, request_id, "400", "unknown key", "");
    }
    zstr_free (&version);
    zstr_free (&request_id);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&identity);
    zstr_free (&mechanism);
    zframe_destroy (&key);
    zmsg_destroy (&request);
}

//  Pipe commands: ALLOW or DENY + a 32-byte key, REPLACE + any number of keys; each is
//  answered with a signal once applied.
static bool
s_handle_pipe (s_self_t *self, zsock_t *pipe)
{
    zmsg_t *msg = zmsg_recv (pipe);
    if (!msg)
        return false;
    char *command = zmsg_popstr (msg);
    zframe_t *key = zmsg_pop (msg);
    bool term = !command || streq (command, "$TERM");
    if (!term && streq (command, "REPLACE")) {
        zhashx_purge (self->allowed);
        self->open = false;
        for (; key; zframe_destroy (&key), key = zmsg_pop (msg))
            if (zframe_size (key) == 32) {
                char hex[65];
                hub_hex_encode (zframe_data (key), 32, hex);
                zhashx_update (self->allowed, hex, (void *)1);
            }
        zsock_signal (pipe, 0);
    }
    if (!term && key && zframe_size (key) == 32) {
        char hex[65];
        hub_hex_encode (zframe_data (key), 32, hex);
        if (streq (command, "ALLOW"))
            zhashx_update (self->allowed, hex, (void *)1);
        else
            zhashx_delete (self->allowed, hex);
        zsock_signal (pipe, 0);
    }
    zstr_free (&command);
    zframe_destroy (&key);
    zmsg_destroy (&msg);
    return !term;
}

static void
s_actor (zsock_t *pipe, void *args)
{
    s_self_t *self = args;
    self->allowed = zhashx_new ();
    self->handler = zsock_new_rep ("@" ZAP_ENDPOINT);
    assert (self->handler);
    zpoller_t *poller = zpoller_new (pipe, self->handler, NULL);
    zsock_signal (pipe, 0);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == self->handler)
            s_handle_zap (self);
        else if (which != pipe || !s_handle_pipe (self, pipe))
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&self->handler);
    zhashx_destroy (&self->allowed);
    free (self);
}

auth_t *
auth_new (bool open)
{
    s_self_t *state = mem_zalloc (sizeof *state);
    state->open = open;
    auth_t *self = mem_zalloc (sizeof *self);
    self->actor = zactor_new (s_actor, state);
    return self;
}

static void
s_send_key (auth_t *self, const char *command, const uint8_t curve_pk[32])
{
    zsock_send (self->actor, "sb", command, curve_pk, (size_t)32);
    zsock_wait (self->actor);
}

void
auth_allow (auth_t *self, const uint8_t curve_pk[32])
{
    s_send_key (self, "ALLOW", curve_pk);
}

void
auth_deny (auth_t *self, const uint8_t curve_pk[32])
{
    s_send_key (self, "DENY", curve_pk);
}

void
auth_replace (auth_t *self, const uint8_t (*curve_pks)[32], size_t count)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "REPLACE");
    for (size_t i = 0; i < count; i++)
        zmsg_addmem (msg, curve_pks[i], 32);
    zmsg_send (&msg, self->actor);
    zsock_wait (self->actor);
}

void
auth_destroy (auth_t **self_p)
{
    auth_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);
    free (self);
    *self_p = NULL;
}
