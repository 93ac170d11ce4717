/*  hub_client.h - the hubd client library: publish, subscribe, history, status, verify.

    A program that talks to hubd links `hubclient` and includes this header. It speaks the
    protocol of proto/PROTOCOL.md over one CURVE-secured DEALER socket and knows nothing of
    hubd's internals.

    Threading: a hub_client_t is used by one thread at a time. It never installs signal
    handlers; CZMQ does unless the program calls zsys_handler_set (NULL) before creating
    the first client. A signal that interrupts a wait ends hub_client_next_msg early
    (HUB_E_TIMEOUT) so a program can check its own flags.

    Errors: every call returns a hub_err_t. When the hub refused a request (an ERROR frame)
    the code is the hub's and hub_client_last_reason () holds its reason; when nothing
    came back in time it is HUB_E_TIMEOUT.

    Delivery guarantees the library adds on top of the protocol:
    - publish re-sends the same signed frames (same message id) when no ACK arrives in
      time, so a lost ACK never produces a second stored copy (PROTOCOL.md 4.3);
    - a subscription remembers the last seq it returned; after the connection drops,
      hub_client_resume () subscribes again with since = that seq and the library drops
      anything at or below it, so each message is returned exactly once, in order.
*/
#ifndef HUB_CLIENT_H_INCLUDED
#define HUB_CLIENT_H_INCLUDED

#include "hub_err.h"
#include "hub_frame.h"
#include "hub_keys.h"
#include "hub_sig.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HUB_CLIENT_TIMEOUT_DEFAULT 5000 //  ms
#define HUB_TIME_TEXT_MAX          32   //  "2026-11-23T10:31:23.123Z" and a NUL

typedef struct _hub_client_t hub_client_t;
typedef struct _hub_verifier_t hub_verifier_t;

//  --------------------------------------------------------------------------
//  A received message (one MSG frame set, PROTOCOL.md 6.1). A plain record: the fields are
//  for reading; the message owns every pointer in it.

typedef struct {
    uint64_t seq;
    uint64_t hub_ts_ms; //  when the hub stored it
    uint8_t prev_hash[HUB_HASH_BYTES];
    uint8_t hash[HUB_HASH_BYTES];
    hub_header_t header;   //  decoded header; zeroed if it did not decode (header_ok false)
    bool header_ok;        //  the header frame decoded and validated
    uint8_t *header_bytes; //  the header exactly as signed; NUL-terminated
    size_t header_len;
    uint8_t *body; //  the body exactly as signed; NUL-terminated for convenience
    size_t body_len;
    uint8_t sig[HUB_SIG_BYTES];
    char *author_name; //  the author's directory name, "" if none
    bool sig_ok;       //  hub_msg_verify with the header's author key succeeded
    bool hash_ok;      //  hub_chain_hash (prev_hash, seq, ...) equals hash
    bool verified;     //  sig_ok && hash_ok
} hub_message_t;

//  Decodes the five frames after a MSG envelope (meta, header, body, signature, author
//  name) and checks the signature and the message's own chain hash. Returns a new message
//  the caller must destroy, or NULL with *err set (HUB_E_MALFORMED) when the meta,
//  signature or author name frames are unusable. A header that does not decode still
//  gives a message, with header_ok and verified false.
hub_message_t *hub_message_decode (const uint8_t *meta, size_t meta_len, const uint8_t *header,
                                   size_t header_len, const uint8_t *body, size_t body_len,
                                   const uint8_t *sig, size_t sig_len, const uint8_t *name,
                                   size_t name_len, hub_err_t *err);

//  Destroys a message and sets *self_p to NULL. NULL-safe.
void hub_message_destroy (hub_message_t **self_p);

//  Returns the message object of the user contract (seq, channel, kind, author,
//  author_key, ts, author_ts, title, body, verified, hash, and action_id when the header's
//  action has an "id"). The caller owns the result and must json_decref it.
json_t *hub_message_to_json (const hub_message_t *msg);

//  Writes ms since the epoch as RFC 3339 UTC with milliseconds ("2026-11-23T10:31:23.123Z")
//  into out.
void hub_time_format (int64_t ms, char out[HUB_TIME_TEXT_MAX]);

//  Milliseconds since the Unix epoch, wall clock.
int64_t hub_time_now_ms (void);

//  --------------------------------------------------------------------------
//  The connection

