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
#include "common/full-io.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/vc-strings.h"

/* The interrupted run had to cover its data and zero ranges (a full: the
 * whole disk) as of its checkpoint; dirty is what the guest wrote since.
 * An uninterrupted backup would have covered both, as they are now.
 */
static int
plan_resume (struct vc_disk_job *j, const vc_range_vector *nonzero,
             const vc_range_vector *dirty)
{
  const struct vc_resume_disk *k = j->resume;
  vc_range_vector before = empty_vector, area = empty_vector, clean = empty_vector;
  int ret = -1;

  if (j->full) {
    if (vc_ranges_union (nonzero, &area, &j->data) == -1)
      goto out;
  }
  else if (vc_ranges_union (&k->data, &k->zero, &before) == -1 ||
           vc_ranges_union (&before, dirty, &area) == -1 ||
           vc_ranges_intersect (&area, nonzero, &j->data) == -1 ||
           vc_ranges_subtract (&area, &j->data, &j->zero) == -1)
    goto out;
  if (k->image &&
      (vc_ranges_subtract (&k->copied, dirty, &clean) == -1 ||
       vc_ranges_intersect (&clean, &j->data, &j->reuse) == -1))
    goto out;
  ret = 0;
 out:
  vc_range_vector_reset (&before);
  vc_range_vector_reset (&area);
  vc_range_vector_reset (&clean);
  return ret;
}

int
vc_disk_job_map (struct vc_disk_job *j, const char *socket, const char *since,
                 unsigned connections)
{
  CLEANUP_FREE char *context =
    !since ? NULL
    : j->bitmap ? vc_printf ("qemu:dirty-bitmap:%s", j->bitmap)
    : vc_printf ("qemu:dirty-bitmap:backup-%s", j->target);
  vc_range_vector nonzero = empty_vector, dirty = empty_vector;
  int ret = -1;

  if (vc_nbd_open (&j->src, socket, j->target, context, connections) == -1 ||
      vc_nbd_map (&j->src, &nonzero, since ? &dirty : NULL) == -1)
    goto out;
  uint64_t limit = (j->src.size + VC_QCOW2_CLUSTER_SIZE - 1) & ~(VC_QCOW2_CLUSTER_SIZE - 1);
  vc_ranges_align (&nonzero, VC_QCOW2_CLUSTER_SIZE, limit);
  if (j->resume) {
    vc_ranges_align (&dirty, VC_QCOW2_CLUSTER_SIZE, limit);
    if (plan_resume (j, &nonzero, &dirty) == -1)
      goto oom;
  }
  else if (since) {
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

  if (vc_pwrite_full (s->fd, buf, len, s->pos) == -1)
    return -1;
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

/* The kept image of the interrupted run, checked when the resume was
 * decided (backup/resume.h), and where its data starts.
 */
static int
open_kept (struct vc_disk_job *j, const char *backing, int dirfd, const char *dir,
           struct vc_copy *c)
{
  const struct vc_resume_disk *k = j->resume;
  struct vc_qcow2_plan old = {
    .virtual_size = k->virtual_size, .data = &k->data, .zero = &k->zero,
    .backing = backing, .backing_fmt = backing ? "qcow2" : NULL,
  };
  CLEANUP_FREE char *file = vc_printf ("%s" VC_RESUME_KEPT, j->target);

  if (file == NULL || vc_qcow2_plan_layout (&old) == -1) {
    vc_error ("cannot lay out the kept image of %s: %m", j->target);
    return -1;
  }
  c->reuse_fd = openat (dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (c->reuse_fd == -1) {
    vc_error ("cannot open %s/%s: %m", dir, file);
    return -1;
  }
  c->reuse = &j->reuse;
  c->reuse_layout = &k->data;
  c->reuse_offset = old.data_offset;
  return 0;
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
    .rate = j->rate, .reuse_fd = -1,
  };
  if (j->reuse.len && open_kept (j, backing, dirfd, dir, &c) == -1)
    goto fail;
  if (vc_qcow2_plan_emit_metadata (&plan, sink_emit, &sink) == -1)
    goto write_error;
  j->wrote_image = true;
  int copied = vc_copy_run (&c);
  j->bytes_read = c.bytes_read;
  j->bytes_reused = c.bytes_reused;
  j->copied_to = c.copied_to;
  cleanup_close (&c.reuse_fd);
  if (copied == -1) {
    /* Kept for a resume: what the record says is copied must be durable. */
    if (o->cancel && *o->cancel && fdatasync (fd) == -1)
      j->copied_to = 0;
    goto fail;                  /* logged */
  }
  j->copied_to = UINT64_MAX;
  if (fdatasync (fd) == -1 || close_fd (&fd) == -1)
    goto write_error;

  out->name = strdup (j->target);
  out->file = file;
  file = NULL;
  out->backing = backing ? strdup (backing) : NULL;
  out->virtual_size = j->src.size;
  out->bytes_read = c.bytes_read + (j->resume ? j->resume->bytes_read : 0);
  out->bytes_reused = c.bytes_reused;
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
    vc_range_vector_reset (&jobs[i].reuse);
  }
  free (jobs);
}
