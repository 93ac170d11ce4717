/*  hub_verify.c - checking a history against the hash chain and a signed checkpoint.

    What a verifier proves (PROTOCOL.md 6.2, 6.3), for messages added in increasing seq:
    1. each message is signed by the author its header names, and its hash is
       BLAKE2b (prev_hash || seq || signed || sig) (hub_message_t.verified);
    2. when two messages are seq - 1 and seq, the second's prev_hash is the first's hash,
       and seq 1 starts from 32 zero bytes; in consecutive mode (the whole log) there is
       no gap, so every link is checked;
    3. the checkpoint is signed by the hub key the verifier trusts, and the chain it saw
       reaches the checkpoint's hash at the checkpoint's seq.
    4. hub times never go back along the seqs it saw, and the checkpoint's message was
       not stored after the checkpoint was signed. Hub time is not in the hash: an edit
       that keeps a time between its neighbours' is not found.
    A deleted, edited, reordered or inserted entry breaks (1) or (2); truncating the end
    breaks (3). The first failure is kept: its seq and a reason.

    Every seq, hash and hub time seen is kept (48 bytes a message) so the checkpoint,
    which comes last, can be matched wherever its seq falls.
*/
#include "hub_client.h"
#include "hubc_mem.h"
#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t seq;
    uint64_t hub_ts_ms;
    uint8_t hash[HUB_HASH_BYTES];
} s_link_t;

struct _hub_verifier_t {
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
    bool consecutive;
    uint64_t since;
    s_link_t *links; //  every message seen, in increasing seq
    size_t count;
    size_t alloc;
    bool failed;
    uint64_t first_bad_seq;
    char reason[256];
};

hub_verifier_t *
hub_verifier_new (const uint8_t hub_pk[HUB_PUBKEY_BYTES], bool consecutive, uint64_t since)
{
    hub_verifier_t *self = hubc_calloc (1, sizeof *self);
    memcpy (self->hub_pk, hub_pk, HUB_PUBKEY_BYTES);
    self->consecutive = consecutive;
    self->since = since;
    return self;
}

void
hub_verifier_destroy (hub_verifier_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    free ((*self_p)->links);
    free (*self_p);
    *self_p = NULL;
}

static bool
s_fail (hub_verifier_t *self, uint64_t seq, const char *reason)
{
    if (!self->failed) {
        self->failed = true;
        self->first_bad_seq = seq;
        snprintf (self->reason, sizeof self->reason, "%s", reason);
    }
    return false;
}

//  Records that seq expected is missing (the next message seen is next). A gap comes
//  before anything found later in the log: it replaces a failure recorded at a larger seq.
static bool
s_fail_missing (hub_verifier_t *self, uint64_t expected, uint64_t next)
{
    if (self->failed && self->first_bad_seq <= expected)
        return false;
    char why[128];
    snprintf (why, sizeof why, "seq %llu is missing (next message is seq %llu)",
              (unsigned long long)expected, (unsigned long long)next);
    self->failed = false;
    return s_fail (self, expected, why);
}

//  The seq a message must have in consecutive mode, or 0 if any larger seq will do.
static uint64_t
s_expected (const hub_verifier_t *self)
{
    if (!self->consecutive)
        return 0;
    return self->count ? self->links[self->count - 1].seq + 1 : self->since + 1;
}

//  Checks msg's place in the sequence: order, gaps and the link to its predecessor.
static bool
s_check_link (hub_verifier_t *self, const hub_message_t *msg)
{
    static const uint8_t zeros[HUB_HASH_BYTES] = {0};
    const s_link_t *prev = self->count ? &self->links[self->count - 1] : NULL;
    char why[128];
    uint64_t expected = s_expected (self);
    if (prev && msg->seq <= prev->seq) {
        snprintf (why, sizeof why, "seq %llu comes after seq %llu",
                  (unsigned long long)msg->seq, (unsigned long long)prev->seq);
        return s_fail (self, msg->seq, why);
    }
    if (expected && msg->seq != expected)
        return s_fail_missing (self, expected, msg->seq);
    if (msg->seq == 1 && sodium_memcmp (msg->prev_hash, zeros, HUB_HASH_BYTES) != 0)
        return s_fail (self, 1, "seq 1 does not start the chain (prev hash not zero)");
    if (prev && prev->seq + 1 == msg->seq &&
        sodium_memcmp (prev->hash, msg->prev_hash, HUB_HASH_BYTES) != 0) {
        snprintf (why, sizeof why, "prev hash does not link to seq %llu",
                  (unsigned long long)prev->seq);
        return s_fail (self, msg->seq, why);
    }
    if (prev && msg->hub_ts_ms < prev->hub_ts_ms) {
        snprintf (why, sizeof why, "hub time goes back: seq %llu stored before seq %llu",
                  (unsigned long long)msg->seq, (unsigned long long)prev->seq);
        return s_fail (self, msg->seq, why);
    }
    return true;
}

