/*  hub_err.c - names and descriptions of the protocol's error codes.

    The tables are indexed by code; the codes and names are the wire protocol's
    (proto/PROTOCOL.md section 5), so a row may be added at the end but never moved.
*/
#include "hub_err.h"

#include <stddef.h>

typedef struct {
    const char *name;
    const char *text;
} s_err_row_t;

static const s_err_row_t s_rows[HUB_E__COUNT] = {
    [HUB_OK] = {"OK", "success"},
    [HUB_E_MALFORMED] = {"MALFORMED", "malformed frame"},
    [HUB_E_VERSION] = {"VERSION", "unknown protocol or header version"},
    [HUB_E_UNKNOWN_COMMAND] = {"UNKNOWN_COMMAND", "unknown command"},
    [HUB_E_TOO_LARGE] = {"TOO_LARGE", "over the size limit"},
    [HUB_E_BAD_UTF8] = {"BAD_UTF8", "text is not valid UTF-8"},
    [HUB_E_BAD_NAME] = {"BAD_NAME", "invalid channel, kind or partner name"},
    [HUB_E_BAD_HEADER] = {"BAD_HEADER", "invalid message header"},
    [HUB_E_BAD_SIGNATURE] = {"BAD_SIGNATURE", "signature does not verify"},
    [HUB_E_KEY_MISMATCH] = {"KEY_MISMATCH", "author is not the connection's key"},
    [HUB_E_UNKNOWN_CHANNEL] = {"UNKNOWN_CHANNEL", "no such channel"},
    [HUB_E_FORBIDDEN] = {"FORBIDDEN", "not allowed"},
    [HUB_E_UNKNOWN_PARTNER] = {"UNKNOWN_PARTNER", "not a current partner"},
    [HUB_E_STORAGE] = {"STORAGE", "the hub could not store the message"},
    [HUB_E_RATE_LIMITED] = {"RATE_LIMITED", "too many requests"},
    [HUB_E_INTERNAL] = {"INTERNAL", "internal error"},
    [HUB_E_BAD_REQUEST] = {"BAD_REQUEST", "invalid request arguments"},
    [HUB_E_NOT_FOUND] = {"NOT_FOUND", "no such object"},
    [HUB_E_CONFLICT] = {"CONFLICT", "conflicts with the current state"},
    [HUB_E_UNAVAILABLE] = {"UNAVAILABLE", "the hub is unavailable; retry later"},
    [HUB_E_BAD_KEY] = {"BAD_KEY", "invalid key text or key file"},
    [HUB_E_IO] = {"IO", "file or system error"},
    [HUB_E_TIMEOUT] = {"TIMEOUT", "no answer in time"},
};

static const s_err_row_t *
s_row (hub_err_t err)
{
    //  Compare as unsigned: a code read from outside may be any int.
    if ((unsigned)err >= (unsigned)HUB_E__COUNT || s_rows[err].name == NULL)
        return NULL;
    return &s_rows[err];
}

const char *
hub_strerror (hub_err_t err)
{
    const s_err_row_t *row = s_row (err);
    return row ? row->text : "unknown error";
}

const char *
hub_err_name (hub_err_t err)
{
    const s_err_row_t *row = s_row (err);
    return row ? row->name : "UNKNOWN";
}
