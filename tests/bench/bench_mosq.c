/*  bench_mosq.c - the live workload on a Mosquitto broker, for comparison.

    hub-bench starts its own mosquitto (loopback port, persistence on, and
    max_queued_messages 0: stock Mosquitto keeps only 1000 queued QoS 1 messages per
    subscriber and silently drops the rest, which would compare a lossy broker with a
    lossless one) and drives it with libmosquitto: P publisher clients with QoS 1 and
    BENCH_WINDOW messages in flight (a PUBACK is their "ack"), S subscriber clients with
    QoS 1 on the topic "updates". Bodies are the same text as for hubd, unsigned (MQTT has
    no signatures). Mosquitto's persistence writes its database on autosave and at exit,
    not per message: its PUBACK is not a durability promise the way hubd's ACK is.
*/
#include "bench.h"
#include <stdio.h>

#ifndef HUB_BENCH_MOSQUITTO

bool
bench_mosq_available (void)
{
    return false;
}

void
bench_mosq_live (int publishers, int subscribers, double rate, bench_run_t *run,
                 bench_result_t *out)
{
    (void)publishers;
    (void)subscribers;
    (void)rate;
    (void)run;
    bench_problem (out, "hub-bench was built without libmosquitto");
}

#else

#include <assert.h>
#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MOSQ_SETTLE_NS (3 * 1000000000LL) //  quiet this long after publishing: done

typedef struct {
    struct mosquitto *m;
    bench_run_t *run;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    _Atomic int connected; //  0 waiting, 1 connected, -1 refused
    _Atomic bool subscribed;
    uint64_t inflight; //  under lock
    _Atomic uint64_t acked;
    _Atomic int64_t last_ack_ns;
    _Atomic uint64_t delivered; //  written by the client's network thread only
    _Atomic int64_t last_ns;
    bench_lat_t lat;
    //  publisher share
    uint64_t first, count;
    double rate;
    int port;
    pthread_barrier_t *ready, *go;
    bool stalled;
    char problem[200];
} s_client_t;

static void
s_on_connect (struct mosquitto *m, void *arg, int rc)
{
    s_client_t *self = arg;
    atomic_store (&self->connected, rc == 0 ? 1 : -1);
    (void)m;
}

static void
s_on_subscribe (struct mosquitto *m, void *arg, int mid, int count, const int *granted)
{
    s_client_t *self = arg;
    (void)m;
    (void)mid;
    if (count == 1 && granted[0] == 1)
        atomic_store (&self->subscribed, true);
}

static void
s_on_publish (struct mosquitto *m, void *arg, int mid)
{
    s_client_t *self = arg;
    (void)m;
    (void)mid;
    atomic_store (&self->last_ack_ns, bench_now_ns ());
    atomic_fetch_add (&self->acked, 1);
    pthread_mutex_lock (&self->lock);
    self->inflight--;
    pthread_cond_signal (&self->cond);
    pthread_mutex_unlock (&self->lock);
}

static void
s_on_message (struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
    s_client_t *self = arg;
    (void)m;
    int64_t now = bench_now_ns ();
    int64_t index = bench_body_index (self->run, msg->payload, (size_t)msg->payloadlen);
    if (index < 0)
        return;
    int64_t sent = atomic_load_explicit (&self->run->send_ns[index], memory_order_acquire);
    if (sent > 0)
        bench_lat_add (&self->lat, now - sent);
    atomic_store (&self->last_ns, now);
    atomic_fetch_add (&self->delivered, 1);
}

//  Connects a client and starts its network thread; false (problem set) on failure.
static bool
s_client_open (s_client_t *self, int port)
{
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->cond, NULL);
    self->m = mosquitto_new (NULL, true, self);
    if (!self->m) {
        snprintf (self->problem, sizeof self->problem, "mosquitto_new failed");
        return false;
    }
    mosquitto_int_option (self->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option (self->m, MOSQ_OPT_SEND_MAXIMUM, BENCH_WINDOW);
    mosquitto_connect_callback_set (self->m, s_on_connect);
    mosquitto_subscribe_callback_set (self->m, s_on_subscribe);
    mosquitto_publish_callback_set (self->m, s_on_publish);
    mosquitto_message_callback_set (self->m, s_on_message);
    int rc = MOSQ_ERR_UNKNOWN;
    for (int tries = 0; tries < 100; tries++) {
        rc = mosquitto_connect (self->m, "127.0.0.1", port, 60);
        if (rc == MOSQ_ERR_SUCCESS)
            break;
        usleep (100000);
    }
    if (rc != MOSQ_ERR_SUCCESS || mosquitto_loop_start (self->m) != MOSQ_ERR_SUCCESS) {
        snprintf (self->problem, sizeof self->problem, "cannot connect to mosquitto: %s",
                  mosquitto_strerror (rc));
        return false;
    }
    for (int waited = 0; waited < 10000 && !atomic_load (&self->connected); waited += 10)
        usleep (10000);
    if (atomic_load (&self->connected) != 1) {
        snprintf (self->problem, sizeof self->problem, "mosquitto refused the connection");
        return false;
    }
    return true;
}

