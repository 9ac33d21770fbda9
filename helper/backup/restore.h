/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Restoring a backup: each disk of it rebuilt as a standalone image.
 *
 * The backup directory is untrusted input.  Every image of a disk's chain
 * is opened once (backup/verify.h: no symlink, regular files only), its
 * qcow2 header checked (no external data file, no unknown incompatible
 * feature, the backing name the manifest implies) and, unless told not
 * to, its checksum.  qemu-img then reads exactly those open files: the
 * chain is handed to it explicitly, as /proc/self/fd/N nodes with the
 * last one's backing set to null, so that no file name stored inside an
 * image is ever interpreted.  An image changed while it was read (its
 * ctime moved) fails the restore.
 *
 * The images are written 0600 into a fresh directory beside OUTDIR and
 * renamed to OUTDIR at the end: OUTDIR appears complete or not at all.
 */
#ifndef VIRTCKPT_RESTORE_H
#define VIRTCKPT_RESTORE_H

#include <stdbool.h>

#include "backup/manifest.h"
#include "store/store.h"

struct vc_restore_options {
  const char *outdir;           /* must not exist, or be an empty directory */
  const char *format;           /* qcow2 or raw */
  const string_vector *disks;   /* those to restore; empty: all */
  bool verify;                  /* checksums of the chain's images first */
};

/* Restores backup b of manifest m (directory dir, open as dirfd).
 * Returns an exit code (common/exit-codes.h); errors are logged.
 */
extern int vc_restore (int dirfd, const char *dir, const struct vc_manifest *m,
                       const struct vc_backup *b, const struct vc_restore_options *o);

#endif
