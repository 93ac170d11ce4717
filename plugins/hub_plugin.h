/*  hub_plugin.h - the relay plugin ABI of hubd. Installed; a third party builds a relay
    against this header alone.

    A relay plugin is a shared object that exports ONE symbol:

        const hub_plugin_t hub_plugin_descriptor = {
            .abi_version = HUB_PLUGIN_ABI_VERSION,
            .struct_size = sizeof (hub_plugin_t),
            .name = "slack",
            ...
        };

    hubd loads it with dlopen from its plugin directory, refuses it with a precise log line
    when abi_version differs or struct_size is smaller than it needs, then calls init once
    per [relay.NAME] section that names the plugin, deliver once per job, and destroy at
    shutdown. Plugins format and send; they never see the database. What a plugin must
    remember across restarts (the Trello card of an action item) it returns as a *memo*
    in its result; hubd stores it with the job's outcome and hands it back through
    host->memo_get.

    Threads: each relay has a worker thread of its own; init, deliver and destroy of one
    relay are called from it, one job at a time, in order. deliver may block (it does
    network I/O) but must bound every wait: set timeouts on everything (e.g.
    CURLOPT_TIMEOUT). To check a configuration (--check-config, every start, and before a
    SIGHUP applies) hubd also calls init and then destroy, with no deliver, from another
    thread. job->attempt counts from the start of each try, so an attempt greater than 1
    may follow one that reached the service but whose outcome was never recorded (a
    crash): a plugin that creates things can look for what it made before.

    Ownership: everything the host passes is borrowed for the duration of the call only.
    Strings are NUL-terminated UTF-8.
*/
#ifndef HUB_PLUGIN_H_INCLUDED
#define HUB_PLUGIN_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define HUB_PLUGIN_ABI_VERSION 1

//  Log levels (syslog's): 3 error, 4 warning, 5 notice, 6 info, 7 debug.
typedef enum {
    HUB_PLUGIN_LOG_ERROR = 3,
    HUB_PLUGIN_LOG_WARNING = 4,
    HUB_PLUGIN_LOG_NOTICE = 5,
    HUB_PLUGIN_LOG_INFO = 6,
    HUB_PLUGIN_LOG_DEBUG = 7
} hub_plugin_log_level_t;

//  Services the host offers a plugin (passed to init; valid until destroy).
typedef struct {
    uint32_t abi_version; //  HUB_PLUGIN_ABI_VERSION of the host
    uint32_t struct_size; //  sizeof (hub_host_t) of the host
    void *host;           //  pass back as the first argument of every service
    const char *relay_name; //  NAME of [relay.NAME]

    //  Writes one log line, prefixed with the relay's name. Never pass secrets.
    void (*log) (void *host, int level, const char *format, ...)
        __attribute__ ((format (printf, 3, 4)));

    //  A key of the relay's config section ("smtp_url", "list_id", ...); NULL if absent.
    const char *(*config_get) (void *host, const char *key);

    //  Reads a secret file named by a config key (e.g. "password_file"): refuses a file
    //  readable by group or others, strips one trailing newline. Returns a malloc'd string
    //  the plugin frees, or NULL with a reason in err (that never contains the secret).
    char *(*read_secret) (void *host, const char *path, char *err, size_t err_size);

    //  A memo the plugin returned earlier under key (see hub_relay_result_t), or NULL.
    const char *(*memo_get) (void *host, const char *key);

    //  Nonzero once a delivery in progress should end now: hubd is stopping and has
    //  waited a grace time for it. A plugin asks during long waits (a curl progress
    //  callback) and then reports RETRY: the job stays in the outbox for the next start.
    //  NULL from a host older than this field (it took a reserved slot).
    int (*stopping) (void *host);

    void *reserved[7]; //  room to grow without breaking the ABI; NULL
} hub_host_t;

//  One message to relay. Fields that do not apply are NULL or 0.
typedef struct {
    uint64_t job_id;  //  unique per relay; a retried job keeps its id
    uint32_t attempt; //  1 for the first try
    uint64_t seq;     //  the message's seq in the hub's log
    const char *channel;
    const char *kind; //  message, action, action-done, action-cancel, reminder, digest, admin
    const char *author;     //  partner name ("" if unknown)
    const char *author_key; //  key text
    int64_t ts_ms;          //  when the hub stored it
    const char *title;      //  "" if none
    const char *body;       //  text
    size_t body_len;
    //  Action items (kinds action, action-done, action-cancel, reminder)
    uint64_t action_id;
    const char *action_title;
    const char *owner;       //  owner partner name
    const char *owner_email; //  from the directory ("" if none)
    int64_t due_ms;
    const char *status; //  open, done, cancelled, overdue
    const char *note;   //  done/cancel note
    void *reserved[8];
} hub_relay_job_t;

typedef enum {
    HUB_RELAY_DONE = 0,  //  the remote side accepted it
    HUB_RELAY_RETRY = 1, //  transient: try again later (HTTP 429 or 5xx, SMTP 4xx, a
                         //  timeout, a connect error)
    HUB_RELAY_DEAD = 2   //  permanent: do not retry (HTTP 4xx other than 429, SMTP 5xx,
                         //  bad config)
} hub_relay_outcome_t;

//  What deliver reports. The host zeroes it before the call.
typedef struct {
    hub_relay_outcome_t outcome;
    int32_t retry_after_s; //  RETRY: the service's Retry-After in seconds; 0 = host decides.
                           //  A retry the service paced uses up no attempt of max_tries.
    char error[512];       //  RETRY/DEAD: why (the service's error text); no secrets
    char memo_key[64];     //  optional: remember memo_value under memo_key (e.g. "card:12")
    char memo_value[256];
} hub_relay_result_t;

//  The one exported descriptor.
typedef struct {
    uint32_t abi_version; //  HUB_PLUGIN_ABI_VERSION the plugin was built against
    uint32_t struct_size; //  sizeof (hub_plugin_t) when it was built
    const char *name;     //  what `plugin = NAME` in the config refers to
    const char *description;

    //  Sets up a relay from its config section (through host). Returns 0 and a state in
    //  *state_p, or -1 with a reason in err (no secrets): the relay is then not started.
    //  It asks host->config_get for every key it takes, here: a key of the section that
    //  neither hubd nor init asked for is reported as unknown and the relay not started.
    int (*init) (const hub_host_t *host, void **state_p, char *err, size_t err_size);

    //  Delivers one job; fills result.
    void (*deliver) (void *state, const hub_relay_job_t *job, hub_relay_result_t *result);

    //  Frees the state and sets *state_p to NULL.
    void (*destroy) (void **state_p);

    void *reserved[8];
} hub_plugin_t;

#define HUB_PLUGIN_SYMBOL "hub_plugin_descriptor"

#endif
