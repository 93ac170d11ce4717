/*  rawclient.c - hub-rawclient, a wire-level client for the integration tests.

    It speaks proto/PROTOCOL.md directly (CURVE DEALER, envelopes, signed publishes) so the
    tests can send what hubctl never would: bad signatures, foreign authors, oversized or
    malformed frames, exact replays, floods of garbage, pipelined publishes, and a
    subscriber that stops reading.

    hub-rawclient [--hub EP] [--hub-key PUB] [--key FILE] [--sign-key FILE]
                  [--title T] [--timeout MS] [--rcvhwm N] [--pack N] [--size N]
                  [--go FILE] MODE ARGS...

    Settings default to HUB_ENDPOINT, HUB_SERVER_KEY and HUB_KEY, as for hubctl.
    --sign-key signs (and names as author) with another identity than the connection's.
    --rcvhwm sets the socket's receive high-water mark (default: unbounded; slowsub 1000).
    --pack N (N >= 1) makes slowsub ask for MSGS packs (PROTOCOL.md 6.4) and count their
    records, and flood send PUBLISHES of up to N records (PROTOCOL.md 4.4).
    --size N makes each flood body N bytes ("flood K " then 'x's; default just "flood K").
    --go FILE makes flood build and sign all its messages first, print "READY", then wait
    for FILE to exist before it sends any.

    Modes, each printing the hub's answer as one line:
        "ACK SEQ DUP" (DUP 0 or 1), "ERROR CODE NAME REASON", or "TIMEOUT"
      publish CH BODY       a correctly signed publish. BODY "@size:N" is N bytes of 'x';
                            "@total:N" makes header + body exactly N bytes.
      admin BODY            an ADMIN command (kind admin on channel admin) whose body is
                            BODY as given, such as a JSON object hubctl would not write
      badsig CH BODY        as publish, with one byte of the signature flipped
      replay CH BODY        the same frames twice; prints two answer lines
      reuse CH BODY         as replay, but the second publish has another body (its
                            first letter's case flipped) under the same header
      malformed CASE        env-short env-long bad-magic bad-version unknown-cmd
                            frame-count header-not-json header-bad-channel
                            body-bad-utf8 sig-short too-many-frames ping-extra
                            credit-zero credit-short; prints "WRONG-ID N" if the answer
                            to an 8-byte envelope has another request id than its own
      garbage N             N invalid requests as fast as possible; prints
                            "SENT N ANSWERS M"
      flood CH N WINDOW     N signed publishes, at most WINDOW unacknowledged; prints
                            "ACKED N DUPS D FIRST S LAST S MS T"
      packs CH              one PUBLISHES of four records (11 good, 12 bad signature,
                            13 = 11 again, 14 a header that is not JSON), then one cut
                            short (request 20, records 15 and 16 new messages) and one
                            empty (21); prints a line per answer to 11-14, 20, 21 in that
                            order, "REQ R ACK SEQ DUP" or "REQ R ERROR CODE NAME", then
                            "EXTRA R ..." for any other answer that came within 300 ms
      post CH N             N publishes through hub_client_post/collect (the client
                            library's pipelining, which packs them); every third is
                            posted twice; prints "POSTED P ANSWERS A ACKS K DUPS D
                            DISTINCT S" (P counts the second posts too)
      slowsub CH SINCE CREDIT GOFILE EXPECT
                            subscribes with CREDIT, prints "SUBSCRIBED HEAD", then reads
                            nothing until GOFILE exists; then reads and grants credit
                            until EXPECT messages arrived; checks that seqs strictly
                            increase; prints "RECEIVED N FIRST S LAST S ORDER ok|bad"
      histflood CH N        N HISTORY requests of CH (since 0, limit 1000, one MSG each),
                            one every 5 ms, while reading slowly (20 messages a ms), so
                            the hub's queue to this client fills and drains by turns; then
                            reads until every page has ended or --timeout passes with
                            nothing; a request refused with RATE_LIMITED (too many
                            being read) is sent again. CH must hold consecutive seqs. Prints
   "PAGES N FULL F CUT C LOST L HOLES H BADEND B ALL-LIMITED A": FULL pages had every message,
   CUT ones fewer, LOST ones no END; HOLES counts pages whose seqs skip one, BADEND pages whose
   END does not say where they stopped (next = last seq sent, more = true when cut), ALL-LIMITED
   the requests refused RATE_LIMITED because of the bound on all clients' reads (asked again
   too)

    Exit status: 0 an answer was printed (whatever it says); 1 bad usage or local
    problem; 2 no answer in time; 3 a check of flood/slowsub failed.
*/
#define _GNU_SOURCE //  memmem
#include "hub_client.h"
#include "hub_err.h"
#include "hub_frame.h"
#include "hub_keys.h"
#include "hub_sig.h"
#include "hub_text.h"
#include <assert.h>
#include <czmq.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *endpoint;
    const char *hub_key;
    const char *key_file;
    const char *sign_key_file;
    const char *title;
    int timeout_ms;
    int rcvhwm;
    long pack;           //  --pack N
    long size;           //  --size N: flood body bytes
    const char *go_file; //  --go FILE: flood sends once FILE exists
    uint8_t cmd;         //  of what s_pub_build builds: PUBLISH (kind message) or ADMIN
    hub_identity_t conn_id;
    hub_identity_t sign_id;
    zsock_t *sock;
    uint32_t next_req;
} s_ctx_t;

typedef struct {
    uint8_t *header;
    size_t hlen;
    uint8_t *body;
    size_t blen;
    uint8_t sig[HUB_SIG_BYTES];
} s_pub_t;

static int
s_usage (const char *why)
{
    fprintf (stderr, "hub-rawclient: %s (see the comment at the top of rawclient.c)\n", why);
    return 1;
}

