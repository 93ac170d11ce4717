/*  relay.c - see relay.h for the retry policy. */
#include "relay.h"
#include "action.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "hub_frame.h"
#include "hub_plugin.h"
#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#define RELAY_MAX_TRIES     10
#define RELAY_BACKOFF_MAX_S 3600
#define RELAY_JOBS_PER_PASS 20 //  per relay, so relays take turns and the pipe is heard

//  The worker's statements, prepared once on its connection and shared by its relays:
//  every pass and every job runs them, so none is compiled again per job.
typedef struct {
    sqlite3 *db;
    sqlite3_stmt *next_job; //  a relay's oldest pending job
    sqlite3_stmt *message;  //  a job's message, its author named as in MSG frames
    sqlite3_stmt *action;   //  an action item's fields
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
} s_relay_t;

typedef struct {
    s_sql_t sql;
    s_relay_t *relays;
    size_t relay_count;
    int64_t next_ms; //  earliest pending retry
    zsock_t *pipe;
    bool ended; //  $TERM has come
} s_self_t;

static void s_relay_clear (s_relay_t *relay);
static bool s_handle_pipe (s_self_t *self);

struct _relay_t {
    zactor_t *actor;
    s_self_t *state; //  the thread's; freed here only after it has ended
    //  The caller's own connection: relay_stats and relay_retry run on it, so they never
    //  wait for a delivery in progress (a plugin may take its whole timeout) while the
    //  front door, which asks, serves nobody. Relay names and plugins are fixed once the
    //  worker runs, so both threads read them.
    sqlite3 *db;
    sqlite3_stmt *stats; //  on db, prepared once
    sqlite3_stmt *retry;
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
    const char *tries = config_relay_get (config, "max_tries");
    relay->max_tries = tries && atoi (tries) > 0 ? atoi (tries) : RELAY_MAX_TRIES;
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
                               .memo_get = s_host_memo_get};
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
    log_info ("relay", "%s: plugin %s ready", relay->name, relay->plugin_name);
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
        j->author = s_keep (job, sqlite3_column_text (stmt, 5));
        char key[HUB_KEYTEXT_LEN + 1] = "";
        if (sqlite3_column_bytes (stmt, 6) == HUB_PUBKEY_BYTES)
            hub_key_to_text (sqlite3_column_blob (stmt, 6), key);
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
    if (retry_after_s > 0)
        return (int64_t)retry_after_s * 1000;
    int64_t base = (int64_t)1000 << (attempts < 12 ? attempts : 12);
    if (base > RELAY_BACKOFF_MAX_S * 1000)
        base = RELAY_BACKOFF_MAX_S * 1000;
    //  +-20% jitter, so relays retrying after one outage do not stampede together.
    int64_t jitter = (int64_t)randombytes_uniform ((uint32_t)(base * 2 / 5 + 1)) - base / 5;
    return base + jitter;
}

static void
s_record (s_relay_t *relay, int64_t job_id, int attempts, const hub_relay_result_t *result)
{
    int64_t now = zclock_time ();
    const char *state = "done";
    int64_t next = now;
    if (result->outcome == HUB_RELAY_RETRY && attempts + 1 < relay->max_tries) {
        state = "pending";
        next = now + s_backoff_ms (attempts + 1, result->retry_after_s);
    } else if (result->outcome != HUB_RELAY_DONE)
        state = "dead";
    //  The outcome and the memo in one transaction: a Trello card id must never be lost
    //  while its job is marked as done (or the next job would create a second card).
    sqlite3 *db = relay->sql->db;
    db_exec (db, "BEGIN IMMEDIATE");
    sqlite3_stmt *stmt = relay->sql->record;
    sqlite3_bind_text (stmt, 1, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, next);
    if (strcmp (state, "done") == 0)
        sqlite3_bind_int64 (stmt, 3, now);
    else
        sqlite3_bind_null (stmt, 3);
    sqlite3_bind_text (stmt, 4, result->error, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 5, job_id);
    if (sqlite3_step (stmt) != SQLITE_DONE)
        log_error ("relay", "%s: cannot record job %lld: %s", relay->name, (long long)job_id,
                   sqlite3_errmsg (db));
    sqlite3_reset (stmt);
    if (result->memo_key[0]) {
        stmt = relay->sql->memo_put;
        sqlite3_bind_text (stmt, 1, relay->name, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 2, result->memo_key, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 3, result->memo_value, -1, SQLITE_STATIC);
        sqlite3_step (stmt);
        sqlite3_reset (stmt);
    }
    if (db_exec (db, "COMMIT") != SQLITE_OK) {
        log_error ("relay", "%s: cannot record job %lld: %s", relay->name, (long long)job_id,
                   sqlite3_errmsg (db));
        db_exec (db, "ROLLBACK");
    }
    if (strcmp (state, "dead") == 0)
        log_warning ("relay", "%s: job %lld is dead after %d attempts: %s", relay->name,
                     (long long)job_id, attempts + 1, result->error);
    else if (strcmp (state, "pending") == 0)
        log_notice ("relay", "%s: job %lld will be retried in %lld s: %s", relay->name,
                    (long long)job_id, (long long)((next - now) / 1000), result->error);
}

