/*  relay.h - the relay workers: deliver the outbox through relay plugins.

    One thread per [relay.NAME] of the config, each with its own SQLite connection and its
    own plugin (PLUGIN_DIR/hub_PLUGIN.so, one exported hub_plugin_descriptor, see
    plugins/hub_plugin.h), so a slow or unreachable service holds up only its own relay.
    Each relay's jobs go strictly in order: the oldest pending job first, the next only
    after it is done or dead.

    Retry policy (outcomes reported by the plugin):
      done    the job is marked done; never sent again.
      retry   next try after the service's Retry-After if it gave one (that answer uses up
              no attempt, up to 100 of them: the service is pacing us, not failing; the
              plugin is still told the try's number, so it knows it may have been
              there before), else exponential backoff
              2^attempts seconds (capped at 1 hour) with +-20% jitter; after max_tries
              attempts (relay key, 1 to 1000, default 16: about five hours of tries) the
              job is dead.
      dead    permanent (4xx other than 429, bad config): kept with its error, visible in
              status, requeued by "hubctl relay retry NAME".
    An attempt is counted (and marked in progress) before the plugin is called, so one cut
    short by a crash counts too: a job that brings hubd down dies after max_tries instead
    of at every start. Lowering max_tries on a reload leaves a job one more try. A job
    is marked done only after the plugin said the remote side accepted it, so a crash in
    between repeats that one job at most: the residual risk none of the services lets us
    close (no idempotency keys), INTEGRATIONS.md section 0; the plugin sees attempt > 1
    and can look before it creates. An outcome the database refuses to store (locked,
    full) is kept and stored again, and the relay sends nothing meanwhile: a refused write
    never makes a job go out twice.
*/
#ifndef HUBD_RELAY_H_INCLUDED
#define HUBD_RELAY_H_INCLUDED

#include "config.h"
#include "hub_keys.h"
#include <czmq.h>
#include <stdint.h>

typedef struct _relay_t relay_t;

//  Starts a worker for each of config's relays on db_path. A relay whose plugin cannot be
//  loaded or refuses its section (hubd checks them all before it starts) is logged and
//  left out. hub_pk and admin_pk (copied) name the
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

//  Requeues the dead jobs of a relay and makes its jobs waiting for a later try due now
//  (how many in *hurried): the operator's lever once a cause is fixed, or when a service
//  asked for a long wait. Returns how many dead jobs, RELAY_UNKNOWN if there is no such
//  relay, RELAY_FAILED if the database refused (logged). Like relay_stats it does not wait
//  for the worker (at most 2 s for a commit of the store).
#define RELAY_UNKNOWN (-1)
#define RELAY_FAILED  (-2)
int relay_retry (relay_t *self, const char *name, int *hurried);

//  Applies a reloaded configuration (SIGHUP) without waiting for deliveries in progress:
//  every worker is told to stop after its current job and new workers start at once from
//  config; a relay's new worker holds its jobs until its predecessor has ended.
//  config must have passed relay_check for each relay.
void relay_reload (relay_t *self, const config_t *config);

//  Reaps the workers a reload retired once they have ended, and lets their successors go.
//  Cheap when there are none: call it on every turn of the caller's loop.
void relay_tick (relay_t *self);

//  Stops every worker (they finish their deliveries in progress side by side) and frees.
void relay_destroy (relay_t **self_p);

//  For --check-config: loads the relay's plugin and lets it check its configuration (keys,
//  secret files), then unloads it. Returns 0, or -1 with why filled.
int relay_check (const config_relay_t *relay, const char *plugin_dir, char *why, size_t size);

#endif
