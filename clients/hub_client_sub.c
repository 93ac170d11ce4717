/*  hub_client_sub.c - receiving: subscriptions with credit and resume, and history.

    Subscription invariants (PROTOCOL.md 7):
    - last_seq is the last seq handed to the caller, or the starting point (since, or the
      head the hub reported for a live-only subscription). Anything at or below it is
      dropped, so a resume (since = last_seq) on a new connection, or MSGs of an old
      SUBSCRIBE still in flight, never show a message twice.
    - Credit: the hub may send sub_window MSGs ahead. Each MSG the caller consumes (or the
      client drops) is counted; when half the window is used, a CREDIT returns it. The
      queue therefore never holds more than the window.
    - Liveness: when nothing arrived for a timeout, next_msg sends a PING; no answer within
      another timeout means the hub is gone (HUB_E_UNAVAILABLE). A disconnect seen by the
      socket monitor means the same at once: the hub forgot the subscription.
*/
#include "hub_client_private.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
hubc_sub_forget (hub_client_t *self)
{
    for (size_t i = 0; i < self->sub_count; i++)
        free (self->sub_channels[i]);
    free (self->sub_channels);
    self->sub_channels = NULL;
    self->sub_count = 0;
    self->sub_req = 0;
    self->subscribed = false;
    self->sub_unacked = 0;
    self->last_seq = 0;
    if (self->queue)
        hubc_queue_clear (self);
}

//  Sends SUBSCRIBE for the stored channels and waits for the REPLY. On success the
//  subscription is in force with request id sub_req, and *head is the hub's head.
static hub_err_t
s_subscribe (hub_client_t *self, int64_t since, uint64_t *head)
{
    char *args = hub_subscribe_args_encode ((const char *const *)self->sub_channels,
                                            self->sub_count, since, self->sub_window, true);
    if (!args)
        return hubc_fail (self, HUB_E_BAD_NAME, "invalid channel name in subscription");
    hubc_monitor_drain (self);
    self->lost = false;
    self->subscribed = false;
    self->sub_req = hubc_next_req (self);
    self->sub_unacked = 0;
    //  What the old subscription queued comes again (since = last_seq), under the new
    //  window: counting it against that window would over-credit the hub.
    hubc_queue_clear (self);
    json_t *reply = NULL;
    hub_err_t rc =
        hubc_exchange (self, HUB_CMD_SUBSCRIBE, self->sub_req, args, "SUBSCRIBE", &reply);
    free (args);
    if (rc != HUB_OK) {
        self->sub_req = 0; //  no MSG of a refused subscription is wanted
        hubc_queue_clear (self);
        return rc;
    }
    *head = 0;
    hub_util_json_uint (reply, "head", head);
    json_decref (reply);
    self->subscribed = true;
    self->last_rx_ms = hub_time_now_ms ();
    self->ping_sent_ms = 0;
    return HUB_OK;
}

hub_err_t
hub_client_subscribe (hub_client_t *self, const char *const *channels, size_t count,
                      int64_t since, uint32_t credit, uint64_t *head)
{
    assert (self);
    assert (channels || count == 0);
    hubc_clear_error (self);
    if (count < 1 || count > HUB_SUB_CHANNELS_MAX)
        return hubc_fail (self, HUB_E_BAD_REQUEST, "a subscription has 1 to %d channels",
                          HUB_SUB_CHANNELS_MAX);
    hubc_sub_forget (self);
    self->sub_channels = hubc_calloc (count, sizeof (char *));
    for (size_t i = 0; i < count; i++)
        self->sub_channels[i] = hubc_strdup (channels[i]);
    self->sub_count = count;
    self->sub_window = credit == 0               ? HUB_CREDIT_DEFAULT
                       : credit > HUB_CREDIT_MAX ? HUB_CREDIT_MAX
                                                 : credit;
    uint64_t hub_head = 0;
    hub_err_t rc = s_subscribe (self, since, &hub_head);
    if (rc != HUB_OK) {
        hubc_sub_forget (self);
        return rc;
    }
    self->last_seq = since >= 0 ? (uint64_t)since : hub_head;
    if (head)
        *head = hub_head;
    return HUB_OK;
}

