/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/backup/manifest.c: the manifest of a backup directory,
 * each test in a fresh mkdtemp directory.
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/atomic-file.h"
#include "common/log.h"
#include "backup/manifest.h"
#include "common/vc-strings.h"
#include "unit-common.h"

#define GiB (UINT64_C (1) << 30)

#define CHAIN "20261127T070000Z-3f2a"
#define CP1 "virtckpt." CHAIN ".1.9c1e"
#define CP2 "virtckpt." CHAIN ".2.0b7d"
#define DIR1 "0001-full-20261127T070000Z"
#define DIR2 "0002-inc-20261128T070000Z"
#define DIR3 "0003-copy-20261128T120000Z"
#define SHA_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define SHA_C "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct fixture {
  char *dir;
  int dirfd;
};

static int
setup (void **state)
{
  struct fixture *f = calloc (1, sizeof *f);

  if (f == NULL)
    return -1;
  f->dir = vc_test_mkdtemp ("test-manifest");
  if (f->dir == NULL)
    return -1;
  f->dirfd = open (f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (f->dirfd == -1)
    return -1;
  *state = f;
  return 0;
}

static int
teardown (void **state)
{
  struct fixture *f = *state;

  close (f->dirfd);
  vc_test_rmtree (f->dir);
  free (f->dir);
  free (f);
  return 0;
}

static size_t
count_entries (struct fixture *f)
{
  DIR *d = opendir (f->dir);
  struct dirent *e;
  size_t n = 0;

  assert_non_null (d);
  while ((e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
      n++;
  closedir (d);
  return n;
}

static void
write_manifest (struct fixture *f, const char *text)
{
  int fd = openat (f->dirfd, VC_MANIFEST_FILE,
                   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  size_t len = strlen (text);

  assert_true (fd >= 0);
  assert_int_equal (write (fd, text, len), (ssize_t) len);
  assert_int_equal (close (fd), 0);
}

static char *
read_manifest (struct fixture *f)
{
  char *buf = NULL;
  size_t len;
  int r = vc_read_file (f->dirfd, VC_MANIFEST_FILE, 1 << 20, &buf, &len);

  assert_int_equal (r, 0);
  assert_non_null (buf);
  return buf;
}

static void
add_disk (struct vc_backup *b, const char *name, const char *backing,
          uint64_t size, uint64_t read, uint64_t zeroed, uint64_t file_size,
          const char *sha)
{
  struct vc_backup_disk d = {
    .name = strdup (name), .file = vc_printf ("%s.qcow2", name),
    .backing = backing ? strdup (backing) : NULL,
    .virtual_size = size, .bytes_read = read, .bytes_zeroed = zeroed,
    .file_size = file_size,
  };
  d.sum.algo = VC_CHECKSUM_SHA256;
  memcpy (d.sum.hex, sha, 65);
  assert_int_equal (vc_backup_disk_vector_append (&b->disks, d), 0);
}

static void
add_file (struct vc_backup *b, const char *name, const char *sha)
{
  struct vc_backup_file file = { .name = strdup (name) };
  file.sum.algo = VC_CHECKSUM_SHA256;
  memcpy (file.sum.hex, sha, 65);
  assert_int_equal (vc_backup_file_vector_append (&b->files, file), 0);
}

static struct vc_backup *
add_backup (struct vc_manifest *m, unsigned id, const char *level,
            const char *chain, const char *checkpoint, const char *since,
            unsigned parent, const char *dir)
{
  struct vc_backup b = {
    .id = id, .level = strdup (level),
    .chain = chain ? strdup (chain) : NULL,
    .checkpoint = checkpoint ? strdup (checkpoint) : NULL,
    .since = since ? strdup (since) : NULL,
    .parent = parent, .dir = strdup (dir),
  };
  assert_int_equal (vc_backup_vector_append (&m->backups, b), 0);
  return &m->backups.ptr[m->backups.len - 1];
}

/* A full backup, an incremental on it, then a copy (outside the chain). */
static void
make_manifest (struct vc_manifest *m)
{
  struct vc_backup *b;

  memset (m, 0, sizeof *m);
  m->domain = strdup ("web1");

  b = add_backup (m, 1, "full", CHAIN, CP1, NULL, 0, DIR1);
  b->started = 1764226800;
  b->finished = 1764226804;
  b->seconds = 4.21;
  add_disk (b, "vda", NULL, 10 * GiB, 3 * GiB + 12345, 7 * GiB, 3 * GiB + 851968, SHA_A);
  /* Extremes survive: numbers are 64-bit all the way. */
  add_disk (b, "vdb", NULL, UINT64_MAX, UINT64_MAX - 1, 0, UINT64_C (1) << 53, SHA_B);
  add_file (b, "domain.xml", SHA_C);
  add_file (b, "checkpoint.xml", SHA_A);

  b = add_backup (m, 2, "inc", CHAIN, CP2, CP1, 1, DIR2);
  b->started = 1764313200;
  b->finished = 1764313260;
  b->seconds = 1234.5678;
  add_disk (b, "vda", "../" DIR1 "/vda.qcow2", 10 * GiB, 65536, 131072, 327680, SHA_B);
  add_file (b, "domain.xml", SHA_C);

  b = add_backup (m, 3, "copy", NULL, NULL, NULL, 0, DIR3);
  b->started = 1764331200;
  b->finished = 1764331300;
  b->seconds = 0;
  add_disk (b, "vda", NULL, 10 * GiB, 3 * GiB, 0, 3 * GiB + 393216, SHA_C);
}

static void
assert_same_str (const char *a, const char *b)
{
  if (a == NULL || b == NULL)
    assert_ptr_equal (a, b);
  else
    assert_string_equal (a, b);
}

static void
assert_same_backup (const struct vc_backup *a, const struct vc_backup *b)
{
  assert_int_equal (a->id, b->id);
  assert_same_str (a->level, b->level);
  assert_same_str (a->chain, b->chain);
  assert_same_str (a->checkpoint, b->checkpoint);
  assert_same_str (a->since, b->since);
  assert_int_equal (a->parent, b->parent);
  assert_same_str (a->dir, b->dir);
  assert_true (a->started == b->started);
  assert_true (a->finished == b->finished);
  assert_int_equal (a->disks.len, b->disks.len);
  for (size_t i = 0; i < a->disks.len; i++) {
    const struct vc_backup_disk *x = &a->disks.ptr[i], *y = &b->disks.ptr[i];
    assert_same_str (x->name, y->name);
    assert_same_str (x->file, y->file);
    assert_same_str (x->backing, y->backing);
    assert_true (x->virtual_size == y->virtual_size);
    assert_true (x->bytes_read == y->bytes_read);
    assert_true (x->bytes_zeroed == y->bytes_zeroed);
    assert_true (x->file_size == y->file_size);
    assert_string_equal (x->sum.hex, y->sum.hex);
    assert_int_equal (x->sum.algo, y->sum.algo);
  }
  assert_int_equal (a->files.len, b->files.len);
  for (size_t i = 0; i < a->files.len; i++) {
    assert_same_str (a->files.ptr[i].name, b->files.ptr[i].name);
    assert_string_equal (a->files.ptr[i].sum.hex, b->files.ptr[i].sum.hex);
  }
}

/* --- saving and loading ------------------------------------------------ */

static void
test_save_load_round_trips_every_field (void **state)
{
  struct fixture *f = *state;
  struct vc_manifest m, back;

  make_manifest (&m);
  assert_int_equal (vc_manifest_save (f->dirfd, f->dir, &m), 0);
  assert_int_equal (vc_manifest_load (f->dirfd, f->dir, &back), 0);

  assert_string_equal (back.domain, "web1");
  assert_int_equal (back.backups.len, 3);
  for (size_t i = 0; i < 3; i++)
    assert_same_backup (&m.backups.ptr[i], &back.backups.ptr[i]);
  /* Seconds are kept to the millisecond. */
  assert_true (back.backups.ptr[0].seconds == 4.21);
  assert_true (back.backups.ptr[1].seconds == 1234.568);
  assert_true (back.backups.ptr[2].seconds == 0);
  /* Spot checks, in case both sides were wrong the same way. */
  assert_string_equal (back.backups.ptr[1].disks.ptr[0].backing, "../" DIR1 "/vda.qcow2");
  assert_string_equal (back.backups.ptr[1].since, CP1);
  assert_int_equal (back.backups.ptr[1].parent, 1);
  assert_true (back.backups.ptr[0].disks.ptr[1].virtual_size == UINT64_MAX);
  assert_null (back.backups.ptr[2].chain);
  assert_null (back.backups.ptr[2].checkpoint);

  /* Only the manifest is left in the directory: no temp file. */
  assert_int_equal (count_entries (f), 1);
  vc_manifest_clear (&m);
  vc_manifest_clear (&back);
}

static void
test_save_writes_documented_format (void **state)
{
  static const char *const in_text[] = {
    "<virtckpt-backups format=\"1\">",
    "<domain>web1</domain>",
    "id=\"2\" level=\"inc\"",
    "parent=\"1\"",
    "virtual-size=\"18446744073709551615\"",
    "seconds=\"4.210\"",
  };
  static const char *const not_in_copy[] = { "chain=", "checkpoint=", "parent=" };
  struct fixture *f = *state;
  struct vc_manifest m;
  char *text;

  make_manifest (&m);
  assert_int_equal (vc_manifest_save (f->dirfd, f->dir, &m), 0);
  text = read_manifest (f);
  for (size_t i = 0; i < VC_TEST_ROWS (in_text); i++)
    if (strstr (text, in_text[i]) == NULL)
      fail_msg ("the manifest lacks '%s':\n%s", in_text[i], text);
  /* A copy has no chain, checkpoint or parent attribute. */
  char *copy = strstr (text, "id=\"3\"");
  assert_non_null (copy);
  char *end = strchr (copy, '>');
  assert_non_null (end);
  *end = '\0';
  for (size_t i = 0; i < VC_TEST_ROWS (not_in_copy); i++)
    if (strstr (copy, not_in_copy[i]) != NULL)
      fail_msg ("the copy has '%s': %s", not_in_copy[i], copy);
  free (text);
  vc_manifest_clear (&m);
}

static void
test_save_again_replaces_manifest (void **state)
{
  struct fixture *f = *state;
  struct vc_manifest m, back;

  make_manifest (&m);
  assert_int_equal (vc_manifest_save (f->dirfd, f->dir, &m), 0);
  vc_backup_clear (&m.backups.ptr[2]);
  m.backups.len--;
  assert_int_equal (vc_manifest_save (f->dirfd, f->dir, &m), 0);
  assert_int_equal (vc_manifest_load (f->dirfd, f->dir, &back), 0);
  assert_int_equal (back.backups.len, 2);
  assert_int_equal (count_entries (f), 1);
  vc_manifest_clear (&m);
  vc_manifest_clear (&back);
}

/* Markup in the domain name (the one free-form string) is escaped both
 * ways; markup in any other name is refused at load.
 */
static void
test_save_load_escapes_markup (void **state)
{
  struct fixture *f = *state;
  struct vc_manifest m, back;

  memset (&m, 0, sizeof m);
  m.domain = strdup ("web <1> & \"two\" 'three' $(x) `y`");
  struct vc_backup *b = add_backup (&m, 1, "full", CHAIN, CP1, NULL, 0, DIR1);
  add_disk (b, "vda", NULL, 1, 2, 3, 4, SHA_A);
  add_file (b, "domain.xml", SHA_B);
  assert_int_equal (vc_manifest_save (f->dirfd, f->dir, &m), 0);
  assert_int_equal (vc_manifest_load (f->dirfd, f->dir, &back), 0);
  assert_string_equal (back.domain, m.domain);
  assert_int_equal (back.backups.len, 1);
  assert_same_backup (&m.backups.ptr[0], &back.backups.ptr[0]);
  vc_manifest_clear (&back);

  free (m.backups.ptr[0].files.ptr[0].name);
  m.backups.ptr[0].files.ptr[0].name = strdup ("a&b<c>");
  assert_int_equal (vc_manifest_save (f->dirfd, f->dir, &m), 0);
  assert_int_equal (vc_manifest_load (f->dirfd, f->dir, &back), -1);
  vc_manifest_clear (&m);
}

static void
test_load_without_manifest_returns_1 (void **state)
{
  struct fixture *f = *state;
  struct vc_manifest m;

  memset (&m, 0xa5, sizeof m);
  assert_int_equal (vc_manifest_load (f->dirfd, f->dir, &m), 1);
  assert_null (m.domain);
  assert_int_equal (m.backups.len, 0);
  assert_null (m.backups.ptr);
  assert_int_equal (count_entries (f), 0);
}

static void
test_load_accepts_missing_optional_numbers (void **state)
{
  struct fixture *f = *state;
  struct vc_manifest m;

  write_manifest (f,
    "<virtckpt-backups format='1'><domain>web1</domain>"
    "<backup id='7' level='full' chain='" CHAIN "' checkpoint='virtckpt." CHAIN ".7.0000'"
    " dir='0007-full-20261127T070000Z'"
    " started='1' finished='2'>"
    "<disk name='vda' file='vda.qcow2' virtual-size='1048576'"
    " file-size='393216' sha256='" SHA_A "'/>"
    "</backup></virtckpt-backups>");
  assert_int_equal (vc_manifest_load (f->dirfd, f->dir, &m), 0);
  assert_int_equal (m.backups.len, 1);
  const struct vc_backup *b = &m.backups.ptr[0];
  assert_int_equal (b->id, 7);
  assert_int_equal (b->parent, 0);
  assert_null (b->since);
  assert_true (b->seconds == 0);
  assert_true (b->disks.ptr[0].bytes_read == 0);
  assert_true (b->disks.ptr[0].bytes_zeroed == 0);
  assert_null (b->disks.ptr[0].backing);
  assert_int_equal (b->files.len, 0);
  vc_manifest_clear (&m);
}

/* --- lookups ----------------------------------------------------------- */

static void
test_lookup_by_id_checkpoint_and_dir (void **state)
{
  struct vc_manifest m;

  make_manifest (&m);
  assert_ptr_equal (vc_manifest_lookup (&m, "1"), &m.backups.ptr[0]);
  assert_ptr_equal (vc_manifest_lookup (&m, "2"), &m.backups.ptr[1]);
  assert_ptr_equal (vc_manifest_lookup (&m, "3"), &m.backups.ptr[2]);
  assert_ptr_equal (vc_manifest_lookup (&m, CP1), &m.backups.ptr[0]);
  assert_ptr_equal (vc_manifest_lookup (&m, CP2), &m.backups.ptr[1]);
  assert_ptr_equal (vc_manifest_lookup (&m, DIR1), &m.backups.ptr[0]);
  assert_ptr_equal (vc_manifest_lookup (&m, DIR3), &m.backups.ptr[2]);
  assert_null (vc_manifest_lookup (&m, "5"));
  assert_null (vc_manifest_lookup (&m, "0"));
  assert_null (vc_manifest_lookup (&m, ""));
  assert_null (vc_manifest_lookup (&m, "virtckpt.nope"));
  assert_null (vc_manifest_lookup (&m, CHAIN));         /* not a key */
  assert_null (vc_manifest_lookup (&m, "4294967297"));  /* 2^32 + 1 */

  /* A name that starts with digits is a name, not an id. */
  add_backup (&m, 4, "inc", CHAIN, "2cp", CP2, 2, "2-renamed");
  assert_ptr_equal (vc_manifest_lookup (&m, "2-renamed"), &m.backups.ptr[3]);
  assert_ptr_equal (vc_manifest_lookup (&m, "2cp"), &m.backups.ptr[3]);

  assert_ptr_equal (vc_manifest_find (&m, 2), &m.backups.ptr[1]);
  assert_null (vc_manifest_find (&m, 0));
  assert_null (vc_manifest_find (&m, 9));
  vc_manifest_clear (&m);
}

static void
test_backup_disk_by_name (void **state)
{
  struct vc_manifest m;

  make_manifest (&m);
  const struct vc_backup *b = &m.backups.ptr[0];
  assert_ptr_equal (vc_backup_disk (b, "vdb"), &b->disks.ptr[1]);
  assert_ptr_equal (vc_backup_disk (b, "vda"), &b->disks.ptr[0]);
  assert_null (vc_backup_disk (b, "vdc"));
  assert_null (vc_backup_disk (&m.backups.ptr[1], "vdb"));
  vc_manifest_clear (&m);
}

static void
test_tip_skips_copies (void **state)
{
  struct vc_manifest m;

  make_manifest (&m);
  /* The newest is a copy: the tip is the incremental before it. */
  assert_ptr_equal (vc_manifest_tip (&m), &m.backups.ptr[1]);
  /* A later chain backup becomes the tip. */
  add_backup (&m, 4, "inc", CHAIN, "cp4", CP2, 2, "0004-inc");
  assert_ptr_equal (vc_manifest_tip (&m), &m.backups.ptr[3]);
  vc_manifest_clear (&m);

  /* Nothing but copies: no tip. */
  memset (&m, 0, sizeof m);
  m.domain = strdup ("web1");
  assert_null (vc_manifest_tip (&m));
  add_backup (&m, 1, "copy", NULL, NULL, NULL, 0, "0001-copy");
  add_backup (&m, 2, "copy", NULL, NULL, NULL, 0, "0002-copy");
  assert_null (vc_manifest_tip (&m));
  vc_manifest_clear (&m);
}

/* --- damaged manifests ------------------------------------------------- */

#define GOOD_DISK(sha) \
  "<disk name='vda' file='vda.qcow2' virtual-size='1048576' read='65536'" \
  " zeroed='0' file-size='393216' sha256='" sha "'/>"
#define BACKUP(id, dir, inner) \
  "<backup id='" id "' level='full' chain='" CHAIN "'" \
  " checkpoint='virtckpt." CHAIN "." id ".abcd'" \
  " dir='" dir "' started='1' finished='2' seconds='1.000'>" inner "</backup>"
/* The directory name of full backup id (4 digits). */
#define DIRN(id4) id4 "-full-20261127T070000Z"
#define MANIFEST(backups) \
  "<virtckpt-backups format='1'><domain>web1</domain>" backups "</virtckpt-backups>"

/* The damaged text must be refused, m left empty, the file as it was. */
static void
assert_refused (struct fixture *f, const char *text)
{
  struct vc_manifest m;
  struct stat before, after;
  char *now;

  write_manifest (f, text);
  assert_int_equal (fstatat (f->dirfd, VC_MANIFEST_FILE, &before, 0), 0);
  if (vc_manifest_load (f->dirfd, f->dir, &m) != -1)
    fail_msg ("accepted: %s", text);
  assert_null (m.domain);
  assert_int_equal (m.backups.len, 0);
  assert_null (m.backups.ptr);
  now = read_manifest (f);
  assert_string_equal (now, text);
  free (now);
  assert_int_equal (fstatat (f->dirfd, VC_MANIFEST_FILE, &after, 0), 0);
  assert_int_equal (before.st_ino, after.st_ino);
  assert_true (before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
               before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
  assert_int_equal (count_entries (f), 1);
}

static void
assert_accepted (struct fixture *f, const char *text)
{
  struct vc_manifest m;

  write_manifest (f, text);
  if (vc_manifest_load (f->dirfd, f->dir, &m) != 0)
    fail_msg ("refused: %s", text);
  vc_manifest_clear (&m);
}

static void
test_damaged_template_is_valid (void **state)
{
  /* The damaged cases below differ from these in one thing each. */
  assert_accepted (*state, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (SHA_A))));
  assert_accepted (*state, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (SHA_A)
                                             "<file name='domain.xml' sha256='" SHA_B "'/>")
                                     BACKUP ("2", DIRN ("0002"), GOOD_DISK (SHA_A))));
}

static void
test_load_refuses_truncated_manifest (void **state)
{
  struct fixture *f = *state;
  struct vc_manifest m;
  char *text;

  make_manifest (&m);
  assert_int_equal (vc_manifest_save (f->dirfd, f->dir, &m), 0);
  vc_manifest_clear (&m);
  text = read_manifest (f);
  text[strlen (text) / 2] = '\0';
  assert_refused (f, text);
  text[0] = '\0';
  assert_refused (f, text);                             /* empty file */
  free (text);
}

static void
test_load_refuses_wrong_root_or_format (void **state)
{
  struct fixture *f = *state;

  assert_refused (f, "<virtckpt-domain format='1'><domain>web1</domain></virtckpt-domain>");
  assert_refused (f, "<virtckpt-backups format='2'><domain>web1</domain></virtckpt-backups>");
  assert_refused (f, "<virtckpt-backups><domain>web1</domain></virtckpt-backups>");
  assert_refused (f, "<virtckpt-backups format='1'></virtckpt-backups>");   /* no domain */
  assert_refused (f, "<virtckpt-backups format='1'><domain></domain></virtckpt-backups>");
}

static void
test_load_refuses_bad_sha256 (void **state)
{
  struct fixture *f = *state;

  /* Wrong length, both ways. */
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"))));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (SHA_A "0"))));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (""))));
  /* Upper case, not hex. */
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (
    "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"))));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (
    "0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef"))));
  /* Missing. */
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"),
    "<disk name='vda' file='vda.qcow2' virtual-size='1' file-size='1'/>")));
  /* The same checks on a <file>. */
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (SHA_A)
    "<file name='domain.xml' sha256='" SHA_A "1'/>")));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (SHA_A)
    "<file name='domain.xml' sha256='"
    "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855'/>")));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (SHA_A)
                               "<file name='domain.xml'/>")));
}