static bool
s_connect (s_ctx_t *ctx)
{
    char why[256] = "";
    uint8_t hub_pk[HUB_PUBKEY_BYTES], curve_pk[32], curve_sk[32], server_curve[32];
    if (hub_identity_load (ctx->key_file, &ctx->conn_id, why, sizeof why) != HUB_OK) {
        fprintf (stderr, "hub-rawclient: %s: %s\n", ctx->key_file, why);
        return false;
    }
    const char *sign_file = ctx->sign_key_file ? ctx->sign_key_file : ctx->key_file;
    if (hub_identity_load (sign_file, &ctx->sign_id, why, sizeof why) != HUB_OK) {
        fprintf (stderr, "hub-rawclient: %s: %s\n", sign_file, why);
        return false;
    }
    if (hub_key_resolve (ctx->hub_key, hub_pk) != HUB_OK ||
        hub_key_curve_public (hub_pk, server_curve) != HUB_OK ||
        hub_key_curve_public (ctx->conn_id.pk, curve_pk) != HUB_OK ||
        hub_key_curve_secret (&ctx->conn_id, curve_sk) != HUB_OK) {
        fprintf (stderr, "hub-rawclient: bad hub key or identity\n");
        return false;
    }
    ctx->sock = zsock_new (ZMQ_DEALER);
    zsock_set_curve_serverkey_bin (ctx->sock, server_curve);
    zsock_set_curve_publickey_bin (ctx->sock, curve_pk);
    zsock_set_curve_secretkey_bin (ctx->sock, curve_sk);
    zsock_set_linger (ctx->sock, 1000);
    zsock_set_rcvtimeo (ctx->sock, ctx->timeout_ms);
    zsock_set_sndtimeo (ctx->sock, ctx->timeout_ms);
    //  Unbounded queues, so a flood is never throttled on this side; except for slowsub,
    //  which keeps libzmq's default (1000), as an application that stops reading would.
    //  (With a receive queue just the size of its credit, the hub's unsolicited PONG
    //  probes fill it, libzmq stops reading the TCP stream, hubd's ZMTP heartbeat times
    //  out after 6 s and the subscription is dropped.)
    zsock_set_rcvhwm (ctx->sock, ctx->rcvhwm);
    zsock_set_sndhwm (ctx->sock, 0);
    if (zsock_connect (ctx->sock, "%s", ctx->endpoint) != 0) {
        fprintf (stderr, "hub-rawclient: cannot connect to %s\n", ctx->endpoint);
        return false;
    }
    return true;
}

static zframe_t *
s_envelope (uint8_t cmd, uint32_t req_id)
{
    uint8_t env[HUB_ENV_BYTES];
    hub_env_encode (cmd, req_id, env);
    return zframe_new (env, sizeof env);
}

//  Builds a signed publish. body_spec: literal text, "@size:N" or "@total:N".
static void
s_pub_build (s_ctx_t *ctx, const char *channel, const char *body_spec, s_pub_t *pub)
{
    uint8_t id[HUB_MSG_ID_BYTES];
    randombytes_buf (id, sizeof id);
    const char *kind = ctx->cmd == HUB_CMD_ADMIN ? "admin" : "message";
    char *header = hub_header_encode (channel, kind, ctx->sign_id.pk, id,
                                      (int64_t)zclock_time (), ctx->title, NULL, &pub->hlen);
    assert (header);
    pub->header = (uint8_t *)header;
    if (strncmp (body_spec, "@size:", 6) == 0 || strncmp (body_spec, "@total:", 7) == 0) {
        long n = atol (strchr (body_spec, ':') + 1);
        if (body_spec[1] == 't')
            n -= (long)pub->hlen;
        assert (n >= 0);
        pub->blen = (size_t)n;
        pub->body = malloc (pub->blen + 1);
        assert (pub->body);
        memset (pub->body, 'x', pub->blen);
    } else {
        pub->blen = strlen (body_spec);
        pub->body = (uint8_t *)strdup (body_spec);
    }
    hub_msg_sign (&ctx->sign_id, pub->header, pub->hlen, pub->body, pub->blen, pub->sig);
}

static void
s_pub_clear (s_pub_t *pub)
{
    free (pub->header);
    free (pub->body);
    memset (pub, 0, sizeof *pub);
}

static int
s_send_pub (s_ctx_t *ctx, const s_pub_t *pub, uint32_t req_id)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_append (msg, &(zframe_t *){s_envelope (ctx->cmd, req_id)});
    zmsg_addmem (msg, pub->header, pub->hlen);
    zmsg_addmem (msg, pub->body, pub->blen);
    zmsg_addmem (msg, pub->sig, HUB_SIG_BYTES);
    return zmsg_send (&msg, ctx->sock);
}

//  One answer to a publish. cmd is the envelope's command (0: no envelope could be
//  read); ok says whether its ACK (or ACKS record) or ERROR body could be read too.
typedef struct {
    uint32_t req_id;
    uint8_t cmd;
    bool ok;
    uint64_t seq;
    bool dup;
    hub_err_t code;
    char reason[256];
} s_answer_t;

