/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where a restored disk is written: a raw file, a qcow2 file (laid out by
 * backup/qcow2-plan.h: metadata first, data clusters in guest order), or
 * a block device written in place.
 *
 * Every write lands at an offset known from the chain map, so that the
 * links can be streamed one after the other, each in one sequential
 * pass, and every guest cluster written once.  Zeroes are not written to
 * files: a raw file is sparse, a qcow2 file leaves the cluster
 * unallocated (it has no backing).  A device gets its zero ranges zeroed
 * (BLKZEROOUT, else written), since it holds whatever was there before.
 *
 * A device cannot appear complete or not at all, as a directory can: its
 * first VC_RESTORE_HEAD bytes (partition table, boot sector, most
 * filesystems' superblock) are zeroed before anything else is written,
 * and written last, only once every checksum matched.  A restore that
 * fails or is killed leaves a device with no head: nothing on it looks
 * like a disk.
 *
 * The data goes to disk as it is written, VC_RESTORE_WRITEBACK bytes at
 * a time (see there): the final fdatasync has little left to do.
 */
#ifndef VIRTCKPT_RESTORE_TARGET_H
#define VIRTCKPT_RESTORE_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "backup/restore-map.h"

#define VC_RESTORE_HEAD (UINT64_C (1) << 20)

/* Every VC_RESTORE_WRITEBACK bytes written, the extent they were written
 * to is sent to disk, and the extent sent before it is waited for and
 * dropped from the page cache.  Left to the kernel, a 2 GiB restore
 * copied everything into the page cache first and paid the disk in the
 * final fdatasync (0.8 s then 1.0 s, one after the other).  And in a
 * virtual machine whose free memory goes back to the host (virtio-balloon
 * free page reporting), every page of memory freed a while ago faults on
 * the host when it is filled: a restore that filled gigabytes of page
 * cache took 1.5 to 4.8 s, mostly copying into new pages.  With the disk
 * written while the copy runs, and the same 128 MiB of pages reused, it
 * takes 1.1 to 1.3 s, as a dd of the same size with O_DIRECT.  64 MiB:
 * with 16 and 32 MiB too little was in flight (1.5 s).
 */
#define VC_RESTORE_WRITEBACK (UINT64_C (64) << 20)

enum vc_target_kind { VC_TARGET_RAW, VC_TARGET_QCOW2, VC_TARGET_DEVICE };

struct vc_restore_target {
  enum vc_target_kind kind;
  int fd;                       /* open for writing, owned by the caller */
  const char *label;            /* for messages */
  uint64_t virtual_size;
  uint64_t data_offset;         /* qcow2: host offset of data cluster 0 */
  unsigned char *head;          /* device: its head, held back */
  uint64_t written;             /* bytes of data written */
  uint64_t wb_lo, wb_hi;        /* extent written since the last writeback */
  uint64_t wb_bytes;            /* bytes written into it */
  uint64_t prev_lo, prev_hi;    /* extent sent to disk at the last writeback */
  bool touched;                 /* device: something was written to it */
};

/* Sizes the target for map and writes what comes before the data (the
 * qcow2 metadata; a device's zeroes).  Returns 0 or -1 (logged).
 */
extern int vc_target_prepare (struct vc_restore_target *t,
                              const struct vc_chain_map *map);

/* Writes len bytes of run r, from delta bytes into it. */
extern int vc_target_write (struct vc_restore_target *t, const struct vc_run *r,
                            uint64_t delta, const void *buf, size_t len);

/* Writes a device's head, then fdatasync.  Returns 0 or -1 (logged). */
extern int vc_target_finish (struct vc_restore_target *t);

/* Frees what prepare allocated. */
extern void vc_target_clear (struct vc_restore_target *t);

#endif
