/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: the progress record of an interrupted backup.
 *
 * .partial-ID/progress.xml lies in a backup directory others can write:
 * untrusted, like the manifest.  Loading any input must not crash; a
 * record that loads must keep the promises the resume relies on (ranges
 * aligned, in order, within the disk, copied within data) and survive
 * being saved and loaded again unchanged (a resumed run interrupted again
 * writes it back).  Its parent is looked up in a fixed manifest: backup 1,
 * a full of chain 20261127T070000Z-3f2a.
 */
#include <config.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "backup/qcow2-plan.h"
#include "backup/resume-record.h"

#define CHAIN "20261127T070000Z-3f2a"

static int in_fd = -1, out_fd = -1;
static char *in_dir, *out_dir;
static struct vc_manifest manifest;

static void
remove_scratch (void)
{
  unlinkat (in_fd, VC_RESUME_FILE, 0);
  unlinkat (out_fd, VC_RESUME_FILE, 0);
  rmdir (in_dir);
  rmdir (out_dir);
}

static int
scratch_dir (const char *name, char **path)
{
  const char *tmp = getenv ("TMPDIR");
  char *dir = vc_printf ("%s/fuzz-resume-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
  int fd;

  if (dir == NULL || mkdtemp (dir) == NULL ||
      (fd = open (dir, O_RDONLY | O_DIRECTORY)) == -1)
    fuzz_fail ("cannot make a scratch directory in %s", tmp ? tmp : "/tmp");
  *path = dir;
  return fd;
}

static void
setup (void)
{
  struct vc_backup b = {
    .id = 1, .level = strdup ("full"), .chain = strdup (CHAIN),
    .checkpoint = strdup ("virtckpt." CHAIN ".1.9c1e"),
    .dir = strdup ("0001-full-20261127T070000Z"),
  };

  manifest.domain = strdup ("web1");
  if (vc_backup_vector_append (&manifest.backups, b) == -1)
    fuzz_fail ("out of memory");
  in_fd = scratch_dir ("in", &in_dir);
  out_fd = scratch_dir ("out", &out_dir);
  atexit (remove_scratch);
}

static void
put_input (const uint8_t *data, size_t size)
{
  int fd = openat (in_fd, VC_RESUME_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);

  if (fd == -1 || (size && write (fd, data, size) != (ssize_t) size))
    fuzz_fail ("cannot write the input to %s", in_dir);
  close (fd);
}

static bool
same_ranges (const vc_range_vector *a, const vc_range_vector *b)
{
  if (a->len != b->len)
    return false;
  for (size_t i = 0; i < a->len; i++)
    if (a->ptr[i].offset != b->ptr[i].offset || a->ptr[i].length != b->ptr[i].length)
      return false;
  return true;
}

/* What the resume relies on, whatever the input was. */
static void
promises (const struct vc_resume *r)
{
  for (size_t i = 0; i < r->disks.len; i++) {
    const struct vc_resume_disk *d = &r->disks.ptr[i];
    vc_range_vector extra = empty_vector;
    uint64_t limit = (d->virtual_size + VC_QCOW2_CLUSTER_SIZE - 1) &
      ~(VC_QCOW2_CLUSTER_SIZE - 1);
    const vc_range_vector *all[] = { &d->data, &d->zero, &d->copied };
    for (size_t k = 0; k < 3; k++)
      for (size_t j = 0; j < all[k]->len; j++) {
        const struct vc_range *x = &all[k]->ptr[j];
        if (x->offset % VC_QCOW2_CLUSTER_SIZE || x->length % VC_QCOW2_CLUSTER_SIZE ||
            x->length == 0 || x->offset > limit || x->length > limit - x->offset ||
            (j > 0 && x->offset <= all[k]->ptr[j - 1].offset))
          fuzz_fail ("disk %s: a loaded range breaks the record's rules", d->name);
      }
    if (vc_ranges_subtract (&d->copied, &d->data, &extra) == -1 || extra.len)
      fuzz_fail ("disk %s: copied ranges outside its data were loaded", d->name);
    vc_range_vector_reset (&extra);
  }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vc_resume first, second;
  char *why = NULL;

  fuzz_quiet_logs ();
  if (in_fd == -1)
    setup ();
  put_input (data, size);
  if (vc_resume_load (in_fd, 2, &manifest, &first, &why) != 0) {
    free (why);
    return 0;
  }
  promises (&first);
  if (vc_resume_save (out_fd, "output", &first) == -1)
    fuzz_fail ("a record that loaded cannot be saved");
  if (vc_resume_load (out_fd, 2, &manifest, &second, &why) != 0)
    fuzz_fail ("a record that loaded does not load once saved again: %s",
               why ? why : "?");
  if (!vc_streq (first.checkpoint, second.checkpoint) || first.runs != second.runs ||
      first.parent != second.parent || first.disks.len != second.disks.len)
    fuzz_fail ("save and load changed the record");
  for (size_t i = 0; i < first.disks.len; i++) {
    const struct vc_resume_disk *x = &first.disks.ptr[i], *y = &second.disks.ptr[i];
    if (!vc_streq (x->name, y->name) || x->virtual_size != y->virtual_size ||
        x->image != y->image || x->bytes_read != y->bytes_read ||
        !same_ranges (&x->data, &y->data) || !same_ranges (&x->zero, &y->zero) ||
        !same_ranges (&x->copied, &y->copied))
      fuzz_fail ("save and load changed disk %s", x->name);
  }
  vc_resume_clear (&first);
  vc_resume_clear (&second);
  return 0;
}
