/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Checking a backup directory against its manifest.  The directory is
 * untrusted input: files are opened without following symlinks and
 * without blocking, only regular files are read, and every image's qcow2
 * header is checked (backup/qcow2-check.h) before anything reads it as
 * an image.
 */
#ifndef VIRTCKPT_VERIFY_H
#define VIRTCKPT_VERIFY_H

#include <stdbool.h>
#include <sys/stat.h>

#include "backup/manifest.h"

/* Opens FILE of backup b (DIR/b->dir/FILE, dirfd being DIR) read-only:
 * neither b->dir nor FILE may be a symlink, and FILE must be a regular
 * file (a FIFO or a device is refused without blocking).  Returns its fd
 * with its fstat in *st, or -1 (logged).
 */
extern int vc_backup_open_file (int dirfd, const char *dir,
                                const struct vc_backup *b, const char *file,
                                struct stat *st);

/* Checks the opened image fd of disk d (named label in messages): its
 * qcow2 header, whose backing file name must be d->backing, and with
 * hash its size and checksum.  Returns 0, or 1 when it is bad (logged).
 */
extern int vc_verify_image (int fd, const char *label,
                            const struct vc_backup_disk *d, bool hash);

/* Checks the files of backup b: sizes, checksums, qcow2 headers and
 * backing names.  Prints one line per file when verbose.  Returns the
 * number of problems found (each logged).
 */
extern int vc_verify_backup (int dirfd, const char *dir,
                             const struct vc_backup *b, bool verbose);

#endif
