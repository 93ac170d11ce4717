/*  trello.c - keeps one Trello card per hub action item.

    Config ([relay.NAME], plugin = trello):
        api_base     default https://api.trello.com/1
        key          the API key; or key_file, a file (mode 0600) holding it
        token_file   file (mode 0600) holding the token
        list_id      the list new cards go to (24 hex digits)
        timeout      seconds per request, default 10

    Key and token travel only in the header `Authorization: OAuth oauth_consumer_key="K",
    oauth_token="T"`, never in a URL, a log line or an error text. Parameters go as a
    JSON body.

    Per job kind (other kinds, and jobs without an action_id, are done without a request):
        action         POST /cards {idList, name, desc, due, pos}; the card id is returned
                       as the memo card:<action_id>
        reminder       POST /cards/{id}/actions/comments {text}
        action-done    PUT /cards/{id} {dueComplete: true}, then a comment with the note
        action-cancel  PUT /cards/{id} {closed: true}, then a comment with the note
    The PUT goes first because it is idempotent: when the comment fails the retry sets the
    flag again, harmlessly, and comments once; the other order would comment twice.

    Finding the card. The memo is what keeps restarts and retries from making a second
    card. A job whose card is not yet known (its `action` job died, or the memo was lost)
    makes the card first, with what the job knows of the item, and returns the memo with
    whatever outcome follows, so a retry finds it. A card deleted on Trello (a 404 for
    the stored id) is made again, and its job carried on, instead of leaving every later
    job of the item dead. Trello has no idempotency key, so a create whose reply was lost
    (a timeout, a dropped connection, hubd killed before it recorded the memo) would make
    a twin on the retry: every card's desc ends with a marker line
        hubd action <relay NAME>:<action_id>
    and before a retry (attempt > 1) or a late create (a job of another kind) makes a
    card, GET /lists/{list_id}/cards?fields=id,desc looks for an open card with that line
    and adopts it (not when this plugin's last create of the item was answered 429, which
    makes nothing). The residual risk: a twin when the card was moved to another list or
    its marker deleted in between, or when two hubs with a relay of the same NAME share
    the list.

    Pacing. Every Trello reply carries x-rate-limit-api-{token,key}-{interval-ms,max,
    remaining}. When one says nothing remains, the jobs that come before that interval has
    passed again are retried after it without a request (a paced retry, which uses up no
    attempt): Trello's answer to more would be a 429, and past 200 of those the key is
    refused for the rest of the window.

    Outcomes: 2xx done; 429 retry (Trello sends no Retry-After: 10 s, its next window);
    5xx, timeouts, connect errors retry; 401 (invalid key/token), 400, 403 dead; 404 dead
    but for a stored card (above).
*/
#include "../common/relay.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRELLO_RETRY_S      10        //  rate limits are per 10 s window
#define TRELLO_NAME_MAX     512       //  bytes
#define TRELLO_TEXT_MAX     16000     //  desc and comments: Trello allows 16,384 characters
#define TRELLO_LIST_MAX     (8 << 20) //  bytes of a list's cards read to find a marker
#define TRELLO_PACE_MAX     60000     //  ms: the longest pause a rate-limit header may ask for
#define TRELLO_REFUSED_KEPT 64        //  action items remembered as refused unmade (a ring)

typedef struct {
    const hub_host_t *host;
    char *api_base;
    char *list_id;
    relay_http_t *http;  //  its header list holds the key and token
    long status;         //  HTTP status of the last reply (0: none)
    int64_t quiet_until; //  CLOCK_MONOTONIC ms: a rate limit said nothing remains till then
    char quiet_why[64];  //  which one ("token", "key")
    //  Action items whose last create here was answered 429: Trello made nothing, so
    //  their retry needs no look in the list first (a request less of the same budget).
    uint64_t refused[TRELLO_REFUSED_KEPT];
    size_t refused_next;
} trello_t;

