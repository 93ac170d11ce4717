/*  hub_message.c - a received message: decoding MSG frames, checking them, showing them.

    A MSG (PROTOCOL.md 6.1) carries the author's header, body and signature exactly as
    signed, plus the hub's meta (seq, store time, prev hash, hash). The client does not
    trust the hub for integrity: it re-verifies the author's signature and recomputes

        hash(seq) = BLAKE2b-256 (prev_hash || u64(seq) || signed || signature)

    from the meta's prev_hash. `verified` means both held. Whether prev_hash itself is
    the previous entry's hash is a property of the sequence, checked by hub_verifier.
*/
#include "hub_client.h"
#include "hub_text.h"
#include "hubc_mem.h"
#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void *
hubc_mem_dup0 (const void *data, size_t size, const char *file, int line)
{
    char *copy = hub_util_checked (malloc (size + 1), file, line);
    if (size)
        memcpy (copy, data, size);
    copy[size] = 0;
    return copy;
}

int64_t
hub_time_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
hub_time_format (int64_t ms, char out[HUB_TIME_TEXT_MAX])
{
    int64_t secs = ms / 1000;
    int64_t frac = ms % 1000;
    if (frac < 0) { //  floor for times before the epoch
        frac += 1000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r (&t, &tm)) {
        snprintf (out, HUB_TIME_TEXT_MAX, "%s", "1970-01-01T00:00:00.000Z");
        return;
    }
    //  A partner may sign any ts >= 0: RFC 3339 stops at year 9999, and so do we.
    char base[24];
    if (tm.tm_year + 1900 > 9999 || strftime (base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf (base, sizeof base, "%s", "9999-12-31T23:59:59");
    snprintf (out, HUB_TIME_TEXT_MAX, "%s.%03dZ", base, (int)frac);
}

//  Checks the author's signature and the message's own chain hash.
static void
s_message_check (hub_message_t *self)
{
    if (self->header_ok)
        self->sig_ok = hub_msg_verify (self->header.author, self->header_bytes,
                                       self->header_len, self->body, self->body_len, self->sig);
    uint8_t hash[HUB_HASH_BYTES];
    hub_chain_hash (self->prev_hash, self->seq, self->header_bytes, self->header_len,
                    self->body, self->body_len, self->sig, hash);
    self->hash_ok = sodium_memcmp (hash, self->hash, HUB_HASH_BYTES) == 0;
    self->verified = self->sig_ok && self->hash_ok;
}

hub_message_t *
hub_message_decode (const uint8_t *meta, size_t meta_len, const uint8_t *header,
                    size_t header_len, const uint8_t *body, size_t body_len, const uint8_t *sig,
                    size_t sig_len, const uint8_t *name, size_t name_len, hub_err_t *err)
{
    hub_meta_t m;
    hub_err_t rc = hub_meta_decode (meta, meta_len, &m);
    if (rc == HUB_OK && sig_len != HUB_SIG_BYTES)
        rc = HUB_E_MALFORMED;
    if (rc == HUB_OK && !hub_utf8_valid (name, name_len))
        rc = HUB_E_BAD_UTF8;
    if (rc != HUB_OK) {
        if (err)
            *err = rc;
        return NULL;
    }
    hub_message_t *self = hubc_calloc (1, sizeof *self);
    self->seq = m.seq;
    self->hub_ts_ms = m.hub_ts_ms;
    memcpy (self->prev_hash, m.prev_hash, HUB_HASH_BYTES);
    memcpy (self->hash, m.hash, HUB_HASH_BYTES);
    self->header_bytes = hubc_memdup0 (header, header_len);
    self->header_len = header_len;
    self->body = hubc_memdup0 (body, body_len);
    self->body_len = body_len;
    memcpy (self->sig, sig, HUB_SIG_BYTES);
    self->author_name = hubc_memdup0 (name, name_len);
    if (hub_header_decode (header, header_len, &self->header) == HUB_OK)
        self->header_ok = true;
    else
        memset (&self->header, 0, sizeof self->header);
    s_message_check (self);
    if (err)
        *err = HUB_OK;
    return self;
}

void
hub_message_destroy (hub_message_t **self_p)
{
    assert (self_p);
    hub_message_t *self = *self_p;
    if (!self)
        return;
    hub_header_clear (&self->header);
    free (self->header_bytes);
    free (self->body);
    free (self->author_name);
    free (self);
    *self_p = NULL;
}

//  Returns the "id" of the header's action object as a new reference, or NULL.
static json_t *
s_action_id (const hub_message_t *msg)
{
    //  An action item's id is the seq of the message that created it.
    if (msg->header_ok && strcmp (msg->header.kind, "action") == 0)
        return json_integer ((json_int_t)msg->seq);
    if (!msg->header_ok || !msg->header.action_json)
        return NULL;
    json_t *action = json_loads (msg->header.action_json, 0, NULL);
    json_t *id = action ? json_object_get (action, "id") : NULL;
    if (id)
        json_incref (id);
    json_decref (action);
    return id;
}

//  A JSON string of text that should be UTF-8; invalid bytes would make jansson refuse
//  it, so they are replaced rather than losing the whole object.
static json_t *
s_json_text (const char *text, size_t len)
{
    json_t *s = json_stringn (text, len);
    if (s)
        return s;
    char *copy = hubc_memdup0 (text, len);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)copy[i] >= 0x80 || copy[i] == 0)
            copy[i] = '?';
    s = json_stringn (copy, len);
    free (copy);
    return s;
}

json_t *
hub_message_to_json (const hub_message_t *msg)
{
    assert (msg);
    char key[HUB_KEYTEXT_LEN + 1] = "";
    char ts[HUB_TIME_TEXT_MAX], author_ts[HUB_TIME_TEXT_MAX];
    char hash[HUB_HASH_BYTES * 2 + 1];
    if (msg->header_ok)
        hub_key_to_text (msg->header.author, key);
    hub_time_format ((int64_t)msg->hub_ts_ms, ts);
    hub_time_format (msg->header.ts_ms, author_ts);
    hub_hex_encode (msg->hash, HUB_HASH_BYTES, hash);

    json_t *obj = json_object ();
    json_object_set_new (obj, "seq", json_integer ((json_int_t)msg->seq));
    json_object_set_new (obj, "channel", json_string (msg->header.channel));
    json_object_set_new (obj, "kind", json_string (msg->header.kind));
    json_object_set_new (obj, "author",
                         s_json_text (msg->author_name, strlen (msg->author_name)));
    json_object_set_new (obj, "author_key", json_string (key));
    json_object_set_new (obj, "ts", json_string (ts));
    json_object_set_new (obj, "author_ts", json_string (author_ts));
    json_object_set_new (obj, "title",
                         s_json_text (msg->header.title, strlen (msg->header.title)));
    json_object_set_new (obj, "body", s_json_text ((const char *)msg->body, msg->body_len));
    json_object_set_new (obj, "verified", json_boolean (msg->verified));
    json_object_set_new (obj, "hash", json_string (hash));
    json_t *action_id = s_action_id (msg);
    if (action_id)
        json_object_set_new (obj, "action_id", action_id);
    //  The header's action object as sent (owner, due, slot...), for scripts.
    json_t *action = msg->header_ok && msg->header.action_json
                         ? json_loads (msg->header.action_json, 0, NULL)
                         : NULL;
    if (action)
        json_object_set_new (obj, "action", action);
    return obj;
}
