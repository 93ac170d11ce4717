/*  hub_sig.c - what a signature covers, the hash chain and checkpoints.

    Signed bytes of a message (PROTOCOL.md 4.1), u32 and u64 big-endian:

        "hubd/msg/v1" 0x00 || u32(hlen) || header || u32(blen) || body

    Chain hash of the entry at seq (6.2), BLAKE2b-256 without a key:

        hash(seq) = H( prev_hash || u64(seq) || signed bytes || signature )

    Checkpoint (6.3), signed by the hub's Ed25519 key:

        "hubd/checkpoint/v1" 0x00 || u64(seq) || hash(seq) || u64(ts_ms)

    The known-answer vectors in proto/vectors/ pin all three; tests/unit/test_vectors.c
    fails if any byte here moves.
*/
#include "hub_sig.h"
#include "hub_frame.h"
#include "hub_text.h"
#include "hub_util.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MSG_TAG_BYTES        (sizeof HUB_MSG_TAG)        //  the tag and its 0x00
#define S_CHECKPOINT_TAG_BYTES (sizeof HUB_CHECKPOINT_TAG) //  the tag and its 0x00
#define S_CHECKPOINT_BYTES     (S_CHECKPOINT_TAG_BYTES + 8 + HUB_HASH_BYTES + 8)

size_t
hub_signed_len (size_t hlen, size_t blen)
{
    //  Callers hold header and body within the protocol's limits before signing.
    assert (hlen <= UINT32_MAX && blen <= UINT32_MAX);
    return S_MSG_TAG_BYTES + 4 + hlen + 4 + blen;
}

void
hub_signed_bytes (const uint8_t *header, size_t hlen, const uint8_t *body, size_t blen,
                  uint8_t *out)
{
    assert (hlen <= UINT32_MAX && blen <= UINT32_MAX);
    memcpy (out, HUB_MSG_TAG, S_MSG_TAG_BYTES);
    out += S_MSG_TAG_BYTES;
    hub_util_put_u32 (out, (uint32_t)hlen);
    out += 4;
    if (hlen > 0)
        memcpy (out, header, hlen);
    out += hlen;
    hub_util_put_u32 (out, (uint32_t)blen);
    out += 4;
    if (blen > 0)
        memcpy (out, body, blen);
}

void
hub_msg_sign (const hub_identity_t *id, const uint8_t *header, size_t hlen, const uint8_t *body,
              size_t blen, uint8_t sig[HUB_SIG_BYTES])
{
    hub_util_sodium_ready ();
    size_t len = hub_signed_len (hlen, blen);
    uint8_t *msg = HUB_CHECKED (malloc (len ? len : 1));
    hub_signed_bytes (header, hlen, body, blen, msg);
    crypto_sign_detached (sig, NULL, msg, len, id->sk);
    free (msg);
}

bool
hub_msg_verify (const uint8_t author[HUB_PUBKEY_BYTES], const uint8_t *header, size_t hlen,
                const uint8_t *body, size_t blen, const uint8_t sig[HUB_SIG_BYTES])
{
    hub_util_sodium_ready ();
    if (hlen > UINT32_MAX || blen > UINT32_MAX)
        return false;
    size_t len = hub_signed_len (hlen, blen);
    uint8_t *msg = HUB_CHECKED (malloc (len ? len : 1));
    hub_signed_bytes (header, hlen, body, blen, msg);
    bool valid = crypto_sign_verify_detached (sig, msg, len, author) == 0;
    free (msg);
    return valid;
}

void
hub_chain_hash (const uint8_t prev[HUB_HASH_BYTES], uint64_t seq, const uint8_t *header,
                size_t hlen, const uint8_t *body, size_t blen, const uint8_t sig[HUB_SIG_BYTES],
                uint8_t out[HUB_HASH_BYTES])
{
    assert (hlen <= UINT32_MAX && blen <= UINT32_MAX);
    //  Streams the signed bytes into the hash instead of building them.
    crypto_generichash_state state;
    uint8_t num[8];
    crypto_generichash_init (&state, NULL, 0, HUB_HASH_BYTES);
    crypto_generichash_update (&state, prev, HUB_HASH_BYTES);
    hub_util_put_u64 (num, seq);
    crypto_generichash_update (&state, num, 8);
    crypto_generichash_update (&state, (const uint8_t *)HUB_MSG_TAG, S_MSG_TAG_BYTES);
    hub_util_put_u32 (num, (uint32_t)hlen);
    crypto_generichash_update (&state, num, 4);
    if (hlen > 0)
        crypto_generichash_update (&state, header, hlen);
    hub_util_put_u32 (num, (uint32_t)blen);
    crypto_generichash_update (&state, num, 4);
    if (blen > 0)
        crypto_generichash_update (&state, body, blen);
    crypto_generichash_update (&state, sig, HUB_SIG_BYTES);
    crypto_generichash_final (&state, out, HUB_HASH_BYTES);
}