//  Reads the last reply's rate-limit headers: with nothing remaining of a limit, no
//  request goes out until its interval has passed.
static void
s_note_limits (trello_t *self)
{
    static const char *const limits[] = {"token", "key"};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        char name[64];
        snprintf (name, sizeof name, "x-rate-limit-api-%s-remaining", limits[i]);
        long remaining = relay_http_header_long (self->http, name);
        snprintf (name, sizeof name, "x-rate-limit-api-%s-interval-ms", limits[i]);
        long interval = relay_http_header_long (self->http, name);
        if (remaining != 0 || interval <= 0)
            continue;
        int64_t until =
            relay_mono_ms () + (interval < TRELLO_PACE_MAX ? interval : TRELLO_PACE_MAX);
        if (until > self->quiet_until) {
            self->quiet_until = until;
            snprintf (self->quiet_why, sizeof self->quiet_why, "%s", limits[i]);
        }
    }
}

static bool
s_is_hex_id (const char *text)
{
    size_t len = strspn (text, "0123456789abcdefABCDEF");
    return len == 24 && text[len] == 0;
}

static bool
s_is_token (const char *text)
{
    size_t len = strspn (text, "0123456789abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_");
    return len > 0 && text[len] == 0;
}

//  A secret from key_file/token_file, or for the key the key value itself.
static char *
s_secret (const hub_host_t *host, const char *name, char *err, size_t err_size)
{
    char key[32];
    snprintf (key, sizeof key, "%s_file", name);
    const char *file = host->config_get (host->host, key);
    const char *value = strcmp (name, "key") ? NULL : host->config_get (host->host, "key");
    char *secret = NULL;
    if (file) {
        char why[256] = "";
        secret = host->read_secret (host->host, file, why, sizeof why);
        if (!secret)
            snprintf (err, err_size, "trello: %s: %s", key, why);
    } else if (value)
        secret = relay_strdup (value);
    else
        snprintf (err, err_size, "trello: %s%s is not set", key,
                  strcmp (name, "key") ? "" : " (or key)");
    if (secret && !s_is_token (secret)) {
        snprintf (err, err_size, "trello: the %s holds characters a Trello %s never has", key,
                  name);
        relay_free_secret (secret);
        secret = NULL;
    }
    return secret;
}

static int
s_init (const hub_host_t *host, void **state_p, char *err, size_t err_size)
{
    const char *api_base = host->config_get (host->host, "api_base");
    const char *list_id = host->config_get (host->host, "list_id");
    long timeout_s = relay_timeout (host);
    if (!api_base)
        api_base = "https://api.trello.com/1";
    if (strncmp (api_base, "https://", 8) && strncmp (api_base, "http://", 7)) {
        snprintf (err, err_size, "trello: api_base must be an http(s) URL");
        return -1;
    }
    char why[128];
    if (!relay_url_usable (api_base, why, sizeof why)) {
        snprintf (err, err_size, "trello: api_base is not a usable URL: %s", why);
        return -1;
    }
    if (relay_url_has_userinfo (api_base)) {
        snprintf (err, err_size,
                  "trello: api_base must not hold a user name or password: "
                  "the key and token_file are the credentials");
        return -1;
    }
    if (!list_id || !s_is_hex_id (list_id)) {
        snprintf (err, err_size, "trello: list_id must be a Trello id (24 hex digits)");
        return -1;
    }
    if (timeout_s < 0) {
        snprintf (err, err_size, "trello: timeout must be 1..300 seconds");
        return -1;
    }
    char *key = s_secret (host, "key", err, err_size);
    char *token = key ? s_secret (host, "token", err, err_size) : NULL;
    if (!token) {
        relay_free_secret (key);
        return -1;
    }
    relay_buf_t header = {0};
    relay_buf_addf (&header,
                    "Authorization: OAuth oauth_consumer_key=\"%s\", oauth_token=\"%s\"", key,
                    token);
    relay_free_secret (key);
    relay_free_secret (token);

    relay_http_t *http = relay_http_new (host, header.data, timeout_s);
    explicit_bzero (header.data, header.len);
    relay_buf_free (&header);
    if (!http) {
        snprintf (err, err_size, "trello: curl_easy_init failed");
        return -1;
    }
    trello_t *self = relay_alloc (sizeof *self);
    self->host = host;
    self->api_base = relay_strdup (api_base);
    size_t len = strlen (self->api_base);
    while (len && self->api_base[len - 1] == '/')
        self->api_base[--len] = 0;
    self->list_id = relay_strdup (list_id);
    self->http = http;
    *state_p = self;
    return 0;
}

