/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/store/schedule.c (the <schedule> of the store
 * document, written, read back and refused when damaged) and of
 * helper/backup/schedule-due.c (what a schedule asks for now).
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/schedule-due.h"
#include "common/cleanup.h"
#include "store/document.h"
#include "store/schedule.h"
#include "unit-common.h"

/* A document with no checkpoints and a schedule: its own kind now. */
static char *
document (const char *schedule)
{
  return vc_printf ("<virtckpt-domain format=\"1\"><name>web 1</name>"
                    "<version generation=\"3\" node=\"2\"/>"
                    "<updated>1764228000</updated><checkpoints/>%s"
                    "</virtckpt-domain>", schedule);
}

static void
parse_ok (const char *schedule, struct vc_chain *chain)
{
  CLEANUP_FREE char *doc = document (schedule);
  char *err = NULL;

  if (vc_document_parse (doc, strlen (doc), chain, &err) == -1)
    fail_msg ("refused %s: %s", schedule, err);
}

static void
test_round_trip (void **state)
{
  struct vc_chain chain, again;
  CLEANUP_FREE char *text = NULL;
  char *err = NULL;
  size_t len;

  parse_ok ("<schedule every=\"900\" full-every=\"604800\" keep-last=\"7\" "
            "keep-daily=\"7\" keep-weekly=\"4\" keep-monthly=\"6\" "
            "set=\"1764228000\"><dir>/backups/web &lt;1&gt; caf\xc3\xa9</dir>"
            "</schedule>", &chain);
  assert_non_null (chain.schedule);
  assert_int_equal (chain.checkpoints.len, 0);
  assert_string_equal (chain.schedule->dir, "/backups/web <1> caf\xc3\xa9");
  assert_int_equal (chain.schedule->every, 900);
  assert_int_equal (chain.schedule->full_every, 604800);
  assert_int_equal (chain.schedule->keep_last, 7);
  assert_int_equal (chain.schedule->keep_daily, 7);
  assert_int_equal (chain.schedule->keep_weekly, 4);
  assert_int_equal (chain.schedule->keep_monthly, 6);
  assert_int_equal (chain.schedule->set, 1764228000);
  assert_false (vc_chain_holds_nothing (&chain));

  text = vc_document_format (&chain, &len);
  assert_non_null (text);
  assert_non_null (strstr (text, "<schedule every=\"900\" full-every=\"604800\" "
                           "keep-last=\"7\" keep-daily=\"7\" keep-weekly=\"4\" "
                           "keep-monthly=\"6\" set=\"1764228000\">"));
  if (vc_document_parse (text, len, &again, &err) == -1)
    fail_msg ("its own output does not read back: %s", err);
  assert_non_null (again.schedule);
  assert_string_equal (again.schedule->dir, chain.schedule->dir);
  assert_memory_equal (&again.schedule->every, &chain.schedule->every,
                       offsetof (struct vc_schedule, set) + sizeof (int64_t)
                       - offsetof (struct vc_schedule, every));
  vc_chain_clear (&again);
  vc_chain_clear (&chain);
}

