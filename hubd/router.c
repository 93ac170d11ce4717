/*  router.c - see router.h.

    One thread, one zmq_poll loop: the front socket, commits coming back from the store,
    answers from the reader, the socket monitor (to count clients) and a signalfd. Front
    requests are drained up to ROUTER_DRAIN at a time and the publishes among them go to
    the verifiers as one batch, so the hand-off cost is paid per batch, not per message.
    When too much is in flight the front socket is simply not read: back-pressure reaches
    publishers through ZeroMQ and TCP instead of growing memory here.
*/
#include "router.h"
#include "rights.h"
#include "query.h"
#include "relay.h"
#include "sched.h"
#include "channel.h"
#include "action.h"
#include "admin.h"
#include "auth.h"
#include "deliver.h"
#include "directory.h"
#include "entry.h"
#include "log.h"
#include "mem.h"
#include "meter.h"
#include "store.h"
#include "verify.h"
#include "wire.h"
#include "hub_text.h"
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define ROUTER_MAX_FRAMES    8     //  the most any request has (PUBLISH: 5 with routing id)
#define ROUTER_DRAIN         256   //  requests taken per poll round
#define ROUTER_IN_FLIGHT_MAX 32768 //  entries between front door and commit
//  ...and the memory they may hold: 32,768 entries of max_message_bytes (up to 16 MiB) had
//  no bound worth the name. Over it the front socket is not read, as over the count.
#define ROUTER_IN_FLIGHT_BYTES ((size_t)64 * 1024 * 1024)
//  What ZeroMQ may queue per connection while the front door does not read: this many
//  bytes of largest messages, as a receive high-water mark of 16 to 1000 requests.
#define ROUTER_QUEUE_BYTES   ((size_t)8 * 1024 * 1024)
#define ROUTER_HOLD_LOG_MS   10000 //  at most one "holding back" notice this often
#define ROUTER_BATCHES_MAX   2048  //  below the store's reorder ring
#define ROUTER_BATCH_MAX     256   //  entries per batch: the verifier threads share a burst
#define ROUTER_SPLIT_MIN     8     //  a batch this big is halved when two verifiers are idle
#define ROUTER_COMMITTED_MAX 64    //  committed batches fanned out as one delivery round
#define ROUTER_SWEEP_MS      10000
#define ROUTER_RESUME_MS     20 //  how soon a held subscriber that read goes on
//  History bytes a client may leave unread in the hub's queue to it: a page stops there
//  (its END says so) rather than queue without bound for a client that asks and never
//  reads (ZeroMQ's high-water mark counts messages, not bytes).
#define ROUTER_REFUSED_LINES       100 //  refusal log lines per window, then a summary
#define ROUTER_REFUSED_WINDOW_MS   10000
#define ROUTER_HISTORY_READS_MAX   4  //  pages being read for one connection (each in memory)
#define ROUTER_HISTORY_READS_TOTAL 64 //  and for all: up to 64 pages of 4 MiB in memory
#define ROUTER_SWEEP_SOON_MS       50 //  after a disconnect: the socket has let go of the peer
#define MONITOR_ENDPOINT           "inproc://hubd-monitor"

//  What the hub started with that only a restart changes.
typedef struct {
    char *endpoint;
    char *data_dir;
    int verify_threads;
} s_fixed_t;

//  A log line that may come often: at most so many per window, the rest counted and told
//  when the next window opens.
typedef struct {
    int64_t start_ms;  //  when the current window opened (0: none yet)
    int logged;        //  lines logged in it
    uint64_t unlogged; //  lines held back in it
} s_throttle_t;

struct _router_t {
    zsock_t *front_sock;
    void *front; //  its libzmq handle
    zsock_t *from_store;
    zsock_t *monitor;
    verify_t *verify;
    reader_t *reader;
    deliver_t *deliver;
    channel_set_t *channels;
    directory_t *directory;
    relay_t *relay; //  the outbox worker: owned, restarted on reload
    meter_t *meter; //  history bytes each peer has not taken yet
    store_t *store; //  borrowed: told of relay changes on reload
    action_set_t *actions;
    sched_policy_t policy;
    int64_t next_reminder_ms; //  0: to be computed
    int64_t digest_every_ms;  //  0: no digest
    int64_t last_digest_slot;
    hub_identity_t hub; //  signs reminders
    auth_t *auth;
    char *db_path;
    char *endpoint_path; //  DATA_DIR/hubd.endpoint, removed at the stop
    s_fixed_t started_with;
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
    uint8_t admin_pk[HUB_PUBKEY_BYTES];
    rights_t *rights;
    size_t max_message_bytes;
    batch_t *batch; //  publishes gathered in this poll round
    uint64_t next_batch;
    size_t in_flight;
    size_t in_flight_bytes; //  entry_bytes of the entries in flight
    size_t batches_in_flight;
    bool held;                //  the front door is not reading: too much in flight
    s_throttle_t hold_log;    //  "holding back" notices
    s_throttle_t refusal_log; //  "refused" lines
    bool stopping;
    int64_t started_ms;
    int64_t clients;
    int64_t sweep_soon; //  monotonic ms of a sweep a disconnect asked for; 0: none
    uint64_t stored;
    uint64_t refused;
    uint64_t head;
};

typedef struct {
    zmq_msg_t frames[ROUTER_MAX_FRAMES];
    int count;
    bool too_many;
} s_request_t;

//  What every handler needs to know about the request it answers.
typedef struct {
    zmq_msg_t *peer; //  routing id
    uint8_t cmd;
    uint32_t req_id;
    zmq_msg_t *args; //  the frames after the envelope
    int n;
    const char *user_id;  //  hex CURVE key, from ZAP
    const partner_t *who; //  the partner that key belongs to
} s_ctx_t;

//  -------------------------------------------------------------------------
//  Names and keys

static const char *
s_name_of (const uint8_t key[HUB_PUBKEY_BYTES], void *arg)
{
    router_t *self = arg;
    return directory_name_of (self->directory, key);
}

//  -------------------------------------------------------------------------
//  Answers

static const char *
s_cmd_name (uint8_t cmd)
{
    static const char *names[] = {"a request", "PUBLISH",     "SUBSCRIBE", "CREDIT",
                                  "HISTORY",   "UNSUBSCRIBE", "STATUS",    "ADMIN",
                                  "PING",      "QUERY",       "PUBLISHES"};
    return cmd < sizeof names / sizeof names[0] ? names[cmd] : names[0];
}

//  Whether one more line may be logged: at most lines per window_ms. *held_back is what
//  the window that has just closed held back (0 while it stays open).
static bool
s_throttle_pass (s_throttle_t *throttle, int lines, int64_t window_ms, uint64_t *held_back)
{
    int64_t now = zclock_mono ();
    *held_back = 0;
    if (!throttle->start_ms || now - throttle->start_ms >= window_ms) {
        *held_back = throttle->unlogged;
        *throttle = (s_throttle_t){.start_ms = now};
    }
    if (throttle->logged < lines) {
        throttle->logged++;
        return true;
    }
    throttle->unlogged++;
    return false;
}

