/*  test_config.c - hubd's settings (hubd/config.c): defaults, durations, every refusal
    reported with its line number. */
#include "config.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static char s_path[64];

static config_t *
s_load (const char *text, int *errors, char *messages, size_t size)
{
    strcpy (s_path, "/tmp/test_config.XXXXXX");
    int fd = mkstemp (s_path);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, text, strlen (text)), (ssize_t)strlen (text));
    close (fd);
    config_t *config = config_new ();
    *errors = config_load (config, s_path, messages, size);
    unlink (s_path);
    return config;
}

//  Asserts that messages hold "PATH:LINE: text" for the file s_load wrote; prints both if not.
static void
s_assert_said (const char *messages, int line, const char *text)
{
    char want[256];
    snprintf (want, sizeof want, "%s:%d: %s", s_path, line, text);
    if (!strstr (messages, want))
        fail_msg ("expected \"%s\" in the messages:\n%s", want, messages);
}

static void
test_defaults (void **state)
{
    (void)state;
    config_t *config = config_new ();
    assert_string_equal (config->data_dir, "./hub-data");
    assert_string_equal (config->endpoint, "tcp://127.0.0.1:7400");
    assert_int_equal (config->max_message_bytes, 65536);
    assert_int_equal (config->reminder_before_count, 2);
    assert_int_equal (config->reminder_before_s[0], 3 * 86400);
    assert_int_equal (config->overdue_every_s, 86400);
    config_destroy (&config);
    assert_null (config);
}

static void
test_durations (void **state)
{
    (void)state;
    uint64_t s = 0;
    assert_true (config_parse_duration ("90s", &s));
    assert_int_equal (s, 90);
    assert_true (config_parse_duration (" 15m", &s));
    assert_int_equal (s, 900);
    assert_true (config_parse_duration ("2h", &s));
    assert_int_equal (s, 7200);
    assert_true (config_parse_duration ("3d ", &s));
    assert_int_equal (s, 259200);
    assert_true (config_parse_duration ("42", &s));
    assert_int_equal (s, 42);
    assert_false (config_parse_duration ("", &s));
    assert_false (config_parse_duration ("-1s", &s));
    assert_false (config_parse_duration ("3 weeks", &s));
    assert_false (config_parse_duration ("1y", &s));
    assert_false (config_parse_duration ("99999999999999999999d", &s));
    //  At most 100 years: a due time plus more than that overflowed the scheduler's sums.
    assert_true (config_parse_duration ("36500d", &s));
    assert_int_equal (s, 36500ULL * 86400);
    assert_false (config_parse_duration ("36501d", &s));
    assert_false (config_parse_duration ("106751991167d", &s));
}

