/*  relay.c - see relay.h for the retry policy. */
#include "relay.h"
#include "action.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "hub_frame.h"
#include "hub_plugin.h"
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#define RELAY_MAX_TRIES     16 //  2 s doubling to the 1 h cap: about 5 hours of tries
#define RELAY_MAX_TRIES_TOP 1000
#define RELAY_PACED_MAX     100 //  answers that said when to come back, before they count
#define RELAY_BACKOFF_MAX_S 3600
#define RELAY_STALL_MAX_MS  60000 //  the longest wait to write an outcome again
#define RELAY_JOBS_PER_PASS 20    //  between two looks at the clock and the pipe
#define RELAY_STOP_GRACE_MS 2000  //  a stop waits this long for a delivery in progress

//  One worker's statements, prepared once on its own connection: every job runs them.
typedef struct {
    sqlite3 *db;
    sqlite3_stmt *next_job; //  the relay's oldest pending job
    sqlite3_stmt *message;  //  a job's message, its author named as in MSG frames
    sqlite3_stmt *action;   //  an action item's fields
    sqlite3_stmt *claim;    //  an attempt begins: counted, and the next one scheduled
    sqlite3_stmt *record;   //  a job's outcome
    sqlite3_stmt *memo_get;
    sqlite3_stmt *memo_put;
} s_sql_t;

typedef struct {
    char *name;
    char *plugin_name;
    zhashx_t *keys;  //  the relay's config keys
    zhashx_t *asked; //  the keys the plugin asked for while it initialised
    int max_tries;
    void *handle;
    const hub_plugin_t *plugin;
    void *state;
    hub_host_t host;
    const s_sql_t *sql; //  the worker's, borrowed; NULL when checking a configuration
    char memo[256];
    atomic_llong abandon_ms; //  hubd stops: a delivery still going then gives up (0: no)
} s_relay_t;

//  One try of a job: its counts once it is claimed.
typedef struct {
    int64_t job_id;
    int attempts; //  counted against max_tries
    int tries;    //  in all: what the plugin is told
} s_try_t;

//  An outcome the database refused to store (locked, full): kept until it is stored, and
//  nothing else is delivered meanwhile, so a job is never sent again because its
//  outcome was lost.
typedef struct {
    bool waiting;
    s_try_t try;
    hub_relay_result_t result;
} s_unrecorded_t;

//  While the database refuses a write (an attempt's claim or an outcome): the worker
//  writes nothing before until_ms, and the wait doubles each time, up to
//  RELAY_STALL_MAX_MS. Zero when the database takes writes.
typedef struct {
    int64_t until_ms;
    int64_t wait_ms;
} s_stall_t;

//  One relay's worker thread: its own connection, plugin and queue, so one slow service
//  holds up only its own relay.
typedef struct {
    s_sql_t sql;
    s_relay_t relay;
    bool started;    //  the plugin is loaded and initialised
    bool held;       //  waits for GO: a worker of the same name, being retired, may
                     //  still be delivering (jobs go strictly in order, by one at a time)
    int64_t next_ms; //  the head job's due time, if later than now
    s_stall_t stall;
    s_unrecorded_t unrecorded;
    zsock_t *pipe;
    bool ended;                //  RETIRE or $TERM has come
    bool final;                //  $TERM: hubd stops, nobody takes over
    atomic_bool exited;        //  the thread is done: destroying its actor waits for nothing
    atomic_bool woken;         //  a WAKE is in the pipe: at most one, so the pipe never
                               //  fills and GO and $TERM always find room
    const config_relay_t *cfg; //  for the thread's start only
    const char *plugin_dir;
    const char *db_path;
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
    uint8_t admin_pk[HUB_PUBKEY_BYTES];
} s_worker_t;

typedef struct {
    char *name;
    zactor_t *actor;
    s_worker_t *state; //  the thread's; freed here only after it has ended
    bool held;         //  GO not sent yet (the router's copy of state->held)
    char *plugin;      //  the plugin the section names
} s_slot_t;

static void s_relay_clear (s_relay_t *relay);
static bool s_handle_pipe (s_worker_t *self);

struct _relay_t {
    s_slot_t *slots; //  one per [relay.NAME], in the config's order
    size_t count;
    zlistx_t *retiring; //  slots of a reload's predecessors, until their threads end
    zlistx_t *known;    //  names of every relay configured since hubd started
    char *db_path;
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
    uint8_t admin_pk[HUB_PUBKEY_BYTES];
    //  The caller's own connection: relay_stats and relay_retry run on it, so they never
    //  wait for a delivery in progress (a plugin may take its whole timeout) while the
    //  front door, which asks, serves nobody.
    sqlite3 *db;
    sqlite3_stmt *stats; //  on db, prepared once
    sqlite3_stmt *retry;
    sqlite3_stmt *hurry;
};

//  --------------------------------------------------------------------------
//  Plugins and the services hubd offers them

//  Where a plugin is: in dir; or, when dir is the compiled-in default and holds no such
//  plugin, beside this hubd in the build tree (build/hubd/hubd, build/plugins/), so a hub
//  run from a build finds the plugins built with it without being installed.
static void
s_plugin_path (const char *dir, const char *plugin, char *path, size_t size)
{
    snprintf (path, size, "%s/hub_%s.so", dir, plugin);
#ifdef HUB_PLUGIN_DIR
    if (strcmp (dir, HUB_PLUGIN_DIR) != 0 || access (path, F_OK) == 0)
        return;
    char exe[4096];
    ssize_t len = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return;
    exe[len] = 0;
    char *slash = strrchr (exe, '/');
    if (!slash)
        return;
    *slash = 0;
    char built[4096];
    int n = snprintf (built, sizeof built, "%s/../plugins/hub_%s.so", exe, plugin);
    if (n > 0 && (size_t)n < size && access (built, F_OK) == 0)
        memcpy (path, built, (size_t)n + 1);
#endif
}