static void
s_refuse (router_t *self, const s_ctx_t *ctx, hub_err_t code, const char *reason)
{
    self->refused++;
    //  ROUTER_REFUSED_LINES lines per window, then one for the rest: a client sending
    //  garbage at full speed cannot fill the disk or the journal (every refusal is still
    //  answered, and counted in status).
    uint64_t held_back;
    bool line = s_throttle_pass (&self->refusal_log, ROUTER_REFUSED_LINES,
                                 ROUTER_REFUSED_WINDOW_MS, &held_back);
    if (held_back)
        log_notice ("router",
                    "%" PRIu64 " more refusals in the last %d s were not logged "
                    "(hubctl status counts them all)",
                    held_back, ROUTER_REFUSED_WINDOW_MS / 1000);
    if (line)
        log_notice ("router", "refused %s (request %u) from %s: %s: %s", s_cmd_name (ctx->cmd),
                    ctx->req_id, ctx->who ? ctx->who->name : "an unknown key",
                    hub_err_name (code), reason);
    wire_send_error (self->front, zmq_msg_data (ctx->peer), zmq_msg_size (ctx->peer),
                     ctx->req_id, code, reason);
}

static void
s_reply (router_t *self, const s_ctx_t *ctx, uint8_t cmd, json_t *json)
{
    char *text = json ? json_dumps (json, JSON_COMPACT) : NULL;
    if (text && strlen (text) > HUB_REPLY_MAX) { //  what a client takes (PROTOCOL.md 3)
        char why[128];
        snprintf (why, sizeof why, "the answer would be %zu bytes, over %d: narrow the query",
                  strlen (text), HUB_REPLY_MAX);
        s_refuse (self, ctx, HUB_E_TOO_LARGE, why);
        free (text);
        json_decref (json);
        return;
    }
    wire_send_json (self->front, zmq_msg_data (ctx->peer), zmq_msg_size (ctx->peer), cmd,
                    ctx->req_id, text);
    free (text);
    json_decref (json);
}

typedef struct {
    router_t *router;
    uint8_t (**keys)[32];
    size_t *count;
    size_t *capacity;
} s_door_collect_t;

static void
s_door_collect (const partner_t *partner, void *arg)
{
    s_door_collect_t *collect = arg;
    if (partner->left_ms || !partner->curve_hex[0]) {
        if (collect->router->deliver)
            deliver_drop_user (collect->router->deliver, partner->curve_hex);
        return;
    }
    if (*collect->count == *collect->capacity) {
        *collect->capacity *= 2;
        *collect->keys =
            mem_realloc (*collect->keys, *collect->capacity * sizeof **collect->keys);
    }
    hub_hex_decode (partner->curve_hex, (*collect->keys)[(*collect->count)++], 32);
}

//  Tells the door which keys may connect: the administrator and every current partner.
//  Subscriptions of partners who are no longer current end here.
static void
s_sync_door (router_t *self)
{
    size_t count = 0, capacity = 16;
    uint8_t (*keys)[32] = mem_alloc (capacity * sizeof *keys);
    const partner_t *admin = directory_by_name (self->directory, "admin");
    hub_key_curve_public (admin->key, keys[count++]);
    s_door_collect_t collect = {self, &keys, &count, &capacity};
    directory_each (self->directory, s_door_collect, &collect);
    auth_replace (self->auth, (const uint8_t (*)[32])keys, count);
    free (keys);
}

//  -------------------------------------------------------------------------
//  PUBLISH and ADMIN: both carry a signed message (header, body, signature)

static rights_view_t
s_view (router_t *self)
{
    return (rights_view_t){self->channels, self->directory, self->actions,
                           self->max_message_bytes};
}

//  Whether the front door may take more requests: entries, their memory and batches in
//  flight (the batch being filled included) are all under their bounds.
static bool
s_has_room (const router_t *self)
{
    size_t entries = self->in_flight + (self->batch ? self->batch->count : 0);
    size_t bytes = self->in_flight_bytes + (self->batch ? self->batch->bytes : 0);
    return entries < ROUTER_IN_FLIGHT_MAX && bytes < ROUTER_IN_FLIGHT_BYTES &&
           self->batches_in_flight < ROUTER_BATCHES_MAX;
}

//  Takes the entry into the batch being filled, opening one if none is. The only place a
//  batch is opened, so the open batch is always the newest (s_flush_batch counts on it).
static void
s_batch_add (router_t *self, entry_t **entry_p)
{
    if (!self->batch)
        self->batch = batch_new (self->next_batch++);
    batch_append (self->batch, entry_p);
}

static void
s_submit (router_t *self, batch_t *batch)
{
    self->in_flight += batch->count;
    self->in_flight_bytes += batch->bytes;
    self->batches_in_flight++;
    verify_submit (self->verify, batch);
}

//  Sends the batch being filled to the verifiers. When two or more of them are idle its
//  second half goes as a batch of its own, so both check at once instead of one checking
//  the lot while the other waits (the store commits the two in order, as any others).
static void
s_flush_batch (router_t *self)
{
    batch_t *batch = self->batch;
    if (!batch)
        return;
    self->batch = NULL;
    //  The open batch is the newest: the number after it is free.
    batch_t *rest = batch->count >= ROUTER_SPLIT_MIN && verify_idle (self->verify) >= 2
                        ? batch_split (batch, self->next_batch++)
                        : NULL;
    s_submit (self, batch);
    if (rest)
        s_submit (self, rest);
}

//  Checks one signed message (ctx says who sent it, as what, under which request id) and
//  sends it on to the verifiers, or refuses it at once. packed: it came in a PUBLISHES.
static void
s_take_signed (router_t *self, const s_ctx_t *ctx, const hub_pub_record_t *msg, size_t sig_len,
               bool packed)
{
    char why[200];
    hub_header_t hdr = {0};
    rights_view_t view = s_view (self);
    hub_err_t err =
        rights_check_signed (self->rights, &view, ctx->cmd, ctx->who, ctx->user_id, msg->header,
                             msg->hlen, msg->body, msg->blen, sig_len, &hdr, why, sizeof why);
    if (err != HUB_OK) {
        hub_header_clear (&hdr);
        s_refuse (self, ctx, err, why);
        return;
    }
    entry_t *entry = entry_new (msg->header, msg->hlen, msg->body, msg->blen);
    entry->hdr = hdr; //  takes over what the decoded header owns
    memcpy (entry->sig, msg->sig, HUB_SIG_BYTES);
    memcpy (entry->peer, zmq_msg_data (ctx->peer), zmq_msg_size (ctx->peer));
    entry->peer_len = zmq_msg_size (ctx->peer);
    entry->req_id = ctx->req_id;
    entry->packed = packed;
    s_batch_add (self, &entry);
    //  A batch goes to one verifier thread: a whole poll round's publishes in one batch
    //  kept the other threads idle while the clients waited for their acks.
    if (self->batch->count >= ROUTER_BATCH_MAX)
        s_flush_batch (self);
}

