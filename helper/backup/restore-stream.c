/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "backup/checksum.h"
#include "backup/restore-stream.h"
#include "common/log.h"

/* Reads exactly len bytes at off; a short read is EIO. */
static int
pread_all (int fd, void *buf, size_t len, uint64_t off)
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

uint64_t
vc_stream_bytes (const struct vc_stream_link *l, const vc_run_vector *runs,
                 bool verify)
{
  uint64_t total = 0;

  if (verify)
    return l->file_size;
  for (size_t j = 0; j < runs->len; j++)
    total += runs->ptr[j].length;
  return total;
}

/* Only the runs: each read as large as the run allows. */
static int
copy_runs (const struct vc_stream_link *l, const vc_run_vector *runs,
           struct vc_restore_target *t, struct vc_progress *p, unsigned char *buf)
{
  for (size_t j = 0; j < runs->len; j++) {
    const struct vc_run *r = &runs->ptr[j];
    for (uint64_t d = 0; d < r->length; d += VC_RESTORE_CHUNK) {
      size_t n = r->length - d < VC_RESTORE_CHUNK ? r->length - d : VC_RESTORE_CHUNK;
      if (pread_all (l->fd, buf, n, r->host + d) == -1) {
        vc_error ("%s: cannot read: %m", l->label);
        return -1;
      }
      if (vc_target_write (t, r, d, buf, n) == -1)
        return -1;
      vc_progress_add (p, n);
    }
  }
  return 0;
}

/* Writes the parts of runs (from *j on) that lie in [pos, pos + n). */
static int
write_window (const vc_run_vector *runs, size_t *j, uint64_t pos, size_t n,
              const unsigned char *buf, struct vc_restore_target *t)
{
  uint64_t end = pos + n;

  while (*j < runs->len) {
    const struct vc_run *r = &runs->ptr[*j];
    if (r->host >= end)
      return 0;
    uint64_t from = r->host > pos ? r->host : pos;
    uint64_t to = r->host + r->length < end ? r->host + r->length : end;
    if (vc_target_write (t, r, from - r->host, buf + (from - pos), to - from) == -1)
      return -1;
    if (r->host + r->length > end)
      return 0;
    (*j)++;
  }
  return 0;
}

static int
hash_and_copy (const struct vc_stream_link *l, const vc_run_vector *runs,
               struct vc_restore_target *t, struct vc_progress *p,
               unsigned char *buf)
{
  const struct vc_backup_disk *d = l->disk;
  struct vc_checksum ctx;
  struct vc_digest got;
  size_t j = 0;

  if (d->file_size && l->file_size != d->file_size) {
    vc_error ("%s: FAILED: size %" PRIu64 ", expected %" PRIu64, l->label,
              l->file_size, d->file_size);
    return 1;
  }
  if (vc_checksum_init (&ctx, d->sum.algo) == -1) {
    vc_error ("out of memory");
    return -1;
  }
  posix_fadvise (l->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  for (uint64_t pos = 0; pos < l->file_size; pos += VC_RESTORE_CHUNK) {
    size_t n = l->file_size - pos < VC_RESTORE_CHUNK ? l->file_size - pos : VC_RESTORE_CHUNK;
    if (pread_all (l->fd, buf, n, pos) == -1) {
      vc_error ("%s: cannot read: %m", l->label);
      vc_checksum_abort (&ctx);
      return -1;
    }
    vc_checksum_update (&ctx, buf, n);
    if (write_window (runs, &j, pos, n, buf, t) == -1) {
      vc_checksum_abort (&ctx);
      return -1;
    }
    vc_progress_add (p, n);
  }
  vc_checksum_final (&ctx, &got);
  if (strcmp (got.hex, d->sum.hex) != 0) {
    vc_error ("%s: FAILED: checksum mismatch", l->label);
    return 1;
  }
  return 0;
}

int
vc_stream_link (const struct vc_stream_link *l, const vc_run_vector *runs,
                bool verify, struct vc_restore_target *t, struct vc_progress *p,
                unsigned char *buf)
{
  return verify ? hash_and_copy (l, runs, t, p, buf) : copy_runs (l, runs, t, p, buf);
}