static const hub_plugin_t *
s_load (const char *dir, const char *plugin, void **handle_p, char *why, size_t size)
{
    char path[4096];
    s_plugin_path (dir, plugin, path, sizeof path);
    void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf (why, size, "cannot load plugin '%s': %s", plugin, dlerror ());
        return NULL;
    }
    const hub_plugin_t *desc = dlsym (handle, HUB_PLUGIN_SYMBOL);
    if (!desc)
        snprintf (why, size, "%s exports no %s", path, HUB_PLUGIN_SYMBOL);
    else if (desc->abi_version != HUB_PLUGIN_ABI_VERSION)
        snprintf (why, size, "%s was built for plugin ABI %u; this hubd speaks ABI %u", path,
                  desc->abi_version, HUB_PLUGIN_ABI_VERSION);
    else if (desc->struct_size < sizeof (hub_plugin_t) || !desc->init || !desc->deliver ||
             !desc->destroy)
        snprintf (why, size, "%s has an incomplete descriptor (struct_size %u, need %zu)", path,
                  desc->struct_size, sizeof (hub_plugin_t));
    else {
        *handle_p = handle;
        return desc;
    }
    dlclose (handle);
    return NULL;
}

static void
s_host_log (void *host, int level, const char *format, ...)
{
    s_relay_t *relay = host;
    char line[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    if (level < LOG_LEVEL_ERROR || level > LOG_LEVEL_DEBUG)
        level = LOG_LEVEL_INFO;
    log_write ((log_level_t)level, "relay", "%s: %s", relay->name, line);
}

static const char *
s_host_config_get (void *host, const char *key)
{
    s_relay_t *relay = host;
    if (relay->asked)
        zhashx_update (relay->asked, key, "");
    return zhashx_lookup (relay->keys, key);
}

//  A key of the section that neither hubd nor the plugin's init asked for is a mistake (a
//  typo, a key of another plugin): false with why naming it.
static bool
s_keys_known (s_relay_t *relay, const config_relay_t *config, char *why, size_t why_size)
{
    for (size_t k = 0; k < config->key_count; k++) {
        const char *key = config->keys[k].key;
        if (strcmp (key, "max_tries") != 0 && !zhashx_lookup (relay->asked, key)) {
            snprintf (why, why_size, "line %d: unknown key '%s' for plugin %s",
                      config->keys[k].line, key, relay->plugin_name);
            return false;
        }
    }
    return true;
}

static char *
s_host_read_secret (void *host, const char *path, char *err, size_t err_size)
{
    (void)host;
    struct stat st;
    FILE *file = fopen (path, "r");
    if (!file || fstat (fileno (file), &st) != 0) {
        snprintf (err, err_size, "cannot read secret file %s: %s", path, strerror (errno));
        if (file)
            fclose (file);
        return NULL;
    }
    if (st.st_mode & 077) {
        snprintf (err, err_size,
                  "secret file %s is readable by group or others (mode %04o); "
                  "chmod 600 %s",
                  path, (unsigned)(st.st_mode & 07777), path);
        fclose (file);
        return NULL;
    }
    char *secret = mem_zalloc (4097);
    size_t len = fread (secret, 1, 4096, file);
    fclose (file);
    while (len && (secret[len - 1] == '\n' || secret[len - 1] == '\r'))
        secret[--len] = 0;
    return secret;
}

//  Called from the worker, inside deliver; abandon_ms is set by the router's thread.
static int
s_host_stopping (void *host)
{
    s_relay_t *relay = host;
    int64_t at = atomic_load (&relay->abandon_ms);
    return at != 0 && zclock_mono () >= at;
}

static const char *
s_host_memo_get (void *host, const char *key)
{
    s_relay_t *relay = host;
    if (!relay->sql)
        return NULL; //  checking a configuration: no memos
    sqlite3_stmt *stmt = relay->sql->memo_get;
    sqlite3_bind_text (stmt, 1, relay->name, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, key, -1, SQLITE_STATIC);
    bool found = sqlite3_step (stmt) == SQLITE_ROW;
    if (found)
        snprintf (relay->memo, sizeof relay->memo, "%s", sqlite3_column_text (stmt, 0));
    sqlite3_reset (stmt);
    return found ? relay->memo : NULL;
}

//  max_tries: a whole number from 1 to RELAY_MAX_TRIES_TOP, or the default when absent.
static bool
s_max_tries (const config_relay_t *config, int *tries, char *why, size_t why_size)
{
    *tries = RELAY_MAX_TRIES;
    for (size_t k = 0; k < config->key_count; k++) {
        if (strcmp (config->keys[k].key, "max_tries") != 0)
            continue;
        const char *text = config->keys[k].value;
        char *end = NULL;
        errno = 0;
        long value = strtol (text, &end, 10);
        if (errno || end == text || *end || value < 1 || value > RELAY_MAX_TRIES_TOP ||
            !isdigit ((unsigned char)*text)) {
            snprintf (why, why_size,
                      "line %d: max_tries must be a whole number from 1 to %d, "
                      "not '%s'",
                      config->keys[k].line, RELAY_MAX_TRIES_TOP, text);
            return false;
        }
        *tries = (int)value;
    }
    return true;
}

//  Loads the relay's plugin and initialises it from its config section. False with why
//  filled (and the relay left without a plugin) if either fails.
static bool
s_relay_start (s_relay_t *relay, const config_relay_t *config, const char *plugin_dir,
               char *why, size_t why_size)
{
    relay->name = mem_strdup (config->name);
    relay->plugin_name = mem_strdup (config->plugin);
    relay->keys = zhashx_new ();
    zhashx_set_destructor (relay->keys, (zhashx_destructor_fn *)zstr_free);
    for (size_t k = 0; k < config->key_count; k++)
        zhashx_update (relay->keys, config->keys[k].key, mem_strdup (config->keys[k].value));
    zhashx_update (relay->keys, "channels", mem_strdup (config->channels));
    if (!s_max_tries (config, &relay->max_tries, why, why_size))
        return false;
    relay->plugin = s_load (plugin_dir, config->plugin, &relay->handle, why, why_size);
    if (!relay->plugin)
        return false;
    relay->host = (hub_host_t){.abi_version = HUB_PLUGIN_ABI_VERSION,
                               .struct_size = sizeof (hub_host_t),
                               .host = relay,
                               .relay_name = relay->name,
                               .log = s_host_log,
                               .config_get = s_host_config_get,
                               .read_secret = s_host_read_secret,
                               .memo_get = s_host_memo_get,
                               .stopping = s_host_stopping};
    char init_why[512] = "";
    relay->asked = zhashx_new ();
    int rc = relay->plugin->init (&relay->host, &relay->state, init_why, sizeof init_why);
    bool ok = rc == 0 && s_keys_known (relay, config, why, why_size);
    if (rc != 0)
        snprintf (why, why_size, "plugin %s refused its configuration: %s", relay->plugin_name,
                  init_why);
    else if (!ok)
        relay->plugin->destroy (&relay->state);
    zhashx_destroy (&relay->asked);
    if (!ok) {
        dlclose (relay->handle);
        relay->plugin = NULL;
        relay->handle = NULL;
        return false;
    }
    return true;
}

//  --------------------------------------------------------------------------
//  Jobs

//  The strings a job points to, owned here for the duration of one delivery.
typedef struct {
    hub_relay_job_t job;
    hub_header_t hdr;
    char *strings[12];
    size_t count;
} s_job_t;

static const char *
s_keep (s_job_t *job, const unsigned char *text)
{
    char *copy = mem_strdup (text ? (const char *)text : "");
    job->strings[job->count++] = copy;
    return copy;
}

static void
s_job_clear (s_job_t *job)
{
    for (size_t i = 0; i < job->count; i++)
        free (job->strings[i]);
    hub_header_clear (&job->hdr);
}

//  Fills in what a plugin needs about an action item (kinds action, action-done, ...).
static void
s_job_action (const s_sql_t *sql, s_job_t *job)
{
    uint64_t id = job->job.seq;
    if (strcmp (job->job.kind, "action") != 0) {
        json_t *fields =
            job->hdr.action_json ? json_loads (job->hdr.action_json, 0, NULL) : NULL;
        id = (uint64_t)json_integer_value (json_object_get (fields, "id"));
        json_decref (fields);
    }
    sqlite3_stmt *stmt = sql->action;
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)id);
    if (sqlite3_step (stmt) == SQLITE_ROW) {
        hub_relay_job_t *j = &job->job;
        j->action_id = id;
        j->action_title = s_keep (job, sqlite3_column_text (stmt, 0));
        j->owner = s_keep (job, sqlite3_column_text (stmt, 1));
        j->due_ms = sqlite3_column_int64 (stmt, 2);
        const char *status = (const char *)sqlite3_column_text (stmt, 3);
        bool overdue = strcmp (status, "open") == 0 && j->due_ms <= zclock_time ();
        j->status = s_keep (job, (const unsigned char *)(overdue ? "overdue" : status));
        j->note = s_keep (job, sqlite3_column_text (stmt, 4));
        j->owner_email = s_keep (job, sqlite3_column_text (stmt, 5));
    }
    sqlite3_reset (stmt);
}