hub_err_t
hub_client_resume (hub_client_t *self)
{
    assert (self);
    hubc_clear_error (self);
    if (!self->sub_channels)
        return hubc_fail (self, HUB_E_BAD_REQUEST, "there is no subscription to resume");
    hub_err_t rc = hub_client_reconnect (self);
    uint64_t head;
    if (rc == HUB_OK)
        rc = s_subscribe (self, (int64_t)self->last_seq, &head);
    return rc;
}

uint64_t
hub_client_last_seq (const hub_client_t *self)
{
    assert (self);
    return self->last_seq;
}

hub_err_t
hub_client_unsubscribe (hub_client_t *self)
{
    assert (self);
    hubc_clear_error (self);
    bool active = self->subscribed;
    hubc_sub_forget (self);
    if (!active)
        return HUB_OK;
    json_t *reply = NULL;
    hub_err_t rc = hub_client_request (self, HUB_CMD_UNSUBSCRIBE, NULL, &reply);
    json_decref (reply);
    return rc;
}

//  Counts one consumed MSG and returns credit to the hub when half the window is used.
static void
s_credit_consumed (hub_client_t *self)
{
    if (++self->sub_unacked < (self->sub_window + 1) / 2)
        return;
    uint8_t credit[4];
    hub_credit_encode (self->sub_unacked, credit);
    hubc_frame_t frame = {credit, sizeof credit};
    if (hubc_send (self, HUB_CMD_CREDIT, self->sub_req, &frame, 1) == HUB_OK)
        self->sub_unacked = 0;
}

//  Decodes the MSG frames after the envelope (cursor on it). NULL if unusable.
static hub_message_t *
s_decode_msg (zmsg_t *msg, hub_err_t *err)
{
    zframe_t *f[5];
    for (int i = 0; i < 5; i++)
        if (!(f[i] = zmsg_next (msg))) {
            *err = HUB_E_MALFORMED;
            return NULL;
        }
    return hub_message_decode (zframe_data (f[0]), zframe_size (f[0]), zframe_data (f[1]),
                               zframe_size (f[1]), zframe_data (f[2]), zframe_size (f[2]),
                               zframe_data (f[3]), zframe_size (f[3]), zframe_data (f[4]),
                               zframe_size (f[4]), err);
}

//  Decodes the record at *offset of a MSGS pack and moves *offset past it. NULL if the
//  record is unusable (the rest of the pack then is too: records have no resync point).
static hub_message_t *
s_decode_record (zframe_t *pack, size_t *offset, hub_err_t *err)
{
    hub_record_t rec;
    *err = pack ? hub_record_decode (zframe_data (pack), zframe_size (pack), offset, &rec)
                : HUB_E_MALFORMED;
    if (*err != HUB_OK)
        return NULL;
    return hub_message_decode (rec.meta, HUB_META_BYTES, rec.header, rec.hlen, rec.body,
                               rec.blen, rec.sig, HUB_SIG_BYTES, (const uint8_t *)rec.name,
                               rec.nlen, err);
}

//  True with the next record of the MSGS being taken apart in *m (NULL if unreadable, *err
//  says why); false once it is used up.
static bool
s_pack_next (hub_client_t *self, hub_message_t **m, hub_err_t *err)
{
    zframe_t *frame = hubc_pack_rest (&self->pack);
    if (!frame)
        return false;
    *m = s_decode_record (frame, &self->pack.offset, err);
    if (!*m)
        zmsg_destroy (&self->pack.msg);
    return true;
}

