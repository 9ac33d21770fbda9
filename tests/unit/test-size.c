/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/common/size.c: sizes on the command line. */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>

#include "common/size.h"
#include "unit-common.h"

static const struct {
  const char *in;
  bool ok;
  uint64_t bytes;
} rows[] = {
  { "0", true, 0 },
  { "1048576", true, 1048576 },
  { "64K", true, 65536 },
  { "64KiB", true, 65536 },
  { "1M", true, 1048576 },
  { "2MiB", true, 2097152 },
  { "1G", true, 1073741824 },
  { "3GiB", true, 3ULL << 30 },
  { "007", true, 7 },
  { "18446744073709551615", true, UINT64_MAX },
  { "17179869183G", true, 17179869183ULL << 30 },
  /* refused */
  { "", false, 0 },
  { "M", false, 0 },
  { "KiB", false, 0 },
  { "-1", false, 0 },
  { "-1M", false, 0 },
  { "+1", false, 0 },
  { " 1", false, 0 },
  { "1 ", false, 0 },
  { "1 M", false, 0 },
  { "1.5M", false, 0 },
  { "0x10", false, 0 },
  { "1e6", false, 0 },
  { "1T", false, 0 },
  { "1B", false, 0 },
  { "1MB", false, 0 },
  { "1Mi", false, 0 },
  { "1MiBx", false, 0 },
  { "1KM", false, 0 },
  { "1m", false, 0 },
  { "1\n", false, 0 },
  { "18446744073709551616", false, 0 },         /* UINT64_MAX + 1 */
  { "99999999999999999999999", false, 0 },
  { "17179869184G", false, 0 },                 /* 2^64 */
  { "18014398509481984K", false, 0 },
};

static void
test_sizes (void **state)
{
  for (size_t i = 0; i < VC_TEST_ROWS (rows); i++) {
    uint64_t got = 12345;
    int r = vc_parse_size (rows[i].in, &got);
    if (r != (rows[i].ok ? 0 : -1))
      fail_msg ("'%s': returned %d", rows[i].in, r);
    if (rows[i].ok && got != rows[i].bytes)
      fail_msg ("'%s': %llu, expected %llu", rows[i].in,
                (unsigned long long) got, (unsigned long long) rows[i].bytes);
    if (!rows[i].ok && got != 12345)
      fail_msg ("'%s': refused, but wrote the result", rows[i].in);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_sizes),
  };
  int r;

  vc_test_log_init ("test-size");
  r = cmocka_run_group_tests_name ("size", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
