/*  hub_client.c - the connection to hubd: socket, answers, publishing and requests.

    One DEALER socket, secured with CURVE: the client's CURVE pair and the hub's CURVE
    server key are the X25519 forms of the Ed25519 identities (PROTOCOL.md 1, 2).

    Seeing the connection. libzmq reconnects a DEALER by itself and hides it, but a new
    connection is a new session at the hub: a subscription made on the old one is gone.
    So the socket's monitor (zmq_socket_monitor, read here through a PAIR socket; CZMQ's
    zmonitor would add a thread for the same four events) tells us about disconnects,
    successful handshakes and refused ones (ZAP: key not admitted). ZMTP heartbeats
    (HEARTBEAT_IVL/TIMEOUT) turn a silent, dead peer into a disconnect; a client waiting
    for messages also pings an idle hub (hub_client_sub.c).

    Answers. Every request gets a fresh request id; s_pump reads whatever arrives and sorts
    it: the answer being waited for goes back to the caller, MSG and ERROR frames of the
    subscription are queued for hub_client_next_msg, PONGs feed the liveness check, and
    anything else (late answers to requests that timed out) is dropped.

    Retry policy (publish and signed commands). The same frames, with the same request id,
    are sent again when a third of the timeout passes without an answer, on a fresh socket
    if the connection dropped meanwhile; the hub stores a message once per (author, ts,
    id) and answers a repeat with the original seq (PROTOCOL.md 4.3). The total wait is the
    client timeout.
*/
#include "hub_client_private.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ATTEMPTS             3
#define S_MIN_SLICE_MS         200
#define S_HANDSHAKE_TRIES      3 //  failed CURVE handshakes in a row before a wait gives up
#define S_RECONNECT_IVL_MS     100
#define S_RECONNECT_IVL_MAX_MS 2000

//  --------------------------------------------------------------------------
//  Errors

hub_err_t
hubc_fail (hub_client_t *self, hub_err_t code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->reason, sizeof self->reason, format, args);
    va_end (args);
    self->last_err = code;
    return code;
}

void
hubc_clear_error (hub_client_t *self)
{
    self->last_err = HUB_OK;
    self->reason[0] = 0;
}

hub_err_t
hub_client_last_error (const hub_client_t *self)
{
    assert (self);
    return self->last_err;
}

const char *
hub_client_last_reason (const hub_client_t *self)
{
    assert (self);
    return self->reason;
}

//  Sets the error for a wait that ended without an answer, saying what is known about
//  the connection.
static hub_err_t
s_fail_timeout (hub_client_t *self)
{
    if (self->auth_refused)
        return hubc_fail (self, HUB_E_FORBIDDEN,
                          "the hub at %s refused the connection (key not admitted)",
                          self->endpoint);
    if (self->handshake_failed && !self->connected)
        return hubc_fail (self, HUB_E_TIMEOUT,
                          "secure handshake with %s failed %d times (wrong hub key?)",
                          self->endpoint, self->handshake_failures);
    if (!self->connected)
        return hubc_fail (self, HUB_E_TIMEOUT, "hub unreachable at %s (no connection in %d ms)",
                          self->endpoint, self->timeout_ms);
    return hubc_fail (self, HUB_E_TIMEOUT, "no answer from the hub at %s within %d ms",
                      self->endpoint, self->timeout_ms);
}

//  --------------------------------------------------------------------------
//  Socket and monitor

static void
s_socket_close (hub_client_t *self)
{
    if (self->sock)
        zmq_socket_monitor (zsock_resolve (self->sock), NULL, 0);
    zsock_destroy (&self->sock);
    zsock_destroy (&self->monitor);
    self->connected = false;
}

static void
s_socket_options (hub_client_t *self, zsock_t *sock)
{
    int hb_ivl = self->timeout_ms / 2 < 1000 ? self->timeout_ms / 2 : 1000;
    int ttl = self->timeout_ms * 2 < 6553500 ? self->timeout_ms * 2 : 6553500;
    zsock_set_linger (sock, 0);
    zsock_set_sndtimeo (sock, self->timeout_ms);
    zsock_set_reconnect_ivl (sock, S_RECONNECT_IVL_MS);
    zsock_set_reconnect_ivl_max (sock, S_RECONNECT_IVL_MAX_MS);
    zsock_set_heartbeat_ivl (sock, hb_ivl > 100 ? hb_ivl : 100);
    zsock_set_heartbeat_timeout (sock, self->timeout_ms);
    zsock_set_heartbeat_ttl (sock, ttl);
    zsock_set_curve_serverkey_bin (sock, self->server_curve);
    zsock_set_curve_publickey_bin (sock, self->curve_pk);
    zsock_set_curve_secretkey_bin (sock, self->curve_sk);
}