//  Receives one message and splits it into answers (an ACKS holds many; one it cannot read
//  to the end adds an answer with cmd ACKS and not ok). Returns how many (at most max), or
//  -1 on timeout.
static int
s_recv_answers (s_ctx_t *ctx, s_answer_t *out, int max)
{
    zmsg_t *msg = zmsg_recv (ctx->sock);
    if (!msg)
        return -1;
    zframe_t *env_f = zmsg_first (msg), *arg = zmsg_next (msg);
    hub_env_t env = {0};
    bool known = hub_env_decode (zframe_data (env_f), zframe_size (env_f), &env) == HUB_OK;
    const uint8_t *data = arg ? zframe_data (arg) : NULL;
    size_t size = arg ? zframe_size (arg) : 0;
    int n = 0;
    out[0] = (s_answer_t){.req_id = env.req_id, .cmd = known ? env.cmd : 0};
    if (known && env.cmd == HUB_CMD_ACKS) {
        size_t offset = 0;
        bool read = size > 0;
        while (read && n < max && offset < size) {
            out[n] = (s_answer_t){.cmd = HUB_CMD_ACK, .ok = true};
            read = hub_acks_record_decode (data, size, &offset, &out[n].req_id, &out[n].seq,
                                           &out[n].dup) == HUB_OK;
            n += read;
        }
        if (!read && n < max)
            out[n++] = (s_answer_t){.cmd = HUB_CMD_ACKS};
    } else {
        if (known && env.cmd == HUB_CMD_ACK)
            out[0].ok = hub_ack_decode (data, size, &out[0].seq, &out[0].dup) == HUB_OK;
        else if (known && env.cmd == HUB_CMD_ERROR)
            out[0].ok = hub_error_decode (data, size, &out[0].code, out[0].reason,
                                          sizeof out[0].reason) == HUB_OK;
        n = 1;
    }
    zmsg_destroy (&msg);
    return n;
}

//  Writes the answer as the modes print it: "ACK SEQ DUP", "ERROR CODE NAME[ REASON]",
//  "UNDECODABLE ...", or "OTHER 0xCC".
static void
s_answer_text (const s_answer_t *a, bool reason, char *out, size_t size)
{
    if (a->cmd == 0)
        snprintf (out, size, "UNDECODABLE answer");
    else if (a->cmd == HUB_CMD_ACK && a->ok)
        snprintf (out, size, "ACK %llu %d", (unsigned long long)a->seq, a->dup ? 1 : 0);
    else if (a->cmd == HUB_CMD_ERROR && a->ok)
        snprintf (out, size, "ERROR %d %s%s%s", (int)a->code, hub_err_name (a->code),
                  reason ? " " : "", reason ? a->reason : "");
    else if (a->cmd == HUB_CMD_ACK || a->cmd == HUB_CMD_ACKS || a->cmd == HUB_CMD_ERROR)
        snprintf (out, size, "UNDECODABLE %s",
                  a->cmd == HUB_CMD_ERROR ? "ERROR"
                  : a->cmd == HUB_CMD_ACK ? "ACK"
                                          : "ACKS");
    else
        snprintf (out, size, "OTHER 0x%02x", a->cmd);
}

//  Receives one answer and prints it, or "WRONG-ID N" if it does not carry request id
//  expect_id (UINT32_MAX: any). Returns 0, or 2 on timeout.
static int
s_print_answer_to (s_ctx_t *ctx, uint32_t expect_id)
{
    s_answer_t answer;
    char text[400] = "TIMEOUT";
    int rc = s_recv_answers (ctx, &answer, 1) < 0 ? 2 : 0;
    if (rc == 0 && expect_id != UINT32_MAX && answer.req_id != expect_id)
        snprintf (text, sizeof text, "WRONG-ID %u", answer.req_id);
    else if (rc == 0)
        s_answer_text (&answer, true, text, sizeof text);
    printf ("%s\n", text);
    fflush (stdout);
    return rc;
}

static int
s_print_answer (s_ctx_t *ctx)
{
    return s_print_answer_to (ctx, UINT32_MAX);
}

//  --------------------------------------------------------------------------
//  Malformed requests

