/*  hub_frame.c - encoding and decoding of the frames of proto/PROTOCOL.md.

    Binary frames, all integers big-endian:

        envelope  8 bytes   "HB" 0x01 cmd u32(req_id)
        ack       9 bytes   u64(seq >= 1) u8(flags: bit 0 duplicate, others zero)
        meta     80 bytes   u64(seq >= 1) u64(hub_ts_ms) prev_hash[32] hash[32]
        credit    4 bytes   u32(1..HUB_CREDIT_MAX)
        record            meta u32(hlen) header u32(blen) body sig[64] u32(nlen) name
                          (a MSGS pack is records back to back)
        publish record    u32(req_id) u32(hlen) header u32(blen) body sig[64]
                          (a PUBLISHES pack)
        acks record       u32(req_id) ack (an ACKS frame is 1 or more of them)

    JSON frames (header, arguments, error) are refused in this order: over the size
    limit (TOO_LARGE), not UTF-8 or holding NUL (BAD_UTF8), not one JSON object or with
    a duplicate key (BAD_HEADER for a header, BAD_REQUEST otherwise), then field by field.
    Size and UTF-8 are checked before jansson sees a byte, so the parser only ever runs
    on bounded, valid text. JSON integers are 0..2^63-1 (jansson's json_int_t).
*/
#include "hub_frame.h"
#include "hub_text.h"
#include "hub_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAGIC0     0x48 //  'H'
#define S_MAGIC1     0x42 //  'B'
#define S_REASON_MAX 1024 //  longest reason an ERROR frame carries

//  jansson reports out-of-memory as NULL from its constructors and encoders; like every
//  allocation here, it aborts with the place it happened.

//  --------------------------------------------------------------------------
//  Envelope

void
hub_env_encode (uint8_t cmd, uint32_t req_id, uint8_t out[HUB_ENV_BYTES])
{
    out[0] = S_MAGIC0;
    out[1] = S_MAGIC1;
    out[2] = HUB_PROTO_VERSION;
    out[3] = cmd;
    hub_util_put_u32 (out + 4, req_id);
}

hub_err_t
hub_env_decode (const uint8_t *data, size_t len, hub_env_t *out)
{
    if (data == NULL || len != HUB_ENV_BYTES)
        return HUB_E_MALFORMED;
    //  Taken first, so that an error about the envelope answers the request it refuses.
    out->req_id = hub_util_get_u32 (data + 4);
    if (data[0] != S_MAGIC0 || data[1] != S_MAGIC1)
        return HUB_E_MALFORMED;
    if (data[2] != HUB_PROTO_VERSION)
        return HUB_E_VERSION;
    if (hub_cmd_frames (data[3]) < 0)
        return HUB_E_UNKNOWN_COMMAND;
    out->cmd = data[3];
    return HUB_OK;
}

int
hub_cmd_frames (uint8_t cmd)
{
    switch (cmd) {
    case HUB_CMD_PUBLISH:
    case HUB_CMD_ADMIN: return 3; //  header, body, signature
    case HUB_CMD_SUBSCRIBE:
    case HUB_CMD_CREDIT:
    case HUB_CMD_HISTORY:
    case HUB_CMD_QUERY:
    case HUB_CMD_ACK:
    case HUB_CMD_ERROR:
    case HUB_CMD_END:
    case HUB_CMD_REPLY:
    case HUB_CMD_MSGS:
    case HUB_CMD_PUBLISHES:
    case HUB_CMD_ACKS: return 1;
    case HUB_CMD_UNSUBSCRIBE:
    case HUB_CMD_STATUS:
    case HUB_CMD_PING:
    case HUB_CMD_PONG: return 0;
    case HUB_CMD_MSG: return 5; //  meta, header, body, signature, author name
    default: return -1;
    }
}

//  --------------------------------------------------------------------------
//  JSON helpers

void *
hub_json_frame_parse (const uint8_t *data, size_t len, hub_err_t *err)
{
    return hub_json_frame_parse_max (data, len, HUB_JSON_MAX, err);
}

