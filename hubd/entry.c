/*  entry.c - see entry.h. */
#include "entry.h"
#include "mem.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

entry_t *
entry_new (const void *header, size_t hlen, const void *body, size_t blen)
{
    entry_t *self = mem_zalloc (sizeof *self);
    self->header = mem_alloc (hlen + blen + 1);
    memcpy (self->header, header, hlen);
    self->hlen = hlen;
    self->body = self->header + hlen;
    if (blen)
        memcpy (self->body, body, blen);
    self->blen = blen;
    return self;
}

void
entry_destroy (entry_t **self_p)
{
    entry_t *self = *self_p;
    if (!self)
        return;
    hub_header_clear (&self->hdr);
    free (self->header);
    free (self);
    *self_p = NULL;
}

void
entry_refuse (entry_t *self, hub_err_t err, const char *format, ...)
{
    if (self->err != HUB_OK)
        return;
    self->err = err;
    va_list args;
    va_start (args, format);
    vsnprintf (self->reason, sizeof self->reason, format, args);
    va_end (args);
}

batch_t *
batch_new (uint64_t number)
{
    batch_t *self = mem_zalloc (sizeof *self);
    self->number = number;
    self->capacity = 16;
    self->entries = mem_alloc (self->capacity * sizeof *self->entries);
    return self;
}

size_t
entry_bytes (const entry_t *self)
{
    return sizeof *self + self->hlen + self->blen;
}

void
batch_append (batch_t *self, entry_t **entry_p)
{
    if (self->count == self->capacity) {
        self->capacity *= 2;
        self->entries = mem_realloc (self->entries, self->capacity * sizeof *self->entries);
    }
    self->bytes += entry_bytes (*entry_p);
    self->entries[self->count++] = *entry_p;
    *entry_p = NULL;
}

batch_t *
batch_split (batch_t *self, uint64_t number)
{
    batch_t *rest = batch_new (number);
    size_t half = self->count / 2;
    for (size_t i = half; i < self->count; i++)
        batch_append (rest, &self->entries[i]);
    self->count = half;
    self->bytes -= rest->bytes;
    return rest;
}

void
batch_destroy (batch_t **self_p)
{
    batch_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++)
        entry_destroy (&self->entries[i]);
    free (self->entries);
    free (self);
    *self_p = NULL;
}
