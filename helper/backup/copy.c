/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "backup/copy.h"
#include "backup/copy-writer.h"
#include "common/log.h"
#include "backup/qcow2-plan.h"

/* Measured (doc/benchmarks.md): QEMU's NBD server answers many small
 * reads faster than a few large ones.
 */
#define DEFAULT_REQUEST_SIZE (256 * 1024)
#define DEFAULT_MAX_IN_FLIGHT 64
/* Read buffers: in flight times request size.  Kept well under the 64 MiB
 * the whole process may use, whatever the options say.
 */
#define MAX_BUFFER_BYTES (40 * 1024 * 1024)
/* How long a stopped copy waits for the reads it has in flight. */
#define DRAIN_SECONDS 10

struct request {
  uint64_t guest;               /* guest offset read */
  uint32_t len;                 /* bytes read (the last one may be short) */
  uint32_t padded;              /* bytes written: whole clusters */
  unsigned char *buf;
  int conn;
  bool local;                   /* read from the kept image */
  bool done;                    /* read back (padding zeroed) */
  int err;
};

/* Requests live in a ring in file order, counted from the start: issued
 * at the tail, handed to the writer (backup/copy-writer.h) in order once
 * read, and freed at the head once written, so that at most cap buffers
 * exist at once and the reads go on while the disk writes.
 */
struct pipeline {
  struct vc_copy *c;
  struct vc_copy_writer *w;
  struct request *ring;
  uint32_t cap;
  uint64_t issued, handed, freed;
  size_t range_i;               /* next range to issue from */
  uint64_t range_pos;           /* next guest offset within it */
  unsigned in_flight[VC_NBD_MAX_CONNECTIONS];
  unsigned next_conn;
  size_t reuse_i;               /* first reuse range not behind range_pos */
  size_t layout_i;              /* kept image: the layout range ... */
  uint64_t layout_host;         /* ... and where its data starts there */
  /* Set when vc_copy_run returns: commands libnbd still holds then (after
   * an error) complete later, when the caller closes the handles; they must
   * touch neither the file nor the buffers.
   */
  bool stopped;
};

struct completion {
  struct pipeline *p;
  struct request *r;
};

static int
read_done (void *opaque, int *error)
{
  struct completion *x = opaque;
  struct request *r = x->r;

  x->p->in_flight[r->conn]--;
  if (x->p->stopped)
    return 1;
  if (*error) {
    r->err = *error;
    return 1;
  }
  if (r->padded > r->len)
    memset (r->buf + r->len, 0, r->padded - r->len);
  r->done = true;
  if (r->local)
    x->p->c->bytes_reused += r->len;
  else
    x->p->c->bytes_read += r->len;
  return 1;                     /* retire the command in libnbd */
}

static bool
have_more (const struct pipeline *p)
{
  return p->range_i < p->c->data->len;
}

/* Caps want so that a request is all reused or all read, and says which. */
static bool
reuse_cap (struct pipeline *p, uint64_t *want)
{
  const vc_range_vector *v = p->c->reuse;
  uint64_t pos = p->range_pos;

  if (v == NULL)
    return false;
  while (p->reuse_i < v->len &&
         v->ptr[p->reuse_i].offset + v->ptr[p->reuse_i].length <= pos)
    p->reuse_i++;
  if (p->reuse_i == v->len)
    return false;
  const struct vc_range *u = &v->ptr[p->reuse_i];
  if (u->offset <= pos) {
    if (u->offset + u->length - pos < *want)
      *want = u->offset + u->length - pos;
    return true;
  }
  if (u->offset - pos < *want)
    *want = u->offset - pos;
  return false;
}

/* Reads guest [guest, guest+len) from the kept image, synchronously:
 * guest offsets only grow, so the layout is walked once.
 */
static int
read_kept (struct pipeline *p, struct request *r)
{
  const vc_range_vector *l = p->c->reuse_layout;
  uint64_t host;

  while (p->layout_i < l->len &&
         l->ptr[p->layout_i].offset + l->ptr[p->layout_i].length <= r->guest) {
    p->layout_host += l->ptr[p->layout_i].length;
    p->layout_i++;
  }
  if (p->layout_i == l->len || l->ptr[p->layout_i].offset > r->guest ||
      r->guest + r->len > l->ptr[p->layout_i].offset + l->ptr[p->layout_i].length)
    return EINVAL;              /* reuse outside the layout: a bug */
  host = p->c->reuse_offset + p->layout_host + (r->guest - l->ptr[p->layout_i].offset);
  for (uint32_t done = 0; done < r->len; ) {
    ssize_t n = pread (p->c->reuse_fd, r->buf + done, r->len - done, host + done);
    if (n == -1 && errno == EINTR)
      continue;
    if (n <= 0)
      return n == 0 ? EIO : errno;
    done += n;
  }
  return 0;
}

