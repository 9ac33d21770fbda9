/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/checksum.h"
#include "backup/restore-stream.h"
#include "common/full-io.h"
#include "common/log.h"

/* Reads exactly len bytes at off; a short read is EIO. */
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

/* What has been read of a link is dropped from the page cache behind the
 * reads, VC_RESTORE_DROP bytes at a time: a restore reads a backup once,
 * and the pages it frees are those its next reads and the target's writes
 * reuse (in a virtual machine, filling memory freed a while ago can cost
 * several times the copy itself: see backup/restore-target.h).
 */
#define VC_RESTORE_DROP (UINT64_C (8) << 20)

/* Only the runs: each read as large as the run allows. */
static int
copy_runs (const struct vc_stream_link *l, const vc_run_vector *runs,
           struct vc_restore_target *t, struct vc_progress *p, unsigned char *buf)
{
  for (size_t j = 0; j < runs->len; j++) {
    const struct vc_run *r = &runs->ptr[j];
    for (uint64_t d = 0; d < r->length; d += VC_RESTORE_CHUNK) {
      size_t n = r->length - d < VC_RESTORE_CHUNK ? r->length - d : VC_RESTORE_CHUNK;
      if (vc_pread_full (l->fd, buf, n, r->host + d) == -1) {
        vc_error ("%s: cannot read: %m", l->label);
        return -1;
      }
      posix_fadvise (l->fd, r->host + d, n, POSIX_FADV_DONTNEED);
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

/* Reading and hashing run in a thread of their own, up to NBUF chunks
 * ahead of the writes: the read, the hash and the write of a chunk then
 * overlap, and a restore keeps up with the target disk.
 */
#define NBUF 4

struct reader {
  const struct vc_stream_link *l;
  unsigned char *bufs;          /* NBUF chunks */
  uint64_t pos[NBUF];
  size_t len[NBUF];
  uint64_t head, tail;          /* chunks read, chunks written */
  bool done, stop;
  int err;                      /* errno of a failed read */
  struct vc_checksum ctx;
  pthread_mutex_t lock;
  pthread_cond_t cond;
};

static void *
read_ahead (void *opaque)
{
  struct reader *r = opaque;
  const struct vc_stream_link *l = r->l;
  uint64_t dropped = 0;

  for (uint64_t pos = 0; pos < l->file_size; pos += VC_RESTORE_CHUNK) {
    size_t n = l->file_size - pos < VC_RESTORE_CHUNK ? l->file_size - pos : VC_RESTORE_CHUNK;
    pthread_mutex_lock (&r->lock);
    while (r->head - r->tail == NBUF && !r->stop)
      pthread_cond_wait (&r->cond, &r->lock);
    bool stop = r->stop;
    unsigned slot = r->head % NBUF;
    pthread_mutex_unlock (&r->lock);
    if (stop)
      break;
    unsigned char *buf = r->bufs + slot * VC_RESTORE_CHUNK;
    int err = vc_pread_full (l->fd, buf, n, pos) == -1 ? errno : 0;
    if (!err && (pos + n - dropped >= VC_RESTORE_DROP || pos + n == l->file_size)) {
      posix_fadvise (l->fd, dropped, pos + n - dropped, POSIX_FADV_DONTNEED);
      dropped = pos + n;
    }
    if (!err)
      vc_checksum_update (&r->ctx, buf, n);
    pthread_mutex_lock (&r->lock);
    if (err) {
      r->err = err;
      r->stop = true;
    }
    else {
      r->pos[slot] = pos;
      r->len[slot] = n;
      r->head++;
    }
    pthread_cond_broadcast (&r->cond);
    pthread_mutex_unlock (&r->lock);
    if (err)
      break;
  }
  pthread_mutex_lock (&r->lock);
  r->done = true;
  pthread_cond_broadcast (&r->cond);
  pthread_mutex_unlock (&r->lock);
  return NULL;
}

/* Writes the chunks as the reader hands them over.  0 or -1 (logged). */
static int
write_behind (struct reader *r, const vc_run_vector *runs,
              struct vc_restore_target *t, struct vc_progress *p)
{
  size_t j = 0;

  for (;;) {
    pthread_mutex_lock (&r->lock);
    while (r->tail == r->head && !r->done)
      pthread_cond_wait (&r->cond, &r->lock);
    bool empty = r->tail == r->head;
    unsigned slot = r->tail % NBUF;
    pthread_mutex_unlock (&r->lock);
    if (empty)
      return 0;
    int bad = write_window (runs, &j, r->pos[slot], r->len[slot],
                            r->bufs + slot * VC_RESTORE_CHUNK, t);
    vc_progress_add (p, r->len[slot]);
    pthread_mutex_lock (&r->lock);
    r->tail++;
    if (bad)
      r->stop = true;
    pthread_cond_broadcast (&r->cond);
    pthread_mutex_unlock (&r->lock);
    if (bad)
      return -1;
  }
}

static int
hash_and_copy (const struct vc_stream_link *l, const vc_run_vector *runs,
               struct vc_restore_target *t, struct vc_progress *p)
{
  const struct vc_backup_disk *d = l->disk;
  struct reader r = { .l = l };
  struct vc_digest got;
  pthread_t thread;
  int w;

  if (d->file_size && l->file_size != d->file_size) {
    vc_error ("%s: FAILED: size %" PRIu64 ", expected %" PRIu64, l->label,
              l->file_size, d->file_size);
    return 1;
  }
  r.bufs = malloc (NBUF * VC_RESTORE_CHUNK);
  if (r.bufs == NULL || vc_checksum_init (&r.ctx, d->sum.algo) == -1) {
    free (r.bufs);
    vc_error ("out of memory");
    return -1;
  }
  pthread_mutex_init (&r.lock, NULL);
  pthread_cond_init (&r.cond, NULL);
  posix_fadvise (l->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  if ((errno = pthread_create (&thread, NULL, read_ahead, &r)) != 0) {
    vc_error ("cannot start a thread: %m");
    w = -1;
  }
  else {
    w = write_behind (&r, runs, t, p);
    pthread_join (thread, NULL);
  }
  pthread_cond_destroy (&r.cond);
  pthread_mutex_destroy (&r.lock);
  free (r.bufs);
  if (w == 0 && r.err) {
    errno = r.err;
    vc_error ("%s: cannot read: %m", l->label);
    w = -1;
  }
  if (w == -1) {
    vc_checksum_abort (&r.ctx);
    return -1;
  }
  vc_checksum_final (&r.ctx, &got);
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
  return verify ? hash_and_copy (l, runs, t, p) : copy_runs (l, runs, t, p, buf);
}
