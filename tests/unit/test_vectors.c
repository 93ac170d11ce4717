/*  test_vectors.c - the library reproduces every field of proto/vectors/.

    The vectors pin the wire format (signed bytes, chain hash, checkpoint, key text,
    header encoding). A failure here means the format changed: fix the code, not the data.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hub_frame.h"
#include "hub_keys.h"
#include "hub_sig.h"
#include "hub_text.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef HUB_VECTORS_DIR
#error "HUB_VECTORS_DIR must name proto/vectors"
#endif

#define MSG_VECTORS 5

static json_t *
load_vector (const char *name)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/%s", HUB_VECTORS_DIR, name);
    json_error_t err;
    json_t *root = json_load_file (path, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL)
        fail_msg ("cannot load %s: %s (line %d)", path, err.text, err.line);
    return root;
}

static const char *
str_field (json_t *root, const char *key)
{
    json_t *value = json_object_get (root, key);
    if (!json_is_string (value))
        fail_msg ("vector field %s missing or not a string", key);
    return json_string_value (value);
}

static size_t
str_len (json_t *root, const char *key)
{
    str_field (root, key);
    return json_string_length (json_object_get (root, key));
}

//  Decodes a hex field into a new buffer of *len bytes.
static uint8_t *
hex_field (json_t *root, const char *key, size_t *len)
{
    const char *text = str_field (root, key);
    size_t n = strlen (text) / 2;
    uint8_t *out = malloc (n + 1);
    assert_non_null (out);
    assert_true (hub_hex_decode (text, out, n));
    if (len)
        *len = n;
    return out;
}

static void
hex_fixed (json_t *root, const char *key, uint8_t *out, size_t len)
{
    size_t n;
    uint8_t *data = hex_field (root, key, &n);
    assert_int_equal (n, len);
    memcpy (out, data, len);
    free (data);
}

static void
assert_hex_equal (const uint8_t *data, size_t len, const char *expected)
{
    char *text = malloc (2 * len + 1);
    assert_non_null (text);
    hub_hex_encode (data, len, text);
    assert_string_equal (text, expected);
    free (text);
}

//  Loads the key file text through the library, from a private temporary directory.
static void
load_key_file (const char *text, hub_identity_t *id)
{
    char dir[] = "/tmp/hub-test-vectors-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path[64];
    snprintf (path, sizeof path, "%s/key", dir);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
    assert_int_equal (chmod (path, 0600), 0);
    char why[256] = "";
    hub_err_t rc = hub_identity_load (path, id, why, sizeof why);
    if (rc != HUB_OK)
        fail_msg ("loading the vector's key file: %s", why);
    unlink (path);
    rmdir (dir);
}

static void
check_identity (json_t *v, hub_identity_t *id)
{
    uint8_t seed[32];
    hex_fixed (v, "seed", seed, 32);
    uint8_t pk[32], sk[64];
    crypto_sign_seed_keypair (pk, sk, seed);
    load_key_file (str_field (v, "key_file"), id);
    assert_memory_equal (id->pk, pk, 32);
    assert_memory_equal (id->sk, sk, 64);

    char text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (id->pk, text);
    assert_string_equal (text, str_field (v, "public_key"));
    uint8_t parsed[32];
    assert_int_equal (hub_key_from_text (str_field (v, "public_key"), parsed), HUB_OK);
    assert_memory_equal (parsed, id->pk, 32);

    uint8_t curve[32];
    assert_int_equal (hub_key_curve_public (id->pk, curve), HUB_OK);
    assert_hex_equal (curve, 32, str_field (v, "curve_public"));
    assert_int_equal (hub_key_curve_secret (id, curve), HUB_OK);
    assert_hex_equal (curve, 32, str_field (v, "curve_secret"));
}

//  Decoding the header and encoding its fields again gives the same bytes.
static void
check_header (const uint8_t *header, size_t hlen, const uint8_t author[32])
{
    hub_header_t hdr;
    assert_int_equal (hub_header_decode (header, hlen, &hdr), HUB_OK);
    assert_memory_equal (hdr.author, author, 32);
    size_t len = 0;
    char *again = hub_header_encode (hdr.channel, hdr.kind, hdr.author, hdr.id, hdr.ts_ms,
                                     hdr.has_title ? hdr.title : NULL, hdr.action_json, &len);
    assert_non_null (again);
    assert_int_equal (len, hlen);
    assert_memory_equal (again, header, hlen);
    free (again);
    hub_header_clear (&hdr);
}

//  Flipping any bit pattern of any byte of header, body or signature breaks the signature.
static void
check_flips (const uint8_t pk[32], const uint8_t *header, size_t hlen, const uint8_t *body,
             size_t blen, const uint8_t sig[64])
{
    uint8_t *h = malloc (hlen + 1), *b = malloc (blen + 1), s[64];
    assert_non_null (h);
    assert_non_null (b);
    memcpy (h, header, hlen);
    memcpy (b, body, blen);
    memcpy (s, sig, 64);
    for (size_t i = 0; i < hlen; i++) {
        h[i] ^= 0x01;
        assert_false (hub_msg_verify (pk, h, hlen, b, blen, s));
        h[i] ^= 0x01;
    }
    for (size_t i = 0; i < blen; i++) {
        b[i] ^= 0x80;
        assert_false (hub_msg_verify (pk, h, hlen, b, blen, s));
        b[i] ^= 0x80;
    }
    for (size_t i = 0; i < 64; i++) {
        s[i] ^= 0x01;
        assert_false (hub_msg_verify (pk, h, hlen, b, blen, s));
        s[i] ^= 0x01;
    }
    //  Moving a byte across the header/body seam changes the length prefixes.
    if (hlen > 0)
        assert_false (hub_msg_verify (pk, h, hlen - 1, h + hlen - 1, 1, s));
    uint8_t other[32];
    memcpy (other, pk, 32);
    other[0] ^= 0x01;
    assert_false (hub_msg_verify (other, h, hlen, b, blen, s));
    assert_true (hub_msg_verify (pk, h, hlen, b, blen, s));
    free (h);
    free (b);
}

static void
test_message_vectors (void **state)
{
    (void)state;
    uint8_t expected_prev[HUB_HASH_BYTES] = {0};
    for (int n = 1; n <= MSG_VECTORS; n++) {
        char name[32];
        snprintf (name, sizeof name, "msg-%d.json", n);
        print_message ("vector %s\n", name);
        json_t *v = load_vector (name);
        hub_identity_t id;
        check_identity (v, &id);

        const uint8_t *header = (const uint8_t *)str_field (v, "header");
        size_t hlen = str_len (v, "header");
        const uint8_t *body = (const uint8_t *)str_field (v, "body");
        size_t blen = str_len (v, "body");
        check_header (header, hlen, id.pk);
        assert_int_equal (hub_body_check (body, blen, hlen, HUB_MAX_MESSAGE_DEFAULT), HUB_OK);

        size_t slen;
        uint8_t *expected_signed = hex_field (v, "signed", &slen);
        assert_int_equal (hub_signed_len (hlen, blen), slen);
        uint8_t *signed_bytes = malloc (slen);
        assert_non_null (signed_bytes);
        hub_signed_bytes (header, hlen, body, blen, signed_bytes);
        assert_memory_equal (signed_bytes, expected_signed, slen);

        uint8_t sig[64];
        hub_msg_sign (&id, header, hlen, body, blen, sig);
        assert_hex_equal (sig, 64, str_field (v, "signature"));
        assert_true (hub_msg_verify (id.pk, header, hlen, body, blen, sig));
        check_flips (id.pk, header, hlen, body, blen, sig);

        uint8_t prev[32], hash[32];
        hex_fixed (v, "prev_hash", prev, 32);
        assert_memory_equal (prev, expected_prev, 32); //  the files form one chain
        json_t *seq = json_object_get (v, "seq");
        assert_true (json_is_integer (seq));
        assert_int_equal (json_integer_value (seq), n);
        hub_chain_hash (prev, (uint64_t)n, header, hlen, body, blen, sig, hash);
        assert_hex_equal (hash, 32, str_field (v, "chain_hash"));
        //  The chain hash covers the seq and the previous hash too.
        uint8_t other[32];
        hub_chain_hash (prev, (uint64_t)n + 1, header, hlen, body, blen, sig, other);
        assert_memory_not_equal (other, hash, 32);
        prev[31] ^= 0x01;
        hub_chain_hash (prev, (uint64_t)n, header, hlen, body, blen, sig, other);
        assert_memory_not_equal (other, hash, 32);
        memcpy (expected_prev, hash, 32);

        free (signed_bytes);
        free (expected_signed);
        json_decref (v);
    }
}

static void
test_checkpoint_vector (void **state)
{
    (void)state;
    json_t *v = load_vector ("checkpoint-1.json");
    uint8_t seed[32];
    hex_fixed (v, "hub_seed", seed, 32);
    hub_identity_t hub;
    crypto_sign_seed_keypair (hub.pk, hub.sk, seed);
    char key_text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (hub.pk, key_text);
    assert_string_equal (key_text, str_field (v, "hub_key"));

    hub_checkpoint_t cp;
    memset (&cp, 0, sizeof cp);
    cp.seq = (uint64_t)json_integer_value (json_object_get (v, "seq"));
    cp.ts_ms = (uint64_t)json_integer_value (json_object_get (v, "ts"));
    hex_fixed (v, "hash", cp.hash, 32);
    hub_checkpoint_sign (&cp, &hub);
    assert_memory_equal (cp.hub_key, hub.pk, 32);
    assert_hex_equal (cp.sig, 64, str_field (v, "sig"));
    assert_true (hub_checkpoint_verify (&cp));

    //  The signed bytes of the vector are what the signature covers.
    size_t slen;
    uint8_t *signed_bytes = hex_field (v, "signed", &slen);
    assert_int_equal (crypto_sign_verify_detached (cp.sig, signed_bytes, slen, hub.pk), 0);
    free (signed_bytes);

    char *json = hub_checkpoint_to_json (&cp);
    assert_string_equal (json, str_field (v, "json"));
    hub_checkpoint_t back;
    assert_int_equal (hub_checkpoint_from_json (json, strlen (json), &back), HUB_OK);
    assert_memory_equal (&back, &cp, sizeof cp);
    free (json);

    //  It signs the head of the message vectors' chain.
    json_t *last = load_vector ("msg-5.json");
    assert_string_equal (str_field (v, "hash"), str_field (last, "chain_hash"));
    assert_int_equal (cp.seq, 5);
    json_decref (last);

    hub_checkpoint_t bad = cp;
    bad.seq++;
    assert_false (hub_checkpoint_verify (&bad));
    bad = cp;
    bad.ts_ms++;
    assert_false (hub_checkpoint_verify (&bad));
    bad = cp;
    bad.hash[7] ^= 0x10;
    assert_false (hub_checkpoint_verify (&bad));
    bad = cp;
    bad.sig[63] ^= 0x01;
    assert_false (hub_checkpoint_verify (&bad));
    json_decref (v);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_message_vectors),
        cmocka_unit_test (test_checkpoint_vector),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
