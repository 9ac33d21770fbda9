/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "common/atomic-file.h"

#define TEMP_PREFIX ".tmp-"

static int
open_temp (int dirfd, char *name, size_t size)
{
  for (int tries = 0; tries < 100; tries++) {
    unsigned char rnd[8];
    if (getrandom (rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
      return -1;
    snprintf (name, size, TEMP_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x",
              rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    int fd = openat (dirfd, name,
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0 || errno != EEXIST)
      return fd;
  }
  errno = EEXIST;
  return -1;
}

int
vc_atomic_write (int dirfd, const char *name, const char *buf, size_t len)
{
  char temp[64];
  int fd, saved;

  fd = open_temp (dirfd, temp, sizeof temp);
  if (fd == -1)
    return -1;
  for (size_t done = 0; done < len; ) {
    ssize_t r = write (fd, buf + done, len - done);
    if (r == -1) {
      if (errno == EINTR)
        continue;
      goto fail;
    }
    done += r;
  }
  if (fsync (fd) == -1)
    goto fail;
  if (close (fd) == -1) {
    fd = -1;
    goto fail;
  }
  fd = -1;
  if (renameat (dirfd, temp, dirfd, name) == -1)
    goto fail;
  /* The rename is durable only once the directory is. */
  if (fsync (dirfd) == -1)
    return -1;
  return 0;

 fail:
  saved = errno;
  if (fd >= 0)
    close (fd);
  unlinkat (dirfd, temp, 0);
  errno = saved;
  return -1;
}

int
vc_read_file (int dirfd, const char *name, size_t max, char **buf, size_t *len)
{
  struct stat st;
  /* O_NONBLOCK: a FIFO planted under a document's name must not hang us. */
  int fd = openat (dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  char *p;
  size_t done = 0;

  if (fd == -1)
    return -1;
  if (fstat (fd, &st) == -1)
    goto fail;
  if (!S_ISREG (st.st_mode)) {
    errno = EINVAL;
    goto fail;
  }
  if ((size_t) st.st_size > max) {
    errno = EFBIG;
    goto fail;
  }
  p = malloc (st.st_size + 1);
  if (p == NULL)
    goto fail;
  while (done < (size_t) st.st_size) {
    ssize_t r = read (fd, p + done, st.st_size - done);
    if (r == -1 && errno == EINTR)
      continue;
    if (r <= 0) {
      if (r == 0)
        errno = EIO;            /* shrank under us */
      free (p);
      goto fail;
    }
    done += r;
  }
  close (fd);
  p[done] = '\0';
  *buf = p;
  *len = done;
  return 0;

 fail:;
  int saved = errno;
  close (fd);
  errno = saved;
  return -1;
}

int
vc_durable_unlink (int dirfd, const char *name)
{
  if (unlinkat (dirfd, name, 0) == -1)
    return -1;
  return fsync (dirfd);
}

int
vc_mkdir_parents (const char *path, mode_t mode)
{
  char *copy = strdup (path);
  int ret = -1;

  if (copy == NULL)
    return -1;
  for (size_t n = strlen (copy); n > 1 && copy[n - 1] == '/'; n--)
    copy[n - 1] = '\0';
  for (char *p = copy + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir (copy, 0755) == -1 && errno != EEXIST)
      goto out;
    *p = '/';
  }
  if (mkdir (copy, mode) == -1 && errno != EEXIST)
    goto out;
  ret = 0;
 out:
  free (copy);
  return ret;
}

DIR *
vc_opendir_at (int dirfd)
{
  int fd = dup (dirfd);
  DIR *d = fd >= 0 ? fdopendir (fd) : NULL;

  if (d == NULL) {
    int e = errno;
    if (fd >= 0)
      close (fd);
    errno = e;
    return NULL;
  }
  rewinddir (d);
  return d;
}