static void
test_load_refuses_path_traversal (void **state)
{
  struct fixture *f = *state;

  assert_refused (f, MANIFEST (BACKUP ("1", "..", GOOD_DISK (SHA_A))));
  assert_refused (f, MANIFEST (BACKUP ("1", ".", GOOD_DISK (SHA_A))));
  assert_refused (f, MANIFEST (BACKUP ("1", "", GOOD_DISK (SHA_A))));
  assert_refused (f, MANIFEST (BACKUP ("1", "../other", GOOD_DISK (SHA_A))));
  assert_refused (f, MANIFEST (BACKUP ("1", "/etc", GOOD_DISK (SHA_A))));
  assert_refused (f, MANIFEST (BACKUP ("1", "d1/..", GOOD_DISK (SHA_A))));
  /* Disk names and files. */
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"),
    "<disk name='vda' file='../vda.qcow2' virtual-size='1' file-size='1'"
    " sha256='" SHA_A "'/>")));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"),
    "<disk name='vda' file='..' virtual-size='1' file-size='1' sha256='" SHA_A "'/>")));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"),
    "<disk name='../vda' file='vda.qcow2' virtual-size='1' file-size='1'"
    " sha256='" SHA_A "'/>")));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"),
    "<disk name='..' file='vda.qcow2' virtual-size='1' file-size='1' sha256='" SHA_A "'/>")));
  /* Other files. */
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (SHA_A)
    "<file name='../manifest.xml' sha256='" SHA_A "'/>")));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (SHA_A)
    "<file name='..' sha256='" SHA_A "'/>")));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (SHA_A)
    "<file name='/etc/passwd' sha256='" SHA_A "'/>")));
}

