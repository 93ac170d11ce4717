/*  test_sig.c - unit tests of proto/hub_sig.c: signed bytes, signatures, the hash chain
    and checkpoints. Exact byte values are pinned by test_vectors.c; these tests check the
    layout and every way a checkpoint can be refused.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hub_err.h"
#include "hub_keys.h"
#include "hub_sig.h"
#include "hub_text.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_signed_bytes_layout (void **state)
{
    (void)state;
    const uint8_t header[] = "{}";
    const uint8_t body[] = "hi!";
    assert_int_equal (hub_signed_len (2, 3), 12 + 4 + 2 + 4 + 3);
    uint8_t out[25];
    hub_signed_bytes (header, 2, body, 3, out);
    const uint8_t expect[] = {'h', 'u', 'b', 'd', '/', 'm', 's', 'g', '/', 'v', '1', 0,  0,
                              0,   0,   2,   '{', '}', 0,   0,   0,   3,   'h', 'i', '!'};
    assert_memory_equal (out, expect, sizeof expect);

    //  Empty header and body still carry both length prefixes.
    assert_int_equal (hub_signed_len (0, 0), 20);
    uint8_t empty[20];
    hub_signed_bytes (NULL, 0, NULL, 0, empty);
    assert_memory_equal (empty, expect, 12);
    const uint8_t zeros[8] = {0};
    assert_memory_equal (empty + 12, zeros, 8);
}

static void
test_sign_verify (void **state)
{
    (void)state;
    hub_identity_t id, other;
    hub_identity_generate (&id);
    hub_identity_generate (&other);
    const uint8_t header[] = "{\"v\":1}";
    const uint8_t body[] = "body text";
    uint8_t sig[64], again[64];
    hub_msg_sign (&id, header, 7, body, 9, sig);
    hub_msg_sign (&id, header, 7, body, 9, again);
    assert_memory_equal (sig, again, 64); //  Ed25519 is deterministic
    assert_true (hub_msg_verify (id.pk, header, 7, body, 9, sig));
    assert_false (hub_msg_verify (other.pk, header, 7, body, 9, sig));
    assert_false (hub_msg_verify (id.pk, header, 6, body, 9, sig));
    assert_false (hub_msg_verify (id.pk, header, 7, body, 8, sig));
    //  The same bytes split differently between header and body are another message.
    const uint8_t joined[] = "{\"v\":1}body text";
    assert_false (hub_msg_verify (id.pk, joined, 8, joined + 8, 8, sig));

    //  The signature is over the signed bytes, domain tag included.
    uint8_t signed_bytes[64];
    hub_signed_bytes (header, 7, body, 9, signed_bytes);
    assert_int_equal (
        crypto_sign_verify_detached (sig, signed_bytes, hub_signed_len (7, 9), id.pk), 0);

    hub_msg_sign (&id, NULL, 0, NULL, 0, sig);
    assert_true (hub_msg_verify (id.pk, NULL, 0, NULL, 0, sig));
    uint8_t zeros[32] = {0};
    assert_false (hub_msg_verify (zeros, NULL, 0, NULL, 0, sig));
}

static void
test_chain_hash (void **state)
{
    (void)state;
    const uint8_t header[] = "{\"v\":1}";
    const uint8_t body[] = "body";
    uint8_t sig[64], prev[32] = {0}, h1[32], h2[32], again[32];
    memset (sig, 0x5a, sizeof sig);
    hub_chain_hash (prev, 1, header, 7, body, 4, sig, h1);
    hub_chain_hash (prev, 1, header, 7, body, 4, sig, again);
    assert_memory_equal (h1, again, 32);

    //  The hash is BLAKE2b-256 over prev || u64(seq) || signed || signature.
    uint8_t buf[32 + 8 + 31 + 64];
    memcpy (buf, prev, 32);
    memset (buf + 32, 0, 8);
    buf[39] = 1;
    hub_signed_bytes (header, 7, body, 4, buf + 40);
    memcpy (buf + 40 + 31, sig, 64);
    crypto_generichash (again, 32, buf, sizeof buf, NULL, 0);
    assert_memory_equal (h1, again, 32);

    hub_chain_hash (h1, 2, header, 7, body, 4, sig, h2);
    assert_memory_not_equal (h1, h2, 32);
    sig[0] ^= 1;
    hub_chain_hash (prev, 1, header, 7, body, 4, sig, again);
    assert_memory_not_equal (h1, again, 32);
}

static void
make_checkpoint (hub_checkpoint_t *cp, hub_identity_t *hub)
{
    hub_identity_generate (hub);
    memset (cp, 0, sizeof *cp);
    cp->seq = 42;
    cp->ts_ms = 1700000000123;
    for (int i = 0; i < 32; i++)
        cp->hash[i] = (uint8_t)(i * 7);
    hub_checkpoint_sign (cp, hub);
}

static void
test_checkpoint_sign_verify (void **state)
{
    (void)state;
    hub_checkpoint_t cp;
    hub_identity_t hub, other;
    make_checkpoint (&cp, &hub);
    assert_memory_equal (cp.hub_key, hub.pk, 32);
    assert_true (hub_checkpoint_verify (&cp));

    hub_checkpoint_t bad = cp;
    bad.seq = 43;
    assert_false (hub_checkpoint_verify (&bad));
    bad = cp;
    bad.ts_ms = 0;
    assert_false (hub_checkpoint_verify (&bad));
    bad = cp;
    bad.hash[31] ^= 0x80;
    assert_false (hub_checkpoint_verify (&bad));
    bad = cp;
    hub_identity_generate (&other);
    memcpy (bad.hub_key, other.pk, 32);
    assert_false (hub_checkpoint_verify (&bad));

    //  A message signature never passes for a checkpoint: the domain tags differ.
    uint8_t bytes[19 + 8 + 32 + 8];
    memcpy (bytes, HUB_CHECKPOINT_TAG, 19);
    for (int k = 0; k < 8; k++) {
        bytes[19 + k] = (uint8_t)(cp.seq >> (56 - 8 * k));
        bytes[59 + k] = (uint8_t)(cp.ts_ms >> (56 - 8 * k));
    }
    memcpy (bytes + 27, cp.hash, 32);
    assert_int_equal (crypto_sign_verify_detached (cp.sig, bytes, sizeof bytes, hub.pk), 0);
}

static void
test_checkpoint_json_round_trip (void **state)
{
    (void)state;
    hub_checkpoint_t cp, back;
    hub_identity_t hub;
    make_checkpoint (&cp, &hub);
    char *json = hub_checkpoint_to_json (&cp);
    assert_non_null (json);
    assert_int_equal (strncmp (json, "{\"seq\":42,\"hash\":\"00070e15", 26), 0);
    assert_non_null (strstr (json, ",\"ts\":1700000000123,\"hub_key\":\""));
    assert_int_equal (hub_checkpoint_from_json (json, strlen (json), &back), HUB_OK);
    assert_memory_equal (&back, &cp, sizeof cp);
    assert_true (hub_checkpoint_verify (&back));
    free (json);

    //  Whitespace, other key order and unknown keys are fine; seq 0 and ts 0 are valid.
    cp.seq = 0;
    cp.ts_ms = 0;
    hub_checkpoint_sign (&cp, &hub);
    char hash[65], sig[129], key[44], text[512];
    hub_hex_encode (cp.hash, 32, hash);
    hub_hex_encode (cp.sig, 64, sig);
    hub_key_to_text (cp.hub_key, key);
    snprintf (text, sizeof text,
              "{ \"sig\" : \"%s\", \"hub_key\": \"%s\", \"ts\": 0, \"hash\": \"%s\",\n"
              "  \"seq\": 0, \"future\": [1, 2] }",
              sig, key, hash);
    assert_int_equal (hub_checkpoint_from_json (text, strlen (text), &back), HUB_OK);
    assert_memory_equal (&back, &cp, sizeof cp);
    //  The largest seq JSON integers carry.
    cp.seq = INT64_MAX;
    json = hub_checkpoint_to_json (&cp);
    assert_int_equal (hub_checkpoint_from_json (json, strlen (json), &back), HUB_OK);
    assert_true (back.seq == (uint64_t)INT64_MAX);
    free (json);
}

//  Replaces the first occurrence of from in json with to, then decodes.
static hub_err_t
decode_edited (const char *json, const char *from, const char *to)
{
    const char *at = strstr (json, from);
    assert_non_null (at);
    char text[1024];
    size_t head = (size_t)(at - json);
    snprintf (text, sizeof text, "%.*s%s%s", (int)head, json, to, at + strlen (from));
    hub_checkpoint_t out;
    return hub_checkpoint_from_json (text, strlen (text), &out);
}

static void
test_checkpoint_json_refused (void **state)
{
    (void)state;
    hub_checkpoint_t cp, out;
    hub_identity_t hub;
    make_checkpoint (&cp, &hub);
    char *json = hub_checkpoint_to_json (&cp);
    char hash[65];
    hub_hex_encode (cp.hash, 32, hash);

    //  Missing and mistyped fields.
    assert_int_equal (decode_edited (json, "\"seq\":42,", ""), HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"seq\":42", "\"seq\":\"42\""), HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"seq\":42", "\"seq\":-1"), HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"seq\":42", "\"seq\":42.0"), HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"seq\":42", "\"seq\":null"), HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"seq\":42", "\"seq\":9223372036854775808"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"ts\":", "\"tz\":"), HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"ts\":1700000000123", "\"ts\":true"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"hash\":", "\"hush\":"), HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"hash\":\"00", "\"hash\":\""), HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"hash\":\"00", "\"hash\":\"000"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"hash\":\"00", "\"hash\":\"0g"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "070e", "070E"), HUB_E_BAD_REQUEST); //  lowercase
    assert_int_equal (decode_edited (json, "\"sig\":\"", "\"sig\":\"00"), HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"sig\":", "\"sig\":1,\"x\":"), HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"hub_key\":\"", "\"hub_key\":\"A"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"hub_key\":\"", "\"hub_key\":\" "),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"hub_key\":", "\"hub_key\":[],\"k\":"),
                      HUB_E_BAD_REQUEST);

    //  Frame rules: duplicate keys, not an object, bad JSON, size, UTF-8.
    assert_int_equal (decode_edited (json, "\"seq\":42,", "\"seq\":42,\"seq\":42,"),
                      HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "}", "} x"), HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "{", "[{"), HUB_E_BAD_REQUEST);
    assert_int_equal (decode_edited (json, "\"seq\"", "\"s\xc3\x28q\""), HUB_E_BAD_UTF8);
    assert_int_equal (hub_checkpoint_from_json ("[]", 2, &out), HUB_E_BAD_REQUEST);
    assert_int_equal (hub_checkpoint_from_json ("42", 2, &out), HUB_E_BAD_REQUEST);
    assert_int_equal (hub_checkpoint_from_json ("", 0, &out), HUB_E_BAD_REQUEST);
    assert_int_equal (hub_checkpoint_from_json (json, strlen (json) - 1, &out),
                      HUB_E_BAD_REQUEST);
    char *big = malloc (65537 + 1);
    assert_non_null (big);
    memset (big, ' ', 65537);
    memcpy (big, json, strlen (json));
    assert_int_equal (hub_checkpoint_from_json (big, 65537, &out), HUB_E_TOO_LARGE);
    assert_int_equal (hub_checkpoint_from_json (big, 65536, &out), HUB_OK);
    free (big);
    free (json);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_signed_bytes_layout),
        cmocka_unit_test (test_sign_verify),
        cmocka_unit_test (test_chain_hash),
        cmocka_unit_test (test_checkpoint_sign_verify),
        cmocka_unit_test (test_checkpoint_json_round_trip),
        cmocka_unit_test (test_checkpoint_json_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
