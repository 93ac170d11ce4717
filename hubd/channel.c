/*  channel.c - see channel.h. */
#include "channel.h"
#include "db.h"
#include "log.h"
#include "mem.h"
#include <czmq.h>

typedef struct {
    char *publish;
    char *read;
} s_rights_t;

struct _channel_set_t {
    zhashx_t *channels; //  name -> s_rights_t
};

static void
s_rights_destroy (void **item_p)
{
    s_rights_t *rights = *item_p;
    if (rights) {
        free (rights->publish);
        free (rights->read);
        free (rights);
        *item_p = NULL;
    }
}

channel_set_t *
channel_set_load (const char *db_path)
{
    sqlite3 *db = db_open_logged (db_path, false, "channel");
    if (!db)
        return NULL;
    channel_set_t *self = mem_zalloc (sizeof *self);
    self->channels = zhashx_new ();
    zhashx_set_destructor (self->channels, s_rights_destroy);
    sqlite3_stmt *stmt = db_prepare (db, "SELECT name, publish, read FROM channels");
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        s_rights_t *rights = mem_zalloc (sizeof *rights);
        rights->publish = mem_strdup ((const char *)sqlite3_column_text (stmt, 1));
        rights->read = mem_strdup ((const char *)sqlite3_column_text (stmt, 2));
        zhashx_update (self->channels, (const char *)sqlite3_column_text (stmt, 0), rights);
    }
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return self;
}

bool
channel_set_has (channel_set_t *self, const char *name)
{
    return zhashx_lookup (self->channels, name) != NULL;
}

bool
channel_set_rights (channel_set_t *self, const char *name, const char **publish,
                    const char **read)
{
    s_rights_t *rights = zhashx_lookup (self->channels, name);
    if (rights) {
        *publish = rights->publish;
        *read = rights->read;
    }
    return rights != NULL;
}

size_t
channel_set_size (channel_set_t *self)
{
    return zhashx_size (self->channels);
}

void
channel_set_each (channel_set_t *self,
                  void (*fn) (const char *name, const char *publish, const char *read,
                              void *arg),
                  void *arg)
{
    zlistx_t *names = zhashx_keys (self->channels);
    zlistx_set_comparator (names, (zlistx_comparator_fn *)strcmp);
    zlistx_sort (names);
    for (const char *name = zlistx_first (names); name; name = zlistx_next (names)) {
        s_rights_t *rights = zhashx_lookup (self->channels, name);
        fn (name, rights->publish, rights->read, arg);
    }
    zlistx_destroy (&names);
}

void
channel_set_destroy (channel_set_t **self_p)
{
    channel_set_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->channels);
    free (self);
    *self_p = NULL;
}
