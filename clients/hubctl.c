/*  hubctl.c - the command-line client of hubd: options, command table, help, exit codes.

    hubctl [--hub ENDPOINT] [--key FILE] [--hub-key KEY] [--json] [--timeout SECONDS]
           COMMAND ...

    Global options may appear anywhere on the line (before or after the command); "--"
    ends option parsing, and a dash that starts anything but -x or --name is text.
    Settings come from, in order: the options, the environment (HUB_ENDPOINT, HUB_KEY,
    HUB_SERVER_KEY), then defaults that work next to a hubd started with its default
    data directory (./hub-data/admin.key, ./hub-data/hub.pub).
    The user-facing contract (options, output, exit codes) is /work/shared/CONTRACT.md.
*/
#include "hubctl.h"
#include "hubc_mem.h"
#include <assert.h>
#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_DEFAULT_ENDPOINT "tcp://127.0.0.1:7400"
#define S_DEFAULT_KEY      "./hub-data/admin.key"
#define S_DEFAULT_HUB_KEY  "./hub-data/hub.pub"

typedef struct {
    const char *name;
    hubctl_cmd_fn *fn;
    const char *synopsis;
} s_command_t;

//  The command table: name, function, synopsis (for usage errors).
static const s_command_t s_commands[] = {
    {"keygen", hubctl_cmd_keygen, "keygen FILE"},
    {"pubkey", hubctl_cmd_pubkey, "pubkey FILE"},
    {"publish", hubctl_cmd_publish, "publish CHANNEL [TEXT|-] [--title TITLE]"},
    {"subscribe", hubctl_cmd_subscribe, "subscribe CHANNEL... [--since SEQ] [--follow]"},
    {"history", hubctl_cmd_history, "history CHANNEL [--since SEQ] [--limit N]"},
    {"verify", hubctl_cmd_verify, "verify [CHANNEL] | verify --file FILE [CHANNEL]"},
    {"export", hubctl_cmd_export, "export FILE [CHANNEL]"},
    {"status", hubctl_cmd_status, "status [--prometheus]"},
    {"partner", hubctl_cmd_partner,
     "partner add NAME --key PUBKEY [--org ORG] [--email ADDR] [--role ROLE]... | list | show "
     "NAME | remove NAME"},
    {"action", hubctl_cmd_action,
     "action add TITLE --owner PARTNER --due WHEN [--detail TEXT] | done ID [--note TEXT] | "
     "cancel ID [--note TEXT] | list [--owner P] [--status open,done,overdue,cancelled]"},
    {"relay", hubctl_cmd_relay, "relay retry NAME"},
    {"channel", hubctl_cmd_channel,
     "channel create NAME [--publish ROLE,...] [--read ROLE,...] | list"},
    {NULL, NULL, NULL}};