static hub_err_t
s_socket_open (hub_client_t *self)
{
    static unsigned counter = 0;
    assert (!self->sock);
    self->sock = zsock_new (ZMQ_DEALER);
    if (!self->sock)
        return hubc_fail (self, HUB_E_INTERNAL, "cannot create a socket: %s",
                          zmq_strerror (zmq_errno ()));
    s_socket_options (self, self->sock);
    char monitor_ep[96];
    snprintf (monitor_ep, sizeof monitor_ep, "inproc://hub-client-monitor-%p-%u", (void *)self,
              counter++);
    int events = ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    self->monitor = zsock_new (ZMQ_PAIR);
    if (!self->monitor ||
        zmq_socket_monitor (zsock_resolve (self->sock), monitor_ep, events) != 0 ||
        zsock_connect (self->monitor, "%s", monitor_ep) != 0) {
        s_socket_close (self);
        return hubc_fail (self, HUB_E_INTERNAL, "cannot monitor the socket: %s",
                          zmq_strerror (zmq_errno ()));
    }
    zsock_set_rcvtimeo (self->monitor, 0);
    if (zsock_connect (self->sock, "%s", self->endpoint) != 0) {
        s_socket_close (self);
        return hubc_fail (self, HUB_E_BAD_REQUEST, "invalid endpoint '%s': %s", self->endpoint,
                          zmq_strerror (zmq_errno ()));
    }
    self->auth_refused = false;
    self->handshake_failed = false;
    self->handshake_failures = 0;
    self->last_rx_ms = hub_time_now_ms ();
    self->ping_sent_ms = 0;
    return HUB_OK;
}

//  Reads the monitor's pending events into the connection flags.
void
hubc_monitor_drain (hub_client_t *self)
{
    zmsg_t *event;
    while (self->monitor && (event = zmsg_recv (self->monitor))) {
        zframe_t *head = zmsg_first (event);
        if (head && zframe_size (head) == 6) {
            uint16_t id;
            memcpy (&id, zframe_data (head), 2); //  host byte order (zmq_socket_monitor)
            if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
                self->connected = true;
                self->auth_refused = false;
                self->handshake_failed = false;
                self->handshake_failures = 0;
            } else if (id == ZMQ_EVENT_DISCONNECTED) {
                if (self->connected)
                    self->lost = self->dropped = true;
                self->connected = false;
            } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
                self->auth_refused = true;
            else {
                self->handshake_failed = true;
                self->handshake_failures++;
            }
        }
        zmsg_destroy (&event);
    }
}

hub_client_t *
hub_client_new (const char *endpoint, const hub_identity_t *id,
                const uint8_t hub_pk[HUB_PUBKEY_BYTES], int timeout_ms)
{
    assert (endpoint);
    assert (id);
    assert (hub_pk);
    hub_client_t *self = hubc_calloc (1, sizeof *self);
    self->endpoint = hubc_strdup (endpoint);
    self->id = *id;
    memcpy (self->hub_pk, hub_pk, HUB_PUBKEY_BYTES);
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : HUB_CLIENT_TIMEOUT_DEFAULT;
    self->next_req = 1;
    self->queue = zlist_new ();
    if (hub_key_curve_secret (id, self->curve_sk) != HUB_OK ||
        hub_key_curve_public (id->pk, self->curve_pk) != HUB_OK ||
        hub_key_curve_public (hub_pk, self->server_curve) != HUB_OK) {
        fprintf (stderr, "hub_client: a key has no CURVE form\n");
        hub_client_destroy (&self);
        return NULL;
    }
    if (s_socket_open (self) != HUB_OK) {
        fprintf (stderr, "hub_client: %s\n", self->reason);
        hub_client_destroy (&self);
        return NULL;
    }
    return self;
}

void
hubc_queue_clear (hub_client_t *self)
{
    zmsg_t *msg;
    while ((msg = zlist_pop (self->queue)))
        zmsg_destroy (&msg);
    zmsg_destroy (&self->pack.msg);
}

