/*  bench_hub.c - hubd's process, its publishers and the live and replay workloads.

    Live workload: P publisher threads and S subscriber threads. Each has its own
    identity (or the --key one) and its own CURVE DEALER. Before the clock starts every
    publisher has built and signed its share of the messages, and has seen a PONG (so the
    CURVE handshake is done), and every subscriber has its SUBSCRIBE answered. Two
    barriers then start everybody at once: "ready" (main takes t0 after it) and "go".
    Publishers keep BENCH_WINDOW publishes unacknowledged and count ACKs; when they are
    done, main tells the subscribers how many deliveries to expect (the acknowledged
    count).
*/
#include "bench.h"
#include "hub_frame.h"
#include "hub_sig.h"
#include <assert.h>
#include <dirent.h>
#include <jansson.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#ifndef HUB_BENCH_HUBD
#define HUB_BENCH_HUBD "hubd"
#endif

#define PUB_MAX_FRAMES 4
//  A PUBLISHES holds up to 64 publishes or about 64 KiB, as hub_client_post sends them. Its
//  envelope carries a request id no message has, so an ERROR about the pack is told apart.
#define PUB_PACK       64
#define PUB_PACK_BYTES (64 * 1024)
#define PUB_PACK_ID    UINT32_MAX

typedef struct {
    uint8_t *header; //  header and body in one allocation
    size_t hlen;
    uint8_t *body;
    uint8_t sig[HUB_SIG_BYTES];
} s_msg_t;

typedef struct {
    bench_hub_t *hub;
    bench_run_t *run;
    pthread_barrier_t *ready, *go;
    hub_identity_t id;
    uint64_t first, count; //  global indices [first, first + count)
    double rate;           //  this publisher's share; 0 = unpaced
    uint64_t acked, refused, min_seq;
    int64_t last_ack_ns;
    bool stalled;
    bench_lat_t ack_lat;
    char problem[200];
    uint8_t *pack; //  PUBLISHES being filled (NULL: one PUBLISH per message)
    size_t pack_len, pack_count;
} s_pub_t;

typedef struct {
    bench_hub_t *hub;
    pthread_barrier_t *ready, *go;
    hub_identity_t id;
    bench_sub_t sub;
} s_subthread_t;

//  What one subscriber thread runs: count consecutive subscribers from first.
typedef struct {
    s_subthread_t *first;
    int count;
} s_subgroup_t;

static void *
s_xalloc (size_t size)
{
    void *p = calloc (1, size ? size : 1);
    if (!p)
        abort ();
    return p;
}

//  -------------------------------------------------------------------------
//  hubd's process

#define HUBD_START_MAX_MS 120000 //  a start-up that scans a big log may be slow: wait

