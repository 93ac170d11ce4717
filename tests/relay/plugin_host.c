/*  plugin_host.c - hub-plugin-host: runs a relay plugin the way hubd's relay worker will,
    so the plugins can be tested without hubd.

        hub-plugin-host PLUGIN.so CONFIG MEMOS.json < jobs.jsonl > results.jsonl

    CONFIG holds the [relay.NAME] keys as key=value lines (# comments). MEMOS.json is a
    JSON object of memos, read at start and rewritten after each job that returns one, so
    a second run sees the first run's memos (as hubd would after a restart). Each stdin
    line is a job (the fields of hub_relay_job_t by name); each stdout line is a result:
    {job_id, outcome: done|retry|dead, retry_after_s, error, memo_key, memo_value}.
    Plugin log lines go to stderr.

    Exit: 0 all jobs run; 1 bad usage or input; 2 the plugin cannot be loaded, its init
    failed, or CONFIG holds a key its init did not ask for (hubd refuses that too); 3 the
    plugin was built for another ABI (refused before any call into it).
*/
#include "../../plugins/hub_plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    json_t *config; //  key -> value
    json_t *memos;  //  key -> value
    json_t *asked;  //  the keys init asked for (NULL after init, as in hubd)
    const char *memo_path;
    const char *name;
} host_t;

static void
s_log (void *host, int level, const char *format, ...)
{
    host_t *self = host;
    static const char *names[] = {"", "", "", "error", "warning", "notice", "info", "debug"};
    fprintf (stderr, "%s: %s: ", self->name, level >= 3 && level <= 7 ? names[level] : "?");
    va_list args;
    va_start (args, format);
    vfprintf (stderr, format, args);
    va_end (args);
    fputc ('\n', stderr);
}

static const char *
s_config_get (void *host, const char *key)
{
    host_t *self = host;
    if (self->asked)
        json_object_set_new (self->asked, key, json_true ());
    return json_string_value (json_object_get (self->config, key));
}

static char *
s_read_secret (void *host, const char *path, char *err, size_t err_size)
{
    (void)host;
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (err, err_size, "cannot open %s: %s", path, strerror (errno));
        return NULL;
    }
    struct stat st;
    if (fstat (fileno (file), &st) || (st.st_mode & 077)) {
        snprintf (err, err_size, "%s is readable by group or others (mode %03o); chmod 600 it",
                  path, (unsigned)(st.st_mode & 0777));
        fclose (file);
        return NULL;
    }
    char buf[4096];
    size_t len = fread (buf, 1, sizeof buf - 1, file);
    fclose (file);
    buf[len] = 0;
    if (len && buf[len - 1] == '\n')
        buf[--len] = 0;
    char *secret = strdup (buf);
    memset (buf, 0, sizeof buf);
    return secret;
}

static const char *
s_memo_get (void *host, const char *key)
{
    host_t *self = host;
    return json_string_value (json_object_get (self->memos, key));
}

static json_t *
s_load_config (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    json_t *config = json_object ();
    char line[4096];
    while (fgets (line, sizeof line, file)) {
        line[strcspn (line, "\r\n")] = 0;
        char *eq = strchr (line, '=');
        if (line[0] == '#' || !eq)
            continue;
        char *key = line, *value = eq + 1;
        *eq = 0;
        while (*key == ' ')
            key++;
        for (char *end = eq; end > key && end[-1] == ' ';)
            *--end = 0;
        while (*value == ' ')
            value++;
        json_object_set_new (config, key, json_string (value));
    }
    fclose (file);
    return config;
}

static void
s_save_memos (host_t *self)
{
    char tmp[4096];
    snprintf (tmp, sizeof tmp, "%s.tmp", self->memo_path);
    if (json_dump_file (self->memos, tmp, JSON_INDENT (1) | JSON_SORT_KEYS) ||
        rename (tmp, self->memo_path))
        fprintf (stderr, "hub-plugin-host: cannot write %s\n", self->memo_path);
}

static const char *
s_str (json_t *job, const char *key)
{
    const char *value = json_string_value (json_object_get (job, key));
    return value ? value : NULL;
}

static uint64_t
s_int (json_t *job, const char *key)
{
    return (uint64_t)json_integer_value (json_object_get (job, key));
}

