/*  hub_keys.c - Ed25519 identities, their key files and their CURVE (X25519) halves.

    Key text is the 32-byte public key in base64url without padding: 43 characters whose
    last one carries 2 unused bits that must be zero (libsodium refuses others), so every
    key has exactly one text.

    A secret key file is exactly these 114 bytes (PROTOCOL.md section 2):

        "hubd-key-v1\n"                  12 bytes
        "public " KEYTEXT "\n"           51 bytes
        "secret " SEEDTEXT "\n"          51 bytes

    It is created with O_EXCL and mode 0600 and never overwritten. Loading refuses a file
    any group or other permission bit is set on, any byte out of place, and a public line
    that is not the key pair derived from the seed.
*/
#include "hub_keys.h"
#include "hub_util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAGIC_LINE    "hubd-key-v1\n"
#define S_PUBLIC_PREFIX "public "
#define S_SECRET_PREFIX "secret "
#define S_LINE_BYTES    (7 + HUB_KEYTEXT_LEN + 1)
#define S_FILE_BYTES    (12 + 2 * S_LINE_BYTES)
#define S_PUBFILE_MAX   256 //  a .pub file holds key text and a newline; allow some slack

//  Decodes exactly HUB_KEYTEXT_LEN base64url characters into 32 bytes.
static bool
s_decode32 (const char *text, size_t len, uint8_t out[32])
{
    if (len != HUB_KEYTEXT_LEN)
        return false;
    //  libsodium 1.0.18 maps some bytes above 0x7F to base64 digits (found by the fuzzer):
    //  check the alphabet first.
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_base642bin (out, 32, text, len, NULL, &bin_len, &end,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return false;
    return bin_len == 32 && end == text + len;
}

void
hub_identity_generate (hub_identity_t *out)
{
    hub_util_sodium_ready ();
    crypto_sign_keypair (out->pk, out->sk);
}

void
hub_key_to_text (const uint8_t pk[HUB_PUBKEY_BYTES], char out[HUB_KEYTEXT_LEN + 1])
{
    sodium_bin2base64 (out, HUB_KEYTEXT_LEN + 1, pk, HUB_PUBKEY_BYTES,
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static bool
s_is_space (char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

//  Key text with surrounding whitespace, from a buffer that need not end in NUL.
static hub_err_t
s_key_from_buffer (const char *text, size_t len, uint8_t pk[HUB_PUBKEY_BYTES])
{
    while (len > 0 && s_is_space (text[0])) {
        text++;
        len--;
    }
    while (len > 0 && s_is_space (text[len - 1]))
        len--;
    uint8_t tmp[HUB_PUBKEY_BYTES];
    if (!s_decode32 (text, len, tmp))
        return HUB_E_BAD_KEY;
    memcpy (pk, tmp, HUB_PUBKEY_BYTES);
    return HUB_OK;
}

hub_err_t
hub_key_from_text (const char *text, uint8_t pk[HUB_PUBKEY_BYTES])
{
    if (text == NULL)
        return HUB_E_BAD_KEY;
    return s_key_from_buffer (text, strlen (text), pk);
}

//  Reads a whole small file into buf (at most cap bytes). Returns the byte count, -1 with
//  errno set on a read error, or -2 if the file holds more than cap bytes.
static ssize_t
s_read_small (int fd, char *buf, size_t cap)
{
    size_t have = 0;
    while (true) {
        char spill; //  one byte past cap tells a full file from an oversize one
        char *dest = have < cap ? buf + have : &spill;
        size_t room = have < cap ? cap - have : 1;
        ssize_t got = read (fd, dest, room);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -1;
        if (got == 0)
            return (ssize_t)have;
        if (have == cap)
            return -2;
        have += (size_t)got;
    }
}

hub_err_t
hub_key_resolve (const char *text_or_path, uint8_t pk[HUB_PUBKEY_BYTES])
{
    if (text_or_path == NULL)
        return HUB_E_BAD_KEY;
    if (hub_key_from_text (text_or_path, pk) == HUB_OK)
        return HUB_OK;
    int fd = open (text_or_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        //  Without a slash a missing file is more likely mistyped key text than a path.
        if (errno == ENOENT && strchr (text_or_path, '/') == NULL)
            return HUB_E_BAD_KEY;
        return HUB_E_IO;
    }
    char buf[S_PUBFILE_MAX];
    ssize_t got = s_read_small (fd, buf, sizeof buf);
    close (fd);
    if (got == -1)
        return HUB_E_IO;
    if (got < 0)
        return HUB_E_BAD_KEY;
    return s_key_from_buffer (buf, (size_t)got, pk);
}

hub_err_t
hub_key_curve_public (const uint8_t ed_pk[HUB_PUBKEY_BYTES], uint8_t curve_pk[32])
{
    hub_util_sodium_ready ();
    if (crypto_sign_ed25519_pk_to_curve25519 (curve_pk, ed_pk) != 0)
        return HUB_E_BAD_KEY;
    return HUB_OK;
}

hub_err_t
hub_key_curve_secret (const hub_identity_t *id, uint8_t curve_sk[32])
{
    hub_util_sodium_ready ();
    //  A secret key whose public half has no X25519 form is no usable identity either.
    uint8_t curve_pk[32];
    if (crypto_sign_ed25519_pk_to_curve25519 (curve_pk, id->pk) != 0)
        return HUB_E_BAD_KEY;
    if (crypto_sign_ed25519_sk_to_curve25519 (curve_sk, id->sk) != 0)
        return HUB_E_BAD_KEY;
    return HUB_OK;
}

//  --------------------------------------------------------------------------
//  Key files

static bool
s_write_all (int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t put = write (fd, data, len);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return false;
        data += put;
        len -= (size_t)put;
    }
    return true;
}

//  Creates path exclusively with mode, writes data and syncs it. On failure removes
//  what it created and returns HUB_E_CONFLICT (the file existed) or HUB_E_IO.
static hub_err_t
s_create_file (const char *path, mode_t mode, const char *data, size_t len, char *why,
               size_t why_size)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        int err = errno;
        hub_util_why (why, why_size, "cannot create %s: %s", path, strerror (err));
        return err == EEXIST ? HUB_E_CONFLICT : HUB_E_IO;
    }
    //  The umask may have taken bits away from a .pub; set exactly what we promise.
    bool ok = fchmod (fd, mode) == 0 && s_write_all (fd, data, len) && fsync (fd) == 0;
    int err = errno;
    if (close (fd) != 0 && ok) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        hub_util_why (why, why_size, "cannot write %s: %s", path, strerror (err));
        unlink (path);
        return HUB_E_IO;
    }
    return HUB_OK;
}

