/*  hub_frame.h - encoding and decoding of the frames of proto/PROTOCOL.md.

    Every decoder validates all it reads (lengths, UTF-8, names, limits) and returns a
    specific hub_err_t; none reads past its buffer or allocates more than its input size
    allows. Decoders never keep pointers into their input unless they say so.
*/
#ifndef HUB_FRAME_H_INCLUDED
#define HUB_FRAME_H_INCLUDED

#include "hub_err.h"
#include "hub_keys.h"
#include "hub_sig.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_PROTO_VERSION         1
#define HUB_ENV_BYTES             8
#define HUB_ACK_BYTES             9
#define HUB_META_BYTES            80
#define HUB_HEADER_MAX            4096
#define HUB_JSON_MAX              65536
#define HUB_REPLY_MAX             (16 << 20) //  a hub's REPLY/END/ERROR JSON (a big directory)
#define HUB_TITLE_MAX             256
#define HUB_CHANNEL_MAX           64
#define HUB_KIND_MAX              32
#define HUB_MSG_ID_BYTES          16
#define HUB_SUB_CHANNELS_MAX      64
#define HUB_CREDIT_MAX            100000
#define HUB_CREDIT_DEFAULT        1000
#define HUB_HISTORY_LIMIT_MAX     1000
#define HUB_HISTORY_LIMIT_DEFAULT 100
#define HUB_MAX_MESSAGE_DEFAULT   65536
#define HUB_PACK_RECORD_FIXED     (HUB_META_BYTES + 4 + 4 + HUB_SIG_BYTES + 4)
#define HUB_PUB_RECORD_FIXED      (4 + 4 + 4 + HUB_SIG_BYTES)
#define HUB_PUBLISHES_MAX         1000 //  records in one PUBLISHES
#define HUB_ACKS_RECORD_BYTES     (4 + HUB_ACK_BYTES)
//  The due times a new action item may have (PROTOCOL.md 13): 2000-01-01 to 9999-12-31 UTC
//  (RFC 3339 has four-digit years). A due time already past is a commitment recorded late.
#define HUB_DUE_MIN_MS 946684800000LL    //  2000-01-01T00:00:00.000Z
#define HUB_DUE_MAX_MS 253402300799999LL //  9999-12-31T23:59:59.999Z

typedef enum {
    HUB_CMD_PUBLISH = 0x01,
    HUB_CMD_SUBSCRIBE = 0x02,
    HUB_CMD_CREDIT = 0x03,
    HUB_CMD_HISTORY = 0x04,
    HUB_CMD_UNSUBSCRIBE = 0x05,
    HUB_CMD_STATUS = 0x06,
    HUB_CMD_ADMIN = 0x07,
    HUB_CMD_PING = 0x08,
    HUB_CMD_QUERY = 0x09,
    HUB_CMD_PUBLISHES = 0x0a,
    HUB_CMD_ACK = 0x81,
    HUB_CMD_ERROR = 0x82,
    HUB_CMD_MSG = 0x83,
    HUB_CMD_END = 0x84,
    HUB_CMD_REPLY = 0x85,
    HUB_CMD_MSGS = 0x86,
    HUB_CMD_ACKS = 0x87,
    HUB_CMD_PONG = 0x88
} hub_cmd_t;

//  --------------------------------------------------------------------------
//  Envelope (frame 0)

typedef struct {
    uint8_t cmd;
    uint32_t req_id;
} hub_env_t;

void hub_env_encode (uint8_t cmd, uint32_t req_id, uint8_t out[HUB_ENV_BYTES]);

//  HUB_E_MALFORMED (length, magic), HUB_E_VERSION, HUB_E_UNKNOWN_COMMAND.
hub_err_t hub_env_decode (const uint8_t *data, size_t len, hub_env_t *out);

//  Number of frames after the envelope that a command carries (PUBLISH: 3, MSG: 5, ...).
//  -1 for an unknown command.
int hub_cmd_frames (uint8_t cmd);

//  --------------------------------------------------------------------------
//  Message header (PUBLISH/ADMIN frame 1, MSG frame 2)