static void
s_handle_signed (router_t *self, const s_ctx_t *ctx)
{
    if (ctx->n != 3) {
        char why[100];
        snprintf (why, sizeof why,
                  "%d frames after the envelope; expected 3 (header, body, signature)", ctx->n);
        s_refuse (self, ctx, HUB_E_MALFORMED, why);
        return;
    }
    zmq_msg_t *args = ctx->args;
    hub_pub_record_t msg = {ctx->req_id,
                            zmq_msg_data (&args[0]),
                            zmq_msg_size (&args[0]),
                            zmq_msg_data (&args[1]),
                            zmq_msg_size (&args[1]),
                            zmq_msg_data (&args[2])};
    s_take_signed (self, ctx, &msg, zmq_msg_size (&args[2]), false);
}

//  PUBLISHES: the pack is read whole first, so one cut short is refused before any of its
//  records is taken; then each record is a PUBLISH of its own, under its own request id.
static void
s_handle_publishes (router_t *self, const s_ctx_t *ctx)
{
    const uint8_t *pack = ctx->n == 1 ? zmq_msg_data (&ctx->args[0]) : NULL;
    size_t size = ctx->n == 1 ? zmq_msg_size (&ctx->args[0]) : 0, offset = 0, count = 0;
    hub_pub_record_t rec;
    while (offset < size && count <= HUB_PUBLISHES_MAX &&
           hub_pub_record_decode (pack, size, &offset, &rec) == HUB_OK)
        count++;
    if (ctx->n != 1 || size == 0 || offset != size || count > HUB_PUBLISHES_MAX) {
        char why[120];
        snprintf (why, sizeof why,
                  ctx->n != 1                 ? "PUBLISHES takes one frame"
                  : size == 0                 ? "an empty PUBLISHES"
                  : count > HUB_PUBLISHES_MAX ? "more than %d records in one PUBLISHES"
                                              : "a PUBLISHES record is cut short",
                  HUB_PUBLISHES_MAX);
        s_refuse (self, ctx, HUB_E_MALFORMED, why);
        return;
    }
    s_ctx_t one = *ctx;
    one.cmd = HUB_CMD_PUBLISH;
    for (offset = 0; offset < size;) {
        hub_pub_record_decode (pack, size, &offset, &rec);
        one.req_id = rec.req_id;
        s_take_signed (self, &one, &rec, HUB_SIG_BYTES, true);
    }
}

//  After an administrator command committed: reload the directory and the channels, tell
//  the door who may connect now, and end what partners who left were doing.
static void
s_directory_changed (router_t *self)
{
    directory_t *directory = directory_load (self->db_path, self->admin_pk, self->hub_pk);
    channel_set_t *channels = channel_set_load (self->db_path);
    if (!directory || !channels) {
        directory_destroy (&directory);
        channel_set_destroy (&channels);
        log_error ("router", "cannot reload the directory; keeping the previous one");
        return;
    }
    channel_set_destroy (&self->channels);
    self->channels = channels;
    directory_t *old = self->directory;
    self->directory = directory;
    s_sync_door (self);
    directory_destroy (&old);
}

//  Answers the publishers of one committed batch and counts what it stored.
static void
s_settle (router_t *self, batch_t *batch)
{
    bool admin = false;
    for (size_t i = 0; i < batch->count; i++) {
        entry_t *entry = batch->entries[i];
        if (entry->err != HUB_OK) {
            self->refused++;
            log_notice ("router", "refused %s (request %u) on '%s': %s: %s", entry->hdr.kind,
                        entry->req_id, entry->hdr.channel, hub_err_name (entry->err),
                        entry->reason);
            wire_send_error (self->front, entry->peer, entry->peer_len, entry->req_id,
                             entry->err, entry->reason);
            continue;
        }
        if (!entry->duplicate) {
            self->stored++;
            self->head = entry->seq;
            admin |= strcmp (entry->hdr.kind, "admin") == 0;
            if (action_kind (entry->hdr.kind)) {
                action_set_follow (self->actions, entry,
                                   directory_name_of (self->directory, entry->hdr.author));
                self->next_reminder_ms = 0; //  recompute
            }
        }
    }
    //  The directory changes before the acks go out: a client told "partner admitted" may
    //  connect with that key at once, and the door must already know it.
    if (admin)
        s_directory_changed (self);
    for (size_t i = 0; i < batch->count;) {
        entry_t *entry = batch->entries[i];
        if (entry->err != HUB_OK || !entry->peer_len)
            i++;
        else if (entry->packed) //  with the next ones of its pack, in one ACKS
            i += wire_send_acks (self->front, batch->entries + i, batch->count - i);
        else {
            wire_send_ack (self->front, entry->peer, entry->peer_len, entry->req_id, entry->seq,
                           entry->duplicate);
            i++;
        }
    }
}

//  Fans out the committed batches (in commit order) as one round, then frees them.
static void
s_fan_out (router_t *self, batch_t **batches, size_t count)
{
    if (count == 0)
        return;
    if (self->relay)
        relay_wake (self->relay);
    deliver_committed (self->deliver, batches, count);
    for (size_t b = 0; b < count; b++) {
        self->in_flight -= batches[b]->count;
        self->in_flight_bytes -= batches[b]->bytes;
        self->batches_in_flight--;
        batch_destroy (&batches[b]);
    }
}

static bool
s_has_admin (const batch_t *batch)
{
    for (size_t i = 0; i < batch->count; i++)
        if (strcmp (batch->entries[i]->hdr.kind, "admin") == 0)
            return true;
    return false;
}

//  Takes the committed batches waiting (the store sends a commit's batches one after the
//  other): answers each, then fans them out as one round, so a subscriber gets one MSGS
//  for them all instead of one per batch, which is most of the cost of small batches. A
//  batch with an administrator command (it may end subscriptions: a partner who left)
//  waits until the batches before it are out, as each did when they went one by one.
static void
s_handle_committed (router_t *self)
{
    batch_t *batches[ROUTER_COMMITTED_MAX];
    size_t count = 0;
    batch_t *batch = NULL;
    while (count < ROUTER_COMMITTED_MAX && (zsock_events (self->from_store) & ZMQ_POLLIN) &&
           zsock_recv (self->from_store, "p", &batch) == 0 && batch) {
        if (count && s_has_admin (batch)) {
            s_fan_out (self, batches, count);
            count = 0;
        }
        s_settle (self, batch);
        batches[count++] = batch;
    }
    s_fan_out (self, batches, count);
}

