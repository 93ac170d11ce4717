/*  relay.h - the relay worker: delivers the outbox through relay plugins.

    A thread with its own SQLite connection. For each [relay.NAME] of the config it loads
    the plugin (PLUGIN_DIR/hub_PLUGIN.so, one exported hub_plugin_descriptor, see
    plugins/hub_plugin.h), refusing a wrong ABI with a precise log line, and delivers that
    relay's jobs strictly in order: the oldest pending job first, the next only after it
    is done or dead.

    Retry policy (outcomes reported by the plugin):
      done    the job is marked done; never sent again.
      retry   attempts + 1; next try after the service's Retry-After if it gave one, else
              exponential backoff 2^attempts seconds (capped at 1 hour) with +-20% jitter;
              after max_tries attempts (relay key, default 10) the job is dead.
      dead    permanent (4xx other than 429, bad config): kept with its error, visible in
              status, requeued by "hubctl relay retry NAME".
    A job is marked done only after the plugin said the remote side accepted it, so a
    crash in between repeats that one job at most: the residual risk none of the services
    lets us close (no idempotency keys), INTEGRATIONS.md section 0.
*/
#ifndef HUBD_RELAY_H_INCLUDED
#define HUBD_RELAY_H_INCLUDED

#include "config.h"
#include "hub_keys.h"
#include <czmq.h>
#include <stdint.h>

typedef struct _relay_t relay_t;

//  Loads the plugins of config's relays and starts the worker on db_path. A relay whose
//  plugin cannot be loaded is logged and left out. hub_pk and admin_pk (copied) name the
//  authors "hub" and "admin" in jobs. Returns NULL only if the database cannot be opened
//  (logged).
relay_t *relay_new (const config_t *config, const char *db_path,
                    const uint8_t hub_pk[HUB_PUBKEY_BYTES],
                    const uint8_t admin_pk[HUB_PUBKEY_BYTES]);

//  Tells the worker new jobs may be waiting (after a commit). Never blocks.
void relay_wake (relay_t *self);

//  Per-relay counters as a JSON object {NAME: {plugin, loaded, pending, oldest_pending_s,
//  dead}}: a new string the caller frees. Read on the caller's own connection: never waits
//  for a delivery in progress.
char *relay_stats (relay_t *self);

//  Requeues the dead jobs of a relay; returns how many, RELAY_UNKNOWN if there is no such
//  relay, RELAY_FAILED if the database refused (logged). Like relay_stats it does not wait
//  for the worker (at most 2 s for a commit of the store).
#define RELAY_UNKNOWN (-1)
#define RELAY_FAILED  (-2)
int relay_retry (relay_t *self, const char *name);

void relay_destroy (relay_t **self_p);

//  For --check-config: loads the relay's plugin and lets it check its configuration (keys,
//  secret files), then unloads it. Returns 0, or -1 with why filled.
int relay_check (const config_relay_t *relay, const char *plugin_dir, char *why, size_t size);

#endif
