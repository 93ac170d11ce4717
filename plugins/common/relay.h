/*  relay.h - helpers shared by the relay plugins (linked statically into each .so).

    Text: Slack, Trello and SMTP all take UTF-8 with length limits; relay_utf8_cut never
    splits a sequence, and relay_utf8_prefix counts characters where a service does. HTTP:
    one request with bounded waits, the status, a capped copy of the reply body and the
    Retry-After header, and the mapping of that to an outcome (INTEGRATIONS.md section 0):
    2xx done; 429, 5xx, and curl errors that can pass (DNS, connect, timeout, a dropped
    connection) retry; any other status dead, and so are the curl errors that only a
    change of configuration can fix (a malformed URL, an unsupported protocol, a TLS
    certificate or CA bundle that does not verify).
*/
#ifndef RELAY_H_INCLUDED
#define RELAY_H_INCLUDED

#include "../hub_plugin.h"
#include <curl/curl.h>
#include <stdbool.h>

//  The relay's `timeout` key in whole seconds (default 10, 1..300); -1 if invalid.
long relay_timeout (const hub_host_t *host);

//  True if url holds a user name or password (scheme://user:pass@host): secrets belong in
//  files named by the config, never in a URL that is shown and logged.
bool relay_url_has_userinfo (const char *url);

//  Whether libcurl can use url as it is (no spaces, a host, valid escapes...): true, or
//  false with libcurl's reason in why (never the URL, which may be a secret).
bool relay_url_usable (const char *url, char *why, size_t why_size);

//  True if the job is about an action item (its creation, closing, or a reminder).
bool relay_job_is_action (const hub_relay_job_t *job);

//  What goes before an action item's title in a headline when the message has no title
//  of its own ("Done: ", "Reminder: ", ...), by kind; NULL for other kinds.
const char *relay_action_label (const char *kind);

//  Allocation that aborts (after a line on stderr) instead of returning NULL.
void *relay_alloc (size_t size);
char *relay_strdup (const char *s);

//  Zeroes a secret read with host->read_secret (or copied from config), then frees it.
//  NULL-safe.
void relay_free_secret (char *secret);

//  Largest length <= max (and <= len) that ends on a UTF-8 sequence boundary of s.
size_t relay_utf8_cut (const char *s, size_t len, size_t max);

//  Number of characters (code points) in the UTF-8 text s of len bytes.
size_t relay_utf8_chars (const char *s, size_t len);

//  Length in bytes of the longest prefix of s (len bytes) that holds at most max_chars
//  characters; it ends on a sequence boundary.
size_t relay_utf8_prefix (const char *s, size_t len, size_t max_chars);

//  Like relay_utf8_cut, but backs up to the last space or newline in the final quarter
//  of the cut so a word is not chopped in two.
size_t relay_utf8_cut_clean (const char *s, size_t len, size_t max);

//  Writes a time in ms since the epoch as "2026-12-01T17:00:00.000Z" (ISO 8601 UTC).
void relay_time_iso (int64_t ms, char *buf, size_t size);

//  Writes a time as "2026-12-01 17:00 UTC" for people.
void relay_time_human (int64_t ms, char *buf, size_t size);

//  Formats into result->error, then replaces control characters with spaces and cuts on
//  a UTF-8 boundary so the text fits.
void relay_set_error (hub_relay_result_t *result, hub_relay_outcome_t outcome,
                      const char *format, ...) __attribute__ ((format (printf, 3, 4)));

//  Logs a delivery that did not succeed: "job N attempt M: ERROR", as an error with
//  " (dead)" when the job is dead, else as a warning (it will be retried).
void relay_log_failure (const hub_host_t *host, const hub_relay_job_t *job,
                        const hub_relay_result_t *result);

//  Milliseconds on a monotonic clock (for pacing).
int64_t relay_mono_ms (void);

//  Waits ms milliseconds, looking every 100 ms whether hubd is stopping (host->stopping):
//  false, early, if it is.
bool relay_sleep_ms (const hub_host_t *host, int64_t ms);

//  Lets hubd end curl's transfer in progress when it stops (host->stopping): curl then
//  fails with CURLE_ABORTED_BY_CALLBACK, which relay_curl_error words as a retry. Set it
//  again after every curl_easy_reset.
void relay_curl_abortable (CURL *curl, const hub_host_t *host);

//  Maps a curl failure to an outcome in result ("WHAT: couldn't connect ..."): a retry,
//  unless retrying cannot fix it (see the top of this file); never names the URL.
hub_relay_outcome_t relay_curl_error (CURLcode rc, const char *curl_err, const char *what,
                                      hub_relay_result_t *result);

//  A growing byte buffer (always NUL-terminated).
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} relay_buf_t;

void relay_buf_add (relay_buf_t *buf, const char *data, size_t len);
void relay_buf_adds (relay_buf_t *buf, const char *s);
void relay_buf_addf (relay_buf_t *buf, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
void relay_buf_free (relay_buf_t *buf);

//  One HTTP exchange. The reply body is kept up to a cap: 4 KiB for relay_http_json (error
//  texts are short), the caller's for relay_http_get.
typedef struct {
    long status;      //  HTTP status, 0 when no reply arrived
    CURLcode curl_rc; //  CURLE_OK when a reply arrived
    char curl_err[CURL_ERROR_SIZE];
    long retry_after_s; //  Retry-After in seconds, -1 if absent
    relay_buf_t body;
    size_t body_max; //  the cap
    bool truncated;  //  the body was longer than the cap
} relay_http_reply_t;

//  The HTTP client of one relay, made once in init and used by every deliver: its header
//  list (which may hold a secret, e.g. Trello's Authorization) is built once and zeroed
//  by relay_http_destroy, and its curl handle is reused, so that the requests of a relay
//  share their connection. One thread at a time (the relay worker's).
typedef struct _relay_http_t relay_http_t;

//  A client that sends JSON with one extra header line (NULL for none; copied) and waits
//  at most timeout_s per request, or until host says hubd is stopping; it holds
//  libcurl's global init while it lives. NULL if curl cannot make a handle. Caller
//  destroys it.
relay_http_t *relay_http_new (const hub_host_t *host, const char *header, long timeout_s);

//  Zeroes the header list, frees the client and sets *self_p to NULL. NULL-safe.
void relay_http_destroy (relay_http_t **self_p);

//  Sends METHOD url with a JSON body. Caller frees reply->body with relay_buf_free.
void relay_http_json (relay_http_t *self, const char *method, const char *url, const char *json,
                      relay_http_reply_t *reply);

//  Sends GET url (no body), keeping up to body_max bytes of the reply. Caller frees
//  reply->body with relay_buf_free.
void relay_http_get (relay_http_t *self, const char *url, size_t body_max,
                     relay_http_reply_t *reply);

//  The value of the last reply's header NAME (case-insensitive) as a number, or -1 when
//  it is absent or not a non-negative integer. Valid until the next request.
long relay_http_header_long (relay_http_t *self, const char *name);

//  Maps a reply to an outcome and fills result->error with "WHAT: HTTP 404 no_service"
//  or "WHAT: timed out" (never the URL). Returns the outcome it set. A 429 without a
//  Retry-After uses default_retry_s. A curl error is retried unless it is one that only
//  a change of configuration fixes (see the top of this file): that one is dead, with a
//  text that says what to check.
hub_relay_outcome_t relay_http_outcome (const relay_http_reply_t *reply, const char *what,
                                        int32_t default_retry_s, hub_relay_result_t *result);

#endif
