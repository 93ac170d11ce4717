/*  bench_zmq.c - CURVE DEALERs, framing and the subscriber loop (PROTOCOL.md 6, 7).

    libzmq is used directly: the loops here are the hot path of the measuring side, and
    zmq_msg_t receives avoid a copy per frame.
*/
#include "bench.h"
#include "hub_frame.h"
#include "hub_util.h"
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define SUB_MAX_FRAMES 8

static void *s_ctx;
static pthread_once_t s_ctx_once = PTHREAD_ONCE_INIT;

static void
s_ctx_new (void)
{
    s_ctx = zmq_ctx_new ();
    assert (s_ctx);
    zmq_ctx_set (s_ctx, ZMQ_MAX_SOCKETS, 4096);
}

void *
bench_zmq_ctx (void)
{
    pthread_once (&s_ctx_once, s_ctx_new);
    return s_ctx;
}

void *
bench_dealer (const char *endpoint, const uint8_t server_curve[32], const uint8_t client_pk[32],
              const uint8_t client_sk[32], int rcvhwm)
{
    void *sock = zmq_socket (bench_zmq_ctx (), ZMQ_DEALER);
    if (!sock)
        return NULL;
    int linger = 0, ivl = 2000, timeout = 6000;
    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt (sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    if (rcvhwm > 0)
        zmq_setsockopt (sock, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    if (zmq_setsockopt (sock, ZMQ_CURVE_SERVERKEY, server_curve, 32) != 0 ||
        zmq_setsockopt (sock, ZMQ_CURVE_PUBLICKEY, client_pk, 32) != 0 ||
        zmq_setsockopt (sock, ZMQ_CURVE_SECRETKEY, client_sk, 32) != 0 ||
        zmq_connect (sock, endpoint) != 0) {
        fprintf (stderr, "hub-bench: cannot connect to %s: %s\n", endpoint,
                 zmq_strerror (zmq_errno ()));
        zmq_close (sock);
        return NULL;
    }
    return sock;
}

void *
bench_dealer_for (const char *endpoint, const uint8_t server_curve[32],
                  const hub_identity_t *id, int rcvhwm)
{
    uint8_t pk[32], sk[32];
    if (hub_key_curve_public (id->pk, pk) != HUB_OK ||
        hub_key_curve_secret (id, sk) != HUB_OK) {
        fprintf (stderr, "hub-bench: identity has no CURVE equivalent\n");
        return NULL;
    }
    return bench_dealer (endpoint, server_curve, pk, sk, rcvhwm);
}

int
bench_recv (void *sock, void *frames_arg, int max, int flags)
{
    zmq_msg_t *frames = frames_arg;
    int count = 0, more = 1;
    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *frame = count < max ? &frames[count] : &scratch;
        zmq_msg_init (frame);
        if (zmq_msg_recv (frame, sock, count ? 0 : flags) < 0) {
            zmq_msg_close (frame);
            return count < max ? count : max;
        }
        more = zmq_msg_more (frame);
        if (frame == &scratch)
            zmq_msg_close (frame);
        count++;
    }
    return count;
}

static void
s_close_frames (zmq_msg_t *frames, int n)
{
    for (int i = 0; i < n && i < SUB_MAX_FRAMES; i++)
        zmq_msg_close (&frames[i]);
}

static int
s_send_env (void *sock, uint8_t cmd, uint32_t req_id, bool more)
{
    uint8_t env[HUB_ENV_BYTES];
    hub_env_encode (cmd, req_id, env);
    return zmq_send (sock, env, sizeof env, more ? ZMQ_SNDMORE : 0);
}

//  Waits up to timeout_ms for an answer with command want to request req_id. Other
//  messages are dropped. Returns the frame count (frames hold it), or 0.
static int
s_await (void *sock, uint8_t want, uint32_t req_id, zmq_msg_t *frames, int timeout_ms,
         uint8_t *got_cmd)
{
    int64_t deadline = bench_now_ns () + (int64_t)timeout_ms * 1000000;
    while (bench_now_ns () < deadline) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 100) <= 0)
            continue;
        int n = bench_recv (sock, frames, SUB_MAX_FRAMES, ZMQ_DONTWAIT);
        hub_env_t env;
        if (n > 0 &&
            hub_env_decode (zmq_msg_data (&frames[0]), zmq_msg_size (&frames[0]), &env) ==
                HUB_OK &&
            env.req_id == req_id && (env.cmd == want || env.cmd == HUB_CMD_ERROR)) {
            *got_cmd = env.cmd;
            return n;
        }
        s_close_frames (frames, n);
    }
    return 0;
}