static int
s_malformed (s_ctx_t *ctx, const char *which)
{
    s_pub_t pub;
    s_pub_build (ctx, "updates", "malformed case", &pub);
    uint8_t env[HUB_ENV_BYTES];
    hub_env_encode (HUB_CMD_PUBLISH, 7, env);
    zmsg_t *msg = zmsg_new ();
    bool frames = true; //  append header, body, signature after the envelope
    if (streq (which, "env-short"))
        zmsg_addmem (msg, env, 7);
    else if (streq (which, "env-long")) {
        uint8_t longer[9];
        memcpy (longer, env, 8);
        longer[8] = 0;
        zmsg_addmem (msg, longer, 9);
    } else if (streq (which, "bad-magic")) {
        env[0] = 'X';
        zmsg_addmem (msg, env, 8);
    } else if (streq (which, "bad-version")) {
        env[2] = 0x09;
        zmsg_addmem (msg, env, 8);
    } else if (streq (which, "unknown-cmd")) {
        env[3] = 0x42;
        zmsg_addmem (msg, env, 8);
    } else if (streq (which, "ping-extra")) {
        env[3] = HUB_CMD_PING;
        zmsg_addmem (msg, env, 8);
        zmsg_addstr (msg, "extra");
        frames = false;
    } else if (streq (which, "credit-zero") || streq (which, "credit-short")) {
        env[3] = HUB_CMD_CREDIT;
        zmsg_addmem (msg, env, 8);
        zmsg_addmem (msg, "\0\0\0\0", streq (which, "credit-zero") ? 4 : 3);
        frames = false;
    } else if (streq (which, "frame-count")) {
        zmsg_addmem (msg, env, 8);
        zmsg_addmem (msg, pub.header, pub.hlen);
        zmsg_addmem (msg, pub.body, pub.blen);
        frames = false;
    } else if (streq (which, "too-many-frames")) {
        zmsg_addmem (msg, env, 8);
        zmsg_addmem (msg, pub.header, pub.hlen);
        zmsg_addmem (msg, pub.body, pub.blen);
        zmsg_addmem (msg, pub.sig, HUB_SIG_BYTES);
        for (int i = 0; i < 20; i++)
            zmsg_addstr (msg, "extra");
        frames = false;
    } else if (streq (which, "sig-short")) {
        zmsg_addmem (msg, env, 8);
        zmsg_addmem (msg, pub.header, pub.hlen);
        zmsg_addmem (msg, pub.body, pub.blen);
        zmsg_addmem (msg, pub.sig, HUB_SIG_BYTES - 1);
        frames = false;
    } else if (streq (which, "header-not-json") || streq (which, "header-bad-channel") ||
               streq (which, "body-bad-utf8")) {
        free (pub.header);
        char author[HUB_KEYTEXT_LEN + 1];
        hub_key_to_text (ctx->sign_id.pk, author);
        char text[1024];
        if (streq (which, "header-not-json"))
            snprintf (text, sizeof text, "v=1 channel=updates author=%s", author);
        else
            snprintf (text, sizeof text,
                      "{\"v\":1,\"channel\":\"%s\",\"kind\":\"message\",\"author\":\"%s\","
                      "\"id\":\"00112233445566778899aabbccddeeff\",\"ts\":%lld}",
                      streq (which, "header-bad-channel") ? "Bad Channel!" : "updates", author,
                      (long long)zclock_time ());
        pub.header = (uint8_t *)strdup (text);
        pub.hlen = strlen (text);
        if (streq (which, "body-bad-utf8")) {
            free (pub.body);
            static const uint8_t bad[] = {'o', 'k', ' ', 0xc3, 0x28, ' ', 0xed, 0xa0, 0x80};
            pub.blen = sizeof bad;
            pub.body = malloc (pub.blen);
            memcpy (pub.body, bad, pub.blen);
        }
        //  Correctly signed, so only the validation under test can refuse it.
        hub_msg_sign (&ctx->sign_id, pub.header, pub.hlen, pub.body, pub.blen, pub.sig);
        zmsg_addmem (msg, env, 8);
    } else {
        zmsg_destroy (&msg);
        s_pub_clear (&pub);
        return s_usage ("unknown malformed case");
    }
    if (frames && zmsg_size (msg) == 1) {
        zmsg_addmem (msg, pub.header, pub.hlen);
        zmsg_addmem (msg, pub.body, pub.blen);
        zmsg_addmem (msg, pub.sig, HUB_SIG_BYTES);
    }
    zmsg_send (&msg, ctx->sock);
    s_pub_clear (&pub);
    //  Whenever the envelope has its 8 bytes, the refusal answers its request id.
    bool short_env = streq (which, "env-short") || streq (which, "env-long");
    return s_print_answer_to (ctx, short_env ? UINT32_MAX : 7);
}

//  --------------------------------------------------------------------------
//  Garbage flood: every request is invalid and must be refused.

static void
s_drain (s_ctx_t *ctx, long *answers)
{
    zmsg_t *msg;
    while ((zsock_events (ctx->sock) & ZMQ_POLLIN) && (msg = zmsg_recv (ctx->sock))) {
        (*answers)++;
        zmsg_destroy (&msg);
    }
}

static int
s_garbage (s_ctx_t *ctx, long count)
{
    long answers = 0;
    uint8_t buf[128];
    for (long i = 0; i < count; i++) {
        zmsg_t *msg = zmsg_new ();
        uint32_t kind = randombytes_uniform (4);
        size_t len = randombytes_uniform (sizeof buf);
        randombytes_buf (buf, sizeof buf);
        if (kind == 0) { //  random bytes, never a valid envelope
            if (len == HUB_ENV_BYTES)
                len++;
            zmsg_addmem (msg, buf, len);
        } else if (kind == 1) { //  bad magic, random frames after
            buf[0] = 0;
            zmsg_addmem (msg, buf, HUB_ENV_BYTES);
            zmsg_addmem (msg, buf + 8, len / 2);
        } else if (kind == 2) { //  a PUBLISH with random frames
            zmsg_append (msg, &(zframe_t *){s_envelope (HUB_CMD_PUBLISH, (uint32_t)i)});
            zmsg_addmem (msg, buf, len / 3);
            zmsg_addmem (msg, buf, len / 2);
            zmsg_addmem (msg, buf, len);
        } else { //  an unknown command
            zmsg_append (msg, &(zframe_t *){s_envelope (0x70, (uint32_t)i)});
            zmsg_addmem (msg, buf, len);
        }
        if (zmsg_send (&msg, ctx->sock) != 0) {
            zmsg_destroy (&msg);
            printf ("SENT %ld ANSWERS %ld (send failed)\n", i, answers);
            return 2;
        }
        s_drain (ctx, &answers);
    }
    //  Collect the remaining answers: stop after a quiet second.
    int64_t quiet_since = zclock_mono ();
    while (answers < count && zclock_mono () - quiet_since < 3000) {
        long before = answers;
        zpoller_t *poller = zpoller_new (ctx->sock, NULL);
        zpoller_wait (poller, 100);
        zpoller_destroy (&poller);
        s_drain (ctx, &answers);
        if (answers != before)
            quiet_since = zclock_mono ();
    }
    printf ("SENT %ld ANSWERS %ld\n", count, answers);
    return 0;
}

//  --------------------------------------------------------------------------
//  Pipelined publishing

//  Appends a publish record for pub (request req_id) to a growing PUBLISHES frame.
static void
s_pack_add (zchunk_t *pack, const s_pub_t *pub, uint32_t req_id)
{
    hub_pub_record_t rec = {req_id, pub->header, pub->hlen, pub->body, pub->blen, pub->sig};
    uint8_t *bytes = malloc (hub_pub_record_size (&rec));
    assert (bytes);
    zchunk_extend (pack, bytes, hub_pub_record_encode (&rec, bytes));
    free (bytes);
}

static int
s_send_pack (s_ctx_t *ctx, zchunk_t *pack, uint32_t req_id)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_append (msg, &(zframe_t *){s_envelope (HUB_CMD_PUBLISHES, req_id)});
    zmsg_addmem (msg, zchunk_data (pack), zchunk_size (pack));
    zchunk_set (pack, NULL, 0);
    return zmsg_send (&msg, ctx->sock);
}