bool
hubc_pack_start (hubc_pack_t *pack, zmsg_t *msg)
{
    zmsg_destroy (&pack->msg);
    pack->offset = 0;
    if (zmsg_size (msg) == 2)
        pack->msg = msg;
    else
        zmsg_destroy (&msg);
    return pack->msg != NULL;
}

zframe_t *
hubc_pack_rest (hubc_pack_t *pack)
{
    zframe_t *frame = pack->msg ? zmsg_last (pack->msg) : NULL;
    if (frame && pack->offset < zframe_size (frame))
        return frame;
    zmsg_destroy (&pack->msg);
    return NULL;
}

void
hub_client_destroy (hub_client_t **self_p)
{
    assert (self_p);
    hub_client_t *self = *self_p;
    if (!self)
        return;
    s_socket_close (self);
    if (self->queue)
        hubc_queue_clear (self);
    zlist_destroy (&self->queue);
    hubc_sub_forget (self);
    sodium_memzero (&self->id, sizeof self->id);
    sodium_memzero (self->curve_sk, sizeof self->curve_sk);
    zmsg_destroy (&self->acks.msg);
    free (self->posts);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

void
hub_client_set_timeout (hub_client_t *self, int timeout_ms)
{
    assert (self);
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : HUB_CLIENT_TIMEOUT_DEFAULT;
    if (self->sock)
        s_socket_options (self, self->sock);
}

const char *
hub_client_endpoint (const hub_client_t *self)
{
    assert (self);
    return self->endpoint;
}

const hub_identity_t *
hub_client_identity (const hub_client_t *self)
{
    assert (self);
    return &self->id;
}

hub_err_t
hub_client_reconnect (hub_client_t *self)
{
    assert (self);
    s_socket_close (self);
    if (self->subscribed)
        self->lost = true; //  the hub forgets the subscription with the connection
    return s_socket_open (self);
}

//  --------------------------------------------------------------------------
//  Sending and receiving

uint32_t
hubc_next_req (hub_client_t *self)
{
    uint32_t req = self->next_req++;
    if (self->next_req == 0)
        self->next_req = 1; //  0 means "no request" inside the client
    return req;
}

hub_err_t
hubc_send (hub_client_t *self, uint8_t cmd, uint32_t req, const hubc_frame_t *frames,
           size_t count)
{
    if (!self->sock && s_socket_open (self) != HUB_OK)
        return self->last_err; //  a reconnect failed earlier and fails again
    uint8_t env[HUB_ENV_BYTES];
    hub_env_encode (cmd, req, env);
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, env, sizeof env);
    for (size_t i = 0; i < count; i++)
        zmsg_addmem (msg, frames[i].data, frames[i].size);
    if (zmsg_send (&msg, self->sock) != 0) {
        zmsg_destroy (&msg);
        return hubc_fail (self, HUB_E_TIMEOUT, "cannot send to %s: %s", self->endpoint,
                          zmq_strerror (zmq_errno ()));
    }
    return HUB_OK;
}

//  Sorts one received message. Returns true if it is the one the caller waits for.
static bool
s_sort (hub_client_t *self, zmsg_t **msg_p, const hubc_want_t *want)
{
    zframe_t *head = zmsg_first (*msg_p);
    hub_env_t env;
    if (!head || hub_env_decode (zframe_data (head), zframe_size (head), &env) != HUB_OK) {
        zmsg_destroy (msg_p);
        return false;
    }
    self->last_rx_ms = hub_time_now_ms ();
    self->ping_sent_ms = 0; //  anything from the hub shows it is alive
    bool sub_msg = self->sub_req && env.req_id == self->sub_req;
    bool data = env.cmd == HUB_CMD_MSG || env.cmd == HUB_CMD_MSGS;
    if (sub_msg && (data || self->subscribed)) {
        zlist_append (self->queue, *msg_p);
        *msg_p = NULL;
        return false;
    }
    if (want->any_ack &&
        (env.cmd == HUB_CMD_ACK || env.cmd == HUB_CMD_ACKS || env.cmd == HUB_CMD_ERROR))
        return true;
    if (want->req && env.req_id == want->req)
        return true;
    zmsg_destroy (msg_p);
    return false;
}

