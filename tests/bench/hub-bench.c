/*  hub-bench - hubd's benchmark (CONTRACT.md, section hub-bench).

    Measures, on one machine, what a publisher and a subscriber of hubd see: acknowledged
    publishes per second, deliveries per second over all subscribers, publish-to-delivery
    latency, and whether every subscriber got every message. Next to it, the ceilings:
    libsodium's Ed25519 verify rate (hubd verifies every message) and, on request, a raw
    ZeroMQ CURVE fan-out and a Mosquitto broker running the same workload.

    Exit status: 0 all measured and nothing lost; 1 a message was refused, lost, duplicated
    or stalled (the figures are still printed); 2 bad usage; 3 hubd (or mosquitto) could
    not be started or reached. The parts: bench_hub.c (hubd), bench_zmq.c (sockets and
    the subscriber loop), bench_raw.c (ceilings), bench_mosq.c (Mosquitto).
*/
#include "bench.h"
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char *s_usage =
    "Usage: hub-bench [--hub ENDPOINT --hub-key KEY --key FILE] [--publishers P]\n"
    "                 [--subscribers S] [--size BYTES] [--messages N] [--rate MSGS_PER_S]\n"
    "                 [--against mosquitto] [--raw-fanout S] [--catchup N] [--json]\n"
    "                 [--hubd PATH] [--keep] [--data-dir DIR] [--fill N]\n"
    "                 [--restarts K] [--cold] [--idle-subscribers N] [--stalled K]\n"
    "                 [--no-pack] [--sub-threads T] [--help]\n";

static const char *s_help =
    "\n"
    "Without --hub, starts its own hubd (--hubd PATH, else the one built beside it, else\n"
    "PATH) on a fresh data directory and a free loopback port, and stops it at the end.\n"
    "All messages are built and signed before the clock starts.\n"
    "\n"
    "  --publishers P     publisher connections, each with its own identity (default 4)\n"
    "  --subscribers S    subscriber connections on channel updates (default 1)\n"
    "  --size BYTES       body bytes per message, at least 23 (default 256)\n"
    "  --messages N       messages in total, split over the publishers (default 100000)\n"
    "  --rate R           total publish rate in messages/s; 0 = as fast as possible\n"
    "  --against mosquitto  also run the workload on a Mosquitto broker (QoS 1,\n"
    "                     persistence on) started for the purpose\n"
    "  --raw-fanout S     also measure one CURVE ROUTER sending N messages to S DEALERs\n"
    "  --catchup N        instead of the live workload: publish N messages, then time\n"
    "                     one subscriber replaying them from history\n"
    "  --json             print one JSON object instead of a table\n"
    "  --no-pack          publishers send one PUBLISH per message instead of PUBLISHES\n"
    "                     packs of up to 64 (PROTOCOL.md 4.4), and subscribers take one\n"
    "                     MSG per message instead of MSGS packs (6.4)\n"
    "  --sub-threads T    the subscribers share T threads, each polling its share of the\n"
    "                     sockets (at most 64 per thread); default one thread apiece.\n"
    "                     Shows whether waking the bench's own threads, on the cores\n"
    "                     hubd uses, moves the figures\n"
    "  --keep             keep hubd's data directory and log\n"
    "\n"
    "Growth and memory (our own hubd only):\n"
    "  --data-dir DIR     run hubd on DIR (created if missing, never removed; hubd's log\n"
    "                     goes to DIR/hub-bench-hubd.log), e.g. one filled by --fill\n"
    "  --fill N           first publish N messages through hubd (untimed, in runs of\n"
    "                     250000, P publishers): a genuine signed, chained log\n"
    "  --restarts K       then stop hubd and start it again K times on the same data,\n"
    "                     timing each stop and start-up (startup_ms: exec -> endpoint\n"
    "                     file written, exec -> first PONG); the first start is timed too\n"
    "  --cold             before each restart, drop the data directory's files from the\n"
    "                     page cache (posix_fadvise), so start-up reads them from disk\n"
    "  --idle-subscribers N  during the workload, N more connections (own identities)\n"
    "                     subscribed to channel announcements, where nobody publishes\n"
    "  --stalled K        during the workload, K more connections subscribed to updates\n"
    "                     that never read nor give credit\n"
    "hubd's VmRSS is sampled every second during the workload (hubd_rss in the JSON).\n"
    "\n"
    "Exit status: 0 nothing lost; 1 messages refused, lost, duplicated or stalled (10 s\n"
    "without progress); 2 bad usage; 3 hubd or mosquitto unreachable.\n";

