/*  config.c - see config.h.

    inih does the INI syntax. Line numbers come from our own line reader handed to
    ini_parse_stream: Debian's inih is built without INI_HANDLER_LINENO, and the handler
   is always called right after the line it reports on has been read.
*/
#include "config.h"
#include "mem.h"
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DATA_DIR "./hub-data"
#define DEFAULT_ENDPOINT "tcp://127.0.0.1:7400"
#ifndef HUB_PLUGIN_DIR
#define HUB_PLUGIN_DIR "/usr/local/lib/hubd/plugins"
#endif

typedef struct {
    config_t *config;
    FILE *file;
    int line;
    char *errors;
    size_t errors_size;
    int error_count;
    config_relay_t *relay; //  the [relay.NAME] section being read, if any
    bool keyed; //  inih's "previous name": a named key was read since the last header
    //  What the file has said so far ("[section]" and "section\nkey"), with its line: a
    //  second one is an error, not a silent "the last one wins"
    struct {
        char *text;
        int line;
    } * seen;
    size_t seen_count;
} s_parse_t;

//  The line where text was first seen, or 0 after noting it as seen at the current line.
static int
s_seen_before (s_parse_t *parse, const char *text)
{
    for (size_t i = 0; i < parse->seen_count; i++)
        if (strcmp (parse->seen[i].text, text) == 0)
            return parse->seen[i].line;
    parse->seen = mem_realloc (parse->seen, (parse->seen_count + 1) * sizeof *parse->seen);
    parse->seen[parse->seen_count].text = mem_strdup (text);
    parse->seen[parse->seen_count++].line = parse->line;
    return 0;
}

static void
s_seen_free (s_parse_t *parse)
{
    for (size_t i = 0; i < parse->seen_count; i++)
        free (parse->seen[i].text);
    free (parse->seen);
}

config_t *
config_new (void)
{
    config_t *self = mem_zalloc (sizeof *self);
    self->data_dir = mem_strdup (DEFAULT_DATA_DIR);
    self->endpoint = mem_strdup (DEFAULT_ENDPOINT);
    self->plugin_dir = mem_strdup (HUB_PLUGIN_DIR);
    self->max_message_bytes = 65536;
    self->log_level = LOG_LEVEL_INFO;
    self->reminder_before_s[0] = 3 * 86400;
    self->reminder_before_s[1] = 86400;
    self->reminder_before_count = 2;
    self->overdue_every_s = 86400;
    self->digest_every_s = 7 * 86400;
    return self;
}

void
config_set (char **field, const char *value)
{
    free (*field);
    *field = mem_strdup (value);
}

bool
config_parse_duration (const char *text, uint64_t *seconds)
{
    while (isspace ((unsigned char)*text))
        text++;
    if (!isdigit ((unsigned char)*text))
        return false;
    errno = 0;
    char *end;
    unsigned long long value = strtoull (text, &end, 10);
    if (errno)
        return false;
    uint64_t unit = 1;
    switch (*end) {
    case 's':
        unit = 1;
        end++;
        break;
    case 'm':
        unit = 60;
        end++;
        break;
    case 'h':
        unit = 3600;
        end++;
        break;
    case 'd':
        unit = 86400;
        end++;
        break;
    default: break;
    }
    while (isspace ((unsigned char)*end))
        end++;
    if (*end || value > CONFIG_DURATION_MAX_S / unit)
        return false;
    *seconds = value * unit;
    return true;
}

static void
s_error (s_parse_t *parse, const char *format, ...)
{
    parse->error_count++;
    size_t used = parse->errors ? strlen (parse->errors) : 0;
    if (!parse->errors || used + 1 >= parse->errors_size)
        return;
    int len = snprintf (parse->errors + used, parse->errors_size - used,
                        "%s:%d: ", parse->config->path, parse->line);
    if (len < 0 || used + (size_t)len >= parse->errors_size)
        return;
    used += (size_t)len;
    va_list args;
    va_start (args, format);
    vsnprintf (parse->errors + used, parse->errors_size - used, format, args);
    va_end (args);
    used = strlen (parse->errors);
    if (used + 1 < parse->errors_size)
        strcat (parse->errors, "\n");
}