static void
test_load_refuses_ids_not_increasing (void **state)
{
  struct fixture *f = *state;

  assert_refused (f, MANIFEST (BACKUP ("2", DIRN ("0002"), GOOD_DISK (SHA_A)) BACKUP ("1", DIRN ("0001"), GOOD_DISK (SHA_A))));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (SHA_A)) BACKUP ("1", DIRN ("0002"), GOOD_DISK (SHA_A))));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (SHA_A)) BACKUP ("3", DIRN ("0003"), GOOD_DISK (SHA_A))
                               BACKUP ("2", DIRN ("0002"), GOOD_DISK (SHA_A))));
}

static void
test_load_refuses_bad_ids_and_numbers (void **state)
{
  struct fixture *f = *state;

  assert_refused (f, MANIFEST (BACKUP ("0", DIRN ("0000"), GOOD_DISK (SHA_A))));
  assert_refused (f, MANIFEST (BACKUP ("-1", DIRN ("-001"), GOOD_DISK (SHA_A))));
  assert_refused (f, MANIFEST (BACKUP ("x", DIRN ("0000"), GOOD_DISK (SHA_A))));
  assert_refused (f, MANIFEST (BACKUP ("4294967296", DIRN ("0000"), GOOD_DISK (SHA_A))));
  assert_refused (f, MANIFEST (
    "<backup id='1' chain='c' dir='d1' started='1' finished='2'/>"));     /* no level */
  assert_refused (f, MANIFEST (
    "<backup id='1' level='full' dir='d1' finished='2'/>"));              /* no start */
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"),
    "<disk name='vda' file='vda.qcow2' virtual-size='12abc' file-size='1'"
    " sha256='" SHA_A "'/>")));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"),
    "<disk name='vda' file='vda.qcow2' virtual-size='18446744073709551616'"
    " file-size='1' sha256='" SHA_A "'/>")));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"),
    "<disk name='vda' file='vda.qcow2' virtual-size='1' file-size='-1'"
    " sha256='" SHA_A "'/>")));
  assert_refused (f, MANIFEST (BACKUP ("1", DIRN ("0001"),
    "<disk name='vda' file='vda.qcow2' virtual-size='1' sha256='" SHA_A "'/>")));
}

