/*  hub_export.c - export files: a hub's history that verifies offline (PROTOCOL.md 12).

    An export file is UTF-8 text, one compact JSON object per line, each ending in "\n":

      line 1   {"format":"hubd-export-v1","hub_key":KEYTEXT,"exported_at":RFC3339,
                "channel":"*"|NAME,"complete":BOOL,"head":SEQ,"messages":N,
                "checkpoint":{...}|null}
      then     {"seq":N,"hub_ts_ms":MS,"prev_hash":HEX,"hash":HEX,"header":TEXT,
                "body":TEXT,"sig":HEX,"author":NAME}      one per message, increasing seq

    header and body are the exact bytes the author signed, as JSON strings: the protocol
    makes both UTF-8 text, and a JSON string carries text byte for byte. A header or body
    that is not text (only a damaged log holds one) is written as "header_hex" /
    "body_hex" instead, so the damage survives the export for verify to find.

    Nothing in a file is trusted. A reader rebuilds each message exactly as if the hub had
    sent it (hub_message_decode re-checks the author's signature and the chain hash) and
    hands it to a hub_verifier with the checkpoint, like an online verify.
*/
#include "hub_client.h"
#include "hub_text.h"
#include "hubc_mem.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Sets key to data as a JSON string if it is text, else key_hex to its hex.
static void
s_set_bytes (json_t *obj, const char *key, const uint8_t *data, size_t len)
{
    if (hub_utf8_valid (data, len)) {
        json_object_set_new (obj, key, json_stringn ((const char *)data, len));
        return;
    }
    char *hex = hubc_malloc (2 * len + 1);
    hub_hex_encode (data, len, hex);
    char name[32];
    snprintf (name, sizeof name, "%s_hex", key);
    json_object_set_new (obj, name, json_string (hex));
    free (hex);
}

static void
s_set_hex (json_t *obj, const char *key, const uint8_t *data, size_t len)
{
    char hex[2 * HUB_SIG_BYTES + 1];
    assert (len <= HUB_SIG_BYTES);
    hub_hex_encode (data, len, hex);
    json_object_set_new (obj, key, json_string (hex));
}

//  Dumps obj as one compact line (no "\n") and releases it. Caller frees the result.
static char *
s_line (json_t *obj)
{
    char *text = json_dumps (obj, JSON_COMPACT);
    json_decref (obj);
    return hubc_check (text);
}

