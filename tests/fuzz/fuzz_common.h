/*  fuzz_common.h - what every libFuzzer harness of tests/fuzz shares: a broken invariant
    that libFuzzer saves the input of, and a private scratch directory for the decoders
    that read files (key files, the config file). Each harness defines
    LLVMFuzzerTestOneInput; these helpers hold no state an input could leave behind.
*/
#ifndef FUZZ_COMMON_H_INCLUDED
#define FUZZ_COMMON_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  A broken invariant: report it and let libFuzzer save the input. CHECK_SAY first prints
//  what explains the failure (a printf format and its arguments).
#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            fuzz_fail (__FILE__, __LINE__, #cond);                                             \
    } while (0)
#define CHECK_SAY(cond, ...)                                                                   \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf (stderr, __VA_ARGS__);                                                     \
            fuzz_fail (__FILE__, __LINE__, #cond);                                             \
        }                                                                                      \
    } while (0)
_Noreturn void fuzz_fail (const char *file, int line, const char *what);

//  The scratch directory (mode 0700 under $TMPDIR), created on first use and removed with
//  everything in it at exit. Borrowed.
const char *fuzz_scratch_dir (void);

//  Replaces the file name in the scratch directory with exactly data (mode 0600) and
//  returns its path, valid until the next call. Aborts if it cannot.
const char *fuzz_write_file (const char *name, const void *data, size_t size);

//  A NUL-terminated copy of data, for decoders that take C strings. Caller frees it.
char *fuzz_strndup (const uint8_t *data, size_t size);

//  Breaks an invariant unless text is a time as the hub writes it, RFC 3339 in UTC with
//  milliseconds: "YYYY-MM-DDTHH:MM:SS.mmmZ".
void fuzz_check_time (const char *text);

#endif