//  Builds the job for message seq. False if the message cannot be read (logged).
static bool
s_job_build (const s_relay_t *relay, uint64_t seq, s_job_t *job)
{
    sqlite3_stmt *stmt = relay->sql->message;
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)seq);
    bool ok = sqlite3_step (stmt) == SQLITE_ROW &&
              hub_header_decode (sqlite3_column_blob (stmt, 2),
                                 (size_t)sqlite3_column_bytes (stmt, 2), &job->hdr) == HUB_OK;
    if (ok) {
        hub_relay_job_t *j = &job->job;
        j->seq = seq;
        j->channel = s_keep (job, sqlite3_column_text (stmt, 0));
        j->kind = s_keep (job, sqlite3_column_text (stmt, 1));
        j->body = s_keep (job, sqlite3_column_text (stmt, 3));
        j->body_len = strlen (j->body);
        j->ts_ms = sqlite3_column_int64 (stmt, 4);
        //  The name is looked up by the author column, a copy of the signed author: if
        //  someone edited it, the post names nobody rather than the wrong partner.
        bool same =
            sqlite3_column_bytes (stmt, 6) == HUB_PUBKEY_BYTES &&
            memcmp (sqlite3_column_blob (stmt, 6), job->hdr.author, HUB_PUBKEY_BYTES) == 0;
        if (!same)
            log_warning ("relay", "message %llu: its author column is not its signed author",
                         (unsigned long long)seq);
        j->author =
            s_keep (job, same ? sqlite3_column_text (stmt, 5) : (const unsigned char *)"");
        char key[HUB_KEYTEXT_LEN + 1];
        hub_key_to_text (job->hdr.author, key);
        j->author_key = s_keep (job, (const unsigned char *)key);
        j->title = job->hdr.title;
    } else
        log_error ("relay", "cannot read message %llu for the outbox", (unsigned long long)seq);
    sqlite3_reset (stmt);
    if (ok && action_kind (job->job.kind))
        s_job_action (relay->sql, job);
    return ok;
}

