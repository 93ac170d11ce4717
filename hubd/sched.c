/*  sched.c - see sched.h. */
#include "sched.h"
#include "mem.h"
#include "hub_sig.h"
#include <assert.h>
#include <czmq.h>
#include <stdarg.h>
#include <time.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

//  Where the item's overdue slots count from: its due time, or, for an item recorded
//  after it (a commitment logged late), the moment it was recorded, so that its first
//  overdue reminder comes then and the next a whole overdue_every later.
static int64_t
s_overdue_base (const action_t *a)
{
    return a->due_ms < a->created_ms ? a->created_ms : a->due_ms;
}

//  The item's first slot strictly after after_ms (0 if none). Before-slots that fall
//  before the item was created are not slots; an item recorded after its due time is
//  overdue from the start, so its first slot is of kind "overdue", not "due".
static int64_t
s_slot_after (const sched_policy_t *p, const action_t *a, int64_t after_ms, const char **kind)
{
    int64_t best = 0;
    for (size_t i = 0; i < p->before_count; i++) {
        int64_t slot = a->due_ms - p->before_ms[i];
        if (slot > after_ms && slot > a->created_ms && slot < a->due_ms &&
            (!best || slot < best))
            best = slot, *kind = "before";
    }
    if (best)
        return best;
    int64_t base = s_overdue_base (a);
    if (base > after_ms) {
        *kind = a->due_ms < a->created_ms ? "overdue" : "due";
        return base;
    }
    if (p->overdue_every_ms <= 0)
        return 0;
    int64_t k = (after_ms - base) / p->overdue_every_ms + 1;
    *kind = "overdue";
    return base + k * p->overdue_every_ms;
}

int64_t
sched_next (const sched_policy_t *policy, const action_t *action, int64_t now_ms)
{
    if (strcmp (action->status, "open") != 0)
        return 0;
    const char *kind;
    int64_t after = now_ms > action->last_reminder_ms ? now_ms : action->last_reminder_ms;
    return s_slot_after (policy, action, after, &kind);
}

int64_t
sched_owed (const sched_policy_t *policy, const action_t *action, int64_t now_ms,
            const char **kind)
{
    if (strcmp (action->status, "open") != 0)
        return 0;
    //  Walk the slots after the last one logged; keep the latest that has passed.
    int64_t owed = 0, slot = action->last_reminder_ms;
    const char *slot_kind = NULL;
    while ((slot = s_slot_after (policy, action, slot, &slot_kind)) && slot <= now_ms) {
        owed = slot;
        *kind = slot_kind;
        if (strcmp (slot_kind, "overdue") == 0 && policy->overdue_every_ms > 0) {
            //  Jump straight to the last overdue slot that has passed.
            int64_t base = s_overdue_base (action);
            owed = base + (now_ms - base) / policy->overdue_every_ms * policy->overdue_every_ms;
            break;
        }
    }
    return owed;
}

static void
s_span (int64_t ms, char *out, size_t size)
{
    int64_t s = ((ms < 0 ? -ms : ms) + 500) / 1000; //  rounded: "in 2 seconds", not 1.996
    if (s >= 86400)
        snprintf (out, size, "%lld day%s", (long long)(s / 86400), s / 86400 == 1 ? "" : "s");
    else if (s >= 3600)
        snprintf (out, size, "%lld hour%s", (long long)(s / 3600), s / 3600 == 1 ? "" : "s");
    else if (s >= 60)
        snprintf (out, size, "%lld minute%s", (long long)(s / 60), s / 60 == 1 ? "" : "s");
    else
        snprintf (out, size, "%lld second%s", (long long)s, s == 1 ? "" : "s");
}

//  Length of the longest prefix of text within max bytes that ends on a character boundary.
static int
s_utf8_prefix (const char *text, size_t max)
{
    size_t len = strlen (text);
    if (len <= max)
        return (int)len;
    while (max > 0 && ((unsigned char)text[max] & 0xC0) == 0x80)
        max--;
    return (int)max;
}

