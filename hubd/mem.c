/*  mem.c - allocation wrappers; see mem.h for why they abort. */
#include "mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_out_of_memory (size_t size, const char *file, int line)
{
    fprintf (stderr, "<2>hubd: E: mem: out of memory allocating %zu bytes at %s:%d\n", size,
             file, line);
    abort ();
}

void *
mem_alloc_at (size_t size, const char *file, int line)
{
    void *ptr = malloc (size ? size : 1);
    if (!ptr)
        s_out_of_memory (size, file, line);
    return ptr;
}

void *
mem_zalloc_at (size_t size, const char *file, int line)
{
    void *ptr = calloc (1, size ? size : 1);
    if (!ptr)
        s_out_of_memory (size, file, line);
    return ptr;
}

void *
mem_realloc_at (void *ptr, size_t size, const char *file, int line)
{
    void *grown = realloc (ptr, size ? size : 1);
    if (!grown)
        s_out_of_memory (size, file, line);
    return grown;
}

char *
mem_strdup_at (const char *str, const char *file, int line)
{
    size_t len = strlen (str) + 1;
    char *copy = mem_alloc_at (len, file, line);
    memcpy (copy, str, len);
    return copy;
}
