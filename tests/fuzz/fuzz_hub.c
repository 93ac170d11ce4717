/*  fuzz_hub.c - see fuzz_hub.h. */
#include "fuzz_hub.h"
#include "fuzz_common.h"
#include "db.h"
#include "log.h"

#include <sodium.h>
#include <string.h>

#define S_ADMIN_KEY "ebVWLo_mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ"
#define S_ALICE_KEY "rcFAEfgtHFbZVqpPnXPYhYNhpgYEhSXg0Ixjjcdd2Mc"
#define S_HUB_KEY   "AgvUJ0RrcjQk2A0srTUro982SdDvj6rgyn6yVEOUGyk"
#define S_FUTURE_MS "4102444800000" //  2100-01-01
#define S_PAST_MS   "1700000000000" //  2023-11-14

static fuzz_hub_t s_hub;
static bool s_ready;
static uint8_t s_admin_pk[HUB_PUBKEY_BYTES], s_alice_pk[HUB_PUBKEY_BYTES];

//  Key text of the key pair made from a seed of 32 times byte.
static void
s_seeded_key (uint8_t byte, char text[HUB_KEYTEXT_LEN + 1])
{
    uint8_t seed[32], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    memset (seed, byte, sizeof seed);
    CHECK (crypto_sign_seed_keypair (pk, sk, seed) == 0);
    hub_key_to_text (pk, text);
}

entry_t *
fuzz_hub_entry (const char *channel, const char *kind, const uint8_t author[HUB_PUBKEY_BYTES],
                const char *title, const char *action_json, const void *body, size_t blen)
{
    static const uint8_t msg_id[HUB_MSG_ID_BYTES] = {0x0f, 0x22}; //  derive reads no id
    size_t hlen = 0;
    char *header = hub_header_encode (channel, kind, author, msg_id, FUZZ_HUB_NOW_MS - 1000,
                                      title, action_json, &hlen);
    if (!header)
        return NULL;
    entry_t *entry = entry_new (header, hlen, body, blen);
    free (header);
    CHECK (hub_header_decode (entry->header, entry->hlen, &entry->hdr) == HUB_OK);
    return entry;
}

//  Logs one seed message at seq: it must be accepted.
static void
s_seed (uint64_t seq, const char *channel, const char *kind, const uint8_t *author,
        const char *title, const char *action_json, const char *body)
{
    entry_t *entry =
        fuzz_hub_entry (channel, kind, author, title, action_json, body, strlen (body));
    CHECK (entry != NULL);
    if (!derive_apply (s_hub.derive, entry, seq, FUZZ_HUB_NOW_MS - 100000 + seq)) {
        fprintf (stderr, "fuzz_hub: seed %llu refused: %s\n", (unsigned long long)seq,
                 entry->reason);
        abort ();
    }
    entry_destroy (&entry);
}

static void
s_admin (uint64_t seq, const char *body)
{
    s_seed (seq, "admin", "admin", s_admin_pk, NULL, NULL, body);
}

