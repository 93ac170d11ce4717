/*  admin.c - see admin.h. */
#include "admin.h"
#include "db.h"
#include "hub_text.h"
#include <jansson.h>
#include <stdio.h>
#include <string.h>

//  Joins a JSON array of role names into a comma-separated list. channel: a channel's
//  rights list, where "*" is allowed; else a partner's roles. fresh: see admin_parse.
//  HUB_E_BAD_NAME for a role that is not a name, HUB_E_BAD_REQUEST for the rest.
static hub_err_t
s_roles (json_t *array, bool channel, bool fresh, char *out, size_t size, char *why,
         size_t why_size, const char *what)
{
    out[0] = 0;
    if (!array)
        return HUB_OK;
    if (!json_is_array (array) || json_array_size (array) > 16) {
        snprintf (why, why_size, "%s must be a list of at most 16 roles", what);
        return HUB_E_BAD_REQUEST;
    }
    if (fresh && channel && json_array_size (array) == 0) {
        snprintf (why, why_size, "%s is an empty list: give roles, or * for every partner",
                  what);
        return HUB_E_BAD_REQUEST;
    }
    size_t i;
    json_t *item;
    json_array_foreach (array, i, item)
    {
        const char *role = json_string_value (item);
        if (!role || !(hub_channel_valid (role) || (channel && strcmp (role, "*") == 0))) {
            snprintf (why, why_size, "%s: '%s' is not a role name (a-z, 0-9, . _ -)%s", what,
                      role ? role : "?", channel ? " or *" : "");
            return HUB_E_BAD_NAME;
        }
        if (fresh && !channel && strcmp (role, ADMIN_ROLE) == 0) {
            snprintf (why, why_size,
                      "%s: '%s' is reserved: in channel rights it names the administrator, "
                      "whose key alone holds its rights",
                      what, role);
            return HUB_E_BAD_REQUEST;
        }
        if (strlen (out) + strlen (role) + 2 > size) {
            snprintf (why, why_size, "%s: the roles are too long together", what);
            return HUB_E_BAD_REQUEST;
        }
        if (out[0])
            strcat (out, ",");
        strcat (out, role);
    }
    return HUB_OK;
}

static bool
s_text (json_t *root, const char *key, char *out, size_t size, char *why, size_t why_size)
{
    json_t *value = json_object_get (root, key);
    out[0] = 0;
    if (!value)
        return true;
    const char *text = json_string_value (value);
    if (!text || strlen (text) >= size || strchr (text, '\n') || strchr (text, '\r')) {
        snprintf (why, why_size, "%s must be one line of text of at most %zu bytes", key,
                  size - 1);
        return false;
    }
    snprintf (out, size, "%s", text);
    return true;
}

static hub_err_t
s_partner_fields (json_t *root, bool fresh, admin_op_t *op, char *why, size_t why_size)
{
    const char *key = json_string_value (json_object_get (root, "key"));
    if (!key || hub_key_from_text (key, op->key) != HUB_OK) {
        snprintf (why, why_size,
                  "key must be a partner's public key (43 characters, as "
                  "printed by hubctl keygen)");
        return HUB_E_BAD_REQUEST;
    }
    uint8_t curve[32];
    if (hub_key_curve_public (op->key, curve) != HUB_OK) {
        snprintf (why, why_size, "key is not a usable Ed25519 public key");
        return HUB_E_BAD_REQUEST;
    }
    if (!s_text (root, "org", op->org, sizeof op->org, why, why_size) ||
        !s_text (root, "email", op->email, sizeof op->email, why, why_size))
        return HUB_E_BAD_REQUEST;
    if (op->email[0] && (!strchr (op->email, '@') || strpbrk (op->email, " \t<>,;\""))) {
        snprintf (why, why_size, "email '%s' is not an address like name@example.org",
                  op->email);
        return HUB_E_BAD_REQUEST;
    }
    return s_roles (json_object_get (root, "roles"), false, fresh, op->roles, sizeof op->roles,
                    why, why_size, "roles");
}

