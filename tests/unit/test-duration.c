/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/common/duration.c: durations on the command line
 * and shown back.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/duration.h"
#include "unit-common.h"

static const struct {
  const char *in;
  bool ok;
  uint64_t seconds;
} rows[] = {
  { "0", true, 0 },
  { "900", true, 900 },
  { "90s", true, 90 },
  { "15m", true, 900 },
  { "4h", true, 14400 },
  { "1d", true, 86400 },
  { "2w", true, 1209600 },
  { "1h30m", true, 5400 },
  { "1w2d3h4m5s", true, 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5 },
  { "1d12h", true, 129600 },
  { "0s", true, 0 },
  { "007m", true, 420 },
  { "18446744073709551615", true, UINT64_MAX },
  { "18446744073709551615s", true, UINT64_MAX },
  { "30500568904943w25215s", true, UINT64_MAX },
  /* refused */
  { "", false, 0 },
  { "s", false, 0 },
  { "m15", false, 0 },
  { "-1", false, 0 },
  { "-15m", false, 0 },
  { "+1m", false, 0 },
  { " 1m", false, 0 },
  { "1m ", false, 0 },
  { "1 m", false, 0 },
  { "1.5h", false, 0 },
  { "0x10", false, 0 },
  { "1e3", false, 0 },
  { "1y", false, 0 },
  { "1M", false, 0 },
  { "1H", false, 0 },
  { "1min", false, 0 },
  { "1ms", false, 0 },          /* a unit without its number */
  { "1m30", false, 0 },         /* plain seconds stand alone */
  { "30m1h", false, 0 },        /* units out of order */
  { "1h1h", false, 0 },         /* repeated */
  { "1s1s", false, 0 },
  { "1m\n", false, 0 },
  { "18446744073709551616", false, 0 },         /* UINT64_MAX + 1 */
  { "30500568904944w", false, 0 },              /* past UINT64_MAX */
  { "30500568904943w25216s", false, 0 },        /* the sum past it */
  { "99999999999999999999999d", false, 0 },
};

static void
test_parse (void **state)
{
  for (size_t i = 0; i < VC_TEST_ROWS (rows); i++) {
    uint64_t got = 12345;
    int r = vc_parse_duration (rows[i].in, &got);
    if (r != (rows[i].ok ? 0 : -1))
      fail_msg ("'%s': returned %d", rows[i].in, r);
    if (rows[i].ok && got != rows[i].seconds)
      fail_msg ("'%s': %llu, expected %llu", rows[i].in,
                (unsigned long long) got, (unsigned long long) rows[i].seconds);
    if (!rows[i].ok && got != 12345)
      fail_msg ("'%s': refused, but wrote the result", rows[i].in);
  }
}

static void
test_format (void **state)
{
  static const struct {
    uint64_t seconds;
    const char *out;
  } f[] = {
    { 0, "0s" }, { 1, "1s" }, { 59, "59s" }, { 60, "1m" }, { 90, "1m30s" },
    { 900, "15m" }, { 3600, "1h" }, { 5400, "1h30m" }, { 86400, "1d" },
    { 604800, "1w" }, { 1209600 + 86400 + 1, "2w1d1s" },
  };
  char buf[VC_DURATION_BUFSIZE];

  for (size_t i = 0; i < VC_TEST_ROWS (f); i++)
    assert_string_equal (vc_format_duration (f[i].seconds, buf), f[i].out);
  /* 25215 s past the last whole week: 7h 0m 15s. */
  assert_string_equal (vc_format_duration (UINT64_MAX, buf),
                       "30500568904943w7h15s");
}

/* Whatever is formatted reads back as the same value. */
static void
test_round_trip (void **state)
{
  char buf[VC_DURATION_BUFSIZE];
  uint64_t v = 1, got;

  for (int i = 0; i < 2000; i++) {
    vc_format_duration (v, buf);
    assert_true (strlen (buf) < VC_DURATION_BUFSIZE);
    if (vc_parse_duration (buf, &got) != 0 || got != v)
      fail_msg ("%llu formats as '%s', which reads back as %llu",
                (unsigned long long) v, buf, (unsigned long long) got);
    v = v * 6364136223846793005ULL + 1442695040888963407ULL;   /* LCG */
    if (i % 7 == 0)
      v %= 10000000;
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parse),
    cmocka_unit_test (test_format),
    cmocka_unit_test (test_round_trip),
  };
  int r;

  vc_test_log_init ("test-duration");
  r = cmocka_run_group_tests_name ("duration", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