//  Waits for DATA_DIR/hubd.endpoint, which hubd writes once its front door is bound (its
//  keys exist by then), and reads the hub's public key.
static bool
s_wait_hub_ready (bench_hub_t *hub)
{
    char endpoint_path[400], key_path[400];
    snprintf (endpoint_path, sizeof endpoint_path, "%s/hubd.endpoint", hub->data_dir);
    snprintf (key_path, sizeof key_path, "%s/hub.pub", hub->data_dir);
    int64_t deadline = bench_now_ns () + HUBD_START_MAX_MS * 1000000LL;
    while (bench_now_ns () < deadline) {
        struct stat st;
        if (stat (endpoint_path, &st) == 0 && st.st_size > 0) {
            hub->endpoint_ms = (double)(bench_now_ns () - hub->start_ns) / 1e6;
            if (hub_key_resolve (key_path, hub->hub_pk) == HUB_OK)
                return true;
            fprintf (stderr, "hub-bench: hubd is listening but %s is no key\n", key_path);
            return false;
        }
        int status;
        if (waitpid (hub->pid, &status, WNOHANG) == hub->pid) {
            fprintf (stderr, "hub-bench: hubd exited before it was ready (status %d)\n",
                     WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
            hub->pid = -1;
            return false;
        }
        usleep (1000);
    }
    fprintf (stderr, "hub-bench: hubd wrote no %s in %d s\n", endpoint_path,
             HUBD_START_MAX_MS / 1000);
    return false;
}

//  Starts hubd on hub's data directory and endpoint; the start-up clock starts here.
static bool
s_start_hubd (bench_hub_t *hub)
{
    char endpoint_path[400];
    snprintf (endpoint_path, sizeof endpoint_path, "%s/hubd.endpoint", hub->data_dir);
    unlink (endpoint_path); //  left by the last run: it must not count as ready
    char *argv[] = {(char *)hub->hubd_path, "--data-dir",  hub->data_dir,
                    "--endpoint",           hub->endpoint, NULL};
    hub->start_ns = bench_now_ns ();
    hub->pid = bench_spawn (argv, hub->log_path);
    return hub->pid > 0 && s_wait_hub_ready (hub);
}

static bool
s_spawn_hubd (const bench_opts_t *opts, bench_hub_t *hub)
{
    if (opts->data_dir) {
        //  The caller's directory: kept, and the log goes into it.
        if (mkdir (opts->data_dir, 0700) != 0 && errno != EEXIST) {
            fprintf (stderr, "hub-bench: cannot create %s: %s\n", opts->data_dir,
                     strerror (errno));
            return false;
        }
        snprintf (hub->data_dir, sizeof hub->data_dir, "%s", opts->data_dir);
        snprintf (hub->log_path, sizeof hub->log_path, "%s/hub-bench-hubd.log", opts->data_dir);
    } else {
        snprintf (hub->dir, sizeof hub->dir, "/tmp/hub-bench-XXXXXX");
        if (!mkdtemp (hub->dir)) {
            fprintf (stderr, "hub-bench: mkdtemp: %s\n", strerror (errno));
            hub->dir[0] = 0;
            return false;
        }
        //  hubd's files live one level down so that the log sits beside its data.
        snprintf (hub->data_dir, sizeof hub->data_dir, "%s/data", hub->dir);
        snprintf (hub->log_path, sizeof hub->log_path, "%s/hubd.log", hub->dir);
    }
    int port = bench_free_port ();
    snprintf (hub->endpoint, sizeof hub->endpoint, "tcp://127.0.0.1:%d", port);
    hub->hubd_path = opts->hubd_path;
    if (!hub->hubd_path)
        hub->hubd_path = access (HUB_BENCH_HUBD, X_OK) == 0 ? HUB_BENCH_HUBD : "hubd";
    return port && s_start_hubd (hub);
}

//  A connection for requests of our own (PING, STATUS, ADMIN): as the administrator when
//  the hub is ours, else with --key.
static void *
s_probe (bench_hub_t *hub)
{
    if (hub->have_admin)
        return bench_dealer_for (hub->endpoint, hub->server_curve, &hub->admin, 0);
    if (hub->have_key)
        return bench_dealer_for (hub->endpoint, hub->server_curve, &hub->key, 0);
    return NULL;
}

//  Pings the hub (the first PONG of a hubd we started times its start-up).
static bool
s_await_pong (bench_hub_t *hub)
{
    void *sock = s_probe (hub);
    bool ok = sock && bench_ping (sock, 10000);
    if (sock)
        zmq_close (sock);
    if (!ok)
        fprintf (stderr, "hub-bench: no PONG from %s in 10 s\n", hub->endpoint);
    else if (hub->pid > 0)
        hub->pong_ms = (double)(bench_now_ns () - hub->start_ns) / 1e6;
    return ok;
}

bool
bench_hub_open (const bench_opts_t *opts, bench_hub_t *hub)
{
    memset (hub, 0, sizeof *hub);
    hub->pid = -1;
    hub->endpoint_ms = hub->pong_ms = hub->stop_ms = BENCH_NO_FIGURE;
    hub->pack = !opts->no_pack;
    uint8_t random[sizeof hub->name_tag / 2];
    randombytes_buf (random, sizeof random);
    sodium_bin2hex (hub->name_tag, sizeof hub->name_tag, random, sizeof random);
    char why[256] = "";
    if (opts->key_file) {
        if (hub_identity_load (opts->key_file, &hub->key, why, sizeof why) != HUB_OK) {
            fprintf (stderr, "hub-bench: %s\n", why);
            return false;
        }
        hub->have_key = true;
    }
    if (opts->hub_endpoint) {
        snprintf (hub->endpoint, sizeof hub->endpoint, "%s", opts->hub_endpoint);
        if (hub_key_resolve (opts->hub_key, hub->hub_pk) != HUB_OK) {
            fprintf (stderr, "hub-bench: --hub-key %s is neither key text nor a key file\n",
                     opts->hub_key);
            return false;
        }
    } else {
        if (!s_spawn_hubd (opts, hub))
            return false;
    }
    if (hub_key_curve_public (hub->hub_pk, hub->server_curve) != HUB_OK) {
        fprintf (stderr, "hub-bench: the hub key has no CURVE equivalent\n");
        return false;
    }
    if (hub->pid > 0) {
        char path[400];
        snprintf (path, sizeof path, "%s/admin.key", hub->data_dir);
        if (hub_identity_load (path, &hub->admin, why, sizeof why) != HUB_OK) {
            fprintf (stderr, "hub-bench: %s\n", why);
            return false;
        }
        hub->have_admin = true;
    }
    return s_await_pong (hub);
}

bool
bench_hub_restart (bench_hub_t *hub, bool cold)
{
    assert (hub->pid > 0);
    int64_t start = bench_now_ns ();
    int status = bench_stop (hub->pid, HUBD_START_MAX_MS);
    hub->stop_ms = (double)(bench_now_ns () - start) / 1e6;
    hub->pid = -1;
    if (status != 0) {
        fprintf (stderr, "hub-bench: hubd exited with status %d when stopped\n", status);
        return false;
    }
    if (cold)
        bench_evict_cache (hub->data_dir);
    return s_start_hubd (hub) && s_await_pong (hub);
}

int
bench_hub_close (bench_hub_t *hub, bool keep, long *peak_rss_kb)
{
    *peak_rss_kb = -1;
    if (hub->pid <= 0 && !hub->dir[0])
        return 0;
    int status = 0;
    if (hub->pid > 0) {
        *peak_rss_kb = bench_status_kb (hub->pid, "VmHWM");
        status = bench_stop (hub->pid, 20000);
        hub->pid = -1;
    }
    if (hub->dir[0] && !keep)
        bench_rmtree (hub->dir);
    else if (hub->dir[0])
        fprintf (stderr, "hub-bench: kept %s (hubd's data and log)\n", hub->dir);
    return status;
}

void *
bench_hub_cpu (bench_hub_t *hub)
{
    if (hub->pid <= 0)
        return NULL;
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/task", (int)hub->pid);
    DIR *dir = opendir (path);
    if (!dir)
        return NULL;
    json_t *cpu = json_object ();
    double ms_per_tick = 1000.0 / (double)sysconf (_SC_CLK_TCK);
    double total = 0;
    struct dirent *task;
    while ((task = readdir (dir))) {
        if (task->d_name[0] == '.')
            continue;
        char stat_path[400], line[1024];
        snprintf (stat_path, sizeof stat_path, "%s/%s/stat", path, task->d_name);
        FILE *file = fopen (stat_path, "r");
        if (!file)
            continue;
        size_t len = fread (line, 1, sizeof line - 1, file);
        fclose (file);
        line[len] = 0;
        //  pid (comm) state ... field 14 utime, 15 stime; comm may hold spaces
        char *open = strchr (line, '('), *close = strrchr (line, ')');
        if (!open || !close)
            continue;
        *close = 0;
        unsigned long utime = 0, stime = 0;
        if (sscanf (close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                    &stime) != 2)
            continue;
        double ms = (double)(utime + stime) * ms_per_tick;
        //  hubd does not name its threads: tell them apart by creation order
        //  (hubd+0 is the main thread, the front door).
        char key[64];
        if (strcmp (open + 1, "hubd") == 0)
            snprintf (key, sizeof key, "hubd+%ld", strtol (task->d_name, NULL, 10) - hub->pid);
        else
            snprintf (key, sizeof key, "%s", open + 1);
        json_t *sum = json_object_get (cpu, key);
        json_object_set_new (cpu, key, json_real ((sum ? json_real_value (sum) : 0) + ms));
        total += ms;
    }
    closedir (dir);
    json_object_set_new (cpu, "total", json_real (total));
    return cpu;
}

void
bench_hub_identity (const bench_hub_t *hub, hub_identity_t *out)
{
    if (hub->have_key)
        *out = hub->key;
    else
        hub_identity_generate (out);
}

//  Sends one ADMIN partner.add for id, named name, with request id req_id.
static bool
s_send_partner_add (void *sock, const hub_identity_t *admin, const hub_identity_t *id,
                    const char *name, uint32_t req_id)
{
    char key_text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (id->pk, key_text);
    json_t *op = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:[s]}", "op", "partner.add", "name",
                            name, "key", key_text, "org", "hub-bench", "email",
                            "bench@example.org", "roles", "bench");
    char *body = json_dumps (op, JSON_COMPACT);
    json_decref (op);
    uint8_t msg_id[HUB_MSG_ID_BYTES];
    randombytes_buf (msg_id, sizeof msg_id);
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    size_t hlen = 0, blen = strlen (body);
    char *header = hub_header_encode ("admin", "admin", admin->pk, msg_id,
                                      (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, NULL,
                                      NULL, &hlen);
    assert (header);
    uint8_t sig[HUB_SIG_BYTES], env[HUB_ENV_BYTES];
    hub_msg_sign (admin, (uint8_t *)header, hlen, (uint8_t *)body, blen, sig);
    hub_env_encode (HUB_CMD_ADMIN, req_id, env);
    bool ok = zmq_send (sock, env, sizeof env, ZMQ_SNDMORE) >= 0 &&
              zmq_send (sock, header, hlen, ZMQ_SNDMORE) >= 0 &&
              zmq_send (sock, body, blen, ZMQ_SNDMORE) >= 0 &&
              zmq_send (sock, sig, sizeof sig, 0) >= 0;
    free (header);
    free (body);
    return ok;
}

