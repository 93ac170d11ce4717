/*  mem.h - allocation that never returns NULL.

    Out of memory aborts here, in one place, after logging where it happened, instead of
    hundreds of untested error branches (STYLE.md habit 5). That is safe because hubd
    acknowledges a message only after it is committed: an abort loses nothing acked.
*/
#ifndef HUBD_MEM_H_INCLUDED
#define HUBD_MEM_H_INCLUDED

#include <stddef.h>

#define mem_alloc(size)        mem_alloc_at ((size), __FILE__, __LINE__)
#define mem_zalloc(size)       mem_zalloc_at ((size), __FILE__, __LINE__)
#define mem_realloc(ptr, size) mem_realloc_at ((ptr), (size), __FILE__, __LINE__)
#define mem_strdup(str)        mem_strdup_at ((str), __FILE__, __LINE__)

//  Each returns memory the caller owns and frees with free(); never NULL.
void *mem_alloc_at (size_t size, const char *file, int line);
void *mem_zalloc_at (size_t size, const char *file, int line);
void *mem_realloc_at (void *ptr, size_t size, const char *file, int line);
char *mem_strdup_at (const char *str, const char *file, int line);

#endif
