/*  email.c - relays hub messages as email through libcurl's SMTP client.

    Config ([relay.NAME], plugin = email):
        smtp_url       smtp://host:587/EHLO-NAME (STARTTLS) or smtps://host:465/EHLO-NAME
        from           "hub@example.org" or "Partnership hub <hub@example.org>"; the name
                       may hold specials (written as a quoted-string) and UTF-8 (encoded)
        to             comma-separated addresses (or Name <address>, the address taken);
                       `owner` (any case) stands for the owner's directory email on
                       action items and reminders (skipped for other messages)
        username       with password_file (mode 0600): AUTH
        tls            auto (default): STARTTLS required, never a plain fallback, except
                       for a server on loopback (127.0.0.0/8, ::1, localhost) and no
                       username, where mail never leaves the machine: STARTTLS if
                       offered, else plain (credentials never go out in clear text unless
                       tls = none says so); starttls: required even on loopback; none:
                       plain SMTP. smtps:// is always TLS
        ca_file        CA bundle to verify the server with (default: the system's)
        timeout        seconds per message, default 10

    The message (RFC 5322, MIME 1.0):
        Date, From, To, Subject, Message-ID <hubd.JOB.SEQ.HASH@from-domain>,
        MIME-Version, Content-Type: text/plain; charset=utf-8,
        Content-Transfer-Encoding: quoted-printable, Auto-Submitted: auto-generated.
    The Message-ID is the same on every attempt of a job (HASH: of the relay's name and
    the message's hub time), so a retry after a lost 250 reply is a recognisable
    duplicate, not a second message; another hub, or this one after a fresh start, mints
    other ones. Headers are ASCII: a Subject or From name with anything else is RFC 2047
    encoded words (=?UTF-8?B?...?=, each <= 75 characters of whole UTF-8 sequences)
    folded with CRLF SP so that no line passes 76 characters, the first one included; a
    From name with specials (",", ".", quotes) is a quoted-string. CR, LF and other
    controls in header text become spaces, so a title cannot add headers. The body is
    quoted-printable: every line <= 76 octets, CRLF line ends, 8-bit text safe through any
    relay, a line-leading '.' encoded as =2E (curl dot-stuffs too, but only after CRLF).
    Body: the message's text, then for action items owner, due date, status and note,
    then a signature line with channel, author and seq.

    Outcomes: 250 done; a 4xx reply retries (454 to AUTH too); a 5xx reply (550 no such
    user, 535 bad password, 530 auth required) is dead; connect errors and timeouts
    retry; TLS that cannot be had or verified is dead (a config error, which a retry
    cannot fix). Recipients are refused one by one: the mail goes to those accepted, a
    recipient refused for good (5xx) is named in a warning and not tried again, and one
    refused for now (4xx) is tried again later, alone: the memo mailed:JOB lists (as
    32-bit hashes of the lowercased addresses) who has been dealt with, so a retry
    mails nobody twice. The To header always names every recipient. When nobody took
    the mail and no refusal was temporary, the job is dead.
*/
#include "../common/relay.h"
#include "hub_text.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EMAIL_SUBJECT_MAX 600 //  bytes of title before encoding
#define EMAIL_WORD_BYTES  45  //  UTF-8 bytes per encoded word: 60 base64 chars, 72 in all
#define EMAIL_WORD_FRAME  12  //  "=?UTF-8?B?" and "?=" around the base64
#define EMAIL_LINE        76  //  RFC 2047: a line with an encoded word; RFC 2045: QP
#define EMAIL_HASH_TEXT   9   //  "%08x," per recipient in the mailed: memo

typedef struct {
    const hub_host_t *host;
    char *smtp_url;
    char *from;       //  the From header line, CRLF included
    char *from_addr;  //  the address in it (MAIL FROM)
    char *domain;     //  of from_addr, for Message-ID
    uint64_t id_seed; //  of the Message-IDs: the relay's name hashed
    char **to;        //  addresses or "owner", NULL-terminated
    char *username;
    char *password;
    char *ca_file;
    long use_ssl; //  CURLUSESSL_*: what tls asks for
    long timeout_s;
} email_t;

//  An address we are willing to put in MAIL/RCPT and headers: local@domain, printable
//  ASCII, no spaces, brackets, commas or quotes.
static bool
s_valid_address (const char *addr)
{
    const char *at = strchr (addr, '@');
    if (!at || at == addr || !at[1] || strchr (at + 1, '@'))
        return false;
    for (const char *c = addr; *c; c++)
        if (*c <= ' ' || *c >= 0x7F || strchr ("<>,;\"()[]\\", *c))
            return false;
    return true;
}

//  ---------------------------------------------------------------------------------
//  Message formatting

