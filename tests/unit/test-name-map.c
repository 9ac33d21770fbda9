/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/store/name-map.c: domain names <-> store file names. */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/name-map.h"

/* Longest file name any file system we care about accepts. */
#define NAME_MAX_BYTES 255

/* Names that once broke, or could break, a naive mapping. */
static const char *const tricky_names[] = {
  "web1",
  "a",
  "web 1",
  "a/b",
  "/",
  "//",
  "../etc/passwd",
  "%",
  "%41",
  "%2F",
  "100%",
  ".",
  "..",
  "...",
  ".hidden",
  "a.",
  "a..b",
  "x.xml",
  ".xml",
  "~",
  "~abc",
  "tab\there",
  "new\nline",
  "quote\"'`",
  "<&>",
  "caf\xc3\xa9",                          /* café */
  "\xe2\x9c\x93 \xf0\x9f\x98\x80",        /* check mark, emoji */
  "\xff\xfe\x80",                         /* not UTF-8 at all */
  "\x01",
  " ",
  "-",
  "_",
  "0",
};

/* Everything that may appear in a mapped file name, besides the suffix. */
static void
assert_safe_file_name (const char *name, const char *file)
{
  assert_non_null (file);
  assert_true (strlen (file) <= NAME_MAX_BYTES);
  assert_null (strchr (file, '/'));
  assert_string_not_equal (file, ".");
  assert_string_not_equal (file, "..");
  assert_true (file[0] != '.');
  assert_true (strlen (file) > strlen (VC_DOC_SUFFIX));
  assert_string_equal (file + strlen (file) - strlen (VC_DOC_SUFFIX),
                       VC_DOC_SUFFIX);
  /* Only the characters the encoding produces: no space, no control
   * character, no byte >= 0x80 ever reaches the file system.
   */
  for (const char *p = file; *p; p++)
    if (!strchr ("abcdefghijklmnopqrstuvwxyz"
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                 "0123456789_-.%~", *p))
      fail_msg ("file %s of name '%s' has byte 0x%02x", file, name,
                (unsigned char) *p);
}

static char *
repeat (char c, size_t n)
{
  char *s = malloc (n + 1);

  assert_non_null (s);
  memset (s, c, n);
  s[n] = '\0';
  return s;
}

static void
test_plain_name_maps_to_name_xml (void **state)
{
  char *file = vc_name_to_file ("web-1_db.prod");

  assert_string_equal (file, "web-1_db.prod.xml");
  assert_int_equal (vc_file_kind (file), VC_FILE_ENCODED);
  free (file);
}

static void
test_special_bytes_become_percent_hex (void **state)
{
  static const struct { const char *name, *file; } cases[] = {
    { "web 1", "web%201.xml" },
    { "a/b", "a%2Fb.xml" },
    { "100%", "100%25.xml" },
    { "caf\xc3\xa9", "caf%C3%A9.xml" },
    { ".hidden", "%2Ehidden.xml" },
    { ".", "%2E.xml" },
    { "..", "%2E..xml" },
    { "/", "%2F.xml" },
    { "~", "%7E.xml" },
    { "%/ ", "%25%2F%20.xml" },
  };

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *file = vc_name_to_file (cases[i].name);
    assert_string_equal (file, cases[i].file);
    assert_safe_file_name (cases[i].name, file);
    free (file);
  }
}

static void
test_tricky_names_give_safe_file_names (void **state)
{
  for (size_t i = 0; i < sizeof tricky_names / sizeof tricky_names[0]; i++) {
    char *file = vc_name_to_file (tricky_names[i]);
    assert_safe_file_name (tricky_names[i], file);
    free (file);
  }
}

static void
test_decode_encode_round_trip (void **state)
{
  for (size_t i = 0; i < sizeof tricky_names / sizeof tricky_names[0]; i++) {
    char *file = vc_name_to_file (tricky_names[i]);
    char *name = vc_file_to_name (file);

    assert_non_null (name);
    assert_string_equal (name, tricky_names[i]);
    assert_int_equal (vc_file_kind (file), VC_FILE_ENCODED);
    free (name);
    free (file);
  }
}

/* All byte values in one name: its encoding is far over the readable
 * limit, so it is hashed; the document keeps the name (see test-store).
 * Cut in pieces short enough to stay encoded, every byte value must also
 * survive decode (encode (x)).
 */
static void
test_all_byte_values (void **state)
{
  char all[256];
  char *file;

  for (int i = 1; i <= 255; i++)
    all[i - 1] = i;
  all[255] = '\0';
  assert_int_equal (strlen (all), 255);

  file = vc_name_to_file (all);
  assert_safe_file_name ("(bytes 1..255)", file);
  assert_int_equal (vc_file_kind (file), VC_FILE_HASHED);
  errno = 0;
  assert_null (vc_file_to_name (file));
  assert_int_equal (errno, EINVAL);
  free (file);

  /* 60 bytes encode to at most 180 < VC_MAX_ENCODED_NAME. */
  for (size_t start = 0; start < 255; start += 60) {
    char piece[61];
    size_t n = 255 - start < 60 ? 255 - start : 60;
    memcpy (piece, all + start, n);
    piece[n] = '\0';

    file = vc_name_to_file (piece);
    assert_safe_file_name ("(piece of bytes 1..255)", file);
    assert_int_equal (vc_file_kind (file), VC_FILE_ENCODED);
    char *back = vc_file_to_name (file);
    assert_non_null (back);
    assert_int_equal (strlen (back), n);
    assert_memory_equal (back, piece, n);
    free (back);
    free (file);
  }
}

