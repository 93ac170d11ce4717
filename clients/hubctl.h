/*  hubctl.h - what the parts of hubctl share: the run context, the command table's shape,
    option parsing, exit codes and output. Not installed.

    Adding a command: write `int hubctl_cmd_NAME (hubctl_t *ctx, int argc, char **argv)`
    (argv holds the command's own arguments, global options already removed), declare it
    here, and add a row to s_commands in hubctl.c (name, function, synopsis) and its
    paragraph to the help text. A command with subcommands (`partner add`) dispatches
    on argv[0] itself.
*/
#ifndef HUBCTL_H_INCLUDED
#define HUBCTL_H_INCLUDED

#include "hub_client.h"
#include <stdbool.h>
#include <stdint.h>

//  Exit status (the user contract)
#define HUBCTL_EXIT_OK          0
#define HUBCTL_EXIT_USAGE       1
#define HUBCTL_EXIT_UNREACHABLE 2
#define HUBCTL_EXIT_REFUSED     3
#define HUBCTL_EXIT_VERIFY      4

typedef struct {
    const char *endpoint; //  --hub, HUB_ENDPOINT, or the default
    const char *key_path; //  --key, HUB_KEY, or ./hub-data/admin.key; NULL if none
    const char *hub_key;  //  --hub-key, HUB_SERVER_KEY, or ./hub-data/hub.pub; NULL if none
    bool json;            //  --json
    int timeout_ms;       //  --timeout
    const char *command;  //  the command being run
    hub_identity_t id;    //  loaded by hubctl_connect
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
    hub_client_t *client; //  NULL until hubctl_connect; owned
} hubctl_t;

typedef int (hubctl_cmd_fn) (hubctl_t *ctx, int argc, char **argv);

//  A command option. Exactly one of value (an option with an argument; the last one
//  given wins) and flag is set.
typedef struct {
    const char *name; //  without the leading "--"
    const char **value;
    bool *flag;
} hubctl_opt_t;

//  Splits argv into options (opts, terminated by a row with name NULL) and positional
//  arguments. Accepts "--name value", "--name=value", and "--" to end options; "-" alone
//  is positional. An option with a value given twice is a usage error. *pos (caller frees
//  the array, not the strings) gets the positional arguments. Returns 0, or
//  HUBCTL_EXIT_USAGE after printing why. opts has at most 64 rows.
int hubctl_parse_opts (hubctl_t *ctx, int argc, char **argv, const hubctl_opt_t *opts,
                       char ***pos, int *npos);

//  Prints "hubctl: COMMAND: message", the command's synopsis and a hint on stderr;
//  returns HUBCTL_EXIT_USAGE.
int hubctl_usage_error (hubctl_t *ctx, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  The synopsis line of a command ("publish CHANNEL [TEXT|-] [--title TITLE]"); borrowed.
const char *hubctl_synopsis (const char *command);

//  Parses a non-negative decimal integer. False if text is not one.
bool hubctl_parse_u64 (const char *text, uint64_t *out);

//  Loads the identity and hub key and connects ctx->client. Returns 0, or an exit code
//  after printing why.
int hubctl_connect (hubctl_t *ctx);

//  Prints the client's last failure on stderr and returns its exit code: 2 for timeouts
//  and an unavailable hub, 3 for refusals ("hubctl: refused: NAME: reason").
int hubctl_fail (hubctl_t *ctx);

//  Connects and asks the hub a QUERY. Takes ownership of query; NULL (json_pack refused
//  text that is not UTF-8) is a usage error. On success *reply is owned by the caller.
//  Returns 0, or an exit code after printing why.
int hubctl_query (hubctl_t *ctx, json_t *query, json_t **reply);

//  Exit code for an error code.
int hubctl_exit_code (hub_err_t err);

//  Output. Each writes to stdout and flushes.
void hubctl_print_message (const hubctl_t *ctx, const hub_message_t *msg);
void hubctl_print_json (json_t *obj); //  one line; borrows obj
void hubctl_print_table (json_t *obj, const char *prefix);

//  A JSON array of strings as people write a list, "funder,convener", into out (cut to
//  fit size).
void hubctl_join_list (json_t *array, char *out, size_t size);

//  Prints a verifier's verdict (the output of `verify`, plain or --json) and returns
//  HUBCTL_EXIT_OK or HUBCTL_EXIT_VERIFY.
int hubctl_verify_report (hubctl_t *ctx, hub_verifier_t *v);

//  verify --file: checks an export file offline, with no connection. channel (NULL: all
//  the file holds) limits the check to one channel.
int hubctl_verify_file (hubctl_t *ctx, const char *path, const char *channel);

//  The commands
int hubctl_cmd_keygen (hubctl_t *ctx, int argc, char **argv);
int hubctl_cmd_pubkey (hubctl_t *ctx, int argc, char **argv);
int hubctl_cmd_publish (hubctl_t *ctx, int argc, char **argv);
int hubctl_cmd_subscribe (hubctl_t *ctx, int argc, char **argv);
int hubctl_cmd_history (hubctl_t *ctx, int argc, char **argv);
int hubctl_cmd_verify (hubctl_t *ctx, int argc, char **argv);
int hubctl_cmd_status (hubctl_t *ctx, int argc, char **argv);
int hubctl_cmd_export (hubctl_t *ctx, int argc, char **argv);
int hubctl_cmd_partner (hubctl_t *ctx, int argc, char **argv);
int hubctl_cmd_channel (hubctl_t *ctx, int argc, char **argv);
int hubctl_cmd_action (hubctl_t *ctx, int argc, char **argv);
int hubctl_cmd_relay (hubctl_t *ctx, int argc, char **argv);

#endif
