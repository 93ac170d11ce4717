/*  test_sched.c - reminder slots (hubd/sched.c): which slot is owed, when to wake next,
    one reminder after an outage, the reminder message itself, and the digest as the
    items stood at its slot. */
#include "sched.h"
#include "db.h"
#include "entry.h"
#include "hub_frame.h"
#include "hub_sig.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#define S 1000LL
#define H (3600 * S)
#define D (24 * H)

//  before = 3d, 1d; overdue every 1d
static const sched_policy_t s_policy = {{3 * D, 1 * D}, 2, 1 * D};

static action_t
s_item (int64_t created, int64_t due)
{
    action_t a = {.id = 7, .title = "Send the budget", .owner = "foodbank"};
    a.created_ms = created;
    a.due_ms = due;
    strcpy (a.status, "open");
    return a;
}

static void
test_before_slots_in_order (void **state)
{
    (void)state;
    action_t a = s_item (0, 10 * D);
    const char *kind = NULL;
    assert_int_equal (sched_owed (&s_policy, &a, 6 * D, &kind), 0);
    assert_int_equal (sched_next (&s_policy, &a, 6 * D), 7 * D);
    assert_int_equal (sched_owed (&s_policy, &a, 7 * D, &kind), 7 * D);
    assert_string_equal (kind, "before");
    a.last_reminder_ms = 7 * D;
    assert_int_equal (sched_owed (&s_policy, &a, 8 * D, &kind), 0);
    assert_int_equal (sched_next (&s_policy, &a, 8 * D), 9 * D);
    assert_int_equal (sched_owed (&s_policy, &a, 9 * D + 1, &kind), 9 * D);
    a.last_reminder_ms = 9 * D;
    assert_int_equal (sched_next (&s_policy, &a, 9 * D + 1), 10 * D);
    assert_int_equal (sched_owed (&s_policy, &a, 10 * D, &kind), 10 * D);
    assert_string_equal (kind, "due");
    a.last_reminder_ms = 10 * D;
    assert_int_equal (sched_next (&s_policy, &a, 10 * D), 11 * D);
    assert_int_equal (sched_owed (&s_policy, &a, 11 * D, &kind), 11 * D);
    assert_string_equal (kind, "overdue");
}

static void
test_slots_before_creation_are_skipped (void **state)
{
    (void)state;
    //  Created 2 days before due: the 3-days-before slot never existed.
    action_t a = s_item (8 * D, 10 * D);
    const char *kind = NULL;
    assert_int_equal (sched_next (&s_policy, &a, 8 * D), 9 * D);
    assert_int_equal (sched_owed (&s_policy, &a, 8 * D + H, &kind), 0);
}

static void
test_outage_sends_only_the_latest (void **state)
{
    (void)state;
    action_t a = s_item (0, 10 * D);
    a.last_reminder_ms = 7 * D;
    const char *kind = NULL;
    //  Down from day 8 to day 13.5: slots 9d, 10d, 11d, 12d, 13d passed; only 13d is owed.
    assert_int_equal (sched_owed (&s_policy, &a, 13 * D + 12 * H, &kind), 13 * D);
    assert_string_equal (kind, "overdue");
    a.last_reminder_ms = 13 * D;
    assert_int_equal (sched_owed (&s_policy, &a, 13 * D + 13 * H, &kind), 0);
    assert_int_equal (sched_next (&s_policy, &a, 13 * D + 13 * H), 14 * D);
}

static void
test_item_recorded_late (void **state)
{
    (void)state;
    const char *kind = NULL;
    //  Due on day 10, recorded an hour into day 100: one overdue reminder at once (at the
    //  moment it was recorded, not one for each of the 90 days missed, no before-slot),
    //  then one a day after that, counted from then: never a second one soon after.
    action_t a = s_item (100 * D + H, 10 * D);
    assert_int_equal (sched_owed (&s_policy, &a, 100 * D + H, &kind), 100 * D + H);
    assert_string_equal (kind, "overdue");
    a.last_reminder_ms = 100 * D + H;
    assert_int_equal (sched_owed (&s_policy, &a, 101 * D, &kind), 0);
    assert_int_equal (sched_next (&s_policy, &a, 100 * D + 2 * H), 101 * D + H);
    assert_int_equal (sched_owed (&s_policy, &a, 101 * D + H, &kind), 101 * D + H);
    assert_string_equal (kind, "overdue");
    //  A hub down for three days owes the latest slot only.
    assert_int_equal (sched_owed (&s_policy, &a, 104 * D + 2 * H, &kind), 104 * D + H);
    //  Recorded an hour after its due time: an overdue reminder then, the next a day on.
    a = s_item (10 * D + H, 10 * D);
    assert_int_equal (sched_owed (&s_policy, &a, 10 * D + H, &kind), 10 * D + H);
    assert_string_equal (kind, "overdue");
    a.last_reminder_ms = 10 * D + H;
    assert_int_equal (sched_next (&s_policy, &a, 10 * D + H), 11 * D + H);
    //  With no overdue reminders configured: that one reminder, then nothing.
    static const sched_policy_t no_overdue = {{3 * D, 1 * D}, 2, 0};
    a = s_item (100 * D, 10 * D);
    assert_int_equal (sched_owed (&no_overdue, &a, 100 * D, &kind), 100 * D);
    assert_string_equal (kind, "overdue");
    a.last_reminder_ms = 100 * D;
    assert_int_equal (sched_owed (&no_overdue, &a, 200 * D, &kind), 0);
    assert_int_equal (sched_next (&no_overdue, &a, 100 * D), 0);
}

