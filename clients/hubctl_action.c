/*  hubctl_action.c - commitments: action add|done|cancel|list.

    An action item is a message of kind "action" on channel "actions" whose header carries
    {"owner", "due"}; its id is the seq the hub stored it at. Closing it is an
    "action-done" or "action-cancel" message carrying {"id"} (PROTOCOL.md section 13).
*/
#include "hubctl.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  True if text starts with n ASCII digits; their value in *value.
static bool
s_digits (const char *text, int n, int *value)
{
    *value = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit ((unsigned char)text[i]))
            return false;
        *value = *value * 10 + (text[i] - '0');
    }
    return true;
}

//  timegm (tm) into *secs, true if tm named a moment that exists: timegm normalises
//  fields out of range (February 30 becomes March 2, 17:00:60 becomes 17:01:00), so one
//  that comes back changed did not.
static bool
s_timegm_exact (struct tm *tm, int64_t *secs)
{
    struct tm asked = *tm;
    *secs = (int64_t)timegm (tm);
    return tm->tm_year == asked.tm_year && tm->tm_mon == asked.tm_mon &&
           tm->tm_mday == asked.tm_mday && tm->tm_hour == asked.tm_hour &&
           tm->tm_min == asked.tm_min && tm->tm_sec == asked.tm_sec;
}

//  WHEN: RFC 3339 ("2026-12-01T17:00:00Z", "...+02:00"), a date ("2026-12-01": the end of
//  that day, UTC), or relative to now ("+90s", "+15m", "+2h", "+3d"). False if invalid:
//  every field must have its digits and be in range (no 2027-02-30, no 17:00:60). A time
//  in the past is valid (a commitment recorded late); the caller bounds the year.
static bool
s_parse_when (const char *text, int64_t *ms)
{
    if (text[0] == '+') {
        char *end;
        long long n = isdigit ((unsigned char)text[1]) ? strtoll (text + 1, &end, 10) : 0;
        long long unit = n <= 0        ? 0
                         : *end == 's' ? 1
                         : *end == 'm' ? 60
                         : *end == 'h' ? 3600
                         : *end == 'd' ? 86400
                                       : 0;
        if (!unit || end[1] || n > 100LL * 365 * 86400 / unit)
            return false;
        *ms = hub_time_now_ms () + n * unit * 1000;
        return true;
    }
    struct tm tm = {0};
    int year, month;
    if (!s_digits (text, 4, &year) || text[4] != '-' || !s_digits (text + 5, 2, &month) ||
        text[7] != '-' || !s_digits (text + 8, 2, &tm.tm_mday))
        return false;
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    const char *rest = text + 10;
    bool date_only = !*rest;
    if (!date_only && (!strchr ("Tt ", *rest) || !s_digits (rest + 1, 2, &tm.tm_hour) ||
                       rest[3] != ':' || !s_digits (rest + 4, 2, &tm.tm_min) ||
                       rest[6] != ':' || !s_digits (rest + 7, 2, &tm.tm_sec)))
        return false;
    int64_t secs;
    if (!s_timegm_exact (&tm, &secs))
        return false;
    if (date_only) {
        *ms = (secs + 86399) * 1000 + 999;
        return true;
    }
    rest += 9;
    int64_t frac_ms = 0;
    if (*rest == '.') {
        if (!isdigit ((unsigned char)rest[1]))
            return false;
        int64_t scale = 100;
        for (rest++; isdigit ((unsigned char)*rest); rest++, scale /= 10)
            frac_ms += (*rest - '0') * scale;
    }
    int64_t offset_s = 0;
    int oh, om;
    if (*rest == 'Z' || *rest == 'z')
        rest++;
    else if ((*rest == '+' || *rest == '-') && s_digits (rest + 1, 2, &oh) && rest[3] == ':' &&
             s_digits (rest + 4, 2, &om) && oh <= 23 && om <= 59) {
        offset_s = (*rest == '-' ? -1 : 1) * (oh * 3600 + om * 60);
        rest += 6;
    } else
        return false;
    if (*rest)
        return false;
    *ms = (secs - offset_s) * 1000 + frac_ms;
    return true;
}

static int
s_print_action (hubctl_t *ctx, json_t *action)
{
    if (ctx->json) {
        hubctl_print_json (action);
        return 0;
    }
    printf ("%-6lld %-8s due %s  owner %-16s %s\n",
            (long long)json_integer_value (json_object_get (action, "id")),
            json_string_value (json_object_get (action, "status")),
            json_string_value (json_object_get (action, "due")),
            json_string_value (json_object_get (action, "owner")),
            json_string_value (json_object_get (action, "title")));
    fflush (stdout);
    return 0;
}

//  Asks the hub for item id and prints it.
static int
s_show (hubctl_t *ctx, uint64_t id)
{
    json_t *reply = NULL;
    json_t *query = json_pack ("{s:s, s:I}", "q", "action", "id", (json_int_t)id);
    int rc = hub_client_request (ctx->client, HUB_CMD_QUERY, query, &reply) == HUB_OK
                 ? s_print_action (ctx, json_object_get (reply, "action"))
                 : hubctl_fail (ctx);
    json_decref (query);
    json_decref (reply);
    return rc;
}