void *
hub_json_frame_parse_max (const uint8_t *data, size_t len, size_t max, hub_err_t *err)
{
    hub_err_t dummy;
    if (err == NULL)
        err = &dummy;
    if (len > max) {
        *err = HUB_E_TOO_LARGE;
        return NULL;
    }
    if (data == NULL || len == 0) {
        *err = HUB_E_BAD_REQUEST;
        return NULL;
    }
    if (!hub_utf8_valid (data, len)) {
        *err = HUB_E_BAD_UTF8;
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb ((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object (root)) {
        json_decref (root);
        *err = HUB_E_BAD_REQUEST;
        return NULL;
    }
    *err = HUB_OK;
    return root;
}

//  An integer member in min..max. Returns 1 if valid, 0 if absent, -1 if invalid.
static int
s_get_int (json_t *obj, const char *key, int64_t min, int64_t max, int64_t *out)
{
    json_t *value = json_object_get (obj, key);
    if (value == NULL)
        return 0;
    if (!json_is_integer (value))
        return -1;
    json_int_t n = json_integer_value (value);
    if (n < min || n > max)
        return -1;
    *out = n;
    return 1;
}

//  Copies a string member of at most max bytes into out (room for max + 1).
//  Returns 1 if valid, 0 if absent, -1 if not a string or too long.
static int
s_get_str (json_t *obj, const char *key, size_t max, char *out)
{
    json_t *value = json_object_get (obj, key);
    if (value == NULL)
        return 0;
    if (!json_is_string (value) || json_string_length (value) > max)
        return -1;
    memcpy (out, json_string_value (value), json_string_length (value) + 1);
    return 1;
}

static char *
s_dump (json_t *root)
{
    char *text = HUB_CHECKED (json_dumps (root, JSON_COMPACT | JSON_PRESERVE_ORDER));
    json_decref (root);
    return text;
}

static void
s_set (json_t *obj, const char *key, json_t *value)
{
    HUB_CHECKED (value);
    if (json_object_set_new (obj, key, value) != 0)
        HUB_CHECKED (NULL);
}

//  --------------------------------------------------------------------------
//  Message header

static hub_err_t
s_header_fields (json_t *root, hub_header_t *out)
{
    int64_t n;
    int got = s_get_int (root, "v", INT64_MIN, INT64_MAX, &n);
    if (got == 0 || got < 0)
        return HUB_E_BAD_HEADER;
    if (n != 1)
        return HUB_E_VERSION;

    got = s_get_str (root, "channel", HUB_CHANNEL_MAX, out->channel);
    if (got <= 0) {
        json_t *value = json_object_get (root, "channel");
        return json_is_string (value) ? HUB_E_BAD_NAME : HUB_E_BAD_HEADER;
    }
    if (!hub_channel_valid (out->channel))
        return HUB_E_BAD_NAME;

    got = s_get_str (root, "kind", HUB_KIND_MAX, out->kind);
    if (got <= 0) {
        json_t *value = json_object_get (root, "kind");
        return json_is_string (value) ? HUB_E_BAD_NAME : HUB_E_BAD_HEADER;
    }
    if (!hub_kind_valid (out->kind))
        return HUB_E_BAD_NAME;

    json_t *author = json_object_get (root, "author");
    if (!json_is_string (author))
        return HUB_E_BAD_HEADER;
    if (json_string_length (author) != HUB_KEYTEXT_LEN ||
        hub_key_from_text (json_string_value (author), out->author) != HUB_OK)
        return HUB_E_BAD_KEY;

    json_t *id = json_object_get (root, "id");
    if (!json_is_string (id) ||
        !hub_hex_decode_lower (json_string_value (id), json_string_length (id), out->id,
                               HUB_MSG_ID_BYTES))
        return HUB_E_BAD_HEADER;

    if (s_get_int (root, "ts", 0, INT64_MAX, &n) <= 0)
        return HUB_E_BAD_HEADER;
    out->ts_ms = n;

    got = s_get_str (root, "title", HUB_TITLE_MAX, out->title);
    if (got < 0 || (got > 0 && !hub_utf8_valid (out->title, strlen (out->title))))
        return HUB_E_BAD_HEADER;
    out->has_title = got > 0;

    json_t *action = json_object_get (root, "action");
    if (action != NULL) {
        if (!json_is_object (action))
            return HUB_E_BAD_HEADER;
        out->action_json =
            HUB_CHECKED (json_dumps (action, JSON_COMPACT | JSON_PRESERVE_ORDER));
    }
    return HUB_OK;
}

hub_err_t
hub_header_decode (const uint8_t *data, size_t len, hub_header_t *out)
{
    memset (out, 0, sizeof *out);
    if (len > HUB_HEADER_MAX)
        return HUB_E_TOO_LARGE;
    if (!hub_utf8_valid (data, len))
        return HUB_E_BAD_UTF8;
    if (len == 0)
        return HUB_E_BAD_HEADER;
    json_error_t jerr;
    json_t *root = json_loadb ((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object (root)) {
        json_decref (root);
        return HUB_E_BAD_HEADER;
    }
    hub_err_t rc = s_header_fields (root, out);
    json_decref (root);
    if (rc != HUB_OK)
        hub_header_clear (out);
    return rc;
}

void
hub_header_clear (hub_header_t *hdr)
{
    if (hdr == NULL)
        return;
    free (hdr->action_json);
    memset (hdr, 0, sizeof *hdr);
}

char *
hub_header_encode (const char *channel, const char *kind,
                   const uint8_t author[HUB_PUBKEY_BYTES], const uint8_t id[HUB_MSG_ID_BYTES],
                   int64_t ts_ms, const char *title, const char *action_json, size_t *len_out)
{
    return hub_header_encode_err (channel, kind, author, id, ts_ms, title, action_json, len_out,
                                  NULL);
}

//  The code hub_header_encode_err refuses with, or HUB_OK; *action (caller owns) is the
//  parsed action_json.
static hub_err_t
s_header_args_check (const char *channel, const char *kind, int64_t ts_ms, const char *title,
                     const char *action_json, json_t **action)
{
    *action = NULL;
    if (!hub_channel_valid (channel) || !hub_kind_valid (kind))
        return HUB_E_BAD_NAME;
    if (ts_ms < 0 || (title != NULL && strlen (title) > HUB_TITLE_MAX))
        return HUB_E_BAD_HEADER;
    if (title != NULL && !hub_utf8_valid (title, strlen (title)))
        return HUB_E_BAD_UTF8;
    if (action_json != NULL) {
        hub_err_t rc;
        *action =
            hub_json_frame_parse ((const uint8_t *)action_json, strlen (action_json), &rc);
        if (*action == NULL)
            return HUB_E_BAD_HEADER;
    }
    return HUB_OK;
}

char *
hub_header_encode_err (const char *channel, const char *kind,
                       const uint8_t author[HUB_PUBKEY_BYTES],
                       const uint8_t id[HUB_MSG_ID_BYTES], int64_t ts_ms, const char *title,
                       const char *action_json, size_t *len_out, hub_err_t *err)
{
    hub_err_t dummy;
    if (err == NULL)
        err = &dummy;
    json_t *action = NULL;
    *err = s_header_args_check (channel, kind, ts_ms, title, action_json, &action);
    if (*err != HUB_OK)
        return NULL;
    char author_text[HUB_KEYTEXT_LEN + 1];
    char id_hex[2 * HUB_MSG_ID_BYTES + 1];
    hub_key_to_text (author, author_text);
    hub_hex_encode (id, HUB_MSG_ID_BYTES, id_hex);

    json_t *root = HUB_CHECKED (json_object ());
    s_set (root, "v", json_integer (HUB_PROTO_VERSION));
    s_set (root, "channel", json_string (channel));
    s_set (root, "kind", json_string (kind));
    s_set (root, "author", json_string (author_text));
    s_set (root, "id", json_string (id_hex));
    s_set (root, "ts", json_integer (ts_ms));
    if (title != NULL)
        s_set (root, "title", json_string (title));
    if (action != NULL)
        s_set (root, "action", action);
    char *text = s_dump (root);
    size_t len = strlen (text);
    if (len > HUB_HEADER_MAX) {
        free (text);
        *err = HUB_E_TOO_LARGE;
        return NULL;
    }
    if (len_out != NULL)
        *len_out = len;
    return text;
}

hub_err_t
hub_body_check (const uint8_t *body, size_t blen, size_t hlen, size_t max_bytes)
{
    if (blen > max_bytes || hlen > max_bytes - blen)
        return HUB_E_TOO_LARGE;
    if (!hub_utf8_valid (body, blen))
        return HUB_E_BAD_UTF8;
    return HUB_OK;
}

//  --------------------------------------------------------------------------
//  ACK, MSG meta, CREDIT

void
hub_ack_encode (uint64_t seq, bool duplicate, uint8_t out[HUB_ACK_BYTES])
{
    hub_util_put_u64 (out, seq);
    out[8] = duplicate ? 0x01 : 0x00;
}

hub_err_t
hub_ack_decode (const uint8_t *data, size_t len, uint64_t *seq, bool *duplicate)
{
    if (data == NULL || len != HUB_ACK_BYTES)
        return HUB_E_MALFORMED;
    uint64_t s = hub_util_get_u64 (data);
    if (s == 0 || (data[8] & ~0x01) != 0)
        return HUB_E_MALFORMED;
    *seq = s;
    *duplicate = (data[8] & 0x01) != 0;
    return HUB_OK;
}

void
hub_meta_encode (const hub_meta_t *meta, uint8_t out[HUB_META_BYTES])
{
    hub_util_put_u64 (out, meta->seq);
    hub_util_put_u64 (out + 8, meta->hub_ts_ms);
    memcpy (out + 16, meta->prev_hash, HUB_HASH_BYTES);
    memcpy (out + 16 + HUB_HASH_BYTES, meta->hash, HUB_HASH_BYTES);
}

hub_err_t
hub_meta_decode (const uint8_t *data, size_t len, hub_meta_t *out)
{
    static const uint8_t zeros[HUB_HASH_BYTES] = {0};
    if (data == NULL || len != HUB_META_BYTES)
        return HUB_E_MALFORMED;
    uint64_t seq = hub_util_get_u64 (data);
    //  seq 1 starts the chain: its prev hash is all zeros by definition.
    if (seq == 0 || (seq == 1 && memcmp (data + 16, zeros, HUB_HASH_BYTES) != 0))
        return HUB_E_MALFORMED;
    out->seq = seq;
    out->hub_ts_ms = hub_util_get_u64 (data + 8);
    memcpy (out->prev_hash, data + 16, HUB_HASH_BYTES);
    memcpy (out->hash, data + 16 + HUB_HASH_BYTES, HUB_HASH_BYTES);
    return HUB_OK;
}

size_t
hub_record_size (const hub_record_t *rec)
{
    return HUB_PACK_RECORD_FIXED + rec->hlen + rec->blen + rec->nlen;
}

static uint8_t *
s_put_field (uint8_t *out, const void *data, size_t len)
{
    hub_util_put_u32 (out, (uint32_t)len);
    if (len)
        memcpy (out + 4, data, len);
    return out + 4 + len;
}

size_t
hub_record_encode (const hub_record_t *rec, uint8_t *out)
{
    uint8_t *at = out;
    memcpy (at, rec->meta, HUB_META_BYTES);
    at = s_put_field (at + HUB_META_BYTES, rec->header, rec->hlen);
    at = s_put_field (at, rec->body, rec->blen);
    memcpy (at, rec->sig, HUB_SIG_BYTES);
    at = s_put_field (at + HUB_SIG_BYTES, rec->name, rec->nlen);
    return (size_t)(at - out);
}

//  Takes size bytes at data[*at..len): false if fewer are left.
static bool
s_take (const uint8_t *data, size_t len, size_t *at, size_t size, const uint8_t **out)
{
    if (len - *at < size)
        return false;
    *out = data + *at;
    *at += size;
    return true;
}

//  Takes a u32 length and that many bytes.
static bool
s_take_field (const uint8_t *data, size_t len, size_t *at, const uint8_t **out, size_t *size)
{
    const uint8_t *prefix;
    if (!s_take (data, len, at, 4, &prefix))
        return false;
    *size = hub_util_get_u32 (prefix);
    return s_take (data, len, at, *size, out);
}

hub_err_t
hub_record_decode (const uint8_t *data, size_t len, size_t *offset, hub_record_t *rec)
{
    size_t at = *offset;
    const uint8_t *name = NULL;
    if (data == NULL || at > len || !s_take (data, len, &at, HUB_META_BYTES, &rec->meta) ||
        !s_take_field (data, len, &at, &rec->header, &rec->hlen) ||
        !s_take_field (data, len, &at, &rec->body, &rec->blen) ||
        !s_take (data, len, &at, HUB_SIG_BYTES, &rec->sig) ||
        !s_take_field (data, len, &at, &name, &rec->nlen))
        return HUB_E_MALFORMED;
    rec->name = (const char *)name;
    *offset = at;
    return HUB_OK;
}

size_t
hub_pub_record_size (const hub_pub_record_t *rec)
{
    return HUB_PUB_RECORD_FIXED + rec->hlen + rec->blen;
}

size_t
hub_pub_record_encode (const hub_pub_record_t *rec, uint8_t *out)
{
    hub_util_put_u32 (out, rec->req_id);
    uint8_t *at = s_put_field (out + 4, rec->header, rec->hlen);
    at = s_put_field (at, rec->body, rec->blen);
    memcpy (at, rec->sig, HUB_SIG_BYTES);
    return (size_t)(at + HUB_SIG_BYTES - out);
}

hub_err_t
hub_pub_record_decode (const uint8_t *data, size_t len, size_t *offset, hub_pub_record_t *rec)
{
    size_t at = *offset;
    const uint8_t *req_id;
    if (data == NULL || at > len || !s_take (data, len, &at, 4, &req_id) ||
        !s_take_field (data, len, &at, &rec->header, &rec->hlen) ||
        !s_take_field (data, len, &at, &rec->body, &rec->blen) ||
        !s_take (data, len, &at, HUB_SIG_BYTES, &rec->sig))
        return HUB_E_MALFORMED;
    rec->req_id = hub_util_get_u32 (req_id);
    *offset = at;
    return HUB_OK;
}

void
hub_acks_record_encode (uint32_t req_id, uint64_t seq, bool duplicate,
                        uint8_t out[HUB_ACKS_RECORD_BYTES])
{
    hub_util_put_u32 (out, req_id);
    hub_ack_encode (seq, duplicate, out + 4);
}

hub_err_t
hub_acks_record_decode (const uint8_t *data, size_t len, size_t *offset, uint32_t *req_id,
                        uint64_t *seq, bool *duplicate)
{
    size_t at = *offset;
    const uint8_t *record;
    if (data == NULL || at > len || !s_take (data, len, &at, HUB_ACKS_RECORD_BYTES, &record) ||
        hub_ack_decode (record + 4, HUB_ACK_BYTES, seq, duplicate) != HUB_OK)
        return HUB_E_MALFORMED;
    *req_id = hub_util_get_u32 (record);
    *offset = at;
    return HUB_OK;
}

void
hub_credit_encode (uint32_t credit, uint8_t out[4])
{
    hub_util_put_u32 (out, credit);
}

hub_err_t
hub_credit_decode (const uint8_t *data, size_t len, uint32_t *credit)
{
    if (data == NULL || len != 4)
        return HUB_E_MALFORMED;
    uint32_t n = hub_util_get_u32 (data);
    if (n == 0 || n > HUB_CREDIT_MAX)
        return HUB_E_BAD_REQUEST;
    *credit = n;
    return HUB_OK;
}

//  --------------------------------------------------------------------------
//  SUBSCRIBE and HISTORY arguments

//  The optional "pack" flag of SUBSCRIBE and HISTORY: a boolean, false when absent.
static hub_err_t
s_get_pack (json_t *root, bool *pack)
{
    json_t *value = json_object_get (root, "pack");
    if (value && !json_is_boolean (value))
        return HUB_E_BAD_REQUEST;
    *pack = json_is_true (value);
    return HUB_OK;
}

static hub_err_t
s_subscribe_fields (json_t *root, hub_subscribe_args_t *out)
{
    json_t *channels = json_object_get (root, "channels");
    size_t count = json_array_size (channels);
    if (!json_is_array (channels) || count == 0 || count > HUB_SUB_CHANNELS_MAX)
        return HUB_E_BAD_REQUEST;
    for (size_t i = 0; i < count; i++) {
        json_t *name = json_array_get (channels, i);
        if (!json_is_string (name))
            return HUB_E_BAD_REQUEST;
        if (json_string_length (name) > HUB_CHANNEL_MAX ||
            !hub_channel_valid (json_string_value (name)))
            return HUB_E_BAD_NAME;
        for (size_t k = 0; k < i; k++)
            if (strcmp (out->channels[k], json_string_value (name)) == 0)
                return HUB_E_BAD_REQUEST; //  a channel listed twice
        memcpy (out->channels[i], json_string_value (name), json_string_length (name) + 1);
    }
    out->channel_count = count;

    int64_t n;
    int got = s_get_int (root, "since", 0, INT64_MAX, &n);
    if (got < 0)
        return HUB_E_BAD_REQUEST;
    out->has_since = got > 0;
    out->since = got > 0 ? (uint64_t)n : 0;

    got = s_get_int (root, "credit", 1, HUB_CREDIT_MAX, &n);
    if (got < 0)
        return HUB_E_BAD_REQUEST;
    out->credit = got > 0 ? (uint32_t)n : HUB_CREDIT_DEFAULT;
    return s_get_pack (root, &out->pack);
}

hub_err_t
hub_subscribe_args_decode (const uint8_t *data, size_t len, hub_subscribe_args_t *out)
{
    memset (out, 0, sizeof *out);
    hub_err_t rc;
    json_t *root = hub_json_frame_parse (data, len, &rc);
    if (root == NULL)
        return rc;
    rc = s_subscribe_fields (root, out);
    json_decref (root);
    if (rc != HUB_OK)
        memset (out, 0, sizeof *out);
    return rc;
}

char *
hub_subscribe_args_encode (const char *const *channels, size_t count, int64_t since,
                           uint32_t credit, bool pack)
{
    if (count == 0 || count > HUB_SUB_CHANNELS_MAX || credit > HUB_CREDIT_MAX)
        return NULL;
    json_t *list = HUB_CHECKED (json_array ());
    for (size_t i = 0; i < count; i++) {
        if (!hub_channel_valid (channels[i])) {
            json_decref (list);
            return NULL;
        }
        if (json_array_append_new (list, HUB_CHECKED (json_string (channels[i]))) != 0)
            HUB_CHECKED (NULL);
    }
    json_t *root = HUB_CHECKED (json_object ());
    s_set (root, "channels", list);
    if (since >= 0)
        s_set (root, "since", json_integer (since));
    if (credit > 0) //  0 leaves the hub's default
        s_set (root, "credit", json_integer (credit));
    if (pack)
        s_set (root, "pack", json_true ());
    return s_dump (root);
}

static bool
s_history_channel_valid (const char *name)
{
    return strcmp (name, "*") == 0 || hub_channel_valid (name);
}

static hub_err_t
s_history_fields (json_t *root, hub_history_args_t *out)
{
    json_t *channel = json_object_get (root, "channel");
    if (!json_is_string (channel))
        return HUB_E_BAD_REQUEST;
    if (json_string_length (channel) > HUB_CHANNEL_MAX ||
        !s_history_channel_valid (json_string_value (channel)))
        return HUB_E_BAD_NAME;
    memcpy (out->channel, json_string_value (channel), json_string_length (channel) + 1);

    int64_t n;
    int got = s_get_int (root, "since", 0, INT64_MAX, &n);
    if (got < 0)
        return HUB_E_BAD_REQUEST;
    out->since = got > 0 ? (uint64_t)n : 0;

    got = s_get_int (root, "limit", 1, HUB_HISTORY_LIMIT_MAX, &n);
    if (got < 0)
        return HUB_E_BAD_REQUEST;
    out->limit = got > 0 ? (uint32_t)n : HUB_HISTORY_LIMIT_DEFAULT;
    return s_get_pack (root, &out->pack);
}

hub_err_t
hub_history_args_decode (const uint8_t *data, size_t len, hub_history_args_t *out)
{
    memset (out, 0, sizeof *out);
    hub_err_t rc;
    json_t *root = hub_json_frame_parse (data, len, &rc);
    if (root == NULL)
        return rc;
    rc = s_history_fields (root, out);
    json_decref (root);
    if (rc != HUB_OK)
        memset (out, 0, sizeof *out);
    return rc;
}

char *
hub_history_args_encode (const char *channel, uint64_t since, uint32_t limit, bool pack)
{
    if (channel == NULL || !s_history_channel_valid (channel) || since > INT64_MAX ||
        limit > HUB_HISTORY_LIMIT_MAX)
        return NULL;
    json_t *root = HUB_CHECKED (json_object ());
    s_set (root, "channel", json_string (channel));
    s_set (root, "since", json_integer ((json_int_t)since));
    if (limit > 0) //  0 leaves the hub's default
        s_set (root, "limit", json_integer (limit));
    if (pack)
        s_set (root, "pack", json_true ());
    return s_dump (root);
}

//  --------------------------------------------------------------------------
//  ERROR

//  Length of the longest prefix of text[0..len) that ends on a UTF-8 character boundary.
static size_t
s_utf8_cut (const char *text, size_t len)
{
    size_t cut = len;
    //  Back off continuation bytes, then the lead byte of the character they belong to,
    //  unless the character was complete.
    while (cut > 0 && ((uint8_t)text[cut - 1] & 0xC0) == 0x80)
        cut--;
    if (cut > 0 && (uint8_t)text[cut - 1] >= 0xC0) {
        uint8_t lead = (uint8_t)text[cut - 1];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (len - (cut - 1) < need)
            return cut - 1;
        return len;
    }
    return len;
}

char *
hub_error_encode (hub_err_t code, const char *reason)
{
    if (reason == NULL)
        reason = "";
    size_t len = strlen (reason);
    if (len > S_REASON_MAX)
        len = s_utf8_cut (reason, S_REASON_MAX);
    //  The reason often quotes what a partner sent; never let it break the frame.
    if (!hub_utf8_valid (reason, len)) {
        reason = hub_strerror (code);
        len = strlen (reason);
    }
    json_t *root = HUB_CHECKED (json_object ());
    s_set (root, "code", json_integer (code));
    s_set (root, "error", json_string (hub_err_name (code)));
    s_set (root, "reason", json_stringn (reason, len));
    return s_dump (root);
}

hub_err_t
hub_error_decode (const uint8_t *data, size_t len, hub_err_t *code, char *reason,
                  size_t reason_size)
{
    hub_err_t rc;
    json_t *root = hub_json_frame_parse (data, len, &rc);
    if (root == NULL)
        return rc;
    int64_t n;
    //  Codes are only ever added: accept one this build does not know yet.
    json_t *text = json_object_get (root, "reason");
    json_t *name = json_object_get (root, "error");
    if (s_get_int (root, "code", 1, 0xFFFF, &n) <= 0 || !json_is_string (name) ||
        (text != NULL && !json_is_string (text))) {
        json_decref (root);
        return HUB_E_BAD_REQUEST;
    }
    *code = (hub_err_t)n;
    if (reason != NULL && reason_size > 0) {
        const char *value = text ? json_string_value (text) : "";
        size_t vlen = text ? json_string_length (text) : 0;
        if (vlen >= reason_size)
            vlen = s_utf8_cut (value, reason_size - 1);
        memcpy (reason, value, vlen);
        reason[vlen] = '\0';
    }
    json_decref (root);
    return HUB_OK;
}
