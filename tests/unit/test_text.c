/*  test_text.c - unit tests of proto/hub_text.c: UTF-8, names, hex. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hub_text.h"

#include <string.h>

#define VALID(s)   assert_true (hub_utf8_valid ((s), sizeof (s) - 1))
#define INVALID(s) assert_false (hub_utf8_valid ((s), sizeof (s) - 1))

static void
test_utf8_accepts_well_formed (void **state)
{
    (void)state;
    VALID ("");
    VALID ("plain ascii ~\x7f");
    VALID ("caf\xc3\xa9");                  //  U+00E9
    VALID ("\xc2\x80");                     //  U+0080, smallest two-byte
    VALID ("\xdf\xbf");                     //  U+07FF
    VALID ("\xe0\xa0\x80");                 //  U+0800, smallest three-byte
    VALID ("\xed\x9f\xbf");                 //  U+D7FF, just below the surrogates
    VALID ("\xee\x80\x80");                 //  U+E000, just above them
    VALID ("\xef\xbf\xbf");                 //  U+FFFF
    VALID ("\xf0\x90\x80\x80");             //  U+10000
    VALID ("\xf0\x9f\x98\x80 emoji");       //  U+1F600
    VALID ("\xf4\x8f\xbf\xbf");             //  U+10FFFF, the last code point
    assert_true (hub_utf8_valid (NULL, 0)); //  empty text
}

static void
test_utf8_refuses_ill_formed (void **state)
{
    (void)state;
    INVALID ("a\0b");                     //  NUL
    INVALID ("\x80");                     //  stray continuation
    INVALID ("\xbf");                     //  stray continuation
    INVALID ("\xc0\x80");                 //  overlong NUL
    INVALID ("\xc1\xbf");                 //  overlong
    INVALID ("\xe0\x80\x80");             //  overlong three-byte
    INVALID ("\xe0\x9f\xbf");             //  overlong three-byte
    INVALID ("\xf0\x80\x80\x80");         //  overlong four-byte
    INVALID ("\xf0\x8f\xbf\xbf");         //  overlong four-byte
    INVALID ("\xed\xa0\x80");             //  U+D800, high surrogate
    INVALID ("\xed\xbf\xbf");             //  U+DFFF, low surrogate
    INVALID ("\xed\xa0\xbd\xed\xb8\x80"); //  CESU-8 surrogate pair
    INVALID ("\xf4\x90\x80\x80");         //  U+110000
    INVALID ("\xf5\x80\x80\x80");         //  lead byte F5
    INVALID ("\xff");                     //  never in UTF-8
    INVALID ("\xfe");                     //  never in UTF-8
    INVALID ("\xc3");                     //  truncated two-byte
    INVALID ("\xe2\x82");                 //  truncated three-byte
    INVALID ("\xf0\x9f\x98");             //  truncated four-byte
    INVALID ("\xc3\x28");                 //  bad continuation
    INVALID ("\xe2\x28\xa1");             //  bad continuation
    INVALID ("\xf0\x9f\x98\x28");         //  bad last continuation
    assert_false (hub_utf8_valid (NULL, 1));
}

static void
test_utf8_respects_length (void **state)
{
    (void)state;
    //  A valid character cut by the length is invalid; bytes past len are never read.
    const char euro[] = "\xe2\x82\xac";
    assert_true (hub_utf8_valid (euro, 3));
    assert_false (hub_utf8_valid (euro, 2));
    assert_false (hub_utf8_valid (euro, 1));
    assert_true (hub_utf8_valid ("ab\xff", 2));
}

static void
test_channel_names (void **state)
{
    (void)state;
    assert_true (hub_channel_valid ("updates"));
    assert_true (hub_channel_valid ("a"));
    assert_true (hub_channel_valid ("0"));
    assert_true (hub_channel_valid ("team-1.ops_log"));
    char name[80];
    memset (name, 'a', 64);
    name[64] = '\0';
    assert_true (hub_channel_valid (name)); //  64 bytes, the maximum
    name[64] = 'a';
    name[65] = '\0';
    assert_false (hub_channel_valid (name)); //  65 bytes
    assert_false (hub_channel_valid (""));
    assert_false (hub_channel_valid (NULL));
    assert_false (hub_channel_valid ("Updates"));
    assert_false (hub_channel_valid ("-updates"));
    assert_false (hub_channel_valid (".hidden"));
    assert_false (hub_channel_valid ("_x"));
    assert_false (hub_channel_valid ("a b"));
    assert_false (hub_channel_valid ("a/b"));
    assert_false (hub_channel_valid ("*"));
    assert_false (hub_channel_valid ("caf\xc3\xa9"));
}

static void
test_kind_names (void **state)
{
    (void)state;
    assert_true (hub_kind_valid ("message"));
    assert_true (hub_kind_valid ("action-done"));
    assert_true (hub_kind_valid ("a"));
    char kind[40];
    memset (kind, 'k', 32);
    kind[32] = '\0';
    assert_true (hub_kind_valid (kind)); //  32 bytes, the maximum
    kind[32] = 'k';
    kind[33] = '\0';
    assert_false (hub_kind_valid (kind));
    assert_false (hub_kind_valid (""));
    assert_false (hub_kind_valid (NULL));
    assert_false (hub_kind_valid ("1message"));
    assert_false (hub_kind_valid ("-message"));
    assert_false (hub_kind_valid ("message2"));
    assert_false (hub_kind_valid ("Message"));
    assert_false (hub_kind_valid ("action_done"));
    assert_false (hub_kind_valid ("action.done"));
}

static void
test_hex_round_trip (void **state)
{
    (void)state;
    const uint8_t data[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char text[2 * sizeof data + 1];
    hub_hex_encode (data, sizeof data, text);
    assert_string_equal (text, "00017f80abff");
    uint8_t back[sizeof data];
    assert_true (hub_hex_decode (text, back, sizeof back));
    assert_memory_equal (back, data, sizeof data);
    assert_true (hub_hex_decode ("00017F80ABFF", back, sizeof back)); //  either case
    assert_memory_equal (back, data, sizeof data);
    char empty[1];
    hub_hex_encode (data, 0, empty);
    assert_string_equal (empty, "");
    assert_true (hub_hex_decode ("", back, 0));
}

static void
test_hex_refuses_bad_text (void **state)
{
    (void)state;
    uint8_t out[3];
    assert_false (hub_hex_decode ("00017", out, 3));   //  short
    assert_false (hub_hex_decode ("0001", out, 3));    //  short, even
    assert_false (hub_hex_decode ("0001020", out, 3)); //  one too many
    assert_false (hub_hex_decode ("000102ff", out, 3));
    assert_false (hub_hex_decode ("00010g", out, 3));
    assert_false (hub_hex_decode (" 00102", out, 3));
    assert_false (hub_hex_decode ("0x0102", out, 3));
    assert_false (hub_hex_decode (NULL, out, 3));
    assert_false (hub_hex_decode ("", out, 1));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_utf8_accepts_well_formed),
        cmocka_unit_test (test_utf8_refuses_ill_formed),
        cmocka_unit_test (test_utf8_respects_length),
        cmocka_unit_test (test_channel_names),
        cmocka_unit_test (test_kind_names),
        cmocka_unit_test (test_hex_round_trip),
        cmocka_unit_test (test_hex_refuses_bad_text),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
