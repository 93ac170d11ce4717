/*  hubctl_export.c - `export` and `verify --file`: a backup of the history that verifies
    with no hub running (the file format is PROTOCOL.md 12 and clients/hub_export.c).

    export fetches the history page by page, as verify does, writing each message as one
    line to a scratch file. The head line comes first in the file but is known last (it
    carries the checkpoint that the last END brings), so FILE.tmp is written afterwards:
    the head line, then the message lines; it is flushed to disk and renamed to FILE. FILE
    is therefore either what it was before or a complete export, never half of one.

    verify --file opens no connection at all. It rebuilds every message from its line and
    runs the same hub_verifier as an online verify, trusting for the checkpoint the hub key
    given with --hub-key / HUB_SERVER_KEY (the file must name that key), or else the key
    the file names (said on stderr: that only proves the file is consistent in itself).
*/
#include "hubctl.h"
#include "hubc_mem.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  export

typedef struct {
    FILE *scratch;       //  message lines, in order
    uint64_t count;      //  lines written
    uint64_t last_seq;   //  seq of the last one
    uint64_t unverified; //  messages that failed their own checks (a damaged log)
    int write_errno;     //  set when writing failed
} s_export_t;

static bool
s_export_cb (hub_message_t *msg, void *arg)
{
    s_export_t *e = arg;
    char *line = hub_export_message_encode (msg);
    if (fputs (line, e->scratch) == EOF || fputc ('\n', e->scratch) == EOF)
        e->write_errno = errno ? errno : EIO;
    else {
        e->count++;
        e->last_seq = msg->seq;
        e->unverified += !msg->verified;
    }
    free (line);
    hub_message_destroy (&msg);
    return e->write_errno == 0;
}

//  Copies the rest of in to out; false on a read or write error.
static bool
s_copy (FILE *in, FILE *out)
{
    char buf[65536];
    size_t n;
    while ((n = fread (buf, 1, sizeof buf, in)) > 0)
        if (fwrite (buf, 1, n, out) != n)
            return false;
    return !ferror (in);
}

