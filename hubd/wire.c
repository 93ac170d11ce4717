/*  wire.c - see wire.h. */
#include "wire.h"
#include "hub_frame.h"
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  Sends the routing frame and the envelope; the result of the first frame decides the
//  whole message (ZeroMQ checks routability and high-water mark there).
static wire_result_t
s_begin (void *front, const uint8_t *peer, size_t peer_len, uint8_t cmd, uint32_t req_id,
         bool more)
{
    if (zmq_send (front, peer, peer_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return errno == EHOSTUNREACH ? WIRE_GONE : WIRE_FULL;
    uint8_t env[HUB_ENV_BYTES];
    hub_env_encode (cmd, req_id, env);
    int rc = zmq_send (front, env, sizeof env, more ? ZMQ_SNDMORE : 0);
    assert (rc == HUB_ENV_BYTES);
    return WIRE_SENT;
}

static void
s_frame (void *front, const void *data, size_t size, bool more)
{
    int rc = zmq_send (front, data, size, more ? ZMQ_SNDMORE : 0);
    assert (rc >= 0);
    (void)rc;
}

wire_result_t
wire_send_msg (void *front, const uint8_t *peer, size_t peer_len, uint32_t req_id,
               const entry_t *entry, const char *author_name)
{
    wire_result_t result = s_begin (front, peer, peer_len, HUB_CMD_MSG, req_id, true);
    if (result != WIRE_SENT)
        return result;
    hub_meta_t meta = {.seq = entry->seq, .hub_ts_ms = entry->hub_ts_ms};
    memcpy (meta.prev_hash, entry->prev_hash, HUB_HASH_BYTES);
    memcpy (meta.hash, entry->hash, HUB_HASH_BYTES);
    uint8_t bytes[HUB_META_BYTES];
    hub_meta_encode (&meta, bytes);
    s_frame (front, bytes, sizeof bytes, true);
    s_frame (front, entry->header, entry->hlen, true);
    s_frame (front, entry->body, entry->blen, true);
    s_frame (front, entry->sig, HUB_SIG_BYTES, true);
    s_frame (front, author_name, strlen (author_name), false);
    return WIRE_SENT;
}

wire_result_t
wire_send_ack (void *front, const uint8_t *peer, size_t peer_len, uint32_t req_id, uint64_t seq,
               bool duplicate)
{
    wire_result_t result = s_begin (front, peer, peer_len, HUB_CMD_ACK, req_id, true);
    if (result == WIRE_SENT) {
        uint8_t ack[HUB_ACK_BYTES];
        hub_ack_encode (seq, duplicate, ack);
        s_frame (front, ack, sizeof ack, false);
    }
    return result;
}

wire_result_t
wire_send_error (void *front, const uint8_t *peer, size_t peer_len, uint32_t req_id,
                 hub_err_t code, const char *reason)
{
    char *json = hub_error_encode (code, reason);
    wire_result_t result = wire_send_json (front, peer, peer_len, HUB_CMD_ERROR, req_id, json);
    free (json);
    return result;
}

wire_result_t
wire_send_json (void *front, const uint8_t *peer, size_t peer_len, uint8_t cmd, uint32_t req_id,
                const char *json)
{
    wire_result_t result = s_begin (front, peer, peer_len, cmd, req_id, json != NULL);
    if (result == WIRE_SENT && json)
        s_frame (front, json, strlen (json), false);
    return result;
}
