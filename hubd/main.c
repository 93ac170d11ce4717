/*  main.c - hubd: the communication hub of a Collective Impact partnership.

    Sets up the pieces in data-path order and hands the main thread to the front door:
    keys -> store (writer thread) -> reader -> front door (+ verifier pool) -> run.
    Exit status (CONTRACT.md): 0 clean stop, 1 bad usage or config, 2 runtime failure.
*/
#include "auth.h"
#include "channel.h"
#include "config.h"
#include "db.h"
#include "derive.h"
#include "hub_text.h"
#include "keyring.h"
#include "log.h"
#include "reader.h"
#include "relay.h"
#include "router.h"
#include "store.h"
#include <czmq.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static const char *s_usage =
    "Usage: hubd [-c FILE] [--data-dir DIR] [--endpoint ENDPOINT] [--check-config]\n"
    "            [--rebuild] [--backup FILE] [--foreground] [--help] [--version]\n";

static const char *s_help =
    "\n"
    "hubd is the communication hub of a Collective Impact partnership. Partners publish\n"
    "signed messages on channels (announcements, updates, actions, and any the backbone\n"
    "creates); hubd verifies every Ed25519 signature, stores the full history in SQLite\n"
    "as a tamper-evident hash chain, and delivers messages to subscribed partners, who\n"
    "can always catch up on what they missed. Clients talk to it with hubctl(1) over\n"
    "CURVE-encrypted ZeroMQ.\n"
    "\n"
    "OPTIONS\n"
    "  -c, --config FILE      read settings from FILE (INI; see hubd.conf(5)). Without it "
    "hubd\n"
    "                         runs on embedded defaults.\n"
    "  -d, --data-dir DIR     data directory: database, hub and administrator keys\n"
    "                         (default ./hub-data; overrides [hub] data_dir).\n"
    "  -e, --endpoint EP      ZeroMQ endpoint to listen on\n"
    "                         (default tcp://127.0.0.1:7400; overrides [hub] endpoint).\n"
    "      --check-config     validate the configuration, print problems with line\n"
    "                         numbers, and exit (0 valid, 1 invalid).\n"
    "      --backup FILE      copy the database into FILE (which must not exist) with\n"
    "                         SQLite's online backup API, while the hub runs, and exit.\n"
    "      --rebuild          throw away the state derived from the log (partners,\n"
    "                         channels, action items), replay the log into it and exit;\n"
    "                         the hub must not be running. The log is the truth.\n"
    "  -f, --foreground       run in the foreground (hubd always does; for clarity in\n"
    "                         service files and scripts).\n"
    "  -h, --help             show this help.\n"
    "  -V, --version          show the version.\n"
    "\n"
    "FIRST START\n"
    "  With an empty data directory hubd creates hub.key (hub.pub: its public half, "
    "which\n"
    "  clients need) and admin.key (the backbone's administrator identity, mode 0600, "
    "with\n"
    "  admin.key.pub). Existing keys are never overwritten. hubd needs only\n"
    "  admin.key.pub: admin.key may be kept off the host (if admin.key.pub is missing, it\n"
    "  is written from admin.key). If hub.db holds messages, hubd creates no key: it\n"
    "  refuses to start (exit 2) when hub.key is missing or is not the key that signed\n"
    "  the log, or when no administrator key is left; restore them from the backup.\n"
    "\n"
    "SIGNALS\n"
    "  SIGTERM, SIGINT  stop taking requests, commit and acknowledge what is in flight,\n"
    "                   exit 0.\n"
    "  SIGHUP           reload the configuration without dropping clients.\n"
    "\n"
    "EXIT STATUS\n"
    "  0 clean stop; 1 bad usage or configuration (a relay section included: unknown\n"
    "  key, plugin missing or of another ABI, secret file readable by others); 2 runtime\n"
    "  failure (database unusable, endpoint cannot be bound, data directory in use by\n"
    "  another hubd, key files that do not belong with the database).\n"
    "\n"
    "LOGS\n"
    "  One line per event on stderr with its level; under systemd, journal priorities.\n";

typedef struct {
    const char *config_path;
    const char *data_dir;
    const char *endpoint;
    bool check_only;
    bool rebuild;
    const char *backup;
} s_options_t;