/* Times over INT64_MAX loaded as negative numbers, which the next save
 * wrote and no later load accepted: the backup after a tampered manifest
 * locked its owner out of every backup in the directory.
 */
static void
test_load_refuses_times_that_do_not_save (void **state)
{
  struct fixture *f = *state;

#define TIMED(started, finished) \
  MANIFEST ("<backup id='1' level='full' chain='" CHAIN "'" \
            " checkpoint='virtckpt." CHAIN ".1.abcd' dir='" DIRN ("0001") "'" \
            " started='" started "' finished='" finished "' seconds='1.000'>" \
            GOOD_DISK (SHA_A) "</backup>")
  assert_refused (f, TIMED ("9223372036854775808", "2"));
  assert_refused (f, TIMED ("1", "18446744073709551615"));
  assert_accepted (f, TIMED ("9223372036854775807", "9223372036854775807"));
#undef TIMED
}

static void
test_load_refuses_doctype (void **state)
{
  struct fixture *f = *state;

  assert_refused (f, "<?xml version='1.0'?>\n"
                  "<!DOCTYPE virtckpt-backups [<!ENTITY d 'web1'>]>\n"
                  MANIFEST (BACKUP ("1", DIRN ("0001"), GOOD_DISK (SHA_A))));
  assert_refused (f, "<!DOCTYPE virtckpt-backups SYSTEM 'file:///etc/passwd'>"
                  MANIFEST (""));
}