/* Absent keep-* and full-every stay absent; extreme legal values pass. */
static void
test_optional_and_extremes (void **state)
{
  struct vc_chain chain;
  CLEANUP_FREE char *text = NULL;
  CLEANUP_FREE char *big = vc_printf ("<schedule every=\"%llu\" full-every=\"%llu\" "
                                      "keep-last=\"%u\" set=\"0\"><dir>/</dir></schedule>",
                                      VC_SCHEDULE_MAX_PERIOD, VC_SCHEDULE_MAX_PERIOD,
                                      VC_SCHEDULE_MAX_KEEP);
  size_t len;

  parse_ok ("<schedule every=\"1\" set=\"5\"><dir>/b</dir></schedule>", &chain);
  assert_int_equal (chain.schedule->every, 1);
  assert_int_equal (chain.schedule->full_every, 0);
  assert_int_equal (chain.schedule->keep_last + chain.schedule->keep_daily +
                    chain.schedule->keep_weekly + chain.schedule->keep_monthly, 0);
  text = vc_document_format (&chain, &len);
  assert_non_null (strstr (text, "<schedule every=\"1\" set=\"5\">"));
  assert_null (strstr (text, "keep-"));
  assert_null (strstr (text, "full-every"));
  vc_chain_clear (&chain);

  parse_ok (big, &chain);
  assert_int_equal (chain.schedule->every, VC_SCHEDULE_MAX_PERIOD);
  assert_int_equal (chain.schedule->keep_last, VC_SCHEDULE_MAX_KEEP);
  vc_chain_clear (&chain);

  /* No <schedule>: none, and none written. */
  parse_ok ("", &chain);
  assert_null (chain.schedule);
  assert_true (vc_chain_holds_nothing (&chain));
  free (text);
  text = vc_document_format (&chain, &len);
  assert_null (strstr (text, "schedule"));
  vc_chain_clear (&chain);
}

static void
test_rejects (void **state)
{
  CLEANUP_FREE char *long_dir = malloc (VC_SCHEDULE_MAX_DIR + 2);
  CLEANUP_FREE char *too_long = NULL;
  CLEANUP_FREE char *too_every = vc_printf ("<schedule every=\"%llu\" set=\"0\">"
                                            "<dir>/b</dir></schedule>",
                                            VC_SCHEDULE_MAX_PERIOD + 1);
  const char *bad[] = {
    "<schedule every=\"0\" set=\"0\"><dir>/b</dir></schedule>",
    "<schedule every=\"-1\" set=\"0\"><dir>/b</dir></schedule>",
    "<schedule every=\"15m\" set=\"0\"><dir>/b</dir></schedule>",
    "<schedule every=\" 900\" set=\"0\"><dir>/b</dir></schedule>",
    "<schedule every=\"\" set=\"0\"><dir>/b</dir></schedule>",
    "<schedule set=\"0\"><dir>/b</dir></schedule>",
    "<schedule every=\"99999999999999999999999\" set=\"0\"><dir>/b</dir></schedule>",
    "<schedule every=\"900\" full-every=\"899\" set=\"0\"><dir>/b</dir></schedule>",
    "<schedule every=\"900\" full-every=\"0\" set=\"0\"><dir>/b</dir></schedule>",
    "<schedule every=\"900\" full-every=\"x\" set=\"0\"><dir>/b</dir></schedule>",
    "<schedule every=\"900\" keep-last=\"0\" set=\"0\"><dir>/b</dir></schedule>",
    "<schedule every=\"900\" keep-daily=\"100001\" set=\"0\"><dir>/b</dir></schedule>",
    "<schedule every=\"900\" keep-weekly=\"-1\" set=\"0\"><dir>/b</dir></schedule>",
    "<schedule every=\"900\" keep-monthly=\"4294967297\" set=\"0\"><dir>/b</dir></schedule>",
    "<schedule every=\"900\"><dir>/b</dir></schedule>",
    "<schedule every=\"900\" set=\"-5\"><dir>/b</dir></schedule>",
    "<schedule every=\"900\" set=\"9223372036854775808\"><dir>/b</dir></schedule>",
    "<schedule every=\"900\" set=\"0\"><dir>backups/b</dir></schedule>",
    "<schedule every=\"900\" set=\"0\"><dir></dir></schedule>",
    "<schedule every=\"900\" set=\"0\"><dir>/b&#10;c</dir></schedule>",
    "<schedule every=\"900\" set=\"0\"><dir>/b&#9;c</dir></schedule>",
    "<schedule every=\"900\" set=\"0\"><dir>/b\x7f</dir></schedule>",
    "<schedule every=\"900\" set=\"0\"></schedule>",
    "<schedule every=\"900\" set=\"0\"/>",
    "<schedule every=\"900\" set=\"0\"><dir>/b</dir><dir>/c</dir></schedule>",
    "<schedule every=\"900\" set=\"0\"><dir>/b</dir><x/></schedule>",
    "<schedule every=\"900\" set=\"0\"><dir>/b</dir></schedule>"
    "<schedule every=\"900\" set=\"0\"><dir>/c</dir></schedule>",
  };

  memset (long_dir, 'a', VC_SCHEDULE_MAX_DIR + 1);
  long_dir[0] = '/';
  long_dir[VC_SCHEDULE_MAX_DIR + 1] = '\0';
  too_long = vc_printf ("<schedule every=\"900\" set=\"0\"><dir>%s</dir></schedule>",
                        long_dir);
  for (size_t i = 0; i < VC_TEST_ROWS (bad) + 2; i++) {
    const char *s = i < VC_TEST_ROWS (bad) ? bad[i]
      : i == VC_TEST_ROWS (bad) ? too_long : too_every;
    CLEANUP_FREE char *doc = document (s);
    CLEANUP_FREE char *err = NULL;
    struct vc_chain chain;
    if (vc_document_parse (doc, strlen (doc), &chain, &err) == 0)
      fail_msg ("accepted %.200s", s);
    assert_non_null (err);
  }
  /* Just at the limit: accepted. */
  long_dir[VC_SCHEDULE_MAX_DIR] = '\0';
  free (too_long);
  too_long = vc_printf ("<schedule every=\"900\" set=\"0\"><dir>%s</dir></schedule>",
                        long_dir);
  struct vc_chain chain;
  parse_ok (too_long, &chain);
  vc_chain_clear (&chain);
}