static int
issue_one (struct pipeline *p)
{
  struct vc_copy *c = p->c;
  const struct vc_range *range = &c->data->ptr[p->range_i];
  struct request *r = &p->ring[p->issued % p->cap];
  uint64_t left = range->offset + range->length - p->range_pos;
  uint64_t want = left < c->request_size ? left : c->request_size;
  struct completion *x;
  unsigned conn = p->next_conn;
  bool local = reuse_cap (p, &want);

  r->guest = p->range_pos;
  r->padded = want;
  r->len = r->guest + want <= c->src->size ? want
    : r->guest < c->src->size ? c->src->size - r->guest : 0;
  r->done = false;
  r->err = 0;
  r->conn = conn;
  r->local = local;
  x = malloc (sizeof *x);
  if (x == NULL)
    return -1;
  *x = (struct completion) { p, r };

  if (r->len == 0 || local) {
    /* Entirely past the end of the export, only padding (cannot happen
     * with a sane plan, but costs nothing to handle); or kept data.
     */
    int err = local && r->len ? read_kept (p, r) : 0;
    p->in_flight[conn]++;
    read_done (x, &err);
    free (x);
  }
  else if (nbd_aio_is_dead (c->src->h[conn]) || nbd_aio_is_closed (c->src->h[conn])) {
    /* libnbd 1.14 reads a freed command when a read is issued on a dead
     * handle (QEMU ended the export: the job was aborted): do not.
     */
    vc_error ("cannot read %s at %" PRIu64 ": the NBD connection is closed",
              c->src->label, r->guest);
    free (x);
    return -1;
  }
  else if (nbd_aio_pread (c->src->h[conn], r->buf, r->len, r->guest,
                          (nbd_completion_callback) { .callback = read_done,
                                                      .user_data = x,
                                                      .free = free }, 0) == -1) {
    vc_error ("cannot read %s at %" PRIu64 ": %s", c->src->label, r->guest,
              nbd_get_error ());
    return -1;
  }
  else {
    p->in_flight[conn]++;
    vc_rate_take (c->rate, r->len);
  }

  p->issued++;
  p->range_pos += want;
  if (p->range_pos == range->offset + range->length) {
    p->range_i++;
    if (p->range_i < c->data->len)
      p->range_pos = c->data->ptr[p->range_i].offset;
  }
  p->next_conn = (conn + 1) % c->src->connections;
  return 0;
}

/* Hashes finished reads and hands them to the writer, in file order. */
static int
hand_over (struct pipeline *p)
{
  while (p->handed < p->issued) {
    struct request *r = &p->ring[p->handed % p->cap];
    if (r->err) {
      errno = r->err;
      vc_error ("copying %s at %" PRIu64 ": %m", p->c->src->label, r->guest);
      return -1;
    }
    if (!r->done)
      break;
    vc_checksum_update (p->c->hash, r->buf, r->padded);
    vc_copy_writer_push (p->w, r->buf, r->padded);
    p->handed++;
  }
  return 0;
}

/* Frees the requests written up to the count written. */
static void
free_written (struct pipeline *p, uint64_t written)
{
  for (; p->freed < written; p->freed++) {
    struct request *r = &p->ring[p->freed % p->cap];
    if (p->c->progress)
      p->c->progress (p->c->progress_opaque, r->len);
    p->c->copied_to = r->guest + r->padded;
  }
}

static int
write_failed (struct pipeline *p, int err, uint64_t at)
{
  errno = err;
  vc_error ("cannot write the copy of %s at file offset %" PRIu64 ": %m",
            p->c->src->label, at);
  return -1;
}

/* Counts what the writer has written; -1 after logging if it failed. */
static int
collect (struct pipeline *p)
{
  uint64_t at;
  int err;

  free_written (p, vc_copy_writer_written (p->w));
  if ((err = vc_copy_writer_error (p->w, &at)) != 0)
    return write_failed (p, err, at);
  return 0;
}

/* Waits up to timeout ms for libnbd's sockets. */
static int
poll_once (struct pipeline *p, int timeout)
{
  struct vc_nbd_source *s = p->c->src;
  struct pollfd fds[VC_NBD_MAX_CONNECTIONS + 1];
  unsigned n = s->connections;

  for (unsigned i = 0; i < s->connections; i++) {
    unsigned dir = nbd_aio_get_direction (s->h[i]);
    fds[i].fd = nbd_aio_get_fd (s->h[i]);
    fds[i].events = 0;
    fds[i].revents = 0;
    if (dir & LIBNBD_AIO_DIRECTION_READ)
      fds[i].events |= POLLIN;
    if (dir & LIBNBD_AIO_DIRECTION_WRITE)
      fds[i].events |= POLLOUT;
  }
  if (p->w)
    fds[n++] = (struct pollfd) { .fd = vc_copy_writer_fd (p->w), .events = POLLIN };
  if (poll (fds, n, timeout) == -1) {
    if (errno == EINTR)
      return 0;
    vc_error ("poll: %m");
    return -1;
  }
  for (unsigned i = 0; i < s->connections; i++) {
    int r = 0;
    if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
      r = nbd_aio_notify_read (s->h[i]);
    else if (fds[i].revents & POLLOUT)
      r = nbd_aio_notify_write (s->h[i]);
    if (r == -1) {
      vc_error ("reading %s: %s", s->label, nbd_get_error ());
      return -1;
    }
  }
  return 0;
}