//  -------------------------------------------------------------------------
//  SUBSCRIBE, HISTORY

static void
s_handle_subscribe (router_t *self, const s_ctx_t *ctx)
{
    rights_view_t view = s_view (self);
    char why[200] = "SUBSCRIBE takes one JSON frame";
    hub_subscribe_args_t sub;
    hub_err_t err = ctx->n == 1 ? hub_subscribe_args_decode (zmq_msg_data (&ctx->args[0]),
                                                             zmq_msg_size (&ctx->args[0]), &sub)
                                : HUB_E_MALFORMED;
    if (err != HUB_OK && ctx->n == 1)
        snprintf (why, sizeof why, "bad SUBSCRIBE arguments: %s", hub_strerror (err));
    if (err == HUB_OK)
        err = rights_check_readable (&view, ctx->who, sub.channels, sub.channel_count, why,
                                     sizeof why);
    if (err != HUB_OK) {
        s_refuse (self, ctx, err, why);
        return;
    }
    uint64_t head =
        deliver_subscribe (self->deliver, zmq_msg_data (ctx->peer), zmq_msg_size (ctx->peer),
                           ctx->req_id, ctx->who->curve_hex, &sub);
    json_t *channels = json_array ();
    for (size_t i = 0; i < sub.channel_count; i++)
        json_array_append_new (channels, json_string (sub.channels[i]));
    //  The REPLY goes out before any MSG: deliver only reads the log from here on.
    s_reply (self, ctx, HUB_CMD_REPLY,
             json_pack ("{s:o, s:I}", "subscribed", channels, "head", (json_int_t)head));
}

typedef struct {
    const partner_t *who;
    read_t *read;
} s_readable_t;

static void
s_add_readable (const char *name, const char *publish, const char *read, void *arg)
{
    (void)publish;
    s_readable_t *readable = arg;
    if (directory_allows (readable->who, read))
        read_add_channel (readable->read, name);
    else
        readable->read->whole_log = false;
}

static void
s_handle_history (router_t *self, const s_ctx_t *ctx)
{
    rights_view_t view = s_view (self);
    char why[200] = "HISTORY takes one JSON frame";
    hub_history_args_t hist;
    hub_err_t err = ctx->n == 1 ? hub_history_args_decode (zmq_msg_data (&ctx->args[0]),
                                                           zmq_msg_size (&ctx->args[0]), &hist)
                                : HUB_E_MALFORMED;
    if (err != HUB_OK && ctx->n == 1)
        snprintf (why, sizeof why, "bad HISTORY arguments: %s", hub_strerror (err));
    bool every = err == HUB_OK && strcmp (hist.channel, "*") == 0;
    if (err == HUB_OK && !every)
        err = rights_check_readable (&view, ctx->who, &hist.channel, 1, why, sizeof why);
    //  A client reads its pages one after the other; one that asks for many at once would
    //  have the hub hold them all while the front door sends them out.
    meter_peer_t *meter =
        meter_peer (self->meter, zmq_msg_data (ctx->peer), zmq_msg_size (ctx->peer));
    if (err == HUB_OK && meter_reads (meter) >= ROUTER_HISTORY_READS_MAX) {
        err = HUB_E_RATE_LIMITED;
        snprintf (why, sizeof why,
                  "%d history pages of this connection are being read: ask for more once "
                  "one has ended",
                  ROUTER_HISTORY_READS_MAX);
    } else if (err == HUB_OK && meter_reads_total () >= ROUTER_HISTORY_READS_TOTAL) {
        err = HUB_E_RATE_LIMITED;
        snprintf (why, sizeof why,
                  "%d history pages are being read for all clients: ask again shortly",
                  ROUTER_HISTORY_READS_TOTAL);
    }
    if (err != HUB_OK) {
        s_refuse (self, ctx, err, why);
        return;
    }
    meter_read_start (meter);
    read_t *read = read_new (NULL, 0, hist.since, hist.limit);
    if (!every)
        read_add_channel (read, hist.channel);
    else if (ctx->who->admin)
        //  The administrator reads every channel: no list at all asks the reader for
        //  every row of its snapshot, even of a channel created after this request.
        read->whole_log = true;
    else {
        //  "*": every channel this partner may read, and only those. The answer is the
        //  whole log (no gaps in seq) only if that is every channel. An empty list would
        //  mean every channel: "*", which names none, stands for "nothing readable".
        read->whole_log = true;
        s_readable_t readable = {ctx->who, read};
        channel_set_each (self->channels, s_add_readable, &readable);
        if (read->channel_count == 0)
            read_add_channel (read, hist.channel);
    }
    memcpy (read->peer, zmq_msg_data (ctx->peer), zmq_msg_size (ctx->peer));
    read->peer_len = zmq_msg_size (ctx->peer);
    read->req_id = ctx->req_id; //  tag 0: a history page, not a subscription's catch-up
    read->pack = hist.pack;
    reader_request (self->reader, &read);
}

//  A queue holding more than its share of unread history counts as full.
static wire_result_t
s_history_room (const meter_peer_t *meter)
{
    return meter_has_room (meter) ? WIRE_SENT : WIRE_FULL;
}