//  Parses a comma-separated list of at most max durations. NULL, or what is wrong.
static const char *
s_parse_duration_list (const char *value, uint64_t *out, size_t max, size_t *count)
{
    const char *why = NULL;
    size_t n = 0;
    //  A blank value is the empty list: no reminder before the due time.
    for (const char *item = value; !why && value[strspn (value, " \t")]; item++) {
        size_t len = strcspn (item, ",");
        char text[64];
        snprintf (text, sizeof text, "%.*s", (int)(len < sizeof text ? len : sizeof text - 1),
                  item);
        if (strspn (text, " \t") == strlen (text))
            why = "an empty item (two commas, or one at either end)";
        else if (n == max)
            why = "more than 16 durations";
        else if (len >= sizeof text || !config_parse_duration (text, &out[n]))
            why = "an item that is not a duration of at most 36500d";
        else
            n++;
        item += len;
        if (!*item)
            break;
    }
    *count = n;
    return why;
}

bool
config_endpoint_valid (const char *text)
{
    if (strncmp (text, "ipc://", 6) == 0)
        return text[6] != 0;
    if (strncmp (text, "tcp://", 6) != 0)
        return false;
    const char *colon = strrchr (text + 6, ':');
    if (!colon || colon == text + 6)
        return false;
    if (strcmp (colon + 1, "*") == 0)
        return true;
    char *end;
    errno = 0;
    long port = strtol (colon + 1, &end, 10);
    return colon[1] && !*end && !errno && port >= 0 && port <= 65535;
}

static void
s_hub_key (s_parse_t *parse, const char *name, const char *value)
{
    config_t *config = parse->config;
    if (strcmp (name, "data_dir") == 0 && !*value)
        s_error (parse, "data_dir needs a directory, not an empty value");
    else if (strcmp (name, "data_dir") == 0)
        config_set (&config->data_dir, value);
    else if (strcmp (name, "endpoint") == 0) {
        if (config_endpoint_valid (value))
            config_set (&config->endpoint, value);
        else
            s_error (parse,
                     "endpoint must be tcp://HOST:PORT (PORT a number or *) or "
                     "ipc://PATH, not '%s'",
                     value);
    } else if (strcmp (name, "plugin_dir") == 0)
        config_set (&config->plugin_dir, value);
    else if (strcmp (name, "max_message_bytes") == 0) {
        char *end;
        errno = 0;
        unsigned long long bytes = strtoull (value, &end, 10);
        if (errno || *end || !isdigit ((unsigned char)value[0]) || bytes < 1024 ||
            bytes > 16 * 1024 * 1024)
            s_error (parse,
                     "max_message_bytes must be a number from 1024 to 16777216, not '%s'",
                     value);
        else
            config->max_message_bytes = (size_t)bytes;
    } else if (strcmp (name, "log_level") == 0) {
        if (!log_level_parse (value, &config->log_level))
            s_error (parse, "log_level must be error, warning, notice, info or debug, not '%s'",
                     value);
    } else if (strcmp (name, "verify_threads") == 0) {
        char *end;
        long threads = strtol (value, &end, 10);
        if (!isdigit ((unsigned char)value[0]) || *end || threads < 0 || threads > 64)
            s_error (parse, "verify_threads must be 0 (one per core) to 64, not '%s'", value);
        else
            config->verify_threads = (int)threads;
    } else
        s_error (parse, "unknown key '%s' in [hub]", name);
}

static void
s_reminders_key (s_parse_t *parse, const char *name, const char *value)
{
    config_t *config = parse->config;
    if (strcmp (name, "before") == 0) {
        const char *why =
            s_parse_duration_list (value, config->reminder_before_s, CONFIG_MAX_OFFSETS,
                                   &config->reminder_before_count);
        if (why)
            s_error (parse,
                     "before must be a list of up to 16 durations like '3d, 1d, 2h, 90s' "
                     "(each at most 36500d), not '%s': %s",
                     value, why);
    } else if (strcmp (name, "overdue_every") == 0) {
        if (!config_parse_duration (value, &config->overdue_every_s) ||
            config->overdue_every_s == 0)
            s_error (parse,
                     "overdue_every must be a duration like '1d' or '30s', from 1s to "
                     "36500d, not '%s'",
                     value);
    } else
        s_error (parse, "unknown key '%s' in [reminders]", name);
}