static const char *s_help =
    "NAME\n"
    "    hubctl - command-line client of the hubd partnership hub\n"
    "\n"
    "SYNOPSIS\n"
    "    hubctl [--hub ENDPOINT] [--key FILE] [--hub-key KEY] [--json]\n"
    "           [--timeout SECONDS] COMMAND [ARGS...]\n"
    "    hubctl --help | --version\n"
    "\n"
    "DESCRIPTION\n"
    "    hubctl talks to a hubd over an encrypted, authenticated ZeroMQ connection. Your\n"
    "    identity is an Ed25519 key file; every message you publish is signed with it, and\n"
    "    every message you read is checked against its author's signature and the hub's\n"
    "    hash chain. Global options may be given before or after the command. An\n"
    "    argument that starts with a dash is text unless it looks like an option (-x or\n"
    "    --name, no blanks): publish updates -5 publishes \"-5\". After --, every\n"
    "    argument is text.\n"
    "\n"
    "COMMANDS\n"
    "    keygen FILE\n"
    "        Create a new identity: FILE (secret, mode 0600) and FILE.pub. Prints the\n"
    "        public key text, which the hub administrator admits as a partner. Never\n"
    "        overwrites an existing file.\n"
    "\n"
    "    pubkey FILE\n"
    "        Print the public key text of a key file (or of a .pub file).\n"
    "\n"
    "    publish CHANNEL [TEXT|-] [--title TITLE]\n"
    "        Sign and publish a message. The body is TEXT (several words are joined with\n"
    "        spaces), or standard input when TEXT is - or absent (its one final line\n"
    "        ending dropped, so `echo TEXT |` publishes TEXT). Prints the sequence\n"
    "        number once the hub has stored the message durably. A lost acknowledgement\n"
    "        is retried with the same message id: the hub stores the message once.\n"
    "\n"
    "    subscribe CHANNEL... [--since SEQ] [--follow]\n"
    "        Print messages of one or more channels. Without --follow, prints the stored\n"
    "        messages after SEQ (default 0) up to the head of the log at the time of the\n"
    "        command, then exits. With --follow, prints messages as they arrive (after\n"
    "        SEQ if given, else only new ones) and keeps running: if the hub dies or\n"
    "        restarts it reconnects with backoff and resumes after the last message shown,\n"
    "        so every message is printed exactly once, in order. Exits 0 on SIGINT or\n"
    "        SIGTERM. Output is flushed after each message.\n"
    "\n"
    "    history CHANNEL [--since SEQ] [--limit N]\n"
    "        Print past messages of CHANNEL with a sequence number above SEQ (default 0),\n"
    "        at most N (default: all).\n"
    "\n"
    "    verify [CHANNEL]\n"
    "        Fetch the whole history of CHANNEL (default: every channel you may read) and\n"
    "        check every author signature, every hash-chain link, that sequence numbers\n"
    "        have no gaps (whole log), and the hub's signed checkpoint. Prints\n"
    "        \"ok: N messages verified, chain intact to seq S\" or\n"
    "        \"FAIL: first bad seq N: REASON\". Exits 4 if verification failed. Checking one\n"
    "        channel links only its messages that are next to each other in the log; a\n"
    "        message removed between two of them shows only when verifying everything.\n"
    "\n"
    "    verify --file FILE [CHANNEL]\n"
    "        Check an export file (see export) offline: no hub is contacted, none needs\n"
    "        to be running, and --hub and --key are not used. Every message is rebuilt\n"
    "        from the file and checked as above: author signatures, chain links, no\n"
    "        gaps (for an export of every channel), and the checkpoint the file holds,\n"
    "        whose signature must be by the hub key. With --hub-key (or HUB_SERVER_KEY,\n"
    "        or ./hub-data/hub.pub where it exists) that key is trusted and the file\n"
    "        must name it, else verification fails (a forged export signed by another\n"
    "        key); with no hub key at all, the key the file names is trusted, which\n"
    "        only shows that the file is consistent in itself (a note on stderr says\n"
    "        so). CHANNEL checks only that channel's messages. Same output\n"
    "        and exit status as verify; a file that is not an export exits 1.\n"
    "\n"
    "    export FILE [CHANNEL]\n"
    "        Back up the history with everything needed to verify it later, without the\n"
    "        hub: every message of CHANNEL (default *: every channel you may read) with\n"
    "        its exact signed header and body, author signature, chain hashes, and the\n"
    "        hub's latest signed checkpoint, one JSON object per line (format\n"
    "        hubd-export-v1, PROTOCOL.md \"Export files\"). FILE is written as FILE.tmp\n"
    "        (mode 0600), flushed to disk and renamed, so it is never left half\n"
    "        written. Prints how many messages were exported and the log's head; with\n"
    "        --json {\"file\", \"channel\", \"messages\", \"last_seq\", \"head\"}.\n"
    "        Messages that fail their own checks are exported as they are, with a\n"
    "        warning; verify --file names the first.\n"
    "\n"
    "    status [--prometheus]\n"
    "        Print the hub's counters: version, uptime_s (in JSON also as uptime),\n"
    "        messages (stored), head (last seq), clients, subscribers,\n"
    "        subscribers_behind (catching up or out of credit), channels, in_flight\n"
    "        (received, not yet acknowledged) and in_flight_bytes (the memory they\n"
    "        hold; hubd reads no more requests over 64 MiB or 32,768 messages until\n"
    "        some are stored), refused (requests since start), db_bytes (database and\n"
    "        WAL), outbox_depth and outbox_dead (relay jobs pending and dead, all\n"
    "        relays), open_actions, then a table of the relays: plugin, loaded,\n"
    "        pending, oldest_pending_s, dead. --json prints the hub's STATUS reply as\n"
    "        one object (relays nested by name; outbox maps each relay to its\n"
    "        pending). --prometheus prints the Prometheus text format 0.0.4: metrics\n"
    "        prefixed hubd_ with HELP and TYPE (hubd_uptime_seconds,\n"
    "        hubd_messages_total, hubd_refused_total, hubd_db_bytes, ...; per relay\n"
    "        hubd_relay_pending, hubd_relay_oldest_pending_seconds, hubd_relay_dead,\n"
    "        hubd_relay_loaded with the label relay=\"NAME\"), and hubd_up 1; if the\n"
    "        hub does not answer it prints hubd_up 0 and exits 2. For the node\n"
    "        exporter's textfile collector, write to a temporary file and rename it.\n"
    "\n"
    "    partner add NAME --key PUBKEY [--org ORG] [--email ADDR] [--role ROLE]...\n"
    "        Administrator: admit a partner. NAME is short and stable (a-z, 0-9, . _ -);\n"
    "        PUBKEY is the key text the partner's `hubctl keygen` printed, or its .pub\n"
    "        file. Roles are free words (funder, convener, service-provider) that channel\n"
    "        rights refer to; --role repeats. 'admin' is no partner's role: in rights it\n"
    "        names the administrator (the hub refuses it). The partner can connect at\n"
    "        once. A partner who left is admitted again with its own NAME and PUBKEY.\n"
    "\n"
    "    partner list | partner show NAME\n"
    "        The partnership's directory (any partner may read it): name, organisation,\n"
    "        email, roles, and whether the partner is still current.\n"
    "\n"
    "    partner remove NAME\n"
    "        Administrator: the partner leaves. Its key stops working at once, its open\n"
    "        connections are refused (a running subscribe ends with exit 3); its messages\n"
    "        stay in the history.\n"
    "\n"
    "    channel create NAME [--publish ROLE,...] [--read ROLE,...]\n"
    "        Administrator: create a channel. Rights are role lists, separated by commas\n"
    "        (spaces around them are ignored); * means every partner (the default for\n"
    "        both), 'admin' the administrator alone. An empty list or role (--publish '',\n"
    "        funder,,x) is a usage error. The administrator may always do everything. A\n"
    "        partner with neither right does not see the channel at all; one with the\n"
    "        publish right alone (--publish '*' --read admin: an inbox for the backbone)\n"
    "        sees it and publishes on it, but may not read it.\n"
    "\n"
    "    action add TITLE --owner PARTNER --due WHEN [--detail TEXT]\n"
    "        Record a commitment: PARTNER owns it, due at WHEN: RFC 3339\n"
    "        (2026-12-01T17:00:00Z), a date (2026-12-01: the end of that day, UTC), or\n"
    "        relative (+90s, +15m, +2h, +3d). Prints the action id. The hub reminds on\n"
    "        'actions' before the due time, at it, and while the item is overdue. A due\n"
    "        time already past (from 2000-01-01 on) records a commitment that is late:\n"
    "        the item is overdue at once, gets one overdue reminder then, and one every\n"
    "        overdue_every after.\n"
    "\n"
    "    action done ID [--note TEXT] | action cancel ID [--note TEXT]\n"
    "        Close an item (its owner, its creator or the administrator only).\n"
    "\n"
    "    action list [--owner PARTNER] [--status open,done,overdue,cancelled]\n"
    "        The partnership's commitments; 'open' includes overdue ones.\n"
    "\n"
    "    relay retry NAME\n"
    "        Administrator: requeue the dead jobs of relay NAME (after fixing what made\n"
    "        them fail), and make its jobs that wait for a later try due now; `status`\n"
    "        shows each relay's pending depth, oldest pending age and dead count.\n"
    "\n"
    "    channel list\n"
    "        The channels you may read or publish on, with their rights.\n"
    "\n"
    "OPTIONS\n"
    "    --hub ENDPOINT\n"
    "        The hub's ZeroMQ endpoint (default tcp://127.0.0.1:7400).\n"
    "    --key FILE\n"
    "        Your identity key file (default ./hub-data/admin.key if it exists).\n"
    "    --hub-key KEY\n"
    "        The hub's public key, as key text or the path of a .pub file (default\n"
    "        ./hub-data/hub.pub if it exists). The connection is refused unless the hub\n"
    "        proves it holds this key. verify --file checks an export against it.\n"
    "    --json\n"
    "        Machine-readable output: one JSON object per line. A message object has\n"
    "        seq, channel, kind, author, author_key, ts, author_ts, title, body,\n"
    "        verified, hash, and action_id for messages about an action.\n"
    "    --timeout SECONDS\n"
    "        Bound on every wait for the hub (default 5; fractions allowed). subscribe\n"
    "        --follow waits for messages forever but pings an idle hub and treats a\n"
    "        missing answer within this bound as a dead hub.\n"
    "    -h, --help\n"
    "        Print this help and exit.\n"
    "    -V, --version\n"
    "        Print the version and exit.\n"
    "\n"
    "ENVIRONMENT\n"
    "    HUB_ENDPOINT     stands in for --hub\n"
    "    HUB_KEY          stands in for --key (path of the key file)\n"
    "    HUB_SERVER_KEY   stands in for --hub-key (key text or .pub path)\n"
    "    Options given on the command line take precedence.\n"
    "\n"
    "OUTPUT\n"
    "    A message is printed as a block:\n"
    "        #SEQ CHANNEL KIND TIME AUTHOR\n"
    "        TITLE            (if the message has one)\n"
    "        BODY\n"
    "        (blank line)\n"
    "    TIME is when the hub stored it (RFC 3339, UTC); AUTHOR is the partner's name\n"
    "    (or key). A message failing its signature or hash check is marked [UNVERIFIED].\n"
    "\n"
    "EXIT STATUS\n"
    "    0   success\n"
    "    1   bad usage, or a local problem (key file, input)\n"
    "    2   the hub is unreachable or did not answer in time\n"
    "    3   the hub refused the request (authentication, rights, validation); the\n"
    "        reason is printed as \"hubctl: refused: NAME: reason\"\n"
    "    4   verify (or verify --file) found the history broken\n"
    "\n"
    "EXAMPLES\n"
    "    hubctl keygen alice.key\n"
    "    hubctl --key alice.key --hub-key hub-data/hub.pub publish updates \"Hello\"\n"
    "    echo \"Minutes attached\" | hubctl publish updates - --title \"Board meeting\"\n"
    "    hubctl subscribe updates --follow --json | jq .body\n"
    "    hubctl history updates --since 100 --limit 20\n"
    "    hubctl verify\n"
    "    hubctl export backup-2026-11-23.jsonl\n"
    "    hubctl --hub-key hub.pub verify --file backup-2026-11-23.jsonl\n"
    "    hubctl --hub tcp://hub.example.org:7400 status --json\n"
    "    hubctl status --prometheus > hubd.prom.tmp && mv hubd.prom.tmp hubd.prom\n";

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: hubctl [--hub ENDPOINT] [--key FILE] [--hub-key KEY] [--json]\n"
                  "              [--timeout SECONDS] COMMAND [ARGS...]\n"
                  "commands:\n");
    for (const s_command_t *c = s_commands; c->name; c++)
        fprintf (out, "    hubctl %s\n", c->synopsis);
    fprintf (out, "Try 'hubctl --help' for more.\n");
}

