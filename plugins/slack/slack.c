/*  slack.c - relays hub messages to a Slack incoming webhook.

    Config ([relay.NAME], plugin = slack):
        webhook_url_file   file (mode 0600) holding the webhook URL; the URL is the secret,
                           so it is never logged or put in an error text
        timeout            seconds per request, default 10

    Request: POST, JSON {text, blocks}. `text` is the notification fallback; blocks are
    Block Kit sections: the title, the body, for action items the owner, due date, status
    and note as fields, and a context line with author, channel and seq. All user text is
    mrkdwn-escaped (& < > only, so `<!channel>` and `<http://x|y>` cannot be injected).
    Slack's limits are in characters, and so are the ones here: 3,000 per section, 2,000
    per field, 50 blocks per message, and 4,000 (the recommended size) for `text`. The body
    is split over as many sections as it needs, each cut on a UTF-8 boundary, preferably
    at a space, never inside an entity such as &amp;; the other texts are cut (with an
    ellipsis) at their limit. A body that does not fit in 50 blocks is cut in its last
    section, which says so and names the seq of the whole message in the hub's history.

    Slack also refuses long messages below those sums, with `msg_blocks_too_long` or
    `invalid_blocks` (its total for the blocks of a message is not published; about 12,000
    characters was seen): a message of more than SLACK_SHORT_SECTIONS body sections that
    is refused so is sent again at once, cut to that many, with the same note.

    Pace: Slack takes "no more than one message per second" per webhook, short bursts
    allowed, and answers more with 429. A relay sends SLACK_BURST posts back to back, then
    one a second (the wait is in deliver: each relay has a thread of its own), so a
    backlog after an outage goes out at Slack's pace instead of into a wall of 429s.

    Replies (plain text): 200 `ok` done; 429 retry at Retry-After; 5xx, timeouts and
    connect errors retry; other 4xx (invalid_payload, no_service, channel_is_archived, ...)
    dead with Slack's text.
*/
#include "../common/relay.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLACK_BLOCKS_MAX     50
#define SLACK_SECTION_MAX    3000 //  characters, as are the limits below
#define SLACK_FIELD_MAX      2000
#define SLACK_TEXT_MAX       4000
#define SLACK_TITLE_MAX      300
#define SLACK_SHORT_SECTIONS 3 //  body sections of the resent message (9,000 characters)
#define SLACK_ELLIPSIS       "\xE2\x80\xA6" //  U+2026: one character, 3 bytes
#define SLACK_PACE_MS        1000           //  one post a second, after
#define SLACK_BURST          4              //  posts that may go back to back

typedef struct {
    const hub_host_t *host;
    char *webhook_url;
    relay_http_t *http;
    int64_t pace_ms; //  when the next post would be due at one a second (monotonic)
} slack_t;

//  Appends text mrkdwn-escaped to esc, stopping once esc holds more than stop bytes.
static void
s_escape_into (relay_buf_t *esc, const char *text, size_t len, size_t stop)
{
    relay_buf_add (esc, "", 0);
    for (size_t at = 0; at < len && esc->len <= stop; at++) {
        char c = text[at];
        if (c == '&')
            relay_buf_adds (esc, "&amp;");
        else if (c == '<')
            relay_buf_adds (esc, "&lt;");
        else if (c == '>')
            relay_buf_adds (esc, "&gt;");
        else if (c == 0)
            relay_buf_adds (esc, " ");
        else
            relay_buf_add (esc, &c, 1);
    }
}

//  Where to cut escaped text (len bytes) so that at most max characters are kept: on a
//  UTF-8 boundary, preferably at a space, never inside an entity such as &amp;.
static size_t
s_cut (const char *esc, size_t len, size_t max)
{
    size_t cut = relay_utf8_cut_clean (esc, len, relay_utf8_prefix (esc, len, max));
    if (cut == len)
        return cut;
    //  Inside an entity? An '&' in the last 4 bytes with no ';' after it.
    for (size_t at = cut; at > 0 && at + 5 > cut; at--) {
        if (esc[at - 1] == ';')
            break;
        if (esc[at - 1] == '&') {
            cut = at - 1;
            break;
        }
    }
    return cut;
}

