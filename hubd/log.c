/*  log.c - see log.h. */
#include "log.h"
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

//  Atomic: a reload sets the level while every thread logs.
static atomic_int s_level = LOG_LEVEL_INFO;
static atomic_int s_journal = -1; //  -1 unknown, 0 no, 1 stderr is the journal

static const char *s_names[] = {"", "", "", "error", "warning", "notice", "info", "debug"};

void
log_set_level (log_level_t level)
{
    atomic_store (&s_level, (int)level);
}

bool
log_level_parse (const char *text, log_level_t *level)
{
    for (int i = LOG_LEVEL_ERROR; i <= LOG_LEVEL_DEBUG; i++)
        if (strcmp (text, s_names[i]) == 0) {
            *level = (log_level_t)i;
            return true;
        }
    return false;
}

//  systemd sets JOURNAL_STREAM to "dev:inode" of the stream it connected to stderr.
static bool
s_stderr_is_journal (void)
{
    const char *stream = getenv ("JOURNAL_STREAM");
    struct stat st;
    unsigned long long dev, ino;
    if (!stream || sscanf (stream, "%llu:%llu", &dev, &ino) != 2 || fstat (2, &st) != 0)
        return false;
    return st.st_dev == dev && st.st_ino == ino;
}

void
log_write (log_level_t level, const char *module, const char *format, ...)
{
    if ((int)level > atomic_load (&s_level))
        return;
    if (s_journal < 0)
        s_journal = s_stderr_is_journal ();

    char line[2048];
    int len;
    if (s_journal)
        len = snprintf (line, sizeof line, "<%d>%s: ", (int)level, module);
    else {
        struct timespec now;
        struct tm tm;
        clock_gettime (CLOCK_REALTIME, &now);
        gmtime_r (&now.tv_sec, &tm);
        len = snprintf (line, sizeof line,
                        "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        now.tv_nsec / 1000000, s_names[level], module);
    }
    va_list args;
    va_start (args, format);
    len += vsnprintf (line + len, sizeof line - (size_t)len - 1, format, args);
    va_end (args);
    if (len > (int)sizeof line - 2)
        len = (int)sizeof line - 2;
    //  One line per event: a newline in a value must not forge a second log line.
    for (int i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    ssize_t rc = write (2, line, (size_t)len);
    (void)rc;
}