/* An invalid schedule is never written. */
static void
test_format_refuses_invalid (void **state)
{
  struct vc_schedule s = { .dir = (char *) "relative", .every = 900 };
  struct vc_chain chain = { .domain = (char *) "d", .schedule = &s };
  size_t len;

  assert_null (vc_document_format (&chain, &len));
  s.dir = (char *) "/abs";
  s.every = 0;
  assert_null (vc_document_format (&chain, &len));
  s.every = 900;
  s.full_every = 60;
  assert_null (vc_document_format (&chain, &len));
  s.full_every = 1800;
  char *ok = vc_document_format (&chain, &len);
  assert_non_null (ok);
  free (ok);
}

/* --- what is due --------------------------------------------------------- */

#define EVERY 900
#define W 1764227700            /* a multiple of EVERY: a window start */

static void
add_backup (struct vc_manifest *m, const char *level, unsigned parent,
            int64_t started)
{
  struct vc_backup b = { 0 };

  b.id = m->backups.len + 1;
  b.level = strdup (level);
  b.chain = strcmp (level, "copy") ? strdup ("20261127T070000Z-3f2a") : NULL;
  b.parent = parent;
  b.started = started;
  b.finished = started + 10;
  assert_int_equal (vc_backup_vector_append (&m->backups, b), 0);
}

static void
due (const struct vc_schedule *s, const struct vc_manifest *m, bool broken,
     int64_t now, bool want_due, bool want_full)
{
  struct vc_schedule_due d;

  vc_schedule_due (s, m, broken, now, &d);
  if (d.due != want_due || (d.due && d.full != want_full))
    fail_msg ("at %" PRId64 ": due %d full %d (%s), expected due %d full %d",
              now, d.due, d.full, d.why, want_due, want_full);
  assert_non_null (d.why);
  assert_true (d.window <= now && now < d.next);
  assert_int_equal (d.next - d.window, s->every);
  assert_int_equal (d.window % (int64_t) s->every, 0);
}