//  Makes the rename of a file in path's directory durable. Best effort: not every file
//  system lets a directory be synced.
static void
s_sync_dir (const char *path)
{
    char *copy = hubc_strdup (path);
    int fd = open (dirname (copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync (fd);
        close (fd);
    }
    free (copy);
}

//  Writes head and the scratch lines to path.tmp, syncs it and renames it to path.
//  Returns 0, or an exit code after saying why.
static int
s_write_file (const char *path, const hub_export_head_t *head, FILE *scratch)
{
    size_t size = strlen (path) + 5;
    char *tmp = hubc_malloc (size);
    snprintf (tmp, size, "%s.tmp", path);
    //  A left-over FILE.tmp (an export that died) is replaced; O_EXCL after the unlink
    //  means we never write through a link someone put there.
    (void)unlink (tmp);
    errno = 0;
    int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *out = fd >= 0 ? fdopen (fd, "w") : NULL;
    char *line = hub_export_head_encode (head);
    bool ok = out && fputs (line, out) != EOF && fputc ('\n', out) != EOF &&
              fseek (scratch, 0, SEEK_SET) == 0 && s_copy (scratch, out) && fflush (out) == 0 &&
              fsync (fileno (out)) == 0;
    int saved = errno ? errno : EIO;
    free (line);
    if (out && fclose (out) != 0 && ok) {
        ok = false;
        saved = errno;
    } else if (!out && fd >= 0)
        close (fd);
    if (!ok)
        fprintf (stderr, "hubctl: export: cannot write %s: %s\n", tmp, strerror (saved));
    else if (rename (tmp, path) != 0) {
        fprintf (stderr, "hubctl: export: cannot rename %s to %s: %s\n", tmp, path,
                 strerror (errno));
        ok = false;
    }
    if (ok)
        s_sync_dir (path);
    else
        (void)unlink (tmp);
    free (tmp);
    return ok ? HUBCTL_EXIT_OK : HUBCTL_EXIT_USAGE;
}

static void
s_export_report (hubctl_t *ctx, const char *path, const char *channel, const s_export_t *e,
                 uint64_t head)
{
    if (e->unverified)
        fprintf (stderr,
                 "hubctl: export: warning: %llu exported messages do not verify; "
                 "`hubctl verify --file %s` names the first\n",
                 (unsigned long long)e->unverified, path);
    if (ctx->json) {
        json_t *obj = json_pack ("{s:s, s:s, s:I, s:I, s:I}", "file", path, "channel", channel,
                                 "messages", (json_int_t)e->count, "last_seq",
                                 (json_int_t)e->last_seq, "head", (json_int_t)head);
        hubctl_print_json (obj);
        json_decref (obj);
    } else {
        printf ("exported %llu messages to %s (channel %s, log head seq %llu)\n",
                (unsigned long long)e->count, path, channel, (unsigned long long)head);
        fflush (stdout);
    }
}

int
hubctl_cmd_export (hubctl_t *ctx, int argc, char **argv)
{
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, argc, argv, NULL, &pos, &npos);
    if (rc)
        return rc;
    const char *channel = npos == 2 ? pos[1] : "*";
    if (npos < 1 || npos > 2)
        rc = hubctl_usage_error (ctx, "give a FILE and at most one CHANNEL");
    else if (strcmp (channel, "*") != 0 && strlen (channel) > HUB_CHANNEL_MAX)
        rc = hubctl_usage_error (ctx, "'%s' is not a channel name", channel);
    else
        rc = hubctl_connect (ctx);
    s_export_t e = {0};
    if (rc == 0 && !(e.scratch = tmpfile ())) {
        fprintf (stderr, "hubctl: export: cannot create a scratch file: %s\n",
                 strerror (errno));
        rc = HUBCTL_EXIT_USAGE;
    }
    hub_history_end_t end = {0};
    hub_err_t err = rc == 0
                        ? hub_client_history (ctx->client, channel, 0, 0, s_export_cb, &e, &end)
                        : HUB_OK;
    if (rc == 0 && e.write_errno) {
        fprintf (stderr, "hubctl: export: cannot write a scratch file: %s\n",
                 strerror (e.write_errno));
        rc = HUBCTL_EXIT_USAGE;
    } else if (rc == 0 && err != HUB_OK)
        rc = hubctl_fail (ctx);
    if (rc == 0) {
        hub_export_head_t head = {0};
        memcpy (head.hub_pk, ctx->hub_pk, HUB_PUBKEY_BYTES);
        hub_time_format (hub_time_now_ms (), head.exported_at);
        snprintf (head.channel, sizeof head.channel, "%s", channel);
        head.complete = end.complete;
        head.head = end.head;
        head.messages = e.count;
        head.has_checkpoint = end.has_checkpoint;
        head.checkpoint = end.checkpoint;
        rc = s_write_file (pos[0], &head, e.scratch);
    }
    if (rc == 0)
        s_export_report (ctx, pos[0], channel, &e, end.head);
    if (e.scratch)
        fclose (e.scratch);
    free (pos);
    return rc;
}

//  --------------------------------------------------------------------------
//  verify --file

//  Reads the next line of in into *line (without its "\n"); its length, or -1 at the end
//  of the file or on a read error.
static ssize_t
s_read_line (FILE *in, char **line, size_t *cap)
{
    ssize_t len = getline (line, cap, in);
    if (len > 0 && (*line)[len - 1] == '\n')
        (*line)[--len] = 0;
    return len;
}

//  The key the checkpoint must be signed with: the one given (--hub-key, HUB_SERVER_KEY),
//  else the one the file names. Returns 0 or an exit code; *mismatch says the file names
//  another key than the one given.
static int
s_trusted_key (hubctl_t *ctx, const hub_export_head_t *head, uint8_t pk[HUB_PUBKEY_BYTES],
               bool *mismatch)
{
    char text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (head->hub_pk, text);
    *mismatch = false;
    if (!ctx->hub_key || !*ctx->hub_key) { //  none given, none in ./hub-data
        memcpy (pk, head->hub_pk, HUB_PUBKEY_BYTES);
        fprintf (stderr,
                 "hubctl: verify: trusting the hub key the file names (%s); give "
                 "--hub-key to check it is your hub's\n",
                 text);
        return 0;
    }
    if (hub_key_resolve (ctx->hub_key, pk) != HUB_OK) {
        fprintf (stderr,
                 "hubctl: --hub-key '%s' is neither key text nor a readable .pub file\n",
                 ctx->hub_key);
        return HUBCTL_EXIT_USAGE;
    }
    *mismatch = sodium_memcmp (pk, head->hub_pk, HUB_PUBKEY_BYTES) != 0;
    return 0;
}