//  Delivers the relay's oldest pending job if it is due. Returns false when there is
//  nothing to do now; *next_ms gets the time its head job is due, if later.
static bool
s_deliver_one (s_relay_t *relay, int64_t *next_ms)
{
    sqlite3_stmt *stmt = relay->sql->next_job;
    sqlite3_bind_text (stmt, 1, relay->name, -1, SQLITE_STATIC);
    bool have = sqlite3_step (stmt) == SQLITE_ROW;
    int64_t job_id = have ? sqlite3_column_int64 (stmt, 0) : 0;
    uint64_t seq = have ? (uint64_t)sqlite3_column_int64 (stmt, 1) : 0;
    int attempts = have ? sqlite3_column_int (stmt, 2) : 0;
    int64_t due = have ? sqlite3_column_int64 (stmt, 3) : 0;
    sqlite3_reset (stmt);
    if (!have)
        return false;
    if (due > zclock_time ()) {
        if (!*next_ms || due < *next_ms)
            *next_ms = due;
        return false;
    }
    s_job_t job = {0};
    hub_relay_result_t result = {0};
    if (s_job_build (relay, seq, &job)) {
        job.job.job_id = (uint64_t)job_id;
        job.job.attempt = (uint32_t)attempts + 1;
        relay->plugin->deliver (relay->state, &job.job, &result);
    } else {
        result.outcome = HUB_RELAY_DEAD;
        snprintf (result.error, sizeof result.error, "message %llu cannot be read",
                  (unsigned long long)seq);
    }
    s_job_clear (&job);
    s_record (relay, job_id, attempts, &result);
    return true;
}

//  Between two jobs: $TERM (a stop or a reload) is heard before the next delivery, not
//  after a whole pass. False once ended.
static bool
s_pipe_heard (s_self_t *self)
{
    while (!self->ended && (zsock_events (self->pipe) & ZMQ_POLLIN))
        self->ended = !s_handle_pipe (self);
    return !self->ended;
}

//  One pass over the relays; true if some relay has more due jobs right away.
static bool
s_work (s_self_t *self)
{
    bool busy = false;
    self->next_ms = 0;
    for (size_t r = 0; r < self->relay_count; r++) {
        int n = 0;
        while (self->relays[r].plugin && n < RELAY_JOBS_PER_PASS && s_pipe_heard (self) &&
               s_deliver_one (&self->relays[r], &self->next_ms))
            n++;
        busy |= n == RELAY_JOBS_PER_PASS;
    }
    return busy;
}

//  --------------------------------------------------------------------------
//  Status and operator commands

static char *
s_stats (sqlite3_stmt *stmt, const s_self_t *self)
{
    json_t *all = json_object ();
    int64_t now = zclock_time ();
    for (size_t r = 0; r < self->relay_count; r++) {
        const s_relay_t *relay = &self->relays[r];
        json_int_t pending = 0, dead = 0, oldest = 0;
        sqlite3_bind_text (stmt, 1, relay->name, -1, SQLITE_STATIC);
        while (sqlite3_step (stmt) == SQLITE_ROW) {
            if (strcmp ((const char *)sqlite3_column_text (stmt, 0), "pending") == 0) {
                pending = sqlite3_column_int64 (stmt, 1);
                oldest = (now - sqlite3_column_int64 (stmt, 2)) / 1000;
            } else
                dead = sqlite3_column_int64 (stmt, 1);
        }
        sqlite3_reset (stmt);
        json_object_set_new (all, relay->name,
                             json_pack ("{s:s, s:b, s:I, s:I, s:I}", "plugin",
                                        relay->plugin_name, "loaded", relay->plugin != NULL,
                                        "pending", pending, "oldest_pending_s", oldest, "dead",
                                        dead));
    }
    char *text = json_dumps (all, JSON_COMPACT);
    json_decref (all);
    return text;
}

