/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "common/full-io.h"

int
vc_pread_full (int fd, void *buf, size_t len, uint64_t off)
{
  char *p = buf;

  while (len) {
    ssize_t n = pread (fd, p, len, off);
    if (n == -1 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0)
        errno = EIO;
      return -1;
    }
    p += n;
    len -= n;
    off += n;
  }
  return 0;
}

int
vc_pwrite_full (int fd, const void *buf, size_t len, uint64_t off)
{
  const char *p = buf;

  while (len) {
    ssize_t n = pwrite (fd, p, len, off);
    if (n == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += n;
    len -= n;
    off += n;
  }
  return 0;
}

int
vc_pwritev_full (int fd, struct iovec *iov, int n, uint64_t off)
{
  while (n > 0) {
    ssize_t done = pwritev (fd, iov, n > IOV_MAX ? IOV_MAX : n, off);
    if (done == -1) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (done == 0) {
      errno = EIO;
      return -1;
    }
    off += done;
    while (n > 0 && (size_t) done >= iov->iov_len) {
      done -= iov->iov_len;
      iov++;
      n--;
    }
    if (n > 0) {
      iov->iov_base = (char *) iov->iov_base + done;
      iov->iov_len -= done;
    }
  }
  return 0;
}
