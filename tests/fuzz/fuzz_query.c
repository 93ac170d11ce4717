/*  fuzz_query.c - libFuzzer harness of QUERY requests (hubd/query.c): the input is the
    QUERY's argument frame, decoded as the front door does (hub_json_frame_parse) and
    answered by query_answer for alice, bob and the administrator on the hub of
    fuzz_hub.h.

    Invariants besides "no crash, no leak, no undefined behaviour":
      - an answer is either a REPLY object that encodes as JSON, or a NOT_FOUND or
        BAD_REQUEST refusal that says why;
      - a partner is shown only the channels it may read, all of them, and never the
        administrator in a partner listing;
      - an item or partner asked for by id or name is that one; a listing filtered by
        owner holds that owner's items only; every time is RFC 3339.
    Build and run with tests/fuzz/run.sh.
*/
#include "fuzz_common.h"
#include "fuzz_hub.h"
#include "query.h"

#include <string.h>

//  A listing shows the channels the partner may see: read, or publish on.
static void
s_count_visible (const char *name, const char *publish, const char *read, void *arg)
{
    (void)name;
    void **args = arg;
    *(size_t *)args[1] += rights_may_see (publish, read, args[0]);
}

static void
s_check_channels (fuzz_hub_t *hub, const partner_t *who, json_t *list)
{
    size_t visible = 0, i;
    void *args[] = {(void *)who, &visible};
    channel_set_each (hub->view.channels, s_count_visible, args);
    CHECK (json_array_size (list) == visible);
    json_t *channel;
    json_array_foreach (list, i, channel)
    {
        const char *name = json_string_value (json_object_get (channel, "name"));
        const char *publish, *read;
        CHECK (name && channel_set_rights (hub->view.channels, name, &publish, &read) &&
               rights_may_see (publish, read, who));
    }
}

static void
s_check_item (json_t *item)
{
    const char *status = json_string_value (json_object_get (item, "status"));
    CHECK (status && strstr (" open overdue done cancelled ", status));
    fuzz_check_time (json_string_value (json_object_get (item, "due")));
    fuzz_check_time (json_string_value (json_object_get (item, "created")));
}

static void
s_check_actions (json_t *query, json_t *list)
{
    const char *owner = json_string_value (json_object_get (query, "owner"));
    size_t i;
    json_t *item;
    json_array_foreach (list, i, item)
    {
        s_check_item (item);
        CHECK (!owner ||
               strcmp (owner, json_string_value (json_object_get (item, "owner"))) == 0);
    }
}

static void
s_check_reply (fuzz_hub_t *hub, const partner_t *who, json_t *query, json_t *reply)
{
    const char *q = json_string_value (json_object_get (query, "q"));
    CHECK (json_is_object (reply) && q);
    char *text = json_dumps (reply, JSON_COMPACT);
    CHECK (text != NULL);
    free (text);
    json_t *value;
    size_t i;
    if (strcmp (q, "channels") == 0)
        s_check_channels (hub, who, json_object_get (reply, "channels"));
    else if (strcmp (q, "partners") == 0)
        json_array_foreach (json_object_get (reply, "partners"), i, value)
            CHECK (strcmp (json_string_value (json_object_get (value, "name")), "admin") != 0);
    else if (strcmp (q, "partner") == 0)
        CHECK (json_equal (json_object_get (json_object_get (reply, "partner"), "name"),
                           json_object_get (query, "name")));
    else if (strcmp (q, "actions") == 0)
        s_check_actions (query, json_object_get (reply, "actions"));
    else {
        CHECK (strcmp (q, "action") == 0);
        value = json_object_get (reply, "action");
        CHECK (json_equal (json_object_get (value, "id"), json_object_get (query, "id")));
        s_check_item (value);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_hub_t *hub = fuzz_hub ();
    hub_err_t err = HUB_OK;
    json_t *query = hub_json_frame_parse (data, size, &err);
    CHECK ((query == NULL) == (err != HUB_OK));
    if (!query)
        return 0;
    query_state_t state = {hub->view.channels, hub->view.directory, hub->view.actions};
    const partner_t *askers[] = {hub->alice, hub->bob, hub->admin};
    for (size_t i = 0; i < sizeof askers / sizeof askers[0]; i++) {
        char why[256] = "";
        err = HUB_OK;
        json_t *reply = query_answer (&state, askers[i], query, &err, why, sizeof why);
        CHECK ((reply != NULL) == (err == HUB_OK));
        if (reply)
            s_check_reply (hub, askers[i], query, reply);
        else
            CHECK ((err == HUB_E_NOT_FOUND || err == HUB_E_BAD_REQUEST) && why[0]);
        json_decref (reply);
    }
    json_decref (query);
    return 0;
}
