/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One disk of a backup: what to read from its NBD export, and its qcow2
 * image (a standalone image, or an overlay of the parent backup's).
 */
#ifndef VIRTCKPT_DISK_JOB_H
#define VIRTCKPT_DISK_JOB_H

#include "backup/backup.h"
#include "backup/extent.h"
#include "backup/manifest.h"
#include "backup/nbd-source.h"
#include "backup/rate.h"
#include "backup/resume-record.h"
#include "common/progress.h"

struct vc_disk_job {
  const char *target;
  struct vc_nbd_source src;
  vc_range_vector data;         /* clusters to copy */
  vc_range_vector zero;         /* clusters to mark zero in an overlay */
  struct vc_rate *rate;         /* the run's --max-rate, or NULL */
  /* The bitmap whose dirty context is read with since: NULL for the one
   * a libvirt backup job exports (backup-TARGET); an offline export
   * serves the since-checkpoint's own.
   */
  const char *bitmap;

  /* Resuming: the interrupted run's record of this disk, and whether the
   * backup is a full one (it then covers the whole disk).  Its image,
   * renamed TARGET.kept, gives reuse: what it copied that the guest has
   * not written since.
   */
  const struct vc_resume_disk *resume;
  bool full;
  vc_range_vector reuse;

  /* What vc_disk_job_write did, also when interrupted. */
  bool wrote_image;             /* TARGET.qcow2 exists, laid out from data */
  uint64_t bytes_read, bytes_reused;
  uint64_t copied_to;           /* guest offset: data before it is durable */
};

/* Connects to the target's export on socket and plans what to copy: the
 * allocated clusters, or with since the dirty ones; when resuming, also
 * what the interrupted run had to copy, less what it copied and the guest
 * has not written since (j->reuse).
 */
extern int vc_disk_job_map (struct vc_disk_job *j, const char *socket,
                            const char *since, unsigned connections);

/* Writes TARGET.qcow2 into dirfd (dir, for messages, is its path) and
 * describes it in out.  backing: the parent image, relative to dirfd.
 * When cancelled, what was copied is made durable first (j->copied_to).
 */
extern int vc_disk_job_write (struct vc_disk_job *j, const struct vc_backup_options *o,
                              struct vc_progress *progress, int dirfd,
                              const char *dir, const char *backing,
                              struct vc_backup_disk *out);

/* NBD connections go before the job ends: QEMU cannot tear down an
 * export while it waits to send replies nobody reads, and libvirt then
 * holds the domain's job lock for its 30 s timeout.
 */
extern void vc_disk_jobs_close (struct vc_disk_job *jobs, size_t n);

/* Closes and frees jobs. */
extern void vc_disk_jobs_free (struct vc_disk_job *jobs, size_t n);

#endif