static int64_t
s_backoff_ms (int attempts, int retry_after_s)
{
    //  A service's wait is taken up to the backoff's cap: one odd answer (a proxy's
    //  Retry-After of a day) must not park the relay's whole queue.
    if (retry_after_s > 0)
        return (int64_t)(retry_after_s < RELAY_BACKOFF_MAX_S ? retry_after_s
                                                             : RELAY_BACKOFF_MAX_S) *
               1000;
    int64_t base = (int64_t)1000 << (attempts < 12 ? attempts : 12);
    if (base > RELAY_BACKOFF_MAX_S * 1000)
        base = RELAY_BACKOFF_MAX_S * 1000;
    //  +-20% jitter, so relays retrying after one outage do not stampede together.
    int64_t jitter = (int64_t)randombytes_uniform ((uint32_t)(base * 2 / 5 + 1)) - base / 5;
    return base + jitter;
}

//  The state an outcome leaves a job in, when it is due again, and the attempts it has
//  used up then.
static const char *
s_outcome_state (const s_relay_t *relay, const s_try_t *try, const hub_relay_result_t *result,
                 int64_t now, int64_t *next, int *attempts)
{
    *next = now;
    *attempts = try->attempts;
    if (result->outcome == HUB_RELAY_DONE)
        return "done";
    //  A service that said when to come back (429, 503 with Retry-After) is pacing us:
    //  that answer uses up no attempt, while the job has had fewer than RELAY_PACED_MAX
    //  tries more than attempts (tries also counts those before a relay retry).
    bool retry = result->outcome == HUB_RELAY_RETRY;
    //  A delivery hubd ended because it stops was not the service's failure: it uses up
    //  no attempt and is due again at once, at the next start.
    int64_t abandon = atomic_load (&relay->abandon_ms);
    if (retry && abandon && zclock_mono () >= abandon && result->retry_after_s <= 0) {
        *attempts = try->attempts - 1;
        return "pending";
    }
    bool paced =
        retry && result->retry_after_s > 0 && try->tries - try->attempts < RELAY_PACED_MAX;
    if (paced)
        *attempts = try->attempts - 1;
    if (!paced && !(retry && try->attempts < relay->max_tries))
        return "dead";
    *next = now + s_backoff_ms (try->attempts, result->retry_after_s);
    return "pending";
}

//  Stores a job's outcome and its memo in one transaction: a Trello card id must never be
//  lost while its job is marked as done (the next job would create a second card). False
//  if the database refused (logged; nothing was changed).
static bool
s_record (s_relay_t *relay, const s_try_t *try, const hub_relay_result_t *result)
{
    int64_t now = zclock_time (), next;
    int attempts;
    const char *state = s_outcome_state (relay, try, result, now, &next, &attempts);
    sqlite3 *db = relay->sql->db;
    int rc = db_exec (db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK) {
        sqlite3_stmt *stmt = relay->sql->record;
        sqlite3_bind_text (stmt, 1, state, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 2, next);
        if (strcmp (state, "done") == 0)
            sqlite3_bind_int64 (stmt, 3, now);
        else
            sqlite3_bind_null (stmt, 3);
        sqlite3_bind_text (stmt, 4, result->error, -1, SQLITE_STATIC);
        sqlite3_bind_int (stmt, 5, attempts);
        sqlite3_bind_int64 (stmt, 6, try->job_id);
        rc = sqlite3_step (stmt) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode (db);
        sqlite3_reset (stmt);
    }
    if (rc == SQLITE_OK && result->memo_key[0]) {
        sqlite3_stmt *stmt = relay->sql->memo_put;
        sqlite3_bind_text (stmt, 1, relay->name, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 2, result->memo_key, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 3, result->memo_value, -1, SQLITE_STATIC);
        rc = sqlite3_step (stmt) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode (db);
        sqlite3_reset (stmt);
    }
    if (rc == SQLITE_OK)
        rc = db_exec (db, "COMMIT");
    if (rc != SQLITE_OK) {
        log_error ("relay",
                   "%s: cannot store the outcome of job %lld (%s): %s; it is kept "
                   "and stored again, nothing is sent meanwhile",
                   relay->name, (long long)try->job_id, state, sqlite3_errstr (rc));
        if (!sqlite3_get_autocommit (db))
            db_exec (db, "ROLLBACK");
        return false;
    }
    if (strcmp (state, "dead") == 0)
        log_warning ("relay", "%s: job %lld is dead after %d attempts: %s", relay->name,
                     (long long)try->job_id, attempts, result->error);
    else if (strcmp (state, "pending") == 0)
        log_notice ("relay", "%s: job %lld will be retried in %lld s: %s", relay->name,
                    (long long)try->job_id, (long long)((next - now + 500) / 1000),
                    result->error);
    return true;
}

//  Before a delivery: the try is counted, marked in progress, and the next one scheduled,
//  so a try cut short by a crash still counts (a job that crashes hubd dies after
//  max_tries, instead of being tried at every start for ever) and is not tried again at
//  once. False if the database refused (logged).
static bool
s_claim (s_relay_t *relay, const s_try_t *try)
{
    sqlite3_stmt *stmt = relay->sql->claim;
    sqlite3_bind_int (stmt, 1, try->attempts);
    sqlite3_bind_int (stmt, 2, try->tries);
    sqlite3_bind_int64 (stmt, 3, zclock_time () + s_backoff_ms (try->attempts, 0));
    sqlite3_bind_int64 (stmt, 4, try->job_id);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
        log_error ("relay", "%s: cannot count try %d of job %lld: %s; not sending it yet",
                   relay->name, try->tries, (long long)try->job_id, sqlite3_errstr (rc));
    return rc == SQLITE_DONE;
}

