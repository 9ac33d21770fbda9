/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/replica/job-args.c: what a peer may ask a daemon
 * to run (virtckpt's options of a handed-over backup or cancel).
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "replica/job-args.h"
#include "unit-common.h"

/* Splits a line of arguments at '|' (an argument may hold spaces). */
static bool
allowed (enum vc_job_kind kind, const char *line)
{
  char *copy = strdup (line), *args[32], *save = NULL;
  size_t n = 0;
  bool ok;

  assert_non_null (copy);
  for (char *a = strtok_r (copy, "|", &save); a; a = strtok_r (NULL, "|", &save)) {
    assert_true (n < 32);
    args[n++] = a;
  }
  ok = vc_job_args_allowed (kind, args, n);
  free (copy);
  return ok;
}

static void
test_backup (void **state)
{
  static const struct { const char *args; bool ok; } cases[] = {
    { "--output|/backup/web 1", true },
    { "--output|/b|--level|inc|--disk|vda|--exclude|vdb|--checksum|sha256"
      "|--connections|4|--request-size|65536|--in-flight|8|--max-rate|1048576"
      "|--rundir|/run/virtckpt|--json|--no-progress", true },
    { "", false },                                  /* no --output */
    { "--level|full", false },
    { "--output|backup", false },                   /* relative */
    { "--output|/b/../etc", false },
    { "--output|/b/..", false },
    { "--output", false },                          /* no value */
    { "--output|/b|--level", false },
    { "--output|/b|--level|--json", false },        /* a value like an option */
    { "--output|/b|--disk|a\nb", false },           /* control character */
    { "--output|/b|--connect|qemu+ssh://evil/system", false },
    { "--output|/b|--store|/tmp/x", false },
    { "--output|/b|-o|/c", false },
    { "--output|/b|--rundir|run", false },
    { "--output|/b|--grace|5", false },             /* cancel's */
    { "--output|/b|--json|extra", false },
  };

  for (size_t i = 0; i < VC_TEST_ROWS (cases); i++)
    if (allowed (VC_JOB_BACKUP, cases[i].args) != cases[i].ok)
      fail_msg ("backup %s: expected %s", cases[i].args,
                cases[i].ok ? "allowed" : "refused");
}

static void
test_cancel_and_locate (void **state)
{
  char *none[1] = { NULL };
  char *one[1] = { (char *) "--json" };

  assert_true (allowed (VC_JOB_CANCEL, "--grace|5|--wait|60|--hold|120|--rundir|/run/x"));
  assert_true (allowed (VC_JOB_CANCEL, "--release"));
  assert_true (vc_job_args_allowed (VC_JOB_CANCEL, none, 0));
  assert_false (allowed (VC_JOB_CANCEL, "--output|/b"));
  assert_false (allowed (VC_JOB_CANCEL, "--hold"));
  assert_true (vc_job_args_allowed (VC_JOB_LOCATE, none, 0));
  assert_false (vc_job_args_allowed (VC_JOB_LOCATE, one, 1));
  assert_false (vc_job_args_allowed ((enum vc_job_kind) 7, none, 0));
}

static void
test_kinds_and_text (void **state)
{
  char *long_name = malloc (2000);

  assert_int_equal (vc_job_kind ("backup"), VC_JOB_BACKUP);
  assert_int_equal (vc_job_kind ("cancel"), VC_JOB_CANCEL);
  assert_int_equal (vc_job_kind ("locate"), VC_JOB_LOCATE);
  assert_int_equal (vc_job_kind ("restore"), -1);
  assert_int_equal (vc_job_kind (""), -1);
  assert_true (vc_job_text_ok ("web 1", 1024));
  assert_false (vc_job_text_ok ("", 1024));
  assert_false (vc_job_text_ok ("a\tb", 1024));
  assert_false (vc_job_text_ok ("a\x7f", 1024));
  assert_non_null (long_name);
  memset (long_name, 'x', 1999);
  long_name[1999] = '\0';
  assert_false (vc_job_text_ok (long_name, 1024));
  long_name[1024] = '\0';
  assert_true (vc_job_text_ok (long_name, 1024));
  free (long_name);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_backup),
    cmocka_unit_test (test_cancel_and_locate),
    cmocka_unit_test (test_kinds_and_text),
  };

  vc_test_log_init ("test-job-args");
  return cmocka_run_group_tests (tests, NULL, NULL);
}