bool
hub_verifier_add (hub_verifier_t *self, const hub_message_t *msg)
{
    assert (self);
    assert (msg);
    if (self->failed)
        return false;
    if (!msg->header_ok)
        return s_fail (self, msg->seq, "header does not decode");
    if (!msg->sig_ok)
        return s_fail (self, msg->seq, "author signature does not verify");
    if (!msg->hash_ok)
        return s_fail (self, msg->seq, "hash does not match the message");
    if (!s_check_link (self, msg))
        return false;
    if (self->count == self->alloc) {
        self->alloc = self->alloc ? self->alloc * 2 : 1024;
        self->links = hubc_realloc (self->links, self->alloc * sizeof *self->links);
    }
    self->links[self->count].seq = msg->seq;
    self->links[self->count].hub_ts_ms = msg->hub_ts_ms;
    memcpy (self->links[self->count].hash, msg->hash, HUB_HASH_BYTES);
    self->count++;
    return true;
}

//  Binary search for seq among the links; NULL if it was not seen.
static const s_link_t *
s_find (const hub_verifier_t *self, uint64_t seq)
{
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->links[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < self->count && self->links[lo].seq == seq ? &self->links[lo] : NULL;
}

bool
hub_verifier_finish (hub_verifier_t *self, const hub_checkpoint_t *cp)
{
    assert (self);
    if (self->failed)
        return false;
    if (!cp)
        return self->count == 0
                   ? true
                   : s_fail (self, hub_verifier_last_seq (self), "the hub sent no checkpoint");
    if (sodium_memcmp (cp->hub_key, self->hub_pk, HUB_PUBKEY_BYTES) != 0)
        return s_fail (self, cp->seq, "checkpoint is not signed by the trusted hub key");
    if (!hub_checkpoint_verify (cp))
        return s_fail (self, cp->seq, "checkpoint signature does not verify");
    const s_link_t *link = s_find (self, cp->seq);
    if (link && sodium_memcmp (link->hash, cp->hash, HUB_HASH_BYTES) != 0)
        return s_fail (self, cp->seq, "chain does not reach the checkpoint hash");
    if (link && link->hub_ts_ms > cp->ts_ms)
        return s_fail (self, cp->seq, "hub time is after the checkpoint's, which covers it");
    char why[128];
    uint64_t last = hub_verifier_last_seq (self);
    if (self->consecutive && cp->seq > self->since && cp->seq > last) {
        snprintf (why, sizeof why, "log ends at seq %llu before the checkpoint at seq %llu",
                  (unsigned long long)last, (unsigned long long)cp->seq);
        return s_fail (self, last + 1, why);
    }
    return true;
}

void
hub_verifier_expect_whole_log (hub_verifier_t *self)
{
    assert (self);
    self->consecutive = true;
    //  Messages already added were only checked for order: find the first seq missing
    //  among them, which comes before any failure recorded later in the log.
    uint64_t expected = self->since + 1;
    for (size_t i = 0; i < self->count; i++, expected++)
        if (self->links[i].seq != expected) {
            s_fail_missing (self, expected, self->links[i].seq);
            return;
        }
}

bool
hub_verifier_reject (hub_verifier_t *self, uint64_t seq, const char *reason)
{
    assert (self);
    assert (reason);
    return s_fail (self, seq, reason);
}

bool
hub_verifier_ok (const hub_verifier_t *self)
{
    return !self->failed;
}

uint64_t
hub_verifier_count (const hub_verifier_t *self)
{
    return self->count;
}

uint64_t
hub_verifier_last_seq (const hub_verifier_t *self)
{
    return self->count ? self->links[self->count - 1].seq : self->since;
}

uint64_t
hub_verifier_first_bad_seq (const hub_verifier_t *self)
{
    return self->failed ? self->first_bad_seq : 0;
}

const char *
hub_verifier_reason (const hub_verifier_t *self)
{
    return self->failed ? self->reason : NULL;
}
