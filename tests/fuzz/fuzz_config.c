/*  fuzz_config.c - libFuzzer harness of hubd's configuration file (hubd/config.c): the
    input is the file, read by config_load into a config of embedded defaults.

    Invariants besides "no crash, no leak, no undefined behaviour":
      - the error text stays inside its buffer, whose size varies with the input down to
        one byte; when it fits, it has one "PATH:LINE: reason" line per error and every
        LINE is a line of the file (config.h: problems are reported at their line);
      - a file without errors gives settings within their documented ranges, relays that
        each have a plugin and channels, and channel lists that split into trimmed names;
      - that config written back in canonical form reads back, without errors, as the
        same config: the parser and what it accepts cannot drift apart.
    Build and run with tests/fuzz/run.sh.
*/
#include "fuzz_common.h"
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

//  The longest line config_load reads (inih's INI_MAX_LINE 200, less newline and NUL).
#define S_LINE_MAX 198

static const char *s_level_names[] = {[LOG_LEVEL_ERROR] = "error",
                                      [LOG_LEVEL_WARNING] = "warning",
                                      [LOG_LEVEL_NOTICE] = "notice",
                                      [LOG_LEVEL_INFO] = "info",
                                      [LOG_LEVEL_DEBUG] = "debug"};

static size_t
s_line_count (const uint8_t *data, size_t size)
{
    size_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    return lines + (size > 0 && data[size - 1] != '\n');
}

//  Every line of errors is "PATH:LINE: reason" with LINE in 1..lines; count lines in all.
static void
s_check_errors (const char *errors, const char *path, int count, size_t lines)
{
    size_t path_len = strlen (path);
    int seen = 0;
    for (const char *line = errors; *line; seen++) {
        const char *end = strchr (line, '\n');
        CHECK (end != NULL);
        CHECK (strncmp (line, path, path_len) == 0 && line[path_len] == ':');
        char *after;
        long number = strtol (line + path_len + 1, &after, 10);
        CHECK (number >= 1 && (size_t)number <= lines);
        CHECK (after[0] == ':' && after[1] == ' ' && after + 2 < end);
        line = end + 1;
    }
    CHECK (seen == count);
}

static void
s_check_list (const char *list)
{
    char **items = config_split (list);
    for (char **item = items; *item; item++) {
        size_t len = strlen (*item);
        CHECK (len > 0 && strchr (*item, ',') == NULL);
        CHECK (!isspace ((unsigned char)(*item)[0]) &&
               !isspace ((unsigned char)(*item)[len - 1]));
    }
    config_split_free (&items);
    CHECK (items == NULL);
}

static void
s_check_limits (const config_t *config)
{
    CHECK (config->max_message_bytes >= 1024 && config->max_message_bytes <= 16777216);
    CHECK (config->log_level >= LOG_LEVEL_ERROR && config->log_level <= LOG_LEVEL_DEBUG);
    CHECK (config->verify_threads >= 0 && config->verify_threads <= 64);
    CHECK (config->reminder_before_count <= CONFIG_MAX_OFFSETS);
    CHECK (config->overdue_every_s > 0);
    CHECK (config->relay_count <= CONFIG_MAX_RELAYS);
    for (size_t i = 0; i < config->relay_count; i++) {
        const config_relay_t *relay = &config->relays[i];
        CHECK (relay->name && relay->name[0] && relay->plugin && relay->channels);
        CHECK (relay->key_count <= CONFIG_MAX_RELAY_KEYS);
        s_check_list (relay->channels);
        for (size_t k = 0; k < relay->key_count; k++)
            CHECK (config_relay_get (relay, relay->keys[k].key) != NULL);
    }
}

//  The config as a file, one "key=value" per line (no space before a value, which inih
//  would take for the start of a " ;" comment). Sets *fits false if a line is longer
//  than inih reads whole. Caller frees the result.
static char *
s_canonical (const config_t *c, bool *fits)
{
    char *text = NULL;
    size_t len = 0;
    FILE *file = open_memstream (&text, &len);
    CHECK (file != NULL);
    fprintf (file, "[hub]\ndata_dir=%s\nendpoint=%s\nplugin_dir=%s\n", c->data_dir, c->endpoint,
             c->plugin_dir);
    fprintf (file, "max_message_bytes=%zu\nlog_level=%s\nverify_threads=%d\n",
             c->max_message_bytes, s_level_names[c->log_level], c->verify_threads);
    fprintf (file, "[reminders]\nbefore=");
    for (size_t i = 0; i < c->reminder_before_count; i++)
        fprintf (file, "%s%llus", i ? "," : "", (unsigned long long)c->reminder_before_s[i]);
    fprintf (file, "\noverdue_every=%llus\n[digest]\nevery=%llus\n",
             (unsigned long long)c->overdue_every_s, (unsigned long long)c->digest_every_s);
    for (size_t i = 0; i < c->relay_count; i++) {
        const config_relay_t *relay = &c->relays[i];
        fprintf (file, "[relay.%s]\nplugin=%s\nchannels=%s\n", relay->name, relay->plugin,
                 relay->channels);
        for (size_t k = 0; k < relay->key_count; k++)
            fprintf (file, "%s=%s\n", relay->keys[k].key, relay->keys[k].value);
    }
    CHECK (fclose (file) == 0);
    *fits = true;
    for (const char *line = text; *line;) {
        size_t line_len = strcspn (line, "\n");
        *fits &= line_len <= S_LINE_MAX;
        line += line_len + (line[line_len] == '\n');
    }
    return text;
}

//  The canonical form is the whole config: reading it back must give the same form.
static void
s_round_trip (const config_t *config)
{
    bool fits;
    char *text = s_canonical (config, &fits);
    if (fits) {
        const char *path = fuzz_write_file ("canonical.conf", text, strlen (text));
        config_t *again = config_new ();
        char errors[4096];
        int count = config_load (again, path, errors, sizeof errors);
        CHECK_SAY (count == 0, "canonical form:\n%s\nrefused:\n%s", text, errors);
        char *again_text = s_canonical (again, &fits);
        CHECK_SAY (strcmp (text, again_text) == 0, "canonical form:\n%s\nread back as:\n%s",
                   text, again_text);
        free (again_text);
        config_destroy (&again);
    }
    free (text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file ("hubd.conf", data, size);
    //  Mostly a roomy error buffer, sometimes one too small for a single line.
    size_t errors_size = size % 5 == 4 ? 1 + size % 29 : 8192;
    char *errors = malloc (errors_size);
    CHECK (errors != NULL);
    config_t *config = config_new ();
    int count = config_load (config, path, errors, errors_size);
    CHECK (count >= 0);
    size_t used = strnlen (errors, errors_size);
    CHECK (used < errors_size);
    CHECK ((count == 0) == (used == 0) || errors_size < 64);
    if (errors_size == 8192 && used < errors_size - 512)
        s_check_errors (errors, path, count, s_line_count (data, size));
    if (count == 0) {
        s_check_limits (config);
        s_round_trip (config);
    }
    config_destroy (&config);
    CHECK (config == NULL);
    free (errors);
    return 0;
}