/* --- the grammar: names virtckpt writes, parents that end --------------- */

static void
set (char **field, const char *value)
{
  free (*field);
  *field = value ? strdup (value) : NULL;
}

#define B(i) (&m->backups.ptr[i])
#define D(i) (&m->backups.ptr[i].disks.ptr[0])

static void self_parent (struct vc_manifest *m) { B(1)->parent = 2; }
static void later_parent (struct vc_manifest *m) { B(1)->parent = 3; }
static void missing_parent (struct vc_manifest *m)
{
  vc_backup_clear (B(0));         /* backup 1 gone: 2 builds on nothing */
  memmove (B(0), B(1), 2 * sizeof *B(0));
  m->backups.len = 2;
}
static void cycle (struct vc_manifest *m)
{
  /* 1 <- 2 and 2 <- 1: only possible with a parent that is not earlier. */
  B(0)->parent = 2;
  set (&B(0)->level, "inc");
  set (&B(0)->since, CP2);
  set (&B(0)->dir, "0001-inc-20261127T070000Z");
}
static void out_of_order (struct vc_manifest *m)
{
  struct vc_backup t = *B(0);
  *B(0) = *B(1);
  *B(1) = t;
}
static void id_wraps (struct vc_manifest *m) { B(2)->id = UINT32_MAX; }
static void id_too_big (struct vc_manifest *m) { B(2)->id = VC_BACKUP_ID_MAX + 1; }
static void level_unknown (struct vc_manifest *m) { set (&B(0)->level, "full/.."); }
static void chain_slash (struct vc_manifest *m) { set (&B(0)->chain, "../../etc"); }
static void chain_markup (struct vc_manifest *m) { set (&B(0)->chain, "20261127T070000Z-<a>"); }
static void chain_on_copy (struct vc_manifest *m) { set (&B(2)->chain, CHAIN); }
static void checkpoint_other_id (struct vc_manifest *m) { set (&B(0)->checkpoint, CP2); }
static void checkpoint_shell (struct vc_manifest *m)
{
  set (&B(0)->checkpoint, "virtckpt." CHAIN ".1.$(id)");
}
static void dir_dotdot (struct vc_manifest *m) { set (&B(0)->dir, ".."); }
static void dir_slash (struct vc_manifest *m) { set (&B(0)->dir, "0001-full-20261127T070000Z/x"); }
static void dir_other_id (struct vc_manifest *m) { set (&B(0)->dir, DIR2); }
static void dir_other_level (struct vc_manifest *m) { set (&B(0)->dir, "0001-inc-20261127T070000Z"); }
static void since_wrong (struct vc_manifest *m) { set (&B(1)->since, CP2); }
static void since_on_full (struct vc_manifest *m) { set (&B(0)->since, CP1); }
static void parent_on_copy (struct vc_manifest *m) { B(2)->parent = 1; }
static void inc_without_parent (struct vc_manifest *m) { B(1)->parent = 0; }
static void inc_of_copy (struct vc_manifest *m)
{
  struct vc_backup *b = add_backup (m, 4, "inc", CHAIN, "virtckpt." CHAIN ".4.0000",
                                    NULL, 3, "0004-inc-20261129T070000Z");
  add_disk (b, "vda", "../" DIR3 "/vda.qcow2", 1, 1, 1, 1, SHA_A);
}
static void inc_of_other_chain (struct vc_manifest *m)
{
  set (&B(1)->chain, "20261127T070000Z-ffff");
  set (&B(1)->checkpoint, "virtckpt.20261127T070000Z-ffff.2.0b7d");
}
static void diff_of_inc (struct vc_manifest *m)
{
  struct vc_backup *b = add_backup (m, 4, "diff", CHAIN, "virtckpt." CHAIN ".4.0000",
                                    CP2, 2, "0004-diff-20261129T070000Z");
  add_disk (b, "vda", "../" DIR2 "/vda.qcow2", 1, 1, 1, 1, SHA_A);
}
static void disk_slash (struct vc_manifest *m) { set (&D(0)->name, "a/b"); set (&D(0)->file, "a/b.qcow2"); }
static void disk_dotdot (struct vc_manifest *m) { set (&D(0)->name, ".."); set (&D(0)->file, "...qcow2"); }
static void disk_markup (struct vc_manifest *m) { set (&D(0)->name, "vd<a>"); set (&D(0)->file, "vd<a>.qcow2"); }
static void disk_twice (struct vc_manifest *m) { set (&B(0)->disks.ptr[1].name, "vda"); set (&B(0)->disks.ptr[1].file, "vda.qcow2"); }
static void disk_file_other (struct vc_manifest *m) { set (&D(0)->file, "vdb.qcow2"); }
static void no_disks (struct vc_manifest *m)
{
  for (size_t i = 0; i < B(2)->disks.len; i++) {
    free (B(2)->disks.ptr[i].name);
    free (B(2)->disks.ptr[i].file);
    free (B(2)->disks.ptr[i].backing);
  }
  B(2)->disks.len = 0;
}
static void backing_host_file (struct vc_manifest *m) { set (&B(1)->disks.ptr[0].backing, "/etc/shadow"); }
static void backing_json (struct vc_manifest *m)
{
  set (&B(1)->disks.ptr[0].backing, "json:{\"file.filename\":\"/etc/shadow\"}");
}
static void backing_on_full (struct vc_manifest *m) { set (&D(0)->backing, "../" DIR3 "/vda.qcow2"); }
static void backing_missing (struct vc_manifest *m) { set (&B(1)->disks.ptr[0].backing, NULL); }
static void file_dotdot (struct vc_manifest *m) { set (&B(0)->files.ptr[0].name, "../manifest.xml"); }
static void file_other (struct vc_manifest *m) { set (&B(0)->files.ptr[0].name, "passwd"); }
static void file_twice (struct vc_manifest *m) { set (&B(0)->files.ptr[1].name, "domain.xml"); }
static void domain_newline (struct vc_manifest *m) { set (&m->domain, "web1\nstate: synced"); }
static void domain_slash (struct vc_manifest *m) { set (&m->domain, "../web1"); }
static void domain_empty (struct vc_manifest *m) { set (&m->domain, ""); }

