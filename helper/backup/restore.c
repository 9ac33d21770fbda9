/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "backup/backup-dir.h"
#include "backup/restore.h"
#include "backup/restore-chain.h"
#include "backup/restore-stream.h"
#include "backup/restore-target.h"
#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/vc-strings.h"

static const char DAMAGED[] =
  "backup %u or a backup it builds on is damaged: not restoring "
  "(--no-verify skips the checksums, not the other checks)";

/* Streams every link of the chain into t, top first.  Returns 0, -1 on
 * an error, 1 when a link failed its checksum (logged).
 */
static int
stream_chain (const vc_link_vector *chain, const struct vc_chain_map *map,
              const struct vc_restore_options *o, struct vc_restore_target *t)
{
  CLEANUP_FREE unsigned char *buf = malloc (VC_RESTORE_CHUNK);
  struct vc_stream_link *links = calloc (chain->len, sizeof *links);
  struct vc_progress p;
  uint64_t total = 0;
  int r = 0;

  if (buf == NULL || links == NULL) {
    free (links);
    vc_error ("out of memory");
    return -1;
  }
  for (size_t i = 0; i < chain->len; i++) {
    const struct vc_link *l = &chain->ptr[i];
    links[i] = (struct vc_stream_link) { l->fd, l->label, l->disk, l->st.st_size };
    total += vc_stream_bytes (&links[i], &map->runs[i], o->verify);
  }
  vc_progress_start (&p, total, o->progress);
  for (size_t i = 0; i < chain->len && r == 0; i++)
    r = vc_stream_link (&links[i], &map->runs[i], o->verify, t, &p, buf);
  vc_progress_finish (&p);
  free (links);
  return r;
}

/* Restores disk name of b into fd (a new file, or a device).  Nothing is
 * written before the whole chain's metadata is checked.
 */
static int
restore_disk_to (int dirfd, const char *dir, const struct vc_manifest *m,
                 const struct vc_backup *b, const char *name,
                 const struct vc_restore_options *o, struct vc_restore_target *t)
{
  CLEANUP_CHAIN vc_link_vector chain = empty_vector;
  struct vc_chain_map map;
  int r;

  if (vc_chain_open (dirfd, dir, m, b, name, &chain) == -1 ||
      vc_chain_map (&chain, &map) == -1) {
    vc_error (DAMAGED, b->id);
    return -1;
  }
  vc_info ("restoring %s of backup %u (%zu link%s) to %s", name, b->id, chain.len,
           chain.len == 1 ? "" : "s", t->label);
  r = vc_target_prepare (t, &map);
  if (r == 0)
    r = stream_chain (&chain, &map, o, t);
  vc_chain_map_clear (&map, chain.len);
  if (r == 1)
    vc_error (DAMAGED, b->id);
  if (r != 0 || !vc_chain_unchanged (&chain) || vc_target_finish (t) == -1)
    return -1;
  return 0;
}

static int
restore_disk (int dirfd, const char *dir, const struct vc_manifest *m,
              const struct vc_backup *b, const char *name,
              const struct vc_restore_options *o, int tmpfd)
{
  CLEANUP_FREE char *file = vc_printf ("%s.%s", name, o->format);
  CLEANUP_FREE char *label = vc_printf ("%s/%s", o->outdir, file ? file : "");
  CLEANUP_CLOSE int fd = -1;
  struct vc_restore_target t = {
    .kind = strcmp (o->format, "raw") == 0 ? VC_TARGET_RAW : VC_TARGET_QCOW2,
    .label = label,
  };
  int r;

  if (file == NULL || label == NULL) {
    vc_error ("out of memory");
    return -1;
  }
  fd = openat (tmpfd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd == -1) {
    vc_error ("cannot create %s: %m", label);
    return -1;
  }
  t.fd = fd;
  r = restore_disk_to (dirfd, dir, m, b, name, o, &t);
  vc_target_clear (&t);
  return r;
}

bool
vc_restore_wanted (const struct vc_restore_options *o, const char *disk)
{
  if (o->disks->len == 0)
    return true;
  for (size_t i = 0; i < o->disks->len; i++)
    if (strcmp (o->disks->ptr[i], disk) == 0)
      return true;
  return false;
}

/* OUTDIR may be missing or an empty directory (which the rename replaces
 * at once); anything else is kept as it is.
 */
int
vc_restore_check_outdir (const char *outdir)
{
  CLEANUP_CLOSEDIR DIR *d = NULL;
  struct stat st;
  struct dirent *e;

  if (lstat (outdir, &st) == -1) {
    if (errno == ENOENT)
      return 0;
    vc_error ("cannot stat %s: %m", outdir);
    return -1;
  }
  if (S_ISDIR (st.st_mode) && (d = opendir (outdir)) != NULL) {
    while ((e = readdir (d)) != NULL)
      if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
        break;
    if (e == NULL)
      return 0;
  }
  vc_error ("%s exists: not overwriting it (restore into a new or empty directory)",
            outdir);
  return -1;
}