//  Creates a client connected to endpoint (e.g. "tcp://127.0.0.1:7400") as identity id,
//  trusting hub_pk (the hub's Ed25519 public key) as the server. timeout_ms bounds each
//  wait for an answer (<= 0: HUB_CLIENT_TIMEOUT_DEFAULT). Copies id and hub_pk. Connecting
//  is asynchronous: a hub that is down shows up as HUB_E_TIMEOUT on the first request.
//  Returns NULL (reason on stderr) if the keys have no CURVE form or the endpoint is
//  invalid. The caller owns the client and must destroy it.
hub_client_t *hub_client_new (const char *endpoint, const hub_identity_t *id,
                              const uint8_t hub_pk[HUB_PUBKEY_BYTES], int timeout_ms);

//  Closes the connection and frees the client; sets *self_p to NULL. NULL-safe.
void hub_client_destroy (hub_client_t **self_p);

//  Changes the wait bound of later calls (<= 0: HUB_CLIENT_TIMEOUT_DEFAULT).
void hub_client_set_timeout (hub_client_t *self, int timeout_ms);

//  Code and reason of the last failure: the hub's ERROR frame, or the client's own
//  description ("no answer from tcp://... within 5000 ms"). The reason is "" after a
//  success. Borrowed; valid until the next call on the client.
hub_err_t hub_client_last_error (const hub_client_t *self);
const char *hub_client_last_reason (const hub_client_t *self);

//  Borrowed; the endpoint and the identity the client was created with.
const char *hub_client_endpoint (const hub_client_t *self);
const hub_identity_t *hub_client_identity (const hub_client_t *self);

//  Drops the socket and connects a fresh one (a new session at the hub: the subscription
//  there is gone; see hub_client_resume). Pending answers are lost.
hub_err_t hub_client_reconnect (hub_client_t *self);

//  PING, waits for PONG. HUB_E_TIMEOUT if the hub did not answer in time.
hub_err_t hub_client_ping (hub_client_t *self);

//  --------------------------------------------------------------------------
//  Publishing

//  What the hub answered to a signed message: an ACK (seq, duplicate) or, for requests the
//  hub answers with a result (some ADMIN commands), a REPLY.
typedef struct {
    uint64_t seq;   //  ACK: the message's seq (0 if the answer was a REPLY)
    bool duplicate; //  ACK: the hub had stored this message before; seq is the original
    json_t *reply;  //  REPLY: the result, owned by the caller (json_decref); NULL for ACK
} hub_answer_t;

//  Publishes a message as the client's identity: builds the header (random message id,
//  ts = now), signs it, sends it and waits for the ACK, re-sending the same frames while
//  none comes (the hub stores it once). channel and kind are names ("message" for
//  partners); title and action_json (a JSON object's text) may be NULL; body is text of
//  body_len bytes (may be empty). On success writes the seq into *seq and whether the hub
//  had already stored it into *duplicate (either may be NULL). Refusals of invalid fields
//  are detected before sending, with the code the hub would give: HUB_E_BAD_NAME (channel,
//  kind), HUB_E_BAD_HEADER (a title over 256 bytes, an action that is not a JSON object),
//  HUB_E_BAD_UTF8 (title, body), HUB_E_TOO_LARGE (the header as a whole).
hub_err_t hub_client_publish (hub_client_t *self, const char *channel, const char *kind,
                              const char *title, const void *body, size_t body_len,
                              const char *action_json, uint64_t *seq, bool *duplicate);

//  Sends pre-built, pre-signed frames (header, body, 64-byte signature) as command cmd
//  (HUB_CMD_PUBLISH or HUB_CMD_ADMIN) and waits for the ACK or REPLY, re-sending the same
//  frames while no answer comes. Borrows the frames. Fills *answer on success; the caller
//  owns answer->reply. Use it to publish frames signed in advance, or by another identity
//  that this connection speaks for. answer->duplicate says the hub had the message
//  already: from an earlier call, or from this call's own attempt on a connection that
//  dropped before the answer came.
hub_err_t hub_client_send_signed (hub_client_t *self, uint8_t cmd, const uint8_t *header,
                                  size_t header_len, const uint8_t *body, size_t body_len,
                                  const uint8_t sig[HUB_SIG_BYTES], hub_answer_t *answer);

//  Builds, signs and sends a message as cmd (like hub_client_publish, for any command that
//  carries a signed message, e.g. HUB_CMD_ADMIN with kind "admin"). Fills *answer.
hub_err_t hub_client_sign_and_send (hub_client_t *self, uint8_t cmd, const char *channel,
                                    const char *kind, const char *title, const void *body,
                                    size_t body_len, const char *action_json,
                                    hub_answer_t *answer);