//  Sends one request; parses a JSON reply into *reply_p when asked. Returns the outcome.
static hub_relay_outcome_t
s_call (trello_t *self, const char *method, const char *path, json_t *params, const char *what,
        hub_relay_result_t *result, json_t **reply_p)
{
    char url[1024];
    snprintf (url, sizeof url, "%s%s", self->api_base, path);
    char *body = json_dumps (params, JSON_COMPACT);
    json_decref (params);
    if (!body) {
        relay_set_error (result, HUB_RELAY_DEAD, "trello: %s: text is not valid UTF-8", what);
        return result->outcome;
    }
    relay_http_reply_t reply;
    relay_http_json (self->http, method, url, body, &reply);
    free (body);
    self->status = reply.status;
    s_note_limits (self);
    hub_relay_outcome_t outcome = relay_http_outcome (&reply, what, TRELLO_RETRY_S, result);
    if (outcome == HUB_RELAY_DONE && reply_p) {
        *reply_p = json_loads (reply.body.data, 0, NULL);
        if (!*reply_p)
            outcome = HUB_RELAY_DEAD,
            relay_set_error (result, outcome, "trello: %s: the reply is not JSON", what);
    }
    relay_buf_free (&reply.body);
    return outcome;
}

//  Appends at most max bytes of text, cut on a UTF-8 boundary.
static void
s_add_cut (relay_buf_t *buf, const char *text, size_t max)
{
    size_t len = text ? strlen (text) : 0;
    relay_buf_add (buf, text ? text : "", relay_utf8_cut_clean (text ? text : "", len, max));
}

static const char *
s_action_title (const hub_relay_job_t *job)
{
    if (job->action_title && *job->action_title)
        return job->action_title;
    return job->title && *job->title ? job->title : "Action item";
}

//  Writes the marker line that names the card of job's action item in its desc.
static void
s_marker (const trello_t *self, const hub_relay_job_t *job, char *buf, size_t size)
{
    const char *relay = self->host->relay_name ? self->host->relay_name : "trello";
    snprintf (buf, size, "hubd action %s:%llu", relay, (unsigned long long)job->action_id);
}

//  True if text holds line as a whole line.
static bool
s_has_line (const char *text, const char *line)
{
    size_t len = strlen (line);
    for (const char *at = strstr (text, line); at; at = strstr (at + 1, line))
        if ((at == text || at[-1] == '\n') && strchr ("\r\n", at[len]))
            return true; //  strchr finds the NUL too: the text's end
    return false;
}

//  The card's desc: the item's detail (the body of its own job), or for a card made by a
//  later job what that job knows of the item; then where it comes from; the marker last.
static void
s_card_desc (const trello_t *self, const hub_relay_job_t *job, relay_buf_t *desc)
{
    bool own = !strcmp (job->kind, "action");
    if (own && job->body_len) {
        s_add_cut (desc, job->body, TRELLO_TEXT_MAX - 1024);
        relay_buf_adds (desc, "\n\n---\n");
    } else if (!own) {
        const char *by = !strcmp (job->kind, "reminder")      ? "reminder"
                         : !strcmp (job->kind, "action-done") ? "completion"
                                                              : "cancellation";
        s_add_cut (desc, s_action_title (job), TRELLO_NAME_MAX);
        relay_buf_adds (desc, "\n\nStatus: ");
        s_add_cut (desc, job->status && *job->status ? job->status : "open", 40);
        relay_buf_addf (desc,
                        ". This card was made by the item's %s: its own message, with the "
                        "detail, is seq %llu in the hub's history.\n\n---\n",
                        by, (unsigned long long)job->action_id);
    }
    relay_buf_addf (desc, "Action item #%llu of the partnership hub, channel #",
                    (unsigned long long)job->action_id);
    s_add_cut (desc, job->channel, 200);
    relay_buf_adds (desc, ".\nOwner: ");
    s_add_cut (desc, job->owner && *job->owner ? job->owner : "(none)", 200);
    if (own && job->author && *job->author) {
        relay_buf_adds (desc, " \xC2\xB7 Agreed by: ");
        s_add_cut (desc, job->author, 200);
    }
    if (job->due_ms) {
        char due[40];
        relay_time_human (job->due_ms, due, sizeof due);
        relay_buf_addf (desc, " \xC2\xB7 Due: %s", due);
    }
    char marker[128];
    s_marker (self, job, marker, sizeof marker);
    relay_buf_addf (desc, "\nRelayed by hubd from hub message seq %llu.\n%s",
                    (unsigned long long)job->seq, marker);
}