bool
bench_hub_admit (bench_hub_t *hub, const hub_identity_t *ids, int count, const char *prefix)
{
    if (!hub->have_admin || hub->have_key)
        return true;
    void *sock = s_probe (hub);
    bool ok = sock != NULL;
    for (int i = 0; i < count && ok; i++) {
        char name[64];
        snprintf (name, sizeof name, "%s-%s-%d", prefix, hub->name_tag, hub->admitted++);
        ok = s_send_partner_add (sock, &hub->admin, &ids[i], name, (uint32_t)i);
    }
    int answered = 0;
    int64_t deadline = bench_now_ns () + BENCH_STALL_NS;
    zmq_msg_t frames[PUB_MAX_FRAMES];
    while (ok && answered < count && bench_now_ns () < deadline) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        zmq_poll (&item, 1, 100);
        int n;
        while (ok && (n = bench_recv (sock, frames, PUB_MAX_FRAMES, ZMQ_DONTWAIT)) > 0) {
            hub_env_t env = {0};
            hub_env_decode (zmq_msg_data (&frames[0]), zmq_msg_size (&frames[0]), &env);
            if (env.cmd == HUB_CMD_ACK)
                answered++;
            else if (env.cmd == HUB_CMD_ERROR) {
                fprintf (stderr, "hub-bench: partner.add %s #%u refused: %.*s\n", prefix,
                         env.req_id, n > 1 ? (int)zmq_msg_size (&frames[1]) : 0,
                         n > 1 ? (const char *)zmq_msg_data (&frames[1]) : "");
                ok = false;
            }
            for (int f = 0; f < n && f < PUB_MAX_FRAMES; f++)
                zmq_msg_close (&frames[f]);
        }
    }
    if (ok && answered < count) {
        fprintf (stderr, "hub-bench: only %d of %d partner.add acknowledged in 10 s\n",
                 answered, count);
        ok = false;
    }
    if (sock)
        zmq_close (sock);
    return ok;
}

