/*  hub_client_private.h - what hub_client.c and hub_client_sub.c share. Not installed.

    The client's state, and the helpers both halves use to send, wait and fail. Helpers
    shared between files use the hubc_ prefix (file-private ones stay static with s_).
*/
#ifndef HUB_CLIENT_PRIVATE_H_INCLUDED
#define HUB_CLIENT_PRIVATE_H_INCLUDED

#include "hub_client.h"
#include "hub_text.h"
#include "hubc_mem.h"
#include <assert.h>
#include <czmq.h>
#include <sodium.h>

//  A received MSGS or ACKS, taken apart one record per call: offset is where the next
//  record starts in the message's last frame.
typedef struct {
    zmsg_t *msg; //  owned; NULL when there is none
    size_t offset;
} hubc_pack_t;

struct _hub_client_t {
    char *endpoint;
    hub_identity_t id;
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
    uint8_t curve_pk[32];
    uint8_t curve_sk[32];
    uint8_t server_curve[32];
    int timeout_ms;
    zsock_t *sock;          //  DEALER to the hub
    zsock_t *monitor;       //  PAIR receiving sock's events
    bool connected;         //  a handshake succeeded and no disconnect followed
    bool lost;              //  a disconnect since the subscription was (re)made
    bool dropped;           //  a disconnect since the current publish was first sent
    bool auth_refused;      //  the hub refused our key (ZAP)
    bool handshake_failed;  //  CURVE handshake failed (wrong hub key?)
    int handshake_failures; //  in a row, since the last success (or the socket's start)
    bool interrupted;       //  the last wait was cut short by a signal
    uint32_t next_req;
    hub_err_t last_err;
    char reason[512];
    //  Liveness of an idle connection (hub_client_next_msg)
    int64_t last_rx_ms;   //  when anything last arrived from the hub
    int64_t ping_sent_ms; //  when a PING went out unanswered; 0 if none
    //  Subscription
    char **sub_channels; //  owned copies; NULL if there is no subscription
    size_t sub_count;
    uint32_t sub_req;     //  request id of the SUBSCRIBE in force; 0 if none
    bool subscribed;      //  the hub accepted it
    uint32_t sub_window;  //  credit granted at subscribe time
    uint32_t sub_unacked; //  messages consumed since the last CREDIT
    uint64_t last_seq;    //  last seq handed out (or the starting point)
    zlist_t *queue;       //  zmsg_t: MSG/MSGS/ERROR frames of the subscription, in order
    hubc_pack_t pack;     //  the MSGS being taken apart
    //  Pipelined publishing (hub_client_post, hub_client_collect)
    uint8_t *posts; //  PUBLISHES records not sent yet
    size_t posts_len, posts_cap, posts_count;
    hubc_pack_t acks; //  the ACKS being taken apart
};

//  One outgoing frame, borrowed.
typedef struct {
    const void *data;
    size_t size;
} hubc_frame_t;

//  What a wait is for: the answers to request req (0: none), or any ACK/ERROR.
typedef struct {
    uint32_t req;
    bool any_ack;
} hubc_want_t;

//  Sets last error and reason; returns code.
hub_err_t hubc_fail (hub_client_t *self, hub_err_t code, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
void hubc_clear_error (hub_client_t *self);

//  A fresh request id (never 0).
uint32_t hubc_next_req (hub_client_t *self);

//  Sends [envelope(cmd, req)] + frames (borrowed).
hub_err_t hubc_send (hub_client_t *self, uint8_t cmd, uint32_t req, const hubc_frame_t *frames,
                     size_t count);

//  Waits up to wait_ms for one incoming message and sorts it; HUB_OK with *msg_p (caller
//  owns; cursor on the envelope) only if it is wanted. Sets self->interrupted on EINTR.
hub_err_t hubc_pump (hub_client_t *self, int wait_ms, const hubc_want_t *want, zmsg_t **msg_p);

//  Waits until deadline (ms since the epoch) for a wanted message; *msg_p (caller owns,
//  cursor on the envelope) and its decoded envelope. HUB_E_TIMEOUT/HUB_E_FORBIDDEN.
hub_err_t hubc_await (hub_client_t *self, const hubc_want_t *want, int64_t deadline,
                      zmsg_t **msg_p, hub_env_t *env);

//  One request and its answer: sends cmd with request id req and args (JSON text,
//  borrowed; NULL for none), then waits up to the timeout. With reply, the answer must be
//  a REPLY whose JSON object goes to *reply (caller owns); without, a PONG. An ERROR
//  gives the hub's code and reason; any other answer is "unexpected answer 0x.. to WHAT".
hub_err_t hubc_exchange (hub_client_t *self, uint8_t cmd, uint32_t req, const char *args,
                         const char *what, json_t **reply);

//  Read the next frame of msg as an ERROR (returns the hub's code) or a JSON object
//  (*json owned by the caller).
hub_err_t hubc_error_frame (hub_client_t *self, zmsg_t *msg);
hub_err_t hubc_json_frame (hub_client_t *self, zmsg_t *msg, json_t **json);

//  Reads pending monitor events into connected/lost/auth_refused/handshake_failed.
void hubc_monitor_drain (hub_client_t *self);

//  Takes msg (a MSGS or ACKS of two frames) apart from its first record on. False, with
//  msg destroyed, if it has not two frames.
bool hubc_pack_start (hubc_pack_t *pack, zmsg_t *msg);

//  The frame of the pack while records are left in it; NULL (and the pack destroyed) once
//  none are.
zframe_t *hubc_pack_rest (hubc_pack_t *pack);

//  Destroys every queued subscription message.
void hubc_queue_clear (hub_client_t *self);

//  Forgets the subscription (channels, position, queue); no message to the hub.
void hubc_sub_forget (hub_client_t *self);

#endif