static bool
is_hashed_file (const char *file)
{
  if (strlen (file) != 1 + 64 + strlen (VC_DOC_SUFFIX) || file[0] != '~')
    return false;
  for (size_t i = 1; i <= 64; i++)
    if (!strchr ("0123456789abcdef", file[i]))
      return false;
  return strcmp (file + 65, VC_DOC_SUFFIX) == 0;
}

static void
test_long_name_is_hashed (void **state)
{
  char *name = repeat ('x', 1000);
  char *file = vc_name_to_file (name);

  assert_true (is_hashed_file (file));
  assert_int_equal (vc_file_kind (file), VC_FILE_HASHED);
  assert_safe_file_name (name, file);
  /* The hash is a function of the name. */
  char *again = vc_name_to_file (name);
  assert_string_equal (again, file);
  free (again);
  free (file);
  free (name);
}

/* The limit applies to the encoded length, not to the name's. */
static void
test_hashing_starts_above_encoded_limit (void **state)
{
  char *name = repeat ('a', VC_MAX_ENCODED_NAME);
  char *file = vc_name_to_file (name);

  assert_int_equal (strlen (file), VC_MAX_ENCODED_NAME + strlen (VC_DOC_SUFFIX));
  assert_int_equal (vc_file_kind (file), VC_FILE_ENCODED);
  free (file);
  free (name);

  name = repeat ('a', VC_MAX_ENCODED_NAME + 1);
  file = vc_name_to_file (name);
  assert_true (is_hashed_file (file));
  free (file);
  free (name);

  /* 66 '%' encode to 198 bytes, 67 to 201. */
  name = repeat ('%', 66);
  file = vc_name_to_file (name);
  assert_int_equal (vc_file_kind (file), VC_FILE_ENCODED);
  char *back = vc_file_to_name (file);
  assert_string_equal (back, name);
  free (back);
  free (file);
  free (name);

  name = repeat ('%', 67);
  file = vc_name_to_file (name);
  assert_true (is_hashed_file (file));
  free (file);
  free (name);
}

static void
test_different_long_names_give_different_files (void **state)
{
  char *a = repeat ('x', 300);
  char *b = repeat ('x', 300);
  char *c = repeat ('x', 301);
  b[299] = 'y';                 /* differs only in the last byte */

  char *fa = vc_name_to_file (a);
  char *fb = vc_name_to_file (b);
  char *fc = vc_name_to_file (c);
  assert_string_not_equal (fa, fb);
  assert_string_not_equal (fa, fc);
  assert_string_not_equal (fb, fc);
  free (fa);
  free (fb);
  free (fc);
  free (a);
  free (b);
  free (c);
}

static void
test_non_canonical_files_are_rejected (void **state)
{
  static const char *const files[] = {
    "%41.xml",                  /* "A" written the long way */
    "a%2fb.xml",                /* lowercase hex */
    "%2f.xml",
    "%00.xml",                  /* would truncate the name */
    "a%00b.xml",
    "%4.xml",                   /* truncated escape */
    "%.xml",
    "a%.xml",
    "%4G.xml",
    ".hidden.xml",              /* leading '.' must be %2E */
    "..xml",
    "a b.xml",                  /* space must be %20 */
    "caf\xc3\xa9.xml",          /* raw UTF-8 */
    "~.xml",                    /* '~' only starts a hash */
    "~abc.xml",
    "~0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF.xml",
    ".xml",
    "xml",
    ".tmp-0123456789abcdef",
    ".tmp-web.xml.0123",
    ".lock",
    "foo.txt",
    "foo.XML",
    "foo.xml~",
    "",
  };

  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    errno = 0;
    char *name = vc_file_to_name (files[i]);
    if (name != NULL)
      fail_msg ("%s decoded to '%s'", files[i], name);
    assert_int_equal (errno, EINVAL);
    assert_int_equal (vc_file_kind (files[i]), VC_FILE_OTHER);
  }
}

static void
test_hashed_file_is_not_decodable (void **state)
{
  const char *file =
    "~0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.xml";

  assert_int_equal (vc_file_kind (file), VC_FILE_HASHED);
  errno = 0;
  assert_null (vc_file_to_name (file));
  assert_int_equal (errno, EINVAL);
}

static void
test_empty_name_is_einval (void **state)
{
  errno = 0;
  assert_null (vc_name_to_file (""));
  assert_int_equal (errno, EINVAL);
}

/* Whatever the name, the file name fits NAME_MAX. */
static void
test_every_file_name_fits_name_max (void **state)
{
  static const char fill[] = { 'a', '%', '.', '\xff' };

  for (size_t f = 0; f < sizeof fill; f++) {
    for (size_t n = 1; n <= 400; n++) {
      char *name = repeat (fill[f], n);
      char *file = vc_name_to_file (name);
      assert_safe_file_name (name, file);
      free (file);
      free (name);
    }
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_plain_name_maps_to_name_xml),
    cmocka_unit_test (test_special_bytes_become_percent_hex),
    cmocka_unit_test (test_tricky_names_give_safe_file_names),
    cmocka_unit_test (test_decode_encode_round_trip),
    cmocka_unit_test (test_all_byte_values),
    cmocka_unit_test (test_long_name_is_hashed),
    cmocka_unit_test (test_hashing_starts_above_encoded_limit),
    cmocka_unit_test (test_different_long_names_give_different_files),
    cmocka_unit_test (test_non_canonical_files_are_rejected),
    cmocka_unit_test (test_hashed_file_is_not_decodable),
    cmocka_unit_test (test_empty_name_is_einval),
    cmocka_unit_test (test_every_file_name_fits_name_max),
  };
  int r;

  vc_log_init ("test-name-map", -1);
  r = cmocka_run_group_tests_name ("name-map", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