//  The database refused a write: the next one waits twice as long as the last.
static void
s_stall_more (s_stall_t *stall)
{
    stall->wait_ms = stall->wait_ms ? stall->wait_ms * 2 : 500;
    if (stall->wait_ms > RELAY_STALL_MAX_MS)
        stall->wait_ms = RELAY_STALL_MAX_MS;
    stall->until_ms = zclock_time () + stall->wait_ms;
}

//  Stores a kept outcome once the stall allows; true once there is none left.
static bool
s_record_kept (s_worker_t *self)
{
    s_unrecorded_t *kept = &self->unrecorded;
    if (!kept->waiting)
        return true;
    if (zclock_time () < self->stall.until_ms)
        return false;
    if (!s_record (&self->relay, &kept->try, &kept->result)) {
        s_stall_more (&self->stall);
        return false;
    }
    log_notice ("relay", "%s: the outcome of job %lld is stored now", self->relay.name,
                (long long)kept->try.job_id);
    *kept = (s_unrecorded_t){0};
    self->stall = (s_stall_t){0};
    return true;
}

//  Delivers the relay's oldest pending job if it is due. Returns false when there is
//  nothing to do now (self->next_ms then says when, if anything is pending).
static bool
s_deliver_one (s_worker_t *self)
{
    s_relay_t *relay = &self->relay;
    if (!s_record_kept (self) || zclock_time () < self->stall.until_ms)
        return false;
    sqlite3_stmt *stmt = relay->sql->next_job;
    sqlite3_bind_text (stmt, 1, relay->name, -1, SQLITE_STATIC);
    bool have = sqlite3_step (stmt) == SQLITE_ROW;
    s_try_t try = {0};
    try.job_id = have ? sqlite3_column_int64 (stmt, 0) : 0;
    uint64_t seq = have ? (uint64_t)sqlite3_column_int64 (stmt, 1) : 0;
    try.attempts = have ? sqlite3_column_int (stmt, 2) : 0;
    int64_t due = have ? sqlite3_column_int64 (stmt, 3) : 0;
    try.tries = have ? sqlite3_column_int (stmt, 4) : 0;
    bool cut_short = have && sqlite3_column_int (stmt, 5) != 0;
    sqlite3_reset (stmt);
    if (!have)
        return false;
    if (due > zclock_time ()) {
        if (!self->next_ms || due < self->next_ms)
            self->next_ms = due;
        return false;
    }
    s_job_t job = {0};
    hub_relay_result_t result = {0};
    if (cut_short && try.attempts >= relay->max_tries) {
        //  Claimed, never recorded: hubd stopped during the last attempt the job had.
        result.outcome = HUB_RELAY_DEAD;
        snprintf (result.error, sizeof result.error,
                  "attempt %d of %d was cut short (hubd stopped during it)", try.attempts,
                  relay->max_tries);
    } else {
        try.attempts++;
        try.tries++;
        if (!s_claim (relay, &try)) {
            s_stall_more (&self->stall);
            return false;
        }
        self->stall = (s_stall_t){0};
        if (s_job_build (relay, seq, &job)) {
            job.job.job_id = (uint64_t)try.job_id;
            job.job.attempt = (uint32_t)try.tries;
            relay->plugin->deliver (relay->state, &job.job, &result);
        } else {
            result.outcome = HUB_RELAY_DEAD;
            snprintf (result.error, sizeof result.error, "message %llu cannot be read",
                      (unsigned long long)seq);
        }
    }
    s_job_clear (&job);
    if (!s_record (relay, &try, &result)) {
        self->unrecorded = (s_unrecorded_t){.waiting = true, .try = try, .result = result};
        s_stall_more (&self->stall);
    }
    return true;
}

//  Between two jobs: $TERM (a stop or a reload) is heard before the next delivery, not
//  after a whole pass. False once ended.
static bool
s_pipe_heard (s_worker_t *self)
{
    while (!self->ended && (zsock_events (self->pipe) & ZMQ_POLLIN))
        self->ended = !s_handle_pipe (self);
    return !self->ended;
}

//  Delivers what is due; true if more is due right away.
static bool
s_work (s_worker_t *self)
{
    self->next_ms = 0;
    if (!self->started || self->held)
        return false;
    int n = 0;
    while (n < RELAY_JOBS_PER_PASS && s_pipe_heard (self) && !self->held &&
           s_deliver_one (self))
        n++;
    return n == RELAY_JOBS_PER_PASS;
}

//  --------------------------------------------------------------------------
//  The worker thread

static void
s_sql_prepare (s_sql_t *sql, sqlite3 *db, const uint8_t hub_pk[HUB_PUBKEY_BYTES],
               const uint8_t admin_pk[HUB_PUBKEY_BYTES])
{
    sql->db = db;
    sql->next_job =
        db_prepare (db, "SELECT id, seq, attempts, next_ms, tries, claimed FROM relay_jobs "
                        "WHERE relay = ? AND state = 'pending' ORDER BY id LIMIT 1");
    //  Authors are named as in MSG frames (PROTOCOL.md 7.2): "hub", "admin", a partner.
    //  The two built-in keys are bound once: a reset keeps its bindings.
    sql->message = db_prepare (
        db,
        "SELECT m.channel, m.kind, m.header, m.body, m.hub_ts_ms, "
        "coalesce(p.name, CASE m.author WHEN ?2 THEN 'hub' WHEN ?3 THEN 'admin' END, ''), "
        "m.author FROM messages m LEFT JOIN partners p ON p.key = m.author WHERE m.seq = ?1");
    sqlite3_bind_blob (sql->message, 2, hub_pk, HUB_PUBKEY_BYTES, SQLITE_TRANSIENT);
    sqlite3_bind_blob (sql->message, 3, admin_pk, HUB_PUBKEY_BYTES, SQLITE_TRANSIENT);
    sql->action = db_prepare (
        db, "SELECT a.title, a.owner, a.due_ms, a.status, a.note, coalesce(p.email, '') "
            "FROM actions a LEFT JOIN partners p ON p.name = a.owner AND p.left_ms IS NULL "
            "WHERE a.id = ?"); //  one who left the partnership is mailed no more
    sql->claim = db_prepare (db, "UPDATE relay_jobs SET attempts = ?, tries = ?, claimed = 1, "
                                 "next_ms = ? WHERE id = ?");
    sql->record = db_prepare (db, "UPDATE relay_jobs SET state = ?, next_ms = ?, done_ms = ?, "
                                  "last_error = ?, attempts = ?, claimed = 0 WHERE id = ?");
    sql->memo_get =
        db_prepare (db, "SELECT value FROM relay_memos WHERE relay = ? AND key = ?");
    sql->memo_put = db_prepare (db, "INSERT OR REPLACE INTO relay_memos VALUES (?, ?, ?)");
}