//  Takes the next queued message that is new. HUB_OK with *msg_p, HUB_E_TIMEOUT if the
//  queue holds none, or the code of an ERROR the hub sent for the subscription.
static hub_err_t
s_from_queue (hub_client_t *self, hub_message_t **msg_p)
{
    while (true) {
        hub_err_t err = HUB_OK;
        hub_message_t *m = NULL;
        if (!s_pack_next (self, &m, &err)) {
            zmsg_t *msg = zlist_pop (self->queue);
            if (!msg)
                return HUB_E_TIMEOUT;
            zframe_t *head = zmsg_first (msg);
            hub_env_t env;
            hub_env_decode (zframe_data (head), zframe_size (head), &env);
            if (env.cmd == HUB_CMD_ERROR) {
                hub_err_t rc = hubc_error_frame (self, msg);
                zmsg_destroy (&msg);
                self->subscribed = false;
                return rc;
            }
            if (env.cmd == HUB_CMD_MSGS) {
                if (hubc_pack_start (&self->pack, msg))
                    continue;          //  taken apart by the next rounds
                err = HUB_E_MALFORMED; //  a pack of other than one frame (destroyed)
            } else {
                if (env.cmd == HUB_CMD_MSG)
                    m = s_decode_msg (msg, &err);
                zmsg_destroy (&msg);
                if (env.cmd != HUB_CMD_MSG)
                    continue; //  not a message (a late REPLY, say)
            }
        }
        s_credit_consumed (self);
        if (!m) //  skipping it would lose a message without a word
            return hubc_fail (self, err, "the hub sent an unreadable MSG");
        if (m->seq > self->last_seq) {
            self->last_seq = m->seq;
            *msg_p = m;
            return HUB_OK;
        }
        hub_message_destroy (&m); //  seen already
    }
}

//  Pings an idle hub; returns false if a ping went unanswered for a timeout.
static bool
s_alive (hub_client_t *self, int64_t now)
{
    if (self->ping_sent_ms)
        return now - self->ping_sent_ms < self->timeout_ms;
    if (now - self->last_rx_ms >= self->timeout_ms) {
        hubc_send (self, HUB_CMD_PING, hubc_next_req (self), NULL, 0);
        self->ping_sent_ms = now;
    }
    return true;
}

hub_err_t
hub_client_next_msg (hub_client_t *self, int timeout_ms, hub_message_t **msg_p)
{
    assert (self);
    assert (msg_p);
    hubc_clear_error (self);
    *msg_p = NULL;
    if (!self->sub_channels)
        return hubc_fail (self, HUB_E_BAD_REQUEST, "there is no subscription");
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : hub_time_now_ms () + timeout_ms;
    hubc_want_t want = {0, false};
    while (true) {
        hub_err_t rc = s_from_queue (self, msg_p);
        if (rc != HUB_E_TIMEOUT)
            return rc;
        hubc_monitor_drain (self);
        if (self->auth_refused)
            return hubc_fail (self, HUB_E_FORBIDDEN, "the hub refused the connection");
        if (self->lost || !self->subscribed)
            return hubc_fail (self, HUB_E_UNAVAILABLE, "connection to %s lost", self->endpoint);
        int64_t now = hub_time_now_ms ();
        if (!s_alive (self, now)) {
            self->lost = true;
            return hubc_fail (self, HUB_E_UNAVAILABLE, "no answer to ping from %s in %d ms",
                              self->endpoint, self->timeout_ms);
        }
        if (now >= deadline)
            return hubc_fail (self, HUB_E_TIMEOUT, "no message");
        int64_t wait = deadline - now;
        if (wait > self->timeout_ms / 2 + 1)
            wait = self->timeout_ms / 2 + 1; //  wake up to check liveness
        zmsg_t *unwanted = NULL;
        hubc_pump (self, (int)wait, &want, &unwanted);
        zmsg_destroy (&unwanted);
        if (self->interrupted)
            return hubc_fail (self, HUB_E_TIMEOUT, "interrupted");
    }
}

//  --------------------------------------------------------------------------
//  History