//  Feeds the message lines of in to v. want (NULL: all) is the channel to check. Returns
//  the number of message lines read, or -1 on a read error.
static int64_t
s_verify_lines (hub_verifier_t *v, FILE *in, const hub_export_head_t *head, const char *want)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t lines = 0;
    char why[200], reason[256];
    bool one_channel = strcmp (head->channel, "*") != 0;
    while (hub_verifier_ok (v) && (len = s_read_line (in, &line, &cap)) >= 0) {
        lines++;
        uint64_t seq = 0;
        hub_message_t *msg =
            hub_export_message_decode (line, (size_t)len, &seq, why, sizeof why);
        if (!msg) {
            snprintf (reason, sizeof reason, "line %lld is not a message: %s",
                      (long long)lines + 1, why);
            hub_verifier_reject (v, seq ? seq : hub_verifier_last_seq (v) + 1, reason);
        } else if (one_channel && msg->header_ok &&
                   strcmp (msg->header.channel, head->channel) != 0) {
            snprintf (reason, sizeof reason, "a message on '%s' in an export of '%s'",
                      msg->header.channel, head->channel);
            hub_verifier_reject (v, msg->seq, reason);
        } else if (!want || !msg->header_ok || strcmp (msg->header.channel, want) == 0)
            hub_verifier_add (v, msg);
        hub_message_destroy (&msg);
    }
    free (line);
    return ferror (in) ? -1 : lines;
}

int
hubctl_verify_file (hubctl_t *ctx, const char *path, const char *channel)
{
    FILE *in = fopen (path, "r");
    if (!in) {
        fprintf (stderr, "hubctl: verify: cannot read %s: %s\n", path, strerror (errno));
        return HUBCTL_EXIT_USAGE;
    }
    char *line = NULL;
    size_t cap = 0;
    char why[200] = "empty file";
    hub_export_head_t head;
    ssize_t len = s_read_line (in, &line, &cap);
    hub_err_t err = len >= 0
                        ? hub_export_head_decode (line, (size_t)len, &head, why, sizeof why)
                        : HUB_E_VERSION;
    free (line);
    const char *want = channel && strcmp (channel, "*") != 0 ? channel : NULL;
    uint8_t trusted[HUB_PUBKEY_BYTES];
    bool mismatch = false;
    int rc = 0;
    if (err == HUB_E_VERSION) {
        fprintf (stderr, "hubctl: verify: %s is not a %s export file: %s\n", path,
                 HUB_EXPORT_FORMAT, why);
        rc = HUBCTL_EXIT_USAGE;
    } else if (err == HUB_OK && want && strcmp (head.channel, "*") != 0 &&
               strcmp (head.channel, want) != 0)
        rc = hubctl_usage_error (ctx, "%s holds channel '%s' only, not '%s'", path,
                                 head.channel, want);
    else if (err == HUB_OK)
        rc = s_trusted_key (ctx, &head, trusted, &mismatch);
    if (rc) {
        fclose (in);
        return rc;
    }
    char reason[256];
    hub_verifier_t *v = NULL;
    if (err != HUB_OK) { //  an export file whose first line is damaged
        v = hub_verifier_new (ctx->hub_pk, false, 0);
        snprintf (reason, sizeof reason, "line 1 of the file is damaged: %s", why);
        hub_verifier_reject (v, 0, reason);
    } else {
        v = hub_verifier_new (trusted, head.complete && !want, 0);
        char named[HUB_KEYTEXT_LEN + 1], given[HUB_KEYTEXT_LEN + 1];
        hub_key_to_text (head.hub_pk, named);
        hub_key_to_text (trusted, given);
        snprintf (reason, sizeof reason, "the file names hub key %s, not the trusted %s", named,
                  given);
        if (mismatch)
            hub_verifier_reject (v, head.has_checkpoint ? head.checkpoint.seq : 0, reason);
        int64_t lines = s_verify_lines (v, in, &head, want);
        if (lines < 0) {
            fprintf (stderr, "hubctl: verify: cannot read %s: %s\n", path, strerror (errno));
            rc = HUBCTL_EXIT_USAGE;
        }
        //  The count is not signed: it only catches lines lost by accident where nothing
        //  else can (a channel's export, whose seqs have gaps anyway).
        if (hub_verifier_finish (v, head.has_checkpoint ? &head.checkpoint : NULL) &&
            (uint64_t)lines != head.messages) {
            snprintf (reason, sizeof reason,
                      "the file holds %lld message lines, its first line says %llu",
                      (long long)lines, (unsigned long long)head.messages);
            hub_verifier_reject (v, 0, reason);
        }
    }
    if (rc == 0)
        rc = hubctl_verify_report (ctx, v);
    hub_verifier_destroy (&v);
    fclose (in);
    return rc;
}