//  Pipelined publishing, for throughput: post queues pre-signed frames without waiting
//  and returns their request id in *req_id; they go out as one PUBLISHES (PROTOCOL.md
//  4.4) once 64 messages or 64 KiB are queued, or at post_flush, or when collect is
//  called. collect waits up to timeout_ms for the next answer to any posted request (an
//  ACK, a record of an ACKS, or an ERROR) and fills *req_id, *seq and *duplicate (ERROR:
//  returns the hub's code, *req_id still set). No re-sending: the caller decides what to
//  retry (re-posting the same frames is safe: the hub stores a message once).
hub_err_t hub_client_post (hub_client_t *self, const uint8_t *header, size_t header_len,
                           const uint8_t *body, size_t body_len,
                           const uint8_t sig[HUB_SIG_BYTES], uint32_t *req_id);
hub_err_t hub_client_post_flush (hub_client_t *self);
hub_err_t hub_client_collect (hub_client_t *self, int timeout_ms, uint32_t *req_id,
                              uint64_t *seq, bool *duplicate);

//  --------------------------------------------------------------------------
//  Requests with JSON answers

//  Sends command cmd with args (a JSON object, borrowed; NULL sends no args frame, as
//  STATUS and PING need) and waits for its REPLY. On success *reply is the result object,
//  owned by the caller (json_decref). For the commands added after version 1: QUERY,
//  admin queries, and so on.
hub_err_t hub_client_request (hub_client_t *self, uint8_t cmd, json_t *args, json_t **reply);

//  STATUS: *status is the hub's counters object, owned by the caller (json_decref).
hub_err_t hub_client_status (hub_client_t *self, json_t **status);

//  --------------------------------------------------------------------------
//  Subscribing

//  Subscribes to count channels (1..64; borrowed). since < 0 asks for live messages only,
//  since >= 0 for every stored message after since first. credit is the flow-control
//  window (0: HUB_CREDIT_DEFAULT); the library tops it up as messages are consumed.
//  Replaces any earlier subscription and forgets its position. On success *head (may be
//  NULL) is the last stored seq when the subscription began. The library asks for MSGS
//  packs (PROTOCOL.md 6.4) and hands their messages out one by one, as it does MSGs.
hub_err_t hub_client_subscribe (hub_client_t *self, const char *const *channels, size_t count,
                                int64_t since, uint32_t credit, uint64_t *head);

//  Returns the subscription's next message in *msg_p (the caller owns it and must destroy
//  it), waiting up to timeout_ms (-1: forever). Messages come in increasing seq, each once.
//  While it waits it pings an idle hub, so a dead one is noticed within about twice the
//  client timeout. Returns HUB_E_TIMEOUT when nothing came in time (or a signal ended the
//  wait), HUB_E_UNAVAILABLE when the connection was lost and the subscription with it
//  (call hub_client_resume), HUB_E_BAD_REQUEST if there is no subscription.
hub_err_t hub_client_next_msg (hub_client_t *self, int timeout_ms, hub_message_t **msg_p);

//  Reconnects and subscribes again to the same channels with since = the last seq
//  returned (or the starting point if none was). On failure the caller waits and calls it
//  again (backoff is the caller's choice).
hub_err_t hub_client_resume (hub_client_t *self);

//  The last seq hub_client_next_msg returned (or the subscription's starting point).
uint64_t hub_client_last_seq (const hub_client_t *self);

//  UNSUBSCRIBE; forgets the subscription and any messages it had queued.
hub_err_t hub_client_unsubscribe (hub_client_t *self);

//  --------------------------------------------------------------------------
//  History

//  What the last END said (PROTOCOL.md 8).
typedef struct {
    uint64_t next;
    bool more;
    uint64_t head;
    bool complete; //  the pages are the whole log: "*" asked by a reader of every channel
    bool has_checkpoint;
    hub_checkpoint_t checkpoint; //  signature NOT checked here: see hub_verifier_finish
} hub_history_end_t;

//  Called with each message in order. Takes ownership of msg (destroy it or keep it).
//  Return false to stop early.
typedef bool (hub_history_fn) (hub_message_t *msg, void *arg);

//  Fetches the messages of channel ("*": every channel the identity may read) with seq >
//  since, page by page, calling fn for each, until the log ends, limit messages were
//  delivered (0: no limit) or fn returns false. Pages come in MSGS packs (PROTOCOL.md 6.4);
//  when fn stops early, the rest of the page is dropped. *end (may be NULL) receives the last
//  END, with the checkpoint of the last page's snapshot (which, on the whole log, is at its
//  last message: PROTOCOL.md 8).
hub_err_t hub_client_history (hub_client_t *self, const char *channel, uint64_t since,
                              uint64_t limit, hub_history_fn *fn, void *arg,
                              hub_history_end_t *end);

