/*  relay.c - text, time and HTTP helpers shared by the relay plugins (see relay.h).  */
#include "relay.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RELAY_REPLY_MAX 4096

long
relay_timeout (const hub_host_t *host)
{
    const char *text = host->config_get (host->host, "timeout");
    if (!text)
        return 10;
    char *end;
    long value = strtol (text, &end, 10);
    if (end == text || *end || value < 1 || value > 300)
        return -1;
    return value;
}

bool
relay_url_has_userinfo (const char *url)
{
    CURLU *u = curl_url ();
    char *part = NULL;
    bool has = false;
    if (u && curl_url_set (u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
        has = curl_url_get (u, CURLUPART_USER, &part, 0) == CURLUE_OK;
        curl_free (part);
        part = NULL;
        has = has || curl_url_get (u, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK;
        curl_free (part);
    }
    curl_url_cleanup (u);
    return has;
}

bool
relay_url_usable (const char *url, char *why, size_t why_size)
{
    CURLU *u = curl_url ();
    CURLUcode rc = u ? curl_url_set (u, CURLUPART_URL, url, 0) : CURLUE_OUT_OF_MEMORY;
    curl_url_cleanup (u);
    if (rc != CURLUE_OK)
        snprintf (why, why_size, "%s", curl_url_strerror (rc));
    return rc == CURLUE_OK;
}

void *
relay_alloc (size_t size)
{
    void *p = calloc (1, size ? size : 1);
    if (!p) {
        fprintf (stderr, "relay: out of memory (%zu bytes)\n", size);
        abort ();
    }
    return p;
}

char *
relay_strdup (const char *s)
{
    size_t len = strlen (s);
    char *copy = relay_alloc (len + 1);
    memcpy (copy, s, len);
    return copy;
}

size_t
relay_utf8_cut (const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t cut = max;
    //  Back up over continuation bytes (10xxxxxx) to the start of a sequence.
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    return cut;
}

size_t
relay_utf8_chars (const char *s, size_t len)
{
    size_t chars = 0;
    for (size_t at = 0; at < len; at++)
        chars += ((unsigned char)s[at] & 0xC0) != 0x80;
    return chars;
}

size_t
relay_utf8_prefix (const char *s, size_t len, size_t max_chars)
{
    size_t chars = 0;
    for (size_t at = 0; at < len; at++)
        if (((unsigned char)s[at] & 0xC0) != 0x80 && chars++ == max_chars)
            return at;
    return len;
}

size_t
relay_utf8_cut_clean (const char *s, size_t len, size_t max)
{
    size_t cut = relay_utf8_cut (s, len, max);
    if (cut == len)
        return cut;
    for (size_t at = cut; at > cut - cut / 4; at--)
        if (s[at - 1] == ' ' || s[at - 1] == '\n')
            return at - 1;
    return cut;
}

void
relay_time_iso (int64_t ms, char *buf, size_t size)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r (&secs, &tm);
    char stamp[32];
    strftime (stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (buf, size, "%s.%03dZ", stamp, (int)(ms % 1000));
}

void
relay_time_human (int64_t ms, char *buf, size_t size)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r (&secs, &tm);
    strftime (buf, size, "%Y-%m-%d %H:%M UTC", &tm);
}

void
relay_set_error (hub_relay_result_t *result, hub_relay_outcome_t outcome, const char *format,
                 ...)
{
    result->outcome = outcome;
    char text[sizeof result->error + 1];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    //  vsnprintf cuts bytes, not characters: one byte more than fits shows whether the
    //  cut split a sequence, so relay_utf8_cut can drop it.
    size_t len = relay_utf8_cut (text, strlen (text), sizeof result->error - 1);
    memcpy (result->error, text, len);
    result->error[len] = 0;
    for (char *c = result->error; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7F)
            *c = ' ';
}

void
relay_log_failure (const hub_host_t *host, const hub_relay_job_t *job,
                   const hub_relay_result_t *result)
{
    bool dead = result->outcome == HUB_RELAY_DEAD;
    host->log (host->host, dead ? HUB_PLUGIN_LOG_ERROR : HUB_PLUGIN_LOG_WARNING,
               "job %llu attempt %u: %s%s", (unsigned long long)job->job_id, job->attempt,
               result->error, dead ? " (dead)" : "");
}

void
relay_free_secret (char *secret)
{
    if (secret) {
        explicit_bzero (secret, strlen (secret));
        free (secret);
    }
}

void
relay_buf_add (relay_buf_t *buf, const char *data, size_t len)
{
    if (buf->len + len + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 256;
        while (cap < buf->len + len + 1)
            cap *= 2;
        char *grown = realloc (buf->data, cap);
        if (!grown) {
            fprintf (stderr, "relay: out of memory (%zu bytes)\n", cap);
            abort ();
        }
        buf->data = grown;
        buf->cap = cap;
    }
    memcpy (buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = 0;
}

void
relay_buf_adds (relay_buf_t *buf, const char *s)
{
    relay_buf_add (buf, s, strlen (s));
}

void
relay_buf_addf (relay_buf_t *buf, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int len = vsnprintf (NULL, 0, format, args);
    va_end (args);
    if (len < 0)
        return;
    char *text = relay_alloc ((size_t)len + 1);
    va_start (args, format);
    vsnprintf (text, (size_t)len + 1, format, args);
    va_end (args);
    relay_buf_add (buf, text, (size_t)len);
    free (text);
}

void
relay_buf_free (relay_buf_t *buf)
{
    free (buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

static size_t
s_on_body (char *data, size_t size, size_t count, void *arg)
{
    relay_http_reply_t *reply = arg;
    size_t len = size * count;
    size_t room = reply->body_max - reply->body.len;
    if (len > room)
        reply->truncated = true;
    relay_buf_add (&reply->body, data, len < room ? len : room);
    return len;
}

static size_t
s_on_header (char *data, size_t size, size_t count, void *arg)
{
    relay_http_reply_t *reply = arg;
    size_t len = size * count;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp (data, name, sizeof name - 1) == 0) {
        //  Delay-seconds or an HTTP-date (RFC 9110 10.2.3); "0" is taken as 1 s, "now".
        char value[128];
        size_t n = len - (sizeof name - 1) < sizeof value - 1 ? len - (sizeof name - 1)
                                                              : sizeof value - 1;
        memcpy (value, data + sizeof name - 1, n);
        value[n] = 0;
        char *at = value;
        while (*at == ' ' || *at == '\t')
            at++;
        size_t end_at = strcspn (at, "\r\n");
        while (end_at && (at[end_at - 1] == ' ' || at[end_at - 1] == '\t'))
            end_at--;
        at[end_at] = 0;
        long seconds = -1;
        if (isdigit ((unsigned char)*at)) {
            char *end = NULL;
            long delay = strtol (at, &end, 10);
            if (!*end && delay >= 0)
                seconds = delay;
        } else if (*at) {
            time_t when = curl_getdate (at, NULL);
            if (when != -1)
                seconds = when > time (NULL) ? (long)(when - time (NULL)) : 0;
        }
        if (seconds >= 0)
            reply->retry_after_s = seconds < 1 ? 1 : seconds > 86400 ? 86400 : seconds;
    }
    return len;
}

struct _relay_http_t {
    const hub_host_t *host;
    CURL *curl;
    struct curl_slist *headers; //  may hold a secret: zeroed before it is freed
    long timeout_s;
};

relay_http_t *
relay_http_new (const hub_host_t *host, const char *header, long timeout_s)
{
    //  libcurl counts its global inits: each client holds one until relay_http_destroy.
    curl_global_init (CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init ();
    if (!curl) {
        curl_global_cleanup ();
        return NULL;
    }
    relay_http_t *self = relay_alloc (sizeof *self);
    self->host = host;
    self->curl = curl;
    if (header)
        self->headers = curl_slist_append (self->headers, header);
    self->headers =
        curl_slist_append (self->headers, "Content-Type: application/json; charset=utf-8");
    self->headers = curl_slist_append (self->headers, "Expect:"); //  no 100-continue trip
    self->timeout_s = timeout_s;
    return self;
}

void
relay_http_destroy (relay_http_t **self_p)
{
    relay_http_t *self = *self_p;
    if (!self)
        return;
    curl_easy_cleanup (self->curl);
    for (struct curl_slist *h = self->headers; h; h = h->next)
        explicit_bzero (h->data, strlen (h->data));
    curl_slist_free_all (self->headers);
    free (self);
    curl_global_cleanup ();
    *self_p = NULL;
}

long
relay_http_header_long (relay_http_t *self, const char *name)
{
    struct curl_header *header = NULL;
    if (curl_easy_header (self->curl, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK ||
        !header || !isdigit ((unsigned char)header->value[0]))
        return -1;
    char *end = NULL;
    errno = 0;
    long value = strtol (header->value, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    return errno == 0 && *end == 0 ? value : -1;
}

//  One request: a JSON body, or none when json is NULL (then a GET).
static void
s_perform (relay_http_t *self, const char *method, const char *url, const char *json,
           size_t body_max, relay_http_reply_t *reply)
{
    memset (reply, 0, sizeof *reply);
    reply->retry_after_s = -1;
    reply->body_max = body_max;
    CURL *curl = self->curl;
    //  Back to the defaults, keeping the open connection, then this request's options.
    curl_easy_reset (curl);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    if (json) {
        //  A POST creates something: on a reused connection that the service closed
        //  without an answer, libcurl would send it again by itself (a second card, a
        //  second post). A fresh connection leaves that call to us (the attempt count).
        if (strcmp (method, "POST") == 0)
            curl_easy_setopt (curl, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen (json));
    } else
        curl_easy_setopt (curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, self->headers);
    curl_easy_setopt (curl, CURLOPT_USERAGENT, "hubd-relay/" HUB_VERSION);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, self->timeout_s);
    curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT,
                      self->timeout_s < 10 ? self->timeout_s : 10L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, reply->curl_err);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, reply);
    curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, reply);
    relay_curl_abortable (curl, self->host);
    reply->curl_rc = curl_easy_perform (curl);
    if (reply->curl_rc == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &reply->status);
    else if (!reply->curl_err[0])
        snprintf (reply->curl_err, sizeof reply->curl_err, "%s",
                  curl_easy_strerror (reply->curl_rc));
    if (!reply->body.data)
        relay_buf_add (&reply->body, "", 0);
}

void
relay_http_json (relay_http_t *self, const char *method, const char *url, const char *json,
                 relay_http_reply_t *reply)
{
    assert (method && json);
    s_perform (self, method, url, json, RELAY_REPLY_MAX, reply);
}

void
relay_http_get (relay_http_t *self, const char *url, size_t body_max, relay_http_reply_t *reply)
{
    s_perform (self, "GET", url, NULL, body_max, reply);
}

//  What a curl error that retrying cannot fix needs from the operator; NULL for the
//  others. Name resolution, connecting, timeouts and dropped connections (CURLE_
//  COULDNT_RESOLVE_HOST, _COULDNT_CONNECT, _OPERATION_TIMEDOUT, _GOT_NOTHING, _RECV_ERROR,
//  ...) and a failed TLS handshake (_SSL_CONNECT_ERROR) can pass, so they stay retryable.
static const char *
s_curl_permanent (CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN: return "the configured URL cannot be used; fix it";
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return "the server's TLS certificate does not verify; check the URL's host and "
               "this machine's CA certificates";
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
        return "this machine's TLS setup (CA bundle, client certificate, ciphers) cannot "
               "be used; fix it";
    default: return NULL;
    }
}

int64_t
relay_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Whether the host offers the stopping service: an older host has NULL in its slot.
static bool
s_can_stop (const hub_host_t *host)
{
    return host && host->struct_size >= sizeof (hub_host_t) && host->stopping;
}

//  Whether the host has said that hubd is stopping.
static bool
s_stopping (const hub_host_t *host)
{
    return s_can_stop (host) && host->stopping (host->host);
}

bool
relay_sleep_ms (const hub_host_t *host, int64_t ms)
{
    int64_t until = relay_mono_ms () + ms;
    for (int64_t left = ms; left > 0; left = until - relay_mono_ms ()) {
        if (s_stopping (host))
            return false;
        int64_t step = left < 100 ? left : 100;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000};
        nanosleep (&ts, NULL);
    }
    return !s_stopping (host);
}