static config_relay_t *
s_relay_section (s_parse_t *parse, const char *section)
{
    const char *name = section + strlen ("relay.");
    config_t *config = parse->config;
    for (size_t i = 0; i < config->relay_count; i++)
        if (strcmp (config->relays[i].name, name) == 0)
            return &config->relays[i];
    if (config->relay_count == CONFIG_MAX_RELAYS) {
        s_error (parse, "too many relays (at most %d)", CONFIG_MAX_RELAYS);
        return NULL;
    }
    config_relay_t *relay = &config->relays[config->relay_count++];
    relay->name = mem_strdup (name);
    relay->line = parse->line;
    return relay;
}

static void
s_relay_key (s_parse_t *parse, config_relay_t *relay, const char *name, const char *value)
{
    if (strcmp (name, "plugin") == 0)
        config_set (&relay->plugin, value);
    else if (strcmp (name, "channels") == 0)
        config_set (&relay->channels, value);
    else if (relay->key_count == CONFIG_MAX_RELAY_KEYS)
        s_error (parse, "too many keys in [relay.%s]", relay->name);
    else {
        config_kv_t *kv = &relay->keys[relay->key_count++];
        kv->key = mem_strdup (name);
        kv->value = mem_strdup (value);
        kv->line = parse->line;
    }
}

static int
s_handler (void *user, const char *section, const char *name, const char *value)
{
    s_parse_t *parse = user;
    if (!name)
        return 1; //  a section header alone
    parse->keyed = name[0] != 0;
    char said[256];
    snprintf (said, sizeof said, "%s\n%s", section, name);
    int first = s_seen_before (parse, said);
    if (first) {
        s_error (parse, "'%s' is given twice in [%s] (first at line %d)", name, section, first);
        return 1;
    }
    if (strcmp (section, "hub") == 0)
        s_hub_key (parse, name, value);
    else if (strcmp (section, "reminders") == 0)
        s_reminders_key (parse, name, value);
    else if (strcmp (section, "digest") == 0) {
        if (strcmp (name, "every") != 0)
            s_error (parse, "unknown key '%s' in [digest]", name);
        else if (!config_parse_duration (value, &parse->config->digest_every_s))
            s_error (
                parse,
                "every must be a duration like '7d' (at most 36500d) or '0' (off), not '%s'",
                value);
    } else if (strncmp (section, "relay.", 6) == 0 && section[6]) {
        config_relay_t *relay = s_relay_section (parse, section);
        if (relay)
            s_relay_key (parse, relay, name, value);
    }
    //  Unknown sections were reported at their header line (s_section).
    return 1;
}

//  inih tells the handler nothing about a section header (Debian builds it without
//  INI_CALL_HANDLER_ON_NEW_SECTION), so headers are seen here, where their line is known:
//  an unknown or empty-named section is reported at its header, and a relay's line is
//  its header's.
static void
s_section (s_parse_t *parse, const char *line)
{
    while (isspace ((unsigned char)*line))
        line++;
    const char *end = *line == '[' ? strchr (line, ']') : NULL;
    if (!end)
        return;
    parse->keyed = false;
    char section[128], header[140];
    snprintf (section, sizeof section, "%.*s", (int)(end - line - 1), line + 1);
    snprintf (header, sizeof header, "[%s]", section);
    int first = s_seen_before (parse, header);
    if (first)
        s_error (parse, "section [%s] is given twice (first at line %d): one section each",
                 section, first);
    else if (strncmp (section, "relay.", 6) == 0 && section[6])
        s_relay_section (parse, section);
    else if (strcmp (section, "hub") != 0 && strcmp (section, "reminders") != 0 &&
             strcmp (section, "digest") != 0)
        s_error (parse, "unknown section [%s]", section);
}

//  inih cuts section and key names to 49 characters without a word (a long relay name
//  then reads as another section); say so instead. NULL if the line's name is fine.
#define S_NAME_MAX 49
static const char *
s_name_problem (const char *line)
{
    if (*line == '[') {
        const char *end = strchr (line, ']');
        return end && end - line - 1 > S_NAME_MAX ? "section name longer than 49 characters"
                                                  : NULL;
    }
    if (!*line || strchr (";#", *line))
        return NULL;
    size_t name = strcspn (line, "=:");
    if (!line[name])
        return NULL; //  not a key line: inih reports it
    while (name && isspace ((unsigned char)line[name - 1]))
        name--;
    if (name == 0)
        return "a key has no name (expected key = value)";
    return name > S_NAME_MAX ? "key name longer than 49 characters" : NULL;
}