//  Builds flood message number n (from 1): body "flood N", or --size bytes of it.
static void
s_flood_pub (s_ctx_t *ctx, const char *channel, long n, s_pub_t *pub)
{
    size_t body_size = ctx->size > 64 ? (size_t)ctx->size : 64;
    char *body = zmalloc (body_size + 1);
    int len = snprintf (body, body_size + 1, "flood %ld ", n);
    if (ctx->size > len)
        memset (body + len, 'x', (size_t)ctx->size - (size_t)len);
    body[ctx->size > len ? ctx->size : len - 1] = '\0';
    s_pub_build (ctx, channel, body, pub);
    free (body);
}

static int
s_flood (s_ctx_t *ctx, const char *channel, long count, long window)
{
    long sent = 0, acked = 0, dups = 0;
    uint64_t first = 0, last = 0;
    //  With --go, every message is built and signed first, then sent only once the file
    //  exists: as fast as the socket takes them, at a moment the test chooses.
    s_pub_t *built = NULL;
    if (ctx->go_file) {
        built = zmalloc ((size_t)count * sizeof *built);
        for (long i = 0; i < count; i++)
            s_flood_pub (ctx, channel, i + 1, &built[i]);
        printf ("READY\n");
        fflush (stdout);
        struct stat st;
        while (stat (ctx->go_file, &st) != 0)
            zclock_sleep (10);
    }
    int64_t start = zclock_mono ();
    zchunk_t *pack = zchunk_new (NULL, 0);
    s_answer_t answers[HUB_PUBLISHES_MAX];
    int rc = 0;
    while (acked < count && rc == 0) {
        while (sent < count && sent - acked < window) {
            s_pub_t one, *pub = built ? &built[sent] : &one;
            if (!built)
                s_flood_pub (ctx, channel, sent + 1, &one);
            if (ctx->pack > 0)
                s_pack_add (pack, pub, (uint32_t)(sent + 1));
            else
                s_send_pub (ctx, pub, (uint32_t)(sent + 1));
            s_pub_clear (pub);
            sent++;
            if (ctx->pack > 0 && sent % ctx->pack == 0)
                s_send_pack (ctx, pack, 0);
        }
        if (zchunk_size (pack))
            s_send_pack (ctx, pack, 0); //  the window is full or all are sent
        int n = s_recv_answers (ctx, answers, HUB_PUBLISHES_MAX);
        if (n < 0) {
            printf ("TIMEOUT after %ld acks of %ld sent\n", acked, sent);
            rc = 2;
        }
        for (int i = 0; i < n && rc == 0; i++) {
            if (answers[i].cmd != HUB_CMD_ACK || !answers[i].ok) {
                char text[400];
                s_answer_text (&answers[i], true, text, sizeof text);
                printf ("FAILED at ack %ld: %s\n", acked, text);
                rc = 3;
                break;
            }
            acked++;
            dups += answers[i].dup;
            if (!first || answers[i].seq < first)
                first = answers[i].seq;
            if (answers[i].seq > last)
                last = answers[i].seq;
        }
    }
    zchunk_destroy (&pack);
    for (long i = sent; built && i < count; i++)
        s_pub_clear (&built[i]);
    free (built);
    if (rc)
        return rc;
    printf ("ACKED %ld DUPS %ld FIRST %llu LAST %llu MS %lld\n", acked, dups,
            (unsigned long long)first, (unsigned long long)last,
            (long long)(zclock_mono () - start));
    return dups ? 3 : 0;
}

//  PUBLISHES whose records are judged one by one, and packs refused whole.
static int
s_packs (s_ctx_t *ctx, const char *channel)
{
    s_pub_t good, bad, broken;
    s_pub_build (ctx, channel, "packed and good", &good);
    s_pub_build (ctx, channel, "packed, badly signed", &bad);
    bad.sig[3] ^= 0x40;
    s_pub_build (ctx, channel, "packed, broken header", &broken);
    broken.header[0] = '['; //  not a JSON object any more, and signed so: only that is wrong
    hub_msg_sign (&ctx->sign_id, broken.header, broken.hlen, broken.body, broken.blen,
                  broken.sig);
    zchunk_t *pack = zchunk_new (NULL, 0);
    s_pack_add (pack, &good, 11);
    s_pack_add (pack, &bad, 12);
    s_pack_add (pack, &good, 13);
    s_pack_add (pack, &broken, 14);
    s_send_pack (ctx, pack, 10);
    //  Cut short: the last record loses its final byte; both records are new messages, so
    //  taking either would show in the log and in an answer. Then an empty one.
    s_pub_t fresh[2];
    for (int i = 0; i < 2; i++) {
        s_pub_build (ctx, channel, i ? "packed, cut short" : "packed before the cut",
                     &fresh[i]);
        s_pack_add (pack, &fresh[i], (uint32_t)(15 + i));
        s_pub_clear (&fresh[i]);
    }
    zchunk_t *cut = zchunk_new (zchunk_data (pack), zchunk_size (pack) - 1);
    s_send_pack (ctx, cut, 20);
    s_send_pack (ctx, cut, 21); //  s_send_pack emptied it
    zchunk_destroy (&cut);
    zchunk_destroy (&pack);
    s_pub_clear (&good);
    s_pub_clear (&bad);
    s_pub_clear (&broken);

    //  Six answers are due; anything more within a short while is printed too, as EXTRA.
    s_answer_t got[32];
    int count = 0, n = 0;
    while (count < 32 && (n = s_recv_answers (ctx, got + count, 32 - count)) > 0) {
        count += n;
        if (count >= 6)
            zsock_set_rcvtimeo (ctx->sock, 300);
    }
    if (count < 6) {
        printf ("TIMEOUT with %d of 6 answers\n", count);
        return 2;
    }
    //  Requests 11-14, 20 and 21 are answered once each, printed in that order; anything
    //  else (an answer to 15 or 16, a second answer) is printed after them as EXTRA.
    static const uint32_t due[] = {11, 12, 13, 14, 20, 21};
    bool printed[32] = {false};
    char text[400];
    for (size_t d = 0; d < sizeof due / sizeof due[0]; d++)
        for (int i = 0; i < count; i++)
            if (got[i].req_id == due[d] && !printed[i]) {
                s_answer_text (&got[i], false, text, sizeof text);
                printf ("REQ %u %s\n", due[d], text);
                printed[i] = true;
                break;
            }
    for (int i = 0; i < count; i++)
        if (!printed[i]) {
            s_answer_text (&got[i], false, text, sizeof text);
            printf ("EXTRA %u %s\n", got[i].req_id, text);
        }
    return 0;
}

