/*  fuzz_common.c - see fuzz_common.h. */
#define _XOPEN_SOURCE 700 //  nftw
#include "fuzz_common.h"
#include "hub_util.h"

#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <unistd.h>

static char s_dir[256];
static char s_path[512];

static int
s_remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove (path);
    return 0;
}

static void
s_remove_dir (void)
{
    nftw (s_dir, s_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
fuzz_fail (const char *file, int line, const char *what)
{
    fprintf (stderr, "%s:%d: invariant failed: %s\n", file, line, what);
    abort ();
}

const char *
fuzz_scratch_dir (void)
{
    if (s_dir[0])
        return s_dir;
    const char *tmp = getenv ("TMPDIR");
    snprintf (s_dir, sizeof s_dir, "%s/hub-fuzz-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp (s_dir) == NULL) {
        perror ("fuzz: mkdtemp");
        abort ();
    }
    atexit (s_remove_dir);
    return s_dir;
}

const char *
fuzz_write_file (const char *name, const void *data, size_t size)
{
    snprintf (s_path, sizeof s_path, "%s/%s", fuzz_scratch_dir (), name);
    unlink (s_path);
    int fd = open (s_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK (fd >= 0);
    CHECK (write (fd, data, size) == (ssize_t)size);
    close (fd);
    return s_path;
}

char *
fuzz_strndup (const uint8_t *data, size_t size)
{
    return HUB_CHECKED (strndup ((const char *)data, size));
}

void
fuzz_check_time (const char *text)
{
    static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    CHECK (text != NULL && strlen (text) == sizeof pattern - 1);
    for (size_t i = 0; i < sizeof pattern - 1; i++)
        CHECK (pattern[i] == 'd' ? text[i] >= '0' && text[i] <= '9' : text[i] == pattern[i]);
}
