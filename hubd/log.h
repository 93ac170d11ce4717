/*  log.h - one line per event on stderr, with a level.

    Under systemd (JOURNAL_STREAM set to our stderr) each line starts with the journal's
    priority prefix ("<3>") so journald files it at the right level; elsewhere with a
    timestamp. Lines start with the module name: "store: commit failed: disk is full".
    Thread-safe: each line is written with one write(2).
*/
#ifndef HUBD_LOG_H_INCLUDED
#define HUBD_LOG_H_INCLUDED

#include <stdbool.h>

typedef enum {
    LOG_LEVEL_ERROR = 3,
    LOG_LEVEL_WARNING = 4,
    LOG_LEVEL_NOTICE = 5,
    LOG_LEVEL_INFO = 6,
    LOG_LEVEL_DEBUG = 7
} log_level_t;

//  Sets the most verbose level that is written (default LOG_LEVEL_INFO).
void log_set_level (log_level_t level);

//  Parses "error", "warning", "notice", "info", "debug". False if unknown.
bool log_level_parse (const char *text, log_level_t *level);

//  Writes one line: module, then the formatted text.
void log_write (log_level_t level, const char *module, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#define log_error(...)   log_write (LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_write (LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...)  log_write (LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...)    log_write (LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)   log_write (LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
