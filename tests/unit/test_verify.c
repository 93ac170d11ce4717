/*  test_verify.c - the verifier pool (hubd/verify.c) and batch splitting (hubd/entry.c):
    every submitted batch reaches the store once, checked; a bad signature is refused and
    an entry refused before keeps its reason; threads waiting for work are counted; a split
    keeps every entry, in order, and the byte counts; destroying a busy pool frees what it
    still queued (the sanitizer build checks for leaks). The store's end is a real PULL
    socket on STORE_IN_ENDPOINT, as in hubd. */
#include "verify.h"
#include "entry.h"
#include "store.h"
#include "hub_frame.h"
#include "hub_keys.h"
#include "hub_sig.h"
#include <czmq.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define BATCHES 20
#define PER     5
#define BAD     3 //  the entry of each batch whose signature is broken

static hub_identity_t s_id;

//  A correctly signed entry with body "message N"; broken: one signature bit flipped.
static entry_t *
s_entry (int n, bool broken)
{
    uint8_t msg_id[HUB_MSG_ID_BYTES] = {(uint8_t)n, (uint8_t)(n >> 8)};
    size_t hlen = 0;
    char *header =
        hub_header_encode ("updates", "message", s_id.pk, msg_id, 1000 + n, NULL, NULL, &hlen);
    assert_non_null (header);
    char body[32];
    int blen = snprintf (body, sizeof body, "message %d", n);
    entry_t *entry = entry_new (header, hlen, body, (size_t)blen);
    free (header);
    assert_int_equal (hub_header_decode (entry->header, entry->hlen, &entry->hdr), HUB_OK);
    hub_msg_sign (&s_id, entry->header, entry->hlen, entry->body, entry->blen, entry->sig);
    if (broken)
        entry->sig[7] ^= 0x10;
    return entry;
}

static batch_t *
s_batch (uint64_t number, int count, int bad)
{
    batch_t *batch = batch_new (number);
    for (int i = 0; i < count; i++) {
        entry_t *entry = s_entry ((int)number * 100 + i, i == bad);
        batch_append (batch, &entry);
    }
    return batch;
}

//  The store's end, bound once: an inproc endpoint is let go of only after the closed
//  socket's reaper has run, so binding it again at once in the next test can fail.
static zsock_t *s_store;

static zsock_t *
s_store_end (int timeout_ms)
{
    zsock_set_rcvtimeo (s_store, timeout_ms);
    return s_store;
}

static void
test_every_batch_checked_once (void **state)
{
    (void)state;
    zsock_t *store = s_store_end (10000);
    verify_t *pool = verify_new (2);
    for (uint64_t b = 1; b <= BATCHES; b++)
        verify_submit (pool, s_batch (b, PER, BAD));
    bool seen[BATCHES + 1] = {false};
    for (int got = 0; got < BATCHES; got++) {
        void *ptr = NULL;
        assert_int_equal (zsock_recv (store, "p", &ptr), 0);
        batch_t *batch = ptr;
        assert_non_null (batch);
        assert_true (batch->number >= 1 && batch->number <= BATCHES);
        assert_false (seen[batch->number]);
        seen[batch->number] = true;
        assert_int_equal (batch->count, PER);
        for (int i = 0; i < PER; i++)
            assert_int_equal (batch->entries[i]->err, i == BAD ? HUB_E_BAD_SIGNATURE : HUB_OK);
        batch_destroy (&batch);
    }
    verify_destroy (&pool);
    assert_null (pool);
}

static void
test_refused_before_keeps_its_reason (void **state)
{
    (void)state;
    zsock_t *store = s_store_end (10000);
    verify_t *pool = verify_new (1);
    batch_t *batch = s_batch (1, 2, 1); //  entry 1 also has a broken signature
    entry_refuse (batch->entries[1], HUB_E_FORBIDDEN, "not a publisher of %s", "updates");
    verify_submit (pool, batch);
    void *ptr = NULL;
    assert_int_equal (zsock_recv (store, "p", &ptr), 0);
    assert_ptr_equal (ptr, batch);
    assert_int_equal (batch->entries[0]->err, HUB_OK);
    assert_int_equal (batch->entries[1]->err, HUB_E_FORBIDDEN);
    assert_string_equal (batch->entries[1]->reason, "not a publisher of updates");
    batch_destroy (&batch);
    verify_destroy (&pool);
}

static void
test_idle_counts_waiting_threads (void **state)
{
    (void)state;
    verify_t *pool = verify_new (3);
    for (int i = 0; i < 500 && verify_idle (pool) < 3; i++)
        zclock_sleep (10);
    assert_int_equal (verify_idle (pool), 3);
    verify_destroy (&pool);
}

//  One thread, 40 batches of 64: destroy comes long before the queue is done. What
//  reached the store are the oldest batches, in order and checked; the rest must be freed
//  by verify_destroy (the sanitizer build fails on a leak).
static void
test_destroy_frees_what_is_queued (void **state)
{
    (void)state;
    zsock_t *store = s_store_end (200);
    verify_t *pool = verify_new (1);
    for (uint64_t b = 1; b <= 40; b++)
        verify_submit (pool, s_batch (b, 64, -1));
    verify_destroy (&pool); //  the thread ends after the batch it is checking
    void *ptr = NULL;
    uint64_t passed = 0;
    while (zsock_recv (store, "p", &ptr) == 0 && ptr) {
        batch_t *batch = ptr;
        assert_int_equal (batch->number, ++passed);
        for (size_t i = 0; i < batch->count; i++)
            assert_int_equal (batch->entries[i]->err, HUB_OK);
        batch_destroy (&batch);
    }
}

static void
test_split_keeps_entries_and_bytes (void **state)
{
    (void)state;
    batch_t *batch = s_batch (7, 9, -1);
    size_t bytes = batch->bytes;
    entry_t *order[9];
    memcpy (order, batch->entries, sizeof order);
    batch_t *rest = batch_split (batch, 8);
    assert_int_equal (rest->number, 8);
    assert_int_equal (batch->number, 7);
    assert_int_equal (batch->count, 4);
    assert_int_equal (rest->count, 5);
    for (int i = 0; i < 9; i++)
        assert_ptr_equal (i < 4 ? batch->entries[i] : rest->entries[i - 4], order[i]);
    size_t first = 0, second = 0;
    for (size_t i = 0; i < batch->count; i++)
        first += entry_bytes (batch->entries[i]);
    for (size_t i = 0; i < rest->count; i++)
        second += entry_bytes (rest->entries[i]);
    assert_int_equal (batch->bytes, first);
    assert_int_equal (rest->bytes, second);
    assert_int_equal (first + second, bytes);
    batch_destroy (&batch);
    batch_destroy (&rest);
}

int
main (void)
{
    hub_identity_generate (&s_id);
    s_store = zsock_new_pull ("@" STORE_IN_ENDPOINT);
    if (!s_store)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_every_batch_checked_once),
        cmocka_unit_test (test_refused_before_keeps_its_reason),
        cmocka_unit_test (test_idle_counts_waiting_threads),
        cmocka_unit_test (test_destroy_frees_what_is_queued),
        cmocka_unit_test (test_split_keeps_entries_and_bytes),
    };
    int failed = cmocka_run_group_tests (tests, NULL, NULL);
    zsock_destroy (&s_store);
    zsys_shutdown ();
    return failed;
}
