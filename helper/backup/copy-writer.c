/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backup/copy-writer.h"
#include "common/full-io.h"
#include "common/log.h"

/* One write takes at most this many pieces, or this many bytes. */
#define BATCH_PIECES 32
#define BATCH_BYTES (8 * 1024 * 1024)
/* Direct I/O wants the buffer, the offset and the length aligned. */
#define DIRECT_ALIGN 4096
/* Buffered writes go to disk in chunks as the copy proceeds: each finished
 * chunk starts its writeback, and the chunk before it is waited for and
 * dropped from the page cache, so that the final fdatasync has little
 * left and the copy reuses the same few pages instead of filling memory
 * with a disk's worth of dirty data (slow and erratic on our machines).
 */
#define WRITEBACK_CHUNK (32 * 1024 * 1024)

struct piece {
  const void *buf;
  uint32_t len;
};

struct vc_copy_writer {
  int fd;
  int event_fd;
  int fd_flags;                 /* as given: restored at the end */
  bool direct;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct piece *queue;          /* cap pieces, a ring */
  uint32_t cap;
  /* Under lock: */
  uint64_t handed, written;     /* pieces */
  bool stop;
  int err;
  uint64_t err_at;
  /* The writer's own: */
  uint64_t offset;              /* of the next piece */
  uint64_t chunk_start;         /* buffered: not yet sent to disk */
  uint64_t prev_chunk, prev_len;/* buffered: being written back */
};

static bool
aligned (const struct iovec *iov, int n, uint64_t offset)
{
  if (offset % DIRECT_ALIGN)
    return false;
  for (int i = 0; i < n; i++)
    if ((uintptr_t) iov[i].iov_base % DIRECT_ALIGN || iov[i].iov_len % DIRECT_ALIGN)
      return false;
  return true;
}

/* Leaves direct I/O for good: the rest goes through the page cache. */
static void
go_buffered (struct vc_copy_writer *w, const char *why)
{
  if (!w->direct)
    return;
  vc_debug ("image writes go through the page cache from offset %" PRIu64 ": %s",
            w->offset, why);
  fcntl (w->fd, F_SETFL, w->fd_flags & ~O_DIRECT);
  w->direct = false;
  w->chunk_start = w->offset;
}

/* Sends [chunk_start, end) to disk, and waits for and drops the previous
 * chunk.  Errors here are not final: the caller's fdatasync reports them.
 */
static void
writeback (struct vc_copy_writer *w, uint64_t end)
{
  sync_file_range (w->fd, w->chunk_start, end - w->chunk_start, SYNC_FILE_RANGE_WRITE);
  if (w->prev_len) {
    sync_file_range (w->fd, w->prev_chunk, w->prev_len,
                     SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                     SYNC_FILE_RANGE_WAIT_AFTER);
    posix_fadvise (w->fd, w->prev_chunk, w->prev_len, POSIX_FADV_DONTNEED);
  }
  w->prev_chunk = w->chunk_start;
  w->prev_len = end - w->chunk_start;
  w->chunk_start = end;
}

/* Writes n pieces from queue slot first on; errno or 0. */
static int
write_batch (struct vc_copy_writer *w, uint64_t first, int n)
{
  struct iovec iov[BATCH_PIECES];
  uint64_t bytes = 0;
  int err;

  for (int i = 0; i < n; i++) {
    const struct piece *p = &w->queue[(first + i) % w->cap];
    iov[i] = (struct iovec) { (void *) p->buf, p->len };
    bytes += p->len;
  }
  if (w->direct && !aligned (iov, n, w->offset))
    go_buffered (w, "a piece is not aligned");
  if (w->direct) {
    struct iovec again[BATCH_PIECES];
    for (int i = 0; i < n; i++)
      again[i] = iov[i];
    err = vc_pwritev_full (w->fd, iov, n, w->offset) == -1 ? errno : 0;
    if (err != EINVAL)
      goto done;
    /* The file system took O_DIRECT but not this write. */
    go_buffered (w, "the file system refused a direct write");
    for (int i = 0; i < n; i++)
      iov[i] = again[i];
  }
  err = vc_pwritev_full (w->fd, iov, n, w->offset) == -1 ? errno : 0;
  if (!err && w->offset + bytes - w->chunk_start >= WRITEBACK_CHUNK)
    writeback (w, w->offset + bytes);
 done:
  if (!err)
    w->offset += bytes;
  return err;
}

