/*  directory.c - see directory.h. */
#include "directory.h"
#include "admin.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include "hub_text.h"
#include <czmq.h>

struct _directory_t {
    zhashx_t *by_name;  //  name -> partner_t (owns)
    zhashx_t *by_curve; //  curve hex -> partner_t, current ones only
    zhashx_t *by_key;   //  key hex -> partner_t
    partner_t *admin;
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
};

static void
s_partner_destroy (void **item_p)
{
    partner_t *partner = *item_p;
    if (partner) {
        free (partner->org);
        free (partner->email);
        free (partner->roles);
        free (partner);
        *item_p = NULL;
    }
}

static partner_t *
s_partner_new (const char *name, const uint8_t key[HUB_PUBKEY_BYTES], const char *org,
               const char *email, const char *roles)
{
    partner_t *partner = mem_zalloc (sizeof *partner);
    snprintf (partner->name, sizeof partner->name, "%s", name);
    memcpy (partner->key, key, HUB_PUBKEY_BYTES);
    uint8_t curve[32];
    if (hub_key_curve_public (key, curve) == HUB_OK)
        hub_hex_encode (curve, 32, partner->curve_hex);
    partner->org = mem_strdup (org);
    partner->email = mem_strdup (email);
    partner->roles = mem_strdup (roles);
    return partner;
}

static void
s_add (directory_t *self, partner_t *partner)
{
    char key_hex[65];
    hub_hex_encode (partner->key, HUB_PUBKEY_BYTES, key_hex);
    zhashx_update (self->by_name, partner->name, partner);
    zhashx_update (self->by_key, key_hex, partner);
    if (!partner->left_ms && partner->curve_hex[0])
        zhashx_update (self->by_curve, partner->curve_hex, partner);
}

directory_t *
directory_load (const char *db_path, const uint8_t admin_pk[HUB_PUBKEY_BYTES],
                const uint8_t hub_pk[HUB_PUBKEY_BYTES])
{
    sqlite3 *db = db_open_logged (db_path, false, "directory");
    if (!db)
        return NULL;
    directory_t *self = mem_zalloc (sizeof *self);
    self->by_name = zhashx_new ();
    zhashx_set_destructor (self->by_name, s_partner_destroy);
    self->by_curve = zhashx_new ();
    self->by_key = zhashx_new ();
    memcpy (self->hub_pk, hub_pk, HUB_PUBKEY_BYTES);
    sqlite3_stmt *stmt = db_prepare (
        db, "SELECT name, key, org, email, roles, joined_ms, left_ms FROM partners");
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        if (sqlite3_column_bytes (stmt, 1) != HUB_PUBKEY_BYTES)
            continue;
        partner_t *partner = s_partner_new ((const char *)sqlite3_column_text (stmt, 0),
                                            sqlite3_column_blob (stmt, 1),
                                            (const char *)sqlite3_column_text (stmt, 2),
                                            (const char *)sqlite3_column_text (stmt, 3),
                                            (const char *)sqlite3_column_text (stmt, 4));
        partner->joined_ms = sqlite3_column_int64 (stmt, 5);
        partner->left_ms = sqlite3_column_int64 (stmt, 6);
        s_add (self, partner);
    }
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    //  The administrator is built in and is added last: no partner row can shadow it.
    self->admin = s_partner_new ("admin", admin_pk, "", "", ADMIN_ROLE);
    self->admin->admin = true;
    s_add (self, self->admin);
    return self;
}

const partner_t *
directory_by_curve (directory_t *self, const char *curve_hex)
{
    return curve_hex ? zhashx_lookup (self->by_curve, curve_hex) : NULL;
}

const partner_t *
directory_by_name (directory_t *self, const char *name)
{
    return zhashx_lookup (self->by_name, name);
}

const partner_t *
directory_by_key (directory_t *self, const uint8_t key[HUB_PUBKEY_BYTES])
{
    char key_hex[65];
    hub_hex_encode (key, HUB_PUBKEY_BYTES, key_hex);
    return zhashx_lookup (self->by_key, key_hex);
}

const char *
directory_name_of (directory_t *self, const uint8_t key[HUB_PUBKEY_BYTES])
{
    if (memcmp (key, self->hub_pk, HUB_PUBKEY_BYTES) == 0)
        return "hub";
    const partner_t *partner = directory_by_key (self, key);
    return partner ? partner->name : "";
}

bool
directory_allows (const partner_t *partner, const char *rights)
{
    if (!partner || partner->left_ms)
        return false;
    if (partner->admin)
        return true;
    //  Match whole words of two comma-separated lists. ADMIN_ROLE in a list names the
    //  administrator, never a partner's role (a partner admitted with it before the front
    //  door refused it gets nothing from it).
    for (const char *right = rights; *right;) {
        size_t len = strcspn (right, ",");
        if (len == 1 && right[0] == '*')
            return true;
        bool administrator =
            len == strlen (ADMIN_ROLE) && strncmp (right, ADMIN_ROLE, len) == 0;
        for (const char *role = administrator ? "" : partner->roles; *role;) {
            size_t role_len = strcspn (role, ",");
            if (role_len == len && strncmp (role, right, len) == 0)
                return true;
            role += role_len + (role[role_len] == ',');
        }
        right += len + (right[len] == ',');
    }
    return false;
}

void
directory_each (directory_t *self, void (*fn) (const partner_t *partner, void *arg), void *arg)
{
    zlistx_t *names = zhashx_keys (self->by_name);
    zlistx_set_comparator (names, (zlistx_comparator_fn *)strcmp);
    zlistx_sort (names);
    for (const char *name = zlistx_first (names); name; name = zlistx_next (names)) {
        partner_t *partner = zhashx_lookup (self->by_name, name);
        if (!partner->admin)
            fn (partner, arg);
    }
    zlistx_destroy (&names);
}

void
directory_destroy (directory_t **self_p)
{
    directory_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->by_curve);
    zhashx_destroy (&self->by_key);
    zhashx_destroy (&self->by_name);
    free (self);
    *self_p = NULL;
}
