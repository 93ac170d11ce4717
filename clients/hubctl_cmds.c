/*  hubctl_cmds.c - the commands of hubctl: keygen, pubkey, publish, subscribe, history,
    verify (online; verify --file is in hubctl_export.c, status in hubctl_status.c). Each
    gets its own arguments (global options removed) and returns the exit status
    (hubctl.h).
*/
#include "hubctl.h"
#include "hubc_mem.h"
#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  --------------------------------------------------------------------------
//  Keys

static int
s_print_key (hubctl_t *ctx, const uint8_t pk[HUB_PUBKEY_BYTES], const char *file)
{
    char text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (pk, text);
    if (ctx->json) {
        json_t *obj = json_pack ("{s:s, s:s}", "public_key", text, "file", file);
        hubctl_print_json (obj);
        json_decref (obj);
    } else
        printf ("%s\n", text);
    return HUBCTL_EXIT_OK;
}

int
hubctl_cmd_keygen (hubctl_t *ctx, int argc, char **argv)
{
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, argc, argv, NULL, &pos, &npos);
    if (rc)
        return rc;
    if (npos != 1) {
        free (pos);
        return hubctl_usage_error (ctx, "give exactly one FILE");
    }
    hub_identity_t id;
    hub_identity_generate (&id);
    char why[256] = "";
    if (hub_identity_save (&id, pos[0], why, sizeof why) != HUB_OK) {
        fprintf (stderr, "hubctl: keygen: %s\n", why);
        rc = HUBCTL_EXIT_USAGE;
    } else
        rc = s_print_key (ctx, id.pk, pos[0]);
    sodium_memzero (&id, sizeof id);
    free (pos);
    return rc;
}

int
hubctl_cmd_pubkey (hubctl_t *ctx, int argc, char **argv)
{
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, argc, argv, NULL, &pos, &npos);
    if (rc)
        return rc;
    if (npos != 1) {
        free (pos);
        return hubctl_usage_error (ctx, "give exactly one FILE");
    }
    hub_identity_t id;
    uint8_t pk[HUB_PUBKEY_BYTES];
    char why[256] = "";
    if (hub_identity_load (pos[0], &id, why, sizeof why) == HUB_OK)
        rc = s_print_key (ctx, id.pk, pos[0]);
    else if (hub_key_from_text (pos[0], pk) != HUB_OK && hub_key_resolve (pos[0], pk) == HUB_OK)
        rc = s_print_key (ctx, pk, pos[0]); //  a .pub file
    else {
        fprintf (stderr, "hubctl: pubkey: %s: %s\n", pos[0], why);
        rc = HUBCTL_EXIT_USAGE;
    }
    sodium_memzero (&id, sizeof id);
    free (pos);
    return rc;
}

//  --------------------------------------------------------------------------
//  publish

//  Reads all of stdin into a new buffer (caller frees); NULL on a read error.
static char *
s_read_stdin (size_t *len)
{
    size_t size = 0, alloc = 4096;
    char *data = hubc_malloc (alloc);
    size_t n;
    while ((n = fread (data + size, 1, alloc - size, stdin)) > 0) {
        size += n;
        if (size == alloc)
            data = hubc_realloc (data, alloc *= 2);
    }
    if (ferror (stdin)) {
        free (data);
        return NULL;
    }
    *len = size;
    return data;
}

//  The body from the arguments after CHANNEL: words joined with spaces, or stdin. From
//  stdin, one final line ending is dropped: `echo TEXT |` publishes TEXT, as the TEXT
//  argument would (any other newline, and a second final one, stays).
static char *
s_body (int nwords, char **words, size_t *len)
{
    if (nwords == 0 || (nwords == 1 && strcmp (words[0], "-") == 0)) {
        char *body = s_read_stdin (len);
        if (body && *len && body[*len - 1] == '\n') {
            (*len)--;
            if (*len && body[*len - 1] == '\r')
                (*len)--;
        }
        return body;
    }
    size_t size = 0;
    for (int i = 0; i < nwords; i++)
        size += strlen (words[i]) + 1;
    char *body = hubc_malloc (size);
    body[0] = 0;
    for (int i = 0; i < nwords; i++) {
        if (i)
            strcat (body, " ");
        strcat (body, words[i]);
    }
    *len = strlen (body);
    return body;
}