//  The client library's pipelined publishing: posts (some twice: the hub must store those
//  once and flag the second ack), then collects every answer.
static int
s_post (s_ctx_t *ctx, const char *channel, long count)
{
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
    if (hub_key_resolve (ctx->hub_key, hub_pk) != HUB_OK)
        return s_usage ("bad hub key");
    hub_client_t *client =
        hub_client_new (ctx->endpoint, &ctx->conn_id, hub_pk, ctx->timeout_ms);
    if (!client)
        return 1;
    long posted = 0, answers = 0, acks = 0, dups = 0;
    uint64_t *seqs = calloc ((size_t)count * 2, sizeof *seqs);
    assert (seqs);
    char body[64];
    for (long i = 0; i < count; i++) {
        s_pub_t pub;
        snprintf (body, sizeof body, "posted %ld", i + 1);
        s_pub_build (ctx, channel, body, &pub);
        for (int copy = 0; copy < (i % 3 == 0 ? 2 : 1); copy++) {
            uint32_t req_id;
            if (hub_client_post (client, pub.header, pub.hlen, pub.body, pub.blen, pub.sig,
                                 &req_id) == HUB_OK)
                posted++;
        }
        s_pub_clear (&pub);
    }
    while (answers < posted) {
        uint32_t req_id;
        uint64_t seq;
        bool dup;
        hub_err_t rc = hub_client_collect (client, -1, &req_id, &seq, &dup);
        if (rc == HUB_E_TIMEOUT)
            break;
        answers++;
        if (rc == HUB_OK) {
            seqs[acks++] = seq;
            dups += dup;
        }
    }
    //  Distinct seqs: every message stored once, whatever was posted twice.
    long distinct = 0;
    for (long i = 0; i < acks; i++) {
        bool seen = false;
        for (long k = 0; k < i && !seen; k++)
            seen = seqs[k] == seqs[i];
        distinct += !seen;
    }
    printf ("POSTED %ld ANSWERS %ld ACKS %ld DUPS %ld DISTINCT %ld\n", posted, answers, acks,
            dups, distinct);
    free (seqs);
    hub_client_destroy (&client);
    return answers == posted ? 0 : 2;
}

//  --------------------------------------------------------------------------
//  A subscriber that stops reading, then catches up

//  What a subscriber saw: how many, the first and last seq, and whether they rose.
typedef struct {
    long received;
    uint64_t first, last;
    bool ordered;
} s_seen_t;

//  Counts one message by its meta; returns 1, or 0 if the meta is unusable.
static long
s_seen (s_seen_t *seen, const uint8_t *meta_bytes, size_t size)
{
    hub_meta_t meta;
    if (hub_meta_decode (meta_bytes, size, &meta) != HUB_OK)
        return 0;
    if (meta.seq <= seen->last) {
        if (seen->ordered)
            fprintf (stderr, "hub-rawclient: seq %llu after %llu\n",
                     (unsigned long long)meta.seq, (unsigned long long)seen->last);
        seen->ordered = false;
    }
    if (!seen->first)
        seen->first = meta.seq;
    seen->last = meta.seq;
    seen->received++;
    return 1;
}

