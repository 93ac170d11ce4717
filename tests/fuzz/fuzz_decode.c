/*  fuzz_decode.c - libFuzzer harness for every decoder of libhubproto.

    The first input byte picks a decoder, the rest is its input:

        0 all of 1..11 and 14 on the bytes   8 ERROR frame
        1 envelope                           9 checkpoint JSON
        2 message header (+ body check)     10 generic JSON frame
        3 ACK                               11 key text
        4 MSG meta                          12 secret key file (written to a 0600 file)
        5 CREDIT                            13 public key file (.pub, hub_key_resolve)
        6 SUBSCRIBE args                   14 MSGS, PUBLISHES and ACKS records
        7 HISTORY args                     15+ as 0

    Besides "no crash, no leak, no undefined behaviour", every successful decode is
    re-encoded and decoded again and must give the same value, so encoder and decoder
    cannot drift apart. Build and run with tests/fuzz/run.sh.
*/
#include "fuzz_common.h"
#include "hub_frame.h"
#include "hub_keys.h"
#include "hub_sig.h"
#include "hub_text.h"

#include <jansson.h>
#include <string.h>

static void
s_env (const uint8_t *data, size_t size)
{
    hub_env_t env;
    if (hub_env_decode (data, size, &env) != HUB_OK)
        return;
    uint8_t again[HUB_ENV_BYTES];
    hub_env_encode (env.cmd, env.req_id, again);
    CHECK (memcmp (again, data, HUB_ENV_BYTES) == 0);
    CHECK (hub_cmd_frames (env.cmd) >= 0);
}

static void
s_header (const uint8_t *data, size_t size)
{
    hub_header_t hdr;
    hub_err_t rc = hub_header_decode (data, size, &hdr);
    //  The rest of the input doubles as a body.
    hub_body_check (data, size, size / 2, HUB_MAX_MESSAGE_DEFAULT);
    if (rc != HUB_OK)
        return;
    CHECK (hub_channel_valid (hdr.channel));
    CHECK (hub_kind_valid (hdr.kind));
    CHECK (hdr.ts_ms >= 0);
    size_t len = 0;
    char *text = hub_header_encode (hdr.channel, hdr.kind, hdr.author, hdr.id, hdr.ts_ms,
                                    hdr.has_title ? hdr.title : NULL, hdr.action_json, &len);
    //  Re-encoding can only grow past the limit through the action object (jansson
    //  writes 1e2 as 100.0); everything else is at most as long as it was.
    CHECK (text != NULL || hdr.action_json != NULL);
    if (text != NULL) {
        hub_header_t back;
        CHECK (hub_header_decode ((const uint8_t *)text, len, &back) == HUB_OK);
        CHECK (strcmp (back.channel, hdr.channel) == 0);
        CHECK (strcmp (back.kind, hdr.kind) == 0);
        CHECK (memcmp (back.author, hdr.author, sizeof hdr.author) == 0);
        CHECK (memcmp (back.id, hdr.id, sizeof hdr.id) == 0);
        CHECK (back.ts_ms == hdr.ts_ms);
        CHECK (back.has_title == hdr.has_title);
        CHECK (strcmp (back.title, hdr.title) == 0);
        CHECK ((back.action_json == NULL) == (hdr.action_json == NULL));
        CHECK (back.action_json == NULL || strcmp (back.action_json, hdr.action_json) == 0);
        hub_header_clear (&back);
        free (text);
    }
    hub_header_clear (&hdr);
}

static void
s_ack (const uint8_t *data, size_t size)
{
    uint64_t seq;
    bool duplicate;
    if (hub_ack_decode (data, size, &seq, &duplicate) != HUB_OK)
        return;
    uint8_t again[HUB_ACK_BYTES];
    hub_ack_encode (seq, duplicate, again);
    CHECK (memcmp (again, data, HUB_ACK_BYTES) == 0);
}

static void
s_meta (const uint8_t *data, size_t size)
{
    hub_meta_t meta;
    if (hub_meta_decode (data, size, &meta) != HUB_OK)
        return;
    uint8_t again[HUB_META_BYTES];
    hub_meta_encode (&meta, again);
    CHECK (memcmp (again, data, HUB_META_BYTES) == 0);
}