typedef struct {
    char channel[HUB_CHANNEL_MAX + 1];
    char kind[HUB_KIND_MAX + 1];
    uint8_t author[HUB_PUBKEY_BYTES];
    uint8_t id[HUB_MSG_ID_BYTES];
    int64_t ts_ms;
    char title[HUB_TITLE_MAX + 1]; //  "" when absent
    bool has_title;
    char *action_json; //  the "action" object re-encoded compactly, or NULL; owned
} hub_header_t;

//  Decodes and validates a header. On success the caller must call hub_header_clear.
//  HUB_E_TOO_LARGE, HUB_E_BAD_UTF8, HUB_E_BAD_HEADER, HUB_E_VERSION, HUB_E_BAD_NAME,
//  HUB_E_BAD_KEY (author not key text).
hub_err_t hub_header_decode (const uint8_t *data, size_t len, hub_header_t *out);

//  Frees what a decoded header owns; safe on a zeroed header.
void hub_header_clear (hub_header_t *hdr);

//  Encodes a header as compact JSON (keys in the order of PROTOCOL.md 4.1). title and
//  action_json may be NULL. Returns a new NUL-terminated string the caller frees with
//  free(), and its length in *len_out; NULL if a field is invalid or the header would
//  exceed HUB_HEADER_MAX bytes.
char *hub_header_encode (const char *channel, const char *kind,
                         const uint8_t author[HUB_PUBKEY_BYTES],
                         const uint8_t id[HUB_MSG_ID_BYTES], int64_t ts_ms, const char *title,
                         const char *action_json, size_t *len_out);

//  As hub_header_encode, and says why it refused in *err (may be NULL) with the code the
//  hub gives a header like it: HUB_E_BAD_NAME (channel, kind), HUB_E_BAD_HEADER (ts < 0,
//  a title over HUB_TITLE_MAX bytes, an action that is not a JSON object), HUB_E_BAD_UTF8
//  (title), HUB_E_TOO_LARGE (the header over HUB_HEADER_MAX bytes).
char *hub_header_encode_err (const char *channel, const char *kind,
                             const uint8_t author[HUB_PUBKEY_BYTES],
                             const uint8_t id[HUB_MSG_ID_BYTES], int64_t ts_ms,
                             const char *title, const char *action_json, size_t *len_out,
                             hub_err_t *err);

//  Checks a body: text, and header+body within max_bytes. HUB_E_TOO_LARGE, HUB_E_BAD_UTF8.
hub_err_t hub_body_check (const uint8_t *body, size_t blen, size_t hlen, size_t max_bytes);

//  --------------------------------------------------------------------------
//  ACK and MSG meta

void hub_ack_encode (uint64_t seq, bool duplicate, uint8_t out[HUB_ACK_BYTES]);
hub_err_t hub_ack_decode (const uint8_t *data, size_t len, uint64_t *seq, bool *duplicate);

typedef struct {
    uint64_t seq;
    uint64_t hub_ts_ms;
    uint8_t prev_hash[HUB_HASH_BYTES];
    uint8_t hash[HUB_HASH_BYTES];
} hub_meta_t;

void hub_meta_encode (const hub_meta_t *meta, uint8_t out[HUB_META_BYTES]);
hub_err_t hub_meta_decode (const uint8_t *data, size_t len, hub_meta_t *out);

//  MSGS pack (PROTOCOL.md 6.4): MSG records back to back, each
//      meta[80] u32(hlen) header u32(blen) body signature[64] u32(nlen) author name
//  A record points into the buffer it was decoded from (or is encoded from).
typedef struct {
    const uint8_t *meta; //  HUB_META_BYTES
    const uint8_t *header;
    size_t hlen;
    const uint8_t *body;
    size_t blen;
    const uint8_t *sig; //  HUB_SIG_BYTES
    const char *name;
    size_t nlen;
} hub_record_t;

//  Bytes the record takes in a pack.
size_t hub_record_size (const hub_record_t *rec);

//  Writes the record at out (hub_record_size bytes); returns the bytes written.
size_t hub_record_encode (const hub_record_t *rec, uint8_t *out);

//  Reads the record at data[*offset..len) and moves *offset past it. The record points
//  into data; its fields are not validated here (hub_message_decode does that).
//  HUB_E_MALFORMED if the record is cut short.
hub_err_t hub_record_decode (const uint8_t *data, size_t len, size_t *offset,
                             hub_record_t *rec);