//  Reads an END frame (cursor on the envelope) into *end.
static hub_err_t
s_read_end (hub_client_t *self, zmsg_t *msg, hub_history_end_t *end)
{
    json_t *obj = NULL;
    hub_err_t rc = hubc_json_frame (self, msg, &obj);
    if (rc != HUB_OK)
        return rc;
    memset (end, 0, sizeof *end);
    hub_util_json_uint (obj, "next", &end->next); //  absent or negative: 0
    hub_util_json_uint (obj, "head", &end->head);
    end->more = json_is_true (json_object_get (obj, "more"));
    end->complete = json_is_true (json_object_get (obj, "complete"));
    end->has_checkpoint = hub_checkpoint_from_object (json_object_get (obj, "checkpoint"),
                                                      &end->checkpoint) == HUB_OK;
    json_decref (obj);
    return HUB_OK;
}

//  One page: sends HISTORY and hands each MSG to fn until END. *delivered counts the
//  messages given to fn; *stopped is set if fn asked to stop (the rest of the page is
//  then dropped as it arrives).
static hub_err_t
s_history_page (hub_client_t *self, const char *channel, uint64_t since, uint32_t limit,
                hub_history_fn *fn, void *arg, hub_history_end_t *end, uint64_t *delivered,
                bool *stopped)
{
    char *args = hub_history_args_encode (channel, since, limit, true);
    if (!args)
        return hubc_fail (self, HUB_E_BAD_NAME, "invalid channel name '%s'", channel);
    hubc_want_t want = {hubc_next_req (self), false};
    hubc_frame_t frame = {args, strlen (args)};
    hub_err_t rc = hubc_send (self, HUB_CMD_HISTORY, want.req, &frame, 1);
    free (args);
    while (rc == HUB_OK) {
        zmsg_t *msg = NULL;
        hub_env_t env;
        rc = hubc_await (self, &want, hub_time_now_ms () + self->timeout_ms, &msg, &env);
        if (rc != HUB_OK)
            break;
        if (env.cmd == HUB_CMD_END) {
            rc = s_read_end (self, msg, end);
            zmsg_destroy (&msg);
            break;
        }
        if (env.cmd == HUB_CMD_MSG || env.cmd == HUB_CMD_MSGS) {
            //  A MSG is one message; a MSGS, records until its frame is used up.
            zframe_t *pack =
                env.cmd == HUB_CMD_MSGS && zmsg_size (msg) == 2 ? zmsg_last (msg) : NULL;
            size_t offset = 0;
            do {
                hub_err_t err = HUB_OK;
                hub_message_t *m = env.cmd == HUB_CMD_MSG
                                       ? s_decode_msg (msg, &err)
                                       : s_decode_record (pack, &offset, &err);
                if (!m) {
                    zmsg_destroy (&msg);
                    return hubc_fail (self, err, "the hub sent an unreadable MSG");
                }
                (*delivered)++;
                *stopped = !fn (m, arg);
            } while (!*stopped && pack && offset < zframe_size (pack));
            zmsg_destroy (&msg);
            if (*stopped)
                break;
            continue;
        }
        rc = env.cmd == HUB_CMD_ERROR
                 ? hubc_error_frame (self, msg)
                 : hubc_fail (self, HUB_E_MALFORMED, "unexpected answer 0x%02x to HISTORY",
                              env.cmd);
        zmsg_destroy (&msg);
    }
    return rc;
}

hub_err_t
hub_client_history (hub_client_t *self, const char *channel, uint64_t since, uint64_t limit,
                    hub_history_fn *fn, void *arg, hub_history_end_t *end)
{
    assert (self);
    assert (channel);
    assert (fn);
    hubc_clear_error (self);
    hub_history_end_t last = {0};
    uint64_t delivered = 0;
    bool stopped = false;
    while (true) {
        uint64_t want = HUB_HISTORY_LIMIT_MAX;
        if (limit && limit - delivered < want)
            want = limit - delivered;
        hub_history_end_t page = {0};
        hub_err_t rc = s_history_page (self, channel, since, (uint32_t)want, fn, arg, &page,
                                       &delivered, &stopped);
        if (rc != HUB_OK)
            return rc;
        if (!stopped)
            last = page;
        if (stopped || !page.more || (limit && delivered >= limit) || page.next <= since)
            break;
        since = page.next;
    }
    if (end)
        *end = last;
    return HUB_OK;
}