//  Hands inih one line of the file at a time, as fgets would. Two kinds of line inih would
//  misread are reported and handed over empty instead: a line longer than its buffer
//  (inih takes the rest for lines of their own: keys out of thin air, line numbers past
//  the end), and an indented line after a key, which inih appends to that key's value
//  (an indented "endpoint = ..." would silently replace data_dir).
static char *
s_reader (char *str, int num, void *stream)
{
    s_parse_t *parse = stream;
    size_t len = 0;
    bool too_long = false;
    int c = EOF;
    while ((c = getc (parse->file)) != EOF && c != '\n') {
        if (len + 2 < (size_t)num)
            str[len++] = (char)c;
        else
            too_long = true;
    }
    if (c == EOF && len == 0 && !too_long)
        return NULL;
    if (c == '\n')
        str[len++] = '\n';
    str[len] = 0;
    parse->line++;
    const char *start = str;
    while (isspace ((unsigned char)*start))
        start++;
    const char *why = too_long ? NULL : s_name_problem (start);
    if (too_long)
        s_error (parse, "line is longer than %d characters", num - 2);
    else if (why)
        s_error (parse, "%s", why);
    else if (parse->keyed && start > str && *start && !strchr (";#", *start))
        s_error (parse, "line starts with a space: a value cannot continue on the next line");
    else {
        s_section (parse, str);
        return str;
    }
    str[0] = 0;
    return str;
}

int
config_load (config_t *self, const char *path, char *errors, size_t errors_size)
{
    config_set (&self->path, path);
    if (errors && errors_size)
        errors[0] = 0;
    s_parse_t parse = {.config = self, .errors = errors, .errors_size = errors_size};
    parse.file = fopen (path, "r");
    if (!parse.file) {
        s_error (&parse, "cannot read: %s", strerror (errno));
        return parse.error_count;
    }
    int rc = ini_parse_stream (s_reader, &parse, s_handler, &parse);
    fclose (parse.file);
    s_seen_free (&parse);
    if (rc > 0) {
        parse.line = rc;
        s_error (&parse, "syntax error (expected [section] or key = value)");
    }
    for (size_t i = 0; i < self->relay_count; i++) {
        config_relay_t *relay = &self->relays[i];
        parse.line = relay->line;
        if (!relay->plugin)
            s_error (&parse, "[relay.%s] has no plugin = ...", relay->name);
        char **channels = relay->channels ? config_split (relay->channels) : NULL;
        if (!relay->channels)
            s_error (&parse, "[relay.%s] has no channels = ...", relay->name);
        else if (!channels[0])
            s_error (&parse, "[relay.%s]: channels = '%s' names no channel", relay->name,
                     relay->channels);
        config_split_free (&channels);
    }
    return parse.error_count;
}

const char *
config_relay_get (const config_relay_t *relay, const char *key)
{
    for (size_t i = 0; i < relay->key_count; i++)
        if (strcmp (relay->keys[i].key, key) == 0)
            return relay->keys[i].value;
    return NULL;
}

char **
config_split (const char *list)
{
    size_t count = 0, capacity = 4;
    char **items = mem_alloc (capacity * sizeof *items);
    char *copy = mem_strdup (list ? list : ""), *save = NULL;
    for (char *item = strtok_r (copy, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        while (isspace ((unsigned char)*item))
            item++;
        size_t len = strlen (item);
        while (len && isspace ((unsigned char)item[len - 1]))
            item[--len] = 0;
        if (!len)
            continue;
        if (count + 1 >= capacity)
            items = mem_realloc (items, (capacity *= 2) * sizeof *items);
        items[count++] = mem_strdup (item);
    }
    items[count] = NULL;
    free (copy);
    return items;
}

void
config_split_free (char ***items_p)
{
    if (!*items_p)
        return;
    for (char **item = *items_p; *item; item++)
        free (*item);
    free (*items_p);
    *items_p = NULL;
}

void
config_destroy (config_t **self_p)
{
    config_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->relay_count; i++) {
        config_relay_t *relay = &self->relays[i];
        free (relay->name);
        free (relay->plugin);
        free (relay->channels);
        for (size_t k = 0; k < relay->key_count; k++) {
            free (relay->keys[k].key);
            free (relay->keys[k].value);
        }
    }
    free (self->path);
    free (self->data_dir);
    free (self->endpoint);
    free (self->plugin_dir);
    free (self);
    *self_p = NULL;
}
