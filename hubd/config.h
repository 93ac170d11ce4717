/*  config.h - hubd's settings: embedded defaults, the INI file, command-line overrides.

    The file format is CONTRACT.md's. Every problem found is reported with the file's line
    number; unknown sections and keys are errors, not silently ignored, because a typo in
    a relay section would otherwise drop a partner's notifications without a word.
*/
#ifndef HUBD_CONFIG_H_INCLUDED
#define HUBD_CONFIG_H_INCLUDED

#include "log.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_OFFSETS    16
#define CONFIG_DURATION_MAX_S (36500ULL * 86400) //  100 years: past that, time sums overflow
#define CONFIG_MAX_RELAYS     32
#define CONFIG_MAX_RELAY_KEYS 32

typedef struct {
    char *key;
    char *value;
    int line;
} config_kv_t;

typedef struct {
    char *name;     //  NAME of [relay.NAME]
    char *plugin;   //  email | slack | trello | a third-party plugin's name
    char *channels; //  comma-separated channel names
    int line;       //  line of the section header
    config_kv_t keys[CONFIG_MAX_RELAY_KEYS]; //  every other key, for the plugin
    size_t key_count;
} config_relay_t;

typedef struct {
    char *path; //  the file read, or NULL for embedded defaults
    char *data_dir;
    char *endpoint;
    char *plugin_dir;
    size_t max_message_bytes;
    log_level_t log_level;
    int verify_threads; //  0 = one per core
    uint64_t reminder_before_s[CONFIG_MAX_OFFSETS];
    size_t reminder_before_count;
    uint64_t overdue_every_s;
    uint64_t digest_every_s; //  0 = no digest
    config_relay_t relays[CONFIG_MAX_RELAYS];
    size_t relay_count;
} config_t;

//  Returns a config with the embedded defaults (CONTRACT.md). Caller destroys it.
config_t *config_new (void);

//  Reads path into self. On error writes "FILE:LINE: reason" lines into errors (may be
//  NULL; truncated to errors_size) and returns the number of errors found (0 = fine).
int config_load (config_t *self, const char *path, char *errors, size_t errors_size);

//  Replaces a string setting (data_dir, endpoint) from the command line.
void config_set (char **field, const char *value);

//  Parses a duration "90s", "15m", "2h", "3d" (a bare number is seconds). False if
//  invalid or over CONFIG_DURATION_MAX_S.
bool config_parse_duration (const char *text, uint64_t *seconds);

//  Whether text is an endpoint hubd can listen on: tcp://HOST:PORT (PORT a number or *)
//  or ipc://PATH. Binding may still fail (a host that is not this machine's, a port in
//  use); this catches what is not an endpoint at all, as a configuration error.
bool config_endpoint_valid (const char *text);

//  Looks up a relay's plugin key; NULL if absent. Borrowed.
const char *config_relay_get (const config_relay_t *relay, const char *key);

//  Splits a comma-separated list ("updates, actions") into trimmed items: a NULL-terminated
//  array the caller frees with config_split_free.
char **config_split (const char *list);
void config_split_free (char ***items_p);

void config_destroy (config_t **self_p);

#endif
