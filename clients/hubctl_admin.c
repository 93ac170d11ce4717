/*  hubctl_admin.c - the partnership's directory and channels: partner add|list|show|remove,
    channel create|list.

    Changes are administrator commands: signed messages of kind "admin" on channel "admin"
    (PROTOCOL.md section 9), so they land in the log like any message. Listings are QUERY
    requests any partner may make.
*/
#include "hubctl.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Sends an administrator command (a JSON body, borrowed) and prints the result.
static int
s_admin (hubctl_t *ctx, json_t *body, const char *done)
{
    if (!body) //  json_pack refuses text that is not UTF-8
        return hubctl_usage_error (ctx, "names and texts must be UTF-8");
    int rc = hubctl_connect (ctx);
    char *text = json_dumps (body, JSON_COMPACT);
    hub_answer_t answer = {0};
    if (rc == 0 && hub_client_sign_and_send (ctx->client, HUB_CMD_ADMIN, "admin", "admin", NULL,
                                             text, strlen (text), NULL, &answer) != HUB_OK)
        rc = hubctl_fail (ctx);
    else if (rc == 0 && ctx->json) {
        json_t *out = json_deep_copy (body);
        json_object_del (out, "op");
        json_object_set_new (out, "seq", json_integer ((json_int_t)answer.seq));
        hubctl_print_json (out);
        json_decref (out);
    } else if (rc == 0)
        printf ("%s (seq %llu)\n", done, (unsigned long long)answer.seq);
    json_decref (answer.reply);
    free (text);
    return rc;
}

//  "a,b", "a, b" or repeated options -> *array, a JSON array of role names with the
//  spaces around each trimmed. An empty list or item ('', "a,,b", "a, ") or one that is
//  not UTF-8 is a usage error naming option: returns 1, *array NULL (the hub refuses a
//  channel's empty list too; a partner with no roles is given no --role).
static int
s_roles (hubctl_t *ctx, const char *option, const char *const *items, int count, json_t **array)
{
    *array = json_array ();
    for (int i = 0; i < count; i++) {
        const char *item = items[i];
        do {
            size_t len = strcspn (item, ",");
            const char *start = item, *end = item + len;
            while (start < end && isspace ((unsigned char)*start))
                start++;
            while (end > start && isspace ((unsigned char)end[-1]))
                end--;
            json_t *role = start < end ? json_stringn (start, (size_t)(end - start)) : NULL;
            if (!role) {
                json_decref (*array);
                *array = NULL;
                return start < end
                           ? hubctl_usage_error (ctx, "%s must be UTF-8", option)
                           : hubctl_usage_error (
                                 ctx,
                                 "%s '%s' has an empty role: give role names separated "
                                 "by commas%s",
                                 option, items[i],
                                 strcmp (option, "--role") ? ", or * for every partner" : "");
            }
            json_array_append_new (*array, role);
            item += len;
        } while (*item++ == ',');
    }
    return 0;
}

//  Prints text and then blanks up to width characters (UTF-8: one per code point, so
//  "Café" lines up with "Cafe"), and one blank more.
static void
s_column (const char *text, int width)
{
    int chars = 0;
    for (const char *c = text ? text : ""; *c; c++)
        chars += ((unsigned char)*c & 0xC0) != 0x80;
    printf ("%s%*s", text ? text : "", chars < width ? width - chars + 1 : 1, "");
}

static void
s_print_partner (json_t *partner)
{
    char roles[1024];
    hubctl_join_list (json_object_get (partner, "roles"), roles, sizeof roles);
    s_column (json_string_value (json_object_get (partner, "name")), 20);
    s_column (json_string_value (json_object_get (partner, "org")), 30);
    s_column (json_string_value (json_object_get (partner, "email")), 30);
    printf ("%s", roles);
    if (!json_is_true (json_object_get (partner, "current")))
        printf (" (left)");
    printf ("\n");
}

#define S_MAX_ROLES 16