static void
s_credit (const uint8_t *data, size_t size)
{
    uint32_t credit;
    if (hub_credit_decode (data, size, &credit) != HUB_OK)
        return;
    CHECK (credit >= 1 && credit <= HUB_CREDIT_MAX);
    uint8_t again[4];
    hub_credit_encode (credit, again);
    CHECK (memcmp (again, data, 4) == 0);
}

static void
s_subscribe (const uint8_t *data, size_t size)
{
    hub_subscribe_args_t args;
    if (hub_subscribe_args_decode (data, size, &args) != HUB_OK)
        return;
    CHECK (args.channel_count >= 1 && args.channel_count <= HUB_SUB_CHANNELS_MAX);
    const char *names[HUB_SUB_CHANNELS_MAX];
    for (size_t i = 0; i < args.channel_count; i++) {
        CHECK (hub_channel_valid (args.channels[i]));
        names[i] = args.channels[i];
    }
    char *text = hub_subscribe_args_encode (names, args.channel_count,
                                            args.has_since ? (int64_t)args.since : -1,
                                            args.credit, args.pack);
    CHECK (text != NULL);
    hub_subscribe_args_t back;
    CHECK (hub_subscribe_args_decode ((const uint8_t *)text, strlen (text), &back) == HUB_OK);
    CHECK (memcmp (&back, &args, sizeof args) == 0);
    free (text);
}

static void
s_history (const uint8_t *data, size_t size)
{
    hub_history_args_t args;
    if (hub_history_args_decode (data, size, &args) != HUB_OK)
        return;
    CHECK (args.limit >= 1 && args.limit <= HUB_HISTORY_LIMIT_MAX);
    char *text = hub_history_args_encode (args.channel, args.since, args.limit, args.pack);
    CHECK (text != NULL);
    hub_history_args_t back;
    CHECK (hub_history_args_decode ((const uint8_t *)text, strlen (text), &back) == HUB_OK);
    CHECK (memcmp (&back, &args, sizeof args) == 0);
    free (text);
}

static void
s_error (const uint8_t *data, size_t size)
{
    hub_err_t code;
    char reason[200];
    //  An odd size exercises the cut at a character boundary.
    size_t reason_size = 1 + size % sizeof reason;
    if (hub_error_decode (data, size, &code, reason, reason_size) != HUB_OK)
        return;
    CHECK (strlen (reason) < reason_size);
    CHECK (hub_utf8_valid (reason, strlen (reason)));
    char *text = hub_error_encode (code, reason);
    CHECK (text != NULL);
    hub_err_t back;
    char again[200];
    CHECK (hub_error_decode ((const uint8_t *)text, strlen (text), &back, again,
                             sizeof again) == HUB_OK);
    CHECK (back == code);
    CHECK (strcmp (again, reason) == 0);
    free (text);
}

static void
s_checkpoint (const uint8_t *data, size_t size)
{
    hub_checkpoint_t cp;
    if (hub_checkpoint_from_json ((const char *)data, size, &cp) != HUB_OK)
        return;
    hub_checkpoint_verify (&cp);
    char *text = hub_checkpoint_to_json (&cp);
    CHECK (text != NULL);
    hub_checkpoint_t back;
    CHECK (hub_checkpoint_from_json (text, strlen (text), &back) == HUB_OK);
    CHECK (memcmp (&back, &cp, sizeof cp) == 0);
    free (text);
}

static void
s_json_frame (const uint8_t *data, size_t size)
{
    hub_err_t err = HUB_OK;
    json_t *root = hub_json_frame_parse (data, size, &err);
    CHECK ((root == NULL) == (err != HUB_OK));
    CHECK (root == NULL || json_is_object (root));
    json_decref (root);
}

static void
s_key_text (const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup (data, size);
    uint8_t pk[HUB_PUBKEY_BYTES];
    if (hub_key_from_text (text, pk) == HUB_OK) {
        char again[HUB_KEYTEXT_LEN + 1];
        hub_key_to_text (pk, again);
        CHECK (strstr (text, again) != NULL); //  one text per key
        uint8_t curve[32];
        hub_key_curve_public (pk, curve);
    }
    free (text);
}

static void
s_key_file (const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file ("key", data, size);
    hub_identity_t id;
    char why[256];
    if (hub_identity_load (path, &id, why, sizeof why) == HUB_OK)
        CHECK (memcmp (id.sk + 32, id.pk, HUB_PUBKEY_BYTES) == 0);
}