//  Appends text to out mrkdwn-escaped, in at most max characters; a cut text ends in an
//  ellipsis.
static void
s_escape (relay_buf_t *out, const char *text, size_t len, size_t max)
{
    relay_buf_t esc = {0};
    //  A character is at most 4 bytes: past that many, the text must be cut.
    s_escape_into (&esc, text, len, 4 * max + 8);
    if (relay_utf8_chars (esc.data, esc.len) <= max)
        relay_buf_add (out, esc.data, esc.len);
    else {
        relay_buf_add (out, esc.data, s_cut (esc.data, esc.len, max - 1));
        relay_buf_adds (out, SLACK_ELLIPSIS);
    }
    relay_buf_free (&esc);
}

static void
s_escape_str (relay_buf_t *out, const char *text, size_t max)
{
    s_escape (out, text ? text : "", text ? strlen (text) : 0, max);
}

//  Whether text holds nothing but spaces, tabs and line ends: Block Kit refuses a section
//  whose text is blank.
static bool
s_blank (const char *text, size_t len)
{
    return strspn (text, " \t\r\n") >= len;
}

//  The headline: the message's title, else one derived from the kind.
static void
s_headline (relay_buf_t *out, const hub_relay_job_t *job, size_t max)
{
    if (job->title && !s_blank (job->title, strlen (job->title))) {
        s_escape_str (out, job->title, max);
        return;
    }
    const char *kind = job->kind ? job->kind : "message";
    const char *label = relay_action_label (kind);
    if (label && job->action_title && *job->action_title) {
        relay_buf_adds (out, label);
        s_escape_str (out, job->action_title, max - strlen (label));
    } else
        relay_buf_addf (out, "New %s", kind);
}

static json_t *
s_mrkdwn (const char *text)
{
    return json_pack ("{s:s, s:s}", "type", "mrkdwn", "text", text);
}

static json_t *
s_section (const char *text)
{
    return json_pack ("{s:s, s:o}", "type", "section", "text", s_mrkdwn (text));
}

//  Appends the escaped body (len bytes) to blocks as sections of at most SLACK_SECTION_MAX
//  characters, at most max of them; returns how many it appended. A body that does not
//  fit ends, in the last section, with a note that says so and where the whole is.
static size_t
s_body_sections (json_t *blocks, const char *esc, size_t len, size_t max, uint64_t seq)
{
    char note[128];
    snprintf (note, sizeof note,
              " " SLACK_ELLIPSIS " (truncated; the whole message is seq %llu in the hub's "
              "history)",
              (unsigned long long)seq);
    size_t note_chars = relay_utf8_chars (note, strlen (note));
    relay_buf_t text = {0};
    size_t n = 0;
    for (size_t at = 0; at < len && n < max; n++) {
        size_t take = s_cut (esc + at, len - at, SLACK_SECTION_MAX);
        bool cut = n + 1 == max && take < len - at;
        if (cut)
            take = s_cut (esc + at, len - at, SLACK_SECTION_MAX - note_chars);
        text.len = 0;
        relay_buf_add (&text, esc + at, take);
        if (cut)
            relay_buf_adds (&text, note);
        if (!s_blank (text.data, text.len))
            json_array_append_new (blocks, s_section (text.data));
        at += take;
        //  The space or newline the cut stopped at is now the break between sections.
        if (at < len && (esc[at] == ' ' || esc[at] == '\n'))
            at++;
    }
    relay_buf_free (&text);
    return n;
}

//  Owner, due date, status and note of an action item, as section fields.
static json_t *
s_action_fields (const hub_relay_job_t *job)
{
    json_t *fields = json_array ();
    relay_buf_t field = {0};
    relay_buf_adds (&field, "*Owner*\n");
    s_escape_str (&field, job->owner && *job->owner ? job->owner : "(none)",
                  SLACK_FIELD_MAX - 16);
    json_array_append_new (fields, s_mrkdwn (field.data));
    if (job->due_ms) {
        char due[40];
        relay_time_human (job->due_ms, due, sizeof due);
        field.len = 0;
        relay_buf_addf (&field, "*Due*\n%s", due);
        json_array_append_new (fields, s_mrkdwn (field.data));
    }
    if (job->status && *job->status) {
        field.len = 0;
        relay_buf_adds (&field, "*Status*\n");
        s_escape_str (&field, job->status, SLACK_FIELD_MAX - 16);
        json_array_append_new (fields, s_mrkdwn (field.data));
    }
    if (job->note && *job->note) {
        field.len = 0;
        relay_buf_adds (&field, "*Note*\n");
        s_escape_str (&field, job->note, SLACK_FIELD_MAX - 16);
        json_array_append_new (fields, s_mrkdwn (field.data));
    }
    relay_buf_free (&field);
    return json_pack ("{s:s, s:o}", "type", "section", "fields", fields);
}