const char *
hubctl_synopsis (const char *command)
{
    for (const s_command_t *c = s_commands; c->name; c++)
        if (command && strcmp (c->name, command) == 0)
            return c->synopsis;
    return "COMMAND [ARGS...]";
}

int
hubctl_usage_error (hubctl_t *ctx, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    if (ctx->command)
        fprintf (stderr, "hubctl: %s: ", ctx->command);
    else
        fprintf (stderr, "hubctl: ");
    vfprintf (stderr, format, args);
    va_end (args);
    fprintf (stderr, "\nusage: hubctl %s\nTry 'hubctl --help' for more.\n",
             hubctl_synopsis (ctx->command));
    return HUBCTL_EXIT_USAGE;
}

bool
hubctl_parse_u64 (const char *text, uint64_t *out)
{
    if (!text || !*text || strspn (text, "0123456789") != strlen (text) || strlen (text) > 20)
        return false;
    errno = 0;
    unsigned long long v = strtoull (text, NULL, 10);
    //  Seqs and ids travel as JSON integers, which stop at 2^63 - 1.
    if (errno || v > INT64_MAX)
        return false;
    *out = (uint64_t)v;
    return true;
}

//  Returns the value of option NAME at argv[*i] ("--name value" or "--name=value"),
//  advancing *i past it; NULL if argv[*i] is not that option. *missing is set when the
//  option is there without its value.
static const char *
s_opt_value (int argc, char **argv, int *i, const char *name, bool *missing)
{
    const char *arg = argv[*i];
    size_t len = strlen (name);
    if (strncmp (arg, "--", 2) != 0 || strncmp (arg + 2, name, len) != 0)
        return NULL;
    if (arg[2 + len] == '=')
        return arg + 3 + len;
    if (arg[2 + len] != 0)
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

//  Whether ARG is meant as an option: "-x..." or "--name..." (with "=value" anything),
//  without blanks in the name. Anything else that starts with a dash ("-5", "- agenda",
//  "--- notes ---", "-" for stdin) is text, so `publish updates -5` needs no "--".
static bool
s_is_option (const char *arg)
{
    const char *name = arg[0] == '-' && arg[1] == '-' ? arg + 2 : arg + 1;
    size_t len = strcspn (name, "=");
    return arg[0] == '-' && isalpha ((unsigned char)name[0]) && strcspn (name, " \t\n") >= len;
}

int
hubctl_parse_opts (hubctl_t *ctx, int argc, char **argv, const hubctl_opt_t *opts, char ***pos,
                   int *npos)
{
    *pos = hubc_calloc ((size_t)argc + 1, sizeof (char *));
    *npos = 0;
    bool options_done = false;
    uint64_t given = 0; //  bit n: option n took a value already (a second one is a mistake)
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || (!s_is_option (arg) && strcmp (arg, "--") != 0)) {
            (*pos)[(*npos)++] = argv[i];
            continue;
        }
        if (strcmp (arg, "--") == 0) {
            options_done = true;
            continue;
        }
        const hubctl_opt_t *opt = opts;
        bool missing = false;
        for (; opt && opt->name; opt++) {
            assert (opt - opts < 64); //  one bit of given each
            if (opt->flag && strcmp (arg + 2, opt->name) == 0 && arg[1] == '-') {
                *opt->flag = true;
                break;
            }
            const char *value =
                opt->value ? s_opt_value (argc, argv, &i, opt->name, &missing) : NULL;
            uint64_t bit = (uint64_t)1 << (opt - opts);
            if (value && (given & bit)) {
                free (*pos);
                *pos = NULL;
                return hubctl_usage_error (ctx, "option --%s is given twice", opt->name);
            }
            if (value) {
                *opt->value = value;
                given |= bit;
                break;
            }
            if (missing)
                break;
        }
        if (missing || !opt || !opt->name) {
            free (*pos);
            *pos = NULL;
            return missing ? hubctl_usage_error (ctx, "option %s needs a value", arg)
                           : hubctl_usage_error (ctx, "unknown option '%s'", arg);
        }
    }
    return 0;
}