char *
bench_hub_status (bench_hub_t *hub)
{
    void *sock = s_probe (hub);
    char *json = sock ? bench_request_json (sock, HUB_CMD_STATUS, 5000) : NULL;
    if (sock)
        zmq_close (sock);
    return json;
}

//  -------------------------------------------------------------------------
//  Publishers

static s_msg_t *
s_build (s_pub_t *pub, const hub_identity_t *id)
{
    s_msg_t *msgs = s_xalloc (pub->count * sizeof *msgs);
    size_t size = pub->run->size;
    for (uint64_t i = 0; i < pub->count; i++) {
        //  Stamped when signed, as hub_client does: one stamp for every message would put
        //  each author's messages in random order (by id) in the hub's dedup index.
        struct timespec now;
        clock_gettime (CLOCK_REALTIME, &now);
        int64_t ts_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        uint8_t msg_id[HUB_MSG_ID_BYTES];
        randombytes_buf (msg_id, sizeof msg_id);
        size_t hlen = 0;
        char *header = hub_header_encode (BENCH_CHANNEL, "message", id->pk, msg_id, ts_ms, NULL,
                                          NULL, &hlen);
        assert (header);
        msgs[i].header = s_xalloc (hlen + size);
        memcpy (msgs[i].header, header, hlen);
        free (header);
        msgs[i].hlen = hlen;
        msgs[i].body = msgs[i].header + hlen;
        bench_body (pub->run, pub->first + i, msgs[i].body);
        hub_msg_sign (id, msgs[i].header, hlen, msgs[i].body, size, msgs[i].sig);
    }
    return msgs;
}

static bool
s_publish (void *sock, const s_msg_t *msg, size_t size, uint32_t req_id)
{
    uint8_t env[HUB_ENV_BYTES];
    hub_env_encode (HUB_CMD_PUBLISH, req_id, env);
    return zmq_send (sock, env, sizeof env, ZMQ_SNDMORE) >= 0 &&
           zmq_send (sock, msg->header, msg->hlen, ZMQ_SNDMORE) >= 0 &&
           zmq_send (sock, msg->body, size, ZMQ_SNDMORE) >= 0 &&
           zmq_send (sock, msg->sig, HUB_SIG_BYTES, 0) >= 0;
}

//  Adds message i to the PUBLISHES being filled; true once the pack is full.
static bool
s_pack_add (s_pub_t *pub, const s_msg_t *msg, uint32_t i)
{
    hub_pub_record_t rec = {i, msg->header, msg->hlen, msg->body, pub->run->size, msg->sig};
    pub->pack_len += hub_pub_record_encode (&rec, pub->pack + pub->pack_len);
    pub->pack_count++;
    return pub->pack_count >= PUB_PACK || pub->pack_len >= PUB_PACK_BYTES;
}

//  Sends the PUBLISHES being filled, if it holds any; false if ZeroMQ refused it.
static bool
s_pack_send (s_pub_t *pub, void *sock)
{
    if (pub->pack_count == 0)
        return true;
    uint8_t env[HUB_ENV_BYTES];
    hub_env_encode (HUB_CMD_PUBLISHES, PUB_PACK_ID, env);
    bool sent = zmq_send (sock, env, sizeof env, ZMQ_SNDMORE) >= 0 &&
                zmq_send (sock, pub->pack, pub->pack_len, 0) >= 0;
    pub->pack_len = pub->pack_count = 0;
    return sent;
}