//  Creates the card of job's action item; writes its id into card (25 bytes).
static hub_relay_outcome_t
s_new_card (trello_t *self, const hub_relay_job_t *job, char *card, hub_relay_result_t *result)
{
    relay_buf_t name = {0}, desc = {0};
    s_add_cut (&name, s_action_title (job), TRELLO_NAME_MAX);
    s_card_desc (self, job, &desc);
    json_t *params = json_pack ("{s:s, s:s?, s:s?, s:s}", "idList", self->list_id, "name",
                                name.data, "desc", desc.data, "pos", "bottom");
    relay_buf_free (&name);
    relay_buf_free (&desc);
    if (params && job->due_ms) {
        char due[40];
        relay_time_iso (job->due_ms, due, sizeof due);
        json_object_set_new (params, "due", json_string (due));
    }
    if (!params) {
        relay_set_error (result, HUB_RELAY_DEAD,
                         "trello: create card: text is not valid UTF-8");
        return result->outcome;
    }
    json_t *reply = NULL;
    if (s_call (self, "POST", "/cards", params, "trello: create card", result, &reply) !=
        HUB_RELAY_DONE)
        return result->outcome;
    const char *id = json_string_value (json_object_get (reply, "id"));
    if (!id || !s_is_hex_id (id)) {
        json_decref (reply);
        //  Dead, not retry: a retry could create a second card.
        relay_set_error (result, HUB_RELAY_DEAD,
                         "trello: create card: the reply has no card id");
        return result->outcome;
    }
    memcpy (card, id, 25);
    self->host->log (self->host->host, HUB_PLUGIN_LOG_INFO, "action %llu: card %s created",
                     (unsigned long long)job->action_id, id);
    json_decref (reply);
    return HUB_RELAY_DONE;
}

//  Looks in the list for an open card whose desc holds job's marker line; writes its id
//  into card (25 bytes), or leaves card empty when there is none.
static hub_relay_outcome_t
s_find_card (trello_t *self, const hub_relay_job_t *job, char *card, hub_relay_result_t *result)
{
    char url[1024];
    snprintf (url, sizeof url, "%s/lists/%s/cards?fields=id,desc", self->api_base,
              self->list_id);
    relay_http_reply_t reply;
    relay_http_get (self->http, url, TRELLO_LIST_MAX, &reply);
    self->status = reply.status;
    if (relay_http_outcome (&reply, "trello: find card", TRELLO_RETRY_S, result) !=
        HUB_RELAY_DONE) {
        relay_buf_free (&reply.body);
        return result->outcome;
    }
    json_t *cards = reply.truncated ? NULL : json_loads (reply.body.data, 0, NULL);
    relay_buf_free (&reply.body);
    //  Not knowing is no reason to keep the item off the board: a card is made.
    if (!json_is_array (cards))
        self->host->log (self->host->host, HUB_PLUGIN_LOG_WARNING,
                         "action %llu: the list's cards could not be read (%s): a card an "
                         "earlier attempt made is not looked for",
                         (unsigned long long)job->action_id,
                         reply.truncated ? "over 8 MiB" : "not a JSON array");
    char marker[128];
    s_marker (self, job, marker, sizeof marker);
    size_t i;
    json_t *each;
    json_array_foreach (cards, i, each)
    {
        const char *id = json_string_value (json_object_get (each, "id"));
        const char *desc = json_string_value (json_object_get (each, "desc"));
        if (id && s_is_hex_id (id) && desc && s_has_line (desc, marker)) {
            memcpy (card, id, 25);
            break;
        }
    }
    json_decref (cards);
    return HUB_RELAY_DONE;
}