static void
s_sql_close (s_sql_t *sql)
{
    sqlite3_finalize (sql->next_job);
    sqlite3_finalize (sql->message);
    sqlite3_finalize (sql->action);
    sqlite3_finalize (sql->claim);
    sqlite3_finalize (sql->record);
    sqlite3_finalize (sql->memo_get);
    sqlite3_finalize (sql->memo_put);
    sqlite3_close (sql->db);
    sql->db = NULL;
}

//  One command from the router: WAKE, GO, RETIRE (a reload: stop after the delivery in
//  progress) or $TERM (hubd stops). False on the last two.
static bool
s_handle_pipe (s_worker_t *self)
{
    char *command = NULL;
    if (zsock_recv (self->pipe, "s", &command) != 0 || !command) {
        self->final = true;
        return false;
    }
    if (streq (command, "$TERM"))
        self->final = true;
    bool go_on = !self->final && !streq (command, "RETIRE");
    if (streq (command, "GO"))
        self->held = false;
    else if (streq (command, "WAKE"))
        atomic_store (&self->woken, false);
    zstr_free (&command);
    return go_on;
}

//  A connection of the relay module; its writes wait up to busy_ms for the store's commits
//  (the store is the main writer). NULL if the database cannot be opened (logged).
static sqlite3 *
s_open (const char *db_path, int busy_ms)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        log_error ("relay", "cannot open %s: %s", db_path, sqlite3_errstr (rc));
        sqlite3_close (db);
        return NULL;
    }
    sqlite3_busy_timeout (db, busy_ms);
    return db;
}

//  The thread starts its plugin itself (init, deliver and destroy of a relay all run on
//  its worker thread, hub_plugin.h), before it signals: the config it reads from is the
//  caller's, valid until then.
static void
s_actor (zsock_t *pipe, void *args)
{
    s_worker_t *self = args;
    self->pipe = pipe;
    sqlite3 *db = s_open (self->db_path, 10000);
    char why[700] = "";
    if (db) {
        s_sql_prepare (&self->sql, db, self->hub_pk, self->admin_pk);
        self->relay.sql = &self->sql;
        self->started =
            s_relay_start (&self->relay, self->cfg, self->plugin_dir, why, sizeof why);
        if (self->started)
            log_info ("relay", "%s: plugin %s ready%s", self->cfg->name, self->cfg->plugin,
                      self->held ? "; its jobs wait for the worker it replaces" : "");
        else
            log_error ("relay", "%s: %s; this relay is not started", self->cfg->name, why);
    }
    self->cfg = NULL;
    zpoller_t *poller = zpoller_new (pipe, NULL);
    zsock_signal (pipe, 0);
    bool busy = true; //  jobs left from before a restart go out at once
    while (!self->ended) {
        int64_t wait = 1000, soon = self->next_ms;
        if (self->stall.until_ms && (!soon || self->stall.until_ms < soon))
            soon = self->stall.until_ms;
        if (busy)
            wait = 0;
        else if (soon) {
            int64_t until = soon - zclock_time ();
            wait = until < 0 ? 0 : until < wait ? until : wait;
        }
        void *which = zpoller_wait (poller, (int)wait);
        if (which == pipe)
            self->ended = !s_handle_pipe (self);
        if (self->ended || (!which && zpoller_terminated (poller)))
            break;
        busy = s_work (self);
    }
    //  A kept outcome is stored before the worker goes, or its successor (held until
    //  then) or the next start would send the job again. A reload waits for it as long
    //  as it takes; a stop ($TERM) tries once more, within the connection's busy wait.
    while (self->unrecorded.waiting && !self->final) {
        int64_t until = self->stall.until_ms - zclock_time ();
        void *which = zpoller_wait (poller, until > 0 ? (int)until : 0);
        if (which == pipe)
            s_handle_pipe (self);
        else if (!which && zpoller_terminated (poller))
            break;
        s_record_kept (self);
    }
    if (self->unrecorded.waiting) {
        self->stall.until_ms = 0;
        if (!s_record_kept (self))
            log_error ("relay",
                       "%s: the outcome of job %lld could not be stored before hubd stopped; "
                       "the job will be delivered again",
                       self->relay.name, (long long)self->unrecorded.try.job_id);
    }
    zpoller_destroy (&poller);
    s_relay_clear (&self->relay);
    if (self->sql.db)
        s_sql_close (&self->sql);
    atomic_store (&self->exited, true);
}

//  --------------------------------------------------------------------------
//  Status and operator commands