static void
s_client_close (s_client_t *self)
{
    if (self->m) {
        mosquitto_disconnect (self->m);
        mosquitto_loop_stop (self->m, false);
        mosquitto_destroy (self->m);
        self->m = NULL;
    }
    pthread_mutex_destroy (&self->lock);
    pthread_cond_destroy (&self->cond);
}

//  Waits until fewer than BENCH_WINDOW publishes are unacknowledged; false after a
//  stall.
static bool
s_window (s_client_t *self)
{
    bool ok = true;
    pthread_mutex_lock (&self->lock);
    int64_t deadline = bench_now_ns () + BENCH_STALL_NS;
    while (self->inflight >= BENCH_WINDOW && ok) {
        struct timespec until;
        clock_gettime (CLOCK_REALTIME, &until);
        until.tv_nsec += 100000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait (&self->cond, &self->lock, &until);
        ok = bench_now_ns () < deadline && !atomic_load (&self->run->abort);
    }
    if (ok)
        self->inflight++;
    pthread_mutex_unlock (&self->lock);
    return ok;
}

static void
s_pub_loop (s_client_t *self)
{
    uint8_t *body = malloc (self->run->size);
    assert (body);
    int64_t start = bench_now_ns ();
    double interval_ns = self->rate > 0 ? 1e9 / self->rate : 0;
    for (uint64_t i = 0; i < self->count && !self->stalled; i++) {
        int64_t due = start + (int64_t)(interval_ns * (double)i);
        int64_t now = bench_now_ns ();
        if (due > now)
            usleep ((useconds_t)((due - now) / 1000));
        bench_body (self->run, self->first + i, body);
        if (!s_window (self)) {
            self->stalled = true;
            snprintf (self->problem, sizeof self->problem, "mosquitto: no PUBACK for 10 s");
            break;
        }
        atomic_store_explicit (&self->run->send_ns[self->first + i], bench_now_ns (),
                               memory_order_release);
        int rc = mosquitto_publish (self->m, NULL, BENCH_CHANNEL, (int)self->run->size, body, 1,
                                    false);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf (self->problem, sizeof self->problem, "mosquitto_publish: %s",
                      mosquitto_strerror (rc));
            break;
        }
    }
    //  Wait for the last PUBACKs.
    int64_t last = bench_now_ns ();
    uint64_t seen = atomic_load (&self->acked);
    while (!self->stalled && atomic_load (&self->acked) < self->count) {
        usleep (1000);
        uint64_t now_acked = atomic_load (&self->acked);
        if (now_acked != seen) {
            seen = now_acked;
            last = bench_now_ns ();
        } else if (bench_now_ns () - last > BENCH_STALL_NS) {
            self->stalled = true;
            snprintf (self->problem, sizeof self->problem, "mosquitto: no PUBACK for 10 s");
        }
    }
    free (body);
}

static void *
s_pub_thread (void *arg)
{
    s_client_t *self = arg;
    if (!s_client_open (self, self->port))
        atomic_store (&self->run->abort, true);
    pthread_barrier_wait (self->ready);
    pthread_barrier_wait (self->go);
    if (!atomic_load (&self->run->abort))
        s_pub_loop (self);
    return NULL;
}

//  Starts mosquitto in a new temporary directory; returns its pid or -1.
static pid_t
s_broker_start (char *dir, size_t dir_size, int *port)
{
    snprintf (dir, dir_size, "/tmp/hub-bench-mosq-XXXXXX");
    if (!mkdtemp (dir))
        return -1;
    *port = bench_free_port ();
    char conf[400], log[400];
    snprintf (conf, sizeof conf, "%s/mosquitto.conf", dir);
    snprintf (log, sizeof log, "%s/mosquitto.log", dir);
    FILE *file = fopen (conf, "w");
    if (!file)
        return -1;
    fprintf (file,
             "listener %d 127.0.0.1\nallow_anonymous true\npersistence true\n"
             "persistence_location %s/\nmax_queued_messages 0\n%s",
             *port, dir, geteuid () == 0 ? "user root\n" : "");
    fclose (file);
    const char *binary =
        access ("/usr/sbin/mosquitto", X_OK) == 0 ? "/usr/sbin/mosquitto" : "mosquitto";
    char *argv[] = {(char *)binary, "-c", conf, NULL};
    return bench_spawn (argv, log);
}

bool
bench_mosq_available (void)
{
    return true;
}