static int
s_add (hubctl_t *ctx, int argc, char **argv)
{
    const char *owner = NULL, *due = NULL, *detail = NULL;
    hubctl_opt_t opts[] = {{"owner", &owner, NULL},
                           {"due", &due, NULL},
                           {"detail", &detail, NULL},
                           {NULL, NULL, NULL}};
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, argc, argv, opts, &pos, &npos);
    if (rc)
        return rc;
    int64_t due_ms = 0;
    bool when = due && s_parse_when (due, &due_ms);
    if (npos != 1 || !owner || !due)
        rc = hubctl_usage_error (ctx, "give a TITLE, --owner PARTNER and --due WHEN");
    else if (!when && due[0] == '+')
        rc = hubctl_usage_error (ctx,
                                 "--due '%s' is not +N with s, m, h or d (like +90s, +2h, "
                                 "+3d), N from 1 up to 100 years",
                                 due);
    else if (!when)
        rc = hubctl_usage_error (ctx, "--due '%s' is not RFC 3339, YYYY-MM-DD or +90s/+2h/+3d",
                                 due);
    //  Out of the hub's range: refused here, with the reason, before it is sent.
    else if (due_ms < HUB_DUE_MIN_MS)
        rc = hubctl_usage_error (ctx, "--due '%s' is before 2000-01-01: not a due time", due);
    else if (due_ms > HUB_DUE_MAX_MS)
        rc = hubctl_usage_error (ctx, "--due '%s' is after 9999-12-31: not a due time", due);
    if (rc) {
        free (pos);
        return rc;
    }
    json_t *fields = json_pack ("{s:s, s:I}", "owner", owner, "due", (json_int_t)due_ms);
    if (!fields) { //  json_pack refuses text that is not UTF-8
        free (pos);
        return hubctl_usage_error (ctx, "--owner must be UTF-8");
    }
    char *fields_json = json_dumps (fields, JSON_COMPACT | JSON_PRESERVE_ORDER);
    rc = hubctl_connect (ctx);
    uint64_t seq = 0;
    if (rc == 0 &&
        hub_client_publish (ctx->client, "actions", "action", pos[0], detail ? detail : "",
                            detail ? strlen (detail) : 0, fields_json, &seq, NULL) != HUB_OK)
        rc = hubctl_fail (ctx);
    else if (rc == 0 && ctx->json)
        rc = s_show (ctx, seq);
    else if (rc == 0)
        printf ("%llu\n", (unsigned long long)seq);
    json_decref (fields);
    free (fields_json);
    free (pos);
    return rc;
}

static int
s_close (hubctl_t *ctx, const char *kind, int argc, char **argv)
{
    const char *note = NULL;
    hubctl_opt_t opts[] = {{"note", &note, NULL}, {NULL, NULL, NULL}};
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, argc, argv, opts, &pos, &npos);
    if (rc)
        return rc;
    uint64_t id = 0;
    if (npos != 1 || !hubctl_parse_u64 (pos[0], &id) || id == 0) {
        free (pos);
        return hubctl_usage_error (ctx, "give the action ID (a number)");
    }
    free (pos);
    char fields[48];
    snprintf (fields, sizeof fields, "{\"id\":%llu}", (unsigned long long)id);
    rc = hubctl_connect (ctx);
    uint64_t seq = 0;
    if (rc == 0 && hub_client_publish (ctx->client, "actions", kind, NULL, note ? note : "",
                                       note ? strlen (note) : 0, fields, &seq, NULL) != HUB_OK)
        return hubctl_fail (ctx);
    if (rc == 0 && ctx->json)
        return s_show (ctx, id);
    if (rc == 0)
        printf ("action %llu %s (seq %llu)\n", (unsigned long long)id,
                strcmp (kind, "action-done") == 0 ? "done" : "cancelled",
                (unsigned long long)seq);
    return rc;
}

static int
s_list (hubctl_t *ctx, int argc, char **argv)
{
    const char *owner = NULL, *status = NULL;
    hubctl_opt_t opts[] = {
        {"owner", &owner, NULL}, {"status", &status, NULL}, {NULL, NULL, NULL}};
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, argc, argv, opts, &pos, &npos);
    free (pos);
    if (rc)
        return rc;
    if (npos)
        return hubctl_usage_error (ctx, "takes no arguments");
    json_t *query = json_pack ("{s:s}", "q", "actions");
    if (owner)
        json_object_set_new (query, "owner", json_string (owner));
    if (status) {
        json_t *list = json_array ();
        char *copy = strdup (status), *save = NULL;
        for (char *s = strtok_r (copy, ", ", &save); s; s = strtok_r (NULL, ", ", &save)) {
            if (strcmp (s, "open") && strcmp (s, "done") && strcmp (s, "overdue") &&
                strcmp (s, "cancelled")) {
                free (copy);
                json_decref (list);
                json_decref (query);
                return hubctl_usage_error (ctx,
                                           "--status takes open, done, overdue, cancelled");
            }
            json_array_append_new (list, json_string (s));
        }
        free (copy);
        if (!json_array_size (list)) {
            json_decref (list);
            json_decref (query);
            return hubctl_usage_error (ctx, "--status takes open, done, overdue, cancelled");
        }
        json_object_set_new (query, "status", list);
    }
    json_t *reply = NULL;
    rc = hubctl_query (ctx, query, &reply);
    size_t i;
    json_t *action;
    json_array_foreach (json_object_get (reply, "actions"), i, action)
        s_print_action (ctx, action);
    json_decref (reply);
    return rc;
}

int
hubctl_cmd_action (hubctl_t *ctx, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    if (strcmp (sub, "add") == 0)
        return s_add (ctx, argc - 1, argv + 1);
    if (strcmp (sub, "done") == 0)
        return s_close (ctx, "action-done", argc - 1, argv + 1);
    if (strcmp (sub, "cancel") == 0)
        return s_close (ctx, "action-cancel", argc - 1, argv + 1);
    if (strcmp (sub, "list") == 0)
        return s_list (ctx, argc - 1, argv + 1);
    return hubctl_usage_error (ctx,
                               "use action add, action done, action cancel or action list");
}