//  In "partner add NAME --key PUBKEY" (CONTRACT.md) --key after the command is the new
//  partner's key, not the identity: the global --key must come before the command there.
static bool
s_key_is_pubkey (char **rest, int nrest)
{
    return nrest >= 2 && strcmp (rest[0], "partner") == 0 && strcmp (rest[1], "add") == 0;
}

//  Takes the global options out of argv wherever they are; the rest (command and its
//  arguments) is left in order in *rest. Returns -1 to go on, or an exit code.
static int
s_parse_globals (hubctl_t *ctx, int argc, char **argv, char **rest, int *nrest)
{
    const char *timeout = NULL;
    *nrest = 0;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if (strcmp (argv[i], "--") == 0) {
            while (i < argc)
                rest[(*nrest)++] = argv[i++];
            break;
        }
        if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0) {
            fputs (s_help, stdout);
            return HUBCTL_EXIT_OK;
        }
        if (strcmp (argv[i], "--version") == 0 || strcmp (argv[i], "-V") == 0) {
            printf ("hubctl %s\n", HUB_VERSION);
            return HUBCTL_EXIT_OK;
        }
        if (strcmp (argv[i], "--json") == 0)
            ctx->json = true;
        else if ((v = s_opt_value (argc, argv, &i, "hub", &missing)))
            ctx->endpoint = v;
        else if (!s_key_is_pubkey (rest, *nrest) &&
                 (v = s_opt_value (argc, argv, &i, "key", &missing)))
            ctx->key_path = v;
        else if ((v = s_opt_value (argc, argv, &i, "hub-key", &missing)))
            ctx->hub_key = v;
        else if ((v = s_opt_value (argc, argv, &i, "timeout", &missing)))
            timeout = v;
        else if (missing)
            return hubctl_usage_error (ctx, "option %s needs a value", argv[i]);
        else
            rest[(*nrest)++] = argv[i];
    }
    if (timeout) {
        char *end = NULL;
        double seconds = strtod (timeout, &end);
        if (!end || *end || !(seconds > 0) || seconds > 86400)
            return hubctl_usage_error (ctx, "--timeout wants seconds, not '%s'", timeout);
        ctx->timeout_ms = (int)(seconds * 1000) > 0 ? (int)(seconds * 1000) : 1;
    }
    return -1;
}

