/*  hubctl_status.c - `status`: the hub's counters (PROTOCOL.md 10) for a person (a table),
    a script (--json: the STATUS reply as it came) or a monitoring system (--prometheus).

    --prometheus writes the Prometheus text exposition format 0.0.4, for the node
    exporter's textfile collector or any scraper that runs a command:

        # HELP hubd_messages_total Messages stored in the hub's log.
        # TYPE hubd_messages_total counter
        hubd_messages_total 1234
        # HELP hubd_relay_pending Jobs of the relay waiting to be delivered.
        # TYPE hubd_relay_pending gauge
        hubd_relay_pending{relay="team"} 0

    Every metric is prefixed hubd_. The fields hubd sends today have names, types and help
    in the tables below; a numeric field a newer hubd adds still comes out, as a gauge
    named after it (hubd_FIELD; an object of numbers gives hubd_OBJECT_FIELD; an object of
    named objects, like relays, gives hubd_ITEM_FIELD{ITEM="NAME"} with ITEM the object's
    name without its plural s). Strings (the version, a relay's plugin) are not metrics.
    hubd_up is 1 when the hub answered; when it did not, only hubd_up 0 is written (and
    hubctl exits 2 as usual), so a scrape tells a dead hub from a missing exporter.
*/
#include "hubctl.h"
#include "hubc_mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *key;  //  field of the STATUS reply
    const char *name; //  metric name
    const char *type; //  "gauge" or "counter"
    const char *help;
} s_metric_t;

static const s_metric_t s_metrics[] = {
    {"uptime_s", "hubd_uptime_seconds", "gauge", "Seconds since hubd started."},
    {"messages", "hubd_messages_total", "counter", "Messages stored in the hub's log."},
    {"head", "hubd_head_seq", "gauge", "Sequence number of the last stored message."},
    {"clients", "hubd_clients", "gauge", "Connected clients."},
    {"subscribers", "hubd_subscribers", "gauge", "Active subscriptions."},
    {"subscribers_behind", "hubd_subscribers_behind", "gauge",
     "Subscribers not live: catching up from the log or waiting for credit."},
    {"channels", "hubd_channels", "gauge", "Channels defined."},
    {"in_flight", "hubd_in_flight", "gauge",
     "Messages received and being verified or stored, not yet acknowledged."},
    {"in_flight_bytes", "hubd_in_flight_bytes", "gauge",
     "Memory the in-flight messages hold; over 64 MiB hubd stops reading requests."},
    {"refused", "hubd_refused_total", "counter", "Requests refused since hubd started."},
    {"db_bytes", "hubd_db_bytes", "gauge", "Size of the database and its WAL in bytes."},
    {"outbox_depth", "hubd_outbox_depth", "gauge",
     "Relay jobs waiting to be delivered, all relays."},
    {"outbox_dead", "hubd_outbox_dead", "gauge",
     "Relay jobs that failed for good (dead), all relays."},
    {"open_actions", "hubd_open_actions", "gauge", "Action items open, overdue ones included."},
    {NULL, NULL, NULL, NULL}};

//  The fields of each relay in "relays"; the label is relay="NAME".
static const s_metric_t s_relay_metrics[] = {
    {"loaded", "hubd_relay_loaded", "gauge", "1 if the relay's plugin is loaded, else 0."},
    {"pending", "hubd_relay_pending", "gauge", "Jobs of the relay waiting to be delivered."},
    {"oldest_pending_s", "hubd_relay_oldest_pending_seconds", "gauge",
     "Age of the relay's oldest pending job in seconds (0 if none)."},
    {"dead", "hubd_relay_dead", "gauge",
     "Dead jobs of the relay (requeue them with hubctl relay retry)."},
    {NULL, NULL, NULL, NULL}};

static const s_metric_t *
s_lookup (const s_metric_t *table, const char *key)
{
    for (; table && table->key; table++)
        if (strcmp (table->key, key) == 0)
            return table;
    return NULL;
}

static bool
s_is_number (json_t *value)
{
    return json_is_number (value) || json_is_boolean (value);
}

//  A metric name part: [a-z0-9_], anything else becomes '_'.
static void
s_sanitize (char *name)
{
    for (char *p = name; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            *p = '_';
    }
}