//  A .pub file holds one key text and whitespace around it.
static void
s_pub_file (const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file ("key.pub", data, size);
    uint8_t pk[HUB_PUBKEY_BYTES];
    if (hub_key_resolve (path, pk) != HUB_OK)
        return;
    char text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (pk, text);
    size_t at = 0;
    while (at < size && data[at] && strchr (" \t\n\r\v\f", data[at]))
        at++;
    CHECK (size - at >= HUB_KEYTEXT_LEN && memcmp (data + at, text, HUB_KEYTEXT_LEN) == 0);
}

//  Reads one record at data[*offset..size) and moves *offset past it; on success writes
//  its re-encoding into a new buffer (*again, the caller frees) and says how many bytes
//  the re-encoding took (*written) and hub_*_size gave (*sized).
typedef bool (s_record_fn) (const uint8_t *data, size_t size, size_t *offset, uint8_t **again,
                            size_t *written, size_t *sized);

static bool
s_msgs_record (const uint8_t *data, size_t size, size_t *offset, uint8_t **again,
               size_t *written, size_t *sized)
{
    hub_record_t rec;
    if (hub_record_decode (data, size, offset, &rec) != HUB_OK)
        return false;
    *sized = hub_record_size (&rec);
    *again = malloc (*sized ? *sized : 1);
    CHECK (*again != NULL);
    *written = hub_record_encode (&rec, *again);
    return true;
}

static bool
s_publishes_record (const uint8_t *data, size_t size, size_t *offset, uint8_t **again,
                    size_t *written, size_t *sized)
{
    hub_pub_record_t rec;
    if (hub_pub_record_decode (data, size, offset, &rec) != HUB_OK)
        return false;
    *sized = hub_pub_record_size (&rec);
    *again = malloc (*sized ? *sized : 1);
    CHECK (*again != NULL);
    *written = hub_pub_record_encode (&rec, *again);
    return true;
}

//  A pack (MSGS, PUBLISHES): records are read until the bytes end or one is cut short
//  (which moves nothing); each one read has the size its decoder says and re-encodes to
//  exactly the bytes it came from.
static void
s_walk (const uint8_t *data, size_t size, s_record_fn *record)
{
    for (size_t offset = 0; offset < size;) {
        size_t start = offset, written = 0, sized = 0;
        uint8_t *again = NULL;
        if (!record (data, size, &offset, &again, &written, &sized)) {
            CHECK (offset == start);
            break;
        }
        CHECK (offset > start && offset <= size);
        CHECK (sized == offset - start && written == sized);
        CHECK (memcmp (again, data + start, written) == 0);
        free (again);
    }
}

//  The three packed forms: MSGS and PUBLISHES records, and an ACKS frame.
static void
s_packs (const uint8_t *data, size_t size)
{
    s_walk (data, size, s_msgs_record);
    s_walk (data, size, s_publishes_record);
    for (size_t offset = 0; offset < size;) {
        uint32_t req_id;
        uint64_t seq;
        bool duplicate;
        size_t start = offset;
        if (hub_acks_record_decode (data, size, &offset, &req_id, &seq, &duplicate) != HUB_OK)
            break;
        CHECK (offset == start + HUB_ACKS_RECORD_BYTES && seq >= 1);
        uint8_t again[HUB_ACKS_RECORD_BYTES];
        hub_acks_record_encode (req_id, seq, duplicate, again);
        CHECK (memcmp (again, data + start, HUB_ACKS_RECORD_BYTES) == 0);
    }
}

typedef void (s_decoder_fn) (const uint8_t *data, size_t size);

static s_decoder_fn *const s_decoders[] = {
    NULL,         s_env,       s_header,   s_ack,      s_meta,
    s_credit,     s_subscribe, s_history,  s_error,    s_checkpoint,
    s_json_frame, s_key_text,  s_key_file, s_pub_file, s_packs,
};
#define S_DECODERS   (sizeof s_decoders / sizeof s_decoders[0])
#define S_FIRST_FILE 12 //  the file decoders, slow for being files
#define S_LAST_FILE  13

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t pick = data[0];
    data++;
    size--;
    if (pick > 0 && pick < S_DECODERS)
        s_decoders[pick](data, size);
    else {
        //  Every decoder but the file ones, which are slow for being files.
        for (size_t i = 1; i < S_DECODERS; i++)
            if (i < S_FIRST_FILE || i > S_LAST_FILE)
                s_decoders[i](data, size);
        hub_utf8_valid (data, size);
    }
    return 0;
}