static void
test_closed_items_get_nothing (void **state)
{
    (void)state;
    action_t a = s_item (0, 10 * D);
    strcpy (a.status, "done");
    const char *kind = NULL;
    assert_int_equal (sched_owed (&s_policy, &a, 20 * D, &kind), 0);
    assert_int_equal (sched_next (&s_policy, &a, 20 * D), 0);
}

static void
test_reminder_message (void **state)
{
    (void)state;
    hub_identity_t hub;
    hub_identity_generate (&hub);
    action_t a = s_item (0, 10 * D);
    entry_t *first = sched_reminder (&hub, &a, 9 * D, "before", 9 * D);
    entry_t *again = sched_reminder (&hub, &a, 9 * D, "before", 9 * D + 5 * S);
    entry_t *other = sched_reminder (&hub, &a, 10 * D, "due", 10 * D);
    assert_string_equal (first->hdr.kind, "reminder");
    assert_string_equal (first->hdr.channel, "actions");
    assert_string_equal (first->hdr.title, "Reminder: Send the budget");
    assert_true (hub_msg_verify (hub.pk, first->header, first->hlen, first->body, first->blen,
                                 first->sig));
    //  One slot, one message id (the log's dedup then refuses a second copy).
    assert_memory_equal (first->hdr.id, again->hdr.id, HUB_MSG_ID_BYTES);
    assert_memory_not_equal (first->hdr.id, other->hdr.id, HUB_MSG_ID_BYTES);
    char body[256];
    snprintf (body, sizeof body, "%.*s", (int)first->blen, (const char *)first->body);
    assert_string_equal (body,
                         "Action 7 \"Send the budget\" (owner foodbank) is due in 1 day.");
    entry_destroy (&first);
    entry_destroy (&again);
    entry_destroy (&other);
}

static void
test_digest_slots (void **state)
{
    (void)state;
    assert_int_equal (sched_digest_slot (0, 123456), 0);
    assert_int_equal (sched_digest_slot (7 * D, 7 * D + 5), 7 * D);
    assert_int_equal (sched_digest_slot (7 * D, 14 * D - 1), 7 * D);
}

//  Feeds the set an action message of kind, logged at seq at hub time ms.
static void
s_follow (action_set_t *set, const hub_identity_t *id, const char *kind, const char *action,
          uint64_t seq, int64_t ms)
{
    uint8_t msg_id[HUB_MSG_ID_BYTES] = {(uint8_t)seq};
    size_t hlen = 0;
    char *header = hub_header_encode ("actions", kind, id->pk, msg_id, ms,
                                      strcmp (kind, "action") == 0 ? "Send the budget" : NULL,
                                      action, &hlen);
    assert_non_null (header);
    entry_t *entry = entry_new (header, hlen, "", 0);
    free (header);
    assert_int_equal (hub_header_decode (entry->header, entry->hlen, &entry->hdr), HUB_OK);
    entry->seq = seq;
    entry->hub_ts_ms = (uint64_t)ms;
    action_set_follow (set, entry, "foodbank");
    entry_destroy (&entry);
}

static void
test_digest_is_the_state_at_its_slot (void **state)
{
    (void)state;
    char dir[] = "/tmp/test-sched-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path[64], why[256];
    snprintf (path, sizeof path, "%s/hub.db", dir);
    sqlite3 *db = db_open (path, true, why, sizeof why);
    assert_non_null (db);
    sqlite3_close (db);
    action_set_t *set = action_set_load (path);
    assert_non_null (set);
    hub_identity_t hub;
    hub_identity_generate (&hub);
    //  Item 1 created on day 8, done on day 16; item 2 created on day 15.
    s_follow (set, &hub, "action", "{\"owner\":\"foodbank\",\"due\":864000000}", 1, 8 * D);
    s_follow (set, &hub, "action", "{\"owner\":\"foodbank\",\"due\":1728000000}", 2, 15 * D);
    s_follow (set, &hub, "action-done", "{\"id\":1}", 3, 16 * D);
    //  A slot before any item: nothing to say (no digest of a time before the hub).
    assert_null (sched_digest (&hub, set, 7 * D, 7 * D));
    //  The slot of day 14, built on day 20: item 1 open and overdue (due day 10), not yet
    //  done; item 2 did not exist yet.
    entry_t *digest = sched_digest (&hub, set, 14 * D, 7 * D);
    assert_non_null (digest);
    assert_string_equal (digest->hdr.title,
                         "Digest: 1 open, 1 overdue, 0 done since 1970-01-08");
    entry_destroy (&digest);
    //  The slot of day 21: item 2 open and overdue (due day 20), item 1 done in the period.
    digest = sched_digest (&hub, set, 21 * D, 7 * D);
    assert_non_null (digest);
    assert_string_equal (digest->hdr.title,
                         "Digest: 1 open, 1 overdue, 1 done since 1970-01-15");
    entry_destroy (&digest);
    action_set_destroy (&set);
    char cmd[96];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal (system (cmd), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_before_slots_in_order),
        cmocka_unit_test (test_slots_before_creation_are_skipped),
        cmocka_unit_test (test_outage_sends_only_the_latest),
        cmocka_unit_test (test_item_recorded_late),
        cmocka_unit_test (test_closed_items_get_nothing),
        cmocka_unit_test (test_reminder_message),
        cmocka_unit_test (test_digest_slots),
        cmocka_unit_test (test_digest_is_the_state_at_its_slot),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