//  Makes the card of job's action item, or, on a retry or for a job of another kind,
//  adopts the one an earlier attempt made; writes its id into card (25 bytes) and returns
//  it as the memo card:<action_id>.
//  Finds the action item in the ring of ones refused unmade; clears it there if forget.
static bool
s_was_refused (trello_t *self, uint64_t action_id, bool forget)
{
    for (size_t i = 0; i < TRELLO_REFUSED_KEPT; i++)
        if (self->refused[i] == action_id) {
            if (forget)
                self->refused[i] = 0;
            return true;
        }
    return false;
}

static hub_relay_outcome_t
s_obtain_card (trello_t *self, const hub_relay_job_t *job, char *card,
               hub_relay_result_t *result)
{
    bool look = (job->attempt > 1 || strcmp (job->kind, "action")) &&
                !s_was_refused (self, job->action_id, false);
    if (look && s_find_card (self, job, card, result) != HUB_RELAY_DONE)
        return result->outcome;
    if (*card)
        self->host->log (self->host->host, HUB_PLUGIN_LOG_NOTICE,
                         "action %llu: card %s, made by an earlier attempt, adopted",
                         (unsigned long long)job->action_id, card);
    else {
        hub_relay_outcome_t made = s_new_card (self, job, card, result);
        //  Only a 429 says for sure that nothing was made; any other failure may have.
        s_was_refused (self, job->action_id, true);
        if (made != HUB_RELAY_DONE && self->status == 429) {
            self->refused[self->refused_next] = job->action_id;
            self->refused_next = (self->refused_next + 1) % TRELLO_REFUSED_KEPT;
        }
        if (made != HUB_RELAY_DONE)
            return result->outcome;
    }
    snprintf (result->memo_key, sizeof result->memo_key, "card:%llu",
              (unsigned long long)job->action_id);
    snprintf (result->memo_value, sizeof result->memo_value, "%s", card);
    return HUB_RELAY_DONE;
}

static hub_relay_outcome_t
s_comment (trello_t *self, const char *card, const char *text, hub_relay_result_t *result)
{
    relay_buf_t cut = {0};
    s_add_cut (&cut, text, TRELLO_TEXT_MAX);
    char path[128];
    snprintf (path, sizeof path, "/cards/%s/actions/comments", card);
    json_t *params = json_pack ("{s:s}", "text", cut.data);
    relay_buf_free (&cut);
    if (!params) {
        relay_set_error (result, HUB_RELAY_DEAD, "trello: comment: text is not valid UTF-8");
        return result->outcome;
    }
    return s_call (self, "POST", path, params, "trello: comment", result, NULL);
}

static hub_relay_outcome_t
s_update (trello_t *self, const char *card, const char *field, hub_relay_result_t *result)
{
    char path[128];
    snprintf (path, sizeof path, "/cards/%s", card);
    return s_call (self, "PUT", path, json_pack ("{s:b}", field, 1), "trello: update card",
                   result, NULL);
}

//  The comment for a reminder, completion or cancellation.
static void
s_note (relay_buf_t *text, const hub_relay_job_t *job)
{
    const char *kind = job->kind;
    if (!strcmp (kind, "reminder")) {
        if (job->body_len) {
            relay_buf_adds (text, job->body);
            return;
        }
        char due[40] = "";
        if (job->due_ms)
            relay_time_human (job->due_ms, due, sizeof due);
        relay_buf_addf (text, "Reminder: due %s (%s).", *due ? due : "(no date)",
                        job->status && *job->status ? job->status : "open");
        return;
    }
    relay_buf_adds (text, !strcmp (kind, "action-done") ? "Done" : "Cancelled");
    if (job->author && *job->author) {
        relay_buf_adds (text, " by ");
        relay_buf_adds (text, job->author);
    }
    if (job->note && *job->note) {
        relay_buf_adds (text, ": ");
        relay_buf_adds (text, job->note);
    } else
        relay_buf_adds (text, ".");
}