static void
test_window (void **state)
{
  assert_int_equal (vc_schedule_window (900, 0), 0);
  assert_int_equal (vc_schedule_window (900, 899), 0);
  assert_int_equal (vc_schedule_window (900, 900), 900);
  assert_int_equal (vc_schedule_window (900, -1), -900);
  assert_int_equal (vc_schedule_window (900, -900), -900);
  assert_int_equal (vc_schedule_window (1, 12345), 12345);
  assert_int_equal (vc_schedule_window (86400, W + 5), 1764201600);
  assert_int_equal (vc_schedule_window (900, INT64_MAX),
                    INT64_MAX - INT64_MAX % 900);
}

static void
test_no_backup_is_full_now (void **state)
{
  struct vc_schedule s = { .dir = (char *) "/b", .every = EVERY };
  struct vc_manifest m = { 0 };

  due (&s, NULL, false, W + 1, true, true);
  due (&s, &m, false, W + 1, true, true);
  /* A copy starts no chain, and does not serve a window. */
  add_backup (&m, "copy", 0, W + 1);
  due (&s, &m, false, W + 2, true, true);
  vc_manifest_clear (&m);
}

static void
test_once_per_window (void **state)
{
  struct vc_schedule s = { .dir = (char *) "/b", .every = EVERY };
  struct vc_manifest m = { 0 };
  struct vc_schedule_due d;

  add_backup (&m, "full", 0, W + 30);
  /* Anywhere in the same window: nothing, until the next one. */
  for (int64_t t = W + 30; t < W + EVERY; t += 97) {
    due (&s, &m, false, t, false, false);
    vc_schedule_due (&s, &m, false, t, &d);
    assert_int_equal (d.next, W + EVERY);
  }
  /* The next window: an incremental, whatever the time within it. */
  due (&s, &m, false, W + EVERY, true, false);
  due (&s, &m, false, W + 2 * EVERY - 1, true, false);
  add_backup (&m, "inc", 1, W + EVERY + 5);
  due (&s, &m, false, W + EVERY + 6, false, false);
  due (&s, &m, false, W + 2 * EVERY - 1, false, false);
  vc_manifest_clear (&m);
}

/* Windows missed (node down, VM moving): one backup catches them up. */
static void
test_missed_windows_caught_up_once (void **state)
{
  struct vc_schedule s = { .dir = (char *) "/b", .every = EVERY };
  struct vc_manifest m = { 0 };
  int64_t now = W + 10 * EVERY + 123;

  add_backup (&m, "full", 0, W);
  due (&s, &m, false, now, true, false);
  add_backup (&m, "inc", 1, now);
  due (&s, &m, false, now + 1, false, false);
  due (&s, &m, false, W + 11 * EVERY - 1, false, false);
  due (&s, &m, false, W + 11 * EVERY, true, false);
  vc_manifest_clear (&m);
}

static void
test_broken_chain_is_full (void **state)
{
  struct vc_schedule s = { .dir = (char *) "/b", .every = EVERY };
  struct vc_manifest m = { 0 };

  add_backup (&m, "full", 0, W);
  due (&s, &m, true, W + EVERY, true, true);
  /* Served already in this window: a broken chain does not add one. */
  due (&s, &m, true, W + 1, false, false);
  /* An incremental whose parents lead to no full: full. */
  vc_manifest_clear (&m);
  add_backup (&m, "inc", 7, W);
  due (&s, &m, false, W + EVERY, true, true);
  vc_manifest_clear (&m);
}

