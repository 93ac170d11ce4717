/*  slack.c - relays hub messages to a Slack incoming webhook.

    Config ([relay.NAME], plugin = slack):
        webhook_url_file   file (mode 0600) holding the webhook URL; the URL is the secret,
                           so it is never logged or put in an error text
        timeout            seconds per request, default 10

    Request: POST, JSON {text, blocks}. `text` is the notification fallback; blocks are
    Block Kit sections: the title, the body, for action items the owner, due date, status
    and note as fields, and a context line with author, channel and seq. All user text is
    mrkdwn-escaped (& < > only, so `<!channel>` and `<http://x|y>` cannot be injected)
    and cut on a UTF-8 boundary, preferably at a space, under Slack's limits: 3,000 per
    section, 2,000 per field, 4,000 (the recommended size) for `text`. Limits are counted
    in bytes, which is never fewer than Slack's characters.

    Replies (plain text): 200 `ok` done; 429 retry at Retry-After; 5xx, timeouts and
    connect errors retry; other 4xx (invalid_payload, no_service, channel_is_archived, ...)
    dead with Slack's text.
*/
#include "../common/relay.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLACK_SECTION_MAX 3000
#define SLACK_FIELD_MAX   2000
#define SLACK_TEXT_MAX    4000
#define SLACK_TITLE_MAX   300
#define SLACK_ELLIPSIS    "\xE2\x80\xA6" //  U+2026, 3 bytes

typedef struct {
    const hub_host_t *host;
    char *webhook_url;
    relay_http_t *http;
} slack_t;

//  Appends text to out mrkdwn-escaped, in at most max bytes; a cut text ends in an
//  ellipsis and never splits a UTF-8 sequence or an entity such as &amp;.
static void
s_escape (relay_buf_t *out, const char *text, size_t len, size_t max)
{
    relay_buf_t esc = {0};
    relay_buf_add (&esc, "", 0);
    for (size_t at = 0; at < len; at++) {
        char c = text[at];
        if (c == '&')
            relay_buf_adds (&esc, "&amp;");
        else if (c == '<')
            relay_buf_adds (&esc, "&lt;");
        else if (c == '>')
            relay_buf_adds (&esc, "&gt;");
        else if (c == 0)
            relay_buf_adds (&esc, " ");
        else
            relay_buf_add (&esc, &c, 1);
        if (esc.len > max + 8)
            break; //  long enough to know it must be cut
    }
    if (esc.len <= max) {
        relay_buf_add (out, esc.data, esc.len);
        relay_buf_free (&esc);
        return;
    }
    size_t cut = relay_utf8_cut_clean (esc.data, esc.len, max - strlen (SLACK_ELLIPSIS));
    //  Inside an entity? An '&' in the last 4 bytes with no ';' after it.
    for (size_t at = cut; at > 0 && at + 5 > cut; at--) {
        if (esc.data[at - 1] == ';')
            break;
        if (esc.data[at - 1] == '&') {
            cut = at - 1;
            break;
        }
    }
    relay_buf_add (out, esc.data, cut);
    relay_buf_adds (out, SLACK_ELLIPSIS);
    relay_buf_free (&esc);
}

static void
s_escape_str (relay_buf_t *out, const char *text, size_t max)
{
    s_escape (out, text ? text : "", text ? strlen (text) : 0, max);
}

//  The headline: the message's title, else one derived from the kind.
static void
s_headline (relay_buf_t *out, const hub_relay_job_t *job, size_t max)
{
    if (job->title && *job->title) {
        s_escape_str (out, job->title, max);
        return;
    }
    const char *kind = job->kind ? job->kind : "message";
    const char *label = !strcmp (kind, "action")          ? "New action item: "
                        : !strcmp (kind, "reminder")      ? "Reminder: "
                        : !strcmp (kind, "action-done")   ? "Done: "
                        : !strcmp (kind, "action-cancel") ? "Cancelled: "
                                                          : NULL;
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

//  Builds the webhook payload. Caller frees the result.
static char *
s_payload (const hub_relay_job_t *job)
{
    size_t body_len = job->body ? job->body_len : 0;
    json_t *blocks = json_array ();
    relay_buf_t text = {0};

    relay_buf_adds (&text, "*");
    s_headline (&text, job, SLACK_TITLE_MAX);
    relay_buf_adds (&text, "*");
    json_array_append_new (blocks, s_section (text.data));

    if (body_len) {
        relay_buf_t body = {0};
        s_escape (&body, job->body, body_len, SLACK_SECTION_MAX);
        json_array_append_new (blocks, s_section (body.data));
        relay_buf_free (&body);
    }
    if (relay_job_is_action (job))
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
        s_escape (&text, job->body, body_len, SLACK_TEXT_MAX - text.len);
    }
    json_t *root = json_pack ("{s:s, s:o, s:b, s:b}", "text", text.data, "blocks", blocks,
                              "unfurl_links", 0, "unfurl_media", 0);
    relay_buf_free (&text);
    //  json_pack fails on text that is not UTF-8: the caller reports that.
    char *payload = root ? json_dumps (root, JSON_COMPACT) : NULL;
    json_decref (root);
    return payload;
}

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
    relay_http_t *http = relay_http_new (NULL, timeout_s);
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

static void
s_deliver (void *state, const hub_relay_job_t *job, hub_relay_result_t *result)
{
    slack_t *self = state;
    const hub_host_t *host = self->host;
    char *payload = s_payload (job);
    if (!payload) {
        relay_set_error (result, HUB_RELAY_DEAD, "slack: the message is not valid UTF-8");
        host->log (host->host, HUB_PLUGIN_LOG_ERROR, "job %llu: %s",
                   (unsigned long long)job->job_id, result->error);
        return;
    }
    relay_http_reply_t reply;
    relay_http_json (self->http, "POST", self->webhook_url, payload, &reply);
    free (payload);
    if (relay_http_outcome (&reply, "slack", 0, result) == HUB_RELAY_DONE)
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