#undef B
#undef D

static const struct {
  const char *what;
  void (*change) (struct vc_manifest *m);
} grammar_cases[] = {
  { "a backup is its own parent", self_parent },
  { "a parent after its child", later_parent },
  { "a missing parent", missing_parent },
  { "parents in a cycle", cycle },
  { "ids out of order", out_of_order },
  { "an id that would wrap", id_wraps },
  { "an id above the maximum", id_too_big },
  { "an unknown level", level_unknown },
  { "a chain with '/'", chain_slash },
  { "a chain with markup", chain_markup },
  { "a copy with a chain", chain_on_copy },
  { "a checkpoint of another id", checkpoint_other_id },
  { "a checkpoint with shell syntax", checkpoint_shell },
  { "dir '..'", dir_dotdot },
  { "a dir with '/'", dir_slash },
  { "a dir of another id", dir_other_id },
  { "a dir of another level", dir_other_level },
  { "since is not the parent's checkpoint", since_wrong },
  { "a full with since", since_on_full },
  { "a copy with a parent", parent_on_copy },
  { "an inc without parent", inc_without_parent },
  { "an inc on a copy", inc_of_copy },
  { "an inc of another chain", inc_of_other_chain },
  { "a diff on an inc", diff_of_inc },
  { "a disk name with '/'", disk_slash },
  { "disk name '..'", disk_dotdot },
  { "a disk name with markup", disk_markup },
  { "a disk listed twice", disk_twice },
  { "a disk file of another name", disk_file_other },
  { "a backup without disks", no_disks },
  { "a backing name of a host file", backing_host_file },
  { "a json: backing name", backing_json },
  { "a full with a backing name", backing_on_full },
  { "an inc without backing name", backing_missing },
  { "a file '../manifest.xml'", file_dotdot },
  { "a file of another name", file_other },
  { "a file listed twice", file_twice },
  { "a domain with a newline", domain_newline },
  { "a domain with '/'", domain_slash },
  { "an empty domain", domain_empty },
};

