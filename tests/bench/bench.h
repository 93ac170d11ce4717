/*  bench.h - what the parts of hub-bench share: options, the run, results, helpers.

    A run is N messages, each with a global index 0..N-1. The body of message i is text:

        "hb TAG IIIIIIIIII xxxx...x"     (TAG: 8 hex of this run, I: 10-digit index)

    padded with 'x' to --size bytes. Bodies are signed before the clock starts, so the
   send time cannot be inside them: the publisher writes it into run->send_ns[i] right
   before sending, and a subscriber, in the same process, reads it back by the index it
   finds in the body. Latency is therefore "publisher hands the frames to ZeroMQ" ->
   "subscriber has the whole MSG", on CLOCK_MONOTONIC.
*/
#ifndef HUB_BENCH_H_INCLUDED
#define HUB_BENCH_H_INCLUDED

#include "hub_keys.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BENCH_WINDOW     256                 //  unacknowledged publishes per publisher
#define BENCH_CREDIT     1000                //  subscriber credit window (live)
#define BENCH_STALL_NS   (10 * 1000000000LL) //  no progress this long: give up
#define BENCH_BODY_MIN   23                  //  "hb " + tag + " " + index + " "
#define BENCH_TAG_LEN    8
#define BENCH_CHANNEL    "updates"
#define BENCH_QUIET      "announcements" //  --idle-subscribers listen here; nobody publishes
#define BENCH_FILL_CHUNK 250000          //  --fill publishes in runs of this many (memory)
#define BENCH_IDLE_MAX   3000            //  idle + stalled connections (sockets: 4096)
#define BENCH_NO_FIGURE  (-1.0)          //  a figure that was not measured (JSON null)

typedef struct {
    const char *hub_endpoint; //  NULL: start our own hubd
    const char *hub_key;
    const char *key_file;
    const char *hubd_path;
    int publishers;
    int subscribers;
    size_t size;
    uint64_t messages;
    double rate; //  messages/s over all publishers; 0 = unpaced
    bool mosquitto;
    bool json;
    uint64_t catchup;
    int raw_fanout;
    bool keep;
    const char *data_dir; //  NULL: a fresh temporary one (removed at the end)
    uint64_t fill;        //  publish this many (untimed) before the measured workload
    int restarts;         //  restart hubd this many times before it, timing start-up
    bool cold;            //  evict the data directory from the page cache before each
    int idle_subscribers; //  subscribed to BENCH_QUIET during the workload
    int stalled;          //  subscribed to BENCH_CHANNEL, never read
    bool no_pack;         //  one PUBLISH and one MSG per message: no PUBLISHES, no MSGS
    int sub_threads;      //  threads the subscribers share; 0: one thread each
} bench_opts_t;

//  One workload's shared state. Threads only touch their own slots of send_ns.
typedef struct {
    uint64_t messages;
    size_t size;
    char tag[BENCH_TAG_LEN + 1];
    _Atomic int64_t *send_ns;  //  [messages]: when message i was handed to the transport
    _Atomic uint64_t expected; //  deliveries per subscriber; UINT64_MAX until known
    _Atomic bool abort;        //  a thread failed: everybody stops
    int64_t settle_ns;         //  after publishers finish, stop after this much silence
} bench_run_t;

//  What a workload measured. Rates are per second; latencies in microseconds.
typedef struct {
    double publish_per_s;
    double deliveries_per_s;
    double p50_us, p99_us, max_us;
    double ack_p50_us, ack_p99_us;
    uint64_t acked;
    uint64_t refused;
    uint64_t delivered_min, delivered_max, delivered_total;
    uint64_t out_of_order; //  seq not above the previous one (duplicates included)
    uint64_t first_seq;    //  lowest seq acknowledged (catch-up starts below it)
    long peak_rss_kb;      //  of the broker we started; -1 if none
    bool stalled;
    char problem[256]; //  first thing that went wrong, "" if nothing
} bench_result_t;

//  Latencies gathered by one thread (nanoseconds). Grows as needed.
typedef struct {
    int64_t *ns;
    size_t count, cap;
} bench_lat_t;

//  --------------------------------------------------------------------------
//  bench_util.c

int64_t bench_now_ns (void);
void bench_lat_add (bench_lat_t *lat, int64_t ns);
void bench_lat_free (bench_lat_t *lat);

//  Merges the latencies of count sets and writes p50, p99 and max (microseconds) to out;
//  BENCH_NO_FIGURE when there are none.
void bench_lat_summary (bench_lat_t *const *sets, size_t count, double *p50, double *p99,
                        double *max);

//  Sets up run for messages bodies of size bytes with a fresh random tag. Caller frees
//  with bench_run_clear.
void bench_run_init (bench_run_t *run, uint64_t messages, size_t size);
void bench_run_clear (bench_run_t *run);

//  Writes the body of message index (run->size bytes, no NUL) into out.
void bench_body (const bench_run_t *run, uint64_t index, uint8_t *out);