static void
s_print_family (const char *name, const char *type, const char *help)
{
    printf ("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  A label value with \, " and newline escaped as the format asks.
static void
s_print_label (const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            printf ("\\%c", *p);
        else if (*p == '\n')
            fputs ("\\n", stdout);
        else
            putchar (*p);
    }
}

//  One sample: NAME[{LABEL="VALUE"}] NUMBER.
static void
s_print_sample (const char *name, const char *label, const char *label_value, json_t *value)
{
    fputs (name, stdout);
    if (label) {
        printf ("{%s=\"", label);
        s_print_label (label_value);
        fputs ("\"}", stdout);
    }
    if (json_is_integer (value))
        printf (" %" JSON_INTEGER_FORMAT "\n", json_integer_value (value));
    else if (json_is_real (value))
        printf (" %.17g\n", json_real_value (value));
    else
        printf (" %d\n", json_is_true (value) ? 1 : 0);
}

//  A numeric field the tables do not name (field: KEY or OBJECT.KEY): a gauge hubd_FIELD
//  with '.' and other characters a name cannot hold as '_'.
static void
s_print_unnamed (const char *field, json_t *value)
{
    char name[256], help[320];
    snprintf (name, sizeof name, "hubd_%s", field);
    s_sanitize (name);
    snprintf (help, sizeof help, "The hub's STATUS field %s.", field);
    s_print_family (name, "gauge", help);
    s_print_sample (name, NULL, NULL, value);
}

//  The singular of a plural key ("relays" -> "relay"), for a label or a table title.
static void
s_singular (const char *key, char *out, size_t size)
{
    snprintf (out, size, "%s", key);
    size_t len = strlen (out);
    if (len > 1 && out[len - 1] == 's')
        out[len - 1] = 0;
}

//  True if obj is a non-empty object of objects (relays: {NAME: {...}}).
static bool
s_is_items (json_t *obj)
{
    if (!json_is_object (obj) || !json_object_size (obj))
        return false;
    const char *key;
    json_t *value;
    json_object_foreach (obj, key, value)
    {
        if (!json_is_object (value))
            return false;
    }
    return true;
}

//  An object of numbers (obj_key): hubd_OBJ_FIELD, one family each.
static void
s_prom_flat (const char *obj_key, json_t *obj)
{
    const char *key;
    json_t *value;
    json_object_foreach (obj, key, value)
    {
        if (!s_is_number (value))
            continue;
        char field[320];
        snprintf (field, sizeof field, "%s.%s", obj_key, key);
        s_print_unnamed (field, value);
    }
}

//  An object of named objects (relays: {NAME: {...}}): one family per field, one sample
//  per item, labelled with the item's name. known names the fields of a known object.
static void
s_prom_items (const char *obj_key, json_t *obj, const s_metric_t *known)
{
    char label[64];
    s_singular (obj_key, label, sizeof label);
    s_sanitize (label);
    //  The fields in order, known ones first (their HELP and TYPE come even with no items).
    json_t *fields = json_object ();
    for (const s_metric_t *m = known; m && m->key; m++)
        json_object_set_new (fields, m->key, json_true ());
    const char *item, *field;
    json_t *value, *unused;
    json_object_foreach (obj, item, value)
    {
        json_t *v;
        json_object_foreach (value, field, v)
        {
            if (s_is_number (v))
                json_object_set_new (fields, field, json_true ());
        }
    }
    json_object_foreach (fields, field, unused)
    {
        const s_metric_t *m = s_lookup (known, field);
        char name[256], help[320];
        snprintf (name, sizeof name, "hubd_%s_%s", label, field);
        s_sanitize (name);
        snprintf (help, sizeof help, "The hub's STATUS field %s.NAME.%s.", obj_key, field);
        s_print_family (m ? m->name : name, m ? m->type : "gauge", m ? m->help : help);
        json_object_foreach (obj, item, value)
        {
            json_t *v = json_object_get (value, field);
            if (s_is_number (v))
                s_print_sample (m ? m->name : name, label, item, v);
        }
    }
    json_decref (fields);
}

static void
s_print_up (bool up)
{
    s_print_family ("hubd_up", "gauge", "1 if the hub answered the status request, else 0.");
    printf ("hubd_up %d\n", up ? 1 : 0);
}

static void
s_print_prometheus (json_t *status)
{
    const char *version = json_string_value (json_object_get (status, "version"));
    printf ("# hubd %s, read by hubctl %s\n", version ? version : "?", HUB_VERSION);
    s_print_up (true);
    for (const s_metric_t *m = s_metrics; m->key; m++) {
        json_t *value = json_object_get (status, m->key);
        if (s_is_number (value)) {
            s_print_family (m->name, m->type, m->help);
            s_print_sample (m->name, NULL, NULL, value);
        }
    }
    const char *key;
    json_t *value;
    json_object_foreach (status, key, value)
    {
        if (s_is_number (value) && !s_lookup (s_metrics, key))
            s_print_unnamed (key, value);
        else if (json_is_object (value)) {
            //  An object of objects (or an empty one) holds named items; else numbers.
            bool items = !json_object_size (value) || s_is_items (value);
            bool relays = strcmp (key, "relays") == 0;
            if (items)
                s_prom_items (key, value, relays ? s_relay_metrics : NULL);
            else
                s_prom_flat (key, value);
        }
    }
    fflush (stdout);
}

//  --------------------------------------------------------------------------
//  The table for people

//  A scalar as text (bools as yes/no). Caller frees.
static char *
s_text (json_t *value)
{
    if (json_is_string (value))
        return hubc_strdup (json_string_value (value));
    if (json_is_boolean (value))
        return hubc_strdup (json_is_true (value) ? "yes" : "no");
    return hubc_check (json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY));
}

