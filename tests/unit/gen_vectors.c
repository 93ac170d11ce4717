/*  gen_vectors.c - writes the known-answer vectors of proto/vectors/.

    Usage: gen_vectors DIR. Ed25519 signatures are deterministic, so the files it writes
    are the same on every run; they are committed, and tests/unit/test_vectors.c checks
    that the library still reproduces every field. Run it again only when a vector is
    added, never to "fix" a failing test: a changed byte means the wire format changed.
    The format is described in proto/vectors/README.md.
*/
#include "hub_frame.h"
#include "hub_keys.h"
#include "hub_sig.h"
#include "hub_text.h"

#include <assert.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *description;
    uint8_t seed_base; //  seed bytes are seed_base, seed_base + 1, ...
    const char *channel;
    const char *kind;
    uint8_t id_base; //  message id bytes likewise
    int64_t ts_ms;
    const char *title;  //  NULL for none
    const char *action; //  action object as JSON, NULL for none
    const char *body;
} s_vector_t;

static const s_vector_t s_vectors[] = {
    {"a plain message", 0x01, "updates", "message", 0x00, 1700000000000, NULL, NULL,
     "Deployed release 1.4 to production."},
    {"UTF-8 in the title and the body", 0x41, "team-eu.general", "message", 0x10, 1700000001234,
     "Caf\xc3\xa9 \xe2\x98\x95 r\xc3\xa9union", NULL,
     "Gr\xc3\xbc\xc3\x9f"
     "e aus K\xc3\xb6ln \xe2\x80\x94 \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\n"
     "second line with \"quotes\" and a \\ backslash"},
    {"an empty body", 0x01, "updates", "message", 0x20, 1700000002000, "ping", NULL, ""},
    {"an action object", 0x41, "ops", "action", 0x30, 1700000003000, "Review the Q3 report",
     "{\"assignee\":\"alice\",\"due\":1700086400000,\"tags\":[\"finance\",\"q3\"]}",
     "Please review the attached numbers before Friday."},
    {"a later chain entry in a channel name using every allowed character", 0x01,
     "ops.alerts_eu-1", "message", 0x40, 0, NULL, NULL, "ts 0 is allowed"},
};

#define S_VECTOR_COUNT  (sizeof s_vectors / sizeof s_vectors[0])
#define S_HUB_SEED_BASE 0x81
#define S_CHECKPOINT_TS 1700000009999

static void
s_fill (uint8_t *out, size_t len, uint8_t base)
{
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(base + i);
}

static json_t *
s_hex (const uint8_t *data, size_t len)
{
    char *text = malloc (2 * len + 1);
    assert (text);
    hub_hex_encode (data, len, text);
    json_t *value = json_string (text);
    free (text);
    return value;
}

//  The key file the library writes for this identity, read back as text.
static json_t *
s_key_file (const hub_identity_t *id)
{
    char dir[] = "/tmp/hub-gen-XXXXXX";
    assert (mkdtemp (dir));
    char path[64];
    snprintf (path, sizeof path, "%s/key", dir);
    char why[256];
    hub_err_t rc = hub_identity_save (id, path, why, sizeof why);
    if (rc != HUB_OK) {
        fprintf (stderr, "gen_vectors: %s\n", why);
        exit (1);
    }
    char text[256];
    FILE *file = fopen (path, "r");
    assert (file);
    size_t len = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text[len] = '\0';
    unlink (path);
    char pub_path[80];
    snprintf (pub_path, sizeof pub_path, "%s.pub", path);
    unlink (pub_path);
    rmdir (dir);
    return json_string (text);
}

static void
s_identity (uint8_t base, hub_identity_t *id, uint8_t seed[32])
{
    s_fill (seed, 32, base);
    crypto_sign_seed_keypair (id->pk, id->sk, seed);
}

static void
s_write (const char *dir, const char *name, json_t *root)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    if (json_dump_file (root, path, JSON_INDENT (2) | JSON_PRESERVE_ORDER) != 0) {
        fprintf (stderr, "gen_vectors: cannot write %s\n", path);
        exit (1);
    }
    FILE *file = fopen (path, "a"); //  end the file with a newline, like any text file
    assert (file);
    fputc ('\n', file);
    fclose (file);
    json_decref (root);
    printf ("wrote %s\n", path);
}