fuzz_hub_t *
fuzz_hub (void)
{
    if (s_ready)
        return &s_hub;
    CHECK (sodium_init () >= 0);
    log_set_level (LOG_LEVEL_ERROR);
    char db_path[512], why[512] = "", bob[HUB_KEYTEXT_LEN + 1], carol[HUB_KEYTEXT_LEN + 1],
                       body[512];
    snprintf (db_path, sizeof db_path, "%s/hub.db", fuzz_scratch_dir ());
    CHECK (hub_key_from_text (S_ADMIN_KEY, s_admin_pk) == HUB_OK);
    CHECK (hub_key_from_text (S_ALICE_KEY, s_alice_pk) == HUB_OK);
    CHECK (hub_key_from_text (S_HUB_KEY, s_hub.hub_pk) == HUB_OK);
    s_seeded_key (0x42, bob);
    s_seeded_key (0x43, carol);
    s_hub.db = db_open (db_path, true, why, sizeof why);
    if (!s_hub.db) {
        fprintf (stderr, "fuzz_hub: %s\n", why);
        abort ();
    }
    //  Nothing here needs to survive a crash; rollbacks are all the fuzzer does.
    CHECK (db_exec (s_hub.db, "PRAGMA synchronous = OFF") == SQLITE_OK);
    s_hub.derive = derive_new (s_hub.db, s_admin_pk, s_hub.hub_pk);

    s_admin (1, "{\"op\":\"partner.add\",\"name\":\"alice\",\"key\":\"" S_ALICE_KEY "\","
                "\"org\":\"Alpha\",\"email\":\"alice@example.org\","
                "\"roles\":[\"convener\",\"finance\"]}");
    snprintf (body, sizeof body, "{\"op\":\"partner.add\",\"name\":\"bob\",\"key\":\"%s\"}",
              bob);
    s_admin (2, body);
    snprintf (
        body, sizeof body,
        "{\"op\":\"partner.add\",\"name\":\"carol\",\"key\":\"%s\",\"roles\":[\"convener\"]}",
        carol);
    s_admin (3, body);
    s_admin (4, "{\"op\":\"partner.remove\",\"name\":\"carol\"}");
    s_admin (5, "{\"op\":\"channel.create\",\"name\":\"ops\",\"publish\":[\"convener\"],"
                "\"read\":[\"convener\",\"finance\"]}");
    s_admin (6, "{\"op\":\"channel.create\",\"name\":\"vault\",\"publish\":[\"admin\"],"
                "\"read\":[\"admin\"]}");
    s_seed (7, "actions", "action", s_alice_pk, "Review the Q3 report",
            "{\"owner\":\"bob\",\"due\":" S_FUTURE_MS "}", "The numbers are in the folder.");
    s_seed (8, "actions", "action", s_admin_pk, "Send the minutes",
            "{\"owner\":\"alice\",\"due\":" S_PAST_MS "}", "");
    s_seed (9, "actions", "action", s_alice_pk, "Book the room",
            "{\"owner\":\"alice\",\"due\":" S_FUTURE_MS "}", "");
    s_seed (10, "actions", "action-done", s_alice_pk, NULL, "{\"id\":9}", "Booked.");
    s_seed (11, "actions", "reminder", s_hub.hub_pk, "Reminder: Review the Q3 report",
            "{\"id\":7,\"owner\":\"bob\",\"due\":" S_FUTURE_MS
            ",\"slot\":\"before\",\"slot_ms\":4102185600000}",
            "");

    s_hub.view.channels = channel_set_load (db_path);
    s_hub.view.directory = directory_load (db_path, s_admin_pk, s_hub.hub_pk);
    s_hub.view.actions = action_set_load (db_path);
    s_hub.view.max_message_bytes = 65536;
    CHECK (s_hub.view.channels && s_hub.view.directory && s_hub.view.actions);
    s_hub.rights = rights_new (s_hub.hub_pk, s_admin_pk);
    s_hub.admin = directory_by_name (s_hub.view.directory, "admin");
    s_hub.alice = directory_by_name (s_hub.view.directory, "alice");
    s_hub.bob = directory_by_name (s_hub.view.directory, "bob");
    CHECK (s_hub.admin && s_hub.alice && s_hub.bob);
    s_ready = true;
    return &s_hub;
}

hub_err_t
fuzz_hub_derive (fuzz_hub_t *self, entry_t *entry)
{
    CHECK (db_exec (self->db, "SAVEPOINT fuzz") == SQLITE_OK);
    derive_apply (self->derive, entry, FUZZ_HUB_NEXT_SEQ, FUZZ_HUB_NOW_MS);
    CHECK (db_exec (self->db, "ROLLBACK TO fuzz") == SQLITE_OK);
    CHECK (db_exec (self->db, "RELEASE fuzz") == SQLITE_OK);
    CHECK (entry->err != HUB_E_STORAGE);
    return entry->err;
}