hub_err_t
hubc_pump (hub_client_t *self, int wait_ms, const hubc_want_t *want, zmsg_t **msg_p)
{
    if (!self->sock) {
        zclock_sleep (wait_ms); //  no socket (a reconnect failed): nothing can arrive
        return HUB_E_TIMEOUT;
    }
    zmq_pollitem_t items[] = {{zsock_resolve (self->sock), 0, ZMQ_POLLIN, 0},
                              {zsock_resolve (self->monitor), 0, ZMQ_POLLIN, 0}};
    self->interrupted = false;
    int rc = zmq_poll (items, 2, wait_ms);
    if (rc < 0) {
        self->interrupted = zmq_errno () == EINTR;
        return HUB_E_TIMEOUT;
    }
    if (items[1].revents & ZMQ_POLLIN)
        hubc_monitor_drain (self);
    if (!(items[0].revents & ZMQ_POLLIN))
        return HUB_E_TIMEOUT;
    zmsg_t *msg = zmsg_recv (self->sock);
    if (msg && s_sort (self, &msg, want)) {
        *msg_p = msg;
        return HUB_OK;
    }
    return HUB_E_TIMEOUT;
}

hub_err_t
hubc_await (hub_client_t *self, const hubc_want_t *want, int64_t deadline, zmsg_t **msg_p,
            hub_env_t *env)
{
    while (true) {
        int64_t left = deadline - hub_time_now_ms ();
        //  A hub that drops every handshake is not one whose key we hold: a restarting
        //  hub refuses connections instead, so three failures in a row end the wait.
        if (left <= 0 || self->auth_refused ||
            (!self->connected && self->handshake_failures >= S_HANDSHAKE_TRIES))
            return s_fail_timeout (self);
        if (hubc_pump (self, (int)left, want, msg_p) == HUB_OK)
            break;
    }
    zframe_t *head = zmsg_first (*msg_p);
    hub_env_decode (zframe_data (head), zframe_size (head), env);
    return HUB_OK;
}

hub_err_t
hubc_error_frame (hub_client_t *self, zmsg_t *msg)
{
    zframe_t *frame = zmsg_next (msg);
    hub_err_t code = HUB_E_MALFORMED;
    char reason[sizeof self->reason];
    if (!frame || hub_error_decode (zframe_data (frame), zframe_size (frame), &code, reason,
                                    sizeof reason) != HUB_OK)
        return hubc_fail (self, HUB_E_MALFORMED, "the hub sent an unreadable ERROR frame");
    if (code == HUB_OK)
        code = HUB_E_INTERNAL;
    return hubc_fail (self, code, "%s", reason);
}

//  Parses frame, the next frame of msg, as a JSON object into *json (caller owns).
hub_err_t
hubc_json_frame (hub_client_t *self, zmsg_t *msg, json_t **json)
{
    zframe_t *frame = zmsg_next (msg);
    hub_err_t err = HUB_E_MALFORMED;
    *json = frame ? hub_json_frame_parse_max (zframe_data (frame), zframe_size (frame),
                                              HUB_REPLY_MAX, &err)
                  : NULL;
    if (!*json)
        return hubc_fail (self, HUB_E_MALFORMED, "the hub sent an unreadable JSON frame (%s)",
                          hub_err_name (err));
    return HUB_OK;
}

//  --------------------------------------------------------------------------
//  Requests

hub_err_t
hubc_exchange (hub_client_t *self, uint8_t cmd, uint32_t req, const char *args,
               const char *what, json_t **reply)
{
    hubc_frame_t frame = {args, args ? strlen (args) : 0};
    hub_err_t rc = hubc_send (self, cmd, req, &frame, args ? 1 : 0);
    if (rc != HUB_OK)
        return rc;
    uint8_t answer = reply ? HUB_CMD_REPLY : HUB_CMD_PONG;
    hubc_want_t want = {req, false};
    zmsg_t *msg = NULL;
    hub_env_t env;
    rc = hubc_await (self, &want, hub_time_now_ms () + self->timeout_ms, &msg, &env);
    if (rc == HUB_OK && env.cmd == HUB_CMD_ERROR)
        rc = hubc_error_frame (self, msg);
    else if (rc == HUB_OK && env.cmd != answer)
        rc = hubc_fail (self, HUB_E_MALFORMED, "unexpected answer 0x%02x to %s", env.cmd, what);
    else if (rc == HUB_OK && reply)
        rc = hubc_json_frame (self, msg, reply);
    zmsg_destroy (&msg);
    return rc;
}

