/*  hub_text.h - validation of the text the protocol carries: UTF-8, names, hex.

    Everything read from outside passes through here before it is trusted.
*/
#ifndef HUB_TEXT_H_INCLUDED
#define HUB_TEXT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  True if data[0..len) is well-formed UTF-8 (no overlongs, no surrogates, nothing above
//  U+10FFFF) and contains no NUL byte.
bool hub_utf8_valid (const void *data, size_t len);

//  True if name is a valid channel name: ^[a-z0-9][a-z0-9._-]{0,63}$
bool hub_channel_valid (const char *name);

//  True if kind is a valid message kind: ^[a-z][a-z-]{0,31}$
bool hub_kind_valid (const char *kind);

//  Writes 2*len lowercase hex digits and a NUL into out (size 2*len+1).
void hub_hex_encode (const uint8_t *data, size_t len, char *out);

//  Decodes exactly 2*len hex digits (either case) from text into out. Returns false if
//  text has another length or a non-hex character; out is then unspecified.
bool hub_hex_decode (const char *text, uint8_t *out, size_t len);

//  Decodes exactly 2*len lowercase hex digits, as the protocol writes them: text_len, the
//  whole length of text (a JSON string's, NUL bytes included), must be 2*len. Returns
//  false otherwise; out is then unspecified.
bool hub_hex_decode_lower (const char *text, size_t text_len, uint8_t *out, size_t len);

#endif