int
vc_copy_run (struct vc_copy *c)
{
  struct pipeline *p = calloc (1, sizeof *p);
  int ret = -1;

  if (p == NULL) {
    vc_error ("out of memory");
    return -1;
  }
  p->c = c;

  if (c->request_size == 0)
    c->request_size = DEFAULT_REQUEST_SIZE;
  if (c->max_in_flight == 0)
    c->max_in_flight = DEFAULT_MAX_IN_FLIGHT;
  if ((uint64_t) c->max_in_flight * c->request_size > MAX_BUFFER_BYTES) {
    uint32_t fit = MAX_BUFFER_BYTES / c->request_size;
    vc_warn ("%u requests of %u bytes in flight would use %" PRIu64 " MiB: "
             "using %u", c->max_in_flight, c->request_size,
             (uint64_t) c->max_in_flight * c->request_size >> 20, fit ? fit : 1);
    c->max_in_flight = fit ? fit : 1;
  }
  if (c->request_size % VC_QCOW2_CLUSTER_SIZE) {
    errno = EINVAL;
    vc_error ("request size must be a multiple of the cluster size");
    goto out;
  }
  p->cap = c->max_in_flight;
  p->ring = calloc (p->cap, sizeof *p->ring);
  if (p->ring == NULL) {
    vc_error ("out of memory");
    goto out;
  }
  for (uint32_t i = 0; i < p->cap; i++) {
    if (posix_memalign ((void **) &p->ring[i].buf, 4096, c->request_size)) {
      p->ring[i].buf = NULL;
      vc_error ("out of memory");
      goto out;
    }
  }
  p->w = vc_copy_writer_start (c->fd, c->data_offset, p->cap);
  if (p->w == NULL)
    goto out;
  if (c->data->len > 0)
    p->range_pos = c->data->ptr[0].offset;

  while (have_more (p) || p->freed < p->issued) {
    if (c->cancel && *c->cancel) {
      errno = ECANCELED;
      vc_error ("copy of %s interrupted", c->src->label);
      goto drain;
    }
    int wait = 0;
    while (have_more (p) && p->issued - p->freed < p->cap &&
           (wait = vc_rate_wait_ms (c->rate)) == 0)
      if (issue_one (p) == -1)
        goto drain;
    if (hand_over (p) == -1 || collect (p) == -1)
      goto drain;
    if (p->freed == p->issued) {
      /* Throttled with nothing in flight: sleep (a signal ends it). */
      if (wait)
        poll (NULL, 0, wait);
      continue;
    }
    /* Wakes up for a reply, or for the writer. */
    if (poll_once (p, wait ? wait : 1000) == -1)
      goto drain;
  }
  ret = 0;
  goto out;

 drain:
  /* Buffers still belong to libnbd until their commands retire: wait for
   * the replies (a reply comes in many reads of the socket), for at most
   * DRAIN_SECONDS in all.
   */
  {
    struct timespec t0, now;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    for (now = t0; now.tv_sec - t0.tv_sec < DRAIN_SECONDS;
         clock_gettime (CLOCK_MONOTONIC, &now)) {
      unsigned busy = 0;
      for (unsigned i = 0; i < c->src->connections; i++)
        busy += p->in_flight[i];
      if (busy == 0 || poll_once (p, 1000) == -1)
        break;
      free_written (p, vc_copy_writer_written (p->w));
    }
  }
 out:
  if (p->w) {
    /* What was handed over is written: as much as possible is kept for a
     * resume, and the buffers are the writer's until it stops.
     */
    uint64_t written, at;
    int err = vc_copy_writer_finish (p->w, &written, &at);
    free_written (p, written);
    if (err && ret == 0)
      ret = write_failed (p, err, at);
  }
  unsigned busy = 0;
  for (unsigned i = 0; i < c->src->connections; i++)
    busy += p->in_flight[i];
  p->stopped = true;
  /* Buffers libnbd still reads into are left to it: the process is about
   * to give up on this disk anyway, and freeing them would be worse.
   */
  if (busy == 0) {
    if (p->ring)
      for (uint32_t i = 0; i < p->cap; i++)
        free (p->ring[i].buf);
    free (p->ring);
    free (p);
  }
  else
    vc_debug ("%u reads of %s still in flight: their buffers are left to libnbd",
              busy, c->src->label);
  return ret;
}