/* Restores into tmp (open as tmpfd), then renames it to OUTDIR. */
static int
restore_into (int dirfd, const char *dir, const struct vc_manifest *m,
              const struct vc_backup *b, const struct vc_restore_options *o,
              int tmpfd, const char *tmp)
{
  size_t restored = 0;

  for (size_t i = 0; i < b->disks.len; i++) {
    const char *name = b->disks.ptr[i].name;
    if (!vc_restore_wanted (o, name))
      continue;
    if ((o->instant ? vc_restore_instant_disk (dirfd, dir, m, b, name, o, tmpfd)
         : restore_disk (dirfd, dir, m, b, name, o, tmpfd)) == -1)
      return -1;
    restored++;
  }
  if (fsync (tmpfd) == -1 || vc_restore_check_outdir (o->outdir) == -1)
    return -1;
  if (rename (tmp, o->outdir) == -1) {
    vc_error ("cannot rename %s to %s: %m", tmp, o->outdir);
    return -1;
  }
  vc_notice ("restored %zu disk%s of backup %u (%s) into %s%s", restored,
             restored == 1 ? "" : "s", b->id, b->level, o->outdir,
             o->instant ? " as overlays on the backup's chain" : "");
  return 0;
}

/* Restores the one disk wanted onto the block device OUTDIR, in place. */
static int
restore_device (int dirfd, const char *dir, const struct vc_manifest *m,
                const struct vc_backup *b, const struct vc_restore_options *o)
{
  CLEANUP_CLOSE int fd = -1;
  struct vc_restore_target t = { .kind = VC_TARGET_DEVICE, .label = o->outdir };
  const char *name = o->disks->len ? o->disks->ptr[0] : b->disks.ptr[0].name;
  int r;

  if (strcmp (o->format, "raw") != 0 || o->disks->len > 1 ||
      (o->disks->len == 0 && b->disks.len != 1)) {
    vc_error ("%s is a block device: restore one disk onto it with --format raw "
              "(and --disk NAME when the backup has several)", o->outdir);
    return VC_EXIT_USAGE;
  }
  /* O_EXCL: refused while the device is mounted or otherwise in use. */
  fd = open (o->outdir, O_WRONLY | O_EXCL | O_CLOEXEC);
  if (fd == -1) {
    vc_error ("cannot open %s: %m%s", o->outdir,
              errno == EBUSY ? " (it is in use: mounted, or open by a VM?)" : "");
    return VC_EXIT_ERROR;
  }
  t.fd = fd;
  r = restore_disk_to (dirfd, dir, m, b, name, o, &t);
  vc_target_clear (&t);
  if (r == -1 && !t.touched) {
    vc_error ("nothing was written to %s", o->outdir);
    return VC_EXIT_ERROR;
  }
  if (r == -1) {
    vc_error ("%s holds an incomplete restore, its first MiB zeroed: do not use "
              "it; restore again once the cause is fixed", o->outdir);
    return VC_EXIT_ERROR;
  }
  vc_notice ("restored %s of backup %u (%s) onto %s", name, b->id, b->level,
             o->outdir);
  return VC_EXIT_OK;
}

int
vc_restore (int dirfd, const char *dir, const struct vc_manifest *m,
            const struct vc_backup *b, const struct vc_restore_options *o)
{
  CLEANUP_FREE char *copy = strdup (o->outdir);
  CLEANUP_FREE char *tmp = NULL;
  CLEANUP_CLOSE int parentfd = -1, tmpfd = -1;
  const char *parent;
  struct stat st;

  if (copy == NULL) {
    vc_error ("out of memory");
    return VC_EXIT_ERROR;
  }
  if (stat (o->outdir, &st) == 0 && S_ISBLK (st.st_mode)) {
    if (o->instant) {
      vc_error ("%s is a block device: --instant makes files in a directory",
                o->outdir);
      return VC_EXIT_USAGE;
    }
    return restore_device (dirfd, dir, m, b, o);
  }
  /* A mistyped device name must not become a directory in /dev. */
  if (strncmp (o->outdir, "/dev/", 5) == 0 && strncmp (o->outdir, "/dev/shm/", 9) != 0) {
    vc_error ("%s is not a block device: nothing written", o->outdir);
    return VC_EXIT_ERROR;
  }
  if (vc_restore_check_outdir (o->outdir) == -1)
    return VC_EXIT_ERROR;
  parent = dirname (copy);
  tmp = vc_printf ("%s/.virtckpt-restore-XXXXXX", parent);
  if (tmp == NULL || mkdtemp (tmp) == NULL) {
    vc_error ("cannot create a directory in %s: %m", parent);
    return VC_EXIT_ERROR;
  }
  parentfd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  tmpfd = open (tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  /* Overlays are for a VM: QEMU's user must reach the files libvirt
   * hands it (their mode stays 0600: libvirt relabels them).
   */
  if (parentfd == -1 || tmpfd == -1 || (o->instant && fchmod (tmpfd, 0711) == -1)) {
    vc_error ("cannot open %s: %m", tmp);
    rmdir (tmp);
    return VC_EXIT_ERROR;
  }
  if (restore_into (dirfd, dir, m, b, o, tmpfd, tmp) == -1) {
    vc_remove_flat_dir (parentfd, strrchr (tmp, '/') + 1);
    return VC_EXIT_ERROR;
  }
  fsync (parentfd);
  return VC_EXIT_OK;
}