static void
s_run_job (const hub_plugin_t *plugin, void *state, host_t *self, json_t *in)
{
    const char *body = s_str (in, "body");
    hub_relay_job_t job = {
        .job_id = s_int (in, "job_id"),
        .attempt = (uint32_t)(s_int (in, "attempt") ? s_int (in, "attempt") : 1),
        .seq = s_int (in, "seq"),
        .channel = s_str (in, "channel") ? s_str (in, "channel") : "",
        .kind = s_str (in, "kind") ? s_str (in, "kind") : "message",
        .author = s_str (in, "author") ? s_str (in, "author") : "",
        .author_key = s_str (in, "author_key") ? s_str (in, "author_key") : "",
        .ts_ms = (int64_t)s_int (in, "ts_ms"),
        .title = s_str (in, "title") ? s_str (in, "title") : "",
        .body = body ? body : "",
        .body_len = body ? strlen (body) : 0,
        .action_id = s_int (in, "action_id"),
        .action_title = s_str (in, "action_title"),
        .owner = s_str (in, "owner"),
        .owner_email = s_str (in, "owner_email"),
        .due_ms = (int64_t)s_int (in, "due_ms"),
        .status = s_str (in, "status"),
        .note = s_str (in, "note"),
    };
    hub_relay_result_t result;
    memset (&result, 0, sizeof result);
    plugin->deliver (state, &job, &result);

    static const char *outcomes[] = {"done", "retry", "dead"};
    if ((unsigned)result.outcome > 2 || memchr (result.error, 0, sizeof result.error) == NULL ||
        memchr (result.memo_key, 0, sizeof result.memo_key) == NULL ||
        memchr (result.memo_value, 0, sizeof result.memo_value) == NULL) {
        fprintf (stderr, "hub-plugin-host: job %llu: malformed result\n",
                 (unsigned long long)job.job_id);
        exit (1);
    }
    //  The memo is kept whatever the outcome: a card created before a failed comment
    //  must not be created again on the retry.
    if (result.memo_key[0]) {
        json_object_set_new (self->memos, result.memo_key, json_string (result.memo_value));
        s_save_memos (self);
    }
    json_t *out = json_pack ("{s:I, s:s, s:i, s:s, s:s, s:s}", "job_id", (json_int_t)job.job_id,
                             "outcome", outcomes[result.outcome], "retry_after_s",
                             (int)result.retry_after_s, "error", result.error, "memo_key",
                             result.memo_key, "memo_value", result.memo_value);
    char *line = out ? json_dumps (out, JSON_COMPACT) : NULL;
    if (!line) {
        fprintf (stderr, "hub-plugin-host: job %llu: result is not valid UTF-8\n",
                 (unsigned long long)job.job_id);
        exit (1);
    }
    printf ("%s\n", line);
    fflush (stdout);
    free (line);
    json_decref (out);
}

int
main (int argc, char *argv[])
{
    if (argc != 4) {
        fprintf (stderr, "usage: hub-plugin-host PLUGIN.so CONFIG MEMOS.json < jobs.jsonl\n");
        return 1;
    }
    void *dl = dlopen (argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf (stderr, "hub-plugin-host: cannot load %s: %s\n", argv[1], dlerror ());
        return 2;
    }
    const hub_plugin_t *plugin = dlsym (dl, HUB_PLUGIN_SYMBOL);
    if (!plugin) {
        fprintf (stderr, "hub-plugin-host: %s exports no %s\n", argv[1], HUB_PLUGIN_SYMBOL);
        return 2;
    }
    //  Refuse before reading any other field: their layout is only known for our ABI.
    if (plugin->abi_version != HUB_PLUGIN_ABI_VERSION) {
        fprintf (
            stderr,
            "hub-plugin-host: %s refused: built for plugin ABI %u, this host speaks ABI %u\n",
            argv[1], plugin->abi_version, HUB_PLUGIN_ABI_VERSION);
        return 3;
    }
    if (plugin->struct_size < sizeof (hub_plugin_t)) {
        fprintf (
            stderr,
            "hub-plugin-host: %s refused: descriptor is %u bytes, ABI %u needs at least %zu\n",
            argv[1], plugin->struct_size, HUB_PLUGIN_ABI_VERSION, sizeof (hub_plugin_t));
        return 3;
    }
    if (!plugin->name || !plugin->init || !plugin->deliver || !plugin->destroy) {
        fprintf (stderr, "hub-plugin-host: %s refused: descriptor lacks name or a function\n",
                 argv[1]);
        return 3;
    }
    host_t self = {.memo_path = argv[3], .name = plugin->name};
    self.config = s_load_config (argv[2]);
    if (!self.config) {
        fprintf (stderr, "hub-plugin-host: cannot read %s: %s\n", argv[2], strerror (errno));
        return 1;
    }
    json_error_t jerr;
    self.memos = json_load_file (argv[3], 0, &jerr);
    if (!self.memos)
        self.memos = json_object ();

    hub_host_t host = {
        .abi_version = HUB_PLUGIN_ABI_VERSION,
        .struct_size = sizeof (hub_host_t),
        .host = &self,
        .relay_name = plugin->name,
        .log = s_log,
        .config_get = s_config_get,
        .read_secret = s_read_secret,
        .memo_get = s_memo_get,
    };
    void *state = NULL;
    char err[512] = "";
    int rc = 0;
    self.asked = json_object ();
    if (plugin->init (&host, &state, err, sizeof err)) {
        fprintf (stderr, "hub-plugin-host: %s: init failed: %s\n", plugin->name, err);
        rc = 2;
        goto done;
    }
    //  hubd refuses a relay whose section holds a key that init did not ask for (the
    //  contract of hub_plugin_t.init): so does this host.
    for (void *it = json_object_iter (self.config); it;
         it = json_object_iter_next (self.config, it)) {
        const char *key = json_object_iter_key (it);
        if (!json_object_get (self.asked, key)) {
            fprintf (stderr,
                     "hub-plugin-host: %s: unknown key '%s' (init did not ask for it)\n",
                     plugin->name, key);
            rc = 2;
        }
    }
    json_decref (self.asked);
    self.asked = NULL;
    if (rc) {
        plugin->destroy (&state);
        goto done;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline (&line, &cap, stdin) > 0) {
        if (line[strspn (line, " \t\r\n")] == 0)
            continue;
        json_t *in = json_loads (line, 0, &jerr);
        if (!json_is_object (in)) {
            fprintf (stderr, "hub-plugin-host: bad job line: %s\n", jerr.text);
            json_decref (in);
            rc = 1;
            break;
        }
        s_run_job (plugin, state, &self, in);
        json_decref (in);
    }
    free (line);
    plugin->destroy (&state);
    if (state)
        fprintf (stderr, "hub-plugin-host: destroy did not clear the state\n"), rc = 1;
done:
    json_decref (self.asked);
    json_decref (self.config);
    json_decref (self.memos);
    dlclose (dl);
    return rc;
}
