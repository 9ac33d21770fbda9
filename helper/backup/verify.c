/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "backup/verify.h"
#include "common/vc-strings.h"

#define READ_SIZE (4 * 1024 * 1024)

static int
hash_file (int fd, enum vc_checksum_algo algo, struct vc_digest *out,
           uint64_t *size)
{
  CLEANUP_FREE unsigned char *buf = malloc (READ_SIZE);
  struct vc_checksum ctx;
  ssize_t n;

  if (buf == NULL || vc_checksum_init (&ctx, algo) == -1)
    return -1;
  *size = 0;
  posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  while ((n = read (fd, buf, READ_SIZE)) != 0) {
    if (n == -1) {
      if (errno == EINTR)
        continue;
      vc_checksum_abort (&ctx);
      return -1;
    }
    vc_checksum_update (&ctx, buf, n);
    *size += n;
  }
  vc_checksum_final (&ctx, out);
  return 0;
}

/* The backing file name stored in a qcow2 header, or "" for none. */
static char *
qcow2_backing (int fd)
{
  unsigned char h[24];
  uint64_t off;
  uint32_t len;
  char *name;

  if (pread (fd, h, sizeof h, 0) != (ssize_t) sizeof h || memcmp (h, "QFI\xfb", 4))
    return NULL;
  memcpy (&off, h + 8, 8);
  memcpy (&len, h + 16, 4);
  off = be64toh (off);
  len = be32toh (len);
  if (off == 0)
    return strdup ("");
  if (len > 1023)
    return NULL;
  name = calloc (1, len + 1);
  if (name && pread (fd, name, len, off) != (ssize_t) len) {
    free (name);
    return NULL;
  }
  return name;
}

static int
check_file (int dirfd, const char *dir, const struct vc_backup *b,
            const char *file, const struct vc_digest *want, uint64_t want_size,
            const char *want_backing, bool verbose)
{
  CLEANUP_FREE char *path = vc_printf ("%s/%s", b->dir, file);
  CLEANUP_CLOSE int fd = path ? openat (dirfd, path, O_RDONLY | O_CLOEXEC) : -1;
  struct vc_digest got;
  uint64_t size;

  if (fd == -1) {
    vc_error ("%s/%s: cannot open: %m", dir, path ? path : file);
    return 1;
  }
  if (hash_file (fd, want->algo, &got, &size) == -1) {
    vc_error ("%s/%s: cannot read: %m", dir, path);
    return 1;
  }
  if (want_size && size != want_size) {
    vc_error ("%s/%s: FAILED: size %" PRIu64 ", expected %" PRIu64, dir, path,
              size, want_size);
    return 1;
  }
  if (strcmp (got.hex, want->hex) != 0) {
    vc_error ("%s/%s: FAILED: checksum mismatch", dir, path);
    return 1;
  }
  if (want_backing) {
    CLEANUP_FREE char *backing = qcow2_backing (fd);
    if (backing == NULL || strcmp (backing, want_backing) != 0) {
      vc_error ("%s/%s: FAILED: backing file is '%s', expected '%s'", dir, path,
                backing ? backing : "(unreadable)", want_backing);
      return 1;
    }
  }
  if (verbose)
    printf ("%s: OK\n", path);
  return 0;
}

int
vc_verify_backup (int dirfd, const char *dir, const struct vc_manifest *m,
                  const struct vc_backup *b, bool chain, bool verbose)
{
  int problems = 0;

  while (b) {
    for (size_t i = 0; i < b->disks.len; i++) {
      const struct vc_backup_disk *d = &b->disks.ptr[i];
      problems += check_file (dirfd, dir, b, d->file, &d->sum, d->file_size,
                              d->backing ? d->backing : "", verbose);
    }
    for (size_t i = 0; i < b->files.len; i++)
      problems += check_file (dirfd, dir, b, b->files.ptr[i].name,
                              &b->files.ptr[i].sum, 0, NULL, verbose);
    if (!chain || b->parent == 0)
      break;
    const struct vc_backup *parent = vc_manifest_find (m, b->parent);
    if (parent == NULL) {
      vc_error ("backup %u builds on backup %u, which is not in the manifest",
                b->id, b->parent);
      return problems + 1;
    }
    for (size_t i = 0; i < b->disks.len; i++) {
      const struct vc_backup_disk *pd = vc_backup_disk (parent, b->disks.ptr[i].name);
      CLEANUP_FREE char *want = pd ? vc_printf ("../%s/%s", parent->dir, pd->file) : NULL;
      if (want == NULL || !vc_streq (b->disks.ptr[i].backing, want)) {
        vc_error ("backup %u: disk %s does not build on backup %u", b->id,
                  b->disks.ptr[i].name, parent->id);
        problems++;
      }
    }
    b = parent;
  }
  return problems;
}