static void
test_check_accepts_what_virtckpt_writes (void **state)
{
  struct vc_manifest m;
  char *err = NULL;

  make_manifest (&m);
  if (vc_manifest_check (&m, &err) != 0)
    fail_msg ("refused: %s", err);
  vc_manifest_clear (&m);
}

/* Each change refused by the check, and by load (through a saved file). */
static void
test_check_refuses_each_hostile_change (void **state)
{
  struct fixture *f = *state;

  for (size_t i = 0; i < VC_TEST_ROWS (grammar_cases); i++) {
    struct vc_manifest m, back;
    char *err = NULL;
    make_manifest (&m);
    grammar_cases[i].change (&m);
    if (vc_manifest_check (&m, &err) != -1)
      fail_msg ("accepted: %s", grammar_cases[i].what);
    assert_non_null (err);
    if (getenv ("VC_TEST_VERBOSE"))
      fprintf (stderr, "%s: %s\n", grammar_cases[i].what, err);
    free (err);
    if (grammar_cases[i].change != id_wraps) {
      assert_int_equal (vc_manifest_save (f->dirfd, f->dir, &m), 0);
      if (vc_manifest_load (f->dirfd, f->dir, &back) != -1)
        fail_msg ("loaded: %s", grammar_cases[i].what);
    }
    vc_manifest_clear (&m);
  }
}

/* A chain of 100 000 incrementals is accepted whole and its links found
 * (the check and the lookup are O(n log n): a quadratic one would not end
 * in a test's time).
 */
static void
test_long_chain_is_checked (void **state)
{
  struct vc_manifest m = { .domain = strdup ("web1") };
  const unsigned n = 100000;
  char *err = NULL;

  for (unsigned id = 1; id <= n; id++) {
    char *cp = vc_printf ("virtckpt." CHAIN ".%u.0000", id);
    char *prev = vc_printf ("virtckpt." CHAIN ".%u.0000", id - 1);
    char *dir = vc_printf ("%04u-%s-20261127T070000Z", id, id == 1 ? "full" : "inc");
    char *pdir = vc_printf ("../%04u-%s-20261127T070000Z/vda.qcow2", id - 1,
                            id == 2 ? "full" : "inc");
    struct vc_backup *b = add_backup (&m, id, id == 1 ? "full" : "inc", CHAIN, cp,
                                      id == 1 ? NULL : prev, id - 1, dir);
    add_disk (b, "vda", id == 1 ? NULL : pdir, 1, 1, 1, 1, SHA_A);
    free (cp); free (prev); free (dir); free (pdir);
  }
  if (vc_manifest_check (&m, &err) != 0)
    fail_msg ("refused: %s", err);
  assert_ptr_equal (vc_manifest_find (&m, n / 3), &m.backups.ptr[n / 3 - 1]);
  vc_manifest_clear (&m);
}

