/*  badabi.c - a plugin built for another plugin ABI (BADABI_SIZE: a descriptor that is too
    small instead), so the tests can check that the host refuses it without calling it.  */
#include "../../plugins/hub_plugin.h"

__attribute__ ((visibility ("default"))) const hub_plugin_t hub_plugin_descriptor = {
#ifdef BADABI_SIZE
    .abi_version = HUB_PLUGIN_ABI_VERSION,
    .struct_size = 16,
#else
    .abi_version = HUB_PLUGIN_ABI_VERSION + 1,
    .struct_size = sizeof (hub_plugin_t),
#endif
    .name = "badabi",
    .description = "refused by every ABI 1 host",
};
