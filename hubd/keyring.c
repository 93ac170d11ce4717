/*  keyring.c - see keyring.h.

    What hubd does with the key files of its data directory, by what it finds (it never
    overwrites a key file, nor writes one it cannot derive from a key it holds):

    hub.key        present: loaded; if hub.db holds a log, the log's checkpoint must be
                   hub.key's signature, else hubd refuses to start (another hub's key).
                   missing: created (with hub.key.pub) only if hub.db holds no log yet and
                   no hub.pub is left from an earlier key; else hubd refuses to start.
    hub.pub        written from hub.key if missing; one that holds another key is refused.
    admin.key.pub  the administrator's public key: all that hubd needs.
    admin.key      optional once admin.key.pub exists (the backbone may keep it off the
                   host); if present it must match admin.key.pub. With admin.key only,
                   admin.key.pub is written from it. With neither, a new administrator
                   identity is created, but only if hub.db holds no log yet.
*/
#include "keyring.h"
#include "db.h"
#include "log.h"
#include "hub_sig.h"
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

//  The data directory's files and what its database holds.
typedef struct {
    char db[4096], hub_key[4096], hub_pub[4096], admin_key[4096], admin_pub[4096];
    int log; //  db_read_anchor: 0 no log yet, 1 a log, -1 unreadable
    uint64_t head;
    hub_checkpoint_t cp;
    char log_why[512];
} s_dir_t;

static bool
s_exists (const char *path)
{
    struct stat st;
    return lstat (path, &st) == 0;
}

//  Writes pk's key text to path (created exclusively, mode 0644). False after logging.
static bool
s_write_pub (const char *path, const uint8_t pk[HUB_PUBKEY_BYTES])
{
    char why[512] = "";
    if (hub_pubkey_save (pk, path, why, sizeof why) == HUB_OK)
        return true;
    log_error ("keyring", "%s", why);
    return false;
}

static bool
s_create_identity (const char *path, const char *what, hub_identity_t *id)
{
    hub_identity_generate (id);
    char why[512] = "";
    if (hub_identity_save (id, path, why, sizeof why) != HUB_OK) {
        log_error ("keyring", "cannot create %s %s: %s", what, path, why);
        return false;
    }
    char text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (id->pk, text);
    log_notice ("keyring", "created %s %s (public key %s)", what, path, text);
    return true;
}

//  hub.key missing: a new hub identity, unless the directory holds what an old one left.
static bool
s_new_hub_key (const s_dir_t *dir, hub_identity_t *hub)
{
    if (dir->log > 0) {
        log_error ("keyring",
                   "%s is missing, but %s holds a log (%" PRIu64
                   " messages) that it signed: restore hub.key from the backup (a new "
                   "key would fail every client's hub.pub and hubctl verify)",
                   dir->hub_key, dir->db, dir->head);
        return false;
    }
    if (dir->log < 0) {
        log_error ("keyring",
                   "%s; and %s is missing: not creating a new hub key next to a database "
                   "that may hold another hub's log",
                   dir->log_why, dir->hub_key);
        return false;
    }
    if (s_exists (dir->hub_pub)) {
        log_error ("keyring",
                   "%s is missing, but %s is left from an earlier hub key: restore hub.key "
                   "from the backup, or remove %s (and hub.key.pub) to start a new hub",
                   dir->hub_key, dir->hub_pub, dir->hub_pub);
        return false;
    }
    return s_create_identity (dir->hub_key, "hub key", hub);
}

//  Loads hub.key and checks it against the log's checkpoint, or creates it for a new hub.
static bool
s_hub_key (const s_dir_t *dir, hub_identity_t *hub)
{
    char why[512] = "", text[HUB_KEYTEXT_LEN + 1];
    if (!s_exists (dir->hub_key))
        return s_new_hub_key (dir, hub);
    if (hub_identity_load (dir->hub_key, hub, why, sizeof why) != HUB_OK) {
        log_error ("keyring", "cannot load %s: %s", dir->hub_key, why);
        return false;
    }
    hub_key_to_text (hub->pk, text);
    hub_checkpoint_t cp = dir->cp;
    memcpy (cp.hub_key, hub->pk, HUB_PUBKEY_BYTES);
    if (dir->log > 0 && cp.seq > 0 && !hub_checkpoint_verify (&cp)) {
        log_error ("keyring",
                   "%s was written by another hub key: its checkpoint (seq %" PRIu64
                   ") is not signed by %s (public key %s), or was altered; restore the "
                   "hub.key that belongs with this database from the backup",
                   dir->db, cp.seq, dir->hub_key, text);
        return false;
    }
    return true;
}

//  hub.pub (what clients pass as --hub-key): written if missing, refused if stale.
static bool
s_hub_pub (const s_dir_t *dir, const hub_identity_t *hub)
{
    if (!s_exists (dir->hub_pub))
        return s_write_pub (dir->hub_pub, hub->pk);
    uint8_t pk[HUB_PUBKEY_BYTES];
    if (hub_key_resolve (dir->hub_pub, pk) != HUB_OK ||
        sodium_memcmp (pk, hub->pk, HUB_PUBKEY_BYTES) != 0) {
        log_error ("keyring",
                   "%s does not hold the public key of %s: it is from another hub key; "
                   "restore the hub.key that belongs with it, or remove %s to have it "
                   "written again (clients then need the new one)",
                   dir->hub_pub, dir->hub_key, dir->hub_pub);
        return false;
    }
    return true;
}

