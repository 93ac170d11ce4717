/*  hub_err.h - the one error code enum of hubd, its clients and its plugins.

    Codes are part of the wire protocol (proto/PROTOCOL.md, section 5): they are sent in
    ERROR frames and must never be renumbered. Add new codes at the end only.
*/
#ifndef HUB_ERR_H_INCLUDED
#define HUB_ERR_H_INCLUDED

typedef enum {
    HUB_OK = 0,
    HUB_E_MALFORMED = 1,
    HUB_E_VERSION = 2,
    HUB_E_UNKNOWN_COMMAND = 3,
    HUB_E_TOO_LARGE = 4,
    HUB_E_BAD_UTF8 = 5,
    HUB_E_BAD_NAME = 6,
    HUB_E_BAD_HEADER = 7,
    HUB_E_BAD_SIGNATURE = 8,
    HUB_E_KEY_MISMATCH = 9,
    HUB_E_UNKNOWN_CHANNEL = 10,
    HUB_E_FORBIDDEN = 11,
    HUB_E_UNKNOWN_PARTNER = 12,
    HUB_E_STORAGE = 13,
    HUB_E_RATE_LIMITED = 14,
    HUB_E_INTERNAL = 15,
    HUB_E_BAD_REQUEST = 16,
    HUB_E_NOT_FOUND = 17,
    HUB_E_CONFLICT = 18,
    HUB_E_UNAVAILABLE = 19,
    HUB_E_BAD_KEY = 20,
    HUB_E_IO = 21,
    HUB_E_TIMEOUT = 22,
    HUB_E__COUNT
} hub_err_t;

//  Returns a short English description of the code ("signature does not verify").
//  Never NULL; unknown codes give "unknown error". Static storage.
const char *hub_strerror (hub_err_t err);

//  Returns the code's protocol name ("BAD_SIGNATURE"). Never NULL; static storage.
const char *hub_err_name (hub_err_t err);

#endif