//  Ends the publisher's run with a problem (kept if one is already there).
static void
s_pub_problem (s_pub_t *pub, const char *what, const char *detail)
{
    if (!pub->problem[0])
        snprintf (pub->problem, sizeof pub->problem, "%s: %s", what, detail);
    atomic_store (&pub->run->abort, true);
}

//  Counts the ACK of request req_id.
static bool
s_pub_acked (s_pub_t *pub, uint32_t req_id, uint64_t seq, int64_t now)
{
    if (req_id >= pub->count)
        return false;
    pub->acked++;
    pub->last_ack_ns = now;
    if (!pub->min_seq || seq < pub->min_seq)
        pub->min_seq = seq;
    int64_t sent =
        atomic_load_explicit (&pub->run->send_ns[pub->first + req_id], memory_order_relaxed);
    bench_lat_add (&pub->ack_lat, now - sent);
    return true;
}

//  Handles one answer; returns how many publishes it settled (ACK, ACKS or ERROR).
static uint64_t
s_pub_answer (s_pub_t *pub, zmq_msg_t *frames, int n, int64_t now)
{
    hub_env_t env;
    if (hub_env_decode (zmq_msg_data (&frames[0]), zmq_msg_size (&frames[0]), &env) != HUB_OK)
        return 0;
    uint64_t seq;
    bool duplicate;
    if (env.cmd == HUB_CMD_ACKS && n == 2) {
        const uint8_t *acks = zmq_msg_data (&frames[1]);
        size_t size = zmq_msg_size (&frames[1]), offset = 0;
        uint32_t req_id;
        uint64_t settled = 0;
        while (offset < size && hub_acks_record_decode (acks, size, &offset, &req_id, &seq,
                                                        &duplicate) == HUB_OK)
            settled += s_pub_acked (pub, req_id, seq, now);
        if (offset < size)
            s_pub_problem (pub, "ACKS", "a record cut short or with a malformed ack");
        return settled;
    }
    if (env.req_id == PUB_PACK_ID && env.cmd == HUB_CMD_ERROR) {
        char reason[160] = "";
        hub_err_t code = HUB_E_MALFORMED;
        if (n == 2)
            hub_error_decode (zmq_msg_data (&frames[1]), zmq_msg_size (&frames[1]), &code,
                              reason, sizeof reason);
        s_pub_problem (pub, "PUBLISHES refused whole",
                       reason[0] ? reason : hub_err_name (code));
        return 0;
    }
    if (env.req_id >= pub->count)
        return 0;
    if (env.cmd == HUB_CMD_ACK && n == 2)
        return hub_ack_decode (zmq_msg_data (&frames[1]), zmq_msg_size (&frames[1]), &seq,
                               &duplicate) == HUB_OK &&
               s_pub_acked (pub, env.req_id, seq, now);
    if (env.cmd == HUB_CMD_ERROR) {
        hub_err_t code = HUB_E_MALFORMED;
        char reason[160] = "";
        if (n == 2)
            hub_error_decode (zmq_msg_data (&frames[1]), zmq_msg_size (&frames[1]), &code,
                              reason, sizeof reason);
        if (!pub->problem[0])
            snprintf (pub->problem, sizeof pub->problem, "PUBLISH refused: %s: %s",
                      hub_err_name (code), reason);
        pub->refused++;
        return 1;
    }
    return 0;
}