static int
s_partner_add (hubctl_t *ctx, int argc, char **argv)
{
    const char *key = NULL, *org = NULL, *email = NULL;
    const char *roles[S_MAX_ROLES];
    int nroles = 0;
    //  --role repeats: take them out before the generic parser (which refuses a repeat).
    char **rest = calloc ((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    for (int i = 0; i < argc; i++) {
        bool role = strcmp (argv[i], "--role") == 0, role_eq = !strncmp (argv[i], "--role=", 7);
        if ((role || role_eq) && nroles == S_MAX_ROLES) {
            free (rest);
            return hubctl_usage_error (ctx, "a partner has at most %d roles", S_MAX_ROLES);
        }
        if (role && i + 1 == argc) {
            free (rest);
            return hubctl_usage_error (ctx, "option --role needs a value");
        }
        if (role)
            roles[nroles++] = argv[++i];
        else if (role_eq)
            roles[nroles++] = argv[i] + 7;
        else
            rest[nrest++] = argv[i];
    }
    hubctl_opt_t opts[] = {
        {"key", &key, NULL}, {"org", &org, NULL}, {"email", &email, NULL}, {NULL, NULL, NULL}};
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, nrest, rest, opts, &pos, &npos);
    free (rest);
    if (rc)
        return rc;
    if (npos != 1 || !key) {
        free (pos);
        return hubctl_usage_error (ctx, "give a NAME and --key PUBKEY");
    }
    uint8_t pk[HUB_PUBKEY_BYTES];
    char text[HUB_KEYTEXT_LEN + 1];
    if (hub_key_resolve (key, pk) != HUB_OK) {
        free (pos);
        return hubctl_usage_error (ctx, "--key '%s' is neither a public key nor a .pub file",
                                   key);
    }
    hub_key_to_text (pk, text);
    json_t *role_list;
    if (s_roles (ctx, "--role", roles, nroles, &role_list) != 0) {
        free (pos);
        return HUBCTL_EXIT_USAGE;
    }
    json_t *body = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:o}", "op", "partner.add", "name",
                              pos[0], "key", text, "org", org ? org : "", "email",
                              email ? email : "", "roles", role_list);
    char done[128];
    snprintf (done, sizeof done, "partner %s admitted", pos[0]);
    rc = s_admin (ctx, body, done);
    json_decref (body);
    free (pos);
    return rc;
}

static int
s_partner_remove (hubctl_t *ctx, const char *name)
{
    json_t *body = json_pack ("{s:s, s:s}", "op", "partner.remove", "name", name);
    char done[128];
    snprintf (done, sizeof done, "partner %s removed (their history stays)", name);
    int rc = s_admin (ctx, body, done);
    json_decref (body);
    return rc;
}

static int
s_partner_list (hubctl_t *ctx)
{
    json_t *reply = NULL;
    int rc = hubctl_query (ctx, json_pack ("{s:s}", "q", "partners"), &reply);
    size_t i;
    json_t *partner;
    json_array_foreach (json_object_get (reply, "partners"), i, partner)
    {
        if (ctx->json)
            hubctl_print_json (partner);
        else
            s_print_partner (partner);
    }
    fflush (stdout);
    json_decref (reply);
    return rc;
}

static int
s_partner_show (hubctl_t *ctx, const char *name)
{
    json_t *reply = NULL;
    int rc = hubctl_query (ctx, json_pack ("{s:s, s:s}", "q", "partner", "name", name), &reply);
    json_t *partner = json_object_get (reply, "partner");
    if (rc == 0 && ctx->json)
        hubctl_print_json (partner);
    else if (rc == 0)
        hubctl_print_table (partner, NULL);
    json_decref (reply);
    return rc;
}

