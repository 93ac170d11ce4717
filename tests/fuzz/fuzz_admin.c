/*  fuzz_admin.c - libFuzzer harness of the administrator commands (hubd/admin.c): the
    input is the body of an ADMIN request, a JSON object (admin.h).

    The body goes the way of a real ADMIN request on the hub of fuzz_hub.h: admin_parse (as
    a fresh command and as a logged one); the front door's checks (rights_check_signed,
    with a header signed by the administrator); the store (derive_apply, rolled back).
    Invariants besides "no crash, no leak, no undefined behaviour":
      - a refusal says why; a parsed command holds valid names and roles only;
      - the command re-encoded as hubctl sends it parses to the same command;
      - the front door accepts no body admin_parse refuses as a fresh command, and refuses
        a parsed one only for the hub's or the administrator's own key (or its size or
        text); a fresh parse refuses only what a logged one does, or with BAD_REQUEST;
      - the store never fails to store, refuses what admin_parse refuses, and refuses a
        parsed command exactly when the directory and channels say it must.
    Build and run with tests/fuzz/run.sh.
*/
#include "fuzz_common.h"
#include "fuzz_hub.h"
#include "admin.h"
#include "hub_text.h"

#include <string.h>

//  Every comma-separated item of list is a role name (or "*" where star is allowed).
static void
s_check_roles (const char *list, bool star)
{
    char copy[sizeof ((admin_op_t *)0)->roles];
    snprintf (copy, sizeof copy, "%s", list);
    char *save = NULL;
    for (char *role = strtok_r (copy, ",", &save); role; role = strtok_r (NULL, ",", &save))
        CHECK (hub_channel_valid (role) || (star && strcmp (role, "*") == 0));
}

static json_t *
s_list (const char *list)
{
    json_t *array = json_array ();
    char copy[sizeof ((admin_op_t *)0)->roles];
    snprintf (copy, sizeof copy, "%s", list);
    char *save = NULL;
    for (char *role = strtok_r (copy, ",", &save); role; role = strtok_r (NULL, ",", &save))
        json_array_append_new (array, json_string (role));
    return array;
}

//  The command as clients/hubctl_admin.c writes it.
static char *
s_encode (const admin_op_t *op)
{
    json_t *body = NULL;
    char key[HUB_KEYTEXT_LEN + 1];
    switch (op->kind) {
    case ADMIN_PARTNER_ADD:
        hub_key_to_text (op->key, key);
        body = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:o}", "op", "partner.add", "name",
                          op->name, "key", key, "org", op->org, "email", op->email, "roles",
                          s_list (op->roles));
        break;
    case ADMIN_PARTNER_REMOVE:
        body = json_pack ("{s:s, s:s}", "op", "partner.remove", "name", op->name);
        break;
    case ADMIN_CHANNEL_CREATE:
        body = json_pack ("{s:s, s:s, s:o, s:o}", "op", "channel.create", "name", op->name,
                          "publish", s_list (op->publish), "read", s_list (op->read));
        break;
    }
    CHECK (body != NULL);
    char *text = json_dumps (body, JSON_COMPACT);
    json_decref (body);
    CHECK (text != NULL);
    return text;
}

static void
s_check_op (const admin_op_t *op)
{
    CHECK (hub_channel_valid (op->name));
    CHECK (!strchr (op->org, '\n') && !strchr (op->email, '\n'));
    s_check_roles (op->roles, false);
    s_check_roles (op->publish, true);
    s_check_roles (op->read, true);
    if (op->kind == ADMIN_CHANNEL_CREATE)
        CHECK (op->publish[0] && op->read[0]);
    char *text = s_encode (op);
    admin_op_t again;
    char why[256] = "";
    hub_err_t err =
        admin_parse ((const uint8_t *)text, strlen (text), false, &again, why, sizeof why);
    CHECK_SAY (err == HUB_OK, "re-encoded as %s: %s\n", text, why);
    CHECK (memcmp (&again, op, sizeof *op) == 0);
    free (text);
}

//  What the store must answer to op, from the state the front door sees.
static hub_err_t
s_expected (fuzz_hub_t *hub, const admin_op_t *op)
{
    directory_t *directory = hub->view.directory;
    const partner_t *named = directory_by_name (directory, op->name);
    const partner_t *keyed = directory_by_key (directory, op->key);
    switch (op->kind) {
    case ADMIN_PARTNER_ADD:
        //  A partner who left comes back with its own name and key; any other clash
        //  conflicts (the built-in administrator has no row to collide with).
        if (named && named == keyed && named->left_ms)
            return HUB_OK;
        return (named && !named->admin) || (keyed && !keyed->admin) ? HUB_E_CONFLICT : HUB_OK;
    case ADMIN_PARTNER_REMOVE:
        return named && !named->admin && !named->left_ms ? HUB_OK : HUB_E_NOT_FOUND;
    case ADMIN_CHANNEL_CREATE:
        return channel_set_has (hub->view.channels, op->name) ? HUB_E_CONFLICT : HUB_OK;
    }
    return HUB_E_BAD_REQUEST;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    fuzz_hub_t *hub = fuzz_hub ();
    admin_op_t op;
    char why[256] = "";
    hub_err_t parsed = admin_parse (data, size, false, &op, why, sizeof why);
    CHECK (parsed == HUB_OK ||
           ((parsed == HUB_E_BAD_REQUEST || parsed == HUB_E_BAD_NAME) && why[0]));
    if (parsed == HUB_OK)
        s_check_op (&op);
    //  A fresh command passes the later rules too: refused only where the logged one is,
    //  or with BAD_REQUEST for a reserved role or an empty rights list.
    admin_op_t fresh_op;
    hub_err_t fresh = admin_parse (data, size, true, &fresh_op, why, sizeof why);
    CHECK (fresh == parsed || (fresh == HUB_E_BAD_REQUEST && why[0]));
    CHECK (fresh != HUB_OK || memcmp (&fresh_op, &op, sizeof op) == 0);

    entry_t *entry = fuzz_hub_entry ("admin", "admin", hub->admin->key, NULL, NULL, data, size);
    CHECK (entry != NULL);
    hub_header_t hdr;
    why[0] = 0;
    hub_err_t checked =
        rights_check_signed (hub->rights, &hub->view, HUB_CMD_ADMIN, hub->admin,
                             hub->admin->curve_hex, entry->header, entry->hlen, entry->body,
                             entry->blen, HUB_SIG_BYTES, &hdr, why, sizeof why);
    hub_header_clear (&hdr);
    CHECK (checked == HUB_OK || why[0]);
    bool own_key = fresh == HUB_OK && op.kind == ADMIN_PARTNER_ADD &&
                   (memcmp (op.key, hub->hub_pk, HUB_PUBKEY_BYTES) == 0 ||
                    memcmp (op.key, hub->admin->key, HUB_PUBKEY_BYTES) == 0);
    if (checked != HUB_E_TOO_LARGE && checked != HUB_E_BAD_UTF8)
        CHECK (checked == (fresh != HUB_OK ? fresh : own_key ? HUB_E_CONFLICT : HUB_OK));

    hub_err_t stored = fuzz_hub_derive (hub, entry);
    CHECK (stored == (parsed != HUB_OK ? parsed : s_expected (hub, &op)));
    entry_destroy (&entry);
    return 0;
}