entry_t *
sched_reminder (const hub_identity_t *hub, const action_t *action, int64_t slot_ms,
                const char *kind, int64_t now_ms)
{
    //  Message id = BLAKE2b-128("reminder" || item id || slot): one slot, one message.
    uint8_t id[HUB_MSG_ID_BYTES];
    char seed[64];
    int seed_len = snprintf (seed, sizeof seed, "reminder:%llu:%lld",
                             (unsigned long long)action->id, (long long)slot_ms);
    crypto_generichash (id, sizeof id, (const uint8_t *)seed, (size_t)seed_len, NULL, 0);
    json_t *fields = json_pack ("{s:I, s:s, s:I, s:s, s:I}", "id", (json_int_t)action->id,
                                "owner", action->owner, "due", (json_int_t)action->due_ms,
                                "slot", kind, "slot_ms", (json_int_t)slot_ms);
    char *fields_json = json_dumps (fields, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref (fields);
    char title[HUB_TITLE_MAX + 1];
    int cut = s_utf8_prefix (action->title, 200);
    snprintf (title, sizeof title, "Reminder: %.*s", cut, action->title);
    size_t hlen = 0;
    //  ts is the slot, not now: the header of a slot's reminder is the same whenever it is
    //  built, so the log's (author, ts, id) uniqueness keeps it to one copy.
    char *header = hub_header_encode (ACTION_CHANNEL, "reminder", hub->pk, id, slot_ms, title,
                                      fields_json, &hlen);
    free (fields_json);
    char span[32], body[512];
    s_span (action->due_ms - now_ms, span, sizeof span);
    if (strcmp (kind, "before") == 0)
        snprintf (body, sizeof body, "Action %llu \"%.*s\" (owner %s) is due in %s.",
                  (unsigned long long)action->id, cut, action->title, action->owner, span);
    else if (strcmp (kind, "due") == 0)
        snprintf (body, sizeof body, "Action %llu \"%.*s\" (owner %s) is due now.",
                  (unsigned long long)action->id, cut, action->title, action->owner);
    else
        snprintf (body, sizeof body, "Action %llu \"%.*s\" (owner %s) is overdue by %s.",
                  (unsigned long long)action->id, cut, action->title, action->owner, span);
    entry_t *entry = entry_new (header, hlen, body, strlen (body));
    free (header);
    hub_err_t err = hub_header_decode (entry->header, entry->hlen, &entry->hdr);
    assert (err == HUB_OK); //  we built it
    (void)err;
    hub_msg_sign (hub, entry->header, entry->hlen, entry->body, entry->blen, entry->sig);
    return entry;
}

int64_t
sched_digest_slot (int64_t every_ms, int64_t now_ms)
{
    return every_ms > 0 ? now_ms / every_ms * every_ms : 0;
}

//  A digest shows the items as they stood at its slot (created by then, open then or done
//  in the period before it), so it is the same message whenever it is built.
typedef struct {
    int64_t since_ms;
    int64_t slot_ms;
    zlistx_t *owners; //  owner names with open items, sorted
    char *text;
    size_t len;
    int open, overdue, done;
} s_digest_t;

static void
s_append (s_digest_t *d, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char line[600];
    int n = vsnprintf (line, sizeof line, format, args);
    va_end (args);
    if (n < 0)
        return;
    size_t add = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (d->len + add > 48 * 1024) //  stay well within max_message_bytes
        return;
    d->text = mem_realloc (d->text, d->len + add + 1);
    memcpy (d->text + d->len, line, add + 1);
    d->len += add;
}

static void
s_day (int64_t ms, char out[16])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r (&secs, &tm);
    strftime (out, 16, "%Y-%m-%d", &tm);
}

