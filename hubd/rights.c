/*  rights.c - see rights.h. */
#include "rights.h"
#include "admin.h"
#include "mem.h"
#include "hub_text.h"
#include <czmq.h>
#include <string.h>

struct _rights_t {
    uint8_t hub_pk[HUB_PUBKEY_BYTES];
    uint8_t admin_pk[HUB_PUBKEY_BYTES];
    zhashx_t *curve_cache; //  hex of Ed25519 key -> hex of its X25519 key
};

rights_t *
rights_new (const uint8_t hub_pk[HUB_PUBKEY_BYTES], const uint8_t admin_pk[HUB_PUBKEY_BYTES])
{
    rights_t *self = mem_zalloc (sizeof *self);
    memcpy (self->hub_pk, hub_pk, HUB_PUBKEY_BYTES);
    memcpy (self->admin_pk, admin_pk, HUB_PUBKEY_BYTES);
    self->curve_cache = zhashx_new ();
    zhashx_set_destructor (self->curve_cache, (zhashx_destructor_fn *)zstr_free);
    return self;
}

void
rights_destroy (rights_t **self_p)
{
    rights_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->curve_cache);
    free (self);
    *self_p = NULL;
}

//  True if the connection's CURVE key (hex, from ZAP) belongs to the Ed25519 author key.
//  Conversions cost as much as a signature check, so they are cached.
static bool
s_author_is_peer (rights_t *self, const uint8_t author[HUB_PUBKEY_BYTES], const char *user_id)
{
    char author_hex[2 * HUB_PUBKEY_BYTES + 1];
    hub_hex_encode (author, HUB_PUBKEY_BYTES, author_hex);
    const char *curve_hex = zhashx_lookup (self->curve_cache, author_hex);
    if (!curve_hex) {
        uint8_t curve[32];
        char hex[65] = "";
        if (hub_key_curve_public (author, curve) == HUB_OK)
            hub_hex_encode (curve, 32, hex);
        if (zhashx_size (self->curve_cache) > 100000)
            zhashx_purge (self->curve_cache);
        zhashx_update (self->curve_cache, author_hex, mem_strdup (hex));
        curve_hex = zhashx_lookup (self->curve_cache, author_hex);
    }
    return user_id && curve_hex[0] && strcmp (curve_hex, user_id) == 0;
}

bool
rights_may_see (const char *publish, const char *read, const partner_t *who)
{
    return directory_allows (who, read) || directory_allows (who, publish);
}

hub_err_t
rights_check_readable (const rights_view_t *view, const partner_t *who,
                       char (*channels)[HUB_CHANNEL_MAX + 1], size_t count, char *why,
                       size_t why_size)
{
    for (size_t i = 0; i < count; i++) {
        const char *publish, *read;
        if (!channel_set_rights (view->channels, channels[i], &publish, &read) ||
            !rights_may_see (publish, read, who)) {
            snprintf (why, why_size, "there is no channel '%s'", channels[i]);
            return HUB_E_UNKNOWN_CHANNEL;
        }
        if (!directory_allows (who, read)) {
            snprintf (why, why_size, "partner '%s' may publish on channel '%s' but not read it",
                      who->name, channels[i]);
            return HUB_E_FORBIDDEN;
        }
    }
    return HUB_OK;
}

static hub_err_t
s_check_rights (rights_t *self, const rights_view_t *view, uint8_t cmd, const partner_t *who,
                const char *user_id, const hub_header_t *hdr, char *why, size_t why_size)
{
    const char *publish, *read;
    if (!channel_set_rights (view->channels, hdr->channel, &publish, &read) ||
        !rights_may_see (publish, read, who)) {
        snprintf (why, why_size, "there is no channel '%s'", hdr->channel);
        return HUB_E_UNKNOWN_CHANNEL;
    }
    bool admin = cmd == HUB_CMD_ADMIN;
    bool commitment = !admin && action_kind (hdr->kind) && strcmp (hdr->kind, "reminder") != 0;
    if (admin ? strcmp (hdr->kind, "admin") != 0 || strcmp (hdr->channel, ADMIN_CHANNEL) != 0
              : strcmp (hdr->kind, "message") != 0 && !commitment) {
        snprintf (why, why_size,
                  admin ? "an ADMIN command is a message of kind 'admin' on channel 'admin'"
                        : "messages of kind '%s' cannot be published by clients",
                  hdr->kind);
        return HUB_E_BAD_HEADER;
    }
    if (commitment && strcmp (hdr->channel, ACTION_CHANNEL) != 0) {
        snprintf (why, why_size, "action items live on channel '%s'", ACTION_CHANNEL);
        return HUB_E_BAD_HEADER;
    }
    if (!s_author_is_peer (self, hdr->author, user_id)) {
        snprintf (why, why_size, "the header's author key is not the key of this connection");
        return HUB_E_KEY_MISMATCH;
    }
    //  The admin channel is the record of administrator actions: only the administrator
    //  writes it, whatever roles and lists say (the hub's messages do not come this way).
    bool record = strcmp (hdr->channel, ADMIN_CHANNEL) == 0;
    if (admin || record ? !who->admin : !directory_allows (who, publish)) {
        snprintf (why, why_size, "partner '%s' may not %s", who->name,
                  admin    ? "give administrator commands"
                  : record ? "publish on channel 'admin' (only the administrator does)"
                           : "publish on this channel");
        return HUB_E_FORBIDDEN;
    }
    return HUB_OK;
}