/* full-every counts in windows: a full 30 s late is still due on time. */
static void
test_full_every (void **state)
{
  struct vc_schedule s = { .dir = (char *) "/b", .every = EVERY,
                           .full_every = 4 * EVERY };
  struct vc_manifest m = { 0 };

  add_backup (&m, "full", 0, W + 30);
  add_backup (&m, "inc", 1, W + EVERY);
  add_backup (&m, "inc", 2, W + 2 * EVERY + 500);
  add_backup (&m, "diff", 1, W + 3 * EVERY + 899);
  due (&s, &m, false, W + 3 * EVERY + 899, false, false);
  due (&s, &m, false, W + 4 * EVERY, true, true);
  add_backup (&m, "full", 0, W + 4 * EVERY + 20);
  add_backup (&m, "inc", 5, W + 5 * EVERY);
  due (&s, &m, false, W + 6 * EVERY, true, false);
  due (&s, &m, false, W + 8 * EVERY - 1, true, false);
  due (&s, &m, false, W + 8 * EVERY, true, true);
  /* A copy after the chain changes nothing. */
  add_backup (&m, "copy", 0, W + 8 * EVERY + 1);
  due (&s, &m, false, W + 8 * EVERY + 2, true, true);
  vc_manifest_clear (&m);
}

/* A clock that went back: a backup "in the future" serves the window. */
static void
test_clock_went_back (void **state)
{
  struct vc_schedule s = { .dir = (char *) "/b", .every = EVERY,
                           .full_every = EVERY };
  struct vc_manifest m = { 0 };

  add_backup (&m, "full", 0, W + 5 * EVERY);
  due (&s, &m, false, W + 1, false, false);
  vc_manifest_clear (&m);
}

/* Every node computes the same answer for any time in a window. */
static void
test_same_answer_in_window (void **state)
{
  struct vc_schedule s = { .dir = (char *) "/b", .every = 86400,
                           .full_every = 7 * 86400 };
  struct vc_manifest m = { 0 };
  struct vc_schedule_due first, d;
  int64_t day = vc_schedule_window (86400, W);

  add_backup (&m, "full", 0, day - 3 * 86400 + 7200);
  vc_schedule_due (&s, &m, false, day, &first);
  for (int64_t t = day; t < day + 86400; t += 3607) {
    vc_schedule_due (&s, &m, false, t, &d);
    assert_int_equal (d.due, first.due);
    assert_int_equal (d.full, first.full);
    assert_int_equal (d.window, first.window);
    assert_int_equal (d.next, first.next);
  }
  vc_manifest_clear (&m);
}

static void
test_extremes (void **state)
{
  struct vc_schedule s = { .dir = (char *) "/b", .every = 1 };
  struct vc_schedule big = { .dir = (char *) "/b", .every = VC_SCHEDULE_MAX_PERIOD,
                             .full_every = VC_SCHEDULE_MAX_PERIOD };
  struct vc_manifest m = { 0 };
  struct vc_schedule_due d;

  add_backup (&m, "full", 0, 100);
  due (&s, &m, false, 100, false, false);
  due (&s, &m, false, 101, true, false);
  due (&big, &m, false, 101, false, false);
  /* Near the end of time the next window saturates, never wraps. */
  vc_schedule_due (&big, &m, false, INT64_MAX, &d);
  assert_true (d.due);
  assert_int_equal (d.next, INT64_MAX);
  assert_true (d.window <= INT64_MAX && d.window > 0);
  /* Before the epoch. */
  vc_schedule_due (&s, NULL, false, -5, &d);
  assert_true (d.due && d.full);
  assert_int_equal (d.window, -5);
  vc_manifest_clear (&m);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_round_trip),
    cmocka_unit_test (test_optional_and_extremes),
    cmocka_unit_test (test_rejects),
    cmocka_unit_test (test_format_refuses_invalid),
    cmocka_unit_test (test_window),
    cmocka_unit_test (test_no_backup_is_full_now),
    cmocka_unit_test (test_once_per_window),
    cmocka_unit_test (test_missed_windows_caught_up_once),
    cmocka_unit_test (test_broken_chain_is_full),
    cmocka_unit_test (test_full_every),
    cmocka_unit_test (test_clock_went_back),
    cmocka_unit_test (test_same_answer_in_window),
    cmocka_unit_test (test_extremes),
  };
  int r;

  vc_test_log_init ("test-schedule");
  r = cmocka_run_group_tests_name ("schedule", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
