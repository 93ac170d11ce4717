/*  hubc_mem.h - private to the client library and hubctl: allocation that never fails.

    Out of memory aborts in one place, proto's hub_util_checked, with the file and line
    (STYLE.md habit 5), so callers need no untested NULL branches. Not installed.
*/
#ifndef HUBC_MEM_H_INCLUDED
#define HUBC_MEM_H_INCLUDED

#include "hub_util.h"
#include <stddef.h>

//  Each returns memory the caller owns and frees with free(); they abort on exhaustion
//  (HUB_CHECKED: "file:line: out of memory").
#define hubc_malloc(size)     HUB_CHECKED (malloc (size))
#define hubc_calloc(n, size)  HUB_CHECKED (calloc ((n), (size)))
#define hubc_realloc(p, size) HUB_CHECKED (realloc ((p), (size)))
#define hubc_strdup(s)        HUB_CHECKED (strdup (s))
#define hubc_memdup0(p, size) hubc_mem_dup0 ((p), (size), __FILE__, __LINE__)
#define hubc_check(p)         HUB_CHECKED (p)

//  Returns a new copy of size bytes with a NUL byte after them (size may be 0).
void *hubc_mem_dup0 (const void *data, size_t size, const char *file, int line);

#endif