//  Environment and defaults for what the options left unset.
static void
s_apply_defaults (hubctl_t *ctx)
{
    if (!ctx->endpoint)
        ctx->endpoint = getenv ("HUB_ENDPOINT");
    if (!ctx->endpoint || !*ctx->endpoint)
        ctx->endpoint = S_DEFAULT_ENDPOINT;
    if (!ctx->key_path)
        ctx->key_path = getenv ("HUB_KEY");
    if ((!ctx->key_path || !*ctx->key_path) && access (S_DEFAULT_KEY, F_OK) == 0)
        ctx->key_path = S_DEFAULT_KEY;
    if (!ctx->hub_key)
        ctx->hub_key = getenv ("HUB_SERVER_KEY");
    if ((!ctx->hub_key || !*ctx->hub_key) && access (S_DEFAULT_HUB_KEY, F_OK) == 0)
        ctx->hub_key = S_DEFAULT_HUB_KEY;
}

int
hubctl_connect (hubctl_t *ctx)
{
    char why[256] = "";
    if (!ctx->key_path || !*ctx->key_path)
        return hubctl_usage_error (ctx,
                                   "no identity: give --key FILE or set HUB_KEY "
                                   "(there is no %s here)",
                                   S_DEFAULT_KEY);
    if (!ctx->hub_key || !*ctx->hub_key)
        return hubctl_usage_error (ctx,
                                   "no hub key: give --hub-key KEY or set "
                                   "HUB_SERVER_KEY (there is no %s here)",
                                   S_DEFAULT_HUB_KEY);
    if (hub_identity_load (ctx->key_path, &ctx->id, why, sizeof why) != HUB_OK) {
        fprintf (stderr, "hubctl: cannot use key file %s: %s\n", ctx->key_path, why);
        return HUBCTL_EXIT_USAGE;
    }
    if (hub_key_resolve (ctx->hub_key, ctx->hub_pk) != HUB_OK) {
        fprintf (stderr,
                 "hubctl: --hub-key '%s' is neither key text nor a readable .pub "
                 "file\n",
                 ctx->hub_key);
        return HUBCTL_EXIT_USAGE;
    }
    ctx->client = hub_client_new (ctx->endpoint, &ctx->id, ctx->hub_pk, ctx->timeout_ms);
    if (!ctx->client) {
        fprintf (stderr, "hubctl: cannot connect to '%s'\n", ctx->endpoint);
        return HUBCTL_EXIT_USAGE;
    }
    return 0;
}