static int
s_parse_options (int argc, char **argv, s_options_t *options)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},   {"data-dir", required_argument, NULL, 'd'},
        {"endpoint", required_argument, NULL, 'e'}, {"check-config", no_argument, NULL, 'C'},
        {"rebuild", no_argument, NULL, 'R'},        {"backup", required_argument, NULL, 'B'},
        {"foreground", no_argument, NULL, 'f'},     {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},        {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long (argc, argv, "c:d:e:fhV", longs, NULL)) != -1) {
        switch (opt) {
        case 'c': options->config_path = optarg; break;
        case 'd': options->data_dir = optarg; break;
        case 'e': options->endpoint = optarg; break;
        case 'C': options->check_only = true; break;
        case 'R': options->rebuild = true; break;
        case 'B': options->backup = optarg; break;
        case 'f': break;
        case 'h': printf ("%s%s", s_usage, s_help); exit (0);
        case 'V': printf ("hubd %s\n", HUB_VERSION); exit (0);
        default: fputs (s_usage, stderr); return 1;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "hubd: unexpected argument '%s'\n%s", argv[optind], s_usage);
        return 1;
    }
    if (options->data_dir && !*options->data_dir) {
        fprintf (stderr, "hubd: --data-dir needs a directory, not an empty name\n%s", s_usage);
        return 1;
    }
    return 0;
}

//  Reads the configuration; NULL (with the reasons on stderr) if it is invalid.
static config_t *
s_load_config (const s_options_t *options)
{
    config_t *config = config_new ();
    if (options->config_path) {
        char errors[8192];
        int count = config_load (config, options->config_path, errors, sizeof errors);
        if (count) {
            //  Through the log, so under systemd each line reaches the journal as an error.
            char *save = NULL;
            for (char *line = strtok_r (errors, "\n", &save); line;
                 line = strtok_r (NULL, "\n", &save))
                log_error ("config", "%s", line);
            log_error ("config", "%d problem%s in %s", count, count == 1 ? "" : "s",
                       options->config_path);
            config_destroy (&config);
            return NULL;
        }
    }
    if (options->data_dir)
        config_set (&config->data_dir, options->data_dir);
    if (options->endpoint && !config_endpoint_valid (options->endpoint)) {
        fprintf (stderr,
                 "hubd: --endpoint must be tcp://HOST:PORT (PORT a number or *) or "
                 "ipc://PATH, not '%s'\n",
                 options->endpoint);
        config_destroy (&config);
        return NULL;
    }
    if (options->endpoint)
        config_set (&config->endpoint, options->endpoint);
    return config;
}

//  Loads each relay's plugin and lets it check its section (keys, secret files), and checks
//  its channel names. With look_up, as --check-config, also warns of channels that do not
//  exist (in the database when there is one, else among the standard channels); a start
//  leaves the database to the store, which reports a damaged one precisely. Problems are
//  reported with the section's line.
static int
s_check_relays (const config_t *config, bool look_up)
{
    char db_path[4096];
    snprintf (db_path, sizeof db_path, "%s/hub.db", config->data_dir);
    channel_set_t *channels =
        look_up && access (db_path, R_OK) == 0 ? channel_set_load (db_path) : NULL;
    static const char *standard[] = {"announcements", "updates", "actions", "admin"};
    int problems = 0;
    for (size_t r = 0; r < config->relay_count; r++) {
        char why[700];
        const config_relay_t *relay = &config->relays[r];
        if (relay_check (relay, config->plugin_dir, why, sizeof why) != 0) {
            log_error ("config", "%s:%d: [relay.%s]: %s", config->path, relay->line,
                       relay->name, why);
            problems++;
        }
        char **names = config_split (relay->channels);
        for (char **name = names; *name; name++) {
            bool known = false;
            for (size_t i = 0; !channels && i < sizeof standard / sizeof *standard; i++)
                known |= strcmp (*name, standard[i]) == 0;
            if (!hub_channel_valid (*name)) {
                log_error ("config", "%s:%d: [relay.%s]: '%s' is not a channel name",
                           config->path, relay->line, relay->name, *name);
                problems++;
            } else if (look_up && (channels ? !channel_set_has (channels, *name) : !known))
                //  Not a problem: the relay carries it once an administrator creates it.
                log_warning ("config",
                             "%s:%d: [relay.%s]: there is no channel '%s' yet; the relay "
                             "carries it once it is created (hubctl channel create)",
                             config->path, relay->line, relay->name, *name);
        }
        config_split_free (&names);
    }
    channel_set_destroy (&channels);
    return problems;
}

//  SIGHUP: a configuration with a problem (its relays included) is refused whole, and
//  the hub runs on with the one it has.
static config_t *
s_reload (void *arg)
{
    config_t *config = s_load_config (arg);
    if (config && s_check_relays (config, false) != 0)
        config_destroy (&config);
    return config;
}