//  Builds the webhook payload, with the body in at most body_max sections; the number it
//  took goes to *sections_p. Caller frees the result.
static char *
s_payload (const hub_relay_job_t *job, size_t body_max, size_t *sections_p)
{
    size_t body_len = job->body ? job->body_len : 0;
    bool action = relay_job_is_action (job);
    json_t *blocks = json_array ();
    relay_buf_t text = {0};

    relay_buf_adds (&text, "*");
    s_headline (&text, job, SLACK_TITLE_MAX);
    relay_buf_adds (&text, "*");
    json_array_append_new (blocks, s_section (text.data));

    //  The body's share of the 50 blocks: all but the headline, fields and context.
    size_t room = SLACK_BLOCKS_MAX - 2 - (action ? 1 : 0);
    relay_buf_t body = {0};
    s_escape_into (&body, job->body, body_len, SIZE_MAX);
    *sections_p = s_body_sections (blocks, body.data, body.len,
                                   body_max < room ? body_max : room, job->seq);
    relay_buf_free (&body);
    if (action)
        json_array_append_new (blocks, s_action_fields (job));

    relay_buf_t context = {0};
    relay_buf_adds (&context, "From *");
    s_escape_str (&context, job->author && *job->author ? job->author : "unknown", 200);
    relay_buf_adds (&context, "* in #");
    s_escape_str (&context, job->channel, 200);
    relay_buf_addf (&context, " \xC2\xB7 seq %llu", (unsigned long long)job->seq);
    json_array_append_new (blocks, json_pack ("{s:s, s:[o]}", "type", "context", "elements",
                                              s_mrkdwn (context.data)));
    relay_buf_free (&context);

    //  The fallback: headline, then as much body as fits.
    if (body_len) {
        relay_buf_adds (&text, "\n");
        s_escape (&text, job->body, body_len,
                  SLACK_TEXT_MAX - relay_utf8_chars (text.data, text.len));
    }
    json_t *root = json_pack ("{s:s, s:o, s:b, s:b}", "text", text.data, "blocks", blocks,
                              "unfurl_links", 0, "unfurl_media", 0);
    relay_buf_free (&text);
    //  json_pack fails on text that is not UTF-8: the caller reports that.
    char *payload = root ? json_dumps (root, JSON_COMPACT) : NULL;
    json_decref (root);
    return payload;
}

//  What a URL cannot hold: space, DEL and the C0 controls (for strcspn).
static const char s_not_in_url[] = " \x7f\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d"
                                   "\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a"
                                   "\x1b\x1c\x1d\x1e\x1f";

static int
s_init (const hub_host_t *host, void **state_p, char *err, size_t err_size)
{
    const char *file = host->config_get (host->host, "webhook_url_file");
    if (!file) {
        snprintf (err, err_size, "slack: webhook_url_file is not set");
        return -1;
    }
    long timeout_s = relay_timeout (host);
    if (timeout_s < 0) {
        snprintf (err, err_size, "slack: timeout must be 1..300 seconds");
        return -1;
    }
    char why[256] = "";
    char *url = host->read_secret (host->host, file, why, sizeof why);
    if (!url) {
        snprintf (err, err_size, "slack: webhook_url_file: %s", why);
        return -1;
    }
    if (strncmp (url, "https://", 8) && strncmp (url, "http://", 7)) {
        relay_free_secret (url);
        snprintf (err, err_size, "slack: webhook_url_file does not hold an http(s) URL");
        return -1;
    }
    //  Only the characters a URL cannot hold: curl_url here made LeakSanitizer's tracer
    //  crash at the host's exit after a paced post (an ASan-only failure), and the rest
    //  (a bad port, say) makes the first post dead with a text that says to fix the URL.
    if (url[strcspn (url, s_not_in_url)]) {
        relay_free_secret (url);
        snprintf (err, err_size,
                  "slack: webhook_url_file does not hold a usable URL: it has a space or a "
                  "control character");
        return -1;
    }
    relay_http_t *http = relay_http_new (host, NULL, timeout_s);
    if (!http) {
        relay_free_secret (url);
        snprintf (err, err_size, "slack: curl_easy_init failed");
        return -1;
    }
    slack_t *self = relay_alloc (sizeof *self);
    self->host = host;
    self->webhook_url = url;
    self->http = http;
    *state_p = self;
    return 0;
}

