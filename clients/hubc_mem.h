/*  hubc_mem.h - private to the client library and hubctl: allocation that never fails.

    Out of memory aborts here, in one place, with the file and line (STYLE.md habit 5), so
    callers need no untested NULL branches. Not installed.
*/
#ifndef HUBC_MEM_H_INCLUDED
#define HUBC_MEM_H_INCLUDED

#include <stddef.h>

//  Each returns memory the caller owns and frees with free(); they abort on exhaustion.
#define hubc_malloc(size)     hubc_mem_check (malloc (size), __FILE__, __LINE__)
#define hubc_calloc(n, size)  hubc_mem_check (calloc ((n), (size)), __FILE__, __LINE__)
#define hubc_realloc(p, size) hubc_mem_check (realloc ((p), (size)), __FILE__, __LINE__)
#define hubc_strdup(s)        hubc_mem_check (strdup (s), __FILE__, __LINE__)
#define hubc_memdup0(p, size) hubc_mem_dup0 ((p), (size), __FILE__, __LINE__)
#define hubc_check(p)         hubc_mem_check ((p), __FILE__, __LINE__)

//  Returns ptr, or logs "file:line: out of memory" and aborts if it is NULL.
void *hubc_mem_check (void *ptr, const char *file, int line);

//  Returns a new copy of size bytes with a NUL byte after them (size may be 0).
void *hubc_mem_dup0 (const void *data, size_t size, const char *file, int line);

#endif