//  Sends a history page. If the client's queue fills part-way (it asked for pages faster
//  than it reads them), the page stops at the last message sent and END says so (`next`
//  there, `more` true): the client asks again from where it is, instead of receiving a page
//  with a hole in it.
static void
s_history_done (router_t *self, read_t **read_p)
{
    read_t *read = *read_p;
    uint64_t next = read->since, packed_last = read->since;
    wire_result_t sent = WIRE_SENT;
    wire_pack_t pack;
    wire_pack_empty (&pack);
    meter_peer_t *meter = meter_peer (self->meter, read->peer, read->peer_len);
    meter_read_end (meter);
    for (size_t i = 0; i < read->rows->count && sent == WIRE_SENT; i++) {
        entry_t *entry = read->rows->entries[i];
        const char *name = s_name_of (entry->hdr.author, self);
        if (!read->pack) {
            sent = s_history_room (meter);
            if (sent == WIRE_SENT)
                sent = wire_send_msg (self->front, read->peer, read->peer_len, read->req_id,
                                      entry, name, meter);
            if (sent == WIRE_SENT)
                next = entry->seq;
            continue;
        }
        if (!wire_pack_add (&pack, entry, name)) { //  full: send it, start the next
            sent = s_history_room (meter);
            if (sent == WIRE_SENT)
                sent = wire_send_pack (self->front, read->peer, read->peer_len, read->req_id,
                                       &pack, NULL, meter);
            if (sent != WIRE_SENT)
                break;
            next = packed_last;
            wire_pack_add (&pack, entry, name);
        }
        packed_last = entry->seq;
    }
    if (pack.count && sent == WIRE_SENT) {
        sent = s_history_room (meter);
        if (sent == WIRE_SENT)
            sent = wire_send_pack (self->front, read->peer, read->peer_len, read->req_id, &pack,
                                   NULL, meter);
        if (sent == WIRE_SENT)
            next = packed_last;
    }
    bool gone = sent == WIRE_GONE;
    bool cut = sent == WIRE_FULL;
    if (cut)
        log_notice ("router",
                    "history page cut short at seq %" PRIu64 ": the client's "
                    "queue is full (%zu bytes of history unread) (all clients: %zu, at "
                    "most %zu)",
                    next, meter_queued (meter), meter_total (), METER_TOTAL_MAX);
    if (read->err != HUB_OK)
        wire_send_error (self->front, read->peer, read->peer_len, read->req_id, read->err,
                         read->why[0] ? read->why : "the history could not be read");
    else if (!gone) {
        json_t *checkpoint =
            read->checkpoint_json ? json_loads (read->checkpoint_json, 0, NULL) : json_null ();
        json_t *end =
            json_pack ("{s:I, s:b, s:I, s:b, s:o}", "next", (json_int_t)next, "more",
                       read->more || cut, "head", (json_int_t)read->head, "complete",
                       read->whole_log, "checkpoint", checkpoint ? checkpoint : json_null ());
        char *text = json_dumps (end, JSON_COMPACT);
        wire_send_json (self->front, read->peer, read->peer_len, HUB_CMD_END, read->req_id,
                        text);
        free (text);
        json_decref (end);
    }
    read_destroy (read_p);
}

static void
s_handle_reader (router_t *self)
{
    read_t *read = reader_answer (self->reader);
    if (!read)
        return;
    if (read->tag == 0)
        s_history_done (self, &read);
    else
        deliver_read_done (self->deliver, &read);
}

//  -------------------------------------------------------------------------
//  STATUS

static void
s_count_open (action_t *action, void *arg)
{
    *(json_int_t *)arg += strcmp (action->status, "open") == 0;
}

static json_t *
s_status (router_t *self)
{
    char path[4096];
    struct stat st;
    json_int_t db_bytes = 0;
    if (stat (self->db_path, &st) == 0)
        db_bytes += st.st_size;
    snprintf (path, sizeof path, "%s-wal", self->db_path);
    if (stat (path, &st) == 0)
        db_bytes += st.st_size;
    char *stats = self->relay ? relay_stats (self->relay) : NULL;
    json_t *relays = stats ? json_loads (stats, 0, NULL) : NULL;
    free (stats);
    json_int_t depth = 0, dead = 0, open_actions = 0;
    json_t *outbox = json_object (); //  the depth by relay, as CONTRACT.md words it
    const char *name;
    json_t *relay;
    json_object_foreach (relays, name, relay)
    {
        json_t *pending = json_object_get (relay, "pending");
        depth += json_integer_value (pending);
        dead += json_integer_value (json_object_get (relay, "dead"));
        json_object_set (outbox, name, pending ? pending : json_integer (0));
    }
    json_int_t uptime_s = (json_int_t)((zclock_time () - self->started_ms) / 1000);
    action_set_each (self->actions, s_count_open, &open_actions);
    return json_pack (
        "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:I, "
        "s:I}",
        "version", HUB_VERSION, "uptime_s", uptime_s, "uptime", uptime_s, "messages",
        (json_int_t)self->head, "head", (json_int_t)self->head, "clients",
        (json_int_t)self->clients, "subscribers",
        (json_int_t)deliver_subscribers (self->deliver), "subscribers_behind",
        (json_int_t)deliver_behind (self->deliver), "channels",
        (json_int_t)channel_set_size (self->channels), "in_flight", (json_int_t)self->in_flight,
        "in_flight_bytes", (json_int_t)self->in_flight_bytes, "refused",
        (json_int_t)self->refused, "db_bytes", db_bytes, "relays",
        relays ? relays : json_object (), "outbox", outbox, "outbox_depth", depth,
        "outbox_dead", dead, "open_actions", open_actions);
}

//  Requeues a relay's dead jobs and hurries its waiting ones: an operator's act on the
//  outbox, administrator only.
static void
s_relay_retry (router_t *self, const s_ctx_t *ctx, const char *name)
{
    int hurried = 0;
    int count = !ctx->who->admin || !name || !self->relay
                    ? -1
                    : relay_retry (self->relay, name, &hurried);
    if (!ctx->who->admin)
        s_refuse (self, ctx, HUB_E_FORBIDDEN, "only the administrator may requeue relay jobs");
    else if (count == RELAY_FAILED)
        s_refuse (self, ctx, HUB_E_STORAGE, "the hub could not requeue the jobs; try again");
    else if (count < 0)
        s_refuse (self, ctx, HUB_E_NOT_FOUND, "there is no relay by that name");
    else {
        relay_wake (self->relay);
        s_reply (self, ctx, HUB_CMD_REPLY,
                 json_pack ("{s:s, s:i, s:i}", "relay", name, "requeued", count, "due_now",
                            hurried));
    }
}

static void
s_handle_query (router_t *self, const s_ctx_t *ctx)
{
    hub_err_t err = HUB_E_MALFORMED;
    json_t *query = ctx->n == 1 ? hub_json_frame_parse (zmq_msg_data (&ctx->args[0]),
                                                        zmq_msg_size (&ctx->args[0]), &err)
                                : NULL;
    const char *q = query ? json_string_value (json_object_get (query, "q")) : NULL;
    char why[200] = "QUERY takes one JSON object";
    query_state_t state = {self->channels, self->directory, self->actions};
    bool retry = q && strcmp (q, "relay.retry") == 0;
    json_t *result =
        query && !retry ? query_answer (&state, ctx->who, query, &err, why, sizeof why) : NULL;
    if (retry)
        s_relay_retry (self, ctx, json_string_value (json_object_get (query, "name")));
    else if (result)
        s_reply (self, ctx, HUB_CMD_REPLY, result);
    else
        s_refuse (self, ctx, err, why);
    json_decref (query);
}

//  -------------------------------------------------------------------------
//  Dispatch

static void
s_handle_credit (router_t *self, const s_ctx_t *ctx)
{
    uint32_t credit;
    hub_err_t err = ctx->n == 1 ? hub_credit_decode (zmq_msg_data (&ctx->args[0]),
                                                     zmq_msg_size (&ctx->args[0]), &credit)
                                : HUB_E_MALFORMED;
    if (err == HUB_OK)
        deliver_credit (self->deliver, zmq_msg_data (ctx->peer), zmq_msg_size (ctx->peer),
                        credit);
    else //  a count out of range is BAD_REQUEST, a frame of the wrong shape MALFORMED
        s_refuse (self, ctx, err, "CREDIT takes one 4-byte count from 1 to 100000");
}

