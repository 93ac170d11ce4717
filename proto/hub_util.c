/*  hub_util.c - see hub_util.h. */
#include "hub_util.h"
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

void *
hub_util_checked (void *p, const char *file, int line)
{
    if (p == NULL) {
        fprintf (stderr, "%s:%d: out of memory\n", file, line);
        abort ();
    }
    return p;
}

void
hub_util_why (char *why, size_t why_size, const char *format, ...)
{
    if (why == NULL || why_size == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (why, why_size, format, args);
    va_end (args);
}

void
hub_util_put_u32 (uint8_t *out, uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

void
hub_util_put_u64 (uint8_t *out, uint64_t v)
{
    hub_util_put_u32 (out, (uint32_t)(v >> 32));
    hub_util_put_u32 (out + 4, (uint32_t)v);
}

uint32_t
hub_util_get_u32 (const uint8_t *in)
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 |
           (uint32_t)in[3];
}

uint64_t
hub_util_get_u64 (const uint8_t *in)
{
    return (uint64_t)hub_util_get_u32 (in) << 32 | hub_util_get_u32 (in + 4);
}

void
hub_util_sodium_ready (void)
{
    //  It fails only without a randomness source, where no key can be made safely at all.
    static atomic_bool ready = false;
    if (atomic_load_explicit (&ready, memory_order_acquire))
        return;
    if (sodium_init () < 0) {
        fprintf (stderr, "%s:%d: sodium_init failed\n", __FILE__, __LINE__);
        abort ();
    }
    atomic_store_explicit (&ready, true, memory_order_release);
}
