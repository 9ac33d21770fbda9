/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Restoring a backup: each disk of it rebuilt as a standalone image, or
 * written onto a block device, or (instant) made available at once as a
 * qcow2 overlay on the backup's own read-only chain.
 *
 * The backup directory is untrusted input.  Every image of a disk's chain
 * is opened once (backup/restore-chain.h: no symlink, regular files only),
 * its qcow2 header checked (no external data file, no unknown incompatible
 * feature, the backing name the manifest implies), and every L1 and L2
 * entry the restore uses checked (backup/qcow2-read.h) before anything is
 * written.  virtckpt then reads the chain itself (backup/restore-map.h):
 * each link in one sequential pass, every guest cluster taken from the
 * topmost link that has it, written once, and one
 * fdatasync at the end.  The checksums are verified as the links stream
 * (unless --no-verify); a mismatch fails the restore and what was written
 * is discarded.  An image changed while it was read (its ctime moved)
 * fails the restore.
 *
 * Files are written 0600 into a fresh directory beside OUTDIR and renamed
 * to OUTDIR at the end: OUTDIR appears complete or not at all.  A block
 * device is written in place, its head last (backup/restore-target.h).
 */
#ifndef VIRTCKPT_RESTORE_H
#define VIRTCKPT_RESTORE_H

#include <stdbool.h>

#include "backup/manifest.h"
#include "store/store.h"

struct vc_restore_options {
  const char *outdir;           /* must not exist, or be an empty directory;
                                   or a block device */
  const char *format;           /* qcow2 or raw */
  const string_vector *disks;   /* those to restore; empty: all */
  bool verify;                  /* checksums of the chain's images */
  bool progress;                /* a progress line on stderr */
  bool instant;                 /* overlays on the chain, no copy */
};

/* Restores backup b of manifest m (directory dir, open as dirfd).
 * Returns an exit code (common/exit-codes.h); errors are logged.
 */
extern int vc_restore (int dirfd, const char *dir, const struct vc_manifest *m,
                       const struct vc_backup *b, const struct vc_restore_options *o);

/* Shared by the kinds of restore. */
extern int vc_restore_check_outdir (const char *outdir);
extern bool vc_restore_wanted (const struct vc_restore_options *o, const char *disk);

/* backup/restore-instant.c: DISK.qcow2, an overlay on the chain of disk
 * name at b, and DISK.xml, its libvirt <disk>, made in tmpfd (renamed to
 * o->outdir afterwards).  Returns 0 or -1 (logged).
 */
extern int vc_restore_instant_disk (int dirfd, const char *dir,
                                    const struct vc_manifest *m,
                                    const struct vc_backup *b, const char *name,
                                    const struct vc_restore_options *o, int tmpfd);

#endif
