/*  router.h - the front door: hubd's ROUTER socket and the request dispatch.

    Runs on the main thread. It decodes every request (proto/), refuses bad input with an
    ERROR frame before any expensive work, batches publishes to the verifier pool, and
    acknowledges and fans out what the store has committed. See DESIGN.md's data path:
    front door -> codec -> rights -> verify -> store -> deliver.
*/
#ifndef HUBD_ROUTER_H_INCLUDED
#define HUBD_ROUTER_H_INCLUDED

#include "auth.h"
#include "config.h"
#include "reader.h"
#include "relay.h"
#include "store.h"
#include "hub_keys.h"

typedef struct _router_t router_t;

//  Binds config->endpoint with CURVE (hub's key) and the internal endpoints. auth (the
//  door, told who may connect), reader and store are borrowed; the router takes over the
//  outbox worker *relay_p (sets it to NULL) and restarts it when SIGHUP changes relays. Returns
//  NULL after logging why (e.g. the endpoint cannot be bound).
router_t *router_new (const config_t *config, const hub_identity_t *hub,
                      const uint8_t admin_pk[HUB_PUBKEY_BYTES], auth_t *auth, reader_t *reader,
                      store_t *store, relay_t **relay_p, uint64_t head, const char *db_path);

//  Serves until SIGTERM/SIGINT arrives on signal_fd (a signalfd), then stops taking
//  requests, waits until everything in flight is committed and acknowledged, and returns.
//  SIGHUP calls reload(reload_arg), which returns a new config or NULL (keep the old).
typedef config_t *(router_reload_fn)(void *arg);
void router_run (router_t *self, int signal_fd, router_reload_fn *reload, void *reload_arg);

void router_destroy (router_t **self_p);

#endif