/* Whether a backup was frozen survives save and load; other values are
 * refused.
 */
static void
test_consistency_round_trips (void **state)
{
  struct fixture *f = *state;
  struct vc_manifest m, back;

  make_manifest (&m);
  m.backups.ptr[0].consistency = strdup (VC_APPLICATION_CONSISTENT);
  m.backups.ptr[1].consistency = strdup (VC_CRASH_CONSISTENT);
  assert_int_equal (vc_manifest_save (f->dirfd, f->dir, &m), 0);
  assert_int_equal (vc_manifest_load (f->dirfd, f->dir, &back), 0);
  assert_string_equal (back.backups.ptr[0].consistency, "application");
  assert_string_equal (back.backups.ptr[1].consistency, "crash");
  assert_null (back.backups.ptr[2].consistency);
  vc_manifest_clear (&m);
  vc_manifest_clear (&back);

#define FROZEN(c) \
  MANIFEST ("<backup id='1' level='full' chain='" CHAIN "'" \
            " checkpoint='virtckpt." CHAIN ".1.abcd' dir='" DIRN ("0001") "'" \
            " started='1' finished='2' seconds='1.000' consistency='" c "'>" \
            GOOD_DISK (SHA_A) "</backup>")
  assert_accepted (f, FROZEN ("crash"));
  assert_refused (f, FROZEN ("maybe"));
  assert_refused (f, FROZEN (""));
#undef FROZEN
}

/* prune's synthetic full: only a full, its dir named full, inc or diff,
 * and the attribute "yes" or absent; it round-trips.
 */
#define SYNTH(attr, dir) \
  "<backup id='1' level='full' chain='" CHAIN "'" \
  " checkpoint='virtckpt." CHAIN ".1.abcd' dir='" dir "' started='1'" \
  " finished='2' seconds='1.000'" attr ">" GOOD_DISK (SHA_A) "</backup>"

static void
test_synthetic_full (void **state)
{
  struct fixture *f = *state;
  struct vc_manifest m;

  assert_accepted (f, MANIFEST (SYNTH (" synthetic='yes'", "0001-inc-20261127T070000Z")));
  assert_accepted (f, MANIFEST (SYNTH (" synthetic='yes'", "0001-diff-20261127T070000Z")));
  assert_accepted (f, MANIFEST (SYNTH (" synthetic='yes'", "0001-full-20261127T070000Z")));
  assert_refused (f, MANIFEST (SYNTH ("", "0001-inc-20261127T070000Z")));
  assert_refused (f, MANIFEST (SYNTH (" synthetic='no'", "0001-full-20261127T070000Z")));
  assert_refused (f, MANIFEST (SYNTH (" synthetic='yes'", "0001-copy-20261127T070000Z")));
  assert_refused (f, MANIFEST (
    "<backup id='1' level='inc' chain='" CHAIN "' checkpoint='virtckpt." CHAIN ".1.abcd'"
    " dir='0001-inc-20261127T070000Z' started='1' finished='2' synthetic='yes'>"
    GOOD_DISK (SHA_A) "</backup>"));

  write_manifest (f, MANIFEST (SYNTH (" synthetic='yes'", "0001-inc-20261127T070000Z")));
  assert_int_equal (vc_manifest_load (f->dirfd, f->dir, &m), 0);
  assert_true (m.backups.ptr[0].synthetic);
  assert_int_equal (vc_manifest_save (f->dirfd, f->dir, &m), 0);
  vc_manifest_clear (&m);
  assert_int_equal (vc_manifest_load (f->dirfd, f->dir, &m), 0);
  assert_true (m.backups.ptr[0].synthetic);
  assert_string_equal (m.backups.ptr[0].dir, "0001-inc-20261127T070000Z");
  vc_manifest_clear (&m);
}

int
main (void)
{
#define T(fn) cmocka_unit_test_setup_teardown (fn, setup, teardown)
  const struct CMUnitTest tests[] = {
    T (test_save_load_round_trips_every_field),
    T (test_save_writes_documented_format),
    T (test_save_again_replaces_manifest),
    T (test_save_load_escapes_markup),
    T (test_load_without_manifest_returns_1),
    T (test_load_accepts_missing_optional_numbers),
    T (test_lookup_by_id_checkpoint_and_dir),
    T (test_backup_disk_by_name),
    T (test_tip_skips_copies),
    T (test_damaged_template_is_valid),
    T (test_load_refuses_truncated_manifest),
    T (test_load_refuses_wrong_root_or_format),
    T (test_load_refuses_bad_sha256),
    T (test_load_refuses_path_traversal),
    T (test_load_refuses_ids_not_increasing),
    T (test_load_refuses_bad_ids_and_numbers),
    T (test_load_refuses_doctype),
    T (test_load_refuses_times_that_do_not_save),
    T (test_check_accepts_what_virtckpt_writes),
    T (test_check_refuses_each_hostile_change),
    T (test_long_chain_is_checked),
    T (test_consistency_round_trips),
    T (test_synthetic_full),
  };
#undef T
  int r;

  vc_test_log_init ("test-manifest");
  r = cmocka_run_group_tests_name ("manifest", tests, NULL, NULL);
  vc_log_fini ();
  return r;
}