//  Signals arrive on a signalfd that the front door polls; every thread (CZMQ's too)
//  inherits the blocked mask, so none of them is interrupted.
static int
s_signal_fd (void)
{
    sigset_t mask;
    sigemptyset (&mask);
    sigaddset (&mask, SIGTERM);
    sigaddset (&mask, SIGINT);
    sigaddset (&mask, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &mask, NULL);
    signal (SIGPIPE, SIG_IGN);
    return signalfd (-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

static int
s_serve (config_t *config, s_options_t *options)
{
    hub_identity_t hub;
    uint8_t admin_pk[HUB_PUBKEY_BYTES];
    char db_path[4096];
    snprintf (db_path, sizeof db_path, "%s/hub.db", config->data_dir);
    int signal_fd = s_signal_fd ();
    //  Before the keyring, which would make keys for an empty directory: a rebuild of a
    //  hub that is not there is a mistaken path, not a new hub.
    if (options->rebuild && access (db_path, F_OK) != 0) {
        log_error ("hubd", "there is no hub database in %s: nothing to rebuild",
                   config->data_dir);
        return 2;
    }
    if (!keyring_open (config->data_dir, &hub, admin_pk))
        return 2;
    int lock_fd = keyring_lock (config->data_dir);
    if (lock_fd < 0)
        return 2;
    if (options->rebuild) {
        int64_t replayed = derive_rebuild (db_path, admin_pk, hub.pk);
        if (replayed >= 0)
            log_notice ("hubd",
                        "rebuilt partners, channels and action items from %lld logged "
                        "messages",
                        (long long)replayed);
        close (lock_fd);
        return replayed >= 0 ? 0 : 2;
    }
    zsys_handler_set (NULL); //  signals are ours (signalfd), not CZMQ's
    zsys_set_logstream (NULL);
    auth_t *auth = auth_new (false); //  closed: the router admits partners
    store_t *store = store_new (db_path, &hub, admin_pk, config);
    reader_t *reader = store ? reader_new (db_path, hub.pk) : NULL;
    relay_t *relay = reader ? relay_new (config, db_path, hub.pk, admin_pk) : NULL;
    router_t *router = relay ? router_new (config, &hub, admin_pk, auth, reader, store, &relay,
                                           store_head (store), db_path)
                             : NULL;
    int status = 2;
    if (router) {
        sd_notify (0, "READY=1");
        router_run (router, signal_fd, s_reload, options);
        sd_notify (0, "STOPPING=1");
        status = 0;
    }
    router_destroy (&router);
    relay_destroy (&relay);
    reader_destroy (&reader);
    store_destroy (&store);
    auth_destroy (&auth);
    sodium_memzero (&hub, sizeof hub);
    close (lock_fd);
    close (signal_fd);
    log_notice ("hubd", status ? "could not start" : "stopped");
    return status;
}

int
main (int argc, char **argv)
{
    //  glibc gives each thread that allocates an arena of its own (up to 8 per core);
    //  hubd's threads hand entries to each other, so most arenas would hold a little of
    //  everything. Two keep RSS down with no measurable cost (issue 8: 1,000 subscribers).
    mallopt (M_ARENA_MAX, 2);
    s_options_t options = {0};
    if (s_parse_options (argc, argv, &options) != 0)
        return 1;
    config_t *config = s_load_config (&options);
    if (!config)
        return 1;
    //  Relays are part of the configuration: a section that --check-config refuses
    //  (unknown key, plugin missing or of another ABI, secret file open to others) stops
    //  the start too, with the same reason.
    bool serving = !options.backup && !options.rebuild;
    if ((options.check_only || serving) && s_check_relays (config, options.check_only) != 0) {
        config_destroy (&config);
        return 1;
    }
    if (options.backup) {
        char db_path[4096], why[600] = "";
        snprintf (db_path, sizeof db_path, "%s/hub.db", config->data_dir);
        int pages = db_backup (db_path, options.backup, why, sizeof why);
        if (pages < 0)
            log_error ("hubd", "%s", why);
        else
            printf ("%s: %d pages backed up from %s\n", options.backup, pages, db_path);
        config_destroy (&config);
        return pages < 0 ? 2 : 0;
    }
    if (options.check_only) {
        printf ("%s: configuration is valid\n",
                options.config_path ? options.config_path : "(embedded defaults)");
        config_destroy (&config);
        return 0;
    }
    if (sodium_init () < 0) {
        log_error ("hubd", "libsodium cannot initialise");
        return 2;
    }
    log_set_level (config->log_level);
    log_notice ("hubd", "hubd %s starting: data directory %s", HUB_VERSION, config->data_dir);
    int status = s_serve (config, &options);
    config_destroy (&config);
    return status;
}