int
hubctl_cmd_publish (hubctl_t *ctx, int argc, char **argv)
{
    const char *title = NULL;
    hubctl_opt_t opts[] = {{"title", &title, NULL}, {NULL, NULL, NULL}};
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, argc, argv, opts, &pos, &npos);
    if (rc)
        return rc;
    if (npos < 1) {
        free (pos);
        return hubctl_usage_error (ctx, "give a CHANNEL");
    }
    size_t len = 0;
    char *body = s_body (npos - 1, pos + 1, &len);
    if (!body) {
        fprintf (stderr, "hubctl: publish: cannot read standard input: %s\n", strerror (errno));
        free (pos);
        return HUBCTL_EXIT_USAGE;
    }
    rc = hubctl_connect (ctx);
    uint64_t seq = 0;
    bool duplicate = false;
    if (rc == 0 && hub_client_publish (ctx->client, pos[0], "message", title, body, len, NULL,
                                       &seq, &duplicate) != HUB_OK)
        rc = hubctl_fail (ctx);
    else if (rc == 0 && ctx->json) {
        json_t *obj = json_pack ("{s:I, s:s, s:b}", "seq", (json_int_t)seq, "channel", pos[0],
                                 "duplicate", duplicate);
        hubctl_print_json (obj);
        json_decref (obj);
    } else if (rc == 0)
        printf ("%llu\n", (unsigned long long)seq);
    free (body);
    free (pos);
    return rc;
}

//  --------------------------------------------------------------------------
//  history

typedef struct {
    hubctl_t *ctx;
    uint64_t until; //  0: no bound
    hub_message_t **kept;
    size_t nkept, alloc;
} s_collect_t;

//  SIGINT/SIGTERM while subscribed: stop, exit 0. s_writing is set while a message is
//  being written: a reader that stopped reading leaves the write blocked on a full pipe,
//  and only _exit ends it (exit would block again flushing stdout).
static volatile sig_atomic_t s_stop = 0;
static volatile sig_atomic_t s_writing = 0;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_stop = 1;
    if (s_writing)
        _exit (HUBCTL_EXIT_OK);
}

//  SIGINT/SIGTERM set s_stop and interrupt waits (no SA_RESTART).
static void
s_catch_signals (void)
{
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
}

//  Prints a message unless a stop was asked for. False once it is.
static bool
s_print (const hubctl_t *ctx, const hub_message_t *msg)
{
    s_writing = 1; //  from here a signal ends the process at once
    if (!s_stop)
        hubctl_print_message (ctx, msg);
    s_writing = 0;
    return !s_stop;
}

static bool
s_print_cb (hub_message_t *msg, void *arg)
{
    s_collect_t *c = arg;
    bool more = !c->until || msg->seq <= c->until;
    if (more)
        more = s_print (c->ctx, msg);
    hub_message_destroy (&msg);
    return more;
}

int
hubctl_cmd_history (hubctl_t *ctx, int argc, char **argv)
{
    const char *since_s = NULL, *limit_s = NULL;
    hubctl_opt_t opts[] = {
        {"since", &since_s, NULL}, {"limit", &limit_s, NULL}, {NULL, NULL, NULL}};
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, argc, argv, opts, &pos, &npos);
    if (rc)
        return rc;
    uint64_t since = 0, limit = 0;
    if (npos != 1)
        rc = hubctl_usage_error (ctx, "give exactly one CHANNEL");
    else if (since_s && !hubctl_parse_u64 (since_s, &since))
        rc = hubctl_usage_error (ctx, "--since wants a sequence number, not '%s'", since_s);
    else if (limit_s && (!hubctl_parse_u64 (limit_s, &limit) || limit == 0))
        rc = hubctl_usage_error (ctx, "--limit wants a positive number, not '%s'", limit_s);
    else
        rc = hubctl_connect (ctx);
    s_collect_t c = {ctx, 0, NULL, 0, 0};
    if (rc == 0 &&
        hub_client_history (ctx->client, pos[0], since, limit, s_print_cb, &c, NULL) != HUB_OK)
        rc = hubctl_fail (ctx);
    free (pos);
    return rc;
}

//  --------------------------------------------------------------------------
//  subscribe

//  Sleeps ms unless a signal asks to stop.
static void
s_nap (int ms)
{
    for (int slept = 0; slept < ms && !s_stop; slept += 50)
        zclock_sleep (50);
}

