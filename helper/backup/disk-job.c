/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup/copy.h"
#include "backup/disk-job.h"
#include "backup/qcow2-plan.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/vc-strings.h"

int
vc_disk_job_map (struct vc_disk_job *j, const char *socket, const char *since,
                 unsigned connections)
{
  CLEANUP_FREE char *context = since ? vc_printf ("qemu:dirty-bitmap:backup-%s", j->target) : NULL;
  vc_range_vector nonzero = empty_vector, dirty = empty_vector;
  int ret = -1;

  if (vc_nbd_open (&j->src, socket, j->target, context, connections) == -1 ||
      vc_nbd_map (&j->src, &nonzero, since ? &dirty : NULL) == -1)
    goto out;
  uint64_t limit = (j->src.size + VC_QCOW2_CLUSTER_SIZE - 1) & ~(VC_QCOW2_CLUSTER_SIZE - 1);
  vc_ranges_align (&nonzero, VC_QCOW2_CLUSTER_SIZE, limit);
  if (since) {
    vc_ranges_align (&dirty, VC_QCOW2_CLUSTER_SIZE, limit);
    /* Dirty clusters with data are copied; dirty clusters that now read as
     * zeroes (zeroed or discarded since) are marked zero in the overlay.
     */
    if (vc_ranges_intersect (&dirty, &nonzero, &j->data) == -1 ||
        vc_ranges_subtract (&dirty, &j->data, &j->zero) == -1)
      goto oom;
  }
  else {
    /* A standalone image reads zeroes wherever nothing is allocated. */
    for (size_t i = 0; i < nonzero.len; i++)
      if (vc_range_vector_append (&j->data, nonzero.ptr[i]) == -1)
        goto oom;
  }
  ret = 0;
  goto out;
 oom:
  vc_error ("out of memory");
 out:
  vc_range_vector_reset (&nonzero);
  vc_range_vector_reset (&dirty);
  return ret;
}

struct sink {
  int fd;
  uint64_t pos;
  struct vc_checksum *hash;
};

static int
sink_emit (void *opaque, const void *buf, size_t len)
{
  struct sink *s = opaque;
  for (size_t done = 0; done < len; ) {
    ssize_t n = pwrite (s->fd, (const char *) buf + done, len - done, s->pos + done);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1)
      return -1;
    done += n;
  }
  vc_checksum_update (s->hash, buf, len);
  s->pos += len;
  return 0;
}

static void
progress_cb (void *opaque, uint64_t bytes)
{
  vc_progress_add (opaque, bytes);
}

/* Closes *fd, reporting close's own error: a write may surface only there. */
static int
close_fd (int *fd)
{
  int r = close (*fd);
  *fd = -1;
  return r;
}

int
vc_disk_job_write (struct vc_disk_job *j, const struct vc_backup_options *o,
                   struct vc_progress *progress, int dirfd, const char *dir,
                   const char *backing, struct vc_backup_disk *out)
{
  struct vc_qcow2_plan plan = {
    .virtual_size = j->src.size, .data = &j->data, .zero = &j->zero,
    .backing = backing, .backing_fmt = backing ? "qcow2" : NULL,
  };
  struct vc_checksum hash = { 0 };
  CLEANUP_FREE char *file = vc_printf ("%s.qcow2", j->target);
  CLEANUP_CLOSE int fd = -1;

  if (file == NULL || vc_qcow2_plan_layout (&plan) == -1) {
    vc_error ("cannot lay out the image of %s: %m", j->target);
    return -1;
  }
  fd = openat (dirfd, file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd == -1) {
    vc_error ("cannot create %s/%s: %m", dir, file);
    return -1;
  }
  if (vc_checksum_init (&hash, o->checksum) == -1) {
    vc_error ("out of memory");
    return -1;
  }
  struct sink sink = { fd, 0, &hash };
  struct vc_copy c = {
    .src = &j->src, .data = &j->data, .fd = fd, .data_offset = plan.data_offset,
    .hash = &hash, .cancel = o->cancel,
    .progress = progress_cb, .progress_opaque = progress,
    .request_size = o->request_size, .max_in_flight = o->max_in_flight,
    .rate = j->rate,
  };
  if (vc_qcow2_plan_emit_metadata (&plan, sink_emit, &sink) == -1)
    goto write_error;
  if (vc_copy_run (&c) == -1)
    goto fail;                  /* logged */
  if (fdatasync (fd) == -1 || close_fd (&fd) == -1)
    goto write_error;

  out->name = strdup (j->target);
  out->file = file;
  file = NULL;
  out->backing = backing ? strdup (backing) : NULL;
  out->virtual_size = j->src.size;
  out->bytes_read = c.bytes_read;
  out->bytes_zeroed = vc_ranges_total (&j->zero);
  out->file_size = plan.file_size;
  vc_checksum_final (&hash, &out->sum);
  return 0;

 write_error:
  vc_error ("cannot write %s/%s: %m", dir, file);
 fail:
  vc_checksum_abort (&hash);
  return -1;
}

void
vc_disk_jobs_close (struct vc_disk_job *jobs, size_t n)
{
  for (size_t i = 0; jobs && i < n; i++)
    vc_nbd_close (&jobs[i].src);
}

void
vc_disk_jobs_free (struct vc_disk_job *jobs, size_t n)
{
  vc_disk_jobs_close (jobs, n);
  for (size_t i = 0; jobs && i < n; i++) {
    vc_range_vector_reset (&jobs[i].data);
    vc_range_vector_reset (&jobs[i].zero);
  }
  free (jobs);
}