//  Prints obj's items as a table: a header row (ITEM and the union of the fields), then
//  a row per item.
static void
s_print_items (const char *title, json_t *obj)
{
    json_t *columns = json_object (); //  field -> width
    const char *item, *field;
    json_t *value, *v;
    int first = (int)strlen (title);
    json_object_foreach (obj, item, value)
    {
        if ((int)strlen (item) > first)
            first = (int)strlen (item);
        json_object_foreach (value, field, v)
        {
            char *text = s_text (v);
            json_int_t width = json_integer_value (json_object_get (columns, field));
            json_int_t need =
                (json_int_t)(strlen (text) > strlen (field) ? strlen (text) : strlen (field));
            json_object_set_new (columns, field, json_integer (need > width ? need : width));
            free (text);
        }
    }
    printf ("\n%-*s", first, title);
    json_object_foreach (columns, field, v)
    {
        bool last = !json_object_iter_next (columns, json_object_key_to_iter (field));
        printf ("  %-*s", last ? 0 : (int)json_integer_value (v), field);
    }
    putchar ('\n');
    json_object_foreach (obj, item, value)
    {
        printf ("%-*s", first, item);
        json_t *width;
        json_object_foreach (columns, field, width)
        {
            json_t *cell = json_object_get (value, field);
            char *text = cell ? s_text (cell) : hubc_strdup ("-");
            bool last = !json_object_iter_next (columns, json_object_key_to_iter (field));
            printf ("  %-*s", last ? 0 : (int)json_integer_value (width), text);
            free (text);
        }
        putchar ('\n');
    }
    json_decref (columns);
}

//  Key/value rows for the scalars (an object of objects shows its size there and its
//  table after), nested objects of scalars as KEY.FIELD rows.
static void
s_print_status (json_t *status)
{
    json_t *rows = json_object (); //  name -> text, in order
    const char *key, *field;
    json_t *value, *v;
    json_object_foreach (status, key, value)
    {
        if (s_is_items (value))
            json_object_set_new (rows, key,
                                 json_integer ((json_int_t)json_object_size (value)));
        else if (json_is_object (value) && !json_object_size (value))
            json_object_set_new (rows, key, json_string ("none"));
        else if (json_is_object (value)) {
            json_object_foreach (value, field, v)
            {
                char name[256];
                snprintf (name, sizeof name, "%s.%s", key, field);
                json_object_set (rows, name, v);
            }
        } else
            json_object_set (rows, key, value);
    }
    int width = 0;
    json_object_foreach (rows, key, value)
    {
        width = (int)strlen (key) > width ? (int)strlen (key) : width;
    }
    json_object_foreach (rows, key, value)
    {
        char *text = s_text (value);
        printf ("%-*s  %s\n", width, key, text);
        free (text);
    }
    json_decref (rows);
    json_object_foreach (status, key, value)
    {
        if (s_is_items (value)) {
            char title[64];
            s_singular (key, title, sizeof title);
            s_print_items (title, value);
        }
    }
    fflush (stdout);
}

int
hubctl_cmd_status (hubctl_t *ctx, int argc, char **argv)
{
    bool prometheus = false;
    hubctl_opt_t opts[] = {{"prometheus", NULL, &prometheus}, {NULL, NULL, NULL}};
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, argc, argv, opts, &pos, &npos);
    if (rc)
        return rc;
    free (pos);
    if (npos)
        return hubctl_usage_error (ctx, "takes no arguments");
    if (prometheus && ctx->json)
        return hubctl_usage_error (ctx, "--json and --prometheus exclude each other");
    rc = hubctl_connect (ctx);
    json_t *status = NULL;
    if (rc == 0 && hub_client_status (ctx->client, &status) != HUB_OK) {
        rc = hubctl_fail (ctx);
        if (prometheus) {
            s_print_up (false);
            fflush (stdout);
        }
    } else if (rc == 0 && ctx->json)
        hubctl_print_json (status);
    else if (rc == 0) {
        //  uptime and outbox repeat uptime_s and the relays' pending (PROTOCOL.md 10):
        //  one row or metric each is enough for people and Prometheus.
        json_object_del (status, "uptime");
        json_object_del (status, "outbox");
        if (prometheus)
            s_print_prometheus (status);
        else
            s_print_status (status);
    }
    json_decref (status);
    return rc;
}
