/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whole-file reads and crash-safe replacement of files in a directory. */
#ifndef VIRTCKPT_ATOMIC_FILE_H
#define VIRTCKPT_ATOMIC_FILE_H

#include <stddef.h>
#include <dirent.h>
#include <sys/types.h>

/* Replaces dir/name with buf: a temp file in the same directory is
 * written, fsync'd and renamed over name, then the directory is fsync'd.
 * After a crash the file holds either the old or the new content.  Returns
 * -1 with errno set; the temp file never outlives a failure.
 */
extern int vc_atomic_write (int dirfd, const char *name,
                            const char *buf, size_t len);

/* Reads dir/name whole if it is a regular file of at most max bytes.
 * Returns -1 with errno (EFBIG when over max).  *buf is NUL-terminated.
 */
extern int vc_read_file (int dirfd, const char *name, size_t max,
                         char **buf, size_t *len);

/* mkdir -p: parents 0755, the last component mode (existing ones kept). */
extern int vc_mkdir_parents (const char *path, mode_t mode);

/* A directory stream on dirfd, from its start, leaving dirfd itself
 * usable (a dup: the two share only the read position, rewound here).
 * NULL with errno set on failure.
 */
extern DIR *vc_opendir_at (int dirfd);

/* Removes dir/name and makes the removal durable. */
extern int vc_durable_unlink (int dirfd, const char *name);

#endif