//  The administrator's public key: admin.key.pub, else derived from admin.key, else a new
//  administrator identity for a new hub.
static bool
s_admin_key (const s_dir_t *dir, uint8_t admin_pk[HUB_PUBKEY_BYTES])
{
    bool has_key = s_exists (dir->admin_key), has_pub = s_exists (dir->admin_pub);
    hub_identity_t id;
    char why[512] = "", text[HUB_KEYTEXT_LEN + 1];
    bool ok = true;
    if (has_pub) {
        if (hub_key_resolve (dir->admin_pub, admin_pk) != HUB_OK) {
            log_error ("keyring", "cannot read the administrator's public key %s",
                       dir->admin_pub);
            return false;
        }
        hub_key_to_text (admin_pk, text);
        if (!has_key)
            log_notice ("keyring",
                        "administrator public key %s from %s (admin.key is kept elsewhere)",
                        text, dir->admin_pub);
        else if (hub_identity_load (dir->admin_key, &id, why, sizeof why) != HUB_OK)
            log_warning ("keyring", "%s; using the administrator public key %s from %s", why,
                         text, dir->admin_pub);
        else if (sodium_memcmp (id.pk, admin_pk, HUB_PUBKEY_BYTES) != 0) {
            log_error ("keyring",
                       "%s does not hold the public key of %s: restore the pair from the "
                       "backup, or remove the one that does not belong",
                       dir->admin_pub, dir->admin_key);
            ok = false;
        } else
            log_notice ("keyring", "administrator public key %s from %s", text, dir->admin_pub);
    } else if (has_key) {
        ok = hub_identity_load (dir->admin_key, &id, why, sizeof why) == HUB_OK;
        if (!ok)
            log_error ("keyring", "cannot load %s: %s", dir->admin_key, why);
        else if ((ok = s_write_pub (dir->admin_pub, id.pk))) {
            memcpy (admin_pk, id.pk, HUB_PUBKEY_BYTES);
            hub_key_to_text (admin_pk, text);
            log_notice ("keyring", "administrator public key %s from %s (wrote %s)", text,
                        dir->admin_key, dir->admin_pub);
        }
    } else if (dir->log != 0) {
        log_error ("keyring",
                   "neither %s nor %s exists, but %s %s: restore admin.key.pub (or admin.key) "
                   "from the backup; if the administrator key is lost, make a new one with "
                   "'hubctl keygen %s'",
                   dir->admin_key, dir->admin_pub, dir->db,
                   dir->log > 0 ? "holds a log" : "cannot be read", dir->admin_key);
        ok = false;
    } else if ((ok = s_create_identity (dir->admin_key, "administrator key", &id)))
        memcpy (admin_pk, id.pk, HUB_PUBKEY_BYTES);
    sodium_memzero (&id, sizeof id);
    return ok;
}

bool
keyring_open (const char *data_dir, hub_identity_t *hub, uint8_t admin_pk[HUB_PUBKEY_BYTES])
{
    //  Missing parents are made as mkdir -p would; the directory itself is private.
    char parent[4096];
    snprintf (parent, sizeof parent, "%s", data_dir);
    char *slash = strrchr (parent, '/');
    if (slash && slash != parent) {
        *slash = 0;
        zsys_dir_create ("%s", parent); //  makes only what is missing
    }
    if (mkdir (data_dir, 0700) != 0 && errno != EEXIST) {
        log_error ("keyring", "cannot create data directory %s: %s", data_dir,
                   strerror (errno));
        return false;
    }
    s_dir_t dir = {.log = 0};
    snprintf (dir.db, sizeof dir.db, "%s/hub.db", data_dir);
    snprintf (dir.hub_key, sizeof dir.hub_key, "%s/hub.key", data_dir);
    snprintf (dir.hub_pub, sizeof dir.hub_pub, "%s/hub.pub", data_dir);
    snprintf (dir.admin_key, sizeof dir.admin_key, "%s/admin.key", data_dir);
    snprintf (dir.admin_pub, sizeof dir.admin_pub, "%s/admin.key.pub", data_dir);
    dir.log = db_read_anchor (dir.db, &dir.head, &dir.cp, dir.log_why, sizeof dir.log_why);
    if (!s_hub_key (&dir, hub) || !s_hub_pub (&dir, hub) || !s_admin_key (&dir, admin_pk)) {
        sodium_memzero (hub, sizeof *hub);
        return false;
    }
    char text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (hub->pk, text);
    log_notice ("keyring", "hub public key %s (%s)", text, dir.hub_pub);
    return true;
}

int
keyring_lock (const char *data_dir)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/hubd.lock", data_dir);
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_error ("keyring", "cannot open %s: %s", path, strerror (errno));
        return -1;
    }
    if (flock (fd, LOCK_EX | LOCK_NB) != 0) {
        log_error ("keyring", "another hubd is running on the data directory %s", data_dir);
        close (fd);
        return -1;
    }
    return fd;
}
