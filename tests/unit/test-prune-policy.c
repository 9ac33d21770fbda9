/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/backup/prune-policy.c: which backups a retention
 * policy keeps, on fixed dates (UTC).
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "backup/prune-policy.h"
#include "unit-common.h"

/* 2026-11-01 10:00, 2026-11-01 18:00, 2026-11-02 09:00, 2026-11-04 08:00,
 * 2026-11-04 20:00
 */
#define NOV01A INT64_C (1793527200)
#define NOV01B INT64_C (1793556000)
#define NOV02 INT64_C (1793610000)
#define NOV04A INT64_C (1793779200)
#define NOV04B INT64_C (1793822400)
/* Sunday 2025-12-28 (ISO 2025-W52), Monday 2025-12-29 and Friday
 * 2026-01-02 (both ISO 2026-W01), each at noon.
 */
#define DEC28 INT64_C (1766923200)
#define DEC29 INT64_C (1767009600)
#define JAN02 INT64_C (1767355200)

static void
apply (struct vc_prune_policy p, struct vc_prune_point *v, size_t n)
{
  assert_int_equal (vc_prune_policy_apply (&p, v, n), 0);
}

static void
test_keep_last (void **state)
{
  (void) state;
  struct vc_prune_point v[7];
  for (unsigned i = 0; i < 7; i++)
    v[i] = (struct vc_prune_point) { i + 1, NOV01A + i * 3600, i == 6, false, 0 };
  apply ((struct vc_prune_policy) { .last = 3 }, v, 7);
  for (unsigned i = 0; i < 4; i++)
    assert_int_equal (v[i].keep, 0);
  assert_int_equal (v[4].keep, VC_KEEP_LAST);
  assert_int_equal (v[5].keep, VC_KEEP_LAST);
  assert_int_equal (v[6].keep, VC_KEEP_LAST | VC_KEEP_TIP);
}

/* Newest per day, of the N most recent days that have points: a day
 * without points does not count.
 */
static void
test_daily (void **state)
{
  (void) state;
  struct vc_prune_point v[] = {
    { 1, NOV01A, false, false, 0 }, { 2, NOV01B, false, false, 0 }, { 3, NOV02, false, false, 0 },
    { 4, NOV04A, false, false, 0 }, { 5, NOV04B, true, false, 0 },
  };
  apply ((struct vc_prune_policy) { .daily = 2 }, v, 5);
  assert_int_equal (v[0].keep, 0);
  assert_int_equal (v[1].keep, 0);
  assert_int_equal (v[2].keep, VC_KEEP_DAILY);
  assert_int_equal (v[3].keep, 0);
  assert_int_equal (v[4].keep, VC_KEEP_DAILY | VC_KEEP_TIP);

  apply ((struct vc_prune_policy) { .daily = 10 }, v, 5);
  assert_int_equal (v[1].keep, VC_KEEP_DAILY);
  assert_int_equal (v[0].keep, 0);
}

/* ISO weeks cross the new year; months do not. */
static void
test_weekly_monthly (void **state)
{
  (void) state;
  struct vc_prune_point v[] = {
    { 1, DEC28, false, false, 0 }, { 2, DEC29, false, false, 0 }, { 3, JAN02, false, false, 0 },
  };
  apply ((struct vc_prune_policy) { .weekly = 2 }, v, 3);
  assert_int_equal (v[0].keep, VC_KEEP_WEEKLY);
  assert_int_equal (v[1].keep, 0);
  assert_int_equal (v[2].keep, VC_KEEP_WEEKLY);

  apply ((struct vc_prune_policy) { .monthly = 2 }, v, 3);
  assert_int_equal (v[0].keep, 0);
  assert_int_equal (v[1].keep, VC_KEEP_MONTHLY);
  assert_int_equal (v[2].keep, VC_KEEP_MONTHLY);

  apply ((struct vc_prune_policy) { .weekly = 1, .monthly = 2 }, v, 3);
  assert_int_equal (v[0].keep, 0);
  assert_int_equal (v[1].keep, VC_KEEP_MONTHLY);
  assert_int_equal (v[2].keep, VC_KEEP_WEEKLY | VC_KEEP_MONTHLY);
}

/* The tip is kept whatever the policy, and a copy newer than it takes a
 * place among the last; the order is by time, not by id.
 */
static void
test_tip_and_order (void **state)
{
  (void) state;
  struct vc_prune_point v[] = {
    { 1, NOV01A, false, false, 0 }, { 2, NOV02, true, false, 0 }, { 3, NOV04A, false, false, 0 },
    { 4, NOV01B, false, false, 0 },
  };
  char buf[64];

  apply ((struct vc_prune_policy) { .last = 2 }, v, 4);
  assert_int_equal (v[0].keep, 0);
  assert_int_equal (v[1].keep, VC_KEEP_LAST | VC_KEEP_TIP);
  assert_int_equal (v[2].keep, VC_KEEP_LAST);
  assert_int_equal (v[3].keep, 0);
  assert_string_equal (vc_prune_reasons (v[1].keep, buf, sizeof buf), "last,tip");
  assert_string_equal (vc_prune_reasons (0, buf, sizeof buf), "");
  assert_string_equal (vc_prune_reasons (VC_KEEP_DAILY | VC_KEEP_MONTHLY, buf, 8),
                       "daily,m");

  /* What an interrupted backup builds on is kept too. */
  v[0].pinned = true;
  apply ((struct vc_prune_policy) { .last = 2 }, v, 4);
  assert_int_equal (v[0].keep, VC_KEEP_RESUME);
  assert_string_equal (vc_prune_reasons (v[0].keep | VC_KEEP_TIP, buf, sizeof buf),
                       "tip,resume");
  v[0].pinned = false;

  /* Same time: the higher id is the newer. */
  v[3].time = NOV04A;
  apply ((struct vc_prune_policy) { .last = 1 }, v, 4);
  assert_int_equal (v[3].keep, VC_KEEP_LAST);
  assert_int_equal (v[2].keep, 0);
}

static void
test_valid_and_empty (void **state)
{
  (void) state;
  struct vc_prune_policy none = { 0 }, one = { .monthly = 1 };
  assert_false (vc_prune_policy_valid (&none));
  assert_true (vc_prune_policy_valid (&one));
  assert_int_equal (vc_prune_policy_apply (&one, NULL, 0), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_keep_last),
    cmocka_unit_test (test_daily),
    cmocka_unit_test (test_weekly_monthly),
    cmocka_unit_test (test_tip_and_order),
    cmocka_unit_test (test_valid_and_empty),
  };
  vc_test_log_init ("test-prune-policy");
  return cmocka_run_group_tests (tests, NULL, NULL);
}