static void
s_pub_loop (s_pub_t *pub, void *sock, const s_msg_t *msgs)
{
    int64_t start = bench_now_ns (), last_progress = start;
    double interval_ns = pub->rate > 0 ? 1e9 / pub->rate : 0;
    uint64_t next = 0, settled = 0;
    zmq_msg_t frames[PUB_MAX_FRAMES];
    while (settled < pub->count && !atomic_load (&pub->run->abort)) {
        int64_t now = bench_now_ns ();
        long timeout = 100;
        bool sent = true;
        while (sent && next < pub->count && next - settled < BENCH_WINDOW) {
            int64_t due = start + (int64_t)(interval_ns * (double)next);
            if (due > now) {
                //  Rounded up: a timeout of 0 (the next message due within 1 ms) made
                //  paced publishers spin, and four spinning threads starved hubd.
                timeout = (long)((due - now + 999999) / 1000000);
                break;
            }
            //  Packed, the clock starts when the message joins the pack: waiting for the
            //  pack to fill is part of its latency.
            atomic_store_explicit (&pub->run->send_ns[pub->first + next], bench_now_ns (),
                                   memory_order_release);
            sent = pub->pack ? !s_pack_add (pub, &msgs[next], (uint32_t)next) ||
                                   s_pack_send (pub, sock)
                             : s_publish (sock, &msgs[next], pub->run->size, (uint32_t)next);
            next++;
        }
        if (!sent || !s_pack_send (pub, sock)) { //  what is packed goes out before the wait
            s_pub_problem (pub, "cannot send PUBLISH", zmq_strerror (zmq_errno ()));
            return;
        }
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        zmq_poll (&item, 1, timeout);
        int n;
        while ((n = bench_recv (sock, frames, PUB_MAX_FRAMES, ZMQ_DONTWAIT)) > 0) {
            now = bench_now_ns ();
            uint64_t answered = s_pub_answer (pub, frames, n, now);
            if (answered) {
                settled += answered;
                last_progress = now;
            }
            for (int i = 0; i < n && i < PUB_MAX_FRAMES; i++)
                zmq_msg_close (&frames[i]);
        }
        now = bench_now_ns ();
        if (next == settled)
            last_progress = now; //  waiting for our own pacing is no stall
        else if (now - last_progress > BENCH_STALL_NS) {
            pub->stalled = true;
            snprintf (pub->problem, sizeof pub->problem,
                      "no ACK for 10 s with %llu publishes unanswered (%llu acked)",
                      (unsigned long long)(next - settled), (unsigned long long)pub->acked);
            return;
        }
    }
}

static void *
s_pub_thread (void *arg)
{
    s_pub_t *pub = arg;
    s_msg_t *msgs = s_build (pub, &pub->id);
    if (pub->hub->pack) //  a pack is sent once it reaches PUB_PACK_BYTES: room for one more
        pub->pack =
            s_xalloc (PUB_PACK_BYTES + HUB_PUB_RECORD_FIXED + HUB_HEADER_MAX + pub->run->size);
    void *sock = bench_dealer_for (pub->hub->endpoint, pub->hub->server_curve, &pub->id, 0);
    if (!sock || !bench_ping (sock, 10000)) {
        snprintf (pub->problem, sizeof pub->problem, "publisher: no PONG from the hub");
        atomic_store (&pub->run->abort, true);
    }
    pthread_barrier_wait (pub->ready);
    pthread_barrier_wait (pub->go);
    if (sock && !atomic_load (&pub->run->abort))
        s_pub_loop (pub, sock, msgs);
    if (sock)
        zmq_close (sock);
    for (uint64_t i = 0; i < pub->count; i++)
        free (msgs[i].header);
    free (msgs);
    free (pub->pack);
    return NULL;
}

//  -------------------------------------------------------------------------
//  Subscribers

static void *
s_sub_thread (void *arg)
{
    s_subgroup_t *grp = arg;
    s_subthread_t *self = grp->first;
    bench_sub_t *group[BENCH_SUBS_PER_THREAD];
    for (int i = 0; i < grp->count; i++) {
        s_subthread_t *member = &self[i];
        bench_sub_t *sub = group[i] = &member->sub;
        sub->sock = bench_dealer_for (member->hub->endpoint, member->hub->server_curve,
                                      &member->id, 2 * (int)sub->credit);
        if (!sub->sock || !bench_sub_subscribe (sub, BENCH_CHANNEL, -1, true)) {
            if (!sub->problem[0])
                snprintf (sub->problem, sizeof sub->problem, "subscriber: cannot connect");
            atomic_store (&sub->run->abort, true);
        }
    }
    pthread_barrier_wait (self->ready);
    pthread_barrier_wait (self->go);
    if (!atomic_load (&self->sub.run->abort))
        bench_sub_consume_all (group, grp->count);
    for (int i = 0; i < grp->count; i++) {
        if (group[i]->sock)
            zmq_close (group[i]->sock);
        group[i]->sock = NULL;
    }
    return NULL;
}

//  Idle and stalled connections: opened, subscribed, then left alone. No thread of their
//  own: nobody reads them (libzmq's I/O thread still answers heartbeats).
struct _bench_idle_t {
    void **socks;
    int count;
};

bench_idle_t *
bench_idle_open (bench_hub_t *hub, int count, const char *channel, const char *prefix)
{
    hub_identity_t *ids = s_xalloc ((size_t)(count > 0 ? count : 1) * sizeof *ids);
    for (int i = 0; i < count; i++)
        bench_hub_identity (hub, &ids[i]);
    bench_idle_t *self = s_xalloc (sizeof *self);
    self->socks = s_xalloc ((size_t)(count > 0 ? count : 1) * sizeof *self->socks);
    int failed = bench_hub_admit (hub, ids, count, prefix) ? -1 : 0;
    //  All SUBSCRIBEs first, then the answers: the CURVE handshakes overlap.
    bench_sub_t sub = {.credit = BENCH_CREDIT, .pack = hub->pack};
    for (int i = 0; i < count && failed < 0; i++) {
        sub.sock = bench_dealer_for (hub->endpoint, hub->server_curve, &ids[i], 0);
        self->socks[self->count++] = sub.sock;
        if (!sub.sock || !bench_sub_subscribe (&sub, channel, -1, false))
            failed = i;
    }
    for (int i = 0; i < self->count && failed < 0; i++) {
        sub.sock = self->socks[i];
        if (!bench_sub_answered (&sub))
            failed = i;
    }
    sodium_memzero (ids, (size_t)count * sizeof *ids);
    free (ids);
    if (failed >= 0) {
        fprintf (stderr, "hub-bench: %s connection %d of %d on %s: %s\n", prefix, failed + 1,
                 count, channel, sub.problem[0] ? sub.problem : "cannot open");
        bench_idle_close (&self);
    }
    return self;
}