int
hubctl_cmd_partner (hubctl_t *ctx, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    if (strcmp (sub, "add") == 0)
        return s_partner_add (ctx, argc - 1, argv + 1);
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, argc - (argc > 0), argv + (argc > 0), NULL, &pos, &npos);
    if (rc)
        return rc;
    const char *name = npos == 1 ? pos[0] : NULL;
    if (strcmp (sub, "list") == 0 && npos == 0)
        rc = s_partner_list (ctx);
    else if (strcmp (sub, "show") == 0 && name)
        rc = s_partner_show (ctx, name);
    else if (strcmp (sub, "remove") == 0 && name)
        rc = s_partner_remove (ctx, name);
    else
        rc = hubctl_usage_error (ctx, "use partner add NAME --key PUBKEY ..., partner list, "
                                      "partner show NAME or partner remove NAME");
    free (pos);
    return rc;
}

static int
s_channel_create (hubctl_t *ctx, int argc, char **argv)
{
    const char *publish = NULL, *read = NULL;
    hubctl_opt_t opts[] = {
        {"publish", &publish, NULL}, {"read", &read, NULL}, {NULL, NULL, NULL}};
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, argc, argv, opts, &pos, &npos);
    if (rc)
        return rc;
    if (npos != 1) {
        free (pos);
        return hubctl_usage_error (ctx, "give a channel NAME");
    }
    const char *star = "*";
    json_t *publish_list, *read_list = NULL;
    if (s_roles (ctx, "--publish", publish ? &publish : &star, 1, &publish_list) != 0 ||
        s_roles (ctx, "--read", read ? &read : &star, 1, &read_list) != 0) {
        json_decref (publish_list);
        free (pos);
        return HUBCTL_EXIT_USAGE;
    }
    json_t *body = json_pack ("{s:s, s:s, s:o, s:o}", "op", "channel.create", "name", pos[0],
                              "publish", publish_list, "read", read_list);
    char done[128];
    snprintf (done, sizeof done, "channel %s created", pos[0]);
    rc = s_admin (ctx, body, done);
    json_decref (body);
    free (pos);
    return rc;
}

static int
s_channel_list (hubctl_t *ctx)
{
    json_t *reply = NULL;
    int rc = hubctl_query (ctx, json_pack ("{s:s}", "q", "channels"), &reply);
    size_t i;
    json_t *channel;
    json_array_foreach (json_object_get (reply, "channels"), i, channel)
    {
        if (ctx->json) {
            hubctl_print_json (channel);
            continue;
        }
        char publish[1024], read[1024];
        hubctl_join_list (json_object_get (channel, "publish"), publish, sizeof publish);
        hubctl_join_list (json_object_get (channel, "read"), read, sizeof read);
        printf ("%-24s publish %-30s read %s\n",
                json_string_value (json_object_get (channel, "name")), publish, read);
    }
    fflush (stdout);
    json_decref (reply);
    return rc;
}

int
hubctl_cmd_channel (hubctl_t *ctx, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    if (strcmp (sub, "create") == 0)
        return s_channel_create (ctx, argc - 1, argv + 1);
    if (strcmp (sub, "list") == 0 && argc == 1)
        return s_channel_list (ctx);
    return hubctl_usage_error (ctx, "use channel create NAME [--publish ROLE,...] "
                                    "[--read ROLE,...] or channel list");
}

int
hubctl_cmd_relay (hubctl_t *ctx, int argc, char **argv)
{
    if (argc != 2 || strcmp (argv[0], "retry") != 0)
        return hubctl_usage_error (ctx, "use relay retry NAME");
    json_t *reply = NULL;
    int rc = hubctl_query (ctx, json_pack ("{s:s, s:s}", "q", "relay.retry", "name", argv[1]),
                           &reply);
    if (rc == 0 && ctx->json)
        hubctl_print_json (reply);
    else if (rc == 0)
        printf ("%lld dead jobs of relay %s requeued, %lld waiting jobs due now\n",
                (long long)json_integer_value (json_object_get (reply, "requeued")), argv[1],
                (long long)json_integer_value (json_object_get (reply, "due_now")));
    json_decref (reply);
    return rc;
}