static int
s_slowsub (s_ctx_t *ctx, const char *channel, long since, long credit, const char *gofile,
           long expect)
{
    const char *channels[] = {channel};
    char *args = hub_subscribe_args_encode (channels, 1, since, (uint32_t)credit, ctx->pack);
    zmsg_t *msg = zmsg_new ();
    zmsg_append (msg, &(zframe_t *){s_envelope (HUB_CMD_SUBSCRIBE, 1)});
    zmsg_addstr (msg, args);
    free (args);
    zmsg_send (&msg, ctx->sock);
    msg = zmsg_recv (ctx->sock);
    if (!msg) {
        printf ("TIMEOUT waiting for the subscription\n");
        return 2;
    }
    zframe_t *env_f = zmsg_first (msg), *arg = zmsg_next (msg);
    hub_env_t env = {0};
    if (hub_env_decode (zframe_data (env_f), zframe_size (env_f), &env) != HUB_OK ||
        env.cmd != HUB_CMD_REPLY || !arg) {
        printf ("SUBSCRIBE refused\n");
        zmsg_destroy (&msg);
        return 3;
    }
    char *reply = zframe_strdup (arg);
    printf ("SUBSCRIBED %s\n", reply);
    fflush (stdout);
    free (reply);
    zmsg_destroy (&msg);

    struct stat st;
    while (stat (gofile, &st) != 0)
        zclock_sleep (50);

    s_seen_t seen = {.ordered = true};
    long since_grant = 0, pongs = 0, packs = 0;
    while (seen.received < expect) {
        msg = zmsg_recv (ctx->sock);
        if (!msg)
            break;
        env_f = zmsg_first (msg);
        zframe_t *data_f = zmsg_next (msg);
        bool known = hub_env_decode (zframe_data (env_f), zframe_size (env_f), &env) == HUB_OK;
        long got = 0;
        if (known && env.cmd == HUB_CMD_MSG && data_f)
            got = s_seen (&seen, zframe_data (data_f), zframe_size (data_f));
        else if (known && env.cmd == HUB_CMD_MSGS && data_f && ctx->pack) {
            //  Records back to back: meta first in each; a broken pack counts nothing more.
            size_t offset = 0, size = zframe_size (data_f);
            hub_record_t rec;
            while (offset < size &&
                   hub_record_decode (zframe_data (data_f), size, &offset, &rec) == HUB_OK)
                got += s_seen (&seen, rec.meta, HUB_META_BYTES);
            packs++;
            if (offset != size)
                fprintf (stderr, "hub-rawclient: a broken MSGS at byte %zu\n", offset);
        } else if (known && env.cmd == HUB_CMD_PONG)
            pongs++; //  hubd probes a subscriber it is not sending to (deliver_sweep)
        else
            fprintf (stderr, "hub-rawclient: unexpected answer 0x%02x\n", env.cmd);
        zmsg_destroy (&msg);
        if ((since_grant += got) >= credit / 2) {
            uint8_t c[4];
            hub_credit_encode ((uint32_t)since_grant, c);
            zmsg_t *grant = zmsg_new ();
            zmsg_append (grant, &(zframe_t *){s_envelope (HUB_CMD_CREDIT, 2)});
            zmsg_addmem (grant, c, 4);
            zmsg_send (&grant, ctx->sock);
            since_grant = 0;
        }
    }
    if (ctx->pack)
        fprintf (stderr, "hub-rawclient: %ld messages came in %ld MSGS\n", seen.received,
                 packs);
    printf ("RECEIVED %ld FIRST %llu LAST %llu ORDER %s\n", seen.received,
            (unsigned long long)seen.first, (unsigned long long)seen.last,
            seen.ordered ? "ok" : "bad");
    fprintf (stderr, "hub-rawclient: %ld unsolicited PONG while subscribed\n", pongs);
    return seen.received == expect && seen.ordered ? 0 : 3;
}

//  One HISTORY page as histflood receives it.
typedef struct {
    long received;
    uint64_t first, last;
    bool hole, ended, end_ok;
} s_page_t;

//  The code of an ERROR frame's JSON (HUB_OK if it cannot be read).
static hub_err_t
s_error_code (zframe_t *frame)
{
    hub_err_t code = HUB_OK;
    if (hub_error_decode (zframe_data (frame), zframe_size (frame), &code, NULL, 0) != HUB_OK)
        code = HUB_OK;
    return code;
}

static int
s_histflood (s_ctx_t *ctx, const char *channel, long pages)
{
    s_page_t *page = calloc ((size_t)pages + 1, sizeof *page);
    uint32_t *again = calloc ((size_t)pages + 1, sizeof *again); //  refused: ask again
    assert (page && again);
    long ended = 0, read = 0, sent = 0, nagain = 0;
    int64_t next_send = zclock_mono (), slow_until = INT64_MAX;
    long limited_all = 0;
    while (ended < pages) {
        int64_t now = zclock_mono ();
        if ((nagain || sent < pages) && now >= next_send) {
            uint32_t id = nagain ? again[--nagain] : (uint32_t)++sent;
            char *args = hub_history_args_encode (channel, 0, 1000, false);
            zmsg_t *msg = zmsg_new ();
            zmsg_append (msg, &(zframe_t *){s_envelope (HUB_CMD_HISTORY, id)});
            zmsg_addstr (msg, args);
            free (args);
            zmsg_send (&msg, ctx->sock);
            next_send += 5;
            if (sent == pages && !nagain)
                slow_until = now + 500;
        }
        if (now < slow_until) {
            //  Slow: 20 messages a ms at most, and back to sending on time
            if (++read % 20 == 0)
                zclock_sleep (1);
            zmq_pollitem_t item = {zsock_resolve (ctx->sock), 0, ZMQ_POLLIN, 0};
            if (zmq_poll (&item, 1, 1) <= 0)
                continue;
        }
        zmsg_t *msg = zmsg_recv (ctx->sock);
        if (!msg)
            break;
        zframe_t *env_f = zmsg_first (msg), *data_f = zmsg_next (msg);
        hub_env_t env = {0};
        bool known = hub_env_decode (zframe_data (env_f), zframe_size (env_f), &env) == HUB_OK;
        s_page_t *p = known && env.req_id >= 1 && env.req_id <= (uint32_t)pages
                          ? &page[env.req_id]
                          : NULL;
        hub_meta_t meta;
        if (p && env.cmd == HUB_CMD_MSG && data_f &&
            hub_meta_decode (zframe_data (data_f), zframe_size (data_f), &meta) == HUB_OK) {
            if (p->received && meta.seq != p->last + 1)
                p->hole = true;
            if (!p->received)
                p->first = meta.seq;
            p->last = meta.seq;
            p->received++;
        } else if (p && env.cmd == HUB_CMD_END && data_f) {
            char *text = zframe_strdup (data_f);
            json_t *end = json_loads (text, 0, NULL);
            json_t *next = json_object_get (end, "next");
            bool cut = p->received < 1000;
            p->ended = true;
            p->end_ok = json_is_integer (next) &&
                        (uint64_t)json_integer_value (next) == (p->received ? p->last : 0) &&
                        (!cut || json_is_true (json_object_get (end, "more")));
            json_decref (end);
            free (text);
            ended++;
        } else if (p && env.cmd == HUB_CMD_ERROR && data_f && !p->received &&
                   s_error_code (data_f) == HUB_E_RATE_LIMITED) {
            //  More pages of this connection were being read than the hub takes at once:
            //  asked again in turn, as a client would.
            again[nagain++] = env.req_id;
            slow_until = INT64_MAX;
            static const char all[] = "for all clients";
            limited_all += memmem (zframe_data (data_f), zframe_size (data_f), all,
                                   sizeof all - 1) != NULL;
        } else if (!(known && env.cmd == HUB_CMD_PONG))
            fprintf (stderr, "hub-rawclient: unexpected answer 0x%02x to request %u\n", env.cmd,
                     env.req_id);
        zmsg_destroy (&msg);
    }
    long full = 0, cut = 0, lost = 0, holes = 0, badend = 0;
    for (long r = 1; r <= pages; r++) {
        full += page[r].ended && page[r].received == 1000;
        cut += page[r].ended && page[r].received < 1000;
        lost += !page[r].ended;
        holes += page[r].hole;
        badend += page[r].ended && !page[r].end_ok;
    }
    free (page);
    free (again);
    printf ("PAGES %ld FULL %ld CUT %ld LOST %ld HOLES %ld BADEND %ld ALL-LIMITED %ld\n", pages,
            full, cut, lost, holes, badend, limited_all);
    return 0;
}