static void
s_collect (s_client_t *subs, int subscribers, s_client_t *pubs, int publishers, int64_t t0,
           bench_result_t *out)
{
    int64_t last_ack = t0, last = t0;
    for (int i = 0; i < publishers; i++) {
        out->acked += atomic_load (&pubs[i].acked);
        int64_t t = atomic_load (&pubs[i].last_ack_ns);
        last_ack = t > last_ack ? t : last_ack;
        out->stalled |= pubs[i].stalled;
        if (pubs[i].problem[0])
            bench_problem (out, "%s", pubs[i].problem);
    }
    out->publish_per_s =
        last_ack > t0 ? (double)out->acked * 1e9 / (double)(last_ack - t0) : BENCH_NO_FIGURE;
    bench_lat_t **sets = calloc ((size_t)subscribers + 1, sizeof *sets);
    assert (sets);
    out->delivered_min = subscribers ? UINT64_MAX : 0;
    for (int i = 0; i < subscribers; i++) {
        uint64_t got = atomic_load (&subs[i].delivered);
        out->delivered_total += got;
        out->delivered_min = got < out->delivered_min ? got : out->delivered_min;
        out->delivered_max = got > out->delivered_max ? got : out->delivered_max;
        int64_t t = atomic_load (&subs[i].last_ns);
        last = t > last ? t : last;
        sets[i] = &subs[i].lat;
    }
    bench_lat_summary (sets, (size_t)subscribers, &out->p50_us, &out->p99_us, &out->max_us);
    out->deliveries_per_s =
        last > t0 ? (double)out->delivered_total * 1e9 / (double)(last - t0) : BENCH_NO_FIGURE;
    out->ack_p50_us = out->ack_p99_us = BENCH_NO_FIGURE;
    free (sets);
}

//  Waits until every subscriber has expected messages or deliveries stop.
static void
s_wait_subs (s_client_t *subs, int subscribers, uint64_t expected)
{
    uint64_t seen = UINT64_MAX;
    int64_t last_change = bench_now_ns ();
    while (true) {
        uint64_t total = 0, min = UINT64_MAX;
        for (int i = 0; i < subscribers; i++) {
            uint64_t got = atomic_load (&subs[i].delivered);
            total += got;
            min = got < min ? got : min;
        }
        if (subscribers == 0 || min >= expected)
            return;
        if (total != seen) {
            seen = total;
            last_change = bench_now_ns ();
        } else if (bench_now_ns () - last_change > MOSQ_SETTLE_NS)
            return;
        usleep (10000);
    }
}

void
bench_mosq_live (int publishers, int subscribers, double rate, bench_run_t *run,
                 bench_result_t *out)
{
    memset (out, 0, sizeof *out);
    mosquitto_lib_init ();
    char dir[256];
    int port = 0;
    pid_t broker = s_broker_start (dir, sizeof dir, &port);
    if (broker < 0) {
        bench_problem (out, "cannot start mosquitto");
        out->peak_rss_kb = -1;
        return;
    }
    s_client_t *subs = calloc ((size_t)subscribers + 1, sizeof *subs);
    s_client_t *pubs = calloc ((size_t)publishers, sizeof *pubs);
    pthread_t *tids = calloc ((size_t)publishers, sizeof *tids);
    assert (subs && pubs && tids);
    bool ok = true;
    for (int i = 0; i < subscribers && ok; i++) {
        subs[i].run = run;
        ok = s_client_open (&subs[i], port) &&
             mosquitto_subscribe (subs[i].m, NULL, BENCH_CHANNEL, 1) == MOSQ_ERR_SUCCESS;
        for (int waited = 0; ok && waited < 10000 && !atomic_load (&subs[i].subscribed);
             waited += 10)
            usleep (10000);
        ok = ok && atomic_load (&subs[i].subscribed);
        if (!ok)
            bench_problem (out, "mosquitto subscriber %d: %s", i,
                           subs[i].problem[0] ? subs[i].problem : "not subscribed");
    }
    pthread_barrier_t ready, go;
    pthread_barrier_init (&ready, NULL, (unsigned)publishers + 1);
    pthread_barrier_init (&go, NULL, (unsigned)publishers + 1);
    uint64_t share = run->messages / (uint64_t)publishers;
    if (!ok)
        atomic_store (&run->abort, true);
    for (int i = 0; i < publishers; i++) {
        pubs[i].run = run;
        pubs[i].port = port;
        pubs[i].ready = &ready;
        pubs[i].go = &go;
        pubs[i].first = share * (uint64_t)i;
        pubs[i].count = i == publishers - 1 ? run->messages - pubs[i].first : share;
        pubs[i].rate = rate / publishers;
        pthread_create (&tids[i], NULL, s_pub_thread, &pubs[i]);
    }
    pthread_barrier_wait (&ready);
    int64_t t0 = bench_now_ns ();
    pthread_barrier_wait (&go);
    for (int i = 0; i < publishers; i++)
        pthread_join (tids[i], NULL);
    uint64_t acked = 0;
    for (int i = 0; i < publishers; i++)
        acked += atomic_load (&pubs[i].acked);
    if (!atomic_load (&run->abort))
        s_wait_subs (subs, subscribers, acked);
    for (int i = 0; i < publishers; i++)
        s_client_close (&pubs[i]);
    for (int i = 0; i < subscribers; i++)
        s_client_close (&subs[i]);
    s_collect (subs, subscribers, pubs, publishers, t0, out);
    for (int i = 0; i < subscribers; i++)
        bench_lat_free (&subs[i].lat);
    out->peak_rss_kb = bench_status_kb (broker, "VmHWM");
    bench_stop (broker, 10000);
    bench_rmtree (dir);
    pthread_barrier_destroy (&ready);
    pthread_barrier_destroy (&go);
    free (subs);
    free (pubs);
    free (tids);
    mosquitto_lib_cleanup ();
}

#endif