static void
s_dispatch (router_t *self, s_request_t *req)
{
    s_ctx_t ctx = {.peer = &req->frames[0], .args = &req->frames[2], .n = req->count - 2};
    hub_env_t env = {0};
    hub_err_t err = req->count < 2 ? HUB_E_MALFORMED
                                   : hub_env_decode (zmq_msg_data (&req->frames[1]),
                                                     zmq_msg_size (&req->frames[1]), &env);
    ctx.cmd = env.cmd;
    ctx.req_id = env.req_id;
    //  Known before the envelope is judged, so that even a refusal of garbage names the
    //  partner who sent it.
    if (req->count >= 2) {
        ctx.user_id = zmq_msg_gets (&req->frames[1], "User-Id");
        ctx.who = directory_by_curve (self->directory, ctx.user_id);
    }
    //  Commands that take no frames take none (the others check their own).
    bool extra = err == HUB_OK && hub_cmd_frames (env.cmd) == 0 && ctx.n > 0;
    if (err == HUB_OK && (req->too_many || extra))
        err = HUB_E_MALFORMED;
    if (err != HUB_OK) {
        s_refuse (self, &ctx, err,
                  req->too_many ? "too many frames"
                  : extra       ? "this command takes no frames after the envelope"
                                : "the envelope frame is invalid");
        return;
    }
    if (!ctx.who) {
        //  A partner removed while connected: its key stopped working at once.
        s_refuse (self, &ctx, HUB_E_UNKNOWN_PARTNER,
                  "this key is not (or no longer) a partner of this hub");
        return;
    }
    switch (env.cmd) {
    case HUB_CMD_PUBLISH:
    case HUB_CMD_ADMIN: s_handle_signed (self, &ctx); break;
    case HUB_CMD_PUBLISHES: s_handle_publishes (self, &ctx); break;
    case HUB_CMD_SUBSCRIBE: s_handle_subscribe (self, &ctx); break;
    case HUB_CMD_HISTORY: s_handle_history (self, &ctx); break;
    case HUB_CMD_QUERY: s_handle_query (self, &ctx); break;
    case HUB_CMD_CREDIT: s_handle_credit (self, &ctx); break;
    case HUB_CMD_UNSUBSCRIBE:
        s_reply (self, &ctx, HUB_CMD_REPLY,
                 json_pack ("{s:b}", "unsubscribed",
                            deliver_unsubscribe (self->deliver, zmq_msg_data (ctx.peer),
                                                 zmq_msg_size (ctx.peer))));
        break;
    case HUB_CMD_STATUS: s_reply (self, &ctx, HUB_CMD_REPLY, s_status (self)); break;
    case HUB_CMD_PING: s_reply (self, &ctx, HUB_CMD_PONG, NULL); break;
    default:
        s_refuse (self, &ctx, HUB_E_UNKNOWN_COMMAND, "this hub does not serve that command");
    }
}

//  Reads one multipart request without blocking. False if there was none.
static bool
s_recv (router_t *self, s_request_t *req)
{
    req->count = 0;
    req->too_many = false;
    int more = 1;
    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *frame = req->count < ROUTER_MAX_FRAMES ? &req->frames[req->count] : &scratch;
        zmq_msg_init (frame);
        if (zmq_msg_recv (frame, self->front, req->count ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (frame);
            return req->count > 0;
        }
        more = zmq_msg_more (frame);
        if (frame == &scratch) {
            req->too_many = true;
            zmq_msg_close (frame);
        } else
            req->count++;
    }
    return true;
}

static void
s_handle_front (router_t *self)
{
    s_request_t req;
    for (int i = 0; i < ROUTER_DRAIN && s_has_room (self); i++) {
        if (!s_recv (self, &req))
            break;
        s_dispatch (self, &req);
        for (int f = 0; f < req.count; f++)
            zmq_msg_close (&req.frames[f]);
    }
    s_flush_batch (self);
}

static void
s_handle_monitor (router_t *self)
{
    zmsg_t *event = zmsg_recv (self->monitor);
    zframe_t *first = event ? zmsg_first (event) : NULL;
    if (first && zframe_size (first) >= 2) {
        uint16_t code;
        memcpy (&code, zframe_data (first), 2); //  host byte order, per zmq_socket_monitor
        if (code == ZMQ_EVENT_ACCEPTED)
            self->clients++;
        else if (code == ZMQ_EVENT_DISCONNECTED && self->clients > 0)
            self->clients--;
        //  The event does not say which peer left: the sweep finds out whose
        //  subscription ended, soon, once for a burst of disconnects.
        if (code == ZMQ_EVENT_DISCONNECTED && !self->sweep_soon)
            self->sweep_soon = zclock_mono () + ROUTER_SWEEP_SOON_MS;
    }
    zmsg_destroy (&event);
}

//  -------------------------------------------------------------------------
//  Reminders: the scheduler sleeps in zmq_poll until the next slot of any open item

typedef struct {
    router_t *router;
    int64_t now;
    int64_t next;
} s_tick_t;

static void
s_remind (action_t *action, void *arg)
{
    s_tick_t *tick = arg;
    router_t *self = tick->router;
    const char *kind = NULL;
    int64_t slot = sched_owed (&self->policy, action, tick->now, &kind);
    if (slot) {
        entry_t *entry = sched_reminder (&self->hub, action, slot, kind, tick->now);
        //  Counted as logged now, so it is not built twice while in flight; the store
        //  records it with the message, and its id makes a second copy impossible.
        action->last_reminder_ms = slot;
        log_info ("sched", "reminder for action %llu (%s, slot %lld)",
                  (unsigned long long)action->id, kind, (long long)slot);
        s_batch_add (self, &entry);
    }
    int64_t next = sched_next (&self->policy, action, tick->now);
    if (next && (!tick->next || next < tick->next))
        tick->next = next;
}

static void
s_schedule (router_t *self)
{
    int64_t now = zclock_time ();
    if (self->stopping || (self->next_reminder_ms && now < self->next_reminder_ms))
        return;
    s_tick_t tick = {self, now, 0};
    action_set_each (self->actions, s_remind, &tick);
    int64_t slot = sched_digest_slot (self->digest_every_ms, now);
    if (slot && slot > self->last_digest_slot) {
        //  After a restart within the period this rebuilds the same digest id: the store
        //  answers "duplicate" and nothing new is posted.
        entry_t *entry = sched_digest (&self->hub, self->actions, slot, self->digest_every_ms);
        self->last_digest_slot = slot;
        if (entry) {
            s_batch_add (self, &entry);
        }
    }
    if (slot && (!tick.next || slot + self->digest_every_ms < tick.next))
        tick.next = slot + self->digest_every_ms;
    s_flush_batch (self);
    //  No open item: look again in an hour (or when an item arrives).
    self->next_reminder_ms = tick.next ? tick.next : now + 3600 * 1000;
}