bool
bench_ping (void *sock, int timeout_ms)
{
    const uint32_t req_id = 0xfffffff0u;
    if (s_send_env (sock, HUB_CMD_PING, req_id, false) < 0)
        return false;
    zmq_msg_t frames[SUB_MAX_FRAMES];
    uint8_t cmd = 0;
    int n = s_await (sock, HUB_CMD_PONG, req_id, frames, timeout_ms, &cmd);
    s_close_frames (frames, n);
    return n > 0 && cmd == HUB_CMD_PONG;
}

char *
bench_request_json (void *sock, uint8_t cmd, int timeout_ms)
{
    const uint32_t req_id = 0xfffffff1u;
    if (s_send_env (sock, cmd, req_id, false) < 0)
        return NULL;
    zmq_msg_t frames[SUB_MAX_FRAMES];
    uint8_t got = 0;
    int n = s_await (sock, HUB_CMD_REPLY, req_id, frames, timeout_ms, &got);
    char *json = NULL;
    if (n == 2 && got == HUB_CMD_REPLY) {
        json = malloc (zmq_msg_size (&frames[1]) + 1);
        assert (json);
        memcpy (json, zmq_msg_data (&frames[1]), zmq_msg_size (&frames[1]));
        json[zmq_msg_size (&frames[1])] = 0;
    }
    s_close_frames (frames, n);
    return json;
}

static void
s_sub_error (bench_sub_t *sub, zmq_msg_t *frames, int n)
{
    hub_err_t code = HUB_E_MALFORMED;
    char reason[160] = "";
    if (n >= 2)
        hub_error_decode (zmq_msg_data (&frames[1]), zmq_msg_size (&frames[1]), &code, reason,
                          sizeof reason);
    if (!sub->problem[0])
        snprintf (sub->problem, sizeof sub->problem, "subscriber got ERROR %s: %s",
                  hub_err_name (code), reason);
}

bool
bench_sub_subscribe (bench_sub_t *sub, const char *channel, int64_t since, bool wait)
{
    const char *channels[] = {channel};
    char *args = hub_subscribe_args_encode (channels, 1, since, sub->credit, sub->pack);
    assert (args);
    int rc = s_send_env (sub->sock, HUB_CMD_SUBSCRIBE, 1, true);
    if (rc >= 0)
        rc = zmq_send (sub->sock, args, strlen (args), 0);
    free (args);
    if (rc < 0) {
        snprintf (sub->problem, sizeof sub->problem, "cannot send SUBSCRIBE: %s",
                  zmq_strerror (zmq_errno ()));
        return false;
    }
    return !wait || bench_sub_answered (sub);
}

bool
bench_sub_answered (bench_sub_t *sub)
{
    zmq_msg_t frames[SUB_MAX_FRAMES];
    uint8_t cmd = 0;
    int n = s_await (sub->sock, HUB_CMD_REPLY, 1, frames, 10000, &cmd);
    if (n == 0)
        snprintf (sub->problem, sizeof sub->problem, "no answer to SUBSCRIBE in 10 s");
    else if (cmd == HUB_CMD_ERROR)
        s_sub_error (sub, frames, n);
    s_close_frames (frames, n);
    return n > 0 && cmd == HUB_CMD_REPLY;
}

static void
s_sub_credit (bench_sub_t *sub, uint32_t credit)
{
    uint8_t bytes[4];
    hub_credit_encode (credit, bytes);
    if (s_send_env (sub->sock, HUB_CMD_CREDIT, 1, true) < 0 ||
        zmq_send (sub->sock, bytes, sizeof bytes, 0) < 0)
        snprintf (sub->problem, sizeof sub->problem, "cannot send CREDIT: %s",
                  zmq_strerror (zmq_errno ()));
}