//  An admin command's body is checked here, before its signature: bad syntax never costs
//  a verify, and the administrator gets a precise reason.
static hub_err_t
s_check_admin_body (rights_t *self, const void *body, size_t blen, char *why, size_t why_size)
{
    admin_op_t op;
    hub_err_t err = admin_parse (body, blen, true, &op, why, why_size);
    if (err == HUB_OK && op.kind == ADMIN_PARTNER_ADD &&
        (memcmp (op.key, self->hub_pk, HUB_PUBKEY_BYTES) == 0 ||
         memcmp (op.key, self->admin_pk, HUB_PUBKEY_BYTES) == 0)) {
        snprintf (why, why_size, "that key is the hub's or the administrator's own");
        err = HUB_E_CONFLICT;
    }
    return err;
}

//  Action items are checked here for what the front door knows; the store checks the
//  rest (who may close an item) in the transaction that logs it.
static hub_err_t
s_check_action (const rights_view_t *view, const hub_header_t *hdr, char *why, size_t why_size)
{
    action_fields_t f;
    hub_err_t err = action_parse (hdr->kind, hdr->action_json, &f, why, why_size);
    if (err != HUB_OK)
        return err;
    if (strcmp (hdr->kind, "action") == 0) {
        const partner_t *owner = directory_by_name (view->directory, f.owner);
        if (strspn (hdr->title, " ") == strlen (hdr->title)) {
            snprintf (why, why_size, "an action item needs a title (not only blanks)");
            return HUB_E_BAD_REQUEST;
        }
        if (!owner || owner->left_ms) {
            snprintf (why, why_size, "the owner '%s' is not a current partner", f.owner);
            return HUB_E_UNKNOWN_PARTNER;
        }
        //  A due time already past is fine (a commitment recorded late is overdue at
        //  once); only times no partnership means are refused.
        if (f.due_ms < HUB_DUE_MIN_MS || f.due_ms > HUB_DUE_MAX_MS) {
            snprintf (why, why_size,
                      "the due time must be from 2000-01-01 to 9999-12-31 (UTC), not %lld ms "
                      "since the epoch",
                      (long long)f.due_ms);
            return HUB_E_BAD_REQUEST;
        }
        return HUB_OK;
    }
    action_t *action = action_set_find (view->actions, f.id);
    if (!action) {
        snprintf (why, why_size, "there is no action item %llu", (unsigned long long)f.id);
        return HUB_E_NOT_FOUND;
    }
    if (strcmp (action->status, "open") != 0) {
        snprintf (why, why_size, "action item %llu is already %s", (unsigned long long)f.id,
                  action->status);
        return HUB_E_CONFLICT;
    }
    return HUB_OK;
}

hub_err_t
rights_check_signed (rights_t *self, const rights_view_t *view, uint8_t cmd,
                     const partner_t *who, const char *user_id, const void *header, size_t hlen,
                     const void *body, size_t blen, size_t sig_len, hub_header_t *hdr,
                     char *why, size_t why_size)
{
    if (sig_len != HUB_SIG_BYTES) {
        snprintf (why, why_size, "the signature frame has %zu bytes, not %d", sig_len,
                  HUB_SIG_BYTES);
        return HUB_E_MALFORMED;
    }
    hub_err_t err = hub_header_decode (header, hlen, hdr);
    if (err != HUB_OK) {
        snprintf (why, why_size, "the header is invalid: %s", hub_strerror (err));
        return err;
    }
    //  A title is one line: a newline or an escape sequence in it would break every
    //  listing and terminal it is shown in (older logs may hold such titles: only new
    //  messages are held to it, here).
    for (const char *c = hdr->title; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            snprintf (why, why_size,
                      "the title must be one line of text: it has the control character "
                      "0x%02x at byte %td",
                      (unsigned)(unsigned char)*c, c - hdr->title);
            return HUB_E_BAD_HEADER;
        }
    err = hub_body_check (body, blen, hlen, view->max_message_bytes);
    if (err != HUB_OK) {
        snprintf (why, why_size, "the body is refused: %s (limit %zu bytes with the header)",
                  hub_strerror (err), view->max_message_bytes);
        return err;
    }
    err = s_check_rights (self, view, cmd, who, user_id, hdr, why, why_size);
    if (err == HUB_OK && cmd == HUB_CMD_ADMIN)
        err = s_check_admin_body (self, body, blen, why, why_size);
    else if (err == HUB_OK && action_kind (hdr->kind))
        err = s_check_action (view, hdr, why, why_size);
    return err;
}