static void
test_duration_lists (void **state)
{
    (void)state;
    const char *bad[][2] = {
        {"3d,", "an empty item"},
        {"3d,,1d", "an empty item"},
        {" , 1d", "an empty item"},
        {"1s,2s,3s,4s,5s,6s,7s,8s,9s,10s,11s,12s,13s,14s,15s,16s,17s", "more than 16"},
        {"3d, 40000d", "at most 36500d"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int errors;
        char messages[1024], text[256];
        snprintf (text, sizeof text, "[reminders]\nbefore = %s\n", bad[i][0]);
        config_t *config = s_load (text, &errors, messages, sizeof messages);
        assert_int_equal (errors, 1);
        s_assert_said (messages, 2, "before must be a list of up to 16 durations");
        if (!strstr (messages, bad[i][1]))
            fail_msg ("expected \"%s\" in: %s", bad[i][1], messages);
        config_destroy (&config);
    }
    int errors;
    char messages[1024];
    config_t *config = s_load ("[reminders]\nbefore = 1s,2s,3s,4s,5s,6s,7s,8s,9s,10s,11s,12s,"
                               "13s,14s,15s,16s\noverdue_every = 36500d\n",
                               &errors, messages, sizeof messages);
    assert_int_equal (errors, 0);
    assert_int_equal (config->reminder_before_count, 16);
    config_destroy (&config);
    config = s_load ("[reminders]\nbefore =\n", &errors, messages, sizeof messages);
    assert_int_equal (errors, 0); //  the empty list: no reminder before the due time
    assert_int_equal (config->reminder_before_count, 0);
    config_destroy (&config);
    config = s_load ("[reminders]\noverdue_every = 106751991167d\n", &errors, messages,
                     sizeof messages);
    assert_int_equal (errors, 1);
    s_assert_said (messages, 2, "overdue_every must be a duration like '1d' or '30s', from 1s");
    config_destroy (&config);
}

static void
test_full_file (void **state)
{
    (void)state;
    int errors;
    char messages[1024];
    config_t *config =
        s_load ("[hub]\ndata_dir = /var/lib/hubd\nendpoint = tcp://0.0.0.0:7400\n"
                "max_message_bytes = 4096\nlog_level = debug\n"
                "[reminders]\nbefore = 2d, 4h, 90s\noverdue_every = 12h\n"
                "[digest]\nevery = 0\n"
                "[relay.team]\nplugin = slack\nchannels = updates, actions\n"
                "webhook_url_file = /etc/hubd/slack\n",
                &errors, messages, sizeof messages);
    assert_int_equal (errors, 0);
    assert_string_equal (config->data_dir, "/var/lib/hubd");
    assert_int_equal (config->max_message_bytes, 4096);
    assert_int_equal (config->log_level, LOG_LEVEL_DEBUG);
    assert_int_equal (config->reminder_before_count, 3);
    assert_int_equal (config->reminder_before_s[2], 90);
    assert_int_equal (config->overdue_every_s, 43200);
    assert_int_equal (config->digest_every_s, 0);
    assert_int_equal (config->relay_count, 1);
    assert_string_equal (config->relays[0].plugin, "slack");
    assert_string_equal (config_relay_get (&config->relays[0], "webhook_url_file"),
                         "/etc/hubd/slack");
    assert_null (config_relay_get (&config->relays[0], "nothing"));
    config_destroy (&config);
}

static void
test_empty_unknown_section (void **state)
{
    (void)state;
    int errors;
    char messages[512];
    config_t *config = s_load ("[hub]\n\n[nosuch]\n", &errors, messages, sizeof messages);
    assert_int_equal (errors, 1);
    s_assert_said (messages, 3, "unknown section [nosuch]");
    config_destroy (&config);
}

//  A key or section given twice is an error at its second line, naming the first: the
//  last one silently winning sent a relay's mail to one address of two.
static void
test_said_twice (void **state)
{
    (void)state;
    int errors;
    char messages[2048];
    config_t *config =
        s_load ("[hub]\nlog_level = info\n[relay.mail]\nplugin = email\nchannels = updates\n"
                "to = a@x.test\nto = b@x.test\nchannels = actions\n[hub]\nlog_level = debug\n"
                "[relay.empty]\nplugin = slack\nchannels = ,\n",
                &errors, messages, sizeof messages);
    assert_int_equal (errors, 5);
    s_assert_said (messages, 7, "'to' is given twice in [relay.mail] (first at line 6)");
    s_assert_said (messages, 8, "'channels' is given twice in [relay.mail] (first at line 5)");
    s_assert_said (messages, 9, "section [hub] is given twice (first at line 1)");
    s_assert_said (messages, 10, "'log_level' is given twice in [hub] (first at line 2)");
    s_assert_said (messages, 11, "[relay.empty]: channels = ',' names no channel");
    config_destroy (&config);
}

static void
test_errors_name_their_line (void **state)
{
    (void)state;
    int errors;
    char messages[2048];
    config_t *config =
        s_load ("[hub]\nbogus = 1\nmax_message_bytes = lots\n[reminders]\n"
                "before = 3d, soon\n[elsewhere]\nkey = v\n[relay.x]\nchannels = a\n",
                &errors, messages, sizeof messages);
    assert_int_equal (errors, 5);
    s_assert_said (messages, 2, "unknown key 'bogus' in [hub]");
    s_assert_said (messages, 3, "max_message_bytes");
    s_assert_said (messages, 5, "before must be");
    s_assert_said (messages, 6, "unknown section [elsewhere]");
    s_assert_said (messages, 8, "[relay.x] has no plugin");
    config_destroy (&config);
}

static void
test_endpoints_and_numbers (void **state)
{
    (void)state;
    assert_true (config_endpoint_valid ("tcp://127.0.0.1:7400"));
    assert_true (config_endpoint_valid ("tcp://127.0.0.1:*"));
    assert_true (config_endpoint_valid ("tcp://[::1]:7400"));
    assert_true (config_endpoint_valid ("ipc:///run/hubd.sock"));
    assert_false (config_endpoint_valid ("bogus"));
    assert_false (config_endpoint_valid ("bogus://x"));
    assert_false (config_endpoint_valid ("tcp://127.0.0.1"));
    assert_false (config_endpoint_valid ("tcp://127.0.0.1:port"));
    assert_false (config_endpoint_valid ("tcp://127.0.0.1:70000"));
    assert_false (config_endpoint_valid ("tcp://:7400"));
    assert_false (config_endpoint_valid ("ipc://"));
    int errors;
    char messages[2048];
    config_t *config =
        s_load ("[hub]\nendpoint = bogus\nmax_message_bytes = -18446744073709550592\n"
                "verify_threads =\n",
                &errors, messages, sizeof messages);
    assert_int_equal (errors, 3);
    s_assert_said (messages, 2, "endpoint must be");
    s_assert_said (messages, 3, "max_message_bytes");
    s_assert_said (messages, 4, "verify_threads");
    config_destroy (&config);
    //  Names inih would cut short, and a key without a name
    config = s_load ("[relay.a-relay-name-that-goes-on-and-on-well-past-fifty-chars]\n"
                     "plugin = slack\nchannels = updates\n"
                     "a_key_name_that_goes_on_and_on_well_past_fifty_chars = 1\n = v\n",
                     &errors, messages, sizeof messages);
    assert_int_equal (errors, 3);
    s_assert_said (messages, 1, "section name longer than 49");
    s_assert_said (messages, 4, "key name longer than 49");
    s_assert_said (messages, 5, "a key has no name");
    config_destroy (&config);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_defaults),
        cmocka_unit_test (test_durations),
        cmocka_unit_test (test_duration_lists),
        cmocka_unit_test (test_full_file),
        cmocka_unit_test (test_errors_name_their_line),
        cmocka_unit_test (test_said_twice),
        cmocka_unit_test (test_empty_unknown_section),
        cmocka_unit_test (test_endpoints_and_numbers),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