void
bench_idle_close (bench_idle_t **self_p)
{
    bench_idle_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->count; i++)
        if (self->socks[i])
            zmq_close (self->socks[i]);
    free (self->socks);
    free (self);
    *self_p = NULL;
}

//  -------------------------------------------------------------------------
//  Workloads

static void
s_collect_subs (s_subthread_t *subs, int count, int64_t t0, bench_result_t *out)
{
    bench_lat_t **sets = s_xalloc ((size_t)(count > 0 ? count : 1) * sizeof *sets);
    int64_t last = t0;
    out->delivered_min = count ? UINT64_MAX : 0;
    for (int i = 0; i < count; i++) {
        bench_sub_t *sub = &subs[i].sub;
        sets[i] = &sub->lat;
        out->delivered_total += sub->delivered;
        if (sub->delivered < out->delivered_min)
            out->delivered_min = sub->delivered;
        if (sub->delivered > out->delivered_max)
            out->delivered_max = sub->delivered;
        out->out_of_order += sub->out_of_order;
        if (sub->last_ns > last)
            last = sub->last_ns;
        if (sub->stalled) {
            out->stalled = true;
            bench_problem (out, "subscriber %d stalled: nothing for 10 s after %llu of %llu", i,
                           (unsigned long long)sub->delivered,
                           (unsigned long long)atomic_load (&sub->run->expected));
        }
        if (sub->problem[0])
            bench_problem (out, "%s", sub->problem);
    }
    bench_lat_summary (sets, (size_t)count, &out->p50_us, &out->p99_us, &out->max_us);
    out->deliveries_per_s = count && last > t0
                                ? (double)out->delivered_total * 1e9 / (double)(last - t0)
                                : BENCH_NO_FIGURE;
    for (int i = 0; i < count; i++)
        bench_lat_free (&subs[i].sub.lat);
    free (sets);
}

static void
s_collect_pubs (s_pub_t *pubs, int count, int64_t t0, bench_result_t *out)
{
    bench_lat_t **sets = s_xalloc ((size_t)(count > 0 ? count : 1) * sizeof *sets);
    int64_t last = t0;
    double ignored;
    for (int i = 0; i < count; i++) {
        out->acked += pubs[i].acked;
        out->refused += pubs[i].refused;
        if (pubs[i].min_seq && (!out->first_seq || pubs[i].min_seq < out->first_seq))
            out->first_seq = pubs[i].min_seq;
        if (pubs[i].last_ack_ns > last)
            last = pubs[i].last_ack_ns;
        out->stalled |= pubs[i].stalled;
        if (pubs[i].problem[0])
            bench_problem (out, "publisher %d: %s", i, pubs[i].problem);
        sets[i] = &pubs[i].ack_lat;
    }
    bench_lat_summary (sets, (size_t)count, &out->ack_p50_us, &out->ack_p99_us, &ignored);
    out->publish_per_s =
        last > t0 ? (double)out->acked * 1e9 / (double)(last - t0) : BENCH_NO_FIGURE;
    for (int i = 0; i < count; i++)
        bench_lat_free (&pubs[i].ack_lat);
    free (sets);
}

