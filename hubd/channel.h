/*  channel.h - the channels hubd knows, and who may publish and read on each.

    A registry loaded from the channels table. Rights are lists of roles; "*" means every
    partner, and the administrator may always do everything.
*/
#ifndef HUBD_CHANNEL_H_INCLUDED
#define HUBD_CHANNEL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct _channel_set_t channel_set_t;

//  Loads every channel from the database at db_path (read-only). NULL after logging why.
channel_set_t *channel_set_load (const char *db_path);

//  True if the channel exists.
bool channel_set_has (channel_set_t *self, const char *name);

//  The rights of a channel (borrowed, comma-separated roles); false if it does not exist.
bool channel_set_rights (channel_set_t *self, const char *name, const char **publish,
                         const char **read);

//  Number of channels.
size_t channel_set_size (channel_set_t *self);

//  Calls fn for each channel in name order with its rights (borrowed strings).
void channel_set_each (channel_set_t *self,
                       void (*fn) (const char *name, const char *publish, const char *read,
                                   void *arg),
                       void *arg);

void channel_set_destroy (channel_set_t **self_p);

#endif