static bool
s_open_at (const action_t *a, int64_t ms)
{
    return a->created_ms <= ms && (strcmp (a->status, "open") == 0 || a->done_ms > ms);
}

static void
s_collect_owner (action_t *a, void *arg)
{
    s_digest_t *d = arg;
    if (s_open_at (a, d->slot_ms) && !zlistx_find (d->owners, a->owner))
        zlistx_add_end (d->owners, a->owner);
}

typedef struct {
    s_digest_t *digest;
    const char *owner; //  list this owner's open items; NULL: list done ones
} s_pass_t;

static void
s_list_item (action_t *a, void *arg)
{
    s_pass_t *pass = arg;
    s_digest_t *d = pass->digest;
    char due[16], done[16];
    s_day (a->due_ms, due);
    int cut = s_utf8_prefix (a->title, 200);
    if (pass->owner && s_open_at (a, d->slot_ms) && strcmp (a->owner, pass->owner) == 0) {
        bool late = a->due_ms <= d->slot_ms;
        d->open++;
        d->overdue += late;
        s_append (d, "  #%llu %.*s - due %s%s\n", (unsigned long long)a->id, cut, a->title, due,
                  late ? " (OVERDUE)" : "");
    } else if (!pass->owner && strcmp (a->status, "done") == 0 && a->done_ms > d->since_ms &&
               a->done_ms <= d->slot_ms) {
        s_day (a->done_ms, done);
        d->done++;
        s_append (d, "  #%llu %.*s - %s, done %s\n", (unsigned long long)a->id, cut, a->title,
                  a->owner, done);
    }
}

entry_t *
sched_digest (const hub_identity_t *hub, action_set_t *actions, int64_t slot_ms,
              int64_t every_ms)
{
    s_digest_t d = {.since_ms = slot_ms - every_ms, .slot_ms = slot_ms};
    d.owners = zlistx_new ();
    zlistx_set_comparator (d.owners, (zlistx_comparator_fn *)strcmp);
    action_set_each (actions, s_collect_owner, &d);
    zlistx_sort (d.owners);
    char since[16];
    s_day (d.since_ms, since);
    s_append (&d, "Open commitments by owner:\n");
    for (const char *owner = zlistx_first (d.owners); owner; owner = zlistx_next (d.owners)) {
        s_append (&d, "%s:\n", owner);
        s_pass_t pass = {&d, owner};
        action_set_each (actions, s_list_item, &pass);
    }
    if (zlistx_size (d.owners) == 0)
        s_append (&d, "  (none)\n");
    s_append (&d, "Done since %s:\n", since);
    s_pass_t pass = {&d, NULL};
    action_set_each (actions, s_list_item, &pass);
    if (d.done == 0)
        s_append (&d, "  (none)\n");
    zlistx_destroy (&d.owners);
    if (d.open == 0 && d.done == 0) {
        free (d.text);
        return NULL;
    }
    uint8_t id[HUB_MSG_ID_BYTES];
    char seed[48];
    int seed_len = snprintf (seed, sizeof seed, "digest:%lld", (long long)slot_ms);
    crypto_generichash (id, sizeof id, (const uint8_t *)seed, (size_t)seed_len, NULL, 0);
    char title[HUB_TITLE_MAX + 1];
    snprintf (title, sizeof title, "Digest: %d open, %d overdue, %d done since %s", d.open,
              d.overdue, d.done, since);
    size_t hlen = 0;
    char *header =
        hub_header_encode ("updates", "digest", hub->pk, id, slot_ms, title, NULL, &hlen);
    entry_t *entry = entry_new (header, hlen, d.text, d.len);
    free (header);
    free (d.text);
    hub_err_t err = hub_header_decode (entry->header, entry->hlen, &entry->hdr);
    assert (err == HUB_OK);
    (void)err;
    hub_msg_sign (hub, entry->header, entry->hlen, entry->body, entry->blen, entry->sig);
    return entry;
}