int
main (int argc, char *argv[])
{
    if (argc != 2) {
        fprintf (stderr, "usage: gen_vectors DIR\n");
        return 2;
    }
    assert (sodium_init () >= 0);
    uint8_t prev[HUB_HASH_BYTES] = {0};
    for (size_t i = 0; i < S_VECTOR_COUNT; i++) {
        const s_vector_t *v = &s_vectors[i];
        uint64_t seq = i + 1;
        hub_identity_t id;
        uint8_t seed[32];
        s_identity (v->seed_base, &id, seed);
        uint8_t msg_id[HUB_MSG_ID_BYTES];
        s_fill (msg_id, sizeof msg_id, v->id_base);
        size_t hlen;
        char *header = hub_header_encode (v->channel, v->kind, id.pk, msg_id, v->ts_ms,
                                          v->title, v->action, &hlen);
        assert (header);
        const uint8_t *body = (const uint8_t *)v->body;
        size_t blen = strlen (v->body);
        size_t slen = hub_signed_len (hlen, blen);
        uint8_t *signed_bytes = malloc (slen);
        assert (signed_bytes);
        hub_signed_bytes ((const uint8_t *)header, hlen, body, blen, signed_bytes);
        uint8_t sig[HUB_SIG_BYTES];
        hub_msg_sign (&id, (const uint8_t *)header, hlen, body, blen, sig);
        uint8_t hash[HUB_HASH_BYTES];
        hub_chain_hash (prev, seq, (const uint8_t *)header, hlen, body, blen, sig, hash);
        char key_text[HUB_KEYTEXT_LEN + 1];
        hub_key_to_text (id.pk, key_text);
        uint8_t curve_pk[32], curve_sk[32];
        assert (hub_key_curve_public (id.pk, curve_pk) == HUB_OK);
        assert (hub_key_curve_secret (&id, curve_sk) == HUB_OK);

        json_t *root = json_object ();
        json_object_set_new (root, "description", json_string (v->description));
        json_object_set_new (root, "seed", s_hex (seed, 32));
        json_object_set_new (root, "public_key", json_string (key_text));
        json_object_set_new (root, "key_file", s_key_file (&id));
        json_object_set_new (root, "curve_public", s_hex (curve_pk, 32));
        json_object_set_new (root, "curve_secret", s_hex (curve_sk, 32));
        json_object_set_new (root, "header", json_string (header));
        json_object_set_new (root, "body", json_string (v->body));
        json_object_set_new (root, "signed", s_hex (signed_bytes, slen));
        json_object_set_new (root, "signature", s_hex (sig, HUB_SIG_BYTES));
        json_object_set_new (root, "seq", json_integer ((json_int_t)seq));
        json_object_set_new (root, "prev_hash", s_hex (prev, HUB_HASH_BYTES));
        json_object_set_new (root, "chain_hash", s_hex (hash, HUB_HASH_BYTES));
        char name[32];
        snprintf (name, sizeof name, "msg-%zu.json", i + 1);
        s_write (argv[1], name, root);
        memcpy (prev, hash, HUB_HASH_BYTES);
        free (signed_bytes);
        free (header);
    }

    //  The hub signs the head of the chain above.
    hub_identity_t hub;
    uint8_t seed[32];
    s_identity (S_HUB_SEED_BASE, &hub, seed);
    hub_checkpoint_t cp = {.seq = S_VECTOR_COUNT, .ts_ms = S_CHECKPOINT_TS};
    memcpy (cp.hash, prev, HUB_HASH_BYTES);
    hub_checkpoint_sign (&cp, &hub);
    //  The bytes signed, rebuilt here from PROTOCOL.md 6.3 for readers of the vector.
    uint8_t bytes[sizeof HUB_CHECKPOINT_TAG + 8 + HUB_HASH_BYTES + 8];
    uint8_t *p = bytes;
    memcpy (p, HUB_CHECKPOINT_TAG, sizeof HUB_CHECKPOINT_TAG);
    p += sizeof HUB_CHECKPOINT_TAG;
    for (int k = 7; k >= 0; k--)
        *p++ = (uint8_t)(cp.seq >> (8 * k));
    memcpy (p, cp.hash, HUB_HASH_BYTES);
    p += HUB_HASH_BYTES;
    for (int k = 7; k >= 0; k--)
        *p++ = (uint8_t)(cp.ts_ms >> (8 * k));
    assert (crypto_sign_verify_detached (cp.sig, bytes, sizeof bytes, hub.pk) == 0);
    char key_text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (hub.pk, key_text);
    char *cp_json = hub_checkpoint_to_json (&cp);

    json_t *root = json_object ();
    json_object_set_new (root, "description",
                         json_string ("the hub signs the head of msg-1..5"));
    json_object_set_new (root, "hub_seed", s_hex (seed, 32));
    json_object_set_new (root, "hub_key", json_string (key_text));
    json_object_set_new (root, "seq", json_integer ((json_int_t)cp.seq));
    json_object_set_new (root, "hash", s_hex (cp.hash, HUB_HASH_BYTES));
    json_object_set_new (root, "ts", json_integer ((json_int_t)cp.ts_ms));
    json_object_set_new (root, "signed", s_hex (bytes, sizeof bytes));
    json_object_set_new (root, "sig", s_hex (cp.sig, HUB_SIG_BYTES));
    json_object_set_new (root, "json", json_string (cp_json));
    s_write (argv[1], "checkpoint-1.json", root);
    free (cp_json);
    return 0;
}
