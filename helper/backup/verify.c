/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "backup/qcow2-check.h"
#include "backup/verify.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/vc-strings.h"

#define READ_SIZE (4 * 1024 * 1024)

int
vc_backup_open_file (int dirfd, const char *dir, const struct vc_backup *b,
                     const char *file, struct stat *st)
{
  /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
  const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  CLEANUP_CLOSE int sub =
    openat (dirfd, b->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  CLEANUP_CLOSE int fd = sub == -1 ? -1 : openat (sub, file, flags);

  if (fd == -1) {
    vc_error ("%s/%s/%s: cannot open: %m%s", dir, b->dir, file,
              errno == ELOOP || errno == ENOTDIR ? " (a symlink is refused)" : "");
    return -1;
  }
  if (fstat (fd, st) == -1) {
    vc_error ("%s/%s/%s: cannot stat: %m", dir, b->dir, file);
    return -1;
  }
  if (!S_ISREG (st->st_mode)) {
    vc_error ("%s/%s/%s: not a regular file: refused", dir, b->dir, file);
    return -1;
  }
  return steal_fd (&fd);
}

static int
hash_file (int fd, enum vc_checksum_algo algo, struct vc_digest *out,
           uint64_t *size)
{
  CLEANUP_FREE unsigned char *buf = malloc (READ_SIZE);
  struct vc_checksum ctx;
  ssize_t n;
  off_t pos = 0;

  if (buf == NULL || vc_checksum_init (&ctx, algo) == -1)
    return -1;
  posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  while ((n = pread (fd, buf, READ_SIZE, pos)) != 0) {
    if (n == -1) {
      if (errno == EINTR)
        continue;
      vc_checksum_abort (&ctx);
      return -1;
    }
    vc_checksum_update (&ctx, buf, n);
    pos += n;
  }
  vc_checksum_final (&ctx, out);
  *size = pos;
  return 0;
}

static int
check_sum (int fd, const char *label, const struct vc_digest *want, uint64_t want_size)
{
  struct vc_digest got;
  uint64_t size;

  if (hash_file (fd, want->algo, &got, &size) == -1) {
    vc_error ("%s: cannot read: %m", label);
    return 1;
  }
  if (want_size && size != want_size) {
    vc_error ("%s: FAILED: size %" PRIu64 ", expected %" PRIu64, label, size,
              want_size);
    return 1;
  }
  if (strcmp (got.hex, want->hex) != 0) {
    vc_error ("%s: FAILED: checksum mismatch", label);
    return 1;
  }
  return 0;
}

int
vc_verify_image (int fd, const char *label, const struct vc_backup_disk *d,
                 bool hash)
{
  CLEANUP_FREE unsigned char *h = calloc (1, VC_QCOW2_CHECK_BYTES);
  ssize_t n;
  const char *why;

  if (h == NULL) {
    vc_error ("out of memory");
    return 1;
  }
  n = pread (fd, h, VC_QCOW2_CHECK_BYTES, 0);
  if (n == -1) {
    vc_error ("%s: cannot read: %m", label);
    return 1;
  }
  why = vc_qcow2_check_header (h, n, d->backing);
  if (why) {
    vc_error ("%s: FAILED: refused as an image: %s%s%s%s", label, why,
              d->backing ? " (expected backing file '" : "",
              d->backing ? d->backing : "", d->backing ? "')" : "");
    return 1;
  }
  return hash ? check_sum (fd, label, &d->sum, d->file_size) : 0;
}

static int
check_one (int dirfd, const char *dir, const struct vc_backup *b,
           const char *file, const struct vc_backup_disk *d,
           const struct vc_digest *sum, bool verbose)
{
  CLEANUP_FREE char *label = vc_printf ("%s/%s/%s", dir, b->dir, file);
  CLEANUP_CLOSE int fd = -1;
  struct stat st;
  int bad;

  if (label == NULL) {
    vc_error ("out of memory");
    return 1;
  }
  fd = vc_backup_open_file (dirfd, dir, b, file, &st);
  if (fd == -1)
    return 1;
  bad = d ? vc_verify_image (fd, label, d, true) : check_sum (fd, label, sum, 0);
  if (!bad && verbose)
    printf ("%s/%s: OK\n", b->dir, file);
  return bad;
}

int
vc_verify_backup (int dirfd, const char *dir, const struct vc_backup *b,
                  bool verbose)
{
  int problems = 0;

  for (size_t i = 0; i < b->disks.len; i++)
    problems += check_one (dirfd, dir, b, b->disks.ptr[i].file, &b->disks.ptr[i],
                           NULL, verbose);
  for (size_t i = 0; i < b->files.len; i++)
    problems += check_one (dirfd, dir, b, b->files.ptr[i].name, NULL,
                           &b->files.ptr[i].sum, verbose);
  return problems;
}
