/*  bench_raw.c - the ceilings hubd is compared with.

    Verify rate: what libsodium's Ed25519 verification alone allows on this machine; hubd
    verifies every publish, so its publish rate can only approach this.

    Raw fan-out: what ZeroMQ CURVE alone allows when one sender delivers every message to
    S subscribers. The sender is a ROUTER, like hubd's front door, with ROUTER_MANDATORY
    and blocking sends, so nothing is dropped (a PUB socket would drop at its high-water
    mark and flatter itself). Each message has the frames and sizes of a hubd MSG.
*/
#include "bench.h"
#include "hub_frame.h"
#include "hub_sig.h"
#include <assert.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

//  -------------------------------------------------------------------------
//  Ed25519 verify rate

typedef struct {
    const uint8_t *signed_bytes;
    size_t signed_len;
    const uint8_t *sig, *pk;
    pthread_barrier_t *start;
    int64_t until_ns;
    uint64_t count;
    bool bad;
} s_verifier_t;

static void *
s_verifier (void *arg)
{
    s_verifier_t *self = arg;
    pthread_barrier_wait (self->start);
    while (true) {
        for (int i = 0; i < 64; i++)
            if (crypto_sign_verify_detached (self->sig, self->signed_bytes, self->signed_len,
                                             self->pk) != 0)
                self->bad = true;
        self->count += 64;
        if (bench_now_ns () >= self->until_ns)
            break;
    }
    return NULL;
}

double
bench_verify_rate (int threads, size_t size, double seconds)
{
    hub_identity_t id;
    hub_identity_generate (&id);
    bench_run_t run;
    bench_run_init (&run, 1, size);
    uint8_t *body = malloc (size);
    assert (body);
    bench_body (&run, 0, body);
    uint8_t msg_id[HUB_MSG_ID_BYTES] = {0};
    size_t hlen = 0;
    char *header =
        hub_header_encode (BENCH_CHANNEL, "message", id.pk, msg_id, 0, NULL, NULL, &hlen);
    assert (header);
    size_t signed_len = hub_signed_len (hlen, size);
    uint8_t *signed_bytes = malloc (signed_len);
    assert (signed_bytes);
    hub_signed_bytes ((const uint8_t *)header, hlen, body, size, signed_bytes);
    uint8_t sig[HUB_SIG_BYTES];
    hub_msg_sign (&id, (const uint8_t *)header, hlen, body, size, sig);

    pthread_barrier_t start;
    pthread_barrier_init (&start, NULL, (unsigned)threads + 1);
    s_verifier_t *verifiers = calloc ((size_t)threads, sizeof *verifiers);
    pthread_t *tids = calloc ((size_t)threads, sizeof *tids);
    assert (verifiers && tids);
    int64_t t0 = bench_now_ns ();
    for (int i = 0; i < threads; i++) {
        verifiers[i] = (s_verifier_t){signed_bytes,
                                      signed_len,
                                      sig,
                                      id.pk,
                                      &start,
                                      t0 + (int64_t)(seconds * 1e9) + 100000000,
                                      0,
                                      false};
        pthread_create (&tids[i], NULL, s_verifier, &verifiers[i]);
    }
    pthread_barrier_wait (&start);
    t0 = bench_now_ns ();
    uint64_t total = 0;
    int64_t t1 = t0;
    for (int i = 0; i < threads; i++) {
        pthread_join (tids[i], NULL);
        total += verifiers[i].count;
        assert (!verifiers[i].bad);
    }
    t1 = bench_now_ns ();
    pthread_barrier_destroy (&start);
    free (verifiers);
    free (tids);
    free (signed_bytes);
    free (header);
    free (body);
    bench_run_clear (&run);
    return (double)total * 1e9 / (double)(t1 - t0);
}

//  -------------------------------------------------------------------------
//  Raw CURVE fan-out

typedef struct {
    bench_sub_t sub;
    const char *endpoint;
    const uint8_t *server_pk;
} s_rawsub_t;

static void *
s_rawsub (void *arg)
{
    s_rawsub_t *self = arg;
    uint8_t pk[32], sk[32];
    crypto_box_keypair (pk, sk);
    self->sub.sock = bench_dealer (self->endpoint, self->server_pk, pk, sk, 2 * BENCH_CREDIT);
    if (!self->sub.sock || zmq_send (self->sub.sock, "hi", 2, 0) != 2) {
        snprintf (self->sub.problem, sizeof self->sub.problem, "raw subscriber: no socket");
        atomic_store (&self->sub.run->abort, true);
    } else
        bench_sub_consume (&self->sub);
    if (self->sub.sock)
        zmq_close (self->sub.sock);
    return NULL;
}

//  Collects the routing ids of count hellos, up to 10 s. Returns how many arrived.
static int
s_hellos (void *router, zmq_msg_t *peers, int count)
{
    int got = 0;
    int64_t deadline = bench_now_ns () + BENCH_STALL_NS;
    while (got < count && bench_now_ns () < deadline) {
        zmq_pollitem_t item = {router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 100) <= 0)
            continue;
        zmq_msg_t frames[2];
        int n = bench_recv (router, frames, 2, ZMQ_DONTWAIT);
        if (n == 2) {
            peers[got++] = frames[0];
            zmq_msg_close (&frames[1]);
        } else
            for (int i = 0; i < n && i < 2; i++)
                zmq_msg_close (&frames[i]);
    }
    return got;
}