static int
s_on_progress (void *host, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
               curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return s_stopping (host) ? 1 : 0;
}

void
relay_curl_abortable (CURL *curl, const hub_host_t *host)
{
    if (!s_can_stop (host))
        return;
    curl_easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, s_on_progress);
    curl_easy_setopt (curl, CURLOPT_XFERINFODATA, (void *)host);
    curl_easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
}

hub_relay_outcome_t
relay_curl_error (CURLcode rc, const char *curl_err, const char *what,
                  hub_relay_result_t *result)
{
    if (rc == CURLE_ABORTED_BY_CALLBACK) {
        relay_set_error (result, HUB_RELAY_RETRY,
                         "%s: hubd stopped during the delivery; it is tried again after "
                         "the next start",
                         what);
        return result->outcome;
    }
    //  curl's messages name host and port at most, never the path (the secret); for a
    //  URL it could not parse, its fixed text only, in case a parser quotes the URL.
    const char *fix = s_curl_permanent (rc);
    bool url = rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL;
    if (fix)
        relay_set_error (result, HUB_RELAY_DEAD, "%s: %s (%s)", what,
                         url ? curl_easy_strerror (rc) : curl_err, fix);
    else
        relay_set_error (result, HUB_RELAY_RETRY, "%s: %s", what,
                         curl_err && curl_err[0] ? curl_err : curl_easy_strerror (rc));
    return result->outcome;
}