//  A relay's entry in the status object: its pending and dead jobs, and whether a worker
//  carries them.
static json_t *
s_relay_stats (relay_t *self, const char *name, const char *plugin, bool loaded, int64_t now)
{
    sqlite3_stmt *stmt = self->stats;
    json_int_t pending = 0, dead = 0, oldest = 0;
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        if (strcmp ((const char *)sqlite3_column_text (stmt, 0), "pending") == 0) {
            pending = sqlite3_column_int64 (stmt, 1);
            oldest = (now - sqlite3_column_int64 (stmt, 2)) / 1000;
        } else
            dead = sqlite3_column_int64 (stmt, 1);
    }
    sqlite3_reset (stmt);
    return json_pack ("{s:s, s:b, s:I, s:I, s:I}", "plugin", plugin, "loaded", loaded,
                      "pending", pending, "oldest_pending_s", oldest, "dead", dead);
}

char *
relay_stats (relay_t *self)
{
    json_t *all = json_object ();
    int64_t now = zclock_time ();
    //  started is set before the thread signals, never after
    for (size_t r = 0; r < self->count; r++)
        json_object_set_new (all, self->slots[r].name,
                             s_relay_stats (self, self->slots[r].name, self->slots[r].plugin,
                                            self->slots[r].state->started, now));
    //  A relay a reload took out of the configuration keeps its jobs in the outbox (they go
    //  out if it comes back): they are still counted, with no plugin loaded.
    for (char *name = zlistx_first (self->known); name; name = zlistx_next (self->known)) {
        if (json_object_get (all, name))
            continue;
        json_t *entry = s_relay_stats (self, name, "", false, now);
        if (json_integer_value (json_object_get (entry, "pending")) ||
            json_integer_value (json_object_get (entry, "dead")))
            json_object_set_new (all, name, entry);
        else
            json_decref (entry);
    }
    char *text = json_dumps (all, JSON_COMPACT);
    json_decref (all);
    return text;
}

//  --------------------------------------------------------------------------
//  The relays of a configuration

static void
s_slot_start (relay_t *self, s_slot_t *slot, const config_t *config, const config_relay_t *cfg,
              bool held)
{
    s_worker_t *state = mem_zalloc (sizeof *state);
    state->cfg = cfg;
    state->plugin_dir = config->plugin_dir;
    state->db_path = self->db_path;
    state->held = held;
    memcpy (state->hub_pk, self->hub_pk, HUB_PUBKEY_BYTES);
    memcpy (state->admin_pk, self->admin_pk, HUB_PUBKEY_BYTES);
    atomic_init (&state->exited, false);
    atomic_init (&state->woken, false);
    slot->name = mem_strdup (cfg->name);
    slot->plugin = mem_strdup (cfg->plugin);
    slot->state = state;
    slot->held = held;
    slot->actor = zactor_new (s_actor, state);
    zsock_set_sndtimeo (slot->actor, 0); //  commands never wait for a busy worker
}

//  Waits for the slot's thread to end, then frees it.
static void
s_slot_destroy (s_slot_t *slot)
{
    zactor_destroy (&slot->actor);
    free (slot->state);
    free (slot->name);
    free (slot->plugin);
}

//  Asks the slot's thread to stop after the delivery in progress, without waiting: for a
//  reload (a successor takes over) or for good. For good, a delivery still waiting for its
//  service after RELAY_STOP_GRACE_MS gives up: its job stays pending for the next start.
static void
s_slot_stop (s_slot_t *slot, bool final)
{
    if (final)
        atomic_store (&slot->state->relay.abandon_ms, zclock_mono () + RELAY_STOP_GRACE_MS);
    zstr_send (slot->actor, final ? "$TERM" : "RETIRE");
}

static bool
s_retiring (relay_t *self, const char *name)
{
    for (s_slot_t *old = zlistx_first (self->retiring); old; old = zlistx_next (self->retiring))
        if (strcmp (old->name, name) == 0)
            return true;
    return false;
}

static void
s_slots_start (relay_t *self, const config_t *config)
{
    self->count = config->relay_count;
    self->slots = mem_zalloc ((self->count + 1) * sizeof *self->slots);
    for (size_t r = 0; r < self->count; r++) {
        const char *name = config->relays[r].name;
        if (!zlistx_find (self->known, (void *)name))
            zlistx_add_end (self->known, mem_strdup (name));
        //  A worker of the same name still retiring keeps the relay until it has ended.
        s_slot_start (self, &self->slots[r], config, &config->relays[r],
                      s_retiring (self, name));
    }
}

relay_t *
relay_new (const config_t *config, const char *db_path, const uint8_t hub_pk[HUB_PUBKEY_BYTES],
           const uint8_t admin_pk[HUB_PUBKEY_BYTES])
{
    //  The front door's: a relay retry waits for one commit at most, never for long.
    sqlite3 *front_db = s_open (db_path, 2000);
    if (!front_db)
        return NULL;
    relay_t *self = mem_zalloc (sizeof *self);
    self->db_path = mem_strdup (db_path);
    memcpy (self->hub_pk, hub_pk, HUB_PUBKEY_BYTES);
    memcpy (self->admin_pk, admin_pk, HUB_PUBKEY_BYTES);
    self->retiring = zlistx_new ();
    self->known = zlistx_new ();
    zlistx_set_destructor (self->known, (zlistx_destructor_fn *)zstr_free);
    zlistx_set_comparator (self->known, (zlistx_comparator_fn *)strcmp);
    self->db = front_db;
    self->stats = db_prepare (
        front_db, "SELECT state, count(*), min(created_ms) FROM relay_jobs WHERE relay = ? "
                  "AND state IN ('pending', 'dead') GROUP BY state");
    self->retry = db_prepare (
        front_db, "UPDATE relay_jobs SET state = 'pending', attempts = 0, "
                  "next_ms = ?, last_error = '' WHERE relay = ? AND state = 'dead'");
    self->hurry = db_prepare (front_db, "UPDATE relay_jobs SET next_ms = ?1 WHERE relay = ?2 "
                                        "AND state = 'pending' AND claimed = 0 "
                                        "AND next_ms > ?1");
    s_slots_start (self, config);
    return self;
}

