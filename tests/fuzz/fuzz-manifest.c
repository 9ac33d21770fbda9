/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: backup manifests.
 *
 * A backup directory lives on shared storage that others can write, so
 * its manifest.xml is untrusted.  Loading any input must not crash; a
 * manifest that loads must answer lookups, and must survive being saved
 * and loaded again unchanged (the next backup appends to it and saves it:
 * a manifest that loads but cannot be written back would lock the
 * directory's owner out of their backups).
 *
 * vc_manifest_load reads manifest.xml from a directory, so each input is
 * written to a scratch directory first.
 */
#include <config.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "backup/manifest.h"

static int in_fd = -1, out_fd = -1;
static char *in_dir, *out_dir;

static void
remove_scratch (void)
{
  unlinkat (in_fd, VC_MANIFEST_FILE, 0);
  unlinkat (out_fd, VC_MANIFEST_FILE, 0);
  rmdir (in_dir);
  rmdir (out_dir);
}

static int
scratch_dir (const char *name, char **path)
{
  const char *tmp = getenv ("TMPDIR");
  char *dir = vc_printf ("%s/fuzz-manifest-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
  int fd;

  if (dir == NULL || mkdtemp (dir) == NULL ||
      (fd = open (dir, O_RDONLY | O_DIRECTORY)) == -1)
    fuzz_fail ("cannot make a scratch directory in %s", tmp ? tmp : "/tmp");
  *path = dir;
  return fd;
}

/* The input as manifest.xml of the input directory. */
static void
put_input (const uint8_t *data, size_t size)
{
  int fd = openat (in_fd, VC_MANIFEST_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);

  if (fd == -1 || (size && write (fd, data, size) != (ssize_t) size))
    fuzz_fail ("cannot write the input to %s", in_dir);
  close (fd);
}

static void
same_string (const char *what, unsigned id, const char *a, const char *b)
{
  if (!vc_streq (a, b))
    fuzz_fail ("backup %u: save and load changed %s: '%s' became '%s'", id,
               what, a ? a : "(null)", b ? b : "(null)");
}

static void
same_backup (const struct vc_backup *a, const struct vc_backup *b)
{
  same_string ("level", a->id, a->level, b->level);
  same_string ("chain", a->id, a->chain, b->chain);
  same_string ("checkpoint", a->id, a->checkpoint, b->checkpoint);
  same_string ("since", a->id, a->since, b->since);
  same_string ("dir", a->id, a->dir, b->dir);
  if (a->id != b->id || a->parent != b->parent || a->started != b->started ||
      a->finished != b->finished || a->disks.len != b->disks.len ||
      a->files.len != b->files.len)
    fuzz_fail ("backup %u: save and load changed its numbers", a->id);
  for (size_t i = 0; i < a->disks.len; i++) {
    const struct vc_backup_disk *x = &a->disks.ptr[i], *y = &b->disks.ptr[i];
    same_string ("a disk name", a->id, x->name, y->name);
    same_string ("a disk file", a->id, x->file, y->file);
    same_string ("a backing file", a->id, x->backing, y->backing);
    same_string ("a disk checksum", a->id, x->sum.hex, y->sum.hex);
    if (x->virtual_size != y->virtual_size || x->bytes_read != y->bytes_read ||
        x->bytes_zeroed != y->bytes_zeroed || x->file_size != y->file_size ||
        x->sum.algo != y->sum.algo)
      fuzz_fail ("backup %u: save and load changed disk %s", a->id, x->name);
  }
  for (size_t i = 0; i < a->files.len; i++) {
    same_string ("a file name", a->id, a->files.ptr[i].name, b->files.ptr[i].name);
    same_string ("a file checksum", a->id, a->files.ptr[i].sum.hex,
                 b->files.ptr[i].sum.hex);
  }
}

/* Lookups of every backup, by id and by checkpoint, find a backup. */
static void
lookups (const struct vc_manifest *m)
{
  vc_manifest_tip (m);
  vc_manifest_lookup (m, "1");
  vc_manifest_lookup (m, "");
  for (size_t i = 0; i < m->backups.len; i++) {
    const struct vc_backup *b = &m->backups.ptr[i];
    char id[16];
    snprintf (id, sizeof id, "%u", b->id);
    if (vc_manifest_find (m, b->id) != b || vc_manifest_lookup (m, id) == NULL)
      fuzz_fail ("backup %u is in the manifest but not found by its id", b->id);
    if (b->checkpoint && vc_manifest_lookup (m, b->checkpoint) == NULL)
      fuzz_fail ("backup %u is not found by its checkpoint", b->id);
    for (size_t k = 0; k < b->disks.len; k++)
      if (vc_backup_disk (b, b->disks.ptr[k].name) == NULL)
        fuzz_fail ("backup %u: disk %s not found", b->id, b->disks.ptr[k].name);
  }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vc_manifest first, second;

  fuzz_quiet_logs ();
  if (in_fd == -1) {
    in_fd = scratch_dir ("in", &in_dir);
    out_fd = scratch_dir ("out", &out_dir);
    atexit (remove_scratch);
  }
  put_input (data, size);
  if (vc_manifest_load (in_fd, "input", &first) != 0)
    return 0;
  lookups (&first);
  if (vc_manifest_save (out_fd, "output", &first) == -1)
    fuzz_fail ("a manifest that loaded cannot be saved");
  if (vc_manifest_load (out_fd, "output", &second) != 0)
    fuzz_fail ("a manifest that loaded does not load once saved again");
  same_string ("the domain", 0, first.domain, second.domain);
  if (first.backups.len != second.backups.len)
    fuzz_fail ("save and load changed the number of backups");
  for (size_t i = 0; i < first.backups.len; i++)
    same_backup (&first.backups.ptr[i], &second.backups.ptr[i]);
  vc_manifest_clear (&first);
  vc_manifest_clear (&second);
  return 0;
}