char *
hub_export_head_encode (const hub_export_head_t *head)
{
    assert (head);
    char key[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (head->hub_pk, key);
    json_t *cp = json_null ();
    if (head->has_checkpoint) {
        char *text = hub_checkpoint_to_json (&head->checkpoint);
        cp = hubc_check (json_loads (text, 0, NULL));
        free (text);
    }
    return s_line (json_pack ("{s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:o}", "format",
                              HUB_EXPORT_FORMAT, "hub_key", key, "exported_at",
                              head->exported_at, "channel", head->channel, "complete",
                              head->complete, "head", (json_int_t)head->head, "messages",
                              (json_int_t)head->messages, "checkpoint", cp));
}

char *
hub_export_message_encode (const hub_message_t *msg)
{
    assert (msg);
    json_t *obj = json_object ();
    json_object_set_new (obj, "seq", json_integer ((json_int_t)msg->seq));
    json_object_set_new (obj, "hub_ts_ms", json_integer ((json_int_t)msg->hub_ts_ms));
    s_set_hex (obj, "prev_hash", msg->prev_hash, HUB_HASH_BYTES);
    s_set_hex (obj, "hash", msg->hash, HUB_HASH_BYTES);
    s_set_bytes (obj, "header", msg->header_bytes, msg->header_len);
    s_set_bytes (obj, "body", msg->body, msg->body_len);
    s_set_hex (obj, "sig", msg->sig, HUB_SIG_BYTES);
    s_set_bytes (obj, "author", (const uint8_t *)msg->author_name, strlen (msg->author_name));
    return s_line (obj);
}

//  --------------------------------------------------------------------------
//  Reading

//  Parses one line as a JSON object; NULL with why if it is not one.
static json_t *
s_parse (const char *line, size_t len, char *why, size_t why_size)
{
    json_error_t error;
    json_t *obj = json_loadb (line, len, JSON_REJECT_DUPLICATES, &error);
    if (!obj)
        hub_util_why (why, why_size, "not JSON: %s", error.text);
    else if (!json_is_object (obj)) {
        hub_util_why (why, why_size, "not a JSON object");
        json_decref (obj);
        obj = NULL;
    }
    return obj;
}

//  The bytes of field key (a JSON string) or key_hex (hex). Returns a new buffer (caller
//  frees) and its length, or NULL if neither is there in a usable form.
static uint8_t *
s_bytes (json_t *obj, const char *key, size_t *len)
{
    json_t *value = json_object_get (obj, key);
    if (json_is_string (value)) {
        *len = json_string_length (value);
        return hubc_memdup0 (json_string_value (value), *len);
    }
    char name[32];
    snprintf (name, sizeof name, "%s_hex", key);
    value = json_object_get (obj, name);
    if (!json_is_string (value) || json_string_length (value) % 2)
        return NULL;
    *len = json_string_length (value) / 2;
    uint8_t *data = hubc_malloc (*len + 1);
    if (!hub_hex_decode (json_string_value (value), data, *len)) {
        free (data);
        return NULL;
    }
    data[*len] = 0;
    return data;
}

hub_err_t
hub_export_head_decode (const char *line, size_t len, hub_export_head_t *out, char *why,
                        size_t why_size)
{
    assert (line);
    assert (out);
    memset (out, 0, sizeof *out);
    json_t *obj = s_parse (line, len, why, why_size);
    if (!obj)
        return HUB_E_VERSION; //  not an export file at all
    hub_err_t rc = HUB_OK;
    const char *format = json_string_value (json_object_get (obj, "format"));
    const char *key = json_string_value (json_object_get (obj, "hub_key"));
    const char *channel = json_string_value (json_object_get (obj, "channel"));
    const char *exported_at = json_string_value (json_object_get (obj, "exported_at"));
    json_t *cp = json_object_get (obj, "checkpoint");
    if (!format || strcmp (format, HUB_EXPORT_FORMAT) != 0) {
        hub_util_why (why, why_size, "format is not \"%s\"", HUB_EXPORT_FORMAT);
        rc = HUB_E_VERSION;
    } else if (!key || hub_key_from_text (key, out->hub_pk) != HUB_OK) {
        hub_util_why (why, why_size, "hub_key is not key text");
        rc = HUB_E_BAD_KEY;
    } else if (!channel || (strcmp (channel, "*") != 0 && !hub_channel_valid (channel))) {
        hub_util_why (why, why_size, "channel is not \"*\" or a channel name");
        rc = HUB_E_BAD_NAME;
    } else if (!hub_util_json_uint (obj, "head", &out->head) ||
               !hub_util_json_uint (obj, "messages", &out->messages)) {
        hub_util_why (why, why_size, "head or messages is not a number");
        rc = HUB_E_MALFORMED;
    } else if (!json_is_null (cp) && !json_is_object (cp)) {
        hub_util_why (why, why_size, "checkpoint is neither an object nor null");
        rc = HUB_E_MALFORMED;
    }
    if (rc == HUB_OK && json_is_object (cp)) {
        out->has_checkpoint = hub_checkpoint_from_object (cp, &out->checkpoint) == HUB_OK;
        if (!out->has_checkpoint) {
            hub_util_why (why, why_size, "checkpoint is malformed");
            rc = HUB_E_MALFORMED;
        }
    }
    json_t *complete = json_object_get (obj, "complete");
    if (rc == HUB_OK && complete && !json_is_boolean (complete)) {
        hub_util_why (why, why_size, "complete is not true or false");
        rc = HUB_E_MALFORMED;
    }
    if (rc == HUB_OK) {
        //  Files written before "complete" existed held "*" only for the whole log.
        out->complete = complete ? json_is_true (complete) : strcmp (channel, "*") == 0;
        snprintf (out->channel, sizeof out->channel, "%s", channel);
        snprintf (out->exported_at, sizeof out->exported_at, "%s",
                  exported_at ? exported_at : "");
    }
    json_decref (obj);
    return rc;
}

hub_message_t *
hub_export_message_decode (const char *line, size_t len, uint64_t *seq, char *why,
                           size_t why_size)
{
    assert (line);
    if (seq)
        *seq = 0;
    json_t *obj = s_parse (line, len, why, why_size);
    if (!obj)
        return NULL;
    hub_meta_t meta = {0};
    uint8_t sig[HUB_SIG_BYTES];
    size_t header_len = 0, body_len = 0, name_len = 0;
    uint8_t *header = s_bytes (obj, "header", &header_len);
    uint8_t *body = s_bytes (obj, "body", &body_len);
    uint8_t *name = s_bytes (obj, "author", &name_len);
    hub_message_t *msg = NULL;
    bool seq_ok = hub_util_json_uint (obj, "seq", &meta.seq) && meta.seq > 0;
    if (seq_ok && seq)
        *seq = meta.seq; //  names the line in a failure even if the rest is unusable
    if (!seq_ok)
        hub_util_why (why, why_size, "seq is not a positive number");
    else if (!hub_util_json_uint (obj, "hub_ts_ms", &meta.hub_ts_ms))
        hub_util_why (why, why_size, "hub_ts_ms is not a number");
    else if (!hub_util_json_hex (obj, "prev_hash", meta.prev_hash, HUB_HASH_BYTES) ||
             !hub_util_json_hex (obj, "hash", meta.hash, HUB_HASH_BYTES) ||
             !hub_util_json_hex (obj, "sig", sig, HUB_SIG_BYTES))
        hub_util_why (why, why_size, "prev_hash, hash or sig is not lowercase hex of its size");
    else if (!header || !body || !name)
        hub_util_why (why, why_size, "header, body or author is missing or not a string");
    else {
        uint8_t frame[HUB_META_BYTES];
        hub_meta_encode (&meta, frame);
        hub_err_t err = HUB_OK;
        msg = hub_message_decode (frame, sizeof frame, header, header_len, body, body_len, sig,
                                  sizeof sig, name, name_len, &err);
        if (!msg && meta.seq == 1)
            hub_util_why (why, why_size, "seq 1 does not start the chain (prev hash not zero)");
        else if (!msg)
            hub_util_why (why, why_size, "not a message (%s)", hub_err_name (err));
    }
    free (header);
    free (body);
    free (name);
    json_decref (obj);
    return msg;
}