//  The index of a body of this run, or -1 if the body is not one of ours.
int64_t bench_body_index (const bench_run_t *run, const uint8_t *body, size_t len);

//  Records the first problem of a result (later ones are dropped).
void bench_problem (bench_result_t *result, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

//  A loopback TCP port that was free a moment ago; 0 on failure.
int bench_free_port (void);

//  Removes a directory tree; quiet about what is already gone.
void bench_rmtree (const char *path);

//  A kB figure of /proc/PID/status (field "VmHWM" = peak resident set, "VmRSS" = now);
//  -1 if unreadable.
long bench_status_kb (pid_t pid, const char *field);

//  Drops the files of a directory from the page cache (after writing them out), so that
//  the next reader finds them on disk: a "cold" start without dropping every cache.
void bench_evict_cache (const char *dir);

//  Samples a process's VmRSS every interval_ms on a thread of its own.
typedef struct _bench_sampler_t bench_sampler_t;
bench_sampler_t *bench_sampler_start (pid_t pid, int interval_ms);

//  Stops the sampler and returns its samples (kB, oldest first) as a jansson object
//  {every_ms, max_kb, last_kb, samples_kb}, returned as void * (caller owns it).
//  NULL-safe: a NULL sampler gives NULL.
void *bench_sampler_stop (bench_sampler_t **self_p);

//  Starts argv[0] (searched in PATH unless it has a slash) with stdout and stderr going
//  to log_path. Returns the pid, or -1 (the reason on stderr).
pid_t bench_spawn (char *const argv[], const char *log_path);

//  Sends SIGTERM and waits up to timeout_ms, then SIGKILL. Returns the exit status
//  (128+signal if killed by a signal).
int bench_stop (pid_t pid, int timeout_ms);

//  Prints the last lines of a log file to stderr, each prefixed.
void bench_log_tail (const char *path, int lines);

//  --------------------------------------------------------------------------
//  bench_zmq.c: sockets and the subscriber loop shared by hubd and raw fan-out

//  The process's libzmq context (one I/O thread), created on first use.
void *bench_zmq_ctx (void);

//  A DEALER connected to endpoint with CURVE (client keys are X25519). NULL on failure.
//  rcvhwm 0 keeps libzmq's default.
void *bench_dealer (const char *endpoint, const uint8_t server_curve[32],
                    const uint8_t client_pk[32], const uint8_t client_sk[32], int rcvhwm);

//  The same for an Ed25519 identity (its CURVE halves are derived).
void *bench_dealer_for (const char *endpoint, const uint8_t server_curve[32],
                        const hub_identity_t *id, int rcvhwm);

//  Receives one multipart message into frames (at most max; further frames are dropped
//  but counted). Returns the number of frames, 0 if none was waiting (flags
//  ZMQ_DONTWAIT) or on error. The caller closes min(n, max) frames.
int bench_recv (void *sock, void *frames, int max, int flags);

//  Sends PING and waits for PONG up to timeout_ms. False on timeout or error.
bool bench_ping (void *sock, int timeout_ms);

//  Sends a request without arguments (STATUS) and returns the JSON of its REPLY as a new
//  string the caller frees, or NULL after timeout_ms or on ERROR.
char *bench_request_json (void *sock, uint8_t cmd, int timeout_ms);

//  A subscriber: counts the run's messages (MSG frames, MSGS records), their latency and
//  order, and (if credit) gives credit back as it consumes.
typedef struct {
    bench_run_t *run;
    void *sock;
    uint32_t credit; //  0: never send CREDIT (raw fan-out)
    bool pack;       //  asks for MSGS packs
    uint64_t delivered;
    uint64_t out_of_order;
    uint64_t last_seq;
    int64_t last_ns; //  when the last of the run's messages arrived
    bench_lat_t lat;
    bool stalled;
    char problem[200];
} bench_sub_t;

//  Sends SUBSCRIBE (channel, credit sub->credit, since unless < 0) with request id 1.
//  With wait, waits up to 10 s for the REPLY (bench_sub_answered); false (problem set) on
//  ERROR/timeout.
bool bench_sub_subscribe (bench_sub_t *sub, const char *channel, int64_t since, bool wait);

//  Waits up to 10 s for the REPLY to the SUBSCRIBE; false (problem set) on ERROR/timeout.
bool bench_sub_answered (bench_sub_t *sub);

//  Receives until run->expected of the run's messages arrived, run->abort is set, or
//  nothing arrived for BENCH_STALL_NS (sub->stalled).
void bench_sub_consume (bench_sub_t *sub);

//  The same for count (1 to BENCH_SUBS_PER_THREAD) subscribers of one run in one thread,
//  polling them together: fewer threads to wake on a small machine.
#define BENCH_SUBS_PER_THREAD 64
void bench_sub_consume_all (bench_sub_t **subs, int count);

//  --------------------------------------------------------------------------
//  bench_hub.c: the hubd workloads

typedef struct {
    pid_t pid;          //  -1 when the hub is not ours
    char dir[256];      //  our temporary directory: hubd.log and data/
    char data_dir[300]; //  hubd's --data-dir
    char log_path[300];
    char endpoint[64];
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
    uint8_t server_curve[32];
    bool have_key; //  --key given: every connection uses it
    hub_identity_t key;
    bool have_admin; //  our own hubd: its administrator admits our identities
    hub_identity_t admin;
    char name_tag[9]; //  in the names of the partners we admit
    int admitted;
    const char *hubd_path;
    int64_t start_ns;   //  when the last hubd was started
    double endpoint_ms; //  last start: exec -> DATA_DIR/hubd.endpoint written
    double pong_ms;     //  last start: exec -> first PONG
    double stop_ms;     //  last restart: SIGTERM -> exit
    bool pack;          //  our publishers send PUBLISHES, our subscribers ask for MSGS
} bench_hub_t;

//  Starts hubd (or, with opts->hub_endpoint, just resolves the keys) and waits until it
//  answers PING. False, with the reason on stderr, on failure.
bool bench_hub_open (const bench_opts_t *opts, bench_hub_t *hub);

//  Stops our hubd and starts it again on the same data directory and port (cold: after
//  evicting the directory from the page cache), timing both. False, reason on stderr, if
//  it did not stop cleanly or come back.
bool bench_hub_restart (bench_hub_t *hub, bool cold);

//  Stops a hubd we started (recording its peak RSS first) and removes its directory
//  unless keep or --data-dir. Returns hubd's exit status, or 0 if it was not ours.
int bench_hub_close (bench_hub_t *hub, bool keep, long *peak_rss_kb);

//  An identity for one connection: the --key one, else a new one. With our own hubd,
//  bench_hub_admit must make it a partner before it can connect.
void bench_hub_identity (const bench_hub_t *hub, hub_identity_t *out);

//  With our own hubd, admits ids[0..count) as partners named PREFIX-TAG-N (ADMIN
//  partner.add, PROTOCOL.md 9.3; TAG is random per bench_hub_open, N counts up), waiting
//  for every ACK: names never clash, even on a data directory reused by --data-dir. Without
//  (--hub), does nothing: the --key identity must already be a partner. False, reason on
//  stderr, on failure.
bool bench_hub_admit (bench_hub_t *hub, const hub_identity_t *ids, int count,
                      const char *prefix);

//  Connections that subscribe (to channel, with credit BENCH_CREDIT) and then never read:
//  on BENCH_QUIET they idle, on BENCH_CHANNEL they stall once their credit is spent.
typedef struct _bench_idle_t bench_idle_t;

//  Opens count such connections, each a partner of its own named PREFIX0..., and waits
//  for every SUBSCRIBE to be answered. NULL (reason on stderr) on failure; NULL-safe
//  destroy closes them.
bench_idle_t *bench_idle_open (bench_hub_t *hub, int count, const char *channel,
                               const char *prefix);
void bench_idle_close (bench_idle_t **self_p);

//  CPU time (ms) hubd's threads used so far, summed by thread name, plus "total": a
//  jansson object (returned as void * to keep jansson out of this header) the caller
//  owns, or NULL when hubd is not ours.
void *bench_hub_cpu (bench_hub_t *hub);

//  The hub's STATUS reply (new JSON string the caller frees), or NULL.
char *bench_hub_status (bench_hub_t *hub);

//  Runs the live workload: publishers publish run->messages, subscribers count.
void bench_hub_live (const bench_opts_t *opts, bench_hub_t *hub, int publishers,
                     int subscribers, double rate, bench_run_t *run, bench_result_t *out);

//  One subscriber replays the messages of run (published by bench_hub_live with no
//  subscribers) from seq since. Fills deliveries_per_s and the delivered counts.
void bench_hub_replay (bench_hub_t *hub, uint64_t since, bench_run_t *run, bench_result_t *out);

//  --------------------------------------------------------------------------
//  bench_raw.c: the ceilings

//  Ed25519 verifications per second on threads threads, for a message of body size
//  bytes (crypto_sign_verify_detached over the protocol's signed bytes).
double bench_verify_rate (int threads, size_t size, double seconds);

//  One ROUTER sends run->messages hubd-shaped MSG frames to each of subscribers CURVE
//  DEALERs, lossless (blocking at the high-water mark). Fills deliveries_per_s,
//  latencies and delivered counts.
void bench_raw_fanout (int subscribers, bench_run_t *run, bench_result_t *out);

//  --------------------------------------------------------------------------
//  bench_mosq.c: the same live workload on Mosquitto (QoS 1, persistence on)

//  False if hub-bench was built without libmosquitto.
bool bench_mosq_available (void);
void bench_mosq_live (int publishers, int subscribers, double rate, bench_run_t *run,
                      bench_result_t *out);

#endif
