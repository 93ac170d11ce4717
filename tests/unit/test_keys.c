/*  test_keys.c - unit tests of proto/hub_keys.c: key text, key files, CURVE halves.

    Every test that touches files gets its own mkdtemp directory, so ctest -j is safe.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hub_keys.h"

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char dir[64];
    char key[128];
    char pub[128];
} fixture_t;

static int
setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    if (f == NULL)
        return -1;
    strcpy (f->dir, "/tmp/hub-test-keys-XXXXXX");
    if (mkdtemp (f->dir) == NULL)
        return -1;
    snprintf (f->key, sizeof f->key, "%s/id.key", f->dir);
    snprintf (f->pub, sizeof f->pub, "%s/id.key.pub", f->dir);
    *state = f;
    return 0;
}

static int
teardown (void **state)
{
    fixture_t *f = *state;
    DIR *dir = opendir (f->dir);
    if (dir != NULL) {
        struct dirent *entry;
        while ((entry = readdir (dir)) != NULL) {
            if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
                continue;
            char path[512];
            snprintf (path, sizeof path, "%s/%s", f->dir, entry->d_name);
            if (unlink (path) != 0)
                rmdir (path);
        }
        closedir (dir);
    }
    rmdir (f->dir);
    free (f);
    return 0;
}

static void
write_file (const char *path, const char *text, size_t len, mode_t mode)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_int_equal (fwrite (text, 1, len, file), len);
    assert_int_equal (fclose (file), 0);
    assert_int_equal (chmod (path, mode), 0);
}

static size_t
read_file (const char *path, char *buf, size_t cap)
{
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    size_t len = fread (buf, 1, cap - 1, file);
    fclose (file);
    buf[len] = '\0';
    return len;
}

//  A valid key file for a fixed seed, so tests can corrupt it byte by byte.
static void
valid_key_file (char out[128], hub_identity_t *id)
{
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(0x11 * i);
    crypto_sign_seed_keypair (id->pk, id->sk, seed);
    char pk_text[HUB_KEYTEXT_LEN + 1], seed_text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (id->pk, pk_text);
    sodium_bin2base64 (seed_text, sizeof seed_text, seed, 32,
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf (out, 128, "hubd-key-v1\npublic %s\nsecret %s\n", pk_text, seed_text);
    assert_int_equal (strlen (out), 114);
}

static hub_err_t
load_text (fixture_t *f, const char *text, size_t len, char *why, size_t why_size)
{
    unlink (f->key);
    write_file (f->key, text, len, 0600);
    hub_identity_t id;
    return hub_identity_load (f->key, &id, why, why_size);
}

//  --------------------------------------------------------------------------

static void
test_key_text_round_trip (void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        hub_identity_t id;
        hub_identity_generate (&id);
        char text[HUB_KEYTEXT_LEN + 1];
        hub_key_to_text (id.pk, text);
        assert_int_equal (strlen (text), HUB_KEYTEXT_LEN);
        assert_null (strpbrk (text, "+/="));
        uint8_t pk[32];
        assert_int_equal (hub_key_from_text (text, pk), HUB_OK);
        assert_memory_equal (pk, id.pk, 32);
    }
    const uint8_t zeros[32] = {0};
    char text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (zeros, text);
    assert_string_equal (text, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
}

static void
test_key_text_whitespace_allowed (void **state)
{
    (void)state;
    hub_identity_t id;
    hub_identity_generate (&id);
    char text[HUB_KEYTEXT_LEN + 1], padded[64];
    hub_key_to_text (id.pk, text);
    snprintf (padded, sizeof padded, " \t%s\r\n", text);
    uint8_t pk[32];
    assert_int_equal (hub_key_from_text (padded, pk), HUB_OK);
    assert_memory_equal (pk, id.pk, 32);
}

static void
test_key_text_refused (void **state)
{
    (void)state;
    uint8_t pk[32];
    const char *good = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_int_equal (hub_key_from_text (good, pk), HUB_OK);
    assert_int_equal (hub_key_from_text (NULL, pk), HUB_E_BAD_KEY);
    assert_int_equal (hub_key_from_text ("", pk), HUB_E_BAD_KEY);
    assert_int_equal (hub_key_from_text ("   ", pk), HUB_E_BAD_KEY);
    //  42 and 44 characters
    assert_int_equal (hub_key_from_text ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", pk),
                      HUB_E_BAD_KEY);
    assert_int_equal (hub_key_from_text ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", pk),
                      HUB_E_BAD_KEY);
    //  standard base64 alphabet and padding are not key text
    assert_int_equal (hub_key_from_text ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+A", pk),
                      HUB_E_BAD_KEY);
    assert_int_equal (hub_key_from_text ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/A", pk),
                      HUB_E_BAD_KEY);
    assert_int_equal (hub_key_from_text ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", pk),
                      HUB_E_BAD_KEY);
    assert_int_equal (hub_key_from_text ("AAAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAA", pk),
                      HUB_E_BAD_KEY);
    //  Bytes above 0x7F that libsodium 1.0.18 would decode as digits (found by fuzzing).
    assert_int_equal (hub_key_from_text ("ebVWLo_mVPlAeLES6KmLp5\xcc"
                                         "fhTrmlb7X4OORC60ElmQ",
                                         pk),
                      HUB_E_BAD_KEY);
    for (int c = 0x80; c <= 0xff; c++) {
        char text[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        text[20] = (char)c;
        assert_int_equal (hub_key_from_text (text, pk), HUB_E_BAD_KEY);
    }
    //  The last character carries two unused bits: only one text per key.
    assert_int_equal (hub_key_from_text ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", pk),
                      HUB_E_BAD_KEY);
    assert_int_equal (hub_key_from_text ("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE", pk),
                      HUB_OK);
}

static void
test_key_resolve (void **state)
{
    fixture_t *f = *state;
    hub_identity_t id;
    hub_identity_generate (&id);
    char text[HUB_KEYTEXT_LEN + 1], line[64];
    hub_key_to_text (id.pk, text);
    uint8_t pk[32];
    assert_int_equal (hub_key_resolve (text, pk), HUB_OK);
    assert_memory_equal (pk, id.pk, 32);

    snprintf (line, sizeof line, "%s\n", text);
    write_file (f->pub, line, strlen (line), 0644);
    memset (pk, 0, 32);
    assert_int_equal (hub_key_resolve (f->pub, pk), HUB_OK);
    assert_memory_equal (pk, id.pk, 32);

    write_file (f->pub, "not a key\n", 10, 0644);
    assert_int_equal (hub_key_resolve (f->pub, pk), HUB_E_BAD_KEY);
    char big[1024];
    memset (big, ' ', sizeof big);
    memcpy (big, line, strlen (line));
    write_file (f->pub, big, sizeof big, 0644);
    assert_int_equal (hub_key_resolve (f->pub, pk), HUB_E_BAD_KEY);

    char missing[160];
    snprintf (missing, sizeof missing, "%s/nope.pub", f->dir);
    assert_int_equal (hub_key_resolve (missing, pk), HUB_E_IO);
    assert_int_equal (hub_key_resolve ("mistyped-key-text", pk), HUB_E_BAD_KEY);
    assert_int_equal (hub_key_resolve (NULL, pk), HUB_E_BAD_KEY);
}

static void
test_key_file_round_trip (void **state)
{
    fixture_t *f = *state;
    hub_identity_t id, back;
    hub_identity_generate (&id);
    char why[256] = "";
    assert_int_equal (hub_identity_save (&id, f->key, why, sizeof why), HUB_OK);
    struct stat st;
    assert_int_equal (stat (f->key, &st), 0);
    assert_int_equal (st.st_mode & 07777, 0600);
    assert_int_equal (st.st_size, 114);
    assert_int_equal (stat (f->pub, &st), 0);
    assert_int_equal (st.st_mode & 07777, 0644);

    assert_int_equal (hub_identity_load (f->key, &back, why, sizeof why), HUB_OK);
    assert_memory_equal (back.pk, id.pk, 32);
    assert_memory_equal (back.sk, id.sk, 64);

    char text[HUB_KEYTEXT_LEN + 1], expect[64], got[128];
    hub_key_to_text (id.pk, text);
    snprintf (expect, sizeof expect, "%s\n", text);
    read_file (f->pub, got, sizeof got);
    assert_string_equal (got, expect);
    uint8_t pk[32];
    assert_int_equal (hub_key_resolve (f->pub, pk), HUB_OK);
    assert_memory_equal (pk, id.pk, 32);

    //  The file format is exactly PROTOCOL.md section 2.
    read_file (f->key, got, sizeof got);
    assert_int_equal (strncmp (got, "hubd-key-v1\npublic ", 19), 0);
    assert_int_equal (strncmp (got + 19, text, HUB_KEYTEXT_LEN), 0);
}

static void
test_key_file_never_overwritten (void **state)
{
    fixture_t *f = *state;
    hub_identity_t first, second, back;
    hub_identity_generate (&first);
    hub_identity_generate (&second);
    char why[256] = "";
    assert_int_equal (hub_identity_save (&first, f->key, why, sizeof why), HUB_OK);
    assert_int_equal (hub_identity_save (&second, f->key, why, sizeof why), HUB_E_CONFLICT);
    assert_non_null (strstr (why, "already exists"));
    assert_int_equal (hub_identity_load (f->key, &back, why, sizeof why), HUB_OK);
    assert_memory_equal (back.pk, first.pk, 32);

    //  Only the .pub exists: refused before anything is written.
    unlink (f->key);
    assert_int_equal (hub_identity_save (&second, f->key, NULL, 0), HUB_E_CONFLICT);
    assert_int_equal (access (f->key, F_OK), -1);
    //  Only the secret exists.
    unlink (f->pub);
    write_file (f->key, "x", 1, 0600);
    assert_int_equal (hub_identity_save (&second, f->key, why, sizeof why), HUB_E_CONFLICT);
    assert_int_equal (access (f->pub, F_OK), -1);
}

static void
test_key_file_save_io_error (void **state)
{
    fixture_t *f = *state;
    hub_identity_t id;
    hub_identity_generate (&id);
    char path[160], why[256] = "";
    snprintf (path, sizeof path, "%s/no/such/dir/key", f->dir);
    assert_int_equal (hub_identity_save (&id, path, why, sizeof why), HUB_E_IO);
    assert_non_null (strstr (why, "cannot create"));
}

static void
test_key_file_mode_refused (void **state)
{
    fixture_t *f = *state;
    hub_identity_t id;
    char text[128];
    valid_key_file (text, &id);
    write_file (f->key, text, strlen (text), 0644);
    char why[512] = "", expect[512];
    hub_identity_t back;
    assert_int_equal (hub_identity_load (f->key, &back, why, sizeof why), HUB_E_BAD_KEY);
    snprintf (expect, sizeof expect,
              "key file %s is readable by group or others (mode 0644); chmod 600 %s", f->key,
              f->key);
    assert_string_equal (why, expect);
    assert_int_equal (chmod (f->key, 0640), 0);
    assert_int_equal (hub_identity_load (f->key, &back, NULL, 0), HUB_E_BAD_KEY);
    assert_int_equal (chmod (f->key, 0602), 0);
    assert_int_equal (hub_identity_load (f->key, &back, NULL, 0), HUB_E_BAD_KEY);
    assert_int_equal (chmod (f->key, 0400), 0);
    assert_int_equal (hub_identity_load (f->key, &back, why, sizeof why), HUB_OK);
    assert_memory_equal (back.pk, id.pk, 32);
}

static void
test_key_file_corrupt (void **state)
{
    fixture_t *f = *state;
    hub_identity_t id;
    char good[128], bad[256], why[256];
    valid_key_file (good, &id);
    assert_int_equal (load_text (f, good, 114, why, sizeof why), HUB_OK);

    //  Truncated at every length, and one byte too many.
    for (size_t len = 0; len < 114; len++)
        assert_int_equal (load_text (f, good, len, NULL, 0), HUB_E_BAD_KEY);
    assert_int_equal (load_text (f, good, 113, why, sizeof why), HUB_E_BAD_KEY);
    assert_non_null (strstr (why, "truncated"));
    //  The size of a .pub file: named for what it is.
    assert_int_equal (load_text (f, good, 44, why, sizeof why), HUB_E_BAD_KEY);
    assert_non_null (strstr (why, "holds a public key, not an identity"));
    snprintf (bad, sizeof bad, "%s\n", good);
    assert_int_equal (load_text (f, bad, 115, why, sizeof why), HUB_E_BAD_KEY);
    //  Any single byte changed (except the public line, checked below) is refused or, for
    //  a non-canonical base64 change, still refused: one text per seed.
    for (size_t i = 0; i < 114; i++) {
        memcpy (bad, good, 114);
        bad[i] = (char)(bad[i] == '#' ? '$' : '#');
        assert_int_equal (load_text (f, bad, 114, NULL, 0), HUB_E_BAD_KEY);
    }
    memcpy (bad, good, 114);
    memcpy (bad, "hubd-key-v2", 11);
    assert_int_equal (load_text (f, bad, 114, why, sizeof why), HUB_E_BAD_KEY);
    assert_non_null (strstr (why, "hubd-key-v1"));
    memcpy (bad, good, 114);
    bad[113] = '\r';
    assert_int_equal (load_text (f, bad, 114, NULL, 0), HUB_E_BAD_KEY);
    memcpy (bad, good, 114);
    memcpy (bad + 12, "PUBLIC", 6);
    assert_int_equal (load_text (f, bad, 114, NULL, 0), HUB_E_BAD_KEY);
}

static void
test_key_file_public_mismatch (void **state)
{
    fixture_t *f = *state;
    hub_identity_t id, other;
    char text[128], why[256] = "";
    valid_key_file (text, &id);
    hub_identity_generate (&other);
    char other_text[HUB_KEYTEXT_LEN + 1];
    hub_key_to_text (other.pk, other_text);
    memcpy (text + 12 + 7, other_text, HUB_KEYTEXT_LEN);
    assert_int_equal (load_text (f, text, 114, why, sizeof why), HUB_E_BAD_KEY);
    assert_non_null (strstr (why, "does not match"));
}

static void
test_key_file_missing (void **state)
{
    fixture_t *f = *state;
    hub_identity_t id;
    char why[256] = "";
    assert_int_equal (hub_identity_load (f->key, &id, why, sizeof why), HUB_E_IO);
    assert_non_null (strstr (why, "cannot open"));
    //  A directory is not a key file.
    assert_int_equal (hub_identity_load (f->dir, &id, why, sizeof why), HUB_E_BAD_KEY);
}

static void
test_curve_derivation (void **state)
{
    (void)state;
    hub_identity_t id;
    hub_identity_generate (&id);
    uint8_t curve_pk[32], curve_sk[32], derived[32];
    assert_int_equal (hub_key_curve_public (id.pk, curve_pk), HUB_OK);
    assert_int_equal (hub_key_curve_secret (&id, curve_sk), HUB_OK);
    //  The two halves are one X25519 key pair.
    assert_int_equal (crypto_scalarmult_base (derived, curve_sk), 0);
    assert_memory_equal (derived, curve_pk, 32);

    uint8_t invalid[32];
    memset (invalid, 0xff, sizeof invalid); //  not a canonical point encoding
    assert_int_equal (hub_key_curve_public (invalid, curve_pk), HUB_E_BAD_KEY);
    memset (invalid, 0, sizeof invalid); //  a small-order point
    assert_int_equal (hub_key_curve_public (invalid, curve_pk), HUB_E_BAD_KEY);
}

static void
test_generate_distinct (void **state)
{
    (void)state;
    hub_identity_t a, b;
    hub_identity_generate (&a);
    hub_identity_generate (&b);
    assert_memory_not_equal (a.pk, b.pk, 32);
    assert_memory_equal (a.sk + 32, a.pk, 32); //  libsodium's layout: seed || pk
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_key_text_round_trip),
        cmocka_unit_test (test_key_text_whitespace_allowed),
        cmocka_unit_test (test_key_text_refused),
        cmocka_unit_test_setup_teardown (test_key_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown (test_key_file_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown (test_key_file_never_overwritten, setup, teardown),
        cmocka_unit_test_setup_teardown (test_key_file_save_io_error, setup, teardown),
        cmocka_unit_test_setup_teardown (test_key_file_mode_refused, setup, teardown),
        cmocka_unit_test_setup_teardown (test_key_file_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown (test_key_file_public_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown (test_key_file_missing, setup, teardown),
        cmocka_unit_test (test_curve_derivation),
        cmocka_unit_test (test_generate_distinct),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