hub_err_t
hub_client_request (hub_client_t *self, uint8_t cmd, json_t *args, json_t **reply)
{
    assert (self);
    assert (reply);
    hubc_clear_error (self);
    *reply = NULL;
    uint32_t req = hubc_next_req (self);
    char *text = args ? json_dumps (args, JSON_COMPACT) : NULL;
    if (args && !text)
        return hubc_fail (self, HUB_E_BAD_REQUEST, "arguments do not encode as JSON");
    char what[32];
    snprintf (what, sizeof what, "command 0x%02x", cmd);
    hub_err_t rc = hubc_exchange (self, cmd, req, text, what, reply);
    free (text);
    return rc;
}

hub_err_t
hub_client_status (hub_client_t *self, json_t **status)
{
    return hub_client_request (self, HUB_CMD_STATUS, NULL, status);
}

hub_err_t
hub_client_ping (hub_client_t *self)
{
    assert (self);
    hubc_clear_error (self);
    return hubc_exchange (self, HUB_CMD_PING, hubc_next_req (self), NULL, "PING", NULL);
}

//  --------------------------------------------------------------------------
//  Signed messages

//  Reads an ACK or REPLY answer into *answer.
static hub_err_t
s_answer (hub_client_t *self, zmsg_t *msg, const hub_env_t *env, hub_answer_t *answer)
{
    if (env->cmd == HUB_CMD_ERROR)
        return hubc_error_frame (self, msg);
    if (env->cmd == HUB_CMD_REPLY)
        return hubc_json_frame (self, msg, &answer->reply);
    zframe_t *frame = env->cmd == HUB_CMD_ACK ? zmsg_next (msg) : NULL;
    if (!frame || hub_ack_decode (zframe_data (frame), zframe_size (frame), &answer->seq,
                                  &answer->duplicate) != HUB_OK)
        return hubc_fail (self, HUB_E_MALFORMED, "unexpected or unreadable answer 0x%02x",
                          env->cmd);
    return HUB_OK;
}

//  Whether msg (an answer with envelope env) is an ERROR with code STORAGE.
static bool
s_is_storage_refusal (zmsg_t *msg, const hub_env_t *env)
{
    if (env->cmd != HUB_CMD_ERROR || zmsg_size (msg) != 2)
        return false;
    zframe_t *frame = zmsg_last (msg);
    hub_err_t code = HUB_OK;
    return hub_error_decode (zframe_data (frame), zframe_size (frame), &code, NULL, 0) ==
               HUB_OK &&
           code == HUB_E_STORAGE;
}

hub_err_t
hub_client_send_signed (hub_client_t *self, uint8_t cmd, const uint8_t *header,
                        size_t header_len, const uint8_t *body, size_t body_len,
                        const uint8_t sig[HUB_SIG_BYTES], hub_answer_t *answer)
{
    assert (self);
    assert (header && sig && answer);
    assert (body || body_len == 0);
    hubc_clear_error (self);
    memset (answer, 0, sizeof *answer);
    hubc_frame_t frames[] = {{header, header_len}, {body, body_len}, {sig, HUB_SIG_BYTES}};
    uint32_t req = hubc_next_req (self);
    hubc_want_t want = {req, false};
    int slice = self->timeout_ms / S_ATTEMPTS;
    slice = slice < S_MIN_SLICE_MS ? S_MIN_SLICE_MS : slice;
    int64_t deadline = hub_time_now_ms () + self->timeout_ms;
    hub_err_t rc = HUB_E_TIMEOUT;
    zmsg_t *msg = NULL;
    hub_env_t env;
    hubc_monitor_drain (self);
    self->dropped = false;
    int unanswered = 0; //  copies sent on this connection with no answer yet
    //  An earlier copy's STORAGE refusal, kept while a later copy may still be stored.
    zmsg_t *refusal = NULL;
    for (int attempt = 0; attempt < S_ATTEMPTS && rc == HUB_E_TIMEOUT; attempt++) {
        if (refusal || (attempt > 0 && hub_time_now_ms () >= deadline))
            break; //  no copy after the wait is over: its fate would go unknown
        hubc_monitor_drain (self);
        if (attempt > 0 && self->dropped) {
            //  the copy sent on the dropped connection may be lost with it
            if (hub_client_reconnect (self) != HUB_OK) {
                zmsg_destroy (&refusal);
                return self->last_err;
            }
            self->dropped = false;
            unanswered = 0;
        }
        if (hubc_send (self, cmd, req, frames, 3) != HUB_OK)
            continue;
        unanswered++;
        int64_t until = hub_time_now_ms () + slice;
        if (attempt == S_ATTEMPTS - 1 || until > deadline)
            until = deadline;
        rc = hubc_await (self, &want, until, &msg, &env);
        //  A copy refused because the hub could not store it (its database busy) is not the
        //  last word while a later copy is unanswered: that one may be stored, and its ACK
        //  is then the answer (else a caller told "refused" would find it in the log).
        while (rc == HUB_OK && unanswered > 1 && s_is_storage_refusal (msg, &env)) {
            zmsg_destroy (&refusal);
            refusal = msg;
            msg = NULL;
            unanswered--;
            rc = hubc_await (self, &want, deadline, &msg, &env);
        }
        if (rc == HUB_E_FORBIDDEN) {
            zmsg_destroy (&refusal);
            return rc;
        }
    }
    if (rc != HUB_OK && refusal) {
        //  A later copy is unanswered: it may yet be stored, so "refused" would be false.
        zmsg_destroy (&refusal);
        return hubc_fail (self, HUB_E_TIMEOUT,
                          "the hub could not store a first copy and did not answer the "
                          "next in time: the message may still be stored");
    }
    zmsg_destroy (&refusal); //  a later copy's answer (an ACK, or a refusal too) stands
    if (rc != HUB_OK)
        return rc;
    rc = s_answer (self, msg, &env, answer);
    zmsg_destroy (&msg);
    return rc;
}