//  Waits until a post keeps the webhook's pace: up to SLACK_BURST at once, then one per
//  SLACK_PACE_MS (a leaky bucket kept as the time the next post is due). False if hubd
//  stops meanwhile.
static bool
s_pace (slack_t *self)
{
    int64_t now = relay_mono_ms ();
    if (self->pace_ms < now)
        self->pace_ms = now;
    int64_t wait = self->pace_ms - (SLACK_BURST - 1) * SLACK_PACE_MS - now;
    if (wait > 0 && !relay_sleep_ms (self->host, wait))
        return false;
    self->pace_ms += SLACK_PACE_MS;
    return true;
}

//  Posts the job's payload with the body in at most body_max sections; the number of
//  sections it took goes to *sections_p. Returns the outcome (and fills result).
static hub_relay_outcome_t
s_post (slack_t *self, const hub_relay_job_t *job, size_t body_max, size_t *sections_p,
        hub_relay_result_t *result, relay_http_reply_t *reply)
{
    memset (result, 0, sizeof *result);
    char *payload = s_payload (job, body_max, sections_p);
    if (!payload) {
        relay_buf_add (&reply->body, "", 0);
        relay_set_error (result, HUB_RELAY_DEAD, "slack: the message is not valid UTF-8");
        return result->outcome;
    }
    if (!s_pace (self)) {
        free (payload);
        relay_buf_add (&reply->body, "", 0);
        return relay_curl_error (CURLE_ABORTED_BY_CALLBACK, "", "slack", result);
    }
    relay_http_json (self->http, "POST", self->webhook_url, payload, reply);
    free (payload);
    return relay_http_outcome (reply, "slack", 0, result);
}

static void
s_deliver (void *state, const hub_relay_job_t *job, hub_relay_result_t *result)
{
    slack_t *self = state;
    const hub_host_t *host = self->host;
    size_t sections = 0;
    relay_http_reply_t reply = {0};
    hub_relay_outcome_t outcome =
        s_post (self, job, SLACK_BLOCKS_MAX, &sections, result, &reply);
    const char *said = reply.body.data;
    if (outcome == HUB_RELAY_DEAD && reply.status == 400 && sections > SLACK_SHORT_SECTIONS &&
        (!strncmp (said, "msg_blocks_too_long", 19) || !strncmp (said, "invalid_blocks", 14))) {
        host->log (host->host, HUB_PLUGIN_LOG_NOTICE,
                   "job %llu: %s: sending it again with the body cut to %d sections",
                   (unsigned long long)job->job_id, result->error, SLACK_SHORT_SECTIONS);
        relay_buf_free (&reply.body);
        outcome = s_post (self, job, SLACK_SHORT_SECTIONS, &sections, result, &reply);
    }
    if (outcome == HUB_RELAY_DONE)
        host->log (host->host, HUB_PLUGIN_LOG_INFO, "job %llu: posted (seq %llu)",
                   (unsigned long long)job->job_id, (unsigned long long)job->seq);
    else
        relay_log_failure (host, job, result);
    relay_buf_free (&reply.body);
}

static void
s_destroy (void **state_p)
{
    slack_t *self = *state_p;
    if (!self)
        return;
    relay_http_destroy (&self->http);
    relay_free_secret (self->webhook_url);
    free (self);
    *state_p = NULL;
}

__attribute__ ((visibility ("default"))) const hub_plugin_t hub_plugin_descriptor = {
    .abi_version = HUB_PLUGIN_ABI_VERSION,
    .struct_size = sizeof (hub_plugin_t),
    .name = "slack",
    .description = "Slack incoming webhook (Block Kit sections)",
    .init = s_init,
    .deliver = s_deliver,
    .destroy = s_destroy,
};