//  The step after the card exists: for done/cancel the card's flag, then a comment.
static hub_relay_outcome_t
s_follow_up (trello_t *self, const hub_relay_job_t *job, const char *card,
             hub_relay_result_t *result)
{
    const char *flag = !strcmp (job->kind, "action-done")     ? "dueComplete"
                       : !strcmp (job->kind, "action-cancel") ? "closed"
                                                              : NULL;
    if (flag && s_update (self, card, flag, result) != HUB_RELAY_DONE)
        return result->outcome;
    relay_buf_t text = {0};
    s_note (&text, job);
    s_comment (self, card, text.data, result);
    relay_buf_free (&text);
    return result->outcome;
}

static void
s_deliver (void *state, const hub_relay_job_t *job, hub_relay_result_t *result)
{
    trello_t *self = state;
    const hub_host_t *host = self->host;
    const char *kind = job->kind ? job->kind : "";
    bool known = !strcmp (kind, "action") || !strcmp (kind, "reminder") ||
                 !strcmp (kind, "action-done") || !strcmp (kind, "action-cancel");
    if (!known || !job->action_id) {
        host->log (host->host, HUB_PLUGIN_LOG_DEBUG,
                   "job %llu: %s is not an action item: skipped",
                   (unsigned long long)job->job_id, kind);
        result->outcome = HUB_RELAY_DONE;
        return;
    }
    int64_t wait_ms = self->quiet_until - relay_mono_ms ();
    if (wait_ms > 0) {
        result->retry_after_s = (int32_t)((wait_ms + 999) / 1000);
        relay_set_error (result, HUB_RELAY_RETRY,
                         "trello: paced: Trello's rate limit per %s has nothing left for "
                         "%" PRId64 " ms",
                         self->quiet_why, wait_ms);
        host->log (host->host, HUB_PLUGIN_LOG_DEBUG, "job %llu: %s",
                   (unsigned long long)job->job_id, result->error);
        return;
    }
    char memo_key[64];
    snprintf (memo_key, sizeof memo_key, "card:%llu", (unsigned long long)job->action_id);
    const char *memo = host->memo_get (host->host, memo_key);
    char card[25] = "";
    bool stored = memo && s_is_hex_id (memo);
    if (stored)
        memcpy (card, memo, 25);
    else
        s_obtain_card (self, job, card, result);
    if (*card && strcmp (kind, "action")) {
        if (s_follow_up (self, job, card, result) == HUB_RELAY_DEAD && stored &&
            self->status == 404) {
            host->log (host->host, HUB_PLUGIN_LOG_NOTICE,
                       "action %llu: card %s is gone from Trello (%s): making it again",
                       (unsigned long long)job->action_id, card, result->error);
            memset (result, 0, sizeof *result);
            *card = 0;
            if (s_obtain_card (self, job, card, result) == HUB_RELAY_DONE)
                s_follow_up (self, job, card, result);
        }
    } else if (stored)
        host->log (host->host, HUB_PLUGIN_LOG_INFO, "action %llu: card %s exists already",
                   (unsigned long long)job->action_id, card);

    if (result->outcome == HUB_RELAY_DONE)
        host->log (
            host->host, HUB_PLUGIN_LOG_INFO, "job %llu: %s of action %llu relayed to card %s",
            (unsigned long long)job->job_id, kind, (unsigned long long)job->action_id, card);
    else
        relay_log_failure (host, job, result);
}

static void
s_destroy (void **state_p)
{
    trello_t *self = *state_p;
    if (!self)
        return;
    relay_http_destroy (&self->http);
    free (self->api_base);
    free (self->list_id);
    free (self);
    *state_p = NULL;
}

__attribute__ ((visibility ("default"))) const hub_plugin_t hub_plugin_descriptor = {
    .abi_version = HUB_PLUGIN_ABI_VERSION,
    .struct_size = sizeof (hub_plugin_t),
    .name = "trello",
    .description = "Trello: one card per action item, comments for reminders and notes",
    .init = s_init,
    .deliver = s_deliver,
    .destroy = s_destroy,
};
