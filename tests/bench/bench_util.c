/*  bench_util.c - clocks, latency sets, bodies, processes and files for hub-bench. */
#define _XOPEN_SOURCE 700 //  nftw
#include "bench.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t
bench_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *
s_alloc (size_t size)
{
    void *p = calloc (1, size ? size : 1);
    if (!p) {
        fprintf (stderr, "hub-bench: out of memory (%zu bytes)\n", size);
        abort ();
    }
    return p;
}

void
bench_lat_add (bench_lat_t *lat, int64_t ns)
{
    if (lat->count == lat->cap) {
        lat->cap = lat->cap ? lat->cap * 2 : 4096;
        lat->ns = realloc (lat->ns, lat->cap * sizeof *lat->ns);
        if (!lat->ns) {
            fprintf (stderr, "hub-bench: out of memory\n");
            abort ();
        }
    }
    lat->ns[lat->count++] = ns;
}

void
bench_lat_free (bench_lat_t *lat)
{
    free (lat->ns);
    memset (lat, 0, sizeof *lat);
}

static int
s_cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void
bench_lat_summary (bench_lat_t *const *sets, size_t count, double *p50, double *p99,
                   double *max)
{
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += sets[i]->count;
    *p50 = *p99 = *max = BENCH_NO_FIGURE;
    if (total == 0)
        return;
    int64_t *all = s_alloc (total * sizeof *all);
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        memcpy (all + at, sets[i]->ns, sets[i]->count * sizeof *all);
        at += sets[i]->count;
    }
    qsort (all, total, sizeof *all, s_cmp_i64);
    //  Nearest-rank percentiles.
    *p50 = (double)all[(total * 50 + 99) / 100 - 1] / 1000.0;
    *p99 = (double)all[(total * 99 + 99) / 100 - 1] / 1000.0;
    *max = (double)all[total - 1] / 1000.0;
    free (all);
}

void
bench_run_init (bench_run_t *run, uint64_t messages, size_t size)
{
    assert (size >= BENCH_BODY_MIN);
    memset (run, 0, sizeof *run);
    run->messages = messages;
    run->size = size;
    uint8_t random[BENCH_TAG_LEN / 2];
    randombytes_buf (random, sizeof random);
    sodium_bin2hex (run->tag, sizeof run->tag, random, sizeof random);
    run->send_ns = s_alloc ((messages ? messages : 1) * sizeof *run->send_ns);
    atomic_init (&run->expected, UINT64_MAX);
    atomic_init (&run->abort, false);
    run->settle_ns = BENCH_STALL_NS;
}

void
bench_run_clear (bench_run_t *run)
{
    free (run->send_ns);
    run->send_ns = NULL;
}

void
bench_body (const bench_run_t *run, uint64_t index, uint8_t *out)
{
    char prefix[BENCH_BODY_MIN + 1];
    int n =
        snprintf (prefix, sizeof prefix, "hb %s %010llu ", run->tag, (unsigned long long)index);
    assert (n == BENCH_BODY_MIN);
    memcpy (out, prefix, BENCH_BODY_MIN);
    memset (out + BENCH_BODY_MIN, 'x', run->size - BENCH_BODY_MIN);
}

int64_t
bench_body_index (const bench_run_t *run, const uint8_t *body, size_t len)
{
    if (len < BENCH_BODY_MIN || memcmp (body, "hb ", 3) != 0 ||
        memcmp (body + 3, run->tag, BENCH_TAG_LEN) != 0)
        return -1;
    int64_t index = 0;
    for (size_t i = 4 + BENCH_TAG_LEN; i < 4 + BENCH_TAG_LEN + 10; i++) {
        if (body[i] < '0' || body[i] > '9')
            return -1;
        index = index * 10 + (body[i] - '0');
    }
    return (uint64_t)index < run->messages ? index : -1;
}

void
bench_problem (bench_result_t *result, const char *fmt, ...)
{
    if (result->problem[0])
        return;
    va_list args;
    va_start (args, fmt);
    vsnprintf (result->problem, sizeof result->problem, fmt, args);
    va_end (args);
}

int
bench_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    int port = 0;
    if (bind (fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname (fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs (addr.sin_port);
    close (fd);
    return port;
}

static int
s_remove (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove (path);
    return 0;
}

void
bench_rmtree (const char *path)
{
    nftw (path, s_remove, 16, FTW_DEPTH | FTW_PHYS);
}

long
bench_status_kb (pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen (path, "r");
    size_t len = strlen (field);
    long kb = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, field, len) == 0 && line[len] == ':')
            kb = strtol (line + len + 1, NULL, 10);
    if (file)
        fclose (file);
    return kb;
}