//  PUBLISHES pack (PROTOCOL.md 4.4): publish records back to back, each
//      u32(req_id) u32(hlen) header u32(blen) body signature[64]
typedef struct {
    uint32_t req_id;
    const uint8_t *header;
    size_t hlen;
    const uint8_t *body;
    size_t blen;
    const uint8_t *sig; //  HUB_SIG_BYTES
} hub_pub_record_t;

size_t hub_pub_record_size (const hub_pub_record_t *rec);
size_t hub_pub_record_encode (const hub_pub_record_t *rec, uint8_t *out);
//  As hub_record_decode: points into data, fields unchecked, HUB_E_MALFORMED if cut short.
hub_err_t hub_pub_record_decode (const uint8_t *data, size_t len, size_t *offset,
                                 hub_pub_record_t *rec);

//  ACKS (PROTOCOL.md 4.4): records of u32(req_id) and an ack (9 bytes) back to back.
void hub_acks_record_encode (uint32_t req_id, uint64_t seq, bool duplicate,
                             uint8_t out[HUB_ACKS_RECORD_BYTES]);
//  Reads the record at *offset and moves past it: HUB_E_MALFORMED if cut short or its
//  ack is (hub_ack_decode).
hub_err_t hub_acks_record_decode (const uint8_t *data, size_t len, size_t *offset,
                                  uint32_t *req_id, uint64_t *seq, bool *duplicate);

//  CREDIT frame: 4-byte big-endian count, 1..HUB_CREDIT_MAX.
void hub_credit_encode (uint32_t credit, uint8_t out[4]);
hub_err_t hub_credit_decode (const uint8_t *data, size_t len, uint32_t *credit);

//  --------------------------------------------------------------------------
//  JSON argument frames

typedef struct {
    char channels[HUB_SUB_CHANNELS_MAX][HUB_CHANNEL_MAX + 1];
    size_t channel_count;
    bool has_since;
    uint64_t since;
    uint32_t credit;
    bool pack; //  the subscriber takes MSGS packs
} hub_subscribe_args_t;

//  Decodes SUBSCRIBE args (PROTOCOL.md 7.1); defaults applied.
//  HUB_E_TOO_LARGE, HUB_E_BAD_UTF8, HUB_E_BAD_REQUEST, HUB_E_BAD_NAME.
hub_err_t hub_subscribe_args_decode (const uint8_t *data, size_t len,
                                     hub_subscribe_args_t *out);

//  Returns a new JSON string (caller frees with free()). since < 0 means absent; credit 0
//  means absent (the hub's default); pack asks for MSGS packs. NULL if a channel, the
//  count or credit is invalid.
char *hub_subscribe_args_encode (const char *const *channels, size_t count, int64_t since,
                                 uint32_t credit, bool pack);

typedef struct {
    char channel[HUB_CHANNEL_MAX + 1]; //  a channel name, or "*" for every readable one
    uint64_t since;
    uint32_t limit;
    bool pack; //  the reader takes MSGS packs
} hub_history_args_t;

//  Decodes HISTORY args (PROTOCOL.md 8); defaults applied.
hub_err_t hub_history_args_decode (const uint8_t *data, size_t len, hub_history_args_t *out);
//  Returns a new JSON string (caller frees with free()); limit 0 means absent (default 100);
//  pack asks for MSGS packs. NULL if the channel or limit is invalid.
char *hub_history_args_encode (const char *channel, uint64_t since, uint32_t limit, bool pack);

//  ERROR frame body. encode returns a new JSON string (caller frees with free()); decode
//  copies the reason (truncated to fit) into reason.
char *hub_error_encode (hub_err_t code, const char *reason);
hub_err_t hub_error_decode (const uint8_t *data, size_t len, hub_err_t *code, char *reason,
                            size_t reason_size);

//  Parses a JSON argument/result frame with the protocol's rules (size, UTF-8, object,
//  no duplicate keys). Returns a new jansson object (caller must json_decref), or NULL
//  with *err set. Declared with void* so this header does not need jansson.h.
void *hub_json_frame_parse (const uint8_t *data, size_t len, hub_err_t *err);

//  The same, with max bytes instead of HUB_JSON_MAX (HUB_REPLY_MAX for what a hub sends).
void *hub_json_frame_parse_max (const uint8_t *data, size_t len, size_t max, hub_err_t *err);

#endif