hub_err_t
hub_pubkey_save (const uint8_t pk[HUB_PUBKEY_BYTES], const char *path, char *why,
                 size_t why_size)
{
    char content[HUB_KEYTEXT_LEN + 2];
    hub_key_to_text (pk, content);
    strcat (content, "\n");
    return s_create_file (path, 0644, content, HUB_KEYTEXT_LEN + 1, why, why_size);
}

hub_err_t
hub_identity_save (const hub_identity_t *id, const char *path, char *why, size_t why_size)
{
    size_t path_len = strlen (path);
    char *pub_path = HUB_CHECKED (malloc (path_len + 5));
    memcpy (pub_path, path, path_len);
    memcpy (pub_path + path_len, ".pub", 5);

    //  Refuse before writing anything if either file exists.
    struct stat st;
    hub_err_t rc = HUB_OK;
    if (lstat (pub_path, &st) == 0) {
        hub_util_why (why, why_size, "%s already exists; not overwriting it", pub_path);
        rc = HUB_E_CONFLICT;
    } else if (lstat (path, &st) == 0) {
        hub_util_why (why, why_size, "%s already exists; not overwriting it", path);
        rc = HUB_E_CONFLICT;
    }
    char key_text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (id->pk, key_text);
    char content[S_FILE_BYTES + 1];
    if (rc == HUB_OK) {
        char seed_text[HUB_KEYTEXT_LEN + 1];
        sodium_bin2base64 (seed_text, sizeof seed_text, id->sk, 32,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        int n = snprintf (content, sizeof content, S_MAGIC_LINE "public %s\nsecret %s\n",
                          key_text, seed_text);
        assert (n == S_FILE_BYTES);
        sodium_memzero (seed_text, sizeof seed_text);
        rc = s_create_file (path, 0600, content, S_FILE_BYTES, why, why_size);
        sodium_memzero (content, sizeof content);
    }
    if (rc == HUB_OK) {
        rc = hub_pubkey_save (id->pk, pub_path, why, why_size);
        if (rc != HUB_OK)
            unlink (path); //  both files or neither
    }
    free (pub_path);
    return rc;
}

//  Parses the 114 bytes of a key file into out. Returns a reason, or NULL if valid.
static const char *
s_parse_key_file (const char *buf, size_t len, hub_identity_t *out)
{
    if (len < S_FILE_BYTES)
        return "file is truncated";
    if (len > S_FILE_BYTES)
        return "unexpected data after the secret line";
    if (memcmp (buf, S_MAGIC_LINE, 12) != 0)
        return "first line is not hubd-key-v1";
    const char *pub_line = buf + 12;
    const char *sec_line = pub_line + S_LINE_BYTES;
    uint8_t pk[HUB_PUBKEY_BYTES];
    if (memcmp (pub_line, S_PUBLIC_PREFIX, 7) != 0 || pub_line[S_LINE_BYTES - 1] != '\n' ||
        !s_decode32 (pub_line + 7, HUB_KEYTEXT_LEN, pk))
        return "public line is not 'public KEYTEXT'";
    uint8_t seed[32];
    if (memcmp (sec_line, S_SECRET_PREFIX, 7) != 0 || sec_line[S_LINE_BYTES - 1] != '\n' ||
        !s_decode32 (sec_line + 7, HUB_KEYTEXT_LEN, seed))
        return "secret line is not 'secret SEEDTEXT'";
    crypto_sign_seed_keypair (out->pk, out->sk, seed);
    sodium_memzero (seed, sizeof seed);
    if (sodium_memcmp (out->pk, pk, HUB_PUBKEY_BYTES) != 0) {
        sodium_memzero (out, sizeof *out);
        return "public line does not match the secret seed";
    }
    return NULL;
}

hub_err_t
hub_identity_load (const char *path, hub_identity_t *out, char *why, size_t why_size)
{
    hub_util_sodium_ready ();
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        hub_util_why (why, why_size, "cannot open key file %s: %s", path, strerror (errno));
        return HUB_E_IO;
    }
    struct stat st;
    if (fstat (fd, &st) != 0) {
        hub_util_why (why, why_size, "cannot stat key file %s: %s", path, strerror (errno));
        close (fd);
        return HUB_E_IO;
    }
    if (!S_ISREG (st.st_mode)) {
        hub_util_why (why, why_size, "key file %s is not a regular file", path);
        close (fd);
        return HUB_E_BAD_KEY;
    }
    //  By its size alone (a secret file is not read before its mode is checked): the
    //  public half, KEYTEXT and a newline, given where the identity was meant.
    if (st.st_size == HUB_KEYTEXT_LEN + 1 || st.st_size == HUB_KEYTEXT_LEN) {
        hub_util_why (why, why_size,
                      "%s holds a public key, not an identity: give the secret key file "
                      "(FILE, not FILE.pub)",
                      path);
        close (fd);
        return HUB_E_BAD_KEY;
    }
    if ((st.st_mode & 077) != 0) {
        hub_util_why (why, why_size,
                      "key file %s is readable by group or others (mode %04o); chmod 600 %s",
                      path, (unsigned)(st.st_mode & 07777), path);
        close (fd);
        return HUB_E_BAD_KEY;
    }
    char buf[S_FILE_BYTES + 1];
    ssize_t got = s_read_small (fd, buf, sizeof buf);
    int err = errno;
    close (fd);
    if (got == -1) {
        hub_util_why (why, why_size, "cannot read key file %s: %s", path, strerror (err));
        return HUB_E_IO;
    }
    hub_identity_t id;
    const char *reason =
        got < 0 ? "file is too long" : s_parse_key_file (buf, (size_t)got, &id);
    sodium_memzero (buf, sizeof buf);
    if (reason != NULL) {
        hub_util_why (why, why_size, "key file %s is invalid: %s", path, reason);
        return HUB_E_BAD_KEY;
    }
    *out = id;
    sodium_memzero (&id, sizeof id);
    return HUB_OK;
}
