/*  reader.h - reads of the log on their own connection: history pages and catch-up.

    A thread with a read-only SQLite connection, so a long history read never stalls the
    writer (WAL readers see a snapshot and do not block the one writer). Requests and
    answers are read_t pointers over the actor's pipe: send one with reader_request, and
    the same pointer comes back, filled, on the socket reader_sock returns.
*/
#ifndef HUBD_READER_H_INCLUDED
#define HUBD_READER_H_INCLUDED

#include "entry.h"
#include "hub_frame.h"
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    //  The requester's bookkeeping, returned untouched
    uint64_t tag;
    uint8_t peer[ENTRY_PEER_MAX];
    size_t peer_len;
    uint32_t req_id;
    bool whole_log; //  history "*" of a partner who reads every channel: seqs have no gaps
    bool pack;      //  history answered in MSGS packs
    //  The question: messages with seq > since on these channels (none = every channel)
    char (*channels)[HUB_CHANNEL_MAX + 1]; //  owned by the request
    size_t channel_count;
    uint64_t since;
    uint32_t limit;
    //  The answer
    batch_t *rows;         //  in seq order; owned by the request
    uint64_t head;         //  last seq in the log in the snapshot the rows came from
    bool more;             //  more rows than limit exist
    char *checkpoint_json; //  latest checkpoint (PROTOCOL.md 6.3) or NULL; owned
    hub_err_t err;         //  the rows before the failure are still good
    char why[256];         //  with err: the reason, for the client
} read_t;

//  A page holds up to its limit of rows, and stops (more = true) once it holds this many
//  bytes of headers and bodies: each page is in memory until the front door sends it.
#define READER_PAGE_BYTES ((size_t)4 << 20)

typedef struct _reader_t reader_t;

//  Creates a request for the given channels (copied; count may be 0 for every channel).
//  Caller owns it.
read_t *read_new (const char *const *channels, size_t count, uint64_t since, uint32_t limit);
//  Adds one more channel (copied) to a request's question.
void read_add_channel (read_t *self, const char *channel);

void read_destroy (read_t **self_p);

//  Opens db_path read-only and starts the thread. hub_pk goes into checkpoint answers.
//  Returns NULL after logging why on failure.
reader_t *reader_new (const char *db_path, const uint8_t hub_pk[HUB_PUBKEY_BYTES]);

//  Hands a request to the reader; takes ownership of *req_p and sets it to NULL. The
//  answered request arrives on reader_sock, to be taken with reader_answer.
void reader_request (reader_t *self, read_t **req_p);

//  The socket answers arrive on (for polling). Borrowed.
zsock_t *reader_sock (reader_t *self);

//  Takes one answered request; caller owns it. NULL if none could be read.
read_t *reader_answer (reader_t *self);

void reader_destroy (reader_t **self_p);

#endif
