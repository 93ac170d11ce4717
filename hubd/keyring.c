/*  keyring.c - see keyring.h. */
#include "keyring.h"
#include "log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static bool
s_ensure_key (const char *path, const char *what)
{
    if (access (path, F_OK) == 0)
        return true;
    hub_identity_t id;
    hub_identity_generate (&id);
    char why[512] = "";
    hub_err_t err = hub_identity_save (&id, path, why, sizeof why);
    if (err != HUB_OK) {
        log_error ("keyring", "cannot create %s %s: %s", what, path, why);
        return false;
    }
    char text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (id.pk, text);
    log_notice ("keyring", "created %s %s (public key %s)", what, path, text);
    return true;
}

//  CONTRACT.md names the hub's public half hub.pub (clients pass it as --hub-key).
static bool
s_write_hub_pub (const char *data_dir, const char *text)
{
    char path[4096];
    snprintf (path, sizeof path, "%s/hub.pub", data_dir);
    if (access (path, F_OK) == 0)
        return true;
    FILE *file = fopen (path, "w");
    if (!file || fprintf (file, "%s\n", text) < 0 || fclose (file) != 0) {
        log_error ("keyring", "cannot write %s: %s", path, strerror (errno));
        return false;
    }
    chmod (path, 0644);
    return true;
}

bool
keyring_open (const char *data_dir, hub_identity_t *hub, uint8_t admin_pk[HUB_PUBKEY_BYTES])
{
    if (mkdir (data_dir, 0700) != 0 && errno != EEXIST) {
        log_error ("keyring", "cannot create data directory %s: %s", data_dir,
                   strerror (errno));
        return false;
    }
    char hub_path[4096], admin_path[4096], admin_pub[4200], why[512] = "";
    snprintf (hub_path, sizeof hub_path, "%s/hub.key", data_dir);
    snprintf (admin_path, sizeof admin_path, "%s/admin.key", data_dir);
    snprintf (admin_pub, sizeof admin_pub, "%s/admin.key.pub", data_dir);
    if (!s_ensure_key (hub_path, "hub key") || !s_ensure_key (admin_path, "administrator key"))
        return false;
    if (hub_identity_load (hub_path, hub, why, sizeof why) != HUB_OK) {
        log_error ("keyring", "cannot load %s: %s", hub_path, why);
        return false;
    }
    if (hub_key_resolve (admin_pub, admin_pk) != HUB_OK) {
        log_error ("keyring", "cannot read the administrator's public key %s", admin_pub);
        return false;
    }
    char text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (hub->pk, text);
    if (!s_write_hub_pub (data_dir, text))
        return false;
    log_notice ("keyring", "hub public key %s (%s/hub.pub); administrator key %s", text,
                data_dir, admin_path);
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
