/*  hubctl_out.c - how hubctl prints messages and results.

    Human form of a message (one block each):

        #SEQ CHANNEL KIND TIME AUTHOR [UNVERIFIED]
        TITLE                      (only if the message has one)
        BODY                       (a newline is added if it lacks one)
        (blank line)

    JSON form: one compact object per line (hub_message_to_json). Everything is flushed
    at once: hubctl is read through pipes.
*/
#include "hubctl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
hubctl_print_json (json_t *obj)
{
    char *text = json_dumps (obj, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text)
        printf ("%s\n", text);
    free (text);
    fflush (stdout);
}

void
hubctl_print_message (const hubctl_t *ctx, const hub_message_t *msg)
{
    if (ctx->json) {
        json_t *obj = hub_message_to_json (msg);
        hubctl_print_json (obj);
        json_decref (obj);
        return;
    }
    char ts[HUB_TIME_TEXT_MAX];
    char key[HUB_KEYTEXT_LEN + 1] = "?";
    hub_time_format ((int64_t)msg->hub_ts_ms, ts);
    if (msg->header_ok)
        hub_key_to_text (msg->header.author, key);
    printf ("#%llu %s %s %s %s%s\n", (unsigned long long)msg->seq,
            msg->header_ok ? msg->header.channel : "?", msg->header_ok ? msg->header.kind : "?",
            ts, *msg->author_name ? msg->author_name : key,
            msg->verified ? "" : " [UNVERIFIED]");
    if (msg->header_ok && msg->header.title[0])
        printf ("%s\n", msg->header.title);
    fwrite (msg->body, 1, msg->body_len, stdout);
    if (msg->body_len == 0 || msg->body[msg->body_len - 1] != '\n')
        putchar ('\n');
    putchar ('\n');
    fflush (stdout);
}

void
hubctl_join_list (json_t *array, char *out, size_t size)
{
    size_t i, at = 0;
    json_t *item;
    out[0] = 0;
    json_array_foreach (array, i, item)
    {
        int n = snprintf (out + at, size - at, "%s%s", i ? "," : "", json_string_value (item));
        if (n < 0 || (size_t)n >= size - at)
            break;
        at += (size_t)n;
    }
}

//  Whether every item of array is a string (a list that reads as "a,b,c").
static bool
s_string_list (json_t *array)
{
    size_t i;
    json_t *item;
    json_array_foreach (array, i, item) if (!json_is_string (item)) return false;
    return json_is_array (array);
}

//  Width of the key column: the longest key, nested keys included.
static int
s_key_width (json_t *obj, int prefix_len)
{
    int width = 0;
    const char *key;
    json_t *value;
    json_object_foreach (obj, key, value)
    {
        int w = prefix_len + (int)strlen (key);
        if (json_is_object (value) && json_object_size (value))
            w = s_key_width (value, w + 1);
        if (w > width)
            width = w;
    }
    return width;
}

static void
s_print_rows (json_t *obj, const char *prefix, int width)
{
    const char *key;
    json_t *value;
    json_object_foreach (obj, key, value)
    {
        char name[256];
        snprintf (name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", key);
        if (json_is_object (value) && json_object_size (value)) {
            s_print_rows (value, name, width);
            continue;
        }
        if (s_string_list (value) && json_array_size (value)) {
            char list[4096];
            hubctl_join_list (value, list, sizeof list);
            printf ("%-*s  %s\n", width, name, list);
            continue;
        }
        char *text = json_is_string (value)
                         ? strdup (json_string_value (value))
                         : json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
        //  A time of day in ms since the epoch (joined_ms, ...) also reads as a date; a
        //  duration (uptime_ms) is far below 10^12 ms (the year 2001).
        char when[HUB_TIME_TEXT_MAX] = "";
        size_t len = strlen (key);
        if (json_is_integer (value) && json_integer_value (value) >= 1000000000000LL &&
            len > 3 && strcmp (key + len - 3, "_ms") == 0)
            hub_time_format ((int64_t)json_integer_value (value), when);
        printf ("%-*s  %s%s%s%s\n", width, name, text ? text : "?", *when ? " (" : "", when,
                *when ? ")" : "");
        free (text);
    }
}

void
hubctl_print_table (json_t *obj, const char *prefix)
{
    s_print_rows (obj, prefix ? prefix : "", s_key_width (obj, 0));
    fflush (stdout);
}