static int
s_evict (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int fd = flag == FTW_F ? open (path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        //  Only clean pages can be dropped: write the file out first.
        fdatasync (fd);
        posix_fadvise (fd, 0, 0, POSIX_FADV_DONTNEED);
        close (fd);
    }
    return 0;
}

void
bench_evict_cache (const char *dir)
{
    nftw (dir, s_evict, 16, FTW_PHYS);
}

struct _bench_sampler_t {
    pid_t pid;
    int interval_ms;
    pthread_t thread;
    _Atomic bool stop;
    long *kb;
    size_t count, cap;
};

static void
s_sample (bench_sampler_t *self)
{
    long kb = bench_status_kb (self->pid, "VmRSS");
    if (kb < 0)
        return;
    if (self->count == self->cap) {
        self->cap = self->cap ? 2 * self->cap : 256;
        self->kb = realloc (self->kb, self->cap * sizeof *self->kb);
        if (!self->kb)
            abort ();
    }
    self->kb[self->count++] = kb;
}

static void *
s_sampler_thread (void *arg)
{
    bench_sampler_t *self = arg;
    int64_t next = bench_now_ns ();
    while (!atomic_load (&self->stop)) {
        s_sample (self);
        next += (int64_t)self->interval_ms * 1000000;
        //  Short sleeps, so that stopping does not wait for a whole interval.
        while (!atomic_load (&self->stop) && bench_now_ns () < next)
            usleep (10000);
    }
    s_sample (self); //  the end of the run, whenever it fell
    return NULL;
}

bench_sampler_t *
bench_sampler_start (pid_t pid, int interval_ms)
{
    if (pid <= 0)
        return NULL;
    bench_sampler_t *self = s_alloc (sizeof *self);
    self->pid = pid;
    self->interval_ms = interval_ms;
    atomic_init (&self->stop, false);
    if (pthread_create (&self->thread, NULL, s_sampler_thread, self) != 0) {
        free (self);
        return NULL;
    }
    return self;
}

void *
bench_sampler_stop (bench_sampler_t **self_p)
{
    bench_sampler_t *self = *self_p;
    if (!self)
        return NULL;
    atomic_store (&self->stop, true);
    pthread_join (self->thread, NULL);
    json_t *samples = json_array ();
    long max = -1;
    for (size_t i = 0; i < self->count; i++) {
        json_array_append_new (samples, json_integer (self->kb[i]));
        if (self->kb[i] > max)
            max = self->kb[i];
    }
    json_t *result =
        json_pack ("{s:i, s:o, s:o, s:o}", "every_ms", self->interval_ms, "max_kb",
                   max >= 0 ? json_integer (max) : json_null (), "last_kb",
                   self->count ? json_integer (self->kb[self->count - 1]) : json_null (),
                   "samples_kb", samples);
    free (self->kb);
    free (self);
    *self_p = NULL;
    return result;
}

pid_t
bench_spawn (char *const argv[], const char *log_path)
{
    int log = open (log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) {
        fprintf (stderr, "hub-bench: cannot open %s: %s\n", log_path, strerror (errno));
        return -1;
    }
    pid_t pid = fork ();
    if (pid == 0) {
        dup2 (log, STDOUT_FILENO);
        dup2 (log, STDERR_FILENO);
        int devnull = open ("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2 (devnull, STDIN_FILENO);
        execvp (argv[0], argv);
        fprintf (stderr, "hub-bench: cannot run %s: %s\n", argv[0], strerror (errno));
        _exit (127);
    }
    close (log);
    if (pid < 0)
        fprintf (stderr, "hub-bench: fork: %s\n", strerror (errno));
    return pid;
}

int
bench_stop (pid_t pid, int timeout_ms)
{
    int status = 0;
    kill (pid, SIGTERM);
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        if (waitpid (pid, &status, WNOHANG) == pid)
            return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
        usleep (10000);
    }
    fprintf (stderr, "hub-bench: process %d ignored SIGTERM for %d ms; killing it\n", (int)pid,
             timeout_ms);
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
    return 128 + SIGKILL;
}

void
bench_log_tail (const char *path, int lines)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    char **ring = s_alloc ((size_t)lines * sizeof *ring);
    char line[1024];
    int at = 0, seen = 0;
    while (fgets (line, sizeof line, file)) {
        free (ring[at]);
        ring[at] = strdup (line);
        at = (at + 1) % lines;
        seen++;
    }
    fclose (file);
    int count = seen < lines ? seen : lines;
    for (int i = 0; i < count; i++) {
        const char *text = ring[(at - count + i + lines) % lines];
        fprintf (stderr, "  | %s", text ? text : "\n");
    }
    for (int i = 0; i < lines; i++)
        free (ring[i]);
    free (ring);
}
