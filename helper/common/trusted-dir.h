/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Directories virtckpt makes or replaces files in, as root: the store,
 * its conflicts, the runtime directory.  Whoever can write such a
 * directory can plant a document, a lock or a symbolic link in it, so it
 * must be writable by its owner alone, and that owner must be root (or
 * the user running virtckpt).
 */
#ifndef VIRTCKPT_TRUSTED_DIR_H
#define VIRTCKPT_TRUSTED_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* true when st (from fstat or lstat) is a directory owned by root (or,
 * unless root_only, by this process's effective user) that neither group
 * nor others may write; otherwise false and why says what is wrong, as
 * "is owned by uid 1000, not root".
 */
extern bool vc_dir_trusted (const struct stat *st, bool root_only,
                            char *why, size_t len);

/* Opens the directory path (a symbolic link as its last component is
 * refused) and checks it as vc_dir_trusted does; what names it in
 * messages ("checkpoint store").  Returns the fd; -1 with errno ENOENT,
 * quietly, when it does not exist; -1 otherwise, logged (errno EPERM when
 * it is not trusted).
 */
extern int vc_open_trusted_dir (const char *path, const char *what);

/* The same for name in the directory dirfd. */
extern int vc_open_trusted_dir_at (int dirfd, const char *name,
                                   const char *path, const char *what);

#endif