//  --------------------------------------------------------------------------
//  Checkpoints

static void
s_checkpoint_bytes (const hub_checkpoint_t *cp, uint8_t out[S_CHECKPOINT_BYTES])
{
    memcpy (out, HUB_CHECKPOINT_TAG, S_CHECKPOINT_TAG_BYTES);
    hub_util_put_u64 (out + S_CHECKPOINT_TAG_BYTES, cp->seq);
    memcpy (out + S_CHECKPOINT_TAG_BYTES + 8, cp->hash, HUB_HASH_BYTES);
    hub_util_put_u64 (out + S_CHECKPOINT_TAG_BYTES + 8 + HUB_HASH_BYTES, cp->ts_ms);
}

void
hub_checkpoint_sign (hub_checkpoint_t *cp, const hub_identity_t *hub)
{
    hub_util_sodium_ready ();
    uint8_t bytes[S_CHECKPOINT_BYTES];
    s_checkpoint_bytes (cp, bytes);
    memcpy (cp->hub_key, hub->pk, HUB_PUBKEY_BYTES);
    crypto_sign_detached (cp->sig, NULL, bytes, sizeof bytes, hub->sk);
}

bool
hub_checkpoint_verify (const hub_checkpoint_t *cp)
{
    hub_util_sodium_ready ();
    uint8_t bytes[S_CHECKPOINT_BYTES];
    s_checkpoint_bytes (cp, bytes);
    return crypto_sign_verify_detached (cp->sig, bytes, sizeof bytes, cp->hub_key) == 0;
}

char *
hub_checkpoint_to_json (const hub_checkpoint_t *cp)
{
    //  JSON integers of the protocol are 0..2^63-1; a hub never gets near the limit.
    assert (cp->seq <= INT64_MAX && cp->ts_ms <= INT64_MAX);
    char hash[2 * HUB_HASH_BYTES + 1];
    char key[HUB_KEYTEXT_LEN + 1];
    char sig[2 * HUB_SIG_BYTES + 1];
    hub_hex_encode (cp->hash, HUB_HASH_BYTES, hash);
    hub_key_to_text (cp->hub_key, key);
    hub_hex_encode (cp->sig, HUB_SIG_BYTES, sig);
    const char *format = "{\"seq\":%" PRIu64 ",\"hash\":\"%s\",\"ts\":%" PRIu64
                         ",\"hub_key\":\"%s\",\"sig\":\"%s\"}";
    int len = snprintf (NULL, 0, format, cp->seq, hash, cp->ts_ms, key, sig);
    assert (len > 0);
    char *json = HUB_CHECKED (malloc ((size_t)len + 1));
    snprintf (json, (size_t)len + 1, format, cp->seq, hash, cp->ts_ms, key, sig);
    return json;
}

hub_err_t
hub_checkpoint_from_object (const json_t *obj, hub_checkpoint_t *out)
{
    hub_checkpoint_t cp;
    memset (&cp, 0, sizeof cp);
    json_t *key = json_object_get (obj, "hub_key");
    if (!hub_util_json_uint (obj, "seq", &cp.seq) ||
        !hub_util_json_uint (obj, "ts", &cp.ts_ms) ||
        !hub_util_json_hex (obj, "hash", cp.hash, HUB_HASH_BYTES) ||
        !hub_util_json_hex (obj, "sig", cp.sig, HUB_SIG_BYTES) || !json_is_string (key) ||
        json_string_length (key) != HUB_KEYTEXT_LEN ||
        hub_key_from_text (json_string_value (key), cp.hub_key) != HUB_OK)
        return HUB_E_BAD_REQUEST;
    *out = cp;
    return HUB_OK;
}

hub_err_t
hub_checkpoint_from_json (const char *json, size_t len, hub_checkpoint_t *out)
{
    hub_err_t rc = HUB_OK;
    json_t *root = hub_json_frame_parse ((const uint8_t *)json, len, &rc);
    if (root == NULL)
        return rc;
    rc = hub_checkpoint_from_object (root, out);
    json_decref (root);
    return rc;
}
