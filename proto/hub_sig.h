/*  hub_sig.h - what a signature covers, the hash chain and checkpoints.

    The byte layouts here are specified in proto/PROTOCOL.md sections 4.1, 6.2 and 6.3 and
    pinned by the known-answer vectors in proto/vectors/. Change them and every stored log
    stops verifying.
*/
#ifndef HUB_SIG_H_INCLUDED
#define HUB_SIG_H_INCLUDED

#include "hub_keys.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_HASH_BYTES     32
#define HUB_MSG_TAG        "hubd/msg/v1"        //  followed by one 0x00 byte
#define HUB_CHECKPOINT_TAG "hubd/checkpoint/v1" //  followed by one 0x00 byte

//  Size of the signed bytes for a header of hlen and a body of blen bytes.
size_t hub_signed_len (size_t hlen, size_t blen);

//  Writes the signed bytes into out, which has room for hub_signed_len(hlen, blen).
void hub_signed_bytes (const uint8_t *header, size_t hlen, const uint8_t *body, size_t blen,
                       uint8_t *out);

//  Signs header+body with id, writing 64 bytes into sig.
void hub_msg_sign (const hub_identity_t *id, const uint8_t *header, size_t hlen,
                   const uint8_t *body, size_t blen, uint8_t sig[HUB_SIG_BYTES]);

//  True if sig is author's valid signature of header+body.
bool hub_msg_verify (const uint8_t author[HUB_PUBKEY_BYTES], const uint8_t *header, size_t hlen,
                     const uint8_t *body, size_t blen, const uint8_t sig[HUB_SIG_BYTES]);

//  Computes the chain hash of entry seq from the hash of seq - 1 (zeros for seq 1).
void hub_chain_hash (const uint8_t prev[HUB_HASH_BYTES], uint64_t seq, const uint8_t *header,
                     size_t hlen, const uint8_t *body, size_t blen,
                     const uint8_t sig[HUB_SIG_BYTES], uint8_t out[HUB_HASH_BYTES]);

typedef struct {
    uint64_t seq;
    uint8_t hash[HUB_HASH_BYTES];
    uint64_t ts_ms;
    uint8_t hub_key[HUB_PUBKEY_BYTES];
    uint8_t sig[HUB_SIG_BYTES];
} hub_checkpoint_t;

//  Signs cp->seq, cp->hash and cp->ts_ms with the hub identity; fills hub_key and sig.
void hub_checkpoint_sign (hub_checkpoint_t *cp, const hub_identity_t *hub);

//  True if cp->sig is cp->hub_key's signature of the checkpoint.
bool hub_checkpoint_verify (const hub_checkpoint_t *cp);

//  JSON form of PROTOCOL.md 6.3. to_json returns a new string the caller frees with free().
//  from_json returns HUB_E_BAD_REQUEST on a missing or malformed field.
char *hub_checkpoint_to_json (const hub_checkpoint_t *cp);
hub_err_t hub_checkpoint_from_json (const char *json, size_t len, hub_checkpoint_t *out);

//  As from_json, for a checkpoint already parsed (a member of an END or an export line),
//  so it is not dumped to text to be parsed again. Borrows obj.
hub_err_t hub_checkpoint_from_object (const json_t *obj, hub_checkpoint_t *out);

#endif
