/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Copying one link of a chain to the target, in one sequential pass.
 *
 * With verify, the whole file is read in order, every byte hashed, and
 * the runs the chain map gives to this link written as they go by: the
 * checksum in the manifest covers the whole file, so verifying costs
 * reading it once, and nothing more.  Without, only the runs are read.
 * A mismatch is known only at the end of the file: the caller then
 * discards what was written (backup/restore-target.h).
 */
#ifndef VIRTCKPT_RESTORE_STREAM_H
#define VIRTCKPT_RESTORE_STREAM_H

#include <stdbool.h>

#include "backup/manifest.h"
#include "backup/restore-map.h"
#include "backup/restore-target.h"
#include "common/progress.h"

/* Bytes per read and per write.  Small enough that a chunk stays in the
 * CPU's caches from the read through the hash to the write: with 8 MiB
 * chunks, copying into the page cache ran from memory and a restore took
 * 4 times the CPU (2 GiB: 3.8 s against 1.0 s).  The target's writeback
 * (backup/restore-target.h), not the size of a write, makes the I/O to
 * the disk large.  What has been read is dropped from the page cache as
 * the reads go.
 */
#define VC_RESTORE_CHUNK (UINT64_C (512) << 10)

struct vc_stream_link {
  int fd;
  const char *label;
  const struct vc_backup_disk *disk;    /* its checksum and file size */
  uint64_t file_size;                   /* as opened */
};

/* Bytes vc_stream_link reads of l. */
extern uint64_t vc_stream_bytes (const struct vc_stream_link *l,
                                 const vc_run_vector *runs, bool verify);

/* Returns 0, -1 on an I/O error, 1 when the file does not match its
 * checksum (each logged).  buf holds VC_RESTORE_CHUNK bytes.
 */
extern int vc_stream_link (const struct vc_stream_link *l, const vc_run_vector *runs,
                           bool verify, struct vc_restore_target *t,
                           struct vc_progress *p, unsigned char *buf);

#endif