hub_err_t
admin_parse (const uint8_t *body, size_t blen, bool fresh, admin_op_t *op, char *why,
             size_t why_size)
{
    memset (op, 0, sizeof *op);
    json_error_t error;
    json_t *root = json_loadb ((const char *)body, blen, JSON_REJECT_DUPLICATES, &error);
    const char *kind = root ? json_string_value (json_object_get (root, "op")) : NULL;
    const char *name = root ? json_string_value (json_object_get (root, "name")) : NULL;
    hub_err_t err = HUB_E_BAD_REQUEST;
    if (!json_is_object (root) || !kind)
        snprintf (why, why_size, "an admin command is a JSON object with an \"op\"");
    else if (strcmp (kind, "partner.add") != 0 && strcmp (kind, "partner.remove") != 0 &&
             strcmp (kind, "channel.create") != 0)
        snprintf (why, why_size,
                  "unknown op '%s' (partner.add, partner.remove, channel.create)", kind);
    else if (!name)
        snprintf (why, why_size, "an admin command has a \"name\"");
    else if (!hub_channel_valid (name)) {
        snprintf (why, why_size, "name must be 1-64 of a-z, 0-9, '.', '_', '-'");
        err = HUB_E_BAD_NAME;
    } else if (strncmp (kind, "partner.", 8) == 0 &&
               (strcmp (name, "admin") == 0 || strcmp (name, "hub") == 0))
        snprintf (why, why_size, "'%s' is a built-in name", name);
    else if (strcmp (kind, "partner.add") == 0) {
        op->kind = ADMIN_PARTNER_ADD;
        err = s_partner_fields (root, fresh, op, why, why_size);
    } else if (strcmp (kind, "partner.remove") == 0) {
        op->kind = ADMIN_PARTNER_REMOVE;
        err = HUB_OK;
    } else { //  channel.create
        op->kind = ADMIN_CHANNEL_CREATE;
        err = s_roles (json_object_get (root, "publish"), true, fresh, op->publish,
                       sizeof op->publish, why, why_size, "publish");
        if (err == HUB_OK)
            err = s_roles (json_object_get (root, "read"), true, fresh, op->read,
                           sizeof op->read, why, why_size, "read");
        if (err == HUB_OK && !op->publish[0])
            strcpy (op->publish, "*");
        if (err == HUB_OK && !op->read[0])
            strcpy (op->read, "*");
    }
    if (name)
        snprintf (op->name, sizeof op->name, "%s", name);
    json_decref (root);
    return err;
}

static hub_err_t
s_step (sqlite3_stmt *stmt, const char *conflict, char *why, size_t why_size)
{
    int rc = sqlite3_step (stmt);
    sqlite3_finalize (stmt);
    if (rc == SQLITE_DONE)
        return HUB_OK;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        snprintf (why, why_size, "%s", conflict);
        return HUB_E_CONFLICT;
    }
    snprintf (why, why_size, "the directory could not be updated: %s", sqlite3_errstr (rc));
    return HUB_E_STORAGE;
}

hub_err_t
admin_apply (sqlite3 *db, const admin_op_t *op, uint64_t seq, uint64_t now_ms, char *why,
             size_t why_size)
{
    sqlite3_stmt *stmt = NULL;
    char conflict[200];
    switch (op->kind) {
    case ADMIN_PARTNER_ADD: {
        //  A partner who left comes back under its own name and key: its entry is current
        //  again, with the directory fields given now.
        stmt =
            db_prepare (db, "UPDATE partners SET org = ?, email = ?, roles = ?, left_ms = NULL "
                            "WHERE name = ? AND key = ? AND left_ms IS NOT NULL");
        sqlite3_bind_text (stmt, 1, op->org, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 2, op->email, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 3, op->roles, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 4, op->name, -1, SQLITE_STATIC);
        sqlite3_bind_blob (stmt, 5, op->key, HUB_PUBKEY_BYTES, SQLITE_STATIC);
        hub_err_t err = s_step (stmt, "", why, why_size);
        if (err != HUB_OK || sqlite3_changes (db) == 1)
            return err;
        stmt = db_prepare (db, "INSERT INTO partners VALUES (?,?,?,?,?,?,NULL,?)");
        sqlite3_bind_text (stmt, 1, op->name, -1, SQLITE_STATIC);
        sqlite3_bind_blob (stmt, 2, op->key, HUB_PUBKEY_BYTES, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 3, op->org, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 4, op->email, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 5, op->roles, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 6, (sqlite3_int64)now_ms);
        sqlite3_bind_int64 (stmt, 7, (sqlite3_int64)seq);
        snprintf (conflict, sizeof conflict,
                  "a partner named '%s' or with this key is already in the directory (a "
                  "partner who left comes back only with its own name and key)",
                  op->name);
        return s_step (stmt, conflict, why, why_size);
    }
    case ADMIN_PARTNER_REMOVE: {
        stmt = db_prepare (
            db, "UPDATE partners SET left_ms = ? WHERE name = ? AND left_ms IS NULL");
        sqlite3_bind_int64 (stmt, 1, (sqlite3_int64)now_ms);
        sqlite3_bind_text (stmt, 2, op->name, -1, SQLITE_STATIC);
        hub_err_t err = s_step (stmt, "", why, why_size);
        if (err == HUB_OK && sqlite3_changes (db) == 0) {
            snprintf (why, why_size, "there is no current partner named '%s'", op->name);
            return HUB_E_NOT_FOUND;
        }
        return err;
    }
    case ADMIN_CHANNEL_CREATE:
        stmt = db_prepare (db, "INSERT INTO channels VALUES (?,?,?,?)");
        sqlite3_bind_text (stmt, 1, op->name, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 2, op->publish, -1, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 3, op->read, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 4, (sqlite3_int64)now_ms);
        snprintf (conflict, sizeof conflict, "a channel named '%s' already exists", op->name);
        return s_step (stmt, conflict, why, why_size);
    }
    snprintf (why, why_size, "unknown admin command");
    return HUB_E_BAD_REQUEST;
}