//  --------------------------------------------------------------------------

int
main (int argc, char **argv)
{
    s_ctx_t ctx = {.endpoint = getenv ("HUB_ENDPOINT"),
                   .hub_key = getenv ("HUB_SERVER_KEY"),
                   .key_file = getenv ("HUB_KEY"),
                   .timeout_ms = 10000,
                   .cmd = HUB_CMD_PUBLISH};
    int i = 1, rcvhwm = -1;
    for (; i < argc && strncmp (argv[i], "--", 2) == 0; i++) {
        if (i + 1 >= argc)
            return s_usage ("option without value");
        const char *opt = argv[i], *val = argv[++i];
        if (streq (opt, "--hub"))
            ctx.endpoint = val;
        else if (streq (opt, "--hub-key"))
            ctx.hub_key = val;
        else if (streq (opt, "--key"))
            ctx.key_file = val;
        else if (streq (opt, "--sign-key"))
            ctx.sign_key_file = val;
        else if (streq (opt, "--title"))
            ctx.title = val;
        else if (streq (opt, "--rcvhwm"))
            rcvhwm = atoi (val);
        else if (streq (opt, "--size"))
            ctx.size = atol (val);
        else if (streq (opt, "--go"))
            ctx.go_file = val;
        else if (streq (opt, "--pack"))
            ctx.pack = atol (val);
        else if (streq (opt, "--timeout"))
            ctx.timeout_ms = atoi (val);
        else
            return s_usage ("unknown option");
    }
    if (i >= argc)
        return s_usage ("no mode");
    if (!ctx.endpoint || !ctx.hub_key || !ctx.key_file)
        return s_usage ("need --hub, --hub-key and --key (or HUB_ENDPOINT, ...)");
    if (sodium_init () < 0)
        return 1;
    zsys_init ();
    zsys_set_linger (1000);
    ctx.rcvhwm = rcvhwm >= 0 ? rcvhwm : streq (argv[i], "slowsub") ? 1000 : 0;
    if (!s_connect (&ctx))
        return 1;
    const char *mode = argv[i++];
    int nargs = argc - i;
    char **a = argv + i;
    int rc;
    bool admin = streq (mode, "admin") && nargs == 1;
    if (((streq (mode, "publish") || streq (mode, "badsig") || streq (mode, "replay") ||
          streq (mode, "reuse")) &&
         nargs == 2) ||
        admin) {
        s_pub_t pub;
        ctx.cmd = admin ? HUB_CMD_ADMIN : HUB_CMD_PUBLISH;
        s_pub_build (&ctx, admin ? "admin" : a[0], a[admin ? 0 : 1], &pub);
        if (streq (mode, "badsig"))
            pub.sig[10] ^= 0x01;
        s_send_pub (&ctx, &pub, 1);
        rc = s_print_answer (&ctx);
        if (rc == 0 && (streq (mode, "replay") || streq (mode, "reuse"))) {
            if (streq (mode, "reuse")) { //  the same header (ts, id) over another body
                pub.body[0] ^= 0x20;
                hub_msg_sign (&ctx.sign_id, pub.header, pub.hlen, pub.body, pub.blen, pub.sig);
            }
            s_send_pub (&ctx, &pub, 2);
            rc = s_print_answer (&ctx);
        }
        s_pub_clear (&pub);
    } else if (streq (mode, "malformed") && nargs == 1)
        rc = s_malformed (&ctx, a[0]);
    else if (streq (mode, "garbage") && nargs == 1)
        rc = s_garbage (&ctx, atol (a[0]));
    else if (streq (mode, "flood") && nargs == 3)
        rc = s_flood (&ctx, a[0], atol (a[1]), atol (a[2]));
    else if (streq (mode, "post") && nargs == 2)
        rc = s_post (&ctx, a[0], atol (a[1]));
    else if (streq (mode, "packs") && nargs == 1)
        rc = s_packs (&ctx, a[0]);
    else if (streq (mode, "histflood") && nargs == 2)
        rc = s_histflood (&ctx, a[0], atol (a[1]));
    else if (streq (mode, "slowsub") && nargs == 5)
        rc = s_slowsub (&ctx, a[0], atol (a[1]), atol (a[2]), a[3], atol (a[4]));
    else
        rc = s_usage ("unknown mode or wrong number of arguments");
    zsock_destroy (&ctx.sock);
    sodium_memzero (&ctx.conn_id, sizeof ctx.conn_id);
    sodium_memzero (&ctx.sign_id, sizeof ctx.sign_id);
    return rc;
}
