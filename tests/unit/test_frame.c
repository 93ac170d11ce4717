/*  test_frame.c - unit tests of proto/hub_frame.c (and hub_err.c's names): every frame's
    round trip and every rejection path of every decoder.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hub_err.h"
#include "hub_frame.h"
#include "hub_text.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define ID  "000102030405060708090a0b0c0d0e0f"
#define GOOD_HEADER                                                                            \
    "{\"v\":1,\"channel\":\"updates\",\"kind\":\"message\",\"author\":\"" KEY                  \
    "\",\"id\":\"" ID "\",\"ts\":1700000000000,\"title\":\"hello\"}"

//  Decodes s (a C string literal or buffer) as the named frame.
static hub_err_t
header_of (const char *s)
{
    hub_header_t hdr;
    hub_err_t rc = hub_header_decode ((const uint8_t *)s, strlen (s), &hdr);
    hub_header_clear (&hdr);
    return rc;
}

//  GOOD_HEADER with the first occurrence of from replaced by to, decoded.
static hub_err_t
header_edited (const char *from, const char *to)
{
    const char *good = GOOD_HEADER;
    const char *at = strstr (good, from);
    assert_non_null (at);
    char text[8192];
    snprintf (text, sizeof text, "%.*s%s%s", (int)(at - good), good, to, at + strlen (from));
    return header_of (text);
}

static hub_err_t
subscribe_of (const char *s)
{
    hub_subscribe_args_t args;
    return hub_subscribe_args_decode ((const uint8_t *)s, strlen (s), &args);
}

static hub_err_t
history_of (const char *s)
{
    hub_history_args_t args;
    return hub_history_args_decode ((const uint8_t *)s, strlen (s), &args);
}

static hub_err_t
error_of (const char *s)
{
    hub_err_t code;
    char reason[64];
    return hub_error_decode ((const uint8_t *)s, strlen (s), &code, reason, sizeof reason);
}

//  A JSON object padded with spaces to exactly len bytes (len > strlen(json)).
static char *
padded (const char *json, size_t len)
{
    char *text = malloc (len + 1);
    assert_non_null (text);
    memset (text, ' ', len);
    memcpy (text, json, strlen (json));
    text[len] = '\0';
    return text;
}

//  --------------------------------------------------------------------------
//  Envelope

static const uint8_t s_commands[] = {
    HUB_CMD_PUBLISH, HUB_CMD_SUBSCRIBE, HUB_CMD_CREDIT, HUB_CMD_HISTORY, HUB_CMD_UNSUBSCRIBE,
    HUB_CMD_STATUS,  HUB_CMD_ADMIN,     HUB_CMD_PING,   HUB_CMD_QUERY,   HUB_CMD_ACK,
    HUB_CMD_ERROR,   HUB_CMD_MSG,       HUB_CMD_END,    HUB_CMD_REPLY,   HUB_CMD_MSGS,
    HUB_CMD_PONG,    HUB_CMD_PUBLISHES, HUB_CMD_ACKS};
static const int s_frames[] = {3, 1, 1, 1, 0, 0, 3, 0, 1, 1, 1, 5, 1, 1, 1, 0, 1, 1};

static void
test_env_round_trip (void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_commands; i++) {
        uint8_t buf[HUB_ENV_BYTES];
        hub_env_encode (s_commands[i], 0xdeadbeef, buf);
        const uint8_t expect[] = {0x48, 0x42, 0x01, s_commands[i], 0xde, 0xad, 0xbe, 0xef};
        assert_memory_equal (buf, expect, sizeof expect);
        hub_env_t env;
        assert_int_equal (hub_env_decode (buf, sizeof buf, &env), HUB_OK);
        assert_int_equal (env.cmd, s_commands[i]);
        assert_int_equal (env.req_id, 0xdeadbeef);
        assert_int_equal (hub_cmd_frames (s_commands[i]), s_frames[i]);
    }
    uint8_t buf[HUB_ENV_BYTES];
    hub_env_t env;
    hub_env_encode (HUB_CMD_PING, 0, buf);
    assert_int_equal (hub_env_decode (buf, sizeof buf, &env), HUB_OK);
    assert_int_equal (env.req_id, 0);
}

static void
test_env_refused (void **state)
{
    (void)state;
    uint8_t buf[16];
    hub_env_t env;
    hub_env_encode (HUB_CMD_PUBLISH, 7, buf);
    assert_int_equal (hub_env_decode (buf, 0, &env), HUB_E_MALFORMED);
    assert_int_equal (hub_env_decode (buf, 7, &env), HUB_E_MALFORMED);
    assert_int_equal (hub_env_decode (buf, 9, &env), HUB_E_MALFORMED);
    assert_int_equal (hub_env_decode (NULL, 8, &env), HUB_E_MALFORMED);
    buf[0] = 'h';
    assert_int_equal (hub_env_decode (buf, 8, &env), HUB_E_MALFORMED);
    buf[0] = 'H';
    buf[1] = 'C';
    assert_int_equal (hub_env_decode (buf, 8, &env), HUB_E_MALFORMED);
    buf[1] = 'B';
    buf[2] = 0x00;
    assert_int_equal (hub_env_decode (buf, 8, &env), HUB_E_VERSION);
    buf[2] = 0x02;
    assert_int_equal (hub_env_decode (buf, 8, &env), HUB_E_VERSION);
    buf[2] = 0x01;
    //  Every command byte: exactly the 18 of the table are known.
    int known = 0;
    for (int cmd = 0; cmd < 256; cmd++) {
        buf[3] = (uint8_t)cmd;
        hub_err_t rc = hub_env_decode (buf, 8, &env);
        if (hub_cmd_frames ((uint8_t)cmd) >= 0) {
            assert_int_equal (rc, HUB_OK);
            known++;
        } else {
            assert_int_equal (rc, HUB_E_UNKNOWN_COMMAND);
            assert_int_equal (hub_cmd_frames ((uint8_t)cmd), -1);
        }
    }
    assert_int_equal (known, 18);
}

//  --------------------------------------------------------------------------
//  Header

static void
test_header_round_trip (void **state)
{
    (void)state;
    uint8_t author[32], id[16];
    for (int i = 0; i < 32; i++)
        author[i] = (uint8_t)(i * 3);
    for (int i = 0; i < 16; i++)
        id[i] = (uint8_t)(0xf0 + i);
    size_t len = 0;
    char *text = hub_header_encode ("ops.eu", "action", author, id, 1234, "T\xc3\xaftle",
                                    "{ \"due\" : 5, \"who\": [\"a\"] }", &len);
    assert_non_null (text);
    assert_int_equal (len, strlen (text));
    char author_text[HUB_KEYTEXT_LEN + 1], expect[512];
    hub_key_to_text (author, author_text);
    snprintf (expect, sizeof expect,
              "{\"v\":1,\"channel\":\"ops.eu\",\"kind\":\"action\",\"author\":\"%s\","
              "\"id\":\"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\",\"ts\":1234,"
              "\"title\":\"T\xc3\xaftle\",\"action\":{\"due\":5,\"who\":[\"a\"]}}",
              author_text);
    assert_string_equal (text, expect);

    hub_header_t hdr;
    assert_int_equal (hub_header_decode ((const uint8_t *)text, len, &hdr), HUB_OK);
    assert_string_equal (hdr.channel, "ops.eu");
    assert_string_equal (hdr.kind, "action");
    assert_memory_equal (hdr.author, author, 32);
    assert_memory_equal (hdr.id, id, 16);
    assert_int_equal (hdr.ts_ms, 1234);
    assert_true (hdr.has_title);
    assert_string_equal (hdr.title, "T\xc3\xaftle");
    assert_string_equal (hdr.action_json, "{\"due\":5,\"who\":[\"a\"]}");
    hub_header_clear (&hdr);
    assert_null (hdr.action_json);
    hub_header_clear (&hdr); //  twice is safe
    free (text);

    //  No title, no action: neither key appears.
    text = hub_header_encode ("a", "message", author, id, 0, NULL, NULL, &len);
    assert_non_null (text);
    assert_null (strstr (text, "title"));
    assert_null (strstr (text, "action"));
    assert_int_equal (hub_header_decode ((const uint8_t *)text, len, &hdr), HUB_OK);
    assert_false (hdr.has_title);
    assert_string_equal (hdr.title, "");
    assert_null (hdr.action_json);
    assert_int_equal (hdr.ts_ms, 0);
    hub_header_clear (&hdr);
    free (text);

    //  An empty title is present; an empty action object too.
    text = hub_header_encode ("a", "message", author, id, 0, "", "{}", NULL);
    assert_non_null (text);
    assert_int_equal (hub_header_decode ((const uint8_t *)text, strlen (text), &hdr), HUB_OK);
    assert_true (hdr.has_title);
    assert_string_equal (hdr.action_json, "{}");
    hub_header_clear (&hdr);
    free (text);
}

static void
test_header_decode_lenient_where_spec_is (void **state)
{
    (void)state;
    //  Key order, whitespace and unknown keys do not matter to a decoder.
    const char *text = "{ \"ts\": 5, \"id\": \"" ID "\", \"author\": \"" KEY "\",\n"
                       "  \"kind\": \"message\", \"channel\": \"updates\", \"v\": 1,"
                       "  \"future\": {\"x\": [1, 2, 3]} }";
    assert_int_equal (header_of (text), HUB_OK);
    assert_int_equal (header_of (GOOD_HEADER), HUB_OK);
    //  Escapes decode to valid text.
    assert_int_equal (header_edited ("\"hello\"", "\"caf\\u00e9 \\ud83d\\ude00\""), HUB_OK);
}

static void
test_header_size_and_text_refused (void **state)
{
    (void)state;
    char *text = padded (GOOD_HEADER, HUB_HEADER_MAX);
    assert_int_equal (header_of (text), HUB_OK);
    free (text);
    text = padded (GOOD_HEADER, HUB_HEADER_MAX + 1);
    assert_int_equal (header_of (text), HUB_E_TOO_LARGE);
    free (text);

    assert_int_equal (header_edited ("hello", "caf\xc3"), HUB_E_BAD_UTF8);
    assert_int_equal (header_edited ("hello", "\xc0\xaf"), HUB_E_BAD_UTF8);     //  overlong
    assert_int_equal (header_edited ("hello", "\xed\xa0\x80"), HUB_E_BAD_UTF8); //  surrogate
    assert_int_equal (header_edited ("hello", "\xf4\x90\x80\x80"), HUB_E_BAD_UTF8);
    hub_header_t hdr;
    const char nul[] = "{\"v\":1}\0";
    assert_int_equal (hub_header_decode ((const uint8_t *)nul, sizeof nul - 1, &hdr),
                      HUB_E_BAD_UTF8);
    //  Escaped NUL and lone surrogates are refused by the JSON parser.
    assert_int_equal (header_edited ("hello", "a\\u0000b"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("hello", "\\ud800"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("hello", "\\udc00x"), HUB_E_BAD_HEADER);
}

static void
test_header_json_refused (void **state)
{
    (void)state;
    hub_header_t hdr;
    assert_int_equal (hub_header_decode ((const uint8_t *)"", 0, &hdr), HUB_E_BAD_HEADER);
    assert_int_equal (hub_header_decode (NULL, 0, &hdr), HUB_E_BAD_HEADER);
    assert_int_equal (header_of ("[]"), HUB_E_BAD_HEADER);
    assert_int_equal (header_of ("\"v\""), HUB_E_BAD_HEADER);
    assert_int_equal (header_of ("1"), HUB_E_BAD_HEADER);
    assert_int_equal (header_of ("null"), HUB_E_BAD_HEADER);
    assert_int_equal (header_of ("{"), HUB_E_BAD_HEADER);
    assert_int_equal (header_of ("{}"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("}", "} {}"), HUB_E_BAD_HEADER); //  trailing data
    assert_int_equal (header_edited ("}", ",}"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("\"ts\"", "\"title\":\"x\",\"ts\""), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("\"v\":1,", "\"v\":1,\"v\":1,"), HUB_E_BAD_HEADER);
}

static void
test_header_fields_refused (void **state)
{
    (void)state;
    //  v
    assert_int_equal (header_edited ("\"v\":1,", ""), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("\"v\":1", "\"v\":\"1\""), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("\"v\":1", "\"v\":1.0"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("\"v\":1", "\"v\":true"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("\"v\":1", "\"v\":2"), HUB_E_VERSION);
    assert_int_equal (header_edited ("\"v\":1", "\"v\":0"), HUB_E_VERSION);
    assert_int_equal (header_edited ("\"v\":1", "\"v\":-1"), HUB_E_VERSION);
    //  The version is checked before anything else.
    assert_int_equal (header_of ("{\"v\":2,\"channel\":\"BAD\"}"), HUB_E_VERSION);
    //  channel
    assert_int_equal (header_edited ("\"channel\":\"updates\",", ""), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("\"updates\"", "7"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("\"updates\"", "null"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("\"updates\"", "[\"updates\"]"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("updates", "Updates"), HUB_E_BAD_NAME);
    assert_int_equal (header_edited ("updates", ""), HUB_E_BAD_NAME);
    assert_int_equal (header_edited ("updates", "-updates"), HUB_E_BAD_NAME);
    assert_int_equal (header_edited ("updates", "up dates"), HUB_E_BAD_NAME);
    assert_int_equal (header_edited ("updates", "*"), HUB_E_BAD_NAME);
    assert_int_equal (header_edited ("updates", "caf\\u00e9"), HUB_E_BAD_NAME);
    char name[80];
    memset (name, 'c', 65);
    name[65] = '\0';
    assert_int_equal (header_edited ("updates", name), HUB_E_BAD_NAME);
    name[64] = '\0';
    assert_int_equal (header_edited ("updates", name), HUB_OK);
    //  kind
    assert_int_equal (header_edited ("\"kind\":\"message\",", ""), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("\"message\"", "{}"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("message", "Message"), HUB_E_BAD_NAME);
    assert_int_equal (header_edited ("message", "message2"), HUB_E_BAD_NAME);
    assert_int_equal (header_edited ("message", ""), HUB_E_BAD_NAME);
    memset (name, 'k', 33);
    name[33] = '\0';
    assert_int_equal (header_edited ("message", name), HUB_E_BAD_NAME);
    name[32] = '\0';
    assert_int_equal (header_edited ("message", name), HUB_OK);
    //  author
    assert_int_equal (header_edited ("\"author\":\"" KEY "\",", ""), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("\"" KEY "\"", "42"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited (KEY, "not-a-key"), HUB_E_BAD_KEY);
    assert_int_equal (header_edited (KEY, " " KEY), HUB_E_BAD_KEY);
    assert_int_equal (header_edited (KEY, KEY "A"), HUB_E_BAD_KEY);
    assert_int_equal (header_edited ("AAAAAA", "AAAAA+"), HUB_E_BAD_KEY);
    assert_int_equal (header_edited (KEY, ""), HUB_E_BAD_KEY);
    //  id
    assert_int_equal (header_edited ("\"id\":\"" ID "\",", ""), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("\"" ID "\"", "5"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited (ID, "000102030405060708090a0b0c0d0e0"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited (ID, ID "0"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited (ID, ID "00"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("0a0b", "0A0B"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("0a0b", "0g0b"), HUB_E_BAD_HEADER);
    //  ts
    assert_int_equal (header_edited (",\"ts\":1700000000000", ""), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("1700000000000", "-1"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("1700000000000", "\"1\""), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("1700000000000", "1.5"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("1700000000000", "1e3"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("1700000000000", "9223372036854775808"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("1700000000000", "9223372036854775807"), HUB_OK);
    //  title
    assert_int_equal (header_edited (",\"title\":\"hello\"", ""), HUB_OK);
    assert_int_equal (header_edited ("\"hello\"", "5"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("\"hello\"", "null"), HUB_E_BAD_HEADER);
    char title[300];
    memset (title, 't', 257);
    title[257] = '\0';
    assert_int_equal (header_edited ("hello", title), HUB_E_BAD_HEADER);
    title[256] = '\0';
    assert_int_equal (header_edited ("hello", title), HUB_OK);
    //  256 bytes of two-byte characters is fine, 258 is not.
    for (int i = 0; i < 129; i++)
        memcpy (title + 2 * i, "\xc3\xa9", 2);
    title[258] = '\0';
    assert_int_equal (header_edited ("hello", title), HUB_E_BAD_HEADER);
    title[256] = '\0';
    assert_int_equal (header_edited ("hello", title), HUB_OK);
    //  action
    assert_int_equal (header_edited ("}", ",\"action\":[]}"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("}", ",\"action\":\"x\"}"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("}", ",\"action\":null}"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("}", ",\"action\":{\"a\":1,\"a\":2}}"), HUB_E_BAD_HEADER);
    assert_int_equal (header_edited ("}", ",\"action\":{\"a\":{\"b\":[]}}}"), HUB_OK);
}

static void
test_header_encode_refused (void **state)
{
    (void)state;
    uint8_t author[32] = {0}, id[16] = {0};
    size_t len = 99;
    assert_null (hub_header_encode ("Bad", "message", author, id, 0, NULL, NULL, &len));
    assert_int_equal (len, 99);
    assert_null (hub_header_encode (NULL, "message", author, id, 0, NULL, NULL, &len));
    assert_null (hub_header_encode ("ok", "Message", author, id, 0, NULL, NULL, &len));
    assert_null (hub_header_encode ("ok", NULL, author, id, 0, NULL, NULL, &len));
    assert_null (hub_header_encode ("ok", "message", author, id, -1, NULL, NULL, &len));
    assert_null (hub_header_encode ("ok", "message", author, id, 0, "\xff", NULL, &len));
    char title[300];
    memset (title, 'x', 257);
    title[257] = '\0';
    assert_null (hub_header_encode ("ok", "message", author, id, 0, title, NULL, &len));
    assert_null (hub_header_encode ("ok", "message", author, id, 0, NULL, "[]", &len));
    assert_null (hub_header_encode ("ok", "message", author, id, 0, NULL, "{", &len));
    assert_null (hub_header_encode ("ok", "message", author, id, 0, NULL, "", &len));
    assert_null (
        hub_header_encode ("ok", "message", author, id, 0, NULL, "{\"a\":1,\"a\":1}", &len));
    //  An action that makes the header exceed 4096 bytes.
    char *action = malloc (5000);
    assert_non_null (action);
    memset (action, 'y', 5000);
    memcpy (action, "{\"t\":\"", 6);
    memcpy (action + 4990, "\"}", 3);
    assert_null (hub_header_encode ("ok", "message", author, id, 0, NULL, action, &len));
    free (action);
}

//  --------------------------------------------------------------------------
//  Body

static void
test_body_check (void **state)
{
    (void)state;
    const uint8_t *text = (const uint8_t *)"h\xc3\xa9llo";
    assert_int_equal (hub_body_check (text, 6, 100, 65536), HUB_OK);
    assert_int_equal (hub_body_check (NULL, 0, 100, 65536), HUB_OK); //  empty body
    assert_int_equal (hub_body_check (text, 6, 10, 16), HUB_OK);     //  exactly at the limit
    assert_int_equal (hub_body_check (text, 6, 11, 16), HUB_E_TOO_LARGE);
    assert_int_equal (hub_body_check (text, 6, 0, 5), HUB_E_TOO_LARGE);
    assert_int_equal (hub_body_check (text, 6, SIZE_MAX, 65536), HUB_E_TOO_LARGE);
    assert_int_equal (hub_body_check (text, 6, SIZE_MAX - 2, SIZE_MAX), HUB_E_TOO_LARGE);
    assert_int_equal (hub_body_check ((const uint8_t *)"a\0b", 3, 0, 100), HUB_E_BAD_UTF8);
    assert_int_equal (hub_body_check ((const uint8_t *)"\xc0\x80", 2, 0, 100), HUB_E_BAD_UTF8);
    assert_int_equal (hub_body_check ((const uint8_t *)"\xed\xb0\x80", 3, 0, 100),
                      HUB_E_BAD_UTF8);
    //  Size is checked first.
    assert_int_equal (hub_body_check ((const uint8_t *)"\xff\xff", 2, 0, 1), HUB_E_TOO_LARGE);
}

//  --------------------------------------------------------------------------
//  ACK, meta, credit

static void
test_ack (void **state)
{
    (void)state;
    uint8_t buf[HUB_ACK_BYTES + 1];
    uint64_t seq;
    bool dup;
    hub_ack_encode (0x0102030405060708, true, buf);
    const uint8_t expect[] = {1, 2, 3, 4, 5, 6, 7, 8, 1};
    assert_memory_equal (buf, expect, 9);
    assert_int_equal (hub_ack_decode (buf, 9, &seq, &dup), HUB_OK);
    assert_int_equal (seq, 0x0102030405060708);
    assert_true (dup);
    hub_ack_encode (UINT64_MAX, false, buf);
    assert_int_equal (buf[8], 0);
    assert_int_equal (hub_ack_decode (buf, 9, &seq, &dup), HUB_OK);
    assert_true (seq == UINT64_MAX);
    assert_false (dup);

    assert_int_equal (hub_ack_decode (buf, 8, &seq, &dup), HUB_E_MALFORMED);
    assert_int_equal (hub_ack_decode (buf, 10, &seq, &dup), HUB_E_MALFORMED);
    assert_int_equal (hub_ack_decode (buf, 0, &seq, &dup), HUB_E_MALFORMED);
    assert_int_equal (hub_ack_decode (NULL, 9, &seq, &dup), HUB_E_MALFORMED);
    hub_ack_encode (5, false, buf);
    buf[8] = 0x02; //  reserved flag bits
    assert_int_equal (hub_ack_decode (buf, 9, &seq, &dup), HUB_E_MALFORMED);
    buf[8] = 0x81;
    assert_int_equal (hub_ack_decode (buf, 9, &seq, &dup), HUB_E_MALFORMED);
    hub_ack_encode (0, false, buf); //  seq 0 does not exist
    assert_int_equal (hub_ack_decode (buf, 9, &seq, &dup), HUB_E_MALFORMED);
}

static void
test_meta (void **state)
{
    (void)state;
    hub_meta_t meta = {.seq = 2, .hub_ts_ms = 1700000000000}, back;
    for (int i = 0; i < 32; i++) {
        meta.prev_hash[i] = (uint8_t)i;
        meta.hash[i] = (uint8_t)(0xff - i);
    }
    uint8_t buf[HUB_META_BYTES + 1];
    hub_meta_encode (&meta, buf);
    const uint8_t head[16] = {0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0};
    assert_memory_equal (buf, head, 16);
    assert_memory_equal (buf + 16, meta.prev_hash, 32);
    assert_memory_equal (buf + 48, meta.hash, 32);
    assert_int_equal (hub_meta_decode (buf, 80, &back), HUB_OK);
    assert_memory_equal (&back, &meta, sizeof meta);

    assert_int_equal (hub_meta_decode (buf, 79, &back), HUB_E_MALFORMED);
    assert_int_equal (hub_meta_decode (buf, 81, &back), HUB_E_MALFORMED);
    assert_int_equal (hub_meta_decode (NULL, 80, &back), HUB_E_MALFORMED);
    meta.seq = 0;
    hub_meta_encode (&meta, buf);
    assert_int_equal (hub_meta_decode (buf, 80, &back), HUB_E_MALFORMED);
    //  seq 1 must have the all-zero prev hash.
    meta.seq = 1;
    hub_meta_encode (&meta, buf);
    assert_int_equal (hub_meta_decode (buf, 80, &back), HUB_E_MALFORMED);
    memset (meta.prev_hash, 0, 32);
    hub_meta_encode (&meta, buf);
    assert_int_equal (hub_meta_decode (buf, 80, &back), HUB_OK);
    assert_int_equal (back.seq, 1);
}

//  A pack of two records: encoded byte for byte as PROTOCOL.md 6.4 lays it out, decoded
//  back, and refused when cut anywhere short of a record's end.
static void
test_pack_records (void **state)
{
    (void)state;
    uint8_t meta[HUB_META_BYTES], sig[HUB_SIG_BYTES];
    memset (meta, 0x11, sizeof meta);
    memset (sig, 0x22, sizeof sig);
    const hub_record_t recs[2] = {
        {meta, (const uint8_t *)"{\"h\":1}", 7, (const uint8_t *)"body", 4, sig, "acme", 4},
        {meta, (const uint8_t *)"{}", 2, (const uint8_t *)"", 0, sig, "", 0}};
    size_t size0 = hub_record_size (&recs[0]), size1 = hub_record_size (&recs[1]);
    assert_int_equal (size0, 80 + 4 + 7 + 4 + 4 + 64 + 4 + 4);
    assert_int_equal (size1, 80 + 4 + 2 + 4 + 0 + 64 + 4 + 0);
    uint8_t pack[512];
    assert_int_equal (hub_record_encode (&recs[0], pack), size0);
    assert_int_equal (hub_record_encode (&recs[1], pack + size0), size1);
    const uint8_t hlen[4] = {0, 0, 0, 7}, blen[4] = {0, 0, 0, 4}, nlen[4] = {0, 0, 0, 4};
    assert_memory_equal (pack + 80, hlen, 4);
    assert_memory_equal (pack + 84, "{\"h\":1}", 7);
    assert_memory_equal (pack + 91, blen, 4);
    assert_memory_equal (pack + 95, "body", 4);
    assert_memory_equal (pack + 99, sig, 64);
    assert_memory_equal (pack + 163, nlen, 4);
    assert_memory_equal (pack + 167, "acme", 4);

    size_t offset = 0;
    hub_record_t back;
    assert_int_equal (hub_record_decode (pack, size0 + size1, &offset, &back), HUB_OK);
    assert_int_equal (offset, size0);
    assert_ptr_equal (back.meta, pack);
    assert_int_equal (back.hlen, 7);
    assert_memory_equal (back.header, "{\"h\":1}", 7);
    assert_int_equal (back.blen, 4);
    assert_memory_equal (back.body, "body", 4);
    assert_memory_equal (back.sig, sig, 64);
    assert_int_equal (back.nlen, 4);
    assert_memory_equal (back.name, "acme", 4);
    assert_int_equal (hub_record_decode (pack, size0 + size1, &offset, &back), HUB_OK);
    assert_int_equal (offset, size0 + size1);
    assert_int_equal (back.hlen, 2);
    assert_int_equal (back.blen, 0);
    assert_int_equal (back.nlen, 0);

    //  Every cut inside a record is refused, and the offset stays where it was.
    for (size_t len = 0; len < size0; len++) {
        offset = 0;
        assert_int_equal (hub_record_decode (pack, len, &offset, &back), HUB_E_MALFORMED);
        assert_int_equal (offset, 0);
    }
    offset = size0 + size1 + 1;
    assert_int_equal (hub_record_decode (pack, size0 + size1, &offset, &back), HUB_E_MALFORMED);
    //  A length that points past the end (here 4 GiB - 1) is refused, not trusted.
    memset (pack + 80, 0xff, 4);
    offset = 0;
    assert_int_equal (hub_record_decode (pack, size0 + size1, &offset, &back), HUB_E_MALFORMED);
}

//  PUBLISHES records and ACKS records (PROTOCOL.md 4.4): layout, round trip, truncation.
static void
test_publish_pack_records (void **state)
{
    (void)state;
    uint8_t sig[HUB_SIG_BYTES];
    memset (sig, 0x33, sizeof sig);
    const hub_pub_record_t rec = {
        0x01020304, (const uint8_t *)"{}", 2, (const uint8_t *)"hi", 2, sig};
    size_t size = hub_pub_record_size (&rec);
    assert_int_equal (size, 4 + 4 + 2 + 4 + 2 + 64);
    uint8_t pack[2 * 80];
    assert_int_equal (hub_pub_record_encode (&rec, pack), size);
    assert_int_equal (hub_pub_record_encode (&rec, pack + size), size);
    const uint8_t head[] = {1, 2, 3, 4, 0, 0, 0, 2, '{', '}', 0, 0, 0, 2, 'h', 'i'};
    assert_memory_equal (pack, head, sizeof head);
    assert_memory_equal (pack + sizeof head, sig, 64);
    size_t offset = 0;
    hub_pub_record_t back;
    for (int i = 0; i < 2; i++) {
        assert_int_equal (hub_pub_record_decode (pack, 2 * size, &offset, &back), HUB_OK);
        assert_int_equal (back.req_id, 0x01020304);
        assert_int_equal (back.hlen, 2);
        assert_memory_equal (back.header, "{}", 2);
        assert_int_equal (back.blen, 2);
        assert_memory_equal (back.body, "hi", 2);
        assert_memory_equal (back.sig, sig, 64);
    }
    assert_int_equal (offset, 2 * size);
    for (size_t len = 0; len < size; len++) {
        offset = 0;
        assert_int_equal (hub_pub_record_decode (pack, len, &offset, &back), HUB_E_MALFORMED);
        assert_int_equal (offset, 0);
    }

    uint8_t acks[2 * HUB_ACKS_RECORD_BYTES];
    hub_acks_record_encode (7, 42, false, acks);
    hub_acks_record_encode (8, 41, true, acks + HUB_ACKS_RECORD_BYTES);
    const uint8_t first[] = {0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 42, 0};
    assert_memory_equal (acks, first, sizeof first);
    uint32_t req_id;
    uint64_t seq;
    bool duplicate;
    offset = 0;
    assert_int_equal (
        hub_acks_record_decode (acks, sizeof acks, &offset, &req_id, &seq, &duplicate), HUB_OK);
    assert_true (req_id == 7 && seq == 42 && !duplicate);
    assert_int_equal (
        hub_acks_record_decode (acks, sizeof acks, &offset, &req_id, &seq, &duplicate), HUB_OK);
    assert_true (req_id == 8 && seq == 41 && duplicate);
    assert_int_equal (offset, sizeof acks);
    offset = 0;
    assert_int_equal (hub_acks_record_decode (acks, HUB_ACKS_RECORD_BYTES - 1, &offset, &req_id,
                                              &seq, &duplicate),
                      HUB_E_MALFORMED);
    //  An ack inside with seq 0 is as malformed as an ACK frame with it.
    hub_acks_record_encode (9, 0, false, acks);
    offset = 0;
    assert_int_equal (
        hub_acks_record_decode (acks, sizeof acks, &offset, &req_id, &seq, &duplicate),
        HUB_E_MALFORMED);
    assert_int_equal (offset, 0);
}

static void
test_credit (void **state)
{
    (void)state;
    uint8_t buf[5];
    uint32_t credit;
    const uint32_t good[] = {1, 1000, HUB_CREDIT_MAX};
    for (size_t i = 0; i < 3; i++) {
        hub_credit_encode (good[i], buf);
        assert_int_equal (hub_credit_decode (buf, 4, &credit), HUB_OK);
        assert_int_equal (credit, good[i]);
    }
    hub_credit_encode (0x000186a0, buf);
    const uint8_t expect[] = {0x00, 0x01, 0x86, 0xa0};
    assert_memory_equal (buf, expect, 4);
    hub_credit_encode (0, buf);
    assert_int_equal (hub_credit_decode (buf, 4, &credit), HUB_E_BAD_REQUEST);
    hub_credit_encode (HUB_CREDIT_MAX + 1, buf);
    assert_int_equal (hub_credit_decode (buf, 4, &credit), HUB_E_BAD_REQUEST);
    hub_credit_encode (UINT32_MAX, buf);
    assert_int_equal (hub_credit_decode (buf, 4, &credit), HUB_E_BAD_REQUEST);
    hub_credit_encode (5, buf);
    assert_int_equal (hub_credit_decode (buf, 3, &credit), HUB_E_MALFORMED);
    assert_int_equal (hub_credit_decode (buf, 5, &credit), HUB_E_MALFORMED);
    assert_int_equal (hub_credit_decode (NULL, 4, &credit), HUB_E_MALFORMED);
}

//  --------------------------------------------------------------------------
//  SUBSCRIBE and HISTORY arguments

static void
test_subscribe_round_trip (void **state)
{
    (void)state;
    const char *channels[] = {"updates", "ops.eu", "x"};
    char *text = hub_subscribe_args_encode (channels, 3, 17, 250, true);
    assert_non_null (text);
    assert_string_equal (text, "{\"channels\":[\"updates\",\"ops.eu\",\"x\"],\"since\":17,"
                               "\"credit\":250,\"pack\":true}");
    hub_subscribe_args_t args;
    assert_int_equal (hub_subscribe_args_decode ((const uint8_t *)text, strlen (text), &args),
                      HUB_OK);
    assert_int_equal (args.channel_count, 3);
    assert_string_equal (args.channels[0], "updates");
    assert_string_equal (args.channels[1], "ops.eu");
    assert_string_equal (args.channels[2], "x");
    assert_true (args.has_since);
    assert_int_equal (args.since, 17);
    assert_int_equal (args.credit, 250);
    assert_true (args.pack);
    free (text);

    //  since absent, credit 0: both left to their defaults.
    text = hub_subscribe_args_encode (channels, 1, -1, 0, false);
    assert_string_equal (text, "{\"channels\":[\"updates\"]}");
    assert_int_equal (hub_subscribe_args_decode ((const uint8_t *)text, strlen (text), &args),
                      HUB_OK);
    assert_false (args.has_since);
    assert_int_equal (args.credit, HUB_CREDIT_DEFAULT);
    assert_false (args.pack);
    free (text);
    text = hub_subscribe_args_encode (channels, 1, 0, HUB_CREDIT_MAX, false);
    assert_int_equal (hub_subscribe_args_decode ((const uint8_t *)text, strlen (text), &args),
                      HUB_OK);
    assert_true (args.has_since);
    assert_int_equal (args.since, 0);
    assert_int_equal (args.credit, HUB_CREDIT_MAX);
    free (text);

    //  64 channels, the maximum.
    char names[HUB_SUB_CHANNELS_MAX + 1][8];
    const char *list[HUB_SUB_CHANNELS_MAX + 1];
    for (int i = 0; i <= HUB_SUB_CHANNELS_MAX; i++) {
        snprintf (names[i], sizeof names[i], "c%d", i);
        list[i] = names[i];
    }
    text = hub_subscribe_args_encode (list, HUB_SUB_CHANNELS_MAX, -1, 1, false);
    assert_non_null (text);
    assert_int_equal (hub_subscribe_args_decode ((const uint8_t *)text, strlen (text), &args),
                      HUB_OK);
    assert_int_equal (args.channel_count, HUB_SUB_CHANNELS_MAX);
    assert_string_equal (args.channels[63], "c63");
    free (text);
    assert_null (hub_subscribe_args_encode (list, HUB_SUB_CHANNELS_MAX + 1, -1, 1, false));
    assert_null (hub_subscribe_args_encode (list, 0, -1, 1, false));
    assert_null (hub_subscribe_args_encode (list, 1, -1, HUB_CREDIT_MAX + 1, false));
    const char *bad[] = {"ok", "Not-OK"};
    assert_null (hub_subscribe_args_encode (bad, 2, -1, 1, false));
}

static void
test_subscribe_refused (void **state)
{
    (void)state;
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"]}"), HUB_OK);
    assert_int_equal (subscribe_of ("{}"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":\"a\"}"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":{}}"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[]}"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[1]}"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\",null]}"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\",\"a\"]}"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"A\"]}"), HUB_E_BAD_NAME);
    assert_int_equal (subscribe_of ("{\"channels\":[\"\"]}"), HUB_E_BAD_NAME);
    assert_int_equal (subscribe_of ("{\"channels\":[\"*\"]}"), HUB_E_BAD_NAME);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\",\"b c\"]}"), HUB_E_BAD_NAME);
    assert_int_equal (subscribe_of ("{\"channels\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                    "aaaaaaaaaaaaaaaaaaaaaaaaa\"]}"),
                      HUB_E_BAD_NAME); //  65 bytes
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"],\"since\":-1}"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"],\"since\":\"1\"}"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"],\"since\":1.0}"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"],\"since\":null}"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"],\"credit\":0}"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"],\"pack\":1}"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"],\"pack\":null}"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"],\"pack\":false}"), HUB_OK);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"],\"credit\":100001}"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"],\"credit\":100000}"), HUB_OK);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"],\"credit\":-5}"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"],\"credit\":true}"),
                      HUB_E_BAD_REQUEST);
    //  Too many channels.
    char text[1024] = "{\"channels\":[";
    for (int i = 0; i <= HUB_SUB_CHANNELS_MAX; i++) {
        char item[16];
        snprintf (item, sizeof item, "%s\"c%d\"", i ? "," : "", i);
        strcat (text, item);
    }
    strcat (text, "]}");
    assert_int_equal (subscribe_of (text), HUB_E_BAD_REQUEST);
    //  Frame rules.
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"],\"channels\":[\"b\"]}"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("[\"a\"]"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"a\"]"), HUB_E_BAD_REQUEST);
    assert_int_equal (subscribe_of ("{\"channels\":[\"\xe2\x82\"]}"), HUB_E_BAD_UTF8);
    char *big = padded ("{\"channels\":[\"a\"]}", HUB_JSON_MAX + 1);
    assert_int_equal (subscribe_of (big), HUB_E_TOO_LARGE);
    big[HUB_JSON_MAX] = '\0';
    assert_int_equal (subscribe_of (big), HUB_OK);
    free (big);
}

static void
test_history_round_trip (void **state)
{
    (void)state;
    char *text = hub_history_args_encode ("updates", 99, 1000, false);
    assert_string_equal (text, "{\"channel\":\"updates\",\"since\":99,\"limit\":1000}");
    hub_history_args_t args;
    assert_int_equal (hub_history_args_decode ((const uint8_t *)text, strlen (text), &args),
                      HUB_OK);
    assert_string_equal (args.channel, "updates");
    assert_int_equal (args.since, 99);
    assert_int_equal (args.limit, 1000);
    free (text);

    text = hub_history_args_encode ("*", 0, 0, true);
    assert_string_equal (text, "{\"channel\":\"*\",\"since\":0,\"pack\":true}");
    assert_int_equal (hub_history_args_decode ((const uint8_t *)text, strlen (text), &args),
                      HUB_OK);
    assert_string_equal (args.channel, "*");
    assert_int_equal (args.limit, HUB_HISTORY_LIMIT_DEFAULT);
    assert_true (args.pack);
    free (text);
    assert_int_equal (history_of ("{\"channel\":\"a\"}"), HUB_OK);

    assert_null (hub_history_args_encode ("Bad", 0, 1, false));
    assert_null (hub_history_args_encode (NULL, 0, 1, false));
    assert_null (hub_history_args_encode ("**", 0, 1, false));
    assert_null (hub_history_args_encode ("a", 0, HUB_HISTORY_LIMIT_MAX + 1, false));
    assert_null (hub_history_args_encode ("a", UINT64_MAX, 1, false));
}

static void
test_history_refused (void **state)
{
    (void)state;
    assert_int_equal (history_of ("{}"), HUB_E_BAD_REQUEST);
    assert_int_equal (history_of ("{\"channel\":5}"), HUB_E_BAD_REQUEST);
    assert_int_equal (history_of ("{\"channel\":[\"a\"]}"), HUB_E_BAD_REQUEST);
    assert_int_equal (history_of ("{\"channel\":\"A\"}"), HUB_E_BAD_NAME);
    assert_int_equal (history_of ("{\"channel\":\"\"}"), HUB_E_BAD_NAME);
    assert_int_equal (history_of ("{\"channel\":\"**\"}"), HUB_E_BAD_NAME);
    assert_int_equal (history_of ("{\"channel\":\"a*\"}"), HUB_E_BAD_NAME);
    assert_int_equal (history_of ("{\"channel\":\"a\",\"limit\":0}"), HUB_E_BAD_REQUEST);
    assert_int_equal (history_of ("{\"channel\":\"a\",\"limit\":1001}"), HUB_E_BAD_REQUEST);
    assert_int_equal (history_of ("{\"channel\":\"a\",\"limit\":1000}"), HUB_OK);
    assert_int_equal (history_of ("{\"channel\":\"a\",\"pack\":\"yes\"}"), HUB_E_BAD_REQUEST);
    assert_int_equal (history_of ("{\"channel\":\"a\",\"limit\":\"10\"}"), HUB_E_BAD_REQUEST);
    assert_int_equal (history_of ("{\"channel\":\"a\",\"since\":-1}"), HUB_E_BAD_REQUEST);
    assert_int_equal (history_of ("{\"channel\":\"a\",\"since\":0.5}"), HUB_E_BAD_REQUEST);
    assert_int_equal (history_of ("{\"channel\":\"a\",\"since\":99999999999999999999}"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (history_of ("{\"channel\":\"a\",\"channel\":\"b\"}"), HUB_E_BAD_REQUEST);
    assert_int_equal (history_of ("\"a\""), HUB_E_BAD_REQUEST);
    assert_int_equal (history_of ("{\"channel\":\"\xc1\x81\"}"), HUB_E_BAD_UTF8);
    char *big = padded ("{\"channel\":\"a\"}", HUB_JSON_MAX + 1);
    assert_int_equal (history_of (big), HUB_E_TOO_LARGE);
    free (big);
}

//  --------------------------------------------------------------------------
//  ERROR, names, generic JSON frames

static void
test_error_round_trip (void **state)
{
    (void)state;
    for (int code = 1; code < HUB_E__COUNT; code++) {
        char *text = hub_error_encode ((hub_err_t)code, "because \xe2\x9c\x93");
        assert_non_null (text);
        hub_err_t back;
        char reason[64];
        assert_int_equal (
            hub_error_decode ((const uint8_t *)text, strlen (text), &back, reason, 64), HUB_OK);
        assert_int_equal (back, code);
        assert_string_equal (reason, "because \xe2\x9c\x93");
        assert_non_null (strstr (text, hub_err_name ((hub_err_t)code)));
        free (text);
    }
    char *text = hub_error_encode (HUB_E_BAD_SIGNATURE, "bad");
    assert_string_equal (text, "{\"code\":8,\"error\":\"BAD_SIGNATURE\",\"reason\":\"bad\"}");
    free (text);
    text = hub_error_encode (HUB_E_FORBIDDEN, NULL);
    assert_string_equal (text, "{\"code\":11,\"error\":\"FORBIDDEN\",\"reason\":\"\"}");
    free (text);
    //  A reason that is not text is replaced, never sent broken.
    text = hub_error_encode (HUB_E_BAD_UTF8, "got \xff");
    assert_non_null (strstr (text, hub_strerror (HUB_E_BAD_UTF8)));
    free (text);
    //  A long reason is cut at a character boundary.
    char *longer = malloc (3001);
    assert_non_null (longer);
    for (int i = 0; i < 1000; i++)
        memcpy (longer + 3 * i, "\xe2\x82\xac", 3);
    longer[3000] = '\0';
    text = hub_error_encode (HUB_E_INTERNAL, longer);
    hub_err_t back;
    char reason[2048];
    assert_int_equal (
        hub_error_decode ((const uint8_t *)text, strlen (text), &back, reason, sizeof reason),
        HUB_OK);
    assert_true (strlen (reason) <= 1024);
    assert_true (strlen (reason) >= 1020);
    assert_true (hub_utf8_valid (reason, strlen (reason)));
    //  Decoding into a small buffer cuts at a character boundary too.
    assert_int_equal (hub_error_decode ((const uint8_t *)text, strlen (text), &back, reason, 8),
                      HUB_OK);
    assert_int_equal (strlen (reason), 6);
    assert_int_equal (hub_error_decode ((const uint8_t *)text, strlen (text), &back, NULL, 0),
                      HUB_OK);
    free (text);
    free (longer);
}

static void
test_error_refused (void **state)
{
    (void)state;
    assert_int_equal (error_of ("{\"code\":1,\"error\":\"MALFORMED\",\"reason\":\"x\"}"),
                      HUB_OK);
    assert_int_equal (error_of ("{\"code\":1,\"error\":\"MALFORMED\"}"), HUB_OK);
    //  A code added after this build still decodes.
    assert_int_equal (error_of ("{\"code\":99,\"error\":\"NEW_THING\",\"reason\":\"\"}"),
                      HUB_OK);
    assert_int_equal (error_of ("{\"error\":\"MALFORMED\",\"reason\":\"x\"}"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (error_of ("{\"code\":0,\"error\":\"OK\",\"reason\":\"x\"}"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (error_of ("{\"code\":-3,\"error\":\"X\",\"reason\":\"x\"}"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (error_of ("{\"code\":\"1\",\"error\":\"X\",\"reason\":\"x\"}"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (error_of ("{\"code\":1,\"reason\":\"x\"}"), HUB_E_BAD_REQUEST);
    assert_int_equal (error_of ("{\"code\":1,\"error\":1,\"reason\":\"x\"}"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (error_of ("{\"code\":1,\"error\":\"X\",\"reason\":7}"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (error_of ("{\"code\":1,\"code\":2,\"error\":\"X\"}"), HUB_E_BAD_REQUEST);
    assert_int_equal (error_of ("[1]"), HUB_E_BAD_REQUEST);
    assert_int_equal (error_of ("{\"code\":1,\"error\":\"\xf8\"}"), HUB_E_BAD_UTF8);
}

static void
test_err_names (void **state)
{
    (void)state;
    assert_string_equal (hub_err_name (HUB_E_BAD_SIGNATURE), "BAD_SIGNATURE");
    assert_string_equal (hub_strerror (HUB_E_BAD_SIGNATURE), "signature does not verify");
    assert_string_equal (hub_err_name (HUB_E_TIMEOUT), "TIMEOUT");
    assert_string_equal (hub_err_name (HUB_OK), "OK");
    for (int code = 0; code < HUB_E__COUNT; code++) {
        assert_non_null (hub_err_name ((hub_err_t)code));
        assert_string_not_equal (hub_strerror ((hub_err_t)code), "unknown error");
    }
    assert_string_equal (hub_strerror (HUB_E__COUNT), "unknown error");
    assert_string_equal (hub_strerror ((hub_err_t)-1), "unknown error");
    assert_string_equal (hub_err_name ((hub_err_t)1000), "UNKNOWN");
}

static void
test_json_frame_parse (void **state)
{
    (void)state;
    hub_err_t err = HUB_E_INTERNAL;
    json_t *root = hub_json_frame_parse ((const uint8_t *)"{\"q\":\"channels\"}", 16, &err);
    assert_non_null (root);
    assert_int_equal (err, HUB_OK);
    assert_string_equal (json_string_value (json_object_get (root, "q")), "channels");
    json_decref (root);
    assert_null (hub_json_frame_parse ((const uint8_t *)"{\"q\":1,\"q\":2}", 13, &err));
    assert_int_equal (err, HUB_E_BAD_REQUEST);
    assert_null (hub_json_frame_parse ((const uint8_t *)"[]", 2, &err));
    assert_int_equal (err, HUB_E_BAD_REQUEST);
    assert_null (hub_json_frame_parse ((const uint8_t *)"{} {}", 5, &err));
    assert_int_equal (err, HUB_E_BAD_REQUEST);
    assert_null (hub_json_frame_parse ((const uint8_t *)"", 0, &err));
    assert_int_equal (err, HUB_E_BAD_REQUEST);
    assert_null (hub_json_frame_parse ((const uint8_t *)"{\"\0\":1}", 7, &err));
    assert_int_equal (err, HUB_E_BAD_UTF8);
    assert_null (hub_json_frame_parse ((const uint8_t *)"{}", HUB_JSON_MAX + 1, NULL));
    //  Nesting deeper than the parser allows is refused, not a stack overflow.
    char *deep = malloc (20002);
    assert_non_null (deep);
    deep[0] = '{';
    memcpy (deep + 1, "\"a\":", 4);
    memset (deep + 5, '[', 9000);
    memset (deep + 9005, ']', 9000);
    deep[18005] = '}';
    assert_null (hub_json_frame_parse ((const uint8_t *)deep, 18006, &err));
    assert_int_equal (err, HUB_E_BAD_REQUEST);
    free (deep);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_env_round_trip),
        cmocka_unit_test (test_env_refused),
        cmocka_unit_test (test_header_round_trip),
        cmocka_unit_test (test_header_decode_lenient_where_spec_is),
        cmocka_unit_test (test_header_size_and_text_refused),
        cmocka_unit_test (test_header_json_refused),
        cmocka_unit_test (test_header_fields_refused),
        cmocka_unit_test (test_header_encode_refused),
        cmocka_unit_test (test_body_check),
        cmocka_unit_test (test_ack),
        cmocka_unit_test (test_meta),
        cmocka_unit_test (test_pack_records),
        cmocka_unit_test (test_publish_pack_records),
        cmocka_unit_test (test_credit),
        cmocka_unit_test (test_subscribe_round_trip),
        cmocka_unit_test (test_subscribe_refused),
        cmocka_unit_test (test_history_round_trip),
        cmocka_unit_test (test_history_refused),
        cmocka_unit_test (test_error_round_trip),
        cmocka_unit_test (test_error_refused),
        cmocka_unit_test (test_err_names),
        cmocka_unit_test (test_json_frame_parse),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