static void
s_set_policy (router_t *self, const config_t *config)
{
    self->policy.before_count = 0;
    for (size_t i = 0; i < config->reminder_before_count && i < 16; i++)
        self->policy.before_ms[self->policy.before_count++] =
            (int64_t)config->reminder_before_s[i] * 1000;
    self->policy.overdue_every_ms = (int64_t)config->overdue_every_s * 1000;
    self->digest_every_ms = (int64_t)config->digest_every_s * 1000;
    self->next_reminder_ms = 0;
}

//  -------------------------------------------------------------------------
//  Life cycle

//  The receive high-water mark (in requests) that lets ZeroMQ queue about
//  ROUTER_QUEUE_BYTES of the largest messages per connection, within 16 to 1000.
static int
s_front_rcvhwm (size_t max_message_bytes)
{
    size_t requests = ROUTER_QUEUE_BYTES / (max_message_bytes ? max_message_bytes : 1);
    return requests < 16 ? 16 : requests > 1000 ? 1000 : (int)requests;
}

static zsock_t *
s_bind_front (const char *endpoint, const hub_identity_t *hub, size_t max_message_bytes)
{
    uint8_t curve_pk[32], curve_sk[32];
    if (hub_key_curve_public (hub->pk, curve_pk) != HUB_OK ||
        hub_key_curve_secret (hub, curve_sk) != HUB_OK) {
        log_error ("router", "the hub key has no CURVE equivalent");
        return NULL;
    }
    zsock_t *front = zsock_new (ZMQ_ROUTER);
    zsock_set_zap_domain (front, "hubd");
    zsock_set_curve_server (front, 1);
    zsock_set_curve_secretkey_bin (front, curve_sk);
    zsock_set_curve_publickey_bin (front, curve_pk); //  not needed by libzmq, harmless
    sodium_memzero (curve_sk, sizeof curve_sk);
    zsock_set_router_mandatory (front, 1);
    //  Credit bounds what a subscriber has queued; this only bounds a peer that pipelines
    //  requests without reading answers. The receive side is what a connection can queue
    //  while the front door holds back (s_note_hold).
    zsock_set_sndhwm (front, 200000);
    zsock_set_rcvhwm (front, s_front_rcvhwm (max_message_bytes));
    zsock_set_heartbeat_ivl (front, 2000);
    zsock_set_heartbeat_timeout (front, 6000);
    zsock_set_maxmsgsize (front, 32 * 1024 * 1024);
    zsock_set_linger (front, 2000); //  let the last acks out at shutdown
    if (zsock_bind (front, "%s", endpoint) < 0) {
        log_error ("router", "cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&front);
        return NULL;
    }
    return front;
}

//  An endpoint may name port "*" (the system picks one): the endpoint actually bound goes
//  to the log and to DATA_DIR/hubd.endpoint, so scripts and tests can find it race-free.
//  A clean stop removes the file: an endpoint nobody listens on is no longer true.
static void
s_publish_endpoint (router_t *self, const char *data_dir)
{
    char *bound = zsock_last_endpoint (self->front_sock);
    //  Logged first: whoever waits for the file finds the line already in the log.
    log_notice ("router", "listening on %s", bound);
    char path[4096], tmp[4200];
    snprintf (path, sizeof path, "%s/hubd.endpoint", data_dir);
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    FILE *file = fopen (tmp, "w");
    if (file) {
        fprintf (file, "%s\n", bound);
        if (fclose (file) == 0 && rename (tmp, path) == 0)
            self->endpoint_path = mem_strdup (path);
    }
    zstr_free (&bound);
}

router_t *
router_new (const config_t *config, const hub_identity_t *hub,
            const uint8_t admin_pk[HUB_PUBKEY_BYTES], auth_t *auth, reader_t *reader,
            store_t *store, relay_t **relay_p, uint64_t head, const char *db_path)
{
    router_t *self = mem_zalloc (sizeof *self);
    memcpy (self->hub_pk, hub->pk, HUB_PUBKEY_BYTES);
    memcpy (self->admin_pk, admin_pk, HUB_PUBKEY_BYTES);
    self->auth = auth;
    self->store = store;
    self->channels = channel_set_load (db_path);
    self->directory = directory_load (db_path, admin_pk, hub->pk);
    self->actions = action_set_load (db_path);
    self->hub = *hub;
    s_set_policy (self, config);
    if (self->directory)
        s_sync_door (self); //  before the endpoint exists: no one slips through
    self->front_sock = self->channels && self->directory && self->actions
                           ? s_bind_front (config->endpoint, hub, config->max_message_bytes)
                           : NULL;
    if (!self->front_sock) {
        channel_set_destroy (&self->channels);
        directory_destroy (&self->directory);
        action_set_destroy (&self->actions);
        sodium_memzero (&self->hub, sizeof self->hub);
        free (self);
        return NULL;
    }
    self->front = zsock_resolve (self->front_sock);
    zmq_socket_monitor (self->front, MONITOR_ENDPOINT,
                        ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED);
    self->monitor = zsock_new_pair (">" MONITOR_ENDPOINT);
    self->from_store = zsock_new_pull ("@" STORE_OUT_ENDPOINT);
    assert (self->monitor && self->from_store);
    self->verify = verify_new (config->verify_threads);
    self->reader = reader;
    self->db_path = mem_strdup (db_path);
    self->started_with = (s_fixed_t){mem_strdup (config->endpoint),
                                     mem_strdup (config->data_dir), config->verify_threads};
    self->rights = rights_new (hub->pk, admin_pk);
    self->max_message_bytes = config->max_message_bytes;
    self->next_batch = 1;
    self->head = head;
    self->started_ms = zclock_time ();
    self->meter = meter_new ();
    self->deliver = deliver_new (self->front, reader, self->meter, head, s_name_of, self);
    s_publish_endpoint (self, config->data_dir);
    self->relay = *relay_p; //  ours from here: nothing below can fail
    *relay_p = NULL;
    return self;
}

//  A reload changes what it can; the settings a running hub cannot change are said so.
static void
s_warn_fixed (const s_fixed_t *fixed, const config_t *config)
{
    if (strcmp (fixed->endpoint, config->endpoint) != 0)
        log_warning ("router",
                     "endpoint is now %s in the configuration: that takes a restart "
                     "(still on %s)",
                     config->endpoint, fixed->endpoint);
    if (strcmp (fixed->data_dir, config->data_dir) != 0)
        log_warning ("router",
                     "data_dir is now %s in the configuration: that takes a restart "
                     "(still on %s)",
                     config->data_dir, fixed->data_dir);
    if (fixed->verify_threads != config->verify_threads)
        log_warning ("router",
                     "verify_threads is now %d in the configuration: that takes a "
                     "restart (still %d)",
                     config->verify_threads, fixed->verify_threads);
}

static void
s_reload (router_t *self, router_reload_fn *reload, void *reload_arg)
{
    config_t *config = reload ? reload (reload_arg) : NULL;
    if (!config) {
        log_warning ("router", "reload refused (the reasons are above); keeping the "
                               "current configuration");
        return;
    }
    s_warn_fixed (&self->started_with, config);
    self->max_message_bytes = config->max_message_bytes;
    log_set_level (config->log_level);
    s_set_policy (self, config);
    //  Relays: new outboxes from the next commit on; the workers restart with the new
    //  plugins and settings (secrets read again) and carry on with every job queued,
    //  each new one once its predecessor's delivery in progress has ended.
    store_set_relays (self->store, config);
    relay_reload (self->relay, config);
    channel_set_t *channels = channel_set_load (self->db_path);
    if (channels) {
        channel_set_destroy (&self->channels);
        self->channels = channels;
    }
    config_destroy (&config);
    log_notice ("router", "configuration reloaded");
}

//  Returns false when asked to stop.
static void
s_handle_signal (router_t *self, int signal_fd, router_reload_fn *reload, void *reload_arg)
{
    struct signalfd_siginfo info;
    while (read (signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
        if (info.ssi_signo == SIGHUP)
            s_reload (self, reload, reload_arg);
        else if (!self->stopping) {
            log_notice ("router", "signal %u: stopping; finishing %zu messages in flight",
                        info.ssi_signo, self->in_flight);
            self->stopping = true;
        }
    }
}

//  The front door holds back (reads no requests) while too much is in flight, so
//  publishers feel back-pressure through ZeroMQ and TCP. Operators see it in the log: the
//  first hold of each ROUTER_HOLD_LOG_MS, with what was in flight, and how many followed.
static void
s_note_hold (router_t *self, bool held)
{
    if (held == self->held)
        return;
    self->held = held;
    if (!held)
        return;
    uint64_t held_back;
    if (!s_throttle_pass (&self->hold_log, 1, ROUTER_HOLD_LOG_MS, &held_back))
        return;
    log_notice ("router",
                "holding back requests: %zu messages, %zu bytes in flight (bounds %d "
                "messages, %zu bytes) until some are stored; %" PRIu64
                " more holds since the last notice",
                self->in_flight, self->in_flight_bytes, ROUTER_IN_FLIGHT_MAX,
                ROUTER_IN_FLIGHT_BYTES, held_back);
}

void
router_run (router_t *self, int signal_fd, router_reload_fn *reload, void *reload_arg)
{
    uint64_t watchdog_us = 0;
    if (sd_watchdog_enabled (0, &watchdog_us) <= 0)
        watchdog_us = 0;
    int64_t last_sweep = zclock_mono (), last_watchdog = 0, last_resume = 0;
    while (!self->stopping || self->in_flight > 0) {
        zmq_pollitem_t items[] = {
            {NULL, signal_fd, ZMQ_POLLIN, 0},
            {zsock_resolve (self->from_store), 0, ZMQ_POLLIN, 0},
            {zsock_resolve (reader_sock (self->reader)), 0, ZMQ_POLLIN, 0},
            {zsock_resolve (self->monitor), 0, ZMQ_POLLIN, 0},
            {self->front, 0, ZMQ_POLLIN, 0},
        };
        bool take_front = !self->stopping && s_has_room (self);
        if (!self->stopping)
            s_note_hold (self, !take_front);
        long timeout = watchdog_us ? (long)(watchdog_us / 2000) : 1000;
        int64_t until_reminder = self->next_reminder_ms - zclock_time ();
        if (until_reminder < timeout)
            timeout = until_reminder > 0 ? (long)until_reminder : 0;
        //  A subscriber held for what it has not read goes on soon after it reads.
        if (deliver_holding (self->deliver) && timeout > ROUTER_RESUME_MS)
            timeout = ROUTER_RESUME_MS;
        int64_t until_sweep = self->sweep_soon ? self->sweep_soon - zclock_mono () : timeout;
        if (until_sweep < timeout)
            timeout = until_sweep > 0 ? (long)until_sweep : 0;
        if (zmq_poll (items, take_front ? 5 : 4, timeout > 1000 ? 1000 : timeout) < 0 &&
            errno != EINTR)
            break;
        if (items[0].revents & ZMQ_POLLIN)
            s_handle_signal (self, signal_fd, reload, reload_arg);
        if (items[1].revents & ZMQ_POLLIN)
            while (zsock_events (self->from_store) & ZMQ_POLLIN)
                s_handle_committed (self);
        if (items[2].revents & ZMQ_POLLIN)
            while (zsock_events (reader_sock (self->reader)) & ZMQ_POLLIN)
                s_handle_reader (self);
        if (items[3].revents & ZMQ_POLLIN)
            s_handle_monitor (self);
        if (take_front && (items[4].revents & ZMQ_POLLIN))
            s_handle_front (self);
        s_schedule (self);
        relay_tick (self->relay);
        int64_t now = zclock_mono ();
        if (now - last_resume >= ROUTER_RESUME_MS) {
            deliver_resume (self->deliver);
            last_resume = now;
        }
        if (now - last_sweep >= ROUTER_SWEEP_MS ||
            (self->sweep_soon && now >= self->sweep_soon)) {
            deliver_sweep (self->deliver);
            meter_sweep (self->meter);
            last_sweep = now;
            self->sweep_soon = 0;
        }
        if (watchdog_us && (now - last_watchdog) * 1000 >= (int64_t)watchdog_us / 2) {
            sd_notify (0, "WATCHDOG=1");
            last_watchdog = now;
        }
    }
    log_notice ("router", "stopped taking requests; everything acknowledged");
}

void
router_destroy (router_t **self_p)
{
    router_t *self = *self_p;
    if (!self)
        return;
    deliver_destroy (&self->deliver);
    meter_destroy (&self->meter);
    verify_destroy (&self->verify);
    relay_destroy (&self->relay);
    zmq_socket_monitor (self->front, NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->front_sock);
    zsock_destroy (&self->from_store);
    rights_destroy (&self->rights);
    channel_set_destroy (&self->channels);
    directory_destroy (&self->directory);
    action_set_destroy (&self->actions);
    sodium_memzero (&self->hub, sizeof self->hub);
    if (self->endpoint_path)
        unlink (self->endpoint_path);
    free (self->endpoint_path);
    free (self->db_path);
    free (self->started_with.endpoint);
    free (self->started_with.data_dir);
    free (self);
    *self_p = NULL;
}
