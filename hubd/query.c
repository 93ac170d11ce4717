/*  query.c - see query.h. */
#include "query.h"
#include "mem.h"
#include "rights.h"
#include <czmq.h>
#include <string.h>

static json_t *
s_roles (const char *list)
{
    json_t *roles = json_array ();
    char *copy = mem_strdup (list), *save = NULL;
    for (char *role = strtok_r (copy, ",", &save); role; role = strtok_r (NULL, ",", &save))
        json_array_append_new (roles, json_string (role));
    free (copy);
    return roles;
}

typedef struct {
    const partner_t *who;
    json_t *list;
} s_listing_t;

static void
s_add_channel (const char *name, const char *publish, const char *read, void *arg)
{
    s_listing_t *listing = arg;
    if (rights_may_see (publish, read, listing->who))
        json_array_append_new (listing->list,
                               json_pack ("{s:s, s:o, s:o}", "name", name, "publish",
                                          s_roles (publish), "read", s_roles (read)));
}

static json_t *
s_partner_json (const partner_t *partner)
{
    char key[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (partner->key, key);
    json_t *json = json_pack ("{s:s, s:s, s:s, s:s, s:o, s:I, s:b}", "name", partner->name,
                              "key", key, "org", partner->org, "email", partner->email, "roles",
                              s_roles (partner->roles), "joined_ms",
                              (json_int_t)partner->joined_ms, "current", !partner->left_ms);
    json_object_set_new (json, "left_ms",
                         partner->left_ms ? json_integer (partner->left_ms) : json_null ());
    return json;
}

static void
s_add_partner (const partner_t *partner, void *arg)
{
    json_array_append_new (arg, s_partner_json (partner));
}

typedef struct {
    json_t *query;
    json_t *list;
    int64_t now;
} s_action_filter_t;

//  Keeps an item that matches the query's owner and status filters (absent = any).
static void
s_filter_action (action_t *action, void *arg)
{
    s_action_filter_t *filter = arg;
    const char *owner = json_string_value (json_object_get (filter->query, "owner"));
    json_t *statuses = json_object_get (filter->query, "status");
    if (owner && strcmp (owner, action->owner) != 0)
        return;
    json_t *json = action_to_json (action, filter->now);
    const char *status = json_string_value (json_object_get (json, "status"));
    bool wanted = !json_is_array (statuses) || json_array_size (statuses) == 0;
    size_t i;
    json_t *item;
    json_array_foreach (statuses, i, item)
    {
        const char *want = json_string_value (item);
        //  "open" includes overdue items: they are open, and late.
        wanted |= want && (strcmp (want, status) == 0 ||
                           (strcmp (want, "open") == 0 && strcmp (status, "overdue") == 0));
    }
    if (wanted)
        json_array_append (filter->list, json);
    json_decref (json);
}

static json_t *
s_actions (const query_state_t *state, json_t *query, bool one, hub_err_t *err, char *why,
           size_t why_size)
{
    int64_t now = zclock_time ();
    if (!one) {
        s_action_filter_t filter = {query, json_array (), now};
        action_set_each (state->actions, s_filter_action, &filter);
        return json_pack ("{s:o}", "actions", filter.list);
    }
    json_t *id = json_object_get (query, "id");
    action_t *action = json_is_integer (id) && json_integer_value (id) > 0
                           ? action_set_find (state->actions, (uint64_t)json_integer_value (id))
                           : NULL;
    if (action)
        return json_pack ("{s:o}", "action", action_to_json (action, now));
    *err = HUB_E_NOT_FOUND;
    snprintf (why, why_size, "there is no such action item");
    return NULL;
}

json_t *
query_answer (const query_state_t *state, const partner_t *who, json_t *query, hub_err_t *err,
              char *why, size_t why_size)
{
    const char *q = json_string_value (json_object_get (query, "q"));
    const char *name = json_string_value (json_object_get (query, "name"));
    const partner_t *partner = name ? directory_by_name (state->directory, name) : NULL;
    s_listing_t listing = {who, json_array ()};
    json_t *result = NULL;
    if (q && strcmp (q, "channels") == 0) {
        channel_set_each (state->channels, s_add_channel, &listing);
        result = json_pack ("{s:O}", "channels", listing.list);
    } else if (q && strcmp (q, "partners") == 0) {
        directory_each (state->directory, s_add_partner, listing.list);
        result = json_pack ("{s:O}", "partners", listing.list);
    } else if (q && strcmp (q, "partner") == 0 && partner && !partner->admin)
        result = json_pack ("{s:o}", "partner", s_partner_json (partner));
    else if (q && strcmp (q, "partner") == 0) {
        *err = HUB_E_NOT_FOUND;
        snprintf (why, why_size, "there is no partner by that name");
    } else if (q && (strcmp (q, "actions") == 0 || strcmp (q, "action") == 0))
        result = s_actions (state, query, strcmp (q, "action") == 0, err, why, why_size);
    else {
        *err = HUB_E_BAD_REQUEST;
        snprintf (why, why_size,
                  "unknown query (known: channels, partners, partner, actions, "
                  "action, relay.retry)");
    }
    json_decref (listing.list);
    return result;
}
