/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copying a disk's planned data clusters from NBD into the image file,
 * many requests in flight, hashing the file in order as it streams;
 * when resuming, taking what an interrupted run copied from its image.
 */
#ifndef VIRTCKPT_COPY_H
#define VIRTCKPT_COPY_H

#include <signal.h>
#include <stdint.h>

#include "backup/checksum.h"
#include "backup/extent.h"
#include "backup/nbd-source.h"
#include "backup/rate.h"

struct vc_copy_progress {
  uint64_t done, total;         /* bytes of this copy */
};

typedef void (*vc_progress_fn) (void *opaque, uint64_t bytes_done);

struct vc_copy {
  struct vc_nbd_source *src;
  const vc_range_vector *data;  /* guest ranges, cluster aligned, in order */
  int fd;                       /* image file */
  uint64_t data_offset;         /* where the first data cluster goes */
  struct vc_checksum *hash;     /* fed with the data region in file order */
  volatile sig_atomic_t *cancel;/* set by a signal handler: stop soon */
  vc_progress_fn progress;
  void *progress_opaque;

  /* Tuning (0 = default). */
  uint32_t request_size;        /* bytes per NBD read */
  uint32_t max_in_flight;       /* requests in flight, all connections */
  struct vc_rate *rate;         /* --max-rate, shared by all disks; or NULL */

  /* Resuming: the guest ranges of reuse (within data) are read from
   * reuse_fd, the image an interrupted run kept, whose data clusters are
   * those of reuse_layout in guest order from reuse_offset on; the rest
   * from NBD.
   */
  const vc_range_vector *reuse;
  const vc_range_vector *reuse_layout;
  uint64_t reuse_offset;
  int reuse_fd;

  /* Results. */
  uint64_t bytes_read;          /* over NBD */
  uint64_t bytes_reused;        /* from reuse_fd */
  uint64_t copied_to;           /* guest offset: the data before it is in
                                   the file (it goes in guest order) */
};

/* Returns 0, or -1 after logging (errno ECANCELED when cancelled). */
extern int vc_copy_run (struct vc_copy *c);

#endif
