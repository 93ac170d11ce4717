/*  hub_util.h - small helpers the proto modules share. Not installed: private to proto/
    and the client library and hubctl, which link libhubproto (clients/hubc_mem.h).
 */
#ifndef HUB_UTIL_H_INCLUDED
#define HUB_UTIL_H_INCLUDED

#include "hub_text.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  Aborts with file:line if p is NULL (out of memory); returns p. One place for OOM.
void *hub_util_checked (void *p, const char *file, int line);
#define HUB_CHECKED(p) hub_util_checked ((p), __FILE__, __LINE__)

//  Big-endian integers, as every binary field of the protocol is.
void hub_util_put_u32 (uint8_t *out, uint32_t v);
void hub_util_put_u64 (uint8_t *out, uint64_t v);
uint32_t hub_util_get_u32 (const uint8_t *in);
uint64_t hub_util_get_u64 (const uint8_t *in);

//  Reads member key of obj as an integer in 0 .. 2^63 - 1 (a seq, a count, a time) into
//  *out. False, leaving *out alone, if it is absent, not an integer or negative.
static inline bool
hub_util_json_uint (const json_t *obj, const char *key, uint64_t *out)
{
    json_t *value = json_object_get (obj, key);
    if (!json_is_integer (value) || json_integer_value (value) < 0)
        return false;
    *out = (uint64_t)json_integer_value (value);
    return true;
}

//  Reads member key of obj as exactly 2 * len lowercase hex digits, as the protocol writes
//  bytes, into out. False if it is absent, not a string or not that; out is then
//  unspecified.
static inline bool
hub_util_json_hex (const json_t *obj, const char *key, uint8_t *out, size_t len)
{
    json_t *value = json_object_get (obj, key);
    return json_is_string (value) &&
           hub_hex_decode_lower (json_string_value (value), json_string_length (value), out,
                                 len);
}

//  Formats a reason into why (why_size bytes), as the functions that take a `why` buffer
//  do; nothing if why is NULL or why_size 0.
void hub_util_why (char *why, size_t why_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Calls sodium_init once per process (it takes a lock on every call, which the verifier
//  threads' hot path must not pay). Aborts if libsodium cannot initialise.
void hub_util_sodium_ready (void);

#endif