//  Keeps the subscription alive across dead hubs and restarts until SIGINT/SIGTERM.
static int
s_follow (hubctl_t *ctx)
{
    int backoff = 100;
    while (!s_stop) {
        hub_message_t *msg = NULL;
        hub_err_t err = hub_client_next_msg (ctx->client, 1000, &msg);
        if (err == HUB_OK) {
            s_print (ctx, msg);
            hub_message_destroy (&msg);
            continue;
        }
        if (err == HUB_E_TIMEOUT)
            continue;
        if (err != HUB_E_UNAVAILABLE)
            return hubctl_fail (ctx);
        fprintf (stderr, "hubctl: %s; reconnecting\n", hub_client_last_reason (ctx->client));
        while (!s_stop) {
            err = hub_client_resume (ctx->client);
            if (err == HUB_OK) {
                fprintf (stderr, "hubctl: resumed after seq %llu\n",
                         (unsigned long long)hub_client_last_seq (ctx->client));
                backoff = 100;
                break;
            }
            if (hubctl_exit_code (err) != HUBCTL_EXIT_UNREACHABLE)
                return hubctl_fail (ctx);
            s_nap (backoff);
            backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
        }
    }
    return HUBCTL_EXIT_OK;
}

static int
s_cmp_seq (const void *a, const void *b)
{
    const hub_message_t *x = *(hub_message_t *const *)a;
    const hub_message_t *y = *(hub_message_t *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool
s_keep_cb (hub_message_t *msg, void *arg)
{
    s_collect_t *c = arg;
    if (msg->seq > c->until) {
        hub_message_destroy (&msg);
        return false;
    }
    if (c->nkept == c->alloc) {
        c->alloc = c->alloc ? c->alloc * 2 : 256;
        c->kept = hubc_realloc (c->kept, c->alloc * sizeof *c->kept);
    }
    c->kept[c->nkept++] = msg;
    return true;
}

//  Prints the stored messages of the channels after since, up to the head the hub
//  reported when subscribing, merged in seq order, then returns.
static int
s_dump (hubctl_t *ctx, char **channels, int count, uint64_t since, uint64_t head)
{
    s_collect_t c = {ctx, head, NULL, 0, 0};
    hub_err_t err = HUB_OK;
    if (count == 1 && head > since)
        err = hub_client_history (ctx->client, channels[0], since, 0, s_print_cb, &c, NULL);
    for (int i = 0; count > 1 && head > since && i < count && err == HUB_OK; i++)
        err = hub_client_history (ctx->client, channels[i], since, 0, s_keep_cb, &c, NULL);
    if (c.nkept) //  qsort must not get NULL, even for zero items
        qsort (c.kept, c.nkept, sizeof *c.kept, s_cmp_seq);
    for (size_t i = 0; i < c.nkept && !s_stop; i++) {
        if (err == HUB_OK && (i == 0 || c.kept[i]->seq != c.kept[i - 1]->seq))
            s_print (ctx, c.kept[i]);
    }
    for (size_t i = 0; i < c.nkept; i++)
        hub_message_destroy (&c.kept[i]);
    free (c.kept);
    return err == HUB_OK || s_stop ? HUBCTL_EXIT_OK : hubctl_fail (ctx);
}

int
hubctl_cmd_subscribe (hubctl_t *ctx, int argc, char **argv)
{
    const char *since_s = NULL;
    bool follow = false;
    hubctl_opt_t opts[] = {
        {"since", &since_s, NULL}, {"follow", NULL, &follow}, {NULL, NULL, NULL}};
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, argc, argv, opts, &pos, &npos);
    if (rc)
        return rc;
    //  A channel named twice is subscribed once.
    int unique = 0;
    for (int i = 0; i < npos; i++) {
        int j = 0;
        while (j < unique && strcmp (pos[j], pos[i]) != 0)
            j++;
        if (j == unique)
            pos[unique++] = pos[i];
    }
    npos = unique;
    uint64_t since = 0;
    if (npos < 1 || npos > HUB_SUB_CHANNELS_MAX)
        rc = hubctl_usage_error (ctx, "give 1 to %d channels", HUB_SUB_CHANNELS_MAX);
    else if (since_s && !hubctl_parse_u64 (since_s, &since))
        rc = hubctl_usage_error (ctx, "--since wants a sequence number, not '%s'", since_s);
    else
        rc = hubctl_connect (ctx);
    if (rc) {
        free (pos);
        return rc;
    }
    s_catch_signals ();
    uint64_t head = 0;
    int64_t sub_since = follow ? (since_s ? (int64_t)since : -1) : -1;
    uint32_t credit = follow ? HUB_CREDIT_DEFAULT : 1;
    if (hub_client_subscribe (ctx->client, (const char *const *)pos, (size_t)npos, sub_since,
                              credit, &head) != HUB_OK)
        rc = hubctl_fail (ctx);
    else if (follow)
        rc = s_follow (ctx);
    else {
        hub_client_unsubscribe (ctx->client);
        rc = s_dump (ctx, pos, npos, since, head);
    }
    free (pos);
    return rc;
}

//  --------------------------------------------------------------------------
//  verify

static bool
s_verify_cb (hub_message_t *msg, void *arg)
{
    //  The fetch goes on past a failure: only the END of the last page says whether a
    //  seq missing before it is a gap in the whole log, which would come first.
    hub_verifier_add (arg, msg);
    hub_message_destroy (&msg);
    return true;
}

int
hubctl_verify_report (hubctl_t *ctx, hub_verifier_t *v)
{
    bool ok = hub_verifier_ok (v);
    unsigned long long count = hub_verifier_count (v);
    unsigned long long last = hub_verifier_last_seq (v);
    unsigned long long bad = hub_verifier_first_bad_seq (v);
    if (ctx->json) {
        json_t *obj =
            json_pack ("{s:b, s:I, s:o, s:o, s:I}", "ok", ok, "messages", (json_int_t)count,
                       "first_bad_seq", ok ? json_null () : json_integer ((json_int_t)bad),
                       "reason", ok ? json_null () : json_string (hub_verifier_reason (v)),
                       "last_seq", (json_int_t)last);
        hubctl_print_json (obj);
        json_decref (obj);
    } else if (ok)
        printf ("ok: %llu messages verified, chain intact to seq %llu\n", count, last);
    else
        printf ("FAIL: first bad seq %llu: %s\n", bad, hub_verifier_reason (v));
    fflush (stdout);
    return ok ? HUBCTL_EXIT_OK : HUBCTL_EXIT_VERIFY;
}

int
hubctl_cmd_verify (hubctl_t *ctx, int argc, char **argv)
{
    const char *file = NULL;
    hubctl_opt_t opts[] = {{"file", &file, NULL}, {NULL, NULL, NULL}};
    char **pos;
    int npos;
    int rc = hubctl_parse_opts (ctx, argc, argv, opts, &pos, &npos);
    if (rc)
        return rc;
    if (file && npos <= 1) { //  offline: an export file, no hub at all
        rc = hubctl_verify_file (ctx, file, npos == 1 ? pos[0] : NULL);
        free (pos);
        return rc;
    }
    rc = npos > 1 ? hubctl_usage_error (ctx, "give at most one CHANNEL") : hubctl_connect (ctx);
    const char *channel = npos == 1 ? pos[0] : "*";
    hub_verifier_t *v = hub_verifier_new (ctx->hub_pk, false, 0);
    hub_history_end_t end = {0};
    hub_err_t err = rc == 0
                        ? hub_client_history (ctx->client, channel, 0, 0, s_verify_cb, v, &end)
                        : HUB_OK;
    //  Only the whole log has no gaps: "*" read by a partner who cannot read every
    //  channel skips the seqs of the others (the hub says which in END).
    if (end.complete)
        hub_verifier_expect_whole_log (v);
    if (rc == 0 && err == HUB_E_STORAGE) {
        //  The hub could not serve the log past what came (a row edited behind its back,
        //  or unreadable): the log is not shown intact, which is verify's failure.
        hub_verifier_reject (v, hub_verifier_last_seq (v) + 1,
                             hub_client_last_reason (ctx->client));
        rc = hubctl_verify_report (ctx, v);
    } else if (rc == 0 && err != HUB_OK)
        rc = hubctl_fail (ctx);
    else if (rc == 0) {
        hub_verifier_finish (v, end.has_checkpoint ? &end.checkpoint : NULL);
        rc = hubctl_verify_report (ctx, v);
    }
    hub_verifier_destroy (&v);
    free (pos);
    return rc;
}
