/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "common/log.h"
#include "common/trusted-dir.h"

bool
vc_dir_trusted (const struct stat *st, bool root_only, char *why, size_t len)
{
  uid_t me = geteuid ();

  if (S_ISLNK (st->st_mode))
    snprintf (why, len, "is a symbolic link");
  else if (!S_ISDIR (st->st_mode))
    snprintf (why, len, "is not a directory");
  else if (st->st_uid != 0 && (root_only || st->st_uid != me))
    snprintf (why, len, "is owned by uid %u, not %s", (unsigned) st->st_uid,
              root_only || me == 0 ? "root" : "root or this user");
  else if (st->st_mode & (S_IWGRP | S_IWOTH))
    snprintf (why, len, "is writable by %s (mode %04o)",
              (st->st_mode & S_IWOTH) ? "others" : "its group",
              (unsigned) (st->st_mode & 07777));
  else
    return true;
  return false;
}

int
vc_open_trusted_dir_at (int dirfd, const char *name, const char *path,
                        const char *what)
{
  struct stat st;
  char why[128];
  int fd = openat (dirfd, name,
                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  if (fd == -1) {
    if (errno == ENOENT)
      return -1;
    /* O_NOFOLLOW: a symbolic link fails with ELOOP (or ENOTDIR). */
    if ((errno == ELOOP || errno == ENOTDIR) &&
        fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK (st.st_mode)) {
      vc_error ("%s %s is a symbolic link: refusing to use it; name the "
                "directory itself", what, path);
      errno = EPERM;
    }
    else
      vc_error ("cannot open %s %s: %m", what, path);
    return -1;
  }
  if (fstat (fd, &st) == -1) {
    vc_error ("cannot stat %s %s: %m", what, path);
    close (fd);
    return -1;
  }
  if (!vc_dir_trusted (&st, false, why, sizeof why)) {
    vc_error ("%s %s %s: refusing to use it (anyone who can write it could "
              "plant files there); make it root's alone: chown root %s; "
              "chmod go-w %s", what, path, why, path, path);
    close (fd);
    errno = EPERM;
    return -1;
  }
  return fd;
}

int
vc_open_trusted_dir (const char *path, const char *what)
{
  return vc_open_trusted_dir_at (AT_FDCWD, path, path, what);
}