//  Says why hub_header_encode_err refused the fields with err (the code the hub would
//  give), naming the field.
static hub_err_t
s_header_refused (hub_client_t *self, hub_err_t err, const char *channel, const char *kind,
                  const char *title)
{
    if (err == HUB_E_BAD_NAME && !hub_channel_valid (channel))
        return hubc_fail (self, err, "invalid channel name '%s'", channel ? channel : "");
    if (err == HUB_E_BAD_NAME)
        return hubc_fail (self, err, "invalid kind '%s'", kind ? kind : "");
    if (err == HUB_E_BAD_UTF8)
        return hubc_fail (self, err, "title is not valid UTF-8");
    if (err == HUB_E_BAD_HEADER && title && strlen (title) > HUB_TITLE_MAX)
        return hubc_fail (self, err, "title longer than %d bytes", HUB_TITLE_MAX);
    if (err == HUB_E_BAD_HEADER)
        return hubc_fail (self, err, "the action is not a JSON object");
    return hubc_fail (self, err, "header longer than %d bytes", HUB_HEADER_MAX);
}

hub_err_t
hub_client_sign_and_send (hub_client_t *self, uint8_t cmd, const char *channel,
                          const char *kind, const char *title, const void *body,
                          size_t body_len, const char *action_json, hub_answer_t *answer)
{
    assert (self);
    assert (answer);
    hubc_clear_error (self);
    memset (answer, 0, sizeof *answer);
    if (!body)
        body = "";
    uint8_t id[HUB_MSG_ID_BYTES];
    randombytes_buf (id, sizeof id);
    size_t hlen = 0;
    hub_err_t rc = HUB_OK;
    char *header = hub_header_encode_err (channel, kind, self->id.pk, id, hub_time_now_ms (),
                                          title, action_json, &hlen, &rc);
    if (!header)
        return s_header_refused (self, rc, channel, kind, title);
    if (!hub_utf8_valid (body, body_len)) {
        free (header);
        return hubc_fail (self, HUB_E_BAD_UTF8, "body is not valid UTF-8 text");
    }
    uint8_t sig[HUB_SIG_BYTES];
    hub_msg_sign (&self->id, (const uint8_t *)header, hlen, body, body_len, sig);
    rc = hub_client_send_signed (self, cmd, (const uint8_t *)header, hlen, body, body_len, sig,
                                 answer);
    //  The id is new: an earlier copy can only be this call's own attempt on a dropped
    //  connection.
    answer->duplicate = false;
    free (header);
    return rc;
}