void
bench_hub_live (const bench_opts_t *opts, bench_hub_t *hub, int publishers, int subscribers,
                double rate, bench_run_t *run, bench_result_t *out)
{
    memset (out, 0, sizeof *out);
    out->peak_rss_kb = -1;
    //  Subscribers in groups of per_thread (at most BENCH_SUBS_PER_THREAD), one thread
    //  per group; by default a thread apiece.
    int per_thread = 1;
    if (opts->sub_threads > 0 && opts->sub_threads < subscribers)
        per_thread = (subscribers + opts->sub_threads - 1) / opts->sub_threads;
    if (per_thread > BENCH_SUBS_PER_THREAD)
        per_thread = BENCH_SUBS_PER_THREAD;
    int threads_for_subs = (subscribers + per_thread - 1) / per_thread;
    s_subgroup_t *groups =
        s_xalloc ((size_t)(threads_for_subs ? threads_for_subs : 1) * sizeof *groups);
    pthread_barrier_t ready, go;
    unsigned parties = (unsigned)(publishers + threads_for_subs + 1);
    pthread_barrier_init (&ready, NULL, parties);
    pthread_barrier_init (&go, NULL, parties);
    s_pub_t *pubs = s_xalloc ((size_t)publishers * sizeof *pubs);
    s_subthread_t *subs = s_xalloc ((size_t)(subscribers ? subscribers : 1) * sizeof *subs);
    pthread_t *threads = s_xalloc (parties * sizeof *threads);
    size_t identities = (size_t)(publishers + subscribers);
    hub_identity_t *ids = s_xalloc (identities * sizeof *ids);
    uint64_t share = run->messages / (uint64_t)publishers;
    for (int i = 0; i < publishers; i++) {
        s_pub_t *pub = &pubs[i];
        *pub = (s_pub_t){.hub = hub, .run = run, .ready = &ready, .go = &go};
        bench_hub_identity (hub, &pub->id);
        ids[i] = pub->id;
        pub->first = share * (uint64_t)i;
        pub->count = i == publishers - 1 ? run->messages - pub->first : share;
        pub->rate = rate / publishers;
    }
    for (int i = 0; i < subscribers; i++) {
        subs[i] = (s_subthread_t){.hub = hub, .ready = &ready, .go = &go};
        bench_hub_identity (hub, &subs[i].id);
        ids[publishers + i] = subs[i].id;
        subs[i].sub.run = run;
        subs[i].sub.credit = BENCH_CREDIT;
        subs[i].sub.pack = hub->pack;
    }
    for (int t = 0; t < threads_for_subs; t++) {
        int left = subscribers - t * per_thread;
        groups[t] =
            (s_subgroup_t){&subs[t * per_thread], left < per_thread ? left : per_thread};
    }
    //  Every connection is a partner of its own; admitting them is not timed.
    if (!bench_hub_admit (hub, ids, publishers, "bench-pub") ||
        !bench_hub_admit (hub, ids + publishers, subscribers, "bench-sub")) {
        bench_problem (out, "could not admit the bench identities as partners");
        publishers = subscribers = threads_for_subs = 0;
        atomic_store (&run->abort, true);
    }
    sodium_memzero (ids, identities * sizeof *ids);
    free (ids);
    for (int i = 0; i < publishers; i++)
        pthread_create (&threads[i], NULL, s_pub_thread, &pubs[i]);
    for (int t = 0; t < threads_for_subs; t++)
        pthread_create (&threads[publishers + t], NULL, s_sub_thread, &groups[t]);
    if (publishers == 0) {
        pthread_barrier_destroy (&ready);
        pthread_barrier_destroy (&go);
        free (pubs);
        free (subs);
        free (groups);
        free (threads);
        return;
    }
    pthread_barrier_wait (&ready);
    int64_t t0 = bench_now_ns ();
    pthread_barrier_wait (&go);
    for (int i = 0; i < publishers; i++)
        pthread_join (threads[i], NULL);
    s_collect_pubs (pubs, publishers, t0, out);
    atomic_store (&run->expected, out->acked);
    for (int t = 0; t < threads_for_subs; t++)
        pthread_join (threads[publishers + t], NULL);
    s_collect_subs (subs, subscribers, t0, out);
    if (!subscribers)
        out->p50_us = out->p99_us = out->max_us = BENCH_NO_FIGURE;
    pthread_barrier_destroy (&ready);
    pthread_barrier_destroy (&go);
    free (pubs);
    free (subs);
    free (groups);
    free (threads);
}

void
bench_hub_replay (bench_hub_t *hub, uint64_t since, bench_run_t *run, bench_result_t *out)
{
    memset (out, 0, sizeof *out);
    out->peak_rss_kb = -1;
    s_subthread_t self = {.hub = hub};
    bench_sub_t *sub = &self.sub;
    sub->run = run;
    sub->credit = 10 * BENCH_CREDIT;
    sub->pack = hub->pack;
    hub_identity_t id;
    bench_hub_identity (hub, &id);
    if (!bench_hub_admit (hub, &id, 1, "bench-replay")) {
        bench_problem (out, "could not admit the replay subscriber as a partner");
        return;
    }
    sub->sock = bench_dealer_for (hub->endpoint, hub->server_curve, &id, 2 * (int)sub->credit);
    sodium_memzero (&id, sizeof id);
    if (!sub->sock || !bench_ping (sub->sock, 10000)) {
        bench_problem (out, "replay subscriber: no PONG from the hub");
        if (sub->sock)
            zmq_close (sub->sock);
        return;
    }
    atomic_store (&run->expected, run->messages);
    int64_t t0 = bench_now_ns ();
    if (bench_sub_subscribe (sub, BENCH_CHANNEL, (int64_t)since, false))
        bench_sub_consume (sub);
    zmq_close (sub->sock);
    sub->sock = NULL;
    s_collect_subs (&self, 1, t0, out);
}