//  RFC 5322 date in the C locale whatever the process locale: "Tue, 01 Dec 2026 17:00:00
//  +0000".
static void
s_date (char *buf, size_t size)
{
    static const char *days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time (NULL);
    struct tm tm;
    gmtime_r (&now, &tm);
    snprintf (buf, size, "%s, %02d %s %d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
              months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void
s_base64 (relay_buf_t *out, const unsigned char *data, size_t len)
{
    static const char table[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t at = 0; at < len; at += 3) {
        unsigned value = (unsigned)data[at] << 16;
        if (at + 1 < len)
            value |= (unsigned)data[at + 1] << 8;
        if (at + 2 < len)
            value |= data[at + 2];
        char quad[4] = {table[(value >> 18) & 63], table[(value >> 12) & 63],
                        at + 1 < len ? table[(value >> 6) & 63] : '=',
                        at + 2 < len ? table[value & 63] : '='};
        relay_buf_add (out, quad, 4);
    }
}

//  RFC 2047 encoded words for text, the first one at column col of its line, the others
//  on lines of their own (CRLF SP): each word is whole UTF-8 sequences, at most
//  EMAIL_WORD_BYTES, and no line passes EMAIL_LINE. Returns the column after the last word.
static size_t
s_encoded_words (relay_buf_t *out, const char *text, size_t len, size_t col)
{
    assert (col + EMAIL_WORD_FRAME + 4 <= EMAIL_LINE);
    for (size_t at = 0; at < len;) {
        if (at) {
            relay_buf_adds (out, "\r\n ");
            col = 1;
        }
        size_t room = (EMAIL_LINE - col - EMAIL_WORD_FRAME) / 4 * 3; //  whole base64 quads
        if (room > EMAIL_WORD_BYTES)
            room = EMAIL_WORD_BYTES;
        size_t take = relay_utf8_cut (text + at, len - at, room);
        if (!take) //  no sequence start within room: not UTF-8, nothing to keep whole
            take = len - at < room ? len - at : room;
        relay_buf_adds (out, "=?UTF-8?B?");
        s_base64 (out, (const unsigned char *)text + at, take);
        relay_buf_adds (out, "?=");
        col += EMAIL_WORD_FRAME + (take + 2) / 3 * 4;
        at += take;
    }
    return col;
}

//  Header text with controls turned into spaces, cut at max bytes on a UTF-8 boundary.
//  Returns true if it is all printable ASCII.
static bool
s_header_text (relay_buf_t *out, const char *text, size_t max)
{
    size_t len = relay_utf8_cut_clean (text, strlen (text), max);
    bool ascii = true;
    for (size_t at = 0; at < len; at++) {
        unsigned char c = (unsigned char)text[at];
        char clean = c < 0x20 || c == 0x7F ? ' ' : (char)c;
        ascii = ascii && c < 0x7F;
        relay_buf_add (out, &clean, 1);
    }
    //  "=?" could be read as the start of an encoded word: encode such a title too.
    return ascii && !strstr (out->data ? out->data : "", "=?");
}

//  "Subject: ..." with the title, RFC 2047-encoded when it is not plain ASCII.
static void
s_subject (relay_buf_t *msg, const char *title)
{
    relay_buf_t clean = {0};
    relay_buf_add (&clean, "", 0);
    bool ascii = s_header_text (&clean, title, EMAIL_SUBJECT_MAX);
    relay_buf_adds (msg, "Subject: ");
    if (ascii) {
        //  Fold at spaces so no line passes 78 characters where that is possible.
        size_t col = 9;
        for (char *word = clean.data; *word;) {
            size_t len = strcspn (word + 1, " ") + 1;
            if (col + len > 78 && col > 9 && *word == ' ') {
                relay_buf_adds (msg, "\r\n");
                col = 0;
            }
            relay_buf_add (msg, word, len);
            col += len;
            word += len;
        }
    } else
        s_encoded_words (msg, clean.data, clean.len, strlen ("Subject: "));
    relay_buf_adds (msg, "\r\n");
    relay_buf_free (&clean);
}

//  Whether a display name can be written as it is: atoms (RFC 5322 atext) with single
//  spaces between them, and nothing that reads as the start of an encoded word.
static bool
s_atoms (const char *name)
{
    static const char atext[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789!#$%&'*+-/=?^_`{|}~ ";
    size_t len = strlen (name);
    if (!len || name[0] == ' ' || name[len - 1] == ' ' || strstr (name, "  ") ||
        strstr (name, "=?"))
        return false;
    return strspn (name, atext) == len;
}

//  The From header line (CRLF included) for a display name ("" for none; UTF-8 without
//  controls) and an address: the name as it is when it is atoms, else a quoted-string
//  when it is ASCII, else encoded words. Caller frees the result.
static char *
s_from_line (const char *name, const char *addr)
{
    relay_buf_t line = {0};
    relay_buf_adds (&line, "From: ");
    if (!*name) {
        relay_buf_addf (&line, "%s\r\n", addr);
        return line.data;
    }
    bool ascii = true;
    for (const char *c = name; *c; c++)
        ascii = ascii && (unsigned char)*c < 0x80;
    if (ascii && s_atoms (name))
        relay_buf_adds (&line, name);
    else if (ascii) {
        relay_buf_adds (&line, "\"");
        for (const char *c = name; *c; c++) {
            if (*c == '"' || *c == '\\')
                relay_buf_adds (&line, "\\");
            relay_buf_add (&line, c, 1);
        }
        relay_buf_adds (&line, "\"");
    } else {
        size_t col = s_encoded_words (&line, name, strlen (name), line.len);
        if (col + strlen (" <>") + strlen (addr) > EMAIL_LINE)
            relay_buf_adds (&line, "\r\n"); //  the address on a line of its own
    }
    relay_buf_addf (&line, " <%s>\r\n", addr);
    return line.data;
}

//  Quoted-printable (RFC 2045 6.7) with CRLF line ends; \n and \r\n in text are line
//  breaks. Lines stay within 76 octets.
static void
s_quoted_printable (relay_buf_t *out, const char *text, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;
    for (size_t at = 0; at < len; at++) {
        unsigned char c = (unsigned char)text[at];
        if (c == '\n' || (c == '\r' && at + 1 < len && text[at + 1] == '\n')) {
            if (c == '\r')
                at++;
            relay_buf_adds (out, "\r\n");
            col = 0;
            continue;
        }
        bool line_end = at + 1 == len || text[at + 1] == '\n' ||
                        (text[at + 1] == '\r' && at + 2 < len && text[at + 2] == '\n');
        bool literal =
            (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end);
        size_t width = literal ? 1 : 3;
        if (col + width > EMAIL_LINE - 1) { //  room for the soft break '='
            relay_buf_adds (out, "=\r\n");
            col = 0;
        }
        //  A '.' or "From " opening a line is encoded: some relays mangle those.
        if (col == 0 &&
            (c == '.' || (c == 'F' && len - at >= 5 && !memcmp (text + at, "From ", 5))))
            literal = false, width = 3;
        if (literal)
            relay_buf_add (out, (const char *)&c, 1);
        else {
            char code[3] = {'=', hex[c >> 4], hex[c & 15]};
            relay_buf_add (out, code, 3);
        }
        col += width;
    }
    relay_buf_adds (out, "\r\n");
}

//  The plain text: the message, the action item's facts, a signature.
static void
s_text (relay_buf_t *text, const hub_relay_job_t *job)
{
    relay_buf_add (text, "", 0);
    if (job->body && job->body_len) {
        relay_buf_add (text, job->body, job->body_len);
        if (job->body[job->body_len - 1] != '\n')
            relay_buf_adds (text, "\n");
        relay_buf_adds (text, "\n");
    }
    if (relay_job_is_action (job)) {
        if (job->action_title && *job->action_title)
            relay_buf_addf (text, "Action item: %s\n", job->action_title);
        if (job->owner && *job->owner)
            relay_buf_addf (text, "Owner: %s\n", job->owner);
        if (job->due_ms) {
            char due[40];
            relay_time_human (job->due_ms, due, sizeof due);
            relay_buf_addf (text, "Due: %s\n", due);
        }
        if (job->status && *job->status)
            relay_buf_addf (text, "Status: %s\n", job->status);
        if (job->note && *job->note)
            relay_buf_addf (text, "Note: %s\n", job->note);
        relay_buf_adds (text, "\n");
    }
    relay_buf_addf (text, "-- \nPosted by %s in #%s (seq %llu), relayed by hubd.\n",
                    job->author && *job->author ? job->author : "the hub",
                    job->channel ? job->channel : "", (unsigned long long)job->seq);
}

//  FNV-1a (64 bits) of a string and its NUL, continuing from hash.
static uint64_t
s_hash (uint64_t hash, const char *text)
{
    do {
        hash ^= (unsigned char)*text;
        hash *= 0x100000001B3ULL;
    } while (*text++);
    return hash;
}

static void
s_message (email_t *self, const hub_relay_job_t *job, char **rcpt, relay_buf_t *msg)
{
    char date[64];
    s_date (date, sizeof date);
    relay_buf_addf (msg, "Date: %s\r\n%sTo: ", date, self->from);
    for (size_t i = 0; rcpt[i]; i++)
        relay_buf_addf (msg, "%s%s", i ? ",\r\n " : "", rcpt[i]);
    relay_buf_adds (msg, "\r\n");

    //  A closing has no title of its own: "Done: TITLE", so it does not read as the
    //  item's creation.
    const char *label = relay_action_label (job->kind);
    relay_buf_t subject = {0};
    if (job->title && *job->title)
        relay_buf_adds (&subject, job->title);
    else if (job->action_title && *job->action_title)
        relay_buf_addf (&subject, "%s%s", label ? label : "", job->action_title);
    else
        relay_buf_adds (&subject, "Message from the hub");
    s_subject (msg, subject.data);
    relay_buf_free (&subject);
    //  The same on every attempt; the message's hub time sets apart the job ids and seqs
    //  of another hub, or of this one started afresh, that mails from the same domain.
    char ts[24];
    snprintf (ts, sizeof ts, "%lld", (long long)job->ts_ms);
    relay_buf_addf (msg, "Message-ID: <hubd.%llu.%llu.%016llx@%s>\r\n",
                    (unsigned long long)job->job_id, (unsigned long long)job->seq,
                    (unsigned long long)s_hash (self->id_seed, ts), self->domain);
    relay_buf_adds (msg, "MIME-Version: 1.0\r\n"
                         "Content-Type: text/plain; charset=utf-8\r\n"
                         "Content-Transfer-Encoding: quoted-printable\r\n"
                         "Auto-Submitted: auto-generated\r\n"
                         "\r\n");
    relay_buf_t text = {0};
    s_text (&text, job);
    s_quoted_printable (msg, text.data, text.len);
    relay_buf_free (&text);
}

//  ---------------------------------------------------------------------------------
//  SMTP

typedef struct {
    const relay_buf_t *msg;
    size_t sent;
    char reply[256]; //  the server's last error reply line
    //  The replies to RCPT, one per recipient in rcpt order (curl sends one RCPT at a time
    //  and waits for its reply).
    char *const *rcpt;
    size_t rcpt_count;
    size_t rcpt_sent;     //  RCPT commands seen so far
    bool rcpt_due;        //  the reply to the last one is still to come
    size_t accepted;      //  recipients the server took
    size_t refused;       //  and refused
    bool refused_4xx;     //  one of them only for now
    char *state;          //  per recipient: 'a' accepted, '4' or '5' refused, 0 no reply
    relay_buf_t refusals; //  "a@x (550 5.1.1 no such user), ..."
} smtp_io_t;

static size_t
s_read (char *buffer, size_t size, size_t count, void *arg)
{
    smtp_io_t *io = arg;
    size_t len = io->msg->len - io->sent;
    if (len > size * count)
        len = size * count;
    memcpy (buffer, io->msg->data + io->sent, len);
    io->sent += len;
    return len;
}

//  Follows the dialogue: keeps the server's last error reply (4xx, 5xx) for the error text
//  (a later 221 to our QUIT must not hide it), and which recipients RCPT refused. Of what
//  we send it only looks for "RCPT TO:": the AUTH lines hold the password.
static int
s_on_debug (CURL *curl, curl_infotype type, char *data, size_t len, void *arg)
{
    (void)curl;
    smtp_io_t *io = arg;
    if (type == CURLINFO_HEADER_OUT && len >= 8 && !strncasecmp (data, "RCPT TO:", 8)) {
        io->rcpt_due = io->rcpt_sent < io->rcpt_count;
        io->rcpt_sent++;
    }
    if (type != CURLINFO_HEADER_IN || len == 0)
        return 0;
    //  One reply line (curl hands them over one by one), up to CRLF, controls as spaces.
    char text[sizeof io->reply];
    size_t line = 0;
    while (line < len && data[line] != '\r' && data[line] != '\n')
        line++;
    line = relay_utf8_cut (data, line, sizeof text - 1);
    for (size_t at = 0; at < line; at++)
        text[at] = (unsigned char)data[at] < 0x20 ? ' ' : data[at];
    text[line] = 0;
    if (text[0] == '4' || text[0] == '5')
        memcpy (io->reply, text, line + 1);
    if (io->rcpt_due && (line < 4 || text[3] != '-')) { //  the reply's last line
        io->rcpt_due = false;
        io->state[io->rcpt_sent - 1] = text[0] == '2' ? 'a' : text[0] == '4' ? '4' : '5';
        if (text[0] == '2')
            io->accepted++;
        else {
            io->refused_4xx = io->refused_4xx || text[0] == '4';
            relay_buf_addf (&io->refusals, "%s%s (%s)", io->refused++ ? ", " : "",
                            io->rcpt[io->rcpt_sent - 1], text);
        }
    }
    return 0;
}

//  Whether the server answered every RCPT, and refused them all.
static bool
s_all_refused (const smtp_io_t *io)
{
    return io->refused == io->rcpt_count && io->rcpt_sent == io->rcpt_count && !io->rcpt_due;
}

//  The outcome of a send that failed with rc and the server's last reply code.
static hub_relay_outcome_t
s_outcome (const smtp_io_t *io, CURLcode rc, long code)
{
    if (s_all_refused (io)) //  one temporary refusal is worth another try
        return io->refused_4xx ? HUB_RELAY_RETRY : HUB_RELAY_DEAD;
    if (code >= 400 && code < 500) //  454 to AUTH too, though curl says LOGIN_DENIED
        return HUB_RELAY_RETRY;
    if (rc == CURLE_LOGIN_DENIED || (code >= 500 && code < 600))
        return HUB_RELAY_DEAD;
    if (rc == CURLE_USE_SSL_FAILED || rc == CURLE_PEER_FAILED_VERIFICATION ||
        rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_URL_MALFORMAT ||
        rc == CURLE_UNSUPPORTED_PROTOCOL)
        return HUB_RELAY_DEAD;
    return HUB_RELAY_RETRY;
}

//  Sends msg to the n recipients in rcpt, fills result, state (n bytes: what each
//  recipient's RCPT got, see smtp_io_t) and logs the outcome.
static void
s_send (email_t *self, const hub_relay_job_t *job, char **rcpt, size_t n,
        const relay_buf_t *msg, hub_relay_result_t *result, char *state)
{
    const hub_host_t *host = self->host;
    CURL *curl = curl_easy_init ();
    if (!curl) {
        relay_set_error (result, HUB_RELAY_RETRY, "email: curl_easy_init failed");
        relay_log_failure (host, job, result);
        return;
    }
    char mail_from[300];
    snprintf (mail_from, sizeof mail_from, "<%s>", self->from_addr);
    struct curl_slist *rcpts = NULL;
    for (size_t i = 0; i < n; i++) {
        char entry[300];
        snprintf (entry, sizeof entry, "<%s>", rcpt[i]);
        rcpts = curl_slist_append (rcpts, entry);
    }
    smtp_io_t io = {.msg = msg, .rcpt = rcpt, .rcpt_count = n, .state = state};
    relay_buf_add (&io.refusals, "", 0);
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt (curl, CURLOPT_URL, self->smtp_url);
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt (curl, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt (curl, CURLOPT_MAIL_RCPT, rcpts);
    //  A refused recipient does not stop the others. Options are enum values, not macros:
    //  the version tells the spelling (LLL in 7.69 to 8.1, Debian 12's 7.88 among them).
#if CURL_AT_LEAST_VERSION(8, 2, 0)
    curl_easy_setopt (curl, CURLOPT_MAIL_RCPT_ALLOWFAILS, 1L);
#else
    curl_easy_setopt (curl, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
#endif
    curl_easy_setopt (curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt (curl, CURLOPT_READFUNCTION, s_read);
    curl_easy_setopt (curl, CURLOPT_READDATA, &io);
    curl_easy_setopt (curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg->len);
    curl_easy_setopt (curl, CURLOPT_USE_SSL, self->use_ssl);
    if (self->ca_file)
        curl_easy_setopt (curl, CURLOPT_CAINFO, self->ca_file);
    if (self->username) {
        curl_easy_setopt (curl, CURLOPT_USERNAME, self->username);
        curl_easy_setopt (curl, CURLOPT_PASSWORD, self->password);
    }
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, self->timeout_s);
    curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT, self->timeout_s);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt (curl, CURLOPT_VERBOSE, 1L); //  feeds s_on_debug; prints nothing
    curl_easy_setopt (curl, CURLOPT_DEBUGFUNCTION, s_on_debug);
    curl_easy_setopt (curl, CURLOPT_DEBUGDATA, &io);
    relay_curl_abortable (curl, host);

    CURLcode rc = curl_easy_perform (curl);
    //  A recipient is done only once the whole exchange went through: an accepted RCPT
    //  followed by a failed DATA (4xx, a dropped connection, a timeout) got nothing.
    for (size_t i = 0; rc != CURLE_OK && i < n; i++)
        if (state[i] == 'a')
            state[i] = 0;
    long code = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup (curl);
    curl_slist_free_all (rcpts);
    if (rc == CURLE_OK && !io.refused) {
        result->outcome = HUB_RELAY_DONE;
        host->log (host->host, HUB_PLUGIN_LOG_INFO, "job %llu: mailed to %zu recipient%s",
                   (unsigned long long)job->job_id, n, n == 1 ? "" : "s");
    } else if (rc == CURLE_OK) {
        //  Those who got it are done (the memo keeps a retry from mailing them twice);
        //  a temporary refusal is tried again.
        result->outcome = io.refused_4xx ? HUB_RELAY_RETRY : HUB_RELAY_DONE;
        relay_set_error (result, result->outcome, "email: %zu of %zu recipients refused%s: %s",
                         io.refused, n, io.refused_4xx ? " (some for now)" : "",
                         io.refusals.data);
        host->log (host->host, HUB_PLUGIN_LOG_WARNING,
                   "job %llu: mailed to %zu of %zu recipients; refused: %s%s",
                   (unsigned long long)job->job_id, io.accepted, n, io.refusals.data,
                   io.refused_4xx ? "; those refused for now are tried again" : "");
    } else if (rc == CURLE_ABORTED_BY_CALLBACK) {
        relay_curl_error (rc, curl_err, "email", result);
        relay_log_failure (host, job, result);
    } else {
        hub_relay_outcome_t outcome = s_outcome (&io, rc, code);
        if (!curl_err[0])
            snprintf (curl_err, sizeof curl_err, "%s", curl_easy_strerror (rc));
        if (s_all_refused (&io))
            relay_set_error (result, outcome, "email: every recipient refused: %s",
                             io.refusals.data);
        else if (code && io.reply[0])
            relay_set_error (result, outcome, "email: %s (server said: %s)", curl_err,
                             io.reply);
        else
            relay_set_error (result, outcome, "email: %s", curl_err);
        relay_log_failure (host, job, result);
    }
    relay_buf_free (&io.refusals);
}

//  ---------------------------------------------------------------------------------
//  Plugin

static void
s_free (email_t *self)
{
    free (self->smtp_url);
    free (self->from);
    free (self->from_addr);
    free (self->domain);
    for (size_t i = 0; self->to && self->to[i]; i++)
        free (self->to[i]);
    free (self->to);
    free (self->username);
    relay_free_secret (self->password);
    free (self->ca_file);
    free (self);
}

//  Whether url's host is this machine (loopback), where plain SMTP exposes nothing.
static bool
s_loopback (const char *url)
{
    CURLU *u = curl_url ();
    char *host = NULL;
    bool loopback = false;
    if (u && curl_url_set (u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        curl_url_get (u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        //  An address, not a prefix: "127.example.org" is a name anyone can point anywhere.
        struct in_addr v4;
        loopback = strcasecmp (host, "localhost") == 0 || strcmp (host, "[::1]") == 0 ||
                   (inet_pton (AF_INET, host, &v4) == 1 && ntohl (v4.s_addr) >> 24 == 127);
    }
    curl_free (host);
    curl_url_cleanup (u);
    return loopback;
}

//  Whether s is UTF-8 text (as the protocol checks it) without control characters.
static bool
s_utf8_text (const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        if (*c < 0x20 || *c == 0x7F)
            return false;
    return hub_utf8_valid (s, strlen (s));
}

//  Whether s[0..len) is one quoted-string: quotes around text whose own quotes are escaped.
static bool
s_quoted (const char *s, size_t len)
{
    if (len < 2 || s[0] != '"' || s[len - 1] != '"')
        return false;
    size_t at = 1;
    while (at < len - 1 && s[at] != '"')
        at += s[at] == '\\' ? 2 : 1;
    return at == len - 1;
}

static void
s_trim (const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t'))
        (*s)++, (*len)--;
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

//  Parses from ("addr", "Name <addr>" or "\"Name\" <addr>") into self->from (the header
//  line), from_addr and domain. False if it is none of those.
static bool
s_parse_from (email_t *self, const char *from)
{
    if (!from)
        return false;
    const char *lt = strchr (from, '<');
    const char *gt = lt ? strchr (lt, '>') : NULL;
    if (lt && (!gt || gt[1 + strspn (gt + 1, " \t")]))
        return false; //  no closing bracket, or text after it
    const char *name = from, *addr = lt ? lt + 1 : from;
    size_t name_len = lt ? (size_t)(lt - from) : 0;
    size_t addr_len = lt ? (size_t)(gt - addr) : strlen (from);
    s_trim (&name, &name_len);
    s_trim (&addr, &addr_len);
    self->from_addr = relay_alloc (addr_len + 1);
    memcpy (self->from_addr, addr, addr_len);
    if (!s_valid_address (self->from_addr))
        return false;
    //  The name as people read it: a quoted-string loses its quotes and escapes.
    bool quoted = s_quoted (name, name_len);
    char *plain = relay_alloc (name_len + 1);
    size_t len = 0;
    for (size_t at = quoted; at < name_len - quoted; at++) {
        at += quoted && name[at] == '\\';
        plain[len++] = name[at];
    }
    bool ok = s_utf8_text (plain);
    if (ok) {
        self->from = s_from_line (plain, self->from_addr);
        self->domain = relay_strdup (strchr (self->from_addr, '@') + 1);
    }
    free (plain);
    return ok;
}

//  Parses from, to and tls into self; returns false with a reason in err.
static bool
s_parse (email_t *self, const hub_host_t *host, char *err, size_t err_size)
{
    const char *from = host->config_get (host->host, "from");
    const char *to = host->config_get (host->host, "to");
    const char *tls = host->config_get (host->host, "tls");
    if (!s_parse_from (self, from)) {
        snprintf (err, err_size, "email: from must be an address or Name <address>");
        return false;
    }
    if (!to || !*to) {
        snprintf (err, err_size, "email: to is not set");
        return false;
    }
    size_t count = 1;
    for (const char *c = to; *c; c++)
        count += *c == ',';
    self->to = relay_alloc ((count + 1) * sizeof (char *));
    count = 0;
    for (const char *at = to; *at;) {
        size_t len = strcspn (at, ",");
        const char *start = at;
        at += len + (at[len] == ',');
        while (len && (*start == ' ' || *start == '\t'))
            start++, len--;
        while (len && (start[len - 1] == ' ' || start[len - 1] == '\t'))
            len--;
        if (!len || (at[-1] == ',' && !at[strspn (at, " \t")])) {
            snprintf (err, err_size,
                      "email: to has an empty entry (two commas, or one at either end)");
            return false;
        }
        //  "Board <board@example.org>" is taken as the address it names.
        const char *open = memchr (start, '<', len);
        if (open && start[len - 1] == '>') {
            len -= (size_t)(open + 1 - start) + 1;
            start = open + 1;
        }
        char *entry = relay_alloc (len + 1);
        memcpy (entry, start, len);
        if (strcasecmp (entry, "owner") == 0)
            memcpy (entry, "owner", 5); //  the keyword, whatever its case
        self->to[count++] = entry;
        if (strcmp (entry, "owner") && !s_valid_address (entry)) {
            snprintf (err, err_size,
                      "email: to: '%s' is neither an address (or Name <address>) nor owner",
                      entry);
            return false;
        }
    }
    if (!count) {
        snprintf (err, err_size, "email: to names no recipient");
        return false;
    }
    if (tls && strcmp (tls, "auto") && strcmp (tls, "starttls") && strcmp (tls, "none")) {
        snprintf (err, err_size, "email: tls must be auto, starttls or none");
        return false;
    }
    if (tls && !strcmp (tls, "none"))
        self->use_ssl = CURLUSESSL_NONE;
    else if ((!tls || !strcmp (tls, "auto")) && s_loopback (self->smtp_url))
        self->use_ssl = CURLUSESSL_TRY;
    else
        self->use_ssl = CURLUSESSL_ALL;
    return true;
}

static int
s_init (const hub_host_t *host, void **state_p, char *err, size_t err_size)
{
    email_t *self = relay_alloc (sizeof *self);
    self->host = host;
    const char *url = host->config_get (host->host, "smtp_url");
    const char *username = host->config_get (host->host, "username");
    const char *password_file = host->config_get (host->host, "password_file");
    const char *ca_file = host->config_get (host->host, "ca_file");
    self->timeout_s = relay_timeout (host);
    self->id_seed = s_hash (0xCBF29CE484222325ULL, host->relay_name ? host->relay_name : "");
    if (!url || (strncmp (url, "smtp://", 7) && strncmp (url, "smtps://", 8))) {
        snprintf (err, err_size, "email: smtp_url must be an smtp:// or smtps:// URL");
        goto fail;
    }
    char why[256] = "";
    if (!relay_url_usable (url, why, sizeof why)) {
        snprintf (err, err_size, "email: smtp_url is not a usable URL: %s", why);
        goto fail;
    }
    if (relay_url_has_userinfo (url)) {
        snprintf (err, err_size,
                  "email: smtp_url must not hold a user name or password: "
                  "give username and password_file");
        goto fail;
    }
    self->smtp_url = relay_strdup (url);
    if (self->timeout_s < 0) {
        snprintf (err, err_size, "email: timeout must be 1..300 seconds");
        goto fail;
    }
    if (!s_parse (self, host, err, err_size))
        goto fail;
    if (!username != !password_file) {
        snprintf (err, err_size, "email: username and password_file go together");
        goto fail;
    }
    if (username) {
        self->password = host->read_secret (host->host, password_file, why, sizeof why);
        if (!self->password) {
            snprintf (err, err_size, "email: password_file: %s", why);
            goto fail;
        }
        self->username = relay_strdup (username);
        //  Loopback or not, credentials go out in clear text only if tls = none says so.
        if (self->use_ssl == CURLUSESSL_TRY)
            self->use_ssl = CURLUSESSL_ALL;
        if (self->use_ssl == CURLUSESSL_NONE && strncmp (url, "smtps://", 8))
            host->log (host->host, HUB_PLUGIN_LOG_WARNING,
                       "tls = none: the password crosses the network in clear text");
    }
    if (ca_file)
        self->ca_file = relay_strdup (ca_file);
    curl_global_init (CURL_GLOBAL_DEFAULT);
    *state_p = self;
    return 0;
fail:
    s_free (self);
    return -1;
}

//  The memo's text for an address: s_hash of it in lower case, folded to 32 bits.
static void
s_addr_hash (const char *addr, char out[EMAIL_HASH_TEXT])
{
    char lower[320];
    size_t len = 0;
    for (; addr[len] && len < sizeof lower - 1; len++)
        lower[len] = (char)tolower ((unsigned char)addr[len]);
    lower[len] = 0;
    uint64_t hash = s_hash (0xCBF29CE484222325ULL, lower);
    snprintf (out, EMAIL_HASH_TEXT, "%08x", (unsigned)(uint32_t)(hash ^ (hash >> 32)));
}

//  Whether the mailed: memo says addr was dealt with by an earlier attempt.
static bool
s_memo_has (const char *memo, const char *addr)
{
    char hash[EMAIL_HASH_TEXT];
    s_addr_hash (addr, hash);
    for (const char *at = memo; at && (at = strstr (at, hash)); at++)
        if ((at == memo || at[-1] == ',') && (at[8] == ',' || at[8] == 0))
            return true;
    return false;
}

//  After an attempt that was refused for now by some: the memo of who is done (the
//  earlier ones, those accepted and those refused for good). False if it does not fit,
//  and the job is then done, as before memos (a retry would mail some twice).
static bool
s_memo_done (hub_relay_result_t *result, unsigned long long job_id, const char *memo,
             char **sent, const char *state, size_t n)
{
    snprintf (result->memo_key, sizeof result->memo_key, "mailed:%llu", job_id);
    int len = snprintf (result->memo_value, sizeof result->memo_value, "%s", memo ? memo : "");
    for (size_t i = 0; i < n; i++) {
        if (state[i] != 'a' && state[i] != '5')
            continue;
        char hash[EMAIL_HASH_TEXT];
        s_addr_hash (sent[i], hash);
        if ((size_t)len + EMAIL_HASH_TEXT >= sizeof result->memo_value) {
            result->memo_key[0] = 0;
            return false;
        }
        len += snprintf (result->memo_value + len, sizeof result->memo_value - (size_t)len,
                         "%s%s", len ? "," : "", hash);
    }
    return true;
}

static void
s_deliver (void *state, const hub_relay_job_t *job, hub_relay_result_t *result)
{
    email_t *self = state;
    const hub_host_t *host = self->host;
    size_t count = 0;
    while (self->to[count])
        count++;
    char **rcpt = relay_alloc ((count + 1) * sizeof (char *));
    size_t n = 0;
    //  `owner` is the owner's directory address on action items, and no one otherwise.
    bool action = relay_job_is_action (job);
    bool wants_owner = false;
    const char *owner_addr =
        job->owner_email && s_valid_address (job->owner_email) ? job->owner_email : NULL;
    for (size_t i = 0; i < count; i++) {
        const char *addr = self->to[i];
        if (!strcmp (addr, "owner")) {
            if (!action)
                continue;
            wants_owner = true;
            addr = owner_addr;
        }
        bool twice = false;
        for (size_t j = 0; addr && j < n; j++)
            twice = twice || !strcasecmp (rcpt[j], addr);
        if (addr && !twice)
            rcpt[n++] = (char *)addr;
    }
    if (wants_owner && !owner_addr) {
        relay_set_error (result, n ? HUB_RELAY_DONE : HUB_RELAY_DEAD,
                         "email: owner %s has no usable email address in the directory (or "
                         "has left the partnership)",
                         job->owner && *job->owner ? job->owner : "(none)");
        host->log (host->host, n ? HUB_PLUGIN_LOG_WARNING : HUB_PLUGIN_LOG_ERROR,
                   "job %llu: %s", (unsigned long long)job->job_id, result->error);
    }
    if (n == 0) {
        if (!wants_owner) //  only `owner` configured and this is no action item
            result->outcome = HUB_RELAY_DONE;
        free (rcpt);
        return;
    }
    //  A retry goes to those an earlier attempt did not reach (the memo), To naming all.
    char key[64];
    snprintf (key, sizeof key, "mailed:%llu", (unsigned long long)job->job_id);
    const char *memo = host->memo_get (host->host, key);
    char **sent = relay_alloc ((n + 1) * sizeof (char *));
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!memo || !s_memo_has (memo, rcpt[i]))
            sent[m++] = rcpt[i];
    char *states = relay_alloc (m + 1);
    relay_buf_t msg = {0};
    s_message (self, job, rcpt, &msg);
    if (m)
        s_send (self, job, sent, m, &msg, result, states);
    else
        result->outcome = HUB_RELAY_DONE;
    //  The memo grows with each try that reached someone (kept after the last one too:
    //  a job whose outcome was lost is tried again, and must mail nobody twice).
    bool remember = m && (result->outcome == HUB_RELAY_RETRY || memo);
    if (remember && !s_memo_done (result, job->job_id, memo, sent, states, m) &&
        result->outcome == HUB_RELAY_RETRY) {
        result->outcome = HUB_RELAY_DONE;
        host->log (host->host, HUB_PLUGIN_LOG_WARNING,
                   "job %llu: too many recipients to remember who got it: not tried again",
                   (unsigned long long)job->job_id);
    }
    relay_buf_free (&msg);
    free (states);
    free (sent);
    free (rcpt);
}

static void
s_destroy (void **state_p)
{
    email_t *self = *state_p;
    if (!self)
        return;
    s_free (self);
    curl_global_cleanup ();
    *state_p = NULL;
}

__attribute__ ((visibility ("default"))) const hub_plugin_t hub_plugin_descriptor = {
    .abi_version = HUB_PLUGIN_ABI_VERSION,
    .struct_size = sizeof (hub_plugin_t),
    .name = "email",
    .description = "Email over SMTP (RFC 5322, UTF-8 quoted-printable, STARTTLS, AUTH)",
    .init = s_init,
    .deliver = s_deliver,
    .destroy = s_destroy,
};
