/*  hub_keys.h - Ed25519 identities, their key files and their CURVE (X25519) halves.

    One identity serves both message signatures and ZeroMQ CURVE transport security: the
    CURVE pair is derived from the Ed25519 pair. File format: proto/PROTOCOL.md section 2.
*/
#ifndef HUB_KEYS_H_INCLUDED
#define HUB_KEYS_H_INCLUDED

#include "hub_err.h"
#include <stddef.h>
#include <stdint.h>

#define HUB_PUBKEY_BYTES 32
#define HUB_SECKEY_BYTES 64 //  libsodium's secret key: seed || public key
#define HUB_SIG_BYTES    64
#define HUB_KEYTEXT_LEN  43 //  base64url without padding of 32 bytes

typedef struct {
    uint8_t pk[HUB_PUBKEY_BYTES];
    uint8_t sk[HUB_SECKEY_BYTES];
} hub_identity_t;

//  Creates a new random identity in *out.
void hub_identity_generate (hub_identity_t *out);

//  Writes the identity to path (mode 0600, created exclusively: an existing file is never
//  overwritten, HUB_E_CONFLICT) and its public key text to path.pub (mode 0644).
//  On failure writes a reason into why (may be NULL) and returns HUB_E_IO or HUB_E_CONFLICT.
hub_err_t hub_identity_save (const hub_identity_t *id, const char *path, char *why,
                             size_t why_size);

//  Writes the key text of pk and a newline to path (mode 0644, created exclusively:
//  HUB_E_CONFLICT if it exists), as hub_identity_save writes path.pub. On failure writes
//  a reason into why (may be NULL) and returns HUB_E_IO or HUB_E_CONFLICT.
hub_err_t hub_pubkey_save (const uint8_t pk[HUB_PUBKEY_BYTES], const char *path, char *why,
                           size_t why_size);

//  Loads a secret key file. Refuses (HUB_E_BAD_KEY) a file readable by group or others, a
//  corrupt file, or one whose public line does not match its seed; HUB_E_IO if unreadable.
//  Writes a reason into why (may be NULL) on failure.
hub_err_t hub_identity_load (const char *path, hub_identity_t *out, char *why, size_t why_size);

//  Writes the key text of pk (43 characters and a NUL) into out.
void hub_key_to_text (const uint8_t pk[HUB_PUBKEY_BYTES], char out[HUB_KEYTEXT_LEN + 1]);

//  Parses key text (surrounding whitespace allowed) into pk. HUB_E_BAD_KEY if invalid.
hub_err_t hub_key_from_text (const char *text, uint8_t pk[HUB_PUBKEY_BYTES]);

//  Accepts either key text or the path of a file holding key text (a .pub file).
//  HUB_E_BAD_KEY if it is neither, HUB_E_IO if a file it names cannot be read.
hub_err_t hub_key_resolve (const char *text_or_path, uint8_t pk[HUB_PUBKEY_BYTES]);

//  CURVE halves. Return HUB_E_BAD_KEY if the Ed25519 key has no X25519 equivalent.
//  Converting costs about as much as a signature check: callers cache the results.
hub_err_t hub_key_curve_public (const uint8_t ed_pk[HUB_PUBKEY_BYTES], uint8_t curve_pk[32]);
hub_err_t hub_key_curve_secret (const hub_identity_t *id, uint8_t curve_sk[32]);

#endif