hub_err_t
hub_client_publish (hub_client_t *self, const char *channel, const char *kind,
                    const char *title, const void *body, size_t body_len,
                    const char *action_json, uint64_t *seq, bool *duplicate)
{
    hub_answer_t answer;
    hub_err_t rc = hub_client_sign_and_send (self, HUB_CMD_PUBLISH, channel, kind, title, body,
                                             body_len, action_json, &answer);
    if (rc == HUB_OK && answer.reply) {
        json_decref (answer.reply);
        return hubc_fail (self, HUB_E_MALFORMED, "the hub answered PUBLISH without an ACK");
    }
    if (seq)
        *seq = rc == HUB_OK ? answer.seq : 0;
    if (duplicate)
        *duplicate = rc == HUB_OK && answer.duplicate;
    return rc;
}

//  --------------------------------------------------------------------------
//  Pipelined publishing

//  Posts go out in PUBLISHES packs (PROTOCOL.md 4.4) of up to this many, or this size.
#define S_POST_PACK       64
#define S_POST_PACK_BYTES (64 * 1024)

hub_err_t
hub_client_post_flush (hub_client_t *self)
{
    assert (self);
    if (self->posts_count == 0)
        return HUB_OK;
    hubc_frame_t frame = {self->posts, self->posts_len};
    self->posts_len = self->posts_count = 0; //  sent or not, a retry is the caller's
    return hubc_send (self, HUB_CMD_PUBLISHES, 0, &frame, 1);
}

hub_err_t
hub_client_post (hub_client_t *self, const uint8_t *header, size_t header_len,
                 const uint8_t *body, size_t body_len, const uint8_t sig[HUB_SIG_BYTES],
                 uint32_t *req_id)
{
    assert (self && header && sig && req_id);
    assert (body || body_len == 0);
    hubc_clear_error (self);
    *req_id = hubc_next_req (self);
    hub_pub_record_t rec = {*req_id, header, header_len, body, body_len, sig};
    size_t size = hub_pub_record_size (&rec);
    if (self->posts_len + size > self->posts_cap) {
        self->posts_cap = self->posts_len + size > S_POST_PACK_BYTES ? self->posts_len + size
                                                                     : S_POST_PACK_BYTES;
        self->posts = hubc_realloc (self->posts, self->posts_cap);
    }
    self->posts_len += hub_pub_record_encode (&rec, self->posts + self->posts_len);
    self->posts_count++;
    if (self->posts_count < S_POST_PACK && self->posts_len < S_POST_PACK_BYTES)
        return HUB_OK;
    return hub_client_post_flush (self);
}

//  The next record of the ACKS being taken apart; false once it is used up.
static bool
s_next_ack (hub_client_t *self, uint32_t *req_id, uint64_t *seq, bool *duplicate, hub_err_t *rc)
{
    zframe_t *frame = hubc_pack_rest (&self->acks);
    if (!frame)
        return false;
    *rc = hub_acks_record_decode (zframe_data (frame), zframe_size (frame), &self->acks.offset,
                                  req_id, seq, duplicate);
    if (*rc != HUB_OK) {
        zmsg_destroy (&self->acks.msg); //  records have no resync point
        *rc = hubc_fail (self, HUB_E_MALFORMED, "the hub sent an unreadable ACKS");
    }
    return true;
}

hub_err_t
hub_client_collect (hub_client_t *self, int timeout_ms, uint32_t *req_id, uint64_t *seq,
                    bool *duplicate)
{
    assert (self && req_id && seq && duplicate);
    hubc_clear_error (self);
    hub_err_t rc = hub_client_post_flush (self);
    if (rc != HUB_OK)
        return rc;
    if (s_next_ack (self, req_id, seq, duplicate, &rc))
        return rc;
    hubc_want_t want = {0, true};
    zmsg_t *msg = NULL;
    hub_env_t env;
    int64_t deadline = hub_time_now_ms () + (timeout_ms < 0 ? self->timeout_ms : timeout_ms);
    rc = hubc_await (self, &want, deadline, &msg, &env);
    if (rc != HUB_OK)
        return rc;
    if (env.cmd == HUB_CMD_ACKS) {
        *req_id = 0; //  taken apart by this and the next calls
        if (hubc_pack_start (&self->acks, msg) &&
            s_next_ack (self, req_id, seq, duplicate, &rc))
            return rc;
        return hubc_fail (self, HUB_E_MALFORMED, "the hub sent an empty ACKS");
    }
    *req_id = env.req_id;
    hub_answer_t answer = {0};
    rc = s_answer (self, msg, &env, &answer);
    json_decref (answer.reply);
    *seq = answer.seq;
    *duplicate = answer.duplicate;
    zmsg_destroy (&msg);
    return rc;
}
