/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/backup/resume-record.c: the progress record of an
 * interrupted backup, written, read back, and refused when altered.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/resume-record.h"
#include "common/atomic-file.h"
#include "common/cleanup.h"
#include "common/vc-strings.h"
#include "unit-common.h"

#define CHAIN "20261127T070000Z-3f2a"
#define CP1 "virtckpt." CHAIN ".1.9c1e"
#define CP2 "virtckpt." CHAIN ".2.0b7d"
#define CS (UINT64_C (1) << 16)

struct fixture {
  char *dir;
  int fd;
  struct vc_manifest m;         /* backup 1, a full of CHAIN */
};

static int
setup (void **state)
{
  struct fixture *f = calloc (1, sizeof *f);
  struct vc_backup b = { .id = 1 };

  if (f == NULL || (f->dir = vc_test_mkdtemp ("test-resume-record")) == NULL ||
      (f->fd = open (f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
    return -1;
  b.level = strdup ("full");
  b.chain = strdup (CHAIN);
  b.checkpoint = strdup (CP1);
  b.dir = strdup ("0001-full-20261127T070000Z");
  f->m.domain = strdup ("web1");
  if (vc_backup_vector_append (&f->m.backups, b) == -1)
    return -1;
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;

  close (f->fd);
  vc_test_rmtree (f->dir);
  free (f->dir);
  vc_manifest_clear (&f->m);
  free (f);
  return 0;
}

/* An inc (backup 2 on 1) of one 1 GiB disk, half of its data copied. */
static void
sample (struct vc_resume *r)
{
  struct vc_resume_disk d = { .virtual_size = UINT64_C (1) << 30, .image = true,
                              .bytes_read = 3 * CS };

  memset (r, 0, sizeof *r);
  r->id = 2;
  r->level = strdup ("inc");
  r->chain = strdup (CHAIN);
  r->checkpoint = strdup (CP2);
  r->since = strdup (CP1);
  r->parent = 1;
  r->started = 1796227788;
  r->runs = 1;
  d.name = strdup ("vda");
  assert_int_equal (vc_ranges_add (&d.data, 0, 4 * CS), 0);
  assert_int_equal (vc_ranges_add (&d.data, 10 * CS, 2 * CS), 0);
  assert_int_equal (vc_ranges_add (&d.zero, 6 * CS, CS), 0);
  assert_int_equal (vc_ranges_add (&d.copied, 0, 3 * CS), 0);
  assert_int_equal (vc_resume_disk_vector_append (&r->disks, d), 0);
}

static void
test_round_trip (void **state)
{
  struct fixture *f = *state;
  struct vc_resume r, back;
  CLEANUP_FREE char *why = NULL;

  sample (&r);
  assert_int_equal (vc_resume_save (f->fd, f->dir, &r), 0);
  assert_int_equal (vc_resume_load (f->fd, 2, &f->m, &back, &why), 0);
  assert_null (why);
  assert_int_equal (back.id, 2);
  assert_string_equal (back.level, "inc");
  assert_string_equal (back.checkpoint, CP2);
  assert_string_equal (back.since, CP1);
  assert_int_equal (back.parent, 1);
  assert_int_equal (back.runs, 1);
  assert_int_equal (back.disks.len, 1);
  const struct vc_resume_disk *d = vc_resume_disk (&back, "vda");
  assert_non_null (d);
  assert_true (d->image);
  assert_int_equal (d->bytes_read, 3 * CS);
  assert_int_equal (d->data.len, 2);
  assert_int_equal (d->data.ptr[1].offset, 10 * CS);
  assert_int_equal (d->zero.len, 1);
  assert_int_equal (vc_ranges_total (&d->copied), 3 * CS);
  vc_resume_clear (&r);
  vc_resume_clear (&back);
}

static void
test_no_record (void **state)
{
  struct fixture *f = *state;
  struct vc_resume r;
  CLEANUP_FREE char *why = NULL;

  assert_int_equal (vc_resume_load (f->fd, 2, &f->m, &r, &why), 1);
}

/* Each row alters the saved record: from, to; the load must refuse it. */
static const struct { const char *from, *to; } altered[] = {
  { "id=\"2\"", "id=\"3\"" },                                 /* another backup's */
  { "level=\"inc\"", "level=\"copy\"" },
  { "level=\"inc\"", "level=\"full\"" },                      /* full with a parent */
  { "chain=\"" CHAIN "\"", "chain=\"20261127T070000Z-ffff\"" },
  { "checkpoint=\"" CP2 "\"", "checkpoint=\"virtckpt.other\"" },
  { "checkpoint=\"" CP2 "\"", "checkpoint=\"" CP1 "\"" },     /* backup 1's */
  { "parent=\"1\"", "parent=\"7\"" },                         /* not in the manifest */
  { "since=\"" CP1 "\"", "since=\"" CP2 "\"" },
  { "runs=\"1\"", "runs=\"0\"" },
  { "runs=\"1\"", "runs=\"-1\"" },
  { "name=\"vda\"", "name=\"../etc\"" },
  { "name=\"vda\"", "name=\".vda\"" },
  { "virtual-size=\"1073741824\"", "virtual-size=\"0\"" },
  { "image=\"yes\"", "image=\"maybe\"" },
  { "<data offset=\"0\"", "<data offset=\"512\"" },           /* not aligned */
  { "<data offset=\"655360\"", "<data offset=\"1073741824\"" },/* beyond the disk */
  { "<data offset=\"655360\" length=\"131072\"",
    "<data offset=\"655360\" length=\"18446744073709486080\"" }, /* wraps */
  { "<zero offset=\"393216\"", "<zero offset=\"0\"" },        /* data and zero */
  { "<copied offset=\"0\" length=\"196608\"",
    "<copied offset=\"0\" length=\"393216\"" },               /* beyond the data */
  { "<data offset=\"655360\"", "<data offset=\"0\"" },        /* out of order */
  { "<copied offset=\"0\"", "<bogus offset=\"0\"" },
  { "<virtckpt-progress", "<virtckpt-backups" },
  { "format=\"1\"", "format=\"2\"" },
};

static void
test_altered_records_are_refused (void **state)
{
  struct fixture *f = *state;
  struct vc_resume r;
  CLEANUP_FREE char *text = NULL;
  size_t len;

  sample (&r);
  assert_int_equal (vc_resume_save (f->fd, f->dir, &r), 0);
  vc_resume_clear (&r);
  assert_int_equal (vc_read_file (f->fd, VC_RESUME_FILE, 1 << 20, &text, &len), 0);
  for (size_t i = 0; i < VC_TEST_ROWS (altered); i++) {
    const char *at = strstr (text, altered[i].from);
    CLEANUP_FREE char *bad = NULL, *why = NULL;
    if (at == NULL)
      fail_msg ("row %zu: '%s' is not in the record:\n%s", i, altered[i].from, text);
    bad = vc_printf ("%.*s%s%s", (int) (at - text), text, altered[i].to,
                     at + strlen (altered[i].from));
    assert_non_null (bad);
    assert_int_equal (vc_atomic_write (f->fd, VC_RESUME_FILE, bad, strlen (bad)), 0);
    if (vc_resume_load (f->fd, 2, &f->m, &r, &why) != -1)
      fail_msg ("row %zu: the record with '%s' was loaded", i, altered[i].to);
    assert_non_null (why);
  }
  /* A second disk of the same name. */
  {
    const char *d = strstr (text, "<disk"), *e = strstr (text, "</disk>");
    CLEANUP_FREE char *twice = NULL, *why = NULL;
    assert_non_null (d);
    assert_non_null (e);
    e += strlen ("</disk>");
    twice = vc_printf ("%.*s%.*s%s", (int) (e - text), text, (int) (e - d), d, e);
    assert_int_equal (vc_atomic_write (f->fd, VC_RESUME_FILE, twice, strlen (twice)), 0);
    assert_int_equal (vc_resume_load (f->fd, 2, &f->m, &r, &why), -1);
  }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown (test_no_record, setup, teardown),
    cmocka_unit_test_setup_teardown (test_altered_records_are_refused, setup, teardown),
  };
  int r;

  vc_test_log_init ("test-resume-record");
  r = cmocka_run_group_tests_name ("resume-record", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