int
hubctl_exit_code (hub_err_t err)
{
    switch (err) {
    case HUB_OK: return HUBCTL_EXIT_OK;
    case HUB_E_TIMEOUT:
    case HUB_E_UNAVAILABLE: return HUBCTL_EXIT_UNREACHABLE;
    case HUB_E_IO: return HUBCTL_EXIT_USAGE;
    default: return HUBCTL_EXIT_REFUSED;
    }
}

int
hubctl_fail (hubctl_t *ctx)
{
    hub_err_t err = hub_client_last_error (ctx->client);
    const char *reason = hub_client_last_reason (ctx->client);
    int code = hubctl_exit_code (err);
    if (code == HUBCTL_EXIT_REFUSED)
        fprintf (stderr, "hubctl: refused: %s: %s\n", hub_err_name (err),
                 *reason ? reason : hub_strerror (err));
    else
        fprintf (stderr, "hubctl: %s\n", *reason ? reason : hub_strerror (err));
    return code;
}

int
hubctl_query (hubctl_t *ctx, json_t *query, json_t **reply)
{
    if (!query) //  json_pack refuses text that is not UTF-8
        return hubctl_usage_error (ctx, "names and texts must be UTF-8");
    int rc = hubctl_connect (ctx);
    if (rc == 0 && hub_client_request (ctx->client, HUB_CMD_QUERY, query, reply) != HUB_OK)
        rc = hubctl_fail (ctx);
    json_decref (query);
    return rc;
}