hub_relay_outcome_t
relay_http_outcome (const relay_http_reply_t *reply, const char *what, int32_t default_retry_s,
                    hub_relay_result_t *result)
{
    if (reply->curl_rc != CURLE_OK)
        return relay_curl_error (reply->curl_rc, reply->curl_err, what, result);
    long status = reply->status;
    if (status >= 200 && status < 300) {
        result->outcome = HUB_RELAY_DONE;
        return result->outcome;
    }
    //  The service's error text: first line of the body, at most 300 bytes.
    const char *text = reply->body.data;
    size_t len = strcspn (text, "\r\n");
    len = relay_utf8_cut (text, len, 300);
    hub_relay_outcome_t outcome =
        status == 429 || status >= 500 ? HUB_RELAY_RETRY : HUB_RELAY_DEAD;
    relay_set_error (result, outcome, "%s: HTTP %ld %.*s", what, status, (int)len, text);
    if (status == 429)
        result->retry_after_s =
            reply->retry_after_s >= 0 ? (int32_t)reply->retry_after_s : default_retry_s;
    else if (outcome == HUB_RELAY_RETRY && reply->retry_after_s > 0)
        result->retry_after_s = (int32_t)reply->retry_after_s;
    return outcome;
}

const char *
relay_action_label (const char *kind)
{
    if (!kind)
        return NULL;
    return !strcmp (kind, "action")          ? "New action item: "
           : !strcmp (kind, "reminder")      ? "Reminder: "
           : !strcmp (kind, "action-done")   ? "Done: "
           : !strcmp (kind, "action-cancel") ? "Cancelled: "
                                             : NULL;
}

bool
relay_job_is_action (const hub_relay_job_t *job)
{
    return job->kind && job->action_id &&
           (!strcmp (job->kind, "action") || !strcmp (job->kind, "action-done") ||
            !strcmp (job->kind, "action-cancel") || !strcmp (job->kind, "reminder"));
}
