/*  fuzz_action.c - libFuzzer harness of action items' fields (hubd/action.c): the "action"
    object of the header of an action, action-done, action-cancel or reminder message.

    Input: one byte, then the object's text. The byte's low two bits pick the kind
    (action, action-done, action-cancel, reminder) and the next two the author (alice,
    bob, the administrator; reminders are the hub's). The text goes the way of a real
    message on the hub of fuzz_hub.h: action_parse; as a header's action object, the
    front door's checks (rights_check_signed) and the store (derive_apply, rolled back).
    Invariants besides "no crash, no leak, no undefined behaviour":
      - a refusal says why; parsed fields are in range;
      - the fields re-encoded, or the object as the header carries it, parse the same;
      - an item made of the fields lists with RFC 3339 times (PROTOCOL.md 10);
      - the front door and the store refuse what action_parse refuses, and otherwise
        decide exactly as the directory, the items and their owners and creators say;
        the store never fails to store.
    Build and run with tests/fuzz/run.sh.
*/
#include "fuzz_common.h"
#include "fuzz_hub.h"
#include "action.h"
#include "hub_text.h"

#include <czmq.h>
#include <string.h>

static const char *s_kinds[] = {"action", "action-done", "action-cancel", "reminder"};

static bool
s_same_fields (const action_fields_t *a, const action_fields_t *b)
{
    return a->id == b->id && strcmp (a->owner, b->owner) == 0 && a->due_ms == b->due_ms &&
           strcmp (a->slot, b->slot) == 0 && a->slot_ms == b->slot_ms;
}

//  The item an action with these fields makes, as a listing shows it.
static void
s_check_listing (const action_fields_t *f)
{
    action_t item = {.id = FUZZ_HUB_NEXT_SEQ,
                     .title = "t",
                     .detail = "",
                     .due_ms = f->due_ms,
                     .status = "open",
                     .created_ms = FUZZ_HUB_NOW_MS,
                     .note = ""};
    snprintf (item.owner, sizeof item.owner, "%s", f->owner);
    snprintf (item.creator, sizeof item.creator, "alice");
    json_t *json = action_to_json (&item, FUZZ_HUB_NOW_MS);
    CHECK (json != NULL);
    fuzz_check_time (json_string_value (json_object_get (json, "due")));
    fuzz_check_time (json_string_value (json_object_get (json, "created")));
    CHECK (json_integer_value (json_object_get (json, "due_ms")) == f->due_ms);
    json_decref (json);
}

static void
s_check_fields (const char *kind, const action_fields_t *f)
{
    bool creates = strcmp (kind, "action") == 0, reminds = strcmp (kind, "reminder") == 0;
    CHECK (creates ? f->id == 0 : f->id >= 1 && f->id <= INT64_MAX);
    if (creates || reminds) {
        CHECK (hub_channel_valid (f->owner) && f->due_ms >= 0);
        s_check_listing (f);
    }
    CHECK (!reminds || f->slot_ms >= 0);
    json_t *obj = json_object ();
    if (!creates)
        json_object_set_new (obj, "id", json_integer ((json_int_t)f->id));
    if (creates || reminds) {
        json_object_set_new (obj, "owner", json_string (f->owner));
        json_object_set_new (obj, "due", json_integer (f->due_ms));
    }
    if (reminds) {
        json_object_set_new (obj, "slot", json_string (f->slot));
        json_object_set_new (obj, "slot_ms", json_integer (f->slot_ms));
    }
    char *text = json_dumps (obj, JSON_COMPACT);
    json_decref (obj);
    CHECK (text != NULL);
    action_fields_t again;
    char why[256];
    CHECK (action_parse (kind, text, &again, why, sizeof why) == HUB_OK);
    CHECK (s_same_fields (&again, f));
    free (text);
}

//  What the front door (store false) or the store must answer to a message of kind with
//  the fields f by author: the front door knows the items and the directory, the store
//  also who may close an item.
static hub_err_t
s_expected (fuzz_hub_t *hub, const char *kind, const partner_t *author,
            const action_fields_t *f, bool store)
{
    if (strcmp (kind, "action") == 0 && !store) {
        const partner_t *owner = directory_by_name (hub->view.directory, f->owner);
        if (!owner || owner->left_ms)
            return HUB_E_UNKNOWN_PARTNER;
        return f->due_ms >= HUB_DUE_MIN_MS && f->due_ms <= HUB_DUE_MAX_MS ? HUB_OK
                                                                          : HUB_E_BAD_REQUEST;
    }
    if (strcmp (kind, "action") == 0 || strcmp (kind, "reminder") == 0)
        return HUB_OK;
    action_t *item = action_set_find (hub->view.actions, f->id);
    if (!item)
        return HUB_E_NOT_FOUND;
    if (strcmp (item->status, "open") != 0)
        return HUB_E_CONFLICT;
    bool may = !store || author->admin || strcmp (item->owner, author->name) == 0 ||
               strcmp (item->creator, author->name) == 0;
    return may ? HUB_OK : HUB_E_FORBIDDEN;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    fuzz_hub_t *hub = fuzz_hub ();
    const char *kind = s_kinds[data[0] & 3];
    const partner_t *authors[] = {hub->alice, hub->bob, hub->admin, hub->alice};
    const partner_t *author = authors[(data[0] >> 2) & 3];
    bool reminds = strcmp (kind, "reminder") == 0;
    char *text = fuzz_strndup (data + 1, size - 1);

    action_fields_t f;
    char why[256] = "";
    hub_err_t parsed = action_parse (kind, text, &f, why, sizeof why);
    //  An owner no partner can be named is UNKNOWN_PARTNER (an item's creation only).
    CHECK (parsed == HUB_OK || (parsed == HUB_E_BAD_REQUEST && why[0]) ||
           (parsed == HUB_E_UNKNOWN_PARTNER && strcmp (kind, "action") == 0 &&
            strstr (why, "there is no partner")));
    if (parsed == HUB_OK)
        s_check_fields (kind, &f);

    entry_t *entry = fuzz_hub_entry ("actions", kind, reminds ? hub->hub_pk : author->key,
                                     "Fuzzed item", text, "note", 4);
    free (text);
    if (!entry) //  not an object a header can carry
        return 0;
    action_fields_t carried;
    CHECK (action_parse (kind, entry->hdr.action_json, &carried, why, sizeof why) == parsed);
    CHECK (parsed != HUB_OK || s_same_fields (&carried, &f));

    if (!reminds) { //  only the hub writes reminders: the front door refuses them anyway
        hub_header_t hdr;
        hub_err_t checked = rights_check_signed (
            hub->rights, &hub->view, HUB_CMD_PUBLISH, author, author->curve_hex, entry->header,
            entry->hlen, entry->body, entry->blen, HUB_SIG_BYTES, &hdr, why, sizeof why);
        hub_header_clear (&hdr);
        CHECK (checked ==
               (parsed != HUB_OK ? parsed : s_expected (hub, kind, author, &f, false)));
    }
    hub_err_t stored = fuzz_hub_derive (hub, entry);
    CHECK (stored == (parsed != HUB_OK ? parsed : s_expected (hub, kind, author, &f, true)));
    entry_destroy (&entry);
    return 0;
}