//  Counts one message (meta and body of a MSG or of a MSGS record).
static void
s_sub_count (bench_sub_t *sub, const uint8_t *meta, const uint8_t *body, size_t blen,
             int64_t now)
{
    uint64_t seq = hub_util_get_u64 (meta);
    int64_t index = bench_body_index (sub->run, body, blen);
    if (index < 0)
        return; //  someone else's message on a shared hub
    if (seq <= sub->last_seq)
        sub->out_of_order++;
    sub->last_seq = seq;
    sub->delivered++;
    sub->last_ns = now;
    int64_t sent = atomic_load_explicit (&sub->run->send_ns[index], memory_order_acquire);
    if (sent > 0)
        bench_lat_add (&sub->lat, now - sent);
}

//  Handles one received message. Returns how many messages it carried (each consumed
//  credit): 1 for a MSG, its records for a MSGS, 0 for anything else.
static uint32_t
s_sub_handle (bench_sub_t *sub, zmq_msg_t *frames, int n, int64_t now)
{
    hub_env_t env;
    if (hub_env_decode (zmq_msg_data (&frames[0]), zmq_msg_size (&frames[0]), &env) != HUB_OK)
        return 0;
    if (env.cmd == HUB_CMD_ERROR) {
        s_sub_error (sub, frames, n);
        return 0;
    }
    if (env.cmd == HUB_CMD_MSGS && n == 2) {
        const uint8_t *pack = zmq_msg_data (&frames[1]);
        size_t size = zmq_msg_size (&frames[1]), offset = 0;
        uint32_t count = 0;
        hub_record_t rec;
        while (offset < size && hub_record_decode (pack, size, &offset, &rec) == HUB_OK) {
            s_sub_count (sub, rec.meta, rec.body, rec.blen, now);
            count++;
        }
        if (offset < size && !sub->problem[0])
            snprintf (sub->problem, sizeof sub->problem, "subscriber got a broken MSGS");
        return count;
    }
    if (env.cmd != HUB_CMD_MSG)
        return 0;
    if (n >= 5 && zmq_msg_size (&frames[1]) == HUB_META_BYTES)
        s_sub_count (sub, zmq_msg_data (&frames[1]), zmq_msg_data (&frames[3]),
                     zmq_msg_size (&frames[3]), now);
    return 1;
}

//  Drains what one subscriber has queued; true if anything arrived.
static bool
s_sub_drain (bench_sub_t *sub, uint32_t *owed)
{
    uint32_t batch = sub->credit / 4 ? sub->credit / 4 : 1;
    zmq_msg_t frames[SUB_MAX_FRAMES];
    bool progress = false;
    int n;
    while ((n = bench_recv (sub->sock, frames, SUB_MAX_FRAMES, ZMQ_DONTWAIT)) > 0) {
        *owed += s_sub_handle (sub, frames, n, bench_now_ns ());
        if (sub->credit && *owed >= batch) {
            s_sub_credit (sub, *owed);
            *owed = 0;
        }
        s_close_frames (frames, n);
        progress = true;
    }
    return progress;
}

void
bench_sub_consume (bench_sub_t *sub)
{
    bench_sub_consume_all (&sub, 1);
}

void
bench_sub_consume_all (bench_sub_t **subs, int count)
{
    assert (count > 0 && count <= BENCH_SUBS_PER_THREAD);
    bench_run_t *run = subs[0]->run;
    int64_t last_progress[BENCH_SUBS_PER_THREAD];
    uint32_t owed[BENCH_SUBS_PER_THREAD] = {0};
    zmq_pollitem_t items[BENCH_SUBS_PER_THREAD];
    for (int i = 0; i < count; i++)
        last_progress[i] = bench_now_ns ();
    while (!atomic_load (&run->abort)) {
        int active = 0;
        int polled[BENCH_SUBS_PER_THREAD]; //  which of subs items[i] is
        for (int i = 0; i < count; i++)
            if (!subs[i]->stalled && subs[i]->delivered < atomic_load (&run->expected)) {
                polled[active] = i;
                items[active++] = (zmq_pollitem_t){subs[i]->sock, 0, ZMQ_POLLIN, 0};
            }
        if (active == 0)
            break;
        zmq_poll (items, active, 100);
        int64_t now = bench_now_ns ();
        for (int i = 0; i < active; i++) {
            int k = polled[i];
            if ((items[i].revents & ZMQ_POLLIN) && s_sub_drain (subs[k], &owed[k]))
                last_progress[k] = now;
            else if (now - last_progress[k] > BENCH_STALL_NS)
                subs[k]->stalled = true;
        }
    }
}
