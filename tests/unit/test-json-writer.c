/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/common/json-writer.c: the --json documents. */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json-writer.h"
#include "unit-common.h"

/* One string, as written (a top-level value). */
static const struct {
  const char *in;
  const char *out;
} strings[] = {
  { "", "\"\"" },
  { "web1", "\"web1\"" },
  { "a \"quoted\" name", "\"a \\\"quoted\\\" name\"" },
  { "back\\slash", "\"back\\\\slash\"" },
  { "two\nlines\r\n", "\"two\\nlines\\r\\n\"" },
  { "tab\there\b\f", "\"tab\\there\\b\\f\"" },
  { "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"" },
  { "/slash/ stays", "\"/slash/ stays\"" },
  /* valid UTF-8 as it is: 2, 3 and 4 byte forms, the highest code point */
  { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xbe", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xbe\"" },
  { "\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"" },
  { "\xef\xbf\xbf", "\"\xef\xbf\xbf\"" },
  /* anything else byte by byte as \udcXX */
  { "\xff", "\"\\udcff\"" },
  { "a\x80z", "\"a\\udc80z\"" },
  { "\xc3", "\"\\udcc3\"" },                       /* cut short */
  { "\xc3(", "\"\\udcc3(\"" },                     /* bad continuation */
  { "\xc0\xaf", "\"\\udcc0\\udcaf\"" },            /* overlong '/' */
  { "\xe0\x80\xaf", "\"\\udce0\\udc80\\udcaf\"" }, /* overlong, 3 bytes */
  { "\xed\xa0\x80", "\"\\udced\\udca0\\udc80\"" }, /* a surrogate, U+D800 */
  { "\xf4\x90\x80\x80", "\"\\udcf4\\udc90\\udc80\\udc80\"" }, /* past U+10FFFF */
  { "\xf5\x80\x80\x80", "\"\\udcf5\\udc80\\udc80\\udc80\"" },
  { "\xe2\x82", "\"\\udce2\\udc82\"" },            /* a 3-byte form cut short */
};

/* Runs fn on a writer over a memory stream; returns what it wrote. */
static char *
written (void (*fn) (struct vc_json *, const void *), const void *arg, int *finish)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *fp = open_memstream (&buf, &len);
  struct vc_json j;

  assert_non_null (fp);
  vc_json_init (&j, fp);
  fn (&j, arg);
  *finish = vc_json_finish (&j);
  fclose (fp);
  return buf;
}

static void
one_string (struct vc_json *j, const void *s)
{
  vc_json_string (j, s);
}

static void
test_strings (void **state)
{
  for (size_t i = 0; i < VC_TEST_ROWS (strings); i++) {
    int r;
    char *out = written (one_string, strings[i].in, &r);
    char *want = vc_printf ("%s\n", strings[i].out);
    assert_int_equal (r, 0);
    if (strcmp (out, want) != 0)
      fail_msg ("row %zu: wrote %s, expected %s", i, out, want);
    free (out);
    free (want);
  }
}

/* Every single byte: a control character, printable ASCII, or \udcXX. */
static void
test_every_byte (void **state)
{
  for (int b = 1; b < 256; b++) {
    char in[2] = { (char) b, 0 };
    int r;
    char *out = written (one_string, in, &r);
    assert_int_equal (r, 0);
    if (b >= 0x80)
      assert_true (strncmp (out, "\"\\udc", 5) == 0);
    else if (b < 0x20 || b == 0x7f)
      assert_true (out[1] == '\\');
    else if (b != '"' && b != '\\')
      assert_int_equal (strlen (out), 4);     /* "x" and the newline */
    free (out);
  }
}

static void
document (struct vc_json *j, const void *unused)
{
  vc_json_begin_object (j);
  vc_json_member_uint (j, "version", 1);
  vc_json_member_int (j, "negative", -42);
  vc_json_member_uint (j, "big", UINT64_MAX);
  vc_json_member_int (j, "small", INT64_MIN);
  vc_json_member_bool (j, "yes", true);
  vc_json_member_bool (j, "no", false);
  vc_json_member_string (j, "none", NULL);
  vc_json_key (j, "seconds");
  vc_json_seconds (j, 2.3456);
  vc_json_key (j, "empty");
  vc_json_begin_array (j);
  vc_json_end_array (j);
  vc_json_key (j, "list");
  vc_json_begin_array (j);
  vc_json_uint (j, 1);
  vc_json_begin_object (j);
  vc_json_end_object (j);
  vc_json_begin_object (j);
  vc_json_member_string (j, "k\"", "v");
  vc_json_end_object (j);
  vc_json_end_array (j);
  vc_json_end_object (j);
}

static void
test_document (void **state)
{
  int r;
  char *out = written (document, NULL, &r);

  assert_int_equal (r, 0);
  assert_string_equal (out,
    "{\n"
    "  \"version\": 1,\n"
    "  \"negative\": -42,\n"
    "  \"big\": 18446744073709551615,\n"
    "  \"small\": -9223372036854775808,\n"
    "  \"yes\": true,\n"
    "  \"no\": false,\n"
    "  \"none\": null,\n"
    "  \"seconds\": 2.346,\n"
    "  \"empty\": [],\n"
    "  \"list\": [\n"
    "    1,\n"
    "    {},\n"
    "    {\n"
    "      \"k\\\"\": \"v\"\n"
    "    }\n"
    "  ]\n"
    "}\n");
  free (out);
}

/* Misuse is remembered and reported by vc_json_finish. */
static void misuse_value_for_key (struct vc_json *j, const void *u)
{ vc_json_begin_object (j); vc_json_uint (j, 1); vc_json_end_object (j); }
static void misuse_key_in_array (struct vc_json *j, const void *u)
{ vc_json_begin_array (j); vc_json_key (j, "k"); vc_json_end_array (j); }
static void misuse_unclosed (struct vc_json *j, const void *u)
{ vc_json_begin_object (j); }
static void misuse_wrong_end (struct vc_json *j, const void *u)
{ vc_json_begin_object (j); vc_json_end_array (j); }
static void misuse_key_without_value (struct vc_json *j, const void *u)
{ vc_json_begin_object (j); vc_json_key (j, "k"); vc_json_end_object (j); }
static void misuse_too_deep (struct vc_json *j, const void *u)
{
  for (int i = 0; i <= VC_JSON_MAX_DEPTH; i++)
    vc_json_begin_array (j);
  for (int i = 0; i <= VC_JSON_MAX_DEPTH; i++)
    vc_json_end_array (j);
}

static void
test_misuse (void **state)
{
  void (*const cases[]) (struct vc_json *, const void *) = {
    misuse_value_for_key, misuse_key_in_array, misuse_unclosed,
    misuse_wrong_end, misuse_key_without_value, misuse_too_deep,
  };

  for (size_t i = 0; i < VC_TEST_ROWS (cases); i++) {
    int r;
    free (written (cases[i], NULL, &r));
    if (r != -1)
      fail_msg ("misuse %zu was not reported", i);
  }
}

static void
test_seconds (void **state)
{
  static const struct { double in; const char *out; } rows[] = {
    { 0, "0.000\n" }, { 0.0004, "0.000\n" }, { 0.0005, "0.001\n" },
    { 1.5, "1.500\n" }, { 59.9999, "60.000\n" }, { 123456.789, "123456.789\n" },
    { -1, "null\n" }, { 1.0 / 0.0, "null\n" },
  };

  for (size_t i = 0; i < VC_TEST_ROWS (rows); i++) {
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream (&buf, &len);
    struct vc_json j;
    vc_json_init (&j, fp);
    vc_json_seconds (&j, rows[i].in);
    assert_int_equal (vc_json_finish (&j), 0);
    fclose (fp);
    assert_string_equal (buf, rows[i].out);
    free (buf);
  }
}

/* A stream that cannot be written: vc_json_finish says so. */
static void
test_write_error (void **state)
{
  FILE *fp = fopen ("/dev/full", "w");
  struct vc_json j;

  if (fp == NULL)
    skip ();
  vc_json_init (&j, fp);
  vc_json_begin_object (&j);
  vc_json_member_uint (&j, "version", 1);
  vc_json_end_object (&j);
  assert_int_equal (vc_json_finish (&j), -1);
  fclose (fp);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_strings),
    cmocka_unit_test (test_every_byte),
    cmocka_unit_test (test_document),
    cmocka_unit_test (test_misuse),
    cmocka_unit_test (test_seconds),
    cmocka_unit_test (test_write_error),
  };
  int r;

  vc_test_log_init ("test-json-writer");
  r = cmocka_run_group_tests_name ("json-writer", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