//  --------------------------------------------------------------------------
//  Verifying a history (the tamper-evident log, PROTOCOL.md 6.2 and 6.3)

//  Creates a verifier that trusts hub_pk (copied) for checkpoints. With consecutive, the
//  messages must be the whole log from since + 1 without gaps (verifying "*" as a reader
//  of everything). The caller owns it and must destroy it.
hub_verifier_t *hub_verifier_new (const uint8_t hub_pk[HUB_PUBKEY_BYTES], bool consecutive,
                                  uint64_t since);
void hub_verifier_destroy (hub_verifier_t **self_p);

//  Checks the next message (borrowed) in order: its signature, its own hash, and the link
//  to the previous one when that is seq - 1. Returns false once anything failed (the
//  first failure is kept).
bool hub_verifier_add (hub_verifier_t *self, const hub_message_t *msg);

//  Checks the checkpoint (borrowed; NULL if the hub sent none): signed by the trusted hub
//  key, and, where the messages seen cover its seq, that their chain reaches its hash.
//  Returns the verdict for everything added.
bool hub_verifier_finish (hub_verifier_t *self, const hub_checkpoint_t *checkpoint);

//  Declares, at any time before finish, that the messages are meant to be the whole log
//  from since + 1 (what hub_verifier_new's consecutive says from the start): a missing
//  seq, among those added so far or later, is a failure at its place in the order.
void hub_verifier_expect_whole_log (hub_verifier_t *self);

//  Records a failure found outside the verifier (an entry that could not even be read
//  as a message, a key that is not the trusted one) at seq, unless one was recorded
//  before. Returns false.
bool hub_verifier_reject (hub_verifier_t *self, uint64_t seq, const char *reason);

//  Results. first_bad_seq is 0 and reason NULL while everything is intact.
bool hub_verifier_ok (const hub_verifier_t *self);
uint64_t hub_verifier_count (const hub_verifier_t *self);
uint64_t hub_verifier_last_seq (const hub_verifier_t *self);
uint64_t hub_verifier_first_bad_seq (const hub_verifier_t *self);
const char *hub_verifier_reason (const hub_verifier_t *self);

//  --------------------------------------------------------------------------
//  Export files (PROTOCOL.md 12): a history with its signatures, chain and checkpoint,
//  one JSON object per line, that verifies offline. Writing and reading the file (and
//  where the lines come from) is the caller's; these encode and decode single lines.

#define HUB_EXPORT_FORMAT "hubd-export-v1"

//  The first line of an export file.
typedef struct {
    uint8_t hub_pk[HUB_PUBKEY_BYTES];    //  the hub key the file names
    char exported_at[HUB_TIME_TEXT_MAX]; //  RFC 3339; informational
    char channel[HUB_CHANNEL_MAX + 1];   //  "*" (every channel readable) or one channel
    bool complete;                       //  the whole log: every seq up to the last
    uint64_t head;                       //  the hub's head when exported
    uint64_t messages;                   //  message lines that follow
    bool has_checkpoint;                 //  false for an empty log
    hub_checkpoint_t checkpoint;         //  the hub's latest; NOT checked by decode
} hub_export_head_t;

//  Encode one line (without its "\n"). The caller frees the result with free().
char *hub_export_head_encode (const hub_export_head_t *head);
char *hub_export_message_encode (const hub_message_t *msg);

//  Decodes the first line of an export file into *out. Returns HUB_OK, or an error with
//  why (may be NULL) saying what is wrong: HUB_E_VERSION (not a JSON object, or not of
//  format hubd-export-v1: not an export file), HUB_E_MALFORMED (a bad field),
//  HUB_E_BAD_KEY (hub_key), HUB_E_BAD_NAME (channel).
hub_err_t hub_export_head_decode (const char *line, size_t len, hub_export_head_t *out,
                                  char *why, size_t why_size);

//  Rebuilds a message from one message line, exactly as hub_message_decode builds it from
//  the hub's frames (signature and own hash checked, see `verified`). The caller owns it
//  and must destroy it. NULL with why (may be NULL) if the line is not a message; *seq
//  (may be NULL) is then the line's seq if that much could be read, else 0.
hub_message_t *hub_export_message_decode (const char *line, size_t len, uint64_t *seq,
                                          char *why, size_t why_size);

#ifdef __cplusplus
}
#endif

#endif