static void
s_raw_send (void *router, zmq_msg_t *peers, int count, bench_run_t *run, bench_result_t *out)
{
    hub_identity_t author;
    hub_identity_generate (&author);
    uint8_t msg_id[HUB_MSG_ID_BYTES] = {0};
    size_t hlen = 0;
    char *header =
        hub_header_encode (BENCH_CHANNEL, "message", author.pk, msg_id, 0, NULL, NULL, &hlen);
    uint8_t *body = malloc (run->size);
    assert (header && body);
    uint8_t env[HUB_ENV_BYTES], meta[HUB_META_BYTES] = {0}, sig[HUB_SIG_BYTES] = {0};
    hub_env_encode (HUB_CMD_MSG, 1, env);
    for (uint64_t i = 0; i < run->messages && !atomic_load (&run->abort); i++) {
        bench_body (run, i, body);
        for (int b = 0; b < 8; b++)
            meta[b] = (uint8_t)((i + 1) >> (56 - 8 * b));
        atomic_store_explicit (&run->send_ns[i], bench_now_ns (), memory_order_release);
        for (int p = 0; p < count; p++) {
            int rc = zmq_send (router, zmq_msg_data (&peers[p]), zmq_msg_size (&peers[p]),
                               ZMQ_SNDMORE);
            if (rc < 0) {
                bench_problem (out, "raw fan-out: send to subscriber %d: %s", p,
                               zmq_strerror (zmq_errno ()));
                continue;
            }
            zmq_send (router, env, sizeof env, ZMQ_SNDMORE);
            zmq_send (router, meta, sizeof meta, ZMQ_SNDMORE);
            zmq_send (router, header, hlen, ZMQ_SNDMORE);
            zmq_send (router, body, run->size, ZMQ_SNDMORE);
            zmq_send (router, sig, sizeof sig, ZMQ_SNDMORE);
            zmq_send (router, "", 0, 0);
        }
    }
    free (header);
    free (body);
}

void
bench_raw_fanout (int subscribers, bench_run_t *run, bench_result_t *out)
{
    memset (out, 0, sizeof *out);
    out->peak_rss_kb = -1;
    uint8_t server_pk[32], server_sk[32];
    crypto_box_keypair (server_pk, server_sk);
    void *router = zmq_socket (bench_zmq_ctx (), ZMQ_ROUTER);
    int one = 1, linger = 0, hwm = BENCH_CREDIT;
    zmq_setsockopt (router, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt (router, ZMQ_CURVE_SECRETKEY, server_sk, 32);
    zmq_setsockopt (router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt (router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (router, ZMQ_LINGER, &linger, sizeof linger);
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", bench_free_port ());
    if (zmq_bind (router, endpoint) != 0) {
        bench_problem (out, "raw fan-out: cannot bind %s: %s", endpoint,
                       zmq_strerror (zmq_errno ()));
        zmq_close (router);
        return;
    }
    atomic_store (&run->expected, run->messages);
    s_rawsub_t *subs = calloc ((size_t)subscribers, sizeof *subs);
    pthread_t *tids = calloc ((size_t)subscribers, sizeof *tids);
    zmq_msg_t *peers = calloc ((size_t)subscribers, sizeof *peers);
    assert (subs && tids && peers);
    for (int i = 0; i < subscribers; i++) {
        subs[i] = (s_rawsub_t){.endpoint = endpoint, .server_pk = server_pk};
        subs[i].sub.run = run;
        pthread_create (&tids[i], NULL, s_rawsub, &subs[i]);
    }
    int got = s_hellos (router, peers, subscribers);
    int64_t t0 = bench_now_ns ();
    if (got < subscribers) {
        bench_problem (out, "raw fan-out: only %d of %d subscribers connected in 10 s", got,
                       subscribers);
        atomic_store (&run->abort, true);
    } else
        s_raw_send (router, peers, got, run, out);
    bench_lat_t **sets = calloc ((size_t)subscribers, sizeof *sets);
    int64_t last = t0;
    out->delivered_min = UINT64_MAX;
    for (int i = 0; i < subscribers; i++) {
        pthread_join (tids[i], NULL);
        bench_sub_t *sub = &subs[i].sub;
        sets[i] = &sub->lat;
        out->delivered_total += sub->delivered;
        out->delivered_min =
            sub->delivered < out->delivered_min ? sub->delivered : out->delivered_min;
        out->delivered_max =
            sub->delivered > out->delivered_max ? sub->delivered : out->delivered_max;
        last = sub->last_ns > last ? sub->last_ns : last;
        out->stalled |= sub->stalled;
        if (sub->problem[0])
            bench_problem (out, "%s", sub->problem);
    }
    bench_lat_summary (sets, (size_t)subscribers, &out->p50_us, &out->p99_us, &out->max_us);
    out->deliveries_per_s =
        last > t0 ? (double)out->delivered_total * 1e9 / (double)(last - t0) : BENCH_NO_FIGURE;
    out->publish_per_s = BENCH_NO_FIGURE;
    out->ack_p50_us = out->ack_p99_us = BENCH_NO_FIGURE;
    for (int i = 0; i < subscribers; i++)
        bench_lat_free (&subs[i].sub.lat);
    for (int i = 0; i < got; i++)
        zmq_msg_close (&peers[i]);
    free (sets);
    free (peers);
    free (tids);
    free (subs);
    zmq_close (router);
    sodium_memzero (server_sk, sizeof server_sk);
}