static void
signal_progress (struct vc_copy_writer *w)
{
  uint64_t one = 1;
  ssize_t r = write (w->event_fd, &one, sizeof one);
  (void) r;                     /* full means already readable */
}

static void *
write_loop (void *opaque)
{
  struct vc_copy_writer *w = opaque;

  pthread_mutex_lock (&w->lock);
  for (;;) {
    while (w->written == w->handed && !w->stop)
      pthread_cond_wait (&w->cond, &w->lock);
    if (w->written == w->handed || w->err)
      break;
    uint64_t first = w->written;
    int n = 0;
    uint64_t bytes = 0;
    while (first + n < w->handed && n < BATCH_PIECES &&
           (n == 0 || bytes + w->queue[(first + n) % w->cap].len <= BATCH_BYTES))
      bytes += w->queue[(first + n++) % w->cap].len;
    uint64_t at = w->offset;
    pthread_mutex_unlock (&w->lock);
    int err = write_batch (w, first, n);
    pthread_mutex_lock (&w->lock);
    if (err) {
      w->err = err;
      w->err_at = at;
    }
    else
      w->written += n;
    signal_progress (w);
    if (err)
      break;
  }
  pthread_mutex_unlock (&w->lock);
  return NULL;
}

struct vc_copy_writer *
vc_copy_writer_start (int fd, uint64_t offset, uint32_t cap)
{
  struct vc_copy_writer *w = calloc (1, sizeof *w);

  if (w == NULL || (w->queue = calloc (cap, sizeof *w->queue)) == NULL) {
    free (w);
    vc_error ("out of memory");
    return NULL;
  }
  w->fd = fd;
  w->cap = cap;
  w->offset = w->chunk_start = offset;
  w->fd_flags = fcntl (fd, F_GETFL);
  w->event_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->fd_flags == -1 || w->event_fd == -1) {
    vc_error ("cannot set up the image writer: %m");
    goto fail;
  }
  w->direct = fcntl (fd, F_SETFL, w->fd_flags | O_DIRECT) == 0;
  if (!w->direct)
    vc_debug ("image writes go through the page cache: O_DIRECT: %m");
  w->chunk_start = offset;
  pthread_mutex_init (&w->lock, NULL);
  pthread_cond_init (&w->cond, NULL);
  if ((errno = pthread_create (&w->thread, NULL, write_loop, w)) != 0) {
    vc_error ("cannot start a thread: %m");
    pthread_cond_destroy (&w->cond);
    pthread_mutex_destroy (&w->lock);
    fcntl (fd, F_SETFL, w->fd_flags);
    goto fail;
  }
  return w;

 fail:
  if (w->event_fd >= 0)
    close (w->event_fd);
  free (w->queue);
  free (w);
  return NULL;
}

void
vc_copy_writer_push (struct vc_copy_writer *w, const void *buf, uint32_t len)
{
  pthread_mutex_lock (&w->lock);
  w->queue[w->handed % w->cap] = (struct piece) { buf, len };
  w->handed++;
  pthread_cond_signal (&w->cond);
  pthread_mutex_unlock (&w->lock);
}

uint64_t
vc_copy_writer_written (struct vc_copy_writer *w)
{
  uint64_t n, drain;
  ssize_t r = read (w->event_fd, &drain, sizeof drain);

  (void) r;                     /* EAGAIN: nothing new */
  pthread_mutex_lock (&w->lock);
  n = w->written;
  pthread_mutex_unlock (&w->lock);
  return n;
}

int
vc_copy_writer_fd (const struct vc_copy_writer *w)
{
  return w->event_fd;
}

int
vc_copy_writer_error (struct vc_copy_writer *w, uint64_t *at)
{
  int err;

  pthread_mutex_lock (&w->lock);
  err = w->err;
  *at = w->err_at;
  pthread_mutex_unlock (&w->lock);
  return err;
}

int
vc_copy_writer_finish (struct vc_copy_writer *w, uint64_t *written, uint64_t *at)
{
  int err;

  pthread_mutex_lock (&w->lock);
  w->stop = true;
  pthread_cond_signal (&w->cond);
  pthread_mutex_unlock (&w->lock);
  pthread_join (w->thread, NULL);
  err = w->err;
  *at = w->err_at;
  *written = w->written;
  fcntl (w->fd, F_SETFL, w->fd_flags);
  pthread_cond_destroy (&w->cond);
  pthread_mutex_destroy (&w->lock);
  close (w->event_fd);
  free (w->queue);
  free (w);
  return err;
}
