/*  hub_text.c - validation of the text the protocol carries: UTF-8, names, hex.

    UTF-8 is checked against the well-formed byte sequences of Unicode 15, table 3-7:

        U+0000..U+007F      00..7F (but 00, NUL, is refused here)
        U+0080..U+07FF      C2..DF 80..BF
        U+0800..U+0FFF      E0     A0..BF 80..BF
        U+1000..U+CFFF      E1..EC 80..BF 80..BF
        U+D000..U+D7FF      ED     80..9F 80..BF      (ED A0..BF would be surrogates)
        U+E000..U+FFFF      EE..EF 80..BF 80..BF
        U+10000..U+3FFFF    F0     90..BF 80..BF 80..BF
        U+40000..U+FFFFF    F1..F3 80..BF 80..BF 80..BF
        U+100000..U+10FFFF  F4     80..8F 80..BF 80..BF

    Anything else (C0, C1, F5..FF, overlongs, surrogates, truncated sequences) is refused.
*/
#include "hub_text.h"

#include <string.h>

bool
hub_utf8_valid (const void *data, size_t len)
{
    const uint8_t *s = data;
    size_t i = 0;
    if (len > 0 && s == NULL)
        return false;
    while (i < len) {
        uint8_t c = s[i];
        if (c >= 0x01 && c <= 0x7F) {
            i++;
            continue;
        }
        size_t need;       //  continuation bytes after the lead byte
        uint8_t lo = 0x80; //  bounds of the first continuation byte
        uint8_t hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else
            return false; //  NUL, a stray continuation, C0, C1 or F5..FF
        if (len - i - 1 < need)
            return false;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        i += need + 1;
    }
    return true;
}

static bool
s_is_lower_or_digit (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool
hub_channel_valid (const char *name)
{
    if (name == NULL || !s_is_lower_or_digit (name[0]))
        return false;
    size_t i = 1;
    for (; name[i] != '\0'; i++) {
        char c = name[i];
        if (i >= 64)
            return false;
        if (!s_is_lower_or_digit (c) && c != '.' && c != '_' && c != '-')
            return false;
    }
    return true;
}

bool
hub_kind_valid (const char *kind)
{
    if (kind == NULL || !(kind[0] >= 'a' && kind[0] <= 'z'))
        return false;
    for (size_t i = 1; kind[i] != '\0'; i++) {
        char c = kind[i];
        if (i >= 32)
            return false;
        if (!(c >= 'a' && c <= 'z') && c != '-')
            return false;
    }
    return true;
}

void
hub_hex_encode (const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0F];
    }
    out[2 * len] = '\0';
}

static int
s_hex_value (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool
hub_hex_decode (const char *text, uint8_t *out, size_t len)
{
    if (text == NULL)
        return false;
    //  Walk at most 2*len characters: text may be long, and its NUL ends it early.
    for (size_t i = 0; i < len; i++) {
        int hi = s_hex_value (text[2 * i]);
        if (hi < 0)
            return false;
        int lo = s_hex_value (text[2 * i + 1]);
        if (lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return text[2 * len] == '\0';
}

bool
hub_hex_decode_lower (const char *text, size_t text_len, uint8_t *out, size_t len)
{
    if (text == NULL || text_len != 2 * len)
        return false;
    for (size_t i = 0; i < text_len; i++)
        if (text[i] >= 'A' && text[i] <= 'F')
            return false;
    return hub_hex_decode (text, out, len);
}