void
relay_reload (relay_t *self, const config_t *config)
{
    for (size_t r = 0; r < self->count; r++) {
        s_slot_stop (&self->slots[r], false);
        s_slot_t *slot = mem_alloc (sizeof *slot);
        *slot = self->slots[r];
        zlistx_add_end (self->retiring, slot);
    }
    free (self->slots);
    s_slots_start (self, config);
    relay_tick (self);
}

//  The first retiring slot whose thread has ended, or NULL.
static void *
s_ended_handle (relay_t *self)
{
    for (s_slot_t *old = zlistx_first (self->retiring); old; old = zlistx_next (self->retiring))
        if (atomic_load (&old->state->exited))
            return zlistx_cursor (self->retiring);
    return NULL;
}

void
relay_tick (relay_t *self)
{
    if (zlistx_size (self->retiring) == 0)
        return;
    void *handle;
    while ((handle = s_ended_handle (self))) {
        s_slot_t *old = zlistx_handle_item (handle);
        zlistx_delete (self->retiring, handle);
        s_slot_destroy (old);
        free (old);
    }
    for (size_t r = 0; r < self->count; r++) {
        s_slot_t *slot = &self->slots[r];
        if (slot->held && !s_retiring (self, slot->name)) {
            slot->held = false;
            zstr_send (slot->actor, "GO");
        }
    }
}

void
relay_wake (relay_t *self)
{
    //  A WAKE while a worker is busy just runs one more pass; one waiting is enough.
    for (size_t r = 0; r < self->count; r++)
        if (!atomic_exchange (&self->slots[r].state->woken, true))
            zstr_send (self->slots[r].actor, "WAKE");
}

//  Runs an UPDATE of a relay's jobs bound to (now, name); the rows it changed in *changed.
static int
s_update_relay (sqlite3 *db, sqlite3_stmt *stmt, int64_t now, const char *name, int *changed)
{
    sqlite3_bind_int64 (stmt, 1, now);
    sqlite3_bind_text (stmt, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    *changed = sqlite3_changes (db);
    sqlite3_reset (stmt);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
relay_retry (relay_t *self, const char *name, int *hurried)
{
    *hurried = 0;
    bool known = false;
    for (size_t r = 0; r < self->count; r++)
        known |= strcmp (self->slots[r].name, name) == 0;
    //  A relay a reload took out is still listed by status with its jobs: they can be
    //  requeued too, and wait for the relay to be configured again.
    for (const char *was = zlistx_first (self->known); was && !known;
         was = zlistx_next (self->known))
        known = strcmp (was, name) == 0;
    if (!known)
        return RELAY_UNKNOWN;
    //  One transaction: both or neither.
    int64_t now = zclock_time ();
    int count = 0;
    int rc = db_exec (self->db, "BEGIN IMMEDIATE");
    if (rc == SQLITE_OK)
        rc = s_update_relay (self->db, self->retry, now, name, &count);
    if (rc == SQLITE_OK)
        rc = s_update_relay (self->db, self->hurry, now, name, hurried);
    if (rc == SQLITE_OK)
        rc = db_exec (self->db, "COMMIT");
    if (rc != SQLITE_OK) {
        db_exec (self->db, "ROLLBACK");
        *hurried = 0;
        log_error ("relay", "%s: cannot requeue the jobs: %s", name, sqlite3_errstr (rc));
        return RELAY_FAILED;
    }
    log_notice ("relay", "%s: %d dead jobs requeued, %d waiting jobs due now", name, count,
                *hurried);
    return count;
}

void
relay_destroy (relay_t **self_p)
{
    relay_t *self = *self_p;
    if (!self)
        return;
    //  Every worker is told first, so their deliveries in progress end side by side.
    for (size_t r = 0; r < self->count; r++)
        s_slot_stop (&self->slots[r], true);
    for (s_slot_t *old = zlistx_first (self->retiring); old; old = zlistx_next (self->retiring))
        s_slot_stop (old, true);
    for (size_t r = 0; r < self->count; r++)
        s_slot_destroy (&self->slots[r]);
    free (self->slots);
    for (s_slot_t *old = zlistx_first (self->retiring); old;
         old = zlistx_next (self->retiring)) {
        s_slot_destroy (old);
        free (old);
    }
    zlistx_destroy (&self->retiring);
    zlistx_destroy (&self->known);
    sqlite3_finalize (self->stats);
    sqlite3_finalize (self->retry);
    sqlite3_finalize (self->hurry);
    sqlite3_close (self->db);
    free (self->db_path);
    free (self);
    *self_p = NULL;
}

static void
s_relay_clear (s_relay_t *relay)
{
    if (relay->plugin)
        relay->plugin->destroy (&relay->state);
    if (relay->handle)
        dlclose (relay->handle);
    relay->plugin = NULL;
    relay->handle = NULL;
    zhashx_destroy (&relay->keys);
    zhashx_destroy (&relay->asked);
    free (relay->name);
    free (relay->plugin_name);
    relay->name = relay->plugin_name = NULL;
}

int
relay_check (const config_relay_t *config, const char *plugin_dir, char *why, size_t size)
{
    s_relay_t relay = {0};
    bool ok = s_relay_start (&relay, config, plugin_dir, why, size);
    s_relay_clear (&relay);
    return ok ? 0 : -1;
}