typedef struct {
    double verify1, verify2;
    bench_result_t hub;
    bool have_replay;
    bench_result_t replay;
    bool have_raw;
    bench_result_t raw;
    bool have_mosq;
    bench_result_t mosq;
    long hubd_rss_kb;
    int hubd_status;
    json_t *hub_status;
    json_t *hubd_cpu;
    json_t *hubd_rss; //  VmRSS samples during the workload
    json_t *fill;     //  --fill: what the filling took
    json_t *startup;  //  the first start and each --restarts
    bool ok;
} s_report_t;

static bool
s_number (const char *text, double min, double max, double *out)
{
    char *end;
    double value = strtod (text, &end);
    if (!*text || *end || !isfinite (value) || value < min || value > max)
        return false;
    *out = value;
    return true;
}

//  optarg as a number from min to max into *value: NULL, or why not ("--NAME must be from
//  MIN to MAX", valid until the next call), so a message never disagrees with its bounds.
static const char *
s_range (const char *name, double min, double max, double *value)
{
    static char why[96];
    if (s_number (optarg, min, max, value))
        return NULL;
    snprintf (why, sizeof why, "--%s must be from %.0f to %.0f", name, min, max);
    return why;
}

static int
s_parse (int argc, char **argv, bench_opts_t *opts)
{
    static const struct option longs[] = {{"hub", required_argument, NULL, 'H'},
                                          {"hub-key", required_argument, NULL, 'K'},
                                          {"key", required_argument, NULL, 'k'},
                                          {"publishers", required_argument, NULL, 'p'},
                                          {"subscribers", required_argument, NULL, 's'},
                                          {"size", required_argument, NULL, 'z'},
                                          {"messages", required_argument, NULL, 'n'},
                                          {"rate", required_argument, NULL, 'r'},
                                          {"against", required_argument, NULL, 'a'},
                                          {"json", no_argument, NULL, 'j'},
                                          {"catchup", required_argument, NULL, 'c'},
                                          {"raw-fanout", required_argument, NULL, 'f'},
                                          {"hubd", required_argument, NULL, 'd'},
                                          {"keep", no_argument, NULL, 'K' + 256},
                                          {"data-dir", required_argument, NULL, 'D'},
                                          {"fill", required_argument, NULL, 'F'},
                                          {"restarts", required_argument, NULL, 'R'},
                                          {"cold", no_argument, NULL, 'C'},
                                          {"no-pack", no_argument, NULL, 'N' + 256},
                                          {"sub-threads", required_argument, NULL, 'T' + 256},
                                          {"idle-subscribers", required_argument, NULL, 'I'},
                                          {"stalled", required_argument, NULL, 'S'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    *opts = (bench_opts_t){.publishers = 4, .subscribers = 1, .size = 256, .messages = 100000};
    int opt;
    double value = 0;
    while ((opt = getopt_long (argc, argv, "h", longs, NULL)) != -1) {
        const char *bad = NULL;
        switch (opt) {
        case 'H': opts->hub_endpoint = optarg; break;
        case 'K': opts->hub_key = optarg; break;
        case 'k': opts->key_file = optarg; break;
        case 'd': opts->hubd_path = optarg; break;
        case 'j': opts->json = true; break;
        case 'K' + 256: opts->keep = true; break;
        case 'D': opts->data_dir = optarg; break;
        case 'C': opts->cold = true; break;
        case 'N' + 256: opts->no_pack = true; break;
        case 'T' + 256:
            bad = s_range ("sub-threads", 1, 1000, &value);
            opts->sub_threads = (int)value;
            break;
        case 'F':
            bad = s_range ("fill", 1, 1e10, &value);
            opts->fill = (uint64_t)value;
            break;
        case 'R':
            bad = s_range ("restarts", 0, 1000, &value);
            opts->restarts = (int)value;
            break;
        case 'I':
            bad = s_range ("idle-subscribers", 0, BENCH_IDLE_MAX, &value);
            opts->idle_subscribers = (int)value;
            break;
        case 'S':
            bad = s_range ("stalled", 0, BENCH_IDLE_MAX, &value);
            opts->stalled = (int)value;
            break;
        case 'a':
            if (strcmp (optarg, "mosquitto") != 0)
                bad = "--against takes only 'mosquitto'";
            opts->mosquitto = true;
            break;
        case 'p':
            bad = s_range ("publishers", 1, 1000, &value);
            opts->publishers = (int)value;
            break;
        case 's':
            bad = s_range ("subscribers", 0, 1000, &value);
            opts->subscribers = (int)value;
            break;
        case 'f':
            bad = s_range ("raw-fanout", 1, 1000, &value);
            opts->raw_fanout = (int)value;
            break;
        case 'z':
            bad = s_range ("size", BENCH_BODY_MIN, 60000, &value);
            opts->size = (size_t)value;
            break;
        case 'n':
            bad = s_range ("messages", 1, 1e9, &value);
            opts->messages = (uint64_t)value;
            break;
        case 'c':
            bad = s_range ("catchup", 1, 1e9, &value);
            opts->catchup = (uint64_t)value;
            break;
        case 'r':
            if (!s_number (optarg, 0, 1e9, &value))
                bad = "--rate must be a number of messages per second, 0 or more";
            opts->rate = value;
            break;
        case 'h': printf ("%s%s", s_usage, s_help); exit (0);
        default: fputs (s_usage, stderr); return 2;
        }
        if (bad) {
            fprintf (stderr, "hub-bench: %s\n%s", bad, s_usage);
            return 2;
        }
    }
    const char *bad = NULL;
    if (optind < argc)
        bad = "unexpected argument";
    else if (opts->hub_endpoint && (!opts->hub_key || !opts->key_file))
        bad = "--hub needs --hub-key (the hub's public key) and --key (a partner's key file)";
    else if (opts->hub_endpoint && (opts->data_dir || opts->fill || opts->restarts ||
                                    opts->idle_subscribers || opts->stalled))
        bad = "--data-dir, --fill, --restarts, --idle-subscribers and --stalled need our own "
              "hubd (no --hub)";
    else if (opts->idle_subscribers + opts->stalled > BENCH_IDLE_MAX)
        bad = "--idle-subscribers and --stalled together must be at most 3000";
    else if (opts->mosquitto && !bench_mosq_available ())
        bad = "--against mosquitto: this hub-bench was built without libmosquitto";
    else if ((opts->catchup ? opts->catchup : opts->messages) < (uint64_t)opts->publishers)
        bad = "fewer messages than publishers";
    if (bad) {
        fprintf (stderr, "hub-bench: %s\n%s", bad, s_usage);
        return 2;
    }
    return 0;
}

//  -------------------------------------------------------------------------
//  Running

static json_t *
s_fig (double value)
{
    return value == BENCH_NO_FIGURE ? json_null () : json_real (round (value * 10) / 10);
}

static json_t *
s_int (uint64_t value)
{
    return json_integer ((json_int_t)value);
}

//  True if a hubd result shows nothing refused, lost, duplicated or stalled.
static bool
s_complete (const bench_result_t *r, uint64_t messages, int subscribers)
{
    return !r->stalled && !r->problem[0] && r->refused == 0 && r->acked == messages &&
           r->out_of_order == 0 && (subscribers == 0 || r->delivered_min == messages);
}

//  --fill: publishes opts->fill messages in runs of BENCH_FILL_CHUNK (each run's messages
//  are signed in memory first). False if one was refused or lost.
static bool
s_fill (const bench_opts_t *opts, bench_hub_t *hub, s_report_t *report)
{
    uint64_t acked = 0;
    bench_result_t chunk = {0};
    int64_t start = bench_now_ns ();
    bool ok = true;
    for (uint64_t done = 0; done < opts->fill && ok; done += BENCH_FILL_CHUNK) {
        uint64_t count =
            opts->fill - done < BENCH_FILL_CHUNK ? opts->fill - done : BENCH_FILL_CHUNK;
        bench_run_t run;
        bench_run_init (&run, count, opts->size);
        bench_hub_live (opts, hub, opts->publishers, 0, 0, &run, &chunk);
        bench_run_clear (&run);
        acked += chunk.acked;
        ok = s_complete (&chunk, count, 0);
        fprintf (stderr, "hub-bench: filled %llu of %llu (%.0f msgs/s)\n",
                 (unsigned long long)acked, (unsigned long long)opts->fill,
                 chunk.publish_per_s);
    }
    double seconds = (double)(bench_now_ns () - start) / 1e9;
    report->fill = json_pack ("{s:I, s:I, s:f, s:f, s:o}", "messages", (json_int_t)opts->fill,
                              "acked", (json_int_t)acked, "seconds", round (seconds * 10) / 10,
                              "msgs_per_s", round ((double)acked / seconds), "problem",
                              chunk.problem[0] ? json_string (chunk.problem) : json_null ());
    return ok;
}

static json_t *
s_startup_json (const bench_hub_t *hub)
{
    return json_pack ("{s:o, s:o}", "endpoint_ms", s_fig (hub->endpoint_ms), "pong_ms",
                      s_fig (hub->pong_ms));
}

//  --restarts: stops and starts hubd opts->restarts times, recording each.
static bool
s_restarts (const bench_opts_t *opts, bench_hub_t *hub, s_report_t *report)
{
    json_t *restarts = json_array ();
    json_object_set_new (report->startup, "restarts", restarts);
    for (int i = 0; i < opts->restarts; i++) {
        bool ok = bench_hub_restart (hub, opts->cold);
        json_t *one = s_startup_json (hub);
        json_object_set_new (one, "stop_ms", s_fig (hub->stop_ms));
        json_object_set_new (one, "cold", json_boolean (opts->cold));
        json_array_append_new (restarts, one);
        if (!ok)
            return false;
    }
    return true;
}

static void
s_run_hub (const bench_opts_t *opts, bench_hub_t *hub, s_report_t *report)
{
    if (opts->fill && !s_fill (opts, hub, report)) {
        bench_problem (&report->hub, "--fill: %s",
                       json_string_value (json_object_get (report->fill, "problem"))
                           ?: "a message was refused or lost");
        return;
    }
    if (opts->restarts && !s_restarts (opts, hub, report)) {
        bench_problem (&report->hub, "--restarts: hubd did not restart cleanly");
        return;
    }
    bench_sampler_t *sampler = bench_sampler_start (hub->pid, 1000);
    bench_idle_t *idle = NULL, *stalled = NULL;
    if (opts->idle_subscribers &&
        !(idle = bench_idle_open (hub, opts->idle_subscribers, BENCH_QUIET, "bench-idle")))
        bench_problem (&report->hub, "could not open the idle subscribers");
    else if (opts->stalled &&
             !(stalled = bench_idle_open (hub, opts->stalled, BENCH_CHANNEL, "bench-stalled")))
        bench_problem (&report->hub, "could not open the stalled subscribers");
    else if (opts->catchup) {
        bench_run_t run;
        bench_run_init (&run, opts->catchup, opts->size);
        bench_hub_live (opts, hub, opts->publishers, 0, 0, &run, &report->hub);
        report->ok = s_complete (&report->hub, opts->catchup, 0);
        if (report->ok) {
            report->have_replay = true;
            uint64_t since = report->hub.first_seq ? report->hub.first_seq - 1 : 0;
            bench_hub_replay (hub, since, &run, &report->replay);
            //  no acks in a replay: judge it by deliveries alone
            report->ok = !report->replay.stalled && !report->replay.problem[0] &&
                         report->replay.out_of_order == 0 &&
                         report->replay.delivered_min == opts->catchup;
        }
        bench_run_clear (&run);
    } else {
        bench_run_t run;
        bench_run_init (&run, opts->messages, opts->size);
        bench_hub_live (opts, hub, opts->publishers, opts->subscribers, opts->rate, &run,
                        &report->hub);
        report->ok = s_complete (&report->hub, opts->messages, opts->subscribers);
        bench_run_clear (&run);
    }
    //  Counted while the idle and stalled connections are still there.
    report->hubd_cpu = bench_hub_cpu (hub);
    char *status = bench_hub_status (hub);
    report->hub_status = status ? json_loads (status, 0, NULL) : NULL;
    free (status);
    bench_idle_close (&idle);
    bench_idle_close (&stalled);
    report->hubd_rss = bench_sampler_stop (&sampler);
}

//  -------------------------------------------------------------------------
//  Output

//  The figures every workload has, added to object.
static void
s_figures (json_t *object, const bench_result_t *r, bool deliveries)
{
    json_object_set_new (object, "publish_msgs_per_s", s_fig (r->publish_per_s));
    json_object_set_new (object, "deliveries_per_s", s_fig (r->deliveries_per_s));
    json_object_set_new (object, "p50_us", s_fig (deliveries ? r->p50_us : BENCH_NO_FIGURE));
    json_object_set_new (object, "p99_us", s_fig (deliveries ? r->p99_us : BENCH_NO_FIGURE));
    json_object_set_new (object, "max_us", s_fig (deliveries ? r->max_us : BENCH_NO_FIGURE));
    json_object_set_new (object, "ack_p50_us", s_fig (r->ack_p50_us));
    json_object_set_new (object, "ack_p99_us", s_fig (r->ack_p99_us));
    json_object_set_new (object, "acked", s_int (r->acked));
    json_object_set_new (object, "refused", s_int (r->refused));
    json_object_set_new (object, "delivered_min", s_int (r->delivered_min));
    json_object_set_new (object, "delivered_max", s_int (r->delivered_max));
    json_object_set_new (object, "out_of_order", s_int (r->out_of_order));
    json_object_set_new (object, "stalled", json_boolean (r->stalled));
    json_object_set_new (object, "problem",
                         r->problem[0] ? json_string (r->problem) : json_null ());
}

static json_t *
s_report_json (const bench_opts_t *opts, const s_report_t *report)
{
    json_t *root = json_object ();
    bool catchup = opts->catchup > 0;
    json_object_set_new (root, "publishers", json_integer (opts->publishers));
    json_object_set_new (root, "subscribers", json_integer (catchup ? 0 : opts->subscribers));
    json_object_set_new (root, "size", s_int (opts->size));
    json_object_set_new (root, "messages", s_int (catchup ? opts->catchup : opts->messages));
    json_object_set_new (root, "rate", json_real (catchup ? 0 : opts->rate));
    json_object_set_new (root, "pack", json_boolean (!opts->no_pack));
    json_object_set_new (root, "sub_threads", json_integer (opts->sub_threads));
    json_object_set_new (root, "hub",
                         json_string (opts->hub_endpoint ? opts->hub_endpoint : "own hubd"));
    json_object_set_new (root, "idle_subscribers", json_integer (opts->idle_subscribers));
    json_object_set_new (root, "stalled_subscribers", json_integer (opts->stalled));
    json_object_set_new (root, "data_dir",
                         opts->data_dir ? json_string (opts->data_dir) : json_null ());
    s_figures (root, &report->hub, !catchup);
    if (catchup && report->have_replay) {
        const bench_result_t *replay = &report->replay;
        json_object_set_new (root, "deliveries_per_s", s_fig (replay->deliveries_per_s));
        json_object_set_new (root, "delivered_min", s_int (replay->delivered_min));
        json_object_set_new (root, "delivered_max", s_int (replay->delivered_max));
        double ratio = replay->deliveries_per_s > 0 && report->hub.publish_per_s > 0
                           ? replay->deliveries_per_s / report->hub.publish_per_s
                           : BENCH_NO_FIGURE;
        json_object_set_new (
            root, "catchup",
            json_pack (
                "{s:I, s:o, s:o, s:o, s:I, s:o}", "messages", (json_int_t)opts->catchup,
                "publish_msgs_per_s", s_fig (report->hub.publish_per_s), "replay_msgs_per_s",
                s_fig (replay->deliveries_per_s), "replay_vs_publish",
                ratio == BENCH_NO_FIGURE ? json_null () : json_real (round (ratio * 100) / 100),
                "replayed", (json_int_t)replay->delivered_min, "problem",
                replay->problem[0] ? json_string (replay->problem) : json_null ()));
    }
    json_object_set_new (root, "hubd_peak_rss_kb",
                         report->hubd_rss_kb >= 0 ? json_integer (report->hubd_rss_kb)
                                                  : json_null ());
    json_object_set_new (root, "hubd_exit_status",
                         opts->hub_endpoint ? json_null ()
                                            : json_integer (report->hubd_status));
    json_object_set_new (root, "verify_1thread_per_s", s_fig (report->verify1));
    json_object_set_new (root, "verify_2thread_per_s", s_fig (report->verify2));
    json_object_set_new (
        root, "publish_vs_verify_2thread",
        report->hub.publish_per_s > 0
            ? json_real (round (report->hub.publish_per_s / report->verify2 * 1000) / 1000)
            : json_null ());
    if (report->have_raw) {
        json_t *raw = json_object ();
        json_object_set_new (raw, "subscribers", json_integer (opts->raw_fanout));
        json_object_set_new (raw, "messages", s_int (opts->messages));
        s_figures (raw, &report->raw, true);
        json_object_del (raw, "publish_msgs_per_s");
        json_object_del (raw, "ack_p50_us");
        json_object_del (raw, "ack_p99_us");
        json_object_del (raw, "acked");
        json_object_del (raw, "refused");
        json_object_set_new (root, "raw_fanout", raw);
    }
    if (report->have_mosq) {
        json_t *mosq = json_object ();
        s_figures (mosq, &report->mosq, true);
        json_object_del (mosq, "ack_p50_us");
        json_object_del (mosq, "ack_p99_us");
        json_object_del (mosq, "refused");
        json_object_del (mosq, "out_of_order");
        json_object_set_new (mosq, "peak_rss_kb",
                             report->mosq.peak_rss_kb >= 0
                                 ? json_integer (report->mosq.peak_rss_kb)
                                 : json_null ());
        json_object_set_new (root, "mosquitto", mosq);
    }
    json_object_set_new (root, "hub_status",
                         report->hub_status ? json_incref (report->hub_status) : json_null ());
    json_object_set_new (root, "hubd_cpu_ms",
                         report->hubd_cpu ? json_incref (report->hubd_cpu) : json_null ());
    json_object_set_new (root, "hubd_rss",
                         report->hubd_rss ? json_incref (report->hubd_rss) : json_null ());
    json_object_set_new (root, "startup_ms",
                         report->startup ? json_incref (report->startup) : json_null ());
    json_object_set_new (root, "fill",
                         report->fill ? json_incref (report->fill) : json_null ());
    json_object_set_new (root, "ok", json_boolean (report->ok));
    return root;
}

static void
s_cell (const json_t *object, const char *key)
{
    const json_t *value = object ? json_object_get (object, key) : NULL;
    if (json_is_integer (value))
        printf (" %14lld", (long long)json_integer_value (value));
    else if (json_is_real (value))
        printf (" %14.1f", json_real_value (value));
    else
        printf (" %14s", "-");
}

static void
s_print_table (const bench_opts_t *opts, json_t *root)
{
    static const struct {
        const char *key, *label;
    } rows[] = {{"publish_msgs_per_s", "publish msgs/s (acked)"},
                {"deliveries_per_s", "deliveries/s (all subs)"},
                {"p50_us", "latency p50 (us)"},
                {"p99_us", "latency p99 (us)"},
                {"max_us", "latency max (us)"},
                {"ack_p50_us", "ack p50 (us)"},
                {"ack_p99_us", "ack p99 (us)"},
                {"delivered_min", "delivered min"},
                {"delivered_max", "delivered max"},
                {"peak_rss_kb", "peak RSS (kB)"}};
    json_t *mosq = json_object_get (root, "mosquitto");
    json_t *raw = json_object_get (root, "raw_fanout");
    if (opts->catchup)
        printf ("hub-bench: catch-up of %llu messages of %zu bytes, %d publishers\n",
                (unsigned long long)opts->catchup, opts->size, opts->publishers);
    else
        printf ("hub-bench: %d publishers, %d subscribers, %zu-byte bodies, %llu messages, "
                "rate %s\n",
                opts->publishers, opts->subscribers, opts->size,
                (unsigned long long)opts->messages, opts->rate > 0 ? "paced" : "unpaced");
    printf ("%-26s %14s%s%s\n", "", "hubd", mosq ? "      mosquitto" : "",
            raw ? "    raw fan-out" : "");
    json_object_set (root, "peak_rss_kb", json_object_get (root, "hubd_peak_rss_kb"));
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        printf ("%-26s", rows[i].label);
        s_cell (root, rows[i].key);
        if (mosq)
            s_cell (mosq, rows[i].key);
        if (raw)
            s_cell (raw, rows[i].key);
        printf ("\n");
    }
    json_object_del (root, "peak_rss_kb");
    json_t *catchup = json_object_get (root, "catchup");
    if (catchup)
        printf ("replay from history: %.0f msgs/s = %.2f x the publish rate\n",
                json_number_value (json_object_get (catchup, "replay_msgs_per_s")),
                json_number_value (json_object_get (catchup, "replay_vs_publish")));
    printf ("Ed25519 verify: %.0f/s on 1 thread, %.0f/s on 2 threads",
            json_number_value (json_object_get (root, "verify_1thread_per_s")),
            json_number_value (json_object_get (root, "verify_2thread_per_s")));
    json_t *ratio = json_object_get (root, "publish_vs_verify_2thread");
    if (json_is_number (ratio))
        printf (" (publish rate = %.0f%% of it)", json_number_value (ratio) * 100);
    printf ("\n");
    const char *problem = json_string_value (json_object_get (root, "problem"));
    printf ("%s\n", json_is_true (json_object_get (root, "ok"))
                        ? "ok: every subscriber got every message, in order"
                        : "NOT OK: see the problem below and hubd's log");
    if (problem)
        printf ("problem: %s\n", problem);
}

//  Every connection costs a descriptor here and one in hubd (which inherits the limit).
static void
s_raise_fd_limit (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
}

int
main (int argc, char **argv)
{
    bench_opts_t opts;
    int rc = s_parse (argc, argv, &opts);
    if (rc)
        return rc;
    if (sodium_init () < 0) {
        fprintf (stderr, "hub-bench: libsodium cannot initialise\n");
        return 3;
    }
    s_report_t report = {.hubd_rss_kb = -1};
    //  The ceiling first, while the machine is idle.
    report.verify1 = bench_verify_rate (1, opts.size, 0.5);
    report.verify2 = bench_verify_rate (2, opts.size, 1.0);

    s_raise_fd_limit ();
    bench_hub_t hub;
    bool opened = bench_hub_open (&opts, &hub);
    if (opened && hub.pid > 0)
        report.startup = s_startup_json (&hub);
    if (opened)
        s_run_hub (&opts, &hub, &report);
    else if (hub.log_path[0]) {
        fprintf (stderr, "hub-bench: end of %s:\n", hub.log_path);
        bench_log_tail (hub.log_path, 15);
    }
    bool keep = opts.keep || (opened && !report.ok);
    report.hubd_status = bench_hub_close (&hub, keep, &report.hubd_rss_kb);
    if (!opened)
        return 3;
    if (report.hubd_status != 0) {
        bench_problem (&report.hub, "hubd exited with status %d", report.hubd_status);
        report.ok = false;
    }
    if (opts.raw_fanout) {
        bench_run_t run;
        bench_run_init (&run, opts.messages, opts.size);
        bench_raw_fanout (opts.raw_fanout, &run, &report.raw);
        report.have_raw = true;
        bench_run_clear (&run);
    }
    if (opts.mosquitto) {
        bench_run_t run;
        bench_run_init (&run, opts.messages, opts.size);
        bench_mosq_live (opts.publishers, opts.subscribers, opts.rate, &run, &report.mosq);
        report.have_mosq = true;
        bench_run_clear (&run);
    }
    json_t *root = s_report_json (&opts, &report);
    if (opts.json) {
        char *text = json_dumps (root, JSON_COMPACT);
        puts (text);
        free (text);
    } else
        s_print_table (&opts, root);
    if (!report.ok && hub.log_path[0] && !opts.keep)
        fprintf (stderr, "hub-bench: hubd's log is in %s\n", hub.log_path);
    json_decref (root);
    json_decref (report.hub_status);
    json_decref (report.hubd_cpu);
    json_decref (report.hubd_rss);
    json_decref (report.startup);
    json_decref (report.fill);
    return report.ok ? 0 : 1;
}