int
main (int argc, char **argv)
{
    //  hubctl handles its own signals (subscribe --follow); CZMQ must not take them.
    zsys_handler_set (NULL);
    hubctl_t ctx = {0};
    ctx.timeout_ms = HUB_CLIENT_TIMEOUT_DEFAULT;
    char **rest = hubc_calloc ((size_t)argc + 1, sizeof (char *));
    int nrest = 0;
    int rc = s_parse_globals (&ctx, argc, argv, rest, &nrest);
    if (rc < 0 && nrest == 0) {
        fprintf (stderr, "hubctl: no command given\n");
        s_usage (stderr);
        rc = HUBCTL_EXIT_USAGE;
    }
    if (rc < 0) {
        s_apply_defaults (&ctx);
        if (strcmp (rest[0], "help") == 0) {
            fputs (s_help, stdout);
            free (rest);
            return HUBCTL_EXIT_OK;
        }
        const s_command_t *c = s_commands;
        while (c->name && strcmp (c->name, rest[0]) != 0)
            c++;
        if (c->name) {
            ctx.command = c->name;
            rc = c->fn (&ctx, nrest - 1, rest + 1);
        } else {
            fprintf (stderr, "hubctl: unknown %s '%s'\n",
                     rest[0][0] == '-' && rest[0][1] ? "option" : "command", rest[0]);
            s_usage (stderr);
            rc = HUBCTL_EXIT_USAGE;
        }
    }
    hub_client_destroy (&ctx.client);
    sodium_memzero (&ctx.id, sizeof ctx.id);
    free (rest);
    return rc;
}