static int
s_retry (sqlite3 *db, sqlite3_stmt *stmt, const s_self_t *self, const char *name)
{
    bool known = false;
    for (size_t r = 0; r < self->relay_count; r++)
        known |= strcmp (self->relays[r].name, name) == 0;
    if (!known)
        return RELAY_UNKNOWN;
    sqlite3_bind_int64 (stmt, 1, zclock_time ());
    sqlite3_bind_text (stmt, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    int count = rc == SQLITE_DONE ? sqlite3_changes (db) : RELAY_FAILED;
    sqlite3_reset (stmt);
    if (count == RELAY_FAILED)
        log_error ("relay", "%s: cannot requeue the dead jobs: %s", name, sqlite3_errstr (rc));
    else
        log_notice ("relay", "%s: %d dead jobs requeued", name, count);
    return count;
}

//  --------------------------------------------------------------------------
//  The thread

static void
s_sql_prepare (s_sql_t *sql, sqlite3 *db, const uint8_t hub_pk[HUB_PUBKEY_BYTES],
               const uint8_t admin_pk[HUB_PUBKEY_BYTES])
{
    sql->db = db;
    sql->next_job =
        db_prepare (db, "SELECT id, seq, attempts, next_ms FROM relay_jobs "
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
            "FROM actions a LEFT JOIN partners p ON p.name = a.owner WHERE a.id = ?");
    sql->record = db_prepare (db, "UPDATE relay_jobs SET state = ?, attempts = attempts + 1, "
                                  "next_ms = ?, done_ms = ?, last_error = ? WHERE id = ?");
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
    sqlite3_finalize (sql->record);
    sqlite3_finalize (sql->memo_get);
    sqlite3_finalize (sql->memo_put);
    sqlite3_close (sql->db);
}

//  One command from the router; false on $TERM.
static bool
s_handle_pipe (s_self_t *self)
{
    zsock_t *pipe = self->pipe;
    char *command = NULL; //  WAKE or $TERM
    if (zsock_recv (pipe, "s", &command) != 0 || !command)
        return false;
    bool go_on = !streq (command, "$TERM");
    zstr_free (&command);
    return go_on;
}

static void
s_actor (zsock_t *pipe, void *args)
{
    s_self_t *self = args;
    self->pipe = pipe;
    zpoller_t *poller = zpoller_new (pipe, NULL);
    zsock_signal (pipe, 0);
    bool busy = true; //  jobs left from before a restart go out at once
    while (true) {
        int64_t wait = 1000;
        if (busy)
            wait = 0;
        else if (self->next_ms) {
            int64_t until = self->next_ms - zclock_time ();
            wait = until < 0 ? 0 : until < wait ? until : wait;
        }
        void *which = zpoller_wait (poller, (int)wait);
        if (which == pipe)
            self->ended = !s_handle_pipe (self);
        if (self->ended || (!which && zpoller_terminated (poller)))
            break;
        busy = s_work (self);
        if (self->ended)
            break;
    }
    zpoller_destroy (&poller);
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

relay_t *
relay_new (const config_t *config, const char *db_path, const uint8_t hub_pk[HUB_PUBKEY_BYTES],
           const uint8_t admin_pk[HUB_PUBKEY_BYTES])
{
    sqlite3 *db = s_open (db_path, 10000);
    //  The front door's: a relay retry waits for one commit at most, never for long.
    sqlite3 *front_db = db ? s_open (db_path, 2000) : NULL;
    if (!front_db) {
        sqlite3_close (db);
        return NULL;
    }
    s_self_t *state = mem_zalloc (sizeof *state);
    s_sql_prepare (&state->sql, db, hub_pk, admin_pk);
    state->relays = mem_zalloc ((config->relay_count + 1) * sizeof *state->relays);
    state->relay_count = config->relay_count;
    for (size_t r = 0; r < config->relay_count; r++) {
        char reason[700] = "";
        state->relays[r].sql = &state->sql;
        if (!s_relay_start (&state->relays[r], &config->relays[r], config->plugin_dir, reason,
                            sizeof reason))
            log_error ("relay", "%s: %s; this relay is not started", config->relays[r].name,
                       reason);
    }
    relay_t *self = mem_zalloc (sizeof *self);
    self->actor = zactor_new (s_actor, state);
    self->state = state;
    self->db = front_db;
    self->stats = db_prepare (
        front_db, "SELECT state, count(*), min(created_ms) FROM relay_jobs WHERE relay = ? "
                  "AND state IN ('pending', 'dead') GROUP BY state");
    self->retry = db_prepare (
        front_db, "UPDATE relay_jobs SET state = 'pending', attempts = 0, "
                  "next_ms = ?, last_error = '' WHERE relay = ? AND state = 'dead'");
    return self;
}

void
relay_wake (relay_t *self)
{
    //  A WAKE while the worker is busy just runs one more pass.
    zsock_set_sndtimeo (self->actor, 0);
    zsock_send (self->actor, "s", "WAKE");
}

char *
relay_stats (relay_t *self)
{
    return s_stats (self->stats, self->state);
}

int
relay_retry (relay_t *self, const char *name)
{
    return s_retry (self->db, self->retry, self->state, name);
}

void
relay_destroy (relay_t **self_p)
{
    relay_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);
    sqlite3_finalize (self->stats);
    sqlite3_finalize (self->retry);
    sqlite3_close (self->db);
    s_self_t *state = self->state;
    for (size_t r = 0; r < state->relay_count; r++)
        s_relay_clear (&state->relays[r]);
    free (state->relays);
    s_sql_close (&state->sql);
    free (state);
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
    zhashx_destroy (&relay->keys);
    free (relay->name);
    free (relay->plugin_name);
}

int
relay_check (const config_relay_t *config, const char *plugin_dir, char *why, size_t size)
{
    s_relay_t relay = {0};
    bool ok = s_relay_start (&relay, config, plugin_dir, why, size);
    s_relay_clear (&relay);
    return ok ? 0 : -1;
}
